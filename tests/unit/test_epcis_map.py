"""Scans as GS1 EPCIS 2.0 events and back (:mod:`ledger.domain.epcis`), the epcis_event/1 record
(:func:`evledger_verify.epcis.epcis_record`), and capture documents read and signed
(:func:`ledger.domain.epcis.capture_items`, :func:`ingest.epcis.sign_capture_document`).

Every document made here is checked against GS1's EPCIS 2.0 JSON schema and every eventID
against GS1's reference Event Hash generator (the oracle of ``test_epcis_hash``); Digital Link
URIs against biip's canonical ones. Needs no services.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from biip.gs1_digital_link_uris import GS1DigitalLinkURI
from biip.gs1_element_strings import GS1ElementString, GS1ElementStrings
from epcis_event_hash_generator.file_document_loader import file_document_loader
from evledger_verify.epcis import (
    EVL_NAMESPACE,
    LEDGER_LOT,
    PROOF,
    CaptureProof,
    EPCISFormatError,
    Identified,
    check_event,
    epcis_record,
    event_hash_id,
    event_lot,
    identify,
)
from evledger_verify.records import Domain
from pyld import jsonld

from ingest.client import InvalidInputError, SigningKey
from ingest.epcis import sign_capture_document
from ledger.domain import epcis
from ledger.domain.genealogy import Genealogy, Link
from ledger.domain.schemas import gtin_check_digit, parse_record
from ledger.errors import InvalidRecordError, TooLargeError
from tests.unit.test_epcis_hash import GS1_CONTEXT, oracle

DATA = Path(__file__).parents[1] / "data" / "epcis"
pytestmark = [
    pytest.mark.filterwarnings("ignore:open_text is deprecated:DeprecationWarning"),
    pytest.mark.req("FSMA-204-2", "CFR830-1"),
]
DOMAIN = Domain(31337, "0x" + "11" * 20)
T0 = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)


def gs1_number(body: str) -> str:
    return body + str(gtin_check_digit(body))


RESIN, STEEL, PRODUCT = (gs1_number(f"095060001343{d}") for d in "012")
PALLET = gs1_number("00950600010000001")


@pytest.fixture(scope="module", autouse=True)
def offline_json_ld() -> Iterator[None]:
    """The oracle's JSON-LD contexts from the copies its package ships; our documents name the
    unversioned EPCIS 2.0 context, which is the 2.0.0 one."""
    bundled = file_document_loader()

    def loader(url: str, options: dict[str, Any] | None = None) -> Any:
        if url == epcis.CONTEXT_URL:
            url = GS1_CONTEXT
        if url not in (GS1_CONTEXT,):
            raise AssertionError(f"the oracle tried to fetch {url}")
        return bundled(url, options or {})

    previous = jsonld.get_document_loader()
    jsonld.set_document_loader(loader)
    yield
    jsonld.set_document_loader(previous)


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    schema = json.loads((DATA / "EPCIS-JSON-Schema.json").read_text())
    return jsonschema.Draft7Validator(
        schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER
    )


def schema_errors(validator: jsonschema.protocols.Validator, document: Any) -> list[str]:
    return [f"{e.json_path}: {e.message}" for e in validator.iter_errors(document)]


# -- a plant, as scan records ---------------------------------------------------------------------


class Plant:
    """Scan records as the scanner ingesters make them (the integration test's plant)."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def scan(self, station: str, operation: str, gs1: dict[str, Any], **fields: Any) -> str:
        rid = f"scan-{station.replace(' ', '_')}-{len(self.records) + 1}"
        record = {
            "record_id": rid,
            "type": "scan",
            "schema": "scan/1",
            "station": station,
            "operation": operation,
            "gs1": gs1,
            "scanned_at": (T0 + timedelta(minutes=len(self.records) + 1)).isoformat(),
            **fields,
        }
        parse_record(record)
        self.records.append(record)
        return rid

    def proven(self) -> list[epcis.Proven]:
        genealogy = Genealogy()
        return [epcis.Proven(i, r, genealogy.add(r)) for i, r in enumerate(self.records)]


def plant() -> Plant:
    """3 supplier lots, 2 product lots, a pallet carrying both, 4 shipments to 3 consignees."""
    p = Plant()
    p.scan(
        "DOCK-1",
        "receive",
        {"gtin": RESIN, "lot": "SUP-A1"},
        lot="RM-A",
        supplier="Polymer GmbH",
        quantity=500,
        unit="KGM",
    )
    p.scan(
        "DOCK-1",
        "receive",
        {"gtin": STEEL, "lot": "RM-B"},
        supplier="Steel AG",
        quantity=200,
        unit="EA",
    )
    p.scan(
        "DOCK-1",
        "receive",
        {"gtin": RESIN, "lot": "SUP-C7"},
        lot="RM-C",
        supplier="Polymer GmbH",
        quantity=300,
        unit="KGM",
    )
    p.scan("MOLD-1", "produce", {"gtin": PRODUCT, "lot": "P-1"})
    p.scan("MOLD-1", "consume", {"gtin": RESIN, "lot": "SUP-A1"}, quantity=40, unit="KGM")
    p.scan("MOLD-1", "consume", {"gtin": STEEL, "lot": "RM-B"}, quantity=120, unit="EA")
    p.scan("MOLD-2", "produce", {"gtin": PRODUCT, "lot": "P-2"})
    p.scan("MOLD-2", "consume", {"gtin": RESIN, "lot": "SUP-C7"}, quantity=25, unit="KGM")
    p.scan(
        "PACK-1", "pack", {"gtin": PRODUCT, "lot": "P-1"}, pallet=PALLET, quantity=100, unit="EA"
    )
    p.scan("PACK-1", "pack", {"gtin": PRODUCT, "lot": "P-2"}, pallet=PALLET, quantity=50, unit="EA")
    p.scan("SHIP-1", "ship", {"sscc": PALLET}, consignee="Hospital North")
    p.scan(
        "SHIP-1",
        "ship",
        {"gtin": PRODUCT, "lot": "P-1"},
        consignee="Clinic East",
        quantity=20,
        unit="EA",
    )
    p.scan(
        "SHIP-1",
        "ship",
        {"gtin": PRODUCT, "lot": "P-2"},
        consignee="Distributor West",
        quantity=10,
        unit="EA",
    )
    return p


P1_LOTS = {"P-1", "RM-A", "RM-B"}  # P-1's trace, backward and forward
P2_LOTS = {"P-2", "RM-C"}


def document_for(p: Plant, lots: set[str]) -> dict[str, Any]:
    return epcis.lot_document(lots, p.proven(), created=T0 + timedelta(days=1))


def events(document: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = document["epcisBody"]["eventList"]
    return found


def graph(links: list[Link]) -> list[tuple[Any, ...]]:
    """Links without the proving records and times: what a trace shows of them."""
    return sorted(
        (link.kind, link.lot, link.other, link.gtin, link.quantity, link.unit, link.via)
        for link in links
    )


# -- scans as events -------------------------------------------------------------------------------

MAPPING = [
    # operation, event type, action, bizStep, disposition, the list the item goes to
    ("receive", "ObjectEvent", "OBSERVE", "receiving", "in_progress", "quantityList"),
    ("consume", "TransformationEvent", None, None, None, "inputQuantityList"),
    ("produce", "ObjectEvent", "ADD", "commissioning", "active", "quantityList"),
    ("pack", "AggregationEvent", "ADD", "packing", "in_progress", "childQuantityList"),
    ("ship", "ObjectEvent", "OBSERVE", "shipping", "in_transit", "quantityList"),
]


@pytest.mark.parametrize(("op", "kind", "action", "step", "disposition", "items"), MAPPING)
def test_each_scan_operation_maps_to_its_event(
    validator: jsonschema.protocols.Validator,
    op: str,
    kind: str,
    action: str | None,
    step: str | None,
    disposition: str | None,
    items: str,
) -> None:
    fields: dict[str, Any] = {
        "receive": {"supplier": "Polymer GmbH"},
        "pack": {"pallet": PALLET},
        "ship": {"consignee": "Clinic East"},
    }.get(op, {})
    p = Plant()
    p.scan("ST 1", op, {"gtin": RESIN, "lot": "L/7%"}, quantity=2.5, unit="KGM", **fields)
    event = epcis.scan_event(p.records[0])
    assert (event["type"], event.get("action"), event.get("bizStep"), event.get("disposition")) == (
        kind,
        action,
        step,
        disposition,
    )
    assert event[items] == [
        {"epcClass": f"https://id.gs1.org/01/{RESIN}/10/L%2F7%25", "quantity": 2.5, "uom": "KGM"}
    ]
    assert event["eventTime"] == "2026-11-30T06:01:00+00:00"
    assert event["eventTimeZoneOffset"] == "+00:00"
    assert event["readPoint"] == {"id": "https://evledger.dev/ns/epcis/station/ST%201"}
    if op == "receive":
        assert event["sourceList"] == [
            {"type": "owning_party", "source": "https://evledger.dev/ns/epcis/party/Polymer%20GmbH"}
        ]
    if op == "ship":
        assert event["destinationList"] == [
            {"type": "owning_party", "destination": epcis.party_uri("Clinic East")}
        ]
    if op == "pack":
        assert event["parentID"] == f"https://id.gs1.org/00/{PALLET}"
    if op == "consume":  # EPCIS 2.0: inputs without outputs need one
        assert event["transformationID"] == (
            "https://evledger.dev/ns/epcis/transformation/scan-ST_1-1"
        )
    document = {
        "@context": epcis.DOCUMENT_CONTEXT,
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-12-01T00:00:00Z",
        "epcisBody": {"eventList": [event]},
    }
    assert schema_errors(validator, document) == []
    assert oracle(document)[1] == [epcis.event_hash_of(p.records[0])]


def test_a_pallet_shipped_by_its_sscc_and_a_serialised_item() -> None:
    p = Plant()
    p.scan("SHIP-1", "ship", {"sscc": PALLET}, consignee="Hospital North")
    p.scan("SHIP-1", "ship", {"gtin": PRODUCT, "lot": "P-1", "serial": "SN 1"}, consignee="X")
    pallet, item = (epcis.scan_event(r) for r in p.records)
    assert pallet["epcList"] == [f"https://id.gs1.org/00/{PALLET}"] and "quantityList" not in pallet
    assert item["epcList"] == [f"https://id.gs1.org/01/{PRODUCT}/10/P-1/21/SN%201"]


def test_a_ledger_lot_other_than_the_label_is_named_in_evl_lot() -> None:
    p = Plant()
    p.scan("DOCK-1", "receive", {"gtin": RESIN, "lot": "SUP-A1"}, lot="RM-A")
    p.scan("DOCK-1", "receive", {"gtin": RESIN}, lot="RM-9")
    p.scan("DOCK-1", "receive", {"gtin": RESIN, "lot": "RM-B"}, lot="RM-B")
    aliased, unlabelled, same = (epcis.scan_event(r) for r in p.records)
    assert aliased[LEDGER_LOT] == "RM-A"
    assert aliased["quantityList"] == [{"epcClass": f"https://id.gs1.org/01/{RESIN}/10/SUP-A1"}]
    assert unlabelled[LEDGER_LOT] == "RM-9"
    assert unlabelled["quantityList"] == [{"epcClass": f"https://id.gs1.org/01/{RESIN}"}]
    assert LEDGER_LOT not in same


@pytest.mark.parametrize(
    ("unit", "expected"),
    [
        ("KGM", {"quantity": 3, "uom": "KGM"}),
        ("kg", {"quantity": 3, "uom": "KGM"}),
        (None, {"quantity": 3}),
        ("bags", {}),
    ],
)
def test_units_become_rec_20_codes_or_the_quantity_is_left_out(
    unit: str | None, expected: dict[str, Any]
) -> None:
    p = Plant()
    p.scan(
        "MOLD-1",
        "produce",
        {"gtin": PRODUCT, "lot": "P-1"},
        quantity=3,
        **({"unit": unit} if unit else {}),
    )
    (element,) = epcis.scan_event(p.records[0])["quantityList"]
    assert {k: v for k, v in element.items() if k != "epcClass"} == expected


@pytest.mark.parametrize(
    ("scanned_at", "time", "offset"),
    [
        ("2026-11-30T07:01:00+01:00", "2026-11-30T07:01:00+01:00", "+01:00"),
        ("2026-11-30T06:01:00.250Z", "2026-11-30T06:01:00.250Z", "+00:00"),
        ("2026-11-30T01:31:00-04:30", "2026-11-30T01:31:00-04:30", "-04:30"),
        ("2026-11-30 06:01:00+00:00", "2026-11-30T06:01:00+00:00", "+00:00"),
        (int((T0 + timedelta(minutes=1)).timestamp()), "2026-11-30T06:01:00+00:00", "+00:00"),
    ],
)
def test_event_time_is_the_scan_time_as_recorded(scanned_at: Any, time: str, offset: str) -> None:
    p = Plant()
    p.scan("MOLD-1", "produce", {"gtin": PRODUCT, "lot": "P-1"})
    p.records[0]["scanned_at"] = scanned_at
    parse_record(p.records[0])
    event = epcis.scan_event(p.records[0])
    assert (event["eventTime"], event["eventTimeZoneOffset"]) == (time, offset)


LOTS_AND_SERIALS = ["P-1", "AB/12", "50%", "x!\"'()*+,:;<=>?", "A_B.C-D", "Z" * 20]


@pytest.mark.parametrize("value", LOTS_AND_SERIALS)
def test_digital_link_uris_are_biips_canonical_ones(value: str) -> None:
    def biip(*elements: str) -> str:
        strings = GS1ElementStrings([GS1ElementString.parse(e) for e in elements])
        return GS1DigitalLinkURI.from_element_strings(strings).as_canonical_uri()

    assert epcis.digital_link(PRODUCT) == biip(f"01{PRODUCT}")
    assert epcis.digital_link(PRODUCT, value) == biip(f"01{PRODUCT}", f"10{value}")
    assert epcis.digital_link(PRODUCT, value, value) == biip(
        f"01{PRODUCT}", f"10{value}", f"21{value}"
    )
    assert epcis.sscc_link(PALLET) == biip(f"00{PALLET}")
    assert identify(epcis.digital_link(PRODUCT, value, value)) == Identified(PRODUCT, value, value)


@pytest.mark.parametrize("lot", LOTS_AND_SERIALS)
def test_the_reference_hashes_events_naming_any_lot_as_we_do(lot: str) -> None:
    p = Plant()
    p.scan("PACK-1", "pack", {"gtin": PRODUCT, "lot": lot}, pallet=PALLET, quantity=4, unit="EA")
    document = {
        "@context": epcis.DOCUMENT_CONTEXT,
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-12-01T00:00:00Z",
        "epcisBody": {"eventList": [epcis.scan_event(p.records[0])]},
    }
    assert oracle(document)[1] == [epcis.event_hash_of(p.records[0])]


IDENTIFIERS = {
    "https://id.gs1.org/01/09506000134352/10/L1": Identified("09506000134352", "L1"),
    "https://example.com/products/gtin/9506000134352/lot/L1?x=1": Identified(
        "09506000134352", "L1"
    ),
    "https://id.gs1.org/01/09506000134352/21/S1": Identified("09506000134352", None, "S1"),
    "https://id.gs1.org/00/106141412345678908": Identified(sscc="106141412345678908"),
    "urn:epc:class:lgtin:4012345.012345.998877": Identified("04012345123456", "998877"),
    "urn:epc:id:sgtin:0614141.107346.2017": Identified("10614141073464", None, "2017"),
    "urn:epc:id:sscc:0614141.1234567890": Identified(sscc="106141412345678908"),
    "https://evledger.dev/ns/epcis/lot/M%2F7": Identified(lot="M/7"),
    "https://id.gs1.org/01/09506000134353/10/L1": None,  # check digit
    "https://id.gs1.org/01/09506000134352/10/L1/99/x": None,  # an AI the genealogy does not read
    "https://id.gs1.org/00/106141412345678908/10/L1": None,
    "urn:epc:id:sgln:0614141.00777.0": None,
    "https://example.com/nothing": None,
}


@pytest.mark.parametrize(("uri", "expected"), IDENTIFIERS.items(), ids=list(IDENTIFIERS))
def test_identify_reads_digital_link_and_epc_uris(uri: str, expected: Identified | None) -> None:
    assert identify(uri) == expected


# -- a lot's document ------------------------------------------------------------------------------


def test_the_lot_document_is_valid_and_each_event_id_is_the_references_hash(
    validator: jsonschema.protocols.Validator,
) -> None:
    p = plant()
    for lots in (P1_LOTS, P2_LOTS):
        document = document_for(p, lots)
        assert schema_errors(validator, document) == []
        _, hashes = oracle(document)
        assert [e["eventID"] for e in events(document)] == hashes


def test_the_document_holds_the_scans_of_the_trace_and_a_transformation_per_product_lot() -> None:
    p = plant()
    document = document_for(p, P1_LOTS)
    assert document["@context"] == [
        "https://ref.gs1.org/standards/epcis/epcis-context.jsonld",
        {"evl": EVL_NAMESPACE},
    ]
    assert (document["type"], document["schemaVersion"]) == ("EPCISDocument", "2.0")
    assert document["creationDate"] == "2026-12-01T06:00:00.000Z"
    kinds = [(e["type"], e.get("bizStep")) for e in events(document)]
    assert kinds == [
        ("ObjectEvent", "receiving"),  # RM-A (as SUP-A1)
        ("ObjectEvent", "receiving"),  # RM-B
        ("ObjectEvent", "commissioning"),  # P-1
        ("TransformationEvent", None),  # consume SUP-A1
        ("TransformationEvent", None),  # consume RM-B
        ("TransformationEvent", None),  # P-1 from both
        ("AggregationEvent", "packing"),  # P-1 onto the pallet
        ("AggregationEvent", "packing"),  # P-2 onto it too: the pallet ships whole
        ("ObjectEvent", "shipping"),  # the pallet
        ("ObjectEvent", "shipping"),  # P-1 to Clinic East
    ]
    transformation = events(document)[5]
    assert transformation["inputQuantityList"] == [
        {"epcClass": f"https://id.gs1.org/01/{RESIN}/10/SUP-A1", "quantity": 40, "uom": "KGM"},
        {"epcClass": f"https://id.gs1.org/01/{STEEL}/10/RM-B", "quantity": 120, "uom": "EA"},
    ]
    assert transformation["outputQuantityList"] == [
        {"epcClass": f"https://id.gs1.org/01/{PRODUCT}/10/P-1"}
    ]
    assert transformation["eventTime"] == "2026-11-30T06:06:00+00:00"  # the last consume
    assert transformation["readPoint"] == {"id": epcis.station_uri("MOLD-1")}
    scan_hashes = {epcis.event_hash_of(r) for r in p.records}
    assert {e["eventID"] for e in events(document)} - scan_hashes == {transformation["eventID"]}


def test_inputs_known_only_from_an_inspection_are_lots_without_gtin(
    validator: jsonschema.protocols.Validator,
) -> None:
    p = plant()
    proven = p.proven()
    inspection = {
        "record_id": "INS-1",
        "type": "inspection",
        "lot": "P-1",
        "material_lot": "M/7",
        "inspected_at": "2026-11-30T09:00:00Z",
    }
    links = [Link("INS-1", "input", "P-1", "M/7", at="2026-11-30T09:00:00Z")]
    document = epcis.lot_document(
        {*P1_LOTS, "M/7"}, [*proven, epcis.Proven(99, inspection, links)], created=T0
    )
    (transformation,) = [e for e in events(document) if "outputQuantityList" in e]
    assert {"epcClass": "https://evledger.dev/ns/epcis/lot/M%2F7"} in transformation[
        "inputQuantityList"
    ]
    assert transformation["eventTime"] == "2026-11-30T09:00:00Z"
    assert schema_errors(validator, document) == []
    assert oracle(document)[1] == [e["eventID"] for e in events(document)]


# -- round trip: a document captured into an empty ledger traces to the same graph -----------------


def capture(document: dict[str, Any], key: SigningKey, signed_at: int = 1_800_000_000) -> Any:
    return epcis.capture_items(
        sign_capture_document(document, key, DOMAIN, signed_at), max_events=1000
    )


def test_captured_documents_prove_the_same_links_as_the_scans() -> None:
    p = plant()
    original = Genealogy()
    for record in p.records:
        original.add(record)
    key = SigningKey.generate()
    copied = Genealogy()
    seen: set[str] = set()
    for lots in (P1_LOTS, P2_LOTS):  # two documents sharing the pallet's events
        for item in capture(document_for(p, lots), key):
            parse_record(item.record)  # every record is a valid epcis_event/1
            if item.record["record_id"] not in seen:  # the ledger records an event once
                seen.add(item.record["record_id"])
                copied.add(item.record)
    # The scans' links, but for the consumes: the lots' transformations prove those edges.
    assert graph(copied.links) == graph(original.links)


def test_exporting_the_captured_events_gives_the_same_document() -> None:
    p = plant()
    first = document_for(p, P1_LOTS)
    captured = Genealogy()
    proven = [
        epcis.Proven(i, item.record, captured.add(item.record))
        for i, item in enumerate(capture(first, SigningKey.generate()))
    ]
    again = epcis.lot_document(P1_LOTS, proven, created=T0 + timedelta(days=1))
    assert [e["eventID"] for e in events(again)] == [e["eventID"] for e in events(first)]
    assert oracle(again)[1] == [e["eventID"] for e in events(again)]


def test_events_of_gs1_examples_prove_links_from_epc_uris() -> None:
    receiving = json.loads((DATA / "Example_9.6.2-ObjectEvent.jsonld").read_text())
    record = epcis_record(events(receiving)[0], receiving["@context"])
    (link,) = Genealogy().add(record)
    assert (link.kind, link.lot, link.gtin, link.quantity, link.unit) == (
        "receive",
        "998877",
        "04012345123456",
        200.0,
        "KGM",
    )
    assert link.other == "urn:epc:id:sgln:4012345.00001.0"  # its possessing party: no owner
    assert record["lot"] == "998877"
    transformation = json.loads((DATA / "Example_9.6.4-TransformationEvent.jsonld").read_text())
    event = events(transformation)[0]
    assert Genealogy().add(epcis_record(event, transformation["@context"])) == []  # no output lot
    event = {**event, "outputQuantityList": [{"epcClass": epcis.digital_link(PRODUCT, "OUT-1")}]}
    links = Genealogy().add(epcis_record(event, transformation["@context"]))
    assert [(k.kind, k.lot, k.other, k.quantity) for k in links] == [
        ("input", "OUT-1", "4444", 10.0),
        ("input", "OUT-1", "987", 30.0),
    ]


def test_a_captured_pallet_shipment_ships_every_lot_packed_onto_it() -> None:
    p = plant()
    captured = Genealogy()
    for item in capture(document_for(p, P1_LOTS), SigningKey.generate()):
        captured.add(item.record)
    shipped = [(k.lot, k.other, k.via) for k in captured.links if k.kind == "ship"]
    assert ("P-2", "Hospital North", PALLET) in shipped


# -- the epcis_event/1 record ---------------------------------------------------------------------


def an_event(**fields: Any) -> dict[str, Any]:
    event = {
        "type": "ObjectEvent",
        "eventTime": "2026-11-30T07:00:00+01:00",
        "eventTimeZoneOffset": "+01:00",
        "action": "OBSERVE",
        "bizStep": "shipping",
        "quantityList": [{"epcClass": epcis.digital_link(PRODUCT, "P-1"), "quantity": 5}],
    }
    return event | fields


def test_the_record_keeps_the_prefixes_the_event_uses_and_drops_the_proof() -> None:
    context = [epcis.CONTEXT_URL, {"evl": EVL_NAMESPACE, "ex": "https://ex.com/ns/", "un": "u:"}]
    event = an_event(**{"ex:note": "a", PROOF: {"record_id": "x"}, "evl:lot": "P-9"})
    record = epcis_record(event, context)
    assert record["context"] == {"evl": EVL_NAMESPACE, "ex": "https://ex.com/ns/"}
    assert record["event"] == {k: v for k, v in event.items() if k != PROOF}
    assert record["event_hash"] == event_hash_id(record["event"], context)
    assert record["event_hash"] == event_hash_id(record["event"], record["context"])
    assert record["event_hash"] != event_hash_id(record["event"])  # ex:note is not {ex}note
    assert record["record_id"] == "epcis-" + record["event_hash"][14:78]
    assert record["lot"] == "P-9"
    assert parse_record(record).model_dump(by_alias=True) == record


@pytest.mark.parametrize(
    ("event", "lot"),
    [
        (an_event(), "P-1"),
        (an_event(quantityList=[]), None),
        (an_event(epcList=[epcis.digital_link(PRODUCT, "P-2", "S1")]), None),  # two lots
        (an_event(epcList=[epcis.sscc_link(PALLET)], quantityList=[]), None),
        (
            {
                **an_event(type="TransformationEvent"),
                "inputQuantityList": an_event()["quantityList"],
                "outputQuantityList": [{"epcClass": epcis.digital_link(STEEL, "Q-1")}],
            },
            "Q-1",
        ),
        (an_event(quantityList=[{"epcClass": epcis.digital_link(PRODUCT, "..")}]), None),
    ],
)
def test_the_record_lot_is_the_one_lot_the_event_names(
    event: dict[str, Any], lot: str | None
) -> None:
    if event["type"] == "TransformationEvent":
        del event["action"], event["quantityList"]
    assert event_lot(event) == lot
    assert epcis_record(event).get("lot") == lot


def record_of(event: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return epcis_record(event) | changes


BAD_RECORDS: dict[str, tuple[dict[str, Any], str]] = {
    "wrong-hash": (
        record_of(an_event(), event_hash="ni:///sha-256;" + "0" * 64 + "?ver=CBV2.0"),
        r"^record\.event_hash: the event's CBV 2\.0 Event Hash ID is ni:///sha-256;[0-9a-f]{64}"
        r"\?ver=CBV2\.0, the record says ni:///sha-256;0{64}\?ver=CBV2\.0$",
    ),
    "wrong-id": (record_of(an_event(), record_id="EV-1"), r"^record\.record_id: expected 'epcis-"),
    "wrong-lot": (record_of(an_event(), lot="P-2"), r"^record\.lot: expected 'P-1'"),
    "proof-inside": (
        record_of(an_event()) | {"event": an_event(**{EVL_NAMESPACE + "proof": {}})},
        r"^record\.event: expected the event without evl:proof",
    ),
    "unknown-type": (
        record_of(an_event()) | {"event": an_event(type="FooEvent")},
        r"^record\.event\.type: expected one of \[",
    ),
    "no-offset": (
        record_of(an_event()) | {"event": an_event(eventTime="2026-11-30T07:00:00")},
        r"^record\.event\.eventTime: expected an ISO 8601 time with offset",
    ),
}


@pytest.mark.parametrize(("record", "message"), BAD_RECORDS.values(), ids=list(BAD_RECORDS))
def test_a_bad_epcis_event_record_is_refused_naming_the_field(
    record: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidRecordError, match=message):
        parse_record(record)


BAD_EVENTS: dict[str, tuple[Any, str]] = {
    "not-an-object": ("x", r"^event: expected a JSON object, got str$"),
    "type-not-a-string": (an_event(type=[]), r"^event\.type: expected one of \[.*got \[\]$"),
    "context-not-a-context": (
        an_event(**{"@context": [1]}),
        r"^event\.@context: expected a URL, an object of prefixes or a list of them, got \[1\]$",
    ),
    "no-offset-field": (
        {k: v for k, v in an_event().items() if k != "eventTimeZoneOffset"},
        r"^event\.eventTimeZoneOffset: expected an offset",
    ),
    "bad-offset": (an_event(eventTimeZoneOffset="+15:00"), r"^event\.eventTimeZoneOffset:"),
    "no-action": (an_event(action=None), r"^event\.action: expected one of ADD, OBSERVE, DELETE"),
    "action-on-transformation": (
        an_event(type="TransformationEvent"),
        r"^event\.action: a TransformationEvent has no",
    ),
    "error-declaration": (
        an_event(errorDeclaration={"declarationTime": "2026-11-30T08:00:00Z"}),
        r"^event\.errorDeclaration: not recorded",
    ),
    "epc-not-a-string": (an_event(epcList=[7]), r"^event\.epcList\[0\]: expected an identifier"),
    "too-many-epcs": (
        an_event(epcList=[f"urn:x:{i}" for i in range(1001)]),
        r"^event\.epcList: expected at most 1000 elements, got 1001$",
    ),
    "bad-uom": (
        an_event(quantityList=[{"epcClass": "urn:x", "quantity": 1, "uom": "kg"}]),
        r"^event\.quantityList\[0\]\.uom: expected a UN/CEFACT Rec 20 code",
    ),
    "negative-quantity": (
        an_event(quantityList=[{"epcClass": "urn:x", "quantity": -1}]),
        r"^event\.quantityList\[0\]\.quantity: expected a number >= 0, got -1$",
    ),
    "extra-quantity-field": (
        an_event(quantityList=[{"epcClass": "urn:x", "lot": "1"}]),
        r"^event\.quantityList\[0\]: expected only epcClass, quantity and uom, got 'lot'$",
    ),
    "read-point-without-id": (an_event(readPoint="DOCK"), r"^event\.readPoint: expected an obj"),
    "oversized": (
        an_event(**{"ex:blob": "x" * (64 * 1024)}),
        r"^event: expected at most 65536 bytes, got \d+$",
    ),
}


@pytest.mark.parametrize(("event", "message"), BAD_EVENTS.values(), ids=list(BAD_EVENTS))
def test_a_malformed_event_is_refused_naming_the_field(event: Any, message: str) -> None:
    with pytest.raises(EPCISFormatError, match=message):
        check_event(event)


def test_events_of_every_gs1_example_can_be_recorded_or_are_refused_for_their_declaration() -> None:
    for path in sorted(DATA.glob("*.jsonld")):
        document = json.loads(path.read_text())
        body = document["epcisBody"]
        found = body.get("eventList") or body.get("queryResults", {}).get("resultsBody", {}).get(
            "eventList", []
        )
        for event in found:
            if "errorDeclaration" in event:
                with pytest.raises(EPCISFormatError, match="errorDeclaration"):
                    epcis_record(event, document["@context"])
            else:
                record = epcis_record(event, document["@context"])
                assert record["event_hash"] == event_hash_id(event, document["@context"]), path
                parse_record(record)


def test_event_hash_of_a_record() -> None:
    p = plant()
    assert epcis.event_hash_of(p.records[0]) == event_hash_id(
        epcis.scan_event(p.records[0]), epcis.DOCUMENT_CONTEXT
    )
    record = epcis_record(an_event())
    assert epcis.event_hash_of(record) == record["event_hash"]
    assert epcis.event_hash_of({"type": "inspection"}) is None


# -- capture documents ----------------------------------------------------------------------------


def signed_document(*evs: dict[str, Any]) -> dict[str, Any]:
    document = {
        "@context": [epcis.CONTEXT_URL],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-12-01T00:00:00Z",
        "epcisBody": {"eventList": list(evs)},
    }
    return sign_capture_document(document, SigningKey(b"\x01" * 32), DOMAIN, 1_800_000_000)


def test_signing_a_document_adds_evl_and_a_proof_per_event() -> None:
    key = SigningKey(b"\x01" * 32)
    document = signed_document(an_event(), an_event(bizStep="receiving"))
    assert document["@context"] == [epcis.CONTEXT_URL, {"evl": EVL_NAMESPACE}]
    items = epcis.capture_items(document, max_events=10)
    for item, event in zip(items, events(document), strict=True):
        proof = CaptureProof.from_json(event[PROOF])
        assert proof == item.proof
        assert (proof.record_id, proof.signer, proof.signed_at) == (
            item.record["record_id"],
            key.address,
            1_800_000_000,
        )
        assert key.sign(item.record, "recorded", DOMAIN, 1_800_000_000).signature == (
            proof.signature
        )
    resigned = sign_capture_document(document, key, DOMAIN, 1_800_000_001)
    assert events(resigned)[0][PROOF]["signed_at"] == 1_800_000_001  # replaced, not added
    with pytest.raises(InvalidInputError, match=r"^eventList\[1\]\.eventTime: expected"):
        signed_document(an_event(), an_event(eventTime="noon"))
    with pytest.raises(InvalidInputError, match=r"'evl' is declared as 'https://other/'"):
        sign_capture_document(
            {**document, "@context": [epcis.CONTEXT_URL, {"evl": "https://other/"}]}, key, DOMAIN
        )


def _drop_proof(document: dict[str, Any]) -> dict[str, Any]:
    del events(document)[1][PROOF]
    return document


BAD_DOCUMENTS: dict[str, tuple[Any, str]] = {
    "not-an-object": ([], r"^document: expected an EPCISDocument JSON object, got list$"),
    "wrong-type": (
        signed_document(an_event()) | {"type": "EPCISQueryDocument"},
        r"^document\.type: expected 'EPCISDocument', got 'EPCISQueryDocument'$",
    ),
    "no-gs1-context": (
        signed_document(an_event()) | {"@context": [{"evl": EVL_NAMESPACE}]},
        r"^document\.@context: expected GS1's EPCIS 2\.0 context",
    ),
    "no-evl": (
        signed_document(an_event()) | {"@context": epcis.CONTEXT_URL},
        r"^document\.@context: expected the prefix 'evl' declared as 'https://evledger",
    ),
    "old-version": (
        signed_document(an_event()) | {"schemaVersion": "1.2"},
        r"^document\.schemaVersion: expected an EPCIS 2\.x version",
    ),
    "no-creation-date": (
        signed_document(an_event()) | {"creationDate": "2026-12-01"},
        r"^document\.creationDate: expected an ISO 8601 time with offset",
    ),
    "no-event-list": (
        signed_document(an_event()) | {"epcisBody": {"event": an_event()}},
        r"^document\.epcisBody\.eventList: expected a list of events$",
    ),
    "empty": (
        signed_document(an_event()) | {"epcisBody": {"eventList": []}},
        r"^document\.epcisBody\.eventList: expected at least one event$",
    ),
    "event-without-proof": (
        _drop_proof(signed_document(an_event(), an_event(bizStep="receiving"))),
        r"^eventList\[1\]\.evl:proof: expected an object \{record_id, signature, signed_at, "
        r"signer\?\} \(the record signature\), got none$",
    ),
    "proof-for-another-event": (
        signed_document(an_event())
        | {
            "epcisBody": {
                "eventList": [events(signed_document(an_event()))[0] | {"bizStep": "receiving"}]
            }
        },
        r"^eventList\[0\]\.evl:proof\.record_id: expected 'epcis-[0-9a-f]{64}' \(from the event's "
        r"hash ID ni:///",
    ),
    "bad-event-time": (
        signed_document(an_event())
        | {
            "epcisBody": {
                "eventList": [events(signed_document(an_event()))[0] | {"eventTime": "2026-11-30"}]
            }
        },
        r"^eventList\[0\]\.eventTime: expected an ISO 8601 time with offset, got '2026-11-30'$",
    ),
    "event-id-not-its-hash": (
        signed_document(an_event(eventID="ni:///sha-256;" + "1" * 64 + "?ver=CBV2.0")),
        r"^eventList\[0\]\.eventID: the event's CBV 2\.0 Event Hash ID is ni:///sha-256;",
    ),
    "the-same-event-twice": (
        signed_document(an_event(), an_event()),
        r"^eventList\[1\]: the same event as eventList\[0\] \(event hash ID ni:///",
    ),
}


@pytest.mark.parametrize(("document", "message"), BAD_DOCUMENTS.values(), ids=list(BAD_DOCUMENTS))
def test_a_malformed_capture_document_is_refused_naming_the_event_and_field(
    document: Any, message: str
) -> None:
    with pytest.raises(InvalidRecordError, match=message):
        epcis.capture_items(copy.deepcopy(document), max_events=10)


def test_a_capture_document_with_too_many_events_is_too_large() -> None:
    document = signed_document(
        *(an_event(eventTime=f"2026-11-30T07:00:{s:02d}+01:00") for s in range(3))
    )
    with pytest.raises(TooLargeError, match=r"expected at most 2 events, got 3$"):
        epcis.capture_items(document, max_events=2)


def test_the_prefixes_captured_events_use_join_the_document_context_unless_they_clash() -> None:
    def captured(leaf: int, namespace: str, lot: str) -> epcis.Proven:
        context = [epcis.CONTEXT_URL, {"ex": namespace}]
        record = epcis_record(
            an_event(
                **{"ex:note": "n"}, quantityList=[{"epcClass": epcis.digital_link(PRODUCT, lot)}]
            ),
            context,
        )
        return epcis.Proven(leaf, record, Genealogy().add(record))

    first, same, clash = (
        captured(0, "https://ex.com/a/", "P-1"),
        captured(1, "https://ex.com/a/", "P-2"),
        captured(2, "https://ex.com/b/", "P-3"),
    )
    document = epcis.lot_document({"P-1", "P-2", "P-3"}, [first, same, clash], created=T0)
    assert document["@context"] == [
        epcis.CONTEXT_URL,
        {"evl": EVL_NAMESPACE, "ex": "https://ex.com/a/"},
    ]
    found = events(document)
    assert ["@context" in e for e in found] == [False, False, True]
    assert found[2]["@context"] == {"ex": "https://ex.com/b/"}
    for event, proven in zip(found, (first, same, clash), strict=True):
        assert event["eventID"] == proven.record["event_hash"]
        assert event_hash_id(event, document["@context"]) == event["eventID"]
    assert oracle({**document, "epcisBody": {"eventList": found[:2]}})[1] == [
        e["eventID"] for e in found[:2]
    ]
