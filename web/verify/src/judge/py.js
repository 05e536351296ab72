// Python semantics the judge's modules need, so the JS port behaves as verifier/evledger_verify
// does on every value strictjson gives (integers BigInt, floats Number, objects with a null
// prototype): Python's exceptions and their messages, dict and list access, comparisons and
// equality across int/float/bool, str() and repr() of values, and datetime.fromisoformat /
// timestamp / fromtimestamp as CPython 3.11's C implementation does them.

import { floatRepr, pyRepr as baseRepr, pyType, strRepr } from "../errors.js";

export { floatRepr, strRepr };
import { MAX_INT_DIGITS } from "../strictjson.js";

// -- exceptions ---------------------------------------------------------------------------------

/** A Python exception: ``name`` is the Python class name (what the judge prints). */
export class PyException extends Error {
  constructor(message) {
    super(message);
    this.name = new.target.pyName ?? new.target.name;
  }
}
export class KeyError extends PyException {
  constructor(key) {
    super(pyRepr(key));
    this.key = key;
  }
}
export class PyTypeError extends PyException {
  static pyName = "TypeError";
}
export class PyValueError extends PyException {
  static pyName = "ValueError";
}
export class AttributeError extends PyException {}
export class IndexError extends PyException {}
export class OverflowError extends PyException {}
export class OSError extends PyException {}

/** Python's class name and whether ``exc`` is one of ``bases`` (by name, or its ``pyBase``). */
export function isPyError(exc, bases) {
  if (!(exc instanceof Error)) return false;
  return bases.includes(exc.name) || (exc.pyBase !== undefined && bases.includes(exc.pyBase));
}

// -- types ----------------------------------------------------------------------------------------

export function isDict(v) {
  return v !== null && typeof v === "object" && !Array.isArray(v) && !(v instanceof PyDateTime);
}
export const isInt = (v) => typeof v === "bigint";
/** isinstance(v, int | float) and not isinstance(v, bool). */
export const isNumber = (v) => typeof v === "bigint" || typeof v === "number";

/** type(v).__name__: errors.js's pyType, and a PyDateTime's. */
export function typeName(v) {
  return v instanceof PyDateTime ? "datetime.datetime" : pyType(v);
}

// -- access ---------------------------------------------------------------------------------------

/** ``obj.get(key, dflt)``; AttributeError unless ``obj`` is a dict. */
export function get(obj, key, dflt = null) {
  if (!isDict(obj)) {
    throw new AttributeError(`'${typeName(obj)}' object has no attribute 'get'`);
  }
  return Object.hasOwn(obj, key) ? obj[key] : dflt;
}

/** ``obj[key]`` for a dict (KeyError), a list (integer index) or anything else (TypeError). */
export function item(obj, key) {
  if (isDict(obj)) {
    if (typeof key !== "string") throw new KeyError(key);
    if (!Object.hasOwn(obj, key)) throw new KeyError(key);
    return obj[key];
  }
  if (Array.isArray(obj)) {
    if (typeof key === "bigint" || (typeof key === "number" && Number.isInteger(key))) {
      let i = Number(key);
      if (i < 0) i += obj.length;
      if (i < 0 || i >= obj.length) throw new IndexError("list index out of range");
      return obj[i];
    }
    throw new PyTypeError(`list indices must be integers or slices, not ${typeName(key)}`);
  }
  if (typeof obj === "string") {
    if (typeof key === "bigint" || typeof key === "number") {
      const chars = [...obj];
      let i = Number(key);
      if (i < 0) i += chars.length;
      if (i < 0 || i >= chars.length) throw new IndexError("string index out of range");
      return chars[i];
    }
    throw new PyTypeError(`string indices must be integers, not '${typeName(key)}'`);
  }
  throw new PyTypeError(`'${typeName(obj)}' object is not subscriptable`);
}

/** ``key in obj`` for a dict (keys), a list (equality) or a str (substring). */
export function contains(obj, key) {
  if (isDict(obj)) {
    if (!isHashable(key)) throw new PyTypeError(`unhashable type: '${typeName(key)}'`);
    return typeof key === "string" && Object.hasOwn(obj, key);
  }
  if (Array.isArray(obj)) return obj.some((x) => eq(x, key));
  if (typeof obj === "string") {
    if (typeof key !== "string") {
      throw new PyTypeError(`'in <string>' requires string as left operand, not ${typeName(key)}`);
    }
    return obj.includes(key);
  }
  throw new PyTypeError(`argument of type '${typeName(obj)}' is not iterable`);
}

export function isHashable(v) {
  return !(Array.isArray(v) || isDict(v));
}

/** list(x) / iterating ``x``: a list's items, a dict's keys, a str's characters. */
export function iter(x) {
  if (Array.isArray(x)) return x;
  if (isDict(x)) return Object.keys(x);
  if (typeof x === "string") return [...x];
  throw new PyTypeError(`'${typeName(x)}' object is not iterable`);
}

/** len(x). */
export function len(x) {
  if (Array.isArray(x)) return x.length;
  if (isDict(x)) return Object.keys(x).length;
  if (typeof x === "string") return [...x].length;
  throw new PyTypeError(`object of type '${typeName(x)}' has no len()`);
}

/** Python truthiness. */
export function truthy(v) {
  if (v === null || v === undefined || v === false) return false;
  if (v === true) return true;
  if (typeof v === "bigint") return v !== 0n;
  if (typeof v === "number") return v !== 0;
  if (typeof v === "string") return v.length > 0;
  if (Array.isArray(v)) return v.length > 0;
  if (isDict(v)) return Object.keys(v).length > 0;
  return true;
}

// -- comparison -----------------------------------------------------------------------------------

const num = (v) => (typeof v === "boolean" ? (v ? 1n : 0n) : v);
const isNumeric = (v) => typeof v === "bigint" || typeof v === "number" || typeof v === "boolean";

/** Python ``a == b`` over JSON values (1 == 1.0 == True; lists and dicts by content). */
export function eq(a, b) {
  if (a === b) return true;
  if (a === null || a === undefined || b === null || b === undefined) {
    return (a ?? null) === (b ?? null);
  }
  if (isNumeric(a) && isNumeric(b)) {
    // eslint-disable-next-line eqeqeq
    return num(a) == num(b);
  }
  if (typeof a === "string" || typeof b === "string") return false;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((x, i) => eq(x, b[i]));
  }
  if (a instanceof PyDateTime && b instanceof PyDateTime) return a.eq(b);
  if (isDict(a) && isDict(b)) {
    const ka = Object.keys(a);
    const kb = Object.keys(b);
    return ka.length === kb.length && ka.every((k) => Object.hasOwn(b, k) && eq(a[k], b[k]));
  }
  return false;
}

/** Python's ordering of ``a`` and ``b`` (-1, 0, 1), or TypeError naming ``op``. */
export function cmp(a, b, op = "<") {
  if (isNumeric(a) && isNumeric(b)) {
    const x = num(a);
    const y = num(b);
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (typeof a === "string" && typeof b === "string") {
    return strCmp(a, b);
  }
  if (a instanceof PyDateTime && b instanceof PyDateTime) return a.compare(b);
  if (Array.isArray(a) && Array.isArray(b)) {
    for (let i = 0; i < Math.min(a.length, b.length); i++) {
      if (!eq(a[i], b[i])) return cmp(a[i], b[i], op);
    }
    return a.length < b.length ? -1 : a.length > b.length ? 1 : 0;
  }
  throw new PyTypeError(
    `'${op}' not supported between instances of '${typeName(a)}' and '${typeName(b)}'`,
  );
}
export const lt = (a, b) => cmp(a, b, "<") < 0;
export const le = (a, b) => cmp(a, b, "<=") <= 0;
export const gt = (a, b) => cmp(a, b, ">") > 0;
export const ge = (a, b) => cmp(a, b, ">=") >= 0;

/** Strings in Python's order (by code point). */
export function strCmp(a, b) {
  const x = [...a];
  const y = [...b];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = x[i].codePointAt(0) - y[i].codePointAt(0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return x.length < y.length ? -1 : x.length > y.length ? 1 : 0;
}

/** sorted(values) for strings. */
export const sortedStr = (values) => [...values].sort(strCmp);

/** A stable sort by ``key`` with Python's comparison (TypeError as Python raises it). */
export function sortBy(values, key) {
  const keyed = values.map((v, i) => [key(v), i, v]);
  keyed.sort((p, q) => cmp(p[0], q[0]) || p[1] - q[1]);
  return keyed.map((p) => p[2]);
}

// -- text -----------------------------------------------------------------------------------------

/** Python's repr() of a value. */
export function pyRepr(v) {
  if (typeof v === "number") return floatRepr(v);
  if (typeof v === "string") return strRepr(v);
  if (typeof v === "boolean" || typeof v === "bigint") return baseRepr(v);
  if (v === null || v === undefined) return "None";
  if (Array.isArray(v)) return "[" + v.map(pyRepr).join(", ") + "]";
  if (v instanceof PyDateTime) return v.repr();
  return "{" + Object.keys(v).map((k) => `${pyRepr(k)}: ${pyRepr(v[k])}`).join(", ") + "}";
}

/** Python's str() of a value (f"{value}"). */
export function pyStr(v) {
  if (typeof v === "string") return v;
  if (v instanceof PyDateTime) return v.isoformat(" ");
  return pyRepr(v);
}

/** format(x, "g") for a float: ``precision`` significant digits, rounded half to even on the
 * exact binary value as Python rounds (JavaScript's toPrecision rounds ties up). */
export function formatG(x, precision = 6) {
  if (typeof x === "bigint") x = Number(x);
  if (!Number.isFinite(x)) return Number.isNaN(x) ? "nan" : x > 0 ? "inf" : "-inf";
  if (x === 0) return Object.is(x, -0) ? "-0" : "0";
  const sign = x < 0 ? "-" : "";
  let [digits, exp] = roundSignificant(Math.abs(x), precision);
  let out;
  if (exp >= -4 && exp < precision) {
    if (exp >= 0) {
      out = digits.slice(0, exp + 1).padEnd(exp + 1, "0");
      const frac = digits.slice(exp + 1).replace(/0+$/, "");
      if (frac) out += "." + frac;
    } else {
      out = ("0." + "0".repeat(-exp - 1) + digits).replace(/0+$/, "").replace(/\.$/, "");
    }
  } else {
    const frac = digits.slice(1).replace(/0+$/, "");
    out = digits[0] + (frac ? "." + frac : "") +
      `e${exp < 0 ? "-" : "+"}${String(Math.abs(exp)).padStart(2, "0")}`;
  }
  return sign + out;
}

/** The ``p`` significant decimal digits of positive finite ``x`` (exact, half to even) and
 * the decimal exponent of the first. */
function roundSignificant(x, p) {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const bits = view.getBigUint64(0);
  const biased = Number((bits >> 52n) & 0x7ffn);
  let mant = bits & ((1n << 52n) - 1n);
  let e2;
  if (biased === 0) e2 = -1074;
  else {
    mant |= 1n << 52n;
    e2 = biased - 1075;
  }
  // x = mant * 2^e2 = num / den
  let num = e2 >= 0 ? mant << BigInt(e2) : mant;
  let den = e2 >= 0 ? 1n : 1n << BigInt(-e2);
  let e10 = Number(x.toExponential().split("e")[1]);
  const scale = p - 1 - e10; // N = round(x * 10^scale)
  if (scale >= 0) num *= 10n ** BigInt(scale);
  else den *= 10n ** BigInt(-scale);
  let n = num / den;
  const r2 = 2n * (num % den);
  if (r2 > den || (r2 === den && n % 2n === 1n)) n += 1n;
  if (n === 10n ** BigInt(p)) {
    n /= 10n;
    e10 += 1;
  }
  return [n.toString(), e10];
}

/** float(v) for an int or a float (bool too), else TypeError/ValueError as Python says. */
export function toFloat(v) {
  if (typeof v === "number") return v;
  if (typeof v === "boolean") return v ? 1 : 0;
  if (typeof v === "bigint") {
    const f = Number(v);
    if (!Number.isFinite(f)) throw new OverflowError("int too large to convert to float");
    return f;
  }
  if (typeof v === "string") {
    const t = numberText(v);
    if (FLOAT_LITERAL.test(t)) return Number(t.replaceAll("_", ""));
    if (/^[+-]?(inf|infinity)$/i.test(t)) return t.startsWith("-") ? -Infinity : Infinity;
    if (/^[+-]?nan$/i.test(t)) return NaN;
    throw new PyValueError(`could not convert string to float: ${pyRepr(v)}`);
  }
  throw new PyTypeError(`float() argument must be a string or a real number, not '${typeName(v)}'`);
}

// Python's str.strip() whitespace, and its Unicode decimal digits (int() reads them).
const PY_SPACE = "\\t\\n\\x0b\\x0c\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
const STRIP = new RegExp(`^[${PY_SPACE}]+|[${PY_SPACE}]+$`, "gu");
const ND = /\p{Nd}/u;

function digitValue(ch) {
  // Decimal digits come in runs of ten, 0 to 9.
  const c = ch.codePointAt(0);
  let start = c;
  while (start > 0 && ND.test(String.fromCodePoint(start - 1))) start -= 1;
  return (c - start) % 10;
}

/** A text's Unicode decimal digits as ASCII ones, as int(), float() and Decimal read them. */
export function asciiDigits(text) {
  let out = "";
  for (const ch of text) {
    out += ch >= "0" && ch <= "9" ? ch : ND.test(ch) ? String(digitValue(ch)) : ch;
  }
  return out;
}

/** ``v`` as float() and int() read it: asciiDigits, Python's whitespace stripped from both
 * ends. */
function numberText(v) {
  return asciiDigits(v).replace(STRIP, "");
}

// The literals float() and int() accept (after numberText), underscores between digits.
const DIGITS = "[0-9](?:_?[0-9])*";
const FLOAT_LITERAL = new RegExp(
  `^[+-]?(?:${DIGITS}(?:\\.(?:${DIGITS})?)?|\\.${DIGITS})(?:[eE][+-]?${DIGITS})?$`,
);
const INT_LITERAL = new RegExp(`^([+-]?)(${DIGITS})$`);

/** int(v) for an int, a float (truncated), a bool or a str of (Unicode) decimal digits. */
export function toInt(v) {
  if (typeof v === "bigint") return v;
  if (typeof v === "boolean") return v ? 1n : 0n;
  if (typeof v === "number") {
    if (Number.isNaN(v)) throw new PyValueError("cannot convert float NaN to integer");
    if (!Number.isFinite(v)) throw new OverflowError("cannot convert float infinity to integer");
    return BigInt(Math.trunc(v));
  }
  if (typeof v === "string") {
    const m = INT_LITERAL.exec(numberText(v));
    if (m === null) throw new PyValueError(`invalid literal for int() with base 10: ${pyRepr(v)}`);
    const digits = m[2].replaceAll("_", "");
    if (digits.length > MAX_INT_DIGITS) {
      throw new PyValueError(
        `Exceeds the limit (${MAX_INT_DIGITS} digits) for integer string conversion: value has ` +
          `${digits.length} digits; use sys.set_int_max_str_digits() to increase the limit`,
      );
    }
    const n = BigInt(digits);
    return m[1] === "-" ? -n : n;
  }
  throw new PyTypeError(
    `int() argument must be a string, a bytes-like object or a real number, not '${typeName(v)}'`,
  );
}

/** Deep copy of a JSON value (copy.deepcopy); objects keep a null prototype. */
export function deepcopy(v) {
  if (Array.isArray(v)) return v.map(deepcopy);
  if (isDict(v)) {
    const out = Object.create(null);
    for (const k of Object.keys(v)) out[k] = deepcopy(v[k]);
    return out;
  }
  return v;
}

/** A fresh dict (null prototype) with ``entries``. */
export function dict(entries = []) {
  const out = Object.create(null);
  for (const [k, v] of entries) out[k] = v;
  return out;
}

// -- datetime -------------------------------------------------------------------------------------

const US = 1000000n;
const DAY_US = 86400n * US;
const MINYEAR = 1;
const MAXYEAR = 9999;
const DAYS_IN_MONTH = [0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

const isLeap = (y) => y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
const daysInMonth = (y, m) => (m === 2 && isLeap(y) ? 29 : DAYS_IN_MONTH[m]);
function daysBeforeYear(y) {
  const n = y - 1;
  return n * 365 + Math.floor(n / 4) - Math.floor(n / 100) + Math.floor(n / 400);
}
function daysBeforeMonth(y, m) {
  let d = 0;
  for (let i = 1; i < m; i++) d += DAYS_IN_MONTH[i];
  return d + (m > 2 && isLeap(y) ? 1 : 0);
}
/** Proleptic Gregorian ordinal (0001-01-01 is 1). */
function ymdToOrd(y, m, d) {
  return daysBeforeYear(y) + daysBeforeMonth(y, m) + d;
}
function ordToYmd(n) {
  // As CPython's ord_to_ymd.
  n -= 1;
  const n400 = Math.floor(n / 146097);
  n %= 146097;
  let year = n400 * 400 + 1;
  const n100 = Math.floor(n / 36524);
  n %= 36524;
  const n4 = Math.floor(n / 1461);
  n %= 1461;
  const n1 = Math.floor(n / 365);
  n %= 365;
  year += n100 * 100 + n4 * 4 + n1;
  if (n1 === 4 || n100 === 4) return [year - 1, 12, 31];
  let month = 1;
  while (month < 12 && n >= daysBeforeMonth(year, month + 1)) month += 1;
  return [year, month, n - daysBeforeMonth(year, month) + 1];
}
const EPOCH_ORD = ymdToOrd(1970, 1, 1);

function timedeltaRepr(totalUs) {
  let days = totalUs / DAY_US;
  let rest = totalUs % DAY_US;
  if (rest < 0n) {
    rest += DAY_US;
    days -= 1n;
  }
  const parts = [];
  if (days !== 0n) parts.push(`days=${days}`);
  if (rest / US !== 0n) parts.push(`seconds=${rest / US}`);
  if (rest % US !== 0n) parts.push(`microseconds=${rest % US}`);
  return `datetime.timedelta(${parts.join(", ") || "0"})`;
}

/** A datetime: naive, or aware with a fixed UTC offset (all fromisoformat makes). */
export class PyDateTime {
  /** Fields are checked as CPython's constructor checks them (ValueError). */
  constructor(year, month, day, hour = 0, minute = 0, second = 0, microsecond = 0, offsetUs = null) {
    if (year < MINYEAR || year > MAXYEAR) throw new PyValueError(`year ${year} is out of range`);
    if (month < 1 || month > 12) throw new PyValueError("month must be in 1..12");
    if (day < 1 || day > daysInMonth(year, month)) {
      throw new PyValueError("day is out of range for month");
    }
    if (hour < 0 || hour > 23) throw new PyValueError("hour must be in 0..23");
    if (minute < 0 || minute > 59) throw new PyValueError("minute must be in 0..59");
    if (second < 0 || second > 59) throw new PyValueError("second must be in 0..59");
    if (microsecond < 0 || microsecond > 999999) {
      throw new PyValueError("microsecond must be in 0..999999");
    }
    Object.assign(this, { year, month, day, hour, minute, second, microsecond });
    /** null: naive; else the UTC offset in microseconds (BigInt). */
    this.offsetUs = offsetUs;
    const days = BigInt(ymdToOrd(year, month, day) - EPOCH_ORD);
    /** Wall-clock microseconds since 1970-01-01T00:00 (as if UTC). */
    this.wallUs =
      days * DAY_US +
      BigInt(hour * 3600 + minute * 60 + second) * US +
      BigInt(microsecond);
  }

  get aware() {
    return this.offsetUs !== null;
  }

  /** Microseconds since the epoch, UTC (a naive time taken as UTC: the machine's zone). */
  get utcUs() {
    return this.wallUs - (this.offsetUs ?? 0n);
  }

  /** datetime.fromtimestamp(ts, UTC) for an integer ``ts`` (BigInt or number). */
  static fromTimestamp(ts) {
    if (typeof ts === "number") {
      if (!Number.isFinite(ts)) {
        throw new (Number.isNaN(ts) ? PyValueError : OverflowError)(
          Number.isNaN(ts) ? "Invalid value NaN (not a number)" : "cannot convert float infinity to integer",
        );
      }
    }
    const us = typeof ts === "bigint" ? ts * US : BigInt(Math.round(ts * 1e6));
    return PyDateTime.fromUtcUs(us, true, ts);
  }

  static fromUtcUs(us, checkTimeT = false, ts = null) {
    if (checkTimeT) {
      const secs = us / US;
      if (secs > 9223372036854775807n || secs < -9223372036854775808n) {
        throw new OverflowError("timestamp out of range for platform time_t");
      }
    }
    let days = us / DAY_US;
    let rest = us % DAY_US;
    if (rest < 0n) {
      rest += DAY_US;
      days -= 1n;
    }
    const ord = days + BigInt(EPOCH_ORD);
    if (ord < 1n || ord > BigInt(ymdToOrd(MAXYEAR, 12, 31))) {
      if (checkTimeT && ts !== null) {
        const y = yearOfDays(days);
        if (y - 1900n > 2147483647n || y - 1900n < -2147483648n) {
          throw new OSError("[Errno 75] Value too large for defined data type");
        }
        throw new PyValueError(`year ${y} is out of range`);
      }
      throw new OverflowError("date value out of range");
    }
    const [y, m, d] = ordToYmd(Number(ord));
    const secs = Number(rest / US);
    return new PyDateTime(
      y,
      m,
      d,
      Math.floor(secs / 3600),
      Math.floor(secs / 60) % 60,
      secs % 60,
      Number(rest % US),
      0n,
    );
  }

  /** datetime.fromisoformat(text), as CPython 3.11's C implementation parses it. */
  static fromIsoFormat(text) {
    if (typeof text !== "string") throw new PyTypeError("fromisoformat: argument must be str");
    const parsed = parseIso(text);
    if (parsed === null) throw new PyValueError(`Invalid isoformat string: ${pyRepr(text)}`);
    const [y, mo, d, h, mi, s, us, tz] = parsed;
    let offset = null;
    if (tz !== null) {
      offset = tz;
      if (!(offset > -DAY_US && offset < DAY_US)) {
        throw new PyValueError(
          "offset must be a timedelta strictly between -timedelta(hours=24) and " +
            `timedelta(hours=24), not ${timedeltaRepr(offset)}.`,
        );
      }
    }
    return new PyDateTime(y, mo, d, h, mi, s, us, offset);
  }

  compare(other) {
    if (this.aware !== other.aware) {
      throw new PyTypeError("can't compare offset-naive and offset-aware datetimes");
    }
    const a = this.utcUs;
    const b = other.utcUs;
    return a < b ? -1 : a > b ? 1 : 0;
  }
  eq(other) {
    return this.aware === other.aware && this.utcUs === other.utcUs;
  }
  lt(o) {
    return this.compare(o) < 0;
  }
  le(o) {
    return this.compare(o) <= 0;
  }
  gt(o) {
    return this.compare(o) > 0;
  }
  ge(o) {
    return this.compare(o) >= 0;
  }

  /** This time shifted by ``us`` microseconds (OverflowError past the calendar's range). */
  plusUs(us) {
    const wall = this.wallUs + us;
    const t = PyDateTime.fromUtcUs(wall);
    return new PyDateTime(
      t.year, t.month, t.day, t.hour, t.minute, t.second, t.microsecond, this.offsetUs,
    );
  }

  /** int(self.timestamp()): float seconds, correctly rounded, then truncated toward zero. */
  intTimestamp() {
    if (this.aware) return truncOfQuotient(this.utcUs, US);
    // A naive time is local time (UTC here): CPython's local_to_seconds probes a day earlier
    // (year 0 on the first day), then adds the microseconds as a double.
    const secs = this.wallUs / US - (this.wallUs % US < 0n ? 1n : 0n);
    if (this.year === 1 && this.month === 1 && this.day === 1) {
      throw new PyValueError("year 0 is out of range");
    }
    return BigInt(Math.trunc(Number(secs) + this.microsecond / 1e6));
  }

  /** The same instant in UTC (astimezone(UTC)); naive taken as the machine's zone, UTC. */
  toUtc() {
    return PyDateTime.fromUtcUs(this.utcUs);
  }

  isoformat(sep = "T") {
    const p = (n, w = 2) => String(n).padStart(w, "0");
    let out =
      `${p(this.year, 4)}-${p(this.month)}-${p(this.day)}${sep}` +
      `${p(this.hour)}:${p(this.minute)}:${p(this.second)}`;
    if (this.microsecond) out += `.${p(this.microsecond, 6)}`;
    if (this.offsetUs !== null) {
      let off = this.offsetUs;
      const sign = off < 0n ? "-" : "+";
      if (off < 0n) off = -off;
      const hh = off / (3600n * US);
      const mm = (off / (60n * US)) % 60n;
      const ss = (off / US) % 60n;
      const uu = off % US;
      out += `${sign}${p(hh)}:${p(mm)}`;
      if (ss || uu) out += `:${p(ss)}`;
      if (uu) out += `.${p(uu, 6)}`;
    }
    return out;
  }

  repr() {
    return `datetime.datetime(${this.year}, ${this.month}, ${this.day}, ${this.hour}, ${this.minute}` +
      (this.second || this.microsecond ? `, ${this.second}` : "") +
      (this.microsecond ? `, ${this.microsecond}` : "") +
      (this.offsetUs === null ? "" : this.offsetUs === 0n
        ? ", tzinfo=datetime.timezone.utc"
        : `, tzinfo=datetime.timezone(${timedeltaRepr(this.offsetUs)})`) + ")";
  }
}

function yearOfDays(days) {
  // The proleptic Gregorian year of ``days`` since 1970-01-01 (any size).
  const ord = days + BigInt(EPOCH_ORD) - 1n; // days since 0001-01-01
  let n400 = ord / 146097n;
  let n = ord % 146097n;
  if (n < 0n) {
    n += 146097n;
    n400 -= 1n;
  }
  const [y] = ordToYmd(Number(n) + 1);
  return n400 * 400n + BigInt(y);
}

/** trunc(nearest double to a / b) for BigInts (Python: int(a / b)). */
export function truncOfQuotient(a, b) {
  const neg = a < 0n !== b < 0n;
  const x = a < 0n ? -a : a;
  const y = b < 0n ? -b : b;
  const s = x / y;
  const r = x % y;
  let q = s;
  if (r !== 0n && s < 2n ** 53n) {
    // Does s + r/y round up to s + 1 as a double?
    const up = Number(s + 1n);
    const below = prevDouble(up);
    // gap below s+1 = up - below = 2^k; rounds up when (y - r)/y < gap/2, ties to even.
    const gapExp = Math.round(Math.log2(up - below));
    let lhs = 2n * (y - r);
    let rhs = y;
    if (gapExp >= 0) rhs *= 2n ** BigInt(gapExp);
    else lhs *= 2n ** BigInt(-gapExp);
    if (lhs < rhs || (lhs === rhs && evenMantissa(up))) q = s + 1n;
  }
  return neg ? -q : q;
}

function prevDouble(x) {
  const buf = new DataView(new ArrayBuffer(8));
  buf.setFloat64(0, x);
  buf.setBigUint64(0, buf.getBigUint64(0) - 1n);
  return buf.getFloat64(0);
}
function evenMantissa(x) {
  const buf = new DataView(new ArrayBuffer(8));
  buf.setFloat64(0, x);
  return (buf.getBigUint64(0) & 1n) === 0n;
}

// CPython 3.11's datetime_fromisoformat (Modules/_datetimemodule.c) over the UTF-8 bytes of
// the text, with C's NUL terminator: [y, m, d, H, M, S, us, offset µs or null], or null for
// "Invalid isoformat string".
const UTF8_ENCODER = new TextEncoder();

function parseIso(text) {
  let b;
  let len;
  if (/[\ud800-\udfff]/.test(text)) {
    // _sanitize_isoformat_str: a lone surrogate at the separator's place (7, 8 or 10, the
    // first found) reads as "T"; any other one cannot be encoded: invalid.
    const cps = Array.from(text);
    const lone = (ch) => ch !== undefined && ch.length === 1 && /[\ud800-\udfff]/.test(ch);
    for (const pos of [7, 8, 10]) {
      if (pos > cps.length) break;
      if (lone(cps[pos])) {
        cps[pos] = "T";
        break;
      }
    }
    if (cps.some(lone)) return null;
    text = cps.join("");
  }
  if (/^[\x00-\x7f]*$/.test(text)) {
    len = text.length;
    b = new Uint8Array(len + 1);
    for (let i = 0; i < len; i++) b[i] = text.charCodeAt(i);
  } else {
    const enc = UTF8_ENCODER.encode(text);
    len = enc.length;
    b = new Uint8Array(len + 1);
    b.set(enc);
  }
  const at = (i) => (i < b.length ? b[i] : 0);
  const isDigit = (c) => c >= 0x30 && c <= 0x39;
  const digits = (p, n) => {
    let v = 0;
    for (let i = 0; i < n; i++) {
      const c = at(p + i);
      if (!isDigit(c)) return null;
      v = v * 10 + (c - 0x30);
    }
    return [v, p + n];
  };
  // _find_isoformat_datetime_separator
  let sep;
  if (len === 7) sep = 7;
  else if (at(4) === 0x2d) {
    if (at(5) === 0x57) {
      if (len < 8) sep = -1;
      else if (len > 8 && at(8) === 0x2d) {
        if (len === 9) sep = -1;
        else if (len > 10 && isDigit(at(10))) sep = 8;
        else sep = 10;
      } else sep = 8;
    } else sep = 10;
  } else if (at(4) === 0x57) {
    let idx = 7;
    for (; idx < len; idx++) if (!isDigit(at(idx))) break;
    if (idx < 9) sep = idx;
    else sep = idx % 2 === 0 ? 7 : 8;
  } else sep = 8;
  // parse_isoformat_date
  let r = digits(0, 4);
  if (r === null) return null;
  let year = r[0];
  let p = r[1];
  const usesSep = at(p) === 0x2d;
  if (usesSep) p++;
  let month;
  let day;
  if (at(p) === 0x57) {
    p++;
    r = digits(p, 2);
    if (r === null) return null;
    const week = r[0];
    p = r[1];
    let wday = 1;
    // (size_t)(p - dtstr) < len, len being the separator position (as size_t)
    const dlen = sep < 0 ? Infinity : sep;
    if (p < dlen) {
      if (usesSep && at(p++) !== 0x2d) return null;
      r = digits(p, 1);
      if (r === null) return null;
      wday = r[0];
      p = r[1];
    }
    const ymd = isoToYmd(year, week, wday);
    if (ymd === null) return null;
    [year, month, day] = ymd;
  } else {
    r = digits(p, 2);
    if (r === null) return null;
    month = r[0];
    p = r[1];
    if (usesSep && at(p++) !== 0x2d) return null;
    r = digits(p, 2);
    if (r === null) return null;
    day = r[0];
  }
  let time = [0, 0, 0, 0, null];
  if (len > sep) {
    time = parseIsoTime(b, sep + 1, len, at, digits, isDigit);
    if (time === null) return null;
  }
  return [year, month, day, ...time];
}

function isoToYmd(year, week, day) {
  if (year < MINYEAR || year > MAXYEAR) return null;
  if (week <= 0 || week >= 53) {
    let out = true;
    if (week === 53) {
      const first = ymdToOrd(year, 1, 1) % 7;
      if (first === 4 || (first === 3 && isLeap(year))) out = false;
    }
    if (out) return null;
  }
  if (day <= 0 || day >= 8) return null;
  const first = ymdToOrd(year, 1, 1);
  const weekday = (first + 6) % 7;
  let monday = first - weekday;
  if (weekday > 3) monday += 7;
  return ordToYmd(monday + (week - 1) * 7 + (day - 1));
}

function parseHms(start, end, at, digits, isDigit) {
  // parse_hh_mm_ss_ff: [rv, h, m, s, us, p]
  const vals = [0, 0, 0];
  let us = 0;
  let p = start;
  let hasSep = true;
  let i = 0;
  for (; i < 3; i++) {
    const r = digits(p, 2);
    if (r === null) return [-3];
    vals[i] = r[0];
    p = r[1];
    const c = at(p++);
    if (i === 0) hasSep = c === 0x3a;
    if (p >= end) return [c !== 0 ? 1 : 0, ...vals, us];
    else if (hasSep && c === 0x3a) continue;
    else if (c === 0x2e || c === 0x2c) break;
    else if (!hasSep) --p;
    else return [-4];
  }
  const remains = end - p;
  const toParse = remains >= 6 ? 6 : remains;
  const r = digits(p, toParse);
  if (r === null) return [-3];
  us = r[0];
  p = r[1];
  const correction = [100000, 10000, 1000, 100, 10];
  if (toParse < 6) us *= correction[toParse - 1];
  while (isDigit(at(p))) ++p;
  return [at(p) !== 0 ? 1 : 0, ...vals, us];
}

function parseIsoTime(b, start, len, at, digits, isDigit) {
  const end = len;
  let tz = start;
  do {
    const c = at(tz);
    if (c === 0x5a || c === 0x2b || c === 0x2d) break;
  } while (++tz < end);
  const t = parseHms(start, tz, at, digits, isDigit);
  if (t[0] < 0) return null;
  const [rv, h, m, s, us] = t;
  if (tz === end) {
    if (rv === 1) return null;
    return [h, m, s, us, null];
  }
  if (at(tz) === 0x5a) {
    if (at(tz + 1) !== 0) return null;
    return [h, m, s, us, 0n];
  }
  const sign = at(tz) === 0x2d ? -1n : 1n;
  const z = parseHms(tz + 1, end, at, digits, isDigit);
  if (z[0] !== 0) return null;
  const [, zh, zm, zs, zus] = z;
  const off = sign * (BigInt(zh * 3600 + zm * 60 + zs) * US + BigInt(zus));
  return [h, m, s, us, off];
}

// -- hashing, joining, slicing ------------------------------------------------------------------

/** A string two values share exactly when Python takes them as one dict key or set member
 * (1, 1.0 and True are one); TypeError for lists and dicts (unhashable). */
export function hashKey(v) {
  if (v === null || v === undefined) return "n";
  if (typeof v === "string") return "s" + v;
  if (isNumeric(v)) {
    const x = num(v);
    if (typeof x === "number") {
      if (Number.isInteger(x)) return "i" + BigInt(x).toString();
      return "f" + floatRepr(x);
    }
    return "i" + x.toString();
  }
  if (v instanceof PyDateTime) return "d" + v.utcUs + (v.aware ? "a" : "n");
  if (Array.isArray(v) && v.isTuple) return "t" + v.map(hashKey).join("\u0000");
  throw new PyTypeError(`unhashable type: '${typeName(v)}'`);
}

/** A tuple of values (hashable when its items are). */
export function tuple(...items) {
  const t = [...items];
  t.isTuple = true;
  return t;
}

/** A Python set: insertion-ordered, members compared as Python compares them. */
export class PySet {
  constructor(items = []) {
    this.map = new Map();
    for (const v of items) this.add(v);
  }
  add(v) {
    const k = hashKey(v);
    if (!this.map.has(k)) this.map.set(k, v);
    return this;
  }
  has(v) {
    return this.map.has(hashKey(v));
  }
  get size() {
    return this.map.size;
  }
  values() {
    return [...this.map.values()];
  }
  [Symbol.iterator]() {
    return this.map.values();
  }
  minus(other) {
    return new PySet(this.values().filter((v) => !other.has(v)));
  }
}

/** ``x in collection`` for a Set, a PySet or a list (by Python equality). */
export function member(collection, x) {
  if (collection instanceof PySet || collection instanceof Set) return collection.has(x);
  return collection.some((y) => eq(y, x));
}

/** A Python dict keyed by any hashable value, insertion-ordered. */
export class PyDict {
  constructor() {
    this.map = new Map();
  }
  get(k, dflt = undefined) {
    const e = this.map.get(hashKey(k));
    return e === undefined ? dflt : e[1];
  }
  has(k) {
    return this.map.has(hashKey(k));
  }
  set(k, v) {
    const h = hashKey(k);
    const e = this.map.get(h);
    if (e) e[1] = v;
    else this.map.set(h, [k, v]);
  }
  pop(k, dflt = undefined) {
    const h = hashKey(k);
    const e = this.map.get(h);
    if (e === undefined) return dflt;
    this.map.delete(h);
    return e[1];
  }
  setdefault(k, make) {
    const h = hashKey(k);
    let e = this.map.get(h);
    if (e === undefined) {
      e = [k, make()];
      this.map.set(h, e);
    }
    return e[1];
  }
  keys() {
    return [...this.map.values()].map((e) => e[0]);
  }
  values() {
    return [...this.map.values()].map((e) => e[1]);
  }
  entries() {
    return [...this.map.values()];
  }
  get size() {
    return this.map.size;
  }
}

/** sep.join(items): TypeError unless every item is a str. */
export function join(sep, items) {
  const list = [...items];
  list.forEach((x, i) => {
    if (typeof x !== "string") {
      throw new PyTypeError(`sequence item ${i}: expected str instance, ${typeName(x)} found`);
    }
  });
  return list.join(sep);
}

/** value[:n] for a str or a list. */
export function slice(value, n) {
  if (typeof value === "string") return [...value].slice(0, n).join("");
  if (Array.isArray(value)) return value.slice(0, n);
  if (isDict(value)) throw new PyTypeError("unhashable type: 'slice'");
  throw new PyTypeError(`'${typeName(value)}' object is not subscriptable`);
}

/** str(x).lower() as Python lowers (full Unicode case mapping, as JavaScript's). */
export const lower = (s) => s.toLowerCase();

/** Python's str.split(sep) for a str (AttributeError for anything else). */
export function split(s, sep) {
  if (typeof s !== "string") {
    throw new AttributeError(`'${typeName(s)}' object has no attribute 'split'`);
  }
  return s.split(sep);
}

/** Python's str.replace for a str (AttributeError for anything else). */
export function replace(s, a, b) {
  if (typeof s !== "string") {
    throw new AttributeError(`'${typeName(s)}' object has no attribute 'replace'`);
  }
  return s.split(a).join(b);
}
