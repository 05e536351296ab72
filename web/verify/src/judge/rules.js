// The quality rules, defined once: a port of evledger_verify/rules.py (read its docstring):
// who may sign which record at which step with which meaning (the authority matrix), which
// workflow step may follow which, release gating, corrections, time rules.
//
// A broken rule throws Refused (kind: the rule family; status; reasons). Values are as
// strictjson.js reads them (integers BigInt); times in Unix seconds are BigInt; `when` returns
// a PyDateTime (py.js): compare with its lt/le/gt/ge/eq/compare methods, never with < or >.
//
// master.js, oos.js and life.js (the other half of the port) are imported as rules.py imports
// master, oos and life; their functions are only called at judging time, so the module cycle
// is harmless.

import * as content from "./content.js";
import { ContentError } from "./content.js";
import { DEFAULT_POLICY } from "./policy.js";
import {
  IndexError,
  KeyError,
  OSError,
  OverflowError,
  PyDateTime,
  PyDict,
  PySet,
  PyTypeError,
  PyValueError,
  contains,
  deepcopy,
  dict,
  eq,
  formatG,
  get,
  gt,
  hashKey,
  isDict,
  isPyError,
  item,
  iter,
  join,
  lower,
  lt,
  pyRepr,
  pyStr,
  replace,
  slice,
  sortBy,
  split,
  toFloat,
  toInt,
  truthy,
  typeName,
} from "./py.js";
import * as life from "./life.js";
import * as master from "./master.js";
import * as oos from "./oos.js";

export { PyDateTime };

/** The version of the policy below; a change to the matrix or the workflows is a new one. */
export const POLICY_VERSION = "evledger-policy/3";

export const ROLES = Object.freeze([
  "admin",
  "qa_inspector",
  "qa_approver",
  "qualified_person",
  "production",
  "device",
  "auditor",
  "system",
]);
export const READ_ROLES = Object.freeze([
  "admin",
  "qa_inspector",
  "qa_approver",
  "qualified_person",
  "production",
  "auditor",
]);

const QA = ["qa_inspector", "qa_approver"];

/** "type|step" -> {meaning: roles allowed}  (21 CFR 11.10(g), 11.50). */
const MATRIX_ROWS = [
  ["signer", "*", { approved: ["admin"] }],
  ["inspection", "*", {
    authored: ["qa_inspector", "production"],
    reviewed: ["qa_approver"],
    verified: ["qa_approver"],
  }],
  ["release", "*", { released: ["qa_approver", "qualified_person"] }],
  ["ncr", "open", { authored: [...QA, "production"] }],
  ["ncr", "evaluated", { reviewed: QA }],
  ["ncr", "dispositioned", { approved: ["qa_approver"] }],
  ["ncr", "closed", { approved: ["qa_approver"] }],
  ["capa", "open", { authored: QA }],
  ["capa", "investigation", { authored: QA }],
  ["capa", "action_plan", { authored: QA }],
  ["capa", "implementation", { authored: [...QA, "production"] }],
  ["capa", "effectiveness_check", { verified: ["qa_approver"] }],
  ["capa", "closed", { approved: ["qa_approver"] }],
  ["capa", "cancelled", { approved: ["qa_approver"] }],
  ["change", "requested", { authored: [...QA, "production"] }],
  ["change", "assessed", { reviewed: QA }],
  ["change", "approved", { approved: ["qa_approver"] }],
  ["change", "implemented", { authored: [...QA, "production"] }],
  ["change", "verified", { verified: QA }],
  ["change", "closed", { approved: ["qa_approver"] }],
  ["change", "rejected", { approved: ["qa_approver"] }],
  ["change", "withdrawn", { authored: [...QA, "production"] }],
  ["scan", "*", { recorded: ["device"] }],
  ["process_reading", "*", { recorded: ["device"] }],
  ["epcis_event", "*", { recorded: ["system"] }],
  ["alert", "*", { recorded: ["auditor"], authored: QA }],
  ["recall", "*", { approved: ["qa_approver"], authored: QA }],
  ["correction", "*", { authored: [...QA, "production"] }],
  ["specification", "*", { authored: QA }],
  ["equipment", "*", { authored: QA }],
  ["calibration", "*", { verified: QA }],
  ["supplier", "*", { approved: ["qa_approver"] }],
  ["review", "*", { approved: ["qa_approver"] }],
  ["training", "*", { verified: QA }],
  ["complaint", "*", { authored: [...QA, "production"] }],
  ["hold", "*", { authored: QA, approved: ["qa_approver"] }],
  ["field_action", "*", { approved: ["qa_approver"] }],
  ["validation", "*", { recorded: ["auditor"], approved: ["qa_approver"] }],
];
export const MATRIX = new PyDict();
for (const [t, s, rule] of MATRIX_ROWS) {
  const r = Object.create(null);
  for (const [m, roles] of Object.entries(rule)) r[m] = Object.freeze([...roles]);
  MATRIX.set(tupleOf(t, s), r);
}
function tupleOf(a, b) {
  const t = [a, b];
  t.isTuple = true;
  return t;
}

/** Which step may follow which ("" key: the entity does not exist yet). */
export const NEXT_STEPS = Object.freeze({
  ncr: {
    null: ["open"],
    open: ["evaluated"],
    evaluated: ["dispositioned"],
    dispositioned: ["closed"],
    closed: [],
  },
  capa: {
    null: ["open"],
    open: ["investigation", "cancelled"],
    investigation: ["action_plan", "cancelled"],
    action_plan: ["implementation", "cancelled"],
    implementation: ["effectiveness_check", "cancelled"],
    effectiveness_check: ["closed", "investigation", "cancelled"],
    closed: [],
    cancelled: [],
  },
  change: {
    null: ["requested"],
    requested: ["assessed", "withdrawn"],
    assessed: ["approved", "rejected", "withdrawn"],
    approved: ["implemented"],
    implemented: ["verified"],
    verified: ["closed"],
    closed: [],
    rejected: [],
    withdrawn: [],
  },
});
const NEXT_STEPS_DICT = Object.assign(Object.create(null), NEXT_STEPS);

export const ENTITY_KEY = Object.freeze(Object.assign(Object.create(null), {
  ncr: "ncr_id",
  capa: "capa_id",
  change: "change_id",
  alert: "alert_id",
  recall: "recall_id",
}));
export const MASTER_KEY = Object.freeze(Object.assign(Object.create(null), {
  specification: ["specification", "spec_id"],
  equipment: ["equipment", "equipment_id"],
  calibration: ["equipment", "equipment_id"],
  supplier: ["supplier", "supplier_id"],
}));

export const PROTECTED = Object.freeze(Object.assign(Object.create(null), {
  "*": ["record_id", "type", "schema", "lot"],
  inspection: ["stage", "material_lot", "supplier", "specification", "retest", "sampling"],
  scan: ["station", "operation", "gs1", "consignee", "supplier", "pallet"],
  ncr: ["ncr_id", "step", "disposition", "capa_id", "refs", "assignable_cause", "concession"],
  capa: [
    "capa_id",
    "step",
    "ncr_id",
    "effective",
    "no_adverse_effect",
    "due_by",
    "check_after_days",
    "data",
  ],
  change: ["change_id", "step", "specifications", "effective_from"],
  alert: ["alert_id", "refs"],
}));
export const UNCORRECTABLE = Object.freeze([
  "signer",
  "correction",
  "release",
  "recall",
  "review",
  "hold",
  "field_action",
  "training",
  "specification",
  "equipment",
  "calibration",
  "supplier",
  "validation",
]);

/** A rule the record breaks (kind: the rule family; status: forbidden, conflict, invalid or
 * not_found; reasons: every reason when there are several). */
export class Refused extends Error {
  constructor(kind, status, message, reasons = []) {
    super(message);
    this.name = "Refused";
    this.kind = kind;
    this.status = status;
    this.reasons = [...reasons];
  }

  toString() {
    return this.message;
  }
}

/** A logged record with its signature manifestation (21 CFR 11.50). */
export class Stored {
  constructor({
    record_id,
    type,
    body,
    record_hash,
    signer,
    printed_name = null,
    meaning,
    signed_at,
    accepted_at,
    history = [],
    original = null,
  }) {
    Object.assign(this, {
      record_id,
      type,
      body,
      record_hash,
      signer,
      printed_name,
      meaning,
      signed_at,
      accepted_at,
      history,
      original,
    });
  }

  manifestation() {
    return dict([
      ["signer", this.signer],
      ["printed_name", this.printed_name],
      ["signed_at", this.signed_at],
      ["meaning", this.meaning],
    ]);
  }

  view() {
    return dict([
      ["record_id", this.record_id],
      ["type", this.type],
      ["record_hash", this.record_hash],
      ["current", this.body],
      ["signature", this.manifestation()],
      ["accepted_at", this.accepted_at],
      ["changed_since_first_entry", this.history.length > 0],
      ["history", this.history],
    ]);
  }

  /** copy.deepcopy(self). */
  clone() {
    return new Stored({
      ...this,
      body: deepcopy(this.body),
      history: deepcopy(this.history),
      original: deepcopy(this.original),
    });
  }
}

// -- time -----------------------------------------------------------------------------------------

const END_OF_TIME = 2n ** 63n;

/** A Unix time (BigInt) as Stored.signed_at holds it (UTC, ISO 8601); past year 9999 (only a
 * hostile bundle) as its end. */
export function utcIso(ts) {
  try {
    return replace(PyDateTime.fromTimestamp(ts).isoformat(), "+00:00", "Z");
  } catch (exc) {
    if (exc instanceof PyValueError || exc instanceof OverflowError || exc instanceof OSError) {
      return "9999-12-31T23:59:59Z";
    }
    throw exc;
  }
}

/** A record's ISO 8601 time as an aware PyDateTime (UTC when the text has no offset). */
export function when(value) {
  const t = PyDateTime.fromIsoFormat(replace(pyStr(value), "Z", "+00:00"));
  if (t.aware) return t;
  return new PyDateTime(
    t.year, t.month, t.day, t.hour, t.minute, t.second, t.microsecond, 0n,
  );
}

/** The last of a workflow entity's ``records`` (in log order) at ``step``. */
export function latestStep(records, step) {
  const list = [...records];
  for (let i = list.length - 1; i >= 0; i--) {
    if (eq(get(list[i].body, "step"), step)) return list[i];
  }
  return null;
}

/** A logged acceptance time (UTC, ISO 8601) in Unix seconds (BigInt); one that cannot be read
 * (only a hostile bundle) as the end of time: no authority then. */
export function unixSeconds(iso) {
  try {
    return PyDateTime.fromIsoFormat(replace(iso, "Z", "+00:00")).intTimestamp();
  } catch (exc) {
    if (isPyError(exc, ["ValueError", "TypeError", "OverflowError", "AttributeError"])) {
      return END_OF_TIME;
    }
    throw exc;
  }
}

// -- authority ------------------------------------------------------------------------------------

function rule(recordType, step) {
  const s = truthy(step) ? step : "*";
  return MATRIX.get(tupleOf(recordType, s), null) ?? MATRIX.get(tupleOf(recordType, "*"), null);
}

export function allowedRoles(recordType, step, meaning) {
  const r = rule(recordType, step);
  if (r === null) return [];
  return typeof meaning === "string" && Object.hasOwn(r, meaning) ? r[meaning] : [];
}

/** Throw Refused naming the rule unless one of ``roles`` may sign. */
export function checkAuthority(recordType, step, meaning, roles, who) {
  roles = [...iter(roles)];
  const allowed = allowedRoles(recordType, step, meaning);
  const mine = new PySet(roles);
  if (allowed.some((r) => mine.has(r))) return;
  const what = recordType + (truthy(step) ? ` step ${pyStr(step)}` : "");
  const r = rule(recordType, step) ?? Object.create(null);
  if (!allowed.length) {
    const meanings =
      Object.entries(r)
        .map(([m, rs]) => `${m} (${rs.join("/")})`)
        .join(", ") || "none";
    throw new Refused(
      "authority",
      "forbidden",
      `authority: ${what} cannot be signed with meaning ${pyRepr(meaning)}; ` +
        `allowed meanings: ${meanings}`,
    );
  }
  throw new Refused(
    "authority",
    "forbidden",
    `authority: ${what} with meaning ${pyRepr(meaning)} needs role ${allowed.join(" or ")}; ` +
      `${who} has ${join(", ", roles) || "no role"}`,
  );
}

// -- corrections ----------------------------------------------------------------------------------

/** The workflow entity a record belongs to, or the record a correction corrects. */
export function subjectOf(record) {
  const rtype = get(record, "type");
  if (contains(ENTITY_KEY, rtype)) return `${rtype}:${pyStr(item(record, ENTITY_KEY[rtype]))}`;
  if (contains(MASTER_KEY, rtype)) {
    const [kind, key] = MASTER_KEY[rtype];
    return `${kind}:${pyStr(item(record, key))}`;
  }
  if (rtype === "correction") return `record:${pyStr(item(record, "corrects"))}`;
  if (rtype === "review") return `record:${pyStr(item(record, "reviews"))}`;
  if (rtype === "inspection" && get(record, "sampling") !== null) return streamOf(record);
  if (rtype === "training") return `training:${pyStr(item(record, "person"))}`;
  return null;
}

/** The product stream an inspection under a sampling plan belongs to. */
export function streamOf(body) {
  const gtin = item(item(body, "product"), "gtin");
  const stage = item(body, "stage");
  const supplier = get(body, "supplier");
  return `stream:${pyStr(gtin)}:${pyStr(stage)}:${truthy(supplier) ? pyStr(supplier) : "-"}`;
}

function pointer(path) {
  return split(path, "/")
    .slice(1)
    .map((p) => p.split("~1").join("/").split("~0").join("~"));
}

/** Set ``path`` (JSON pointer) in ``body``; returns the old value. The path must exist. */
export function applyChange(body, path, value) {
  const parts = pointer(path);
  if (!parts.length) {
    throw new Refused("correction", "invalid", `correction path ${pyRepr(path)}: not a JSON pointer`);
  }
  const btype = get(body, "type");
  const own = PROTECTED[pyStr(btype)] ?? [];
  if (PROTECTED["*"].includes(parts[0]) || own.includes(parts[0])) {
    throw new Refused(
      "correction",
      "invalid",
      `correction path ${path}: ${parts[0]} cannot be corrected` +
        (contains(NEXT_STEPS_DICT, btype) && !PROTECTED["*"].includes(parts[0])
          ? `; ${pyStr(btype)} ${parts[0]} changes only through its own signed steps`
          : "; submit a new record instead"),
    );
  }
  let node = body;
  for (const part of parts.slice(0, -1)) node = stepInto(node, part, path);
  const last = parts[parts.length - 1];
  if (Array.isArray(node)) {
    const index = indexOf(node, last, path);
    const old = node[index];
    node[index] = value;
    return old;
  }
  if (!isDict(node) || !Object.hasOwn(node, last)) {
    throw new Refused(
      "correction",
      "invalid",
      `correction path ${path}: no such field in the original`,
    );
  }
  const old = node[last];
  node[last] = value;
  return old;
}

function stepInto(node, part, path) {
  if (Array.isArray(node)) return node[indexOf(node, part, path)];
  if (isDict(node) && Object.hasOwn(node, part)) return node[part];
  throw new Refused("correction", "invalid", `correction path ${path}: no such field in the original`);
}

function indexOf(node, part, path) {
  if (!/^[0-9]+$/.test(part) || BigInt(part) >= BigInt(node.length)) {
    throw new Refused("correction", "invalid", `correction path ${path}: no element ${part}`);
  }
  return Number(part);
}

/** Apply each correction to the record it corrects, in order; the corrected record keeps its
 * original body and a history of (path, old, new, who, when, why). */
export function applyCorrections(records) {
  records = [...records];
  const byId = new Map(records.map((r) => [r.record_id, r]));
  for (const c of records) {
    if (c.type !== "correction") continue;
    const target = byId.get(pyStr(item(c.body, "corrects")));
    if (target === undefined) continue;
    if (target.original === null) target.original = deepcopy(target.body);
    for (const change of iter(item(c.body, "changes"))) {
      const path = item(change, "path");
      const old = applyChange(target.body, path, deepcopy(item(change, "value")));
      target.history.push(
        dict([
          ["correction", c.record_id],
          ["path", item(change, "path")],
          ["old", old],
          ["new", item(change, "value")],
          ["reason", item(c.body, "reason")],
          ...Object.entries(c.manifestation()),
        ]),
      );
    }
  }
  return records;
}

function checkContent(body, ruleName = "schema", prefix = "") {
  try {
    content.check(body);
  } catch (exc) {
    if (exc instanceof ContentError) throw new Refused(ruleName, "invalid", `${prefix}${exc.message}`);
    throw exc;
  }
}

/** The target's body with ``changes`` applied (``validate``: the record schemas, if any). */
export function correct(target, changes, validate = null) {
  const body = deepcopy(target.body);
  for (const change of iter(changes)) {
    const path = item(change, "path");
    applyChange(body, path, deepcopy(item(change, "value")));
  }
  if (validate !== null) {
    try {
      validate(body);
    } catch (exc) {
      throw new Refused(
        "correction",
        "invalid",
        `correction: the corrected record would be invalid: ${exc.message}`,
      );
    }
  }
  checkContent(body, "correction", "correction: the corrected record would be invalid: ");
  return body;
}

// -- workflows and release ------------------------------------------------------------------------

export function workflowStep(records, rtype, entity) {
  let step = null;
  const key = ENTITY_KEY[rtype];
  for (const r of records) {
    if (r.type === rtype && eq(get(r.body, key), entity)) step = pyStr(item(r.body, "step"));
  }
  return step;
}

/** Each NCR of the records (a dict per ncr id, in first-seen order): its step, refs, nature,
 * disposition, CAPA and concession so far, and dispositioned_by. */
export function ncrSummaries(records) {
  const out = new Map();
  for (const r of records) {
    if (r.type !== "ncr") continue;
    const id = pyStr(item(r.body, "ncr_id"));
    if (!out.has(id)) {
      out.set(id, dict([["ncr_id", item(r.body, "ncr_id")], ["refs", []]]));
    }
    const n = out.get(id);
    n.step = item(r.body, "step");
    const refs = new PySet(n.refs);
    for (const ref of iter(get(r.body, "refs", []))) refs.add(ref);
    n.refs = sortBy(refs.values(), (x) => x);
    for (const key of ["nature", "disposition", "capa_id", "concession"]) {
      const v = get(r.body, key);
      if (v !== null) n[key] = v;
    }
    if (eq(item(r.body, "step"), "dispositioned")) n.dispositioned_by = r.record_id;
  }
  return out;
}

/** What the NCRs have dispositioned: the refs of those dispositioned or closed (a PySet). */
export function dispositioned(ncrs) {
  const out = new PySet();
  for (const n of ncrs.values()) {
    if (eq(n.step, "dispositioned") || eq(n.step, "closed")) for (const ref of n.refs) out.add(ref);
  }
  return out;
}

/** Why a lot cannot be released (see rules.py for the kinds). */
export class Blocker {
  constructor(kind, text) {
    this.kind = kind;
    this.text = text;
    Object.freeze(this);
  }

  toString() {
    return this.text;
  }
}

/** Why a lot cannot be released now (empty when it can); ``at``: a PyDateTime (null: now). */
export function releaseBlockers(records, requiredStages, evidence, masterBlockers = [], at = null) {
  const blockers = [];
  const ncrs = ncrSummaries(records);
  const dispositionedRefs = dispositioned(ncrs);
  const inspections = records.filter((r) => r.type === "inspection");
  const latest = new Map();
  for (const r of inspections) {
    if (r.meaning === "authored") latest.set(pyStr(item(r.body, "stage")), r);
  }
  const [failures, conceded] = oos.failureBlockers(records, at ?? nowUtc());
  blockers.push(...failures);
  blockers.push(...oos.correctionBlockers(records));
  for (const stage of requiredStages) {
    const last = latest.get(stage);
    if (last === undefined) {
      blockers.push(
        new Blocker(
          "inspection_missing",
          `required inspection missing: no ${stage} inspection on the lot`,
        ),
      );
    } else if (!eq(item(last.body, "verdict"), "pass") && !allConceded(last, conceded)) {
      blockers.push(
        new Blocker(
          "inspection_not_passed",
          `required inspection not passed: ${last.record_id} (${stage})`,
        ),
      );
    }
  }
  for (const n of ncrs.values()) {
    if (!eq(n.step, "closed")) {
      blockers.push(
        new Blocker("open_ncr", `NCR ${pyStr(n.ncr_id)} is open (step ${pyStr(n.step)})`),
      );
    }
  }
  blockers.push(...openExcursions(records, dispositionedRefs));
  blockers.push(...masterBlockers);
  for (const r of records) {
    if (r.type === "alert" && !dispositionedRefs.has(item(r.body, "alert_id"))) {
      blockers.push(
        new Blocker(
          "open_alert",
          `alert ${pyStr(item(r.body, "alert_id"))} is open: an NCR must disposition it ` +
            `(${pyStr(slice(item(r.body, "description"), 80))})`,
        ),
      );
    }
  }
  const byId = new Map(records.map((r) => [r.record_id, r]));
  for (const e of evidence) {
    const rid = item(e, "record_id");
    hashKey(rid);
    const rec = typeof rid === "string" ? byId.get(rid) : undefined;
    if (rec === undefined) {
      blockers.push(new Blocker("evidence", `evidence ${pyStr(rid)}: not a record of this lot`));
    } else if (!eq(rec.record_hash, item(e, "record_hash"))) {
      blockers.push(
        new Blocker("evidence", `evidence ${pyStr(rid)}: hash differs from the logged record`),
      );
    }
  }
  return blockers;
}

function nowUtc() {
  return PyDateTime.fromUtcUs(BigInt(Date.now()) * 1000n);
}

/** ``(recordId, name) in conceded``: oos.js gives a PairSet (has(recordId, name)); a PySet
 * of 2-tuples works too. */
function concededHas(conceded, recordId, name) {
  if (conceded instanceof PySet) return conceded.has(tupleOf(recordId, name));
  return conceded.has(recordId, name);
}

function allConceded(inspection, conceded) {
  const failed = [];
  for (const c of iter(item(inspection.body, "characteristics"))) {
    if (eq(item(c, "verdict"), "fail")) failed.push(item(c, "name"));
  }
  return failed.length > 0 && failed.every((name) => concededHas(conceded, inspection.record_id, name));
}

function outOfLimits(body) {
  const low = get(body, "lower");
  const high = get(body, "upper");
  const value = item(body, "value");
  return (low !== null && lt(value, low)) || (high !== null && gt(value, high));
}

/** Out-of-limit process readings not yet dispositioned, one blocker per excursion. */
function openExcursions(records, dispositionedRefs) {
  const cleared = new PySet(dispositionedRefs.values());
  for (const r of records) {
    if (r.type === "alert" && dispositionedRefs.has(item(r.body, "alert_id"))) {
      for (const ref of iter(get(r.body, "refs", []))) cleared.add(pyStr(ref));
    }
  }
  const byTag = new PyDict();
  for (const r of records) {
    if (r.type === "process_reading") {
      byTag.setdefault(tupleOf(get(r.body, "line"), item(r.body, "tag")), () => []).push(r);
    }
  }
  const runs = [];
  for (let readings of byTag.values()) {
    readings = sortBy(readings, (r) => PyDateTime.fromIsoFormat(pyStr(item(r.body, "read_at"))));
    let run = [];
    for (const reading of readings) {
      if (outOfLimits(reading.body)) run.push(reading);
      else if (run.length) {
        runs.push(run);
        run = [];
      }
    }
    if (run.length) runs.push(run);
  }
  const position = new Map(records.map((r, i) => [r, i]));
  const blockers = [];
  const ordered = [...runs].sort((a, b) => position.get(a[0]) - position.get(b[0]));
  for (const run of ordered) {
    if (run.some((r) => cleared.has(r.record_id))) continue;
    const first = run[0];
    const body = first.body;
    const limits = `limits ${pyStr(get(body, "lower"))}..${pyStr(get(body, "upper"))}`;
    if (run.length === 1) {
      blockers.push(
        new Blocker(
          "open_excursion",
          `process reading ${first.record_id} is out of limits (${pyStr(item(body, "tag"))} ` +
            `${pyStr(item(body, "value"))} ${pyStr(item(body, "unit"))}, ${limits}): an NCR ` +
            "must disposition it",
        ),
      );
      continue;
    }
    const values = run.map((r) => toFloat(item(r.body, "value")));
    let lo = values[0];
    let hi = values[0];
    for (const v of values) {
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    blockers.push(
      new Blocker(
        "open_excursion",
        `process readings ${first.record_id} .. ${run[run.length - 1].record_id} ` +
          `(${run.length}) are out of limits (${pyStr(item(body, "tag"))} ` +
          `${formatG(lo)}..${formatG(hi)} ${pyStr(item(body, "unit"))}, ${limits}): an NCR ` +
          "must disposition one of them",
      ),
    );
  }
  return blockers;
}

// -- the judge ------------------------------------------------------------------------------------

export const GATING_FIELDS = Object.freeze(["name", "verdict", "critical", "lower", "upper", "unit"]);

function gating(body) {
  if (!eq(get(body, "type"), "inspection")) return null;
  return [
    get(body, "verdict"),
    [...iter(get(body, "characteristics", []))].map((c) =>
      GATING_FIELDS.map((f) => get(c, f, f === "critical" ? false : null)),
    ),
  ];
}

/**
 * Throw Refused when the record, signed by ``signer`` holding ``roles`` at the signing time
 * with ``meaning``, breaks a rule given what came before it (``history``) under ``policy``.
 * ``signedAt`` / ``acceptedAt`` (Unix seconds, BigInt): when given, the time rules apply.
 */
export function judge(
  record,
  meaning,
  signer,
  roles,
  history,
  policy = DEFAULT_POLICY,
  validate = null,
  legacy = false,
  bootstrap = false,
  { signedAt = null, acceptedAt = null } = {},
) {
  const rtype = pyStr(item(record, "type"));
  const who = `${signer} (${history.name(signer)})`;
  checkContent(record);
  if (signedAt !== null && acceptedAt !== null) {
    checkTimes(record, roles, signedAt, acceptedAt, policy);
  }
  if (rtype === "correction") {
    correction(record, meaning, roles, who, history, validate);
    return;
  }
  checkAuthority(rtype, get(record, "step"), meaning, roles, who);
  qualified(record, meaning, signer, roles, who, history, policy, signedAt);
  if (rtype === "signer" && !bootstrap) signerRule(record, signer, who, history);
  duties(record, meaning, signer, who, history, policy);
  if (Object.hasOwn(NEXT_STEPS, rtype)) transition(rtype, record, history, signedAt);
  if (rtype === "change" && eq(get(record, "step"), "approved")) {
    master.checkChangeApproval(record, signer, history);
  }
  if (rtype === "specification") master.checkSpecification(record, history);
  if (rtype === "inspection") {
    master.checkInspection(record, history, legacy);
    oos.checkRetest(record, history);
  }
  if (rtype === "ncr" && eq(get(record, "step"), "dispositioned")) {
    oos.checkDisposition(record, history, policy, signedAt);
  }
  if (rtype === "review") oos.checkReview(record, signer, history);
  if (rtype === "hold") life.checkHold(record, meaning, history);
  if (rtype === "complaint" || rtype === "field_action") life.checkKnownLot(record, history);
  if (rtype === "equipment" || rtype === "calibration") master.checkEquipment(record, history);
  if (rtype === "alert") alert(record, history);
  if (rtype === "release") release(record, history, policy, signedAt);
  if (rtype === "recall") recall(record, meaning, history);
}

/** Signed not from the future, a person's signature at most minutes old on arrival, an
 * inspection signed after it was made within a bounded lag. */
export function checkTimes(record, roles, signedAt, acceptedAt, policy) {
  if (signedAt > acceptedAt + policy.max_clock_skew) {
    throw new Refused(
      "time",
      "invalid",
      `time: signed at ${utcIso(signedAt)}, after its acceptance at ` +
        `${utcIso(acceptedAt)} (+${policy.max_clock_skew} s clock skew allowed)`,
    );
  }
  if (!contains([...iter(roles)], "device") && acceptedAt - signedAt > policy.max_signature_age) {
    throw new Refused(
      "time",
      "invalid",
      "time: a signature (a person's or a system's; only a device keeps its capture " +
        `time) is at most ${policy.max_signature_age} s old on arrival; signed at ` +
        `${utcIso(signedAt)}, accepted at ${utcIso(acceptedAt)} ` +
        "(sign again: a signature states when it was made)",
    );
  }
  const t = pyStr(get(record, "type"));
  const made = t === "inspection" ? "inspected_at" : t === "calibration" ? "calibrated_at" : null;
  if (made === null || typeof get(record, made) !== "string") return;
  const at = unixSeconds(pyStr(record[made]));
  // inspected_at may carry a fraction of the second signed_at drops.
  if (at > signedAt + 1n) {
    throw new Refused(
      "time",
      "invalid",
      `time: ${made} ${record[made]} is after the signing time ${utcIso(signedAt)}; ` +
        "a record is signed after what it records",
    );
  }
  if (eq(item(record, "type"), "inspection") && signedAt - at > policy.max_inspection_lag) {
    throw new Refused(
      "time",
      "invalid",
      `time: inspected_at ${record[made]} is more than ${policy.max_inspection_lag} s ` +
        `before the signing time ${utcIso(signedAt)}; an inspection is signed when it ` +
        "is made (contemporaneous records, 21 CFR 211.100(b))",
    );
  }
}

/** Nobody grants themselves roles; a key belongs to one person for good. */
function signerRule(record, signer, who, history) {
  if (!eq(get(record, "action"), "grant")) return;
  const address = pyStr(get(record, "address", ""));
  const known = history.person(address);
  const named = get(record, "person");
  if (known !== null && named !== null && !eq(named, known)) {
    throw new Refused(
      "authority",
      "conflict",
      `authority: key ${address} belongs to ` +
        (!known.startsWith("key:") ? `person ${known}` : "no named person") +
        ` since its first grant; a grant cannot make it ${pyStr(named)}'s (register a new key ` +
        "for that person)",
    );
  }
  const target = known || (named !== null ? pyStr(named) : `key:${lower(address)}`);
  const own = lower(address) === lower(signer);
  if (own || target === history.person(signer)) {
    throw new Refused(
      "authority",
      "forbidden",
      `authority: nobody grants themselves roles; ${who} signed a grant to ` +
        (own ? "its own key" : `${target}'s key ${address}`) +
        " (another admin, another person, must sign it)",
    );
  }
}

function qualified(record, meaning, signer, roles, who, history, policy, signedAt) {
  const rtype = pyStr(item(record, "type"));
  const step = get(record, "step");
  roles = [...iter(roles)];
  if (
    policy.qualified_person_release &&
    rtype === "release" &&
    eq(get(record, "decision"), "released") &&
    !contains(roles, "qualified_person")
  ) {
    throw new Refused(
      "qualification",
      "forbidden",
      "qualification: this ledger's policy has a Qualified Person certify each release " +
        `(EU GMP Annex 16); ${who} does not hold the qualified_person role`,
    );
  }
  const tasks = policy.qualifications.filter((q) => q.matches(rtype, step, meaning)).map((q) => q.task);
  if (!tasks.length || contains(roles, "device")) return;
  const person = history.person(signer);
  if (person === null) return;
  const qualifiedTasks = new Set();
  for (const t of history.subject(`training:${person}`)) {
    if (trainedAt(t, signedAt)) qualifiedTasks.add(pyStr(item(t.body, "task")));
  }
  for (const task of tasks) {
    if (!qualifiedTasks.has(task)) {
      const what = rtype + (truthy(step) ? ` step ${pyStr(step)}` : "");
      throw new Refused(
        "qualification",
        "forbidden",
        `qualification: signing ${what} (${meaning}) needs a valid training record for ` +
          `task ${pyRepr(task)}; ${who} (person ${person}) has none at the signing time`,
      );
    }
  }
}

function trainedAt(t, signedAt) {
  if (t.type !== "training" || !eq(get(t.body, "result"), "qualified")) return false;
  if (signedAt === null) return true;
  const until = get(t.body, "valid_until");
  return (
    unixSeconds(pyStr(item(t.body, "completed_at"))) <= signedAt &&
    (!truthy(until) || unixSeconds(pyStr(until)) > signedAt)
  );
}

/** The segregation of duties: the person who signs ``record`` gave none of the signatures it
 * is incompatible with, on the same lot or workflow entity. */
function duties(record, meaning, signer, who, history, policy) {
  const rtype = pyStr(item(record, "type"));
  const step = get(record, "step");
  const person = history.person(signer);
  if (person === null) return;
  for (const duty of policy.duties) {
    if (!duty.matches(duty.second, rtype, step, meaning)) continue;
    let earlier;
    let where;
    if (duty.scope === "lot") {
      if (typeof get(record, "lot") !== "string") continue;
      earlier = history.lot(record.lot);
      where = `lot ${record.lot}`;
    } else {
      if (!Object.hasOwn(ENTITY_KEY, rtype)) continue;
      const entity = pyStr(item(record, ENTITY_KEY[rtype]));
      earlier = history.subject(`${rtype}:${entity}`);
      where = `${rtype} ${entity}`;
    }
    for (const r of earlier) {
      if (!duty.matches(duty.first, r.type, get(r.body, "step"), r.meaning)) continue;
      if (history.person(r.signer) === person) {
        const stepOf = truthy(get(r.body, "step")) ? ` ${pyStr(item(r.body, "step"))}` : "";
        throw new Refused(
          "duties",
          "forbidden",
          `segregation of duties (${duty.name}): ${duty.text}; ${who} signed ` +
            `${r.record_id} (${r.type}${stepOf}, ${r.meaning}) on ${where}` +
            (lower(r.signer) === lower(signer) ? "" : " with another key"),
        );
      }
    }
  }
}

function correction(record, meaning, roles, who, history, validate) {
  const corrects = item(record, "corrects");
  const found = history.records([pyStr(corrects)]);
  if (!found.length) {
    throw new Refused(
      "correction",
      "not_found",
      `correction: record ${pyRepr(corrects)} not found`,
    );
  }
  const target = found[0].clone();
  if (UNCORRECTABLE.includes(target.type)) {
    throw new Refused(
      "correction",
      "invalid",
      `correction: a ${target.type} record cannot be corrected ` +
        (target.type === "signer" ? "(revoke and grant again)" : "(submit a new record)"),
    );
  }
  if (!eq(get(target.body, "lot"), get(record, "lot"))) {
    throw new Refused(
      "correction",
      "invalid",
      `correction lot: expected ${pyRepr(get(target.body, "lot"))} (the corrected record's ` +
        `lot), got ${pyRepr(get(record, "lot"))}`,
    );
  }
  applyCorrections([target, ...history.subject(`record:${pyStr(item(record, "corrects"))}`)]);
  const corrected = correct(target, item(record, "changes"), validate);
  roles = [...iter(roles)];
  checkAuthority("correction", null, meaning, roles, who);
  // Whoever may sign the corrected record may correct it; a QA approver may correct any
  // correctable record, and only a QA approver may change a verdict.
  if (!contains(roles, "qa_approver")) {
    checkAuthority(
      target.type,
      get(target.body, "step"),
      target.meaning,
      roles,
      `${who}, correcting ${target.record_id}`,
    );
    const qaOnly = [];
    for (const c of iter(item(record, "changes"))) {
      if (target.type !== "inspection") continue;
      const parts = pyStr(item(c, "path")).split("/");
      if (parts.length < 2) throw new IndexError("list index out of range");
      if (["product", "sample_size", "inspected_at"].includes(parts[1])) qaOnly.push(item(c, "path"));
    }
    if (qaOnly.length && !contains(roles, "qa_inspector")) {
      throw new Refused(
        "authority",
        "forbidden",
        `authority: correcting ${join(", ", qaOnly)} of an inspection needs a QA role; ` +
          `${who} has ${join(", ", roles)}`,
      );
    }
    if (!eq(gating(target.body), gating(corrected))) {
      throw new Refused(
        "authority",
        "forbidden",
        "authority: a correction that changes verdicts, critical flags, limits or " +
          `units needs role qa_approver; ${who} has ${join(", ", roles)}`,
      );
    }
  }
  if (target.type === "inspection") {
    // The corrected inspection must still follow its specification and equipment.
    master.checkInspection(corrected, history, eq(get(target.body, "schema"), "inspection/1"));
  }
}

function transition(rtype, record, history, signedAt = null) {
  const entity = pyStr(item(record, ENTITY_KEY[rtype]));
  const before = history.subject(`${rtype}:${entity}`);
  const current = workflowStep(before, rtype, entity);
  const last = before[before.length - 1];
  if (signedAt !== null && before.length && signedAt < unixSeconds(last.signed_at)) {
    throw new Refused(
      "time",
      "conflict",
      `${rtype} ${entity}: step ${pyStr(item(record, "step"))} signed at ${utcIso(signedAt)}, ` +
        `before the step it follows (${pyStr(get(last.body, "step"))}, ${last.record_id}, ` +
        `signed at ${last.signed_at}); workflow steps never go back in time`,
    );
  }
  const steps = NEXT_STEPS[rtype];
  const key = current === null ? "null" : current;
  if (!Object.hasOwn(steps, key) || (current !== null && key === "null")) {
    throw new KeyError(current);
  }
  const allowed = steps[key];
  const step = pyStr(item(record, "step"));
  if (!allowed.includes(step)) {
    throw new Refused(
      "workflow",
      "conflict",
      `${rtype} ${entity}: cannot go from ${current || "nothing"} to ${step}; ` +
        `allowed: ${allowed.join(", ") || "none (finished)"}`,
      [`allowed next steps: ${allowed.join(", ") || "none"}`],
    );
  }
  if (rtype === "capa" && step === "closed") {
    const found = latestStep(before, "effectiveness_check");
    const check = found !== null ? found.body : Object.create(null);
    if (!(truthy(get(check, "effective")) && truthy(get(check, "no_adverse_effect")))) {
      throw new Refused(
        "workflow",
        "conflict",
        `capa ${entity}: cannot close: the effectiveness check found the action ` +
          "not effective or with an adverse effect; go back to investigation or cancel",
        ["allowed next steps: investigation, cancelled"],
      );
    }
  }
  if (rtype === "ncr" && step === "closed") {
    oos.checkReworkClosure(entity, before, pyStr(item(record, "lot")), history);
    linkedCapa(entity, before, history);
  }
  if (rtype === "capa") capaContent(entity, record, before, history, signedAt);
  if (rtype === "ncr" && truthy(get(record, "refs"))) {
    const lot = pyStr(item(record, "lot"));
    const lotRecords = history.lot(lot);
    const known = new PySet(lotRecords.map((r) => r.record_id));
    for (const r of lotRecords) if (r.type === "alert") known.add(pyStr(item(r.body, "alert_id")));
    for (const [rid] of history.floor(lot)) known.add(rid);
    for (const [rid] of history.receipts(lot)) known.add(rid);
    const unknown = [...iter(item(record, "refs"))].filter((ref) => !known.has(ref));
    if (unknown.length) {
      throw new Refused(
        "workflow",
        "conflict",
        `ncr ${entity}: refs ${join(", ", unknown)} name no record or alert of lot ` +
          `${pyStr(item(record, "lot"))}`,
      );
    }
  }
  if (rtype === "ncr" && current !== null) {
    const first = before[0].body;
    if (!eq(get(record, "lot"), get(first, "lot"))) {
      throw new Refused(
        "workflow",
        "conflict",
        `ncr ${entity}: belongs to lot ${pyStr(get(first, "lot"))}`,
      );
    }
  }
}

/** An NCR that named a CAPA closes only once that CAPA exists. */
function linkedCapa(entity, before, history) {
  let capaId = null;
  for (const s of before) {
    if (truthy(get(s.body, "capa_id"))) {
      capaId = item(s.body, "capa_id");
      break;
    }
  }
  if (capaId !== null && !history.subject(`capa:${pyStr(capaId)}`).length) {
    throw new Refused(
      "workflow",
      "conflict",
      `ncr ${entity}: its CAPA ${pyStr(capaId)} was never opened; open it before closing the NCR`,
    );
  }
}

/** A CAPA's links resolve, and its effectiveness is checked on data, after the interval its
 * action plan set. */
function capaContent(entity, record, before, history, signedAt) {
  const step = item(record, "step");
  if (
    eq(step, "open") &&
    truthy(get(record, "ncr_id")) &&
    !history.subject(`ncr:${pyStr(item(record, "ncr_id"))}`).length
  ) {
    throw new Refused(
      "workflow",
      "conflict",
      `capa ${entity}: ncr_id ${pyStr(item(record, "ncr_id"))} names no NCR`,
    );
  }
  if (!eq(step, "effectiveness_check")) return;
  const cited = [...iter(item(record, "data"))].map(pyStr);
  const have = new Set(history.records(cited).map((r) => r.record_id));
  const missing = [...new Set(cited)].filter((c) => !have.has(c)).sort(strOrder);
  if (missing.length) {
    throw new Refused(
      "workflow",
      "conflict",
      `capa ${entity}: the effectiveness check cites ${missing.join(", ")}, not logged ` +
        "records; it rests on data the ledger holds",
    );
  }
  const plan = latestStep(before, "action_plan");
  const done = latestStep(before, "implementation");
  if (plan === null || done === null || signedAt === null) return;
  const raw = get(plan.body, "check_after_days");
  const days = toInt(truthy(raw) ? raw : 0n);
  const due = unixSeconds(done.signed_at) + days * 86400n;
  if (signedAt < due) {
    throw new Refused(
      "workflow",
      "conflict",
      `capa ${entity}: the effectiveness check is planned ${days} day(s) after the ` +
        `implementation (${done.record_id}), from ${utcIso(due)}; checked at once it shows ` +
        "nothing",
    );
  }
}

function strOrder(a, b) {
  return lt(a, b) ? -1 : lt(b, a) ? 1 : 0;
}

function alert(record, history) {
  const alertId = item(record, "alert_id");
  const used = history.subject(`alert:${pyStr(alertId)}`);
  if (used.length) {
    throw new Refused(
      "alert",
      "conflict",
      `alert id ${pyRepr(alertId)}: already used by record ${used[0].record_id}; an ` +
        "alert id names one alert",
    );
  }
  const rawRefs = get(record, "refs");
  const refs = truthy(rawRefs) ? [...iter(rawRefs)].map(pyStr) : [];
  if (!refs.length) return;
  const lot = get(record, "lot");
  // An alert is raised on records of its own lot (on any logged records when it has none).
  const found = history.records(refs);
  const known = new Set(
    found.filter((r) => lot === null || eq(get(r.body, "lot"), lot)).map((r) => r.record_id),
  );
  const unknown = refs.filter((ref) => !known.has(ref));
  if (unknown.length) {
    const where = lot !== null ? `of lot ${pyStr(lot)}` : "stored";
    throw new Refused(
      "alert",
      "conflict",
      `alert ${pyStr(alertId)}: refs ${unknown.join(", ")} name no record ${where}`,
    );
  }
}

function release(record, history, policy, signedAt = null) {
  const lot = pyStr(item(record, "lot"));
  const requiredStages = policy.required_stages;
  if (get(record, "concession") !== null) {
    throw new Refused(
      "release",
      "conflict",
      `release of lot ${lot}: a release carries no concession; a concession is granted ` +
        "through an NCR (disposition use_as_is), per characteristic, bounded in quantity " +
        "and time, by two approvers on a critical characteristic",
    );
  }
  if (!eq(item(record, "decision"), "released")) return;
  const records = history.lot(lot);
  life.checkRelease(record, records);
  const products = new PySet();
  for (const r of records) {
    if (r.type === "inspection") products.add(pyStr(get(item(r.body, "product"), "gtin")));
  }
  const own = pyStr(get(item(record, "product"), "gtin"));
  const others = products.values().filter((p) => p !== own);
  if (others.length) {
    throw new Refused(
      "release",
      "conflict",
      `release of lot ${lot}: product ${own}, but the lot's ` +
        `inspections are of ${[...others].sort(strOrder).join(", ")}`,
    );
  }
  let last = null;
  for (let i = records.length - 1; i >= 0; i--) {
    if (records[i].type === "release") {
      last = records[i];
      break;
    }
  }
  if (last !== null && eq(item(last.body, "decision"), "released")) {
    throw new Refused(
      "release",
      "conflict",
      `release of lot ${lot}: already released by ${last.record_id}`,
    );
  }
  const rawEvidence = get(record, "evidence");
  const evidence = truthy(rawEvidence) ? [...iter(rawEvidence)] : [];
  const mb = master.masterBlockers(lot, records, history, policy);
  const at = signedAt !== null ? PyDateTime.fromTimestamp(signedAt) : null;
  const blockers = releaseBlockers(records, requiredStages, evidence, mb, at);
  const cited = new PySet(evidence.map((e) => item(e, "record_id")));
  for (const stage of requiredStages) {
    let latest = null;
    for (let i = records.length - 1; i >= 0; i--) {
      const r = records[i];
      if (r.type === "inspection" && eq(item(r.body, "stage"), stage)) {
        latest = r;
        break;
      }
    }
    if (latest !== null && !cited.has(latest.record_id)) {
      blockers.push(
        new Blocker(
          "evidence",
          `evidence does not cite ${latest.record_id}, the latest ${stage} inspection ` +
            "the release relies on",
        ),
      );
    }
  }
  if (blockers.length) {
    throw new Refused(
      "release",
      "conflict",
      `release of lot ${lot} refused: ${blockers.length} reason(s); nothing overrides them ` +
        "on the release (failed results are answered by their investigation: a retest it " +
        "allowed or an NCR disposition)",
      blockers.map((b) => b.text),
    );
  }
}

/** A real recall (not a drill) needs a QA approver's approval; a recall id names one recall. */
function recall(record, meaning, history) {
  if (!truthy(get(record, "drill")) && meaning !== "approved") {
    throw new Refused(
      "recall",
      "forbidden",
      "authority: a recall (not a drill) must be signed with meaning 'approved' by a " +
        `qa_approver, got ${pyRepr(meaning)}`,
    );
  }
  const recallId = item(record, "recall_id");
  const used = history.subject(`recall:${pyStr(recallId)}`);
  if (used.length) {
    throw new Refused(
      "recall",
      "conflict",
      `recall id ${pyRepr(recallId)}: already used by record ${used[0].record_id}`,
    );
  }
}

// Unused imports kept for the satellite modules' convenience.
export { PyTypeError, typeName };
