"""``fqai devnet up|down|status``: local development services in the background.

State lives in ``.devnet/state.json`` (one section per service): an Anvil chain and an IPFS node,
both on 127.0.0.1.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from fqai.cli._common import DevnetDirOption, console, report_errors
from fqai.devnet import anvil, ipfs_node
from fqai.devnet.process import is_running
from fqai.devnet.state import DevnetState, default_devnet_dir

app = typer.Typer(help="Local development services (Anvil chain, IPFS node) in the background.")


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
    if name == anvil.SERVICE_NAME:
        return anvil.probe(section)
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
    chain_port: Annotated[
        int | None, typer.Option("--chain-port", help="Anvil RPC port (default: a free port).")
    ] = None,
    chain_id: Annotated[
        int, typer.Option("--chain-id", help="Chain id Anvil reports.")
    ] = anvil.DEFAULT_CHAIN_ID,
    with_chain: Annotated[
        bool, typer.Option("--chain/--no-chain", help="Start the Anvil chain too.")
    ] = True,
) -> None:
    """Start the devnet services that are not running yet."""
    devnet_dir = Path(directory or default_devnet_dir()).resolve()
    with DevnetState.update(devnet_dir) as state:
        section = state.service(ipfs_node.SERVICE_NAME)
        if section is not None and ipfs_node.probe(section)[0]:
            console.print(f"ipfs already running: API {section['api']}")
        else:
            with console.status("starting IPFS node..."):
                section = ipfs_node.start_background(
                    devnet_dir, api_port=api_port, gateway_port=gateway_port
                )
            state.services[ipfs_node.SERVICE_NAME] = section
            console.print(f"[green]ipfs started[/]: API {section['api']} (pid {section['pid']})")
        if with_chain:
            chain = state.service(anvil.SERVICE_NAME)
            if chain is not None and anvil.probe(chain)[0]:
                console.print(f"anvil already running: {chain['rpc_url']}")
            else:
                with console.status("starting Anvil chain..."):
                    chain = anvil.start_background(devnet_dir, port=chain_port, chain_id=chain_id)
                state.services[anvil.SERVICE_NAME] = chain
                console.print(
                    f"[green]anvil started[/]: chain {chain['chain_id']} at {chain['rpc_url']} "
                    f"(pid {chain['pid']})"
                )
    console.print(f"state: {devnet_dir / 'state.json'}")


@app.command("down")
@report_errors
def down(directory: DevnetDirOption = None) -> None:
    """Stop the devnet services this command manages and drop their state."""
    devnet_dir = Path(directory or default_devnet_dir()).resolve()
    stoppers = {
        anvil.SERVICE_NAME: anvil.stop_background,
        ipfs_node.SERVICE_NAME: ipfs_node.stop_background,
    }
    with DevnetState.update(devnet_dir) as state:
        for name, stop in stoppers.items():
            section = state.services.pop(name, None)
            if section is None:
                console.print(f"{name}: not recorded as running")
                continue
            stopped = stop(section)
            console.print(
                f"[green]{name} stopped[/]" if stopped else f"{name} was not running; state cleared"
            )


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
