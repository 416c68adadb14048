"""``fqai devnet up|down|status|certs|check-tls``: local development services and TLS files.

State lives in ``.devnet/state.json`` (one section per service): an Anvil chain and an IPFS node,
both on 127.0.0.1. ``certs`` makes a local CA and a server certificate for Flower's SuperLink;
``check-tls`` checks a TLS server (a SuperLink) the way its clients will.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from fqai.cli._common import DevnetDirOption, console, report_errors
from fqai.devnet import anvil, ipfs_node
from fqai.devnet.certs import (
    CA_CERT_FILE,
    create_ca,
    format_time,
    inspect_server_tls,
    issue_host_certificate,
    parse_host_port,
)
from fqai.devnet.process import is_running
from fqai.devnet.state import DevnetState, default_devnet_dir

app = typer.Typer(
    help="Local development services (Anvil chain, IPFS node) and TLS certificates for them."
)


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


@app.command("certs")
@report_errors
def certs(
    out: Annotated[
        Path,
        typer.Option(
            "--out", help="Directory for ca.pem/ca.key and the certificate (created 0700)."
        ),
    ],
    hosts: Annotated[
        list[str],
        typer.Option(
            "--host", help="DNS name or IP address the certificate is valid for (repeatable)."
        ),
    ],
    name: Annotated[
        str, typer.Option("--name", help="File name of the certificate: NAME.pem and NAME.key.")
    ] = "superlink",
    days: Annotated[
        int, typer.Option("--days", min=1, help="Days the CA (if new) and certificate last.")
    ] = 30,
) -> None:
    """Create (or reuse) a local CA in --out and issue a TLS server certificate from it.

    For development only (e.g. ``flower-superlink --ssl-certfile NAME.pem --ssl-keyfile NAME.key
    --ssl-ca-certfile ca.pem``); operators bring their own certificates. The last line on stdout
    is JSON: ca, cert, key, hosts, not_after.
    """
    directory = out.resolve()
    reused = (directory / CA_CERT_FILE).exists()
    ca = create_ca(directory, days=days)
    issued = issue_host_certificate(ca, directory, name, hosts, days=days)
    table = Table(title=f"TLS files in {directory}" + (" (existing CA)" if reused else ""))
    table.add_column("item")
    table.add_column("value", overflow="fold")
    table.add_row("CA certificate", str(issued.ca))
    table.add_row("certificate", str(issued.cert))
    table.add_row("key (0600)", str(issued.key))
    table.add_row("hosts", ", ".join(issued.hosts))
    table.add_row("valid until", format_time(issued.not_after))
    console.print(table)
    payload = {
        "ca": str(issued.ca),
        "cert": str(issued.cert),
        "key": str(issued.key),
        "hosts": list(issued.hosts),
        "not_after": issued.not_after.isoformat(),
    }
    typer.echo(json.dumps(payload))


@app.command("check-tls")
@report_errors
def check_tls(
    address: Annotated[
        str, typer.Argument(help="HOST:PORT of the TLS server, e.g. 127.0.0.1:9092.")
    ],
    ca: Annotated[Path, typer.Option("--ca", help="Root CA PEM file the clients trust.")],
    server_name: Annotated[
        str | None,
        typer.Option("--server-name", help="Name or IP the certificate must match (default HOST)."),
    ] = None,
    timeout: Annotated[
        float, typer.Option("--timeout", min=0.1, help="Seconds to wait for each step.")
    ] = 5.0,
) -> None:
    """Check that HOST:PORT speaks TLS with a certificate from --ca valid for the host."""
    host, port = parse_host_port(address)
    info = inspect_server_tls(host, port, ca, server_name=server_name, timeout=timeout)
    typer.echo(f"TLS ok: {info.subject}, valid until {format_time(info.not_after)}")
