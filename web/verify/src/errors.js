// One error root for the page's verifier, as in evledger_verify/errors.py. Messages read
// "what: expected X, got Y".
//
// VerificationError: the evidence is wrong (a failed check; exit code 1 in the CLI).
// CannotCheckError: the check could not be made at all (unreadable file, unreachable node: 2).

export class VerifyError extends Error {
  constructor(message) {
    super(message);
    this.name = new.target.name;
  }
}

export class VerificationError extends VerifyError {}
/** A Merkle inclusion or consistency proof does not hold. */
export class ProofError extends VerificationError {}
/** A checkpoint or record signature does not verify. */
export class SignatureInvalidError extends VerificationError {}
/** A receipt, checkpoint or trust file is not in the strict expected format. */
export class FormatError extends VerificationError {}
/** The check could not be carried out (bad input file, node unreachable). */
export class CannotCheckError extends VerifyError {}

/** Python's type name of a value from strictjson, for messages that match the CLI's. */
export function pyType(value) {
  if (value === null || value === undefined) return "NoneType";
  if (typeof value === "bigint") return "int";
  if (typeof value === "number") return "float";
  if (typeof value === "string") return "str";
  if (typeof value === "boolean") return "bool";
  if (Array.isArray(value)) return "list";
  return "dict";
}

/** Python's repr() of a float. */
export function floatRepr(x) {
  if (Number.isNaN(x)) return "nan";
  if (x === Infinity) return "inf";
  if (x === -Infinity) return "-inf";
  if (x === 0) return Object.is(x, -0) ? "-0.0" : "0.0";
  const [mant, expText] = x.toExponential().split("e");
  const exp = Number(expText);
  const neg = mant.startsWith("-");
  const digits = mant.replace("-", "").replace(".", "");
  let out;
  if (exp >= -4 && exp < 16) {
    if (exp >= 0) {
      const whole = digits.length > exp + 1 ? digits.slice(0, exp + 1) : digits.padEnd(exp + 1, "0");
      const frac = digits.length > exp + 1 ? digits.slice(exp + 1) : "0";
      out = `${whole}.${frac}`;
    } else {
      out = `0.${"0".repeat(-exp - 1)}${digits}`;
    }
  } else {
    const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    const e = Math.abs(exp);
    out = `${m}e${exp < 0 ? "-" : "+"}${String(e).padStart(2, "0")}`;
  }
  return (neg ? "-" : "") + out;
}

// Python's str.isprintable(): not a control, format, surrogate, private-use or unassigned
// character, nor a separator other than the ASCII space (Unicode as this engine knows it).
const NOT_PRINTABLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}]/u;

/** Python's repr() of a str. */
export function strRepr(value) {
  const quote = value.includes("'") && !value.includes('"') ? '"' : "'";
  let out = "";
  for (const ch of value) {
    const c = ch.codePointAt(0);
    if (ch === "\\") out += "\\\\";
    else if (ch === quote) out += "\\" + ch;
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (c === 0x20 || (c > 0x20 && c < 0x7f)) out += ch;
    else if (!NOT_PRINTABLE.test(ch)) out += ch;
    else if (c <= 0xff) out += "\\x" + c.toString(16).padStart(2, "0");
    else if (c <= 0xffff) out += "\\u" + c.toString(16).padStart(4, "0");
    else out += "\\U" + c.toString(16).padStart(8, "0");
  }
  return quote + out + quote;
}

/** Python's repr of a JSON value (strings, numbers, None, lists, dicts), for messages. */
export function pyRepr(value) {
  if (value === null || value === undefined) return "None";
  if (typeof value === "string") return strRepr(value);
  if (typeof value === "boolean") return value ? "True" : "False";
  if (typeof value === "bigint") return String(value);
  if (typeof value === "number") return floatRepr(value);
  if (Array.isArray(value)) return "[" + value.map(pyRepr).join(", ") + "]";
  return "{" + Object.keys(value).map((k) => `${pyRepr(k)}: ${pyRepr(value[k])}`).join(", ") + "}";
}

/** Python's str() of a JSON value: a string as it is, anything else as its repr. */
export function pyStr(value) {
  return typeof value === "string" ? value : pyRepr(value);
}
