"""Lot genealogy as GS1 EPCIS 2.0 events, and EPCIS 2.0 events as lot genealogy.

Pure functions, no database. Three directions:

- :func:`scan_event`: the EPCIS 2.0 JSON-LD event a ``scan/1`` record is (:func:`event_hash_of`
  gives its CBV 2.0 Event Hash ID, shown next to the record hash);
- :func:`lot_document`: the EPCISDocument of a lot's genealogy (``GET /v1/lots/{lot}/epcis``):
  the events of the scans in its trace, one TransformationEvent per lot made from inputs, and
  the EPCIS events captured earlier, as they were captured;
- :func:`event_links`: the genealogy links a captured event (``epcis_event/1``) proves, so that a
  lot's document captured into another ledger (``POST /v1/epcis/capture``, read by
  :func:`capture_items`) traces to the same graph.

Mapping of scan operations (CBV 2.0 has no business step for consuming a material: a
TransformationEvent is how EPCIS says that inputs were used up):

=========  ===================  ======  ===============  ============  =========================
operation  event                action  bizStep          disposition   also
=========  ===================  ======  ===============  ============  =========================
receive    ObjectEvent          OBSERVE receiving        in_progress   sourceList owning_party
consume    TransformationEvent  --      (none)           (none)        inputs only, with a
                                                                       transformationID
produce    ObjectEvent          ADD     commissioning    active
pack       AggregationEvent     ADD     packing          in_progress   parentID: the pallet SSCC
ship       ObjectEvent          OBSERVE shipping         in_transit    destinationList
                                                                       owning_party
=========  ===================  ======  ===============  ============  =========================

Identifiers are GS1 Digital Link URIs: a lot ``https://id.gs1.org/01/<gtin>/10/<lot>`` in a
quantityList (class level, with ``quantity`` and the ``unit`` as ``uom`` when it is a UN/CEFACT
Rec 20 code), a serialised item ``.../01/<gtin>/10/<lot>/21/<serial>`` in an epcList, a pallet
``https://id.gs1.org/00/<sscc>``; values percent-encoded as biip's canonical URIs are. A scan
without a lot names ``https://id.gs1.org/01/<gtin>``. Where the ledger lot is not the lot on
the label (a receive under a ledger lot), the event says so in the user extension ``evl:lot``.
Parties (suppliers, consignees) and stations are the ledger's own names, not GS1 keys:
``https://evledger.dev/ns/epcis/party/<name>`` and ``.../station/<name>`` (the station is the
readPoint). A consume scan does not know what its material went into (the station's current
lot is found by the genealogy), and EPCIS 2.0 wants a TransformationEvent with inputs only to
carry a ``transformationID``: ``.../transformation/<the scan's record id>``. The lot's own
TransformationEvent (:func:`lot_transformation`) states inputs and output. ``eventTime`` is
``scanned_at`` as recorded (normalised to RFC 3339 if it was not), ``eventTimeZoneOffset`` its
offset.
"""

from __future__ import annotations

import math
import re
import urllib.parse
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from evledger_verify.epcis import (
    EVL_NAMESPACE,
    EVL_PREFIX,
    LEDGER_LOT,
    LOT_URI,
    PROOF,
    CaptureProof,
    EPCISFormatError,
    Identified,
    epcis_record,
    event_hash_id,
    extension,
    identify,
    ledger_lot,
)
from pydantic import AwareDatetime, TypeAdapter, ValidationError

from ledger.domain.genealogy import Context, Link
from ledger.errors import InvalidRecordError, TooLargeError

__all__ = [
    "CONTEXT_URL",
    "DOCUMENT_CONTEXT",
    "MEDIA_TYPE",
    "CaptureItem",
    "Proven",
    "capture_items",
    "digital_link",
    "event_hash_of",
    "event_links",
    "lot_document",
    "lot_transformation",
    "party_uri",
    "scan_event",
    "station_uri",
]

#: The GS1 EPCIS 2.0 JSON-LD context our documents name.
CONTEXT_URL = "https://ref.gs1.org/standards/epcis/epcis-context.jsonld"
#: The context URLs of EPCIS 2.0 a capture document may name instead.
EPCIS_CONTEXTS = frozenset(
    {
        CONTEXT_URL,
        "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
        "https://gs1.github.io/EPCIS/epcis-context.jsonld",
    }
)
#: Our documents' ``@context``: GS1's, and the prefix of our user extensions.
DOCUMENT_CONTEXT: list[Any] = [CONTEXT_URL, {EVL_PREFIX: EVL_NAMESPACE}]
MEDIA_TYPE = "application/ld+json"
_PARTY = EVL_NAMESPACE + "party/"
_STATION = EVL_NAMESPACE + "station/"
_TRANSFORMATION = EVL_NAMESPACE + "transformation/"
_ID_GS1 = "https://id.gs1.org/"
_CBV = "https://ref.gs1.org/cbv/"
#: A UN/CEFACT Rec 20 code, as EPCIS wants ``uom``; a few common unit names map to one.
_REC20 = re.compile(r"[A-Z0-9]{2,3}")
_UNIT_NAMES = {"kg": "KGM", "g": "GRM", "t": "TNE", "l": "LTR", "ml": "MLT", "m": "MTR",
               "mm": "MMT", "cm": "CMT", "pc": "H87", "pcs": "H87", "piece": "H87",
               "pieces": "H87", "ea": "EA", "each": "EA"}  # fmt: skip
_RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:\d\d)")
#: Columns of genealogy_links: longer names are not links' ends (a foreign URI as a party).
_MAX_OTHER = 200
#: The most events one document holds (GET answers in one piece).
MAX_DOCUMENT_EVENTS = 100_000


# -- identifiers ----------------------------------------------------------------------------------


def _segment(value: str) -> str:
    return urllib.parse.quote(value, safe="")


def digital_link(gtin: str, lot: str | None = None, serial: str | None = None) -> str:
    """The canonical GS1 Digital Link URI of a GTIN, a lot of it, or one item of it."""
    uri = f"{_ID_GS1}01/{gtin}"
    if lot is not None:
        uri += f"/10/{_segment(lot)}"
    if serial is not None:
        uri += f"/21/{_segment(serial)}"
    return uri


def sscc_link(sscc: str) -> str:
    return f"{_ID_GS1}00/{sscc}"


def party_uri(name: str) -> str:
    """A supplier or consignee (the ledger's name for it) as a URI."""
    return _PARTY + _segment(name)


def station_uri(name: str) -> str:
    """A station (the ledger's name for it) as a readPoint URI."""
    return _STATION + _segment(name)


def _lot_uri(lot: str) -> str:
    return LOT_URI + _segment(lot)


def _name(uri: Any, ours: str) -> str | None:
    """The name in one of our party or station URIs; any other URI as it is; None if too long
    for a link's end or not a string."""
    if not isinstance(uri, str):
        return None
    name = urllib.parse.unquote(uri[len(ours) :]) if uri.startswith(ours) else uri
    return name if 0 < len(name) <= _MAX_OTHER else None


def _uom(unit: Any) -> str | None:
    if not isinstance(unit, str):
        return None
    if _REC20.fullmatch(unit):
        return unit
    return _UNIT_NAMES.get(unit.strip().lower())


def _number(value: Any) -> float | None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    return float(value) if ok else None


_TIME: TypeAdapter[datetime] = TypeAdapter(AwareDatetime)


def _event_time(value: Any) -> tuple[str, str]:
    """``eventTime`` and ``eventTimeZoneOffset`` of a recorded time, read as the record's schema
    read it (AwareDatetime: ISO 8601 with offset, or unix seconds): the text as recorded when it
    is RFC 3339, else normalised."""
    parsed = _TIME.validate_python(value)
    text = value if isinstance(value, str) and _RFC3339.fullmatch(value) else parsed.isoformat()
    offset = parsed.utcoffset()
    minutes = round(offset.total_seconds() / 60) if offset is not None else 0
    sign = "-" if minutes < 0 else "+"
    return text, f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _instant(value: Any) -> datetime | None:
    """An ISO 8601 time with offset, or None."""
    try:
        return _TIME.validate_python(value) if isinstance(value, str) else None
    except ValidationError:
        return None


# -- scan records as events ---------------------------------------------------------------------


def _items(gtin: str, lot: str | None, serial: str | None, record: Mapping[str, Any]) -> Any:
    """("epcList", [item]) for a serialised item, else ("quantityList", [class element])."""
    if serial is not None:
        return "epcList", [digital_link(gtin, lot, serial)]
    element: dict[str, Any] = {"epcClass": digital_link(gtin, lot)}
    quantity, uom = record.get("quantity"), _uom(record.get("unit"))
    if _number(quantity) is not None and (uom is not None or record.get("unit") is None):
        element["quantity"] = quantity
        if uom is not None:
            element["uom"] = uom
    return "quantityList", [element]


_INPUT_KEYS = {"epcList": "inputEPCList", "quantityList": "inputQuantityList"}
_CHILD_KEYS = {"epcList": "childEPCs", "quantityList": "childQuantityList"}


def scan_event(record: Mapping[str, Any]) -> dict[str, Any]:
    """The EPCIS 2.0 event a ``scan/1`` record is (see the module docstring for the mapping).

    A quantity whose unit is not a UN/CEFACT Rec 20 code (nor a unit name mapped to one) is left
    out: an EPCIS quantity without ``uom`` counts items, which such a figure is not. The SSCC of
    a scan that also read a GTIN is not in the event (only a pallet shipped by its SSCC is).
    """
    op = record["operation"]
    gs1: Mapping[str, Any] = record.get("gs1") or {}
    gtin, labelled, serial = gs1.get("gtin"), gs1.get("lot"), gs1.get("serial")
    time, offset = _event_time(record["scanned_at"])
    event: dict[str, Any] = {
        "type": "TransformationEvent" if op == "consume" else "ObjectEvent",
        "eventTime": time,
        "eventTimeZoneOffset": offset,
    }
    if op == "pack":
        event["type"] = "AggregationEvent"
    if gtin is None:  # a pallet shipped by its SSCC (the schema allows nothing else)
        event.update(action="OBSERVE", epcList=[sscc_link(gs1["sscc"])])
    else:
        key, items = _items(gtin, labelled, serial, record)
        key = {"consume": _INPUT_KEYS, "pack": _CHILD_KEYS}.get(op, {}).get(key, key)
        if op == "pack":
            event.update(action="ADD", parentID=sscc_link(record["pallet"]))
        elif op != "consume":
            event["action"] = "ADD" if op == "produce" else "OBSERVE"
        event[key] = items
    step, disposition = {
        "receive": ("receiving", "in_progress"),
        "produce": ("commissioning", "active"),
        "pack": ("packing", "in_progress"),
        "ship": ("shipping", "in_transit"),
    }.get(op, (None, None))
    if step is not None:
        event.update(bizStep=step, disposition=disposition)
    if op == "consume":
        event["transformationID"] = _TRANSFORMATION + _segment(str(record["record_id"]))
    event["readPoint"] = {"id": station_uri(str(record["station"]))}
    if op == "receive" and record.get("supplier") is not None:
        event["sourceList"] = [{"type": "owning_party", "source": party_uri(record["supplier"])}]
    if op == "ship":
        event["destinationList"] = [
            {"type": "owning_party", "destination": party_uri(record["consignee"])}
        ]
    lot = record.get("lot")
    if op != "consume" and gtin is not None and lot is not None and lot != labelled:
        event[LEDGER_LOT] = lot
    return event


def event_hash_of(record: Mapping[str, Any]) -> str | None:
    """The CBV 2.0 Event Hash ID of a ``scan`` record's event (:func:`scan_event`, hashed with
    :data:`DOCUMENT_CONTEXT`, as it appears in our documents) or of an ``epcis_event`` record;
    None for other records. Pass the record as logged (not as corrected): the genealogy and
    the documents read the logged body."""
    if record.get("type") == "scan":
        return event_hash_id(scan_event(record), DOCUMENT_CONTEXT)
    if record.get("type") == "epcis_event":
        return str(record["event_hash"])
    return None


# -- the per-lot transformation -----------------------------------------------------------------


def _material(link: Link, record: Mapping[str, Any]) -> str:
    """The class identifier of an input: as labelled when a scan read it (GTIN and the lot on
    the label, which the receive event names too), else the ledger lot (no GTIN known)."""
    gs1 = record.get("gs1") if record.get("type") == "scan" else None
    if isinstance(gs1, Mapping) and gs1.get("gtin") and gs1.get("lot"):
        return digital_link(str(gs1["gtin"]), str(gs1["lot"]))
    if link.gtin is not None and link.other is not None:
        return digital_link(link.gtin, link.other)
    return _lot_uri(str(link.other))


def _elements(parts: Iterable[tuple[str, float | None, str | None]]) -> list[dict[str, Any]]:
    """Quantity elements, one per (class, uom): quantities summed while every part has one."""
    sums: dict[tuple[str, str | None], float | None] = {}
    for uri, quantity, unit in parts:
        key = (uri, _uom(unit))
        if key[1] is None and unit is not None:
            quantity = None  # a unit EPCIS cannot name: no quantity (see scan_event)
        if key not in sums:
            sums[key] = quantity
        else:
            before = sums[key]
            sums[key] = None if before is None or quantity is None else before + quantity
    out = []
    for (uri, uom), quantity in sorted(sums.items(), key=lambda kv: (kv[0][0], kv[0][1] or "")):
        element: dict[str, Any] = {"epcClass": uri}
        if quantity is not None:
            element["quantity"] = int(quantity) if quantity.is_integer() else quantity
            if uom is not None:
                element["uom"] = uom
        out.append(element)
    return out


def lot_transformation(
    lot: str,
    inputs: Sequence[tuple[Link, Mapping[str, Any]]],
    produced: Sequence[Link] = (),
) -> dict[str, Any] | None:
    """The TransformationEvent of ``lot``: every input the scans and inspections prove (each
    ``input`` link with its record), into the lot (``outputQuantityList``: its GTIN and the
    quantity its produce links carry, or a :data:`LOT_URI` when no GTIN is known).
    ``eventTime`` is the latest of those links'; the readPoint is the station that produced
    the lot, if one did. None when there is no input.

    It depends only on the lot's inputs, so every document that holds it holds the same event
    (one hash), and capturing two documents records it once.
    """
    inputs = [(link, record) for link, record in inputs if link.kind == "input" and link.lot == lot]
    if not inputs:
        return None
    times = [
        (instant, link.at)
        for link in [*(link for link, _ in inputs), *produced]
        if (instant := _instant(link.at)) is not None
    ]
    if not times:
        return None
    time, offset = _event_time(max(times, key=lambda t: t[0])[1])
    gtin = next((link.gtin for link in produced if link.gtin is not None), None)
    output = digital_link(gtin, lot) if gtin is not None else _lot_uri(lot)
    event: dict[str, Any] = {
        "type": "TransformationEvent",
        "eventTime": time,
        "eventTimeZoneOffset": offset,
        "inputQuantityList": _elements(
            (_material(link, record), link.quantity, link.unit) for link, record in inputs
        ),
        "outputQuantityList": _elements(
            [(output, link.quantity, link.unit) for link in produced] or [(output, None, None)]
        ),
    }
    stations = {link.other for link in produced if link.other is not None}
    if len(stations) == 1:
        event["readPoint"] = {"id": station_uri(stations.pop())}
    return event


# -- a lot's document -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Proven:
    """A record of the log, where it is in the log, and every link it proves."""

    leaf_index: int
    record: Mapping[str, Any]
    links: Sequence[Link]


def lot_document(
    lots: Collection[str], proven: Iterable[Proven], *, created: datetime
) -> dict[str, Any]:
    """The EPCISDocument of the genealogy of ``lots`` (a lot's backward and forward trace).

    ``proven``: the records (with all their links) of the log that prove a link of one of the
    ``lots``, that packed a lot onto a pallet shipped with one of them, and the ``epcis_event``
    records about one of them. The document holds, in log order:

    - the event of every scan with a link of one of the lots (an ``input`` link: between two of
      them), and of every scan that packed a lot onto a pallet that one of the lots was shipped
      on (a pallet's shipment names every lot on it);
    - every captured event with such a link, or whose record is about one of the lots or about
      the supplier's lot one of them was received as, as captured but for ``eventID`` (the
      prefixes it uses join the document's ``@context``);
    - one :func:`lot_transformation` per lot that scans or inspections prove inputs of, after
      the last of them.

    Every event carries ``eventID``: its CBV 2.0 Event Hash ID. An event found twice is there
    once.
    """
    lots = set(lots)
    items = sorted(proven, key=lambda p: p.leaf_index)

    def touches(link: Link) -> bool:
        return link.lot in lots and (link.kind != "input" or link.other in lots)

    pallets = {
        link.via for p in items for link in p.links if link.kind == "ship" and touches(link)
    } - {None}
    aliases = {
        link.via for p in items for link in p.links if link.kind == "receive" and touches(link)
    }
    about = lots | {a for a in aliases if a is not None}
    placed: list[tuple[tuple[int, int], dict[str, Any], str]] = []
    captured: dict[str, Mapping[str, str]] = {}  # hash -> the prefixes a captured event uses
    inputs: dict[str, list[tuple[Link, Mapping[str, Any]]]] = defaultdict(list)
    produced: dict[str, list[Link]] = defaultdict(list)
    last: dict[str, int] = {}
    for p in items:
        rtype = p.record.get("type")
        shown = any(touches(link) for link in p.links) or any(
            link.kind == "pack" and link.other in pallets for link in p.links
        )
        if rtype == "scan" and shown:
            event = scan_event(p.record)
            placed.append(((p.leaf_index, 0), event, event_hash_id(event, DOCUMENT_CONTEXT)))
        elif rtype == "epcis_event" and (shown or p.record.get("lot") in about):
            placed.append(((p.leaf_index, 0), dict(p.record["event"]), p.record["event_hash"]))
            captured[p.record["event_hash"]] = p.record.get("context") or {}
        for link in p.links:
            if link.lot not in lots:
                continue
            if link.kind == "input" and rtype in ("scan", "inspection"):
                inputs[link.lot].append((link, p.record))
                last[link.lot] = p.leaf_index
            elif link.kind == "produce":
                produced[link.lot].append(link)
    for lot, lot_inputs in inputs.items():
        made = lot_transformation(lot, lot_inputs, produced.get(lot, ()))
        if made is not None:
            placed.append(((last[lot], 1), made, event_hash_id(made, DOCUMENT_CONTEXT)))
    placed.sort(key=lambda item: item[0])
    events: dict[str, dict[str, Any]] = {}
    for _, event, hash_id in placed:
        if hash_id not in events:
            events[hash_id] = {"eventID": hash_id} | {
                k: v for k, v in event.items() if k != "eventID"
            }
    if len(events) > MAX_DOCUMENT_EVENTS:
        raise TooLargeError(
            f"EPCIS document: expected at most {MAX_DOCUMENT_EVENTS} events, got {len(events)}"
        )
    return {
        "@context": _document_context(events, captured),
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": created.astimezone(UTC).isoformat(timespec="milliseconds")[:-6] + "Z",
        "epcisBody": {"eventList": list(events.values())},
    }


def _document_context(
    events: dict[str, dict[str, Any]], captured: Mapping[str, Mapping[str, str]]
) -> list[Any]:
    """:data:`DOCUMENT_CONTEXT` with the prefixes the captured events use. A captured event
    whose prefixes clash with others' (one prefix, two namespaces) gets its own ``@context``
    instead (the hash reads it; GS1's reference generator would hash it as a field), and so do
    all of them if the shared prefixes would change any event's hash."""
    shared = dict(DOCUMENT_CONTEXT[1])
    own: dict[str, Mapping[str, str]] = {}
    for hash_id, prefixes in captured.items():
        if all(shared.get(p, ns) == ns for p, ns in prefixes.items()):
            shared.update(prefixes)
        else:
            own[hash_id] = prefixes
    context: list[Any] = [CONTEXT_URL, shared]
    if any(event_hash_id(e, context) != h for h, e in events.items() if h not in own):
        context, own = list(DOCUMENT_CONTEXT), {h: p for h, p in captured.items() if p}
    for hash_id, prefixes in own.items():
        event = events[hash_id]
        inner = event.get("@context")
        inner_list = [] if inner is None else inner if isinstance(inner, list) else [inner]
        events[hash_id] = {"@context": [prefixes, *inner_list] if inner_list else prefixes} | event
    return context


# -- captured events as links ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Item:
    """A trade item an event names, with the ledger lot it is and its quantity."""

    gtin: str | None
    lot: str | None
    labelled: str | None
    quantity: float | None
    unit: str | None


def _named(
    event: Mapping[str, Any], keys: Sequence[str], context: Any = None, *, ledger_lots: bool = True
) -> tuple[list[_Item], list[str]]:
    """The trade items (with a lot) and the SSCCs that ``keys`` of the event list; with
    ``ledger_lots``, an ``evl:lot`` names the ledger lot of the one trade item listed."""
    found: list[tuple[Identified, float | None, str | None]] = []
    ssccs: list[str] = []
    for key in keys:
        for element in event.get(key) or ():
            uri = element.get("epcClass") if isinstance(element, Mapping) else element
            named = identify(uri)
            if named is None:
                continue
            if named.sscc is not None:
                ssccs.append(named.sscc)
            elif isinstance(element, Mapping):
                found.append((named, _number(element.get("quantity")), element.get("uom")))
            else:
                found.append((named, None, None))
    named_lot = (
        extension(event, LEDGER_LOT[len(EVL_PREFIX) + 1 :], context) if ledger_lots else None
    )
    ledger = ledger_lot(named_lot)
    distinct = {(n.gtin, n.lot) for n, _, _ in found}
    items = []
    for named, quantity, unit in found:
        lot = ledger if ledger is not None and len(distinct) == 1 else ledger_lot(named.lot)
        if lot is not None:
            unit = unit if isinstance(unit, str) else None
            items.append(_Item(named.gtin, lot, named.lot, quantity, unit))
    return items, ssccs


def _step(value: Any, prefix: str) -> str | None:
    """A CBV term as its bare name, however written (bare, Web URI, URN, ``cbv:`` CURIE)."""
    if not isinstance(value, str):
        return None
    for head in (_CBV + prefix + "-", f"cbv:{prefix}-", f"urn:epcglobal:cbv:{prefix.lower()}:"):
        if value.startswith(head):
            return value[len(head) :]
    return value


def _party(entries: Any, key: str) -> str | None:
    """The owning party (else the possessing party) of a sourceList or destinationList."""
    parties = {
        _step(e.get("type"), "SDT"): e.get(key) for e in entries or () if isinstance(e, Mapping)
    }
    for kind in ("owning_party", "possessing_party"):
        if kind in parties:
            return _name(parties[kind], _PARTY)
    return None


def event_links(record: Mapping[str, Any], context: Context) -> list[Link]:
    """The links a captured EPCIS event (an ``epcis_event/1`` record) proves:

    - a TransformationEvent: an ``input`` link from each input lot into each output lot (an
      input as labelled becomes the lot it was received as, as for a consume scan); one with
      no output proves nothing (it does not say what the inputs went into);
    - an ObjectEvent with bizStep ``receiving``: ``receive`` links (supplier: the sourceList's
      owning party), ``commissioning`` with action ADD: ``produce`` links (station: the
      readPoint), ``shipping``: ``ship`` links (consignee: the destinationList's owning party;
      an SSCC ships every lot packed onto that pallet);
    - an AggregationEvent with action ADD onto an SSCC: ``pack`` links.

    Lots are read from GS1 identifiers (Digital Link, EPC URIs) and :data:`LOT_URI`; an
    ``evl:lot`` names the ledger lot of the one trade item. Anything else proves nothing.
    """
    event: Mapping[str, Any] = record["event"]
    rid, kind = str(record["record_id"]), event.get("type")
    at = event.get("eventTime") if isinstance(event.get("eventTime"), str) else None
    step = _step(event.get("bizStep"), "BizStep")
    action = event.get("action")
    if kind == "TransformationEvent":
        outputs, _ = _named(event, ("outputEPCList", "outputQuantityList"), ledger_lots=False)
        inputs, _ = _named(event, ("inputEPCList", "inputQuantityList"), ledger_lots=False)
        out = []
        for into in dict.fromkeys(o.lot for o in outputs if o.lot is not None):
            for i in inputs:
                material = context.received_as(i.gtin, str(i.lot)) or str(i.lot)
                if material != into:
                    out.append(Link(rid, "input", into, material, i.gtin, i.quantity, i.unit, at))
        return out
    if kind == "ObjectEvent" and action in ("ADD", "OBSERVE"):
        items, ssccs = _named(event, ("epcList", "quantityList"), record.get("context"))

        def link(kind: Any, i: _Item, other: str | None, via: str | None = None) -> Link:
            return Link(rid, kind, str(i.lot), other, i.gtin, i.quantity, i.unit, at, via)

        if step == "receiving":
            supplier = _party(event.get("sourceList"), "source")
            return [
                link("receive", i, supplier, i.labelled if i.labelled != i.lot else None)
                for i in items
            ]
        if step == "commissioning" and action == "ADD":
            point = event.get("readPoint")
            station = _name(point.get("id"), _STATION) if isinstance(point, Mapping) else None
            return [link("produce", i, station) for i in items]
        if step == "shipping":
            consignee = _party(event.get("destinationList"), "destination")
            shipped = [link("ship", i, consignee) for i in items]
            for sscc in ssccs:
                shipped += [
                    Link(rid, "ship", p.lot, consignee, p.gtin, p.quantity, p.unit, at, sscc)
                    for p in context.pallet(sscc)
                ]
            return shipped
        return []
    if kind == "AggregationEvent" and action == "ADD":
        parent = identify(event.get("parentID"))
        if parent is None or parent.sscc is None:
            return []
        children, _ = _named(event, ("childEPCs", "childQuantityList"), record.get("context"))
        return [
            Link(rid, "pack", str(c.lot), parent.sscc, c.gtin, c.quantity, c.unit, at)
            for c in children
        ]
    return []


# -- capture documents --------------------------------------------------------------------------


@dataclass(frozen=True)
class CaptureItem:
    """An event of a capture document: its index, the record it becomes, and its proof."""

    index: int
    record: dict[str, Any]
    proof: CaptureProof


def capture_items(document: Any, *, max_events: int) -> list[CaptureItem]:
    """Read a capture document: an EPCIS 2.0 EPCISDocument (JSON-LD) whose ``@context`` names
    GS1's EPCIS 2.0 context and declares ``evl`` as ``https://evledger.dev/ns/epcis/``, and in
    which every event carries its record's signature as ``evl:proof``
    (:class:`~evledger_verify.epcis.CaptureProof`).

    Every event is read before any is returned: the first problem raises
    :class:`InvalidRecordError` (422) naming the event and the field (``eventList[3].eventTime:
    ...``), more than ``max_events`` events :class:`TooLargeError` (413).
    """
    if not isinstance(document, Mapping):
        got = "null" if document is None else type(document).__name__
        raise InvalidRecordError(f"document: expected an EPCISDocument JSON object, got {got}")
    if document.get("type") != "EPCISDocument":
        raise InvalidRecordError(
            f"document.type: expected 'EPCISDocument', got {_shown(document.get('type'))}"
        )
    context = document.get("@context")
    entries = context if isinstance(context, list) else [context]
    if not any(isinstance(e, str) and e in EPCIS_CONTEXTS for e in entries):
        raise InvalidRecordError(
            f"document.@context: expected GS1's EPCIS 2.0 context {CONTEXT_URL!r}, got "
            f"{_shown(context)}"
        )
    declared = [e.get(EVL_PREFIX) for e in entries if isinstance(e, Mapping)]
    if EVL_NAMESPACE not in declared or any(d not in (None, EVL_NAMESPACE) for d in declared):
        raise InvalidRecordError(
            f"document.@context: expected the prefix {EVL_PREFIX!r} declared as "
            f"{EVL_NAMESPACE!r} (the events' proofs are {PROOF}), got {_shown(context)}"
        )
    version = document.get("schemaVersion")
    if not isinstance(version, str) or not re.fullmatch(r"2\.\d+(?:\.\d+)*", version):
        raise InvalidRecordError(
            f"document.schemaVersion: expected an EPCIS 2.x version such as '2.0', "
            f"got {_shown(version)}"
        )
    created = document.get("creationDate")
    if _instant(created) is None:
        raise InvalidRecordError(
            f"document.creationDate: expected an ISO 8601 time with offset, got {_shown(created)}"
        )
    body = document.get("epcisBody")
    events = body.get("eventList") if isinstance(body, Mapping) else None
    if not isinstance(events, list):
        raise InvalidRecordError("document.epcisBody.eventList: expected a list of events")
    if not events:
        raise InvalidRecordError("document.epcisBody.eventList: expected at least one event")
    if len(events) > max_events:
        raise TooLargeError(
            f"document.epcisBody.eventList: expected at most {max_events} events, got {len(events)}"
        )
    items: list[CaptureItem] = []
    seen: dict[str, int] = {}
    for i, event in enumerate(events):
        where = f"eventList[{i}]"
        try:
            record = epcis_record(event, context, where)
            proof = CaptureProof.from_json(
                extension(event, PROOF[len(EVL_PREFIX) + 1 :], context), f"{where}.{PROOF}"
            )
        except EPCISFormatError as exc:
            raise InvalidRecordError(str(exc)) from None
        hash_id = record["event_hash"]
        stated = event.get("eventID")
        if isinstance(stated, str) and stated.startswith("ni:") and stated != hash_id:
            raise InvalidRecordError(
                f"{where}.eventID: the event's CBV 2.0 Event Hash ID is {hash_id}, the event "
                f"says {stated}"
            )
        if proof.record_id != record["record_id"]:
            raise InvalidRecordError(
                f"{where}.{PROOF}.record_id: expected {record['record_id']!r} (from the event's "
                f"hash ID {hash_id}), got {_shown(proof.record_id)}"
            )
        if record["record_id"] in seen:
            raise InvalidRecordError(
                f"{where}: the same event as eventList[{seen[record['record_id']]}] "
                f"(event hash ID {hash_id})"
            )
        seen[record["record_id"]] = i
        items.append(CaptureItem(i, record, proof))
    return items


def _shown(value: Any) -> str:
    text = "nothing" if value is None else repr(value)
    return text if len(text) <= 120 else text[:117] + "..."
