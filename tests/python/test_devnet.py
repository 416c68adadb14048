"""``fqai devnet up/status/down`` with a real background js-ipfs node, and the state file."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fqai.cli import app
from fqai.devnet import anvil
from fqai.devnet.ipfs_node import IpfsNode, is_ipfs_daemon, stop_daemon
from fqai.devnet.process import is_running
from fqai.devnet.state import DevnetState
from fqai.errors import DevnetError
from fqai.ipfs.client import IpfsClient, resolve_api_address

runner = CliRunner()


def test_devnet_up_status_down(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    devnet = tmp_path / ".devnet"
    monkeypatch.setenv("FQAI_DEVNET_DIR", str(devnet))
    monkeypatch.delenv("FQAI_IPFS_API", raising=False)
    # A section of a service this command does not manage must survive up/down.
    with DevnetState.update(devnet) as state:
        state.services["other"] = {"pid": None, "rpc": "http://127.0.0.1:1"}

    up = runner.invoke(app, ["devnet", "up", "--no-chain"])
    pid = None
    try:
        assert up.exit_code == 0, up.output
        document = json.loads((devnet / "state.json").read_text())
        assert document["version"] == 1
        section = document["services"]["ipfs"]
        pid = section["pid"]
        assert set(section) >= {"pid", "api", "api_port", "gateway_port", "repo", "log"}
        assert section["api"] == f"/ip4/127.0.0.1/tcp/{section['api_port']}/http"
        assert document["services"]["other"]["rpc"] == "http://127.0.0.1:1"
        assert is_ipfs_daemon(pid, Path(section["repo"]))

        assert resolve_api_address() == section["api"]
        with IpfsClient(resolve_api_address(), timeout=10) as client:
            cid = client.add_bytes(b"devnet")
            assert client.cat(cid, max_size=10) == b"devnet"

        again = runner.invoke(app, ["devnet", "up", "--no-chain"])
        assert again.exit_code == 0 and "already running" in again.output
        assert json.loads((devnet / "state.json").read_text())["services"]["ipfs"]["pid"] == pid

        status = runner.invoke(app, ["devnet", "status", "--json"])
        report = json.loads(status.output)
        assert report["ipfs"]["up"] is True
        assert report["other"]["up"] is False
        assert status.exit_code == 1  # the other section records no running process

        down = runner.invoke(app, ["devnet", "down"])
        assert down.exit_code == 0, down.output
        assert "stopped" in down.output
        assert not is_running(pid)
        document = json.loads((devnet / "state.json").read_text())
        assert "ipfs" not in document["services"] and "other" in document["services"]

        status = runner.invoke(app, ["devnet", "status"])
        assert status.exit_code == 1
    finally:
        if pid is not None and is_running(pid):
            stop_daemon(pid)


def test_down_without_state_and_stale_pid(tmp_path: Path) -> None:
    devnet = tmp_path / "d"
    result = runner.invoke(app, ["devnet", "down", "--dir", str(devnet)])
    assert result.exit_code == 0 and "not recorded" in result.output
    # A recorded pid that is not an IPFS daemon (here: this test process) is never signalled.
    with DevnetState.update(devnet) as state:
        state.services["ipfs"] = {"pid": os.getpid(), "repo": str(tmp_path), "api_port": 1}
    status = runner.invoke(app, ["devnet", "status", "--dir", str(devnet)])
    assert status.exit_code == 1 and "not running" in status.output
    result = runner.invoke(app, ["devnet", "down", "--dir", str(devnet)])
    assert result.exit_code == 0 and "was not running" in result.output
    empty = runner.invoke(app, ["devnet", "status", "--dir", str(tmp_path / "none")])
    assert empty.exit_code == 1 and "no devnet services" in empty.output


def test_corrupt_state_is_reported(tmp_path: Path) -> None:
    (tmp_path / "state.json").write_text("{not json")
    with pytest.raises(DevnetError, match=r"state\.json"):
        DevnetState.load(tmp_path)
    result = runner.invoke(app, ["devnet", "status", "--dir", str(tmp_path)])
    assert result.exit_code == 1 and "cannot read devnet state" in result.output


def test_node_context_manager_restarts_after_crash(tmp_path: Path) -> None:
    node = IpfsNode(tmp_path / "repo", log_path=tmp_path / "log")
    with node:
        pid = node.pid
        assert pid is not None and is_ipfs_daemon(pid, tmp_path / "repo")
        node.kill()  # leaves a stale repo.lock behind
        assert not is_running(pid)
        node.start()
        with IpfsClient(node.api_address, timeout=10) as client:
            assert client.version()
        second = node.pid
    assert second is not None and not is_running(second)
    assert node.pid is None


def test_devnet_runs_an_anvil_chain_with_the_chosen_chain_id(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Prepare
    devnet = tmp_path / ".devnet"
    monkeypatch.setenv("FQAI_DEVNET_DIR", str(devnet))
    chain_pid = None
    try:
        # Execute
        up = runner.invoke(app, ["devnet", "up", "--chain-id", "4242"])
        assert up.exit_code == 0, up.output
        services = json.loads((devnet / "state.json").read_text())["services"]
        chain = services["anvil"]
        chain_pid = chain["pid"]

        # Assert: the recorded chain answers with its id, status sees both services up.
        assert chain["chain_id"] == 4242 and chain["rpc_url"].startswith("http://127.0.0.1:")
        assert anvil.probe(chain) == (True, f"chain 4242 at {chain['rpc_url']}, block 0")
        status = runner.invoke(app, ["devnet", "status", "--json"])
        report = json.loads(status.output)
        assert status.exit_code == 0 and report["anvil"]["up"] and report["ipfs"]["up"]

        down = runner.invoke(app, ["devnet", "down"])
        assert down.exit_code == 0 and "anvil stopped" in down.output
        assert not is_running(chain_pid)
        assert anvil.probe(chain)[0] is False
    finally:
        runner.invoke(app, ["devnet", "down"])
        if chain_pid is not None and is_running(chain_pid):
            anvil.stop_background({"pid": chain_pid})


def test_anvil_node_refuses_a_port_already_serving_another_chain(tmp_path: Path) -> None:
    with anvil.AnvilNode(chain_id=31337) as first:
        other = anvil.AnvilNode(port=first.port, chain_id=999, startup_timeout=10)
        with pytest.raises(DevnetError) as excinfo:
            other.start()
        assert str(first.port) in str(excinfo.value)
        assert other.pid is None
