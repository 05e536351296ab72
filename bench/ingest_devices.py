"""Device ingest benchmark: the shop-floor ingesters against a real `evledger up`, in one run.

    .venv/bin/python bench/ingest_devices.py [--json FILE]   # the issue's sizes, a few minutes
    .venv/bin/python bench/ingest_devices.py --quick         # small and short: a smoke run

Everything goes through the interfaces a line PC uses: ``evledger ingest scanner`` and
``evledger ingest plc`` as subprocesses, a pseudo-terminal for the scanner, a Modbus TCP server
for the PLC, the outbox and the client library for the backlog, and the service's HTTP API.

1. **Scanner.** Starts ``evledger up`` (bench/_service.py), registers a scanner and a PLC
   gateway as devices (admin-signed ``signer/1`` grants), runs ``evledger ingest scanner`` on
   the slave side of a pty (``--eol lf``, ``--trust`` from ``GET /v1/trust``, its outbox in a
   temporary folder) and writes ``--scans`` GS1-128 lines with unique serials into the master
   side as fast as the pty takes them; then ``--rate`` lines/s for ``--rate-seconds``. For each:
   lines/s written, records/s captured (the ingester's ``evledger_ingest_captured_total``),
   records/s accepted by the ledger (``/v1/status`` records), the time until all are anchored,
   and the ingester's CPU (/proc/<pid>/stat).
2. **PLC.** A pymodbus TCP server in this process serves ``--plc-tags`` float32 tags whose
   values change on every read; ``evledger ingest plc`` polls them every ``--plc-poll`` s with
   deadband 0 for ``--plc-seconds``: reads/s the server answered and readings/s captured
   against what was offered, the interval between two reads of one tag (lateness), source
   errors, the ingester's CPU; then a short py-spy record of the ingester, if
   ``.venv/bin/py-spy`` exists.
3. **Backlog.** ``--backlog`` scan records signed in this process (``SigningKey.sign``) and
   stored with ``Outbox.put`` while nothing is sending; then ``Outbox.drain`` through
   ``ingest.client.Client`` until empty: records/s, and the time until all are anchored.

The client side, the Modbus server, the ingesters and the service share this machine's cores
(and so do other jobs): the load average is printed with the figures. Exit code: 0 when every
record reached the ledger and nothing was left running, 1 otherwise, 2 when the service could
not be started.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import threading
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._devices import (  # noqa: E402
    IngesterProcess,
    ModbusSim,
    pid_alive,
    register_map_toml,
    scan_line,
    trust_file,
    wait_status,
)
from bench._load import Http, wait_anchored  # noqa: E402
from bench._profile import PySpy, py_spy_binary, summarize  # noqa: E402
from bench._records import Signers  # noqa: E402
from bench._service import Service, ServiceError  # noqa: E402
from bench.ingest import loadavg, log, machine, register_signers  # noqa: E402
from ingest.client import Client, SigningKey, load_key, new_key  # noqa: E402
from ingest.outbox import Outbox  # noqa: E402
from ingest.scan import ScanConfig, parse_line, scan_record  # noqa: E402

QUICK = {
    "scans": 1000,
    "rate_seconds": 3.0,
    "plc_seconds": 5.0,
    "backlog": 5000,
    "profile_seconds": 3.0,
}
CAPTURED = 'evledger_ingest_captured_total{kind="%s"}'
BAD = "evledger_ingest_bad_scans_total"
ACCEPTED = 'evledger_ingest_sent_total{outcome="accepted"}'
DEPTH = "evledger_ingest_outbox_depth"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        description=(__doc__ or "").split("\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    ap.add_argument("--scans", type=int, default=20000, help="lines written as fast as possible")
    ap.add_argument("--rate", type=float, default=200.0, help="paced scanner lines/s (0: skip)")
    ap.add_argument("--rate-seconds", type=float, default=20.0)
    ap.add_argument("--plc-tags", type=int, default=100)
    ap.add_argument("--plc-poll", type=float, default=0.1, help="poll interval of every tag, s")
    ap.add_argument("--plc-seconds", type=float, default=30.0, help="measured PLC window")
    ap.add_argument("--profile-seconds", type=float, default=5.0, help="py-spy after the window")
    ap.add_argument("--backlog", type=int, default=100000, help="outbox records to drain")
    ap.add_argument("--anchor-timeout", type=float, default=300.0)
    ap.add_argument("--json", type=Path, help="write every figure to this file")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    ap.add_argument(
        "--evledger",
        type=Path,
        default=Path(sys.executable).parent / "evledger",
        help="the evledger command",
    )
    ap.add_argument("--quick", action="store_true", help="small and short: a smoke run")
    args = ap.parse_args(argv)
    if args.quick:
        for k, v in QUICK.items():
            if getattr(args, k) == ap.get_default(k):
                setattr(args, k, v)
    if args.scans < 1 or args.backlog < 1 or args.plc_tags < 1 or args.plc_poll <= 0:
        ap.error("--scans, --backlog, --plc-tags >= 1 and --plc-poll > 0 expected")
    return args


def rate(n: float, seconds: float | None) -> float | None:
    return None if not seconds else round(n / seconds, 1)


class DeviceBench:
    """One run: the service, the device keys, and every figure in ``results``."""

    def __init__(self, args: argparse.Namespace, svc: Service, tmp: Path) -> None:
        self.args, self.svc, self.tmp = args, svc, tmp
        self.problems: list[str] = []
        self.results: dict[str, Any] = {}
        self.api = Http(svc.url, timeout=60)
        self.trust = tmp / "trust.json"
        self.evledger = str(args.evledger.absolute())

    def status(self) -> dict[str, Any]:
        code, status = self.api.json("GET", "/v1/status")
        if code != 200 or not isinstance(status, dict):
            raise ServiceError(f"GET /v1/status: expected 200, got {code} {status}")
        return status

    def records(self) -> int:
        return int(self.status().get("records") or 0)

    def setup(self) -> None:
        self.domain = trust_file(self.api, self.trust)
        self.scanner_key_path, self.plc_key_path = self.tmp / "scanner.key", self.tmp / "plc.key"
        self.scanner_key = new_key(self.scanner_key_path)
        plc_key = new_key(self.plc_key_path)
        admin = load_key(self.svc.home / "keys" / "admin.key")
        signers = Signers([], [self.scanner_key], [plc_key])
        self.results["devices_registered"] = register_signers(self.api, admin, self.domain, signers)
        time.sleep(1.0)  # records are signed in a later second than the grants

    # -- 1. the scanner ---------------------------------------------------------------------

    def scanner(self) -> None:
        args = self.args
        master, slave = os.openpty()
        port = os.ttyname(slave)
        argv = [
            self.evledger, "ingest", "scanner", "--port", port, "--station", "bench-scanner",
            "--operation", "receive", "--key", str(self.scanner_key_path), "--api",
            self.svc.url, "--trust", str(self.trust), "--eol", "lf", "--lot", "LOT-SCAN-1",
            "--outbox", str(self.tmp / "scanner.sqlite"), "--metrics-port", "0",
        ]  # fmt: skip
        ing = IngesterProcess(argv, self.tmp / "scanner.log", self.tmp)
        out: dict[str, Any] = {"port": port, "pid": ing.pid}
        self.results["scanner"] = out
        try:
            ing.wait_for("port.open")
            ing.metrics()
            log(f"scanner: {args.scans} lines as fast as the pty takes them")
            out["burst"] = self._scan_run(ing, master, 0, args.scans, None)
            n_paced = int(args.rate * args.rate_seconds)
            if n_paced > 0:
                log(f"scanner: {n_paced} lines at {args.rate:g}/s")
                out["paced"] = self._scan_run(ing, master, args.scans, n_paced, args.rate)
        finally:
            out["exit_code"] = ing.terminate()
            os.close(master)
            os.close(slave)
        if out["exit_code"] != 0:
            self.problems.append(f"scanner ingester exited with {out['exit_code']} on SIGTERM")

    def _scan_run(
        self, ing: IngesterProcess, master: int, first: int, n: int, per_s: float | None
    ) -> dict[str, Any]:
        lines = [scan_line(i) for i in range(first, first + n)]
        base_records = self.records()
        m0, cpu0, svc0 = ing.metrics(), ing.cpu() or 0.0, self.svc.cpu()
        written: dict[str, float] = {}

        def write() -> None:
            start = time.perf_counter()
            if per_s is None:
                view = memoryview(b"".join(lines))
                while view:  # blocks while the pty's buffer is full
                    view = view[os.write(master, view[:65536]) :]
            else:
                for i, line in enumerate(lines):
                    delay = start + i / per_s - time.perf_counter()
                    if delay > 0:
                        time.sleep(delay)
                    view = memoryview(line)
                    while view:
                        view = view[os.write(master, view) :]
            written["end"] = time.perf_counter()

        t0 = time.perf_counter()
        writer = threading.Thread(target=write, name="pty-writer", daemon=True)
        writer.start()
        captured_at = accepted_at = None
        peak_depth = 0.0
        last_progress, last_seen = time.perf_counter(), -1
        m = m0
        while captured_at is None or accepted_at is None:
            time.sleep(0.2)
            now = time.perf_counter()
            m = ing.metrics()
            got = m.get(CAPTURED % "scan", 0) - m0.get(CAPTURED % "scan", 0)
            bad = m.get(BAD, 0) - m0.get(BAD, 0)
            peak_depth = max(peak_depth, m.get(DEPTH, 0))
            done = self.records() - base_records
            if captured_at is None and got + bad >= n:
                captured_at = now
            if accepted_at is None and done >= got and captured_at is not None:
                accepted_at = now
            if got + done != last_seen:
                last_progress, last_seen = now, int(got + done)
            if now - last_progress > 60:
                self.problems.append(
                    f"scanner: no progress for 60 s at {got:.0f} captured, {bad:.0f} bad, "
                    f"{done} accepted of {n} lines"
                )
                break
        writer.join(60)
        cpu1, svc1 = ing.cpu() or 0.0, self.svc.cpu()
        got = int(m.get(CAPTURED % "scan", 0) - m0.get(CAPTURED % "scan", 0))
        bad = int(m.get(BAD, 0) - m0.get(BAD, 0))
        if bad:
            self.problems.append(f"scanner: {bad} of {n} lines counted as bad scans")
        anchored = wait_anchored(
            self.svc.url, accepted_at or time.perf_counter(), self.args.anchor_timeout
        )
        all_anchored_s = (
            None
            if not anchored["anchored"] or accepted_at is None
            else round(accepted_at + anchored["anchored_seconds"] - t0, 2)
        )
        if not anchored["anchored"]:
            self.problems.append(f"scanner: not all anchored after {self.args.anchor_timeout} s")
        end_write = written.get("end")
        wall = (accepted_at or time.perf_counter()) - t0
        return {
            "lines": n,
            "offered_per_s": per_s,
            "write_s": None if end_write is None else round(end_write - t0, 2),
            "lines_written_per_s": rate(n, None if end_write is None else end_write - t0),
            "captured": got,
            "bad_scans": bad,
            "capture_s": None if captured_at is None else round(captured_at - t0, 2),
            "captured_per_s": rate(got, None if captured_at is None else captured_at - t0),
            "accepted_s": None if accepted_at is None else round(accepted_at - t0, 2),
            "accepted_per_s": rate(got, None if accepted_at is None else accepted_at - t0),
            "peak_outbox_depth": int(peak_depth),
            "all_anchored_s": all_anchored_s,
            "anchored_after_last_acceptance_s": anchored.get("anchored_seconds"),
            "ingester_cpu_s": round(cpu1 - cpu0, 2),
            "ingester_cores": round((cpu1 - cpu0) / wall, 2),
            "ingester_cpu_us_per_record": round((cpu1 - cpu0) * 1e6 / got) if got else None,
            "service_cpu_s": {k: round(svc1[k] - svc0[k], 2) for k in svc0},
            "loadavg": loadavg(),
        }

    # -- 2. the PLC ------------------------------------------------------------------------

    def plc(self) -> None:
        args = self.args
        sim = ModbusSim(args.plc_tags)
        sim.start()
        config = self.tmp / "plc.toml"
        config.write_text(
            register_map_toml(sim.port, args.plc_tags, args.plc_poll, "bench-plc", "LOT-PLC-1")
        )
        outbox = self.tmp / "plc.sqlite"
        argv = [
            self.evledger, "ingest", "plc", "--config", str(config), "--key",
            str(self.plc_key_path), "--api", self.svc.url, "--trust", str(self.trust),
            "--outbox", str(outbox), "--metrics-port", "0",
        ]  # fmt: skip
        offered = args.plc_tags / args.plc_poll
        out: dict[str, Any] = {"tags": args.plc_tags, "poll_s": args.plc_poll, "offered": offered}
        self.results["plc"] = out
        base_records = self.records()
        ing = IngesterProcess(argv, self.tmp / "plc.log", self.tmp)
        out["pid"] = ing.pid
        kind = CAPTURED % "process_reading"
        try:
            ing.metrics()
            time.sleep(2.0)  # connected and polling at its pace
            log(f"plc: {args.plc_tags} tags every {args.plc_poll:g} s for {args.plc_seconds:g} s")
            m0, cpu0, svc0, r0 = ing.metrics(), ing.cpu() or 0.0, self.svc.cpu(), self.records()
            t0, mono0 = time.perf_counter(), time.monotonic()
            per_second: list[float] = []
            prev = m0.get(kind, 0)
            while time.perf_counter() - t0 < args.plc_seconds:
                time.sleep(min(1.0, args.plc_seconds - (time.perf_counter() - t0)))
                now = ing.metrics().get(kind, 0)
                per_second.append(now - prev)
                prev = now
            m1, cpu1, svc1, r1 = ing.metrics(), ing.cpu() or 0.0, self.svc.cpu(), self.records()
            wall, mono1 = time.perf_counter() - t0, time.monotonic()
            captured = m1.get(kind, 0) - m0.get(kind, 0)
            errors = {
                k.split('kind="')[1].rstrip('"}'): v - m0.get(k, 0)
                for k, v in m1.items()
                if k.startswith("evledger_ingest_source_errors_total{")
            }
            out.update(
                window_s=round(wall, 2),
                server=sim.window(mono0, mono1, args.plc_poll),
                captured=int(captured),
                captured_per_s=rate(captured, wall),
                captured_lowest_second=min(per_second[:-1] or per_second or [0]),
                accepted_per_s=rate(r1 - r0, wall),
                source_errors=errors,
                outbox_depth_end=int(m1.get(DEPTH, 0)),
                ingester_cpu_s=round(cpu1 - cpu0, 2),
                ingester_cores=round((cpu1 - cpu0) / wall, 3),
                ingester_cpu_us_per_reading=round((cpu1 - cpu0) * 1e6 / captured)
                if captured
                else None,
                service_cpu_s={k: round(svc1[k] - svc0[k], 2) for k in svc0},
                loadavg=loadavg(),
            )
            out["keeps_up"] = bool(
                out["server"]["reads_per_s"] >= 0.97 * offered
                and out["captured_per_s"] >= 0.97 * offered
            )
            out["profile"] = self._profile(ing, "plc")
        finally:
            out["exit_code"] = ing.terminate()
            sim.stop()
        # Every read gives a new value and deadband is 0: each read answered is one reading.
        total = len(sim.reads)
        with Outbox(outbox) as box:
            left = box.stats()
        out["outbox_after_stop"] = {"pending": left.depth, "refused": left.refused}
        t_stop = time.perf_counter()
        reached = wait_status(self.api, base_records + total - left.depth, args.anchor_timeout)
        anchored = wait_anchored(self.svc.url, reached or t_stop, args.anchor_timeout)
        out["all_anchored_after_stop_s"] = (
            round((reached or t_stop) + anchored["anchored_seconds"] - t_stop, 2)
            if anchored["anchored"]
            else None
        )
        out["total_captured"] = total
        out["total_in_ledger"] = self.records() - base_records
        if out["exit_code"] != 0:
            self.problems.append(f"plc ingester exited with {out['exit_code']} on SIGTERM")
        if left.depth or left.refused or reached is None:
            self.problems.append(
                f"plc: {left.depth} pending and {left.refused} refused in the outbox after "
                f"stop; {out['total_in_ledger']} of {total} captured readings in the ledger"
            )

    def _profile(self, ing: IngesterProcess, name: str) -> dict[str, Any]:
        binary = py_spy_binary()
        if binary is None or self.args.profile_seconds <= 0:
            return {"skipped": "py-spy not installed (.venv/bin/pip install py-spy)"}
        path = self.tmp / f"{name}.speedscope.json"
        log(f"{name}: py-spy record of the ingester for {self.args.profile_seconds:g} s")
        spy = PySpy(binary, ing.pid, path, rate=200)
        time.sleep(self.args.profile_seconds)
        code = spy.stop()
        if not path.exists():
            return {"error": f"py-spy exit {code}: {spy.log.read_text()[-300:]}"}
        return summarize(path, top=12)

    # -- 3. the backlog --------------------------------------------------------------------

    def backlog(self) -> None:
        n = self.args.backlog
        out: dict[str, Any] = {"records": n}
        self.results["backlog"] = out
        cfg = ScanConfig()
        run = os.urandom(4).hex()
        key: SigningKey = self.scanner_key
        log(f"backlog: signing and storing {n} scan records offline")
        sign_s = put_s = 0.0
        with Outbox(self.tmp / "backlog.sqlite", max_records=max(1_000_000, n + 1)) as box:
            for i in range(n):
                t = time.perf_counter()
                now = time.time()
                record = scan_record(
                    parse_line(scan_line(i).rstrip(b"\n"), cfg),
                    record_id=f"scan-backlog-{run}-{i}",
                    station="bench-backlog",
                    operation="receive",
                    scanned_at=datetime.fromtimestamp(now, UTC),
                    lot="LOT-BACKLOG-1",
                    consignee=None,
                )
                signed = key.sign(record, "recorded", self.domain, signed_at=int(now))
                t1 = time.perf_counter()
                box.put(signed, lot="LOT-BACKLOG-1")
                sign_s += t1 - t
                put_s += time.perf_counter() - t1
            out.update(
                parse_and_sign_per_s=rate(n, sign_s),
                put_per_s=rate(n, put_s),
                outbox_bytes=box.stats().bytes,
            )
            log(
                f"backlog: stored ({out['parse_and_sign_per_s']}/s signed, "
                f"{out['put_per_s']}/s put)"
            )
            base = self.records()
            svc0, c0 = self.svc.cpu(), os.times()
            accepted = duplicate = refused = attempts = 0
            t0 = time.perf_counter()
            with Client(self.svc.url, retries=1, timeout=120) as client:
                while attempts < 10:
                    attempts += 1
                    res = box.drain(client, batch=1000)
                    accepted, duplicate = accepted + res.accepted, duplicate + res.duplicate
                    refused += res.refused
                    if res.error is None and res.remaining == 0:
                        break
                    if res.error is not None:
                        out.setdefault("drain_errors", []).append(str(res.error)[:300])
                        time.sleep(1.0)
            t1 = time.perf_counter()
            svc1, c1 = self.svc.cpu(), os.times()
            left = box.stats()
        anchored = wait_anchored(self.svc.url, t1, self.args.anchor_timeout)
        drain_s = t1 - t0
        out.update(
            drain_s=round(drain_s, 2),
            drain_per_s=rate(accepted + duplicate, drain_s),
            drain_calls=attempts,
            accepted=accepted,
            duplicate=duplicate,
            refused=refused,
            left_pending=left.depth,
            in_ledger=self.records() - base,
            anchored_after_drain_s=anchored.get("anchored_seconds"),
            all_anchored_s=round(drain_s + anchored["anchored_seconds"], 2)
            if anchored["anchored"]
            else None,
            service_cpu_s={k: round(svc1[k] - svc0[k], 2) for k in svc0},
            client_cpu_s=round((c1.user - c0.user) + (c1.system - c0.system), 2),
            loadavg=loadavg(),
        )
        if accepted != n or left.depth or refused:
            self.problems.append(
                f"backlog: {accepted} of {n} accepted, {duplicate} duplicate, {refused} "
                f"refused, {left.depth} left pending"
            )
        if not anchored["anchored"]:
            self.problems.append(f"backlog: not all anchored after {self.args.anchor_timeout} s")

    def run(self) -> None:
        self.setup()
        for phase in (self.scanner, self.plc, self.backlog):
            try:
                phase()
            except (OSError, RuntimeError, ValueError, KeyError) as exc:
                self.problems.append(f"{phase.__name__}: stopped by {type(exc).__name__}: {exc}")
                self.results.setdefault("tracebacks", []).append(traceback.format_exc())
                log(traceback.format_exc())
        self.results["final_status"] = self.status()
        self.api.close()


# -- the report ---------------------------------------------------------------------------


def _f(v: float | None, unit: str = "", digits: int = 0) -> str:
    return "n/a" if v is None else f"{v:,.{digits}f}{unit}"


def table(r: dict[str, Any]) -> str:
    rows: list[tuple[str, str, str]] = []
    sc = r.get("scanner", {})
    for name in ("burst", "paced"):
        s = sc.get(name)
        if not s:
            continue
        what = (
            "as fast as the pty takes them"
            if s["offered_per_s"] is None
            else f"at {s['offered_per_s']:g}/s"
        )
        rows += [
            (
                f"scanner {what}: lines written",
                _f(s["lines_written_per_s"], " lines/s"),
                f"{s['lines']:,} GS1-128 lines in {_f(s['write_s'], ' s', 2)}",
            ),
            (
                "  records captured (outbox)",
                _f(s["captured_per_s"], " rec/s"),
                f"{s['captured']:,} captured, {s['bad_scans']} bad; all in "
                f"{_f(s['capture_s'], ' s', 2)}; peak outbox depth {s['peak_outbox_depth']}",
            ),
            (
                "  records accepted by the ledger",
                _f(s["accepted_per_s"], " rec/s"),
                f"all in the ledger {_f(s['accepted_s'], ' s', 2)} after the first line",
            ),
            (
                "  all anchored",
                _f(s["all_anchored_s"], " s", 2),
                f"after the first line; {_f(s['anchored_after_last_acceptance_s'], ' s', 2)} "
                "after the last acceptance",
            ),
            (
                "  ingester CPU",
                f"{_f(s['ingester_cpu_us_per_record'], ' us/rec')}",
                f"{s['ingester_cpu_s']} s = {s['ingester_cores']} cores; service CPU s "
                f"{s['service_cpu_s']}; load {s['loadavg']}",
            ),
        ]
    p = r.get("plc")
    if p and "server" in p:
        sv = p["server"]
        iv = sv["tag_interval_ms"]
        rows += [
            (
                f"PLC {p['tags']} tags every {p['poll_s']:g} s: polls answered",
                _f(sv["reads_per_s"], " reads/s", 1),
                f"offered {p['offered']:,.0f}/s; lowest whole second {sv['lowest_second']}; "
                f"keeps up: {'yes' if p['keeps_up'] else 'NO'}",
            ),
            (
                "  readings captured (outbox)",
                _f(p["captured_per_s"], " rec/s", 1),
                f"{p['captured']:,} in {p['window_s']} s; lowest second "
                f"{p['captured_lowest_second']:.0f}; outbox depth at end {p['outbox_depth_end']}",
            ),
            (
                "  interval between reads of a tag",
                f"p50 {_f(iv['p50'], '', 1)} / p99 {_f(iv['p99'], '', 1)} / max "
                f"{_f(iv['max'], ' ms', 1)}",
                f"due every {p['poll_s'] * 1000:g} ms; {sv['late_reads']} reads >= 2 intervals "
                "apart (late)",
            ),
            (
                "  readings accepted by the ledger",
                _f(p["accepted_per_s"], " rec/s", 1),
                f"source errors {p['source_errors'] or 'none'}",
            ),
            (
                "  ingester CPU",
                f"{p['ingester_cores'] * 100:.0f}% of a core",
                f"{_f(p['ingester_cpu_us_per_reading'], ' us/reading')}; service CPU s "
                f"{p['service_cpu_s']}; load {p['loadavg']}",
            ),
            (
                "  all anchored after SIGTERM",
                _f(p.get("all_anchored_after_stop_s"), " s", 2),
                f"{p.get('total_in_ledger')} readings in the ledger of {p.get('total_captured')} "
                "reads answered, the whole run",
            ),
        ]
    b = r.get("backlog")
    if b and "drain_s" in b:
        rows += [
            (
                f"backlog: fill the outbox ({b['records']:,} scans)",
                _f(b["put_per_s"], " put/s"),
                f"parse + sign {_f(b['parse_and_sign_per_s'], '/s')} (1 core); "
                f"{b['outbox_bytes'] / 1e6:,.1f} MB",
            ),
            (
                "backlog: Outbox.drain until empty",
                _f(b["drain_s"], " s", 2),
                f"{_f(b['drain_per_s'], ' rec/s')}; {b['accepted']:,} accepted, "
                f"{b['refused']} refused; service CPU s {b['service_cpu_s']}, client "
                f"{b['client_cpu_s']} s",
            ),
            (
                "backlog: all anchored",
                _f(b["all_anchored_s"], " s", 2),
                f"from the start of the drain; {_f(b['anchored_after_drain_s'], ' s', 2)} after "
                f"it ended; load {b['loadavg']}",
            ),
        ]
    head = ("figure", "measured", "notes")
    widths = [max(len(row[i]) for row in [*rows, head]) for i in range(2)]

    def line(cells: tuple[str, str, str]) -> str:
        return f"{cells[0].ljust(widths[0])}  {cells[1].ljust(widths[1])}  {cells[2]}".rstrip()

    return "\n".join(
        [line(head), line(("-" * widths[0], "-" * widths[1], "-----")), *map(line, rows)]
    )


def report(r: dict[str, Any]) -> str:
    m = r["machine"]
    lines = [
        "",
        f"evledger device ingest benchmark, {r['started_at']}",
        f"command: {r['command']}",
        f"machine: {m['cores']} cores ({m['cpu']}), Python {m['python']}, commit {m['git_commit']}",
        f"load average (1/5/15 min) at start {r['loadavg_start']}, at end {r.get('loadavg_end')}; "
        "ingesters, Modbus server, client and service share the cores with other jobs: "
        "figures are noisy",
        "",
        table(r),
    ]
    prof = (r.get("plc") or {}).get("profile") or {}
    if "top_self" in prof:
        lines += [
            "",
            f"py-spy, PLC ingester ({prof['seconds_sampled']} s sampled, threads "
            f"{prof['threads']}); top self:",
            *(f"  {e['share'] * 100:5.1f}%  {e['function']}" for e in prof["top_self"][:10]),
            "  inclusive, the project's functions:",
            *(
                f"  {e['share'] * 100:5.1f}%  {e['function']}"
                for e in prof["top_inclusive_project"][:10]
            ),
        ]
    elif prof:
        lines += ["", f"py-spy: {prof.get('skipped') or prof.get('error')}"]
    stop = r.get("stop", {})
    lines += [
        "",
        f"stop: evledger up exit code {stop.get('exit_code')}; left running: "
        f"{stop.get('left_running') or 'nothing'}; ingesters left: "
        f"{r.get('ingesters_left') or 'none'}",
    ]
    lines += [f"PROBLEM: {p}" for p in r.get("problems", [])]
    if r.get("kept"):
        lines.append(f"kept: {r['kept']}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> tuple[dict[str, Any], int]:
    tmp = Path(tempfile.mkdtemp(prefix="evledger-bench-devices-", dir="/tmp"))
    svc = Service(args.evledger, tmp / "home")
    bench = DeviceBench(args, svc, tmp)
    r = bench.results
    r.update(
        command=" ".join([".venv/bin/python", "bench/ingest_devices.py", *sys.argv[1:]]),
        started_at=datetime.now(UTC).isoformat(timespec="seconds"),
        machine=machine(),
        loadavg_start=loadavg(),
        settings={k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
    )
    log(f"starting {args.evledger} up, EVLEDGER_HOME={svc.home}")
    code = 1
    pids: list[int] = []
    try:
        r["startup_s"] = round(svc.start(), 2)
        bench.run()
    except ServiceError as exc:
        if "startup_s" not in r:
            code = 2
            r["error"] = str(exc)
        bench.problems.append(str(exc))
    finally:
        log("stopping the service (SIGINT)")
        r["stop"] = svc.stop()
        r["loadavg_end"] = loadavg()
    for name in ("scanner", "plc"):
        pid = (r.get(name) or {}).get("pid")
        if pid:
            pids.append(pid)
    r["ingesters_left"] = [p for p in pids if pid_alive(p)]
    stop = r["stop"]
    if stop.get("left_running") or stop.get("still_running_after_cleanup"):
        bench.problems.append(f"service processes left running: {stop.get('left_running')}")
    r["problems"] = bench.problems
    if args.keep or bench.problems:
        r["kept"] = str(tmp)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return r, (code if bench.problems else 0)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    results, code = run(args)
    print(report(results) if code != 2 else f"could not run: {results.get('error')}", flush=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2, default=str) + "\n")
        log(f"figures written to {args.json}")
    return code


if __name__ == "__main__":
    sys.exit(main())
