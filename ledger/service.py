"""The ledger: accepting signed records, and answering for them with receipts and proofs.

ledger = Ledger(engine, identity)
result = ledger.submit(Submission(record, signature, meaning, signed_at))
receipt = ledger.receipt(record["record_id"])  # once sealed and anchored
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from eth_account.signers.local import LocalAccount
from eth_typing import Hash32
from evledger_verify.errors import FormatError, SignatureInvalidError
from evledger_verify.merkle import leaf_hash
from evledger_verify.receipt import RECEIPT_FORMAT, TRUST_FORMAT
from evledger_verify.records import (
    Domain,
    Entry,
    RecordHash,
    canonical_json,
    eip712_digest,
    normalize_signature,
    record_hash,
    recover_signer,
    typed_data,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert

from ledger import tree
from ledger.domain.lots import apply_corrections, lot_status, subject_of
from ledger.domain.rules import Rules, load_lot, load_stored
from ledger.domain.schemas import ID_PATTERN, LOT_PATTERN, parse_record
from ledger.errors import (
    AuthorizationError,
    BadRequestError,
    ConflictError,
    InvalidRecordError,
    NotFoundError,
    SignatureError,
)
from ledger.models import Anchor, Checkpoint, LedgerMeta, LogLeaf, Record, SealQueue, TreeNode
from ledger.signers import Registry, load_registry
from ledger.tokens import verify_token

__all__ = ["MEANINGS", "Identity", "Ledger", "Submission", "SubmitResult"]

#: Record ids of the alerts `evledger audit --every` raises.
AUDIT_ALERT_PREFIX = "audit-alert-"
MEANINGS = ("authored", "reviewed", "approved", "released", "verified", "recorded")
_RECORD_ID = re.compile(ID_PATTERN.removesuffix("$"))
_RECORD_TYPE = re.compile(r"^[a-z][a-z_]{0,63}")
_LOT = re.compile(LOT_PATTERN.removesuffix("$"))
_REGISTRY_LOCK = 7140001


@dataclass(frozen=True)
class Identity:
    """What makes this ledger itself: its chain, contract and log."""

    chain_id: int
    contract: str
    log_origin: str
    log_public_key: str

    @property
    def domain(self) -> Domain:
        return Domain(self.chain_id, self.contract)

    def trust(self) -> dict[str, Any]:
        return {
            "format": TRUST_FORMAT,
            "log_origin": self.log_origin,
            "log_public_key": self.log_public_key,
            "chain_id": self.chain_id,
            "contract": self.contract,
        }

    @classmethod
    def load(cls, conn: sa.Connection) -> Identity | None:
        meta = dict(conn.execute(sa.select(LedgerMeta.key, LedgerMeta.value)).all())
        if "contract" not in meta:
            return None
        return cls(
            chain_id=int(meta["chain_id"]),
            contract=meta["contract"],
            log_origin=meta["log_origin"],
            log_public_key=meta["log_public_key"],
        )


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

    def to_json(self) -> dict[str, Any]:
        return {
            "record_id": self.record_id,
            "record_hash": self.record_hash,
            "signer": self.signer,
            "accepted_at": self.accepted_at,
            "status": "duplicate" if self.duplicate else "accepted",
            "receipt_url": f"/v1/records/{self.record_id}/receipt",
        }


def iso_utc(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


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
        raise InvalidRecordError(f"record.lot: expected 1-128 printable characters, got {lot!r}")
    return rid, rtype, lot


class Ledger:
    def __init__(
        self,
        engine: sa.Engine,
        identity: Identity,
        *,
        max_clock_skew: int = 300,
        max_signature_age: int = 7 * 86400,
        required_stages: tuple[str, ...] = ("final",),
        clock: Any = time.time,
    ) -> None:
        self.required_stages = required_stages
        self.engine = engine
        self.identity = identity
        self.max_clock_skew = max_clock_skew
        self.max_signature_age = max_signature_age
        self.clock = clock

    # -- signing helpers --------------------------------------------------------------------

    def typed_data(self, record: Mapping[str, Any], meaning: str, signed_at: int) -> dict[str, Any]:
        """The EIP-712 JSON for ``record`` (not validated: signing is not accepting)."""
        rid, rtype = str(record.get("record_id")), str(record.get("type"))
        return typed_data(self.identity.domain, rid, rtype, record_hash(record), meaning, signed_at)

    def digest(self, record: Mapping[str, Any], meaning: str, signed_at: int) -> bytes:
        """The EIP-712 digest for ``record`` (not validated: signing is not accepting)."""
        rid, rtype = str(record.get("record_id")), str(record.get("type"))
        return eip712_digest(
            self.identity.domain, rid, rtype, record_hash(record), meaning, signed_at
        )

    def submit_signed(
        self,
        record: dict[str, Any],
        account: LocalAccount,
        meaning: str,
        *,
        bootstrap: bool = False,
    ) -> SubmitResult:
        """Sign ``record`` now with a key the ledger holds itself (bootstrap admin, audit
        key) and submit it like any other record."""
        signed_at = int(self.clock())
        digest = Hash32(self.digest(record, meaning, signed_at))
        signature = account.unsafe_sign_hash(digest).signature.to_0x_hex()
        return self.submit(Submission(record, signature, meaning, signed_at), bootstrap=bootstrap)

    # -- submission -------------------------------------------------------------------------

    def submit(self, sub: Submission, *, bootstrap: bool = False) -> SubmitResult:
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
        if sub.signed_at < now - self.max_signature_age:
            raise InvalidRecordError(
                f"signed_at: signature older than {self.max_signature_age} s "
                f"({sub.signed_at} < {now - self.max_signature_age}); sign again"
            )
        digest = eip712_digest(self.identity.domain, rid, rtype, rhash, sub.meaning, sub.signed_at)
        sub = dataclasses.replace(sub, signature=normalize_signature(sub.signature))
        try:
            signer = recover_signer(digest, sub.signature)
        except SignatureInvalidError as exc:
            raise SignatureError(str(exc)) from exc
        if sub.signer is not None and sub.signer.lower() != signer.lower():
            raise SignatureError(
                f"signature: expected a signature by {sub.signer}, it recovers to {signer} "
                "(signed over other data, or with another key)"
            )

        with self.engine.begin() as conn:
            existing = self._existing(conn, rid)
            if existing is not None:
                return self._idempotent(existing, body, sub)
            registry, roles = self._authorize(conn, sub, rtype, signer, bootstrap)
            lot_prev = self._lot_head(conn, lot)
            subject = subject_of(sub.record)
            if subject is not None:
                conn.execute(sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtext(subject))))
            if not bootstrap:
                Rules(conn, registry, self.required_stages).check(
                    model, sub.record, sub.meaning, signer, roles
                )
            accepted = datetime.now(UTC)
            entry = Entry(
                record_id=rid,
                record_type=rtype,
                record_hash=rhash.hex(),
                lot=lot,
                lot_prev=lot_prev,
                signer=signer,
                meaning=sub.meaning,
                signed_at=sub.signed_at,
                signature=sub.signature,  # normalized: lowercase, v = 27/28
                salt=secrets.token_hex(32),
                accepted_at=iso_utc(accepted),
            )
            entry_bytes = entry.canonical()
            # ON CONFLICT instead of a savepoint: a concurrent submission of the same id that
            # committed first leaves nothing inserted here, and is judged like any duplicate.
            seq = conn.execute(
                pg_insert(Record)
                .values(
                    record_id=rid,
                    record_type=rtype,
                    lot=lot,
                    subject=subject,
                    body=body,
                    record_hash=rhash,
                    signer=signer,
                    meaning=sub.meaning,
                    signed_at=sub.signed_at,
                    signature=entry.signature,
                    entry=entry_bytes,
                    leaf_hash=leaf_hash(entry_bytes),
                    accepted_at=accepted,
                )
                .on_conflict_do_nothing(index_elements=[Record.record_id])
                .returning(Record.seq)
            ).scalar_one_or_none()
            if seq is None:
                return self._idempotent(self._existing(conn, rid), body, sub)
            conn.execute(sa.insert(SealQueue).values(seq=seq))
        return SubmitResult(rid, rhash.hex(), signer, entry.accepted_at, duplicate=False)

    @staticmethod
    def _lot_head(conn: sa.Connection, lot: str | None) -> str | None:
        """Leaf hash of the lot's latest record, read under a per-lot lock held until commit,
        so the lot's records form one chain even with concurrent submissions."""
        if lot is None:
            return None
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtext("lot:" + lot))))
        head = conn.execute(
            sa.select(Record.leaf_hash)
            .where(Record.lot == lot)
            .order_by(Record.seq.desc())
            .limit(1)
        ).scalar_one_or_none()
        return None if head is None else bytes(head).hex()

    @staticmethod
    def _existing(conn: sa.Connection, rid: str) -> Any:
        return conn.execute(
            sa.select(
                Record.body,
                Record.record_hash,
                Record.signer,
                Record.signature,
                Record.meaning,
                Record.signed_at,
                Record.accepted_at,
            ).where(Record.record_id == rid)
        ).first()

    @staticmethod
    def _idempotent(row: Any, body: bytes, sub: Submission) -> SubmitResult:
        same = (
            bytes(row.body) == body
            and row.signature == sub.signature
            and row.meaning == sub.meaning
            and row.signed_at == sub.signed_at
        )
        rid = str(sub.record["record_id"])
        if not same:
            what = "a different body" if bytes(row.body) != body else "a different signature"
            raise ConflictError(
                f"record_id {rid!r}: already used with {what}; "
                "a record is never changed (submit a correction under a new id)"
            )
        return SubmitResult(
            rid, bytes(row.record_hash).hex(), row.signer, iso_utc(row.accepted_at), duplicate=True
        )

    def _authorize(
        self, conn: sa.Connection, sub: Submission, rtype: str, signer: str, bootstrap: bool
    ) -> tuple[Registry, tuple[str, ...]]:
        """The registry and the signer's roles at the signing time; refuses unknown, revoked
        and not-yet-valid signers."""
        # Registry changes take the lock exclusively, other records share it: authority is
        # judged against a settled registry, and ordinary submissions do not wait for each other.
        lock = "pg_advisory_xact_lock" if rtype == "signer" else "pg_advisory_xact_lock_shared"
        conn.execute(sa.text(f"SELECT {lock}({_REGISTRY_LOCK})"))
        registry = load_registry(conn)
        if bootstrap:
            rec = sub.record
            if (
                len(registry)
                or rtype != "signer"
                or rec.get("action") != "grant"
                or (
                    str(rec.get("address", "")).lower() != signer.lower()
                    or "admin" not in rec.get("roles", [])
                )
            ):
                raise AuthorizationError(
                    "bootstrap: only a self-signed admin grant on an empty registry"
                )
            return registry, ("admin",)
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
        roles = state.roles_at(sub.signed_at)
        if roles is None:
            raise AuthorizationError(
                f"signer {signer} ({state.name}): not an active signer at the signing time "
                f"{sub.signed_at}" + (" (revoked)" if state.revoked else "")
            )
        if rtype == "signer" and "admin" in roles:
            self._check_registry_change(registry, sub)
        return registry, roles

    @staticmethod
    def _check_registry_change(registry: Registry, sub: Submission) -> None:
        """A revoke must name an active signer and must not remove the last admin."""
        rec, t = sub.record, sub.signed_at
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

    # -- reading ----------------------------------------------------------------------------

    def reader(self, token: str) -> tuple[str, tuple[str, ...]]:
        """Who a read token belongs to and their roles now; refuses anyone who may not read."""
        with self.engine.connect() as conn:
            registry = load_registry(conn)
        return verify_token(token, self.identity.log_origin, registry, int(self.clock()))

    def record_view(self, record_id: str) -> dict[str, Any]:
        """The record as it stands now (corrections applied), as first entered, the full
        history of changes (old, new, who, when, why) and its signature manifestation."""
        with self.engine.connect() as conn:
            registry = load_registry(conn)
            found = load_stored(conn, registry, Record.record_id == record_id)
            if not found:
                raise NotFoundError(f"record {record_id!r}: not found")
            corrections = load_stored(conn, registry, Record.subject == f"record:{record_id}")
            leaf = conn.execute(
                sa.select(LogLeaf.leaf_index)
                .join(Record, Record.seq == LogLeaf.seq)
                .where(Record.record_id == record_id)
            ).scalar_one_or_none()
        record = apply_corrections([found[0], *corrections])[0]
        return {
            **record.view(),
            "original": record.original,
            "lot": record.body.get("lot"),
            "leaf_index": leaf,
            "receipt_url": f"/v1/records/{record_id}/receipt",
        }

    def lot(self, lot: str) -> dict[str, Any]:
        """Lot status: product, state, inspections, open NCR / CAPA / alerts, release, timeline."""
        with self.engine.connect() as conn:
            registry = load_registry(conn)
            records = load_lot(conn, registry, lot)
            if not records:
                raise NotFoundError(f"lot {lot!r}: no records")
            capa_ids = {f"capa:{r.body['capa_id']}" for r in records if r.body.get("capa_id")}
            capas = load_stored(conn, registry, Record.subject.in_(capa_ids)) if capa_ids else []
        return lot_status(lot, records, self.required_stages, capas)

    def signers(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [s.to_json() for s in load_registry(conn).all()]

    def receipt(self, record_id: str) -> dict[str, Any]:
        """The receipt for a record; ``status`` says pending / sealed / anchored."""
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(
                    Record.record_id,
                    Record.record_hash,
                    Record.entry,
                    Record.leaf_hash,
                    LogLeaf.leaf_index,
                )
                .outerjoin(LogLeaf, LogLeaf.seq == Record.seq)
                .where(Record.record_id == record_id)
            ).first()
            if row is None:
                raise NotFoundError(f"record {record_id!r}: not found")
            base: dict[str, Any] = {
                "format": RECEIPT_FORMAT,
                "record_id": row.record_id,
                "record_hash": bytes(row.record_hash).hex(),
                "entry": json.loads(row.entry),
                "leaf_hash": bytes(row.leaf_hash).hex(),
            }
            if row.leaf_index is None:
                return {"status": "pending", **base}
            idx = int(row.leaf_index)
            anchor = conn.execute(
                sa.select(Anchor)
                .where(Anchor.tree_size > idx)
                .order_by(Anchor.tree_size.desc())
                .limit(1)
            ).first()
            if anchor is not None:
                size = anchor.tree_size
            else:
                size = conn.execute(sa.select(sa.func.max(Checkpoint.tree_size))).scalar_one()
            cp = conn.execute(sa.select(Checkpoint).where(Checkpoint.tree_size == size)).one()
            proof = tree.inclusion_proof(DbNodeStore(conn), idx, size)
        return {
            "status": "anchored" if anchor else "sealed",
            **base,
            "leaf_index": idx,
            "tree_size": size,
            "root_hash": bytes(cp.root_hash).hex(),
            "inclusion_proof": [p.hex() for p in proof],
            "checkpoint": cp.note,
            "anchor": None
            if anchor is None
            else {
                "chain_id": anchor.chain_id,
                "contract": anchor.contract,
                "tx_hash": anchor.tx_hash,
                "block_number": anchor.block_number,
                "block_hash": anchor.block_hash,
                "log_index": anchor.log_index,
            },
        }

    def checkpoint(self, tree_size: int | None = None) -> dict[str, Any]:
        with self.engine.connect() as conn:
            q = sa.select(Checkpoint)
            q = (
                q.where(Checkpoint.tree_size == tree_size)
                if tree_size is not None
                else q.order_by(Checkpoint.tree_size.desc()).limit(1)
            )
            cp = conn.execute(q).first()
            if cp is None:
                raise NotFoundError(
                    "checkpoint: none yet"
                    if tree_size is None
                    else f"checkpoint: none at tree size {tree_size}"
                )
            anchor = conn.execute(sa.select(Anchor).where(Anchor.tree_size == cp.tree_size)).first()
        return {
            "tree_size": cp.tree_size,
            "root_hash": bytes(cp.root_hash).hex(),
            "checkpoint": cp.note,
            "created_at": iso_utc(cp.created_at),
            "anchored": anchor is not None,
            "anchor_tx_hash": anchor.tx_hash if anchor else None,
        }

    def consistency(self, first: int, second: int) -> dict[str, Any]:
        if not 1 <= first <= second:
            raise BadRequestError(
                f"consistency proof: expected 1 <= first <= second, got {first}, {second}"
            )
        with self.engine.connect() as conn:
            have = (
                conn.execute(
                    sa.select(Checkpoint.tree_size).where(Checkpoint.tree_size.in_([first, second]))
                )
                .scalars()
                .all()
            )
            size = conn.execute(sa.select(sa.func.max(LogLeaf.leaf_index))).scalar_one()
            if second not in have and (size is None or second > size + 1):
                raise NotFoundError(f"consistency proof: the log has no tree of size {second}")
            proof = tree.consistency_proof(DbNodeStore(conn), first, second)
        return {"first": first, "second": second, "proof": [p.hex() for p in proof]}

    def status(self) -> dict[str, Any]:
        with self.engine.connect() as conn:
            latest = conn.execute(sa.select(sa.func.max(Checkpoint.tree_size))).scalar_one()
            anchored = conn.execute(sa.select(sa.func.max(Anchor.tree_size))).scalar_one()
            records = conn.execute(sa.select(sa.func.count()).select_from(Record)).scalar_one()
            pending = conn.execute(sa.select(sa.func.count()).select_from(SealQueue)).scalar_one()
            alerts = conn.execute(
                sa.select(sa.func.count()).where(Record.record_id.like(f"{AUDIT_ALERT_PREFIX}%"))
            ).scalar_one()
        return {
            "records": records,
            "pending_seal": pending,
            "audit_alerts": alerts,
            "latest_checkpoint": latest,
            "latest_anchored_checkpoint": anchored,
        }


class DbNodeStore:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def get_nodes(self, keys: Iterable[tree.NodeKey]) -> dict[tree.NodeKey, bytes]:
        keys = list(keys)
        if not keys:
            return {}
        rows = self.conn.execute(
            sa.select(TreeNode.level, TreeNode.idx, TreeNode.hash).where(
                sa.tuple_(TreeNode.level, TreeNode.idx).in_(keys)
            )
        )
        return {(int(level), int(idx)): bytes(h) for level, idx, h in rows}
