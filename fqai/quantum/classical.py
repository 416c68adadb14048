"""Classical solvers of the selection problem: exact, greedy, simulated annealing, random sampling.

All are deterministic functions of the problem (and of ``seed`` where they draw). Ties are broken
towards the lower candidate positions, so two machines agree on the answer bit for bit.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from fqai.quantum.problem import SelectionProblem, subset_objectives, subsets

#: Largest ``n`` for which the default solver enumerates every k-subset (C(20, 10) = 184 756
#: subsets, about 0.1 s here); above it the default is simulated annealing.
EXACT_MAX_N = 20
#: Enumeration is refused above this many subsets (memory: 8 bytes x k per subset).
EXACT_MAX_SUBSETS = 5_000_000
SUBSET_CHUNK = 200_000


@dataclass(frozen=True)
class Solution:
    """A solver's answer: chosen candidate positions, their objective, how it was found."""

    solver: str
    positions: tuple[int, ...]
    objective: float
    seconds: float
    evaluations: int


def exact(problem: SelectionProblem) -> Solution:
    """Best k-subset by enumeration (lexicographically first among ties).

    Raises
    ------
    ValueError
        More than :data:`EXACT_MAX_SUBSETS` subsets.
    """
    start = time.perf_counter()
    n, k = problem.n, problem.k
    count = math.comb(n, k)
    if count > EXACT_MAX_SUBSETS:
        raise ValueError(f"exact search over C({n}, {k}) = {count} subsets is too large")
    rows = subsets(n, k)
    best_value = -math.inf
    best_row: tuple[int, ...] = ()
    for lo in range(0, len(rows), SUBSET_CHUNK):
        chunk = rows[lo : lo + SUBSET_CHUNK]
        values = subset_objectives(problem, chunk)
        i = int(np.argmax(values))
        if values[i] > best_value:
            best_value = float(values[i])
            best_row = tuple(int(v) for v in chunk[i])
    return Solution("exact", best_row, best_value, time.perf_counter() - start, count)


def objective_range(problem: SelectionProblem) -> tuple[float, float]:
    """``(f_min, f_opt)`` over all feasible selections (by enumeration)."""
    rows = subsets(problem.n, problem.k)
    lo, hi = math.inf, -math.inf
    for start in range(0, len(rows), SUBSET_CHUNK):
        values = subset_objectives(problem, rows[start : start + SUBSET_CHUNK])
        lo, hi = min(lo, float(values.min())), max(hi, float(values.max()))
    return lo, hi


def greedy(problem: SelectionProblem) -> Solution:
    """Add, k times, the candidate with the largest marginal gain ``s_i - λ Σ_{j∈S} r_ij``."""
    start = time.perf_counter()
    chosen: list[int] = []
    penalty = np.zeros(problem.n)
    available = np.ones(problem.n, dtype=bool)
    for _ in range(problem.k):
        gain = np.where(available, problem.scores - problem.lam * penalty, -np.inf)
        i = int(np.argmax(gain))
        chosen.append(i)
        available[i] = False
        penalty += problem.redundancy[i]
    positions = tuple(sorted(chosen))
    return Solution(
        "greedy", positions, problem.objective(positions), time.perf_counter() - start, problem.k
    )


def annealing(
    problem: SelectionProblem, seed: int, *, sweeps: int = 200, t_start: float = 1.0
) -> Solution:
    """Simulated annealing over k-subsets with swap moves, started from the greedy answer.

    A move swaps one chosen and one unchosen candidate, so every state is feasible. The
    temperature falls geometrically from ``t_start`` times the score spread to 1e-3 of it over
    ``sweeps * n`` moves; the best state seen is returned.
    """
    start = time.perf_counter()
    n, k, lam = problem.n, problem.k, problem.lam
    rng = np.random.default_rng(seed)
    first = greedy(problem)
    best = first.positions
    if k == n:
        return Solution("annealing", best, first.objective, time.perf_counter() - start, 0)
    x = np.zeros(n, dtype=bool)
    x[list(best)] = True
    value = best_value = first.objective
    r = problem.redundancy
    load = r[:, x].sum(axis=1)  # Σ_{j chosen} r_ij for every i
    spread = float(np.ptp(problem.scores)) + lam * float(r.max(initial=0.0)) or 1.0
    moves = sweeps * n
    t0 = t_start * spread
    cooling = (1e-3) ** (1 / max(moves - 1, 1))
    temperature = t0
    for _ in range(moves):
        ins = np.flatnonzero(x)
        outs = np.flatnonzero(~x)
        a = int(ins[rng.integers(len(ins))])
        b = int(outs[rng.integers(len(outs))])
        # Remove a, add b: the pair term of b counts the chosen set without a.
        delta = problem.scores[b] - problem.scores[a] - lam * (load[b] - r[b, a]) + lam * load[a]
        if delta >= 0 or rng.random() < math.exp(delta / temperature):
            x[a], x[b] = False, True
            load += r[:, b] - r[:, a]
            value += delta
            if value > best_value + 1e-12:
                best_value = value
                best = tuple(int(i) for i in np.flatnonzero(x))
        temperature *= cooling
    return Solution("annealing", best, problem.objective(best), time.perf_counter() - start, moves)


def random_sampling(problem: SelectionProblem, seed: int, shots: int) -> Solution:
    """Best of ``shots`` uniformly random k-subsets (the baseline any sampler must beat)."""
    if shots < 1:
        raise ValueError(f"shots must be >= 1, got {shots}")
    start = time.perf_counter()
    rng = np.random.default_rng(seed)
    keys = rng.random((shots, problem.n))
    rows = np.sort(np.argsort(keys, axis=1)[:, : problem.k], axis=1)
    values = subset_objectives(problem, rows)
    i = int(np.argmax(values))
    positions = tuple(int(v) for v in rows[i])
    return Solution("random", positions, float(values[i]), time.perf_counter() - start, shots)


def best_classical(problem: SelectionProblem, seed: int) -> Solution:
    """The default classical answer: exact up to :data:`EXACT_MAX_N` candidates, else annealing."""
    if problem.n <= EXACT_MAX_N and math.comb(problem.n, problem.k) <= EXACT_MAX_SUBSETS:
        return exact(problem)
    return annealing(problem, seed)
