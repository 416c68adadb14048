"""On-chain access for fqai: deployment records, a typed web3 client, decoded contract errors.

Addresses and ABIs come only from ``deployments/<chainId>.json`` (see
:mod:`fqai.chain.deployment`); nothing here imports Brownie.
"""

from fqai.chain.client import (
    CHAIN_ID_ENV,
    ChainClient,
    KeySender,
    Sender,
    TxResult,
    UnlockedSender,
    chain_id_from_env,
    connect,
)
from fqai.chain.deployment import (
    DEPLOYMENTS_ENV,
    MODEL_NFT,
    REGISTRY,
    ContractInfo,
    Deployment,
    deployments_dir,
    load_deployment,
)
from fqai.chain.errors import (
    ChainError,
    ChainRevertError,
    DeploymentError,
    InsufficientFundsError,
    WrongChainError,
)
from fqai.chain.marketplace import LicenseOffer, Marketplace
from fqai.chain.registry import (
    WEIGHT_TOTAL,
    FederationConfig,
    FederationRegistry,
    FederationState,
    Member,
    MemberStatus,
    MintParams,
    Participation,
    Provenance,
    RoundFinalized,
    RoundInfo,
)
from fqai.chain.revert import ErrorDecoder

__all__ = [
    "CHAIN_ID_ENV",
    "DEPLOYMENTS_ENV",
    "MODEL_NFT",
    "REGISTRY",
    "WEIGHT_TOTAL",
    "ChainClient",
    "ChainError",
    "ChainRevertError",
    "ContractInfo",
    "Deployment",
    "DeploymentError",
    "ErrorDecoder",
    "FederationConfig",
    "FederationRegistry",
    "FederationState",
    "InsufficientFundsError",
    "KeySender",
    "LicenseOffer",
    "Marketplace",
    "Member",
    "MemberStatus",
    "MintParams",
    "Participation",
    "Provenance",
    "RoundFinalized",
    "RoundInfo",
    "Sender",
    "TxResult",
    "UnlockedSender",
    "WrongChainError",
    "chain_id_from_env",
    "connect",
    "deployments_dir",
    "load_deployment",
]
