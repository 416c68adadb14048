"""Content identifiers (CIDs): parsing, normalising to CIDv1 base32, local computation.

Only what the trust layer needs is implemented: CIDv0 (base58btc ``Qm...``) and CIDv1 in base32
(``b...``) or base58btc (``z...``), codecs ``raw`` (0x55) and ``dag-pb`` (0x70), multihash
sha2-256. The canonical text form used in manifests is CIDv1, multibase base32 lower case.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

from fqai.errors import ManifestError

CODEC_RAW = 0x55
CODEC_DAG_PB = 0x70
MULTIHASH_SHA2_256 = 0x12
_CODEC_NAMES = {CODEC_RAW: "raw", CODEC_DAG_PB: "dag-pb"}
_B58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX = {ch: i for i, ch in enumerate(_B58_ALPHABET)}
MAX_CID_TEXT = 128


@dataclass(frozen=True)
class Cid:
    """A parsed CID with a sha2-256 multihash."""

    version: int
    codec: int
    digest: bytes

    @property
    def codec_name(self) -> str:
        """``raw`` or ``dag-pb``."""
        return _CODEC_NAMES[self.codec]

    def to_bytes(self) -> bytes:
        """Binary CIDv1 (a CIDv0 is upgraded: same multihash, codec dag-pb)."""
        multihash = bytes([MULTIHASH_SHA2_256, len(self.digest)]) + self.digest
        return _varint(1) + _varint(self.codec) + multihash

    def __str__(self) -> str:
        text = base64.b32encode(self.to_bytes()).decode("ascii").lower().rstrip("=")
        return "b" + text


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    value = 0
    shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise ValueError("truncated varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos


def _b58decode(text: str) -> bytes:
    number = 0
    for ch in text:
        if ch not in _B58_INDEX:
            raise ValueError(f"invalid base58 character {ch!r}")
        number = number * 58 + _B58_INDEX[ch]
    body = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    leading = len(text) - len(text.lstrip("1"))
    return b"\x00" * leading + body


def _parse_multihash(data: bytes, pos: int) -> bytes:
    code, pos = _read_varint(data, pos)
    length, pos = _read_varint(data, pos)
    if code != MULTIHASH_SHA2_256 or length != 32:
        raise ValueError(f"unsupported multihash (code 0x{code:x}, length {length})")
    digest = data[pos : pos + length]
    if len(digest) != length or pos + length != len(data):
        raise ValueError("multihash length does not match")
    return digest


def parse_cid(text: str) -> Cid:
    """Parse a CID string.

    Raises
    ------
    ManifestError
        If ``text`` is not a supported CID (the message quotes it).
    """
    if not isinstance(text, str) or not text or len(text) > MAX_CID_TEXT:
        raise ManifestError(f"not a CID: {text!r}")
    try:
        if text.startswith("Qm") and len(text) == 46:
            raw = _b58decode(text)
            return Cid(version=0, codec=CODEC_DAG_PB, digest=_parse_multihash(raw, 0))
        if text[0] == "b":
            body = text[1:]
            if body != body.lower():
                raise ValueError("base32 CIDs must be lower case")
            padded = body.upper() + "=" * (-len(body) % 8)
            raw = base64.b32decode(padded)
        elif text[0] == "z":
            raw = _b58decode(text[1:])
        else:
            raise ValueError("unsupported multibase prefix")
        version, pos = _read_varint(raw, 0)
        if version != 1:
            raise ValueError(f"unsupported CID version {version}")
        codec, pos = _read_varint(raw, pos)
        if codec not in _CODEC_NAMES:
            raise ValueError(f"unsupported codec 0x{codec:x}")
        return Cid(version=1, codec=codec, digest=_parse_multihash(raw, pos))
    except (ValueError, base64.binascii.Error) as exc:
        raise ManifestError(f"not a supported CID: {text!r} ({exc})") from exc


def normalize_cid(text: str) -> str:
    """Return the canonical CIDv1 base32 form of ``text``."""
    return str(parse_cid(text))


def cid_for_raw_block(data: bytes) -> str:
    """CIDv1 (codec raw, sha2-256) of a single raw block: what ``ipfs add --cid-version 1
    --raw-leaves`` returns for content no larger than one chunk (256 KiB)."""
    return str(Cid(version=1, codec=CODEC_RAW, digest=hashlib.sha256(data).digest()))


def is_canonical_cid(text: object) -> bool:
    """Whether ``text`` is a CID already in canonical CIDv1 base32 form."""
    if not isinstance(text, str):
        return False
    try:
        return str(parse_cid(text)) == text
    except ManifestError:
        return False
