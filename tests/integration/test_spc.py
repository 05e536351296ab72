"""SPC on the real ledger: a drifting process fed through the PLC ingester from a real Modbus TCP
server raises the trend alert before the first out-of-limit reading; the alert blocks the
lot's release until an NCR dispositions it. Inspection characteristics with limits from their
first points; the chart route and its refusals."""

from __future__ import annotations

import itertools
import statistics
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient
from pymodbus.client import ModbusTcpClient

from ingest.client import SignedSubmission, SigningKey
from ingest.plc import PlcIngester, parse_map
from ledger.config import Settings
from ledger.embedded import Anvil
from ledger.runtime import Runtime
from tests.conftest import running_ledger
from tests.helpers import GTIN, bearer, inspection, register, sign, wait_for
from tests.modbus_sim import ModbusSimServer

pytestmark = [pytest.mark.integration, pytest.mark.req("SPC-1", "FLOOR-5")]

DT = ModbusTcpClient.DATATYPE
LOT = "LOT-SPC-1"

#: Temperature: fixed limits from a capability study (centre 21.0, sigma 0.5: control limits
#: 19.5..22.5) inside the specification 18..24 the register map gives. Humidity: the same
#: rules, warning only. Weight: X-bar / R of pairs. Outer diameter: inspection/2 values,
#: limits from the first 5.
SPC_TOML = f"""
[[characteristic]]
id = "line1-temp"
tag = "temp"
line = "line1"
rules = ["western_electric", "nelson3"]
action = "block"
center = 21.0
sigma = 0.5

[[characteristic]]
id = "line1-humidity"
tag = "humidity"
rules = ["nelson3"]
action = "warn"
center = 40.0
sigma = 2.0

[[characteristic]]
id = "line2-weight"
tag = "weight"
line = "line2"
subgroup = 2
rules = ["we1"]
center = 100.0
sigma = 2.0

[[characteristic]]
id = "od-final"
inspection = "outer diameter"
product = "{GTIN}"
rules = ["we1"]
baseline = 5
"""

MAP = """
[device]
host = "127.0.0.1"
port = {port}
timeout = 0.5
station = "line1"
lot = "{lot}"

[[tag]]
name = "temp"
address = 0
type = "float32"
unit = "Cel"
lower = 18
upper = 24

[[tag]]
name = "humidity"
address = 2
type = "float32"
unit = "%"
"""


@pytest.fixture()
def runtime(settings: Settings, database_url: str, anvil: Anvil) -> Iterator[Runtime]:
    """The ledger of the conftest, with spc.toml in its home."""
    settings.home.mkdir(parents=True, exist_ok=True)
    (settings.home / "spc.toml").write_text(SPC_TOML)
    with running_ledger(settings, database_url, anvil) as rt:
        yield rt


@pytest.fixture()
def plc() -> Iterator[ModbusSimServer]:
    server = ModbusSimServer(holding=[0] * 8)
    try:
        yield server
    finally:
        server.stop()


def _seq(runtime: Runtime, record_id: str) -> int:
    with runtime.engine.connect() as conn:
        return int(
            conn.execute(
                sa.text("SELECT seq FROM records WHERE record_id = :r"), {"r": record_id}
            ).scalar_one()
        )


def _spc_alerts(runtime: Runtime) -> list[dict[str, Any]]:
    """The SPC alerts logged so far, in log order, with their seq and lot."""
    import json

    with runtime.engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT seq, record_id, lot, signer, meaning, body FROM records "
                "WHERE record_type = 'alert' AND record_id LIKE 'spc-%' ORDER BY seq"
            )
        ).all()
    return [
        {"seq": s, "record_id": r, "lot": lot, "signer": who, "meaning": m, **json.loads(bytes(b))}
        for s, r, lot, who, m, b in rows
    ]


def _caught_up(runtime: Runtime, record_id: str) -> None:
    """Wait until the SPC monitor has judged ``record_id`` (and what came before it)."""
    seq = _seq(runtime, record_id)
    monitor = runtime.spc
    assert monitor is not None
    wait_for(f"the SPC monitor to read {record_id}", lambda: (monitor.cursor or 0) >= seq)


def _status(client: TestClient, runtime: Runtime, who: LocalAccount) -> dict[str, Any]:
    r = client.get(f"/v1/lots/{LOT}", headers=bearer(runtime, who))
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_a_drift_raises_the_trend_alert_before_the_first_out_of_limit_reading(
    plc: ModbusSimServer, runtime: Runtime, client: TestClient, tmp_path: Path
) -> None:
    """Temperature (spec 18..24 Cel, control limits 19.5..22.5) steady around 21, then rising
    0.3 per reading. Each polling round goes through the PLC ingester to the ledger and the
    SPC monitor judges it. The sixth rising reading (22.4, in spec and in control) completes
    Nelson's trend: the alert is logged, signed by the audit key, naming the lot and the six
    readings, before the first out-of-limit reading (24.2) exists. The lot's release is
    refused naming the alert until an NCR dispositions it. Humidity drifts too, under
    ``action = "warn"``: its alert names no lot and blocks nothing."""
    device = register(client, runtime, ("device",), name="Line 1 PLC gateway")
    qa = register(client, runtime, ("qa_approver",), name="QA Approver")
    mrb = register(client, runtime, ("qa_approver",), name="MRB Approver")
    plc.start()
    clock = [time.time()]
    readings: list[SignedSubmission] = []
    p = PlcIngester(
        parse_map(MAP.format(port=plc.port, lot=LOT).encode(), "line1.toml"),
        key=SigningKey(bytes(device.key)),
        domain=runtime.ledger.identity.domain,
        sink=lambda batch: readings.extend(s for s, _ in batch),
        clock=lambda: clock[0],
        monotonic=lambda: clock[0],
    )
    steady = [21.0, 20.8, 21.2, 20.9, 21.1, 20.7, 21.0, 20.9]
    drift = [round(20.9 + 0.3 * i, 1) for i in range(1, 12)]  # 21.2 .. 24.2
    temps = steady + drift
    humidity = [40.0 + (0.5 if i % 2 else -0.5) for i in range(len(steady))] + [
        40.0 + 0.8 * i for i in range(1, len(drift) + 1)
    ]
    first_oos: str | None = None
    trend_seen_at: int | None = None
    try:
        for i, (t, h) in enumerate(zip(temps, humidity, strict=True)):
            plc.write(0, ModbusTcpClient.convert_to_registers(t, DT.FLOAT32))
            plc.write(2, ModbusTcpClient.convert_to_registers(h, DT.FLOAT32))
            clock[0] += 1.0
            before = len(readings)
            p.step()
            fresh = readings[before:]
            assert len(fresh) == 2, [s.record for s in fresh]
            r = client.post("/v1/records/batch", json={"items": [s.to_json() for s in fresh]})
            assert r.status_code == 200 and r.json()["accepted"] == 2, r.text
            temp = next(s for s in fresh if s.record["tag"] == "temp")
            _caught_up(runtime, temp.record_id)
            if first_oos is None and temp.record["value"] > 24:
                first_oos = temp.record_id
            if trend_seen_at is None and any(
                a["details"]["spc"]["rule"] == "nelson3"
                and a["details"]["spc"]["characteristic"] == "line1-temp"
                for a in _spc_alerts(runtime)
            ):
                trend_seen_at = i
                # Before anything is out of limits the alert alone blocks the release.
                blockers = _status(client, runtime, qa)["release_blockers"]
                assert [b for b in blockers if "required" not in b] == [
                    b for b in blockers if b.startswith("alert spc-")
                ]
                assert blockers and not any("out of limits" in b for b in blockers)
    finally:
        p.close()

    assert first_oos is not None and trend_seen_at is not None
    temp_ids = [s.record_id for s in readings if s.record["tag"] == "temp"]
    rising_start = len(steady) - 1  # 20.9, then six rising values to 22.4
    assert trend_seen_at == rising_start + 5  # the sixth point of the trend: 22.4 Cel
    assert temps[trend_seen_at] == 22.4 and temps[trend_seen_at] < 22.5 < 24
    assert temp_ids.index(first_oos) > trend_seen_at

    alerts = _spc_alerts(runtime)
    trend = next(
        a
        for a in alerts
        if a["details"]["spc"]["rule"] == "nelson3"
        and a["details"]["spc"]["characteristic"] == "line1-temp"
    )
    assert trend["seq"] < _seq(runtime, first_oos)
    assert trend["lot"] == LOT and trend["source"] == "plc" and trend["meaning"] == "recorded"
    audit_key = runtime.settings.keys_dir / "audit.key"
    from ledger.keys import load_account

    assert trend["signer"] == load_account(audit_key).address
    assert trend["refs"] == temp_ids[rising_start : rising_start + 6]
    assert [pt["value"] for pt in trend["details"]["spc"]["points"]] == pytest.approx(
        [20.9, 21.2, 21.5, 21.8, 22.1, 22.4]
    )
    assert "6 points in a row steadily increasing" in trend["description"]
    # Every temperature alert came before the first out-of-limit reading, once per violation.
    temp_alerts = [a for a in alerts if a["details"]["spc"]["characteristic"] == "line1-temp"]
    assert sorted(a["details"]["spc"]["rule"] for a in temp_alerts) == [
        "nelson3",
        "we1",
        "we2",
        "we3",
        "we4",
    ]
    assert len({a["alert_id"] for a in alerts}) == len(alerts)
    assert all(a["seq"] < _seq(runtime, first_oos) for a in temp_alerts)
    # Humidity warns: a lot-less alert.
    (warned,) = [a for a in alerts if a["details"]["spc"]["characteristic"] == "line1-humidity"]
    assert warned["lot"] is None and warned["details"]["spc"]["lot"] == LOT

    # The release is refused naming the alerts (and the excursion, by now).
    release = {
        "record_id": "REL-SPC-1",
        "type": "release",
        "schema": "release/1",
        "lot": LOT,
        "product": {"gtin": GTIN},
        "decision": "released",
        "evidence": [],
        "statement": "Lot released",
    }
    r = client.post("/v1/records", json=sign(runtime, release, qa, "released"))
    assert r.status_code == 409, r.text
    assert any(trend["alert_id"] in reason for reason in r.json()["reasons"])

    # One NCR dispositions the temperature alerts and the excursion.
    refs = [a["alert_id"] for a in temp_alerts] + [first_oos]
    ncr = {"type": "ncr", "schema": "ncr/1", "ncr_id": "NCR-SPC-1", "lot": LOT}
    steps: list[tuple[str, str, dict[str, Any]]] = [
        ("open", "authored", {"refs": refs, "nature": "Barrel temperature drifting upwards"}),
        ("evaluated", "reviewed", {"evaluation": "Heater band", "investigation": "Relay stuck"}),
        (
            "dispositioned",
            "approved",
            {
                "disposition": "use_as_is",
                "rationale": "Parts tested within drawing",
                "concession": {
                    "characteristics": ["temp"],
                    "quantity": 1,
                    "unit": "lot",
                    "valid_until": "2099-01-01T00:00:00Z",
                },
            },
        ),
        ("closed", "approved", {"summary": "Relay replaced, temperature back at 21 Cel"}),
    ]
    for n, (step, meaning, fields) in enumerate(steps):
        record = {**ncr, "record_id": f"NCR-SPC-1-{n}", "step": step, **fields}
        who = mrb if step == "dispositioned" else qa
        r = client.post("/v1/records", json=sign(runtime, record, who, meaning))
        assert r.status_code == 201, r.text
        if step == "evaluated":
            blockers = _status(client, runtime, qa)["release_blockers"]
            assert any(trend["alert_id"] in b for b in blockers)
    status = _status(client, runtime, qa)
    assert [b for b in status["release_blockers"] if "required" not in b] == []
    assert status["open_alerts"] == []

    # The chart the console draws.
    token = bearer(runtime, qa)
    r = client.get("/v1/spc/line1-temp", params={"limit": 50}, headers=token)
    assert r.status_code == 200, r.text
    chart = r.json()
    assert chart["chart"] == "individuals" and chart["unit"] == "Cel"
    assert chart["spec"] == {"lower": 18, "upper": 24}
    assert chart["limits"]["center"] == 21.0
    assert chart["limits"]["ucl"] == pytest.approx(22.5)
    assert chart["limits"]["lcl"] == pytest.approx(19.5)
    assert [pt["record_id"] for pt in chart["points"]] == temp_ids
    assert [pt["out_of_spec"] for pt in chart["points"]].index(True) == temp_ids.index(first_oos)
    shown = {v["rule"]: v for v in chart["violations"]}
    assert shown["nelson3"]["first"] == temp_ids[trend_seen_at]
    assert shown["nelson3"]["alert_id"] == trend["alert_id"]
    assert {v["alert_id"] for v in chart["violations"]} == {a["alert_id"] for a in temp_alerts}
    assert "nelson3" in chart["points"][trend_seen_at]["violations"]
    assert chart["capability"]["n"] == len(temps)
    # Cpk from the within sigma (MR-bar / d2) misses a drift that Ppk (overall sigma) shows.
    mean = statistics.fmean(temps)
    within = statistics.fmean(abs(b - a) for a, b in itertools.pairwise(temps)) / 1.128379
    cap = chart["capability"]
    assert cap["cpk"] == pytest.approx(min(24 - mean, mean - 18) / (3 * within), rel=1e-5)
    assert cap["ppk"] == pytest.approx((24 - mean) / (3 * statistics.stdev(temps)), rel=1e-5)
    assert cap["ppk"] < 1 < cap["cpk"]

    # A monitor started afresh judges the last points again and recognizes its alerts.
    from ledger.spc_monitor import SpcMonitor

    again = SpcMonitor(runtime.ledger.spc, runtime.ledger.submitter, audit_key)
    assert again.step() == 0 and again.raised == []
    assert len(_spc_alerts(runtime)) == len(alerts)

    # The audit replays every rule over the log, the SPC alerts included: nothing to name.
    from ledger.audit import Auditor

    ident = runtime.ledger.identity
    auditor = Auditor(runtime.engine, ident, ident.log_public_key, runtime.chain, workers=1)
    assert auditor.run() == []

    # The lot's evidence bundle, SPC alerts and NCR in it, verifies offline.
    from evledger_verify.bundle import verify_bundle
    from evledger_verify.receipt import Trust

    def proven() -> Any:
        receipt = client.get("/v1/records/NCR-SPC-1-3/receipt").json()
        return (receipt.get("anchor") or {}).get("proof")

    wait_for("the NCR's closing anchored and proven", proven, timeout=60)
    r = client.get(f"/v1/lots/{LOT}/evidence", headers=token)
    assert r.status_code == 200, r.text
    (tmp_path / "bundle.zip").write_bytes(r.content)
    with zipfile.ZipFile(tmp_path / "bundle.zip") as zf:
        assert any(trend["alert_id"].encode() in zf.read(n) for n in zf.namelist())
    trust = Trust.from_json(client.get("/v1/trust").json())
    report = verify_bundle(str(tmp_path / "bundle.zip"), trust)
    assert report.ok, [(c.name, c.detail) for c in report.checks if not c.ok]


def test_inspection_characteristic_with_baseline_limits(
    runtime: Runtime, client: TestClient, specs: Any
) -> None:
    """Outer diameter of final inspections (spec 2.95..3.05 mm): limits from the first five
    lots' values (no alert before them); the sixth, 3.045 mm, is in specification but beyond
    3 sigma of the baseline: a ``we1`` alert, raised by the ledger (source ``audit``), blocks
    that lot. The chart lists it; inspections of another characteristic are not charted."""
    inspector = register(client, runtime, ("qa_inspector",), name="Ivy Inspector")
    values = [3.000, 3.004, 2.998, 3.002, 2.999, 3.045]
    for i, value in enumerate(values):
        record = inspection(f"INSP-OD-{i}", lot=f"LOT-OD-{i}", value=value)
        r = client.post("/v1/records", json=sign(runtime, record, inspector))
        assert r.status_code == 201, r.text
        _caught_up(runtime, record["record_id"])
    (alert,) = _spc_alerts(runtime)
    assert alert["lot"] == "LOT-OD-5" and alert["source"] == "audit"
    assert alert["refs"] == ["INSP-OD-5"] and alert["details"]["spc"]["rule"] == "we1"
    r = client.get("/v1/lots/LOT-OD-5", headers=bearer(runtime, inspector))
    assert any(alert["alert_id"] in b for b in r.json()["release_blockers"])

    r = client.get("/v1/spc/od-final", headers=bearer(runtime, inspector))
    assert r.status_code == 200, r.text
    chart = r.json()
    assert chart["limits"]["basis"] == "first 5 points"
    assert chart["limits"]["center"] == pytest.approx(sum(values[:5]) / 5)
    assert [pt["value"] for pt in chart["points"]] == values
    assert chart["violations"][0]["alert_id"] == alert["alert_id"]
    assert not any(pt["out_of_spec"] for pt in chart["points"])


def test_subgroups_are_charted_as_xbar_r(runtime: Runtime, client: TestClient) -> None:
    """Weight in subgroups of 2 counted from the first reading (centre 100 g, sigma 2 g:
    X-bar limits 100 +- 3 x 2 / sqrt 2 = 95.757..104.243; R chart centre d2 sigma = 2.257,
    UCL D4 x 2.257 = 7.373). The fifth pair (105, 106: mean 105.5) is beyond the limit; its
    first reading arrives alone and raises nothing, its second completes it: one ``we1``
    alert naming both readings."""
    device = SigningKey(bytes(register(client, runtime, ("device",), name="Scale").key))
    qa = register(client, runtime, ("qa_inspector",), name="QA Inspector")
    values = [100.0, 101.0, 99.0, 100.0, 102.0, 98.0, 100.0, 100.0, 105.0, 106.0]
    start = int(time.time()) + 1  # after the grant (a little ahead is within the skew)

    def reading(i: int, value: float) -> dict[str, Any]:
        at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start + i))
        record = {
            "record_id": f"line2-weight-{i}",
            "type": "process_reading",
            "schema": "process_reading/1",
            "tag": "weight",
            "value": value,
            "unit": "g",
            "lower": 90.0,
            "upper": 110.0,
            "line": "line2",
            "lot": "LOT-W-1",
            "read_at": at,
        }
        signed = device.sign(record, "recorded", runtime.ledger.identity.domain, start + i)
        return signed.to_json()

    for chunk in (range(9), range(9, 10)):
        items = [reading(i, values[i]) for i in chunk]
        r = client.post("/v1/records/batch", json={"items": items})
        assert r.status_code == 200 and r.json()["accepted"] == len(items), r.text
        _caught_up(runtime, f"line2-weight-{chunk[-1]}")
        if chunk[-1] == 8:
            assert _spc_alerts(runtime) == []  # half a subgroup judges nothing
    (alert,) = _spc_alerts(runtime)
    assert alert["lot"] == "LOT-W-1" and alert["refs"] == ["line2-weight-8", "line2-weight-9"]
    spc_details = alert["details"]["spc"]
    assert spc_details["chart"] == "xbar_r" and spc_details["rule"] == "we1"
    assert spc_details["ucl"] == pytest.approx(104.243, abs=5e-4)

    r = client.get("/v1/spc/line2-weight", headers=bearer(runtime, qa))
    assert r.status_code == 200, r.text
    chart = r.json()
    assert chart["chart"] == "xbar_r"
    assert [pt["value"] for pt in chart["points"]] == [100.5, 99.5, 100.0, 100.0, 105.5]
    assert [pt["range"] for pt in chart["points"]] == [1.0, 1.0, 4.0, 0.0, 1.0]
    assert chart["points"][-1]["records"] == ["line2-weight-8", "line2-weight-9"]
    assert chart["limits"]["range_center"] == pytest.approx(2.257, abs=5e-4)
    assert chart["limits"]["range_ucl"] == pytest.approx(7.373, abs=5e-3)
    assert chart["violations"] == [
        {
            "rule": "we1",
            "text": "one point beyond 3 sigma",
            "first": "line2-weight-9",
            "last": "line2-weight-9",
            "pattern": ["line2-weight-9"],
            "alert_id": alert["alert_id"],
        }
    ]
    assert chart["capability"]["n"] == 10


def test_the_spc_routes_refuse_bad_requests_clearly(runtime: Runtime, client: TestClient) -> None:
    """No token: 401 with the Bearer challenge; an unknown characteristic or tag: 404; a
    malformed id or limit: 422 naming it. Never a 500."""
    qa = register(client, runtime, ("qa_inspector",), name="QA Inspector")
    token = bearer(runtime, qa)
    r = client.get("/v1/spc")
    assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/v1/spc/line1-temp").status_code == 401
    r = client.get("/v1/spc", headers={"Authorization": "Bearer nonsense"})
    assert r.status_code == 401 and r.json()["error"] == "bad_signature"

    r = client.get("/v1/spc", headers=token)
    assert r.status_code == 200, r.text
    assert [c["id"] for c in r.json()] == [
        "line1-temp",
        "line1-humidity",
        "line2-weight",
        "od-final",
    ]
    assert r.json()[0]["rules"] == ["we1", "we2", "we3", "we4", "nelson3"]
    r = client.get("/v1/spc", params={"tag": "temp"}, headers=token)
    assert [c["id"] for c in r.json()] == ["line1-temp"]
    r = client.get("/v1/spc", params={"tag": "nope"}, headers=token)
    assert r.status_code == 404 and r.json()["detail"] == "tag 'nope': no characteristic charts it"

    r = client.get("/v1/spc/no-such", headers=token)
    assert r.status_code == 404, r.text
    assert r.json()["error"] == "not_found" and "no-such" in r.json()["detail"]
    # Charted but no points yet: an empty chart, no limits until the baseline exists.
    r = client.get("/v1/spc/od-final", headers=token)
    assert r.status_code == 200 and r.json()["points"] == [] and r.json()["limits"] is None
    r = client.get("/v1/spc/line1-temp", headers=token)
    assert r.status_code == 200 and r.json()["limits"]["ucl"] == pytest.approx(22.5)
    for bad in ("limit=0", "limit=1001", "limit=abc", "limit=-1"):
        r = client.get(f"/v1/spc/line1-temp?{bad}", headers=token)
        assert r.status_code == 422, (bad, r.text)
        assert r.json()["error"] == "invalid_request" and "limit" in r.json()["detail"]
    for bad in ("a%20b", "-x", "x" * 65, "%27%3B"):
        r = client.get(f"/v1/spc/{bad}", headers=token)
        assert r.status_code in (404, 422), (bad, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")


def test_a_bad_spc_configuration_stops_the_service_with_the_field_named(
    settings: Settings, database_url: str, anvil: Anvil
) -> None:
    from ledger.errors import ConfigError

    settings.home.mkdir(parents=True, exist_ok=True)
    (settings.home / "spc.toml").write_text(
        '[[characteristic]]\nid = "x"\ntag = "t"\nbaseline = 2\n'
    )
    with (
        pytest.raises(ConfigError, match="field 'baseline'"),
        running_ledger(settings, database_url, anvil),
    ):
        pass
