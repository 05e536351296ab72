"""The acceptance promise: a 201 carries a note signed by the log key, naming the entry's leaf
hash and a deadline. `evledger-verify promise` checks it on its own, sees it kept once the
record is in a checkpoint, and names a record a superuser deleted before it was sealed."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from evledger_verify.cli import main as verify_main

from ledger.config import Settings
from ledger.runtime import Runtime
from tests.conftest import ledger_settings
from tests.helpers import fresh, inspection, sign, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.req("RCPT-1")]


@pytest.fixture()
def settings(tmp_path: Path) -> Settings:
    """Sealing only when a test asks for it (seal_once), and a one-second promise."""
    return dataclasses.replace(
        ledger_settings(tmp_path / "home"), seal_interval=3600, promise_delay=1
    )


def verify(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = verify_main(list(args))
    out = capsys.readouterr()
    return code, out.out + out.err


@pytest.fixture()
def accepted(api_url: str, runtime: Runtime, tmp_path: Path) -> dict[str, Any]:
    from fastapi.testclient import TestClient

    from api.app import create_app
    from tests.helpers import master_data, register

    client = TestClient(create_app(runtime.ledger))
    inspector = register(client, runtime, ("qa_inspector",))
    master_data(client, runtime)
    runtime.sealer.seal_once()
    body = sign(runtime, inspection(fresh("PROM")), inspector)
    resp = httpx.post(f"{api_url}/v1/records", json=body)
    assert resp.status_code == 201, resp.text
    answer = resp.json()
    (tmp_path / "answer.json").write_text(json.dumps(answer))
    (tmp_path / "trust.json").write_text(json.dumps(runtime.ledger.identity.trust()))
    return {"answer": answer, "body": body, "client": client, "inspector": inspector}


def test_the_promise_is_signed_by_the_log_key_and_kept(
    accepted: dict[str, Any], runtime: Runtime, api_url: str, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    answer = accepted["answer"]
    note = answer["promise"]
    assert note.startswith("evledger-promise/1\n")
    assert f"\n{answer['record_id']}\n{answer['leaf_hash']}\n" in note
    args = ["promise", str(tmp_path / "answer.json"), "--trust", str(tmp_path / "trust.json")]
    code, out = verify(capsys, *args)
    assert code == 0 and "pending: record" in out, out
    # The same submission again: a duplicate, with the very same promise.
    again = httpx.post(f"{api_url}/v1/records", json=accepted["body"]).json()
    assert again["status"] == "duplicate" and again["promise"] == note
    # A receipt not anchored yet carries it too.
    pending = httpx.get(f"{api_url}/v1/records/{answer['record_id']}/receipt")
    assert pending.status_code == 202 and pending.json()["promise"] == note
    runtime.sealer.seal_once()
    wait_for("anchored", lambda: httpx.get(f"{api_url}/v1/records/{answer['record_id']}/receipt")
             .json()["status"] == "anchored")
    anchored = httpx.get(f"{api_url}/v1/records/{answer['record_id']}/receipt").json()
    assert "promise" not in anchored  # the anchored receipt proves more than the promise
    time.sleep(1.2)  # past the deadline: kept, because the record is in a checkpoint
    code, out = verify(capsys, *args, "--api", api_url)
    assert code == 0 and "kept: record" in out, out


def test_a_record_deleted_before_sealing_is_a_broken_promise(
    accepted: dict[str, Any], runtime: Runtime, api_url: str, database_url: str,
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    rid = accepted["answer"]["record_id"]
    superuser = sa.create_engine(database_url)
    try:
        with superuser.begin() as conn:
            conn.exec_driver_sql("SET session_replication_role = replica")
            conn.execute(sa.text("DELETE FROM seal_queue WHERE seq = "
                                 "(SELECT seq FROM records WHERE record_id = :r)"), {"r": rid})
            conn.execute(sa.text("DELETE FROM records WHERE record_id = :r"), {"r": rid})
    finally:
        superuser.dispose()
    runtime.sealer.seal_once()
    assert httpx.get(f"{api_url}/v1/records/{rid}/receipt").status_code == 404
    time.sleep(1.2)
    args = ["promise", str(tmp_path / "answer.json"), "--trust", str(tmp_path / "trust.json")]
    code, out = verify(capsys, *args, "--api", api_url)
    assert code == 1, out
    assert f"record {rid}: accepted at" in out and "BROKEN PROMISE" in out, out
    code, out = verify(capsys, *args)  # no receipt, no ledger to ask: cannot judge
    assert code == 2 and "give --receipt or --api" in out, out


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda n: n.replace("\nINS", "\nXNS", 1) if "\nINS" in n else n[:-5] + "AAAA\n",
         "signature"),
        (lambda n: "not a note", "promise"),
        (lambda n: n.replace("evledger-promise/1", "evledger-promise/9"), "promise"),
    ],
    ids=["altered", "garbage", "other format"],
)
def test_a_forged_or_malformed_promise_fails(
    accepted: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str],
    change: Any, message: str,
) -> None:
    bad = tmp_path / "bad.note"
    bad.write_text(change(accepted["answer"]["promise"]))
    code, out = verify(capsys, "promise", str(bad), "--trust", str(tmp_path / "trust.json"))
    assert code in (1, 2) and message in out, out
