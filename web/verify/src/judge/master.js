// Quality master data as the rules read it: approved specifications, calibrated equipment,
// approved suppliers. A port of evledger_verify/master.py (read its docstring): everything is
// read from the history before the record judged.
//
// - a specification version is in force from the approved step of the change that names it
//   (or that step's effective_from, if later) until a higher version comes into force;
// - an instrument is usable at a time when its latest calibration at or before that time
//   passed and is still valid; a calibration that found it out of tolerance makes every
//   inspection since its previous good calibration suspect;
// - a supplier has the status of its latest record signed at or before a receipt.

import * as acceptance from "./acceptance.js";
import * as life from "./life.js";
import { DEFAULT_POLICY } from "./policy.js";
import {
  Blocker,
  Refused,
  dispositioned,
  ncrSummaries,
  when,
} from "./rules.js";
import {
  PyDict,
  contains,
  eq,
  ge,
  get,
  gt,
  item,
  iter,
  le,
  lt,
  member,
  pyRepr,
  pyStr,
  sortBy,
  sortedStr,
  toInt,
  truthy,
} from "./py.js";

export { dispositioned };

/** Supplier statuses a receipt may come from without a release blocker. */
export const APPROVED_SUPPLIER = Object.freeze(["approved", "conditional"]);

/** A time as the rules' messages and the master data views give it (UTC, ISO 8601). */
export function iso(t) {
  return t.toUtc().isoformat().replaceAll("+00:00", "Z");
}

// -- specifications ---------------------------------------------------------------------------

/** One version of a specification and when change control brought it into force. */
export class SpecVersion {
  constructor(record, approval, effectiveFrom) {
    this.record = record;
    /** The approving change step, if any yet. */
    this.approval = approval;
    this.effective_from = effectiveFrom;
    Object.freeze(this);
  }

  get version() {
    return toInt(item(this.record.body, "version"));
  }

  get body() {
    return this.record.body;
  }
}

/** Every logged version of ``specId``, in log order, with its approval (if any). */
export function specVersions(specId, history) {
  const out = [];
  for (const r of history.subject(`specification:${specId}`)) {
    if (r.type !== "specification") continue;
    const change = history.subject(`change:${pyStr(item(r.body, "change_id"))}`);
    const approval = change.find((c) => eq(get(c.body, "step"), "approved")) ?? null;
    let effective = null;
    if (approval !== null && names(change, specId, toInt(item(r.body, "version")))) {
      effective = when(approval.signed_at);
      if (get(approval.body, "effective_from") !== null) {
        const from = when(item(approval.body, "effective_from"));
        if (gt(from, effective)) effective = from; // max(effective, from)
      }
    }
    out.push(new SpecVersion(r, effective !== null ? approval : null, effective));
  }
  return out;
}

/** The specification versions a change names on its requested step: [spec_id, version]. */
function named(change) {
  const requested = change.find((c) => eq(get(c.body, "step"), "requested")) ?? null;
  const given = requested !== null ? get(requested.body, "specifications") : null;
  const refs = truthy(given) ? given : [];
  return iter(refs).map((r) => [pyStr(item(r, "spec_id")), toInt(item(r, "version"))]);
}

/** Whether the change's requested step names this specification version. */
function names(change, specId, version) {
  return named(change).some(([s, v]) => s === specId && v === version);
}

/** The version in force at ``at``: the highest one whose approval took effect by then. */
export function inForce(versions, at) {
  let best = null;
  for (const v of versions) {
    if (v.effective_from === null || !le(v.effective_from, at)) continue;
    if (best === null || v.version > best.version) best = v;
  }
  return best;
}

/**
 * A new specification version: the next number, the same product and stage as the versions
 * before, and named by a change that is not approved yet.
 */
export function checkSpecification(record, history) {
  const specId = pyStr(item(record, "spec_id"));
  const version = toInt(item(record, "version"));
  const versions = specVersions(specId, history);
  let highest = 0n; // max(..., default=0)
  versions.forEach((v, i) => {
    if (i === 0 || v.version > highest) highest = v.version;
  });
  const expected = 1n + highest;
  if (version !== expected) {
    throw new Refused(
      "specification",
      "conflict",
      `specification ${specId}: version ${version} cannot follow ` +
        (versions.length ? `version ${expected - 1n}` : "nothing") +
        `; the next version is ${expected}`,
    );
  }
  if (versions.length) {
    const first = versions[0].body;
    const theirs = [item(item(first, "product"), "gtin"), item(first, "stage")];
    const mine = [item(item(record, "product"), "gtin"), item(record, "stage")];
    if (!eq(theirs, mine)) {
      throw new Refused(
        "specification",
        "conflict",
        `specification ${specId}: is for product ${pyStr(theirs[0])} at stage ` +
          `${pyStr(theirs[1])}; a specification for another product or stage needs its own ` +
          "spec_id",
      );
    }
  }
  const changeId = pyStr(item(record, "change_id"));
  const change = history.subject(`change:${changeId}`);
  if (!change.length) {
    throw new Refused(
      "specification",
      "conflict",
      `specification ${specId} version ${version}: change ${changeId} does not exist; ` +
        "request the change first (naming this specification version)",
    );
  }
  if (!names(change, specId, version)) {
    throw new Refused(
      "specification",
      "conflict",
      `specification ${specId} version ${version}: change ${changeId} does not name it ` +
        "on its requested step",
    );
  }
  const step = pyStr(get(change[change.length - 1].body, "step"));
  if (step !== "requested" && step !== "assessed") {
    throw new Refused(
      "specification",
      "conflict",
      `specification ${specId} version ${version}: change ${changeId} is already at step ` +
        `${step}; an approval cannot precede the content it approves`,
    );
  }
}

/**
 * A change that brings a specification into force is approved only once that version is
 * logged, and not by its author, with any of their keys (four eyes by person).
 */
export function checkChangeApproval(record, signer, history) {
  const change = history.subject(`change:${pyStr(item(record, "change_id"))}`);
  const me = history.person(signer);
  for (const [specId, version] of named(change)) {
    const found =
      specVersions(specId, history).find(
        (v) =>
          v.version === version && eq(item(v.body, "change_id"), item(record, "change_id")),
      ) ?? null;
    if (found === null) {
      throw new Refused(
        "specification",
        "conflict",
        `change ${pyStr(item(record, "change_id"))}: specification ${specId} version ` +
          `${version} has not been logged; approve the change once the content it approves is`,
      );
    }
    const author = found.record.signer;
    const sameKey = author.toLowerCase() === signer.toLowerCase();
    if (sameKey || (me !== null && me !== undefined && eq(history.person(author), me))) {
      const how = sameKey ? "" : `, the same person as ${signer}`;
      throw new Refused(
        "specification",
        "forbidden",
        `four eyes: specification ${specId} version ${version} was authored by ` +
          `${author} (${history.name(author)}${how}); its approver must be someone else`,
      );
    }
  }
}

/**
 * An inspection follows the specification in force at its time: same characteristics,
 * methods, units, limits and critical flags, the same sampling plan and at least its sample
 * size, each measurement made with equipment in calibration. ``legacy``: an inspection/1
 * (citing no specification) is judged as logged before specifications.
 */
export function checkInspection(record, history, legacy) {
  const at = when(item(record, "inspected_at"));
  const gtin = item(item(record, "product"), "gtin");
  const stage = item(record, "stage");
  const rid = () => pyStr(item(record, "record_id"));
  if (eq(get(record, "schema"), "inspection/1")) {
    if (!legacy) {
      throw new Refused(
        "specification",
        "conflict",
        `inspection ${rid()}: cites no specification; an inspection of product ` +
          `${pyStr(gtin)} at stage ${pyStr(stage)} must cite the approved specification in ` +
          "force (schema inspection/2, field specification)",
      );
    }
    return; // its equipment list names instruments in words, not registered ids
  }
  const ref = item(record, "specification");
  const specId = pyStr(item(ref, "spec_id"));
  const version = toInt(item(ref, "version"));
  const versions = specVersions(specId, history);
  const cited = versions.find((v) => v.version === version) ?? null;
  if (cited === null) {
    throw new Refused(
      "specification",
      "conflict",
      `inspection ${rid()}: specification ${specId} version ${version} does not exist` +
        (versions.length ? ` (latest: version ${versions[versions.length - 1].version})` : "") +
        `; product ${pyStr(gtin)} at stage ${pyStr(stage)} has no approved specification ` +
        "of that id",
    );
  }
  const spec = cited.body;
  const specFor = [item(item(spec, "product"), "gtin"), item(spec, "stage")];
  if (!eq(specFor, [gtin, stage])) {
    throw new Refused(
      "specification",
      "conflict",
      `inspection ${rid()}: specification ${specId} is for product ${pyStr(specFor[0])} at ` +
        `stage ${pyStr(specFor[1])}, not ${pyStr(gtin)} at ${pyStr(stage)}`,
    );
  }
  const current = inForce(versions, at);
  if (current === null || current.version !== version) {
    let why;
    if (current === null) {
      why =
        "no version of it is in force then" +
        (cited.effective_from !== null
          ? ` (version ${version} takes effect ${iso(cited.effective_from)})`
          : ` (version ${version} is not approved)`);
    } else if (current.version > version) {
      why =
        `version ${version} is superseded by version ${current.version}, in force since ` +
        `${iso(current.effective_from ?? at)}`;
    } else if (cited.effective_from !== null) {
      why =
        `version ${version} takes effect ${iso(cited.effective_from)}; version ` +
        `${current.version} is in force`;
    } else {
      why = `version ${version} is not approved yet; version ${current.version} is in force`;
    }
    throw new Refused(
      "specification",
      "conflict",
      `inspection ${rid()}: specification ${specId} version ${version} is not in force at ` +
        `${iso(at)}: ${why}`,
    );
  }
  const problems = differences(record, spec);
  if (problems.length) {
    throw new Refused(
      "specification",
      "conflict",
      `inspection ${rid()}: differs from specification ${specId} version ${version}: ` +
        problems.slice(0, 5).join("; "),
      problems,
    );
  }
  const wanted = new PyDict();
  for (const c of iter(item(spec, "characteristics"))) {
    wanted.set(item(c, "name"), get(c, "equipment_kind"));
  }
  for (const c of iter(item(record, "characteristics"))) {
    const kind = wanted.get(item(c, "name"), null);
    if (get(c, "equipment") === null) {
      if (kind !== null) {
        throw new Refused(
          "equipment",
          "conflict",
          `inspection ${rid()}: ${pyStr(item(c, "name"))} must be measured with a ` +
            `${pyStr(kind)} (specification ${specId}); name the instrument (equipment)`,
        );
      }
      continue;
    }
    usable(pyStr(item(c, "equipment")), kind, at, history, rid(), item(c, "name"));
  }
  acceptance.checkSampling(record, history, spec);
}

function limits(c) {
  return `${pyStr(get(c, "lower"))}..${pyStr(get(c, "upper"))} ${pyStr(get(c, "unit"))}`;
}

function differences(record, spec) {
  const out = [];
  if (lt(toInt(item(record, "sample_size")), toInt(item(spec, "sample_size")))) {
    out.push(
      `sample size ${pyStr(item(record, "sample_size"))} is below the specification's ` +
        `${pyStr(item(spec, "sample_size"))}`,
    );
  }
  const measured = new PyDict();
  for (const c of iter(item(record, "characteristics"))) measured.set(item(c, "name"), c);
  for (const s of iter(item(spec, "characteristics"))) {
    const c = measured.pop(item(s, "name"), null);
    const sname = pyStr(item(s, "name"));
    if (c === null) {
      out.push(`${sname}: not measured`);
      continue;
    }
    const mine = [get(c, "lower"), get(c, "upper"), get(c, "unit")];
    const theirs = [get(s, "lower"), get(s, "upper"), get(s, "unit")];
    if (!eq(mine, theirs)) {
      out.push(`${sname}: limits ${limits(c)}, the specification's are ${limits(s)}`);
    }
    const critical = truthy(get(c, "critical", false));
    const specCritical = truthy(get(s, "critical", false));
    if (critical !== specCritical) {
      out.push(
        `${sname}: critical ${critical ? "True" : "False"}, the specification says ` +
          `${specCritical ? "True" : "False"}`,
      );
    }
    if (get(c, "method") !== null && !eq(get(c, "method"), item(s, "method"))) {
      out.push(
        `${sname}: method ${pyRepr(item(c, "method"))}, the specification's is ` +
          `${pyRepr(item(s, "method"))}`,
      );
    }
  }
  for (const name of measured.keys()) out.push(`${pyStr(name)}: not in the specification`);
  return out;
}

// -- equipment ----------------------------------------------------------------------------------

/**
 * [the equipment record, its calibration in effect at ``at``, why it is not usable then or
 * null].
 */
export function calibrationStatus(equipmentId, at, history) {
  const records = history.subject(`equipment:${equipmentId}`);
  const unit = records.find((r) => r.type === "equipment") ?? null;
  if (unit === null) return [null, null, `equipment ${equipmentId} is not registered`];
  const done = records.filter(
    (r) => r.type === "calibration" && le(when(item(r.body, "calibrated_at")), at),
  );
  if (!done.length) {
    return [unit, null, `equipment ${equipmentId} has no calibration before ${iso(at)}`];
  }
  // max by (calibrated_at, position): the latest, the last logged of equal times
  let last = null;
  let lastAt = null;
  for (const r of done) {
    const t = when(item(r.body, "calibrated_at"));
    if (last === null || ge(t, lastAt)) {
      last = r;
      lastAt = t;
    }
  }
  if (!eq(item(last.body, "result"), "pass")) {
    return [
      unit,
      last,
      `equipment ${equipmentId} failed calibration ${last.record_id} on ` +
        `${iso(when(item(last.body, "calibrated_at")))}`,
    ];
  }
  if (lt(when(item(last.body, "valid_until")), at)) {
    return [
      unit,
      last,
      `equipment ${equipmentId} is past its calibration date ` +
        `(${iso(when(item(last.body, "valid_until")))}, calibration ${last.record_id})`,
    ];
  }
  return [unit, last, null];
}

/** An instrument is registered once; a calibration is of a registered instrument. */
export function checkEquipment(record, history) {
  const equipmentId = pyStr(item(record, "equipment_id"));
  const unit =
    history.subject(`equipment:${equipmentId}`).find((r) => r.type === "equipment") ?? null;
  if (eq(item(record, "type"), "equipment") && unit !== null) {
    throw new Refused(
      "equipment",
      "conflict",
      `equipment ${equipmentId}: already registered by record ${unit.record_id}`,
    );
  }
  if (eq(item(record, "type"), "calibration") && unit === null) {
    throw new Refused(
      "equipment",
      "conflict",
      `calibration ${pyStr(item(record, "record_id"))}: equipment ${equipmentId} is not ` +
        "registered; register it first (an equipment record)",
    );
  }
}

function usable(equipmentId, kind, at, history, recordId, characteristic = null) {
  const [unit, , why] = calibrationStatus(equipmentId, at, history);
  const what =
    `inspection ${recordId}` + (truthy(characteristic) ? `, ${pyStr(characteristic)}` : "");
  if (unit !== null && kind !== null && !eq(item(unit.body, "kind"), kind)) {
    throw new Refused(
      "equipment",
      "conflict",
      `${what}: equipment ${equipmentId} is a ${pyStr(item(unit.body, "kind"))}; the ` +
        `specification asks for a ${pyStr(kind)}`,
    );
  }
  if (why !== null) throw new Refused("equipment", "conflict", `${what}: ${why} at ${iso(at)}`);
}

/** The instruments an inspection names (a Set of ids). */
export function equipmentUsed(body) {
  const given = get(body, "equipment");
  const used = new Set(iter(truthy(given) ? given : []).map((e) => pyStr(e)));
  for (const c of iter(item(body, "characteristics"))) {
    if (truthy(get(c, "equipment"))) used.add(pyStr(item(c, "equipment")));
  }
  return used;
}

/**
 * For each calibration that found the instrument out of tolerance: [that calibration, its
 * previous good calibration's time or null, its own time]. Inspections made with the
 * instrument after the first and up to the second are suspect.
 */
export function suspectWindows(equipmentId, history) {
  const cals = sortBy(
    history.subject(`equipment:${equipmentId}`).filter((c) => c.type === "calibration"),
    (c) => when(item(c.body, "calibrated_at")),
  );
  const out = [];
  cals.forEach((cal, i) => {
    if (!eq(item(cal.body, "as_found"), "out_of_tolerance")) return;
    const good = cals.slice(0, i).filter((c) => eq(item(c.body, "result"), "pass"));
    const start = good.length ? when(item(good[good.length - 1].body, "calibrated_at")) : null;
    out.push([cal, start, when(item(cal.body, "calibrated_at"))]);
  });
  return out;
}

/** The out-of-tolerance calibration that makes this inspection suspect, if any (or null). */
export function suspectBy(body, windows) {
  const at = when(item(body, "inspected_at"));
  for (const [cal, start, end] of windows) {
    if ((start === null || gt(at, start)) && le(at, end)) return cal;
  }
  return null;
}

/**
 * Inspections made with an instrument a later calibration found out of tolerance, from its
 * previous good calibration up to that one, not yet dispositioned by an NCR.
 */
function suspect(records, history, cleared) {
  const blockers = [];
  const windows = new Map();
  for (const r of records) {
    if (r.type !== "inspection" || member(cleared, r.record_id)) continue;
    for (const equipmentId of sortedStr(equipmentUsed(r.body))) {
      if (!windows.has(equipmentId)) {
        windows.set(equipmentId, suspectWindows(equipmentId, history));
      }
      const cal = suspectBy(r.body, windows.get(equipmentId));
      if (cal !== null) {
        blockers.push(
          new Blocker(
            "calibration_out_of_tolerance",
            `inspection ${r.record_id} used equipment ${equipmentId}, found out of ` +
              `tolerance by calibration ${cal.record_id} on ` +
              `${iso(when(item(cal.body, "calibrated_at")))}: an NCR must disposition ` +
              `${r.record_id}`,
          ),
        );
        break;
      }
    }
  }
  return blockers;
}

// -- suppliers ----------------------------------------------------------------------------------

/** The supplier record in effect at ``at``: the latest signed at or before it (or null). */
export function supplierStatus(supplierId, at, history) {
  const found = history
    .subject(`supplier:${supplierId}`)
    .filter((r) => r.type === "supplier" && le(when(r.signed_at), at));
  return found.length ? found[found.length - 1] : null;
}

function suppliers(lot, history, cleared) {
  const blockers = [];
  for (const [recordId, material, supplier, at] of history.receipts(lot)) {
    if (supplier === null || supplier === undefined || at === null || at === undefined) continue;
    if (member(cleared, recordId)) continue;
    const status = supplierStatus(pyStr(supplier), when(at), history);
    if (status !== null && contains(APPROVED_SUPPLIER, item(status.body, "status"))) continue;
    if (member(dispositioned(ncrSummaries(history.lot(material))), recordId)) continue;
    const why =
      status !== null
        ? `${pyStr(item(status.body, "status"))} (${status.record_id})`
        : "not an approved supplier";
    const into = material === lot ? "" : `, which went into lot ${lot}`;
    blockers.push(
      new Blocker(
        "supplier_not_approved",
        `material lot ${pyStr(material)} was received from supplier ${pyStr(supplier)} on ${pyStr(at)} ` +
          `while the supplier was ${why} (record ${recordId}${into}): an NCR dispositioning ` +
          `${recordId} clears it`,
      ),
    );
  }
  return blockers;
}

/**
 * Why the lot's wider history keeps ``lot`` (its records, corrections applied) from release:
 * inspections with equipment later found out of tolerance, material from suppliers that were
 * not approved when it was received, and the shop floor's critical alerts.
 */
export function masterBlockers(lot, records, history, policy = DEFAULT_POLICY) {
  const cleared = dispositioned(ncrSummaries(records));
  return [
    ...suspect(records, history, cleared),
    ...suppliers(lot, history, cleared),
    ...life.floorBlockers(lot, records, history, cleared, policy),
  ];
}
