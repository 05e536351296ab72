"""Quality master data as QA reads it: specifications with their versions and approvals,
equipment with its calibration status and the impact of an out-of-tolerance finding, suppliers
with their status history and performance. All of it is a projection of the log, computed by
the same functions the rules judge with (:mod:`evledger_verify.master`), with the history read
from PostgreSQL (:class:`ledger.domain.rules.Rules`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from evledger_verify import master
from evledger_verify.jcs import canonicalize
from evledger_verify.policy import Policy
from evledger_verify.rules import Stored, dispositioned, ncr_summaries

from ledger import genealogy
from ledger.domain.rules import Rules
from ledger.errors import NotFoundError
from ledger.models import GenealogyLink, Record
from ledger.signers import RegistryCache
from ledger.storage import load_stored

__all__ = ["MasterData"]

_G = GenealogyLink.__table__.c


def _iso(t: datetime | None) -> str | None:
    return None if t is None else master.iso(t)


def _signature(r: Stored) -> dict[str, Any]:
    return {"record_id": r.record_id, **r.manifestation()}


class MasterData:
    """The read side of master data (routes ``/v1/specifications``, ``/v1/equipment``,
    ``/v1/suppliers``; commands ``evledger spec|equipment|supplier``)."""

    def __init__(
        self,
        engine: sa.Engine,
        registry: RegistryCache,
        policy: Policy,
        clock: Callable[[], float],
    ) -> None:
        self.engine = engine
        self.registry = registry
        self.policy = policy
        self.clock = clock

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    def _rules(self, conn: sa.Connection) -> Rules:
        return Rules(conn, self.registry.get(conn), self.policy)

    def _ids(self, conn: sa.Connection, rtype: str) -> list[str]:
        """The ids of the master data entities with a ``rtype`` record (from their subjects)."""
        prefix = len(rtype) + 1
        return sorted(
            {
                str(s)[prefix:]
                for s in conn.execute(
                    sa.select(Record.subject).distinct().where(Record.record_type == rtype)
                ).scalars()
            }
        )

    # -- specifications ---------------------------------------------------------------------

    def _spec(self, rules: Rules, spec_id: str, now: datetime) -> dict[str, Any] | None:
        versions = master.spec_versions(spec_id, rules)
        if not versions:
            return None
        current = master.in_force(versions, now)
        out = []
        for v in versions:
            # Superseded by the higher versions that have taken effect (the one in force last).
            later = [
                w.effective_from
                for w in versions
                if w.version > v.version and w.effective_from and w.effective_from <= now
            ]
            if v.effective_from is None:
                state = "awaiting approval"
            elif v.effective_from > now:
                state = "approved, not yet effective"
            else:
                state = "in force" if v is current else "superseded"
            out.append(
                {
                    "version": v.version,
                    "state": state,
                    "record_id": v.record.record_id,
                    "change_id": v.body["change_id"],
                    "author": v.record.manifestation(),
                    "approval": None if v.approval is None else _signature(v.approval),
                    "effective_from": _iso(v.effective_from),
                    "superseded_at": _iso(min(later, default=None)),
                    "title": v.body["title"],
                    "sampling_plan": v.body["sampling_plan"],
                    "sample_size": v.body["sample_size"],
                    "characteristics": v.body["characteristics"],
                }
            )
        first = versions[0].body
        return {
            "spec_id": spec_id,
            "title": versions[-1].body["title"],
            "product": first["product"],
            "stage": first["stage"],
            "in_force": None if current is None else current.version,
            "versions": out,
        }

    def specifications(self) -> list[dict[str, Any]]:
        """Every specification: its product, stage, the version in force now, its versions."""
        now = self._now()
        with self.engine.connect() as conn:
            rules = self._rules(conn)
            specs = [self._spec(rules, s, now) for s in self._ids(conn, "specification")]
        return [
            {k: v for k, v in s.items() if k != "versions"}
            | {"versions": [{"version": v["version"], "state": v["state"]} for v in s["versions"]]}
            for s in specs
            if s is not None
        ]

    def specification(self, spec_id: str) -> dict[str, Any]:
        with self.engine.connect() as conn:
            found = self._spec(self._rules(conn), spec_id, self._now())
        if found is None:
            raise NotFoundError(f"specification {spec_id!r}: not found")
        return found

    # -- equipment --------------------------------------------------------------------------

    def _equipment(self, rules: Rules, equipment_id: str, now: datetime) -> dict[str, Any] | None:
        records = rules.subject(f"equipment:{equipment_id}")
        unit = next((r for r in records if r.type == "equipment"), None)
        if unit is None:
            return None
        _, last, why = master.calibration_status(equipment_id, now, rules)
        calibrations = [r for r in records if r.type == "calibration"]
        return {
            "equipment_id": equipment_id,
            "kind": unit.body["kind"],
            "description": unit.body.get("description"),
            "location": unit.body.get("location"),
            "status": "usable" if why is None else "not usable",
            "why": why,
            "valid_until": None if last is None else last.body.get("valid_until"),
            "last_calibration": None if last is None else last.record_id,
            "registered": _signature(unit),
            "calibrations": [
                {
                    "record_id": c.record_id,
                    "calibrated_at": c.body["calibrated_at"],
                    "result": c.body["result"],
                    "as_found": c.body["as_found"],
                    "valid_until": c.body.get("valid_until"),
                    "certificate": c.body.get("certificate"),
                    "signature": c.manifestation(),
                }
                for c in calibrations
            ],
        }

    def equipment_list(self) -> list[dict[str, Any]]:
        now = self._now()
        with self.engine.connect() as conn:
            rules = self._rules(conn)
            found = [self._equipment(rules, e, now) for e in self._ids(conn, "equipment")]
        return [
            {k: v for k, v in e.items() if k not in ("calibrations", "registered")}
            for e in found
            if e is not None
        ]

    def equipment(self, equipment_id: str) -> dict[str, Any]:
        """An instrument, its calibrations, and the impact of each out-of-tolerance finding:
        every inspection made with it since its previous good calibration, and whether an NCR
        has dispositioned it (the lots stay blocked until one does)."""
        with self.engine.connect() as conn:
            rules = self._rules(conn)
            found = self._equipment(rules, equipment_id, self._now())
            if found is None:
                raise NotFoundError(f"equipment {equipment_id!r}: not found")
            found["impact"] = self._impact(conn, rules, equipment_id)
        return found

    def _impact(self, conn: sa.Connection, rules: Rules, equipment_id: str) -> list[dict[str, Any]]:
        windows = master.suspect_windows(equipment_id, rules)
        if not windows:
            return []
        # Inspections naming the instrument: their canonical bodies hold these exact bytes.
        needle = canonicalize({"equipment": equipment_id})[1:-1]
        used = load_stored(
            conn,
            rules.registry,
            sa.and_(
                Record.record_type == "inspection",
                sa.func.strpos(sa.func.encode(Record.body, "escape"), needle.decode()) > 0,
            ),
        )
        cleared: dict[str, set[str]] = {}
        out = []
        for r in used:
            cal = master.suspect_by(r.body, windows)
            if cal is None or equipment_id not in master.equipment_used(r.body):
                continue
            lot = str(r.body["lot"])
            if lot not in cleared:
                cleared[lot] = dispositioned(ncr_summaries(rules.lot(lot)))
            out.append(
                {
                    "inspection": r.record_id,
                    "lot": lot,
                    "inspected_at": r.body["inspected_at"],
                    "calibration": cal.record_id,
                    "dispositioned": r.record_id in cleared[lot],
                }
            )
        return out

    # -- suppliers --------------------------------------------------------------------------

    def _supplier(
        self,
        conn: sa.Connection,
        rules: Rules,
        supplier_id: str,
        pending: genealogy.Pending | None = None,
    ) -> dict[str, Any]:
        """Status and performance; ``pending``: the links of records not projected yet."""
        if pending is None:
            pending = genealogy.pending_links(conn)
        decisions = [r for r in rules.subject(f"supplier:{supplier_id}") if r.type == "supplier"]
        now = self._now()
        current = master.supplier_status(supplier_id, now, rules)
        received = [
            (str(r.lot), str(r.record_id))
            for r in conn.execute(
                sa.select(_G.lot, _G.record_id)
                .where(
                    _G.kind == "receive", _G.other == supplier_id, _G.leaf_index < pending.below
                )
                .order_by(_G.leaf_index, _G.n)
            )
        ]
        received += [
            (link.lot, link.record_id)
            for link in pending.links
            if link.kind == "receive" and link.other == supplier_id
        ]
        lots = sorted({lot for lot, _ in received})
        rejected: list[str] = []
        ncrs: list[str] = []
        for lot in lots:
            records = rules.lot(lot)
            if any(
                r.type == "inspection"
                and r.body["stage"] == "incoming"
                and r.body["verdict"] == "fail"
                for r in records
            ):
                rejected.append(lot)
            ncrs.extend(ncr_summaries(records))
        return {
            "supplier_id": supplier_id,
            "name": decisions[-1].body["name"] if decisions else None,
            "status": current.body["status"] if current is not None else "not approved",
            "history": [
                {
                    "status": d.body["status"],
                    "reason": d.body["reason"],
                    "signature": d.manifestation(),
                    "record_id": d.record_id,
                }
                for d in decisions
            ],
            "performance": {
                "lots_received": len(lots),
                "receipts": len(received),
                "rejected_at_incoming_inspection": len(rejected),
                "ncrs": len(ncrs),
                "lots": lots,
                "rejected_lots": rejected,
                "ncr_ids": ncrs,
            },
        }

    def suppliers(self) -> list[dict[str, Any]]:
        """Every supplier with a status decision or a receipt: status and performance."""
        with self.engine.connect() as conn:
            rules = self._rules(conn)
            ids = set(self._ids(conn, "supplier"))
            pending = genealogy.pending_links(conn)
            ids.update(
                str(s)
                for s in conn.execute(
                    sa.select(_G.other).distinct().where(_G.kind == "receive", _G.other.isnot(None))
                ).scalars()
            )
            ids.update(
                x.other for x in pending.links if x.kind == "receive" and x.other is not None
            )
            found = [self._supplier(conn, rules, s, pending) for s in sorted(ids)]
        return [
            {k: v for k, v in s.items() if k != "history"}
            | {
                "performance": {
                    k: v
                    for k, v in s["performance"].items()
                    if k not in ("lots", "rejected_lots", "ncr_ids")
                }
            }
            for s in found
        ]

    def supplier(self, supplier_id: str) -> dict[str, Any]:
        with self.engine.connect() as conn:
            found = self._supplier(conn, self._rules(conn), supplier_id)
        if not found["history"] and not found["performance"]["receipts"]:
            raise NotFoundError(f"supplier {supplier_id!r}: no status decision and no receipt")
        return found
