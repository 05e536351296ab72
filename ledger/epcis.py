"""EPCIS 2.0 in and out of the ledger: a lot's genealogy as an EPCISDocument, and capture.

:func:`lot_document` reads what :func:`ledger.domain.epcis.lot_document` maps (the lot's trace
both ways, the records proving its links, the pallets it was shipped on, captured events about
it) from the projected genealogy, up to the leaf the projection has read.

:func:`prepare_capture` judges a capture document before anything of it is stored. Everything
that can be judged is: the document and every event (:func:`ledger.domain.epcis.capture_items`),
each event's record and signature exactly as ``POST /v1/records`` checks them
(:meth:`Submitter.check`), and, against the ledger as it stands, the signer's registration and
authority and whether the ledger holds the event already. The first problem refuses the whole
document, naming the event, and nothing is stored. Only then are the new events submitted, in
one batch (``Ledger.submit_batch``), in document order.

What that cannot cover: a change between the judging and the storing (a signer revoked, the same
event captured by another request meanwhile). The submission judges every event again, so such
an event is refused on its own (its result says why, as in a batch) while the others are stored.

An event the ledger already holds is answered ``duplicate`` and not stored again, with the
stored record's hash, signer and acceptance time; when it was captured under another signature
(another document holding the same event, or the same one signed again) the answer says so:
the event is one record whoever captures it again (its id is its Event Hash ID).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from evledger_verify.epcis import MEANING

from ledger import genealogy
from ledger.domain import epcis as domain
from ledger.domain.genealogy import Link
from ledger.domain.rules import Rules
from ledger.errors import ConflictError, LedgerError, NotFoundError
from ledger.models import GenealogyLink, LogLeaf, Record
from ledger.storage import iso_utc
from ledger.submission import ItemResult, Submission, SubmitResult, Submitter

__all__ = ["Capture", "lot_document", "prepare_capture"]

_G = GenealogyLink.__table__.c
_CHUNK = 5000


def _chunks(items: Sequence[str]) -> Iterable[Sequence[str]]:
    for i in range(0, len(items), _CHUNK):
        yield items[i : i + _CHUNK]


def _link(row: Any) -> Link:
    return Link(row.record_id, row.kind, row.lot, row.other, row.gtin, row.quantity, row.unit,
                row.at, row.via)  # fmt: skip


def lot_document(conn: sa.Connection, lot: str, *, now: datetime | None = None) -> dict[str, Any]:
    """``GET /v1/lots/{lot}/epcis``: the EPCISDocument of the lot's genealogy, as far as the
    projection has read the log. Raises :class:`NotFoundError` for a lot nothing names."""
    if not genealogy.known(conn, lot):
        raise NotFoundError(f"lot {lot!r}: no records and no genealogy")
    size = genealogy.projected_size(conn)
    lots = sorted(
        {
            *genealogy.trace(conn, [lot], "backward", tree_size=size).nodes,
            *genealogy.trace(conn, [lot], "forward", tree_size=size).nodes,
        }
    )
    in_log = _G.leaf_index < size
    ids: set[str] = set()
    pallets: set[str] = set()
    aliases: set[str] = set()
    for chunk in _chunks(lots):
        for row in conn.execute(
            sa.select(_G.record_id, _G.kind, _G.via).where(_G.lot.in_(chunk), in_log)
        ):
            ids.add(row.record_id)
            if row.via is not None and row.kind == "ship":
                pallets.add(row.via)
            elif row.via is not None and row.kind == "receive":
                aliases.add(row.via)
    for chunk in _chunks(sorted(pallets)):  # every lot packed onto a pallet shipped with one
        ids.update(
            conn.execute(
                sa.select(_G.record_id).where(_G.kind == "pack", _G.other.in_(chunk), in_log)
            ).scalars()
        )
    for chunk in _chunks(sorted({*lots, *aliases})):  # captured events about one of the lots
        ids.update(
            conn.execute(
                sa.select(Record.record_id)
                .join(LogLeaf, LogLeaf.seq == Record.seq)
                .where(
                    Record.record_type == "epcis_event",
                    Record.lot.in_(chunk),
                    LogLeaf.leaf_index < size,
                )
            ).scalars()
        )
    proven: list[domain.Proven] = []
    for chunk in _chunks(sorted(ids)):
        links: dict[str, list[Link]] = {}
        for link_row in conn.execute(
            sa.select(GenealogyLink)
            .where(_G.record_id.in_(chunk), in_log)
            .order_by(_G.leaf_index, _G.n)
        ):
            links.setdefault(link_row.record_id, []).append(_link(link_row))
        for leaf_index, record_id, body in conn.execute(
            sa.select(LogLeaf.leaf_index, Record.record_id, Record.body)
            .join(LogLeaf, LogLeaf.seq == Record.seq)
            .where(Record.record_id.in_(chunk), LogLeaf.leaf_index < size)
        ):
            record = json.loads(bytes(body))
            proven.append(domain.Proven(leaf_index, record, links.get(record_id, [])))
    return domain.lot_document(lots, proven, created=now or datetime.now(UTC))


# -- capture --------------------------------------------------------------------------------------


@dataclass
class Capture:
    """A capture document judged: what to submit, and the answers already known."""

    #: The events to submit (``Ledger.submit_batch``), in document order, and their indexes.
    submissions: list[Submission] = field(default_factory=list)
    positions: list[int] = field(default_factory=list)
    #: Answers for events the ledger holds under another signature, by index.
    held: dict[int, dict[str, Any]] = field(default_factory=dict)
    #: Every event's Event Hash ID, in document order.
    hashes: list[str] = field(default_factory=list)

    def results(self, judged: Sequence[ItemResult]) -> list[dict[str, Any]]:
        """One answer per event, in document order, shaped as ``POST /v1/records/batch``'s
        (``http_status`` is what ``POST /v1/records`` would answer), with its ``event_hash``."""
        out: list[dict[str, Any]] = [{} for _ in self.hashes]
        for index, answer in self.held.items():
            out[index] = answer
        for index, item in zip(self.positions, judged, strict=True):
            out[index] = {**item.to_json(), "index": index}
        for index, answer in enumerate(out):
            answer["event_hash"] = self.hashes[index]
        return out


def _at(index: int, exc: LedgerError) -> LedgerError:
    """``exc`` as refusing the document, naming the event."""
    return type(exc)(f"eventList[{index}]: {exc}", reasons=exc.reasons)


def prepare_capture(submitter: Submitter, document: Any, *, max_events: int) -> Capture:
    """Judge a capture document (see the module docstring); raises the first problem, naming
    the event, before anything is stored."""
    items = domain.capture_items(document, max_events=max_events)
    capture = Capture(hashes=[item.record["event_hash"] for item in items])
    checked = []
    for item in items:
        sub = Submission(
            item.record,
            item.proof.signature,
            MEANING,
            item.proof.signed_at,
            item.proof.signer,
        )
        try:
            checked.append(submitter.check(item.index, sub))
        except LedgerError as exc:
            raise _at(item.index, exc) from None
    with submitter.engine.connect() as conn:
        held = {
            row.record_id: row
            for row in conn.execute(
                sa.select(
                    Record.record_id,
                    Record.body,
                    Record.record_hash,
                    Record.signer,
                    Record.signature,
                    Record.signed_at,
                    Record.accepted_at,
                    Record.leaf_hash,
                ).where(Record.record_id.in_([c.record_id for c in checked]))
            )
        }
        registry = submitter.registry.get(conn)
        rules = Rules(conn, registry, submitter.policy)
        for c in checked:
            row = held.get(c.record_id)
            if row is not None:
                if bytes(row.body) != c.body:
                    raise ConflictError(
                        f"eventList[{c.index}]: event {capture.hashes[c.index]} is recorded as "
                        f"{c.record_id} with other fields that the hash leaves out (eventID, "
                        "recordTime, comments or @context); a record is never changed"
                    )
                if (row.signature, row.signed_at) != (c.sub.signature, c.sub.signed_at):
                    capture.held[c.index] = _held(submitter, c.index, row)
                continue  # the same submission: the batch answers it as a duplicate
            try:
                # The submission's own authorization (one definition of who may sign), run
                # early so that one refused event stores nothing of the document.
                roles = submitter.authorize(registry, c, False)
                rules.check(c.model, c.sub.record, c.sub.meaning, c.signer, roles, c.sub.signed_at)
            except LedgerError as exc:
                raise _at(c.index, exc) from None
    for c in checked:
        if c.index not in capture.held:
            capture.submissions.append(c.sub)
            capture.positions.append(c.index)
    return capture


def _held(submitter: Submitter, index: int, row: Any) -> dict[str, Any]:
    """The answer for an event the ledger holds under another signature: the stored record's
    (as a duplicate is answered, with its acceptance promise), saying so."""
    result = SubmitResult(
        row.record_id,
        bytes(row.record_hash).hex(),
        row.signer,
        iso_utc(row.accepted_at),
        True,
        bytes(row.leaf_hash),
    )
    if submitter.promiser is not None:
        result = replace(result, promise=submitter.promiser(result))
    return {
        **ItemResult(index, row.record_id, result=result).to_json(),
        "detail": (
            f"event already recorded as {row.record_id}, signed by {row.signer} at "
            f"{row.signed_at}; this signature was not stored"
        ),
    }
