"""The scanner ingester: lines from a serial port become signed ``scan/1`` records.

It opens a device path or a pyserial URL (``/dev/ttyACM0``, ``loop://``, ``socket://host:port``)
with ``serial.serial_for_url``, cuts what arrives into lines at ``eol``, and for each line:

* :func:`ingest.scan.parse_line`; a :class:`~ingest.scan.BadScan` is logged with its reason and
  the raw bytes in hex, counted (``evledger_ingest_bad_scans_total``) and dropped: it never
  becomes a record and never stops the ingester;
* a good scan becomes a ``scan/1`` record (:func:`ingest.scan.scan_record`, with the
  station's operation, lot, supplier, consignee and unit) stamped with the time its line was
  read, signed by the station's device key with meaning ``recorded`` (the only meaning the
  authority matrix lets a device sign a scan with), and stored by
  :meth:`ingest.runner.Runner.capture`.

Pallets (SSCC labels, AI 00, without a GTIN):

* at a ``pack`` station, a pallet label opens that pallet: it is logged (``pallet.open``) and
  counted (``stats.pallets``), and makes no record. Each following product scan becomes a
  ``pack`` scan onto that pallet; another pallet label switches pallets. A product scan while
  no pallet is open is a bad scan ("pack: scan the pallet's SSCC label first"). A label that
  carries both an SSCC and a GTIN goes onto its own SSCC and leaves the open pallet as it is.
* at a ``ship`` station, a pallet label becomes a ship scan of the whole pallet
  (``gs1: {"sscc": ...}``): the ledger ships every lot packed onto it;
* anywhere else it is a bad scan.

The open pallet lives in memory only: after a restart (a crash, a reboot, a shift change) the
operator scans the pallet's label again, and product scans before that are refused loudly. A
pallet kept across a restart could be one that was finished or swapped meanwhile, and a lot
packed onto the wrong pallet misdirects a recall without anyone noticing; the refusal costs
one scan. The stop log line names the pallet that was open (``open_pallet``).

Framing: CR and LF are never barcode data, so they are stripped from both ends of a line and a
line left empty is skipped (a scanner sending CR LF works with ``eol`` CR, LF or CR LF). A line
longer than ``config.max_length`` is discarded up to the next ``eol`` and counted as a bad scan:
the buffer never holds more than ``max_length`` + one read.

Record ids: ``scan-{station}-{scan time in µs}-{run}-{seq}``, the station reduced to the ledger's
id characters, ``run`` 8 random hex digits drawn at start, ``seq`` counting scans in this run.
An id is made once per scan and stays with the signed record in the outbox, so resending is
idempotent; a restart draws a new ``run``, so its ids cannot collide with the previous run's,
even when the clock stepped back.

When the port fails (USB unplugged: ``SerialException`` or ``OSError``), it is closed, counted
as a source error, and reopened with capped exponential backoff and jitter; the outage is
logged once when it starts and once when the port is back. ``run(stop_event)`` returns within
a read timeout (0.1 s) of ``stop_event`` being set; signals are the CLI's business.
"""

from __future__ import annotations

import random
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import serial  # type: ignore[import-untyped]
from evledger_verify.records import Domain

from ingest.client import SigningKey, backoff_delay, pause
from ingest.runner import LOG, Runner, kv
from ingest.scan import (
    BadScan,
    Operation,
    ParsedScan,
    ScanConfig,
    check_station,
    parse_line,
    scan_record,
)

__all__ = ["READ_TIMEOUT", "ScannerIngester", "ScannerStats", "record_id_prefix"]

#: Seconds a read waits for data: how long ``run`` may take to notice its stop event.
READ_TIMEOUT = 0.1
_READ_MAX = 4096
_REOPEN_FIRST = 0.25
_ID_CHARS = re.compile(r"[^A-Za-z0-9._:-]+")
_STATION_ID_MAX = 64
_DEFAULT_CONFIG = ScanConfig()


def record_id_prefix(station: str) -> str:
    """``scan-`` and the station in the ledger's id characters (others become ``_``)."""
    return "scan-" + _ID_CHARS.sub("_", station)[:_STATION_ID_MAX]


@dataclass
class ScannerStats:
    """Counts since start, for tests and status lines (the metrics are the runner's)."""

    lines: int = 0
    captured: int = 0
    bad_scans: int = 0
    #: Pallet (SSCC) labels read at a pack station, each opening its pallet.
    pallets: int = 0
    port_errors: int = 0
    reopened: int = 0


class ScannerIngester:
    """One scanner on one port (see the module docstring).

    ``operation``, ``lot``, ``supplier``, ``consignee`` and ``unit`` are the station's (see
    :func:`ingest.scan.scan_record`; :func:`ingest.scan.check_station` says which combinations
    are refused, with ``ValueError``). ``pallet`` is the pallet open at a pack station.
    """

    def __init__(
        self,
        port: str,
        *,
        station: str,
        operation: Operation,
        key: SigningKey,
        domain: Domain,
        runner: Runner,
        config: ScanConfig = _DEFAULT_CONFIG,
        baudrate: int = 9600,
        eol: bytes = b"\r\n",
        lot: str | None = None,
        consignee: str | None = None,
        supplier: str | None = None,
        unit: str | None = None,
        reopen_max_backoff: float = 30.0,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] | None = None,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        check_station(operation, lot=lot, consignee=consignee, supplier=supplier, unit=unit)
        if not 1 <= len(station) <= 200 or not station.strip():
            raise ValueError(f"station: expected 1 to 200 characters, got {station!r}")
        if not eol or len(eol) > 2 or any(b not in b"\r\n" for b in eol):
            raise ValueError(f"eol: expected b'\\r\\n', b'\\n' or b'\\r', got {eol!r}")
        if reopen_max_backoff < _REOPEN_FIRST:
            raise ValueError(
                f"reopen_max_backoff: expected at least {_REOPEN_FIRST} s, got {reopen_max_backoff}"
            )
        self.port, self.station, self.operation = port, station, operation
        self.key, self.domain, self.runner, self.config = key, domain, runner, config
        self.baudrate, self.eol = baudrate, eol
        self.lot, self.consignee, self.supplier, self.unit = lot, consignee, supplier, unit
        self.pallet: str | None = None
        self.reopen_max_backoff = reopen_max_backoff
        self._clock, self._sleep, self._jitter = clock, sleep, jitter
        self.stats = ScannerStats()
        self.run_id = secrets.token_hex(4)
        self._prefix = record_id_prefix(station)
        self._seq = 0
        self._serial: Any = None
        self._buf = b""
        self._discarding = False
        self._open_failures = 0
        self._down_since: float | None = None

    @property
    def connected(self) -> bool:
        """Whether the port is open now (data sent before it opens is flushed by the open)."""
        return self._serial is not None

    # -- the loop -----------------------------------------------------------------------------

    def run(self, stop_event: threading.Event) -> None:
        """Read, parse, sign and capture until ``stop_event`` is set. Returns after closing
        the port; raises only what must stop capture (:class:`~ingest.outbox.OutboxFull` and
        other outbox errors, already logged by the runner)."""
        LOG.info(
            kv("scanner.start", port=self.port, station=self.station, operation=self.operation,
               lot=self.lot, supplier=self.supplier, consignee=self.consignee, unit=self.unit,
               signer=self.key.address, run=self.run_id, eol=self.eol.hex())
        )  # fmt: skip
        try:
            while not stop_event.is_set():
                if self._serial is None and not self._open():
                    self._wait(stop_event, self._reopen_delay())
                    continue
                try:
                    data = self._read()
                except (serial.SerialException, OSError) as exc:
                    self._lost(exc)
                    continue
                if data:
                    now = self._clock()
                    for line in self._feed(data):
                        self._line(line, now)
        finally:
            self._close()
            LOG.info(kv("scanner.stop", port=self.port, **vars(self.stats),
                        open_pallet=self.pallet))  # fmt: skip

    def _read(self) -> bytes:
        first: bytes = self._serial.read(1)  # waits up to READ_TIMEOUT
        if not first:
            return b""
        waiting = min(int(self._serial.in_waiting), _READ_MAX)
        return first + (self._serial.read(waiting) if waiting else b"")

    def _wait(self, stop_event: threading.Event, seconds: float) -> None:
        pause(stop_event, seconds, self._sleep)

    # -- the port -----------------------------------------------------------------------------

    def _open(self) -> bool:
        try:
            self._serial = serial.serial_for_url(
                self.port, baudrate=self.baudrate, timeout=READ_TIMEOUT
            )
        except (serial.SerialException, OSError, ValueError) as exc:
            self._serial = None
            self._open_failures += 1
            self.stats.port_errors += 1
            self.runner.source_error("serial_open")
            if self._down_since is None:  # once per outage
                self._down_since = self._clock()
                LOG.error(kv("port.unavailable", port=self.port, error=exc))
            return False
        if self._down_since is not None:
            self.stats.reopened += 1
            LOG.warning(
                kv("port.back", port=self.port, down_seconds=self._clock() - self._down_since,
                   attempts=self._open_failures)
            )  # fmt: skip
        else:
            LOG.info(kv("port.open", port=self.port, baudrate=self.baudrate))
        self._open_failures, self._down_since = 0, None
        return True

    def _reopen_delay(self) -> float:
        """Half the capped exponential step after ``n`` failed opens, plus a random part of
        the other half."""
        n = max(0, self._open_failures - 1)
        return backoff_delay(n, _REOPEN_FIRST, self.reopen_max_backoff, self._jitter)

    def _lost(self, exc: BaseException) -> None:
        self.stats.port_errors += 1
        self.runner.source_error("serial_read")
        self._down_since = self._clock()
        LOG.error(kv("port.lost", port=self.port, error=exc, kind=type(exc).__name__))
        self._close()
        if self._buf and not self._discarding:
            self._bad(BadScan("line: expected an end of line, got a port failure first", self._buf))
        self._buf, self._discarding = b"", False

    def _close(self) -> None:
        if self._serial is not None:
            try:
                self._serial.close()
            except (serial.SerialException, OSError):
                pass
            self._serial = None

    # -- lines --------------------------------------------------------------------------------

    def _feed(self, data: bytes) -> list[bytes]:
        """Complete lines in ``data`` (with what was buffered); keeps at most ``max_length``
        bytes of an unfinished line, discarding an overlong one up to its ``eol``."""
        self._buf += data
        lines: list[bytes] = []
        while (i := self._buf.find(self.eol)) >= 0:
            line, self._buf = self._buf[:i], self._buf[i + len(self.eol) :]
            if self._discarding:
                self._discarding = False
            else:
                lines.append(line)
        limit = self.config.max_length
        if len(self._buf) > limit:
            if not self._discarding:
                self._discarding = True
                self._bad(
                    BadScan(
                        f"line: expected at most {limit} bytes before the end of line, got more "
                        "(discarded up to the next end of line)",
                        self._buf[: limit + 1],
                    )
                )
            keep = len(self.eol) - 1  # an eol split across two reads
            self._buf = self._buf[-keep:] if keep else b""
        return lines

    def _line(self, raw: bytes, now: float) -> None:
        self.stats.lines += 1
        data = raw.strip(b"\r\n")
        if not data:
            return
        try:
            parsed = parse_line(data, self.config)
            if self.operation == "pack" and parsed.pallet_label:
                self._open_pallet(parsed)
                return
            pallet = None
            if self.operation == "pack":
                pallet = parsed.sscc or self.pallet
                if pallet is None:
                    raise BadScan(
                        "pack: scan the pallet's SSCC label first (expected an open pallet for "
                        f"{parsed.hri}, got none)",
                        data,
                    )
            self._seq += 1
            scanned_at = datetime.fromtimestamp(now, UTC)
            record = scan_record(
                parsed,
                record_id=f"{self._prefix}-{int(now * 1_000_000)}-{self.run_id}-{self._seq}",
                station=self.station,
                operation=self.operation,
                scanned_at=scanned_at,
                lot=self.lot,
                consignee=self.consignee,
                supplier=self.supplier,
                pallet=pallet,
                unit=self.unit,
            )
            signed = self.key.sign(record, "recorded", self.domain, signed_at=int(now))
        except BadScan as exc:
            self._bad(exc)
            return
        except Exception as exc:  # a bug must not stop the line: log it as a bad scan
            self._bad(BadScan(f"scan: unexpected {type(exc).__name__}: {exc}", data))
            return
        # OutboxFull propagates: capture stops loudly
        self.runner.capture(signed, record.get("lot"))
        self.stats.captured += 1
        LOG.debug(kv("scan.captured", record_id=signed.record_id, hri=parsed.hri))

    def _open_pallet(self, parsed: ParsedScan) -> None:
        """A pallet label at a pack station: the following product scans go onto it."""
        previous, self.pallet = self.pallet, parsed.sscc
        self.stats.pallets += 1
        LOG.info(
            kv("pallet.open", port=self.port, station=self.station, sscc=self.pallet,
               previous=previous if previous != self.pallet else None)
        )  # fmt: skip

    def _bad(self, exc: BadScan) -> None:
        self.stats.bad_scans += 1
        self.runner.bad_scan()
        LOG.warning(kv("scan.bad", port=self.port, reason=exc.reason, raw_hex=exc.raw_hex))
