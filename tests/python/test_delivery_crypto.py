"""Unit tests of the delivery cryptography: content encryption and licence-bound key wrapping."""

from __future__ import annotations

import dataclasses
import hashlib
import json

import pytest

from fqai.crypto import mldsa, mlkem
from fqai.delivery.content import DecryptionError, decrypt_weights, encrypt_weights, new_content_key
from fqai.delivery.wrap import (
    BINDING_FIELDS,
    SIGNING_CONTEXT,
    Binding,
    KeyDeliveryError,
    parse_wrapped_key,
    unwrap_content_key,
    wrap_content_key,
)
from fqai.encoding import b64decode_strict, b64encode
from fqai.jcs import canonicalize

KEM = mlkem.generate()
SIGNER = mldsa.generate()
BINDING = Binding(31337, "0x" + "ab" * 20, 7, 3, "0x" + "cd" * 20, mlkem.key_digest(KEM.public_key))


def test_roundtrip_and_every_binding_field_is_checked() -> None:
    key = new_content_key()
    record = parse_wrapped_key(wrap_content_key(key, KEM.public_key, BINDING, "bafy", SIGNER))
    assert unwrap_content_key(record, KEM, BINDING) == key
    assert record.signer_key_digest == mldsa.key_digest(SIGNER.public_key)
    changes = {
        "chain_id": 1, "marketplace": "0x" + "ee" * 20, "token_id": 8, "license_id": 4,
        "licensee": "0x" + "ff" * 20, "kem_key_digest": "0x" + "00" * 32,
    }  # fmt: skip
    assert set(changes) == set(BINDING_FIELDS)
    for field, value in changes.items():
        other = dataclasses.replace(BINDING, **{field: value})
        with pytest.raises(KeyDeliveryError, match=field.replace("_", " ")):
            unwrap_content_key(record, KEM, other)


def test_wrapping_to_a_key_the_licence_does_not_name_is_refused() -> None:
    with pytest.raises(KeyDeliveryError, match="is not the licence's"):
        wrap_content_key(new_content_key(), mlkem.generate().public_key, BINDING, "b", SIGNER)


def resign(doc: dict, signer: mldsa.MlDsaKeyPair) -> bytes:
    body = doc["wrapped_key"]
    sig = mldsa.sign(signer.secret_key, canonicalize(body), SIGNING_CONTEXT)
    doc["signature"] = {
        "algorithm": "ML-DSA-65",
        "public_key": b64encode(signer.public_key),
        "value": b64encode(sig),
    }
    return json.dumps(doc).encode()


def test_altered_kem_ciphertext_or_wrapped_key_does_not_unwrap_even_if_resigned() -> None:
    key = new_content_key()
    doc = json.loads(wrap_content_key(key, KEM.public_key, BINDING, "bafy", SIGNER))
    for field in ("kem_ciphertext", "wrapped_key"):
        altered = json.loads(json.dumps(doc))
        raw = bytearray(b64decode_strict(altered["wrapped_key"][field]))
        raw[3] ^= 0x40
        altered["wrapped_key"][field] = b64encode(bytes(raw))
        record = parse_wrapped_key(resign(altered, SIGNER))
        with pytest.raises(KeyDeliveryError, match="does not unwrap"):
            unwrap_content_key(record, KEM, BINDING)


def test_malformed_records_are_refused() -> None:
    with pytest.raises(KeyDeliveryError, match="malformed"):
        parse_wrapped_key(
            json.dumps(
                {
                    "wrapped_key": {"schema": "fqai-wrapped-key/1"},
                    "signature": {"algorithm": "ML-DSA-65"},
                }
            ).encode()
        )
    with pytest.raises(KeyDeliveryError, match="schema"):
        parse_wrapped_key(b'{"wrapped_key": {"schema": "x"}, "signature": {}}')
    with pytest.raises(KeyDeliveryError, match="bytes, more than"):
        parse_wrapped_key(b" " * 70_000)


def test_content_encryption_binds_the_plaintext_digest() -> None:
    key = new_content_key()
    data = b"safetensors bytes" * 100
    digest = "0x" + hashlib.sha256(data).hexdigest()
    blob = encrypt_weights(data, key)
    assert blob != encrypt_weights(data, key)  # fresh nonce each time
    assert decrypt_weights(blob, key, digest) == data
    with pytest.raises(DecryptionError, match="bad header or too short"):
        decrypt_weights(b"FQAIENC1short", key, digest)
    with pytest.raises(DecryptionError, match="content key must be 32 bytes"):
        decrypt_weights(blob, key[:16], digest)
    with pytest.raises(ValueError, match="32 bytes"):
        encrypt_weights(data, b"k" * 31)
