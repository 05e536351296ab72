// Keys on the user's device: a keystore v3 file (scrypt or PBKDF2, AES-128-CTR, as wallets
// and `cast wallet` write them) opened with its password, a plain hex key file (devices only,
// by explicit choice), or a browser wallet (EIP-1193). What leaves this module is a signer:
// {address, kind, signDigest(digest) or signTypedData / personalSign}; the private key stays in
// a closure of this page and is never sent anywhere.

import { ctr } from "@noble/ciphers/aes.js";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { pbkdf2Async } from "@noble/hashes/pbkdf2.js";
import { scryptAsync } from "@noble/hashes/scrypt.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { keccak_256 } from "@noble/hashes/sha3.js";
import { checksumAddress } from "../../verify/src/records.js";
import { concat, equal, fromHex, toHex, utf8 } from "../../verify/src/bytes.js";

export class KeyError extends Error {}

const HEX_RE = /^[0-9a-fA-F]*$/;
/** The largest key file read (a keystore is about 500 bytes). */
export const MAX_KEY_FILE = 16 * 1024;

/** The EIP-55 address of a 32-byte secp256k1 private key. */
export function addressOf(secret) {
  const pub = secp256k1.getPublicKey(secret, false);
  return checksumAddress("0x" + toHex(keccak_256(pub.subarray(1)).subarray(12)));
}

/** 0x r||s||v (v = 27 + recovery id, low s) over a 32-byte digest: as the CLI's sign_digest. */
export function signDigestWith(secret, digest) {
  const raw = secp256k1.sign(digest, secret, { prehash: false, format: "recovered", lowS: true });
  return "0x" + toHex(raw.subarray(1)) + (27 + raw[0]).toString(16).padStart(2, "0");
}

function keySigner(secret, kind) {
  if (!(secret instanceof Uint8Array) || secret.length !== 32 || !secp256k1.utils.isValidSecretKey(secret)) {
    throw new KeyError("the key is not a valid secp256k1 private key");
  }
  const key = Uint8Array.from(secret);
  return {
    kind,
    address: addressOf(key),
    async signDigest(digest) {
      return signDigestWith(key, digest);
    },
    forget() {
      key.fill(0);
    },
  };
}

/** A plain key file: 64 hex digits, 0x optional, as `evledger keys new --device` writes. */
export function parseHexKey(text) {
  const t = text.trim();
  const digits = t.startsWith("0x") || t.startsWith("0X") ? t.slice(2) : t;
  if (digits.length !== 64 || !HEX_RE.test(digits)) return null;
  return fromHex(digits);
}

function field(obj, path) {
  let v = obj;
  for (const k of path.split(".")) {
    if (v === null || typeof v !== "object" || !Object.hasOwn(v, k)) {
      throw new KeyError(`keystore: missing ${path}`);
    }
    v = v[k];
  }
  return v;
}

function hexField(obj, path) {
  const v = field(obj, path);
  const h = typeof v === "string" && v.startsWith("0x") ? v.slice(2) : v;
  if (typeof h !== "string" || h.length % 2 || !HEX_RE.test(h)) {
    throw new KeyError(`keystore: ${path} is not hex`);
  }
  return fromHex(h);
}

function intField(obj, path, lo, hi) {
  const v = field(obj, path);
  if (!Number.isSafeInteger(v) || v < lo || v > hi) {
    throw new KeyError(`keystore: ${path} must be an integer in ${lo}..${hi}`);
  }
  return v;
}

/** The key of a keystore v3 object opened with ``password``. A wrong password: KeyError
 * "wrong password" (the MAC does not match). ``onProgress`` gets 0..1 while scrypt runs. */
export async function decryptKeystore(json, password, onProgress = () => {}) {
  if (json === null || typeof json !== "object") throw new KeyError("keystore: expected a JSON object");
  if (json.version !== 3) throw new KeyError(`keystore: expected version 3, got ${JSON.stringify(json.version)}`);
  const crypto = json.crypto ?? json.Crypto;
  if (crypto === null || typeof crypto !== "object") throw new KeyError("keystore: missing crypto");
  const c = { crypto };
  if (field(c, "crypto.cipher") !== "aes-128-ctr") {
    throw new KeyError(`keystore: cipher ${JSON.stringify(crypto.cipher)} is not supported (aes-128-ctr)`);
  }
  const kdf = field(c, "crypto.kdf");
  const salt = hexField(c, "crypto.kdfparams.salt");
  const dkLen = intField(c, "crypto.kdfparams.dklen", 32, 64);
  let derive;
  if (kdf === "scrypt") {
    const N = intField(c, "crypto.kdfparams.n", 2, 2 ** 20);
    const r = intField(c, "crypto.kdfparams.r", 1, 32);
    const p = intField(c, "crypto.kdfparams.p", 1, 16);
    if (N & (N - 1)) throw new KeyError("keystore: scrypt n must be a power of two");
    derive = (pw) => scryptAsync(pw, salt, { N, r, p, dkLen, maxmem: 2 ** 31, onProgress });
  } else if (kdf === "pbkdf2") {
    if (field(c, "crypto.kdfparams.prf") !== "hmac-sha256") {
      throw new KeyError("keystore: only pbkdf2 with hmac-sha256 is supported");
    }
    const iterations = intField(c, "crypto.kdfparams.c", 1, 10_000_000);
    derive = (pw) => pbkdf2Async(sha256, pw, salt, { c: iterations, dkLen });
  } else {
    throw new KeyError(`keystore: kdf ${JSON.stringify(kdf)} is not supported (scrypt, pbkdf2)`);
  }
  const ciphertext = hexField(c, "crypto.ciphertext");
  const mac = hexField(c, "crypto.mac");
  const iv = hexField(c, "crypto.cipherparams.iv");
  if (iv.length !== 16) throw new KeyError("keystore: the AES iv must be 16 bytes");
  // The password's UTF-8 bytes as typed (the CLI and eth-keyfile do not normalize), then,
  // if that differs, its NFKC form (some wallets normalize).
  const forms = [...new Set([password, password.normalize("NFKC")])];
  let derived = null;
  for (const form of forms) {
    const candidate = await derive(utf8(form));
    if (equal(keccak_256(concat(candidate.subarray(16, 32), ciphertext)), mac)) {
      derived = candidate;
      break;
    }
    candidate.fill(0);
  }
  if (derived === null) {
    throw new KeyError("wrong password (or a damaged key file): the keystore's MAC does not match");
  }
  // AES-128-CTR with @noble/ciphers, always: WebCrypto exists only in a secure context
  // (https or localhost), and a console opened on a plant's LAN address over plain http must
  // still open a keystore. One code path everywhere (node tests and every browser alike); the
  // derived key is in this page's memory either way.
  const plain = ctr(derived.subarray(0, 16), iv).decrypt(ciphertext);
  derived.fill(0);
  if (plain.length !== 32) throw new KeyError("keystore: the key inside is not 32 bytes");
  const signer = keySigner(plain, "keystore");
  plain.fill(0);
  if (typeof json.address === "string" && json.address) {
    const stated = json.address.startsWith("0x") ? json.address : "0x" + json.address;
    if (stated.toLowerCase() !== signer.address.toLowerCase()) {
      throw new KeyError(`keystore: it names address ${stated} but holds the key of ${signer.address}`);
    }
  }
  return signer;
}

/** A signer from a key file's text: a keystore v3 (needs ``password``) or a plain hex key
 * (kind "device": the console warns that it is for devices). */
export async function openKeyFile(text, password, onProgress) {
  if (text.length > MAX_KEY_FILE) throw new KeyError("this file is too large to be a key file");
  const hex = parseHexKey(text);
  if (hex !== null) {
    const signer = keySigner(hex, "device");
    hex.fill(0);
    return signer;
  }
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    throw new KeyError(
      "not a key file: expected a keystore v3 JSON file or 64 hex digits (a device key)",
    );
  }
  if (!password) throw new KeyError("this keystore needs its password");
  return decryptKeystore(json, password, onProgress);
}

export { keySigner };
