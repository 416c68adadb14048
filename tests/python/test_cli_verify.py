"""``fqai verify`` end to end on the session IPFS node: exit codes and reports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fqai.cli import app
from fqai.devnet.ipfs_node import IpfsNode
from fqai.devnet.tools import free_port
from fqai.ipfs.cid import cid_for_raw_block
from fqai.ipfs.client import IpfsClient
from fqai.jcs import canonicalize
from fqai.keystore import NodeIdentity
from fqai.trust import PublishedArtifact, publish_artifact

from .conftest import MODEL

runner = CliRunner()


@pytest.fixture()
def published(
    ipfs_client: IpfsClient, identity: NodeIdentity, weights_file: Path
) -> PublishedArtifact:
    return publish_artifact(
        ipfs_client, identity, weights_file, kind="update", federation_id=1, round=2, model=MODEL
    )


def _verify(node: IpfsNode, *args: str):
    return runner.invoke(app, ["verify", "--ipfs-api", node.api_address, *args])


def test_verify_ok_exits_zero(ipfs_node: IpfsNode, published: PublishedArtifact) -> None:
    result = _verify(ipfs_node, published.manifest_cid)
    assert result.exit_code == 0, result.output
    assert "VERIFIED" in result.output
    assert "not checked against a registry" in result.output


def test_verify_with_trusted_digest(
    ipfs_node: IpfsNode, published: PublishedArtifact, identity: NodeIdentity
) -> None:
    digest = identity.public.mldsa_key_digest
    ok = _verify(ipfs_node, published.manifest_cid, "--trusted-key-digest", digest)
    assert ok.exit_code == 0, ok.output
    other = "0x" + "ab" * 32
    bad = _verify(ipfs_node, published.manifest_cid, "--trusted-key-digest", other, "--no-weights")
    assert bad.exit_code == 1
    assert "first failing check signer trust" in " ".join(bad.output.split())
    malformed = _verify(ipfs_node, published.manifest_cid, "--trusted-key-digest", "0x12")
    assert malformed.exit_code == 2


def test_verify_tampered_exits_one_naming_the_check(
    ipfs_node: IpfsNode, ipfs_client: IpfsClient, published: PublishedArtifact
) -> None:
    envelope = json.loads(published.signed.envelope_bytes)
    envelope["manifest"]["round"] = 5
    cid = ipfs_client.add_bytes(canonicalize(envelope))
    result = _verify(ipfs_node, cid)
    assert result.exit_code == 1
    text = " ".join(result.output.split())
    assert "FAILED: first failing check signature" in text
    as_json = _verify(ipfs_node, cid, "--json")
    assert as_json.exit_code == 1
    report = json.loads(as_json.output)
    assert report["ok"] is False
    assert report["first_failure"]["check"] == "signature"
    assert report["first_failure"]["cid"] == cid


def test_verify_json_report(ipfs_node: IpfsNode, published: PublishedArtifact) -> None:
    result = _verify(ipfs_node, published.manifest_cid, "--json")
    assert result.exit_code == 0
    report = json.loads(result.output)
    assert report["ok"] is True and report["first_failure"] is None
    artifact = report["artifacts"][0]
    assert artifact["manifest_digest"] == published.manifest_digest
    assert [c["status"] for c in artifact["checks"]].count("pass") == 7


def test_verify_with_ipfs_down_exits_three() -> None:
    address = f"/ip4/127.0.0.1/tcp/{free_port()}/http"
    result = runner.invoke(
        app, ["verify", "--ipfs-api", address, "--timeout", "1", cid_for_raw_block(b"x")]
    )
    assert result.exit_code == 3, result.output
    assert address in "".join(result.output.split())
    assert "first failing check manifest fetch" in " ".join(result.output.split())


def test_entry_point_runs_as_a_program(ipfs_node: IpfsNode, published: PublishedArtifact) -> None:
    fqai = Path(sys.executable).parent / "fqai"
    result = subprocess.run(
        [str(fqai), "verify", "--ipfs-api", ipfs_node.api_address, published.manifest_cid],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "VERIFIED" in result.stdout
