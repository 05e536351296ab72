// A lot's life after its release decision: holds, complaints, field actions, and the state the
// log gives it. A port of evledger_verify/life.py (read its docstring for the states:
// in_process, quarantined, released, on_hold, rejected, recalled).

import * as oos from "./oos.js";
import { DEFAULT_POLICY } from "./policy.js";
import { Blocker, Refused, ncrSummaries, when } from "./rules.js";
import { KeyError, eq, get, item, iter, le, member, pyRepr, pyStr, slice } from "./py.js";

/** What the log says about a lot's release decision and what happened after it. */
export class Life {
  constructor() {
    /** The last release decision in force (null: none, or a rejection reopened by rework). */
    this.decision = null;
    /** The release record behind ``decision``. */
    this.release = null;
    /** What puts the released lot on hold now, by record id, in log order (a Map). */
    this.holds = new Map();
    /** The field actions taken (the lot is recalled). */
    this.field_actions = [];
    /** The rework NCR step that reopened a rejected lot, if one did. */
    this.reopened_by = null;
  }

  /** The lot's state; ``blocked``: something keeps it from release. */
  state(blocked) {
    if (this.field_actions.length) return "recalled";
    if (this.decision === "released") return this.holds.size ? "on_hold" : "released";
    if (this.decision === "rejected" || this.decision === "quarantined") return this.decision;
    return blocked ? "quarantined" : "in_process";
  }

  /** The active holds, as the lot status shows them. */
  view() {
    return [...this.holds.values()].map((r) => ({
      record_id: r.record_id,
      type: r.type,
      why: why(r),
    }));
  }
}

/** Python's ``str(x)[:120]``. */
function head(x) {
  return slice(pyStr(x), 120);
}

function why(r) {
  const b = r.body;
  if (r.type === "ncr") {
    return `NCR ${pyStr(item(b, "ncr_id"))} opened after release: ${head(get(b, "nature", ""))}`;
  }
  if (r.type === "alert") {
    return (
      `alert ${pyStr(item(b, "alert_id"))} after release: ` +
      `${head(get(b, "description", ""))}`
    );
  }
  if (r.type === "complaint") {
    return (
      `complaint ${pyStr(item(b, "complaint_id"))} from ${pyStr(item(b, "source"))}: ` +
      `${head(item(b, "description"))}`
    );
  }
  if (r.type === "correction") {
    return `correction ${r.record_id} of ${pyStr(item(b, "corrects"))}, which the release relied on`;
  }
  return `hold ${pyStr(item(b, "hold_id"))} placed: ${head(get(b, "reason", ""))}`;
}

/** Replay the lot's records (in log order) into its Life. */
export function lotLife(records) {
  const life = new Life();
  let reliedOn = new Set();
  for (const r of records) {
    const b = r.body;
    if (r.type === "release") {
      life.decision = pyStr(item(b, "decision"));
      life.release = r;
      life.reopened_by = null;
      if (life.decision === "released") {
        reliedOn = new Set(iter(get(b, "evidence", [])).map((e) => pyStr(item(e, "record_id"))));
        life.holds.clear();
      }
    } else if (r.type === "field_action") {
      life.field_actions.push(r);
    } else if (r.type === "hold" && eq(get(b, "action"), "lifted")) {
      for (const resolved of iter(get(b, "resolves", []))) life.holds.delete(pyStr(resolved));
    } else if (
      r.type === "ncr" &&
      eq(get(b, "step"), "dispositioned") &&
      eq(get(b, "disposition"), "rework") &&
      life.decision === "rejected"
    ) {
      life.decision = null;
      life.reopened_by = r.record_id;
    } else if (
      life.decision === "released" &&
      ((r.type === "ncr" && eq(get(b, "step"), "open")) ||
        r.type === "alert" ||
        r.type === "complaint" ||
        (r.type === "correction" && reliedOn.has(pyStr(get(b, "corrects")))) ||
        (r.type === "hold" && eq(get(b, "action"), "placed")))
    ) {
      life.holds.set(r.record_id, r);
    }
  }
  return life;
}

// -- rules ------------------------------------------------------------------------------------

/** A rejected lot is released only after a rework NCR reopened it; a recalled one never. */
export function checkRelease(record, records) {
  if (!eq(item(record, "decision"), "released")) return;
  const life = lotLife(records);
  const lot = item(record, "lot");
  if (life.field_actions.length) {
    const last = life.field_actions[life.field_actions.length - 1];
    throw new Refused(
      "release",
      "conflict",
      `release of lot ${pyStr(lot)}: recalled by field action ` +
        `${pyStr(item(last.body, "field_action_id"))}; a recalled lot is never released again`,
    );
  }
  if (life.decision === "rejected" && life.release !== null) {
    throw new Refused(
      "release",
      "conflict",
      `release of lot ${pyStr(lot)}: rejected by ${life.release.record_id}; rejected is final ` +
        "unless an NCR dispositioned rework reopens the lot",
    );
  }
}

/**
 * A hold is lifted by a QA approver, naming holds in force and the records of the lot that
 * resolve them; a hold an NCR opened is resolved by that NCR closed.
 */
export function checkHold(record, meaning, history) {
  if (!eq(item(record, "action"), "lifted")) return;
  const lot = pyStr(item(record, "lot"));
  const hold = item(record, "hold_id");
  if (meaning !== "approved") {
    throw new Refused(
      "authority",
      "forbidden",
      `hold ${pyStr(hold)}: lifting a hold is a QA approver's decision (meaning approved), ` +
        `got ${pyRepr(meaning)}`,
    );
  }
  const records = history.lot(lot);
  const life = lotLife(records);
  const unknown = iter(item(record, "resolves"))
    .map((t) => pyStr(t))
    .filter((t) => !life.holds.has(t));
  if (unknown.length) {
    const active = [...life.holds.keys()].join(", ") || "none";
    throw new Refused(
      "hold",
      "conflict",
      `hold ${pyStr(hold)}: ${unknown.join(", ")} put no hold on lot ${lot} now (holds in ` +
        `force: ${active})`,
    );
  }
  const ids = new Set(records.map((r) => r.record_id));
  const missing = iter(item(record, "resolution"))
    .map((x) => pyStr(x))
    .filter((x) => !ids.has(x));
  if (missing.length) {
    throw new Refused(
      "hold",
      "conflict",
      `hold ${pyStr(hold)}: resolution ${missing.join(", ")} names no record of lot ${lot}`,
    );
  }
  const ncrs = ncrSummaries(records);
  for (const t of iter(item(record, "resolves"))) {
    const trigger = life.holds.get(pyStr(t));
    if (trigger.type === "ncr") {
      const key = pyStr(item(trigger.body, "ncr_id"));
      const n = ncrs instanceof Map ? ncrs.get(key) : item(ncrs, key);
      if (n === undefined) throw new KeyError(key);
      if (!eq(item(n, "step"), "closed")) {
        throw new Refused(
          "hold",
          "conflict",
          `hold ${pyStr(hold)}: NCR ${pyStr(item(n, "ncr_id"))} (which put the hold) is not ` +
            `closed (step ${pyStr(item(n, "step"))}); a hold lifts once its NCR is closed`,
        );
      }
    }
  }
}

/** A complaint or a field action names a lot the ledger knows. */
export function checkKnownLot(record, history) {
  if (!history.lot(pyStr(item(record, "lot"))).length) {
    throw new Refused(
      pyStr(item(record, "type")),
      "not_found",
      `${pyStr(item(record, "type"))} ${pyStr(item(record, "record_id"))}: lot ` +
        `${pyRepr(item(record, "lot"))} has no records`,
    );
  }
}

// -- status on the floor ----------------------------------------------------------------------

/** The ``records`` signed by ``at``; and the record that made the link (``linking``): an
 * incoming inspection naming its material links it at ``inspected_at``, before it is signed,
 * and verifies it all the same. */
function before(records, at, linking = null) {
  return records.filter((r) => le(when(r.signed_at), at) || r.record_id === linking);
}

/**
 * Material is verified for use by a release decision, or by a passing inspection signed as
 * performed: among the material lot's own ``records``, or, given ``material``, an incoming
 * inspection among the consuming lot's records that names it (``material_lot``).
 */
function verified(records, material = null) {
  return records.some(
    (r) =>
      (material === null &&
        r.type === "release" &&
        eq(get(r.body, "decision"), "released")) ||
      (r.type === "inspection" &&
        r.meaning === "authored" &&
        eq(get(r.body, "verdict"), "pass") &&
        (material === null || eq(get(r.body, "material_lot"), material))),
  );
}

/**
 * Critical alerts the shop floor raised on ``lot`` (life.py floor_blockers): it was shipped
 * while not released, or material was consumed into it while that material lot was rejected,
 * quarantined, on hold, recalled, with an unanswered failed result, or (policy
 * material_acceptance "verified") not yet verified. Each stays a release blocker until an NCR
 * whose refs name the scan record is dispositioned (``cleared``, a Set of refs).
 */
export function floorBlockers(lot, records, history, cleared, policy = DEFAULT_POLICY) {
  const out = [];
  for (const [recordId, kind, other, at] of history.floor(lot)) {
    if (member(cleared, recordId) || at === null || at === undefined) continue;
    let t;
    try {
      t = when(at);
    } catch {
      continue; // Python: a time fromisoformat cannot read (ValueError)
    }
    if (kind === "ship") {
      const state = lotLife(before(records, t)).state(false);
      if (state !== "released") {
        out.push(
          new Blocker(
            "floor_alert",
            `critical alert: lot ${lot} was shipped to ${pyStr(other)} while not released ` +
              `(${state.replaceAll("_", " ")}; scan ${recordId}, ${pyStr(at)}): an NCR ` +
              `dispositioning ${recordId} clears it`,
          ),
        );
      }
    } else if (other !== null && other !== undefined) {
      const material = before(history.lot(other), t);
      const state = lotLife(material).state(false);
      const [failed] = oos.failureBlockers(material, t);
      let reason = null;
      if (["rejected", "quarantined", "on_hold", "recalled"].includes(state)) {
        reason = state.replaceAll("_", " ");
      } else if (failed.length) {
        reason = "with an unanswered failed result";
      } else if (
        policy.material_acceptance === "verified" &&
        !verified(material) &&
        !verified(before(records, t, recordId), other)
      ) {
        reason = "not verified (no passing inspection and no release of it)";
      }
      if (reason !== null) {
        out.push(
          new Blocker(
            "floor_alert",
            `critical alert: material lot ${other} was consumed into lot ${lot} while ` +
              `${reason} (scan ${recordId}, ${pyStr(at)}): an NCR dispositioning ` +
              `${recordId} clears it`,
          ),
        );
      }
    }
  }
  return out;
}

