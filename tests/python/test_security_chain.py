"""Attacks on the contracts through fqai's own chain client, on a real Anvil.

A node joining below the minimum stake, a coordinator finalising a round twice or paying a node
that never committed, a contributor claiming twice or with forged lists, an account withdrawing
more than it is owed, a buyer paying less than the price. Each is refused by the contract with
its custom error, decoded by :class:`fqai.chain.ChainClient`, and afterwards every contract's
ETH balance still equals what it owes (``totals()``): nothing was lost or created.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from fqai.chain import ChainClient, ChainRevertError, DeploymentError, FederationRegistry
from fqai.chain.deployment import MARKETPLACE, MODEL_NFT, REGISTRY
from fqai.chain.registry import FederationConfig, MintParams, to_bytes32
from fqai.devnet.anvil import AnvilNode

from .federation_fixtures import DeployedChain, deployed_chain  # noqa: F401 - fixture

STAKE = 10**16
REWARD = 10**15
PRICE = 3 * 10**15
KEY = "0x" + "aa" * 32
DIGEST = "0x" + "cd" * 32
KEM = "0x" + "ab" * 32


@dataclass
class Round:
    chain: DeployedChain
    federation: int
    round: int
    nodes: list[str]
    weights: list[int]
    token: int

    def registry(self, account: int) -> FederationRegistry:
        return FederationRegistry(self.chain.client(account))


def _index(chain: DeployedChain, address: str) -> int:
    return chain.dev_accounts.index(address)


@pytest.fixture(scope="module")
def finalised(deployed_chain: DeployedChain) -> Iterator[Round]:  # noqa: F811
    """A federation with three members (two contributed to round 1, one only joined) and a
    minted, licensed model of that round."""
    chain = deployed_chain
    coordinator = FederationRegistry(chain.client(1))
    federation = coordinator.create_federation(
        FederationConfig(model_spec_cid="spec", min_stake=STAKE, reward_per_round=REWARD),
        pool_wei=10 * REWARD,
    )
    members = [chain.dev_accounts[i] for i in (2, 3, 4)]
    for i, node in enumerate(members):
        FederationRegistry(chain.client(_index(chain, node))).join(
            federation, "0x" + f"{i + 1:02x}" * 32, STAKE
        )
    round_ = coordinator.open_round(federation)
    nodes = sorted(members[:2], key=str.lower)
    for node in nodes:
        FederationRegistry(chain.client(_index(chain, node))).commit_update(
            federation, round_, DIGEST
        )
    weights = [700_000, 300_000]
    coordinator.finalize_round(
        federation, round_, "model", DIGEST, "0x" + "00" * 32, nodes, weights
    )
    token = coordinator.mint_model(
        federation, chain.dev_accounts[1], MintParams("model", DIGEST, KEY, chain.dev_accounts[1])
    )
    owner = chain.client(1)
    owner.transact(MARKETPLACE, "createLicenseOffer", token, PRICE, 86400, 0, 0, "terms")
    chain.client(5).transact(MARKETPLACE, "buyLicense", token, 0, KEM, PRICE, value=PRICE)
    yield Round(chain, federation, round_, nodes, weights, token)


def _reverts(error: str, action) -> ChainRevertError:  # type: ignore[no-untyped-def]
    with pytest.raises(ChainRevertError) as caught:
        action()
    assert caught.value.error_name == error, str(caught.value)
    return caught.value


def _balances_reconcile(chain: DeployedChain) -> None:
    reader = chain.client(None)
    for contract in (REGISTRY, MARKETPLACE):
        owed = sum(reader.call(contract, "totals"))
        assert reader.balance(reader.contract(contract).address) == owed, contract


@pytest.mark.attack(
    "stake-below-minimum",
    actor="a would-be node",
    attack="join a federation with less than its minimum stake",
    control="FederationRegistry.join: FederationStakeTooLow",
)
def test_joining_below_the_minimum_stake_is_refused(finalised: Round) -> None:
    outsider = FederationRegistry(finalised.chain.client(6))
    error = _reverts(
        "FederationStakeTooLow", lambda: outsider.join(finalised.federation, KEY, STAKE - 1)
    )
    assert str(STAKE - 1) in str(error)
    _balances_reconcile(finalised.chain)


@pytest.mark.attack(
    "double-finalisation",
    actor="a malicious coordinator",
    attack="finalise a round a second time with other contributors and weights",
    control="FederationRegistry.finalizeRound: round must be open (finalised at most once)",
)
def test_a_round_is_finalised_at_most_once(finalised: Round) -> None:
    coordinator = finalised.registry(1)
    nodes = finalised.nodes
    _reverts(
        "FederationRoundNotOpen",
        lambda: coordinator.finalize_round(
            finalised.federation, finalised.round, "other", DIGEST, DIGEST, nodes, [1, 999_999]
        ),
    )
    _balances_reconcile(finalised.chain)


@pytest.mark.attack(
    "weights-for-uncommitted-node",
    actor="a malicious coordinator",
    attack="finalise a round paying a node that committed no update",
    control="FederationRegistry.finalizeRound: every contributor must have committed",
)
def test_a_node_that_never_committed_cannot_be_paid(finalised: Round) -> None:
    chain = finalised.chain
    coordinator = finalised.registry(1)
    round_ = coordinator.open_round(finalised.federation)
    committed = finalised.nodes[0]
    finalised.registry(_index(chain, committed)).commit_update(finalised.federation, round_, DIGEST)
    idle = chain.dev_accounts[4]  # a member that committed nothing this round
    contributors = sorted([committed, idle], key=str.lower)
    _reverts(
        "FederationContributorDidNotCommit",
        lambda: coordinator.finalize_round(
            finalised.federation, round_, "m", DIGEST, DIGEST, contributors, [500_000, 500_000]
        ),
    )
    _balances_reconcile(chain)


@pytest.mark.attack(
    "double-or-forged-claim",
    actor="a contributor",
    attack="claim a round reward twice, or with contributor lists edited to raise its weight",
    control="claimReward: lists checked against the finalised hash; one claim per round",
)
def test_rewards_are_claimed_once_and_only_with_the_finalised_lists(finalised: Round) -> None:
    chain = finalised.chain
    node = finalised.nodes[1]
    registry = finalised.registry(_index(chain, node))
    forged = [500_000, 500_000]
    _reverts(
        "FederationContributionsMismatch",
        lambda: registry.claim_reward(
            finalised.federation, finalised.round, finalised.nodes, forged
        ),
    )
    registry.claim_reward(finalised.federation, finalised.round, finalised.nodes, finalised.weights)
    _reverts(
        "FederationRewardAlreadyClaimed",
        lambda: registry.claim_reward(
            finalised.federation, finalised.round, finalised.nodes, finalised.weights
        ),
    )
    _balances_reconcile(chain)


@pytest.mark.attack(
    "withdraw-more-than-credited",
    actor="any account",
    attack="withdraw more ETH than its credit from the registry or the marketplace",
    control="withdraw: amount <= credit (pull payments)",
)
def test_nobody_withdraws_more_than_credited(finalised: Round) -> None:
    chain = finalised.chain
    seller = chain.client(1)
    credit = seller.call(MARKETPLACE, "creditOf", seller.address)
    assert credit > 0
    _reverts(
        "MarketplaceInsufficientCredit",
        lambda: seller.transact(MARKETPLACE, "withdraw", credit + 1),
    )
    node = chain.client(_index(chain, finalised.nodes[1]))
    reward_credit = node.call(REGISTRY, "creditOf", node.address)
    _reverts(
        "FederationInsufficientCredit",
        lambda: node.transact(REGISTRY, "withdraw", reward_credit + 1),
    )
    seller.transact(MARKETPLACE, "withdraw", credit)
    assert seller.call(MARKETPLACE, "creditOf", seller.address) == 0
    _balances_reconcile(chain)


@pytest.mark.attack(
    "underpaid-licence",
    actor="a buyer",
    attack="take a licence paying less than the offer's price",
    control="buyLicense: MarketplaceInsufficientPayment",
)
def test_a_licence_cannot_be_underpaid(finalised: Round) -> None:
    buyer = finalised.chain.client(6)
    _reverts(
        "MarketplaceInsufficientPayment",
        lambda: buyer.transact(
            MARKETPLACE, "buyLicense", finalised.token, 0, KEM, PRICE, value=PRICE - 1
        ),
    )
    assert not buyer.call(MARKETPLACE, "hasValidLicense", finalised.token, buyer.address)
    _balances_reconcile(finalised.chain)


def test_minted_model_points_at_the_finalised_round(finalised: Round) -> None:
    reader = finalised.chain.client(None)
    provenance = reader.call(MODEL_NFT, "provenance", finalised.token)
    assert (provenance[3], provenance[4]) == (finalised.federation, finalised.round)
    assert provenance[1] == to_bytes32(DIGEST)


@pytest.mark.attack(
    "wrong-chain-rpc",
    actor="a wrong or substituted chain RPC",
    attack="point a node, coordinator or licensee at another chain (another id, or the same id "
    "without the deployed contracts)",
    control="the deployment record is chosen by the RPC's chain id and its contracts must have "
    "code there (DeploymentError)",
)
def test_a_client_refuses_an_rpc_for_another_chain(
    deployed_chain: DeployedChain,  # noqa: F811
    tmp_path: Path,
) -> None:
    records = deployed_chain.deployments_dir
    with (
        AnvilNode(chain_id=4242, log_path=tmp_path / "other.log") as other,
        pytest.raises(DeploymentError, match="4242"),
    ):
        ChainClient.from_rpc(other.rpc_url, deployments_dir=records)
    with (
        AnvilNode(chain_id=deployed_chain.chain_id, log_path=tmp_path / "bare.log") as bare,
        pytest.raises(DeploymentError, match="has no code on chain"),
    ):
        ChainClient.from_rpc(bare.rpc_url, deployments_dir=records)
    ChainClient.from_rpc(deployed_chain.rpc_url, deployments_dir=records)  # the real one
