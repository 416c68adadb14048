"""SuperNode registration on a SuperLink through Flower's Control API (the ``flwr`` CLI).

A SuperLink started with ``--enable-supernode-auth`` only accepts SuperNodes whose public key was
registered with ``flwr supernode register``; ``unregister`` takes one out again (a running
SuperNode with that key is refused from its next request on). :class:`FlowerControl` runs those
commands with ``--format json`` against the connection of a Flower config directory
(``$FLWR_HOME``, see :func:`fqai.federation.runtime.write_flwr_home`).
"""

from __future__ import annotations

import json
import logging
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fqai.federation.errors import FederationError
from fqai.federation.runtime import CONNECTION, flower_env, venv_bin

log = logging.getLogger(__name__)


class FlowerControlError(FederationError):
    """A ``flwr supernode`` command failed or answered something unexpected."""


@dataclass(frozen=True)
class RegisteredNode:
    """A SuperNode the SuperLink knows, as ``flwr supernode list`` reports it."""

    node_id: int
    status: str

    @property
    def admitted(self) -> bool:
        """Registered and not yet unregistered (online, offline or never connected)."""
        return self.status != "unregistered"


class FlowerControl:
    """``flwr supernode register|unregister|list`` for one SuperLink connection."""

    def __init__(self, flwr_home: Path, connection: str = CONNECTION, timeout: float = 60.0):
        self.flwr_home = Path(flwr_home)
        self.connection = connection
        self.timeout = timeout

    def _run(self, *args: str) -> dict[str, Any]:
        command = [str(venv_bin() / "flwr"), "supernode", *args, self.connection]
        try:
            done = subprocess.run(
                [*command, "--format", "json"],
                capture_output=True,
                text=True,
                stdin=subprocess.DEVNULL,
                env=flower_env({"FLWR_HOME": str(self.flwr_home)}),
                timeout=self.timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise FlowerControlError(
                f"flwr supernode {args[0]} did not answer within {self.timeout:.0f}s"
            ) from exc
        answer = _json_object(done.stdout)
        if answer is None or not answer.get("success"):
            reason = (answer or {}).get("error-message") or (done.stderr or done.stdout).strip()
            raise FlowerControlError(
                f"flwr supernode {args[0]} failed (exit {done.returncode}): {reason[-2000:]}"
            )
        return answer

    def register(self, public_key: Path) -> int:
        """Register a SuperNode public key (OpenSSH file); return the node id Flower assigns."""
        answer = self._run("register", str(public_key))
        return int(answer["node-id"])

    def unregister(self, node_id: int) -> None:
        """Unregister a SuperNode: the SuperLink refuses it from now on."""
        self._run("unregister", str(node_id))

    def nodes(self) -> list[RegisteredNode]:
        """Every SuperNode the SuperLink has registered, with its status."""
        answer = self._run("list")
        return [
            RegisteredNode(node_id=int(n["node-id"]), status=str(n["status"]))
            for n in answer.get("nodes", [])
        ]


def _json_object(text: str) -> dict[str, Any] | None:
    """The JSON object ``flwr --format json`` printed (the first ``{`` to the end)."""
    start = text.find("{")
    if start < 0:
        return None
    try:
        value = json.loads(text[start:])
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None
