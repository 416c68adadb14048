"""One angle per qubit: PCA of the training split, scaled to [0, π].

Fitted on the training split only (its mean, principal axes and per-component range), then
applied to both splits; test angles outside the training range are clipped. Principal axes are
signed so that each one's largest-magnitude entry is positive, so the transform is a function of
the training data alone and every node derives the same one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from fqai.qml.errors import QuantumModelError

ANGLE_RANGE = (0.0, float(np.pi))


@dataclass(frozen=True)
class AngleFeatures:
    """A fitted PCA-to-angles transform."""

    mean: NDArray[np.float64]
    components: NDArray[np.float64]  # (k, features)
    low: NDArray[np.float64]
    high: NDArray[np.float64]

    @classmethod
    def fit(cls, x_train: NDArray[np.floating], k: int) -> AngleFeatures:
        """Fit on ``x_train`` (samples x features, flattened if more dimensions).

        Raises
        ------
        QuantumModelError
            ``k`` is not between 1 and the number of features (or samples).
        """
        x = np.asarray(x_train, dtype=np.float64).reshape(len(x_train), -1)
        if not 1 <= k <= min(x.shape):
            raise QuantumModelError(
                f"cannot reduce {x.shape[1]} features of {x.shape[0]} samples to {k} components"
            )
        mean = x.mean(axis=0)
        _, _, vt = np.linalg.svd(x - mean, full_matrices=False)
        components = vt[:k]
        signs = np.sign(components[np.arange(k), np.abs(components).argmax(axis=1)])
        components = components * signs[:, None]
        projected = (x - mean) @ components.T
        low, high = projected.min(axis=0), projected.max(axis=0)
        return cls(mean, components, low, np.where(high > low, high, low + 1.0))

    def transform(self, x: NDArray[np.floating]) -> NDArray[np.float32]:
        """Angles in [0, π], one column per component (float32 like fqai's other features)."""
        flat = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
        projected = (flat - self.mean) @ self.components.T
        scaled = (projected - self.low) / (self.high - self.low)
        lo, hi = ANGLE_RANGE
        return np.clip(lo + scaled * (hi - lo), lo, hi).astype(np.float32)


def pca_angles(
    x_train: NDArray[np.floating], x_test: NDArray[np.floating], k: int
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """Both splits as ``k`` angles each, the transform fitted on ``x_train``."""
    transform = AngleFeatures.fit(x_train, k)
    return transform.transform(x_train), transform.transform(x_test)
