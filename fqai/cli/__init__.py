"""The ``fqai`` command line: one Typer app with sub-apps mounted from small modules.

Each module listed in :data:`COMMAND_MODULES` exposes ``register(app)``; adding a command group
(e.g. ``federation``) means writing ``fqai/cli/federation.py`` with a ``register`` function and
adding its name to the tuple.
"""

from __future__ import annotations

import importlib
import logging
import os
from typing import Annotated

import typer

from fqai import __version__

CHAIN_ID_ENV = "FQAI_CHAIN_ID"
COMMAND_MODULES: tuple[str, ...] = ("keys", "verify", "devnet", "federation", "node", "delivery")

app = typer.Typer(
    name="fqai",
    help="Federated Quantum AI: post-quantum signed model artifacts on IPFS.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"fqai {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    verbose: Annotated[
        int,
        typer.Option("--verbose", "-v", count=True, help="Log what happens (-v info, -vv debug)."),
    ] = 0,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version_callback, is_eager=True, help="Show the version."
        ),
    ] = False,
    chain_id: Annotated[
        int | None,
        typer.Option(
            "--chain-id",
            help="Chain id the RPC must report, else nothing is sent (sets $FQAI_CHAIN_ID for "
            "this command and the processes it starts).",
        ),
    ] = None,
) -> None:
    """Federated Quantum AI command line."""
    from fqai.cli._common import configure_logging

    configure_logging(logging.WARNING - 10 * min(verbose, 2))
    if chain_id is not None:
        os.environ[CHAIN_ID_ENV] = str(chain_id)


for _name in COMMAND_MODULES:
    importlib.import_module(f"fqai.cli.{_name}").register(app)

__all__ = ["app"]
