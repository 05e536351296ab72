"""Write the RFC 9162 proof test vectors in this folder from the naive reference tree.

    .venv/bin/python -m tests.vectors.generate          # rewrite the JSON files
    .venv/bin/python -m tests.vectors.generate --check  # exit 1 if they are stale

Deterministic: the leaves are fixed (``b"leaf-0"``, ``b"leaf-1"``, ...) and nothing here reads
the clock or a random source. Every vector names the tree by its size over :data:`LEAVES` and
carries the hashes it needs, so a verifier in any language can run it without a Merkle tree.
Negative vectors are named after the one mutation that breaks them (``wrong-leaf``,
``truncated-proof``, ``trailing-garbage``, ...), and say which error the verifier must raise and
a fragment of its message. The expected outcome is worked out from the RFC's recursive
definitions alone (never from the verifier under test): a proof shorter or longer than the
reference path for the claimed index and size is "too short" or "too long"; one of the right
length must rebuild the root (:func:`naive_root_from_path`), else it gives the wrong root. The
generator refuses a "negative" vector that would in fact verify.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from tests import reference_tree as ref

HERE = Path(__file__).resolve().parent
LEAVES = [b"leaf-%d" % i for i in range(130)]
#: The eight leaves of the Certificate Transparency reference test tree (hex).
CT_LEAVES = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
]
EMPTY_ROOT = hashlib.sha256(b"").hexdigest()

INCLUSION_SIZES = [*range(1, 9), 13, 31, 32, 33, 64]
CONSISTENCY_SIZES = [*range(1, 9), 13, 31, 32, 33, 64]
#: (index, size) pairs whose proofs are mutated into negative inclusion vectors.
INCLUSION_NEGATIVE_BASES = [(0, 1), (2, 7), (5, 8), (12, 13), (63, 64)]
#: (first, second) pairs whose proofs are mutated into negative consistency vectors.
CONSISTENCY_NEGATIVE_BASES = [(3, 7), (4, 8), (6, 13), (32, 64), (1, 2)]


def naive_root_from_path(leaf: bytes, index: int, size: int, path: list[bytes]) -> bytes:
    """Undo RFC 9162 PATH(m, D[n]) recursively (its last element is the top-level sibling).

    Raises ValueError "too short" / "too long" when ``path`` has the wrong length.
    """
    if size == 1:
        if path:
            raise ValueError("too long")
        return leaf
    if not path:
        raise ValueError("too short")
    k = 1
    while k * 2 < size:
        k *= 2
    if index < k:
        return ref.node_hash(naive_root_from_path(leaf, index, k, path[:-1]), path[-1])
    return ref.node_hash(path[-1], naive_root_from_path(leaf, index - k, size - k, path[:-1]))


def _hex(items: list[bytes]) -> list[str]:
    return [h.hex() for h in items]


def _flip(h: bytes) -> bytes:
    return bytes([h[0] ^ 0x01]) + h[1:]


def naive_fails(leaf: bytes, index: int, size: int, proof: list[bytes], root: bytes) -> bool:
    try:
        return naive_root_from_path(leaf, index, size, proof) != root
    except ValueError:
        return True


def _inclusion_case(
    name: str, index: int, size: int, leaf: bytes, proof: list[bytes], root: bytes
) -> dict[str, Any]:
    case: dict[str, Any] = {
        "name": name,
        "leaf_index": index,
        "tree_size": size,
        "leaf_hash": leaf.hex(),
        "proof": _hex(proof),
        "root": root.hex(),
    }
    if size < 1:
        case["expected"] = {"error": "ProofError", "message": "expected tree size >= 1"}
    elif not 0 <= index < size:
        case["expected"] = {"error": "ProofError", "message": "expected leaf index <"}
    else:
        try:
            valid = naive_root_from_path(leaf, index, size, proof) == root
        except ValueError as exc:
            case["expected"] = {"error": "ProofError", "message": f"inclusion proof: {exc}"}
        else:
            case["expected"] = (
                "valid"
                if valid
                else {"error": "ProofError", "message": "inclusion proof: expected root"}
            )
    if name.startswith("valid") != (case["expected"] == "valid"):
        raise AssertionError(f"vector {name} does not show what its name says: {case}")
    return case


def inclusion_vectors() -> dict[str, Any]:
    vectors: list[dict[str, Any]] = []
    for size in INCLUSION_SIZES:
        entries = LEAVES[:size]
        root = ref.mth(entries)
        for index in range(size):
            if size > 8 and index not in (0, size // 2, size - 1):
                continue
            proof = ref.inclusion_path(index, entries)
            leaf = ref.leaf_hash(entries[index])
            vectors.append(
                _inclusion_case(
                    f"valid/size-{size}/index-{index}", index, size, leaf, proof, root
                )
            )
    for index, size in INCLUSION_NEGATIVE_BASES:
        entries = LEAVES[:size]
        root = ref.mth(entries)
        proof = ref.inclusion_path(index, entries)
        leaf = ref.leaf_hash(entries[index])
        other = (index + 1) % size if size > 1 else index
        mutations: list[tuple[str, int, int, bytes, list[bytes], bytes]] = [
            ("wrong-leaf", index, size, ref.leaf_hash(b"not-a-leaf"), proof, root),
            ("wrong-root", index, size, leaf, proof, _flip(root)),
            ("trailing-garbage", index, size, leaf, [*proof, bytes(32)], root),
            ("index-out-of-range", size, size, leaf, proof, root),
            ("negative-index", -1, size, leaf, proof, root),
            ("zero-size", index, 0, leaf, proof, root),
        ]
        if other != index:
            mutations.append(("wrong-index", other, size, leaf, proof, root))
        if size > 1:
            mutations += [
                ("truncated-proof", index, size, leaf, proof[:-1], root),
                ("empty-proof", index, size, leaf, [], root),
                ("flipped-bit", index, size, leaf, [_flip(proof[0]), *proof[1:]], root),
            ]
            for wrong in (size + 1, size - 1, 2 * size, size + 2):
                if wrong > index and naive_fails(leaf, index, wrong, proof, root):
                    mutations.append(("wrong-size", index, wrong, leaf, proof, root))
                    break
        if len(proof) >= 2:
            swapped = [proof[1], proof[0], *proof[2:]]
            mutations.append(("swapped-nodes", index, size, leaf, swapped, root))
        for mutation, i, n, lf, pr, rt in mutations:
            vectors.append(
                _inclusion_case(f"{mutation}/size-{size}/index-{index}", i, n, lf, pr, rt)
            )
    return {
        "description": "RFC 9162 section 2.1.3 inclusion proofs over the leaves "
        "b'leaf-0', b'leaf-1', ... (tree_size leaves); leaf_hash = SHA-256(0x00 || leaf)",
        "generator": "tests/vectors/generate.py",
        "vectors": vectors,
    }


def _consistency_case(
    name: str, first: int, second: int, proof: list[bytes], first_root: bytes, second_root: bytes
) -> dict[str, Any]:
    case: dict[str, Any] = {
        "name": name,
        "first_size": first,
        "second_size": second,
        "proof": _hex(proof),
        "first_root": first_root.hex(),
        "second_root": second_root.hex(),
    }
    error = "ProofError"
    if not 0 <= first <= second:
        message = "expected 0 <= first <= second"
    elif first == second:
        if proof:
            message = "expected an empty proof for equal sizes"
        elif first_root != second_root:
            message = "roots differ"
        else:
            message = ""
    elif first == 0:
        message = "expected an empty proof from the empty tree" if proof else ""
    elif not proof:
        message = "consistency proof: empty, expected at least one hash"
    else:
        wanted = len(ref.consistency_proof(first, [b""] * second))
        if len(proof) < wanted:
            message = "consistency proof: too short"
        elif len(proof) > wanted:
            message = "consistency proof: too long"
        else:
            # Collision resistance: with the true roots of these sizes the reference proof is
            # the only one that verifies; with any other root nothing does.
            true_roots = (first_root, second_root) == (
                ref.mth(LEAVES[:first]),
                ref.mth(LEAVES[:second]),
            )
            if true_roots and proof == ref.consistency_proof(first, LEAVES[:second]):
                message = ""
            else:
                message = "proof gives"
    case["expected"] = {"error": error, "message": message} if message else "valid"
    if name.startswith("valid") != (case["expected"] == "valid"):
        raise AssertionError(f"vector {name} does not show what its name says: {case}")
    return case


def consistency_vectors() -> dict[str, Any]:
    vectors: list[dict[str, Any]] = []
    for second in CONSISTENCY_SIZES:
        entries = LEAVES[:second]
        second_root = ref.mth(entries)
        firsts = range(0, second + 1) if second <= 8 else (0, 1, second // 2, second - 1, second)
        for first in firsts:
            proof = [] if first == 0 else ref.consistency_proof(first, entries)
            first_root = ref.mth(entries[:first])
            vectors.append(
                _consistency_case(
                    f"valid/first-{first}/second-{second}",
                    first,
                    second,
                    proof,
                    first_root,
                    second_root,
                )
            )
    for first, second in CONSISTENCY_NEGATIVE_BASES:
        entries = LEAVES[:second]
        r1, r2 = ref.mth(entries[:first]), ref.mth(entries)
        proof = ref.consistency_proof(first, entries)
        mutations: list[tuple[str, int, int, list[bytes], bytes, bytes]] = [
            ("wrong-first-root", first, second, proof, _flip(r1), r2),
            ("wrong-second-root", first, second, proof, r1, _flip(r2)),
            ("trailing-garbage", first, second, [*proof, bytes(32)], r1, r2),
            ("truncated-proof", first, second, proof[:-1], r1, r2),
            ("empty-proof", first, second, [], r1, r2),
            ("flipped-bit", first, second, [_flip(proof[0]), *proof[1:]], r1, r2),
            ("first-after-second", second, first, proof, r2, r1),
            ("equal-sizes-with-proof", second, second, proof, r2, r2),
            ("equal-sizes-other-root", second, second, [], r1, r2),
            ("empty-tree-with-proof", 0, second, proof, hashlib.sha256().digest(), r2),
        ]
        if len(proof) >= 2 and proof[0] != proof[1]:
            swapped = [proof[1], proof[0], *proof[2:]]
            mutations.append(("swapped-nodes", first, second, swapped, r1, r2))
        if first > 1:
            r0 = ref.mth(entries[: first - 1])
            mutations.append(("wrong-first-size", first - 1, second, proof, r0, r2))
        r3 = ref.mth(LEAVES[: second + 1])
        mutations.append(("wrong-second-size", first, second + 1, proof, r1, r3))
        for mutation, m, n, pr, a, b in mutations:
            vectors.append(
                _consistency_case(f"{mutation}/first-{first}/second-{second}", m, n, pr, a, b)
            )
    return {
        "description": "RFC 9162 section 2.1.4 consistency proofs between trees of first_size "
        "and second_size leaves over b'leaf-0', b'leaf-1', ...",
        "generator": "tests/vectors/generate.py",
        "vectors": vectors,
    }


def known_answer_vectors() -> dict[str, Any]:
    leaves = [bytes.fromhex(h) for h in CT_LEAVES]
    return {
        "description": "Known answers: the empty tree (RFC 9162 section 2.1.1) and the "
        "Certificate Transparency reference test tree of eight leaves",
        "generator": "tests/vectors/generate.py",
        "empty_root": EMPTY_ROOT,
        "leaves": CT_LEAVES,
        "leaf_hashes": [ref.leaf_hash(leaf).hex() for leaf in leaves],
        "roots": {str(n): ref.mth(leaves[:n]).hex() for n in range(1, len(leaves) + 1)},
    }


def render() -> dict[str, str]:
    """File name -> exact file text, as committed."""
    files = {
        "inclusion.json": inclusion_vectors(),
        "consistency.json": consistency_vectors(),
        "known_answer.json": known_answer_vectors(),
    }
    return {name: json.dumps(value, indent=1) + "\n" for name, value in files.items()}


def main(argv: list[str]) -> int:
    stale = []
    for name, text in render().items():
        path = HERE / name
        if "--check" in argv:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            path.write_text(text)
    if stale:
        print(f"stale vectors (run python -m tests.vectors.generate): {', '.join(stale)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
