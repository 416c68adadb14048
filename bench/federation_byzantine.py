"""Byzantine robustness: FedAvg vs Krum, trimmed mean and median under 20 % or 30 % attackers.

Run from the repository root::

    .venv/bin/python bench/federation_byzantine.py [--quick] [--fraction 0.3]

In-process federation (bench/federation_common.py) on scikit-learn digits with ``DigitsCNN``, IID
partitions over 10 nodes, of which 2 (20 %, or 3 with ``--fraction 0.3``; a seeded choice) send
a transformed update every round (:mod:`fqai.federation.attacks`):

* sign flip: ``global - 4 * (local - global)``;
* scaling: ``global + 10 * (local - global)``.

Aggregation is Flower 1.41's own ``aggregate_train`` of ``FedAvg``, ``Krum``
(``num_malicious_nodes=2``), ``FedTrimmedAvg`` (``beta=0.2``) and ``FedMedian``, unchanged.
Writes the ``byzantine`` section of docs/benchmarks/federation.md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from federation_common import (
    LocalTraining,
    Weights,
    cpu_description,
    markdown_table,
    now_utc,
    pct,
    quiet_flower,
    run_federated,
    write_section,
)
from flwr.serverapp.strategy import FedAvg, FedMedian, FedTrimmedAvg, Krum, Strategy

from fqai.federation.attacks import apply_attack, malicious_nodes
from fqai.federation.task import load_dataset, partition_indices

NODES = 10
FRACTION = 0.2
ATTACKS = {"sign-flip": 4.0, "scaling": 10.0}


@dataclass(frozen=True)
class Budget:
    rounds: int
    local: LocalTraining
    seeds: tuple[int, ...]


FULL = Budget(rounds=30, local=LocalTraining(epochs=2), seeds=(0, 1))
QUICK = Budget(rounds=5, local=LocalTraining(epochs=2), seeds=(0,))


def strategies(fraction: float = FRACTION) -> dict[str, Strategy]:
    common = {"fraction_train": 1.0, "fraction_evaluate": 0.0, "min_available_nodes": NODES}
    malicious = round(fraction * NODES)
    return {
        "FedAvg": FedAvg(**common),  # type: ignore[arg-type]
        f"Krum (f={malicious})": Krum(num_malicious_nodes=malicious, **common),  # type: ignore[arg-type]
        "trimmed mean (beta=0.2)": FedTrimmedAvg(beta=0.2, **common),  # type: ignore[arg-type]
        "median": FedMedian(**common),  # type: ignore[arg-type]
    }


def final(acc: list[float]) -> float:
    return sum(acc[-3:]) / len(acc[-3:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke-check budget (< 2 min)")
    parser.add_argument(
        "--fraction", type=float, default=FRACTION, help="share of attacking nodes (0.2)"
    )
    args = parser.parse_args()
    fraction = args.fraction
    budget = QUICK if args.quick else FULL
    quiet_flower()
    torch.set_num_threads(1)
    started = time.perf_counter()
    data = load_dataset("digits", 0)

    results: dict[tuple[str, str], list[float]] = {}
    names = list(strategies(fraction))
    for seed in budget.seeds:
        parts = partition_indices(data, NODES, "iid", seed=seed)
        bad = malicious_nodes(NODES, fraction, seed)
        for attack in ["none", *ATTACKS]:
            for name, strategy in strategies(fraction).items():
                transform = None
                if attack != "none":

                    def transform(
                        node: int,
                        global_w: Weights,
                        local_w: Weights,
                        attack: str = attack,
                        bad: frozenset[int] = bad,
                    ) -> Weights:
                        if node not in bad:
                            return local_w
                        return apply_attack(attack, global_w, local_w, ATTACKS[attack])

                run = run_federated(
                    data,
                    parts,
                    strategy,
                    budget.rounds,
                    local=budget.local,
                    seed=seed,
                    transform=transform,
                )
                results.setdefault((attack, name), []).append(final(run.accuracy))
                print(f"seed {seed} {attack} {name}: {pct(final(run.accuracy))} %", file=sys.stderr)

    clean_fedavg = statistics.mean(results[("none", "FedAvg")])
    rows = []
    for attack in ["none", *ATTACKS]:
        for name in names:
            accs = results[(attack, name)]
            mean = statistics.mean(accs)
            clean_same = statistics.mean(results[("none", name)])
            gap = 100 * (clean_fedavg - mean)
            if attack == "none":
                verdict = "reference" if name == "FedAvg" else ""
            elif name == "FedAvg":
                verdict = "(unprotected)"
            else:
                verdict = "✅ met" if gap <= 2.0 else "❌ missed"
            rows.append(
                [
                    attack,
                    name,
                    " / ".join(pct(a) for a in accs),
                    pct(mean),
                    f"{gap:+.1f}",
                    f"{100 * (clean_same - mean):+.1f}",
                    verdict,
                ]
            )
    elapsed = time.perf_counter() - started
    command = "python bench/federation_byzantine.py" + (" --quick" if args.quick else "")
    if fraction != FRACTION:
        command += f" --fraction {fraction}"
    table = markdown_table(
        [
            "attack",
            "aggregation",
            "final acc. per seed (%)",
            "mean (%)",
            "gap to clean FedAvg (pp)",
            "gap to same rule, clean (pp)",
            "goal ≤ 2 pp",
        ],
        rows,
    )
    quick = " (--quick)" if args.quick else ""
    share = f"{fraction:.0%} attackers"
    body = f"""## Byzantine nodes ({share}): FedAvg vs Krum, trimmed mean, median{quick}

- Command: `{command}` — {now_utc()}, {elapsed:.0f} s
- Machine: {cpu_description()}
- Task: scikit-learn `digits`, `DigitsCNN`, IID partitions over {NODES} nodes, {budget.rounds}
  rounds, {budget.local.epochs} local epochs (SGD lr {budget.local.lr}, momentum 0.9), seeds
  {", ".join(map(str, budget.seeds))}; every node every round. In-process federation: Flower
  1.41's `configure_train` / `aggregate_train` of each strategy, unchanged, on real `Message`s.
- Attackers: {round(fraction * NODES)} of {NODES} nodes ({fraction:.0%}, seeded choice per
  seed), every round. Sign flip sends `global - 4 (local - global)`; scaling sends
  `global + 10 (local - global)` (`fqai.federation.attacks`). They train honestly first, so
  their update direction is realistic.
- Krum: `num_malicious_nodes={round(fraction * NODES)}`; trimmed mean:
  `FedTrimmedAvg(beta=0.2)` (20 % cut at each end per coordinate); median: `FedMedian`
  (coordinate-wise).
- Final accuracy = mean test accuracy over the last 3 rounds. Goal: a robust rule under
  attack within 2 pp of the clean FedAvg run.

{table}
"""
    print(body)
    suffix = "" if fraction == FRACTION else f"-{round(100 * fraction)}"
    write_section("byzantine" + suffix + ("-quick" if args.quick else ""), body)


if __name__ == "__main__":
    main()
