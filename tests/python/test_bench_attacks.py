"""Unit tests of fqai.federation.attacks (Byzantine update transforms)."""

from __future__ import annotations

import numpy as np
import pytest

from fqai.federation.attacks import apply_attack, malicious_nodes, scaling, sign_flip


def _weights() -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    g = {"a": np.array([1.0, 2.0], dtype=np.float32), "b": np.zeros((2, 2), dtype=np.float32)}
    local = {"a": np.array([2.0, 0.0], dtype=np.float32), "b": np.ones((2, 2), dtype=np.float32)}
    return g, local


def test_sign_flip_reverses_the_update() -> None:
    g, local = _weights()
    out = sign_flip(g, local, factor=2.0)
    np.testing.assert_allclose(out["a"], [-1.0, 6.0])
    np.testing.assert_allclose(out["b"], -2 * np.ones((2, 2)))
    assert all(v.dtype == np.float32 for v in out.values())


def test_scaling_amplifies_the_update() -> None:
    g, local = _weights()
    out = scaling(g, local, factor=10.0)
    np.testing.assert_allclose(out["a"], [11.0, -18.0])
    np.testing.assert_allclose(apply_attack("scaling", g, local, 10.0)["b"], out["b"])


def test_bad_arguments() -> None:
    g, local = _weights()
    with pytest.raises(ValueError):
        sign_flip(g, local, factor=0.0)
    with pytest.raises(ValueError):
        scaling(g, local, factor=1.0)
    with pytest.raises(ValueError):
        apply_attack("noise", g, local, 1.0)
    with pytest.raises(ValueError):
        sign_flip(g, {"a": local["a"]})


def test_malicious_nodes_is_seeded() -> None:
    chosen = malicious_nodes(10, 0.2, seed=3)
    assert len(chosen) == 2
    assert chosen == malicious_nodes(10, 0.2, seed=3)
    assert all(0 <= i < 10 for i in chosen)
    assert malicious_nodes(10, 0.0, seed=0) == frozenset()
