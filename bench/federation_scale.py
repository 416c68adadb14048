"""Scale on one machine: N SuperNodes of the full fqai federation, and Flower's simulation runtime.

Run from the repository root::

    .venv/bin/python bench/federation_scale.py [--quick] [--nodes 4 8 16]

For each N: Anvil + js-ipfs + contracts (Brownie), a federation with N staked members, one
SuperLink and N SuperNodes (fqai's ``runtime`` classes), then ``flwr run`` of fqai's app for
``--rounds`` rounds (default 2) of the small breast-cancer MLP with every node required. A
sampler thread records, every 0.5 s, the resident memory of all Flower processes of this run
(SuperLink, SuperNodes, their SuperExec and app processes) and the machine's CPU use. A size "is
sustained" when every round is finalised on-chain with all N nodes accepted.

Also checks whether Flower's simulation runtime (``flwr run`` with a local simulation
federation) can run here. Writes the ``scale`` section of docs/benchmarks/federation.md.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

from federation_common import ROOT, cpu_description, markdown_table, now_utc, write_section

from fqai.chain import KeySender, UnlockedSender, connect, load_deployment
from fqai.chain.client import ChainClient
from fqai.chain.registry import FederationConfig, FederationRegistry
from fqai.devnet.anvil import AnvilNode
from fqai.devnet.ipfs_node import IpfsNode
from fqai.federation.membership import join_federation
from fqai.federation.runtime import SuperLink, SuperNode, submit_run, write_app, write_flwr_home
from fqai.keystore import Keystore, NodeIdentity, ScryptParams

PASSPHRASE = "benchmark passphrase"
STAKE = 10**17


def make_identity(directory: Path) -> NodeIdentity:
    store = Keystore(directory)
    store.create(PASSPHRASE, kdf=ScryptParams(n=2**12), eth_scrypt_n=2**12)
    return store.unlock(PASSPHRASE)


class Sampler(threading.Thread):
    """Peak RSS of this run's Flower processes and mean system CPU use while running."""

    def __init__(self, roots: list[int]) -> None:
        super().__init__(daemon=True)
        self.roots = set(roots)
        self.stop_event = threading.Event()
        self.peak_rss = 0
        self.peak_procs = 0
        self.cpu: list[float] = []
        psutil.cpu_percent(None)

    def processes(self) -> list[psutil.Process]:
        found: dict[int, psutil.Process] = {}
        for pid in self.roots:
            try:
                root = psutil.Process(pid)
            except psutil.Error:
                continue
            found[pid] = root
            for child in root.children(recursive=True):
                found[child.pid] = child
        # SuperExec processes are told their parent with --parent-pid; add their trees too.
        for proc in psutil.process_iter(["pid", "cmdline"]):
            cmd = proc.info.get("cmdline") or []
            if "--parent-pid" in cmd:
                try:
                    parent = int(cmd[cmd.index("--parent-pid") + 1])
                except (ValueError, IndexError):
                    continue
                if parent in found and proc.pid not in found:
                    found[proc.pid] = proc
                    for child in proc.children(recursive=True):
                        found[child.pid] = child
        return list(found.values())

    def run(self) -> None:
        while not self.stop_event.wait(0.5):
            total = 0
            procs = self.processes()
            for proc in procs:
                try:
                    total += proc.memory_info().rss
                except psutil.Error:
                    continue
            self.peak_rss = max(self.peak_rss, total)
            self.peak_procs = max(self.peak_procs, len(procs))
            self.cpu.append(psutil.cpu_percent(None))


@dataclass
class ScaleResult:
    nodes: int
    sustained: bool
    rounds_done: int
    accepted: list[int]
    run_s: float
    peak_rss_mib: float
    peak_procs: int
    mean_cpu: float
    note: str


def run_size(n: int, base: Path, rounds: int) -> ScaleResult:
    from tests.python.federation_fixtures import deploy_contracts

    with (
        AnvilNode(log_path=base / "anvil.log") as anvil,
        IpfsNode(base / "ipfs", log_path=base / "ipfs.log") as ipfs_node,
    ):
        w3 = connect(anvil.rpc_url)
        chain_id = int(w3.eth.chain_id)
        deployments = base / "deployments"
        deploy_contracts(anvil.rpc_url, chain_id, deployments)
        funder = ChainClient(
            w3, load_deployment(chain_id, deployments), UnlockedSender(w3.eth.accounts[1])
        )
        passphrase_file = base / "passphrase"
        passphrase_file.write_text(PASSPHRASE)
        coordinator = make_identity(base / "keys" / "coordinator")
        nodes = [make_identity(base / "keys" / f"node{i}") for i in range(n)]
        for ident in [coordinator, *nodes]:
            funder.send_ether(ident.public.eth_address, 10**18)
        coord = FederationRegistry(funder.with_sender(KeySender(coordinator.eth_private_key)))
        fed = coord.create_federation(
            FederationConfig(
                model_spec_cid="bafkreifqaicancermlp", min_stake=STAKE, max_participants=max(n, 16)
            )
        )
        for ident in nodes:
            join_federation(funder, ident, fed)
        record_path = base / "run" / "record.json"
        note = ""
        run_s = 0.0
        with SuperLink(base / "logs" / "superlink.log") as link:
            supernodes: list[SuperNode] = []
            sampler: Sampler | None = None
            try:
                for i in range(n):
                    node = SuperNode(
                        base / "logs" / f"supernode{i}.log",
                        link.address,
                        {
                            "partition-id": i,
                            "num-partitions": n,
                            "fqai-keystore": str(base / "keys" / f"node{i}"),
                            "fqai-passphrase-file": str(passphrase_file),
                            "fqai-rpc-url": anvil.rpc_url,
                            "fqai-ipfs-api": ipfs_node.api_address,
                            "fqai-deployments-dir": str(deployments),
                            "fqai-work-dir": str(base / f"node{i}"),
                        },
                    )
                    node.start()
                    supernodes.append(node)
                roots = [p for p in [link.pid, *(s.pid for s in supernodes)] if p is not None]
                sampler = Sampler(roots)
                sampler.start()
                app_dir = write_app(
                    base / "app",
                    {
                        "federation-id": fed,
                        "dataset": "breast_cancer",
                        "num-rounds": rounds,
                        "strategy": "fedavg",
                        "min-nodes": n,
                        "fraction-evaluate": 1.0,
                        "local-epochs": 1,
                        "lr": 0.05,
                        "round-timeout": 300,
                        "rpc-url": anvil.rpc_url,
                        "deployments-dir": str(deployments),
                        "ipfs-api": ipfs_node.api_address,
                        "coordinator-keystore": str(base / "keys" / "coordinator"),
                        "coordinator-passphrase-file": str(passphrase_file),
                        "record-path": str(record_path),
                    },
                )
                home = write_flwr_home(base / "flwr-home", link.address)
                run_start = time.perf_counter()
                try:
                    submit_run(app_dir, home, base / "logs" / "flwr-run.log", timeout=480)
                except Exception as exc:
                    note = f"run failed: {exc}"
                run_s = time.perf_counter() - run_start
            finally:
                if sampler is not None:
                    sampler.stop_event.set()
                    sampler.join()
                for node in supernodes:
                    node.stop()
    accepted: list[int] = []
    rounds_done = 0
    if record_path.exists():
        record = json.loads(record_path.read_text())
        for rnd in record.get("rounds", []):
            accepted.append(len(rnd.get("accepted", [])))
            if rnd.get("finalized"):
                rounds_done += 1
    elif not note:
        note = "no run record written"
    sustained = rounds_done >= rounds and accepted[:rounds] == [n] * rounds
    assert sampler is not None
    return ScaleResult(
        nodes=n,
        sustained=sustained,
        rounds_done=rounds_done,
        accepted=accepted,
        run_s=run_s,
        peak_rss_mib=sampler.peak_rss / 2**20,
        peak_procs=sampler.peak_procs,
        mean_cpu=sum(sampler.cpu) / max(len(sampler.cpu), 1),
        note=note,
    )


def simulation_check() -> str:
    """Whether Flower's simulation runtime can start here (it needs its Ray backend)."""
    try:
        importlib.import_module("flwr.server.superlink.fleet.vce.backend.raybackend")
    except Exception as exc:
        return (
            "❌ does not run here: Flower 1.41's simulation runtime has one backend, "
            "`RayBackend` (`flwr/server/superlink/fleet/vce/vce_api.py`), and importing it fails "
            f"with `{type(exc).__name__}: {exc}` — `ray` (the `flwr[simulation]` extra, "
            "`ray==2.55.1`) is not installed in `.venv`."
        )
    return (
        "✅ the Ray backend imports; `bench/federation_simulation.py` runs 100 clients through "
        "it (section below)."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 nodes, 1 round (< 2 min)")
    parser.add_argument("--nodes", type=int, nargs="+", default=None)
    parser.add_argument("--rounds", type=int, default=None)
    args = parser.parse_args()
    sizes = args.nodes or ([2] if args.quick else [4, 8, 16])
    rounds = args.rounds or (1 if args.quick else 2)
    started = time.perf_counter()
    sys.path.insert(0, str(ROOT))
    results: list[ScaleResult] = []
    for n in sizes:
        with tempfile.TemporaryDirectory(prefix=f"fqai-scale-{n}-") as tmp:
            print(f"running {n} SuperNodes ...", file=sys.stderr)
            result = run_size(n, Path(tmp), rounds)
            results.append(result)
            print(result, file=sys.stderr)
            if not result.sustained:
                break
    rows = [
        [
            str(r.nodes),
            "✅ yes" if r.sustained else "❌ no",
            f"{r.rounds_done}/{rounds}",
            " / ".join(map(str, r.accepted)) or "—",
            f"{r.run_s:.0f}",
            f"{r.run_s / rounds:.0f}",
            f"{r.peak_rss_mib:,.0f}",
            f"{r.peak_rss_mib / r.nodes:,.0f}",
            str(r.peak_procs),
            f"{r.mean_cpu:.0f}",
            r.note or "",
        ]
        for r in results
    ]
    sim = simulation_check()
    elapsed = time.perf_counter() - started
    command = "python bench/federation_scale.py" + (" --quick" if args.quick else "")
    quick = " (--quick)" if args.quick else ""
    table = markdown_table(
        [
            "SuperNodes",
            "sustained",
            "rounds finalised",
            "accepted per round",
            "run (s)",
            "s / round",
            "peak RSS, Flower processes (MiB)",
            "per node (MiB)",
            "peak processes",
            "mean CPU (%)",
            "note",
        ],
        rows,
    )
    body = f"""## Scale: SuperNodes on one machine; Flower simulation runtime{quick}

- Command: `{command}` — {now_utc()}, {elapsed:.0f} s
- Machine: {cpu_description()} (shared with other test runs while measured)
- Full fqai path per size: Anvil + js-ipfs + contracts, N staked members, one SuperLink and N
  SuperNodes, `flwr run` of fqai's app, {rounds} rounds of `breast_cancer` / `CancerMLP`, 1 local
  epoch, FedAvg with `min-nodes = N` (every node must answer), signed updates pinned and
  committed, coordinator checks, `finalizeRound`. Sizes are tried in order and stop at the
  first that is not sustained.
- Memory: summed RSS of the SuperLink, SuperNodes and the SuperExec / app processes they start
  (sampled every 0.5 s; shared pages count in every process that maps them, so an upper
  bound). CPU:
  system-wide, 100 % = all cores.

{table}

Flower simulation runtime (100 clients): {sim} The 100-client figures in the accuracy section
(DP rows) therefore come from the in-process runner (Flower's strategies, fqai's task), not
from Flower's simulation engine.
"""
    print(body)
    write_section("scale" + ("-quick" if args.quick else ""), body)


if __name__ == "__main__":
    main()
