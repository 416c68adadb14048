"""Unit tests: decoding revert data and reading deployment records (no chain needed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from eth_abi import encode
from eth_utils import function_signature_to_4byte_selector

from fqai.chain import ChainRevertError, DeploymentError, ErrorDecoder, load_deployment
from fqai.devnet.tools import project_root

ABI = json.loads((project_root() / "build" / "contracts" / "FederationRegistry.json").read_text())[
    "abi"
]
NODE = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


def encoded(signature: str, types: list[str], values: list[object]) -> str:
    return "0x" + (function_signature_to_4byte_selector(signature) + encode(types, values)).hex()


def test_custom_error_names_error_and_arguments() -> None:
    data = encoded(
        "FederationStakeTooLow(address,uint256,uint256)",
        ["address", "uint256", "uint256"],
        [NODE, 5, 10**18],
    )
    error = ErrorDecoder([ABI]).decode(data, context="FederationRegistry.join")
    assert isinstance(error, ChainRevertError)
    assert error.error_name == "FederationStakeTooLow"
    assert error.arguments == {"node": NODE, "sent": 5, "required": 10**18}
    assert str(error) == (
        f"FederationRegistry.join: FederationStakeTooLow(node={NODE}, sent=5, required={10**18})"
    )


def test_string_and_bytes_arguments() -> None:
    data = encoded(
        "FederationNotSlashable(uint256,uint32,address,string)",
        ["uint256", "uint32", "address", "string"],
        [1, 2, NODE, "included"],
    )
    error = ErrorDecoder([ABI]).decode(data)
    assert error.error_name == "FederationNotSlashable"
    assert error.arguments["reason"] == "included"
    assert "reason='included'" in str(error)


def test_error_string_panic_unknown_and_empty() -> None:
    decoder = ErrorDecoder([ABI])
    assert decoder.decode(encoded("Error(string)", ["string"], ["nope"])).arguments == {
        "reason": "nope"
    }
    panic = decoder.decode(encoded("Panic(uint256)", ["uint256"], [0x11]))
    assert panic.error_name == "Panic"
    assert panic.arguments["reason"] == "arithmetic overflow or underflow"
    unknown = decoder.decode("0xdeadbeef")
    assert unknown.error_name == "UnknownError"
    assert unknown.arguments["selector"] == "0xdeadbeef"
    assert decoder.decode(None).error_name == "Reverted"
    garbled = decoder.decode(encoded("FederationUnknown(uint256)", [], []))
    assert garbled.error_name == "UndecodableError"


def test_zero_argument_error() -> None:
    error = ErrorDecoder([ABI]).decode(encoded("FederationZeroDigest()", [], []))
    assert str(error) == "FederationZeroDigest()"


def test_deployment_record_errors(tmp_path: Path) -> None:
    with pytest.raises(DeploymentError, match="no deployment record"):
        load_deployment(31337, tmp_path)
    (tmp_path / "31337.json").write_text(json.dumps({"chainId": 5, "contracts": {}}))
    with pytest.raises(DeploymentError, match="non-empty"):
        load_deployment(31337, tmp_path)
    record = {
        "chainId": 31337,
        "contracts": {"FederationRegistry": {"address": NODE.lower(), "abi": ABI}},
    }
    (tmp_path / "31337.json").write_text(json.dumps(record))
    deployment = load_deployment(31337, tmp_path)
    assert deployment.contract("FederationRegistry").address == NODE
    with pytest.raises(DeploymentError, match="no contract 'ModelNFT'"):
        deployment.contract("ModelNFT")
    (tmp_path / "1.json").write_text(json.dumps(record))
    with pytest.raises(DeploymentError, match="expected 1"):
        load_deployment(1, tmp_path)
