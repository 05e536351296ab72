"""The sealer: appends accepted records to the Merkle log and signs a checkpoint.

One sealer works at a time (PostgreSQL advisory lock, taken per transaction), so API replicas
and extra sealers can run without coordinating. Each round is one transaction: leaf indices,
tree nodes, the checkpoint and the removal from the queue commit together or not at all, so a
crash at any point loses nothing and duplicates nothing.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from evledger_verify.checkpoint import format_checkpoint_body, sign_note

from ledger import locks, tree
from ledger.models import Checkpoint, Record, SealQueue
from ledger.storage import DbNodeStore, copy_rows

__all__ = ["SEALER_LOCK", "Sealer"]

SEALER_LOCK = locks.SEALER
log = logging.getLogger("evledger.sealer")


class Sealer:
    def __init__(
        self, engine: sa.Engine, log_key: Ed25519PrivateKey, origin: str, batch: int = 5000
    ) -> None:
        self.engine = engine
        self.log_key = log_key
        self.origin = origin
        self.batch = batch
        #: Where each round's outcome goes (ledger.health.Reporter); a no-op by default.
        self.report: Callable[[bool, str], None] = lambda ok, detail: None

    def seal_once(self) -> int:
        """Seal up to ``batch`` waiting records; returns how many were sealed."""
        with self.engine.begin() as conn:
            if not conn.execute(sa.select(sa.func.pg_try_advisory_xact_lock(SEALER_LOCK))).scalar():
                return 0
            rows = conn.execute(
                sa.select(SealQueue.seq, Record.leaf_hash)
                .join(Record, Record.seq == SealQueue.seq)
                .order_by(SealQueue.seq)
                .limit(self.batch)
            ).all()
            if not rows:
                return 0
            size = conn.execute(sa.select(sa.func.max(Checkpoint.tree_size))).scalar_one() or 0
            old = DbNodeStore(conn).get_nodes(tree.frontier(size))
            new_nodes = tree.append_nodes(size, old, [bytes(r.leaf_hash) for r in rows])
            new_size = size + len(rows)
            copy_rows(
                conn,
                "log_leaves",
                ("leaf_index", "seq"),
                ((size + i, r.seq) for i, r in enumerate(rows)),
            )
            copy_rows(
                conn,
                "tree_nodes",
                ("level", "idx", "hash"),
                ((lv, ix, h) for (lv, ix), h in new_nodes.items()),
            )
            known = {**old, **new_nodes}
            root = tree.root(tree.MemoryStore(known), new_size)
            note = sign_note(
                format_checkpoint_body(self.origin, new_size, root), self.origin, self.log_key
            )
            conn.execute(
                sa.insert(Checkpoint).values(
                    tree_size=new_size, root_hash=root, note=note, created_at=datetime.now(UTC)
                )
            )
            conn.execute(sa.delete(SealQueue).where(SealQueue.seq.in_([r.seq for r in rows])))
        log.info("sealed %d records, tree size %d", len(rows), new_size)
        return len(rows)

    def run(self, stop: threading.Event, interval: float) -> None:
        """Seal until ``stop`` is set; errors are logged and retried, never fatal."""
        while not stop.is_set():
            try:
                while self.seal_once() and not stop.is_set():
                    pass
                self.report(True, "")
            except sa.exc.SQLAlchemyError as exc:
                log.error("sealer: database error, will retry: %s", exc.__class__.__name__)
                self.report(False, f"database error: {exc.__class__.__name__}")
            stop.wait(interval)
