"""``fqai devnet up|down|status``: local development services in the background.

State lives in ``.devnet/state.json`` (one section per service). Today the devnet runs an IPFS
node; other services add their own section and their own start/stop/probe functions.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from fqai.cli._common import DevnetDirOption, console, report_errors
from fqai.devnet import ipfs_node
from fqai.devnet.process import is_running
from fqai.devnet.state import DevnetState, default_devnet_dir

app = typer.Typer(help="Local development services (IPFS node) running in the background.")


def register(root: typer.Typer) -> None:
    """Mount ``fqai devnet``."""
    root.add_typer(app, name="devnet")


def _generic_probe(section: dict[str, Any]) -> tuple[bool, str]:
    pid = section.get("pid")
    if isinstance(pid, int) and is_running(pid):
        return True, f"pid {pid} running"
    return False, f"pid {pid} not running"


def _probe(name: str, section: dict[str, Any]) -> tuple[bool, str]:
    if name == ipfs_node.SERVICE_NAME:
        return ipfs_node.probe(section)
    return _generic_probe(section)


@app.command("up")
@report_errors
def up(
    directory: DevnetDirOption = None,
    api_port: Annotated[
        int | None, typer.Option("--ipfs-api-port", help="IPFS API port (default: a free port).")
    ] = None,
    gateway_port: Annotated[
        int | None,
        typer.Option("--ipfs-gateway-port", help="IPFS gateway port (default: a free port)."),
    ] = None,
) -> None:
    """Start the devnet services that are not running yet."""
    devnet_dir = Path(directory or default_devnet_dir()).resolve()
    with DevnetState.update(devnet_dir) as state:
        section = state.service(ipfs_node.SERVICE_NAME)
        if section is not None and ipfs_node.probe(section)[0]:
            console.print(f"ipfs already running: API {section['api']}")
            return
        with console.status("starting IPFS node..."):
            section = ipfs_node.start_background(
                devnet_dir, api_port=api_port, gateway_port=gateway_port
            )
        state.services[ipfs_node.SERVICE_NAME] = section
    console.print(f"[green]ipfs started[/]: API {section['api']} (pid {section['pid']})")
    console.print(f"state: {devnet_dir / 'state.json'}")


@app.command("down")
@report_errors
def down(directory: DevnetDirOption = None) -> None:
    """Stop the devnet services this command manages and drop their state."""
    devnet_dir = Path(directory or default_devnet_dir()).resolve()
    with DevnetState.update(devnet_dir) as state:
        section = state.services.pop(ipfs_node.SERVICE_NAME, None)
        if section is None:
            console.print("ipfs: not recorded as running")
            return
        stopped = ipfs_node.stop_background(section)
    console.print("[green]ipfs stopped[/]" if stopped else "ipfs was not running; state cleared")


@app.command("status")
@report_errors
def status(
    directory: DevnetDirOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print status as JSON.")] = False,
) -> None:
    """Show each recorded service; exit 1 unless at least one is recorded and all are up."""
    state = DevnetState.load(Path(directory or default_devnet_dir()).resolve())
    results = {name: _probe(name, section) for name, section in state.services.items()}
    if as_json:
        payload = {
            name: {"up": ok, "detail": detail, **state.services[name]}
            for name, (ok, detail) in results.items()
        }
        typer.echo(json.dumps(payload, indent=2))
    elif not results:
        console.print("no devnet services recorded (run `fqai devnet up`)")
    else:
        table = Table(title=f"devnet {state.directory}")
        table.add_column("service")
        table.add_column("state")
        table.add_column("detail", overflow="fold")
        for name, (ok, detail) in results.items():
            table.add_row(name, "[green]up[/]" if ok else "[red]down[/]", detail)
        console.print(table)
    if not results or not all(ok for ok, _ in results.values()):
        raise typer.Exit(1)
