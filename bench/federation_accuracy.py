"""Federated vs centralised accuracy on scikit-learn digits, with and without client-level DP.

Run from the repository root::

    .venv/bin/python bench/federation_accuracy.py [--quick]

In-process federation (see bench/federation_common.py): Flower 1.41's ``FedAvg`` samples and
aggregates, fqai's task code trains ``DigitsCNN`` on each node's partition of the same split.
Partitions: IID, Dirichlet(0.5), Dirichlet(0.1). The centralised baseline trains the same model
with the same optimiser for the same number of passes over the data (rounds x local epochs).

DP: Flower's ``DifferentialPrivacyServerSideFixedClipping`` around ``FedAvg`` (uniform weights,
every node every round), accounted by :class:`fqai.federation.privacy.RdpGaussianAccountant`
through Flower's accountant hook; the noise multiplier is calibrated so that the accounted
epsilon after the last round is at most the target. Client-level DP (one node's whole data).

Writes the ``accuracy`` section of docs/benchmarks/federation.md and
docs/federation_accuracy.png (or docs/federation_accuracy_quick.png with --quick).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from federation_common import (
    ROOT,
    LocalTraining,
    cpu_description,
    markdown_table,
    now_utc,
    pct,
    quiet_flower,
    run_centralised,
    run_federated,
    write_section,
)
from federation_plot import line_chart
from flwr.serverapp.strategy import DifferentialPrivacyServerSideFixedClipping, FedAvg
from flwr.supercore.privacy_accounting import (
    NeighboringRelation,
    PrivacyConfig,
    SamplingMethod,
)

from fqai.federation.privacy import RdpGaussianAccountant, calibrate_noise
from fqai.federation.task import load_dataset, partition_indices

DELTA = 1e-5


@dataclass(frozen=True)
class Budget:
    nodes: int
    rounds: int
    local: LocalTraining
    seeds: tuple[int, ...]
    dp_rounds: int
    dp_nodes: tuple[tuple[int, int], ...]  # (nodes, local epochs)
    dp_epsilons: tuple[float, ...]
    dp_clip: float


FULL = Budget(
    nodes=10,
    rounds=40,
    local=LocalTraining(epochs=2),
    seeds=(0, 1, 2),
    dp_rounds=20,
    dp_nodes=((10, 2), (100, 2)),
    dp_epsilons=(1.0, 8.0, 64.0),
    dp_clip=0.5,
)
QUICK = Budget(
    nodes=10,
    rounds=8,
    local=LocalTraining(epochs=2),
    seeds=(0,),
    dp_rounds=8,
    dp_nodes=((100, 2),),
    dp_epsilons=(1.0,),
    dp_clip=0.5,
)


def fedavg(nodes: int) -> FedAvg:
    return FedAvg(fraction_train=1.0, fraction_evaluate=0.0, min_available_nodes=nodes)


def final(acc: list[float]) -> float:
    """Mean test accuracy over the last 3 evaluation points (smooths round-to-round jitter)."""
    return float(np.mean(acc[-3:]))


def first_within(acc: list[float], target: float, pp: float) -> str:
    for i, a in enumerate(acc):
        if a >= target - pp / 100:
            return str(i)
    return "never"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke-check budget (< 2 min)")
    args = parser.parse_args()
    budget = QUICK if args.quick else FULL
    quiet_flower()
    torch.set_num_threads(1)
    started = time.perf_counter()
    data = load_dataset("digits", 0)
    passes = budget.rounds * budget.local.epochs

    # --- centralised baseline, evaluated every `local.epochs` epochs (= one round) ---------
    central: list[list[float]] = []
    for seed in budget.seeds:
        central.append(
            run_centralised(
                data, passes, local=budget.local, seed=seed, eval_every=budget.local.epochs
            )
        )
        print(f"centralised seed {seed}: {pct(central[-1][-1])} %", file=sys.stderr)
    central_final = statistics.mean(final(c) for c in central)

    settings = [("iid", 0.0), ("dirichlet", 0.5), ("dirichlet", 0.1)]
    curves: dict[str, list[list[float]]] = {}
    for partitioner, alpha in settings:
        label = "IID" if partitioner == "iid" else f"Dirichlet alpha={alpha}"
        curves[label] = []
        for seed in budget.seeds:
            parts = partition_indices(data, budget.nodes, partitioner, seed=seed, alpha=alpha)
            run = run_federated(
                data, parts, fedavg(budget.nodes), budget.rounds, local=budget.local, seed=seed
            )
            curves[label].append(run.accuracy)
            print(f"{label} seed {seed}: {pct(run.accuracy[-1])} %", file=sys.stderr)

    rows = []
    mean_central_curve = np.mean(np.array(central), axis=0).tolist()
    rows.append(
        [
            "centralised (same passes)",
            "—",
            " / ".join(pct(final(c)) for c in central),
            pct(central_final),
            "—",
            "—",
            "reference",
        ]
    )
    for label, runs in curves.items():
        finals = [final(r) for r in runs]
        gap = 100 * (central_final - statistics.mean(finals))
        mean_curve = np.mean(np.array(runs), axis=0).tolist()
        rows.append(
            [
                f"FedAvg, {label}",
                str(budget.nodes),
                " / ".join(pct(f) for f in finals),
                pct(statistics.mean(finals)),
                f"{gap:+.1f}",
                first_within(mean_curve, central_final, 1.0),
                "✅ met" if gap <= 1.0 else "❌ missed",
            ]
        )

    # --- DP -----------------------------------------------------------------------------------
    dp_rows = []
    dp_curves: dict[str, list[float]] = {}
    for nodes, dp_epochs in budget.dp_nodes:
        dp_local = LocalTraining(
            epochs=dp_epochs, lr=budget.local.lr, batch_size=budget.local.batch_size
        )
        seed = budget.seeds[0]
        parts = partition_indices(data, nodes, "iid", seed=seed)
        ref = run_federated(
            data,
            parts,
            fedavg(nodes),
            budget.dp_rounds,
            local=dp_local,
            seed=seed,
            uniform_weights=True,
        )
        for eps in budget.dp_epsilons:
            sigma = calibrate_noise(eps, budget.dp_rounds, DELTA)
            accountant = RdpGaussianAccountant(
                PrivacyConfig(
                    target_delta=DELTA,
                    population_size=nodes,
                    neighboring_relation=NeighboringRelation.ADD_OR_REMOVE_ONE,
                    sampling_method=SamplingMethod.NO_AMPLIFICATION,
                )
            )
            strategy = DifferentialPrivacyServerSideFixedClipping(
                fedavg(nodes),
                noise_multiplier=sigma,
                clipping_norm=budget.dp_clip,
                num_sampled_clients=nodes,
                accountant=accountant,
            )
            np.random.seed(seed)  # Flower draws its DP noise from numpy's global generator
            run = run_federated(
                data,
                parts,
                strategy,
                budget.dp_rounds,
                local=dp_local,
                seed=seed,
                uniform_weights=True,
            )
            spent = accountant.get_privacy_spent()
            acc = final(run.accuracy)
            gap = 100 * (central_final - acc)
            dp_curves[f"DP ε={eps:g}, {nodes} nodes"] = run.accuracy
            dp_rows.append(
                [
                    str(nodes),
                    f"{eps:g}",
                    f"{sigma:.2f}",
                    f"{sigma * budget.dp_clip / nodes:.4f}",
                    f"{spent.epsilon:.3f} (δ={DELTA:g}, {spent.num_releases} releases)",
                    pct(final(ref.accuracy)),
                    pct(acc),
                    f"{gap:+.1f}",
                    ("✅ met" if gap <= 5.0 else "❌ missed") if eps == 1.0 else "(sweep)",
                ]
            )
            print(f"DP nodes={nodes} eps={eps}: {pct(acc)} %", file=sys.stderr)

    # --- plot ---------------------------------------------------------------------------------
    plot_name = "federation_accuracy_quick.png" if args.quick else "federation_accuracy.png"
    series_labels = ["centralised (x = epochs / local epochs)"]
    series = [(list(range(len(mean_central_curve))), [100 * a for a in mean_central_curve])]
    for label, runs in curves.items():
        mean_curve = np.mean(np.array(runs), axis=0)
        series_labels.append(f"FedAvg {label} (mean of {len(runs)} seeds)")
        series.append((list(range(len(mean_curve))), [100 * a for a in mean_curve]))
    for label, acc_curve in dp_curves.items():
        series_labels.append(label)
        series.append((list(range(len(acc_curve))), [100 * a for a in acc_curve]))
    colours = line_chart(
        ROOT / "docs" / plot_name,
        series,
        x_max=float(max(budget.rounds, budget.dp_rounds)),
        x_step=5.0 if budget.rounds <= 20 else 10.0,
    )
    legend = ", ".join(
        f"{i + 1} = {label} ({c})"
        for i, (label, c) in enumerate(zip(series_labels, colours, strict=True))
    )

    elapsed = time.perf_counter() - started
    command = "python bench/federation_accuracy.py" + (" --quick" if args.quick else "")
    table = markdown_table(
        [
            "setting",
            "nodes",
            "final acc. per seed (%)",
            "mean (%)",
            "gap to centralised (pp)",
            "first round within 1 pp",
            "goal ≤ 1 pp",
        ],
        rows,
    )
    dp_table = markdown_table(
        [
            "nodes",
            "target ε",
            "noise mult. z",
            "noise std on mean",
            "ε spent (accounted)",
            "no-DP acc. (%)",
            "DP acc. (%)",
            "gap to centralised (pp)",
            "goal ≤ 5 pp at ε = 1",
        ],
        dp_rows,
    )
    quick = " (--quick)" if args.quick else ""
    body = f"""## Accuracy: federated vs centralised, IID / non-IID, DP{quick}

- Command: `{command}` — {now_utc()}, {elapsed:.0f} s
- Machine: {cpu_description()}
- Task: scikit-learn `digits`, fqai's stratified 80/20 split (1437 train / 360 test), `DigitsCNN`
  (38 282 parameters), local SGD lr {budget.local.lr}, momentum 0.9, batch
  {budget.local.batch_size}, {budget.local.epochs} local epochs per round; seeds
  {", ".join(map(str, budget.seeds))} (model init, partitions, shuffling).
- Federation run **in-process**: Flower 1.41 `FedAvg.configure_train` / `aggregate_train` on
  real Flower `Message`s, fqai's task code on each node's partition; no SuperLink processes
  (the integration tests cover that path). Every node trains every round.
- "Final" accuracy = mean test accuracy over the last 3 rounds (epochs for centralised).
  Centralised = same model and optimiser, {passes} epochs over the whole training split (the
  same number of passes over each sample as {budget.rounds} rounds x {budget.local.epochs}
  local epochs).

{table}

### Client-level differential privacy

- Flower's `DifferentialPrivacyServerSideFixedClipping` around `FedAvg` (uniform client weights,
  as Flower's accounted path requires), clipping norm {budget.dp_clip} on each update
  `local - global` (chosen from non-private pilot runs, where the median update norm in the
  first 4 rounds was 0.27-0.41 with 10 nodes x 2 local epochs and 0.23-0.27 with 100 nodes x 5
  local epochs; that choice is not itself accounted), Gaussian noise of
  std `z · C / n` on the mean of the `n` updates, {budget.dp_rounds} rounds, all nodes every
  round, IID partitions, seed {budget.seeds[0]}.
- Accounting: `fqai.federation.privacy.RdpGaussianAccountant` passed to Flower as its
  `accountant` (Flower's own `RdpAccountant` needs `dp-accounting`, not installed). Mechanism:
  Gaussian, add/remove-one-**client** neighbours, no sampling amplification
  (`NO_AMPLIFICATION`), RDP composed over the rounds, converted to (ε, δ) with Balle et al.
  2020; `z` is the smallest noise multiplier giving ε ≤ target after {budget.dp_rounds} releases.
  The evaluation metrics are not accounted (Flower's note: only model updates are).
- "No-DP acc." is the same uniform-weight FedAvg without clipping or noise.

{dp_table}

Plot: [`docs/{plot_name}`](../{plot_name}) — test accuracy (%) per round; swatches in the
right margin numbered {legend}.
"""
    print(body)
    write_section("accuracy" + ("-quick" if args.quick else ""), body)


if __name__ == "__main__":
    main()
