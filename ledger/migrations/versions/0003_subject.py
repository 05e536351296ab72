"""Records name their subject: the workflow entity (ncr:ID, capa:ID, change:ID) or the record a
correction corrects (record:ID), so a workflow's history is one indexed lookup.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("records", sa.Column("subject", sa.String(length=140), nullable=True))
    op.create_index("ix_records_subject_seq", "records", ["subject", "seq"])


def downgrade() -> None:
    op.drop_index("ix_records_subject_seq", table_name="records")
    op.drop_column("records", "subject")
