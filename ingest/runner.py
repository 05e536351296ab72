"""What every ingester shares: capture into the outbox, a drain thread, metrics and logs.

An ingester (scanner, PLC) signs a record and hands it to :meth:`Runner.capture`, which stores
it durably in the :class:`~ingest.outbox.Outbox` before anything is sent. A drain thread sends
what is pending every ``drain_interval`` seconds; when the service cannot be reached it backs
off (capped exponential, with jitter, reset on the first success) and logs the change of state
once, not every attempt. A record the service refuses (an unregistered or revoked device, a
signature too old) is logged at once with the service's answer and counted.

    runner = Runner(outbox, Client(url, retries=1))
    runner.serve_metrics(9108)
    runner.start()
    try:
        ...  # the ingester calls runner.capture(signed, lot) and runner.bad_scan()
    finally:
        runner.stop()        # one last drain attempt, bounded in time

Metrics (its own ``CollectorRegistry``, served by :meth:`Runner.serve_metrics`):

* ``evledger_ingest_captured_total{kind}``: records stored in the outbox, by record type;
* ``evledger_ingest_bad_scans_total``: scanner lines that did not become a record;
* ``evledger_ingest_sent_total{outcome}``: items answered by the service, ``accepted``,
  ``duplicate`` or ``refused``;
* ``evledger_ingest_drain_errors_total``: drain attempts stopped by a transient failure;
* ``evledger_ingest_outbox_depth``, ``evledger_ingest_outbox_oldest_seconds``,
  ``evledger_ingest_outbox_refused``: what the outbox holds (refused items are kept there);
* ``evledger_ingest_last_send_timestamp``: unix time the service last acknowledged an item;
* ``evledger_ingest_source_errors_total{kind}``: port and Modbus errors, by kind.

Logs go to ``logging.getLogger("evledger.ingest")`` as ``event key=value ...`` lines.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server

from ingest.client import (
    MAX_BATCH_ITEMS,
    BatchResult,
    SignedSubmission,
    backoff_delay,
    final_refusal,
    pause,
)
from ingest.outbox import DrainResult, Outbox, OutboxError, OutboxStats, Sender
from ingest.promises import PromiseKeeper

__all__ = ["LOG", "Runner", "kv"]

LOG = logging.getLogger("evledger.ingest")
_MAX_VALUE_CHARS = 2048


def kv(event: str, **fields: Any) -> str:
    """``event key=value ...``: values with spaces, quotes or ``=`` are quoted (repr), None is
    left out, long values are cut."""
    parts = [event]
    for key, value in fields.items():
        if value is None:
            continue
        text = f"{value:.3f}" if isinstance(value, float) else str(value)
        if len(text) > _MAX_VALUE_CHARS:
            text = text[:_MAX_VALUE_CHARS] + "..."
        if not text or any(c in text for c in ' "=\n\r\t'):
            text = '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
        parts.append(f"{key}={text}")
    return " ".join(parts)


class _Observed:
    """Wraps the sender to log every item the service refuses, with its answer, as it
    happens (the drain result only counts them)."""

    def __init__(self, sender: Sender, on_refused: Callable[[Mapping[str, Any]], None]) -> None:
        self._sender, self._on_refused = sender, on_refused

    def submit_batch(
        self, items: Sequence[SignedSubmission], chunk: int = MAX_BATCH_ITEMS
    ) -> BatchResult:
        answer = self._sender.submit_batch(items, chunk=chunk)
        for r in answer.refused:
            self._on_refused(r)
        return answer


class Runner:
    """Capture, drain, metrics and logs for one ingester (see the module docstring).

    ``clock`` (unix seconds), ``sleep`` and ``jitter`` (0..1) are injectable so that tests do
    not wait; ``sleep`` None waits on the stop event, so :meth:`stop` interrupts a backoff.
    """

    def __init__(
        self,
        outbox: Outbox,
        client: Sender,
        *,
        drain_interval: float = 0.5,
        max_backoff: float = 30.0,
        batch: int = MAX_BATCH_ITEMS,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] | None = None,
        jitter: Callable[[], float] = random.random,
        registry: CollectorRegistry | None = None,
    ) -> None:
        if drain_interval <= 0 or max_backoff < drain_interval:
            raise ValueError(
                "runner: expected 0 < drain_interval <= max_backoff, got "
                f"drain_interval={drain_interval} and max_backoff={max_backoff}"
            )
        self.outbox, self.client = outbox, client
        self.drain_interval, self.max_backoff, self.batch = drain_interval, max_backoff, batch
        self._clock, self._sleep, self._jitter = clock, sleep, jitter
        self.registry = registry if registry is not None else CollectorRegistry()
        self.failures = 0  # consecutive drain attempts that stopped on a transient failure
        self.reachable: bool | None = None  # None until the first drain attempt
        self._down_since: float | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._http: Any = None
        self._http_thread: threading.Thread | None = None

        r = self.registry
        self.captured = Counter(
            "evledger_ingest_captured", "Records stored in the outbox, by record type.",
            ["kind"], registry=r,
        )  # fmt: skip
        self.bad_scans = Counter(
            "evledger_ingest_bad_scans", "Scanner lines that did not become a record.",
            registry=r,
        )  # fmt: skip
        self.sent = Counter(
            "evledger_ingest_sent", "Outbox items answered by the service, by outcome.",
            ["outcome"], registry=r,
        )  # fmt: skip
        self.drain_errors = Counter(
            "evledger_ingest_drain_errors",
            "Drain attempts stopped by a transient failure (service unreachable, 5xx).",
            registry=r,
        )
        self.source_errors = Counter(
            "evledger_ingest_source_errors", "Errors of the data source (port, Modbus), by kind.",
            ["kind"], registry=r,
        )  # fmt: skip
        self.depth = Gauge(
            "evledger_ingest_outbox_depth", "Outbox items not yet acknowledged.", registry=r
        )
        self.oldest = Gauge(
            "evledger_ingest_outbox_oldest_seconds",
            "Age of the oldest unacknowledged outbox item (0 when empty).",
            registry=r,
        )
        self.refused_kept = Gauge(
            "evledger_ingest_outbox_refused",
            "Refused items kept in the outbox for the operator.",
            registry=r,
        )
        self.last_send = Gauge(
            "evledger_ingest_last_send_timestamp",
            "Unix time the service last acknowledged an item (0: never).",
            registry=r,
        )
        self.promises_waiting = Gauge(
            "evledger_ingest_promises_waiting",
            "Ledger promises kept until the record's anchored receipt verifies.",
            registry=r,
        )
        self.promises_broken = Counter(
            "evledger_ingest_promises_broken",
            "Records the ledger promised to log and did not (or logged otherwise).",
            registry=r,
        )
        for outcome in ("accepted", "duplicate", "refused"):
            self.sent.labels(outcome)  # present at 0 from the start
        #: Checks the ledger's promises (ingest.promises); set by whoever has the trust file.
        self.keeper: PromiseKeeper | None = None
        self.promise_interval = 10.0
        self._promises_at = 0.0
        self.refresh()

    # -- capture ------------------------------------------------------------------------------

    def capture(self, signed: SignedSubmission, lot: str | None) -> None:
        """Store ``signed`` in the outbox (durable once this returns) and count it. Raises
        :class:`~ingest.outbox.OutboxFull` (logged) when the outbox is full: capture must stop
        loudly."""
        self.capture_many([(signed, lot)])

    def capture_many(self, items: Sequence[tuple[SignedSubmission, str | None]]) -> None:
        """:meth:`capture` for several records in one outbox transaction (a PLC's round)."""
        try:
            self.outbox.put_many(items)
        except OutboxError as exc:
            ids = ",".join(signed.record_id for signed, _ in items)
            LOG.critical(kv("capture.failed", record_id=ids, error=exc))
            raise
        for signed, _ in items:
            self.captured.labels(str(signed.record.get("type"))).inc()

    def bad_scan(self) -> None:
        self.bad_scans.inc()

    def source_error(self, kind: str) -> None:
        self.source_errors.labels(kind).inc()

    # -- draining -----------------------------------------------------------------------------

    def delay(self) -> float:
        """Seconds to wait before the next drain: ``drain_interval`` after a success; after
        ``n`` consecutive failures, half of ``min(max_backoff, drain_interval * 2**n)`` plus a
        random part of the other half."""
        if self.failures == 0:
            return self.drain_interval
        return backoff_delay(self.failures, self.drain_interval, self.max_backoff, self._jitter)

    def drain_once(self) -> DrainResult:
        """One drain attempt: send what is pending, update metrics, log a change of state and
        every refusal. Returns the outbox's result; :meth:`delay` then says when to retry."""
        result = self.outbox.drain(_Observed(self.client, self._log_refused), batch=self.batch)
        self.sent.labels("accepted").inc(result.accepted)
        self.sent.labels("duplicate").inc(result.duplicate)
        self.sent.labels("refused").inc(result.refused)
        now = self._clock()
        if result.error is None:
            if self.reachable is False:
                down = None if self._down_since is None else now - self._down_since
                LOG.warning(
                    kv("service.reachable", down_seconds=down, attempts=self.failures,
                       sent=result.accepted + result.duplicate, pending=result.remaining)
                )  # fmt: skip
            elif self.reachable is None:
                LOG.info(kv("service.reachable", pending=result.remaining))
            self.reachable, self.failures, self._down_since = True, 0, None
        else:
            self.drain_errors.inc()
            if self.reachable is not False:
                self._down_since = now
                LOG.warning(kv("service.unreachable", pending=result.remaining, error=result.error))
            self.reachable = False
            self.failures += 1
        self.refresh(result.stats)
        return result

    def _log_refused(self, r: Mapping[str, Any]) -> None:
        http = r.get("http_status")
        kept = final_refusal(http)
        LOG.error(
            kv("record.refused", record_id=r.get("record_id"), http_status=http,
               error=r.get("error"), detail=r.get("detail"),
               reasons="; ".join(str(x) for x in r.get("reasons") or ()) or None,
               kept="refused" if kept else "pending")
        )  # fmt: skip

    def refresh(self, stats: OutboxStats | None = None) -> None:
        """Set the outbox gauges from ``stats``, or from the outbox when not given."""
        stats = stats if stats is not None else self.outbox.stats()
        self.depth.set(stats.depth)
        self.oldest.set(stats.oldest_age or 0.0)
        self.refused_kept.set(stats.refused)
        self.last_send.set(stats.last_send_at or 0.0)

    def _wait(self, seconds: float) -> None:
        pause(self._stop, seconds, self._sleep)

    def check_promises(self) -> None:
        """Judge the promises past their deadline (see :mod:`ingest.promises`)."""
        if self.keeper is None:
            return
        checked = self.keeper.check()
        if checked.broken:
            self.promises_broken.inc(len(checked.broken))
        self.promises_waiting.set(self.outbox.promise_counts()[0])

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.drain_once()
                if self._clock() - self._promises_at >= self.promise_interval:
                    self._promises_at = self._clock()
                    self.check_promises()
            except Exception as exc:  # the outbox itself failed (disk): log, keep trying
                self.failures += 1
                LOG.error(kv("drain.failed", error=exc, kind=type(exc).__name__))
            self._wait(self.delay())
        try:
            self.drain_once()  # the last attempt, after stop()
        except Exception as exc:
            LOG.error(kv("drain.failed", error=exc, kind=type(exc).__name__, last=True))

    def start(self) -> None:
        """Start the drain thread (logs refused items the outbox already holds)."""
        if self._thread is not None:
            raise RuntimeError("runner: already started")
        stats = self.outbox.stats()
        if stats.refused:
            LOG.error(
                kv("outbox.refused_kept", refused=stats.refused, outbox=self.outbox.path,
                   hint="the service refused these; see Outbox.refused()")
            )  # fmt: skip
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="evledger-drain", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> bool:
        """Stop the drain thread after one last drain attempt, waiting at most ``timeout``
        seconds; stop the metrics server. False when the thread did not end in time (it is a
        daemon thread and goes with the process)."""
        self._stop.set()
        ended = True
        if self._thread is not None:
            self._thread.join(timeout)
            ended = not self._thread.is_alive()
            if not ended:
                LOG.error(kv("drain.stop_timeout", timeout=float(timeout)))
            self._thread = None
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            if self._http_thread is not None:
                self._http_thread.join(timeout)
            self._http = self._http_thread = None
        return ended

    # -- metrics ------------------------------------------------------------------------------

    def serve_metrics(self, port: int, host: str = "127.0.0.1") -> int:
        """Serve this runner's registry at ``http://host:port/metrics`` (port 0: a free port);
        returns the bound port. :meth:`stop` shuts it down."""
        if self._http is not None:
            raise RuntimeError("runner: metrics already served")
        self._http, self._http_thread = start_http_server(port, addr=host, registry=self.registry)
        bound: int = self._http.server_port
        LOG.info(kv("metrics.serving", url=f"http://{host}:{bound}/metrics"))
        return bound
