"""The RFC 9162 tree over stored complete-subtree hashes.

Node ``(level, idx)`` is the hash of the 2**level leaves starting at ``idx * 2**level``; level 0
holds the leaf hashes. Any range hash the RFC's recursive definitions need is either one stored
node or a fold of the stored nodes of its ragged right edge, so a root, an inclusion proof or a
consistency proof needs O(log n) nodes. They are fetched in one query: each computation runs
once with a recording getter to learn which nodes it needs ("plan"), then once with the values.
The hashing itself is imported from the verifier, so server and auditor hash identically.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Protocol, TypeVar

from evledger_verify.merkle import node_hash

from ledger.errors import LedgerError

__all__ = [
    "MemoryStore",
    "NodeKey",
    "NodeStore",
    "append_nodes",
    "consistency_proof",
    "frontier",
    "inclusion_proof",
    "multiproof",
    "root",
]

NodeKey = tuple[int, int]
Getter = Callable[[int, int], bytes]
T = TypeVar("T")
_PLACEHOLDER = bytes(32)


class NodeStore(Protocol):
    def get_nodes(self, keys: Iterable[NodeKey]) -> Mapping[NodeKey, bytes]: ...


class MemoryStore(dict[NodeKey, bytes]):
    """A node store over nodes held in memory (the sealer's new nodes, tests, benchmarks)."""

    def get_nodes(self, keys: Iterable[NodeKey]) -> dict[NodeKey, bytes]:
        return {k: self[k] for k in keys if k in self}


def _split(n: int) -> int:
    """The largest power of two strictly less than ``n`` (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def _range_hash(lo: int, hi: int, get: Getter) -> bytes:
    """MTH(D[lo:hi]) for ranges that arise in RFC 9162 recursion (lo aligned)."""
    n = hi - lo
    if n & (n - 1) == 0 and lo % n == 0:
        return get(n.bit_length() - 1, lo // n)
    k = _split(n)
    return node_hash(_range_hash(lo, lo + k, get), _range_hash(lo + k, hi, get))


def _path(m: int, lo: int, hi: int, get: Getter) -> list[bytes]:
    """PATH(m, D[lo:hi]), RFC 9162 section 2.1.3.1."""
    n = hi - lo
    if n == 1:
        return []
    k = _split(n)
    if m < k:
        return [*_path(m, lo, lo + k, get), _range_hash(lo + k, hi, get)]
    return [*_path(m - k, lo + k, hi, get), _range_hash(lo, lo + k, get)]


def _subproof(m: int, lo: int, hi: int, complete: bool, get: Getter) -> list[bytes]:
    """SUBPROOF(m, D[lo:hi], b), RFC 9162 section 2.1.4.1."""
    n = hi - lo
    if m == n:
        return [] if complete else [_range_hash(lo, hi, get)]
    k = _split(n)
    if m <= k:
        return [*_subproof(m, lo, lo + k, complete, get), _range_hash(lo + k, hi, get)]
    return [*_subproof(m - k, lo + k, hi, False, get), _range_hash(lo, lo + k, get)]


def _planned(store: NodeStore, compute: Callable[[Getter], T]) -> T:
    wanted: set[NodeKey] = set()

    def record(level: int, idx: int) -> bytes:
        wanted.add((level, idx))
        return _PLACEHOLDER

    compute(record)
    values = store.get_nodes(wanted) if wanted else {}
    missing = wanted - set(values)
    if missing:
        raise LedgerError(f"tree: expected stored nodes, missing {sorted(missing)[:5]}")
    return compute(lambda level, idx: values[(level, idx)])


def root(store: NodeStore, size: int) -> bytes:
    if size < 1:
        raise LedgerError(f"tree root: expected size >= 1, got {size}")
    return _planned(store, lambda get: _range_hash(0, size, get))


def inclusion_proof(store: NodeStore, index: int, size: int) -> list[bytes]:
    if not 0 <= index < size:
        raise LedgerError(f"inclusion proof: expected leaf index < {size}, got {index}")
    return _planned(store, lambda get: _path(index, 0, size, get))


def consistency_proof(store: NodeStore, first: int, second: int) -> list[bytes]:
    if not 0 <= first <= second:
        raise LedgerError(
            f"consistency proof: expected 0 <= first <= second, got {first}, {second}"
        )
    if first in (0, second):
        return []
    return _planned(store, lambda get: _subproof(first, 0, second, True, get))


def multiproof(store: NodeStore, indices: Sequence[int], size: int) -> list[bytes]:
    """The subtree hashes that, with the leaves at ``indices`` (sorted, distinct), give the
    root of the tree of ``size``: in the order of a depth-first walk of RFC 9162's tree, one
    hash per largest subtree holding none of those leaves. For a contiguous run of leaves it
    is a few dozen hashes whatever the run's length (evledger_verify.merkle.root_from_multiproof
    walks it back)."""
    if not indices or indices[0] < 0 or indices[-1] >= size:
        raise LedgerError(f"multiproof: expected leaf indices within 0..{size - 1}")

    def walk(lo: int, hi: int, get: Getter) -> list[bytes]:
        i = bisect.bisect_left(indices, lo)
        if i == len(indices) or indices[i] >= hi:
            return [_range_hash(lo, hi, get)]
        if hi - lo == 1:
            return []
        k = _split(hi - lo)
        return [*walk(lo, lo + k, get), *walk(lo + k, hi, get)]

    return _planned(store, lambda get: walk(0, size, get))


def frontier(size: int) -> list[NodeKey]:
    """The complete subtrees that make up a tree of ``size`` leaves, left to right."""
    keys: list[NodeKey] = []
    offset = 0
    for level in range(size.bit_length() - 1, -1, -1):
        if size >> level & 1:
            keys.append((level, offset >> level))
            offset += 1 << level
    return keys


def append_nodes(
    size: int, existing_frontier: Mapping[NodeKey, bytes], leaves: Sequence[bytes]
) -> dict[NodeKey, bytes]:
    """Every node created by appending ``leaves`` to a tree of ``size`` leaves.

    ``existing_frontier`` holds the nodes of :func:`frontier(size)`, the only old nodes that new
    ones can depend on.
    """
    nodes: dict[NodeKey, bytes] = {}
    known = dict(existing_frontier)
    for offset, leaf in enumerate(leaves):
        j = size + offset
        nodes[(0, j)] = known[(0, j)] = leaf
        level, count = 1, j + 1
        while count % (1 << level) == 0:
            idx = (count >> level) - 1
            value = node_hash(known[(level - 1, 2 * idx)], known[(level - 1, 2 * idx + 1)])
            nodes[(level, idx)] = known[(level, idx)] = value
            level += 1
    return nodes
