"""RFC 8785 canonical JSON: unit tests written from the rules of the specification."""

from __future__ import annotations

import math

import pytest

from fqai.errors import CanonicalizationError, ManifestError
from fqai.jcs import canonicalize, format_number, parse_canonical, parse_strict


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.0, "0"),
        (-0.0, "0"),
        (0, "0"),
        (1.0, "1"),
        (-1.0, "-1"),
        (4.5, "4.5"),
        (4.50, "4.5"),
        (2e-3, "0.002"),
        (0.000001, "0.000001"),
        (1e-7, "1e-7"),
        (-1.5e-7, "-1.5e-7"),
        (1e21, "1e+21"),
        (1e20, "100000000000000000000"),
        (1e30, "1e+30"),
        (1e-27, "1e-27"),
        (123456789012345680000.0, "123456789012345680000"),
        (333333333.33333329, "333333333.3333333"),
        (0.1, "0.1"),
        (1 / 3, "0.3333333333333333"),
        (5e-324, "5e-324"),
        (1.7976931348623157e308, "1.7976931348623157e+308"),
        (9007199254740991, "9007199254740991"),
        (-9007199254740991, "-9007199254740991"),
        (295147905179352830000.0, "295147905179352830000"),
        (123.0, "123"),
        (1.5e300, "1.5e+300"),
    ],
)
def test_number_formatting_follows_ecmascript(value: float, expected: str) -> None:
    assert format_number(value) == expected


@pytest.mark.parametrize(
    "bad", [math.nan, math.inf, -math.inf, 2**53, -(2**53), 10**30, 1e20, -(2.0**53), 9.9e20]
)
def test_non_finite_and_unsafe_numbers_are_rejected(bad: float) -> None:
    with pytest.raises(CanonicalizationError):
        canonicalize({"x": bad})


def test_rfc8785_sort_order_uses_utf16_code_units() -> None:
    # The RFC's sorting example: U+1F600 (surrogates D83D DE00) sorts before U+FB33.
    value = {
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\U0001f600": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis",
    }
    out = canonicalize(value).decode("utf-8")
    keys_in_order = ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]
    positions = [out.index(f'"{k}"' if k != "\r" else '"\\r"') for k in keys_in_order]
    assert positions == sorted(positions)


def test_rfc8785_primitive_example() -> None:
    value = {
        "numbers": [333333333.33333329, 1e30, 4.50, 2e-3, 0.000000000000000000000000001],
        "string": "\u20ac$\u000f\u000aA'\u0042\u0022\u005c\\\"/",
        "literals": [None, True, False],
    }
    expected = (
        '{"literals":[null,true,false],'
        '"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
        '"string":"\u20ac$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
    )
    assert canonicalize(value) == expected.encode("utf-8")


def test_string_escapes() -> None:
    text = '\b\f\n\r\t\x00\x1f\x7f\u2028é"\\/'
    assert canonicalize(text) == '"\\b\\f\\n\\r\\t\\u0000\\u001f\x7f\u2028é\\"\\\\/"'.encode()


def test_nested_structures_and_no_whitespace() -> None:
    value = {"b": [1, {"d": 2, "c": [True, None]}], "a": {}}
    assert canonicalize(value) == b'{"a":{},"b":[1,{"c":[true,null],"d":2}]}'


def test_lone_surrogates_and_bad_types_are_rejected() -> None:
    with pytest.raises(CanonicalizationError):
        canonicalize("\ud800")
    with pytest.raises(CanonicalizationError):
        canonicalize({"\udc00": 1})
    with pytest.raises(CanonicalizationError):
        canonicalize({1: "x"})
    with pytest.raises(CanonicalizationError):
        canonicalize({"x": b"bytes"})


def test_parse_canonical_accepts_only_canonical_bytes() -> None:
    assert parse_canonical(b'{"a":1,"b":[2.5]}') == {"a": 1, "b": [2.5]}
    for bad in [
        b'{"b":1,"a":2}',  # unsorted
        b'{"a": 1}',  # whitespace
        b'{"a":1.0}',  # 1.0 is written 1
        b'{"a":1E3}',  # exponent form not canonical
        b'{"a":"\\u0041"}',  # needless escape
        b'{"a":1}\n',  # trailing newline
    ]:
        with pytest.raises(ManifestError, match="canonical"):
            parse_canonical(bad)


def test_parse_strict_rejects_duplicates_constants_and_bad_encoding() -> None:
    with pytest.raises(ManifestError, match="duplicate"):
        parse_strict(b'{"a":1,"a":2}')
    for constant in (b'{"a":NaN}', b'{"a":Infinity}', b'{"a":-Infinity}'):
        with pytest.raises(ManifestError, match="not allowed"):
            parse_strict(constant)
    with pytest.raises(ManifestError, match="UTF-8"):
        parse_strict(b'{"a":"\xff"}')
    with pytest.raises(ManifestError, match="byte order mark"):
        parse_strict(b'\xef\xbb\xbf{"a":1}')
    with pytest.raises(ManifestError, match="not valid JSON"):
        parse_strict(b'{"a":')
