"""The read side: records as they stand now, lot status, the signer registry, counters.

Record bodies and lot status need a read token (:meth:`Reads.reader`); the counters are cheap
(no scan of the records table) because ``/metrics`` and ``/v1/status`` are polled.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from evledger_verify.policy import Policy

from ledger import genealogy, health
from ledger.domain.epcis import event_hash_of
from ledger.domain.lots import apply_corrections, lot_status
from ledger.domain.rules import Rules
from ledger.errors import ConflictError, NotFoundError
from ledger.identity import Identity
from ledger.models import (
    Anchor,
    AnchorSubmission,
    Checkpoint,
    GenealogyState,
    LogLeaf,
    Record,
    SealQueue,
    WorkerStatus,
)
from ledger.signers import RegistryCache
from ledger.storage import LIVE_ANCHOR, anchor_state, load_lot, load_stored
from ledger.submission import AUDIT_ALERT_PREFIX
from ledger.tokens import verify_token

__all__ = ["Reads"]


class Reads:
    def __init__(
        self,
        engine: sa.Engine,
        identity: Identity,
        policy: Policy,
        clock: Callable[[], float],
        extra_chains: tuple[int, ...] = (),
    ) -> None:
        self.engine = engine
        self.identity = identity
        self.extra_chains = extra_chains
        self.policy = policy
        self.clock = clock
        self.registry = RegistryCache()

    def reader(self, token: str) -> tuple[str, tuple[str, ...]]:
        """Who a read token belongs to and their roles now; refuses anyone who may not read."""
        with self.engine.connect() as conn:
            registry = self.registry.get(conn)
        return verify_token(token, self.identity.log_origin, registry, int(self.clock()))

    def record_view(self, record_id: str) -> dict[str, Any]:
        """The record as it stands now (corrections applied), as first entered, the full
        history of changes (old, new, who, when, why) and its signature manifestation."""
        with self.engine.connect() as conn:
            registry = self.registry.get(conn)
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
        # The CBV 2.0 Event Hash ID of a scan or captured event, beside our record hash (of
        # the record as logged: documents and the genealogy read logged bodies).
        hash_id = event_hash_of(found[0].body)
        return {
            **({"epcis_event_hash": hash_id} if hash_id is not None else {}),
            **record.view(),
            "original": record.original,
            "lot": record.body.get("lot"),
            "leaf_index": leaf,
            "receipt_url": f"/v1/records/{record_id}/receipt",
        }

    def lot(self, lot: str) -> dict[str, Any]:
        """Lot status: product, state, inspections, open NCR / CAPA / alerts, release, timeline."""
        with self.engine.connect() as conn:
            registry = self.registry.get(conn)
            records = load_lot(conn, registry, lot)
            if not records:
                raise NotFoundError(f"lot {lot!r}: no records")
            capa_ids = {f"capa:{r.body['capa_id']}" for r in records if r.body.get("capa_id")}
            capas = load_stored(conn, registry, Record.subject.in_(capa_ids)) if capa_ids else []
            flags = Rules(conn, registry, self.policy).master_blockers(lot, records)
        return lot_status(lot, records, self.policy.required_stages, capas, flags)

    def public_lot(self, gtin: str, lot: str) -> dict[str, Any]:
        """The lot's public face, behind its GS1 Digital Link ``/01/{gtin}/10/{lot}``: what
        its receipts already make public (each record's id, type, hash, signer address,
        meaning, times and place in the log) and the newest anchored checkpoint, never a
        record body. Not found when the lot has no records of that GTIN."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(Record.record_type, Record.body, Record.entry, LogLeaf.leaf_index)
                .outerjoin(LogLeaf, LogLeaf.seq == Record.seq)
                .where(Record.lot == lot)
                .order_by(Record.seq)
            ).all()
            latest = conn.execute(
                sa.select(Anchor.tree_size, Anchor.chain_id, Anchor.tx_hash)
                .where(LIVE_ANCHOR)
                .order_by(Anchor.tree_size.desc())
                .limit(1)
            ).first()
        # The product a lot is of: what its inspections and releases state (scans and
        # readings, the bulk of a lot, are not parsed for it).
        products = {
            str(product.get("gtin"))
            for rtype, body, _, _ in rows
            if rtype in ("inspection", "release")
            and isinstance(product := json.loads(body).get("product"), dict)
        }
        if gtin not in products:
            raise NotFoundError(f"lot {lot!r} of GTIN {gtin}: not known to this ledger")
        records = []
        for _, _, entry_raw, leaf in rows:
            entry = json.loads(entry_raw)
            records.append(
                {
                    "record_id": entry["record_id"],
                    "type": entry["record_type"],
                    "record_hash": entry["record_hash"],
                    "signer": entry["signer"],
                    "meaning": entry["meaning"],
                    "signed_at": datetime.fromtimestamp(int(entry["signed_at"]), UTC)
                    .isoformat()
                    .replace("+00:00", "Z"),
                    "accepted_at": entry["accepted_at"],
                    "leaf_index": leaf,
                    "receipt_url": f"/v1/records/{entry['record_id']}/receipt",
                }
            )
        return {
            "gtin": gtin,
            "lot": lot,
            "records": records,
            "anchored": None
            if latest is None
            else {"tree_size": latest.tree_size, "chain_id": latest.chain_id,
                  "tx_hash": latest.tx_hash},
        }

    # -- genealogy --------------------------------------------------------------------------

    def trace(
        self,
        lot: str,
        direction: genealogy.Direction,
        depth: int = genealogy.MAX_DEPTH,
        as_of: datetime | None = None,
    ) -> dict[str, Any]:
        """The lots ``lot`` was made from (backward) or that were made from it and where they
        went (forward), with their status and the records proving each link."""
        with self.engine.connect() as conn:
            if not genealogy.known(conn, lot):
                raise NotFoundError(f"lot {lot!r}: no records and no genealogy")
            return genealogy.trace_view(conn, [lot], direction, depth=depth, as_of=as_of)

    def supplier_trace(self, supplier: str, as_of: datetime | None = None) -> dict[str, Any]:
        """Every lot received from ``supplier``, forward to consignees."""
        with self.engine.connect() as conn:
            lots = genealogy.received_from(conn, supplier, genealogy.projected_size(conn))
            if not lots:
                raise NotFoundError(f"supplier {supplier!r}: no lot received from it")
            view = genealogy.trace_view(conn, lots, "forward", as_of=as_of)
        return {"supplier": supplier, **view}

    def recall_scope(
        self, *, lot: str | None = None, supplier: str | None = None, tree_size: int | None = None
    ) -> dict[str, Any]:
        """The recall scope (see :func:`ledger.genealogy.recall_scope`) and its SHA-256."""
        with self.engine.connect() as conn:
            if lot is not None and not genealogy.known(conn, lot):
                raise NotFoundError(f"lot {lot!r}: no records and no genealogy")
            if supplier is not None and not genealogy.received_from(
                conn, supplier, genealogy.projected_size(conn)
            ):
                raise NotFoundError(f"supplier {supplier!r}: no lot received from it")
            try:
                scope = genealogy.recall_scope(
                    conn, lot=lot, supplier=supplier, tree_size=tree_size
                )
            except LookupError as exc:
                raise ConflictError(str(exc)) from None
        return {"scope": scope, "scope_sha256": genealogy.scope_sha256(scope)}

    def health(self) -> dict[str, Any]:
        """ok, or degraded with the reasons (see :func:`ledger.health.assess`); raises
        SQLAlchemyError when the database does not answer."""
        with self.engine.connect() as conn:
            return health.assess(conn, extra_chains=self.extra_chains)

    def trust(self) -> dict[str, Any]:
        """The trust file, read afresh: a chain added to the configuration appears once its
        anchorer has deployed the contract there."""
        with self.engine.connect() as conn:
            identity = Identity.load(conn)
        return (identity or self.identity).trust()

    def signers(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [s.to_json() for s in self.registry.get(conn).all()]

    def status(self) -> dict[str, Any]:
        """Counters without scanning the records: every record is either a leaf of the log or
        waiting in the (small) seal queue."""
        # One statement, so one snapshot: a seal committing meanwhile moves records from the
        # queue to the log without being counted twice or not at all.
        query = sa.select(
            sa.select(sa.func.max(Checkpoint.tree_size)).scalar_subquery(),
            sa.select(sa.func.max(LogLeaf.leaf_index)).scalar_subquery(),
            sa.select(sa.func.count()).select_from(SealQueue).scalar_subquery(),
            sa.select(sa.func.count())
            .where(
                Record.record_type == "alert",
                Record.record_id.like(f"{AUDIT_ALERT_PREFIX}%"),
            )
            .scalar_subquery(),
            sa.select(GenealogyState.next_leaf).scalar_subquery(),
        )
        with self.engine.connect() as conn:
            latest, leaves, pending, alerts, projected = conn.execute(query).one()
            lag_records, lag_seconds = health.anchor_lag(conn, datetime.now(UTC))
            counters = dict(
                conn.execute(
                    sa.select(WorkerStatus.component, WorkerStatus.counters).where(health.ANCHORERS)
                ).all()
            )
            per_chain = conn.execute(
                sa.select(
                    Anchor.chain_id,
                    sa.func.max(Anchor.tree_size),
                    sa.func.max(Anchor.tree_size).filter(anchor_state("final")),
                )
                .where(LIVE_ANCHOR)
                .group_by(Anchor.chain_id)
            ).all()
            # Sent but not in a block yet: newer than the chain's newest anchor.
            in_flight = conn.execute(
                sa.select(
                    AnchorSubmission.chain_id,
                    sa.func.max(AnchorSubmission.tree_size),
                    sa.func.min(AnchorSubmission.sent_at),
                    sa.func.count(),
                )
                .where(
                    AnchorSubmission.tree_size
                    > sa.func.coalesce(
                        sa.select(sa.func.max(Anchor.tree_size))
                        .where(Anchor.chain_id == AnchorSubmission.chain_id, LIVE_ANCHOR)
                        .scalar_subquery(),
                        0,
                    )
                )
                .group_by(AnchorSubmission.chain_id)
            ).all()
        now = datetime.now(UTC)
        empty = {
            "latest_anchored_checkpoint": None,
            "latest_final_checkpoint": None,
            "submitted_checkpoint": None,
            "submitted_s_ago": None,
            "submitted_transactions": 0,
        }
        chains: dict[int, dict[str, int | float | None]] = {
            int(cid): {**empty, "latest_anchored_checkpoint": a, "latest_final_checkpoint": f}
            for cid, a, f in per_chain
        }
        for cid, size, since, txs in in_flight:
            chains.setdefault(int(cid), dict(empty)).update(
                submitted_checkpoint=size,
                submitted_s_ago=round((now - since).total_seconds(), 1),
                submitted_transactions=txs,
            )
        failures = replacements = 0
        for component, text in counters.items():
            c = json.loads(text or "{}")
            failures += int(c.get("round_failures", 0))
            replacements += int(c.get("tx_replacements", 0))
            cid = (
                self.identity.chain_id
                if component == "anchorer"
                else int(component.removeprefix("anchorer:"))
            )
            chains.setdefault(cid, dict(empty)).update(
                anchor_round_failures=int(c.get("round_failures", 0)),
                anchor_tx_replacements=int(c.get("tx_replacements", 0)),
            )
        return {
            "anchor_round_failures": failures,
            "anchor_tx_replacements": replacements,
            #: Per chain (the primary first), as chains anchor at their own pace.
            "chains": [
                {"chain_id": cid, **chains[cid]}
                for cid in sorted(chains, key=lambda c: (c != self.identity.chain_id, c))
            ],
            "anchor_lag_records": lag_records,
            "anchor_lag_seconds": round(lag_seconds, 1),
            "records": (0 if leaves is None else leaves + 1) + pending,
            "pending_seal": pending,
            "audit_alerts": alerts,
            "latest_checkpoint": latest,
            # Over every chain: a checkpoint counts as anchored once any chain holds it.
            "latest_anchored_checkpoint": max((a for _, a, _ in per_chain), default=None),
            "latest_final_checkpoint": max((f for _, _, f in per_chain if f), default=None),
            "genealogy_projected": projected or 0,
        }
