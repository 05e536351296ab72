"""Ingest benchmark: a real `evledger up`, driven through its HTTP API only, in one run.

    .venv/bin/python bench/ingest.py [--records 50000 --lots 200] [--json FILE] [--profile DIR]
    .venv/bin/python bench/ingest.py --quick          # about a minute: the smoke test's run

Make target (for the lead to wire):

    bench-ingest: setup
        $(BIN)/python bench/ingest.py --json .evledger/bench-ingest.json   # (a tab, in make)

What it does, in this order, on one machine (client and service share its cores: figures are
noisy when others work on it; the load average is printed and saved with the figures):

1. starts ``.venv/bin/evledger up`` as a user does, with ``EVLEDGER_HOME`` a private directory
   under /tmp and free ports for the API and the embedded Anvil; waits until ``/healthz``
   answers from that very process (its pid is in ``runtime.json``);
2. registers QA inspectors (``qa_inspector``), a QA approver (``qa_approver``) and, per line,
   a scanner and a PLC gateway (``device``) with admin-signed ``signer/1`` grants, then logs
   the master data the inspections cite (instruments and their calibrations, a specification
   per product and stage through change control; ``bench/_records.py``);
3. measures the machine's per-core limits in the same run (SHA-256, secp256k1 recovery with
   coincurve and through eth-account, RFC 8785, PostgreSQL COPY into a temporary table);
4. builds ``--records`` realistic records over ``--lots`` lots (inspections, scans, process
   readings; see ``bench/_records.py``) and signs them client-side (EIP-712, coincurve), timed
   on its own;
5. ``POST /v1/records/batch`` with 1..4 connections (each connection owns some lines), each
   level followed by the time from its last acceptance until everything is anchored;
6. ``POST /v1/records`` from N closed-loop clients; then at a fixed offered rate (open loop,
   latency from each request's scheduled time), with the acceptance -> anchored receipt latency
   of a sample, and the time until everything is anchored;
7. stops the service with SIGINT, and reports (and stops) any of its processes left running.

``--profile DIR`` adds one more batch round (at the fastest connection count) and one more
closed-loop round, each with py-spy sampling the service (``.venv/bin/pip install py-spy``)
twice over: every thread not idle, and only the thread holding the GIL. The speedscope files
and their summaries land in DIR; the report shows the top functions. The measured rounds run
without py-spy.
Exit code: 0 when every submission was accepted and nothing was left running, 1 otherwise,
2 when the service could not be started.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from evledger_verify.records import Domain, checksum_address  # noqa: E402

from bench._limits import machine_limits  # noqa: E402
from bench._load import (  # noqa: E402
    Http,
    LoadResult,
    ReceiptSampler,
    closed_loop,
    open_loop,
    percentile,
    post_batches,
    wait_anchored,
)
from bench._profile import PySpy, py_spy_binary, summarize  # noqa: E402
from bench._records import Item, Signers, build_pool, master_data, signed_body  # noqa: E402
from bench._report import report  # noqa: E402
from bench._service import Service, ServiceError  # noqa: E402
from ingest.client import SigningKey, load_key  # noqa: E402

QUICK = {
    "records": 3000,
    "lots": 20,
    "lines": 4,
    "batch_size": 250,
    "batch_clients": "1,2",
    "single_clients": "8",
    "single_records": 400,
    "single_duration": 2.0,
    "rate_duration": 2.0,
    "sample_every": 20,
    "limit_seconds": 0.2,
    "copy_rows": 20000,
    "drain_timeout": 60.0,
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        description=(__doc__ or "").split("\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    ap.add_argument("--records", type=int, default=50000, help="records built and sent in all")
    ap.add_argument("--lots", type=int, default=200)
    ap.add_argument("--lines", type=int, default=12, help="production lines running at once")
    ap.add_argument("--inspectors", type=int, default=4)
    ap.add_argument("--batch-size", type=int, default=1000, help="items per batch request")
    ap.add_argument("--batch-clients", default="1,2,3,4", help="connection counts to try")
    ap.add_argument("--single-clients", default="8,32", help="closed-loop client counts")
    ap.add_argument("--single-records", type=int, default=4000, help="cap per closed-loop run")
    ap.add_argument("--single-duration", type=float, default=10.0, help="cap per closed loop, s")
    ap.add_argument("--rate", type=float, default=400.0, help="open-loop offered rate, req/s")
    ap.add_argument("--rate-duration", type=float, default=15.0, help="open-loop length, s")
    ap.add_argument("--rate-workers", type=int, default=64, help="open-loop sender threads")
    ap.add_argument(
        "--sample-every", type=int, default=100, help="receipt latency: every Nth open-loop record"
    )
    ap.add_argument("--limit-seconds", type=float, default=1.0, help="per machine-limit figure")
    ap.add_argument("--copy-rows", type=int, default=200000)
    ap.add_argument("--drain-timeout", type=float, default=180.0)
    ap.add_argument(
        "--api-workers", type=int, help="EVLEDGER_API_WORKERS for the service (its default: 1)"
    )
    ap.add_argument("--seed", type=int, default=9162)
    ap.add_argument("--json", type=Path, help="write every figure to this file")
    ap.add_argument("--profile", type=Path, help="py-spy the service in extra rounds, into DIR")
    ap.add_argument(
        "--keep",
        action="store_true",
        help="keep the private home under /tmp (kept anyway on a problem)",
    )
    ap.add_argument(
        "--evledger",
        type=Path,
        default=Path(sys.executable).parent / "evledger",
        help="the evledger command to start",
    )
    ap.add_argument("--quick", action="store_true", help="small and short: a smoke test")
    args = ap.parse_args(argv)
    if args.quick:
        for k, v in QUICK.items():
            if getattr(args, k) == ap.get_default(k):
                setattr(args, k, v)
    args.batch_clients = [int(x) for x in str(args.batch_clients).split(",") if x]
    args.single_clients = [int(x) for x in str(args.single_clients).split(",") if x]
    if not 1 <= args.batch_size <= 1000:
        ap.error("--batch-size: expected 1..1000 (the service's default item limit)")
    if args.lots < 1 or args.lines < 1 or args.records < args.lots:
        ap.error("--records >= --lots >= 1 and --lines >= 1 expected")
    return args


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def machine() -> dict[str, Any]:
    model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "ledger", "api", "verifier"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        ).stdout.split("\n")
    except OSError:
        commit, dirty = "?", []
    return {
        "cores": os.cpu_count(),
        "cpu": model,
        "python": platform.python_version(),
        "git_commit": commit,
        "uncommitted_service_files": [d[3:] for d in dirty if d.strip()],
    }


def register_signers(api: Http, admin: SigningKey, domain: Domain, signers: Signers) -> int:
    """Admin-signed ``signer/1`` grants for every person and device; how many."""
    n = 0
    for key, roles, name in signers.grants():
        record = {
            "record_id": f"signer-{key.address.lower()}-{int(time.time() * 1000)}",
            "type": "signer",
            "schema": "signer/1",
            "action": "grant",
            "address": checksum_address(key.address),
            "name": name,
            "roles": list(roles),
        }
        body = json.dumps(signed_body(admin, domain, record, "approved")).encode()
        status, answer = api.json("POST", "/v1/records", body)
        if status != 201:
            raise ServiceError(f"registering {name}: expected 201, got {status} {answer}")
        n += 1
    return n


def log_master_data(api: Http, domain: Domain, signers: Signers, lines: int) -> int:
    """The master data the inspections cite, one ``POST /v1/records`` each; how many."""
    n = 0
    for key, record, meaning in master_data(signers, lines):
        body = json.dumps(signed_body(key, domain, record, meaning)).encode()
        status, answer = api.json("POST", "/v1/records", body)
        if status != 201:
            raise ServiceError(
                f"master data {record['record_id']}: expected 201, got {status} {answer}"
            )
        n += 1
    return n


def split_pool(args: argparse.Namespace, pool: list[Item]) -> dict[str, Any]:
    """Which records each phase sends: closed loops and the open loop take what they need
    (bounded), the batch rounds share the rest equally. ``--profile`` adds a round of each."""
    n_open = int(args.rate * args.rate_duration)
    closed_rounds = len(args.single_clients) + (1 if args.profile else 0)
    n_closed = args.single_records * closed_rounds
    rounds = len(args.batch_clients) + (1 if args.profile else 0)
    n_batch = len(pool) - n_open - n_closed
    if n_batch < rounds * max(1, args.batch_size // 4):
        raise SystemExit(
            f"--records {len(pool)}: too few for {n_closed} closed-loop and {n_open} open-loop "
            f"records plus {rounds} batch rounds; raise --records or lower --single-records, "
            "--rate-duration"
        )
    per = n_batch // rounds
    out: dict[str, Any] = {"batch": [], "closed": [], "open": []}
    at = 0
    for _ in range(rounds):
        out["batch"].append(pool[at : at + per])
        at += per
    for _ in range(closed_rounds):
        out["closed"].append(pool[at : at + args.single_records])
        at += args.single_records
    out["open"] = pool[at : at + n_open]
    return out


def line_streams(items: list[Item], connections: int) -> list[list[bytes]]:
    """One stream per connection; a connection owns whole lines (so their lots), in order."""
    streams: list[list[bytes]] = [[] for _ in range(connections)]
    for it in items:
        streams[(it.line - 1) % connections].append(it.body)
    return streams


class Bench:
    """One run: the service, the records, and every figure gathered in ``results``."""

    def __init__(self, args: argparse.Namespace, svc: Service) -> None:
        self.args, self.svc = args, svc
        self.problems: list[str] = []
        self.results: dict[str, Any] = {}

    def measured(self, fn: Callable[[], LoadResult]) -> tuple[LoadResult, dict[str, Any]]:
        """Run a load phase; its summary with the CPU each part of the service and this
        client used meanwhile (from /proc), and the time until everything was anchored."""
        s0, c0, t0 = self.svc.cpu(), os.times(), time.perf_counter()
        res = fn()
        s1, c1, wall = self.svc.cpu(), os.times(), time.perf_counter() - t0
        cpu = {k: round(s1[k] - s0[k], 3) for k in s0}
        cpu["client"] = round((c1.user - c0.user) + (c1.system - c0.system), 3)
        usage: dict[str, Any] = {"wall_s": round(wall, 3), "cpu_s": cpu, "loadavg": loadavg()}
        if res.records_accepted:
            usage["cpu_us_per_record"] = {
                k: round(v * 1e6 / res.records_accepted) for k, v in cpu.items()
            }
        drain = wait_anchored(self.svc.url, res.last_ok, self.args.drain_timeout)
        if not drain["anchored"]:
            self.problems.append(f"{res.name}: not all anchored after {self.args.drain_timeout} s")
        return res, res.summary() | {"usage": usage, "drain": drain}

    def check(self, res: LoadResult, expected: int) -> None:
        if res.records_accepted != expected:
            self.problems.append(
                f"{res.name}: {res.records_accepted} of {expected} records accepted; "
                f"answers {dict(res.statuses)}; first errors {res.errors[:3]}"
            )

    # -- set-up -----------------------------------------------------------------------------------

    def prepare(self, api: Http) -> dict[str, Any]:
        """Signers, the machine's limits, and the signed records split into phases."""
        args, r = self.args, self.results
        _, trust = api.json("GET", "/v1/trust")
        domain = Domain(int(trust["chain_id"]), checksum_address(trust["contract"]))
        admin = load_key(self.svc.home / "keys" / "admin.key")
        signers = Signers.make(args.lines, args.inspectors, random.Random(args.seed))
        r["signers_registered"] = register_signers(api, admin, domain, signers)
        log(f"registered {r['signers_registered']} signers")
        r["master_data_records"] = log_master_data(api, domain, signers, args.lines)
        log(f"logged {r['master_data_records']} master data records")
        time.sleep(1.0)  # records are signed (and inspected) in a later second

        log("machine limits (one core each)")
        sample = build_pool(12, 1, 1, signers, domain, args.seed)  # has a final inspection
        record = json.loads(next(i.body for i in sample if i.kind == "final"))["record"]
        r["limits"] = machine_limits(
            domain, record, self.svc.runtime()["database_url"], args.limit_seconds, args.copy_rows
        )
        log(f"limits: {r['limits']}")

        log(f"building and signing {args.records} records over {args.lots} lots")
        t0 = time.perf_counter()
        pool = build_pool(args.records, args.lots, args.lines, signers, domain, args.seed)
        sign_s = time.perf_counter() - t0
        r["pool"] = {
            "records": len(pool),
            "kinds": dict(Counter(it.kind for it in pool)),
            "mean_body_bytes": round(sum(len(i.body) for i in pool) / len(pool)),
            "build_and_sign_s": round(sign_s, 2),
            "build_and_sign_per_s": round(len(pool) / sign_s),
        }
        return split_pool(args, pool)

    # -- phases -----------------------------------------------------------------------------------

    def batches(self, rounds: list[list[Item]]) -> None:
        self.results["batch"] = []
        for c, items in zip(self.args.batch_clients, rounds, strict=False):
            log(f"batch: {len(items)} records over {c} connection(s)")
            res, entry = self.measured(
                lambda c=c, items=items: post_batches(
                    self.svc.url,
                    line_streams(items, c),
                    self.args.batch_size,
                    f"batch, {c} connection(s)",
                )
            )
            self.check(res, len(items))
            self.results["batch"].append(entry)
            log(
                f"  {entry['records_per_s']:,.0f} records/s; all anchored "
                f"{entry['drain'].get('anchored_seconds')} s after the last acceptance"
            )
        best = max(self.results["batch"], key=lambda e: e["records_per_s"])
        self.results["batch_best"] = {
            "connections": best["connections"],
            "records_per_s": best["records_per_s"],
        }

    def closed_loops(self, rounds: list[list[Item]]) -> None:
        self.results["single"] = []
        for n, items in zip(self.args.single_clients, rounds, strict=False):
            log(f"single POST: {n} closed-loop clients, up to {len(items)} records")
            res, entry = self.measured(
                lambda n=n, items=items: closed_loop(
                    self.svc.url, [i.body for i in items], n, self.args.single_duration
                )
            )
            self.check(res, res.sent)
            self.results["single"].append(entry)
            log(f"  {entry['requests_per_s']:,.0f} requests/s, latency {entry['latency_ms']}")

    def fixed_rate(self, items: list[Item]) -> None:
        args = self.args
        log(
            f"open loop: {len(items)} POSTs at {args.rate:g}/s, receipts of every "
            f"{args.sample_every}th"
        )
        sampler = ReceiptSampler(self.svc.url)

        def accepted(i: int, wall: float) -> None:
            if i % args.sample_every == 0:
                sampler.add(items[i].record_id, wall)

        res, entry = self.measured(
            lambda: open_loop(
                self.svc.url,
                [i.body for i in items],
                args.rate,
                args.rate_workers,
                on_accept=accepted,
            )
        )
        sampler.finish(timeout=args.drain_timeout)
        lat = sampler.latencies
        entry["receipts"] = {
            "sampled": len(lat) + len(sampler.unanchored),
            "anchored": len(lat),
            "not_anchored": sampler.unanchored[:10],
            "polls": sampler.polls,
            "poll_interval_s": sampler.every,
            "p50_s": _round(percentile(lat, 50)),
            "p95_s": _round(percentile(lat, 95)),
            "max_s": _round(max(lat) if lat else None),
            "errors": sampler.errors,
        }
        self.check(res, len(items))
        if sampler.unanchored:
            self.problems.append(f"{len(sampler.unanchored)} sampled records never anchored")
        self.results["open_loop"] = entry
        log(f"  latency {entry['latency_ms']}, receipts p50 {entry['receipts']['p50_s']} s")

    def profiled(
        self, what: str, name: str, send: Callable[[], LoadResult], expected: int | None
    ) -> dict[str, Any]:
        """``send`` with py-spy sampling the service twice over (every thread not idle, and
        the thread holding the GIL); the summaries of where the time went."""
        binary = py_spy_binary()
        if binary is None:
            log("profile: skipped: py-spy is not installed (.venv/bin/pip install py-spy)")
            return {"skipped": "py-spy not installed: .venv/bin/pip install py-spy"}
        self.args.profile.mkdir(parents=True, exist_ok=True)
        out = self.args.profile / f"{name}.speedscope.json"
        out_gil = self.args.profile / f"{name}-gil.speedscope.json"
        log(f"profile: {what}, under py-spy -> {out}, {out_gil}")
        pid = self.svc.pid
        spies = [PySpy(binary, pid, out), PySpy(binary, pid, out_gil, gil=True)]
        time.sleep(1.0)  # let py-spy attach
        res = send()
        codes = [spy.stop() for spy in spies]
        self.check(res, res.sent if expected is None else expected)
        drain = wait_anchored(self.svc.url, res.last_ok, self.args.drain_timeout)
        prof: dict[str, Any] = {
            "what": what,
            "under_py_spy": res.summary(),
            "py_spy_exit": codes,
            "drain": drain,
        }
        for key, path, spy in (("summary", out, spies[0]), ("summary_gil", out_gil, spies[1])):
            if path.exists():
                prof[key] = summarize(path)
                summary = path.with_name(path.name.replace(".speedscope.json", "-summary.json"))
                summary.write_text(json.dumps(prof[key], indent=2))
            else:
                prof.setdefault("error", []).append(
                    f"py-spy wrote nothing; see {spy.log}: {spy.log.read_text()[-300:]}"
                )
        return prof

    def run(self) -> None:
        args, url = self.args, self.svc.url
        api = Http(url)
        parts = self.prepare(api)
        self.batches(parts["batch"])
        if args.profile:
            c, batch = int(self.results["batch_best"]["connections"]), parts["batch"][-1]
            self.results["profile"] = {
                "batch": self.profiled(
                    f"batch, {len(batch)} records over {c} connection(s)",
                    "batch",
                    lambda: post_batches(
                        url, line_streams(batch, c), args.batch_size, "batch under py-spy"
                    ),
                    len(batch),
                )
            }
        self.closed_loops(parts["closed"])
        if args.profile:
            n, single = args.single_clients[0], parts["closed"][-1]
            self.results["profile"]["single"] = self.profiled(
                f"POST /v1/records, {n} closed-loop clients, up to {len(single)} records",
                "single",
                lambda: closed_loop(url, [i.body for i in single], n, args.single_duration),
                None,
            )
        self.fixed_rate(parts["open"])
        _, self.results["final_status"] = api.json("GET", "/v1/status")
        api.close()


def _round(v: float | None, digits: int = 3) -> float | None:
    return None if v is None else round(v, digits)


def run(args: argparse.Namespace) -> tuple[dict[str, Any], int]:
    """Start the service, run every phase, stop it; (figures, exit code)."""
    tmp = Path(tempfile.mkdtemp(prefix="evledger-bench-ingest-", dir="/tmp"))
    extra = {} if args.api_workers is None else {"EVLEDGER_API_WORKERS": str(args.api_workers)}
    svc = Service(args.evledger, tmp / "home", extra_env=extra)
    bench = Bench(args, svc)
    r = bench.results
    r.update(
        command=" ".join([".venv/bin/python", "bench/ingest.py", *sys.argv[1:]]),
        started_at=datetime.now(UTC).isoformat(timespec="seconds"),
        machine=machine(),
        loadavg_start=loadavg(),
        settings={k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
    )
    log(f"starting {args.evledger} up, EVLEDGER_HOME={svc.home}, port {svc.port}")
    code = 1
    try:
        r["startup_s"] = round(svc.start(), 2)
        log(f"healthy after {r['startup_s']} s (pid {svc.pid})")
        bench.run()
    except ServiceError as exc:
        if "startup_s" not in r:
            code = 2
            r["error"] = str(exc)
        bench.problems.append(str(exc))
        log(str(exc))
    except (OSError, http.client.HTTPException, KeyError, ValueError) as exc:
        # Report what was measured so far, and why the run ended.
        returncode = svc.process.poll() if svc.process is not None else None
        what = "" if returncode is None else f" (evledger up had exited with {returncode})"
        bench.problems.append(f"run stopped by {type(exc).__name__}: {exc}{what}")
        r["traceback"] = traceback.format_exc()
        log(r["traceback"])
    finally:
        log("stopping the service (SIGINT)")
        r["stop"] = svc.stop()
        r["service_log_problems"] = svc.log_problems()[:20]
        r["loadavg_end"] = loadavg()
    stop = r["stop"]
    if stop.get("left_running"):
        bench.problems.append(
            f"processes left running after SIGINT (stopped by the bench): {stop['left_running']}"
        )
    if stop.get("still_running_after_cleanup"):
        bench.problems.append(f"still running: {stop['still_running_after_cleanup']}")
    if stop.get("died_before_stop"):
        bench.problems.append(
            f"evledger up died during the run (exit code {stop.get('exit_code')}); "
            f"the end of its log:\n{stop.get('log_tail')}"
        )
    elif stop.get("exit_code") not in (0, None):
        bench.problems.append(f"evledger up exited with {stop['exit_code']} on SIGINT")
    r["problems"] = bench.problems
    if args.keep or bench.problems:
        r["kept"] = str(tmp)  # the service's log (up.log) and data, to look into
        log(f"kept {tmp} (service log: {svc.log_path})")
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return r, (code if bench.problems else 0)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    results, code = run(args)
    if code == 2:
        print(f"could not run: {results.get('error')}", flush=True)
    else:
        print(report(results), flush=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2, default=str) + "\n")
        log(f"figures written to {args.json}")
    return code


if __name__ == "__main__":
    sys.exit(main())
