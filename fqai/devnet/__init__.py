"""Local development services (IPFS node, later an Ethereum devnet) and their shared state file."""
