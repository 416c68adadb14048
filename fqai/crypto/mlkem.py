"""ML-KEM-768 (FIPS 203) keys, used later to receive licensed models."""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from pqcrypto.kem import ml_kem_768

from fqai.encoding import sha256_bytes32

ALGORITHM = "ML-KEM-768"
PUBLIC_KEY_SIZE: int = ml_kem_768.PUBLIC_KEY_SIZE
SECRET_KEY_SIZE: int = ml_kem_768.SECRET_KEY_SIZE


@dataclass(frozen=True, repr=False)
class MlKemKeyPair:
    """An ML-KEM-768 key pair. ``repr`` never shows the secret key."""

    public_key: bytes
    secret_key: bytes

    def __repr__(self) -> str:
        return f"MlKemKeyPair(key_digest={key_digest(self.public_key)})"


def generate() -> MlKemKeyPair:
    """Generate a fresh ML-KEM-768 key pair."""
    public_key, secret_key = ml_kem_768.keygen()
    return MlKemKeyPair(public_key=bytes(public_key), secret_key=bytes(secret_key))


def key_digest(public_key: bytes) -> str:
    """Return sha256(public key bytes) as 0x-hex bytes32."""
    return sha256_bytes32(public_key)


def keys_match(public_key: bytes, secret_key: bytes) -> bool:
    """Whether a secret encapsulated to ``public_key`` is recovered by ``secret_key``."""
    try:
        ciphertext, shared = ml_kem_768.encaps(public_key)
        recovered = ml_kem_768.decaps(secret_key, ciphertext)
    except ValueError:
        return False
    return hmac.compare_digest(bytes(shared), bytes(recovered))
