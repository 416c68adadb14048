"""Which of the connected nodes train in a round: the coordinator's pluggable selection step.

The wrapped Flower strategy proposes the round's candidates (every connected node when its
``fraction_train`` is 1); a :class:`Selector` picks the nodes that actually get the train
message. Every selection is recorded in the round report with what reproduces it:

* ``all``: every candidate;
* ``random:<fraction>``: ``max(min_nodes, ceil(fraction * candidates))`` candidates, those with
  the smallest ``sha256("<seed>:<round>:<flower node id>")``; the seed is recorded, so anyone
  can recompute the choice from the candidate list.

* ``<solver>:<count>`` with solver ``best``, ``exact``, ``greedy``, ``annealing`` or ``qaoa``:
  ``count`` nodes (an integer, or a fraction of the candidates when it has a decimal point;
  ``0.5`` when omitted) chosen by :func:`fqai.quantum.select.select_clients` from the scores and
  update redundancy of :mod:`fqai.federation.history`. ``qaoa`` runs beside the best classical
  solver and the better answer is used; both are in the report with their figures.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from fqai.errors import FqaiError
from fqai.federation.errors import FederationError
from fqai.federation.history import NodeHistory
from fqai.quantum.qaoa import QaoaConfig
from fqai.quantum.select import select_clients

log = logging.getLogger(__name__)
SCORED_SOLVERS = ("best", "exact", "greedy", "annealing", "qaoa")
DEFAULT_FRACTION = 0.5


@dataclass(frozen=True)
class Selection:
    """One round's selection: the method, the candidates it saw and the nodes it chose."""

    method: str
    candidates: tuple[int, ...]
    chosen: tuple[int, ...]
    seed: int | None = None
    optimiser: dict[str, Any] | None = None

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "method": self.method,
            "candidates": [str(c) for c in self.candidates],
            "chosen": [str(c) for c in self.chosen],
            "seed": self.seed,
        }
        if self.optimiser is not None:
            out["optimiser"] = self.optimiser
        return out


class Selector(Protocol):
    """Chooses a round's nodes among the candidates (Flower node ids)."""

    name: str

    def select(self, candidates: Sequence[int], round_: int) -> Selection: ...


@dataclass(frozen=True)
class AllNodes:
    """Every candidate trains."""

    name: str = "all"

    def select(self, candidates: Sequence[int], round_: int) -> Selection:
        ordered = tuple(sorted(candidates))
        return Selection(self.name, ordered, ordered)


def _rank(seed: int, round_: int, node_id: int) -> bytes:
    return hashlib.sha256(f"{seed}:{round_}:{node_id}".encode()).digest()


@dataclass(frozen=True)
class RandomFraction:
    """A seeded random share of the candidates (at least ``min_nodes`` of them)."""

    fraction: float
    seed: int
    min_nodes: int = 1
    name: str = "random"

    def __post_init__(self) -> None:
        if not 0 < self.fraction <= 1:
            raise FederationError(f"selection fraction must be in (0, 1]: {self.fraction}")

    def select(self, candidates: Sequence[int], round_: int) -> Selection:
        ordered = tuple(sorted(candidates))
        count = min(len(ordered), max(self.min_nodes, math.ceil(self.fraction * len(ordered))))
        chosen = sorted(ordered, key=lambda n: _rank(self.seed, round_, n))[:count]
        return Selection(f"random:{self.fraction:g}", ordered, tuple(sorted(chosen)), self.seed)


def round_seed(seed: int, round_: int) -> int:
    """The per-round seed of a solver: the first 4 bytes of ``sha256("<seed>:<round>")``."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{round_}".encode()).digest()[:4], "big")


def _count(count: float, candidates: int, min_nodes: int) -> int:
    if isinstance(count, int):
        return min(candidates, max(min_nodes, count))
    return min(candidates, max(min_nodes, math.ceil(count * candidates)))


@dataclass
class ScoredSelector:
    """Chooses ``count`` nodes by optimising scores and redundancy (:mod:`fqai.quantum`)."""

    solver: str
    count: float
    seed: int
    history: NodeHistory
    lam: float = 1.0
    qaoa: QaoaConfig | None = None
    min_nodes: int = 1
    name: str = field(default="", init=False)

    def __post_init__(self) -> None:
        self.name = f"{self.solver}:{self.count:g}"

    def select(self, candidates: Sequence[int], round_: int) -> Selection:
        ordered = tuple(sorted(candidates))
        k = _count(self.count, len(ordered), self.min_nodes)
        breakdown = self.history.breakdown(ordered, round_)
        record: dict[str, Any]
        try:
            outcome = select_clients(
                ordered,
                [b.score for b in breakdown],
                self.history.redundancy(ordered),
                k,
                solver=self.solver,
                seed=round_seed(self.seed, round_),
                lam=self.lam,
                qaoa=self.qaoa,
            )
            chosen, record = outcome.chosen, outcome.record
        except FqaiError as exc:  # never stop a round over the selection: everyone trains
            log.error(
                "round %d: %s selection failed (%s); all candidates train", round_, self.name, exc
            )
            chosen, record = ordered, {"solver": self.solver, "error": str(exc)}
        record["score_components"] = {
            str(c): b.to_json() for c, b in zip(ordered, breakdown, strict=True)
        }
        self.history.record_chosen(chosen, round_)
        return Selection(self.name, ordered, tuple(sorted(chosen)), self.seed, record)


def _parse_count(spec: str, arg: str) -> float:
    if not arg:
        return DEFAULT_FRACTION
    try:
        if "." in arg:
            value: float = float(arg)
            if not 0 < value <= 1:
                raise ValueError
        else:
            value = int(arg)
            if value < 1:
                raise ValueError
    except ValueError:
        raise FederationError(
            f"selection {spec!r}: expected <solver>:<count> with a count >= 1 or a fraction "
            "in (0, 1] written with a decimal point"
        ) from None
    return value


def make_selector(
    spec: str,
    *,
    seed: int,
    min_nodes: int,
    history: NodeHistory | None = None,
    lam: float = 1.0,
    qaoa: QaoaConfig | None = None,
) -> Selector:
    """A selector from its spec: ``all``, ``random:<fraction>`` or ``<solver>[:<count>]``.

    Raises
    ------
    FederationError
        Unknown method, a fraction outside (0, 1] or a count below 1.
    """
    method, _, arg = spec.strip().lower().partition(":")
    if method == "all" and not arg:
        return AllNodes()
    if method == "random":
        try:
            fraction = float(arg)
        except ValueError:
            raise FederationError(f"selection {spec!r}: expected random:<fraction>") from None
        return RandomFraction(fraction, seed, min_nodes)
    if method in SCORED_SOLVERS:
        return ScoredSelector(
            method,
            _parse_count(spec, arg),
            seed,
            history if history is not None else NodeHistory(),
            lam,
            qaoa,
            min_nodes,
        )
    raise FederationError(
        f"unknown selection {spec!r}; use 'all', 'random:<fraction>' or "
        f"'<solver>:<count>' with solver one of {', '.join(SCORED_SOLVERS)}"
    )


def selected_count(spec: str, nodes: int) -> int:
    """How many of ``nodes`` candidates ``spec`` chooses (for a default quorum)."""
    selector = make_selector(spec, seed=0, min_nodes=1)
    if isinstance(selector, ScoredSelector):
        return _count(selector.count, nodes, 1)
    return len(selector.select(range(1, nodes + 1), 1).chosen)
