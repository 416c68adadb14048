"""Locating the toolchain that devnet services run on, and picking free loopback ports."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from fqai.errors import DevnetError

NODE_ENV = "FQAI_NODE"
JSIPFS_ENV = "FQAI_JSIPFS"
ROOT_ENV = "FQAI_ROOT"


def project_root() -> Path:
    """The fqai checkout: ``$FQAI_ROOT`` if set, else the directory above the ``fqai`` package."""
    if os.environ.get(ROOT_ENV):
        return Path(os.environ[ROOT_ENV]).resolve()
    return Path(__file__).resolve().parents[2]


def node_binary() -> Path:
    """The Node.js 22 runtime (``$FQAI_NODE`` or ``node_modules/.bin/node`` of the checkout).

    The system ``node`` is not used: js-ipfs needs a newer runtime than many distributions ship.
    """
    candidate = Path(os.environ.get(NODE_ENV) or project_root() / "node_modules" / ".bin" / "node")
    if not candidate.exists():
        raise DevnetError(f"Node.js runtime not found at {candidate} (run `make setup`)")
    return candidate


def jsipfs_cli() -> Path:
    """The js-ipfs CLI script (``$FQAI_JSIPFS`` or ``node_modules/ipfs/src/cli.js``)."""
    candidate = Path(
        os.environ.get(JSIPFS_ENV) or project_root() / "node_modules" / "ipfs" / "src" / "cli.js"
    )
    if not candidate.exists():
        raise DevnetError(f"js-ipfs CLI not found at {candidate} (run `make setup`)")
    return candidate


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that was free a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """``count`` distinct free ports (sockets held open together so they differ)."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.bind((host, 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()
