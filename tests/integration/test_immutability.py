"""Evidence tables are append-only: the service's role holds no UPDATE, DELETE or TRUNCATE,
and triggers refuse them to the owner too. (A superuser can still disable triggers: that is
what `evledger audit` and the anchors are for, see test_attacks.py.)"""

from __future__ import annotations

import json
import time

import pytest
import sqlalchemy as sa

from ledger.runtime import Runtime
from tests.helpers import inspection, master_data, register, sign, wait_anchored

pytestmark = [pytest.mark.integration, pytest.mark.req("P11-10a-4")]

EVIDENCE = ["records", "log_leaves", "tree_nodes", "checkpoints", "anchors", "anchor_states",
            "anchor_submissions", "anchor_proofs", "ledger_meta"]
CHANGES = {
    "records": "UPDATE records SET lot = 'X'",
    "log_leaves": "UPDATE log_leaves SET leaf_index = leaf_index + 1000",
    "tree_nodes": "UPDATE tree_nodes SET hash = hash",
    "checkpoints": "UPDATE checkpoints SET note = note",
    "anchors": "UPDATE anchors SET tx_hash = tx_hash",
    "anchor_states": "UPDATE anchor_states SET detail = detail",
    "anchor_submissions": "UPDATE anchor_submissions SET nonce = nonce",
    "anchor_proofs": "UPDATE anchor_proofs SET tx_index = tx_index",
    "ledger_meta": "UPDATE ledger_meta SET value = value",
}


@pytest.fixture()
def anchored(client, runtime: Runtime) -> Runtime:  # type: ignore[no-untyped-def]
    master_data(client, runtime)
    inspector = register(client, runtime)
    assert client.post("/v1/records", json=sign(runtime, inspection("I-1"), inspector)).is_success
    wait_anchored(client, "I-1")
    deadline = time.monotonic() + 20  # and its anchor recorded final (one confirmation here)
    while _count(runtime.engine, "anchor_states") == 0 or _count(runtime.engine,
                                                                  "anchor_proofs") == 0:
        assert time.monotonic() < deadline, "no anchor became final with its offline proof"
        time.sleep(0.05)
    return runtime


def _count(engine: sa.Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar_one())


def _rows(engine: sa.Engine, table: str) -> set[tuple[object, ...]]:
    """Every row as it is now. The service's workers keep appending while a test runs (the
    next anchor turning final, say), so "nothing changed" means every row is still there."""
    with engine.connect() as conn:
        return {tuple(_hashable(v) for v in row)
                for row in conn.exec_driver_sql(f"SELECT * FROM {table}")}


def _hashable(value: object) -> object:
    if isinstance(value, memoryview):
        return bytes(value)
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    return value


@pytest.mark.parametrize("table", EVIDENCE)
@pytest.mark.parametrize("verb", ["update", "delete", "truncate"])
def test_app_role_cannot_change_evidence(anchored: Runtime, table: str, verb: str) -> None:
    engine = anchored.engine
    assert engine.url.username == "evledger_app"
    statement = {"update": CHANGES[table], "delete": f"DELETE FROM {table}",
                 "truncate": f"TRUNCATE {table} CASCADE"}[verb]
    before = _rows(engine, table)
    assert before
    with pytest.raises(sa.exc.ProgrammingError, match="permission denied"), engine.begin() as c:
        c.exec_driver_sql(statement)
    assert before <= _rows(engine, table)


@pytest.mark.parametrize("table", EVIDENCE)
@pytest.mark.parametrize("verb", ["update", "delete", "truncate"])
def test_owner_is_stopped_by_triggers(
    anchored: Runtime, database_url: str, table: str, verb: str
) -> None:
    owner = sa.create_engine(database_url)
    statement = {"update": CHANGES[table], "delete": f"DELETE FROM {table}",
                 "truncate": f"TRUNCATE {table} CASCADE"}[verb]
    before = _rows(owner, table)
    with pytest.raises(sa.exc.DBAPIError, match="evidence is append-only"), owner.begin() as c:
        c.exec_driver_sql(statement)
    assert before <= _rows(owner, table)
    owner.dispose()


def test_app_role_can_append_and_work_the_queue(anchored: Runtime) -> None:
    with anchored.engine.connect() as conn:
        grants = {
            (t, p) for t, p in conn.exec_driver_sql(
                "SELECT table_name, privilege_type FROM information_schema.role_table_grants "
                "WHERE grantee = 'evledger_app'"
            )
        }
    for table in EVIDENCE:
        assert {(table, "SELECT"), (table, "INSERT")} <= grants
        assert not {(table, p) for p in ("UPDATE", "DELETE", "TRUNCATE")} & grants
    assert ("seal_queue", "DELETE") in grants
