"""Each final anchor's offline proof: the block header (RLP) and the receipts-trie path to the
anchor transaction's receipt, cut once from the node when the anchor becomes final, so that
receipts and evidence bundles prove the anchor without any node. Append-only.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

APP_ROLE = "evledger_app"


def upgrade() -> None:
    op.create_table(
        "anchor_proofs",
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("block_hash", sa.String(length=66), nullable=False),
        sa.Column("block_header", sa.LargeBinary(), nullable=False),
        sa.Column("tx_index", sa.BigInteger(), nullable=False),
        sa.Column("receipt_proof", sa.Text(), nullable=False),
        sa.Column("cut_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "tx_hash", "block_hash", name=op.f("pk_anchor_proofs")),
    )
    op.execute(
        "CREATE TRIGGER anchor_proofs_append_only BEFORE UPDATE OR DELETE ON anchor_proofs "
        "FOR EACH ROW EXECUTE FUNCTION evledger_refuse_change()"
    )
    op.execute(
        "CREATE TRIGGER anchor_proofs_no_truncate BEFORE TRUNCATE ON anchor_proofs "
        "FOR EACH STATEMENT EXECUTE FUNCTION evledger_refuse_change()"
    )
    op.execute(f"REVOKE ALL ON anchor_proofs FROM {APP_ROLE}")
    op.execute(f"GRANT SELECT, INSERT ON anchor_proofs TO {APP_ROLE}")


def downgrade() -> None:
    op.drop_table("anchor_proofs")
