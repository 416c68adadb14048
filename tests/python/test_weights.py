"""safetensors weights: describe, check before parsing, tamper and truncation detection."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from fqai.errors import DigestMismatchError, WeightsError
from fqai.weights import (
    TensorInfo,
    WeightsInfo,
    describe_file,
    load_bytes,
    load_file,
    parse_header,
    save_weights,
)

from .conftest import make_tensors


def test_describe_lists_sorted_tensors(weights_file: Path) -> None:
    info = describe_file(weights_file)
    assert info.size == weights_file.stat().st_size
    assert [t.name for t in info.tensors] == sorted(make_tensors(1))
    assert TensorInfo("layer0.weight", "F32", (16, 8)) in info.tensors
    assert TensorInfo("steps", "I64", (1,)) in info.tensors


def test_load_round_trip_numpy_and_torch(weights_file: Path) -> None:
    info = describe_file(weights_file)
    arrays = load_file(weights_file, info)
    for name, array in make_tensors(1).items():
        np.testing.assert_array_equal(arrays[name], array)
    tensors = load_file(weights_file, info, framework="pt")
    assert isinstance(tensors["layer0.weight"], torch.Tensor)


def test_save_torch_tensors(tmp_path: Path) -> None:
    info = save_weights({"w": torch.ones(2, 3, dtype=torch.bfloat16)}, tmp_path / "t.safetensors")
    assert info.tensors == (TensorInfo("w", "BF16", (2, 3)),)


def test_flipped_byte_fails_on_sha256_before_parsing(weights_file: Path) -> None:
    info = describe_file(weights_file)
    data = bytearray(weights_file.read_bytes())
    data[3] ^= 0xFF  # inside the header length: parsing first would give a different error
    with pytest.raises(DigestMismatchError, match="sha256") as caught:
        load_bytes(bytes(data), info, "weights test")
    assert caught.value.expected == info.sha256
    data = bytearray(weights_file.read_bytes())
    data[-1] ^= 0x01  # inside tensor data
    with pytest.raises(DigestMismatchError, match="sha256"):
        load_bytes(bytes(data), info, "weights test")


def test_truncated_file_is_rejected(weights_file: Path, tmp_path: Path) -> None:
    info = describe_file(weights_file)
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(weights_file.read_bytes()[:-10])
    with pytest.raises(DigestMismatchError, match="size"):
        load_file(truncated, info)
    with pytest.raises(WeightsError, match="truncated"):
        describe_file(truncated)
    extended = tmp_path / "extended.safetensors"
    extended.write_bytes(weights_file.read_bytes() + b"\x00")
    with pytest.raises(DigestMismatchError, match="size"):
        load_file(extended, info)


def test_tensor_list_must_match_manifest(weights_file: Path) -> None:
    info = describe_file(weights_file)
    wrong = WeightsInfo(
        sha256=info.sha256,
        size=info.size,
        tensors=(*info.tensors[:-1], TensorInfo("steps", "I64", (2,))),
    )
    with pytest.raises(WeightsError, match="'steps' is I64\\[1\\], manifest says I64\\[2\\]"):
        load_file(weights_file, wrong)
    missing = WeightsInfo(sha256=info.sha256, size=info.size, tensors=info.tensors[1:])
    with pytest.raises(WeightsError, match="unexpected"):
        load_file(weights_file, missing)


def _raw_file(header: object, body: bytes) -> bytes:
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + body


@pytest.mark.parametrize(
    ("header", "body", "message"),
    [
        ({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}}, b"\0" * 4, "spans 4"),
        ({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 8, "covers 4"),
        ({"a": {"dtype": "X9", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 4, "dtype"),
        ({"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}, b"\0" * 4, "shape"),
        (
            {
                "a": {"dtype": "U8", "shape": [2], "data_offsets": [0, 2]},
                "b": {"dtype": "U8", "shape": [2], "data_offsets": [1, 3]},
            },
            b"\0" * 3,
            "contiguous",
        ),
        ({"a": {"dtype": "U8", "shape": [1]}}, b"\0", "malformed"),
        ([1, 2], b"", "object"),
        ({"__metadata__": {"k": 1}}, b"", "__metadata__"),
    ],
)
def test_malformed_headers(header: object, body: bytes, message: str) -> None:
    with pytest.raises(WeightsError, match=message):
        parse_header(_raw_file(header, body), "test")


def test_header_length_beyond_file_and_garbage() -> None:
    with pytest.raises(WeightsError, match="exceeds"):
        parse_header(struct.pack("<Q", 10**9) + b"{}", "test")
    with pytest.raises(WeightsError, match="too short"):
        parse_header(b"\x01\x02", "test")
    with pytest.raises(WeightsError, match="not valid JSON"):
        parse_header(struct.pack("<Q", 4) + b"{{{{", "test")
    with pytest.raises(WeightsError, match="not valid JSON"):
        # a pickle is not safetensors
        parse_header(struct.pack("<Q", 5) + b"\x80\x04K\x01.", "test")
