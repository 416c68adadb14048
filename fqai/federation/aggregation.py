"""Pure helpers of the coordinator: contribution weights, the accepted-updates root, strategies.

* Weights: proportional to each accepted node's sample count, as integers that sum to exactly
  ``WEIGHT_TOTAL`` (1 000 000) by the largest-remainder method, every weight at least 1,
  contributors in strictly ascending address order (what ``finalizeRound`` requires).
* Accepted root: a binary sha256 Merkle root over the accepted update manifest digests
  (see docs/FEDERATION.md).
* Strategies: Flower's own server strategies, chosen by name, fed float64 arrays (``widen``).
"""

from __future__ import annotations

import hashlib
import statistics
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from eth_utils import to_checksum_address
from flwr.serverapp.strategy import (
    Bulyan,
    FedAvg,
    FedMedian,
    FedProx,
    FedTrimmedAvg,
    Krum,
    MultiKrum,
    Strategy,
)
from numpy.typing import NDArray

from fqai.chain.registry import WEIGHT_TOTAL, to_bytes32
from fqai.federation.errors import FederationError

STRATEGIES: dict[str, type[FedAvg]] = {
    "fedavg": FedAvg,
    "fedprox": FedProx,
    "krum": Krum,
    "multikrum": MultiKrum,
    "fedmedian": FedMedian,
    "fedtrimmedavg": FedTrimmedAvg,
    "bulyan": Bulyan,
}


# A node's claimed sample count is self-reported. For weighting (FedAvg's average and the
# contribution weights that share rewards and licence revenue) each claim is capped at this many
# times the round's median claim, so one node claiming 10**9 examples cannot take the round.
SAMPLES_CLIP = 3.0


def capped_samples(samples: Mapping[str, int], clip: float | None = SAMPLES_CLIP) -> dict[str, int]:
    """Each count capped at ``clip`` x the median count (the lower middle one); ``None``: as is.

    Raises
    ------
    FederationError
        ``clip`` below 1 (it would cap honest nodes at the median).
    """
    if clip is None or not samples:
        return dict(samples)
    if clip < 1:
        raise FederationError(f"samples clip must be at least 1, got {clip}")
    cap = max(1, int(clip * statistics.median_low(samples.values())))
    return {node: min(int(count), cap) for node, count in samples.items()}


def contribution_weights(samples: Mapping[str, int]) -> tuple[list[str], list[int]]:
    """Contributors (ascending by address value) and weights proportional to ``samples``.

    Raises
    ------
    FederationError
        No contributors, a non-positive sample count, a duplicate address, or more
        contributors than weight units.
    """
    if not samples:
        raise FederationError("no accepted contributors to weight")
    by_address: dict[str, int] = {}
    for address, count in samples.items():
        checksum = to_checksum_address(address)
        if checksum in by_address:
            raise FederationError(f"duplicate contributor {checksum}")
        if count <= 0:
            raise FederationError(f"contributor {checksum} reported {count} samples")
        by_address[checksum] = int(count)
    if len(by_address) > WEIGHT_TOTAL:
        raise FederationError("more contributors than weight units")
    contributors = sorted(by_address, key=lambda a: int(a, 16))
    total = sum(by_address.values())
    # Everyone gets 1 unit first so no weight is zero; the rest is shared by largest remainder.
    spare = WEIGHT_TOTAL - len(contributors)
    exact = [by_address[a] * spare / total for a in contributors]
    weights = [1 + int(x) for x in exact]
    leftover = WEIGHT_TOTAL - sum(weights)
    order = sorted(range(len(contributors)), key=lambda i: (-(exact[i] - int(exact[i])), i))
    for i in order[:leftover]:
        weights[i] += 1
    assert sum(weights) == WEIGHT_TOTAL
    return contributors, weights


def accepted_root(digests: Sequence[str]) -> str:
    """sha256 Merkle root of the accepted update manifest digests.

    Leaves are the 32-byte digests sorted ascending; a parent is ``sha256(left || right)``; a
    level with an odd count carries its last node up unchanged. One leaf is its own root; no
    leaves give 32 zero bytes.
    """
    level = sorted(to_bytes32(d) for d in digests)
    if not level:
        return "0x" + "00" * 32
    while len(level) > 1:
        nxt = [
            hashlib.sha256(level[i] + level[i + 1]).digest() for i in range(0, len(level) - 1, 2)
        ]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return "0x" + level[0].hex()


def widen(weights: Mapping[str, NDArray[Any]]) -> dict[str, NDArray[Any]]:
    """Floating-point arrays as float64 (others unchanged), for the aggregation to accumulate in.

    Flower's strategies compute in the dtype they are given. Fed float64, FedAvg's weighted sum
    runs in float64; the result is rounded back to the model's float32 (IEEE round to nearest,
    ties to even) when it is loaded into the model. The coordinator and every recomputation do
    exactly this.
    """
    return {
        k: v.astype(np.float64) if np.issubdtype(v.dtype, np.floating) else v
        for k, v in weights.items()
    }


def make_strategy(name: str, **params: Any) -> Strategy:
    """A Flower strategy by name (``fedavg``, ``fedprox``, ``krum``, ``multikrum``,
    ``fedmedian``, ``fedtrimmedavg``, ``bulyan``) with its keyword parameters."""
    try:
        cls = STRATEGIES[name.lower()]
    except KeyError:
        raise FederationError(
            f"unknown strategy {name!r}; choose one of {sorted(STRATEGIES)}"
        ) from None
    try:
        return cls(**params)
    except TypeError as exc:
        raise FederationError(f"bad parameters for strategy {name}: {exc}") from exc
