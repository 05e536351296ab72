"""Evidence bundles (``evledger-bundle/1``): one zip file an auditor verifies fully offline with
``evledger-verify bundle``, for a lot or for a period.

Members, and nothing else:

- ``manifest.json``: the format, the scope, the log, the policy the rules were judged under,
  the checkpoint's tree size, counts, and each other member's SHA-256 and size;
- ``records.jsonl``: one line per record, in log order: its leaf index, whether it is in the
  scope, the record and its log entry (signature included). Besides the records of the scope it
  holds what judging them needs: every signer-registry record, every record of the lots
  involved and of the lots they were made from (a lot's chain is complete) with the records
  proving that genealogy, the history of the workflows they belong to, and the master data
  they relied on (specifications and the changes that approved them, instruments and their
  calibrations, supplier status decisions);
- ``proofs.json``: the signed checkpoint, a multiproof of every record's leaf under it, and
  each chain's anchor with the consistency proof to the checkpoint and, when final, the block
  header and receipts-trie path that prove it offline;
- ``report.html``: the records for people, each with its signature manifestation (printed name,
  UTC time, meaning) and its corrections.

Records logged after the newest anchor are left out (counted in the manifest): a bundle proves
what is anchored.
"""

from __future__ import annotations

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
from evledger_verify.rules import POLICY_VERSION

from ledger import genealogy, tree
from ledger.domain.lots import Stored, apply_corrections
from ledger.errors import BadRequestError, NotFoundError, TooLargeError
from ledger.identity import Identity
from ledger.models import Anchor, Checkpoint, GenealogyLink, LogLeaf, Record
from ledger.proofs import anchor_entries, chain_anchors
from ledger.signers import load_registry
from ledger.storage import LIVE_ANCHOR, DbNodeStore, to_stored

__all__ = ["BUNDLE_FORMAT", "MAX_BUNDLE_RECORDS", "Exporter"]

BUNDLE_FORMAT = "evledger-bundle/1"
#: Records per bundle (the verifier reads at most this many).
MAX_BUNDLE_RECORDS = 200_000


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
        # The lots they were made from (the supplier rule reads how those were received), and
        # the records proving the genealogy (a scan may name no ledger lot of its own).
        lots |= set(genealogy.trace(conn, sorted(lots), "backward").nodes)
        proving = sa.select(GenealogyLink.record_id).where(GenealogyLink.lot.in_(lots))
        subjects = set(
            conn.execute(
                sa.select(Record.subject)
                .distinct()
                .where(
                    sa.or_(Record.seq.in_(scoped), Record.lot.in_(lots)),
                    Record.subject.isnot(None),
                )
            ).scalars()
        )
        subjects |= self._master(conn, lots)
        capas = {
            f"capa:{body['capa_id']}"
            for (raw,) in conn.execute(
                sa.select(Record.body).where(Record.lot.in_(lots), Record.record_type == "ncr")
            )
            if (body := json.loads(raw)).get("capa_id")
        }
        context = sa.or_(
            Record.record_type == "signer",
            Record.lot.in_(lots),
            Record.subject.in_(subjects | capas),
            Record.record_id.in_(proving),
        )
        in_scope = Record.seq.in_(scoped)
        rows = conn.execute(
            sa.select(LogLeaf.leaf_index, Record.body, Record.entry, in_scope.label("in_scope"))
            .join(Record, Record.seq == LogLeaf.seq)
            .where(LogLeaf.leaf_index < anchored, sa.or_(in_scope, context))
            .order_by(LogLeaf.leaf_index)
        ).all()
        if len(rows) > MAX_BUNDLE_RECORDS:
            raise TooLargeError(
                f"evidence: {len(rows)} records with their context, at most "
                f"{MAX_BUNDLE_RECORDS} per bundle: narrow the scope"
            )
        proofs = self._proofs(conn, [int(r.leaf_index) for r in rows], anchored)
        lines = [
            json.dumps(
                {
                    "leaf_index": int(r.leaf_index),
                    "in_scope": r.in_scope,
                    "record": json.loads(r.body),
                    "entry": json.loads(r.entry),
                },
                separators=(",", ":"),
                sort_keys=True,
            )
            for r in rows
        ]
        records = ("\n".join(lines) + "\n").encode()
        report = self._report(conn, scope, rows, proofs).encode()
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

    @staticmethod
    def _master(conn: sa.Connection, lots: set[str]) -> set[str]:
        """The master data the lots' records relied on, as subjects: the specifications their
        inspections cite and the changes that brought them into force, the instruments they
        used (with every calibration), the suppliers they were received from."""
        out: set[str] = set()
        for (raw,) in conn.execute(
            sa.select(Record.body).where(Record.lot.in_(lots), Record.record_type == "inspection")
        ):
            body = json.loads(raw)
            if isinstance(body.get("specification"), dict):
                out.add(f"specification:{body['specification']['spec_id']}")
            out.update(f"equipment:{e}" for e in master.equipment_used(body))
            if body.get("supplier"):
                out.add(f"supplier:{body['supplier']}")
        specs = [s for s in out if s.startswith("specification:")]
        if specs:
            for (raw,) in conn.execute(sa.select(Record.body).where(Record.subject.in_(specs))):
                out.add(f"change:{json.loads(raw)['change_id']}")
        out.update(
            f"supplier:{other}"
            for other in conn.execute(
                sa.select(GenealogyLink.other)
                .distinct()
                .where(
                    GenealogyLink.kind == "receive",
                    GenealogyLink.lot.in_(lots),
                    GenealogyLink.other.isnot(None),
                )
            ).scalars()
        )
        return out

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
        conn: sa.Connection,
        scope: dict[str, str],
        rows: Sequence[Any],
        proofs: dict[str, Any],
    ) -> str:
        registry = load_registry(conn)
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
