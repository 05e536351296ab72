// Read tokens and record signatures exactly as the CLI makes them (ingest/client.py
// SigningKey.read_token / sign; evledger_verify.tokens and records).

import { keccak_256 } from "@noble/hashes/sha3.js";
import { concat, toHex, utf8 } from "../../verify/src/bytes.js";
import { checksumAddress, eip712Digest, recordHash } from "../../verify/src/records.js";

export const TOKEN_TAG = "evl1";
export const MAX_TTL = 24 * 3600;

export function tokenMessage(origin, address, expires) {
  return `evledger read token\nledger: ${origin}\naddress: ${address}\nexpires: ${expires}`;
}

/** EIP-191 (personal_sign) digest of a message. */
export function eip191Digest(message) {
  const data = utf8(message);
  return keccak_256(concat(utf8(`\x19Ethereum Signed Message:\n${data.length}`), data));
}

export function formatToken(address, expires, signature) {
  return `${TOKEN_TAG}.${address}.${expires}.${signature}`;
}

/** Wallets may answer v as 0/1: map to 27/28, lower case, as normalize_signature. */
export function normalizeSignature(sig) {
  if (/^0x[0-9a-fA-F]{130}$/.test(sig) && (sig.endsWith("00") || sig.endsWith("01"))) {
    return (sig.slice(0, -2) + (parseInt(sig.slice(-2), 16) + 27).toString(16)).toLowerCase();
  }
  return sig.toLowerCase();
}

/** A read token for the ledger with log origin ``origin``, valid ``ttl`` s from ``now``. */
export async function makeReadToken(signer, origin, ttl = 3600, now = Math.floor(Date.now() / 1000)) {
  if (!(ttl > 0 && ttl <= MAX_TTL)) throw new Error(`token ttl: expected 1..${MAX_TTL} s`);
  const expires = now + ttl;
  const message = tokenMessage(origin, signer.address, expires);
  const signature = signer.signDigest
    ? await signer.signDigest(eip191Digest(message))
    : normalizeSignature(await signer.personalSign(message));
  return { token: formatToken(signer.address, expires, signature), expires };
}

/** The EIP-712 typed data a wallet signs (eth_signTypedData_v4), as `evledger typed-data`. */
export function typedData(domain, recordId, recordType, rhash, meaning, signedAt) {
  return {
    types: {
      EIP712Domain: [
        { name: "name", type: "string" },
        { name: "version", type: "string" },
        { name: "chainId", type: "uint256" },
        { name: "verifyingContract", type: "address" },
      ],
      EvidenceRecord: [
        { name: "recordId", type: "string" },
        { name: "recordType", type: "string" },
        { name: "recordHash", type: "bytes32" },
        { name: "meaning", type: "string" },
        { name: "signedAt", type: "uint64" },
      ],
    },
    primaryType: "EvidenceRecord",
    domain: {
      name: "evledger",
      version: "1",
      chainId: domain.chainId,
      verifyingContract: checksumAddress(domain.contract),
    },
    message: {
      recordId,
      recordType,
      recordHash: "0x" + toHex(rhash),
      meaning,
      signedAt,
    },
  };
}

/** The body of POST /v1/records for ``record`` signed by ``signer`` with ``meaning``. */
export async function signRecord(signer, record, meaning, domain, signedAt = Math.floor(Date.now() / 1000)) {
  const rid = record.record_id;
  const rtype = record.type;
  if (typeof rid !== "string" || typeof rtype !== "string") {
    throw new Error("record: expected string record_id and type");
  }
  const rhash = recordHash(record);
  let signature;
  if (signer.signDigest) {
    signature = await signer.signDigest(eip712Digest(domain, rid, rtype, rhash, meaning, signedAt));
  } else {
    signature = normalizeSignature(
      await signer.signTypedData(typedData(domain, rid, rtype, rhash, meaning, signedAt)),
    );
  }
  return { record, signature, meaning, signed_at: signedAt, signer: signer.address };
}
