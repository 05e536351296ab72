"""Lot genealogy from evidence: which records link which lots, suppliers, pallets and consignees.

The graph is a projection of the log. :func:`links` turns one record, read in log order, into
the links it proves, given what earlier records established (:class:`Context`): which lot each
station is producing, which ledger lot a supplier's lot was received as, which lots are on
each pallet. Feeding every record of the log in order to :class:`Genealogy` rebuilds the
projection; the service keeps the same links in a table (``ledger.genealogy``), and the audit
compares the two. It lives in the verifier's distribution because the rules read it too (a
lot made from a supplier's material, :mod:`evledger_verify.master`), offline included.

Link kinds (``lot`` is always a ledger lot; ``other`` depends on the kind):

========  =====================================  ==========================================
kind      proves                                  other
========  =====================================  ==========================================
receive   ``lot`` arrived from a supplier         the supplier (None when not named)
input     lot ``other`` went into ``lot``         the input (material) lot
produce   ``lot`` was produced at a station       the station
pack      ``lot`` went onto a pallet              the pallet's SSCC
ship      ``lot`` left for a consignee            the consignee
========  =====================================  ==========================================

Sources: ``scan/1`` records (each operation, see :class:`ledger.domain.schemas.Scan`), an
inspection naming ``material_lot`` (an input of its lot, received from its ``supplier``), and
captured EPCIS events (``epcis_event/1``): the context's ``event_links`` reads those; the
service's (:mod:`ledger.domain.genealogy`) maps them through :mod:`ledger.domain.epcis`, this
module's own reads none.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

__all__ = ["KINDS", "Context", "Genealogy", "Kind", "Link", "Tracker", "links"]

Kind = Literal["receive", "input", "produce", "pack", "ship"]
KINDS: tuple[Kind, ...] = ("receive", "input", "produce", "pack", "ship")


@dataclass(frozen=True)
class Link:
    """One edge of the lot graph and the record that proves it."""

    record_id: str
    kind: Kind
    lot: str
    other: str | None
    gtin: str | None = None
    quantity: float | None = None
    unit: str | None = None
    #: When it happened (the scan or event time, ISO 8601 as recorded).
    at: str | None = None
    #: For receive: the lot as the supplier labelled it; for ship: the pallet shipped whole.
    via: str | None = None

    def key(self) -> tuple[Any, ...]:
        return (
            self.record_id,
            self.kind,
            self.lot,
            self.other,
            self.gtin,
            self.quantity,
            self.unit,
            self.at,
            self.via,
        )


class Context(Protocol):
    """What earlier records established (in log order)."""

    def producing(self, station: str) -> str | None:
        """The lot of the last ``produce`` link at ``station``."""

    def received_as(self, gtin: str | None, supplier_lot: str) -> str | None:
        """The ledger lot a supplier's lot (``gtin`` + its AI 10 lot) was received as."""

    def pallet(self, sscc: str) -> list[Link]:
        """The ``pack`` links of the pallet ``sscc``, in log order."""

    def event_links(self, record: Mapping[str, Any]) -> list[Link]:
        """The links a captured EPCIS event proves."""


def links(record: Mapping[str, Any], context: Context) -> list[Link]:
    """The links ``record`` proves (none for records that do not touch the genealogy)."""
    rtype = record.get("type")
    if rtype == "scan":
        return _scan(record, context)
    if rtype == "inspection":
        return _inspection(record)
    if rtype == "epcis_event":
        return context.event_links(record)
    return []


def _scan(record: Mapping[str, Any], context: Context) -> list[Link]:
    rid, op, station = str(record["record_id"]), record["operation"], str(record["station"])
    gs1: Mapping[str, Any] = record.get("gs1") or {}
    gtin, scanned = gs1.get("gtin"), gs1.get("lot")
    lot = record.get("lot") or scanned
    quantity, unit = _number(record.get("quantity")), record.get("unit")
    at = record.get("scanned_at")

    def link(kind: Kind, lot: str, other: str | None, via: str | None = None) -> Link:
        return Link(rid, kind, lot, other, gtin, quantity, unit, at, via)

    if op == "receive" and lot is not None:
        return [link("receive", lot, record.get("supplier"), scanned if scanned != lot else None)]
    if op == "produce" and lot is not None:
        return [link("produce", lot, station)]
    if op == "consume" and scanned is not None:
        material = context.received_as(gtin, scanned) or scanned
        into = record.get("lot") or context.producing(station)
        if into is None or into == material:
            return []
        return [link("input", into, material)]
    if op == "pack" and lot is not None:
        return [link("pack", lot, record.get("pallet"))]
    if op == "ship":
        consignee, sscc = record.get("consignee"), gs1.get("sscc")
        if gtin is None and sscc is not None:  # a whole pallet: every lot packed onto it
            return [
                Link(rid, "ship", p.lot, consignee, p.gtin, p.quantity, p.unit, at, sscc)
                for p in context.pallet(sscc)
            ]
        if lot is not None:
            return [link("ship", lot, consignee)]
    return []


def _inspection(record: Mapping[str, Any]) -> list[Link]:
    material, lot = record.get("material_lot"), record.get("lot")
    if material is None or lot is None or material == lot:
        return []
    rid, at = str(record["record_id"]), record.get("inspected_at")
    out = [Link(rid, "input", lot, material, at=at)]
    if record.get("supplier") is not None:
        out.append(Link(rid, "receive", material, record["supplier"], at=at))
    return out


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


@dataclass
class Tracker:
    """The context links establish, kept as they are applied in log order (a :class:`Context`):
    the service's projector keeps one while it reads the log, without the links themselves."""

    _producing: dict[str, str] = field(default_factory=dict)
    _received: dict[tuple[str | None, str], str] = field(default_factory=dict)
    _pallets: dict[str, list[Link]] = field(default_factory=lambda: defaultdict(list))

    def producing(self, station: str) -> str | None:
        return self._producing.get(station)

    def received_as(self, gtin: str | None, supplier_lot: str) -> str | None:
        return self._received.get((gtin, supplier_lot)) or self._received.get((None, supplier_lot))

    def pallet(self, sscc: str) -> list[Link]:
        return list(self._pallets.get(sscc, ()))

    def event_links(self, record: Mapping[str, Any]) -> list[Link]:
        return []

    def add(self, record: Mapping[str, Any]) -> list[Link]:
        """The links ``record`` proves, applied to the context."""
        new = links(record, self)
        self.apply(new)
        return new

    def apply(self, new: Iterable[Link]) -> None:
        for link in new:
            if link.kind == "produce" and link.other is not None:
                self._producing[link.other] = link.lot
            elif link.kind == "receive" and link.via is not None:
                self._received[(link.gtin, link.via)] = link.lot
            elif link.kind == "pack" and link.other is not None:
                self._pallets[link.other].append(link)


@dataclass
class Genealogy(Tracker):
    """The whole projection in memory: ``add`` every record in log order; ``links`` then equals
    the service's table (what the audit compares)."""

    links: list[Link] = field(default_factory=list)

    def apply(self, new: Iterable[Link]) -> None:
        new = list(new)
        super().apply(new)
        self.links.extend(new)
