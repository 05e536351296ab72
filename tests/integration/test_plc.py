"""The PLC ingester against a real pymodbus TCP server (in a thread, on a free port): decoding
in both word orders and with scale, deadband and max_interval (injected clock), exception
responses, timeouts, a server that stops and restarts, and an out-of-limit reading that blocks
its lot's release in the real ledger until an NCR dispositions it."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

import pytest
from evledger_verify.records import Domain
from fastapi.testclient import TestClient
from pymodbus.client import ModbusTcpClient
from pymodbus.constants import ExcCodes

from ingest.client import SignedSubmission, SigningKey
from ingest.outbox import Outbox
from ingest.plc import PlcIngester, RegisterMap, parse_map
from ledger.runtime import Runtime
from tests.helpers import bearer, register, sign
from tests.modbus_sim import ModbusSimServer

pytestmark = [pytest.mark.integration, pytest.mark.req("FLOOR-5")]

DT = ModbusTcpClient.DATATYPE
HOLDING, INPUT = 20, 4  # registers served, addresses 0..n-1 as on the wire
SLOW = 15  # a holding register whose read answers after 0.5 s


class PlcServer(ModbusSimServer):
    """The test PLC: 20 holding and 4 input registers; a read of SLOW answers after 0.5 s."""

    def __init__(self) -> None:
        super().__init__(holding=[0] * HOLDING, input=[0] * INPUT)

    async def action(
        self, fc: int, start: int, address: int, count: int, regs: list[int], values: Any
    ) -> ExcCodes | None:
        if fc == 3 and address <= SLOW < address + count:
            await asyncio.sleep(0.5)
        return None


@pytest.fixture()
def plc() -> Iterator[PlcServer]:
    server = PlcServer()
    try:
        yield server
    finally:
        server.stop()


class FakeClock:
    def __init__(self) -> None:
        self.wall, self.mono = time.time(), 1000.0

    def advance(self, seconds: float) -> None:
        self.wall += seconds
        self.mono += seconds


def regs(value: float, dtype: Any, word_order: Literal["big", "little"] = "big") -> list[int]:
    return ModbusTcpClient.convert_to_registers(value, dtype, word_order=word_order)


def make_map(port: int, tags: str, device: str = "") -> RegisterMap:
    text = (
        f'[device]\nhost = "127.0.0.1"\nport = {port}\ntimeout = 0.2\nstation = "line1"\n'
        f"{device}\n{tags}"
    )
    return parse_map(text.encode(), "test.toml")


def ingester(
    m: RegisterMap,
    got: list[tuple[SignedSubmission, str | None]],
    clock: FakeClock | None = None,
    **kw: Any,
) -> PlcIngester:
    extra: dict[str, Callable[[], float]] = {}
    if clock is not None:
        extra = {"clock": lambda: clock.wall, "monotonic": lambda: clock.mono}
    sink = kw.pop("sink", got.extend)
    return PlcIngester(
        m,
        key=SigningKey.generate(),
        domain=_DOMAIN,
        sink=sink,
        jitter=lambda: 0.0,
        backoff=0.05,
        max_backoff=0.2,
        **extra,  # type: ignore[arg-type]
        **kw,
    )


_DOMAIN = Domain(31337, "0x" + "22" * 20)


def test_decodes_float32_both_word_orders_scaled_ints_input_registers_and_lot(
    plc: PlcServer,
) -> None:
    plc.holding[0:2] = regs(21.5, DT.FLOAT32, "big")
    plc.holding[2:4] = regs(21.5, DT.FLOAT32, "little")
    plc.holding[4:5] = regs(-123, DT.INT16)
    plc.holding[6:8] = regs(-70000, DT.INT32, "little")
    plc.holding[10:14] = [int.from_bytes(b, "big") for b in (b"LO", b"T-", b"7\0", b"\0\0")]
    plc.input[1:2] = regs(500, DT.UINT16)
    assert regs(21.5, DT.FLOAT32, "big") != regs(21.5, DT.FLOAT32, "little")
    plc.start()
    tags = "".join(
        f'[[tag]]\nname = "{n}"\naddress = {a}\ntype = "{t}"\nunit = "u"\n{x}\n'
        for n, a, t, x in [
            ("fbig", 0, "float32", ""),
            ("flittle", 2, "float32", 'word_order = "little"'),
            ("fwrong", 2, "float32", "register = 'input'"),  # input regs 2..3: zeros
            ("t16", 4, "int16", "scale = 0.1"),
            ("i32", 6, "int32", 'word_order = "little"'),
            ("u16", 1, "uint16", 'register = "input"\nscale = 0.01'),
        ]
    )
    m = make_map(plc.port, tags, "lot_register = { address = 10, count = 4 }")
    got: list[tuple[SignedSubmission, str | None]] = []
    p = ingester(m, got, FakeClock())
    try:
        wait = p.step()
    finally:
        p.close()
    values = {s.record["tag"]: s.record["value"] for s, _ in got}
    assert values == {
        "fbig": 21.5,
        "flittle": 21.5,
        "fwrong": 0.0,
        "t16": pytest.approx(-12.3),
        "i32": -70000.0,
        "u16": 5.0,
    }
    assert {lot for _, lot in got} == {"LOT-7"}
    assert all(s.record["lot"] == "LOT-7" and s.meaning == "recorded" for s, _ in got)
    assert 0 < wait <= 1.0
    assert {k: v for k, v in p.counters.items() if v} == {"polls": 6, "readings": 6, "connects": 1}


def test_deadband_max_interval_and_limit_crossing(plc: PlcServer) -> None:
    plc.start()
    tag = (
        '[[tag]]\nname = "temp"\naddress = 0\ntype = "int16"\nscale = 0.1\nunit = "Cel"\n'
        "upper = 30\ndeadband = 0.5\nmax_interval = 10\npoll_interval = 1\n"
    )
    clock = FakeClock()
    got: list[tuple[SignedSubmission, str | None]] = []
    p = ingester(make_map(plc.port, tag, 'lot = "LOT-1"'), got, clock)

    def poll(raw: int | None, seconds: float = 1.0) -> list[float]:
        if raw is not None:
            plc.write(0, regs(raw, DT.INT16))
        clock.advance(seconds)
        p.step()
        return [s.record["value"] for s, _ in got]

    try:
        assert poll(200) == [20.0]  # first reading: always
        assert poll(203) == [20.0]  # +0.3: inside the deadband
        assert poll(206) == [20.0, pytest.approx(20.6)]  # +0.6 since the last recorded
        assert len(poll(None)) == 2  # unchanged
        assert len(poll(None, 8.0)) == 2  # 9 s since the last record
        assert len(poll(None)) == 3  # 10 s: max_interval
        assert len(poll(298)) == 4  # 29.8
        assert len(poll(301)) == 5  # +0.3 but across the upper limit
        assert len(poll(299)) == 6  # and back inside
    finally:
        p.close()
    assert p.counters["out_of_limits"] == 1 and p.counters["excursions"] == 1
    ids = [s.record_id for s, _ in got]
    assert len(set(ids)) == len(ids) and all(i.startswith("line1-temp-") for i in ids)
    assert [s.record["lot"] for s, _ in got] == ["LOT-1"] * 6
    assert [s.signed_at for s, _ in got] == [
        int(s.record_id.rsplit("-", 1)[1]) // 10**6 for s, _ in got
    ]


def test_exception_response_is_counted_and_not_fatal(plc: PlcServer) -> None:
    plc.holding[0] = 7
    plc.start()
    tags = (
        '[[tag]]\nname = "ok"\naddress = 0\ntype = "int16"\nunit = "u"\n'
        '[[tag]]\nname = "gone"\naddress = 40\ntype = "int16"\nunit = "u"\n'
    )
    clock = FakeClock()
    errors: list[tuple[str, str]] = []
    got: list[tuple[SignedSubmission, str | None]] = []
    p = ingester(make_map(plc.port, tags), got, clock, on_error=lambda k, m: errors.append((k, m)))
    try:
        p.step()
        clock.advance(1)
        p.step()
    finally:
        p.close()
    assert p.counters["exception"] == 2 and p.counters["connects"] == 1
    assert p.counters["polls"] == 4 and [s.record["tag"] for s, _ in got] == ["ok"]
    assert errors[0] == (
        "exception",
        "tag 'gone': exception response 2 to holding registers 40..40",
    )


def test_timeout_is_counted_then_reconnects_with_backoff(plc: PlcServer) -> None:
    plc.start()
    tags = f'[[tag]]\nname = "slow"\naddress = {SLOW}\ntype = "int16"\nunit = "u"\n'
    clock = FakeClock()
    got: list[tuple[SignedSubmission, str | None]] = []
    p = ingester(make_map(plc.port, tags), got, clock)
    try:
        wait = p.step()
        assert p.counters["timeout"] == 1 and not got
        assert wait == pytest.approx(0.025)  # backoff 0.05, half of it with jitter 0
        assert p.step() == pytest.approx(0.025)  # too early: no attempt
        clock.advance(1.0)  # the tag's next interval, past the backoff
        p.step()
        assert p.counters["timeout"] == 2 and p.counters["connects"] == 2
        assert p.delay(p._backoff.attempt) == pytest.approx(0.1)  # growing, capped at 0.2
    finally:
        p.close()


def test_server_stops_and_restarts_poller_reconnects_and_resumes(plc: PlcServer) -> None:
    plc.holding[0:2] = regs(1.5, DT.FLOAT32)
    plc.start()
    tags = '[[tag]]\nname = "v"\naddress = 0\ntype = "float32"\nunit = "u"\npoll_interval = 0.02\n'
    got: list[tuple[SignedSubmission, str | None]] = []
    p = ingester(make_map(plc.port, tags), got)
    stop = threading.Event()
    runner = threading.Thread(target=p.run, args=(stop,))
    runner.start()

    def wait_for(cond: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + 5
        while not cond():
            assert time.monotonic() < deadline, f"timed out waiting for {what}: {p.counters}"
            time.sleep(0.01)

    try:
        wait_for(lambda: len(got) >= 1, "a first reading")
        plc.stop()
        wait_for(lambda: p.counters["connection"] >= 3, "failed reconnects")
        plc.holding[0:2] = regs(2.5, DT.FLOAT32)
        plc.start()
        wait_for(lambda: got[-1][0].record["value"] == 2.5, "a reading after the restart")
    finally:
        stop.set()
        runner.join(5)
    assert not runner.is_alive()
    assert p.counters["connects"] >= 2
    assert [s.record["value"] for s, _ in got] == [1.5, 2.5]


def test_an_out_of_limit_excursion_blocks_release_until_one_ncr_dispositions_it(
    plc: PlcServer, runtime: Runtime, client: TestClient
) -> None:
    """A value leaving its limits and staying out: every reading is recorded, the lot shows
    one open alert for the excursion, and one NCR naming any of its readings clears it."""
    device = register(client, runtime, ("device",), name="Line 1 PLC gateway")
    qa = register(client, runtime, ("qa_approver",), name="QA Approver")
    mrb = register(client, runtime, ("qa_approver",), name="Second Approver")
    plc.holding[0:2] = regs(21.5, DT.FLOAT32)
    plc.holding[2] = 72  # 7.2 bar, upper limit 5.0
    plc.start()
    tags = (
        '[[tag]]\nname = "temp"\naddress = 0\ntype = "float32"\nunit = "Cel"\n'
        "lower = 20\nupper = 25\n"
        '[[tag]]\nname = "pressure"\naddress = 2\ntype = "int16"\nscale = 0.1\nunit = "bar"\n'
        "upper = 5.0\n"
    )
    got: list[tuple[SignedSubmission, str | None]] = []
    clock = FakeClock()
    p = PlcIngester(
        make_map(plc.port, tags, 'lot = "LOT-PLC-1"'),
        key=SigningKey(bytes(device.key)),
        domain=runtime.ledger.identity.domain,
        sink=got.extend,
        clock=lambda: clock.wall,
        monotonic=lambda: clock.mono,
    )
    try:
        p.step()
        plc.write(2, [74])  # still out: the same excursion
        clock.advance(1.0)
        p.step()
        plc.write(2, [40])  # back inside
        clock.advance(1.0)
        p.step()
    finally:
        p.close()
    pressure = [s for s, _ in got if s.record["tag"] == "pressure"]
    assert [s.record["value"] for s in pressure] == [7.2, 7.4, 4.0]
    assert p.counters["out_of_limits"] == 2 and p.counters["excursions"] == 1
    resp = client.post("/v1/records/batch", json={"items": [s.to_json() for s, _ in got]})
    assert resp.status_code == 200, resp.text
    assert {r["status"] for r in resp.json()["results"]} == {"accepted"}

    def status() -> dict[str, Any]:
        r = client.get("/v1/lots/LOT-PLC-1", headers=bearer(runtime, qa))
        assert r.status_code == 200, r.text
        return dict(r.json())

    first, second = pressure[0].record_id, pressure[1].record_id
    expected = (
        f"process readings {first} .. {second} (2) are out of limits (pressure 7.2..7.4 bar, "
        "limits None..5): an NCR must disposition one of them"
    )
    assert [b for b in status()["release_blockers"] if "required" not in b] == [expected]
    assert status()["open_alerts"] == [expected]
    ncr = {"type": "ncr", "schema": "ncr/1", "ncr_id": "NCR-PLC-1", "lot": "LOT-PLC-1"}
    steps: list[tuple[str, str, dict[str, Any]]] = [
        ("open", "authored", {"refs": [second], "nature": "Melt pressure over 5.0 bar"}),
        ("evaluated", "reviewed", {"evaluation": "Short spike", "investigation": "Filter"}),
        ("dispositioned", "approved", {
            "disposition": "use_as_is", "rationale": "Within",
            "concession": {"characteristics": ["pressure"], "quantity": 1, "unit": "lot",
                           "valid_until": "2099-01-01T00:00:00Z"}}),
        ("closed", "approved", {"summary": "Filter changed, pressure back in limits"}),
    ]
    for i, (step, meaning, fields) in enumerate(steps):
        record = {**ncr, "record_id": f"NCR-PLC-1-{i}", "step": step, **fields}
        # the person who opened the NCR does not disposition it
        who = mrb if step == "dispositioned" else qa
        r = client.post("/v1/records", json=sign(runtime, record, who, meaning))
        assert r.status_code == 201, r.text
        if step == "open":
            assert expected in status()["release_blockers"]
    assert [b for b in status()["release_blockers"] if "required" not in b] == []
    assert status()["open_alerts"] == []


def test_an_alert_must_name_records_of_its_lot(runtime: Runtime, client: TestClient) -> None:
    """An alert's refs are checked like an NCR's: records of its own lot, nothing else."""
    qa = register(client, runtime, ("qa_inspector",), name="QA Inspector")
    alert = {
        "record_id": "ALERT-REFS-1",
        "type": "alert",
        "schema": "alert/1",
        "alert_id": "ALERT-REFS-1",
        "source": "manual",
        "severity": "warning",
        "lot": "LOT-PLC-2",
        "description": "made up",
        "refs": ["NO-SUCH-READING"],
    }
    resp = client.post("/v1/records", json=sign(runtime, alert, qa, "authored"))
    assert resp.status_code == 409, resp.text
    assert "refs NO-SUCH-READING name no record of lot LOT-PLC-2" in resp.json()["detail"]


def test_a_rounds_readings_reach_the_sink_together(plc: PlcServer) -> None:
    """One polling round is one call to the sink (one outbox transaction, one sync)."""
    plc.holding[0:2] = regs(21.5, DT.FLOAT32, "big")
    plc.holding[4:5] = regs(-123, DT.INT16)
    plc.start()
    tags = "".join(
        f'[[tag]]\nname = "{n}"\naddress = {a}\ntype = "{t}"\nunit = "u"\n'
        for n, a, t in [("a", 0, "float32"), ("b", 4, "int16")]
    )
    m = make_map(plc.port, tags, 'lot = "LOT-R"')
    single: list[tuple[SignedSubmission, str | None]] = []
    rounds: list[list[tuple[SignedSubmission, str | None]]] = []
    p = ingester(m, single, FakeClock(), sink=rounds.append)
    try:
        p.step()
    finally:
        p.close()
    assert single == []
    assert [[s.record["tag"] for s, _ in r] for r in rounds] == [["a", "b"]]
    assert {lot for r in rounds for _, lot in r} == {"LOT-R"}


def test_the_lot_comes_from_the_last_produce_scan_at_the_station(
    plc: PlcServer, tmp_path: Path
) -> None:
    """lot_from_scans: the scanner ingester's outbox on the same PC says which lot the station
    produces; readings before the first produce scan carry no lot, then follow the scans."""
    plc.holding[0] = 215
    plc.start()
    key = SigningKey.generate()
    scanner = Outbox(tmp_path / "scanner.sqlite")
    outbox_path = str(tmp_path / "scanner.sqlite").replace("\\", "/")
    tag = '[[tag]]\nname = "t"\naddress = 0\ntype = "int16"\nscale = 0.1\nunit = "Cel"\n'
    device = f'lot_from_scans = {{ outbox = "{outbox_path}", station = "ST-7" }}'
    clock = FakeClock()
    got: list[tuple[SignedSubmission, str | None]] = []
    p = ingester(make_map(plc.port, tag, device), got, clock)

    def produce(n: int, lot: str) -> None:
        record = {
            "record_id": f"ST-7-scan-{n}",
            "type": "scan",
            "schema": "scan/1",
            "station": "ST-7",
            "operation": "produce",
            "gs1": {"gtin": "09506000134352"},
            "lot": lot,
            "scanned_at": f"2026-11-30T08:00:0{n}.000000Z",
        }
        scanner.put(key.sign(record, "recorded", _DOMAIN), lot=lot)

    def poll(raw: int) -> str | None:
        plc.write(0, [raw])
        clock.advance(1.0)
        p.step()
        return got[-1][1]

    try:
        p.step()
        assert got[-1][1] is None and "lot" not in got[-1][0].record
        produce(1, "LOT-P1")
        assert poll(220) == "LOT-P1"
        produce(2, "LOT-P2")
        assert poll(225) == "LOT-P2" and got[-1][0].record["lot"] == "LOT-P2"
    finally:
        p.close()
        scanner.close()
    assert p.counters["lot"] == 0
