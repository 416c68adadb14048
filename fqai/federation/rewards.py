"""A node's side of the money: claim round rewards (and licence revenue) on-chain, withdraw.

The registry stores only the hash of each finalised round's contributor lists; the lists
themselves come from the ``RoundFinalized`` events, and every claim passes them back.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from fqai.chain import ChainClient, FederationRegistry, Marketplace, RoundFinalized

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RewardClaim:
    """One round's reward credited to the node."""

    round: int
    amount: int
    tx_hash: str


@dataclass
class RewardReport:
    """What :func:`claim_rewards` did: claims, skipped rounds (and why), the withdrawal."""

    node: str
    claims: list[RewardClaim] = field(default_factory=list)
    skipped: dict[int, str] = field(default_factory=dict)
    withdrawn: int = 0
    withdraw_tx: str | None = None

    @property
    def claimed(self) -> int:
        return sum(c.amount for c in self.claims)


def claim_rewards(
    chain: ChainClient,
    federation_id: int,
    *,
    withdraw: bool = True,
    rounds: list[int] | None = None,
) -> RewardReport:
    """Claim the sender's reward for every finalised round it contributed to, then withdraw.

    Rounds where the sender is not a contributor, or has already claimed, are skipped (and
    listed in :attr:`RewardReport.skipped`). ``withdraw`` sends the whole registry credit
    (earlier credits included) to the sender.
    """
    registry = FederationRegistry(chain)
    node = chain.address
    report = RewardReport(node=node)
    for event in registry.finalized_rounds(federation_id):
        if rounds is not None and event.round not in rounds:
            continue
        if node not in event.contributors:
            report.skipped[event.round] = "not a contributor"
            continue
        if registry.participation(federation_id, event.round, node).reward_claimed:
            report.skipped[event.round] = "already claimed"
            continue
        result = registry.claim_reward(
            federation_id, event.round, list(event.contributors), list(event.weights)
        )
        (credited,) = chain.receipt_events(result, "FederationRegistry", "RewardClaimed")
        amount = int(credited["amount"])
        report.claims.append(RewardClaim(event.round, amount, result.tx_hash))
        log.info(
            "%s claimed %d wei for round %d of federation %d (tx %s)",
            node,
            amount,
            event.round,
            federation_id,
            result.tx_hash,
        )
    if withdraw:
        credit = registry.credit_of(node)
        if credit > 0:
            report.withdraw_tx = registry.withdraw(credit).tx_hash
            report.withdrawn = credit
            log.info("%s withdrew %d wei from the registry", node, credit)
    return report


def final_round_event(chain: ChainClient, federation_id: int, round_: int) -> RoundFinalized:
    """The ``RoundFinalized`` event of ``round_`` (the lists a revenue claim needs)."""
    for event in FederationRegistry(chain).finalized_rounds(federation_id):
        if event.round == round_:
            return event
    raise LookupError(f"round {round_} of federation {federation_id} is not finalised")


def claim_model_revenue(chain: ChainClient, token_id: int, *, withdraw: bool = True) -> int:
    """Claim the sender's licence revenue share of a federation model; return the wei credited.

    The lists are the model's final round's, from its provenance and the ``RoundFinalized``
    event. Withdraws the sender's whole marketplace credit when ``withdraw``.
    """
    provenance = FederationRegistry(chain).provenance(token_id)
    event = final_round_event(chain, provenance.federation_id, provenance.round)
    market = Marketplace(chain)
    before = market.credit_of(chain.address)
    market.claim_contributor_revenue(token_id, list(event.contributors), list(event.weights))
    credited = market.credit_of(chain.address) - before
    log.info("%s claimed %d wei licence revenue of token %d", chain.address, credited, token_id)
    if withdraw:
        total = market.credit_of(chain.address)
        if total > 0:
            market.withdraw(total)
    return credited
