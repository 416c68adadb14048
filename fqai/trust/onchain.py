"""Checking signers and provenance against the chain: the bridge from the trust layer to the
contracts.

A model token records, on-chain, the manifest CID, the weights digest and the digest of the
ML-DSA-65 key that signed the manifest; the federation registry records each node's key digest
when it joins (``NodeJoined``). :class:`ChainKeyResolver` accepts a manifest's signer only when
the chain says that key belongs to it:

- ``update`` manifests: the signer's Ethereum address joined the manifest's federation with
  exactly this key digest (from ``NodeJoined`` events, so nodes that have since left still
  verify);
- ``round-model`` and ``published-model`` manifests: the key digest is the one the token records.

:func:`verify_token` runs the full artifact verification with that resolver and adds the
token-level checks: the weights digest and the federation round in the manifest equal the
token's provenance.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from eth_utils import to_checksum_address

from fqai.chain.client import ChainClient
from fqai.chain.registry import FederationRegistry, Provenance, hex32
from fqai.ipfs.client import IpfsClient
from fqai.manifest.model import Manifest
from fqai.trust.verify import ArtifactReport, Check, CheckStatus, verify_artifact

REGISTRY = "FederationRegistry"
#: How many parent tokens up a derived model's trust reaches.
MAX_TOKEN_DEPTH = 8


@dataclass
class ChainKeyResolver:
    """Signer trust decided by a model token's provenance and its federation's members."""

    token_id: int
    provenance: Provenance
    member_keys: dict[str, set[str]] = field(default_factory=dict)
    parent: ChainKeyResolver | None = None

    @classmethod
    def for_token(
        cls, chain: ChainClient, token_id: int, max_depth: int = MAX_TOKEN_DEPTH
    ) -> ChainKeyResolver:
        """Read the token's provenance and, for a federation model, every member key joined.

        A token minted with a parent token (a model derived from another) also trusts what its
        parent token trusts, up to ``max_depth`` tokens up, so its lineage verifies.
        """
        registry = FederationRegistry(chain)
        provenance = registry.provenance(token_id)
        members: dict[str, set[str]] = defaultdict(set)
        if provenance.federation_id:
            for entry in chain.events(
                REGISTRY, "NodeJoined", filters={"federationId": provenance.federation_id}
            ):
                args = entry["args"]
                members[to_checksum_address(args["node"])].add(hex32(args["keyDigest"]))
        parent = None
        if provenance.parent_token_id and max_depth > 0:
            parent = cls.for_token(chain, provenance.parent_token_id, max_depth - 1)
        return cls(
            token_id=token_id, provenance=provenance, member_keys=dict(members), parent=parent
        )

    @property
    def description(self) -> str:
        text = f"on-chain: token {self.token_id} signer {self.provenance.signer_key_digest[:12]}…"
        if self.provenance.federation_id:
            text += (
                f", federation {self.provenance.federation_id} "
                f"({len(self.member_keys)} member(s) ever joined)"
            )
        if self.parent is not None:
            text += f"; parent {self.parent.description}"
        return text

    def is_trusted(self, manifest: Manifest) -> bool:
        return self._trusts(manifest) or (
            self.parent is not None and self.parent.is_trusted(manifest)
        )

    def _trusts(self, manifest: Manifest) -> bool:
        signer = manifest.signer
        digest = signer.key_digest.lower()
        if manifest.kind == "update":
            if str(self.provenance.federation_id) != str(manifest.federation_id):
                return False
            address = to_checksum_address(signer.eth_address)
            return digest in self.member_keys.get(address, set())
        return digest == self.provenance.signer_key_digest.lower()


def _token_checks(report: ArtifactReport, resolver: ChainKeyResolver) -> list[Check]:
    prov = resolver.provenance
    manifest = report.manifest
    checks = []
    if report.cid != prov.manifest_cid:  # pragma: no cover - verify_token passes prov's CID
        checks.append(Check("token manifest", CheckStatus.FAIL, "CID differs from the token"))
    if manifest is None:
        return checks
    sha = manifest.weights.sha256.lower()
    if sha == prov.weights_digest.lower():
        checks.append(Check("token weights digest", CheckStatus.PASS, f"{sha} recorded on-chain"))
    else:
        checks.append(
            Check(
                "token weights digest",
                CheckStatus.FAIL,
                f"manifest weights sha256 {sha} != token's weightsDigest {prov.weights_digest}",
            )
        )
    same_round = str(manifest.federation_id) == str(prov.federation_id) and (
        manifest.round == prov.round
    )
    detail = (
        f"manifest federation {manifest.federation_id} round {manifest.round}, "
        f"token federation {prov.federation_id} round {prov.round}"
    )
    checks.append(
        Check(
            "token federation round", CheckStatus.PASS if same_round else CheckStatus.FAIL, detail
        )
    )
    return checks


def verify_token(
    chain: ChainClient,
    client: IpfsClient,
    token_id: int,
    *,
    check_weights: bool = True,
    max_depth: int = 32,
) -> ArtifactReport:
    """Verify a model token: its manifest and lineage, signers against the chain, and the
    token's recorded digests against the manifest. Never raises for a failed check."""
    resolver = ChainKeyResolver.for_token(chain, token_id)
    report = verify_artifact(
        client,
        resolver.provenance.manifest_cid,
        resolver=resolver,
        check_weights=check_weights,
        max_depth=max_depth,
    )
    report.checks.extend(_token_checks(report, resolver))
    return report
