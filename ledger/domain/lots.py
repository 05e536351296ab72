"""Current state as a projection of the log: a lot's status as QA sees it, rebuildable at any
time. The rules it rests on (corrections, workflow steps, release gating) are defined once in
:mod:`evledger_verify.rules` and re-exported here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from evledger_verify import rules
from evledger_verify.life import lot_life
from evledger_verify.rules import (
    NEXT_STEPS,
    PROTECTED,
    Blocker,
    Stored,
    apply_corrections,
    ncr_summaries,
    release_blockers,
    subject_of,
    workflow_step,
)

from ledger.domain.refusals import as_error
from ledger.domain.schemas import parse_record

__all__ = [
    "NEXT_STEPS",
    "PROTECTED",
    "Stored",
    "apply_corrections",
    "correct",
    "lot_status",
    "release_blockers",
    "subject_of",
    "workflow_step",
]


def correct(target: Stored, changes: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The target's body with ``changes`` applied, re-validated against its schema."""
    try:
        return rules.correct(target, changes, parse_record)
    except rules.Refused as exc:
        raise as_error(exc) from None


def lot_status(
    lot: str,
    records: Sequence[Stored],
    required_stages: Sequence[str],
    capas: Sequence[Stored] = (),
    master: Sequence[Blocker] = (),
) -> dict[str, Any]:
    """The lot as QA sees it: state, inspections, open NCR / CAPA / alerts, release, timeline.
    ``master``: what master data says about the lot (suspect measurements, material from
    suppliers not approved), which quarantines it."""
    ncrs = ncr_summaries(records)
    releases = [r for r in records if r.type == "release"]
    release = releases[-1] if releases else None
    blockers = release_blockers(records, required_stages, [], master)
    open_alerts = [
        b.text for b in blockers if b.kind in ("open_alert", "open_excursion", "floor_alert")
    ]
    open_ncrs = [n for n in ncrs.values() if n["step"] != "closed"]
    life = lot_life(records)
    state = life.state(bool(open_ncrs or open_alerts or master))
    capa_steps: dict[str, str] = {}
    capa_due: dict[str, str] = {}
    for c in capas:
        capa_steps[str(c.body["capa_id"])] = str(c.body["step"])
        if c.body.get("due_by"):
            capa_due[str(c.body["capa_id"])] = str(c.body["due_by"])
    now = datetime.now(UTC)
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
                "specification": r.body.get("specification"),
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
            | (
                {
                    "due_by": capa_due[k],
                    "overdue": rules.when(capa_due[k]) < now,
                }
                if k in capa_due
                else {}
            )
            for k, v in capa_steps.items()
            if v not in ("closed", "cancelled")
        ],
        "open_alerts": open_alerts,
        "master_data": [
            {"kind": b.kind, "text": b.text} for b in master if b.kind != "floor_alert"
        ],
        "release": None
        if release is None
        else {
            "record_id": release.record_id,
            "decision": release.body["decision"],
            "concession": release.body.get("concession"),
            "signature": release.manifestation(),
        },
        "release_blockers": [b.text for b in blockers],
        # After release: what holds the lot now, and the field actions taken on it.
        "holds": life.view(),
        "field_actions": [
            {"record_id": r.record_id, "kind": r.body["kind"], "signature": r.manifestation()}
            for r in life.field_actions
        ],
        "reopened_by": life.reopened_by,
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
