"""The round report ("round manifest"): what the coordinator decided in a round, signed and pinned.

One JSON document per finalised round, pinned to IPFS *before* ``finalizeRound`` is sent::

    {"report": {...}, "signature": {"algorithm": "ML-DSA-65", "key_digest": "0x…",
                                     "value": "<base64>"}}

``report`` holds the federation, round, coordinator account, strategy and quorum, every
accepted update (node, manifest CID and digest, samples, train loss), every rejected update
with its reason, the selection (contributors in ascending address order and their weights,
exactly as sent to ``finalizeRound``), the Merkle root (``acceptedRoot`` on-chain) with its
leaves, the round model's manifest CID, and metrics. The signature is ML-DSA-65 over the RFC 8785
canonical bytes of ``report`` with context ``fqai-round-report-v1``, by the coordinator's key.
"""

from __future__ import annotations

import base64
from dataclasses import asdict, dataclass
from importlib.metadata import version
from typing import TYPE_CHECKING, Any

import numpy as np

from fqai.crypto import mldsa
from fqai.errors import FqaiError
from fqai.federation.aggregation import accepted_root
from fqai.federation.errors import FederationError
from fqai.jcs import canonicalize

if TYPE_CHECKING:
    from fqai.federation.records import RoundRecord, RunRecord
    from fqai.ipfs.client import IpfsClient
    from fqai.keystore import NodeIdentity

REPORT_SCHEMA = "fqai/round-report/1"
REPORT_CONTEXT = b"fqai-round-report-v1"
MAX_REPORT_SIZE = 1 << 20


@dataclass(frozen=True)
class RoundReport:
    """A fetched, signature-checked round report."""

    cid: str
    body: dict[str, Any]
    key_digest: str


def report_body(record: RunRecord, current: RoundRecord, **metrics: Any) -> dict[str, Any]:
    """The ``report`` object of a round about to be finalised."""
    digests = sorted(a.manifest_digest for a in current.accepted)
    return {
        "schema": REPORT_SCHEMA,
        "federation_id": record.federation_id,
        "round": current.round,
        "strategy": record.strategy,
        "quorum": record.quorum,
        "aggregation": {
            **record.aggregation,
            "order": "accepted updates by ascending node address",
            "weights": "num-examples = the update's signed samples, at most samples_clip x median",
            "precision": "float arrays widened to float64 before the strategy; the result is "
            "rounded to the model's float32 (round to nearest, ties to even)",
            "output": "cast to the model's dtypes (float32), saved as safetensors",
            "flwr": version("flwr"),
            "numpy": np.__version__,
        },
        "accepted": [
            {
                **asdict(a),
                "flower_node_id": None if a.flower_node_id is None else str(a.flower_node_id),
            }
            for a in sorted(current.accepted, key=lambda a: int(a.node, 16))
        ],
        "rejected": [
            {
                "reason": r.reason,
                "detail": r.detail,
                "node": r.node,
                "manifest_cid": r.manifest_cid,
            }
            for r in current.rejected
        ],
        "selection": current.selection,
        "contributions": {"contributors": current.contributors, "weights": current.weights},
        "merkle": {
            "root": current.accepted_root,
            "leaves": digests,
            "definition": "sha256 binary tree over sorted 32-byte leaves; odd node carried up",
        },
        "model": {"weights_sha256": current.model_weights_sha256},
        "privacy": None
        if current.dp_epsilon is None
        else {
            "mechanism": "DP-SGD at every node (Opacus), record-level",
            "accountant": "RDP (Opacus), composed over all rounds of each node",
            "epsilon": current.dp_epsilon,
        },
        "metrics": {
            "accuracy": current.accuracy,
            "loss": current.loss,
            **metrics,
        },
    }


def publish_round_report(
    ipfs: IpfsClient,
    identity: NodeIdentity,
    record: RunRecord,
    current: RoundRecord,
    **metrics: Any,
) -> str:
    """Sign and pin the round report; return its CID."""
    body = report_body(record, current, **metrics)
    body["coordinator"] = identity.public.eth_address
    payload = canonicalize(body)
    signature = mldsa.sign(identity.mldsa.secret_key, payload, REPORT_CONTEXT)
    document = {
        "report": body,
        "signature": {
            "algorithm": "ML-DSA-65",
            "key_digest": identity.public.mldsa_key_digest,
            "public_key": base64.b64encode(identity.mldsa.public_key).decode(),
            "value": base64.b64encode(signature).decode(),
        },
    }
    return ipfs.add_bytes(canonicalize(document))


def fetch_round_report(ipfs: IpfsClient, cid: str) -> RoundReport:
    """Fetch a round report, check its signature and that its Merkle root matches its leaves.

    Raises
    ------
    FederationError
        Malformed, bad signature, or a root that its leaves do not give.
    """
    import json

    try:
        document = json.loads(ipfs.cat(cid, max_size=MAX_REPORT_SIZE))
        body = document["report"]
        sig = document["signature"]
        public_key = base64.b64decode(sig["public_key"])
        if mldsa.key_digest(public_key) != sig["key_digest"]:
            raise FederationError(f"round report {cid}: public key does not match its digest")
        mldsa.verify(public_key, canonicalize(body), base64.b64decode(sig["value"]), REPORT_CONTEXT)
    except (KeyError, TypeError, ValueError, FqaiError) as exc:
        if isinstance(exc, FederationError):
            raise
        raise FederationError(f"round report {cid} does not verify: {exc}") from exc
    if body.get("schema") != REPORT_SCHEMA:
        raise FederationError(f"round report {cid}: unknown schema {body.get('schema')!r}")
    if accepted_root(body["merkle"]["leaves"]) != body["merkle"]["root"]:
        raise FederationError(f"round report {cid}: Merkle root does not match its leaves")
    return RoundReport(cid=cid, body=body, key_digest=str(sig["key_digest"]))
