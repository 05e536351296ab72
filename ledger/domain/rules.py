"""The rules a submission must pass beyond its schema, judged by the one definition in
:mod:`evledger_verify.rules` over the history read from the database; plus the one rule that
needs the lot genealogy (a recall's scope is the one the log gives). Run inside the
submission's transaction, under the lot's and the subject's locks, so two submissions cannot
both pass on the same stale state."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from evledger_verify import master, rules
from evledger_verify.policy import Policy

from ledger import genealogy
from ledger.domain.lots import Stored
from ledger.domain.refusals import as_error
from ledger.domain.schemas import Recall, parse_record
from ledger.errors import ConflictError
from ledger.models import Record
from ledger.signers import Registry
from ledger.storage import load_lot, load_stored

__all__ = ["Rules"]


class Rules:
    """The judge's :class:`~evledger_verify.rules.History`, read from the database."""

    #: Subjects read again and again by a batch (the specification, its change, the
    #: instrument every inspection of a batch cites): kept until :meth:`forget`.
    CACHED = ("specification:", "change:", "equipment:", "supplier:")

    def __init__(self, conn: sa.Connection, registry: Registry, policy: Policy) -> None:
        self.conn = conn
        self.registry = registry
        self.policy = policy
        self._cache: dict[str, list[Stored]] = {}
        #: The lots read, and the genealogy links not projected yet: one record's rules read
        #: them several times (a release: its duties, its gating, its receipts and shipments).
        self._lots: dict[str, list[Stored]] = {}
        self._pending: genealogy.Pending | None = None

    def forget(self) -> None:
        """Drop what was read: records were written since (the submission flushed)."""
        self._cache.clear()
        self._lots.clear()
        self._pending = None

    def check(
        self,
        model: Any,
        record: dict[str, Any],
        meaning: str,
        signer: str,
        roles: Sequence[str],
        signed_at: int | None = None,
    ) -> None:
        """Judge ``record`` signed at ``signed_at`` (Unix seconds). The time rules themselves
        (:func:`~evledger_verify.rules.check_times`) were judged when the signer was
        authorized (no acceptance time goes to the judge: they are not judged twice)."""
        try:
            rules.judge(
                record,
                meaning,
                signer,
                roles,
                self,
                self.policy,
                parse_record,
                signed_at=signed_at,
            )
        except rules.Refused as exc:
            raise as_error(exc) from None
        except OverflowError as exc:
            # A time the schema admits that leaves the calendar in UTC (year 1 at +01:00):
            # refused as the audit and the bundle verifier refuse it (Judge.judge).
            raise as_error(rules.Refused.malformed(record.get("type"), exc)) from None
        if isinstance(model, Recall):
            self._scope(model)

    # -- History ---------------------------------------------------------------------------

    def subject(self, subject: str) -> list[Stored]:
        if not subject.startswith(self.CACHED):
            return load_stored(self.conn, self.registry, Record.subject == subject)
        found = self._cache.get(subject)
        if found is None:
            found = self._cache[subject] = load_stored(
                self.conn, self.registry, Record.subject == subject
            )
        return list(found)

    def lot(self, lot: str) -> list[Stored]:
        found = self._lots.get(lot)
        if found is None:
            found = self._lots[lot] = load_lot(self.conn, self.registry, lot)
        return list(found)

    def records(self, record_ids: Sequence[str]) -> list[Stored]:
        return load_stored(self.conn, self.registry, Record.record_id.in_(list(record_ids)))

    def name(self, signer: str) -> str:
        return self.registry.name_of(signer)

    def person(self, signer: str) -> str | None:
        return self.registry.person_of(signer)

    def _links(self) -> genealogy.Pending:
        if self._pending is None:
            self._pending = genealogy.pending_links(self.conn)
        return self._pending

    def receipts(self, lot: str) -> list[tuple[str, str, str | None, str | None]]:
        return genealogy.receipts(self.conn, lot, self._links())

    def floor(self, lot: str) -> list[tuple[str, str, str | None, str | None]]:
        return genealogy.floor(self.conn, lot, self._links())

    def master_blockers(self, lot: str, records: Sequence[Stored]) -> list[rules.Blocker]:
        """What master data says about ``lot`` now (for its status)."""
        return master.master_blockers(lot, records, self, self.policy)

    # -- what needs the genealogy ----------------------------------------------------------

    def _scope(self, model: Recall) -> None:
        """A recall names a scope the ledger computes too: the same log, the same tree size,
        the same hash."""
        try:
            scope = genealogy.recall_scope(
                self.conn, lot=model.lot, supplier=model.supplier, tree_size=model.tree_size
            )
        except LookupError as exc:
            raise ConflictError(str(exc)) from None
        digest = genealogy.scope_sha256(scope)
        counts = (len(scope["lots"]), len(scope["shipments"]), len(scope["consignees"]))
        if digest != model.scope_sha256 or counts != (
            model.lots,
            model.shipments,
            model.consignees,
        ):
            raise ConflictError(
                f"recall {model.recall_id}: the scope at tree size {model.tree_size} has SHA-256 "
                f"{digest} ({counts[0]} lots, {counts[1]} shipments, {counts[2]} consignees); "
                f"the record says {model.scope_sha256} ({model.lots}, {model.shipments}, "
                f"{model.consignees}): recompute the scope and sign again"
            )
