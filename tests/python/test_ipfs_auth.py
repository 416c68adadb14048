"""An IPFS API that requires authentication, configured only through the environment.

A bearer-token reverse proxy (:mod:`tests.python.ipfs_auth_proxy`) on 127.0.0.2 stands in for a
pinning gateway or a Kubo node with ``API.Authorizations`` in front of the session's js-ipfs
node. The token is given to fqai only as a file named by ``FQAI_IPFS_AUTH_FILE`` and must never
show up in an error message or a log.
"""

from __future__ import annotations

import logging
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fqai.devnet.ipfs_node import IpfsNode
from fqai.errors import IpfsError, IpfsUnavailableError
from fqai.ipfs import IpfsAuthError, IpfsSettings, ipfs_settings, load_auth_header
from fqai.ipfs.cid import cid_for_raw_block, parse_cid
from fqai.ipfs.client import CHUNK_SIZE, IpfsClient
from fqai.keystore import NodeIdentity
from fqai.trust import publish_artifact

from .conftest import MODEL
from .ipfs_auth_proxy import IpfsAuthProxy

ENV_NAMES = ("FQAI_IPFS_API", "FQAI_IPFS_AUTH_FILE", "FQAI_IPFS_TIMEOUT", "FQAI_IPFS_RETRIES")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No IPFS setting leaks in from the environment the tests run in."""
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture()
def token() -> str:
    return "tok-" + secrets.token_urlsafe(24)


@pytest.fixture()
def proxy(ipfs_node: IpfsNode, token: str) -> Iterator[IpfsAuthProxy]:
    with IpfsAuthProxy(ipfs_node.api_address, token=token, host="127.0.0.2") as running:
        yield running


def write_secret(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(0o600)
    return path


@pytest.fixture()
def auth_file(tmp_path: Path, token: str) -> Path:
    return write_secret(tmp_path / "ipfs-auth", f"Bearer {token}\n")


def assert_secret_absent(secret: str, *texts: str) -> None:
    for text in texts:
        assert secret not in text


def some_cid() -> str:
    """A valid CID that the node does not need to have."""
    return cid_for_raw_block(b"some content")


# -- refused requests ---------------------------------------------------------------------------


@pytest.mark.parametrize("status", [401, 403])
def test_without_credentials_the_error_says_how_to_give_them(
    ipfs_node: IpfsNode, token: str, status: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with (
        IpfsAuthProxy(ipfs_node.api_address, token=token, refuse_status=status) as proxy,
        IpfsClient(proxy.api_address, timeout=10, retries=2, backoff=0.05) as client,
    ):
        with pytest.raises(IpfsAuthError) as caught:
            client.add_bytes(b"refused")
        assert proxy.refused == 1, "an auth refusal is not retried"
        with pytest.raises(IpfsAuthError):
            client.cat(some_cid(), max_size=10)
        with pytest.raises(IpfsAuthError):
            client.is_pinned(some_cid())
    message = str(caught.value)
    assert message == (
        f"add: IPFS API at {proxy.api_address} refused the request (HTTP {status}): it requires "
        "authentication; put the Authorization header value (e.g. 'Bearer <token>') in a file "
        "and set FQAI_IPFS_AUTH_FILE to its path"
    )
    assert caught.value.status == status
    assert caught.value.credentials_from is None
    assert_secret_absent(token, message, caplog.text)


def test_wrong_token_is_rejected_without_showing_it(
    proxy: IpfsAuthProxy,
    tmp_path: Path,
    token: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "tok-" + secrets.token_urlsafe(24)
    wrong_file = write_secret(tmp_path / "wrong", f"Bearer {wrong}\n")
    monkeypatch.setenv("FQAI_IPFS_AUTH_FILE", str(wrong_file))
    with (
        IpfsClient(proxy.api_address, timeout=10, retries=2, backoff=0.05) as client,
        pytest.raises(IpfsAuthError) as caught,
    ):
        client.version()
    assert proxy.refused == 1
    message = str(caught.value)
    assert message == (
        f"version: IPFS API at {proxy.api_address} refused the request (HTTP 401): the "
        "configured credentials were rejected (wrong or expired, or not allowed for this "
        f"command); the Authorization header came from the file {wrong_file} "
        "(from FQAI_IPFS_AUTH_FILE)"
    )
    chain = f"{caught.value!r} {caught.value.__cause__!r} {caught.value.__cause__}"
    assert_secret_absent(wrong, message, chain, caplog.text)
    assert_secret_absent(token, message, chain, caplog.text)


# -- authorised requests -----------------------------------------------------------------------


def test_token_from_auth_file_round_trips_through_the_proxy(
    proxy: IpfsAuthProxy,
    auth_file: Path,
    ipfs_client: IpfsClient,
    token: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("FQAI_IPFS_AUTH_FILE", str(auth_file))
    data = b"through the auth proxy " + os.urandom(64)
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(3 * CHUNK_SIZE + 17))
    with IpfsClient(proxy.api_address, timeout=20) as client:
        assert client.credentials_from == f"the file {auth_file} (from FQAI_IPFS_AUTH_FILE)"
        assert client.version()
        cid = client.add_bytes(data)
        assert client.is_pinned(cid)
        assert client.cat(cid, max_size=len(data)) == data
        big_cid = client.add_file(big)
        fetched = tmp_path / "fetched.bin"
        client.cat_to_file(big_cid, fetched, max_size=big.stat().st_size)
        client.pin(big_cid)
    assert fetched.read_bytes() == big.read_bytes()
    assert parse_cid(big_cid).codec_name == "dag-pb"
    # Added straight to the node, the same bytes get the same CIDs.
    assert ipfs_client.add_bytes(data) == cid
    assert ipfs_client.add_file(big) == big_cid
    assert proxy.refused == 0
    assert {"/api/v0/add", "/api/v0/cat", "/api/v0/pin/ls", "/api/v0/pin/add"} <= set(proxy.paths)
    assert_secret_absent(token, caplog.text)


def test_explicit_headers_win_over_the_auth_file(
    proxy: IpfsAuthProxy, tmp_path: Path, token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FQAI_IPFS_AUTH_FILE", str(write_secret(tmp_path / "bad", "Bearer nope")))
    with IpfsClient(
        proxy.api_address, timeout=10, headers={"Authorization": f"Bearer {token}"}
    ) as client:
        assert client.credentials_from == "the headers argument"
        assert client.version()
    good = write_secret(tmp_path / "good", f"Bearer {token}")
    with IpfsClient(proxy.api_address, timeout=10, auth_file=good) as client:
        assert client.credentials_from == f"the file {good} (from the auth_file argument)"
        assert client.version()
    assert proxy.refused == 0


# -- settings ----------------------------------------------------------------------------------


def test_settings_come_from_the_environment_unless_given(
    tmp_path: Path, auth_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert ipfs_settings("/ip4/127.0.0.1/tcp/1/http") == IpfsSettings(
        api="/ip4/127.0.0.1/tcp/1/http", timeout=30.0, retries=2, auth_file=None
    )
    monkeypatch.setenv("FQAI_IPFS_API", "/ip4/127.0.0.9/tcp/4001/http")
    monkeypatch.setenv("FQAI_IPFS_TIMEOUT", "2.5")
    monkeypatch.setenv("FQAI_IPFS_RETRIES", " 0 ")
    monkeypatch.setenv("FQAI_IPFS_AUTH_FILE", str(auth_file))
    assert ipfs_settings() == IpfsSettings(
        api="/ip4/127.0.0.9/tcp/4001/http", timeout=2.5, retries=0, auth_file=auth_file
    )
    with IpfsClient() as client:
        assert (client.address, client.timeout, client.retries) == (
            "/ip4/127.0.0.9/tcp/4001/http",
            2.5,
            0,
        )
        assert client.credentials_from is not None
    with IpfsClient("/ip4/127.0.0.1/tcp/2/http", timeout=7, retries=3) as client:
        assert (client.address, client.timeout, client.retries) == (
            "/ip4/127.0.0.1/tcp/2/http",
            7.0,
            3,
        )
    monkeypatch.setenv("FQAI_IPFS_TIMEOUT", "")
    assert ipfs_settings().timeout == 30.0


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("FQAI_IPFS_TIMEOUT", "abc", "FQAI_IPFS_TIMEOUT='abc' is not a number of seconds"),
        ("FQAI_IPFS_TIMEOUT", "0", "FQAI_IPFS_TIMEOUT='0' must be a finite number of seconds > 0"),
        ("FQAI_IPFS_TIMEOUT", "-3", "FQAI_IPFS_TIMEOUT='-3' must be a finite number of seconds"),
        ("FQAI_IPFS_TIMEOUT", "nan", "FQAI_IPFS_TIMEOUT='nan' must be a finite number of seconds"),
        ("FQAI_IPFS_RETRIES", "two", "FQAI_IPFS_RETRIES='two' is not a whole number of retries"),
        ("FQAI_IPFS_RETRIES", "1.5", "FQAI_IPFS_RETRIES='1.5' is not a whole number of retries"),
        ("FQAI_IPFS_RETRIES", "-1", "FQAI_IPFS_RETRIES='-1' must be 0 or more"),
    ],
)
def test_bad_environment_values_are_named(
    name: str, value: str, message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(IpfsError) as caught:
        IpfsClient("/ip4/127.0.0.1/tcp/1/http")
    assert str(caught.value).startswith(message)


def test_bad_arguments_are_named() -> None:
    with pytest.raises(IpfsError, match=r"^IPFS timeout must be a finite number of seconds > 0"):
        IpfsClient("/ip4/127.0.0.1/tcp/1/http", timeout=0)
    with pytest.raises(IpfsError, match=r"^IPFS retries must be a whole number >= 0, got -1$"):
        IpfsClient("/ip4/127.0.0.1/tcp/1/http", retries=-1)
    with pytest.raises(IpfsError, match="'X-Token' has a line break"):
        IpfsClient("/ip4/127.0.0.1/tcp/1/http", headers={"X-Token": "a\r\nInjected: 1"})


def test_auth_file_problems_name_the_file_not_the_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "s3cr3t-" + secrets.token_hex(8)
    where = "IPFS auth file {} (from FQAI_IPFS_AUTH_FILE)"
    cases: list[tuple[Path, str]] = [
        (tmp_path / "missing", "does not exist"),
        (tmp_path, "is not a regular file"),
        (write_secret(tmp_path / "empty", " \n"), "is empty; it must hold the Authorization"),
        (
            write_secret(tmp_path / "line", f"Authorization: Bearer {secret}\n"),
            "holds a whole header line; put only the value",
        ),
        (
            write_secret(tmp_path / "two", f"Bearer {secret}\nX-Other: 1\n"),
            "holds a line break or control character",
        ),
        (
            write_secret(tmp_path / "utf8", f"Bearer {secret}é"),
            "holds non-ASCII bytes",
        ),
    ]
    for path, problem in cases:
        monkeypatch.setenv("FQAI_IPFS_AUTH_FILE", str(path))
        with pytest.raises(IpfsError) as caught:
            IpfsClient("/ip4/127.0.0.1/tcp/1/http")
        assert str(caught.value).startswith(f"{where.format(path)} {problem}")
        assert_secret_absent(secret, str(caught.value))
    unreadable = write_secret(tmp_path / "unreadable", f"Bearer {secret}")
    unreadable.chmod(0)
    if os.geteuid() != 0:  # root reads it anyway
        with pytest.raises(IpfsError, match=r"unreadable \(from the auth_file argument\) cannot"):
            load_auth_header(unreadable, "the auth_file argument")


def test_warnings_about_the_auth_file_and_plain_http(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("fqai.ipfs.config._warned", set())
    loose = tmp_path / "loose"
    loose.write_text("justatoken\n")
    loose.chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="fqai.ipfs"):
        IpfsClient("/ip4/10.1.2.3/tcp/5001/http", auth_file=loose).close()
        IpfsClient("/dns4/ipfs.example.org/tcp/443/https", auth_file=loose).close()
    text = caplog.text
    assert "holds no authentication scheme" in text
    assert "can be read by other users (mode 644)" in text
    assert text.count("unencrypted over plain HTTP to /ip4/10.1.2.3/tcp/5001/http") == 1
    assert "justatoken" not in text


def test_timeout_from_the_environment_is_honoured(
    proxy: IpfsAuthProxy, auth_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FQAI_IPFS_AUTH_FILE", str(auth_file))
    monkeypatch.setenv("FQAI_IPFS_TIMEOUT", "0.5")
    monkeypatch.setenv("FQAI_IPFS_RETRIES", "0")
    proxy.stall = True
    with IpfsClient(proxy.api_address) as client:
        started = time.monotonic()
        with pytest.raises(IpfsUnavailableError, match=r"timed out after 0\.5 s") as caught:
            client.cat(some_cid(), max_size=10)
        elapsed = time.monotonic() - started
    # One read timeout, then a liveness probe with the same timeout: about 1 s.
    assert 0.5 <= elapsed < 5, elapsed
    assert caught.value.address == proxy.api_address


# -- the CLI, as a separate process configured by its environment ------------------------------


def test_cli_verify_through_the_auth_proxy(
    proxy: IpfsAuthProxy,
    auth_file: Path,
    ipfs_client: IpfsClient,
    identity: NodeIdentity,
    weights_file: Path,
    token: str,
    tmp_path: Path,
) -> None:
    published = publish_artifact(
        ipfs_client, identity, weights_file, kind="update", federation_id=1, round=2, model=MODEL
    )
    fqai = Path(sys.executable).parent / "fqai"
    env = {k: v for k, v in os.environ.items() if k not in ENV_NAMES}
    env.update(
        FQAI_IPFS_API=proxy.api_address,
        FQAI_DEVNET_DIR=str(tmp_path / "no-devnet"),
        COLUMNS="300",
    )

    def verify(extra_env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(fqai), "verify", *args, published.manifest_cid],
            env={**env, **extra_env},
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )

    ok = verify({"FQAI_IPFS_AUTH_FILE": str(auth_file)})
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "VERIFIED" in ok.stdout
    assert proxy.api_address in ok.stdout
    refused_before = proxy.refused
    assert "/api/v0/cat" in proxy.paths  # weights fetched through the proxy as well
    bad = verify({}, "--no-weights")
    output = " ".join((bad.stdout + bad.stderr).split())
    assert bad.returncode == 1, output
    assert proxy.refused > refused_before
    assert "FAILED: first failing check manifest fetch" in output
    assert f"IPFS API at {proxy.api_address} refused the request (HTTP 401)" in output
    assert "set FQAI_IPFS_AUTH_FILE to its path" in output
    assert_secret_absent(token, ok.stdout + ok.stderr, output)
