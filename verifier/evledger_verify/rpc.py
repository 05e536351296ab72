"""Confirm an anchor against any Ethereum JSON-RPC node, with nothing but the standard library.

The node is not trusted for anything it cannot be checked on: we ask it for the chain id, the
root the contract holds at a tree size, and the transaction receipt named in the anchor, and we
compare each answer with what we expect. An unreachable node is :class:`CannotCheckError`.

With several nodes (one per chain the receipt is anchored on), each is asked which chain it is
on, and the receipt's anchor for that chain is confirmed against that chain's trusted contract.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from typing import Any

from evledger_verify import evm, strictjson
from evledger_verify.errors import CannotCheckError, FormatError, VerificationError
from evledger_verify.receipt import (
    Anchor,
    AnchorTally,
    Check,
    Receipt,
    Report,
    Trust,
    UnsettledNode,
)
from evledger_verify.records import keccak256

__all__ = [
    "ANCHORED_TOPIC",
    "NodeUnreachableError",
    "RpcClient",
    "anchor_checks",
    "check_anchor_on_chain",
    "check_receipt_on_chains",
]

#: The Anchored event's topic as a node writes it (0x and hex).
ANCHORED_TOPIC = "0x" + evm.ANCHORED_TOPIC.hex()
_ROOT_AT = keccak256(b"rootAt(uint64)")[:4]
_MAX_RESPONSE = 4 * 1024 * 1024


class NodeUnreachableError(CannotCheckError):
    """The node did not answer at all (refused, timed out, no route)."""


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
            raise NodeUnreachableError(f"rpc: node {self.url} unreachable: {exc}") from exc
        if len(raw) > _MAX_RESPONSE:
            raise CannotCheckError(f"rpc: {method} answer larger than {_MAX_RESPONSE} bytes")
        try:
            answer = strictjson.loads(raw)
        except FormatError as exc:
            raise CannotCheckError(f"rpc: {method} answer is not JSON: {exc}") from None
        if not isinstance(answer, dict):
            raise CannotCheckError(f"rpc: {method} answer is not a JSON-RPC object")
        if answer.get("error"):
            raise CannotCheckError(f"rpc: {method} failed: {answer['error']}")
        return answer.get("result")

    def chain_id(self) -> int:
        return _int(self.call("eth_chainId", []), "eth_chainId")

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


def anchor_checks(
    client: RpcClient,
    chain: int,
    contract: str,
    anchor: Anchor | None,
    tree_size: int,
    root: bytes,
) -> list[tuple[str, Callable[[], str]]]:
    """The named checks that confirm, on the node of ``chain``: ``contract`` holds ``root`` at
    ``tree_size``, and the anchor's transaction, block and log are canonical and say so."""

    def chain_root() -> str:
        held = client.root_at(contract, tree_size)
        if held == bytes(32):
            raise VerificationError(
                f"chain root: contract {contract} holds no root for tree size {tree_size}"
            )
        if held != root:
            raise VerificationError(
                f"chain root: expected {root.hex()} at tree size {tree_size}, "
                f"contract holds {held.hex()}"
            )
        return f"contract {contract} holds the root at tree size {tree_size}"

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
            str(log.get("address", "")).lower() != contract.lower()
            or topics != [ANCHORED_TOPIC, expected_size]
            or data[:66].lower() != "0x" + root.hex()
        ):
            raise VerificationError(
                f"anchor log: log {anchor.log_index} is not Anchored({tree_size}, {root.hex()}) "
                f"from {contract}"
            )
        return f"Anchored in tx {anchor.tx_hash}, block {anchor.block_number}"

    return [
        (f"chain root (chain {chain})", chain_root),
        (f"anchor transaction (chain {chain})", anchor_tx),
    ]


def check_anchor_on_chain(
    client: RpcClient,
    trust: Trust,
    anchor: Anchor | None,
    tree_size: int,
    root: bytes,
    report: Report,
) -> None:
    """Confirm one anchor on chain, as named checks in ``report``: the node is on the anchor's
    chain (the primary chain when ``anchor`` is None), that chain's trusted contract holds
    ``root`` at ``tree_size``, and the anchor's transaction, block and log are canonical and
    say so. A node that cannot be reached or answers malformed data raises
    :class:`CannotCheckError`. :func:`check_receipt_on_chains` does this for every node and
    every chain of a receipt."""
    chain = trust.chain_id if anchor is None else anchor.chain_id

    def chain_id() -> str:
        actual = client.chain_id()
        if actual != chain:
            raise VerificationError(f"chain id: expected {chain}, node is on {actual}")
        return f"node {client.url} is on chain {actual}"

    if not report.run(f"chain id (chain {chain})", chain_id):
        return
    contract = trust.contracts.get(chain)
    if contract is None:
        report.fail(f"chain root (chain {chain})", _untrusted(chain, trust))
        return
    for name, check in anchor_checks(client, chain, contract, anchor, tree_size, root):
        if not report.run(name, check):
            return


def _untrusted(chain: int, trust: Trust) -> str:
    named = ", ".join(map(str, trust.contracts))
    return f"chain id: expected a chain the trust file names ({named}), node is on {chain}"


def check_receipt_on_chains(
    clients: Sequence[RpcClient], receipt: Receipt, tally: AnchorTally, report: Report
) -> None:
    """The ``on_chain`` step of :func:`~evledger_verify.receipt.verify_receipt` for ``--rpc``
    nodes: each node is asked its chain id, and the receipt's anchor for that chain is
    confirmed against that chain's trusted contract, at the anchor's own tree size and root.
    A node that cannot check is left to the tally, which decides whether it was needed."""
    trust = tally.trust
    for client in clients:
        try:
            chain = client.chain_id()
        except CannotCheckError as exc:
            tally.unsettled.append(_unsettled(f"chain id ({client.url})", None, exc))
            continue
        contract = trust.contracts.get(chain)
        if contract is None:
            report.fail(f"chain id (chain {chain})", f"{_untrusted(chain, trust)} ({client.url})")
            continue
        report.checks.append(
            Check(f"chain id (chain {chain})", True, f"node {client.url} is on chain {chain}")
        )
        ca = next((a for a in receipt.anchors if a.chain_id == chain), None)
        if ca is None:
            name = f"anchor transaction (chain {chain})"
            required = trust.required
            if required is not None and chain in required:
                report.fail(
                    name,
                    f"anchor transaction: missing from the receipt: chain {chain} is required "
                    f"(require: {trust.require_text})",
                )
            else:
                detail = f"no anchor on chain {chain} in this receipt"
                report.checks.append(Check(name, True, detail))
            continue
        checks = anchor_checks(client, chain, contract, ca.anchor, ca.tree_size, ca.root_hash)
        for name, check in checks:
            try:
                ok = report.run(name, check)
            except CannotCheckError as exc:
                tally.unsettled.append(_unsettled(name, chain, exc))
                break
            if not ok:
                tally.refuted.add(chain)
                break
        else:
            tally.confirmed.add(chain)


def _unsettled(name: str, chain: int | None, exc: CannotCheckError) -> UnsettledNode:
    kind = "node unreachable" if isinstance(exc, NodeUnreachableError) else "node answer unusable"
    return UnsettledNode(name, chain, kind, str(exc))
