"""Pure unit tests of the lineage walk with an in-memory content store (no IPFS).

A real cycle cannot be built on IPFS (a manifest would have to contain its own hash), so the
cycle guard is exercised here with a store that maps made-up CIDs to envelopes.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from fqai.errors import IpfsError
from fqai.ipfs.cid import cid_for_raw_block
from fqai.keystore import NodeIdentity
from fqai.manifest import sign_manifest
from fqai.trust import CheckStatus, verify_artifact
from fqai.weights import describe_file

from .conftest import build_manifest


class MemoryStore:
    """Just enough of IpfsClient for verify_artifact with check_weights=False."""

    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}

    def cat(self, cid: str, *, max_size: int) -> bytes:
        if cid not in self.blobs:
            raise IpfsError(f"no content for {cid}")
        return self.blobs[cid][: max_size + 1]

    def iter_content(self, cid: str, *, max_size: int) -> Iterator[bytes]:
        yield self.cat(cid, max_size=max_size)


def test_cycle_in_parent_graph_is_reported(identity: NodeIdentity, weights_file: Path) -> None:
    info = describe_file(weights_file)
    cid_a, cid_b = cid_for_raw_block(b"A"), cid_for_raw_block(b"B")
    store = MemoryStore()
    for own, parent in ((cid_a, cid_b), (cid_b, cid_a)):
        manifest = build_manifest(identity, info, cid_for_raw_block(b"w"), parents=(parent,))
        store.blobs[own] = sign_manifest(manifest, identity.mldsa).envelope_bytes
    report = verify_artifact(store, cid_a, check_weights=False)  # type: ignore[arg-type]
    assert not report.ok
    where, check = report.first_failure()
    assert check.name == "parents"
    assert "cycle" in check.detail and cid_a in check.detail
    assert where.cid == cid_b


def test_artifact_limit(identity: NodeIdentity, weights_file: Path) -> None:
    info = describe_file(weights_file)
    store = MemoryStore()
    parents = tuple(cid_for_raw_block(bytes([i])) for i in range(3))
    for cid in parents:
        store.blobs[cid] = sign_manifest(
            build_manifest(identity, info, cid_for_raw_block(b"w")), identity.mldsa
        ).envelope_bytes
    root = cid_for_raw_block(b"root")
    store.blobs[root] = sign_manifest(
        build_manifest(identity, info, cid_for_raw_block(b"w"), parents=parents), identity.mldsa
    ).envelope_bytes
    report = verify_artifact(store, root, check_weights=False, max_artifacts=2)  # type: ignore[arg-type]
    parents_check = next(c for c in report.checks if c.name == "parents")
    assert parents_check.status is CheckStatus.FAIL
    assert "more than 2 artifacts" in parents_check.detail
    weights_check = next(c for c in report.checks if c.name == "weights")
    assert weights_check.status is CheckStatus.SKIP
