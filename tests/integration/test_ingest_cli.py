"""`evledger ingest scanner` as a line PC runs it: a real pseudo-terminal, the real service
over HTTP, SIGTERM. Records captured while the ledger is unreachable wait in the outbox and
reach the ledger once it is back, once each, in capture order. An outbox over its cap (a
scanner on a pty, a PLC ingester polling a real Modbus server) stops the process loudly."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from evledger_verify.checkpoint import verifier_key_string

from ingest.client import SigningKey
from ingest.outbox import Outbox
from ledger.embedded import free_port
from ledger.runtime import Runtime
from tests.helpers import register
from tests.modbus_sim import ModbusSimServer

pytestmark = [pytest.mark.integration, pytest.mark.req("FLOOR-3", "API-7")]

BIN = Path(sys.executable).parent
GTIN = "09506000134352"
GS = b"\x1d"


def scan_line(serial: int) -> bytes:
    return b"]C101" + GTIN.encode() + b"10LOT-A" + GS + f"21SN-{serial}".encode() + b"\n"


class Ingester:
    """`evledger ingest scanner` in a process of its own, reading the pty's slave side."""

    def __init__(self, work: Path, port: str, key: Path, api: str, *extra: str) -> None:
        self.log = work / f"ingester-{time.monotonic_ns()}.log"
        args = [str(BIN / "evledger"), "ingest", "scanner", "--port", port, "--station", "ST-1",
                "--operation", "receive", "--key", str(key), "--api", api, "--eol", "lf",
                "--lot", "LOT-IN-1", "--outbox", str(work / "outbox.sqlite"),
                "--metrics-port", "0", *extra]
        with open(self.log, "wb") as out:
            self.process = subprocess.Popen(args, cwd=work, stdout=out, stderr=subprocess.STDOUT)
        self.wait_for("port.open")

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, needle: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while needle not in self.text():
            assert self.process.poll() is None, self.text()
            assert time.monotonic() < deadline, f"no {needle!r} in:\n{self.text()}"
            time.sleep(0.05)

    def metrics(self) -> str:
        match = re.search(r"metrics: (http://\S+)", self.text())
        assert match, self.text()
        return httpx.get(match.group(1), timeout=5).text

    def terminate(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=30)


def test_scanner_captures_offline_and_delivers_in_order(
    runtime: Runtime, client: httpx.Client, api_url: str, tmp_path: Path
) -> None:
    device = register(client, runtime, ("device",))  # type: ignore[arg-type]
    key = tmp_path / "station.key"
    key.write_text("0x" + bytes(device.key).hex() + "\n")
    key.chmod(0o600)
    trust = tmp_path / "trust.json"
    trust.write_text(json.dumps(runtime.ledger.identity.trust()))
    master, slave = os.openpty()
    port = os.ttyname(slave)
    try:
        # 1. The ledger is unreachable: scans are captured, signed and kept.
        offline = Ingester(tmp_path, port, key, f"http://127.0.0.1:{free_port()}",
                           "--trust", str(trust))
        for n in range(3):
            os.write(master, scan_line(n))
        os.write(master, b"]C1garbage\n")  # a bad scan: counted, never a record
        offline.wait_for("service.unreachable")
        deadline = time.monotonic() + 20
        while "evledger_ingest_bad_scans_total 1.0" not in offline.metrics():
            assert time.monotonic() < deadline, offline.metrics()
            time.sleep(0.1)
        assert offline.terminate() == 0, offline.text()
        with Outbox(tmp_path / "outbox.sqlite") as box:
            kept = [p.record_id for p in box.pending()]
        assert len(kept) == 3
        # 2. The ledger is back: what waited and what comes now arrive once each, in order.
        online = Ingester(tmp_path, port, key, api_url)
        for n in range(3, 5):
            os.write(master, scan_line(n))
        deadline = time.monotonic() + 30
        while True:
            with Outbox(tmp_path / "outbox.sqlite") as box:
                stats = box.stats()
            if stats.depth == 0 and "evledger_ingest_sent_total" in online.metrics():
                break
            assert time.monotonic() < deadline, (stats, online.text())
            time.sleep(0.1)
        assert online.terminate() == 0, online.text()
        assert "ingest.stopped" in online.text()
    finally:
        os.close(master)
        os.close(slave)
    with Outbox(tmp_path / "outbox.sqlite") as box:
        assert box.stats().refused == 0
    status = client.get("/v1/status").json()
    records = [r for r in _lot_timeline(client, runtime) if r["type"] == "scan"]
    assert len(records) == 5, (status, records)
    assert [r["record_id"] for r in records][:3] == kept
    signers = [client.get(f"/v1/records/{r['record_id']}/receipt").json()["entry"]["signer"]
               for r in records]
    assert set(signers) == {SigningKey(bytes(device.key)).address}


def _lot_timeline(client: httpx.Client, runtime: Runtime) -> list[dict[str, object]]:
    from tests.helpers import bearer

    reader = register(client, runtime, ("qa_approver",))  # type: ignore[arg-type]
    lot = client.get("/v1/lots/LOT-IN-1", headers=bearer(runtime, reader))
    assert lot.status_code == 200, lot.text
    timeline: list[dict[str, object]] = lot.json()["timeline"]
    return timeline


def test_plc_command_refuses_a_bad_register_map(tmp_path: Path) -> None:
    bad = tmp_path / "plc.toml"
    bad.write_text('[device]\nhost = "127.0.0.1"\nstation = "L1"\n[[tag]]\nname = "t"\n'
                   'address = "zero"\ntype = "float32"\nunit = "Cel"\n')
    key = tmp_path / "k.key"
    key.write_text("0x" + "11" * 32 + "\n")
    key.chmod(0o600)
    done = subprocess.run([str(BIN / "evledger"), "ingest", "plc", "--config", str(bad),
                           "--key", str(key)], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "address" in done.stderr and "expected" in done.stderr, done.stderr


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--operation", "ship"),
         "consignee: expected who receives the goods at a ship station (--consignee), got none"),
        (("--operation", "consume", "--supplier", "Polymer GmbH"),
         "supplier: expected none at a consume station (only receive scans name one)"),
        (("--operation", "receive", "--consignee", "Clinic East"),
         "consignee: expected none at a receive station (only ship scans name one)"),
        (("--operation", "pack", "--unit", "U" * 17), "unit: expected 1 to 16 characters"),
    ],
)
def test_scanner_command_refuses_station_settings_before_it_starts(
    tmp_path: Path, extra: tuple[str, ...], message: str
) -> None:
    """A station whose records the ledger would refuse does not start: a usage error (exit 2)
    before any outbox is created or the API is asked."""
    done = subprocess.run([str(BIN / "evledger"), "ingest", "scanner", "--port", "loop://",
                           "--station", "ST-X", "--key", str(tmp_path / "absent.key"),
                           "--api", "http://127.0.0.1:9", *extra],
                          capture_output=True, text=True, cwd=tmp_path)  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"Error: ingest scanner: {message}" in done.stderr, done.stderr
    assert list(tmp_path.iterdir()) == []


def _offline_station(work: Path) -> tuple[Path, Path]:
    """A device key and a trust file for a ledger that is never reached."""
    key = work / "station.key"
    key.write_text("0x" + "11" * 32 + "\n")
    key.chmod(0o600)
    origin = "evledger/31337/0x" + "22" * 20
    public = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    trust = work / "trust.json"
    trust.write_text(json.dumps({
        "format": "evledger-trust/1", "log_origin": origin,
        "log_public_key": verifier_key_string(origin, public),
        "chain_id": 31337, "contract": "0x" + "22" * 20,
    }))  # fmt: skip
    return key, trust


def test_scanner_stops_loudly_when_the_outbox_is_over_its_cap(tmp_path: Path) -> None:
    """The ledger is unreachable and the outbox may hold 3 records: the 4th good scan stops
    capture with a CRITICAL line naming the cap and how to raise it, exit 2 and no traceback;
    the outbox holds exactly the first 3 scans, whole."""
    key, trust = _offline_station(tmp_path)
    master, slave = os.openpty()
    ingester = None
    try:
        ingester = Ingester(tmp_path, os.ttyname(slave), key, f"http://127.0.0.1:{free_port()}",
                            "--trust", str(trust), "--outbox-max-records", "3")  # fmt: skip
        for n in range(6):
            os.write(master, scan_line(n))
        code = ingester.process.wait(timeout=60)
    finally:
        if ingester is not None and ingester.process.poll() is None:
            ingester.process.kill()
            ingester.process.wait(timeout=30)
        os.close(master)
        os.close(slave)
    text = ingester.text()
    assert code == 2, text
    assert "Traceback" not in text, text
    stopped = [line for line in text.splitlines() if "capture.stopped" in line]
    assert len(stopped) == 1, text
    assert " CRITICAL evledger.ingest capture.stopped ingester=scanner " in stopped[0]
    assert "reason=outbox_cap max_records=3 max_bytes=1073741824 " in stopped[0]
    assert "raise the cap with --outbox-max-records / --outbox-max-bytes" in stopped[0]
    assert "Error: scanner: capture stopped: outbox " in text
    assert "full: holds 3 records" in text and "cap 3 records" in text, text
    assert "ingest.stopped ingester=scanner" in text
    with Outbox(tmp_path / "outbox.sqlite") as box:
        stats, kept = box.stats(), box.pending()
    assert (stats.depth, stats.refused) == (3, 0)
    serials = [p.submission.record["gs1"]["serial"] for p in kept]
    assert serials == ["SN-0", "SN-1", "SN-2"], [p.submission.record for p in kept]


def test_plc_stops_loudly_when_the_outbox_is_over_its_cap(tmp_path: Path) -> None:
    """The same for the PLC ingester: a reading every 0.1 s, the ledger unreachable, a cap of 3
    records from the environment: exit 2, a CRITICAL line, the first 3 readings kept."""
    key, trust = _offline_station(tmp_path)
    server = ModbusSimServer(holding=[42])
    server.start()
    config = tmp_path / "plc.toml"
    config.write_text(
        f'[device]\nhost = "127.0.0.1"\nport = {server.port}\ntimeout = 1.0\n'
        'station = "L1"\nlot = "LOT-PLC-1"\n\n'
        '[[tag]]\nname = "count"\naddress = 0\ntype = "int16"\nunit = "1"\n'
        "poll_interval = 0.1\ndeadband = 0.0\nmax_interval = 0.1\n"
    )
    args = [str(BIN / "evledger"), "ingest", "plc", "--config", str(config), "--key", str(key),
            "--api", f"http://127.0.0.1:{free_port()}", "--trust", str(trust),
            "--outbox", str(tmp_path / "outbox.sqlite")]  # fmt: skip
    try:
        done = subprocess.run(args, capture_output=True, text=True, cwd=tmp_path, timeout=60,
                              env={**os.environ, "EVLEDGER_OUTBOX_MAX_RECORDS": "3"})  # fmt: skip
    finally:
        server.stop()
    text = done.stdout + done.stderr
    assert done.returncode == 2, text
    assert "Traceback" not in text, text
    assert " CRITICAL evledger.ingest capture.stopped ingester=plc " in text, text
    assert "reason=outbox_cap max_records=3 " in text, text
    assert "Error: plc: capture stopped: outbox " in text, text
    with Outbox(tmp_path / "outbox.sqlite") as box:
        stats, kept = box.stats(), box.pending()
    assert (stats.depth, stats.refused) == (3, 0)
    assert [p.submission.record["type"] for p in kept] == ["process_reading"] * 3


@pytest.mark.parametrize(
    ("command", "args", "env", "message"),
    [
        ("scanner", ("--outbox-max-records", "0"), {},
         "Invalid value for '--outbox-max-records': 0 is not in the range 1<=x<=1000000000."),
        ("scanner", ("--outbox-max-bytes", "1GiB"), {},
         "Invalid value for '--outbox-max-bytes': '1GiB' is not a valid integer range."),
        ("scanner", ("--outbox-max-bytes", "1000"), {},
         "Invalid value for '--outbox-max-bytes': 1000 is not in the range "
         "65536<=x<=1099511627776."),
        ("scanner", (), {"EVLEDGER_OUTBOX_MAX_RECORDS": "-5"},
         "Invalid value for '--outbox-max-records': -5 is not in the range 1<=x<=1000000000."),
        ("plc", ("--outbox-max-records", "none"), {},
         "Invalid value for '--outbox-max-records': 'none' is not a valid integer range."),
        ("plc", (), {"EVLEDGER_OUTBOX_MAX_BYTES": "0"},
         "Invalid value for '--outbox-max-bytes': 0 is not in the range "
         "65536<=x<=1099511627776."),
    ],
)
def test_ingesters_refuse_bad_outbox_caps_before_they_start(
    tmp_path: Path, command: str, args: tuple[str, ...], env: dict[str, str], message: str
) -> None:
    """A bad cap, as an option or from the environment, is a usage error (exit 2) before any
    outbox is created or the API is asked."""
    config = tmp_path / "plc.toml"
    config.write_text("")
    common = (("--port", "loop://", "--station", "ST-X", "--operation", "receive")
              if command == "scanner" else ("--config", str(config)))  # fmt: skip
    done = subprocess.run([str(BIN / "evledger"), "ingest", command, *common,
                           "--key", str(tmp_path / "absent.key"), "--api", "http://127.0.0.1:9",
                           *args],
                          capture_output=True, text=True, cwd=tmp_path,
                          env={**os.environ, **env})  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    assert message in done.stderr, done.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["plc.toml"]
