// Records, their RFC 8785 hash, EIP-712 signatures, and the log entry that binds them, as
// evledger_verify/records.py.
//
// A record's hash is SHA-256 of its RFC 8785 (JCS) canonical form. A person or device signs
// EIP-712 typed data binding the record id, type and hash, the signer's meaning and the
// signing time; the domain binds the chain id and the ledger's contract. The sealer logs an
// entry (also JCS) carrying the record hash, the signature and a random salt; the Merkle leaf
// is SHA-256(0x00 || JCS(entry)).

import { secp256k1 } from "@noble/curves/secp256k1.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { keccak_256 } from "@noble/hashes/sha3.js";
import canonicalize from "canonicalize";
import { concat, fromHex, toHex, utf8 } from "./bytes.js";
import { FormatError, SignatureInvalidError, pyRepr, pyType } from "./errors.js";
import { leafHash } from "./merkle.js";
import { toPlain } from "./strictjson.js";

export const ENTRY_FORMAT = "evledger-entry/1";
export const EIP712_DOMAIN_NAME = "evledger";
export const EIP712_DOMAIN_VERSION = "1";
export const MAX_RECORD_BYTES = 256 * 1024;

const ADDRESS_RE = /^0x[0-9a-fA-F]{40}$/;
const HEX32_RE = /^[0-9a-f]{64}$/;
const SIG_RE = /^0x[0-9a-fA-F]{130}$/;
const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

export const keccak256 = (data) => keccak_256(data);

/** keccak256 of UTF-8 text; like Python's str.encode(), text with a lone surrogate cannot be
 * encoded (a plain Error: the CLI calls that an internal error, exit 2). */
function keccakText(text) {
  if (!text.isWellFormed()) throw new Error("'utf-8' codec can't encode a lone surrogate");
  return keccak256(utf8(text));
}

const DOMAIN_TYPEHASH = keccakText(
  "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)",
);
const RECORD_TYPEHASH = keccakText(
  "EvidenceRecord(string recordId,string recordType,bytes32 recordHash,string meaning," +
    "uint64 signedAt)",
);

/** RFC 8785 canonical JSON bytes of a strictjson value (integers beyond 2**53 - 1, NaN,
 * lone surrogates: FormatError, as rfc8785 refuses them). */
export function canonicalJson(value) {
  try {
    return utf8(canonicalize(toPlain(value)));
  } catch (err) {
    if (err instanceof FormatError) throw err;
    throw new FormatError(`canonical JSON: cannot canonicalize: ${err.message}`);
  }
}

/** SHA-256 of the record's RFC 8785 canonical form. */
export function recordHash(record) {
  return sha256(canonicalJson(record));
}

/** EIP-55 mixed-case form of a 20-byte hex address. */
export function checksumAddress(address) {
  if (typeof address !== "string" || !ADDRESS_RE.test(address)) {
    throw new FormatError(`address: expected 0x and 40 hex digits, got ${pyRepr(address)}`);
  }
  const lower = address.slice(2).toLowerCase();
  const digest = toHex(keccak256(utf8(lower)));
  let out = "0x";
  for (let i = 0; i < 40; i++) out += digest[i] > "7" ? lower[i].toUpperCase() : lower[i];
  return out;
}

function uint256(value) {
  const out = new Uint8Array(32);
  let v = BigInt(value);
  for (let i = 31; i >= 0 && v > 0n; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

/** The EIP-712 domain of one ledger: its chain and its anchor contract. */
export function domainSeparator(chainId, contract) {
  return keccak256(
    concat(
      DOMAIN_TYPEHASH,
      keccakText(EIP712_DOMAIN_NAME),
      keccakText(EIP712_DOMAIN_VERSION),
      uint256(chainId),
      new Uint8Array(12),
      fromHex(checksumAddress(contract).slice(2)),
    ),
  );
}

/** The 32-byte digest a wallet signs for this record (EIP-712 hashTypedData). */
export function eip712Digest(domain, recordId, recordType, rhash, meaning, signedAt) {
  if (rhash.length !== 32) throw new FormatError(`record hash: expected 32 bytes, got ${rhash.length}`);
  signedAt = BigInt(signedAt);
  if (signedAt < 0n || signedAt >= 2n ** 64n) {
    throw new FormatError(`signing time: expected a uint64, got ${signedAt}`);
  }
  const struct = keccak256(
    concat(
      RECORD_TYPEHASH,
      keccakText(recordId),
      keccakText(recordType),
      rhash,
      keccakText(meaning),
      uint256(signedAt),
    ),
  );
  return keccak256(concat(Uint8Array.of(0x19, 0x01), domainSeparator(domain.chainId, domain.contract), struct));
}

/** The checksummed address whose key made ``signature`` (65 bytes r||s||v) over ``digest``.
 * High-s signatures are refused (EIP-2), so a signature has exactly one valid encoding. */
export function recoverSigner(digest, signature) {
  if (!SIG_RE.test(signature)) {
    throw new SignatureInvalidError(
      `signature: expected 0x and 130 hex digits (65 bytes), got ${pyRepr(signature.slice(0, 20))}...`,
    );
  }
  const raw = fromHex(signature.slice(2));
  const r = BigInt("0x" + toHex(raw.subarray(0, 32)));
  const s = BigInt("0x" + toHex(raw.subarray(32, 64)));
  const v = raw[64] - 27;
  if (v !== 0 && v !== 1) {
    throw new SignatureInvalidError(`signature: expected v of 27 or 28, got ${raw[64]}`);
  }
  if (!(r > 0n && r < N && s > 0n && s <= N / 2n)) {
    throw new SignatureInvalidError("signature: r or s out of range (high-s is not accepted)");
  }
  let point;
  try {
    point = new secp256k1.Signature(r, s, v).recoverPublicKey(digest);
  } catch (err) {
    throw new SignatureInvalidError(`signature: no public key can be recovered: ${err.message}`);
  }
  const uncompressed = point.toBytes(false);
  return checksumAddress("0x" + toHex(keccak256(uncompressed.subarray(1)).subarray(12)));
}

const ENTRY_KEYS = {
  format: ["str"],
  record_id: ["str"],
  record_type: ["str"],
  record_hash: ["str"],
  lot: ["str", "NoneType"],
  lot_prev: ["str", "NoneType"],
  signer: ["str"],
  meaning: ["str"],
  signed_at: ["int"],
  signature: ["str"],
  salt: ["str"],
  accepted_at: ["str"],
};

/** One logged entry: what the Merkle leaf commits to. Fields keep their JSON names. */
export class Entry {
  constructor(fields) {
    Object.assign(this, fields);
  }

  toJson() {
    const out = { format: ENTRY_FORMAT };
    for (const k of Object.keys(ENTRY_KEYS)) if (k !== "format") out[k] = this[k];
    return out;
  }

  canonical() {
    return canonicalJson(this.toJson());
  }

  leafHash() {
    return leafHash(this.canonical());
  }

  digest(domain) {
    return eip712Digest(
      domain,
      this.record_id,
      this.record_type,
      fromHex(this.record_hash),
      this.meaning,
      this.signed_at,
    );
  }

  /** Throw unless ``signature`` was made by ``signer`` over this entry's record. */
  verifySignature(domain) {
    const recovered = recoverSigner(this.digest(domain), this.signature);
    if (recovered.toLowerCase() !== this.signer.toLowerCase()) {
      throw new SignatureInvalidError(
        `record signature: expected signer ${this.signer}, signature is by ${recovered}`,
      );
    }
    return recovered;
  }

  static fromJson(value) {
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      throw new FormatError("entry: expected a JSON object");
    }
    if (value.format !== ENTRY_FORMAT) {
      throw new FormatError(
        `entry format: expected ${pyRepr(ENTRY_FORMAT)}, got ${pyRepr(value.format)}`,
      );
    }
    const keys = Object.keys(value);
    const wanted = Object.keys(ENTRY_KEYS);
    if (keys.length !== wanted.length || !wanted.every((k) => Object.hasOwn(value, k))) {
      const missing = wanted.filter((k) => !Object.hasOwn(value, k)).sort();
      const extra = keys.filter((k) => !Object.hasOwn(ENTRY_KEYS, k)).sort(pyOrder);
      throw new FormatError(`entry: missing keys ${pyRepr(missing)}, unknown keys ${pyRepr(extra)}`);
    }
    for (const [key, types] of Object.entries(ENTRY_KEYS)) {
      if (!types.includes(pyType(value[key]))) {
        throw new FormatError(`entry ${key}: wrong type ${pyType(value[key])}`);
      }
    }
    if (!HEX32_RE.test(value.record_hash) || !HEX32_RE.test(value.salt)) {
      throw new FormatError("entry: record_hash and salt must be 64 lowercase hex digits");
    }
    if (value.lot_prev !== null && (value.lot === null || !HEX32_RE.test(value.lot_prev))) {
      throw new FormatError("entry lot_prev: expected 64 lowercase hex digits, in a lot");
    }
    if (!ADDRESS_RE.test(value.signer)) {
      throw new FormatError(`entry signer: expected an address, got ${pyRepr(value.signer)}`);
    }
    const fields = {};
    for (const k of wanted) if (k !== "format") fields[k] = value[k];
    return new Entry(fields);
  }
}

/** Python's sort order of strings (by code point), for messages listing keys. */
export function pyOrder(a, b) {
  const x = [...a].map((c) => c.codePointAt(0));
  const y = [...b].map((c) => c.codePointAt(0));
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
}
