"""The key a node's Flower SuperNode authenticates to the SuperLink with.

Flower's SuperNode authentication uses an ECDSA key on a NIST curve: the SuperNode holds the
private key (an unencrypted OpenSSH file, as ``flower-supernode --auth-supernode-private-key``
reads it) and the SuperLink admits the public key (``flwr supernode register``). fqai binds that
key to the chain: a node's ``joinWithSuperNodeKey``/``setSuperNodeKey`` records the sha256 of its
OpenSSH public key file, and the same bytes are published to IPFS as one raw block, so the
digest alone names the key's CID (CIDv1, codec raw, sha2-256) and a coordinator can fetch and
check it without any other channel.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from fqai.federation.errors import FederationError
from fqai.ipfs.cid import CODEC_RAW, Cid

log = logging.getLogger(__name__)

KEY_FILE = "supernode-key"
MAX_PUBLIC_KEY_BYTES = 4096
NIST_CURVES = (ec.SECP256R1, ec.SECP384R1, ec.SECP521R1)


class SuperNodeKeyError(FederationError):
    """A SuperNode key file is missing, unreadable, or not an ECDSA key on a NIST curve."""


@dataclass(frozen=True)
class SuperNodeKey:
    """A SuperNode key pair on disk and the digest the chain records for it."""

    private_path: Path
    public_path: Path
    public_bytes: bytes

    @property
    def digest(self) -> str:
        return public_key_digest(self.public_bytes)

    @property
    def cid(self) -> str:
        return public_key_cid(self.digest)


def public_key_digest(public_bytes: bytes) -> str:
    """``0x`` + sha256 of the OpenSSH public key file bytes (what ``setSuperNodeKey`` records)."""
    return "0x" + hashlib.sha256(public_bytes).hexdigest()


def public_key_cid(digest: str) -> str:
    """The raw-block CID of the public key file whose sha256 is ``digest``."""
    raw = bytes.fromhex(digest.removeprefix("0x"))
    if len(raw) != 32:
        raise SuperNodeKeyError(f"SuperNode key digest {digest!r} is not 32 bytes")
    return str(Cid(version=1, codec=CODEC_RAW, digest=raw))


def parse_public_key(public_bytes: bytes, what: str) -> ec.EllipticCurvePublicKey:
    """Parse an OpenSSH ECDSA public key on a NIST curve, as Flower's SuperLink accepts."""
    if len(public_bytes) > MAX_PUBLIC_KEY_BYTES:
        raise SuperNodeKeyError(f"{what}: {len(public_bytes)} bytes is not a public key file")
    try:
        key = serialization.load_ssh_public_key(public_bytes.strip())
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise SuperNodeKeyError(f"{what}: not an OpenSSH public key ({exc})") from exc
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, NIST_CURVES):
        raise SuperNodeKeyError(f"{what}: not an ECDSA key on a NIST curve (P-256/384/521)")
    return key


def default_key_path(keystore: Path) -> Path:
    """Where a node keeps its SuperNode private key: in its keystore directory."""
    return keystore.resolve() / KEY_FILE


def create_supernode_key(private_path: Path) -> SuperNodeKey:
    """Generate an ECDSA P-384 key pair: ``private_path`` (0600) and ``<private_path>.pub``."""
    if private_path.exists():
        raise SuperNodeKeyError(f"{private_path} exists; refusing to overwrite a SuperNode key")
    key = ec.generate_private_key(ec.SECP384R1())
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    private_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(private_pem)
    public_path = _public_path(private_path)
    public_path.write_bytes(public + b"\n")
    log.info("created SuperNode key %s (public %s)", private_path, public_path)
    return load_supernode_key(private_path)


def load_supernode_key(private_path: Path) -> SuperNodeKey:
    """Load a SuperNode key pair and check the public file matches the private key."""
    public_path = _public_path(private_path)
    try:
        private_bytes = private_path.read_bytes()
        public_bytes = public_path.read_bytes()
    except OSError as exc:
        raise SuperNodeKeyError(f"cannot read SuperNode key: {exc}") from exc
    try:
        private = serialization.load_ssh_private_key(private_bytes, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise SuperNodeKeyError(
            f"{private_path}: not an unencrypted OpenSSH private key ({exc})"
        ) from exc
    public = parse_public_key(public_bytes, str(public_path))
    if not isinstance(private, ec.EllipticCurvePrivateKey) or (
        private.public_key().public_numbers() != public.public_numbers()
    ):
        raise SuperNodeKeyError(f"{public_path} is not the public key of {private_path}")
    return SuperNodeKey(private_path, public_path, public_bytes)


def ensure_supernode_key(private_path: Path) -> SuperNodeKey:
    """Load the key at ``private_path``, creating it first when there is none."""
    if private_path.exists():
        return load_supernode_key(private_path)
    return create_supernode_key(private_path)


def _public_path(private_path: Path) -> Path:
    return private_path.with_name(private_path.name + ".pub")
