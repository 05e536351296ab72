// What a record's content must say, beyond its shape: a port of evledger_verify/content.py
// (read its docstring). Each check throws ContentError (a ValueError in Python) with the
// message the Python verifier gives, naming the field.

import {
  PyValueError,
  contains,
  eq,
  get,
  gt,
  isDict,
  isNumber,
  item,
  iter,
  lt,
  pyRepr,
  pyStr,
  truthy,
} from "./py.js";

/** The fields each workflow step owns (and must carry); no step carries another's. */
export const STEP_FIELDS = Object.freeze({
  ncr: {
    open: ["nature"],
    evaluated: ["evaluation", "investigation"],
    dispositioned: ["disposition", "rationale"],
    closed: ["summary"],
  },
  capa: {
    open: ["problem"],
    investigation: ["root_cause"],
    action_plan: ["actions", "due_by", "check_after_days"],
    implementation: ["implemented"],
    effectiveness_check: ["effective", "no_adverse_effect", "result", "data"],
    closed: ["summary"],
    cancelled: ["reason"],
  },
  change: {
    requested: ["reason", "description"],
    assessed: ["impact", "assessment"],
    approved: ["approval"],
    implemented: ["implementation"],
    verified: ["verification"],
    closed: ["summary"],
    rejected: ["rejection"],
    withdrawn: ["withdrawal"],
  },
});

/** A record's content contradicts itself or lacks what its step must state. */
export class ContentError extends PyValueError {
  static pyName = "ContentError";
  get pyBase() {
    return "ValueError";
  }
}

const isNone = (v) => v === null || v === undefined;

/** A value outside its limits carries no pass verdict (unless sampling counts it). */
export function checkCharacteristic(c) {
  const lower = get(c, "lower");
  const upper = get(c, "upper");
  const value = get(c, "value");
  if ((!isNone(lower) || !isNone(upper)) && !isNumber(value)) {
    throw new ContentError(
      `${pyStr(get(c, "name"))}: a characteristic with limits needs a numeric value`,
    );
  }
  if (
    isNone(get(c, "nonconforming")) &&
    isNumber(value) &&
    get(c, "verdict") === "pass" &&
    ((!isNone(lower) && lt(value, lower)) || (!isNone(upper) && gt(value, upper)))
  ) {
    throw new ContentError(
      `${pyStr(get(c, "name"))}: value ${pyStr(value)} ${pyStr(get(c, "unit"))} is outside ` +
        `[${pyStr(lower)}, ${pyStr(upper)}] and cannot carry a pass verdict`,
    );
  }
}

/** Every characteristic's verdict agrees with its value, the overall verdict with them, and
 * nonconforming counts come with a sampling plan, for every characteristic. */
export function checkInspection(body) {
  const raw = get(body, "characteristics");
  const characteristics = truthy(raw) ? [...iter(raw)] : [];
  for (const c of characteristics) {
    if (!isDict(c)) throw new ContentError("characteristics: expected objects");
    checkCharacteristic(c);
  }
  const failed = characteristics
    .filter((c) => get(c, "verdict") === "fail")
    .map((c) => pyStr(get(c, "name")));
  if (failed.length && get(body, "verdict") === "pass") {
    throw new ContentError(`verdict pass but characteristics failed: ${failed.join(", ")}`);
  }
  if (get(body, "schema") !== "inspection/2") return;
  const counted = characteristics.map((c) => !isNone(get(c, "nonconforming")));
  if (!isNone(get(body, "sampling")) && !counted.every(Boolean)) {
    throw new ContentError(
      "an inspection under a sampling plan counts nonconforming items for every " +
        "characteristic (nonconforming)",
    );
  }
  if (isNone(get(body, "sampling")) && counted.some(Boolean)) {
    throw new ContentError("nonconforming counts are judged by a sampling plan (sampling)");
  }
}

/** The step carries each field it owns and none another step owns. */
export function checkStepFields(rtype, step, fields) {
  const steps = STEP_FIELDS[rtype];
  const own = Object.hasOwn(steps, step) ? steps[step] : null;
  if (own === null) {
    throw new ContentError(
      `${rtype} step ${pyRepr(step)}: expected one of ${Object.keys(steps).join(", ")}`,
    );
  }
  const missing = own.filter((f) => isNone(get(fields, f)));
  if (missing.length) throw new ContentError(`${rtype} step ${step} needs ${missing.join(", ")}`);
  const foreign = [];
  for (const [s, owned] of Object.entries(steps)) {
    for (const f of owned) {
      if (s !== step && !own.includes(f) && !isNone(get(fields, f))) {
        foreign.push(`${f} (step ${s})`);
      }
    }
  }
  if (foreign.length) {
    throw new ContentError(`${rtype} step ${step} cannot carry ${foreign.join(", ")}`);
  }
}

/** The bounds a concession states (the schema checks their form in full). */
function concession(c) {
  if (!isDict(c)) throw new ContentError("ncr concession: expected an object");
  const names = get(c, "characteristics");
  const quantity = get(c, "quantity");
  if (!Array.isArray(names) || names.length === 0) {
    throw new ContentError("ncr concession: characteristics: name at least one");
  }
  if (typeof quantity !== "bigint" || quantity < 1n) {
    throw new ContentError("ncr concession: quantity: a whole number of at least 1");
  }
  for (const name of ["unit", "valid_until"]) {
    const v = get(c, name);
    if (typeof v !== "string" || !v) throw new ContentError(`ncr concession: ${name}: required`);
  }
}

/** ``assignable_cause`` is the evaluation's; a use_as_is disposition, and only it, states its
 * concession. */
export function checkNcr(fields) {
  if (!isNone(get(fields, "assignable_cause")) && get(fields, "step") !== "evaluated") {
    throw new ContentError("ncr assignable_cause: the evaluated step's finding only");
  }
  const conceded = !isNone(get(fields, "concession"));
  if (conceded !== (get(fields, "disposition") === "use_as_is")) {
    throw new ContentError(
      "ncr concession: a use_as_is disposition states its concession " +
        "(characteristics, quantity, unit, valid_until); no other step carries one",
    );
  }
}

/** The content rules for ``body`` (a record as logged). */
export function check(body) {
  const rtype = get(body, "type");
  if (eq(rtype, "inspection")) {
    checkInspection(body);
  } else if (contains(STEP_FIELDS_DICT, rtype) && typeof get(body, "step") === "string") {
    checkStepFields(rtype, item(body, "step"), body);
    if (rtype === "ncr") {
      checkNcr(body);
      if (!isNone(get(body, "concession"))) concession(item(body, "concession"));
    }
  }
}

const STEP_FIELDS_DICT = Object.assign(Object.create(null), STEP_FIELDS);
