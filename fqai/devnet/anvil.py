"""A local Anvil chain (Foundry's dev node from npm ``@foundry-rs/anvil``) as a child process.

Used by ``fqai devnet up``, ``make demo`` and the integration tests. It listens on loopback only,
on a free port unless one is given, with a chosen chain id (31337 by default) and the standard
Anvil development mnemonic, so its unlocked accounts are known test keys — never use them on a
real network::

    with AnvilNode(chain_id=31337) as chain:
        w3 = Web3(Web3.HTTPProvider(chain.rpc_url))
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO, Any

from fqai.devnet.process import has_environment, stop_child, stop_process_group
from fqai.devnet.tools import free_port, project_root
from fqai.errors import DevnetError

log = logging.getLogger(__name__)

SERVICE_NAME = "anvil"
ANVIL_ENV = "FQAI_ANVIL"
MARKER_ENV = "FQAI_DEVNET_SERVICE"
DEFAULT_CHAIN_ID = 31337
DEFAULT_STARTUP_TIMEOUT = 30.0


def anvil_binary() -> Path:
    """The Anvil executable (``$FQAI_ANVIL`` or ``node_modules/.bin/anvil`` of the checkout)."""
    candidate = Path(
        os.environ.get(ANVIL_ENV) or project_root() / "node_modules" / ".bin" / "anvil"
    )
    if not candidate.exists():
        raise DevnetError(f"anvil not found at {candidate} (run `make setup`)")
    return candidate


def rpc_call(url: str, method: str, params: list[Any] | None = None, timeout: float = 2.0) -> Any:
    """One JSON-RPC call over HTTP; raises DevnetError naming the URL when it fails."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []})
    request = urllib.request.Request(
        url, data=body.encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            payload = json.loads(response.read())
    except (OSError, ValueError) as exc:
        raise DevnetError(f"chain RPC {url} did not answer {method}: {exc}") from exc
    if "error" in payload:
        raise DevnetError(f"chain RPC {url} rejected {method}: {payload['error']}")
    return payload.get("result")


class AnvilNode:
    """An Anvil dev chain bound to a loopback address.

    Parameters
    ----------
    host
        Loopback address to listen on.
    port
        Fixed port; ``None`` picks a free port at start.
    chain_id
        EIP-155 chain id the node reports.
    accounts
        Number of unlocked, funded development accounts.
    balance_eth
        Balance of each development account, in ether.
    block_time
        Seconds between blocks; ``None`` mines a block per transaction.
    log_path
        Where Anvil's output goes (default: discarded).
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        chain_id: int = DEFAULT_CHAIN_ID,
        accounts: int = 20,
        balance_eth: int = 10_000,
        block_time: int | None = None,
        log_path: Path | None = None,
        startup_timeout: float = DEFAULT_STARTUP_TIMEOUT,
    ) -> None:
        self.host = host
        self.port = port
        self.chain_id = chain_id
        self.accounts = accounts
        self.balance_eth = balance_eth
        self.block_time = block_time
        self.log_path = log_path
        self.startup_timeout = startup_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._log_handle: IO[bytes] | None = None

    @property
    def rpc_url(self) -> str:
        """HTTP JSON-RPC endpoint."""
        if self.port is None:
            raise DevnetError("Anvil has no port yet (not started)")
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        """Pid of the running process, if any."""
        return self._process.pid if self._process is not None else None

    def command(self) -> list[str]:
        """The command line Anvil is started with."""
        if self.port is None:
            raise DevnetError("Anvil has no port yet (not started)")
        cmd = [
            str(anvil_binary()),
            "--host", self.host,
            "--port", str(self.port),
            "--chain-id", str(self.chain_id),
            "--accounts", str(self.accounts),
            "--balance", str(self.balance_eth),
            "--hardfork", "shanghai",
            "--gas-limit", "30000000",
            "--block-base-fee-per-gas", "0",
        ]  # fmt: skip
        if self.block_time is not None:
            cmd += ["--block-time", str(self.block_time)]
        return cmd

    def start(self) -> None:
        """Start Anvil and wait until it answers ``eth_chainId`` with the expected id."""
        if self._process is not None:
            raise DevnetError("Anvil is already running")
        if self.port is None:
            self.port = free_port(self.host)
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log_handle = self.log_path.open("ab")
            output: IO[bytes] | int = self._log_handle
        else:
            output = subprocess.DEVNULL
        env = {**os.environ, MARKER_ENV: SERVICE_NAME}
        self._process = subprocess.Popen(
            self.command(),
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
        try:
            self.wait_ready(self.startup_timeout)
        except DevnetError:
            self.stop()
            raise
        log.info("Anvil chain %d listening on %s (pid %d)", self.chain_id, self.rpc_url, self.pid)

    def wait_ready(self, timeout: float) -> None:
        """Poll ``eth_chainId`` until it answers, the process dies, or ``timeout`` passes."""
        deadline = time.monotonic() + timeout
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise DevnetError(
                    f"Anvil exited with code {self._process.returncode} before answering on "
                    f"{self.rpc_url} (is the port taken?)"
                )
            try:
                answered = int(rpc_call(self.rpc_url, "eth_chainId", timeout=1.0), 16)
            except DevnetError as exc:
                last_error = exc
                time.sleep(0.1)
                continue
            if answered != self.chain_id:
                raise DevnetError(
                    f"{self.rpc_url} answered chain id {answered}, expected {self.chain_id}: "
                    "another node is on that port"
                )
            return
        raise DevnetError(
            f"Anvil did not answer on {self.rpc_url} within {timeout:.0f}s: {last_error}"
        )

    def describe(self) -> dict[str, Any]:
        """The devnet state section for this node."""
        return {
            "pid": self.pid,
            "rpc_url": self.rpc_url,
            "chain_id": self.chain_id,
            "host": self.host,
            "port": self.port,
        }

    def detach(self) -> int:
        """Leave Anvil running after this object is gone; return its pid."""
        if self._process is None:
            raise DevnetError("Anvil is not running")
        pid = self._process.pid
        self._process = None
        if self._log_handle is not None:
            self._log_handle.close()
            self._log_handle = None
        return pid

    def stop(self, timeout: float = 10.0) -> None:
        """Stop Anvil: SIGTERM to its process group, SIGKILL after ``timeout`` seconds."""
        process, self._process = self._process, None
        if process is not None:
            stop_child(process, timeout)
            log.info("stopped Anvil pid %d", process.pid)
        if self._log_handle is not None:
            self._log_handle.close()
            self._log_handle = None

    def __enter__(self) -> AnvilNode:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def is_anvil(pid: int) -> bool:
    """Whether ``pid`` is a live Anvil started by fqai (checked through its environment)."""
    return has_environment(pid, f"{MARKER_ENV}={SERVICE_NAME}")


def start_background(
    devnet_dir: Path, *, port: int | None = None, chain_id: int = DEFAULT_CHAIN_ID
) -> dict[str, Any]:
    """Start Anvil detached (logging to ``<devnet_dir>/anvil.log``); return its state section."""
    node = AnvilNode(port=port, chain_id=chain_id, log_path=Path(devnet_dir) / "anvil.log")
    node.start()
    section = node.describe()
    node.detach()
    return section


def probe(section: dict[str, Any], timeout: float = 2.0) -> tuple[bool, str]:
    """Whether the recorded chain answers with its recorded chain id."""
    url = section.get("rpc_url")
    if not isinstance(url, str):
        return False, "no rpc_url recorded"
    try:
        answered = int(rpc_call(url, "eth_chainId", timeout=timeout), 16)
        block = int(rpc_call(url, "eth_blockNumber", timeout=timeout), 16)
    except DevnetError as exc:
        return False, str(exc)
    if answered != section.get("chain_id"):
        return False, f"{url} answers chain id {answered}, recorded {section.get('chain_id')}"
    return True, f"chain {answered} at {url}, block {block}"


def stop_background(section: dict[str, Any], timeout: float = 10.0) -> bool:
    """Stop a recorded Anvil after checking that its pid really is one; return whether it ran."""
    pid = section.get("pid")
    if not isinstance(pid, int) or not is_anvil(pid):
        return False
    stop_process_group(pid, timeout)
    return True
