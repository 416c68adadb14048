"""`fqai verify <tokenId>`: a model token checked against its manifest, weights and the chain."""

# ruff: noqa: F811 - pytest fixtures imported from federation_fixtures are test parameters here

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fqai.chain.deployment import MODEL_NFT
from fqai.chain.registry import to_bytes32
from fqai.cli import app
from fqai.ipfs.client import IpfsClient
from fqai.keystore.store import NodeIdentity
from fqai.manifest.model import ModelSpec
from fqai.trust.onchain import verify_token
from fqai.trust.publish import publish_artifact
from tests.python.federation_fixtures import DeployedChain, deployed_chain  # noqa: F401

runner = CliRunner()


def _mint(chain: DeployedChain, artifact, weights: Path, signer_digest: str) -> int:
    """Mint a directly published model as dev account 1 (made a minter by the owner)."""
    owner, publisher = chain.client(0), chain.client(1)
    owner.transact(MODEL_NFT, "setMinter", publisher.address, True)
    params = (
        artifact.manifest_cid,
        to_bytes32("0x" + hashlib.sha256(weights.read_bytes()).hexdigest()),
        to_bytes32(signer_digest),
        0,
        0,
        0,
        publisher.address,
        0,
    )
    result = publisher.transact(MODEL_NFT, "mint", publisher.address, params)
    return int(
        publisher.contract(MODEL_NFT)
        .events.ModelMinted()
        .process_receipt(result.receipt)[0]["args"]["tokenId"]
    )


@pytest.fixture()
def published(ipfs_client: IpfsClient, identity: NodeIdentity, weights_file: Path):
    artifact = publish_artifact(
        ipfs_client,
        identity,
        weights_file,
        kind="published-model",
        federation_id=0,
        round=0,
        model=ModelSpec(name="token-test", params={"hidden": 16}),
        metrics={"accuracy": 0.9},
    )
    return artifact, weights_file


def test_verify_token_passes_when_chain_and_manifest_agree(
    deployed_chain: DeployedChain,
    ipfs_client,
    identity,
    published,
) -> None:
    # Prepare
    artifact, weights = published
    token = _mint(deployed_chain, artifact, weights, identity.public.mldsa_key_digest)

    # Execute
    report = verify_token(deployed_chain.client(None), ipfs_client, token)

    # Assert
    assert report.ok, report.first_failure()
    names = {c.name: c for c in report.checks}
    assert "on-chain: token" in names["signer trust"].detail
    assert names["token weights digest"].status == "pass"
    assert names["token federation round"].status == "pass"


def test_verify_token_fails_when_the_token_records_another_signer(
    deployed_chain: DeployedChain,
    ipfs_client,
    identity,
    other_identity,
    published,
) -> None:
    artifact, weights = published
    token = _mint(deployed_chain, artifact, weights, other_identity.public.mldsa_key_digest)

    report = verify_token(deployed_chain.client(None), ipfs_client, token)

    failure = report.first_failure()
    assert failure is not None and failure[1].name == "signer trust"


def test_verify_token_fails_when_the_token_records_other_weights(
    deployed_chain: DeployedChain,
    ipfs_client,
    identity,
    published,
    tmp_path,
) -> None:
    artifact, _ = published
    other = tmp_path / "other.bin"
    other.write_bytes(b"not the published weights")
    token = _mint(deployed_chain, artifact, other, identity.public.mldsa_key_digest)

    report = verify_token(deployed_chain.client(None), ipfs_client, token)

    failure = report.first_failure()
    assert failure is not None and failure[1].name == "token weights digest"
    assert "weightsDigest" in failure[1].detail


def test_cli_verify_accepts_a_token_id(
    deployed_chain: DeployedChain,
    ipfs_node,
    ipfs_client,
    identity,
    published,
) -> None:
    artifact, weights = published
    token = _mint(deployed_chain, artifact, weights, identity.public.mldsa_key_digest)
    args = [
        "verify",
        str(token),
        "--ipfs-api",
        ipfs_node.api_address,
        "--rpc-url",
        deployed_chain.rpc_url,
        "--deployments-dir",
        str(deployed_chain.deployments_dir),
    ]

    ok = runner.invoke(app, args)
    missing = runner.invoke(app, ["verify", "999999", *args[2:]])

    assert ok.exit_code == 0, ok.output
    assert "VERIFIED" in ok.output and "token weights digest" in ok.output
    assert missing.exit_code != 0
    assert "ERC721NonexistentToken" in missing.output


def test_recompute_needs_a_federation_token(
    deployed_chain: DeployedChain,
    ipfs_node,
    ipfs_client,
    identity,
    published,
) -> None:
    artifact, weights = published
    token = _mint(deployed_chain, artifact, weights, identity.public.mldsa_key_digest)
    common = ["--ipfs-api", ipfs_node.api_address, *deployed_chain.cli_args]
    outside = runner.invoke(app, ["verify", str(token), "--recompute", *common])
    assert outside.exit_code == 1
    assert "not minted from a federation" in outside.output
    by_cid = runner.invoke(app, ["verify", artifact.manifest_cid, "--recompute", *common])
    assert by_cid.exit_code != 0 and "needs a model token id" in by_cid.output
    lone = runner.invoke(app, ["verify", str(token), "--round", "1", *common])
    assert lone.exit_code != 0 and "--round goes with --recompute" in lone.output


def test_derived_token_trusts_its_parent_tokens_signers() -> None:
    """A model minted with a parent token verifies a lineage signed by the parent's federation."""
    from types import SimpleNamespace

    from fqai.chain.registry import Provenance
    from fqai.trust.onchain import ChainKeyResolver

    def prov(signer: str, federation: int, parent: int) -> Provenance:
        return Provenance(
            "bafy", "0x" + "00" * 32, signer, federation, 1, 0, parent, "0x" + "0" * 40
        )

    node = "0x" + "11" * 20
    federation = ChainKeyResolver(2, prov("0xaa", 1, 0), {node: {"0xbb"}})
    derived = ChainKeyResolver(3, prov("0xcc", 0, 2), {}, parent=federation)
    alone = ChainKeyResolver(3, prov("0xcc", 0, 2), {})

    def manifest(kind: str, digest: str, fed: str = "1") -> SimpleNamespace:
        signer = SimpleNamespace(key_digest=digest, eth_address=node)
        return SimpleNamespace(kind=kind, federation_id=fed, signer=signer)

    assert derived.is_trusted(manifest("published-model", "0xcc", "0"))
    assert derived.is_trusted(manifest("round-model", "0xaa"))  # the parent token's signer
    assert derived.is_trusted(manifest("update", "0xbb"))  # a member of the parent's federation
    assert not alone.is_trusted(manifest("round-model", "0xaa"))
    assert not derived.is_trusted(manifest("update", "0xbb", "2"))  # another federation
    assert not derived.is_trusted(manifest("round-model", "0xdd"))
    assert "parent on-chain: token 2" in derived.description
