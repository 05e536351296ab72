"""A chain outage under load: records are still accepted and sealed, /healthz says degraded
with the reason (200, not down), the lag is measured, and when the chain returns the backlog
is anchored with one transaction and /healthz is ok again."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.app import create_app
from ledger.config import Settings
from ledger.embedded import Anvil
from ledger.models import Anchor
from ledger.runtime import Runtime
from tests.conftest import running_ledger
from tests.helpers import fresh, inspection, master_data, register, sign, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.req("ANCH-6")]


@pytest.fixture()
def rt(settings: Settings, database_url: str, own_chain: Anvil) -> Iterator[Runtime]:
    with running_ledger(settings, database_url, own_chain) as runtime:
        yield runtime


#: How long the chain stays down: a few seconds in `make test`; `make fault-soak` sets 30.
OUTAGE = float(os.environ.get("EVLEDGER_TEST_CHAIN_OUTAGE", "4"))


def test_chain_outage_under_load_is_degraded_then_one_transaction_catches_up(
    rt: Runtime, own_chain: Anvil
) -> None:
    client = TestClient(create_app(rt.ledger))
    inspector = register(client, rt, ("qa_inspector",))
    master_data(client, rt)
    wait_for("healthy", lambda: client.get("/healthz").json()["status"] == "ok")
    # Everything so far anchored (the signer's grant and the master data included): an anchor
    # in flight when the chain stops is recovered from the contract afterwards, a second row,
    # not the backlog's.
    wait_for("idle", lambda: client.get("/v1/status").json()["anchor_lag_records"] == 0)
    own_chain.stop()  # the chain goes away (its state is kept)
    accepted: list[str] = []
    degraded: list[dict[str, object]] = []
    ends = time.monotonic() + OUTAGE
    while time.monotonic() < ends:  # a steady load through the whole outage
        rid = fresh("OUT")
        resp = client.post("/v1/records", json=sign(rt, inspection(rid), inspector))
        assert resp.status_code == 201, resp.text  # still accepted
        accepted.append(rid)
        health = client.get("/healthz")
        assert health.status_code == 200  # degraded, never down
        if health.json()["status"] == "degraded":
            degraded.append(health.json())
        time.sleep(0.1)
    health = wait_for("degraded", lambda: (h := client.get("/healthz")).json()["status"]
                      == "degraded" and h)
    assert any(r.startswith("anchorer: ") for r in health.json()["reasons"]), health.json()
    status = wait_for("sealed", lambda: (s := client.get("/v1/status").json())["pending_seal"]
                      == 0 and s)  # sealed during the outage
    assert status["anchor_lag_records"] >= len(accepted) and status["anchor_lag_seconds"] > 0
    metrics = client.get("/metrics").text
    assert "evledger_anchor_lag_records" in metrics
    with rt.engine.connect() as conn:
        before = conn.execute(sa.select(sa.func.count()).select_from(Anchor)).scalar_one()
    own_chain.start()  # back, from its state, on the same port
    wait_for("caught up", lambda: client.get("/v1/status").json()["anchor_lag_records"] == 0)
    with rt.engine.connect() as conn:
        after = conn.execute(sa.select(sa.func.count()).select_from(Anchor)).scalar_one()
    assert after == before + 1  # the whole backlog in one transaction
    for rid in accepted:  # nothing lost
        assert client.get(f"/v1/records/{rid}/receipt").json()["status"] == "anchored"
    wait_for("ok again", lambda: client.get("/healthz").json()["status"] == "ok")


def test_healthz_is_down_without_a_database(rt: Runtime) -> None:
    """The read side pointed at a database that refuses connections (a closed port)."""
    client = TestClient(create_app(rt.ledger))
    working = rt.ledger.reads.engine
    rt.ledger.reads.engine = sa.create_engine("postgresql+psycopg2://nobody@127.0.0.1:9/none")
    try:
        resp = client.get("/healthz")
    finally:
        rt.ledger.reads.engine.dispose()
        rt.ledger.reads.engine = working
    assert resp.status_code == 503 and resp.json()["status"] == "down", resp.text
    assert resp.json()["reasons"] == ["database: OperationalError"]
