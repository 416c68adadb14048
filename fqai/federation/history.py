"""What the coordinator knows about each node from earlier rounds, turned into selection scores.

Score of node ``i`` (every component in [0, 1], weights summing to 1, see :class:`ScoreWeights`)::

    s_i = 0.4 data_i + 0.3 improvement_i + 0.2 reputation_i + 0.1 staleness_i

* ``data_i = samples_i / max_j samples_j`` over nodes with a known sample count (the count in the
  node's last accepted, signed update manifest); a node without one gets the median of the
  known values (1 when none is known).
* ``improvement_i = clip((L_prev - L_last) / L_prev, 0, 1)`` from the node's last two reported
  training losses; 0.5 while fewer than two finite positive losses are known.
* ``reputation_i = (accepted_i + 1) / (accepted_i + rejected_i + 1)``: updates accepted vs
  rejected by the coordinator's checks (the rejections are in the round reports; on-chain a
  rejected node committed but holds no contribution weight).
* ``staleness_i = min(1, (round - last_chosen_i) / horizon)``; 1 for a node never chosen.

Redundancy ``r_ij = max(0, cos(Δ_i, Δ_j))`` of the nodes' last accepted updates
``Δ = weights - round's starting model``: two nodes with similar data send similar updates, and
choosing both adds little. A pair with an unknown update (a new node, or one never accepted) gets
the mean of the known pairs, so neither looks more nor less redundant than a typical node.

History is keyed by Flower node id (what the selection step sees) and saved in the
coordinator's work directory after each round, so a restarted coordinator scores the same way.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from fqai.fsutil import write_bytes_atomic
from fqai.quantum.select import redundancy_matrix


@dataclass(frozen=True)
class ScoreWeights:
    """Weights of the score components (they must sum to 1) and the staleness horizon."""

    data: float = 0.4
    improvement: float = 0.3
    reputation: float = 0.2
    staleness: float = 0.1
    horizon: int = 5

    def __post_init__(self) -> None:
        total = self.data + self.improvement + self.reputation + self.staleness
        if abs(total - 1) > 1e-9 or min(self.data, self.improvement, self.reputation) < 0:
            raise ValueError(f"score weights must be >= 0 and sum to 1, got {total}")
        if self.horizon < 1:
            raise ValueError(f"staleness horizon must be >= 1 round, got {self.horizon}")


@dataclass
class NodeStats:
    """One node's track record as seen by the coordinator."""

    address: str | None = None
    samples: int | None = None
    losses: list[float] = field(default_factory=list)
    accepted: int = 0
    rejected: int = 0
    last_chosen: int | None = None
    update: NDArray[np.float32] | None = None


@dataclass(frozen=True)
class ScoreBreakdown:
    """A node's score and its four components."""

    score: float
    data: float
    improvement: float
    reputation: float
    staleness: float

    def to_json(self) -> dict[str, float]:
        return {
            "score": self.score,
            "data": self.data,
            "improvement": self.improvement,
            "reputation": self.reputation,
            "staleness": self.staleness,
        }


class NodeHistory:
    """Per-node statistics updated by the strategy as rounds run."""

    def __init__(self, weights: ScoreWeights | None = None) -> None:
        self.weights = weights or ScoreWeights()
        self.nodes: dict[int, NodeStats] = {}

    def _stats(self, node_id: int) -> NodeStats:
        return self.nodes.setdefault(int(node_id), NodeStats())

    def record_chosen(self, node_ids: Sequence[int], round_: int) -> None:
        for node_id in node_ids:
            self._stats(node_id).last_chosen = round_

    def record_rejected(self, node_id: int) -> None:
        self._stats(node_id).rejected += 1

    def record_accepted(
        self,
        node_id: int,
        *,
        address: str,
        samples: int,
        loss: float | None,
        update: NDArray[Any] | None,
    ) -> None:
        stats = self._stats(node_id)
        stats.address = address
        stats.samples = int(samples)
        stats.accepted += 1
        if loss is not None and math.isfinite(loss):
            stats.losses = [*stats.losses[-1:], float(loss)]
        if update is not None:
            stats.update = np.asarray(update, dtype=np.float32).ravel()

    def breakdown(self, candidates: Sequence[int], round_: int) -> list[ScoreBreakdown]:
        """Scores of the candidates (in the given order) with their components."""
        w = self.weights
        known = [s.samples for s in self.nodes.values() if s.samples]
        most = max(known) if known else None
        neutral = float(np.median([k / most for k in known])) if known and most else 1.0
        out = []
        for node_id in candidates:
            st = self.nodes.get(int(node_id), NodeStats())
            data = st.samples / most if st.samples and most else neutral
            if len(st.losses) == 2 and st.losses[0] > 0:
                prev, last = st.losses
                improvement = min(1.0, max(0.0, (prev - last) / prev))
            else:
                improvement = 0.5
            reputation = (st.accepted + 1) / (st.accepted + st.rejected + 1)
            staleness = (
                1.0
                if st.last_chosen is None
                else min(1.0, max(0, round_ - st.last_chosen) / w.horizon)
            )
            score = (
                w.data * data
                + w.improvement * improvement
                + w.reputation * reputation
                + w.staleness * staleness
            )
            out.append(ScoreBreakdown(score, data, improvement, reputation, staleness))
        return out

    def redundancy(self, candidates: Sequence[int]) -> NDArray[np.float64]:
        """``max(0, cos)`` of the candidates' last updates (mean of known pairs where unknown)."""
        updates = [self.nodes[c].update if c in self.nodes else None for c in candidates]
        r = redundancy_matrix(updates)
        known = [u is not None for u in updates]
        pairs = [
            r[i, j]
            for i in range(len(updates))
            for j in range(i + 1, len(updates))
            if known[i] and known[j]
        ]
        fill = float(np.mean(pairs)) if pairs else 0.0
        for i in range(len(updates)):
            for j in range(i + 1, len(updates)):
                if not (known[i] and known[j]):
                    r[i, j] = r[j, i] = fill
        return r

    def save(self, path: Path) -> None:
        """Write the history (statistics as JSON, updates as arrays) to one ``.npz`` file."""
        meta = {
            str(node_id): {
                "address": st.address,
                "samples": st.samples,
                "losses": st.losses,
                "accepted": st.accepted,
                "rejected": st.rejected,
                "last_chosen": st.last_chosen,
            }
            for node_id, st in self.nodes.items()
        }
        arrays: dict[str, Any] = {
            f"u{node_id}": st.update for node_id, st in self.nodes.items() if st.update is not None
        }
        buf = io.BytesIO()
        np.savez(buf, meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8), **arrays)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_bytes_atomic(path, buf.getvalue())

    @classmethod
    def load(cls, path: Path, weights: ScoreWeights | None = None) -> NodeHistory:
        """Read a history written by :meth:`save`; an empty one if the file does not exist."""
        history = cls(weights)
        if not path.exists():
            return history
        with np.load(path) as data:
            meta = json.loads(bytes(data["meta"]).decode())
            for key, st in meta.items():
                node_id = int(key)
                update = data[f"u{key}"] if f"u{key}" in data.files else None
                history.nodes[node_id] = NodeStats(
                    address=st["address"],
                    samples=st["samples"],
                    losses=list(st["losses"]),
                    accepted=st["accepted"],
                    rejected=st["rejected"],
                    last_chosen=st["last_chosen"],
                    update=update,
                )
        return history
