"""Cost of recomputing a round (auditable aggregation) vs the round's own aggregation.

Run from the repository root::

    .venv/bin/python bench/recompute_bench.py [--quick]

Starts its own js-ipfs node on a free loopback port. For each model (the demo's ``CancerMLP``,
and a ~1 M-parameter MLP), ``NODES`` signed updates are published the way nodes publish them.
Then, per repeat:

* **aggregation**: what the coordinator does once it holds the accepted weights, namely
  ``aggregate_updates`` (Flower's ``FedAvg``, canonical order) plus serialising the result;
* **recomputation**: what ``fqai verify --recompute`` does per round apart from chain reads,
  namely fetch and verify every update manifest (ML-DSA-65), fetch and check the weights, then
  the same aggregation and the sha256 of the result.

Chain reads (a ``RoundFinalized`` log query and one ``UpdateCommitted`` query per round) are
left out: against a local Anvil they take milliseconds. Writes the ``recompute`` section of
docs/benchmarks/federation.md.
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))

from federation_common import cpu_description, markdown_table, now_utc, write_section
from federation_overhead import WideMLP, make_identity

from fqai.devnet.ipfs_node import IpfsNode
from fqai.federation import task
from fqai.federation.recompute import UpdateInput, aggregate_updates
from fqai.ipfs.client import IpfsClient
from fqai.manifest.model import ModelSpec
from fqai.trust.fetch import fetch_verified_manifest, fetch_weights_bytes
from fqai.trust.publish import publish_artifact
from fqai.weights import load_bytes, save_weights, weights_bytes

NODES = 4


def _models() -> dict[str, nn.Module]:
    torch.manual_seed(0)
    return {"CancerMLP (demo model)": task.build_model("breast_cancer"), "WideMLP": WideMLP()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke-check budget")
    args = parser.parse_args()
    repeats = 2 if args.quick else 5
    torch.set_num_threads(1)
    rows = []
    with tempfile.TemporaryDirectory(prefix="fqai-recompute-") as tmp:
        base = Path(tmp)
        identities = [make_identity(base / f"node{i}") for i in range(NODES)]
        with (
            IpfsNode(base / "ipfs", log_path=base / "ipfs.log") as node,
            IpfsClient(node.api_address) as ipfs,
        ):
            for name, model in _models().items():
                n_params = sum(p.numel() for p in model.parameters())
                cids = []
                for i, identity in enumerate(identities):
                    torch.manual_seed(i + 1)
                    weights = {
                        k: (v + 0.01 * torch.randn_like(v)).numpy()
                        for k, v in model.state_dict().items()
                    }
                    path = base / f"{i}.safetensors"
                    save_weights(weights, path)
                    published = publish_artifact(
                        ipfs, identity, path, kind="update", federation_id=1, round=1,
                        model=ModelSpec(name="fqai.bench", params={"params": n_params}),
                        metrics={"samples": 100 + i},
                    )  # fmt: skip
                    cids.append((identity.public.eth_address, published.manifest_cid))
                aggregate_s, recompute_s = [], []
                digests = set()
                for _ in range(repeats):
                    inputs = []
                    begin = time.perf_counter()
                    for address, cid in cids:
                        verified = fetch_verified_manifest(ipfs, cid)
                        data = fetch_weights_bytes(ipfs, verified.manifest)
                        weights = load_bytes(data, verified.manifest.weights.info, cid)
                        samples = int(verified.manifest.metrics["samples"])
                        inputs.append(UpdateInput(address, samples, None, weights))
                    out = aggregate_updates("fedavg", {}, 1, inputs)
                    digests.add(hashlib.sha256(weights_bytes(out)).hexdigest())
                    done = time.perf_counter()
                    recompute_s.append(done - begin)
                    # The coordinator's own step, on weights it already holds.
                    begin = time.perf_counter()
                    out = aggregate_updates("fedavg", {}, 1, inputs)
                    weights_bytes(out)
                    aggregate_s.append(time.perf_counter() - begin)
                assert len(digests) == 1, "the recomputation is not deterministic"
                agg, rec = statistics.median(aggregate_s), statistics.median(recompute_s)
                size = sum(a.nbytes for a in inputs[0].weights.values())
                rows.append(
                    [
                        name,
                        f"{n_params:,}",
                        f"{size / 2**20:.2f}",
                        str(NODES),
                        f"{agg:.3f}",
                        f"{rec:.3f}",
                        f"{rec - agg:.3f}",
                        f"{rec / agg:.1f} x",
                    ]
                )
                print(f"{name}: aggregate {agg:.3f} s, recompute {rec:.3f} s", file=sys.stderr)
    table = markdown_table(
        [
            "model",
            "parameters",
            "MiB per update",
            "updates",
            "aggregation (s)",
            "recomputation (s)",
            "fetch + verify (s)",
            "ratio",
        ],
        rows,
    )
    command = ".venv/bin/python bench/recompute_bench.py" + (" --quick" if args.quick else "")
    body = f"""## Recomputing a round (auditable aggregation){" (--quick)" if args.quick else ""}

Command: `{command}`; machine: {cpu_description()}; {now_utc()}; medians of {repeats} repeats.

- Aggregation: the coordinator's step on weights it already holds, `aggregate_updates`
  (Flower `FedAvg` on float64-widened updates, canonical order) plus serialising the result.
- Recomputation: what `fqai verify --recompute` does for one round, apart from two chain log
  queries: fetch and ML-DSA-65-verify every update manifest from a local js-ipfs node, fetch
  and check the weights, the same aggregation, sha256 of the result. The recomputed digest was
  identical in every repeat.
- Goal: recomputation costs no more than the aggregation itself plus fetching. By construction
  it is exactly that: the aggregation part is the same function on the same inputs, and the
  rest is the fetch-and-verify column.

{table}
"""
    write_section("recompute-quick" if args.quick else "recompute", body)
    print(body)


if __name__ == "__main__":
    main()
