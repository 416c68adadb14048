"""The shipped JSON Schema agrees with the Python validator on real and broken envelopes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fqai.errors import ManifestError
from fqai.ipfs.cid import cid_for_raw_block
from fqai.jcs import canonicalize
from fqai.keystore import NodeIdentity
from fqai.manifest import SCHEMA_ID, Manifest, parse_envelope, sign_manifest
from fqai.manifest.schema import load_schema
from fqai.weights import describe_file

from .conftest import build_manifest
from .schema_subset import SchemaViolationError, validate


@pytest.fixture()
def envelope(identity: NodeIdentity, weights_file: Path) -> dict[str, Any]:
    manifest = build_manifest(
        identity,
        describe_file(weights_file),
        cid_for_raw_block(b"w"),
        parents=(cid_for_raw_block(b"p"),),
    )
    return json.loads(sign_manifest(manifest, identity.mldsa).envelope_bytes)


def test_schema_file_ships_with_the_package() -> None:
    schema = load_schema()
    assert schema["$schema"].endswith("2020-12/schema")
    manifest_def = schema["$defs"]["manifest"]
    assert manifest_def["properties"]["schema"]["const"] == SCHEMA_ID
    optional = {"round_report"}
    assert set(manifest_def["required"]) == set(Manifest.__dataclass_fields__) - optional
    assert set(manifest_def["properties"]) == set(Manifest.__dataclass_fields__)


def test_real_envelope_validates(envelope: dict[str, Any]) -> None:
    validate(envelope, load_schema())


@pytest.mark.parametrize(
    "mutate",
    [
        lambda e: e["manifest"].update(kind="other"),
        lambda e: e["manifest"].update(round=-1),
        lambda e: e["manifest"].update(federation_id="01"),
        lambda e: e["manifest"].update(extra=True),
        lambda e: e["manifest"].pop("created_at"),
        lambda e: e["manifest"]["weights"].update(sha256="0x12"),
        lambda e: e["manifest"]["weights"].update(format="pickle"),
        lambda e: e["manifest"]["weights"].update(cid="Qm" + "a" * 44),
        lambda e: e["manifest"]["metrics"].update(loss="high"),
        lambda e: e["manifest"]["signer"].update(public_key_cid=cid_for_raw_block(b"k")),
        lambda e: e["manifest"]["model"].update(spec_cid=cid_for_raw_block(b"s")),
        lambda e: e["manifest"].update(parents=[cid_for_raw_block(b"p")] * 2),
        lambda e: e["signature"].update(algorithm="Ed25519"),
        lambda e: e.update(extra=1),
    ],
)
def test_schema_and_python_validator_reject_the_same_mistakes(
    envelope: dict[str, Any], mutate: Any
) -> None:
    mutate(envelope)
    with pytest.raises(SchemaViolationError):
        validate(envelope, load_schema())
    with pytest.raises(ManifestError):
        parse_envelope(canonicalize(envelope))
