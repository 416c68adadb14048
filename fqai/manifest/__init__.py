"""Artifact manifests: model, canonical signing, envelope parsing, digest and JSON Schema."""

from fqai.manifest.envelope import (
    MAX_ENVELOPE_SIZE,
    SIGNING_CONTEXT,
    SignedManifest,
    manifest_digest,
    parse_envelope,
    sign_manifest,
    verify_envelope_signature,
)
from fqai.manifest.model import (
    KINDS,
    SCHEMA_ID,
    Manifest,
    ModelSpec,
    Signer,
    WeightsRef,
    utc_now,
)

__all__ = [
    "KINDS",
    "MAX_ENVELOPE_SIZE",
    "SCHEMA_ID",
    "SIGNING_CONTEXT",
    "Manifest",
    "ModelSpec",
    "SignedManifest",
    "Signer",
    "WeightsRef",
    "manifest_digest",
    "parse_envelope",
    "sign_manifest",
    "utc_now",
    "verify_envelope_signature",
]
