"""The PLC register map: strict TOML, every refusal's message, the file hash; records made
from readings (no Modbus: the poller's network side is in tests/integration/test_plc.py)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from evledger_verify.records import Domain

from ingest.client import SignedSubmission, SigningKey
from ingest.plc import LotRegister, MapError, PlcIngester, load_map, parse_map
from ledger.domain.schemas import parse_record

pytestmark = pytest.mark.req("FLOOR-5")

EXAMPLE = Path(__file__).parents[2] / "docs" / "examples" / "plc" / "line1.toml"

DEVICE = '[device]\nhost = "127.0.0.1"\nstation = "line1"\n'
TAG = '[[tag]]\nname = "temp"\naddress = 0\ntype = "float32"\nunit = "Cel"\n'


def parse(text: str) -> object:
    return parse_map(text.encode(), "m.toml")


def refused(text: str) -> str:
    with pytest.raises(MapError) as info:
        parse_map(text.encode(), "m.toml")
    return str(info.value)


def test_minimal_map_and_defaults() -> None:
    m = parse_map((DEVICE + TAG).encode())
    assert (m.device.host, m.device.port, m.device.device_id, m.device.timeout) == (
        "127.0.0.1",
        502,
        1,
        3.0,
    )
    assert m.device.lot is None and m.device.lot_register is None
    (t,) = m.tags
    assert (t.register, t.word_order, t.scale, t.poll_interval, t.deadband, t.max_interval) == (
        "holding",
        "big",
        1.0,
        1.0,
        0.0,
        60.0,
    )
    assert (t.lower, t.upper, t.count) == (None, None, 2)


def test_example_map_parses_and_hash_is_of_the_file_bytes(tmp_path: Path) -> None:
    m = load_map(EXAMPLE)
    assert m.sha256 == hashlib.sha256(EXAMPLE.read_bytes()).hexdigest()
    assert m.device.lot_register == LotRegister(100, "holding", 8)
    assert [t.name for t in m.tags] == ["barrel-temp", "melt-pressure", "screw-speed"]
    # The hash is of the bytes, not of the meaning: a comment changes it.
    copy = tmp_path / "line1.toml"
    copy.write_bytes(EXAMPLE.read_bytes() + b"# reviewed\n")
    other = load_map(copy)
    assert other.tags == m.tags and other.sha256 != m.sha256
    assert other.sha256 == hashlib.sha256(copy.read_bytes()).hexdigest()


def test_missing_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(MapError, match=r"register map .*nope\.toml: cannot read: "):
        load_map(tmp_path / "nope.toml")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("scale", '"x"', "tag 'temp' field 'scale': expected a number, got 'x'"),
        ("scale", "0", "tag 'temp' field 'scale': expected a nonzero number, got 0"),
        ("scale", "true", "tag 'temp' field 'scale': expected a number, got True"),
        ("scale", "nan", "tag 'temp' field 'scale': expected a number, got nan"),
        ("deadband", "-0.1", "tag 'temp' field 'deadband': expected a number >= 0, got -0.1"),
        ("poll_interval", "0", "tag 'temp' field 'poll_interval': expected a number > 0, got 0"),
        (
            "max_interval",
            "0.5",
            "tag 'temp' field 'max_interval': expected a number >= 1, got 0.5",
        ),
        (
            "register",
            '"coil"',
            "tag 'temp' field 'register': expected one of holding, input, got 'coil'",
        ),
        (
            "word_order",
            '"middle"',
            "tag 'temp' field 'word_order': expected one of big, little, got 'middle'",
        ),
        ("lower", "[1]", "tag 'temp' field 'lower': expected a number, got [1]"),
        ("colour", '"red"', "tag 'temp' field 'colour': unknown field (expected one of name, "),
    ],
)
def test_tag_field_errors(field: str, value: str, message: str) -> None:
    assert message in refused(DEVICE + TAG + f"{field} = {value}\n")


@pytest.mark.parametrize(
    ("tag", "message"),
    [
        (
            '[[tag]]\nname = "temp"\naddress = 0\ntype = "float64"\nunit = "Cel"\n',
            "tag 'temp' field 'type': expected one of int16, uint16, int32, uint32, float32, "
            "got 'float64'",
        ),
        (
            '[[tag]]\nname = "temp"\naddress = 65535\ntype = "float32"\nunit = "Cel"\n',
            "tag 'temp' field 'address': expected an integer 0..65534, got 65535",
        ),
        (
            '[[tag]]\nname = "temp"\naddress = "0"\ntype = "int16"\nunit = "Cel"\n',
            "tag 'temp' field 'address': expected an integer 0..65535, got '0'",
        ),
        (
            '[[tag]]\nname = "temp"\naddress = 0\ntype = "int16"\n',
            "tag 'temp' field 'unit': expected text of 1..32 characters, got None",
        ),
        (
            '[[tag]]\nname = "temp"\ntype = "int16"\nunit = "C"\n',
            "tag 'temp' field 'address': missing",
        ),
        (
            '[[tag]]\naddress = 0\ntype = "int16"\nunit = "C"\n',
            "tag #1 field 'name': missing",
        ),
        (
            '[[tag]]\nname = "bad tag"\naddress = 0\ntype = "int16"\nunit = "C"\n',
            "tag 'bad tag' field 'name': expected [A-Za-z0-9][A-Za-z0-9._:-]*, 1..60 "
            "characters, got 'bad tag'",
        ),
        (
            TAG + "lower = 5\nupper = 4\n",
            "tag 'temp' field 'upper': expected a number >= lower (5), got 4",
        ),
        (
            TAG + TAG.replace("address = 0", "address = 9"),
            "tag 'temp' field 'name': defined twice",
        ),
        (
            TAG + TAG.replace('"temp"', '"rpm"').replace("address = 0", "address = 1"),
            "tag 'rpm' field 'address': holding registers 1..2 overlap tag 'temp' (0..1)",
        ),
    ],
)
def test_tag_errors(tag: str, message: str) -> None:
    assert refused(DEVICE + tag) == f"m.toml: {message}"


def test_same_address_in_other_register_space_is_fine() -> None:
    other = TAG.replace('"temp"', '"rpm"') + 'register = "input"\n'
    assert len(parse_map((DEVICE + TAG + other).encode()).tags) == 2


@pytest.mark.parametrize(
    ("device", "message"),
    [
        ('[device]\nstation = "l1"\n', "device field 'host': missing"),
        (DEVICE + "port = 0\n", "device field 'port': expected an integer 1..65535, got 0"),
        (DEVICE + "device_id = 256\n", "device field 'device_id': expected an integer 0..255"),
        (DEVICE + "timeout = -1\n", "device field 'timeout': expected a number > 0, got -1"),
        (DEVICE + "hots = 1\n", "device field 'hots': unknown field (expected one of host, "),
        (
            DEVICE + 'lot = "L 1"\n',
            "device field 'lot': expected a lot id (1-128 printable ASCII), got 'L 1'",
        ),
        (
            DEVICE + 'lot = "L1"\nlot_register = { address = 100 }\n',
            "device field 'lot_register': expected either lot or lot_register, got both",
        ),
        (
            DEVICE + "lot_register = 100\n",
            "device field 'lot_register': expected a table (address, register, count), got 100",
        ),
        (
            DEVICE + "lot_register = { address = 100, count = 65 }\n",
            "device.lot_register field 'count': expected an integer 1..64, got 65",
        ),
        (
            DEVICE + "lot_register = { address = 1 }\n",
            "device.lot_register field 'address': holding registers 1..8 overlap tag 'temp' (0..1)",
        ),
        (
            '[device]\nhost = "h"\nstation = "line 1"\n',
            "device field 'station': expected [A-Za-z0-9][A-Za-z0-9._:-]*, 1..40, got 'line 1'",
        ),
    ],
)
def test_device_errors(device: str, message: str) -> None:
    assert message in refused(device + TAG)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[device\n", "m.toml: not valid TOML: "),
        (TAG, "m.toml: expected a [device] table, got None"),
        (DEVICE, "m.toml: expected [[tag]] entries, got None"),
        ("tag = 3\n" + DEVICE, "m.toml: expected [[tag]] entries, got 3"),
        (DEVICE + TAG + "[extra]\n", "m.toml: unknown key 'extra' (expected device and [[tag]]"),
    ],
)
def test_document_errors(text: str, message: str) -> None:
    assert refused(text).startswith(message)


def test_not_utf8() -> None:
    with pytest.raises(MapError, match=r"m\.toml: expected UTF-8 text"):
        parse_map(b"\xff\xfe", "m.toml")


# -- records made from readings (pure: no Modbus) -----------------------------------------------


def test_reading_record_is_process_reading_1_signed_recorded() -> None:
    m = parse_map((DEVICE + TAG + "lower = 20\nupper = 25\n").encode())
    key = SigningKey(bytes(31) + b"\x01")
    got: list[tuple[SignedSubmission, str | None]] = []
    plc = PlcIngester(m, key=key, domain=Domain(31337, "0x" + "11" * 20), sink=got.extend)
    us = 1_795_000_000_123_456
    rec = plc.reading(m.tags[0], 21.5, "LOT-1", us)
    assert rec == {
        "record_id": f"line1-temp-{us}",
        "type": "process_reading",
        "schema": "process_reading/1",
        "tag": "temp",
        "value": 21.5,
        "unit": "Cel",
        "lower": 20.0,
        "upper": 25.0,
        "lot": "LOT-1",
        "line": "line1",
        "read_at": "2026-11-18T11:06:40.123456Z",
        "source": m.tags[0].source(m.sha256, 1),
    }
    parse_record(rec)  # the ledger's own schema takes the register map's identity
    plain = PlcIngester(
        m, key=key, domain=Domain(1, "0x" + "11" * 20), sink=print, source_field=None
    )
    assert "source" not in plain.reading(m.tags[0], 1.0, None, us)
    assert rec["source"] == {
        "map_sha256": m.sha256,
        "device_id": 1,
        "register": "holding",
        "address": 0,
        "type": "float32",
        "word_order": "big",
        "scale": 1.0,
    }


def test_lot_from_scans_reads_the_scanner_outbox_of_a_station() -> None:
    m = parse_map((DEVICE + "lot_from_scans = { outbox = 'scanner-1.sqlite' }\n" + TAG).encode())
    assert m.device.lot_from_scans is not None
    assert (m.device.lot_from_scans.outbox, m.device.lot_from_scans.station) == (
        Path("scanner-1.sqlite"),
        "line1",
    )
    other = "lot_from_scans = { outbox = 's.sqlite', station = 'ST-9' }\n"
    assert parse_map((DEVICE + other + TAG).encode()).device.lot_from_scans.station == "ST-9"  # type: ignore[union-attr]
    assert refused(DEVICE + 'lot = "L1"\n' + other + TAG).endswith(
        "device field 'lot_from_scans': expected one of lot, lot_register and lot_from_scans"
    )
    assert "device.lot_from_scans field 'stattion': unknown field" in refused(
        DEVICE + "lot_from_scans = { outbox = 's', stattion = 'x' }\n" + TAG
    )
    assert "device.lot_from_scans field 'outbox': missing" in refused(
        DEVICE + "lot_from_scans = { station = 'x' }\n" + TAG
    )
