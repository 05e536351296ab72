"""Quality master data as the rules read it: approved specifications, calibrated equipment,
approved suppliers (ISO 13485 4.2.4, 7.4, 7.6; 21 CFR 211.84, 211.160).

Part of the one rule definition (:mod:`evledger_verify.rules` calls in here), so the service,
``evledger audit`` and the offline bundle verifier judge master data alike. Everything is
read from the history before the record judged:

- a specification version (``specification:<spec_id>``) is in force from the ``approved``
  step of the change that names it (or that step's ``effective_from``, if later) until a
  higher version of the same specification comes into force;
- an instrument (``equipment:<id>``) is usable at a time when its latest calibration at or
  before that time passed and is still valid; a calibration that found it out of tolerance
  makes every inspection since its previous good calibration suspect;
- a supplier (``supplier:<id>``) has the status of its latest record signed at or before a
  receipt.

Times: record times (``inspected_at``, ``calibrated_at``, scan times) as the record states
them; approvals and supplier decisions at their signing time.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from evledger_verify import acceptance, life
from evledger_verify.policy import DEFAULT_POLICY, Policy
from evledger_verify.rules import (
    Blocker,
    History,
    Refused,
    Stored,
    dispositioned,
    ncr_summaries,
    when,
)

__all__ = [
    "APPROVED_SUPPLIER",
    "SpecVersion",
    "calibration_status",
    "check_change_approval",
    "check_equipment",
    "check_inspection",
    "check_specification",
    "dispositioned",
    "equipment_used",
    "in_force",
    "iso",
    "master_blockers",
    "spec_versions",
    "supplier_status",
    "suspect_by",
    "suspect_windows",
]

#: Supplier statuses a receipt may come from without a release blocker.
APPROVED_SUPPLIER = ("approved", "conditional")


def iso(t: datetime) -> str:
    """A time as the rules' messages and the master data views give it (UTC, ISO 8601)."""
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


# -- specifications ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SpecVersion:
    """One version of a specification and when change control brought it into force."""

    record: Stored
    approval: Stored | None  # the approving change step, if any yet
    effective_from: datetime | None

    @property
    def version(self) -> int:
        return int(self.record.body["version"])

    @property
    def body(self) -> dict[str, Any]:
        return self.record.body


def spec_versions(spec_id: str, history: History) -> list[SpecVersion]:
    """Every logged version of ``spec_id``, in log order, with its approval (if any)."""
    out = []
    for r in history.subject(f"specification:{spec_id}"):
        if r.type != "specification":
            continue
        change = history.subject(f"change:{r.body['change_id']}")
        approval = next((c for c in change if c.body.get("step") == "approved"), None)
        effective = None
        if approval is not None and _names(change, spec_id, int(r.body["version"])):
            effective = when(approval.signed_at)
            if approval.body.get("effective_from") is not None:
                effective = max(effective, when(approval.body["effective_from"]))
        out.append(SpecVersion(r, approval if effective else None, effective))
    return out


def _named(change: Sequence[Stored]) -> list[tuple[str, int]]:
    """The specification versions a change names on its requested step."""
    requested = next((c for c in change if c.body.get("step") == "requested"), None)
    refs = (requested.body.get("specifications") if requested else None) or ()
    return [(str(r["spec_id"]), int(r["version"])) for r in refs]


def _names(change: Sequence[Stored], spec_id: str, version: int) -> bool:
    """Whether the change's requested step names this specification version."""
    return (spec_id, version) in _named(change)


def in_force(versions: Iterable[SpecVersion], at: datetime) -> SpecVersion | None:
    """The version in force at ``at``: the highest one whose approval took effect by then."""
    live = [v for v in versions if v.effective_from is not None and v.effective_from <= at]
    return max(live, key=lambda v: v.version, default=None)


def check_specification(record: dict[str, Any], history: History) -> None:
    """A new specification version: the next number, the same product and stage as the
    versions before, and named by a change that is not approved yet (the approval must come
    after the content it approves)."""
    spec_id, version = str(record["spec_id"]), int(record["version"])
    versions = spec_versions(spec_id, history)
    expected = 1 + max((v.version for v in versions), default=0)
    if version != expected:
        raise Refused(
            "specification",
            "conflict",
            f"specification {spec_id}: version {version} cannot follow "
            + (f"version {expected - 1}" if versions else "nothing")
            + f"; the next version is {expected}",
        )
    if versions:
        first = versions[0].body
        if (first["product"]["gtin"], first["stage"]) != (
            record["product"]["gtin"],
            record["stage"],
        ):
            raise Refused(
                "specification",
                "conflict",
                f"specification {spec_id}: is for product {first['product']['gtin']} at stage "
                f"{first['stage']}; a specification for another product or stage needs its "
                "own spec_id",
            )
    change_id = str(record["change_id"])
    change = history.subject(f"change:{change_id}")
    if not change:
        raise Refused(
            "specification",
            "conflict",
            f"specification {spec_id} version {version}: change {change_id} does not exist; "
            "request the change first (naming this specification version)",
        )
    if not _names(change, spec_id, version):
        raise Refused(
            "specification",
            "conflict",
            f"specification {spec_id} version {version}: change {change_id} does not name it "
            "on its requested step",
        )
    step = str(change[-1].body.get("step"))
    if step not in ("requested", "assessed"):
        raise Refused(
            "specification",
            "conflict",
            f"specification {spec_id} version {version}: change {change_id} is already at step "
            f"{step}; an approval cannot precede the content it approves",
        )


def check_change_approval(record: dict[str, Any], signer: str, history: History) -> None:
    """A change that brings a specification into force is approved only once that version is
    logged, and not by its author, with any of their keys (four eyes by person, 21 CFR 820.40
    / ISO 13485 4.2.4)."""
    change = history.subject(f"change:{record['change_id']}")
    me = history.person(signer)
    for spec_id, version in _named(change):
        found = next(
            (
                v
                for v in spec_versions(spec_id, history)
                if v.version == version and v.body["change_id"] == record["change_id"]
            ),
            None,
        )
        if found is None:
            raise Refused(
                "specification",
                "conflict",
                f"change {record['change_id']}: specification {spec_id} version {version} has "
                "not been logged; approve the change once the content it approves is",
            )
        author = found.record.signer
        if author.lower() == signer.lower() or (me is not None and history.person(author) == me):
            how = "" if author.lower() == signer.lower() else f", the same person as {signer}"
            raise Refused(
                "specification",
                "forbidden",
                f"four eyes: specification {spec_id} version {version} was authored by "
                f"{author} ({history.name(author)}{how}); its approver must be someone else",
            )


def check_inspection(record: dict[str, Any], history: History, legacy: bool) -> None:
    """An inspection follows the specification in force at its time: same characteristics,
    methods, units, limits and critical flags, the same sampling plan and at least its
    sample size, each measurement made with equipment in calibration. ``legacy``: an
    ``inspection/1`` (citing no specification) is judged as logged before specifications."""
    at = when(record["inspected_at"])
    gtin, stage = record["product"]["gtin"], record["stage"]
    if record.get("schema") == "inspection/1":
        if not legacy:
            raise Refused(
                "specification",
                "conflict",
                f"inspection {record['record_id']}: cites no specification; an inspection of "
                f"product {gtin} at stage {stage} must cite the approved specification in force "
                "(schema inspection/2, field specification)",
            )
        return  # its equipment list names instruments in words, not registered ids
    ref = record["specification"]
    spec_id, version = str(ref["spec_id"]), int(ref["version"])
    versions = spec_versions(spec_id, history)
    cited = next((v for v in versions if v.version == version), None)
    if cited is None:
        raise Refused(
            "specification",
            "conflict",
            f"inspection {record['record_id']}: specification {spec_id} version {version} does "
            "not exist"
            + (f" (latest: version {versions[-1].version})" if versions else "")
            + f"; product {gtin} at stage {stage} has no approved specification of that id",
        )
    spec = cited.body
    if (spec["product"]["gtin"], spec["stage"]) != (gtin, stage):
        raise Refused(
            "specification",
            "conflict",
            f"inspection {record['record_id']}: specification {spec_id} is for product "
            f"{spec['product']['gtin']} at stage {spec['stage']}, not {gtin} at {stage}",
        )
    current = in_force(versions, at)
    if current is None or current.version != version:
        if current is None:
            why = "no version of it is in force then" + (
                f" (version {version} takes effect {iso(cited.effective_from)})"
                if cited.effective_from is not None
                else f" (version {version} is not approved)"
            )
        elif current.version > version:
            why = (
                f"version {version} is superseded by version {current.version}, in force "
                f"since {iso(current.effective_from or at)}"
            )
        elif cited.effective_from is not None:
            why = (
                f"version {version} takes effect {iso(cited.effective_from)}; version "
                f"{current.version} is in force"
            )
        else:
            why = f"version {version} is not approved yet; version {current.version} is in force"
        raise Refused(
            "specification",
            "conflict",
            f"inspection {record['record_id']}: specification {spec_id} version {version} is "
            f"not in force at {iso(at)}: {why}",
        )
    problems = _differences(record, spec)
    if problems:
        raise Refused(
            "specification",
            "conflict",
            f"inspection {record['record_id']}: differs from specification {spec_id} version "
            f"{version}: {'; '.join(problems[:5])}",
            problems,
        )
    wanted = {c["name"]: c.get("equipment_kind") for c in spec["characteristics"]}
    for c in record["characteristics"]:
        kind = wanted.get(c["name"])
        if c.get("equipment") is None:
            if kind is not None:
                raise Refused(
                    "equipment",
                    "conflict",
                    f"inspection {record['record_id']}: {c['name']} must be measured with a "
                    f"{kind} (specification {spec_id}); name the instrument (equipment)",
                )
            continue
        _usable(str(c["equipment"]), kind, at, history, str(record["record_id"]), c["name"])
    acceptance.check_sampling(record, history, spec)


def _limits(c: dict[str, Any]) -> str:
    return f"{c.get('lower')}..{c.get('upper')} {c.get('unit')}"


def _differences(record: dict[str, Any], spec: dict[str, Any]) -> list[str]:
    out = []
    if int(record["sample_size"]) < int(spec["sample_size"]):
        out.append(
            f"sample size {record['sample_size']} is below the specification's "
            f"{spec['sample_size']}"
        )
    measured = {c["name"]: c for c in record["characteristics"]}
    for s in spec["characteristics"]:
        c = measured.pop(s["name"], None)
        if c is None:
            out.append(f"{s['name']}: not measured")
            continue
        if (c.get("lower"), c.get("upper"), c.get("unit")) != (
            s.get("lower"),
            s.get("upper"),
            s.get("unit"),
        ):
            out.append(f"{s['name']}: limits {_limits(c)}, the specification's are {_limits(s)}")
        if bool(c.get("critical", False)) != bool(s.get("critical", False)):
            out.append(
                f"{s['name']}: critical {bool(c.get('critical', False))}, the specification "
                f"says {bool(s.get('critical', False))}"
            )
        if c.get("method") is not None and c.get("method") != s["method"]:
            out.append(
                f"{s['name']}: method {c['method']!r}, the specification's is {s['method']!r}"
            )
    out.extend(f"{name}: not in the specification" for name in measured)
    return out


# -- equipment ----------------------------------------------------------------------------------


def calibration_status(
    equipment_id: str, at: datetime, history: History
) -> tuple[Stored | None, Stored | None, str | None]:
    """(the equipment record, its calibration in effect at ``at``, why it is not usable then or
    None)."""
    records = history.subject(f"equipment:{equipment_id}")
    unit = next((r for r in records if r.type == "equipment"), None)
    if unit is None:
        return None, None, f"equipment {equipment_id} is not registered"
    done = [r for r in records if r.type == "calibration" and when(r.body["calibrated_at"]) <= at]
    if not done:
        return unit, None, f"equipment {equipment_id} has no calibration before {iso(at)}"
    last = max(enumerate(done), key=lambda pair: (when(pair[1].body["calibrated_at"]), pair[0]))[1]
    if last.body["result"] != "pass":
        return (
            unit,
            last,
            f"equipment {equipment_id} failed calibration {last.record_id} on "
            f"{iso(when(last.body['calibrated_at']))}",
        )
    if when(last.body["valid_until"]) < at:
        return (
            unit,
            last,
            f"equipment {equipment_id} is past its calibration date "
            f"({iso(when(last.body['valid_until']))}, calibration {last.record_id})",
        )
    return unit, last, None


def check_equipment(record: dict[str, Any], history: History) -> None:
    """An instrument is registered once; a calibration is of a registered instrument."""
    equipment_id = str(record["equipment_id"])
    unit = next(
        (r for r in history.subject(f"equipment:{equipment_id}") if r.type == "equipment"), None
    )
    if record["type"] == "equipment" and unit is not None:
        raise Refused(
            "equipment",
            "conflict",
            f"equipment {equipment_id}: already registered by record {unit.record_id}",
        )
    if record["type"] == "calibration" and unit is None:
        raise Refused(
            "equipment",
            "conflict",
            f"calibration {record['record_id']}: equipment {equipment_id} is not registered; "
            "register it first (an equipment record)",
        )


def _usable(
    equipment_id: str,
    kind: str | None,
    at: datetime,
    history: History,
    record_id: str,
    characteristic: str | None = None,
) -> None:
    unit, _, why = calibration_status(equipment_id, at, history)
    what = f"inspection {record_id}" + (f", {characteristic}" if characteristic else "")
    if unit is not None and kind is not None and unit.body["kind"] != kind:
        raise Refused(
            "equipment",
            "conflict",
            f"{what}: equipment {equipment_id} is a {unit.body['kind']}; the specification asks "
            f"for a {kind}",
        )
    if why is not None:
        raise Refused("equipment", "conflict", f"{what}: {why} at {iso(at)}")


def equipment_used(body: dict[str, Any]) -> set[str]:
    used = {str(e) for e in body.get("equipment") or ()}
    used.update(str(c["equipment"]) for c in body["characteristics"] if c.get("equipment"))
    return used


def suspect_windows(
    equipment_id: str, history: History
) -> list[tuple[Stored, datetime | None, datetime]]:
    """For each calibration that found the instrument out of tolerance: (that calibration,
    its previous good calibration's time or None, its own time). Inspections made with the
    instrument after the first and up to the second are suspect."""
    cals = sorted(
        (c for c in history.subject(f"equipment:{equipment_id}") if c.type == "calibration"),
        key=lambda c: when(c.body["calibrated_at"]),
    )
    out = []
    for i, cal in enumerate(cals):
        if cal.body["as_found"] != "out_of_tolerance":
            continue
        good = [c for c in cals[:i] if c.body["result"] == "pass"]
        start = when(good[-1].body["calibrated_at"]) if good else None
        out.append((cal, start, when(cal.body["calibrated_at"])))
    return out


def suspect_by(
    body: dict[str, Any], windows: Sequence[tuple[Stored, datetime | None, datetime]]
) -> Stored | None:
    """The out-of-tolerance calibration that makes this inspection suspect, if any."""
    at = when(body["inspected_at"])
    return next(
        (cal for cal, start, end in windows if (start is None or at > start) and at <= end), None
    )


def _suspect(records: Sequence[Stored], history: History, cleared: set[str]) -> list[Blocker]:
    """Inspections made with an instrument a later calibration found out of tolerance, from
    its previous good calibration up to that one, not yet dispositioned by an NCR."""
    blockers = []
    windows: dict[str, list[tuple[Stored, datetime | None, datetime]]] = {}
    for r in records:
        if r.type != "inspection" or r.record_id in cleared:
            continue
        for equipment_id in sorted(equipment_used(r.body)):
            if equipment_id not in windows:
                windows[equipment_id] = suspect_windows(equipment_id, history)
            cal = suspect_by(r.body, windows[equipment_id])
            if cal is not None:
                blockers.append(
                    Blocker(
                        "calibration_out_of_tolerance",
                        f"inspection {r.record_id} used equipment {equipment_id}, found out "
                        f"of tolerance by calibration {cal.record_id} on "
                        f"{iso(when(cal.body['calibrated_at']))}: an NCR must disposition "
                        f"{r.record_id}",
                    )
                )
                break
    return blockers


# -- suppliers ----------------------------------------------------------------------------------


def supplier_status(supplier_id: str, at: datetime, history: History) -> Stored | None:
    """The supplier record in effect at ``at``: the latest signed at or before it."""
    found = [
        r
        for r in history.subject(f"supplier:{supplier_id}")
        if r.type == "supplier" and when(r.signed_at) <= at
    ]
    return found[-1] if found else None


def _suppliers(lot: str, history: History, cleared: set[str]) -> list[Blocker]:
    blockers = []
    for record_id, material, supplier, at in history.receipts(lot):
        if supplier is None or at is None or record_id in cleared:
            continue
        status = supplier_status(supplier, when(at), history)
        if status is not None and status.body["status"] in APPROVED_SUPPLIER:
            continue
        if record_id in dispositioned(ncr_summaries(history.lot(material))):
            continue
        why = (
            f"{status.body['status']} ({status.record_id})"
            if status is not None
            else "not an approved supplier"
        )
        into = "" if material == lot else f", which went into lot {lot}"
        blockers.append(
            Blocker(
                "supplier_not_approved",
                f"material lot {material} was received from supplier {supplier} on {at} while "
                f"the supplier was {why} (record {record_id}{into}): an NCR dispositioning "
                f"{record_id} clears it",
            )
        )
    return blockers


def master_blockers(
    lot: str, records: Sequence[Stored], history: History, policy: Policy = DEFAULT_POLICY
) -> list[Blocker]:
    """Why the lot's wider history keeps ``lot`` (its records, corrections applied) from
    release: inspections with equipment later found out of tolerance, material from suppliers
    that were not approved when it was received, and the shop floor's critical alerts (a lot
    shipped unreleased, material consumed while not acceptable: :func:`life.floor_blockers`)."""
    cleared = dispositioned(ncr_summaries(records))
    return [
        *_suspect(records, history, cleared),
        *_suppliers(lot, history, cleared),
        *life.floor_blockers(lot, records, history, cleared, policy),
    ]
