// The page's RFC 9162 proof checks (web/verify/src/merkle.js) over the same data files the
// Python verifier runs (tests/unit/test_vectors.py, test_ct_reference.py): the generated
// inclusion and consistency vectors with the error fragment each negative one expects, the
// known answers, and the Certificate Transparency reference vectors with every corruption
// the reference suite applies.
//
//   node --test tests/js/

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { fromHex, toHex, utf8 } from "../../web/verify/src/bytes.js";
import { ProofError } from "../../web/verify/src/errors.js";
import {
  leafHash,
  rootFromInclusionProof,
  verifyConsistency,
  verifyInclusion,
} from "../../web/verify/src/merkle.js";

const load = (name) => JSON.parse(readFileSync(new URL(`../vectors/${name}`, import.meta.url), "utf8"));
const hexes = (list) => list.map(fromHex);

function outcome(vector, fn) {
  if (vector.expected === "valid") {
    fn();
    return;
  }
  assert.throws(fn, (err) => {
    assert.ok(err instanceof ProofError, `ProofError, got ${err}`);
    assert.ok(err.message.includes(vector.expected.message), `${err.message} / ${vector.expected.message}`);
    return true;
  });
}

for (const v of load("inclusion.json").vectors) {
  test(`inclusion/${v.name}`, () => {
    const args = [fromHex(v.leaf_hash), BigInt(v.leaf_index), BigInt(v.tree_size), hexes(v.proof)];
    outcome(v, () => verifyInclusion(...args, fromHex(v.root)));
    if (v.expected === "valid") assert.equal(toHex(rootFromInclusionProof(...args)), v.root);
  });
}

for (const v of load("consistency.json").vectors) {
  test(`consistency/${v.name}`, () => {
    outcome(v, () =>
      verifyConsistency(BigInt(v.first_size), BigInt(v.second_size), hexes(v.proof),
        fromHex(v.first_root), fromHex(v.second_root)));
  });
}

test("known answers: the CT reference tree's leaf hashes and roots", () => {
  const k = load("known_answer.json");
  assert.deepEqual(k.leaves.map((l) => toHex(leafHash(fromHex(l)))), k.leaf_hashes);
  const ct = load("ct_reference.json");
  assert.deepEqual(Object.values(k.roots), ct.roots);
});

const CT = load("ct_reference.json");
const LEAVES = CT.leaves.map((l) => leafHash(fromHex(l)));
const ROOTS = CT.roots.map(fromHex);
const SOME = fromHex("abacaba000000000000000000000000000000000000000000060061e00123456");
const EMPTY = fromHex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
const flip = (p, bit) => Uint8Array.of(p[0] ^ bit, ...p.subarray(1));

for (const v of CT.inclusion) {
  test(`ct/inclusion ${v.index} of ${v.size}, and its corruptions`, () => {
    const proof = hexes(v.proof);
    const i = BigInt(v.index);
    const n = BigInt(v.size);
    const root = ROOTS[v.size - 1];
    const leaf = LEAVES[v.index];
    verifyInclusion(leaf, i, n, proof, root);
    const corrupt = {
      "index - 1": [i - 1n, n, leaf, proof, root],
      "index + 1": [i + 1n, n, leaf, proof, root],
      "index ^ 2": [i ^ 2n, n, leaf, proof, root],
      "size * 2": [i, n * 2n, leaf, proof, root],
      "size / 2": [i, n / 2n, leaf, proof, root],
      "wrong leaf": [i, n, utf8("WrongLeaf"), proof, root],
      "empty root": [i, n, leaf, proof, EMPTY],
      "random root": [i, n, leaf, proof, SOME],
      "trailing garbage": [i, n, leaf, [...proof, new Uint8Array()], root],
      "trailing root": [i, n, leaf, [...proof, root], root],
      "preceding garbage": [i, n, leaf, [new Uint8Array(), ...proof], root],
      "preceding root": [i, n, leaf, [root, ...proof], root],
    };
    if (proof.length) corrupt["removed component"] = [i, n, leaf, proof.slice(0, -1), root];
    if (proof.length > 1) corrupt["inserted component"] = [i, n, leaf, [proof[0], SOME, ...proof.slice(1)], root];
    proof.forEach((p, k) => {
      corrupt[`modified proof[${k}] bit 3`] = [i, n, leaf, proof.map((q, j) => (j === k ? flip(q, 8) : q)), root];
    });
    for (const [name, [index, size, lf, bad, r]] of Object.entries(corrupt)) {
      assert.throws(() => verifyInclusion(lf, index, size, bad, r), ProofError, `accepted ${name}`);
    }
  });
}

for (const v of CT.consistency) {
  test(`ct/consistency ${v.first} to ${v.second}, and its corruptions`, () => {
    const proof = hexes(v.proof);
    const m = BigInt(v.first);
    const n = BigInt(v.second);
    const r1 = ROOTS[v.first - 1];
    const r2 = ROOTS[v.second - 1];
    verifyConsistency(m, n, proof, r1, r2);
    if (!proof.length) return;
    const wrong = utf8("WrongRoot");
    const corrupt = {
      "size1 - 1": [m - 1n, n, proof, r1, r2],
      "size1 + 1": [m + 1n, n, proof, r1, r2],
      "size1 ^ 2": [m ^ 2n, n, proof, r1, r2],
      "size2 * 2": [m, n * 2n, proof, r1, r2],
      "size2 / 2": [m, n / 2n, proof, r1, r2],
      "wrong root1": [m, n, proof, wrong, r2],
      "wrong root2": [m, n, proof, r1, wrong],
      "swapped roots": [m, n, proof, r2, r1],
      "empty proof": [m, n, [], r1, r2],
      "trailing garbage": [m, n, [...proof, new Uint8Array()], r1, r2],
      "trailing root1": [m, n, [...proof, r1], r1, r2],
      "trailing root2": [m, n, [...proof, r2], r1, r2],
      "preceding garbage": [m, n, [new Uint8Array(), ...proof], r1, r2],
      "preceding root1": [m, n, [r1, ...proof], r1, r2],
      "preceding root2": [m, n, [r2, ...proof], r1, r2],
      "preceding proof[0]": [m, n, [proof[0], ...proof], r1, r2],
      "truncated proof": [m, n, proof.slice(0, -1), r1, r2],
    };
    proof.forEach((p, k) => {
      corrupt[`modified proof[${k}] bit 4`] = [m, n, proof.map((q, j) => (j === k ? flip(q, 16) : q)), r1, r2];
    });
    for (const [name, args] of Object.entries(corrupt)) {
      assert.throws(() => verifyConsistency(...args), ProofError, `accepted ${name}`);
    }
  });
}

test("sizes beyond 2**53 are exact (BigInt), not rounded", () => {
  const big = 2n ** 63n + 1n;
  assert.throws(() => verifyInclusion(LEAVES[0], big, big, [], ROOTS[0]), /expected leaf index < 9223372036854775809, got 9223372036854775809/);
  assert.throws(() => rootFromInclusionProof(LEAVES[0], big - 1n, big, []), /too short/);
});
