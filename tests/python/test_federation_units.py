"""Unit tests: contribution weights, accepted root, strategy choice, app files; and the CLI's
``federation create`` / ``node start --join-only`` against the deployed chain."""

from __future__ import annotations

import hashlib
import json
import tomllib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from fqai.chain import FederationRegistry, MemberStatus
from fqai.cli import app
from fqai.devnet.ipfs_node import IpfsNode
from fqai.federation.aggregation import accepted_root, contribution_weights, make_strategy
from fqai.federation.errors import FederationError
from fqai.federation.runtime import format_node_config, write_app
from fqai.federation.supernode_key import load_supernode_key
from fqai.ipfs.client import IpfsClient
from tests.python.conftest import PASSPHRASE, make_identity
from tests.python.federation_fixtures import DeployedChain, deployed_chain  # noqa: F401

A = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
B = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
C = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"


def test_weights_sorted_and_exact() -> None:
    contributors, weights = contribution_weights({A: 100, B: 101, C: 100})
    assert contributors == [B, A, C]  # ascending by address value
    assert sum(weights) == 1_000_000
    assert weights[0] > weights[1] == weights[2]
    assert contribution_weights({A.lower(): 7}) == ([A], [1_000_000])
    with pytest.raises(FederationError, match="samples"):
        contribution_weights({A: 0})
    with pytest.raises(FederationError, match="duplicate"):
        contribution_weights({A: 1, A.lower(): 2})
    with pytest.raises(FederationError, match="no accepted"):
        contribution_weights({})


@given(st.lists(st.integers(min_value=1, max_value=10**9), min_size=1, max_size=64))
def test_weights_always_sum_and_positive(counts: list[int]) -> None:
    samples = {f"0x{i + 1:040x}": c for i, c in enumerate(counts)}
    contributors, weights = contribution_weights(samples)
    assert sum(weights) == 1_000_000 and min(weights) >= 1
    assert [int(a, 16) for a in contributors] == sorted(int(a, 16) for a in contributors)
    total = sum(counts)
    for address, weight in zip(contributors, weights, strict=True):
        share = samples[address.lower()] / total * 1_000_000
        assert abs(weight - share) <= len(counts) + 1


def test_accepted_root() -> None:
    d = ["0x" + f"{i:02x}" * 32 for i in (3, 1, 2)]
    leaves = sorted(bytes.fromhex(x[2:]) for x in d)
    expected = hashlib.sha256(hashlib.sha256(leaves[0] + leaves[1]).digest() + leaves[2]).digest()
    assert accepted_root(d) == "0x" + expected.hex()
    assert accepted_root(d[:1]) == d[0]
    assert accepted_root([]) == "0x" + "00" * 32
    assert accepted_root(list(reversed(d))) == accepted_root(d)


def test_strategies_by_name() -> None:
    assert type(make_strategy("FedAvg")).__name__ == "FedAvg"
    assert make_strategy("fedprox", proximal_mu=0.5).proximal_mu == 0.5  # type: ignore[attr-defined]
    assert type(make_strategy("krum", num_malicious_nodes=1)).__name__ == "Krum"
    with pytest.raises(FederationError, match="unknown strategy"):
        make_strategy("fedsgd")
    with pytest.raises(FederationError, match="bad parameters"):
        make_strategy("fedavg", nope=1)


def test_app_and_node_config_files(tmp_path: Path) -> None:
    write_app(tmp_path, {"federation-id": 3, "dataset": "digits", "lr": 0.1, "path": 'a"b'})
    document = tomllib.loads((tmp_path / "pyproject.toml").read_text())
    assert document["tool"]["flwr"]["app"]["config"] == {
        "federation-id": 3,
        "dataset": "digits",
        "lr": 0.1,
        "path": 'a"b',
    }
    assert document["tool"]["flwr"]["app"]["components"]["serverapp"].endswith(".server:app")
    text = format_node_config({"partition-id": 1, "fqai-keystore": "/k s"})
    assert text == 'partition-id=1 fqai-keystore="/k s"'


def test_cli_create_and_join(
    deployed_chain: DeployedChain,  # noqa: F811
    ipfs_node: IpfsNode,
    ipfs_client: IpfsClient,
    tmp_path: Path,
) -> None:
    runner = CliRunner()
    passphrase = tmp_path / "pass"
    passphrase.write_text(PASSPHRASE)
    coordinator = make_identity(tmp_path / "coord")
    node = make_identity(tmp_path / "node")
    common = [
        "--rpc-url", deployed_chain.rpc_url,
        "--deployments-dir", str(deployed_chain.deployments_dir),
        "--passphrase-file", str(passphrase),
        "--dev-fund", "1",
    ]  # fmt: skip
    created = runner.invoke(
        app,
        ["federation", "create", "--model-spec-cid", "bafkreispec", "--min-stake", "0.2",
         "--keystore", str(tmp_path / "coord"), *common],
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    info = json.loads(created.output.strip().splitlines()[-1])
    assert info["coordinator"] == coordinator.public.eth_address
    joined = runner.invoke(
        app,
        ["node", "start", "--federation-id", str(info["federation_id"]), "--join-only",
         "--keystore", str(tmp_path / "node"), "--ipfs-api", ipfs_node.api_address, *common],
    )  # fmt: skip
    assert joined.exit_code == 0, joined.output
    registry = FederationRegistry(deployed_chain.client(None))
    member = registry.member(info["federation_id"], node.public.eth_address)
    assert member.status is MemberStatus.ACTIVE
    assert member.stake == 2 * 10**17
    assert member.key_digest == node.public.mldsa_key_digest
    # The SuperNode key: created in the keystore, its digest on-chain, its bytes on IPFS.
    supernode = load_supernode_key(tmp_path / "node" / "supernode-key")
    assert registry.supernode_key_of(info["federation_id"], node.public.eth_address) == (
        "0x" + hashlib.sha256(supernode.public_path.read_bytes()).hexdigest()
    )
    assert ipfs_client.cat(supernode.cid, max_size=4096) == supernode.public_path.read_bytes()
    assert (tmp_path / "node" / "supernode-key").stat().st_mode & 0o077 == 0
    low = runner.invoke(
        app,
        ["node", "start", "--federation-id", str(info["federation_id"]), "--join-only",
         "--stake", "0.01", "--keystore", str(tmp_path / "coord"),
         "--ipfs-api", ipfs_node.api_address, *common],
    )  # fmt: skip
    assert low.exit_code == 1
    assert "FederationStakeTooLow(node=" in low.output


def test_widen_accumulates_in_float64_and_keeps_integers() -> None:
    import numpy as np

    from fqai.federation.aggregation import widen

    weights = {"w": np.array([0.1, 0.2], dtype=np.float32), "n": np.array([3], dtype=np.int64)}
    wide = widen(weights)
    assert wide["w"].dtype == np.float64 and wide["n"].dtype == np.int64
    assert np.array_equal(wide["w"].astype(np.float32), weights["w"])  # widening is exact
    assert weights["w"].dtype == np.float32  # the input is not modified
