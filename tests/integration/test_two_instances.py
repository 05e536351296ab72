"""Two `evledger up` on one database and one chain: both serve the API, one seals and one
anchors at a time (advisory locks); when the one doing the work is killed (kill -9), the other
takes over within seconds, with no gap and no duplicate in the log."""

from __future__ import annotations

import os
import shutil
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from ledger.audit import Auditor
from ledger.embedded import Anvil, EmbeddedPostgres, free_port
from ledger.identity import Identity
from ledger.models import Record
from tests.conftest import fresh_database
from tests.integration.test_quickstart import BIN, Service

pytestmark = [pytest.mark.integration, pytest.mark.req("OPS-2")]


def instance(root: Path, name: str, database_url: str, rpc_url: str) -> Service:
    home = root / name / ".evledger"
    home.parent.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVLEDGER_")}
    env.update(
        EVLEDGER_HOME=str(home), EVLEDGER_PORT=str(free_port()), DATABASE_URL=database_url,
        ETH_RPC_URL=rpc_url, EVLEDGER_SEAL_INTERVAL="0.1", EVLEDGER_ANCHOR_INTERVAL="0.2",
        EVLEDGER_API_WORKERS="1", EVLEDGER_CONFIRMATIONS="1", PATH=f"{BIN}:{env.get('PATH', '')}",
    )
    return Service(home, env)


@pytest.fixture()
def database(pg_server: EmbeddedPostgres) -> Iterator[str]:
    with fresh_database(pg_server) as url:
        yield url


def submit(api: str, admin_key: Path, n: int, prefix: str) -> list[str]:
    """Register nothing: the admin signs a few signer grants (cheap records any admin may sign)."""
    from eth_account import Account

    from ingest.client import Client, load_key

    key = load_key(admin_key, "admin key")
    ids = []
    with Client(api) as client:
        domain = client.domain()
        for i in range(n):
            account = Account.create()
            record = {
                "record_id": f"signer-{prefix}-{i}-{account.address.lower()}", "type": "signer",
                "schema": "signer/1", "action": "grant", "address": account.address,
                "name": f"{prefix} {i}", "roles": ["qa_inspector"],
            }
            answer = client.submit(key.sign(record, "approved", domain))
            assert answer["status"] == "accepted", answer
            ids.append(record["record_id"])
    return ids


def test_two_instances_share_the_work_and_one_takes_over(
    tmp_path: Path, database: str, anvil: Anvil
) -> None:
    a = instance(tmp_path, "a", database, anvil.rpc_url)
    a.start()
    b = instance(tmp_path, "b", database, anvil.rpc_url)
    # One ledger, one set of keys: the second instance runs with the first one's keys.
    shutil.copytree(a.home / "keys", b.home / "keys")
    try:
        b.start()
        admin = a.home / "keys" / "admin.key"
        ids = submit(a.api, admin, 5, "A") + submit(b.api, admin, 5, "B")
        assert a.process is not None
        os.killpg(a.process.pid, signal.SIGKILL)  # the instance that started first
        a.process.wait()
        ids += submit(b.api, admin, 5, "B2")
        deadline = time.monotonic() + 30
        while True:
            status: dict[str, Any] = httpx.get(f"{b.api}/v1/status").json()
            if status["pending_seal"] == 0 and status["anchor_lag_records"] == 0:
                break
            assert time.monotonic() < deadline, status
            time.sleep(0.2)
        for rid in ids:
            receipt = httpx.get(f"{b.api}/v1/records/{rid}/receipt").json()
            assert receipt["status"] == "anchored", receipt
    finally:
        for svc in (a, b):
            if svc.process and svc.process.poll() is None:
                svc.interrupt()
    engine = sa.create_engine(database)
    try:
        with engine.connect() as conn:
            stored = [r for (r,) in conn.execute(sa.select(Record.record_id))]
            identity = Identity.load(conn)
        assert sorted(set(ids) & set(stored)) == sorted(ids)  # every one, once (ids are unique)
        assert len(stored) == len(set(stored))
        assert identity is not None
        findings = Auditor(engine, identity, identity.log_public_key).run()
        assert findings == [], findings
    finally:
        engine.dispose()
