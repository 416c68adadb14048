"""ML-DSA-65 (FIPS 204) signing and verification with a mandatory context string.

The implementation is ``pqcrypto`` (pure ML-DSA, hedged signing). Every call passes an explicit
FIPS 204 context string so that a signature made for one purpose cannot be replayed for another.
"""

from __future__ import annotations

from dataclasses import dataclass

from pqcrypto.sign import ml_dsa_65

from fqai.encoding import sha256_bytes32
from fqai.errors import SignatureError

ALGORITHM = "ML-DSA-65"
PUBLIC_KEY_SIZE: int = ml_dsa_65.PUBLIC_KEY_SIZE
SECRET_KEY_SIZE: int = ml_dsa_65.SECRET_KEY_SIZE
SIGNATURE_SIZE: int = ml_dsa_65.SIGNATURE_SIZE
MAX_CONTEXT_LENGTH = 255


@dataclass(frozen=True, repr=False)
class MlDsaKeyPair:
    """An ML-DSA-65 key pair. ``repr`` never shows the secret key."""

    public_key: bytes
    secret_key: bytes

    def __repr__(self) -> str:
        return f"MlDsaKeyPair(key_digest={key_digest(self.public_key)})"


def generate() -> MlDsaKeyPair:
    """Generate a fresh ML-DSA-65 key pair from the operating system's randomness."""
    public_key, secret_key = ml_dsa_65.keygen()
    return MlDsaKeyPair(public_key=bytes(public_key), secret_key=bytes(secret_key))


def key_digest(public_key: bytes) -> str:
    """Return sha256(public key bytes) as 0x-hex bytes32: the digest contracts record."""
    return sha256_bytes32(public_key)


def _check_context(context: bytes) -> None:
    if len(context) > MAX_CONTEXT_LENGTH:
        raise SignatureError(
            f"context string must be at most {MAX_CONTEXT_LENGTH} bytes, got {len(context)}"
        )


def sign(secret_key: bytes, message: bytes, context: bytes) -> bytes:
    """Sign ``message`` under ``context``.

    Parameters
    ----------
    secret_key
        The 4032-byte ML-DSA-65 secret key.
    message
        The bytes to sign (fqai signs small canonical manifests only).
    context
        FIPS 204 context string, at most 255 bytes (fqai always uses a non-empty one).

    Returns
    -------
    bytes
        A 3309-byte signature.

    Raises
    ------
    SignatureError
        If the key has the wrong size or the message or context is rejected.
    """
    _check_context(context)
    if len(secret_key) != SECRET_KEY_SIZE:
        raise SignatureError(f"ML-DSA-65 secret key must be {SECRET_KEY_SIZE} bytes")
    try:
        return bytes(ml_dsa_65.sign(secret_key, message, context=context))
    except ValueError as exc:
        raise SignatureError(f"ML-DSA-65 signing failed: {exc}") from exc


def verify(public_key: bytes, message: bytes, signature: bytes, context: bytes) -> None:
    """Verify an ML-DSA-65 signature; return normally only if it is valid.

    Parameters
    ----------
    public_key
        The 1952-byte ML-DSA-65 public key.
    message
        The signed bytes.
    signature
        The 3309-byte signature.
    context
        The FIPS 204 context string the signature must have been made with.

    Raises
    ------
    SignatureError
        If the signature is invalid, or the key or signature has the wrong size. The message names
        the key digest.
    """
    _check_context(context)
    if len(public_key) != PUBLIC_KEY_SIZE:
        raise SignatureError(
            f"ML-DSA-65 public key must be {PUBLIC_KEY_SIZE} bytes, got {len(public_key)}"
        )
    if len(signature) != SIGNATURE_SIZE:
        raise SignatureError(
            f"ML-DSA-65 signature must be {SIGNATURE_SIZE} bytes, got {len(signature)}"
        )
    try:
        ml_dsa_65.verify(public_key, message, signature, context=context)
    except ValueError as exc:  # pqcrypto.InvalidSignatureError subclasses ValueError
        raise SignatureError(
            f"ML-DSA-65 signature does not verify under key {key_digest(public_key)} "
            f"with context {context!r}"
        ) from exc


def keys_match(public_key: bytes, secret_key: bytes) -> bool:
    """Whether ``secret_key`` signs messages that ``public_key`` verifies (sign-then-verify)."""
    probe = b"fqai keystore consistency probe"
    try:
        signature = sign(secret_key, probe, b"fqai-keystore-check")
        verify(public_key, probe, signature, b"fqai-keystore-check")
    except SignatureError:
        return False
    return True
