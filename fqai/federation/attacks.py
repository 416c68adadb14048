"""Byzantine update transforms used by the robustness benchmark (bench/federation_byzantine.py).

A node's honest update is ``delta = local - global``. An attacker sends ``global + f * delta``:

* sign flip: ``f = -factor`` (``factor`` > 0): pushes the model against the descent direction;
* scaling: ``f = factor`` (``factor`` > 1): an over-weighted update (model-replacement style).

Pure numpy; every tensor of the weights dictionary is transformed the same way.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numpy.typing import NDArray

ATTACKS = ("sign-flip", "scaling")

Weights = dict[str, NDArray[np.float32]]


def _scaled_update(
    global_weights: Mapping[str, NDArray[np.floating]],
    local_weights: Mapping[str, NDArray[np.floating]],
    factor: float,
) -> Weights:
    if set(global_weights) != set(local_weights):
        raise ValueError("global and local weights have different tensors")
    out: Weights = {}
    for key, g in global_weights.items():
        g32 = np.asarray(g, dtype=np.float32)
        local = np.asarray(local_weights[key], dtype=np.float32)
        if g32.shape != local.shape:
            raise ValueError(f"tensor {key}: shape {local.shape} != {g32.shape}")
        out[key] = (g32 + np.float32(factor) * (local - g32)).astype(np.float32)
    return out


def sign_flip(
    global_weights: Mapping[str, NDArray[np.floating]],
    local_weights: Mapping[str, NDArray[np.floating]],
    factor: float = 1.0,
) -> Weights:
    """``global - factor * (local - global)``."""
    if factor <= 0:
        raise ValueError("sign-flip factor must be positive")
    return _scaled_update(global_weights, local_weights, -factor)


def scaling(
    global_weights: Mapping[str, NDArray[np.floating]],
    local_weights: Mapping[str, NDArray[np.floating]],
    factor: float = 10.0,
) -> Weights:
    """``global + factor * (local - global)``."""
    if factor <= 1:
        raise ValueError("scaling factor must be above 1")
    return _scaled_update(global_weights, local_weights, factor)


def apply_attack(
    name: str,
    global_weights: Mapping[str, NDArray[np.floating]],
    local_weights: Mapping[str, NDArray[np.floating]],
    factor: float,
) -> Weights:
    """The named attack (``sign-flip`` or ``scaling``) with its factor."""
    if name == "sign-flip":
        return sign_flip(global_weights, local_weights, factor)
    if name == "scaling":
        return scaling(global_weights, local_weights, factor)
    raise ValueError(f"unknown attack {name!r}; choose one of {list(ATTACKS)}")


def malicious_nodes(num_nodes: int, fraction: float, seed: int) -> frozenset[int]:
    """A seeded choice of ``round(fraction * num_nodes)`` node indices (at least one if
    ``fraction`` > 0)."""
    if not 0 <= fraction < 1:
        raise ValueError("fraction must be in [0, 1)")
    count = max(1, round(fraction * num_nodes)) if fraction > 0 else 0
    chosen = np.random.default_rng(seed).choice(num_nodes, size=count, replace=False)
    return frozenset(int(i) for i in chosen)
