"""Paths and small helpers shared by the browser suite."""

from __future__ import annotations

import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FRONTEND = ROOT / "frontend"
DIST = FRONTEND / "dist"
ARTIFACTS = ROOT / "reports" / "browser"


def node_binary() -> str:
    """Node for the frontend tools: the project's pinned Node 22 if installed, else PATH's."""
    pinned = ROOT / "node_modules" / ".bin" / "node"
    if pinned.exists():
        return str(pinned)
    found = shutil.which("node")
    if found is None:
        raise RuntimeError("node not found")
    return found
