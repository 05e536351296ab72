"""What the device benchmark drives: the shop-floor ingesters as subprocesses, a Modbus TCP
server in-process, device keys registered through the API, and GS1 scan lines.

Measuring only: no checks of correctness live here (the tests own those).
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from evledger_verify.records import Domain, checksum_address
from pymodbus.client import ModbusTcpClient
from pymodbus.constants import ExcCodes

from bench._load import Http, percentile
from bench._service import _TICK
from ledger.embedded import pid_alive
from tests.modbus_sim import ModbusSimServer

__all__ = [
    "GTIN",
    "IngesterProcess",
    "ModbusSim",
    "cpu_seconds",
    "parse_metrics",
    "pid_alive",
    "register_map_toml",
    "scan_line",
    "serial_text",
    "trust_file",
    "wait_status",
]

#: A GTIN-14 with a valid check digit (the one the tests use).
GTIN = "09506000134352"
_DIGITS_AS_LETTERS = str.maketrans("0123456789", "ABCDEFGHIJ")


def serial_text(n: int) -> str:
    """A unique serial without digits: ``SN-`` and ``n`` spelt in letters (``SN-BCD`` for 123).

    Serials such as ``SN-30`` are refused by the scanner's missing-separator check (their
    digits read as another AI; see the report's defects), so the measured lines avoid digits.
    """
    return "SN-" + str(n).translate(_DIGITS_AS_LETTERS)


def scan_line(n: int, lot: str = "LOT-A") -> bytes:
    """A GS1-128 line as a scanner sends it: AIM ``]C1``, (01) GTIN, (10) lot, GS, (21) serial."""
    return f"]C101{GTIN}10{lot}\x1d21{serial_text(n)}\n".encode()


def cpu_seconds(pid: int) -> float | None:
    """utime + stime of ``pid`` (all its threads), from /proc; None when it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)$")


def parse_metrics(text: str) -> dict[str, float]:
    """Prometheus text as ``{"name{labels}": value}`` (comments left out)."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        m = _SAMPLE.match(line.strip())
        if m:
            try:
                out[m.group(1) + (m.group(2) or "")] = float(m.group(3))
            except ValueError:
                continue
    return out


class IngesterProcess:
    """``evledger ingest scanner|plc`` in a process of its own, its output in ``log``."""

    def __init__(self, argv: Sequence[str], log: Path, cwd: Path) -> None:
        self.log = log
        with open(log, "wb") as out:
            self.process = subprocess.Popen(
                list(argv), cwd=cwd, stdout=out, stderr=subprocess.STDOUT
            )
        self._metrics_url: str | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    def text(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    def wait_for(self, needle: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while needle not in self.text():
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"ingester exited with {self.process.returncode} before {needle!r}; its "
                    f"log:\n{self.text()[-2000:]}"
                )
            if time.monotonic() > deadline:
                raise RuntimeError(f"ingester: no {needle!r} after {timeout:g} s:\n{self.text()}")
            time.sleep(0.05)

    def metrics(self) -> dict[str, float]:
        if self._metrics_url is None:
            self.wait_for("metrics: http://")
            m = re.search(r"metrics: (http://\S+)", self.text())
            assert m is not None
            self._metrics_url = m.group(1)
        with urllib.request.urlopen(self._metrics_url, timeout=10) as resp:  # noqa: S310
            return parse_metrics(resp.read().decode())

    def cpu(self) -> float | None:
        return cpu_seconds(self.pid)

    def terminate(self, timeout: float = 60.0) -> int:
        """SIGTERM (the ingester drains once more and stops), then wait; SIGKILL if it hangs.
        Returns the exit code (negative: killed by that signal)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def wait_status(api: Http, records: int, timeout: float, poll: float = 0.1) -> float | None:
    """Poll ``GET /v1/status`` until it counts at least ``records``; the ``perf_counter`` at
    which it did, or None after ``timeout`` s."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        code, status = api.json("GET", "/v1/status")
        if code == 200 and isinstance(status, dict) and (status.get("records") or 0) >= records:
            return time.perf_counter()
        time.sleep(poll)
    return None


# -- the PLC ------------------------------------------------------------------------------------


def register_map_toml(port: int, tags: int, poll: float, station: str, lot: str) -> str:
    """A register map: ``tags`` float32 holding-register tags at addresses 0, 2, 4, ..., polled
    every ``poll`` s, deadband 0 (every change is recorded), no limits."""
    head = (
        f'[device]\nhost = "127.0.0.1"\nport = {port}\ndevice_id = 1\ntimeout = 1.0\n'
        f'station = "{station}"\nlot = "{lot}"\n'
    )
    body = "".join(
        f'\n[[tag]]\nname = "t{i:03d}"\naddress = {2 * i}\nregister = "holding"\n'
        f'type = "float32"\nword_order = "big"\nunit = "Cel"\npoll_interval = {poll}\n'
        f"deadband = 0.0\nmax_interval = 60.0\n"
        for i in range(tags)
    )
    return head + body


class ModbusSim(ModbusSimServer):
    """A Modbus TCP server serving ``tags`` float32 values in holding registers 0..2*tags-1.
    Every read of a tag gives it a new value (so a poller with deadband 0 records every poll),
    and is time-stamped: the reads per second and the interval between two reads of one tag
    are what the poller achieved."""

    def __init__(self, tags: int) -> None:
        super().__init__(holding=[0] * (2 * tags), input=[0])
        self.tags = tags
        self.reads: list[tuple[float, int]] = []  # (monotonic, address) of each read
        self._n = 0

    async def action(
        self, fc: int, start: int, address: int, count: int, regs: list[int], values: Any
    ) -> ExcCodes | None:
        if fc == 3:
            self._n += 1
            value = 20.0 + (self._n % 10_000) * 0.01
            new = ModbusTcpClient.convert_to_registers(
                value, ModbusTcpClient.DATATYPE.FLOAT32, word_order="big"
            )
            at = address - start
            regs[at : at + 2] = new
            self.reads.append((time.monotonic(), address))
        return None

    def window(self, t0: float, t1: float, poll: float) -> dict[str, Any]:
        """Reads between monotonic ``t0`` and ``t1``: per second (mean, lowest whole second),
        and the interval between successive reads of one tag (p50, p99, max) against ``poll``."""
        reads = [(t, a) for t, a in list(self.reads) if t0 <= t < t1]
        per_second: dict[int, int] = {}
        last: dict[int, float] = {}
        gaps: list[float] = []
        for t, a in reads:
            per_second[int(t - t0)] = per_second.get(int(t - t0), 0) + 1
            if a in last:
                gaps.append(t - last[a])
            last[a] = t
        whole = [per_second.get(s, 0) for s in range(int(t1 - t0))]
        late = sum(1 for g in gaps if g >= 2 * poll)

        def ms(v: float | None) -> float | None:
            return None if v is None else round(v * 1000, 1)

        return {
            "reads": len(reads),
            "reads_per_s": round(len(reads) / (t1 - t0), 1),
            "lowest_second": min(whole) if whole else None,
            "highest_second": max(whole) if whole else None,
            "tag_interval_ms": {
                "p50": ms(percentile(gaps, 50)),
                "p99": ms(percentile(gaps, 99)),
                "max": ms(max(gaps) if gaps else None),
            },
            "late_reads": late,  # a read a whole interval or more after it was due
        }


def trust_file(api: Http, path: Path) -> Domain:
    """``GET /v1/trust`` written to ``path`` (the ingesters' ``--trust``); its domain."""
    code, trust = api.json("GET", "/v1/trust")
    if code != 200 or not isinstance(trust, dict):
        raise RuntimeError(f"GET /v1/trust: expected 200 and a trust document, got {code}")
    path.write_text(json.dumps(trust))
    return Domain(int(trust["chain_id"]), checksum_address(str(trust["contract"])))
