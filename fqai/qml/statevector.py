"""A small batched statevector simulator for classifier circuits (numpy, exact).

Many parameter rows at once: the state is an array ``(rows, 2**n)``, and each gate is applied to
every row with that row's angle. It knows the gates the classifier circuits use (rotations,
Pauli and Clifford one-qubit gates, CX, CZ, SWAP) and refuses others, naming them. Its results
are checked against Qiskit Aer's EstimatorV2 to 1e-6 in the tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from qiskit.circuit import Parameter, ParameterExpression

from fqai.qml.circuit import ClassifierCircuit
from fqai.qml.errors import QuantumBackendError

_S2 = 1 / np.sqrt(2)
FIXED_GATES: dict[str, NDArray[np.complex128]] = {
    "id": np.eye(2, dtype=complex),
    "x": np.array([[0, 1], [1, 0]], dtype=complex),
    "y": np.array([[0, -1j], [1j, 0]], dtype=complex),
    "z": np.array([[1, 0], [0, -1]], dtype=complex),
    "h": np.array([[_S2, _S2], [_S2, -_S2]], dtype=complex),
    "s": np.array([[1, 0], [0, 1j]], dtype=complex),
    "sdg": np.array([[1, 0], [0, -1j]], dtype=complex),
    "t": np.array([[1, 0], [0, np.exp(1j * np.pi / 4)]], dtype=complex),
    "tdg": np.array([[1, 0], [0, np.exp(-1j * np.pi / 4)]], dtype=complex),
    "sx": np.array([[1 + 1j, 1 - 1j], [1 - 1j, 1 + 1j]], dtype=complex) / 2,
}
ROTATIONS = frozenset({"rx", "ry", "rz", "p"})
TWO_QUBIT = frozenset({"cx", "cz", "swap"})
REAL_GATES = frozenset({"ry", "id", "x", "z", "h"}) | TWO_QUBIT
"""Gates with real matrices: a circuit of only these keeps real amplitudes (half the work)."""
IGNORED = frozenset({"barrier"})
CHUNK_AMPLITUDES = 2**15


@dataclass(frozen=True)
class _Op:
    name: str
    qubits: tuple[int, ...]
    column: int | None = None  # parameter column of a rotation, None for a fixed angle
    angle: float = 0.0


def _rotation(name: str, theta: NDArray[np.float64]) -> NDArray[Any]:
    """``(rows, 2, 2)`` matrices of a rotation gate for each row's angle (real for RY)."""
    c, s = np.cos(theta / 2), np.sin(theta / 2)
    out = np.zeros((len(theta), 2, 2), dtype=float if name == "ry" else complex)
    if name == "ry":
        out[:, 0, 0], out[:, 0, 1], out[:, 1, 0], out[:, 1, 1] = c, -s, s, c
    elif name == "rx":
        out[:, 0, 0], out[:, 0, 1], out[:, 1, 0], out[:, 1, 1] = c, -1j * s, -1j * s, c
    elif name == "rz":
        out[:, 0, 0], out[:, 1, 1] = np.exp(-0.5j * theta), np.exp(0.5j * theta)
    else:  # p
        out[:, 0, 0], out[:, 1, 1] = 1.0, np.exp(1j * theta)
    return out


class StatevectorSimulator:
    """Exact ⟨Z_i⟩ of a :class:`ClassifierCircuit` for many parameter rows at once.

    Raises
    ------
    QuantumBackendError
        The circuit uses a gate this simulator does not implement, or a parameter expression
        other than a bare parameter.
    """

    def __init__(self, circuit: ClassifierCircuit) -> None:
        self.num_qubits = circuit.num_qubits
        columns = {p: i for i, p in enumerate(circuit.parameters)}
        qc = circuit.circuit
        ops: list[_Op] = []
        for inst in qc.data:
            name = inst.operation.name
            qubits = tuple(qc.find_bit(q).index for q in inst.qubits)
            if name in IGNORED:
                continue
            if name in ROTATIONS:
                (value,) = inst.operation.params
                if isinstance(value, Parameter) and value in columns:
                    ops.append(_Op(name, qubits, column=columns[value]))
                elif isinstance(value, ParameterExpression):
                    raise QuantumBackendError(
                        f"the statevector simulator takes bare parameters only, got "
                        f"{name}({value}); use the aer backend"
                    )
                else:
                    ops.append(_Op(name, qubits, angle=float(value)))
            elif name in FIXED_GATES or name in TWO_QUBIT:
                ops.append(_Op(name, qubits))
            else:
                raise QuantumBackendError(
                    f"the statevector simulator lacks gate {name!r} (it has "
                    f"{sorted(ROTATIONS | set(FIXED_GATES) | TWO_QUBIT)}); use the aer backend"
                )
        self._ops = tuple(ops)
        self._dtype = float if all(op.name in REAL_GATES for op in ops) else complex
        index = np.arange(2**self.num_qubits)
        # Row q: +1 where qubit q is 0, -1 where it is 1 (⟨Z_q⟩ = signs · probabilities).
        self._z_signs = 1.0 - 2.0 * ((index[None, :] >> np.arange(self.num_qubits)[:, None]) & 1)

    def expectations(self, values: NDArray[np.float64]) -> NDArray[np.float64]:
        """``values`` ``(rows, parameters)`` in :attr:`ClassifierCircuit.parameters` order →
        ``(rows, qubits)`` exact ⟨Z_i⟩.

        The state is held as ``(2**n, rows)``: rows innermost, so every gate is a few
        vectorised operations over contiguous memory, whatever qubit it acts on. Rows go in
        chunks of about :data:`CHUNK_AMPLITUDES` amplitudes, which stay in the CPU's cache.
        """
        chunk = max(1, CHUNK_AMPLITUDES >> self.num_qubits)
        if len(values) <= chunk:
            return self._expectations(values)
        return np.concatenate(
            [self._expectations(values[i : i + chunk]) for i in range(0, len(values), chunk)]
        )

    def _expectations(self, values: NDArray[np.float64]) -> NDArray[np.float64]:
        rows, n = values.shape[0], self.num_qubits
        state = np.zeros((2**n, rows), dtype=self._dtype)
        state[0] = 1.0
        for op in self._ops:
            if op.name in ROTATIONS:
                theta = (
                    values[:, op.column]
                    if op.column is not None
                    else np.full(rows, op.angle, dtype=float)
                )
                state = self._apply_1q(state, _rotation(op.name, theta), op.qubits[0])
            elif op.name in FIXED_GATES:
                matrix = FIXED_GATES[op.name]
                if self._dtype is float:
                    matrix = matrix.real
                state = self._apply_1q(state, matrix[None], op.qubits[0])
            else:
                state = self._apply_2q(state, op.name, *op.qubits)
        probs = state.real**2 + state.imag**2 if self._dtype is complex else state**2
        return (self._z_signs @ probs).T

    def _apply_1q(self, state: NDArray[Any], matrix: NDArray[Any], qubit: int) -> NDArray[Any]:
        """``matrix`` ``(rows or 1, 2, 2)`` on ``qubit`` of every row."""
        n, rows = self.num_qubits, state.shape[1]
        view = state.reshape(2 ** (n - 1 - qubit), 2, 2**qubit, rows)
        a0, a1 = view[:, 0], view[:, 1]
        m00, m01, m10, m11 = (matrix[:, i, j] for i in (0, 1) for j in (0, 1))
        out = np.empty_like(view)
        out[:, 0] = m00 * a0 + m01 * a1
        out[:, 1] = m10 * a0 + m11 * a1
        return out.reshape(2**n, rows)

    def _apply_2q(self, state: NDArray[Any], name: str, first: int, second: int) -> NDArray[Any]:
        """CX (control ``first``, target ``second``) and SWAP as basis permutations, CZ as
        signs."""
        index = np.arange(2**self.num_qubits)
        bit_a, bit_b = (index >> first) & 1, (index >> second) & 1
        if name == "cx":
            return state[index ^ (bit_a << second)]
        if name == "swap":
            differ = bit_a ^ bit_b
            return state[index ^ (differ << first) ^ (differ << second)]
        return state * np.where(bit_a & bit_b, -1.0, 1.0)[:, None]  # cz
