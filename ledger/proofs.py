"""Proofs: receipts, checkpoints and consistency proofs, read from the stored log.

proofs = Proofs(engine, primary_chain_id)
receipt = proofs.receipt("INS-1")  # status pending / sealed / anchored

A receipt proves its record under one signed checkpoint (``tree_size``). ``anchors`` holds one
anchor per chain the log is anchored on: that chain's final anchor covering the record if it
has one, else its newest; an anchor of another tree size comes with the RFC 9162 consistency
proof between the two sizes, so each chain's anchor proves the record on its own. ``anchor``
(the anchor at the receipt's own size, the primary chain's when it has one) is kept for
verifiers that know one chain only. ``signer`` is the signer registry record in force for the
record's key when it was logged (the grant, with its own logged entry and inclusion proof in
the same tree), so a verifier shows the printed name and roles it proved, not claimed, and a
receipt reveals no other signer.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from evledger_verify.receipt import RECEIPT_FORMAT
from sqlalchemy.dialects.postgresql import distinct_on

from ledger import tree
from ledger.errors import BadRequestError, NotFoundError
from ledger.models import Anchor, AnchorProof, Checkpoint, LogLeaf, Record
from ledger.storage import LIVE_ANCHOR, DbNodeStore, anchor_state, iso_utc

__all__ = ["Proofs", "anchor_entries", "chain_anchors"]


class Proofs:
    def __init__(self, engine: sa.Engine, primary_chain_id: int) -> None:
        self.engine = engine
        self.primary_chain_id = primary_chain_id

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
            chosen = chain_anchors(conn, idx)
            primary = [a for a in chosen if a.chain_id == self.primary_chain_id]
            if chosen:
                size = (primary or sorted(chosen, key=lambda a: -a.tree_size))[0].tree_size
            else:
                size = conn.execute(sa.select(sa.func.max(Checkpoint.tree_size))).scalar_one()
            cp = conn.execute(sa.select(Checkpoint).where(Checkpoint.tree_size == size)).one()
            nodes = DbNodeStore(conn)
            proof = tree.inclusion_proof(nodes, idx, size)
            anchors = anchor_entries(nodes, chosen, size, self.primary_chain_id)
            signer = _signer_proof(conn, nodes, base["entry"].get("signer"), idx, size)
        at_size = [a for a in chosen if a.tree_size == size]
        at_size.sort(key=lambda a: a.chain_id != self.primary_chain_id)
        return {
            "status": "anchored" if chosen else "sealed",
            **base,
            "leaf_index": idx,
            "tree_size": size,
            "root_hash": bytes(cp.root_hash).hex(),
            "inclusion_proof": [p.hex() for p in proof],
            "checkpoint": cp.note,
            "anchor": _anchor_json(at_size[0]) if at_size else None,
            "anchors": anchors,
            **({"signer": signer} if signer is not None else {}),
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
            anchors = conn.execute(
                sa.select(Anchor.chain_id, Anchor.tx_hash)
                .where(Anchor.tree_size == cp.tree_size, LIVE_ANCHOR)
                .order_by(Anchor.chain_id != self.primary_chain_id, Anchor.chain_id)
            ).all()
        return {
            "tree_size": cp.tree_size,
            "root_hash": bytes(cp.root_hash).hex(),
            "checkpoint": cp.note,
            "created_at": iso_utc(cp.created_at),
            "anchored": bool(anchors),
            "anchor_tx_hash": anchors[0].tx_hash if anchors else None,
            "anchors": [{"chain_id": a.chain_id, "tx_hash": a.tx_hash} for a in anchors],
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


def _signer_proof(
    conn: sa.Connection, nodes: tree.NodeStore, address: Any, below: int, size: int
) -> dict[str, Any] | None:
    """The last signer record for ``address`` logged before leaf ``below``, with its entry
    and its inclusion proof in the tree of ``size`` (None: no such record, e.g. a receipt of
    the ledger's very first grant, which is its own)."""
    if not isinstance(address, str):
        return None
    rows = conn.execute(
        sa.select(Record.body, Record.entry, LogLeaf.leaf_index)
        .join(LogLeaf, LogLeaf.seq == Record.seq)
        .where(Record.record_type == "signer", LogLeaf.leaf_index < below)
        .order_by(Record.seq.desc())  # log order (ix_records_record_type_seq)
    )
    for body, entry, leaf_index in rows:
        record = json.loads(body)
        if str(record.get("address", "")).lower() == address.lower():
            return {
                "record": record,
                "entry": json.loads(entry),
                "leaf_index": int(leaf_index),
                "inclusion_proof": [
                    p.hex() for p in tree.inclusion_proof(nodes, int(leaf_index), size)
                ],
            }
    return None


def _anchor_json(a: Any) -> dict[str, Any]:
    return {
        "chain_id": a.chain_id,
        "contract": a.contract,
        "tx_hash": a.tx_hash,
        "block_number": a.block_number,
        "block_hash": a.block_hash,
        "log_index": a.log_index,
        # included: in a block of the canonical chain; final: past the chain's finality (a
        # reorganization can no longer remove it).
        "state": "final" if a.final else "included",
        # A final anchor proven offline: the block header and the receipts-trie path to the
        # anchor transaction's receipt (evledger_verify.evm).
        **(
            {
                "proof": {
                    "block_header": bytes(a.block_header).hex(),
                    "tx_index": a.tx_index,
                    "receipt_proof": json.loads(a.receipt_proof),
                }
            }
            if a.block_header is not None
            else {}
        ),
    }


def chain_anchors(conn: sa.Connection, last_leaf: int) -> list[Any]:
    """Per chain, the anchor that proves leaves up to ``last_leaf``: its final one if it has
    one, else its newest; each with its offline proof when cut."""
    final = anchor_state("final").label("final")
    return list(
        conn.execute(
            sa.select(
                Anchor,
                final,
                AnchorProof.block_header,
                AnchorProof.tx_index,
                AnchorProof.receipt_proof,
            )
            .outerjoin(
                AnchorProof,
                sa.and_(
                    AnchorProof.chain_id == Anchor.chain_id,
                    AnchorProof.tx_hash == Anchor.tx_hash,
                    AnchorProof.block_hash == Anchor.block_hash,
                ),
            )
            .where(Anchor.tree_size > last_leaf, LIVE_ANCHOR)
            .order_by(Anchor.chain_id, final.desc(), Anchor.tree_size.desc())
            .ext(distinct_on(Anchor.chain_id))
        ).all()
    )


def anchor_entries(
    nodes: tree.NodeStore, chosen: list[Any], size: int, primary_chain_id: int
) -> list[dict[str, Any]]:
    """The anchors (``chain_anchors``) as receipts and bundles carry them, the primary chain's
    first: each with the tree size and root its contract holds and the consistency proof to
    the checkpoint of ``size``."""
    return [
        {
            **_anchor_json(a),
            "tree_size": a.tree_size,
            "root_hash": bytes(a.root_hash).hex(),
            "consistency_proof": []
            if a.tree_size == size
            else [
                p.hex()
                for p in tree.consistency_proof(
                    nodes, min(a.tree_size, size), max(a.tree_size, size)
                )
            ],
        }
        for a in sorted(chosen, key=lambda a: (a.chain_id != primary_chain_id, a.chain_id))
    ]
