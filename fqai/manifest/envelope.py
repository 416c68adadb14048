"""Signing manifests and parsing signed envelopes.

* Signed payload: the RFC 8785 canonical bytes of the manifest object.
* Signature: ML-DSA-65 (FIPS 204, pure mode) over the payload with context ``fqai-manifest-v1``.
* Envelope (what is stored on IPFS): the canonical bytes of
  ``{"manifest": <manifest>, "signature": {"algorithm": "ML-DSA-65", "value": <base64>}}``,
  at most 256 KiB, so it is always a single raw IPFS block.
* Manifest digest (what goes on-chain): sha256 of the signed payload, ``0x``-hex bytes32.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fqai.crypto import mldsa
from fqai.encoding import b64decode_strict, b64encode, sha256_bytes32
from fqai.errors import (
    CanonicalizationError,
    DigestMismatchError,
    ManifestError,
    SignatureError,
)
from fqai.jcs import canonicalize, parse_canonical
from fqai.manifest.model import Manifest

SIGNING_CONTEXT = b"fqai-manifest-v1"
MAX_ENVELOPE_SIZE = 256 * 1024


@dataclass(frozen=True)
class SignedManifest:
    """A manifest with its signature and the exact envelope bytes."""

    manifest: Manifest
    signature: bytes = field(repr=False)
    envelope_bytes: bytes = field(repr=False)

    @property
    def payload_bytes(self) -> bytes:
        """The signed payload: canonical bytes of the manifest."""
        return self.manifest.canonical_bytes()

    @property
    def digest(self) -> str:
        """The manifest digest recorded on-chain (see :func:`manifest_digest`)."""
        return manifest_digest(self.manifest)


def manifest_digest(manifest: Manifest) -> str:
    """sha256 of the canonical manifest bytes (the signed payload), as ``0x``-hex bytes32."""
    return sha256_bytes32(manifest.canonical_bytes())


def _envelope_json(manifest: Manifest, signature: bytes) -> dict[str, Any]:
    return {
        "manifest": manifest.to_json(),
        "signature": {"algorithm": mldsa.ALGORITHM, "value": b64encode(signature)},
    }


def sign_manifest(manifest: Manifest, keypair: mldsa.MlDsaKeyPair) -> SignedManifest:
    """Validate, canonicalise and sign ``manifest`` with ``keypair``.

    Raises
    ------
    ManifestError
        The manifest is invalid, its signer section does not describe ``keypair``, or the
        envelope would exceed 256 KiB.
    """
    try:
        manifest.validate()
        payload = manifest.canonical_bytes()
    except CanonicalizationError as exc:
        raise ManifestError(f"manifest cannot be canonicalised: {exc}") from exc
    digest = mldsa.key_digest(keypair.public_key)
    if manifest.signer.key_digest != digest:
        raise ManifestError(
            f"manifest signer.key_digest {manifest.signer.key_digest} is not the digest "
            f"{digest} of the signing key"
        )
    if manifest.signer.public_key is not None and manifest.signer.public_key != keypair.public_key:
        raise ManifestError("manifest signer.public_key is not the signing key")
    signature = mldsa.sign(keypair.secret_key, payload, SIGNING_CONTEXT)
    mldsa.verify(keypair.public_key, payload, signature, SIGNING_CONTEXT)
    envelope = canonicalize(_envelope_json(manifest, signature))
    if len(envelope) > MAX_ENVELOPE_SIZE:
        raise ManifestError(
            f"signed envelope is {len(envelope)} bytes, above the {MAX_ENVELOPE_SIZE}-byte cap"
        )
    return SignedManifest(manifest=manifest, signature=signature, envelope_bytes=envelope)


def parse_envelope(data: bytes, source: str = "envelope") -> SignedManifest:
    """Parse envelope bytes: size cap first, then canonical JSON, then the schema.

    The signature is *not* checked here; see :func:`verify_envelope_signature`.

    Raises
    ------
    ManifestError
        Naming ``source`` and what is wrong.
    """
    if len(data) > MAX_ENVELOPE_SIZE:
        raise ManifestError(
            f"{source}: envelope is {len(data)} bytes, above the {MAX_ENVELOPE_SIZE}-byte cap"
        )
    try:
        document = parse_canonical(data)
        if not isinstance(document, dict) or set(document) != {"manifest", "signature"}:
            raise ManifestError("envelope must be an object with 'manifest' and 'signature'")
        signature_obj = document["signature"]
        if not isinstance(signature_obj, dict) or set(signature_obj) != {"algorithm", "value"}:
            raise ManifestError("envelope signature must have 'algorithm' and 'value'")
        if signature_obj["algorithm"] != mldsa.ALGORITHM:
            raise ManifestError(f"unsupported signature algorithm {signature_obj['algorithm']!r}")
        value = signature_obj["value"]
        if not isinstance(value, str):
            raise ManifestError("signature value must be a base64 string")
        try:
            signature = b64decode_strict(value)
        except ValueError as exc:
            raise ManifestError(f"signature value: {exc}") from exc
        manifest = Manifest.from_json(document["manifest"])
    except ManifestError as exc:
        raise ManifestError(f"{source}: {exc}") from exc
    return SignedManifest(manifest=manifest, signature=signature, envelope_bytes=data)


def verify_envelope_signature(signed: SignedManifest, public_key: bytes, source: str) -> None:
    """Check that ``public_key`` is the manifest's signer key and that the signature verifies.

    Raises
    ------
    DigestMismatchError
        via :func:`check_signer_key`, if the key does not hash to ``signer.key_digest``.
    SignatureError
        If the ML-DSA-65 signature over the canonical manifest with context
        ``fqai-manifest-v1`` does not verify.
    """
    check_signer_key(signed.manifest, public_key, source)
    try:
        mldsa.verify(public_key, signed.payload_bytes, signed.signature, SIGNING_CONTEXT)
    except SignatureError as exc:
        raise SignatureError(f"{source}: {exc}") from exc


def check_signer_key(manifest: Manifest, public_key: bytes, source: str) -> None:
    """Require sha256(public_key) == ``manifest.signer.key_digest``."""
    actual = mldsa.key_digest(public_key)
    if actual != manifest.signer.key_digest:
        raise DigestMismatchError(
            f"{source}: signer public key digest", manifest.signer.key_digest, actual
        )
