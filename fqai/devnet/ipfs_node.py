"""A real local IPFS node (js-ipfs on Node.js 22) managed as a child process.

The node is made for development and tests: its repository lives in a directory of the caller's
choice, it listens on loopback only (API, gateway and gRPC ports are free ports chosen at start
unless given), has no bootstrap peers, no swarm listeners and no discovery, and runs
``daemon --offline``. Usage::

    with IpfsNode(tmp_path / "ipfs") as node:
        client = IpfsClient(node.api_address)

A user's own Kubo daemon works with the same client: only the API address differs.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO, Any

from fqai.devnet.process import has_environment, stop_child, stop_process_group
from fqai.devnet.tools import free_ports, jsipfs_cli, node_binary
from fqai.errors import DevnetError

log = logging.getLogger(__name__)

INIT_TIMEOUT = 300.0  # js-ipfs init is slow on a loaded 2-core machine (seen: >120 s)
# js-ipfs renames its process to "ipfs" (argv is overwritten), so daemons started here are
# recognised by these environment entries instead, before any signal is sent to a recorded pid.
MARKER_ENV = "FQAI_DEVNET_SERVICE"
MARKER_VALUE = "ipfs"
DEFAULT_STARTUP_TIMEOUT = 60.0


class IpfsNode:
    """A js-ipfs daemon bound to 127.0.0.1.

    Parameters
    ----------
    repo
        The IPFS repository directory (created and initialised if missing).
    host
        Loopback address to listen on.
    api_port, gateway_port, rpc_port
        Fixed ports; ``None`` picks free ports when the node starts.
    log_path
        Where the daemon's stdout and stderr go (default ``<repo>.log`` next to the repository).
    startup_timeout
        Seconds to wait for the API to answer after starting the daemon.
    """

    def __init__(
        self,
        repo: Path,
        *,
        host: str = "127.0.0.1",
        api_port: int | None = None,
        gateway_port: int | None = None,
        rpc_port: int | None = None,
        log_path: Path | None = None,
        startup_timeout: float = DEFAULT_STARTUP_TIMEOUT,
    ) -> None:
        self.repo = Path(repo).resolve()
        self.host = host
        self.api_port = api_port
        self.gateway_port = gateway_port
        self.rpc_port = rpc_port
        self.log_path = Path(log_path) if log_path else self.repo.with_name(self.repo.name + ".log")
        self.startup_timeout = startup_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._log_handle: IO[bytes] | None = None

    # -- addresses ---------------------------------------------------------------------------

    @property
    def api_address(self) -> str:
        """Multiaddr of the HTTP RPC API, e.g. ``/ip4/127.0.0.1/tcp/40123/http``."""
        return f"/ip4/{self.host}/tcp/{self._require_port(self.api_port)}/http"

    @property
    def api_url(self) -> str:
        """Base URL of the HTTP RPC API."""
        return f"http://{self.host}:{self._require_port(self.api_port)}/api/v0"

    @property
    def pid(self) -> int | None:
        """Process id of the running daemon."""
        return self._process.pid if self._process else None

    @staticmethod
    def _require_port(port: int | None) -> int:
        if port is None:
            raise DevnetError("IPFS node ports are chosen at start(); start the node first")
        return port

    def describe(self) -> dict[str, Any]:
        """The node's state-file section (pid, ports, API address, paths)."""
        return {
            "pid": self.pid,
            "api": self.api_address,
            "api_port": self.api_port,
            "gateway_port": self.gateway_port,
            "rpc_port": self.rpc_port,
            "repo": str(self.repo),
            "log": str(self.log_path),
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }

    # -- repository --------------------------------------------------------------------------

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["IPFS_PATH"] = str(self.repo)
        env[MARKER_ENV] = MARKER_VALUE
        env.pop("IPFS_API", None)
        return env

    def init_repo(self) -> None:
        """Create the repository if needed and write the loopback-only configuration."""
        config_path = self.repo / "config"
        if not config_path.exists():
            self.repo.parent.mkdir(parents=True, exist_ok=True)
            command = [str(node_binary()), str(jsipfs_cli()), "init", "--emptyRepo"]
            log.info("initialising IPFS repository %s", self.repo)
            try:
                result = subprocess.run(
                    command,
                    env=self._env(),
                    stdin=subprocess.DEVNULL,
                    capture_output=True,
                    timeout=INIT_TIMEOUT,
                    check=False,
                )
            except subprocess.TimeoutExpired as exc:
                raise DevnetError(f"`jsipfs init` timed out after {INIT_TIMEOUT:g} s") from exc
            if result.returncode != 0 or not config_path.exists():
                output = (result.stdout + result.stderr).decode("utf-8", "replace")[-2000:]
                raise DevnetError(f"`jsipfs init` failed for {self.repo}:\n{output}")
        self._configure(config_path)

    def _configure(self, config_path: Path) -> None:
        if None in (self.api_port, self.gateway_port, self.rpc_port):
            picked = iter(free_ports(3, self.host))
            self.api_port = self.api_port or next(picked)
            self.gateway_port = self.gateway_port or next(picked)
            self.rpc_port = self.rpc_port or next(picked)
        try:
            config = json.loads(config_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise DevnetError(f"cannot read IPFS config {config_path}: {exc}") from exc
        addresses = config.setdefault("Addresses", {})
        addresses["API"] = f"/ip4/{self.host}/tcp/{self.api_port}"
        addresses["Gateway"] = f"/ip4/{self.host}/tcp/{self.gateway_port}"
        addresses["RPC"] = f"/ip4/{self.host}/tcp/{self.rpc_port}"
        addresses["Swarm"] = []
        addresses["Announce"] = []
        addresses["Delegates"] = []
        config["Bootstrap"] = []
        config["Discovery"] = {
            "MDNS": {"Enabled": False, "Interval": 10},
            "webRTCStar": {"Enabled": False},
        }
        config_path.write_text(json.dumps(config, indent=2), encoding="utf-8")

    def _clear_stale_files(self) -> None:
        """Remove the lock and api files a killed daemon leaves behind (none may be running)."""
        for name in ("repo.lock", "api"):
            path = self.repo / name
            if path.is_dir():
                for child in path.iterdir():
                    child.unlink(missing_ok=True)
                path.rmdir()
            else:
                path.unlink(missing_ok=True)

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Initialise (if needed), start ``daemon --offline`` and wait until the API answers.

        Raises
        ------
        DevnetError
            If the daemon exits early or its API does not answer within ``startup_timeout``.
        """
        if self._process is not None and self._process.poll() is None:
            raise DevnetError(f"IPFS node {self.repo} is already running (pid {self.pid})")
        self.init_repo()
        self._clear_stale_files()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log_handle = self.log_path.open("ab")
        command = [
            str(node_binary()),
            str(jsipfs_cli()),
            "daemon",
            "--offline",
            "--enable-preload=false",
        ]
        self._process = subprocess.Popen(
            command,
            env=self._env(),
            stdin=subprocess.DEVNULL,
            stdout=self._log_handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.info("started IPFS daemon pid %d, API %s", self._process.pid, self.api_address)
        try:
            self.wait_ready(self.startup_timeout)
        except BaseException:
            self.stop()
            raise

    def wait_ready(self, timeout: float) -> None:
        """Poll ``/api/v0/version`` until it answers; fail early if the daemon exits."""
        deadline = time.monotonic() + timeout
        last_error = "no answer yet"
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise DevnetError(
                    f"IPFS daemon exited with code {self._process.returncode} during start-up; "
                    f"log {self.log_path}:\n{self.log_tail()}"
                )
            try:
                request = urllib.request.Request(f"{self.api_url}/version", method="POST")
                with urllib.request.urlopen(request, timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError) as exc:
                last_error = str(exc)
            time.sleep(0.1)
        raise DevnetError(
            f"IPFS API {self.api_address} did not answer within {timeout:g} s ({last_error}); "
            f"log {self.log_path}:\n{self.log_tail()}"
        )

    def log_tail(self, limit: int = 2000) -> str:
        """The last ``limit`` characters of the daemon log."""
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-limit:]
        except OSError:
            return "(no log)"

    def detach(self) -> int:
        """Leave the daemon running after this object is gone (used by ``fqai devnet up``).

        Returns
        -------
        int
            The daemon's pid, to be recorded in the devnet state file.
        """
        if self._process is None:
            raise DevnetError("IPFS node is not running")
        pid = self._process.pid
        self._process = None
        if self._log_handle is not None:
            self._log_handle.close()
            self._log_handle = None
        return pid

    def kill(self) -> None:
        """SIGKILL the daemon without a clean shutdown (to simulate a crash in tests)."""
        if self._process is not None and self._process.poll() is None:
            os.killpg(self._process.pid, signal.SIGKILL)
            self._process.wait(timeout=10)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the daemon: SIGTERM to its process group, SIGKILL after ``timeout`` seconds."""
        process, self._process = self._process, None
        if process is not None:
            stop_child(process, timeout)
            log.info("stopped IPFS daemon pid %d", process.pid)
        if self._log_handle is not None:
            self._log_handle.close()
            self._log_handle = None

    def __enter__(self) -> IpfsNode:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def is_ipfs_daemon(pid: int, repo: Path | None = None) -> bool:
    """Whether ``pid`` is a live IPFS daemon started by fqai (optionally: for ``repo``).

    Checked through ``/proc/<pid>/environ``: the daemon must carry ``FQAI_DEVNET_SERVICE=ipfs``
    and, if ``repo`` is given, ``IPFS_PATH=<repo>``.
    """
    entries = [f"{MARKER_ENV}={MARKER_VALUE}"]
    if repo is not None:
        entries.append(f"IPFS_PATH={Path(repo).resolve()}")
    return has_environment(pid, *entries)


def stop_daemon(pid: int, repo: Path | None = None, timeout: float = 10.0) -> bool:
    """Stop a daemon recorded in the devnet state, after checking that ``pid`` really is one.

    Returns
    -------
    bool
        Whether a running daemon was found and stopped.
    """
    if not is_ipfs_daemon(pid, repo):
        return False
    stop_process_group(pid, timeout)
    return True


# -- background service used by `fqai devnet` -----------------------------------------------------

SERVICE_NAME = "ipfs"
_DETACHED: list[subprocess.Popen[bytes]] = []  # keep handles so no "still running" warning fires


def start_background(
    devnet_dir: Path,
    *,
    api_port: int | None = None,
    gateway_port: int | None = None,
    startup_timeout: float = DEFAULT_STARTUP_TIMEOUT,
) -> dict[str, Any]:
    """Start a node in ``<devnet_dir>/ipfs`` that outlives this process.

    Returns
    -------
    dict
        The state-file section: pid, ports, API address, repository and log paths.
    """
    node = IpfsNode(
        Path(devnet_dir) / "ipfs",
        api_port=api_port,
        gateway_port=gateway_port,
        log_path=Path(devnet_dir) / "ipfs.log",
        startup_timeout=startup_timeout,
    )
    node.start()
    section = node.describe()
    process = node._process
    section["pid"] = node.detach()
    if process is not None:
        _DETACHED.append(process)
    return section


def probe(section: dict[str, Any], timeout: float = 2.0) -> tuple[bool, str]:
    """Whether the daemon recorded in ``section`` runs and answers; with a short explanation."""
    pid = section.get("pid")
    repo = section.get("repo")
    if not isinstance(pid, int) or not is_ipfs_daemon(pid, Path(repo) if repo else None):
        return False, f"not running (pid {pid} is not an IPFS daemon)"
    port = section.get("api_port")
    try:
        request = urllib.request.Request(f"http://127.0.0.1:{port}/api/v0/version", method="POST")
        with urllib.request.urlopen(request, timeout=timeout) as response:
            version = json.loads(response.read()).get("Version", "?")
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return False, f"pid {pid} runs but API {section.get('api')} does not answer ({exc})"
    return True, f"js-ipfs {version}, pid {pid}, API {section.get('api')}"


def stop_background(section: dict[str, Any], timeout: float = 10.0) -> bool:
    """Stop the daemon recorded in ``section``; return whether one was running."""
    pid = section.get("pid")
    repo = section.get("repo")
    if not isinstance(pid, int):
        return False
    stopped = stop_daemon(pid, Path(repo) if repo else None, timeout)
    for process in list(_DETACHED):
        if process.pid == pid:
            process.poll()
            _DETACHED.remove(process)
    return stopped
