"""Trust-layer benchmark: ML-DSA-65 speed and the cost of verification on top of raw IPFS.

Run from the repository root::

    .venv/bin/python bench/trust_bench.py [--sizes-mb 1 10 100] [--repeats 3]

It starts its own js-ipfs node on free loopback ports (stopped at the end), measures, prints a
markdown report and writes it to ``docs/benchmarks/trust.md``. Every number is measured here;
the machine description comes from /proc/cpuinfo.

Measured, per weights size (medians over the repeats, fresh random bytes each time):

* raw add:      ``IpfsClient.add_file`` (pinned, CIDv1, raw leaves)
* raw cat:      streaming the same CID back (``iter_content``), bytes discarded
* publish:      ``publish_artifact``: sha256 + header parse, add weights, sign, add manifest
* fetch+verify: ``fetch_verified_manifest`` (CID re-hash, canonical JSON, schema, signature)
  plus ``check_weights_stream`` (size, sha256, header vs. manifest)
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pqcrypto
from rich.console import Console
from rich.progress import Progress

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fqai.crypto import mldsa  # noqa: E402
from fqai.devnet.ipfs_node import IpfsNode  # noqa: E402
from fqai.ipfs.client import IpfsClient  # noqa: E402
from fqai.keystore import Keystore, NodeIdentity, ScryptParams  # noqa: E402
from fqai.manifest import SIGNING_CONTEXT, ModelSpec  # noqa: E402
from fqai.trust import fetch_verified_manifest, publish_artifact  # noqa: E402
from fqai.trust.fetch import check_weights_stream  # noqa: E402
from fqai.weights import save_weights  # noqa: E402

console = Console(stderr=True)
MB = 1024 * 1024


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
    return f"{model}, {cores or os.cpu_count()} logical cores"


def rate(func: Callable[[], object], seconds: float) -> float:
    """Calls per second of ``func`` over about ``seconds``."""
    count = 0
    start = time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        func()
        count += 1
    return count / elapsed


def make_weights(path: Path, size_mb: int, seed: int) -> None:
    elements = size_mb * MB // 4
    rng = np.random.default_rng(seed)
    save_weights({"w": rng.standard_normal(elements, dtype=np.float32)}, path)


def bench_mldsa(seconds: float) -> tuple[float, float, int]:
    pair = mldsa.generate()
    payload = os.urandom(6000)  # about the size of a manifest with an inline public key
    signature = mldsa.sign(pair.secret_key, payload, SIGNING_CONTEXT)
    sign_rate = rate(lambda: mldsa.sign(pair.secret_key, payload, SIGNING_CONTEXT), seconds)
    verify_rate = rate(
        lambda: mldsa.verify(pair.public_key, payload, signature, SIGNING_CONTEXT), seconds
    )
    return sign_rate, verify_rate, len(payload)


def raw_run(client: IpfsClient, raw_path: Path) -> dict[str, float]:
    """Time raw add and cat of one file."""
    size = raw_path.stat().st_size
    start = time.perf_counter()
    cid = client.add_file(raw_path)
    add = time.perf_counter() - start

    start = time.perf_counter()
    received = sum(len(chunk) for chunk in client.iter_content(cid, max_size=size))
    cat = time.perf_counter() - start
    assert received == size
    return {"add": add, "cat": cat, "bytes": float(size)}


def trust_run(client: IpfsClient, identity: NodeIdentity, trust_path: Path) -> dict[str, float]:
    """Time publish and fetch+verify of one file."""
    size = trust_path.stat().st_size
    start = time.perf_counter()
    published = publish_artifact(
        client,
        identity,
        trust_path,
        kind="update",
        federation_id=1,
        round=1,
        model=ModelSpec(name="bench", params={"bytes": size}),
    )
    publish = time.perf_counter() - start

    start = time.perf_counter()
    verified = fetch_verified_manifest(client, published.manifest_cid)
    check_weights_stream(client, verified.manifest)
    verify = time.perf_counter() - start
    return {"publish": publish, "verify": verify}


def bench_size(
    client: IpfsClient, identity: NodeIdentity, work: Path, size_mb: int, repeats: int
) -> dict[str, float]:
    """Medians over ``repeats`` runs with fresh random weights of ``size_mb`` MiB."""
    runs = []
    for repeat in range(repeats):
        raw_path = work / f"raw-{size_mb}-{repeat}.safetensors"
        trust_path = work / f"trust-{size_mb}-{repeat}.safetensors"
        make_weights(raw_path, size_mb, seed=2 * repeat)
        make_weights(trust_path, size_mb, seed=2 * repeat + 1)
        # Alternate which pipeline goes first so neither always meets a warmer daemon.
        if repeat % 2 == 0:
            result = raw_run(client, raw_path)
            result.update(trust_run(client, identity, trust_path))
        else:
            result = trust_run(client, identity, trust_path)
            result.update(raw_run(client, raw_path))
        runs.append(result)
        raw_path.unlink()
        trust_path.unlink()
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def render(
    args: argparse.Namespace,
    mldsa_result: tuple[float, float, int],
    rows: dict[int, dict[str, float]],
    versions: str,
) -> str:
    sign_rate, verify_rate, payload = mldsa_result
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Trust layer benchmark",
        "",
        f"- Command: `.venv/bin/python bench/trust_bench.py {' '.join(sys.argv[1:])}`".rstrip(),
        f"- Date: {now}",
        f"- Machine: {cpu_description()}; {platform.system()} {platform.release()}",
        f"- Software: {versions}",
        f"- Repeats per size: {args.repeats} (medians shown); fresh random weights every run; "
        "raw and trust pipelines alternate which runs first",
        "",
        "## ML-DSA-65 (pqcrypto)",
        "",
        "| operation | per second | per operation |",
        "| --- | ---: | ---: |",
        f"| sign ({payload}-byte payload, hedged) | {sign_rate:,.0f} | {1000 / sign_rate:.3f} ms |",
        f"| verify | {verify_rate:,.0f} | {1000 / verify_rate:.3f} ms |",
        "",
        "## Pin, fetch and verify vs. raw IPFS add/cat (local js-ipfs daemon)",
        "",
        "raw add = `add_file`; publish = sha256 + header parse + add + sign + add manifest. "
        "raw cat = stream the CID; fetch+verify = fetch manifest (CID re-hash, canonical JSON, "
        "schema, ML-DSA-65) + stream weights checking size, sha256 and tensors.",
        "",
        "| weights | raw add | publish | overhead | raw cat | fetch+verify | overhead |"
        " fetch+verify MB/s |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for size_mb, r in rows.items():
        add_over = 100 * (r["publish"] - r["add"]) / r["add"]
        cat_over = 100 * (r["verify"] - r["cat"]) / r["cat"]
        mbps = r["bytes"] / MB / r["verify"]
        lines.append(
            f"| {size_mb} MiB | {r['add']:.3f} s | {r['publish']:.3f} s | {add_over:+.1f} % | "
            f"{r['cat']:.3f} s | {r['verify']:.3f} s | {cat_over:+.1f} % | {mbps:,.1f} |"
        )
    lines += [
        "",
        "Overhead = (trust-layer time - raw time) / raw time. The goal is at most +10 % for "
        "fetch+verify; small sizes are dominated by fixed per-request costs (two extra round "
        "trips for the manifest), so percentages there are noisy.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes-mb", type=int, nargs="+", default=[1, 10, 100])
    parser.add_argument("--repeats", type=int, default=4)
    parser.add_argument("--mldsa-seconds", type=float, default=2.0)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks" / "trust.md")
    args = parser.parse_args()

    console.print("measuring ML-DSA-65 sign/verify...")
    mldsa_result = bench_mldsa(args.mldsa_seconds)
    rows: dict[int, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="fqai-bench-") as tmp:
        work = Path(tmp)
        store = Keystore(work / "keys")
        store.create("benchmark passphrase", kdf=ScryptParams(n=2**12), eth_scrypt_n=2**12)
        identity = store.unlock("benchmark passphrase")
        with IpfsNode(work / "ipfs", log_path=work / "ipfs.log") as node:
            client = IpfsClient(node.api_address, timeout=300)
            version = client.version()
            with Progress(console=console, transient=True) as progress:
                task = progress.add_task("weights sizes", total=len(args.sizes_mb))
                for size_mb in args.sizes_mb:
                    progress.update(task, description=f"{size_mb} MiB x {args.repeats}")
                    rows[size_mb] = bench_size(client, identity, work, size_mb, args.repeats)
                    progress.advance(task)
            client.close()

    versions = (
        f"Python {platform.python_version()}, pqcrypto {pqcrypto.__version__}, js-ipfs {version}"
    )
    report = render(args, mldsa_result, rows, versions)
    print(report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report, encoding="utf-8")
    console.print(f"written to {args.out}")


if __name__ == "__main__":
    main()
