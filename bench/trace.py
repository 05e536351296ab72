"""Trace and recall benchmark: a real `evledger up` holding a plant's lot genealogy (1,000,000
scans over about 100,000 lots), loaded, traced and recalled through its HTTP API only.

    .venv/bin/python bench/trace.py [--scans 1000000 --lots 100000] [--json FILE] [--profile DIR]
    .venv/bin/python bench/trace.py --quick        # about a minute: the smoke test's run

What it does, in this order, on one machine (client and service share its cores):

1. generates the plant, seeded (``bench/_trace_plant.py``: receive, produce, consume, pack and
   ship scans over 20 days, and the graph they make), and reports the fan-out it generated;
2. starts ``evledger up`` as a user does (private ``EVLEDGER_HOME`` under /tmp, free ports);
   registers a scanner key (``device``) per station, dock and goods in, and a recall
   coordinator (``auditor``) whose read token every trace and recall request carries;
3. measures the machine's limits in the same run (``bench/_limits.py``; and PostgreSQL: a round
   trip, and the index probes one trace level makes, on the loaded ``genealogy_links``);
4. signs every scan client-side (EIP-712 over coincurve, timed on its own), then sends them day
   by day with ``POST /v1/records/batch`` (``--batch-size`` items a request, ``--connections``
   connections; a station's or dock's scans all on one connection, in order; a day's receive
   scans before its production), with progress on stderr; then waits until everything is
   sealed and the projection has read it (``GET /v1/checkpoints/latest`` against the
   ``tree_size`` a trace answers with), and reports how fast the projection caught up;
5. one client, one request at a time, warm (``--warmup`` requests of each kind first, on other
   lots): backward traces of random product lots, forward traces of random material lots,
   recall scopes (those touching about ``--fanout`` lots, the largest multi-level ones, random
   ones) and supplier recalls: median, p99 and max, with each answer's size, checked against
   the generated graph;
6. where the time of the slowest of the ~``--fanout``-lot recalls goes: the service's own
   ``recall_scope`` run in this process on its database with every SQL statement timed, and
   ``EXPLAIN ANALYZE`` of the slowest statements; with ``--profile DIR``, py-spy on the service
   while it answers that recall ``--profile-repeats`` times over HTTP;
7. stops the service with SIGINT, and reports (and stops) any of its processes left running.

Exit code: 0 when every scan was accepted, every answer had the size the graph says and nothing
was left running; 1 otherwise; 2 when the service could not be started.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import http.client
import json
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from evledger_verify.records import Domain, checksum_address  # noqa: E402

from bench._limits import machine_limits  # noqa: E402
from bench._load import percentile, post_batches  # noqa: E402
from bench._profile import PySpy, py_spy_binary, summarize  # noqa: E402
from bench._records import new_key, signed_body  # noqa: E402
from bench._run import run_with_service  # noqa: E402
from bench._service import Service, ServiceError, _stat  # noqa: E402
from bench._trace_plant import Plant, Shape  # noqa: E402
from bench.ingest import loadavg, log, machine  # noqa: E402
from ingest.client import SigningKey, load_key  # noqa: E402

#: The issue's target: a recall touching 1,000 lots within a second.
TARGET_RECALL_S = 1.0

QUICK = {
    "scans": 20_000,
    "lots": 2_000,
    "suppliers": 40,
    "stations": 20,
    "consignees": 200,
    "fanout": 100,
    "days": 4,
    "backward": 50,
    "forward": 50,
    "recalls": 20,
    "supplier_recalls": 3,
    "warmup": 3,
    "profile_repeats": 5,
    "limit_seconds": 0.2,
    "copy_rows": 20_000,
    "settle_timeout": 120.0,
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        description=(__doc__ or "").split("\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    ap.add_argument("--scans", type=int, default=1_000_000, help="scan events in all")
    ap.add_argument("--lots", type=int, default=100_000, help="lots, about (20%% material)")
    ap.add_argument("--suppliers", type=int, default=200)
    ap.add_argument("--stations", type=int, default=50)
    ap.add_argument("--consignees", type=int, default=2000)
    ap.add_argument("--fanout", type=int, default=1000, help="product lots a bulk lot serves")
    ap.add_argument("--days", type=int, default=20, help="days of production, sent one by one")
    ap.add_argument("--docks", type=int, default=4)
    ap.add_argument("--batch-size", type=int, default=1000, help="items per batch request")
    ap.add_argument("--connections", type=int, default=2, help="batch connections")
    ap.add_argument("--backward", type=int, default=200, help="backward traces measured")
    ap.add_argument("--forward", type=int, default=200, help="forward traces measured")
    ap.add_argument("--recalls", type=int, default=50, help="lot recall scopes measured")
    ap.add_argument("--supplier-recalls", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=10, help="unmeasured requests of each kind")
    ap.add_argument("--profile-repeats", type=int, default=20)
    ap.add_argument("--limit-seconds", type=float, default=1.0, help="per machine-limit figure")
    ap.add_argument("--copy-rows", type=int, default=200_000)
    ap.add_argument("--settle-timeout", type=float, default=1800.0, help="seal + projection, s")
    ap.add_argument("--seed", type=int, default=9162)
    ap.add_argument("--json", type=Path, help="write every figure to this file")
    ap.add_argument("--profile", type=Path, help="py-spy the service's slowest recall, into DIR")
    ap.add_argument("--keep", action="store_true", help="keep the private home under /tmp")
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
    if not 1 <= args.batch_size <= 1000:
        ap.error("--batch-size: expected 1..1000 (the service's default item limit)")
    if args.connections < 1 or args.days < 1:
        ap.error("--connections and --days: expected at least 1")
    return args


def summary(values_s: list[float]) -> dict[str, Any]:
    ms = [v * 1000 for v in values_s]
    if not ms:
        return {"n": 0}
    return {
        "n": len(ms),
        "median_ms": round(statistics.median(ms), 2),
        "p99_ms": round(percentile(ms, 99) or 0.0, 2),
        "max_ms": round(max(ms), 2),
        "min_ms": round(min(ms), 2),
    }


def sizes(values: list[int]) -> dict[str, int]:
    return {"median": int(statistics.median(values)), "max": max(values)} if values else {}


# -- HTTP with a read token ---------------------------------------------------------------------


class Reader:
    """GET requests with a read token over one keep-alive connection, one at a time; the
    latency runs from sending the request to the last byte of the answer."""

    def __init__(self, base_url: str, token: Callable[[], str], timeout: float = 300.0) -> None:
        u = urlsplit(base_url)
        self.host, self.port, self.timeout = u.hostname or "127.0.0.1", u.port or 80, timeout
        self.make_token, self.token, self.token_at = token, token(), time.monotonic()
        self.conn: http.client.HTTPConnection | None = None

    def get(self, path: str) -> tuple[int, bytes, float]:
        if time.monotonic() - self.token_at > 1800:  # tokens live an hour
            self.token, self.token_at = self.make_token(), time.monotonic()
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        for attempt in (0, 1):
            fresh = self.conn is None
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            try:
                t0 = time.perf_counter()
                self.conn.request("GET", path, headers=headers)
                resp = self.conn.getresponse()
                data = resp.read()
                seconds = time.perf_counter() - t0
                if resp.will_close:
                    self.close()
                return resp.status, data, seconds
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.close()
                if fresh or attempt:
                    raise
        raise AssertionError("unreachable")

    def json(self, path: str) -> tuple[int, Any]:
        status, data, _ = self.get(path)
        return status, json.loads(data)

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def lot_path(lot: str, what: str) -> str:
    return f"/v1/lots/{quote(lot, safe='')}/{what}"


# -- PostgreSQL, directly (limits and the in-process profile) ------------------------------------


def pg_connect(database_url: str) -> Any:
    """A psycopg2 connection to the service's database (the embedded server trusts local
    connections; runtime.json masks the password)."""
    import psycopg2

    u = urlsplit(database_url)
    host = parse_qs(u.query).get("host", [u.hostname or ""])[0] or None
    password = None if u.password in (None, "", "***") else unquote(u.password)
    dbname = (u.path or "/postgres").lstrip("/") or "postgres"
    try:
        return psycopg2.connect(
            dbname=dbname, user="postgres", password=password, host=host, port=u.port
        )
    except psycopg2.OperationalError:
        return psycopg2.connect(
            dbname=dbname,
            user=unquote(u.username or "postgres"),
            password=password,
            host=host,
            port=u.port,
        )


def pg_limits(database_url: str, keys: list[str], seconds: float) -> dict[str, Any]:
    """A round trip (``SELECT 1``), and the index probes of one trace level on the loaded
    ``genealogy_links``: ``other = ANY(keys)`` (forward) and ``lot = ANY(keys)`` (a lot's
    facts), each the median of 5, with ``len(keys)`` keys."""
    conn = pg_connect(database_url)
    out: dict[str, Any] = {"keys": len(keys)}
    try:
        with conn.cursor() as cur:
            n, t0 = 0, time.perf_counter()
            while time.perf_counter() - t0 < seconds:
                cur.execute("SELECT 1")
                cur.fetchall()
                n += 1
            out["round_trips_per_s"] = round(n / (time.perf_counter() - t0))
            for name, sql in (
                (
                    "forward_level",
                    "SELECT lot, other, record_id FROM genealogy_links "
                    "WHERE kind = 'input' AND other = ANY(%s) ORDER BY leaf_index, n",
                ),
                (
                    "lot_facts",
                    "SELECT lot, kind, other, record_id FROM genealogy_links "
                    "WHERE kind <> 'input' AND lot = ANY(%s) ORDER BY leaf_index, n",
                ),
            ):
                times, rows = [], 0
                for _ in range(5):
                    t0 = time.perf_counter()
                    cur.execute(sql, (keys,))
                    rows = len(cur.fetchall())
                    times.append(time.perf_counter() - t0)
                ms = statistics.median(times) * 1000
                out[name] = {
                    "rows": rows,
                    "ms": round(ms, 2),
                    "keys_per_s": round(len(keys) / (ms / 1000)),
                }
    finally:
        conn.close()
    return out


def split_recall(database_url: str, lot: str, explain: int = 3) -> dict[str, Any]:
    """The service's ``recall_scope`` (and its lot check and scope hash) for ``lot`` in this
    process, on the service's database: wall time, the time of every SQL statement (execute
    and fetch, in psycopg2), and ``EXPLAIN (ANALYZE, BUFFERS)`` of the ``explain`` slowest.
    The best of three runs (the cache is warm)."""
    from bench._sqltime import timed_engine
    from ledger import genealogy

    engine, stmts = timed_engine(lambda: pg_connect(database_url))

    best: dict[str, Any] = {}
    gc.freeze()  # this process holds the plant's graph: keep collections as cheap as a server's
    try:
        with engine.connect() as conn:
            for _ in range(3):
                stmts.clear()
                t0 = time.perf_counter()
                genealogy.known(conn, lot)
                scope = genealogy.recall_scope(conn, lot=lot)
                t1 = time.perf_counter()
                digest = genealogy.scope_sha256(scope)
                t2 = time.perf_counter()
                body = json.dumps({"scope": scope, "scope_sha256": digest})
                t3 = time.perf_counter()
                sql = sum(s[2] for s in stmts)
                if best and best["total_ms"] <= (t2 - t0) * 1000:
                    continue
                ranked = sorted(stmts, key=lambda s: -s[2])
                best = {
                    "lot": lot,
                    "lots": len(scope["lots"]),
                    "shipments": len(scope["shipments"]),
                    "total_ms": round((t2 - t0) * 1000, 1),
                    "recall_scope_ms": round((t1 - t0) * 1000, 1),
                    "sql_ms": round(sql * 1000, 1),
                    "statements": len(stmts),
                    "python_ms": round((t1 - t0 - sql) * 1000, 1),
                    "scope_sha256_ms": round((t2 - t1) * 1000, 1),
                    "json_dumps_ms": round((t3 - t2) * 1000, 1),
                    "answer_bytes": len(body),
                    "slowest": [
                        {"ms": round(s[2] * 1000, 2), "rows": s[3], "sql": " ".join(s[0].split())}
                        for s in ranked[:explain]
                    ],
                    "_ranked": ranked[:explain],
                }
            for entry, (statement, params, _, _) in zip(
                best["slowest"], best.pop("_ranked"), strict=True
            ):
                plan = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, params)
                entry["plan"] = [row[0][:200] for row in plan][:14]
                if len(entry["sql"]) > 400:
                    entry["sql"] = entry["sql"][:400] + " ..."
    finally:
        gc.unfreeze()
        engine.dispose()
    return best


# -- the run ------------------------------------------------------------------------------------


class Watch:
    """Samples, every ``every`` s in a thread of its own: records, sealed tree size (the latest
    checkpoint) and projected tree size (what a trace of ``probe`` answers as its tree size),
    over HTTP; and, as a diagnosis for stalls, the statements that had been running for over a
    second in the service's database (``pg_stat_activity``)."""

    SLOW = (
        "SELECT extract(epoch FROM now() - query_start)::float, coalesce(wait_event, ''), "
        "left(regexp_replace(query, '\\s+', ' ', 'g'), 160) FROM pg_stat_activity "
        "WHERE state = 'active' AND pid <> pg_backend_pid() AND now() - query_start > "
        "interval '1 second'"
    )

    def __init__(self, base_url: str, token: Callable[[], str], probe: str, db: str) -> None:
        self.reader = Reader(base_url, token, timeout=60)
        self.probe, self.db = probe, db
        self.t0 = time.perf_counter()
        self.samples: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def now(self) -> dict[str, Any]:
        _, status = self.reader.json("/v1/status")
        code, cp = self.reader.json("/v1/checkpoints/latest")
        code_t, t = self.reader.json(lot_path(self.probe, "trace") + "?direction=backward")
        return {
            "t": round(time.perf_counter() - self.t0, 2),
            "records": status.get("records"),
            "sealed": cp.get("tree_size") if code == 200 else 0,
            "projected": t.get("tree_size") if code_t == 200 else 0,
        }

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        conn = pg_connect(self.db)
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                while not self._stop.wait(1.0):
                    try:
                        sample = self.now()
                        cur.execute(self.SLOW)
                        slow = [f"{x[0]:.1f} s {x[1]}: {x[2]}" for x in cur.fetchall()]
                    except (OSError, http.client.HTTPException, ValueError):
                        continue
                    self.samples.append(sample | ({"slow": slow} if slow else {}))
        finally:
            conn.close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=60)

    def stalls(self, until: float) -> dict[str, Any]:
        """The longest time the projection stood still while behind the log, before
        ``until`` (s since start), and the slow statements seen meanwhile."""
        longest, since, at, value = 0.0, 0.0, 0.0, -1
        for x in self.samples:
            if x["t"] > until:
                break
            if x["projected"] != value or x["projected"] >= x["sealed"]:
                since, value = x["t"], x["projected"]
            elif x["t"] - since > longest:
                longest, at = x["t"] - since, since
        seen = [y for x in self.samples if at <= x["t"] <= at + longest for y in x.get("slow", [])]
        return {"longest_s": round(longest, 1), "from_s": at, "slow_statements": seen[-8:]}


def fastest(samples: list[dict[str, Any]], window: float) -> int | None:
    """The highest projection rate (leaves/s) over ``window`` s or more between samples."""
    best, j = 0.0, 0
    for i, x in enumerate(samples):
        while j < len(samples) and samples[j]["t"] - x["t"] < window:
            j += 1
        if j == len(samples):
            break
        y = samples[j]
        best = max(best, (y["projected"] - x["projected"]) / (y["t"] - x["t"]))
        j = max(j, i + 1)
    return round(best) if best else None


class TraceBench:
    def __init__(self, args: argparse.Namespace, svc: Service, plant: Plant) -> None:
        self.args, self.svc, self.plant = args, svc, plant
        self.problems: list[str] = []
        self.results: dict[str, Any] = {}
        self.rng = random.Random(args.seed + 1)

    # -- set-up ---------------------------------------------------------------------------------

    def register(self, domain: Domain) -> tuple[dict[int, SigningKey], SigningKey]:
        """Admin-signed grants, in one batch: a ``device`` key per stream, an ``auditor``."""
        rng = random.Random(self.args.seed)
        keys = {stream: new_key(rng) for stream in self.plant.streams}
        reader = new_key(rng)
        admin = load_key(self.svc.home / "keys" / "admin.key")
        grants = [(k, "device", f"Scanner, {self.plant.streams[s]}") for s, k in keys.items()]
        grants.append((reader, "auditor", "Recall coordinator"))
        items = []
        for key, role, name in grants:
            record = {
                "record_id": f"signer-{key.address.lower()}",
                "type": "signer",
                "schema": "signer/1",
                "action": "grant",
                "address": checksum_address(key.address),
                "name": name,
                "roles": [role],
            }
            items.append(json.dumps(signed_body(admin, domain, record, "approved")).encode())
        res = post_batches(self.svc.url, [items], len(items), "grants")
        if res.records_accepted != len(items):
            raise ServiceError(
                f"grants: {res.records_accepted} of {len(items)} accepted; "
                f"{dict(res.statuses)} {res.errors}"
            )
        self.results["signers_registered"] = len(items)
        time.sleep(1.0)  # scans are signed in a later second than the grants
        return keys, reader

    def sign(self, keys: dict[int, SigningKey], domain: Domain) -> list[Any]:
        """Per day: the receive scans' bodies, and each connection's bodies (a stream's scans
        on one connection, balanced by count), in log order."""
        per_stream = Counter(e.stream for _, evs in self.plant.days for e in evs)
        load = [0] * self.args.connections
        conn_of: dict[int, int] = {}
        for stream, n in per_stream.most_common():
            c = load.index(min(load))
            conn_of[stream] = c
            load[c] += n
        out: list[Any] = []
        for receives, events in self.plant.days:
            rec = [self._body(keys, domain, e) for e in receives]
            conns: list[list[bytes]] = [[] for _ in range(self.args.connections)]
            for e in events:
                conns[conn_of[e.stream]].append(self._body(keys, domain, e))
            out.append((rec, conns))
        self.results["connections_load"] = load
        return out

    @staticmethod
    def _body(keys: dict[int, SigningKey], domain: Domain, e: Any) -> bytes:
        signed = keys[e.stream].sign(e.record(), "recorded", domain).to_json()
        return json.dumps(signed, separators=(",", ":")).encode()

    # -- load -----------------------------------------------------------------------------------

    def cpu(self) -> dict[str, float]:
        """CPU s so far: API worker processes, the main process (sealer, anchorer, genealogy
        projector), PostgreSQL, and this client."""
        used = self.svc.cpu()
        main = _stat(self.svc.pid)
        own = main[1] if main else 0.0
        client = os.times()
        return {
            "api_workers": used["api"] - own,
            "main_process": own,
            "postgres": used["postgres"],
            "client": client.user + client.system,
        }

    def load(self, days: list[Any], watch: Watch) -> float:
        """Send every day; returns the perf_counter of the last acceptance."""
        args, url = self.args, self.svc.url
        total = sum(len(r) + sum(map(len, c)) for r, c in days)
        accepted, last_ok = 0, 0.0
        statuses: Counter[str] = Counter()
        errors: list[str] = []
        latencies: list[float] = []
        t0 = time.perf_counter()
        cpu0 = self.cpu()
        for d, (receives, conns) in enumerate(days):
            for name, streams in ((f"day {d + 1} goods in", [receives]), (f"day {d + 1}", conns)):
                items = sum(map(len, streams))
                if not items:
                    continue
                res = post_batches(url, streams, args.batch_size, name)
                accepted += res.records_accepted
                statuses.update(res.statuses)
                errors.extend(res.errors[: max(0, 5 - len(errors))])
                latencies.extend(res.latencies)
                last_ok = max(last_ok, res.last_ok)
                if res.records_accepted != items:
                    self.problems.append(
                        f"{name}: {res.records_accepted} of {items} accepted; {dict(res.statuses)}"
                        f"; first errors {res.errors[:3]}"
                    )
            if d == 0:
                watch.start()
            wall = time.perf_counter() - t0
            rate = accepted / wall if wall else 0.0
            seen = watch.samples[-1] if watch.samples else {}
            log(
                f"day {d + 1}/{len(days)}: {accepted:,} of {total:,} scans accepted, "
                f"{rate:,.0f}/s, ETA {(total - accepted) / rate if rate else 0:,.0f} s; "
                f"sealed {seen.get('sealed', 0):,}, projected {seen.get('projected', 0):,}"
            )
        wall = time.perf_counter() - t0
        cpu1 = self.cpu()
        self.results["load"] = {
            "scans": total,
            "accepted": accepted,
            "wall_s": round(wall, 1),
            "records_per_s": round(accepted / wall),
            "batch_latency_ms": summary(latencies),
            "statuses": dict(statuses),
            "first_errors": errors,
            "connections": args.connections,
            "batch_size": args.batch_size,
            "cpu_us_per_scan": {k: round((cpu1[k] - cpu0[k]) * 1e6 / accepted) for k in cpu0}
            if accepted
            else {},
            "cpu_cores_busy": round(sum(cpu1[k] - cpu0[k] for k in cpu0) / wall, 2),
            "loadavg": loadavg(),
        }
        return last_ok

    def settle(self, last_ok: float, watch: Watch) -> None:
        """Until the latest checkpoint covers every record and the projection has read it."""
        args = self.args
        watch.stop()  # its connection is polled from here on, in this thread
        at_last = watch.now()
        t_last = time.perf_counter()
        sealed_s = None
        while True:
            s = watch.now()
            watch.samples.append(s)
            now = time.perf_counter()
            if sealed_s is None and s["sealed"] >= s["records"]:
                sealed_s = now - last_ok
            if s["sealed"] >= s["records"] and s["projected"] >= s["sealed"]:
                break
            if now - t_last > args.settle_timeout:
                self.problems.append(f"not projected after {args.settle_timeout:.0f} s: {s}")
                break
            time.sleep(0.1)
        done = now - last_ok
        gained = s["projected"] - at_last["projected"]
        during = [x for x in watch.samples if x["t"] <= at_last["t"]]
        self.results["settle"] = {
            "at_last_acceptance": at_last,
            "final": s,
            "sealed_after_s": round(sealed_s, 2) if sealed_s is not None else None,
            "projected_after_s": round(done, 2),
            "catch_up_leaves": gained,
            "catch_up_leaves_per_s": round(gained / (now - t_last)) if now > t_last else None,
            "during_load_leaves_per_s": round(at_last["projected"] / at_last["t"])
            if at_last["t"]
            else None,
            "samples": watch.samples[:: max(1, len(watch.samples) // 100)],
            "projection_stall": watch.stalls(at_last["t"]),
            "fastest_10s_leaves_per_s": fastest(watch.samples, 10.0),
            "lag_max_leaves": max(
                ((x["records"] or 0) - (x["projected"] or 0) for x in during), default=None
            ),
        }
        log(f"settled: {self.results['settle']}")

    # -- measurements ---------------------------------------------------------------------------

    def requests(
        self, reader: Reader, name: str, cases: list[tuple[str, str, dict[str, int]]], recall: bool
    ) -> dict[str, Any]:
        """Each (label, path, expected sizes) once; latency and answer sizes."""
        times: list[float] = []
        got: dict[str, list[int]] = {"nodes": [], "edges": [], "shipments": [], "bytes": []}
        wrong: list[str] = []
        for label, path, expect in cases:
            status, data, seconds = reader.get(path)
            if status != 200:
                wrong.append(f"{label}: {status} {data[:200]!r}")
                continue
            times.append(seconds)
            answer = json.loads(data)
            if recall:
                scope = answer["scope"]
                n = {
                    "nodes": len(scope["lots"]),
                    "edges": sum(len(x["made_from"]) for x in scope["lots"]),
                    "shipments": len(scope["shipments"]),
                }
                truncated = scope["truncated"]
            else:
                n = {
                    "nodes": len(answer["nodes"]),
                    "edges": len(answer["edges"]),
                    "shipments": sum(len(x["shipments"]) for x in answer["nodes"]),
                }
                truncated = answer["truncated"]
            for k, v in n.items():
                got[k].append(v)
            got["bytes"].append(len(data))
            off = {k: (n[k], v) for k, v in expect.items() if n[k] != v}
            if off or truncated:
                wrong.append(f"{label}: got != expected {off}, truncated {truncated}")
        out = {
            "name": name,
            **summary(times),
            "sizes": {k: sizes(v) for k, v in got.items()},
            "samples": [(c[0], round(t * 1000, 1)) for c, t in zip(cases, times, strict=False)],
        }
        if wrong:
            out["wrong"] = wrong[:10]
            self.problems.append(f"{name}: {len(wrong)} answer(s) not as generated: {wrong[:3]}")
        log(f"  {name}: {summary(times)}, sizes {out['sizes']}")
        return out

    def cases(self) -> dict[str, list[tuple[str, str, dict[str, int]]]]:
        p, a, rng = self.plant, self.args, self.rng

        def pick(pool: list[str], n: int) -> list[str]:
            return rng.sample(pool, min(n, len(pool)))

        reach = {m: p.reach(m) for m in p.material_lots}
        lo, hi = 0.9 * a.fanout, 1.1 * a.fanout
        band = sorted(m for m, r in reach.items() if lo <= len(r) <= hi)
        large = sorted(m for m, r in reach.items() if len(r) > hi)
        n_band = min(len(band), max(1, a.recalls // 2))
        n_large = min(len(large), max(1, a.recalls // 10))
        self.results["plant"]["recall_band"] = {
            "lots": [round(lo), round(hi)],
            "origins": len(band),
            "larger": len(large),
        }

        def back(lot: str) -> tuple[str, str, dict[str, int]]:
            return (
                lot,
                lot_path(lot, "trace") + "?direction=backward",
                {"nodes": len(p.backward(lot))},
            )

        def fwd(lot: str, what: str) -> tuple[str, str, dict[str, int]]:
            path = lot_path(lot, what) + ("?direction=forward" if what == "trace" else "")
            return lot, path, {"nodes": len(reach[lot]), "shipments": p.shipments(reach[lot])}

        def supplier(name: str) -> tuple[str, str, dict[str, int]]:
            r = p.forward(p.received_from(name))
            return (
                name,
                f"/v1/suppliers/{quote(name, safe='')}/recall",
                {"nodes": len(r), "shipments": p.shipments(r)},
            )

        warm = a.warmup
        return {
            "warmup": [back(x) for x in pick(p.product_lots, warm)]
            + [fwd(x, "trace") for x in pick(p.material_lots, warm)]
            + [fwd(x, "recall") for x in pick(p.material_lots, warm)],
            "backward": [back(x) for x in pick(p.product_lots, a.backward)],
            "forward": [fwd(x, "trace") for x in pick(p.material_lots, a.forward)],
            "band": [fwd(x, "recall") for x in pick(band, n_band)],
            "large": [fwd(x, "recall") for x in pick(large, n_large)],
            "random": [
                fwd(x, "recall")
                for x in pick(p.material_lots, max(0, a.recalls - n_band - n_large))
            ],
            "supplier": [supplier(x) for x in pick(p.suppliers, a.supplier_recalls)],
        }

    def measure(self, reader: Reader) -> None:
        cases = self.cases()
        r = self.results
        log("warm-up (not measured)")
        for _label, path, _ in cases["warmup"]:
            reader.get(path)
        r["healthz"] = summary([reader.get("/healthz")[2] for _ in range(50)])
        titles = {
            "backward": ("backward trace, random product lots", False),
            "forward": ("forward trace, random material lots", False),
            "band": (f"recall touching ~{self.args.fanout:,} lots", True),
            "large": ("recall, largest multi-level", True),
            "random": ("recall, random material lots", True),
            "supplier": ("supplier recall, random suppliers", True),
        }
        r["ops"] = {
            key: self.requests(reader, f"{title} ({len(cases[key])})", cases[key], recall)
            for key, (title, recall) in titles.items()
        }
        all_recalls = [t for k in ("band", "large", "random") for t in r["ops"][k]["samples"]]
        r["ops_all_recalls"] = summary([t / 1000 for _, t in all_recalls])

    # -- where the time goes --------------------------------------------------------------------

    def profile(self, reader: Reader, db: str) -> None:
        r = self.results
        band = r["ops"]["band"]["samples"] or r["ops"]["random"]["samples"]
        if not band:
            return
        slowest = max(band, key=lambda s: s[1])[0]
        log(f"where the time goes: recall of {slowest}")
        _, data, _ = reader.get(lot_path(slowest, "recall"))
        answer = json.loads(data)
        r["split"] = split_recall(db, slowest)
        # The same recall over HTTP, 5 times: the part that is not recall_scope + hashing.
        http_s = [reader.get(lot_path(slowest, "recall"))[2] for _ in range(5)]
        r["split"]["http_median_ms"] = round(statistics.median(http_s) * 1000, 1)
        from evledger_verify import jcs

        scope = answer["scope"]
        t0 = time.perf_counter()
        json.dumps(answer)
        t1 = time.perf_counter()
        jcs.canonicalize(scope)
        t2 = time.perf_counter()
        r["limits"]["answer"] = {
            "bytes": len(data),
            "json_dumps_ms": round((t1 - t0) * 1000, 2),
            "json_dumps_mb_per_s": round(len(data) / (t1 - t0) / 1e6, 1),
            "jcs_canonicalize_ms": round((t2 - t1) * 1000, 2),
        }
        keys = [x["lot"] for x in scope["lots"]]
        r["limits"]["postgres_probe"] = pg_limits(db, keys, self.args.limit_seconds)
        if self.args.profile:
            r["profile"] = self.py_spy(reader, slowest)

    def py_spy(self, reader: Reader, lot: str) -> dict[str, Any]:
        binary = py_spy_binary()
        if binary is None:
            return {"skipped": "py-spy not installed: .venv/bin/pip install py-spy"}
        out_dir = self.args.profile
        out_dir.mkdir(parents=True, exist_ok=True)
        out, out_gil = out_dir / "recall.speedscope.json", out_dir / "recall-gil.speedscope.json"
        spies = [PySpy(binary, self.svc.pid, out), PySpy(binary, self.svc.pid, out_gil, gil=True)]
        time.sleep(1.0)
        times = [reader.get(lot_path(lot, "recall"))[2] for _ in range(self.args.profile_repeats)]
        codes = [s.stop() for s in spies]
        prof: dict[str, Any] = {"lot": lot, "under_py_spy": summary(times), "exit": codes}
        for key, path in (("all", out), ("gil", out_gil)):
            if path.exists():
                prof[key] = summarize(path)
            else:
                prof.setdefault("error", []).append(f"py-spy wrote nothing to {path}")
        return prof

    # -- the whole run --------------------------------------------------------------------------

    def run(self) -> None:
        args, r = self.args, self.results
        status_conn = Reader(self.svc.url, lambda: "")
        _, trust = status_conn.json("/v1/trust")
        status_conn.close()
        domain = Domain(int(trust["chain_id"]), checksum_address(trust["contract"]))
        keys, reader_key = self.register(domain)
        db = self.svc.runtime()["database_url"]

        def token() -> str:
            return reader_key.read_token(str(trust["log_origin"]))

        log("machine limits (one core each)")
        sample = self.plant.days[0][0][0].record() if self.plant.days[0][0] else {}
        r["limits"] = machine_limits(domain, sample, db, args.limit_seconds, args.copy_rows)

        log(f"signing {self.plant.scans:,} scans")
        t0 = time.perf_counter()
        days = self.sign(keys, domain)
        sign_s = time.perf_counter() - t0
        r["signing"] = {"seconds": round(sign_s, 1), "per_s": round(self.plant.scans / sign_s)}
        log(f"  {r['signing']['per_s']:,} scans/s on one core")
        self.plant.days = []  # the bodies are what is sent
        gc.collect()

        probe = self.plant.material_lots[0]  # received on the first day
        watch = Watch(self.svc.url, token, probe, db)
        log(
            f"loading {sum(len(a) + sum(map(len, b)) for a, b in days):,} scans over "
            f"{len(days)} days, {args.connections} connections"
        )
        last_ok = self.load(days, watch)
        del days
        self.settle(last_ok, watch)

        reader = Reader(self.svc.url, token)
        log("measuring (one client, one request at a time)")
        self.measure(reader)
        self.profile(reader, db)
        reader.close()


def run(args: argparse.Namespace) -> tuple[dict[str, Any], int]:
    shape = Shape(**{f.name: getattr(args, f.name) for f in dataclasses.fields(Shape)})
    log(f"generating the plant: {shape}")
    t0 = time.perf_counter()
    plant = Plant.generate(shape)
    r: dict[str, Any] = {
        "command": " ".join([".venv/bin/python", "bench/trace.py", *sys.argv[1:]]),
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "loadavg_start": loadavg(),
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
    }
    r["plant"] = plant.describe() | {"generate_s": round(time.perf_counter() - t0, 1)}
    log(f"plant: {r['plant']}")
    tmp = Path(tempfile.mkdtemp(prefix="evledger-bench-trace-", dir="/tmp"))
    svc = Service(args.evledger, tmp / "home")
    bench = TraceBench(args, svc, plant)
    bench.results.update(r)
    r = bench.results
    log(f"starting {args.evledger} up, EVLEDGER_HOME={svc.home}, port {svc.port}")
    return r, run_with_service(svc, bench.run, r, bench.problems, tmp, args.keep)


# -- the report ---------------------------------------------------------------------------------


def _ms(o: dict[str, Any]) -> str:
    if not o.get("n"):
        return "n/a"
    return f"{o['median_ms']:,.1f} / {o['p99_ms']:,.1f} / {o['max_ms']:,.1f} ms"


def _row(
    figure: str, measured: str, notes: str = "", target: str = "-", result: str = "-"
) -> tuple[str, str, str, str, str]:
    return (figure, measured, target, result, notes)


def table(r: dict[str, Any]) -> Iterator[tuple[str, str, str, str, str]]:
    ld, st, cores = r.get("load"), r.get("settle"), r["machine"]["cores"]
    if ld:
        yield _row(
            "load: POST /v1/records/batch",
            f"{ld['records_per_s']:,} scans/s",
            f"{ld['accepted']:,} of {ld['scans']:,} in {ld['wall_s']:,} s, "
            f"{ld['connections']} conn x {ld['batch_size']}/request; batch p50/p99/max "
            f"{_ms(ld['batch_latency_ms'])}",
        )
        cpu = " ".join(f"{k} {v}" for k, v in ld["cpu_us_per_scan"].items())
        yield _row(
            "load: CPU us per scan",
            cpu,
            f"{ld['cpu_cores_busy']} of {cores} cores "
            f"busy with the service and this client; load average {ld['loadavg'][0]}",
        )
    if st:
        at, stall = st["at_last_acceptance"], st["projection_stall"]
        yield _row("last acceptance -> all sealed", f"{st['sealed_after_s']} s")
        yield _row(
            "last acceptance -> all projected",
            f"{st['projected_after_s']} s",
            f"projection {at['projected']:,} of {at['records']:,} leaves at the last "
            f"acceptance; max lag during the load {st['lag_max_leaves']:,} leaves",
        )
        fast = st["fastest_10s_leaves_per_s"]
        yield _row(
            "projection rate: whole load / fastest 10 s",
            f"{st['during_load_leaves_per_s']:,} / {f'{fast:,}' if fast else 'n/a'} leaves/s",
            f"after the last acceptance: {st['catch_up_leaves']:,} leaves at "
            f"{st['catch_up_leaves_per_s']:,} leaves/s",
        )
        yield _row(
            "projection: longest stall while behind",
            f"{stall['longest_s']} s",
            f"from {stall['from_s']} s into the load; slow statements then: "
            f"{stall['slow_statements'][-2:]}",
        )
    for key, op in r.get("ops", {}).items():
        target = result = "-"
        if key == "band" and op.get("n"):
            target = f"<= {TARGET_RECALL_S * 1000:,.0f} ms"
            result = "PASS" if op["p99_ms"] <= TARGET_RECALL_S * 1000 else "MISS"
        z = {k: (v.get("median", 0), v.get("max", 0)) for k, v in op["sizes"].items()}
        note = (
            f"lots {z['nodes'][0]:,} (max {z['nodes'][1]:,}), links {z['edges'][0]:,} "
            f"({z['edges'][1]:,}), shipments {z['shipments'][0]:,} ({z['shipments'][1]:,}), "
            f"{z['bytes'][0] / 1000:,.0f} kB ({z['bytes'][1] / 1000:,.0f})"
        )
        yield _row(f"{op['name']}: median / p99 / max", _ms(op), note, target, result)
    if "ops_all_recalls" in r:
        yield _row("all lot recalls: median / p99 / max", _ms(r["ops_all_recalls"]))
    if "healthz" in r:
        yield _row("HTTP floor: GET /healthz", _ms(r["healthz"]), "same connection")
    lim = r.get("limits", {})
    if lim:
        yield _row(
            "limit: json.dumps of a scan (1 core)",
            f"{lim['json_dumps_per_s']:,}/s",
            f"rfc8785.dumps {lim['rfc8785_dumps_per_s']:,}/s; SHA-256 "
            f"{lim['sha256_small_per_s']:,}/s; ECDSA recovery "
            f"{lim['coincurve_recover_per_s']:,}/s",
        )
        copy = lim.get("postgres_copy", {})
        yield _row(
            "limit: PostgreSQL COPY (1 connection)",
            f"{copy.get('rows_per_s', 0):,} rows/s",
            copy.get("error", ""),
        )
    pg, ans = lim.get("postgres_probe"), lim.get("answer")
    if pg:
        yield _row(
            "limit: PostgreSQL round trip (SELECT 1)",
            f"{pg['round_trips_per_s']:,}/s",
            "unix socket, one connection",
        )
        for name in ("forward_level", "lot_facts"):
            p = pg[name]
            yield _row(
                f"limit: PostgreSQL {name} probe, {pg['keys']:,} keys",
                f"{p['ms']} ms",
                f"{p['rows']:,} rows; {p['keys_per_s']:,} keys/s; genealogy_links",
            )
    if ans:
        yield _row(
            "limit: json.dumps of the slowest recall answer",
            f"{ans['json_dumps_ms']} ms",
            f"{ans['bytes'] / 1000:,.0f} kB, {ans['json_dumps_mb_per_s']} MB/s; RFC 8785 "
            f"canonical form of the scope {ans['jcs_canonicalize_ms']} ms",
        )


def report(r: dict[str, Any]) -> str:
    m, p = r["machine"], r.get("plant", {})
    rows: list[tuple[str, ...]] = [("figure", "measured", "target", "result", "notes"), *table(r)]
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    rows.insert(1, tuple("-" * w for w in widths))

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    out = [
        "",
        f"evledger trace and recall benchmark, {r['started_at']}",
        f"command: {r['command']}",
        f"machine: {m['cores']} cores ({m['cpu']}), Python {m['python']}, commit "
        f"{m['git_commit']}"
        + (
            f" + uncommitted {', '.join(m['uncommitted_service_files'])}"
            if m["uncommitted_service_files"]
            else ""
        ),
        f"load average at start {r['loadavg_start']}, at end {r.get('loadavg_end')}; client and "
        "service share the cores",
        f"plant: {p.get('scans', 0):,} scans {p.get('scans_by_operation')}; {p.get('lots', 0):,} "
        f"lots {p.get('lots_by_tier')}; {p.get('suppliers')} suppliers, {p.get('stations')} "
        f"stations, {p.get('pallets', 0):,} pallets, {p.get('consignees_shipped_to', 0):,} "
        f"consignees shipped to, {p.get('input_links', 0):,} distinct input links",
        f"  material lots by direct consumers: {p.get('material_direct_fanout')}",
        f"  material lots by recall size (lots reached forward, itself included): "
        f"{p.get('material_recall_lots')}, max {p.get('material_recall_lots_max')}",
        f"  product lots (every 10th) by backward trace size: {p.get('backward_lots')}",
        f"  recall band: {p.get('recall_band')}",
        "",
        *map(line, rows),
    ]
    sp = r.get("split")
    if sp:
        out += [
            "",
            f"where the time goes, recall of {sp['lot']} ({sp['lots']:,} lots, "
            f"{sp['shipments']:,} shipments, {sp['answer_bytes'] / 1000:,.0f} kB): over HTTP "
            f"{sp['http_median_ms']} ms (median of 5)",
            f"  in this process, the service's code on its database: recall_scope "
            f"{sp['recall_scope_ms']} ms = SQL {sp['sql_ms']} ms ({sp['statements']} statements, "
            f"execute + fetch) + Python {sp['python_ms']} ms; scope SHA-256 (RFC 8785) "
            f"{sp['scope_sha256_ms']} ms; json.dumps {sp['json_dumps_ms']} ms",
        ]
        for s in sp["slowest"]:
            out.append(f"  {s['ms']} ms, {s['rows']} rows: {s['sql'][:200]}")
            out += [f"      {line_}" for line_ in s.get("plan", [])[:8]]
    prof = r.get("profile")
    if prof and "gil" in prof:
        g, a = prof["gil"], prof["all"]
        out += [
            "",
            f"py-spy, {prof['under_py_spy']['n']} recalls of {prof['lot']} "
            f"({_ms(prof['under_py_spy'])} under py-spy)",
            f"  GIL held: {g['seconds_sampled']} s; top self:",
            *(f"    {e['share'] * 100:5.1f}%  {e['function']}" for e in g["top_self"][:12]),
            "  GIL held, inclusive, the project's functions:",
            *(
                f"    {e['share'] * 100:5.1f}%  {e['function']}"
                for e in g["top_inclusive_project"][:15]
            ),
            f"  all threads not idle: {a['seconds_sampled']} s; top self:",
            *(f"    {e['share'] * 100:5.1f}%  {e['function']}" for e in a["top_self"][:8]),
        ]
    elif prof:
        out.append(f"py-spy: {prof.get('skipped') or prof.get('error')}")
    stop = r.get("stop", {})
    out += [
        "",
        f"stop: SIGINT, exit code {stop.get('exit_code')}, {stop.get('stop_seconds')} s; "
        f"left running: {stop.get('left_running') or 'nothing'}",
    ]
    if r.get("service_log_problems"):
        out.append(
            f"service log: {len(r['service_log_problems'])} error line(s), first: "
            f"{r['service_log_problems'][:3]}"
        )
    out += [f"PROBLEM: {x}" for x in r.get("problems", [])]
    if r.get("kept"):
        out.append(f"kept: {r['kept']} (the service's log is up.log there)")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        results, code = run(args)
    except ValueError as exc:  # the plant's shape (Shape) cannot be made
        print(f"could not run: {exc}", flush=True)
        return 2
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
