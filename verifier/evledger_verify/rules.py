"""The quality rules, defined once: who may sign which record at which step with which meaning
(the authority matrix), which workflow step may follow which, release gating, corrections.

Pure functions over records as JSON objects and the history before them. Three programs judge
with them: the service, on each submission (``ledger.domain``, history read from PostgreSQL);
``evledger audit``, which replays the whole log through :class:`evledger_verify.judge.Judge`
and names every record the service should have refused; and ``evledger-verify``, offline, on
an evidence bundle. They live in the verifier's distribution so that the auditor's program
needs nothing of the server, and the policy they apply is versioned (:data:`POLICY_VERSION`).

A rule that is broken raises :class:`Refused`, whose ``kind`` says which rule family
(``authority``, ``duties``, ``time``, ``workflow``, ``release``, ``correction``, ``alert``,
``recall``, ``specification``, ``equipment``; master data is judged in
:mod:`evledger_verify.master`) and
whose ``status`` how the service answers (forbidden, conflict, invalid, not found).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from evledger_verify import content
from evledger_verify.content import ContentError
from evledger_verify.policy import DEFAULT_POLICY, Policy

__all__ = [
    "ENTITY_KEY",
    "MASTER_KEY",
    "MATRIX",
    "NEXT_STEPS",
    "POLICY_VERSION",
    "PROTECTED",
    "READ_ROLES",
    "ROLES",
    "Blocker",
    "History",
    "Refused",
    "Stored",
    "allowed_roles",
    "apply_change",
    "apply_corrections",
    "check_authority",
    "check_times",
    "correct",
    "dispositioned",
    "judge",
    "latest_step",
    "ncr_summaries",
    "release_blockers",
    "stream_of",
    "subject_of",
    "unix_seconds",
    "utc_iso",
    "when",
    "workflow_step",
]

#: The version of the policy below; a change to the matrix or the workflows is a new version.
POLICY_VERSION = "evledger-policy/3"

ROLES = (
    "admin",
    "qa_inspector",
    "qa_approver",
    "qualified_person",
    "production",
    "device",
    "auditor",
    "system",
)
#: Roles whose tokens may read record bodies and lot status.
READ_ROLES = ("admin", "qa_inspector", "qa_approver", "qualified_person", "production", "auditor")

_QA = ("qa_inspector", "qa_approver")

#: (record type, step or "*") -> {meaning: roles allowed}  (21 CFR 11.10(g), 11.50)
MATRIX: dict[tuple[str, str], dict[str, tuple[str, ...]]] = {
    ("signer", "*"): {"approved": ("admin",)},
    ("inspection", "*"): {
        "authored": ("qa_inspector", "production"),
        "reviewed": ("qa_approver",),
        "verified": ("qa_approver",),
    },
    # A Qualified Person certifies batches for release (EU GMP Annex 16); a policy may require
    # it (Policy.qualified_person_release).
    ("release", "*"): {"released": ("qa_approver", "qualified_person")},
    ("ncr", "open"): {"authored": (*_QA, "production")},
    ("ncr", "evaluated"): {"reviewed": _QA},
    ("ncr", "dispositioned"): {"approved": ("qa_approver",)},
    ("ncr", "closed"): {"approved": ("qa_approver",)},
    ("capa", "open"): {"authored": _QA},
    ("capa", "investigation"): {"authored": _QA},
    ("capa", "action_plan"): {"authored": _QA},
    ("capa", "implementation"): {"authored": (*_QA, "production")},
    ("capa", "effectiveness_check"): {"verified": ("qa_approver",)},
    ("capa", "closed"): {"approved": ("qa_approver",)},
    ("capa", "cancelled"): {"approved": ("qa_approver",)},
    ("change", "requested"): {"authored": (*_QA, "production")},
    ("change", "assessed"): {"reviewed": _QA},
    ("change", "approved"): {"approved": ("qa_approver",)},
    ("change", "implemented"): {"authored": (*_QA, "production")},
    ("change", "verified"): {"verified": _QA},
    ("change", "closed"): {"approved": ("qa_approver",)},
    ("change", "rejected"): {"approved": ("qa_approver",)},
    ("change", "withdrawn"): {"authored": (*_QA, "production")},
    ("scan", "*"): {"recorded": ("device",)},
    ("process_reading", "*"): {"recorded": ("device",)},
    # An MES or WMS that captures EPCIS events (it reads no record bodies: not in READ_ROLES).
    ("epcis_event", "*"): {"recorded": ("system",)},
    # Devices sign only scans and readings (an out-of-limit reading blocks release by itself);
    # alerts come from the audit (auditor) or from people.
    ("alert", "*"): {"recorded": ("auditor",), "authored": _QA},
    # A recall is approved by QA approval; a drill (mock recall) may be authored by QA.
    ("recall", "*"): {"approved": ("qa_approver",), "authored": _QA},
    # A correction is signed by whoever may author the corrected record's type (see judge).
    ("correction", "*"): {"authored": (*_QA, "production")},
    # Master data: QA writes specifications (in force only through an approved change),
    # registers and calibrates equipment; only a QA approver decides a supplier's status.
    ("specification", "*"): {"authored": _QA},
    ("equipment", "*"): {"authored": _QA},
    ("calibration", "*"): {"verified": _QA},
    ("supplier", "*"): {"approved": ("qa_approver",)},
    # A second QA approver's co-signature of a logged record (a concession on a critical
    # characteristic, a correction of a verdict): by another person than its signer.
    ("review", "*"): {"approved": ("qa_approver",)},
    # Who is trained for what (21 CFR 211.25, 820.25; ISO 13485 §6.2): recorded by QA.
    ("training", "*"): {"verified": _QA},
    # After release (evledger_verify.life): complaints are logged by QA or production; QA
    # places a hold, only a QA approver lifts it; a field action is a QA approver's decision.
    ("complaint", "*"): {"authored": (*_QA, "production")},
    ("hold", "*"): {"authored": _QA, "approved": ("qa_approver",)},
    ("field_action", "*"): {"approved": ("qa_approver",)},
    # Validation (CSA, Annex 11 §4): a qualification pack's or selftest report's hash, recorded
    # by the service's audit key (auditor) or approved by a QA approver.
    ("validation", "*"): {"recorded": ("auditor",), "approved": ("qa_approver",)},
}

#: Which step may follow which (None: the entity does not exist yet).
NEXT_STEPS: dict[str, dict[str | None, tuple[str, ...]]] = {
    "ncr": {
        None: ("open",),
        "open": ("evaluated",),
        "evaluated": ("dispositioned",),
        "dispositioned": ("closed",),
        "closed": (),
    },
    "capa": {
        None: ("open",),
        "open": ("investigation", "cancelled"),
        "investigation": ("action_plan", "cancelled"),
        "action_plan": ("implementation", "cancelled"),
        "implementation": ("effectiveness_check", "cancelled"),
        # An ineffective action goes back to investigation.
        "effectiveness_check": ("closed", "investigation", "cancelled"),
        "closed": (),
        "cancelled": (),
    },
    "change": {
        None: ("requested",),
        "requested": ("assessed", "withdrawn"),
        "assessed": ("approved", "rejected", "withdrawn"),
        "approved": ("implemented",),
        "implemented": ("verified",),
        "verified": ("closed",),
        "closed": (),
        "rejected": (),
        "withdrawn": (),
    },
}

ENTITY_KEY = {
    "ncr": "ncr_id",
    "capa": "capa_id",
    "change": "change_id",
    "alert": "alert_id",
    "recall": "recall_id",
}
#: Master data, by the subject its records share: every version of a specification, an
#: instrument and its calibrations, a supplier's status decisions.
MASTER_KEY = {
    "specification": ("specification", "spec_id"),
    "equipment": ("equipment", "equipment_id"),
    "calibration": ("equipment", "equipment_id"),
    "supplier": ("supplier", "supplier_id"),
}

#: Fields no correction may change: identity, the fields that carry a workflow's state or a
#: decision (those change through the workflow's own signed steps, by their own roles), and
#: those the lot genealogy is built from (a wrong link is answered by new evidence, so a trace
#: computed earlier stays reproducible from the log).
PROTECTED = {
    "*": ("record_id", "type", "schema", "lot"),
    "inspection": (
        "stage",
        "material_lot",
        "supplier",
        "specification",
        "retest",
        "sampling",
    ),
    "scan": ("station", "operation", "gs1", "consignee", "supplier", "pallet"),
    "ncr": (
        "ncr_id",
        "step",
        "disposition",
        "capa_id",
        "refs",
        "assignable_cause",
        "concession",
    ),
    "capa": (
        "capa_id",
        "step",
        "ncr_id",
        "effective",
        "no_adverse_effect",
        "due_by",
        "check_after_days",
        "data",
    ),
    "change": ("change_id", "step", "specifications", "effective_from"),
    "alert": ("alert_id", "refs"),
}
#: Record types that are never corrected (a new record answers them instead).
UNCORRECTABLE = (
    "signer",
    "correction",
    "release",
    "recall",
    "review",
    "hold",
    "field_action",
    "training",
    # Master data changes by a new version or a new record, never by a correction.
    "specification",
    "equipment",
    "calibration",
    "supplier",
    # A validation record states what a pack or report hashed to: a new record answers it.
    "validation",
)


class Refused(Exception):
    """A rule the record breaks. ``kind``: the rule family; ``status``: ``forbidden``,
    ``conflict``, ``invalid`` or ``not_found``; ``reasons``: every reason when there are
    several (a refused release lists them all)."""

    def __init__(self, kind: str, status: str, message: str, reasons: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.kind, self.status, self.reasons = kind, status, list(reasons)

    @classmethod
    def malformed(cls, record_type: object, exc: Exception) -> Refused:
        """A body the rules could not read (``exc`` raised reading it), refused as not in its
        schema's shape: one the schema admits too (a time before year 1 in UTC) or a logged one
        no schema checked (the audit, the bundle verifier)."""
        return cls(
            "schema",
            "invalid",
            f"{record_type}: not the shape its schema requires ({exc.__class__.__name__}: {exc})",
        )


@dataclass
class Stored:
    """A logged record with its signature manifestation (21 CFR 11.50)."""

    record_id: str
    type: str
    body: dict[str, Any]
    record_hash: str
    signer: str
    printed_name: str | None
    meaning: str
    signed_at: str  # UTC, ISO 8601
    accepted_at: str
    history: list[dict[str, Any]] = field(default_factory=list)
    original: dict[str, Any] | None = None  # the body as first entered, when corrected

    def manifestation(self) -> dict[str, Any]:
        return {
            "signer": self.signer,
            "printed_name": self.printed_name,
            "signed_at": self.signed_at,
            "meaning": self.meaning,
        }

    def view(self) -> dict[str, Any]:
        return {
            "record_id": self.record_id,
            "type": self.type,
            "record_hash": self.record_hash,
            "current": self.body,
            "signature": self.manifestation(),
            "accepted_at": self.accepted_at,
            "changed_since_first_entry": bool(self.history),
            "history": self.history,
        }


def utc_iso(ts: int) -> str:
    """A Unix time as :attr:`Stored.signed_at` holds it (UTC, ISO 8601), in the service, the
    audit and the bundle verifier alike; past year 9999 (only a hostile bundle) as its end."""
    try:
        return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")
    except (ValueError, OverflowError, OSError):
        return "9999-12-31T23:59:59Z"


def when(value: Any) -> datetime:
    """A record's ISO 8601 time as an aware datetime (UTC when the text has no offset)."""
    t = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


def latest_step(records: Iterable[Stored], step: str) -> Stored | None:
    """The last of a workflow entity's ``records`` (in log order) at ``step``."""
    return next((r for r in reversed(list(records)) if r.body.get("step") == step), None)


def unix_seconds(iso: str) -> int:
    """A logged acceptance time (UTC, ISO 8601) in Unix seconds, as the signer registry takes
    it; one that cannot be read (only a hostile bundle) as the end of time: no authority then.
    A time without an offset is UTC, as in :func:`when` (never the machine's own zone)."""
    try:
        t = datetime.fromisoformat(iso.replace("Z", "+00:00"))
        return int((t if t.tzinfo is not None else t.replace(tzinfo=UTC)).timestamp())
    except (ValueError, TypeError, OverflowError, AttributeError):
        return 2**63


class History(Protocol):
    """What came before a record, as the judge needs it (from the database in the service,
    from the replayed log in the audit and the bundle verifier)."""

    def subject(self, subject: str) -> list[Stored]:
        """Records of a workflow entity (``ncr:N-1``) or a record's corrections
        (``record:ID``), in log order, as signed (no corrections applied)."""
        ...

    def lot(self, lot: str) -> list[Stored]:
        """A lot's records in log order, with their corrections applied."""
        ...

    def records(self, record_ids: Sequence[str]) -> list[Stored]:
        """The records with these ids (as signed), in log order."""
        ...

    def name(self, signer: str) -> str:
        """The signer's printed name, for messages."""
        ...

    def person(self, signer: str) -> str | None:
        """The person a key belongs to (:attr:`evledger_verify.registry.SignerState.person`),
        or None for a key not registered yet."""
        ...

    def receipts(self, lot: str) -> list[tuple[str, str, str | None, str | None]]:
        """How ``lot`` and every lot it was made from, directly or through others, were
        received: (record id, received lot, supplier, time), from the lot genealogy."""
        ...

    def floor(self, lot: str) -> list[tuple[str, str, str | None, str | None]]:
        """What the floor did with ``lot``: its shipments and the material consumed into it,
        (record id, ``ship`` or ``input``, consignee or material lot, time), in log order."""
        ...


# -- authority ------------------------------------------------------------------------------


def allowed_roles(record_type: str, step: str | None, meaning: str) -> tuple[str, ...]:
    rule = MATRIX.get((record_type, step or "*")) or MATRIX.get((record_type, "*")) or {}
    return rule.get(meaning, ())


def check_authority(
    record_type: str, step: str | None, meaning: str, roles: Iterable[str], who: str
) -> None:
    """Raise :class:`Refused` naming the rule unless one of ``roles`` may sign."""
    roles = tuple(roles)
    allowed = allowed_roles(record_type, step, meaning)
    if set(roles) & set(allowed):
        return
    what = record_type + (f" step {step}" if step else "")
    rule = MATRIX.get((record_type, step or "*")) or MATRIX.get((record_type, "*")) or {}
    if not allowed:
        meanings = ", ".join(f"{m} ({'/'.join(r)})" for m, r in rule.items()) or "none"
        raise Refused(
            "authority",
            "forbidden",
            f"authority: {what} cannot be signed with meaning {meaning!r}; "
            f"allowed meanings: {meanings}",
        )
    raise Refused(
        "authority",
        "forbidden",
        f"authority: {what} with meaning {meaning!r} needs role {' or '.join(allowed)}; "
        f"{who} has {', '.join(roles) or 'no role'}",
    )


# -- corrections ----------------------------------------------------------------------------


def subject_of(record: dict[str, Any]) -> str | None:
    """The workflow entity a record belongs to, or the record a correction corrects."""
    rtype = record.get("type")
    if rtype in ENTITY_KEY:
        return f"{rtype}:{record[ENTITY_KEY[rtype]]}"
    if rtype in MASTER_KEY:
        kind, key = MASTER_KEY[rtype]
        return f"{kind}:{record[key]}"
    if rtype == "correction":
        return f"record:{record['corrects']}"
    if rtype == "review":
        return f"record:{record['reviews']}"
    if rtype == "inspection" and record.get("sampling") is not None:
        return stream_of(record)
    if rtype == "training":
        return f"training:{record['person']}"
    return None


def stream_of(body: dict[str, Any]) -> str:
    """The product stream an inspection under a sampling plan belongs to (its product, stage
    and supplier), along which the switching rules of ISO 2859-1 run."""
    return f"stream:{body['product']['gtin']}:{body['stage']}:{body.get('supplier') or '-'}"


def _pointer(path: str) -> list[str]:
    return [p.replace("~1", "/").replace("~0", "~") for p in path.split("/")[1:]]


def apply_change(body: dict[str, Any], path: str, value: Any) -> Any:
    """Set ``path`` (JSON pointer) in ``body``; returns the old value. The path must exist."""
    parts = _pointer(path)
    if not parts:
        raise Refused("correction", "invalid", f"correction path {path!r}: not a JSON pointer")
    if parts[0] in (*PROTECTED["*"], *PROTECTED.get(str(body.get("type")), ())):
        raise Refused(
            "correction",
            "invalid",
            f"correction path {path}: {parts[0]} cannot be corrected"
            + (
                f"; {body.get('type')} {parts[0]} changes only through its own signed steps"
                if body.get("type") in NEXT_STEPS and parts[0] not in PROTECTED["*"]
                else "; submit a new record instead"
            ),
        )
    node: Any = body
    for part in parts[:-1]:
        node = _step(node, part, path)
    last = parts[-1]
    if isinstance(node, list):
        index = _index(node, last, path)
        old, node[index] = node[index], value
        return old
    if not isinstance(node, dict) or last not in node:
        raise Refused(
            "correction", "invalid", f"correction path {path}: no such field in the original"
        )
    old, node[last] = node[last], value
    return old


def _step(node: Any, part: str, path: str) -> Any:
    if isinstance(node, list):
        return node[_index(node, part, path)]
    if isinstance(node, dict) and part in node:
        return node[part]
    raise Refused("correction", "invalid", f"correction path {path}: no such field in the original")


def _index(node: list[Any], part: str, path: str) -> int:
    if not part.isdigit() or int(part) >= len(node):
        raise Refused("correction", "invalid", f"correction path {path}: no element {part}")
    return int(part)


def apply_corrections(records: Sequence[Stored]) -> list[Stored]:
    """Apply each correction to the record it corrects, in order; the corrected record keeps
    its original body and a history of (path, old, new, who, when, why)."""
    by_id = {r.record_id: r for r in records}
    for c in records:
        if c.type != "correction":
            continue
        target = by_id.get(str(c.body["corrects"]))
        if target is None:
            continue
        if target.original is None:
            target.original = copy.deepcopy(target.body)
        for change in c.body["changes"]:
            old = apply_change(target.body, change["path"], copy.deepcopy(change["value"]))
            target.history.append(
                {
                    "correction": c.record_id,
                    "path": change["path"],
                    "old": old,
                    "new": change["value"],
                    "reason": c.body["reason"],
                    **c.manifestation(),
                }
            )
    return list(records)


def _content(body: dict[str, Any], rule: str = "schema", prefix: str = "") -> None:
    """The content rules (:mod:`evledger_verify.content`), refused as ``rule``."""
    try:
        content.check(body)
    except ContentError as exc:
        raise Refused(rule, "invalid", f"{prefix}{exc}") from None


def correct(
    target: Stored,
    changes: Iterable[dict[str, Any]],
    validate: Callable[[dict[str, Any]], Any] | None = None,
) -> dict[str, Any]:
    """The target's body with ``changes`` applied; ``validate`` (the record schemas, where
    the caller has them) must accept it."""
    body = copy.deepcopy(target.body)
    for change in changes:
        apply_change(body, change["path"], copy.deepcopy(change["value"]))
    if validate is not None:
        try:
            validate(body)
        except Exception as exc:  # the caller's schema error, whatever its class
            raise Refused(
                "correction", "invalid", f"correction: the corrected record would be invalid: {exc}"
            ) from exc
    _content(body, "correction", "correction: the corrected record would be invalid: ")
    return body


# -- workflows and release ------------------------------------------------------------------


def workflow_step(records: Iterable[Stored], rtype: str, entity: str) -> str | None:
    step = None
    key = ENTITY_KEY[rtype]
    for r in records:
        if r.type == rtype and r.body.get(key) == entity:
            step = str(r.body["step"])
    return step


def ncr_summaries(records: Sequence[Stored]) -> dict[str, dict[str, Any]]:
    """Each NCR of the records: its step, the records and alerts it refers to, its nature,
    disposition and CAPA, as its steps so far say."""
    out: dict[str, dict[str, Any]] = {}
    for r in records:
        if r.type == "ncr":
            n = out.setdefault(str(r.body["ncr_id"]), {"ncr_id": r.body["ncr_id"], "refs": []})
            n["step"] = r.body["step"]
            n["refs"] = sorted({*n["refs"], *r.body.get("refs", [])})
            for key in ("nature", "disposition", "capa_id", "concession"):
                if r.body.get(key) is not None:
                    n[key] = r.body[key]
            if r.body["step"] == "dispositioned":
                n["dispositioned_by"] = r.record_id
    return out


def dispositioned(ncrs: dict[str, dict[str, Any]]) -> set[str]:
    """What the NCRs (:func:`ncr_summaries`) have dispositioned: the records and alerts their
    ``refs`` name, once an NCR is dispositioned or closed."""
    return {
        ref for n in ncrs.values() if n["step"] in ("dispositioned", "closed") for ref in n["refs"]
    }


@dataclass(frozen=True)
class Blocker:
    """Why a lot cannot be released. ``kind``: failed_result, concession_expired,
    concession_unreviewed, rework_not_reinspected, disposition_final, correction_unreviewed
    (:mod:`evledger_verify.oos`), inspection_missing, inspection_not_passed, open_ncr,
    open_excursion, open_alert, supplier_not_approved, calibration_out_of_tolerance, evidence
    (the release's own citations are wrong). Nothing overrides a blocker on the release."""

    kind: str
    text: str

    def __str__(self) -> str:
        return self.text


def release_blockers(
    records: Sequence[Stored],
    required_stages: Sequence[str],
    evidence: Sequence[dict[str, Any]],
    master: Sequence[Blocker] = (),
    at: datetime | None = None,
) -> list[Blocker]:
    """Why a lot cannot be released now (empty when it can). ``records`` are the lot's records
    with corrections applied; ``evidence`` is the release's list of relied-on records;
    ``master``: what master data says (:func:`evledger_verify.master.master_blockers`);
    ``at``: the time judged at (a concession may have expired; default now)."""
    blockers: list[Blocker] = []
    ncrs = ncr_summaries(records)
    dispositioned_refs = dispositioned(ncrs)
    inspections = [r for r in records if r.type == "inspection"]
    latest: dict[str, Stored] = {}
    for r in inspections:
        # Only an inspection signed as performed ("authored") fulfils a required stage; one
        # signed "reviewed" or "verified" attests another's work (its failures still count).
        if r.meaning == "authored":
            latest[str(r.body["stage"])] = r
    # Every failed result is answered by its investigation: a retest it allowed, or a
    # disposition (evledger_verify.oos).
    failures, conceded = oos.failure_blockers(records, at or datetime.now(UTC))
    blockers.extend(failures)
    blockers.extend(oos.correction_blockers(records))
    for stage in required_stages:
        last = latest.get(stage)
        if last is None:
            blockers.append(
                Blocker(
                    "inspection_missing",
                    f"required inspection missing: no {stage} inspection on the lot",
                )
            )
        elif last.body["verdict"] != "pass" and not _all_conceded(last, conceded):
            blockers.append(
                Blocker(
                    "inspection_not_passed",
                    f"required inspection not passed: {last.record_id} ({stage})",
                )
            )
    for n in ncrs.values():
        if n["step"] != "closed":
            blockers.append(Blocker("open_ncr", f"NCR {n['ncr_id']} is open (step {n['step']})"))
    blockers.extend(_open_excursions(records, dispositioned_refs))
    blockers.extend(master)
    for r in records:
        if r.type == "alert" and r.body["alert_id"] not in dispositioned_refs:
            blockers.append(
                Blocker(
                    "open_alert",
                    f"alert {r.body['alert_id']} is open: an NCR must disposition it "
                    f"({r.body['description'][:80]})",
                )
            )
    by_id = {r.record_id: r for r in records}
    for e in evidence:
        rec = by_id.get(e["record_id"])
        if rec is None:
            blockers.append(
                Blocker("evidence", f"evidence {e['record_id']}: not a record of this lot")
            )
        elif rec.record_hash != e["record_hash"]:
            blockers.append(
                Blocker(
                    "evidence", f"evidence {e['record_id']}: hash differs from the logged record"
                )
            )
    return blockers


def _all_conceded(inspection: Stored, conceded: set[tuple[str, str]]) -> bool:
    """Whether the inspection failed only where a valid concession covers it."""
    failed = [c["name"] for c in inspection.body["characteristics"] if c["verdict"] == "fail"]
    return bool(failed) and all((inspection.record_id, name) in conceded for name in failed)


def _out_of_limits(body: dict[str, Any]) -> bool:
    low, high, value = body.get("lower"), body.get("upper"), body["value"]
    return (low is not None and value < low) or (high is not None and value > high)


def _open_excursions(records: Sequence[Stored], dispositioned_refs: set[str]) -> list[Blocker]:
    """Out-of-limit process readings not yet dispositioned, one blocker per excursion.

    An excursion is a run of consecutive out-of-limit readings of one tag on one line (by
    reading time): it is the alert an out-of-limit reading raises (devices sign readings, not
    alerts). An NCR clears it by dispositioning any of its readings, or an alert (signed by QA
    or the audit) whose ``refs`` name one of them: one excursion, one NCR, however many
    readings the PLC recorded while it lasted.
    """
    cleared = set(dispositioned_refs)
    for r in records:
        if r.type == "alert" and r.body["alert_id"] in dispositioned_refs:
            cleared.update(str(ref) for ref in r.body.get("refs", ()))
    by_tag: dict[tuple[Any, Any], list[Stored]] = {}
    for r in records:
        if r.type == "process_reading":
            by_tag.setdefault((r.body.get("line"), r.body["tag"]), []).append(r)
    runs: list[list[Stored]] = []
    for readings in by_tag.values():
        readings.sort(key=lambda r: datetime.fromisoformat(str(r.body["read_at"])))
        run: list[Stored] = []
        for reading in readings:
            if _out_of_limits(reading.body):
                run.append(reading)
            elif run:
                runs.append(run)
                run = []
        if run:
            runs.append(run)
    position = {id(r): i for i, r in enumerate(records)}
    blockers = []
    for run in sorted(runs, key=lambda run: position[id(run[0])]):
        if any(r.record_id in cleared for r in run):
            continue
        first, body = run[0], run[0].body
        limits = f"limits {body.get('lower')}..{body.get('upper')}"
        if len(run) == 1:
            blockers.append(
                Blocker(
                    "open_excursion",
                    f"process reading {first.record_id} is out of limits ({body['tag']} "
                    f"{body['value']} {body['unit']}, {limits}): an NCR must disposition it",
                )
            )
            continue
        values = [float(r.body["value"]) for r in run]
        blockers.append(
            Blocker(
                "open_excursion",
                f"process readings {first.record_id} .. {run[-1].record_id} ({len(run)}) are "
                f"out of limits ({body['tag']} {min(values):g}..{max(values):g} "
                f"{body['unit']}, {limits}): an NCR must disposition one of them",
            )
        )
    return blockers


# -- the judge ------------------------------------------------------------------------------


#: The fields of an inspection's characteristics that release gating reads (with the overall
#: verdict): a correction changing them needs an approver, and a second one's review.
GATING_FIELDS = ("name", "verdict", "critical", "lower", "upper", "unit")


def _gating(body: dict[str, Any]) -> Any:
    if body.get("type") != "inspection":
        return None
    return (
        body.get("verdict"),
        [
            tuple(c.get(f, False if f == "critical" else None) for f in GATING_FIELDS)
            for c in body.get("characteristics", [])
        ],
    )


def judge(
    record: dict[str, Any],
    meaning: str,
    signer: str,
    roles: Sequence[str],
    history: History,
    policy: Policy = DEFAULT_POLICY,
    validate: Callable[[dict[str, Any]], Any] | None = None,
    legacy: bool = False,
    bootstrap: bool = False,
    *,
    signed_at: int | None = None,
    accepted_at: int | None = None,
) -> None:
    """Raise :class:`Refused` when the record, signed by ``signer`` holding ``roles`` at the
    signing time with ``meaning``, breaks a rule given what came before it (``history``) under
    ``policy``. Checks the record's content beyond its schema; the schema, the signature and
    the signer's registration are checked before. ``validate``: the record schemas, to re-check
    a corrected body (the service and the audit have them). ``legacy``: the record was logged
    before the ledger had specifications (an ``inspection/1`` then cites none). ``bootstrap``:
    the ledger's first signer record (its first admin grants itself; nobody else may).
    ``signed_at`` and ``accepted_at`` (Unix seconds): when given, the time rules apply."""
    rtype = str(record["type"])
    who = f"{signer} ({history.name(signer)})"
    _content(record)
    if signed_at is not None and accepted_at is not None:
        check_times(record, roles, signed_at, accepted_at, policy)
    if rtype == "correction":
        _correction(record, meaning, roles, who, history, validate)
        return
    check_authority(rtype, record.get("step"), meaning, roles, who)
    _qualified(record, meaning, signer, roles, who, history, policy, signed_at)
    if rtype == "signer" and not bootstrap:
        _signer(record, signer, who, history)
    _duties(record, meaning, signer, who, history, policy)
    if rtype in NEXT_STEPS:
        _transition(rtype, record, history, signed_at)
    if rtype == "change" and record.get("step") == "approved":
        master.check_change_approval(record, signer, history)
    if rtype == "specification":
        master.check_specification(record, history)
    if rtype == "inspection":
        master.check_inspection(record, history, legacy)
        oos.check_retest(record, history)
    if rtype == "ncr" and record.get("step") == "dispositioned":
        oos.check_disposition(record, history, policy, signed_at)
    if rtype == "review":
        oos.check_review(record, signer, history)
    if rtype == "hold":
        life.check_hold(record, meaning, history)
    if rtype in ("complaint", "field_action"):
        life.check_known_lot(record, history)
    if rtype in ("equipment", "calibration"):
        master.check_equipment(record, history)
    if rtype == "alert":
        _alert(record, history)
    if rtype == "release":
        _release(record, history, policy, signed_at)
    if rtype == "recall":
        _recall(record, meaning, history)


def check_times(
    record: dict[str, Any], roles: Sequence[str], signed_at: int, accepted_at: int, policy: Policy
) -> None:
    """A signature is not from the future, a person's is at most minutes old on arrival (a
    device keeps its capture time: its outbox delivers late), and an inspection is signed after
    it was made, within a bounded lag (21 CFR 11.10(e), 11.50; Annex 11 §9)."""
    if signed_at > accepted_at + policy.max_clock_skew:
        raise Refused(
            "time",
            "invalid",
            f"time: signed at {utc_iso(signed_at)}, after its acceptance at "
            f"{utc_iso(accepted_at)} (+{policy.max_clock_skew} s clock skew allowed)",
        )
    if "device" not in roles and accepted_at - signed_at > policy.max_signature_age:
        raise Refused(
            "time",
            "invalid",
            f"time: a signature (a person's or a system's; only a device keeps its capture "
            f"time) is at most {policy.max_signature_age} s old on arrival; signed at "
            f"{utc_iso(signed_at)}, accepted at {utc_iso(accepted_at)} "
            "(sign again: a signature states when it was made)",
        )
    made = {"inspection": "inspected_at", "calibration": "calibrated_at"}.get(
        str(record.get("type"))
    )
    if made is None or not isinstance(record.get(made), str):
        return
    at = unix_seconds(str(record[made]))
    # inspected_at may carry a fraction of the second signed_at drops.
    if at > signed_at + 1:
        raise Refused(
            "time",
            "invalid",
            f"time: {made} {record[made]} is after the signing time {utc_iso(signed_at)}; "
            "a record is signed after what it records",
        )
    if record["type"] == "inspection" and signed_at - at > policy.max_inspection_lag:
        raise Refused(
            "time",
            "invalid",
            f"time: inspected_at {record[made]} is more than {policy.max_inspection_lag} s "
            f"before the signing time {utc_iso(signed_at)}; an inspection is signed when it "
            "is made (contemporaneous records, 21 CFR 211.100(b))",
        )


def _signer(record: dict[str, Any], signer: str, who: str, history: History) -> None:
    """Nobody grants themselves roles, through this key or another of their own; a key belongs
    to one person for good."""
    if record.get("action") != "grant":
        return
    address = str(record.get("address", ""))
    known = history.person(address)
    named = record.get("person")
    if known is not None and named is not None and named != known:
        raise Refused(
            "authority",
            "conflict",
            f"authority: key {address} belongs to "
            + (f"person {known}" if not known.startswith("key:") else "no named person")
            + f" since its first grant; a grant cannot make it {named}'s (register a new key "
            "for that person)",
        )
    target = known or (str(named) if named is not None else f"key:{address.lower()}")
    if address.lower() == signer.lower() or target == history.person(signer):
        raise Refused(
            "authority",
            "forbidden",
            f"authority: nobody grants themselves roles; {who} signed a grant to "
            + ("its own key" if address.lower() == signer.lower() else f"{target}'s key {address}")
            + " (another admin, another person, must sign it)",
        )


def _qualified(
    record: dict[str, Any],
    meaning: str,
    signer: str,
    roles: Sequence[str],
    who: str,
    history: History,
    policy: Policy,
    signed_at: int | None,
) -> None:
    """The signer's person holds a valid training record for each task the policy requires
    of this signature, and a release is a Qualified Person's where the policy says so."""
    rtype, step = str(record["type"]), record.get("step")
    if (
        policy.qualified_person_release
        and rtype == "release"
        and record.get("decision") == "released"
        and "qualified_person" not in roles
    ):
        raise Refused(
            "qualification",
            "forbidden",
            f"qualification: this ledger's policy has a Qualified Person certify each release "
            f"(EU GMP Annex 16); {who} does not hold the qualified_person role",
        )
    tasks = [q.task for q in policy.qualifications if q.matches(rtype, step, meaning)]
    if not tasks or "device" in roles:
        return
    person = history.person(signer)
    if person is None:
        return
    qualified = {
        str(t.body["task"])
        for t in history.subject(f"training:{person}")
        if _trained_at(t, signed_at)
    }
    for task in tasks:
        if task not in qualified:
            what = rtype + (f" step {step}" if step else "")
            raise Refused(
                "qualification",
                "forbidden",
                f"qualification: signing {what} ({meaning}) needs a valid training record for "
                f"task {task!r}; {who} (person {person}) has none at the signing time",
            )


def _trained_at(t: Stored, signed_at: int | None) -> bool:
    """A qualifying training record, valid at the signing time (at any time when it is not
    known)."""
    if t.type != "training" or t.body.get("result") != "qualified":
        return False
    if signed_at is None:
        return True
    until = t.body.get("valid_until")
    return unix_seconds(str(t.body["completed_at"])) <= signed_at and (
        not until or unix_seconds(str(until)) > signed_at
    )


def _duties(
    record: dict[str, Any],
    meaning: str,
    signer: str,
    who: str,
    history: History,
    policy: Policy,
) -> None:
    """The segregation of duties (:data:`evledger_verify.policy.DUTIES`): the person who
    signs ``record`` gave none of the signatures it is incompatible with, on the same lot or
    workflow entity."""
    rtype, step = str(record["type"]), record.get("step")
    person = history.person(signer)
    if person is None:
        return  # an unregistered key is refused before (the bootstrap grant excepted)
    for duty in policy.duties:
        if not duty.matches(duty.second, rtype, step, meaning):
            continue
        if duty.scope == "lot":
            if not isinstance(record.get("lot"), str):
                continue
            earlier = history.lot(str(record["lot"]))
            where = f"lot {record['lot']}"
        else:
            if rtype not in ENTITY_KEY:
                continue
            entity = str(record[ENTITY_KEY[rtype]])
            earlier = history.subject(f"{rtype}:{entity}")
            where = f"{rtype} {entity}"
        for r in earlier:
            if not duty.matches(duty.first, r.type, r.body.get("step"), r.meaning):
                continue
            if history.person(r.signer) == person:
                step_of = f" {r.body['step']}" if r.body.get("step") else ""
                raise Refused(
                    "duties",
                    "forbidden",
                    f"segregation of duties ({duty.name}): {duty.text}; {who} signed "
                    f"{r.record_id} ({r.type}{step_of}, {r.meaning}) on {where}"
                    + ("" if r.signer.lower() == signer.lower() else " with another key"),
                )


def _correction(
    record: dict[str, Any],
    meaning: str,
    roles: Sequence[str],
    who: str,
    history: History,
    validate: Callable[[dict[str, Any]], Any] | None,
) -> None:
    found = history.records([str(record["corrects"])])
    if not found:
        raise Refused(
            "correction", "not_found", f"correction: record {record['corrects']!r} not found"
        )
    target = copy.deepcopy(found[0])
    if target.type in UNCORRECTABLE:
        raise Refused(
            "correction",
            "invalid",
            f"correction: a {target.type} record cannot be corrected "
            + ("(revoke and grant again)" if target.type == "signer" else "(submit a new record)"),
        )
    if target.body.get("lot") != record.get("lot"):
        raise Refused(
            "correction",
            "invalid",
            f"correction lot: expected {target.body.get('lot')!r} (the corrected record's "
            f"lot), got {record.get('lot')!r}",
        )
    apply_corrections([target, *history.subject(f"record:{record['corrects']}")])
    corrected = correct(target, record["changes"], validate)
    check_authority("correction", None, meaning, roles, who)
    # Whoever may sign the corrected record may correct it; a QA approver may correct any
    # correctable record, and only a QA approver may change a verdict.
    if "qa_approver" not in roles:
        check_authority(
            target.type,
            target.body.get("step"),
            target.meaning,
            roles,
            f"{who}, correcting {target.record_id}",
        )
        qa_only = [
            c["path"]
            for c in record["changes"]
            if target.type == "inspection"
            and str(c["path"]).split("/")[1] in ("product", "sample_size", "inspected_at")
        ]
        if qa_only and "qa_inspector" not in roles:
            raise Refused(
                "authority",
                "forbidden",
                f"authority: correcting {', '.join(qa_only)} of an inspection needs a QA role; "
                f"{who} has {', '.join(roles)}",
            )
        if _gating(target.body) != _gating(corrected):
            raise Refused(
                "authority",
                "forbidden",
                "authority: a correction that changes verdicts, critical flags, limits or "
                f"units needs role qa_approver; {who} has {', '.join(roles)}",
            )
    if target.type == "inspection":
        # The corrected inspection must still follow its specification and equipment (judged
        # after authority, as everywhere: who may not make the change hears that first).
        master.check_inspection(corrected, history, target.body.get("schema") == "inspection/1")


def _transition(
    rtype: str, record: dict[str, Any], history: History, signed_at: int | None = None
) -> None:
    entity = str(record[ENTITY_KEY[rtype]])
    before = history.subject(f"{rtype}:{entity}")
    current = workflow_step(before, rtype, entity)
    if signed_at is not None and before and signed_at < unix_seconds(before[-1].signed_at):
        raise Refused(
            "time",
            "conflict",
            f"{rtype} {entity}: step {record['step']} signed at {utc_iso(signed_at)}, before "
            f"the step it follows ({before[-1].body.get('step')}, {before[-1].record_id}, "
            f"signed at {before[-1].signed_at}); workflow steps never go back in time",
        )
    allowed = NEXT_STEPS[rtype][current]
    step = str(record["step"])
    if step not in allowed:
        raise Refused(
            "workflow",
            "conflict",
            f"{rtype} {entity}: cannot go from {current or 'nothing'} to {step}; "
            f"allowed: {', '.join(allowed) or 'none (finished)'}",
            [f"allowed next steps: {', '.join(allowed) or 'none'}"],
        )
    if rtype == "capa" and step == "closed":
        found = latest_step(before, "effectiveness_check")
        check = found.body if found is not None else {}
        if not (check.get("effective") and check.get("no_adverse_effect")):
            raise Refused(
                "workflow",
                "conflict",
                f"capa {entity}: cannot close: the effectiveness check found the action "
                "not effective or with an adverse effect; go back to investigation or cancel",
                ["allowed next steps: investigation, cancelled"],
            )
    if rtype == "ncr" and step == "closed":
        oos.check_rework_closure(entity, before, str(record["lot"]), history)
        _linked_capa(entity, before, history)
    if rtype == "capa":
        _capa_content(entity, record, before, history, signed_at)
    if rtype == "ncr" and record.get("refs"):
        lot_records = history.lot(str(record["lot"]))
        known = (
            {r.record_id for r in lot_records}
            | {str(r.body["alert_id"]) for r in lot_records if r.type == "alert"}
            # the scans that shipped the lot or consumed material into it (floor alerts)
            | {rid for rid, _, _, _ in history.floor(str(record["lot"]))}
            # the receipts of it and of what went into it (a supplier's status blocker names
            # them; a receive scan may name its lot only in its barcode)
            | {rid for rid, _, _, _ in history.receipts(str(record["lot"]))}
        )
        unknown = [ref for ref in record["refs"] if ref not in known]
        if unknown:
            raise Refused(
                "workflow",
                "conflict",
                f"ncr {entity}: refs {', '.join(unknown)} name no record or alert of lot "
                f"{record['lot']}",
            )
    if rtype == "ncr" and current is not None:
        first = before[0].body
        if record.get("lot") != first.get("lot"):
            raise Refused(
                "workflow", "conflict", f"ncr {entity}: belongs to lot {first.get('lot')}"
            )


def _linked_capa(entity: str, before: Sequence[Stored], history: History) -> None:
    """An NCR that named a CAPA closes only once that CAPA exists."""
    capa_id = next((s.body["capa_id"] for s in before if s.body.get("capa_id")), None)
    if capa_id is not None and not history.subject(f"capa:{capa_id}"):
        raise Refused(
            "workflow",
            "conflict",
            f"ncr {entity}: its CAPA {capa_id} was never opened; open it before closing the NCR",
        )


def _capa_content(
    entity: str,
    record: dict[str, Any],
    before: Sequence[Stored],
    history: History,
    signed_at: int | None,
) -> None:
    """A CAPA's links resolve, and its effectiveness is checked on data, after the interval
    its action plan set (21 CFR 820.100(a)(4); ISO 13485 §8.5.2 f)."""
    step = record["step"]
    if step == "open" and record.get("ncr_id") and not history.subject(f"ncr:{record['ncr_id']}"):
        raise Refused(
            "workflow",
            "conflict",
            f"capa {entity}: ncr_id {record['ncr_id']} names no NCR",
        )
    if step != "effectiveness_check":
        return
    cited = [str(d) for d in record["data"]]
    missing = sorted(set(cited) - {r.record_id for r in history.records(cited)})
    if missing:
        raise Refused(
            "workflow",
            "conflict",
            f"capa {entity}: the effectiveness check cites {', '.join(missing)}, not logged "
            "records; it rests on data the ledger holds",
        )
    plan, done = latest_step(before, "action_plan"), latest_step(before, "implementation")
    if plan is None or done is None or signed_at is None:
        return
    days = int(plan.body.get("check_after_days") or 0)
    due = unix_seconds(done.signed_at) + days * 86400
    if signed_at < due:
        raise Refused(
            "workflow",
            "conflict",
            f"capa {entity}: the effectiveness check is planned {days} day(s) after the "
            f"implementation ({done.record_id}), from {utc_iso(due)}; checked at once it shows "
            "nothing",
        )


def _alert(record: dict[str, Any], history: History) -> None:
    used = history.subject(f"alert:{record['alert_id']}")
    if used:
        raise Refused(
            "alert",
            "conflict",
            f"alert id {record['alert_id']!r}: already used by record {used[0].record_id}; an "
            "alert id names one alert",
        )
    refs = [str(ref) for ref in record.get("refs") or ()]
    if not refs:
        return
    lot = record.get("lot")
    # An alert is raised on records of its own lot (on any logged records when it has none).
    found = history.records(refs)
    known = {r.record_id for r in found if lot is None or r.body.get("lot") == lot}
    unknown = [ref for ref in refs if ref not in known]
    if unknown:
        where = f"of lot {lot}" if lot is not None else "stored"
        raise Refused(
            "alert",
            "conflict",
            f"alert {record['alert_id']}: refs {', '.join(unknown)} name no record {where}",
        )


def _release(
    record: dict[str, Any],
    history: History,
    policy: Policy,
    signed_at: int | None = None,
) -> None:
    lot = str(record["lot"])
    required_stages = policy.required_stages
    if record.get("concession") is not None:
        raise Refused(
            "release",
            "conflict",
            f"release of lot {lot}: a release carries no concession; a concession is granted "
            "through an NCR (disposition use_as_is), per characteristic, bounded in quantity "
            "and time, by two approvers on a critical characteristic",
        )
    if record["decision"] != "released":
        return
    records = history.lot(lot)
    life.check_release(record, records)
    products = {
        str(r.body["product"].get("gtin")) for r in records if r.type == "inspection"
    } - {str(record["product"].get("gtin"))}
    if products:
        raise Refused(
            "release",
            "conflict",
            f"release of lot {lot}: product {record['product'].get('gtin')}, but the lot's "
            f"inspections are of {', '.join(sorted(products))}",
        )
    last = next((r for r in reversed(records) if r.type == "release"), None)
    if last is not None and last.body["decision"] == "released":
        raise Refused(
            "release", "conflict", f"release of lot {lot}: already released by {last.record_id}"
        )
    evidence = list(record.get("evidence") or ())
    blockers = release_blockers(
        records,
        required_stages,
        evidence,
        master.master_blockers(lot, records, history, policy),
        datetime.fromtimestamp(signed_at, UTC) if signed_at is not None else None,
    )
    cited = {e["record_id"] for e in evidence}
    for stage in required_stages:
        latest = next(
            (r for r in reversed(records) if r.type == "inspection" and r.body["stage"] == stage),
            None,
        )
        if latest is not None and latest.record_id not in cited:
            blockers.append(
                Blocker(
                    "evidence",
                    f"evidence does not cite {latest.record_id}, the latest {stage} inspection "
                    "the release relies on",
                )
            )
    if blockers:
        raise Refused(
            "release",
            "conflict",
            f"release of lot {lot} refused: {len(blockers)} reason(s); nothing overrides them "
            "on the release (failed results are answered by their investigation: a retest it "
            "allowed or an NCR disposition)",
            [b.text for b in blockers],
        )


def _recall(record: dict[str, Any], meaning: str, history: History) -> None:
    """A real recall (not a drill) needs a QA approver's approval; a recall id names one
    recall. (That its scope is the one the log gives is checked where the genealogy is.)"""
    if not record.get("drill") and meaning != "approved":
        raise Refused(
            "recall",
            "forbidden",
            "authority: a recall (not a drill) must be signed with meaning 'approved' by a "
            f"qa_approver, got {meaning!r}",
        )
    used = history.subject(f"recall:{record['recall_id']}")
    if used:
        raise Refused(
            "recall",
            "conflict",
            f"recall id {record['recall_id']!r}: already used by record {used[0].record_id}",
        )


# Master data and failed-result rules build on the types above (and are called by :func:`judge`).
from evledger_verify import life, master, oos  # noqa: E402
