"""Node scores and redundancy from round history, and the scored selectors built on them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fqai.federation.errors import FederationError
from fqai.federation.history import NodeHistory, ScoreWeights
from fqai.federation.selection import (
    RandomFraction,
    ScoredSelector,
    make_selector,
    round_seed,
    selected_count,
)
from fqai.jcs import canonicalize
from fqai.quantum.qaoa import QaoaConfig
from fqai.quantum.select import redundancy_matrix, select_clients


def test_scores_by_hand() -> None:
    h = NodeHistory()
    h.record_accepted(1, address="0xa", samples=200, loss=1.0, update=None)
    h.record_accepted(1, address="0xa", samples=200, loss=0.6, update=None)  # 40 % better
    h.record_accepted(2, address="0xb", samples=100, loss=2.0, update=None)  # one loss only
    h.record_rejected(2)
    h.record_rejected(2)
    h.record_rejected(3)  # never accepted: no sample count, no loss
    h.record_chosen([1, 2], 4)
    h.record_chosen([3], 2)
    b = {c: x for c, x in zip([1, 2, 3, 4], h.breakdown([1, 2, 3, 4], 6), strict=True)}
    # node 1: data 200/200, improvement 0.4, reputation (2+1)/(2+0+1), staleness (6-4)/5
    assert b[1].data == 1.0 and b[1].improvement == pytest.approx(0.4)
    assert b[1].reputation == 1.0 and b[1].staleness == pytest.approx(0.4)
    assert b[1].score == pytest.approx(0.4 * 1 + 0.3 * 0.4 + 0.2 * 1 + 0.1 * 0.4)
    # node 2: data 0.5, improvement unknown 0.5, reputation (1+1)/(1+2+1), staleness 0.4
    assert (b[2].data, b[2].improvement, b[2].reputation) == (0.5, 0.5, 0.5)
    assert b[2].score == pytest.approx(0.4 * 0.5 + 0.3 * 0.5 + 0.2 * 0.5 + 0.1 * 0.4)
    # node 3: median of known data shares (1.0, 0.5) = 0.75, reputation 1/2, staleness 4/5
    assert b[3].data == pytest.approx(0.75) and b[3].reputation == 0.5
    assert b[3].staleness == pytest.approx(0.8)
    # node 4: never seen: neutral data, unknown improvement, full reputation, never chosen
    assert (b[4].data, b[4].improvement, b[4].reputation, b[4].staleness) == (0.75, 0.5, 1, 1)


def test_loss_going_up_or_not_finite_is_no_improvement() -> None:
    h = NodeHistory()
    h.record_accepted(1, address="0xa", samples=10, loss=0.5, update=None)
    h.record_accepted(1, address="0xa", samples=10, loss=0.9, update=None)
    h.record_accepted(1, address="0xa", samples=10, loss=float("nan"), update=None)
    assert h.breakdown([1], 1)[0].improvement == 0.0
    with pytest.raises(ValueError, match="sum to 1"):
        ScoreWeights(data=0.5)


def test_redundancy_by_hand() -> None:
    r = redundancy_matrix([np.array([1.0, 0.0]), np.array([1.0, 1.0]), np.array([-1.0, 0.0])])
    assert r[0, 1] == pytest.approx(2**-0.5) and r[1, 0] == r[0, 1]
    assert r[0, 2] == 0.0  # opposite updates are not redundant (clipped at 0)
    assert np.all(np.diag(r) == 0)
    h = NodeHistory()
    h.record_accepted(1, address="0xa", samples=1, loss=None, update=np.array([1.0, 0.0]))
    h.record_accepted(2, address="0xb", samples=1, loss=None, update=np.array([1.0, 1.0]))
    h.record_accepted(3, address="0xc", samples=1, loss=None, update=np.array([0.0, 1.0]))
    m = h.redundancy([1, 2, 3, 4])
    known = [2**-0.5, 0.0, 2**-0.5]
    assert m[0, 1] == pytest.approx(known[0]) and m[0, 2] == pytest.approx(0.0)
    # node 4 has no update: its pairs get the mean of the known pairs
    assert m[3, 0] == m[3, 1] == m[3, 2] == pytest.approx(np.mean(known))


def test_history_survives_save_and_load(tmp_path: Path) -> None:
    h = NodeHistory()
    h.record_accepted(5, address="0xa", samples=3, loss=0.7, update=np.arange(4.0))
    h.record_rejected(6)
    h.record_chosen([5, 6], 2)
    path = tmp_path / "coordinator" / "selection-history.npz"
    h.save(path)
    again = NodeHistory.load(path)
    assert again.breakdown([5, 6, 7], 3) == h.breakdown([5, 6, 7], 3)
    np.testing.assert_array_equal(again.redundancy([5, 6]), h.redundancy([5, 6]))
    assert NodeHistory.load(tmp_path / "missing.npz").nodes == {}


def history_with_clusters() -> NodeHistory:
    """Six nodes in two clusters of near-identical updates; node 6 was rejected twice."""
    h = NodeHistory()
    base = [np.array([1.0, 0.0, 0.0]), np.array([0.0, 0.0, 1.0])]
    for node in range(1, 7):
        update = base[node % 2] + 0.01 * node
        h.record_accepted(node, address=f"0x{node}", samples=100, loss=1.0, update=update)
    h.record_rejected(6)
    h.record_rejected(6)
    return h


def test_scored_selector_picks_across_clusters_and_avoids_a_rejected_node() -> None:
    h = history_with_clusters()
    selector = make_selector("exact:2", seed=3, min_nodes=1, history=h)
    assert isinstance(selector, ScoredSelector)
    sel = selector.select([6, 5, 4, 3, 2, 1], 2)
    assert sel.candidates == (1, 2, 3, 4, 5, 6)
    assert len(sel.chosen) == 2
    assert {c % 2 for c in sel.chosen} == {0, 1}  # one per cluster
    assert 6 not in sel.chosen
    rec = sel.to_json()
    assert rec["method"] == "exact:2"
    opt = rec["optimiser"]
    assert opt["score_components"]["6"]["reputation"] == pytest.approx(2 / 4)
    canonicalize(rec)  # the report is canonical JSON: every value must be representable
    # The selection is reproducible from what the report records.
    again = select_clients(
        [int(c) for c in opt["candidates"]], opt["scores"], opt["redundancy"], opt["k"],
        solver="exact", seed=opt["seed"], lam=opt["lambda"],
    )  # fmt: skip
    assert again.chosen == sel.chosen
    # The chosen nodes are remembered (staleness) for the next round.
    assert all(h.nodes[c].last_chosen == 2 for c in sel.chosen)


def test_qaoa_selector_records_both_answers() -> None:
    h = history_with_clusters()
    selector = make_selector(
        "qaoa:3", seed=1, min_nodes=1, history=h, qaoa=QaoaConfig(reps=1, shots=200, maxiter=30)
    )
    sel = selector.select([1, 2, 3, 4, 5, 6], 4)
    opt = sel.optimiser
    assert opt is not None and opt["solver"] == "qaoa"
    assert opt["classical"]["solver"] == "exact" and "p_feasible" in opt["qaoa"]
    assert opt["used"] in ("classical", "qaoa")
    assert sel.chosen == tuple(sorted(int(c) for c in opt[opt["used"]]["chosen"]))
    assert opt["seed"] == round_seed(1, 4)


def test_count_is_capped_by_the_candidates_and_fractions_round_up() -> None:
    h = NodeHistory()
    assert (
        len(make_selector("greedy:5", seed=0, min_nodes=1, history=h).select([1, 2], 1).chosen) == 2
    )
    assert (
        len(make_selector("best:0.5", seed=0, min_nodes=1, history=h).select(range(5), 1).chosen)
        == 3
    )
    assert (
        len(make_selector("annealing", seed=0, min_nodes=1, history=h).select(range(4), 1).chosen)
        == 2
    )
    assert selected_count("qaoa:3", 4) == 3 and selected_count("exact:0.25", 8) == 2
    assert isinstance(make_selector("random:0.5", seed=0, min_nodes=1), RandomFraction)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("qaoa:0", "count >= 1"),
        ("exact:1.5", "fraction"),
        ("greedy:x", "expected <solver>:<count>"),
        ("quantum:2", "unknown selection 'quantum:2'"),
    ],
)
def test_bad_selection_specs(spec: str, message: str) -> None:
    with pytest.raises(FederationError, match=message):
        make_selector(spec, seed=0, min_nodes=1)


def test_a_failing_selection_lets_every_candidate_train(monkeypatch: pytest.MonkeyPatch) -> None:
    from fqai.federation import selection as module
    from fqai.quantum.problem import SelectionInputError

    def broken(*args: object, **kwargs: object) -> None:
        raise SelectionInputError("non-finite score for candidate(s) [2]: [nan]")

    monkeypatch.setattr(module, "select_clients", broken)
    sel = make_selector("exact:1", seed=0, min_nodes=1).select([3, 2, 1], 1)
    assert sel.chosen == (1, 2, 3)
    assert sel.optimiser is not None and "non-finite score" in sel.optimiser["error"]
