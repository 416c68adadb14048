"""`make test`: every suite, in order, failing loudly.

1. Contract suite on Anvil (Brownie launches it on a free port), stateful invariants included
   (FQAI_FUZZ_EXAMPLES, default 200 examples).
2. The chain smoke test again on Ganache 7.9 (`--network ganache-cli`).
3. Contract security: Slither (no High/Medium, every other finding triaged), the Forge invariant
   campaign, and the planted bugs it must catch (docs/security/contracts.md).
4. The Python suite (trust layer, devnet, federation, delivery, quantum, attacks, `make demo`)
   with plain pytest.
5. The browser suite: the built frontend in Debian's Chromium (Playwright) against Anvil + IPFS.
6. The attack table of docs/SECURITY.md against the attack tests of this run.

A suite that collects no tests (pytest exit code 5) counts as a failure.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / ".venv" / "bin"

SUITES: list[tuple[str, list[str]]] = [
    (
        "contracts on Anvil",
        [str(BIN / "brownie"), "test", "tests/contracts", "--network", "development"],
    ),
    (
        "smoke test on Ganache",
        [
            str(BIN / "brownie"),
            "test",
            "tests/contracts/test_smoke_chain.py",
            "--network",
            "ganache-cli",
        ],
    ),
    ("slither (contracts)", [str(BIN / "python"), "scripts/security/slither_check.py"]),
    ("contract invariants (forge)", [str(BIN / "python"), "scripts/security/invariants.py"]),
    ("contract mutants (forge)", [str(BIN / "python"), "scripts/security/mutants.py"]),
    ("python suite", [str(BIN / "python"), "-m", "pytest", "tests/python", "-q"]),
    ("browser suite", [str(BIN / "python"), "-m", "pytest", "tests/browser", "-q"]),
    (
        "attack table (SECURITY.md)",
        [str(BIN / "python"), "scripts/security/attack_table.py", "--check", "docs/SECURITY.md"],
    ),
]


def main(argv: list[str]) -> int:
    selected = [s for s in SUITES if not argv or any(a in s[0] for a in argv)]
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    results: list[tuple[str, int, float]] = []
    for name, cmd in selected:
        print(f"\n=== {name}: {' '.join(cmd)}", flush=True)
        start = time.monotonic()
        code = subprocess.run(cmd, cwd=ROOT, env=env).returncode
        elapsed = time.monotonic() - start
        if code == 5:
            print(f"=== {name}: no tests were collected (pytest exit 5) — counted as a failure")
        results.append((name, code, elapsed))
    print("\n=== summary")
    for name, code, elapsed in results:
        print(f"  {'ok  ' if code == 0 else 'FAIL'} {name:<24} exit {code:<3} {elapsed:7.1f} s")
    return 0 if all(code == 0 for _, code, _ in results) else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
