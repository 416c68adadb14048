"""Keystore: encryption, permissions, wrong passphrase, tampering, passphrase sources, CLI."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fqai.cli import app
from fqai.encoding import b64encode
from fqai.errors import KeystoreError
from fqai.keystore import PASSPHRASE_ENV, Keystore, read_passphrase
from fqai.keystore.store import ETH_FILE, KEY_FILES, MLDSA_FILE, MLKEM_FILE

from .conftest import FAST_ETH_N, FAST_KDF, PASSPHRASE


@pytest.fixture()
def store(tmp_path: Path) -> Keystore:
    keystore = Keystore(tmp_path / "keystore")
    keystore.create(PASSPHRASE, kdf=FAST_KDF, eth_scrypt_n=FAST_ETH_N)
    return keystore


def test_create_and_unlock_round_trip(store: Keystore) -> None:
    public = store.public_identity()
    unlocked = store.unlock(PASSPHRASE)
    assert unlocked.public == public
    assert public.mldsa_key_digest.startswith("0x") and len(public.mldsa_key_digest) == 66
    assert public.eth_address.startswith("0x") and public.eth_address != public.eth_address.lower()
    assert unlocked.mldsa.public_key == public.mldsa_public_key
    assert len(unlocked.eth_private_key) == 32


def test_files_are_0600_and_directory_0700(store: Keystore) -> None:
    assert stat.S_IMODE(store.directory.stat().st_mode) == 0o700
    for name in KEY_FILES:
        assert stat.S_IMODE(store.path(name).stat().st_mode) == 0o600
    assert sorted(p.name for p in store.directory.iterdir()) == sorted(KEY_FILES)


def test_wrong_passphrase_fails_clearly(store: Keystore) -> None:
    with pytest.raises(KeystoreError, match="wrong passphrase"):
        store.unlock("not the passphrase")


def test_secrets_are_not_stored_in_clear(store: Keystore) -> None:
    unlocked = store.unlock(PASSPHRASE)
    blob = b"".join(store.path(name).read_bytes() for name in KEY_FILES)
    # ML-DSA secret keys start with the public seed rho; compare bytes from the secret part.
    secrets = (
        unlocked.mldsa.secret_key[200:224],
        unlocked.mlkem.secret_key[200:224],
        unlocked.eth_private_key[:24],
    )
    for secret in secrets:
        assert secret.hex().encode() not in blob
        assert b64encode(secret)[:24].encode() not in blob
        assert secret not in blob


@pytest.mark.attack(
    "damaged-or-guessed-keystore",
    actor="someone holding a copy of a keystore, or a damaged disk",
    attack="unlock with a wrong passphrase; load a truncated, edited or re-parameterised key file",
    control="scrypt + AES-GCM sealed keys, digests of the public keys, 0600 permissions",
)
def test_too_open_permissions_are_refused(store: Keystore) -> None:
    os.chmod(store.path(MLDSA_FILE), 0o644)
    with pytest.raises(KeystoreError, match="chmod 600"):
        store.public_identity()


def test_tampered_public_key_is_detected(store: Keystore, tmp_path: Path) -> None:
    other = Keystore(tmp_path / "other")
    other.create(PASSPHRASE, kdf=FAST_KDF, eth_scrypt_n=FAST_ETH_N)
    doc = json.loads(store.path(MLKEM_FILE).read_text())
    foreign = json.loads(other.path(MLKEM_FILE).read_text())
    doc["public_key"] = foreign["public_key"]
    doc["key_digest"] = foreign["key_digest"]
    store.path(MLKEM_FILE).write_text(json.dumps(doc))
    with pytest.raises(KeystoreError, match="modified"):
        store.unlock(PASSPHRASE)


def test_inconsistent_digest_is_detected(store: Keystore) -> None:
    doc = json.loads(store.path(MLDSA_FILE).read_text())
    doc["key_digest"] = "0x" + "00" * 32
    store.path(MLDSA_FILE).write_text(json.dumps(doc))
    with pytest.raises(KeystoreError, match="key_digest does not match"):
        store.public_identity()


def test_never_overwrites_and_needs_a_real_passphrase(store: Keystore, tmp_path: Path) -> None:
    before = store.path(MLDSA_FILE).read_bytes()
    with pytest.raises(KeystoreError, match="refusing to overwrite"):
        store.create(PASSPHRASE, kdf=FAST_KDF, eth_scrypt_n=FAST_ETH_N)
    assert store.path(MLDSA_FILE).read_bytes() == before
    with pytest.raises(KeystoreError, match="at least 8"):
        Keystore(tmp_path / "short").create("short", kdf=FAST_KDF)
    assert not (tmp_path / "short").exists()


def test_missing_keystore_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(KeystoreError, match="not found"):
        Keystore(tmp_path / "nothing").public_identity()


def test_repr_shows_no_secret(store: Keystore) -> None:
    unlocked = store.unlock(PASSPHRASE)
    text = repr(unlocked) + repr(unlocked.mldsa) + repr(unlocked.mlkem) + repr(unlocked.public)
    assert unlocked.eth_private_key.hex() not in text
    assert unlocked.mldsa.secret_key[200:216].hex() not in text
    assert str(unlocked.mldsa.secret_key[200:216]) not in text


def test_passphrase_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PASSPHRASE_ENV, raising=False)
    path = tmp_path / "pass.txt"
    path.write_text("from file  \n")
    assert read_passphrase(path) == "from file  "
    monkeypatch.setenv(PASSPHRASE_ENV, "from env")
    assert read_passphrase(None) == "from env"
    assert read_passphrase(path) == "from file  "  # the file wins
    monkeypatch.delenv(PASSPHRASE_ENV)
    answers = iter(["typed", "typed"])
    assert read_passphrase(None, confirm=True, prompt=lambda _: next(answers)) == "typed"
    answers = iter(["typed", "different"])
    with pytest.raises(KeystoreError, match="do not match"):
        read_passphrase(None, confirm=True, prompt=lambda _: next(answers))
    with pytest.raises(KeystoreError, match="no passphrase"):
        read_passphrase(None, interactive=False)
    path.write_text("\n")
    with pytest.raises(KeystoreError, match="empty"):
        read_passphrase(path)


def test_cli_keys_init_show_export(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI with production KDF parameters; no secret may appear in any output."""
    runner = CliRunner()
    keystore = tmp_path / "cli-keystore"
    pass_file = tmp_path / "pass"
    pass_file.write_text(PASSPHRASE + "\n")
    monkeypatch.delenv(PASSPHRASE_ENV, raising=False)

    result = runner.invoke(
        app, ["keys", "init", "--keystore", str(keystore), "--passphrase-file", str(pass_file)]
    )
    assert result.exit_code == 0, result.output
    store = Keystore(keystore)
    sealed = json.loads(store.path(MLDSA_FILE).read_text())
    assert sealed["kdf"]["n"] == 2**17
    assert json.loads(store.path(ETH_FILE).read_text())["crypto"]["kdfparams"]["n"] == 2**18

    monkeypatch.setenv(PASSPHRASE_ENV, PASSPHRASE)
    show = runner.invoke(app, ["keys", "show", "--keystore", str(keystore), "--check"])
    assert show.exit_code == 0, show.output
    shown_json = runner.invoke(app, ["keys", "show", "--keystore", str(keystore), "--json"])
    exported = runner.invoke(app, ["keys", "export-public", "--keystore", str(keystore)])
    out_file = tmp_path / "public.json"
    to_file = runner.invoke(
        app, ["keys", "export-public", "--keystore", str(keystore), "-o", str(out_file)]
    )
    assert to_file.exit_code == 0

    unlocked = store.unlock(PASSPHRASE)
    public = unlocked.public
    assert public.mldsa_key_digest in show.output
    assert public.eth_address in show.output
    doc = json.loads(exported.output)
    assert doc == json.loads(out_file.read_text()) == json.loads(shown_json.output)
    assert doc["ml_dsa_65"]["key_digest"] == public.mldsa_key_digest
    everything = (
        "".join(r.output for r in (result, show, shown_json, exported, to_file))
        + out_file.read_text()
    )
    secrets = (
        unlocked.mldsa.secret_key[200:230],
        unlocked.mlkem.secret_key[200:230],
        unlocked.eth_private_key,
    )
    for secret in secrets:
        assert secret.hex()[:40] not in everything
        assert b64encode(secret)[:32] not in everything
    assert PASSPHRASE not in everything

    monkeypatch.setenv(PASSPHRASE_ENV, "wrong passphrase!")
    bad = runner.invoke(app, ["keys", "show", "--keystore", str(keystore), "--check"])
    assert bad.exit_code == 1
    assert "wrong passphrase" in bad.output

    again = runner.invoke(app, ["keys", "init", "--keystore", str(keystore)])
    assert again.exit_code == 1
    assert "refusing to overwrite" in again.output
