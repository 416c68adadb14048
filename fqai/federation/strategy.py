"""A Flower strategy wrapper that puts fqai's on-chain and signature checks around any strategy.

Per training round it opens the on-chain round, tells nodes the federation, round and parent
model, verifies every reply through :class:`~fqai.federation.coordinator.Coordinator`, hands only
the accepted updates (with the weights fetched from IPFS) to the wrapped Flower strategy, then
publishes the aggregate and finalises the round on-chain. Evaluation is delegated unchanged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
from flwr.app import ArrayRecord, ConfigRecord, Message, MetricRecord, RecordDict
from flwr.serverapp import Grid
from flwr.serverapp.strategy import Strategy
from numpy.typing import NDArray

from fqai.federation.aggregation import capped_samples, widen
from fqai.federation.coordinator import Coordinator
from fqai.federation.errors import FederationError, QuorumError, UpdateRejectedError
from fqai.federation.history import NodeHistory
from fqai.federation.records import (
    AcceptedUpdate,
    Rejection,
    record_to_weights,
    weights_to_record,
)
from fqai.federation.selection import AllNodes, Selector

log = logging.getLogger(__name__)

REPLY_KEY = "fqai"


class VerifiedStrategy(Strategy):
    """Wraps a Flower strategy (FedAvg, FedProx, Krum, ...) with fqai's checks.

    Parameters
    ----------
    inner
        The Flower strategy that samples nodes and aggregates.
    coordinator
        Chain, IPFS and keys of the coordinator.
    train_settings
        Extra ``fqai-*`` entries for every train message (dataset, epochs, lr, ...).
    selector
        Chooses the round's nodes among those the inner strategy proposes (default: all).
    history
        Per-node record (samples, losses, rejections, last update) that scored selectors read;
        saved to ``history_path`` after every finalised round when that is given.
    """

    def __init__(
        self,
        inner: Strategy,
        coordinator: Coordinator,
        train_settings: dict[str, int | float | str],
        selector: Selector | None = None,
        history: NodeHistory | None = None,
        history_path: Path | None = None,
        before_round: Callable[[int], dict[str, Any]] | None = None,
    ) -> None:
        self.inner = inner
        self.before_round = before_round
        self.coordinator = coordinator
        self.train_settings = dict(train_settings)
        self.selector: Selector = selector or AllNodes()
        self.history = history if history is not None else NodeHistory()
        self.history_path = history_path
        self._round_start: NDArray[Any] | None = None
        self._chosen: tuple[int, ...] = ()
        self._admitted: set[int] | None = None  # this round's admitted SuperNodes (admission on)

    def summary(self) -> None:
        log.info("fqai verified strategy around %s", type(self.inner).__name__)
        self.inner.summary()

    def configure_train(
        self, server_round: int, arrays: ArrayRecord, config: ConfigRecord, grid: Grid
    ) -> Iterable[Message]:
        chain_round = self.coordinator.open_round(server_round)
        self._admitted = None
        if self.before_round is not None:
            # SuperNode admission: the SuperLink's registered keys follow the chain before the
            # round samples its nodes, so a node slashed or gone since the last round is out.
            admission = self.before_round(chain_round)
            assert self.coordinator.current is not None
            self.coordinator.current.admission = admission
            self._admitted = {
                int(a["node_id"]) for a in [*admission["kept"], *admission["registered"]]
            }
        config["fqai-federation-id"] = self.coordinator.federation_id
        config["fqai-round"] = chain_round
        config["fqai-parent"] = self.coordinator.last_model_cid or ""
        for key, value in self.train_settings.items():
            config[key] = value
        start = record_to_weights(arrays)
        self.coordinator.round_start = start
        self._round_start = _flatten(start)
        proposed = self._only_admitted(
            self.inner.configure_train(server_round, arrays, config, grid), chain_round
        )
        selection = self.selector.select([m.metadata.dst_node_id for m in proposed], chain_round)
        assert self.coordinator.current is not None
        self.coordinator.current.selection = selection.to_json()
        log.info(
            "round %d: %s selection chose %d of %d node(s)",
            chain_round,
            selection.method,
            len(selection.chosen),
            len(selection.candidates),
        )
        self._chosen = selection.chosen
        return [m for m in proposed if m.metadata.dst_node_id in selection.chosen]

    def aggregate_train(
        self, server_round: int, replies: Iterable[Message]
    ) -> tuple[ArrayRecord | None, MetricRecord | None]:
        coordinator = self.coordinator
        assert coordinator.current is not None
        chain_round = coordinator.current.round
        accepted: list[tuple[int, Message, AcceptedUpdate, dict[str, NDArray[Any]]]] = []
        replies = list(replies)
        for node_id in set(self._chosen) - {msg.metadata.src_node_id for msg in replies}:
            self.history.record_rejected(node_id)  # chosen, but no reply arrived
        for msg in replies:
            node_id = msg.metadata.src_node_id
            if msg.has_error():
                self._reject(Rejection(chain_round, "node-error", str(msg.error.reason), node_id))
                continue
            info = msg.content.config_records.get(REPLY_KEY)
            cid = str(info.get("manifest-cid", "")) if info is not None else ""
            if not cid:
                self._reject(
                    Rejection(chain_round, "no-manifest", "reply carries no manifest CID", node_id)
                )
                continue
            try:
                update, weights = coordinator.verify_update(cid, node_id)
            except UpdateRejectedError as exc:
                claimed = str(info.get("node", "")) or None if info is not None else None
                self._reject(Rejection(chain_round, exc.reason, exc.detail, node_id, claimed, cid))
                continue
            self.history.record_accepted(
                node_id,
                address=update.node,
                samples=update.samples,
                loss=update.train_loss,
                update=self._delta(weights),
            )
            accepted.append((int(update.node, 16), msg, update, weights))
        if len(accepted) < coordinator.quorum:
            # Stop the run: the round stays open on-chain, nothing is half-finalised, and a
            # coordinator started again within the commit window resumes it.
            raise QuorumError(
                f"round {chain_round}: {len(accepted)} update(s) accepted, quorum is "
                f"{coordinator.quorum}; the round is not finalised"
            )
        # Sample counts weigh at most samples_clip x the round's median claim.
        assert coordinator.current is not None
        counted = capped_samples(
            {a.node: a.samples for a in coordinator.current.accepted}, coordinator.samples_clip
        )
        for _, msg, update, weights in accepted:
            metrics = {"num-examples": counted[update.node]}
            if update.train_loss is not None:
                metrics["train-loss"] = update.train_loss  # type: ignore[assignment]
            msg.content = RecordDict(
                {"arrays": weights_to_record(widen(weights)), "metrics": MetricRecord(metrics)}
            )
        # Canonical order (ascending node address), whatever order the replies arrived in: the
        # aggregate is then a pure function of the accepted set, recomputable from the report.
        ordered = [entry[1] for entry in sorted(accepted, key=lambda entry: entry[0])]
        arrays, metrics = self.inner.aggregate_train(server_round, ordered)
        if arrays is None:
            raise FederationError(f"round {chain_round}: the strategy produced no model")
        coordinator.finalize(record_to_weights(arrays))
        if self.history_path is not None:
            self.history.save(self.history_path)
        # The next round starts from the published model (float32), not the float64 aggregate.
        return weights_to_record(coordinator.last_weights), metrics

    def _reject(self, rejection: Rejection) -> None:
        self.coordinator.reject(rejection)
        if rejection.flower_node_id is not None:
            self.history.record_rejected(rejection.flower_node_id)

    def _delta(self, weights: dict[str, NDArray[Any]]) -> NDArray[Any] | None:
        """The update as one vector (weights minus the round's starting model)."""
        flat = _flatten(weights)
        if self._round_start is None or flat.shape != self._round_start.shape:
            return None
        return flat - self._round_start

    def configure_evaluate(
        self, server_round: int, arrays: ArrayRecord, config: ConfigRecord, grid: Grid
    ) -> Iterable[Message]:
        config["fqai-dataset"] = self.train_settings.get("fqai-dataset", "")
        config["fqai-data-seed"] = self.train_settings.get("fqai-data-seed", 0)
        config["fqai-model"] = self.train_settings.get("fqai-model", "")
        return self._only_admitted(
            self.inner.configure_evaluate(server_round, arrays, config, grid), server_round
        )

    def _only_admitted(self, messages: Iterable[Message], round_: int) -> list[Message]:
        """The messages addressed to this round's admitted SuperNodes (all, admission off)."""
        messages = list(messages)
        if self._admitted is None:
            return messages
        outside = [
            m.metadata.dst_node_id for m in messages if m.metadata.dst_node_id not in self._admitted
        ]
        if outside:
            log.warning("round %d: no work sent to unadmitted SuperNode(s) %s", round_, outside)
        return [m for m in messages if m.metadata.dst_node_id in self._admitted]

    def aggregate_evaluate(
        self, server_round: int, replies: Iterable[Message]
    ) -> MetricRecord | None:
        metrics = self.inner.aggregate_evaluate(server_round, replies)
        current = self.coordinator.current
        if metrics is not None and current is not None and "eval-acc" in metrics:
            current.client_accuracy = float(metrics["eval-acc"])  # type: ignore[arg-type]
        return metrics


def _flatten(weights: dict[str, NDArray[Any]]) -> NDArray[np.float32]:
    """All tensors, in key order, as one float32 vector."""
    if not weights:
        return np.zeros(0, dtype=np.float32)
    return np.concatenate(
        [np.asarray(weights[k], dtype=np.float32).ravel() for k in sorted(weights)]
    )
