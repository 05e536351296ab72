"""RFC 9162 Merkle tree hashing and proof verification (section 2.1). Pure: bytes in, bytes out.

    >>> from evledger_verify.merkle import leaf_hash, verify_inclusion, node_hash
    >>> a, b = leaf_hash(b"a"), leaf_hash(b"b")
    >>> verify_inclusion(a, 0, 2, [b], node_hash(a, b))

Every check raises :class:`~evledger_verify.errors.ProofError` naming what did not match.
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Mapping, Sequence
from typing import NewType

from evledger_verify.errors import ProofError

__all__ = [
    "HASH_SIZE",
    "LeafHash",
    "NodeHash",
    "RootHash",
    "leaf_hash",
    "node_hash",
    "root_from_inclusion_proof",
    "root_from_multiproof",
    "tree_levels",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
#: Proofs longer than this cannot belong to a tree of at most 2**64 leaves.
MAX_PROOF_LENGTH = 2 * 64

LeafHash = NewType("LeafHash", bytes)
NodeHash = NewType("NodeHash", bytes)
RootHash = NewType("RootHash", bytes)


def leaf_hash(entry: bytes) -> LeafHash:
    """MTH({d(0)}) = SHA-256(0x00 || d(0))."""
    return LeafHash(hashlib.sha256(b"\x00" + entry).digest())


def node_hash(left: bytes, right: bytes) -> NodeHash:
    """SHA-256(0x01 || left || right)."""
    return NodeHash(hashlib.sha256(b"\x01" + left + right).digest())


def _check_hashes(what: str, hashes: Sequence[bytes]) -> None:
    if len(hashes) > MAX_PROOF_LENGTH:
        raise ProofError(f"{what}: expected at most {MAX_PROOF_LENGTH} hashes, got {len(hashes)}")
    for i, h in enumerate(hashes):
        if len(h) != HASH_SIZE:
            raise ProofError(f"{what}: element {i} expected {HASH_SIZE} bytes, got {len(h)}")


def tree_levels(leaf_hashes: Sequence[bytes]) -> list[list[bytes]]:
    """Every level of the tree over ``leaf_hashes``, built level by level (the fast way).

    Level l+1 hashes adjacent pairs of level l; an odd last node is promoted unchanged, which
    makes ``levels[-1][0]`` equal to MTH(D[n]) of RFC 9162 section 2.1.1, and element i of
    level l the hash of the complete subtree of leaves i * 2**l .. (i + 1) * 2**l - 1 whenever
    that subtree is complete.
    """
    if not leaf_hashes:
        raise ProofError("tree levels: expected at least one leaf")
    sha256 = hashlib.sha256
    level = list(leaf_hashes)
    levels = [level]
    while len(level) > 1:
        pairs = iter(level)
        parent = [sha256(b"\x01" + a + b).digest() for a, b in zip(pairs, pairs, strict=False)]
        if len(level) & 1:
            parent.append(level[-1])
        levels.append(parent)
        level = parent
    return levels


def root_from_inclusion_proof(
    leaf: bytes, index: int, tree_size: int, proof: Sequence[bytes]
) -> RootHash:
    """RFC 9162 section 2.1.3.2: the root implied by ``leaf`` at ``index`` and ``proof``."""
    if tree_size < 1:
        raise ProofError(f"inclusion proof: expected tree size >= 1, got {tree_size}")
    if not 0 <= index < tree_size:
        raise ProofError(f"inclusion proof: expected leaf index < {tree_size}, got {index}")
    if len(leaf) != HASH_SIZE:
        raise ProofError(f"inclusion proof: leaf hash expected {HASH_SIZE} bytes, got {len(leaf)}")
    _check_hashes("inclusion proof", proof)
    fn, sn = index, tree_size - 1
    r = leaf
    for p in proof:
        if sn == 0:
            raise ProofError("inclusion proof: too long for this leaf index and tree size")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("inclusion proof: too short for this leaf index and tree size")
    return RootHash(r)


def verify_inclusion(
    leaf: bytes, index: int, tree_size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Raise :class:`ProofError` unless ``proof`` shows ``leaf`` at ``index`` under ``root``."""
    computed = root_from_inclusion_proof(leaf, index, tree_size, proof)
    if computed != root:
        raise ProofError(
            f"inclusion proof: expected root {root.hex()}, proof gives {computed.hex()}"
        )


def verify_consistency(
    first_size: int,
    second_size: int,
    proof: Sequence[bytes],
    first_root: bytes,
    second_root: bytes,
) -> None:
    """RFC 9162 section 2.1.4.2: the tree of ``second_size`` extends the one of ``first_size``."""
    _check_hashes("consistency proof", proof)
    if first_size < 0 or second_size < first_size:
        raise ProofError(
            f"consistency proof: expected 0 <= first <= second, got {first_size}, {second_size}"
        )
    if first_size == second_size:
        if proof:
            raise ProofError("consistency proof: expected an empty proof for equal sizes")
        if first_root != second_root:
            raise ProofError(
                f"consistency proof: same size {first_size} but roots differ: "
                f"{first_root.hex()} vs {second_root.hex()}"
            )
        return
    if first_size == 0:
        if proof:
            raise ProofError("consistency proof: expected an empty proof from the empty tree")
        return
    if not proof:
        raise ProofError("consistency proof: empty, expected at least one hash")
    path = list(proof)
    # If first_size is an exact power of two, the first subtree hash is the old root itself.
    if first_size & (first_size - 1) == 0:
        path.insert(0, first_root)
    fn, sn = first_size - 1, second_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("consistency proof: too long for these sizes")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("consistency proof: too short for these sizes")
    if fr != first_root:
        raise ProofError(
            f"consistency proof: expected first root {first_root.hex()}, proof gives {fr.hex()}"
        )
    if sr != second_root:
        raise ProofError(
            f"consistency proof: expected second root {second_root.hex()}, proof gives {sr.hex()}"
        )


def root_from_multiproof(
    leaves: Mapping[int, bytes], tree_size: int, proof: Sequence[bytes]
) -> RootHash:
    """The root of the tree of ``tree_size`` from the leaf hashes at some indices and the
    subtree hashes for the rest, in depth-first order (one per largest subtree holding none of
    the leaves). Raises :class:`ProofError` when the proof is too short, too long or the
    leaves lie outside the tree."""
    _check_hashes("multiproof", proof)
    indices = sorted(leaves)
    if not indices or indices[0] < 0 or indices[-1] >= tree_size:
        raise ProofError(f"multiproof: expected leaves within 0..{tree_size - 1}")
    supplied = iter(proof)

    def walk(lo: int, hi: int) -> bytes:
        i = bisect.bisect_left(indices, lo)
        if i == len(indices) or indices[i] >= hi:
            node = next(supplied, None)
            if node is None:
                raise ProofError("multiproof: too short for these leaves and tree size")
            return node
        if hi - lo == 1:
            return leaves[lo]
        k = 1 << ((hi - lo - 1).bit_length() - 1)
        return node_hash(walk(lo, lo + k), walk(lo + k, hi))

    root = walk(0, tree_size)
    if next(supplied, None) is not None:
        raise ProofError("multiproof: too long for these leaves and tree size")
    return RootHash(root)
