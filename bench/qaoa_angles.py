"""Train the QAOA angles shipped in ``fqai/quantum/angles.json`` ("parameter transfer").

Run from the repository root::

    .venv/bin/python bench/qaoa_angles.py [--quick] [--output PATH]

For every variant / objective / depth the product can ask for (``QaoaConfig.angle_key``):

* ``dicke-xy`` with the ``ring`` and the ``complete`` XY mixer, ``expectation`` and ``cvar``
  (alpha 0.2), p = 1, 2, 3;
* ``warm-xy`` (ring) started one swap away from the optimum, both objectives, p = 1, 2;
* ``penalty`` (``|+>`` start, X mixer, penalty term), both objectives, p = 1, 2;

one set of angles is optimised once, minimising the **mean normalised energy** (the quantity
``SelectionQaoa.energy`` returns: the cost scaled to zero mean and unit spread over the states
the circuit can reach, so that angles carry across instances) over a fixed set of seeded random
training instances (n = 8 and 10, k = n / 2, clustered redundancy; see
:func:`clustered_instance`). The search is deterministic: a coarse grid then COBYLA for p = 1;
for p > 1 COBYLA from the interpolated p - 1 optimum (the INTERP rule of Zhou et al., PRX 10,
021067) and from linear ramps. The training instances never appear in the benchmark sweep
(``bench/quantum_selection.py`` uses other seeds).

The JSON keeps the ``{"angles": {key: {"gamma": [...], "beta": [...]}}}`` shape the package
reads, plus a ``trained_on`` object describing the training set and, per key, the mean energy
and mean P(optimum) / uniform reached on it.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from fqai.quantum import classical  # noqa: E402
from fqai.quantum.problem import SelectionProblem  # noqa: E402
from fqai.quantum.qaoa import QaoaConfig, SelectionQaoa  # noqa: E402

ANGLES_PATH = ROOT / "fqai" / "quantum" / "angles.json"
TRAIN_SIZES = (8, 10)
TRAIN_PER_SIZE = 3
TRAIN_SEED_BASE = 10_000
CLUSTERS = 3
DIM = 32
SPREAD = 0.6
ALPHA = QaoaConfig().alpha
ROUND_DIGITS = 6

Angles = dict[str, list[float]]


def clustered_instance(n: int, seed: int, k: int | None = None) -> SelectionProblem:
    """A random selection instance whose redundancy has cluster structure.

    Scores are uniform in [0, 1]. Each node's "update" is one of :data:`CLUSTERS` random
    centres (node i belongs to cluster i mod 3 after a seeded shuffle) plus Gaussian noise of
    relative size :data:`SPREAD`; the redundancy is the cosine of two updates clipped at zero,
    as :func:`fqai.quantum.select.redundancy_matrix` computes it. ``lambda`` is set so that,
    for a uniformly random k-subset, the expected redundancy term equals the expected score
    sum: both terms matter, neither dominates. ``k`` defaults to ``n // 2``.
    """
    rng = np.random.default_rng(seed)
    k = n // 2 if k is None else k
    scores = rng.random(n)
    centres = rng.normal(size=(CLUSTERS, DIM))
    members = rng.permutation(np.arange(n) % CLUSTERS)
    vectors = centres[members] + SPREAD * rng.normal(size=(n, DIM))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    red = np.clip(vectors @ vectors.T, 0.0, None)
    np.fill_diagonal(red, 0.0)
    mean_r = float(red[np.triu_indices(n, 1)].mean())
    pairs = k * (k - 1) / 2
    lam = (k * float(scores.mean())) / (pairs * mean_r) if pairs and mean_r > 0 else 1.0
    return SelectionProblem.build(range(n), scores, red, k, round(lam, 6))


def training_instances() -> list[SelectionProblem]:
    return [
        clustered_instance(n, TRAIN_SEED_BASE + 100 * n + i)
        for n in TRAIN_SIZES
        for i in range(TRAIN_PER_SIZE)
    ]


def angle_configs(quick: bool) -> list[QaoaConfig]:
    """Every (variant, mixer, objective, p) whose angles the package ships."""
    out: list[QaoaConfig] = []
    objectives = ("expectation", "cvar")
    for mixer in ("ring", "complete"):
        for objective in objectives:
            for reps in (1, 2) if quick else (1, 2, 3):
                out.append(QaoaConfig("dicke-xy", mixer, reps, objective))
    for variant in ("warm-xy", "penalty"):
        for objective in objectives:
            for reps in (1, 2):
                out.append(QaoaConfig(variant, "ring", reps, objective))
    return out


class Trainer:
    """Mean normalised energy of one angle set over the training instances."""

    def __init__(self, problems: Sequence[SelectionProblem], config: QaoaConfig) -> None:
        self.config = config
        self.circuits = [
            SelectionQaoa(
                p,
                config,
                warm_start=near_miss(p, seed) if config.variant == "warm-xy" else None,
                seed=0,
            )
            for seed, p in enumerate(problems)
        ]
        self.calls = 0

    def energy(self, v: NDArray[np.float64]) -> float:
        self.calls += 1
        angles = unpack(v, self.config.reps)
        return float(np.mean([q.energy(angles) for q in self.circuits]))

    def p_opt_over_uniform(self, angles: Angles) -> float:
        ratios = []
        for q in self.circuits:
            probs = np.abs(q.statevector(angles)) ** 2
            ratios.append(float(probs[q.optimal].sum()) / q.uniform)
        return float(np.mean(ratios))


def near_miss(problem: SelectionProblem, seed: int) -> tuple[int, ...]:
    """The optimum with one seeded random swap: a classical answer one move from the best.

    The greedy answer is the optimum on every training instance, which would teach the
    warm-start angles nothing but "stay"; warm-xy can only help from a non-optimal start.
    """
    rng = np.random.default_rng(seed)
    best = list(classical.exact(problem).positions)
    outside = [i for i in range(problem.n) if i not in best]
    best[int(rng.integers(len(best)))] = outside[int(rng.integers(len(outside)))]
    return tuple(sorted(best))


def beta_scale(config: QaoaConfig) -> float:
    """The complete XY mixer has n(n-1)/2 terms: its useful mixing angles are ~4x smaller."""
    return 0.3 if config.variant != "penalty" and config.mixer == "complete" else 1.0


def unpack(v: NDArray[np.float64] | Sequence[float], reps: int) -> Angles:
    return {"gamma": [float(x) for x in v[:reps]], "beta": [float(x) for x in v[reps:]]}


def interp(prev: Angles) -> Angles:
    """INTERP: angles for p + 1 layers linearly interpolated from the p-layer optimum."""
    p = len(prev["gamma"])
    out: Angles = {}
    for name in ("gamma", "beta"):
        old = [0.0, *prev[name], 0.0]
        out[name] = [(i / p) * old[i] + ((p - i) / p) * old[i + 1] for i in range(p + 1)]
    return out


def ramp(reps: int, scale: float, sign_g: float, sign_b: float) -> Angles:
    gammas = [sign_g * scale * (i + 0.5) / reps for i in range(reps)]
    betas = [sign_b * scale * (1 - (i + 0.5) / reps) for i in range(reps)]
    return {"gamma": gammas, "beta": betas}


def minimise(
    fun: Callable[[NDArray[np.float64]], float], x0: Sequence[float], maxiter: int
) -> tuple[NDArray[np.float64], float]:
    from scipy.optimize import minimize

    res = minimize(
        fun,
        np.asarray(x0, dtype=np.float64),
        method="COBYLA",
        options={"maxiter": maxiter, "rhobeg": 0.25, "tol": 1e-5},
    )
    return np.asarray(res.x, dtype=np.float64), float(res.fun)


def train(
    trainer: Trainer, previous: Angles | None, quick: bool
) -> tuple[Angles, float, list[dict[str, Any]]]:
    """Best angles found from the deterministic starts; also a log of every start."""
    reps = trainer.config.reps
    maxiter = 60 if quick else 200
    starts: list[tuple[str, Angles]] = []
    if reps == 1:
        # (gamma, beta) and (-gamma, -beta) give the same energy: search gamma <= 0 only.
        gammas = np.linspace(-2.0, 0.0, 5 if quick else 11)
        betas = beta_scale(trainer.config) * np.linspace(-1.5, 1.5, 7 if quick else 13)
        scored = sorted(
            (trainer.energy(np.array([g, b])), float(g), float(b)) for g in gammas for b in betas
        )
        starts = [(f"grid #{i + 1}", unpack([g, b], 1)) for i, (_, g, b) in enumerate(scored[:3])]
    else:
        assert previous is not None
        starts.append(("interp", interp(previous)))
        sign_g = math.copysign(1.0, previous["gamma"][0] or 1.0)
        sign_b = math.copysign(1.0, previous["beta"][0] or 1.0)
        for scale in (0.5, 1.0) if quick else (0.4, 0.8, 1.2):
            start = ramp(reps, scale, sign_g, sign_b)
            start["beta"] = [beta_scale(trainer.config) * b for b in start["beta"]]
            starts.append((f"ramp x{scale:g}", start))
    log = []
    best_v: NDArray[np.float64] | None = None
    best_e = math.inf
    for label, start in starts:
        v, e = minimise(trainer.energy, start["gamma"] + start["beta"], maxiter)
        log.append({"start": label, "energy": round(e, 6)})
        if e < best_e - 1e-12:
            best_v, best_e = v, e
    assert best_v is not None
    rounded = [round(float(x), ROUND_DIGITS) for x in best_v]
    return unpack(rounded, reps), trainer.energy(np.asarray(rounded)), log


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller search (smoke check)")
    parser.add_argument("--output", type=Path, default=ANGLES_PATH, help="angles JSON to write")
    args = parser.parse_args()
    problems = training_instances()
    t0 = time.perf_counter()
    angles: dict[str, Angles] = {}
    results: dict[str, dict[str, Any]] = {}
    for config in angle_configs(args.quick):
        t = time.perf_counter()
        trainer = Trainer(problems, config)
        prev_key = (
            QaoaConfig(config.variant, config.mixer, config.reps - 1, config.objective).angle_key
            if config.reps > 1
            else None
        )
        best, energy, log = train(trainer, angles.get(prev_key) if prev_key else None, args.quick)
        angles[config.angle_key] = best
        ratio = trainer.p_opt_over_uniform(best)
        results[config.angle_key] = {
            "mean_energy": round(energy, 6),
            "mean_p_opt_over_uniform": round(ratio, 4),
            "objective_calls": trainer.calls,
            "seconds": round(time.perf_counter() - t, 2),
            "starts": log,
        }
        print(
            f"{config.angle_key:32s} energy {energy:+.4f}  P(opt)/uniform {ratio:6.2f}  "
            f"{trainer.calls:5d} calls  {time.perf_counter() - t:6.1f} s",
            flush=True,
        )
    data = {
        "angles": angles,
        "trained_on": {
            "script": "bench/qaoa_angles.py" + (" --quick" if args.quick else ""),
            "instances": [
                {"n": p.n, "k": p.k, "lambda": p.lam, "seed": TRAIN_SEED_BASE + 100 * p.n + i}
                for p, i in zip(
                    problems, [i for _ in TRAIN_SIZES for i in range(TRAIN_PER_SIZE)], strict=True
                )
            ],
            "generator": (
                "bench/qaoa_angles.py clustered_instance: scores U[0,1], redundancy = clipped "
                f"cosine of {CLUSTERS}-cluster vectors in {DIM} dimensions (noise {SPREAD}), "
                "lambda balancing the two terms"
            ),
            "loss": "mean normalised energy (SelectionQaoa.energy) over the instances",
            "cvar_alpha": ALPHA,
            "warm_start": "the optimum with one seeded random swap (warm-xy keys)",
            "optimiser": "grid + COBYLA (p = 1); COBYLA from INTERP and linear ramps (p > 1)",
            "results": results,
            "seconds": round(time.perf_counter() - t0, 1),
        },
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    print(f"wrote {args.output} ({len(angles)} angle sets) in {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
