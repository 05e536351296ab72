"""The chain side: deploying ``EvidenceAnchor``, checking we talk to the right chain and
contract, and anchoring checkpoints with locally signed transactions.

All web3 errors are wrapped into :class:`~ledger.errors.ChainError` here, at the boundary.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from eth_account.signers.local import LocalAccount
from evledger_verify.records import keccak256
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractCustomError, TransactionNotFound, Web3Exception
from web3.types import Nonce, TxParams

from ledger.errors import ChainError, ChainUnreachable

__all__ = ["AnchorResult", "Chain", "built_code_keccak", "load_artifact"]

log = logging.getLogger("evledger.chain")
T = TypeVar("T")
#: Told of each transaction sent: (tx hash, nonce, max fee per gas, hash it replaces or None).
OnSent = Callable[[str, int, int, str | None], None]
#: The contract's build (``node contracts/build.mjs``), package data of ``ledger``: in a checkout
#: a link to ``contracts/EvidenceAnchor.json``, in an installed release a copy of it.
_ARTIFACT = Path(__file__).resolve().parent / "contracts" / "EvidenceAnchor.json"


def load_artifact(path: Path = _ARTIFACT) -> dict[str, Any]:
    try:
        artifact: dict[str, Any] = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ChainError(f"contract artifact: cannot read {path}: {exc}") from exc
    return artifact


def built_code_keccak() -> str:
    """Keccak-256 (hex) of the reproducible build's deployed code: what ``ledger_meta`` must
    remember for every chain (the audit and the selftest check it)."""
    return keccak256(bytes.fromhex(load_artifact()["deployedBytecode"].removeprefix("0x"))).hex()


@dataclass(frozen=True)
class AnchorResult:
    tree_size: int
    root_hash: bytes
    tx_hash: str
    block_number: int
    block_hash: str
    log_index: int


class Chain:
    """One RPC endpoint and (once known) the ledger's contract on it."""

    def __init__(self, rpc_url: str, account: LocalAccount, timeout: float = 30.0) -> None:
        self.rpc_url = rpc_url
        self.account = account
        self.w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": timeout}))
        self.artifact = load_artifact()
        self.contract: Contract | None = None
        #: Seconds a sent transaction may wait unmined before it is replaced with higher fees.
        self.replace_after = 60.0
        #: Seconds before giving up on a transaction altogether (the next round starts over).
        self.send_timeout = 900.0
        #: Transactions replaced so far (a stuck one re-sent with higher fees).
        self.replacements = 0

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except ContractCustomError as exc:
            raise ChainError(f"{what}: contract refused: {self.decode_error(exc)}") from exc
        except OSError as exc:  # requests' ConnectionError and Timeout included
            raise ChainUnreachable(f"{what}: {exc.__class__.__name__}: {exc}") from exc
        except (Web3Exception, ValueError) as exc:
            raise ChainError(f"{what}: {exc.__class__.__name__}: {exc}") from exc

    def decode_error(self, exc: ContractCustomError) -> str:
        data = exc.data if isinstance(exc.data, str) else str(exc.args[0] if exc.args else "")
        selector = data[:10].lower()
        for item in self.artifact["abi"]:
            if item.get("type") != "error":
                continue
            sig = f"{item['name']}({','.join(i['type'] for i in item['inputs'])})"
            if "0x" + keccak256(sig.encode())[:4].hex() == selector:
                return str(item["name"])
        return data

    @property
    def chain_id(self) -> int:
        return self._call("chain id", lambda: int(self.w3.eth.chain_id))

    def attach(self, address: str) -> Contract:
        if self.contract is not None and self.contract.address == Web3.to_checksum_address(address):
            return self.contract
        self.contract = self.w3.eth.contract(
            address=Web3.to_checksum_address(address), abi=self.artifact["abi"]
        )
        return self.contract

    def code_hash(self, address: str) -> str:
        code = self._call(
            "contract code", lambda: self.w3.eth.get_code(Web3.to_checksum_address(address))
        )
        return keccak256(bytes(code)).hex()

    def check_identity(self, chain_id: int, address: str, code_keccak: str) -> None:
        """Refuse to work against another chain, or a contract whose code is not the code
        deployed when the ledger was created (``code_keccak``)."""
        actual = self.chain_id
        if actual != chain_id:
            raise ChainError(
                f"chain: expected chain id {chain_id} (remembered), node at {self.rpc_url} "
                f"is on chain {actual}"
            )
        expected = code_keccak
        got = self.code_hash(address)
        if got != expected:
            raise ChainError(
                f"contract: expected EvidenceAnchor code at {address} (keccak {expected[:16]}...), "
                f"found {'no code' if got == keccak256(b'').hex() else 'other code'}; "
                "is this the chain the ledger was created on?"
            )
        self.attach(address)

    def ensure_funds(self, minimum_wei: int = 10**18) -> None:
        """On a dev chain (Anvil), top up the anchorer; elsewhere it must be funded already."""
        balance = self._call("balance", lambda: self.w3.eth.get_balance(self.account.address))
        if balance >= minimum_wei:
            return
        try:
            self.w3.provider.make_request(
                "anvil_setBalance",  # type: ignore[arg-type]
                [self.account.address, hex(100 * 10**18)],
            )
        except (Web3Exception, OSError) as exc:
            raise ChainError(f"anchorer {self.account.address}: balance too low: {exc}") from exc

    def _send(self, what: str, tx: dict[str, Any], on_sent: OnSent | None = None) -> Any:
        """Sign locally and send; wait for the receipt. A transaction not mined within
        ``replace_after`` seconds is replaced: the same nonce with fees 25 % higher (EIP-1559
        needs at least 10 %). The nonce is the account's count of *mined* transactions, so a
        transaction an earlier run left stuck in the mempool is replaced too, never queued
        behind. Gas: estimated, plus a 20 % margin. ``on_sent(tx_hash, nonce, max_fee,
        replaces)`` hears of each transaction the node accepted (the first and each
        replacement), so the sending is on record before its outcome is known."""

        def go() -> Any:
            addr = self.account.address
            tx.setdefault("from", addr)
            tx["nonce"] = self.w3.eth.get_transaction_count(addr, "latest")
            tx["chainId"] = self.w3.eth.chain_id
            if "gas" not in tx:
                tx["gas"] = int(self.w3.eth.estimate_gas(tx) * 1.2) + 10_000  # type: ignore[arg-type]
            if "maxFeePerGas" not in tx and "gasPrice" not in tx:
                tip = int(self.w3.eth.max_priority_fee)
                base = int(self.w3.eth.get_block("latest").get("baseFeePerGas", 0))
                tx["maxPriorityFeePerGas"], tx["maxFeePerGas"] = tip, 2 * base + tip
            sent: list[Any] = []
            give_up = time.monotonic() + self.send_timeout
            while True:
                signed = self.account.sign_transaction(tx)
                try:
                    sent.append(self.w3.eth.send_raw_transaction(signed.raw_transaction))
                    if on_sent is not None:
                        on_sent(
                            sent[-1].to_0x_hex(),
                            int(tx["nonce"]),
                            int(tx.get("maxFeePerGas", tx.get("gasPrice", 0))),
                            sent[-2].to_0x_hex() if len(sent) > 1 else None,
                        )
                except Web3Exception as exc:
                    text = str(exc).lower()
                    if "underpriced" in text:  # an earlier run's transaction holds the nonce
                        self._bump(tx, what, None)
                        continue
                    if "nonce too low" not in text and "already known" not in text:
                        raise
                    if not sent:  # the nonce went to a transaction of an earlier run
                        raise ChainError(
                            f"{what}: nonce {tx['nonce']} was used meanwhile; start over"
                        ) from exc
                wait_until = time.monotonic() + self.replace_after
                while time.monotonic() < wait_until:
                    for tx_hash in reversed(sent):
                        receipt = self._receipt(tx_hash)
                        if receipt is not None:
                            if receipt["status"] != 1:
                                raise ChainError(
                                    f"{what}: transaction {tx_hash.to_0x_hex()} reverted"
                                )
                            return receipt
                    time.sleep(0.2)
                if time.monotonic() > give_up:
                    raise ChainError(
                        f"{what}: not mined after {self.send_timeout:.0f} s and "
                        f"{len(sent) - 1} replacement(s)"
                    )
                self._bump(tx, what, sent[-1] if sent else None)

        return self._call(what, go)

    def _receipt(self, tx_hash: Any) -> Any:
        try:
            return self.w3.eth.get_transaction_receipt(tx_hash)
        except TransactionNotFound:
            return None

    def _bump(self, tx: dict[str, Any], what: str, stuck: Any) -> None:
        """Raise the fees by 25 % for a replacement of the same nonce."""
        for key in ("maxFeePerGas", "maxPriorityFeePerGas", "gasPrice"):
            if key in tx:
                tx[key] = int(tx[key] * 5 // 4) + 1
        self.replacements += 1
        log.warning(
            "%s: transaction %s not mined within %.0f s; replacing it (nonce %s, max fee %s)",
            what,
            stuck.to_0x_hex() if stuck is not None else "of an earlier run",
            self.replace_after,
            tx["nonce"],
            tx.get("maxFeePerGas", tx.get("gasPrice")),
        )

    def deploy(self) -> tuple[str, int]:
        """Deploy EvidenceAnchor from the anchorer's key. Returns (address, block number)."""
        factory = self.w3.eth.contract(abi=self.artifact["abi"], bytecode=self.artifact["bytecode"])
        tx = self._call(
            "deploy",
            lambda: factory.constructor().build_transaction(self._params()),
        )
        tx.pop("nonce", None)
        receipt = self._send("deploy", dict(tx))
        address = str(receipt["contractAddress"])
        self.attach(address)
        return address, int(receipt["blockNumber"])

    def latest(self) -> tuple[int, bytes]:
        c = self._require_contract()
        size, root = self._call("latest", lambda: c.functions.latest().call())
        return int(size), bytes(root)

    def root_at(self, size: int) -> bytes:
        c = self._require_contract()
        return bytes(self._call("rootAt", lambda: c.functions.rootAt(size).call()))

    def anchor(
        self, size: int, root: bytes, proof: Sequence[bytes], on_sent: OnSent | None = None
    ) -> AnchorResult:
        c = self._require_contract()
        tx = self._call(
            "anchor",
            lambda: c.functions.anchor(size, root, list(proof)).build_transaction(self._params()),
        )
        tx.pop("nonce", None)
        tx.pop("gas", None)
        receipt = self._send(f"anchor size {size}", dict(tx), on_sent)
        return self._result_from_receipt(receipt, size, root)

    def head(self) -> int:
        """The latest block number."""
        return int(self._call("block number", lambda: self.w3.eth.block_number))

    def finalized(self, head: int | None = None) -> int | None:
        """The chain's ``finalized`` block number, when it has a finality gadget (a dev chain
        that calls its latest block finalized has none: None). ``head``: the latest block
        number, when the caller has just read it."""
        try:
            block = self._call("finalized block", lambda: self.w3.eth.get_block("finalized"))
        except ChainUnreachable:
            raise
        except ChainError:
            return None
        number = int(block["number"])
        return None if number >= (self.head() if head is None else head) else number

    def inclusion(self, tx_hash: str) -> tuple[int, str] | None:
        """(block number, block hash) holding ``tx_hash`` in the canonical chain now, or None
        when the node knows no receipt for it (dropped by a reorganization, or pending)."""

        def get() -> Any:
            try:
                return self.w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
            except TransactionNotFound:
                return None

        receipt = self._call("transaction receipt", get)
        if receipt is None:
            return None
        return int(receipt["blockNumber"]), receipt["blockHash"].to_0x_hex()

    def created_in(self) -> int | None:
        """The block the attached contract was deployed in: that of its first
        ``AnchorerAdded`` event, which its constructor emits (None when it has none)."""
        c = self._require_contract()
        logs = self._call(
            "get_logs", lambda: c.events.AnchorerAdded().get_logs(from_block=0, to_block="latest")
        )
        return min((int(log["blockNumber"]) for log in logs), default=None)

    def find_anchor(self, size: int, from_block: int = 0) -> AnchorResult | None:
        """The Anchored event for ``size`` (recovery after a crash between send and record)."""
        c = self._require_contract()
        logs = self._call(
            "get_logs",
            lambda: c.events.Anchored().get_logs(
                from_block=from_block, argument_filters={"treeSize": size}
            ),
        )
        for log in logs:
            return AnchorResult(
                tree_size=size,
                root_hash=bytes(log["args"]["rootHash"]),
                tx_hash=log["transactionHash"].to_0x_hex(),
                block_number=int(log["blockNumber"]),
                block_hash=log["blockHash"].to_0x_hex(),
                log_index=int(log["logIndex"]),
            )
        return None

    def _result_from_receipt(self, receipt: Any, size: int, root: bytes) -> AnchorResult:
        c = self._require_contract()
        events = c.events.Anchored().process_receipt(receipt)
        if not events:
            raise ChainError(f"anchor size {size}: no Anchored event in the receipt")
        ev = events[0]
        return AnchorResult(
            tree_size=size,
            root_hash=root,
            tx_hash=receipt["transactionHash"].to_0x_hex(),
            block_number=int(receipt["blockNumber"]),
            block_hash=receipt["blockHash"].to_0x_hex(),
            log_index=int(ev["logIndex"]),
        )

    def _params(self) -> TxParams:
        # Nonce and gas are filled in by _send; a fixed nonce here saves a round trip.
        return {"from": self.account.address, "nonce": Nonce(0), "gas": 3_000_000}

    def _require_contract(self) -> Contract:
        if self.contract is None:
            raise ChainError("contract: not attached (deploy or check_identity first)")
        return self.contract

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.w3.eth.chain_id  # noqa: B018
                return
            except (Web3Exception, OSError) as exc:
                if time.monotonic() > deadline:
                    raise ChainError(f"chain: {self.rpc_url} unreachable: {exc}") from exc
                time.sleep(0.2)
