"""A federation trains the hybrid quantum classifier: real Anvil, IPFS, SuperLink and SuperNodes.

2 nodes (`fqai node start`), 2 rounds of `fqai federation run --model quantum --qubits 4` (the
circuit on Aer's EstimatorV2, exact parameter-shift gradients; no node-side evaluation, which
test_qml.py covers, as every Flower message costs a process start). Checked: the rounds finalise
on-chain and the model is minted; every manifest carries the circuit as OpenQASM 3 and it
re-parses to the declared qubits and parameters; `fqai verify --recompute` re-runs the
aggregation bit for bit; `fqai model eval` on the minted token reports the model exactly, with
shots and on a noisy fake IBM device. The SuperLink is the one `fqai federation run` starts with
a TLS certificate and SuperNode authentication: the nodes start first, wait for it, and get in
once the coordinator admits their staked keys.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from fqai.chain import FederationConfig, FederationRegistry
from fqai.devnet.ipfs_node import IpfsNode
from fqai.federation import task
from fqai.ipfs.client import IpfsClient
from fqai.qml.circuit import build_circuit
from fqai.qml.manifest import MODEL_NAME, read_quantum_params
from fqai.qml.spec import QuantumModelSpec
from fqai.trust.fetch import fetch_verified_manifest
from tests.python.federation_fixtures import (  # noqa: F401
    DeployedChain,
    cli_federation,
    deployed_chain,
    run_cli,
    run_cli_federation,
)

NODES = 2
ROUNDS = 2


@dataclass
class QuantumRun:
    federation_id: int
    record: dict[str, Any]
    stdout: str
    ipfs_api: str
    common: list[str]
    registry: FederationRegistry


@pytest.fixture(scope="module")
def quantum_run(
    deployed_chain: DeployedChain,  # noqa: F811
    ipfs_node: IpfsNode,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[QuantumRun]:
    base = tmp_path_factory.mktemp("quantum")
    setup = cli_federation(
        deployed_chain,
        base,
        7,
        FederationConfig(model_spec_cid="bafkreifqaiquantum", min_stake=10**17),
        nodes=NODES,
    )
    record, stdout = run_cli_federation(
        base, setup, ipfs_node.api_address,
        ["--model", "quantum", "--qubits", "4", "--rounds", str(ROUNDS),
         "--min-nodes", str(NODES), "--local-epochs", "2", "--lr", "0.1",
         "--fraction-evaluate", "0"],
        nodes=NODES, round_timeout=120, tls=True,
    )  # fmt: skip
    yield QuantumRun(
        setup.federation_id,
        record,
        stdout,
        ipfs_node.api_address,
        [*deployed_chain.cli_args, "--ipfs-api", ipfs_node.api_address],
        FederationRegistry(deployed_chain.client(None)),
    )


def test_quantum_rounds_finalise_and_the_model_is_minted(quantum_run: QuantumRun) -> None:
    record = quantum_run.record
    assert record["error"] is None
    events = quantum_run.registry.finalized_rounds(quantum_run.federation_id)
    assert [e.round for e in events] == list(range(1, ROUNDS + 1))
    for event, rnd in zip(events, record["rounds"], strict=True):
        assert event.global_manifest_cid == rnd["model_cid"]
        assert len(rnd["accepted"]) == NODES and not rnd["rejected"]
    assert record["rounds"][-1]["accuracy"] > 0.8
    # TLS and admission: both staked members' SuperNode keys registered before round 1, kept.
    first, second = (rnd["admission"] for rnd in record["rounds"])
    assert len(first["registered"]) == NODES and not first["refused"]
    assert len(second["kept"]) == NODES and not second["registered"]
    assert record["token_id"] is not None
    provenance = quantum_run.registry.provenance(record["token_id"])
    assert provenance.manifest_cid == record["final_model_cid"]


def test_every_manifest_carries_the_circuit(quantum_run: QuantumRun) -> None:
    expected = build_circuit(QuantumModelSpec(qubits=4, reps=2))
    with IpfsClient(quantum_run.ipfs_api, timeout=20) as ipfs:
        cids = [quantum_run.record["final_model_cid"]]
        cids += [a["manifest_cid"] for a in quantum_run.record["rounds"][0]["accepted"]]
        for cid in cids:
            manifest = fetch_verified_manifest(ipfs, cid).manifest
            assert manifest.model.name == MODEL_NAME
            params = manifest.model.params
            assert params is not None
            circuit = params["quantum"]["circuit"]
            assert circuit["qasm"] == expected.qasm and circuit["sha256"] == expected.qasm_sha256
            assert (circuit["qubits"], circuit["inputs"], circuit["weights"]) == (4, 4, 12)
            assert (circuit["depth"], circuit["two_qubit_gates"]) == (9, 6)
            assert params["quantum"]["training"] == {
                "backend": "aer", "shots": 0, "gradient": "parameter-shift",
            }  # fmt: skip
            described = read_quantum_params(params)
            assert described.circuit.num_qubits == 4
            assert task.model_from_params(manifest.model.name, params)[0] == "breast_cancer"
            shapes = {t.name: t.shape for t in manifest.weights.tensors}
            assert shapes == {"head.bias": (1,), "head.weight": (1, 4), "quantum.weights": (12,)}


def test_quantum_rounds_recompute_bit_for_bit(quantum_run: QuantumRun) -> None:
    token = quantum_run.record["token_id"]
    done = run_cli("verify", str(token), "--recompute", "--json", *quantum_run.common, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    summary = json.loads(done.stdout)["recompute"]
    assert summary["ok"] and [r["round"] for r in summary["rounds"]] == list(range(1, ROUNDS + 1))


def test_minted_quantum_model_evaluates_exactly_with_shots_and_on_a_fake_device(
    quantum_run: QuantumRun,
) -> None:
    token = quantum_run.record["token_id"]
    done = run_cli("model", "eval", str(token), "--shots", "2000", *quantum_run.common,
                   timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["family"] == "quantum" and result["dataset"] == "breast_cancer"
    modes = {b["mode"]: b for b in result["backends"]}
    assert list(modes) == ["exact", "shots", "device"]
    assert modes["exact"]["backend"] == "aer" and modes["exact"]["shots"] == 0
    assert modes["shots"]["shots"] == 2000 and modes["device"]["backend"] == "fake:manila"
    # Exact evaluation by the licensee = the coordinator's signed figure for the last round.
    assert result["accuracy"] == pytest.approx(quantum_run.record["rounds"][-1]["accuracy"])
    for mode in ("shots", "device"):
        assert abs(modes[mode]["accuracy"] - result["accuracy"]) < 0.15, modes
    assert modes["device"]["circuit"]["device_qubits"] == 5
    assert "fake:manila (2000 shots)" in done.stdout
