"""Evidence bundles (``evledger-bundle/1``): one zip file an auditor verifies fully offline with
``evledger-verify bundle``, for a lot or for a period.

Members, and nothing else:

- ``manifest.json``: the format, the scope, the log, the policy the rules were judged under,
  the checkpoint's tree size, counts, and each other member's SHA-256 and size;
- ``records.jsonl``: one line per record, in log order: its leaf index, whether it is in the
  scope, the record and its log entry (signature included). Besides the records of the scope it
  holds, not in scope, what judging them needs (the verifier re-judges every record it holds,
  so what judging those needs too): every signer-registry record, every record of the lots
  involved and of the lots they were made from with the records proving that genealogy, the
  history of the workflows they belong to, the master data they relied on (specifications and
  the changes that approved them, instruments and their calibrations, supplier status
  decisions), the training records of the persons who signed them, and the records of other
  lots they read (an NCR a CAPA was opened for, an effectiveness check's data, the earlier
  lots of a sampling stream), each such lot from its first record (a lot's chain is complete)
  up to the last record read; bounded (:class:`_Context`);
- ``proofs.json``: the signed checkpoint, a multiproof of every record's leaf under it, and
  each chain's anchor with the consistency proof to the checkpoint and, when final, the block
  header and receipts-trie path that prove it offline;
- ``report.html``: the records for people, each with its signature manifestation (printed name,
  UTC time, meaning) and its corrections.

Records logged after the newest anchor are left out (counted in the manifest): a bundle proves
what is anchored.
"""

from __future__ import annotations

import copy
import hashlib
import html
import io
import json
import zipfile
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from evledger_verify import master
from evledger_verify.policy import DEFAULT_POLICY, Policy
from evledger_verify.registry import Registry
from evledger_verify.rules import POLICY_VERSION, Refused, apply_change, stream_of

from ledger import genealogy, tree
from ledger.domain.lots import Stored, apply_corrections
from ledger.errors import BadRequestError, NotFoundError, TooLargeError
from ledger.identity import Identity
from ledger.models import Anchor, Checkpoint, GenealogyLink, LogLeaf, Record
from ledger.proofs import anchor_entries, chain_anchors
from ledger.signers import load_registry
from ledger.storage import LIVE_ANCHOR, DbNodeStore, to_stored

__all__ = ["BUNDLE_FORMAT", "MAX_BUNDLE_RECORDS", "MAX_CONTEXT_ROUNDS", "Exporter"]

BUNDLE_FORMAT = "evledger-bundle/1"
#: Records per bundle (the verifier reads at most this many).
MAX_BUNDLE_RECORDS = 200_000
#: Rounds of context (records read by records read by ... the scope's): see :class:`_Context`.
MAX_CONTEXT_ROUNDS = 100


class Exporter:
    def __init__(
        self, engine: sa.Engine, identity: Identity, policy: Policy = DEFAULT_POLICY
    ) -> None:
        self.engine = engine
        self.identity = identity
        self.policy = policy

    def lot(self, lot: str) -> bytes:
        with self.engine.connect() as conn:
            conn.execution_options(isolation_level="REPEATABLE READ")
            return self._bundle(conn, {"lot": lot}, Record.lot == lot)

    def period(self, start: datetime, end: datetime) -> bytes:
        try:  # in UTC: PostgreSQL takes offsets up to 15:59 only, Python up to 23:59
            start, end = start.astimezone(UTC), end.astimezone(UTC)
        except (OverflowError, ValueError) as exc:
            raise BadRequestError(f"period: a time out of range: {exc}") from None
        if end <= start:
            raise BadRequestError(
                f"period: expected from < to, got {start.isoformat()} .. {end.isoformat()}"
            )
        with self.engine.connect() as conn:
            conn.execution_options(isolation_level="REPEATABLE READ")
            return self._bundle(
                conn,
                {"from": start.isoformat(), "to": end.isoformat()},
                sa.and_(Record.accepted_at >= start, Record.accepted_at < end),
            )

    # -- selection -------------------------------------------------------------------------

    def _bundle(self, conn: sa.Connection, scope: dict[str, str], where: Any) -> bytes:
        anchored = conn.execute(
            sa.select(sa.func.coalesce(sa.func.max(Anchor.tree_size), 0)).where(LIVE_ANCHOR)
        ).scalar_one()
        logged = sa.select(LogLeaf.seq).where(LogLeaf.leaf_index < anchored)
        # The scope stays in SQL (uncorrelated, as it is used inside queries of records too):
        # up to MAX_BUNDLE_RECORDS ids are never sent back and forth.
        scoped = sa.select(Record.seq).where(where, Record.seq.in_(logged)).correlate(None)
        count, later = conn.execute(
            sa.select(
                sa.select(sa.func.count()).where(Record.seq.in_(scoped)).scalar_subquery(),
                sa.select(sa.func.count()).where(where, ~Record.seq.in_(logged)).scalar_subquery(),
            )
        ).one()
        if not count:
            raise NotFoundError(
                f"evidence {json.dumps(scope)}: no anchored record in this scope"
                + (f" ({later} not anchored yet: try again shortly)" if later else "")
            )
        if count > MAX_BUNDLE_RECORDS:
            raise TooLargeError(
                f"evidence: {count} records in this scope, at most {MAX_BUNDLE_RECORDS} "
                "per bundle: narrow the period"
            )
        lots = {
            str(lot)
            for lot in conn.execute(
                sa.select(Record.lot)
                .distinct()
                .where(Record.seq.in_(scoped), Record.lot.isnot(None))
            ).scalars()
        }
        # The lots they were made from (the supplier rule reads how those were received).
        lots |= set(genealogy.trace(conn, sorted(lots), "backward").nodes)
        registry = load_registry(conn)
        context = _Context(conn, anchored, Record.seq.in_(scoped), lots, registry)
        rows = context.select()
        proofs = self._proofs(conn, [int(r.leaf_index) for r in rows], anchored)
        lines = [
            json.dumps(
                {
                    "leaf_index": int(r.leaf_index),
                    "in_scope": r.in_scope,
                    "record": context.bodies[int(r.leaf_index)],
                    "entry": json.loads(r.entry),
                },
                separators=(",", ":"),
                sort_keys=True,
            )
            for r in rows
        ]
        records = ("\n".join(lines) + "\n").encode()
        report = self._report(registry, scope, rows, proofs).encode()
        members = {
            "records.jsonl": records,
            "proofs.json": json.dumps(proofs, indent=1, sort_keys=True).encode(),
            "report.html": report,
        }
        manifest = {
            "format": BUNDLE_FORMAT,
            "scope": scope,
            "created_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "log_origin": self.identity.log_origin,
            "chain_id": self.identity.chain_id,
            "contract": self.identity.contract,
            "policy": POLICY_VERSION,
            "required_stages": list(self.policy.required_stages),
            # What the records were judged with: the verifier re-judges them the same way.
            "policy_settings": self.policy.to_json(),
            "tree_size": proofs["tree_size"],
            "records": len(rows),
            "in_scope": count,
            "not_yet_anchored": later,
            "members": {
                name: {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
                for name, data in members.items()
            },
        }
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("manifest.json", json.dumps(manifest, indent=1, sort_keys=True))
            for name, data in members.items():
                zf.writestr(name, data)
        return out.getvalue()

    # -- proofs ----------------------------------------------------------------------------

    def _proofs(self, conn: sa.Connection, leaves: list[int], anchored: int) -> dict[str, Any]:
        """The checkpoint at the newest anchored size, every leaf under it, and each chain's
        anchor that covers every leaf (final first)."""
        size = anchored
        cp = conn.execute(sa.select(Checkpoint).where(Checkpoint.tree_size == size)).one()
        nodes = DbNodeStore(conn)
        anchors = anchor_entries(
            nodes, chain_anchors(conn, leaves[-1]), size, self.identity.chain_id
        )
        return {
            "tree_size": size,
            "root_hash": bytes(cp.root_hash).hex(),
            "checkpoint": cp.note,
            "multiproof": [p.hex() for p in tree.multiproof(nodes, leaves, size)],
            "anchors": anchors,
        }

    # -- the report for people ---------------------------------------------------------------

    def _report(
        self,
        registry: Registry,
        scope: dict[str, str],
        rows: Sequence[Any],
        proofs: dict[str, Any],
    ) -> str:
        stored: list[Stored] = []
        for r in rows:
            entry = json.loads(r.entry)
            stored.append(
                to_stored(
                    registry,
                    entry["record_id"],
                    entry["record_type"],
                    bytes(r.body),
                    bytes.fromhex(entry["record_hash"]),
                    entry["signer"],
                    entry["meaning"],
                    int(entry["signed_at"]),
                    entry["accepted_at"],
                )
            )
        apply_corrections(stored)
        e = html.escape
        title = ", ".join(f"{k} {v}" for k, v in scope.items())
        out = [
            "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
            f"<title>Evidence: {e(title)}</title><style>{_CSS}</style></head><body>",
            f"<h1>Evidence bundle: {e(title)}</h1>",
            f"<p>Log <code>{e(self.identity.log_origin)}</code>, checkpoint at tree size "
            f"{proofs['tree_size']}, root <code>{proofs['root_hash']}</code>. "
            f"Anchored on chain(s) {', '.join(str(a['chain_id']) for a in proofs['anchors'])}."
            " Verify this bundle with <code>evledger-verify bundle</code>: this page is for "
            "reading, the proofs are in the other files.</p>",
            "<table><thead><tr><th>Record</th><th>Type</th><th>Lot</th><th>What it says</th>"
            "<th>Signed by</th><th>Signed (UTC)</th><th>Meaning</th><th>Corrections</th></tr>"
            "</thead><tbody>",
        ]
        for r, s in zip(rows, stored, strict=True):
            if not r.in_scope:
                continue
            corrections = "".join(
                f"<li>{e(h['path'])}: {e(json.dumps(h['old']))} &rarr; {e(json.dumps(h['new']))}"
                f" by {e(str(h['printed_name']))} at {e(h['signed_at'])}: {e(h['reason'])}</li>"
                for h in s.history
            )
            out.append(
                f"<tr><td><code>{e(s.record_id)}</code></td><td>{e(s.type)}"
                f"{' / ' + e(str(s.body.get('step'))) if s.body.get('step') else ''}</td>"
                f"<td class='n'>{e(str(s.body.get('lot') or ''))}</td><td>{e(_says(s.body))}</td>"
                f"<td>{e(s.printed_name or 'unregistered')}<br><small>{e(s.signer)}</small></td>"
                f"<td class='n'>{e(s.signed_at)}</td><td>{e(s.meaning)}</td>"
                f"<td>{'<ul>' + corrections + '</ul>' if corrections else ''}</td></tr>"
            )
        out.append("</tbody></table></body></html>")
        return "\n".join(out)


#: What ``_Context._links`` reads of a genealogy link (and the leaf it is read up to).
_LINK_COLUMNS = (
    GenealogyLink.record_id,
    GenealogyLink.kind,
    GenealogyLink.lot,
    GenealogyLink.other,
)


class _Context:
    """The records a bundle carries: those of its scope, and what the rules read to judge
    each record carried (the verifier re-judges every record of the bundle, not only those in
    scope), to a fixed point.

    Carried whole: the signer registry; the lots of the scope and the lots they were made
    from, with the scans proving that genealogy; each subject read (a workflow's steps, a
    specification's versions and the changes that approved them, an instrument and its
    calibrations, a supplier's status decisions, the training records of each person who
    signed a record carried, a record's corrections and reviews); each record read by its id
    (the NCR a retest cites, an effectiveness check's data, a corrected or reviewed record, an
    NCR's or alert's refs). A correction reads what the record it makes reads.

    Carried up to the last record needed (the rules read only what came before the record
    they judge): any other lot a carried record belongs to, from its first record (its chain
    verifies), with the lots it was made from as far as its genealogy went by then, how they
    were received and the scans proving it; a product's sampling stream (the switching rules
    replay it); the station's last produce scan before a consume scan that names no lot (the
    genealogy takes it into that lot).

    Bounded: each round carries what the previous one's records read, at most
    :data:`MAX_CONTEXT_ROUNDS` rounds and :data:`MAX_BUNDLE_RECORDS` records; past either the
    export is refused (a bundle without what its records were judged by would have its
    verifier name records the service rightly accepted).
    """

    def __init__(
        self,
        conn: sa.Connection,
        anchored: int,
        in_scope: Any,
        lots: set[str],
        registry: Registry,
    ) -> None:
        self.conn = conn
        self.anchored = anchored
        self.in_scope = in_scope
        self.full = set(lots)
        self.registry = registry
        self.rows: dict[int, Any] = {}
        self.bodies: dict[int, dict[str, Any]] = {}
        self.leaf_of: dict[str, int] = {}
        self._persons: dict[str, str | None] = {}
        #: What is read: subjects and record ids whole; other lots and sampling streams up to
        #: a leaf index (inclusive). And what of it was fetched.
        self.subjects: set[str] = set()
        self.ids: set[str] = set()
        self.lots: dict[str, int] = {}
        self.streams: dict[str, int] = {}
        self._subjects_fetched: set[str] = set()
        self._ids_fetched: set[str] = set()
        self._lots_fetched: dict[str, int] = {}
        self._streams_fetched: dict[str, int] = {}
        #: Corrected record id -> the leaf indices of its corrections carried.
        self._corrections: dict[str, set[int]] = {}
        self._corrected: set[str] = set()
        #: (station, leaf) of each consume scan carried that names no lot: it went into the
        #: lot the station's last produce scan before it named (genealogy.Tracker).
        self._stations: set[tuple[str, int]] = set()
        self._stations_fetched: set[tuple[str, int]] = set()

    def select(self) -> list[Any]:
        """The records to carry, in log order."""
        self._take(
            self._fetch(
                sa.or_(self.in_scope, Record.record_type == "signer", Record.lot.in_(self.full))
            )
        )
        self._links(
            self.conn.execute(
                sa.select(*_LINK_COLUMNS, sa.literal(self.anchored - 1).label("hi")).where(
                    GenealogyLink.lot.in_(self.full), GenealogyLink.leaf_index < self.anchored
                )
            ).all()
        )
        for _ in range(MAX_CONTEXT_ROUNDS):
            if not self._round():
                return [self.rows[leaf] for leaf in sorted(self.rows)]
        raise TooLargeError(
            f"evidence: what the records read reaches more than {MAX_CONTEXT_ROUNDS} links "
            "deep (records of other lots, read by records of other lots, ...): narrow the scope"
        )

    # -- fetching ----------------------------------------------------------------------------

    def _fetch(self, where: Any, *join: Any) -> list[Any]:
        query = sa.select(
            LogLeaf.leaf_index,
            Record.record_id,
            Record.lot,
            Record.subject,
            Record.signer,
            Record.body,
            Record.entry,
            self.in_scope.label("in_scope"),
        ).join(Record, Record.seq == LogLeaf.seq)
        if join:
            query = query.join(*join)
        # No query brings more than a bundle may hold (_take refuses past it).
        query = query.where(LogLeaf.leaf_index < self.anchored, where)
        return list(self.conn.execute(query.limit(MAX_BUNDLE_RECORDS + 1)))

    def _round(self) -> bool:
        """Fetch what is read and not fetched yet; False when nothing is left."""
        subjects = sorted(self.subjects - self._subjects_fetched)
        ids = sorted(i for i in self.ids - self._ids_fetched if i not in self.leaf_of)
        lots = _grown(self.lots, self._lots_fetched)
        streams = _grown(self.streams, self._streams_fetched)
        stations = sorted(self._stations - self._stations_fetched)
        if not (subjects or ids or lots or streams or stations):
            return False
        rows: list[Any] = []
        for part in _chunks(stations):
            want = _values([(station, -1, leaf) for station, leaf in part])
            last = (
                sa.select(GenealogyLink.record_id)
                .where(
                    GenealogyLink.kind == "produce",
                    GenealogyLink.other == want.c.key,
                    GenealogyLink.leaf_index < want.c.hi,
                )
                .order_by(GenealogyLink.leaf_index.desc())
                .limit(1)
                .scalar_subquery()
            )
            found = self.conn.execute(sa.select(last).select_from(want)).scalars()
            self.ids.update(str(rid) for rid in found if rid is not None)
        self._stations_fetched.update(stations)
        for part in _chunks(subjects):
            rows += self._fetch(Record.subject.in_(part))
        for part in _chunks(ids):
            rows += self._fetch(Record.record_id.in_(part))
        for part in _chunks(lots):
            want = _values(part)
            rows += self._fetch(
                sa.and_(LogLeaf.leaf_index > want.c.lo, LogLeaf.leaf_index <= want.c.hi),
                want,
                Record.lot == want.c.key,
            )
            # The lots these were made from, as far as the genealogy went by then, how
            # they were received, and the scans proving it (History.receipts, .floor).
            self._links(
                self.conn.execute(
                    sa.select(*_LINK_COLUMNS, want.c.hi)
                    .join(want, GenealogyLink.lot == want.c.key)
                    .where(GenealogyLink.leaf_index <= want.c.hi)
                ).all()
            )
        for part in _chunks(streams):
            want = _values(part)
            rows += self._fetch(
                sa.and_(LogLeaf.leaf_index > want.c.lo, LogLeaf.leaf_index <= want.c.hi),
                want,
                Record.subject == want.c.key,
            )
        self._subjects_fetched.update(subjects)
        self._ids_fetched.update(ids)
        self._lots_fetched.update((key, hi) for key, _, hi in lots)
        self._streams_fetched.update((key, hi) for key, _, hi in streams)
        self._take(rows)
        return True

    # -- what the records carried read ---------------------------------------------------------

    def _take(self, rows: list[Any]) -> None:
        for r in rows:
            leaf = int(r.leaf_index)
            if leaf in self.rows:
                continue
            self.rows[leaf] = r
            self.leaf_of[r.record_id] = leaf
            body = self.bodies[leaf] = json.loads(r.body)
            if r.lot is not None:
                self._lot(str(r.lot), leaf)
            if r.subject is not None and str(r.subject).startswith("stream:"):
                self.streams[r.subject] = max(self.streams.get(r.subject, -1), leaf)
            elif r.subject is not None:
                self.subjects.add(str(r.subject))
            if r.signer not in self._persons:
                self._persons[r.signer] = self.registry.person_of(r.signer)
            person = self._persons[r.signer]
            if person is not None:
                self.subjects.add(f"training:{person}")
            self._read(body, leaf)
            if (station := _consumed_at(body)) is not None:
                self._stations.add((station, leaf))
            if body.get("type") == "correction" and isinstance(body.get("corrects"), str):
                self._corrections.setdefault(body["corrects"], set()).add(leaf)
                self._corrected.add(body["corrects"])
        if len(self.rows) > MAX_BUNDLE_RECORDS:
            raise TooLargeError(
                f"evidence: more than {MAX_BUNDLE_RECORDS} records with what they were judged "
                "by: narrow the scope"
            )
        # A correction is judged as the record it makes (its equipment, its sampling stream).
        for target in sorted(self._corrected):
            if target not in self.leaf_of:
                continue  # fetched by its id in the next round
            self._corrected.discard(target)
            body = copy.deepcopy(self.bodies[self.leaf_of[target]])
            for leaf in sorted(self._corrections[target]):
                for change in self.bodies[leaf].get("changes") or ():
                    try:
                        apply_change(body, change["path"], copy.deepcopy(change["value"]))
                    except (Refused, KeyError, IndexError, TypeError, ValueError):
                        continue  # refused by the rules: the verifier names it
                self._read(body, leaf)

    def _read(self, body: dict[str, Any], leaf: int) -> None:
        subjects, ids = _reads(body)
        self.subjects |= subjects
        self.ids |= ids
        if body.get("type") == "inspection" and isinstance(body.get("sampling"), dict):
            try:
                stream = stream_of(body)
            except (KeyError, TypeError, AttributeError):
                return
            self.streams[stream] = max(self.streams.get(stream, -1), leaf)

    def _lot(self, lot: str, leaf: int) -> None:
        """Another lot, read up to ``leaf``: from its first record, so its chain verifies."""
        if lot not in self.full and leaf > self.lots.get(lot, -1):
            self.lots[lot] = leaf

    def _links(self, links: Sequence[Any]) -> None:
        for link in links:
            self.ids.add(str(link.record_id))
            if link.other is None:
                continue
            if link.kind == "receive":
                self.subjects.add(f"supplier:{link.other}")
            elif link.kind == "input":
                self._lot(str(link.other), int(link.hi))


def _reads(body: dict[str, Any]) -> tuple[set[str], set[str]]:
    """What the rules read to judge ``body`` besides its own lot, its own subject and its
    signer's training: (subjects, record ids). A body of another shape than its schema's reads
    what it names until it does not (the verifier names it)."""
    subjects: set[str] = set()
    ids: set[str] = set()
    rtype = body.get("type")
    try:
        if rtype == "inspection":
            spec, retest = body.get("specification"), body.get("retest")
            sampling = body.get("sampling")
            if isinstance(spec, dict):
                subjects.add(f"specification:{spec['spec_id']}")
            if body.get("supplier"):
                subjects.add(f"supplier:{body['supplier']}")
            if isinstance(retest, dict):  # the failed inspection and its investigation
                ids.add(str(retest["of"]))
                subjects.add(f"ncr:{retest['ncr_id']}")
            if isinstance(sampling, dict) and sampling.get("resumes") is not None:
                subjects.add(f"capa:{sampling['resumes']}")  # its corrective action
            subjects.update(f"equipment:{e}" for e in master.equipment_used(body))
        elif rtype == "specification":  # the change that brings it into force
            subjects.add(f"change:{body['change_id']}")
        elif rtype == "change":  # the specification versions it approves
            subjects.update(
                f"specification:{s['spec_id']}" for s in body.get("specifications") or ()
            )
        elif rtype == "ncr":
            if body.get("capa_id"):
                subjects.add(f"capa:{body['capa_id']}")
            ids.update(str(ref) for ref in body.get("refs") or ())
        elif rtype == "capa":
            if body.get("ncr_id"):  # the NCR it was opened for, of whichever lot
                subjects.add(f"ncr:{body['ncr_id']}")
            ids.update(str(d) for d in body.get("data") or ())  # an effectiveness check's data
        elif rtype == "correction":
            ids.add(str(body["corrects"]))
        elif rtype == "review":
            ids.add(str(body["reviews"]))
        elif rtype == "alert":
            ids.update(str(ref) for ref in body.get("refs") or ())
    except (KeyError, TypeError, AttributeError):
        pass
    return subjects, ids


def _consumed_at(body: dict[str, Any]) -> str | None:
    """The station of a consume scan that names no lot (the station's lot is consumed into)."""
    if body.get("type") != "scan" or body.get("operation") != "consume" or body.get("lot"):
        return None
    station = body.get("station")
    return station if isinstance(station, str) else None


def _grown(wanted: dict[str, int], fetched: dict[str, int]) -> list[tuple[str, int, int]]:
    """(key, fetched up to, wanted up to) for each key wanted further than fetched."""
    return sorted(
        (key, fetched.get(key, -1), hi) for key, hi in wanted.items() if hi > fetched.get(key, -1)
    )


_CHUNK = 5000


def _chunks(items: Sequence[Any]) -> list[Sequence[Any]]:
    return [items[i : i + _CHUNK] for i in range(0, len(items), _CHUNK)]


def _values(rows: Sequence[tuple[str, int, int]]) -> Any:
    """A VALUES list (key, lo, hi) to join records against: those of key in (lo, hi]."""
    return sa.values(
        sa.column("key", sa.String),
        sa.column("lo", sa.BigInteger),
        sa.column("hi", sa.BigInteger),
        name="want",
    ).data(list(rows))


#: The fields that say what a record decided, by record type, shown in the report.
_SAYS = {
    "inspection": ("stage", "verdict"),
    "release": ("decision",),
    "ncr": ("disposition", "nature"),
    "capa": ("effective",),
    "correction": ("corrects", "reason"),
    "signer": ("action", "name", "roles"),
    "scan": ("operation", "station"),
    "process_reading": ("tag", "value", "unit"),
    "alert": ("severity", "description"),
    "recall": ("recall_id", "drill", "reason"),
}


def _says(body: dict[str, Any]) -> str:
    parts = []
    for key in _SAYS.get(str(body.get("type")), ()):
        value = body.get(key)
        if value is not None:
            shown = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
            parts.append(f"{key} {shown[:120]}")
    return "; ".join(parts)


_CSS = (
    "body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}"
    "table{border-collapse:collapse;width:100%}th,td{border:1px solid #ccc;padding:4px 6px;"
    "text-align:left;vertical-align:top}th{background:#f3f3f3}code{font-size:12px}"
    "small{color:#666;font-size:11px}ul{margin:0;padding-left:1.2em}.n{white-space:nowrap}"
)
