"""The hybrid quantum classifier (fqai.qml): spec, circuit, simulators, parameter-shift
gradients, manifests and evaluation, without a chain (the federation run is in
test_federation_quantum.py)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from qiskit.quantum_info import Statevector

from fqai.delivery.licensee import evaluate_weights
from fqai.errors import FqaiError, ManifestError
from fqai.federation import task
from fqai.ipfs.cid import cid_for_raw_block
from fqai.jcs import canonicalize
from fqai.keystore import NodeIdentity
from fqai.manifest import ModelSpec, parse_envelope, sign_manifest
from fqai.manifest.schema import load_schema
from fqai.qml import (
    CircuitMismatchError,
    ExecutionSettings,
    QuantumBackendError,
    QuantumModelError,
    QuantumModelSpec,
    parse_quantum_model,
)
from fqai.qml.circuit import ClassifierCircuit, build_circuit, circuit_from_qasm
from fqai.qml.executors import make_executor
from fqai.qml.features import AngleFeatures, pca_angles
from fqai.qml.gradients import parameter_shift_jacobian
from fqai.qml.manifest import MODEL_NAME, read_quantum_params
from fqai.qml.model import HybridClassifier
from fqai.weights import describe_file, save_weights

from .conftest import build_manifest
from .schema_subset import SchemaViolationError, validate

EXACT = ExecutionSettings("statevector")
QUANTUM_4 = "quantum:qubits=4,backend=statevector"


def rows(circuit: ClassifierCircuit, count: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.uniform(-np.pi, np.pi, (count, len(circuit.parameters)))


def independent_expectations(circuit: ClassifierCircuit, values: np.ndarray) -> np.ndarray:
    """⟨Z_i⟩ from qiskit.quantum_info.Statevector of each bound circuit, one at a time."""
    out = []
    for row in values:
        bound = circuit.circuit.assign_parameters(dict(zip(circuit.parameters, row, strict=True)))
        state = Statevector(bound)
        out.append([state.expectation_value(op).real for op in circuit.observables])
    return np.array(out)


# ----------------------------------------------------------------------------------- spec


def test_spec_by_name_and_canonical_text() -> None:
    choice = parse_quantum_model("quantum:qubits=6, reps=3,entanglement=circular")
    assert choice.spec == QuantumModelSpec(qubits=6, reps=3, entanglement="circular")
    assert choice.execution == ExecutionSettings("aer", 0)
    assert parse_quantum_model(choice.text()) == choice
    assert parse_quantum_model("quantum").spec == QuantumModelSpec()
    assert task.normalise_model("classical") == task.normalise_model("") == ""
    assert task.normalise_model("quantum") == (
        "quantum:qubits=4,reps=2,entanglement=linear,encoding=angle,ansatz=real_amplitudes,"
        "backend=aer,shots=0"
    )
    from fqai.cli.federation import task_model_setting

    assert "qubits=6," in task_model_setting("quantum", 6)
    assert "qubits=3," in task_model_setting("quantum:qubits=8,reps=1", 3)
    with pytest.raises(task.TaskError, match="--qubits needs --model quantum"):
        task_model_setting("classical", 4)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("quantum:qubits=0", "qubits must be an integer in"),
        ("quantum:qubits=17", "qubits must be an integer in"),
        ("quantum:qubits=four", "qubits must be an integer"),
        ("quantum:reps=0", "reps must be an integer"),
        ("quantum:entanglement=star", "unknown entanglement 'star'; choose one of"),
        ("quantum:encoding=amplitude", "unknown encoding 'amplitude'"),
        ("quantum:depth=3", "unknown quantum model key 'depth'"),
        ("quantum:qubits=4,qubits=5", "qubits given twice"),
        ("quantum:qubits", "expected key=value"),
        ("quantum:backend=fake:manila", "samples: give shots > 0"),
        ("quantum:backend=statevector,shots=100", "the statevector backend is exact"),
        ("quantum:backend=cloud", "unknown backend 'cloud'"),
        ("quantum:qubits=1,entanglement=full", "a single qubit has no entanglement"),
    ],
)
def test_bad_specs_are_refused_clearly(text: str, message: str) -> None:
    with pytest.raises(QuantumModelError, match=message):
        parse_quantum_model(text)


def test_unknown_model_family_is_a_task_error() -> None:
    with pytest.raises(task.TaskError, match="unknown model 'transformer'"):
        task.normalise_model("transformer")


# -------------------------------------------------------------------------------- circuit


def test_circuit_shape_and_parameters() -> None:
    circuit = build_circuit(QuantumModelSpec(qubits=4, reps=2))
    assert circuit.num_qubits == 4
    assert [p.name for p in circuit.inputs] == ["x0", "x1", "x2", "x3"]
    assert [p.name for p in circuit.weights] == [f"w{j}" for j in range(12)]
    assert circuit.gate_counts() == {"ry": 16, "cx": 6}
    assert (circuit.depth, circuit.two_qubit_gates) == (9, 6)
    assert circuit.observable_labels == ["IIIZ", "IIZI", "IZII", "ZIII"]
    model = HybridClassifier(QuantumModelSpec(), execution=EXACT)
    assert model.num_parameters() == 17  # 12 circuit weights + 4 + 1 head
    assert sorted(model.state_dict()) == ["head.bias", "head.weight", "quantum.weights"]
    ten = HybridClassifier(QuantumModelSpec(qubits=4), num_classes=10, execution=EXACT)
    assert ten(torch.zeros(3, 4)).shape == (3, 10)
    phase = build_circuit(QuantumModelSpec(qubits=5, reps=1, entanglement="circular",
                                           encoding="phase"))  # fmt: skip
    assert phase.gate_counts() == {"h": 5, "rz": 5, "ry": 10, "cx": 5}
    assert len(phase.weights) == QuantumModelSpec(qubits=5, reps=1).num_weights == 10


def test_qasm_round_trip_gives_the_same_circuit() -> None:
    circuit = build_circuit(QuantumModelSpec(qubits=5, reps=2, entanglement="full"))
    assert circuit.qasm.startswith("OPENQASM 3.0;")
    assert "input float[64] x0;" in circuit.qasm and "input float[64] w14;" in circuit.qasm
    loaded = circuit_from_qasm(circuit.qasm)
    assert [p.name for p in loaded.parameters] == [p.name for p in circuit.parameters]
    assert (loaded.depth, loaded.two_qubit_gates) == (circuit.depth, circuit.two_qubit_gates)
    values = rows(circuit, 7)
    np.testing.assert_allclose(
        make_executor(loaded, EXACT).run(values), make_executor(circuit, EXACT).run(values),
        atol=1e-12,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda q: q.replace("ry(x0)", "ry(2*x0)"), "parameter-shift rule does not cover"),
        (lambda q: q.replace("ry(w3)", "ry(w2)"), "used other than exactly once"),
        (lambda q: q.replace("w11", "theta"), "neither an input x<i> nor a weight w<j>"),
        (lambda q: q.replace("w11", "w12"), "not numbered 0..11"),
        (lambda q: q.replace("qubit[4] q;", "qubit[4] q"), "not valid OpenQASM 3"),
    ],
)
def test_loaded_circuits_that_break_the_rules_are_refused(edit: Any, message: str) -> None:
    qasm = build_circuit(QuantumModelSpec()).qasm
    with pytest.raises(CircuitMismatchError, match=message):
        circuit_from_qasm(edit(qasm))


# ----------------------------------------------------------------------------- simulators


@pytest.mark.parametrize(
    "spec",
    [
        QuantumModelSpec(qubits=4, reps=2),
        QuantumModelSpec(qubits=5, reps=1, entanglement="full", encoding="phase"),
        QuantumModelSpec(qubits=8, reps=2, entanglement="circular"),
    ],
)
def test_statevector_path_matches_aer_estimator_to_1e_6(spec: QuantumModelSpec) -> None:
    circuit = build_circuit(spec)
    values = rows(circuit, 40, seed=spec.qubits)
    fast = make_executor(circuit, EXACT).run(values)
    aer = make_executor(circuit, ExecutionSettings("aer")).run(values)
    assert np.abs(fast - aer).max() < 1e-6
    independent = independent_expectations(circuit, values[:5])
    assert np.abs(fast[:5] - independent).max() < 1e-6


def test_aer_shots_and_fake_device_estimate_the_exact_values() -> None:
    circuit = build_circuit(QuantumModelSpec())
    values = rows(circuit, 4, seed=3)
    exact = make_executor(circuit, EXACT).run(values)
    shots = make_executor(circuit, ExecutionSettings("aer", 20_000), seed=1)
    sampled = shots.run(values)
    assert np.abs(sampled - exact).max() < 0.05  # ~5 sigma at 20 000 shots
    assert not np.array_equal(sampled, shots.run(values))  # fresh shots every call
    device = make_executor(circuit, ExecutionSettings("fake:manila", 4000), seed=1)
    noisy = device.run(values)
    assert noisy.shape == (4, 4) and np.abs(noisy).max() <= 1
    assert np.abs(noisy - exact).max() < 0.35  # noisy, but the same circuit
    figures = device.describe()
    assert figures["device_qubits"] == 5 and "ry" not in figures["basis_gates"]
    assert figures["two_qubit_gates"] >= 6


def test_backends_that_cannot_run_the_circuit_say_why() -> None:
    circuit = build_circuit(QuantumModelSpec())
    with pytest.raises(QuantumBackendError, match=r"lacks \['ry\[0\]'"):
        make_executor(circuit, ExecutionSettings("fake:manila", 100), transpile=False)
    with pytest.raises(QuantumBackendError, match="fake:manila has 5 qubits, the circuit needs 8"):
        make_executor(
            build_circuit(QuantumModelSpec(qubits=8)), ExecutionSettings("fake:manila", 10)
        )
    with pytest.raises(QuantumBackendError, match="no fake device 'atlantis'"):
        make_executor(circuit, ExecutionSettings("fake:atlantis", 10))
    with pytest.raises(QuantumBackendError, match="IBM Quantum backend 'fqai_no_such' unreachable"):
        make_executor(circuit, ExecutionSettings("ibm:fqai_no_such", 10))


def test_executor_refuses_rows_of_the_wrong_width_or_not_finite() -> None:
    circuit = build_circuit(QuantumModelSpec())
    executor = make_executor(circuit, EXACT)
    with pytest.raises(QuantumModelError, match=r"shape \(rows, 16\) \(4 inputs \+ 12 weights\)"):
        executor.run(np.zeros((2, 15)))
    bad = np.zeros((2, 16))
    bad[1, 3] = np.nan
    with pytest.raises(QuantumModelError, match="NaN or infinity"):
        executor.run(bad)


# ------------------------------------------------------------------------------ gradients


def test_parameter_shift_equals_the_closed_form_and_finite_differences() -> None:
    # One qubit, reps=1: RY(x) RY(w0) RY(w1) |0>, so <Z> = cos(x + w0 + w1).
    circuit = build_circuit(QuantumModelSpec(qubits=1, reps=1))
    values = rows(circuit, 6, seed=5)
    executor = make_executor(circuit, EXACT)
    np.testing.assert_allclose(executor.run(values)[:, 0], np.cos(values.sum(axis=1)), atol=1e-12)
    jac = parameter_shift_jacobian(executor, values, [0, 1, 2])
    for k in range(3):
        np.testing.assert_allclose(jac[:, k, 0], -np.sin(values.sum(axis=1)), atol=1e-12)
    # Four qubits: every column against central finite differences (statevector, h = 1e-5).
    circuit = build_circuit(QuantumModelSpec(qubits=4, reps=2))
    executor = make_executor(circuit, EXACT)
    values = rows(circuit, 3, seed=9)
    jac = parameter_shift_jacobian(executor, values, list(range(16)))
    h = 1e-5
    for k in range(16):
        up, down = values.copy(), values.copy()
        up[:, k] += h
        down[:, k] -= h
        finite = (executor.run(up) - executor.run(down)) / (2 * h)
        assert np.abs(jac[:, k] - finite).max() < 1e-6
    # And the same gradient from Aer's EstimatorV2 (an independent simulator).
    aer = parameter_shift_jacobian(make_executor(circuit, ExecutionSettings("aer")), values,
                                   list(range(16)))  # fmt: skip
    assert np.abs(aer - jac).max() < 1e-6


def test_autograd_backward_is_parameter_shift_in_one_call_each_way() -> None:
    torch.manual_seed(0)
    model = HybridClassifier(QuantumModelSpec(qubits=4), execution=ExecutionSettings("aer"))
    x = torch.rand(8, 4) * np.pi
    y = torch.randint(0, 2, (8,))
    loss = torch.nn.functional.cross_entropy(model(x), y)
    assert model.executor.calls == 1 and model.executor.rows == 8
    loss.backward()
    assert model.executor.calls == 2 and model.executor.rows == 8 + 8 * 2 * 12
    grad = model.quantum.weights.grad.detach().double().numpy()
    # Finite differences of the loss on the exact statevector path.
    probe = HybridClassifier(QuantumModelSpec(qubits=4), execution=EXACT)
    probe.load_weights({k: v.detach().numpy() for k, v in model.state_dict().items()})
    probe.double()
    h = 1e-5
    for j in range(12):
        with torch.no_grad():
            probe.quantum.weights[j] += h
            up = torch.nn.functional.cross_entropy(probe(x.double()), y)
            probe.quantum.weights[j] -= 2 * h
            down = torch.nn.functional.cross_entropy(probe(x.double()), y)
            probe.quantum.weights[j] += h
        assert abs(grad[j] - float(up - down) / (2 * h)) < 1e-5
    # Gradients with respect to the inputs too, when asked.
    xs = x.clone().double().requires_grad_(True)
    probe(xs)[:, 1].sum().backward()
    assert xs.grad is not None and xs.grad.shape == (8, 4)


def test_nan_gradients_and_inputs_are_refused() -> None:
    model = HybridClassifier(QuantumModelSpec(qubits=2, reps=1), execution=EXACT)
    out = model(torch.rand(3, 2))
    with pytest.raises(QuantumModelError, match="gradient reaching the quantum layer contains NaN"):
        (out * torch.tensor(float("nan"))).sum().backward()
    with pytest.raises(QuantumModelError, match="NaN or infinity"):
        model(torch.tensor([[0.1, float("nan")]]))
    with pytest.raises(QuantumModelError, match="encodes 2 features per sample"):
        model(torch.rand(3, 4))


def test_weights_of_the_wrong_length_are_refused() -> None:
    model = HybridClassifier(QuantumModelSpec(qubits=4, reps=2), execution=EXACT)
    good = {k: v.numpy() for k, v in model.state_dict().items()}
    with pytest.raises(QuantumModelError, match=r"quantum.weights has shape \(10,\), the model "
                       r"needs \(12,\) \(12 circuit weights for 4 qubits, 2 reps\)"):  # fmt: skip
        model.load_weights({**good, "quantum.weights": np.zeros(10, np.float32)})
    with pytest.raises(QuantumModelError, match="missing"):
        model.load_weights({"head.bias": good["head.bias"]})
    with pytest.raises(task.TaskError, match=r"quantum.weights has shape \(10,\)"):
        task.set_weights(model, {**good, "quantum.weights": np.zeros(10, np.float32)})


# ---------------------------------------------------------------------- features and task


def test_pca_angles_are_fitted_on_the_training_split_only() -> None:
    data = task.load_dataset("breast_cancer", seed=0)
    x_train, x_test = pca_angles(data.x_train, data.x_test, 4)
    assert x_train.shape == (len(data.y_train), 4) and x_test.shape == (len(data.y_test), 4)
    assert x_train.min() == 0 and np.isclose(x_train.max(), np.pi)
    assert x_test.min() >= 0 and x_test.max() <= np.float32(np.pi)
    again = AngleFeatures.fit(data.x_train, 4)
    np.testing.assert_array_equal(again.transform(data.x_test), x_test)
    shifted = AngleFeatures.fit(np.concatenate([data.x_train, data.x_test]), 4)
    assert not np.allclose(shifted.transform(data.x_test), x_test)  # test data never leaks in
    quantum = task.load_dataset("breast_cancer", seed=0, model=QUANTUM_4)
    np.testing.assert_array_equal(quantum.x_test, x_test)
    np.testing.assert_array_equal(quantum.y_train, data.y_train)
    with pytest.raises(QuantumModelError, match="cannot reduce 30 features"):
        AngleFeatures.fit(data.x_train, 31)


def test_centralised_training_learns_breast_cancer() -> None:
    data = task.load_dataset("breast_cancer", seed=0, model=QUANTUM_4)
    model = task.build_model("breast_cancer", seed=1, model=QUANTUM_4)
    before = task.evaluate(model, data.x_test, data.y_test).accuracy
    for epoch in range(6):
        task.train(model, data.x_train, data.y_train, epochs=1, lr=0.1, seed=epoch)
    after = task.evaluate(model, data.x_test, data.y_test)
    assert after.accuracy > 0.88 and after.accuracy > before, (before, after)
    # Same seed, same initial weights; the weights round-trip through safetensors.
    a = task.get_weights(task.build_model("breast_cancer", seed=3, model=QUANTUM_4))
    b = task.get_weights(task.build_model("breast_cancer", seed=3, model=QUANTUM_4))
    assert all(np.array_equal(a[k], b[k]) for k in a)


def test_node_side_evaluation_of_the_quantum_model(tmp_path: Path) -> None:
    from fqai.federation.node import NodeSettings, evaluate_local

    settings = NodeSettings(
        keystore=tmp_path, passphrase_file=None, rpc_url="", ipfs_api="", partition_id=1,
        num_partitions=2,
    )  # fmt: skip
    model = "quantum:qubits=4"  # exact Aer, as a federation trains it by default
    weights = task.get_weights(task.build_model("breast_cancer", seed=2, model=model))
    result = evaluate_local(settings, "breast_cancer", 0, weights, model)
    data = task.load_dataset("breast_cancer", model=model)
    assert result.samples == len(task.iid_partition(len(data.y_test), 2, seed=0)[1])
    assert 0 <= result.accuracy <= 1


# ------------------------------------------------------------------------------- manifest


def quantum_weights(tmp_path: Path, model: str = QUANTUM_4) -> tuple[Path, dict[str, Any]]:
    data = task.load_dataset("breast_cancer", seed=0, model=model)
    net = task.build_model("breast_cancer", seed=1, model=model)
    for epoch in range(4):
        task.train(net, data.x_train, data.y_train, epochs=1, lr=0.1, seed=epoch)
    path = tmp_path / "quantum.safetensors"
    weights = task.get_weights(net)
    save_weights(weights, path)
    return path, weights


def quantum_manifest(identity: NodeIdentity, path: Path, params: dict[str, Any]) -> Any:
    return build_manifest(
        identity,
        describe_file(path),
        cid_for_raw_block(path.read_bytes()),
        kind="published-model",
        federation_id="0",
        round=0,
        model=ModelSpec(name=MODEL_NAME, params=params),
    )


def test_manifest_records_the_circuit_and_passes_schema_and_reader(
    identity: NodeIdentity, tmp_path: Path
) -> None:
    params = task.model_params("breast_cancer", QUANTUM_4, data_seed=0)
    section = params["quantum"]
    assert params["family"] == "quantum" and params["dataset"] == "breast_cancer"
    assert section["circuit"]["qasm"] == build_circuit(QuantumModelSpec()).qasm
    assert {k: section["circuit"][k] for k in ("qubits", "depth", "two_qubit_gates", "inputs",
            "weights")} == {"qubits": 4, "depth": 9, "two_qubit_gates": 6, "inputs": 4,
                            "weights": 12}  # fmt: skip
    assert section["training"] == {"backend": "statevector", "shots": 0,
                                   "gradient": "parameter-shift"}  # fmt: skip
    assert section["features"]["components"] == 4
    path, _ = quantum_weights(tmp_path)
    signed = sign_manifest(quantum_manifest(identity, path, params), identity.mldsa)
    envelope = json.loads(signed.envelope_bytes)
    validate(envelope, load_schema())
    parsed = parse_envelope(signed.envelope_bytes).manifest
    described = read_quantum_params(parsed.model.params)
    assert described.spec == QuantumModelSpec() and described.num_classes == 2
    assert task.model_from_params(parsed.model.name, parsed.model.params) == (
        "breast_cancer", task.normalise_model(QUANTUM_4), 0,
    )  # fmt: skip
    # The classical models' manifests are unchanged.
    assert task.model_params("breast_cancer") == {"dataset": "breast_cancer"}


def _edit(params: dict[str, Any], fn: Any) -> dict[str, Any]:
    copy = json.loads(json.dumps(params))
    fn(copy["quantum"])
    return copy


def _swap_circuit(section: dict[str, Any], spec: QuantumModelSpec) -> None:
    other = build_circuit(spec)
    section["circuit"]["qasm"] = other.qasm
    section["circuit"]["sha256"] = other.qasm_sha256


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda q: q["circuit"].update(qasm=q["circuit"]["qasm"] + "\n"), "circuit text hashes to"),
        (lambda q: _swap_circuit(q, QuantumModelSpec(qubits=5)),
         "the circuit has 5 qubits, the manifest declares 4"),
        (lambda q: (_swap_circuit(q, QuantumModelSpec(qubits=5)),
                    q["circuit"].update(qubits=5, inputs=5)),
         "the circuit has 5 qubits, its spec"),
        (lambda q: _swap_circuit(q, QuantumModelSpec(qubits=4, reps=3)),
         "the circuit has 16 weights, the manifest declares 12"),
        (lambda q: q["circuit"].update(two_qubit_gates=5),
         "the circuit has 6 two-qubit-gates, the manifest declares 5"),
        (lambda q: q["circuit"].update(depth=3), "the circuit has 9 depth"),
        (lambda q: q.update(observables=["IIIZ", "IIZI", "IZII", "XIII"]),
         "are not Z on every qubit"),
        (lambda q: q["spec"].update(reps=3), "its spec .* gives 16"),
        (lambda q: q["features"].update(components=3), "features must be PCA to 4"),
    ],
)  # fmt: skip
def test_manifest_whose_circuit_does_not_match_is_rejected(edit: Any, message: str) -> None:
    params = _edit(task.model_params("breast_cancer", QUANTUM_4), edit)
    with pytest.raises(CircuitMismatchError, match=message):
        read_quantum_params(params)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda q: q["spec"].update(qubits="four"),
        lambda q: q["spec"].update(entanglement="star"),
        lambda q: q["circuit"].update(format="qasm2"),
        lambda q: q["circuit"].update(sha256="0x12"),
        lambda q: q["circuit"].pop("depth"),
        lambda q: q.update(extra=1),
        lambda q: q["training"].update(backend="cloud"),
        lambda q: q["training"].update(shots=-1),
        lambda q: q["head"].update(classes=1),
        lambda q: q.update(observables=["XZ"]),
    ],
)
def test_schema_and_python_validator_reject_the_same_quantum_mistakes(
    identity: NodeIdentity, tmp_path: Path, mutate: Any
) -> None:
    path = tmp_path / "w.safetensors"
    save_weights({"quantum.weights": np.zeros(12, np.float32)}, path)
    params = _edit(task.model_params("breast_cancer", QUANTUM_4), mutate)
    envelope = json.loads(
        sign_manifest(
            quantum_manifest(identity, path, task.model_params("breast_cancer", QUANTUM_4)),
            identity.mldsa,
        ).envelope_bytes
    )
    envelope["manifest"]["model"]["params"] = params
    with pytest.raises(SchemaViolationError):
        validate(envelope, load_schema())
    with pytest.raises(ManifestError, match=r"model\.params"):
        parse_envelope(canonicalize(envelope))


def test_family_quantum_without_its_section_is_refused() -> None:
    from fqai.manifest.model import ModelSpec as Spec

    with pytest.raises(ManifestError, match="family 'quantum' needs the 'quantum' section"):
        Spec.from_json({"name": MODEL_NAME, "params": {"dataset": "x", "family": "quantum"}})


# ----------------------------------------------------------------------------- evaluation


def test_evaluate_weights_dispatches_on_family_and_runs_three_backends(
    identity: NodeIdentity, tmp_path: Path
) -> None:
    path, weights = quantum_weights(tmp_path)
    params = task.model_params("breast_cancer", QUANTUM_4, data_seed=0)
    manifest = quantum_manifest(identity, path, params)
    result = evaluate_weights(manifest, weights, shots=2000)
    assert result.family == "quantum" and result.dataset == "breast_cancer"
    assert [(r.mode, r.backend, r.shots) for r in result.backends] == [
        ("exact", "aer", 0), ("shots", "aer", 2000), ("device", "fake:manila", 2000),
    ]  # fmt: skip
    reference = task.build_model("breast_cancer", model=QUANTUM_4)
    task.set_weights(reference, weights)
    data = task.load_dataset("breast_cancer", model=QUANTUM_4)
    expected = task.evaluate(reference, data.x_test, data.y_test)
    assert result.accuracy == pytest.approx(expected.accuracy)
    assert result.loss == pytest.approx(expected.loss, abs=1e-6)
    assert result.accuracy > 0.85
    for run in result.backends[1:]:
        assert abs(run.accuracy - result.accuracy) < 0.15, result.backends
    device = result.backends[2].circuit
    assert device["device_qubits"] == 5 and device["two_qubit_gates"] >= 6
    # Weights that do not fit the manifest's circuit: a clear error.
    with pytest.raises(QuantumModelError, match=r"quantum\.weights has shape"):
        evaluate_weights(manifest, {**weights, "quantum.weights": np.zeros(8, np.float32)})
    # A manifest whose circuit was swapped for another is refused before anything runs.
    forged = replace(
        manifest,
        model=ModelSpec(name=MODEL_NAME, params=_edit(params, lambda q: _swap_circuit(
            q, QuantumModelSpec(qubits=4, entanglement="full")))),
    )  # fmt: skip
    with pytest.raises(CircuitMismatchError):
        evaluate_weights(forged, weights)
    assert issubclass(CircuitMismatchError, FqaiError)
