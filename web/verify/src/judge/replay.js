// The evidence bundle's "authority" and "rules" checks: a port of bundle.py's _replay,
// _authority and _rules. The log is replayed in leaf order through the signer registry and
// the rules judge (registry.js Replay), exactly as the Python bundle verifier does, and gives
// the same "record id: why" strings.
//
//   const result = replay(items, manifest.policy_settings);
//   authorityDetail(result)   // the check's detail, or throws VerificationError
//   rulesDetail(result)
//
// ``items``: [{leaf_index, record, entry}] in leaf order (entry: records.js Entry, its
// signed_at a BigInt as strictjson reads it). Settings the verifier cannot use throw
// PolicyError with policy.py's message.

import { VerificationError } from "../errors.js";
import { Judge } from "./judge.js";
import { Policy } from "./policy.js";
import { Registry, Replay } from "./registry.js";
import { POLICY_VERSION, Stored, unixSeconds, utcIso } from "./rules.js";

const big = (v) => (typeof v === "bigint" ? v : BigInt(v));

export function replay(items, settings) {
  const policy = Policy.fromJson(settings);
  const registry = new Registry();
  const signers = items
    .filter((e) => e.entry.record_type === "signer")
    .map((e) => ({ ...e, index: big(e.leaf_index), at: big(e.entry.signed_at) }))
    .sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : a.index < b.index ? -1 : a.index > b.index ? 1 : 0));
  for (const { record, entry } of signers) registry.apply(record, entry.signed_at);
  const positions = new Map(signers.map((e) => [e.entry.record_id, e.index]));
  const judge = new Judge(policy, { names: registry.nameOf, persons: registry.personOf });
  const rep = new Replay(registry, judge, positions);
  const unauthorized = [];
  const broken = [];
  for (const { leaf_index: index, record, entry } of items) {
    const signedAt = big(entry.signed_at);
    const acceptedAt = unixSeconds(entry.accepted_at);
    const problem = rep.authority(
      entry.record_id,
      entry.record_type,
      entry.signer,
      signedAt,
      acceptedAt,
      big(index),
    );
    if (problem !== null) unauthorized.push(`${entry.record_id}: ${problem}`);
    const state = registry.get(entry.signer);
    const stored = new Stored({
      record_id: entry.record_id,
      type: entry.record_type,
      body: record,
      record_hash: entry.record_hash,
      signer: entry.signer,
      printed_name: state ? state.nameAt(signedAt) : null,
      meaning: entry.meaning,
      signed_at: utcIso(signedAt),
      accepted_at: entry.accepted_at,
    });
    const refused = rep.rules(stored, signedAt, acceptedAt);
    if (refused !== null) {
      const reasons = refused.reasons.slice(0, 3).map((r) => ` [${r}]`).join("");
      broken.push(`${entry.record_id} (${refused.kind}): ${refused.message}${reasons}`);
    }
  }
  return { unauthorized, broken, judged: judge.judged, signers: registry.size, policy, registry, judge };
}

/** The authority check's detail (bundle._authority), or VerificationError. */
export function authorityDetail(result) {
  if (result.unauthorized.length) {
    throw new VerificationError(
      `${result.unauthorized.length} record(s) signed without authority: ` +
        result.unauthorized.slice(0, 5).join("; "),
    );
  }
  return (
    "every signer was registered and active at the signing time and at the acceptance " +
    `(${result.signers} signers)`
  );
}

/** The rules check's detail (bundle._rules), or VerificationError. */
export function rulesDetail(result) {
  const p = result.policy;
  if (result.broken.length) {
    throw new VerificationError(
      `${result.broken.length} record(s) the service should have refused: ` +
        result.broken.slice(0, 5).join("; "),
    );
  }
  return (
    `${result.judged} records re-judged under ${POLICY_VERSION} (required stages ` +
    `${p.required_stages.join(", ")}; duties ` +
    `${p.duties.map((d) => d.name).join(", ") || "none"}; a person's signature at most ` +
    `${p.max_signature_age} s old): none breaks a rule`
  );
}
