"""Load patterns over plain ``http.client`` (one keep-alive connection per thread, bodies
serialized beforehand, so the client spends as little CPU as it can on a shared machine):

- :func:`post_batches`: ``POST /v1/records/batch`` from ``c`` connections;
- :func:`closed_loop`: ``POST /v1/records`` from N clients, each sending when answered;
- :func:`open_loop`: ``POST /v1/records`` at a fixed rate whatever the answers, latency measured
  from each request's scheduled time (no coordinated omission);
- :class:`ReceiptSampler`: acceptance -> anchored receipt for a sample of records;
- :func:`wait_anchored`: seconds until ``GET /v1/status`` shows everything anchored.
"""

from __future__ import annotations

import heapq
import http.client
import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "Http",
    "LoadResult",
    "ReceiptSampler",
    "closed_loop",
    "open_loop",
    "percentile",
    "post_batches",
    "wait_anchored",
]

_JSON = {"Content-Type": "application/json"}
_RETRYABLE = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0..100), linear between closest ranks; None when empty."""
    if not values:
        return None
    s = sorted(values)
    pos = (len(s) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


class Http:
    """One keep-alive connection. A request on a reused connection that the server had closed
    is sent again once (safe here: submissions are idempotent on their record id)."""

    def __init__(self, base_url: str, timeout: float = 120.0) -> None:
        u = urlsplit(base_url)
        self.host, self.port, self.timeout = u.hostname or "127.0.0.1", u.port or 80, timeout
        self.conn: http.client.HTTPConnection | None = None
        self.resent = 0

    def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        for attempt in (0, 1):
            fresh = self.conn is None
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            try:
                self.conn.request(method, path, body=body, headers=_JSON if body else {})
                resp = self.conn.getresponse()
                data = resp.read()
                if resp.will_close:
                    self.close()
                return resp.status, data
            except _RETRYABLE:
                self.close()
                if fresh or attempt:
                    raise
                self.resent += 1
            except (OSError, http.client.HTTPException):
                self.close()
                raise
        raise AssertionError("unreachable")

    def json(self, method: str, path: str, body: bytes | None = None) -> tuple[int, Any]:
        status, data = self.request(method, path, body)
        try:
            return status, json.loads(data)
        except ValueError:
            return status, data[:300].decode(errors="replace")

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


@dataclass
class LoadResult:
    """What one load phase did. ``latencies`` in seconds, one per answered request."""

    name: str
    sent: int = 0
    ok: int = 0
    records_accepted: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    last_ok: float = 0.0  # perf_counter of the last successful answer
    resent: int = 0  # requests sent again on a fresh connection (keep-alive closed by server)
    extra: dict[str, Any] = field(default_factory=dict)

    def note_error(self, what: str) -> None:
        if len(self.errors) < 5:
            self.errors.append(what[:400])

    def summary(self) -> dict[str, Any]:
        ms = [x * 1000 for x in self.latencies]
        return {
            "name": self.name,
            "sent": self.sent,
            "ok": self.ok,
            "records_accepted": self.records_accepted,
            "seconds": round(self.seconds, 3),
            "statuses": dict(self.statuses),
            "latency_ms": {
                f"p{q}": None if (v := percentile(ms, q)) is None else round(v, 2)
                for q in (50, 95, 99)
            }
            | {"max": round(max(ms), 2) if ms else None},
            "first_errors": self.errors,
            "resent": self.resent,
            **self.extra,
        }


def _merge(into: LoadResult, part: LoadResult, lock: threading.Lock) -> None:
    with lock:
        into.sent += part.sent
        into.ok += part.ok
        into.records_accepted += part.records_accepted
        into.latencies.extend(part.latencies)
        into.statuses.update(part.statuses)
        for e in part.errors:
            into.note_error(e)
        into.last_ok = max(into.last_ok, part.last_ok)
        into.resent += part.resent


def _run_threads(targets: list[Callable[[], None]]) -> float:
    """Run ``targets`` in threads released together; returns the wall time they took."""
    gate = threading.Barrier(len(targets) + 1)

    def wrap(fn: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            gate.wait()
            fn()

        return run

    threads = [threading.Thread(target=wrap(fn), daemon=True) for fn in targets]
    for t in threads:
        t.start()
    gate.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    return time.perf_counter() - t0


# -- batches ------------------------------------------------------------------------------------


def post_batches(
    base_url: str, streams: list[list[bytes]], batch_size: int, name: str
) -> LoadResult:
    """Each stream on its own connection, in batches of ``batch_size`` items, in order. A batch
    answered 413 (too large for the service's limits) is split in two and sent again."""
    total = LoadResult(name)
    lock = threading.Lock()
    splits = Counter[int]()

    def send(conn: Http, items: list[bytes], part: LoadResult) -> None:
        body = b'{"items":[' + b",".join(items) + b"]}"
        t = time.perf_counter()
        try:
            status, answer = conn.json("POST", "/v1/records/batch", body)
        except (OSError, http.client.HTTPException) as exc:
            part.sent += 1
            part.statuses[type(exc).__name__] += 1
            part.note_error(f"batch of {len(items)}: {exc!r}")
            return
        if status == 413 and len(items) > 1:
            with lock:
                splits[len(items)] += 1
            half = len(items) // 2
            send(conn, items[:half], part)
            send(conn, items[half:], part)
            return
        part.sent += 1
        part.statuses[str(status)] += 1
        done = time.perf_counter()
        if status != 200 or not isinstance(answer, dict):
            part.note_error(f"batch of {len(items)}: {status} {str(answer)[:300]}")
            return
        part.ok += 1
        part.latencies.append(done - t)
        part.last_ok = done
        part.records_accepted += int(answer.get("accepted", 0))
        if answer.get("refused") or answer.get("duplicate"):
            for r in answer.get("results", []):
                if r.get("status") != "accepted":
                    part.statuses[f"item {r.get('status')} {r.get('error') or ''}".strip()] += 1
                    part.note_error(f"item {r.get('record_id')}: {r.get('detail')}")

    def worker(stream: list[bytes]) -> Callable[[], None]:
        def run() -> None:
            conn, part = Http(base_url), LoadResult(name)
            for start in range(0, len(stream), batch_size):
                send(conn, stream[start : start + batch_size], part)
            conn.close()
            part.resent = conn.resent
            _merge(total, part, lock)

        return run

    total.seconds = _run_threads([worker(s) for s in streams if s])
    total.extra["connections"] = len([s for s in streams if s])
    total.extra["batch_size"] = batch_size
    total.extra["items"] = sum(len(s) for s in streams)
    if splits:
        total.extra["split_on_413"] = {str(k): v for k, v in splits.items()}
    total.extra["records_per_s"] = round(total.records_accepted / total.seconds, 1)
    return total


# -- single submissions -------------------------------------------------------------------------


def _judge_single(part: LoadResult, status: int, data: bytes) -> bool:
    part.statuses[str(status)] += 1
    if status == 201:
        part.ok += 1
        part.records_accepted += 1
        return True
    if status == 200:
        part.ok += 1
        return True
    part.note_error(f"{status} {data[:300].decode(errors='replace')}")
    return False


def closed_loop(base_url: str, bodies: list[bytes], clients: int, duration: float) -> LoadResult:
    """``clients`` threads, each sending the next body as soon as its previous one is answered,
    until the bodies or ``duration`` seconds run out."""
    total = LoadResult(f"POST /v1/records, {clients} clients")
    lock = threading.Lock()
    it = iter(range(len(bodies)))
    deadline = [0.0]

    def run() -> None:
        conn, part = Http(base_url, timeout=60), LoadResult(total.name)
        while time.perf_counter() < deadline[0]:
            with lock:
                i = next(it, None)
            if i is None:
                break
            t = time.perf_counter()
            part.sent += 1
            try:
                status, data = conn.request("POST", "/v1/records", bodies[i])
            except (OSError, http.client.HTTPException) as exc:
                part.statuses[type(exc).__name__] += 1
                part.note_error(repr(exc))
                continue
            done = time.perf_counter()
            part.latencies.append(done - t)
            if _judge_single(part, status, data):
                part.last_ok = done
        conn.close()
        part.resent = conn.resent
        _merge(total, part, lock)

    deadline[0] = time.perf_counter() + duration + 1.0  # threads start within the second
    total.seconds = _run_threads([run] * clients)
    total.extra["clients"] = clients
    total.extra["requests_per_s"] = round(total.ok / total.seconds, 1)
    return total


def open_loop(
    base_url: str,
    bodies: list[bytes],
    rate: float,
    workers: int,
    grace: float = 30.0,
    on_accept: Callable[[int, float], None] | None = None,
) -> LoadResult:
    """Request i is due at ``t0 + i / rate``, whatever happened to the others; its latency runs
    from that scheduled time to its answer, so a stalled server shows in every request it
    delayed. ``workers`` threads with a connection each claim due requests in order; requests
    that cannot start within ``grace`` s of the last scheduled time are not sent (counted)."""
    n = len(bodies)
    total = LoadResult(f"POST /v1/records at {rate:g}/s")
    lock = threading.Lock()
    it = iter(range(n))
    t0 = time.perf_counter() + 0.5
    cutoff = t0 + n / rate + grace
    late_starts: list[float] = []

    def run() -> None:
        conn, part = Http(base_url, timeout=60), LoadResult(total.name)
        starts: list[float] = []
        while True:
            with lock:
                i = next(it, None)
            if i is None:
                break
            due = t0 + i / rate
            wait = due - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            start = time.perf_counter()
            if start > cutoff:
                part.statuses["not sent (past the time bound)"] += 1
                continue
            starts.append(start - due)
            part.sent += 1
            try:
                status, data = conn.request("POST", "/v1/records", bodies[i])
            except (OSError, http.client.HTTPException) as exc:
                part.statuses[type(exc).__name__] += 1
                part.note_error(repr(exc))
                continue
            done = time.perf_counter()
            part.latencies.append(done - due)
            if _judge_single(part, status, data):
                part.last_ok = done
                if status == 201 and on_accept is not None:
                    on_accept(i, time.time() - (time.perf_counter() - done))
        conn.close()
        part.resent = conn.resent
        with lock:
            late_starts.extend(starts)
        _merge(total, part, lock)

    wall = _run_threads([run] * workers)
    total.seconds = wall
    total.extra["offered_rate"] = rate
    total.extra["scheduled"] = n
    total.extra["schedule_seconds"] = round(n / rate, 2)
    total.extra["achieved_rate"] = round(total.ok / max(wall - 0.5, 1e-9), 1)
    total.extra["workers"] = workers
    total.extra["start_lateness_ms"] = {
        f"p{q}": round((percentile(late_starts, q) or 0.0) * 1000, 2) for q in (50, 99)
    }
    return total


# -- receipts and anchoring ----------------------------------------------------------------------


class ReceiptSampler:
    """Polls ``GET /v1/records/{id}/receipt`` of sampled records, each from ``first`` s after its
    acceptance and then every ``every`` s, until it answers 200 ``anchored``; one thread, one
    connection, so the polling adds little load."""

    def __init__(self, base_url: str, first: float = 0.2, every: float = 0.1) -> None:
        self.http = Http(base_url, timeout=30)
        self.first, self.every = first, every
        self._heap: list[tuple[float, str, float, int]] = []  # (next poll, id, accepted, polls)
        self._cv = threading.Condition()
        self._closing = False
        self.latencies: list[float] = []
        self.polls = 0
        self.unanchored: list[str] = []
        self.errors: list[str] = []
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def add(self, record_id: str, accepted_wall: float) -> None:
        with self._cv:
            heapq.heappush(self._heap, (accepted_wall + self.first, record_id, accepted_wall, 0))
            self._cv.notify()

    def _run(self) -> None:
        while True:
            with self._cv:
                while not self._heap and not self._closing:
                    self._cv.wait()
                if not self._heap:
                    return
                due, rid, accepted, polls = self._heap[0]
                wait = due - time.time()
                if wait > 0:
                    self._cv.wait(wait)
                    continue
                heapq.heappop(self._heap)
            try:
                status, body = self.http.json("GET", f"/v1/records/{rid}/receipt")
            except (OSError, http.client.HTTPException) as exc:
                status, body = 0, repr(exc)
            now = time.time()
            self.polls += 1
            if status == 200 and isinstance(body, dict) and body.get("status") == "anchored":
                self.latencies.append(now - accepted)
                continue
            if status not in (200, 202) and len(self.errors) < 5:
                self.errors.append(f"{rid}: {status} {str(body)[:200]}")
            with self._cv:
                heapq.heappush(self._heap, (now + self.every, rid, accepted, polls + 1))

    def finish(self, timeout: float) -> None:
        """Wait until every sampled record is anchored or ``timeout`` s pass."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self._cv:
                if not self._heap:
                    break
            time.sleep(0.05)
        with self._cv:
            self.unanchored = [rid for _, rid, _, _ in self._heap]
            self._heap.clear()
            self._closing = True
            self._cv.notify()
        self._thread.join(timeout=35)
        self.http.close()


def wait_anchored(
    base_url: str, since: float, timeout: float, poll: float = 0.05
) -> dict[str, Any]:
    """Poll ``GET /v1/status`` until the newest anchored checkpoint covers every record.
    Returns seconds from ``since`` (a ``perf_counter`` value: the last acceptance) until all
    was sealed and until all was anchored, and the last status."""
    conn = Http(base_url, timeout=30)
    t0 = time.perf_counter()
    status: Any = None
    sealed: float | None = None
    try:
        while True:
            code, status = conn.json("GET", "/v1/status")
            now = time.perf_counter()
            if code == 200 and isinstance(status, dict):
                records = status.get("records") or 0
                if sealed is None and (status.get("latest_checkpoint") or 0) >= records:
                    sealed = now - since
                if (status.get("latest_anchored_checkpoint") or 0) >= records:
                    return {
                        "anchored": True,
                        "sealed_seconds": round(sealed if sealed is not None else now - since, 3),
                        "anchored_seconds": round(now - since, 3),
                        "status": status,
                    }
            if now - t0 > timeout:
                return {"anchored": False, "anchored_seconds": None, "status": status}
            time.sleep(poll)
    finally:
        conn.close()
