"""The devnet state file: ``.devnet/state.json``, one section per service.

Layout::

    {
      "version": 1,
      "services": {
        "ipfs":  {"pid": 1234, "api": "/ip4/127.0.0.1/tcp/40123/http", ...},
        "anvil": {...}
      }
    }

Each service owns its section; :meth:`DevnetState.update` does read-modify-write under an
exclusive ``flock`` on ``state.lock`` and writes atomically, so services started by different
commands do not overwrite each other.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fqai.errors import DevnetError
from fqai.fsutil import write_bytes_atomic

STATE_VERSION = 1
STATE_FILE = "state.json"
LOCK_FILE = "state.lock"
DEVNET_DIR_ENV = "FQAI_DEVNET_DIR"


def default_devnet_dir() -> Path:
    """``$FQAI_DEVNET_DIR``, else ``.devnet`` under ``$FQAI_ROOT`` or the current directory."""
    if os.environ.get(DEVNET_DIR_ENV):
        return Path(os.environ[DEVNET_DIR_ENV])
    base = Path(os.environ.get("FQAI_ROOT") or Path.cwd())
    return base / ".devnet"


@dataclass
class DevnetState:
    """In-memory copy of the state file."""

    directory: Path
    services: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def path(self) -> Path:
        """Location of ``state.json``."""
        return self.directory / STATE_FILE

    @classmethod
    def load(cls, directory: Path | None = None) -> DevnetState:
        """Read the state (an empty state if the file does not exist)."""
        directory = Path(directory) if directory is not None else default_devnet_dir()
        path = directory / STATE_FILE
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls(directory=directory)
        except (OSError, ValueError) as exc:
            raise DevnetError(f"cannot read devnet state {path}: {exc}") from exc
        if not isinstance(raw, dict) or raw.get("version") != STATE_VERSION:
            raise DevnetError(f"{path}: unsupported devnet state format")
        services = raw.get("services")
        if not isinstance(services, dict):
            raise DevnetError(f"{path}: 'services' must be an object")
        return cls(directory=directory, services=services)

    def service(self, name: str) -> dict[str, Any] | None:
        """The section of one service, if present."""
        section = self.services.get(name)
        return section if isinstance(section, dict) else None

    def save(self) -> None:
        """Write the state atomically."""
        self.directory.mkdir(parents=True, exist_ok=True)
        document = {"version": STATE_VERSION, "services": self.services}
        write_bytes_atomic(self.path, (json.dumps(document, indent=2) + "\n").encode(), 0o644)

    @classmethod
    @contextlib.contextmanager
    def update(cls, directory: Path | None = None) -> Iterator[DevnetState]:
        """Lock, load, let the caller modify, and save the state."""
        directory = Path(directory) if directory is not None else default_devnet_dir()
        directory.mkdir(parents=True, exist_ok=True)
        with (directory / LOCK_FILE).open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                state = cls.load(directory)
                yield state
                state.save()
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
