"""The committed RFC 9162 test vectors (``tests/vectors/*.json``) against the verifier and the
ledger's stored tree, plus known answers that do not come from our own reference tree."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from evledger_verify import errors
from evledger_verify.merkle import root_from_inclusion_proof, verify_consistency, verify_inclusion

from ledger import tree
from tests import reference_tree as ref
from tests.vectors import generate

pytestmark = pytest.mark.req("RCPT-5")

VECTORS = Path(generate.__file__).resolve().parent


def load(name: str) -> dict[str, Any]:
    value: dict[str, Any] = json.loads((VECTORS / name).read_text())
    return value


INCLUSION = load("inclusion.json")["vectors"]
CONSISTENCY = load("consistency.json")["vectors"]
KNOWN = load("known_answer.json")


def stored_tree(leaves: list[bytes]) -> tree.MemoryStore:
    return tree.MemoryStore(tree.append_nodes(0, {}, [ref.leaf_hash(e) for e in leaves]))


STORE = stored_tree(generate.LEAVES)


def b(hex_list: list[str]) -> list[bytes]:
    return [bytes.fromhex(h) for h in hex_list]


def check_raises(vector: dict[str, Any], fn: Any, *args: Any) -> None:
    expected = vector["expected"]
    if expected == "valid":
        fn(*args)
        return
    error_type = getattr(errors, expected["error"])
    with pytest.raises(error_type) as info:
        fn(*args)
    assert expected["message"] in str(info.value), str(info.value)


# -- the files are what the generator writes ----------------------------------------------------


def test_committed_vectors_equal_a_fresh_generation() -> None:
    fresh = generate.render()
    # ct_reference.json is transcribed from the CT reference suite, not generated.
    generated = sorted(p.name for p in VECTORS.glob("*.json") if p.name != "ct_reference.json")
    assert sorted(fresh) == generated
    for name, text in fresh.items():
        assert (VECTORS / name).read_text() == text, (
            f"{name} is stale: run .venv/bin/python -m tests.vectors.generate"
        )


def test_generator_check_mode_agrees() -> None:
    assert generate.main(["--check"]) == 0


def test_negative_vectors_are_named_after_their_mutation() -> None:
    for vectors in (INCLUSION, CONSISTENCY):
        names = [v["name"] for v in vectors]
        assert len(names) == len(set(names)), "vector names are unique"
        for v in vectors:
            assert v["name"].startswith("valid/") == (v["expected"] == "valid"), v["name"]
    inclusion_kinds = {v["name"].split("/")[0] for v in INCLUSION}
    consistency_kinds = {v["name"].split("/")[0] for v in CONSISTENCY}
    common = {"truncated-proof", "trailing-garbage", "swapped-nodes", "flipped-bit", "empty-proof"}
    assert common | {"wrong-leaf", "wrong-root", "wrong-size", "wrong-index"} <= inclusion_kinds
    assert common | {
        "wrong-first-root",
        "wrong-second-root",
        "wrong-first-size",
        "wrong-second-size",
    } <= consistency_kinds


# -- inclusion ----------------------------------------------------------------------------------


@pytest.mark.parametrize("vector", INCLUSION, ids=[v["name"] for v in INCLUSION])
def test_inclusion_vector(vector: dict[str, Any]) -> None:
    leaf, root = bytes.fromhex(vector["leaf_hash"]), bytes.fromhex(vector["root"])
    index, size, proof = vector["leaf_index"], vector["tree_size"], b(vector["proof"])
    check_raises(vector, verify_inclusion, leaf, index, size, proof, root)
    if vector["expected"] == "valid":
        assert root_from_inclusion_proof(leaf, index, size, proof) == root
        # The ledger's stored tree serves exactly this proof and root.
        assert tree.inclusion_proof(STORE, index, size) == proof
        assert tree.root(STORE, size) == root
        assert leaf == ref.leaf_hash(generate.LEAVES[index])


# -- consistency --------------------------------------------------------------------------------


@pytest.mark.parametrize("vector", CONSISTENCY, ids=[v["name"] for v in CONSISTENCY])
def test_consistency_vector(vector: dict[str, Any]) -> None:
    first, second, proof = vector["first_size"], vector["second_size"], b(vector["proof"])
    r1, r2 = bytes.fromhex(vector["first_root"]), bytes.fromhex(vector["second_root"])
    check_raises(vector, verify_consistency, first, second, proof, r1, r2)
    if vector["expected"] == "valid":
        assert tree.consistency_proof(STORE, first, second) == proof
        assert tree.root(STORE, second) == r2
        if first:
            assert tree.root(STORE, first) == r1


# -- known answers ------------------------------------------------------------------------------

# Roots of the Certificate Transparency reference test tree, as published with CT's Merkle tree
# tests: an oracle independent of tests/reference_tree.py.
CT_ROOTS = {
    1: "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    2: "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    3: "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    4: "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    5: "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    6: "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    7: "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    8: "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
}


def test_empty_tree_root_is_sha256_of_nothing() -> None:
    literal = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert KNOWN["empty_root"] == literal
    assert hashlib.sha256(b"").hexdigest() == literal
    assert ref.mth([]).hex() == literal


def test_ct_reference_tree_roots() -> None:
    assert KNOWN["leaves"] == [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
    assert KNOWN["roots"]["8"] == (
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"
    )
    assert {int(n): r for n, r in KNOWN["roots"].items()} == CT_ROOTS
    leaves = [bytes.fromhex(h) for h in KNOWN["leaves"]]
    store = stored_tree(leaves)
    for n, root in CT_ROOTS.items():
        assert tree.root(store, n).hex() == root
        assert ref.mth(leaves[:n]).hex() == root


def test_ct_reference_tree_proofs_verify_against_the_literal_roots() -> None:
    leaves = [bytes.fromhex(h) for h in KNOWN["leaves"]]
    store = stored_tree(leaves)
    for n in range(1, 9):
        root = bytes.fromhex(CT_ROOTS[n])
        for i in range(n):
            leaf = bytes.fromhex(KNOWN["leaf_hashes"][i])
            verify_inclusion(leaf, i, n, tree.inclusion_proof(store, i, n), root)
        for m in range(1, n + 1):
            proof = tree.consistency_proof(store, m, n)
            verify_consistency(m, n, proof, bytes.fromhex(CT_ROOTS[m]), root)
