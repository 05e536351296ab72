"""The application role: reads and appends evidence, never changes it.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22

The service connects as ``evledger_app``, which holds only SELECT and INSERT on the evidence
tables (and DELETE on the work queue). UPDATE, DELETE and TRUNCATE are not granted, and the
triggers of 0001 refuse them for the owner as well. Roles are cluster-wide, so the role is
created only if it does not exist yet.
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

APP_ROLE = "evledger_app"
EVIDENCE_TABLES = ("records", "log_leaves", "tree_nodes", "checkpoints", "anchors", "ledger_meta")


def upgrade() -> None:
    op.execute(
        f"""
        DO $$
        BEGIN
            IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
                CREATE ROLE {APP_ROLE} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
            END IF;
        END $$
        """
    )
    op.execute(
        f"DO $$ BEGIN EXECUTE format('GRANT CONNECT ON DATABASE %I TO {APP_ROLE}', "
        "current_database()); END $$"
    )
    op.execute(f"GRANT USAGE ON SCHEMA public TO {APP_ROLE}")
    for table in EVIDENCE_TABLES:
        op.execute(f"REVOKE ALL ON {table} FROM {APP_ROLE}")
        op.execute(f"GRANT SELECT, INSERT ON {table} TO {APP_ROLE}")
    op.execute(f"GRANT SELECT, INSERT, DELETE ON seal_queue TO {APP_ROLE}")
    op.execute(f"GRANT USAGE ON SEQUENCE records_seq_seq TO {APP_ROLE}")
    op.execute(f"GRANT SELECT ON alembic_version TO {APP_ROLE}")


def downgrade() -> None:
    for table in (*EVIDENCE_TABLES, "seal_queue", "alembic_version"):
        op.execute(f"REVOKE ALL ON {table} FROM {APP_ROLE}")
    op.execute(f"REVOKE ALL ON SEQUENCE records_seq_seq FROM {APP_ROLE}")
    op.execute(f"REVOKE USAGE ON SCHEMA public FROM {APP_ROLE}")
    op.execute(
        f"DO $$ BEGIN EXECUTE format('REVOKE CONNECT ON DATABASE %I FROM {APP_ROLE}', "
        "current_database()); END $$"
    )
