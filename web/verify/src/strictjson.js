// Strict JSON for every file the page reads, as evledger_verify/strictjson.py reads it.
//
//   const value = loads(bytes);   // Uint8Array or string
//
// UTF-8 (a leading byte order mark is ignored), no NaN or Infinity, no duplicate keys, at most
// MAX_DEPTH levels. Unlike JSON.parse it keeps what Python keeps: an integer literal is a BigInt
// (exact, any size up to MAX_INT_DIGITS digits), a literal with a fraction or an exponent a
// Number (a float), so `5` and `5.0` differ where a receipt wants an integer. Objects have no
// prototype (a key "__proto__" is an ordinary key). Errors are FormatError saying what was
// expected.

import { FormatError } from "./errors.js";

export const MAX_DEPTH = 32;
/** Python refuses integers longer than this (sys.get_int_max_str_digits()). */
export const MAX_INT_DIGITS = 4300;

const UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const NUMBER = /-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?/y;
const ESCAPES = { '"': '"', "\\": "\\", "/": "/", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t" };

/** The text of UTF-8 ``bytes`` (a BOM dropped), or FormatError naming the first bad byte. */
export function decodeUtf8(bytes) {
  let start = 0;
  if (bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) start = 3;
  const body = bytes.subarray(start);
  try {
    return UTF8.decode(body);
  } catch {
    const at = firstBadUtf8(body);
    const hex = body[at].toString(16).padStart(2, "0");
    throw new FormatError(`expected UTF-8 (RFC 8259), got byte 0x${hex} at offset ${start + at}`);
  }
}

function firstBadUtf8(b) {
  // Where Python's strict decoder stops: the first byte that starts no valid sequence.
  for (let i = 0; i < b.length; ) {
    const c = b[i];
    let n = 0;
    let lo = 0x80;
    let hi = 0xbf;
    if (c < 0x80) { i += 1; continue; }
    if (c >= 0xc2 && c <= 0xdf) n = 1;
    else if (c >= 0xe0 && c <= 0xef) { n = 2; if (c === 0xe0) lo = 0xa0; if (c === 0xed) hi = 0x9f; }
    else if (c >= 0xf0 && c <= 0xf4) { n = 3; if (c === 0xf0) lo = 0x90; if (c === 0xf4) hi = 0x8f; }
    else return i;
    for (let k = 1; k <= n; k++) {
      const d = b[i + k];
      if (d === undefined || d < (k === 1 ? lo : 0x80) || d > (k === 1 ? hi : 0xbf)) return i;
    }
    i += n + 1;
  }
  return 0;
}

/** The JSON value of ``input`` (bytes or text), checked strictly. */
export function loads(input) {
  let text;
  if (typeof input === "string") {
    text = input.charCodeAt(0) === 0xfeff ? input.slice(1) : input;
    if (text.includes("\u0000")) {
      throw new FormatError("expected UTF-8 JSON (RFC 8259), got a NUL character");
    }
  } else {
    text = decodeUtf8(input);
    const nul = input.indexOf(0);
    if (text && nul >= 0) {
      throw new FormatError(
        `expected UTF-8 JSON (RFC 8259), got a NUL byte at offset ${nul} (UTF-16 or UTF-32?)`,
      );
    }
  }
  if (!text) throw new FormatError("expected a JSON value, got nothing (empty)");
  return new Parser(text).document();
}

class Parser {
  constructor(text) {
    this.s = text;
    this.i = 0;
  }

  fail(what) {
    const before = this.s.slice(0, this.i);
    const line = before.split("\n").length;
    const column = this.i - before.lastIndexOf("\n");
    throw new FormatError(`not valid JSON: ${what} at line ${line} column ${column}`);
  }

  ws() {
    const s = this.s;
    let i = this.i;
    for (;;) {
      const c = s.charCodeAt(i);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
      else break;
    }
    this.i = i;
  }

  document() {
    this.ws();
    const value = this.value(0);
    this.ws();
    if (this.i !== this.s.length) this.fail("Extra data");
    return value;
  }

  value(depth) {
    const c = this.s[this.i];
    if (c === "{" || c === "[") {
      if (depth >= MAX_DEPTH) {
        throw new FormatError(`expected JSON nested at most ${MAX_DEPTH} levels deep, got deeper`);
      }
      return c === "{" ? this.object(depth + 1) : this.array(depth + 1);
    }
    if (c === '"') return this.string();
    if (this.s.startsWith("true", this.i)) { this.i += 4; return true; }
    if (this.s.startsWith("false", this.i)) { this.i += 5; return false; }
    if (this.s.startsWith("null", this.i)) { this.i += 4; return null; }
    for (const name of ["NaN", "Infinity", "-Infinity"]) {
      if (this.s.startsWith(name, this.i)) {
        throw new FormatError(
          `expected a finite number, got ${name} (${name} is not JSON, RFC 8259)`,
        );
      }
    }
    return this.number();
  }

  number() {
    NUMBER.lastIndex = this.i;
    const m = NUMBER.exec(this.s);
    if (!m) this.fail("Expecting value");
    this.i = NUMBER.lastIndex;
    const token = m[0];
    if (m[1] === undefined && m[2] === undefined) {
      const digits = token.replace("-", "").length;
      if (digits > MAX_INT_DIGITS) {
        throw new FormatError(
          `expected integers of at most ${MAX_INT_DIGITS} digits, got a longer one`,
        );
      }
      return BigInt(token);
    }
    return Number(token);
  }

  string() {
    const s = this.s;
    let i = this.i + 1;
    let out = "";
    let run = i;
    for (;;) {
      if (i >= s.length) this.fail("Unterminated string starting");
      const c = s.charCodeAt(i);
      if (c === 0x22) break;
      if (c < 0x20) { this.i = i; this.fail("Invalid control character"); }
      if (c === 0x5c) {
        out += s.slice(run, i);
        const e = s[i + 1];
        if (e === "u") {
          const hex = s.slice(i + 2, i + 6);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) { this.i = i; this.fail("Invalid \\uXXXX escape"); }
          out += String.fromCharCode(parseInt(hex, 16));
          i += 6;
        } else if (e !== undefined && Object.hasOwn(ESCAPES, e)) {
          out += ESCAPES[e];
          i += 2;
        } else {
          this.i = i;
          this.fail("Invalid \\escape");
        }
        run = i;
        continue;
      }
      i++;
    }
    out += s.slice(run, i);
    this.i = i + 1;
    return out;
  }

  array(depth) {
    this.i++;
    const out = [];
    this.ws();
    if (this.s[this.i] === "]") { this.i++; return out; }
    for (;;) {
      this.ws();
      out.push(this.value(depth));
      this.ws();
      const c = this.s[this.i];
      if (c === ",") { this.i++; continue; }
      if (c === "]") { this.i++; return out; }
      this.fail("Expecting ',' delimiter");
    }
  }

  object(depth) {
    this.i++;
    const out = Object.create(null);
    this.ws();
    if (this.s[this.i] === "}") { this.i++; return out; }
    for (;;) {
      this.ws();
      if (this.s[this.i] !== '"') this.fail("Expecting property name enclosed in double quotes");
      const key = this.string();
      this.ws();
      if (this.s[this.i] !== ":") this.fail("Expecting ':' delimiter");
      this.i++;
      this.ws();
      const value = this.value(depth);
      if (Object.hasOwn(out, key)) {
        const shown = key.length > 40 ? pyReprShort(key.slice(0, 40)) + "…" : pyReprShort(key);
        throw new FormatError(`duplicate key ${shown}: expected each key once per object`);
      }
      out[key] = value;
      this.ws();
      const c = this.s[this.i];
      if (c === ",") { this.i++; continue; }
      if (c === "}") { this.i++; return out; }
      this.fail("Expecting ',' delimiter");
    }
  }
}

function pyReprShort(key) {
  return "'" + key.replaceAll("\\", "\\\\").replaceAll("'", "\\'") + "'";
}

/** ``value`` with its integers (BigInt) as Numbers, for RFC 8785: an integer beyond
 * 2**53 - 1 cannot be canonicalized (I-JSON), as the Python rfc8785 package refuses it too. */
export function toPlain(value) {
  if (typeof value === "bigint") {
    if (value > 9007199254740991n || value < -9007199254740991n) {
      throw new FormatError(
        `canonical JSON: cannot canonicalize: ${value} exceeds safe integer domain for JSON floats`,
      );
    }
    return Number(value);
  }
  if (Array.isArray(value)) return value.map(toPlain);
  if (value !== null && typeof value === "object") {
    const out = Object.create(null);
    for (const k of Object.keys(value)) out[k] = toPlain(value[k]);
    return out;
  }
  return value;
}
