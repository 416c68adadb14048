"""SuperNode admission driven by the chain: only staked, unslashed members reach the SuperLink.

The SuperLink runs with Flower's SuperNode authentication, so it refuses any SuperNode whose
public key is not registered. :func:`admit` makes the registered set equal to the keys the chain
vouches for:

* a member is **eligible** when it is active (staked, not leaving or ejected), has registered a
  SuperNode key digest, and has not been slashed since it last joined;
* its public key is fetched from IPFS by the raw-block CID its digest names and re-hashed, and
  must be an ECDSA key on a NIST curve (what Flower accepts);
* eligible keys not yet registered are registered; registered keys whose member is no longer
  eligible (left, ejected, slashed, rotated its key) are unregistered, and so is any SuperNode
  registered by someone else where Flower allows it (Flower scopes unregistration to the
  account that registered a node; such a node is reported as foreign). Rounds send work only
  to :attr:`AdmissionReport.admitted_ids`, so a foreign SuperNode never trains.

The ledger (``admission.json`` in the coordinator's working directory) remembers which Flower
node id each admitted key got, since Flower's list does not show keys. Every change is logged and
reported; a key that cannot be admitted is reported with the reason and left out.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

from fqai.chain import FederationRegistry, MemberStatus
from fqai.chain.deployment import REGISTRY
from fqai.errors import FqaiError
from fqai.federation.flower_control import FlowerControl, FlowerControlError
from fqai.federation.supernode_key import (
    MAX_PUBLIC_KEY_BYTES,
    parse_public_key,
    public_key_cid,
)
from fqai.fsutil import atomic_writer
from fqai.ipfs.client import IpfsClient

log = logging.getLogger(__name__)

ZERO_DIGEST = "0x" + "00" * 32


@dataclass(frozen=True)
class Admission:
    """A member's SuperNode key as registered with the SuperLink."""

    node: str
    digest: str
    node_id: int


@dataclass
class AdmissionReport:
    """What one :func:`admit` pass changed."""

    registered: list[Admission] = field(default_factory=list)
    unregistered: list[Admission] = field(default_factory=list)
    kept: list[Admission] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)  # member -> why its key is not admitted
    foreign: list[int] = field(default_factory=list)  # registered by another account; kept out

    @property
    def admitted(self) -> list[Admission]:
        return [*self.kept, *self.registered]

    @property
    def admitted_ids(self) -> set[int]:
        """Flower node ids a round may send work to: the staked members' SuperNodes only."""
        return {a.node_id for a in self.admitted}

    def to_json(self) -> dict[str, object]:
        return {
            "registered": [asdict(a) for a in self.registered],
            "unregistered": [asdict(a) for a in self.unregistered],
            "kept": [asdict(a) for a in self.kept],
            "refused": dict(self.refused),
            "foreign": list(self.foreign),
        }


def eligible_keys(
    registry: FederationRegistry, federation_id: int
) -> tuple[dict[str, str], dict[str, str]]:
    """Members whose SuperNode key may be admitted (node -> digest), and why others may not."""
    joined_at: dict[str, int] = {}
    for entry in registry.chain.events(
        REGISTRY, "NodeJoined", filters={"federationId": federation_id}
    ):
        joined_at[str(entry["args"]["node"])] = int(entry["blockNumber"])
    slashed_at: dict[str, int] = {}
    for entry in registry.chain.events(
        REGISTRY, "NodeSlashed", filters={"federationId": federation_id}
    ):
        slashed_at[str(entry["args"]["node"])] = int(entry["blockNumber"])
    eligible: dict[str, str] = {}
    excluded: dict[str, str] = {}
    for node, joined_block in joined_at.items():
        member = registry.member(federation_id, node)
        if slashed_at.get(node, -1) >= joined_block:
            excluded[node] = f"slashed in block {slashed_at[node]}"
        elif member.status is not MemberStatus.ACTIVE:
            excluded[node] = "not an active member (left, ejected or released)"
        else:
            digest = registry.supernode_key_of(federation_id, node)
            if digest == ZERO_DIGEST:
                excluded[node] = "no SuperNode key registered on-chain"
            else:
                eligible[node] = digest
    return eligible, excluded


class AdmissionLedger:
    """Flower node ids of the keys this coordinator admitted, kept in a JSON file."""

    def __init__(self, path: Path, federation_id: int) -> None:
        self.path = Path(path)
        self.federation_id = federation_id
        self.entries: dict[str, Admission] = {}
        if self.path.exists():
            document = json.loads(self.path.read_text())
            if document.get("federation_id") != federation_id:
                raise FqaiError(
                    f"{self.path} is the admission ledger of federation "
                    f"{document.get('federation_id')}, not {federation_id}"
                )
            for item in document.get("admitted", []):
                admission = Admission(str(item["node"]), str(item["digest"]), int(item["node_id"]))
                self.entries[admission.digest] = admission

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_writer(self.path) as out:
            out.write(
                json.dumps(
                    {
                        "federation_id": self.federation_id,
                        "admitted": [asdict(a) for a in self.entries.values()],
                    },
                    indent=2,
                ).encode()
            )


def fetch_public_key(ipfs: IpfsClient, digest: str, key_dir: Path) -> Path:
    """Fetch the key file ``digest`` names from IPFS, check it, and store it in ``key_dir``."""
    data = ipfs.cat(public_key_cid(digest), max_size=MAX_PUBLIC_KEY_BYTES)  # raw CID: re-hashed
    parse_public_key(data, f"SuperNode key {digest}")
    key_dir.mkdir(parents=True, exist_ok=True)
    path = key_dir / f"{digest.removeprefix('0x')}.pub"
    path.write_bytes(data)
    return path


def admit(
    registry: FederationRegistry,
    ipfs: IpfsClient,
    control: FlowerControl,
    federation_id: int,
    work_dir: Path,
) -> AdmissionReport:
    """Make the SuperLink's registered SuperNodes exactly the eligible members' keys."""
    ledger = AdmissionLedger(work_dir / "admission.json", federation_id)
    eligible, excluded = eligible_keys(registry, federation_id)
    wanted = {digest: node for node, digest in eligible.items()}
    report = AdmissionReport(refused=dict(excluded))
    live = {n.node_id for n in control.nodes() if n.admitted}
    for digest, admission in list(ledger.entries.items()):
        if digest in wanted and admission.node_id in live:
            report.kept.append(admission)
            continue
        if admission.node_id in live:
            control.unregister(admission.node_id)
            report.unregistered.append(admission)
            log.info(
                "unregistered SuperNode %d of %s: %s",
                admission.node_id,
                admission.node,
                excluded.get(admission.node, "key no longer registered on-chain"),
            )
        del ledger.entries[digest]
    ours = {a.node_id for a in ledger.entries.values()}
    for node_id in sorted(live - ours):
        try:
            control.unregister(node_id)
        except FlowerControlError as exc:
            # Flower scopes unregistration to the account that registered the node; such a
            # node stays known to the SuperLink but is never sent work (see ``admitted_ids``).
            report.foreign.append(node_id)
            log.warning("SuperNode %d is not a staked member's and stays out: %s", node_id, exc)
            continue
        report.unregistered.append(Admission("", "", node_id))
        log.info("unregistered SuperNode %d: its key is not a staked member's", node_id)
    for digest, node in wanted.items():
        if digest in ledger.entries:
            continue
        try:
            key_file = fetch_public_key(ipfs, digest, work_dir / "supernode-keys")
        except FqaiError as exc:
            report.refused[node] = f"SuperNode key {digest} not admitted: {exc}"
            log.warning("%s: %s", node, report.refused[node])
            continue
        try:
            node_id = control.register(key_file)
        except FlowerControlError as exc:
            # e.g. a key unregistered earlier: Flower never accepts it again (rotate the key).
            report.refused[node] = f"SuperLink refused SuperNode key {digest}: {exc}"
            log.warning("%s: %s", node, report.refused[node])
            continue
        admission = Admission(node, digest, node_id)
        ledger.entries[digest] = admission
        report.registered.append(admission)
        log.info("registered SuperNode %d for member %s (key %s)", admission.node_id, node, digest)
    ledger.save()
    return report
