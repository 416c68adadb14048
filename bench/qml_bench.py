"""The hybrid quantum classifier against its classical twins, centralised and federated.

Run from the repository root (``make bench`` runs the full budget)::

    nice .venv/bin/python bench/qml_bench.py [--quick] [--qubits 4 6 8] [--seeds 5]

What it measures, on scikit-learn's breast-cancer data reduced by PCA (fitted on the training
split) to one angle per qubit, exactly the features the federation's quantum model sees
(:func:`fqai.federation.task.load_dataset` with a ``quantum`` model setting):

* **models**: fqai's :class:`~fqai.qml.model.HybridClassifier` (angle encoding, ``real_amplitudes``
  with ``reps`` 2 and linear entanglement, ⟨Z_i⟩ read-outs, a linear head: ``4 q + 1``
  parameters), an MLP on the same features with as close a number of trainable parameters as a
  whole hidden layer allows (``q -> h -> 1``, tanh), and logistic regression (``q + 1``
  parameters). All three output one logit, trained with the same cross-entropy, SGD with
  momentum, learning rate, batch size and number of passes over the data (fqai's
  :func:`~fqai.federation.task.train`);
* **settings**: centralised (``--epochs`` epochs on the whole training split), federated IID and
  federated non-IID (Dirichlet ``--alpha``) with ``--clients`` clients, ``--rounds`` rounds of
  one local epoch, FedAvg weighted by samples (Flower's ``FedAvg`` in-process, float64
  accumulation, float32 result as the coordinator). ``--seeds`` seeds each (initial weights,
  data split, partitions); the table gives mean ± sample standard deviation;
* **circuit noise**: each seed's federated IID quantum model evaluated exactly, with shots on
  Aer (noise-free sampling: ``--shots-grid``) and on a local noisy fake IBM device (Manila up to
  5 qubits, Toronto above; the circuit transpiled to its coupling map and basis gates, its noise
  model simulated on Aer as a density matrix, 1024 shots);
* **time per round**: wall time of one federated round (all clients trained one after the other
  in this process, then aggregated; no transport) for each model, the quantum one on Aer's
  EstimatorV2 and on fqai's numpy statevector simulator.

The quantum model is trained on the exact statevector simulator (``--simulator``, cross-checked
against Aer's EstimatorV2 to 1e-6 in tests/python/test_qml.py); both give the same numbers up
to floating-point rounding, the simulator only changes the time.

Writes docs/benchmarks/qml.md (section ``qml``, or ``qml-quick``), docs/benchmarks/qml.json (or
``qml_quick.json``) and docs/qml_accuracy.png (or ``qml_accuracy_quick.png``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

# One thread per library: the machine is shared (set before numpy, torch and Aer are imported).
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))

from federation_common import (
    ROOT,
    InProcessGrid,
    cpu_description,
    markdown_table,
    now_utc,
    quiet_flower,
    write_section,
)
from flwr.app import ConfigRecord, Message, MetricRecord, RecordDict
from flwr.serverapp.strategy import FedAvg

from fqai.federation import task
from fqai.federation.aggregation import widen
from fqai.federation.records import record_to_weights, weights_to_record
from fqai.qml.executors import default_fake_device, make_executor
from fqai.qml.model import HybridClassifier
from fqai.qml.spec import ExecutionSettings, QuantumModelSpec

DOC = ROOT / "docs" / "benchmarks" / "qml.md"
DOC_HEADER = """# Quantum models: the hybrid classifier against its classical twins

Every figure below was measured by the command shown in its section, on the machine named there.
The section is rewritten in place by `bench/qml_bench.py`; `--quick` runs are smoke checks with
smaller budgets, written to their own `qml-quick` section at the end. Conclusions:
[QUANTUM.md](../QUANTUM.md#quantum-models).

"""
MODELS = ("quantum", "mlp", "logistic")
SETTINGS = ("central", "iid", "noniid")
SETTING_NAMES = {"central": "centralised", "iid": "federated IID", "noniid": "federated non-IID"}
MODEL_NAMES = {"quantum": "quantum (hybrid)", "mlp": "MLP", "logistic": "logistic regression"}

Weights = dict[str, NDArray[np.float32]]


class OneLogit(nn.Module):
    """Wrap a one-output network as two-class logits ``(0, z)``, as the quantum model does."""

    def __init__(self, body: nn.Module) -> None:
        super().__init__()
        self.body = body

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.body(x)
        return torch.cat([torch.zeros_like(z), z], dim=1)


def mlp_hidden(qubits: int, target: int) -> int:
    """Hidden width of a ``q -> h -> 1`` MLP whose parameter count is closest to ``target``."""
    return min(range(1, 64), key=lambda h: (abs(h * (qubits + 2) + 1 - target), h))


@dataclass(frozen=True)
class Config:
    qubits: int
    reps: int
    epochs: int
    rounds: int
    clients: int
    alpha: float
    lr: float
    batch_size: int
    simulator: str

    @property
    def quantum_setting(self) -> str:
        return f"quantum:qubits={self.qubits},reps={self.reps},backend={self.simulator}"


def build(kind: str, cfg: Config, seed: int, simulator: str | None = None) -> nn.Module:
    torch.manual_seed(seed)
    if kind == "quantum":
        return HybridClassifier(
            QuantumModelSpec(qubits=cfg.qubits, reps=cfg.reps),
            execution=ExecutionSettings(simulator or cfg.simulator),
            seed=seed,
        )
    target = QuantumModelSpec(qubits=cfg.qubits, reps=cfg.reps).num_weights + cfg.qubits + 1
    if kind == "mlp":
        h = mlp_hidden(cfg.qubits, target)
        return OneLogit(nn.Sequential(nn.Linear(cfg.qubits, h), nn.Tanh(), nn.Linear(h, 1)))
    return OneLogit(nn.Linear(cfg.qubits, 1))


def count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def centralised(kind: str, cfg: Config, data: task.Dataset, seed: int) -> float:
    model = build(kind, cfg, seed)
    for epoch in range(cfg.epochs):
        task.train(model, data.x_train, data.y_train, epochs=1, lr=cfg.lr,
                   batch_size=cfg.batch_size, seed=seed * 1000 + epoch)  # fmt: skip
    return task.evaluate(model, data.x_test, data.y_test).accuracy


@dataclass
class FederatedResult:
    accuracy: float
    round_seconds: list[float]
    weights: Weights


def federated(
    kind: str,
    cfg: Config,
    data: task.Dataset,
    parts: Sequence[NDArray[np.int64]],
    seed: int,
    *,
    rounds: int | None = None,
    simulator: str | None = None,
) -> FederatedResult:
    """FedAvg (Flower's, in-process) over ``parts``; one local epoch per round."""
    model = build(kind, cfg, seed, simulator)
    global_weights = task.get_weights(model)
    grid = InProcessGrid(len(parts))
    strategy = FedAvg(min_train_nodes=len(parts), min_available_nodes=len(parts),
                      fraction_evaluate=0.0)  # fmt: skip
    seconds = []
    for rnd in range(1, (rounds or cfg.rounds) + 1):
        started = time.perf_counter()
        messages = list(
            strategy.configure_train(rnd, weights_to_record(global_weights), ConfigRecord(), grid)  # type: ignore[arg-type]
        )
        replies = []
        for msg in messages:
            node = int(msg.metadata.dst_node_id) - 1
            idx = parts[node]
            task.set_weights(model, global_weights)
            node_seed = seed * 100_003 + rnd * 1_009 + node
            result = task.train(model, data.x_train[idx], data.y_train[idx], epochs=1, lr=cfg.lr,
                                batch_size=cfg.batch_size, seed=node_seed)  # fmt: skip
            content = RecordDict({
                "arrays": weights_to_record(widen(task.get_weights(model))),
                "metrics": MetricRecord({"num-examples": result.samples}),
            })  # fmt: skip
            replies.append(Message(content, reply_to=msg))
        arrays, _ = strategy.aggregate_train(rnd, replies)
        assert arrays is not None
        global_weights = {
            k: np.asarray(v, dtype=np.float32) for k, v in record_to_weights(arrays).items()
        }
        seconds.append(time.perf_counter() - started)
    task.set_weights(model, global_weights)
    return FederatedResult(
        task.evaluate(model, data.x_test, data.y_test).accuracy, seconds, global_weights
    )


def noise_evaluations(
    cfg: Config, data: task.Dataset, weights: Weights, shots_grid: Sequence[int], seed: int
) -> dict[str, float]:
    """Accuracy of one trained quantum model exactly, with shots on Aer, on a fake device."""
    model = build("quantum", cfg, seed, "statevector")
    task.set_weights(model, weights)
    assert isinstance(model, HybridClassifier)
    out = {"exact": task.evaluate(model, data.x_test, data.y_test).accuracy}
    for shots in shots_grid:
        model.use(make_executor(model.circuit, ExecutionSettings("aer", shots), seed=seed))
        out[f"aer_{shots}"] = task.evaluate(model, data.x_test, data.y_test).accuracy
    device = default_fake_device(cfg.qubits)
    started = time.perf_counter()
    executor = make_executor(model.circuit, ExecutionSettings(f"fake:{device}", 1024), seed=seed)
    model.use(executor)
    out["device"] = task.evaluate(model, data.x_test, data.y_test).accuracy
    out["device_seconds"] = time.perf_counter() - started
    figures = executor.describe()
    out["device_depth"] = figures["depth"]
    out["device_two_qubit_gates"] = figures["two_qubit_gates"]
    return out


def mean_sd(values: Sequence[float]) -> tuple[float, float]:
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def fmt(values: Sequence[float]) -> str:
    m, s = mean_sd(values)
    return f"{100 * m:.1f} ± {100 * s:.1f}"


def holdout(data: task.Dataset, seed: int, fraction: float = 0.2) -> task.Dataset:
    """The training split cut into train and a stratified validation part (as ``x_test``)."""
    rng = np.random.default_rng(10_000 + seed)
    val: list[int] = []
    for label in np.unique(data.y_train):
        idx = np.flatnonzero(data.y_train == label)
        rng.shuffle(idx)
        val.extend(idx[: round(len(idx) * fraction)].tolist())
    mask = np.zeros(len(data.y_train), dtype=bool)
    mask[val] = True
    return task.Dataset(data.name, data.x_train[~mask], data.y_train[~mask], data.x_train[mask],
                        data.y_train[mask], data.num_classes)  # fmt: skip


def run_setting(
    kind: str, setting: str, cfg: Config, data: task.Dataset, seed: int
) -> FederatedResult:
    """One model trained in one setting; accuracy on ``data.x_test``."""
    if setting == "central":
        return FederatedResult(centralised(kind, cfg, data, seed), [], {})
    if setting == "iid":
        parts = task.partition_indices(data, cfg.clients, "iid", seed=seed)
    else:
        parts = task.partition_indices(data, cfg.clients, "dirichlet", seed=seed, alpha=cfg.alpha)
    return federated(kind, cfg, data, parts, seed)


def run_qubits(
    cfg: Config,
    seeds: Sequence[int],
    lr_grid: Sequence[float],
    shots_grid: Sequence[int],
    log: Callable[[str], None],
) -> dict[str, Any]:
    """Choose each model's learning rate per setting on validation data, then measure."""
    data = {s: task.load_dataset("breast_cancer", seed=s, model=cfg.quantum_setting) for s in seeds}
    # 1. Learning rate per (model, setting): best mean validation accuracy over the seeds, each
    #    seed's validation part carved from its training split (the test split is not used).
    validation: dict[str, dict[str, dict[str, float]]] = {m: {s: {} for s in SETTINGS}
                                                          for m in MODELS}  # fmt: skip
    chosen: dict[str, dict[str, float]] = {m: {} for m in MODELS}
    for kind in MODELS:
        t0 = time.perf_counter()
        for setting in SETTINGS:
            for lr in lr_grid:
                tuned = replace(cfg, lr=lr)
                accs = [run_setting(kind, setting, tuned, holdout(data[s], s), s).accuracy
                        for s in seeds]  # fmt: skip
                validation[kind][setting][str(lr)] = statistics.fmean(accs)
            scores = validation[kind][setting]
            chosen[kind][setting] = max(lr_grid, key=lambda lr: (scores[str(lr)], -lr))
        log(f"  q={cfg.qubits} {kind:<8} validation {json.dumps(validation[kind])} -> "
            f"{chosen[kind]} ({time.perf_counter() - t0:.1f} s)")  # fmt: skip
    # 2. Test accuracy with the chosen rates, trained on the whole training split.
    acc: dict[str, dict[str, list[float]]] = {m: {s: [] for s in SETTINGS} for m in MODELS}
    round_seconds: dict[str, list[float]] = {m: [] for m in MODELS}
    noise: list[dict[str, float]] = []
    for seed in seeds:
        for kind in MODELS:
            t0 = time.perf_counter()
            for setting in SETTINGS:
                result = run_setting(
                    kind, setting, replace(cfg, lr=chosen[kind][setting]), data[seed], seed
                )
                acc[kind][setting].append(result.accuracy)
                if setting == "iid":
                    round_seconds[kind].extend(result.round_seconds)
                    if kind == "quantum":
                        noise.append(noise_evaluations(
                            cfg, data[seed], result.weights, shots_grid, seed))  # fmt: skip
            log(
                f"  q={cfg.qubits} seed={seed} {kind:<8} central {acc[kind]['central'][-1]:.3f} "
                f"iid {acc[kind]['iid'][-1]:.3f} non-iid {acc[kind]['noniid'][-1]:.3f} "
                f"({time.perf_counter() - t0:.1f} s)"
            )
        log(f"  q={cfg.qubits} seed={seed} noise {json.dumps(noise[-1])}")
    # 3. Wall time of a round with the circuit on Aer's EstimatorV2 (exact): median of 3.
    parts = task.partition_indices(data[seeds[0]], cfg.clients, "iid", seed=seeds[0])
    aer = federated("quantum", cfg, data[seeds[0]], parts, seeds[0], rounds=3, simulator="aer")
    return {
        "qubits": cfg.qubits,
        "parameters": {kind: count(build(kind, cfg, 0)) for kind in MODELS},
        "learning_rates": chosen,
        "validation": validation,
        "accuracy": acc,
        "round_seconds": {
            "quantum_statevector": statistics.median(round_seconds["quantum"]),
            "quantum_aer": statistics.median(aer.round_seconds),
            "mlp": statistics.median(round_seconds["mlp"]),
            "logistic": statistics.median(round_seconds["logistic"]),
        },
        "noise": noise,
        "device": default_fake_device(cfg.qubits),
    }


def plot(results: list[dict[str, Any]], shots_grid: Sequence[int], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 4, figsize=(17, 4.2), sharey=True)
    qubits = [r["qubits"] for r in results]
    x = np.arange(len(qubits))
    width = 0.26
    colours = {"quantum": "#6a3d9a", "mlp": "#1f78b4", "logistic": "#b2df8a"}
    for ax, setting in zip(axes[:3], SETTINGS, strict=True):
        for i, kind in enumerate(MODELS):
            stats = [mean_sd(r["accuracy"][kind][setting]) for r in results]
            ax.bar(x + (i - 1) * width, [100 * m for m, _ in stats], width,
                   yerr=[100 * s for _, s in stats], capsize=3, color=colours[kind],
                   label=MODEL_NAMES[kind])  # fmt: skip
            for j, r in enumerate(results):  # every seed, as a dot
                seeds = r["accuracy"][kind][setting]
                ax.plot([x[j] + (i - 1) * width] * len(seeds), [100 * a for a in seeds], ".",
                        color="black", markersize=3)  # fmt: skip
        ax.set_title(SETTING_NAMES[setting])
        ax.set_xticks(x, [f"{q} qubits" for q in qubits])
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylabel("test accuracy (%)")
    axes[0].legend(loc="lower left", fontsize=8)
    ax = axes[3]
    labels = ["exact", *[f"{s} shots" for s in shots_grid], "fake device"]
    keys = ["exact", *[f"aer_{s}" for s in shots_grid], "device"]
    for i, r in enumerate(results):
        stats = [mean_sd([n[k] for n in r["noise"]]) for k in keys]
        ax.errorbar(np.arange(len(keys)) + (i - 1) * 0.08, [100 * m for m, _ in stats],
                    yerr=[100 * s for _, s in stats], marker="o", capsize=3,
                    label=f"{r['qubits']} qubits ({r['device']})")  # fmt: skip
    ax.set_xticks(np.arange(len(keys)), labels, rotation=30, ha="right", fontsize=8)
    ax.set_title("federated IID quantum model, circuit noise")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    lows = [min(min(r["accuracy"][k][s]) for k in MODELS for s in SETTINGS) for r in results] + [
        min(n[k] for n in r["noise"] for k in keys) for r in results
    ]
    axes[0].set_ylim(max(0, 100 * min(lows) - 5), 100)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def report(
    results: list[dict[str, Any]],
    args: argparse.Namespace,
    seeds: Sequence[int],
    elapsed: float,
    plot_path: Path,
) -> str:
    shots_grid = args.shots_grid
    command = "nice .venv/bin/python bench/qml_bench.py" + (" --quick" if args.quick else "")
    if not args.quick:
        command += (
            f" --qubits {' '.join(map(str, args.qubits))} --seeds {len(seeds)}"
            f" --epochs {args.epochs} --rounds {args.rounds}"
        )
    lines = [
        f"## Accuracy, noise and time{' (quick)' if args.quick else ''}",
        "",
        f"- Command: `{command}`, {now_utc()}, {elapsed / 60:.1f} min wall time",
        f"- Machine: {cpu_description()}; shared with other jobs, run under `nice`",
        f"- Data: breast cancer, stratified 80/20 split per seed ({len(seeds)} seeds: "
        f"{', '.join(map(str, seeds))}), PCA fitted on the training split to q angles in [0, π]",
        "- Training: SGD momentum 0.9, batch 32, cross-entropy on one logit; "
        f"centralised {args.epochs} epochs; federated {args.clients} clients x {args.rounds} "
        f"rounds x 1 local epoch, FedAvg by samples; non-IID = Dirichlet alpha = {args.alpha}; "
        "the accuracy of the last epoch or round is reported (no early stopping)",
        "- Learning rate: for each model, setting and qubit count, the one of "
        f"{', '.join(map(str, args.lr_grid))} with the best mean validation accuracy over the "
        "seeds (validation: a stratified 20 % of each seed's training split, the models trained "
        "on the other 80 %); then trained on the whole training split and measured on the test "
        "split, which the choice never sees",
        f"- Quantum model: angle encoding, real_amplitudes reps {args.reps}, linear "
        f"entanglement, ⟨Z_i⟩ + linear head, trained on the `{args.simulator}` simulator "
        "(exact), parameter-shift gradients",
        "",
        "Test accuracy (%), mean ± sd over seeds; parameters and the chosen learning rates "
        "(centralised / IID / non-IID) in brackets:",
        "",
    ]
    header = ["qubits", "model (parameters)", *[SETTING_NAMES[s] for s in SETTINGS]]
    rows = []
    for r in results:
        for kind in MODELS:
            rows.append([
                r["qubits"],
                f"{MODEL_NAMES[kind]} ({r['parameters'][kind]}; lr "
                + " / ".join(str(r["learning_rates"][kind][s]) for s in SETTINGS) + ")",
                *[fmt(r["accuracy"][kind][s]) for s in SETTINGS],
            ])  # fmt: skip
    lines += [markdown_table(header, rows), ""]
    lines += [
        "Quantum model of each seed's federated IID run, evaluated with its circuit run exactly, "
        "sampled on Aer (noise-free) and on a noisy fake IBM device (1024 shots, transpiled to "
        "its coupling map and basis gates; depth and two-qubit gates of the transpiled circuit):",
        "",
    ]
    header = ["qubits", "exact", *[f"{s} shots" for s in shots_grid], "fake device",
              "device circuit", "device eval (s)"]  # fmt: skip
    rows = []
    for r in results:
        noise = r["noise"]
        rows.append([
            r["qubits"], fmt([n["exact"] for n in noise]),
            *[fmt([n[f"aer_{s}"] for n in noise]) for s in shots_grid],
            f"{fmt([n['device'] for n in noise])} ({r['device']})",
            f"depth {int(noise[0]['device_depth'])}, {int(noise[0]['device_two_qubit_gates'])} CX",
            f"{statistics.fmean(n['device_seconds'] for n in noise):.1f}",
        ])  # fmt: skip
    lines += [markdown_table(header, rows), ""]
    lines += [
        "Wall time of one federated round (all clients trained in turn in this process, then "
        "FedAvg; no transport, chain or IPFS):",
        "",
    ]
    header = ["qubits", "quantum, Aer EstimatorV2 (s)", "quantum, numpy statevector (s)",
              "MLP (s)", "logistic (s)"]  # fmt: skip
    rows = [
        [r["qubits"], f"{r['round_seconds']['quantum_aer']:.2f}",
         f"{r['round_seconds']['quantum_statevector']:.2f}", f"{r['round_seconds']['mlp']:.3f}",
         f"{r['round_seconds']['logistic']:.3f}"]
        for r in results
    ]  # fmt: skip
    lines += [markdown_table(header, rows), ""]
    lines += [f"Plot: [{plot_path.name}](../{plot_path.name})", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke check (4 qubits, 2 seeds)")
    parser.add_argument("--qubits", type=int, nargs="+", default=[4, 6, 8])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=20, help="centralised epochs")
    parser.add_argument("--rounds", type=int, default=20, help="federated rounds (1 epoch each)")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--alpha", type=float, default=0.5, help="Dirichlet alpha (non-IID)")
    parser.add_argument(
        "--lr-grid", type=float, nargs="+", default=[0.05, 0.1, 0.2, 0.4],
        help="learning rates tried per model and setting (chosen on validation data)",
    )  # fmt: skip
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--simulator", default="statevector", choices=["statevector", "aer"])
    parser.add_argument("--shots-grid", type=int, nargs="+", default=[100, 1000, 10000])
    parser.add_argument(
        "--replot", action="store_true", help="only redraw the plot from the saved JSON"
    )
    args = parser.parse_args()
    if args.quick:
        args.qubits, args.seeds, args.epochs, args.rounds = [4], 2, 8, 8
        args.lr_grid = [0.1, 0.2]
        args.shots_grid = [100, 1000]
    suffix = "_quick" if args.quick else ""
    if args.replot:
        saved = json.loads((ROOT / "docs" / "benchmarks" / f"qml{suffix}.json").read_text())
        plot(saved["results"], saved["args"]["shots_grid"],
             ROOT / "docs" / f"qml_accuracy{suffix}.png")  # fmt: skip
        return
    torch.set_num_threads(1)
    quiet_flower()
    logging.getLogger("flwr").setLevel(logging.ERROR)  # "federated evaluation skipped"
    seeds = list(range(args.seeds))
    started = time.perf_counter()
    results = []
    for q in args.qubits:
        cfg = Config(q, args.reps, args.epochs, args.rounds, args.clients, args.alpha,
                     args.lr_grid[0], 32, args.simulator)  # fmt: skip
        print(f"{q} qubits ...", flush=True)
        results.append(
            run_qubits(cfg, seeds, args.lr_grid, args.shots_grid, lambda s: print(s, flush=True))
        )
    elapsed = time.perf_counter() - started
    plot_path = ROOT / "docs" / f"qml_accuracy{suffix}.png"
    plot(results, args.shots_grid, plot_path)
    body = report(results, args, seeds, elapsed, plot_path)
    if not DOC.exists():
        DOC.write_text(DOC_HEADER)
    write_section("qml-quick" if args.quick else "qml", body, DOC)
    (ROOT / "docs" / "benchmarks" / f"qml{suffix}.json").write_text(
        json.dumps(
            {"command": sys.argv, "machine": cpu_description(), "date": now_utc(),
             "elapsed_s": elapsed, "args": vars(args), "results": results},
            indent=1,
        ) + "\n"
    )  # fmt: skip
    print(body)


if __name__ == "__main__":
    main()
