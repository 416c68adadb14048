"""Register the Brownie networks fqai deploys to, idempotently.

    python scripts/toolchain/brownie_networks.py          # what `make setup` runs
    python scripts/toolchain/brownie_networks.py add ID --chain-id N --host URL|'$VAR' \\
        [--explorer URL] [--family NAME] [--name TEXT]

Brownie keeps its network list in ~/.brownie/network-config.yaml. fqai compiles for Shanghai, so
the `development` (Anvil) and `ganache-cli` (Ganache 7) networks must run a Shanghai-or-later EVM;
Brownie's stock Ganache entry asks for Istanbul, which rejects PUSH0.

Live networks: `fqai-rpc` (any RPC in $FQAI_RPC_URL) and `fqai-sepolia` ($FQAI_SEPOLIA_RPC,
chain 11155111) are registered by default; `add` registers any other chain. A host written as
`$VAR` is expanded by Brownie when it connects, so no URL (or API key inside one) is stored here.
Deploy to any of them with `FQAI_DEPLOYER_KEY=0x… brownie run scripts/deploy.py --network ID`;
the record is named after the chain id the RPC reports (deployments/<chainId>.json).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SETTINGS = {
    "development": {"accounts": "20", "default_balance": "10000", "gas_limit": "30000000"},
    "ganache-cli": {
        "accounts": "20",
        "default_balance": "10000",
        "gas_limit": "30000000",
        "evm_version": "shanghai",
    },
}


@dataclass(frozen=True)
class LiveNetwork:
    """A Brownie live network: ``brownie networks add <family> <id> host=… chainid=…``.

    ``chainid`` is required by Brownie for every live network but never checked against the RPC:
    Brownie uses it only as the key of its own deployment cache. fqai names its record after the
    id the RPC reports, and scripts/deploy.py refuses a chain other than $FQAI_CHAIN_ID when set.
    """

    id: str
    host: str
    chainid: int
    name: str
    family: str = "fqai"
    explorer: str | None = None

    def fields(self) -> dict[str, str]:
        """The ``key=value`` settings Brownie stores (all as strings)."""
        out = {"host": self.host, "chainid": str(self.chainid), "name": self.name}
        if self.explorer:
            out["explorer"] = self.explorer
        return out


DEFAULT_LIVE_NETWORKS = (
    # Any RPC URL in $FQAI_RPC_URL; `make demo` and the tests point it at the Anvil they start,
    # operators anywhere. Its chainid (31337) is only Brownie's cache key, see LiveNetwork.
    LiveNetwork(id="fqai-rpc", host="$FQAI_RPC_URL", chainid=31337, name="fqai RPC (FQAI_RPC_URL)"),
    # Brownie's stock `sepolia` entry needs an Infura project id; this one takes any provider.
    LiveNetwork(
        id="fqai-sepolia",
        host="$FQAI_SEPOLIA_RPC",
        chainid=11155111,
        name="Sepolia (FQAI_SEPOLIA_RPC)",
        family="Ethereum",
    ),
)

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_HOST = re.compile(r"^(https?://|wss?://|\$)\S+$")


def _brownie() -> str:
    return str(Path(sys.executable).with_name("brownie"))


def ensure_live_network(networks: dict[str, Any], wanted: LiveNetwork) -> bool:
    """Add ``wanted`` to Brownie's list, replacing an entry with the same id that differs.

    Returns whether anything changed.
    """
    current = networks.get(wanted.id)
    if current is not None:
        have = {k: str(current[k]) for k in ("host", "chainid", "name", "explorer") if k in current}
        if have == wanted.fields():
            return False
        if "cmd" in current:
            raise SystemExit(
                f"brownie network {wanted.id!r} is a development network; pick another id"
            )
        subprocess.run(
            [_brownie(), "networks", "delete", wanted.id], check=True, stdout=subprocess.DEVNULL
        )
    settings = [f"{key}={value}" for key, value in wanted.fields().items()]
    subprocess.run(
        [_brownie(), "networks", "add", wanted.family, wanted.id, *settings],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    verb = "replaced" if current is not None else "added"
    print(
        f"brownie network {wanted.id}: {verb} (chain {wanted.chainid}, host {wanted.host}, "
        f"family {wanted.family})"
    )
    return True


def ensure_dev_settings(networks: dict[str, Any]) -> None:
    """Shanghai, 20 funded accounts and a 30M gas limit for the local dev networks."""
    for network_id, wanted in SETTINGS.items():
        current = (networks.get(network_id) or {}).get("cmd_settings") or {}
        changes = [f"{k}={v}" for k, v in wanted.items() if str(current.get(k)) != v]
        if not changes:
            continue
        cmd = [_brownie(), "networks", "modify", network_id, *changes]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        print(f"brownie network {network_id}: set {', '.join(changes)}")


def _parse_network(args: argparse.Namespace) -> LiveNetwork:
    if not _ID.match(args.id):
        raise SystemExit(f"network id {args.id!r}: use letters, digits, '.', '_' and '-' only")
    if args.chain_id <= 0:
        raise SystemExit(f"--chain-id must be a positive integer, got {args.chain_id}")
    if not _HOST.match(args.host):
        raise SystemExit(
            f"--host {args.host!r}: give an http(s):// or ws(s):// URL, or '$VAR' to read the URL "
            "from an environment variable when Brownie connects (quote it for the shell)"
        )
    return LiveNetwork(
        id=args.id,
        host=args.host,
        chainid=args.chain_id,
        name=args.name or args.id,
        family=args.family,
        explorer=args.explorer,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command")
    add = commands.add_parser("add", help="Register (or update) a live network for any chain.")
    add.add_argument("id", help="Brownie network id, e.g. my-l2")
    add.add_argument("--chain-id", type=int, required=True, help="EIP-155 chain id")
    add.add_argument("--host", required=True, help="RPC URL, or '$VAR' (expanded on connect)")
    add.add_argument("--explorer", default=None, help="Block explorer API URL (optional)")
    add.add_argument("--family", default="fqai", help="Brownie's group for it (default fqai)")
    add.add_argument("--name", default=None, help="Display name (default: the id)")
    args = parser.parse_args(argv)

    from brownie._config import CONFIG

    if args.command == "add":
        ensure_live_network(CONFIG.networks, _parse_network(args))
        return 0
    for network in DEFAULT_LIVE_NETWORKS:
        ensure_live_network(CONFIG.networks, network)
    ensure_dev_settings(CONFIG.networks)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
