"""``select_clients``: the one entry point of node selection by optimisation.

A pure function of its inputs: the same candidates, scores, redundancy, k, solver and seed give
the same answer and the same record (apart from measured times). Solvers:

* ``best`` (default): the best classical answer, ``exact`` up to
  :data:`~fqai.quantum.classical.EXACT_MAX_N` candidates, ``annealing`` above;
* ``exact``, ``greedy``, ``annealing``: those classical solvers;
* ``random``: the best of ``shots`` uniformly random k-subsets (``shots=1``: a random subset);
* ``qaoa``: QAOA *beside* the best classical answer. The better of the two is used; on a tie
  the classical answer (anyone can recompute it without a quantum computer). When QAOA fails,
  runs out of its time budget or is worse, the classical answer is used and the record says why.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from fqai.quantum import classical
from fqai.quantum.problem import SelectionInputError, SelectionProblem
from fqai.quantum.qaoa import BudgetExceededError, QaoaConfig, QaoaError, run_qaoa

SOLVERS = ("best", "exact", "greedy", "annealing", "random", "qaoa")
TIE_TOLERANCE = 1e-9


@dataclass(frozen=True)
class SelectionOutcome:
    """The chosen candidate ids and the record that goes into the round report."""

    chosen: tuple[int, ...]
    objective: float
    solver: str
    record: dict[str, Any] = field(default_factory=dict)


def _solution_json(problem: SelectionProblem, sol: classical.Solution) -> dict[str, Any]:
    return {
        "solver": sol.solver,
        "chosen": [str(c) for c in problem.ids(sol.positions)],
        "objective": sol.objective,
        "seconds": round(sol.seconds, 6),
        "evaluations": sol.evaluations,
    }


def approximation_ratio(value: float, f_min: float, f_opt: float) -> float:
    """``(f - f_min) / (f_opt - f_min)``; 1.0 when every feasible selection is equally good."""
    if f_opt - f_min <= TIE_TOLERANCE:
        return 1.0
    return (value - f_min) / (f_opt - f_min)


def select_clients(
    candidates: Sequence[int],
    scores: Sequence[float] | NDArray[Any],
    redundancy: Sequence[Sequence[float]] | NDArray[Any],
    k: int,
    *,
    solver: str = "best",
    seed: int,
    lam: float = 1.0,
    shots: int = 1,
    qaoa: QaoaConfig | None = None,
) -> SelectionOutcome:
    """Choose ``k`` of ``candidates`` maximising ``Σ s_i x_i - λ Σ_{i<j} r_ij x_i x_j``.

    Raises
    ------
    SelectionInputError
        Empty or duplicated candidates, ``k`` outside ``1..n``, non-finite scores, a redundancy
        matrix of the wrong shape or not symmetric, an unknown solver.
    """
    if solver not in SOLVERS:
        raise SelectionInputError(f"unknown solver {solver!r}; use one of {', '.join(SOLVERS)}")
    problem = SelectionProblem.build(candidates, scores, redundancy, k, lam)
    record: dict[str, Any] = {
        "solver": solver,
        "k": problem.k,
        "lambda": problem.lam,
        "seed": seed,
        "candidates": [str(c) for c in problem.candidates],
        "scores": problem.scores.tolist(),
        "redundancy": problem.redundancy.tolist(),
    }
    if solver == "exact":
        sol = classical.exact(problem)
    elif solver == "greedy":
        sol = classical.greedy(problem)
    elif solver == "annealing":
        sol = classical.annealing(problem, seed)
    elif solver == "random":
        sol = classical.random_sampling(problem, seed, shots)
    else:
        sol = classical.best_classical(problem, seed)
    record["classical"] = _solution_json(problem, sol)
    if solver != "qaoa":
        return SelectionOutcome(problem.ids(sol.positions), sol.objective, sol.solver, record)
    return _with_qaoa(problem, sol, qaoa or QaoaConfig(), seed, record)


def _with_qaoa(
    problem: SelectionProblem,
    sol: classical.Solution,
    config: QaoaConfig,
    seed: int,
    record: dict[str, Any],
) -> SelectionOutcome:
    exact_range = (
        classical.objective_range(problem)
        if math.comb(problem.n, problem.k) <= classical.EXACT_MAX_SUBSETS
        else None
    )
    try:
        warm = sol.positions if config.variant == "warm-xy" else None
        result = run_qaoa(problem, config, seed=seed, warm_start=warm)
    except BudgetExceededError as exc:
        record["qaoa"] = {"error": str(exc), "config": config.to_json()}
        return _fallback(problem, sol, record, "time budget exceeded", str(exc))
    except QaoaError as exc:
        record["qaoa"] = {"error": str(exc), "config": config.to_json()}
        return _fallback(problem, sol, record, "quantum step failed", str(exc))
    except Exception as exc:  # simulator or backend failures come in many types: never fatal
        detail = f"{type(exc).__name__}: {exc}"
        record["qaoa"] = {"error": detail, "config": config.to_json()}
        return _fallback(problem, sol, record, "quantum step failed", detail)
    qrec = result.to_json()
    qrec["chosen"] = (
        [str(c) for c in problem.ids(result.positions)] if result.positions is not None else None
    )
    qrec.pop("positions", None)
    if exact_range is not None:
        f_min, f_opt = exact_range
        record["optimum"] = {"f_min": f_min, "f_opt": f_opt}
        record["classical"]["approximation_ratio"] = approximation_ratio(
            sol.objective, f_min, f_opt
        )
        if result.objective is not None:
            qrec["approximation_ratio"] = approximation_ratio(result.objective, f_min, f_opt)
    record["qaoa"] = qrec
    if result.positions is None or result.objective is None:
        return _fallback(problem, sol, record, "worse answer", "no feasible sample")
    if result.objective > sol.objective + TIE_TOLERANCE:
        record["used"] = "qaoa"
        record["fallback"] = None
        return SelectionOutcome(problem.ids(result.positions), result.objective, "qaoa", record)
    if result.objective < sol.objective - TIE_TOLERANCE:
        return _fallback(
            problem,
            sol,
            record,
            "worse answer",
            f"QAOA objective {result.objective:.6g} < classical {sol.objective:.6g}",
        )
    record["used"] = "classical"
    record["fallback"] = None
    record["tie"] = True
    return SelectionOutcome(problem.ids(sol.positions), sol.objective, sol.solver, record)


def _fallback(
    problem: SelectionProblem,
    sol: classical.Solution,
    record: dict[str, Any],
    reason: str,
    detail: str,
) -> SelectionOutcome:
    record["used"] = "classical"
    record["fallback"] = {"reason": reason, "detail": detail}
    return SelectionOutcome(problem.ids(sol.positions), sol.objective, sol.solver, record)


def redundancy_matrix(updates: Sequence[NDArray[Any] | None]) -> NDArray[np.float64]:
    """``r_ij = max(0, cos(Δ_i, Δ_j))`` of flattened updates; 0 where an update is unknown."""
    n = len(updates)
    r = np.zeros((n, n))
    vecs: list[NDArray[np.float64] | None] = []
    for u in updates:
        if u is None:
            vecs.append(None)
            continue
        v = np.asarray(u, dtype=np.float64).ravel()
        norm = float(np.linalg.norm(v))
        vecs.append(v / norm if norm > 0 and math.isfinite(norm) else None)
    for i in range(n):
        vi = vecs[i]
        if vi is None:
            continue
        for j in range(i + 1, n):
            vj = vecs[j]
            if vj is None or vj.shape != vi.shape:
                continue
            r[i, j] = r[j, i] = max(0.0, float(vi @ vj))
    return r
