"""Structural checks of a quantum model's ``model.params`` (what the JSON Schema's
``quantumModel`` says), applied by :meth:`fqai.manifest.model.ModelSpec.from_json`.

Only the shape is checked here (no Qiskit): the circuit itself is re-parsed and compared with
what it declares by :func:`fqai.qml.manifest.read_quantum_params` when the model is loaded.
"""

from __future__ import annotations

import re
from typing import Any

from fqai.encoding import is_bytes32
from fqai.errors import ManifestError
from fqai.jcs import MAX_SAFE_INTEGER

FAMILIES = ("classical", "quantum")
ENTANGLEMENTS = ("linear", "reverse_linear", "circular", "full", "pairwise")
ENCODINGS = ("angle", "phase")
ANSATZES = ("real_amplitudes",)
MAX_QUBITS = 16
MAX_QASM = 65_536
BACKEND_RE = re.compile(r"^(aer|statevector|fake:[A-Za-z0-9_]+|ibm:[A-Za-z0-9_-]+)$")
GATE_RE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
OBSERVABLE_RE = re.compile(r"^[IZ]{1,16}$")


def _fail(path: str, message: str) -> ManifestError:
    return ManifestError(f"manifest {path}: {message}")


def _obj(value: Any, path: str, keys: set[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail(path, "must be an object")
    if set(value) != keys:
        missing, unknown = sorted(keys - set(value)), sorted(set(value) - keys)
        raise _fail(path, f"missing field(s) {missing}, unknown field(s) {unknown}")
    return value


def _int(value: Any, path: str, low: int = 0, high: int = MAX_SAFE_INTEGER) -> None:
    if type(value) is not int or not low <= value <= high:
        raise _fail(path, f"must be an integer in [{low}, {high}], got {value!r}")


def _enum(value: Any, path: str, choices: tuple[str, ...]) -> None:
    if value not in choices or not isinstance(value, str):
        raise _fail(path, f"must be one of {list(choices)}, got {value!r}")


def check_model_params(params: dict[str, Any], path: str) -> None:
    """Raise :class:`ManifestError` if ``params.family`` or ``params.quantum`` are malformed."""
    if "family" in params:
        _enum(params["family"], f"{path}.family", FAMILIES)
    if "quantum" not in params:
        if params.get("family") == "quantum":
            raise _fail(path, "family 'quantum' needs the 'quantum' section")
        return
    base = f"{path}.quantum"
    section = _obj(
        params["quantum"], base, {"spec", "circuit", "observables", "head", "features", "training"}
    )
    spec = _obj(
        section["spec"], f"{base}.spec", {"qubits", "reps", "entanglement", "encoding", "ansatz"}
    )
    _int(spec["qubits"], f"{base}.spec.qubits", 1, MAX_QUBITS)
    _int(spec["reps"], f"{base}.spec.reps", 1, 16)
    _enum(spec["entanglement"], f"{base}.spec.entanglement", ENTANGLEMENTS)
    _enum(spec["encoding"], f"{base}.spec.encoding", ENCODINGS)
    _enum(spec["ansatz"], f"{base}.spec.ansatz", ANSATZES)
    circuit = _obj(
        section["circuit"],
        f"{base}.circuit",
        {"format", "qasm", "sha256", "qubits", "depth", "two_qubit_gates", "inputs", "weights",
         "gates"},
    )  # fmt: skip
    if circuit["format"] != "openqasm3":
        raise _fail(f"{base}.circuit.format", "must be 'openqasm3'")
    qasm = circuit["qasm"]
    if not isinstance(qasm, str) or not 1 <= len(qasm) <= MAX_QASM:
        raise _fail(f"{base}.circuit.qasm", f"must be OpenQASM 3 text of 1..{MAX_QASM} characters")
    if not is_bytes32(circuit["sha256"]):
        raise _fail(f"{base}.circuit.sha256", "must be 0x followed by 64 lower-case hex digits")
    _int(circuit["qubits"], f"{base}.circuit.qubits", 1, MAX_QUBITS)
    for key in ("depth", "two_qubit_gates", "inputs", "weights"):
        _int(circuit[key], f"{base}.circuit.{key}")
    gates = circuit["gates"]
    if not isinstance(gates, dict) or len(gates) > 64:
        raise _fail(f"{base}.circuit.gates", "must be an object of at most 64 gate counts")
    for name, count in gates.items():
        if not GATE_RE.match(name):
            raise _fail(f"{base}.circuit.gates", f"invalid gate name {name!r}")
        _int(count, f"{base}.circuit.gates.{name}")
    observables = section["observables"]
    if (
        not isinstance(observables, list)
        or not 1 <= len(observables) <= MAX_QUBITS
        or not all(isinstance(o, str) and OBSERVABLE_RE.match(o) for o in observables)
    ):
        raise _fail(f"{base}.observables", "must be 1..16 Pauli labels of I and Z")
    head = _obj(section["head"], f"{base}.head", {"classes", "outputs"})
    _int(head["classes"], f"{base}.head.classes", 2, 4096)
    _int(head["outputs"], f"{base}.head.outputs", 1, 4096)
    feature_keys = {"method", "components", "range", "fit", "data_seed"}
    features = _obj(section["features"], f"{base}.features", feature_keys)
    if features["method"] != "pca" or features["fit"] != "training split":
        raise _fail(f"{base}.features", "method must be 'pca', fit 'training split'")
    _int(features["components"], f"{base}.features.components", 1, MAX_QUBITS)
    bounds = features["range"]
    if (
        not isinstance(bounds, list)
        or len(bounds) != 2
        or not all(type(b) in (int, float) for b in bounds)
    ):
        raise _fail(f"{base}.features.range", "must be two numbers")
    _int(features["data_seed"], f"{base}.features.data_seed")
    training = _obj(section["training"], f"{base}.training", {"backend", "shots", "gradient"})
    backend = training["backend"]
    if not isinstance(backend, str) or not BACKEND_RE.match(backend):
        raise _fail(f"{base}.training.backend", f"invalid backend {backend!r}")
    _int(training["shots"], f"{base}.training.shots", 0, 1_000_000)
    if training["gradient"] != "parameter-shift":
        raise _fail(f"{base}.training.gradient", "must be 'parameter-shift'")
