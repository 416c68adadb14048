"""Recursive verification of an artifact and its lineage, producing a report.

For each artifact the checks run in this order and stop at the first failure:

``manifest CID``    canonical raw-codec CIDv1
``manifest fetch``  at most 256 KiB fetched; bytes re-hashed against the CID
``manifest format`` canonical JSON (RFC 8785) and schema ``fqai-manifest/1``
``signer key``      public key (inline or by CID) hashes to ``signer.key_digest``
``signature``       ML-DSA-65 over the canonical manifest, context ``fqai-manifest-v1``
``signer trust``    the resolver accepts the signer; "not checked" without a resolver
``weights``         fetched; size, sha256 (and raw CID) match; tensors match the header
``parents``         every parent verified recursively (depth limit, cycle and size guards),
                    same federation, parent round not after the child's round
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from fqai.errors import FqaiError
from fqai.ipfs.client import IpfsClient, ProgressCallback
from fqai.manifest.envelope import (
    MAX_ENVELOPE_SIZE,
    SIGNING_CONTEXT,
    SignedManifest,
    check_signer_key,
    parse_envelope,
    verify_envelope_signature,
)
from fqai.manifest.model import Manifest
from fqai.trust.fetch import (
    check_trust,
    check_weights_stream,
    require_manifest_cid,
    resolve_signer_key,
)
from fqai.trust.resolver import KeyResolver

log = logging.getLogger(__name__)

DEFAULT_MAX_DEPTH = 32
DEFAULT_MAX_ARTIFACTS = 1024
NOT_CHECKED = "not checked against a registry"


class CheckStatus(StrEnum):
    """Outcome of one check."""

    PASS = "pass"
    FAIL = "fail"
    SKIP = "not checked"


@dataclass
class Check:
    """One named check and its outcome."""

    name: str
    status: CheckStatus
    detail: str
    error: FqaiError | None = None


@dataclass
class ArtifactReport:
    """Verification results of one artifact and, recursively, its parents."""

    cid: str
    depth: int
    checks: list[Check] = field(default_factory=list)
    manifest: Manifest | None = None
    digest: str | None = None
    parents: list[ArtifactReport] = field(default_factory=list)
    note: str | None = None

    @property
    def ok(self) -> bool:
        """No failed check here or in any parent."""
        return all(c.status is not CheckStatus.FAIL for c in self.checks) and all(
            p.ok for p in self.parents
        )

    def walk(self) -> Iterator[ArtifactReport]:
        """This report and all parent reports, depth first."""
        yield self
        for parent in self.parents:
            yield from parent.walk()

    def first_failure(self) -> tuple[ArtifactReport, Check] | None:
        """The first failed check in depth-first order (the root's own checks first)."""
        for check in self.checks:
            if check.status is CheckStatus.FAIL and check.name != "parents":
                return self, check
        for parent in self.parents:
            found = parent.first_failure()
            if found:
                return found
        for check in self.checks:
            if check.status is CheckStatus.FAIL:
                return self, check
        return None

    def _run(self, name: str, func: Callable[[], tuple[str, Any]]) -> tuple[bool, Any]:
        try:
            detail, value = func()
        except FqaiError as exc:
            self.checks.append(Check(name, CheckStatus.FAIL, str(exc), exc))
            log.info("check %r failed for %s: %s", name, self.cid, exc)
            return False, None
        self.checks.append(Check(name, CheckStatus.PASS, detail))
        return True, value


WeightsProgressFactory = Callable[[str, int], tuple[ProgressCallback, Callable[[], None]]]


@dataclass
class _Context:
    client: IpfsClient
    resolver: KeyResolver | None
    check_weights: bool
    max_depth: int
    max_artifacts: int
    progress: WeightsProgressFactory | None
    seen: dict[str, ArtifactReport] = field(default_factory=dict)


def verify_artifact(
    client: IpfsClient,
    cid: str,
    *,
    resolver: KeyResolver | None = None,
    check_weights: bool = True,
    max_depth: int = DEFAULT_MAX_DEPTH,
    max_artifacts: int = DEFAULT_MAX_ARTIFACTS,
    weights_progress: WeightsProgressFactory | None = None,
) -> ArtifactReport:
    """Verify the artifact whose manifest is at ``cid``, and its parents recursively.

    Parameters
    ----------
    client
        IPFS client used for every fetch.
    cid
        Manifest CID.
    resolver
        Decides which signer keys are legitimate; ``None`` reports "not checked against a
        registry".
    check_weights
        Fetch and check every artifact's weights (default) or skip them.
    max_depth
        Parents deeper than this fail the ``parents`` check instead of being fetched.
    max_artifacts
        Most distinct manifests fetched in one verification.
    weights_progress
        ``(cid, size) -> (advance, done)`` callbacks for showing download progress.

    Returns
    -------
    ArtifactReport
        Never raises for a failed check; inspect :attr:`ArtifactReport.ok`.
    """
    context = _Context(client, resolver, check_weights, max_depth, max_artifacts, weights_progress)
    return _verify(context, cid, 0, ())


def _verify(context: _Context, cid: str, depth: int, ancestors: tuple[str, ...]) -> ArtifactReport:
    report = ArtifactReport(cid=cid, depth=depth)
    context.seen[cid] = report
    client = context.client

    ok, _ = report._run("manifest CID", lambda: ("raw CIDv1", require_manifest_cid(cid)))
    if not ok:
        return report

    def fetch() -> tuple[str, bytes]:
        data = client.cat(cid, max_size=MAX_ENVELOPE_SIZE)
        return f"{len(data)} bytes, sha256 matches the CID", data

    ok, data = report._run("manifest fetch", fetch)
    if not ok:
        return report

    def parse() -> tuple[str, SignedManifest]:
        signed = parse_envelope(data, source=f"manifest {cid}")
        manifest = signed.manifest
        detail = (
            f"canonical JSON, {manifest.schema}, kind {manifest.kind}, "
            f"federation {manifest.federation_id}, round {manifest.round}"
        )
        return detail, signed

    ok, signed = report._run("manifest format", parse)
    if not ok:
        return report
    manifest = signed.manifest
    report.manifest = manifest
    report.digest = signed.digest
    source = f"manifest {cid}"

    def signer_key() -> tuple[str, bytes]:
        key = resolve_signer_key(client, manifest.signer, source)
        check_signer_key(manifest, key, source)
        where = "inline" if manifest.signer.public_key is not None else "by CID"
        return f"{manifest.signer.key_digest} ({where}), {manifest.signer.eth_address}", key

    ok, public_key = report._run("signer key", signer_key)
    if not ok:
        return report

    def signature() -> tuple[str, None]:
        verify_envelope_signature(signed, public_key, source)
        return f"ML-DSA-65, context {SIGNING_CONTEXT.decode()}", None

    ok, _ = report._run("signature", signature)
    if not ok:
        return report

    if context.resolver is None:
        report.checks.append(Check("signer trust", CheckStatus.SKIP, NOT_CHECKED))
    else:
        resolver = context.resolver
        ok, _ = report._run(
            "signer trust",
            lambda: (
                f"accepted by {resolver.description}",
                check_trust(manifest, resolver, source),
            ),
        )
        if not ok:
            return report

    if context.check_weights:

        def weights() -> tuple[str, None]:
            ref = manifest.weights
            advance, done = (None, None)
            if context.progress is not None:
                advance, done = context.progress(ref.cid, ref.size)
            try:
                check_weights_stream(client, manifest, advance)
            finally:
                if done is not None:
                    done()
            if ref.encryption is not None:
                return (
                    f"{ref.cid}: {ref.size} bytes of {ref.encryption.scheme} ciphertext, sha256 "
                    f"{ref.sha256} (licensed-only: the plaintext is checked after decryption)",
                    None,
                )
            return (
                f"{ref.cid}: {ref.size} bytes, sha256 {ref.sha256}, {len(ref.tensors)} tensors",
                None,
            )

        ok, _ = report._run("weights", weights)
        if not ok:
            return report
    else:
        report.checks.append(Check("weights", CheckStatus.SKIP, "skipped (--no-weights)"))

    _verify_parents(context, report, manifest, depth, (*ancestors, cid))
    return report


def _verify_parents(
    context: _Context,
    report: ArtifactReport,
    manifest: Manifest,
    depth: int,
    ancestors: tuple[str, ...],
) -> None:
    if not manifest.parents:
        report.checks.append(Check("parents", CheckStatus.PASS, "none"))
        return
    problems: list[str] = []
    for parent_cid in manifest.parents:
        if parent_cid in ancestors:
            problems.append(f"{parent_cid}: cycle in the parent graph")
            continue
        if depth + 1 > context.max_depth:
            problems.append(
                f"{parent_cid}: lineage deeper than the depth limit {context.max_depth}"
            )
            continue
        previous = context.seen.get(parent_cid)
        if previous is not None:
            stub = ArtifactReport(
                cid=parent_cid,
                depth=depth + 1,
                manifest=previous.manifest,
                digest=previous.digest,
                note="verified above",
            )
            report.parents.append(stub)
            parent_report = previous
        else:
            if len(context.seen) >= context.max_artifacts:
                problems.append(
                    f"{parent_cid}: more than {context.max_artifacts} artifacts in the lineage"
                )
                continue
            parent_report = _verify(context, parent_cid, depth + 1, ancestors)
            report.parents.append(parent_report)
        if not parent_report.ok:
            problems.append(f"{parent_cid}: failed verification")
            continue
        parent = parent_report.manifest
        if parent is not None and parent.federation_id != manifest.federation_id:
            # A model published outside federations (federation 0) may derive from any
            # federation's model; inside a federation the lineage stays in it.
            if manifest.kind != "published-model" or manifest.federation_id != "0":
                problems.append(
                    f"{parent_cid}: belongs to federation {parent.federation_id}, "
                    f"not {manifest.federation_id}"
                )
        elif parent is not None and parent.round > manifest.round:
            problems.append(f"{parent_cid}: round {parent.round} is after round {manifest.round}")
    if problems:
        report.checks.append(Check("parents", CheckStatus.FAIL, "; ".join(problems)))
    else:
        report.checks.append(
            Check("parents", CheckStatus.PASS, f"{len(manifest.parents)} verified")
        )
