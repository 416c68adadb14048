"""Client selection by QAOA vs classical solvers: quality, feasibility, P(optimum), wall time.

Run from the repository root (``make bench`` runs it; train the angles first with
``bench/qaoa_angles.py``)::

    .venv/bin/python bench/quantum_selection.py [--quick] [--report-only]

``--report-only`` redraws the plot and rewrites the markdown from the saved raw JSON. Aer runs
with one OpenMP thread (``OMP_NUM_THREADS=1`` unless set): on a small shared machine its
threaded statevector slows down several-fold whenever another process holds a core.

Instances: seeded random ones for n = 6, 8, ..., 20 (k = n / 2, :data:`PER_SIZE` per n, scores
uniform in [0, 1], redundancy the clipped cosine of update-like vectors drawn around a few
cluster centres; :func:`qaoa_angles.clustered_instance`, other seeds than the angle training
set) and, when ``bench/data/federation_instances.json`` exists, the selection instances recorded
from real federation rounds in it.

Methods, per instance:

* classical: ``exact`` (enumeration), ``greedy``, ``annealing``;
* random sampling at equal shots (:data:`SHOTS`, the QAOA's shots): the best of ``SHOTS``
  uniformly random k-subsets, and the best feasible of ``SHOTS`` uniformly random bitstrings
  over all ``2^n`` (the issue's original baseline);
* QAOA on Qiskit Aer (statevector probabilities, answer = best feasible of ``SHOTS`` samples):
  Dicke start + XY ring mixer with CVaR (alpha 0.2) and COBYLA-optimised angles; the same with
  the stored (transferred) angles and no optimisation; the complete XY mixer; warm-xy started
  from the greedy answer; the penalty form (``|+>`` start, X mixer, penalty term). The
  optimised variants are run only up to the sizes in :data:`VARIANTS` (``max_n``) to keep the
  full run within 30 minutes on a 2-core machine; the transfer variants run up to n = 20.

Reported per method and n: approximation ratio ``(f - f_min) / (f_opt - f_min)`` of the answer
(median and worst), P(feasible), P(optimum) / uniform where "uniform" is a uniformly random
k-subset (``#optima / C(n, k)``) for every method, so the columns compare, and the median wall
time. A separate small run samples n = 6 instances on the noise model of a fake 127-qubit IBM
device (``fake:sherbrooke``) against noiseless Aer.

Writes ``docs/benchmarks/quantum_selection[_quick].json``, ``docs/quantum_selection[_quick].png``
and the ``quantum`` (or ``quantum-quick``) section of ``docs/benchmarks/quantum.md``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
# One OpenMP thread for Aer: on a small shared machine its multi-threaded statevector spins and
# runs several times slower when another process holds a core.
os.environ.setdefault("OMP_NUM_THREADS", "1")

from federation_common import ROOT, cpu_description, markdown_table, now_utc, write_section
from qaoa_angles import clustered_instance

from fqai.quantum import classical
from fqai.quantum.problem import SelectionProblem, subset_objectives, subsets
from fqai.quantum.qaoa import QaoaConfig, QaoaError, run_qaoa, stored_angles
from fqai.quantum.select import approximation_ratio

FEDERATION_PATH = ROOT / "bench" / "data" / "federation_instances.json"
DOC_PATH = ROOT / "docs" / "benchmarks" / "quantum.md"
DOC_HEADER = """# Quantum (QAOA) client selection benchmarks

Every figure below was measured by the command shown in its section, on the machine named
there; the section is rewritten in place by `bench/quantum_selection.py`. `--quick` runs are
smoke checks with smaller budgets, written to their own `quantum-quick` section at the end.

"""
SHOTS = 1000
PER_SIZE = 5
SIZES = (6, 8, 10, 12, 14, 16, 18, 20)
QUICK_SIZES = (6, 8, 10)
QUICK_PER_SIZE = 2
INSTANCE_SEED_BASE = 1
#: The benchmark measures answer quality: no time-budget fallbacks (the product's default
#: budget is 20 s; the JSON says which runs took longer).
TIME_BUDGET = 900.0
PRODUCT_BUDGET = QaoaConfig().time_budget
NOISY_N = 6
NOISY_INSTANCES = 3
NOISY_BACKEND = "fake:sherbrooke"
GOAL_SIZES = (12, 14, 16)
GOAL_FACTOR = 10.0


@dataclass(frozen=True)
class Variant:
    """One QAOA configuration of the sweep and the largest n it is run at."""

    label: str
    config: QaoaConfig
    max_n: int
    warm: bool = False


def _cfg(variant: str, mixer: str, reps: int, objective: str, angles: str) -> QaoaConfig:
    return QaoaConfig(
        variant=variant,
        mixer=mixer,
        reps=reps,
        objective=objective,
        angles=angles,
        shots=SHOTS,
        time_budget=TIME_BUDGET,
    )


VARIANTS = (
    Variant("qaoa dicke-xy ring cvar p2 opt", _cfg("dicke-xy", "ring", 2, "cvar", "optimise"), 18),
    Variant(
        "qaoa dicke-xy ring cvar p3 transfer", _cfg("dicke-xy", "ring", 3, "cvar", "transfer"), 20
    ),
    Variant(
        "qaoa dicke-xy complete cvar p2 opt",
        _cfg("dicke-xy", "complete", 2, "cvar", "optimise"),
        18,
    ),
    Variant(
        "qaoa dicke-xy complete cvar p3 transfer",
        _cfg("dicke-xy", "complete", 3, "cvar", "transfer"),
        20,
    ),
    Variant(
        "qaoa warm-xy ring cvar p2 opt (from greedy)",
        _cfg("warm-xy", "ring", 2, "cvar", "optimise"),
        16,
        warm=True,
    ),
    Variant(
        "qaoa penalty expectation p2 opt", _cfg("penalty", "ring", 2, "expectation", "optimise"), 16
    ),
)
CLASSICAL = ("exact", "greedy", "annealing")
RANDOM_K = f"random k-subsets (best of {SHOTS})"
RANDOM_BITS = f"random bitstrings (best feasible of {SHOTS})"
SAMPLERS = (RANDOM_K, RANDOM_BITS, *(v.label for v in VARIANTS))


@dataclass(frozen=True)
class Instance:
    name: str
    source: str
    seed: int
    problem: SelectionProblem


def random_instances(sizes: Sequence[int], per_size: int) -> list[Instance]:
    out = []
    for n in sizes:
        for i in range(per_size):
            seed = INSTANCE_SEED_BASE + 100 * n + i
            out.append(Instance(f"random n={n} #{i}", "random", seed, clustered_instance(n, seed)))
    return out


def federation_instances(path: Path) -> list[Instance]:
    """The instances recorded from federation rounds (empty when the file is absent)."""
    if not path.exists():
        return []
    data = json.loads(path.read_text())
    out = []
    for i, item in enumerate(data["instances"]):
        problem = SelectionProblem.build(
            item["candidates"], item["scores"], item["redundancy"], item["k"], item["lambda"]
        )
        name = f"{item['source']} round {item['round']}"
        out.append(Instance(name, "federation", 7_000 + i, problem))
    return out


def _record(
    *,
    objective: float | None,
    f_range: tuple[float, float],
    p_feasible: float | None,
    p_opt: float | None,
    uniform_k: float,
    seconds: float,
    **extra: Any,
) -> dict[str, Any]:
    ratio = approximation_ratio(objective, *f_range) if objective is not None else None
    return {
        "objective": objective,
        "ratio": ratio,
        "p_feasible": p_feasible,
        "p_opt": p_opt,
        "p_opt_over_uniform": p_opt / uniform_k if p_opt is not None else None,
        "p_opt_in_shots": 1 - (1 - p_opt) ** SHOTS if p_opt is not None else None,
        "seconds": seconds,
        **extra,
    }


def random_bits(problem: SelectionProblem, seed: int) -> tuple[float | None, float]:
    """Best feasible of ``SHOTS`` uniformly random bitstrings (None if none is feasible)."""
    start = time.perf_counter()
    rng = np.random.default_rng(seed)
    bits = rng.integers(0, 2, size=(SHOTS, problem.n))
    feasible = bits[bits.sum(axis=1) == problem.k]
    if not len(feasible):
        return None, time.perf_counter() - start
    best = float(problem.objective_rows(feasible).max())
    return best, time.perf_counter() - start


def run_instance(inst: Instance, variants: Sequence[Variant]) -> dict[str, Any]:
    p = inst.problem
    n, k = p.n, p.k
    rows = subsets(n, k)
    values = subset_objectives(p, rows)
    f_range = (float(values.min()), float(values.max()))
    n_opt = int((values >= f_range[1] - 1e-9).sum())
    uniform_k = n_opt / math.comb(n, k)
    methods: dict[str, dict[str, Any]] = {}
    for name in CLASSICAL:
        sol = (
            classical.exact(p)
            if name == "exact"
            else classical.greedy(p)
            if name == "greedy"
            else classical.annealing(p, inst.seed)
        )
        methods[name] = _record(
            objective=sol.objective,
            f_range=f_range,
            p_feasible=None,
            p_opt=None,
            uniform_k=uniform_k,
            seconds=sol.seconds,
            positions=list(sol.positions),
        )
    greedy = classical.greedy(p).positions
    rk = classical.random_sampling(p, inst.seed, SHOTS)
    methods[RANDOM_K] = _record(
        objective=rk.objective,
        f_range=f_range,
        p_feasible=1.0,
        p_opt=uniform_k,
        uniform_k=uniform_k,
        seconds=rk.seconds,
    )
    rb, rb_seconds = random_bits(p, inst.seed)
    methods[RANDOM_BITS] = _record(
        objective=rb,
        f_range=f_range,
        p_feasible=math.comb(n, k) / 2**n,
        p_opt=n_opt / 2**n,
        uniform_k=uniform_k,
        seconds=rb_seconds,
    )
    for v in variants:
        if n > v.max_n:
            continue
        try:
            res = run_qaoa(p, v.config, seed=inst.seed, warm_start=greedy if v.warm else None)
        except QaoaError as exc:
            methods[v.label] = {"error": str(exc)}
            continue
        methods[v.label] = _record(
            objective=res.objective,
            f_range=f_range,
            p_feasible=res.p_feasible,
            p_opt=res.p_optimum,
            uniform_k=uniform_k,
            seconds=res.seconds,
            p_opt_over_own_uniform=res.p_optimum / res.p_optimum_uniform,
            own_uniform="1/2^n x #optima" if v.config.variant == "penalty" else "#optima/C(n,k)",
            feasible_samples=res.feasible_samples,
            evaluations=res.evaluations,
            circuit=res.circuit.to_json(),
            angles=res.angles,
            probabilities_from=res.probabilities_from,
        )
    return {
        "name": inst.name,
        "source": inst.source,
        "seed": inst.seed,
        "n": n,
        "k": k,
        "lambda": p.lam,
        "f_min": f_range[0],
        "f_opt": f_range[1],
        "optima": n_opt,
        "subsets": math.comb(n, k),
        "methods": methods,
    }


def noisy_runs(instances: Sequence[Instance]) -> list[dict[str, Any]]:
    """Noiseless Aer vs the fake device's noise model on the same circuits and angles."""
    out = []
    for inst in instances:
        for v in (VARIANTS[0], VARIANTS[-1]):
            row: dict[str, Any] = {"instance": inst.name, "variant": v.label}
            angles: dict[str, list[float]] | None = None
            for backend in ("aer", NOISY_BACKEND):
                config = dataclasses.replace(v.config, backend=backend)
                try:
                    res = run_qaoa(inst.problem, config, seed=inst.seed)
                except QaoaError as exc:
                    row[backend] = {"error": str(exc)}
                    continue
                angles = angles or res.angles
                row[backend] = {
                    "p_feasible": res.p_feasible,
                    "p_opt": res.p_optimum,
                    "p_opt_over_own_uniform": res.p_optimum / res.p_optimum_uniform,
                    "probabilities_from": res.probabilities_from,
                    "two_qubit_gates": res.circuit.two_qubit_gates,
                    "depth": res.circuit.depth,
                    "seconds": res.seconds,
                }
            out.append(row)
            print(f"  noisy {inst.name} {v.label}: {json.dumps(row)[:160]}", flush=True)
    return out


# ---- aggregation ---------------------------------------------------------------------------


def _values(records: Sequence[dict[str, Any]], method: str, key: str) -> list[float]:
    out = []
    for r in records:
        m = r["methods"].get(method)
        if m is None or "error" in m:
            continue
        value = m.get(key)
        if key == "ratio" and value is None:
            value = 0.0  # no feasible sample: the method returned nothing usable
        if value is not None:
            out.append(float(value))
    return out


def summarise(records: Sequence[dict[str, Any]], method: str) -> dict[str, Any] | None:
    ratios = _values(records, method, "ratio")
    if not ratios:
        return None
    pf = _values(records, method, "p_feasible")
    po = _values(records, method, "p_opt_over_uniform")
    secs = _values(records, method, "seconds")
    return {
        "instances": len(ratios),
        "ratio_median": statistics.median(ratios),
        "ratio_worst": min(ratios),
        "optimum_found": sum(r >= 1 - 1e-9 for r in ratios),
        "p_feasible_median": statistics.median(pf) if pf else None,
        "p_opt_over_uniform_median": statistics.median(po) if po else None,
        "p_opt_over_uniform_min": min(po) if po else None,
        "seconds_median": statistics.median(secs),
        "no_feasible_answer": sum(
            1
            for r in records
            if method in r["methods"]
            and "error" not in r["methods"][method]
            and r["methods"][method]["objective"] is None
        ),
    }


def group_by_n(records: Sequence[dict[str, Any]]) -> dict[int, list[dict[str, Any]]]:
    groups: dict[int, list[dict[str, Any]]] = {}
    for r in records:
        groups.setdefault(r["n"], []).append(r)
    return dict(sorted(groups.items()))


def all_methods() -> list[str]:
    return [*CLASSICAL, *SAMPLERS]


def summary_table(
    groups: dict[int, list[dict[str, Any]]], cell: Callable[[dict[str, Any]], str]
) -> str:
    header = ["method", *(f"n={n}" for n in groups)]
    rows = []
    for method in all_methods():
        row = [method]
        for recs in groups.values():
            s = summarise(recs, method)
            row.append(cell(s) if s is not None else "not run")
        rows.append(row)
    return markdown_table(header, rows)


def fmt(x: float | None, digits: int = 3) -> str:
    if x is None:
        return "n/a"
    if x != 0 and (abs(x) >= 1000 or abs(x) < 10 ** (-digits)):
        return f"{x:.2g}"
    return f"{x:.{digits}f}"


def fmt_s(x: float) -> str:
    return f"{x * 1000:.1f} ms" if x < 1 else f"{x:.1f} s"


def goal_check(groups: dict[int, list[dict[str, Any]]]) -> tuple[str, list[dict[str, Any]]]:
    """Per QAOA variant at n = 12..16: P(opt)/uniform (median, min) and the equal-shots test."""
    rows, data = [], []
    for v in VARIANTS:
        for n in GOAL_SIZES:
            recs = [r for r in groups.get(n, []) if v.label in r["methods"]]
            recs = [r for r in recs if "error" not in r["methods"][v.label]]
            if not recs:
                continue
            po = [r["methods"][v.label]["p_opt_over_uniform"] for r in recs]
            below_dist = sum(x < 1 for x in po)
            below_shots = sum(
                (r["methods"][v.label]["ratio"] or 0.0) < r["methods"][RANDOM_K]["ratio"] - 1e-9
                for r in recs
            )
            item = {
                "variant": v.label,
                "n": n,
                "instances": len(recs),
                "p_opt_over_uniform_median": statistics.median(po),
                "p_opt_over_uniform_min": min(po),
                "instances_at_10x": sum(x >= GOAL_FACTOR for x in po),
                "instances_p_opt_below_uniform": below_dist,
                "instances_answer_below_random_k": below_shots,
            }
            data.append(item)
            rows.append(
                [
                    v.label,
                    n,
                    fmt(item["p_opt_over_uniform_median"], 1),
                    fmt(item["p_opt_over_uniform_min"], 1),
                    f"{item['instances_at_10x']}/{len(recs)}",
                    f"{below_dist}/{len(recs)}",
                    f"{below_shots}/{len(recs)}",
                ]
            )
    table = markdown_table(
        [
            "variant",
            "n",
            "P(opt)/uniform median",
            "min",
            "instances >= 10x",
            "P(opt) < uniform",
            f"answer worse than best of {SHOTS} random k-subsets",
        ],
        rows,
    )
    return table, data


def plot(groups: dict[int, list[dict[str, Any]]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(17, 6.2))
    ns = list(groups)
    markers = "os^vD<>ph*X"
    cmap = plt.get_cmap("tab20")
    colours = [cmap(2 * i) for i in range(10)] + ["black"]
    for i, method in enumerate(all_methods()):
        xs, worst, popt, secs = [], [], [], []
        for n, recs in groups.items():
            s = summarise(recs, method)
            if s is None:
                continue
            xs.append(n)
            worst.append(s["ratio_worst"])
            popt.append(s["p_opt_over_uniform_median"])
            secs.append(s["seconds_median"])
        if not xs:
            continue
        style = {
            "marker": markers[i % len(markers)],
            "color": colours[i % len(colours)],
            "label": method,
            "ms": 5,
        }
        ls = "--" if method in CLASSICAL or method in (RANDOM_K, RANDOM_BITS) else "-"
        axes[0].plot(xs, worst, ls, **style)
        if popt[0] is not None:
            axes[1].plot(xs, popt, ls, **{**style, "label": "_" + method})
        axes[2].plot(xs, secs, ls, **{**style, "label": "_" + method})
    axes[0].set_title("worst approximation ratio (over instances)")
    axes[0].set_ylabel("(f - f_min) / (f_opt - f_min)")
    axes[1].set_title("median P(optimum) / uniform k-subset")
    axes[1].set_yscale("log")
    axes[1].axhline(GOAL_FACTOR, color="grey", lw=0.8, ls=":")
    axes[1].text(ns[0], GOAL_FACTOR * 1.1, "10x goal", color="grey", fontsize=8)
    axes[2].set_title("median wall time per instance [s]")
    axes[2].set_yscale("log")
    for ax in axes:
        ax.set_xlabel("n (candidates), k = n/2")
        ax.set_xticks(ns)
        ax.grid(alpha=0.3)
    fig.legend(loc="lower center", ncol=4, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.13, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in ("qiskit", "qiskit-aer", "qiskit-ibm-runtime", "scipy", "numpy"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def _best_cold_variant(goal: Sequence[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]] | None:
    """The cold-start variant (not warm-xy) whose lowest median P(opt)/uniform is highest."""
    by_variant: dict[str, list[dict[str, Any]]] = {}
    warm = {v.label for v in VARIANTS if v.warm}
    for g in goal:
        if g["variant"] not in warm:
            by_variant.setdefault(g["variant"], []).append(g)
    full = {lab: gs for lab, gs in by_variant.items() if len(gs) == len(GOAL_SIZES)}
    if not full:
        return None
    label = max(full, key=lambda lab: min(g["p_opt_over_uniform_median"] for g in full[lab]))
    return label, full[label]


def conclusion(
    groups: dict[int, list[dict[str, Any]]],
    goal: Sequence[dict[str, Any]],
    fed: Sequence[dict[str, Any]],
    noisy: Sequence[dict[str, Any]],
) -> str:
    """Plain statements computed from the numbers (no claim the data does not carry)."""
    lines = []

    def worst(method: str, recs_by_n: dict[int, list[dict[str, Any]]]) -> float:
        return min(s["ratio_worst"] for r in recs_by_n.values() if (s := summarise(r, method)))

    exact_top = summarise(groups[max(groups)], "exact")
    assert exact_top is not None
    greedy_found = sum(s["optimum_found"] for r in groups.values() if (s := summarise(r, "greedy")))
    total = sum(len(r) for r in groups.values())
    lines.append(
        f"* Classical: exact enumeration solves every random instance up to n = {max(groups)} "
        f"(median {fmt_s(exact_top['seconds_median'])} at n = {max(groups)}). Greedy finds the "
        f"optimum on {greedy_found} of {total} instances (worst ratio "
        f"{worst('greedy', groups):.3f}); annealing's worst ratio is "
        f"{worst('annealing', groups):.3f}. These instances are easy for classical solvers."
    )
    best = _best_cold_variant(goal)
    if best is None:
        lines.append("* The goal sizes n = 12-16 were not all run (quick run): no goal verdict.")
    else:
        label, rows = best
        detail = ", ".join(
            f"n={g['n']}: median {g['p_opt_over_uniform_median']:.1f}x, min "
            f"{g['p_opt_over_uniform_min']:.1f}x, {g['instances_at_10x']}/{g['instances']} "
            "instances at 10x"
            for g in rows
        )
        met_median = all(g["p_opt_over_uniform_median"] >= GOAL_FACTOR for g in rows)
        met_all = all(g["p_opt_over_uniform_min"] >= GOAL_FACTOR for g in rows)
        verdict = (
            "met on every instance"
            if met_all
            else "met in the median at every n but not on every instance"
            if met_median
            else "not met"
        )
        lines.append(
            f"* Best cold-start QAOA variant at n = 12-16 (highest lowest-median P(opt)/uniform): "
            f"**{label}** ({detail}). The 10x goal is {verdict}."
        )
        below = [
            g
            for g in rows
            if g["instances_p_opt_below_uniform"] or g["instances_answer_below_random_k"]
        ]
        if not below:
            lines.append(
                f"* At equal shots ({SHOTS}), {label} is never below random k-subset sampling "
                "at n = 12-16: its P(opt) exceeds the uniform value and its best-of-shots "
                "answer is at least as good on every instance."
            )
        else:
            lines.append(
                f"* At equal shots ({SHOTS}), {label} falls below random k-subset sampling on "
                "some instances at n = 12-16: "
                + "; ".join(
                    f"n={g['n']}: P(opt) < uniform on {g['instances_p_opt_below_uniform']}, "
                    f"a worse best-of-shots answer on {g['instances_answer_below_random_k']} of "
                    f"{g['instances']}"
                    for g in below
                )
                + "."
            )
    transfer = [v.label for v in VARIANTS if v.config.angles == "transfer"]
    for lab in transfer:
        top = summarise(groups[max(groups)], lab)
        if top is not None:
            lines.append(
                f"* {lab} (stored angles, no optimisation): median P(opt)/uniform "
                f"{top['p_opt_over_uniform_median']:.2f}x "
                f"(min {top['p_opt_over_uniform_min']:.2f}x) at n = {max(groups)}, "
                f"median {fmt_s(top['seconds_median'])}."
            )
    pen_label = next(v.label for v in VARIANTS if v.config.variant == "penalty")
    pen = [(n, s) for n, r in groups.items() if (s := summarise(r, pen_label))]
    if pen:
        (n0, s0), (n1, s1) = pen[0], pen[-1]
        lines.append(
            f"* The penalty form (|+> start, X mixer) spends most shots on infeasible strings: "
            f"median P(feasible) {s0['p_feasible_median']:.2f} at n = {n0} and "
            f"{s1['p_feasible_median']:.2f} at n = {n1}; the Dicke/XY variants are feasible by "
            "construction."
        )
    warm_label = next(v.label for v in VARIANTS if v.warm)
    warm = [(n, s) for n, r in groups.items() if (s := summarise(r, warm_label))]
    if warm:
        lines.append(
            f"* {warm_label} starts from the greedy answer, which is already optimal on most "
            "instances; its P(opt) is largely inherited from greedy (not found by the circuit) "
            "and it is left out of the best-variant choice above. Median P(opt)/uniform: "
            + ", ".join(f"n={n}: {s['p_opt_over_uniform_median']:.1f}x" for n, s in warm)
            + "."
        )
    if fed:
        ns = sorted({r["n"] for r in fed})
        g = summarise(fed, "greedy")
        parts = []
        for v in VARIANTS:
            s = summarise(fed, v.label)
            if s is not None and s["p_opt_over_uniform_median"] is not None:
                parts.append(
                    f"{v.label} {s['p_opt_over_uniform_median']:.1f}x "
                    f"(min {s['p_opt_over_uniform_min']:.1f}x)"
                )
        lines.append(
            f"* Federation-round instances ({len(fed)}, n = {', '.join(map(str, ns))}): greedy "
            f"finds the optimum on {g['optimum_found'] if g else 0} of {len(fed)}; median "
            "P(opt)/uniform: " + ("; ".join(parts) or "no QAOA run") + "."
        )
    for v in VARIANTS:
        rows = [
            (r["aer"], r[NOISY_BACKEND])
            for r in noisy
            if r["variant"] == v.label
            and "error" not in r.get("aer", {"error": 1})
            and "error" not in r.get(NOISY_BACKEND, {"error": 1})
        ]
        if rows:
            lines.append(
                f"* Noise ({NOISY_BACKEND} model, n = {NOISY_N}, {len(rows)} instances), "
                f"{v.label}: median P(feasible) "
                f"{statistics.median(a['p_feasible'] for a, _ in rows):.2f} -> "
                f"{statistics.median(b['p_feasible'] for _, b in rows):.2f}, median "
                "P(opt)/own uniform "
                f"{statistics.median(a['p_opt_over_own_uniform'] for a, _ in rows):.1f}x -> "
                f"{statistics.median(b['p_opt_over_own_uniform'] for _, b in rows):.1f}x "
                f"(about {statistics.median(a['two_qubit_gates'] for a, _ in rows):.0f} CX)."
            )
    slower = []
    for n, recs in groups.items():
        ex = summarise(recs, "exact")
        q = [s["seconds_median"] for v in VARIANTS if (s := summarise(recs, v.label))]
        if ex and q and min(q) > ex["seconds_median"]:
            slower.append(n)
    lines.append(
        "* Wall time: every QAOA figure is a classical statevector simulation; "
        + (
            "the fastest QAOA variant is slower than exact enumeration at every n measured."
            if len(slower) == len(groups)
            else f"the fastest QAOA variant is slower than exact enumeration at n = {slower}."
        )
        + " None of this measures the speed of quantum hardware."
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run (n <= 10, <= 2 min)")
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="rewrite the plot and the markdown from the saved JSON without rerunning",
    )
    args = parser.parse_args()
    if args.report_only:
        suffix = "_quick" if args.quick else ""
        path = ROOT / "docs" / "benchmarks" / f"quantum_selection{suffix}.json"
        write_report(json.loads(path.read_text()), args.quick)
        print(f"rewrote the report from {path}")
        return
    t0 = time.perf_counter()
    sizes = QUICK_SIZES if args.quick else SIZES
    per = QUICK_PER_SIZE if args.quick else PER_SIZE
    variants = VARIANTS
    stored = sorted(stored_angles())
    missing = [
        v.config.angle_key
        for v in variants
        if v.config.angle_key not in stored and v.config.angles == "transfer"
    ]
    if missing:
        print(f"WARNING: no stored angles for {missing}: transfer runs use a linear ramp")
    rand = random_instances(sizes, per)
    fed = federation_instances(FEDERATION_PATH)
    if args.quick:
        fed = fed[:2]
    print(
        f"{len(rand)} random instances, {len(fed)} federation instances"
        + ("" if FEDERATION_PATH.exists() else f" ({FEDERATION_PATH} absent)"),
        flush=True,
    )
    records = []
    for inst in [*rand, *fed]:
        t = time.perf_counter()
        rec = run_instance(inst, variants)
        records.append(rec)
        summary = "  ".join(
            f"{m.split(' (')[0].removeprefix('qaoa ')}="
            f"{fmt(rec['methods'][m].get('p_opt_over_uniform'), 1)}"
            for m in SAMPLERS[2:]
            if m in rec["methods"] and "error" not in rec["methods"][m]
        )
        print(
            f"{inst.name:28s} {time.perf_counter() - t:6.1f} s  P(opt)/unif: {summary}",
            flush=True,
        )
    noisy_src = [i for i in rand if i.problem.n == NOISY_N][:NOISY_INSTANCES]
    if args.quick:
        noisy_src = noisy_src[:1]
    noisy = noisy_runs(noisy_src)
    seconds = time.perf_counter() - t0

    rand_recs = [r for r in records if r["source"] == "random"]
    fed_recs = [r for r in records if r["source"] == "federation"]
    groups = group_by_n(rand_recs)
    _, goal = goal_check(groups)
    suffix = "_quick" if args.quick else ""
    json_path = ROOT / "docs" / "benchmarks" / f"quantum_selection{suffix}.json"
    png_path = ROOT / "docs" / f"quantum_selection{suffix}.png"
    command = "bench/quantum_selection.py" + (" --quick" if args.quick else "")
    vers = versions()
    summaries = {
        str(n): {m: summarise(recs, m) for m in all_methods()} for n, recs in groups.items()
    }
    out = {
        "command": command,
        "date": now_utc(),
        "machine": cpu_description(),
        "versions": vers,
        "shots": SHOTS,
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "seconds": round(seconds, 1),
        "variants": [
            {"label": v.label, "config": v.config.to_json(), "max_n": v.max_n, "warm": v.warm}
            for v in variants
        ],
        "federation_file": str(FEDERATION_PATH.relative_to(ROOT))
        if FEDERATION_PATH.exists()
        else None,
        "summary_random": summaries,
        "summary_federation": {m: summarise(fed_recs, m) for m in all_methods()}
        if fed_recs
        else None,
        "goal": goal,
        "noisy": noisy,
        "instances": records,
    }
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(out, indent=1) + "\n")
    write_report(out, args.quick)
    print(f"wrote {json_path}, {png_path}, {DOC_PATH} in {seconds / 60:.1f} min")


def write_report(out: dict[str, Any], quick: bool) -> None:
    """Plot and markdown section from a run's raw results (``--report-only`` reuses the JSON)."""
    records = out["instances"]
    noisy = out["noisy"]
    seconds = out["seconds"]
    command = out["command"]
    vers = out["versions"]
    rand_recs = [r for r in records if r["source"] == "random"]
    fed_recs = [r for r in records if r["source"] == "federation"]
    groups = group_by_n(rand_recs)
    sizes = list(groups)
    per = max(len(recs) for recs in groups.values())
    variants = VARIANTS
    goal_table, goal = goal_check(groups)
    suffix = "_quick" if quick else ""
    json_path = ROOT / "docs" / "benchmarks" / f"quantum_selection{suffix}.json"
    png_path = ROOT / "docs" / f"quantum_selection{suffix}.png"
    plot(groups, png_path)

    over_budget = sum(
        1
        for r in records
        for m, v in r["methods"].items()
        if m.startswith("qaoa") and "error" not in v and v["seconds"] > PRODUCT_BUDGET
    )
    limited = [v for v in variants if v.max_n < max(sizes)]
    ratio_table = summary_table(
        groups, lambda s: f"{fmt(s['ratio_median'])} / {fmt(s['ratio_worst'])}"
    )
    popt_table = summary_table(
        groups,
        lambda s: (
            f"{fmt(s['p_opt_over_uniform_median'], 2)} ({fmt(s['p_opt_over_uniform_min'], 2)})"
            if s["p_opt_over_uniform_median"] is not None
            else f"found {s['optimum_found']}/{s['instances']}"
        ),
    )
    feas_table = summary_table(
        groups, lambda s: fmt(s["p_feasible_median"]) if s["p_feasible_median"] is not None else "-"
    )
    time_table = summary_table(groups, lambda s: fmt_s(s["seconds_median"]))
    parts = [
        f"## Sweep ({'quick' if quick else 'full'})",
        f"Command: `.venv/bin/python {command}`; {out['date']}; total {seconds / 60:.1f} min.  ",
        f"Machine: {out['machine']}; Aer with OMP_NUM_THREADS={out['omp_num_threads']}.  ",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in vers.items()) + ".  ",
        f"Raw results: [`{json_path.relative_to(ROOT)}`]({json_path.name}); "
        f"angles: `fqai/quantum/angles.json` (trained by `bench/qaoa_angles.py`).",
        "",
        f"Random instances: n = {', '.join(map(str, sizes))}, k = n/2, {per} seeded instances "
        "per n, scores U[0,1], redundancy = clipped cosine of update-like vectors around 3 "
        "cluster centres, lambda balancing the two terms (`clustered_instance` in "
        "`bench/qaoa_angles.py`; seeds disjoint from the angle training set). Every QAOA figure "
        f"is from Qiskit Aer: P(feasible) and P(opt) are exact statevector probabilities, the "
        f"answer is the best feasible of {SHOTS} sampled bitstrings. COBYLA (maxiter 100) for "
        "the `opt` variants starts from the stored angles; `transfer` runs the stored angles "
        "unchanged. "
        + (
            "Optimised variants run only up to "
            + ", ".join(f"n = {v.max_n} ({v.label})" for v in limited)
            + " to keep the full run within 30 min on this machine; "
            if limited
            else ""
        )
        + f"{over_budget} QAOA run(s) took longer than the product's default 20 s budget "
        "(the benchmark lifts the budget so that every run finishes).",
        "",
        "![quantum selection](../quantum_selection" + suffix + ".png)",
        "",
        "### Approximation ratio of the answer, median / worst",
        ratio_table,
        "",
        "### P(optimum) / uniform, median (min)",
        "Uniform = a uniformly random k-subset (#optima / C(n, k)) for every row, so rows "
        "compare; random k-subsets are 1 by definition and random bitstrings are "
        "C(n, k) / 2^n. (The penalty variant's own figure in the JSON, against 1/2^n, is "
        "2^n / C(n, k) times larger.) Deterministic solvers: how many instances they solved "
        "exactly.",
        popt_table,
        "",
        "### P(feasible), median",
        feas_table,
        "",
        "### Wall time per instance, median",
        "QAOA: build, angle search, statevector and sampling on the CPU simulator.",
        time_table,
        "",
        "### Goal check at n = 12-16 (10x uniform, never below random sampling at equal shots)",
        goal_table,
    ]
    if fed_recs:
        rows = []
        for m in all_methods():
            s = summarise(fed_recs, m)
            if s is None:
                rows.append([m, "not run", "", "", ""])
                continue
            rows.append(
                [
                    m,
                    f"{fmt(s['ratio_median'])} / {fmt(s['ratio_worst'])}",
                    fmt(s["p_feasible_median"]) if s["p_feasible_median"] is not None else "-",
                    f"{fmt(s['p_opt_over_uniform_median'], 2)} "
                    f"({fmt(s['p_opt_over_uniform_min'], 2)})"
                    if s["p_opt_over_uniform_median"] is not None
                    else f"found {s['optimum_found']}/{s['instances']}",
                    fmt_s(s["seconds_median"]),
                ]
            )
        sizes_fed = sorted({(r["n"], r["k"]) for r in fed_recs})
        parts += [
            "",
            f"### Instances from federation rounds ({len(fed_recs)}, from "
            f"`{FEDERATION_PATH.relative_to(ROOT)}`)",
            "Sources: "
            + ", ".join(sorted({r["name"].rsplit(" round", 1)[0] for r in fed_recs}))
            + "; (n, k): "
            + ", ".join(f"({n}, {k})" for n, k in sizes_fed)
            + ".",
            markdown_table(
                [
                    "method",
                    "ratio median / worst",
                    "P(feasible)",
                    "P(opt)/uniform median (min)",
                    "time median",
                ],
                rows,
            ),
        ]
    else:
        parts += [
            "",
            f"No federation-round instances: `{FEDERATION_PATH.relative_to(ROOT)}` was absent "
            "when this ran.",
        ]
    if noisy:
        rows = []
        for row in noisy:
            a, b = row.get("aer", {}), row.get(NOISY_BACKEND, {})
            if "error" in a or "error" in b:
                rows.append([row["instance"], row["variant"], "error", "", "", ""])
                continue
            rows.append(
                [
                    row["instance"],
                    row["variant"],
                    f"{a['p_feasible']:.3f} -> {b['p_feasible']:.3f}",
                    f"{a['p_opt']:.3f} -> {b['p_opt']:.3f}",
                    f"{a['p_opt_over_own_uniform']:.1f}x -> {b['p_opt_over_own_uniform']:.1f}x",
                    a["two_qubit_gates"],
                ]
            )
        parts += [
            "",
            f"### Noise: n = {NOISY_N} on the noise model of `{NOISY_BACKEND}` (local)",
            "Same angles (optimised on the noiseless statevector), sampled "
            f"{SHOTS} times on Aer with the noise model of qiskit-ibm-runtime's fake 127-qubit "
            "device, vs the exact noiseless probabilities. P(opt)/uniform against each "
            "variant's own uniform (1/C(n,k) for Dicke-XY, 1/2^n for penalty).",
            markdown_table(
                [
                    "instance",
                    "variant",
                    "P(feasible) exact -> noisy",
                    "P(opt) exact -> noisy",
                    "P(opt)/uniform",
                    "CX in circuit (cx/rz/sx/x basis)",
                ],
                rows,
            ),
        ]
    parts += ["", "### Conclusion", conclusion(groups, goal, fed_recs, noisy)]
    if not DOC_PATH.exists():
        DOC_PATH.parent.mkdir(parents=True, exist_ok=True)
        DOC_PATH.write_text(DOC_HEADER)
    write_section("quantum-quick" if quick else "quantum", "\n".join(parts), path=DOC_PATH)


if __name__ == "__main__":
    main()
