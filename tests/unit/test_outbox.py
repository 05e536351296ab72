"""The durable outbox without any service: capture order, idempotent puts, caps, the format
version, a drain against a fake client, and a kill -9 of a process writing to it."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from ingest.client import (
    BatchResult,
    ClientError,
    ServiceError,
    SignedSubmission,
    UnreachableError,
)
from ingest.outbox import Outbox, OutboxError, OutboxFull, ProducedLots

pytestmark = pytest.mark.req("FLOOR-3")

ROOT = Path(__file__).resolve().parents[2]
SIG = "0x" + "11" * 65


def signed(rid: str, lot: str | None = "LOT-1", signed_at: int = 1_700_000_000) -> SignedSubmission:
    """A submission as the outbox sees it (the outbox does not check signatures)."""
    record = {"record_id": rid, "type": "scan", "schema": "scan/1", "lot": lot, "n": 1.5}
    return SignedSubmission(record, SIG, "recorded", signed_at, "0x" + "ab" * 20)


class FakeClient:
    """Answers each item by ``answer(record_id)``: a status, (status, http_status), or an
    exception to raise for the whole request. Records every request."""

    def __init__(self, answer: Callable[[str], Any]) -> None:
        self.answer = answer
        self.requests: list[list[str]] = []

    def submit_batch(self, items: Sequence[SignedSubmission], chunk: int = 1000) -> BatchResult:
        ids = [s.record_id for s in items]
        self.requests.append(ids)
        results = []
        for i, rid in enumerate(ids):
            a = self.answer(rid)
            if isinstance(a, Exception):
                raise a
            status, http = a if isinstance(a, tuple) else (a, 201 if a == "accepted" else 200)
            r: dict[str, Any] = {"index": i, "record_id": rid, "status": status}
            r["http_status"] = http
            if status == "refused":
                r.update(error="signer_unknown", detail=f"{rid}: device not registered")
            results.append(r)
        return BatchResult(results)


@pytest.fixture()
def box(tmp_path: Path) -> Iterator[Outbox]:
    with Outbox(tmp_path / "o.db", clock=lambda: 1000.0) as outbox:
        yield outbox


def ids(box: Outbox) -> list[str]:
    return [p.record_id for p in box.pending(10_000)]


def test_put_then_pending_in_capture_order(box: Outbox) -> None:
    for rid, lot in [("b", "L2"), ("a", "L1"), ("c", "L2"), ("d", None)]:
        box.put(signed(rid, lot), lot=lot)
    got = box.pending(3)
    assert [(p.record_id, p.lot) for p in got] == [("b", "L2"), ("a", "L1"), ("c", "L2")]
    assert got[0].submission == signed("b", "L2")
    assert got[0].submission.to_json() == signed("b", "L2").to_json()
    assert (got[0].attempts, got[0].last_error, got[0].captured_at) == (0, None, 1000.0)
    assert box.stats().depth == 4


def test_put_of_the_same_submission_is_a_no_op(box: Outbox) -> None:
    box.put(signed("a"), lot="LOT-1")
    box.put(signed("b"), lot="LOT-1")
    box.put(signed("a"), lot="LOT-1")
    assert ids(box) == ["a", "b"]


def test_put_of_another_body_under_a_pending_id_raises(box: Outbox) -> None:
    box.put(signed("a"), lot="LOT-1")
    with pytest.raises(OutboxError, match="a: record id already pending with another body"):
        box.put(signed("a", signed_at=1_700_000_001), lot="LOT-1")
    assert box.pending(10)[0].submission.signed_at == 1_700_000_000


@pytest.mark.parametrize("cap", ["max_records", "max_bytes"])
def test_over_a_cap_put_raises_outbox_full_and_stores_nothing(tmp_path: Path, cap: str) -> None:
    size = len(str(signed("r-0").to_json()))  # about the stored size
    records, bytes_ = (3, 10**9) if cap == "max_records" else (10**6, int(size * 3.5))
    box = Outbox(tmp_path / "o.db", max_records=records, max_bytes=bytes_)
    for i in range(3):
        box.put(signed(f"r-{i}"), lot="LOT-1")
    with pytest.raises(OutboxFull, match=r"full: holds 3 records and \d+ bytes, cap") as info:
        box.put(signed("r-3"), lot="LOT-1")
    assert "Capture must stop" in str(info.value) and not info.value.disk
    assert isinstance(info.value, ClientError) and info.value.exit_code == 2
    assert ids(box) == ["r-0", "r-1", "r-2"]
    box.close()
    with Outbox(tmp_path / "o.db", max_records=records, max_bytes=bytes_) as again:
        assert ids(again) == ["r-0", "r-1", "r-2"]


def test_refused_items_count_against_the_cap(tmp_path: Path) -> None:
    with Outbox(tmp_path / "o.db", max_records=2) as box:
        box.put(signed("a"), lot="LOT-1")
        box.put(signed("b"), lot="LOT-1")
        box.drain(FakeClient(lambda rid: ("refused", 403)))
        assert box.stats().depth == 0 and box.stats().refused == 2
        with pytest.raises(OutboxFull):
            box.put(signed("c"), lot="LOT-1")


def test_a_full_disk_raises_outbox_full(box: Outbox) -> None:
    box.put(signed("a"), lot="LOT-1")
    # A real SQLITE_FULL: the database may not grow beyond the pages it has.
    pages = box._db.execute("PRAGMA page_count").fetchone()[0]
    box._db.execute(f"PRAGMA max_page_count = {pages}")
    big = SignedSubmission({"record_id": "big", "blob": "x" * 100_000}, SIG, "recorded", 1, None)
    with pytest.raises(OutboxFull, match="put big: the disk is full") as info:
        box.put(big, lot="LOT-1")
    assert info.value.disk
    assert ids(box) == ["a"]
    assert box._db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_an_unknown_format_version_is_refused(tmp_path: Path) -> None:
    Outbox(tmp_path / "o.db").close()
    with sqlite3.connect(tmp_path / "o.db") as db:
        db.execute("UPDATE meta SET value = '2' WHERE key = 'version'")
    db.close()
    with pytest.raises(OutboxError, match="format version: expected 1, got '2'"):
        Outbox(tmp_path / "o.db")


def test_a_file_that_is_not_an_outbox_is_refused(tmp_path: Path) -> None:
    (tmp_path / "junk.db").write_bytes(b"not a database at all" * 100)
    with pytest.raises(OutboxError, match="expected an evledger-outbox SQLite database"):
        Outbox(tmp_path / "junk.db")
    with sqlite3.connect(tmp_path / "other.db") as db:
        db.execute("CREATE TABLE t (x)")
    db.close()
    with pytest.raises(OutboxError, match="got an SQLite database with tables t"):
        Outbox(tmp_path / "other.db")


def test_drain_deletes_the_acknowledged_and_moves_the_refused(box: Outbox) -> None:
    answers = {"a": "accepted", "b": "duplicate", "c": ("refused", 409), "d": "accepted"}
    for rid in answers:
        box.put(signed(rid), lot="LOT-1")
    fake = FakeClient(lambda rid: answers[rid])

    result = box.drain(fake, batch=2)

    assert fake.requests == [["a", "b"], ["c", "d"]]
    assert (result.accepted, result.duplicate, result.refused, result.remaining) == (2, 1, 1, 0)
    assert result.ok and result.error is None
    assert ids(box) == []
    (refused,) = box.refused()
    assert (refused.record_id, refused.http_status, refused.error) == ("c", 409, "signer_unknown")
    assert refused.detail == "c: device not registered"
    assert refused.submission == signed("c")
    stats = box.stats()
    assert (stats.depth, stats.refused, stats.last_send_at, stats.oldest_age) == (0, 1, 1000, None)
    # Refused items are never resent automatically.
    assert box.drain(fake).accepted == 0 and fake.requests == [["a", "b"], ["c", "d"]]


def test_unreachable_service_deletes_nothing_and_is_reported(box: Outbox) -> None:
    for rid in "abc":
        box.put(signed(rid), lot="LOT-1")
    down = UnreachableError("service: cannot reach http://127.0.0.1:9 (ConnectError)")
    fake = FakeClient(lambda rid: down)

    result = box.drain(fake, batch=2)

    assert fake.requests == [["a", "b"]], "no second request after a transport failure"
    assert result.error is down and not result.ok and result.remaining == 3
    pending = box.pending(10)
    assert [(p.record_id, p.attempts) for p in pending] == [("a", 1), ("b", 1), ("c", 0)]
    assert pending[0].last_error == str(down)
    assert box.stats().last_send_at is None


def test_drain_stops_at_the_first_transient_item(box: Outbox) -> None:
    """b (lot L1) gets a 503 for itself: nothing after the request it was in is sent, so
    neither L1's later record e nor anything else overtakes it."""
    lots = {"a": "L1", "b": "L1", "c": "L2", "d": "L2", "e": "L1"}
    for rid, lot in lots.items():
        box.put(signed(rid, lot), lot=lot)
    answers: dict[str, Any] = {"b": ("refused", 503)}
    fake = FakeClient(lambda rid: answers.get(rid, "accepted"))

    result = box.drain(fake, batch=3)

    assert fake.requests == [["a", "b", "c"]]
    assert isinstance(result.error, ServiceError) and result.error.status == 503
    assert "item b: expected accepted, duplicate or refused (4xx), got 'refused' (503)" in str(
        result.error
    )
    assert (result.accepted, result.refused, result.remaining) == (2, 0, 3)
    assert ids(box) == ["b", "d", "e"]
    assert box.pending(1)[0].attempts == 1

    answers.clear()  # the service is well again
    assert box.drain(fake).accepted == 3 and ids(box) == []
    assert fake.requests[1] == ["b", "d", "e"]


def test_drain_sends_only_what_was_pending_when_it_started(box: Outbox) -> None:
    box.put(signed("a"), lot="LOT-1")

    def answer(rid: str) -> str:
        if rid == "a":  # captured while the drain runs
            box.put(signed("late"), lot="LOT-1")
        return "accepted"

    fake = FakeClient(answer)
    assert box.drain(fake, batch=1).accepted == 1
    assert fake.requests == [["a"]] and ids(box) == ["late"]


# -- kill -9 ------------------------------------------------------------------------------------

_WRITER = """
import sys
sys.path.insert(0, sys.argv[1])
from pathlib import Path
from ingest.client import SignedSubmission
from ingest.outbox import Outbox
box = Outbox(Path(sys.argv[2]))
for i in range(100_000):
    rid = f"K-{i:06d}"
    record = {"record_id": rid, "type": "scan", "lot": f"LOT-{i % 3}", "pad": "x" * 200}
    box.put(SignedSubmission(record, "0x" + "11" * 65, "recorded", 1, None), lot=f"LOT-{i % 3}")
    print(rid, flush=True)
"""


def test_kill_9_mid_stream_loses_and_duplicates_nothing_acknowledged(tmp_path: Path) -> None:
    path = tmp_path / "k.db"
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(ROOT), str(path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    printed: list[str] = []
    try:
        while len(printed) < 300:
            line = proc.stdout.readline()
            assert line, f"writer ended early (exit {proc.poll()})"
            printed.append(line.strip())
        os.kill(proc.pid, signal.SIGKILL)
        printed += [line.strip() for line in proc.stdout]  # acknowledged before the kill
    finally:
        proc.kill()
        proc.wait(timeout=10)
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL

    with Outbox(path) as box:
        assert box._db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        stored = ids(box)
        # Every printed id, once, in order; at most one put was on disk but not yet printed.
        assert stored[: len(printed)] == printed
        assert len(stored) - len(printed) in (0, 1)
        assert stored == [f"K-{i:06d}" for i in range(len(stored))]
        assert box.stats().depth == len(stored)
        box.put(signed("after"), lot="LOT-1")  # and it keeps working


def test_put_many_stores_all_in_order_in_one_transaction_or_none(box: Outbox) -> None:
    box.put(signed("R-0"), lot="LOT-1")
    box.put_many([(signed("R-1"), "LOT-1"), (signed("R-0"), "LOT-1"), (signed("R-2"), None)])
    assert [p.record_id for p in box.pending()] == ["R-0", "R-1", "R-2"]
    other = signed("R-1", signed_at=1_700_000_001)  # another signature under a pending id
    with pytest.raises(OutboxError, match="R-1"):
        box.put_many([(signed("R-3"), "LOT-1"), (other, "LOT-1")])
    assert [p.record_id for p in box.pending()] == ["R-0", "R-1", "R-2"]  # R-3 not stored


def produce(rid: str, station: str, lot: str, at: str) -> SignedSubmission:
    record = {
        "record_id": rid,
        "type": "scan",
        "schema": "scan/1",
        "station": station,
        "operation": "produce",
        "lot": lot,
        "scanned_at": at,
    }
    return SignedSubmission(record, SIG, "recorded", 1_700_000_000, "0x" + "ab" * 20)


def test_the_last_produce_scan_per_station_is_kept_for_the_plc(tmp_path: Path) -> None:
    """ProducedLots (another process's read-only view) sees the lot of the last produce scan
    at each station, before and after the outbox drains; an older scan never wins."""
    path = tmp_path / "scanner.db"
    lots = ProducedLots(path)
    with pytest.raises(OutboxError, match="cannot read station lots"):
        lots.lot("ST-1")  # no scanner outbox yet
    with Outbox(path) as box:
        assert lots.lot("ST-1") is None
        box.put(produce("P1", "ST-1", "LOT-A", "2026-11-30T08:00:00.000000Z"), lot="LOT-A")
        box.put(produce("P2", "ST-2", "LOT-X", "2026-11-30T08:00:01.000000Z"), lot="LOT-X")
        box.put(signed("C1", lot="LOT-B"), lot="LOT-B")  # not a produce scan
        assert (lots.lot("ST-1"), lots.lot("ST-2")) == ("LOT-A", "LOT-X")
        box.put(produce("P3", "ST-1", "LOT-B", "2026-11-30T09:00:00.000000Z"), lot="LOT-B")
        box.put(produce("P0", "ST-1", "LOT-OLD", "2026-11-30T07:00:00.000000Z"), lot="LOT-OLD")
        assert lots.lot("ST-1") == "LOT-B"
        box.drain(FakeClient(lambda rid: "accepted"))
        assert box.stats().depth == 0 and lots.lot("ST-1") == "LOT-B"
    lots.close()


def test_an_outbox_made_before_station_lots_gets_the_table(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with Outbox(path):
        pass
    db = sqlite3.connect(path)
    db.execute("DROP TABLE station_lot")
    db.commit()
    db.close()
    with Outbox(path) as box:
        box.put(produce("P1", "ST-1", "LOT-A", "2026-11-30T08:00:00Z"), lot="LOT-A")
    assert ProducedLots(path).lot("ST-1") == "LOT-A"
