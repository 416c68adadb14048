"""The sealed-secret file format: scrypt key derivation + AES-256-GCM.

A sealed file is a JSON object::

    {
      "format": "fqai-sealed-key/1",
      "kind": "ml-dsa-65" | "ml-kem-768",
      "public_key": "<base64>",
      "key_digest": "0x<sha256 of public key>",
      "kdf": {"name": "scrypt", "n": 131072, "r": 8, "p": 1, "salt": "<base64, 16 bytes>"},
      "cipher": {"name": "aes-256-gcm", "nonce": "<base64, 12 bytes>"},
      "ciphertext": "<base64: secret key encrypted, followed by the 16-byte GCM tag>"
    }

The AES-GCM associated data is the canonical JSON (RFC 8785) of the object without
``ciphertext``, so editing the public key or any parameter makes decryption fail.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from fqai.encoding import b64decode_strict, b64encode, sha256_bytes32
from fqai.errors import KeystoreError
from fqai.jcs import canonicalize

SEALED_FORMAT = "fqai-sealed-key/1"
SALT_SIZE = 16
NONCE_SIZE = 12
MIN_SCRYPT_N = 2**10


@dataclass(frozen=True)
class ScryptParams:
    """scrypt cost parameters. The default (n=2**17, r=8, p=1) needs 128 MiB and ~0.3 s."""

    n: int = 2**17
    r: int = 8
    p: int = 1

    def validate(self) -> None:
        """Reject parameters that are not a power of two or far too weak."""
        if self.n < MIN_SCRYPT_N or self.n & (self.n - 1):
            raise KeystoreError(f"scrypt n must be a power of two >= {MIN_SCRYPT_N}, got {self.n}")
        if not 1 <= self.r <= 64 or not 1 <= self.p <= 16:
            raise KeystoreError(f"scrypt r={self.r} p={self.p} out of range")


def _derive(passphrase: str, salt: bytes, params: ScryptParams) -> bytes:
    params.validate()
    kdf = Scrypt(salt=salt, length=32, n=params.n, r=params.r, p=params.p)
    return kdf.derive(passphrase.encode("utf-8"))


def seal(
    kind: str, public_key: bytes, secret_key: bytes, passphrase: str, params: ScryptParams
) -> dict[str, Any]:
    """Encrypt ``secret_key`` under ``passphrase`` and return the sealed JSON object."""
    salt = os.urandom(SALT_SIZE)
    nonce = os.urandom(NONCE_SIZE)
    header: dict[str, Any] = {
        "format": SEALED_FORMAT,
        "kind": kind,
        "public_key": b64encode(public_key),
        "key_digest": sha256_bytes32(public_key),
        "kdf": {
            "name": "scrypt",
            "n": params.n,
            "r": params.r,
            "p": params.p,
            "salt": b64encode(salt),
        },
        "cipher": {"name": "aes-256-gcm", "nonce": b64encode(nonce)},
    }
    key = _derive(passphrase, salt, params)
    ciphertext = AESGCM(key).encrypt(nonce, secret_key, canonicalize(header))
    return {**header, "ciphertext": b64encode(ciphertext)}


@dataclass(frozen=True, repr=False)
class SealedKey:
    """A parsed sealed file: public parts readable without the passphrase."""

    kind: str
    public_key: bytes
    key_digest: str
    header: dict[str, Any]
    ciphertext: bytes
    salt: bytes
    nonce: bytes
    params: ScryptParams

    def __repr__(self) -> str:
        return f"SealedKey(kind={self.kind!r}, key_digest={self.key_digest})"

    @classmethod
    def from_json(cls, obj: Any, expected_kind: str, source: str) -> SealedKey:
        """Parse and check a sealed-key object read from ``source`` (a path, for messages)."""
        try:
            if not isinstance(obj, dict) or obj.get("format") != SEALED_FORMAT:
                raise KeystoreError(f"{source}: not an {SEALED_FORMAT} file")
            if obj.get("kind") != expected_kind:
                raise KeystoreError(
                    f"{source}: holds a {obj.get('kind')!r} key, expected {expected_kind!r}"
                )
            header = {k: v for k, v in obj.items() if k != "ciphertext"}
            kdf = obj["kdf"]
            cipher = obj["cipher"]
            if kdf.get("name") != "scrypt" or cipher.get("name") != "aes-256-gcm":
                raise KeystoreError(f"{source}: unsupported kdf or cipher")
            public_key = b64decode_strict(obj["public_key"])
            key_digest = obj["key_digest"]
            if sha256_bytes32(public_key) != key_digest:
                raise KeystoreError(f"{source}: key_digest does not match public_key")
            params = ScryptParams(n=int(kdf["n"]), r=int(kdf["r"]), p=int(kdf["p"]))
            params.validate()
            return cls(
                kind=expected_kind,
                public_key=public_key,
                key_digest=key_digest,
                header=header,
                ciphertext=b64decode_strict(obj["ciphertext"]),
                salt=b64decode_strict(kdf["salt"]),
                nonce=b64decode_strict(cipher["nonce"]),
                params=params,
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise KeystoreError(f"{source}: malformed sealed key file ({exc})") from exc

    def unseal(self, passphrase: str, source: str) -> bytes:
        """Decrypt the secret key.

        Raises
        ------
        KeystoreError
            If the passphrase is wrong or the file was modified (GCM cannot tell which).
        """
        key = _derive(passphrase, self.salt, self.params)
        try:
            return AESGCM(key).decrypt(self.nonce, self.ciphertext, canonicalize(self.header))
        except InvalidTag as exc:
            raise KeystoreError(
                f"{source}: cannot decrypt: wrong passphrase, or the file was modified"
            ) from exc
