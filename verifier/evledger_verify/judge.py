"""Re-judging a whole log: every record, in log order, through the same rules the service
judged it with (:mod:`evledger_verify.rules`), against what came before it in the log.

``evledger audit`` replays the stored log through a :class:`Judge` and names every record the
service should have refused (one slipped in by a database superuser, say: validly signed by a
registered key, sealed and anchored, yet a release signed by an inspector, an NCR closed before
its disposition, a release while an NCR is open). The offline bundle verifier does the same.

A refused record does not become history: what follows is judged as the service would have
judged it, against the records the service accepted, so one bad record is named once and does
not make the records after it look wrong.

Records logged before the ledger's first specification are judged as legacy: an
``inspection/1`` then cites none (docs/quality.md, "Migrating a ledger to specifications").
The lot genealogy the supplier rule reads comes from ``linker``, which turns each accepted
record into its genealogy links (:func:`evledger_verify.genealogy.Tracker.add`).
"""

from __future__ import annotations

import copy
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from evledger_verify.genealogy import Link, Tracker
from evledger_verify.policy import DEFAULT_POLICY, Policy
from evledger_verify.rules import (
    Refused,
    Stored,
    apply_corrections,
    judge,
    subject_of,
    unix_seconds,
)

__all__ = ["Judge"]


class Judge:
    """Feed it each logged record in log order with its signer's roles at the signing time;
    it answers the rule the record breaks, or None. It is the rules' ``History`` too."""

    def __init__(
        self,
        policy: Policy = DEFAULT_POLICY,
        *,
        validate: Callable[[dict[str, Any]], Any] | None = None,
        names: Callable[[str], str] | None = None,
        persons: Callable[[str], str | None] | None = None,
        linker: Callable[[dict[str, Any]], Iterable[Link]] | None = None,
    ) -> None:
        self.policy = policy
        self.validate = validate
        self._names = names or (lambda signer: "unregistered")
        self._persons = persons or (lambda signer: None)
        self._by_id: dict[str, Stored] = {}
        self._position: dict[str, int] = {}
        self._subjects: dict[str, list[Stored]] = defaultdict(list)
        #: Per lot, in log order; a record some correction changed is a corrected copy.
        self._lots: dict[str, list[Stored]] = defaultdict(list)
        self._linker = linker or Tracker().add
        #: The lot graph: lot -> the lots that went into it; lot -> how it was received.
        self._inputs: dict[str, set[str]] = defaultdict(set)
        self._received: dict[str, list[tuple[str, str, str | None, str | None]]] = defaultdict(
            list
        )
        #: lot -> its ship links and the input links into it (History.floor).
        self._floor: dict[str, list[tuple[str, str, str | None, str | None]]] = defaultdict(
            list
        )
        self._specifications = False
        self._signers = False
        self.judged = 0

    def judge(self, record: Stored, roles: Sequence[str]) -> Refused | None:
        """The rule ``record`` breaks given the records accepted before it (None: none), and
        from now on it is history when it broke none."""
        self.judged += 1
        try:
            judge(
                record.body,
                record.meaning,
                record.signer,
                roles,
                self,
                self.policy,
                self.validate,
                legacy=not self._specifications,
                bootstrap=record.type == "signer" and not self._signers,
                signed_at=unix_seconds(record.signed_at),
                accepted_at=unix_seconds(record.accepted_at),
            )
        except Refused as exc:
            return exc
        except (KeyError, TypeError, ValueError, AttributeError, IndexError, OverflowError) as exc:
            # Bodies are schema-checked before the rules; one that is not is refused too (so is
            # a time the schema admits that leaves the calendar in UTC, such as year 1 at +01:00).
            return Refused.malformed(record.type, exc)
        self.add(record)
        return None

    def add(self, record: Stored) -> None:
        """Take ``record`` as history without judging it (the registry's bootstrap grant)."""
        self._position[record.record_id] = len(self._position)
        self._by_id[record.record_id] = record
        if record.type == "specification":
            self._specifications = True
        if record.type == "signer":
            self._signers = True
        try:
            links = list(self._linker(record.body))
        except (KeyError, TypeError, ValueError, AttributeError):
            links = []  # a body the genealogy cannot read proves no link
        for link in links:
            if link.kind == "input" and link.other is not None:
                self._inputs[link.lot].add(link.other)
            elif link.kind == "receive":
                self._received[link.lot].append((link.record_id, link.lot, link.other, link.at))
            if link.kind in ("ship", "input"):
                self._floor[link.lot].append((link.record_id, link.kind, link.other, link.at))
        subject = subject_of(record.body)
        if subject is not None:
            self._subjects[subject].append(record)
        lot = record.body.get("lot")
        if not isinstance(lot, str):
            return
        records = self._lots[lot]
        records.append(record)
        if record.type == "correction":
            target = str(record.body["corrects"])
            for i, r in enumerate(records):
                if r.record_id == target:
                    if r is self._by_id.get(target):  # first correction: copy, keep as signed
                        records[i] = r = copy.deepcopy(r)
                    apply_corrections([r, record])
                    break

    # -- History ---------------------------------------------------------------------------

    def subject(self, subject: str) -> list[Stored]:
        return list(self._subjects.get(subject, ()))

    def lot(self, lot: str) -> list[Stored]:
        return list(self._lots.get(lot, ()))

    def records(self, record_ids: Sequence[str]) -> list[Stored]:
        found = [self._by_id[i] for i in set(record_ids) if i in self._by_id]
        return sorted(found, key=lambda r: self._position[r.record_id])

    def name(self, signer: str) -> str:
        return self._names(signer)

    def person(self, signer: str) -> str | None:
        return self._persons(signer)

    def floor(self, lot: str) -> list[tuple[str, str, str | None, str | None]]:
        return list(self._floor.get(lot, ()))

    def receipts(self, lot: str) -> list[tuple[str, str, str | None, str | None]]:
        seen, frontier = {lot}, [lot]
        while frontier:
            frontier = sorted({m for f in frontier for m in self._inputs.get(f, ())} - seen)
            seen.update(frontier)
        return [r for m in sorted(seen) for r in self._received.get(m, ())]
