"""A lot's life after its release decision: holds, complaints, field actions, and the state the
log gives it (21 CFR 820.198 complaints, 806 corrections and removals, 211.198; ISO 13485
§8.2.2, §8.3.3: nonconforming product detected after delivery).

Part of the one rule definition (:mod:`evledger_verify.rules` calls in here). States:

- ``in_process``: no release decision and nothing blocking;
- ``quarantined``: a ``quarantined`` decision, or no decision and something blocks release;
- ``released``: released, and nothing since puts it on hold;
- ``on_hold``: released, then an NCR opened, an alert raised, a complaint received, a
  correction of a record the release relied on, or a ``hold`` placed on it; each stays until a
  ``hold`` record lifts it, citing the records that resolve it (an NCR trigger: its NCR
  closed);
- ``rejected``: final, unless an NCR dispositioned ``rework`` afterwards reopens the lot;
- ``recalled``: a ``field_action`` (recall, correction or removal) was taken on it; final.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from evledger_verify import oos
from evledger_verify.policy import DEFAULT_POLICY, Policy
from evledger_verify.rules import Blocker, History, Refused, Stored, ncr_summaries, when

__all__ = [
    "Life",
    "check_hold",
    "check_known_lot",
    "check_release",
    "floor_blockers",
    "lot_life",
]


@dataclass
class Life:
    """What the log says about a lot's release decision and what happened after it."""

    #: The last release decision in force (None: none, or a rejection reopened by rework).
    decision: str | None = None
    #: The release record behind ``decision``.
    release: Stored | None = None
    #: What puts the released lot on hold now, by record id, in log order.
    holds: dict[str, Stored] = field(default_factory=dict)
    #: The field actions taken (the lot is recalled).
    field_actions: list[Stored] = field(default_factory=list)
    #: The rework NCR step that reopened a rejected lot, if one did.
    reopened_by: str | None = None

    def state(self, blocked: bool) -> str:
        """The lot's state; ``blocked``: something keeps it from release."""
        if self.field_actions:
            return "recalled"
        if self.decision == "released":
            return "on_hold" if self.holds else "released"
        if self.decision in ("rejected", "quarantined"):
            return self.decision
        return "quarantined" if blocked else "in_process"

    def view(self) -> list[dict[str, Any]]:
        """The active holds, as the lot status shows them."""
        return [
            {"record_id": r.record_id, "type": r.type, "why": _why(r)} for r in self.holds.values()
        ]


def _why(r: Stored) -> str:
    b = r.body
    if r.type == "ncr":
        return f"NCR {b['ncr_id']} opened after release: {str(b.get('nature', ''))[:120]}"
    if r.type == "alert":
        return f"alert {b['alert_id']} after release: {str(b.get('description', ''))[:120]}"
    if r.type == "complaint":
        return f"complaint {b['complaint_id']} from {b['source']}: {str(b['description'])[:120]}"
    if r.type == "correction":
        return f"correction {r.record_id} of {b['corrects']}, which the release relied on"
    return f"hold {b['hold_id']} placed: {str(b.get('reason', ''))[:120]}"


def lot_life(records: Sequence[Stored]) -> Life:
    """Replay the lot's records (in log order) into its :class:`Life`."""
    life = Life()
    relied_on: set[str] = set()
    for r in records:
        b = r.body
        if r.type == "release":
            life.decision, life.release = str(b["decision"]), r
            life.reopened_by = None
            if life.decision == "released":
                relied_on = {str(e["record_id"]) for e in b.get("evidence", ())}
                life.holds.clear()
        elif r.type == "field_action":
            life.field_actions.append(r)
        elif r.type == "hold" and b.get("action") == "lifted":
            for resolved in b.get("resolves", ()):
                life.holds.pop(str(resolved), None)
        elif (
            r.type == "ncr"
            and b.get("step") == "dispositioned"
            and b.get("disposition") == "rework"
            and life.decision == "rejected"
        ):
            life.decision, life.reopened_by = None, r.record_id
        elif life.decision == "released" and (
            (r.type == "ncr" and b.get("step") == "open")
            or r.type in ("alert", "complaint")
            or (r.type == "correction" and str(b.get("corrects")) in relied_on)
            or (r.type == "hold" and b.get("action") == "placed")
        ):
            life.holds[r.record_id] = r
    return life


# -- rules ------------------------------------------------------------------------------------


def check_release(record: dict[str, Any], records: Sequence[Stored]) -> None:
    """A rejected lot is released only after a rework NCR reopened it; a recalled one never."""
    if record["decision"] != "released":
        return
    life = lot_life(records)
    lot = record["lot"]
    if life.field_actions:
        raise Refused(
            "release",
            "conflict",
            f"release of lot {lot}: recalled by field action "
            f"{life.field_actions[-1].body['field_action_id']}; a recalled lot is never "
            "released again",
        )
    if life.decision == "rejected" and life.release is not None:
        raise Refused(
            "release",
            "conflict",
            f"release of lot {lot}: rejected by {life.release.record_id}; rejected is final "
            "unless an NCR dispositioned rework reopens the lot",
        )


def check_hold(record: dict[str, Any], meaning: str, history: History) -> None:
    """A hold is lifted by a QA approver, naming holds in force and the records of the lot
    that resolve them; a hold an NCR opened is resolved by that NCR closed."""
    if record["action"] != "lifted":
        return
    lot, hold = str(record["lot"]), record["hold_id"]
    if meaning != "approved":
        raise Refused(
            "authority",
            "forbidden",
            f"hold {hold}: lifting a hold is a QA approver's decision (meaning approved), got "
            f"{meaning!r}",
        )
    records = history.lot(lot)
    life = lot_life(records)
    unknown = [str(t) for t in record["resolves"] if str(t) not in life.holds]
    if unknown:
        active = ", ".join(life.holds) or "none"
        raise Refused(
            "hold",
            "conflict",
            f"hold {hold}: {', '.join(unknown)} put no hold on lot {lot} now (holds in force: "
            f"{active})",
        )
    ids = {r.record_id for r in records}
    missing = [str(x) for x in record["resolution"] if str(x) not in ids]
    if missing:
        raise Refused(
            "hold",
            "conflict",
            f"hold {hold}: resolution {', '.join(missing)} names no record of lot {lot}",
        )
    ncrs = ncr_summaries(records)
    for t in record["resolves"]:
        trigger = life.holds[str(t)]
        if trigger.type == "ncr":
            n = ncrs[str(trigger.body["ncr_id"])]
            if n["step"] != "closed":
                raise Refused(
                    "hold",
                    "conflict",
                    f"hold {hold}: NCR {n['ncr_id']} (which put the hold) is not closed (step "
                    f"{n['step']}); a hold lifts once its NCR is closed",
                )


def check_known_lot(record: dict[str, Any], history: History) -> None:
    """A complaint or a field action names a lot the ledger knows."""
    if not history.lot(str(record["lot"])):
        raise Refused(
            str(record["type"]),
            "not_found",
            f"{record['type']} {record['record_id']}: lot {record['lot']!r} has no records",
        )


# -- status on the floor ----------------------------------------------------------------------


def _before(records: Sequence[Stored], at: datetime, linking: str | None = None) -> list[Stored]:
    """The ``records`` signed by ``at``; and the record that made the link (``linking``): an
    incoming inspection naming its material links it at ``inspected_at``, before it is signed,
    and verifies it all the same."""
    return [r for r in records if when(r.signed_at) <= at or r.record_id == linking]


def _verified(records: Sequence[Stored], material: str | None = None) -> bool:
    """Material is verified for use by a release decision, or by a passing inspection signed
    as performed (incoming for purchased material; in-process or final for a sub-assembly):
    among the material lot's own ``records``, or, given ``material``, an incoming inspection
    among the consuming lot's records that names it (``material_lot``)."""
    return any(
        (
            material is None
            and r.type == "release"
            and r.body.get("decision") == "released"
        )
        or (
            r.type == "inspection"
            and r.meaning == "authored"
            and r.body.get("verdict") == "pass"
            and (material is None or r.body.get("material_lot") == material)
        )
        for r in records
    )


def floor_blockers(
    lot: str,
    records: Sequence[Stored],
    history: History,
    cleared: set[str],
    policy: Policy = DEFAULT_POLICY,
) -> list[Blocker]:
    """Critical alerts the shop floor raised on ``lot`` (ISO 13485 §8.3.1; 21 CFR 820.86,
    211.142): it was shipped while not released, or material was consumed into it while that
    material lot was rejected, quarantined, on hold, recalled, with an unanswered failed
    result, or (policy ``material_acceptance = "verified"``, the default) not yet verified: no
    passing inspection signed as performed and no release of it. The scan is logged (it
    happened); each stays a release blocker until an NCR whose ``refs`` name the scan record is
    dispositioned (``cleared``)."""
    out = []
    for record_id, kind, other, at in history.floor(lot):
        if record_id in cleared or at is None:
            continue
        try:
            t = when(at)
        except ValueError:
            continue
        if kind == "ship":
            state = lot_life(_before(records, t)).state(False)
            if state != "released":
                out.append(
                    Blocker(
                        "floor_alert",
                        f"critical alert: lot {lot} was shipped to {other} while not released "
                        f"({state.replace('_', ' ')}; scan {record_id}, {at}): an NCR "
                        f"dispositioning {record_id} clears it",
                    )
                )
        elif other is not None:
            material = _before(history.lot(other), t)
            state = lot_life(material).state(False)
            failed, _ = oos.failure_blockers(material, t)
            why = (
                state.replace("_", " ")
                if state in ("rejected", "quarantined", "on_hold", "recalled")
                else "with an unanswered failed result"
                if failed
                else "not verified (no passing inspection and no release of it)"
                if policy.material_acceptance == "verified"
                and not _verified(material)
                and not _verified(_before(records, t, record_id), other)
                else None
            )
            if why is not None:
                out.append(
                    Blocker(
                        "floor_alert",
                        f"critical alert: material lot {other} was consumed into lot {lot} while "
                        f"{why} (scan {record_id}, {at}): an NCR dispositioning {record_id} "
                        "clears it",
                    )
                )
    return out
