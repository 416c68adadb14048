"""The model owner's key service: deliver each licence's content key exactly once.

Every pass (:meth:`KeyService.run_once`) derives what to do from the chain and IPFS alone, so a
restarted service neither misses nor repeats a delivery:

1. ``LicensePurchased`` events of the tokens the service's account owns and holds a content key
   for; only each licensee's *current* licence (``licenseOf``) counts.
2. Skip it when ``keyDelivered`` is set for it on-chain, or when an earlier ``KeyDelivered`` went
   to the same licensee for the same token *and the same ML-KEM key* (a renewal keeps its key).
3. Refuse it (no delivery) when ``hasValidLicense`` is false: expiry stops new deliveries.
4. Fetch the licensee's ML-KEM-768 public key from IPFS: the raw block whose sha256 is the
   ``kemKeyDigest`` of the purchase (its CID follows from the digest). If it is not there yet,
   retry on the next pass.
5. Wrap the content key to it (:mod:`fqai.delivery.wrap`), pin the signed record, and call
   ``deliverKey(tokenId, licensee, licenseId, CID)``; the contract refuses a second delivery for
   the same licence, so two services racing cannot both deliver.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from fqai.chain.client import ChainClient
from fqai.chain.errors import ChainError
from fqai.chain.marketplace import LicenseEvent, Marketplace
from fqai.chain.registry import FederationRegistry
from fqai.delivery.keys import ContentKeyStore
from fqai.delivery.wrap import Binding, KeyDeliveryError, wrap_content_key
from fqai.errors import FqaiError
from fqai.ipfs.cid import CODEC_RAW, Cid
from fqai.ipfs.client import IpfsClient
from fqai.keystore.store import NodeIdentity

log = logging.getLogger(__name__)
KEM_PUBLIC_KEY_SIZE = 1184


def kem_key_cid(kem_key_digest: str) -> str:
    """CID of the raw IPFS block holding the ML-KEM public key with this sha256 digest."""
    digest = bytes.fromhex(kem_key_digest.removeprefix("0x"))
    return str(Cid(version=1, codec=CODEC_RAW, digest=digest))


@dataclass(frozen=True)
class Outcome:
    """What one pass did with one licence: ``delivered``, ``skipped``, ``refused``, ``waiting``."""

    status: str
    license_id: int
    token_id: int
    licensee: str
    detail: str
    wrapped_key_cid: str | None = None


class KeyService:
    """Delivers content keys for the tokens its account owns."""

    def __init__(
        self,
        chain: ChainClient,
        ipfs: IpfsClient,
        identity: NodeIdentity,
        keys: ContentKeyStore,
        tokens: set[int] | None = None,
        kem_key_timeout: float = 5.0,
    ) -> None:
        self.chain = chain
        self.market = Marketplace(chain)
        self.nft = FederationRegistry(chain)
        self.ipfs = ipfs
        self.identity = identity
        self.keys = keys
        self.tokens = tokens
        self.kem_key_timeout = kem_key_timeout

    def _manifest_cid(self, token_id: int) -> str | None:
        """The token's manifest CID if this service holds its content key and owns it."""
        if self.market.owner_of(token_id).lower() != self.chain.address.lower():
            return None
        cid = self.nft.provenance(token_id).manifest_cid
        try:
            self.keys.get(cid)
        except KeyDeliveryError:
            return None
        return cid

    def run_once(self) -> list[Outcome]:
        """One pass over every licence of the served tokens; see the module docstring."""
        events = self.market.license_events()
        if self.tokens is not None:
            events = [e for e in events if e.token_id in self.tokens]
        delivered = self.market.key_deliveries()
        delivered_by_license = {d.license_id for d in delivered}
        purchases = {e.license_id: e for e in events}
        # (token, licensee, kem key digest) that already hold a key.
        holders = {
            (d.token_id, d.licensee.lower(), purchases[d.license_id].kem_key_digest.lower())
            for d in delivered
            if d.license_id in purchases
        }
        manifests: dict[int, str | None] = {}
        outcomes: list[Outcome] = []
        latest: dict[tuple[int, str], LicenseEvent] = {}
        for event in events:
            latest[(event.token_id, event.licensee.lower())] = event
        for event in latest.values():
            if event.token_id not in manifests:
                manifests[event.token_id] = self._manifest_cid(event.token_id)
            manifest_cid = manifests[event.token_id]
            if manifest_cid is None:
                continue  # not ours (sold, or published by someone else)
            outcomes.append(self._handle(event, manifest_cid, delivered_by_license, holders))
        for outcome in outcomes:
            if outcome.status != "skipped":
                log.info(
                    "licence %d (token %d, %s): %s: %s",
                    outcome.license_id,
                    outcome.token_id,
                    outcome.licensee,
                    outcome.status,
                    outcome.detail,
                )
        return outcomes

    def _handle(
        self,
        event: LicenseEvent,
        manifest_cid: str,
        delivered: set[int],
        holders: set[tuple[int, str, str]],
    ) -> Outcome:
        def outcome(status: str, detail: str, cid: str | None = None) -> Outcome:
            return Outcome(status, event.license_id, event.token_id, event.licensee, detail, cid)

        if event.license_id in delivered:
            return outcome("skipped", "key already delivered for this licence")
        if (event.token_id, event.licensee.lower(), event.kem_key_digest.lower()) in holders:
            return outcome(
                "skipped", "renewal: the licensee already holds the key for this KEM key"
            )
        current = self.market.license_of(event.token_id, event.licensee)
        if current.license_id != event.license_id:
            return outcome("skipped", f"superseded by licence {current.license_id}")
        if not self.market.has_valid_license(event.token_id, event.licensee):
            return outcome("refused", "licence expired before delivery: no key delivered")
        kem_cid = kem_key_cid(event.kem_key_digest)
        try:
            public_key = self.ipfs.cat(kem_cid, max_size=KEM_PUBLIC_KEY_SIZE)
        except FqaiError as exc:
            return outcome("waiting", f"licensee's ML-KEM public key {kem_cid} not on IPFS ({exc})")
        binding = Binding(
            chain_id=self.chain.deployment.chain_id,
            marketplace=self.market.address,
            token_id=event.token_id,
            license_id=event.license_id,
            licensee=event.licensee,
            kem_key_digest=event.kem_key_digest,
        )
        try:
            record = wrap_content_key(
                self.keys.get(manifest_cid), public_key, binding, manifest_cid, self.identity.mldsa
            )
        except (KeyDeliveryError, ValueError) as exc:
            return outcome("refused", f"cannot wrap to the published key: {exc}")
        cid = self.ipfs.add_bytes(record)
        try:
            self.market.deliver_key(event.token_id, event.licensee, event.license_id, cid)
        except ChainError as exc:
            if "MarketplaceKeyAlreadyDelivered" in str(exc):
                return outcome("skipped", "another key service delivered it first")
            if "MarketplaceNoSuchLicense" in str(exc):
                return outcome("refused", "licence expired or superseded before delivery")
            raise
        return outcome("delivered", f"wrapped key {cid}", cid)

    def run(self, interval: float, stop: threading.Event) -> None:
        """Passes every ``interval`` seconds until ``stop`` is set; errors are logged, not fatal."""
        while not stop.is_set():
            try:
                self.run_once()
            except FqaiError as exc:
                log.error("key service pass failed (retrying in %.0f s): %s", interval, exc)
            stop.wait(interval)
