"""The durable local outbox: every signed record is stored on the line PC before it is sent.

An ingester signs a record, :meth:`Outbox.put` stores it (SQLite, WAL, ``synchronous=FULL``:
once ``put`` returns, the record survives kill -9 and power loss), and :meth:`Outbox.drain`
sends what is pending through ``POST /v1/records/batch``, deleting exactly what the service
acknowledged (accepted or duplicate: resending a signed submission is idempotent).

    from ingest.client import Client
    from ingest.outbox import Outbox

    with Outbox(Path("scanner-1.outbox")) as box, Client("http://127.0.0.1:8000") as api:
        box.put(key.sign(record, "recorded", api.domain()), lot=record.get("lot"))
        result = box.drain(api)          # result.error set: back off, try again later

Rules:

* **Capture order.** Items are sent oldest first. The drain stops at the first transient
  failure (service unreachable, 5xx, an item answered with a retryable status), so a later
  item of a lot is never sent before an earlier one that has not landed.
* **Refused items** (a 4xx answer for that item: bad signature, unknown device, schema) are
  moved to the ``refused`` table with the service's answer, kept for the operator and never
  resent automatically; the items after them are sent as usual.
* **Caps.** ``max_records`` and ``max_bytes`` bound everything the outbox holds, pending and
  refused (refused items pile up when a device key is revoked: capture must stop then, too).
  Over a cap, or when the disk is full, ``put`` raises :class:`OutboxFull` and stores nothing:
  the ingester stops capturing loudly, it never drops a record silently.
* **Station lots.** ``put`` also keeps, per station, the lot of the last ``produce`` scan it
  stored (table ``station_lot``), so the PLC ingester on the same PC can put that lot on the
  readings it takes meanwhile (:class:`ProducedLots`; ``lot_from_scans`` in a register map).
* **Promises.** The ledger answers each accepted record with a promise signed by its log key
  (the entry will be in a signed checkpoint by a deadline). The outbox keeps each promise
  (table ``promises``) after the record itself has gone, until the record's anchored receipt
  verifies; :class:`ingest.promises.PromiseKeeper` checks them past their deadline and marks a
  promise the ledger broke, so the device itself notices a record that went missing there.
* **Format.** The database carries a ``meta`` row ``format`` = ``evledger-outbox`` and
  ``version`` = ``1``; another version is refused with a message saying which.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

from evledger_verify.errors import FormatError
from evledger_verify.promise import parse_promise_body

from ingest.client import (
    MAX_BATCH_ITEMS,
    BatchResult,
    ClientError,
    ServiceError,
    SignedSubmission,
    final_refusal,
)

__all__ = [
    "FORMAT",
    "MAX_BYTES",
    "MAX_RECORDS",
    "VERSION",
    "DrainResult",
    "Outbox",
    "OutboxError",
    "OutboxFull",
    "OutboxStats",
    "Pending",
    "ProducedLots",
    "Refused",
    "Sender",
]

FORMAT = "evledger-outbox"
VERSION = 1
GiB = 1024**3
#: The default caps: everything the outbox holds, pending and refused.
MAX_RECORDS = 1_000_000
MAX_BYTES = GiB


class OutboxError(ClientError):
    """The outbox cannot be opened or written (exit code 2: could not run)."""


class OutboxFull(OutboxError):
    """The outbox is over its cap or the disk is full: stop capturing, nothing was stored.
    ``disk`` says which: True for a full disk, False for a cap."""

    def __init__(self, message: str, *, disk: bool) -> None:
        super().__init__(message)
        self.disk = disk


class Sender(Protocol):
    """What :meth:`Outbox.drain` sends through: :class:`ingest.client.Client` is one."""

    def submit_batch(self, items: Sequence[SignedSubmission], chunk: int = ...) -> BatchResult:
        """One result per item, in order (see :meth:`ingest.client.Client.submit_batch`)."""


@dataclass(frozen=True)
class Pending:
    """A stored item not yet acknowledged by the service."""

    id: int
    lot: str | None
    record_id: str
    captured_at: float
    submission: SignedSubmission
    attempts: int
    last_error: str | None


@dataclass(frozen=True)
class Refused:
    """An item the service refused (4xx), kept for the operator; never resent automatically."""

    id: int
    lot: str | None
    record_id: str
    captured_at: float
    submission: SignedSubmission
    refused_at: float
    http_status: int | None
    error: str | None
    detail: str | None


@dataclass(frozen=True)
class DrainResult:
    """What one :meth:`Outbox.drain` did. ``error`` is why it stopped early (the caller backs
    off and drains again later); None when everything pending at the start was answered."""

    accepted: int = 0
    duplicate: int = 0
    refused: int = 0
    remaining: int = 0
    error: ClientError | None = None
    #: The outbox as the drain left it (read once, for the caller's gauges too).
    stats: OutboxStats | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class OutboxStats:
    """For metrics: items pending, age of the oldest (seconds, None when empty), refused items
    kept, bytes held, and the last time the service acknowledged an item (unix seconds)."""

    depth: int
    oldest_age: float | None
    refused: int
    bytes: int
    last_send_at: float | None


_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    lot TEXT,
    record_id TEXT NOT NULL UNIQUE,
    captured_at REAL NOT NULL,
    body TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT
);
CREATE TABLE refused (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    outbox_id INTEGER NOT NULL,
    lot TEXT,
    record_id TEXT NOT NULL,
    captured_at REAL NOT NULL,
    body TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    refused_at REAL NOT NULL,
    http_status INTEGER,
    error TEXT,
    detail TEXT
);
CREATE TABLE totals (
    only INTEGER PRIMARY KEY CHECK (only = 1),
    pending INTEGER NOT NULL, pending_bytes INTEGER NOT NULL,
    refused INTEGER NOT NULL, refused_bytes INTEGER NOT NULL
);
INSERT INTO totals VALUES (1, 0, 0, 0, 0);
{station_lot}
CREATE TRIGGER outbox_in AFTER INSERT ON outbox BEGIN
    UPDATE totals SET pending = pending + 1, pending_bytes = pending_bytes + length(NEW.body);
END;
CREATE TRIGGER outbox_out AFTER DELETE ON outbox BEGIN
    UPDATE totals SET pending = pending - 1, pending_bytes = pending_bytes - length(OLD.body);
END;
CREATE TRIGGER refused_in AFTER INSERT ON refused BEGIN
    UPDATE totals SET refused = refused + 1, refused_bytes = refused_bytes + length(NEW.body);
END;
CREATE TRIGGER refused_out AFTER DELETE ON refused BEGIN
    UPDATE totals SET refused = refused - 1, refused_bytes = refused_bytes - length(OLD.body);
END;
"""
#: Added within version 1 (an outbox without it gets it when opened; older code ignores it).
_STATION_LOT = """
CREATE TABLE IF NOT EXISTS station_lot (
    station TEXT PRIMARY KEY,
    lot TEXT NOT NULL,
    record_id TEXT NOT NULL,
    scanned_at TEXT NOT NULL
);
"""
_PROMISES = """
CREATE TABLE IF NOT EXISTS promises (
    record_id TEXT PRIMARY KEY,
    lot TEXT,
    promise TEXT NOT NULL,
    deadline REAL NOT NULL,
    state TEXT NOT NULL DEFAULT 'waiting' CHECK (state IN ('waiting', 'broken')),
    checked_at REAL NOT NULL DEFAULT 0,
    detail TEXT
);
"""
_SCHEMA = _SCHEMA.replace("{station_lot}", _STATION_LOT + _PROMISES)
_PRODUCED = (
    "INSERT INTO station_lot VALUES (?, ?, ?, ?) ON CONFLICT (station) DO UPDATE SET "
    "lot = excluded.lot, record_id = excluded.record_id, scanned_at = excluded.scanned_at "
    "WHERE excluded.scanned_at >= station_lot.scanned_at"
)


class Outbox:
    """A durable queue of signed submissions in one SQLite file (see the module docstring).

    One object may be shared by a capture thread and a drain thread; drains are serialized.
    ``clock`` (unix seconds) is injectable for tests.
    """

    def __init__(
        self,
        path: Path,
        *,
        max_records: int = MAX_RECORDS,
        max_bytes: int = MAX_BYTES,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if max_records < 1 or max_bytes < 1:
            raise ValueError("outbox caps: expected max_records >= 1 and max_bytes >= 1")
        self.path = Path(path)
        self.max_records, self.max_bytes = max_records, max_bytes
        self._clock = clock
        self._lock = threading.Lock()
        self._drain_lock = threading.Lock()
        try:
            self._db = sqlite3.connect(
                self.path, timeout=30.0, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise OutboxError(f"outbox {self.path}: cannot open: {exc}") from None
        try:
            self._open()
        except BaseException:
            self._db.close()
            raise

    def _open(self) -> None:
        try:
            mode = self._db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise OutboxError(f"outbox {self.path}: journal mode: expected wal, got {mode}")
            self._db.execute("PRAGMA synchronous=FULL")
            with self._write():
                tables = {
                    r[0]
                    for r in self._db.execute("SELECT name FROM sqlite_master WHERE type='table'")
                }
                if not tables:
                    for statement in _statements(_SCHEMA):
                        self._db.execute(statement)
                    self._db.executemany(
                        "INSERT INTO meta VALUES (?, ?)",
                        [("format", FORMAT), ("version", str(VERSION))],
                    )
                    return
                if "meta" not in tables:
                    raise OutboxError(
                        f"outbox {self.path}: expected an {FORMAT} database, got an SQLite "
                        f"database with tables {', '.join(sorted(tables))}"
                    )
                meta = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
                if meta.get("format") == FORMAT and meta.get("version") == str(VERSION):
                    self._db.execute(_STATION_LOT)
                    self._db.execute(_PROMISES)
        except sqlite3.OperationalError as exc:
            raise self._wrap(exc, "open") from None
        except sqlite3.DatabaseError as exc:
            raise OutboxError(
                f"outbox {self.path}: expected an {FORMAT} SQLite database, got {exc}"
            ) from None
        if meta.get("format") != FORMAT:
            raise OutboxError(
                f"outbox {self.path}: format: expected {FORMAT!r}, got {meta.get('format')!r}"
            )
        if meta.get("version") != str(VERSION):
            raise OutboxError(
                f"outbox {self.path}: format version: expected {VERSION}, got "
                f"{meta.get('version')!r}; it was written by another evledger version: drain it "
                "with that version, or upgrade this one"
            )

    # -- plumbing -----------------------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[None]:
        """One write transaction (BEGIN IMMEDIATE ... COMMIT), rolled back on any error."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:  # a failed COMMIT (disk full) may leave it open
                    self._db.execute("ROLLBACK")
                raise

    def _wrap(self, exc: sqlite3.Error, what: str) -> OutboxError:
        if getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL:
            return OutboxFull(
                f"outbox {self.path}: {what}: the disk is full ({exc}); capture must stop "
                "until space is freed",
                disk=True,
            )
        return OutboxError(f"outbox {self.path}: {what}: {exc}")

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Outbox:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- capture ------------------------------------------------------------------------------

    def put(self, signed: SignedSubmission, *, lot: str | None) -> None:
        """Store ``signed`` durably (returns once it is on disk). The same record id with the
        same body again is a no-op; with another body it raises :class:`OutboxError`. Raises
        :class:`OutboxFull` over a cap or on a full disk, storing nothing."""
        self.put_many([(signed, lot)])

    def put_many(self, items: Sequence[tuple[SignedSubmission, str | None]]) -> None:
        """:meth:`put` for several records in one transaction (one sync to disk): all are
        stored, in order, or none is."""
        rows: list[tuple[SignedSubmission, str | None, dict[str, Any], str]] = []
        for signed, lot in items:
            data = signed.to_json()
            try:
                body = json.dumps(data, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
            except (TypeError, ValueError) as exc:
                raise OutboxError(
                    f"outbox put {signed.record_id}: expected a JSON submission, got {exc}"
                ) from None
            rows.append((signed, lot, data, body))
        if not rows:
            return
        current = rows[0][0].record_id
        try:
            with self._write():
                records, held = self._db.execute(
                    "SELECT pending + refused, pending_bytes + refused_bytes FROM totals"
                ).fetchone()
                for signed, lot, data, body in rows:
                    current = signed.record_id
                    row = self._db.execute(
                        "SELECT body FROM outbox WHERE record_id = ?", (signed.record_id,)
                    ).fetchone()
                    if row is not None:
                        if json.loads(row[0]) == data:
                            continue
                        raise OutboxError(
                            f"outbox put {signed.record_id}: record id already pending with "
                            "another body (record, signature, meaning or time differ); "
                            "expected the same signed submission or a new record id"
                        )
                    size = len(body.encode())
                    if records + 1 > self.max_records or held + size > self.max_bytes:
                        raise OutboxFull(
                            f"outbox {self.path}: full: holds {records} records and {held} "
                            f"bytes, cap {self.max_records} records and {self.max_bytes} "
                            f"bytes; cannot add {signed.record_id} ({size} bytes). Capture "
                            "must stop until the outbox drains (is the service reachable? are "
                            "refused items piling up?)",
                            disk=False,
                        )
                    self._db.execute(
                        "INSERT INTO outbox (lot, record_id, captured_at, body) "
                        "VALUES (?, ?, ?, ?)",
                        (lot, signed.record_id, self._clock(), body),
                    )
                    produced = _produced(signed.record)
                    if produced is not None:
                        self._db.execute(_PRODUCED, produced)
                    records, held = records + 1, held + size
        except sqlite3.Error as exc:
            raise self._wrap(exc, f"put {current}") from None

    # -- promises ---------------------------------------------------------------------------

    def due_promises(self, now: float, recheck: float, limit: int = 100) -> list[tuple[str, str]]:
        """(record id, promise note) of waiting promises past their deadline that were not
        checked in the last ``recheck`` seconds, oldest deadline first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT record_id, promise FROM promises WHERE state = 'waiting' AND "
                "deadline <= ? AND checked_at <= ? ORDER BY deadline LIMIT ?",
                (now, now - recheck, limit),
            ).fetchall()
        return [(str(r[0]), str(r[1])) for r in rows]

    def settle_promise(
        self, record_id: str, state: str, now: float, detail: str | None = None
    ) -> None:
        """``kept`` forgets the promise (its anchored receipt verified); ``waiting`` notes the
        check; ``broken`` keeps it, marked, for the operator."""
        try:
            with self._write():
                if state == "kept":
                    self._db.execute("DELETE FROM promises WHERE record_id = ?", (record_id,))
                else:
                    self._db.execute(
                        "UPDATE promises SET state = ?, checked_at = ?, detail = ? "
                        "WHERE record_id = ?",
                        (state, now, detail, record_id),
                    )
        except sqlite3.Error as exc:
            raise self._wrap(exc, f"settle promise {record_id}") from None

    def promise_counts(self) -> tuple[int, int]:
        """(waiting, broken) promises held."""
        with self._lock:
            rows = dict(
                self._db.execute("SELECT state, count(*) FROM promises GROUP BY state").fetchall()
            )
        return int(rows.get("waiting", 0)), int(rows.get("broken", 0))

    def broken_promises(self) -> list[tuple[str, str | None]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT record_id, detail FROM promises WHERE state = 'broken' ORDER BY deadline"
            ).fetchall()
        return [(str(r[0]), r[1]) for r in rows]

    # -- reading ------------------------------------------------------------------------------

    def pending(self, limit: int = MAX_BATCH_ITEMS, *, upto: int | None = None) -> list[Pending]:
        """The oldest ``limit`` pending items, in capture order (ids up to ``upto``)."""
        sql = (
            "SELECT id, lot, record_id, captured_at, body, attempts, last_error FROM outbox "
            "WHERE id <= ? ORDER BY id LIMIT ?"
        )
        with self._lock:
            rows = self._db.execute(
                sql, (upto if upto is not None else 2**63 - 1, limit)
            ).fetchall()
        return [Pending(r[0], r[1], r[2], r[3], _submission(r[4]), r[5], r[6]) for r in rows]

    def refused(self, limit: int = 1000) -> list[Refused]:
        """Refused items, oldest first, for the operator."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, lot, record_id, captured_at, body, refused_at, http_status, error, "
                "detail FROM refused ORDER BY id LIMIT ?",
                (limit,),
            ).fetchall()
        return [
            Refused(r[0], r[1], r[2], r[3], _submission(r[4]), r[5], r[6], r[7], r[8]) for r in rows
        ]

    def stats(self) -> OutboxStats:
        with self._lock:
            depth, pending_bytes, refused, refused_bytes = self._db.execute(
                "SELECT pending, pending_bytes, refused, refused_bytes FROM totals"
            ).fetchone()
            oldest = self._db.execute(
                "SELECT captured_at FROM outbox ORDER BY id LIMIT 1"
            ).fetchone()
            last = self._db.execute("SELECT value FROM meta WHERE key = 'last_send_at'").fetchone()
        return OutboxStats(
            depth=depth,
            oldest_age=None if oldest is None else max(0.0, self._clock() - oldest[0]),
            refused=refused,
            bytes=pending_bytes + refused_bytes,
            last_send_at=None if last is None else float(last[0]),
        )

    # -- sending ------------------------------------------------------------------------------

    def drain(self, client: Sender, *, batch: int = MAX_BATCH_ITEMS) -> DrainResult:
        """Send what is pending now, oldest first, ``batch`` items per request; stop at the
        first transient failure (see the module docstring). Errors from the service are
        returned in :attr:`DrainResult.error`, not raised."""
        if not 1 <= batch <= MAX_BATCH_ITEMS:
            raise ValueError(f"drain batch: expected 1..{MAX_BATCH_ITEMS}, got {batch}")
        counts = {"accepted": 0, "duplicate": 0, "refused": 0}
        error: ClientError | None = None
        with self._drain_lock:
            with self._lock:
                top = self._db.execute("SELECT max(id) FROM outbox").fetchone()[0]
            while top is not None and error is None:
                items = self.pending(batch, upto=top)
                if not items:
                    break
                try:
                    answer = client.submit_batch([i.submission for i in items], chunk=batch)
                except ClientError as exc:
                    error = exc
                    self._failed(items, str(exc))
                    break
                error = self._apply(items, answer.results, counts)
        stats = self.stats()
        return DrainResult(
            accepted=counts["accepted"],
            duplicate=counts["duplicate"],
            refused=counts["refused"],
            remaining=stats.depth,
            error=error,
            stats=stats,
        )

    def _failed(self, items: Sequence[Pending], message: str) -> None:
        try:
            with self._write():
                self._db.executemany(
                    "UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE id = ?",
                    [(message, i.id) for i in items],
                )
        except sqlite3.Error as exc:
            raise self._wrap(exc, "record a failed send") from None

    def _apply(
        self,
        items: Sequence[Pending],
        results: Sequence[dict[str, Any]],
        counts: dict[str, int],
    ) -> ClientError | None:
        """Delete the acknowledged, move the refused, note the rest; returns the first
        transient failure, if any. Items after a transient failure in the same request were
        already sent: what the service acknowledged of them is deleted too."""
        by_index = {r.get("index"): r for r in results}
        now = self._clock()
        first: ClientError | None = None
        try:
            with self._write():
                for i, item in enumerate(items):
                    r = by_index.get(i, {})
                    status, http = r.get("status"), r.get("http_status")
                    same = r.get("record_id") in (None, item.record_id)
                    if same and status in ("accepted", "duplicate"):
                        self._db.execute("DELETE FROM outbox WHERE id = ?", (item.id,))
                        counts[str(status)] += 1
                        promise = r.get("promise")
                        if isinstance(promise, str):
                            self._db.execute(
                                "INSERT OR IGNORE INTO promises (record_id, lot, promise, "
                                "deadline) VALUES (?, ?, ?, ?)",
                                (item.record_id, item.lot, promise, _deadline(promise, now)),
                            )
                    elif same and status == "refused" and final_refusal(http):
                        self._move_refused(item, r, now)
                        counts["refused"] += 1
                    else:
                        message = (
                            f"service: item {item.record_id}: expected accepted, duplicate or "
                            f"refused (4xx), got {status!r} ({http}) {r.get('error')}: "
                            f"{r.get('detail')}"
                        )
                        self._db.execute(
                            "UPDATE outbox SET attempts = attempts + 1, last_error = ? "
                            "WHERE id = ?",
                            (message, item.id),
                        )
                        if first is None:
                            first = ServiceError(message, http if isinstance(http, int) else None)
                if counts["accepted"] or counts["duplicate"]:
                    self._db.execute(
                        "INSERT OR REPLACE INTO meta VALUES ('last_send_at', ?)", (str(now),)
                    )
        except sqlite3.Error as exc:
            raise self._wrap(exc, "record sent items") from None
        return first

    def _move_refused(self, item: Pending, r: dict[str, Any], now: float) -> None:
        detail = r.get("detail")
        reasons = r.get("reasons")
        if isinstance(reasons, list) and reasons:
            detail = f"{detail}; " + "; ".join(str(x) for x in reasons)
        self._db.execute(
            "INSERT INTO refused (outbox_id, lot, record_id, captured_at, body, attempts, "
            "refused_at, http_status, error, detail) "
            "SELECT id, lot, record_id, captured_at, body, attempts + 1, ?, ?, ?, ? "
            "FROM outbox WHERE id = ?",
            (now, r.get("http_status"), r.get("error"), detail, item.id),
        )
        self._db.execute("DELETE FROM outbox WHERE id = ?", (item.id,))


def _deadline(note: str, now: float) -> float:
    """The promise's deadline (unix seconds); ``now`` when it cannot be read (the keeper then
    checks it at once and reports it)."""
    try:
        body = note[: note.rindex("\n\n") + 1]
        return parse_promise_body(body).deadline.timestamp()
    except (ValueError, FormatError):
        return now


def _produced(record: dict[str, Any]) -> tuple[str, str, str, str] | None:
    """(station, lot, record id, scan time) of a ``produce`` scan with a lot, else None."""
    if record.get("type") != "scan" or record.get("operation") != "produce":
        return None
    station, lot, at = record.get("station"), record.get("lot"), record.get("scanned_at")
    if not (isinstance(station, str) and isinstance(lot, str) and isinstance(at, str)):
        return None
    return station, lot, str(record.get("record_id")), at


class ProducedLots:
    """Reads, from a scanner ingester's outbox, the lot last produced at a station.

    Opened read-only, by another process than the scanner's (the PLC ingester): SQLite's WAL
    lets it read while the scanner writes. The outbox must exist (start the scanner first).
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._db: sqlite3.Connection | None = None

    def lot(self, station: str) -> str | None:
        """The lot of the last produce scan at ``station``, None before the first one.
        Raises :class:`OutboxError` when the outbox cannot be read."""
        try:
            if self._db is None:
                uri = self.path.resolve().as_uri() + "?mode=ro"
                self._db = sqlite3.connect(uri, uri=True, timeout=5.0, check_same_thread=False)
            row = self._db.execute(
                "SELECT lot FROM station_lot WHERE station = ?", (station,)
            ).fetchone()
        except sqlite3.Error as exc:
            self.close()
            raise OutboxError(
                f"scanner outbox {self.path}: cannot read station lots: {exc}"
            ) from None
        return None if row is None else str(row[0])

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


def _statements(script: str) -> list[str]:
    """Split the schema into statements (triggers hold semicolons; each ends with END;)."""
    out: list[str] = []
    buf = ""
    for line in script.strip().splitlines():
        buf += line + "\n"
        if sqlite3.complete_statement(buf):
            out.append(buf.strip())
            buf = ""
    return out


def _submission(body: str) -> SignedSubmission:
    data = json.loads(body)
    return SignedSubmission(
        data["record"], data["signature"], data["meaning"], data["signed_at"], data["signer"]
    )
