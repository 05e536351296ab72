"""The rules a submission must pass beyond its schema: authority at signing time, workflow
transitions, release gating, corrections. Run inside the submission's transaction, under the
lot's and the subject's locks, so two submissions cannot both pass on the same stale state."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from ledger import genealogy
from ledger.domain.authority import check_authority
from ledger.domain.lots import (
    NEXT_STEPS,
    Stored,
    apply_corrections,
    correct,
    release_blockers,
    workflow_step,
)
from ledger.domain.schemas import Correction, Recall, Release
from ledger.errors import AuthorizationError, ConflictError, InvalidRecordError, NotFoundError
from ledger.models import Record
from ledger.signers import Registry
from ledger.storage import load_lot, load_stored

__all__ = ["Rules"]


def _gating(body: dict[str, Any]) -> Any:
    """What release gating reads from an inspection: verdicts, critical flags, limits, units."""
    if body.get("type") != "inspection":
        return None
    return (
        body.get("verdict"),
        [
            (
                c.get("name"),
                c.get("verdict"),
                c.get("critical", False),
                c.get("lower"),
                c.get("upper"),
                c.get("unit"),
            )
            for c in body.get("characteristics", [])
        ],
    )


class Rules:
    def __init__(
        self, conn: sa.Connection, registry: Registry, required_stages: Sequence[str]
    ) -> None:
        self.conn = conn
        self.registry = registry
        self.required_stages = required_stages

    def check(
        self, model: Any, record: dict[str, Any], meaning: str, signer: str, roles: Sequence[str]
    ) -> None:
        rtype = str(record["type"])
        who = f"{signer} ({self._name(signer)})"
        if isinstance(model, Correction):
            target, corrected = self._correction_target(model)
            check_authority("correction", None, meaning, roles, who)
            # Whoever may sign the corrected record may correct it; a QA approver may correct
            # any correctable record, and only a QA approver may change a verdict.
            if "qa_approver" not in roles:
                check_authority(
                    target.type,
                    target.body.get("step"),
                    target.meaning,
                    roles,
                    f"{who}, correcting {target.record_id}",
                )
            if _gating(target.body) != _gating(corrected) and "qa_approver" not in roles:
                raise AuthorizationError(
                    "authority: a correction that changes verdicts, critical flags, limits or "
                    f"units needs role qa_approver; {who} has {', '.join(roles)}"
                )
            return
        check_authority(rtype, record.get("step"), meaning, roles, who)
        if rtype in NEXT_STEPS:
            self._transition(rtype, record)
        if rtype == "alert":
            used = load_stored(
                self.conn, self.registry, Record.subject == f"alert:{record['alert_id']}"
            )
            if used:
                raise ConflictError(
                    f"alert id {record['alert_id']!r}: already used by record "
                    f"{used[0].record_id}; an alert id names one alert"
                )
            if record.get("refs"):
                self._alert_refs(record)
        if isinstance(model, Release):
            self._release(model)
        if isinstance(model, Recall):
            self._recall(model, meaning)

    def _alert_refs(self, record: dict[str, Any]) -> None:
        """An alert is raised on records of its own lot (on stored records when it has none)."""
        refs = [str(ref) for ref in record["refs"]]
        found = load_stored(self.conn, self.registry, Record.record_id.in_(refs))
        lot = record.get("lot")
        known = {r.record_id for r in found if lot is None or r.body.get("lot") == lot}
        unknown = [ref for ref in refs if ref not in known]
        if unknown:
            where = f"of lot {lot}" if lot is not None else "stored"
            raise ConflictError(
                f"alert {record['alert_id']}: refs {', '.join(unknown)} name no record {where}"
            )

    def _recall(self, model: Recall, meaning: str) -> None:
        """A recall names a scope the ledger computes too: the same log, the same tree size,
        the same hash; a real recall (not a drill) needs a QA approver's approval."""
        if not model.drill and meaning != "approved":
            raise AuthorizationError(
                f"authority: a recall (not a drill) must be signed with meaning 'approved' by a "
                f"qa_approver, got {meaning!r}"
            )
        used = load_stored(self.conn, self.registry, Record.subject == f"recall:{model.recall_id}")
        if used:
            raise ConflictError(
                f"recall id {model.recall_id!r}: already used by record {used[0].record_id}"
            )
        try:
            scope = genealogy.recall_scope(
                self.conn, lot=model.lot, supplier=model.supplier, tree_size=model.tree_size
            )
        except LookupError as exc:
            raise ConflictError(str(exc)) from None
        digest = genealogy.scope_sha256(scope)
        counts = (len(scope["lots"]), len(scope["shipments"]), len(scope["consignees"]))
        if digest != model.scope_sha256 or counts != (
            model.lots,
            model.shipments,
            model.consignees,
        ):
            raise ConflictError(
                f"recall {model.recall_id}: the scope at tree size {model.tree_size} has SHA-256 "
                f"{digest} ({counts[0]} lots, {counts[1]} shipments, {counts[2]} consignees); "
                f"the record says {model.scope_sha256} ({model.lots}, {model.shipments}, "
                f"{model.consignees}): recompute the scope and sign again"
            )

    def _name(self, signer: str) -> str:
        state = self.registry.get(signer)
        return state.name if state else "unregistered"

    def _transition(self, rtype: str, record: dict[str, Any]) -> None:
        key = {"ncr": "ncr_id", "capa": "capa_id", "change": "change_id"}[rtype]
        entity = str(record[key])
        history = load_stored(self.conn, self.registry, Record.subject == f"{rtype}:{entity}")
        current = workflow_step(history, rtype, entity)
        allowed = NEXT_STEPS[rtype][current]
        step = str(record["step"])
        if step not in allowed:
            raise ConflictError(
                f"{rtype} {entity}: cannot go from {current or 'nothing'} to {step}; "
                f"allowed: {', '.join(allowed) or 'none (finished)'}",
                reasons=[f"allowed next steps: {', '.join(allowed) or 'none'}"],
            )
        if rtype == "capa" and step == "closed":
            check = next(
                (r.body for r in reversed(history) if r.body.get("step") == "effectiveness_check"),
                {},
            )
            if not (check.get("effective") and check.get("no_adverse_effect")):
                raise ConflictError(
                    f"capa {entity}: cannot close: the effectiveness check found the action "
                    "not effective or with an adverse effect; go back to investigation or cancel",
                    reasons=["allowed next steps: investigation, cancelled"],
                )
        if rtype == "ncr" and record.get("refs"):
            lot_records = load_lot(self.conn, self.registry, str(record["lot"]))
            known = {r.record_id for r in lot_records} | {
                str(r.body["alert_id"]) for r in lot_records if r.type == "alert"
            }
            unknown = [ref for ref in record["refs"] if ref not in known]
            if unknown:
                raise ConflictError(
                    f"ncr {entity}: refs {', '.join(unknown)} name no record or alert of lot "
                    f"{record['lot']}"
                )
        if rtype == "ncr" and current is not None:
            first = history[0].body
            if record.get("lot") != first.get("lot"):
                raise ConflictError(f"ncr {entity}: belongs to lot {first.get('lot')}")

    def _release(self, model: Release) -> None:
        records = load_lot(self.conn, self.registry, model.lot)
        last = next((r for r in reversed(records) if r.type == "release"), None)
        if model.decision != "released":
            return
        if last is not None and last.body["decision"] == "released":
            raise ConflictError(f"release of lot {model.lot}: already released by {last.record_id}")
        evidence = [e.model_dump() for e in model.evidence]
        reasons = release_blockers(records, self.required_stages, evidence)
        cited = {e["record_id"] for e in evidence}
        for stage in self.required_stages:
            latest = next(
                (
                    r
                    for r in reversed(records)
                    if r.type == "inspection" and r.body["stage"] == stage
                ),
                None,
            )
            if latest is not None and latest.record_id not in cited:
                reasons.append(
                    f"evidence does not cite {latest.record_id}, the latest {stage} "
                    "inspection the release relies on"
                )
        integrity = [r for r in reasons if r.startswith("evidence ")]
        if integrity or (reasons and model.concession is None):
            raise ConflictError(
                f"release of lot {model.lot} refused: {len(reasons)} reason(s); "
                + (
                    "a concession overrides only quality blockers, not evidence integrity"
                    if integrity and model.concession
                    else "a concession with a written rationale, signed by an authorized role, "
                    "can override quality blockers"
                ),
                reasons=reasons,
            )

    def _correction_target(self, model: Correction) -> tuple[Stored, dict[str, Any]]:
        """The record corrected (earlier corrections applied) and its body after this one."""
        found = load_stored(self.conn, self.registry, Record.record_id == model.corrects)
        if not found:
            raise NotFoundError(f"correction: record {model.corrects!r} not found")
        target = found[0]
        if target.type in ("signer", "correction", "release", "recall"):
            raise InvalidRecordError(
                f"correction: a {target.type} record cannot be corrected "
                + (
                    "(revoke and grant again)"
                    if target.type == "signer"
                    else "(submit a new record)"
                )
            )
        if target.body.get("lot") != model.lot:
            raise InvalidRecordError(
                f"correction lot: expected {target.body.get('lot')!r} (the corrected record's "
                f"lot), got {model.lot!r}"
            )
        earlier = load_stored(
            self.conn, self.registry, Record.subject == f"record:{model.corrects}"
        )
        apply_corrections([target, *earlier])
        return target, correct(target, [c.model_dump() for c in model.changes])
