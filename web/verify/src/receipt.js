// Receipts and trust files: strict parsing and the offline receipt checks, as
// evledger_verify/receipt.py (the reference: same checks, same names, same verdicts).
//
// A receipt (evledger-receipt/1) proves that one record is in the log under a signed checkpoint
// that was anchored on chain. A trust file (evledger-trust/1) is what the visitor pins: the
// log's origin and public key, the primary chain id and contract (the EIP-712 signing domain),
// every chain whose anchors count (chains) and which of them must hold an anchor (require).
// A key carried inside a receipt is never trusted.
//
// Values come from strictjson.loads: integers are BigInt. Chain ids are kept as BigInt and
// used as Map keys through String().

import { fromHex, toHex } from "./bytes.js";
import { NoteVerifier, verifyCheckpoint } from "./checkpoint.js";
import {
  CannotCheckError,
  FormatError,
  VerificationError,
  VerifyError,
  pyRepr,
  pyType,
} from "./errors.js";
import { MAX_NODE_BYTES, MAX_PROOF_NODES, verifyAnchorProof } from "./evm.js";
import { MAX_PROOF_LENGTH, verifyConsistency, verifyInclusion } from "./merkle.js";
import { Entry, checksumAddress, recordHash } from "./records.js";
import { signerFromJson, verifySigner } from "./signer.js";

export const RECEIPT_FORMAT = "evledger-receipt/1";
export const TRUST_FORMAT = "evledger-trust/1";
export const MAX_RECEIPT_BYTES = 256 * 1024;
export const MAX_CHAINS = 16;
export const MAX_PINNED_BLOCKS = 100_000;
const HEX = /^(?:[0-9a-f]{2})*$/;
const HEX32 = /^[0-9a-f]{64}$/;
const HEX32_0X = /^0x[0-9a-f]{64}$/;
const ADDRESS = /^0x[0-9a-fA-F]{40}$/;

const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
const has = (obj, key) => Object.hasOwn(obj, key);

function field(obj, key, type, what) {
  if (!has(obj, key)) throw new FormatError(`${what}: missing key ${pyRepr(key)}`);
  const value = obj[key];
  if (pyType(value) !== type) throw new FormatError(`${what} ${key}: wrong type ${pyType(value)}`);
  return value;
}

function hex32(value, what) {
  if (!HEX32.test(value)) {
    throw new FormatError(`${what}: expected 64 lowercase hex digits, got ${pyRepr(value.slice(0, 70))}`);
  }
  return fromHex(value);
}

function int(value, what) {
  if (typeof value !== "bigint") {
    throw new FormatError(`${what}: expected an integer, got ${pyType(value)}`);
  }
  return value;
}

function chainList(ids) {
  ids = [...ids];
  return `chain${ids.length !== 1 ? "s" : ""} ${ids.join(", ")}`;
}

// -- trust file ----------------------------------------------------------------------------

export class Trust {
  constructor({ logOrigin, logKey, chainId, contract, chains = [], require = [], blocks = new Map() }) {
    this.logOrigin = logOrigin;
    this.logKey = logKey;
    /** The primary chain and contract: the EIP-712 signing domain of every record. */
    this.chainId = chainId;
    this.contract = contract;
    /** Every chain whose anchors count, the primary among them; empty: the primary alone. */
    this.chains = chains;
    /** "any", "all", or the chain ids that must each hold an anchor; empty: the primary. */
    this.require = require;
    /** Pinned block hashes by "chain:number". */
    this.blocks = blocks;
  }

  get domain() {
    return { chainId: this.chainId, contract: this.contract };
  }

  /** Map of chain id (string) -> trusted contract, in the trust file's order. */
  get contracts() {
    const chains = this.chains.length ? this.chains : [{ chainId: this.chainId, contract: this.contract }];
    return new Map(chains.map((c) => [String(c.chainId), c.contract]));
  }

  /** The chains (strings) that must each hold an anchor; null when any trusted one will do. */
  get required() {
    if (this.require === "any") return null;
    if (this.require === "all") return [...this.contracts.keys()];
    return this.require.length ? this.require.map(String) : [String(this.chainId)];
  }

  get requireText() {
    return typeof this.require === "string" ? this.require : chainList(this.required);
  }

  /** Throw unless the block is the one pinned, when it is pinned; says which. */
  checkBlock(chainId, number, blockHash) {
    const pinned = this.blocks.get(`${chainId}:${number}`);
    if (pinned === undefined) return "";
    if (pinned !== blockHash.toLowerCase()) {
      throw new VerificationError(
        `anchor block: the trust file pins block ${number} of chain ${chainId} as ` +
          `${pinned}, the anchor names ${blockHash}`,
      );
    }
    return "; the block hash is the one the trust file pins";
  }

  static fromJson(value) {
    if (!isObject(value)) throw new FormatError("trust file: expected a JSON object");
    if (value.format !== TRUST_FORMAT) {
      throw new FormatError(
        `trust file format: expected ${pyRepr(TRUST_FORMAT)}, got ${pyRepr(value.format)}`,
      );
    }
    const logOrigin = field(value, "log_origin", "str", "trust file");
    const logKey = NoteVerifier.parse(field(value, "log_public_key", "str", "trust file"));
    const chainId = field(value, "chain_id", "int", "trust file");
    const contract = field(value, "contract", "str", "trust file");
    if (!ADDRESS.test(contract)) {
      throw new FormatError(`trust file contract: expected an address, got ${pyRepr(contract)}`);
    }
    const primary = { chainId, contract: checksumAddress(contract) };
    const chains = has(value, "chains") ? trustedChains(value.chains, primary) : [];
    const req = has(value, "require") ? requirement(value.require, chains.length ? chains : [primary]) : [];
    const blocks = has(value, "blocks") ? pinnedBlocks(value.blocks) : new Map();
    return new Trust({
      logOrigin, logKey, chainId, contract: primary.contract, chains, require: req, blocks,
    });
  }
}

function pinnedBlocks(value) {
  if (!Array.isArray(value) || value.length > MAX_PINNED_BLOCKS) {
    throw new FormatError(`trust file blocks: expected a list of at most ${MAX_PINNED_BLOCKS}`);
  }
  const pinned = new Map();
  value.forEach((item, i) => {
    const what = `trust file blocks[${i}]`;
    const keys = isObject(item) ? Object.keys(item).sort() : [];
    if (keys.join(",") !== "chain_id,hash,number") {
      throw new FormatError(`${what}: expected the keys chain_id, number and hash`);
    }
    const chainId = int(item.chain_id, `${what} chain_id`);
    const number = int(item.number, `${what} number`);
    const hash = item.hash;
    if (typeof hash !== "string" || !HEX32_0X.test(hash.toLowerCase())) {
      throw new FormatError(`${what} hash: expected 0x and 64 hex digits`);
    }
    const key = `${chainId}:${number}`;
    if (!pinned.has(key)) pinned.set(key, hash.toLowerCase());
    if (pinned.get(key) !== hash.toLowerCase()) {
      throw new FormatError(`${what}: block ${number} of chain ${chainId} pinned twice`);
    }
  });
  return pinned;
}

function trustedChains(value, primary) {
  if (!Array.isArray(value)) {
    throw new FormatError(`trust file chains: expected a list, got ${pyType(value)}`);
  }
  if (value.length > MAX_CHAINS) {
    throw new FormatError(`trust file chains: expected at most ${MAX_CHAINS}, got ${value.length}`);
  }
  const chains = new Map();
  value.forEach((item, i) => {
    const what = `trust file chains[${i}]`;
    if (!isObject(item)) throw new FormatError(`${what}: expected a JSON object, got ${pyType(item)}`);
    const keys = Object.keys(item).sort();
    if (keys.join(",") !== "chain_id,contract") {
      throw new FormatError(`${what}: expected the keys chain_id and contract, got ${pyRepr(keys)}`);
    }
    const chainId = int(item.chain_id, `${what} chain_id`);
    if (chainId < 1n) {
      throw new FormatError(`${what} chain_id: expected a positive integer, got ${chainId}`);
    }
    const contract = item.contract;
    if (typeof contract !== "string" || !ADDRESS.test(contract)) {
      throw new FormatError(`${what} contract: expected an address, got ${pyRepr(contract)}`);
    }
    if (chains.has(String(chainId))) {
      throw new FormatError(`trust file chains: chain ${chainId} is listed twice`);
    }
    chains.set(String(chainId), { chainId, contract: checksumAddress(contract) });
  });
  const listed = chains.get(String(primary.chainId));
  if (listed === undefined) {
    throw new FormatError(
      `trust file chains: expected the primary chain ${primary.chainId} among them, ` +
        `got ${chains.size ? chainList(chains.keys()) : "none"}`,
    );
  }
  if (listed.contract !== primary.contract) {
    throw new FormatError(
      `trust file chains: expected the primary chain ${primary.chainId} with contract ` +
        `${primary.contract}, got ${listed.contract}`,
    );
  }
  return [...chains.values()];
}

function requirement(value, chains) {
  if (value === "any" || value === "all") return value;
  if (!Array.isArray(value)) {
    throw new FormatError(
      `trust file require: expected 'any', 'all' or a list of chain ids, got ${pyRepr(value)}`,
    );
  }
  if (!value.length) throw new FormatError("trust file require: expected at least one chain id, got none");
  if (value.length > MAX_CHAINS) {
    throw new FormatError(`trust file require: expected at most ${MAX_CHAINS}, got ${value.length}`);
  }
  const trusted = chains.map((c) => String(c.chainId));
  const ids = [];
  value.forEach((item, i) => {
    const chainId = int(item, `trust file require[${i}]`);
    if (ids.includes(chainId)) throw new FormatError(`trust file require: chain ${chainId} is listed twice`);
    if (!trusted.includes(String(chainId))) {
      throw new FormatError(
        `trust file require: expected a chain named in chains (${trusted.join(", ")}), got ${chainId}`,
      );
    }
    ids.push(chainId);
  });
  return ids;
}

// -- receipt -------------------------------------------------------------------------------

function hexBytes(value, what, limit) {
  if (typeof value !== "string" || value.length > 2 * limit || !HEX.test(value)) {
    throw new FormatError(`${what}: expected lowercase hex of at most ${limit} bytes`);
  }
  return fromHex(value);
}

function anchorProof(value, what) {
  if (!isObject(value)) throw new FormatError(`${what}: expected a JSON object`);
  const nodes = field(value, "receipt_proof", "list", what);
  if (nodes.length > MAX_PROOF_NODES) {
    throw new FormatError(`${what} receipt_proof: expected at most ${MAX_PROOF_NODES} nodes`);
  }
  const txIndex = field(value, "tx_index", "int", what);
  if (txIndex < 0n || txIndex >= 2n ** 32n) {
    throw new FormatError(`${what} tx_index: expected 0..2**32-1, got a number out of range`);
  }
  return {
    blockHeader: hexBytes(field(value, "block_header", "str", what), `${what} block_header`, 4096),
    txIndex,
    receiptProof: nodes.map((n, i) => hexBytes(n, `${what} receipt_proof[${i}]`, MAX_NODE_BYTES)),
  };
}

export function anchorFromJson(value, what = "anchor") {
  if (!isObject(value)) throw new FormatError(`${what}: expected a JSON object`);
  const a = {
    chainId: field(value, "chain_id", "int", what),
    contract: field(value, "contract", "str", what),
    txHash: field(value, "tx_hash", "str", what),
    blockNumber: field(value, "block_number", "int", what),
    blockHash: field(value, "block_hash", "str", what),
    logIndex: field(value, "log_index", "int", what),
    state: value.state === "included" || value.state === "final" ? value.state : null,
    proof: null,
  };
  if (has(value, "state") && a.state === null) {
    throw new FormatError(`${what} state: expected included or final, got ${pyRepr(value.state)}`);
  }
  if (value.proof !== undefined && value.proof !== null) a.proof = anchorProof(value.proof, `${what} proof`);
  if (!ADDRESS.test(a.contract)) {
    throw new FormatError(`${what} contract: expected an address, got ${pyRepr(a.contract)}`);
  }
  for (const [key, name] of [["txHash", "tx_hash"], ["blockHash", "block_hash"]]) {
    if (!HEX32_0X.test(a[key])) {
      throw new FormatError(`${what} ${name}: expected 0x and 64 lowercase hex digits`);
    }
  }
  return a;
}

function sameAnchor(a, b) {
  const proofKey = (p) =>
    p === null ? "" : [toHex(p.blockHeader), p.txIndex, ...p.receiptProof.map(toHex)].join("/");
  return (
    a.chainId === b.chainId && a.contract === b.contract && a.txHash === b.txHash &&
    a.blockNumber === b.blockNumber && a.blockHash === b.blockHash && a.logIndex === b.logIndex &&
    a.state === b.state && proofKey(a.proof) === proofKey(b.proof)
  );
}

export function chainAnchorFromJson(value, what) {
  const anchor = anchorFromJson(value, what);
  const treeSize = field(value, "tree_size", "int", what);
  if (treeSize < 1n) throw new FormatError(`${what} tree_size: expected at least 1, got ${treeSize}`);
  const rootHash = hex32(field(value, "root_hash", "str", what), `${what} root_hash`);
  const proof = field(value, "consistency_proof", "list", what);
  if (proof.length > MAX_PROOF_LENGTH) {
    throw new FormatError(
      `${what} consistency_proof: expected at most ${MAX_PROOF_LENGTH} hashes, got ${proof.length}`,
    );
  }
  const hashes = proof.map((p, i) =>
    hex32(typeof p === "string" ? p : "", `${what} consistency_proof[${i}]`),
  );
  return { anchor, chainId: anchor.chainId, treeSize, rootHash, consistencyProof: hashes };
}

/** A receipt, parsed strictly (FormatError saying what is wrong). */
export function receiptFromJson(value) {
  const what = "receipt";
  if (!isObject(value)) throw new FormatError("receipt: expected a JSON object");
  if (value.format !== RECEIPT_FORMAT) {
    throw new FormatError(
      `receipt format: expected ${pyRepr(RECEIPT_FORMAT)}, got ${pyRepr(value.format)}`,
    );
  }
  const proof = field(value, "inclusion_proof", "list", what);
  if (proof.length > MAX_PROOF_LENGTH) {
    throw new FormatError(`receipt inclusion_proof: more than ${MAX_PROOF_LENGTH} hashes`);
  }
  const anchorJson = value.anchor;
  const treeSize = field(value, "tree_size", "int", what);
  const rootHash = hex32(field(value, "root_hash", "str", what), "receipt root_hash");
  const anchor = anchorJson === undefined || anchorJson === null ? null : anchorFromJson(anchorJson);
  const r = {
    recordId: field(value, "record_id", "str", what),
    recordHash: hex32(field(value, "record_hash", "str", what), "receipt record_hash"),
    entry: Entry.fromJson(field(value, "entry", "dict", what)),
    leafHash: hex32(field(value, "leaf_hash", "str", what), "receipt leaf_hash"),
    leafIndex: field(value, "leaf_index", "int", what),
    treeSize,
    rootHash,
    inclusionProof: proof.map((p, i) =>
      hex32(typeof p === "string" ? p : "", `receipt inclusion_proof[${i}]`),
    ),
    checkpoint: field(value, "checkpoint", "str", what),
    anchor,
  };
  r.anchors = chainAnchors(value, anchor, treeSize, rootHash);
  r.signer = value.signer === undefined || value.signer === null ? null : signerFromJson(value.signer);
  return r;
}

function chainAnchors(value, anchor, treeSize, rootHash) {
  if (!has(value, "anchors")) {
    return anchor === null ? [] : [{ anchor, chainId: anchor.chainId, treeSize, rootHash, consistencyProof: [] }];
  }
  const items = field(value, "anchors", "list", "receipt");
  if (items.length > MAX_CHAINS) {
    throw new FormatError(
      `receipt anchors: expected at most ${MAX_CHAINS} (one per chain), got ${items.length}`,
    );
  }
  const anchors = items.map((item, i) => chainAnchorFromJson(item, `receipt anchors[${i}]`));
  const seen = new Set();
  for (const a of anchors) {
    if (seen.has(String(a.chainId))) {
      throw new FormatError(
        `receipt anchors: expected one anchor per chain, chain ${a.chainId} has two`,
      );
    }
    seen.add(String(a.chainId));
  }
  // ``anchor`` is what a verifier that knows one chain reads: it must say what anchors says.
  if (anchor !== null && !anchors.some((a) => sameAnchor(a.anchor, anchor) && a.treeSize === treeSize)) {
    throw new FormatError(
      `receipt anchor: expected one of anchors at the receipt's tree size ${treeSize}, ` +
        `got chain ${anchor.chainId} tx ${anchor.txHash} block ${anchor.blockNumber} ` +
        `log ${anchor.logIndex} (${anchor.state || "state not stated"}), which anchors ` +
        "does not hold",
    );
  }
  return anchors;
}

// -- report --------------------------------------------------------------------------------

/** The outcome of every check; ``ok`` only when every check passed (fail closed). */
export class Report {
  constructor(subject) {
    this.subject = subject;
    this.checks = [];
    /** Why the checks stopped short (node unreachable, ...): "could not check". */
    this.couldNotCheck = null;
  }

  get ok() {
    return this.couldNotCheck === null && this.checks.length > 0 && this.checks.every((c) => c.ok);
  }

  /** Run one check; a VerificationError becomes a failed check. */
  async run(name, fn, clause = "") {
    let detail;
    try {
      detail = await fn();
    } catch (err) {
      if (err instanceof VerificationError) {
        this.checks.push({ name, ok: false, detail: err.message, clause });
        return false;
      }
      throw err;
    }
    this.checks.push({ name, ok: true, detail, clause });
    return true;
  }

  fail(name, detail, clause = "") {
    this.checks.push({ name, ok: false, detail, clause });
  }

  toJson() {
    return {
      subject: this.subject,
      verified: this.ok,
      could_not_check: this.couldNotCheck,
      checks: this.checks.map((c) => ({
        check: c.name,
        ok: c.ok,
        detail: c.detail,
        ...(c.clause ? { clause: c.clause } : {}),
      })),
    };
  }
}

/** Which chains' anchors count toward the trust file's ``require`` (pure bookkeeping). */
export class AnchorTally {
  constructor(trust, requireFinal, anchored) {
    this.trust = trust;
    this.requireFinal = requireFinal;
    this.anchored = anchored;
    this.present = new Map();
    this.passed = new Map();
    this.confirmed = new Set();
    this.refuted = new Set();
    /** [{name, chainId (string or null), kind, error}] */
    this.unsettled = [];
  }

  counted({ optimistic = false } = {}) {
    const counted = new Map([...this.passed].filter(([c]) => !this.refuted.has(c)));
    if (optimistic) return counted;
    if (this.unsettled.some((n) => n.chainId === null)) {
      return new Map([...counted].filter(([c]) => this.confirmed.has(c)));
    }
    const skip = new Set(this.unsettled.map((n) => n.chainId).filter((c) => !this.confirmed.has(c)));
    return new Map([...counted].filter(([c]) => !skip.has(c)));
  }

  whyNot(chain) {
    if (!this.present.has(chain)) return `chain ${chain} has no anchor in this receipt`;
    if (!this.passed.has(chain)) return `chain ${chain}'s anchor failed its checks`;
    if (this.refuted.has(chain)) return `chain ${chain}'s anchor failed on chain`;
    return `chain ${chain}'s anchor could not be checked on chain`;
  }

  shortfall(counted) {
    const trust = this.trust;
    const required = trust.required;
    const need = `(require: ${trust.requireText})`;
    if (!this.anchored) return `missing: the checkpoint is not (yet) anchored ${need}`;
    if (required === null) {
      if (!counted.size) {
        const why = [...trust.contracts.keys()].map((c) => this.whyNot(c)).join("; ");
        return `no anchor on a trusted chain holds: ${why} ${need}`;
      }
      const final = [...counted].filter(([, a]) => a.anchor.state === "final");
      if (this.requireFinal && !final.length) {
        const states = [...counted]
          .map(([c, a]) => `chain ${c} ${a.anchor.state || "state not stated"}`)
          .join(", ");
        return (
          `expected a final anchor (--require-final), got ${states}: the block may ` +
          `still be reorganized away; ask for the receipt again later ${need}`
        );
      }
      return null;
    }
    const missing = required.filter((c) => !counted.has(c));
    if (missing.length) return missing.map((c) => this.whyNot(c)).join("; ") + ` ${need}`;
    if (this.requireFinal) {
      const notFinal = required
        .filter((c) => counted.get(c).anchor.state !== "final")
        .map((c) => `chain ${c} ${counted.get(c).anchor.state || "state not stated"}`);
      if (notFinal.length) {
        return (
          `expected final anchors (--require-final), got ${notFinal.join(", ")}: the ` +
          `block may still be reorganized away; ask for the receipt again later ${need}`
        );
      }
    }
    return null;
  }

  describe(counted) {
    return [...counted]
      .map(([c, a]) => {
        const how = this.confirmed.has(c) ? "confirmed on chain" : "offline only";
        return `chain ${c} (${how}, ${a.anchor.state || "state not stated"})`;
      })
      .join(", ");
  }

  /** The last step: nodes that could not check, then the ``anchors required`` check. */
  async settle(report) {
    let counted = this.counted();
    if (this.unsettled.length) {
      if (this.shortfall(counted) === null) {
        const met = [...counted.keys()].join(", ");
        for (const node of this.unsettled) {
          report.checks.push({
            name: node.name,
            ok: true,
            detail: `${node.kind} (${node.error}), not needed: the requirement is met on chain(s) ${met}`,
          });
        }
      } else {
        report.couldNotCheck = this.unsettled.map((n) => n.error).join("; ");
        counted = this.counted({ optimistic: true });
        if (this.shortfall(counted) === null) return;
      }
    }
    await report.run("anchors required", () => {
      const gap = this.shortfall(counted);
      if (gap !== null) throw new VerificationError(`anchors required: ${gap}`);
      return `met by ${this.describe(counted)} (require: ${this.trust.requireText})`;
    });
  }
}

// -- the checks ----------------------------------------------------------------------------

/** Run every offline check of a receipt (a strictjson value) against a Trust; returns
 * {report, receipt}. ``record`` (a strictjson object) is optional. ``onChain(receipt, tally,
 * report)``, when given, runs before the requirement is judged (see rpc.js). */
export async function verifyReceipt(receiptJson, trust, record = null, opts = {}) {
  const { requireFinal = false, onChain = null } = opts;
  const report = new Report("receipt");
  let r = null;
  const parsed = await report.run("format", () => {
    r = receiptFromJson(receiptJson);
    return `${RECEIPT_FORMAT}, record ${pyRepr(r.recordId)}`;
  });
  if (!parsed) return { report, receipt: null };
  report.subject = `receipt for record ${pyRepr(r.recordId)}`;

  await report.run("record", () => {
    if (record === null) return "no record supplied: only the record hash in the receipt is proven";
    const actual = recordHash(record);
    if (toHex(actual) !== toHex(r.recordHash)) {
      throw new VerificationError(
        `record hash: expected ${toHex(r.recordHash)} (receipt), ` +
          `the record file hashes to ${toHex(actual)}`,
      );
    }
    if (record.record_id !== r.recordId) {
      throw new VerificationError(
        `record id: expected ${pyRepr(r.recordId)}, got ${pyRepr(record.record_id)}`,
      );
    }
    return `record hashes to ${toHex(actual)}`;
  });
  await report.run("leaf", () => {
    if (r.entry.record_hash !== toHex(r.recordHash) || r.entry.record_id !== r.recordId) {
      throw new VerificationError("leaf: the logged entry is for another record");
    }
    const computed = r.entry.leafHash();
    if (toHex(computed) !== toHex(r.leafHash)) {
      throw new VerificationError(
        `leaf hash: expected ${toHex(r.leafHash)}, entry hashes to ${toHex(computed)}`,
      );
    }
    return `leaf ${r.leafIndex} hash ${toHex(computed)}`;
  });
  if (trust === null) {
    // Without a trusted key nothing below can be judged; a receipt's own key is never trusted.
    await report.run("inclusion", () => {
      verifyInclusion(r.leafHash, r.leafIndex, r.treeSize, r.inclusionProof, r.rootHash);
      return `leaf ${r.leafIndex} is in the tree of size ${r.treeSize}`;
    });
    const why = "not checked: no trust file (pin one, or use the one the ledger publishes)";
    for (const name of ["signature", "signer", "checkpoint", "anchors required"]) {
      report.checks.push({ name, ok: false, unchecked: true, detail: why });
    }
    report.couldNotCheck = "no trust file: the log key, chain and contract are unknown";
    return { report, receipt: r };
  }
  await report.run("signature", () => {
    r.entry.verifySignature(trust.domain);
    return `signed by ${r.entry.signer} (${r.entry.meaning}) at unix time ${r.entry.signed_at}`;
  });
  await report.run("inclusion", () => {
    verifyInclusion(r.leafHash, r.leafIndex, r.treeSize, r.inclusionProof, r.rootHash);
    return `leaf ${r.leafIndex} is in the tree of size ${r.treeSize}`;
  });
  await report.run("signer", () => {
    const { detail, signer } = verifySigner(r, trust.domain);
    report.signer = signer;
    return detail;
  });
  await report.run("checkpoint", () => {
    const cp = verifyCheckpoint(r.checkpoint, trust.logKey, trust.logOrigin);
    if (cp.treeSize !== r.treeSize || toHex(cp.rootHash) !== toHex(r.rootHash)) {
      throw new VerificationError(
        `checkpoint: expected size ${r.treeSize} root ${toHex(r.rootHash)}, ` +
          `checkpoint says size ${cp.treeSize} root ${toHex(cp.rootHash)}`,
      );
    }
    return `signed by the trusted log key for ${trust.logOrigin}`;
  });
  const tally = new AnchorTally(trust, requireFinal, r.anchors.length > 0);
  const contracts = trust.contracts;
  for (const ca of r.anchors) {
    const chain = String(ca.chainId);
    if (contracts.has(chain)) tally.present.set(chain, ca);
    const ok = await report.run(`anchor (chain ${ca.chainId})`, () => checkAnchor(r, ca, trust));
    if (ok && contracts.has(chain)) tally.passed.set(chain, ca);
  }
  if (onChain !== null) await onChain(r, tally, report);
  await tally.settle(report);
  return { report, receipt: r };
}

async function checkAnchor(r, ca, trust) {
  const [detail, proven] = await checkChainAnchor(ca, trust, r.treeSize, r.rootHash, r.leafIndex, "receipt");
  if (!trust.contracts.has(String(ca.anchor.chainId))) return detail;
  const state = ca.anchor.state || "state not stated";
  if (proven) return `${detail}; ${state} (confirm the block is canonical with --rpc)`;
  return (
    `${detail}; claims tx ${ca.anchor.txHash} in block ${ca.anchor.blockNumber}, ${state} ` +
    "(confirm with --rpc)"
  );
}

/** One chain's anchor against the tree of ``treeSize`` with ``rootHash``, offline. Returns
 * [what holds, whether proven down to the block header]. */
export async function checkChainAnchor(ca, trust, treeSize, rootHash, lastLeaf, whose) {
  const a = ca.anchor;
  const contract = trust.contracts.get(String(a.chainId));
  if (contract === undefined) return [`chain ${a.chainId} is not in the trust file: not counted`, false];
  if (a.contract.toLowerCase() !== contract.toLowerCase()) {
    throw new VerificationError(
      `anchor contract: expected ${contract} on chain ${a.chainId}, got ${a.contract}`,
    );
  }
  if (ca.treeSize <= lastLeaf) {
    throw new VerificationError(
      `anchor tree size: expected more than leaf index ${lastLeaf} (the leaf must be ` +
        `in the anchored tree), got ${ca.treeSize}`,
    );
  }
  if (ca.treeSize <= treeSize) {
    verifyConsistency(ca.treeSize, treeSize, ca.consistencyProof, ca.rootHash, rootHash);
  } else {
    verifyConsistency(treeSize, ca.treeSize, ca.consistencyProof, rootHash, ca.rootHash);
  }
  let holds;
  if (ca.treeSize === treeSize) {
    holds = `the root of tree size ${ca.treeSize}`;
  } else {
    const relation = ca.treeSize < treeSize ? "an earlier" : "a later";
    const n = ca.consistencyProof.length;
    holds =
      `the root of tree size ${ca.treeSize}, ${relation} tree consistent with the ` +
      `${whose}'s (consistency proof of ${n} hash${n !== 1 ? "es" : ""})`;
  }
  const pinned = trust.checkBlock(a.chainId, a.blockNumber, a.blockHash);
  if (a.proof === null) return [holds + pinned, false];
  const proven = await verifyAnchorProof(a.proof, {
    blockHash: fromHex(a.blockHash.slice(2)),
    blockNumber: a.blockNumber,
    contract: a.contract,
    treeSize: ca.treeSize,
    rootHash: ca.rootHash,
  });
  return [`${holds}; proven offline down to the block header: ${proven}${pinned}`, true];
}

export { CannotCheckError, VerifyError };
