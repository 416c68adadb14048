"""Publishing an artifact: weights and signed manifest to IPFS, both pinned."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from fqai.crypto import mldsa
from fqai.delivery.content import encrypt_weights
from fqai.encoding import sha256_bytes32
from fqai.ipfs.client import IpfsClient
from fqai.keystore.store import NodeIdentity
from fqai.manifest.envelope import SignedManifest, sign_manifest
from fqai.manifest.model import Encryption, Manifest, ModelSpec, Signer, WeightsRef, utc_now
from fqai.weights import describe_file

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PublishedArtifact:
    """Where a published artifact lives and what to record on-chain."""

    manifest_cid: str
    manifest_digest: str
    weights_cid: str
    signed: SignedManifest

    @property
    def manifest(self) -> Manifest:
        return self.signed.manifest


def signer_for(identity: NodeIdentity, public_key_cid: str | None = None) -> Signer:
    """The manifest ``signer`` section of an unlocked identity (key inline unless a CID given)."""
    public = identity.public
    return Signer(
        key_digest=public.mldsa_key_digest,
        eth_address=public.eth_address,
        public_key=None if public_key_cid else public.mldsa_public_key,
        public_key_cid=public_key_cid,
    )


def publish_artifact(
    client: IpfsClient,
    identity: NodeIdentity,
    weights_path: Path,
    *,
    kind: str,
    federation_id: str | int,
    round: int,
    model: ModelSpec,
    parents: Iterable[str] = (),
    metrics: Mapping[str, int | float] | None = None,
    created_at: str | None = None,
    public_key_by_cid: bool = False,
    round_report: str | None = None,
    content_key: bytes | None = None,
) -> PublishedArtifact:
    """Add the weights, build and sign the manifest, add the envelope; return the CIDs.

    Parameters
    ----------
    client
        IPFS client; content is added pinned.
    identity
        Unlocked keystore whose ML-DSA-65 key signs.
    weights_path
        A safetensors file.
    kind
        ``update``, ``round-model`` or ``published-model``.
    federation_id, round
        Which federation and round the artifact belongs to.
    model
        Model name and params (or spec CID).
    parents
        Manifest CIDs this artifact derives from.
    metrics
        Numbers such as loss or accuracy.
    created_at
        RFC 3339 UTC time; default now.
    public_key_by_cid
        Store the public key as its own IPFS block and reference it by CID instead of inline.
    round_report
        For a ``round-model``: CID of the signed round report it was computed under.
    content_key
        Publish licensed-only: the weights are pinned encrypted under this AES-256 key and the
        manifest describes the ciphertext (``weights.encryption``).

    Raises
    ------
    WeightsError
        The file is not valid safetensors.
    ManifestError
        The manifest is invalid.
    IpfsError
        Adding failed.
    """
    info = describe_file(Path(weights_path))
    encryption = None
    if content_key is None:
        weights_cid = client.add_file(Path(weights_path))
        digest, size = info.sha256, info.size
    else:
        blob = encrypt_weights(Path(weights_path).read_bytes(), content_key)
        weights_cid = client.add_bytes(blob)
        digest, size = sha256_bytes32(blob), len(blob)
        encryption = Encryption(plaintext_sha256=info.sha256, plaintext_size=info.size)
    key_cid = None
    if public_key_by_cid:
        key_cid = client.add_bytes(identity.mldsa.public_key)
    manifest = Manifest(
        kind=kind,
        federation_id=str(federation_id),
        round=round,
        weights=WeightsRef(
            cid=weights_cid,
            sha256=digest,
            size=size,
            tensors=info.tensors,
            encryption=encryption,
        ),
        model=model,
        signer=signer_for(identity, key_cid),
        created_at=created_at or utc_now(),
        parents=tuple(parents),
        metrics=dict(metrics or {}),
        round_report=round_report,
    )
    manifest = manifest.validate()
    signed = sign_manifest(manifest, identity.mldsa)
    manifest_cid = client.add_bytes(signed.envelope_bytes)
    log.info(
        "published %s manifest %s (digest %s, weights %s, signer %s)",
        kind,
        manifest_cid,
        signed.digest,
        weights_cid,
        mldsa.key_digest(identity.mldsa.public_key),
    )
    return PublishedArtifact(
        manifest_cid=manifest_cid,
        manifest_digest=signed.digest,
        weights_cid=weights_cid,
        signed=signed,
    )
