"""Node selection by optimisation in a real federation: QAOA beside the classical solver.

4 nodes (`fqai node start`, one of them sending tampered weights every round), 3 rounds,
``--selection qaoa:3``: each round the coordinator scores the connected nodes from what earlier
rounds showed, solves the selection exactly and with QAOA on Aer, trains the better answer and
records both in the signed round report. Checked: every report carries both answers with their
figures, the chosen nodes are the answer used, the classical answer recomputes from the recorded
inputs, the rejected node's reputation falls, and the CLI prints the comparison.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from fqai.chain import FederationConfig
from fqai.devnet.ipfs_node import IpfsNode
from fqai.federation.report import fetch_round_report
from fqai.ipfs.client import IpfsClient
from fqai.quantum.select import select_clients
from tests.python.federation_fixtures import (  # noqa: F401
    DeployedChain,
    cli_federation,
    deployed_chain,
    run_cli_federation,
)

ROUNDS = 3
FAULTY = 3


@dataclass
class SelectionRun:
    record: dict[str, Any]
    reports: list[dict[str, Any]]
    stdout: str
    work_dir: Path
    faulty_address: str


@pytest.fixture(scope="module")
def selection_run(
    deployed_chain: DeployedChain,  # noqa: F811
    ipfs_node: IpfsNode,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[SelectionRun]:
    base = tmp_path_factory.mktemp("selection")
    setup = cli_federation(
        deployed_chain,
        base,
        4,
        FederationConfig(model_spec_cid="bafkreifqaiselection", min_stake=10**17),
    )
    record, stdout = run_cli_federation(
        base, setup, ipfs_node.api_address,
        ["--rounds", str(ROUNDS), "--min-nodes", "4", "--quorum", "2",
         "--selection", "qaoa:3", "--qaoa-reps", "1", "--qaoa-shots", "500",
         "--qaoa-budget", "60"],
        # every round: in round 1 all scores tie, so the faulty node may not be selected
        faults={FAULTY: ",".join(["tamper-weights"] * ROUNDS)},
    )  # fmt: skip
    with IpfsClient(ipfs_node.api_address, timeout=20) as ipfs:
        reports = [fetch_round_report(ipfs, r["report_cid"]).body for r in record["rounds"]]
    yield SelectionRun(
        record, reports, stdout, base / "run", setup.nodes[FAULTY].public.eth_address
    )


def test_every_round_records_qaoa_beside_the_classical_answer(
    selection_run: SelectionRun,
) -> None:
    assert selection_run.record["error"] is None
    assert [r["round"] for r in selection_run.record["rounds"]] == [1, 2, 3]
    for rnd, report in zip(selection_run.record["rounds"], selection_run.reports, strict=True):
        sel = report["selection"]
        assert sel == rnd["selection"]  # the signed report says what the run record says
        assert sel["method"] == "qaoa:3" and len(sel["candidates"]) == 4
        assert len(sel["chosen"]) == 3
        opt = sel["optimiser"]
        assert opt["classical"]["solver"] == "exact"
        qaoa = opt["qaoa"]
        assert "error" not in qaoa, qaoa
        for key in ("objective", "approximation_ratio", "p_feasible", "p_optimum_over_uniform"):
            assert isinstance(qaoa[key], int | float), key
        assert qaoa["shots"] == 500 and qaoa["config"]["reps"] == 1
        assert qaoa["circuit"]["width"] == 4 and qaoa["circuit"]["two_qubit_gates"] > 0
        assert opt["used"] in ("classical", "qaoa")
        assert sel["chosen"] == sorted(opt[opt["used"]]["chosen"], key=int)
        # Only chosen nodes were asked to train: every contributor is a chosen node.
        chosen_nodes = set(sel["chosen"])
        for accepted in rnd["accepted"]:
            assert str(accepted["flower_node_id"]) in chosen_nodes
        # Anyone can recompute the classical answer from the recorded inputs.
        again = select_clients(
            [int(c) for c in opt["candidates"]], opt["scores"], opt["redundancy"], opt["k"],
            solver="exact", seed=opt["seed"], lam=opt["lambda"],
        )  # fmt: skip
        assert [str(c) for c in again.chosen] == opt["classical"]["chosen"]
    assert (selection_run.work_dir / "coordinator" / "selection-history.npz").exists()


def test_a_rejected_node_loses_reputation(selection_run: SelectionRun) -> None:
    rounds = selection_run.record["rounds"]
    faulty = selection_run.faulty_address.lower()
    rejected_in = [
        r["round"]
        for r in rounds
        if any((x["node"] or "").lower() == faulty for x in r["rejected"])
    ]
    assert rejected_in, "the tampering node was never chosen"
    flower_id = next(
        str(x["flower_node_id"])
        for r in rounds
        for x in r["rejected"]
        if (x["node"] or "").lower() == faulty
    )
    later = [r for r in rounds if r["round"] > rejected_in[0]]
    for rnd in later:
        parts = rnd["selection"]["optimiser"]["score_components"]
        assert parts[flower_id]["reputation"] < 1.0
        honest = [p for node, p in parts.items() if node != flower_id]
        assert all(p["reputation"] == 1.0 for p in honest)


def test_cli_prints_the_selection_comparison(selection_run: SelectionRun) -> None:
    out = " ".join(selection_run.stdout.split())  # undo the console's line wrapping
    for rnd in selection_run.record["rounds"]:
        opt = rnd["selection"]["optimiser"]
        assert f"round {rnd['round']}: qaoa:3 chose 3 of 4; exact f=" in out
        assert f"{opt['qaoa']['shots']} shots on aer" in out
    assert out.count("P(feasible)") == ROUNDS and out.count("-> used ") == ROUNDS
