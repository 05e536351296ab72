"""The anchorer: writes the newest checkpoint to the EvidenceAnchor contract.

Each round compares the chain's latest anchored (size, root) with the log: the chain's root
must be the log's root at that size (otherwise the log was forked or rewritten and anchoring
stops loudly); a newer checkpoint is anchored with a consistency proof from the chain's size,
one transaction whatever the number of records. A crash between sending and recording is
recovered from the contract's ``Anchored`` event, so nothing is anchored twice.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime

import sqlalchemy as sa

from ledger import locks, tree
from ledger.chain import AnchorResult, Chain
from ledger.errors import ChainError, LedgerError
from ledger.identity import Identity
from ledger.models import Anchor, Checkpoint
from ledger.storage import DbNodeStore

__all__ = ["Anchorer"]

ANCHORER_LOCK = locks.ANCHORER
log = logging.getLogger("evledger.anchorer")


class Anchorer:
    def __init__(
        self, engine: sa.Engine, chain: Chain, identity: Identity, from_block: int = 0
    ) -> None:
        self.engine = engine
        self.chain = chain
        self.identity = identity
        self.from_block = from_block
        self.last_error: str | None = None
        #: Where each round's outcome goes (ledger.health.Reporter); a no-op by default.
        self.report: Callable[[bool, str], None] = lambda ok, detail: None

    def anchor_once(self) -> AnchorResult | None:
        with self.engine.connect() as conn:
            if not conn.execute(sa.select(sa.func.pg_try_advisory_lock(ANCHORER_LOCK))).scalar():
                return None
            try:
                return self._round(conn)
            finally:
                self._unlock(conn)

    @staticmethod
    def _unlock(conn: sa.Connection) -> None:
        """Release the session lock whatever happened; never hide the round's own error. A
        failed statement leaves the transaction aborted (roll it back first); when even that
        fails, the connection is dropped, which releases every lock its session held (a
        pooled connection must never keep the anchorer's lock)."""
        try:
            conn.rollback()
            conn.execute(sa.select(sa.func.pg_advisory_unlock(ANCHORER_LOCK)))
            conn.commit()
        except sa.exc.SQLAlchemyError as exc:
            log.warning("anchorer: could not release its lock (%s); dropping the connection", exc)
            conn.invalidate()

    def _round(self, conn: sa.Connection) -> AnchorResult | None:
        latest = conn.execute(
            sa.select(Checkpoint.tree_size, Checkpoint.root_hash)
            .order_by(Checkpoint.tree_size.desc())
            .limit(1)
        ).first()
        chain_size, chain_root = self.chain.latest()
        if chain_size:
            ours = conn.execute(
                sa.select(Checkpoint.root_hash).where(Checkpoint.tree_size == chain_size)
            ).scalar_one_or_none()
            if ours is None or bytes(ours) != chain_root:
                raise ChainError(
                    f"anchor: the chain holds root {chain_root.hex()} at size {chain_size}, "
                    f"the log has {'no checkpoint' if ours is None else bytes(ours).hex()} there: "
                    "the log and the chain disagree; run `evledger audit`"
                )
            self._record_if_missing(conn, chain_size)
        if latest is None or latest.tree_size <= chain_size:
            return None
        proof = tree.consistency_proof(DbNodeStore(conn), chain_size, latest.tree_size)
        result = self.chain.anchor(latest.tree_size, bytes(latest.root_hash), proof)
        self._insert(conn, result)
        log.info("anchored tree size %d in tx %s", result.tree_size, result.tx_hash)
        return result

    def _record_if_missing(self, conn: sa.Connection, size: int) -> None:
        have = conn.execute(sa.select(Anchor.tree_size).where(Anchor.tree_size == size)).first()
        if have is not None:
            return
        found = self.chain.find_anchor(size, self.from_block)
        if found is None:
            raise ChainError(f"anchor: contract holds size {size} but no Anchored event found")
        log.info("recovered anchor of size %d from tx %s", size, found.tx_hash)
        self._insert(conn, found)

    def _insert(self, conn: sa.Connection, r: AnchorResult) -> None:
        conn.execute(
            sa.insert(Anchor).values(
                tree_size=r.tree_size,
                root_hash=r.root_hash,
                chain_id=self.identity.chain_id,
                contract=self.identity.contract,
                tx_hash=r.tx_hash,
                block_number=r.block_number,
                block_hash=r.block_hash,
                log_index=r.log_index,
                anchored_at=datetime.now(UTC),
            )
        )
        conn.commit()

    def run(self, stop: threading.Event, interval: float) -> None:
        """Anchor until ``stop`` is set. Chain outages back off (capped) and retry."""
        delay = interval
        while not stop.is_set():
            try:
                self.anchor_once()
                self.last_error = None
                self.report(True, "")
                delay = interval
            except (LedgerError, sa.exc.SQLAlchemyError) as exc:
                self.last_error = str(exc)
                self.report(False, str(exc).splitlines()[0][:500])
                log.error("anchorer: %s (retrying in %.1f s)", exc, delay)
                delay = min(delay * 2, 60.0)
            stop.wait(delay)
