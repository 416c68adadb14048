"""`make demo`, licensed delivery: a second account licenses a model derived from the federation's
and evaluates it, through the `fqai` commands a real owner and licensee would run.

The federation's round models are public on IPFS (anyone must be able to recompute the
aggregation), so what the owner licenses is a model of its own: the federation's final model
fine-tuned on the owner's data, published licensed-only with the federation model as its parent.

1. The coordinator (owner of the federation's NFT) fine-tunes the final model for 2 epochs and
   runs `fqai model publish --parent <federation model>`: weights pinned AES-256-GCM encrypted,
   the content key sealed in its keystore, the NFT minted; `fqai license offer` puts it on sale.
2. `fqai keyservice run` starts as a background process.
3. A second account creates a keystore and runs `fqai license buy` (pins its ML-KEM-768 key,
   pays); the key service wraps the content key to it and records the CID on-chain.
4. The licensee runs `fqai model eval <token>`: fetch, unwrap, decrypt, verify, evaluate on the
   held-out split.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

from rich.console import Console

from fqai.chain import ChainClient, Marketplace, UnlockedSender
from fqai.federation import task
from fqai.ipfs.client import IpfsClient
from fqai.trust.fetch import load_verified_weights
from fqai.weights import save_weights

ETH = 10**18


def _run(console: Console, cmd: list[str], what: str) -> dict:
    console.print(
        f"[dim]$ {' '.join(Path(cmd[0]).name if i == 0 else c for i, c in enumerate(cmd))}[/]"
    )
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{what} failed:\n{done.stdout}{done.stderr}")
    lines = done.stdout.strip().splitlines()
    for line in lines[:-1]:
        console.print("  " + line, markup=False, highlight=False)
    return json.loads(lines[-1])


def licensed_delivery(
    console: Console,
    *,
    model_cid: str,
    parent_token: int,
    owner_keystore: Path,
    passphrase_file: Path,
    rpc_url: str,
    ipfs_api: str,
    deployments: Path,
    fqai_bin: Path,
    workdir: Path,
) -> None:
    """Publish licensed-only, run the key service, license and evaluate (see module docstring)."""
    from fqai.keystore import Keystore, ScryptParams

    base = workdir / "delivery"
    base.mkdir(parents=True)
    passphrase = passphrase_file.read_text()
    common = [
        "--rpc-url", rpc_url, "--deployments-dir", str(deployments), "--ipfs-api", ipfs_api,
        "--passphrase-file", str(passphrase_file),
    ]  # fmt: skip
    owner = Keystore(owner_keystore).unlock(passphrase)
    chain = ChainClient.from_rpc(rpc_url, deployments_dir=deployments)
    dev = chain.dev_accounts()
    # The NFT contract's owner (the deployer) lets the coordinator mint models it publishes.
    chain.with_sender(UnlockedSender(dev[0])).transact(
        "ModelNFT", "setMinter", owner.public.eth_address, True
    )

    with IpfsClient(ipfs_api) as ipfs:
        verified, weights = load_verified_weights(ipfs, model_cid)
    # The federation's model family (the MLP, or the quantum model with FQAI_DEMO_MODEL).
    dataset, setting, data_seed = task.model_from_params(
        verified.manifest.model.name, verified.manifest.model.params
    )
    data = task.load_dataset(dataset, seed=data_seed, model=setting)
    model = task.build_model(dataset, model=setting)
    task.set_weights(model, weights)
    before = task.evaluate(model, data.x_test, data.y_test).accuracy
    task.train(model, data.x_train, data.y_train, epochs=2, lr=0.05 if setting else 0.02, seed=7)
    tuned = base / "fine-tuned.safetensors"
    save_weights(task.get_weights(model), tuned)
    console.print(
        f"owner fine-tuned the federation model {model_cid[:16]}… for 2 epochs "
        f"(held-out accuracy {before:.3f} before)"
    )
    owner_args = ["--keystore", str(owner_keystore), *common]
    kind = ["--model", setting, "--data-seed", str(data_seed)] if setting else [
        "--name", task.MODEL_NAMES[dataset]]  # fmt: skip
    published = _run(
        console,
        [str(fqai_bin), "model", "publish", str(tuned), *kind, "--dataset", dataset,
         "--parent", model_cid, "--parent-token", str(parent_token), *owner_args],
        "fqai model publish",
    )  # fmt: skip
    token = int(published["token_id"])
    _run(
        console,
        [str(fqai_bin), "license", "offer", str(token), "--price", "0.02", "--duration-days", "30",
         *owner_args],
        "fqai license offer",
    )  # fmt: skip

    log_path = base / "keyservice.log"
    with log_path.open("w") as log:
        service = subprocess.Popen(
            [str(fqai_bin), "keyservice", "run", "--interval", "1", "--token", str(token),
             *owner_args],
            stdout=log, stderr=subprocess.STDOUT, text=True, start_new_session=True,
        )  # fmt: skip
    console.print(f"key service started (pid {service.pid}, log {log_path})")
    try:
        licensee_dir = base / "keys" / "licensee"
        Keystore(licensee_dir).create(
            passphrase, kdf=ScryptParams(n=2**14, r=8, p=1), eth_scrypt_n=2**12
        )
        licensee = Keystore(licensee_dir).unlock(passphrase)
        chain.with_sender(UnlockedSender(dev[8])).send_ether(licensee.public.eth_address, ETH)
        licensee_args = ["--keystore", str(licensee_dir), *common]
        started = time.monotonic()
        bought = _run(
            console,
            [str(fqai_bin), "license", "buy", str(token), "--offer", "0", "--max-price", "0.02",
             *licensee_args],
            "fqai license buy",
        )  # fmt: skip
        market = Marketplace(chain)
        with console.status("waiting for the key service to deliver the wrapped key ..."):
            deadline = time.monotonic() + 120
            while not market.license_of(token, licensee.public.eth_address).key_delivered:
                if service.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"key service did not deliver; see {log_path}")
                time.sleep(0.5)
        (delivery,) = market.key_deliveries(token_id=token, licensee=licensee.public.eth_address)
        console.print(
            f"licence {bought['license_id']}: wrapped key {delivery.wrapped_key_cid} delivered "
            f"{time.monotonic() - started:.1f} s after the purchase"
        )
        result = _run(
            console,
            [str(fqai_bin), "model", "eval", str(token), *licensee_args],
            "fqai model eval",
        )
        console.print(
            f"licensee {licensee.public.eth_address} evaluated token {token}: accuracy "
            f"{result['accuracy']:.3f} on {result['samples']} held-out samples "
            f"(federation model before fine-tuning: {before:.3f})"
        )
        for run in result.get("backends", []):  # a quantum model: exact, shots, fake device
            console.print(
                f"  circuit on {run['backend']}"
                + (f" with {run['shots']} shots" if run["shots"] else " (exact)")
                + f": accuracy {run['accuracy']:.3f}"
            )
    finally:
        service.terminate()
        try:
            service.wait(timeout=20)
        except subprocess.TimeoutExpired:
            service.kill()
