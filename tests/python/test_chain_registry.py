"""Integration: the typed chain client against a real Anvil with the Brownie-deployed contracts."""

from __future__ import annotations

import pytest
from eth_account import Account

from fqai.chain import (
    ChainRevertError,
    FederationConfig,
    FederationRegistry,
    KeySender,
    MemberStatus,
    MintParams,
)
from tests.python.federation_fixtures import DeployedChain, deployed_chain  # noqa: F401

STAKE = 10**17
DIGEST = "0x" + "ab" * 32


def config() -> FederationConfig:
    return FederationConfig(model_spec_cid="bafkreispec", min_stake=STAKE, reward_per_round=10**15)


def test_federation_lifecycle_and_decoded_errors(deployed_chain: DeployedChain) -> None:  # noqa: F811
    coordinator = FederationRegistry(deployed_chain.client(0))
    fed = coordinator.create_federation(config(), pool_wei=10**16)
    assert coordinator.federation(fed).coordinator == deployed_chain.dev_accounts[0]
    assert coordinator.config(fed).min_stake == STAKE

    # A node with a local private key, funded from a dev account, sends signed raw transactions.
    key = Account.create().key
    node_chain = deployed_chain.client(0).with_sender(KeySender(bytes(key)))
    deployed_chain.client(1).send_ether(node_chain.address, 10**18)
    node = FederationRegistry(node_chain)

    with pytest.raises(ChainRevertError) as low:
        node.join(fed, DIGEST, STAKE - 1)
    assert low.value.error_name == "FederationStakeTooLow"
    assert low.value.arguments == {"node": node_chain.address, "sent": STAKE - 1, "required": STAKE}
    assert f"FederationStakeTooLow(node={node_chain.address}, sent={STAKE - 1}" in str(low.value)

    node.join(fed, DIGEST, STAKE)
    member = coordinator.member(fed, node_chain.address)
    assert member.status is MemberStatus.ACTIVE
    assert member.key_digest == DIGEST
    with pytest.raises(ChainRevertError, match=r"FederationAlreadyMember\(federationId="):
        node.join(fed, DIGEST, STAKE)

    with pytest.raises(ChainRevertError) as not_coord:
        node.open_round(fed)
    assert not_coord.value.error_name == "FederationNotCoordinator"

    round_ = coordinator.open_round(fed)
    assert round_ == 1
    manifest = "0x" + "cd" * 32
    node.commit_update(fed, round_, manifest)
    assert coordinator.commitment(fed, round_, node_chain.address) == manifest

    with pytest.raises(ChainRevertError) as bad_sum:
        coordinator.finalize_round(
            fed, round_, "bafkreiglobal", DIGEST, DIGEST, [node_chain.address], [999_999]
        )
    assert bad_sum.value.error_name == "FederationWeightsSum"
    assert bad_sum.value.arguments == {"sum": 999_999, "required": 1_000_000}

    coordinator.finalize_round(
        fed, round_, "bafkreiglobal", DIGEST, DIGEST, [node_chain.address], [1_000_000]
    )
    (event,) = coordinator.finalized_rounds(fed)
    assert event.round == 1
    assert event.contributors == (node_chain.address,)
    assert event.weights == (1_000_000,)
    assert coordinator.round(fed, 1).finalized

    token = coordinator.mint_model(
        fed,
        deployed_chain.dev_accounts[0],
        MintParams(
            manifest_cid="bafkreiglobal",
            weights_digest=DIGEST,
            signer_key_digest=DIGEST,
            royalty_receiver=deployed_chain.dev_accounts[0],
        ),
    )
    provenance = coordinator.provenance(token)
    assert (provenance.federation_id, provenance.round) == (fed, 1)
    assert coordinator.owner_of(token) == deployed_chain.dev_accounts[0]


def test_read_only_client_refuses_to_send(deployed_chain: DeployedChain) -> None:  # noqa: F811
    from fqai.chain import ChainError

    reader = FederationRegistry(deployed_chain.client(None))
    with pytest.raises(ChainError, match="read-only"):
        reader.open_round(1)
    with pytest.raises(ChainRevertError, match=r"FederationUnknown\(federationId=999\)"):
        reader.federation(999)


def test_unfunded_account_gets_a_clear_error(deployed_chain: DeployedChain) -> None:  # noqa: F811
    from fqai.chain import InsufficientFundsError

    fed = FederationRegistry(deployed_chain.client(0)).create_federation(config())
    poor = deployed_chain.client(0).with_sender(KeySender(bytes(Account.create().key)))
    with pytest.raises(InsufficientFundsError) as exc:
        FederationRegistry(poor).join(fed, DIGEST, STAKE)
    assert exc.value.account == poor.address
    assert exc.value.balance == 0 and exc.value.required >= STAKE
    assert f"account {poor.address} has 0 wei" in str(exc.value)
    assert "FederationRegistry.join" in str(exc.value)
