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
from fqai.chain.registry import to_bytes32

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
