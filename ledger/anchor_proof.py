"""Cutting an anchor's offline proof from the chain: the block header (RLP) and the path in the
block's receipts trie to the anchor transaction's receipt, checked here with the verifier's own
code (:func:`evledger_verify.evm.verify_anchor_proof`) before it is handed out.

The header is rebuilt from the node's JSON block, field by field in consensus order (the fields
a fork added are present only on chains that have it), and must hash to the block hash; the
receipts trie is rebuilt from the block's receipts with py-trie and must have the header's
``receiptsRoot``. Either mismatch is a :class:`~ledger.errors.ChainError` and no proof.
"""

from __future__ import annotations

from typing import Any

import rlp
from evledger_verify.evm import AnchorProof, verify_anchor_proof
from evledger_verify.records import keccak256
from trie.hexary import HexaryTrie
from web3 import Web3

from ledger.errors import ChainError

__all__ = ["cut_anchor_proof"]

#: Header fields in consensus order; from ``baseFeePerGas`` on, each exists from a fork on.
_HEADER = (
    "parentHash",
    "sha3Uncles",
    "miner",
    "stateRoot",
    "transactionsRoot",
    "receiptsRoot",
    "logsBloom",
    "difficulty",
    "number",
    "gasLimit",
    "gasUsed",
    "timestamp",
    "extraData",
    "mixHash",
    "nonce",
)
_LATER = (
    "baseFeePerGas",  # London
    "withdrawalsRoot",  # Shanghai
    "blobGasUsed",  # Cancun
    "excessBlobGas",
    "parentBeaconBlockRoot",
    "requestsHash",  # Prague
)


def _field(value: Any) -> Any:
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        return bytes.fromhex(value.removeprefix("0x"))
    return bytes(value)


def header_rlp(block: Any) -> bytes:
    fields = [_field(block[k]) for k in _HEADER]
    for key in _LATER:
        if block.get(key) is None:
            break
        fields.append(_field(block[key]))
    encoded: bytes = rlp.encode(fields)
    if keccak256(encoded) != bytes(block["hash"]):
        raise ChainError(
            f"anchor proof: the header rebuilt from block {block['number']} does not hash to "
            "its hash (a header field this code does not know?)"
        )
    return encoded


def receipt_rlp(receipt: Any) -> bytes:
    logs = [
        [_field(log["address"]), [bytes(t) for t in log["topics"]], bytes(log["data"])]
        for log in receipt["logs"]
    ]
    body: bytes = rlp.encode(
        [int(receipt["status"]), int(receipt["cumulativeGasUsed"]), bytes(receipt["logsBloom"]),
         logs]
    )
    kind = int(receipt.get("type", 0))
    return body if kind == 0 else bytes([kind]) + body


def cut_anchor_proof(w3: Web3, tx_hash: str, contract: str, tree_size: int,
                     root_hash: bytes) -> dict[str, Any]:
    """``{"block_header", "tx_index", "receipt_proof"}`` (hex) proving the anchor ``tx_hash``
    offline, checked by the verifier's code first."""
    receipt = w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
    block = w3.eth.get_block(receipt["blockHash"])
    header = header_rlp(block)
    receipts = w3.eth.get_block_receipts(receipt["blockHash"])
    trie = HexaryTrie({})
    for i, r in enumerate(receipts):
        trie[rlp.encode(i)] = receipt_rlp(r)
    if trie.root_hash != bytes(block["receiptsRoot"]):
        raise ChainError(
            f"anchor proof: the receipts of block {block['number']} rebuild another trie root"
        )
    index = int(receipt["transactionIndex"])
    proof_nodes = trie.get_proof(rlp.encode(index))  # type: ignore[no-untyped-call]
    nodes = tuple(rlp.encode(node) for node in proof_nodes)
    proof = AnchorProof(header, index, nodes)
    verify_anchor_proof(
        proof,
        block_hash=bytes(block["hash"]),
        block_number=int(block["number"]),
        contract=contract,
        tree_size=tree_size,
        root_hash=root_hash,
    )
    return {
        "block_header": header.hex(),
        "tx_index": index,
        "receipt_proof": [n.hex() for n in nodes],
    }
