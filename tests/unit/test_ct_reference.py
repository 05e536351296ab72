"""The Certificate Transparency reference vectors (tests/vectors/ct_reference.json): our
verifier accepts them, our stored-tree generator produces them byte for byte, and each of the
reference suite's corruptions is refused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from evledger_verify.errors import ProofError
from evledger_verify.merkle import leaf_hash, verify_consistency, verify_inclusion

from ledger import tree

pytestmark = pytest.mark.req("RCPT-5", "P11-30-1")

CT = json.loads((Path(__file__).parent.parent / "vectors" / "ct_reference.json").read_text())
LEAVES = [leaf_hash(bytes.fromhex(x)) for x in CT["leaves"]]
ROOTS = [bytes.fromhex(r) for r in CT["roots"]]
SOME = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")
EMPTY = bytes.fromhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")


STORE = tree.MemoryStore(tree.append_nodes(0, {}, LEAVES))


def hexes(proof: list[str]) -> list[bytes]:
    return [bytes.fromhex(p) for p in proof]


@pytest.mark.parametrize("size", range(1, 9))
def test_roots(size: int) -> None:
    assert tree.root(STORE, size) == ROOTS[size - 1]


@pytest.mark.parametrize("v", CT["inclusion"], ids=lambda v: f"{v['index']}-of-{v['size']}")
def test_inclusion_vectors(v: dict[str, Any]) -> None:
    proof, i, n = hexes(v["proof"]), v["index"], v["size"]
    assert tree.inclusion_proof(STORE, i, n) == proof
    verify_inclusion(LEAVES[i], i, n, proof, ROOTS[n - 1])
    root = ROOTS[n - 1]
    corrupt = {
        "index - 1": (i - 1, n, LEAVES[i], proof, root),
        "index + 1": (i + 1, n, LEAVES[i], proof, root),
        "index ^ 2": (i ^ 2, n, LEAVES[i], proof, root),
        "size * 2": (i, n * 2, LEAVES[i], proof, root),
        "size / 2": (i, n // 2, LEAVES[i], proof, root),
        "wrong leaf": (i, n, b"WrongLeaf", proof, root),
        "empty root": (i, n, LEAVES[i], proof, EMPTY),
        "random root": (i, n, LEAVES[i], proof, SOME),
        "trailing garbage": (i, n, LEAVES[i], [*proof, b""], root),
        "trailing root": (i, n, LEAVES[i], [*proof, root], root),
        "preceding garbage": (i, n, LEAVES[i], [b"", *proof], root),
        "preceding root": (i, n, LEAVES[i], [root, *proof], root),
        "removed component": (i, n, LEAVES[i], proof[:-1], root) if proof else None,
        "inserted component": (i, n, LEAVES[i], [proof[0], SOME, *proof[1:]], root)
        if len(proof) > 1 else None,
    }
    for k, p in enumerate(proof):
        flipped = list(proof)
        flipped[k] = bytes([p[0] ^ 8]) + p[1:]
        corrupt[f"modified proof[{k}] bit 3"] = (i, n, LEAVES[i], flipped, root)
    for name, args in corrupt.items():
        if args is None:
            continue
        index, size, leaf, bad, expected_root = args
        with pytest.raises(ProofError):
            verify_inclusion(leaf, index, size, bad, expected_root)
            pytest.fail(f"accepted corruption {name!r}")


@pytest.mark.parametrize("v", CT["consistency"], ids=lambda v: f"{v['first']}-to-{v['second']}")
def test_consistency_vectors(v: dict[str, Any]) -> None:
    proof, m, n = hexes(v["proof"]), v["first"], v["second"]
    r1, r2 = ROOTS[m - 1], ROOTS[n - 1]
    assert tree.consistency_proof(STORE, m, n) == proof
    verify_consistency(m, n, proof, r1, r2)
    if not proof:
        return
    corrupt = {
        "size1 - 1": (m - 1, n, proof, r1, r2),
        "size1 + 1": (m + 1, n, proof, r1, r2),
        "size1 ^ 2": (m ^ 2, n, proof, r1, r2),
        "size2 * 2": (m, n * 2, proof, r1, r2),
        "size2 / 2": (m, n // 2, proof, r1, r2),
        "wrong root1": (m, n, proof, b"WrongRoot", r2),
        "wrong root2": (m, n, proof, r1, b"WrongRoot"),
        "swapped roots": (m, n, proof, r2, r1),
        "empty proof": (m, n, [], r1, r2),
        "trailing garbage": (m, n, [*proof, b""], r1, r2),
        "trailing root1": (m, n, [*proof, r1], r1, r2),
        "trailing root2": (m, n, [*proof, r2], r1, r2),
        "preceding garbage": (m, n, [b"", *proof], r1, r2),
        "preceding root1": (m, n, [r1, *proof], r1, r2),
        "preceding root2": (m, n, [r2, *proof], r1, r2),
        "preceding proof[0]": (m, n, [proof[0], *proof], r1, r2),
        "truncated proof": (m, n, proof[:-1], r1, r2),
    }
    for k, p in enumerate(proof):
        flipped = list(proof)
        flipped[k] = bytes([p[0] ^ 16]) + p[1:]
        corrupt[f"modified proof[{k}] bit 4"] = (m, n, flipped, r1, r2)
    for name, args in corrupt.items():
        with pytest.raises(ProofError):
            verify_consistency(*args)
            pytest.fail(f"accepted corruption {name!r}")
