"""The ingesters' shared runner without any service: capture into the outbox, the drain's
backoff (grows, capped, reset on success), one log line per change of state, refusals logged
and counted, metrics, the metrics server, and the last drain on stop."""

from __future__ import annotations

import logging
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from ingest.client import BatchResult, SignedSubmission, UnreachableError
from ingest.outbox import Outbox, OutboxFull
from ingest.runner import Runner, kv

pytestmark = pytest.mark.req("FLOOR-6")

SIG = "0x" + "11" * 65


def signed(rid: str, lot: str | None = "LOT-1", kind: str = "scan") -> SignedSubmission:
    record = {"record_id": rid, "type": kind, "schema": f"{kind}/1", "lot": lot}
    return SignedSubmission(record, SIG, "recorded", 1_700_000_000, "0x" + "ab" * 20)


class FakeClient:
    """Answers each item by ``answer(record_id)`` (a status, or an exception for the whole
    request); records the ids of every request."""

    def __init__(self, answer: Callable[[str], Any] = lambda rid: "accepted") -> None:
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
            r: dict[str, Any] = {"index": i, "record_id": rid, "status": a}
            r["http_status"] = {"accepted": 201, "duplicate": 200, "refused": 403}[a]
            if a == "refused":
                r.update(error="signer_unknown", detail=f"{rid}: device not registered")
            results.append(r)
        return BatchResult(results)


class Clock:
    def __init__(self, t: float = 1_800_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture()
def clock() -> Clock:
    return Clock()


@pytest.fixture()
def box(tmp_path: Path, clock: Clock) -> Iterator[Outbox]:
    with Outbox(tmp_path / "outbox.db", clock=clock) as b:
        yield b


def value(runner: Runner, name: str, **labels: str) -> float | None:
    return runner.registry.get_sample_value(name, labels)


def down() -> UnreachableError:
    return UnreachableError("service: cannot reach http://127.0.0.1:9 (ConnectError, 1 attempt)")


def test_capture_stores_and_counts(box: Outbox) -> None:
    runner = Runner(box, FakeClient())
    runner.capture(signed("S-1"), "LOT-1")
    runner.capture(signed("R-1", kind="process_reading"), None)
    runner.capture(signed("S-2"), "LOT-1")
    assert [p.record_id for p in box.pending()] == ["S-1", "R-1", "S-2"]
    assert value(runner, "evledger_ingest_captured_total", kind="scan") == 2
    assert value(runner, "evledger_ingest_captured_total", kind="process_reading") == 1
    runner.bad_scan()
    runner.source_error("serial_read")
    runner.source_error("serial_read")
    assert value(runner, "evledger_ingest_bad_scans_total") == 1
    assert value(runner, "evledger_ingest_source_errors_total", kind="serial_read") == 2


def test_capture_into_a_full_outbox_raises_and_logs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with Outbox(tmp_path / "small.db", max_records=1) as small:
        runner = Runner(small, FakeClient())
        runner.capture(signed("S-1"), "LOT-1")
        with caplog.at_level(logging.CRITICAL, "evledger.ingest"), pytest.raises(OutboxFull):
            runner.capture(signed("S-2"), "LOT-1")
        assert "capture.failed record_id=S-2" in caplog.text
        assert "full" in caplog.text
        assert value(runner, "evledger_ingest_captured_total", kind="scan") == 1


def test_backoff_grows_is_capped_and_resets(box: Outbox) -> None:
    up = {"ok": False}
    client = FakeClient(lambda rid: "accepted" if up["ok"] else down())
    runner = Runner(box, client, drain_interval=0.5, max_backoff=4.0, jitter=lambda: 1.0)
    runner.capture(signed("S-1"), "LOT-1")
    assert runner.delay() == 0.5
    delays = []
    for _ in range(6):
        result = runner.drain_once()
        assert isinstance(result.error, UnreachableError)
        delays.append(runner.delay())
    assert delays == [1.0, 2.0, 4.0, 4.0, 4.0, 4.0]  # jitter 1.0: the whole capped step
    assert runner.failures == 6
    low = Runner(box, client, drain_interval=0.5, max_backoff=4.0, jitter=lambda: 0.0)
    low.failures = 3
    assert low.delay() == 2.0  # jitter 0: half the step
    up["ok"] = True
    assert runner.drain_once().ok
    assert (runner.failures, runner.delay()) == (0, 0.5)
    assert box.stats().depth == 0


def test_one_log_line_per_change_of_state(
    box: Outbox, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    up = {"ok": True}
    runner = Runner(box, FakeClient(lambda rid: "accepted" if up["ok"] else down()), clock=clock)
    with caplog.at_level(logging.INFO, "evledger.ingest"):
        runner.drain_once()
        up["ok"] = False
        for _ in range(5):
            runner.capture(signed(f"S-{_}"), "LOT-1")
            runner.drain_once()
            clock.t += 10
        up["ok"] = True
        runner.drain_once()
        runner.drain_once()
    events = [r.getMessage().split()[0] for r in caplog.records]
    assert events == ["service.reachable", "service.unreachable", "service.reachable"]
    back = caplog.records[-1].getMessage()
    assert "down_seconds=50.000" in back and "attempts=5" in back and "sent=5" in back
    assert "cannot reach" in caplog.records[1].getMessage()


def test_refusals_are_logged_each_and_counted(
    box: Outbox, caplog: pytest.LogCaptureFixture
) -> None:
    client = FakeClient(lambda rid: "refused" if rid.startswith("BAD") else "accepted")
    runner = Runner(box, client)
    for rid in ("S-1", "BAD-1", "S-2", "BAD-2"):
        runner.capture(signed(rid), "LOT-1")
    with caplog.at_level(logging.ERROR, "evledger.ingest"):
        result = runner.drain_once()
    assert (result.accepted, result.refused, result.ok) == (2, 2, True)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2
    assert lines[0].startswith("record.refused record_id=BAD-1 http_status=403")
    assert "error=signer_unknown" in lines[0]
    assert 'detail="BAD-1: device not registered"' in lines[0]
    assert value(runner, "evledger_ingest_sent_total", outcome="refused") == 2
    assert value(runner, "evledger_ingest_sent_total", outcome="accepted") == 2
    assert value(runner, "evledger_ingest_outbox_refused") == 2
    assert [r.record_id for r in box.refused()] == ["BAD-1", "BAD-2"]


def test_outbox_gauges(box: Outbox, clock: Clock) -> None:
    up = {"ok": False}
    runner = Runner(box, FakeClient(lambda rid: "accepted" if up["ok"] else down()))
    assert value(runner, "evledger_ingest_outbox_depth") == 0
    assert value(runner, "evledger_ingest_last_send_timestamp") == 0
    assert value(runner, "evledger_ingest_sent_total", outcome="accepted") == 0
    runner.capture(signed("S-1"), "LOT-1")
    clock.t += 30
    runner.capture(signed("S-2"), "LOT-1")
    clock.t += 12.5
    runner.drain_once()
    assert value(runner, "evledger_ingest_outbox_depth") == 2
    assert value(runner, "evledger_ingest_outbox_oldest_seconds") == 42.5
    assert value(runner, "evledger_ingest_drain_errors_total") == 1
    up["ok"] = True
    runner.drain_once()
    assert value(runner, "evledger_ingest_outbox_depth") == 0
    assert value(runner, "evledger_ingest_outbox_oldest_seconds") == 0
    assert value(runner, "evledger_ingest_last_send_timestamp") == clock.t
    assert value(runner, "evledger_ingest_sent_total", outcome="accepted") == 2


def test_thread_drains_and_stop_drains_once_more(box: Outbox) -> None:
    client = FakeClient()
    runner = Runner(box, client, drain_interval=30.0, max_backoff=30.0)
    runner.capture(signed("S-1"), "LOT-1")
    runner.start()
    deadline = time.monotonic() + 5
    while box.stats().depth and time.monotonic() < deadline:
        time.sleep(0.01)
    assert client.requests == [["S-1"]]
    runner.capture(signed("S-2"), "LOT-1")  # the thread now waits 30 s ...
    started = time.monotonic()
    assert runner.stop(timeout=5) is True  # ... stop interrupts the wait and drains once more
    assert time.monotonic() - started < 2
    assert client.requests == [["S-1"], ["S-2"]]
    assert box.stats().depth == 0
    assert not [t for t in threading.enumerate() if t.name == "evledger-drain"]


def test_stop_with_the_service_down_keeps_the_records(box: Outbox) -> None:
    runner = Runner(box, FakeClient(lambda rid: down()), drain_interval=0.01, max_backoff=0.05)
    runner.capture(signed("S-1"), "LOT-1")
    runner.start()
    time.sleep(0.1)
    assert runner.stop(timeout=5) is True
    assert box.stats().depth == 1
    assert runner.reachable is False


def test_serve_metrics_on_a_free_port(box: Outbox) -> None:
    runner = Runner(box, FakeClient())
    runner.capture(signed("S-1"), "LOT-1")
    port = runner.serve_metrics(0)
    assert port > 0
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
            text = resp.read().decode()
    finally:
        runner.stop()
    assert 'evledger_ingest_captured_total{kind="scan"} 1.0' in text
    for name in (
        "evledger_ingest_bad_scans_total",
        "evledger_ingest_sent_total",
        "evledger_ingest_outbox_depth",
        "evledger_ingest_outbox_oldest_seconds",
        "evledger_ingest_last_send_timestamp",
        "evledger_ingest_source_errors_total",
    ):
        assert f"# TYPE {name.removesuffix('_total')}" in text, name
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=1)


def test_runner_arguments_are_checked(box: Outbox) -> None:
    with pytest.raises(ValueError, match="expected 0 < drain_interval <= max_backoff"):
        Runner(box, FakeClient(), drain_interval=5, max_backoff=1)


def test_kv_quotes_what_needs_it() -> None:
    assert kv("e", a=1, b="x y", c=None, d='q"', f=1.5) == 'e a=1 b="x y" d="q\\"" f=1.500'
