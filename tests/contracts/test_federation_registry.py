"""FederationRegistry: every external function's success path, reverts (custom error and
arguments) and events, the window boundaries of rounds, contests, slashing and unbonding, and the
contract's bookkeeping (`totals()` equals its ETH balance after every money-moving test)."""

from __future__ import annotations

from typing import NamedTuple

import brownie
import pytest
from brownie import TestActor, chain
from conftest import WEIGHT_TOTAL, ZERO, digest, err, fed_config, mint_params, run_round

ETH = 10**18
CONFIG_FIELDS = (
    "modelSpecCID",
    "minStake",
    "rewardPerRound",
    "commitWindow",
    "finalizeWindow",
    "contestWindow",
    "unbondingBlocks",
    "maxParticipants",
    "slashBps",
    "revenueShareBps",
)
DEFAULTS = dict(zip(CONFIG_FIELDS, fed_config(), strict=True))
MIN_STAKE = DEFAULTS["minStake"]
REWARD = DEFAULTS["rewardPerRound"]
COMMIT_WINDOW = DEFAULTS["commitWindow"]
FINALIZE_WINDOW = DEFAULTS["finalizeWindow"]
CONTEST_WINDOW = DEFAULTS["contestWindow"]
UNBONDING = DEFAULTS["unbondingBlocks"]
MAX_PARTICIPANTS = DEFAULTS["maxParticipants"]
SLASH_BPS = DEFAULTS["slashBps"]
POOL = 10 * ETH  # the `federation` fixture's initial pool
BPS = 10_000
NONE, ACTIVE, LEAVING = 0, 1, 2  # MemberStatus
ZERO_DIGEST = "0x" + "00" * 32


# --------------------------------------------------------------------------- helpers


class Played(NamedTuple):
    """A finalised round and the lists it was finalised with (later calls pass them back)."""

    round: int
    contributors: list
    weights: list


def bare_err(name: str) -> str:
    """Revert message of a custom error without arguments: Brownie decodes it as `Name: `, which
    `err(name)` (giving `Name`) does not match."""
    return f"{name}: "


def by_address(account) -> int:
    return int(account.address, 16)


def key_digest(i: int) -> str:
    """The key digest the `federation` fixture registers for nodes[i]."""
    return digest(f"node{i}/mldsa")


def update_digest(node, round_: int) -> str:
    """The update digest `run_round` commits for `node` in `round_`."""
    return digest(f"{node.address}/{round_}")


def contributions_hash(contributors, weights) -> str:
    """keccak256(abi.encode(contributors, weights)), as the registry records it."""
    from eth_abi import encode
    from eth_utils import keccak

    addresses = [getattr(c, "address", c) for c in contributors]
    return "0x" + keccak(encode(["address[]", "uint64[]"], [addresses, list(weights)])).hex()


def play_round(registry, fed_id, coordinator, committers, contributors, weights) -> Played:
    """`run_round` with explicit contributors (in address order) and weights."""
    assert list(contributors) == sorted(contributors, key=by_address)
    round_ = run_round(registry, fed_id, coordinator, committers, contributors, weights)
    return Played(round_, [c.address for c in contributors], list(weights))


def finalize(registry, fed_id, round_, coordinator, contributors, weights, **overrides):
    """finalizeRound with the manifest fields run_round would use; `overrides` replace them."""
    args = {
        "cid": f"bafkreiglobal{round_}",
        "global_digest": digest(f"global/{round_}"),
        "accepted_root": digest(f"accepted/{round_}"),
    }
    args.update(overrides)
    return registry.finalizeRound(
        fed_id,
        round_,
        args["cid"],
        args["global_digest"],
        args["accepted_root"],
        contributors,
        weights,
        {"from": coordinator},
    )


def mine_to(block: int) -> None:
    """Mine empty blocks so that the next transaction is included in block `block`."""
    gap = block - chain.height - 1
    assert gap >= 0, f"block {block} has passed (height {chain.height})"
    if gap:
        chain.mine(gap)


def contest_deadline(registry, fed_id, round_) -> int:
    return registry.getRound(fed_id, round_).dict()["finalizedAt"] + CONTEST_WINDOW


def fed_state(registry, fed_id) -> dict:
    return registry.getFederation(fed_id).dict()


def member(registry, fed_id, node) -> dict:
    return registry.getMember(fed_id, node).dict()


def event_names(tx) -> list:
    """Names of every event the transaction emitted, in order (any contract)."""
    return [event.name for event in tx.events]


def assert_books_balanced(registry) -> None:
    """The registry's ETH balance is exactly its staked + pools + reserved + credits."""
    staked, pools, reserved, credits = registry.totals()
    assert staked + pools + reserved + credits == registry.balance()


def withdraw_all(registry, account) -> int:
    """Withdraw the account's whole credit; checks the ETH arrives. Returns the amount."""
    amount = registry.creditOf(account)
    before = account.balance()
    tx = registry.withdraw(amount, {"from": account})
    assert account.balance() == before + amount - tx.gas_used * tx.gas_price
    return amount


def leave_and_release(registry, fed_id, node):
    """requestLeave, wait out unbonding, releaseStake. Returns the release transaction."""
    unbond_at = registry.requestLeave(fed_id, {"from": node}).events["LeaveRequested"]["unbondAt"]
    mine_to(unbond_at)
    return registry.releaseStake(fed_id, {"from": node})


# --------------------------------------------------------------------------- fixtures


@pytest.fixture
def outsider(accounts):
    """An account that is not a member of any federation."""
    return accounts[14]


@pytest.fixture
def keeper(accounts):
    """An unrelated account calling slashExcluded (anyone may)."""
    return accounts[15]


@pytest.fixture
def round_open(registry, federation, coordinator, nodes):
    """Round 1 of the federation open, nodes[0..2] committed, nodes[3] not."""
    round_ = registry.openRound(federation, {"from": coordinator}).return_value
    for node in nodes[:3]:
        registry.commitUpdate(federation, round_, update_digest(node, round_), {"from": node})
    return round_


@pytest.fixture
def excluded_round(registry, federation, coordinator, nodes):
    """Round 1 finalised: nodes[0..2] committed, nodes[0] (700 000) and nodes[1] (300 000)
    contributed, nodes[2] was excluded; nodes[3] did not commit."""
    return play_round(registry, federation, coordinator, nodes[:3], nodes[:2], [700_000, 300_000])


@pytest.fixture
def second_federation(registry, coordinator):
    """Factory: create a federation with config overrides and a pool; returns its id."""

    def create(pool: int = POOL, **overrides) -> int:
        tx = registry.createFederation(
            fed_config(**overrides), {"from": coordinator, "value": pool}
        )
        return tx.return_value

    return create


@pytest.fixture
def driver(accounts):
    """The EOA that drives TestActor contracts."""
    return accounts[16]


@pytest.fixture
def actor(driver):
    return TestActor.deploy({"from": driver})


def act(actor, driver, target, calldata, value=0):
    return actor.execute(target, calldata, value, {"from": driver, "value": value})


@pytest.fixture
def credited_actor(registry, federation, actor, driver):
    """A TestActor that joined with 2 ETH, left and released its stake: 2 ETH credited."""
    act(actor, driver, registry, registry.join.encode_input(federation, digest("actor")), 2 * ETH)
    tx = act(actor, driver, registry, registry.requestLeave.encode_input(federation))
    mine_to(tx.events["LeaveRequested"]["unbondAt"])
    act(actor, driver, registry, registry.releaseStake.encode_input(federation))
    assert registry.creditOf(actor) == 2 * ETH
    return actor


# --------------------------------------------------------------------------- createFederation


def test_create_federation_stores_config_and_seeds_pool(registry, federation, accounts):
    # Prepare
    creator = accounts[5]
    config = fed_config(modelSpecCID="bafkreiother", rewardPerRound=3 * ETH, revenueShareBps=4_500)
    staked, pools, reserved, credits = registry.totals()
    balance = registry.balance()

    # Execute
    tx = registry.createFederation(config, {"from": creator, "value": 2 * ETH})

    # Assert
    fed_id = tx.return_value
    assert fed_id == federation + 1 == registry.federationCount()
    assert tuple(registry.getFederation(fed_id)) == (creator, 0, 0, 0, 2 * ETH)
    assert tuple(registry.getConfig(fed_id)) == config
    assert registry.revenueShareBps(fed_id) == 4_500
    assert event_names(tx) == ["FederationCreated"]
    event = tx.events["FederationCreated"]
    assert event["federationId"] == fed_id
    assert event["coordinator"] == creator
    assert event["modelSpecCID"] == "bafkreiother"
    assert event["initialPool"] == 2 * ETH
    assert tuple(registry.totals()) == (staked, pools + 2 * ETH, reserved, credits)
    assert registry.balance() == balance + 2 * ETH
    assert_books_balanced(registry)


def test_create_federation_ids_increment_and_pool_may_start_empty(registry, federation, accounts):
    # Execute
    first = registry.createFederation(fed_config(), {"from": accounts[5]})
    second = registry.createFederation(fed_config(), {"from": accounts[6]})

    # Assert
    assert (first.return_value, second.return_value) == (federation + 1, federation + 2)
    assert registry.federationCount() == federation + 2
    assert second.events["FederationCreated"]["initialPool"] == 0
    assert fed_state(registry, second.return_value)["rewardPool"] == 0
    assert fed_state(registry, second.return_value)["coordinator"] == accounts[6]
    assert_books_balanced(registry)


INVALID_CONFIGS = [
    ("modelSpecCID", {"modelSpecCID": ""}),
    ("minStake", {"minStake": 0}),
    ("commitWindow", {"commitWindow": 0}),
    ("finalizeWindow", {"finalizeWindow": 0}),
    ("contestWindow", {"contestWindow": 0}),
    ("maxParticipants", {"maxParticipants": 0}),
    ("maxParticipants", {"maxParticipants": 65}),
    ("slashBps", {"slashBps": 10_001}),
    ("revenueShareBps", {"revenueShareBps": 10_001}),
    # unbondingBlocks must exceed commit + finalize + contest windows: equal to the sum is invalid.
    ("unbondingBlocks", {"unbondingBlocks": 15}),
    (
        "unbondingBlocks",
        {"commitWindow": 3, "finalizeWindow": 4, "contestWindow": 6, "unbondingBlocks": 13},
    ),
    ("unbondingBlocks", {"unbondingBlocks": 1}),
    # The sum of three uint32 windows does not fit 32 bits: checked without overflowing.
    (
        "unbondingBlocks",
        {
            "commitWindow": 2**31,
            "finalizeWindow": 2**31,
            "contestWindow": 2**31,
            "unbondingBlocks": 2**32 - 1,
        },
    ),
]


@pytest.mark.parametrize(
    ("field", "overrides"),
    INVALID_CONFIGS,
    ids=[",".join(f"{k}={v}" for k, v in o.items()) for _, o in INVALID_CONFIGS],
)
def test_create_federation_reverts_on_invalid_config(
    registry, federation, coordinator, field, overrides
):
    with brownie.reverts(err("FederationInvalidConfig", field)):
        registry.createFederation(fed_config(**overrides), {"from": coordinator, "value": ETH})
    assert registry.federationCount() == federation


BOUNDARY_CONFIGS = [
    {"maxParticipants": 64},
    {"maxParticipants": 1},
    {"slashBps": 10_000, "revenueShareBps": 10_000},
    {"slashBps": 0, "revenueShareBps": 0, "rewardPerRound": 0},
    {"unbondingBlocks": 16},
    {"commitWindow": 3, "finalizeWindow": 4, "contestWindow": 6, "unbondingBlocks": 14},
    {"minStake": 1},
]


@pytest.mark.parametrize(
    "overrides",
    BOUNDARY_CONFIGS,
    ids=[",".join(f"{k}={v}" for k, v in o.items()) for o in BOUNDARY_CONFIGS],
)
def test_create_federation_accepts_boundary_config(registry, federation, coordinator, overrides):
    tx = registry.createFederation(fed_config(**overrides), {"from": coordinator})
    assert tuple(registry.getConfig(tx.return_value)) == fed_config(**overrides)


def test_create_federation_reverts_when_paused(registry, federation, owner, coordinator):
    registry.pause({"from": owner})
    with brownie.reverts(bare_err("EnforcedPause")):
        registry.createFederation(fed_config(), {"from": coordinator, "value": ETH})
    registry.unpause({"from": owner})
    tx = registry.createFederation(fed_config(), {"from": coordinator})
    assert tx.return_value == federation + 1


# --------------------------------------------------------------------------- fundRewardPool


def test_fund_reward_pool_adds_to_pool_and_emits_new_pool(registry, federation, accounts):
    # Prepare
    funder = accounts[5]
    _, pools, _, _ = registry.totals()

    # Execute
    first = registry.fundRewardPool(federation, {"from": funder, "value": 2 * ETH})
    second = registry.fundRewardPool(federation, {"from": funder, "value": 3})

    # Assert
    assert event_names(first) == ["RewardPoolFunded"]
    assert dict(first.events["RewardPoolFunded"]) == {
        "federationId": federation,
        "funder": funder.address,
        "amount": 2 * ETH,
        "pool": POOL + 2 * ETH,
    }
    assert second.events["RewardPoolFunded"]["pool"] == POOL + 2 * ETH + 3
    assert fed_state(registry, federation)["rewardPool"] == POOL + 2 * ETH + 3
    assert registry.totals()[1] == pools + 2 * ETH + 3
    assert_books_balanced(registry)


def test_fund_reward_pool_reverts_on_zero_value(registry, federation, accounts):
    with brownie.reverts(bare_err("FederationZeroValue")):
        registry.fundRewardPool(federation, {"from": accounts[5]})


def test_fund_reward_pool_reverts_for_unknown_federation(registry, federation, accounts):
    with brownie.reverts(err("FederationUnknown", 99)):
        registry.fundRewardPool(99, {"from": accounts[5], "value": ETH})


# --------------------------------------------------------------------------- join


def test_join_registers_member_with_stake(registry, federation, coordinator, nodes, outsider):
    # Prepare: one finalised round, so the joiner's joinedRound is 1
    play_round(registry, federation, coordinator, nodes[:1], nodes[:1], [WEIGHT_TOTAL])
    staked = registry.totals()[0]

    # Execute
    tx = registry.join(federation, digest("outsider/mldsa"), {"from": outsider, "value": 3 * ETH})

    # Assert
    assert event_names(tx) == ["NodeJoined"]
    assert dict(tx.events["NodeJoined"]) == {
        "federationId": federation,
        "node": outsider.address,
        "stake": 3 * ETH,
        "keyDigest": digest("outsider/mldsa"),
    }
    assert tuple(registry.getMember(federation, outsider)) == (
        3 * ETH,
        1,
        0,
        0,
        ACTIVE,
        digest("outsider/mldsa"),
    )
    assert fed_state(registry, federation)["memberCount"] == 5
    assert registry.totals()[0] == staked + 3 * ETH
    assert_books_balanced(registry)


def test_join_reverts_when_stake_below_minimum(registry, federation, outsider):
    with brownie.reverts(err("FederationStakeTooLow", outsider, MIN_STAKE - 1, MIN_STAKE)):
        registry.join(federation, digest("k"), {"from": outsider, "value": MIN_STAKE - 1})
    with brownie.reverts(err("FederationStakeTooLow", outsider, 0, MIN_STAKE)):
        registry.join(federation, digest("k"), {"from": outsider})


def test_join_reverts_on_zero_key_digest(registry, federation, outsider):
    with brownie.reverts(bare_err("FederationZeroDigest")):
        registry.join(federation, ZERO_DIGEST, {"from": outsider, "value": MIN_STAKE})


def test_join_reverts_when_already_member(registry, federation, nodes):
    with brownie.reverts(err("FederationAlreadyMember", federation, nodes[0])):
        registry.join(federation, digest("again"), {"from": nodes[0], "value": MIN_STAKE})


def test_join_reverts_while_unbonding(registry, federation, nodes):
    registry.requestLeave(federation, {"from": nodes[0]})
    with brownie.reverts(err("FederationAlreadyMember", federation, nodes[0])):
        registry.join(federation, digest("again"), {"from": nodes[0], "value": MIN_STAKE})


def test_join_reverts_when_federation_full(registry, federation, second_federation, nodes):
    # Prepare: maxParticipants 2, two members
    fed_id = second_federation(maxParticipants=2)
    for node in nodes[:2]:
        registry.join(fed_id, digest(f"{node.address}/k"), {"from": node, "value": MIN_STAKE})

    # Execute / Assert
    with brownie.reverts(err("FederationFull", fed_id, 2)):
        registry.join(fed_id, digest("k2"), {"from": nodes[2], "value": MIN_STAKE})
    # A leaving member no longer counts: the seat is free again.
    registry.requestLeave(fed_id, {"from": nodes[0]})
    registry.join(fed_id, digest("k2"), {"from": nodes[2], "value": MIN_STAKE})
    assert fed_state(registry, fed_id)["memberCount"] == 2


def test_join_reverts_for_unknown_federation(registry, federation, outsider):
    with brownie.reverts(err("FederationUnknown", 7)):
        registry.join(7, digest("k"), {"from": outsider, "value": MIN_STAKE})


def test_join_reverts_when_paused(registry, federation, owner, outsider):
    registry.pause({"from": owner})
    with brownie.reverts(bare_err("EnforcedPause")):
        registry.join(federation, digest("k"), {"from": outsider, "value": MIN_STAKE})
    registry.unpause({"from": owner})
    registry.join(federation, digest("k"), {"from": outsider, "value": MIN_STAKE})
    assert member(registry, federation, outsider)["status"] == ACTIVE


def test_join_again_after_release_stake(registry, federation, coordinator, nodes):
    # Prepare: nodes[0] leaves and releases its stake during round 1
    registry.openRound(federation, {"from": coordinator})
    leave_and_release(registry, federation, nodes[0])
    assert member(registry, federation, nodes[0])["status"] == NONE

    # Execute
    tx = registry.join(federation, digest("new-key"), {"from": nodes[0], "value": 2 * ETH})

    # Assert: a fresh membership with the new key
    assert tx.events["NodeJoined"]["keyDigest"] == digest("new-key")
    assert tuple(registry.getMember(federation, nodes[0])) == (
        2 * ETH,
        1,
        0,
        0,
        ACTIVE,
        digest("new-key"),
    )
    assert fed_state(registry, federation)["memberCount"] == 4
    assert_books_balanced(registry)


# --------------------------------------------------------------------------- requestLeave


def test_request_leave_starts_unbonding(registry, federation, coordinator, nodes):
    # Prepare: the federation is in round 1
    registry.openRound(federation, {"from": coordinator})
    staked = registry.totals()[0]

    # Execute
    tx = registry.requestLeave(federation, {"from": nodes[1]})

    # Assert
    unbond_at = tx.block_number + UNBONDING
    assert event_names(tx) == ["LeaveRequested"]
    assert dict(tx.events["LeaveRequested"]) == {
        "federationId": federation,
        "node": nodes[1].address,
        "unbondAt": unbond_at,
    }
    assert tuple(registry.getMember(federation, nodes[1])) == (
        MIN_STAKE,
        0,
        1,
        unbond_at,
        LEAVING,
        key_digest(1),
    )
    assert fed_state(registry, federation)["memberCount"] == 3
    assert registry.totals()[0] == staked
    assert_books_balanced(registry)


def test_request_leave_reverts_for_non_member(registry, federation, outsider):
    with brownie.reverts(err("FederationNotActiveMember", federation, outsider)):
        registry.requestLeave(federation, {"from": outsider})


def test_request_leave_reverts_when_already_leaving(registry, federation, nodes):
    registry.requestLeave(federation, {"from": nodes[1]})
    with brownie.reverts(err("FederationNotActiveMember", federation, nodes[1])):
        registry.requestLeave(federation, {"from": nodes[1]})


# --------------------------------------------------------------------------- releaseStake


def test_release_stake_reverts_for_active_member_and_non_member(
    registry, federation, nodes, outsider
):
    with brownie.reverts(err("FederationNotUnbonded", federation, nodes[0], 0)):
        registry.releaseStake(federation, {"from": nodes[0]})
    with brownie.reverts(err("FederationNotUnbonded", federation, outsider, 0)):
        registry.releaseStake(federation, {"from": outsider})


def test_release_stake_reverts_before_unbond_at(registry, federation, nodes):
    unbond_at = registry.requestLeave(federation, {"from": nodes[1]}).events["LeaveRequested"][
        "unbondAt"
    ]
    mine_to(unbond_at - 1)
    with brownie.reverts(err("FederationNotUnbonded", federation, nodes[1], unbond_at)):
        registry.releaseStake(federation, {"from": nodes[1]})


def test_release_stake_at_unbond_at_credits_stake_and_deletes_member(registry, federation, nodes):
    # Prepare
    unbond_at = registry.requestLeave(federation, {"from": nodes[1]}).events["LeaveRequested"][
        "unbondAt"
    ]
    staked, pools, reserved, credits = registry.totals()
    mine_to(unbond_at)

    # Execute
    tx = registry.releaseStake(federation, {"from": nodes[1]})

    # Assert
    assert tx.block_number == unbond_at
    assert event_names(tx) == ["StakeReleased"]
    assert dict(tx.events["StakeReleased"]) == {
        "federationId": federation,
        "node": nodes[1].address,
        "amount": MIN_STAKE,
    }
    assert tuple(registry.getMember(federation, nodes[1])) == (0, 0, 0, 0, NONE, ZERO_DIGEST)
    assert registry.creditOf(nodes[1]) == MIN_STAKE
    assert fed_state(registry, federation)["memberCount"] == 3
    assert tuple(registry.totals()) == (staked - MIN_STAKE, pools, reserved, credits + MIN_STAKE)
    assert_books_balanced(registry)
    # A second release finds no leaving member.
    with brownie.reverts(err("FederationNotUnbonded", federation, nodes[1], 0)):
        registry.releaseStake(federation, {"from": nodes[1]})
    assert withdraw_all(registry, nodes[1]) == MIN_STAKE
    assert_books_balanced(registry)


# --------------------------------------------------------------------------- openRound


def test_open_round_opens_round_with_deadlines(registry, federation, coordinator):
    # Execute
    tx = registry.openRound(federation, {"from": coordinator})

    # Assert
    commit_deadline = tx.block_number + COMMIT_WINDOW
    finalize_deadline = commit_deadline + FINALIZE_WINDOW
    assert tx.return_value == 1
    assert event_names(tx) == ["RoundOpened"]
    assert dict(tx.events["RoundOpened"]) == {
        "federationId": federation,
        "round": 1,
        "commitDeadline": commit_deadline,
        "finalizeDeadline": finalize_deadline,
    }
    assert fed_state(registry, federation)["currentRound"] == 1
    assert tuple(registry.getRound(federation, 1)) == (
        commit_deadline,
        finalize_deadline,
        0,
        0,
        False,
        0,
        ZERO_DIGEST,
        ZERO_DIGEST,
        ZERO_DIGEST,
    )


def test_open_round_reverts_for_non_coordinator(registry, federation, nodes):
    with brownie.reverts(err("FederationNotCoordinator", federation, nodes[0])):
        registry.openRound(federation, {"from": nodes[0]})


def test_open_round_reverts_for_unknown_federation(registry, federation, coordinator):
    with brownie.reverts(err("FederationUnknown", 9)):
        registry.openRound(9, {"from": coordinator})


def test_open_round_reverts_while_previous_round_open_until_finalize_deadline(
    registry, federation, coordinator
):
    # Prepare
    finalize_deadline = registry.openRound(federation, {"from": coordinator}).events["RoundOpened"][
        "finalizeDeadline"
    ]

    # Execute / Assert: still open at its finalize deadline
    mine_to(finalize_deadline)
    with brownie.reverts(err("FederationRoundStillOpen", federation, 1)):
        registry.openRound(federation, {"from": coordinator})

    # One block later the unfinalised round has lapsed and the next one opens.
    mine_to(finalize_deadline + 1)
    tx = registry.openRound(federation, {"from": coordinator})
    assert tx.block_number == finalize_deadline + 1
    assert tx.return_value == 2
    assert fed_state(registry, federation)["currentRound"] == 2
    assert fed_state(registry, federation)["lastFinalizedRound"] == 0
    assert registry.getRound(federation, 1).dict()["finalized"] is False


def test_open_round_right_after_previous_round_finalised(
    registry, federation, coordinator, excluded_round
):
    tx = registry.openRound(federation, {"from": coordinator})
    assert tx.return_value == excluded_round.round + 1
    assert tx.events["RoundOpened"]["round"] == excluded_round.round + 1


def test_open_round_reverts_when_paused(registry, federation, owner, coordinator):
    registry.pause({"from": owner})
    with brownie.reverts(bare_err("EnforcedPause")):
        registry.openRound(federation, {"from": coordinator})
    registry.unpause({"from": owner})
    assert registry.openRound(federation, {"from": coordinator}).return_value == 1


# --------------------------------------------------------------------------- commitUpdate


def test_commit_update_records_digest(registry, federation, coordinator, nodes):
    # Prepare
    round_ = registry.openRound(federation, {"from": coordinator}).return_value

    # Execute
    tx = registry.commitUpdate(federation, round_, digest("update"), {"from": nodes[3]})

    # Assert
    assert event_names(tx) == ["UpdateCommitted"]
    assert dict(tx.events["UpdateCommitted"]) == {
        "federationId": federation,
        "round": round_,
        "node": nodes[3].address,
        "manifestDigest": digest("update"),
    }
    assert registry.commitmentOf(federation, round_, nodes[3]) == digest("update")
    assert registry.commitmentOf(federation, round_, nodes[2]) == ZERO_DIGEST


def test_commit_update_reverts_on_zero_digest(registry, federation, nodes, round_open):
    with brownie.reverts(bare_err("FederationZeroDigest")):
        registry.commitUpdate(federation, round_open, ZERO_DIGEST, {"from": nodes[3]})


def test_commit_update_reverts_for_non_member(registry, federation, outsider, round_open):
    with brownie.reverts(err("FederationNotActiveMember", federation, outsider)):
        registry.commitUpdate(federation, round_open, digest("u"), {"from": outsider})


def test_commit_update_reverts_for_leaving_member(registry, federation, nodes, round_open):
    registry.requestLeave(federation, {"from": nodes[3]})
    with brownie.reverts(err("FederationNotActiveMember", federation, nodes[3])):
        registry.commitUpdate(federation, round_open, digest("u"), {"from": nodes[3]})


def test_commit_update_reverts_for_round_zero_before_any_round(registry, federation, nodes):
    with brownie.reverts(err("FederationRoundNotOpen", federation, 0)):
        registry.commitUpdate(federation, 0, digest("u"), {"from": nodes[0]})


def test_commit_update_reverts_for_wrong_round(registry, federation, nodes, round_open):
    with brownie.reverts(err("FederationRoundNotOpen", federation, 0)):
        registry.commitUpdate(federation, 0, digest("u"), {"from": nodes[3]})
    with brownie.reverts(err("FederationRoundNotOpen", federation, round_open + 1)):
        registry.commitUpdate(federation, round_open + 1, digest("u"), {"from": nodes[3]})


def test_commit_update_reverts_for_finalised_round(registry, federation, nodes, excluded_round):
    with brownie.reverts(err("FederationRoundNotOpen", federation, excluded_round.round)):
        registry.commitUpdate(federation, excluded_round.round, digest("u"), {"from": nodes[3]})


def test_commit_update_reverts_for_lapsed_round_after_next_opened(
    registry, federation, coordinator, nodes
):
    finalize_deadline = registry.openRound(federation, {"from": coordinator}).events["RoundOpened"][
        "finalizeDeadline"
    ]
    mine_to(finalize_deadline + 1)
    registry.openRound(federation, {"from": coordinator})
    with brownie.reverts(err("FederationRoundNotOpen", federation, 1)):
        registry.commitUpdate(federation, 1, digest("u"), {"from": nodes[0]})


def test_commit_update_accepted_at_commit_deadline_and_reverts_after(
    registry, federation, coordinator, nodes
):
    # Prepare
    commit_deadline = registry.openRound(federation, {"from": coordinator}).events["RoundOpened"][
        "commitDeadline"
    ]

    # Execute / Assert
    mine_to(commit_deadline)
    tx = registry.commitUpdate(federation, 1, digest("last"), {"from": nodes[0]})
    assert tx.block_number == commit_deadline
    mine_to(commit_deadline + 1)
    with brownie.reverts(err("FederationCommitWindowClosed", federation, 1, commit_deadline)):
        registry.commitUpdate(federation, 1, digest("late"), {"from": nodes[1]})
    assert registry.commitmentOf(federation, 1, nodes[1]) == ZERO_DIGEST


def test_commit_update_reverts_when_committed_twice(registry, federation, nodes, round_open):
    with brownie.reverts(err("FederationAlreadyCommitted", federation, round_open, nodes[0])):
        registry.commitUpdate(federation, round_open, digest("second"), {"from": nodes[0]})
    assert registry.commitmentOf(federation, round_open, nodes[0]) == update_digest(
        nodes[0], round_open
    )


def test_commit_update_reverts_when_paused(registry, federation, owner, coordinator, nodes):
    round_ = registry.openRound(federation, {"from": coordinator}).return_value
    registry.pause({"from": owner})
    with brownie.reverts(bare_err("EnforcedPause")):
        registry.commitUpdate(federation, round_, digest("u"), {"from": nodes[3]})
    registry.unpause({"from": owner})
    registry.commitUpdate(federation, round_, digest("u"), {"from": nodes[3]})
    assert registry.commitmentOf(federation, round_, nodes[3]) == digest("u")


# --------------------------------------------------------------------------- finalizeRound


def test_finalize_round_stores_round_and_reserves_reward(
    registry, federation, coordinator, nodes, round_open
):
    # Prepare
    opened = registry.getRound(federation, round_open).dict()
    contributors, weights = [nodes[0], nodes[2]], [700_000, 300_000]
    staked, pools, reserved, credits = registry.totals()

    # Execute
    tx = finalize(registry, federation, round_open, coordinator, contributors, weights)

    # Assert: event
    assert event_names(tx) == ["RoundFinalized"]
    event = tx.events["RoundFinalized"]
    assert event["federationId"] == federation
    assert event["round"] == round_open
    assert event["globalManifestCID"] == f"bafkreiglobal{round_open}"
    assert event["globalDigest"] == digest(f"global/{round_open}")
    assert event["acceptedRoot"] == digest(f"accepted/{round_open}")
    assert list(event["contributors"]) == [c.address for c in contributors]
    assert list(event["weights"]) == weights
    assert event["reward"] == REWARD
    # Assert: stored round
    assert registry.getRound(federation, round_open).dict() == {
        "commitDeadline": opened["commitDeadline"],
        "finalizeDeadline": opened["finalizeDeadline"],
        "finalizedAt": tx.block_number,
        "contributorCount": 2,
        "finalized": True,
        "reward": REWARD,
        "globalDigest": digest(f"global/{round_open}"),
        "acceptedRoot": digest(f"accepted/{round_open}"),
        "contributionsHash": contributions_hash(contributors, weights),
    }
    # Assert: federation and books
    state = fed_state(registry, federation)
    assert (state["currentRound"], state["lastFinalizedRound"]) == (round_open, round_open)
    assert state["rewardPool"] == POOL - REWARD
    assert tuple(registry.totals()) == (staked, pools - REWARD, reserved + REWARD, credits)
    assert_books_balanced(registry)
    # Assert: weights and participation views
    for node, expected in zip(nodes, [700_000, 0, 300_000, 0], strict=True):
        assert registry.contributionWeight(federation, round_open, node, contributors, weights) == (
            expected
        )
        assert tuple(registry.participationOf(federation, round_open, node)) == (
            False,
            False,
            False,
        )


def test_finalize_round_at_finalize_deadline(registry, federation, coordinator, nodes, round_open):
    deadline = registry.getRound(federation, round_open).dict()["finalizeDeadline"]
    mine_to(deadline)
    tx = finalize(registry, federation, round_open, coordinator, nodes[:1], [WEIGHT_TOTAL])
    assert tx.block_number == deadline
    assert registry.getRound(federation, round_open).dict()["finalized"] is True


def test_finalize_round_reverts_after_finalize_deadline(
    registry, federation, coordinator, nodes, round_open
):
    deadline = registry.getRound(federation, round_open).dict()["finalizeDeadline"]
    mine_to(deadline + 1)
    with brownie.reverts(err("FederationFinalizeWindowClosed", federation, round_open, deadline)):
        finalize(registry, federation, round_open, coordinator, nodes[:1], [WEIGHT_TOTAL])


def test_finalize_round_reverts_for_non_coordinator(registry, federation, nodes, round_open):
    with brownie.reverts(err("FederationNotCoordinator", federation, nodes[0])):
        finalize(registry, federation, round_open, nodes[0], nodes[:1], [WEIGHT_TOTAL])


def test_finalize_round_reverts_for_unknown_federation(registry, federation, coordinator, nodes):
    with brownie.reverts(err("FederationUnknown", 5)):
        finalize(registry, 5, 1, coordinator, nodes[:1], [WEIGHT_TOTAL])


def test_finalize_round_reverts_for_round_not_open(
    registry, federation, coordinator, nodes, round_open
):
    for round_ in (0, round_open + 1):
        with brownie.reverts(err("FederationRoundNotOpen", federation, round_)):
            finalize(registry, federation, round_, coordinator, nodes[:1], [WEIGHT_TOTAL])


def test_finalize_round_reverts_when_already_finalised(
    registry, federation, coordinator, nodes, excluded_round
):
    with brownie.reverts(err("FederationRoundNotOpen", federation, excluded_round.round)):
        finalize(registry, federation, excluded_round.round, coordinator, nodes[:1], [WEIGHT_TOTAL])


def test_finalize_round_reverts_for_lapsed_round_after_next_opened(
    registry, federation, coordinator, nodes, round_open
):
    mine_to(registry.getRound(federation, round_open).dict()["finalizeDeadline"] + 1)
    registry.openRound(federation, {"from": coordinator})
    with brownie.reverts(err("FederationRoundNotOpen", federation, round_open)):
        finalize(registry, federation, round_open, coordinator, nodes[:1], [WEIGHT_TOTAL])


def test_finalize_round_reverts_on_zero_global_digest(
    registry, federation, coordinator, nodes, round_open
):
    with brownie.reverts(bare_err("FederationZeroDigest")):
        finalize(
            registry,
            federation,
            round_open,
            coordinator,
            nodes[:1],
            [WEIGHT_TOTAL],
            global_digest=ZERO_DIGEST,
        )


def test_finalize_round_reverts_on_length_mismatch(
    registry, federation, coordinator, nodes, round_open
):
    with brownie.reverts(err("FederationLengthMismatch", 2, 1)):
        finalize(registry, federation, round_open, coordinator, nodes[:2], [WEIGHT_TOTAL])
    with brownie.reverts(err("FederationLengthMismatch", 1, 2)):
        finalize(registry, federation, round_open, coordinator, nodes[:1], [500_000, 500_000])


def test_finalize_round_reverts_without_contributors(registry, federation, coordinator, round_open):
    with brownie.reverts(err("FederationContributorCount", 0, MAX_PARTICIPANTS)):
        finalize(registry, federation, round_open, coordinator, [], [])


def test_finalize_round_reverts_with_more_contributors_than_max_participants(
    registry, federation, second_federation, coordinator, nodes
):
    # Prepare: maxParticipants 2, but three nodes commit (one leaves after committing and
    # another takes its seat).
    fed_id = second_federation(maxParticipants=2)
    for node in nodes[:2]:
        registry.join(fed_id, digest(f"{node.address}/k"), {"from": node, "value": MIN_STAKE})
    round_ = registry.openRound(fed_id, {"from": coordinator}).return_value
    for node in nodes[:2]:
        registry.commitUpdate(fed_id, round_, update_digest(node, round_), {"from": node})
    registry.requestLeave(fed_id, {"from": nodes[0]})
    registry.join(fed_id, digest("k2"), {"from": nodes[2], "value": MIN_STAKE})
    registry.commitUpdate(fed_id, round_, update_digest(nodes[2], round_), {"from": nodes[2]})

    # Execute / Assert
    with brownie.reverts(err("FederationContributorCount", 3, 2)):
        finalize(registry, fed_id, round_, coordinator, nodes[:3], [400_000, 300_000, 300_000])
    finalize(registry, fed_id, round_, coordinator, nodes[1:3], [500_000, 500_000])


def test_finalize_round_reverts_on_unsorted_contributors(
    registry, federation, coordinator, nodes, round_open
):
    with brownie.reverts(err("FederationContributorsNotSorted", 1)):
        finalize(registry, federation, round_open, coordinator, [nodes[1], nodes[0]], [500_000] * 2)
    with brownie.reverts(err("FederationContributorsNotSorted", 2)):
        finalize(
            registry,
            federation,
            round_open,
            coordinator,
            [nodes[0], nodes[2], nodes[1]],
            [400_000, 300_000, 300_000],
        )


def test_finalize_round_reverts_on_duplicate_contributor(
    registry, federation, coordinator, nodes, round_open
):
    with brownie.reverts(err("FederationContributorsNotSorted", 1)):
        finalize(registry, federation, round_open, coordinator, [nodes[0], nodes[0]], [500_000] * 2)


def test_finalize_round_reverts_on_zero_address_contributor(
    registry, federation, coordinator, round_open
):
    with brownie.reverts(err("FederationContributorsNotSorted", 0)):
        finalize(registry, federation, round_open, coordinator, [ZERO], [WEIGHT_TOTAL])


def test_finalize_round_reverts_when_contributor_did_not_commit(
    registry, federation, coordinator, nodes, round_open
):
    with brownie.reverts(err("FederationContributorDidNotCommit", nodes[3])):
        finalize(registry, federation, round_open, coordinator, [nodes[0], nodes[3]], [500_000] * 2)


def test_finalize_round_reverts_on_zero_weight(
    registry, federation, coordinator, nodes, round_open
):
    with brownie.reverts(err("FederationZeroWeight", nodes[1])):
        finalize(registry, federation, round_open, coordinator, nodes[:2], [WEIGHT_TOTAL, 0])


@pytest.mark.parametrize("weights", [[500_000, 499_999], [500_000, 500_001]])
def test_finalize_round_reverts_when_weights_do_not_sum_to_total(
    registry, federation, coordinator, nodes, round_open, weights
):
    with brownie.reverts(err("FederationWeightsSum", sum(weights), WEIGHT_TOTAL)):
        finalize(registry, federation, round_open, coordinator, nodes[:2], weights)


def test_finalize_round_reserves_at_most_the_pool(
    registry, federation, second_federation, coordinator, nodes
):
    # Prepare: pool 0.4 ETH, rewardPerRound 1 ETH
    fed_id = second_federation(pool=4 * ETH // 10)
    registry.join(fed_id, digest("k"), {"from": nodes[0], "value": MIN_STAKE})

    # Execute
    first = play_round(registry, fed_id, coordinator, nodes[:1], nodes[:1], [WEIGHT_TOTAL])
    second = play_round(registry, fed_id, coordinator, nodes[:1], nodes[:1], [WEIGHT_TOTAL])

    # Assert: round 1 took the whole pool, round 2 got nothing
    assert registry.getRound(fed_id, first.round).dict()["reward"] == 4 * ETH // 10
    assert registry.getRound(fed_id, second.round).dict()["reward"] == 0
    assert fed_state(registry, fed_id)["rewardPool"] == 0
    claim = registry.claimReward(fed_id, second.round, *second[1:], {"from": nodes[0]})
    assert claim.events["RewardClaimed"]["amount"] == 0
    claim = registry.claimReward(fed_id, first.round, *first[1:], {"from": nodes[0]})
    assert claim.events["RewardClaimed"]["amount"] == 4 * ETH // 10
    assert_books_balanced(registry)


def test_finalize_round_reverts_when_paused(
    registry, federation, owner, coordinator, nodes, round_open
):
    registry.pause({"from": owner})
    with brownie.reverts(bare_err("EnforcedPause")):
        finalize(registry, federation, round_open, coordinator, nodes[:1], [WEIGHT_TOTAL])
    registry.unpause({"from": owner})
    finalize(registry, federation, round_open, coordinator, nodes[:1], [WEIGHT_TOTAL])


# --------------------------------------------------------------------------- contributionWeight


def test_contribution_weight_reverts_for_round_not_finalised(
    registry, federation, nodes, round_open
):
    with brownie.reverts(err("FederationRoundNotFinalized", federation, round_open)):
        registry.contributionWeight(federation, round_open, nodes[0], nodes[:1], [WEIGHT_TOTAL])


def test_contribution_weight_reverts_on_lists_not_matching_round(
    registry, federation, nodes, excluded_round
):
    round_, contributors, _ = excluded_round
    with brownie.reverts(err("FederationContributionsMismatch", federation, round_)):
        registry.contributionWeight(federation, round_, nodes[0], contributors, [600_000, 400_000])


# --------------------------------------------------------------------------- claimReward


def test_claim_reward_credits_weighted_share(registry, federation, nodes, excluded_round):
    # Prepare
    round_, contributors, weights = excluded_round
    staked, pools, reserved, credits = registry.totals()

    # Execute
    first = registry.claimReward(federation, round_, contributors, weights, {"from": nodes[0]})
    second = registry.claimReward(federation, round_, contributors, weights, {"from": nodes[1]})

    # Assert: 700 000 and 300 000 parts per million of 1 ETH
    assert first.return_value == REWARD * 700_000 // WEIGHT_TOTAL == 7 * ETH // 10
    assert second.return_value == REWARD * 300_000 // WEIGHT_TOTAL == 3 * ETH // 10
    assert event_names(first) == ["RewardClaimed"]
    assert dict(first.events["RewardClaimed"]) == {
        "federationId": federation,
        "round": round_,
        "node": nodes[0].address,
        "amount": 7 * ETH // 10,
    }
    assert second.events["RewardClaimed"]["amount"] == 3 * ETH // 10
    assert registry.creditOf(nodes[0]) == 7 * ETH // 10
    assert registry.creditOf(nodes[1]) == 3 * ETH // 10
    assert tuple(registry.participationOf(federation, round_, nodes[0])) == (True, False, False)
    assert tuple(registry.totals()) == (staked, pools, reserved - REWARD, credits + REWARD)
    assert_books_balanced(registry)

    # Execute / Assert: the credit is withdrawn
    assert withdraw_all(registry, nodes[0]) == 7 * ETH // 10
    assert registry.creditOf(nodes[0]) == 0
    assert_books_balanced(registry)


def test_claim_reward_rounds_down_and_keeps_dust_reserved(
    registry, federation, second_federation, coordinator, nodes
):
    # Prepare: a 1001 wei reward split 700 001 / 299 999
    fed_id = second_federation(rewardPerRound=1001)
    for node in nodes[:2]:
        registry.join(fed_id, digest(f"{node.address}/k"), {"from": node, "value": MIN_STAKE})
    played = play_round(registry, fed_id, coordinator, nodes[:2], nodes[:2], [700_001, 299_999])
    reserved = registry.totals()[2]

    # Execute
    first = registry.claimReward(fed_id, played.round, *played[1:], {"from": nodes[0]})
    second = registry.claimReward(fed_id, played.round, *played[1:], {"from": nodes[1]})

    # Assert: floor(1001 * 0.700001) = 700, floor(1001 * 0.299999) = 300; 1 wei stays reserved
    assert first.return_value == 1001 * 700_001 // WEIGHT_TOTAL == 700
    assert second.return_value == 1001 * 299_999 // WEIGHT_TOTAL == 300
    assert registry.totals()[2] == reserved - 1000
    assert_books_balanced(registry)


def test_claim_reward_reverts_for_round_not_finalised(registry, federation, nodes, round_open):
    with brownie.reverts(err("FederationRoundNotFinalized", federation, round_open)):
        registry.claimReward(federation, round_open, nodes[:1], [WEIGHT_TOTAL], {"from": nodes[0]})
    with brownie.reverts(err("FederationRoundNotFinalized", federation, 9)):
        registry.claimReward(federation, 9, [], [], {"from": nodes[0]})


def test_claim_reward_reverts_for_non_contributor(registry, federation, nodes, excluded_round):
    round_, contributors, weights = excluded_round
    for node in (nodes[2], nodes[3]):
        with brownie.reverts(err("FederationNotContributor", federation, round_, node)):
            registry.claimReward(federation, round_, contributors, weights, {"from": node})


def test_claim_reward_reverts_on_lists_not_matching_round(
    registry, federation, nodes, excluded_round
):
    # Prepare: lists that would give nodes[2] a share, or nodes[1] a larger one
    round_, contributors, weights = excluded_round
    forged = [
        ([*contributors, nodes[2].address], [*weights, 0]),
        (contributors, [300_000, 700_000]),
        (contributors[:1], weights[:1]),
        ([], []),
    ]
    for fake_contributors, fake_weights in forged:
        with brownie.reverts(err("FederationContributionsMismatch", federation, round_)):
            registry.claimReward(
                federation, round_, fake_contributors, fake_weights, {"from": nodes[1]}
            )
    assert registry.creditOf(nodes[1]) == 0


def test_claim_reward_reverts_on_second_claim(registry, federation, nodes, excluded_round):
    round_, contributors, weights = excluded_round
    registry.claimReward(federation, round_, contributors, weights, {"from": nodes[0]})
    with brownie.reverts(err("FederationRewardAlreadyClaimed", federation, round_, nodes[0])):
        registry.claimReward(federation, round_, contributors, weights, {"from": nodes[0]})
    assert registry.creditOf(nodes[0]) == 7 * ETH // 10
    assert_books_balanced(registry)


# --------------------------------------------------------------------------- contestExclusion


def test_contest_exclusion_at_end_of_contest_window(registry, federation, nodes, excluded_round):
    # Prepare
    round_, contributors, weights = excluded_round
    deadline = contest_deadline(registry, federation, round_)
    mine_to(deadline)

    # Execute
    tx = registry.contestExclusion(
        federation, round_, "bafkreievidence", contributors, weights, {"from": nodes[2]}
    )

    # Assert
    assert tx.block_number == deadline
    assert event_names(tx) == ["ExclusionContested"]
    assert dict(tx.events["ExclusionContested"]) == {
        "federationId": federation,
        "round": round_,
        "node": nodes[2].address,
        "evidenceCID": "bafkreievidence",
    }
    assert tuple(registry.participationOf(federation, round_, nodes[2])) == (False, True, False)


def test_contest_exclusion_reverts_after_contest_window(
    registry, federation, nodes, excluded_round
):
    round_, contributors, weights = excluded_round
    deadline = contest_deadline(registry, federation, round_)
    mine_to(deadline + 1)
    with brownie.reverts(err("FederationContestWindow", federation, round_, deadline)):
        registry.contestExclusion(
            federation, round_, "bafkreievidence", contributors, weights, {"from": nodes[2]}
        )


def test_contest_exclusion_reverts_for_round_not_finalised(registry, federation, nodes, round_open):
    with brownie.reverts(err("FederationRoundNotFinalized", federation, round_open)):
        registry.contestExclusion(
            federation, round_open, "bafkreievidence", [], [], {"from": nodes[2]}
        )


def test_contest_exclusion_reverts_on_lists_not_matching_round(
    registry, federation, nodes, excluded_round
):
    round_, contributors, _ = excluded_round
    with brownie.reverts(err("FederationContributionsMismatch", federation, round_)):
        registry.contestExclusion(
            federation, round_, "e", contributors, [500_000, 500_000], {"from": nodes[2]}
        )


@pytest.mark.parametrize(
    ("index", "why"), [(3, "did not commit"), (0, "was included"), (1, "was included")]
)
def test_contest_exclusion_reverts_when_not_contestable(
    registry, federation, nodes, excluded_round, index, why
):
    round_, contributors, weights = excluded_round
    node = nodes[index]
    with brownie.reverts(err("FederationNotContestable", federation, round_, node)):
        registry.contestExclusion(federation, round_, "e", contributors, weights, {"from": node})


def test_contest_exclusion_reverts_when_already_contested(
    registry, federation, nodes, excluded_round
):
    round_, contributors, weights = excluded_round
    registry.contestExclusion(federation, round_, "e1", contributors, weights, {"from": nodes[2]})
    with brownie.reverts(err("FederationNotContestable", federation, round_, nodes[2])):
        registry.contestExclusion(
            federation, round_, "e2", contributors, weights, {"from": nodes[2]}
        )


# --------------------------------------------------------------------------- slashExcluded


def test_slash_excluded_reverts_at_contest_deadline_and_slashes_one_block_later(
    registry, federation, nodes, keeper, excluded_round
):
    # Prepare
    round_, contributors, weights = excluded_round
    deadline = contest_deadline(registry, federation, round_)
    staked, pools, reserved, credits = registry.totals()
    mine_to(deadline)

    # Execute / Assert: the node may still contest at the deadline
    with brownie.reverts(err("FederationContestWindow", federation, round_, deadline)):
        registry.slashExcluded(
            federation, round_, nodes[2], contributors, weights, {"from": keeper}
        )
    mine_to(deadline + 1)
    tx = registry.slashExcluded(
        federation, round_, nodes[2], contributors, weights, {"from": keeper}
    )

    # Assert: 10 % of the 1 ETH stake to the pool; 0.9 ETH < minStake ejects the node
    amount = MIN_STAKE * SLASH_BPS // BPS
    assert tx.block_number == deadline + 1
    assert tx.return_value == amount == ETH // 10
    assert event_names(tx) == ["NodeSlashed", "LeaveRequested"]
    assert dict(tx.events["NodeSlashed"]) == {
        "federationId": federation,
        "round": round_,
        "node": nodes[2].address,
        "amount": amount,
        "ejected": True,
    }
    assert dict(tx.events["LeaveRequested"]) == {
        "federationId": federation,
        "node": nodes[2].address,
        "unbondAt": tx.block_number + UNBONDING,
    }
    assert tuple(registry.getMember(federation, nodes[2])) == (
        MIN_STAKE - amount,
        0,
        round_,
        tx.block_number + UNBONDING,
        LEAVING,
        key_digest(2),
    )
    assert tuple(registry.participationOf(federation, round_, nodes[2])) == (False, False, True)
    assert fed_state(registry, federation)["memberCount"] == 3
    assert fed_state(registry, federation)["rewardPool"] == POOL - REWARD + amount
    assert tuple(registry.totals()) == (staked - amount, pools + amount, reserved, credits)
    assert_books_balanced(registry)


def test_slash_excluded_ejected_node_releases_remainder(
    registry, federation, coordinator, nodes, keeper, excluded_round
):
    # Prepare: nodes[2] slashed and ejected
    round_, contributors, weights = excluded_round
    mine_to(contest_deadline(registry, federation, round_) + 1)
    tx = registry.slashExcluded(
        federation, round_, nodes[2], contributors, weights, {"from": keeper}
    )
    unbond_at = tx.events["LeaveRequested"]["unbondAt"]

    # Assert: the ejected node can no longer commit, and releases the remainder after unbonding
    next_round = registry.openRound(federation, {"from": coordinator}).return_value
    with brownie.reverts(err("FederationNotActiveMember", federation, nodes[2])):
        registry.commitUpdate(federation, next_round, digest("u"), {"from": nodes[2]})
    mine_to(unbond_at)
    release = registry.releaseStake(federation, {"from": nodes[2]})
    assert release.events["StakeReleased"]["amount"] == MIN_STAKE - ETH // 10
    assert registry.creditOf(nodes[2]) == MIN_STAKE - ETH // 10
    assert withdraw_all(registry, nodes[2]) == MIN_STAKE - ETH // 10
    assert_books_balanced(registry)


def test_slash_excluded_keeps_node_above_min_stake(
    registry, federation, coordinator, nodes, outsider, keeper
):
    # Prepare: a 3 ETH node commits and is excluded
    registry.join(federation, digest("outsider/mldsa"), {"from": outsider, "value": 3 * ETH})
    played = play_round(
        registry, federation, coordinator, [nodes[0], outsider], nodes[:1], [WEIGHT_TOTAL]
    )
    mine_to(contest_deadline(registry, federation, played.round) + 1)
    staked, pools, _, _ = registry.totals()

    # Execute
    tx = registry.slashExcluded(federation, played.round, outsider, *played[1:], {"from": keeper})

    # Assert: 0.3 ETH slashed, 2.7 ETH left, still active
    amount = 3 * ETH * SLASH_BPS // BPS
    assert amount == 3 * ETH // 10
    assert event_names(tx) == ["NodeSlashed"]
    assert tx.events["NodeSlashed"]["amount"] == amount
    assert tx.events["NodeSlashed"]["ejected"] is False
    assert member(registry, federation, outsider)["stake"] == 3 * ETH - amount
    assert member(registry, federation, outsider)["status"] == ACTIVE
    assert fed_state(registry, federation)["memberCount"] == 5
    assert tuple(registry.totals())[:2] == (staked - amount, pools + amount)
    assert_books_balanced(registry)


@pytest.mark.parametrize(
    ("stake", "ejected"),
    [
        (2 * ETH, False),  # 50 % leaves exactly minStake
        (2 * ETH - 1, False),  # floor((2e18 - 1) / 2) slashed: exactly minStake left
        (2 * ETH - 2, True),  # one wei below minStake
    ],
)
def test_slash_excluded_ejects_only_below_min_stake(
    registry, federation, second_federation, coordinator, nodes, keeper, stake, ejected
):
    # Prepare
    fed_id = second_federation(slashBps=5_000)
    registry.join(fed_id, digest("k0"), {"from": nodes[0], "value": MIN_STAKE})
    registry.join(fed_id, digest("k1"), {"from": nodes[1], "value": stake})
    played = play_round(registry, fed_id, coordinator, nodes[:2], nodes[:1], [WEIGHT_TOTAL])
    mine_to(contest_deadline(registry, fed_id, played.round) + 1)

    # Execute
    tx = registry.slashExcluded(fed_id, played.round, nodes[1], *played[1:], {"from": keeper})

    # Assert
    amount = stake * 5_000 // BPS
    assert tx.events["NodeSlashed"]["amount"] == amount
    assert tx.events["NodeSlashed"]["ejected"] is ejected
    assert ("LeaveRequested" in tx.events) is ejected
    assert member(registry, fed_id, nodes[1])["stake"] == stake - amount
    assert member(registry, fed_id, nodes[1])["status"] == (LEAVING if ejected else ACTIVE)
    assert fed_state(registry, fed_id)["memberCount"] == (1 if ejected else 2)
    assert_books_balanced(registry)


def test_slash_excluded_rounds_amount_down(
    registry, federation, second_federation, coordinator, nodes, keeper
):
    # Prepare: slashBps 333 of a 3 ETH + 1 wei stake
    fed_id = second_federation(slashBps=333)
    registry.join(fed_id, digest("k0"), {"from": nodes[0], "value": MIN_STAKE})
    registry.join(fed_id, digest("k1"), {"from": nodes[1], "value": 3 * ETH + 1})
    played = play_round(registry, fed_id, coordinator, nodes[:2], nodes[:1], [WEIGHT_TOTAL])
    mine_to(contest_deadline(registry, fed_id, played.round) + 1)

    # Execute
    tx = registry.slashExcluded(fed_id, played.round, nodes[1], *played[1:], {"from": keeper})

    # Assert: floor((3e18 + 1) * 333 / 10000) = 0.0999 ETH
    assert tx.return_value == (3 * ETH + 1) * 333 // BPS == 99_900_000_000_000_000
    assert member(registry, fed_id, nodes[1])["stake"] == 3 * ETH + 1 - 99_900_000_000_000_000
    assert fed_state(registry, fed_id)["rewardPool"] == POOL - REWARD + 99_900_000_000_000_000
    assert_books_balanced(registry)


def test_slash_excluded_leaving_node_before_release(
    registry, federation, nodes, keeper, excluded_round
):
    # Prepare: the excluded node requests to leave right after the round
    round_, contributors, weights = excluded_round
    leave = registry.requestLeave(federation, {"from": nodes[2]})
    unbond_at = leave.events["LeaveRequested"]["unbondAt"]
    deadline = contest_deadline(registry, federation, round_)
    assert unbond_at > deadline + 1
    mine_to(deadline + 1)

    # Execute
    tx = registry.slashExcluded(
        federation, round_, nodes[2], contributors, weights, {"from": keeper}
    )

    # Assert: slashed, not "ejected" again: unbonding and memberCount unchanged
    assert event_names(tx) == ["NodeSlashed"]
    assert tx.events["NodeSlashed"]["amount"] == ETH // 10
    assert tx.events["NodeSlashed"]["ejected"] is False
    assert member(registry, federation, nodes[2])["unbondAt"] == unbond_at
    assert member(registry, federation, nodes[2])["status"] == LEAVING
    assert fed_state(registry, federation)["memberCount"] == 3
    mine_to(unbond_at)
    release = registry.releaseStake(federation, {"from": nodes[2]})
    assert release.events["StakeReleased"]["amount"] == MIN_STAKE - ETH // 10
    assert_books_balanced(registry)


def test_slash_excluded_reverts_for_round_not_finalised(
    registry, federation, nodes, keeper, round_open
):
    with brownie.reverts(err("FederationRoundNotFinalized", federation, round_open)):
        registry.slashExcluded(federation, round_open, nodes[2], [], [], {"from": keeper})


def test_slash_excluded_reverts_on_lists_not_matching_round(
    registry, federation, nodes, keeper, excluded_round
):
    # Lists leaving nodes[1] out would make its (included) update look excluded.
    round_, contributors, _ = excluded_round
    mine_to(contest_deadline(registry, federation, round_) + 1)
    with brownie.reverts(err("FederationContributionsMismatch", federation, round_)):
        registry.slashExcluded(
            federation, round_, nodes[1], contributors[:1], [WEIGHT_TOTAL], {"from": keeper}
        )


@pytest.mark.parametrize(
    ("index", "reason"), [(3, "no commitment"), (0, "included"), (1, "included")]
)
def test_slash_excluded_reverts_when_node_not_slashable(
    registry, federation, nodes, keeper, excluded_round, index, reason
):
    round_, contributors, weights = excluded_round
    mine_to(contest_deadline(registry, federation, round_) + 1)
    with brownie.reverts(err("FederationNotSlashable", federation, round_, nodes[index], reason)):
        registry.slashExcluded(
            federation, round_, nodes[index], contributors, weights, {"from": keeper}
        )
    assert_books_balanced(registry)


def test_slash_excluded_reverts_for_contested_exclusion(
    registry, federation, nodes, keeper, excluded_round
):
    round_, contributors, weights = excluded_round
    registry.contestExclusion(federation, round_, "e", contributors, weights, {"from": nodes[2]})
    mine_to(contest_deadline(registry, federation, round_) + 1)
    with brownie.reverts(err("FederationNotSlashable", federation, round_, nodes[2], "contested")):
        registry.slashExcluded(
            federation, round_, nodes[2], contributors, weights, {"from": keeper}
        )
    assert member(registry, federation, nodes[2])["stake"] == MIN_STAKE


def test_slash_excluded_reverts_when_already_slashed(
    registry, federation, nodes, keeper, excluded_round
):
    round_, contributors, weights = excluded_round
    mine_to(contest_deadline(registry, federation, round_) + 1)
    registry.slashExcluded(federation, round_, nodes[2], contributors, weights, {"from": keeper})
    with brownie.reverts(
        err("FederationNotSlashable", federation, round_, nodes[2], "already slashed")
    ):
        registry.slashExcluded(
            federation, round_, nodes[2], contributors, weights, {"from": keeper}
        )
    assert member(registry, federation, nodes[2])["stake"] == MIN_STAKE - ETH // 10


def test_slash_excluded_reverts_when_stake_released(
    registry, federation, nodes, keeper, excluded_round
):
    # Prepare: the excluded node leaves and releases its stake before anyone slashes it
    round_, contributors, weights = excluded_round
    leave_and_release(registry, federation, nodes[2])

    # Execute / Assert
    with brownie.reverts(err("FederationNotSlashable", federation, round_, nodes[2], "no stake")):
        registry.slashExcluded(
            federation, round_, nodes[2], contributors, weights, {"from": keeper}
        )
    assert registry.creditOf(nodes[2]) == MIN_STAKE
    assert_books_balanced(registry)


# --------------------------------------------------------------------------- mintModel


def test_mint_model_mints_last_finalised_round(
    registry, nft, federation, coordinator, nodes, accounts
):
    # Prepare: rounds 1 and 2 finalised, round 3 open and unfinalised
    play_round(registry, federation, coordinator, nodes, nodes, [250_000] * 4)
    play_round(registry, federation, coordinator, nodes[:2], nodes[:2], [500_000] * 2)
    registry.openRound(federation, {"from": coordinator})
    to = accounts[5]
    params = mint_params("fedmodel", federation_id=99, round_=7)  # both ignored

    # Execute
    tx = registry.mintModel(federation, to, params, {"from": coordinator})

    # Assert
    token = tx.return_value
    assert token == nft.totalMinted()
    assert nft.ownerOf(token) == to
    assert tuple(nft.federationOf(token)) == (federation, 2)
    provenance = nft.provenance(token).dict()
    assert provenance["minter"] == registry.address
    assert provenance["manifestCID"] == params[0]
    assert provenance["weightsDigest"] == params[1]
    assert provenance["signerKeyDigest"] == params[2]
    assert event_names(tx) == ["ModelMinted", "Transfer", "ModelMintedFromFederation"]
    assert dict(tx.events["ModelMintedFromFederation"]) == {
        "federationId": federation,
        "round": 2,
        "tokenId": token,
    }
    assert tx.events["ModelMinted"]["federationId"] == federation
    assert tx.events["ModelMinted"]["round"] == 2


def test_mint_model_reverts_for_non_coordinator(
    registry, federation, coordinator, nodes, accounts, excluded_round
):
    with brownie.reverts(err("FederationNotCoordinator", federation, nodes[0])):
        registry.mintModel(federation, accounts[5], mint_params("m"), {"from": nodes[0]})


def test_mint_model_reverts_for_unknown_federation(registry, federation, coordinator, accounts):
    with brownie.reverts(err("FederationUnknown", 4)):
        registry.mintModel(4, accounts[5], mint_params("m"), {"from": coordinator})


def test_mint_model_reverts_without_finalised_round(
    registry, federation, coordinator, accounts, round_open
):
    with brownie.reverts(err("FederationNoFinalizedRound", federation)):
        registry.mintModel(federation, accounts[5], mint_params("m"), {"from": coordinator})


def test_mint_model_reverts_when_paused(
    registry, nft, federation, owner, coordinator, accounts, excluded_round
):
    registry.pause({"from": owner})
    with brownie.reverts(bare_err("EnforcedPause")):
        registry.mintModel(federation, accounts[5], mint_params("m"), {"from": coordinator})
    assert nft.totalMinted() == 0
    registry.unpause({"from": owner})
    registry.mintModel(federation, accounts[5], mint_params("m"), {"from": coordinator})
    assert nft.totalMinted() == 1


# --------------------------------------------------------------------------- withdraw


def test_withdraw_partial_credit(registry, federation, nodes, excluded_round):
    # Prepare: nodes[0] has 0.7 ETH credited
    registry.claimReward(federation, *excluded_round, {"from": nodes[0]})
    staked, pools, reserved, credits = registry.totals()
    before = nodes[0].balance()

    # Execute
    tx = registry.withdraw(3 * ETH // 10, {"from": nodes[0]})

    # Assert
    assert event_names(tx) == ["Withdrawal"]
    assert dict(tx.events["Withdrawal"]) == {"account": nodes[0].address, "amount": 3 * ETH // 10}
    assert nodes[0].balance() == before + 3 * ETH // 10 - tx.gas_used * tx.gas_price
    assert registry.creditOf(nodes[0]) == 4 * ETH // 10
    assert tuple(registry.totals()) == (staked, pools, reserved, credits - 3 * ETH // 10)
    assert_books_balanced(registry)


def test_withdraw_reverts_on_zero_amount(registry, federation, nodes, outsider, excluded_round):
    registry.claimReward(federation, *excluded_round, {"from": nodes[0]})
    with brownie.reverts(err("FederationInsufficientCredit", nodes[0], 0, 7 * ETH // 10)):
        registry.withdraw(0, {"from": nodes[0]})
    with brownie.reverts(err("FederationInsufficientCredit", outsider, 0, 0)):
        registry.withdraw(0, {"from": outsider})


def test_withdraw_reverts_above_credit(registry, federation, nodes, outsider, excluded_round):
    registry.claimReward(federation, *excluded_round, {"from": nodes[0]})
    credit = 7 * ETH // 10
    with brownie.reverts(err("FederationInsufficientCredit", nodes[0], credit + 1, credit)):
        registry.withdraw(credit + 1, {"from": nodes[0]})
    with brownie.reverts(err("FederationInsufficientCredit", outsider, 1, 0)):
        registry.withdraw(1, {"from": outsider})
    assert registry.creditOf(nodes[0]) == credit
    assert_books_balanced(registry)


def test_withdraw_to_contract_refusing_eth_reverts_and_keeps_credit(
    registry, federation, credited_actor, driver
):
    # Prepare
    actor = credited_actor
    actor.configure(False, True, ZERO, b"", True, {"from": driver})
    balance = registry.balance()

    # Execute / Assert
    with brownie.reverts(err("FederationTransferFailed", actor, 2 * ETH)):
        act(actor, driver, registry, registry.withdraw.encode_input(2 * ETH))
    assert registry.creditOf(actor) == 2 * ETH
    assert registry.balance() == balance
    assert actor.balance() == 0
    assert_books_balanced(registry)

    # Once it accepts ETH again the credit is withdrawable.
    actor.configure(True, True, ZERO, b"", True, {"from": driver})
    act(actor, driver, registry, registry.withdraw.encode_input(2 * ETH))
    assert actor.balance() == 2 * ETH
    assert registry.creditOf(actor) == 0
    assert_books_balanced(registry)


def test_withdraw_reentered_from_receive_fails_and_loses_nothing(
    registry, federation, credited_actor, driver
):
    # Prepare: on receiving ETH the actor calls withdraw again (revert bubbled up)
    actor = credited_actor
    actor.configure(
        True, True, registry, registry.withdraw.encode_input(ETH), True, {"from": driver}
    )
    balance = registry.balance()

    # Execute / Assert: the re-entrant call fails, so the transfer and the outer call fail
    with brownie.reverts(err("FederationTransferFailed", actor, ETH)):
        act(actor, driver, registry, registry.withdraw.encode_input(ETH))
    assert registry.creditOf(actor) == 2 * ETH
    assert registry.balance() == balance
    assert actor.balance() == 0
    assert actor.reentryAttempts() == 0
    assert_books_balanced(registry)


def test_withdraw_reentered_with_revert_ignored_pays_only_once(
    registry, federation, credited_actor, driver
):
    # Prepare: the actor re-enters withdraw(1 ETH) on receipt and ignores the outcome; without
    # the guard it would be paid 2 ETH from a single 1 ETH withdrawal.
    actor = credited_actor
    actor.configure(
        True, True, registry, registry.withdraw.encode_input(ETH), False, {"from": driver}
    )
    balance = registry.balance()

    # Execute
    tx = act(actor, driver, registry, registry.withdraw.encode_input(ETH))

    # Assert
    assert actor.reentryAttempts() == 1
    assert actor.balance() == ETH
    assert registry.creditOf(actor) == ETH
    assert registry.balance() == balance - ETH
    assert event_names(tx) == ["Withdrawal"]
    assert dict(tx.events["Withdrawal"]) == {"account": actor.address, "amount": ETH}
    assert_books_balanced(registry)


# --------------------------------------------------------------------------- pause / unpause


def test_pause_and_unpause_by_owner(registry, federation, owner):
    tx = registry.pause({"from": owner})
    assert registry.paused() is True
    assert event_names(tx) == ["Paused"]
    assert tx.events["Paused"]["account"] == owner
    tx = registry.unpause({"from": owner})
    assert registry.paused() is False
    assert event_names(tx) == ["Unpaused"]
    assert tx.events["Unpaused"]["account"] == owner


def test_pause_and_unpause_revert_for_non_owner(registry, federation, owner, coordinator):
    with brownie.reverts(err("OwnableUnauthorizedAccount", coordinator)):
        registry.pause({"from": coordinator})
    registry.pause({"from": owner})
    with brownie.reverts(err("OwnableUnauthorizedAccount", coordinator)):
        registry.unpause({"from": coordinator})
    assert registry.paused() is True


def test_pause_twice_and_unpause_when_not_paused_revert(registry, federation, owner):
    with brownie.reverts(bare_err("ExpectedPause")):
        registry.unpause({"from": owner})
    registry.pause({"from": owner})
    with brownie.reverts(bare_err("EnforcedPause")):
        registry.pause({"from": owner})


def test_leaving_claims_contests_slashing_and_withdrawals_stay_open_while_paused(
    registry, federation, coordinator, owner, nodes, keeper
):
    # Prepare: nodes[0], nodes[1] contributed; nodes[2] and nodes[3] committed and were excluded
    played = play_round(registry, federation, coordinator, nodes, nodes[:2], [500_000] * 2)
    registry.pause({"from": owner})

    # Execute / Assert
    registry.claimReward(federation, *played, {"from": nodes[0]})
    assert withdraw_all(registry, nodes[0]) == REWARD // 2
    registry.contestExclusion(federation, played.round, "e", *played[1:], {"from": nodes[2]})
    mine_to(contest_deadline(registry, federation, played.round) + 1)
    slash = registry.slashExcluded(
        federation, played.round, nodes[3], *played[1:], {"from": keeper}
    )
    assert slash.events["NodeSlashed"]["ejected"] is True
    release = leave_and_release(registry, federation, nodes[1])
    assert release.events["StakeReleased"]["amount"] == MIN_STAKE
    assert registry.paused() is True
    assert_books_balanced(registry)


# --------------------------------------------------------------------------- views


@pytest.mark.parametrize("fed_id", [0, 2, 99])
def test_get_federation_and_get_config_revert_for_unknown_federation(registry, federation, fed_id):
    with brownie.reverts(err("FederationUnknown", fed_id)):
        registry.getFederation(fed_id)
    with brownie.reverts(err("FederationUnknown", fed_id)):
        registry.getConfig(fed_id)


def test_get_config_and_federation_of_fixture_federation(registry, federation, coordinator):
    assert tuple(registry.getConfig(federation)) == fed_config()
    assert tuple(registry.getFederation(federation)) == (coordinator, 4, 0, 0, POOL)
    assert registry.revenueShareBps(federation) == DEFAULTS["revenueShareBps"]
    assert tuple(registry.totals()) == (4 * MIN_STAKE, POOL, 0, 0)
    assert_books_balanced(registry)


def test_constants_and_model_nft(registry, nft, federation):
    assert registry.WEIGHT_TOTAL() == WEIGHT_TOTAL
    assert registry.MAX_PARTICIPANTS_CAP() == 64
    assert registry.BPS() == BPS
    assert registry.modelNFT() == nft.address
    assert nft.federationRegistry() == registry.address


# --------------------------------------------------------------------------- scenario


def test_three_rounds_with_changing_contributors_rewards_contest_and_slash(
    registry, nft, federation, coordinator, nodes, keeper, accounts
):
    n0, n1, n2, n3 = nodes

    # Round 1: all four commit; n3's update is left out and n3 does not contest.
    r1 = play_round(
        registry, federation, coordinator, nodes, [n0, n1, n2], [500_000, 300_000, 200_000]
    )
    # Round 2: n0..n2 commit; n2 is left out and contests.
    r2 = play_round(registry, federation, coordinator, [n0, n1, n2], [n0, n1], [600_000, 400_000])
    registry.contestExclusion(federation, r2.round, "bafkreidispute", *r2[1:], {"from": n2})
    # n3's contest window for round 1 has passed: a keeper slashes it and it is ejected.
    mine_to(max(contest_deadline(registry, federation, r1.round) + 1, chain.height + 1))
    slash = registry.slashExcluded(federation, r1.round, n3, *r1[1:], {"from": keeper})
    assert slash.events["NodeSlashed"]["amount"] == MIN_STAKE * SLASH_BPS // BPS
    assert slash.events["NodeSlashed"]["ejected"] is True
    # Round 3: n3 can no longer commit; n0..n2 all contribute.
    r3_round = registry.openRound(federation, {"from": coordinator}).return_value
    with brownie.reverts(err("FederationNotActiveMember", federation, n3)):
        registry.commitUpdate(federation, r3_round, digest("n3/3"), {"from": n3})
    for node in (n0, n1, n2):
        registry.commitUpdate(federation, r3_round, update_digest(node, r3_round), {"from": node})
    r3_weights = [200_000, 300_000, 500_000]
    finalize(registry, federation, r3_round, coordinator, [n0, n1, n2], r3_weights)
    r3 = Played(r3_round, [n0.address, n1.address, n2.address], r3_weights)
    # n2's contested exclusion in round 2 cannot be slashed.
    mine_to(max(contest_deadline(registry, federation, r2.round) + 1, chain.height + 1))
    with brownie.reverts(err("FederationNotSlashable", federation, r2.round, n2, "contested")):
        registry.slashExcluded(federation, r2.round, n2, *r2[1:], {"from": keeper})

    # Every contributor claims every round it contributed to.
    expected = dict.fromkeys(nodes, 0)
    for played in (r1, r2, r3):
        assert registry.getRound(federation, played.round).dict()["reward"] == REWARD
        for address, weight in zip(played.contributors, played.weights, strict=True):
            node = next(n for n in nodes if n.address == address)
            assert registry.contributionWeight(federation, played.round, node, *played[1:]) == (
                weight
            )
            claim = registry.claimReward(federation, *played, {"from": node})
            assert claim.events["RewardClaimed"]["amount"] == REWARD * weight // WEIGHT_TOTAL
            expected[node] += REWARD * weight // WEIGHT_TOTAL
    assert [expected[n] for n in nodes] == [13 * ETH // 10, ETH, 7 * ETH // 10, 0]
    # n3 releases what is left of its stake.
    mine_to(max(slash.events["LeaveRequested"]["unbondAt"], chain.height + 1))
    registry.releaseStake(federation, {"from": n3})
    expected[n3] += MIN_STAKE - MIN_STAKE * SLASH_BPS // BPS

    # Everyone withdraws everything.
    for node in nodes:
        assert withdraw_all(registry, node) == expected[node]
        assert registry.creditOf(node) == 0

    # Final books: three staked nodes, the pool paid three rewards and gained the slash.
    pool = POOL - 3 * REWARD + MIN_STAKE * SLASH_BPS // BPS
    assert tuple(registry.getFederation(federation)) == (coordinator, 3, 3, 3, pool)
    assert tuple(registry.totals()) == (3 * MIN_STAKE, pool, 0, 0)
    assert registry.balance() == 3 * MIN_STAKE + pool
    assert_books_balanced(registry)
    # The model minted now comes from round 3.
    tx = registry.mintModel(federation, accounts[5], mint_params("final"), {"from": coordinator})
    assert tuple(nft.federationOf(tx.return_value)) == (federation, 3)
