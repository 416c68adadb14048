"""End to end: Anvil + js-ipfs + SuperLink + 4 SuperNodes, 5 rounds of breast_cancer MLP.

One federation run serves both tests: three honest nodes, and one node whose on-chain key
registration differs from the key that signs its updates (it must be rejected and recorded).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from fqai.chain import FederationConfig, FederationRegistry, MemberStatus
from fqai.devnet.ipfs_node import IpfsNode
from fqai.federation.membership import create_federation, join_federation
from fqai.federation.report import fetch_round_report
from fqai.federation.runtime import SuperLink, SuperNode, submit_run, write_app, write_flwr_home
from fqai.ipfs.client import IpfsClient
from fqai.keystore import NodeIdentity
from fqai.trust import verify_artifact
from fqai.trust.fetch import fetch_verified_manifest
from tests.python.conftest import PASSPHRASE, make_identity
from tests.python.federation_fixtures import (  # noqa: F401
    DeployedChain,
    deployed_chain,
    run_cli,
)

NUM_NODES = 4
BAD_NODE = 3
ROUNDS = 5
STAKE = 10**17


@dataclass
class FederationRun:
    federation_id: int
    record: dict[str, Any]
    nodes: list[NodeIdentity]
    coordinator: NodeIdentity
    registry: FederationRegistry
    ipfs_api: str


@pytest.fixture(scope="module")
def federation_run(
    deployed_chain: DeployedChain,  # noqa: F811
    ipfs_node: IpfsNode,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[FederationRun]:
    base = tmp_path_factory.mktemp("federation")
    passphrase_file = base / "passphrase"
    passphrase_file.write_text(PASSPHRASE)
    coordinator = make_identity(base / "keys" / "coordinator")
    nodes = [make_identity(base / "keys" / f"node{i}") for i in range(NUM_NODES)]
    impostor_key = make_identity(base / "keys" / "registered-elsewhere")

    funder = deployed_chain.client(1)
    for identity in [coordinator, *nodes]:
        funder.send_ether(identity.public.eth_address, 10**18)
    from fqai.chain import KeySender

    coord_chain = funder.with_sender(KeySender(coordinator.eth_private_key))
    fed = create_federation(
        coord_chain, FederationConfig(model_spec_cid="bafkreifqaicancermlp", min_stake=STAKE)
    )
    for i, identity in enumerate(nodes):
        digest = impostor_key.public.mldsa_key_digest if i == BAD_NODE else None
        join_federation(funder, identity, fed, key_digest=digest)

    record_path = base / "run" / "record.json"
    with SuperLink(base / "logs" / "superlink.log") as link:
        supernodes = []
        try:
            for i in range(NUM_NODES):
                node = SuperNode(
                    base / "logs" / f"supernode{i}.log",
                    link.address,
                    {
                        "partition-id": i,
                        "num-partitions": NUM_NODES,
                        "fqai-keystore": str(base / "keys" / f"node{i}"),
                        "fqai-passphrase-file": str(passphrase_file),
                        "fqai-rpc-url": deployed_chain.rpc_url,
                        "fqai-ipfs-api": ipfs_node.api_address,
                        "fqai-deployments-dir": str(deployed_chain.deployments_dir),
                        "fqai-work-dir": str(base / f"node{i}"),
                    },
                )
                node.start()
                supernodes.append(node)
            app_dir = write_app(
                base / "app",
                {
                    "federation-id": fed,
                    "dataset": "breast_cancer",
                    "num-rounds": ROUNDS,
                    "strategy": "fedavg",
                    "min-nodes": NUM_NODES,
                    "fraction-evaluate": 1.0,
                    "local-epochs": 2,
                    "lr": 0.05,
                    "round-timeout": 180,
                    "rpc-url": deployed_chain.rpc_url,
                    "deployments-dir": str(deployed_chain.deployments_dir),
                    "ipfs-api": ipfs_node.api_address,
                    "coordinator-keystore": str(base / "keys" / "coordinator"),
                    "coordinator-passphrase-file": str(passphrase_file),
                    "record-path": str(record_path),
                },
            )
            home = write_flwr_home(base / "flwr-home", link.address)
            submit_run(app_dir, home, base / "logs" / "flwr-run.log", timeout=900)
        finally:
            for node in supernodes:
                node.stop()
    assert record_path.exists(), "the ServerApp wrote no run record"
    record = json.loads(record_path.read_text())
    yield FederationRun(
        federation_id=fed,
        record=record,
        nodes=nodes,
        coordinator=coordinator,
        registry=FederationRegistry(deployed_chain.client(None)),
        ipfs_api=ipfs_node.api_address,
    )


def test_rounds_finalised_on_chain_and_model_minted(federation_run: FederationRun) -> None:
    run = federation_run
    record = run.record
    assert record["error"] is None
    honest = sorted(
        (n.public.eth_address for i, n in enumerate(run.nodes) if i != BAD_NODE),
        key=lambda a: int(a, 16),
    )
    events = run.registry.finalized_rounds(run.federation_id)
    assert [e.round for e in events] == list(range(1, ROUNDS + 1))
    for event, rnd in zip(events, record["rounds"], strict=True):
        assert list(event.contributors) == honest
        assert sum(event.weights) == 1_000_000 and all(w > 0 for w in event.weights)
        assert event.global_manifest_cid == rnd["model_cid"]
        assert run.registry.round(run.federation_id, event.round).finalized
        assert 0.5 < rnd["accuracy"] <= 1.0  # centralised, signed into the round model
        assert rnd["client_accuracy"] is not None  # federated evaluation on the nodes
        assert len(rnd["accepted"]) == NUM_NODES - 1
    assert record["rounds"][-1]["accuracy"] > 0.85
    # Every accepted update (and the round model over them) verifies, weights included.
    with IpfsClient(run.ipfs_api, timeout=20) as ipfs:
        for event, rnd in zip(events, record["rounds"], strict=True):
            # The signed round report pinned before finalizeRound matches the chain.
            report = fetch_round_report(ipfs, rnd["report_cid"]).body
            assert report["merkle"]["root"] == event.accepted_root == rnd["accepted_root"]
            assert report["merkle"]["leaves"] == sorted(
                a["manifest_digest"] for a in rnd["accepted"]
            )
            assert report["contributions"] == {
                "contributors": list(event.contributors),
                "weights": list(event.weights),
            }
            assert report["selection"]["method"] == "all"
            assert len(report["selection"]["chosen"]) == NUM_NODES
            assert report["privacy"] is None
            assert report["aggregation"]["strategy"] == "fedavg"
            assert report["aggregation"]["params"]["min_train_nodes"] == NUM_NODES
            assert report["aggregation"]["order"] == "accepted updates by ascending node address"
            assert [a["node"] for a in report["accepted"]] == list(event.contributors)
            model = fetch_verified_manifest(ipfs, event.global_manifest_cid).manifest
            assert model.round_report == rnd["report_cid"]  # the chain leads to the report
            assert report["model"]["weights_sha256"] == model.weights.sha256
            assert [r["reason"] for r in report["rejected"]] == ["key-mismatch"]
            assert report["metrics"]["accuracy"] == rnd["accuracy"]
            assert report["coordinator"] == run.coordinator.public.eth_address
        for rnd in record["rounds"]:
            report = verify_artifact(ipfs, rnd["model_cid"])
            assert report.ok, report.first_failure
            parents = {child.cid for child in report.parents}
            assert parents == {a["manifest_cid"] for a in rnd["accepted"]}
    token = record["token_id"]
    assert token is not None
    provenance = run.registry.provenance(token)
    assert (provenance.federation_id, provenance.round) == (run.federation_id, ROUNDS)
    assert provenance.manifest_cid == record["final_model_cid"]
    assert provenance.signer_key_digest == run.coordinator.public.mldsa_key_digest
    assert run.registry.owner_of(token) == run.coordinator.public.eth_address


def test_node_with_unregistered_signing_key_is_rejected(federation_run: FederationRun) -> None:
    run = federation_run
    bad = run.nodes[BAD_NODE].public.eth_address
    member = run.registry.member(run.federation_id, bad)
    assert member.status is MemberStatus.ACTIVE
    assert member.key_digest != run.nodes[BAD_NODE].public.mldsa_key_digest
    for rnd in run.record["rounds"]:
        (rejection,) = rnd["rejected"]
        assert rejection["reason"] == "key-mismatch"
        assert rejection["node"] == bad
        assert run.nodes[BAD_NODE].public.mldsa_key_digest in rejection["detail"]
        # It did commit on-chain, but is not among the finalised contributors.
        assert run.registry.commitment(run.federation_id, rnd["round"], bad) != "0x" + "00" * 32
        assert bad not in rnd["contributors"]


def test_every_round_recomputes_in_a_fresh_verifier_process(
    federation_run: FederationRun,
    deployed_chain: DeployedChain,  # noqa: F811
) -> None:
    """`fqai verify <token> --recompute`: a new process with nothing but the chain and IPFS
    re-runs all five rounds' aggregation and gets the finalised digests bit for bit."""
    token = federation_run.record["token_id"]
    common = [*deployed_chain.cli_args, "--ipfs-api", federation_run.ipfs_api]
    done = run_cli("verify", str(token), "--recompute", "--json", *common, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    summary = json.loads(done.stdout)["recompute"]
    assert summary["ok"] and summary["federation_id"] == federation_run.federation_id
    rounds = summary["rounds"]
    assert [r["round"] for r in rounds] == list(range(1, ROUNDS + 1))
    for r, rnd in zip(rounds, federation_run.record["rounds"], strict=True):
        assert r["model_cid"] == rnd["model_cid"] and r["report_cid"] == rnd["report_cid"]
        assert r["updates"] == NUM_NODES - 1 and r["strategy"] == "fedavg"
    one = run_cli("verify", str(token), "--recompute", "--round", "2", "--json", *common)
    assert one.returncode == 0, one.stdout + one.stderr
    assert [r["round"] for r in json.loads(one.stdout)["recompute"]["rounds"]] == [2]


def _replicate_pins(source_api: str, target_api: str) -> int:
    """Copy every recursive pin of one IPFS node into another as CAR files; return the count.

    js-ipfs here runs offline (its libp2p transports refuse to listen), so a second node cannot
    fetch over bitswap; replicating the pins is what a pinning service holding the federation's
    published content would give a second machine.
    """
    import io

    import ipfshttpclient

    source = ipfshttpclient.Client(source_api, timeout=60)
    target = ipfshttpclient.Client(target_api, timeout=60)
    try:
        roots = list(source.pin.ls(type="recursive")["Keys"])
        for root in roots:
            target.dag.imprt(io.BytesIO(source.dag.export(root)))
        return len(roots)
    finally:
        source.close()
        target.close()


def test_recompute_on_a_second_machines_fresh_state(
    federation_run: FederationRun,
    deployed_chain: DeployedChain,  # noqa: F811
    tmp_path: Path,
) -> None:
    """A fresh IPFS node (new repository, only the published pins) and a fresh process: every
    round still recomputes, so nothing the coordinator kept locally is needed."""
    with IpfsNode(tmp_path / "second-machine", log_path=tmp_path / "ipfs.log") as fresh:
        assert _replicate_pins(federation_run.ipfs_api, fresh.api_address) > 0
        done = run_cli(
            "verify", str(federation_run.record["token_id"]), "--recompute", "--json",
            *deployed_chain.cli_args, "--ipfs-api", fresh.api_address, timeout=300,
        )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    rounds = json.loads(done.stdout)["recompute"]["rounds"]
    assert [r["round"] for r in rounds] == list(range(1, ROUNDS + 1))
