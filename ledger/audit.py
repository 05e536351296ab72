"""``evledger audit``: recompute everything the ledger claims from the stored rows, and compare.

What a database superuser can change, the audit recomputes from what they cannot: record
bodies against their hashes, rows against the logged entries, entries against their signatures
and the signer registry at signing time, the tree against the leaves in log order, checkpoints
against the log key, checkpoint roots against the chain, and each lot's chain of records. Every
finding names the record (or leaf index, or tree size) and the kind of damage.

    findings = Auditor(engine, identity, log_key_vkey, chain).run()

All reads run in one read-only REPEATABLE READ transaction, so a ledger that keeps accepting
and sealing records is audited as of one moment. Records stream from a server-side cursor in
chunks of ``batch`` rows; the work on each record alone (canonical form and hash of the body,
the logged entry and its leaf hash, the signature) is spread over ``workers`` processes, which
get plain tuples and send back, per record, only its entry's lot link and what failed. What
needs the whole log (signer authority, log order, per-lot chains) follows in this process,
keeping per lot only its latest record, so memory holds the leaf hashes and the tree levels,
not the bodies. Lot statuses are rebuilt for the lots holding a damaged record only: for the
others the rows served and the rows that passed every check are the same rows, so the two
statuses cannot differ.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import secrets
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import ExitStack
from dataclasses import KW_ONLY, dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

import sqlalchemy as sa
from eth_account.signers.local import LocalAccount
from evledger_verify.checkpoint import NoteVerifier, verify_checkpoint
from evledger_verify.errors import VerifyError
from evledger_verify.judge import Judge
from evledger_verify.merkle import leaf_hash, node_hash, tree_levels
from evledger_verify.policy import Policy
from evledger_verify.records import Domain, Entry, canonical_json
from evledger_verify.registry import Replay
from evledger_verify.rules import unix_seconds

from ledger import genealogy, tree
from ledger.chain import Chain, built_code_keccak
from ledger.domain.genealogy import Link, Tracker
from ledger.domain.lots import apply_corrections, lot_status, subject_of
from ledger.domain.schemas import parse_record
from ledger.errors import ChainError, LedgerError
from ledger.genealogy import GENEALOGY_TYPES
from ledger.identity import Identity, chain_meta_key
from ledger.models import Anchor, Checkpoint, LedgerMeta, LogLeaf, Record, TreeNode
from ledger.signers import Registry, load_registry
from ledger.storage import LIVE_ANCHOR, STORED_COLUMNS, iso_utc, to_stored
from ledger.submission import AUDIT_ALERT_PREFIX, Submitter

__all__ = ["KINDS", "Auditor", "Finding", "check_row", "raise_alert"]

#: Every kind of damage the audit names.
KINDS = {
    "record_altered": "the record body does not hash to its logged hash",
    "entry_mismatch": "a stored column differs from the logged entry",
    "leaf_mismatch": "the logged entry does not hash to the stored leaf",
    "bad_signature": "the signature does not verify for the signer",
    "unauthorized_signer": "the signer was not an active signer at the signing time",
    "unlogged_record": "a record that is neither in the log nor waiting to be sealed",
    "missing_record": "a leaf of the log has no record (deleted)",
    "order_changed": "a record sits at another leaf index than the one logged",
    "log_gap": "leaf indices are not contiguous",
    "tree_altered": "a stored tree node differs from the one recomputed from the leaves",
    "checkpoint_altered": "a checkpoint's root or signature does not match the log",
    "anchor_mismatch": "the chain does not hold the root the log has at that size",
    "lot_chain_broken": "a record does not follow the lot's previous record",
    "projection_mismatch": "the signer registry differs from the one rebuilt from the log",
    "genealogy_mismatch": "the lot genealogy differs from the one rebuilt from the log",
    "identity_changed": "the ledger's identity (log key, chain, contract) was changed",
}


@dataclass(frozen=True)
class Finding:
    kind: str
    record_id: str | None
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "record_id": self.record_id, "detail": self.detail}

    def __str__(self) -> str:
        where = f" record {self.record_id}:" if self.record_id else ""
        return f"{self.kind}:{where} {self.detail}"


Progress = Callable[[str, int, int], None]

# -- one record on its own (runs in the worker processes) ----------------------------------

#: A stored record as the audit reads it, plain values only so a chunk pickles cheaply (byte
#: columns as lowercase hex, the acceptance time as the entry writes it), then where the log
#: puts it: (seq, record_id, record_type, lot, body, record_hash, signer, meaning, signed_at,
#: signature, entry, leaf_hash, accepted_at, subject, leaf_index or None, queued for sealing).
Row = tuple[Any, ...]
#: The keys the ledger writes when it is created (chains added later: chain/<id>/...).
_META_KEYS = frozenset(
    {
        "chain_id",
        "contract",
        "contract_code_keccak",
        "deploy_block",
        "log_origin",
        "log_public_key",
        "created_at",
    }
)
_ROW_SQL = (
    "SELECT r.seq, r.record_id, r.record_type, r.lot, encode(r.body, 'hex'), "
    "encode(r.record_hash, 'hex'), r.signer, r.meaning, r.signed_at, r.signature, "
    "encode(r.entry, 'hex'), encode(r.leaf_hash, 'hex'), "
    """to_char(r.accepted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), r.subject"""
)
_RECORDS_SQL = (
    f"{_ROW_SQL}, l.leaf_index, q.seq IS NOT NULL FROM records r "
    "LEFT JOIN log_leaves l ON l.seq = r.seq LEFT JOIN seal_queue q ON q.seq = r.seq "
    "ORDER BY r.seq"
)
_SIGNERS_SQL = f"{_ROW_SQL} FROM records r WHERE r.record_type = 'signer' ORDER BY r.seq"

#: What checking one row gives back: whether the logged entry parsed, its lot and lot_prev
#: (None when it did not parse), and the damage found as (kind, detail); a sound row has none.
Checked = tuple[bool, str | None, str | None, tuple[tuple[str, str], ...]]


def check_row(row: Row, domain: Domain) -> Checked:
    """Everything one record can be checked against without the rest of the log: body hash
    and canonical form, the logged entry (canonical form, leaf hash, the stored columns, the
    body's id, type, lot and subject) and the signature over it."""
    rid, rtype, lot, body_hex, rhash_hex, signer, meaning, signed_at, signature = row[1:10]
    entry_hex, leaf_hex, accepted_at, subject = row[10:14]
    found: list[tuple[str, str]] = []
    raw = bytes.fromhex(body_hex)
    if hashlib.sha256(raw).hexdigest() != rhash_hex:
        found.append(("record_altered", "body does not hash to the record hash"))
    body: Any
    try:
        body = json.loads(raw)
        if canonical_json(body) != raw:
            raise ValueError("not in canonical form")
    except (ValueError, VerifyError) as exc:
        found.append(("record_altered", f"body is not canonical JSON: {exc}"))
        body = {}
    logged = bytes.fromhex(entry_hex)
    try:
        entry = Entry.from_json(json.loads(logged))
    except (ValueError, VerifyError) as exc:
        found.append(("leaf_mismatch", f"logged entry unreadable: {exc}"))
        return False, None, None, tuple(found)
    canonical = entry.canonical()
    if canonical != logged:
        found.append(("leaf_mismatch", "logged entry is not in canonical form"))
    if leaf_hash(canonical).hex() != leaf_hex:  # entry.leaf_hash(), canonicalized once
        found.append(("leaf_mismatch", "logged entry does not hash to the stored leaf"))
    for name, in_log, stored in (
        ("record_id", entry.record_id, rid),
        ("record_type", entry.record_type, rtype),
        ("record_hash", entry.record_hash, rhash_hex),
        ("lot", entry.lot, lot),
        ("signer", entry.signer, signer),
        ("meaning", entry.meaning, meaning),
        ("signed_at", entry.signed_at, signed_at),
        ("signature", entry.signature, signature),
        ("accepted_at", entry.accepted_at, accepted_at),
    ):
        if in_log != stored:
            found.append(("entry_mismatch", f"{name}: logged {in_log!r}, row has {stored!r}"))
    for name, in_log in (
        ("record_id", entry.record_id),
        ("type", entry.record_type),
        ("lot", entry.lot),
    ):
        if body and body.get(name) != in_log:
            found.append(
                ("entry_mismatch", f"body {name}: logged {in_log!r}, body has {body.get(name)!r}")
            )
    try:
        derived = subject_of(body) if body else subject
    except (KeyError, TypeError):
        derived = None
    if derived != subject:
        found.append(("entry_mismatch", f"subject: body says {derived!r}, row has {subject!r}"))
    try:
        entry.verify_signature(domain)
    except VerifyError as exc:
        found.append(("bad_signature", str(exc)))
    return True, entry.lot, entry.lot_prev, tuple(found)


#: The domain signatures are checked against, in a worker process (set when it starts).
_worker_domain: Domain | None = None


def _start_worker(domain: Domain) -> None:
    global _worker_domain
    _worker_domain = domain


def _check_rows(rows: list[Row]) -> list[Checked]:
    assert _worker_domain is not None, "worker not started with a domain"
    return [check_row(row, _worker_domain) for row in rows]


# -- lot status projection -----------------------------------------------------------------

#: A lot's record, reloaded for the status projection: (seq, record_id, record_type, body,
#: record_hash, signer, meaning, signed_at, accepted_at).
_LotRow = tuple[int, str, str, bytes, bytes, str, str, int, str]


def _status(
    rows: list[_LotRow], registry: Registry, lot: str, stages: tuple[str, ...]
) -> dict[str, Any]:
    """The lot status ``rows`` give (corrections applied); damaged rows may not parse."""
    if not rows:
        return {}
    try:
        stored = [to_stored(registry, *r[1:]) for r in rows]
        return lot_status(lot, apply_corrections(stored), stages)
    except (KeyError, TypeError, ValueError, LedgerError) as exc:
        return {"state": f"unreadable: {exc.__class__.__name__}"}


#: How many lots one round of ``audit --every`` raises an alert on; findings beyond it go to
#: the round's lot-less alert (which counts them all).
MAX_ALERTED_LOTS = 50


def _lots_of(conn: sa.Connection, record_ids: set[str]) -> dict[str, set[str]]:
    """The lots each record is in, as its row says and as its logged entry says (a superuser
    may have changed one of them: the alert goes on both)."""
    out: dict[str, set[str]] = defaultdict(set)
    rows = conn.execute(
        sa.select(Record.record_id, Record.lot, Record.entry).where(
            Record.record_id.in_(sorted(record_ids))
        )
    )
    for rid, lot, entry in rows:
        if lot:
            out[rid].add(lot)
        try:
            logged = json.loads(entry).get("lot")
        except (ValueError, AttributeError):
            logged = None
        if isinstance(logged, str) and logged:
            out[rid].add(logged)
    return out


def raise_alert(
    submitter: Submitter, account: LocalAccount, findings: list[Finding]
) -> list[str]:
    """Log the findings as ``alert`` records signed by the audit key; returns their ids.

    Each lot a finding's record is in gets its own alert naming it (``lot``), so the damage
    blocks that lot's release, or puts a released lot on hold, until an NCR dispositions the
    alert (21 CFR 820.100; ISO 13485 §8.3); one lot-less alert carries every finding."""
    ids = {f.record_id for f in findings if f.record_id}
    with submitter.engine.connect() as conn:
        lots_of = _lots_of(conn, ids) if ids else {}
    by_lot: dict[str, list[Finding]] = defaultdict(list)
    for f in findings:
        for name in sorted(lots_of.get(f.record_id or "", ())):
            by_lot[name].append(f)
    now = int(time.time())
    raised = []
    groups: list[tuple[str | None, list[Finding]]] = [
        *sorted(by_lot.items())[:MAX_ALERTED_LOTS],
        (None, findings),
    ]
    for lot, found in groups:
        alert_id = f"{AUDIT_ALERT_PREFIX}{now}-{secrets.token_hex(4)}"
        where = f" in lot {lot}" if lot is not None else ""
        record: dict[str, Any] = {
            "record_id": alert_id,
            "type": "alert",
            "schema": "alert/1",
            "alert_id": alert_id,
            "source": "audit",
            "severity": "critical",
            "description": (
                f"evledger audit found {len(found)} sign(s) of damage to evidence{where}"
            ),
            "details": {"count": len(found), "findings": [f.to_json() for f in found[:100]]},
        }
        if lot is not None:
            record["lot"] = lot
        try:
            submitter.submit_signed(record, account, "recorded")
        except LedgerError:
            if lot is None:
                raise
            continue  # a lot name a superuser wrote may be no lot at all: the last alert has it
        raised.append(alert_id)
    return raised


@dataclass
class _Pass:
    """What one run keeps between its stages (bounded by the number of leaves and lots)."""

    #: Leaves before the first gap in the log (the only ones the log vouches for), and how many.
    size: int = 0
    gap: tuple[int, int] | None = None  # (position, the index found there)
    leaves: list[bytes | None] = field(default_factory=list)
    #: Leaf indices whose record is gone, with their stored level-0 hash, and the names the
    #: records that follow them in their lots give them (keyed by that hash, in hex).
    missing: list[tuple[int, bytes | None]] = field(default_factory=list)
    lost: dict[str, str | None] = field(default_factory=dict)
    #: The registry as the log says it is (signer records the rules refuse withdrawn from it
    #: as they are judged: :class:`evledger_verify.registry.Replay`), and the seq of each
    #: signer record.
    registry: Registry = field(default_factory=Registry)
    seq_of: dict[str, int] = field(default_factory=dict)
    authority: list[Finding] = field(default_factory=list)
    unlogged: list[Finding] = field(default_factory=list)
    #: Each lot's latest record (id, leaf hash in hex), in the order the lots first appear.
    heads: dict[str, tuple[str, str]] = field(default_factory=dict)
    broken: dict[str, list[Finding]] = field(default_factory=lambda: defaultdict(list))
    #: Records that failed a check, and the lots (column) they are in.
    unsound: set[int] = field(default_factory=set)
    damaged_lots: set[str] = field(default_factory=set)
    #: Per tree level: node count, distinct indices, lowest and highest index, whether every
    #: hash is 32 bytes, SHA-256 of the hashes in index order.
    tree_stats: dict[int, tuple[int, int, int, int, bool, bytes]] = field(default_factory=dict)
    level0_bad: list[int] = field(default_factory=list)
    #: The stored level-0 indices when that level does not match the leaves (None: it does).
    level0_stored: set[int] | None = None


@dataclass
class Auditor:
    engine: sa.Engine
    identity: Identity
    #: The log key as the auditor knows it independently (from the key file or a trust file),
    #: never the one stored in the database, which a superuser could replace.
    log_key: str
    chain: Chain | None = None
    progress: Progress | None = None
    #: The other chains the log is anchored on, by chain id (attached to the ledger's
    #: contract there).
    extra_chains: dict[int, Chain] = field(default_factory=dict)
    #: What the records are judged with (the service's policy).
    policy: Policy = field(default_factory=Policy)
    #: Records per chunk read from the database and handed to a worker.
    batch: int = 5000
    _: KW_ONLY
    #: Processes that check records; 1 (or a platform without fork) checks them in this one.
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    findings: list[Finding] = field(default_factory=list, init=False)
    #: What could not be checked this run (the chain unreachable, say), with why: not damage.
    unchecked: list[str] = field(default_factory=list, init=False)

    def _find(self, kind: str, record_id: str | None, detail: str) -> None:
        self.findings.append(Finding(kind, record_id, detail))

    def _tick(self, stage: str, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress(stage, done, total)

    def run(self) -> list[Finding]:
        self.findings = []
        self.unchecked = []
        p = _Pass()
        # Each chain's latest anchor is read before the database snapshot is taken: whatever
        # a chain holds then was checkpointed before it, so the snapshot has that tree (read
        # after, a live service's newer anchor would look like a truncated log).
        heads = self._chain_heads()
        with ExitStack() as stack:
            pool = None
            if self.workers > 1 and "fork" in multiprocessing.get_all_start_methods():
                # Forked before this run's connection is opened, so no worker holds it.
                ctx = multiprocessing.get_context("fork")
                pool = stack.enter_context(
                    ProcessPoolExecutor(
                        self.workers,
                        mp_context=ctx,
                        initializer=_start_worker,
                        initargs=(self.identity.domain,),
                    )
                )
                pool.submit(int).result()
            conn = stack.enter_context(self.engine.connect())
            conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
            self._identity(conn)
            self._log_extent(conn, p)
            self._signers(conn, p)
            self._records(conn, p, pool)
            if pool is not None:
                pool.shutdown()
            self.findings += p.authority
            self._log(conn, p)
            levels = self._tree(conn, p)
            self._checkpoints(conn, levels)
            self._anchors(conn, levels, heads)
            self._lots(p)
            served = load_registry(conn)
            # The signer records the audit names (their signer had no authority, or a rule
            # refused them) are withdrawn from the rebuilt registry; they are named as such,
            # not again as a registry that differs.
            for record_id in p.registry.withdrawn:
                served.withdraw(record_id)
            self._projection(p.registry, served)
            self._lot_projections(conn, p, served)
            self._genealogy(conn)
        return self.findings

    # -- identity --------------------------------------------------------------------------

    def _identity(self, conn: sa.Connection) -> None:
        meta = dict(conn.execute(sa.select(LedgerMeta.key, LedgerMeta.value)).all())
        stored = Identity.from_meta(meta)
        if stored is None:
            self._find("identity_changed", None, "ledger_meta: no identity stored")
            return
        self._meta(conn, meta, stored)
        if stored.log_public_key != self.log_key:
            self._find(
                "identity_changed",
                None,
                f"log key: expected {self.log_key}, ledger_meta says {stored.log_public_key}",
            )
        if (stored.chain_id, stored.contract.lower()) != (
            self.identity.chain_id,
            self.identity.contract.lower(),
        ):
            self._find("identity_changed", None, "chain id or contract in ledger_meta changed")

    def _meta(self, conn: sa.Connection, meta: dict[str, str], stored: Identity) -> None:
        """Every ``ledger_meta`` value against what it can be checked against: the origin is
        derived from the chain and contract; the contract code is the reproducible build's;
        the deploy block is the one the contract's constructor event is in (on chain); the
        creation time precedes the first record; no key is unknown."""

        def changed(key: str, detail: str) -> None:
            self._find("identity_changed", None, f"ledger_meta {key}: {detail}")

        origin = f"evledger/{stored.chain_id}/{stored.contract.lower()}"
        if meta.get("log_origin") != origin:
            changed("log_origin", f"expected {origin}, got {meta.get('log_origin')!r}")
        code = built_code_keccak()
        nodes = {stored.chain_id: self.chain, **self.extra_chains}
        for target in stored.chains:
            prefix = "" if target.primary else chain_meta_key(target.chain_id, "")
            if target.code_keccak != code:
                changed(
                    prefix + "contract_code_keccak",
                    f"expected {code} (contracts/EvidenceAnchor.json), "
                    f"got {target.code_keccak!r}",
                )
            node = nodes.get(target.chain_id)
            if node is None or node.contract is None:
                continue
            try:
                created = node.created_in()
            except ChainError as exc:
                self.unchecked.append(f"ledger_meta {prefix}deploy_block: {exc}")
                continue
            if created != target.deploy_block:
                changed(
                    prefix + "deploy_block",
                    f"the contract was deployed in block {created}, ledger_meta says "
                    f"{target.deploy_block}",
                )
        first = conn.execute(sa.select(sa.func.min(Record.accepted_at))).scalar_one()
        try:
            created_at = datetime.fromisoformat(meta.get("created_at", ""))
        except ValueError:
            changed("created_at", f"not a time: {meta.get('created_at')!r}")
        else:
            if first is not None and created_at > first:
                changed(
                    "created_at", f"{created_at.isoformat()} is after the first record ({first})"
                )
        extra = {
            chain_meta_key(t.chain_id, name)
            for t in stored.chains
            if not t.primary
            for name in ("contract", "contract_code_keccak", "deploy_block", "anchorer")
        }
        for key in sorted(set(meta) - _META_KEYS - extra):
            changed(key, "not a key the ledger writes (inserted)")

    # -- records ---------------------------------------------------------------------------

    def _log_extent(self, conn: sa.Connection, p: _Pass) -> None:
        """How far the log runs without a gap, which of those leaves lost their record, and
        the stored tree's shape (read before the records, so they can be matched on the way)."""
        count = conn.exec_driver_sql("SELECT count(*) FROM log_leaves").scalar_one()
        gap = conn.exec_driver_sql(
            "SELECT pos, leaf_index FROM (SELECT leaf_index, "
            "row_number() OVER (ORDER BY leaf_index) - 1 AS pos FROM log_leaves) s "
            "WHERE leaf_index <> pos ORDER BY pos LIMIT 1"
        ).first()
        p.size = int(count) if gap is None else int(gap[0])
        p.gap = None if gap is None else (int(gap[0]), int(gap[1]))
        p.leaves = [None] * p.size
        gone = conn.exec_driver_sql(
            "SELECT l.leaf_index, t.hash FROM log_leaves l LEFT JOIN tree_nodes t "
            "ON t.level = 0 AND t.idx = l.leaf_index WHERE l.leaf_index >= 0 "
            "AND l.leaf_index < %(size)s AND NOT EXISTS "
            "(SELECT 1 FROM records r WHERE r.seq = l.seq) ORDER BY l.leaf_index",
            {"size": p.size},
        )
        p.missing = [(int(i), None if h is None else bytes(h)) for i, h in gone]
        p.lost = {h.hex(): None for _, h in p.missing if h is not None}
        for level, *stats in conn.exec_driver_sql(
            "SELECT level, count(*), count(DISTINCT idx), min(idx), max(idx), "
            "bool_and(length(hash) = 32), sha256(string_agg(hash, ''::bytea ORDER BY idx)) "
            "FROM tree_nodes GROUP BY level"
        ):
            n, distinct, lo, hi, all32, digest = stats
            p.tree_stats[int(level)] = (n, distinct, lo, hi, bool(all32), bytes(digest))

    def _signers(self, conn: sa.Connection, p: _Pass) -> None:
        """The registry as the log says it is: only signer records that passed every check,
        in signing-time order. Whether each signer record's own signer had authority, and
        whether the rules accept it, is judged in log order with every other record (those
        that fail are withdrawn from the registry then)."""
        rows = [tuple(r) for r in conn.exec_driver_sql(_SIGNERS_SQL)]
        domain = self.identity.domain
        sound = [r for r in rows if not check_row(r, domain)[3]]
        p.seq_of = {r[1]: r[0] for r in rows}
        for r in sorted(sound, key=lambda r: (r[8], r[0])):
            p.registry.apply(json.loads(bytes.fromhex(r[4])), r[8])

    def _chunks(
        self, conn: sa.Connection, pool: ProcessPoolExecutor | None
    ) -> Iterator[tuple[list[Row], list[Checked]]]:
        """Every record, in chunks in seq order, each with its check results; a few chunks
        are being checked ahead while one is taken apart here."""
        result = conn.exec_driver_sql(
            _RECORDS_SQL, execution_options={"stream_results": True, "max_row_buffer": self.batch}
        )
        chunks = ([tuple(r) for r in part] for part in result.partitions(self.batch))
        if pool is None:
            domain = self.identity.domain
            for rows in chunks:
                yield rows, [check_row(r, domain) for r in rows]
            return
        ahead: deque[tuple[list[Row], Future[list[Checked]]]] = deque()
        for rows in chunks:
            ahead.append((rows, pool.submit(_check_rows, rows)))
            if len(ahead) > 2 * self.workers:
                rows, checked = ahead.popleft()
                yield rows, checked.result()
        while ahead:
            rows, checked = ahead.popleft()
            yield rows, checked.result()

    def _records(self, conn: sa.Connection, p: _Pass, pool: ProcessPoolExecutor | None) -> None:
        total = int(conn.exec_driver_sql("SELECT count(*) FROM records").scalar_one())
        done = 0
        last = None
        size, leaves, lost, heads = p.size, p.leaves, p.lost, p.heads
        judge = Judge(
            self.policy,
            validate=parse_record,
            names=p.registry.name_of,
            persons=p.registry.person_of,
            linker=Tracker().add,
        )
        replay = Replay(p.registry, judge, p.seq_of)
        for rows, checked in self._chunks(conn, pool):
            for row, (parsed, lot_in_log, lot_prev, found) in zip(rows, checked, strict=True):
                seq, rid, rtype, lot = row[0], row[1], row[2], row[3]
                index = row[14]
                logged = index is not None and 0 <= index < size
                if logged:
                    leaves[index] = bytes.fromhex(row[11])
                if seq == last:  # one more leaf for the same record (only if made non-unique)
                    if logged and p.unlogged and p.unlogged[-1].record_id == rid:
                        p.unlogged.pop()
                    continue
                last = seq
                for kind, detail in found:
                    self._find(kind, rid, detail)
                if found:
                    p.unsound.add(seq)
                    if lot is not None:
                        p.damaged_lots.add(lot)
                else:
                    accepted_at = unix_seconds(row[12])
                    problem = replay.authority(rid, rtype, row[6], row[8], accepted_at, seq)
                    if problem is not None:
                        p.authority.append(Finding("unauthorized_signer", rid, problem))
                    if logged and parsed:
                        self._judge(replay, p, row, accepted_at)
                if not logged and not row[15]:
                    p.unlogged.append(
                        Finding(
                            "unlogged_record",
                            rid,
                            "not in the log and not waiting to be sealed (inserted)",
                        )
                    )
                if not parsed:
                    continue
                if lost and lot_prev in lost and lost[lot_prev] is None:
                    lost[lot_prev] = f"(predecessor of {rid} in lot {lot})"
                if lot_in_log is not None:
                    prev = heads.get(lot_in_log)
                    expected = None if prev is None else prev[1]
                    if lot_prev != expected:
                        p.broken[lot_in_log].append(
                            Finding(
                                "lot_chain_broken",
                                rid,
                                f"lot {lot_in_log}: logged predecessor {lot_prev}, but the "
                                + (
                                    f"previous record is {prev[0]} ({expected})"
                                    if prev
                                    else "record is the first of the lot"
                                ),
                            )
                        )
                    heads[lot_in_log] = (rid, row[11])
            done += len(rows)
            self._tick("records", done, total)

    def _judge(self, replay: Replay, p: _Pass, row: Row, accepted_at: int) -> None:
        """Re-judge a sound logged record by the rules the service judged it with, against
        the records before it in the log: name it when the service should have refused it.
        (A signer who was not active is named by the authority check instead.)"""
        rid, rtype, signer, signed_at = row[1], row[2], row[6], row[8]
        state = p.registry.get(signer)
        if state is None or state.roles_judged(signed_at, accepted_at) is None:
            return  # named by the authority check; the body need not be read
        stored = to_stored(
            p.registry,
            rid,
            rtype,
            bytes.fromhex(row[4]),
            bytes.fromhex(row[5]),
            signer,
            row[7],
            signed_at,
            row[12],
        )
        refused = replay.rules(stored, signed_at, accepted_at)
        if refused is not None:
            reasons = "".join(f"; {r}" for r in refused.reasons[:5])
            self._find(
                "rule_broken",
                rid,
                f"the service would have refused it ({refused.kind}): {refused}{reasons}",
            )

    # -- log and tree ----------------------------------------------------------------------

    def _log(self, conn: sa.Connection, p: _Pass) -> None:
        at: list[tuple[int, Finding]] = []
        for index, stored in p.missing:
            at.append(
                (
                    index,
                    Finding(
                        "missing_record",
                        None if stored is None else p.lost.get(stored.hex()),
                        f"leaf {index} has no record (deleted)"
                        + (f"; its leaf hash {stored.hex()}" if stored else ""),
                    ),
                )
            )
            p.leaves[index] = stored or bytes(32)
        if None in p.leaves:
            raise LedgerError("audit: a logged record was neither read nor found missing")
        if not self._level_matches(p, 0, p.leaves):
            # Some stored leaf differs from the one of the record logged there: name that
            # record, and the record that holds the stored leaf hash, if any.
            gone = {i for i, _ in p.missing}
            moved: dict[int, bytes] = {}
            p.level0_stored = set()
            for idx, h in self._nodes(conn, 0):
                p.level0_stored.add(idx)
                leaf = p.leaves[idx] if 0 <= idx < len(p.leaves) else None
                if leaf != h:
                    p.level0_bad.append(idx)
                    if 0 <= idx < p.size and idx not in gone:
                        moved[idx] = h
            ids = self._ids_at(conn, list(moved))
            owners = self._owners(conn, list(set(moved.values())))
            for idx, h in moved.items():
                owner = owners.get(h)
                at.append(
                    (
                        idx,
                        Finding(
                            "order_changed",
                            ids[idx],
                            f"at leaf {idx}, but the log has "
                            + (f"record {owner} there" if owner else "another leaf there"),
                        ),
                    )
                )
        at.sort(key=lambda f: f[0])
        self.findings += [f for _, f in at]
        if p.gap is not None:
            pos, index = p.gap
            self._find("log_gap", None, f"leaf index {pos} missing (next {index})")
        self.findings += p.unlogged
        self._tick("log", p.size, p.size)

    def _level_matches(self, p: _Pass, level: int, mine: Sequence[bytes | None]) -> bool:
        """Whether the stored nodes of ``level`` are exactly the ``p.size >> level`` complete
        subtrees ``mine`` starts with, one per index from 0, 32 bytes each (compared by one
        hash over each side, computed where it is): a node deleted is a mismatch too."""
        expected = p.size >> level
        stats = p.tree_stats.get(level)
        if stats is None:
            return expected == 0
        n, distinct, lo, hi, all32, digest = stats
        if not (all32 and n == distinct and lo == 0 and hi == n - 1 and n == expected):
            return False
        part = cast(list[bytes], mine[:n])  # _log filled every hole
        if set(map(len, part)) != {32}:
            return False
        return hashlib.sha256(b"".join(part)).digest() == digest

    def _nodes(self, conn: sa.Connection, level: int) -> Iterator[tuple[int, bytes]]:
        rows = conn.execute(
            sa.select(TreeNode.idx, TreeNode.hash)
            .where(TreeNode.level == level)
            .order_by(TreeNode.idx),
            execution_options={"stream_results": True, "max_row_buffer": 10 * self.batch},
        )
        for idx, h in rows:
            yield int(idx), bytes(h)

    @staticmethod
    def _ids_at(conn: sa.Connection, indices: list[int]) -> dict[int, str]:
        """The id of the record logged at each of ``indices``."""
        if not indices:
            return {}
        rows = conn.exec_driver_sql(
            "SELECT l.leaf_index, r.record_id FROM log_leaves l JOIN records r "
            "ON r.seq = l.seq WHERE l.leaf_index = ANY(%(i)s)",
            {"i": indices},
        )
        return {int(i): str(rid) for i, rid in rows}

    @staticmethod
    def _owners(conn: sa.Connection, hashes: list[bytes]) -> dict[bytes, str]:
        """The first record (in acceptance order) holding each of the leaf ``hashes``."""
        if not hashes:
            return {}
        rows = conn.exec_driver_sql(
            "SELECT DISTINCT ON (leaf_hash) leaf_hash, record_id FROM records "
            "WHERE leaf_hash = ANY(%(h)s) ORDER BY leaf_hash, seq",
            {"h": hashes},
        )
        return {bytes(h): str(rid) for h, rid in rows}

    def _tree(self, conn: sa.Connection, p: _Pass) -> list[list[bytes]]:
        """Recompute every complete-subtree node from the leaves and compare with storage."""
        leaves = cast(list[bytes], p.leaves)  # _log filled every hole
        levels = tree_levels(leaves) if leaves else [[]]
        bad = 0
        expected = {level for level in range(len(levels)) if p.size >> level}
        for level in sorted(set(p.tree_stats) | expected):
            mine = levels[level] if level < len(levels) else []
            stored: set[int] = set()
            differ: list[int] = []
            if level == 0:  # compared in _log
                if p.level0_stored is None:
                    continue
                stored, differ = p.level0_stored, p.level0_bad
            elif self._level_matches(p, level, mine):
                continue
            else:
                for i, h in self._nodes(conn, level):
                    stored.add(i)
                    if not 0 <= i < len(mine) or mine[i] != h:
                        differ.append(i)
            problems = [(i, "differs") for i in differ] + [
                (i, "is missing (deleted)") for i in range(p.size >> level) if i not in stored
            ]
            for idx, what in sorted(problems):
                bad += 1
                if bad <= 20:
                    self._find("tree_altered", None, f"node level {level} index {idx} {what}")
        if bad > 20:
            self._find("tree_altered", None, f"{bad - 20} more tree nodes differ")
        self._tick("tree", len(leaves), len(leaves))
        return levels

    @staticmethod
    def _root(levels: list[list[bytes]], size: int) -> bytes | None:
        if not 0 < size <= len(levels[0]):
            return None
        parts = [levels[level][idx] for level, idx in tree.frontier(size)]
        root = parts[-1]
        for part in reversed(parts[:-1]):
            root = node_hash(part, root)
        return root

    # -- checkpoints and anchors -----------------------------------------------------------

    def _checkpoints(self, conn: sa.Connection, levels: list[list[bytes]]) -> None:
        verifier = NoteVerifier.parse(self.log_key)
        cps = conn.execute(
            sa.select(Checkpoint.tree_size, Checkpoint.root_hash, Checkpoint.note).order_by(
                Checkpoint.tree_size
            )
        ).all()
        for n, (size, root, note) in enumerate(cps, 1):
            where = f"checkpoint at size {size}"
            try:
                cp = verify_checkpoint(note, verifier, self.identity.log_origin)
                if (cp.tree_size, cp.root_hash) != (size, bytes(root)):
                    self._find("checkpoint_altered", None, f"{where}: columns differ from note")
            except VerifyError as exc:
                self._find("checkpoint_altered", None, f"{where}: {exc}")
            recomputed = self._root(levels, size)
            if recomputed is None:
                self._find("checkpoint_altered", None, f"{where}: the log has fewer leaves")
            elif recomputed != bytes(root):
                self._find(
                    "checkpoint_altered",
                    None,
                    f"{where}: root {bytes(root).hex()} but the leaves give {recomputed.hex()}",
                )
            if n % 1000 == 0 or n == len(cps):
                self._tick("checkpoints", n, len(cps))

    def _nodes_by_chain(self) -> dict[int, Chain]:
        if self.chain is None:
            return {}
        return {self.identity.chain_id: self.chain, **self.extra_chains}

    def _chain_heads(self) -> dict[int, tuple[int, bytes] | ChainError]:
        """Each chain's latest anchored (size, root), or why it cannot be read."""
        heads: dict[int, tuple[int, bytes] | ChainError] = {}
        for chain_id, node in self._nodes_by_chain().items():
            try:
                heads[chain_id] = node.latest()
            except ChainError as exc:
                heads[chain_id] = exc
        return heads

    def _anchors(
        self,
        conn: sa.Connection,
        levels: list[list[bytes]],
        heads: dict[int, tuple[int, bytes] | ChainError],
    ) -> None:
        """Each chain's anchors against that chain: the primary one (``chain``) and those
        the log is also anchored on (``extra_chains``, by chain id). Anchors on a chain no
        node is given for are not checked (said so, exit 2), never taken on trust."""
        if self.chain is None:
            return
        # Anchors a reorganization orphaned (recorded by the anchorer) prove nothing any more;
        # each remaining one must name a transaction the canonical chain holds in that block.
        rows = conn.execute(
            sa.select(
                Anchor.chain_id,
                Anchor.contract,
                Anchor.tree_size,
                Anchor.root_hash,
                Anchor.tx_hash,
                Anchor.block_hash,
            )
            .where(LIVE_ANCHOR)
            .order_by(Anchor.chain_id, Anchor.tree_size)
        ).all()
        nodes = self._nodes_by_chain()
        for chain_id in sorted({r.chain_id for r in rows} | set(nodes)):
            chain = nodes.get(chain_id)
            anchors = [r for r in rows if r.chain_id == chain_id]
            if chain is None:
                self.unchecked.append(
                    f"anchors on chain {chain_id} ({len(anchors)}): no node to ask; name it in "
                    "EVLEDGER_EXTRA_CHAINS"
                )
                continue
            self._chain_anchors(chain_id, chain, anchors, levels, heads[chain_id])

    def _chain_anchors(
        self,
        chain_id: int,
        chain: Chain,
        anchors: list[Any],
        levels: list[list[bytes]],
        head: tuple[int, bytes] | ChainError,
    ) -> None:
        on = "" if chain_id == self.identity.chain_id else f" on chain {chain_id}"
        if isinstance(head, ChainError):
            self.unchecked.append(f"anchors{on}: the chain cannot be read ({head})")
            return
        chain_size, chain_root = head
        if chain_size:
            ours = self._root(levels, chain_size)
            if ours != chain_root:
                self._find(
                    "anchor_mismatch",
                    None,
                    f"the chain's latest anchor{on} holds root {chain_root.hex()} at size "
                    f"{chain_size}; the stored log gives "
                    + (ours.hex() if ours else "no tree of that size (truncated)"),
                )
        contract = chain.contract.address if chain.contract is not None else None
        for n, r in enumerate(anchors, 1):
            size, root, tx_hash, block_hash = r.tree_size, r.root_hash, r.tx_hash, r.block_hash
            if contract is not None and r.contract.lower() != contract.lower():
                self._find(
                    "anchor_mismatch",
                    None,
                    f"size {size}{on}: the anchors row names contract {r.contract}, the "
                    f"ledger's contract there is {contract}",
                )
            try:
                held = chain.root_at(size)
                where = chain.inclusion(tx_hash)
            except ChainError as exc:
                self.unchecked.append(
                    f"anchors{on} from size {size} on: the chain cannot be read ({exc})"
                )
                return
            ours = self._root(levels, size)
            if held != bytes(root) or held != ours:
                self._find(
                    "anchor_mismatch",
                    None,
                    f"size {size}{on}: chain holds {held.hex()}, anchors row "
                    f"{bytes(root).hex()}, leaves give {ours.hex() if ours else 'nothing'}",
                )
            if where is None or where[1] != block_hash:
                self._find(
                    "anchor_mismatch",
                    None,
                    f"size {size}{on}: the anchors row names transaction {tx_hash} in block "
                    f"{block_hash}; the chain has "
                    + ("no such transaction" if where is None else f"it in block {where[1]}"),
                )
            if n % 100 == 0 or n == len(anchors):
                self._tick("anchors" + on, n, len(anchors))

    # -- lots and projections --------------------------------------------------------------

    def _genealogy(self, conn: sa.Connection) -> None:
        """The served lot genealogy against the one rebuilt from the log's records, in leaf
        order, up to where the projection has read: a link added, removed or changed in the
        table is named with the record it claims (at most 20 findings)."""
        projected = genealogy.projected_size(conn)
        rows = conn.execution_options(yield_per=5000).execute(
            sa.select(LogLeaf.leaf_index, Record.record_id, Record.body)
            .join(Record, Record.seq == LogLeaf.seq)
            .where(LogLeaf.leaf_index < projected, Record.record_type.in_(GENEALOGY_TYPES))
            .order_by(LogLeaf.leaf_index)
        )
        rebuilt = ((row.leaf_index, n, link) for row, n, link in genealogy.project(rows, Tracker()))

        found = 0
        for where, mine, theirs in _merge(rebuilt, genealogy.stored_links(conn)):
            if mine is not None and theirs is not None and mine.key() == theirs.key():
                continue
            found += 1
            if found > 20:
                break
            if theirs is None:
                detail = f"{where}: {_link_text(mine)} is missing from the table"
            elif mine is None:
                detail = f"{where}: {_link_text(theirs)} is in the table but no record proves it"
            else:
                detail = f"{where}: the table has {_link_text(theirs)}, the log {_link_text(mine)}"
            named = theirs or mine
            self._find("genealogy_mismatch", named.record_id if named else None, detail)

    def _lots(self, p: _Pass) -> None:
        for lot in p.heads:
            self.findings += p.broken.get(lot, ())

    def _lot_projections(self, conn: sa.Connection, p: _Pass, served: Registry) -> None:
        """Each lot's status as the service serves it (every stored row of the lot) against
        the status rebuilt from the rows that passed every check, for the lots where the two
        sets of rows differ."""
        by_lot: dict[str, list[_LotRow]] = defaultdict(list)
        if p.damaged_lots:
            rows = conn.execute(
                sa.select(Record.lot, Record.seq, *STORED_COLUMNS)
                .where(Record.lot.in_(sorted(p.damaged_lots)))
                .order_by(Record.seq)
            )
            for lot, seq, rid, rtype, body, rhash, signer, meaning, signed_at, accepted in rows:
                by_lot[str(lot)].append(
                    (
                        seq,
                        rid,
                        rtype,
                        bytes(body),
                        bytes(rhash),
                        signer,
                        meaning,
                        int(signed_at),
                        iso_utc(accepted.astimezone(UTC)),
                    )
                )
        for n, (lot, members) in enumerate(sorted(by_lot.items()), 1):
            shown = _status(members, served, lot, self.policy.required_stages)
            sound = [r for r in members if r[0] not in p.unsound]
            rebuilt = _status(sound, served, lot, self.policy.required_stages)
            for key in ("state", "release_blockers", "open_ncrs", "open_alerts"):
                if shown.get(key) != rebuilt.get(key):
                    self._find(
                        "projection_mismatch",
                        None,
                        f"lot {lot} {key}: served {shown.get(key)!r}, the log says "
                        f"{rebuilt.get(key)!r}",
                    )
            if n % 1000 == 0 or n == len(by_lot):
                self._tick("lots", n, len(by_lot))

    def _projection(self, rebuilt: Registry, served: Registry) -> None:
        for address in {s.address.lower() for s in (*rebuilt.all(), *served.all())}:
            a, b = rebuilt.get(address), served.get(address)
            if (a and a.to_json()) != (b and b.to_json()):
                self._find(
                    "projection_mismatch",
                    None,
                    f"signer {address}: the registry served is "
                    f"{b.to_json() if b else 'absent'}, the log says "
                    f"{a.to_json() if a else 'absent'}",
                )


def _link_text(link: Link | None) -> str:
    if link is None:
        return "nothing"
    return f"{link.kind} {link.lot} / {link.other} ({link.record_id})"


def _merge(
    mine: Iterator[tuple[int, int, Link]], theirs: Iterable[tuple[int, int, Link]]
) -> Iterator[tuple[str, Link | None, Link | None]]:
    """Two link streams in (leaf index, n) order, joined on that position."""
    a, b = iter(mine), iter(theirs)
    x, y = next(a, None), next(b, None)
    while x is not None or y is not None:
        kx = (x[0], x[1]) if x is not None else None
        ky = (y[0], y[1]) if y is not None else None
        if ky is None or (kx is not None and kx < ky):
            assert x is not None
            yield f"leaf {x[0]} link {x[1]}", x[2], None
            x = next(a, None)
        elif kx is None or ky < kx:
            assert y is not None
            yield f"leaf {y[0]} link {y[1]}", None, y[2]
            y = next(b, None)
        else:
            assert x is not None and y is not None
            yield f"leaf {x[0]} link {x[1]}", x[2], y[2]
            x, y = next(a, None), next(b, None)
