"""Which signer keys are legitimate: a hook the on-chain registry will implement later."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, runtime_checkable

from fqai.encoding import is_bytes32
from fqai.manifest.model import Manifest


@runtime_checkable
class KeyResolver(Protocol):
    """Decides whether the signer of a manifest is legitimate.

    Implementations might consult a fixed list, the FederationRegistry contract (member key
    digests of ``manifest.federation_id``) or the ModelNFT contract.
    """

    @property
    def description(self) -> str:
        """Short text for reports, e.g. ``"trusted key list (2 keys)"``."""
        ...

    def is_trusted(self, manifest: Manifest) -> bool:
        """Whether ``manifest.signer`` (key digest, Ethereum address) is legitimate for it."""
        ...


class StaticKeyResolver:
    """Trust exactly the given ML-DSA-65 key digests (``0x``-hex sha256 of the public key).

    Parameters
    ----------
    key_digests
        Trusted digests; letters are compared case-insensitively.
    """

    def __init__(self, key_digests: Iterable[str]) -> None:
        digests = {d.lower() for d in key_digests}
        bad = sorted(d for d in digests if not is_bytes32(d))
        if bad:
            raise ValueError(f"not a 0x-hex bytes32 key digest: {bad[0]!r}")
        self.key_digests = frozenset(digests)

    @property
    def description(self) -> str:
        return f"trusted key list ({len(self.key_digests)} key(s))"

    def is_trusted(self, manifest: Manifest) -> bool:
        return manifest.signer.key_digest in self.key_digests
