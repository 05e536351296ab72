"""The PLC ingester's core: a TOML register map, a Modbus TCP poller, ``process_reading`` records.

:func:`load_map` reads a register map strictly (unknown keys, wrong types, overlapping
registers and impossible limits are refused with the tag and field named);
:class:`PlcIngester` polls each tag on its interval with pymodbus' synchronous
``ModbusTcpClient``, decodes with ``convert_from_registers`` in the tag's word order, applies
the scale, and turns readings into ``process_reading/1`` records signed by the station's device
key, handed to a ``sink`` (the outbox) with their lot::

    from ingest.client import load_key
    from ingest.plc import PlcIngester, load_map

    plc = PlcIngester(load_map(Path("line1.toml")), key=load_key(Path("line1.key")),
                      domain=api.domain(), sink=outbox.put_many)
    plc.run(stop_event)          # returns when stop_event is set

A reading is recorded when its value moved beyond the tag's deadband since the last recorded
value, when it crossed into or out of its limits, or when ``max_interval`` seconds passed.

Decisions, as the ledger stands:

- **Meaning** ``recorded``: the authority matrix lets the device role sign ``process_reading``
  (and ``scan``) with it, nothing else.
- **An out-of-limit reading is the alert.** DESIGN.md limits devices to ``scan`` and
  ``process_reading`` records, so the ingester signs no ``alert/1``: the ledger raises the
  alert from the signed reading itself. The lot's status lists the excursion (the run of
  out-of-limit readings of a tag) among its open alerts and refuses release until an NCR that
  names one of its readings is dispositioned: one excursion, one NCR, however many readings it
  took. Here an excursion is counted when it starts (``counters["excursions"]``; every
  out-of-limit reading in ``out_of_limits``) and logged once at WARNING, so the line sees it.
- **The station** goes in the record's ``line`` field (the schema has no ``station``).
- **The register map's identity is signed with every reading**: ``source: {map_sha256,
  device_id, register, address, type, word_order, scale}`` (:meth:`Tag.source`; the
  ``process_reading/1`` schema's optional ``source``), so a wrong word order or scale is
  traceable to the map that caused it. ``source_field=None`` leaves it out.
- **Lot**, read once per polling round, from one of: the map's fixed ``lot``; the ASCII in
  ``[device.lot_register]`` (two characters per register, high byte first, up to the first
  NUL, spaces stripped); or ``[device.lot_from_scans]``, the lot of the last ``produce`` scan
  at a station, read from that scanner ingester's outbox on this PC (``outbox`` path,
  ``station`` default this map's station; see :class:`ingest.outbox.ProducedLots`). With none
  of them, or before the first produce scan, readings carry no lot and block no release. A lot
  register or scanner outbox that cannot be read, or holds no valid lot id, is counted
  (``lot``) and the round's readings carry no lot.
- **Record ids** ``{station}-{tag}-{reading time in µs}``: stable across restarts (the same
  reading signs to the same id), unique per tag while the clock does not step back (a reading
  time at or before the tag's previous one is moved 1 µs past it).
- **Errors.** An exception response (``isError()``, e.g. illegal address) is counted
  (``exception``) and skips that tag until its next interval; the connection is fine, so it is
  kept. A timeout (``timeout``), a lost or refused connection (``connection``) or any other
  Modbus failure (``protocol``) closes the connection; it is reopened with capped exponential
  backoff and jitter, reset by the first successful read. A value that is NaN or infinite
  cannot be a JSON number: counted (``decode``), not recorded. Errors in the ``sink`` (a full
  outbox) are not caught: capture stops loudly.
- **Sink.** Each polling round's records go to ``sink`` in one call (one outbox transaction,
  one sync to disk: 100 tags at 10 Hz did not keep up one record at a time).
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import math
import random
import re
import threading
import time
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from evledger_verify.records import Domain
from pymodbus.client import ModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException

from ingest.client import SignedSubmission, SigningKey, backoff_delay, pause
from ingest.outbox import OutboxError, ProducedLots
from ingest.scan import LEDGER_LOT

__all__ = [
    "DATA_TYPES",
    "ERROR_KINDS",
    "MEANING",
    "DeviceConfig",
    "LotFromScans",
    "LotRegister",
    "MapError",
    "PlcIngester",
    "RegisterMap",
    "Tag",
    "load_map",
    "parse_map",
]

log = logging.getLogger("evledger.ingest.plc")

RegisterKind = Literal["holding", "input"]
WordOrder = Literal["big", "little"]
DataTypeName = Literal["int16", "uint16", "int32", "uint32", "float32"]

#: Data types and how many 16-bit registers each takes.
DATA_TYPES: dict[str, int] = {"int16": 1, "uint16": 1, "int32": 2, "uint32": 2, "float32": 2}
_DATATYPE = {
    "int16": ModbusTcpClient.DATATYPE.INT16,
    "uint16": ModbusTcpClient.DATATYPE.UINT16,
    "int32": ModbusTcpClient.DATATYPE.INT32,
    "uint32": ModbusTcpClient.DATATYPE.UINT32,
    "float32": ModbusTcpClient.DATATYPE.FLOAT32,
}
#: What :attr:`PlcIngester.counters` counts as errors (``on_error``'s first argument).
ERROR_KINDS = ("exception", "timeout", "connection", "protocol", "decode", "lot")
#: The meaning a device signs process readings with (ledger authority matrix).
MEANING = "recorded"
#: Largest register map file read.
MAX_MAP_BYTES = 1 << 20
MAX_TAGS = 10_000

# Record ids are f"{station}-{tag}-{µs}" and must match the ledger's ID_PATTERN (at most 128
# characters, [A-Za-z0-9] then [A-Za-z0-9._:-]); µs since 1970 take 16 digits until 2286.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]*")
_MAX_STATION, _MAX_TAG = 40, 60
#: The ledger's lot ids (ledger.domain.schemas.LOT_PATTERN, which ingest may not import).
_HOST = re.compile(r"[A-Za-z0-9._:\[\]-]{1,253}")
_ANY_PATH = re.compile(r"[^\x00]+")


class MapError(Exception):
    """A register map that cannot be used; the message names the file, the tag and the field:
    ``register map line1.toml: tag 'temp' field 'scale': expected a number, got 'x'``."""


# -- the register map ---------------------------------------------------------------------------


@dataclass(frozen=True)
class LotRegister:
    """Registers holding the lot on the line as ASCII (two characters per register)."""

    address: int
    register: RegisterKind = "holding"
    count: int = 8


@dataclass(frozen=True)
class LotFromScans:
    """The lot of the last ``produce`` scan at ``station``, from that scanner's ``outbox``."""

    outbox: Path
    station: str


@dataclass(frozen=True)
class DeviceConfig:
    host: str
    port: int
    device_id: int
    timeout: float
    station: str
    lot: str | None = None
    lot_register: LotRegister | None = None
    lot_from_scans: LotFromScans | None = None


@dataclass(frozen=True)
class Tag:
    """One value on the PLC. ``value = decoded registers * scale``."""

    name: str
    address: int
    type: DataTypeName
    unit: str
    register: RegisterKind = "holding"
    word_order: WordOrder = "big"
    scale: float = 1.0
    lower: float | None = None
    upper: float | None = None
    poll_interval: float = 1.0
    deadband: float = 0.0
    max_interval: float = 60.0

    @property
    def count(self) -> int:
        """Registers this tag occupies."""
        return DATA_TYPES[self.type]

    def out_of_limits(self, value: float) -> bool:
        return (self.lower is not None and value < self.lower) or (
            self.upper is not None and value > self.upper
        )

    def source(self, map_sha256: str, device_id: int) -> dict[str, Any]:
        """What identifies how this reading was decoded (signed in the reading's ``source``)."""
        return {
            "map_sha256": map_sha256,
            "device_id": device_id,
            "register": self.register,
            "address": self.address,
            "type": self.type,
            "word_order": self.word_order,
            "scale": self.scale,
        }


@dataclass(frozen=True)
class RegisterMap:
    device: DeviceConfig
    tags: tuple[Tag, ...]
    #: SHA-256 (hex) of the map file's bytes.
    sha256: str
    source: str = "register map"


_DEVICE_FIELDS = (
    "host",
    "port",
    "device_id",
    "timeout",
    "station",
    "lot",
    "lot_register",
    "lot_from_scans",
)
_LOT_FROM_SCANS_FIELDS = ("outbox", "station")
_LOT_REGISTER_FIELDS = ("address", "register", "count")
_TAG_FIELDS = (
    "name",
    "address",
    "register",
    "type",
    "word_order",
    "scale",
    "unit",
    "lower",
    "upper",
    "poll_interval",
    "deadband",
    "max_interval",
)


class _Fields:
    """Typed reads of one TOML table, with errors that name where they are."""

    def __init__(self, table: Mapping[str, Any], where: str, known: tuple[str, ...]) -> None:
        self.table, self.where = table, where
        for key in table:
            if key not in known:
                self.fail(key, f"unknown field (expected one of {', '.join(known)})")

    def fail(self, name: str, message: str) -> None:
        raise MapError(f"{self.where} field {name!r}: {message}")

    def _get(self, name: str, required: bool) -> Any:
        if name not in self.table and required:
            self.fail(name, "missing")
        return self.table.get(name)

    def text(self, name: str, pattern: re.Pattern[str], what: str, max_len: int) -> str:
        value = self._get(name, True)
        if not isinstance(value, str) or len(value) > max_len or not pattern.fullmatch(value):
            self.fail(name, f"expected {what}, got {value!r}")
        return str(value)

    def optional_text(
        self, name: str, pattern: re.Pattern[str], what: str, max_len: int
    ) -> str | None:
        return None if name not in self.table else self.text(name, pattern, what, max_len)

    def integer(self, name: str, low: int, high: int, default: int | None = None) -> int:
        value = self._get(name, default is None)
        if value is None:
            assert default is not None
            return default
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            self.fail(name, f"expected an integer {low}..{high}, got {value!r}")
        return int(value)

    def number(
        self,
        name: str,
        default: float | None = None,
        *,
        required: bool = False,
        minimum: float | None = None,
        positive: bool = False,
        nonzero: bool = False,
    ) -> float | None:
        value = self._get(name, required)
        if value is None:
            return default
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            self.fail(name, f"expected a number, got {value!r}")
        number = float(value)
        if positive and number <= 0:
            self.fail(name, f"expected a number > 0, got {value!r}")
        if minimum is not None and number < minimum:
            self.fail(name, f"expected a number >= {minimum:g}, got {value!r}")
        if nonzero and number == 0:
            self.fail(name, f"expected a nonzero number, got {value!r}")
        return number

    def choice(self, name: str, choices: tuple[str, ...], default: str | None = None) -> str:
        value = self._get(name, default is None)
        if value is None:
            assert default is not None
            return default
        if value not in choices:
            self.fail(name, f"expected one of {', '.join(choices)}, got {value!r}")
        return str(value)


def load_map(path: str | Path) -> RegisterMap:
    """Read and check a TOML register map; its ``sha256`` is that of the file's bytes."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_MAP_BYTES + 1)
    except OSError as exc:
        raise MapError(f"register map {path}: cannot read: {exc.strerror or exc}") from None
    return parse_map(data, f"register map {path}")


def parse_map(data: bytes, source: str = "register map") -> RegisterMap:
    """Check a register map given as the bytes of a TOML file (see :func:`load_map`)."""
    try:
        return _parse_map(data, source)
    except MapError as exc:
        raise MapError(f"{source}: {exc}") from None


def _parse_map(data: bytes, source: str) -> RegisterMap:
    if len(data) > MAX_MAP_BYTES:
        raise MapError(f"expected at most {MAX_MAP_BYTES} bytes, got more")
    try:
        doc = tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise MapError(f"expected UTF-8 text: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise MapError(f"not valid TOML: {exc}") from None
    for key in doc:
        if key not in ("device", "tag"):
            raise MapError(f"unknown key {key!r} (expected device and [[tag]] entries)")
    device_table = doc.get("device")
    if not isinstance(device_table, dict):
        raise MapError(f"expected a [device] table, got {device_table!r}")
    device = _device(device_table)
    tag_tables = doc.get("tag")
    if not isinstance(tag_tables, list) or not tag_tables:
        raise MapError(f"expected [[tag]] entries, got {tag_tables!r}")
    if len(tag_tables) > MAX_TAGS:
        raise MapError(f"expected at most {MAX_TAGS} tags, got {len(tag_tables)}")
    tags: list[Tag] = []
    names: set[str] = set()
    for i, table in enumerate(tag_tables):
        if not isinstance(table, dict):
            raise MapError(f"tag #{i + 1}: expected a table, got {table!r}")
        tag = _tag(table, i)
        if tag.name in names:
            raise MapError(f"tag {tag.name!r} field 'name': defined twice")
        names.add(tag.name)
        tags.append(tag)
    _check_overlaps(device, tags)
    return RegisterMap(device, tuple(tags), hashlib.sha256(data).hexdigest(), source)


def _device(table: Mapping[str, Any]) -> DeviceConfig:
    f = _Fields(table, "device", _DEVICE_FIELDS)
    host = f.text("host", _HOST, "a host name or IP address", 253)
    port = f.integer("port", 1, 65535, 502)
    device_id = f.integer("device_id", 0, 255, 1)
    timeout = f.number("timeout", 3.0, positive=True)
    assert timeout is not None
    station = f.text("station", _NAME, f"[A-Za-z0-9][A-Za-z0-9._:-]*, 1..{_MAX_STATION}", 40)
    lot = f.optional_text("lot", LEDGER_LOT, "a lot id (1-128 printable ASCII)", 128)
    lot_register = None
    if "lot_register" in table:
        raw = table["lot_register"]
        if lot is not None:
            f.fail("lot_register", "expected either lot or lot_register, got both")
        if not isinstance(raw, dict):
            f.fail("lot_register", f"expected a table (address, register, count), got {raw!r}")
        r = _Fields(raw, "device.lot_register", _LOT_REGISTER_FIELDS)
        count = r.integer("count", 1, 64, 8)
        lot_register = LotRegister(
            address=r.integer("address", 0, 65536 - count),
            register=r.choice("register", ("holding", "input"), "holding"),  # type: ignore[arg-type]
            count=count,
        )
    lot_from_scans = None
    if "lot_from_scans" in table:
        raw = table["lot_from_scans"]
        if lot is not None or lot_register is not None:
            f.fail("lot_from_scans", "expected one of lot, lot_register and lot_from_scans")
        if not isinstance(raw, dict):
            f.fail("lot_from_scans", f"expected a table (outbox, station), got {raw!r}")
        r = _Fields(raw, "device.lot_from_scans", _LOT_FROM_SCANS_FIELDS)
        outbox = r.text("outbox", _ANY_PATH, "the scanner ingester's outbox file", 4096)
        scan_station = r.optional_text("station", _NAME, "a station id", _MAX_STATION)
        lot_from_scans = LotFromScans(Path(outbox), scan_station or station)
    return DeviceConfig(host, port, device_id, timeout, station, lot, lot_register, lot_from_scans)


def _tag(table: Mapping[str, Any], index: int) -> Tag:
    name = table.get("name")
    where = f"tag {name!r}" if isinstance(name, str) else f"tag #{index + 1}"
    f = _Fields(table, where, _TAG_FIELDS)
    name = f.text("name", _NAME, f"[A-Za-z0-9][A-Za-z0-9._:-]*, 1..{_MAX_TAG} characters", 60)
    dtype = f.choice("type", tuple(DATA_TYPES))
    address = f.integer("address", 0, 65536 - DATA_TYPES[dtype])
    unit = table.get("unit")
    if not isinstance(unit, str) or not 1 <= len(unit) <= 32:
        f.fail("unit", f"expected text of 1..32 characters, got {unit!r}")
    lower = f.number("lower")
    upper = f.number("upper")
    if lower is not None and upper is not None and lower > upper:
        f.fail("upper", f"expected a number >= lower ({lower:g}), got {upper:g}")
    poll = f.number("poll_interval", 1.0, positive=True)
    assert poll is not None
    max_interval = f.number("max_interval", max(60.0, poll), minimum=poll)
    deadband = f.number("deadband", 0.0, minimum=0)
    scale = f.number("scale", 1.0, nonzero=True)
    assert max_interval is not None and deadband is not None and scale is not None
    return Tag(
        name=name,
        address=address,
        type=dtype,  # type: ignore[arg-type]
        unit=str(unit),
        register=f.choice("register", ("holding", "input"), "holding"),  # type: ignore[arg-type]
        word_order=f.choice("word_order", ("big", "little"), "big"),  # type: ignore[arg-type]
        scale=scale,
        lower=lower,
        upper=upper,
        poll_interval=poll,
        deadband=deadband,
        max_interval=max_interval,
    )


def _check_overlaps(device: DeviceConfig, tags: list[Tag]) -> None:
    spans: list[tuple[str, int, int, str]] = [
        (t.register, t.address, t.address + t.count, f"tag {t.name!r}") for t in tags
    ]
    if device.lot_register is not None:
        lr = device.lot_register
        spans.append((lr.register, lr.address, lr.address + lr.count, "device.lot_register"))
    spans.sort(key=lambda s: (s[0], s[1]))
    for (kind, start, end, who), (kind2, start2, end2, who2) in itertools.pairwise(spans):
        if kind == kind2 and start2 < end:
            raise MapError(
                f"{who2} field 'address': {kind2} registers {start2}..{end2 - 1} overlap "
                f"{who} ({start}..{end - 1})"
            )


# -- the poller -----------------------------------------------------------------------------------


@dataclass
class _TagState:
    next_due: float = 0.0
    last_value: float | None = None
    last_out: bool = False
    last_recorded_at: float | None = None  # monotonic
    last_us: int = 0


@dataclass
class _Backoff:
    attempt: int = 0
    next_try: float = field(default=0.0)


class PlcIngester:
    """Polls one Modbus TCP device by its register map and hands signed readings to ``sink``.

    ``sink([(signed, lot), ...])`` receives each polling round's ``process_reading`` records,
    signed with ``key`` (meaning ``recorded``) for ``domain``. ``clock`` is
    the wall clock (reading times, record ids), ``monotonic`` schedules the polls, ``sleep``
    waits between rounds (default: waiting on the stop event), ``jitter`` returns 0..1.
    ``on_error(kind, message)`` is called for every counted error (kinds:
    :data:`ERROR_KINDS`); ``counters`` holds the counts, plus ``polls``, ``readings``,
    ``out_of_limits``, ``excursions``, ``connects`` and ``late`` (a poll that started a whole
    interval after it was due). ``client`` injects the Modbus client.
    """

    def __init__(
        self,
        register_map: RegisterMap,
        *,
        key: SigningKey,
        domain: Domain,
        sink: Callable[[list[tuple[SignedSubmission, str | None]]], None],
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], object] | None = None,
        jitter: Callable[[], float] = random.random,
        on_error: Callable[[str, str], None] | None = None,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        source_field: str | None = "source",
        client: ModbusTcpClient | None = None,
    ) -> None:
        if not 0 < backoff <= max_backoff:
            raise ValueError("backoff: expected 0 < backoff <= max_backoff")
        self.map, self.key, self.domain, self.sink = register_map, key, domain, sink
        self._round: list[tuple[SignedSubmission, str | None]] = []
        self._clock, self._monotonic, self._sleep, self._jitter = clock, monotonic, sleep, jitter
        self._on_error = on_error
        self.backoff, self.max_backoff = backoff, max_backoff
        self.source_field = source_field
        dev = register_map.device
        # retries=0: a timeout is ours to count and back off from, not pymodbus' to repeat.
        self.client = client or ModbusTcpClient(
            dev.host, port=dev.port, timeout=dev.timeout, retries=0
        )
        self.counters: dict[str, int] = dict.fromkeys(
            (*ERROR_KINDS, "polls", "readings", "out_of_limits", "excursions", "connects", "late"),
            0,
        )
        self._state = {t.name: _TagState() for t in register_map.tags}
        self._backoff = _Backoff()
        self._connected = False
        scans = register_map.device.lot_from_scans
        self._produced = ProducedLots(scans.outbox) if scans is not None else None
        self._no_produce_scan_logged = False

    # -- running --------------------------------------------------------------------------------

    def run(self, stop_event: threading.Event) -> None:
        """Poll until ``stop_event`` is set; Modbus failures never end it (the sink's do)."""
        try:
            while not stop_event.is_set():
                wait = self.step()
                if wait > 0 and not stop_event.is_set():
                    pause(stop_event, wait, self._sleep)
        finally:
            self.close()

    def close(self) -> None:
        self.client.close()  # type: ignore[no-untyped-call]
        self._connected = False
        if self._produced is not None:
            self._produced.close()

    def step(self) -> float:
        """One polling round: connect if needed, read every tag that is due, record what
        changed. Returns the seconds until something is due again."""
        now = self._monotonic()
        if not self._connected:
            if now < self._backoff.next_try:
                return self._backoff.next_try - now
            if not self._connect():
                return self._backoff.next_try - self._monotonic()
        due = [t for t in self.map.tags if self._state[t.name].next_due <= now]
        if due:
            lot = self._lot()
            if self._connected:
                for tag in due:
                    state = self._state[tag.name]
                    if now - state.next_due >= tag.poll_interval and state.next_due > 0:
                        self.counters["late"] += 1
                    state.next_due += tag.poll_interval
                    if state.next_due <= now:  # behind (or the first round): start afresh
                        state.next_due = now + tag.poll_interval
                    if not self._poll(tag, lot):
                        break  # the connection is gone: back off, poll the rest later
            self._flush_round()
        if not self._connected:
            return max(0.0, self._backoff.next_try - self._monotonic())
        nxt = min(s.next_due for s in self._state.values())
        return max(0.0, nxt - self._monotonic())

    def delay(self, attempt: int) -> float:
        """Seconds before reconnect ``attempt`` (0-based): half the capped exponential step,
        plus a random part of the other half."""
        return backoff_delay(attempt, self.backoff, self.max_backoff, self._jitter)

    # -- Modbus -----------------------------------------------------------------------------------

    def _error(self, kind: str, message: str) -> None:
        self.counters[kind] += 1
        log.warning("plc %s: %s", kind, message)
        if self._on_error is not None:
            self._on_error(kind, message)

    def _connect(self) -> bool:
        dev = self.map.device
        try:
            ok = bool(self.client.connect())  # type: ignore[no-untyped-call]
        except (ModbusException, OSError) as exc:
            ok, detail = False, str(exc)
        else:
            detail = "connection refused or unreachable"
        if ok:
            self._connected = True
            self.counters["connects"] += 1
            return True
        self._lost("connection", f"{dev.host}:{dev.port}: {detail}")
        return False

    def _lost(self, kind: str, message: str) -> None:
        self._error(kind, message)
        self.client.close()  # type: ignore[no-untyped-call]
        self._connected = False
        wait = self.delay(self._backoff.attempt)
        self._backoff.attempt += 1
        self._backoff.next_try = self._monotonic() + wait

    def _read(
        self, register: RegisterKind, address: int, count: int, what: str
    ) -> list[int] | None:
        """Registers, or None after counting the error (and dropping the connection when the
        error means it is no longer usable)."""
        dev = self.map.device
        read = (
            self.client.read_holding_registers
            if register == "holding"
            else self.client.read_input_registers
        )
        try:
            resp = read(address, count=count, device_id=dev.device_id)
        except ConnectionException as exc:
            self._lost("connection", f"{what}: {exc}")
            return None
        except ModbusIOException as exc:
            self._lost("timeout", f"{what}: no answer within {dev.timeout:g} s ({exc})")
            return None
        except (ModbusException, OSError) as exc:
            self._lost("protocol", f"{what}: {exc}")
            return None
        self._backoff.attempt = 0
        if resp.isError():
            code = getattr(resp, "exception_code", None)
            self._error(
                "exception",
                f"{what}: exception response {code} to {register} registers "
                f"{address}..{address + count - 1}",
            )
            return None
        regs = list(resp.registers)
        if len(regs) < count:
            self._error("protocol", f"{what}: expected {count} registers, got {len(regs)}")
            return None
        return regs[:count]

    def _lot(self) -> str | None:
        dev = self.map.device
        if dev.lot_from_scans is not None:
            return self._scanned_lot(dev.lot_from_scans)
        if dev.lot is not None or dev.lot_register is None:
            return dev.lot
        lr = dev.lot_register
        regs = self._read(lr.register, lr.address, lr.count, "lot_register")
        if regs is None:
            return None
        raw = b"".join(r.to_bytes(2, "big") for r in regs).split(b"\0", 1)[0]
        text = raw.decode("latin-1").strip(" ")
        if not LEDGER_LOT.fullmatch(text):
            self._error("lot", f"lot_register: expected an ASCII lot id, got {raw!r}")
            return None
        return text

    def _scanned_lot(self, scans: LotFromScans) -> str | None:
        assert self._produced is not None
        try:
            lot = self._produced.lot(scans.station)
        except OutboxError as exc:
            self._error("lot", f"lot_from_scans: {exc}")
            return None
        if lot is None:
            if not self._no_produce_scan_logged:
                log.warning(
                    "plc lot: no produce scan at station %s yet (%s): readings carry no lot",
                    scans.station,
                    scans.outbox,
                )
                self._no_produce_scan_logged = True
            return None
        if not LEDGER_LOT.fullmatch(lot):
            self._error("lot", f"lot_from_scans: expected a lot id, got {lot!r}")
            return None
        self._no_produce_scan_logged = False
        return lot

    def _poll(self, tag: Tag, lot: str | None) -> bool:
        """Read, decode and maybe record one tag; False when the connection was lost."""
        self.counters["polls"] += 1
        regs = self._read(tag.register, tag.address, tag.count, f"tag {tag.name!r}")
        if regs is None:
            return self._connected
        raw = self.client.convert_from_registers(
            regs, _DATATYPE[tag.type], word_order=tag.word_order
        )
        assert isinstance(raw, int | float)
        value = float(raw) * tag.scale
        if not math.isfinite(value):
            self._error("decode", f"tag {tag.name!r}: value {value} is not a finite number")
            return True
        self._consider(tag, value, lot)
        return True

    # -- readings ---------------------------------------------------------------------------------

    def _flush_round(self) -> None:
        if self._round:
            batch, self._round = self._round, []
            self.sink(batch)

    def _consider(self, tag: Tag, value: float, lot: str | None) -> None:
        state = self._state[tag.name]
        now = self._monotonic()
        out = tag.out_of_limits(value)
        if not (
            state.last_value is None
            or abs(value - state.last_value) > tag.deadband
            or out != state.last_out
            or state.last_recorded_at is None
            or now - state.last_recorded_at >= tag.max_interval
        ):
            return
        us = max(round(self._clock() * 1_000_000), state.last_us + 1)
        record = self.reading(tag, value, lot, us)
        self._round.append((self.key.sign(record, MEANING, self.domain, us // 1_000_000), lot))
        entering = out and not state.last_out
        state.last_value, state.last_out, state.last_recorded_at, state.last_us = (
            value,
            out,
            now,
            us,
        )
        self.counters["readings"] += 1
        if out:
            self.counters["out_of_limits"] += 1
        if entering:
            self.counters["excursions"] += 1
            log.warning(
                "plc out of limits: %s %s %s (limits %s..%s) lot %s: %s starts an excursion that "
                "blocks the lot's release until an NCR dispositions it",
                tag.name,
                value,
                tag.unit,
                _limit(tag.lower),
                _limit(tag.upper),
                lot,
                record["record_id"],
            )

    def reading(self, tag: Tag, value: float, lot: str | None, us: int) -> dict[str, Any]:
        """The ``process_reading/1`` body for ``value`` of ``tag`` read at ``us`` µs."""
        station = self.map.device.station
        read_at = datetime.fromtimestamp(us // 1_000_000, UTC).replace(microsecond=us % 1_000_000)
        record: dict[str, Any] = {
            "record_id": f"{station}-{tag.name}-{us}",
            "type": "process_reading",
            "schema": "process_reading/1",
            "tag": tag.name,
            "value": value,
            "unit": tag.unit,
            "line": station,
            "read_at": read_at.isoformat().replace("+00:00", "Z"),
        }
        if tag.lower is not None:
            record["lower"] = tag.lower
        if tag.upper is not None:
            record["upper"] = tag.upper
        if lot is not None:
            record["lot"] = lot
        if self.source_field is not None:
            record[self.source_field] = tag.source(self.map.sha256, self.map.device.device_id)
        return record


def _limit(value: float | None) -> str:
    return "" if value is None else f"{value:g}"
