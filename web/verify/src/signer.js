// Who signed, as the log proves it (evledger_verify.receipt.verify_signer): a receipt carries
// the signer registry record in force for its key when the record was logged, with that
// record's own logged entry and its inclusion proof in the receipt's own tree.
//
//   "signer": {"record": {...signer/1 grant...}, "entry": {...}, "leaf_index": 3,
//              "inclusion_proof": ["<hex>", ...]}
//
// It holds when the record hashes to its entry's record_hash, both say it is a signer record,
// it registers the key that signed the receipt's record (case-insensitive) with action
// "grant", it was logged before the record (leaf_index below the receipt's), its entry's
// EIP-712 signature verifies in the trusted domain, and its leaf is included at leaf_index in
// the receipt's tree (so the same signed checkpoint covers it). Then the printed name, the
// roles, the meaning and the UTC signing time are proven, not claimed.

import { fromHex, toHex } from "./bytes.js";
import { FormatError, VerificationError, pyRepr, pyStr, pyType } from "./errors.js";
import { MAX_PROOF_LENGTH, verifyInclusion } from "./merkle.js";
import { Entry, recordHash } from "./records.js";

const HEX32 = /^[0-9a-f]{64}$/;

function field(obj, key, type, what) {
  if (!Object.hasOwn(obj, key)) throw new FormatError(`${what}: missing key ${pyRepr(key)}`);
  if (pyType(obj[key]) !== type) throw new FormatError(`${what} ${key}: wrong type ${pyType(obj[key])}`);
  return obj[key];
}

/** The parsed ``signer`` member of a receipt (part of the format check). */
export function signerFromJson(value) {
  const what = "receipt signer";
  if (pyType(value) !== "dict") throw new FormatError(`${what}: expected a JSON object`);
  const proof = field(value, "inclusion_proof", "list", what);
  if (proof.length > MAX_PROOF_LENGTH) {
    throw new FormatError(`${what} inclusion_proof: more than ${MAX_PROOF_LENGTH} hashes`);
  }
  const record = field(value, "record", "dict", what);
  const entry = Entry.fromJson(field(value, "entry", "dict", what));
  const leafIndex = field(value, "leaf_index", "int", what);
  const inclusionProof = proof.map((p, i) => {
    const text = typeof p === "string" ? p : "";
    if (!HEX32.test(text)) {
      throw new FormatError(
        `${what} inclusion_proof[${i}]: expected 64 lowercase hex digits, got ${pyRepr(text.slice(0, 70))}`,
      );
    }
    return fromHex(text);
  });
  return { record, entry, leafIndex, inclusionProof };
}

// Python's datetime range (years 1..9999): beyond it fromtimestamp raises (an internal error).
const MIN_UNIX = -62135596800n;
const MAX_UNIX = 253402300799n;

/** "2023-11-14T22:13:20Z" for a unix time (BigInt), as the CLI prints it. */
export function utcTime(unix) {
  unix = BigInt(unix);
  if (unix < MIN_UNIX || unix > MAX_UNIX) throw new Error(`year is out of range: ${unix}`);
  return new Date(Number(unix) * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** The signer check: returns {detail, signer} or throws VerificationError. ``receipt`` is
 * parsed (receiptFromJson), ``domain`` the trusted EIP-712 domain. */
export function verifySigner(receipt, domain) {
  const s = receipt.signer;
  if (s === null) {
    return {
      detail:
        "the receipt carries no signer record: the signer is known by address only " +
        `(${receipt.entry.signer})`,
      signer: null,
    };
  }
  const grant = s.record;
  if (toHex(recordHash(grant)) !== s.entry.record_hash) {
    throw new VerificationError("signer record: does not hash to its logged entry's record hash");
  }
  if (s.entry.record_type !== "signer" || grant.type !== "signer") {
    throw new VerificationError(
      `signer record: expected a signer record, got ${pyRepr(s.entry.record_type)}`,
    );
  }
  const address = Object.hasOwn(grant, "address") ? grant.address : "";
  if (pyStr(address).toLowerCase() !== receipt.entry.signer.toLowerCase()) {
    throw new VerificationError(
      `signer record: it registers ${pyRepr(grant.address)}, the record was signed by ` +
        `${receipt.entry.signer}`,
    );
  }
  if (grant.action !== "grant") {
    throw new VerificationError(
      `signer record: the key's registry record in force is a ${pyRepr(grant.action)}, not a grant`,
    );
  }
  if (s.leafIndex >= receipt.leafIndex) {
    throw new VerificationError(
      `signer record: logged at leaf ${s.leafIndex}, not before the record (leaf ` +
        `${receipt.leafIndex})`,
    );
  }
  s.entry.verifySignature(domain);
  verifyInclusion(s.entry.leafHash(), s.leafIndex, receipt.treeSize, s.inclusionProof, receipt.rootHash);
  const roles = Array.isArray(grant.roles) ? grant.roles.map(pyStr) : null;
  const shown = roles === null ? "none" : roles.join(", ");
  const when = utcTime(receipt.entry.signed_at);
  const signer = {
    name: pyStr(grant.name),
    roles: roles ?? [],
    address: receipt.entry.signer,
    meaning: receipt.entry.meaning,
    signedAt: receipt.entry.signed_at,
    time: when,
    grantRecordId: pyStr(grant.record_id),
    grantLeafIndex: s.leafIndex,
    grantedBy: s.entry.signer,
  };
  const detail =
    `${signer.name} (roles ${shown}), key ${receipt.entry.signer}, signed as ` +
    `${pyRepr(receipt.entry.meaning)} at ${when}: granted by record ${signer.grantRecordId} at ` +
    `leaf ${s.leafIndex}, in the same tree`;
  return { detail, signer };
}
