"""Shared fixtures: a real js-ipfs node for the session, keystores, weights files.

Later test modules (federation, model, ...) can use ``ipfs_node`` / ``ipfs_client`` as they are.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from fqai.devnet.ipfs_node import IpfsNode
from fqai.ipfs.client import IpfsClient
from fqai.keystore import Keystore, NodeIdentity, ScryptParams
from fqai.manifest.model import Manifest, ModelSpec, WeightsRef
from fqai.trust.publish import signer_for
from fqai.weights import WeightsInfo, save_weights
from tests.attack_record import (  # noqa: F401 - hooks, found by name
    pytest_configure,
    pytest_runtest_makereport,
    pytest_sessionfinish,
)

# Cheap KDF parameters for speed; the production defaults are exercised by the CLI tests.
FAST_KDF = ScryptParams(n=2**12)
FAST_ETH_N = 2**12
PASSPHRASE = "correct horse battery staple"
MODEL = ModelSpec(name="mlp", params={"hidden": 16, "layers": 2})


@pytest.fixture(scope="session")
def ipfs_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IpfsNode]:
    """A js-ipfs daemon on free loopback ports for the whole session, stopped at the end."""
    base = tmp_path_factory.mktemp("ipfs-session")
    node = IpfsNode(base / "repo", log_path=base / "daemon.log")
    node.start()
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture()
def ipfs_client(ipfs_node: IpfsNode) -> Iterator[IpfsClient]:
    """A client of the session node with short timeouts."""
    with IpfsClient(ipfs_node.api_address, timeout=10, retries=1, backoff=0.1) as client:
        yield client


def make_identity(directory: Path) -> NodeIdentity:
    """Create a keystore with cheap KDF parameters and unlock it."""
    store = Keystore(directory)
    store.create(PASSPHRASE, kdf=FAST_KDF, eth_scrypt_n=FAST_ETH_N)
    return store.unlock(PASSPHRASE)


@pytest.fixture(scope="session")
def identity(tmp_path_factory: pytest.TempPathFactory) -> NodeIdentity:
    """The honest signer."""
    return make_identity(tmp_path_factory.mktemp("keys") / "honest")


@pytest.fixture(scope="session")
def other_identity(tmp_path_factory: pytest.TempPathFactory) -> NodeIdentity:
    """A second, valid but unknown, signer."""
    return make_identity(tmp_path_factory.mktemp("keys") / "other")


def make_tensors(seed: int, hidden: int = 16) -> dict[str, np.ndarray]:
    """Deterministic small model weights."""
    rng = np.random.default_rng(seed)
    return {
        "layer0.bias": rng.standard_normal(hidden).astype(np.float32),
        "layer0.weight": rng.standard_normal((hidden, 8)).astype(np.float32),
        "layer1.weight": rng.standard_normal((1, hidden)).astype(np.float32),
        "steps": np.array([seed], dtype=np.int64),
    }


@pytest.fixture()
def weights_file(tmp_path: Path) -> Path:
    """A small safetensors file."""
    path = tmp_path / "weights.safetensors"
    save_weights(make_tensors(1), path)
    return path


def build_manifest(
    identity: NodeIdentity,
    weights: WeightsInfo,
    weights_cid: str,
    **overrides: Any,
) -> Manifest:
    """A valid manifest for ``weights`` signed-off by ``identity`` (fields overridable)."""
    fields: dict[str, Any] = {
        "kind": "update",
        "federation_id": "7",
        "round": 3,
        "weights": WeightsRef(
            cid=weights_cid, sha256=weights.sha256, size=weights.size, tensors=weights.tensors
        ),
        "model": MODEL,
        "signer": signer_for(identity),
        "created_at": "2025-01-31T12:00:00Z",
        "parents": (),
        "metrics": {"loss": 0.25, "accuracy": 0.9, "samples": 1200},
    }
    fields.update(overrides)
    return Manifest(**fields)
