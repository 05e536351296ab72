"""Confirm an anchor against any Ethereum JSON-RPC node, with nothing but the standard library.

The node is not trusted for anything it cannot be checked on: we ask it for the chain id, the
root the contract holds at a tree size, and the transaction receipt named in the anchor, and we
compare each answer with what we expect. An unreachable node is :class:`CannotCheckError`.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from typing import Any

from evledger_verify.errors import CannotCheckError, VerificationError
from evledger_verify.receipt import Anchor, Report, Trust
from evledger_verify.records import keccak256

__all__ = ["ANCHORED_TOPIC", "RpcClient", "check_anchor_on_chain"]

ANCHORED_TOPIC = "0x" + keccak256(b"Anchored(uint64,bytes32,uint64,bytes32)").hex()
_ROOT_AT = keccak256(b"rootAt(uint64)")[:4]
_MAX_RESPONSE = 4 * 1024 * 1024


class RpcClient:
    def __init__(self, url: str, timeout: float = 10.0) -> None:
        if not url.startswith(("http://", "https://")):
            raise CannotCheckError(f"--rpc: expected an http(s) URL, got {url!r}")
        self.url = url
        self.timeout = timeout
        self._id = 0

    def call(self, method: str, params: list[Any]) -> Any:
        self._id += 1
        body = json.dumps({"jsonrpc": "2.0", "id": self._id, "method": method, "params": params})
        req = urllib.request.Request(  # noqa: S310 - the auditor chose this URL
            self.url, data=body.encode(), headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310
                raw = resp.read(_MAX_RESPONSE + 1)
        except (urllib.error.URLError, OSError) as exc:
            raise CannotCheckError(f"rpc: node {self.url} unreachable: {exc}") from exc
        if len(raw) > _MAX_RESPONSE:
            raise CannotCheckError(f"rpc: {method} answer larger than {_MAX_RESPONSE} bytes")
        try:
            answer = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise CannotCheckError(f"rpc: {method} answer is not JSON") from exc
        if not isinstance(answer, dict):
            raise CannotCheckError(f"rpc: {method} answer is not a JSON-RPC object")
        if answer.get("error"):
            raise CannotCheckError(f"rpc: {method} failed: {answer['error']}")
        return answer.get("result")

    def root_at(self, contract: str, tree_size: int) -> bytes:
        data = "0x" + (_ROOT_AT + tree_size.to_bytes(32, "big")).hex()
        result = self.call("eth_call", [{"to": contract, "data": data}, "latest"])
        if result == "0x":
            raise VerificationError(
                f"chain root: contract {contract} gave no root (is it an EvidenceAnchor?)"
            )
        if not isinstance(result, str) or not re.fullmatch(r"0x[0-9a-fA-F]{64}", result):
            raise CannotCheckError(f"rpc: rootAt answer is not a 32-byte hex value: {result!r}")
        return bytes.fromhex(result[2:])


def _int(value: Any, what: str) -> int:
    if not isinstance(value, str) or not value.startswith("0x"):
        raise CannotCheckError(f"rpc: {what}: expected a 0x hex quantity, got {value!r}")
    try:
        return int(value, 16)
    except ValueError as exc:
        raise CannotCheckError(f"rpc: {what}: expected a 0x hex quantity, got {value!r}") from exc


def check_anchor_on_chain(
    client: RpcClient,
    trust: Trust,
    anchor: Anchor | None,
    tree_size: int,
    root: bytes,
    report: Report,
) -> None:
    """Confirm on chain, as named checks in ``report``: the node is on the trusted chain, the
    trusted contract holds ``root`` at ``tree_size``, and the anchor's transaction, block and
    log are canonical and say so. A node that cannot be reached or answers malformed data
    raises :class:`CannotCheckError`."""

    def chain_id() -> str:
        actual = _int(client.call("eth_chainId", []), "eth_chainId")
        if actual != trust.chain_id:
            raise VerificationError(f"chain id: expected {trust.chain_id}, node is on {actual}")
        return f"node is on chain {actual}"

    def chain_root() -> str:
        held = client.root_at(trust.contract, tree_size)
        if held == bytes(32):
            raise VerificationError(
                f"chain root: contract {trust.contract} holds no root for tree size {tree_size}"
            )
        if held != root:
            raise VerificationError(
                f"chain root: expected {root.hex()} at tree size {tree_size}, "
                f"contract holds {held.hex()}"
            )
        return f"contract holds the root at tree size {tree_size}"

    def anchor_tx() -> str:
        if anchor is None:
            raise VerificationError("anchor transaction: missing from the receipt")
        rcpt = client.call("eth_getTransactionReceipt", [anchor.tx_hash])
        if not isinstance(rcpt, dict):
            raise VerificationError(f"anchor transaction: {anchor.tx_hash} not found on chain")
        if rcpt.get("status") != "0x1":
            raise VerificationError(f"anchor transaction: {anchor.tx_hash} reverted")
        block_number = _int(rcpt.get("blockNumber"), "receipt blockNumber")
        if str(rcpt.get("blockHash", "")).lower() != anchor.block_hash or (
            block_number != anchor.block_number
        ):
            raise VerificationError(
                f"anchor block: expected block {anchor.block_number} {anchor.block_hash}, "
                f"transaction is in {block_number} {rcpt.get('blockHash')}"
            )
        block = client.call("eth_getBlockByNumber", [hex(anchor.block_number), False])
        if not isinstance(block, dict) or str(block.get("hash", "")).lower() != anchor.block_hash:
            raise VerificationError(
                f"anchor block: block {anchor.block_number} {anchor.block_hash} is not canonical"
            )
        logs = [lg for lg in rcpt.get("logs") or [] if isinstance(lg, dict)]
        match = [lg for lg in logs if _int(lg.get("logIndex"), "log logIndex") == anchor.log_index]
        if not match:
            raise VerificationError(f"anchor log: no log {anchor.log_index} in {anchor.tx_hash}")
        log = match[0]
        topics = [str(t).lower() for t in log.get("topics") or []]
        data = str(log.get("data", ""))
        expected_size = "0x" + tree_size.to_bytes(32, "big").hex()
        if (
            str(log.get("address", "")).lower() != trust.contract.lower()
            or topics != [ANCHORED_TOPIC, expected_size]
            or data[:66].lower() != "0x" + root.hex()
        ):
            raise VerificationError(
                f"anchor log: log {anchor.log_index} is not Anchored({tree_size}, {root.hex()}) "
                f"from {trust.contract}"
            )
        return f"Anchored in tx {anchor.tx_hash}, block {anchor.block_number}"

    for name, check in (
        ("chain id", chain_id),
        ("chain root", chain_root),
        ("anchor transaction", anchor_tx),
    ):
        if not report.run(name, check):
            return
