"""``fqai verify <CID | tokenId>``: check a signed artifact and its lineage, print a report.

Given a model token id (all digits) instead of a CID, the manifest CID comes from the token's
on-chain provenance, every signer is checked against the chain (the token's signer key digest;
for federation updates, the key each node registered when it joined) and the token's weights
digest and federation round are compared with the manifest.

With ``--recompute`` (a federation model token), every round up to the token's is then
recomputed from its signed updates (:mod:`fqai.federation.recompute`) and the first round that
does not match is named with the reason.

Exit status: 0 every check passed; 1 a check failed (the first failing check is named);
3 the IPFS API could not be reached, so nothing could be verified.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn
from rich.tree import Tree

from fqai.cli._common import (
    EXIT_FAILURE,
    EXIT_IPFS_UNAVAILABLE,
    IpfsApiOption,
    console,
    err_console,
    report_errors,
)
from fqai.errors import FqaiError, IpfsUnavailableError
from fqai.ipfs.client import IpfsClient, resolve_api_address
from fqai.trust.resolver import StaticKeyResolver

if TYPE_CHECKING:
    from fqai.chain.client import ChainClient
from fqai.trust.verify import (
    DEFAULT_MAX_DEPTH,
    ArtifactReport,
    CheckStatus,
    verify_artifact,
)

_MARK = {
    CheckStatus.PASS: "[green]✔[/]",
    CheckStatus.FAIL: "[bold red]✘[/]",
    CheckStatus.SKIP: "[yellow]○[/]",
}


def register(root: typer.Typer) -> None:
    """Mount ``fqai verify``."""
    root.command("verify")(verify_command)


def _title(report: ArtifactReport) -> str:
    mark = "[green]✔[/]" if report.ok else "[bold red]✘[/]"
    text = f"{mark} [bold]{report.cid}[/]"
    if report.manifest is not None:
        m = report.manifest
        text += f"  {m.kind}, federation {m.federation_id}, round {m.round}, model {m.model.name}"
    if report.digest:
        text += f"\n  manifest digest {report.digest}"
    if report.note:
        text += f"  [dim]({report.note})[/]"
    return text


def _add_report(tree: Tree, report: ArtifactReport) -> None:
    node = tree.add(_title(report))
    if report.note:
        return
    for check in report.checks:
        node.add(f"{_MARK[check.status]} {check.name}: {check.detail}", highlight=False)
    for parent in report.parents:
        _add_report(node, parent)


def _report_json(report: ArtifactReport) -> dict[str, Any]:
    failure = report.first_failure()
    return {
        "ok": report.ok,
        "first_failure": None
        if failure is None
        else {"cid": failure[0].cid, "check": failure[1].name, "detail": failure[1].detail},
        "artifacts": [
            {
                "cid": r.cid,
                "depth": r.depth,
                "kind": r.manifest.kind if r.manifest else None,
                "manifest_digest": r.digest,
                "note": r.note,
                "checks": [
                    {"name": c.name, "status": c.status.value, "detail": c.detail} for c in r.checks
                ],
            }
            for r in report.walk()
        ],
    }


def _chain_for(rpc_url: str | None, deployments_dir: str | None) -> ChainClient:
    """A read-only chain client for token verification (chain code is imported only then)."""
    from fqai.chain.client import ChainClient
    from fqai.devnet.state import DevnetState

    url = rpc_url or os.environ.get("FQAI_RPC_URL")
    if not url:
        section = DevnetState.load().service("anvil") or {}
        url = section.get("rpc_url")
    if not url:
        raise FqaiError(
            "verifying a token needs a chain: pass --rpc-url, set FQAI_RPC_URL, or run "
            "`fqai devnet up`"
        )
    return ChainClient.from_rpc(url, deployments_dir=deployments_dir)


def _recompute(
    chain: ChainClient, client: IpfsClient, token_id: int, only_round: int | None, quiet: bool
) -> tuple[dict[str, Any], list[Any]]:
    """Recompute the token's federation rounds; return the JSON summary and what to print."""
    from rich.table import Table

    from fqai.chain import FederationRegistry
    from fqai.federation.recompute import RecomputeError, recompute_federation

    registry = FederationRegistry(chain)
    provenance = registry.provenance(token_id)
    if provenance.federation_id == 0:
        raise FqaiError(f"token {token_id} was not minted from a federation; nothing to recompute")
    summary: dict[str, Any] = {
        "federation_id": provenance.federation_id,
        "rounds": [],
        "ok": False,
        "ipfs_unavailable": False,
    }
    with Progress(console=err_console, transient=True, disable=quiet) as progress:
        task = progress.add_task("recomputing rounds", total=None)

        def step(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        try:
            results = recompute_federation(
                client,
                registry,
                provenance.federation_id,
                up_to_round=provenance.round,
                only_round=only_round,
                progress=step,
            )
        except RecomputeError as exc:
            summary["failure"] = {"round": exc.round, "reason": exc.reason, "detail": exc.detail}
            text = f"[bold red]RECOMPUTE FAILED[/]: round {exc.round} ({exc.reason}): {exc.detail}"
            return summary, [text]
        except IpfsUnavailableError as exc:
            summary["ipfs_unavailable"] = True
            summary["failure"] = {"reason": "ipfs-unavailable", "detail": str(exc)}
            return summary, [f"[bold red]RECOMPUTE NOT RUN[/]: {exc}"]
    summary["ok"] = True
    summary["rounds"] = [
        {
            "round": r.round,
            "strategy": r.strategy,
            "updates": r.updates,
            "weights_sha256": r.weights_sha256,
            "model_cid": r.model_cid,
            "report_cid": r.report_cid,
            "fetch_seconds": round(r.fetch_seconds, 3),
            "aggregate_seconds": round(r.aggregate_seconds, 3),
        }
        for r in results
    ]
    table = Table(title=f"aggregation re-verified, federation {provenance.federation_id}")
    for column in ("round", "strategy", "updates", "weights sha256", "fetch s", "aggregate s"):
        table.add_column(column)
    for r in results:
        table.add_row(
            str(r.round),
            r.strategy,
            str(r.updates),
            r.weights_sha256[:16] + "…",
            f"{r.fetch_seconds:.2f}",
            f"{r.aggregate_seconds:.3f}",
        )
    done = f"[bold green]RECOMPUTED[/]: {len(results)} round(s) match the chain bit for bit"
    return summary, [table, done]


@report_errors
def verify_command(
    cid: Annotated[str, typer.Argument(help="CID of the signed manifest, or a model token id.")],
    ipfs_api: IpfsApiOption = None,
    rpc_url: Annotated[
        str | None,
        typer.Option(
            "--rpc-url", help="Chain RPC for a token id (default $FQAI_RPC_URL or the devnet)."
        ),
    ] = None,
    deployments_dir: Annotated[
        str | None,
        typer.Option("--deployments-dir", help="Where deployments/<chainId>.json lives."),
    ] = None,
    trusted_key_digest: Annotated[
        list[str] | None,
        typer.Option(
            "--trusted-key-digest",
            help="Accept only signers with this ML-DSA-65 key digest (0x sha256); repeatable.",
        ),
    ] = None,
    weights: Annotated[
        bool, typer.Option("--weights/--no-weights", help="Fetch and check the weights.")
    ] = True,
    max_depth: Annotated[
        int, typer.Option("--max-depth", min=0, help="Deepest parent level verified.")
    ] = DEFAULT_MAX_DEPTH,
    timeout: Annotated[
        float, typer.Option("--timeout", min=0.1, help="Seconds per IPFS request.")
    ] = 30.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    recompute: Annotated[
        bool,
        typer.Option(
            "--recompute",
            help="For a federation model token: re-run every round's aggregation from the signed "
            "updates and compare with the digests finalised on-chain.",
        ),
    ] = False,
    round_: Annotated[
        int | None, typer.Option("--round", min=1, help="With --recompute: only this round.")
    ] = None,
) -> None:
    """Verify a signed artifact: manifest CID, format, signature, signer, weights, parents."""
    if (recompute or round_ is not None) and not cid.isdigit():
        raise typer.BadParameter("--recompute needs a model token id", param_hint="--recompute")
    if round_ is not None and not recompute:
        raise typer.BadParameter("--round goes with --recompute", param_hint="--round")
    chain = _chain_for(rpc_url, deployments_dir) if cid.isdigit() else None
    recomputed: dict[str, Any] = {}
    recompute_lines: list[Any] = []
    resolver = None
    if trusted_key_digest:
        try:
            resolver = StaticKeyResolver(trusted_key_digest)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--trusted-key-digest") from exc
    address = resolve_api_address(ipfs_api)
    with (
        IpfsClient(address, timeout=timeout) as client,
        Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            console=err_console,
            transient=True,
            disable=as_json,
        ) as progress,
    ):

        def weights_progress(
            weights_cid: str, size: int
        ) -> tuple[Callable[[int], None], Callable[[], None]]:
            task = progress.add_task(f"weights {weights_cid[:16]}…", total=size)
            return (
                lambda n: progress.advance(task, n),
                lambda: progress.remove_task(task),
            )

        if chain is not None:
            from fqai.trust.onchain import verify_token

            if trusted_key_digest:
                raise typer.BadParameter(
                    "a token's signers are checked against the chain",
                    param_hint="--trusted-key-digest",
                )
            report = verify_token(
                chain, client, int(cid), check_weights=weights, max_depth=max_depth
            )
            if recompute and report.first_failure() is None:
                recomputed, recompute_lines = _recompute(chain, client, int(cid), round_, as_json)
        else:
            report = verify_artifact(
                client,
                cid,
                resolver=resolver,
                check_weights=weights,
                max_depth=max_depth,
                weights_progress=weights_progress,
            )

    failure = report.first_failure()
    if as_json:
        out = _report_json(report)
        if recompute and failure is None:
            out["recompute"] = recomputed
        typer.echo(json.dumps(out, indent=2))
    else:
        tree = Tree(f"fqai verify (IPFS API {address})")
        _add_report(tree, report)
        console.print(tree)
        if failure is None:
            console.print("[bold green]VERIFIED[/]: every check passed")
            for line in recompute_lines:
                console.print(line, highlight=False)
        else:
            where, check = failure
            console.print(
                f"[bold red]FAILED[/]: first failing check [bold]{check.name}[/] "
                f"for {where.cid}: {check.detail}",
                highlight=False,
            )
    if recompute and failure is None and not recomputed["ok"]:
        raise typer.Exit(EXIT_IPFS_UNAVAILABLE if recomputed["ipfs_unavailable"] else EXIT_FAILURE)
    if failure is not None:
        code = (
            EXIT_IPFS_UNAVAILABLE
            if isinstance(failure[1].error, IpfsUnavailableError)
            else EXIT_FAILURE
        )
        raise typer.Exit(code)
