"""Reading ``deployments/<chainId>.json``: the one source of contract addresses and ABIs.

The file is written by ``scripts/deploy.py``::

    {"chainId": 31337, "contracts": {"FederationRegistry": {"address": "0x..", "abi": [...]}, ...}}

The directory is ``$FQAI_DEPLOYMENTS_DIR`` when set, else ``deployments/`` of the checkout.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_utils import is_address, to_checksum_address

from fqai.chain.errors import DeploymentError
from fqai.devnet.tools import project_root

DEPLOYMENTS_ENV = "FQAI_DEPLOYMENTS_DIR"
REGISTRY = "FederationRegistry"
MODEL_NFT = "ModelNFT"
MARKETPLACE = "ModelMarketplace"


def deployments_dir(explicit: Path | None = None) -> Path:
    """``explicit``, else ``$FQAI_DEPLOYMENTS_DIR``, else ``<checkout>/deployments``."""
    if explicit is not None:
        return Path(explicit)
    if os.environ.get(DEPLOYMENTS_ENV):
        return Path(os.environ[DEPLOYMENTS_ENV])
    return project_root() / "deployments"


@dataclass(frozen=True)
class ContractInfo:
    """Address and ABI of one deployed contract."""

    name: str
    address: str
    abi: list[dict[str, Any]] = field(repr=False)


@dataclass(frozen=True)
class Deployment:
    """A parsed deployment record."""

    chain_id: int
    path: Path
    contracts: dict[str, ContractInfo]

    def contract(self, name: str) -> ContractInfo:
        """The contract called ``name``; :class:`DeploymentError` if the record lacks it."""
        try:
            return self.contracts[name]
        except KeyError:
            raise DeploymentError(
                f"{self.path}: no contract {name!r} (has {sorted(self.contracts)})"
            ) from None

    def all_abis(self) -> list[list[dict[str, Any]]]:
        """Every ABI in the record (for decoding errors raised by any contract)."""
        return [info.abi for info in self.contracts.values()]


def parse_deployment(document: Any, path: Path) -> Deployment:
    """Validate a deployment document; errors name the file and the field."""
    if not isinstance(document, dict):
        raise DeploymentError(f"{path}: not a JSON object")
    chain_id = document.get("chainId")
    if type(chain_id) is not int or chain_id <= 0:
        raise DeploymentError(f"{path}: chainId must be a positive integer, got {chain_id!r}")
    raw = document.get("contracts")
    if not isinstance(raw, dict) or not raw:
        raise DeploymentError(f"{path}: 'contracts' must be a non-empty object")
    contracts: dict[str, ContractInfo] = {}
    for name, entry in raw.items():
        if not isinstance(entry, dict):
            raise DeploymentError(f"{path}: contracts.{name} must be an object")
        address = entry.get("address")
        abi = entry.get("abi")
        if not isinstance(address, str) or not is_address(address):
            raise DeploymentError(f"{path}: contracts.{name}.address is not an address")
        if not isinstance(abi, list):
            raise DeploymentError(f"{path}: contracts.{name}.abi must be a list")
        contracts[name] = ContractInfo(name=name, address=to_checksum_address(address), abi=abi)
    return Deployment(chain_id=chain_id, path=path, contracts=contracts)


def load_deployment(chain_id: int, directory: Path | None = None) -> Deployment:
    """Load ``<directory>/<chain_id>.json`` (see :func:`deployments_dir`).

    Raises
    ------
    DeploymentError
        The file is missing or malformed, or records another chain id.
    """
    path = deployments_dir(directory) / f"{chain_id}.json"
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DeploymentError(
            f"no deployment record {path} (deploy with `brownie run scripts/deploy.py`)"
        ) from None
    except (OSError, ValueError) as exc:
        raise DeploymentError(f"cannot read deployment record {path}: {exc}") from exc
    deployment = parse_deployment(document, path)
    if deployment.chain_id != chain_id:
        raise DeploymentError(f"{path} records chain id {deployment.chain_id}, expected {chain_id}")
    return deployment
