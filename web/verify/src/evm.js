// An anchor proven offline, down to the block header, as evledger_verify/evm.py: the block
// header (RLP), the receipts trie (a Merkle-Patricia trie) and the Anchored event in the
// transaction's receipt. Decoding is @ethereumjs/rlp's (canonical encodings only), the trie
// walk @ethereumjs/mpt's; the checks around them (bounds, depth, header fields, the event) are
// the Python verifier's, message for message where they can be.

import { RLP } from "@ethereumjs/rlp";
import { MerklePatriciaTrie, updateMPTFromMerkleProof } from "@ethereumjs/mpt";
import { equal, fromHex, toHex, utf8 } from "./bytes.js";
import { VerificationError } from "./errors.js";
import { keccak256 } from "./records.js";

export const ANCHORED_TOPIC = keccak256(utf8("Anchored(uint64,bytes32,uint64,bytes32)"));
export const MAX_PROOF_NODES = 64;
export const MAX_NODE_BYTES = 64 * 1024;
export const MAX_RLP_DEPTH = 16;

/** An anchor proof does not hold (malformed, or proving something else). */
export class ProofInvalid extends VerificationError {}

/** One RLP item spanning ``data`` exactly; non-canonical encodings and nesting deeper than
 * MAX_RLP_DEPTH are refused. */
export function rlpDecode(data) {
  if (!data.length) throw new ProofInvalid("rlp: truncated");
  let item;
  try {
    item = RLP.decode(data);
  } catch (err) {
    throw new ProofInvalid(`rlp: ${err.message.replace(/^invalid RLP( encoding)?: /, "")}`);
  }
  checkDepth(item, 0);
  return item;
}

function checkDepth(item, depth) {
  if (depth > MAX_RLP_DEPTH) throw new ProofInvalid("rlp: nested too deep");
  if (Array.isArray(item)) for (const x of item) checkDepth(x, depth + 1);
}

function bytesOf(item, what) {
  if (Array.isArray(item)) throw new ProofInvalid(`${what}: expected a string, got a list`);
  return item;
}

function uintOf(item, what) {
  const raw = bytesOf(item, what);
  if (raw.length && raw[0] === 0) throw new ProofInvalid(`${what}: integer with a leading zero`);
  return raw.length ? BigInt("0x" + toHex(raw)) : 0n;
}

/** RLP of a non-negative integer (the receipts trie's key for a transaction index). */
export function rlpEncodeUint(value) {
  return RLP.encode(BigInt(value));
}

/** The fields an anchor proof needs from an RLP block header, and its hash. */
export function decodeHeader(headerRlp) {
  const item = rlpDecode(headerRlp);
  if (!Array.isArray(item) || item.length < 15) {
    throw new ProofInvalid("block header: expected an RLP list of at least 15 fields");
  }
  const receiptsRoot = bytesOf(item[5], "block header receiptsRoot");
  if (receiptsRoot.length !== 32) throw new ProofInvalid("block header receiptsRoot: expected 32 bytes");
  return {
    hash: keccak256(headerRlp),
    number: uintOf(item[8], "block header number"),
    receiptsRoot,
  };
}

/** The value stored under ``key`` in the trie whose root hash is ``root``, proven by ``proof``
 * (RLP nodes, in any order). Throws ProofInvalid when the proof does not lead there or shows
 * the key absent. */
export async function trieGet(root, key, proof) {
  if (proof.length > MAX_PROOF_NODES) {
    throw new ProofInvalid(`trie proof: more than ${MAX_PROOF_NODES} nodes`);
  }
  for (const raw of proof) {
    if (raw.length > MAX_NODE_BYTES) {
      throw new ProofInvalid(`trie proof: a node larger than ${MAX_NODE_BYTES} bytes`);
    }
  }
  if (!proof.some((raw) => equal(keccak256(raw), root))) {
    throw new ProofInvalid(`trie proof: no node with hash ${toHex(root)}`);
  }
  const trie = new MerklePatriciaTrie({ root });
  let value;
  try {
    await updateMPTFromMerkleProof(trie, proof, false);
    trie.root(root);
    value = await trie.get(key, true);
  } catch (err) {
    throw new ProofInvalid(`trie proof: does not lead to the key (${err.message})`);
  }
  if (value === null) throw new ProofInvalid("trie proof: the key is absent");
  return value;
}

/** (succeeded, logs) of a consensus-encoded receipt (typed: type byte + RLP). */
export function decodeReceipt(encoded) {
  if (!encoded.length) throw new ProofInvalid("receipt: empty");
  const body = encoded[0] < 0x7f ? encoded.subarray(1) : encoded;
  const item = rlpDecode(body);
  if (!Array.isArray(item) || item.length !== 4) {
    throw new ProofInvalid("receipt: expected [status, gas, bloom, logs]");
  }
  const status = bytesOf(item[0], "receipt status");
  const logsItem = item[3];
  if (!Array.isArray(logsItem)) throw new ProofInvalid("receipt logs: expected a list");
  const logs = logsItem.map((entry) => {
    if (!Array.isArray(entry) || entry.length !== 3 || !Array.isArray(entry[1])) {
      throw new ProofInvalid("receipt log: expected [address, topics, data]");
    }
    return {
      address: bytesOf(entry[0], "log address"),
      topics: entry[1].map((t) => bytesOf(t, "log topic")),
      data: bytesOf(entry[2], "log data"),
    };
  });
  return [status.length === 1 && status[0] === 1, logs];
}

function uint256(value) {
  return fromHex(BigInt(value).toString(16).padStart(64, "0"));
}

/** Throw ProofInvalid unless the block ``blockHash`` (number ``blockNumber``) holds, at
 * ``proof.txIndex``, a successful transaction whose receipt has the event
 * Anchored(treeSize, rootHash, ...) from ``contract``. Returns a description. */
export async function verifyAnchorProof(proof, { blockHash, blockNumber, contract, treeSize, rootHash }) {
  const header = decodeHeader(proof.blockHeader);
  if (!equal(header.hash, blockHash)) {
    throw new ProofInvalid(
      `block header: hashes to ${toHex(header.hash)}, the anchor names block ${toHex(blockHash)}`,
    );
  }
  if (header.number !== BigInt(blockNumber)) {
    throw new ProofInvalid(
      `block header: number ${header.number}, the anchor names block ${blockNumber}`,
    );
  }
  const encoded = await trieGet(header.receiptsRoot, rlpEncodeUint(proof.txIndex), proof.receiptProof);
  const [ok, logs] = decodeReceipt(encoded);
  if (!ok) throw new ProofInvalid(`receipt: transaction ${proof.txIndex} of the block reverted`);
  const address = fromHex(contract.slice(2).toLowerCase());
  const size = uint256(treeSize);
  for (const log of logs) {
    if (
      equal(log.address, address) &&
      log.topics.length >= 2 &&
      equal(log.topics[0], ANCHORED_TOPIC) &&
      equal(log.topics[1], size) &&
      equal(log.data.subarray(0, 32), rootHash)
    ) {
      return (
        `block ${blockNumber} ${toHex(blockHash).slice(0, 16)}... holds, at transaction ` +
        `${proof.txIndex}, Anchored(${treeSize}, ${toHex(rootHash).slice(0, 16)}...) from ${contract}`
      );
    }
  }
  throw new ProofInvalid(
    `receipt: transaction ${proof.txIndex} has no Anchored(${treeSize}, ${toHex(rootHash)}) ` +
      `from ${contract}`,
  );
}
