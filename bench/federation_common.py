"""Shared pieces of the federation benchmarks (bench/federation_*.py).

* :func:`run_federated`: the federated algorithm run **in-process**: Flower's own strategy objects
  (``configure_train`` to sample nodes and build the train messages, ``aggregate_train`` to
  aggregate the replies) drive fqai's task code (:mod:`fqai.federation.task`: same data split,
  same partitions, same ``DigitsCNN``, same local SGD). Only the transport (SuperLink/SuperNode,
  IPFS, chain) is left out; the integration tests cover that path.
* :func:`run_centralised`: the same model trained on the whole training split with the same
  optimiser and the same number of passes over the data.
* Reporting: machine description and a section of ``docs/benchmarks/federation.md`` replaced in
  place between ``<!-- NAME:begin -->`` and ``<!-- NAME:end -->`` markers.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import platform
import random
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from numpy.typing import NDArray

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from flwr.app import ConfigRecord, Message, MetricRecord, RecordDict  # noqa: E402
from flwr.serverapp.strategy import Strategy  # noqa: E402
from flwr.supercore.task_identity import TaskIdentity  # noqa: E402

from fqai.federation.records import record_to_weights, weights_to_record  # noqa: E402
from fqai.federation.task import (  # noqa: E402
    Dataset,
    TrainResult,
    build_model,
    evaluate,
    get_weights,
    set_weights,
    train,
)

DOC_PATH = ROOT / "docs" / "benchmarks" / "federation.md"
DOC_HEADER = """# Federation benchmarks: quality and robustness

Every figure below was measured by the command shown in its section, on the machine named there.
Each section is rewritten in place by its benchmark script (`bench/federation_*.py`); `--quick`
runs are smoke checks with smaller budgets, written to their own `*-quick` sections at the end.

"""

Weights = dict[str, NDArray[np.float32]]
# (node index, global weights, trained local weights) -> weights actually sent
ReplyTransform = Callable[[int, Weights, Weights], Weights]
# (model, x, y, node index, seed) -> result; trains the model in place
Trainer = Callable[[torch.nn.Module, NDArray[np.float32], NDArray[np.int64], int, int], TrainResult]


def quiet_flower() -> None:
    """Flower logs every aggregation at INFO; keep benchmark output readable."""
    for name in ("flwr", "flower"):
        logging.getLogger(name).setLevel(logging.WARNING)


def cpu_description() -> str:
    model = "unknown CPU"
    cores = 0
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and model == "unknown CPU":
                model = line.split(":", 1)[1].strip()
            if line.startswith("processor"):
                cores += 1
    except OSError:
        pass
    try:
        mem_kb = next(
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        )
        mem = f", {mem_kb / 1024 / 1024:.0f} GiB RAM"
    except (OSError, StopIteration):
        mem = ""
    return (
        f"{model}, {cores or os.cpu_count()} logical cores{mem}; "
        f"Linux {platform.release()}; Python {platform.python_version()}; "
        f"torch {torch.__version__}"
    )


def now_utc() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def write_section(name: str, body: str, path: Path = DOC_PATH) -> None:
    """Replace (or append) the section between ``<!-- name:begin -->`` and ``<!-- name:end -->``."""
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    block = f"{begin}\n{body.strip()}\n{end}"
    text = path.read_text() if path.exists() else DOC_HEADER
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.DOTALL)
    text = (
        pattern.sub(lambda _: block, text) if pattern.search(text) else text + "\n" + block + "\n"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


class InProcessGrid:
    """The one thing Flower's strategies ask of a Grid while sampling: the connected node ids."""

    def __init__(self, num_nodes: int) -> None:
        self.node_ids = list(range(1, num_nodes + 1))
        # Messages are stamped with the identity of the task that creates them; in a deployed
        # ServerApp Flower sets it, here we are our own single run.
        TaskIdentity.run_id = 1
        TaskIdentity.task_id = 1
        TaskIdentity.node_id = 0

    def get_node_ids(self) -> list[int]:
        return list(self.node_ids)


@dataclass
class FederatedRun:
    """Global test accuracy after each round (index 0: the initial model)."""

    accuracy: list[float] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    sampled: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class LocalTraining:
    epochs: int = 1
    lr: float = 0.05
    batch_size: int = 32


def run_federated(
    data: Dataset,
    parts: Sequence[NDArray[np.int64]],
    strategy: Strategy,
    rounds: int,
    *,
    local: LocalTraining = LocalTraining(),
    seed: int = 0,
    transform: ReplyTransform | None = None,
    weight_key: str = "num-examples",
    uniform_weights: bool = False,
    trainer: Trainer | None = None,
) -> FederatedRun:
    """Run ``rounds`` rounds of ``strategy`` in-process over the partitions ``parts``.

    Node ``i`` (Flower node id ``i + 1``) trains on ``parts[i]`` from the global weights with
    fqai's :func:`~fqai.federation.task.train`; ``transform`` (attacks) may replace what it sends.
    With ``uniform_weights`` every reply reports weight 1 (what Flower's accounted DP requires).
    ``trainer`` replaces fqai's plain ``train`` (e.g. with DP-SGD); it gets the model, the node's
    data, the node index and the seed.
    """
    random.seed(seed)  # Flower samples nodes with the ``random`` module
    model = build_model(data.name, seed)
    global_weights = get_weights(model)
    grid = InProcessGrid(len(parts))
    run = FederatedRun()
    first = evaluate(model, data.x_test, data.y_test)
    run.accuracy.append(first.accuracy)
    run.loss.append(first.loss)
    for rnd in range(1, rounds + 1):
        instructions = list(
            strategy.configure_train(rnd, weights_to_record(global_weights), ConfigRecord(), grid)  # type: ignore[arg-type]
        )
        replies: list[Message] = []
        for msg in instructions:
            node = int(msg.metadata.dst_node_id) - 1
            idx = parts[node]
            set_weights(model, global_weights)
            node_seed = seed * 100_003 + rnd * 1_009 + node
            if trainer is not None:
                result = trainer(model, data.x_train[idx], data.y_train[idx], node, node_seed)
            else:
                result = train(
                    model,
                    data.x_train[idx],
                    data.y_train[idx],
                    epochs=local.epochs,
                    lr=local.lr,
                    batch_size=local.batch_size,
                    seed=node_seed,
                )
            local_weights = get_weights(model)
            if transform is not None:
                local_weights = transform(node, global_weights, local_weights)
            weight = 1 if uniform_weights else result.samples
            content = RecordDict(
                {
                    "arrays": weights_to_record(local_weights),
                    "metrics": MetricRecord({weight_key: weight}),
                }
            )
            replies.append(Message(content, reply_to=msg))
        arrays, _ = strategy.aggregate_train(rnd, replies)
        if arrays is None:
            raise RuntimeError(f"round {rnd}: the strategy produced no model")
        global_weights = {
            k: np.asarray(v, dtype=np.float32) for k, v in record_to_weights(arrays).items()
        }
        set_weights(model, global_weights)
        res = evaluate(model, data.x_test, data.y_test)
        run.accuracy.append(res.accuracy)
        run.loss.append(res.loss)
        run.sampled.append(len(instructions))
    return run


def run_centralised(
    data: Dataset,
    epochs: int,
    *,
    local: LocalTraining = LocalTraining(),
    seed: int = 0,
    eval_every: int = 1,
) -> list[float]:
    """Test accuracy of the same model trained centrally, after every ``eval_every`` epochs."""
    model = build_model(data.name, seed)
    acc = [evaluate(model, data.x_test, data.y_test).accuracy]
    done = 0
    while done < epochs:
        step = min(eval_every, epochs - done)
        train(
            model,
            data.x_train,
            data.y_train,
            epochs=step,
            lr=local.lr,
            batch_size=local.batch_size,
            seed=seed * 100_003 + done,
        )
        done += step
        acc.append(evaluate(model, data.x_test, data.y_test).accuracy)
    return acc


def pct(x: float) -> str:
    return f"{100 * x:.1f}"
