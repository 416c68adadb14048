"""The CLI's view of node selection: early checks of the options and the per-round table."""

from __future__ import annotations

from typing import Any

from rich.table import Table


def check_selection(spec: str, settings: dict[str, str | int | float]) -> None:
    """Raise the selection's own error now for a bad ``--selection`` or ``--qaoa-*`` option."""
    from fqai.federation.selection import make_selector
    from fqai.federation.server_app import qaoa_config

    make_selector(spec, seed=0, min_nodes=1, qaoa=qaoa_config(dict(settings)))


def _num(value: Any, fmt: str = ".4g") -> str:
    return "-" if value is None else format(value, fmt)


def selection_table(rounds: list[dict[str, Any]]) -> Table | None:
    """Classical vs QAOA figures of every optimised round; ``None`` when no round was optimised."""
    rows = [
        (r["round"], r["selection"]["optimiser"])
        for r in rounds
        if r.get("selection") and r["selection"].get("optimiser")
    ]
    if not rows:
        return None
    table = Table(title="node selection (objective: higher is better)")
    for column in (
        "round",
        "solver",
        "k of n",
        "classical f (ratio)",
        "qaoa f (ratio)",
        "P(feasible)",
        "P(opt)/uniform",
        "circuit w/d/2q",
        "shots",
        "seconds c/q",
        "used",
    ):
        table.add_column(column)
    for round_, opt in rows:
        classical = opt.get("classical", {})
        qaoa = opt.get("qaoa") or {}
        circuit = qaoa.get("circuit") or {}
        fallback = opt.get("fallback")
        used = opt.get("used", classical.get("solver", "-"))
        if fallback:
            used = f"{used} (fallback: {fallback['reason']})"
        elif opt.get("tie"):
            used = f"{used} (tie)"
        table.add_row(
            str(round_),
            str(opt.get("solver")),
            f"{opt.get('k', '-')} of {len(opt.get('candidates', []))}",
            f"{_num(classical.get('objective'))} ({_num(classical.get('approximation_ratio'))})",
            f"{_num(qaoa.get('objective'))} ({_num(qaoa.get('approximation_ratio'))})"
            if qaoa and "error" not in qaoa
            else (qaoa.get("error", "-") if qaoa else "-"),
            _num(qaoa.get("p_feasible"), ".3f"),
            _num(qaoa.get("p_optimum_over_uniform"), ".2f"),
            f"{circuit['width']}/{circuit['depth']}/{circuit['two_qubit_gates']}"
            if circuit
            else "-",
            str(qaoa.get("shots", "-")),
            f"{_num(classical.get('seconds'), '.3f')}/{_num(qaoa.get('seconds'), '.2f')}",
            str(used),
        )
    return table
