// RFC 9162 Merkle tree hashing and proof verification (section 2.1), as
// evledger_verify/merkle.py. Pure: bytes in, bytes out. Sizes and indices are BigInt (a tree
// may hold up to 2**64 leaves; JavaScript's bit operators stop at 32 bits).

import { sha256 } from "@noble/hashes/sha2.js";
import { ProofError } from "./errors.js";
import { concat, equal, toHex } from "./bytes.js";

export const HASH_SIZE = 32;
/** Proofs longer than this cannot belong to a tree of at most 2**64 leaves. */
export const MAX_PROOF_LENGTH = 2 * 64;

/** MTH({d(0)}) = SHA-256(0x00 || d(0)). */
export function leafHash(entry) {
  return sha256(concat(Uint8Array.of(0), entry));
}

/** SHA-256(0x01 || left || right). */
export function nodeHash(left, right) {
  return sha256(concat(Uint8Array.of(1), left, right));
}

function checkHashes(what, hashes) {
  if (hashes.length > MAX_PROOF_LENGTH) {
    throw new ProofError(`${what}: expected at most ${MAX_PROOF_LENGTH} hashes, got ${hashes.length}`);
  }
  hashes.forEach((h, i) => {
    if (h.length !== HASH_SIZE) {
      throw new ProofError(`${what}: element ${i} expected ${HASH_SIZE} bytes, got ${h.length}`);
    }
  });
}

/** RFC 9162 section 2.1.3.2: the root implied by ``leaf`` at ``index`` and ``proof``. */
export function rootFromInclusionProof(leaf, index, treeSize, proof) {
  index = BigInt(index);
  treeSize = BigInt(treeSize);
  if (treeSize < 1n) {
    throw new ProofError(`inclusion proof: expected tree size >= 1, got ${treeSize}`);
  }
  if (index < 0n || index >= treeSize) {
    throw new ProofError(`inclusion proof: expected leaf index < ${treeSize}, got ${index}`);
  }
  if (leaf.length !== HASH_SIZE) {
    throw new ProofError(
      `inclusion proof: leaf hash expected ${HASH_SIZE} bytes, got ${leaf.length}`,
    );
  }
  checkHashes("inclusion proof", proof);
  let fn = index;
  let sn = treeSize - 1n;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0n) throw new ProofError("inclusion proof: too long for this leaf index and tree size");
    if ((fn & 1n) === 1n || fn === sn) {
      r = nodeHash(p, r);
      if ((fn & 1n) === 0n) {
        while ((fn & 1n) === 0n && fn !== 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  if (sn !== 0n) throw new ProofError("inclusion proof: too short for this leaf index and tree size");
  return r;
}

/** Throw ProofError unless ``proof`` shows ``leaf`` at ``index`` under ``root``. */
export function verifyInclusion(leaf, index, treeSize, proof, root) {
  const computed = rootFromInclusionProof(leaf, index, treeSize, proof);
  if (!equal(computed, root)) {
    throw new ProofError(
      `inclusion proof: expected root ${toHex(root)}, proof gives ${toHex(computed)}`,
    );
  }
}

/** RFC 9162 section 2.1.4.2: the tree of ``secondSize`` extends the one of ``firstSize``. */
export function verifyConsistency(firstSize, secondSize, proof, firstRoot, secondRoot) {
  firstSize = BigInt(firstSize);
  secondSize = BigInt(secondSize);
  checkHashes("consistency proof", proof);
  if (firstSize < 0n || secondSize < firstSize) {
    throw new ProofError(
      `consistency proof: expected 0 <= first <= second, got ${firstSize}, ${secondSize}`,
    );
  }
  if (firstSize === secondSize) {
    if (proof.length) throw new ProofError("consistency proof: expected an empty proof for equal sizes");
    if (!equal(firstRoot, secondRoot)) {
      throw new ProofError(
        `consistency proof: same size ${firstSize} but roots differ: ` +
          `${toHex(firstRoot)} vs ${toHex(secondRoot)}`,
      );
    }
    return;
  }
  if (firstSize === 0n) {
    if (proof.length) {
      throw new ProofError("consistency proof: expected an empty proof from the empty tree");
    }
    return;
  }
  if (!proof.length) throw new ProofError("consistency proof: empty, expected at least one hash");
  const path = [...proof];
  // If firstSize is an exact power of two, the first subtree hash is the old root itself.
  if ((firstSize & (firstSize - 1n)) === 0n) path.unshift(firstRoot);
  let fn = firstSize - 1n;
  let sn = secondSize - 1n;
  while ((fn & 1n) === 1n) {
    fn >>= 1n;
    sn >>= 1n;
  }
  let fr = path[0];
  let sr = path[0];
  for (const c of path.slice(1)) {
    if (sn === 0n) throw new ProofError("consistency proof: too long for these sizes");
    if ((fn & 1n) === 1n || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      if ((fn & 1n) === 0n) {
        while ((fn & 1n) === 0n && fn !== 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  if (sn !== 0n) throw new ProofError("consistency proof: too short for these sizes");
  if (!equal(fr, firstRoot)) {
    throw new ProofError(
      `consistency proof: expected first root ${toHex(firstRoot)}, proof gives ${toHex(fr)}`,
    );
  }
  if (!equal(sr, secondRoot)) {
    throw new ProofError(
      `consistency proof: expected second root ${toHex(secondRoot)}, proof gives ${toHex(sr)}`,
    );
  }
}

/**
 * The root of the tree of ``treeSize`` from the leaf hashes at some indices (a Map of BigInt
 * index -> hash) and the subtree hashes for the rest, in depth-first order (one per largest
 * subtree holding none of the leaves), as evledger_verify.merkle.root_from_multiproof: the
 * proof an evidence bundle carries for all its records at once.
 */
export function rootFromMultiproof(leaves, treeSize, proof) {
  checkHashes("multiproof", proof);
  treeSize = BigInt(treeSize);
  const indices = [...leaves.keys()].map(BigInt).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  if (!indices.length || indices[0] < 0n || indices[indices.length - 1] >= treeSize) {
    throw new ProofError(`multiproof: expected leaves within 0..${treeSize - 1n}`);
  }
  const byIndex = new Map([...leaves].map(([k, v]) => [BigInt(k), v]));
  let next = 0;
  // The first index at or after ``lo`` (indices are sorted): a binary search.
  const firstFrom = (lo) => {
    let a = 0;
    let b = indices.length;
    while (a < b) {
      const mid = (a + b) >> 1;
      if (indices[mid] < lo) a = mid + 1;
      else b = mid;
    }
    return a;
  };
  const walk = (lo, hi) => {
    const i = firstFrom(lo);
    if (i === indices.length || indices[i] >= hi) {
      if (next >= proof.length) throw new ProofError("multiproof: too short for these leaves and tree size");
      return proof[next++];
    }
    if (hi - lo === 1n) return byIndex.get(lo);
    let k = 1n;
    while (k * 2n < hi - lo) k *= 2n;
    return nodeHash(walk(lo, lo + k), walk(lo + k, hi));
  };
  const root = walk(0n, treeSize);
  if (next < proof.length) throw new ProofError("multiproof: too long for these leaves and tree size");
  return root;
}
