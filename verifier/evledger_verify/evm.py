"""An anchor proven offline, down to the block header: RLP, the block header, the
receipts trie (a Merkle-Patricia trie) and the ``Anchored`` event in the transaction's receipt.

Given the block's header (RLP) and the trie nodes on the path from the header's
``receiptsRoot`` to the anchor transaction's receipt, :func:`verify_anchor_proof` shows that a
block whose hash is the anchor's ``block_hash`` holds a successful transaction whose receipt
carries ``Anchored(treeSize, rootHash, ...)`` from the ledger's contract. Nothing is asked of a
node: the block hash is what a trust file may pin, or ``--rpc`` confirms canonical and final.

Written here rather than taken from a library: the verifier is the auditor's trusted core and
keeps its dependencies few; this is decoding and hashing only (no trie building), strict about
canonical encodings, bounded in depth and size.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from evledger_verify.errors import VerificationError
from evledger_verify.records import keccak256

__all__ = [
    "ANCHORED_TOPIC",
    "AnchorProof",
    "BlockHeader",
    "ReceiptLog",
    "decode_header",
    "rlp_decode",
    "trie_get",
    "verify_anchor_proof",
]

ANCHORED_TOPIC = keccak256(b"Anchored(uint64,bytes32,uint64,bytes32)")
#: Bounds on what a proof may contain (a receipts trie is at most a handful of levels deep).
MAX_PROOF_NODES = 64
MAX_NODE_BYTES = 64 * 1024
MAX_RLP_DEPTH = 16

RLP = bytes | list["RLP"]


class ProofInvalid(VerificationError):
    """An anchor proof does not hold (malformed, or proving something else)."""


# -- RLP ----------------------------------------------------------------------------------


def rlp_decode(data: bytes) -> RLP:
    """Decode one RLP item that spans ``data`` exactly, refusing non-canonical encodings."""
    item, end = _item(data, 0, 0)
    if end != len(data):
        raise ProofInvalid(f"rlp: {len(data) - end} trailing bytes")
    return item


def _length(data: bytes, pos: int, size: int) -> int:
    if pos + size > len(data):
        raise ProofInvalid("rlp: truncated length")
    raw = data[pos : pos + size]
    if raw[0] == 0:
        raise ProofInvalid("rlp: length with a leading zero")
    return int.from_bytes(raw, "big")


def _item(data: bytes, pos: int, depth: int) -> tuple[RLP, int]:
    if depth > MAX_RLP_DEPTH:
        raise ProofInvalid("rlp: nested too deep")
    if pos >= len(data):
        raise ProofInvalid("rlp: truncated")
    b = data[pos]
    if b < 0x80:
        return data[pos : pos + 1], pos + 1
    if b <= 0xB7:
        n, start = b - 0x80, pos + 1
        if n == 1 and start < len(data) and data[start] < 0x80:
            raise ProofInvalid("rlp: single byte below 0x80 not encoded as itself")
    elif b <= 0xBF:
        size = b - 0xB7
        n, start = _length(data, pos + 1, size), pos + 1 + size
        if n < 56:
            raise ProofInvalid("rlp: long form for a short string")
    elif b <= 0xF7:
        n, start = b - 0xC0, pos + 1
        return _list(data, start, start + n, depth)
    else:
        size = b - 0xF7
        n, start = _length(data, pos + 1, size), pos + 1 + size
        if n < 56:
            raise ProofInvalid("rlp: long form for a short list")
        return _list(data, start, start + n, depth)
    end = start + n
    if end > len(data):
        raise ProofInvalid("rlp: string runs past the end")
    return data[start:end], end


def _list(data: bytes, start: int, end: int, depth: int) -> tuple[RLP, int]:
    if end > len(data):
        raise ProofInvalid("rlp: list runs past the end")
    items: list[RLP] = []
    pos = start
    while pos < end:
        item, pos = _item(data, pos, depth + 1)
        items.append(item)
    if pos != end:
        raise ProofInvalid("rlp: list items overrun the list")
    return items, end


def _bytes(item: RLP, what: str) -> bytes:
    if not isinstance(item, bytes):
        raise ProofInvalid(f"{what}: expected a string, got a list")
    return item


def _uint(item: RLP, what: str) -> int:
    raw = _bytes(item, what)
    if raw[:1] == b"\x00":
        raise ProofInvalid(f"{what}: integer with a leading zero")
    return int.from_bytes(raw, "big")


def rlp_encode_uint(value: int) -> bytes:
    """RLP of a non-negative integer (the receipts trie's key for transaction ``value``)."""
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    if len(raw) == 1 and raw[0] < 0x80:
        return raw
    return bytes([0x80 + len(raw)]) + raw


# -- block header -------------------------------------------------------------------------


@dataclass(frozen=True)
class BlockHeader:
    hash: bytes
    number: int
    receipts_root: bytes


def decode_header(header_rlp: bytes) -> BlockHeader:
    """The fields an anchor proof needs from an RLP block header, and its hash."""
    item = rlp_decode(header_rlp)
    if not isinstance(item, list) or len(item) < 15:
        raise ProofInvalid("block header: expected an RLP list of at least 15 fields")
    receipts_root = _bytes(item[5], "block header receiptsRoot")
    if len(receipts_root) != 32:
        raise ProofInvalid("block header receiptsRoot: expected 32 bytes")
    return BlockHeader(keccak256(header_rlp), _uint(item[8], "block header number"), receipts_root)


# -- the receipts trie ----------------------------------------------------------------------


def _nibbles(key: bytes) -> list[int]:
    return [n for b in key for n in (b >> 4, b & 0x0F)]


def _hex_prefix(path: bytes) -> tuple[list[int], bool]:
    """(nibbles, is leaf) of a leaf's or extension's compact-encoded path."""
    if not path:
        raise ProofInvalid("trie node: empty path")
    flag = path[0] >> 4
    if flag > 3:
        raise ProofInvalid("trie node: bad path flag")
    nibbles = _nibbles(path)[1:] if flag & 1 else _nibbles(path)[2:]
    if not flag & 1 and path[0] & 0x0F:
        raise ProofInvalid("trie node: bad path padding")
    return nibbles, flag >= 2


def trie_get(root: bytes, key: bytes, proof: Sequence[bytes]) -> bytes:
    """The value stored under ``key`` in the trie whose root hash is ``root``, proven by
    ``proof`` (the RLP nodes from the root down). Raises :class:`ProofInvalid` when the proof
    does not lead there or shows the key absent."""
    if len(proof) > MAX_PROOF_NODES:
        raise ProofInvalid(f"trie proof: more than {MAX_PROOF_NODES} nodes")
    nodes = {}
    for raw in proof:
        if len(raw) > MAX_NODE_BYTES:
            raise ProofInvalid(f"trie proof: a node larger than {MAX_NODE_BYTES} bytes")
        nodes[keccak256(raw)] = raw
    path = _nibbles(key)
    ref: RLP = root
    for _ in range(2 * len(key) + MAX_PROOF_NODES):
        if isinstance(ref, list):  # a node under 32 bytes, embedded in its parent
            node = ref
        else:
            if len(ref) != 32 or ref not in nodes:
                raise ProofInvalid(f"trie proof: no node with hash {ref.hex()}")
            decoded = rlp_decode(nodes[ref])
            if not isinstance(decoded, list):
                raise ProofInvalid("trie node: expected a list")
            node = decoded
        if len(node) == 17:
            if not path:
                return _bytes(node[16], "trie branch value")
            ref, path = node[path[0]], path[1:]
            if ref == b"":
                raise ProofInvalid("trie proof: the key is absent")
        elif len(node) == 2:
            nibbles, leaf = _hex_prefix(_bytes(node[0], "trie node path"))
            if path[: len(nibbles)] != nibbles:
                raise ProofInvalid("trie proof: the key is absent (path differs)")
            path = path[len(nibbles) :]
            if leaf:
                if path:
                    raise ProofInvalid("trie proof: the key is absent (leaf for another key)")
                return _bytes(node[1], "trie leaf value")
            ref = node[1]
        else:
            raise ProofInvalid(f"trie node: expected 2 or 17 items, got {len(node)}")
    raise ProofInvalid("trie proof: does not end")


# -- receipts -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ReceiptLog:
    address: bytes
    topics: tuple[bytes, ...]
    data: bytes


def decode_receipt(encoded: bytes) -> tuple[bool, list[ReceiptLog]]:
    """(succeeded, logs) of a consensus-encoded receipt (typed: type byte + RLP)."""
    if not encoded:
        raise ProofInvalid("receipt: empty")
    body = encoded[1:] if encoded[0] < 0x7F else encoded
    item = rlp_decode(body)
    if not isinstance(item, list) or len(item) != 4:
        raise ProofInvalid("receipt: expected [status, gas, bloom, logs]")
    status = _bytes(item[0], "receipt status")
    logs_item = item[3]
    if not isinstance(logs_item, list):
        raise ProofInvalid("receipt logs: expected a list")
    logs = []
    for entry in logs_item:
        if not isinstance(entry, list) or len(entry) != 3 or not isinstance(entry[1], list):
            raise ProofInvalid("receipt log: expected [address, topics, data]")
        logs.append(
            ReceiptLog(
                _bytes(entry[0], "log address"),
                tuple(_bytes(t, "log topic") for t in entry[1]),
                _bytes(entry[2], "log data"),
            )
        )
    return status == b"\x01", logs


# -- the anchor ---------------------------------------------------------------------------


@dataclass(frozen=True)
class AnchorProof:
    """What a receipt or bundle carries to prove an anchor offline."""

    block_header: bytes  # RLP
    tx_index: int
    receipt_proof: tuple[bytes, ...]  # RLP trie nodes, root first


def verify_anchor_proof(
    proof: AnchorProof,
    *,
    block_hash: bytes,
    block_number: int,
    contract: str,
    tree_size: int,
    root_hash: bytes,
) -> str:
    """Raise :class:`ProofInvalid` unless the block ``block_hash`` (number ``block_number``)
    holds, at ``tx_index``, a successful transaction whose receipt has the event
    ``Anchored(tree_size, root_hash, ...)`` from ``contract``. Returns a description."""
    header = decode_header(proof.block_header)
    if header.hash != block_hash:
        raise ProofInvalid(
            f"block header: hashes to {header.hash.hex()}, the anchor names block "
            f"{block_hash.hex()}"
        )
    if header.number != block_number:
        raise ProofInvalid(
            f"block header: number {header.number}, the anchor names block {block_number}"
        )
    encoded = trie_get(header.receipts_root, rlp_encode_uint(proof.tx_index), proof.receipt_proof)
    ok, logs = decode_receipt(encoded)
    if not ok:
        raise ProofInvalid(f"receipt: transaction {proof.tx_index} of the block reverted")
    address = bytes.fromhex(contract.removeprefix("0x").lower())
    size = tree_size.to_bytes(32, "big")
    for log in logs:
        if (
            log.address == address
            and log.topics[:2] == (ANCHORED_TOPIC, size)
            and log.data[:32] == root_hash
        ):
            return (
                f"block {block_number} {block_hash.hex()[:16]}... holds, at transaction "
                f"{proof.tx_index}, Anchored({tree_size}, {root_hash.hex()[:16]}...) from "
                f"{contract}"
            )
    raise ProofInvalid(
        f"receipt: transaction {proof.tx_index} has no Anchored({tree_size}, "
        f"{root_hash.hex()}) from {contract}"
    )
