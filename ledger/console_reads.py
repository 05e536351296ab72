"""What the QA console reads that no other route gives: the lots list with filters, the NCR
and CAPA boards, and the dashboard's figures.

Every query walks an index and is bounded, whatever the size of the ledger:

- **Lots** are found with a skip scan of ``ix_records_lot_seq`` (``records (lot, seq)``): a
  recursive query that asks the index for "the next lot after this one", one probe per lot,
  so a page costs ``limit`` probes and never reads a whole table. Each lot's status is then
  computed from its own records (one ``lot IN (...)`` read on the same index) by the same
  function as ``GET /v1/lots/{lot}``. Filters are applied to those statuses; a page examines
  at most :data:`SCAN_BUDGET` lots, so a selective filter may give a short page with a
  ``next`` cursor (keep following it), never a slow one.
- **Boards** walk ``ix_records_subject_seq`` (``records (subject, seq)``) the same way, over
  the subjects ``ncr:...`` and ``capa:...`` (contiguous in byte order; a database with
  another collation is walked with ``LIKE`` alone, correct but with longer probes).
- **The dashboard** reads the newest :data:`WINDOW` inspections, releases, NCR and CAPA steps
  and alerts backwards along ``ix_records_record_type_seq`` (``records (record_type, seq)``);
  its figures say which window they cover. Anchoring lag comes from the counters
  ``/v1/status`` already keeps.
- **Timelines** (records by lot, line, supplier and time range) walk the primary key
  (``records (seq)``) in acceptance order, or ``ix_records_lot_seq`` when a lot is named; a
  time range becomes a range of ``seq`` found by a binary search over the primary key (about
  20 probes: ``seq`` and ``accepted_at`` grow together), so the walk starts where the range
  does. A record's line and suppliers are its lot's (the line of its first process reading
  or alert, the suppliers its incoming inspections and receive scans name: two index probes
  per lot) or its own. A page examines at most :data:`TIMELINE_BUDGET` records; a CSV export
  at most :data:`EXPORT_BUDGET` and writes at most :data:`EXPORT_ROWS` rows.
"""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from statistics import median
from typing import Any

import sqlalchemy as sa
from evledger_verify.policy import Policy
from evledger_verify.rules import NEXT_STEPS, Stored, apply_corrections

from ledger.domain.lots import lot_status
from ledger.domain.rules import Rules
from ledger.models import Record
from ledger.signers import RegistryCache
from ledger.storage import STORED_COLUMNS, load_stored, to_stored

__all__ = [
    "DASHBOARD_EVERY",
    "EXPORT_BUDGET",
    "EXPORT_ROWS",
    "SCAN_BUDGET",
    "TIMELINE_BUDGET",
    "WINDOW",
    "ConsoleReads",
    "LotFilter",
    "TimelineFilter",
]

#: The most lots (or board entities) one page examines, whatever the filters.
SCAN_BUDGET = 500
#: How many of the newest records of each type the dashboard reads.
WINDOW = 5000
#: The most records one page of the timeline search examines, whatever the filters.
TIMELINE_BUDGET = 5000
#: A timeline CSV export: the most rows it writes and the most records it examines.
EXPORT_ROWS = 100_000
EXPORT_BUDGET = 1_000_000
#: How old the figures ``GET /v1/console/dashboard`` answers may be (seconds).
DASHBOARD_EVERY = 2.0
#: The dashboard's figures from the records are computed again after this many seconds even
#: when no record arrived (ages and overdue dates move with the clock).
FIGURES_EVERY = 60.0

_NEXT_LOT = sa.text(
    """
    WITH RECURSIVE walk(lot) AS (
        (SELECT lot FROM records WHERE lot > :after ORDER BY lot LIMIT 1)
        UNION ALL
        SELECT (SELECT r.lot FROM records r WHERE r.lot > walk.lot ORDER BY r.lot LIMIT 1)
        FROM walk WHERE walk.lot IS NOT NULL
    )
    SELECT lot FROM walk WHERE lot IS NOT NULL LIMIT :n
    """
)
#: The same walk over subjects with a prefix (``ncr:``). ``LIKE`` keeps it right in any
#: collation; in byte order (C, POSIX: the embedded PostgreSQL's) the subjects of a prefix are
#: contiguous and the upper bound ``{kind};`` stops the walk at the last of them.
_WALK_SUBJECT = """
    WITH RECURSIVE walk(subject) AS (
        (SELECT subject FROM records WHERE subject > :after AND subject LIKE :pattern {bound}
         ORDER BY subject LIMIT 1)
        UNION ALL
        SELECT (SELECT r.subject FROM records r
                WHERE r.subject > walk.subject AND r.subject LIKE :pattern {rbound}
                ORDER BY r.subject LIMIT 1)
        FROM walk WHERE walk.subject IS NOT NULL
    )
    SELECT subject FROM walk WHERE subject IS NOT NULL LIMIT :n
"""
_NEXT_SUBJECT_BYTES = sa.text(
    _WALK_SUBJECT.format(bound="AND subject < :upper", rbound="AND r.subject < :upper")
)
_NEXT_SUBJECT_ANY = sa.text(_WALK_SUBJECT.format(bound="", rbound=""))
_COLLATION = sa.text("SELECT datcollate FROM pg_database WHERE datname = current_database()")
#: The first process reading or alert of each lot that names a line (one index probe each).
_LINES = sa.text(
    """
    SELECT l.lot, (
        SELECT r.body FROM records r
        WHERE r.lot = l.lot AND r.record_type IN ('process_reading', 'alert')
        ORDER BY r.seq LIMIT 1
    ) AS body
    FROM unnest(CAST(:lots AS text[])) AS l(lot)
    """
)
#: When each lot's first record was accepted: one probe of ``records (lot, seq)`` per lot
#: (``min(accepted_at)`` read every record of the lots; ``seq`` and ``accepted_at`` grow
#: together, to the millisecond between API processes).
_FIRST_SEEN = sa.text(
    """
    SELECT l.lot, (
        SELECT r.accepted_at FROM records r WHERE r.lot = l.lot ORDER BY r.seq LIMIT 1
    ) AS first_at
    FROM unnest(CAST(:lots AS text[])) AS l(lot)
    """
)

#: Each lot's line (its first process reading or alert naming one) and the suppliers its
#: incoming inspections and receive scans name: index probes on ``records (lot, seq)``.
_LOT_CONTEXT = sa.text(
    """
    SELECT l.lot, (
        SELECT r.body FROM records r
        WHERE r.lot = l.lot AND r.record_type IN ('process_reading', 'alert')
        ORDER BY r.seq LIMIT 1
    ) AS line_body, ARRAY(
        SELECT DISTINCT convert_from(r.body, 'UTF8')::jsonb ->> 'supplier' FROM records r
        WHERE r.lot = l.lot AND r.record_type IN ('inspection', 'scan')
    ) AS suppliers
    FROM unnest(CAST(:lots AS text[])) AS l(lot)
    """
)
_FIRST_AT_OR_AFTER = sa.text(
    "SELECT seq, accepted_at FROM records WHERE seq >= :s ORDER BY seq LIMIT 1"
)


@dataclass(frozen=True)
class TimelineFilter:
    """Which records the timeline search keeps; every member None keeps all. ``start``
    inclusive, ``end`` exclusive, on the time each record was accepted."""

    lot: str | None = None
    line: str | None = None
    supplier: str | None = None
    start: datetime | None = None
    end: datetime | None = None


@dataclass(frozen=True)
class LotFilter:
    """What the lots list keeps; every member None keeps all."""

    state: str | None = None
    product: str | None = None
    line: str | None = None
    supplier: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    open: str | None = None  # "ncr", "capa" or "alert"

    def keeps(self, row: dict[str, Any]) -> bool:
        if self.state is not None and row["state"] != self.state:
            return False
        if self.open is not None and not row[f"open_{self.open}s"]:
            return False
        return self.keeps_before_status(row)

    def keeps_before_status(self, row: dict[str, Any]) -> bool:
        """The filters on what a lot's records say without its status (product, line,
        supplier, time): checked first, so a lot they drop costs no status."""
        if self.product is not None:
            product = row.get("product") or {}
            texts = [str(product.get("gtin", "")), str(product.get("name", "")).casefold()]
            if self.product not in texts[0] and self.product.casefold() not in texts[1]:
                return False
        if self.line is not None and self.line not in row["lines"]:
            return False
        if self.supplier is not None and self.supplier not in row["suppliers"]:
            return False
        first = _parse(row["first_at"])
        if self.start is not None and first < self.start:
            return False
        if self.end is not None and first >= self.end:
            return False
        return True

    def may_keep(self, records: Sequence[Stored]) -> bool:
        """False when ``open`` asks for an NCR or a CAPA the lot's records cannot have (an open
        NCR needs an NCR record, an open CAPA a record naming one): no status needed."""
        if self.open == "ncr":
            return any(r.type == "ncr" for r in records)
        if self.open == "capa":
            return any(r.body.get("capa_id") for r in records)
        return True


def _parse(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))


def _age_days(iso: str, now: datetime) -> float:
    return round((now - _parse(iso)).total_seconds() / 86400, 2)


class ConsoleReads:
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
        self._next_subject: sa.TextClause | None = None
        self._lock = threading.Lock()
        self._dashboard: tuple[Any, float, dict[str, Any]] | None = None

    def _subject_walk(self, conn: sa.Connection) -> sa.TextClause:
        if self._next_subject is None:
            collation = str(conn.execute(_COLLATION).scalar() or "")
            byte_order = collation in ("C", "POSIX") or collation.startswith("C.")
            self._next_subject = _NEXT_SUBJECT_BYTES if byte_order else _NEXT_SUBJECT_ANY
        return self._next_subject

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    # -- lots --------------------------------------------------------------------------------

    def lots(
        self, keep: LotFilter, after: str | None, limit: int
    ) -> tuple[list[dict[str, Any]], str | None]:
        """A page of lots (ordered by lot id) that ``keep`` keeps, and the lot to continue
        after (None: no more lots)."""
        out: list[dict[str, Any]] = []
        cursor = after or ""
        examined = 0
        with self.engine.connect() as conn:
            registry = self.registry.get(conn)
            # One Rules for the whole page: the master data it reads serves every chunk.
            rules = Rules(conn, registry, self.policy)
            while len(out) < limit and examined < SCAN_BUDGET:
                want = min(max(limit - len(out), 20), SCAN_BUDGET - examined)
                lots = list(conn.execute(_NEXT_LOT, {"after": cursor, "n": want}).scalars())
                if not lots:
                    return out, None
                examined += len(lots)
                rows = {
                    row["lot"]: row for row in self._lot_rows(conn, registry, rules, lots, keep)
                }
                for lot in lots:
                    cursor = lot
                    row = rows.get(lot)
                    if row is not None and keep.keeps(row):
                        out.append(row)
                        if len(out) == limit:
                            break
            more = conn.execute(_NEXT_LOT, {"after": cursor, "n": 1}).first() is not None
        return out, cursor if more else None

    def _lot_rows(
        self,
        conn: sa.Connection,
        registry: Any,
        rules: Rules,
        lots: Sequence[str],
        keep: LotFilter | None = None,
    ) -> list[dict[str, Any]]:
        """The rows of ``lots``; with ``keep``, only those its filters on the records (not on
        the status) keep: a lot they drop costs no status."""
        by_lot: dict[str, list[Stored]] = defaultdict(list)
        for r in load_stored(conn, registry, Record.lot.in_(lots)):
            by_lot[str(r.body.get("lot"))].append(r)
        capa_ids = {
            f"capa:{r.body['capa_id']}"
            for records in by_lot.values()
            for r in records
            if r.body.get("capa_id")
        }
        capas: dict[str, list[Stored]] = defaultdict(list)
        if capa_ids:
            for c in load_stored(conn, registry, Record.subject.in_(capa_ids)):
                capas[f"capa:{c.body['capa_id']}"].append(c)
        lines = {
            lot: json.loads(bytes(body)).get("line")
            for lot, body in conn.execute(_LINES, {"lots": list(lots)})
            if body is not None
        }
        rows = []
        for lot in lots:
            records = apply_corrections(by_lot.get(lot, []))
            if not records:
                continue
            line = lines.get(lot)
            row: dict[str, Any] = {
                "lot": lot,
                # What lot_status states as the lot's product.
                "product": next((r.body["product"] for r in records if "product" in r.body), None),
                "lines": [line] if line else [],
                "suppliers": sorted(
                    {str(r.body["supplier"]) for r in records if r.body.get("supplier")}
                ),
                "first_at": records[0].accepted_at,
                "last_at": records[-1].accepted_at,
                "records": len(records),
            }
            if keep is not None and not (keep.keeps_before_status(row) and keep.may_keep(records)):
                continue
            mine = {f"capa:{r.body['capa_id']}" for r in records if r.body.get("capa_id")}
            status = lot_status(
                lot,
                records,
                self.policy.required_stages,
                [c for subject in sorted(mine) for c in capas[subject]],
                rules.master_blockers(lot, records),
            )
            row.update(
                product=status["product"],
                state=status["state"],
                open_ncrs=len(status["open_ncrs"]),
                open_capas=len(status["open_capas"]),
                open_alerts=len(status["open_alerts"]),
                release_blockers=len(status["release_blockers"]),
                release=(status["release"] or {}).get("decision"),
            )
            rows.append(row)
        return rows

    # -- timelines --------------------------------------------------------------------------

    def _first_seq_at(self, conn: sa.Connection, at: datetime, top: int) -> int:
        """The first ``seq`` accepted at or after ``at`` (``top + 1`` if none): a binary
        search over the primary key, relying on ``seq`` and ``accepted_at`` growing
        together (the rows found are still checked against the range one by one)."""
        low, high, best = 0, top + 1, top + 1
        while low < high:
            mid = (low + high) // 2
            row = conn.execute(_FIRST_AT_OR_AFTER, {"s": mid}).first()
            if row is None:
                high = mid
            elif row.accepted_at >= at:
                best = min(best, int(row.seq))
                high = mid
            else:
                low = int(row.seq) + 1
        return best

    def _lot_context(
        self,
        conn: sa.Connection,
        lots: Sequence[str],
        known: dict[str, tuple[str | None, list[str]]],
    ) -> None:
        todo = [lot for lot in lots if lot not in known]
        if not todo:
            return
        for lot, line_body, suppliers in conn.execute(_LOT_CONTEXT, {"lots": todo}):
            line = json.loads(bytes(line_body)).get("line") if line_body is not None else None
            known[lot] = (
                str(line) if line else None,
                sorted(str(s) for s in (suppliers or []) if s is not None),
            )

    def timeline(
        self,
        keep: TimelineFilter,
        after: int | None,
        limit: int,
        budget: int = TIMELINE_BUDGET,
        known: dict[str, tuple[str | None, list[str]]] | None = None,
        ends: dict[datetime, int] | None = None,
    ) -> tuple[list[dict[str, Any]], int | None, int]:
        """Records in acceptance order that ``keep`` keeps, each with its lot, step, line,
        suppliers and signature manifestation: a page of at most ``limit``, the ``seq`` to
        continue after (None: the range is done) and how many records were examined (at most
        ``budget``). ``known`` and ``ends`` keep what one page found for the next pages of
        the same search (the lots' lines and suppliers; the end of the range once a record
        accepted after it exists, so the next pages search for it no more)."""
        out: list[dict[str, Any]] = []
        known = {} if known is None else known
        examined = 0
        with self.engine.connect() as conn:
            registry = self.registry.get(conn)
            top = conn.execute(sa.select(sa.func.max(Record.seq))).scalar()
            if top is None:
                return out, None, 0
            cursor = after if after is not None else 0
            if keep.start is not None and after is None:
                cursor = self._first_seq_at(conn, keep.start, int(top)) - 1
            if keep.end is None:
                end = int(top) + 1
            elif ends is not None and keep.end in ends:
                end = ends[keep.end]
            else:
                end = self._first_seq_at(conn, keep.end, int(top))
                if ends is not None and end <= int(top):
                    ends[keep.end] = end  # a record after the range exists: the end is fixed
            filtered = keep.line is not None or keep.supplier is not None
            while len(out) < limit and examined < budget and cursor + 1 < end:
                want = limit - len(out) if not filtered else 1000
                want = max(1, min(want, budget - examined))
                where = [Record.seq > cursor, Record.seq < end]
                if keep.lot is not None:
                    # Both columns of ix_records_lot_seq: the index gives the range in order.
                    where.insert(0, Record.lot == keep.lot)
                rows = conn.execute(
                    sa.select(Record.seq, Record.lot, *STORED_COLUMNS)
                    .where(*where)
                    .order_by(Record.seq)
                    .limit(want)
                ).all()
                if not rows:
                    cursor = end - 1
                    break
                examined += len(rows)
                self._lot_context(conn, sorted({r.lot for r in rows if r.lot}), known)
                for row in rows:
                    cursor = int(row.seq)
                    item = self._timeline_item(registry, row, known)
                    if item is None or not _timeline_keeps(keep, item):
                        continue
                    out.append(item)
                    if len(out) == limit:
                        break
            more = cursor + 1 < end and (
                conn.execute(
                    sa.select(Record.seq)
                    .where(
                        *([Record.lot == keep.lot] if keep.lot is not None else []),
                        Record.seq > cursor,
                        Record.seq < end,
                    )
                    .order_by(Record.seq)
                    .limit(1)
                ).first()
                is not None
            )
        return out, cursor if more else None, examined

    @staticmethod
    def _timeline_item(
        registry: Any, row: Any, known: dict[str, tuple[str | None, list[str]]]
    ) -> dict[str, Any] | None:
        stored = to_stored(
            registry,
            row.record_id,
            row.record_type,
            bytes(row.body),
            bytes(row.record_hash),
            row.signer,
            row.meaning,
            int(row.signed_at),
            row.accepted_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        )
        body = stored.body
        line, suppliers = known.get(row.lot, (None, [])) if row.lot else (None, [])
        own_line = body.get("line")
        own_supplier = body.get("supplier") or (
            body.get("supplier_id") if stored.type == "supplier" else None
        )
        return {
            "lot": row.lot,
            "record_id": stored.record_id,
            "type": stored.type,
            "step": body.get("step"),
            "line": str(own_line) if own_line else line,
            "suppliers": sorted({*suppliers, str(own_supplier)}) if own_supplier else suppliers,
            "signature": stored.manifestation(),
            "accepted_at": stored.accepted_at,
        }

    # -- boards ------------------------------------------------------------------------------

    def board(
        self, kind: str, step: str | None, include_closed: bool, after: str | None, limit: int
    ) -> tuple[list[dict[str, Any]], str | None]:
        """A page of NCRs or CAPAs (``kind``), ordered by id: each with its step, age, lot,
        the next allowed steps and who signed the last one; ``after`` is an entity id."""
        prefix = f"{kind}:"
        upper = f"{kind};"  # ';' follows ':' in byte order
        pattern = f"{kind}:%"  # kinds are "ncr" and "capa": no LIKE wildcard in them
        done = {"closed", "cancelled"}
        cursor = prefix + after if after is not None else prefix
        now = self._now()
        out: list[dict[str, Any]] = []
        examined = 0
        with self.engine.connect() as conn:
            registry = self.registry.get(conn)
            walk = self._subject_walk(conn)
            while len(out) < limit and examined < SCAN_BUDGET:
                want = min(max(limit - len(out), 20), SCAN_BUDGET - examined)
                args = {"after": cursor, "upper": upper, "pattern": pattern, "n": want}
                subjects = list(conn.execute(walk, args).scalars())
                if not subjects:
                    return out, None
                examined += len(subjects)
                by_subject: dict[str, list[Stored]] = defaultdict(list)
                for r in load_stored(conn, registry, Record.subject.in_(subjects)):
                    by_subject[f"{kind}:{r.body[f'{kind}_id']}"].append(r)
                for subject in subjects:
                    cursor = subject
                    steps = [r for r in by_subject.get(subject, []) if r.type == kind]
                    if not steps:
                        continue
                    item = _entity(kind, steps, now)
                    if step is not None and item["step"] != step:
                        continue
                    if step is None and not include_closed and item["step"] in done:
                        continue
                    out.append(item)
                    if len(out) == limit:
                        break
            args = {"after": cursor, "upper": upper, "pattern": pattern, "n": 1}
            more = conn.execute(walk, args).first()
        return out, cursor.removeprefix(prefix) if more is not None else None

    # -- the dashboard -----------------------------------------------------------------------

    def _newest(self, conn: sa.Connection, registry: Any, rtype: str) -> list[Stored]:
        seqs = (
            sa.select(Record.seq)
            .where(Record.record_type == rtype)
            # Both columns of ix_records_record_type_seq, so the index gives the order.
            .order_by(Record.record_type.desc(), Record.seq.desc())
            .limit(WINDOW)
            .scalar_subquery()
        )
        return load_stored(conn, registry, Record.seq.in_(seqs))

    def dashboard(self, status: dict[str, Any], max_age: float = 0.0) -> dict[str, Any]:
        """The dashboard's figures now; ``status``: the ledger's counters (record count,
        anchoring lag), always given as they are. The figures read from the records are
        shared by every reader and every event stream: computed again only when the record
        count changed (or after ``FIGURES_EVERY`` s), unless the last computation is younger
        than ``max_age`` s. (Keyed on the record count, not on the whole status: the anchoring
        lag in seconds changes at every call, and every stream would compute them again.)"""
        key = status.get("records")
        with self._lock:
            cached = self._dashboard
            age = float("inf") if cached is None else self.clock() - cached[1]
            if cached is None or not (age < max_age or (cached[0] == key and age < FIGURES_EVERY)):
                cached = self._dashboard = (key, self.clock(), self._figures(status))
        return cached[2] | _status_figures(status)

    def _figures(self, status: dict[str, Any]) -> dict[str, Any]:
        now = self._now()
        with self.engine.connect() as conn:
            registry = self.registry.get(conn)
            inspections = self._newest(conn, registry, "inspection")
            releases = self._newest(conn, registry, "release")
            ncr_steps = self._newest(conn, registry, "ncr")
            capa_steps = self._newest(conn, registry, "capa")
            alerts = self._newest(conn, registry, "alert")
            lots = sorted({str(r.body["lot"]) for r in inspections if r.body.get("lot")})
            lines = {
                lot: json.loads(bytes(body)).get("line")
                for lot, body in conn.execute(_LINES, {"lots": lots})
                if body is not None
            }
            released_lots = sorted({str(r.body["lot"]) for r in releases})
            first_seen = {
                lot: at
                for lot, at in conn.execute(_FIRST_SEEN, {"lots": released_lots})
                if at is not None
            }
        # First-pass yield: of each lot and stage, the first inspection passed.
        first: dict[tuple[str, str], Stored] = {}
        for r in inspections:
            first.setdefault((str(r.body["lot"]), str(r.body["stage"])), r)
        groups: dict[str, dict[str, list[int]]] = {
            "product": defaultdict(lambda: [0, 0]),
            "line": defaultdict(lambda: [0, 0]),
            "supplier": defaultdict(lambda: [0, 0]),
        }
        for (lot, _stage), r in first.items():
            passed = int(r.body["verdict"] == "pass")
            product = r.body.get("product") or {}
            keys = {
                "product": str(product.get("name") or product.get("gtin") or "?"),
                "line": lines.get(lot) or "(no line)",
                "supplier": str(r.body.get("supplier") or "(in-house)"),
            }
            for by, key in keys.items():
                groups[by][key][0] += passed
                groups[by][key][1] += 1
        fpy = {
            by: [
                {"key": k, "passed": p, "inspected": n, "yield": round(p / n, 4)}
                for k, (p, n) in sorted(counts.items())
            ]
            for by, counts in groups.items()
        }
        ncrs = _latest_per(ncr_steps, "ncr_id")
        open_ncrs = [steps for steps in ncrs.values() if steps[-1].body["step"] != "closed"]
        ages = [_age_days(steps[0].accepted_at, now) for steps in open_ncrs]
        capas = _latest_per(capa_steps, "capa_id")
        closed = [s for s in capas.values() if s[-1].body["step"] == "closed"]
        on_time = 0
        due_known = 0
        for steps in closed:
            due = next((r.body["due_by"] for r in reversed(steps) if r.body.get("due_by")), None)
            if due is not None:
                due_known += 1
                on_time += int(_parse(steps[-1].accepted_at) <= _parse(str(due)))
        overdue = 0
        for steps in capas.values():
            due = next((r.body["due_by"] for r in reversed(steps) if r.body.get("due_by")), None)
            if steps[-1].body["step"] not in ("closed", "cancelled") and due is not None:
                overdue += int(_parse(str(due)) < now)
        cycle = []
        for r in releases:
            started = first_seen.get(r.body["lot"])
            if started is not None and r.body.get("decision") == "released":
                cycle.append((_parse(r.accepted_at) - started).total_seconds() / 3600)
        referenced = {
            ref for steps in ncrs.values() for s in steps for ref in s.body.get("refs", [])
        }
        open_alerts = [
            {
                "alert_id": a.body["alert_id"],
                "lot": a.body.get("lot"),
                "severity": a.body["severity"],
                "description": a.body["description"],
                "raised_at": a.accepted_at,
            }
            for a in alerts
            if a.body["alert_id"] not in referenced and a.record_id not in referenced
        ]
        stated = _status_figures(status)
        return {
            "as_of": now.isoformat().replace("+00:00", "Z"),
            "window": WINDOW,
            "records": stated["records"],
            "first_pass_yield": fpy,
            "ncr": {
                "open": len(open_ncrs),
                "median_age_days": round(median(ages), 2) if ages else None,
                "oldest_age_days": max(ages) if ages else None,
                "by_step": _count(s[-1].body["step"] for s in open_ncrs),
            },
            "capa": {
                "open": sum(
                    1 for s in capas.values() if s[-1].body["step"] not in ("closed", "cancelled")
                ),
                "overdue": overdue,
                "closed": len(closed),
                "closed_on_time": on_time,
                "on_time_rate": round(on_time / due_known, 4) if due_known else None,
            },
            "release_cycle_hours": {
                "releases": len(cycle),
                "median": round(median(cycle), 2) if cycle else None,
                "max": round(max(cycle), 2) if cycle else None,
            },
            "open_alerts": open_alerts[-50:],
            "open_alert_count": len(open_alerts),
            "anchoring": stated["anchoring"],
        }


def _status_figures(status: dict[str, Any]) -> dict[str, Any]:
    """The dashboard's figures that ``status`` states (not read from the records)."""
    return {
        "records": status.get("records"),
        "anchoring": {
            "lag_records": status.get("anchor_lag_records"),
            "lag_seconds": status.get("anchor_lag_seconds"),
            "latest_checkpoint": status.get("latest_checkpoint"),
            "latest_anchored_checkpoint": status.get("latest_anchored_checkpoint"),
        },
    }


def _timeline_keeps(keep: TimelineFilter, item: dict[str, Any]) -> bool:
    if keep.line is not None and item["line"] != keep.line:
        return False
    if keep.supplier is not None and keep.supplier not in item["suppliers"]:
        return False
    at = _parse(item["accepted_at"])
    if keep.start is not None and at < keep.start:
        return False
    return not (keep.end is not None and at >= keep.end)


def _count(values: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        out[str(v)] = out.get(str(v), 0) + 1
    return out


def _latest_per(records: Sequence[Stored], key: str) -> dict[str, list[Stored]]:
    out: dict[str, list[Stored]] = defaultdict(list)
    for r in records:
        out[str(r.body[key])].append(r)
    return out


def _entity(kind: str, steps: list[Stored], now: datetime) -> dict[str, Any]:
    last = steps[-1]
    step = str(last.body["step"])
    due = next((r.body["due_by"] for r in reversed(steps) if r.body.get("due_by")), None)
    lot = next((r.body["lot"] for r in steps if r.body.get("lot")), None)
    item: dict[str, Any] = {
        f"{kind}_id": last.body[f"{kind}_id"],
        "lot": lot,
        "step": step,
        "opened_at": steps[0].accepted_at,
        "age_days": _age_days(steps[0].accepted_at, now),
        "last_step_at": last.accepted_at,
        "last_signature": last.manifestation(),
        "next_steps": list(NEXT_STEPS[kind].get(step, ())),
        "records": [r.record_id for r in steps],
    }
    summary = next((r.body[k] for r in steps for k in ("nature", "problem") if r.body.get(k)), None)
    item["summary"] = summary
    if kind == "ncr":
        item["capa_id"] = next((r.body["capa_id"] for r in steps if r.body.get("capa_id")), None)
        item["disposition"] = next(
            (r.body["disposition"] for r in steps if r.body.get("disposition")), None
        )
    else:
        item["ncr_id"] = next((r.body["ncr_id"] for r in steps if r.body.get("ncr_id")), None)
        item["due_by"] = due
        item["overdue"] = (
            due is not None and step not in ("closed", "cancelled") and _parse(str(due)) < now
        )
    return item
