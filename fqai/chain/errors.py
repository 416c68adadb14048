"""Exceptions raised by :mod:`fqai.chain`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fqai.errors import FqaiError


class ChainError(FqaiError):
    """The chain could not be reached, a transaction failed, or a record is malformed."""


class DeploymentError(ChainError):
    """``deployments/<chainId>.json`` is missing, malformed or lacks a contract."""


class WrongChainError(ChainError):
    """The RPC serves another chain than the one expected (``FQAI_CHAIN_ID`` / ``--chain-id``).

    Raised before any deployment record is read or anything is sent.
    """

    def __init__(self, rpc_url: str, chain_id: int, expected_chain_id: int, source: str) -> None:
        self.rpc_url = rpc_url
        self.chain_id = chain_id
        self.expected_chain_id = expected_chain_id
        self.source = source
        super().__init__(
            f"the RPC at {rpc_url} serves chain {chain_id}, but chain {expected_chain_id} was "
            f"expected ({source}); refusing to send anything"
        )


class ChainRevertError(ChainError):
    """A call or transaction reverted; ``error_name`` and ``arguments`` say why.

    The message reads like the Solidity declaration, e.g.
    ``FederationStakeTooLow(node=0xAb.., sent=1, required=10)``.
    """

    def __init__(
        self,
        error_name: str,
        arguments: Mapping[str, Any] | None = None,
        *,
        context: str = "",
        raw_data: str | None = None,
    ) -> None:
        self.error_name = error_name
        self.arguments: dict[str, Any] = dict(arguments or {})
        self.context = context
        self.raw_data = raw_data
        rendered = ", ".join(f"{k}={_render(v)}" for k, v in self.arguments.items())
        text = f"{error_name}({rendered})"
        super().__init__(f"{context}: {text}" if context else text)


class InsufficientFundsError(ChainError):
    """The sender cannot pay for a transaction: ``balance`` < ``required`` (value + gas), in wei."""

    def __init__(self, what: str, account: str, balance: int, value: int, required: int) -> None:
        self.account = account
        self.balance = balance
        self.value = value
        self.required = required
        super().__init__(
            f"{what}: account {account} has {balance} wei ({balance / 10**18:.6g} ETH) but needs "
            f"{required} wei ({required / 10**18:.6g} ETH: value {value} + gas); fund it first"
        )


def _render(value: Any) -> str:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, str) and not value.startswith("0x"):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_render(v) for v in value) + "]"
    return str(value)
