"""Unit tests: DP-SGD at the node (Opacus, accounted across rounds and restarts), the
coordinator's check of a DP report, and the seeded node selection."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from fqai.federation import task
from fqai.federation.dp import (
    DpReport,
    DpSettings,
    PrivacyBudgetError,
    PrivacyLedger,
    check_update_privacy,
    train_private,
)
from fqai.federation.errors import FederationError, UpdateRejectedError
from fqai.federation.node import local_data
from fqai.federation.selection import AllNodes, RandomFraction, make_selector, selected_count

SETTINGS = DpSettings(target_epsilon=4.0, delta=1e-5, max_grad_norm=1.0, planned_rounds=2)


def _round(ledger_path: Path, seed: int) -> tuple[task.TrainResult, DpReport, dict]:
    x, y, _ = local_data("breast_cancer", 0, 0, 4, "iid", 0.5)
    model = task.build_model("breast_cancer")
    before = task.get_weights(model)
    result, report = train_private(
        model,
        x,
        y,
        settings=SETTINGS,
        ledger=PrivacyLedger.load(ledger_path),
        epochs=1,
        lr=0.05,
        batch_size=16,
        seed=seed,
    )
    after = task.get_weights(model)
    return result, report, {k: (before[k], after[k]) for k in before}


def test_dp_sgd_spends_budget_across_rounds_and_then_refuses(tmp_path: Path) -> None:
    ledger = tmp_path / "dp-f1.json"
    result1, report1, changed = _round(ledger, seed=1)
    assert any((a != b).any() for a, b in changed.values())  # it trained
    assert result1.samples > 0
    # The noise was fixed so that the planned 2 rounds spend at most the budget.
    assert 0 < report1.epsilon < SETTINGS.target_epsilon
    assert report1.epsilon == pytest.approx(report1.recomputed_epsilon(), rel=1e-9)
    assert report1.bound_epsilon() >= report1.epsilon - 1e-9
    # A new process (fresh ledger object from disk) keeps counting.
    _, report2, _ = _round(ledger, seed=2)
    assert report2.steps == 2 * report1.steps
    assert report2.noise_multiplier == report1.noise_multiplier
    assert report1.epsilon < report2.epsilon <= SETTINGS.target_epsilon * 1.01
    with pytest.raises(PrivacyBudgetError, match="budget"):
        _round(ledger, seed=3)
    # The refused round spent nothing.
    assert PrivacyLedger.load(ledger).steps == report2.steps


def _report(**overrides: float | int) -> dict[str, float | int]:
    base = DpReport(0.0, 1e-5, 1.2, 1.0, 0.05, 40)
    report = DpReport(**{**base.__dict__, "epsilon": base.recomputed_epsilon()})
    return {**report.metrics(), **overrides}


def test_coordinator_accepts_an_honest_report() -> None:
    metrics = _report()
    report = check_update_privacy(metrics, SETTINGS)
    assert report.epsilon == metrics["dp_epsilon"]


@pytest.mark.parametrize(
    ("metrics", "match"),
    [
        ({}, "no DP report"),
        ({"dp_epsilon": 0.5}, "incomplete"),
        (_report(dp_steps=40.0), "malformed"),
        (_report(dp_epsilon=0.01), "reported epsilon"),  # understated spend
        (_report(dp_delta=1e-3), "delta"),
        (_report(dp_max_grad_norm=5.0), "clipping norm"),
        (_report(dp_noise_multiplier=0.0), "impossible"),
    ],
)
def test_coordinator_rejects_bad_reports(metrics: dict, match: str) -> None:
    with pytest.raises(UpdateRejectedError, match=match) as info:
        check_update_privacy(metrics, SETTINGS)
    assert info.value.reason == "privacy"


def test_coordinator_rejects_spend_over_budget() -> None:
    tight = DpSettings(target_epsilon=0.5)
    with pytest.raises(UpdateRejectedError, match="exceeds the budget"):
        check_update_privacy(_report(), tight)


def test_dp_settings_validation_and_config_round_trip() -> None:
    assert DpSettings.from_config({}) is None
    assert DpSettings.from_config({"fqai-dp-epsilon": 0}) is None
    assert DpSettings.from_config(SETTINGS.to_config()) == SETTINGS
    for bad in ({"target_epsilon": 0}, {"target_epsilon": 1, "delta": 1.0}):
        with pytest.raises(FederationError):
            DpSettings(**bad)  # type: ignore[arg-type]


def test_all_selects_every_candidate() -> None:
    selection = AllNodes().select([30, 10, 20], 1)
    assert selection.chosen == selection.candidates == (10, 20, 30)


def test_random_fraction_is_reproducible_from_its_seed() -> None:
    candidates = list(range(100, 110))
    selector = RandomFraction(0.3, seed=7, min_nodes=2)
    first = selector.select(candidates, round_=4)
    assert len(first.chosen) == 3 and set(first.chosen) <= set(candidates)
    assert selector.select(list(reversed(candidates)), round_=4) == first

    # The documented rule, recomputed independently.
    def rank(n: int) -> bytes:
        return hashlib.sha256(f"7:4:{n}".encode()).digest()

    assert first.chosen == tuple(sorted(sorted(candidates, key=rank)[:3]))
    # Another round or seed gives another draw; min_nodes is a floor.
    others = {selector.select(candidates, r).chosen for r in range(1, 8)}
    assert len(others) > 1
    assert len(RandomFraction(0.01, seed=1, min_nodes=2).select(candidates, 1).chosen) == 2


def test_selector_specs() -> None:
    assert isinstance(make_selector("all", seed=1, min_nodes=1), AllNodes)
    assert make_selector("random:0.5", seed=3, min_nodes=1) == RandomFraction(0.5, 3, 1)
    assert selected_count("random:0.75", 4) == 3
    assert selected_count("all", 5) == 5
    for bad in ("random:x", "random:0", "random:1.5", "quantum", "all:1"):
        with pytest.raises(FederationError):
            make_selector(bad, seed=0, min_nodes=1)
