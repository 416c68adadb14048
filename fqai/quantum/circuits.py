"""The circuits of the selection QAOA: cost and mixer operators, Dicke and warm-start states.

* Cost: ``C(x) = -f(x) / scale`` (plus ``P (Σ x_i - k)^2 / scale`` in the penalty form) written
  in Pauli Z with ``x_i = (1 - Z_i) / 2``; constant terms are dropped (a global phase).
* XY mixer: ``Σ_{(i,j)} (X_i X_j + Y_i Y_j) / 2`` over a ring or all pairs. Every term keeps the
  Hamming weight, so a circuit started in a weight-k state samples only feasible selections.
* Dicke state ``|D^n_k⟩`` (the uniform superposition of all weight-k basis states), prepared with
  O(k n) gates by the split-and-cyclic-shift construction of Bärtschi and Eidenbenz
  (arXiv:1904.07358), checked against the exact vector in the tests.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from qiskit import QuantumCircuit
from qiskit.circuit.library import RYGate
from qiskit.quantum_info import SparsePauliOp

from fqai.quantum.problem import SelectionProblem


def cost_operator(
    problem: SelectionProblem, *, scale: float = 1.0, penalty: float = 0.0
) -> SparsePauliOp:
    """Pauli form of ``(-f(x) + penalty (Σx - k)^2) / scale`` without its constant term."""
    n, k, lam = problem.n, problem.k, problem.lam
    z: dict[int, float] = dict.fromkeys(range(n), 0.0)
    zz: dict[tuple[int, int], float] = {}
    # -s_i x_i = -s_i/2 + (s_i/2) Z_i
    for i in range(n):
        z[i] += problem.scores[i] / 2
    # +λ r_ij x_i x_j = λ r_ij (1 - Z_i - Z_j + Z_i Z_j) / 4
    for i in range(n):
        for j in range(i + 1, n):
            w = lam * problem.redundancy[i, j] / 4
            if w:
                z[i] -= w
                z[j] -= w
                zz[(i, j)] = zz.get((i, j), 0.0) + w
    if penalty:
        # P (Σ x_i - k)^2 with Σ x_i = n/2 - Σ Z_i / 2:
        # = P [ (n/2 - k)^2 - (n/2 - k) Σ Z_i + (1/4)(n + 2 Σ_{i<j} Z_i Z_j) ]
        shift = n / 2 - k
        for i in range(n):
            z[i] -= penalty * shift
            for j in range(i + 1, n):
                zz[(i, j)] = zz.get((i, j), 0.0) + penalty / 2
    terms: list[tuple[str, list[int], float]] = [
        ("Z", [i], c / scale) for i, c in z.items() if abs(c) > 1e-15
    ]
    terms += [("ZZ", [i, j], c / scale) for (i, j), c in zz.items() if abs(c) > 1e-15]
    if not terms:  # a constant cost (all scores and redundancies equal to zero)
        terms = [("Z", [0], 0.0)]
    return SparsePauliOp.from_sparse_list(terms, num_qubits=n)


def mixer_pairs(n: int, topology: str) -> list[tuple[int, int]]:
    """The qubit pairs of an XY mixer: ``ring`` (i, i+1 mod n) or ``complete`` (all pairs)."""
    if n < 2:
        return []
    if topology == "ring":
        pairs = [(i, i + 1) for i in range(n - 1)]
        if n > 2:
            pairs.append((0, n - 1))
        return pairs
    if topology == "complete":
        return [(i, j) for i in range(n) for j in range(i + 1, n)]
    raise ValueError(f"unknown XY mixer topology {topology!r}; use 'ring' or 'complete'")


def xy_mixer(n: int, topology: str) -> SparsePauliOp:
    """``Σ_{(i,j)} (X_i X_j + Y_i Y_j) / 2``, terms in :func:`mixer_pairs` order (XX then YY)."""
    pairs = mixer_pairs(n, topology)
    if not pairs:
        return SparsePauliOp.from_sparse_list([("X", [0], 0.0)], num_qubits=max(n, 1))
    terms = [(p, [i, j], 0.5) for i, j in pairs for p in ("XX", "YY")]
    return SparsePauliOp.from_sparse_list(terms, num_qubits=n)


def dicke_state(n: int, k: int) -> QuantumCircuit:
    """A circuit preparing ``|D^n_k⟩`` from ``|0…0⟩`` (split-and-cyclic-shift, O(k n) gates)."""
    if not 0 <= k <= n:
        raise ValueError(f"Dicke state needs 0 <= k <= n, got n={n}, k={k}")
    qc = QuantumCircuit(n, name=f"dicke_{n}_{k}")
    # Paper qubits 1..n map to circuit qubits 0..n-1; start from |0^{n-k} 1^k⟩.
    for q in range(n - k, n):
        qc.x(q)
    for m in range(n, k, -1):
        _split_cyclic_shift(qc, m, k)
    for m in range(k, 1, -1):
        _split_cyclic_shift(qc, m, m - 1)
    return qc


def _split_cyclic_shift(qc: QuantumCircuit, m: int, k: int) -> None:
    """SCS_{m,k} on paper qubits m-k..m (circuit qubits m-k-1..m-1)."""
    last = m - 1
    # Two-qubit block on (m-1, m).
    qc.cx(last - 1, last)
    qc.cry(2 * math.acos(math.sqrt(1 / m)), last, last - 1)
    qc.cx(last - 1, last)
    # Three-qubit blocks on (m-l, m-l+1, m) for l = 2..k.
    for ell in range(2, k + 1):
        target, control = m - ell - 1, m - ell
        qc.cx(target, last)
        ccry = RYGate(2 * math.acos(math.sqrt(ell / m))).control(2, annotated=False)
        qc.append(ccry, [last, control, target])
        qc.cx(target, last)


def basis_state(n: int, positions: Sequence[int]) -> QuantumCircuit:
    """``|x⟩`` with ones at ``positions`` (the warm start from a classical answer)."""
    qc = QuantumCircuit(n, name="warm_start")
    for q in positions:
        qc.x(q)
    return qc


def uniform_state(n: int) -> QuantumCircuit:
    """``|+⟩^n`` (the standard QAOA start, used by the penalty form)."""
    qc = QuantumCircuit(n, name="plus")
    qc.h(range(n))
    return qc
