// The page's bundle verifier as a command, printing what `evledger-verify bundle --json`
// prints, so the Python tests can run both over the same bundle and compare:
//
//   node tests/js/verify_bundle.mjs BUNDLE.zip TRUST.json
//
// Exit code as the CLI's: 0 verified, 1 failed, 2 could not check.

import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { verifyBundleInput } from "../../web/verify/src/verify.js";

const [bundlePath, trustPath] = process.argv.slice(2);
let out;
let exit;
try {
  const result = await verifyBundleInput({
    bundle: new Uint8Array(readFileSync(bundlePath)),
    trust: new Uint8Array(readFileSync(trustPath)),
    name: basename(bundlePath),
  });
  exit = result.exit;
  out = result.report === null || result.error !== null && result.report.checks.length === 0
    ? { verified: false, error: result.error, exit }
    : result.report.toJson();
} catch (err) {
  exit = 2;
  out = { verified: false, error: `cannot read: ${err.message}`, exit };
}
process.stdout.write(JSON.stringify(out, null, 2) + "\n");
process.exit(exit);
