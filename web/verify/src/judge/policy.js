// What a ledger's quality rules are configured with: a port of evledger_verify/policy.py (read
// its docstring: the segregation of duties as a table of Duty pairs, time limits, concessions,
// qualifications, Qualified Person release, material acceptance). An evidence bundle carries
// the policy its records were judged under (the manifest's policy_settings); Policy.fromJson
// reads it, and refuses what the Python verifier refuses with the same PolicyError text.
//
// Integers are BigInt, as strictjson.js reads them (max_signature_age and the other limits).

import { PyValueError, eq, isDict, pyRepr, pyStr, sortedStr, truthy, typeName } from "./py.js";

/** A policy file or a bundle's policy that cannot be used (named field, expected shape). */
export class PolicyError extends PyValueError {
  static pyName = "PolicyError";
  get pyBase() {
    return "ValueError";
  }
}

/** Whether a signature of ``rtype`` at ``step`` with ``meaning`` is ``which`` (type, step or
 * ``*``, meaning or ``*``). */
function matches(which, rtype, step, meaning) {
  const [t, s, m] = which;
  const stepOr = truthy(step) ? step : "*";
  return eq(t, rtype) && (s === "*" || eq(s, stepOr)) && (m === "*" || eq(m, meaning));
}

function signature(name, raw) {
  const parts = typeof raw === "string" ? raw.split("/") : [];
  if (parts.length !== 3 || !parts.every((p) => p.length > 0)) {
    throw new PolicyError(
      `duty ${name}: expected signatures as 'type/step/meaning' ('*' for any step or ` +
        `meaning), got ${pyRepr(raw)}`,
    );
  }
  return [parts[0], parts[1], parts[2]];
}

const has = (raw, key) => Object.hasOwn(raw, key);
const getOr = (raw, key, dflt = null) => (Object.hasOwn(raw, key) ? raw[key] : dflt);

/** Two signatures one person may not both give (see policy.py). */
export class Duty {
  constructor(name, first, second, scope, text) {
    Object.assign(this, { name, first, second, scope, text });
    Object.freeze(this);
  }

  toJson() {
    return {
      name: this.name,
      first: this.first.join("/"),
      second: this.second.join("/"),
      scope: this.scope,
      text: this.text,
    };
  }

  static fromJson(raw) {
    if (!isDict(raw)) throw new PolicyError(`duty: expected a table, got ${pyRepr(raw)}`);
    const name = getOr(raw, "name");
    const scope = getOr(raw, "scope");
    const text = getOr(raw, "text", "");
    if (typeof name !== "string" || !name) {
      throw new PolicyError(`duty name: expected a non-empty string, got ${pyRepr(name)}`);
    }
    if (scope !== "lot" && scope !== "entity") {
      throw new PolicyError(`duty ${name} scope: expected lot or entity, got ${pyRepr(scope)}`);
    }
    if (typeof text !== "string") throw new PolicyError(`duty ${name} text: expected a string`);
    return new Duty(
      name,
      signature(name, getOr(raw, "first")),
      signature(name, getOr(raw, "second")),
      scope,
      text || name,
    );
  }

  matches(which, rtype, step, meaning) {
    return matches(which, rtype, step, meaning);
  }
}

/** The default incompatibility table. */
export const DUTIES = Object.freeze([
  new Duty(
    "inspector_releaser",
    ["inspection", "*", "authored"],
    ["release", "*", "*"],
    "lot",
    "the person who inspected a lot does not decide its release",
  ),
  new Duty(
    "ncr_opener_dispositioner",
    ["ncr", "open", "*"],
    ["ncr", "dispositioned", "*"],
    "entity",
    "the person who opened an NCR does not disposition it",
  ),
  new Duty(
    "capa_implementer_checker",
    ["capa", "implementation", "*"],
    ["capa", "effectiveness_check", "*"],
    "entity",
    "the person who implemented a CAPA's action does not check its effectiveness",
  ),
  new Duty(
    "capa_owner_canceller",
    ["capa", "open", "*"],
    ["capa", "cancelled", "*"],
    "entity",
    "the person who opened a CAPA does not cancel it",
  ),
  new Duty(
    "change_requester_approver",
    ["change", "requested", "*"],
    ["change", "approved", "*"],
    "entity",
    "the person who requested a change does not approve it",
  ),
]);

/** A signature that needs a valid training record for ``task``. */
export class Qualification {
  constructor(task, sig) {
    this.task = task;
    this.signature = sig;
    Object.freeze(this);
  }

  matches(rtype, step, meaning) {
    return matches(this.signature, rtype, step, meaning);
  }

  toJson() {
    return { task: this.task, signature: this.signature.join("/") };
  }

  static fromJson(raw) {
    if (!isDict(raw) || typeof getOr(raw, "task") !== "string" || !raw.task) {
      throw new PolicyError(`qualification: expected a table with a task, got ${pyRepr(raw)}`);
    }
    return new Qualification(
      pyStr(raw.task),
      signature(`qualification ${raw.task}`, getOr(raw, "signature")),
    );
  }
}

const FIELDS = [
  "required_stages",
  "duties",
  "max_signature_age",
  "max_inspection_lag",
  "max_clock_skew",
  "concessions",
  "qualifications",
  "qualified_person_release",
  "material_acceptance",
];

/** The configuration the rules judge with (fields keep policy.py's names). */
export class Policy {
  constructor(fields = {}) {
    this.required_stages = ["final"];
    this.duties = DUTIES;
    this.max_signature_age = 900n;
    this.max_inspection_lag = 7n * 86400n;
    this.max_clock_skew = 300n;
    this.concessions = "bounded";
    this.qualifications = [];
    this.qualified_person_release = false;
    this.material_acceptance = "verified";
    Object.assign(this, fields);
    Object.freeze(this);
  }

  toJson() {
    return {
      required_stages: [...this.required_stages],
      duties: this.duties.map((d) => d.toJson()),
      max_signature_age: this.max_signature_age,
      max_inspection_lag: this.max_inspection_lag,
      max_clock_skew: this.max_clock_skew,
      concessions: this.concessions,
      qualifications: this.qualifications.map((q) => q.toJson()),
      qualified_person_release: this.qualified_person_release,
      material_acceptance: this.material_acceptance,
    };
  }

  /** A policy from its JSON form (a bundle's); fields not given keep ``base``'s. */
  static fromJson(raw, base = null) {
    const policy = base ?? new Policy();
    if (!isDict(raw)) throw new PolicyError(`policy: expected a table, got ${typeName(raw)}`);
    const unknown = sortedStr(Object.keys(raw).filter((k) => !FIELDS.includes(k)));
    if (unknown.length) throw new PolicyError(`policy: unknown field(s) ${unknown.join(", ")}`);
    const changes = {};
    if (has(raw, "required_stages")) {
      const stages = raw.required_stages;
      if (
        !Array.isArray(stages) ||
        !stages.every((s) => s === "incoming" || s === "in_process" || s === "final")
      ) {
        throw new PolicyError(
          "policy required_stages: expected a list of incoming, in_process, final",
        );
      }
      changes.required_stages = Object.freeze([...stages]);
    }
    if (has(raw, "duties")) {
      if (!Array.isArray(raw.duties)) {
        throw new PolicyError("policy duties: expected a list of duty tables");
      }
      const duties = raw.duties.map((d) => Duty.fromJson(d));
      if (new Set(duties.map((d) => d.name)).size !== duties.length) {
        throw new PolicyError("policy duties: a duty name appears twice");
      }
      changes.duties = Object.freeze(duties);
    }
    if (has(raw, "qualifications")) {
      if (!Array.isArray(raw.qualifications)) {
        throw new PolicyError("policy qualifications: expected a list of tables");
      }
      changes.qualifications = Object.freeze(raw.qualifications.map((q) => Qualification.fromJson(q)));
    }
    if (has(raw, "qualified_person_release")) {
      if (typeof raw.qualified_person_release !== "boolean") {
        throw new PolicyError("policy qualified_person_release: expected true or false");
      }
      changes.qualified_person_release = raw.qualified_person_release;
    }
    if (has(raw, "concessions")) {
      if (raw.concessions !== "bounded" && raw.concessions !== "none") {
        throw new PolicyError(
          `policy concessions: expected bounded or none, got ${pyRepr(raw.concessions)}`,
        );
      }
      changes.concessions = raw.concessions;
    }
    if (has(raw, "material_acceptance")) {
      const m = raw.material_acceptance;
      if (m !== "verified" && m !== "unless_refused") {
        throw new PolicyError(
          `policy material_acceptance: expected verified or unless_refused, got ${pyRepr(m)}`,
        );
      }
      changes.material_acceptance = m;
    }
    for (const [key, low, high] of [
      ["max_signature_age", 60n, 86400n],
      ["max_inspection_lag", 0n, 366n * 86400n],
      ["max_clock_skew", 0n, 86400n],
    ]) {
      if (has(raw, key)) {
        const value = raw[key];
        if (typeof value !== "bigint" || !(low <= value && value <= high)) {
          throw new PolicyError(
            `policy ${key}: expected whole seconds from ${low} to ${high}, got ${pyRepr(value)}`,
          );
        }
        changes[key] = value;
      }
    }
    return new Policy({ ...policy, ...changes });
  }
}

/** The policy a ledger judges with when none is configured. */
export const DEFAULT_POLICY = new Policy();
