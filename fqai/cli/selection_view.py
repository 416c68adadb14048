"""The CLI's view of node selection: early checks of the options and the per-round table."""

from __future__ import annotations

from typing import Any


def check_selection(spec: str, settings: dict[str, str | int | float]) -> None:
    """Raise the selection's own error now for a bad ``--selection`` or ``--qaoa-*`` option."""
    from fqai.federation.selection import make_selector
    from fqai.federation.server_app import qaoa_config

    make_selector(spec, seed=0, min_nodes=1, qaoa=qaoa_config(dict(settings)))


def _num(value: Any, fmt: str = ".4g") -> str:
    return "-" if value is None else format(value, fmt)


def selection_summary(rounds: list[dict[str, Any]]) -> list[str]:
    """One line per optimised round: the classical and the QAOA answer side by side."""
    lines = []
    for rnd in rounds:
        sel = rnd.get("selection") or {}
        opt = sel.get("optimiser")
        if not opt:
            continue
        if "error" in opt and "classical" not in opt:
            lines.append(f"round {rnd['round']}: selection failed ({opt['error']}); all trained")
            continue
        c = opt["classical"]
        line = (
            f"round {rnd['round']}: {sel['method']} chose {len(sel['chosen'])} of "
            f"{len(sel['candidates'])}; {c['solver']} f={_num(c['objective'])} "
            f"(ratio {_num(c.get('approximation_ratio'), '.3f')}, {c['seconds']:.3f} s)"
        )
        q = opt.get("qaoa")
        if q and "error" not in q:
            circuit = q["circuit"]
            line += (
                f"; QAOA f={_num(q['objective'])} "
                f"(ratio {_num(q.get('approximation_ratio'), '.3f')}"
                f", P(feasible) {q['p_feasible']:.3f}, P(opt) "
                f"{_num(q['p_optimum_over_uniform'], '.2f')}x uniform, {circuit['width']} qubits"
                f" depth {circuit['depth']} 2q-gates {circuit['two_qubit_gates']}, "
                f"{q['shots']} shots on {q['sampled_on']}, {q['seconds']:.2f} s)"
            )
        elif q:
            line += f"; QAOA: {q['error']}"
        if "used" in opt:
            fallback = opt.get("fallback")
            used = opt["used"]
            if fallback:
                used += f", fallback: {fallback['reason']}"
            elif opt.get("tie"):
                used += ", tie"
            line += f" -> used {used}"
        lines.append(line)
    return lines
