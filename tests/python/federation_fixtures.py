"""Fixtures for the chain and federation tests: Anvil with the contracts deployed by Brownie.

Import the fixtures into a test module with ``from tests.python.federation_fixtures import *``
(or by name). The deployment record is moved out of the checkout into a temporary directory and
``$FQAI_DEPLOYMENTS_DIR`` points there, so runs in parallel never share a record.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from fqai.chain import (
    DEPLOYMENTS_ENV,
    ChainClient,
    FederationConfig,
    KeySender,
    UnlockedSender,
    connect,
    load_deployment,
)
from fqai.devnet.anvil import AnvilNode
from fqai.devnet.tools import project_root
from fqai.keystore import NodeIdentity

ROOT = project_root()
DEPLOY_TIMEOUT = 180


@dataclass(frozen=True)
class DeployedChain:
    """A running Anvil with fqai's contracts and its deployment record."""

    rpc_url: str
    chain_id: int
    deployments_dir: Path
    dev_accounts: tuple[str, ...]

    @property
    def cli_args(self) -> list[str]:
        """The ``fqai`` options that point a command at this chain."""
        return ["--rpc-url", self.rpc_url, "--deployments-dir", str(self.deployments_dir)]

    def client(self, account_index: int | None = 0) -> ChainClient:
        """A chain client sending from dev account ``account_index`` (``None``: read-only)."""
        w3 = connect(self.rpc_url)
        sender = None if account_index is None else UnlockedSender(self.dev_accounts[account_index])
        return ChainClient(w3, load_deployment(self.chain_id, self.deployments_dir), sender)


def _project_copy(base: Path) -> Path:
    """A throw-away Brownie project sharing the checkout's sources and compiled artifacts.

    Brownie records deployments on named networks under ``build/deployments`` and reloads them
    on the next connect (which fails on a fresh chain), and ``scripts/deploy.py`` writes its
    record next to itself; a private copy keeps both away from the checkout and other runs.
    """
    project = base / "brownie-project"
    (project / "build").mkdir(parents=True)
    (project / "scripts").mkdir()
    (project / "tests" / "contracts").mkdir(parents=True)
    shutil.copyfile(ROOT / "brownie-config.yaml", project / "brownie-config.yaml")
    shutil.copyfile(ROOT / "scripts" / "deploy.py", project / "scripts" / "deploy.py")
    for name in ("contracts", "interfaces", "node_modules"):
        (project / name).symlink_to(ROOT / name)
    for name in ("contracts", "interfaces"):
        if (ROOT / "build" / name).exists():
            shutil.copytree(ROOT / "build" / name, project / "build" / name)
    return project


def deploy_contracts(rpc_url: str, chain_id: int, target_dir: Path) -> Path:
    """Run ``brownie run scripts/deploy.py`` against ``rpc_url``; put the record in target_dir."""
    project = _project_copy(target_dir.parent)
    env = {
        **os.environ,
        "PATH": f"{ROOT / 'node_modules' / '.bin'}:{ROOT / '.venv' / 'bin'}:{os.environ['PATH']}",
        "SOLCX_BINARY_PATH": str(ROOT / ".solcx"),
        "FQAI_RPC_URL": rpc_url,
        "FQAI_DEV_UNLOCKED": "1",
    }
    command = [str(ROOT / ".venv" / "bin" / "brownie"), "run", "scripts/deploy.py"]
    result = subprocess.run(
        [*command, "--network", "fqai-rpc"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=DEPLOY_TIMEOUT,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"deploy failed:\n{result.stdout}\n{result.stderr}")
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / f"{chain_id}.json"
    shutil.copyfile(project / "deployments" / f"{chain_id}.json", target)
    return target


@pytest.fixture(scope="session")
def deployed_chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DeployedChain]:
    """Anvil on a free loopback port with the contracts deployed, for the whole session."""
    base = tmp_path_factory.mktemp("chain")
    # A chain id of our own keeps the checkout's deployments/31337.json untouched.
    chain_id = 31337
    with AnvilNode(chain_id=chain_id, log_path=base / "anvil.log") as node:
        deployments = base / "deployments"
        deploy_contracts(node.rpc_url, chain_id, deployments)
        w3 = connect(node.rpc_url)
        old = os.environ.get(DEPLOYMENTS_ENV)
        os.environ[DEPLOYMENTS_ENV] = str(deployments)
        try:
            yield DeployedChain(
                rpc_url=node.rpc_url,
                chain_id=chain_id,
                deployments_dir=deployments,
                dev_accounts=tuple(w3.eth.accounts),
            )
        finally:
            if old is None:
                os.environ.pop(DEPLOYMENTS_ENV, None)
            else:
                os.environ[DEPLOYMENTS_ENV] = old


# --------------------------------------------------------------------------- CLI processes

FQAI = [str(Path(sys.executable).parent / "fqai")]


def run_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``fqai <args>`` to completion, output captured."""
    return subprocess.run(
        [*FQAI, *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def stop_process(process: subprocess.Popen[str]) -> None:
    """SIGTERM a process started in its own session; SIGKILL its group if it lingers."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


def start_cli_nodes(
    base: Path,
    federation_id: int,
    superlink: str,
    ipfs_api: str,
    common: list[str],
    faults: dict[int, str] | None = None,
    count: int = 4,
    wait: bool = True,
) -> list[subprocess.Popen[str]]:
    """``fqai node start`` for keystores ``base/keys/node<i>``; returns once all connected
    (or, with ``wait=False``, once started: nodes of a SuperLink not yet up retry).

    On failure the processes already started are stopped before the error propagates.
    """
    processes: list[subprocess.Popen[str]] = []
    try:
        for i in range(count):
            args = [
                *FQAI, "node", "start", "--federation-id", str(federation_id),
                "--superlink", superlink, "--partition-id", str(i),
                "--num-partitions", str(count), "--keystore", str(base / "keys" / f"node{i}"),
                "--ipfs-api", ipfs_api, "--work-dir", str(base / f"node{i}"),
                *common,
            ]  # fmt: skip
            if faults and i in faults:
                args += ["--test-fault", faults[i]]
            out = (base / f"node{i}.out").open("w")
            processes.append(
                subprocess.Popen(
                    args, stdout=out, stderr=subprocess.STDOUT, text=True, start_new_session=True
                )
            )
        deadline = time.monotonic() + (90 if wait else 0)
        while wait and time.monotonic() < deadline:
            outs = [(base / f"node{i}.out").read_text() for i in range(count)]
            if all("SuperNode connected" in o for o in outs):
                break
            assert all(p.poll() is None for p in processes), outs
            time.sleep(0.5)
        else:
            if wait:
                raise AssertionError("nodes did not start")
        if wait:
            time.sleep(3)  # let every SuperNode register with the SuperLink
    except BaseException:
        for process in processes:
            stop_process(process)
        raise
    return processes


@dataclass(frozen=True)
class CliFederation:
    """A federation with a funded coordinator and nodes whose keystores live under ``base``."""

    federation_id: int
    coordinator: NodeIdentity
    nodes: list[NodeIdentity]
    passphrase: Path
    common: list[str]  # chain and passphrase options every `fqai` command of the run takes


def cli_federation(
    chain: DeployedChain,
    base: Path,
    funder_index: int,
    config: FederationConfig,
    *,
    pool_wei: int = 0,
    nodes: int = 4,
) -> CliFederation:
    """Keystores ``base/keys/{coordinator,node<i>}``, funded from a dev account; the
    coordinator creates the federation (the nodes join when `fqai node start` runs)."""
    from fqai.federation.membership import create_federation
    from tests.python.conftest import PASSPHRASE, make_identity

    passphrase = base / "passphrase"
    passphrase.write_text(PASSPHRASE)
    coordinator = make_identity(base / "keys" / "coordinator")
    members = [make_identity(base / "keys" / f"node{i}") for i in range(nodes)]
    funder = chain.client(funder_index)
    for identity in [coordinator, *members]:
        funder.send_ether(identity.public.eth_address, 10**18)
    federation_id = create_federation(
        funder.with_sender(KeySender(coordinator.eth_private_key)), config, pool_wei=pool_wei
    )
    common = [*chain.cli_args, "--passphrase-file", str(passphrase)]
    return CliFederation(federation_id, coordinator, members, passphrase, common)


def run_cli_federation(
    base: Path,
    setup: CliFederation,
    ipfs_api: str,
    run_args: list[str],
    *,
    faults: dict[int, str] | None = None,
    nodes: int = 4,
    round_timeout: int = 60,
    timeout: float = 400,
    tls: bool = False,
) -> tuple[dict[str, Any], str]:
    """A SuperLink and ``fqai node start`` for each of ``setup``'s nodes, then
    ``fqai federation run <run_args>`` (with the SuperLink, ``base/run`` as work dir, the
    coordinator keystore, IPFS and chain options added); everything stopped afterwards.
    Returns the run record and the run's stdout.

    With ``tls`` the nodes start first and ``federation run`` starts its own SuperLink with a
    certificate from a CA made here, SuperNode authentication and admission."""
    from fqai.devnet.certs import create_ca, issue_host_certificate
    from fqai.devnet.tools import free_port
    from fqai.federation.runtime import SuperLink

    if not tls:
        with SuperLink(base / "superlink.log") as link:
            processes = start_cli_nodes(
                base, setup.federation_id, link.address, ipfs_api, setup.common, faults, nodes
            )
            link_args = ["--superlink", link.address]
            return _coordinate(
                base, setup, ipfs_api, run_args, link_args, processes, round_timeout, timeout
            )
    ca = create_ca(base / "tls")
    cert = issue_host_certificate(ca, base / "tls", "superlink", ["127.0.0.1"])
    port = free_port("127.0.0.1")
    processes = start_cli_nodes(
        base, setup.federation_id, f"127.0.0.1:{port}", ipfs_api,
        [*setup.common, "--root-ca", str(ca.cert)], faults, count=nodes, wait=False,
    )  # fmt: skip
    link_args = [
        "--port", str(port), "--tls-cert", str(cert.cert), "--tls-key", str(cert.key),
        "--root-ca", str(ca.cert),
    ]  # fmt: skip
    return _coordinate(
        base, setup, ipfs_api, run_args, link_args, processes, round_timeout, timeout
    )


def _coordinate(
    base: Path,
    setup: CliFederation,
    ipfs_api: str,
    run_args: list[str],
    link_args: list[str],
    processes: list[subprocess.Popen[str]],
    round_timeout: int,
    timeout: float,
) -> tuple[dict[str, Any], str]:
    """``fqai federation run`` against the SuperLink ``link_args`` name; the nodes stopped after."""
    try:
        run = run_cli(
            "federation", "run", "--federation-id", str(setup.federation_id), *run_args,
            *link_args, "--work-dir", str(base / "run"), "--round-timeout", str(round_timeout),
            "--keystore", str(base / "keys" / "coordinator"),
            "--ipfs-api", ipfs_api, *setup.common,
            timeout=timeout,
        )  # fmt: skip
        assert run.returncode == 0, run.stdout + run.stderr
    finally:
        for process in processes:
            stop_process(process)
    return json.loads((base / "run" / "record.json").read_text()), run.stdout
