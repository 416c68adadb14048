"""The federation part of `make demo`: 4 staked nodes train 3 rounds, get paid, sell licences.

Called by scripts/toolchain/demo.py once Anvil, IPFS and the contracts are up. Every process it
starts (one SuperLink, four SuperNodes, `flwr run`) is stopped before it returns, on errors and
on Ctrl-C too.

``FQAI_DEMO_MODEL=quantum`` (or ``quantum:qubits=6,...``, see docs/QUANTUM.md) trains the hybrid
quantum classifier instead of the MLP: its circuit runs on Aer, its manifest records the circuit.

The SuperLink serves TLS with a certificate from a local CA made for the run, and runs Flower's
SuperNode authentication: each node joins with the digest of its SuperNode key, and the
coordinator admits exactly the staked members' keys before every round (docs/OPERATIONS.md).
``FQAI_DEMO_TLS=0`` runs the insecure loopback mode instead.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from fqai.chain import (
    ChainClient,
    FederationConfig,
    FederationRegistry,
    KeySender,
    LicenseOffer,
    Marketplace,
    UnlockedSender,
)
from fqai.cli.selection_view import selection_summary
from fqai.devnet.certs import create_ca, issue_host_certificate
from fqai.federation import task
from fqai.federation.admission import admit
from fqai.federation.flower_control import FlowerControl
from fqai.federation.membership import create_federation, join_federation
from fqai.federation.rewards import claim_model_revenue, claim_rewards
from fqai.federation.runtime import (
    ServerTls,
    SuperLink,
    SuperNode,
    submit_run,
    write_app,
    write_flwr_home,
)
from fqai.federation.supernode_key import SuperNodeKey, create_supernode_key
from fqai.ipfs.client import IpfsClient
from fqai.keystore import Keystore, NodeIdentity, ScryptParams

NUM_NODES = 4
ROUNDS = 3
QUORUM = 3
SELECTION = "qaoa:3"
PASSPHRASE = "demo passphrase, local only"
ETH = 10**18
MODEL_ENV = "FQAI_DEMO_MODEL"
TLS_ENV = "FQAI_DEMO_TLS"


def demo_tls() -> bool:
    """TLS and SuperNode admission on, unless ``$FQAI_DEMO_TLS`` is ``0``."""
    return os.environ.get(TLS_ENV, "1").strip() != "0"


def demo_model() -> str:
    """The model setting from ``$FQAI_DEMO_MODEL`` (``""``: the classical MLP)."""
    return task.normalise_model(os.environ.get(MODEL_ENV, ""))


@dataclass
class FederationDemo:
    """What the federation demo produced."""

    federation_id: int
    token_id: int
    model_cid: str
    coordinator: NodeIdentity
    nodes: list[NodeIdentity] = field(default_factory=list)
    record: dict[str, Any] = field(default_factory=dict)


def _identity(path: Path) -> NodeIdentity:
    store = Keystore(path)
    store.create(PASSPHRASE, kdf=ScryptParams(n=2**14, r=8, p=1), eth_scrypt_n=2**12)
    return store.unlock(PASSPHRASE)


def _short(value: str | None, keep: int = 10) -> str:
    return "-" if not value else f"{value[:keep]}…{value[-4:]}"


def run_federation(
    console: Console, rpc_url: str, ipfs_api: str, deployments: Path, workdir: Path
) -> FederationDemo:
    """Create a federation, run it on a SuperLink and 4 SuperNodes, claim rewards."""
    base = workdir / "federation"
    base.mkdir(parents=True)
    model = demo_model()
    if model:
        console.print(f"model: hybrid quantum classifier ({model}; {MODEL_ENV})")
    passphrase = base / "passphrase"
    passphrase.write_text(PASSPHRASE)
    chain = ChainClient.from_rpc(rpc_url, deployments_dir=deployments)
    dev = chain.dev_accounts()
    with console.status("creating keystores for the coordinator and 4 nodes ..."):
        coordinator = _identity(base / "keys" / "coordinator")
        nodes = [_identity(base / "keys" / f"node{i}") for i in range(NUM_NODES)]
    # Each node's account is funded from its own Anvil dev account (3..6).
    for i, identity in enumerate([coordinator, *nodes]):
        funder = chain.with_sender(UnlockedSender(dev[3 + i]))
        funder.send_ether(identity.public.eth_address, 2 * ETH)
    coord_chain = chain.with_sender(KeySender(coordinator.eth_private_key))
    fed = create_federation(
        coord_chain,
        FederationConfig(
            model_spec_cid="bafkreifqaidemobreastcancermlp",
            min_stake=ETH // 10,
            reward_per_round=ETH // 100,
            revenue_share_bps=2_000,
        ),
        pool_wei=ROUNDS * ETH // 100,
    )
    tls = _local_tls(base / "tls") if demo_tls() else None
    keys: list[SuperNodeKey | None] = []
    with IpfsClient(ipfs_api) as ipfs:
        for i, identity in enumerate(nodes):
            key = (
                create_supernode_key(base / "keys" / f"node{i}" / "supernode-key") if tls else None
            )
            if key is not None:
                ipfs.add_bytes(key.public_bytes)  # the coordinator fetches it by its digest
            join_federation(chain, identity, fed, supernode_key_digest=key.digest if key else None)
            keys.append(key)
    console.print(
        f"federation [bold]{fed}[/]: coordinator {coordinator.public.eth_address}, "
        f"{NUM_NODES} nodes staked 0.1 ETH each, reward 0.01 ETH per round, quorum {QUORUM}"
    )

    record_path = base / "run" / "record.json"
    with SuperLink(
        base / "logs" / "superlink.log", tls=tls, supernode_auth=tls is not None
    ) as link:
        home = write_flwr_home(base / "flwr-home", link.address, tls.ca if tls else None)
        if tls is not None:
            with IpfsClient(ipfs_api) as ipfs:
                report = admit(
                    FederationRegistry(chain), ipfs, FlowerControl(home), fed, base / "run"
                )
            console.print(
                f"SuperLink on {link.address} with TLS (local CA {tls.ca}); SuperNode keys of "
                f"{len(report.admitted)} staked members admitted; any other key is refused"
            )
        supernodes: list[SuperNode] = []
        try:
            for i in range(NUM_NODES):
                node = SuperNode(
                    base / "logs" / f"supernode{i}.log",
                    link.address,
                    {
                        "partition-id": i,
                        "num-partitions": NUM_NODES,
                        "fqai-keystore": str(base / "keys" / f"node{i}"),
                        "fqai-passphrase-file": str(passphrase),
                        "fqai-rpc-url": rpc_url,
                        "fqai-ipfs-api": ipfs_api,
                        "fqai-deployments-dir": str(deployments),
                        "fqai-work-dir": str(base / f"node{i}"),
                    },
                    root_ca=tls.ca if tls else None,
                    auth_key=keys[i].private_path if keys[i] is not None else None,
                )
                node.start()
                supernodes.append(node)
            console.print(
                f"SuperLink {link.address} (pid {link.pid}); SuperNodes "
                + ", ".join(f"{i} (pid {n.pid})" for i, n in enumerate(supernodes))
            )
            app_dir = write_app(
                base / "app",
                {
                    "federation-id": fed,
                    "dataset": "breast_cancer",
                    "model": model,
                    "num-rounds": ROUNDS,
                    "strategy": "fedavg",
                    "min-nodes": NUM_NODES,
                    "quorum": QUORUM,
                    "fraction-evaluate": 1.0,
                    # 3 of the 4 nodes train each round, chosen by scores and update
                    # redundancy; QAOA on Aer runs beside the exact solver (both recorded).
                    "selection": SELECTION,
                    "qaoa-reps": 2,
                    "qaoa-shots": 1000,
                    # The quantum model learns slower per step (docs/benchmarks/qml.md).
                    "local-epochs": 3 if model else 2,
                    "lr": 0.2 if model else 0.05,
                    "round-timeout": 300 if model else 120,
                    "rpc-url": rpc_url,
                    "deployments-dir": str(deployments),
                    "ipfs-api": ipfs_api,
                    "coordinator-keystore": str(base / "keys" / "coordinator"),
                    "coordinator-passphrase-file": str(passphrase),
                    "record-path": str(record_path),
                    "admission-flwr-home": str(home) if tls else "",
                    "admission-dir": str(base / "run"),
                },
            )
            _run_with_progress(console, chain, fed, app_dir, home, base / "logs" / "flwr-run.log")
        finally:
            for node in supernodes:
                node.stop()
    if not record_path.exists():
        raise SystemExit(f"the ServerApp wrote no record; see {base / 'logs' / 'flwr-run.log'}")
    record = json.loads(record_path.read_text())
    if record.get("error"):
        raise SystemExit(f"federation run failed: {record['error']}")
    _round_table(console, record)

    rewards = Table(title="rewards claimed on-chain (claimReward with the RoundFinalized lists)")
    for column in ("node", "rounds", "claimed (ETH)", "withdraw tx"):
        rewards.add_column(column)
    for identity in nodes:
        node_chain = chain.with_sender(KeySender(identity.eth_private_key))
        report = claim_rewards(node_chain, fed)
        rewards.add_row(
            identity.public.eth_address,
            ",".join(str(c.round) for c in report.claims) or "-",
            f"{report.claimed / ETH:.6f}",
            _short(report.withdraw_tx),
        )
    console.print(rewards)
    return FederationDemo(
        federation_id=fed,
        token_id=int(record["token_id"]),
        model_cid=str(record["final_model_cid"]),
        coordinator=coordinator,
        nodes=nodes,
        record=record,
    )


def _local_tls(directory: Path) -> ServerTls:
    """A CA made for this run and a SuperLink certificate for 127.0.0.1."""
    ca = create_ca(directory)
    cert = issue_host_certificate(ca, directory, "superlink", ["127.0.0.1", "localhost"], days=2)
    return ServerTls(cert.cert, cert.key, ca.cert)


def _run_with_progress(
    console: Console, chain: ChainClient, fed: int, app_dir: Path, home: Path, log: Path
) -> None:
    """``flwr run`` in a thread; a progress bar follows the rounds finalised on-chain."""
    failure: list[BaseException] = []

    def target() -> None:
        try:
            submit_run(app_dir, home, log, timeout=600)
        except BaseException as exc:  # reported in the main thread
            failure.append(exc)

    registry = FederationRegistry(chain)
    thread = threading.Thread(target=target, name="flwr-run", daemon=True)
    with Progress(
        TextColumn("[bold]federation {task.fields[fed]}[/] {task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} rounds"),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task_id = progress.add_task("starting", total=ROUNDS, fed=fed)
        thread.start()
        while thread.is_alive():
            state = registry.federation(fed)
            phase = (
                f"round {state.current_round} open"
                if state.current_round > state.last_finalized_round
                else "waiting for nodes"
            )
            progress.update(task_id, completed=state.last_finalized_round, description=phase)
            time.sleep(0.5)
        state = registry.federation(fed)
        progress.update(task_id, completed=state.last_finalized_round, description="done")
    thread.join()
    if failure:
        raise SystemExit(f"flwr run failed: {failure[0]} (log {log})")


def _round_table(console: Console, record: dict[str, Any]) -> None:
    table = Table(
        title=f"federation {record['federation_id']}: rounds (strategy {record['strategy']})"
    )
    for column in (
        "round", "accuracy", "node eval", "accepted", "rejected", "open tx", "finalize tx",
        "round report",
    ):  # fmt: skip
        table.add_column(column)
    for rnd in record["rounds"]:
        rejected = ", ".join(f"{_short(r['node'])}: {r['reason']}" for r in rnd["rejected"])
        table.add_row(
            str(rnd["round"]),
            f"{rnd['accuracy']:.3f}" if rnd["accuracy"] is not None else "-",
            f"{rnd['client_accuracy']:.3f}" if rnd["client_accuracy"] is not None else "-",
            str(len(rnd["accepted"])),
            rejected or "-",
            _short(rnd["open_tx"]),
            _short(rnd["finalize_tx"]),
            _short(rnd["report_cid"], 14),
        )
    console.print(table)
    console.print(f"node selection ({SELECTION}; objective f, higher is better):")
    for line in selection_summary(record["rounds"]):
        console.print("  " + line, markup=False, highlight=False)
    console.print(
        f"model NFT token [bold]{record['token_id']}[/] minted through the registry "
        f"(tx {_short(record.get('mint_tx'))}), manifest {record['final_model_cid']}"
    )


LICENSE_TERMS = (
    b"fqai demo licence: use of the model for evaluation for 30 days from purchase; "
    b"no redistribution of the weights. Local development chain only.\n"
)


def verify_and_sell(
    console: Console,
    demo: FederationDemo,
    rpc_url: str,
    ipfs_api: str,
    deployments: Path,
    fqai_bin: Path,
    licensee: str,
) -> None:
    """`fqai verify --recompute` the federation model (signatures, lineage, and every round's
    aggregation re-run from the signed updates), list it, sell a licence, pay contributors."""
    chain = ChainClient.from_rpc(rpc_url, deployments_dir=deployments)
    # Token mode: the manifest CID comes from the token; the coordinator's key must be the one the
    # token records and every node's update key the one it registered when it joined.
    verify = subprocess.run(
        [
            str(fqai_bin), "verify", str(demo.token_id), "--recompute", "--ipfs-api", ipfs_api,
            "--rpc-url", rpc_url, "--deployments-dir", str(deployments),
        ],
        check=False,
    )  # fmt: skip
    if verify.returncode != 0:
        raise SystemExit("fqai verify --recompute failed on the federation model")
    owner = Marketplace(chain.with_sender(KeySender(demo.coordinator.eth_private_key)))
    owner.list(demo.token_id, ETH)
    price = ETH // 20
    with IpfsClient(ipfs_api) as ipfs:
        terms_cid = ipfs.add_bytes(LICENSE_TERMS)
    offer = owner.create_license_offer(
        demo.token_id,
        LicenseOffer(price=price, duration=30 * 86400, max_seats=100, terms_cid=terms_cid),
    )
    buyer = Marketplace(chain.with_sender(UnlockedSender(licensee)))
    kem = demo.coordinator.public.mlkem_key_digest  # any 32-byte digest identifies the key
    bought = buyer.buy_license(demo.token_id, offer, kem, price)
    console.print(
        f"token {demo.token_id} listed for 1 ETH; licence {bought.license_id} bought by "
        f"{licensee} for 0.05 ETH until "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(bought.expires_at))} "
        f"(tx {_short(bought.tx.tx_hash)}); hasValidLicense = "
        f"{buyer.has_valid_license(demo.token_id, licensee)}"
    )
    revenue = Table(title="licence revenue to the final round's contributors")
    for column in ("node", "claimed (ETH)"):
        revenue.add_column(column)
    contributors = set(demo.record["rounds"][-1]["contributors"])
    for identity in demo.nodes:
        if identity.public.eth_address not in contributors:
            continue
        node_chain = chain.with_sender(KeySender(identity.eth_private_key))
        amount = claim_model_revenue(node_chain, demo.token_id)
        revenue.add_row(identity.public.eth_address, f"{amount / ETH:.6f}")
    console.print(revenue)
