"""A coordinator killed mid-round and started again, in a federation with DP-SGD at the nodes and
seeded random selection, all through real processes and the CLI.

4 nodes (`fqai node start`), 3 rounds, selection ``random:0.75`` (3 of 4 nodes train each
round), DP-SGD with an epsilon budget of 8 for the run. While round 2 is open and a node has
committed in it, the coordinator's ServerApp process is SIGKILLed (and its `fqai federation run`
stopped). A second `fqai federation run` must take the open round over, finish rounds 2 and 3
and mint: every round finalised exactly once, and the privacy spend in the minted model's
manifest.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from fqai.chain import FederationConfig, FederationRegistry
from fqai.devnet.ipfs_node import IpfsNode
from fqai.federation.dp import METRIC_KEYS
from fqai.federation.report import fetch_round_report
from fqai.federation.runtime import SuperLink, _descendants
from fqai.federation.selection import RandomFraction
from fqai.ipfs.client import IpfsClient
from fqai.keystore import NodeIdentity
from fqai.trust.fetch import fetch_verified_manifest
from tests.python.federation_fixtures import (  # noqa: F401
    FQAI,
    DeployedChain,
    cli_federation,
    deployed_chain,
    run_cli,
    start_cli_nodes,
    stop_process,
)

STAKE = 10**17
ROUNDS = 3
EPSILON = 8.0
ZERO = "0x" + "00" * 32


@dataclass
class ResumedRun:
    federation_id: int
    first: dict[str, Any]
    second: dict[str, Any]
    nodes: list[NodeIdentity]
    registry: FederationRegistry
    ipfs_api: str
    killed_pid: int


def _serverapp_pid(link: SuperLink) -> int | None:
    assert link.pid is not None
    for pid in _descendants(link.pid):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"flwr-serverapp" in cmdline:
            return pid
    return None


@pytest.fixture(scope="module")
def resumed_run(
    deployed_chain: DeployedChain,  # noqa: F811
    ipfs_node: IpfsNode,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ResumedRun]:
    base = tmp_path_factory.mktemp("resume")
    setup = cli_federation(
        deployed_chain,
        base,
        3,
        FederationConfig(model_spec_cid="bafkreifqairesume", min_stake=STAKE, commit_window=200),
    )
    fed, nodes, common = setup.federation_id, setup.nodes, setup.common
    registry = FederationRegistry(deployed_chain.client(None))

    def run_args(work: str) -> list[str]:
        return [
            "federation", "run", "--federation-id", str(fed), "--rounds", str(ROUNDS),
            "--min-nodes", "4", "--quorum", "2", "--local-epochs", "1",
            "--selection", "random:0.75", "--dp-epsilon", str(EPSILON),
            "--superlink", link.address, "--work-dir", str(base / work),
            "--round-timeout", "60", "--keystore", str(base / "keys" / "coordinator"),
            "--ipfs-api", ipfs_node.api_address, *common,
        ]  # fmt: skip

    with SuperLink(base / "superlink.log") as link:
        processes = start_cli_nodes(base, fed, link.address, ipfs_node.api_address, common)
        try:
            first = subprocess.Popen(
                [*FQAI, *run_args("run1")],
                stdout=(base / "run1.out").open("w"),
                stderr=subprocess.STDOUT,
                text=True,
                start_new_session=True,
            )
            killed = None
            try:
                deadline = time.monotonic() + 300
                while time.monotonic() < deadline and first.poll() is None:
                    state = registry.federation(fed)
                    if state.current_round == 2 and state.last_finalized_round == 1:
                        committed = [
                            registry.commitment(fed, 2, n.public.eth_address) for n in nodes
                        ]
                        killed = _serverapp_pid(link)
                        if any(c != ZERO for c in committed) and killed is not None:
                            os.kill(killed, signal.SIGKILL)
                            break
                    time.sleep(0.1)
            finally:
                stop_process(first)
            assert killed is not None, (base / "run1.out").read_text()
            assert registry.federation(fed).last_finalized_round == 1
            second = run_cli(*run_args("run2"), timeout=400)
            assert second.returncode == 0, second.stdout + second.stderr
        finally:
            for process in processes:
                stop_process(process)
    first_record = base / "run1" / "record.json"
    yield ResumedRun(
        federation_id=fed,
        first=json.loads(first_record.read_text()) if first_record.exists() else {},
        second=json.loads((base / "run2" / "record.json").read_text()),
        nodes=nodes,
        registry=registry,
        ipfs_api=ipfs_node.api_address,
        killed_pid=killed,
    )


def test_killed_coordinator_resumes_open_round_and_finalises_each_round_once(
    resumed_run: ResumedRun,
) -> None:
    run, registry = resumed_run, resumed_run.registry
    assert not Path(f"/proc/{run.killed_pid}").exists()
    events = registry.finalized_rounds(run.federation_id)
    assert [e.round for e in events] == [1, 2, 3]  # each once, in order
    second = run.second
    assert second["error"] is None
    assert second["resumed_from_round"] == 1
    assert [r["round"] for r in second["rounds"]] == [2, 3]
    assert second["rounds"][0]["resumed"] is True and second["rounds"][0]["open_tx"] is None
    assert all(r["finalized"] for r in second["rounds"])
    token = second["token_id"]
    assert token is not None
    assert registry.minted_models(run.federation_id) == {ROUNDS: token}
    assert registry.provenance(token).manifest_cid == second["final_model_cid"]


def test_selection_is_recorded_and_reproducible(resumed_run: ResumedRun) -> None:
    run = resumed_run
    selector = RandomFraction(0.75, seed=run.federation_id)
    events = run.registry.finalized_rounds(run.federation_id)
    with IpfsClient(run.ipfs_api, timeout=20) as ipfs:
        for event in events:
            report = fetch_round_report(ipfs, _report_cid(run, event.round)).body
            selection = report["selection"]
            assert selection["method"] == "random:0.75"
            assert selection["seed"] == run.federation_id
            candidates = [int(c) for c in selection["candidates"]]
            assert len(candidates) == 4 and len(selection["chosen"]) == 3
            again = selector.select(candidates, event.round)
            assert [str(c) for c in again.chosen] == selection["chosen"]
            # Only chosen nodes' updates can be in the round.
            chosen = set(selection["chosen"])
            assert {a["flower_node_id"] for a in report["accepted"]} <= chosen
            assert len(report["accepted"]) >= 2


def test_privacy_spend_is_checked_and_in_the_minted_manifest(resumed_run: ResumedRun) -> None:
    run = resumed_run
    events = run.registry.finalized_rounds(run.federation_id)
    spent: list[float] = []
    with IpfsClient(run.ipfs_api, timeout=20) as ipfs:
        for event in events:
            report = fetch_round_report(ipfs, _report_cid(run, event.round)).body
            assert report["privacy"]["epsilon"] > 0
            for accepted in report["accepted"]:
                update = fetch_verified_manifest(ipfs, accepted["manifest_cid"]).manifest
                assert set(METRIC_KEYS) <= set(update.metrics)
                assert update.metrics["dp_epsilon"] == pytest.approx(accepted["dp_epsilon"])
                spent.append(accepted["dp_epsilon"])
            model = fetch_verified_manifest(ipfs, event.global_manifest_cid).manifest
            # The model's epsilon is the largest spend of any node so far, never above budget.
            assert model.metrics["dp_epsilon"] == pytest.approx(max(spent))
            assert model.metrics["dp_epsilon"] <= EPSILON * 1.01
            assert model.metrics["dp_delta"] == 1e-5
        token = run.second["token_id"]
        minted = fetch_verified_manifest(ipfs, run.registry.provenance(token).manifest_cid)
        assert minted.manifest.metrics["dp_epsilon"] == pytest.approx(max(spent))


def _report_cid(run: ResumedRun, round_: int) -> str:
    for record in (run.first, run.second):
        for rnd in record.get("rounds", []):
            if rnd["round"] == round_ and rnd.get("report_cid") and rnd.get("finalized"):
                return rnd["report_cid"]
    raise AssertionError(f"no report for round {round_}")


def test_rounds_of_both_coordinators_recompute(
    resumed_run: ResumedRun,
    deployed_chain: DeployedChain,  # noqa: F811
) -> None:
    """Round 1 (first coordinator) and rounds 2-3 (the one that took over) all recompute."""
    token = resumed_run.second["token_id"]
    done = run_cli(
        "verify", str(token), "--recompute", "--json", *deployed_chain.cli_args,
        "--ipfs-api", resumed_run.ipfs_api, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    rounds = json.loads(done.stdout)["recompute"]["rounds"]
    assert [r["round"] for r in rounds] == [1, 2, 3]
