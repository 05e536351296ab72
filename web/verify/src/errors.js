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

/** Python's repr of a JSON value (strings, numbers, None, lists), for messages. */
export function pyRepr(value) {
  if (value === null || value === undefined) return "None";
  if (typeof value === "string") {
    const quote = value.includes("'") && !value.includes('"') ? '"' : "'";
    let out = "";
    for (const ch of value) {
      const c = ch.codePointAt(0);
      if (ch === "\\") out += "\\\\";
      else if (ch === quote) out += "\\" + ch;
      else if (ch === "\n") out += "\\n";
      else if (ch === "\r") out += "\\r";
      else if (ch === "\t") out += "\\t";
      else if (c < 0x20 || c === 0x7f) out += "\\x" + c.toString(16).padStart(2, "0");
      else out += ch;
    }
    return quote + out + quote;
  }
  if (typeof value === "boolean") return value ? "True" : "False";
  if (typeof value === "bigint") return String(value);
  if (typeof value === "number") {
    return Number.isInteger(value) && Math.abs(value) < 1e16 ? value.toFixed(1) : String(value);
  }
  if (Array.isArray(value)) return "[" + value.map(pyRepr).join(", ") + "]";
  return "{" + Object.keys(value).map((k) => `${pyRepr(k)}: ${pyRepr(value[k])}`).join(", ") + "}";
}

/** Python's str() of a JSON value: a string as it is, anything else as its repr. */
export function pyStr(value) {
  return typeof value === "string" ? value : pyRepr(value);
}
