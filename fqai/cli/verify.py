"""``fqai verify <CID>``: check a signed artifact and its lineage, print a report.

Exit status: 0 every check passed; 1 a check failed (the first failing check is named);
3 the IPFS API could not be reached, so nothing could be verified.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any

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
from fqai.errors import IpfsUnavailableError
from fqai.ipfs.client import IpfsClient, resolve_api_address
from fqai.trust.resolver import StaticKeyResolver
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


@report_errors
def verify_command(
    cid: Annotated[str, typer.Argument(help="CID of the signed manifest.")],
    ipfs_api: IpfsApiOption = None,
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
) -> None:
    """Verify a signed artifact: manifest CID, format, signature, signer, weights, parents."""
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
        typer.echo(json.dumps(_report_json(report), indent=2))
    else:
        tree = Tree(f"fqai verify (IPFS API {address})")
        _add_report(tree, report)
        console.print(tree)
        if failure is None:
            console.print("[bold green]VERIFIED[/]: every check passed")
        else:
            where, check = failure
            console.print(
                f"[bold red]FAILED[/]: first failing check [bold]{check.name}[/] "
                f"for {where.cid}: {check.detail}",
                highlight=False,
            )
    if failure is not None:
        code = (
            EXIT_IPFS_UNAVAILABLE
            if isinstance(failure[1].error, IpfsUnavailableError)
            else EXIT_FAILURE
        )
        raise typer.Exit(code)
