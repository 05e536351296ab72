// The page's verifier (web/verify/src/verify.js) against the Python reference, vector by
// vector: tests/vectors/receipts/receipts.json holds the exact files and what
// `evledger-verify receipt --json` said of them. Both must give the same exit code, the same
// checks in the same order with the same verdicts, and (where the text is the verifier's own,
// not a library's) the same detail.
//
//   node --test tests/js/

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { canonicalJson } from "../../web/verify/src/records.js";
import { loads } from "../../web/verify/src/strictjson.js";
import { parseFragment, verifyReceiptInput } from "../../web/verify/src/verify.js";

const FILE = new URL("../vectors/receipts/receipts.json", import.meta.url);
const DATA = JSON.parse(readFileSync(FILE, "utf8"));

function bytesOf(file) {
  if (file === undefined) return null;
  if ("text" in file) return new TextEncoder().encode(file.text);
  if ("base64" in file) return new Uint8Array(Buffer.from(file.base64, "base64"));
  const p = file.repeat;
  return new TextEncoder().encode(p.prefix + p.fill.repeat(p.count) + p.suffix);
}

// Details that quote a third-party library's own wording (Python's json module, coincurve,
// the RLP decoder) are compared by the part before it; everything else must match exactly.
const LIBRARY_WORDING = [
  /^(receipt: receipt\.json is not valid JSON: not valid JSON: )/,
  /^(signature: no public key can be recovered: )/,
  /^(rlp: )/,
  /^(trie proof: )/,
];

function sameDetail(js, py) {
  if (js === py) return true;
  for (const re of LIBRARY_WORDING) {
    const m = py.match(re);
    if (m && js.startsWith(m[1])) return true;
  }
  return false;
}

assert.ok(DATA.vectors.length >= 60, "the vector file holds the shared vectors");

for (const v of DATA.vectors) {
  test(v.name, async () => {
    const out = await verifyReceiptInput({
      receipt: bytesOf(v.receipt),
      trust: bytesOf(v.trust),
      record: bytesOf(v.record),
      requireFinal: Boolean(v.options?.require_final),
    });
    const want = v.expected;
    const got = out.report === null || want.exit === 2 && want.checks.length === 0
      ? []
      : out.report.checks.map((c) => ({ check: c.name, ok: c.ok, detail: c.detail }));
    assert.equal(out.exit, want.exit, `exit code (${out.error ?? "no error"})`);
    assert.deepEqual(
      got.map((c) => [c.check, c.ok]),
      want.checks.map((c) => [c.check, c.ok]),
      "the same checks with the same verdicts",
    );
    for (let i = 0; i < want.checks.length; i++) {
      assert.ok(
        sameDetail(got[i].detail, want.checks[i].detail),
        `detail of ${want.checks[i].check}:\n  js: ${got[i].detail}\n  py: ${want.checks[i].detail}`,
      );
    }
    if (want.error !== null) {
      // The CLI names the file it read; the page reads bytes, not files.
      assert.equal(out.error, want.error.replace("receipt.json is ", ""));
    }
    assert.equal(out.verified, v.name.startsWith("valid/"));
  });
}

for (const f of DATA.fragment) {
  test(`fragment/${f.name}`, async () => {
    const got = await parseFragment(f.fragment);
    assert.equal(new TextDecoder().decode(got.receipt), f.receipt);
    if (f.record === undefined) assert.equal(got.record, null);
    else assert.equal(new TextDecoder().decode(got.record), f.record);
  });
}

for (const [i, c] of DATA.canonical.entries()) {
  test(`canonical/${i}: ${c.json.slice(0, 40)}`, () => {
    const value = loads(c.json);
    let got = null;
    try {
      got = new TextDecoder().decode(canonicalJson(value));
    } catch (err) {
      assert.match(err.message, /^canonical JSON: cannot canonicalize/);
    }
    assert.equal(got, c.canonical);
  });
}
