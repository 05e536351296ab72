"""What the background workers (sealer, anchorer, genealogy) last reported: whether their
last round worked, why not, and when. Not evidence: `/healthz` reads it to say degraded (with
the reason) rather than ok while, say, the chain is unreachable.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

APP_ROLE = "evledger_app"


def upgrade() -> None:
    op.create_table(
        "worker_status",
        sa.Column("component", sa.String(length=32), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("component", name=op.f("pk_worker_status")),
    )
    op.execute(f"GRANT SELECT, INSERT, UPDATE ON worker_status TO {APP_ROLE}")


def downgrade() -> None:
    op.drop_table("worker_status")
