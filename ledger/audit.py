"""``evledger audit``: recompute everything the ledger claims from the stored rows, and compare.

What a database superuser can change, the audit recomputes from what they cannot: record
bodies against their hashes, rows against the logged entries, entries against their signatures
and the signer registry at signing time, the tree against the leaves in log order, checkpoints
against the log key, checkpoint roots against the chain, and each lot's chain of records. Every
finding names the record (or leaf index, or tree size) and the kind of damage.

    findings = Auditor(engine, identity, log_key_vkey, chain).run()
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

import sqlalchemy as sa
from eth_account.signers.local import LocalAccount
from evledger_verify.checkpoint import NoteVerifier, verify_checkpoint
from evledger_verify.errors import VerifyError
from evledger_verify.merkle import node_hash, tree_levels
from evledger_verify.records import Entry, canonical_json

from ledger import tree
from ledger.chain import Chain
from ledger.domain.lots import Stored, apply_corrections, lot_status, subject_of
from ledger.errors import ChainError, LedgerError
from ledger.identity import Identity
from ledger.models import Anchor, Checkpoint, LogLeaf, Record, SealQueue, TreeNode
from ledger.service import Ledger
from ledger.signers import Registry, load_registry
from ledger.storage import iso_utc, to_stored
from ledger.submission import AUDIT_ALERT_PREFIX

__all__ = ["KINDS", "Auditor", "Finding", "raise_alert"]

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


def _seq(row: _Row) -> int:
    return row.seq


def _stored(row: _Row, registry: Registry) -> Stored:
    return to_stored(
        registry,
        row.record_id,
        row.record_type,
        row.body,
        row.record_hash,
        row.signer,
        row.meaning,
        row.signed_at,
        row.accepted_at,
    )


def _status(
    rows: list[_Row], registry: Registry, lot: str, stages: tuple[str, ...]
) -> dict[str, Any]:
    """The lot status ``rows`` give (corrections applied); damaged rows may not parse."""
    if not rows:
        return {}
    try:
        return lot_status(lot, apply_corrections([_stored(r, registry) for r in rows]), stages)
    except (KeyError, TypeError, ValueError, LedgerError) as exc:
        return {"state": f"unreadable: {exc.__class__.__name__}"}


def raise_alert(ledger: Ledger, account: LocalAccount, findings: list[Finding]) -> str:
    """Log an ``alert`` record naming the findings, signed by the audit key; returns its id."""
    now = int(time.time())
    alert_id = f"{AUDIT_ALERT_PREFIX}{now}-{secrets.token_hex(4)}"
    record = {
        "record_id": alert_id,
        "type": "alert",
        "schema": "alert/1",
        "alert_id": alert_id,
        "source": "audit",
        "severity": "critical",
        "description": f"evledger audit found {len(findings)} sign(s) of damage to evidence",
        "details": {"count": len(findings), "findings": [f.to_json() for f in findings[:100]]},
    }
    ledger.submit_signed(record, account, "recorded")
    return str(record["record_id"])


@dataclass
class _Row:
    seq: int
    record_id: str
    record_type: str
    lot: str | None
    body: bytes
    record_hash: bytes
    signer: str
    meaning: str
    signed_at: int
    signature: str
    entry_bytes: bytes
    leaf_hash: bytes
    accepted_at: str
    subject: str | None
    entry: Entry | None = None
    sound: bool = True


@dataclass
class Auditor:
    engine: sa.Engine
    identity: Identity
    #: The log key as the auditor knows it independently (from the key file or a trust file),
    #: never the one stored in the database, which a superuser could replace.
    log_key: str
    chain: Chain | None = None
    progress: Progress | None = None
    required_stages: tuple[str, ...] = ("final",)
    batch: int = 5000
    findings: list[Finding] = field(default_factory=list)
    _seq_of: dict[str, int] = field(default_factory=dict)
    _log_registry: Registry = field(default_factory=Registry)

    def _find(self, kind: str, record_id: str | None, detail: str) -> None:
        self.findings.append(Finding(kind, record_id, detail))

    def _tick(self, stage: str, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress(stage, done, total)

    def run(self) -> list[Finding]:
        self.findings = []
        with self.engine.connect() as conn:
            self._identity(conn)
            rows = self._records(conn)
            leaves = self._log(conn, rows)
            levels = self._tree(conn, leaves)
            self._checkpoints(conn, levels)
            self._anchors(conn, levels)
            self._lots(rows)
            served = load_registry(conn)
            self._projection(served)
            self._lot_projections(rows, served)
        return self.findings

    # -- identity --------------------------------------------------------------------------

    def _identity(self, conn: sa.Connection) -> None:
        stored = Identity.load(conn)
        if stored is None:
            self._find("identity_changed", None, "ledger_meta: no identity stored")
            return
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

    # -- records ---------------------------------------------------------------------------

    def _stream(self, conn: sa.Connection) -> Iterator[_Row]:
        q = sa.select(
            Record.seq,
            Record.record_id,
            Record.record_type,
            Record.lot,
            Record.body,
            Record.record_hash,
            Record.signer,
            Record.meaning,
            Record.signed_at,
            Record.signature,
            Record.entry,
            Record.leaf_hash,
            Record.accepted_at,
            Record.subject,
        ).order_by(Record.seq)
        for r in conn.execution_options(yield_per=self.batch).execute(q):
            yield _Row(
                r.seq,
                r.record_id,
                r.record_type,
                r.lot,
                bytes(r.body),
                bytes(r.record_hash),
                r.signer,
                r.meaning,
                int(r.signed_at),
                r.signature,
                bytes(r.entry),
                bytes(r.leaf_hash),
                iso_utc(r.accepted_at.astimezone(UTC)),
                r.subject,
            )

    def _records(self, conn: sa.Connection) -> dict[int, _Row]:
        total = int(conn.execute(sa.select(sa.func.count()).select_from(Record)).scalar_one())
        rows: dict[int, _Row] = {}
        for n, row in enumerate(self._stream(conn), 1):
            self._check_record(row)
            rows[row.seq] = row
            self._seq_of[row.record_id] = row.seq
            if n % self.batch == 0 or n == total:
                self._tick("records", n, total)
        # The registry as the log says it is: only signer records that passed every check.
        registry = self._log_registry = Registry()
        for row in sorted(
            (r for r in rows.values() if r.record_type == "signer" and r.sound),
            key=lambda r: (r.signed_at, r.seq),
        ):
            registry.apply(json.loads(row.body), row.signed_at)
            self._check_authority(row, registry, bootstrap=not len(registry))
        for row in rows.values():
            if row.record_type != "signer" and row.sound:
                self._check_authority(row, registry, bootstrap=False)
        return rows

    def _check_record(self, row: _Row) -> None:
        rid = row.record_id
        if hashlib.sha256(row.body).digest() != row.record_hash:
            row.sound = False
            self._find("record_altered", rid, "body does not hash to the record hash")
        try:
            body = json.loads(row.body)
            if canonical_json(body) != row.body:
                raise ValueError("not in canonical form")
        except (ValueError, VerifyError) as exc:
            row.sound = False
            self._find("record_altered", rid, f"body is not canonical JSON: {exc}")
            body = {}
        try:
            entry = Entry.from_json(json.loads(row.entry_bytes))
        except (ValueError, VerifyError) as exc:
            row.sound = False
            self._find("leaf_mismatch", rid, f"logged entry unreadable: {exc}")
            return
        row.entry = entry
        if entry.canonical() != row.entry_bytes:
            row.sound = False
            self._find("leaf_mismatch", rid, "logged entry is not in canonical form")
        if entry.leaf_hash() != row.leaf_hash:
            row.sound = False
            self._find("leaf_mismatch", rid, "logged entry does not hash to the stored leaf")
        expected = {
            "record_id": (entry.record_id, row.record_id),
            "record_type": (entry.record_type, row.record_type),
            "record_hash": (entry.record_hash, row.record_hash.hex()),
            "lot": (entry.lot, row.lot),
            "signer": (entry.signer, row.signer),
            "meaning": (entry.meaning, row.meaning),
            "signed_at": (entry.signed_at, row.signed_at),
            "signature": (entry.signature, row.signature),
            "accepted_at": (entry.accepted_at, row.accepted_at),
        }
        for name, (logged, stored) in expected.items():
            if logged != stored:
                row.sound = False
                self._find("entry_mismatch", rid, f"{name}: logged {logged!r}, row has {stored!r}")
        for name, key in (("record_id", "record_id"), ("type", "record_type"), ("lot", "lot")):
            if body and body.get(name) != getattr(entry, key):
                row.sound = False
                self._find(
                    "entry_mismatch",
                    rid,
                    f"body {name}: logged {getattr(entry, key)!r}, body has {body.get(name)!r}",
                )
        try:
            derived = subject_of(body) if body else row.subject
        except (KeyError, TypeError):
            derived = None
        if derived != row.subject:
            row.sound = False
            self._find(
                "entry_mismatch", rid, f"subject: body says {derived!r}, row has {row.subject!r}"
            )
        try:
            entry.verify_signature(self.identity.domain)
        except VerifyError as exc:
            row.sound = False
            self._find("bad_signature", rid, str(exc))

    def _check_authority(self, row: _Row, registry: Registry, bootstrap: bool) -> None:
        state = registry.get(row.signer)
        if bootstrap and row.record_type == "signer":
            return
        if state is None or state.roles_at(row.signed_at) is None:
            self._find(
                "unauthorized_signer",
                row.record_id,
                f"{row.signer} was not an active signer at {row.signed_at}",
            )
        elif state.compromised_by is not None and row.seq > self._seq_of.get(
            state.compromised_by, row.seq
        ):
            self._find(
                "unauthorized_signer",
                row.record_id,
                f"accepted after {row.signer}'s key was reported compromised "
                f"({state.compromised_by})",
            )

    # -- log and tree ----------------------------------------------------------------------

    def _log(self, conn: sa.Connection, rows: dict[int, _Row]) -> list[bytes]:
        log = conn.execute(
            sa.select(LogLeaf.leaf_index, LogLeaf.seq).order_by(LogLeaf.leaf_index)
        ).all()
        queued = set(conn.execute(sa.select(SealQueue.seq)).scalars())
        level0 = {
            int(i): bytes(h)
            for i, h in conn.execute(
                sa.select(TreeNode.idx, TreeNode.hash).where(TreeNode.level == 0)
            )
        }
        leaves: list[bytes] = []
        logged: set[int] = set()
        for expected_index, (index, seq) in enumerate(log):
            if index != expected_index:
                self._find("log_gap", None, f"leaf index {expected_index} missing (next {index})")
                break
            logged.add(seq)
            row = rows.get(seq)
            stored = level0.get(index)
            if row is None:
                self._find(
                    "missing_record",
                    self._lost_id(rows, stored),
                    f"leaf {index} has no record (deleted)"
                    + (f"; its leaf hash {stored.hex()}" if stored else ""),
                )
                leaves.append(stored or bytes(32))
                continue
            leaves.append(row.leaf_hash)
            if stored is not None and stored != row.leaf_hash:
                owner = next((r for r in rows.values() if r.leaf_hash == stored), None)
                self._find(
                    "order_changed",
                    row.record_id,
                    f"at leaf {index}, but the log has "
                    + (f"record {owner.record_id} there" if owner else "another leaf there"),
                )
        for seq, row in rows.items():
            if seq not in logged and seq not in queued:
                self._find(
                    "unlogged_record",
                    row.record_id,
                    "not in the log and not waiting to be sealed (inserted)",
                )
        self._tick("log", len(leaves), len(leaves))
        return leaves

    @staticmethod
    def _lost_id(rows: dict[int, _Row], leaf: bytes | None) -> str | None:
        """The id of a deleted record is gone with it; its lot successor still points at it."""
        if leaf is None:
            return None
        for row in rows.values():
            if row.entry is not None and row.entry.lot_prev == leaf.hex():
                return f"(predecessor of {row.record_id} in lot {row.lot})"
        return None

    def _tree(self, conn: sa.Connection, leaves: list[bytes]) -> list[list[bytes]]:
        """Recompute every complete-subtree node from the leaves and compare with storage."""
        levels = tree_levels(leaves) if leaves else [[]]
        stored = conn.execute(sa.select(TreeNode.level, TreeNode.idx, TreeNode.hash))
        bad = 0
        for level, idx, h in stored:
            ok = level < len(levels) and idx < len(levels[level]) and levels[level][idx] == h
            if not ok:
                bad += 1
                if bad <= 20:
                    self._find("tree_altered", None, f"node level {level} index {idx} differs")
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

    def _anchors(self, conn: sa.Connection, levels: list[list[bytes]]) -> None:
        if self.chain is None:
            return
        try:
            chain_size, chain_root = self.chain.latest()
        except ChainError as exc:
            self._find("anchor_mismatch", None, f"chain: cannot read the contract: {exc}")
            return
        if chain_size:
            ours = self._root(levels, chain_size)
            if ours != chain_root:
                self._find(
                    "anchor_mismatch",
                    None,
                    f"the chain's latest anchor holds root {chain_root.hex()} at size "
                    f"{chain_size}; the stored log gives "
                    + (ours.hex() if ours else "no tree of that size (truncated)"),
                )
        anchors = conn.execute(
            sa.select(Anchor.tree_size, Anchor.root_hash).order_by(Anchor.tree_size)
        ).all()
        for n, (size, root) in enumerate(anchors, 1):
            try:
                held = self.chain.root_at(size)
            except ChainError as exc:
                self._find("anchor_mismatch", None, f"size {size}: cannot read: {exc}")
                continue
            ours = self._root(levels, size)
            if held != bytes(root) or held != ours:
                self._find(
                    "anchor_mismatch",
                    None,
                    f"size {size}: chain holds {held.hex()}, anchors row "
                    f"{bytes(root).hex()}, leaves give {ours.hex() if ours else 'nothing'}",
                )
            if n % 100 == 0 or n == len(anchors):
                self._tick("anchors", n, len(anchors))

    # -- lots and projections --------------------------------------------------------------

    def _lots(self, rows: dict[int, _Row]) -> None:
        by_lot: dict[str, list[_Row]] = defaultdict(list)
        for row in rows.values():
            if row.entry is not None and row.entry.lot is not None:
                by_lot[row.entry.lot].append(row)
        for lot, members in by_lot.items():
            prev: _Row | None = None
            for row in sorted(members, key=lambda r: r.seq):
                expected = None if prev is None else prev.leaf_hash.hex()
                assert row.entry is not None
                if row.entry.lot_prev != expected:
                    self._find(
                        "lot_chain_broken",
                        row.record_id,
                        f"lot {lot}: logged predecessor {row.entry.lot_prev}, but the "
                        + (
                            f"previous record is {prev.record_id} ({expected})"
                            if prev
                            else "record is the first of the lot"
                        ),
                    )
                prev = row

    def _lot_projections(self, rows: dict[int, _Row], served: Registry) -> None:
        """Each lot's status as the service serves it (every stored row of the lot) against
        the status rebuilt from the rows that passed every check. Rows are grouped once."""
        by_lot: dict[str, list[_Row]] = defaultdict(list)
        for row in sorted(rows.values(), key=_seq):
            if row.lot is not None:
                by_lot[row.lot].append(row)
        for n, (lot, members) in enumerate(sorted(by_lot.items()), 1):
            shown = _status(members, served, lot, self.required_stages)
            rebuilt = _status([r for r in members if r.sound], served, lot, self.required_stages)
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

    def _projection(self, served: Registry) -> None:
        rebuilt = self._log_registry
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
