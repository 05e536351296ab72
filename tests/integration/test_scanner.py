"""The scanner ingester through a real pseudo-terminal: GS1-128, GS1 DataMatrix, GS1 QR (Digital
Link) and EAN-13 lines become signed scan records; bad lines (check digit, date, binary
garbage, missing separator, overlong) are counted and logged in hex; a port that vanishes and
returns is reopened; pallet labels open pallets at a pack station and ship whole pallets at a
ship station; and, with the real service, the scans reach the ledger once each, chained
in capture order per lot, while an unregistered device's scans are refused and reported."""

from __future__ import annotations

import logging
import os
import threading
import time
import tty
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from evledger_verify.records import Domain, eip712_digest, record_hash, recover_signer
from fastapi.testclient import TestClient

from ingest.client import BatchResult, Client, SignedSubmission, SigningKey
from ingest.outbox import Outbox
from ingest.runner import Runner
from ingest.scan import ScanConfig
from ingest.scanner import ScannerIngester
from ledger.runtime import Runtime
from tests.helpers import fresh, register

pytestmark = [
    pytest.mark.integration,
    pytest.mark.req("FLOOR-1", "FLOOR-2", "P11-10h-1", "CFR830-1"),
]

GTIN = "09506000134352"
EAN13 = "5901234123457"
GS = b"\x1d"
DOMAIN = Domain(31337, "0x5FbDB2315678afecb367f032d93F642f64180aa3")

GOOD = {
    "gs1_128": b"]C101" + GTIN.encode() + b"10LOT-1" + GS + b"21SN-7\r\n",
    "gs1_datamatrix": b"]d201" + GTIN.encode() + b"17271231" + b"10RM-7001\r\n",
    "gs1_qr": b"]Q3https://id.example.com/01/09506000134352/10/LOT-1?17=271231\r\n",
    "ean_13": b"]E0" + EAN13.encode() + b"\r\n",
}


def _sscc(body: str) -> str:
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return body + str((10 - total % 10) % 10)


SSCCS = [_sscc("00950600010000001"), _sscc("00950600010000002")]
#: Pallet labels as a GS1-128 logistic label reads: SSCC, the contents' GTIN (AI 02), a count.
PALLET_LABEL = [b"]C100" + s.encode() + b"02" + GTIN.encode() + b"3740\r\n" for s in SSCCS]

BAD = {
    "check digit": b"]C1010950600013435310LOT-1\r\n",
    "impossible date": b"]C101" + GTIN.encode() + b"17270230\r\n",  # 30 February
    "binary garbage": b"\x00\xff\xfe\x80garbage\x07\r\n",
    # A lot at its full 20 characters runs straight into the serial: no FNC1 between them.
    "missing separator": b"]C101" + GTIN.encode() + b"10" + b"L" * 20 + b"21SN-7\r\n",
}


class Pty:
    """A pseudo-terminal pair in raw mode, reachable through a symlink that the test can
    remove (the port vanishes) and point at a new pair (the port returns)."""

    def __init__(self, link: Path) -> None:
        self.link = link
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        link.unlink(missing_ok=True)
        link.symlink_to(os.ttyname(self.slave))

    def write(self, data: bytes) -> None:
        os.write(self.master, data)

    def vanish(self) -> None:
        self.link.unlink(missing_ok=True)
        os.close(self.master)
        os.close(self.slave)
        self.master = self.slave = -1

    def close(self) -> None:
        if self.master >= 0:
            self.vanish()


class RecordingRunner(Runner):
    """A runner that remembers what it captured, in order (the outbox forgets what is sent)."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.log: list[SignedSubmission] = []

    def capture(self, signed: SignedSubmission, lot: str | None) -> None:
        super().capture(signed, lot)
        self.log.append(signed)


class NoService:
    """A sender that is never called (the runner is not started in the port tests)."""

    def submit_batch(self, items: Any, chunk: int = 1000) -> BatchResult:
        raise AssertionError("not sending in this test")


@dataclass
class Running:
    ingester: ScannerIngester
    stop: threading.Event
    thread: threading.Thread
    errors: list[BaseException] = field(default_factory=list)


@pytest.fixture()
def start() -> Iterator[Callable[..., Running]]:
    """Starts ingesters in threads; stops and joins every one of them at the end."""
    started: list[Running] = []

    def _start(ingester: ScannerIngester) -> Running:
        stop = threading.Event()
        errors: list[BaseException] = []

        def target() -> None:
            try:
                ingester.run(stop)
            except BaseException as exc:  # surfaced by the test
                errors.append(exc)

        thread = threading.Thread(target=target, name="test-scanner", daemon=True)
        running = Running(ingester, stop, thread, errors)
        thread.start()
        started.append(running)
        return running

    yield _start
    for r in started:
        r.stop.set()
        r.thread.join(5)
        assert not r.thread.is_alive(), "ingester did not stop within 5 s"
        assert not r.errors, r.errors


def wait_for(check: Callable[[], bool], timeout: float = 5.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.01)


def ingester(
    port: str, key: SigningKey, runner: Runner, domain: Domain = DOMAIN, **kw: Any
) -> ScannerIngester:
    kw.setdefault("station", "dock 1")
    kw.setdefault("operation", "receive")
    return ScannerIngester(port, key=key, domain=domain, runner=runner, jitter=lambda: 0.0, **kw)


def check_signed(s: SignedSubmission, key: SigningKey, domain: Domain) -> None:
    digest = eip712_digest(
        domain, s.record_id, s.record["type"], record_hash(s.record), s.meaning, s.signed_at
    )
    assert recover_signer(digest, s.signature) == key.address
    assert s.meaning == "recorded"


def test_lines_from_a_pty(
    tmp_path: Path, start: Callable[..., Running], caplog: pytest.LogCaptureFixture
) -> None:
    key = SigningKey.generate()
    pty = Pty(tmp_path / "ttyScanner")
    with Outbox(tmp_path / "outbox.db") as box:
        runner = Runner(box, NoService())
        ing = ingester(str(pty.link), key, runner, lot="LOT-DOCK-1", config=ScanConfig())
        caplog.set_level(logging.INFO, "evledger.ingest")
        t0 = time.time()
        running = start(ing)
        try:
            wait_for(lambda: "port.open" in caplog.text, what="the port to open")
            pty.write(GOOD["gs1_128"] + BAD["check digit"] + GOOD["gs1_datamatrix"])
            pty.write(BAD["binary garbage"] + BAD["impossible date"])
            for piece in (b"]C101" + b"9" * 300, b"9" * 300, b"9" * 300 + b"\r\n"):
                time.sleep(0.15)  # an overlong line arriving in pieces: discarded once over
                pty.write(piece)  # 512 bytes, up to its end of line
            pty.write(GOOD["gs1_qr"] + BAD["missing separator"] + b"\r\n")  # and an empty line
            pty.write(GOOD["ean_13"][:5])  # a line split across reads
            time.sleep(0.15)
            pty.write(GOOD["ean_13"][5:])
            wait_for(lambda: ing.stats.captured == 4 and ing.stats.bad_scans == 5, what="scans")
        finally:
            running.stop.set()
            running.thread.join(5)
            pty.close()
        t1 = time.time()

        pending = box.pending()
        assert [p.submission.record["gs1"]["gtin"] for p in pending] == [GTIN] * 3 + ["0" + EAN13]
        assert [p.submission.record["gs1"].get("lot") for p in pending] == [
            "LOT-1", "RM-7001", "LOT-1", None,
        ]  # fmt: skip
        ids = [p.record_id for p in pending]
        assert len(set(ids)) == 4
        for p in pending:
            s = p.submission
            check_signed(s, key, DOMAIN)
            assert p.lot == s.record["lot"] == "LOT-DOCK-1"
            assert s.record["station"] == "dock 1" and s.record["operation"] == "receive"
            assert s.record_id.startswith("scan-dock_1-") and s.record_id.endswith(
                f"-{ing.run_id}-{ids.index(s.record_id) + 1}"
            )
            assert s.record["scanned_at"].endswith("+00:00")
            assert t0 - 1 <= s.signed_at <= t1
        assert runner.registry.get_sample_value("evledger_ingest_bad_scans_total") == 5
        assert (
            runner.registry.get_sample_value("evledger_ingest_captured_total", {"kind": "scan"})
            == 4
        )
        bad = [r.getMessage() for r in caplog.records if r.getMessage().startswith("scan.bad")]
        assert len(bad) == 5
        assert "check digit" in bad[0] and f"raw_hex={BAD['check digit'][:-2].hex()}" in bad[0]
        assert "byte 0: expected printable ASCII" in bad[1] and "raw_hex=00fffe80" in bad[1]
        assert "date/time from '270230'" in bad[2]
        assert "expected at most 512 bytes" in bad[3] and "raw_hex=5d433130313939" in bad[3]
        assert "expected a GS (FNC1) after this variable-length field" in bad[4]


def test_port_vanishes_and_returns(
    tmp_path: Path, start: Callable[..., Running], caplog: pytest.LogCaptureFixture
) -> None:
    key = SigningKey.generate()
    link = tmp_path / "ttyScanner"
    pty = Pty(link)
    with Outbox(tmp_path / "outbox.db") as box:
        runner = Runner(box, NoService())
        ing = ingester(str(link), key, runner, reopen_max_backoff=0.5)
        caplog.set_level(logging.INFO, "evledger.ingest")
        running = start(ing)
        try:
            wait_for(lambda: "port.open" in caplog.text, what="the port to open")
            pty.write(GOOD["gs1_128"])
            wait_for(lambda: ing.stats.captured == 1, what="the first scan")
            pty.write(b"]C101" + GTIN.encode())  # half a line, then the cable is pulled
            time.sleep(0.15)
            pty.vanish()
            wait_for(lambda: ing.stats.port_errors >= 3, what="failed reopens")
            pty = Pty(link)  # plugged in again: a new device node behind the same path
            wait_for(lambda: ing.stats.reopened == 1, what="the port to come back")
            pty.write(GOOD["ean_13"] + GOOD["gs1_qr"])
            wait_for(lambda: ing.stats.captured == 3, what="scans after the outage")
        finally:
            running.stop.set()
            running.thread.join(5)
            pty.close()
        assert not running.thread.is_alive()
        messages = [r.getMessage().split()[0] for r in caplog.records]
        # one line when the outage starts, one when it ends; none per failed reopen
        assert messages == [
            "scanner.start", "port.open", "port.lost", "scan.bad", "port.back", "scanner.stop",
        ]  # fmt: skip
        assert ing.stats.bad_scans == 1  # the half line cut by the outage
        reg = runner.registry
        assert reg.get_sample_value("evledger_ingest_source_errors_total", {"kind": "serial_read"})
        assert (
            reg.get_sample_value("evledger_ingest_source_errors_total", {"kind": "serial_open"})
            or 0
        ) >= 2
        assert len(box.pending()) == 3


def test_stop_is_prompt_and_arguments_are_checked(
    tmp_path: Path, start: Callable[..., Running], caplog: pytest.LogCaptureFixture
) -> None:
    """A port absent from the start: logged once, retried, and stop is still prompt."""
    key = SigningKey.generate()
    caplog.set_level(logging.INFO, "evledger.ingest")
    with Outbox(tmp_path / "outbox.db") as box:
        runner = Runner(box, NoService())
        running = start(ingester(str(tmp_path / "absent"), key, runner))
        wait_for(lambda: running.ingester.stats.port_errors >= 2, what="two failed opens")
        t = time.monotonic()
        running.stop.set()
        running.thread.join(2)
        assert not running.thread.is_alive() and time.monotonic() - t < 1
        unavailable = [m for m in caplog.messages if m.startswith("port.unavailable")]
        assert len(unavailable) == 1 and "No such file or directory" in unavailable[0]
        with pytest.raises(ValueError, match="operation: expected receive"):
            ingester("loop://", key, runner, operation="inspect")
        with pytest.raises(ValueError, match="eol: expected"):
            ingester("loop://", key, runner, eol=b";")


def test_loop_url(tmp_path: Path, start: Callable[..., Running]) -> None:
    """A pyserial URL works too; eol LF with a scanner that sends CR LF."""
    key = SigningKey.generate()
    with Outbox(tmp_path / "outbox.db") as box:
        runner = Runner(box, NoService())
        ing = ingester("loop://", key, runner, eol=b"\n")
        running = start(ing)
        wait_for(lambda: ing.connected, what="loop:// to open")
        ing._serial.write(GOOD["gs1_128"] + GOOD["ean_13"])
        wait_for(lambda: ing.stats.captured == 2, what="two scans")
        running.stop.set()
        running.thread.join(5)
        assert ing.stats.bad_scans == 0


def test_pallets_at_pack_and_ship_stations(
    tmp_path: Path, start: Callable[..., Running], caplog: pytest.LogCaptureFixture
) -> None:
    """Pack: an SSCC label opens a pallet (no record), lots go onto it, another label switches,
    a lot before any label is refused, and a restart forgets the pallet. Ship: an SSCC label
    alone ships the whole pallet. Elsewhere an SSCC label is a bad scan."""
    key = SigningKey.generate()
    caplog.set_level(logging.INFO, "evledger.ingest")
    lot_line = {lot: b"]C101" + GTIN.encode() + b"10" + lot.encode() + GS + b"3720\r\n"
                for lot in ("P-1", "P-2", "P-3")}  # fmt: skip
    pty = Pty(tmp_path / "ttyPack")
    try:
        with Outbox(tmp_path / "pack.db") as box:
            runner = Runner(box, NoService())
            pack = ingester(str(pty.link), key, runner, station="PACK", operation="pack",
                            unit="EA")  # fmt: skip
            running = start(pack)
            wait_for(lambda: pack.connected, what="the port to open")
            pty.write(lot_line["P-1"])  # no pallet yet
            wait_for(lambda: pack.stats.bad_scans == 1, what="the refused lot scan")
            pty.write(PALLET_LABEL[0] + lot_line["P-1"] + lot_line["P-2"])
            wait_for(lambda: pack.stats.captured == 2, what="two lots packed")
            pty.write(PALLET_LABEL[1] + lot_line["P-3"])
            wait_for(lambda: pack.stats.captured == 3, what="a lot on the second pallet")
            running.stop.set()
            running.thread.join(5)
            assert (pack.stats.pallets, pack.stats.bad_scans) == (2, 1)

            again = ingester(str(pty.link), key, runner, station="PACK", operation="pack")
            running = start(again)
            wait_for(lambda: again.connected, what="the port to open again")
            pty.write(lot_line["P-3"])
            wait_for(lambda: again.stats.bad_scans == 1, what="a lot refused after a restart")
            running.stop.set()
            running.thread.join(5)
            packed = [p.submission.record for p in box.pending()]
        assert [(r["lot"], r["pallet"], r["quantity"], r["unit"]) for r in packed] == [
            ("P-1", SSCCS[0], 20, "EA"), ("P-2", SSCCS[0], 20, "EA"), ("P-3", SSCCS[1], 20, "EA"),
        ]  # fmt: skip
        assert all(r["operation"] == "pack" and r["gs1"]["lot"] == r["lot"] for r in packed)
        opened = [m for m in caplog.messages if m.startswith("pallet.open")]
        assert len(opened) == 2 and f"sscc={SSCCS[1]} previous={SSCCS[0]}" in opened[1]
        bad = [m for m in caplog.messages if m.startswith("scan.bad")]
        assert len(bad) == 2 and all(
            "pack: scan the pallet's SSCC label first (expected an open pallet for "
            f"(01){GTIN}(10)P-" in m
            for m in bad
        ), bad
        stops = [m for m in caplog.messages if m.startswith("scanner.stop")]
        assert f"open_pallet={SSCCS[1]}" in stops[0] and "open_pallet" not in stops[1]
    finally:
        pty.close()

    pty = Pty(tmp_path / "ttyShip")
    try:
        with Outbox(tmp_path / "ship.db") as box:
            runner = Runner(box, NoService())
            ship = ingester(str(pty.link), key, runner, station="SHIP", operation="ship",
                            consignee="Hospital North", unit="EA")  # fmt: skip
            elsewhere = ingester("loop://", key, runner, station="DOCK", operation="receive")
            running, other = start(ship), start(elsewhere)
            wait_for(lambda: ship.connected and elsewhere.connected, what="the ports to open")
            pty.write(PALLET_LABEL[0] + lot_line["P-3"])
            elsewhere._serial.write(PALLET_LABEL[0])
            wait_for(lambda: ship.stats.captured == 2, what="two shipments")
            wait_for(lambda: elsewhere.stats.bad_scans == 1, what="a pallet label at receiving")
            for r in (running, other):
                r.stop.set()
                r.thread.join(5)
            shipped = [p.submission.record for p in box.pending()]
        assert [(r["gs1"], r.get("lot"), r["consignee"], r.get("quantity")) for r in shipped] == [
            ({"sscc": SSCCS[0]}, None, "Hospital North", None),
            ({"gtin": GTIN, "lot": "P-3"}, "P-3", "Hospital North", 20),
        ]
        assert elsewhere.stats.captured == 0
        refused = next(m for m in caplog.messages if m.startswith("scan.bad port=loop://"))
        assert "receive: expected a trade item's label (AI 01 GTIN), got a pallet label" in refused
    finally:
        pty.close()


def test_station_settings_are_checked(tmp_path: Path) -> None:
    key = SigningKey.generate()
    with Outbox(tmp_path / "outbox.db") as box:
        runner = Runner(box, NoService())
        with pytest.raises(ValueError, match="consignee: expected who receives the goods"):
            ingester("loop://", key, runner, operation="ship")
        with pytest.raises(ValueError, match="supplier: expected none at a pack station"):
            ingester("loop://", key, runner, operation="pack", supplier="Polymer GmbH")
        with pytest.raises(ValueError, match="unit: expected 1 to 16 characters"):
            ingester("loop://", key, runner, unit="")


# -- with the real service ----------------------------------------------------------------------


def test_scans_reach_the_ledger_once_each_in_order_per_lot(
    client: TestClient, runtime: Runtime, tmp_path: Path, start: Callable[..., Running]
) -> None:
    device = SigningKey(bytes(register(client, runtime, ("device",)).key))
    domain = runtime.ledger.identity.domain
    lots = [fresh("SCN-LOT-A"), fresh("SCN-LOT-B")]
    pty = Pty(tmp_path / "ttyScanner")
    api = Client("http://testserver", http=client, retries=0, sleep=lambda _: None)
    with Outbox(tmp_path / "outbox.db") as box:
        runner = RecordingRunner(box, api, drain_interval=0.05, max_backoff=0.5)
        ing = ingester(str(pty.link), device, runner, domain, lot=lots[0], station="line 2")
        runner.start()
        running = start(ing)
        try:
            wait_for(lambda: ing.connected, what="the port to open")
            plan = [0, 0, 1, 0, 1, 1, 0]  # the lots interleave
            for n, which in enumerate(plan, 1):
                ing.lot = lots[which]  # between scans: the line changed lots
                pty.write(GOOD["gs1_128"] if n % 2 else GOOD["gs1_datamatrix"])
                wait_for(lambda: ing.stats.captured == n, what=f"scan {n}")  # noqa: B023
            wait_for(lambda: box.stats().depth == 0, timeout=10, what="the outbox to drain")
        finally:
            running.stop.set()
            running.thread.join(5)
            assert runner.stop(timeout=5)
            pty.close()
        sent = runner.registry.get_sample_value
        assert sent("evledger_ingest_sent_total", {"outcome": "accepted"}) == len(plan)
        assert sent("evledger_ingest_sent_total", {"outcome": "refused"}) == 0
        assert sent("evledger_ingest_sent_total", {"outcome": "duplicate"}) == 0  # once each

    assert [s.record["lot"] for s in runner.log] == [lots[w] for w in plan]
    receipts: dict[str, dict[str, Any]] = {}
    for s in runner.log:
        check_signed(s, device, domain)
        resp = client.get(f"/v1/records/{s.record_id}/receipt")
        assert resp.status_code in (200, 202), resp.text  # 202: not sealed yet
        receipts[s.record_id] = resp.json()
        entry = receipts[s.record_id]["entry"]
        assert entry["signed_at"] == s.signed_at and entry["meaning"] == "recorded"
        assert entry["signer"].lower() == device.address.lower()
    for lot in lots:  # each scan of a lot points at the one captured before it
        prev = None
        for s in runner.log:
            if s.record["lot"] == lot:
                assert receipts[s.record_id]["entry"]["lot_prev"] == prev
                prev = receipts[s.record_id]["leaf_hash"]


def test_an_unregistered_device_is_refused_and_reported(
    client: TestClient,
    runtime: Runtime,
    tmp_path: Path,
    start: Callable[..., Running],
    caplog: pytest.LogCaptureFixture,
) -> None:
    stranger = SigningKey.generate()
    pty = Pty(tmp_path / "ttyScanner")
    api = Client("http://testserver", http=client, retries=0, sleep=lambda _: None)
    caplog.set_level(logging.INFO, "evledger.ingest")
    with Outbox(tmp_path / "outbox.db") as box:
        runner = RecordingRunner(box, api, drain_interval=0.05, max_backoff=0.5)
        ing = ingester(
            str(pty.link), stranger, runner, runtime.ledger.identity.domain, lot=fresh("SCN-LOT")
        )
        runner.start()
        running = start(ing)
        try:
            wait_for(lambda: ing.connected, what="the port to open")
            pty.write(GOOD["gs1_128"] + GOOD["ean_13"])
            wait_for(lambda: box.stats().refused == 2, timeout=10, what="two refusals")
        finally:
            running.stop.set()
            running.thread.join(5)
            assert runner.stop(timeout=5)
            pty.close()
        refused = box.refused()
        assert [r.record_id for r in refused] == [s.record_id for s in runner.log]
        assert all(r.http_status is not None and 400 <= r.http_status < 500 for r in refused)
        assert box.stats().depth == 0
        reg = runner.registry
        assert reg.get_sample_value("evledger_ingest_sent_total", {"outcome": "refused"}) == 2
        assert reg.get_sample_value("evledger_ingest_outbox_refused") == 2
    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    for s in runner.log:
        line = next(m for m in lines if m.startswith(f"record.refused record_id={s.record_id}"))
        assert "http_status=4" in line and "error=" in line
        assert client.get(f"/v1/records/{s.record_id}/receipt").status_code == 404
