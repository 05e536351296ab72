"""The audit spread over worker processes finds exactly what the in-process audit finds, in the
same order, on a ledger damaged in many ways at once; and leaves no process behind."""

from __future__ import annotations

import json
import multiprocessing

import pytest
import sqlalchemy as sa
from evledger_verify.records import canonical_json

from ledger.audit import Auditor, Finding
from ledger.runtime import Runtime
from tests.helpers import inspection, register, sign, wait_anchored

pytestmark = [pytest.mark.integration, pytest.mark.req("P11-10a-6", "P11-10a-1")]


def audit(rt: Runtime, workers: int, batch: int) -> list[Finding]:
    auditor = Auditor(
        rt.engine,
        rt.ledger.identity,
        rt.ledger.identity.log_public_key,
        rt.chain,
        batch=batch,
        workers=workers,
    )
    return auditor.run()


def test_workers_find_the_same_as_one_process(  # type: ignore[no-untyped-def]
    client, runtime: Runtime, database_url: str, specs
) -> None:
    inspector = register(client, runtime, ("qa_inspector",), "Ivy Inspector")
    for i in range(12):
        record = inspection(f"P-{i}", lot=f"LOT-{i % 3}", value=3.0 + i / 1000)
        assert client.post("/v1/records", json=sign(runtime, record, inspector)).status_code == 201
    wait_anchored(client, "P-11")
    clean = audit(runtime, workers=2, batch=4)
    assert clean == []

    runtime.stop()  # the sealer would otherwise keep working on what we change
    superuser = sa.create_engine(database_url)
    with superuser.begin() as conn:
        conn.exec_driver_sql("SET session_replication_role = replica")
        seq = {
            rid: seq
            for rid, seq in conn.exec_driver_sql("SELECT record_id, seq FROM records").all()
        }
        raw = conn.exec_driver_sql(f"SELECT body FROM records WHERE seq = {seq['P-1']}").scalar()
        body = json.loads(bytes(raw))
        conn.execute(
            sa.text(f"UPDATE records SET body = :b WHERE seq = {seq['P-1']}"),
            {"b": canonical_json({**body, "sample_size": 1})},
        )
        conn.exec_driver_sql(f"UPDATE records SET lot = 'LOT-9' WHERE seq = {seq['P-5']}")
        conn.exec_driver_sql(f"DELETE FROM records WHERE seq = {seq['P-7']}")
        for old, new in ((seq["P-2"], -1), (seq["P-3"], seq["P-2"]), (-1, seq["P-3"])):
            conn.exec_driver_sql(f"UPDATE log_leaves SET seq = {new} WHERE seq = {old}")
        conn.exec_driver_sql(
            "INSERT INTO records (record_id, record_type, lot, body, record_hash, signer, "
            "meaning, signed_at, signature, entry, leaf_hash, accepted_at) SELECT 'FAKE-1', "
            "record_type, lot, body, record_hash, signer, meaning, signed_at, signature, entry, "
            f"leaf_hash, accepted_at FROM records WHERE seq = {seq['P-0']}"
        )
    superuser.dispose()

    one = audit(runtime, workers=1, batch=4)
    assert {
        ("record_altered", "P-1"),
        ("entry_mismatch", "P-5"),
        ("lot_chain_broken", "P-10"),  # P-7's successor in LOT-1
        ("order_changed", "P-2"),
        ("order_changed", "P-3"),
        ("unlogged_record", "FAKE-1"),
    } <= {(f.kind, f.record_id) for f in one}, one
    kinds = {f.kind for f in one}
    assert {"missing_record", "tree_altered", "projection_mismatch"} <= kinds, one
    for workers, batch in ((2, 4), (2, 1), (3, 5000)):
        assert audit(runtime, workers, batch) == one, (workers, batch)
    assert multiprocessing.active_children() == []
