"""Encrypting a model's weights for licensed-only publication (AES-256-GCM).

Blob layout (what is pinned on IPFS instead of the safetensors file)::

    b"FQAIENC1" | 12-byte nonce | AES-256-GCM(key, nonce, plaintext, aad) (ciphertext + 16-byte tag)

The associated data is ``b"FQAIENC1" + sha256(plaintext)``: a blob decrypts only to the plaintext
whose digest the signed manifest records, so a ciphertext cannot be swapped for another model's
encrypted under the same key. The 256-bit content key is random per model and never leaves the
owner's key store except wrapped to a licensee's ML-KEM key (:mod:`fqai.delivery.wrap`).
"""

from __future__ import annotations

import hashlib
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from fqai.errors import FqaiError

MAGIC = b"FQAIENC1"
SCHEME = "AES-256-GCM"
KEY_SIZE = 32
NONCE_SIZE = 12
TAG_SIZE = 16
HEADER_SIZE = len(MAGIC) + NONCE_SIZE


class DecryptionError(FqaiError):
    """Encrypted weights do not decrypt: wrong key, or the ciphertext was altered."""


def new_content_key() -> bytes:
    """A fresh random 256-bit content key."""
    return os.urandom(KEY_SIZE)


def _aad(plaintext_sha256: bytes) -> bytes:
    return MAGIC + plaintext_sha256


def encrypt_weights(plaintext: bytes, key: bytes) -> bytes:
    """The encrypted blob of ``plaintext`` under ``key`` (a fresh random nonce each call)."""
    if len(key) != KEY_SIZE:
        raise ValueError(f"content key must be {KEY_SIZE} bytes, got {len(key)}")
    nonce = os.urandom(NONCE_SIZE)
    digest = hashlib.sha256(plaintext).digest()
    return MAGIC + nonce + AESGCM(key).encrypt(nonce, plaintext, _aad(digest))


def decrypt_weights(blob: bytes, key: bytes, plaintext_sha256: str) -> bytes:
    """Decrypt a blob whose plaintext must hash to ``plaintext_sha256`` (``0x``-hex).

    Raises
    ------
    DecryptionError
        Not an fqai blob, or authentication failed (wrong key, altered bytes, or a plaintext
        other than the one the manifest names).
    """
    if len(blob) < HEADER_SIZE + TAG_SIZE or not blob.startswith(MAGIC):
        raise DecryptionError("not an fqai encrypted-weights blob (bad header or too short)")
    if len(key) != KEY_SIZE:
        raise DecryptionError(f"content key must be {KEY_SIZE} bytes, got {len(key)}")
    nonce = blob[len(MAGIC) : HEADER_SIZE]
    expected = bytes.fromhex(plaintext_sha256.removeprefix("0x"))
    try:
        # A view, not a slice: no copy of the (possibly large) ciphertext.
        return AESGCM(key).decrypt(nonce, memoryview(blob)[HEADER_SIZE:], _aad(expected))
    except InvalidTag:
        raise DecryptionError(
            "encrypted weights failed authentication: wrong content key, altered ciphertext, "
            f"or not the weights with sha256 {plaintext_sha256}"
        ) from None
