"""Canonical JSON: the RFC 8785 (JSON Canonicalization Scheme) rules for the values fqai uses.

Accepted values are ``dict`` (string keys), ``list``/``tuple``, ``str``, ``bool``, ``None``,
``int`` with magnitude at most 2**53 - 1 (so that every integer is exactly representable as an
IEEE 754 double, as RFC 8785 assumes) and finite ``float``. Anything else raises
:class:`~fqai.errors.CanonicalizationError`; NaN and infinities are rejected.

Output rules (RFC 8785 section 3.2):

* no whitespace between tokens;
* object members sorted by their names compared as arrays of UTF-16 code units;
* strings escaped as ECMAScript ``JSON.stringify`` does: ``\\"`` ``\\\\`` and
  ``\\b \\f \\n \\r \\t`` use the short forms, other code points below U+0020 use
  ``\\u00xx`` (lower-case hex), every other character is written as is; output is UTF-8;
* numbers formatted as ECMAScript ``Number.prototype.toString`` (shortest round-trip digits,
  exponent form below 1e-6 and from 1e21, ``-0`` written as ``0``).
"""

from __future__ import annotations

import json
import math
from typing import Any

from fqai.errors import CanonicalizationError, ManifestError

MAX_SAFE_INTEGER = 2**53 - 1

_SHORT_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
}


def canonicalize(value: Any) -> bytes:
    """Serialise ``value`` to its canonical UTF-8 JSON bytes.

    Parameters
    ----------
    value
        A JSON-compatible value built from the types listed in the module docstring.

    Returns
    -------
    bytes
        The RFC 8785 canonical form.

    Raises
    ------
    CanonicalizationError
        If the value contains an unsupported type, a non-finite float, an integer outside the
        IEEE 754 safe range, a non-string object key, or a string with lone surrogates.
    """
    parts: list[str] = []
    _write(value, parts, "$")
    text = "".join(parts)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise CanonicalizationError(f"string contains a lone surrogate: {exc}") from exc


def format_number(value: int | float) -> str:
    """Format a number as ECMAScript ``Number.prototype.toString`` does.

    Parameters
    ----------
    value
        A finite float or an integer with magnitude at most 2**53 - 1.

    Returns
    -------
    str
        The canonical text of the number.
    """
    if isinstance(value, bool):
        raise CanonicalizationError("booleans are not numbers")
    if isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            raise CanonicalizationError(
                f"integer {value} is outside the exactly representable range +-(2**53 - 1)"
            )
        return str(value)
    if not isinstance(value, float):
        raise CanonicalizationError(f"not a number: {type(value).__name__}")
    if not math.isfinite(value):
        raise CanonicalizationError(f"non-finite number {value!r} has no JSON form")
    if value == 0.0:
        return "0"  # covers -0.0 as well
    sign = "-" if value < 0 else ""
    digits, point = _shortest_digits(abs(value))
    k = len(digits)
    n = point
    if k <= n <= 21:
        body = digits + "0" * (n - k)
    elif 0 < n <= 21:
        body = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        body = "0." + "0" * (-n) + digits
    else:
        exponent = n - 1
        exp_text = ("+" if exponent >= 0 else "-") + str(abs(exponent))
        mantissa = digits if k == 1 else digits[0] + "." + digits[1:]
        body = mantissa + "e" + exp_text
    return sign + body


def _shortest_digits(value: float) -> tuple[str, int]:
    """Return ``(digits, n)`` with ``value == 0.digits * 10**n`` using the shortest digit string.

    Python's ``repr`` of a float yields the shortest string that round-trips, which is the digit
    string ECMAScript requires.
    """
    text = repr(value)
    mantissa, _, exp_text = text.partition("e")
    exponent = int(exp_text) if exp_text else 0
    int_part, _, frac_part = mantissa.partition(".")
    all_digits = int_part + frac_part
    stripped = all_digits.lstrip("0")
    leading_zeros = len(all_digits) - len(stripped)
    digits = stripped.rstrip("0")
    point = len(int_part) + exponent - leading_zeros
    return digits, point


def _escape_string(text: str) -> str:
    out = ['"']
    for ch in text:
        short = _SHORT_ESCAPES.get(ch)
        if short is not None:
            out.append(short)
        elif ch < " ":
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def utf16_sort_key(name: str) -> bytes:
    """Sort key ordering strings by UTF-16 code units, as RFC 8785 orders object members."""
    try:
        return name.encode("utf-16-be")
    except UnicodeEncodeError as exc:
        raise CanonicalizationError(f"object key {name!r} contains a lone surrogate") from exc


def _write(value: Any, parts: list[str], path: str) -> None:
    if value is None:
        parts.append("null")
    elif value is True:
        parts.append("true")
    elif value is False:
        parts.append("false")
    elif isinstance(value, int | float):
        if isinstance(value, float) and value.is_integer() and MAX_SAFE_INTEGER < abs(value) < 1e21:
            # ECMAScript writes these as plain digits, which a reader takes for an integer
            # outside the exactly representable range: refuse what could not be read back.
            raise CanonicalizationError(
                f"at {path}: number {value!r} would be written as an integer beyond +-(2**53 - 1)"
            )
        try:
            parts.append(format_number(value))
        except CanonicalizationError as exc:
            raise CanonicalizationError(f"at {path}: {exc}") from exc
    elif isinstance(value, str):
        parts.append(_escape_string(value))
    elif isinstance(value, list | tuple):
        parts.append("[")
        for index, item in enumerate(value):
            if index:
                parts.append(",")
            _write(item, parts, f"{path}[{index}]")
        parts.append("]")
    elif isinstance(value, dict):
        for key in value:
            if not isinstance(key, str):
                raise CanonicalizationError(f"at {path}: object key {key!r} is not a string")
        parts.append("{")
        for index, key in enumerate(sorted(value, key=utf16_sort_key)):
            if index:
                parts.append(",")
            parts.append(_escape_string(key))
            parts.append(":")
            _write(value[key], parts, f"{path}.{key}")
        parts.append("}")
    else:
        raise CanonicalizationError(f"at {path}: unsupported type {type(value).__name__}")


def _reject_constant(name: str) -> Any:
    raise ManifestError(f"JSON constant {name} is not allowed")


# Longer integer literals cannot be canonical (|n| <= 2**53 - 1 has at most 16 digits); refusing
# them early also keeps Python's int-conversion limit (4300 digits) from raising ValueError.
MAX_INTEGER_DIGITS = 32


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INTEGER_DIGITS:
        raise ManifestError(f"integer literal of {len(text)} characters is too long")
    return int(text)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, item in pairs:
        if key in result:
            raise ManifestError(f"duplicate object key {key!r}")
        result[key] = item
    return result


def parse_strict(data: bytes) -> Any:
    """Parse JSON bytes strictly: UTF-8 only, no duplicate keys, no NaN/Infinity.

    Parameters
    ----------
    data
        The raw JSON document.

    Returns
    -------
    Any
        The parsed value.

    Raises
    ------
    ManifestError
        If the bytes are not UTF-8, not JSON, or use a construct outside canonical JSON.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ManifestError(f"document is not valid UTF-8: {exc}") from exc
    if text.startswith("\ufeff"):
        raise ManifestError("document starts with a byte order mark")
    try:
        return json.loads(
            text,
            object_pairs_hook=_no_duplicates,
            parse_constant=_reject_constant,
            parse_int=_parse_int,
        )
    except json.JSONDecodeError as exc:
        raise ManifestError(f"document is not valid JSON: {exc}") from exc
    except RecursionError as exc:
        raise ManifestError("document nests arrays or objects too deeply") from exc


def parse_canonical(data: bytes) -> Any:
    """Parse JSON bytes and require that they are already in canonical form.

    Parameters
    ----------
    data
        The raw JSON document.

    Returns
    -------
    Any
        The parsed value.

    Raises
    ------
    ManifestError
        If parsing fails or re-canonicalising the value does not reproduce ``data`` exactly.
    """
    value = parse_strict(data)
    try:
        again = canonicalize(value)
    except CanonicalizationError as exc:
        raise ManifestError(f"document cannot be canonicalised: {exc}") from exc
    if again != data:
        raise ManifestError("document is not in canonical JSON form (RFC 8785)")
    return value
