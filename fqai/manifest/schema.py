"""Access to the machine-readable JSON Schema (draft 2020-12) of the signed envelope."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

SCHEMA_RESOURCE = "manifest.schema.json"


@cache
def schema_text() -> str:
    """The schema file's text as shipped in the package."""
    return resources.files("fqai.manifest").joinpath(SCHEMA_RESOURCE).read_text(encoding="utf-8")


def load_schema() -> dict[str, Any]:
    """The schema as a dict (a fresh copy each call)."""
    return json.loads(schema_text())
