"""Fixtures for the contract suite: a fresh Anvil (or Ganache) on a free loopback port, and the
three contracts deployed and wired the way scripts/deploy.py wires them."""

from __future__ import annotations

import socket

import pytest


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pytest_configure(config: pytest.Config) -> None:
    # Brownie launches the local chain itself; give it a free port so runs never collide with a
    # demo chain on :8545 or with each other.
    # (Imported here: Brownie hashes top-level imports of test modules as source text, and
    # brownie._config is a compiled extension.)
    from brownie._config import CONFIG

    port = _free_port()
    for network_id in ("development", "ganache-cli"):
        settings = CONFIG.networks.get(network_id)
        if settings is not None:
            settings.setdefault("cmd_settings", {})["port"] = port
