"""Pytest hooks that record attack tests for docs/SECURITY.md's results table.

A test marked ``@pytest.mark.attack(id, actor=..., attack=..., control=...)`` tries one attack
and asserts that the control stopped it. At the end of the session every marked test's outcome
is written to ``reports/security/attacks-<suite>.json``; ``scripts/security/attack_table.py``
renders the table from those files and checks the committed one against them. A row whose test
failed reads "NOT STOPPED". Conftests import these hooks by name.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
REPORTS = ROOT / "reports" / "security"
_RESULTS = pytest.StashKey[dict[str, dict[str, Any]]]()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "attack(id, actor, attack, control): an attack this test tries; recorded for SECURITY.md",
    )
    config.stash[_RESULTS] = {}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    outcome = yield
    marker = item.get_closest_marker("attack")
    if marker is None:
        return
    report = outcome.get_result()
    if report.when == "call" or (report.when == "setup" and not report.passed):
        results = item.config.stash[_RESULTS]
        row = results.setdefault(
            item.nodeid,
            {
                "id": marker.args[0],
                "actor": marker.kwargs["actor"],
                "attack": marker.kwargs["attack"],
                "control": marker.kwargs["control"],
                "test": item.nodeid,
                "suite": Path(item.path).parent.name,
            },
        )
        row["outcome"] = "passed" if report.passed else ("skipped" if report.skipped else "failed")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    results = session.config.stash.get(_RESULTS, {})
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return
    for suite in sorted({row["suite"] for row in results.values()}):
        REPORTS.mkdir(parents=True, exist_ok=True)
        path = REPORTS / f"attacks-{suite}.json"
        rows: dict[str, dict[str, Any]] = {}
        if path.exists():  # a partial run (-k, one file) updates its rows and keeps the others
            rows = {row["test"]: row for row in json.loads(path.read_text())["rows"]}
        rows.update({k: v for k, v in results.items() if v["suite"] == suite})
        ordered = sorted(rows.values(), key=lambda r: (r["id"], r["test"]))
        path.write_text(json.dumps({"suite": suite, "rows": ordered}, indent=1) + "\n")
