"""Flower's deployment engine on loopback: SuperLink, SuperNodes, the app bundle and ``flwr run``.

* :class:`SuperLink` runs ``flower-superlink`` (Fleet, Control and ServerAppIo over one HTTP
  port) with runtime dependency installation disabled (the app's dependencies are this venv).
* :class:`SuperNode` runs ``flower-supernode`` with its ``--node-config`` (partition, keystore,
  chain and IPFS endpoints) and extra environment.
* :func:`write_app` writes a Flower app directory whose components are thin wrappers around
  :mod:`fqai.federation.server_app` / :mod:`fqai.federation.client_app` and whose run config
  holds the federation's settings; :func:`write_flwr_home` writes a Flower config with one
  SuperLink connection; :func:`submit_run` runs ``flwr run --stream`` and waits.

TLS: a SuperLink given a :class:`ServerTls` serves HTTPS and may turn on Flower's SuperNode
authentication; SuperNodes and ``flwr`` then verify it against a root CA. Without TLS everything
runs ``--insecure``, which :func:`check_transport` allows on loopback addresses only (the
labelled local development mode).

Every process binds its host (127.0.0.1 unless told otherwise) on a free port, leads its own
process group, and is stopped (with everything it spawned) by :meth:`FlowerProcess.stop`.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from fqai.devnet.process import is_running, stop_process_group, wait_exit
from fqai.devnet.tools import free_port
from fqai.federation.errors import ProcessError

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
CONNECTION = "fqai"
APP_PACKAGE = "fqai_federation_app"
MARKER_ENV = "FQAI_FLOWER_SERVICE"


def venv_bin() -> Path:
    """Directory of this interpreter's console scripts (flwr, flower-superlink, ...)."""
    return Path(sys.executable).parent


def flower_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment for Flower processes: the venv's scripts first on PATH (for superexec)."""
    env = dict(os.environ)
    env["PATH"] = f"{venv_bin()}:{env.get('PATH', '')}"
    env.update(extra or {})
    return env


def _descendants(pid: int) -> list[int]:
    """Pids of all live descendants of ``pid`` (read from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    out: list[int] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


@dataclass(frozen=True)
class ServerTls:
    """The SuperLink's certificate, its key and the CA that issued it (PEM files)."""

    cert: Path
    key: Path
    ca: Path


def split_address(address: str) -> tuple[str, int]:
    """``host:port`` (IPv4 or a name) into its parts, with a clear error."""
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ProcessError(f"SuperLink address {address!r} is not host:port")
    return host, int(port)


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address (127.0.0.0/8, ::1) or ``localhost``."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_transport(address: str, root_ca: Path | None, insecure: bool = False) -> None:
    """Refuse plaintext to a SuperLink off loopback unless ``insecure`` is explicitly asked for.

    Without a root CA the connection is ``--insecure``: unencrypted, and Flower's SuperNode
    authentication cannot run. That is the local development mode, allowed on loopback only.
    """
    if root_ca is not None:
        if not Path(root_ca).is_file():
            raise ProcessError(f"root CA file {root_ca} does not exist")
        return
    host, _ = split_address(address)
    if not is_loopback(host) and not insecure:
        raise ProcessError(
            f"SuperLink {address} is not on loopback: give its CA with --root-ca (TLS), or "
            "--insecure to send training traffic unencrypted"
        )
    log.warning("insecure mode (local development): no TLS to SuperLink %s", address)


def wait_port(
    port: int, timeout: float, process: subprocess.Popen[bytes], name: str, host: str = HOST
) -> None:
    """Wait until something accepts TCP connections on ``host:port``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ProcessError(f"{name} exited with code {process.returncode} while starting")
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            return
        time.sleep(0.1)
    raise ProcessError(f"{name} did not listen on {host}:{port} within {timeout:.0f}s")


class FlowerProcess:
    """A Flower daemon as a child process in its own process group, logging to a file."""

    name = "flower"
    host = HOST

    def __init__(self, log_path: Path, env: Mapping[str, str] | None = None) -> None:
        self.log_path = Path(log_path)
        self.extra_env = dict(env or {})
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def command(self) -> list[str]:
        raise NotImplementedError

    def ready_port(self) -> int:
        raise NotImplementedError

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def returncode(self) -> int | None:
        """The exit code once the process has ended, else ``None``."""
        return self._process.poll() if self._process else None

    def failure_reason(self) -> str:
        """The error lines Flower logged (exit code explanation), if any."""
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        for index, line in enumerate(lines):
            if "Exit Code:" in line:
                detail = [x.strip() for x in lines[index : index + 4] if x.strip()]
                return " ".join(_strip_ansi(x) for x in detail)
        return ""

    def start(self, timeout: float = 60.0) -> None:
        """Start the process and wait until it listens."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        self._process = subprocess.Popen(
            self.command(),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=flower_env({**self.extra_env, MARKER_ENV: self.name}),
            start_new_session=True,
        )
        try:
            wait_port(self.ready_port(), timeout, self._process, self.name, self.host)
        except ProcessError as exc:
            reason = self.failure_reason()
            self.stop()
            if reason:
                raise ProcessError(f"{exc}: {reason}") from exc
            raise
        log.info("%s started (pid %d), log %s", self.name, self._process.pid, self.log_path)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the process, its group and every process it spawned in other groups."""
        process, self._process = self._process, None
        if process is not None:
            spawned = _descendants(process.pid)
            if process.poll() is None:
                stop_process_group(process.pid, timeout)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=5)
            for pid in spawned:
                if is_running(pid):
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.kill(pid, signal.SIGTERM)
            for pid in spawned:
                if not wait_exit(pid, 5.0):
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.kill(pid, signal.SIGKILL)
            log.info("%s stopped (pid %d)", self.name, process.pid)
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> FlowerProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _strip_ansi(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


class SuperLink(FlowerProcess):
    """``flower-superlink`` on ``<host>:<port>``: HTTPS when given :class:`ServerTls`, with
    Flower's SuperNode authentication when ``supernode_auth`` (which needs TLS); otherwise
    ``--insecure`` (loopback development only)."""

    name = "superlink"

    def __init__(
        self,
        log_path: Path,
        port: int | None = None,
        *,
        host: str = HOST,
        tls: ServerTls | None = None,
        supernode_auth: bool = False,
        database: Path | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(log_path, **kwargs)
        self.database = database
        if supernode_auth and tls is None:
            raise ProcessError("SuperNode authentication needs TLS: give the SuperLink a cert")
        if tls is None and not is_loopback(host):
            raise ProcessError(f"a SuperLink on {host} (not loopback) needs TLS certificates")
        self.host = host
        self.tls = tls
        self.supernode_auth = supernode_auth
        self.port = port or free_port(host)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def ready_port(self) -> int:
        return self.port

    def command(self) -> list[str]:
        if self.tls is None:
            transport = ["--insecure"]
        else:
            transport = [
                "--ssl-certfile", str(self.tls.cert),
                "--ssl-keyfile", str(self.tls.key),
                "--ssl-ca-certfile", str(self.tls.ca),
            ]  # fmt: skip
        return [
            str(venv_bin() / "flower-superlink"),
            *transport,
            *(["--enable-supernode-auth"] if self.supernode_auth else []),
            *(["--database", str(self.database)] if self.database else []),
            "--host", self.host,
            "--port", str(self.port),
            "--disable-runtime-dependency-installation",
        ]  # fmt: skip


def format_node_config(config: Mapping[str, str | int | float]) -> str:
    """``--node-config`` text: ``key=value`` pairs, strings quoted (TOML values)."""
    parts = []
    for key, value in config.items():
        if isinstance(value, str):
            escaped = value.replace("\\", "\\\\").replace('"', '\\"')
            parts.append(f'{key}="{escaped}"')
        else:
            parts.append(f"{key}={value}")
    return " ".join(parts)


class SuperNode(FlowerProcess):
    """``flower-supernode`` connected to a SuperLink, with its own node config.

    With ``root_ca`` it verifies the SuperLink's certificate; with ``auth_key`` (an OpenSSH
    ECDSA private key, TLS only) it authenticates, and a SuperLink that has not registered the
    key refuses it. ``host`` is the address its local ClientApp API binds.
    """

    name = "supernode"

    def __init__(
        self,
        log_path: Path,
        superlink: str,
        node_config: Mapping[str, str | int | float],
        port: int | None = None,
        *,
        host: str = HOST,
        root_ca: Path | None = None,
        auth_key: Path | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(log_path, **kwargs)
        if auth_key is not None and root_ca is None:
            raise ProcessError("SuperNode authentication needs TLS: give the SuperLink's CA")
        self.superlink = superlink
        self.node_config = dict(node_config)
        self.host = host
        self.root_ca = root_ca
        self.auth_key = auth_key
        self.port = port or free_port(host)

    def ready_port(self) -> int:
        return self.port

    def command(self) -> list[str]:
        transport = (
            ["--insecure"] if self.root_ca is None else ["--root-certificates", str(self.root_ca)]
        )
        auth = [] if self.auth_key is None else ["--auth-supernode-private-key", str(self.auth_key)]
        return [
            str(venv_bin() / "flower-supernode"),
            *transport,
            *auth,
            "--superlink", self.superlink,
            "--node-config", format_node_config(self.node_config),
            "--host", self.host,
            "--port", str(self.port),
        ]  # fmt: skip


def _toml_value(value: str | int | float | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def write_app(app_dir: Path, run_config: Mapping[str, str | int | float | bool]) -> Path:
    """Write a Flower app (pyproject + wrapper package) whose run config is ``run_config``."""
    package = Path(app_dir) / APP_PACKAGE
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text('"""fqai federation Flower app (generated)."""\n')
    (package / "server.py").write_text(
        '"""Generated: the fqai ServerApp."""\n\nfrom fqai.federation.server_app import app\n\n'
        '__all__ = ["app"]\n'
    )
    (package / "client.py").write_text(
        '"""Generated: the fqai ClientApp."""\n\nfrom fqai.federation.client_app import app\n\n'
        '__all__ = ["app"]\n'
    )
    config_lines = "\n".join(f"{k} = {_toml_value(v)}" for k, v in run_config.items())
    (Path(app_dir) / "pyproject.toml").write_text(
        f"""[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[project]
name = "fqai-federation"
version = "0.1.0"
description = "fqai federated training with on-chain commitments (generated)"
license = "Apache-2.0"
dependencies = []

[tool.hatch.build.targets.wheel]
packages = ["."]

[tool.flwr.app]
publisher = "fqai"

[tool.flwr.app.components]
serverapp = "{APP_PACKAGE}.server:app"
clientapp = "{APP_PACKAGE}.client:app"

[tool.flwr.app.config]
{config_lines}
"""
    )
    return Path(app_dir)


def write_flwr_home(home: Path, superlink_address: str, root_ca: Path | None = None) -> Path:
    """A Flower config directory (``$FLWR_HOME``) whose default connection is the SuperLink,
    verified against ``root_ca`` (TLS) or, without one, insecure."""
    home = Path(home)
    home.mkdir(parents=True, exist_ok=True)
    transport = (
        "insecure = true"
        if root_ca is None
        else f"root-certificates = {_toml_value(str(Path(root_ca).resolve()))}"
    )
    (home / "config.toml").write_text(
        f"""[superlink]
default = "{CONNECTION}"

[superlink.{CONNECTION}]
address = "{superlink_address}"
{transport}
"""
    )
    return home


def submit_run(
    app_dir: Path, flwr_home: Path, log_path: Path, timeout: float = 600.0
) -> subprocess.CompletedProcess[bytes]:
    """``flwr run <app> fqai --stream``: submit the run and stream its logs until it ends."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as out:
        try:
            result = subprocess.run(
                [str(venv_bin() / "flwr"), "run", str(app_dir), CONNECTION, "--stream"],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=flower_env({"FLWR_HOME": str(flwr_home)}),
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise ProcessError(f"flwr run did not finish within {timeout:.0f}s") from exc
    if result.returncode != 0:
        raise ProcessError(f"flwr run exited with {result.returncode}; see {log_path}")
    return result
