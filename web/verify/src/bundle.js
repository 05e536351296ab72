// Verifying an evidence bundle (evledger-bundle/1, from `evledger export`) in the browser, as
// evledger_verify/bundle.py does offline: the same checks, in the same order, with the same
// verdicts and (where the text is the verifier's own) the same details.
//
//   const report = await verifyBundle(zipBytes, trust, { name: "lot-L1.zip", progress });
//
// bundle (the zip read defensively: exactly the four members, each within its size limit and
// a sane compression ratio, nothing before the first member or after the end of the central
// directory, each member's CRC-32 and the SHA-256 the manifest lists), records (each hashes to
// its log entry), signatures (EIP-712, every record), authority and rules (the log replayed
// through the signer registry and the quality rules: ./judge/), checkpoint (the trusted log
// key), inclusion (one multiproof for all records), lot chains (no record of a lot missing),
// anchors (each chain's anchor, proven offline down to the block header), anchors required.

import { sha256 } from "@noble/hashes/sha2.js";
import { inflateSync } from "fflate";
import { fromHex, toHex } from "./bytes.js";
import { verifyCheckpoint } from "./checkpoint.js";
import { CannotCheckError, FormatError, VerificationError, pyRepr, pyStr, pyType } from "./errors.js";
import { POLICY_VERSION } from "./judge/rules.js";
import { Policy, PolicyError } from "./judge/policy.js";
import { PyException } from "./judge/py.js";
import { authorityDetail, replay, rulesDetail } from "./judge/replay.js";
import { rootFromMultiproof } from "./merkle.js";
import { Entry, pyOrder, recordHash } from "./records.js";
import { Report, chainAnchorFromJson, checkChainAnchor } from "./receipt.js";
import { loads } from "./strictjson.js";

export const BUNDLE_FORMAT = "evledger-bundle/1";
export const MAX_BUNDLE_BYTES = 2 * 1024 ** 3;
export const MAX_RECORDS = 200_000;
/** Each member's largest uncompressed size. */
export const MEMBERS = {
  "manifest.json": 1024 ** 2,
  "records.jsonl": 1024 ** 3,
  "proofs.json": 256 * 1024 ** 2,
  "report.html": 512 * 1024 ** 2,
};
/** Uncompressed / compressed beyond this, for members over 1 MiB, is a zip bomb. */
export const MAX_RATIO = 100;
/** The clauses each check supports (21 CFR Part 11, EU GMP Annex 11, ISO 13485, ALCOA+). */
export const CLAUSES = {
  bundle: "ALCOA+ complete, enduring; Annex 11 §7.1 (data storage), §8 (printouts)",
  records: "Part 11 §11.10(a) (accurate and complete copies); ALCOA+ original, accurate",
  signatures: "Part 11 §11.50 (manifestation), §11.70 (signature/record linking); Annex 11 §14",
  authority:
    "Part 11 §11.10(d) (limited access), §11.10(g) (authority checks), §11.100; Annex 11 §12.1",
  rules:
    "Part 11 §11.10(f) (sequencing of steps); ISO 13485 §8.2.6, §8.3 (nonconforming product), " +
    "§8.5.2 (CAPA), §4.2.4 (controlled documents), §7.4 (purchasing), §7.6 (monitoring and " +
    "measuring equipment); 21 CFR 820.80, 211.22, 211.84, 211.160",
  checkpoint: "Part 11 §11.10(c) (protection of records), §11.10(e) (audit trail); Annex 11 §9",
  inclusion: "Part 11 §11.10(c), §11.10(e); ALCOA+ enduring, available",
  "lot chains":
    "ALCOA+ complete; ISO 13485 §7.5.8, §7.5.9 (identification, traceability); 21 CFR 820.184",
  anchor: "Part 11 §11.10(c), §11.10(e) (time-stamped, tamper-evident); ALCOA+ contemporaneous",
};

const UTF8 = new TextDecoder("utf-8");
const isInt = (v) => typeof v === "bigint";
const isDict = (v) => pyType(v) === "dict";

/**
 * Every check of the bundle ``bytes`` (a Uint8Array) against ``trust`` (a Trust). ``name`` is
 * the file's name for the report's subject; ``progress(stage, done, total)`` is told how far
 * the long stages are. Returns the Report (report.ok: verified).
 */
export async function verifyBundle(bytes, trust, { name = "bundle.zip", progress = null } = {}) {
  const report = new Report(`evidence bundle ${name}`);
  const tick = progress ?? (() => {});
  let b = null;
  const ok = await report.run(
    "bundle",
    () => {
      b = readBundle(bytes);
      return `${BUNDLE_FORMAT}, scope ${scopeText(b.manifest)}, ${b.manifest.records} records, members intact`;
    },
    CLAUSES.bundle,
  );
  if (!ok) return report;
  if (!(await report.run("records", () => parseRecords(b, tick), CLAUSES.records))) return report;
  await report.run("signatures", () => signatures(b, trust, tick), CLAUSES.signatures);
  let replayed = null;
  try {
    replayed = replay(
      b.entries.map(([index, , record, entry]) => ({ leaf_index: index, record, entry })),
      b.manifest.policy_settings,
    );
  } catch (err) {
    // A hostile bundle: a record not in its type's shape (the Python exception the reference
    // raises, by name and message); anything else is this page's own error.
    if (!(err instanceof PyException)) throw err;
    const why =
      `the log cannot be replayed: ${err.name}: ${err.message} (a record is not in the shape ` +
      "its type requires)";
    report.fail("authority", why, CLAUSES.authority);
    report.fail("rules", why, CLAUSES.rules);
  }
  if (replayed !== null) {
    await report.run("authority", () => authorityDetail(replayed), CLAUSES.authority);
    await report.run("rules", () => rulesDetail(replayed), CLAUSES.rules);
  }
  await report.run("checkpoint", () => checkpoint(b, trust), CLAUSES.checkpoint);
  await report.run("inclusion", () => inclusion(b), CLAUSES.inclusion);
  await report.run("lot chains", () => lotChains(b), CLAUSES["lot chains"]);
  await anchors(b, trust, report);
  return report;
}

// -- reading ------------------------------------------------------------------------------

const u16 = (d, at) => d[at] | (d[at + 1] << 8);
const u32 = (d, at) => (d[at] | (d[at + 1] << 8) | (d[at + 2] << 16) | (d[at + 3] << 24)) >>> 0;
const startsWith = (d, at, sig) => sig.every((x, i) => d[at + i] === x);
const LOCAL = [0x50, 0x4b, 0x03, 0x04];
const CENTRAL = [0x50, 0x4b, 0x01, 0x02];
const EOCD = [0x50, 0x4b, 0x05, 0x06];

class BadZip extends Error {}

/** The central directory of the zip ``d``: [{name, method, crc, compressSize, fileSize, offset}]. */
function centralDirectory(d, eocd) {
  const count = u16(d, eocd + 10);
  const size = u32(d, eocd + 12);
  const start = u32(d, eocd + 16);
  if (start + size > eocd) throw new BadZip("Bad central directory offset or size");
  const infos = [];
  let at = start;
  for (let n = 0; n < count; n++) {
    if (at + 46 > d.length || !startsWith(d, at, CENTRAL)) throw new BadZip("Bad magic number for central directory");
    const nameLength = u16(d, at + 28);
    const extra = u16(d, at + 30);
    const comment = u16(d, at + 32);
    const flags = u16(d, at + 8);
    const raw = d.subarray(at + 46, at + 46 + nameLength);
    infos.push({
      name: flags & 0x800 ? UTF8.decode(raw) : String.fromCharCode(...raw),
      flags,
      method: u16(d, at + 10),
      crc: u32(d, at + 16),
      compressSize: u32(d, at + 20),
      fileSize: u32(d, at + 24),
      offset: u32(d, at + 42),
    });
    at += 46 + nameLength + extra + comment;
  }
  return infos;
}

function readBundle(bytes) {
  const size = bytes.length;
  if (size > MAX_BUNDLE_BYTES) throw new FormatError(`bundle: larger than ${MAX_BUNDLE_BYTES} bytes`);
  if (!startsWith(bytes, 0, LOCAL)) {
    throw new FormatError("bundle: expected a zip file starting with its first member");
  }
  const tailStart = Math.max(0, size - 65_557);
  let at = -1;
  for (let i = size - 4; i >= tailStart; i--) {
    if (startsWith(bytes, i, EOCD)) {
      at = i;
      break;
    }
  }
  if (at < 0 || at + 22 > size) throw new FormatError("bundle: no end of central directory (truncated?)");
  const commentLength = u16(bytes, at + 20);
  if (at + 22 + commentLength !== size) {
    throw new FormatError(`bundle: ${size - at - 22 - commentLength} bytes after the end of the zip`);
  }
  let infos;
  const data = {};
  try {
    infos = centralDirectory(bytes, at);
    const names = infos.map((i) => i.name);
    const wanted = Object.keys(MEMBERS).sort();
    if (JSON.stringify([...names].sort()) !== JSON.stringify(wanted)) {
      const unknown = [...new Set(names)].filter((n) => !Object.hasOwn(MEMBERS, n)).sort();
      const dupes = [...new Set(names)].filter((n) => names.filter((m) => m === n).length > 1).sort();
      const shown = unknown.length ? unknown : dupes;
      const missing = wanted.filter((n) => !names.includes(n));
      throw new FormatError(
        "bundle members: expected exactly " +
          wanted.join(", ") +
          (shown.length ? `; unexpected ${shown.map(pyRepr).join(", ")}` : "") +
          (missing.length ? `; missing ${missing.join(", ")}` : ""),
      );
    }
    for (const info of infos) data[info.name] = member(bytes, info);
  } catch (err) {
    if (err instanceof BadZip) throw new FormatError(`bundle: not a readable zip: ${err.message}`);
    throw err;
  }
  const manifest = json(data["manifest.json"], "manifest.json");
  if (!isDict(manifest) || manifest.format !== BUNDLE_FORMAT) {
    throw new FormatError(`bundle manifest: expected format ${pyRepr(BUNDLE_FORMAT)}`);
  }
  for (const [key, type] of [
    ["members", "dict"],
    ["records", "int"],
    ["tree_size", "int"],
    ["required_stages", "list"],
    ["policy", "str"],
    ["policy_settings", "dict"],
    ["scope", "dict"],
  ]) {
    if (pyType(manifest[key]) !== type) throw new FormatError(`bundle manifest: missing or wrong ${pyRepr(key)}`);
  }
  if (manifest.policy !== POLICY_VERSION) {
    throw new FormatError(
      `bundle manifest policy: this verifier judges ${POLICY_VERSION}, the bundle was judged ` +
        `under ${pyRepr(manifest.policy)}`,
    );
  }
  for (const name of ["records.jsonl", "proofs.json", "report.html"]) {
    const declared = manifest.members[name];
    const got = data[name];
    if (
      !isDict(declared) ||
      declared.sha256 !== toHex(sha256(got)) ||
      !isInt(declared.bytes) ||
      declared.bytes !== BigInt(got.length)
    ) {
      throw new FormatError(`bundle member ${name}: not the bytes the manifest lists`);
    }
  }
  const lines = splitLines(data["records.jsonl"]);
  if (BigInt(lines.length) !== manifest.records || !(lines.length > 0 && lines.length <= MAX_RECORDS)) {
    throw new FormatError(
      `bundle records: manifest says ${manifest.records}, records.jsonl has ${lines.length} ` +
        `(at most ${MAX_RECORDS})`,
    );
  }
  const proofs = json(data["proofs.json"], "proofs.json");
  if (!isDict(proofs)) throw new FormatError("proofs.json: expected a JSON object");
  let policy;
  try {
    policy = Policy.fromJson(manifest.policy_settings);
  } catch (err) {
    if (err instanceof PolicyError) throw new FormatError(`bundle manifest policy_settings: ${err.message}`);
    throw err;
  }
  const stages = [...policy.required_stages];
  const listed = manifest.required_stages;
  if (stages.length !== listed.length || stages.some((s, i) => s !== listed[i])) {
    throw new FormatError("bundle manifest: required_stages differ from policy_settings'");
  }
  return { manifest, lines, proofs, policy, entries: [], leaves: new Map() };
}

function member(d, info) {
  const limit = MEMBERS[info.name];
  if (info.fileSize > limit) throw new FormatError(`bundle member ${info.name}: larger than ${limit} bytes`);
  if (info.fileSize > 1024 ** 2 && info.fileSize > MAX_RATIO * Math.max(info.compressSize, 1)) {
    const ratio = Math.floor(info.fileSize / Math.max(info.compressSize, 1));
    throw new FormatError(
      `bundle member ${info.name}: compressed ${ratio} to 1, more than ${MAX_RATIO} (a zip bomb?)`,
    );
  }
  const at = info.offset;
  if (at + 30 > d.length || !startsWith(d, at, LOCAL)) throw new BadZip("Bad magic number for file header");
  if (info.flags & 0x1) throw new BadZip(`File ${pyRepr(info.name)} is encrypted, password required for extraction`);
  const start = at + 30 + u16(d, at + 26) + u16(d, at + 28);
  const raw = d.subarray(start, start + info.compressSize);
  if (raw.length !== info.compressSize) throw new BadZip("Truncated file data");
  let out;
  if (info.method === 0) out = raw;
  else if (info.method === 8) {
    try {
      out = inflateSync(raw, { out: new Uint8Array(info.fileSize) });
    } catch (err) {
      throw new BadZip(`Error -3 while decompressing data: ${err.message}`);
    }
  } else throw new BadZip(`compression type ${info.method}`);
  if (out.length !== info.fileSize) {
    throw new FormatError(`bundle member ${info.name}: not the size its header says`);
  }
  if (crc32(out) !== info.crc) throw new BadZip(`Bad CRC-32 for file ${pyRepr(info.name)}`);
  return out;
}

let CRC_TABLE = null;
/** CRC-32 (ISO 3309, as zip uses), which Python's zipfile checks on every member. */
function crc32(data) {
  if (CRC_TABLE === null) {
    CRC_TABLE = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      CRC_TABLE[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = CRC_TABLE[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** Python's bytes.splitlines(): on \n, \r\n and \r; no empty last line for a final newline. */
function splitLines(data) {
  const lines = [];
  let start = 0;
  for (let i = 0; i < data.length; i++) {
    if (data[i] === 0x0a || data[i] === 0x0d) {
      lines.push(data.subarray(start, i));
      if (data[i] === 0x0d && data[i + 1] === 0x0a) i++;
      start = i + 1;
    }
  }
  if (start < data.length) lines.push(data.subarray(start));
  return lines;
}

function json(data, what) {
  try {
    return loads(data);
  } catch (err) {
    if (err instanceof FormatError) throw new FormatError(`${what}: ${err.message}`);
    throw err;
  }
}

function scopeText(manifest) {
  const scope = manifest.scope;
  return Object.keys(scope)
    .sort(pyOrder)
    .map((k) => `${k} ${pyStr(scope[k])}`)
    .join(", ");
}


// -- records, signatures ------------------------------------------------------------------

function parseRecords(b, tick) {
  let last = -1n;
  const keys = ["entry", "in_scope", "leaf_index", "record"];
  b.lines.forEach((line, i) => {
    const n = i + 1;
    if (n % 10_000 === 0) tick("records", n, b.lines.length);
    const item = json(line, `records.jsonl line ${n}`);
    if (!isDict(item) || Object.keys(item).sort().join() !== keys.join()) {
      throw new FormatError(`records.jsonl line ${n}: expected leaf_index, in_scope, record, entry`);
    }
    const index = item.leaf_index;
    const record = item.record;
    if (!isInt(index) || index <= last) throw new FormatError(`records.jsonl line ${n}: leaf indices must increase`);
    if (!isDict(record) || typeof item.in_scope !== "boolean") {
      throw new FormatError(`records.jsonl line ${n}: record must be an object`);
    }
    const entry = Entry.fromJson(item.entry);
    const rid = record.record_id ?? null;
    if (entry.record_id !== rid || entry.record_type !== (record.type ?? null)) {
      throw new VerificationError(
        `record ${pyRepr(rid)} (leaf ${index}): its log entry is for ${pyRepr(entry.record_id)}`,
      );
    }
    const actual = toHex(recordHash(record));
    if (actual !== entry.record_hash) {
      throw new VerificationError(
        `record ${entry.record_id} (leaf ${index}): hashes to ${actual}, its log entry says ${entry.record_hash}`,
      );
    }
    if (entry.lot !== (record.lot ?? null)) {
      throw new VerificationError(`record ${entry.record_id}: lot differs from its entry's`);
    }
    b.entries.push([index, item.in_scope, record, entry]);
    b.leaves.set(index, entry.leafHash());
    last = index;
  });
  const inScope = b.entries.filter((e) => e[1]).length;
  return `${b.entries.length} records hash to their log entries (${inScope} in scope)`;
}

async function signatures(b, trust, tick) {
  const bad = [];
  const total = b.entries.length;
  for (let i = 0; i < total; i++) {
    const entry = b.entries[i][3];
    try {
      entry.verifySignature(trust.domain);
    } catch (err) {
      if (!(err instanceof VerificationError)) throw err;
      bad.push(`${entry.record_id}: ${err.message}`);
    }
    // Let the page repaint on long bundles.
    if ((i + 1) % 500 === 0) {
      tick("signatures", i + 1, total);
      await new Promise((r) => setTimeout(r, 0));
    }
  }
  tick("signatures", total, total);
  if (bad.length) {
    throw new VerificationError(`${bad.length} signature(s) do not verify: ` + bad.slice(0, 5).join("; "));
  }
  return `${total} EIP-712 signatures verify, each by the signer its entry names`;
}

// -- the log ------------------------------------------------------------------------------

function hex32(value, what) {
  if (typeof value !== "string" || value.length !== 64 || !/^[0-9a-fA-F]{64}$/.test(value)) {
    throw new FormatError(`${what}: expected 64 hex digits`);
  }
  return fromHex(value);
}

function checkpoint(b, trust) {
  const p = b.proofs;
  const note = p.checkpoint;
  if (typeof note !== "string") throw new FormatError("proofs.json checkpoint: expected the signed note");
  const cp = verifyCheckpoint(note, trust.logKey, trust.logOrigin);
  const root = hex32(p.root_hash, "proofs.json root_hash");
  if (cp.treeSize !== p.tree_size || toHex(cp.rootHash) !== toHex(root)) {
    throw new VerificationError("checkpoint: its size and root are not the ones proofs.json uses");
  }
  if (cp.treeSize !== b.manifest.tree_size) {
    throw new VerificationError("checkpoint: not the tree size the manifest names");
  }
  return `size ${cp.treeSize}, signed by the trusted log key for ${trust.logOrigin}`;
}

function inclusion(b) {
  const p = b.proofs;
  const proof = p.multiproof;
  if (!Array.isArray(proof)) throw new FormatError("proofs.json multiproof: expected a list of hashes");
  const hashes = proof.map((h, i) => hex32(h, `multiproof[${i}]`));
  if (!isInt(p.tree_size)) throw new FormatError("proofs.json tree_size: expected an integer");
  const root = rootFromMultiproof(b.leaves, p.tree_size, hashes);
  if (toHex(root) !== toHex(hex32(p.root_hash, "proofs.json root_hash"))) {
    throw new VerificationError(
      `inclusion: the records' leaves and the multiproof give root ${toHex(root)}, the ` +
        "checkpoint says otherwise (a record changed, added, removed or moved)",
    );
  }
  return (
    `all ${b.leaves.size} records are the leaves at their indices in the tree of size ` +
    `${p.tree_size} (${hashes.length} proof hashes)`
  );
}

function lotChains(b) {
  const heads = new Map();
  for (const [index, , , entry] of b.entries) {
    if (entry.lot === null) continue;
    const expected = heads.get(entry.lot) ?? null;
    if (entry.lot_prev !== expected) {
      throw new VerificationError(
        `lot ${entry.lot}: record ${entry.record_id} (leaf ${index}) follows ` +
          (entry.lot_prev ? `leaf hash ${entry.lot_prev}` : "nothing") +
          ", but the bundle's previous record of the lot is " +
          (expected ? `leaf hash ${expected}` : "none") +
          " (a record of the lot is missing)",
      );
    }
    heads.set(entry.lot, toHex(b.leaves.get(index)));
  }
  return `${heads.size} lot chain(s) complete from their first record, no gap`;
}

// -- anchors ------------------------------------------------------------------------------

async function anchors(b, trust, report) {
  const items = b.proofs.anchors;
  const size = b.proofs.tree_size;
  if (!isInt(size)) {
    report.fail("anchors required", "proofs.json tree_size: expected an integer");
    return;
  }
  if (!Array.isArray(items) || !items.length) {
    report.fail("anchors required", "the bundle carries no anchor", CLAUSES.anchor);
    return;
  }
  const root = hex32(b.proofs.root_hash, "proofs.json root_hash");
  const lastLeaf = b.entries[b.entries.length - 1][0];
  const passed = new Set();
  const contracts = trust.contracts;
  for (const [i, item] of items.slice(0, 16).entries()) {
    let ca;
    try {
      ca = chainAnchorFromJson(item, `proofs.json anchors[${i}]`);
    } catch (err) {
      if (!(err instanceof FormatError)) throw err;
      report.fail(`anchor [${i}]`, err.message, CLAUSES.anchor);
      continue;
    }
    const chain = String(ca.chainId);
    const ok = await report.run(
      `anchor (chain ${chain})`,
      async () => {
        const [holds, proven] = await checkChainAnchor(ca, trust, size, root, lastLeaf, "bundle");
        if (!proven && contracts.has(chain)) {
          throw new VerificationError(
            "anchor: no offline proof (the anchor was not final when the bundle was made) and " +
              `no --rpc node for chain ${chain}: cannot be checked`,
          );
        }
        return holds;
      },
      CLAUSES.anchor,
    );
    if (ok && contracts.has(chain)) passed.add(chain);
  }
  const required = trust.required;
  await report.run(
    "anchors required",
    () => {
      if (required === null) {
        if (!passed.size) {
          throw new VerificationError("anchors required: no trusted chain's anchor checks (require: any)");
        }
      } else {
        const missing = required.filter((c) => !passed.has(c));
        if (missing.length) {
          throw new VerificationError(
            `anchors required: chain(s) ${missing.join(", ")} without an anchor that checks ` +
              `(require: ${trust.requireText})`,
          );
        }
      }
      const chains = [...passed].map(BigInt).sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
      return `met on chain(s) ${chains.join(", ")} (require: ${trust.requireText})`;
    },
    CLAUSES.anchor,
  );
}

export { CannotCheckError };
