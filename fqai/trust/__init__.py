"""The trust layer: publish signed artifacts to IPFS, fetch them fully checked, verify lineage."""

from fqai.trust.fetch import (
    VerifiedManifest,
    fetch_signed_manifest,
    fetch_verified_manifest,
    fetch_weights_to_file,
    load_verified_weights,
)
from fqai.trust.publish import PublishedArtifact, publish_artifact
from fqai.trust.resolver import KeyResolver, StaticKeyResolver
from fqai.trust.verify import ArtifactReport, Check, CheckStatus, verify_artifact

__all__ = [
    "ArtifactReport",
    "Check",
    "CheckStatus",
    "KeyResolver",
    "PublishedArtifact",
    "StaticKeyResolver",
    "VerifiedManifest",
    "fetch_signed_manifest",
    "fetch_verified_manifest",
    "fetch_weights_to_file",
    "load_verified_weights",
    "publish_artifact",
    "verify_artifact",
]
