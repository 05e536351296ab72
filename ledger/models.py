"""Database tables. Evidence tables are append-only: rows are inserted, never updated.

``records`` holds each accepted submission with its canonical body and the log entry that
commits to it; ``log_leaves`` gives each record its leaf index (the sealer's only write to the
log besides nodes and checkpoints); ``tree_nodes`` stores the hash of every complete subtree so
any proof needs O(log n) reads; ``checkpoints`` and ``anchors`` are what was signed and what the
chain confirmed. ``seal_queue`` is work, not evidence: the sealer deletes what it sealed.

``genealogy_links`` and ``genealogy_state`` are a projection, not evidence: the lot graph built
from the log in leaf order (``ledger.genealogy``), rebuildable from it and checked against it by
the audit.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    LargeBinary,
    MetaData,
    Numeric,
    SmallInteger,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "Anchor",
    "AnchorProof",
    "AnchorState",
    "AnchorSubmission",
    "Base",
    "Checkpoint",
    "GenealogyLink",
    "GenealogyState",
    "LedgerMeta",
    "LogLeaf",
    "Record",
    "SealQueue",
    "TreeNode",
    "WorkerStatus",
]

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class LedgerMeta(Base):
    """Identity of this ledger: chain id, contract, log origin and key. Written once."""

    __tablename__ = "ledger_meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Record(Base):
    __tablename__ = "records"
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    record_id: Mapped[str] = mapped_column(String(128), unique=True)
    record_type: Mapped[str] = mapped_column(String(64))
    lot: Mapped[str | None] = mapped_column(String(128))
    #: The workflow entity (ncr:ID, capa:ID, change:ID) or corrected record (record:ID).
    subject: Mapped[str | None] = mapped_column(String(140))
    body: Mapped[bytes] = mapped_column(LargeBinary)  # RFC 8785 canonical bytes
    record_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    signer: Mapped[str] = mapped_column(String(42), index=True)
    meaning: Mapped[str] = mapped_column(String(64))
    signed_at: Mapped[int] = mapped_column(BigInteger)
    signature: Mapped[str] = mapped_column(String(132))
    entry: Mapped[bytes] = mapped_column(LargeBinary)  # RFC 8785 canonical log entry
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    accepted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SealQueue(Base):
    __tablename__ = "seal_queue"
    seq: Mapped[int] = mapped_column(ForeignKey("records.seq"), primary_key=True)


class LogLeaf(Base):
    __tablename__ = "log_leaves"
    leaf_index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(ForeignKey("records.seq"), unique=True)


class TreeNode(Base):
    """Hash of the complete subtree of 2**level leaves starting at leaf idx * 2**level."""

    __tablename__ = "tree_nodes"
    level: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class Checkpoint(Base):
    __tablename__ = "checkpoints"
    tree_size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    note: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Anchor(Base):
    """A checkpoint's root as included on chain (a transaction in a block). After a
    reorganization the same checkpoint may be anchored again: another row."""

    __tablename__ = "anchors"
    tree_size: Mapped[int] = mapped_column(
        ForeignKey("checkpoints.tree_size"), primary_key=True, autoincrement=False
    )
    root_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    chain_id: Mapped[int] = mapped_column(BigInteger)
    contract: Mapped[str] = mapped_column(String(42))
    tx_hash: Mapped[str] = mapped_column(String(66), primary_key=True)
    block_number: Mapped[int] = mapped_column(BigInteger)
    block_hash: Mapped[str] = mapped_column(String(66), primary_key=True)
    log_index: Mapped[int] = mapped_column(BigInteger)
    anchored_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AnchorProof(Base):
    """A final anchor's offline proof (evledger_verify.evm): the block header and the
    receipts-trie nodes (JSON list of hex) down to the anchor transaction's receipt."""

    __tablename__ = "anchor_proofs"
    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    tx_hash: Mapped[str] = mapped_column(String(66), primary_key=True)
    block_hash: Mapped[str] = mapped_column(String(66), primary_key=True)
    block_header: Mapped[bytes] = mapped_column(LargeBinary)
    tx_index: Mapped[int] = mapped_column(BigInteger)
    receipt_proof: Mapped[str] = mapped_column(Text)
    cut_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AnchorSubmission(Base):
    """An anchor transaction as sent (a replacement with higher fees is another row, naming the
    one it replaces). Append-only: with no ``anchors`` row yet, the anchor is *submitted*."""

    __tablename__ = "anchor_submissions"
    __table_args__ = (Index("ix_anchor_submissions_chain_size", "chain_id", "tree_size"),)
    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    tx_hash: Mapped[str] = mapped_column(String(66), primary_key=True)
    tree_size: Mapped[int] = mapped_column(BigInteger)
    nonce: Mapped[int] = mapped_column(BigInteger)
    max_fee_per_gas: Mapped[int] = mapped_column(Numeric(78, 0))
    replaces: Mapped[str | None] = mapped_column(String(66))
    sent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AnchorState(Base):
    """What became of an anchor: ``final`` (past the chain's finality) or ``orphaned`` (its
    block left the canonical chain). Append-only; an anchor with neither is ``included``."""

    __tablename__ = "anchor_states"
    tree_size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    tx_hash: Mapped[str] = mapped_column(String(66), primary_key=True)
    block_hash: Mapped[str] = mapped_column(String(66), primary_key=True)
    state: Mapped[str] = mapped_column(String(16), primary_key=True)
    observed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    detail: Mapped[str] = mapped_column(Text)


class GenealogyLink(Base):
    """One edge of the lot graph (ledger.domain.genealogy.Link) and the leaf that proves it."""

    __tablename__ = "genealogy_links"
    leaf_index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    n: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    record_id: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16))
    lot: Mapped[str] = mapped_column(String(128))
    other: Mapped[str | None] = mapped_column(String(200))
    gtin: Mapped[str | None] = mapped_column(String(14))
    quantity: Mapped[float | None] = mapped_column(Float)
    unit: Mapped[str | None] = mapped_column(String(16))
    at: Mapped[str | None] = mapped_column(String(64))
    via: Mapped[str | None] = mapped_column(String(128))
    accepted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class GenealogyState(Base):
    """How far the projection has read the log: leaves below ``next_leaf`` are projected."""

    __tablename__ = "genealogy_state"
    singleton: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    next_leaf: Mapped[int] = mapped_column(BigInteger)


class WorkerStatus(Base):
    """What a background worker last reported (ledger.health); not evidence."""

    __tablename__ = "worker_status"
    component: Mapped[str] = mapped_column(String(32), primary_key=True)
    ok: Mapped[bool] = mapped_column(Boolean)
    detail: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    #: JSON object of counters the worker keeps (the anchorer's transaction failures...).
    counters: Mapped[str] = mapped_column(Text, server_default="{}")


Index("ix_records_lot_seq", Record.lot, Record.seq)
Index("ix_genealogy_links_lot_kind", GenealogyLink.lot, GenealogyLink.kind)
Index("ix_genealogy_links_other_kind", GenealogyLink.other, GenealogyLink.kind)
Index("ix_records_subject_seq", Record.subject, Record.seq)
Index("ix_records_record_type_seq", Record.record_type, Record.seq)
