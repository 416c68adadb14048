"""FederationRegistry: the digest of each member's Flower SuperNode public key.

Coordinators admit exactly the SuperNode keys of active members into their SuperLink, so the chain
must say which key belongs to whom, keep a key to one member, and forget it when the member goes.
"""

from __future__ import annotations

import brownie
import pytest
from brownie import chain
from conftest import digest, err, fed_config

ETH = 10**18
MIN_STAKE = ETH
ZERO_DIGEST = "0x" + "00" * 32


@pytest.fixture
def outsider(accounts):
    """An account that is not a member of any federation."""
    return accounts[14]


@pytest.fixture
def second_federation(registry, coordinator):
    """Factory: another federation (default config); returns its id."""
    return lambda: registry.createFederation(fed_config(), {"from": coordinator}).return_value


def _mine_to(block: int) -> None:
    gap = block - chain.height - 1
    if gap > 0:
        chain.mine(gap)


def _released(registry, fed_id, node):
    unbond_at = registry.requestLeave(fed_id, {"from": node}).events["LeaveRequested"]["unbondAt"]
    _mine_to(unbond_at)
    return registry.releaseStake(fed_id, {"from": node})


def test_join_with_supernode_key_records_both_digests(registry, federation, outsider):
    tx = registry.joinWithSuperNodeKey(
        federation,
        digest("out/mldsa"),
        digest("out/flower"),
        {"from": outsider, "value": MIN_STAKE},
    )

    assert [e.name for e in tx.events] == ["NodeJoined", "SuperNodeKeySet"]
    assert tx.events["NodeJoined"]["keyDigest"] == digest("out/mldsa")
    assert dict(tx.events["SuperNodeKeySet"]) == {
        "federationId": federation,
        "node": outsider.address,
        "superNodeKeyDigest": digest("out/flower"),
        "previousDigest": ZERO_DIGEST,
    }
    assert registry.superNodeKeyOf(federation, outsider) == digest("out/flower")
    assert registry.superNodeKeyHolder(federation, digest("out/flower")) == outsider
    assert registry.getMember(federation, outsider).dict()["keyDigest"] == digest("out/mldsa")


def test_join_with_supernode_key_refuses_zero_and_taken_digests(
    registry, federation, nodes, outsider
):
    registry.setSuperNodeKey(federation, digest("n0/flower"), {"from": nodes[0]})
    with brownie.reverts("FederationZeroDigest: "):
        registry.joinWithSuperNodeKey(
            federation, digest("o"), ZERO_DIGEST, {"from": outsider, "value": MIN_STAKE}
        )
    taken = bytes.fromhex(digest("n0/flower")[2:])  # Brownie renders bytes32 arguments as bytes
    with brownie.reverts(err("FederationSuperNodeKeyTaken", federation, taken, nodes[0])):
        registry.joinWithSuperNodeKey(
            federation, digest("o"), digest("n0/flower"), {"from": outsider, "value": MIN_STAKE}
        )
    # Nothing of the failed joins stuck: the outsider is not a member.
    assert registry.getMember(federation, outsider).dict()["status"] == 0


def test_rotating_a_key_frees_the_old_digest(registry, federation, nodes):
    registry.setSuperNodeKey(federation, digest("a"), {"from": nodes[0]})

    tx = registry.setSuperNodeKey(federation, digest("b"), {"from": nodes[0]})

    assert tx.events["SuperNodeKeySet"]["previousDigest"] == digest("a")
    assert registry.superNodeKeyOf(federation, nodes[0]) == digest("b")
    assert registry.superNodeKeyHolder(federation, digest("a")) == brownie.ZERO_ADDRESS
    registry.setSuperNodeKey(federation, digest("a"), {"from": nodes[1]})  # free for another member
    assert registry.superNodeKeyHolder(federation, digest("a")) == nodes[1]


def test_setting_the_same_key_again_is_allowed_and_logged(registry, federation, nodes):
    registry.setSuperNodeKey(federation, digest("a"), {"from": nodes[0]})
    tx = registry.setSuperNodeKey(federation, digest("a"), {"from": nodes[0]})
    assert tx.events["SuperNodeKeySet"]["previousDigest"] == digest("a")
    assert registry.superNodeKeyHolder(federation, digest("a")) == nodes[0]


def test_only_active_members_set_keys(registry, federation, nodes, outsider, owner):
    with brownie.reverts(err("FederationNotActiveMember", federation, outsider)):
        registry.setSuperNodeKey(federation, digest("x"), {"from": outsider})
    registry.requestLeave(federation, {"from": nodes[0]})
    with brownie.reverts(err("FederationNotActiveMember", federation, nodes[0])):
        registry.setSuperNodeKey(federation, digest("x"), {"from": nodes[0]})
    registry.pause({"from": owner})
    with brownie.reverts("EnforcedPause: "):
        registry.setSuperNodeKey(federation, digest("x"), {"from": nodes[1]})


def test_release_clears_the_key(registry, federation, nodes, outsider):
    registry.setSuperNodeKey(federation, digest("n0/flower"), {"from": nodes[0]})

    tx = _released(registry, federation, nodes[0])

    assert dict(tx.events["SuperNodeKeySet"]) == {
        "federationId": federation,
        "node": nodes[0].address,
        "superNodeKeyDigest": ZERO_DIGEST,
        "previousDigest": digest("n0/flower"),
    }
    assert registry.superNodeKeyOf(federation, nodes[0]) == ZERO_DIGEST
    assert registry.superNodeKeyHolder(federation, digest("n0/flower")) == brownie.ZERO_ADDRESS
    # The freed digest can be taken by a new member.
    registry.joinWithSuperNodeKey(
        federation, digest("o"), digest("n0/flower"), {"from": outsider, "value": MIN_STAKE}
    )
    assert registry.superNodeKeyHolder(federation, digest("n0/flower")) == outsider


def test_release_without_a_key_emits_no_key_event(registry, federation, nodes):
    tx = _released(registry, federation, nodes[0])
    assert "SuperNodeKeySet" not in [e.name for e in tx.events]


def test_keys_are_per_federation(registry, federation, second_federation, nodes):
    other = second_federation()
    registry.join(other, digest("n0/k"), {"from": nodes[0], "value": MIN_STAKE})
    registry.setSuperNodeKey(federation, digest("shared"), {"from": nodes[0]})
    registry.setSuperNodeKey(other, digest("shared"), {"from": nodes[0]})
    assert registry.superNodeKeyOf(other, nodes[0]) == digest("shared")
    assert registry.superNodeKeyOf(federation, nodes[1]) == ZERO_DIGEST
