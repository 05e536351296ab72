"""EPCIS 2.0 through the service: a lot's genealogy exported (``GET /v1/lots/{lot}/epcis``),
checked against GS1's JSON schema and GS1's reference Event Hash generator, captured into a
fresh ledger (``POST /v1/epcis/capture``) that then traces the same graph, and every refusal of
a malformed capture document, each of which stores nothing."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from eth_account import Account
from evledger_verify.epcis import PROOF, epcis_record
from fastapi.testclient import TestClient
from pyld import jsonld

from api.app import create_app
from ingest.client import SigningKey
from ingest.epcis import sign_capture_document
from ledger.domain import epcis
from ledger.embedded import Anvil, EmbeddedPostgres
from ledger.runtime import Runtime
from tests.conftest import fresh_database, ledger_settings, running_ledger
from tests.helpers import bearer, record_count, register, sign
from tests.integration import test_genealogy
from tests.integration.test_genealogy import PALLET, Plant
from tests.unit.test_epcis_hash import GS1_CONTEXT, oracle

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:open_text is deprecated:DeprecationWarning"),
    pytest.mark.req("FSMA-204-2"),
]
DATA = Path(__file__).parents[1] / "data" / "epcis"
#: The genealogy tests' plant: 3 supplier lots, 2 product lots (P-1 made from two of them), a
#: pallet carrying both product lots, 4 shipments to 3 consignees.
plant = test_genealogy.plant
LD_JSON = {"Content-Type": "application/ld+json"}


@pytest.fixture(scope="module", autouse=True)
def offline_json_ld() -> Iterator[None]:
    """The oracle reads the EPCIS 2.0 context from its package (our documents name the
    unversioned URL, which is the 2.0.0 context); nothing is fetched."""
    from epcis_event_hash_generator.file_document_loader import file_document_loader

    bundled = file_document_loader()

    def loader(url: str, options: dict[str, Any] | None = None) -> Any:
        if url not in (GS1_CONTEXT, epcis.CONTEXT_URL):
            raise AssertionError(f"the oracle tried to fetch {url}")
        return bundled(GS1_CONTEXT, options or {})

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


@dataclass
class Ledger:
    """A second, empty ledger that captures documents: its client, a system (MES) key and a
    reader."""

    client: TestClient
    runtime: Runtime
    system: SigningKey
    reader: dict[str, str]

    def capture(self, document: Any, status: int = 200, **headers: str) -> Any:
        resp = self.client.post(
            "/v1/epcis/capture",
            content=json.dumps(document),
            headers={**LD_JSON, **headers},
        )
        assert resp.status_code == status, resp.text
        return resp.json()

    def sign(self, document: dict[str, Any], signed_at: int | None = None) -> dict[str, Any]:
        domain = self.runtime.ledger.identity.domain
        return sign_capture_document(document, self.system, domain, signed_at)

    def settle(self) -> None:
        deadline = time.monotonic() + 30
        while self.runtime.ledger.status()["pending_seal"]:
            assert time.monotonic() < deadline, "records not sealed"
            time.sleep(0.02)
        self.runtime.projector.catch_up()

    def get(self, path: str, **params: Any) -> Any:
        resp = self.client.get(path, params=params, headers=self.reader)
        assert resp.status_code == 200, resp.text
        return resp.json()


@pytest.fixture()
def fresh(tmp_path: Path, pg_server: EmbeddedPostgres, anvil: Anvil) -> Iterator[Ledger]:
    with (
        fresh_database(pg_server) as url,
        running_ledger(ledger_settings(tmp_path / "fresh-home"), url, anvil) as rt,
        TestClient(create_app(rt.ledger, rt.settings.max_body_bytes)) as client,
    ):
        system = register(client, rt, ("system",), name="Plant MES")
        reader = register(client, rt, ("qa_approver",), name="QA Reader")
        yield Ledger(client, rt, SigningKey(bytes(system.key)), bearer(rt, reader))


def export(p: Plant, lot: str) -> dict[str, Any]:
    resp = p.client.get(f"/v1/lots/{lot}/epcis", headers=bearer(p.runtime, p.qa))
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == "application/ld+json"
    document: dict[str, Any] = resp.json()
    return document


def events(document: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = document["epcisBody"]["eventList"]
    return found


# -- export --------------------------------------------------------------------------------------


@pytest.mark.parametrize("lot", ["P-1", "RM-C", "P-2", "RM-A"])
def test_the_export_is_a_valid_epcis_document_whose_event_ids_are_the_reference_hashes(
    plant: Plant, validator: jsonschema.protocols.Validator, lot: str
) -> None:
    document = export(plant, lot)
    errors = [f"{e.json_path}: {e.message}" for e in validator.iter_errors(document)]
    assert errors == []
    _, hashes = oracle(document)
    assert [e["eventID"] for e in events(document)] == hashes
    assert document["@context"][0] == "https://ref.gs1.org/standards/epcis/epcis-context.jsonld"


def test_every_scan_in_the_document_is_its_record_by_event_hash(plant: Plant) -> None:
    document = export(plant, "P-1")
    ids = {e["eventID"] for e in events(document)}
    headers = bearer(plant.runtime, plant.qa)
    expected = [
        f"scan-{s}"
        for s in (
            "DOCK-1-1",
            "DOCK-1-2",
            "MOLD-1-4",
            "MOLD-1-5",
            "MOLD-1-6",
            "PACK-1-9",
            "PACK-1-10",
            "SHIP-1-11",
            "SHIP-1-12",
        )
    ]
    for record_id in expected:
        view = plant.client.get(f"/v1/records/{record_id}", headers=headers).json()
        body = view.get("original") or view["current"]
        assert epcis.event_hash_of(body) in ids, record_id
        # GET /v1/records shows every scan's Event Hash ID beside its record hash.
        assert view["epcis_event_hash"] == epcis.event_hash_of(body), record_id
    assert len(ids) == len(expected) + 1  # and P-1's TransformationEvent


def test_the_export_needs_a_read_token_and_a_known_lot(plant: Plant) -> None:
    client = plant.client
    assert client.get("/v1/lots/P-1/epcis").status_code == 401
    device = client.get("/v1/lots/P-1/epcis", headers=bearer(plant.runtime, plant.device))
    assert device.status_code == 403
    unknown = client.get("/v1/lots/NO-SUCH/epcis", headers=bearer(plant.runtime, plant.qa))
    assert unknown.status_code == 404 and "NO-SUCH" in unknown.json()["detail"]


# -- round trip ----------------------------------------------------------------------------------


def _without_records(view: dict[str, Any]) -> dict[str, Any]:
    """A trace view without the ids of the records that prove it (they differ by ledger) and
    without the tree size."""
    out = copy.deepcopy(view)
    out.pop("tree_size", None)
    for edge in out["edges"]:
        edge.pop("record_ids")
    for node in out["nodes"]:
        for key in ("suppliers", "shipments", "pallets"):
            for entry in node[key]:
                entry.pop("record_id")
            node[key].sort(key=json.dumps)
    return out


TRACES = [
    ("/v1/lots/P-1/trace", {"direction": "backward"}),
    ("/v1/lots/P-1/trace", {"direction": "forward"}),
    ("/v1/lots/RM-A/trace", {"direction": "forward"}),
    ("/v1/lots/RM-C/trace", {"direction": "forward"}),
    ("/v1/lots/P-2/trace", {"direction": "backward"}),
    ("/v1/suppliers/Polymer%20GmbH/trace", {}),
]


def test_a_lot_exported_and_captured_into_a_fresh_ledger_traces_the_same(
    plant: Plant, fresh: Ledger
) -> None:
    first, second = export(plant, "P-1"), export(plant, "RM-C")  # the supplier's other lot
    answer = fresh.capture(fresh.sign(first))
    assert answer["accepted"] == len(events(first)) and answer["refused"] == 0
    assert [r["event_hash"] for r in answer["results"]] == [e["eventID"] for e in events(first)]
    # The second document shares the pallet's events: signed later, they are answered as
    # duplicates of the events already recorded, and not recorded twice.
    before = record_count(fresh.client)
    answer = fresh.capture(fresh.sign(second, int(time.time()) + 1))
    shared = {e["eventID"] for e in events(first)} & {e["eventID"] for e in events(second)}
    assert len(shared) == 3  # the two packs onto the pallet, and the pallet's shipment
    assert answer["duplicate"] == len(shared) and answer["refused"] == 0
    assert record_count(fresh.client) == before + answer["accepted"]
    for result in answer["results"]:
        if result["status"] == "duplicate":
            assert "this signature was not stored" in result["detail"]
    fresh.settle()
    headers = bearer(plant.runtime, plant.qa)
    for path, params in TRACES:
        original = plant.client.get(path, params=params, headers=headers)
        assert original.status_code == 200, original.text
        copied = fresh.get(path, **params)
        assert _without_records(copied) == _without_records(original.json()), path
    scope = fresh.get("/v1/suppliers/Polymer%20GmbH/recall")["scope"]
    assert scope["consignees"] == ["Clinic East", "Distributor West", "Hospital North"]
    assert sorted((s["lot"], s["consignee"], s["quantity"]) for s in scope["shipments"]) == [
        ("P-1", "Clinic East", 20.0),
        ("P-1", "Hospital North", 100.0),
        ("P-2", "Distributor West", 10.0),
        ("P-2", "Hospital North", 50.0),
    ]
    # Exported again from the copy: the same events.
    resp = fresh.client.get("/v1/lots/P-1/epcis", headers=fresh.reader)
    assert [e["eventID"] for e in events(resp.json())] == [e["eventID"] for e in events(first)]
    # Each captured event is a record: its event hash, a system signature, its lot.
    record_id = answer["results"][0]["record_id"]
    view = fresh.client.get(f"/v1/records/{record_id}", headers=fresh.reader).json()
    assert view["current"]["event_hash"] == answer["results"][0]["event_hash"]
    assert view["current"]["lot"] == "RM-C"
    assert view["signature"]["meaning"] == "recorded"


# -- refusals ------------------------------------------------------------------------------------


def an_event(second: int = 0, **fields: Any) -> dict[str, Any]:
    event = {
        "type": "ObjectEvent",
        "eventTime": f"2026-11-30T08:00:{second:02d}+01:00",
        "eventTimeZoneOffset": "+01:00",
        "action": "OBSERVE",
        "bizStep": "shipping",
        "disposition": "in_transit",
        "quantityList": [{"epcClass": epcis.digital_link(PALLET[1:15], "P-1"), "quantity": 1}],
        "destinationList": [{"type": "owning_party", "destination": epcis.party_uri("Clinic")}],
    }
    return event | fields


def a_document(*evs: dict[str, Any]) -> dict[str, Any]:
    return {
        "@context": [epcis.CONTEXT_URL],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-11-30T09:00:00Z",
        "epcisBody": {"eventList": list(evs or (an_event(0), an_event(1)))},
    }


def _signed(fresh: Ledger, *evs: dict[str, Any]) -> dict[str, Any]:
    return fresh.sign(a_document(*evs))


def _tamper(document: dict[str, Any], index: int, **proof: Any) -> dict[str, Any]:
    events(document)[index][PROOF].update(proof)
    return document


def _other_key(fresh: Ledger, roles: tuple[str, ...] | None) -> SigningKey:
    if roles is None:
        return SigningKey(bytes(Account.create().key))
    return SigningKey(bytes(register(fresh.client, fresh.runtime, roles, name="Other").key))


CASES: dict[str, tuple[Any, int, str, str]] = {
    # name: (document or a function of the ledger, status, error code, detail)
    "not-json": (b"{not json", 422, "invalid_request", "body:"),
    "not-an-object": ([1, 2], 422, "invalid_record", "document: expected an EPCISDocument JSON"),
    "wrong-type": (
        lambda f: _signed(f) | {"type": "EPCISQueryDocument"},
        422,
        "invalid_record",
        "document.type: expected 'EPCISDocument', got 'EPCISQueryDocument'",
    ),
    "no-event-list": (
        lambda f: _signed(f) | {"epcisBody": {}},
        422,
        "invalid_record",
        "document.epcisBody.eventList: expected a list of events",
    ),
    "event-without-proof": (
        lambda f: _signed(f) | {"epcisBody": {"eventList": [events(_signed(f))[0], an_event(1)]}},
        422,
        "invalid_record",
        "eventList[1].evl:proof: expected an object",
    ),
    "bad-signature": (
        # event 0's signature on event 1: made over other data, so it recovers to another key
        lambda f: _tamper(d := _signed(f), 1, signature=events(d)[0][PROOF]["signature"]),
        401,
        "bad_signature",
        "eventList[1]: signature: expected a signature by",
    ),
    "unregistered-signer": (
        lambda f: sign_capture_document(
            a_document(), _other_key(f, None), f.runtime.ledger.identity.domain
        ),
        403,
        "not_authorized",
        "eventList[0]: signer 0x",
    ),
    "a-device-may-not-capture": (
        lambda f: sign_capture_document(
            a_document(), _other_key(f, ("device",)), f.runtime.ledger.identity.domain
        ),
        403,
        "not_authorized",
        "eventList[0]: authority: epcis_event with meaning 'recorded' needs role system",
    ),
    "bad-event-time": (
        lambda f: (
            _signed(f)
            | {
                "epcisBody": {
                    "eventList": [
                        events(_signed(f))[0],
                        {**events(_signed(f))[1], "eventTime": "2026-11-30T08:00"},
                    ]
                }
            }
        ),
        422,
        "invalid_record",
        "eventList[1].eventTime: expected an ISO 8601 time with offset, got '2026-11-30T08:00'",
    ),
    "unknown-event-type": (
        lambda f: (
            _signed(f)
            | {
                "epcisBody": {
                    "eventList": [
                        events(_signed(f))[0],
                        {**events(_signed(f))[1], "type": "SensorEvent"},
                    ]
                }
            }
        ),
        422,
        "invalid_record",
        "eventList[1].type: expected one of ['AggregationEvent', 'AssociationEvent'",
    ),
    "event-type-not-a-string": (
        lambda f: (
            _signed(f)
            | {"epcisBody": {"eventList": [events(_signed(f))[0], {**an_event(1), "type": []}]}}
        ),
        422,
        "invalid_record",
        "eventList[1].type: expected one of",
    ),
    "oversized-event": (
        lambda f: (
            _signed(f)
            | {
                "epcisBody": {
                    "eventList": [
                        events(_signed(f))[0],
                        {**events(_signed(f))[1], "evl:note": "x" * 70_000},
                    ]
                }
            }
        ),
        422,
        "invalid_record",
        "eventList[1]: expected at most 65536 bytes, got",
    ),
    "oversized-document": (
        lambda f: _signed(f) | {"padding": "x" * (8 * 1024 * 1024 + 1)},
        413,
        "too_large",
        "body: expected at most 8388608 bytes",  # a capture takes what a batch takes
    ),
    "proof-of-another-event": (
        lambda f: (
            _signed(f)
            | {
                "epcisBody": {
                    "eventList": [
                        events(_signed(f))[0],
                        {**events(_signed(f))[0], "bizStep": "receiving"},
                    ]
                }
            }
        ),
        422,
        "invalid_record",
        "eventList[1].evl:proof.record_id: expected 'epcis-",
    ),
    "signature-too-old": (
        lambda f: f.sign(a_document(), int(time.time()) - 8 * 86400),
        422,
        "invalid_record",
        "eventList[0]: time: a signature (a person's or a system's",
    ),
}


@pytest.mark.parametrize(("case", "status", "error", "detail"), CASES.values(), ids=list(CASES))
def test_a_malformed_or_refused_capture_document_stores_nothing(
    fresh: Ledger, case: Any, status: int, error: str, detail: str
) -> None:
    document = case(fresh) if callable(case) else case
    body = document if isinstance(document, bytes) else json.dumps(document).encode()
    before = record_count(fresh.client)
    resp = fresh.client.post("/v1/epcis/capture", content=body, headers=LD_JSON)
    assert (resp.status_code, resp.json()["error"]) == (status, error), resp.text
    assert detail in resp.json()["detail"], resp.text
    assert record_count(fresh.client) == before


def test_too_many_events_are_refused(fresh: Ledger) -> None:
    app = create_app(fresh.runtime.ledger, max_batch_items=2)
    with TestClient(app) as client:
        document = fresh.sign(a_document(an_event(0), an_event(1), an_event(2)))
        before = record_count(client)
        resp = client.post("/v1/epcis/capture", content=json.dumps(document), headers=LD_JSON)
        assert resp.status_code == 413, resp.text
        assert "expected at most 2 events, got 3" in resp.json()["detail"]
        assert record_count(client) == before


def test_a_replayed_document_is_answered_with_duplicates_and_stored_once(fresh: Ledger) -> None:
    document = fresh.sign(a_document())
    first = fresh.capture(document)
    assert (first["accepted"], first["duplicate"]) == (2, 0)
    count = record_count(fresh.client)
    again = fresh.capture(document)
    assert (again["accepted"], again["duplicate"], again["refused"]) == (0, 2, 0)
    assert [r["record_hash"] for r in again["results"]] == [
        r["record_hash"] for r in first["results"]
    ]
    assert record_count(fresh.client) == count
    # Signed again (another signed_at): still the same events, still recorded once.
    resigned = fresh.capture(fresh.sign(a_document(), int(time.time()) - 60))
    assert resigned["duplicate"] == 2 and record_count(fresh.client) == count
    assert all("not stored" in r["detail"] for r in resigned["results"])
    for held, stored in zip(resigned["results"], first["results"], strict=True):
        shared = ("record_id", "record_hash", "leaf_hash", "signer", "accepted_at", "event_hash")
        assert {k: held[k] for k in shared} == {k: stored[k] for k in shared}
        assert ("promise" in held) == ("promise" in stored)


def test_an_event_recorded_with_other_unhashed_fields_refuses_the_document(fresh: Ledger) -> None:
    fresh.capture(fresh.sign(a_document()))
    count = record_count(fresh.client)
    changed = fresh.sign(a_document(an_event(0, eventID="urn:uuid:1"), an_event(5)))
    resp = fresh.client.post("/v1/epcis/capture", content=json.dumps(changed), headers=LD_JSON)
    assert resp.status_code == 409, resp.text
    assert resp.json()["detail"].startswith("eventList[0]: event ni:///sha-256;")
    assert record_count(fresh.client) == count  # not even the new second event


def test_an_epcis_event_record_submitted_alone_must_carry_its_hash(fresh: Ledger) -> None:
    record = epcis_record(an_event(7))
    wrong = {**record, "event_hash": "ni:///sha-256;" + "0" * 64 + "?ver=CBV2.0"}
    system = Account.from_key(fresh.system._key.secret)
    before = record_count(fresh.client)
    resp = fresh.client.post("/v1/records", json=sign(fresh.runtime, wrong, system, "recorded"))
    assert resp.status_code == 422, resp.text
    assert resp.json()["detail"] == (
        f"record.event_hash: the event's CBV 2.0 Event Hash ID is {record['event_hash']}, "
        f"the record says {wrong['event_hash']}"
    )
    assert record_count(fresh.client) == before
    ok = fresh.client.post("/v1/records", json=sign(fresh.runtime, record, system, "recorded"))
    assert ok.status_code == 201, ok.text
