"""Fetching artifacts from IPFS with every check done before anything is used.

Checks, in order, for a manifest CID:

1. the CID is a canonical raw-codec CIDv1 (envelopes are single blocks);
2. at most 256 KiB are read, and the bytes re-hash to the CID (so the daemon is not trusted);
3. the bytes are canonical JSON (RFC 8785) and satisfy the schema;
4. the signer's public key (inline, or fetched by its raw CID and re-hashed) hashes to
   ``signer.key_digest``;
5. the ML-DSA-65 signature verifies over the canonical manifest with context
   ``fqai-manifest-v1``;
6. if a :class:`~fqai.trust.resolver.KeyResolver` is given, it accepts the signer.

Weights are then fetched with a cap of exactly ``weights.size`` bytes, their size and sha256 are
compared with the signed manifest (and, for a raw CID, with the CID), and the safetensors header
must list the manifest's tensors; only then are they written (atomically) or deserialised.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from fqai.crypto import mldsa
from fqai.errors import (
    DigestMismatchError,
    EncryptedWeightsError,
    ManifestError,
    UntrustedSignerError,
    WeightsError,
)
from fqai.ipfs.cid import CODEC_RAW, is_canonical_cid, parse_cid
from fqai.ipfs.client import (
    IpfsClient,
    ProgressCallback,
    check_raw_cid,
    check_raw_cid_digest,
)
from fqai.manifest.envelope import (
    MAX_ENVELOPE_SIZE,
    SignedManifest,
    check_signer_key,
    parse_envelope,
    verify_envelope_signature,
)
from fqai.manifest.model import Manifest, Signer
from fqai.trust.resolver import KeyResolver
from fqai.weights import check_bytes, check_tensors, header_length, load_bytes, parse_header

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VerifiedManifest:
    """A manifest whose CID, canonical form, schema and signature were checked."""

    cid: str
    signed: SignedManifest
    signer_public_key: bytes
    trusted: bool | None

    @property
    def manifest(self) -> Manifest:
        return self.signed.manifest

    @property
    def digest(self) -> str:
        """The manifest digest (sha256 of the canonical signed payload)."""
        return self.signed.digest


def require_manifest_cid(cid: str) -> str:
    """Require a canonical raw-codec CIDv1 (what :func:`publish_artifact` produces)."""
    if not is_canonical_cid(cid):
        raise ManifestError(f"manifest CID {cid!r} is not a CIDv1 in base32")
    if parse_cid(cid).codec != CODEC_RAW:
        raise ManifestError(
            f"manifest CID {cid} is not a raw-codec CID; signed envelopes are single raw blocks"
        )
    return cid


def fetch_signed_manifest(client: IpfsClient, cid: str) -> SignedManifest:
    """Fetch and parse an envelope (checks 1-3). The signature is not checked yet."""
    require_manifest_cid(cid)
    data = client.cat(cid, max_size=MAX_ENVELOPE_SIZE)
    return parse_envelope(data, source=f"manifest {cid}")


def resolve_signer_key(client: IpfsClient, signer: Signer, source: str) -> bytes:
    """The signer's ML-DSA-65 public key: inline, or fetched by raw CID and re-hashed."""
    if signer.public_key is not None:
        return signer.public_key
    assert signer.public_key_cid is not None
    key = client.cat(signer.public_key_cid, max_size=mldsa.PUBLIC_KEY_SIZE)
    if len(key) != mldsa.PUBLIC_KEY_SIZE:
        raise ManifestError(
            f"{source}: public key {signer.public_key_cid} is {len(key)} bytes, "
            f"expected {mldsa.PUBLIC_KEY_SIZE}"
        )
    return key


def check_trust(manifest: Manifest, resolver: KeyResolver | None, source: str) -> bool | None:
    """Apply ``resolver``; ``None`` when there is none (not checked against a registry)."""
    if resolver is None:
        return None
    if not resolver.is_trusted(manifest):
        raise UntrustedSignerError(
            f"{source}: signer key {manifest.signer.key_digest} "
            f"({manifest.signer.eth_address}) is not trusted by {resolver.description}"
        )
    return True


def fetch_verified_manifest(
    client: IpfsClient, cid: str, resolver: KeyResolver | None = None
) -> VerifiedManifest:
    """Fetch a manifest and run checks 1-6.

    Raises
    ------
    ManifestError, DigestMismatchError, SignatureError, UntrustedSignerError, IpfsError
        The first check that fails; messages name the CID.
    """
    signed = fetch_signed_manifest(client, cid)
    source = f"manifest {cid}"
    public_key = resolve_signer_key(client, signed.manifest.signer, source)
    check_signer_key(signed.manifest, public_key, source)
    verify_envelope_signature(signed, public_key, source)
    trusted = check_trust(signed.manifest, resolver, source)
    log.info("verified manifest %s signed by %s", cid, signed.manifest.signer.key_digest)
    return VerifiedManifest(cid=cid, signed=signed, signer_public_key=public_key, trusted=trusted)


def fetch_weights_to_file(
    client: IpfsClient,
    manifest: Manifest,
    dest: Path,
    progress: ProgressCallback | None = None,
) -> Path:
    """Download the weights of a verified manifest to ``dest``; nothing appears unless all
    checks pass (size, sha256, raw CID if applicable, safetensors header vs. tensors)."""
    ref = manifest.weights
    source = f"weights {ref.cid}"
    require_plaintext(manifest)

    def check_header(tmp_path: str) -> None:
        data = Path(tmp_path).read_bytes()
        check_tensors(parse_header(data, source), ref.tensors, source)

    client.cat_to_file(
        ref.cid,
        Path(dest),
        max_size=ref.size,
        expected_sha256=ref.sha256,
        expected_size=ref.size,
        progress=progress,
        before_commit=check_header,
    )
    log.info("fetched %s (%d bytes) to %s", source, ref.size, dest)
    return Path(dest)


def fetch_weights_bytes(client: IpfsClient, manifest: Manifest) -> bytes:
    """Fetch the weights into memory and check size, sha256 and tensors (not deserialised)."""
    require_plaintext(manifest)
    ref = manifest.weights
    source = f"weights {ref.cid}"
    data = b"".join(client.iter_content(ref.cid, max_size=ref.size))
    check_bytes(data, ref.info, source)
    check_raw_cid(ref.cid, data)
    return data


def fetch_ciphertext(client: IpfsClient, manifest: Manifest) -> bytes:
    """Fetch a licensed-only model's encrypted weights, checking size, sha256 and raw CID."""
    ref = manifest.weights
    if ref.encryption is None:
        raise EncryptedWeightsError(f"weights {ref.cid} are not encrypted")
    source = f"encrypted weights {ref.cid}"
    data = b"".join(client.iter_content(ref.cid, max_size=ref.size))
    if len(data) != ref.size:
        raise DigestMismatchError(f"size of {source}", f"{ref.size} bytes", f"{len(data)}")
    actual = "0x" + hashlib.sha256(data).hexdigest()
    if actual != ref.sha256:
        raise DigestMismatchError(f"sha256 of {source}", ref.sha256, actual)
    check_raw_cid(ref.cid, data)
    return data


def require_plaintext(manifest: Manifest) -> None:
    """Refuse, with the way out, to treat a licensed-only model's ciphertext as weights."""
    if manifest.weights.encryption is not None:
        raise EncryptedWeightsError(
            f"weights {manifest.weights.cid} are encrypted (licensed-only model): a licensee "
            "gets them with `fqai model fetch <tokenId>`"
        )


def load_verified_weights(
    client: IpfsClient,
    cid: str,
    resolver: KeyResolver | None = None,
    framework: Literal["numpy", "pt"] = "numpy",
) -> tuple[VerifiedManifest, dict[str, Any]]:
    """Verify the manifest at ``cid``, then fetch, check and deserialise its weights."""
    verified = fetch_verified_manifest(client, cid, resolver)
    ref = verified.manifest.weights
    data = fetch_weights_bytes(client, verified.manifest)
    return verified, load_bytes(data, ref.info, f"weights {ref.cid}", framework)


def check_weights_stream(
    client: IpfsClient, manifest: Manifest, progress: ProgressCallback | None = None
) -> None:
    """Stream the weights once, hashing them and keeping only the header in memory.

    Checks size, sha256, the raw CID if applicable, and the safetensors header against the
    manifest's tensors, without writing anything or deserialising a tensor.
    """
    ref = manifest.weights
    source = f"weights {ref.cid}"
    hasher = hashlib.sha256()
    head = bytearray()
    needed = 8
    size = 0
    for chunk in client.iter_content(ref.cid, max_size=ref.size):
        hasher.update(chunk)
        size += len(chunk)
        pos = 0
        while len(head) < needed and pos < len(chunk):
            piece = chunk[pos : pos + needed - len(head)]
            head += piece
            pos += len(piece)
            if needed == 8 and len(head) == 8:
                try:
                    needed = 8 + header_length(bytes(head), source, ref.size)
                except WeightsError:
                    needed = 8  # reported below, after the digests were checked
        if progress is not None:
            progress(len(chunk))
    if size != ref.size:
        raise DigestMismatchError(f"size of {source}", f"{ref.size} bytes", f"{size}")
    digest = hasher.digest()
    actual = "0x" + digest.hex()
    if actual != ref.sha256:
        raise DigestMismatchError(f"sha256 of {source}", ref.sha256, actual)
    check_raw_cid_digest(ref.cid, digest)
    if ref.encryption is not None:
        return  # ciphertext: its header is checked by a licensee after decryption
    check_tensors(parse_header(bytes(head), source, total_size=size), ref.tensors, source)
