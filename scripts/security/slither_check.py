"""Slither on the product contracts, gated: `make slither` (also run by `make lint`).

    .venv/bin/python scripts/security/slither_check.py

Slither 0.11 compiles through forge (foundry.toml, the solc-js wrapper in .solcx/, Shanghai) into
build/forge/slither/, so it never disturbs the invariant suite's build. Settings are in
slither.config.json: findings only in OpenZeppelin are left out (exclude_dependencies). Findings on
the test-only contracts/test/TestActor.sol (never deployed) are listed apart and not gated.

Fails (exit 1) when Slither reports
  - a High or Medium finding (false positives are suppressed in the source, each with
    `// slither-disable-next-line <detector> (<reason>)`; the comments are listed in the report),
  - a Low / Informational / Optimization finding with no entry in slither_triage.toml,
  - a triage entry or a suppression comment that matches nothing any more.
Writes reports/security/slither.json and refreshes reports/security/contracts-summary.md.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
import time
import tomllib
from collections import Counter
from pathlib import Path
from typing import Any

import seclib
import security_report

TRIAGE = Path(__file__).with_name("slither_triage.toml")
SEVERITIES = ("High", "Medium", "Low", "Informational", "Optimization")
GATED = ("High", "Medium")
SUPPRESSION = re.compile(r"//\s*slither-disable-next-line\s+([\w,-]+)\s*(.*)")


def run_slither() -> dict[str, Any]:
    out_dir = seclib.FORGE_BUILD / "slither"
    env = seclib.tool_env(
        FOUNDRY_OUT=str(out_dir / "out"), FOUNDRY_CACHE_PATH=str(out_dir / "cache")
    )
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "slither.json"
        proc = subprocess.run(
            ["slither", ".", "--json", str(report)],
            cwd=seclib.ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if not report.exists():
            sys.stderr.write(proc.stdout + proc.stderr)
            sys.exit("slither produced no JSON report (see its output above)")
        data = json.loads(report.read_text())
    if not data.get("success"):
        sys.exit(f"slither failed: {data.get('error')}")
    data["log"] = proc.stderr
    return data


def location(result: dict[str, Any]) -> str:
    """Contract.function or Contract.function.variable of the finding's first element."""
    if not result["elements"]:
        return ""
    element = result["elements"][0]
    parts = [element["name"]]
    parent = element.get("type_specific_fields", {}).get("parent")
    while parent:
        parts.append(parent["name"])
        parent = parent.get("type_specific_fields", {}).get("parent")
    return ".".join(reversed(parts))


def source_file(result: dict[str, Any]) -> str:
    if result["elements"]:
        return result["elements"][0]["source_mapping"]["filename_relative"]
    match = re.search(r" at (\S+?)#", result["description"])
    return str(Path(match.group(1)).resolve().relative_to(seclib.ROOT)) if match else ""


def suppressions() -> list[dict[str, Any]]:
    """Every `slither-disable-next-line` comment in the product contracts, with its reason."""
    found = []
    for path in sorted((seclib.ROOT / "contracts").rglob("*.sol")):
        rel = path.relative_to(seclib.ROOT).as_posix()
        if rel.startswith("contracts/test/"):
            continue
        lines = path.read_text().splitlines()
        for number, line in enumerate(lines, start=1):
            match = SUPPRESSION.search(line)
            if match:
                found.append(
                    {
                        "file": rel,
                        "line": number,
                        "detectors": match.group(1).split(","),
                        "reason": match.group(2).strip().strip("()"),
                        "code": lines[number].strip() if number < len(lines) else "",
                    }
                )
    return found


def detector_impacts() -> dict[str, str]:
    """Detector name -> severity, from Slither's own detector classes."""
    from slither.detectors import all_detectors
    from slither.detectors.abstract_detector import AbstractDetector

    return {
        d.ARGUMENT: d.IMPACT.name.title()
        for d in vars(all_detectors).values()
        if isinstance(d, type) and issubclass(d, AbstractDetector) and d is not AbstractDetector
    }


def load_triage() -> list[dict[str, Any]]:
    entries = tomllib.loads(TRIAGE.read_text())["finding"]
    for entry in entries:
        entry["reason"] = " ".join(entry["reason"].split())
    return entries


def main() -> int:
    seclib.require_tools()
    start = time.monotonic()
    data = run_slither()
    elapsed = time.monotonic() - start
    triage = load_triage()
    used: set[tuple[str, str]] = set()
    problems: list[str] = []
    findings = []
    test_only: list[dict[str, str]] = []
    for result in data["results"].get("detectors", []):
        check, impact = result["check"], result["impact"]
        where, path = location(result), source_file(result)
        if check == "unused-ignore-directive":
            if path.startswith("contracts/"):
                problems.append(f"unused suppression comment: {result['description'].strip()}")
            continue  # OpenZeppelin's own stale comment in Panic.sol is not ours to fix
        if path.startswith("contracts/test/"):
            test_only.append({"detector": check, "impact": impact, "location": where})
            continue
        entry = next(
            (e for e in triage if e["detector"] == check and where in e["locations"]), None
        )
        row = {
            "detector": check,
            "impact": impact,
            "confidence": result["confidence"],
            "location": where,
            "source": result.get("first_markdown_element", path),
            "description": result["description"].strip(),
            "decision": entry["decision"] if entry else "untriaged",
            "reason": entry["reason"] if entry else "",
        }
        findings.append(row)
        if impact in GATED:
            problems.append(f"{impact} finding {check} at {row['source']}: fix it or suppress it")
        elif entry is None:
            problems.append(
                f"untriaged {impact} finding {check} at {where} ({row['source']}): "
                f"add it to {TRIAGE.name} with a reason, or fix it"
            )
        else:
            used.add((check, where))
    for entry in triage:
        for where in entry["locations"]:
            if (entry["detector"], where) not in used:
                problems.append(
                    f"{TRIAGE.name}: {entry['detector']} at {where} matches no finding: remove it"
                )
    marks = suppressions()
    impacts = detector_impacts()
    for mark in marks:
        mark["impact"] = "/".join(impacts.get(d, "?") for d in mark["detectors"])
        if not mark["reason"]:
            problems.append(f"{mark['file']}:{mark['line']}: suppression without a reason")

    counts = Counter(f["impact"] for f in findings)
    suppressed = Counter(m["impact"] for m in marks)
    seclib.write_report(
        "slither",
        {
            "command": "make slither",
            "slither": subprocess.run(
                ["slither", "--version"], env=seclib.tool_env(), capture_output=True, text=True
            ).stdout.strip(),
            "seconds": round(elapsed, 1),
            "counts": {s: counts.get(s, 0) for s in SEVERITIES},
            "findings": findings,
            "test_only": test_only,
            "suppressed": marks,
            "suppressed_by_severity": dict(suppressed),
            "problems": problems,
            "passed": not problems,
        },
    )
    security_report.write_summary()

    print(
        f"Slither ({elapsed:.0f} s) on contracts/ (OpenZeppelin left out, TestActor listed apart)"
    )
    print("  reported: " + ", ".join(f"{s} {counts.get(s, 0)}" for s in SEVERITIES))
    print(
        "  suppressed in the source as false positives: "
        + (", ".join(f"{k} {v}" for k, v in suppressed.items()) or "none")
    )
    for m in marks:
        print(
            f"    {m['file']}:{m['line']} {m['impact']} {','.join(m['detectors'])}: {m['reason']}"
        )
    for f in findings:
        print(f"  {f['impact']:<13} {f['detector']:<20} {f['location']:<44} {f['decision']}")
    for t in test_only:
        print(f"  (test-only, not gated) {t['impact']} {t['detector']} {t['location']}")
    if problems:
        print("\nFAILED:")
        for p in problems:
            print(f"  - {p}")
        return 1
    print("OK: no High or Medium finding; every other finding is triaged in " + TRIAGE.name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
