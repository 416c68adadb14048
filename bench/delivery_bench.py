"""Licensed-delivery benchmark: ML-KEM-768 key exchange, AES-256-GCM on weights, end to end.

Run from the repository root::

    .venv/bin/python bench/delivery_bench.py [--quick]

Every number is measured by this script on the machine it runs on; it writes the ``delivery``
(or ``delivery-quick``) section of ``docs/benchmarks/delivery.md`` and prints it.

1. **Key exchange** (pqcrypto ``ml_kem_768``, one call per sample, wall clock and thread CPU
   time, the operations taking turns call by call): keygen, encaps, decaps, and encaps + decaps
   back to back (the licensee's key pair already exists when a key is delivered), median and p95
   over ``--kem-repeats`` samples (default 1000). Then the whole delivery record:
   ``wrap_content_key`` (key digest check, encaps, HKDF-SHA256, AES-256-GCM of the 32-byte key,
   canonical JSON, ML-DSA-65 signature) and ``parse_wrapped_key`` + ``unwrap_content_key``
   (JSON, ML-DSA-65 verify, binding check, decaps, HKDF, AES-GCM), with ML-DSA-65 sign/verify of
   the same payload alone for reference.
2. **Bulk encryption** on ``--aes-mib`` MiB (default 100) of random bytes, medians of
   ``--aes-repeats`` runs (default 7), operations interleaved round-robin: fqai's
   ``encrypt_weights`` / ``decrypt_weights`` vs ``cryptography``'s ``AESGCM`` encrypt/decrypt of
   the same buffer vs ``hashlib.sha256`` vs a memory copy (into a fresh ``bytearray``, and
   ``np.copyto`` into a preallocated buffer); plus ``openssl speed -evp aes-256-gcm`` (16 KiB
   blocks, in cache) as the machine's best-case AES-GCM rate.
3. **Licence to usable model** on a local Anvil (contracts deployed with Brownie) and a local
   js-ipfs node, both started here on free loopback ports and always stopped. Setup (not timed):
   the owner publishes each model licensed-only, mints it and offers a licence. Timed, for each
   of ``--licensees`` (default 10) fresh licensees (keystore and funding not timed):
   ``buy_license`` (pin the ML-KEM key + ``buyLicense`` tx), one ``KeyService.run_once()`` pass
   (wrap, pin, ``deliverKey`` tx), ``fetch_licensed_model`` (verify token, unwrap, fetch
   ciphertext, decrypt, check, write) and loading the written file (``load_file``; for the MLP
   also into the torch model). Sub-steps are timed by wrapping the functions these steps call
   (the wrappers add microseconds). Models: the demo breast-cancer MLP and a synthetic float32
   safetensors file of ``--big-mib`` MiB (default 100). Owner and licensee share the one local
   IPFS node, so "fetch" is a local read.

Load averages and the CPU time used by other processes are recorded around each part: the
machine may be shared with other jobs, and the report says so when it was.

``--quick`` (a smoke run of under a minute): 100 KEM samples, 20 wraps, 2 AES runs on 20 MiB, a
10 MiB synthetic model and 2 licensees per model. The full run takes 1 to 2.5 minutes on a
2-core machine, depending on what else runs there.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
for entry in (ROOT, ROOT / "bench"):
    if str(entry) not in sys.path:
        sys.path.insert(0, str(entry))

import cryptography  # noqa: E402
import pqcrypto  # noqa: E402
from cryptography.hazmat.backends.openssl.backend import backend as openssl_backend  # noqa: E402
from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # noqa: E402
from federation_common import cpu_description, markdown_table, now_utc, write_section  # noqa: E402
from pqcrypto.kem import ml_kem_768  # noqa: E402

import fqai.delivery.keyservice as keyservice_mod  # noqa: E402
import fqai.delivery.licensee as licensee_mod  # noqa: E402
import fqai.trust.verify as verify_mod  # noqa: E402
from fqai.chain import DEPLOYMENTS_ENV, KeySender, UnlockedSender, connect  # noqa: E402
from fqai.chain.client import ChainClient  # noqa: E402
from fqai.chain.deployment import load_deployment  # noqa: E402
from fqai.chain.marketplace import LicenseOffer, Marketplace  # noqa: E402
from fqai.chain.registry import MintParams  # noqa: E402
from fqai.crypto import mldsa, mlkem  # noqa: E402
from fqai.delivery.content import decrypt_weights, encrypt_weights, new_content_key  # noqa: E402
from fqai.delivery.keys import ContentKeyStore  # noqa: E402
from fqai.delivery.keyservice import KeyService  # noqa: E402
from fqai.delivery.licensee import buy_license, fetch_licensed_model  # noqa: E402
from fqai.delivery.wrap import (  # noqa: E402
    SIGNING_CONTEXT,
    Binding,
    parse_wrapped_key,
    unwrap_content_key,
    wrap_content_key,
)
from fqai.devnet.anvil import AnvilNode  # noqa: E402
from fqai.devnet.ipfs_node import IpfsNode  # noqa: E402
from fqai.federation import task  # noqa: E402
from fqai.ipfs.client import IpfsClient  # noqa: E402
from fqai.jcs import canonicalize  # noqa: E402
from fqai.keystore import Keystore, NodeIdentity, ScryptParams  # noqa: E402
from fqai.manifest.model import ModelSpec  # noqa: E402
from fqai.trust.publish import publish_artifact  # noqa: E402
from fqai.weights import WeightsInfo, load_file, save_weights  # noqa: E402
from tests.python.federation_fixtures import deploy_contracts  # noqa: E402

DOC = ROOT / "docs" / "benchmarks" / "delivery.md"
DOC_HEADER = """# Licensed delivery benchmarks: ML-KEM-768, AES-256-GCM, licence to model

Every figure below was measured by `bench/delivery_bench.py` (command, date and machine in each
section); the script rewrites its section in place. `--quick` runs are smoke checks with smaller
budgets, written to their own `delivery-quick` section.

"""
MIB = 1024 * 1024
PRICE = 10**15
PASSPHRASE = "benchmark passphrase"
CHEAP_KDF = ScryptParams(n=2**12)
CANCER_MLP = ModelSpec(name=task.MODEL_NAMES["breast_cancer"], params={"dataset": "breast_cancer"})


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- machine load


def _busy_jiffies() -> tuple[int, int]:
    """(busy, total) CPU jiffies of the whole machine since boot, from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    total = sum(fields[:8])
    return total - idle, total


def _own_cpu_seconds() -> float:
    """CPU seconds of this process and of the children it has waited for (openssl speed)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


@dataclass
class LoadRecord:
    """Machine load around one part of the benchmark."""

    name: str
    load_before: tuple[float, float, float] = (0.0, 0.0, 0.0)
    load_after: tuple[float, float, float] = (0.0, 0.0, 0.0)
    wall_s: float = 0.0
    busy_cores: float = 0.0  # whole machine, average over the part
    own_cores: float = 0.0  # this Python process
    helpers: str = ""  # processes of ours besides this one (Anvil, js-ipfs), if any

    @property
    def other_cores(self) -> float:
        return max(0.0, self.busy_cores - self.own_cores)


@contextmanager
def watch_load(name: str, records: list[LoadRecord], helpers: str = "") -> Iterator[None]:
    record = LoadRecord(name, load_before=os.getloadavg(), helpers=helpers)
    hz = os.sysconf("SC_CLK_TCK")
    busy0, _ = _busy_jiffies()
    own0 = _own_cpu_seconds()
    start = time.perf_counter()
    try:
        yield
    finally:
        record.wall_s = time.perf_counter() - start
        busy1, _ = _busy_jiffies()
        record.busy_cores = (busy1 - busy0) / hz / record.wall_s
        record.own_cores = (_own_cpu_seconds() - own0) / record.wall_s
        record.load_after = os.getloadavg()
        records.append(record)


def other_processes(limit: int = 3) -> list[str]:
    """The busiest other processes right now (from ``ps``), for the report."""
    try:
        out = subprocess.run(
            ["ps", "-eo", "pid,pcpu,args", "--sort=-pcpu", "--no-headers"],
            capture_output=True, text=True, timeout=10, check=False,
        ).stdout  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return []
    rows = []
    for line in out.splitlines():
        parts = line.split(None, 2)
        if len(parts) < 3 or int(parts[0]) == os.getpid() or parts[2].startswith("ps "):
            continue
        if float(parts[1]) < 20.0:
            break
        rows.append(f"`{parts[2][:70]}` ({parts[1]} % CPU)")
        if len(rows) == limit:
            break
    return rows


# --------------------------------------------------------------------------- statistics


def median_p95(samples: list[float]) -> tuple[float, float]:
    return statistics.median(samples), float(np.percentile(samples, 95))


def ms(value: float) -> str:
    return f"{value * 1000:.3f}"


@dataclass
class Samples:
    """Per-call wall-clock and CPU (this thread) seconds."""

    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)


def interleaved(
    ops: dict[str, Callable[[], object]], repeats: int, warmup: int = 10
) -> dict[str, Samples]:
    """Wall and CPU seconds of ``repeats`` calls of each op, the ops taking turns call by call.

    Taking turns exposes every op to the same background load, so their medians stay comparable
    when a neighbour's load comes and goes. The CPU time (``time.thread_time_ns``) leaves out
    the time the thread waited for a core.
    """
    for _ in range(warmup):
        for fn in ops.values():
            fn()
    out = {name: Samples() for name in ops}
    wall, cpu = time.perf_counter_ns, time.thread_time_ns
    for _ in range(repeats):
        for name, fn in ops.items():
            w0, c0 = wall(), cpu()
            fn()
            c1, w1 = cpu(), wall()
            out[name].wall.append((w1 - w0) / 1e9)
            out[name].cpu.append((c1 - c0) / 1e9)
    return out


# --------------------------------------------------------------------------- 1. key exchange


@dataclass
class KemResult:
    rows: dict[str, Samples]
    repeats: int
    wrap_repeats: int
    record_bytes: int
    payload_bytes: int


KEM_EXCHANGE = "ML-KEM-768 encaps + decaps (existing key pair)"
KEM_EPHEMERAL = "ML-KEM-768 keygen + encaps + decaps"
WRAP = "wrap_content_key (encaps + HKDF + AES-GCM + ML-DSA-65 sign)"
UNWRAP = "parse_wrapped_key + unwrap_content_key (ML-DSA-65 verify + decaps + AES-GCM)"
SIGN = "ML-DSA-65 sign of the record body alone"
VERIFY = "ML-DSA-65 verify of the record body alone"
UNWRAP_ONLY = "  of which unwrap_content_key alone (binding check + decaps + HKDF + AES-GCM)"


def bench_kem(repeats: int, wrap_repeats: int) -> KemResult:
    public_key, secret_key = ml_kem_768.keygen()
    # Decaps of distinct ciphertexts, each checked against its shared secret.
    pending = iter([ml_kem_768.encaps(public_key) for _ in range(repeats + 10)])

    def decaps() -> None:
        ciphertext, shared = next(pending)
        if bytes(ml_kem_768.decaps(secret_key, ciphertext)) != bytes(shared):
            raise AssertionError("ML-KEM-768 decapsulation did not recover the shared secret")

    def exchange() -> None:  # what one delivery needs: the licensee's key pair exists
        ciphertext, _ = ml_kem_768.encaps(public_key)
        ml_kem_768.decaps(secret_key, ciphertext)

    def ephemeral() -> None:
        pk, sk = ml_kem_768.keygen()
        ciphertext, _ = ml_kem_768.encaps(pk)
        ml_kem_768.decaps(sk, ciphertext)

    rows = interleaved(
        {
            "ML-KEM-768 keygen": ml_kem_768.keygen,
            "ML-KEM-768 encaps": lambda: ml_kem_768.encaps(public_key),
            "ML-KEM-768 decaps": decaps,
            KEM_EXCHANGE: exchange,
            KEM_EPHEMERAL: ephemeral,
        },
        repeats,
    )

    # The whole delivery record, as the key service and the licensee use it.
    kem = mlkem.generate()
    signer = mldsa.generate()
    binding = Binding(
        chain_id=31337,
        marketplace="0x" + "ab" * 20,
        token_id=7,
        license_id=42,
        licensee="0x" + "cd" * 20,
        kem_key_digest=mlkem.key_digest(kem.public_key),
    )
    content_key = new_content_key()
    manifest_cid = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"
    records: list[bytes] = []

    def wrap() -> None:
        records.append(wrap_content_key(content_key, kem.public_key, binding, manifest_cid, signer))

    wrap()
    payload = canonicalize(json.loads(records[0])["wrapped_key"])
    signature = mldsa.sign(signer.secret_key, payload, SIGNING_CONTEXT)
    rows.update(
        interleaved(
            {WRAP: wrap, SIGN: lambda: mldsa.sign(signer.secret_key, payload, SIGNING_CONTEXT)},
            wrap_repeats,
            warmup=3,
        )
    )
    cycle = iter(range(10**9))

    def unwrap() -> None:
        data = records[next(cycle) % len(records)]
        parsed = parse_wrapped_key(data)
        if unwrap_content_key(parsed, kem, binding) != content_key:
            raise AssertionError("unwrap_content_key returned another key")

    parsed = parse_wrapped_key(records[0])
    rows.update(
        interleaved(
            {
                UNWRAP: unwrap,
                UNWRAP_ONLY: lambda: unwrap_content_key(parsed, kem, binding),
                VERIFY: lambda: mldsa.verify(
                    signer.public_key, payload, signature, SIGNING_CONTEXT
                ),
            },
            repeats,
        )
    )
    order = (
        "ML-KEM-768 keygen", "ML-KEM-768 encaps", "ML-KEM-768 decaps", KEM_EXCHANGE,
        KEM_EPHEMERAL, WRAP, UNWRAP, UNWRAP_ONLY, SIGN, VERIFY,
    )  # fmt: skip
    return KemResult(
        {name: rows[name] for name in order}, repeats, wrap_repeats, len(records[0]), len(payload)
    )


# --------------------------------------------------------------------------- 2. AES-256-GCM


@dataclass
class AesResult:
    size: int
    repeats: int
    seconds: dict[str, Samples]
    openssl: tuple[str, float] | None  # (version, MiB/s) or None when unavailable

    def median(self, name: str, cpu: bool = False) -> float:
        samples = self.seconds[name]
        return statistics.median(samples.cpu if cpu else samples.wall)

    def mibps(self, name: str, cpu: bool = False) -> float:
        return self.size / MIB / self.median(name, cpu)


MEMCPY_FRESH = "memory copy into a fresh buffer (`bytearray(buf)`)"
MEMCPY_PRE = "memory copy into a preallocated buffer (`np.copyto`)"
SHA256 = "sha256 (`hashlib`)"
RAW_ENC = "AES-256-GCM encrypt (`cryptography` `AESGCM`)"
RAW_DEC = "AES-256-GCM decrypt (`cryptography` `AESGCM`)"
FQAI_ENC = "fqai `encrypt_weights` (sha256 + AES-GCM + header)"
FQAI_DEC = "fqai `decrypt_weights` (slice + AES-GCM)"


def openssl_speed() -> tuple[str, float] | None:
    """``openssl speed -evp aes-256-gcm`` on 16 KiB blocks: (version, MiB/s), if available."""
    binary = shutil.which("openssl")
    if binary is None:
        return None
    try:
        version = " ".join(
            subprocess.run(
                [binary, "version"], capture_output=True, text=True, timeout=10, check=False
            ).stdout.split()[:2]
        )
        out = subprocess.run(
            [binary, "speed", "-seconds", "2", "-bytes", "16384", "-evp", "aes-256-gcm"],
            capture_output=True, text=True, timeout=60, check=False,
        ).stdout  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    for line in out.splitlines():
        match = re.match(r"\s*aes-256-gcm\s+([0-9.]+)k\s*$", line, re.IGNORECASE)
        if match:
            return version, float(match.group(1)) * 1000 / MIB
    return None


def bench_aes(size: int, repeats: int) -> AesResult:
    buf = np.random.default_rng(0).bytes(size)
    key = new_content_key()
    aead = AESGCM(key)
    nonce = os.urandom(12)
    aad = b"FQAIENC1" + hashlib.sha256(buf).digest()
    raw_ct = aead.encrypt(nonce, buf, aad)
    blob = encrypt_weights(buf, key)
    digest_hex = "0x" + hashlib.sha256(buf).hexdigest()
    if decrypt_weights(blob, key, digest_hex) != buf or aead.decrypt(nonce, raw_ct, aad) != buf:
        raise AssertionError("AES-GCM round trip failed")
    src = np.frombuffer(buf, dtype=np.uint8)
    dst = np.empty_like(src)
    ops: dict[str, Callable[[], object]] = {
        MEMCPY_FRESH: lambda: bytearray(buf),
        MEMCPY_PRE: lambda: np.copyto(dst, src),
        SHA256: lambda: hashlib.sha256(buf).digest(),
        RAW_ENC: lambda: aead.encrypt(nonce, buf, aad),
        RAW_DEC: lambda: aead.decrypt(nonce, raw_ct, aad),
        FQAI_ENC: lambda: encrypt_weights(buf, key),
        FQAI_DEC: lambda: decrypt_weights(blob, key, digest_hex),
    }
    for fn in ops.values():  # warm-up: page in the buffers and the code paths
        fn()
    seconds: dict[str, Samples] = {name: Samples() for name in ops}
    wall, cpu = time.perf_counter, time.thread_time
    for _ in range(repeats):
        for name, fn in ops.items():
            w0, c0 = wall(), cpu()
            result = fn()
            c1, w1 = cpu(), wall()
            seconds[name].wall.append(w1 - w0)
            seconds[name].cpu.append(c1 - c0)
            del result
    return AesResult(size, repeats, seconds, openssl_speed())


# --------------------------------------------------------------------------- 3. end to end


STEPS = ("buy", "deliver", "fetch", "load")
STEP_SHORT = {
    "buy": "the purchase",
    "deliver": "the key service pass",
    "fetch": "the fetch",
    "load": "loading",
}
CHECK_STREAM = "  of which check_weights_stream (stream + sha256 of the ciphertext)"
FETCH_CT = "fetch_ciphertext (stream + size, sha256 and CID checks)"
LOAD_BYTES = "load_bytes (sha256 + header + deserialise)"
WRAP_SUB = "wrap_content_key"
STEP_LABELS = {
    "buy": "`buy_license` (pin ML-KEM key + `buyLicense` tx)",
    "deliver": "`KeyService.run_once()` (wrap + pin + `deliverKey` tx)",
    "fetch": "`fetch_licensed_model` (verify, unwrap, fetch, decrypt, check, write)",
    "load": "load the written file (`load_file`)",
}
SUB_STEPS: dict[str, tuple[str, ...]] = {
    "buy": ("publish_kem_key", "Marketplace.buy_license"),
    "deliver": ("wrap_content_key", "Marketplace.deliver_key"),
    "fetch": (
        "verify_token",
        "  of which check_weights_stream (stream + sha256 of the ciphertext)",
        "parse_wrapped_key",
        "unwrap_content_key",
        FETCH_CT,
        "decrypt_weights",
        LOAD_BYTES,
        "write_bytes_atomic",
    ),
    "load": (),
}
SUB_TARGETS: dict[str, tuple[Any, str]] = {
    "publish_kem_key": (licensee_mod, "publish_kem_key"),
    "Marketplace.buy_license": (Marketplace, "buy_license"),
    "wrap_content_key": (keyservice_mod, "wrap_content_key"),
    "Marketplace.deliver_key": (Marketplace, "deliver_key"),
    "verify_token": (licensee_mod, "verify_token"),
    "  of which check_weights_stream (stream + sha256 of the ciphertext)": (
        verify_mod,
        "check_weights_stream",
    ),
    "parse_wrapped_key": (licensee_mod, "parse_wrapped_key"),
    "unwrap_content_key": (licensee_mod, "unwrap_content_key"),
    FETCH_CT: (licensee_mod, "fetch_ciphertext"),
    "decrypt_weights": (licensee_mod, "decrypt_weights"),
    LOAD_BYTES: (licensee_mod, "load_bytes"),
    "write_bytes_atomic": (licensee_mod, "write_bytes_atomic"),
}


@contextmanager
def instrumented(acc: dict[str, float]) -> Iterator[None]:
    """Wrap the functions of SUB_TARGETS so that their time adds up in ``acc``; restore after."""
    saved: list[tuple[Any, str, Any]] = []

    def timed(label: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                acc[label] += time.perf_counter() - start

        return wrapper

    try:
        for label, (owner, name) in SUB_TARGETS.items():
            original = owner.__dict__[name] if isinstance(owner, type) else getattr(owner, name)
            saved.append((owner, name, original))
            setattr(owner, name, timed(label, original))
        yield
    finally:
        for owner, name, original in reversed(saved):
            setattr(owner, name, original)


@dataclass
class E2eModel:
    name: str
    path: Path
    spec: ModelSpec
    is_mlp: bool
    token: int = 0
    info: WeightsInfo | None = None
    setup_publish_s: float = 0.0
    steps: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    subs: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    accuracy: float | None = None


@dataclass
class E2eResult:
    models: list[E2eModel]
    licensees: int
    setup: dict[str, float]
    versions: dict[str, str]


def make_identity(directory: Path) -> NodeIdentity:
    store = Keystore(directory)
    store.create(PASSPHRASE, kdf=CHEAP_KDF, eth_scrypt_n=2**12)
    return store.unlock(PASSPHRASE)


def trained_mlp(path: Path) -> None:
    data = task.load_dataset("breast_cancer")
    model = task.build_model("breast_cancer", seed=3)
    task.train(model, data.x_train, data.y_train, epochs=5, lr=0.05)
    save_weights(task.get_weights(model), path)


def synthetic_weights(path: Path, size_mib: int) -> None:
    """Four float32 matrices of about ``size_mib`` MiB in all (random normal values)."""
    side = math.isqrt(size_mib * MIB // 4 // 4)
    rng = np.random.default_rng(1)
    tensors = {
        f"layers.{i}.weight": rng.standard_normal((side, side), dtype=np.float32) for i in range(4)
    }
    save_weights(tensors, path)


def bench_e2e(base: Path, big_mib: int, licensees: int, records: list[LoadRecord]) -> E2eResult:
    setup: dict[str, float] = {}
    versions: dict[str, str] = {}
    models = [
        E2eModel("breast-cancer MLP (demo model)", base / "mlp.safetensors", CANCER_MLP, True),
        E2eModel(
            f"synthetic float32 model ({big_mib} MiB)",
            base / "big.safetensors",
            ModelSpec(name="fqai.bench-synthetic", params={"mib": big_mib}),
            False,
        ),
    ]
    trained_mlp(models[0].path)
    synthetic_weights(models[1].path, big_mib)
    chain_id = 31337
    deployments = base / "deployments"
    begin = time.perf_counter()
    ipfs_node = IpfsNode(base / "ipfs" / "repo", log_path=base / "ipfs.log")
    ipfs_error: list[BaseException] = []

    def start_ipfs() -> None:
        try:
            ipfs_node.start()
        except BaseException as exc:  # reported in the main thread
            ipfs_error.append(exc)

    starter = threading.Thread(target=start_ipfs, name="ipfs-start")
    starter.start()  # js-ipfs starts while Brownie deploys the contracts
    old_env = os.environ.get(DEPLOYMENTS_ENV)
    try:
        with AnvilNode(chain_id=chain_id, log_path=base / "anvil.log") as anvil:
            deploy_contracts(anvil.rpc_url, chain_id, deployments)
            setup["Anvil start + contract deployment (Brownie)"] = time.perf_counter() - begin
            starter.join()
            if ipfs_error:
                raise ipfs_error[0]
            setup["js-ipfs start (in parallel with the above; from the same start)"] = (
                time.perf_counter() - begin
            )
            os.environ[DEPLOYMENTS_ENV] = str(deployments)
            w3 = connect(anvil.rpc_url)
            deployment = load_deployment(chain_id, deployments)
            versions["anvil"] = str(w3.client_version)
            dev = list(w3.eth.accounts)

            def client(sender: Any) -> ChainClient:
                return ChainClient(w3, deployment, sender)

            funder = client(UnlockedSender(dev[5]))
            with IpfsClient(ipfs_node.api_address, timeout=600) as ipfs:
                versions["js-ipfs"] = ipfs.version()
                start = time.perf_counter()
                owner = make_identity(base / "keys" / "owner")
                funder.send_ether(owner.public.eth_address, 10**18)
                client(UnlockedSender(dev[0])).transact(
                    "ModelNFT", "setMinter", owner.public.eth_address, True
                )
                owner_chain = client(KeySender(owner.eth_private_key))
                keys = ContentKeyStore(base / "content-keys", PASSPHRASE, ScryptParams(n=2**10))
                seller = Marketplace(owner_chain)
                terms = ipfs.add_bytes(b"benchmark licence: evaluation only\n")
                setup["owner keystore, funding, setMinter"] = time.perf_counter() - start
                for model in models:
                    start = time.perf_counter()
                    key = new_content_key()
                    published = publish_artifact(
                        ipfs, owner, model.path, kind="published-model", federation_id=0,
                        round=0, model=model.spec, content_key=key,
                    )  # fmt: skip
                    keys.put(published.manifest_cid, key)
                    model.info = published.manifest.weights.info
                    model.token = seller.mint(
                        owner.public.eth_address,
                        MintParams(
                            manifest_cid=published.manifest_cid,
                            weights_digest=published.manifest.weights.sha256,
                            signer_key_digest=owner.public.mldsa_key_digest,
                            royalty_receiver=owner.public.eth_address,
                        ),
                    )
                    seller.create_license_offer(
                        model.token, LicenseOffer(PRICE, 3600, terms_cid=terms)
                    )
                    model.setup_publish_s = time.perf_counter() - start
                    setup[f"publish licensed-only + mint + offer: {model.name}"] = (
                        model.setup_publish_s
                    )
                service = KeyService(owner_chain, ipfs, owner, keys)
                for model in models:
                    helpers = "Anvil and js-ipfs (ours) run during this part"
                    with watch_load(f"end to end: {model.name}", records, helpers):
                        run_licensees(base, model, licensees, funder, client, ipfs, service)
    finally:
        starter.join()
        ipfs_node.stop()
        if old_env is None:
            os.environ.pop(DEPLOYMENTS_ENV, None)
        else:
            os.environ[DEPLOYMENTS_ENV] = old_env
    return E2eResult(models, licensees, setup, versions)


def run_licensees(
    base: Path,
    model: E2eModel,
    licensees: int,
    funder: ChainClient,
    client: Callable[[Any], ChainClient],
    ipfs: IpfsClient,
    service: KeyService,
) -> None:
    assert model.info is not None
    for i in range(licensees):
        identity = make_identity(base / "keys" / f"{model.token}-{i}")
        funder.send_ether(identity.public.eth_address, 10**17)
        chain = client(KeySender(identity.eth_private_key))
        dest = base / f"licensee-{model.token}-{i}.safetensors"
        acc: dict[str, float] = defaultdict(float)
        with instrumented(acc):
            t0 = time.perf_counter()
            purchase = buy_license(chain, ipfs, identity, model.token, 0, PRICE)
            t1 = time.perf_counter()
            outcomes = service.run_once()
            t2 = time.perf_counter()
            fetched = fetch_licensed_model(chain, ipfs, identity, model.token, dest)
            t3 = time.perf_counter()
            weights = load_file(fetched.path, model.info)
            torch_model = None
            if model.is_mlp:
                torch_model = task.build_model("breast_cancer")
                task.set_weights(torch_model, weights)
            t4 = time.perf_counter()
        mine = [o for o in outcomes if o.license_id == purchase.license_id]
        if [o.status for o in mine] != ["delivered"]:
            raise AssertionError(f"key service did not deliver licence {purchase.license_id}")
        if fetched.license_id != purchase.license_id:
            raise AssertionError("fetched under another licence")
        for step, value in zip(STEPS, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True):
            model.steps[step].append(value)
        for label in SUB_TARGETS:
            model.subs[label].append(acc[label])
        if torch_model is not None and model.accuracy is None:  # sanity check, not timed
            data = task.load_dataset("breast_cancer")
            model.accuracy = task.evaluate(torch_model, data.x_test, data.y_test).accuracy
        dest.unlink()
        log(f"  {model.name} licensee {i + 1}/{licensees}: {t4 - t0:.3f} s")


# --------------------------------------------------------------------------- report


def kem_section(kem: KemResult) -> tuple[str, str]:
    rows = []
    for name, samples in kem.rows.items():
        med, p95 = median_p95(samples.wall)
        cpu_med = statistics.median(samples.cpu)
        label = f"{name} ({kem.payload_bytes} bytes)" if name == SIGN else name
        rows.append([label, len(samples.wall), ms(med), ms(p95), ms(cpu_med)])
    table = markdown_table(
        ["operation", "samples", "median (ms)", "p95 (ms)", "median CPU (ms)"], rows
    )

    def med(name: str) -> tuple[float, float]:
        return statistics.median(kem.rows[name].wall), statistics.median(kem.rows[name].cpu)

    exchange, exchange_cpu = med(KEM_EXCHANGE)
    ephemeral, ephemeral_cpu = med(KEM_EPHEMERAL)
    wrap, wrap_cpu = med(WRAP)
    unwrap, unwrap_cpu = med(UNWRAP)
    sign_cpu = med(SIGN)[1]

    def verdict(seconds: float) -> str:
        return "below" if seconds < 1e-3 else "above"

    share = sign_cpu / wrap_cpu * 100 if wrap_cpu > 0 else 0.0
    summary = (
        f"The bare ML-KEM-768 exchange (encaps + decaps) takes {ms(exchange)} ms here "
        f"({ms(exchange_cpu)} ms of CPU), {verdict(max(exchange, exchange_cpu))} the "
        f"whitepaper's 1 ms; {ms(ephemeral)} ms with a fresh key pair "
        f"({verdict(max(ephemeral, ephemeral_cpu))} 1 ms). The full signed delivery record: "
        f"`wrap_content_key` takes {ms(wrap)} ms ({ms(wrap_cpu)} ms CPU), "
        f"{share:.0f} % of whose CPU time is the ML-DSA-65 signature ({ms(sign_cpu)} ms CPU "
        f"alone), and `parse_wrapped_key` + `unwrap_content_key` {ms(unwrap)} ms "
        f"({ms(unwrap_cpu)} ms CPU); per delivered key the owner and the licensee together "
        f"spend {ms(wrap_cpu + unwrap_cpu)} ms of CPU, {verdict(wrap_cpu + unwrap_cpu)} 1 ms. "
        f"Record size: {kem.record_bytes} bytes."
    )
    body = f"""### ML-KEM-768 key exchange and the wrapped-key record

One call per sample, after a few untimed warm-up calls, the operations of each group (the five
ML-KEM rows; wrap and sign; the three unwrap/verify rows) taking turns call by call so that
background load hits them alike. Wall clock (`time.perf_counter_ns`, median and p95) and this
thread's CPU time (`time.thread_time_ns`, median; it leaves out time spent waiting for a core,
see the load table at the end). Encaps + decaps runs back to back with the licensee's existing
key pair (what one delivery needs); keygen + encaps + decaps is an ephemeral exchange. The
record rows call fqai's own functions with a realistic binding. pqcrypto's ML-DSA-65 signing is
hedged (randomised, with rejection sampling), so its time varies from call to call.

{table}

{summary}
"""
    return body, summary


def aes_section(aes: AesResult) -> tuple[str, str]:
    order = (MEMCPY_FRESH, MEMCPY_PRE, SHA256, RAW_ENC, RAW_DEC, FQAI_ENC, FQAI_DEC)
    rows = []
    for name in order:
        rows.append(
            [
                name,
                f"{aes.median(name) * 1000:.1f}",
                f"{min(aes.seconds[name].wall) * 1000:.1f}",
                f"{aes.median(name, cpu=True) * 1000:.1f}",
                f"{aes.mibps(name):,.0f}",
                f"{aes.mibps(name, cpu=True):,.0f}",
            ]
        )
    if aes.openssl is not None:
        version, rate = aes.openssl
        label = f"`openssl speed -evp aes-256-gcm`, 16 KiB blocks, in cache ({version})"
        rows.append([label, "", "", "", "", f"{rate:,.0f}"])
    table = markdown_table(
        ["operation", "median (ms)", "best (ms)", "median CPU (ms)", "MiB/s", "MiB/s of CPU"],
        rows,
    )

    def over(fqai: str, raw: str, cpu: bool) -> float:
        return (aes.median(fqai, cpu) / aes.median(raw, cpu) - 1) * 100

    openssl_part = ""
    if aes.openssl is not None:
        openssl_part = (
            f" The system OpenSSL's in-cache rate ({aes.openssl[1]:,.0f} MiB/s of CPU time, "
            "16 KiB blocks) is this CPU's best case for AES-256-GCM; raw `AESGCM` on the "
            f"{aes.size / MIB:.0f} MiB buffer reaches "
            f"{aes.mibps(RAW_ENC, cpu=True) / aes.openssl[1] * 100:.0f} % of it (CPU time)"
            "; see below for where the rest goes."
        )
    summary = (
        f"On {aes.size / MIB:.0f} MiB, fqai's `encrypt_weights` runs at "
        f"{aes.mibps(FQAI_ENC):,.0f} MiB/s against {aes.mibps(RAW_ENC):,.0f} MiB/s for raw "
        f"AES-256-GCM ({over(FQAI_ENC, RAW_ENC, False):+.0f} % time; "
        f"{over(FQAI_ENC, RAW_ENC, True):+.0f} % CPU time), and `decrypt_weights` at "
        f"{aes.mibps(FQAI_DEC):,.0f} MiB/s against {aes.mibps(RAW_DEC):,.0f} MiB/s "
        f"({over(FQAI_DEC, RAW_DEC, False):+.0f} % time; {over(FQAI_DEC, RAW_DEC, True):+.0f} % "
        f"CPU time); for reference a copy into a fresh buffer runs at "
        f"{aes.mibps(MEMCPY_FRESH):,.0f} MiB/s ({aes.mibps(MEMCPY_PRE):,.0f} MiB/s into a "
        f"preallocated one) and sha256 at {aes.mibps(SHA256):,.0f} MiB/s.{openssl_part}"
    )
    cache_part = ""
    if aes.openssl is not None:
        in_cache = aes.size / MIB / aes.openssl[1]
        fresh = aes.median(MEMCPY_FRESH, cpu=True) - aes.median(MEMCPY_PRE, cpu=True)
        cache_part = (
            f" For raw AES-GCM itself: {aes.size / MIB:.0f} MiB at the in-cache OpenSSL rate "
            f"is {in_cache * 1000:.0f} ms, and writing into a freshly allocated output buffer "
            f"costs about {fresh * 1000:.0f} ms more than into a preallocated one (the two copy "
            f"rows), {(in_cache + fresh) * 1000:.0f} ms together against "
            f"{aes.median(RAW_ENC, cpu=True) * 1000:.0f} ms measured for `AESGCM.encrypt`."
        )
    enc_model = sum(aes.median(n, cpu=True) for n in (RAW_ENC, SHA256, MEMCPY_FRESH))
    dec_model = sum(aes.median(n, cpu=True) for n in (RAW_DEC, MEMCPY_FRESH))
    body = f"""### AES-256-GCM on {aes.size / MIB:.0f} MiB of weights

The same random buffer for every operation; medians of {aes.repeats} runs, the operations
interleaved round-robin after one untimed warm-up run each; MiB/s = {aes.size / MIB:.0f} MiB /
median wall time, MiB/s of CPU = {aes.size / MIB:.0f} MiB / median CPU time of the thread.
`encrypt_weights` hashes the plaintext (sha256, for the associated data), encrypts, and
concatenates magic + nonce + ciphertext (one more copy of the output); `decrypt_weights` slices
the ciphertext out of the blob (one copy) and decrypts; it does not hash (the expected digest is
bound in through the associated data).

{table}

{summary}

Where fqai's overhead goes: raw AES-GCM + sha256 + one copy into a fresh buffer add up to
{enc_model * 1000:.0f} ms of CPU against {aes.median(FQAI_ENC, cpu=True) * 1000:.0f} ms measured
for `encrypt_weights`; raw AES-GCM + one copy add up to {dec_model * 1000:.0f} ms against
{aes.median(FQAI_DEC, cpu=True) * 1000:.0f} ms measured for `decrypt_weights`.{cache_part}
"""
    return body, summary


def e2e_section(e2e: E2eResult) -> tuple[str, str]:
    parts = []
    summaries = []
    for model in e2e.models:
        assert model.info is not None
        rows = []
        totals = [sum(values) for values in zip(*(model.steps[s] for s in STEPS), strict=True)]
        for step in STEPS:
            med, _ = median_p95(model.steps[step])
            rows.append(
                [STEP_LABELS[step], f"{med:.3f}", f"{min(model.steps[step]):.3f}",
                 f"{max(model.steps[step]):.3f}"]
            )  # fmt: skip
            for sub in SUB_STEPS[step]:
                values = model.subs[sub]
                label = sub.strip()
                indent = "&nbsp;&nbsp;&nbsp;&nbsp;" * (2 if sub.startswith("  ") else 1)
                rows.append(
                    [f"{indent}{label}", f"{statistics.median(values):.3f}",
                     f"{min(values):.3f}", f"{max(values):.3f}"]
                )  # fmt: skip
        med_total = statistics.median(totals)
        rows.append(
            ["**total: licence to usable model**", f"**{med_total:.3f}**",
             f"{min(totals):.3f}", f"{max(totals):.3f}"]
        )  # fmt: skip
        table = markdown_table(["step", "median (s)", "min (s)", "max (s)"], rows)
        extra = ""
        if model.accuracy is not None:
            extra = (
                f" The fetched MLP's test accuracy (a sanity check, not timed): "
                f"{model.accuracy:.3f}."
            )
        med_steps = {s: statistics.median(model.steps[s]) for s in STEPS}
        slowest = max(med_steps, key=lambda s: med_steps[s])
        summaries.append(
            f"{model.name}, {model.info.size:,} bytes: {med_total:.2f} s from "
            f"`buy_license` to loaded weights (median of {len(totals)} licensees), the largest "
            f"step being {STEP_SHORT[slowest]} ({med_steps[slowest]:.2f} s)."
        )
        if not model.is_mlp:
            sub = {k: statistics.median(v) for k, v in model.subs.items()}
            stream = sub[CHECK_STREAM]
            crypto = sum(sub[k] for k in (WRAP_SUB, "parse_wrapped_key", "unwrap_content_key"))
            if stream >= 0.01:
                streams = (
                    f"the ciphertext is streamed twice: `verify_token` streams and hashes it "
                    f"({stream:.2f} s) before `fetch_ciphertext` fetches and checks it again "
                    f"({sub[FETCH_CT]:.2f} s)"
                )
            else:
                streams = (
                    f"the ciphertext is streamed once (`fetch_ciphertext`, {sub[FETCH_CT]:.2f} s "
                    f"with its checks; `verify_token` takes {sub['verify_token']:.2f} s without "
                    "streaming it)"
                )
            extra = (
                f" The post-quantum key handling (wrap in the key service, parse + unwrap in "
                f"the fetch) is {crypto * 1000:.0f} ms in all and AES-GCM decryption "
                f"{sub['decrypt_weights'] * 1000:.0f} ms; {streams}; the plaintext is checked "
                f"and deserialised both inside the fetch (`load_bytes`, "
                f"{sub[LOAD_BYTES]:.2f} s) and when the licensee loads the written file "
                f"(`load_file`, {statistics.median(model.steps['load']):.2f} s)."
            )
        parts.append(
            f"#### {model.name}: {model.info.size:,} bytes of safetensors, "
            f"{len(model.info.tensors)} tensors\n\n{table}\n\n{summaries[-1]}{extra}\n"
        )
    setup_rows = [[name, f"{seconds:.1f}"] for name, seconds in e2e.setup.items()]
    setup_table = markdown_table(["setup step (not timed above)", "seconds"], setup_rows)
    body = f"""### Licence to usable model on a local chain

Anvil ({e2e.versions.get("anvil", "?")}, one block per transaction) with fqai's contracts
deployed by Brownie, and js-ipfs {e2e.versions.get("js-ipfs", "?")} (offline, loopback), both
started by the script. {e2e.licensees} fresh licensees per model, one after the other; each buys
a licence, then the owner's key service runs one pass, then the licensee fetches and loads the
model. Indented rows are time spent inside the step above in the functions named (wrapped with
timers); the rest of a step is chain calls, event queries, IPFS round trips of small records,
and Python. Owner and licensee use the same local IPFS node, so no bytes cross a network.

{chr(10).join(parts)}
{setup_table}
"""
    return body, " ".join(summaries)


def load_section(records: list[LoadRecord], busy: list[str]) -> str:
    rows = []
    for r in records:
        rows.append(
            [
                r.name,
                f"{r.wall_s:.1f}",
                " / ".join(f"{v:.2f}" for v in r.load_before),
                " / ".join(f"{v:.2f}" for v in r.load_after),
                f"{r.own_cores:.2f}",
                f"{r.other_cores:.2f}" + (" (incl. Anvil, js-ipfs)" if r.helpers else ""),
            ]
        )
    table = markdown_table(
        ["part", "wall (s)", "load avg before (1/5/15 min)", "after", "this process (cores)",
         "other processes (cores)"],
        rows,
    )  # fmt: skip
    cores = os.cpu_count() or 1
    micro = [r for r in records if not r.helpers]
    worst = max((r.other_cores for r in micro), default=0.0)
    least_own = min((r.own_cores for r in micro), default=0.0)
    if worst >= 0.3:
        note = (
            f"**Interference:** other processes used up to {worst:.2f} of the {cores} cores "
            "during the CPU-bound parts, so this run shared the machine. The single-threaded "
            f"micro-benchmarks still got {least_own:.2f} of a core or more; compare their "
            "wall-clock and CPU-time medians above (CPU time leaves out waiting for a core, "
            "but not slower caches, memory or a shared physical core under a neighbour's "
            "load). The end-to-end timings "
            "also depend on Anvil and js-ipfs getting a core, so they are the ones a busy "
            "machine slows most."
        )
    else:
        note = (
            f"Other processes used at most {worst:.2f} of the {cores} cores during the "
            "CPU-bound parts: no significant interference."
        )
    others = ""
    if busy:
        others = "\n\nBusiest other processes at the start: " + "; ".join(busy) + "."
    return f"""### Machine load during the run

`os.getloadavg()` before and after each part; cores = CPU seconds / wall seconds, for this
process and for everything else on the machine (from `/proc/stat`).

{table}

{note}{others}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run (under a minute)")
    parser.add_argument("--kem-repeats", type=int, default=None)
    parser.add_argument("--wrap-repeats", type=int, default=None)
    parser.add_argument("--aes-mib", type=int, default=None)
    parser.add_argument("--aes-repeats", type=int, default=None)
    parser.add_argument("--big-mib", type=int, default=None)
    parser.add_argument("--licensees", type=int, default=None)
    parser.add_argument("--out", type=Path, default=DOC)
    args = parser.parse_args()
    quick = args.quick
    kem_repeats = args.kem_repeats or (100 if quick else 1000)
    wrap_repeats = args.wrap_repeats or (20 if quick else 200)
    aes_mib = args.aes_mib or (20 if quick else 100)
    aes_repeats = args.aes_repeats or (2 if quick else 7)
    big_mib = args.big_mib or (10 if quick else 100)
    licensees = args.licensees or (2 if quick else 10)

    began = time.perf_counter()
    busy = other_processes()
    records: list[LoadRecord] = []
    log(f"ML-KEM-768 and wrapped-key record, {kem_repeats} samples...")
    with watch_load("ML-KEM-768 + wrapped-key record", records):
        kem = bench_kem(kem_repeats, wrap_repeats)
    log(f"AES-256-GCM on {aes_mib} MiB x {aes_repeats}...")
    with watch_load(f"AES-256-GCM, {aes_mib} MiB", records):
        aes = bench_aes(aes_mib * MIB, aes_repeats)
    log(f"end to end: Anvil + js-ipfs, {licensees} licensees per model...")
    with tempfile.TemporaryDirectory(prefix="fqai-delivery-bench-") as tmp:
        e2e = bench_e2e(Path(tmp), big_mib, licensees, records)
    runtime = time.perf_counter() - began

    kem_body, kem_summary = kem_section(kem)
    aes_body, aes_summary = aes_section(aes)
    e2e_body, e2e_summary = e2e_section(e2e)
    command = (
        "`.venv/bin/python bench/delivery_bench.py"
        + (" " + " ".join(sys.argv[1:]) if sys.argv[1:] else "")
        + "`"
    )
    versions = (
        f"pqcrypto {pqcrypto.__version__}, cryptography {cryptography.__version__} "
        f"({openssl_backend.openssl_version_text()}), numpy {np.__version__}"
    )
    title = "## Licensed delivery" + (" (--quick)" if quick else "")
    body = f"""{title}

- Command: {command}; whole script {runtime:.0f} s
- Date: {now_utc()}
- Machine: {cpu_description()}
- Libraries: {versions}; Python {platform.python_version()}

Summary:

- {kem_summary}
- {aes_summary}
- {e2e_summary}

{kem_body}
{aes_body}
{e2e_body}
{load_section(records, busy)}"""
    if not args.out.exists():
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(DOC_HEADER)
    write_section("delivery-quick" if quick else "delivery", body, path=args.out)
    print(body)
    log(f"written to {args.out} ({runtime:.0f} s)")


if __name__ == "__main__":
    main()
