"""A web3.py client bound to one deployment: contract handles, transactions, errors, events.

Transactions are sent either by an account the node keeps unlocked (Anvil's dev accounts, via
``eth_sendTransaction``) or by a local private key (signed here, sent raw). Every call is first
estimated, so a revert surfaces *before* anything is sent, as a :class:`ChainRevertError` naming
the contract's custom error and its arguments.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractLogicError, TimeExhausted, Web3Exception
from web3.types import TxReceipt

from fqai.chain.deployment import Deployment, load_deployment
from fqai.chain.errors import (
    ChainError,
    ChainRevertError,
    DeploymentError,
    InsufficientFundsError,
    WrongChainError,
)
from fqai.chain.revert import ErrorDecoder

log = logging.getLogger(__name__)

DEFAULT_RECEIPT_TIMEOUT = 60.0
CHAIN_ID_ENV = "FQAI_CHAIN_ID"
T = TypeVar("T")


@dataclass(frozen=True)
class UnlockedSender:
    """An account the node signs for (``eth_sendTransaction``), e.g. an Anvil dev account."""

    address: str


@dataclass(frozen=True, repr=False)
class KeySender:
    """A local private key; transactions are signed in-process and sent raw."""

    private_key: bytes

    @property
    def account(self) -> LocalAccount:
        return Account.from_key(self.private_key)

    @property
    def address(self) -> str:
        return str(self.account.address)

    def __repr__(self) -> str:
        return f"KeySender(address={self.address})"


Sender = UnlockedSender | KeySender


@dataclass(frozen=True)
class TxResult:
    """A mined, successful transaction."""

    tx_hash: str
    block_number: int
    gas_used: int
    receipt: TxReceipt


def connect(rpc_url: str, timeout: float = 30.0) -> Web3:
    """A Web3 over HTTP; :class:`ChainError` if the node does not answer."""
    w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": timeout}))
    try:
        w3.eth.chain_id  # noqa: B018 - probe
    except (OSError, Web3Exception, ValueError) as exc:
        raise ChainError(f"chain RPC {rpc_url} unavailable: {exc}") from exc
    return w3


def chain_id_from_env() -> int | None:
    """The chain id in ``$FQAI_CHAIN_ID``; ``None`` when the variable is unset or empty.

    Raises
    ------
    ChainError
        The variable is set but is not a positive decimal integer.
    """
    raw = os.environ.get(CHAIN_ID_ENV)
    if raw is None or not raw.strip():
        return None
    text = raw.strip()
    value = int(text) if text.isdecimal() else 0
    if value <= 0:
        raise ChainError(
            f"{CHAIN_ID_ENV}={raw!r} is not a chain id: set it to the positive decimal EIP-155 "
            "chain id the RPC must serve (e.g. 11155111 for Sepolia), or unset it"
        )
    return value


def _expected_chain(explicit: int | None) -> tuple[int | None, str]:
    """The chain id to insist on and where it came from (explicit beats the environment)."""
    if explicit is not None:
        if type(explicit) is not int or explicit <= 0:
            raise ChainError(f"expected_chain_id must be a positive integer, got {explicit!r}")
        return explicit, "--chain-id / expected_chain_id"
    from_env = chain_id_from_env()
    return from_env, f"{CHAIN_ID_ENV}={from_env} in the environment"


class ChainClient:
    """Contracts of one deployment on one chain, and a sender for transactions.

    Parameters
    ----------
    w3
        Connected Web3.
    deployment
        The deployment record (addresses and ABIs) of ``w3``'s chain.
    sender
        Who sends transactions; ``None`` for a read-only client.
    receipt_timeout
        Seconds to wait for a receipt.
    """

    def __init__(
        self,
        w3: Web3,
        deployment: Deployment,
        sender: Sender | None = None,
        *,
        receipt_timeout: float = DEFAULT_RECEIPT_TIMEOUT,
    ) -> None:
        self.w3 = w3
        self.deployment = deployment
        self.sender = sender
        self.receipt_timeout = receipt_timeout
        self.decoder = ErrorDecoder(deployment.all_abis())
        self._contracts: dict[str, Contract] = {}

    @classmethod
    def from_rpc(
        cls,
        rpc_url: str,
        sender: Sender | None = None,
        *,
        deployments_dir: Any = None,
        receipt_timeout: float = DEFAULT_RECEIPT_TIMEOUT,
        expected_chain_id: int | None = None,
    ) -> ChainClient:
        """Connect to ``rpc_url`` and load the deployment record of its chain id.

        ``expected_chain_id`` (else ``$FQAI_CHAIN_ID``, when set) is the chain the caller means
        to use: an RPC serving any other chain is refused before a record is read, so a client
        pointed at the wrong network never signs or sends anything there.

        Raises
        ------
        WrongChainError
            The RPC serves another chain than the expected one.
        ChainError
            The RPC does not answer, or ``$FQAI_CHAIN_ID`` / ``expected_chain_id`` is not a
            chain id.
        DeploymentError
            No record for the chain id the RPC reports, or a recorded contract has no code on
            that chain (an RPC for another chain that happens to share the id, or a reset devnet).
        """
        expected, source = _expected_chain(expected_chain_id)
        w3 = connect(rpc_url)
        chain_id = int(w3.eth.chain_id)
        if expected is not None and chain_id != expected:
            raise WrongChainError(rpc_url, chain_id, expected, source)
        deployment = load_deployment(chain_id, deployments_dir)
        for name, info in deployment.contracts.items():
            if not bytes(w3.eth.get_code(info.address)):
                raise DeploymentError(
                    f"{deployment.path}: {name} at {info.address} has no code on chain "
                    f"{chain_id} at {rpc_url}; this RPC is not the chain the record was written for"
                )
        return cls(w3, deployment, sender, receipt_timeout=receipt_timeout)

    def with_sender(self, sender: Sender | None) -> ChainClient:
        """The same chain and deployment with another sender."""
        return ChainClient(self.w3, self.deployment, sender, receipt_timeout=self.receipt_timeout)

    @property
    def address(self) -> str:
        """The sender's address."""
        if self.sender is None:
            raise ChainError("read-only chain client: no sender account")
        return to_checksum_address(self.sender.address)

    def contract(self, name: str) -> Contract:
        """A web3 contract handle for the deployed contract ``name``."""
        if name not in self._contracts:
            info = self.deployment.contract(name)
            self._contracts[name] = self.w3.eth.contract(address=info.address, abi=info.abi)
        return self._contracts[name]

    # -- calls and transactions -------------------------------------------------------------

    def _guard(self, what: str, action: Callable[[], T]) -> T:
        """Run ``action``; turn reverts into ChainRevertError and RPC failures into ChainError."""
        try:
            return action()
        except ContractLogicError as exc:
            data = exc.data if isinstance(exc.data, str | bytes) else None
            if data is None and isinstance(exc.data, dict):
                data = exc.data.get("data")
            raise self.decoder.decode(data, context=what) from exc
        except InsufficientFundsError:
            raise
        except (OSError, Web3Exception, ValueError) as exc:
            if "insufficient funds" in str(exc).lower() and self.sender is not None:
                balance = self.balance(self.address)
                raise InsufficientFundsError(what, self.address, balance, 0, balance + 1) from exc
            raise ChainError(f"{what}: {exc}") from exc

    def balance(self, account: str) -> int:
        """``account``'s ETH balance in wei."""
        try:
            return int(self.w3.eth.get_balance(to_checksum_address(account)))
        except (OSError, Web3Exception, ValueError) as exc:
            raise ChainError(f"balance of {account}: {exc}") from exc

    def check_funds(self, what: str, value: int, gas_cost: int = 0) -> None:
        """Raise :class:`InsufficientFundsError` if the sender cannot pay ``value + gas_cost``."""
        required = value + gas_cost
        if required == 0:
            return
        balance = self.balance(self.address)
        if balance < required:
            raise InsufficientFundsError(what, self.address, balance, value, required)

    def call(self, contract: str, function: str, *args: Any) -> Any:
        """A read-only call; reverts raise :class:`ChainRevertError`."""
        fn = getattr(self.contract(contract).functions, function)(*args)
        return self._guard(f"{contract}.{function}", fn.call)

    def transact(self, contract: str, function: str, *args: Any, value: int = 0) -> TxResult:
        """Estimate, send and wait for ``contract.function(*args)``; return the receipt.

        Raises
        ------
        ChainRevertError
            The call reverts (found while estimating gas, or from a failed receipt).
        ChainError
            No sender, the RPC failed, or no receipt came in time.
        """
        if self.sender is None:
            raise ChainError(f"cannot send {contract}.{function}: read-only chain client")
        what = f"{contract}.{function}"
        fn = getattr(self.contract(contract).functions, function)(*args)
        params: dict[str, Any] = {"from": self.address, "value": value}
        sender = self.sender
        self.check_funds(what, value)

        def send() -> bytes:
            if isinstance(sender, UnlockedSender):
                return bytes(fn.transact(params))
            tx = fn.build_transaction(
                {**params, "nonce": self.w3.eth.get_transaction_count(self.address, "pending")}
            )
            fee = int(tx.get("maxFeePerGas", tx.get("gasPrice", 0)))
            self.check_funds(what, value, int(tx["gas"]) * fee)
            signed = sender.account.sign_transaction(tx)
            return bytes(self.w3.eth.send_raw_transaction(signed.raw_transaction))

        tx_hash = self._guard(what, send)
        try:
            receipt = self.w3.eth.wait_for_transaction_receipt(
                tx_hash, timeout=self.receipt_timeout, poll_latency=0.1
            )
        except TimeExhausted as exc:
            raise ChainError(f"{what}: no receipt for 0x{tx_hash.hex()} in time") from exc
        if receipt["status"] != 1:
            self._replay_failure(what, fn, params, receipt)
        log.info(
            "%s from %s mined in block %d (tx 0x%s, gas %d)",
            what,
            self.address,
            receipt["blockNumber"],
            tx_hash.hex(),
            receipt["gasUsed"],
        )
        return TxResult(
            tx_hash="0x" + tx_hash.hex(),
            block_number=int(receipt["blockNumber"]),
            gas_used=int(receipt["gasUsed"]),
            receipt=receipt,
        )

    def _replay_failure(self, what: str, fn: Any, params: dict[str, Any], receipt: Any) -> None:
        """Re-run a failed transaction as a call at its block to learn the revert reason."""
        block = int(receipt["blockNumber"]) - 1
        self._guard(what, lambda: fn.call(params, block_identifier=block))
        raise ChainRevertError(
            "Reverted", {"tx": "0x" + bytes(receipt["transactionHash"]).hex()}, context=what
        )

    # -- events -----------------------------------------------------------------------------

    def events(
        self,
        contract: str,
        event: str,
        *,
        from_block: int = 0,
        to_block: int | str = "latest",
        filters: dict[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """Decoded logs of ``contract.event`` (``args`` plus block and tx), oldest first."""
        handle = getattr(self.contract(contract).events, event)
        logs = self._guard(
            f"{contract}.{event} logs",
            lambda: handle.get_logs(
                from_block=from_block, to_block=to_block, argument_filters=filters
            ),
        )
        return [
            {
                "args": dict(entry["args"]),
                "blockNumber": int(entry["blockNumber"]),
                "transactionHash": "0x" + bytes(entry["transactionHash"]).hex(),
            }
            for entry in logs
        ]

    def receipt_events(self, result: TxResult, contract: str, event: str) -> list[dict[str, Any]]:
        """The ``event`` logs a mined transaction emitted (decoded args)."""
        handle = getattr(self.contract(contract).events, event)
        from web3.logs import DISCARD

        return [dict(e["args"]) for e in handle().process_receipt(result.receipt, errors=DISCARD)]

    # -- dev helpers ------------------------------------------------------------------------

    def send_ether(self, to: str, amount_wei: int) -> TxResult:
        """Plain value transfer from the sender (e.g. fund a node from a dev account)."""
        if self.sender is None:
            raise ChainError("cannot send ether: read-only chain client")
        tx: dict[str, Any] = {
            "from": self.address,
            "to": to_checksum_address(to),
            "value": amount_wei,
        }
        sender = self.sender

        def send() -> bytes:
            if isinstance(sender, UnlockedSender):
                return bytes(self.w3.eth.send_transaction(tx))  # type: ignore[arg-type]
            full = {
                **tx,
                "nonce": self.w3.eth.get_transaction_count(self.address, "pending"),
                "gas": 21_000,
                "gasPrice": self.w3.eth.gas_price,
                "chainId": self.w3.eth.chain_id,
            }
            self.check_funds("transfer", amount_wei, 21_000 * int(full["gasPrice"]))
            signed = sender.account.sign_transaction(full)
            return bytes(self.w3.eth.send_raw_transaction(signed.raw_transaction))

        tx_hash = self._guard("transfer", send)
        receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=self.receipt_timeout)
        return TxResult(
            tx_hash="0x" + tx_hash.hex(),
            block_number=int(receipt["blockNumber"]),
            gas_used=int(receipt["gasUsed"]),
            receipt=receipt,
        )

    def dev_accounts(self) -> list[str]:
        """Accounts the node keeps unlocked (``eth_accounts``); empty on a real network."""
        return [
            to_checksum_address(a)
            for a in self._guard("eth_accounts", lambda: self.w3.eth.accounts)
        ]
