"""The verifier's RFC 9162 proofs and the ledger's stored tree, checked against the naive
reference tree in :mod:`tests.reference_tree`: exhaustively for small trees, with Hypothesis for
larger ones, and against every mutation of a valid proof."""

from __future__ import annotations

import functools
import hashlib
import itertools
from collections.abc import Iterable, Mapping
from typing import Any

import pytest
from evledger_verify import merkle
from evledger_verify.errors import ProofError
from evledger_verify.merkle import root_from_inclusion_proof, verify_consistency, verify_inclusion
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import tree
from ledger.errors import LedgerError
from tests import reference_tree as ref
from tests.vectors.generate import naive_root_from_path

pytestmark = pytest.mark.req("RCPT-5", "P11-30-1")

SMALL = 64
LARGE = 2000
ENTRIES = [b"leaf-%d" % i for i in range(LARGE)]
EMPTY_ROOT = hashlib.sha256(b"").digest()

fast = settings(max_examples=40, deadline=None)


class DictStore:
    """A node store over a dict that records which nodes were asked for."""

    def __init__(self, nodes: Mapping[tuple[int, int], bytes]) -> None:
        self.nodes = dict(nodes)
        self.asked: list[set[tuple[int, int]]] = []

    def get_nodes(self, keys: Iterable[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        wanted = set(keys)
        self.asked.append(wanted)
        return {k: self.nodes[k] for k in wanted if k in self.nodes}


@functools.cache
def leaf_hashes(n: int) -> tuple[bytes, ...]:
    return tuple(ref.leaf_hash(e) for e in ENTRIES[:n])


@functools.cache
def ref_root(n: int) -> bytes:
    return ref.mth(ENTRIES[:n])


@functools.cache
def store_of(n: int) -> DictStore:
    """A store holding exactly the nodes of a tree of ``n`` leaves, appended in one batch."""
    return DictStore(tree.append_nodes(0, {}, leaf_hashes(n)))


def flip(h: bytes, bit: int = 0) -> bytes:
    return bytes([h[0] ^ (1 << bit)]) + h[1:]


def expect_proof_error(fn, *args, match: str) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(ProofError) as info:
        fn(*args)
    message = str(info.value)
    assert match in message, message
    return message


def agrees_with_naive(leaf: bytes, index: int, size: int, proof: list[bytes], root: bytes) -> None:
    """The verifier accepts exactly when the naive reconstruction gives ``root``."""
    try:
        expected = naive_root_from_path(leaf, index, size, proof)
    except ValueError as exc:
        expect_proof_error(
            verify_inclusion, leaf, index, size, proof, root, match=f"inclusion proof: {exc}"
        )
        return
    assert root_from_inclusion_proof(leaf, index, size, proof) == expected
    if expected == root:
        verify_inclusion(leaf, index, size, proof, root)
    else:
        expect_proof_error(
            verify_inclusion, leaf, index, size, proof, root, match="inclusion proof: expected root"
        )


# -- hashing -------------------------------------------------------------------------------------


def test_hashing_domain_separation_matches_reference() -> None:
    assert merkle.leaf_hash(b"x") == ref.leaf_hash(b"x")
    assert merkle.node_hash(b"a" * 32, b"b" * 32) == ref.node_hash(b"a" * 32, b"b" * 32)
    # A leaf hash is never the node hash of the same bytes (second preimage protection).
    assert bytes(merkle.leaf_hash(b"a" * 64)) != bytes(merkle.node_hash(b"a" * 32, b"a" * 32))
    assert ref.mth([]) == EMPTY_ROOT
    assert EMPTY_ROOT.hex().startswith("e3b0c442")


# -- exhaustive cross-checks for sizes 1..64 ----------------------------------------------------


@pytest.mark.parametrize("n", range(1, SMALL + 1))
def test_inclusion_all_indices(n: int) -> None:
    entries, root, store = ENTRIES[:n], ref_root(n), store_of(n)
    assert tree.root(store, n) == root
    for i in range(n):
        proof = ref.inclusion_path(i, entries)
        leaf = ref.leaf_hash(entries[i])
        verify_inclusion(leaf, i, n, proof, root)
        assert root_from_inclusion_proof(leaf, i, n, proof) == root
        assert tree.inclusion_proof(store, i, n) == proof


@pytest.mark.parametrize("n", range(1, SMALL + 1))
def test_consistency_all_first_sizes(n: int) -> None:
    entries, second, store = ENTRIES[:n], ref_root(n), store_of(n)
    verify_consistency(0, n, [], EMPTY_ROOT, second)
    assert tree.consistency_proof(store, 0, n) == []
    for m in range(1, n + 1):
        proof = ref.consistency_proof(m, entries)
        verify_consistency(m, n, proof, ref_root(m), second)
        assert tree.consistency_proof(store, m, n) == proof
        # The stored tree of size n answers for every smaller size too.
        assert tree.root(store, m) == ref_root(m)


@pytest.mark.parametrize("n", range(1, SMALL + 1))
def test_frontier_is_the_binary_decomposition(n: int) -> None:
    keys = tree.frontier(n)
    assert [1 << level for level, _ in keys] == [
        1 << b for b in range(n.bit_length() - 1, -1, -1) if n >> b & 1
    ]
    offset = 0
    for level, idx in keys:
        assert idx << level == offset, "frontier nodes are left to right and contiguous"
        offset += 1 << level
    assert offset == n
    store = store_of(n)
    assert set(keys) <= set(store.nodes)
    # Folding the frontier from the right gives the root.
    hashes = [store.nodes[k] for k in keys]
    acc = hashes[-1]
    for h in reversed(hashes[:-1]):
        acc = ref.node_hash(h, acc)
    assert acc == ref_root(n)


def test_frontier_of_empty_tree() -> None:
    assert tree.frontier(0) == []


def test_stored_tree_fetches_nodes_in_one_query() -> None:
    store = DictStore(store_of(SMALL).nodes)
    tree.inclusion_proof(store, 5, 37)
    tree.consistency_proof(store, 13, 37)
    tree.root(store, 37)
    assert len(store.asked) == 3
    assert all(len(keys) <= 2 * (37).bit_length() for keys in store.asked)


def test_append_nodes_one_by_one_equals_one_batch() -> None:
    nodes: dict[tuple[int, int], bytes] = {}
    for size, leaf in enumerate(leaf_hashes(SMALL)):
        frontier = {k: nodes[k] for k in tree.frontier(size)}
        new = tree.append_nodes(size, frontier, [leaf])
        assert not set(new) & set(nodes), "append never rewrites an existing node"
        nodes.update(new)
        assert tree.root(DictStore(nodes), size + 1) == ref_root(size + 1)
    assert nodes == store_of(SMALL).nodes


# -- ledger.tree refusals -----------------------------------------------------------------------


def test_stored_tree_refusals_name_what_failed() -> None:
    store = store_of(8)
    with pytest.raises(LedgerError, match="tree root: expected size >= 1, got 0"):
        tree.root(store, 0)
    with pytest.raises(LedgerError, match="inclusion proof: expected leaf index < 8, got 8"):
        tree.inclusion_proof(store, 8, 8)
    with pytest.raises(LedgerError, match="inclusion proof: expected leaf index < 8, got -1"):
        tree.inclusion_proof(store, -1, 8)
    with pytest.raises(LedgerError, match="consistency proof: expected 0 <= first <= second"):
        tree.consistency_proof(store, 5, 4)
    assert tree.consistency_proof(store, 8, 8) == []
    with pytest.raises(LedgerError, match=r"tree: expected stored nodes, missing \[\(0, 8\)"):
        tree.root(store, 9)


# -- Hypothesis: larger trees, random batch splits ----------------------------------------------


@st.composite
def size_and_index(draw: st.DrawFn) -> tuple[int, int]:
    n = draw(st.integers(1, LARGE))
    return n, draw(st.integers(0, n - 1))


@fast
@given(size_and_index())
def test_inclusion_random_sizes(case: tuple[int, int]) -> None:
    n, i = case
    entries, root = ENTRIES[:n], ref_root(n)
    proof = ref.inclusion_path(i, entries)
    verify_inclusion(ref.leaf_hash(entries[i]), i, n, proof, root)
    assert tree.inclusion_proof(store_of(LARGE), i, n) == proof
    assert tree.root(store_of(LARGE), n) == root


@st.composite
def two_sizes(draw: st.DrawFn) -> tuple[int, int]:
    n = draw(st.integers(1, LARGE))
    return draw(st.integers(1, n)), n


@fast
@given(two_sizes())
def test_consistency_random_sizes(case: tuple[int, int]) -> None:
    m, n = case
    proof = ref.consistency_proof(m, ENTRIES[:n])
    verify_consistency(m, n, proof, ref_root(m), ref_root(n))
    assert tree.consistency_proof(store_of(LARGE), m, n) == proof


@fast
@given(
    st.integers(1, LARGE).flatmap(
        lambda n: st.tuples(st.just(n), st.lists(st.integers(1, n), max_size=8, unique=True))
    )
)
def test_append_nodes_any_batch_split(case: tuple[int, list[int]]) -> None:
    n, cuts = case
    bounds = [0, *sorted(c for c in cuts if c < n), n]
    leaves = leaf_hashes(n)
    nodes: dict[tuple[int, int], bytes] = {}
    for lo, hi in itertools.pairwise(bounds):
        if lo == hi:
            continue
        # Only the frontier is handed over: anything else needed would be a KeyError.
        frontier = {k: nodes[k] for k in tree.frontier(lo)}
        new = tree.append_nodes(lo, frontier, leaves[lo:hi])
        assert not set(new) & set(nodes)
        nodes.update(new)
        assert tree.root(DictStore(nodes), hi) == ref_root(hi)
    assert nodes == tree.append_nodes(0, {}, leaves)
    # A tree of n leaves has exactly 2n - popcount(n) complete-subtree nodes.
    assert len(nodes) == 2 * n - n.bit_count()


@fast
@given(
    size_and_index(),
    st.lists(st.binary(min_size=32, max_size=32), max_size=14),
    st.binary(min_size=32, max_size=32),
)
def test_random_proofs_agree_with_naive(
    case: tuple[int, int], proof: list[bytes], leaf: bytes
) -> None:
    n, i = case
    agrees_with_naive(leaf, i, n, proof, ref_root(n))


@fast
@given(size_and_index())
def test_valid_proof_with_any_index_or_size_agrees_with_naive(case: tuple[int, int]) -> None:
    n, i = case
    proof = ref.inclusion_path(i, ENTRIES[:n])
    leaf = ref.leaf_hash(ENTRIES[i])
    for other in {i - 1, i + 1, 0, n - 1} & set(range(n)):
        agrees_with_naive(leaf, other, n, proof, ref_root(n))
    for size in {n - 1, n + 1, 2 * n, i + 1}:
        if size > i:
            agrees_with_naive(leaf, i, size, proof, ref_root(n))


@fast
@given(size_and_index().filter(lambda c: c[0] > 1), st.data())
def test_any_bit_flip_breaks_inclusion(case: tuple[int, int], data: st.DataObject) -> None:
    n, i = case
    proof = ref.inclusion_path(i, ENTRIES[:n])
    j = data.draw(st.integers(0, len(proof) - 1))
    bit = data.draw(st.integers(0, 32 * 8 - 1))
    element = bytearray(proof[j])
    element[bit // 8] ^= 1 << (bit % 8)
    bad = [*proof[:j], bytes(element), *proof[j + 1 :]]
    expect_proof_error(
        verify_inclusion, ref.leaf_hash(ENTRIES[i]), i, n, bad, ref_root(n),
        match="inclusion proof: expected root",
    )


@fast
@given(two_sizes().filter(lambda c: c[0] < c[1]), st.data())
def test_any_bit_flip_breaks_consistency(case: tuple[int, int], data: st.DataObject) -> None:
    m, n = case
    proof = ref.consistency_proof(m, ENTRIES[:n])
    j = data.draw(st.integers(0, len(proof) - 1))
    bit = data.draw(st.integers(0, 32 * 8 - 1))
    element = bytearray(proof[j])
    element[bit // 8] ^= 1 << (bit % 8)
    bad = [*proof[:j], bytes(element), *proof[j + 1 :]]
    expect_proof_error(
        verify_consistency, m, n, bad, ref_root(m), ref_root(n), match="consistency proof: expected"
    )


# -- every mutation of a valid inclusion proof --------------------------------------------------


@pytest.mark.parametrize("n", range(2, 33))
def test_inclusion_mutations(n: int) -> None:
    entries, root = ENTRIES[:n], ref_root(n)
    for i in range(n):
        leaf = ref.leaf_hash(entries[i])
        proof = ref.inclusion_path(i, entries)
        for j in range(len(proof)):
            bad = [*proof[:j], flip(proof[j]), *proof[j + 1 :]]
            expect_proof_error(verify_inclusion, leaf, i, n, bad, root, match="expected root")
        expect_proof_error(
            verify_inclusion, leaf, i, n, proof[:-1], root, match="inclusion proof: too short"
        )
        expect_proof_error(
            verify_inclusion, leaf, i, n, [*proof, proof[0]], root,
            match="inclusion proof: too long",
        )
        expect_proof_error(
            verify_inclusion, leaf, i, n, [], root, match="inclusion proof: too short"
        )
        if len(proof) >= 2:
            swapped = [proof[1], proof[0], *proof[2:]]
            expect_proof_error(
                verify_inclusion, leaf, i, n, swapped, root, match="inclusion proof: expected root"
            )
        expect_proof_error(
            verify_inclusion, flip(leaf), i, n, proof, root, match="inclusion proof: expected root"
        )
        expect_proof_error(
            verify_inclusion, leaf, i, n, proof, flip(root),
            match=f"inclusion proof: expected root {flip(root).hex()}, proof gives {root.hex()}",
        )
        for other in {i - 1, i + 1} & set(range(n)):
            agrees_with_naive(leaf, other, n, proof, root)
        for size in {n - 1, n + 1} - {i}:
            if size > i:
                agrees_with_naive(leaf, i, size, proof, root)


def test_inclusion_bounds_and_lengths_named() -> None:
    entries = ENTRIES[:5]
    root, leaf = ref_root(5), ref.leaf_hash(entries[2])
    proof = ref.inclusion_path(2, entries)
    expect_proof_error(
        verify_inclusion, leaf, 5, 5, proof, root,
        match="inclusion proof: expected leaf index < 5, got 5",
    )
    expect_proof_error(
        verify_inclusion, leaf, -1, 5, proof, root,
        match="inclusion proof: expected leaf index < 5, got -1",
    )
    expect_proof_error(
        verify_inclusion, leaf, 0, 0, [], EMPTY_ROOT,
        match="inclusion proof: expected tree size >= 1, got 0",
    )
    expect_proof_error(
        verify_inclusion, leaf[:31], 2, 5, proof, root,
        match="inclusion proof: leaf hash expected 32 bytes, got 31",
    )
    expect_proof_error(
        verify_inclusion, leaf, 2, 5, [proof[0], proof[1] + b"\x00", proof[2]], root,
        match="inclusion proof: element 1 expected 32 bytes, got 33",
    )
    expect_proof_error(
        verify_inclusion, leaf, 2, 5, [proof[0]] * 129, root,
        match="inclusion proof: expected at most 128 hashes, got 129",
    )
    # A proof for a one-leaf tree is empty; anything more is too long.
    only = ref.leaf_hash(entries[0])
    verify_inclusion(only, 0, 1, [], only)
    expect_proof_error(
        verify_inclusion, only, 0, 1, [only], only, match="inclusion proof: too long"
    )


def test_inclusion_in_huge_tree_needs_64_hashes() -> None:
    size = 2**64 - 1
    leaf = ref.leaf_hash(b"x")
    proof = [ref.leaf_hash(b"%d" % k) for k in range(64)]
    root = root_from_inclusion_proof(leaf, size - 2, size, proof)
    verify_inclusion(leaf, size - 2, size, proof, root)
    expect_proof_error(
        verify_inclusion, leaf, size - 2, size, proof[:-1], root, match="too short"
    )


# -- every mutation of a valid consistency proof ------------------------------------------------


@pytest.mark.parametrize("n", range(2, 33))
def test_consistency_mutations(n: int) -> None:
    entries, second = ENTRIES[:n], ref_root(n)
    for m in range(1, n):
        first = ref_root(m)
        proof = ref.consistency_proof(m, entries)
        for j in range(len(proof)):
            bad = [*proof[:j], flip(proof[j]), *proof[j + 1 :]]
            expect_proof_error(
                verify_consistency, m, n, bad, first, second, match="consistency proof: expected"
            )
        expect_proof_error(
            verify_consistency, m, n, proof[:-1], first, second, match="consistency proof"
        )
        expect_proof_error(
            verify_consistency, m, n, [*proof, proof[0]], first, second,
            match="consistency proof: too long for these sizes",
        )
        expect_proof_error(
            verify_consistency, m, n, [], first, second,
            match="consistency proof: empty, expected at least one hash",
        )
        if len(proof) >= 2 and proof[0] != proof[1]:
            swapped = [proof[1], proof[0], *proof[2:]]
            expect_proof_error(
                verify_consistency, m, n, swapped, first, second, match="consistency proof"
            )
        expect_proof_error(
            verify_consistency, m, n, proof, flip(first), second, match="root"
        )
        expect_proof_error(
            verify_consistency, m, n, proof, first, flip(second),
            match=f"consistency proof: expected second root {flip(second).hex()}",
        )
        for a, b in {(m - 1, n), (m + 1, n), (m, n + 1), (m, n - 1)}:
            if 0 < a < b and (a, b) != (m, n):
                expect_proof_error(
                    verify_consistency, a, b, proof, ref_root(a), ref_root(b),
                    match="consistency proof",
                )


def test_consistency_edge_cases_named() -> None:
    root4, root7 = ref_root(4), ref_root(7)
    proof = ref.consistency_proof(4, ENTRIES[:7])
    verify_consistency(7, 7, [], root7, root7)
    expect_proof_error(
        verify_consistency, 7, 7, proof, root7, root7,
        match="consistency proof: expected an empty proof for equal sizes",
    )
    expect_proof_error(
        verify_consistency, 7, 7, [], root4, root7,
        match=f"consistency proof: same size 7 but roots differ: {root4.hex()} vs {root7.hex()}",
    )
    expect_proof_error(
        verify_consistency, 0, 7, proof, EMPTY_ROOT, root7,
        match="consistency proof: expected an empty proof from the empty tree",
    )
    expect_proof_error(
        verify_consistency, 7, 4, proof, root7, root4,
        match="consistency proof: expected 0 <= first <= second, got 7, 4",
    )
    expect_proof_error(
        verify_consistency, -1, 4, [], root7, root4,
        match="consistency proof: expected 0 <= first <= second, got -1, 4",
    )
    expect_proof_error(
        verify_consistency, 4, 7, [proof[0][:-1], *proof[1:]], root4, root7,
        match="consistency proof: element 0 expected 32 bytes, got 31",
    )
    expect_proof_error(
        verify_consistency, 4, 7, [proof[0]] * 129, root4, root7,
        match="consistency proof: expected at most 128 hashes, got 129",
    )


@given(st.integers(min_value=1, max_value=300), st.data())
@settings(max_examples=200, deadline=None)
def test_multiproof_gives_the_root_for_any_set_of_leaves(size: int, data: Any) -> None:
    from evledger_verify.merkle import root_from_multiproof, tree_levels

    from ledger import tree

    leaves = [hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(size)]
    store = tree.MemoryStore()
    for key, value in tree.append_nodes(0, {}, leaves).items():
        store[key] = value
    chosen = sorted(data.draw(st.sets(st.integers(0, size - 1), min_size=1)))
    proof = tree.multiproof(store, chosen, size)
    expected = tree_levels(leaves)[-1][0]
    assert root_from_multiproof({i: leaves[i] for i in chosen}, size, proof) == expected
    if proof:
        with pytest.raises(ProofError):
            root_from_multiproof({i: leaves[i] for i in chosen}, size, proof[:-1])
        with pytest.raises(ProofError):
            root_from_multiproof({i: leaves[i] for i in chosen}, size, [*proof, proof[0]])
        other = {i: leaves[i] for i in chosen}
        other[chosen[0]] = b"\x00" * 32
        assert root_from_multiproof(other, size, proof) != expected


def test_a_contiguous_run_needs_few_hashes() -> None:
    from ledger import tree

    size = 100_000
    leaves = [hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(size)]
    store = tree.MemoryStore()
    for key, value in tree.append_nodes(0, {}, leaves).items():
        store[key] = value
    assert len(tree.multiproof(store, list(range(20_000, 70_000)), size)) <= 40
