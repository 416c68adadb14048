"""Auditable aggregation: recompute a finalised round's global model from its signed updates.

For one ``RoundFinalized`` event, :func:`recompute_round` checks, in this order (the first
failure names the round and the reason):

1. ``model``: the round-model manifest at the event's CID verifies and its digest is the
   ``globalDigest`` finalised on-chain; it links a round report (``round_report``);
2. ``report``: the report verifies (ML-DSA-65), was signed by the key that signed the round
   model, is about this federation and round, and records how to aggregate;
3. ``contributions``: the report's contributors, weights and Merkle root are the event's, and
   the weights are what the signed sample counts of the accepted updates give;
4. ``unaccounted``: every update committed on-chain in the round is either accepted or
   rejected (with a reason) in the report: nothing was silently dropped;
5. ``update``: every accepted update's manifest verifies, is an update of this federation and
   round by the node it is listed under, matches the node's on-chain commitment and the
   report's digest and sample count, and its weights match their signed sha256;
6. ``parents``: the round model's parents are exactly the accepted updates;
7. ``aggregate``: the recorded Flower strategy, with its recorded parameters, run over the
   accepted updates in the recorded order (ascending node address), cast to the model's dtypes
   and serialised as safetensors, gives bit for bit the weights the round model publishes.

Everything comes from the chain and IPFS; nothing from the coordinator's own files.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flwr.app import Message, MessageType, MetricRecord, RecordDict
from flwr.supercore.task_identity import TaskIdentity
from numpy.typing import NDArray

from fqai.chain import FederationRegistry
from fqai.chain.registry import RoundFinalized
from fqai.errors import FqaiError, IpfsUnavailableError
from fqai.federation import task
from fqai.federation.aggregation import (
    capped_samples,
    contribution_weights,
    make_strategy,
    widen,
)
from fqai.federation.errors import FederationError
from fqai.federation.records import record_to_weights, weights_to_record
from fqai.federation.report import RoundReport, fetch_round_report
from fqai.ipfs.client import IpfsClient
from fqai.trust.fetch import fetch_verified_manifest, fetch_weights_bytes
from fqai.weights import load_bytes, weights_bytes

log = logging.getLogger(__name__)

ORDER = "accepted updates by ascending node address"


class RecomputeError(FqaiError):
    """A round does not recompute; ``reason`` is the short code of the failed check."""

    def __init__(self, round_: int, reason: str, detail: str) -> None:
        super().__init__(f"round {round_}: {reason}: {detail}")
        self.round = round_
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class RoundRecomputation:
    """A round that recomputed bit for bit."""

    round: int
    model_cid: str
    report_cid: str
    strategy: str
    updates: int
    weights_sha256: str
    fetch_seconds: float
    aggregate_seconds: float


@dataclass(frozen=True)
class UpdateInput:
    """One accepted update as the aggregation sees it."""

    node: str
    samples: int
    train_loss: float | None
    weights: dict[str, NDArray[Any]]


def _ensure_task_identity() -> None:
    """Flower builds a ``Message`` only inside a task (a run, a node); a verifier process is
    none, so it gets a local identity (inside a ServerApp the real one is kept)."""
    try:
        TaskIdentity.run_id  # noqa: B018
    except RuntimeError:
        TaskIdentity.run_id = 0
        TaskIdentity.task_id = 0
        TaskIdentity.node_id = 0


def aggregate_updates(
    strategy_name: str, params: dict[str, Any], round_: int, updates: list[UpdateInput]
) -> dict[str, NDArray[Any]]:
    """The Flower strategy's aggregate of ``updates``, taken in ascending node address order.

    This is the coordinator's aggregation step as :class:`~fqai.federation.strategy.
    VerifiedStrategy` runs it: each update becomes a reply whose ``num-examples`` is its signed
    sample count as it weighs (capped, see :func:`~fqai.federation.aggregation.capped_samples`).

    Raises
    ------
    FederationError
        Unknown strategy or parameters, or the strategy produced no model.
    """
    _ensure_task_identity()
    replies = []
    ordered = sorted(updates, key=lambda u: int(u.node, 16))
    for position, update in enumerate(ordered):
        metrics: dict[str, Any] = {"num-examples": update.samples}
        if update.train_loss is not None:
            metrics["train-loss"] = update.train_loss
        instruction = Message(
            RecordDict(), dst_node_id=position + 1, message_type=MessageType.TRAIN
        )
        content = RecordDict(
            {"arrays": weights_to_record(widen(update.weights)), "metrics": MetricRecord(metrics)}
        )
        replies.append(Message(content, reply_to=instruction))
    arrays, _ = make_strategy(strategy_name, **params).aggregate_train(round_, replies)
    if arrays is None:
        raise FederationError(f"{strategy_name} produced no model")
    return record_to_weights(arrays)


def model_weights_sha256(dataset: str, weights: dict[str, NDArray[Any]], model: str = "") -> str:
    """sha256 of the safetensors bytes a round model publishes for ``weights`` (cast to the
    model's dtypes, as the coordinator saves them)."""
    net = task.build_model(dataset, model=model)
    task.set_weights(net, weights)
    return hashlib.sha256(weights_bytes(task.get_weights(net))).hexdigest()


def _updates_from(report: RoundReport) -> list[dict[str, Any]]:
    accepted = report.body.get("accepted")
    if not isinstance(accepted, list) or not accepted:
        raise ValueError("no accepted updates listed")
    return sorted(accepted, key=lambda a: int(str(a["node"]), 16))


def recompute_round(
    ipfs: IpfsClient, registry: FederationRegistry, event: RoundFinalized
) -> RoundRecomputation:
    """Run every check of the module docstring for one finalised round.

    Raises
    ------
    RecomputeError
        The first check that fails, with its reason code.
    IpfsUnavailableError
        IPFS cannot be reached (not a verdict on the round).
    """
    fed, rnd = event.federation_id, event.round

    def fail(reason: str, detail: str) -> RecomputeError:
        return RecomputeError(rnd, reason, detail)

    started = time.perf_counter()
    # 1. The round model the chain points at.
    try:
        model = fetch_verified_manifest(ipfs, event.global_manifest_cid)
    except IpfsUnavailableError:
        raise
    except FqaiError as exc:
        raise fail("model", f"round model {event.global_manifest_cid}: {exc}") from exc
    if model.digest != event.global_digest:
        raise fail(
            "model",
            f"manifest digest {model.digest} is not the finalised globalDigest "
            f"{event.global_digest}",
        )
    manifest = model.manifest
    if manifest.kind != "round-model" or (manifest.federation_id, manifest.round) != (
        str(fed),
        rnd,
    ):
        raise fail("model", f"{event.global_manifest_cid} is not round {rnd}'s round model")
    if manifest.round_report is None:
        raise fail("model", "the round model links no round report")
    # 2. The report, signed by the same coordinator key.
    try:
        report = fetch_round_report(ipfs, manifest.round_report)
    except IpfsUnavailableError:
        raise
    except FqaiError as exc:
        raise fail("report", str(exc)) from exc
    body = report.body
    if report.key_digest != manifest.signer.key_digest:
        raise fail("report", "signed by another key than the round model")
    if (body.get("federation_id"), body.get("round")) != (fed, rnd):
        raise fail("report", f"is about federation {body.get('federation_id')} round "
                   f"{body.get('round')}")  # fmt: skip
    aggregation = body.get("aggregation") or {}
    if aggregation.get("order") != ORDER or "strategy" not in aggregation:
        raise fail("report", f"records no reproducible aggregation: {aggregation!r}")
    try:
        accepted = _updates_from(report)
    except (KeyError, TypeError, ValueError) as exc:
        raise fail("report", f"malformed accepted list: {exc}") from exc
    # 3. Contributions as finalised, and as the signed sample counts give them.
    contributions = body.get("contributions") or {}
    if list(contributions.get("contributors", [])) != list(event.contributors) or list(
        contributions.get("weights", [])
    ) != list(event.weights):
        raise fail("contributions", "the report's contributors/weights are not the finalised ones")
    if body["merkle"]["root"] != event.accepted_root:
        raise fail("contributions", "the report's Merkle root is not the finalised acceptedRoot")
    # Reports since the sample-count cap record it; older ones weighed the claims as they were.
    clip = aggregation.get("samples_clip")
    if clip is not None and not isinstance(clip, int | float):
        raise fail("report", f"samples_clip must be a number, got {clip!r}")
    counted = capped_samples({a["node"]: int(a["samples"]) for a in accepted}, clip)
    expected = contribution_weights(counted)
    if (list(expected[0]), list(expected[1])) != (list(event.contributors), list(event.weights)):
        raise fail(
            "contributions",
            f"finalised weights {list(event.weights)} are not what the accepted sample counts "
            f"give ({expected[1]})",
        )
    # 4. Every on-chain commitment is accounted for.
    commitments = registry.round_commitments(fed, rnd)
    listed = {a["node"] for a in accepted} | {
        r.get("node") for r in body.get("rejected", []) if r.get("node")
    }
    missing = sorted(set(commitments) - listed)
    if missing:
        raise fail(
            "unaccounted",
            f"committed update(s) of {missing} neither accepted nor rejected in the report",
        )
    # 5. The updates themselves.
    inputs: list[UpdateInput] = []
    for entry in accepted:
        node, cid = str(entry["node"]), str(entry["manifest_cid"])
        try:
            update = fetch_verified_manifest(ipfs, cid)
            data = fetch_weights_bytes(ipfs, update.manifest)
            weights = load_bytes(data, update.manifest.weights.info, f"weights of {cid}")
        except IpfsUnavailableError:
            raise
        except FqaiError as exc:
            raise fail("update", f"{cid} of {node}: {exc}") from exc
        um = update.manifest
        if (um.kind, um.federation_id, um.round) != ("update", str(fed), rnd):
            raise fail("update", f"{cid} is not an update of federation {fed} round {rnd}")
        if um.signer.eth_address.lower() != node.lower():
            raise fail("update", f"{cid} is signed by {um.signer.eth_address}, listed as {node}")
        if commitments.get(node) != update.digest or entry.get("manifest_digest") != update.digest:
            raise fail(
                "update",
                f"{cid} of {node}: manifest digest {update.digest}, committed "
                f"{commitments.get(node)}, reported {entry.get('manifest_digest')}",
            )
        if um.metrics.get("samples") != entry.get("samples"):
            raise fail("update", f"{cid}: signed samples {um.metrics.get('samples')} vs report")
        loss = entry.get("train_loss")
        inputs.append(
            UpdateInput(node, counted[node], None if loss is None else float(loss), weights)
        )
    # 6. Lineage.
    if set(manifest.parents) != {str(a["manifest_cid"]) for a in accepted}:
        raise fail("parents", "the round model's parents are not the accepted updates")
    fetched = time.perf_counter()
    # 7. The aggregation, re-run.
    dataset = str(manifest.model.params.get("dataset", "")) if manifest.model.params else ""
    try:
        model = task.manifest_model_setting(manifest.model.name, manifest.model.params)
        aggregate = aggregate_updates(
            str(aggregation["strategy"]), dict(aggregation.get("params", {})), rnd, inputs
        )
        digest = model_weights_sha256(dataset, aggregate, model)
    except FqaiError as exc:
        raise fail("aggregate", f"cannot re-run {aggregation.get('strategy')}: {exc}") from exc
    done = time.perf_counter()
    published = manifest.weights.sha256.removeprefix("0x")
    if digest != published:
        raise fail(
            "aggregate",
            f"recomputed weights sha256 {digest}, the round model publishes {published}",
        )
    log.info("round %d of federation %d recomputes bit for bit (%s)", rnd, fed, digest)
    return RoundRecomputation(
        round=rnd,
        model_cid=event.global_manifest_cid,
        report_cid=report.cid,
        strategy=str(aggregation["strategy"]),
        updates=len(inputs),
        weights_sha256=digest,
        fetch_seconds=fetched - started,
        aggregate_seconds=done - fetched,
    )


def recompute_federation(
    ipfs: IpfsClient,
    registry: FederationRegistry,
    federation_id: int,
    *,
    up_to_round: int | None = None,
    only_round: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[RoundRecomputation]:
    """Recompute the federation's finalised rounds (all up to ``up_to_round``, or one).

    Raises
    ------
    RecomputeError
        For the first round that does not recompute (rounds are checked in order).
    """
    events = [
        e
        for e in registry.finalized_rounds(federation_id)
        if (up_to_round is None or e.round <= up_to_round)
        and (only_round is None or e.round == only_round)
    ]
    if only_round is not None and not events:
        raise RecomputeError(only_round, "not-finalised", "no RoundFinalized event")
    results = []
    for i, event in enumerate(events):
        if progress is not None:
            progress(i, len(events))
        results.append(recompute_round(ipfs, registry, event))
    return results
