"""The first steps of the anchor life cycle on record: each anchor transaction as it is sent
(and each replacement with higher fees), append-only. A checkpoint with no submission on a chain
is *pending* there; one with a submission but no anchor row is *submitted*; an anchor row is
*included*; ``anchor_states`` says *final* or *orphaned*.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

APP_ROLE = "evledger_app"


def upgrade() -> None:
    op.create_table(
        "anchor_submissions",
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("tree_size", sa.BigInteger(), nullable=False),
        sa.Column("nonce", sa.BigInteger(), nullable=False),
        sa.Column("max_fee_per_gas", sa.Numeric(78, 0), nullable=False),
        sa.Column("replaces", sa.String(length=66), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "tx_hash", name=op.f("pk_anchor_submissions")),
    )
    op.create_index(
        "ix_anchor_submissions_chain_size", "anchor_submissions", ["chain_id", "tree_size"]
    )
    op.execute(
        "CREATE TRIGGER anchor_submissions_append_only BEFORE UPDATE OR DELETE ON "
        "anchor_submissions FOR EACH ROW EXECUTE FUNCTION evledger_refuse_change()"
    )
    op.execute(
        "CREATE TRIGGER anchor_submissions_no_truncate BEFORE TRUNCATE ON anchor_submissions "
        "FOR EACH STATEMENT EXECUTE FUNCTION evledger_refuse_change()"
    )
    op.execute(f"REVOKE ALL ON anchor_submissions FROM {APP_ROLE}")
    op.execute(f"GRANT SELECT, INSERT ON anchor_submissions TO {APP_ROLE}")


def downgrade() -> None:
    op.drop_table("anchor_submissions")
