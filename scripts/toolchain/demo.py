"""`make demo`: the product path on one machine, on local embedded defaults.

1. Start a local IPFS node (js-ipfs, offline, loopback) and an Anvil chain (chain id 31337,
   port 8545 when free, else any free port).
2. Deploy every contract with `brownie run scripts/deploy.py` and print the addresses from
   deployments/<chainId>.json; build the web dApp (frontend/) and serve it on 127.0.0.1:8000
   (or a free port) for this chain and IPFS node.
3. Publish a model the way fqai publishes every artifact: a small classifier trained on
   scikit-learn's breast-cancer data, saved as safetensors, pinned to IPFS with an ML-DSA-65
   signed manifest, then minted as a model NFT whose provenance points at that manifest.
4. Verify it as a stranger would (`fqai verify <CID>` against the on-chain signer digest), list
   it for sale, offer a licence, and buy one.
5. Run a federation (scripts/toolchain/demo_federation.py): 4 staked nodes with their own keys,
   data partitions and accounts train 3 rounds of a breast-cancer MLP through a Flower SuperLink
   (each round 3 of the 4 nodes, chosen from their scores and update redundancy by the exact
   solver with QAOA on Aer beside it; both answers and their figures are printed and recorded);
   the coordinator checks every signed, committed update, finalises each round on-chain and
   mints the model NFT through the registry; nodes claim and withdraw their rewards; the model is
   verified (every round's aggregation recomputed from the signed updates), listed and licensed,
   and its contributors claim their share of the licence revenue.
6. Licensed delivery (scripts/toolchain/demo_delivery.py): the coordinator fine-tunes the
   federation's model and publishes it licensed-only (encrypted weights, NFT minted, licence
   offer); `fqai keyservice run` runs in the background; a second account buys a licence with its
   ML-KEM-768 key, receives the wrapped content key and runs `fqai model eval` on the model.

With a terminal attached the services keep running until Ctrl-C; otherwise (CI, pipes) everything
is stopped before exit. FQAI_DEMO_KEEP=0/1 overrides. Everything the demo writes (keystores, logs,
IPFS repository) goes to .devnet/demo, or to $FQAI_DEMO_DIR.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table
from safetensors.numpy import save_file
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from web3 import Web3
from web3.logs import DISCARD

from fqai.devnet.anvil import AnvilNode
from fqai.devnet.ipfs_node import IpfsNode
from fqai.ipfs.client import IpfsClient
from fqai.keystore.sealed import ScryptParams
from fqai.keystore.store import Keystore
from fqai.manifest.model import ModelSpec
from fqai.trust.publish import publish_artifact

sys.path.insert(0, str(Path(__file__).resolve().parent))
from demo_delivery import licensed_delivery
from demo_federation import run_federation, verify_and_sell
from demo_web import serve_dapp

ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / ".venv" / "bin"
console = Console()


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def deploy(rpc_url: str) -> dict:
    """Run the Brownie deploy script against `rpc_url`; return the deployment record."""
    env = {
        **os.environ,
        "FQAI_RPC_URL": rpc_url,
        "FQAI_DEV_UNLOCKED": "1",
        "PATH": f"{ROOT / 'node_modules' / '.bin'}:{BIN}:{os.environ.get('PATH', '')}",
        "SOLCX_BINARY_PATH": str(ROOT / ".solcx"),
    }
    # Brownie's cached live-network artifacts would point at a previous chain (see deploy.py).
    shutil.rmtree(ROOT / "build" / "deployments", ignore_errors=True)
    cmd = [str(BIN / "brownie"), "run", "scripts/deploy.py", "--network", "fqai-rpc"]
    with console.status("deploying contracts with brownie run scripts/deploy.py ..."):
        result = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        console.print(result.stdout[-3000:], result.stderr[-3000:])
        raise SystemExit("deployment failed (output above)")
    chain_id = Web3(Web3.HTTPProvider(rpc_url)).eth.chain_id
    return json.loads((ROOT / "deployments" / f"{chain_id}.json").read_text())


def train_model(workdir: Path) -> tuple[Path, float]:
    """Logistic regression on breast_cancer; weights as safetensors; held-out accuracy."""
    x, y = load_breast_cancer(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, random_state=7)
    scaler = StandardScaler().fit(x_train)
    model = LogisticRegression(max_iter=500).fit(scaler.transform(x_train), y_train)
    accuracy = float(model.score(scaler.transform(x_test), y_test))
    path = workdir / "model.safetensors"
    save_file(
        {
            "coef": model.coef_.astype(np.float32),
            "intercept": model.intercept_.astype(np.float32),
            "scaler_mean": scaler.mean_.astype(np.float32),
            "scaler_scale": scaler.scale_.astype(np.float32),
        },
        str(path),
    )
    return path, accuracy


def send(w3: Web3, fn, sender: str, value: int = 0):
    tx_hash = fn.transact({"from": sender, "value": value})
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash)
    if receipt.status != 1:
        raise SystemExit(f"transaction {tx_hash.hex()} reverted")
    return receipt


def run(keep: bool) -> None:
    workdir = Path(os.environ.get("FQAI_DEMO_DIR", ROOT / ".devnet" / "demo"))
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    port = 8545 if _port_free(8545) else None
    with (
        IpfsNode(workdir / "ipfs", log_path=workdir / "ipfs.log") as ipfs,
        AnvilNode(port=port, log_path=workdir / "anvil.log") as chain,
        contextlib.ExitStack() as stack,
    ):
        console.print(f"[green]IPFS node[/]  API {ipfs.api_address} (js-ipfs, offline)")
        console.print(f"[green]Anvil chain[/] {chain.rpc_url} (chain id {chain.chain_id})")
        record = deploy(chain.rpc_url)
        table = Table(title=f"Contracts on chain {record['chainId']}")
        table.add_column("contract")
        table.add_column("address")
        table.add_column("deploy gas", justify="right")
        for name, info in record["contracts"].items():
            table.add_row(name, info["address"], f"{info['gasUsed']:,}")
        console.print(table)
        console.print(f"deployment record: deployments/{record['chainId']}.json")
        dapp_url = stack.enter_context(
            serve_dapp(
                chain.rpc_url,
                ipfs.api_url,
                ROOT / "deployments" / f"{record['chainId']}.json",
            )
        )
        console.print(f"[green]web dApp[/]   {dapp_url} (catalogue, provenance check, licences)")

        w3 = Web3(Web3.HTTPProvider(chain.rpc_url))
        owner, publisher, licensee = w3.eth.accounts[0], w3.eth.accounts[1], w3.eth.accounts[2]
        contracts = {
            name: w3.eth.contract(address=info["address"], abi=info["abi"])
            for name, info in record["contracts"].items()
        }
        nft, market = contracts["ModelNFT"], contracts["ModelMarketplace"]

        with console.status("training a breast-cancer classifier and publishing it..."):
            keystore = Keystore(workdir / "publisher-keys")
            passphrase = "demo passphrase, local only"
            keystore.create(passphrase, kdf=ScryptParams(n=2**14, r=8, p=1), eth_scrypt_n=2**12)
            identity = keystore.unlock(passphrase)
            weights, accuracy = train_model(workdir)
            client = IpfsClient(ipfs.api_address)
            artifact = publish_artifact(
                client,
                identity,
                weights,
                kind="published-model",
                federation_id=0,
                round=0,
                model=ModelSpec(name="breast-cancer-logreg", params={"features": 30}),
                metrics={"test_accuracy": round(accuracy, 4)},
            )
        console.print(
            f"published model: manifest [bold]{artifact.manifest_cid}[/], "
            f"held-out accuracy {accuracy:.3f}"
        )
        send(w3, nft.functions.setMinter(publisher, True), owner)
        weights_digest = "0x" + hashlib.sha256(weights.read_bytes()).hexdigest()
        params = (
            artifact.manifest_cid,
            bytes.fromhex(weights_digest[2:]),
            bytes.fromhex(identity.public.mldsa_key_digest.removeprefix("0x")),
            0,
            0,
            0,
            publisher,
            250,
        )
        receipt = send(w3, nft.functions.mint(publisher, params), publisher)
        minted = nft.events.ModelMinted().process_receipt(receipt, errors=DISCARD)
        token_id = minted[0]["args"]["tokenId"]
        console.print(f"minted token {token_id}: {nft.functions.tokenURI(token_id).call()}")

        verify = subprocess.run(
            [
                str(BIN / "fqai"),
                "verify",
                artifact.manifest_cid,
                "--ipfs-api",
                ipfs.api_address,
                "--trusted-key-digest",
                "0x" + nft.functions.provenance(token_id).call()[2].hex().removeprefix("0x"),
            ],
            cwd=ROOT,
        )
        if verify.returncode != 0:
            raise SystemExit("fqai verify failed on the freshly published model")

        send(w3, nft.functions.approve(market.address, token_id), publisher)
        send(w3, market.functions.list(token_id, Web3.to_wei(1, "ether")), publisher)
        send(
            w3,
            market.functions.createLicenseOffer(
                token_id, Web3.to_wei(0.05, "ether"), 30 * 86400, 100, 0, artifact.manifest_cid
            ),
            publisher,
        )
        kem_digest = bytes.fromhex(identity.public.mlkem_key_digest.removeprefix("0x"))
        price = Web3.to_wei(0.05, "ether")
        send(w3, market.functions.buyLicense(token_id, 0, kem_digest, price), licensee, price)
        expires = market.functions.licenseOf(token_id, licensee).call()[0]
        console.print(
            f"listed token {token_id} for 1 ETH; licence bought by {licensee} until "
            f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(expires))}; "
            f"hasValidLicense = {market.functions.hasValidLicense(token_id, licensee).call()}"
        )

        console.rule("federation")
        started = time.monotonic()
        deployments = ROOT / "deployments"
        federation = run_federation(console, chain.rpc_url, ipfs.api_address, deployments, workdir)
        verify_and_sell(
            console,
            federation,
            chain.rpc_url,
            ipfs.api_address,
            deployments,
            BIN / "fqai",
            w3.eth.accounts[2],
        )
        console.print(f"federation part took {time.monotonic() - started:.0f}s")

        console.rule("licensed delivery")
        licensed_delivery(
            console,
            model_cid=federation.model_cid,
            parent_token=federation.token_id,
            owner_keystore=workdir / "federation" / "keys" / "coordinator",
            passphrase_file=workdir / "federation" / "passphrase",
            rpc_url=chain.rpc_url,
            ipfs_api=ipfs.api_address,
            deployments=deployments,
            fqai_bin=BIN / "fqai",
            workdir=workdir,
        )
        if keep:
            console.print(
                "\n[bold]Services are running.[/] Ctrl-C stops them. "
                f"Chain {chain.rpc_url}, IPFS API {ipfs.api_address}, web dApp {dapp_url}."
            )
            with contextlib.suppress(KeyboardInterrupt):
                signal.pause()
    console.print("demo finished; chain and IPFS node stopped.")


def main() -> int:
    keep_env = os.environ.get("FQAI_DEMO_KEEP")
    keep = sys.stdin.isatty() if keep_env is None else keep_env == "1"
    run(keep)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
