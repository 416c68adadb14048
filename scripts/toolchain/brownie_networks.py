"""Make Brownie's local networks match what fqai's contracts need, idempotently.

Brownie keeps its network list in ~/.brownie/network-config.yaml. fqai compiles for Shanghai, so
the `development` (Anvil) and `ganache-cli` (Ganache 7) networks must run a Shanghai-or-later EVM;
Brownie's stock Ganache entry asks for Istanbul, which rejects PUSH0.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SETTINGS = {
    "development": {"accounts": "20", "default_balance": "10000", "gas_limit": "30000000"},
    "ganache-cli": {
        "accounts": "20",
        "default_balance": "10000",
        "gas_limit": "30000000",
        "evm_version": "shanghai",
    },
}


# A live-type network for any RPC URL in $FQAI_RPC_URL (Brownie expands the variable when it
# connects). `make demo` points it at the Anvil chain it starts; operators can point it anywhere.
RPC_NETWORK = {
    "id": "fqai-rpc",
    "host": "$FQAI_RPC_URL",
    "chainid": "31337",
    "name": "fqai RPC (FQAI_RPC_URL)",
}


def _ensure_rpc_network(brownie: str, config_networks: dict) -> None:
    current = config_networks.get(RPC_NETWORK["id"])
    if current is not None and current.get("host") == RPC_NETWORK["host"]:
        return
    if current is not None:
        subprocess.run(
            [brownie, "networks", "delete", RPC_NETWORK["id"]],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    cmd = [
        brownie,
        "networks",
        "add",
        "fqai",
        RPC_NETWORK["id"],
        f"host={RPC_NETWORK['host']}",
        f"chainid={RPC_NETWORK['chainid']}",
        f"name={RPC_NETWORK['name']}",
    ]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    print(f"brownie network {RPC_NETWORK['id']}: added (host {RPC_NETWORK['host']})")


def main() -> int:
    from brownie._config import CONFIG

    brownie = str(Path(sys.executable).with_name("brownie"))
    _ensure_rpc_network(brownie, CONFIG.networks)

    for network_id, wanted in SETTINGS.items():
        current = (CONFIG.networks.get(network_id) or {}).get("cmd_settings") or {}
        changes = [f"{k}={v}" for k, v in wanted.items() if str(current.get(k)) != v]
        if not changes:
            continue
        cmd = [
            str(Path(sys.executable).with_name("brownie")),
            "networks",
            "modify",
            network_id,
            *changes,
        ]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        print(f"brownie network {network_id}: set {', '.join(changes)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
