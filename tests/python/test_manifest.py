"""Manifests: schema validation, canonical signing, envelope parsing, digest, tampering."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from fqai.crypto import mldsa
from fqai.encoding import b64encode
from fqai.errors import DigestMismatchError, ManifestError, SignatureError
from fqai.ipfs.cid import cid_for_raw_block
from fqai.jcs import canonicalize
from fqai.keystore import NodeIdentity
from fqai.manifest import (
    MAX_ENVELOPE_SIZE,
    SIGNING_CONTEXT,
    Manifest,
    ModelSpec,
    manifest_digest,
    parse_envelope,
    sign_manifest,
    verify_envelope_signature,
)
from fqai.weights import describe_file

from .conftest import build_manifest

FAKE_WEIGHTS_CID = cid_for_raw_block(b"weights stand-in")


@pytest.fixture()
def manifest(identity: NodeIdentity, weights_file: Path) -> Manifest:
    return build_manifest(identity, describe_file(weights_file), FAKE_WEIGHTS_CID)


def _envelope_obj(data: bytes) -> dict[str, Any]:
    return json.loads(data)


def _reencode(obj: dict[str, Any]) -> bytes:
    return canonicalize(obj)


def test_sign_parse_verify_round_trip(manifest: Manifest, identity: NodeIdentity) -> None:
    signed = sign_manifest(manifest, identity.mldsa)
    parsed = parse_envelope(signed.envelope_bytes)
    assert parsed.manifest == manifest
    assert parsed.signature == signed.signature
    verify_envelope_signature(parsed, identity.mldsa.public_key, "test")
    envelope = _envelope_obj(signed.envelope_bytes)
    assert set(envelope) == {"manifest", "signature"}
    assert envelope["signature"]["algorithm"] == "ML-DSA-65"
    assert signed.envelope_bytes == canonicalize(envelope)


def test_manifest_digest_is_sha256_of_canonical_payload(
    manifest: Manifest, identity: NodeIdentity
) -> None:
    signed = sign_manifest(manifest, identity.mldsa)
    payload = canonicalize(_envelope_obj(signed.envelope_bytes)["manifest"])
    assert signed.payload_bytes == payload
    assert manifest_digest(manifest) == "0x" + hashlib.sha256(payload).hexdigest()
    assert signed.digest == manifest_digest(parse_envelope(signed.envelope_bytes).manifest)
    # Signatures are hedged, but the digest only depends on the manifest.
    assert sign_manifest(manifest, identity.mldsa).digest == signed.digest


def test_signature_is_independent_verifiable(manifest: Manifest, identity: NodeIdentity) -> None:
    from dilithium_py.ml_dsa import ML_DSA_65

    signed = sign_manifest(manifest, identity.mldsa)
    assert ML_DSA_65.verify(
        identity.mldsa.public_key, signed.payload_bytes, signed.signature, ctx=SIGNING_CONTEXT
    )


def test_flipped_manifest_byte_breaks_signature(manifest: Manifest, identity: NodeIdentity) -> None:
    signed = sign_manifest(manifest, identity.mldsa)
    obj = _envelope_obj(signed.envelope_bytes)
    obj["manifest"]["round"] = 4
    tampered = parse_envelope(_reencode(obj), "tampered")
    with pytest.raises(SignatureError, match="does not verify"):
        verify_envelope_signature(tampered, identity.mldsa.public_key, "tampered")
    raw = bytearray(signed.envelope_bytes)
    raw[raw.index(b'"round":3') + 8] = ord("5")  # a byte flip in place
    with pytest.raises(SignatureError):
        verify_envelope_signature(parse_envelope(bytes(raw)), identity.mldsa.public_key, "t")


def test_flipped_signature_byte_is_rejected(manifest: Manifest, identity: NodeIdentity) -> None:
    signed = sign_manifest(manifest, identity.mldsa)
    obj = _envelope_obj(signed.envelope_bytes)
    sig = bytearray(base64.b64decode(obj["signature"]["value"]))
    sig[100] ^= 0x01
    obj["signature"]["value"] = b64encode(bytes(sig))
    tampered = parse_envelope(_reencode(obj))
    with pytest.raises(SignatureError):
        verify_envelope_signature(tampered, identity.mldsa.public_key, "t")


def test_wrong_context_string_is_rejected(manifest: Manifest, identity: NodeIdentity) -> None:
    payload = manifest.canonical_bytes()
    for context in (b"fqai-manifest-v2", b""):
        signature = mldsa.sign(identity.mldsa.secret_key, payload, context)
        obj = {
            "manifest": manifest.to_json(),
            "signature": {"algorithm": "ML-DSA-65", "value": b64encode(signature)},
        }
        envelope = parse_envelope(canonicalize(obj))
        with pytest.raises(SignatureError, match="fqai-manifest-v1"):
            verify_envelope_signature(envelope, identity.mldsa.public_key, "t")


def test_other_key_is_caught_by_digest_then_signature(
    manifest: Manifest, identity: NodeIdentity, other_identity: NodeIdentity
) -> None:
    signed = sign_manifest(manifest, identity.mldsa)
    with pytest.raises(DigestMismatchError, match="signer public key digest"):
        verify_envelope_signature(signed, other_identity.mldsa.public_key, "t")
    # Claiming the honest signer while signing with another key: refused at signing time.
    with pytest.raises(ManifestError, match="not the digest"):
        sign_manifest(manifest, other_identity.mldsa)


def test_huge_envelope_is_rejected_before_parsing() -> None:
    huge = b"{" + b" " * MAX_ENVELOPE_SIZE + b"}"
    with pytest.raises(ManifestError, match="above the 262144-byte cap"):
        parse_envelope(huge)
    with pytest.raises(ManifestError, match="above the 262144-byte cap"):
        parse_envelope(b"\xff" * (MAX_ENVELOPE_SIZE + 1))  # would not even decode


def test_signing_refuses_an_oversized_manifest(identity: NodeIdentity, weights_file: Path) -> None:
    big = build_manifest(
        identity,
        describe_file(weights_file),
        FAKE_WEIGHTS_CID,
        model=ModelSpec(name="mlp", params={"blob": "x" * MAX_ENVELOPE_SIZE}),
    )
    with pytest.raises(ManifestError, match="cap"):
        sign_manifest(big, identity.mldsa)


def test_non_canonical_envelope_is_rejected(manifest: Manifest, identity: NodeIdentity) -> None:
    signed = sign_manifest(manifest, identity.mldsa)
    pretty = json.dumps(_envelope_obj(signed.envelope_bytes), indent=1).encode()
    with pytest.raises(ManifestError, match="canonical"):
        parse_envelope(pretty)


def _mutated(manifest: Manifest, path: list[Any], value: Any) -> dict[str, Any]:
    obj = manifest.to_json()
    target = obj
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return obj


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (["schema"], "fqai-manifest/2", "unsupported schema"),
        (["kind"], "model", "kind"),
        (["federation_id"], "07", "federation_id"),
        (["federation_id"], str(2**256), "uint256"),
        (["federation_id"], 7, "federation_id"),
        (["round"], -1, "round"),
        (["round"], 2**32, "round"),
        (["round"], True, "round"),
        (["round"], 3.0, "round"),
        (["created_at"], "2025-01-31 12:00:00Z", "created_at"),
        (["created_at"], "2025-02-30T12:00:00Z", "valid date"),
        (["created_at"], "2025-01-31T12:00:00+01:00", "created_at"),
        (["metrics", "loss"], "0.1", "finite number"),
        (["metrics", "loss"], True, "finite number"),
        (["metrics", "bad name!"], 1, "metrics key"),
        (["parents"], ["bafybeiabc"], "CID"),
        (["weights", "sha256"], "0X" + "ab" * 32, "sha256"),
        (["weights", "size"], 0, "size"),
        (["weights", "format"], "pickle", "safetensors"),
        (["weights", "cid"], "QmRaaUwTNfwgFZpeUy8qrZwrp2dY4kCKmmB5xEqvH3vtD1", "base32"),
        (["weights", "tensors"], [], "tensors"),
        (["model", "spec_cid"], FAKE_WEIGHTS_CID, "exactly one"),
        (["model", "params"], KeyError, "exactly one"),
        (["signer", "algorithm"], "ML-DSA-44", "ML-DSA-65"),
        (["signer", "eth_address"], "0x" + "ab" * 20, "EIP-55"),
        (["signer", "public_key"], "AAAA", "1952 bytes"),
        (["signer", "public_key"], "not base64!", "base64"),
        (["signer", "public_key_cid"], FAKE_WEIGHTS_CID, "exactly one"),
        (["extra"], 1, "unknown field"),
        (["signer", "extra"], 1, "unknown field"),
        (["metrics"], KeyError, "missing field"),
    ],
)
def test_schema_violations_are_named(
    manifest: Manifest, path: list[Any], value: Any, message: str
) -> None:
    with pytest.raises(ManifestError, match=message):
        Manifest.from_json(_mutated(manifest, path, value))


def test_tensors_must_be_sorted_and_unique(manifest: Manifest) -> None:
    obj = manifest.to_json()
    obj["weights"]["tensors"].reverse()
    with pytest.raises(ManifestError, match="sorted"):
        Manifest.from_json(obj)
    obj = manifest.to_json()
    obj["weights"]["tensors"].append(obj["weights"]["tensors"][-1])
    with pytest.raises(ManifestError, match="sorted"):
        Manifest.from_json(obj)


def test_nan_metric_cannot_be_signed(manifest: Manifest, identity: NodeIdentity) -> None:
    bad = Manifest(**{**manifest.__dict__, "metrics": {"loss": float("nan")}})
    with pytest.raises(ManifestError, match="finite"):
        sign_manifest(bad, identity.mldsa)


def test_public_key_by_cid_round_trip(manifest: Manifest, identity: NodeIdentity) -> None:
    key_cid = cid_for_raw_block(identity.mldsa.public_key)
    by_cid = Manifest(
        **{
            **manifest.__dict__,
            "signer": type(manifest.signer)(
                key_digest=manifest.signer.key_digest,
                eth_address=manifest.signer.eth_address,
                public_key_cid=key_cid,
            ),
        }
    )
    parsed = parse_envelope(sign_manifest(by_cid, identity.mldsa).envelope_bytes)
    assert parsed.manifest.signer.public_key is None
    assert parsed.manifest.signer.public_key_cid == key_cid


def test_round_model_links_its_round_report(manifest: Manifest, identity: NodeIdentity) -> None:
    report = cid_for_raw_block(b"round report")
    linked = Manifest(**{**manifest.__dict__, "kind": "round-model", "round_report": report})
    signed = sign_manifest(linked, identity.mldsa)
    parsed = parse_envelope(signed.envelope_bytes).manifest
    assert parsed.round_report == report
    assert json.loads(signed.envelope_bytes)["manifest"]["round_report"] == report
    # Without the field the manifest is what it was before the field existed.
    assert "round_report" not in manifest.to_json()
    with pytest.raises(ManifestError, match="round_report"):
        Manifest.from_json({**manifest.to_json(), "round_report": report})  # kind is update
    with pytest.raises(ManifestError, match="round_report"):
        Manifest.from_json({**linked.to_json(), "round_report": "not-a-cid"})
