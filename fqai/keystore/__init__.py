"""Passphrase-encrypted keystore holding a node's ML-DSA-65, ML-KEM-768 and Ethereum keys."""

from fqai.keystore.passphrase import PASSPHRASE_ENV, read_passphrase
from fqai.keystore.sealed import ScryptParams
from fqai.keystore.store import Keystore, NodeIdentity, PublicIdentity

__all__ = [
    "PASSPHRASE_ENV",
    "Keystore",
    "NodeIdentity",
    "PublicIdentity",
    "ScryptParams",
    "read_passphrase",
]
