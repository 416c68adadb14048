"""Small encoders shared by the trust layer: 0x-hex bytes32 digests and strict base64."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re

_BYTES32_RE = re.compile(r"^0x[0-9a-f]{64}$")


def sha256_bytes32(data: bytes) -> str:
    """Return the sha256 of ``data`` as a lower-case ``0x``-prefixed 32-byte hex string."""
    return "0x" + hashlib.sha256(data).hexdigest()


def hex_bytes32(digest: bytes) -> str:
    """Format a raw 32-byte digest as ``0x`` + 64 lower-case hex digits."""
    if len(digest) != 32:
        raise ValueError(f"digest must be 32 bytes, got {len(digest)}")
    return "0x" + digest.hex()


def is_bytes32(text: object) -> bool:
    """Whether ``text`` is a lower-case ``0x``-prefixed 32-byte hex string."""
    return isinstance(text, str) and bool(_BYTES32_RE.match(text))


def b64encode(data: bytes) -> str:
    """Standard base64 (RFC 4648 section 4) with padding."""
    return base64.b64encode(data).decode("ascii")


def b64decode_strict(text: str) -> bytes:
    """Decode standard padded base64, rejecting any other character or a non-canonical form.

    Raises
    ------
    ValueError
        If ``text`` is not the canonical base64 encoding of some byte string.
    """
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise ValueError(f"invalid base64: {exc}") from exc
    if base64.b64encode(raw).decode("ascii") != text:
        raise ValueError("base64 is not in canonical form")
    return raw
