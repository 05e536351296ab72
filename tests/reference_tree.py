"""Naive RFC 9162 Merkle tree, written straight from the RFC's recursive definitions.

The cross-check oracle for other tests: obviously correct, deliberately not fast. ``entries`` is
always the list D[n] of leaf entries (bytes) of a tree of size n = len(entries).
"""

from __future__ import annotations

import hashlib

__all__ = ["consistency_proof", "inclusion_path", "leaf_hash", "mth", "node_hash"]


def leaf_hash(entry: bytes) -> bytes:
    """RFC 9162 section 2.1.1: MTH({d(0)}) = SHA-256(0x00 || d(0))."""
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 section 2.1.1: interior node hash SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1), as used throughout section 2.1."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(entries: list[bytes]) -> bytes:
    """RFC 9162 section 2.1.1: the Merkle Tree Hash MTH(D[n])."""
    n = len(entries)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return leaf_hash(entries[0])
    k = _split(n)
    return node_hash(mth(entries[:k]), mth(entries[k:]))


def inclusion_path(index: int, entries: list[bytes]) -> list[bytes]:
    """RFC 9162 section 2.1.3.1: PATH(m, D[n]), the inclusion proof of leaf ``index``."""
    n = len(entries)
    if not 0 <= index < n:
        raise ValueError(f"index {index} out of range for a tree of size {n}")
    if n == 1:
        return []
    k = _split(n)
    if index < k:
        return [*inclusion_path(index, entries[:k]), mth(entries[k:])]
    return [*inclusion_path(index - k, entries[k:]), mth(entries[:k])]


def _subproof(m: int, entries: list[bytes], b: bool) -> list[bytes]:
    """RFC 9162 section 2.1.4.1: SUBPROOF(m, D[n], b)."""
    n = len(entries)
    if m == n:
        return [] if b else [mth(entries)]
    k = _split(n)
    if m <= k:
        return [*_subproof(m, entries[:k], b), mth(entries[k:])]
    return [*_subproof(m - k, entries[k:], False), mth(entries[:k])]


def consistency_proof(m: int, entries: list[bytes]) -> list[bytes]:
    """RFC 9162 section 2.1.4.1: PROOF(m, D[n]) = SUBPROOF(m, D[n], true), for 0 < m <= n."""
    if not 0 < m <= len(entries):
        raise ValueError(f"first size {m} out of range for a tree of size {len(entries)}")
    return _subproof(m, entries, True)
