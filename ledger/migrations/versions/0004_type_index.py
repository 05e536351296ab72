"""Records by type, in log order: the signer registry and the alert counter read one type
without scanning the whole table.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_records_record_type_seq", "records", ["record_type", "seq"])


def downgrade() -> None:
    op.drop_index("ix_records_record_type_seq", table_name="records")
