// The page's bundle verifier (web/verify/src/bundle.js) against the Python reference, vector
// by vector: tests/vectors/bundles/bundles.json holds real evidence bundles exported by the
// service, each as it is or with one change, and what `evledger-verify bundle --json` said of
// them. Both must give the same exit code, the same checks in the same order with the same
// verdicts, clauses and (where the text is the verifier's own, not a library's) the same detail.
//
//   node --test tests/js/

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { verifyBundleInput } from "../../web/verify/src/verify.js";

const FILE = new URL("../vectors/bundles/bundles.json", import.meta.url);
const DATA = JSON.parse(readFileSync(FILE, "utf8"));

// Details quoting a library's own wording (Python's zipfile and json modules) are compared by
// the part before it.
const LIBRARY_WORDING = [/^(bundle: not a readable zip: )/, /^((?:manifest|proofs)\.json: not valid JSON: )/];

function sameDetail(js, py) {
  if (js === py) return true;
  return LIBRARY_WORDING.some((re) => {
    const m = py.match(re);
    return m && js.startsWith(m[1]);
  });
}

assert.ok(DATA.vectors.length >= 30, "the vector file holds the shared bundle vectors");

for (const v of DATA.vectors) {
  test(v.name, async () => {
    const out = await verifyBundleInput({
      bundle: new Uint8Array(Buffer.from(v.bundle, "base64")),
      trust: v.trust,
    });
    const want = v.expected;
    assert.equal(out.exit, want.exit, `exit code (${out.error ?? "no error"})`);
    const got = out.report === null ? [] : out.report.toJson().checks;
    const expected = want.checks ?? [];
    assert.deepEqual(
      got.map((c) => [c.check, c.ok]),
      expected.map((c) => [c.check, c.ok]),
      "the same checks with the same verdicts",
    );
    for (let i = 0; i < expected.length; i++) {
      assert.ok(
        sameDetail(got[i].detail, expected[i].detail),
        `detail of ${expected[i].check}:\n  js: ${got[i].detail}\n  py: ${expected[i].detail}`,
      );
      assert.equal(got[i].clause ?? "", expected[i].clause ?? "", `clause of ${expected[i].check}`);
    }
    assert.equal(out.verified, v.name.startsWith("valid/"));
  });
}
