// The page's judge (web/verify/src/judge/replay.js) against the Python reference, scenario by
// scenario: tests/vectors/judge/judge.json holds logs as evidence bundles carry them (the
// records.jsonl lines and the manifest's policy_settings text) and what the Python bundle
// verifier says when it re-judges them (bundle._replay, _authority, _rules). Both must give the
// same unauthorized and broken strings in the same order, the same counts of records judged
// and signers registered, and the same authority and rules verdicts and details; settings the
// verifier cannot use must be refused with the same PolicyError text.
//
// Each line is parsed with strictjson's loads exactly as a bundle's line is (integers are
// BigInt), its entry built with Entry.fromJson; replay() gets [{leaf_index, record, entry}].
//
//   node --test tests/js/judge.test.mjs
//
// Every difference fails (`node --test tests/js/`, and tests/unit/test_judge_vectors.py).

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { Entry } from "../../web/verify/src/records.js";
import { loads } from "../../web/verify/src/strictjson.js";

const FILE = new URL("../vectors/judge/judge.json", import.meta.url);
const DATA = JSON.parse(readFileSync(FILE, "utf8"));

let port = null;
let portError = null;
try {
  port = await import("../../web/verify/src/judge/replay.js");
} catch (err) {
  portError = err;
}

/** The scenario's records.jsonl lines: its prefix's (shared by many logs), then its own. */
function linesOf(v) {
  return [...(v.prefix === undefined ? [] : DATA.prefixes[v.prefix]), ...v.records];
}

function items(lines) {
  return lines.map((line) => {
    const item = loads(line);
    return { leaf_index: item.leaf_index, record: item.record, entry: Entry.fromJson(item.entry) };
  });
}

/** A check's verdict as {ok, detail}: the detail function returns it (or a string when the
 * check holds) or throws the failure, as `_authority` and `_rules` raise it. */
function verdictOf(fn, ...args) {
  try {
    const out = fn(...args);
    if (typeof out === "string") return { ok: true, detail: out };
    return { ok: Boolean(out.ok), detail: String(out.detail) };
  } catch (err) {
    return { ok: false, detail: String(err?.message ?? err) };
  }
}

function show(value) {
  return typeof value === "string" ? JSON.stringify(value) : String(value);
}

/** The first difference between two lists of strings, in words (null: none). */
function firstDifference(what, got, want) {
  const n = Math.max(got.length, want.length);
  for (let i = 0; i < n; i++) {
    if (got[i] !== want[i]) {
      return `${what}[${i}] differs (js has ${got.length}, python ${want.length}):\n` +
        `  js: ${show(got[i])}\n  py: ${show(want[i])}`;
    }
  }
  return null;
}

assert.ok(DATA.scenarios.length >= 5, "the vector file holds the shared judge scenarios");

for (const v of DATA.scenarios) {
  test(v.name, () => {
    const where = `scenario ${v.name}`;
    if (port === null) {
      assert.fail(`${where}: web/verify/src/judge/replay.js cannot be loaded: ${portError}`);
    }
    const settings = loads(v.policy_settings);
    const want = v.expected;
    if ("policy_error" in want) {
      let message = null;
      try {
        port.replay(items(linesOf(v)), settings);
      } catch (err) {
        message = String(err?.message ?? err);
      }
      assert.ok(
        message !== null && message.endsWith(want.policy_error),
        `${where}: policy settings refused\n  js: ${show(message)}\n  py: ${show(want.policy_error)}`,
      );
      return;
    }
    const got = port.replay(items(linesOf(v)), settings);
    for (const key of ["unauthorized", "broken"]) {
      const diff = firstDifference(key, [...got[key]], want[key]);
      assert.equal(diff, null, `${where}: ${diff}`);
    }
    assert.equal(Number(got.judged), want.judged, `${where}: records judged`);
    assert.equal(Number(got.signers), want.signers, `${where}: signers registered`);
    for (const [check, fn] of [["authority", port.authorityDetail], ["rules", port.rulesDetail]]) {
      assert.equal(typeof fn, "function", `${where}: replay.js exports ${check}Detail`);
      const out = verdictOf(fn, got, settings);
      const diff = firstDifference(`${check} check`, [String(out.ok), out.detail],
        [String(want[check].ok), want[check].detail]);
      assert.equal(diff, null, `${where}: ${diff}`);
    }
  });
}
