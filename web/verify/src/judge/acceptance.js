// Attribute sampling as the rules judge it: a port of evledger_verify/acceptance.py. An
// inspection under a structured plan (ISO 2859-1 or ANSI/ASQ Z1.4, sampling.js) takes at least
// the sample the tables give, its verdicts are the plan's (accept at Ac, reject at Re), and its
// severity is the one the switching rules give its product stream (product, stage and
// supplier; ISO 2859-1 clause 9). master.js checkInspection calls checkSampling with the
// specification the inspection follows.

import * as sampling from "./sampling.js";
import { Refused, streamOf } from "./rules.js";
import {
  PyValueError,
  eq,
  get,
  hashKey,
  isPyError,
  item,
  iter,
  pyStr,
  toInt,
  truthy,
} from "./py.js";

/** The CAPA steps at which its corrective action has been taken (ISO 2859-1 9.4). */
const ACTION_TAKEN = new Set(["implementation", "effectiveness_check", "closed"]);

/** The plan the tables give for an inspection's ``sampling``. */
export function planOf(body) {
  const s = item(body, "sampling");
  try {
    return sampling.plan(
      toInt(item(s, "lot_size")),
      pyStr(item(s, "level")),
      pyStr(item(s, "aql")),
      item(s, "severity"),
      { edition: item(s, "standard") },
    );
  } catch (exc) {
    if (!isValueError(exc)) throw exc;
    throw new Refused("sampling", "invalid", `sampling: ${exc.message}`);
  }
}

/** The lot as the switching rules count it: by its worst characteristic. */
function lotOf(body) {
  const counts = iter(item(body, "characteristics")).map((c) => toInt(item(c, "nonconforming")));
  if (counts.length === 0) throw new PyValueError("max() arg is an empty sequence");
  const worst = counts.reduce((a, b) => (b > a ? b : a));
  return new sampling.Lot(planOf(body), worst);
}

/**
 * The switching state after a stream's original inspections (bodies, in log order); a lot
 * that ``resumes`` a discontinued inspection restarts it tightened (9.4).
 */
export function replay(lots) {
  let state = new sampling.Switching();
  for (const body of lots) {
    if (state.state === "discontinued" && get(item(body, "sampling"), "resumes") !== null) {
      state = state.resumed();
    }
    state = state.after(lotOf(body));
  }
  return state;
}

/** A discontinued inspection resumes on a CAPA whose corrective action has been taken. */
function checkResumes(rid, capaId, history) {
  const steps = history.subject(`capa:${capaId}`).filter((r) => r.type === "capa");
  const step = steps.length ? get(steps[steps.length - 1].body, "step") : null;
  hashKey(step); // `in` a frozenset: an unhashable step raises TypeError
  if (!(typeof step === "string" && ACTION_TAKEN.has(step))) {
    const now = truthy(step) ? `it is at step ${pyStr(step)}` : "no such CAPA";
    throw new Refused(
      "sampling",
      "conflict",
      `inspection ${pyStr(rid)}: sampling.resumes names CAPA ${capaId}, whose corrective ` +
        `action has not been taken (${now}); inspection resumes once it is implemented`,
    );
  }
}

function tupleNe(a, b) {
  return a.some((x, i) => !eq(x, b[i]));
}

/** Python's ``except ValueError``. */
function isValueError(exc) {
  return exc instanceof PyValueError || isPyError(exc, ["ValueError"]);
}

/**
 * The sampling rules (module comment); ``spec``: the specification the inspection follows
 * (null for a legacy inspection).
 */
export function checkSampling(record, history, spec) {
  const rid = item(record, "record_id");
  const fixed = get(truthy(spec) ? spec : Object.create(null), "sampling");
  const s = get(record, "sampling");
  if (s === null) {
    if (fixed !== null) {
      throw new Refused(
        "sampling",
        "conflict",
        `inspection ${pyStr(rid)}: specification ` +
          `${truthy(spec) ? pyStr(item(spec, "spec_id")) : ""} samples by ` +
          `${pyStr(item(fixed, "standard"))} level ${pyStr(item(fixed, "level"))} AQL ` +
          `${pyStr(item(fixed, "aql"))}: state the plan (sampling: lot_size, severity) and ` +
          "count nonconforming items",
      );
    }
    return;
  }
  if (fixed !== null) {
    const mine = [item(s, "standard"), item(s, "level"), sampling.aqlLabel(item(s, "aql"))];
    const theirs = [
      item(fixed, "standard"),
      item(fixed, "level"),
      sampling.aqlLabel(item(fixed, "aql")),
    ];
    if (tupleNe(mine, theirs)) {
      throw new Refused(
        "sampling",
        "conflict",
        `inspection ${pyStr(rid)}: sampling ${pyStr(item(s, "standard"))} level ` +
          `${pyStr(item(s, "level"))} AQL ${pyStr(item(s, "aql"))}, the specification's is ` +
          `${pyStr(item(fixed, "standard"))} level ${pyStr(item(fixed, "level"))} AQL ` +
          `${pyStr(item(fixed, "aql"))}`,
      );
    }
  }
  const p = planOf(record);
  const what =
    `${pyStr(item(s, "standard"))} level ${pyStr(item(s, "level"))} AQL ${p.aql} ` +
    `${p.severity}, lot of ${p.lot_size}: code letter ${p.code_letter}, ${p.sample_size} ` +
    `samples, Ac ${p.accept}, Re ${p.reject}`;
  if (toInt(item(record, "sample_size")) < p.sample_size) {
    throw new Refused(
      "sampling",
      "conflict",
      `inspection ${pyStr(rid)}: undersampled: ${what}; ` +
        `${pyStr(item(record, "sample_size"))} inspected`,
    );
  }
  for (const c of iter(item(record, "characteristics"))) {
    const outcome = sampling.verdict(p, toInt(item(c, "nonconforming")));
    const computed = outcome === "reject" ? "fail" : "pass";
    if (!eq(item(c, "verdict"), computed)) {
      throw new Refused(
        "sampling",
        "conflict",
        `inspection ${pyStr(rid)}: ${pyStr(item(c, "name"))}: ` +
          `${pyStr(item(c, "nonconforming"))} nonconforming under ${what} is ${computed}, not ` +
          `${pyStr(item(c, "verdict"))}; the verdict is computed, not typed`,
      );
    }
  }
  if (truthy(get(record, "retest"))) return; // a resubmitted lot is not a new lot
  const earlier = [];
  for (const r of history.subject(streamOf(record))) {
    if (r.record_id === rid) break; // a correction re-judges the record against what preceded
    if (
      r.type === "inspection" &&
      truthy(get(r.body, "sampling")) &&
      !truthy(get(r.body, "retest"))
    ) {
      earlier.push(r.body);
    }
  }
  let state;
  try {
    state = replay(earlier);
  } catch (exc) {
    if (isValueError(exc)) return; // an earlier lot broke the switching rules
    throw exc;
  }
  const full = streamOf(record);
  const stream = full.startsWith("stream:") ? full.slice("stream:".length) : full;
  const resumes = get(s, "resumes");
  if (state.state === "discontinued") {
    if (resumes === null) {
      throw new Refused(
        "sampling",
        "conflict",
        `inspection ${pyStr(rid)}: inspection of ${stream} is discontinued (5 lots not ` +
          "accepted under tightened inspection, ISO 2859-1 9.4) until the supplier's " +
          "corrective action is taken: resume it with sampling.resumes naming that CAPA",
      );
    }
    checkResumes(rid, pyStr(resumes), history);
    state = state.resumed();
  } else if (resumes !== null) {
    throw new Refused(
      "sampling",
      "conflict",
      `inspection ${pyStr(rid)}: sampling.resumes names CAPA ${pyStr(resumes)}, but inspection ` +
        `of ${stream} is not discontinued (it is ${state.state})`,
    );
  }
  if (!eq(item(s, "severity"), state.state)) {
    const supplier = get(record, "supplier");
    throw new Refused(
      "sampling",
      "conflict",
      `inspection ${pyStr(rid)}: the switching rules (ISO 2859-1 clause 9) put product ` +
        `${pyStr(item(item(record, "product"), "gtin"))} at stage ` +
        `${pyStr(item(record, "stage"))} from supplier ` +
        `${truthy(supplier) ? pyStr(supplier) : "(none)"} under ${state.state} inspection ` +
        `after ${earlier.length} lot(s), not ${pyStr(item(s, "severity"))}`,
    );
  }
}

