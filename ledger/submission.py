"""Accepting signed records: one at a time or in batches, through one path.

    submitter = Submitter(engine, identity)
    results = submitter.submit_batch([Submission(record, signature, meaning, signed_at), ...])

Each item is judged exactly as a single submission is: the envelope and schema, the signature
(EIP-712, recovered straight on secp256k1), the signer's authority at the signing time, the
workflow and gating rules, idempotency on ``record_id``. Work that needs no database (canonical
form, hash, schema, signature) is done first, per item; then one transaction takes the
registry lock, the locks of every lot and subject in the batch (sorted, so concurrent batches
cannot deadlock), reads which ids exist and each lot's head once, judges the items in order and
inserts the accepted ones in bulk. Items of one lot keep their order, so per-lot chains stay
intact; a refused item stores nothing and does not stop the others.
"""

from __future__ import annotations

import hashlib
import logging
import queue
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from eth_account.signers.local import LocalAccount
from eth_typing import Hash32
from evledger_verify.errors import FormatError, SignatureInvalidError
from evledger_verify.merkle import leaf_hash
from evledger_verify.policy import DEFAULT_POLICY, Policy
from evledger_verify.records import (
    Entry,
    RecordHash,
    canonical_json,
    eip712_digest,
    normalize_signature,
    record_hash,
    recover_signer,
)
from evledger_verify.rules import Refused, check_times

from ledger import locks
from ledger.domain.lots import subject_of
from ledger.domain.refusals import as_error
from ledger.domain.rules import Rules
from ledger.domain.schemas import ID_PATTERN, LOT_PATTERN, parse_record
from ledger.errors import (
    AuthorizationError,
    ConflictError,
    InvalidRecordError,
    LedgerError,
    SignatureError,
)
from ledger.identity import Identity
from ledger.signers import Registry, RegistryCache, load_registry
from ledger.storage import copy_records, iso_utc

__all__ = [
    "AUDIT_ALERT_PREFIX",
    "MEANINGS",
    "GroupCommit",
    "ItemResult",
    "Submission",
    "SubmitResult",
    "Submitter",
    "validate_record",
]

#: Record ids of the alerts `evledger audit --every` raises.
AUDIT_ALERT_PREFIX = "audit-alert-"
MEANINGS = ("authored", "reviewed", "approved", "released", "verified", "recorded")
_RECORD_ID = re.compile(ID_PATTERN.removesuffix("$"))
_RECORD_TYPE = re.compile(r"^[a-z][a-z_]{0,63}")
_LOT = re.compile(LOT_PATTERN.removesuffix("$"))
#: Lots a URL path cannot carry as one segment (``/v1/lots/{lot}``): clients normalize dot
#: segments away (a slash is sent as %2F, see api.paths).
_UNSERVABLE_LOTS = (".", "..")
#: Record types whose rules read the ledger's state (history of an entity, the lot's records):
#: pending inserts are written before they are judged, so they see earlier items of the batch.
_STATEFUL = frozenset(
    {
        "ncr",
        "capa",
        "change",
        "alert",
        "release",
        "correction",
        "recall",
        "review",
        "complaint",
        "hold",
        "field_action",
    }
)
#: Records whose rules read master data, and the master data they read: an inspection after a
#: calibration (or its inspector's training record) in the same batch is judged with it.
_READS_MASTER = frozenset({"inspection", "specification"})
_MASTER = frozenset(
    {"specification", "equipment", "calibration", "supplier", "change", "training"}
)
_RETRIES = 3
_log = logging.getLogger("evledger.submission")


@dataclass(frozen=True)
class Submission:
    record: dict[str, Any]
    signature: str
    meaning: str
    signed_at: int
    signer: str | None = None  # optional claim; must match the recovered signer


@dataclass(frozen=True)
class SubmitResult:
    record_id: str
    record_hash: str
    signer: str
    accepted_at: str
    duplicate: bool
    #: The RFC 9162 leaf hash of the logged entry.
    leaf_hash: bytes = b""
    #: The log's signed acceptance promise (ledger.promises), when the ledger holds the log key.
    promise: str | None = None

    def to_json(self) -> dict[str, Any]:
        out = {
            "record_id": self.record_id,
            "record_hash": self.record_hash,
            "leaf_hash": self.leaf_hash.hex(),
            "signer": self.signer,
            "accepted_at": self.accepted_at,
            "status": "duplicate" if self.duplicate else "accepted",
            "receipt_url": f"/v1/records/{self.record_id}/receipt",
        }
        if self.promise is not None:
            out["promise"] = self.promise
        return out


@dataclass(frozen=True)
class ItemResult:
    """One batch item's answer: a result (accepted or duplicate) or the error that refused it."""

    index: int
    record_id: str | None
    result: SubmitResult | None = None
    error: LedgerError | None = None

    def unwrap(self) -> SubmitResult:
        """The result, or raise the error that refused the item."""
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return self.result

    @property
    def http_status(self) -> int:
        if self.error is not None:
            return self.error.status if self.error.status < 500 else 503
        assert self.result is not None
        return 200 if self.result.duplicate else 201

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"index": self.index, "record_id": self.record_id}
        if self.result is not None:
            out.update(self.result.to_json())
        else:
            assert self.error is not None
            out["status"] = "refused"
            out["error"] = self.error.code
            out["detail"] = str(self.error)
            if self.error.reasons:
                out["reasons"] = self.error.reasons
        out["http_status"] = self.http_status
        return out


def validate_record(record: Any) -> tuple[str, str, str | None]:
    """Check the envelope every record shares; returns (record_id, type, lot)."""
    if not isinstance(record, dict):
        raise InvalidRecordError(f"record: expected a JSON object, got {type(record).__name__}")
    rid = record.get("record_id")
    if not isinstance(rid, str) or not _RECORD_ID.fullmatch(rid):
        raise InvalidRecordError(
            "record.record_id: expected 1-128 characters of A-Z a-z 0-9 . _ : - "
            f"starting with a letter or digit, got {rid!r}"
        )
    rtype = record.get("type")
    if not isinstance(rtype, str) or not _RECORD_TYPE.fullmatch(rtype):
        raise InvalidRecordError(f"record.type: expected a lowercase type name, got {rtype!r}")
    lot = record.get("lot")
    if lot is not None and (not isinstance(lot, str) or not _LOT.fullmatch(lot)):
        raise InvalidRecordError(
            f"record.lot: expected 1-128 printable ASCII characters (GS1 AI 10), got {lot!r}"
        )
    if lot in _UNSERVABLE_LOTS:
        raise InvalidRecordError(
            f"record.lot: {lot!r} cannot be a lot id (a URL path cannot carry it)"
        )
    return rid, rtype, lot


@dataclass
class _Checked:
    """An item after the checks that need no database."""

    index: int
    sub: Submission
    record_id: str
    rtype: str
    lot: str | None
    subject: str | None
    model: Any
    body: bytes
    rhash: RecordHash
    signer: str


@dataclass
class _Pending:
    """Accepted items not yet written (flushed before a stateful rule reads the database)."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    #: (item, accepted_at, leaf hash)
    items: list[tuple[_Checked, str, bytes]] = field(default_factory=list)
    #: Whether ``rows`` hold master data (which an inspection or specification reads).
    master: bool = False

    def before(self, rtype: str, record: Mapping[str, Any]) -> bool:
        """Whether the rows must be written before ``record`` (of type ``rtype``) is judged:
        its rules read what they hold. An inspection reads its lot only as a retest, and the
        earlier inspections of its product stream only under a sampling plan."""
        return bool(self.rows) and (
            rtype in _STATEFUL
            or (rtype in _READS_MASTER and self.master)
            or (rtype == "inspection" and ("retest" in record or "sampling" in record))
        )


class Submitter:
    def __init__(
        self,
        engine: sa.Engine,
        identity: Identity,
        *,
        policy: Policy = DEFAULT_POLICY,
        max_device_backlog: int = 30 * 86400,
        clock: Callable[[], float] = time.time,
        promiser: Callable[[SubmitResult], str] | None = None,
    ) -> None:
        self.engine = engine
        self.identity = identity
        #: Signs each accepted (or duplicate) result's acceptance promise (ledger.promises).
        self.promiser = promiser
        #: What the rules judge with (required stages, duties, signature age, clock skew).
        self.policy = policy
        self.max_clock_skew = policy.max_clock_skew
        #: How old a device's signature may be: a scanner or PLC signs at capture and keeps the
        #: record in its outbox through an outage; the capture time must survive it.
        self.max_device_backlog = max(max_device_backlog, policy.max_signature_age)
        self.clock = clock
        self.registry = RegistryCache()
        #: Told the record types of each call that stored new records (the SPC monitor wakes).
        self.on_stored: Callable[[set[str]], None] | None = None

    def submit_signed(
        self,
        record: dict[str, Any],
        account: LocalAccount,
        meaning: str,
        *,
        bootstrap: bool = False,
    ) -> SubmitResult:
        """Sign ``record`` now with a key the ledger holds itself (bootstrap admin, audit key)
        and submit it like any other record; raises the error that refused it."""
        signed_at = int(self.clock())
        digest = Hash32(self.digest(record, meaning, signed_at))
        signature = account.unsafe_sign_hash(digest).signature.to_0x_hex()
        (item,) = self.submit_batch(
            [Submission(record, signature, meaning, signed_at)], bootstrap=bootstrap
        )
        return item.unwrap()

    def digest(self, record: Mapping[str, Any], meaning: str, signed_at: int) -> bytes:
        """The EIP-712 digest for ``record`` (not validated: signing is not accepting)."""
        rid, rtype = str(record.get("record_id")), str(record.get("type"))
        return eip712_digest(
            self.identity.domain, rid, rtype, record_hash(record), meaning, signed_at
        )

    # -- checks without the database ----------------------------------------------------------

    def check(self, index: int, sub: Submission) -> _Checked:
        """Envelope, canonical form, schema, meaning, signing time and signature."""
        rid, rtype, lot = validate_record(sub.record)
        try:
            body = canonical_json(sub.record)
        except FormatError as exc:
            raise InvalidRecordError(f"record: {exc}") from exc
        model = parse_record(sub.record)
        rhash = RecordHash(hashlib.sha256(body).digest())  # record_hash() of the same bytes
        if sub.meaning not in MEANINGS:
            raise InvalidRecordError(
                f"meaning: expected one of {', '.join(MEANINGS)}, got {sub.meaning!r}"
            )
        now = int(self.clock())
        if not isinstance(sub.signed_at, int) or sub.signed_at > now + self.max_clock_skew:
            raise InvalidRecordError(
                f"signed_at: expected a unix time not after now ({now}) + "
                f"{self.max_clock_skew} s, got {sub.signed_at}"
            )
        if sub.signed_at < now - self.max_device_backlog:  # older than anyone may sign
            raise _too_old(sub.signed_at, now, self.max_device_backlog, "a device's backlog")
        digest = eip712_digest(self.identity.domain, rid, rtype, rhash, sub.meaning, sub.signed_at)
        signature = normalize_signature(sub.signature)
        try:
            signer = recover_signer(digest, signature)
        except SignatureInvalidError as exc:
            raise SignatureError(str(exc)) from exc
        if sub.signer is not None and sub.signer.lower() != signer.lower():
            raise SignatureError(
                f"signature: expected a signature by {sub.signer}, it recovers to {signer} "
                "(signed over other data, or with another key)"
            )
        return _Checked(
            index=index,
            sub=Submission(sub.record, signature, sub.meaning, sub.signed_at, sub.signer),
            record_id=rid,
            rtype=rtype,
            lot=lot,
            subject=subject_of(sub.record),
            model=model,
            body=body,
            rhash=rhash,
            signer=signer,
        )

    # -- submission ---------------------------------------------------------------------------

    def submit_batch(
        self, subs: Sequence[Submission], *, bootstrap: bool = False
    ) -> list[ItemResult]:
        """Judge and store ``subs``; one result per item, in order."""
        results: dict[int, ItemResult] = {}
        checked: list[_Checked] = []
        for i, sub in enumerate(subs):
            try:
                checked.append(self.check(i, sub))
            except LedgerError as exc:
                rid = sub.record.get("record_id") if isinstance(sub.record, dict) else None
                results[i] = ItemResult(i, rid if isinstance(rid, str) else None, error=exc)
        if checked:
            for attempt in range(_RETRIES):
                try:
                    results.update(self._store(checked, bootstrap))
                    break
                except sa.exc.IntegrityError:
                    # A concurrent writer inserted one of our ids between our look-up and our
                    # insert: nothing of ours was stored; judge the batch again.
                    if attempt == _RETRIES - 1:
                        raise ConflictError(
                            "batch: concurrent submissions of the same record ids kept "
                            "colliding; send the batch again"
                        ) from None
        if self.on_stored is not None:
            stored = {c.rtype for c in checked if _new(results.get(c.index))}
            if stored:
                self.on_stored(stored)
        if self.promiser is not None:
            promise = self.promiser
            for i, item in results.items():
                if item.result is not None:
                    signed = replace(item.result, promise=promise(item.result))
                    results[i] = replace(item, result=signed)
        return [results[i] for i in range(len(subs))]

    def _store(self, items: list[_Checked], bootstrap: bool) -> dict[int, ItemResult]:
        out: dict[int, ItemResult] = {}
        with self.engine.begin() as conn:
            lots = sorted({c.lot for c in items if c.lot is not None})
            key_row = locks.take(
                conn,
                registry_exclusive=any(c.rtype == "signer" for c in items),
                lots=lots,
                subjects=[c.subject for c in items if c.subject is not None],
                then=RegistryCache.KEY_SQL,
            ).one()
            registry = self.registry.get(conn, key_row)
            existing = self._existing(conn, [c.record_id for c in items])
            heads = self._lot_heads(conn, lots)
            rules = Rules(conn, registry, self.policy)
            pending = _Pending()
            seen: dict[str, tuple[_Checked, str, bytes]] = {}  # accepted earlier in this batch
            for c in items:
                try:
                    earlier = seen.get(c.record_id)
                    if earlier is not None:
                        out[c.index] = ItemResult(
                            c.index, c.record_id, result=_same_as_earlier(*earlier, c)
                        )
                        continue
                    row = existing.get(c.record_id)
                    if row is not None:
                        out[c.index] = ItemResult(c.index, c.record_id, result=_idempotent(row, c))
                        continue
                    roles = self.authorize(registry, c, bootstrap)
                    if pending.before(c.rtype, c.sub.record):
                        self._flush(conn, pending, out)
                        rules.forget()
                    if not bootstrap:
                        rules.check(
                            c.model,
                            c.sub.record,
                            c.sub.meaning,
                            c.signer,
                            roles,
                            c.sub.signed_at,
                        )
                except LedgerError as exc:
                    out[c.index] = ItemResult(c.index, c.record_id, error=exc)
                    continue
                accepted = datetime.now(UTC)
                entry = Entry(
                    record_id=c.record_id,
                    record_type=c.rtype,
                    record_hash=c.rhash.hex(),
                    lot=c.lot,
                    lot_prev=heads.get(c.lot) if c.lot is not None else None,
                    signer=c.signer,
                    meaning=c.sub.meaning,
                    signed_at=c.sub.signed_at,
                    signature=c.sub.signature,  # normalized: lowercase, v = 27/28
                    salt=secrets.token_hex(32),
                    accepted_at=iso_utc(accepted),
                )
                entry_bytes = entry.canonical()
                leaf = leaf_hash(entry_bytes)
                if c.lot is not None:
                    heads[c.lot] = leaf.hex()
                pending.rows.append(
                    {
                        "record_id": c.record_id,
                        "record_type": c.rtype,
                        "lot": c.lot,
                        "subject": c.subject,
                        "body": c.body,
                        "record_hash": c.rhash,
                        "signer": c.signer,
                        "meaning": c.sub.meaning,
                        "signed_at": c.sub.signed_at,
                        "signature": c.sub.signature,
                        "entry": entry_bytes,
                        "leaf_hash": leaf,
                        "accepted_at": accepted,
                    }
                )
                pending.items.append((c, entry.accepted_at, leaf))
                pending.master |= c.rtype in _MASTER
                seen[c.record_id] = (c, entry.accepted_at, leaf)
                if c.rtype == "signer":
                    # Later items are judged against the registry this record changes.
                    self._flush(conn, pending, out)
                    registry = load_registry(conn)
                    rules = Rules(conn, registry, self.policy)
            self._flush(conn, pending, out)
        return out

    @staticmethod
    def _flush(conn: sa.Connection, pending: _Pending, out: dict[int, ItemResult]) -> None:
        """Insert the accepted rows and queue them for the sealer, in acceptance order."""
        if not pending.rows:
            return
        # Sequence numbers follow the list order, so a lot's chain follows log order.
        copy_records(conn, pending.rows)
        for c, accepted_at, leaf in pending.items:
            result = SubmitResult(c.record_id, c.rhash.hex(), c.signer, accepted_at, False, leaf)
            out[c.index] = ItemResult(c.index, c.record_id, result=result)
        pending.rows.clear()
        pending.items.clear()
        pending.master = False

    @staticmethod
    def _existing(conn: sa.Connection, ids: list[str]) -> dict[str, Any]:
        # Plain SQL on the hot path: building SQLAlchemy expressions per call cost more than
        # the round trip.
        rows = conn.exec_driver_sql(
            "SELECT record_id, body, record_hash, signer, signature, meaning, signed_at, "
            "accepted_at, leaf_hash FROM records WHERE record_id = ANY(%(ids)s)",
            {"ids": sorted(set(ids))},
        )
        return {r.record_id: r for r in rows}

    @staticmethod
    def _lot_heads(conn: sa.Connection, lots: list[str]) -> dict[str | None, str]:
        """Leaf hash of each lot's latest record (under the lots' locks, held until commit)."""
        if not lots:
            return {}
        # One index probe per lot (the newest entry of ix_records_lot_seq); DISTINCT ON would
        # read every entry of the lots, seconds per batch once lots hold thousands of records.
        rows = conn.exec_driver_sql(
            "SELECT l.lot, h.leaf_hash FROM unnest(%(lots)s::text[]) AS l(lot) "
            "CROSS JOIN LATERAL (SELECT leaf_hash FROM records WHERE records.lot = l.lot "
            "ORDER BY seq DESC LIMIT 1) AS h",
            {"lots": lots},
        )
        return {lot: bytes(h).hex() for lot, h in rows}

    def authorize(self, registry: Registry, c: _Checked, bootstrap: bool) -> tuple[str, ...]:
        """The signer's roles at the signing time; refuses unknown, revoked, compromised and
        not-yet-valid signers, and registry changes that would leave no admin."""
        rec, signer = c.sub.record, c.signer
        if bootstrap:
            if (
                len(registry)
                or c.rtype != "signer"
                or rec.get("action") != "grant"
                or str(rec.get("address", "")).lower() != signer.lower()
                or "admin" not in rec.get("roles", [])
            ):
                raise AuthorizationError(
                    "bootstrap: only a self-signed admin grant on an empty registry"
                )
            return ("admin",)
        state = registry.get(signer)
        if state is None:
            raise AuthorizationError(
                f"signer {signer}: not registered on this ledger (if your key is registered, "
                "the signature was made over other data: check the record, meaning, signed_at, "
                "chain id and contract)"
            )
        if state.compromised_by is not None:
            raise AuthorizationError(
                f"signer {signer} ({state.name}): key reported compromised by "
                f"{state.compromised_by}; no signature by it is accepted any more"
            )
        # How old a person's signature may be is a rule (evledger_verify.rules, "time"), judged
        # with the others, and first: a stale signature is refused as such, whoever made it.
        # Only a device's may be as old as its backlog (checked above).
        now = int(self.clock())
        roles = state.roles_at(c.sub.signed_at)
        try:
            check_times(c.sub.record, roles or (), c.sub.signed_at, now, self.policy)
        except Refused as exc:
            raise as_error(exc) from None
        if roles is None:
            raise AuthorizationError(
                f"signer {signer} ({state.name}): not an active signer at the signing time "
                f"{c.sub.signed_at}" + (" (revoked)" if state.revoked else "")
            )
        judged = state.roles_judged(c.sub.signed_at, now)
        if judged is None:
            raise AuthorizationError(
                f"signer {signer} ({state.name}): no longer an active signer (revoked after "
                f"the signing time {c.sub.signed_at}); a signature is judged at its acceptance "
                "as well as at its signing time"
            )
        roles = judged
        if c.rtype == "signer" and "admin" in roles:
            _check_registry_change(registry, rec, c.sub.signed_at)
        return roles


def _new(item: ItemResult | None) -> bool:
    """Whether ``item`` stored a new record."""
    return item is not None and item.result is not None and not item.result.duplicate


def _too_old(signed_at: int, now: int, limit: int, whose: str) -> InvalidRecordError:
    return InvalidRecordError(
        f"signed_at: signature older than {limit} s, the most {whose} may be "
        f"({signed_at} < {now - limit}); sign again"
    )


def _check_registry_change(registry: Registry, rec: dict[str, Any], t: int) -> None:
    """A revoke must name an active signer and must not remove the last admin."""
    target = registry.get(str(rec["address"]))
    if rec["action"] == "revoke" and (target is None or target.roles_at(t) is None):
        raise ConflictError(f"signer {rec['address']}: not an active signer, nothing to revoke")
    losing_admin = rec["action"] == "revoke" or "admin" not in rec.get("roles", [])
    if target is not None and losing_admin and "admin" in (target.roles_at(t) or ()):
        admins = [s for s in registry.all() if "admin" in (s.roles_at(t) or ())]
        if len(admins) <= 1:
            raise ConflictError(
                f"signer {rec['address']}: the last admin; grant admin to another signer first"
            )


def _same_as_earlier(first: _Checked, accepted_at: str, leaf: bytes, c: _Checked) -> SubmitResult:
    """A second item with an id accepted earlier in the same batch: the first one wins."""
    if (first.body, first.sub.signature, first.sub.meaning, first.sub.signed_at) != (
        c.body,
        c.sub.signature,
        c.sub.meaning,
        c.sub.signed_at,
    ):
        what = "a different body" if first.body != c.body else "a different signature"
        raise ConflictError(
            f"record_id {c.record_id!r}: already used with {what} earlier in this batch; "
            "a record is never changed (submit a correction under a new id)"
        )
    return SubmitResult(c.record_id, c.rhash.hex(), c.signer, accepted_at, True, leaf)


def _idempotent(row: Any, c: _Checked) -> SubmitResult:
    """The answer to an id the ledger already holds: the same submission is a duplicate,
    anything else a conflict."""
    same = (
        bytes(row.body) == c.body
        and row.signature == c.sub.signature
        and row.meaning == c.sub.meaning
        and row.signed_at == c.sub.signed_at
    )
    if not same:
        what = "a different body" if bytes(row.body) != c.body else "a different signature"
        raise ConflictError(
            f"record_id {c.record_id!r}: already used with {what}; "
            "a record is never changed (submit a correction under a new id)"
        )
    return SubmitResult(
        c.record_id,
        bytes(row.record_hash).hex(),
        row.signer,
        iso_utc(row.accepted_at),
        True,
        bytes(row.leaf_hash),
    )


class GroupCommit:
    """Single submissions that arrive together are judged and committed together.

    Each caller queues its submission and waits; one thread takes everything queued (up to
    ``max_items``) and runs it through :meth:`Submitter.submit_batch`, so a burst of concurrent
    single POSTs shares one transaction, one set of lock and look-up queries and one commit,
    while each caller still gets exactly its own answer. A lone submission is not delayed: the
    thread takes what is there and does not wait for more.
    """

    def __init__(self, submitter: Submitter, max_items: int = 500) -> None:
        self.submitter = submitter
        self.max_items = max_items
        self._queue: queue.SimpleQueue[tuple[Submission, Future[ItemResult]] | None] = (
            queue.SimpleQueue()
        )
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, sub: Submission) -> ItemResult:
        return self.enqueue(sub).result()

    def enqueue(self, sub: Submission) -> Future[ItemResult]:
        """Queue ``sub``; the future holds its result (an event loop awaits it with
        ``asyncio.wrap_future``, without a thread of its own waiting)."""
        done: Future[ItemResult] = Future()
        self._ensure_thread()
        self._queue.put((sub, done))
        return done

    def close(self) -> None:
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout=15)

    def _ensure_thread(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="evledger-group-commit", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            group = [first]
            while len(group) < self.max_items:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._queue.put(None)  # stop after this group
                    break
                group.append(item)
            try:
                results = self.submitter.submit_batch([sub for sub, _ in group])
            except BaseException as exc:  # the database is down, a bug: every caller hears it
                _log.warning("group commit of %d submissions failed: %r", len(group), exc)
                for _, done in group:
                    done.set_exception(exc)
                continue
            for (_, done), result in zip(group, results, strict=True):
                done.set_result(result)
