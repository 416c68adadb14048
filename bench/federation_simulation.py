"""100 clients through Flower's Simulation Runtime (Ray backend), digits, FedAvg.

Run from the repository root::

    .venv/bin/python bench/federation_simulation.py [--quick]

Flower 1.41's ``run_simulation`` runs a ``ServerApp`` (Flower's ``FedAvg``, every client every
round) and a ``ClientApp`` on ``N`` virtual SuperNodes in Ray actors. Each client trains fqai's
``DigitsCNN`` with fqai's task code on its IID share of the digits training split and evaluates
the global model on its share of the test split. The learning path only: the simulation runtime
gives clients no keystore, chain account or IPFS node, so the trust layer (sign, pin, commit,
verify) is not in these rounds; its per-update cost is measured by bench/federation_overhead.py.

Writes the ``simulation`` section of docs/benchmarks/federation.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from federation_common import cpu_description, markdown_table, now_utc, pct, write_section

RESULT_ENV = "FQAI_SIM_RESULT"


def build_apps(num_clients: int, rounds: int, local_epochs: int):  # type: ignore[no-untyped-def]
    """The ServerApp and ClientApp of the simulated federation."""
    import torch
    from flwr.app import ArrayRecord, Context, Message, MetricRecord, RecordDict
    from flwr.clientapp import ClientApp
    from flwr.serverapp import Grid, ServerApp
    from flwr.serverapp.strategy import FedAvg

    from fqai.federation import task
    from fqai.federation.records import record_to_weights, weights_to_record

    client = ClientApp()
    server = ServerApp()

    def share(context: Context):  # type: ignore[no-untyped-def]
        data = task.load_dataset("digits", seed=0)
        pid = int(context.node_config["partition-id"])
        parts = task.iid_partition(len(data.y_train), num_clients, seed=0)
        tests = task.iid_partition(len(data.y_test), num_clients, seed=0)
        return data, parts[pid], tests[pid], pid

    @client.train()
    def train(msg: Message, context: Context) -> Message:
        torch.set_num_threads(1)
        data, idx, _, pid = share(context)
        model = task.build_model("digits")
        task.set_weights(model, record_to_weights(msg.content["arrays"]))
        result = task.train(
            model,
            data.x_train[idx],
            data.y_train[idx],
            epochs=local_epochs,
            lr=0.05,
            batch_size=32,
            seed=int(msg.content["config"]["server-round"]) * 1_000 + pid,
        )
        metrics = MetricRecord({"num-examples": result.samples, "train-loss": result.loss})
        content = RecordDict(
            {"arrays": weights_to_record(task.get_weights(model)), "metrics": metrics}
        )
        return Message(content=content, reply_to=msg)

    @client.evaluate()
    def evaluate(msg: Message, context: Context) -> Message:
        torch.set_num_threads(1)
        data, _, idx, _ = share(context)
        model = task.build_model("digits")
        task.set_weights(model, record_to_weights(msg.content["arrays"]))
        res = task.evaluate(model, data.x_test[idx], data.y_test[idx])
        metrics = MetricRecord({"num-examples": res.samples, "eval-acc": res.accuracy})
        return Message(content=RecordDict({"metrics": metrics}), reply_to=msg)

    @server.main()
    def main(grid: Grid, context: Context) -> None:
        strategy = FedAvg(
            fraction_train=1.0,
            fraction_evaluate=1.0,
            min_train_nodes=num_clients,
            min_evaluate_nodes=num_clients,
            min_available_nodes=num_clients,
        )
        started = time.monotonic()
        initial = ArrayRecord(task.build_model("digits", seed=0).state_dict())
        result = strategy.start(grid=grid, initial_arrays=initial, num_rounds=rounds)
        elapsed = time.monotonic() - started
        accuracy = {
            int(r): float(m["eval-acc"]) for r, m in result.evaluate_metrics_clientapp.items()
        }
        Path(os.environ[RESULT_ENV]).write_text(
            json.dumps({"seconds": elapsed, "accuracy": accuracy})
        )

    return server, client


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke-check budget")
    parser.add_argument("--clients", type=int, default=100)
    args = parser.parse_args()
    rounds = 2 if args.quick else 40
    local_epochs = 1 if args.quick else 2
    out = Path(tempfile.mkdtemp(prefix="fqai-sim-")) / "result.json"
    os.environ[RESULT_ENV] = str(out)

    from flwr.simulation import run_simulation

    server, client = build_apps(args.clients, rounds, local_epochs)
    cpus = os.cpu_count() or 1
    started = time.monotonic()
    run_simulation(
        server_app=server,
        client_app=client,
        num_supernodes=args.clients,
        backend_config={
            "client_resources": {"num_cpus": 1, "num_gpus": 0.0},
            "init_args": {"num_cpus": cpus, "include_dashboard": False},
        },
    )
    total = time.monotonic() - started
    if not out.exists():
        raise SystemExit("the simulated ServerApp wrote no result (see the log above)")
    result = json.loads(out.read_text())
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rows = [
        [str(r), pct(acc)] for r, acc in sorted((int(k), v) for k, v in result["accuracy"].items())
    ]
    table = markdown_table(["round", "federated eval. accuracy (%)"], rows)
    command = ".venv/bin/python bench/federation_simulation.py" + (" --quick" if args.quick else "")
    if args.clients != 100:
        command += f" --clients {args.clients}"
    title = f"{args.clients} clients through Flower's Simulation Runtime"
    body = f"""## {title}{" (--quick)" if args.quick else ""}

Command: `{command}`; machine: {cpu_description()}; {now_utc()}.

- `flwr.simulation.run_simulation` (Flower 1.41, Ray {_ray_version()} backend, one CPU per
  client actor, {cpus} actors at a time), {args.clients} virtual SuperNodes, {rounds} rounds of
  `FedAvg` with every client training ({local_epochs} local epoch(s), ~{1437 // args.clients}
  digits each) and evaluating on its share of the test split.
- Learning path only: no keystores, chain or IPFS in the simulation runtime, so no trust-layer
  steps (see the overhead section for their cost per update).
- Wall time: {result["seconds"]:.0f} s for the {rounds} rounds
  ({result["seconds"] / rounds:.1f} s per round of {args.clients} clients), {total:.0f} s including
  Ray start-up. Peak RSS of the driver process (ServerApp and Ray driver): {own:.0f} MiB; the
  Ray worker processes are not included.

{table}
"""
    write_section("simulation-quick" if args.quick else "simulation", body)
    print(body)


def _ray_version() -> str:
    import ray

    return str(ray.__version__)


if __name__ == "__main__":
    main()
