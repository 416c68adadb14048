"""The ``model.params`` of a quantum model's manifest, and the checks a reader runs on it.

Written by :func:`quantum_params`, read back by :func:`read_quantum_params`::

    {"dataset": "breast_cancer", "family": "quantum",
     "quantum": {"spec": {...}, "circuit": {"format": "openqasm3", "qasm": "...",
                 "sha256": "0x…", "qubits": 4, "depth": 9, "two_qubit_gates": 6,
                 "inputs": 4, "weights": 12, "gates": {"cx": 6, "ry": 16}},
                 "observables": ["IIIZ", …], "head": {"classes": 2, "outputs": 1},
                 "features": {"method": "pca", "components": 4, "range": [0, π],
                              "fit": "training split", "data_seed": 0},
                 "training": {"backend": "aer", "shots": 0, "gradient": "parameter-shift"}}}

A reader re-parses the OpenQASM 3 text and refuses the manifest
(:class:`~fqai.qml.errors.CircuitMismatchError`) unless its digest, qubits, inputs, weights,
depth and two-qubit gate count are the ones declared and agree with ``spec``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fqai.qml.circuit import QASM_FORMAT, ClassifierCircuit, circuit_from_qasm
from fqai.qml.errors import CircuitMismatchError, QuantumModelError
from fqai.qml.features import ANGLE_RANGE
from fqai.qml.spec import FAMILY, ExecutionSettings, QuantumModelChoice, QuantumModelSpec

MODEL_NAME = "fqai.hybrid-qnn"
GRADIENT = "parameter-shift"
MAX_QASM_CHARS = 65_536


@dataclass(frozen=True)
class QuantumManifestModel:
    """A quantum model as a manifest describes it, its circuit parsed and checked."""

    dataset: str
    choice: QuantumModelChoice
    circuit: ClassifierCircuit
    num_classes: int
    data_seed: int

    @property
    def spec(self) -> QuantumModelSpec:
        return self.choice.spec


def quantum_params(
    dataset: str,
    choice: QuantumModelChoice,
    circuit: ClassifierCircuit,
    *,
    num_classes: int,
    data_seed: int,
) -> dict[str, Any]:
    """The manifest's ``model.params`` for a quantum model trained as ``choice`` says."""
    if len(circuit.qasm) > MAX_QASM_CHARS:
        raise QuantumModelError(
            f"the circuit's OpenQASM 3 text has {len(circuit.qasm)} characters, more than the "
            f"{MAX_QASM_CHARS} a manifest carries inline"
        )
    return {
        "dataset": dataset,
        "family": FAMILY,
        "quantum": {
            "spec": choice.spec.to_json(),
            "circuit": {
                "format": QASM_FORMAT,
                "qasm": circuit.qasm,
                "sha256": circuit.qasm_sha256,
                "qubits": circuit.num_qubits,
                "depth": circuit.depth,
                "two_qubit_gates": circuit.two_qubit_gates,
                "inputs": len(circuit.inputs),
                "weights": len(circuit.weights),
                "gates": circuit.gate_counts(),
            },
            "observables": circuit.observable_labels,
            "head": {"classes": num_classes, "outputs": 1 if num_classes == 2 else num_classes},
            "features": {
                "method": "pca",
                "components": circuit.num_qubits,
                "range": list(ANGLE_RANGE),
                "fit": "training split",
                "data_seed": data_seed,
            },
            "training": {**choice.execution.to_json(), "gradient": GRADIENT},
        },
    }


def is_quantum(params: Mapping[str, Any] | None) -> bool:
    """Whether manifest ``model.params`` describe a quantum model."""
    return bool(params) and params.get("family") == FAMILY  # type: ignore[union-attr]


def read_quantum_params(params: Mapping[str, Any]) -> QuantumManifestModel:
    """Parse and check a quantum model's ``model.params``.

    Raises
    ------
    CircuitMismatchError
        The circuit is not valid OpenQASM 3, or its digest, qubits, inputs, weights, depth,
        two-qubit gates or observables differ from what the manifest declares or the spec gives.
    QuantumModelError
        A missing or malformed field, or a spec that is not valid.
    """
    section = _obj(params.get("quantum"), "params.quantum")
    dataset = params.get("dataset")
    if not isinstance(dataset, str) or not dataset:
        raise QuantumModelError("params.dataset must name the dataset")
    spec_raw = _obj(section.get("spec"), "params.quantum.spec")
    try:
        spec = QuantumModelSpec(**spec_raw)
    except TypeError as exc:
        raise QuantumModelError(f"params.quantum.spec: {exc}") from exc
    training = _obj(section.get("training"), "params.quantum.training")
    execution = ExecutionSettings(
        backend=training.get("backend"),  # type: ignore[arg-type]
        shots=training.get("shots"),  # type: ignore[arg-type]
    )
    decl = _obj(section.get("circuit"), "params.quantum.circuit")
    if decl.get("format") != QASM_FORMAT:
        raise CircuitMismatchError(
            f"params.quantum.circuit.format must be {QASM_FORMAT!r}, got {decl.get('format')!r}"
        )
    text = decl.get("qasm")
    if not isinstance(text, str):
        raise QuantumModelError("params.quantum.circuit.qasm must be OpenQASM 3 text")
    digest = "0x" + hashlib.sha256(text.encode()).hexdigest()
    if decl.get("sha256") != digest:
        raise CircuitMismatchError(
            f"circuit text hashes to {digest}, the manifest declares {decl.get('sha256')}"
        )
    circuit = circuit_from_qasm(text)
    found = {
        "qubits": circuit.num_qubits,
        "inputs": len(circuit.inputs),
        "weights": len(circuit.weights),
        "depth": circuit.depth,
        "two_qubit_gates": circuit.two_qubit_gates,
    }
    expected_by_spec = {
        "qubits": spec.qubits,
        "inputs": spec.num_inputs,
        "weights": spec.num_weights,
    }
    for key, value in found.items():
        if decl.get(key) != value:
            raise CircuitMismatchError(
                f"the circuit has {value} {key.replace('_', '-')}, the manifest declares "
                f"{decl.get(key)!r}"
            )
        if key in expected_by_spec and expected_by_spec[key] != value:
            raise CircuitMismatchError(
                f"the circuit has {value} {key}, its spec ({spec.qubits} qubits, {spec.reps} "
                f"reps) gives {expected_by_spec[key]}"
            )
    if section.get("observables") != circuit.observable_labels:
        raise CircuitMismatchError(
            f"observables {section.get('observables')!r} are not Z on every qubit "
            f"{circuit.observable_labels}"
        )
    head = _obj(section.get("head"), "params.quantum.head")
    classes = head.get("classes")
    if type(classes) is not int or classes < 2:
        raise QuantumModelError(f"params.quantum.head.classes must be ≥ 2, got {classes!r}")
    features = _obj(section.get("features"), "params.quantum.features")
    seed = features.get("data_seed")
    if features.get("method") != "pca" or features.get("components") != spec.qubits:
        raise CircuitMismatchError(
            f"features must be PCA to {spec.qubits} components (one per qubit), got "
            f"{features.get('method')!r} to {features.get('components')!r}"
        )
    if type(seed) is not int or seed < 0:
        raise QuantumModelError(f"params.quantum.features.data_seed must be ≥ 0, got {seed!r}")
    return QuantumManifestModel(
        dataset=dataset,
        choice=QuantumModelChoice(spec, execution),
        circuit=circuit,
        num_classes=classes,
        data_seed=seed,
    )


def _obj(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise QuantumModelError(f"{path} must be an object")
    return value
