"""``fqai keys``: create and inspect the node keystore. Secrets are never printed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from fqai.cli._common import (
    KeystoreOption,
    PassphraseFileOption,
    console,
    default_keystore,
    report_errors,
)
from fqai.fsutil import write_bytes_atomic
from fqai.keystore import Keystore, PublicIdentity, read_passphrase

app = typer.Typer(help="Node keys: ML-DSA-65 identity, ML-KEM-768, Ethereum account.")


def register(root: typer.Typer) -> None:
    """Mount ``fqai keys``."""
    root.add_typer(app, name="keys")


def _print_identity(identity: PublicIdentity, directory: Path) -> None:
    console.print(f"[bold]Keystore[/] {directory}", soft_wrap=True)
    rows = (
        ("ML-DSA-65 key digest", identity.mldsa_key_digest),
        ("ML-KEM-768 key digest", identity.mlkem_key_digest),
        ("Ethereum address", identity.eth_address),
    )
    for label, value in rows:
        console.print(f"  {label:<22} {value}", soft_wrap=True, highlight=False)


@app.command("init")
@report_errors
def init(
    keystore: KeystoreOption = None,
    passphrase_file: PassphraseFileOption = None,
) -> None:
    """Create a keystore with new keys, encrypted under a passphrase (never overwrites)."""
    store = Keystore(keystore or default_keystore())
    passphrase = read_passphrase(passphrase_file, confirm=True)
    with console.status("generating keys and deriving the encryption key (scrypt)..."):
        identity = store.create(passphrase)
    _print_identity(identity, store.directory)
    console.print("[green]keystore created[/]; files are mode 0600")


@app.command("show")
@report_errors
def show(
    keystore: KeystoreOption = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the public identity as JSON.")
    ] = False,
    check: Annotated[
        bool,
        typer.Option("--check", help="Also unlock the keystore to confirm passphrase and keys."),
    ] = False,
    passphrase_file: PassphraseFileOption = None,
) -> None:
    """Print public key digests and the Ethereum address (no passphrase needed)."""
    store = Keystore(keystore or default_keystore())
    identity = store.public_identity()
    if check:
        store.unlock(read_passphrase(passphrase_file))
    if as_json:
        typer.echo(json.dumps(identity.to_json(), indent=2))
    else:
        _print_identity(identity, store.directory)
    if check:
        console.print("[green]passphrase ok; every secret key matches its public key[/]")


@app.command("export-public")
@report_errors
def export_public(
    keystore: KeystoreOption = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write here instead of stdout.")
    ] = None,
) -> None:
    """Export the public identity (public keys, digests, address) as JSON."""
    identity = Keystore(keystore or default_keystore()).public_identity()
    text = json.dumps(identity.to_json(), indent=2) + "\n"
    if out is None:
        typer.echo(text, nl=False)
    else:
        write_bytes_atomic(out, text.encode("utf-8"), 0o644)
        console.print(f"public identity written to {out}")
