"""An injected EIP-1193 test wallet for the browser suite: it signs with its own test key.

The page sees an ordinary EIP-6963 / EIP-1193 provider. Reads (``eth_call``, receipts, blocks…)
go to the chain's RPC; ``eth_sendTransaction`` is handed to Python through a Playwright binding,
where :class:`TestWallet` fills nonce, gas and fees, signs with its private key (an account the
node does *not* hold unlocked, so a transaction that lands proves the signing path) and sends the
raw transaction. ``wallet_switchEthereumChain`` switches the chain it reports. In ``reject`` mode
it refuses every signature with EIP-1193 error 4001, as a user pressing "Reject" would.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

WALLET_NAME = "fqai Test Wallet"

INIT_SCRIPT = (Path(__file__).parent / "injected_wallet.js").read_text()


@dataclass
class TestWallet:
    """A funded account with its own key, and the transactions it signed."""

    __test__ = False  # not a pytest test class

    rpc_url: str
    chain_id: int
    account: LocalAccount = field(default_factory=Account.create)
    sent: list[str] = field(default_factory=list)

    @property
    def address(self) -> str:
        return self.account.address

    @property
    def private_key_hex(self) -> str:
        return self.account.key.hex().removeprefix("0x")

    def install(self, page: Any, *, start_chain_id: int | None = None, mode: str = "sign") -> None:
        """Inject the provider into ``page`` (before its scripts run) and bind the signer."""
        config = {
            "address": self.address,
            "chainId": start_chain_id or self.chain_id,
            "rpcChainId": self.chain_id,
            "rpcUrl": self.rpc_url,
            "mode": mode,
            "name": WALLET_NAME,
        }
        page.expose_function("fqaiTestWalletSend", self._send)
        page.add_init_script(f"{INIT_SCRIPT}({json.dumps(config)});")

    def _send(self, tx_json: str) -> str:
        """Sign and send one transaction the page asked for; the hash, or an EIP-1193 error."""
        w3 = Web3(Web3.HTTPProvider(self.rpc_url))
        request = json.loads(tx_json)
        if Web3.to_checksum_address(request["from"]) != self.address:
            return json.dumps({"error": {"code": 4100, "message": "unknown account"}})
        tx: dict[str, Any] = {
            "from": self.address,
            "to": Web3.to_checksum_address(request["to"]),
            "data": request.get("data", "0x"),
            "value": int(request.get("value", "0x0"), 16),
            "nonce": w3.eth.get_transaction_count(self.address, "pending"),
            "chainId": self.chain_id,
        }
        try:
            tx["gas"] = int(request["gas"], 16) if "gas" in request else w3.eth.estimate_gas(tx)
        except Exception as exc:  # the node's revert, as a wallet would report it
            data = getattr(exc, "data", None)
            return json.dumps({"error": {"code": -32603, "message": str(exc), "data": data}})
        base = w3.eth.get_block("latest")["baseFeePerGas"]
        tx["maxPriorityFeePerGas"] = 10**9
        tx["maxFeePerGas"] = 2 * base + 10**9
        signed = self.account.sign_transaction(tx)
        tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
        self.sent.append(tx_hash.to_0x_hex())
        return json.dumps({"hash": tx_hash.to_0x_hex()})
