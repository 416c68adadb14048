"""Client selection as a constrained binary quadratic problem.

Choose exactly ``k`` of ``n`` candidate nodes, ``x ∈ {0, 1}^n`` with ``Σ x_i = k``, maximising

    f(x) = Σ_i s_i x_i - λ Σ_{i<j} r_ij x_i x_j

where ``s`` are the nodes' scores and ``r`` the pairwise redundancy of their updates (symmetric,
zero diagonal). A :class:`SelectionProblem` is validated on construction, so every solver can
assume finite numbers, a symmetric matrix and ``1 ≤ k ≤ n``.

Bitstrings follow Qiskit's convention: bit ``i`` of a basis-state index is qubit ``i`` and means
"candidate ``i`` is chosen".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np
from numpy.typing import NDArray

from fqai.errors import FqaiError

SYMMETRY_TOLERANCE = 1e-9


class SelectionInputError(FqaiError, ValueError):
    """The selection inputs are unusable: empty, duplicated, non-finite, k out of range, ..."""


@dataclass(frozen=True)
class SelectionProblem:
    """A validated selection instance; ``candidates`` are the ids returned to the caller."""

    candidates: tuple[int, ...]
    scores: NDArray[np.float64]
    redundancy: NDArray[np.float64]
    k: int
    lam: float

    @classmethod
    def build(
        cls,
        candidates: Sequence[int],
        scores: Sequence[float] | NDArray[Any],
        redundancy: Sequence[Sequence[float]] | NDArray[Any],
        k: int,
        lam: float = 1.0,
    ) -> SelectionProblem:
        """Validate and freeze the inputs.

        Raises
        ------
        SelectionInputError
            Naming the first problem found.
        """
        ids = tuple(int(c) for c in candidates)
        n = len(ids)
        if n == 0:
            raise SelectionInputError("no candidates to select from")
        if len(set(ids)) != n:
            dupes = sorted({c for c in ids if ids.count(c) > 1})
            raise SelectionInputError(f"duplicate candidate ids: {dupes}")
        if isinstance(k, bool) or not isinstance(k, int | np.integer):
            raise SelectionInputError(f"k must be an integer, got {k!r}")
        if not 1 <= k <= n:
            raise SelectionInputError(f"k = {k} is outside 1..{n} (the number of candidates)")
        s = np.asarray(scores, dtype=np.float64)
        if s.shape != (n,):
            raise SelectionInputError(f"expected {n} scores, got shape {s.shape}")
        bad = np.flatnonzero(~np.isfinite(s))
        if bad.size:
            raise SelectionInputError(
                f"non-finite score for candidate(s) {[ids[i] for i in bad]}: {s[bad].tolist()}"
            )
        r = np.asarray(redundancy, dtype=np.float64)
        if r.shape != (n, n):
            raise SelectionInputError(f"redundancy must be {n}x{n}, got shape {r.shape}")
        if not np.all(np.isfinite(r)):
            raise SelectionInputError("redundancy matrix has non-finite entries")
        asym = float(np.max(np.abs(r - r.T)))
        if asym > SYMMETRY_TOLERANCE:
            i, j = np.unravel_index(int(np.argmax(np.abs(r - r.T))), r.shape)
            raise SelectionInputError(
                f"redundancy matrix is not symmetric: r[{i}][{j}] = {r[i, j]} but "
                f"r[{j}][{i}] = {r[j, i]}"
            )
        if not math.isfinite(lam) or lam < 0:
            raise SelectionInputError(f"lambda must be a finite number >= 0, got {lam}")
        r = (r + r.T) / 2
        np.fill_diagonal(r, 0.0)
        s.setflags(write=False)
        r.setflags(write=False)
        return cls(ids, s, r, int(k), float(lam))

    @property
    def n(self) -> int:
        return len(self.candidates)

    def objective(self, chosen: Sequence[int]) -> float:
        """``f`` of a selection given as candidate *positions* (0-based indices)."""
        idx = np.asarray(sorted(chosen), dtype=np.int64)
        if idx.size == 0:
            return 0.0
        pair = float(self.redundancy[np.ix_(idx, idx)].sum()) / 2
        return float(self.scores[idx].sum()) - self.lam * pair

    def objective_rows(self, x: NDArray[Any]) -> NDArray[np.float64]:
        """``f`` of many 0/1 rows at once (shape ``(m, n)``)."""
        xf = np.asarray(x, dtype=np.float64)
        return xf @ self.scores - self.lam * ((xf @ self.redundancy) * xf).sum(axis=1) / 2

    def positions(self, ids: Sequence[int]) -> tuple[int, ...]:
        """Candidate positions of the given ids."""
        index = {c: i for i, c in enumerate(self.candidates)}
        return tuple(sorted(index[c] for c in ids))

    def ids(self, positions: Sequence[int]) -> tuple[int, ...]:
        """Candidate ids at the given positions, ascending."""
        return tuple(sorted(self.candidates[i] for i in positions))


def bits_to_positions(index: int, n: int) -> tuple[int, ...]:
    """Positions set in a basis-state index (little-endian: bit i is qubit i)."""
    return tuple(i for i in range(n) if (index >> i) & 1)


def positions_to_index(positions: Sequence[int]) -> int:
    """Basis-state index of a selection (inverse of :func:`bits_to_positions`)."""
    return sum(1 << i for i in positions)


def subsets(n: int, k: int) -> NDArray[np.int64]:
    """All k-subsets of ``range(n)`` in lexicographic order, shape ``(C(n, k), k)``."""
    if k == 0:
        return np.zeros((1, 0), dtype=np.int64)
    return np.fromiter(
        (i for combo in combinations(range(n), k) for i in combo), dtype=np.int64
    ).reshape(-1, k)


def subset_objectives(problem: SelectionProblem, rows: NDArray[np.int64]) -> NDArray[np.float64]:
    """``f`` of every subset row of :func:`subsets` (vectorised, one pass per pair of slots)."""
    values = problem.scores[rows].sum(axis=1)
    k = rows.shape[1]
    for a in range(k):
        for b in range(a + 1, k):
            values -= problem.lam * problem.redundancy[rows[:, a], rows[:, b]]
    return values


def basis_objectives(problem: SelectionProblem) -> NDArray[np.float64]:
    """``f`` of every one of the ``2^n`` basis states (constraint ignored), by index."""
    n = problem.n
    index = np.arange(1 << n, dtype=np.int64)
    bits = ((index[:, None] >> np.arange(n)) & 1).astype(np.float64)
    return problem.objective_rows(bits)


def hamming_weights(n: int) -> NDArray[np.int64]:
    """Number of ones of every basis-state index below ``2^n``."""
    index = np.arange(1 << n, dtype=np.int64)
    return ((index[:, None] >> np.arange(n)) & 1).sum(axis=1)
