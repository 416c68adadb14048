"""Sign -> pin -> fetch -> verify on a real js-ipfs node, and every tampering case."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from fqai.crypto import mldsa
from fqai.encoding import b64encode
from fqai.errors import (
    DigestMismatchError,
    ManifestError,
    SignatureError,
    UntrustedSignerError,
    WeightsError,
)
from fqai.ipfs.cid import cid_for_raw_block
from fqai.ipfs.client import IpfsClient, check_raw_cid
from fqai.jcs import canonicalize
from fqai.keystore import NodeIdentity
from fqai.manifest import Manifest, sign_manifest
from fqai.trust import (
    CheckStatus,
    StaticKeyResolver,
    fetch_verified_manifest,
    fetch_weights_to_file,
    load_verified_weights,
    publish_artifact,
    verify_artifact,
)
from fqai.weights import describe_file, save_weights

from .conftest import MODEL, build_manifest, make_tensors


def _publish(client: IpfsClient, identity: NodeIdentity, path: Path, **kwargs: Any):
    fields: dict[str, Any] = {
        "kind": "update",
        "federation_id": 7,
        "round": 3,
        "model": MODEL,
        "metrics": {"loss": 0.5},
    }
    fields.update(kwargs)
    return publish_artifact(client, identity, path, **fields)


def _add_envelope(client: IpfsClient, envelope: dict[str, Any]) -> str:
    return client.add_bytes(canonicalize(envelope))


def _first_failure(client: IpfsClient, cid: str, **kwargs: Any) -> tuple[str, str]:
    report = verify_artifact(client, cid, **kwargs)
    failure = report.first_failure()
    assert failure is not None, "verification should have failed"
    assert not report.ok
    return failure[1].name, failure[1].detail


def test_round_trip_sign_pin_fetch_verify(
    ipfs_client: IpfsClient, identity: NodeIdentity, weights_file: Path, tmp_path: Path
) -> None:
    published = _publish(ipfs_client, identity, weights_file)
    assert ipfs_client.is_pinned(published.manifest_cid)
    assert ipfs_client.is_pinned(published.weights_cid)
    resolver = StaticKeyResolver([identity.public.mldsa_key_digest])

    verified = fetch_verified_manifest(ipfs_client, published.manifest_cid, resolver)
    assert verified.digest == published.manifest_digest
    assert verified.trusted is True
    assert verified.manifest.signer.eth_address == identity.public.eth_address

    _, arrays = load_verified_weights(ipfs_client, published.manifest_cid, resolver)
    for name, array in make_tensors(1).items():
        np.testing.assert_array_equal(arrays[name], array)

    dest = tmp_path / "fetched.safetensors"
    fetch_weights_to_file(ipfs_client, verified.manifest, dest)
    assert dest.read_bytes() == weights_file.read_bytes()

    report = verify_artifact(ipfs_client, published.manifest_cid, resolver=resolver)
    assert report.ok
    assert [c.name for c in report.checks] == [
        "manifest CID",
        "manifest fetch",
        "manifest format",
        "signer key",
        "signature",
        "signer trust",
        "weights",
        "parents",
    ]
    assert all(c.status is CheckStatus.PASS for c in report.checks)
    assert report.digest == published.manifest_digest


def test_without_resolver_trust_is_not_checked(
    ipfs_client: IpfsClient, identity: NodeIdentity, weights_file: Path
) -> None:
    published = _publish(ipfs_client, identity, weights_file)
    report = verify_artifact(ipfs_client, published.manifest_cid)
    assert report.ok
    trust = next(c for c in report.checks if c.name == "signer trust")
    assert trust.status is CheckStatus.SKIP
    assert trust.detail == "not checked against a registry"


def test_large_multi_block_weights_and_key_by_cid(
    ipfs_client: IpfsClient, identity: NodeIdentity, tmp_path: Path
) -> None:
    path = tmp_path / "large.safetensors"
    rng = np.random.default_rng(5)
    save_weights({"w": rng.standard_normal((700, 700)).astype(np.float32)}, path)
    published = _publish(ipfs_client, identity, path, public_key_by_cid=True)
    assert published.weights_cid.startswith("bafybei")  # dag-pb: sha256 from the manifest
    assert published.manifest.signer.public_key_cid is not None
    report = verify_artifact(ipfs_client, published.manifest_cid)
    assert report.ok, report.first_failure()


def test_lineage_is_verified_recursively(
    ipfs_client: IpfsClient, identity: NodeIdentity, tmp_path: Path
) -> None:
    paths = []
    for seed in range(3):
        path = tmp_path / f"w{seed}.safetensors"
        save_weights(make_tensors(seed), path)
        paths.append(path)
    base = _publish(ipfs_client, identity, paths[0], kind="round-model", round=0)
    update_a = _publish(ipfs_client, identity, paths[1], round=1, parents=[base.manifest_cid])
    update_b = _publish(ipfs_client, identity, paths[2], round=1, parents=[base.manifest_cid])
    merged = _publish(
        ipfs_client,
        identity,
        paths[0],
        kind="round-model",
        round=1,
        parents=[update_a.manifest_cid, update_b.manifest_cid],
    )
    report = verify_artifact(ipfs_client, merged.manifest_cid)
    assert report.ok, report.first_failure()
    cids = [r.cid for r in report.walk()]
    assert cids.count(base.manifest_cid) == 2  # once verified, once noted as "verified above"
    assert sum(1 for r in report.walk() if r.note == "verified above") == 1

    shallow = verify_artifact(ipfs_client, merged.manifest_cid, max_depth=1)
    name, detail = shallow.first_failure()[1].name, shallow.first_failure()[1].detail
    assert name == "parents" and "depth limit 1" in detail

    other_federation = _publish(
        ipfs_client, identity, paths[1], federation_id=8, round=2, parents=[base.manifest_cid]
    )
    assert _first_failure(ipfs_client, other_federation.manifest_cid)[0] == "parents"
    # A model published outside federations may derive from a federation's model ...
    derived = _publish(
        ipfs_client, identity, paths[1], kind="published-model", federation_id=0, round=0,
        parents=[merged.manifest_cid],
    )  # fmt: skip
    assert verify_artifact(ipfs_client, derived.manifest_cid).ok
    # ... but not claim a federation of its own that its parent does not belong to.
    claimed = _publish(
        ipfs_client, identity, paths[1], kind="published-model", federation_id=9, round=5,
        parents=[merged.manifest_cid],
    )  # fmt: skip
    assert _first_failure(ipfs_client, claimed.manifest_cid) == (
        "parents",
        f"{merged.manifest_cid}: belongs to federation 7, not 9",
    )


def test_parent_failure_is_named_first(
    ipfs_client: IpfsClient, identity: NodeIdentity, weights_file: Path
) -> None:
    parent = _publish(ipfs_client, identity, weights_file, kind="round-model", round=0)
    envelope = json.loads(parent.signed.envelope_bytes)
    envelope["manifest"]["metrics"]["loss"] = 0.1  # invalidates the parent's signature
    bad_parent = _add_envelope(ipfs_client, envelope)
    child = _publish(ipfs_client, identity, weights_file, round=1, parents=[bad_parent])
    report = verify_artifact(ipfs_client, child.manifest_cid)
    where, check = report.first_failure()
    assert (where.cid, check.name) == (bad_parent, "signature")


# -- tampering ----------------------------------------------------------------------------


def test_flipped_weights_byte_with_swapped_cid_breaks_the_signature(
    ipfs_client: IpfsClient, identity: NodeIdentity, weights_file: Path, tmp_path: Path
) -> None:
    published = _publish(ipfs_client, identity, weights_file)
    tampered = bytearray(weights_file.read_bytes())
    tampered[-3] ^= 0x01
    tampered_path = tmp_path / "tampered.safetensors"
    tampered_path.write_bytes(bytes(tampered))
    envelope = json.loads(published.signed.envelope_bytes)
    envelope["manifest"]["weights"]["cid"] = ipfs_client.add_file(tampered_path)
    cid = _add_envelope(ipfs_client, envelope)
    with pytest.raises(SignatureError, match=cid):
        fetch_verified_manifest(ipfs_client, cid)
    assert _first_failure(ipfs_client, cid)[0] == "signature"


@pytest.mark.attack(
    "ipfs-serves-other-bytes",
    actor="an IPFS node or gateway that serves other bytes than asked",
    attack="answer a manifest or weights CID with other content",
    control="every block re-hashed against its CID; weights sha256 checked against the signed "
    "manifest even when the CID matches",
)
def test_weights_cid_pointing_at_other_content(
    ipfs_client: IpfsClient, identity: NodeIdentity, weights_file: Path, tmp_path: Path
) -> None:
    """Signed by the legitimate key, but the CID's content is not the hashed file."""
    info = describe_file(weights_file)
    other = tmp_path / "other.safetensors"
    save_weights(make_tensors(99), other)
    other_cid = ipfs_client.add_file(other)
    manifest = build_manifest(identity, info, other_cid)
    cid = ipfs_client.add_bytes(sign_manifest(manifest, identity.mldsa).envelope_bytes)
    name, detail = _first_failure(ipfs_client, cid)
    assert name == "weights"
    assert info.sha256 in detail and other_cid in detail
    with pytest.raises(DigestMismatchError, match="sha256"):
        load_verified_weights(ipfs_client, cid)
    dest = tmp_path / "dl" / "w.safetensors"
    dest.parent.mkdir()
    with pytest.raises(DigestMismatchError):
        fetch_weights_to_file(ipfs_client, manifest, dest)
    assert list(dest.parent.iterdir()) == []


def test_truncated_weights(
    ipfs_client: IpfsClient, identity: NodeIdentity, weights_file: Path, tmp_path: Path
) -> None:
    info = describe_file(weights_file)
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(weights_file.read_bytes()[:-17])
    with pytest.raises(WeightsError, match="truncated"):
        _publish(ipfs_client, identity, truncated)
    manifest = build_manifest(identity, info, ipfs_client.add_file(truncated))
    cid = ipfs_client.add_bytes(sign_manifest(manifest, identity.mldsa).envelope_bytes)
    name, detail = _first_failure(ipfs_client, cid)
    assert name == "weights" and "size" in detail
    with pytest.raises(DigestMismatchError, match="size"):
        load_verified_weights(ipfs_client, cid)


def test_tensor_list_not_matching_the_file(
    ipfs_client: IpfsClient, identity: NodeIdentity, weights_file: Path
) -> None:
    info = describe_file(weights_file)
    weights_cid = ipfs_client.add_file(weights_file)
    manifest = build_manifest(identity, info, weights_cid)
    doctored = manifest.to_json()
    doctored["weights"]["tensors"][0]["shape"] = [17]
    manifest = Manifest.from_json(doctored)
    cid = ipfs_client.add_bytes(sign_manifest(manifest, identity.mldsa).envelope_bytes)
    name, detail = _first_failure(ipfs_client, cid)
    assert name == "weights" and "manifest says F32[17]" in detail


def test_flipped_manifest_byte(
    ipfs_client: IpfsClient, identity: NodeIdentity, weights_file: Path
) -> None:
    published = _publish(ipfs_client, identity, weights_file)
    raw = bytearray(published.signed.envelope_bytes)
    position = raw.index(b'"round":3') + len(b'"round":')
    raw[position] = ord("4")
    value_cid = ipfs_client.add_bytes(bytes(raw))
    assert _first_failure(ipfs_client, value_cid)[0] == "signature"
    raw = bytearray(published.signed.envelope_bytes)
    raw[0] = ord("[")  # structural byte
    structure_cid = ipfs_client.add_bytes(bytes(raw))
    assert _first_failure(ipfs_client, structure_cid)[0] == "manifest format"
    with pytest.raises(ManifestError, match=structure_cid):
        fetch_verified_manifest(ipfs_client, structure_cid)


def test_flipped_signature_byte(
    ipfs_client: IpfsClient, identity: NodeIdentity, weights_file: Path
) -> None:
    published = _publish(ipfs_client, identity, weights_file)
    envelope = json.loads(published.signed.envelope_bytes)
    signature = bytearray(base64.b64decode(envelope["signature"]["value"]))
    signature[2000] ^= 0x80
    envelope["signature"]["value"] = b64encode(bytes(signature))
    cid = _add_envelope(ipfs_client, envelope)
    name, detail = _first_failure(ipfs_client, cid)
    assert name == "signature" and identity.public.mldsa_key_digest in detail


def test_wrong_context_string(
    ipfs_client: IpfsClient, identity: NodeIdentity, weights_file: Path
) -> None:
    published = _publish(ipfs_client, identity, weights_file)
    payload = published.manifest.canonical_bytes()
    envelope = json.loads(published.signed.envelope_bytes)
    wrong = mldsa.sign(identity.mldsa.secret_key, payload, b"fqai-update-v1")
    envelope["signature"]["value"] = b64encode(wrong)
    cid = _add_envelope(ipfs_client, envelope)
    with pytest.raises(SignatureError, match="fqai-manifest-v1"):
        fetch_verified_manifest(ipfs_client, cid)


def test_unknown_signer(
    ipfs_client: IpfsClient,
    identity: NodeIdentity,
    other_identity: NodeIdentity,
    weights_file: Path,
) -> None:
    published = _publish(ipfs_client, other_identity, weights_file)
    resolver = StaticKeyResolver([identity.public.mldsa_key_digest])
    with pytest.raises(UntrustedSignerError, match=other_identity.public.mldsa_key_digest):
        fetch_verified_manifest(ipfs_client, published.manifest_cid, resolver)
    with pytest.raises(UntrustedSignerError):
        load_verified_weights(ipfs_client, published.manifest_cid, resolver)
    name, _ = _first_failure(ipfs_client, published.manifest_cid, resolver=resolver)
    assert name == "signer trust"


def test_impersonation_with_own_key_but_victims_digest(
    ipfs_client: IpfsClient,
    identity: NodeIdentity,
    other_identity: NodeIdentity,
    weights_file: Path,
) -> None:
    """An attacker claims the honest key digest but embeds (and signs with) their own key."""
    published = _publish(ipfs_client, other_identity, weights_file)
    envelope = json.loads(published.signed.envelope_bytes)
    envelope["manifest"]["signer"]["key_digest"] = identity.public.mldsa_key_digest
    payload = canonicalize(envelope["manifest"])
    envelope["signature"]["value"] = b64encode(
        mldsa.sign(other_identity.mldsa.secret_key, payload, b"fqai-manifest-v1")
    )
    cid = _add_envelope(ipfs_client, envelope)
    with pytest.raises(DigestMismatchError, match="signer public key digest"):
        fetch_verified_manifest(ipfs_client, cid)


def test_huge_manifest_is_refused(ipfs_client: IpfsClient) -> None:
    huge = b'{"manifest":' + b" " * (300 * 1024) + b"}"
    cid = ipfs_client.add_bytes(huge)
    name, detail = _first_failure(ipfs_client, cid)
    assert name == "manifest CID" and "raw-codec" in detail  # >256 KiB cannot be one raw block


def test_manifest_cid_forms_are_checked(ipfs_client: IpfsClient) -> None:
    for bad in ("not-a-cid", "QmRaaUwTNfwgFZpeUy8qrZwrp2dY4kCKmmB5xEqvH3vtD1"):
        with pytest.raises(ManifestError, match="manifest CID"):
            fetch_verified_manifest(ipfs_client, bad)


@pytest.mark.attack(
    "ipfs-serves-other-bytes",
    actor="an IPFS node or gateway that serves other bytes than asked",
    attack="answer a manifest or weights CID with other content",
    control="every block re-hashed against its CID; weights sha256 checked against the signed "
    "manifest even when the CID matches",
)
def test_fetched_bytes_are_rehashed_against_a_raw_cid() -> None:
    """What protects against a lying daemon: the bytes must hash to the raw CID."""
    genuine = b'{"manifest":{}}'
    with pytest.raises(DigestMismatchError, match=cid_for_raw_block(genuine)):
        check_raw_cid(cid_for_raw_block(genuine), genuine + b" ")
    check_raw_cid(cid_for_raw_block(genuine), genuine)
