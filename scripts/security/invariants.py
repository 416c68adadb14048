"""The contract invariant campaign (forge, tests/foundry): `make invariants` (a suite of
`make test`) and `make fuzz` (the longer profile).

    .venv/bin/python scripts/security/invariants.py                   # CI campaign, fixed seed
    .venv/bin/python scripts/security/invariants.py --profile fuzz    # long campaign, new seed

Builds, then runs `forge test` on tests/foundry with the foundry.toml profile, streaming forge's
output. Writes reports/security/invariants.json (invariants-<profile>.json for another profile)
with the verdict, runs, calls, compile and fuzz time, the calls per action (forge's metrics) and
what the actions did (succeeded / reverted as specified, from build/forge/invariant-actions.log),
and refreshes reports/security/contracts-summary.md. Exits with forge's status, or 1 if some
action never succeeded in the whole campaign (the campaign would not be testing it).
"""

from __future__ import annotations

import argparse
import re
import secrets
import subprocess
import sys
import time

import seclib
import security_report

RESULT = re.compile(
    r"\[(PASS|FAIL(?:: (.*?))?)\] (invariant_\w+)\(\) \(runs: (\d+), calls: (\d+), reverts: (\d+)\)"
)
METRIC = re.compile(r"^\|\s*(\w+Handler)\s*\|\s*(\w+)\s*\|\s*(\d+)\s*\|\s*(\d+)\s*\|\s*(\d+)\s*\|")


def run(cmd: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Run, echoing output as it comes, and return the status and the whole output."""
    proc = subprocess.Popen(
        cmd, cwd=seclib.ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    lines = []
    assert proc.stdout is not None
    for line in proc.stdout:
        sys.stdout.write(line)
        lines.append(line)
    return proc.wait(), "".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", default="default", help="foundry.toml profile")
    parser.add_argument("--seed", help="fuzz seed (default: the profile's; a new one for fuzz)")
    args = parser.parse_args(argv)
    seclib.require_tools()
    seed = args.seed or (hex(secrets.randbits(64)) if args.profile != "default" else None)
    env = seclib.tool_env(FOUNDRY_PROFILE=args.profile)
    seclib.ACTION_LOG.unlink(missing_ok=True)

    start = time.monotonic()
    code, _ = run(["forge", "build"], env)
    compiled = time.monotonic()
    if code != 0:
        return code
    cmd = ["forge", "test", "--match-path", "tests/foundry/*"]
    if seed:
        cmd += ["--fuzz-seed", seed]
    code, output = run(cmd, env)
    fuzzed = time.monotonic()

    results = [
        {
            "test": m.group(3),
            "passed": m.group(1) == "PASS",
            "failure": m.group(2) or "",
            "runs": int(m.group(4)),
            "calls": int(m.group(5)),
            "reverts": int(m.group(6)),
        }
        for m in RESULT.finditer(output)
    ]
    calls_per_action: dict[str, int] = {}
    for line in output.splitlines():
        if metric := METRIC.match(line):
            key = f"{metric.group(1)}.{metric.group(2)}"
            calls_per_action[key] = int(metric.group(3))
    # A campaign in which some action never got through would pass without testing that action.
    outcomes = seclib.parse_action_log()
    never = [action for action, c in outcomes.items() if c["succeeded"] == 0]
    name = "invariants" if args.profile == "default" else f"invariants-{args.profile}"
    seclib.write_report(
        name,
        {
            "command": "make invariants" if args.profile == "default" else "make fuzz",
            "forge": seclib.forge_version(),
            "profile": args.profile,
            "seed": seed or seclib.config_seed(args.profile),
            "compile_s": round(compiled - start, 1),
            "fuzz_s": round(fuzzed - compiled, 1),
            "results": results,
            "calls_per_action": calls_per_action,
            "action_outcomes": outcomes,
            "actions_never_succeeded": never,
            "passed": code == 0
            and bool(results)
            and all(r["passed"] for r in results)
            and bool(outcomes)
            and not never,
        },
    )
    security_report.write_summary()
    print(
        f"\ninvariant campaign ({args.profile}, seed {seed or seclib.config_seed(args.profile)}): "
        f"compile {compiled - start:.0f} s, "
        f"fuzz {fuzzed - compiled:.0f} s, "
        + ", ".join(
            f"{r['test']} {'PASS' if r['passed'] else 'FAIL'} {r['calls']} calls" for r in results
        )
    )
    if not results:
        print("no invariant test ran")
        return 1
    if code == 0 and (not outcomes or never):
        print(f"FAILED: actions that never succeeded in the campaign: {never or 'all'}")
        return 1
    return code


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
