"""Overhead of the trust layer (sign, pin, commit, verify) on a round with a ~1 M-parameter model.

Run from the repository root::

    .venv/bin/python bench/federation_overhead.py [--quick]

Starts its own js-ipfs (``IpfsNode``) and Anvil (``AnvilNode``) on free loopback ports, deploys the
contracts with Brownie into a throw-away project copy (as tests/python/federation_fixtures.py
does), creates a federation with ``NODES`` staked members, and then for each repeat runs one
real round's trust steps with fqai's own functions, timing each component:

* node: train 1 local epoch (the work a round does without the trust layer), write safetensors,
  ``publish_artifact`` (sha256, pin weights, ML-DSA-65 sign, pin manifest), ``commitUpdate``;
* coordinator: ``openRound``; per update ``fetch_verified_manifest`` + membership/commitment
  reads + ``fetch_weights_bytes`` + ``load_bytes``; publish the round model; ``finalizeRound``.

Round wall time is assembled from the medians (nodes work in parallel, the coordinator verifies
sequentially), with and without the trust components. Gas is ``gasUsed`` of the real receipts.
Writes the ``overhead`` section of docs/benchmarks/federation.md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))

from federation_common import (
    ROOT,
    cpu_description,
    markdown_table,
    now_utc,
    quiet_flower,
    write_section,
)

from fqai.chain import KeySender, UnlockedSender, connect, load_deployment
from fqai.chain.client import ChainClient
from fqai.chain.registry import FederationConfig, FederationRegistry
from fqai.devnet.anvil import AnvilNode
from fqai.devnet.ipfs_node import IpfsNode
from fqai.federation.aggregation import accepted_root, contribution_weights
from fqai.federation.membership import join_federation
from fqai.federation.records import weights_to_record
from fqai.federation.task import get_weights, load_dataset, partition_indices, train
from fqai.ipfs.client import IpfsClient
from fqai.keystore import Keystore, NodeIdentity, ScryptParams
from fqai.manifest import ModelSpec
from fqai.trust import fetch_verified_manifest, publish_artifact
from fqai.trust.fetch import fetch_weights_bytes
from fqai.weights import load_bytes, save_weights

NODES = 4
STAKE = 10**17
PASSPHRASE = "benchmark passphrase"
TRAIN_KEY = "node: local training (1 epoch, ~359 samples)"
VERIFY_KEY = "coord: verify one update (fetch, signature, chain reads, weights)"


class WideMLP(nn.Module):
    """About 1.06 M parameters on the 8x8 digits: 64-1024-960-10."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(64, 1024),
            nn.ReLU(),
            nn.Linear(1024, 960),
            nn.ReLU(),
            nn.Linear(960, 10),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def make_identity(directory: Path) -> NodeIdentity:
    store = Keystore(directory)
    store.create(PASSPHRASE, kdf=ScryptParams(n=2**12), eth_scrypt_n=2**12)
    return store.unlock(PASSPHRASE)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke-check budget (< 2 min)")
    args = parser.parse_args()
    repeats = 2 if args.quick else 5
    quiet_flower()
    torch.set_num_threads(1)
    started = time.perf_counter()
    sys.path.insert(0, str(ROOT))
    from tests.python.federation_fixtures import deploy_contracts

    data = load_dataset("digits", 0)
    parts = partition_indices(data, NODES, "iid", seed=0)
    torch.manual_seed(0)
    model = WideMLP()
    n_params = sum(p.numel() for p in model.parameters())
    spec = ModelSpec(name="fqai.bench-wide-mlp", params={"params": n_params})
    times: dict[str, list[float]] = {}
    gas: dict[str, list[int]] = {}

    @contextmanager
    def clock(key: str) -> Iterator[None]:
        begin = time.perf_counter()
        yield
        times.setdefault(key, []).append(time.perf_counter() - begin)

    with tempfile.TemporaryDirectory(prefix="fqai-overhead-") as tmp:
        base = Path(tmp)
        with (
            AnvilNode(log_path=base / "anvil.log") as anvil,
            IpfsNode(base / "ipfs", log_path=base / "ipfs.log") as ipfs_node,
            IpfsClient(ipfs_node.api_address) as ipfs,
        ):
            chain_id = int(connect(anvil.rpc_url).eth.chain_id)
            deployments = base / "deployments"
            deploy_start = time.perf_counter()
            deploy_contracts(anvil.rpc_url, chain_id, deployments)
            deploy_s = time.perf_counter() - deploy_start
            print(f"contracts deployed in {deploy_s:.1f} s", file=sys.stderr)
            w3 = connect(anvil.rpc_url)
            funder = ChainClient(
                w3, load_deployment(chain_id, deployments), UnlockedSender(w3.eth.accounts[1])
            )
            coord_id = make_identity(base / "keys" / "coordinator")
            nodes = [make_identity(base / "keys" / f"node{i}") for i in range(NODES)]
            for ident in [coord_id, *nodes]:
                funder.send_ether(ident.public.eth_address, 10**18)
            coord = FederationRegistry(funder.with_sender(KeySender(coord_id.eth_private_key)))
            fed = coord.create_federation(
                FederationConfig(model_spec_cid="bafkreifqaibenchwidemlp", min_stake=STAKE)
            )
            for ident in nodes:
                join_federation(funder, ident, fed)
            node_regs = [
                FederationRegistry(funder.with_sender(KeySender(i.eth_private_key))) for i in nodes
            ]
            global_weights = get_weights(model)
            for rep in range(repeats):
                with clock("coord: openRound tx"):
                    chain_round = coord.open_round(fed)
                assert coord.last_open_tx is not None
                open_receipt = w3.eth.get_transaction_receipt(coord.last_open_tx)  # type: ignore[arg-type]
                gas.setdefault("openRound", []).append(int(open_receipt["gasUsed"]))
                cids: list[str] = []
                for i, reg in enumerate(node_regs):
                    local = WideMLP()
                    local.load_state_dict(model.state_dict())
                    idx = parts[i]
                    with clock(TRAIN_KEY):
                        train(local, data.x_train[idx], data.y_train[idx], epochs=1, seed=rep)
                    weights = get_weights(local)
                    with clock("node: Flower ArrayRecord of the weights"):
                        weights_to_record(weights)
                    path = base / f"update-{rep}-{i}.safetensors"
                    with clock("node: write safetensors"):
                        save_weights(weights, path)
                    with clock("node: publish (sha256 + pin weights + sign + pin manifest)"):
                        published = publish_artifact(
                            ipfs,
                            nodes[i],
                            path,
                            kind="update",
                            federation_id=fed,
                            round=chain_round,
                            model=spec,
                            metrics={"loss": 0.0, "samples": len(idx), "epochs": 1},
                        )
                    with clock("node: commitUpdate tx"):
                        tx = reg.commit_update(fed, chain_round, published.manifest_digest)
                    gas.setdefault("commitUpdate", []).append(tx.gas_used)
                    cids.append(published.manifest_cid)
                samples: dict[str, int] = {}
                digests: list[str] = []
                for cid in cids:
                    with clock(VERIFY_KEY):
                        verified = fetch_verified_manifest(ipfs, cid)
                        signer = verified.manifest.signer.eth_address
                        member = coord.member(fed, signer)
                        committed = coord.commitment(fed, chain_round, signer)
                        if member.key_digest != verified.manifest.signer.key_digest:
                            raise RuntimeError("key digest mismatch")
                        if committed != verified.digest:
                            raise RuntimeError("commitment mismatch")
                        raw = fetch_weights_bytes(ipfs, verified.manifest)
                        load_bytes(raw, verified.manifest.weights.info, cid)
                    samples[signer] = int(verified.manifest.metrics["samples"])
                    digests.append(verified.digest)
                path = base / f"round-{rep}.safetensors"
                with clock("coord: publish round model"):
                    save_weights(global_weights, path)
                    round_model = publish_artifact(
                        ipfs,
                        coord_id,
                        path,
                        kind="round-model",
                        federation_id=fed,
                        round=chain_round,
                        model=spec,
                        parents=cids,
                        metrics={"accuracy": 0.0},
                    )
                contributors, weights_units = contribution_weights(samples)
                with clock("coord: finalizeRound tx"):
                    tx = coord.finalize_round(
                        fed,
                        chain_round,
                        round_model.manifest_cid,
                        round_model.manifest_digest,
                        accepted_root(digests),
                        contributors,
                        weights_units,
                    )
                gas.setdefault("finalizeRound", []).append(tx.gas_used)
                print(f"repeat {rep + 1}/{repeats} done", file=sys.stderr)

    med = {k: statistics.median(v) for k, v in times.items()}
    train_s = med[TRAIN_KEY]
    record_s = med["node: Flower ArrayRecord of the weights"]
    node_trust = (
        med["node: write safetensors"]
        + med["node: publish (sha256 + pin weights + sign + pin manifest)"]
        + med["node: commitUpdate tx"]
    )
    verify_s = med[VERIFY_KEY]
    coord_trust = (
        med["coord: openRound tx"]
        + NODES * verify_s
        + med["coord: publish round model"]
        + med["coord: finalizeRound tx"]
    )
    without = train_s + record_s
    with_trust = without + node_trust + coord_trust
    overhead = (with_trust - without) / with_trust
    # Local training time at which the trust layer is 10 % of the round.
    breakeven = (node_trust + coord_trust) / 0.10 - (node_trust + coord_trust) - record_s

    rows = [
        [k, f"{1000 * med[k]:.1f}", f"{1000 * min(times[k]):.1f}", str(len(times[k]))]
        for k in times
    ]
    gas_rows = [[k, f"{statistics.median(v):,.0f}", str(len(v))] for k, v in gas.items()]
    per_participant = (
        statistics.median(gas["commitUpdate"])
        + (statistics.median(gas["openRound"]) + statistics.median(gas["finalizeRound"])) / NODES
    )
    elapsed = time.perf_counter() - started
    command = "python bench/federation_overhead.py" + (" --quick" if args.quick else "")
    quick = " (--quick)" if args.quick else ""
    body = f"""## Trust-layer overhead per round, ~1 M parameters{quick}

- Command: `{command}` — {now_utc()}, {elapsed:.0f} s ({repeats} rounds)
- Machine: {cpu_description()}; real js-ipfs (`IpfsNode`) and Anvil (`AnvilNode`, automine) on
  loopback, contracts deployed by Brownie, {NODES} staked members.
- Model: `WideMLP` 64-1024-960-10, {n_params:,} parameters ({4 * n_params / 2**20:.1f} MiB of
  float32 safetensors); local training = 1 epoch of SGD on one node's quarter of digits' train
  split.
- Per-component timings (ms, median and best over the rounds; node rows over all
  {NODES} nodes x rounds):

{markdown_table(["component", "median (ms)", "best (ms)", "samples"], rows)}

Round wall time assembled from the medians, nodes in parallel (one machine each) and the
coordinator verifying the {NODES} updates one after the other:

{
        markdown_table(
            ["", "seconds"],
            [
                ["without trust layer: train + Flower ArrayRecord", f"{without:.3f}"],
                ["node trust steps (write + publish + commit)", f"{node_trust:.3f}"],
                [
                    f"coordinator trust steps (open + {NODES} x verify + publish + finalize)",
                    f"{coord_trust:.3f}",
                ],
                ["with trust layer", f"{with_trust:.3f}"],
                [
                    "**trust share of the round**",
                    f"**{100 * overhead:.0f} %** "
                    + ("✅ ≤ 10 %" if overhead <= 0.10 else "❌ goal ≤ 10 % missed"),
                ],
                [
                    "local training time at which the share would be 10 %",
                    f"{breakeven:.1f} s",
                ],
            ],
        )
    }

What is not in "without": Flower's own gRPC transfer of the weights (it replaces the IPFS
transfer in a deployment without the trust layer), server-side aggregation and evaluation
(the same on both sides). This benchmark's process shares the {
        cpu_description().split(",")[1].strip()
    }
with the IPFS and Anvil daemons, so nothing here runs truly in parallel; the assembled figure
assumes a machine per node.

Gas (real receipts):

{markdown_table(["transaction", "gasUsed (median)", "samples"], gas_rows)}

Gas per participant-round = commitUpdate + (openRound + finalizeRound) / {NODES} =
**{per_participant:,.0f}**.
"""
    print(body)
    write_section("overhead" + ("-quick" if args.quick else ""), body)


if __name__ == "__main__":
    main()
