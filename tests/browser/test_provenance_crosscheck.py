"""The browser's provenance check (frontend/src/lib/provenance.js, run under Node) agrees with
fqai's Python signing code: a manifest signed by Python verifies in JS; tampering is caught."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from fqai.encoding import b64encode
from fqai.ipfs.cid import cid_for_raw_block
from fqai.jcs import canonicalize
from fqai.manifest.envelope import sign_manifest
from fqai.manifest.model import ModelSpec
from fqai.weights import describe_file
from tests.python.conftest import build_manifest

from .helpers import FRONTEND, node_binary

pytestmark = pytest.mark.skipif(
    not (FRONTEND / "node_modules").is_dir(), reason="run `npm ci` in frontend/ first"
)


def _run(tmp_path: Path, blocks: dict[str, bytes], provenance: dict) -> dict:
    store = tmp_path / "blocks"
    shutil.rmtree(store, ignore_errors=True)
    store.mkdir()
    for cid, data in blocks.items():
        (store / cid).write_bytes(data)
    prov = tmp_path / "provenance.json"
    prov.write_text(json.dumps(provenance), encoding="utf-8")
    result = subprocess.run(
        [node_binary(), str(FRONTEND / "tools" / "verify-envelope.mjs"), str(store), str(prov)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(result.stdout)


def _signed(identity, weights_file: Path, **overrides):
    info = describe_file(weights_file)
    manifest = build_manifest(
        identity, info, cid_for_raw_block(weights_file.read_bytes()), **overrides
    )
    return sign_manifest(manifest, identity.mldsa)


def _provenance(signed, cid: str) -> dict:
    m = signed.manifest
    return {
        "manifestCID": cid,
        "weightsDigest": m.weights.sha256,
        "signerKeyDigest": m.signer.key_digest,
        "federationId": m.federation_id,
        "round": m.round,
    }


def _failed(result: dict) -> tuple[str, str]:
    failing = [c for c in result["checks"] if c["status"] == "fail"]
    assert len(failing) == 1, result
    return failing[0]["name"], failing[0]["detail"]


def test_python_signed_manifest_verifies_in_js(tmp_path, identity, weights_file) -> None:
    signed = _signed(
        identity,
        weights_file,
        kind="published-model",
        federation_id="0",
        round=0,
        # Floats, exponents, non-ASCII and key order exercise the RFC 8785 corner cases.
        metrics={"loss": 0.1 + 0.2, "tiny": 1e-7, "big": 1e21, "n": 7, "Z": -0.0, "a.b": 1.5},
        model=ModelSpec(name="xc", params={"note": 'é\u2028\U0001f600\ufb33\t"', "k": [1, 2.5]}),
    )
    cid = cid_for_raw_block(signed.envelope_bytes)

    result = _run(tmp_path, {cid: signed.envelope_bytes}, _provenance(signed, cid))

    assert result["ok"], result["checks"]
    names = [c["name"] for c in result["checks"]]
    assert names == [
        "manifest CID",
        "manifest fetch",
        "manifest format",
        "signer key",
        "signature",
        "signer trust",
        "token weights digest",
        "token federation round",
    ]
    assert signed.digest in result["checks"][4]["detail"]


def test_public_key_by_cid_verifies_in_js(tmp_path, identity, weights_file) -> None:
    from fqai.manifest.model import Signer

    key = identity.mldsa.public_key
    key_cid = cid_for_raw_block(key)
    signer = Signer(
        key_digest=identity.public.mldsa_key_digest,
        eth_address=identity.public.eth_address,
        public_key=None,
        public_key_cid=key_cid,
    )
    signed = _signed(identity, weights_file, kind="round-model", signer=signer)
    cid = cid_for_raw_block(signed.envelope_bytes)

    result = _run(tmp_path, {cid: signed.envelope_bytes, key_cid: key}, _provenance(signed, cid))

    assert result["ok"], result["checks"]
    assert "by CID" in result["checks"][3]["detail"]


def test_tampered_manifest_fails_signature_in_js(tmp_path, identity, weights_file) -> None:
    signed = _signed(identity, weights_file, kind="published-model", federation_id="0", round=0)
    document = {
        "manifest": {**signed.manifest.to_json(), "metrics": {"accuracy": 0.999}},
        "signature": {"algorithm": "ML-DSA-65", "value": b64encode(signed.signature)},
    }
    tampered = canonicalize(document)
    cid = cid_for_raw_block(tampered)

    result = _run(tmp_path, {cid: tampered}, _provenance(signed, cid))

    assert not result["ok"]
    assert _failed(result)[0] == "signature"


def test_gateway_returning_other_bytes_fails_fetch_in_js(tmp_path, identity, weights_file) -> None:
    signed = _signed(identity, weights_file, kind="published-model", federation_id="0", round=0)
    cid = cid_for_raw_block(signed.envelope_bytes)

    result = _run(tmp_path, {cid: signed.envelope_bytes + b" "}, _provenance(signed, cid))

    name, detail = _failed(result)
    assert name == "manifest fetch" and "the CID says" in detail


def test_non_canonical_envelope_fails_format_in_js(tmp_path, identity, weights_file) -> None:
    signed = _signed(identity, weights_file, kind="published-model", federation_id="0", round=0)
    pretty = json.dumps(json.loads(signed.envelope_bytes), indent=1).encode()
    cid = cid_for_raw_block(pretty)

    result = _run(tmp_path, {cid: pretty}, _provenance(signed, cid))

    name, detail = _failed(result)
    assert name == "manifest format" and "canonical" in detail


def test_token_recording_other_signer_or_weights_fails_in_js(
    tmp_path, identity, other_identity, weights_file
) -> None:
    signed = _signed(identity, weights_file, kind="published-model", federation_id="0", round=0)
    cid = cid_for_raw_block(signed.envelope_bytes)
    blocks = {cid: signed.envelope_bytes}

    other_signer = {
        **_provenance(signed, cid),
        "signerKeyDigest": other_identity.public.mldsa_key_digest,
    }
    other_weights = {**_provenance(signed, cid), "weightsDigest": "0x" + "11" * 32}

    assert _failed(_run(tmp_path, blocks, other_signer))[0] == "signer trust"
    assert _failed(_run(tmp_path, blocks, other_weights))[0] == "token weights digest"
