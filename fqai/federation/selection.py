"""Which of the connected nodes train in a round: the coordinator's pluggable selection step.

The wrapped Flower strategy proposes the round's candidates (every connected node when its
``fraction_train`` is 1); a :class:`Selector` picks the nodes that actually get the train
message. Every selection is recorded in the round report with what reproduces it:

* ``all``: every candidate;
* ``random:<fraction>``: ``max(min_nodes, ceil(fraction * candidates))`` candidates, those with
  the smallest ``sha256("<seed>:<round>:<flower node id>")``; the seed is recorded, so anyone
  can recompute the choice from the candidate list.

The quantum optimiser (QAOA over node scores) plugs in here as another selector.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from fqai.federation.errors import FederationError


@dataclass(frozen=True)
class Selection:
    """One round's selection: the method, the candidates it saw and the nodes it chose."""

    method: str
    candidates: tuple[int, ...]
    chosen: tuple[int, ...]
    seed: int | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "method": self.method,
            "candidates": [str(c) for c in self.candidates],
            "chosen": [str(c) for c in self.chosen],
            "seed": self.seed,
        }


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


def make_selector(spec: str, *, seed: int, min_nodes: int) -> AllNodes | RandomFraction:
    """A selector from its spec: ``all`` or ``random:<fraction>``.

    Raises
    ------
    FederationError
        Unknown method or a fraction outside (0, 1].
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
    raise FederationError(f"unknown selection {spec!r}; use 'all' or 'random:<fraction>'")


def selected_count(spec: str, nodes: int) -> int:
    """How many of ``nodes`` candidates ``spec`` chooses (for a default quorum)."""
    selector = make_selector(spec, seed=0, min_nodes=1)
    return len(selector.select(range(1, nodes + 1), 1).chosen)
