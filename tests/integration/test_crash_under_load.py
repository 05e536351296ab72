"""kill -9 under a steady load of batch submissions, at random points, then a restart: every
acknowledged record is in the log exactly once, the log is consistent (the audit is clean), and
everything ends up anchored and final.

Killed: an API worker process alone (uvicorn starts another), and the whole `evledger up`
process group (the API, the sealer, the anchorer and the genealogy projector die together),
twice, at random moments of the load; the guardian stops the embedded services each time.
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from eth_account import Account

from ingest.client import Client, ClientError, SignedSubmission, SigningKey, load_key
from tests.helpers import wait_for
from tests.integration.test_quickstart import Service, new_service, stop_orphaned_postgres

pytestmark = [pytest.mark.integration, pytest.mark.req("OPS-1")]


class Load:
    """Batches of admin-signed signer grants (cheap records any admin may sign), sent one
    after another; remembers what the service acknowledged (accepted or duplicate)."""

    def __init__(self, api: str, key: SigningKey) -> None:
        self.api, self.key = api, key
        self.acknowledged: set[str] = set()
        self.sent = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _batch(self, n: int) -> list[dict[str, Any]]:
        out = []
        for _ in range(n):
            account = Account.create()
            record = {
                "record_id": f"signer-load-{account.address.lower()}", "type": "signer",
                "schema": "signer/1", "action": "grant", "address": account.address,
                "name": "Load", "roles": ["qa_inspector"],
            }  # fmt: skip
            out.append(record)
        return out

    def _run(self) -> None:
        with Client(self.api, retries=0) as client:
            domain = None
            pending: list[SignedSubmission] = []
            while not self.stop.is_set():
                try:
                    domain = domain or client.domain()
                    if not pending:  # a batch that got no answer is sent again as it was
                        pending = [self.key.sign(r, "approved", domain) for r in self._batch(20)]
                    answer = client.submit_batch(pending)
                except ClientError:
                    time.sleep(0.1)  # the service is down (killed): try again
                    continue
                for signed, result in zip(pending, answer.results, strict=True):
                    assert result["status"] in ("accepted", "duplicate"), result
                    self.acknowledged.add(signed.record_id)
                self.sent += len(pending)
                pending = []


def kill_group(svc: Service) -> None:
    assert svc.process is not None
    os.killpg(svc.process.pid, signal.SIGKILL)
    svc.process.wait()


def api_worker(svc: Service) -> int:
    assert svc.process is not None
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
                cmd = (proc / "cmdline").read_bytes()
            except OSError:
                continue
            if ppid == svc.process.pid and b"multiprocessing" in cmd:
                return int(proc.name)
    raise AssertionError("no API worker process")


def test_kill9_at_random_points_under_load_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    rng = random.Random(int.from_bytes(os.urandom(4), "big"))
    svc = new_service(tmp_path, EVLEDGER_API_WORKERS="2")
    svc.start()
    try:
        load = Load(svc.api, load_key(svc.home / "keys" / "admin.key", "admin key"))
        load.thread.start()
        wait_for("load running", lambda: load.sent >= 40)
        os.kill(api_worker(svc), signal.SIGKILL)  # one API worker alone
        for _ in range(2):  # the whole service, at a random point of the load
            time.sleep(rng.uniform(0.3, 2.0))
            kill_group(svc)
            svc.start()
            wait_for("load running again", lambda n=load.sent: load.sent >= n + 40)
        load.stop.set()
        load.thread.join(timeout=30)
        status = wait_for(
            "everything final",
            lambda: (s := httpx.get(f"{svc.api}/v1/status").json())["pending_seal"] == 0
            and s["anchor_lag_records"] == 0
            and s["latest_final_checkpoint"] == s["latest_checkpoint"]
            and s,
            timeout=60,
        )
        assert len(load.acknowledged) >= 120
        db = sa.create_engine(
            f"postgresql+psycopg2://postgres@/postgres?host={svc.home / 'pgdata'}"
        )
        try:
            with db.connect() as conn:
                stored = [r for (r,) in conn.exec_driver_sql("SELECT record_id FROM records")]
        finally:
            db.dispose()
        assert len(stored) == len(set(stored)) == status["records"]  # each once, all in the log
        assert load.acknowledged <= set(stored)  # nothing acknowledged was lost
        audit = svc.run("evledger audit", svc.home.parent)
        assert audit.returncode == 0 and "0 finding(s)" in audit.stdout, (
            audit.stdout + audit.stderr
        )
    finally:
        if svc.process and svc.process.poll() is None:
            svc.interrupt()
        stop_orphaned_postgres(svc.home)
