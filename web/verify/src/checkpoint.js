// C2SP tlog-checkpoint bodies in C2SP signed-note envelopes, with Ed25519 keys, as
// evledger_verify/checkpoint.py. A checkpoint note reads:
//
//   <origin>
//   <tree size>
//   <base64 root hash>
//
//   — <key name> <base64(key id || Ed25519 signature)>
//
// The key id is the first 4 bytes of SHA-256(name || "\n" || 0x01 || public key). A verifier key
// is written <name>+<hex key id>+<base64(0x01 || public key)>. Parsing is strict.

import { ed25519 } from "@noble/curves/ed25519.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { b64decode, b64encode, concat, equal, fromHex, toHex, utf8 } from "./bytes.js";
import { FormatError, SignatureInvalidError, pyRepr } from "./errors.js";

export const MAX_NOTE_SIZE = 16 * 1024;
const ALG_ED25519 = 0x01;
const SIG_PREFIX = "\u2014 "; // em dash and a space
const NAME_RE = /^[\x21-\x2a\x2c-\x7e]{1,256}$/; // printable, no spaces, no '+'
const DECIMAL_RE = /^(0|[1-9][0-9]{0,19})$/;

function keyId(name, publicKey) {
  return sha256(concat(utf8(name), Uint8Array.of(0x0a, ALG_ED25519), publicKey)).subarray(0, 4);
}

/** A verifier key: name, 4-byte key id and Ed25519 public key. */
export class NoteVerifier {
  constructor(name, keyId, publicKey) {
    this.name = name;
    this.keyId = keyId;
    this.publicKey = publicKey;
  }

  static parse(vkey) {
    const text = vkey.trim();
    const first = text.indexOf("+");
    const second = first < 0 ? -1 : text.indexOf("+", first + 1);
    if (second < 0) {
      throw new FormatError(`log public key: expected name+keyid+key, got ${pyRepr(vkey)}`);
    }
    const name = text.slice(0, first);
    const hexId = text.slice(first + 1, second);
    const b64 = text.slice(second + 1);
    if (!NAME_RE.test(name)) throw new FormatError(`log public key: invalid key name ${pyRepr(name)}`);
    const raw = b64decode(b64);
    if (!/^([0-9a-fA-F]{2})*$/.test(hexId) || raw === null) {
      throw new FormatError("log public key: not hex/base64");
    }
    const id = fromHex(hexId);
    if (id.length !== 4 || raw.length !== 33 || raw[0] !== ALG_ED25519) {
      throw new FormatError("log public key: expected a 4-byte id and an Ed25519 key (0x01)");
    }
    const pub = raw.subarray(1);
    if (!equal(keyId(name, pub), id)) {
      throw new FormatError("log public key: key id does not match name and key");
    }
    return new NoteVerifier(name, id, pub);
  }

  toString() {
    return `${this.name}+${toHex(this.keyId)}+${b64encode(concat(Uint8Array.of(1), this.publicKey))}`;
  }
}

function splitNote(note, what = "checkpoint") {
  if (utf8(note).length > MAX_NOTE_SIZE) {
    throw new FormatError(`${what}: expected at most ${MAX_NOTE_SIZE} bytes`);
  }
  const sep = note.lastIndexOf("\n\n");
  if (sep < 0 || !note.endsWith("\n")) {
    throw new FormatError(`${what}: expected a body, a blank line and signature lines`);
  }
  const body = note.slice(0, sep + 1);
  const sigBlock = note.slice(sep + 2);
  const sigs = [];
  for (const line of sigBlock.slice(0, -1).split("\n")) {
    if (!line.startsWith(SIG_PREFIX)) {
      throw new FormatError(`${what}: expected a signature line, got ${pyRepr(line.slice(0, 60))}`);
    }
    const parts = line.slice(SIG_PREFIX.length).split(" ");
    if (parts.length !== 2 || !NAME_RE.test(parts[0])) {
      throw new FormatError(`${what}: malformed signature line ${pyRepr(line.slice(0, 60))}`);
    }
    const blob = b64decode(parts[1]);
    if (blob === null) throw new FormatError(`${what}: signature is not base64`);
    if (blob.length < 5) throw new FormatError(`${what}: signature too short`);
    sigs.push([parts[0], blob]);
  }
  if (!sigs.length) throw new FormatError(`${what}: no signature lines`);
  return [body, sigs];
}

/** Parse the body of a checkpoint note without checking signatures. */
export function parseCheckpoint(note) {
  const [body] = splitNote(note);
  const lines = body.slice(0, -1).split("\n");
  if (lines.length !== 3) {
    throw new FormatError(
      `checkpoint body: expected 3 lines (origin, size, root), got ${lines.length}`,
    );
  }
  const [origin, sizeText, rootB64] = lines;
  if (!origin) throw new FormatError("checkpoint body: empty origin");
  if (!DECIMAL_RE.test(sizeText) || BigInt(sizeText) >= 2n ** 64n) {
    throw new FormatError(
      `checkpoint body: tree size not a canonical decimal: ${pyRepr(sizeText)}`,
    );
  }
  const root = b64decode(rootB64);
  if (root === null) throw new FormatError("checkpoint body: root hash is not base64");
  if (root.length !== 32 || b64encode(root) !== rootB64) {
    throw new FormatError("checkpoint body: expected a canonical base64 32-byte root hash");
  }
  return { origin, treeSize: BigInt(sizeText), rootHash: root };
}

/** Check that ``note`` is a checkpoint for ``origin`` signed by ``verifier``'s key. */
export function verifyCheckpoint(note, verifier, origin) {
  const checkpoint = parseCheckpoint(note);
  if (checkpoint.origin !== origin) {
    throw new SignatureInvalidError(
      `checkpoint origin: expected ${pyRepr(origin)}, got ${pyRepr(checkpoint.origin)}`,
    );
  }
  verifyNote(note, verifier, "checkpoint");
  return checkpoint;
}

/** The body of ``note`` once a signature by ``verifier``'s key verifies over it. */
export function verifyNote(note, verifier, what = "note") {
  const [body, sigs] = splitNote(note, what);
  for (const [name, blob] of sigs) {
    if (name !== verifier.name || !equal(blob.subarray(0, 4), verifier.keyId)) continue;
    let ok = false;
    try {
      // RFC 8032 verification (zip215 off): non-canonical encodings are refused, as OpenSSL does.
      ok = ed25519.verify(blob.subarray(4), utf8(body), verifier.publicKey, { zip215: false });
    } catch {
      ok = false;
    }
    if (!ok) {
      throw new SignatureInvalidError(
        `${what} signature: does not verify with the trusted log key ${name}`,
      );
    }
    return body;
  }
  throw new SignatureInvalidError(
    `${what} signature: expected a signature by the trusted log key ` +
      `${verifier.name}+${toHex(verifier.keyId)}, found only ` +
      sigs.map(([n, b]) => `${n}+${toHex(b.subarray(0, 4))}`).join(", "),
  );
}
