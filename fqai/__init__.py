"""fqai: federated learning with on-chain provenance and post-quantum signed manifests."""

__version__ = "0.1.0"
