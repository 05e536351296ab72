"""The lot genealogy in PostgreSQL: the projector that keeps it, and trace and recall over it.

:class:`Projector` reads the log in leaf order (``log_leaves``, written by the sealer with its
checkpoint, so there are no gaps) and stores the links each record proves
(:func:`ledger.domain.genealogy.links`) in ``genealogy_links``, moving ``genealogy_state``'s
cursor in the same transaction. One projector runs at a time (advisory lock), like the sealer.
The projection trails the log by one sealing round; every answer says how far it had read.

:func:`trace` walks the graph one level per query (``= ANY(frontier)`` on an indexed column),
with a visited set, a depth bound and a node bound, so cycles and very deep graphs end and are
reported. :func:`recall_scope` is a forward trace from a lot, or from every lot received from a
supplier, to every consignee, computed as of a checkpoint's tree size so that it can be
computed again later, from the same log, and compared by its hash (``recall/1`` records).
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa
from evledger_verify import jcs
from evledger_verify.life import lot_life
from evledger_verify.rules import Stored, apply_corrections, dispositioned, ncr_summaries, utc_iso

from ledger import locks
from ledger.domain.genealogy import Link, Tracker, links
from ledger.models import Checkpoint, GenealogyLink, GenealogyState, LogLeaf, Record, SealQueue
from ledger.storage import copy_rows, iso_utc

__all__ = [
    "GENEALOGY_TYPES",
    "MAX_DEPTH",
    "MAX_NODES",
    "Pending",
    "Projector",
    "Trace",
    "floor",
    "pending_links",
    "project",
    "projected_size",
    "recall_scope",
    "receipts",
    "scope_sha256",
    "stored_links",
    "trace",
]

log = logging.getLogger("evledger.genealogy")

#: Record types that can prove links (everything else is skipped by a type filter).
GENEALOGY_TYPES = ("scan", "inspection", "epcis_event")
#: Default bounds of a trace: levels followed, and lots visited.
MAX_DEPTH = 1000
MAX_NODES = 200_000
SCOPE_FORMAT = "evledger-recall-scope/1"
_LINK_COLUMNS = (
    "leaf_index",
    "n",
    "record_id",
    "kind",
    "lot",
    "other",
    "gtin",
    "quantity",
    "unit",
    "at",
    "via",
    "accepted_at",
)
_G = GenealogyLink.__table__.c


def _link(row: Any) -> Link:
    return Link(
        record_id=row.record_id,
        kind=row.kind,
        lot=row.lot,
        other=row.other,
        gtin=row.gtin,
        quantity=row.quantity,
        unit=row.unit,
        at=row.at,
        via=row.via,
    )


# -- the projector ------------------------------------------------------------------------------


class Projector:
    """Keeps ``genealogy_links`` up to date with the log (see the module docstring)."""

    def __init__(self, engine: sa.Engine, batch: int = 5000) -> None:
        self.engine = engine
        self.batch = batch
        self._tracker: Tracker | None = None
        self._tracker_at = -1
        #: Where each round's outcome goes (ledger.health.Reporter); a no-op by default.
        self.report: Callable[[bool, str], None] = lambda ok, detail: None

    def project_once(self) -> int:
        """Project up to ``batch`` leaves; returns how many leaves were read."""
        try:
            with self.engine.begin() as conn:
                return self._project(conn)
        except BaseException:
            self._tracker = None  # it may hold links of the rolled-back round
            raise

    def _project(self, conn: sa.Connection) -> int:
        if not conn.execute(sa.select(sa.func.pg_try_advisory_xact_lock(locks.GENEALOGY))).scalar():
            return 0
        start = conn.execute(
            sa.select(GenealogyState.next_leaf)
            .where(GenealogyState.singleton == 1)
            .with_for_update()
        ).scalar_one()
        size = conn.execute(sa.select(sa.func.coalesce(sa.func.max(LogLeaf.leaf_index) + 1, 0)))
        end = min(int(size.scalar_one()), start + self.batch)
        if end <= start:
            return 0
        if self._tracker is None or self._tracker_at != start:
            self._tracker = _load_tracker(conn)
        tracker = self._tracker
        # One primary-key probe per leaf of the round (LATERAL ... LIMIT 1 keeps PostgreSQL from
        # flattening it into a join): a plain join's plan followed the table statistics, and
        # statistics taken while the ledger held a few signer grants made it read every scan
        # of the table per round (a 30-60 s stall under load, measured by bench/trace.py).
        record = (
            sa.select(Record.record_id, Record.body, Record.accepted_at)
            .where(Record.seq == LogLeaf.seq, Record.record_type.in_(GENEALOGY_TYPES))
            .limit(1)
            .lateral()
        )
        rows = conn.execute(
            sa.select(LogLeaf.leaf_index, record.c.record_id, record.c.body, record.c.accepted_at)
            .join_from(LogLeaf, record, sa.true())
            .where(LogLeaf.leaf_index >= start, LogLeaf.leaf_index < end)
            .order_by(LogLeaf.leaf_index)
        )
        out = [
            (row.leaf_index, n, *link.key(), iso_utc(row.accepted_at))
            for row, n, link in project(rows, tracker)
        ]
        if out:
            copy_rows(conn, "genealogy_links", _LINK_COLUMNS, out)
        conn.execute(
            sa.update(GenealogyState).where(GenealogyState.singleton == 1).values(next_leaf=end)
        )
        self._tracker_at = end
        return end - start

    def run(self, stop: threading.Event, interval: float) -> None:
        while not stop.is_set():
            try:
                busy = self.project_once() >= self.batch
                self.report(True, "")
            except Exception as exc:
                log.exception("genealogy projection round failed; retrying")
                self.report(False, f"projection failed: {exc.__class__.__name__}")
                busy = False
            if not busy:
                stop.wait(interval)

    def catch_up(self, timeout: float = 30.0) -> int:
        """Project until the projection has read every sealed leaf (tests, CLI); returns the
        projected size."""
        deadline = time.monotonic() + timeout
        while True:
            self.project_once()
            with self.engine.connect() as conn:
                done = projected_size(conn)
                sealed = conn.execute(
                    sa.select(sa.func.coalesce(sa.func.max(LogLeaf.leaf_index) + 1, 0))
                ).scalar_one()
            if done >= sealed:
                return done
            if time.monotonic() > deadline:
                raise TimeoutError(f"genealogy: projected {done} of {sealed} leaves")
            time.sleep(0.01)

    def rebuild(self) -> int:
        """Drop the projection and read the whole log again; returns the leaves read."""
        with self.engine.begin() as conn:
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(locks.GENEALOGY)))
            conn.execute(sa.delete(GenealogyLink))
            conn.execute(sa.update(GenealogyState).values(next_leaf=0))
        self._tracker = None
        return self.catch_up(timeout=3600.0)


def project(rows: Iterable[Any], tracker: Tracker) -> Iterator[tuple[Any, int, Link]]:
    """(row, n, link) for the links the records of ``rows`` prove (rows in log order, with
    ``leaf_index``, ``record_id`` and ``body``), ``tracker`` following them. The projector and
    the audit's rebuild both read the log through it."""
    for row in rows:
        try:
            new = links(json.loads(bytes(row.body)), tracker)
        except (ValueError, KeyError, TypeError) as exc:
            # Bodies were validated when accepted; one that cannot be read proves nothing
            # here (the audit names a damaged record), and must not stop the projection.
            log.warning("genealogy: %s (leaf %s) skipped: %s", row.record_id, row.leaf_index, exc)
            continue
        tracker.apply(new)
        for n, link in enumerate(new):
            yield row, n, link


def _load_tracker(conn: sa.Connection) -> Tracker:
    """The context the stored links establish (produce, aliased receive and pack links)."""
    tracker = Tracker()
    rows = conn.execute(
        sa.select(GenealogyLink)
        .where(
            sa.or_(
                GenealogyLink.kind.in_(("produce", "pack")),
                sa.and_(GenealogyLink.kind == "receive", GenealogyLink.via.is_not(None)),
            )
        )
        .order_by(GenealogyLink.leaf_index, GenealogyLink.n)
    )
    tracker.apply(_link(r) for r in rows)
    return tracker


def projected_size(conn: sa.Connection) -> int:
    """Leaves below this index are in the projection."""
    return int(
        conn.execute(
            sa.select(GenealogyState.next_leaf).where(GenealogyState.singleton == 1)
        ).scalar_one()
    )


def stored_links(conn: sa.Connection) -> Iterable[tuple[int, int, Link]]:
    """Every stored link as (leaf index, n, link), in log order (the audit compares them with
    a rebuild)."""
    result = conn.execution_options(yield_per=10_000).execute(
        sa.select(GenealogyLink).order_by(GenealogyLink.leaf_index, GenealogyLink.n)
    )
    for row in result:
        yield row.leaf_index, row.n, _link(row)


@dataclass(frozen=True)
class Pending:
    """The links of the records the projection had not read when looked at, and the leaf
    index below which it had: a reader pairs them with projection rows below ``below`` only,
    so a record the projector reads meanwhile is counted once, not twice."""

    below: int
    links: list[Link]


def pending_links(conn: sa.Connection) -> Pending:
    """The links of the records the projection has not read yet (waiting to be sealed, or
    sealed after its cursor), so rules judged now see the whole genealogy so far."""
    start = projected_size(conn)
    waiting = sa.union(
        sa.select(SealQueue.seq), sa.select(LogLeaf.seq).where(LogLeaf.leaf_index >= start)
    )
    rows = conn.execute(
        sa.select(sa.literal(None).label("leaf_index"), Record.record_id, Record.body)
        .where(Record.seq.in_(waiting), Record.record_type.in_(GENEALOGY_TYPES))
        .order_by(Record.seq)
    ).all()
    if not rows:
        return Pending(start, [])
    # The context earlier links established matters only to a consumed lot received under
    # another label or at a station producing a lot, a shipped pallet, or an EPCIS event:
    # loading it reads every such link, so it is loaded only for those.
    needs_context = any(
        row.record_id.startswith("epcis-")
        or b'"operation":"consume"' in bytes(row.body)
        or b'"operation":"ship"' in bytes(row.body)
        for row in rows
    )
    tracker = _load_tracker(conn) if needs_context else Tracker()
    return Pending(start, [link for _, _, link in project(rows, tracker)])


def receipts(
    conn: sa.Connection, lot: str, pending: Pending | None = None, max_nodes: int = MAX_NODES
) -> list[tuple[str, str, str | None, str | None]]:
    """How ``lot`` and every lot it was made from were received: (record id, received lot,
    supplier, time), over the projection and the records it has not read yet (``pending``,
    read now when not given; the rules' ``History.receipts``)."""
    if pending is None:
        pending = pending_links(conn)
    inputs: dict[str, set[str]] = defaultdict(set)
    for link in pending.links:
        if link.kind == "input" and link.other is not None:
            inputs[link.lot].add(link.other)
    seen, frontier = {lot}, [lot]
    while frontier and len(seen) < max_nodes:
        rows = conn.execute(
            sa.select(_G.other).where(
                _G.kind == "input", _G.lot.in_(frontier), _G.leaf_index < pending.below
            )
        ).scalars()
        found = {str(o) for o in rows if o is not None}
        found.update(m for f in frontier for m in inputs.get(f, ()))
        frontier = sorted(found - seen)
        seen.update(frontier)
    out = [
        (row.record_id, row.lot, row.other, row.at)
        for row in conn.execute(
            sa.select(_G.record_id, _G.lot, _G.other, _G.at)
            .where(_G.kind == "receive", _G.lot.in_(sorted(seen)), _G.leaf_index < pending.below)
            .order_by(_G.leaf_index, _G.n)
        )
    ]
    out.extend(
        (link.record_id, link.lot, link.other, link.at)
        for link in pending.links
        if link.kind == "receive" and link.lot in seen
    )
    return out


def floor(
    conn: sa.Connection, lot: str, pending: Pending | None = None
) -> list[tuple[str, str, str | None, str | None]]:
    """What the shop floor did with ``lot``: its ``ship`` links and the ``input`` links of
    the material that went into it, as (record id, kind, other, time), over the projection and
    the records it has not read yet (``pending``, read now when not given; the rules'
    ``History.floor``)."""
    if pending is None:
        pending = pending_links(conn)
    out = [
        (row.record_id, row.kind, row.other, row.at)
        for row in conn.execute(
            sa.select(_G.record_id, _G.kind, _G.other, _G.at)
            .where(_G.lot == lot, _G.kind.in_(("ship", "input")), _G.leaf_index < pending.below)
            .order_by(_G.leaf_index, _G.n)
        )
    ]
    out.extend(
        (link.record_id, link.kind, link.other, link.at)
        for link in pending.links
        if link.lot == lot and link.kind in ("ship", "input")
    )
    return out


# -- trace --------------------------------------------------------------------------------------


Direction = Literal["backward", "forward"]


@dataclass
class Trace:
    """A traced subgraph. ``nodes`` maps each lot reached to its depth; ``edges`` are
    (from lot, to lot) -> proving record ids, always from input to output."""

    start: list[str]
    direction: Direction
    tree_size: int
    nodes: dict[str, int] = field(default_factory=dict)
    edges: dict[tuple[str, str], list[str]] = field(default_factory=lambda: defaultdict(list))
    truncated: str | None = None
    cycles: list[list[str]] = field(default_factory=list)


def _filters(tree_size: int, as_of: datetime | None) -> list[Any]:
    out: list[Any] = [_G.leaf_index < tree_size]
    if as_of is not None:
        out.append(_G.accepted_at <= as_of)
    return out


def trace(
    conn: sa.Connection,
    start: Sequence[str],
    direction: Direction,
    *,
    depth: int = MAX_DEPTH,
    max_nodes: int = MAX_NODES,
    tree_size: int | None = None,
    as_of: datetime | None = None,
) -> Trace:
    """The lots reached from ``start`` through ``input`` links: ``backward`` to what they were
    made from, ``forward`` to what was made from them. Bounded by ``depth`` levels and
    ``max_nodes`` lots (``truncated`` says which bound stopped it); cycles are listed."""
    size = projected_size(conn) if tree_size is None else min(tree_size, projected_size(conn))
    result = Trace(list(start), direction, size)
    result.nodes = dict.fromkeys(start, 0)
    near, far = (_G.lot, _G.other) if direction == "backward" else (_G.other, _G.lot)
    frontier = sorted(set(start))
    level = 0
    while frontier:
        level += 1
        rows = conn.execute(
            sa.select(near.label("near"), far.label("far"), _G.record_id)
            .where(_G.kind == "input", near.in_(frontier), *_filters(size, as_of))
            .order_by(_G.leaf_index, _G.n)
        ).all()
        if level > depth:
            if any(row.far not in result.nodes for row in rows):
                result.truncated = f"depth: stopped at {depth} levels"
            break
        nxt: list[str] = []
        for row in rows:
            pair = (row.far, row.near) if direction == "backward" else (row.near, row.far)
            if row.record_id not in result.edges[pair]:
                result.edges[pair].append(row.record_id)
            if row.far not in result.nodes:
                if len(result.nodes) >= max_nodes:
                    result.truncated = f"nodes: stopped at {max_nodes} lots"
                    break
                result.nodes[row.far] = level
                nxt.append(row.far)
        if result.truncated:
            break
        frontier = nxt
    result.cycles = _cycles(result.edges)
    return result


def _cycles(edges: dict[tuple[str, str], list[str]]) -> list[list[str]]:
    """Each cycle of the traced subgraph once (iterative DFS; a lot made from itself, directly
    or through others, is evidence of a scanning mistake that QA must see)."""
    out: dict[str, list[Any]] = defaultdict(list)
    for a, b in edges:
        out[a].append(b)
    color: dict[str, int] = {}
    found: list[list[str]] = []
    for root in sorted(out):
        if color.get(root):
            continue
        stack: list[tuple[str, Iterator[str]]] = [(root, iter(sorted(out[root])))]
        path = [root]
        color[root] = 1
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                color[node] = 2
                stack.pop()
                path.pop()
            elif color.get(child) == 1:
                found.append([*path[path.index(child) :], child])
            elif not color.get(child):
                color[child] = 1
                path.append(child)
                stack.append((child, iter(sorted(out.get(child, ())))))
    return found


# -- what the lots reached carry: status, suppliers, shipments ----------------------------------


def _in_log(size: int, as_of: datetime | None) -> list[Any]:
    out: list[Any] = [LogLeaf.leaf_index < size]
    if as_of is not None:
        out.append(Record.accepted_at <= as_of)
    return out


#: The records of a lot that its state and open NCRs are read from (see :func:`lot_facts`);
#: ``inspection`` for its product.
_STATE_TYPES = (
    "release", "hold", "field_action", "ncr", "alert", "complaint", "correction", "inspection",
)  # fmt: skip
_STATE_COLUMNS = (
    Record.lot, Record.record_id, Record.record_type, Record.body, Record.record_hash,
    Record.signer, Record.meaning, Record.signed_at, Record.accepted_at,
)  # fmt: skip


def lot_facts(
    conn: sa.Connection, lots: Sequence[str], tree_size: int, as_of: datetime | None = None
) -> dict[str, dict[str, Any]]:
    """Per lot: ``state``, ``open_ncrs``, ``release_decision``, ``gtin``, ``product`` name,
    ``suppliers``, ``stations``, ``pallets`` and ``shipments``, all from the log below
    ``tree_size``.

    ``state`` is the lot status's state (:func:`evledger_verify.life.lot_life`: in_process,
    quarantined, released, on_hold, rejected, recalled), replayed from the lot's release,
    hold, field_action, ncr, alert, complaint and correction records, with corrections applied.
    What keeps an undecided lot from release (in_process or quarantined) is read from its open
    NCRs and its alerts no NCR has dispositioned; left out, as too costly for a trace of
    thousands of lots, are open excursions (its readings), floor alerts (scans of it shipped
    unreleased or of material consumed while not acceptable) and master data flags (suppliers
    not approved, instruments out of calibration): a lot quarantined only by those shows
    ``in_process`` here, and ``GET /v1/lots/{lot}`` gives its full status.
    ``release_decision`` is the last release decision, else ``unreleased``: the ``state`` of
    a lot in a recall scope (``evledger-recall-scope/1``, whose hash recall records sign)."""
    facts: dict[str, dict[str, Any]] = {
        lot: {
            "state": "in_process",
            "open_ncrs": [],
            "release_decision": "unreleased",
            "gtin": None,
            "product": None,
            "suppliers": [],
            "stations": [],
            "pallets": [],
            "shipments": [],
        }
        for lot in lots
    }
    for chunk in _chunks(sorted(facts), 5000):
        rows = conn.execute(
            sa.select(_G.lot, _G.kind, _G.other, _G.gtin, _G.quantity, _G.unit, _G.at, _G.via)
            .add_columns(_G.record_id)
            .where(_G.lot.in_(chunk), _G.kind != "input", *_filters(tree_size, as_of))
            .order_by(_G.leaf_index, _G.n)
        ).all()
        for r in rows:
            f = facts[r.lot]
            f["gtin"] = f["gtin"] or r.gtin
            if r.kind == "receive":
                f["suppliers"].append(
                    {
                        "supplier": r.other,
                        "record_id": r.record_id,
                        "quantity": r.quantity,
                        "unit": r.unit,
                        "date": r.at,
                    }
                )
            elif r.kind == "produce":
                f["stations"].append({"station": r.other, "record_id": r.record_id})
            elif r.kind == "pack":
                f["pallets"].append({"sscc": r.other, "record_id": r.record_id})
            elif r.kind == "ship":
                f["shipments"].append(
                    {
                        "consignee": r.other,
                        "quantity": r.quantity,
                        "unit": r.unit,
                        "date": r.at,
                        "pallet": r.via,
                        "record_id": r.record_id,
                    }
                )
        records: dict[str, list[Stored]] = defaultdict(list)
        status = conn.execute(
            sa.select(*_STATE_COLUMNS)
            .join(LogLeaf, LogLeaf.seq == Record.seq)
            .where(
                Record.lot.in_(chunk),
                Record.record_type.in_(_STATE_TYPES),
                *_in_log(tree_size, as_of),
            )
            .order_by(LogLeaf.leaf_index)
        ).all()
        for row in status:
            record = json.loads(bytes(row.body))
            f = facts[str(row.lot)]
            product = record.get("product")
            if isinstance(product, dict):
                f["gtin"] = f["gtin"] or product.get("gtin")
                f["product"] = f["product"] or product.get("name")
            if row.record_type == "release":
                f["release_decision"] = record.get("decision", f["release_decision"])
            if row.record_type != "inspection":
                records[str(row.lot)].append(
                    Stored(
                        record_id=row.record_id,
                        type=row.record_type,
                        body=record,
                        record_hash=bytes(row.record_hash).hex(),
                        signer=row.signer,
                        printed_name=None,
                        meaning=row.meaning,
                        signed_at=utc_iso(int(row.signed_at)),
                        accepted_at=iso_utc(row.accepted_at),
                    )
                )
        for lot, stored in records.items():
            stored = apply_corrections(stored)
            ncrs = ncr_summaries(stored)
            open_ncrs = [str(n["ncr_id"]) for n in ncrs.values() if n["step"] != "closed"]
            answered = dispositioned(ncrs)
            open_alerts = any(
                r.type == "alert" and r.body.get("alert_id") not in answered for r in stored
            )
            facts[lot]["open_ncrs"] = open_ncrs
            facts[lot]["state"] = lot_life(stored).state(bool(open_ncrs or open_alerts))
    return facts


def _chunks(items: Sequence[str], size: int) -> Iterable[Sequence[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def known(conn: sa.Connection, lot: str) -> bool:
    """Whether any record or link names ``lot``."""
    hit = conn.execute(
        sa.select(
            sa.exists().where(Record.lot == lot)
            | sa.exists().where(_G.lot == lot)
            | sa.exists().where(_G.other == lot, _G.kind == "input")
        )
    ).scalar()
    return bool(hit)


def received_from(conn: sa.Connection, supplier: str, tree_size: int) -> list[str]:
    """The lots received from ``supplier`` (receive links) in the log below ``tree_size``."""
    rows = conn.execute(
        sa.select(_G.lot)
        .where(_G.kind == "receive", _G.other == supplier, _G.leaf_index < tree_size)
        .distinct()
    )
    return sorted(str(r) for (r,) in rows)


def trace_view(
    conn: sa.Connection,
    start: Sequence[str],
    direction: Direction,
    *,
    depth: int = MAX_DEPTH,
    as_of: datetime | None = None,
) -> dict[str, Any]:
    """``GET /v1/lots/{lot}/trace`` and ``evledger trace``: nodes with their status and edges
    with the records that prove them."""
    t = trace(conn, start, direction, depth=depth, as_of=as_of)
    facts = lot_facts(conn, list(t.nodes), t.tree_size, as_of)
    nodes = []
    for lot, d in sorted(t.nodes.items(), key=lambda kv: (kv[1], kv[0])):
        f = facts[lot]
        node = {"lot": lot, "depth": d, **{k: f[k] for k in ("gtin", "product", "state")}}
        node["open_ncrs"] = f["open_ncrs"]
        node["suppliers"] = f["suppliers"]
        node["shipments"] = f["shipments"]
        node["pallets"] = f["pallets"]
        nodes.append(node)
    return {
        "start": list(start),
        "direction": direction,
        "tree_size": t.tree_size,
        "as_of": iso_utc(as_of) if as_of is not None else None,
        "nodes": nodes,
        "edges": [
            {"from": a, "to": b, "record_ids": ids} for (a, b), ids in sorted(t.edges.items())
        ],
        "truncated": t.truncated,
        "cycles": t.cycles,
    }


# -- recall ---------------------------------------------------------------------------------------


def scope_tree_size(conn: sa.Connection) -> int:
    """The newest checkpoint the projection has fully read: what a recall is computed at."""
    projected = projected_size(conn)
    size = conn.execute(
        sa.select(sa.func.max(Checkpoint.tree_size)).where(Checkpoint.tree_size <= projected)
    ).scalar_one()
    return int(size or 0)


def recall_scope(
    conn: sa.Connection,
    *,
    lot: str | None = None,
    supplier: str | None = None,
    tree_size: int | None = None,
) -> dict[str, Any]:
    """Every lot reached forward from ``lot`` (or from every lot received from ``supplier``),
    with each shipment to a consignee, as of the checkpoint ``tree_size`` (default: the newest
    the projection has read). The same log and tree size give the same scope, byte for byte
    under RFC 8785: :func:`scope_sha256` is what a ``recall/1`` record signs."""
    if (lot is None) == (supplier is None):
        raise ValueError("recall: expected a lot or a supplier")
    size = scope_tree_size(conn) if tree_size is None else tree_size
    if size > projected_size(conn):
        raise LookupError(
            f"recall: the genealogy has read {projected_size(conn)} leaves of the log, not yet "
            f"tree size {size}; try again in a moment"
        )
    origins = [lot] if lot is not None else received_from(conn, str(supplier), size)
    t = trace(conn, origins, "forward", tree_size=size)
    facts = lot_facts(conn, list(t.nodes), size)
    parents: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for (a, b), ids in sorted(t.edges.items()):
        parents[b].append({"lot": a, "record_ids": ids})
    lots = []
    shipments = []
    for name, depth in sorted(t.nodes.items()):
        f = facts[name]
        lots.append(
            {
                "lot": name,
                "depth": depth,
                "gtin": f["gtin"],
                "product": f["product"],
                # The scope format keeps the release decision (evledger-recall-scope/1).
                "state": f["release_decision"],
                "made_from": parents.get(name, []),
            }
        )
        for s in f["shipments"]:
            shipments.append({"lot": name, "gtin": f["gtin"], "product": f["product"], **s})
    shipments.sort(key=lambda s: (s["lot"], s["consignee"] or "", s["date"] or "", s["record_id"]))
    return {
        "format": SCOPE_FORMAT,
        "origin": {"lot": lot} if lot is not None else {"supplier": supplier},
        "origin_lots": origins,
        "tree_size": size,
        "lots": lots,
        "shipments": shipments,
        "consignees": sorted({s["consignee"] for s in shipments if s["consignee"]}),
        "truncated": t.truncated,
        "cycles": t.cycles,
    }


def scope_sha256(scope: dict[str, Any]) -> str:
    """SHA-256 (hex) of the scope's RFC 8785 canonical form."""
    return hashlib.sha256(jcs.canonicalize(scope)).hexdigest()
