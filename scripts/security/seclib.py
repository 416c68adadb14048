"""Shared by the contract security scripts: paths, the tool environment, report files.

The scripts run from a fresh clone after `make setup`: forge comes from node_modules/.bin
(package-lock.json), Slither from .venv (requirements.lock), solc from the solc-js wrapper in
.solcx/.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
REPORTS = ROOT / "reports" / "security"
FORGE_BUILD = ROOT / "build" / "forge"
ACTION_LOG = FORGE_BUILD / "invariant-actions.log"


def tool_env(**extra: str) -> dict[str, str]:
    """The environment with the project's forge, node and Slither first on PATH."""
    path = os.pathsep.join(
        [str(ROOT / "node_modules" / ".bin"), str(ROOT / ".venv" / "bin"), os.environ["PATH"]]
    )
    env = {**os.environ, "PATH": path, "NO_COLOR": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    env.update(extra)
    return env


def require_tools() -> None:
    """Fail early, with the fix, when `make setup` has not run."""
    missing = [
        str(p.relative_to(ROOT))
        for p in (
            ROOT / "node_modules" / ".bin" / "forge",
            ROOT / ".solcx" / "solc-v0.8.28",
            ROOT / ".venv" / "bin" / "slither",
        )
        if not p.exists()
    ]
    if missing:
        sys.exit(f"missing {', '.join(missing)}: run `make setup` first")


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
    }


def forge_version() -> str:
    out = subprocess.run(
        ["forge", "--version"], env=tool_env(), capture_output=True, text=True, check=False
    ).stdout
    first = out.splitlines()[0] if out else ""
    return "forge " + first.split("Version:")[-1].strip() if "Version:" in first else "forge ?"


def config_seed(profile: str = "default") -> str:
    """The fuzz seed foundry.toml sets for a profile (profiles inherit the default's)."""
    config = tomllib.loads((ROOT / "foundry.toml").read_text())["profile"]
    for name in (profile, "default"):
        seed = config.get(name, {}).get("fuzz", {}).get("seed")
        if seed:
            return f"{seed} (foundry.toml)"
    return "random"


def write_report(name: str, data: dict[str, Any]) -> Path:
    """reports/security/<name>.json, with when and where it was produced."""
    REPORTS.mkdir(parents=True, exist_ok=True)
    data = {
        "generated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine(),
        **data,
    }
    path = REPORTS / f"{name}.json"
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path


def read_report(name: str) -> dict[str, Any] | None:
    path = REPORTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def parse_action_log(path: Path = ACTION_LOG) -> dict[str, dict[str, int]]:
    """Sum the per-run lines `name=succeeded/rejected ...` the invariant suite appends."""
    totals: dict[str, dict[str, int]] = {}
    if not path.exists():
        return totals
    for line in path.read_text().splitlines():
        for item in line.split():
            name, _, counts = item.partition("=")
            ok, _, rejected = counts.partition("/")
            row = totals.setdefault(name, {"succeeded": 0, "rejected": 0})
            row["succeeded"] += int(ok)
            row["rejected"] += int(rejected)
    return totals
