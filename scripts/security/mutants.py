"""Planted bugs the invariant suite must catch: `make mutants` (also a suite of `make test`).

    .venv/bin/python scripts/security/mutants.py            # every mutant in mutants.toml
    .venv/bin/python scripts/security/mutants.py M03 M07    # some of them

Copies contracts/, tests/foundry/ and foundry.toml into a temporary directory (node_modules and
.solcx linked), runs the invariant campaign there once unmodified (it must pass), then once per
mutant on a copy with that one bug planted. The campaign is the CI one: foundry.toml's `mutants`
profile has the default profile's runs, depth and seed, without the optimizer and without shrinking.
contracts/ in the repository is never touched.

A mutant is killed when the campaign fails; the report names the invariant that failed first.
Writes reports/security/mutants.json and refreshes reports/security/contracts-summary.md; exits 1
unless the unmodified copy passes and every mutant is killed.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path
from typing import Any

import seclib
import security_report

DEFINITIONS = Path(__file__).with_name("mutants.toml")
COPIED = ("contracts", "tests/foundry", "foundry.toml")
LINKED = ("node_modules", ".solcx")
TIMEOUT_S = 600
PASS = re.compile(r"\[PASS\] invariant_\w+\(\) \(runs: (\d+), calls: (\d+), reverts: (\d+)\)")
# forge prints one JSON line per invariant failure, and the failing run's length after it.
FAILURE_EVENT = re.compile(r'^\{.*"event":"failure".*\}$', re.MULTILINE)
SEQUENCE = re.compile(r"\[Sequence\] \(original: (\d+)")
VIOLATED = re.compile(r"INVARIANT VIOLATED \[(.*?)\]: (.*)")


def load(selected: list[str]) -> list[dict[str, Any]]:
    mutants = tomllib.loads(DEFINITIONS.read_text())["mutant"]
    if selected:
        mutants = [m for m in mutants if m["id"] in selected]
        if not mutants:
            sys.exit(f"no mutant among {selected}")
    for m in mutants:
        count = (seclib.ROOT / m["file"]).read_text().count(m["find"])
        if count != 1:
            sys.exit(
                f"{m['id']}: `find` occurs {count} times in {m['file']} (must be exactly once)"
            )
    return mutants


def make_workspace(parent: Path, name: str) -> Path:
    work = parent / name
    work.mkdir()
    for rel in COPIED:
        src, dst = seclib.ROOT / rel, work / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dst)
        else:
            shutil.copy2(src, dst)
    for rel in LINKED:
        (work / rel).symlink_to(seclib.ROOT / rel)
    return work


def copy_workspace(base: Path, name: str) -> Path:
    """A copy of the built unmodified workspace: forge then recompiles only the mutated file and
    what imports it (its cache survives the move)."""
    work = base.parent / name
    shutil.copytree(base, work, symlinks=True)
    shutil.rmtree(work / "build" / "forge" / "cache" / "invariant", ignore_errors=True)
    return work


def campaign(work: Path) -> dict[str, Any]:
    """Build (timed apart) and run the invariant campaign in `work`; the verdict and its numbers."""
    env = seclib.tool_env(FOUNDRY_PROFILE="mutants")
    start = time.monotonic()
    build = subprocess.run(
        ["forge", "build"], cwd=work, env=env, capture_output=True, text=True, check=False
    )
    compiled = time.monotonic()
    if build.returncode != 0:
        return {
            "verdict": "compile error",
            "detail": (build.stdout + build.stderr)[-2000:],
            "compile_s": round(compiled - start, 1),
            "fuzz_s": 0.0,
        }
    try:
        proc = subprocess.run(
            ["forge", "test", "--match-contract", "ProtocolInvariants"],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
            check=False,
        )
        output = proc.stdout + proc.stderr
    except subprocess.TimeoutExpired:
        return {
            "verdict": "timeout",
            "detail": f"no verdict in {TIMEOUT_S} s",
            "compile_s": round(compiled - start, 1),
            "fuzz_s": float(TIMEOUT_S),
        }
    result: dict[str, Any] = {
        "compile_s": round(compiled - start, 1),
        "fuzz_s": round(time.monotonic() - compiled, 1),
    }
    if event := FAILURE_EVENT.search(output):
        reason = json.loads(event.group(0)).get("reason", "")
        violated = VIOLATED.search(reason)
        sequence = SEQUENCE.search(output)
        result.update(
            verdict="failed",
            invariant=violated.group(1) if violated else "a handler call reverted (fail_on_revert)",
            detail=violated.group(2) if violated else reason,
            calls=int(sequence.group(1)) if sequence else None,
        )
    elif proc.returncode == 0 and (passed := PASS.search(output)):
        runs, calls, reverts = passed.groups()
        result.update(verdict="passed", runs=int(runs), calls=int(calls), reverts=int(reverts))
    else:
        result.update(verdict="no result", detail=output[-2000:])
    return result


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("ids", nargs="*", help="mutant ids (default: all)")
    args = parser.parse_args(argv)
    seclib.require_tools()
    mutants = load(args.ids)
    start = time.monotonic()
    rows = []
    with tempfile.TemporaryDirectory(prefix="fqai-mutants-") as tmp:
        base = make_workspace(Path(tmp), "unmodified")
        print("unmodified contracts: ", end="", flush=True)
        baseline = campaign(base)
        print(
            f"{baseline['verdict']} (compile {baseline['compile_s']} s, "
            f"fuzz {baseline['fuzz_s']} s)",
            flush=True,
        )
        if baseline["verdict"] != "passed":
            print(baseline.get("detail", ""))
        for m in mutants:
            work = copy_workspace(base, m["id"])
            target = work / m["file"]
            target.write_text(target.read_text().replace(m["find"], m["replace"]))
            print(f"{m['id']} {m['name']}: ", end="", flush=True)
            outcome = campaign(work)
            killed = outcome["verdict"] == "failed"
            row = {
                "id": m["id"],
                "name": m["name"],
                "file": m["file"],
                "expected_invariant": m["expect"],
                "killed": killed,
                **outcome,
            }
            rows.append(row)
            if killed:
                print(
                    f"KILLED by [{outcome['invariant']}] in a run of {outcome['calls']} calls "
                    f"(compile {outcome['compile_s']} s, fuzz {outcome['fuzz_s']} s)\n"
                    f"    {outcome['detail']}",
                    flush=True,
                )
            else:
                print(f"SURVIVED ({outcome['verdict']}) {outcome.get('detail', '')}", flush=True)
            shutil.rmtree(work)
    elapsed = time.monotonic() - start
    killed = sum(r["killed"] for r in rows)
    ok = baseline["verdict"] == "passed" and killed == len(rows)
    seclib.write_report(
        "mutants",
        {
            "command": "make mutants" if not args.ids else f"mutants.py {' '.join(args.ids)}",
            "forge": seclib.forge_version(),
            "profile": "mutants",
            "seed": seclib.config_seed("mutants"),
            "seconds": round(elapsed, 1),
            "baseline": baseline,
            "killed": killed,
            "total": len(rows),
            "kill_rate": round(killed / len(rows), 3) if rows else None,
            "mutants": rows,
            "passed": ok,
        },
    )
    security_report.write_summary()
    print(f"\nkill rate {killed}/{len(rows)} in {elapsed:.0f} s")
    if baseline["verdict"] != "passed":
        print("FAILED: the campaign does not pass on the unmodified contracts")
    elif not ok:
        print("FAILED: the invariant suite missed a planted bug")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
