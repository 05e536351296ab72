"""The migrations build exactly the schema the models describe (a column, index or key added
to one and not the other is named here, not found in production)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from ledger.db import migrate
from ledger.models import Base

pytestmark = [pytest.mark.integration, pytest.mark.req("P11-10a-5")]


def test_migrations_match_the_models(database_url: str) -> None:
    engine = sa.create_engine(database_url)
    try:
        migrate(engine)
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    finally:
        engine.dispose()
    assert diff == []
