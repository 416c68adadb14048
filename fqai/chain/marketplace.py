"""Typed access to ModelMarketplace: listings, licence offers and purchases, contributor revenue.

Contributor revenue of a federation model is claimed with the model's final round's contributor
lists exactly as the registry emitted them in ``RoundFinalized`` (the chain stores only their hash).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from eth_utils import to_checksum_address

from fqai.chain.client import ChainClient, TxResult
from fqai.chain.deployment import MARKETPLACE, MODEL_NFT
from fqai.chain.registry import MintParams, hex32, to_bytes32

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LicenseOffer:
    """A licence offer to create: price (wei), duration (s), seats, expiry (0 = never), terms."""

    price: int
    duration: int
    max_seats: int = 0
    expires_at: int = 0
    terms_cid: str = ""


@dataclass(frozen=True)
class LicensePurchase:
    """A bought licence: its id, expiry (unix time) and the transaction."""

    license_id: int
    expires_at: int
    tx: TxResult


@dataclass(frozen=True)
class LicenseRecord:
    """A licensee's current licence on a token (``licenseOf``)."""

    expires_at: int
    offer_id: int
    license_id: int
    key_delivered: bool


@dataclass(frozen=True)
class LicenseEvent:
    """One ``LicensePurchased`` event."""

    license_id: int
    token_id: int
    licensee: str
    offer_id: int
    kem_key_digest: str
    expires_at: int
    renewal: bool
    block_number: int


@dataclass(frozen=True)
class KeyDelivery:
    """One ``KeyDelivered`` event: where a licensee finds its wrapped content key."""

    license_id: int
    token_id: int
    licensee: str
    wrapped_key_cid: str
    block_number: int


class Marketplace:
    """ModelMarketplace (and approvals on ModelNFT) through a :class:`ChainClient`."""

    def __init__(self, chain: ChainClient) -> None:
        self.chain = chain

    @property
    def address(self) -> str:
        return self.chain.deployment.contract(MARKETPLACE).address

    def list(self, token_id: int, price_wei: int) -> TxResult:
        """Approve the marketplace for ``token_id`` and list it at ``price_wei``."""
        self.chain.transact(MODEL_NFT, "approve", to_checksum_address(self.address), token_id)
        result = self.chain.transact(MARKETPLACE, "list", token_id, price_wei)
        log.info("listed token %d at %d wei", token_id, price_wei)
        return result

    def create_license_offer(self, token_id: int, offer: LicenseOffer) -> int:
        """Create a licence offer on the sender's token; return the offer id."""
        result = self.chain.transact(
            MARKETPLACE,
            "createLicenseOffer",
            token_id,
            offer.price,
            offer.duration,
            offer.max_seats,
            offer.expires_at,
            offer.terms_cid,
        )
        (event,) = self.chain.receipt_events(result, MARKETPLACE, "LicenseOfferCreated")
        return int(event["offerId"])

    def buy_license(
        self, token_id: int, offer_id: int, kem_key_digest: str, price_wei: int
    ) -> LicensePurchase:
        """Buy (or extend) a licence under ``offer_id``, paying ``price_wei``."""
        result = self.chain.transact(
            MARKETPLACE,
            "buyLicense",
            token_id,
            offer_id,
            to_bytes32(kem_key_digest),
            price_wei,
            value=price_wei,
        )
        (event,) = self.chain.receipt_events(result, MARKETPLACE, "LicensePurchased")
        expires = self.chain.call(MARKETPLACE, "licenseOf", token_id, self.chain.address)[0]
        return LicensePurchase(int(event["licenseId"]), int(expires), result)

    def has_valid_license(self, token_id: int, account: str) -> bool:
        return bool(
            self.chain.call(MARKETPLACE, "hasValidLicense", token_id, to_checksum_address(account))
        )

    def claim_contributor_revenue(
        self,
        token_id: int,
        contributors: list[str] | tuple[str, ...],
        weights: list[int] | tuple[int, ...],
    ) -> TxResult:
        """Credit the sender's share of the token's contributor revenue accrued so far."""
        return self.chain.transact(
            MARKETPLACE,
            "claimContributorRevenue",
            token_id,
            [to_checksum_address(a) for a in contributors],
            list(weights),
        )

    def credit_of(self, account: str) -> int:
        """ETH (wei) credited to ``account`` in the marketplace, withdrawable."""
        return int(self.chain.call(MARKETPLACE, "creditOf", to_checksum_address(account)))

    def withdraw(self, amount_wei: int) -> TxResult:
        return self.chain.transact(MARKETPLACE, "withdraw", amount_wei)

    # -- licensed delivery ------------------------------------------------------------------

    def mint(self, to: str, params: MintParams) -> int:
        """Mint a model NFT directly on ModelNFT (a model published outside a federation)."""
        result = self.chain.transact(MODEL_NFT, "mint", to_checksum_address(to), params.as_tuple())
        (event,) = self.chain.receipt_events(result, MODEL_NFT, "ModelMinted")
        token_id = int(event["tokenId"])
        log.info("minted model token %d for %s (manifest %s)", token_id, to, params.manifest_cid)
        return token_id

    def owner_of(self, token_id: int) -> str:
        return to_checksum_address(self.chain.call(MODEL_NFT, "ownerOf", token_id))

    def license_of(self, token_id: int, account: str) -> LicenseRecord:
        raw = self.chain.call(MARKETPLACE, "licenseOf", token_id, to_checksum_address(account))
        return LicenseRecord(int(raw[0]), int(raw[1]), int(raw[2]), bool(raw[3]))

    def license_events(
        self, *, token_id: int | None = None, licensee: str | None = None, from_block: int = 0
    ) -> list[LicenseEvent]:
        """``LicensePurchased`` events, oldest first, optionally for one token or licensee."""
        return [
            LicenseEvent(
                license_id=int(e["args"]["licenseId"]),
                token_id=int(e["args"]["tokenId"]),
                licensee=to_checksum_address(e["args"]["licensee"]),
                offer_id=int(e["args"]["offerId"]),
                kem_key_digest=hex32(e["args"]["kemKeyDigest"]),
                expires_at=int(e["args"]["expiresAt"]),
                renewal=bool(e["args"]["renewal"]),
                block_number=e["blockNumber"],
            )
            for e in self.chain.events(
                MARKETPLACE,
                "LicensePurchased",
                from_block=from_block,
                filters=_licence_filter(token_id, licensee),
            )
        ]

    def key_deliveries(
        self, *, token_id: int | None = None, licensee: str | None = None, from_block: int = 0
    ) -> list[KeyDelivery]:
        """``KeyDelivered`` events, oldest first, optionally for one token or licensee."""
        return [
            KeyDelivery(
                license_id=int(e["args"]["licenseId"]),
                token_id=int(e["args"]["tokenId"]),
                licensee=to_checksum_address(e["args"]["licensee"]),
                wrapped_key_cid=str(e["args"]["wrappedKeyCID"]),
                block_number=e["blockNumber"],
            )
            for e in self.chain.events(
                MARKETPLACE,
                "KeyDelivered",
                from_block=from_block,
                filters=_licence_filter(token_id, licensee),
            )
        ]

    def deliver_key(
        self, token_id: int, licensee: str, license_id: int, wrapped_key_cid: str
    ) -> TxResult:
        """Record the wrapped key's CID for licence ``license_id`` (token owner only)."""
        result = self.chain.transact(
            MARKETPLACE,
            "deliverKey",
            token_id,
            to_checksum_address(licensee),
            license_id,
            wrapped_key_cid,
        )
        log.info(
            "delivered the key of token %d to %s (licence %d): %s",
            token_id,
            licensee,
            license_id,
            wrapped_key_cid,
        )
        return result


def _licence_filter(token_id: int | None, licensee: str | None) -> dict[str, object] | None:
    """Event filter on the indexed ``tokenId`` / ``licensee`` arguments (``None``: all)."""
    filters: dict[str, object] = {}
    if token_id is not None:
        filters["tokenId"] = token_id
    if licensee is not None:
        filters["licensee"] = to_checksum_address(licensee)
    return filters or None
