"""Faults on the shop floor, with the real processes: the API stops and comes back on the same
port while a scanner ingester (real pty) and a PLC ingester (real pymodbus TCP server) keep
capturing, and a scanner ingester is killed with SIGKILL mid-stream, again and again. What
reaches the ledger is exactly what was captured, once each, in capture order per lot.

What "captured" means is read from the outbox itself: before an ingester starts, the test adds
a journal table and a trigger to its outbox file, so every row the ingester inserts is copied,
in the same SQLite transaction, into ``test_captured`` (kept after the drain deletes the row,
and after a kill -9). The ingester's code is unchanged; only the file gains a table.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient

from api.app import create_app
from ingest.outbox import Outbox
from ledger.embedded import free_port
from ledger.runtime import Runtime
from tests.helpers import bearer, register
from tests.modbus_sim import ModbusSimServer

pytestmark = [pytest.mark.integration, pytest.mark.req("FLOOR-4", "FLOOR-3")]

BIN = Path(sys.executable).parent
GTIN = "09506000134352"
GS = b"\x1d"
BAD_LINE = b"]C1garbage\n"  # a bad scan: logged and counted, never a record
SCAN_LOT = "LOT-FAULT-SCAN"
PLC_LOT = "LOT-FAULT-PLC"
DEADLINE = 60.0  # generous: CI is a loaded 2-core machine; every wait polls a condition


def serial_text(n: int) -> str:
    """``n`` as an AI 21 serial in letters only (``SN-AAAB`` is 1): digits in a serial can
    read as a swallowed AI to the missing-separator check (``SN-000030`` is refused)."""
    letters = ""
    for _ in range(5):
        n, digit = divmod(n, 26)
        letters = chr(ord("A") + digit) + letters
    assert n == 0, "serial out of range"
    return f"SN-{letters}"


def scan_line(serial: int) -> bytes:
    return b"]C101" + GTIN.encode() + b"10LOT-A" + GS + f"21{serial_text(serial)}\n".encode()


def serial_of(record: dict[str, Any]) -> int:
    serial = record["gs1"]["serial"]
    assert isinstance(serial, str) and serial.startswith("SN-"), record
    n = 0
    for c in serial[3:]:
        n = n * 26 + ord(c) - ord("A")
    assert serial_text(n) == serial, record
    return n


def wait_until(what: str, condition: Callable[[], bool], *procs: Proc) -> None:
    """Poll ``condition`` until it holds; fail if a process exits or DEADLINE passes."""
    deadline = time.monotonic() + DEADLINE
    while not condition():
        for p in procs:
            assert p.process.poll() is None, (
                f"{p.name} exited while waiting for {what}:\n{p.text()}"
            )
        if time.monotonic() > deadline:
            logs = "".join(f"\n--- {p.name}:\n{p.text()[-4000:]}" for p in procs)
            raise AssertionError(f"{what}: expected within {DEADLINE} s, still not{logs}")
        time.sleep(0.05)


# -- processes and services ----------------------------------------------------------------------


class Proc:
    """``evledger ingest ...`` in a process of its own, its log in a file."""

    def __init__(self, name: str, work: Path, *args: str) -> None:
        self.name = name
        self.log = work / f"{name}-{time.monotonic_ns()}.log"
        with open(self.log, "wb") as out:
            self.process = subprocess.Popen(
                [str(BIN / "evledger"), "ingest", *args],
                cwd=work, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, needle: str, after: str = "") -> None:
        """Wait until the log holds ``needle`` (after the last ``after``, if given)."""

        def seen() -> bool:
            text = self.text()
            return needle in text[text.rfind(after) :] if after else needle in text

        wait_until(f"{self.name} logging {needle!r}", seen, self)

    def terminate(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=DEADLINE)

    def kill9(self) -> int:
        self.process.kill()
        return self.process.wait(timeout=DEADLINE)

    def reap(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=DEADLINE)


class Api:
    """The real app over ``runtime``'s ledger, served by uvicorn on one fixed port: stopped
    and started again on the same port, as a server restart looks to the ingesters."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        deadline = time.monotonic() + DEADLINE
        while True:  # a port just released may take a moment to bind again
            server = uvicorn.Server(uvicorn.Config(
                create_app(self.runtime.ledger), host="127.0.0.1", port=self.port,
                log_level="warning"))  # fmt: skip
            thread = threading.Thread(target=server.run, daemon=True)
            thread.start()
            while not server.started and thread.is_alive():
                assert time.monotonic() < deadline, f"uvicorn did not start on {self.url}"
                time.sleep(0.05)
            if server.started:
                self._server, self._thread = server, thread
                return
            assert time.monotonic() < deadline, f"uvicorn could not bind {self.url}"
            time.sleep(0.2)

    def stop(self) -> None:
        if self._server is None or self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(DEADLINE)
        assert not self._thread.is_alive(), "uvicorn did not stop"
        self._server = self._thread = None
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{self.url}/healthz", timeout=5)


class PlcServer(ModbusSimServer):
    """The line's PLC: holding registers 0..9 at 0; :meth:`set` changes register 0 as the PLC
    program would."""

    def __init__(self) -> None:
        super().__init__(holding=[0] * 10, input=[0] * 10)

    def set(self, value: int) -> None:
        self.write(0, [value])


class Producer:
    """A thread playing the shop floor: a good scan every ``every`` seconds (serials 1, 2, ...)
    and a bad one every 7th line; with a PLC, register 0 counts up every third tick.

    Writes never block (while no ingester reads, the pty's buffer may fill): a line the pty
    did not take whole is not counted as written, and its serial is not used again."""

    def __init__(self, master: int, plc: PlcServer | None = None, every: float = 0.04) -> None:
        self.master, self.plc, self.every = master, plc, every
        self.written: list[int] = []  # good serials the pty took, in the order written
        self.bad = 0
        self.plc_value = 0
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        os.set_blocking(master, False)

    def _write(self, line: bytes) -> bool:
        try:
            return os.write(self.master, line) == len(line)
        except BlockingIOError:
            return False

    def _run(self) -> None:
        tick = 0
        try:
            while not self._stop.is_set():
                tick += 1
                if tick % 7 == 0 and self._write(BAD_LINE):
                    self.bad += 1
                if self._write(scan_line(tick)):
                    self.written.append(tick)
                if self.plc is not None and tick % 3 == 0:
                    self.plc.set(self.plc_value + 1)
                    self.plc_value += 1
                self._stop.wait(self.every)
        except BaseException as exc:  # reported by stop()
            self.error = exc

    def start(self) -> Producer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if not self._thread.is_alive() and self._thread.ident is None:
            return  # never started
        self._thread.join(DEADLINE)
        assert not self._thread.is_alive(), "producer did not stop"
        if self.error is not None:
            raise AssertionError(f"producer failed: {self.error!r}") from self.error


@contextmanager
def pty() -> Iterator[tuple[int, str]]:
    master, slave = os.openpty()
    try:
        yield master, os.ttyname(slave)
    finally:
        os.close(master)
        os.close(slave)


# -- the outbox and the ledger -------------------------------------------------------------------


def journaled_outbox(path: Path) -> Path:
    """Create the outbox and add ``test_captured``, filled by a trigger in the transaction of
    every insert the ingester makes (see the module docstring)."""
    Outbox(path).close()
    with closing(sqlite3.connect(path)) as db:
        db.executescript(
            "CREATE TABLE test_captured (n INTEGER PRIMARY KEY AUTOINCREMENT, "
            "record_id TEXT NOT NULL, lot TEXT, body TEXT NOT NULL);"
            "CREATE TRIGGER test_captured_in AFTER INSERT ON outbox BEGIN "
            "INSERT INTO test_captured (record_id, lot, body) "
            "VALUES (NEW.record_id, NEW.lot, NEW.body); END;"
        )
    return path


def captured(path: Path) -> list[dict[str, Any]]:
    """Every record the ingesters stored in this outbox, in capture order."""
    with closing(sqlite3.connect(path, timeout=30)) as db:
        rows = db.execute("SELECT body FROM test_captured ORDER BY n").fetchall()
    return [json.loads(body)["record"] for (body,) in rows]


def depth(path: Path) -> int:
    with Outbox(path) as box:
        return box.stats().depth


def kill_point(box: Path, captures: int) -> Callable[[], bool]:
    """Mid-stream: the outbox has had ``captures`` records and holds some not yet sent."""
    return lambda: len(captured(box)) >= captures and depth(box) > 0


def device_key(client: TestClient, runtime: Runtime, work: Path, name: str) -> LocalAccount:
    device: LocalAccount = register(client, runtime, ("device",), name=name)
    key = work / f"{name}.key"
    key.write_text("0x" + bytes(device.key).hex() + "\n")
    key.chmod(0o600)
    return device


def trust_file(runtime: Runtime, work: Path) -> str:
    trust = work / "trust.json"
    trust.write_text(json.dumps(runtime.ledger.identity.trust()))
    return str(trust)


def lot_chain(
    client: TestClient, runtime: Runtime, reader: LocalAccount, lot: str
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """The lot's records as the ledger holds them, following ``entry.lot_prev`` from the
    lot's first record: (entry, record body) pairs. Checks that the chain is one line
    through every record of the lot, in the timeline's order, no record id twice."""
    headers = bearer(runtime, reader)
    resp = client.get(f"/v1/lots/{lot}", headers=headers)
    assert resp.status_code == 200, resp.text
    ids = [r["record_id"] for r in resp.json()["timeline"]]
    assert len(ids) == len(set(ids)), f"lot {lot}: a record id twice in {ids}"
    receipts = {}
    for rid in ids:
        r = client.get(f"/v1/records/{rid}/receipt")
        assert r.status_code in (200, 202), r.text
        receipts[rid] = r.json()
    after: dict[str | None, str] = {}
    for rid, receipt in receipts.items():
        prev = receipt["entry"]["lot_prev"]
        assert prev not in after, f"lot {lot}: {after[prev]} and {rid} share lot_prev {prev}"
        after[prev] = rid
    chain: list[str] = []
    prev_hash: str | None = None
    while prev_hash in after:
        chain.append(after[prev_hash])
        prev_hash = receipts[chain[-1]]["leaf_hash"]
    assert chain == ids, f"lot {lot}: lot_prev chain {chain}, expected the timeline {ids}"
    out = []
    for rid in chain:
        view = client.get(f"/v1/records/{rid}", headers=headers)
        assert view.status_code == 200, view.text
        out.append((receipts[rid]["entry"], view.json()["current"]))
    return out


# -- the tests -----------------------------------------------------------------------------------


def test_api_down_and_back_while_scanner_and_plc_capture(
    runtime: Runtime, client: TestClient, tmp_path: Path
) -> None:
    scanner_dev = device_key(client, runtime, tmp_path, "scanner")
    plc_dev = device_key(client, runtime, tmp_path, "plc")
    reader: LocalAccount = register(client, runtime, ("qa_approver",))
    trust = trust_file(runtime, tmp_path)
    scan_box = journaled_outbox(tmp_path / "scanner.outbox")
    plc_box = journaled_outbox(tmp_path / "plc.outbox")
    api, plc = Api(runtime), PlcServer()
    procs: list[Proc] = []
    with pty() as (master, port):
        producer = Producer(master, plc)
        try:
            api.start()
            plc.start()
            map_path = tmp_path / "map.toml"
            map_path.write_text(
                f'[device]\nhost = "127.0.0.1"\nport = {plc.port}\ntimeout = 1.0\n'
                f'station = "line9"\nlot = "{PLC_LOT}"\n\n'
                '[[tag]]\nname = "count"\naddress = 0\ntype = "int16"\nunit = "1"\n'
                "poll_interval = 0.1\ndeadband = 0.0\nmax_interval = 600.0\n"
            )
            common = ("--api", api.url, "--trust", trust, "--metrics-port", "0")
            scanner = Proc(
                "scanner", tmp_path, "scanner", "--port", port, "--station", "ST-9",
                "--operation", "receive", "--key", str(tmp_path / "scanner.key"), "--eol", "lf",
                "--lot", SCAN_LOT, "--outbox", str(scan_box), *common,
            )  # fmt: skip
            procs.append(scanner)
            plc_proc = Proc(
                "plc", tmp_path, "plc", "--config", str(map_path),
                "--key", str(tmp_path / "plc.key"), "--outbox", str(plc_box), *common,
            )  # fmt: skip
            procs.append(plc_proc)
            scanner.wait_for("port.open")
            plc_proc.wait_for("metrics:")
            metrics_url = re.search(r"metrics: (http://\S+)", plc_proc.text())
            assert metrics_url, plc_proc.text()
            scraped = httpx.get(metrics_url.group(1), timeout=5).text
            assert "evledger_ingest_plc_late_polls" in scraped, scraped
            producer.start()

            def grown(scans: int, readings: int) -> Callable[[], bool]:
                return lambda: (
                    len(captured(scan_box)) >= scans and len(captured(plc_box)) >= readings
                )

            # 1. Everything up: records flow.
            wait_until("first captures", grown(5, 5), *procs)
            # 2. The API stops; capture goes on, the outboxes fill.
            api.stop()
            stopped_at = time.monotonic()
            down_scans, down_readings = len(captured(scan_box)), len(captured(plc_box))
            scanner.wait_for("service.unreachable")
            plc_proc.wait_for("service.unreachable")
            filled = grown(down_scans + 20, down_readings + 8)
            wait_until(
                "captures while the API is down",
                lambda: filled() and depth(scan_box) > 0 and depth(plc_box) > 0,
                *procs,
            )
            wait_until("3 s of outage", lambda: time.monotonic() - stopped_at >= 3.0, *procs)
            # 3. The API is back on the same port; capture still goes on.
            api.start()
            up_scans, up_readings = len(captured(scan_box)), len(captured(plc_box))
            scanner.wait_for("service.reachable", after="service.unreachable")
            plc_proc.wait_for("service.reachable", after="service.unreachable")
            wait_until("captures after the restart", grown(up_scans + 10, up_readings + 4), *procs)
            # 4. The line stops; wait for the last scan and reading, then for empty outboxes.
            producer.stop()
            last_value = producer.plc_value
            wait_until(
                "every good line captured",
                lambda: [serial_of(r) for r in captured(scan_box)] == producer.written,
                *procs,
            )
            wait_until(
                f"a reading of {last_value}",
                lambda: any(r["value"] == last_value for r in captured(plc_box)),
                *procs,
            )
            wait_until(
                "both outboxes drained",
                lambda: depth(scan_box) == 0 and depth(plc_box) == 0,
                *procs,
            )
            for p in procs:
                assert p.terminate() == 0, p.text()
                assert "ingest.stopped" in p.text(), p.text()
        finally:
            producer.stop()
            for p in procs:
                p.reap()
            api.stop()
            plc.stop()

    assert down_scans < up_scans and down_readings < up_readings  # captured while down
    # The scanner: one record per good line, in the order written; bad lines none.
    scans = captured(scan_box)
    assert [serial_of(r) for r in scans] == producer.written
    assert scanner.text().count("scan.bad") == producer.bad > 0, scanner.text()
    chain = lot_chain(client, runtime, reader, SCAN_LOT)
    assert [body["record_id"] for _, body in chain] == [r["record_id"] for r in scans]
    assert [serial_of(body) for _, body in chain] == producer.written
    assert {entry["signer"] for entry, _ in chain} == {scanner_dev.address}
    # The PLC: every reading captured, once each, in capture order; values only went up.
    readings = captured(plc_box)
    chain = lot_chain(client, runtime, reader, PLC_LOT)
    assert [body["record_id"] for _, body in chain] == [r["record_id"] for r in readings]
    values = [body["value"] for _, body in chain]
    assert values == sorted(set(values)) and values[-1] == last_value, values
    assert {entry["signer"] for entry, _ in chain} == {plc_dev.address}
    for box in (scan_box, plc_box):
        with Outbox(box) as ob:
            assert ob.stats().refused == 0, ob.refused()


def test_kill_9_mid_stream_loses_and_duplicates_nothing_captured(
    runtime: Runtime, client: TestClient, api_url: str, tmp_path: Path
) -> None:
    device = device_key(client, runtime, tmp_path, "scanner")
    reader: LocalAccount = register(client, runtime, ("qa_approver",))
    trust = trust_file(runtime, tmp_path)
    box = journaled_outbox(tmp_path / "scanner.outbox")
    procs: list[Proc] = []
    pending_at_kill: list[str] = []

    with pty() as (master, port):
        producer = Producer(master, every=0.02)

        def start() -> Proc:
            p = Proc(
                "scanner", tmp_path, "scanner", "--port", port, "--station", "ST-K",
                "--operation", "receive", "--key", str(tmp_path / "scanner.key"), "--eol", "lf",
                "--lot", SCAN_LOT, "--outbox", str(box), "--api", api_url, "--trust", trust,
                "--metrics-port", "0",
            )  # fmt: skip
            procs.append(p)
            p.wait_for("port.open")
            return p

        try:
            producer.start()
            for _ in range(3):  # kill -9 while lines stream in and the outbox holds some
                p = start()
                wait_until("captures to kill amid", kill_point(box, len(captured(box)) + 10), p)
                assert p.kill9() == -signal.SIGKILL
                with Outbox(box) as ob:
                    pending_at_kill += [i.record_id for i in ob.pending(limit=100_000)]
            final = start()
            mark = len(producer.written)  # lines from here on reach an open port
            enough = len(captured(box)) + 10
            wait_until(
                "captures after the last restart", lambda: len(captured(box)) >= enough, final
            )
            producer.stop()
            later = producer.written[mark:]
            wait_until(
                "every line written after the last restart captured",
                lambda: set(later) <= {serial_of(r) for r in captured(box)},
                final,
            )
            wait_until("the outbox drained", lambda: depth(box) == 0, final)
            assert final.terminate() == 0, final.text()
        finally:
            producer.stop()
            for p in procs:
                p.reap()

    assert pending_at_kill, "no kill found records pending: nothing was tested"
    scans = captured(box)
    chain = lot_chain(client, runtime, reader, SCAN_LOT)
    in_ledger = [body["record_id"] for _, body in chain]
    assert not set(pending_at_kill) - set(in_ledger), "pending at a kill, never in the ledger"
    assert in_ledger == [r["record_id"] for r in scans]  # exactly the captured, in order
    serials = [serial_of(body) for _, body in chain]
    assert serials == sorted(set(serials)), serials  # written order, none twice
    assert set(later) <= set(serials)
    assert {entry["signer"] for entry, _ in chain} == {device.address}
