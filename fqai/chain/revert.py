"""Decoding revert data into :class:`ChainRevertError` (custom errors, ``Error``, ``Panic``)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from eth_abi import decode as abi_decode
from eth_abi.exceptions import DecodingError
from eth_utils import function_signature_to_4byte_selector, to_checksum_address

from fqai.chain.errors import ChainRevertError

ERROR_STRING_SELECTOR = bytes.fromhex("08c379a0")
PANIC_SELECTOR = bytes.fromhex("4e487b71")
PANIC_REASONS = {
    0x01: "assertion failed",
    0x11: "arithmetic overflow or underflow",
    0x12: "division or modulo by zero",
    0x21: "invalid enum value",
    0x22: "invalid storage byte array",
    0x31: "pop on empty array",
    0x32: "array index out of bounds",
    0x41: "out of memory",
    0x51: "call to zero-initialised function",
}


def _abi_type(param: dict[str, Any]) -> str:
    """Canonical ABI type of a parameter, expanding tuples."""
    kind = str(param["type"])
    if kind.startswith("tuple"):
        inner = ",".join(_abi_type(c) for c in param.get("components", []))
        return f"({inner}){kind[len('tuple') :]}"
    return kind


@dataclass(frozen=True)
class ErrorSpec:
    """A custom error from an ABI."""

    name: str
    names: tuple[str, ...]
    types: tuple[str, ...]

    @property
    def signature(self) -> str:
        return f"{self.name}({','.join(self.types)})"

    @property
    def selector(self) -> bytes:
        return function_signature_to_4byte_selector(self.signature)


class ErrorDecoder:
    """Maps 4-byte selectors of every custom error in some ABIs to their declarations."""

    def __init__(self, abis: Iterable[list[dict[str, Any]]]) -> None:
        self.errors: dict[bytes, ErrorSpec] = {}
        for abi in abis:
            for item in abi:
                if item.get("type") != "error":
                    continue
                inputs = item.get("inputs", [])
                spec = ErrorSpec(
                    name=str(item["name"]),
                    names=tuple(str(p.get("name") or f"arg{i}") for i, p in enumerate(inputs)),
                    types=tuple(_abi_type(p) for p in inputs),
                )
                self.errors[spec.selector] = spec

    def decode(self, data: bytes | str | None, context: str = "") -> ChainRevertError:
        """The error that ``data`` (revert return data) encodes.

        Unknown selectors and undecodable data still give a :class:`ChainRevertError`
        (``UnknownError`` with the raw data), never an exception of another type.
        """
        raw = _as_bytes(data)
        hex_data = "0x" + raw.hex()
        if len(raw) < 4:
            return ChainRevertError(
                "Reverted", {"reason": "no revert data"}, context=context, raw_data=hex_data
            )
        selector, body = raw[:4], raw[4:]
        try:
            if selector == ERROR_STRING_SELECTOR:
                (reason,) = abi_decode(["string"], body)
                return ChainRevertError(
                    "Error", {"reason": reason}, context=context, raw_data=hex_data
                )
            if selector == PANIC_SELECTOR:
                (code,) = abi_decode(["uint256"], body)
                return ChainRevertError(
                    "Panic",
                    {"code": hex(code), "reason": PANIC_REASONS.get(code, "unknown panic")},
                    context=context,
                    raw_data=hex_data,
                )
            spec = self.errors.get(selector)
            if spec is None:
                return ChainRevertError(
                    "UnknownError",
                    {"selector": "0x" + selector.hex(), "data": hex_data},
                    context=context,
                    raw_data=hex_data,
                )
            values = abi_decode(list(spec.types), body)
        except (DecodingError, ValueError, TypeError) as exc:
            return ChainRevertError(
                "UndecodableError",
                {"selector": "0x" + selector.hex(), "detail": str(exc)},
                context=context,
                raw_data=hex_data,
            )
        arguments = {
            name: _normalise(kind, value)
            for name, kind, value in zip(spec.names, spec.types, values, strict=True)
        }
        return ChainRevertError(spec.name, arguments, context=context, raw_data=hex_data)


def _normalise(kind: str, value: Any) -> Any:
    if kind == "address":
        return to_checksum_address(value)
    if kind.startswith("bytes") and isinstance(value, bytes):
        return "0x" + value.hex()
    return value


def _as_bytes(data: bytes | str | None) -> bytes:
    if data is None:
        return b""
    if isinstance(data, bytes):
        return data
    text = data.removeprefix("0x")
    try:
        return bytes.fromhex(text)
    except ValueError:
        return b""
