// evledger's receipt verifier for the browser (and Node): a pure library, no DOM.
//
//   import { verifyReceiptInput } from "./verify.js";
//   const out = await verifyReceiptInput({ receipt: bytes, trust: bytes, record: bytes });
//   out.exit        // 0 verified, 1 verification failed, 2 could not check (as evledger-verify)
//   out.report      // {subject, checks: [{name, ok, detail}], couldNotCheck} or null
//
// The same checks, names and verdicts as the Python reference (evledger_verify.receipt and
// the CLI's `evledger-verify receipt --json`): format, record, leaf, signature, inclusion,
// checkpoint, [signer], anchor (chain N)..., [chain id / chain root / anchor transaction with
// nodes], anchors required. tests/js/ runs both over the same vectors.

import { CannotCheckError, FormatError, VerificationError, VerifyError, pyType } from "./errors.js";
import { MAX_RECORD_BYTES } from "./records.js";
import { verifyBundle } from "./bundle.js";
import { MAX_RECEIPT_BYTES, Trust, verifyReceipt } from "./receipt.js";
import { RpcClient, onChainChecks } from "./rpc.js";
import { loads } from "./strictjson.js";

export { parseFragment, makeFragment, MAX_FRAGMENT_BYTES } from "./fragment.js";
export { Trust, verifyReceipt, receiptFromJson, Report, RECEIPT_FORMAT, TRUST_FORMAT } from "./receipt.js";
export { loads } from "./strictjson.js";
export { utcTime } from "./signer.js";
export * from "./errors.js";

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_CANNOT_CHECK = 2;

const asBytes = (input) => (typeof input === "string" ? new TextEncoder().encode(input) : input);

function loadJson(input, what, limit = MAX_RECEIPT_BYTES) {
  const bytes = asBytes(input);
  if (bytes.length > limit) throw new CannotCheckError(`${what}: larger than ${limit} bytes`);
  try {
    return loads(bytes);
  } catch (err) {
    if (err instanceof FormatError) throw new CannotCheckError(`${what}: not valid JSON: ${err.message}`);
    throw err;
  }
}

/** A trust file's bytes or text -> Trust; CannotCheckError saying what is wrong. */
export function loadTrust(input) {
  try {
    return Trust.fromJson(loadJson(input, "trust file"));
  } catch (err) {
    if (err instanceof FormatError) throw new CannotCheckError(err.message);
    throw err;
  }
}

/** A record file's bytes or text -> the record object (strict: one JSON object). */
export function loadRecord(input) {
  const bytes = asBytes(input);
  if (bytes.length > MAX_RECORD_BYTES) {
    throw new CannotCheckError(`record: expected at most ${MAX_RECORD_BYTES} bytes, got ${bytes.length}`);
  }
  let value;
  try {
    value = loads(bytes);
  } catch (err) {
    if (err instanceof FormatError) throw new CannotCheckError(`record: ${err.message}`);
    throw err;
  }
  if (pyType(value) !== "dict") {
    throw new CannotCheckError(`record: expected a JSON object, got ${pyType(value)}`);
  }
  return value;
}

/**
 * Verify a receipt as `evledger-verify receipt --json` does: inputs are bytes or text (the
 * files as given); ``trust`` may be null (then only the checks that need no key are made and
 * the result is "could not check"). ``rpc``: node URLs to confirm anchors on chain.
 * Returns {exit, verified, report, receipt, error, trust}.
 */
export async function verifyReceiptInput({
  receipt,
  trust = null,
  record = null,
  rpc = [],
  requireFinal = false,
  fetch = globalThis.fetch,
}) {
  let report = null;
  let parsed = null;
  let trusted = null;
  try {
    trusted = trust === null ? null : trust instanceof Trust ? trust : loadTrust(trust);
    const recordValue = record === null ? null : loadRecord(record);
    const receiptJson = loadJson(receipt, "receipt");
    const clients = trusted === null ? [] : rpc.map((url) => new RpcClient(url, { fetch }));
    ({ report, receipt: parsed } = await verifyReceipt(receiptJson, trusted, recordValue, {
      requireFinal,
      onChain: clients.length ? onChainChecks(clients) : null,
    }));
    if (clients.length && parsed === null) {
      report.fail("chain", "not checked: the receipt could not be parsed");
    }
  } catch (err) {
    if (err instanceof CannotCheckError) return outcome(EXIT_CANNOT_CHECK, report, parsed, err.message, trusted);
    if (err instanceof VerifyError) return outcome(EXIT_FAILED, report, parsed, err.message, trusted);
    const message = `internal error on this input: ${err.name}: ${String(err.message).slice(0, 300)}`;
    return outcome(EXIT_CANNOT_CHECK, report, parsed, message, trusted);
  }
  if (report.ok) return outcome(EXIT_OK, report, parsed, null, trusted);
  const failed = report.checks.some((c) => !c.ok && !c.unchecked);
  const exit = failed || report.couldNotCheck === null ? EXIT_FAILED : EXIT_CANNOT_CHECK;
  return outcome(exit, report, parsed, report.couldNotCheck, trusted);
}

function outcome(exit, report, receipt, error, trust) {
  return { exit, verified: exit === EXIT_OK, report, receipt, error, trust };
}

export { VerificationError };

export { verifyBundle, BUNDLE_FORMAT } from "./bundle.js";

/**
 * Verify an evidence bundle as `evledger-verify bundle --json` does: ``bundle`` is the zip's
 * bytes, ``trust`` the trust file's bytes or text (or a Trust). Returns {exit, verified,
 * report, error}; exit 0 verified, 1 failed, 2 could not check.
 */
export async function verifyBundleInput({ bundle, trust, name = "bundle.zip", progress = null }) {
  let report = null;
  try {
    const trusted = trust instanceof Trust ? trust : loadTrust(trust);
    report = await verifyBundle(asBytes(bundle), trusted, { name, progress });
  } catch (err) {
    if (err instanceof CannotCheckError) return { exit: EXIT_CANNOT_CHECK, verified: false, report, error: err.message };
    if (err instanceof VerifyError) return { exit: EXIT_FAILED, verified: false, report, error: err.message };
    const message = `internal error on this input: ${err.name}: ${String(err.message).slice(0, 300)}`;
    return { exit: EXIT_CANNOT_CHECK, verified: false, report, error: message };
  }
  return { exit: report.ok ? EXIT_OK : EXIT_FAILED, verified: report.ok, report, error: null };
}
