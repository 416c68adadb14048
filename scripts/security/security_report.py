"""Markdown tables from the contract security reports: reports/security/{slither,invariants,
mutants}.json.

    .venv/bin/python scripts/security/security_report.py     # reports/security/contracts-summary.md
    .venv/bin/python scripts/security/security_report.py --write docs/security/contracts.md

The runners (slither_check.py, invariants.py, mutants.py) refresh the summary file after each run.
`--write` replaces the text between each `<!-- <section>:start -->` / `<!-- <section>:end -->` pair
of the document with the table of the report that exists (slither, invariants, mutants).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import seclib

SUMMARY = seclib.REPORTS / "contracts-summary.md"


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def slither_section(r: dict[str, Any]) -> str:
    counts = r["counts"]
    lines = [
        f"Produced by `{r['command']}` (Slither {r['slither']}) on {r['generated']}, "
        f"{r['seconds']} s on {r['machine']['cpus']} CPUs: **"
        + ", ".join(f"{k} {v}" for k, v in counts.items())
        + "** reported; false positives suppressed in the source: "
        + (", ".join(f"{k} {v}" for k, v in r.get("suppressed_by_severity", {}).items()) or "none")
        + "; "
        + ("gate passed." if r["passed"] else "gate FAILED."),
        "",
        "| Severity | Detector | Locations | Decision | Why |",
        "|---|---|---|---|---|",
    ]
    groups: dict[tuple[str, str, str, str], list[str]] = {}
    for f in r["findings"]:
        key = (f["impact"], f["detector"], f["decision"], f["reason"])
        groups.setdefault(key, []).append(f"`{f['location']}`")
    for (impact, detector, decision, reason), where in groups.items():
        lines.append(
            f"| {impact} | `{detector}` | {'<br>'.join(where)} | {decision} | {_cell(reason)} |"
        )
    if r["suppressed"]:
        lines += [
            "",
            "Suppressed in the source (`// slither-disable-next-line`), false positives:",
            "",
            "| Severity | Detector | Where | Code | Why it is a false positive |",
            "|---|---|---|---|---|",
        ]
        for s in r["suppressed"]:
            lines.append(
                f"| {s['impact']} | `{','.join(s['detectors'])}` | `{s['file']}:{s['line'] + 1}` "
                f"| `{_cell(s['code'])}` | {_cell(s['reason'])} |"
            )
    if r["problems"]:
        lines += ["", "Gate failures:", ""] + [f"- {_cell(p)}" for p in r["problems"]]
    return "\n".join(lines)


def invariants_section(r: dict[str, Any]) -> str:
    lines = [
        f"Produced by `{r['command']}` ({r['forge']}, profile `{r['profile']}`, seed "
        f"{r['seed']}) on {r['generated']}, {r['machine']['cpus']} CPUs: compile "
        f"{r['compile_s']} s, campaign {r['fuzz_s']} s.",
        "",
        "| Test | Result | Runs | Calls | Handler reverts |",
        "|---|---|---:|---:|---:|",
    ]
    for t in r["results"]:
        verdict = "pass" if t["passed"] else f"FAIL: {_cell(t['failure'])}"
        lines.append(f"| `{t['test']}` | {verdict} | {t['runs']} | {t['calls']} | {t['reverts']} |")
    outcomes = r.get("action_outcomes") or {}
    if outcomes:
        lines += [
            "",
            "What the calls did, summed over all runs (a call either succeeded or reverted as the "
            "handler's model said it must; any other outcome fails invariant I12):",
            "",
            "| Contract call | Succeeded as specified | Reverted as specified |",
            "|---|---:|---:|",
        ]
        for name, c in outcomes.items():
            lines.append(f"| `{name}` | {c['succeeded']} | {c['rejected']} |")
    return "\n".join(lines)


def mutants_section(r: dict[str, Any]) -> str:
    base = r["baseline"]
    lines = [
        f"Produced by `{r['command']}` ({r['forge']}, profile `{r['profile']}`, seed "
        f"{r.get('seed', '?')}) on "
        f"{r['generated']}, {r['machine']['cpus']} CPUs, {r['seconds']} s in all. Unmodified "
        f"contracts: {base['verdict']} ({base.get('calls', '?')} calls, compile "
        f"{base['compile_s']} s, campaign {base['fuzz_s']} s). **Kill rate "
        f"{r['killed']}/{r['total']}.**",
        "",
        "| Mutant | Planted bug | Aimed at | Verdict | Caught by (first invariant to fail) "
        "| Length of the failing run | Time (s) |",
        "|---|---|---|---|---|---:|---:|",
    ]
    for m in r["mutants"]:
        verdict = "killed" if m["killed"] else f"SURVIVED ({m['verdict']})"
        caught = m.get("invariant", "")
        lines.append(
            f"| {m['id']} | {_cell(m['name'])} (`{Path(m['file']).name}`) "
            f"| {m['expected_invariant'].split()[0]} | {verdict} "
            f"| {_cell(caught)} | {m.get('calls', '')} | {m['compile_s'] + m['fuzz_s']:.0f} |"
        )
    return "\n".join(lines)


SECTIONS = {
    "slither": ("Slither", slither_section),
    "invariants": ("Invariant campaign", invariants_section),
    "mutants": ("Mutants", mutants_section),
}


def sections() -> dict[str, str]:
    out = {}
    for name, (_, render) in SECTIONS.items():
        report = seclib.read_report(name)
        if report is not None:
            out[name] = render(report)
    return out


def write_summary() -> Path:
    parts = ["# Contract security reports", ""]
    for name, text in sections().items():
        parts += [f"## {SECTIONS[name][0]}", "", text, ""]
    seclib.REPORTS.mkdir(parents=True, exist_ok=True)
    SUMMARY.write_text("\n".join(parts))
    return SUMMARY


def write_document(doc: Path) -> list[str]:
    text = doc.read_text()
    done = []
    for name, table in sections().items():
        start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
        if start in text and end in text:
            head, rest = text.split(start, 1)
            _, tail = rest.split(end, 1)
            text = f"{head}{start}\n{table}\n{end}{tail}"
            done.append(name)
    doc.write_text(text)
    return done


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", type=Path, help="document whose marked sections to replace")
    args = parser.parse_args(argv)
    print(f"wrote {write_summary().relative_to(seclib.ROOT)}")
    if args.write:
        print(f"updated {', '.join(write_document(args.write)) or 'nothing'} in {args.write}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
