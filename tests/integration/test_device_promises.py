"""The device keeps the ledger's promises: a record the ledger accepted and then lost (a
superuser deleted it before sealing) is noticed by the ingester itself, from its outbox."""

from __future__ import annotations

import dataclasses
import logging
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from evledger_verify.receipt import Trust
from fastapi.testclient import TestClient

from ingest.client import Client, SigningKey
from ingest.outbox import Outbox
from ingest.promises import PromiseKeeper
from ingest.runner import Runner
from ledger.config import Settings
from ledger.runtime import Runtime
from tests.conftest import ledger_settings
from tests.helpers import GTIN, fresh, register, wait_anchored

pytestmark = [pytest.mark.integration, pytest.mark.req("RCPT-1", "FLOOR-3")]


@pytest.fixture()
def settings(tmp_path: Path) -> Settings:
    """Sealing only when the test asks (seal_once), and a one-second promise."""
    return dataclasses.replace(
        ledger_settings(tmp_path / "home"), seal_interval=3600, promise_delay=1
    )


def scan(lot: str) -> dict[str, object]:
    return {
        "record_id": fresh("DEV-SCAN"), "type": "scan", "schema": "scan/1", "station": "dock 1",
        "operation": "receive", "gs1": {"gtin": GTIN, "lot": lot}, "supplier": "Steel AG",
        "scanned_at": datetime.now(UTC).isoformat(),
    }  # fmt: skip


def test_the_device_notices_a_record_the_ledger_lost(
    client: TestClient, runtime: Runtime, database_url: str, tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    device = SigningKey(bytes(register(client, runtime, ("device",)).key))
    runtime.sealer.seal_once()
    domain = runtime.ledger.identity.domain
    trust = Trust.from_json(runtime.ledger.identity.trust())
    kept, lost = scan(fresh("LOT-K")), scan(fresh("LOT-L"))
    with Outbox(tmp_path / "outbox.db") as box, \
            Client("http://testserver", http=client, sleep=lambda _: None) as api:
        runner = Runner(box, api)
        runner.keeper = PromiseKeeper(box, api, trust, recheck=0.0)
        for record in (kept, lost):
            box.put(device.sign(record, "recorded", domain), lot=None)
        assert runner.drain_once().accepted == 2
        assert box.promise_counts() == (2, 0)  # the records left, their promises stay
        superuser = sa.create_engine(database_url)
        try:
            with superuser.begin() as conn:
                conn.exec_driver_sql("SET session_replication_role = replica")
                seq = "(SELECT seq FROM records WHERE record_id = :r)"
                conn.execute(sa.text(f"DELETE FROM seal_queue WHERE seq = {seq}"),
                             {"r": lost["record_id"]})
                conn.execute(sa.text("DELETE FROM records WHERE record_id = :r"),
                             {"r": lost["record_id"]})
        finally:
            superuser.dispose()
        runtime.sealer.seal_once()
        wait_anchored(client, str(kept["record_id"]))
        runner.check_promises()  # before the deadline: nothing to judge yet
        assert box.promise_counts() == (2, 0)
        time.sleep(1.2)
        with caplog.at_level(logging.CRITICAL, logger="evledger.ingest"):
            runner.check_promises()
        assert box.promise_counts() == (0, 1)  # kept one forgotten, broken one marked
        (rid, detail), = box.broken_promises()
        assert rid == lost["record_id"] and "BROKEN PROMISE" in (detail or "")
        assert any("promise.broken" in r.message and str(lost["record_id"]) in r.message
                   for r in caplog.records)
        metrics = runner.registry.get_sample_value("evledger_ingest_promises_broken_total")
        assert metrics == 1.0
