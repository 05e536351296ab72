"""Fixtures shared by integration modules."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.app import create_app
from ledger.runtime import Runtime
from tests.helpers import register
from tests.integration.test_rules_replay import Plant


@pytest.fixture()
def plant(client: TestClient, runtime: Runtime, database_url: str) -> Iterator[Plant]:
    inspector = register(client, runtime, ("qa_inspector",), "Ivy Inspector")
    approver = register(client, runtime, ("qa_approver",), "Quinn Approver")
    engine = sa.create_engine(database_url)
    yield Plant(runtime, TestClient(create_app(runtime.ledger)), engine, inspector, approver)
    engine.dispose()
