"""Unit tests: how fqai starts and reaches Flower processes (TLS, authentication, loopback rule)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from fqai.cli.federation import server_tls
from fqai.cli.node import is_not_admitted
from fqai.federation.errors import FederationError, ProcessError
from fqai.federation.flower_control import _json_object
from fqai.federation.runtime import (
    ServerTls,
    SuperLink,
    SuperNode,
    check_transport,
    is_loopback,
    split_address,
    write_flwr_home,
)


@pytest.fixture()
def tls(tmp_path: Path) -> ServerTls:
    files = []
    for name in ("cert.pem", "key.pem", "ca.pem"):
        (tmp_path / name).write_text("placeholder")
        files.append(tmp_path / name)
    return ServerTls(*files)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.0.0.9", True), ("localhost", True), ("::1", True),
     ("10.0.0.1", False), ("203.0.113.10", False), ("superlink.example.org", False)],
)  # fmt: skip
def test_loopback_addresses(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_plaintext_is_refused_off_loopback(tmp_path: Path) -> None:
    check_transport("127.0.0.4:9093", None)  # the local development mode
    with pytest.raises(ProcessError, match="not on loopback: give its CA with --root-ca"):
        check_transport("203.0.113.10:9093", None)
    check_transport("203.0.113.10:9093", None, insecure=True)  # asked for explicitly
    with pytest.raises(ProcessError, match=r"root CA file .* does not exist"):
        check_transport("203.0.113.10:9093", tmp_path / "missing.pem")


@pytest.mark.parametrize("address", ["9093", ":9093", "host:", "host:port"])
def test_bad_superlink_addresses(address: str) -> None:
    with pytest.raises(ProcessError, match="is not host:port"):
        split_address(address)


def test_superlink_command_with_tls_and_authentication(tmp_path: Path, tls: ServerTls) -> None:
    link = SuperLink(
        tmp_path / "log", port=9999, host="203.0.113.10", tls=tls, supernode_auth=True,
        database=tmp_path / "state.db",
    )  # fmt: skip
    command = link.command()
    assert "--insecure" not in command
    for flag, value in (
        ("--ssl-certfile", tls.cert),
        ("--ssl-keyfile", tls.key),
        ("--ssl-ca-certfile", tls.ca),
        ("--database", tmp_path / "state.db"),
        ("--host", "203.0.113.10"),
    ):
        assert command[command.index(flag) + 1] == str(value)
    assert "--enable-supernode-auth" in command
    assert link.address == "203.0.113.10:9999"


def test_superlink_refuses_plaintext_off_loopback_and_auth_without_tls(tmp_path: Path) -> None:
    with pytest.raises(ProcessError, match="needs TLS certificates"):
        SuperLink(tmp_path / "log", port=1, host="203.0.113.10")
    with pytest.raises(ProcessError, match="authentication needs TLS"):
        SuperLink(tmp_path / "log", port=1, supernode_auth=True)
    assert "--insecure" in SuperLink(tmp_path / "log", port=1).command()


def test_supernode_command(tmp_path: Path) -> None:
    ca, key = tmp_path / "ca.pem", tmp_path / "supernode-key"
    node = SuperNode(
        tmp_path / "log", "203.0.113.10:9093", {"partition-id": 0}, port=9100,
        host="127.0.0.5", root_ca=ca, auth_key=key,
    )  # fmt: skip
    command = node.command()
    assert command[command.index("--root-certificates") + 1] == str(ca)
    assert command[command.index("--auth-supernode-private-key") + 1] == str(key)
    assert command[command.index("--host") + 1] == "127.0.0.5"
    assert "--insecure" not in command
    with pytest.raises(ProcessError, match="authentication needs TLS"):
        SuperNode(tmp_path / "log", "127.0.0.1:9093", {}, port=1, auth_key=key)


def test_flwr_home_verifies_the_superlink_with_the_ca(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    secure = tomllib.loads((write_flwr_home(tmp_path / "a", "h:1", ca) / "config.toml").read_text())
    assert secure["superlink"]["fqai"] == {"address": "h:1", "root-certificates": str(ca)}
    plain = tomllib.loads((write_flwr_home(tmp_path / "b", "h:1") / "config.toml").read_text())
    assert plain["superlink"]["fqai"] == {"address": "h:1", "insecure": True}


def test_server_tls_needs_all_three_files(tmp_path: Path, tls: ServerTls) -> None:
    assert server_tls(None, None, None) is None
    assert server_tls(tls.cert, tls.key, tls.ca) == ServerTls(
        tls.cert.resolve(), tls.key.resolve(), tls.ca.resolve()
    )
    with pytest.raises(FederationError, match="needs --tls-cert, --tls-key and --root-ca"):
        server_tls(tls.cert, None, tls.ca)
    with pytest.raises(FederationError, match="does not exist"):
        server_tls(tmp_path / "nope.pem", tls.key, tls.ca)


def test_flwr_json_answers_are_found_after_other_output() -> None:
    text = 'Using SuperLink: fqai (127.0.0.4:1)\n{\n  "success": true,\n  "node-id": 7\n}\n'
    assert _json_object(text) == {"success": True, "node-id": 7}
    assert _json_object("no json here") is None
    assert _json_object("{ broken") is None


def test_refusal_of_an_unregistered_key_is_recognised() -> None:
    assert is_not_admitted("Exit Code: 305 Failed to activate SuperNode. [code: 2004]")
    assert not is_not_admitted("Exit Code: 305 [SSL: CERTIFICATE_VERIFY_FAILED]")
