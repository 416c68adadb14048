"""Records of a federation run (what the coordinator accepted, rejected and finalised)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from flwr.app import ArrayRecord
from numpy.typing import NDArray

from fqai.fsutil import write_bytes_atomic


@dataclass(frozen=True)
class Rejection:
    """An update the coordinator refused, and why (``reason`` is a short code)."""

    round: int
    reason: str
    detail: str
    flower_node_id: int | None = None
    node: str | None = None
    manifest_cid: str | None = None


@dataclass(frozen=True)
class AcceptedUpdate:
    """An update that passed every check."""

    node: str
    manifest_cid: str
    manifest_digest: str
    samples: int
    train_loss: float | None
    flower_node_id: int | None = None
    dp_epsilon: float | None = None


@dataclass
class RoundRecord:
    """One finalised round."""

    round: int
    flower_round: int
    accepted: list[AcceptedUpdate] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    contributors: list[str] = field(default_factory=list)
    weights: list[int] = field(default_factory=list)
    accepted_root: str | None = None
    model_cid: str | None = None
    model_digest: str | None = None
    model_weights_sha256: str | None = None
    accuracy: float | None = None
    loss: float | None = None
    client_accuracy: float | None = None
    finalize_tx: str | None = None
    finalized: bool = False
    report_cid: str | None = None
    resumed: bool = False
    open_tx: str | None = None
    dp_epsilon: float | None = None
    selection: dict[str, Any] | None = None
    admission: dict[str, Any] | None = None


@dataclass
class RunRecord:
    """The whole run, written as JSON at ``record_path`` when the ServerApp ends."""

    federation_id: int
    dataset: str
    strategy: str
    quorum: int = 1
    rounds: list[RoundRecord] = field(default_factory=list)
    resumed_from_round: int = 0
    token_id: int | None = None
    mint_tx: str | None = None
    final_model_cid: str | None = None
    error: str | None = None
    aggregation: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def write(self, path: Path) -> None:
        data = (json.dumps(self.to_json(), indent=2, sort_keys=True) + "\n").encode()
        write_bytes_atomic(Path(path), data, 0o644)


def weights_to_record(weights: dict[str, NDArray[Any]]) -> ArrayRecord:
    """Named numpy arrays as a Flower ArrayRecord (names kept, order kept)."""
    return ArrayRecord({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in weights.items()})


def record_to_weights(record: ArrayRecord) -> dict[str, NDArray[Any]]:
    """A Flower ArrayRecord as named numpy arrays."""
    return {k: v.detach().cpu().numpy() for k, v in record.to_torch_state_dict().items()}
