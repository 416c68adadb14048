"""A small JSON Schema (2020-12) validator for the keywords manifest.schema.json uses.

Test-only: it lets the suite check the shipped schema file against real envelopes without an
extra dependency. Unknown keywords fail loudly so the schema cannot drift past this validator.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

ANNOTATIONS = {"$schema", "$id", "title", "description", "$defs"}
TYPES: dict[str, Callable[[Any], bool]] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: type(v) is int,
    "number": lambda v: type(v) in (int, float),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}
LIMITS: dict[str, tuple[type | tuple[type, ...], Callable[[Any, Any], bool]]] = {
    "minimum": ((int, float), lambda v, r: v >= r),
    "maximum": ((int, float), lambda v, r: v <= r),
    "minLength": (str, lambda v, r: len(v) >= r),
    "maxLength": (str, lambda v, r: len(v) <= r),
    "minItems": (list, lambda v, r: len(v) >= r),
    "maxItems": (list, lambda v, r: len(v) <= r),
    "maxProperties": (dict, lambda v, r: len(v) <= r),
    "pattern": (str, lambda v, r: re.search(r, v) is not None),
    "uniqueItems": (list, lambda v, r: not r or len({repr(i) for i in v}) == len(v)),
}


class SchemaViolationError(ValueError):
    """The instance does not satisfy the schema."""


def _check_object(instance: Any, schema: dict[str, Any], root: dict[str, Any], path: str) -> None:
    if not isinstance(instance, dict):
        return
    missing = [k for k in schema.get("required", []) if k not in instance]
    if missing:
        raise SchemaViolationError(f"{path}: missing {missing}")
    properties = schema.get("properties", {})
    for name, value in instance.items():
        if name in properties:
            validate(value, properties[name], root, f"{path}.{name}")
        elif schema.get("additionalProperties") is False:
            raise SchemaViolationError(f"{path}: unexpected {name}")
        elif isinstance(schema.get("additionalProperties"), dict):
            validate(value, schema["additionalProperties"], root, f"{path}.{name}")
        if "propertyNames" in schema:
            validate(name, schema["propertyNames"], root, f"{path} key {name!r}")


def _check_one_of(instance: Any, options: list[Any], root: dict[str, Any], path: str) -> None:
    matches = 0
    for option in options:
        try:
            validate(instance, option, root, path)
        except SchemaViolationError:
            continue
        matches += 1
    if matches != 1:
        raise SchemaViolationError(f"{path}: matches {matches} branches of oneOf")


def validate(
    instance: Any, schema: dict[str, Any], root: dict[str, Any] | None = None, path: str = "$"
) -> None:
    """Raise :class:`SchemaViolationError` if ``instance`` violates ``schema``."""
    root = root or schema
    object_keys = {"required", "properties", "additionalProperties", "propertyNames"}
    for key, rule in schema.items():
        if key in ANNOTATIONS or key in object_keys:
            continue
        if key == "$ref":
            target: Any = root
            for part in rule.removeprefix("#/").split("/"):
                target = target[part]
            validate(instance, target, root, path)
        elif key == "type":
            if not TYPES[rule](instance):
                raise SchemaViolationError(f"{path}: not of type {rule}")
        elif key == "const":
            if instance != rule or type(instance) is not type(rule):
                raise SchemaViolationError(f"{path}: must be {rule!r}")
        elif key == "enum":
            if instance not in rule:
                raise SchemaViolationError(f"{path}: not one of {rule}")
        elif key in LIMITS:
            kinds, ok = LIMITS[key]
            applies = isinstance(instance, kinds) and not isinstance(instance, bool)
            if applies and not ok(instance, rule):
                raise SchemaViolationError(f"{path}: violates {key} {rule!r}")
        elif key == "items":
            for index, item in enumerate(instance if isinstance(instance, list) else []):
                validate(item, rule, root, f"{path}[{index}]")
        elif key == "oneOf":
            _check_one_of(instance, rule, root, path)
        else:
            raise AssertionError(f"schema keyword {key!r} not supported by the test validator")
    if object_keys & set(schema):
        _check_object(instance, schema, root, path)
