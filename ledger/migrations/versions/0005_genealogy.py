"""The lot genealogy projection: links between lots, suppliers, pallets and consignees, built
from the log in leaf order (ledger.genealogy). Not evidence: the application role may rebuild
it (DELETE) and moves its cursor (UPDATE); the audit checks it against the log.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

APP_ROLE = "evledger_app"


def upgrade() -> None:
    op.create_table(
        "genealogy_links",
        sa.Column("leaf_index", sa.BigInteger(), nullable=False),
        sa.Column("n", sa.SmallInteger(), nullable=False),
        sa.Column("record_id", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("lot", sa.String(length=128), nullable=False),
        sa.Column("other", sa.String(length=200), nullable=True),
        sa.Column("gtin", sa.String(length=14), nullable=True),
        sa.Column("quantity", sa.Float(), nullable=True),
        sa.Column("unit", sa.String(length=16), nullable=True),
        sa.Column("at", sa.String(length=64), nullable=True),
        sa.Column("via", sa.String(length=128), nullable=True),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("leaf_index", "n", name=op.f("pk_genealogy_links")),
    )
    op.create_index("ix_genealogy_links_lot_kind", "genealogy_links", ["lot", "kind"])
    op.create_index("ix_genealogy_links_other_kind", "genealogy_links", ["other", "kind"])
    op.create_table(
        "genealogy_state",
        sa.Column("singleton", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("next_leaf", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("singleton", name=op.f("pk_genealogy_state")),
        sa.CheckConstraint("singleton = 1", name=op.f("ck_genealogy_state_one_row")),
    )
    op.execute("INSERT INTO genealogy_state (singleton, next_leaf) VALUES (1, 0)")
    op.execute(f"GRANT SELECT, INSERT, DELETE ON genealogy_links TO {APP_ROLE}")
    op.execute(f"GRANT SELECT, UPDATE ON genealogy_state TO {APP_ROLE}")


def downgrade() -> None:
    op.drop_table("genealogy_state")
    op.drop_index("ix_genealogy_links_other_kind", table_name="genealogy_links")
    op.drop_index("ix_genealogy_links_lot_kind", table_name="genealogy_links")
    op.drop_table("genealogy_links")
