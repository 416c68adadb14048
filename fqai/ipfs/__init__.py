"""IPFS access for the trust layer: CID helpers, configuration and a checked HTTP API client."""

from fqai.ipfs.cid import Cid, cid_for_raw_block, normalize_cid, parse_cid
from fqai.ipfs.client import IpfsClient
from fqai.ipfs.config import (
    DEFAULT_API,
    IpfsAuthError,
    IpfsSettings,
    ipfs_settings,
    load_auth_header,
    resolve_api_address,
)

__all__ = [
    "DEFAULT_API",
    "Cid",
    "IpfsAuthError",
    "IpfsClient",
    "IpfsSettings",
    "cid_for_raw_block",
    "ipfs_settings",
    "load_auth_header",
    "normalize_cid",
    "parse_cid",
    "resolve_api_address",
]
