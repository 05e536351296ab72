"""Current state as a projection of the log: corrections applied, workflow steps, lot status,
release gating. Pure functions over the stored records of a lot; rebuildable at any time.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ledger.domain.schemas import parse_record
from ledger.errors import InvalidRecordError

__all__ = [
    "NEXT_STEPS",
    "Stored",
    "apply_corrections",
    "lot_status",
    "release_blockers",
    "subject_of",
]

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
        "requested": ("assessed",),
        "assessed": ("approved",),
        "approved": ("implemented",),
        "implemented": ("verified",),
        "verified": ("closed",),
        "closed": (),
    },
}

_ENTITY_KEY = {
    "ncr": "ncr_id",
    "capa": "capa_id",
    "change": "change_id",
    "alert": "alert_id",
    "recall": "recall_id",
}


def subject_of(record: dict[str, Any]) -> str | None:
    """The workflow entity a record belongs to, or the record a correction corrects."""
    rtype = record.get("type")
    if rtype in _ENTITY_KEY:
        return f"{rtype}:{record[_ENTITY_KEY[rtype]]}"
    if rtype == "correction":
        return f"record:{record['corrects']}"
    return None


@dataclass
class Stored:
    """A stored record with its signature manifestation (21 CFR 11.50)."""

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


def _pointer(path: str) -> list[str]:
    return [p.replace("~1", "/").replace("~0", "~") for p in path.split("/")[1:]]


#: Fields no correction may change: identity, the fields that carry a workflow's state or a
#: decision (those change through the workflow's own signed steps, by their own roles), and
#: those the lot genealogy is built from (a wrong link is answered by new evidence, so a trace
#: computed earlier stays reproducible from the log).
PROTECTED = {
    "*": ("record_id", "type", "schema", "lot"),
    "inspection": ("stage", "material_lot", "supplier"),
    "scan": ("station", "operation", "gs1", "consignee", "supplier", "pallet"),
    "ncr": ("ncr_id", "step", "disposition", "capa_id", "refs"),
    "capa": ("capa_id", "step", "ncr_id", "effective", "no_adverse_effect"),
    "change": ("change_id", "step"),
    "alert": ("alert_id", "refs"),
}


def apply_change(body: dict[str, Any], path: str, value: Any) -> Any:
    """Set ``path`` (JSON pointer) in ``body``; returns the old value. The path must exist."""
    parts = _pointer(path)
    if parts[0] in (*PROTECTED["*"], *PROTECTED.get(str(body.get("type")), ())):
        raise InvalidRecordError(
            f"correction path {path}: {parts[0]} cannot be corrected"
            + (
                f"; {body.get('type')} {parts[0]} changes only through its own signed steps"
                if body.get("type") in NEXT_STEPS and parts[0] not in PROTECTED["*"]
                else "; submit a new record instead"
            )
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
        raise InvalidRecordError(f"correction path {path}: no such field in the original")
    old, node[last] = node[last], value
    return old


def _step(node: Any, part: str, path: str) -> Any:
    if isinstance(node, list):
        return node[_index(node, part, path)]
    if isinstance(node, dict) and part in node:
        return node[part]
    raise InvalidRecordError(f"correction path {path}: no such field in the original")


def _index(node: list[Any], part: str, path: str) -> int:
    if not part.isdigit() or int(part) >= len(node):
        raise InvalidRecordError(f"correction path {path}: no element {part}")
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


def correct(target: Stored, changes: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The target's body with ``changes`` applied, re-validated against its schema."""
    body = copy.deepcopy(target.body)
    for change in changes:
        apply_change(body, change["path"], copy.deepcopy(change["value"]))
    try:
        parse_record(body)
    except InvalidRecordError as exc:
        raise InvalidRecordError(
            f"correction: the corrected record would be invalid: {exc}"
        ) from exc
    return body


def workflow_step(records: Iterable[Stored], rtype: str, entity: str) -> str | None:
    step = None
    key = _ENTITY_KEY[rtype]
    for r in records:
        if r.type == rtype and r.body.get(key) == entity:
            step = str(r.body["step"])
    return step


def _ncrs(records: Sequence[Stored]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for r in records:
        if r.type == "ncr":
            n = out.setdefault(str(r.body["ncr_id"]), {"ncr_id": r.body["ncr_id"], "refs": []})
            n["step"] = r.body["step"]
            n["refs"] = sorted({*n["refs"], *r.body.get("refs", [])})
            for key in ("nature", "disposition", "capa_id"):
                if r.body.get(key) is not None:
                    n[key] = r.body[key]
    return out


def release_blockers(
    records: Sequence[Stored], required_stages: Sequence[str], evidence: Sequence[dict[str, Any]]
) -> list[str]:
    """Why a lot cannot be released now (empty when it can). ``records`` are the lot's records
    with corrections applied; ``evidence`` is the release's list of relied-on records."""
    reasons: list[str] = []
    ncrs = _ncrs(records)
    dispositioned_refs = {
        ref for n in ncrs.values() if n["step"] in ("dispositioned", "closed") for ref in n["refs"]
    }
    used_as_is = {
        ref
        for n in ncrs.values()
        if n["step"] == "closed" and n.get("disposition") == "use_as_is"
        for ref in n["refs"]
    }
    inspections = [r for r in records if r.type == "inspection"]
    latest: dict[str, Stored] = {}
    for r in inspections:
        latest[str(r.body["stage"])] = r
    # A failure is superseded only when a later inspection of the same stage re-measured that
    # very characteristic and it passed: walk backwards, collecting what later ones passed.
    passed_later: dict[str, set[str]] = {}
    failures: list[str] = []
    for r in reversed(inspections):
        stage = str(r.body["stage"])
        remeasured = passed_later.setdefault(stage, set())
        failed = [
            c["name"]
            for c in r.body["characteristics"]
            if c.get("critical") and c["verdict"] == "fail" and c["name"] not in remeasured
        ]
        if failed and r.record_id not in used_as_is:
            failures.append(
                f"critical characteristic failed: {', '.join(failed)} in {r.record_id} "
                f"({stage}); re-inspect it, correct it, or (outside required stages) close an "
                "NCR with disposition use_as_is"
            )
        remeasured.update(c["name"] for c in r.body["characteristics"] if c["verdict"] == "pass")
    reasons.extend(reversed(failures))
    for stage in required_stages:
        last = latest.get(stage)
        if last is None:
            reasons.append(f"required inspection missing: no {stage} inspection on the lot")
        elif last.body["verdict"] != "pass":
            reasons.append(f"required inspection not passed: {last.record_id} ({stage})")
    for n in ncrs.values():
        if n["step"] != "closed":
            reasons.append(f"NCR {n['ncr_id']} is open (step {n['step']})")
    reasons.extend(_open_excursions(records, dispositioned_refs))
    for r in records:
        if r.type == "alert" and r.body["alert_id"] not in dispositioned_refs:
            reasons.append(
                f"alert {r.body['alert_id']} is open: an NCR must disposition it "
                f"({r.body['description'][:80]})"
            )
    by_id = {r.record_id: r for r in records}
    for e in evidence:
        rec = by_id.get(e["record_id"])
        if rec is None:
            reasons.append(f"evidence {e['record_id']}: not a record of this lot")
        elif rec.record_hash != e["record_hash"]:
            reasons.append(f"evidence {e['record_id']}: hash differs from the logged record")
    return reasons


def _out_of_limits(body: dict[str, Any]) -> bool:
    low, high, value = body.get("lower"), body.get("upper"), body["value"]
    return (low is not None and value < low) or (high is not None and value > high)


def _open_excursions(records: Sequence[Stored], dispositioned_refs: set[str]) -> list[str]:
    """Out-of-limit process readings not yet dispositioned, one reason per excursion.

    An excursion is a run of consecutive out-of-limit readings of one tag on one line (by
    reading time): it is the alert DESIGN.md says an out-of-limit reading raises (devices sign
    readings, not alerts). An NCR clears it by dispositioning any of its readings, or an alert
    (signed by QA or the audit) whose ``refs`` name one of them: one excursion, one NCR,
    however many readings the PLC recorded while it lasted.
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
    reasons = []
    for run in sorted(runs, key=lambda run: position[id(run[0])]):
        if any(r.record_id in cleared for r in run):
            continue
        first, body = run[0], run[0].body
        limits = f"limits {body.get('lower')}..{body.get('upper')}"
        if len(run) == 1:
            reasons.append(
                f"process reading {first.record_id} is out of limits ({body['tag']} "
                f"{body['value']} {body['unit']}, {limits}): an NCR must disposition it"
            )
            continue
        values = [float(r.body["value"]) for r in run]
        reasons.append(
            f"process readings {first.record_id} .. {run[-1].record_id} ({len(run)}) are out of "
            f"limits ({body['tag']} {min(values):g}..{max(values):g} {body['unit']}, {limits}): "
            "an NCR must disposition one of them"
        )
    return reasons


def lot_status(
    lot: str,
    records: Sequence[Stored],
    required_stages: Sequence[str],
    capas: Sequence[Stored] = (),
) -> dict[str, Any]:
    """The lot as QA sees it: state, inspections, open NCR / CAPA / alerts, release, timeline."""
    ncrs = _ncrs(records)
    releases = [r for r in records if r.type == "release"]
    release = releases[-1] if releases else None
    blockers = release_blockers(records, required_stages, [])
    open_alerts = [b for b in blockers if b.startswith(("alert ", "process reading"))]
    open_ncrs = [n for n in ncrs.values() if n["step"] != "closed"]
    if release is not None:
        state = str(release.body["decision"])
    elif open_ncrs or open_alerts:
        state = "quarantined"
    else:
        state = "in_process"
    capa_steps: dict[str, str] = {}
    for c in capas:
        capa_steps[str(c.body["capa_id"])] = str(c.body["step"])
    product = next((r.body["product"] for r in records if "product" in r.body), None)
    return {
        "lot": lot,
        "product": product,
        "state": state,
        "inspections": [
            {
                "record_id": r.record_id,
                "stage": r.body["stage"],
                "verdict": r.body["verdict"],
                "critical_failures": [
                    c["name"]
                    for c in r.body["characteristics"]
                    if c.get("critical") and c["verdict"] == "fail"
                ],
                "changed_since_first_entry": bool(r.history),
                "signature": r.manifestation(),
            }
            for r in records
            if r.type == "inspection"
        ],
        "open_ncrs": open_ncrs,
        "open_capas": [
            {"capa_id": k, "step": v}
            for k, v in capa_steps.items()
            if v not in ("closed", "cancelled")
        ],
        "open_alerts": open_alerts,
        "release": None
        if release is None
        else {
            "record_id": release.record_id,
            "decision": release.body["decision"],
            "concession": release.body.get("concession"),
            "signature": release.manifestation(),
        },
        "release_blockers": blockers,
        "changed_since_first_entry": [r.record_id for r in records if r.history],
        "timeline": [
            {
                "record_id": r.record_id,
                "type": r.type,
                "step": r.body.get("step"),
                "signature": r.manifestation(),
                "accepted_at": r.accepted_at,
                "changed_since_first_entry": bool(r.history),
            }
            for r in records
        ],
    }
