"""The classifier's circuit: feature encoding, variational ansatz, ⟨Z_i⟩ read-outs.

Parameters are plain named :class:`~qiskit.circuit.Parameter` objects, ``x0 … x{n-1}`` for the
encoded features and ``w0 … w{m-1}`` for the trainable angles, so the OpenQASM 3 text written to
a manifest names them the same way and :func:`circuit_from_qasm` finds them again. Every
parameter must be the bare angle of exactly one rotation gate: that is what makes the
two-term parameter-shift rule exact (checked for built and loaded circuits alike).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import cached_property

from qiskit import QuantumCircuit, qasm3
from qiskit.circuit import Parameter, ParameterExpression
from qiskit.circuit.library import real_amplitudes
from qiskit.quantum_info import SparsePauliOp

from fqai.qml.errors import CircuitMismatchError, QuantumModelError
from fqai.qml.spec import QuantumModelSpec

SHIFT_GATES = frozenset({"rx", "ry", "rz", "p"})
"""Gates ``exp(-i θ P / 2)`` (up to a global phase): a ±π/2 shift gives the exact gradient."""
QASM_FORMAT = "openqasm3"
_NAME_RE = re.compile(r"^([xw])(0|[1-9][0-9]*)$")


@dataclass(frozen=True)
class ClassifierCircuit:
    """A parametrised circuit with its feature inputs and trainable weights, in order."""

    circuit: QuantumCircuit
    inputs: tuple[Parameter, ...]
    weights: tuple[Parameter, ...]

    @property
    def num_qubits(self) -> int:
        return self.circuit.num_qubits

    @property
    def parameters(self) -> tuple[Parameter, ...]:
        """Inputs then weights: the column order of every parameter-value array in fqai.qml."""
        return self.inputs + self.weights

    @cached_property
    def depth(self) -> int:
        return self.circuit.depth()

    @cached_property
    def two_qubit_gates(self) -> int:
        return sum(1 for inst in self.circuit.data if inst.operation.num_qubits == 2)

    @cached_property
    def observables(self) -> tuple[SparsePauliOp, ...]:
        """``Z_i`` on qubit ``i`` (Qiskit's little-endian labels, e.g. ``IIIZ`` for qubit 0)."""
        n = self.num_qubits
        return tuple(SparsePauliOp.from_sparse_list([("Z", [i], 1.0)], n) for i in range(n))

    @property
    def observable_labels(self) -> list[str]:
        return [op.paulis[0].to_label() for op in self.observables]

    @cached_property
    def qasm(self) -> str:
        """The circuit as OpenQASM 3 (``qiskit.qasm3.dumps``), parameters as ``input float``."""
        return qasm3.dumps(self.circuit)

    @property
    def qasm_sha256(self) -> str:
        return "0x" + hashlib.sha256(self.qasm.encode()).hexdigest()

    def gate_counts(self) -> dict[str, int]:
        return {str(k): int(v) for k, v in self.circuit.count_ops().items()}


def build_circuit(spec: QuantumModelSpec) -> ClassifierCircuit:
    """Encoding of ``spec.qubits`` features followed by the ansatz (Qiskit 2.x functions)."""
    n = spec.qubits
    inputs = tuple(Parameter(f"x{i}") for i in range(n))
    qc = QuantumCircuit(n, name=f"fqai_classifier_{n}q")
    for i, x in enumerate(inputs):
        if spec.encoding == "angle":
            qc.ry(x, i)
        else:  # "phase"
            qc.h(i)
            qc.rz(x, i)
    ansatz = real_amplitudes(n, entanglement=spec.entanglement, reps=spec.reps)
    weights = tuple(Parameter(f"w{j}") for j in range(ansatz.num_parameters))
    if len(weights) != spec.num_weights:  # pragma: no cover - a Qiskit change would show here
        raise QuantumModelError(
            f"real_amplitudes gave {len(weights)} parameters, expected {spec.num_weights}"
        )
    qc.compose(ansatz.assign_parameters(dict(zip(ansatz.parameters, weights, strict=True))),
               inplace=True)  # fmt: skip
    built = ClassifierCircuit(qc, inputs, weights)
    check_parameter_shift(built)
    return built


def circuit_from_qasm(text: str) -> ClassifierCircuit:
    """Parse OpenQASM 3 written by :attr:`ClassifierCircuit.qasm` (or by hand, same naming).

    Raises
    ------
    CircuitMismatchError
        Not valid OpenQASM 3, parameters not named ``x<i>``/``w<j>`` (contiguous from 0), or a
        parameter that is not the bare angle of exactly one rotation gate.
    """
    try:
        qc = qasm3.loads(text)
    except Exception as exc:  # the importer raises several exception types
        raise CircuitMismatchError(f"circuit is not valid OpenQASM 3: {exc}") from exc
    groups: dict[str, dict[int, Parameter]] = {"x": {}, "w": {}}
    for param in qc.parameters:
        match = _NAME_RE.match(param.name)
        if match is None:
            raise CircuitMismatchError(
                f"circuit parameter {param.name!r} is neither an input x<i> nor a weight w<j>"
            )
        groups[match.group(1)][int(match.group(2))] = param
    for prefix, found in groups.items():
        if sorted(found) != list(range(len(found))):
            raise CircuitMismatchError(
                f"circuit parameters {prefix}<i> are not numbered 0..{len(found) - 1}: "
                f"{sorted(found)}"
            )
    loaded = ClassifierCircuit(
        qc,
        tuple(groups["x"][i] for i in range(len(groups["x"]))),
        tuple(groups["w"][i] for i in range(len(groups["w"]))),
    )
    check_parameter_shift(loaded, error=CircuitMismatchError)
    return loaded


def check_parameter_shift(
    built: ClassifierCircuit, error: type[QuantumModelError] = QuantumModelError
) -> None:
    """Every parameter is the bare angle of exactly one gate of :data:`SHIFT_GATES`."""
    uses = dict.fromkeys(built.parameters, 0)
    for inst in built.circuit.data:
        for value in inst.operation.params:
            if not isinstance(value, ParameterExpression):
                continue
            if inst.operation.name not in SHIFT_GATES or not isinstance(value, Parameter):
                raise error(
                    f"gate {inst.operation.name}({value}) uses a parameter in a way the "
                    f"parameter-shift rule does not cover (bare angle of one of "
                    f"{sorted(SHIFT_GATES)} only)"
                )
            if value not in uses:
                raise error(f"gate {inst.operation.name} uses unknown parameter {value}")
            uses[value] += 1
    bad = [p.name for p, count in uses.items() if count != 1]
    if bad:
        raise error(f"parameters used other than exactly once: {bad}")
