"""Faults against real processes, driven through the CLI (`fqai node start`, `fqai federation
run`, `fqai node claim-rewards`), plus coordinator-level restarts and IPFS outages.

One CLI federation run (3 rounds, 4 nodes, quorum 2) serves the process tests: node 2 crashes
(SIGKILL of its SuperNode) in round 1; node 3 sends a tampered update in round 1 (weights bytes
differ from the signed sha256), a badly signed manifest in round 2 and commits a digest that is
not its manifest's in round 3. Every round must finalise with the two honest nodes only.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from fqai.chain import FederationConfig, FederationRegistry, KeySender
from fqai.devnet.ipfs_node import IpfsNode
from fqai.devnet.tools import free_port
from fqai.errors import IpfsUnavailableError
from fqai.federation import task
from fqai.federation.coordinator import Coordinator
from fqai.federation.errors import QuorumError
from fqai.federation.membership import create_federation, join_federation
from fqai.federation.node import model_spec
from fqai.ipfs.client import IpfsClient
from fqai.keystore import NodeIdentity
from fqai.trust.publish import publish_artifact
from fqai.weights import save_weights
from tests.python.conftest import make_identity
from tests.python.federation_fixtures import (  # noqa: F401
    DeployedChain,
    cli_federation,
    deployed_chain,
    run_cli,
    run_cli_federation,
)

STAKE = 10**17
REWARD = 10**16
CRASH, FAULTY = 2, 3
ROUNDS = 3


@dataclass
class CliRun:
    federation_id: int
    record: dict[str, Any]
    nodes: list[NodeIdentity]
    keys: Path
    passphrase: Path
    chain: DeployedChain


@pytest.fixture(scope="module")
def cli_run(
    deployed_chain: DeployedChain,  # noqa: F811
    ipfs_node: IpfsNode,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[CliRun]:
    base = tmp_path_factory.mktemp("faults")
    setup = cli_federation(
        deployed_chain,
        base,
        2,
        FederationConfig(
            model_spec_cid="bafkreifqaifaults", min_stake=STAKE, reward_per_round=REWARD
        ),
        pool_wei=ROUNDS * REWARD,
    )
    fed, nodes, passphrase = setup.federation_id, setup.nodes, setup.passphrase
    record, _ = run_cli_federation(
        base, setup, ipfs_node.api_address,
        ["--rounds", str(ROUNDS), "--min-nodes", "3", "--quorum", "2", "--local-epochs", "1"],
        faults={CRASH: "crash", FAULTY: "tamper-weights,bad-signature,wrong-commitment"},
    )  # fmt: skip
    yield CliRun(fed, record, nodes, base / "keys", passphrase, deployed_chain)


def test_rounds_survive_crash_and_faulty_updates(cli_run: CliRun) -> None:
    record = cli_run.record
    registry = FederationRegistry(cli_run.chain.client(None))
    honest = sorted((cli_run.nodes[i].public.eth_address for i in (0, 1)), key=lambda a: int(a, 16))
    faulty = cli_run.nodes[FAULTY].public.eth_address
    crashed = cli_run.nodes[CRASH].public.eth_address
    assert record["error"] is None and record["quorum"] == 2
    events = registry.finalized_rounds(cli_run.federation_id)
    assert [e.round for e in events] == [1, 2, 3]
    expected = ["weights", "manifest", "commitment-mismatch"]
    for event, rnd, reason in zip(events, record["rounds"], expected, strict=True):
        assert list(event.contributors) == honest
        assert event.accepted_root == rnd["accepted_root"]
        reasons = {r["reason"] for r in rnd["rejected"] if r["node"] == faulty}
        assert reasons == {reason}, rnd["rejected"]
    # The crashed node never committed; it is simply not a contributor.
    assert registry.commitment(cli_run.federation_id, 1, crashed) == "0x" + "00" * 32
    assert record["token_id"] is not None


def test_claim_rewardsrun_cli(cli_run: CliRun) -> None:
    common = [
        "--federation-id", str(cli_run.federation_id),
        "--rpc-url", cli_run.chain.rpc_url,
        "--deployments-dir", str(cli_run.chain.deployments_dir),
        "--passphrase-file", str(cli_run.passphrase),
    ]  # fmt: skip
    chain = cli_run.chain.client(None)
    node = cli_run.nodes[0].public.eth_address
    before = chain.balance(node)
    claimed = run_cli("node", "claim-rewards", "--keystore", str(cli_run.keys / "node0"), *common)
    assert claimed.returncode == 0, claimed.stdout + claimed.stderr
    info = json.loads(claimed.stdout.strip().splitlines()[-1])
    assert info["rounds"] == [1, 2, 3]
    assert 0 < info["claimed"] == info["withdrawn"] < ROUNDS * REWARD
    assert chain.balance(node) > before  # gas is far below the reward on Anvil
    again = run_cli("node", "claim-rewards", "--keystore", str(cli_run.keys / "node0"), *common)
    assert json.loads(again.stdout.strip().splitlines()[-1])["claimed"] == 0
    assert "already claimed" in again.stdout
    other = run_cli(
        "node", "claim-rewards", "--keystore", str(cli_run.keys / f"node{FAULTY}"), *common
    )
    assert json.loads(other.stdout.strip().splitlines()[-1])["claimed"] == 0
    assert "not a contributor" in other.stdout


# -- coordinator restarts and IPFS outages (real chain and IPFS, no Flower) --------------------


def _update(
    ipfs: IpfsClient, identity: NodeIdentity, fed: int, round_: int, path: Path
) -> tuple[str, str]:
    save_weights(task.get_weights(task.build_model("breast_cancer", seed=round_)), path)
    published = publish_artifact(
        ipfs, identity, path, kind="update", federation_id=fed, round=round_,
        model=model_spec("breast_cancer"), metrics={"samples": 40, "loss": 0.5},
    )  # fmt: skip
    return published.manifest_cid, published.manifest_digest


def test_restarted_coordinator_resumes_and_never_finalises_twice(
    deployed_chain: DeployedChain,  # noqa: F811
    ipfs_node: IpfsNode,
    tmp_path: Path,
) -> None:
    coord = make_identity(tmp_path / "coord")
    node = make_identity(tmp_path / "node")
    funder = deployed_chain.client(3)
    for identity in (coord, node):
        funder.send_ether(identity.public.eth_address, 10**18)
    chain = funder.with_sender(KeySender(coord.eth_private_key))
    fed = create_federation(chain, FederationConfig(model_spec_cid="bafkreir", min_stake=STAKE))
    join_federation(funder, node, fed)
    node_registry = FederationRegistry(funder.with_sender(KeySender(node.eth_private_key)))

    def coordinator(ipfs: IpfsClient) -> Coordinator:
        return Coordinator(chain, ipfs, coord, fed, "breast_cancer", work_dir=tmp_path / "w")

    with IpfsClient(ipfs_node.api_address, timeout=10) as ipfs:
        first = coordinator(ipfs)
        assert first.resume() == 0
        assert first.open_round(1) == 1
        cid, digest = _update(ipfs, node, fed, 1, tmp_path / "u1.safetensors")
        node_registry.commit_update(fed, 1, digest)
        # The first coordinator dies here. A new one takes the open round over.
        second = coordinator(ipfs)
        assert second.resume() == 0 and second.resumed_round == 1
        assert second.open_round(1) == 1
        assert FederationRegistry(chain).federation(fed).current_round == 1  # nothing opened
        _, weights = second.verify_update(cid)
        second.finalize(weights)
        model_cid = second.current.model_cid if second.current else None
        # A third coordinator sees round 1 finalised, continues from its model, mints once.
        third = coordinator(ipfs)
        assert third.resume() == 1 and third.resumed_round is None
        assert third.last_model_cid == model_cid
        third.adopt_last_model()
        token = third.mint()
        assert coordinator(ipfs).resume() == 1
        fourth = coordinator(ipfs)
        fourth.resume()
        fourth.adopt_last_model()
        assert fourth.mint() == token  # not minted twice
        assert len(FederationRegistry(chain).finalized_rounds(fed)) == 1

    # IPFS down: the update is not blamed on the node, and no round is half-finalised.
    dead = f"/ip4/127.0.0.1/tcp/{free_port('127.0.0.1')}/http"
    with IpfsClient(dead, timeout=2, retries=1, backoff=0.1) as down:
        fifth = coordinator(down)
        fifth.resume()
        assert fifth.open_round(2) == 2
        with pytest.raises(IpfsUnavailableError):
            fifth.verify_update(cid)
        assert fifth.current is not None and fifth.current.rejected == []
        with pytest.raises(QuorumError, match="quorum is 1"):
            fifth.finalize(weights)
        fifth.current.accepted.append(second.record.rounds[0].accepted[0])
        with pytest.raises(IpfsUnavailableError):
            fifth.finalize(weights)  # the round model cannot be pinned
    assert not FederationRegistry(chain).round(fed, 2).finalized
    assert FederationRegistry(chain).finalized_rounds(fed)[-1].round == 1
