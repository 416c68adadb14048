"""Wrapping a model's content key to a licensee's ML-KEM-768 key (KEM + KDF + AEAD), signed.

For one licence (:class:`Binding`: chain id, marketplace, token id, licence id, licensee, the
licensee's ML-KEM key digest):

1. ``(kem_ciphertext, shared) = ML-KEM-768.Encaps(licensee public key)``;
2. ``kek = HKDF-SHA256(ikm=shared, salt=sha256(kem_ciphertext), info="fqai-key-wrap-v1" ||
   JCS(binding))``, 32 bytes;
3. ``wrapped = AES-256-GCM(kek, nonce, content_key, aad=JCS(binding))``;
4. the record (binding, algorithms, kem ciphertext, nonce, wrapped key, the model's manifest CID)
   is signed with the owner's ML-DSA-65 key (context ``fqai-wrapped-key-v1``) and pinned.

The binding is in both the KDF and the AEAD's associated data, and is checked field by field
before decapsulation: a record made for another token, licence, licensee, chain or key is
refused with a message saying which field differs, and any altered byte fails the AEAD tag.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pqcrypto.kem import ml_kem_768

from fqai.crypto import mldsa, mlkem
from fqai.encoding import b64decode_strict, b64encode
from fqai.errors import FqaiError, SignatureError
from fqai.jcs import canonicalize

SCHEMA = "fqai-wrapped-key/1"
SIGNING_CONTEXT = b"fqai-wrapped-key-v1"
KDF_INFO = b"fqai-key-wrap-v1"
MAX_RECORD_SIZE = 64 * 1024
BINDING_FIELDS = ("chain_id", "marketplace", "token_id", "license_id", "licensee", "kem_key_digest")


class KeyDeliveryError(FqaiError):
    """A wrapped-key record is malformed, not for this licence, or does not unwrap."""


@dataclass(frozen=True)
class Binding:
    """What one wrapped key is for; every field is bound into the KDF and the AEAD."""

    chain_id: int
    marketplace: str
    token_id: int
    license_id: int
    licensee: str
    kem_key_digest: str

    def to_json(self) -> dict[str, Any]:
        return {
            "chain_id": str(self.chain_id),
            "marketplace": self.marketplace.lower(),
            "token_id": str(self.token_id),
            "license_id": str(self.license_id),
            "licensee": self.licensee.lower(),
            "kem_key_digest": self.kem_key_digest.lower(),
        }

    def canonical(self) -> bytes:
        return canonicalize(self.to_json())

    @classmethod
    def from_json(cls, value: Any) -> Binding:
        try:
            return cls(
                chain_id=int(value["chain_id"]),
                marketplace=str(value["marketplace"]),
                token_id=int(value["token_id"]),
                license_id=int(value["license_id"]),
                licensee=str(value["licensee"]),
                kem_key_digest=str(value["kem_key_digest"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise KeyDeliveryError(f"wrapped-key record: bad binding ({exc})") from None


@dataclass(frozen=True)
class WrappedKey:
    """A parsed, signature-checked wrapped-key record."""

    binding: Binding
    manifest_cid: str
    kem_ciphertext: bytes
    nonce: bytes
    wrapped: bytes
    signer_public_key: bytes
    signer_key_digest: str


def _kek(shared: bytes, kem_ciphertext: bytes, binding: Binding) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=hashlib.sha256(kem_ciphertext).digest(),
        info=KDF_INFO + binding.canonical(),
    ).derive(shared)


def wrap_content_key(
    content_key: bytes,
    kem_public_key: bytes,
    binding: Binding,
    manifest_cid: str,
    signer: mldsa.MlDsaKeyPair,
) -> bytes:
    """The signed wrapped-key record (canonical JSON bytes) for one licence.

    Raises
    ------
    KeyDeliveryError
        The public key is not the one the licence names (its digest differs).
    """
    actual = mlkem.key_digest(kem_public_key)
    if actual.lower() != binding.kem_key_digest.lower():
        raise KeyDeliveryError(
            f"ML-KEM public key digest {actual} is not the licence's {binding.kem_key_digest}"
        )
    kem_ciphertext, shared = ml_kem_768.encaps(kem_public_key)
    nonce = os.urandom(12)
    wrapped = AESGCM(_kek(bytes(shared), bytes(kem_ciphertext), binding)).encrypt(
        nonce, content_key, binding.canonical()
    )
    body = {
        "schema": SCHEMA,
        "binding": binding.to_json(),
        "manifest_cid": manifest_cid,
        "kem": mlkem.ALGORITHM,
        "kdf": "HKDF-SHA256",
        "aead": "AES-256-GCM",
        "kem_ciphertext": b64encode(bytes(kem_ciphertext)),
        "nonce": b64encode(nonce),
        "wrapped_key": b64encode(wrapped),
    }
    payload = canonicalize(body)
    signature = mldsa.sign(signer.secret_key, payload, SIGNING_CONTEXT)
    return canonicalize(
        {
            "wrapped_key": body,
            "signature": {
                "algorithm": mldsa.ALGORITHM,
                "public_key": b64encode(signer.public_key),
                "value": b64encode(signature),
            },
        }
    )


def parse_wrapped_key(data: bytes, source: str = "wrapped key") -> WrappedKey:
    """Parse a record and check its ML-DSA-65 signature (not yet who signed it).

    Raises
    ------
    KeyDeliveryError
        Malformed or oversized record.
    SignatureError
        The signature does not verify.
    """
    if len(data) > MAX_RECORD_SIZE:
        raise KeyDeliveryError(f"{source}: {len(data)} bytes, more than {MAX_RECORD_SIZE}")
    try:
        document = json.loads(data)
        body = document["wrapped_key"]
        sig = document["signature"]
        if body.get("schema") != SCHEMA:
            raise KeyDeliveryError(f"{source}: schema is {body.get('schema')!r}, not {SCHEMA}")
        if sig.get("algorithm") != mldsa.ALGORITHM:
            raise KeyDeliveryError(f"{source}: signature algorithm {sig.get('algorithm')!r}")
        public_key = b64decode_strict(sig["public_key"])
        signature = b64decode_strict(sig["value"])
        record = WrappedKey(
            binding=Binding.from_json(body["binding"]),
            manifest_cid=str(body["manifest_cid"]),
            kem_ciphertext=b64decode_strict(body["kem_ciphertext"]),
            nonce=b64decode_strict(body["nonce"]),
            wrapped=b64decode_strict(body["wrapped_key"]),
            signer_public_key=public_key,
            signer_key_digest=mldsa.key_digest(public_key),
        )
    except KeyDeliveryError:
        raise
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise KeyDeliveryError(f"{source}: malformed wrapped-key record ({exc})") from None
    try:
        mldsa.verify(public_key, canonicalize(body), signature, SIGNING_CONTEXT)
    except SignatureError as exc:
        raise SignatureError(f"{source}: signature does not verify ({exc})") from None
    return record


def check_binding(record: WrappedKey, expected: Binding, source: str = "wrapped key") -> None:
    """Refuse a record made for another chain, marketplace, token, licence, licensee or key."""
    got, want = record.binding.to_json(), expected.to_json()
    for field in BINDING_FIELDS:
        if got[field] != want[field]:
            raise KeyDeliveryError(
                f"{source} is for {field.replace('_', ' ')} {got[field]}, expected {want[field]}"
            )


def unwrap_content_key(record: WrappedKey, kem: mlkem.MlKemKeyPair, expected: Binding) -> bytes:
    """Decapsulate and decrypt the content key of a record made for ``expected``.

    Raises
    ------
    KeyDeliveryError
        Wrong binding, wrong ML-KEM key, or the wrapped key fails authentication.
    """
    check_binding(record, expected)
    if mlkem.key_digest(kem.public_key).lower() != expected.kem_key_digest.lower():
        raise KeyDeliveryError(
            f"this keystore's ML-KEM key {mlkem.key_digest(kem.public_key)} is not the one the "
            f"licence was bought with ({expected.kem_key_digest})"
        )
    try:
        shared = ml_kem_768.decaps(kem.secret_key, record.kem_ciphertext)
        kek = _kek(bytes(shared), record.kem_ciphertext, record.binding)
        return AESGCM(kek).decrypt(record.nonce, record.wrapped, record.binding.canonical())
    except (InvalidTag, ValueError):
        raise KeyDeliveryError(
            "wrapped key does not unwrap: altered record or not wrapped to this ML-KEM key"
        ) from None
