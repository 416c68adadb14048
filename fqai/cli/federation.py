"""``fqai federation create|run``: set a federation up on-chain and coordinate its rounds."""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from fqai.cli._common import (
    IpfsApiOption,
    KeystoreOption,
    PassphraseFileOption,
    console,
    default_keystore,
    report_errors,
)

if TYPE_CHECKING:
    from fqai.chain import ChainClient
    from fqai.federation.runtime import FlowerProcess, ServerTls
    from fqai.keystore import NodeIdentity

RPC_ENV = "FQAI_RPC_URL"
DEFAULT_RPC = "http://127.0.0.1:8545"

RpcOption = Annotated[
    str | None,
    typer.Option("--rpc-url", help=f"Chain JSON-RPC URL (default ${RPC_ENV} or {DEFAULT_RPC})."),
]
DeploymentsOption = Annotated[
    Path | None,
    typer.Option(
        "--deployments-dir",
        help="Directory of <chainId>.json records (default $FQAI_DEPLOYMENTS_DIR, ./deployments).",
    ),
]
DevFundOption = Annotated[
    float,
    typer.Option(
        "--dev-fund",
        help="Dev chains only: first send this many ETH from the node's first unlocked account.",
    ),
]


RootCaOption = Annotated[
    Path | None,
    typer.Option(
        "--root-ca",
        help="CA certificate (PEM) of the SuperLink's TLS certificate (see `fqai devnet certs`). "
        "Without it the SuperLink is reached insecurely: loopback development only.",
    ),
]
InsecureOption = Annotated[
    bool,
    typer.Option("--insecure", help="Allow plaintext to a SuperLink that is not on loopback."),
]
TlsCertOption = Annotated[
    Path | None, typer.Option("--tls-cert", help="SuperLink certificate (PEM); needs --root-ca.")
]
TlsKeyOption = Annotated[Path | None, typer.Option("--tls-key", help="SuperLink private key.")]


def server_tls(cert: Path | None, key: Path | None, ca: Path | None) -> ServerTls | None:
    """The SuperLink's TLS files, all three or none."""
    from fqai.federation.errors import FederationError
    from fqai.federation.runtime import ServerTls

    given = [x for x in (cert, key, ca) if x is not None]
    if not given:
        return None
    if cert is None or key is None or ca is None:
        raise FederationError("a TLS SuperLink needs --tls-cert, --tls-key and --root-ca")
    for path in (cert, key, ca):
        if not path.is_file():
            raise FederationError(f"TLS file {path} does not exist")
    return ServerTls(cert.resolve(), key.resolve(), ca.resolve())


def rpc_url(explicit: str | None) -> str:
    return explicit or os.environ.get(RPC_ENV) or DEFAULT_RPC


def unlock(keystore: Path | None, passphrase_file: Path | None) -> NodeIdentity:
    """Unlock the keystore (passphrase from file, environment or prompt)."""
    from fqai.keystore import Keystore, read_passphrase

    store = Keystore(keystore or default_keystore())
    return store.unlock(read_passphrase(passphrase_file))


def dev_fund(chain: ChainClient, address: str, eth: float) -> None:
    """Fund ``address`` from the chain's first unlocked (dev) account."""
    from fqai.chain import ChainError, UnlockedSender

    if eth <= 0:
        return
    accounts = chain.dev_accounts()
    if not accounts:
        raise ChainError("--dev-fund needs a dev chain with unlocked accounts")
    chain.with_sender(UnlockedSender(accounts[0])).send_ether(address, int(eth * 10**18))
    console.print(f"funded {address} with {eth} ETH from {accounts[0]}")


def task_model_setting(model: str, qubits: int = 0) -> str:
    """The run config's ``model`` from ``--model`` and ``--qubits`` (``""``: classical)."""
    from dataclasses import replace

    from fqai.federation.task import TaskError, normalise_model
    from fqai.qml.spec import parse_quantum_model

    text = normalise_model(model)
    if not qubits:
        return text
    if not text:
        raise TaskError("--qubits needs --model quantum")
    choice = parse_quantum_model(text)
    return replace(choice, spec=replace(choice.spec, qubits=qubits)).text()


def register(root: typer.Typer) -> None:
    app = typer.Typer(help="Create federations and coordinate their training rounds.")
    root.add_typer(app, name="federation")

    @app.command("create")
    @report_errors
    def create(
        model_spec_cid: Annotated[str, typer.Option(help="IPFS CID of the model specification.")],
        min_stake: Annotated[float, typer.Option(help="Stake a node must lock (ETH).")] = 0.1,
        reward_per_round: Annotated[float, typer.Option(help="Reward per round (ETH).")] = 0.0,
        pool: Annotated[float, typer.Option(help="ETH sent to seed the reward pool.")] = 0.0,
        max_participants: Annotated[int, typer.Option(help="Most members at once.")] = 16,
        commit_window: Annotated[int, typer.Option(help="Blocks nodes may commit.")] = 1000,
        finalize_window: Annotated[int, typer.Option(help="Blocks to finalise.")] = 1000,
        contest_window: Annotated[int, typer.Option(help="Blocks to contest.")] = 100,
        unbonding_blocks: Annotated[int, typer.Option(help="Unbonding period.")] = 5000,
        keystore: KeystoreOption = None,
        passphrase_file: PassphraseFileOption = None,
        rpc: RpcOption = None,
        deployments_dir: DeploymentsOption = None,
        fund: DevFundOption = 0.0,
    ) -> None:
        """Create a federation coordinated by the keystore's Ethereum account."""
        from fqai.chain import ChainClient, FederationConfig, KeySender
        from fqai.federation.membership import create_federation

        identity = unlock(keystore, passphrase_file)
        chain = ChainClient.from_rpc(
            rpc_url(rpc), KeySender(identity.eth_private_key), deployments_dir=deployments_dir
        )
        dev_fund(chain, chain.address, fund)
        config = FederationConfig(
            model_spec_cid=model_spec_cid,
            min_stake=int(min_stake * 10**18),
            reward_per_round=int(reward_per_round * 10**18),
            commit_window=commit_window,
            finalize_window=finalize_window,
            contest_window=contest_window,
            unbonding_blocks=unbonding_blocks,
            max_participants=max_participants,
        )
        federation_id = create_federation(chain, config, int(pool * 10**18))
        console.print(f"federation [bold]{federation_id}[/] created, coordinator {chain.address}")
        typer.echo(json.dumps({"federation_id": federation_id, "coordinator": chain.address}))

    @app.command("run")
    @report_errors
    def run(
        federation_id: Annotated[int, typer.Option(help="Federation to coordinate.")],
        dataset: Annotated[str, typer.Option(help="breast_cancer or digits.")] = "breast_cancer",
        model: Annotated[
            str,
            typer.Option(
                help="classical (the dataset's network) or quantum[:key=value,...], a hybrid "
                "quantum classifier (keys qubits, reps, entanglement, encoding, backend, shots; "
                "see docs/QUANTUM.md)."
            ),
        ] = "classical",
        qubits: Annotated[
            int, typer.Option(help="Qubits of the quantum model (0: what --model says, or 4).")
        ] = 0,
        rounds: Annotated[int, typer.Option(help="Number of rounds.")] = 2,
        strategy: Annotated[
            str, typer.Option(help="fedavg, fedprox, krum, multikrum, fedmedian, fedtrimmedavg.")
        ] = "fedavg",
        min_nodes: Annotated[int, typer.Option(help="Nodes to wait for and sample.")] = 2,
        quorum: Annotated[
            int,
            typer.Option(
                help="Accepted updates a round needs (default: a majority of --min-nodes)."
            ),
        ] = 0,
        local_epochs: Annotated[int, typer.Option(help="Local epochs per round.")] = 1,
        lr: Annotated[float, typer.Option(help="Local learning rate.")] = 0.05,
        proximal_mu: Annotated[float, typer.Option(help="FedProx mu.")] = 0.01,
        fraction_evaluate: Annotated[float, typer.Option(help="Share of nodes evaluating.")] = 1.0,
        selection: Annotated[
            str,
            typer.Option(
                help="Nodes that train each round: all, random:<fraction>, or "
                "<solver>:<count> with solver best|exact|greedy|annealing|qaoa (count: "
                "nodes, or a fraction like 0.5); qaoa runs beside the best classical solver."
            ),
        ] = "all",
        selection_seed: Annotated[
            int, typer.Option(help="Seed of the selection (default: the federation id).")
        ] = -1,
        selection_lambda: Annotated[
            float, typer.Option(help="Weight of update redundancy against node scores.")
        ] = 1.0,
        qaoa_variant: Annotated[
            str, typer.Option(help="QAOA form: dicke-xy, warm-xy or penalty.")
        ] = "dicke-xy",
        qaoa_mixer: Annotated[
            str, typer.Option(help="XY mixer of the dicke-xy/warm-xy forms: complete or ring.")
        ] = "complete",
        qaoa_reps: Annotated[int, typer.Option(help="QAOA layers p.")] = 2,
        qaoa_shots: Annotated[int, typer.Option(help="Samples of the final circuit.")] = 1000,
        qaoa_backend: Annotated[
            str, typer.Option(help="aer (exact), fake:<device> (noisy), ibm:<backend>.")
        ] = "aer",
        qaoa_budget: Annotated[
            float, typer.Option(help="Seconds the quantum step may take before falling back.")
        ] = 20.0,
        dp_epsilon: Annotated[
            float,
            typer.Option(help="DP-SGD at the nodes: epsilon budget for the whole run (0 = off)."),
        ] = 0.0,
        dp_delta: Annotated[float, typer.Option(help="DP delta.")] = 1e-5,
        dp_max_grad_norm: Annotated[
            float, typer.Option(help="DP-SGD per-example gradient clipping norm.")
        ] = 1.0,
        mint_to: Annotated[str, typer.Option(help="NFT owner (default coordinator).")] = "",
        superlink: Annotated[
            str | None,
            typer.Option(help="Running SuperLink host:port; default: start one on --port."),
        ] = None,
        port: Annotated[int, typer.Option(help="Port of the SuperLink started here.")] = 9093,
        host: Annotated[
            str, typer.Option(help="Address of the SuperLink started here.")
        ] = "127.0.0.1",
        root_ca: RootCaOption = None,
        tls_cert: TlsCertOption = None,
        tls_key: TlsKeyOption = None,
        admission: Annotated[
            bool | None,
            typer.Option(
                "--admission/--no-admission",
                help="Before every round, register exactly the staked, unslashed members' "
                "SuperNode keys with the SuperLink (needs TLS; default: on with TLS).",
            ),
        ] = None,
        insecure: InsecureOption = False,
        work_dir: Annotated[
            Path | None,
            typer.Option(
                help="Run directory (keep it across runs: it holds the admission ledger)."
            ),
        ] = None,
        timeout: Annotated[float, typer.Option(help="Seconds allowed for the run.")] = 1800,
        round_timeout: Annotated[
            float, typer.Option(help="Seconds a round waits for node replies.")
        ] = 300,
        keystore: KeystoreOption = None,
        passphrase_file: PassphraseFileOption = None,
        ipfs_api: IpfsApiOption = None,
        rpc: RpcOption = None,
        deployments_dir: DeploymentsOption = None,
    ) -> None:
        """Coordinate a federation: `flwr run` of the fqai app on a SuperLink, then report."""
        from fqai.cli.selection_view import check_selection, selection_summary
        from fqai.federation.errors import FederationError
        from fqai.federation.runtime import (
            SuperLink,
            check_transport,
            submit_run,
            write_app,
            write_flwr_home,
        )
        from fqai.ipfs.client import resolve_api_address

        tls = server_tls(tls_cert, tls_key, root_ca) if superlink is None else None
        if admission is None:
            admission = root_ca is not None
        if admission and root_ca is None:
            raise FederationError("--admission needs TLS (--root-ca): Flower requires it")
        if superlink is not None:
            check_transport(superlink, root_ca, insecure)
        if passphrase_file is None:
            raise FederationError("federation run needs --passphrase-file (the ServerApp reads it)")
        unlock(keystore, passphrase_file)  # fail early on a wrong passphrase
        from fqai.chain import ChainClient

        # Fail early on a wrong chain (id, record, code) before any process starts.
        ChainClient.from_rpc(rpc_url(rpc), deployments_dir=deployments_dir)
        model_setting = task_model_setting(model, qubits)
        if dp_epsilon > 0 and model_setting:
            raise FederationError("DP-SGD (Opacus) does not support the quantum model")
        qaoa_settings: dict[str, str | int | float] = {
            "selection-lambda": selection_lambda,
            "qaoa-variant": qaoa_variant,
            "qaoa-mixer": qaoa_mixer,
            "qaoa-reps": qaoa_reps,
            "qaoa-shots": qaoa_shots,
            "qaoa-backend": qaoa_backend,
            "qaoa-budget": qaoa_budget,
        }
        check_selection(selection, qaoa_settings)  # fail before any process starts
        base = Path(work_dir or tempfile.mkdtemp(prefix=f"fqai-federation-{federation_id}-"))
        base.mkdir(parents=True, exist_ok=True)
        record_path = base / "record.json"
        link = None
        if superlink is None:
            link = SuperLink(
                base / "superlink.log", port=port, host=host, tls=tls, supernode_auth=admission
            )
            superlink = link.address
        flwr_home = write_flwr_home(base / "flwr-home", superlink, root_ca)
        config: dict[str, str | int | float] = {
            "federation-id": federation_id,
            "dataset": dataset,
            "model": model_setting,
            "num-rounds": rounds,
            "strategy": strategy,
            "min-nodes": min_nodes,
            "quorum": quorum,
            "fraction-evaluate": fraction_evaluate,
            "selection": selection,
            "selection-seed": selection_seed,
            **qaoa_settings,
            "dp-epsilon": dp_epsilon,
            "dp-delta": dp_delta,
            "dp-max-grad-norm": dp_max_grad_norm,
            "local-epochs": local_epochs,
            "lr": lr,
            "proximal-mu": proximal_mu,
            "round-timeout": round_timeout,
            "rpc-url": rpc_url(rpc),
            "deployments-dir": str(deployments_dir.resolve()) if deployments_dir else "",
            "ipfs-api": resolve_api_address(ipfs_api),
            "coordinator-keystore": str((keystore or default_keystore()).resolve()),
            "coordinator-passphrase-file": str(passphrase_file.resolve()),
            "record-path": str(record_path),
            "mint-to": mint_to,
            "admission-flwr-home": str(flwr_home.resolve()) if admission else "",
            "admission-dir": str(base.resolve()),
        }
        app_dir = write_app(base / "app", config)
        if link is not None:
            link.start()
            console.print(
                f"SuperLink listening on {superlink} ({'TLS' if tls else 'insecure, loopback'}"
                f"{', SuperNode admission' if admission else ''}); start nodes with "
                "`fqai node start`"
            )
        started = time.monotonic()
        try:
            with console.status(f"federation {federation_id}: {rounds} round(s) running"):
                submit_run(app_dir, flwr_home, base / "run.log", timeout)
        finally:
            if link is not None:
                link.stop()
        if not record_path.exists():
            raise FederationError(f"the ServerApp wrote no record; see {base / 'run.log'}")
        record = json.loads(record_path.read_text())
        table = Table(title=f"federation {federation_id} ({time.monotonic() - started:.0f}s)")
        for column in ("round", "contributors", "rejected", "accuracy", "report", "finalize tx"):
            table.add_column(column)
        if dp_epsilon > 0:
            table.add_column("DP epsilon")
        for rnd in record["rounds"]:
            rejected = ", ".join(
                f"{r['node'] or r['flower_node_id']}: {r['reason']}" for r in rnd["rejected"]
            )
            accuracy = f"{rnd['accuracy']:.3f}" if rnd["accuracy"] is not None else "-"
            table.add_row(
                str(rnd["round"]),
                str(len(rnd["contributors"])),
                rejected or "-",
                accuracy,
                str(rnd["report_cid"]),
                str(rnd["finalize_tx"]),
                *(
                    [f"{rnd['dp_epsilon']:.3f}" if rnd["dp_epsilon"] is not None else "-"]
                    if dp_epsilon > 0
                    else []
                ),
            )
        console.print(table)
        for line in selection_summary(record["rounds"]):
            console.print(line, markup=False, highlight=False)
        console.print(
            f"model {record['final_model_cid']}, NFT token {record['token_id']}; "
            f"record {record_path}"
        )
        if record.get("error"):
            raise FederationError(record["error"])

    @app.command("superlink")
    @report_errors
    def superlink_cmd(
        host: Annotated[str, typer.Option(help="Address to serve on.")] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="Port of Flower's HTTP API.")] = 9093,
        root_ca: RootCaOption = None,
        tls_cert: TlsCertOption = None,
        tls_key: TlsKeyOption = None,
        supernode_auth: Annotated[
            bool | None,
            typer.Option(
                "--supernode-auth/--no-supernode-auth",
                help="Refuse SuperNodes whose key is not registered (default: on with TLS).",
            ),
        ] = None,
        work_dir: Annotated[Path, typer.Option(help="Log and state database directory.")] = Path(
            "superlink"
        ),
    ) -> None:
        """Run a Flower SuperLink for federations (the coordinating organisation's service).

        Its state (registered SuperNodes, runs) is kept in <work-dir>/superlink.db across restarts.
        """
        from fqai.federation.runtime import SuperLink

        tls = server_tls(tls_cert, tls_key, root_ca)
        auth = tls is not None if supernode_auth is None else supernode_auth
        work_dir.mkdir(parents=True, exist_ok=True)
        link = SuperLink(
            work_dir / "superlink.log",
            port=port,
            host=host,
            tls=tls,
            supernode_auth=auth,
            database=(work_dir / "superlink.db").resolve(),
        )
        link.start()
        console.print(
            f"SuperLink on {link.address} ({'TLS' if tls else 'insecure, loopback'}"
            f"{', SuperNode authentication' if auth else ''}); log {link.log_path}; "
            "Ctrl-C stops it"
        )
        _serve_until_stopped(link)

    @app.command("admit")
    @report_errors
    def admit_cmd(
        federation_id: Annotated[int, typer.Option(help="Federation whose members to admit.")],
        superlink: Annotated[str, typer.Option(help="SuperLink host:port.")] = "127.0.0.1:9093",
        root_ca: RootCaOption = None,
        work_dir: Annotated[
            Path,
            typer.Option(help="Coordinator directory holding the admission ledger."),
        ] = Path("."),
        ipfs_api: IpfsApiOption = None,
        rpc: RpcOption = None,
        deployments_dir: DeploymentsOption = None,
    ) -> None:
        """Register exactly the staked, unslashed members' SuperNode keys with the SuperLink.

        `fqai federation run --admission` does this before every round; run it by hand after
        members join, leave or are slashed between runs.
        """
        from fqai.chain import ChainClient, FederationRegistry
        from fqai.federation.admission import admit
        from fqai.federation.errors import FederationError
        from fqai.federation.flower_control import FlowerControl
        from fqai.federation.runtime import write_flwr_home
        from fqai.ipfs.client import IpfsClient, resolve_api_address

        if root_ca is None:
            raise FederationError("SuperNode admission needs the SuperLink's TLS CA (--root-ca)")
        chain = ChainClient.from_rpc(rpc_url(rpc), deployments_dir=deployments_dir)
        home = write_flwr_home(work_dir / "flwr-home", superlink, root_ca)
        with IpfsClient(resolve_api_address(ipfs_api)) as ipfs:
            report = admit(
                FederationRegistry(chain), ipfs, FlowerControl(home), federation_id, work_dir
            )
        table = Table(title=f"SuperNode admission, federation {federation_id} on {superlink}")
        for column in ("member", "Flower node", "change"):
            table.add_column(column)
        for change, rows in (
            ("kept", report.kept),
            ("registered", report.registered),
            ("unregistered", report.unregistered),
        ):
            for item in rows:
                table.add_row(item.node or "(not a member)", str(item.node_id), change)
        for node, why in report.refused.items():
            table.add_row(node, "-", f"not admitted: {why}")
        for node_id in report.foreign:
            table.add_row("(not a member)", str(node_id), "foreign: never sent work")
        console.print(table)
        typer.echo(json.dumps(report.to_json()))

    @app.command("slash")
    @report_errors
    def slash_cmd(
        federation_id: Annotated[int, typer.Option(help="Federation.")],
        round_: Annotated[int, typer.Option("--round", help="Finalised round.")],
        node: Annotated[str, typer.Option(help="Node that committed but was excluded.")],
        keystore: KeystoreOption = None,
        passphrase_file: PassphraseFileOption = None,
        rpc: RpcOption = None,
        deployments_dir: DeploymentsOption = None,
    ) -> None:
        """Slash a node excluded from a finalised round that did not contest in time (anyone may
        call, once the contest window has passed)."""
        from fqai.chain import ChainClient, FederationRegistry, KeySender

        identity = unlock(keystore, passphrase_file)
        chain = ChainClient.from_rpc(
            rpc_url(rpc), KeySender(identity.eth_private_key), deployments_dir=deployments_dir
        )
        amount, ejected = FederationRegistry(chain).slash_excluded(federation_id, round_, node)
        console.print(
            f"slashed {node} by {amount} wei for round {round_}"
            f"{'; ejected (stake below minimum)' if ejected else ''}"
        )
        typer.echo(json.dumps({"node": node, "amount": amount, "ejected": ejected}))


def _serve_until_stopped(process: FlowerProcess) -> None:
    """Block until SIGTERM/Ctrl-C or the process ends; then stop it."""
    import signal

    from fqai.federation.errors import FederationError

    stop = False

    def handle(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, handle)
    try:
        while not stop and process.returncode() is None:
            time.sleep(0.5)
    except KeyboardInterrupt:
        stop = True
    finally:
        code = process.returncode()
        reason = process.failure_reason()
        process.stop()
    if not stop and code not in (None, 0):
        raise FederationError(f"{process.name} exited with code {code}: {reason}")
