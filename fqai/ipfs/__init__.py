"""IPFS access for the trust layer: CID helpers and a checked HTTP API client."""

from fqai.ipfs.cid import Cid, cid_for_raw_block, normalize_cid, parse_cid
from fqai.ipfs.client import DEFAULT_API, IpfsClient, resolve_api_address

__all__ = [
    "DEFAULT_API",
    "Cid",
    "IpfsClient",
    "cid_for_raw_block",
    "normalize_cid",
    "parse_cid",
    "resolve_api_address",
]
