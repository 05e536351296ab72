"""Storage: reading the ledger's rows back as values (stored records, tree nodes).

Workers (sealer, anchorer, audit) and the read side import from here, never from the module
the routes use.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import psycopg2
import sqlalchemy as sa
from evledger_verify.rules import utc_iso

from ledger import tree
from ledger.domain.lots import Stored, apply_corrections
from ledger.models import Anchor, AnchorState, Record, TreeNode
from ledger.signers import Registry

__all__ = [
    "LIVE_ANCHOR",
    "STORED_COLUMNS",
    "DbNodeStore",
    "anchor_state",
    "copy_records",
    "copy_rows",
    "iso_utc",
    "load_lot",
    "load_stored",
    "to_stored",
]


def anchor_state(state: str) -> sa.ColumnElement[bool]:
    """Whether the ``anchors`` row at hand has reached ``state`` (final, orphaned)."""
    return sa.exists().where(
        AnchorState.tree_size == Anchor.tree_size,
        AnchorState.tx_hash == Anchor.tx_hash,
        AnchorState.block_hash == Anchor.block_hash,
        AnchorState.state == state,
    )


#: Anchors a reorganization did not remove (what receipts, status and the audit rely on).
LIVE_ANCHOR = ~anchor_state("orphaned")


def iso_utc(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


class DbNodeStore:
    """Tree nodes from ``tree_nodes``, fetched in one query per computation."""

    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def get_nodes(self, keys: Iterable[tree.NodeKey]) -> dict[tree.NodeKey, bytes]:
        keys = list(keys)
        if not keys:
            return {}
        rows = self.conn.execute(
            sa.select(TreeNode.level, TreeNode.idx, TreeNode.hash).where(
                sa.tuple_(TreeNode.level, TreeNode.idx).in_(keys)
            )
        )
        return {(int(level), int(idx)): bytes(h) for level, idx, h in rows}


#: The columns a :class:`Stored` record is made of, in :func:`to_stored` order.
STORED_COLUMNS = (
    Record.record_id,
    Record.record_type,
    Record.body,
    Record.record_hash,
    Record.signer,
    Record.meaning,
    Record.signed_at,
    Record.accepted_at,
)


def to_stored(
    registry: Registry,
    record_id: str,
    rtype: str,
    body: bytes,
    record_hash: bytes,
    signer: str,
    meaning: str,
    signed_at: int,
    accepted_at: str,
) -> Stored:
    """A stored record with the printed name its signer had at the signing time."""
    state = registry.get(signer)
    return Stored(
        record_id=record_id,
        type=rtype,
        body=json.loads(body),
        record_hash=record_hash.hex(),
        signer=signer,
        printed_name=state.name_at(signed_at) if state else None,
        meaning=meaning,
        signed_at=utc_iso(signed_at),
        accepted_at=accepted_at,
    )


def load_stored(conn: sa.Connection, registry: Registry, where: Any) -> list[Stored]:
    """Stored records matching ``where``, in acceptance order, with printed names."""
    return [
        to_stored(
            registry,
            r.record_id,
            r.record_type,
            bytes(r.body),
            bytes(r.record_hash),
            r.signer,
            r.meaning,
            int(r.signed_at),
            r.accepted_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        )
        for r in conn.execute(sa.select(*STORED_COLUMNS).where(where).order_by(Record.seq))
    ]


def load_lot(conn: sa.Connection, registry: Registry, lot: str) -> list[Stored]:
    """A lot's records with their corrections applied."""
    return apply_corrections(load_stored(conn, registry, Record.lot == lot))


_RECORD_COLUMNS = (
    "seq",
    "record_id",
    "record_type",
    "lot",
    "subject",
    "body",
    "record_hash",
    "signer",
    "meaning",
    "signed_at",
    "signature",
    "entry",
    "leaf_hash",
    "accepted_at",
)
#: The columns are this module's constants, not input.
_INSERT_ONE = (
    f"WITH ins AS (INSERT INTO records ({', '.join(_RECORD_COLUMNS[1:])}) "  # noqa: S608
    f"VALUES ({', '.join(['%s'] * (len(_RECORD_COLUMNS) - 1))}) RETURNING seq) "
    "INSERT INTO seal_queue (seq) SELECT seq FROM ins"
)
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"})


def _copy_field(value: Any) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, bytes):
        return "\\\\x" + value.hex()
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value).translate(_COPY_ESCAPES)


def copy_rows(
    conn: sa.Connection, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> None:
    """COPY ``rows`` into ``table`` inside the connection's transaction."""
    buffer = io.StringIO()
    for row in rows:
        buffer.write("\t".join(_copy_field(v) for v in row))
        buffer.write("\n")
    buffer.seek(0)
    cursor = conn.connection.cursor()
    try:
        cursor.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN", buffer)
    except psycopg2.IntegrityError as exc:
        raise sa.exc.IntegrityError(f"COPY {table}", None, exc) from exc
    finally:
        cursor.close()


def copy_records(conn: sa.Connection, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` (keys: the columns of ``records`` but ``seq``) and queue them for the
    sealer; sequence numbers ascend in the order of ``rows``, so a lot's chain follows the log.

    A record id that already exists raises :class:`sqlalchemy.exc.IntegrityError`, and the
    transaction is then lost: callers look ids up first, under the locks they hold.
    """
    if len(rows) == 1:  # a single submission: one statement inserts and queues it
        conn.exec_driver_sql(_INSERT_ONE, tuple(rows[0][c] for c in _RECORD_COLUMNS[1:]))
        return
    seqs = sorted(
        conn.exec_driver_sql(
            "SELECT nextval('records_seq_seq') FROM generate_series(1, %(n)s)", {"n": len(rows)}
        ).scalars()
    )
    copy_rows(
        conn,
        "records",
        _RECORD_COLUMNS,
        (
            [seq, *(row[c] for c in _RECORD_COLUMNS[1:])]
            for seq, row in zip(seqs, rows, strict=True)
        ),
    )
    copy_rows(conn, "seal_queue", ("seq",), ((s,) for s in seqs))
