"""The anchor life cycle: a checkpoint may be anchored again after a reorganization removed its
anchor, and what happened to each anchor afterwards (final, or orphaned by a reorganization) is
recorded as append-only events, never by changing the anchor row.

``anchors`` is keyed by (tree size, transaction, block): the same transaction mined again in
another block after a reorganization is another anchor. ``anchor_states`` holds one row per
(anchor, state) with state ``final`` or ``orphaned``; an anchor with neither is ``included``.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

APP_ROLE = "evledger_app"


def upgrade() -> None:
    op.drop_constraint("pk_anchors", "anchors", type_="primary")
    op.create_primary_key("pk_anchors", "anchors", ["tree_size", "tx_hash", "block_hash"])
    op.create_table(
        "anchor_states",
        sa.Column("tree_size", sa.BigInteger(), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("block_hash", sa.String(length=66), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint(
            "tree_size", "tx_hash", "block_hash", "state", name=op.f("pk_anchor_states")
        ),
        sa.CheckConstraint("state IN ('final', 'orphaned')", name=op.f("ck_anchor_states_state")),
    )
    op.execute(
        "CREATE TRIGGER anchor_states_append_only BEFORE UPDATE OR DELETE ON anchor_states "
        "FOR EACH ROW EXECUTE FUNCTION evledger_refuse_change()"
    )
    op.execute(
        "CREATE TRIGGER anchor_states_no_truncate BEFORE TRUNCATE ON anchor_states "
        "FOR EACH STATEMENT EXECUTE FUNCTION evledger_refuse_change()"
    )
    op.execute(f"REVOKE ALL ON anchor_states FROM {APP_ROLE}")
    op.execute(f"GRANT SELECT, INSERT ON anchor_states TO {APP_ROLE}")


def downgrade() -> None:
    op.drop_table("anchor_states")
    op.drop_constraint("pk_anchors", "anchors", type_="primary")
    op.create_primary_key("pk_anchors", "anchors", ["tree_size"])
