"""Model weights as safetensors files: describe, save, check and load them.

Pickle-based formats are never read: weights come from untrusted peers. A file is checked in this
order before any tensor is materialised: size, sha256 (against the signed manifest), then the
safetensors header (strict JSON, known dtypes, contiguous in-bounds offsets), then the tensor
list (names, dtypes, shapes) against the manifest.
"""

from __future__ import annotations

import hashlib
import logging
import math
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from fqai.errors import DigestMismatchError, ManifestError, WeightsError
from fqai.fsutil import write_bytes_atomic
from fqai.jcs import parse_strict, utf16_sort_key

log = logging.getLogger(__name__)

DTYPE_SIZES: dict[str, int] = {
    "BOOL": 1,
    "U8": 1,
    "I8": 1,
    "F8_E5M2": 1,
    "F8_E4M3": 1,
    "I16": 2,
    "U16": 2,
    "F16": 2,
    "BF16": 2,
    "I32": 4,
    "U32": 4,
    "F32": 4,
    "I64": 8,
    "U64": 8,
    "F64": 8,
}
MAX_HEADER_SIZE = 16 * 1024 * 1024
MAX_DIMS = 32
WEIGHTS_FORMAT = "safetensors"


@dataclass(frozen=True)
class TensorInfo:
    """Name, safetensors dtype and shape of one tensor."""

    name: str
    dtype: str
    shape: tuple[int, ...]

    def to_json(self) -> dict[str, Any]:
        """Manifest form."""
        return {"name": self.name, "dtype": self.dtype, "shape": list(self.shape)}


@dataclass(frozen=True)
class WeightsInfo:
    """What a manifest records about a weights file."""

    sha256: str
    size: int
    tensors: tuple[TensorInfo, ...]


def header_length(prefix: bytes, source: str, total_size: int) -> int:
    """Length of the JSON header announced by the first 8 bytes of a safetensors file."""
    if len(prefix) < 8 or total_size < 8:
        raise WeightsError(f"{source}: too short for a safetensors file ({total_size} bytes)")
    (header_size,) = struct.unpack("<Q", prefix[:8])
    if header_size > MAX_HEADER_SIZE or 8 + header_size > total_size:
        raise WeightsError(
            f"{source}: header size {header_size} exceeds the file or the "
            f"{MAX_HEADER_SIZE}-byte limit (truncated file?)"
        )
    return int(header_size)


def parse_header(data: bytes, source: str, total_size: int | None = None) -> tuple[TensorInfo, ...]:
    """Parse and check a safetensors header.

    Parameters
    ----------
    data
        The whole file, or at least its first ``8 + header length`` bytes.
    source
        Name for error messages.
    total_size
        Size of the whole file (default ``len(data)``), used to check the data offsets.

    Returns
    -------
    tuple[TensorInfo, ...]
        Tensors sorted by name (UTF-16 code units).

    Raises
    ------
    WeightsError
        If the file is not a well-formed safetensors file.
    """
    total = len(data) if total_size is None else total_size
    header_size = header_length(data, source, total)
    if len(data) < 8 + header_size:
        raise WeightsError(f"{source}: header incomplete")
    try:
        header = parse_strict(data[8 : 8 + header_size])
    except ManifestError as exc:
        raise WeightsError(f"{source}: safetensors header is not valid JSON: {exc}") from exc
    if not isinstance(header, dict):
        raise WeightsError(f"{source}: safetensors header is not a JSON object")
    buffer_size = total - 8 - header_size
    tensors: list[TensorInfo] = []
    spans: list[tuple[int, int, str]] = []
    for name, entry in header.items():
        if name == "__metadata__":
            if not isinstance(entry, dict) or not all(isinstance(v, str) for v in entry.values()):
                raise WeightsError(f"{source}: __metadata__ must map strings to strings")
            continue
        info, span = _parse_entry(name, entry, source)
        tensors.append(info)
        spans.append((*span, name))
    spans.sort()
    position = 0
    for begin, end, name in spans:
        if begin != position:
            raise WeightsError(f"{source}: tensor {name!r} data is not contiguous")
        position = end
    if position != buffer_size:
        raise WeightsError(
            f"{source}: tensor data covers {position} bytes but the file holds {buffer_size} "
            "(truncated or extended file?)"
        )
    return tuple(sorted(tensors, key=lambda t: utf16_sort_key(t.name)))


def _parse_entry(name: str, entry: Any, source: str) -> tuple[TensorInfo, tuple[int, int]]:
    if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
        raise WeightsError(f"{source}: tensor {name!r} entry is malformed")
    dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    if dtype not in DTYPE_SIZES:
        raise WeightsError(f"{source}: tensor {name!r} has unsupported dtype {dtype!r}")
    if (
        not isinstance(shape, list)
        or len(shape) > MAX_DIMS
        or not all(type(d) is int and d >= 0 for d in shape)
    ):
        raise WeightsError(f"{source}: tensor {name!r} has an invalid shape {shape!r}")
    if (
        not isinstance(offsets, list)
        or len(offsets) != 2
        or not all(type(o) is int and o >= 0 for o in offsets)
        or offsets[0] > offsets[1]
    ):
        raise WeightsError(f"{source}: tensor {name!r} has invalid data_offsets {offsets!r}")
    expected = math.prod(shape) * DTYPE_SIZES[dtype]
    if offsets[1] - offsets[0] != expected:
        raise WeightsError(
            f"{source}: tensor {name!r} spans {offsets[1] - offsets[0]} bytes, "
            f"its dtype and shape need {expected}"
        )
    return TensorInfo(name=name, dtype=dtype, shape=tuple(shape)), (offsets[0], offsets[1])


def describe_bytes(data: bytes, source: str = "weights") -> WeightsInfo:
    """sha256, size and tensor list of a safetensors file held in memory."""
    tensors = parse_header(data, source)
    return WeightsInfo(
        sha256="0x" + hashlib.sha256(data).hexdigest(), size=len(data), tensors=tensors
    )


def describe_file(path: Path) -> WeightsInfo:
    """sha256, size and tensor list of a safetensors file on disk."""
    return describe_bytes(Path(path).read_bytes(), str(path))


def weights_bytes(tensors: Mapping[str, Any]) -> bytes:
    """``tensors`` (numpy arrays or torch tensors) serialised as safetensors bytes."""
    if not tensors:
        raise WeightsError("refusing to save an empty set of tensors")
    first = next(iter(tensors.values()))
    if type(first).__module__.startswith("torch"):
        from safetensors.torch import save as save_torch

        return save_torch(dict(tensors))
    from safetensors.numpy import save as save_numpy

    return save_numpy(dict(tensors))


def save_weights(tensors: Mapping[str, Any], path: Path) -> WeightsInfo:
    """Write ``tensors`` (numpy arrays or torch tensors) as safetensors, atomically.

    Returns
    -------
    WeightsInfo
        What the manifest should record about the file.
    """
    data = weights_bytes(tensors)
    info = describe_bytes(data, str(path))
    write_bytes_atomic(Path(path), data, 0o644)
    log.info(
        "saved %d tensors to %s (%d bytes, sha256 %s)", len(tensors), path, info.size, info.sha256
    )
    return info


def check_bytes(data: bytes, expected: WeightsInfo, source: str) -> None:
    """Check size, then sha256, then the header against ``expected``; parse nothing before.

    Raises
    ------
    DigestMismatchError
        Size or sha256 differ.
    WeightsError
        The file is not valid safetensors or its tensors differ from the manifest.
    """
    if len(data) != expected.size:
        raise DigestMismatchError(f"size of {source}", f"{expected.size} bytes", f"{len(data)}")
    actual = "0x" + hashlib.sha256(data).hexdigest()
    if actual != expected.sha256:
        raise DigestMismatchError(f"sha256 of {source}", expected.sha256, actual)
    check_tensors(parse_header(data, source), expected.tensors, source)


def check_tensors(
    actual: tuple[TensorInfo, ...], expected: tuple[TensorInfo, ...], source: str
) -> None:
    """Require the same tensors (name, dtype, shape) as the manifest lists."""
    if tuple(actual) == tuple(expected):
        return
    have = {t.name: t for t in actual}
    want = {t.name: t for t in expected}
    missing = sorted(set(want) - set(have))
    extra = sorted(set(have) - set(want))
    differing = sorted(n for n in set(have) & set(want) if have[n] != want[n])
    parts = []
    if missing:
        parts.append(f"missing {missing[:5]}")
    if extra:
        parts.append(f"unexpected {extra[:5]}")
    for name in differing[:5]:
        parts.append(
            f"{name!r} is {have[name].dtype}{list(have[name].shape)}, "
            f"manifest says {want[name].dtype}{list(want[name].shape)}"
        )
    raise WeightsError(f"{source}: tensors do not match the manifest: {'; '.join(parts)}")


def load_bytes(
    data: bytes,
    expected: WeightsInfo,
    source: str,
    framework: Literal["numpy", "pt"] = "numpy",
) -> dict[str, Any]:
    """Check ``data`` against ``expected`` and only then deserialise the tensors.

    Parameters
    ----------
    data
        The whole safetensors file.
    expected
        Size, sha256 and tensors from a verified manifest.
    source
        Name used in error messages (a CID or path).
    framework
        ``"numpy"`` for numpy arrays or ``"pt"`` for torch tensors.
    """
    check_bytes(data, expected, source)
    try:
        if framework == "pt":
            from safetensors.torch import load as load_torch

            return dict(load_torch(data))
        from safetensors.numpy import load as load_numpy

        return dict(load_numpy(data))
    except Exception as exc:  # safetensors raises its own error types
        raise WeightsError(f"{source}: cannot deserialise tensors: {exc}") from exc


def load_file(
    path: Path, expected: WeightsInfo, framework: Literal["numpy", "pt"] = "numpy"
) -> dict[str, Any]:
    """Read a weights file (at most ``expected.size + 1`` bytes), check it, then load it."""
    with Path(path).open("rb") as handle:
        data = handle.read(expected.size + 1)
    return load_bytes(data, expected, str(path), framework)
