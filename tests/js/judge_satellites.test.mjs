// The page's ports of the judge's satellite modules (web/verify/src/judge/sampling.js,
// acceptance.js, oos.js, master.js, life.js) against the Python reference, function by
// function: tests/vectors/judge/satellites.json holds what evledger_verify.sampling,
// .acceptance, .oos, .master and .life answer (written by tests/vectors/judge/satellites.py,
// whose docstring says what is in it). Every answer must be the same: the value returned, or
// the Refused raised (kind, status, message, reasons), or the Python exception (class name and
// message).
//
//   node --test tests/js/judge_satellites.test.mjs

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { loads } from "../../web/verify/src/strictjson.js";
import { deepcopy, isDict, PyDateTime, PySet } from "../../web/verify/src/judge/py.js";
import * as sampling from "../../web/verify/src/judge/sampling.js";
import * as acceptance from "../../web/verify/src/judge/acceptance.js";
import * as oos from "../../web/verify/src/judge/oos.js";
import * as master from "../../web/verify/src/judge/master.js";
import * as life from "../../web/verify/src/judge/life.js";
import { DEFAULT_POLICY, Policy } from "../../web/verify/src/judge/policy.js";
import { Blocker, Refused, Stored, when } from "../../web/verify/src/judge/rules.js";

const FILE = new URL("../vectors/judge/satellites.json", import.meta.url);
const DATA = loads(readFileSync(FILE));
const S = DATA.sampling;
const LETTERS = "ABCDEFGHJKLMNPQR";

/** What a call gives, as the generator's _try / _outcome write it. */
function attempt(fn, ser = (x) => x) {
  try {
    return { ok: ser(fn()) };
  } catch (err) {
    if (err instanceof Refused) {
      return { refused: [err.kind, err.status, err.message, err.reasons] };
    }
    return { raises: [err?.name ?? typeof err, err?.message ?? String(err)] };
  }
}

function plain(v) {
  // vectors parse into null-prototype objects: compare them as plain ones
  if (Array.isArray(v)) return v.map(plain);
  if (v !== null && typeof v === "object") {
    const out = {};
    for (const k of Object.keys(v)) out[k] = plain(v[k]);
    return out;
  }
  return v;
}

function show(v) {
  return JSON.stringify(v, (_, x) => (typeof x === "bigint" ? `${x}n` : x));
}

/** Canonical text of a value, sets sorted, for comparing answers. */
function canon(v) {
  if (Array.isArray(v)) return "[" + v.map(canon).join(",") + "]";
  if (v !== null && typeof v === "object") {
    const keys = Object.keys(v).sort();
    if (keys.length === 1 && keys[0] === "set") {
      return "{set:" + v.set.map(canon).sort().join(",") + "}";
    }
    return "{" + keys.map((k) => JSON.stringify(k) + ":" + canon(v[k])).join(",") + "}";
  }
  if (typeof v === "bigint") return `${v}n`;
  if (typeof v === "number") return Number.isInteger(v) ? `${v}.0` : String(v);
  return JSON.stringify(v ?? null);
}

function same(got, want, where) {
  const g = canon(got);
  const w = canon(want);
  if (g !== w) assert.fail(`${where}:\n  js: ${show(plain(got))}\n  py: ${show(plain(want))}`);
}

// -- sampling -----------------------------------------------------------------------------------

test("sampling: every cell of the master tables, and their digest", () => {
  const lines = [];
  for (const edition of sampling.EDITIONS) {
    for (const severity of sampling.SEVERITIES) {
      for (const letter of LETTERS) {
        for (const aql of sampling.AQLS) {
          const reached = sampling.resolveCell(edition, severity, letter, aql).map(String);
          lines.push([edition, severity, letter, aql, ...reached].join("|"));
        }
      }
    }
  }
  assert.equal(lines.length, 2496);
  lines.forEach((line, i) => assert.equal(line, S.cells[i]));
  const digest = createHash("sha256").update(lines.join("\n")).digest("hex");
  assert.equal(digest, S.tables_digest);
  // tests/unit/test_sampling.py pins the same digest
  assert.equal(digest, "b25ae62ecbd54df43e28adbfc28e89368825ee9210ab47bacfc84da7c14a156b");
});

test("sampling: Table 1 code letters at every boundary, and bad input", () => {
  assert.ok(S.code_letters.length > 200);
  for (const [size, level, want] of S.code_letters) {
    same(attempt(() => sampling.codeLetter(size, level)), want, `code_letter(${show(size)}, ${show(level)})`);
  }
});

test("sampling: AQL labels", () => {
  for (const [aql, want] of S.aql_labels) {
    same(attempt(() => sampling.aqlLabel(aql)), want, `aql_label(${show(aql)})`);
  }
});

function planRow(p) {
  return [p.aql, p.table1_letter, p.code_letter, p.sample_size, p.accept, p.reject, p.full_inspection];
}

test("sampling: plans over lot sizes, levels, AQLs, severities and editions", () => {
  assert.ok(S.plans.length > 1500);
  for (const [args, want] of S.plans) {
    const [size, level, aql, severity, edition] = args;
    const got = attempt(() => {
      const p = sampling.plan(size, level, aql, severity, { edition });
      assert.equal(p.lot_size, size);
      assert.equal(p.level, level);
      assert.equal(p.severity, severity);
      assert.equal(p.edition, edition);
      return planRow(p);
    });
    same(got, want, `plan(${show(args)})`);
  }
});

test("sampling: verdicts", () => {
  for (const [args, count, want] of S.verdicts) {
    const [size, level, aql, severity, edition] = args;
    const p = sampling.plan(size, level, aql, severity, { edition });
    same(attempt(() => sampling.verdict(p, count)), want, `verdict(${show(args)}, ${show(count)})`);
  }
});

test("sampling: lot streams through the switching rules, state after every lot", () => {
  for (const [n, stream] of S.switching.entries()) {
    let state = new sampling.Switching();
    stream.lots.forEach((lot, i) => {
      const [size, level, aql, severity, found, steady, approved, resume] = lot;
      if (resume) state = state.resumed();
      assert.equal(state.state, severity, `stream ${n} lot ${i}: severity`);
      const p = sampling.plan(size, level, aql, state.state, { edition: stream.edition });
      state = state.after(new sampling.Lot(p, found, steady, approved));
      const row = [
        state.state,
        BigInt(state.score),
        [...state.recent],
        BigInt(state.run),
        BigInt(state.accepted_in_a_row),
        BigInt(state.not_accepted),
      ];
      same(row, stream.states[i], `stream ${n} (${stream.edition}) after lot ${i}`);
    });
  }
});

test("sampling: errors of lots and switching", () => {
  const p = sampling.plan(3000n, "II", "0.65", "normal");
  const calls = {
    lot_wrong_plan: () => new sampling.Lot(new sampling.Plan({ ...p, accept: 5n }), 0n),
    lot_negative: () => new sampling.Lot(p, -1n),
    after_wrong_severity: () =>
      new sampling.Switching({ state: "tightened" }).after(new sampling.Lot(p, 0n)),
    after_discontinued: () =>
      new sampling.Switching({ state: "discontinued" }).after(new sampling.Lot(p, 0n)),
    resumed_not_discontinued: () => new sampling.Switching().resumed(),
  };
  for (const [name, want] of S.errors) {
    same(attempt(calls[name], () => null), { ...want, ...(want.ok ? { ok: null } : {}) }, name);
  }
});

// -- the rule functions on small histories ------------------------------------------------------

const QA = "0x" + "a".repeat(40);
const QA2 = "0x" + "b".repeat(40);
const INS = "0x" + "c".repeat(40);
const ALT = "0x" + "d".repeat(40);
const NAMES = { [QA]: "Alice QA", [QA2]: "Bob Approver", [INS]: "Carol Inspector", [ALT]: "Alice QA" };
const PERSONS = { [QA]: "p-alice", [QA2]: "p-bob", [INS]: "p-carol", [ALT]: "p-alice" };

class FakeHistory {
  constructor(entries, receipts, floor) {
    this.entries = entries.map((e) => ({
      subject: e.subject,
      stored: new Stored({
        record_id: e.record_id,
        type: e.type,
        body: deepcopy(e.body),
        record_hash: e.record_hash,
        signer: e.signer,
        printed_name: NAMES[e.signer] ?? null,
        meaning: e.meaning,
        signed_at: e.signed_at,
        accepted_at: e.signed_at,
      }),
    }));
    this.stored = this.entries.map((e) => e.stored);
    this.receiptsOf = receipts ?? {};
    this.floorOf = floor ?? {};
  }
  subject(subject) {
    return this.entries.filter((e) => e.subject === subject).map((e) => e.stored);
  }
  lot(lot) {
    return this.stored.filter((r) => Object.hasOwn(r.body, "lot") && r.body.lot === lot);
  }
  records(ids) {
    return this.stored.filter((r) => ids.includes(r.record_id));
  }
  name(signer) {
    return NAMES[signer] ?? "unregistered";
  }
  person(signer) {
    return PERSONS[signer] ?? null;
  }
  receipts(lot) {
    return (Object.hasOwn(this.receiptsOf, lot) ? this.receiptsOf[lot] : []).map((x) => [...x]);
  }
  floor(lot) {
    return (Object.hasOwn(this.floorOf, lot) ? this.floorOf[lot] : []).map((x) => [...x]);
  }
}

function ser(v) {
  if (v === undefined || v === null) return null;
  if (v instanceof Blocker) return { blocker: [v.kind, v.text] };
  if (v instanceof Stored) return { stored: v.record_id };
  if (v instanceof PyDateTime) return { time: master.iso(v) };
  if (v instanceof master.SpecVersion) {
    return { spec_version: [v.record.record_id, ser(v.approval), ser(v.effective_from)] };
  }
  if (v instanceof life.Life) {
    return {
      life: {
        decision: v.decision,
        release: ser(v.release),
        holds: [...v.holds.keys()],
        field_actions: v.field_actions.map((r) => r.record_id),
        reopened_by: v.reopened_by,
        state: [v.state(false), v.state(true)],
        view: v.view(),
      },
    };
  }
  if (v instanceof sampling.Switching) {
    return {
      switching: {
        state: v.state,
        score: BigInt(v.score),
        recent: [...v.recent],
        run: BigInt(v.run),
        accepted_in_a_row: BigInt(v.accepted_in_a_row),
        not_accepted: BigInt(v.not_accepted),
      },
    };
  }
  if (v instanceof sampling.Plan) {
    const p = {};
    for (const k of Object.keys(v)) p[k] = v[k];
    return { plan: p };
  }
  if (v instanceof Set || v instanceof PySet || v instanceof oos.PairSet) {
    return { set: [...v].map(ser) };
  }
  if (Array.isArray(v)) return v.map(ser);
  return v;
}

function policyOf(settings) {
  return settings ? Policy.fromJson(settings) : DEFAULT_POLICY;
}

function byIds(h, ids) {
  const found = new Map(h.stored.map((r) => [r.record_id, r]));
  return ids.map((id) => found.get(id));
}

function run(c) {
  const log = DATA.logs[Number(c.log)].map((e) => e);
  if (c.patch) log[Number(c.patch[0])] = c.patch[1];
  const h = new FakeHistory(log, c.receipts, c.floor);
  const a = deepcopy(c.args);
  const opt = (k) => (Object.hasOwn(a, k) ? a[k] : null);
  const calls = {
    "acceptance.plan_of": () => acceptance.planOf(a.body),
    "acceptance.replay": () => acceptance.replay(a.bodies),
    "acceptance.check_sampling": () => acceptance.checkSampling(a.record, h, opt("spec")),
    "oos.check_retest": () => oos.checkRetest(a.record, h),
    "oos.check_disposition": () =>
      oos.checkDisposition(a.record, h, policyOf(opt("policy")), opt("signed_at")),
    "oos.check_rework_closure": () =>
      oos.checkReworkClosure(a.ncr_id, byIds(h, a.before), a.lot, h),
    "oos.check_review": () => oos.checkReview(a.record, a.signer, h),
    "oos.failure_blockers": () =>
      oos.failureBlockers(byIds(h, a.records), opt("at") ? when(a.at) : null),
    "oos.gating_paths": () => oos.gatingPaths(a.changes),
    "oos.correction_blockers": () => oos.correctionBlockers(byIds(h, a.records)),
    "master.spec_versions": () => master.specVersions(a.spec_id, h),
    "master.in_force": () => master.inForce(master.specVersions(a.spec_id, h), when(a.at)),
    "master.check_specification": () => master.checkSpecification(a.record, h),
    "master.check_change_approval": () => master.checkChangeApproval(a.record, a.signer, h),
    "master.check_inspection": () => master.checkInspection(a.record, h, a.legacy),
    "master.calibration_status": () => master.calibrationStatus(a.equipment_id, when(a.at), h),
    "master.check_equipment": () => master.checkEquipment(a.record, h),
    "master.equipment_used": () => master.equipmentUsed(a.body),
    "master.suspect_windows": () => master.suspectWindows(a.equipment_id, h),
    "master.suspect_by": () =>
      master.suspectBy(a.body, master.suspectWindows(a.equipment_id, h)),
    "master.supplier_status": () => master.supplierStatus(a.supplier_id, when(a.at), h),
    "master.master_blockers": () =>
      master.masterBlockers(a.lot, byIds(h, a.records), h, policyOf(opt("policy"))),
    "life.lot_life": () => life.lotLife(byIds(h, a.records)),
    "life.check_release": () => life.checkRelease(a.record, byIds(h, a.records)),
    "life.check_hold": () => life.checkHold(a.record, a.meaning, h),
    "life.check_known_lot": () => life.checkKnownLot(a.record, h),
    "life.floor_blockers": () =>
      life.floorBlockers(a.lot, byIds(h, a.records), h, new Set(a.cleared), policyOf(opt("policy"))),
  };
  assert.ok(calls[c.fn], `no JS call for ${c.fn}`);
  return attempt(calls[c.fn], ser);
}

const groups = new Map();
for (const c of DATA.cases) {
  const group = c.name.startsWith("mutated/") ? "mutated" : c.fn;
  if (!groups.has(group)) groups.set(group, []);
  groups.get(group).push(c);
}

for (const [group, cases] of groups) {
  test(`rules: ${group} (${cases.length} cases)`, () => {
    const failures = [];
    for (const c of cases) {
      const got = run(c);
      if (canon(got) !== canon(c.expect)) {
        failures.push(`${c.name} [${c.fn}]\n  js: ${show(plain(got))}\n  py: ${show(plain(c.expect))}`);
      }
    }
    if (failures.length) {
      assert.fail(`${failures.length} of ${cases.length} differ:\n` + failures.slice(0, 8).join("\n"));
    }
  });
}

test("rules: the vectors reach every satellite function", () => {
  const fns = new Set(DATA.cases.map((c) => c.fn));
  assert.ok(fns.size >= 27, `functions covered: ${[...fns].join(", ")}`);
  assert.ok(isDict(DATA.sampling));
});
