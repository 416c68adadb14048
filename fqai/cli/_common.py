"""Shared pieces of the CLI: consoles, logging, common options, error reporting."""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.logging import RichHandler

from fqai.errors import FqaiError

KEYSTORE_ENV = "FQAI_KEYSTORE"
EXIT_FAILURE = 1
EXIT_IPFS_UNAVAILABLE = 3

console = Console()
err_console = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])


def configure_logging(level: int) -> None:
    """Send fqai's logs to stderr through rich at ``level``."""
    logger = logging.getLogger("fqai")
    logger.setLevel(level)
    if not any(isinstance(h, RichHandler) for h in logger.handlers):
        handler = RichHandler(console=err_console, show_path=False, show_time=False)
        logger.addHandler(handler)


def default_keystore() -> Path:
    """``$FQAI_KEYSTORE`` or ``~/.fqai/keystore``."""
    return Path(os.environ.get(KEYSTORE_ENV) or Path.home() / ".fqai" / "keystore")


KeystoreOption = Annotated[
    Path | None,
    typer.Option(
        "--keystore",
        help=f"Keystore directory (default ${KEYSTORE_ENV} or ~/.fqai/keystore).",
        show_default=False,
    ),
]
PassphraseFileOption = Annotated[
    Path | None,
    typer.Option(
        "--passphrase-file",
        help="File holding the passphrase (else $FQAI_KEYSTORE_PASSPHRASE, else a prompt).",
        exists=True,
        dir_okay=False,
    ),
]
IpfsApiOption = Annotated[
    str | None,
    typer.Option(
        "--ipfs-api",
        help="IPFS API multiaddr (default $FQAI_IPFS_API, the running devnet, or port 5001).",
        show_default=False,
    ),
]
DevnetDirOption = Annotated[
    Path | None,
    typer.Option(
        "--dir",
        help="Devnet state directory (default $FQAI_DEVNET_DIR or ./.devnet).",
        show_default=False,
    ),
]


def report_errors(func: F) -> F:
    """Turn an :class:`FqaiError` into a one-line message on stderr and exit status 1."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except FqaiError as exc:
            err_console.print(f"[bold red]error:[/] {exc}", highlight=False)
            raise typer.Exit(EXIT_FAILURE) from exc

    return wrapper  # type: ignore[return-value]
