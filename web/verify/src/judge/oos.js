// Failed results and what may answer them: a port of evledger_verify/oos.py (read its
// docstring for the guidance it follows). The OOS investigation, the retest it allows, the
// disposition, the bounded concession, and the second person's co-signature (a review).
//
// failureBlockers returns [blockers, conceded]; conceded is a PairSet of (record id,
// characteristic name): `conceded.has(recordId, name)` is Python's `(record_id, name) in
// conceded`.

import {
  GATING_FIELDS,
  Blocker,
  Refused,
  latestStep,
  ncrSummaries,
  unixSeconds,
  utcIso,
  when,
} from "./rules.js";
import {
  PySet,
  contains,
  eq,
  ge,
  get,
  gt,
  hashKey,
  item,
  iter,
  join,
  lt,
  pyRepr,
  pyStr,
  sortBy,
  truthy,
} from "./py.js";

/** Dispositions after which the lot is never released. */
export const FINAL_DISPOSITIONS = Object.freeze(["scrap", "return"]);

/** A set of (record id, characteristic name) pairs. */
export class PairSet {
  constructor() {
    this.map = new Map();
  }
  key(recordId, name) {
    return `${hashKey(recordId)}\u0000${hashKey(name)}`;
  }
  add(recordId, name) {
    this.map.set(this.key(recordId, name), [recordId, name]);
    return this;
  }
  has(recordId, name) {
    return this.map.has(this.key(recordId, name));
  }
  get size() {
    return this.map.size;
  }
  [Symbol.iterator]() {
    return this.map.values();
  }
}

/** The values of ncrSummaries' result (a Map or an object keyed by NCR id). */
export function summaryValues(ncrs) {
  return ncrs instanceof Map ? [...ncrs.values()] : Object.values(ncrs);
}

function failed(body) {
  return iter(get(body, "characteristics", [])).filter((c) => eq(get(c, "verdict"), "fail"));
}

function passed(body, name) {
  return iter(item(body, "characteristics")).some(
    (c) => eq(item(c, "name"), name) && eq(item(c, "verdict"), "pass"),
  );
}

function ncrSteps(history, ncrId) {
  return history.subject(`ncr:${ncrId}`).filter((r) => r.type === "ncr");
}

function refsOf(steps) {
  const out = new Set();
  for (const s of steps) for (const ref of iter(get(s.body, "refs", []))) out.add(pyStr(ref));
  return out;
}

// -- at submission ----------------------------------------------------------------------------

/**
 * A retest cites the failed inspection and the investigation that found an assignable cause,
 * and measures the failures at least as strictly as the original did.
 */
export function checkRetest(record, history) {
  const retest = get(record, "retest");
  if (!truthy(retest)) return;
  const rid = item(record, "record_id");
  const lot = item(record, "lot");
  const of = pyStr(item(retest, "of"));
  const ncrId = pyStr(item(retest, "ncr_id"));
  const lotRecords = history.lot(pyStr(lot));
  const original = lotRecords.find((r) => r.record_id === of && r.type === "inspection");
  if (original === undefined) {
    throw new Refused(
      "oos",
      "conflict",
      `retest ${pyStr(rid)}: ${of} is no inspection of lot ${pyStr(lot)}`,
    );
  }
  const failures = failed(original.body);
  if (failures.length === 0) {
    throw new Refused(
      "oos",
      "conflict",
      `retest ${pyStr(rid)}: nothing failed in ${of}; a retest answers a failure`,
    );
  }
  const steps = ncrSteps(history, ncrId);
  if (!refsOf(steps).has(of)) {
    throw new Refused(
      "oos",
      "conflict",
      `retest ${pyStr(rid)}: NCR ${ncrId} does not investigate ${of} (its refs do not name ` +
        "it); a failed result is investigated before any retest",
    );
  }
  const finding = latestStep(steps, "evaluated");
  if (finding === null || finding === undefined || get(finding.body, "assignable_cause") !== true) {
    throw new Refused(
      "oos",
      "conflict",
      `retest ${pyStr(rid)}: the investigation (NCR ${ncrId}) has not found an assignable ` +
        `cause that invalidates ${of}; without one the failure stands and the NCR ` +
        "dispositions it",
    );
  }
  const retestOf = (r) => {
    const t = get(r.body, "retest");
    return truthy(t) ? t : Object.create(null);
  };
  const earlier = lotRecords.find(
    (r) =>
      r.type === "inspection" &&
      eq(get(retestOf(r), "of"), of) &&
      eq(get(retestOf(r), "ncr_id"), ncrId),
  );
  if (earlier !== undefined) {
    throw new Refused(
      "oos",
      "conflict",
      `retest ${pyStr(rid)}: ${of} was already retested under NCR ${ncrId} by ` +
        `${earlier.record_id}; one retest per finding (testing into compliance is not allowed)`,
    );
  }
  const problems = [];
  if (!eq(item(record, "stage"), item(original.body, "stage"))) {
    problems.push(
      `stage ${pyStr(item(record, "stage"))}, the original's is ` +
        `${pyStr(item(original.body, "stage"))}`,
    );
  }
  if (
    !eq(get(item(record, "product"), "gtin"), get(item(original.body, "product"), "gtin"))
  ) {
    problems.push("another product than the original's");
  }
  if (lt(item(record, "sample_size"), item(original.body, "sample_size"))) {
    problems.push(
      `sample size ${pyStr(item(record, "sample_size"))}, fewer than the original's ` +
        `${pyStr(item(original.body, "sample_size"))}`,
    );
  }
  const measured = new Map();
  for (const c of iter(item(record, "characteristics"))) {
    measured.set(hashKey(item(c, "name")), c);
  }
  for (const c of failures) {
    const name = item(c, "name");
    const found = measured.get(hashKey(item(c, "name")));
    const fresh = found === undefined ? null : found;
    if (fresh === null) {
      problems.push(`${pyStr(name)} (failed) not re-measured`);
      continue;
    }
    for (const key of ["method", "unit"]) {
      if (!eq(get(fresh, key), get(c, key))) {
        problems.push(
          `${pyStr(name)}: ${key} ${pyRepr(get(fresh, key))}, the original's ` +
            `${pyRepr(get(c, key))}`,
        );
      }
    }
    const low = get(c, "lower");
    const high = get(c, "upper");
    if (
      (low !== null && (get(fresh, "lower") === null || lt(item(fresh, "lower"), low))) ||
      (high !== null && (get(fresh, "upper") === null || gt(item(fresh, "upper"), high)))
    ) {
      problems.push(
        `${pyStr(name)}: limits ${pyStr(get(fresh, "lower"))}..${pyStr(get(fresh, "upper"))} ` +
          `wider than the original's ${pyStr(get(c, "lower"))}..${pyStr(get(c, "upper"))}`,
      );
    }
  }
  if (problems.length) {
    throw new Refused(
      "oos",
      "conflict",
      `retest ${pyStr(rid)} of ${of}: ` + problems.join("; "),
      problems,
    );
  }
}

/**
 * A concession (``use_as_is``) names failed characteristics of the inspections its NCR cites,
 * a time limit after its signing, and is admitted by the policy.
 */
export function checkDisposition(record, history, policy, signedAt) {
  if (!eq(get(record, "disposition"), "use_as_is")) return;
  const ncrId = pyStr(item(record, "ncr_id"));
  const lot = pyStr(item(record, "lot"));
  const refs = refsOf(ncrSteps(history, ncrId));
  const cited = history.lot(lot).filter((r) => refs.has(r.record_id));
  const failedNames = new PySet();
  for (const r of cited) {
    if (r.type !== "inspection") continue;
    for (const c of failed(r.body)) failedNames.add(item(c, "name"));
  }
  const tags = new PySet();
  for (const r of cited) if (r.type === "process_reading") tags.add(pyStr(get(r.body, "tag")));
  const concession = item(record, "concession");
  if (failedNames.size && policy.concessions === "none") {
    throw new Refused(
      "concession",
      "conflict",
      `ncr ${ncrId}: this ledger's policy admits no concession on a specification failure ` +
        `(${join(", ", sortBy(failedNames.values(), (v) => v))}); disposition rework, scrap or return`,
    );
  }
  if (failedNames.size || tags.size) {
    const covered = new PySet([...failedNames, ...tags]);
    const unknown = iter(item(concession, "characteristics")).filter((n) => !covered.has(n));
    if (unknown.length) {
      throw new Refused(
        "concession",
        "conflict",
        `ncr ${ncrId}: the concession names ${join(", ", unknown)}, not a failed ` +
          `characteristic (or out-of-limit reading) the NCR cites; it covers ` +
          `${join(", ", sortBy(covered.values(), (v) => v))}`,
      );
    }
  }
  if (
    signedAt !== null &&
    signedAt !== undefined &&
    unixSeconds(pyStr(item(concession, "valid_until"))) <= signedAt
  ) {
    throw new Refused(
      "concession",
      "conflict",
      `ncr ${ncrId}: the concession is valid until ${pyStr(item(concession, "valid_until"))}, ` +
        `not after its signing at ${utcIso(signedAt)}`,
    );
  }
}

/**
 * An NCR dispositioned ``rework`` closes only after a passing re-inspection, of each stage its
 * failed inspections were at, logged after the disposition.
 */
export function checkReworkClosure(ncrId, before, lot, history) {
  const disposed = latestStep(before, "dispositioned");
  if (disposed === null || disposed === undefined) return;
  if (!eq(get(disposed.body, "disposition"), "rework")) return;
  const records = history.lot(lot);
  const refs = refsOf(before);
  const retested = new Set();
  for (const r of records) {
    if (
      r.type === "inspection" &&
      truthy(get(r.body, "retest")) &&
      eq(item(r.body, "verdict"), "pass")
    ) {
      retested.add(pyStr(item(item(r.body, "retest"), "of")));
    }
  }
  // What the rework answers: the cited failures a retest did not invalidate.
  const stages = new Set();
  for (const r of records) {
    if (
      r.type === "inspection" &&
      refs.has(r.record_id) &&
      !retested.has(r.record_id) &&
      failed(r.body).length
    ) {
      stages.add(pyStr(item(r.body, "stage")));
    }
  }
  const ids = records.map((r) => r.record_id);
  const at = ids.indexOf(disposed.record_id);
  const after = at >= 0 ? records.slice(at + 1) : [];
  const missing = sortBy([...stages], (v) => v).filter(
    (stage) =>
      !after.some(
        (r) =>
          r.type === "inspection" &&
          eq(item(r.body, "stage"), stage) &&
          eq(item(r.body, "verdict"), "pass"),
      ),
  );
  if (missing.length) {
    throw new Refused(
      "workflow",
      "conflict",
      `ncr ${ncrId}: a rework closes after its re-inspection; no passing ` +
        `${missing.join(", ")} inspection of lot ${lot} since the disposition ` +
        `${disposed.record_id}`,
    );
  }
}

/** A review co-signs a logged record's hash, by another person than its signer, once. */
export function checkReview(record, signer, history) {
  const rid = item(record, "record_id");
  const targetId = pyStr(item(record, "reviews"));
  const found = history.records([targetId]);
  if (!found.length) {
    throw new Refused(
      "review",
      "not_found",
      `review ${pyStr(rid)}: record ${pyRepr(targetId)} not found`,
    );
  }
  const target = found[0];
  if (!eq(target.record_hash, item(record, "record_hash"))) {
    throw new Refused(
      "review",
      "conflict",
      `review ${pyStr(rid)}: record_hash differs from ${targetId}'s (${target.record_hash})`,
    );
  }
  if (!eq(get(target.body, "lot"), get(record, "lot"))) {
    throw new Refused(
      "review",
      "conflict",
      `review ${pyStr(rid)}: lot ${pyRepr(get(record, "lot"))}, the reviewed record's is ` +
        `${pyRepr(get(target.body, "lot"))}`,
    );
  }
  const person = history.person(signer);
  if (eq(history.person(target.signer), person)) {
    throw new Refused(
      "duties",
      "forbidden",
      `review ${pyStr(rid)}: a review is a second person's signature; ${signer} ` +
        `(${history.name(signer)}) signed ${targetId} (the same person)`,
    );
  }
  for (const r of history.subject(`record:${targetId}`)) {
    if (r.type === "review" && eq(history.person(r.signer), person)) {
      throw new Refused(
        "review",
        "conflict",
        `review ${pyStr(rid)}: already reviewed by the same person (${r.record_id})`,
      );
    }
  }
}

// -- release gating ---------------------------------------------------------------------------

/**
 * Why the lot's failed results keep it from release, and the failures a valid concession
 * covers: [blockers, conceded (PairSet of record id, characteristic)]. ``records``: the lot's,
 * corrections applied; ``at``: when (a concession may have expired; null: never).
 */
export function failureBlockers(records, at) {
  const ncrs = summaryValues(ncrSummaries(records));
  const reviewed = new Set();
  for (const r of records) if (r.type === "review") reviewed.add(pyStr(item(r.body, "reviews")));
  const position = new Map(records.map((r, i) => [r.record_id, i]));
  const inspections = records.filter((r) => r.type === "inspection");
  const retests = new Map();
  for (const r of inspections) {
    if (get(r.body, "retest") !== null) retests.set(pyStr(item(item(r.body, "retest"), "of")), r);
  }
  const blockers = [];
  const conceded = new PairSet();
  for (const n of ncrs) {
    if (
      contains(["dispositioned", "closed"], item(n, "step")) &&
      contains(FINAL_DISPOSITIONS, get(n, "disposition"))
    ) {
      blockers.push(
        new Blocker(
          "disposition_final",
          `lot dispositioned ${pyStr(item(n, "disposition"))} by NCR ` +
            `${pyStr(item(n, "ncr_id"))}: never released`,
        ),
      );
    }
  }
  for (const r of inspections) {
    const stage = item(r.body, "stage");
    for (const c of failed(r.body)) {
      const name = item(c, "name");
      const critical = truthy(get(c, "critical")) ? ", critical" : "";
      const what = `${pyStr(name)} failed in ${r.record_id} (${pyStr(stage)}${critical})`;
      const retest = retests.get(r.record_id);
      if (retest !== undefined && passed(retest.body, name)) continue;
      const covering = ncrs.filter(
        (n) =>
          contains(item(n, "refs"), r.record_id) && contains(["dispositioned", "closed"], item(n, "step")),
      );
      if (!covering.length) {
        blockers.push(
          new Blocker(
            "failed_result",
            `${what}: an OOS investigation must decide it (an NCR citing ${r.record_id}: a ` +
              "retest only after it finds an assignable cause, else a disposition)",
          ),
        );
        continue;
      }
      const n = covering[covering.length - 1];
      const disposition = get(n, "disposition");
      const ncrId = pyStr(item(n, "ncr_id"));
      if (eq(disposition, "use_as_is")) {
        const given = get(n, "concession");
        const concession = truthy(given) ? given : Object.create(null);
        if (!contains(get(concession, "characteristics", []), name)) {
          blockers.push(
            new Blocker("failed_result", `${what}: NCR ${ncrId}'s concession does not cover it`),
          );
        } else if (
          at !== null &&
          at !== undefined &&
          ge(at, when(item(concession, "valid_until")))
        ) {
          blockers.push(
            new Blocker(
              "concession_expired",
              `${what}: NCR ${ncrId}'s concession expired at ` +
                `${pyStr(item(concession, "valid_until"))}`,
            ),
          );
        } else if (
          truthy(get(c, "critical")) &&
          !(
            typeof item(n, "dispositioned_by") === "string" &&
            reviewed.has(item(n, "dispositioned_by"))
          )
        ) {
          blockers.push(
            new Blocker(
              "concession_unreviewed",
              `${what}: a concession on a critical characteristic needs a second QA approver ` +
                `(material review board): a review of ${pyStr(item(n, "dispositioned_by"))} ` +
                `(NCR ${ncrId})`,
            ),
          );
        } else {
          conceded.add(r.record_id, name);
        }
      } else if (eq(disposition, "rework")) {
        const by = item(n, "dispositioned_by");
        const since = position.has(by) ? position.get(by) : records.length;
        if (
          !inspections.some(
            (i) =>
              eq(item(i.body, "stage"), stage) &&
              position.get(i.record_id) > since &&
              passed(i.body, name),
          )
        ) {
          blockers.push(
            new Blocker(
              "rework_not_reinspected",
              `${what}: reworked under NCR ${ncrId}, not re-inspected (passing) since`,
            ),
          );
        }
      }
      // scrap / return: named once per NCR above
    }
  }
  return [blockers, conceded];
}

/**
 * The paths of a correction's changes that release gating reads (verdicts, limits, units,
 * critical flags).
 */
export function gatingPaths(changes) {
  const out = [];
  for (const change of iter(changes)) {
    const parts = pyStr(item(change, "path")).split("/").slice(1);
    if (
      parts[0] === "verdict" ||
      (parts.length >= 3 && parts[0] === "characteristics" && GATING_FIELDS.includes(parts[2]))
    ) {
      out.push(pyStr(item(change, "path")));
    }
  }
  return out;
}

/**
 * Corrections of an inspection's verdict, limits or values that no second QA approver has
 * co-signed yet: they do not count for release until one does.
 */
export function correctionBlockers(records) {
  const reviewed = new Set();
  for (const r of records) if (r.type === "review") reviewed.add(pyStr(item(r.body, "reviews")));
  const kinds = new Map(records.map((r) => [r.record_id, r.type]));
  const out = [];
  for (const r of records) {
    if (r.type !== "correction" || kinds.get(pyStr(item(r.body, "corrects"))) !== "inspection") {
      continue;
    }
    const paths = gatingPaths(item(r.body, "changes"));
    if (paths.length && !reviewed.has(r.record_id)) {
      out.push(
        new Blocker(
          "correction_unreviewed",
          `correction ${r.record_id} changed ${paths.join(", ")} of ` +
            `${pyStr(item(r.body, "corrects"))}: a second QA approver must co-sign it (a ` +
            `review of ${r.record_id})`,
        ),
      );
    }
  }
  return out;
}
