"""Deploy fqai's contracts with Brownie and write deployments/<chainId>.json.

    brownie run scripts/deploy.py                      # local Anvil (`development`)
    brownie run scripts/deploy.py --network ganache-cli
    FQAI_DEPLOYER_KEY=0x... brownie run scripts/deploy.py --network <any network id>

Deployer, first match wins: the node's first unlocked account with FQAI_DEV_UNLOCKED=1; the
private key in FQAI_DEPLOYER_KEY; the Brownie account named in FQAI_DEPLOYER_ACCOUNT; on a
development network, the first unlocked account. With FQAI_CHAIN_ID set, a chain with another id
is refused before anything is sent. The record is named after the chain id the RPC reports; it is
the one place the `fqai` package and the web app read addresses and ABIs from.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from brownie import FederationRegistry, ModelMarketplace, ModelNFT, accounts, chain, network

DEPLOYMENTS_DIR = Path(__file__).resolve().parent.parent / "deployments"
CONTRACTS = ("ModelNFT", "FederationRegistry", "ModelMarketplace")


@dataclass(frozen=True)
class Deployment:
    """The three deployed contracts."""

    nft: object
    registry: object
    marketplace: object


def deploy_contracts(deployer, owner=None) -> Deployment:
    """Deploy and wire the contracts: the registry becomes the NFT's federation minter.

    Parameters
    ----------
    deployer:
        Brownie account paying for the deployment.
    owner:
        Account that will own (pause, manage minters of) the contracts; defaults to the deployer.
    """
    owner = owner or deployer
    tx = {"from": deployer}
    nft = ModelNFT.deploy(owner, tx)
    registry = FederationRegistry.deploy(owner, nft, tx)
    marketplace = ModelMarketplace.deploy(owner, nft, registry, tx)
    if owner == deployer:
        nft.setFederationRegistry(registry, tx)
    return Deployment(nft=nft, registry=registry, marketplace=marketplace)


DEV_NETWORKS = ("development", "ganache-cli", "anvil")


def _check_chain() -> None:
    """Refuse to deploy when $FQAI_CHAIN_ID names another chain than the RPC serves."""
    raw = os.environ.get("FQAI_CHAIN_ID", "").strip()
    if not raw:
        return
    if not raw.isdecimal() or int(raw) <= 0:
        raise SystemExit(f"FQAI_CHAIN_ID={raw!r} is not a chain id (a positive decimal integer)")
    if chain.id != int(raw):
        raise SystemExit(
            f"network '{network.show_active()}' serves chain {chain.id}, but chain {raw} was "
            "expected (FQAI_CHAIN_ID); refusing to deploy"
        )


def _deployer():
    if os.environ.get("FQAI_DEV_UNLOCKED"):
        return accounts[0]
    if key := os.environ.get("FQAI_DEPLOYER_KEY"):
        try:
            return accounts.add(key)
        except (ValueError, TypeError) as exc:
            raise SystemExit(f"FQAI_DEPLOYER_KEY is not a hex private key: {exc}") from None
    if name := os.environ.get("FQAI_DEPLOYER_ACCOUNT"):
        return accounts.load(name)
    if network.show_active() in DEV_NETWORKS:
        return accounts[0]
    raise SystemExit(
        f"No deployer for network '{network.show_active()}': set FQAI_DEPLOYER_KEY (hex private "
        "key) or FQAI_DEPLOYER_ACCOUNT (a Brownie account name)."
    )


def write_deployment_record(deployment: Deployment, deployer, path: Path | None = None) -> Path:
    """Write addresses, ABIs and deployment transactions to deployments/<chainId>.json."""
    DEPLOYMENTS_DIR.mkdir(exist_ok=True)
    path = path or DEPLOYMENTS_DIR / f"{chain.id}.json"
    contracts = {}
    for name, contract in zip(
        CONTRACTS, (deployment.nft, deployment.registry, deployment.marketplace), strict=True
    ):
        tx = contract.tx
        contracts[name] = {
            "address": contract.address,
            "abi": contract.abi,
            "transactionHash": tx.txid if tx else None,
            "blockNumber": tx.block_number if tx else None,
            "gasUsed": tx.gas_used if tx else None,
        }
    record = {
        "chainId": chain.id,
        "network": network.show_active(),
        "deployer": str(deployer),
        "deployedAt": int(time.time()),
        "contracts": contracts,
    }
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=2) + "\n")
    tmp.replace(path)
    return path


def forget_brownie_artifacts() -> None:
    """Drop the copies Brownie keeps of live-network deployments (build/deployments/).

    deployments/<chainId>.json is fqai's record. Brownie's own copy makes the next `brownie run`
    on a *fresh* chain with the same id fail before the script starts ("No contract deployed at
    ..."), which is what every local Anvil restart is.
    """
    import shutil

    shutil.rmtree(DEPLOYMENTS_DIR.parent / "build" / "deployments", ignore_errors=True)


def main() -> None:
    _check_chain()
    deployer = _deployer()
    deployment = deploy_contracts(deployer)
    path = write_deployment_record(deployment, deployer)
    if network.show_active() not in ("development", "ganache-cli"):
        forget_brownie_artifacts()
    print(f"Deployed on chain {chain.id} ({network.show_active()}) by {deployer}:")
    for name, contract in zip(
        CONTRACTS, (deployment.nft, deployment.registry, deployment.marketplace), strict=True
    ):
        print(f"  {name:<20} {contract.address}")
    print(f"Deployment record: {path}")
