"""Federated training on Flower with on-chain commitments and signed, pinned updates."""
