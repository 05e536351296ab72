"""Failed results and what may answer them: the OOS investigation, the retest it allows, the
disposition, the bounded concession, and the second person's co-signature (a ``review``).

Part of the one rule definition (:mod:`evledger_verify.rules` calls in here). The guidance it
follows: FDA, *Investigating Out-of-Specification (OOS) Test Results* (2022): a failed result
is investigated before anything else, and a retest replaces it only when the investigation
found an assignable cause that invalidates it; 21 CFR 211.192, 820.90; ISO 13485 §8.3
(concession only when justified, approved and recorded, with its extent).

- Every failed characteristic blocks release until a retest supersedes it or an NCR citing
  its inspection dispositions it (:func:`failure_blockers`).
- A retest (an inspection with ``retest: {of, ncr_id}``) must cite the failed inspection and
  an NCR investigating it whose evaluation found an assignable cause; it measures the failed
  characteristics with the same method and unit, equal or tighter limits, and at least the
  original sample size; one retest per finding (:func:`check_retest`).
- A ``use_as_is`` disposition is a concession for named failed characteristics, a quantity
  and a time limit; on a critical characteristic it needs a second QA approver's review (a
  material review board); a policy may admit none (:func:`check_disposition`).
- ``rework`` clears a failure only with a passing re-inspection of the same stage after the
  disposition, and the NCR closes only then; ``scrap`` and ``return`` close the lot to release.
- A correction that changes a verdict, a limit or a critical flag counts for release only once
  a second QA approver co-signs it (a review of the correction).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from evledger_verify.policy import Policy
from evledger_verify.rules import (
    GATING_FIELDS,
    Blocker,
    History,
    Refused,
    Stored,
    latest_step,
    ncr_summaries,
    unix_seconds,
    utc_iso,
    when,
)

__all__ = [
    "FINAL_DISPOSITIONS",
    "check_disposition",
    "check_retest",
    "check_review",
    "check_rework_closure",
    "correction_blockers",
    "failure_blockers",
    "gating_paths",
]

#: Dispositions after which the lot is never released.
FINAL_DISPOSITIONS = ("scrap", "return")


def _failed(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in body.get("characteristics", ()) if c.get("verdict") == "fail"]


def _passed(body: dict[str, Any], name: str) -> bool:
    return any(c["name"] == name and c["verdict"] == "pass" for c in body["characteristics"])


def _ncr_steps(history: History, ncr_id: str) -> list[Stored]:
    return [r for r in history.subject(f"ncr:{ncr_id}") if r.type == "ncr"]


def _refs(steps: Sequence[Stored]) -> set[str]:
    return {str(ref) for s in steps for ref in s.body.get("refs", ())}


# -- at submission ----------------------------------------------------------------------------


def check_retest(record: dict[str, Any], history: History) -> None:
    """A retest cites the failed inspection and the investigation that found an assignable
    cause, and measures the failures at least as strictly as the original did."""
    retest = record.get("retest")
    if not retest:
        return
    rid, lot = record["record_id"], record["lot"]
    of, ncr_id = str(retest["of"]), str(retest["ncr_id"])
    lot_records = history.lot(str(lot))
    original = next((r for r in lot_records if r.record_id == of and r.type == "inspection"), None)
    if original is None:
        raise Refused("oos", "conflict", f"retest {rid}: {of} is no inspection of lot {lot}")
    failures = _failed(original.body)
    if not failures:
        raise Refused(
            "oos", "conflict", f"retest {rid}: nothing failed in {of}; a retest answers a failure"
        )
    steps = _ncr_steps(history, ncr_id)
    if of not in _refs(steps):
        raise Refused(
            "oos",
            "conflict",
            f"retest {rid}: NCR {ncr_id} does not investigate {of} (its refs do not name it); "
            "a failed result is investigated before any retest",
        )
    finding = latest_step(steps, "evaluated")
    if finding is None or finding.body.get("assignable_cause") is not True:
        raise Refused(
            "oos",
            "conflict",
            f"retest {rid}: the investigation (NCR {ncr_id}) has not found an assignable cause "
            f"that invalidates {of}; without one the failure stands and the NCR dispositions it",
        )
    earlier = next(
        (
            r.record_id
            for r in lot_records
            if r.type == "inspection"
            and (r.body.get("retest") or {}).get("of") == of
            and (r.body.get("retest") or {}).get("ncr_id") == ncr_id
        ),
        None,
    )
    if earlier is not None:
        raise Refused(
            "oos",
            "conflict",
            f"retest {rid}: {of} was already retested under NCR {ncr_id} by {earlier}; one "
            "retest per finding (testing into compliance is not allowed)",
        )
    problems = []
    if record["stage"] != original.body["stage"]:
        problems.append(f"stage {record['stage']}, the original's is {original.body['stage']}")
    if record["product"].get("gtin") != original.body["product"].get("gtin"):
        problems.append("another product than the original's")
    if record["sample_size"] < original.body["sample_size"]:
        problems.append(
            f"sample size {record['sample_size']}, fewer than the original's "
            f"{original.body['sample_size']}"
        )
    measured = {c["name"]: c for c in record["characteristics"]}
    for c in failures:
        name, new = c["name"], measured.get(c["name"])
        if new is None:
            problems.append(f"{name} (failed) not re-measured")
            continue
        for key in ("method", "unit"):
            if new.get(key) != c.get(key):
                problems.append(f"{name}: {key} {new.get(key)!r}, the original's {c.get(key)!r}")
        low, high = c.get("lower"), c.get("upper")
        if (low is not None and (new.get("lower") is None or new["lower"] < low)) or (
            high is not None and (new.get("upper") is None or new["upper"] > high)
        ):
            problems.append(
                f"{name}: limits {new.get('lower')}..{new.get('upper')} wider than the "
                f"original's {c.get('lower')}..{c.get('upper')}"
            )
    if problems:
        raise Refused(
            "oos",
            "conflict",
            f"retest {rid} of {of}: " + "; ".join(problems),
            problems,
        )


def check_disposition(
    record: dict[str, Any], history: History, policy: Policy, signed_at: int | None
) -> None:
    """A concession (``use_as_is``) names failed characteristics of the inspections its NCR
    cites, a time limit after its signing, and is admitted by the policy."""
    if record.get("disposition") != "use_as_is":
        return
    ncr_id, lot = str(record["ncr_id"]), str(record["lot"])
    refs = _refs(_ncr_steps(history, ncr_id))
    cited = [r for r in history.lot(lot) if r.record_id in refs]
    failed = {c["name"] for r in cited if r.type == "inspection" for c in _failed(r.body)}
    tags = {str(r.body.get("tag")) for r in cited if r.type == "process_reading"}
    concession = record["concession"]
    if failed and policy.concessions == "none":
        raise Refused(
            "concession",
            "conflict",
            f"ncr {ncr_id}: this ledger's policy admits no concession on a specification "
            f"failure ({', '.join(sorted(failed))}); disposition rework, scrap or return",
        )
    if failed or tags:
        unknown = [n for n in concession["characteristics"] if n not in failed | tags]
        if unknown:
            raise Refused(
                "concession",
                "conflict",
                f"ncr {ncr_id}: the concession names {', '.join(unknown)}, not a failed "
                f"characteristic (or out-of-limit reading) the NCR cites; it covers "
                f"{', '.join(sorted(failed | tags))}",
            )
    if signed_at is not None and unix_seconds(str(concession["valid_until"])) <= signed_at:
        raise Refused(
            "concession",
            "conflict",
            f"ncr {ncr_id}: the concession is valid until {concession['valid_until']}, not "
            f"after its signing at {utc_iso(signed_at)}",
        )


def check_rework_closure(
    ncr_id: str, before: Sequence[Stored], lot: str, history: History
) -> None:
    """An NCR dispositioned ``rework`` closes only after a passing re-inspection, of each stage
    its failed inspections were at, logged after the disposition."""
    disposed = latest_step(before, "dispositioned")
    if disposed is None or disposed.body.get("disposition") != "rework":
        return
    records = history.lot(lot)
    refs = _refs(before)
    retested = {
        str(r.body["retest"]["of"])
        for r in records
        if r.type == "inspection" and r.body.get("retest") and r.body["verdict"] == "pass"
    }
    # What the rework answers: the cited failures a retest did not invalidate.
    stages = {
        str(r.body["stage"])
        for r in records
        if r.type == "inspection"
        and r.record_id in refs
        and r.record_id not in retested
        and _failed(r.body)
    }
    ids = [r.record_id for r in records]
    after = records[ids.index(disposed.record_id) + 1 :] if disposed.record_id in ids else []
    missing = [
        stage
        for stage in sorted(stages)
        if not any(
            r.type == "inspection" and r.body["stage"] == stage and r.body["verdict"] == "pass"
            for r in after
        )
    ]
    if missing:
        raise Refused(
            "workflow",
            "conflict",
            f"ncr {ncr_id}: a rework closes after its re-inspection; no passing "
            f"{', '.join(missing)} inspection of lot {lot} since the disposition "
            f"{disposed.record_id}",
        )


def check_review(record: dict[str, Any], signer: str, history: History) -> None:
    """A review co-signs a logged record's hash, by another person than its signer, once."""
    rid, target_id = record["record_id"], str(record["reviews"])
    found = history.records([target_id])
    if not found:
        raise Refused("review", "not_found", f"review {rid}: record {target_id!r} not found")
    target = found[0]
    if target.record_hash != record["record_hash"]:
        raise Refused(
            "review",
            "conflict",
            f"review {rid}: record_hash differs from {target_id}'s ({target.record_hash})",
        )
    if target.body.get("lot") != record.get("lot"):
        raise Refused(
            "review",
            "conflict",
            f"review {rid}: lot {record.get('lot')!r}, the reviewed record's is "
            f"{target.body.get('lot')!r}",
        )
    person = history.person(signer)
    if history.person(target.signer) == person:
        raise Refused(
            "duties",
            "forbidden",
            f"review {rid}: a review is a second person's signature; {signer} "
            f"({history.name(signer)}) signed {target_id} (the same person)",
        )
    for r in history.subject(f"record:{target_id}"):
        if r.type == "review" and history.person(r.signer) == person:
            raise Refused(
                "review",
                "conflict",
                f"review {rid}: already reviewed by the same person ({r.record_id})",
            )


# -- release gating ---------------------------------------------------------------------------


def failure_blockers(
    records: Sequence[Stored], at: datetime | None
) -> tuple[list[Blocker], set[tuple[str, str]]]:
    """Why the lot's failed results keep it from release, and the failures a valid concession
    covers (record id, characteristic), which count as accepted for its required stages.
    ``records``: the lot's, corrections applied; ``at``: when (a concession may have
    expired)."""
    ncrs = ncr_summaries(records)
    reviewed = {str(r.body["reviews"]) for r in records if r.type == "review"}
    position = {r.record_id: i for i, r in enumerate(records)}
    inspections = [r for r in records if r.type == "inspection"]
    retests = {
        str(r.body["retest"]["of"]): r for r in inspections if r.body.get("retest") is not None
    }
    blockers: list[Blocker] = []
    conceded: set[tuple[str, str]] = set()
    for n in ncrs.values():
        if n["step"] in ("dispositioned", "closed") and n.get("disposition") in FINAL_DISPOSITIONS:
            blockers.append(
                Blocker(
                    "disposition_final",
                    f"lot dispositioned {n['disposition']} by NCR {n['ncr_id']}: never released",
                )
            )
    for r in inspections:
        stage = r.body["stage"]
        for c in _failed(r.body):
            name = c["name"]
            critical = ", critical" if c.get("critical") else ""
            what = f"{name} failed in {r.record_id} ({stage}{critical})"
            retest = retests.get(r.record_id)
            if retest is not None and _passed(retest.body, name):
                continue
            covering = [
                n
                for n in ncrs.values()
                if r.record_id in n["refs"] and n["step"] in ("dispositioned", "closed")
            ]
            if not covering:
                blockers.append(
                    Blocker(
                        "failed_result",
                        f"{what}: an OOS investigation must decide it (an NCR citing "
                        f"{r.record_id}: a retest only after it finds an assignable cause, "
                        "else a disposition)",
                    )
                )
                continue
            n = covering[-1]
            disposition = n.get("disposition")
            if disposition == "use_as_is":
                concession = n.get("concession") or {}
                if name not in concession.get("characteristics", ()):
                    blockers.append(
                        Blocker(
                            "failed_result",
                            f"{what}: NCR {n['ncr_id']}'s concession does not cover it",
                        )
                    )
                elif at is not None and at >= when(concession["valid_until"]):
                    blockers.append(
                        Blocker(
                            "concession_expired",
                            f"{what}: NCR {n['ncr_id']}'s concession expired at "
                            f"{concession['valid_until']}",
                        )
                    )
                elif c.get("critical") and n["dispositioned_by"] not in reviewed:
                    blockers.append(
                        Blocker(
                            "concession_unreviewed",
                            f"{what}: a concession on a critical characteristic needs a second "
                            f"QA approver (material review board): a review of "
                            f"{n['dispositioned_by']} (NCR {n['ncr_id']})",
                        )
                    )
                else:
                    conceded.add((r.record_id, name))
            elif disposition == "rework":
                since = position.get(n["dispositioned_by"], len(records))
                if not any(
                    i.body["stage"] == stage
                    and position[i.record_id] > since
                    and _passed(i.body, name)
                    for i in inspections
                ):
                    blockers.append(
                        Blocker(
                            "rework_not_reinspected",
                            f"{what}: reworked under NCR {n['ncr_id']}, not re-inspected "
                            "(passing) since",
                        )
                    )
            # scrap / return: named once per NCR above
    return blockers, conceded


def gating_paths(changes: Sequence[dict[str, Any]]) -> list[str]:
    """The paths of a correction's changes that release gating reads (verdicts, limits, units,
    critical flags)."""
    out = []
    for change in changes:
        parts = str(change["path"]).split("/")[1:]
        if parts[:1] == ["verdict"] or (
            len(parts) >= 3 and parts[0] == "characteristics" and parts[2] in GATING_FIELDS
        ):
            out.append(str(change["path"]))
    return out


def correction_blockers(records: Sequence[Stored]) -> list[Blocker]:
    """Corrections of an inspection's verdict, limits or values that no second QA approver has
    co-signed yet: they do not count for release until one does."""
    reviewed = {str(r.body["reviews"]) for r in records if r.type == "review"}
    kinds = {r.record_id: r.type for r in records}
    out = []
    for r in records:
        if r.type != "correction" or kinds.get(str(r.body["corrects"])) != "inspection":
            continue
        paths = gating_paths(r.body["changes"])
        if paths and r.record_id not in reviewed:
            out.append(
                Blocker(
                    "correction_unreviewed",
                    f"correction {r.record_id} changed {', '.join(paths)} of "
                    f"{r.body['corrects']}: a second QA approver must co-sign it (a review of "
                    f"{r.record_id})",
                )
            )
    return out
