"""Proofs: receipts, checkpoints and consistency proofs, read from the stored log.

proofs = Proofs(engine)
receipt = proofs.receipt("INS-1")  # status pending / sealed / anchored
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from evledger_verify.receipt import RECEIPT_FORMAT

from ledger import tree
from ledger.errors import BadRequestError, NotFoundError
from ledger.models import Anchor, Checkpoint, LogLeaf, Record
from ledger.storage import LIVE_ANCHOR, DbNodeStore, anchor_state, iso_utc

__all__ = ["Proofs"]


class Proofs:
    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def receipt(self, record_id: str) -> dict[str, Any]:
        """The receipt for a record; ``status`` says pending / sealed / anchored."""
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(
                    Record.record_id,
                    Record.record_hash,
                    Record.entry,
                    Record.leaf_hash,
                    LogLeaf.leaf_index,
                )
                .outerjoin(LogLeaf, LogLeaf.seq == Record.seq)
                .where(Record.record_id == record_id)
            ).first()
            if row is None:
                raise NotFoundError(f"record {record_id!r}: not found")
            base: dict[str, Any] = {
                "format": RECEIPT_FORMAT,
                "record_id": row.record_id,
                "record_hash": bytes(row.record_hash).hex(),
                "entry": json.loads(row.entry),
                "leaf_hash": bytes(row.leaf_hash).hex(),
            }
            if row.leaf_index is None:
                return {"status": "pending", **base}
            idx = int(row.leaf_index)
            anchor = conn.execute(
                sa.select(Anchor, anchor_state("final").label("final"))
                .where(Anchor.tree_size > idx, LIVE_ANCHOR)
                .order_by(Anchor.tree_size.desc())
                .limit(1)
            ).first()
            if anchor is not None:
                size = anchor.tree_size
            else:
                size = conn.execute(sa.select(sa.func.max(Checkpoint.tree_size))).scalar_one()
            cp = conn.execute(sa.select(Checkpoint).where(Checkpoint.tree_size == size)).one()
            proof = tree.inclusion_proof(DbNodeStore(conn), idx, size)
        return {
            "status": "anchored" if anchor else "sealed",
            **base,
            "leaf_index": idx,
            "tree_size": size,
            "root_hash": bytes(cp.root_hash).hex(),
            "inclusion_proof": [p.hex() for p in proof],
            "checkpoint": cp.note,
            "anchor": None
            if anchor is None
            else {
                "chain_id": anchor.chain_id,
                "contract": anchor.contract,
                "tx_hash": anchor.tx_hash,
                "block_number": anchor.block_number,
                "block_hash": anchor.block_hash,
                "log_index": anchor.log_index,
                # included: in a block of the canonical chain; final: past the chain's
                # finality (a reorganization can no longer remove it).
                "state": "final" if anchor.final else "included",
            },
        }

    def checkpoint(self, tree_size: int | None = None) -> dict[str, Any]:
        with self.engine.connect() as conn:
            q = sa.select(Checkpoint)
            q = (
                q.where(Checkpoint.tree_size == tree_size)
                if tree_size is not None
                else q.order_by(Checkpoint.tree_size.desc()).limit(1)
            )
            cp = conn.execute(q).first()
            if cp is None:
                raise NotFoundError(
                    "checkpoint: none yet"
                    if tree_size is None
                    else f"checkpoint: none at tree size {tree_size}"
                )
            anchor = conn.execute(
                sa.select(Anchor).where(Anchor.tree_size == cp.tree_size, LIVE_ANCHOR)
            ).first()
        return {
            "tree_size": cp.tree_size,
            "root_hash": bytes(cp.root_hash).hex(),
            "checkpoint": cp.note,
            "created_at": iso_utc(cp.created_at),
            "anchored": anchor is not None,
            "anchor_tx_hash": anchor.tx_hash if anchor else None,
        }

    def consistency(self, first: int, second: int) -> dict[str, Any]:
        if not 1 <= first <= second:
            raise BadRequestError(
                f"consistency proof: expected 1 <= first <= second, got {first}, {second}"
            )
        with self.engine.connect() as conn:
            have = (
                conn.execute(
                    sa.select(Checkpoint.tree_size).where(Checkpoint.tree_size.in_([first, second]))
                )
                .scalars()
                .all()
            )
            size = conn.execute(sa.select(sa.func.max(LogLeaf.leaf_index))).scalar_one()
            if second not in have and (size is None or second > size + 1):
                raise NotFoundError(f"consistency proof: the log has no tree of size {second}")
            proof = tree.consistency_proof(DbNodeStore(conn), first, second)
        return {"first": first, "second": second, "proof": [p.hex() for p in proof]}
