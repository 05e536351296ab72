"""Lot genealogy from evidence, as the service projects it: the one definition in
:mod:`evledger_verify.genealogy`, with captured EPCIS events read through
:mod:`ledger.domain.epcis` (their mapping needs the server's EPCIS module)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from evledger_verify import genealogy
from evledger_verify.genealogy import KINDS, Context, Kind, Link, links

__all__ = ["KINDS", "Context", "Genealogy", "Kind", "Link", "Tracker", "links"]


class _Events:
    def event_links(self, record: Mapping[str, Any]) -> list[Link]:
        from ledger.domain.epcis import event_links  # it imports Link from here

        return event_links(record, self)  # type: ignore[arg-type]


class Tracker(_Events, genealogy.Tracker):
    """The context the links establish, EPCIS events included."""


class Genealogy(_Events, genealogy.Genealogy):
    """The whole projection in memory, EPCIS events included."""
