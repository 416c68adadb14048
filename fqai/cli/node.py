"""``fqai node start``: stake into a federation and run a Flower SuperNode for it."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Annotated

import typer

from fqai.cli._common import (
    IpfsApiOption,
    KeystoreOption,
    PassphraseFileOption,
    console,
    default_keystore,
    report_errors,
)
from fqai.cli.federation import (
    DeploymentsOption,
    DevFundOption,
    RpcOption,
    dev_fund,
    rpc_url,
    unlock,
)


def is_not_admitted(reason: str) -> bool:
    """Whether Flower's exit explanation says the SuperLink refused the SuperNode's key."""
    return "Failed to activate SuperNode" in reason or "[code: 2004]" in reason


def wait_for_superlink_tls(superlink: str, root_ca: Path, wait: float) -> None:
    """Check the SuperLink's certificate against ``root_ca``; while nothing answers yet (not
    started, restarting), retry for up to ``wait`` seconds. A bad certificate fails at once."""
    from fqai.devnet.certs import TlsError, check_server_tls
    from fqai.federation.runtime import split_address

    host, port = split_address(superlink)
    deadline = time.monotonic() + wait
    while True:
        try:
            check_server_tls(host, port, root_ca)
            return
        except TlsError as exc:
            unreachable = isinstance(exc.__cause__, ConnectionRefusedError | TimeoutError)
            if not unreachable or time.monotonic() >= deadline:
                raise
            console.print(f"SuperLink {superlink} not reachable yet; retrying in 5 s")
            time.sleep(5)


def register(root: typer.Typer) -> None:
    app = typer.Typer(help="Run a training node.")
    root.add_typer(app, name="node")

    @app.command("start")
    @report_errors
    def start(
        federation_id: Annotated[int, typer.Option(help="Federation to join and train for.")],
        superlink: Annotated[str, typer.Option(help="SuperLink host:port.")] = "127.0.0.1:9093",
        root_ca: Annotated[
            Path | None,
            typer.Option(
                help="CA certificate (PEM) that issued the SuperLink's TLS certificate; turns "
                "on TLS and SuperNode authentication. Without it: insecure, loopback only."
            ),
        ] = None,
        supernode_key: Annotated[
            Path | None,
            typer.Option(
                help="SuperNode private key (OpenSSH ECDSA); created if missing. Its public "
                "key's digest is recorded on-chain (default: supernode-key in the keystore)."
            ),
        ] = None,
        host: Annotated[
            str, typer.Option(help="Address the SuperNode's local ClientApp API binds.")
        ] = "127.0.0.1",
        insecure: Annotated[
            bool,
            typer.Option(
                "--insecure", help="Allow plaintext to a SuperLink that is not on loopback."
            ),
        ] = False,
        admission_wait: Annotated[
            float,
            typer.Option(
                help="Seconds to keep retrying while the SuperLink has not admitted this "
                "node's SuperNode key yet (the coordinator admits staked members before each "
                "round)."
            ),
        ] = 600,
        partition_id: Annotated[int, typer.Option(help="This node's data partition.")] = 0,
        num_partitions: Annotated[int, typer.Option(help="Number of partitions.")] = 2,
        partitioner: Annotated[str, typer.Option(help="iid or dirichlet.")] = "iid",
        alpha: Annotated[float, typer.Option(help="Dirichlet alpha.")] = 0.5,
        stake: Annotated[
            float | None, typer.Option(help="Stake in ETH (default: the minimum).")
        ] = None,
        join_only: Annotated[
            bool, typer.Option("--join-only", help="Stake and register, do not run a SuperNode.")
        ] = False,
        work_dir: Annotated[Path | None, typer.Option(help="Where updates are written.")] = None,
        keystore: KeystoreOption = None,
        passphrase_file: PassphraseFileOption = None,
        ipfs_api: IpfsApiOption = None,
        rpc: RpcOption = None,
        deployments_dir: DeploymentsOption = None,
        fund: DevFundOption = 0.0,
        test_fault: Annotated[
            str, typer.Option(hidden=True, help="Tests only: see fqai.federation.faults.")
        ] = "",
    ) -> None:
        """Join the federation (stake, ML-DSA key digest, SuperNode key digest) if needed, then
        run a SuperNode."""
        from fqai.chain import ChainClient
        from fqai.federation.errors import FederationError
        from fqai.federation.membership import join_federation
        from fqai.federation.runtime import SuperNode, check_transport
        from fqai.federation.supernode_key import default_key_path, ensure_supernode_key
        from fqai.ipfs.client import IpfsClient, resolve_api_address

        identity = unlock(keystore, passphrase_file)
        if not join_only:
            check_transport(superlink, root_ca, insecure)
            if root_ca is not None:  # check the SuperLink's certificate before staking anything
                wait_for_superlink_tls(superlink, root_ca, admission_wait)
        chain = ChainClient.from_rpc(rpc_url(rpc), deployments_dir=deployments_dir)
        dev_fund(chain, identity.public.eth_address, fund)
        store = (keystore or default_keystore()).resolve()
        key = ensure_supernode_key(supernode_key or default_key_path(store))
        with IpfsClient(resolve_api_address(ipfs_api)) as ipfs:
            published = ipfs.add_bytes(key.public_bytes)
        if published != key.cid:
            raise FederationError(
                f"IPFS returned {published} for the SuperNode public key, expected {key.cid} "
                "(a CIDv1 raw block)"
            )
        joined = join_federation(
            chain,
            identity,
            federation_id,
            None if stake is None else int(stake * 10**18),
            supernode_key_digest=key.digest,
        )
        state = "joined" if joined else "already a member of"
        console.print(
            f"{identity.public.eth_address} {state} federation {federation_id} "
            f"(key {identity.public.mldsa_key_digest}, SuperNode key {key.digest})"
        )
        if join_only:
            return
        if passphrase_file is None:
            raise FederationError("node start needs --passphrase-file (the ClientApp reads it)")
        base = (work_dir or store.parent / f"node-{federation_id}").resolve()
        node = SuperNode(
            base / "supernode.log",
            superlink,
            {
                "partition-id": partition_id,
                "num-partitions": num_partitions,
                "fqai-partitioner": partitioner,
                "fqai-alpha": alpha,
                "fqai-keystore": str(store),
                "fqai-passphrase-file": str(passphrase_file.resolve()),
                "fqai-rpc-url": rpc_url(rpc),
                "fqai-ipfs-api": resolve_api_address(ipfs_api),
                "fqai-deployments-dir": str(deployments_dir.resolve()) if deployments_dir else "",
                "fqai-work-dir": str(base),
                **({"fqai-test-fault": test_fault} if test_fault else {}),
            },
            host=host,
            root_ca=root_ca.resolve() if root_ca else None,
            auth_key=key.private_path if root_ca else None,
        )
        console.print(f"SuperNode log {node.log_path}; Ctrl-C stops it")
        stop = False

        def handle(*_: object) -> None:
            nonlocal stop
            stop = True

        signal.signal(signal.SIGTERM, handle)
        deadline = time.monotonic() + admission_wait
        try:
            while True:
                node.start()
                console.print(f"SuperNode connected to {superlink}")
                while not stop and node.returncode() is None:
                    time.sleep(0.5)
                code, reason = node.returncode(), node.failure_reason()
                node.stop()
                if stop or code in (None, 0):
                    return
                if not is_not_admitted(reason):
                    detail = reason or f"see {node.log_path}"
                    raise FederationError(f"SuperNode exited with code {code}: {detail}")
                if time.monotonic() >= deadline:
                    raise FederationError(
                        f"the SuperLink {superlink} refused this node's SuperNode key "
                        f"{key.digest}: it is not admitted (the coordinator admits the keys of "
                        "staked, unslashed members: `fqai federation admit`)"
                    )
                console.print("SuperNode key not admitted yet; retrying in 5 s")
                time.sleep(5)
        except KeyboardInterrupt:
            pass
        finally:
            node.stop()

    @app.command("leave")
    @report_errors
    def leave_cmd(
        federation_id: Annotated[int, typer.Option(help="Federation to leave.")],
        release: Annotated[
            bool,
            typer.Option(
                "--release", help="Instead: release the stake (after unbonding) and withdraw it."
            ),
        ] = False,
        keystore: KeystoreOption = None,
        passphrase_file: PassphraseFileOption = None,
        rpc: RpcOption = None,
        deployments_dir: DeploymentsOption = None,
    ) -> None:
        """Leave a federation (the SuperNode key is unregistered before the next round); with
        --release, once unbonding is over, take the remaining stake back."""
        import json

        from fqai.chain import ChainClient, FederationRegistry, KeySender

        identity = unlock(keystore, passphrase_file)
        chain = ChainClient.from_rpc(
            rpc_url(rpc), KeySender(identity.eth_private_key), deployments_dir=deployments_dir
        )
        registry = FederationRegistry(chain)
        if release:
            amount = registry.release_stake(federation_id)
            registry.withdraw(registry.credit_of(chain.address))
            console.print(f"released and withdrew {amount} wei of stake")
            typer.echo(json.dumps({"released": amount}))
            return
        unbond_at = registry.request_leave(federation_id)
        console.print(
            f"left federation {federation_id}; stake releasable from block {unbond_at} "
            "(`fqai node leave --release`)"
        )
        typer.echo(json.dumps({"unbond_at": unbond_at}))

    @app.command("claim-rewards")
    @report_errors
    def claim_rewards_cmd(
        federation_id: Annotated[int, typer.Option(help="Federation whose rewards to claim.")],
        no_withdraw: Annotated[
            bool, typer.Option("--no-withdraw", help="Leave the credit in the registry.")
        ] = False,
        keystore: KeystoreOption = None,
        passphrase_file: PassphraseFileOption = None,
        rpc: RpcOption = None,
        deployments_dir: DeploymentsOption = None,
    ) -> None:
        """Claim this node's reward for every finalised round it contributed to, then withdraw.

        The contributor lists each claim needs are read from the RoundFinalized events.
        """
        import json

        from rich.table import Table

        from fqai.chain import ChainClient, KeySender
        from fqai.federation.rewards import claim_rewards

        identity = unlock(keystore, passphrase_file)
        chain = ChainClient.from_rpc(
            rpc_url(rpc), KeySender(identity.eth_private_key), deployments_dir=deployments_dir
        )
        report = claim_rewards(chain, federation_id, withdraw=not no_withdraw)
        table = Table(title=f"rewards of {report.node} in federation {federation_id}")
        for column in ("round", "wei", "tx"):
            table.add_column(column)
        for claim in report.claims:
            table.add_row(str(claim.round), str(claim.amount), claim.tx_hash)
        for round_, why in sorted(report.skipped.items()):
            table.add_row(str(round_), "-", why)
        console.print(table)
        if report.withdraw_tx:
            console.print(f"withdrew {report.withdrawn} wei (tx {report.withdraw_tx})")
        typer.echo(
            json.dumps(
                {
                    "node": report.node,
                    "claimed": report.claimed,
                    "rounds": [c.round for c in report.claims],
                    "withdrawn": report.withdrawn,
                }
            )
        )
