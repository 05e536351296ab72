"""The CBV 2.0 Event Hash ID (:mod:`evledger_verify.epcis`) against GS1's reference.

The oracle is GS1's "EPCIS Event Hash Generator" (PyPI ``epcis-event-hash-generator``), called
in-process on GS1's own EPCIS 2.0 example documents (``tests/data/epcis``, see its README) and
on small documents made here. It expands JSON-LD with PyLD; the loader installed below serves
the GS1 contexts the package bundles and refuses everything else, so nothing reaches the
network. Needs no services.
"""

from __future__ import annotations

import copy
import doctest
import json
import logging
import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from epcis_event_hash_generator import hash_generator, json_to_py
from epcis_event_hash_generator.file_document_loader import file_document_loader
from evledger_verify import epcis
from evledger_verify.epcis import EPCISFormatError, event_hash_id, event_hash_ids, pre_hash_string
from evledger_verify.errors import FormatError
from hypothesis import given, settings
from hypothesis import strategies as st
from pyld import jsonld

DATA = Path(__file__).parents[1] / "data" / "epcis"
EXAMPLES = sorted(DATA.glob("*.jsonld"))
pytestmark = [
    pytest.mark.filterwarnings(
        "ignore:open_text is deprecated:DeprecationWarning"  # the reference's context loader
    ),
    pytest.mark.req("FSMA-204-2"),
]
GS1_CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
#: The JSON-LD contexts the reference package ships; anything else would be fetched.
BUNDLED_CONTEXTS = {GS1_CONTEXT, "https://gs1.github.io/EPCIS/epcis-context.jsonld"}


def _load(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text())
    return document


def _events(document: dict[str, Any]) -> list[dict[str, Any]]:
    body = document["epcisBody"]
    if "queryResults" in body:
        events: list[dict[str, Any]] = body["queryResults"]["resultsBody"]["eventList"]
        return events
    return body.get("eventList") or [body["event"]]


@pytest.fixture(scope="module", autouse=True)
def offline_json_ld() -> Iterator[None]:
    bundled = file_document_loader()

    def loader(url: str, options: dict[str, Any] | None = None) -> Any:
        if url not in BUNDLED_CONTEXTS:
            raise AssertionError(f"the oracle tried to fetch {url}")
        return bundled(url, options or {})

    previous = jsonld.get_document_loader()
    jsonld.set_document_loader(loader)
    logging.getLogger().setLevel(logging.ERROR)  # the reference logs a warning per odd value
    yield
    jsonld.set_document_loader(previous)


def oracle(document: dict[str, Any]) -> tuple[list[str], list[str]]:
    """The reference's pre-hash strings and hash IDs for the events of ``document``."""
    json_to_py._namespaces.clear()  # module state: it would carry prefixes into the next call
    document = copy.deepcopy(document)
    if "queryResults" in document["epcisBody"]:  # 1.9 reads eventList and event only
        document["epcisBody"] = {"eventList": _events(document)}
    events = json_to_py.event_list_from_epcis_document_json(document)
    pre_hashes = hash_generator.derive_prehashes_from_events(events)
    # The reference logs and skips an event it cannot hash: make that a failure here.
    assert len(pre_hashes) == len(events[2]), "the reference skipped an event"
    hashes = hash_generator.epcis_hashes_from_events(events)
    return pre_hashes, hashes


def document_of(*events: dict[str, Any], prefixes: dict[str, str] | None = None) -> dict[str, Any]:
    context: list[Any] = [GS1_CONTEXT, prefixes] if prefixes else [GS1_CONTEXT]
    return {"@context": context, "type": "EPCISDocument", "epcisBody": {"eventList": list(events)}}


def an_event(**fields: Any) -> dict[str, Any]:
    event = {
        "type": "ObjectEvent",
        "eventTime": "2020-03-04T11:00:30.000+01:00",
        "eventTimeZoneOffset": "+01:00",
        "epcList": ["urn:epc:id:sgtin:4012345.011111.987"],
        "action": "OBSERVE",
    }
    return event | fields


# --- GS1's examples, event by event ----------------------------------------------------------

EXAMPLE_EVENTS = [
    pytest.param(path, i, id=f"{path.stem}[{i}]")
    for path in EXAMPLES
    for i in range(len(_events(_load(path))))
]


def test_the_stored_examples_are_a_handful_covering_every_event_type() -> None:
    assert 5 <= len(EXAMPLES) <= 15
    kinds = {event["type"] for path in EXAMPLES for event in _events(_load(path))}
    assert kinds == epcis.EVENT_TYPES


@pytest.mark.parametrize(("path", "index"), EXAMPLE_EVENTS)
def test_event_hash_id_of_each_gs1_example_event_is_the_references(path: Path, index: int) -> None:
    document = _load(path)
    event = _events(document)[index]
    pre_hashes, hashes = oracle(document)
    assert pre_hash_string(event, document["@context"]) == pre_hashes[index]
    assert event_hash_id(event, document["@context"]) == hashes[index]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_event_hash_ids_of_a_gs1_document_are_the_references(path: Path) -> None:
    document = _load(path)
    assert event_hash_ids(document) == oracle(document)[1]


def test_the_module_docstring_example_runs() -> None:
    assert doctest.testmod(epcis).failed == 0


# --- Identifiers: every EPC scheme, class and pattern, and Digital Link forms ----------------

IDENTIFIERS = [
    "urn:epc:id:sgtin:0614141.112345.400",
    "urn:epc:id:sgtin:4012345.011111.a!b(c)*+,:%2F",
    "urn:epc:id:sscc:0614141.1234567890",
    "urn:epc:id:sgln:0614141.12345.0",
    "urn:epc:id:sgln:0614141.12345.400",
    "urn:epc:id:sgln:061414112345..5",
    "urn:epc:id:grai:0614141.12345.400",
    "urn:epc:id:grai:061414112345..400",  # 12-digit prefix: the reference leaves it
    "urn:epc:id:giai:0614141.12345400",
    "urn:epc:id:gsrn:0614141.1234567890",
    "urn:epc:id:gsrnp:0614141.1234567890",
    "urn:epc:id:gdti:0614141.12345.400",
    "urn:epc:id:gdti:061414112345..A-1",
    "urn:epc:id:cpi:0614141.123ABC%2F-.123456789",
    "urn:epc:id:sgcn:4012345.67890.04711",
    "urn:epc:id:ginc:0614141.xyz47%2F11",
    "urn:epc:id:gsin:0614141.123456789",
    "urn:epc:id:itip:4012345.012345.01.02.987",
    "urn:epc:id:upui:1234567.089456.51qIgY)%3C%26Jp3*j7'SDB",
    "urn:epc:id:pgln:1234567.89012",
    "urn:epc:class:lgtin:4012345.012345.998877",
    "urn:epc:idpat:sgtin:4012345.012345.*",
    "urn:epc:idpat:grai:4012345.12345.*",
    "urn:epc:idpat:gdti:4012345.12345.*",
    "urn:epc:idpat:sgcn:4012345.67890.*",
    "urn:epc:idpat:cpi:0614141.123ABC.*",
    "urn:epc:idpat:itip:4012345.012345.01.02.*",
    "urn:epc:idpat:upui:1234567.089456.*",
    "https://id.gs1.org/01/09520123456788/21/12345",
    "https://example.com/gtin/9520123456788/lot/ABC/ser/12345?17=201231",
    "https://example.com/01/09520123456788/22/2A/10/ABC",
    "http://id.gs1.org/414/9520123456788/254/7",
    "https://id.gs1.org/00/395201234567891238",
    "https://example.org/8004/401234599999",
    "https://id.gs1.org/01/12345670/21/1",
    "https://id.gs1.org/01/09520123456788/21/a%2Fb",  # an escaped serial is no canonical form
    "https://example.com/things/1",
    "urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6",
    "geo:47.506694,11.104301",
    "urn:epc:id:sgtin:0614141.112345",  # no serial
    "urn:epc:id:sgtin:0614141.12345.400",  # 12 digits where GTIN needs 13
]


@pytest.mark.parametrize("identifier", IDENTIFIERS)
def test_identifiers_are_canonicalised_as_the_reference_does(identifier: str) -> None:
    event = an_event(epcList=[identifier], readPoint={"id": identifier})
    pre_hashes, hashes = oracle(document_of(event))
    assert pre_hash_string(event) == pre_hashes[0]
    assert event_hash_id(event) == hashes[0]


def test_epc_uris_become_constrained_canonical_digital_link() -> None:
    event = an_event(
        epcList=["urn:epc:id:sgtin:0614141.112345.400", "urn:epc:id:sscc:0614141.1234567890"],
        quantityList=[{"epcClass": "urn:epc:class:lgtin:4012345.012345.998877", "quantity": 2}],
        readPoint={"id": "https://example.com/gtin/9520123456788/lot/ABC/ser/12?17=201231"},
    )
    pre_hash = pre_hash_string(event)
    assert "epc=https://id.gs1.org/00/106141412345678908" in pre_hash
    assert "epc=https://id.gs1.org/01/10614141123459/21/400" in pre_hash
    assert "epcClass=https://id.gs1.org/01/04012345123456/10/998877quantity=2" in pre_hash
    assert "readPointid=https://id.gs1.org/01/09520123456788/21/12" in pre_hash


# --- Where we follow the reference rather than the standard's text --------------------------

FOLLOWING_THE_REFERENCE = {
    # bizTransactionList, sourceList, destinationList after sensorElementList, sorted with ilmd
    "lists-after-sensors": an_event(
        bizTransactionList=[{"type": "po", "bizTransaction": "urn:epcglobal:cbv:bt:1:2"}],
        sourceList=[{"type": "owning_party", "source": "urn:epc:id:pgln:4012345.00225"}],
        sensorElementList=[{"sensorReport": [{"type": "Temperature", "value": 26.0}]}],
        ilmd={"ex:lot": "7"},
    ),
    "undeclared-curie-kept": an_event(
        sensorElementList=[{"sensorReport": [{"type": "gs1:Temperature", "component": "x"}]}]
    ),
    "extension-value-takes-vocabulary": an_event(bizStep="receiving", **{"ex:step": "receiving"}),
    "boolean-reads-True": an_event(
        sensorElementList=[{"sensorReport": [{"type": "Humidity", "booleanValue": True}]}]
    ),
    "numbers-through-float": an_event(
        quantityList=[{"epcClass": "urn:epc:class:lgtin:4012345.012345.1", "quantity": 2.50}],
        **{"ex:code": "0023.50", "ex:big": "1e3", "ex:zip": "01234"},
    ),
    "half-even-milliseconds": an_event(eventTime="2023-01-18T11:04:03.1425Z"),
    "namespace-without-slash": an_event(
        readPoint={"id": "urn:epc:id:sgln:4012345.00011.0", "noslash:note": "a"}
    ),
    "comment-skipped": an_event(comment="not hashed", **{"rdfs:comment": "nor this"}),
    "cbv-urns": an_event(
        bizStep="urn:epcglobal:cbv:bizstep:shipping",
        disposition="urn:epcglobal:cbv:disp:in_transit",
    ),
}


@pytest.mark.parametrize("event", FOLLOWING_THE_REFERENCE.values(), ids=FOLLOWING_THE_REFERENCE)
def test_where_the_reference_differs_from_the_standard_we_follow_it(event: dict[str, Any]) -> None:
    prefixes = {"ex": "http://ns.example.com/epcis/", "noslash": "http://ns.example.com/x"}
    pre_hashes, hashes = oracle(document_of(event, prefixes=prefixes))
    context: list[str | dict[str, str]] = [GS1_CONTEXT, prefixes]
    assert pre_hash_string(event, context) == pre_hashes[0]
    assert event_hash_id(event, context) == hashes[0]


def test_the_list_fields_come_after_sensor_elements_in_alphabetical_order() -> None:
    pre_hash = pre_hash_string(
        FOLLOWING_THE_REFERENCE["lists-after-sensors"], {"ex": "http://ns.example.com/epcis/"}
    )
    sections = ["sensorElementList", "bizTransactionList", "ilmd", "sourceList"]
    assert [pre_hash.index(s) for s in sections] == sorted(pre_hash.index(s) for s in sections)
    assert "bizTransactionListtype=https://ref.gs1.org/cbv/BTT-pobizTransaction=" in pre_hash


def test_a_biz_transaction_without_type_hashes_where_the_reference_fails() -> None:
    event = an_event(bizTransactionList=[{"bizTransaction": "urn:epcglobal:cbv:bt:1:2"}])
    assert pre_hash_string(event).endswith(
        "bizTransactionListbizTransaction=urn:epcglobal:cbv:bt:1:2"
    )
    with pytest.raises(IndexError):
        oracle(document_of(event))


# --- Properties -------------------------------------------------------------------------------


def _shuffled(value: Any, rnd: random.Random) -> Any:
    """``value`` with every object's keys and every list in a random order."""
    if isinstance(value, dict):
        items = list(value.items())
        rnd.shuffle(items)
        return {key: _shuffled(item, rnd) for key, item in items}
    if isinstance(value, list):
        items = [_shuffled(item, rnd) for item in value]
        rnd.shuffle(items)
        return items
    return value


@pytest.mark.parametrize(("path", "index"), EXAMPLE_EVENTS)
@settings(max_examples=10, deadline=None)
@given(rnd=st.randoms(use_true_random=False))
def test_key_order_and_list_order_do_not_change_the_hash(
    path: Path, index: int, rnd: random.Random
) -> None:
    """Every list is sorted by the algorithm, so any order of keys and of list elements hashes
    the same. (The reference itself keeps the JSON order of a bizTransaction's type and id.)"""
    document = _load(path)
    event = _events(document)[index]
    shuffled = _shuffled(event, rnd)
    assert event_hash_id(shuffled, document["@context"]) == event_hash_id(
        event, document["@context"]
    )


def _full_event() -> tuple[dict[str, Any], Any]:
    document = _load(DATA / "object_event_all_possible_fields.jsonld")
    return _events(document)[0], document["@context"]


MUTATIONS: dict[str, Callable[[dict[str, Any]], None]] = {
    "epc-serial": lambda e: e.update(epcList=["urn:epc:id:sgtin:0614141.107346.2019"]),
    "event-time-1ms": lambda e: e.update(eventTime="2005-04-05T02:33:31.117Z"),
    "time-zone-offset": lambda e: e.update(eventTimeZoneOffset="-05:00"),
    "biz-step": lambda e: e.update(bizStep="shipping"),
    "quantity": lambda e: e["quantityList"][0].update(quantity=201),
    "uom": lambda e: e["quantityList"][0].update(uom="LBR"),
    "read-point": lambda e: e.update(readPoint={"id": "urn:epc:id:sgln:0012345.11111.401"}),
    "biz-transaction-type": lambda e: e["bizTransactionList"][0].update(type="inv"),
    "source-id": lambda e: e["sourceList"][0].update(source="urn:epc:id:sgln:4012345.00225.1"),
    "sensor-value": lambda e: e["sensorElementList"][0]["sensorReport"][0].update(value=26.1),
    "sensor-extension": lambda e: e["sensorElementList"][0]["sensorReport"][0].update(
        {"ext1:someFurtherReportData": "otherText"}
    ),
    "ilmd-value": lambda e: e["ilmd"].update({"cbvmda:lotNumber": "ABC124"}),
    "extension-value": lambda e: e.update({"ext1:string": "strinG"}),
    "extension-added": lambda e: e.update({"ext1:new": "1"}),
    "field-removed": lambda e: e.pop("bizLocation"),
    "field-added": lambda e: e.update(transformationID="urn:uuid:0"),
}


def test_every_change_of_a_hashed_value_changes_the_hash() -> None:
    event, context = _full_event()
    hashes = {"original": event_hash_id(event, context)}
    for name, mutate in MUTATIONS.items():
        changed = copy.deepcopy(event)
        mutate(changed)
        hashes[name] = event_hash_id(changed, context)
    assert len(set(hashes.values())) == len(hashes), hashes


def test_event_id_record_time_and_error_declaration_are_not_hashed() -> None:
    """An error declaration keeps the hash of the event it declares erroneous."""
    event, context = _full_event()
    declared = copy.deepcopy(event) | {
        "eventID": "urn:uuid:00000000-0000-0000-0000-000000000000",
        "recordTime": "2030-01-01T00:00:00Z",
        "errorDeclaration": {"declarationTime": "2030-01-01T00:00:00Z", "reason": "did_not_occur"},
    }
    assert event_hash_id(declared, context) == event_hash_id(event, context)


SAME_INSTANT = [
    "2020-03-04T11:00:30.000+01:00",
    "2020-03-04T10:00:30Z",
    "2020-03-04T10:00:30.000+00:00",
    "2020-03-04T05:00:30-05:00",
    "2020-03-04T15:30:30.0004+05:30",
    "2020-03-04T10:00:29.9996Z",
]


@pytest.mark.parametrize("event_time", SAME_INSTANT)
def test_time_offsets_normalise_to_utc_milliseconds(event_time: str) -> None:
    event = an_event(eventTime=event_time)
    assert "eventTime=2020-03-04T10:00:30.000Z" in pre_hash_string(event)
    assert event_hash_id(event) == event_hash_id(an_event(eventTime=SAME_INSTANT[0]))
    if not event_time.endswith("29.9996Z"):  # the reference fails on a carry into the second
        assert event_hash_id(event) == oracle(document_of(event))[1][0]


# --- Malformed events ---------------------------------------------------------------------------

MALFORMED: dict[str, tuple[Any, str]] = {
    "not-an-object": ([], r"event: expected a JSON object, got list"),
    "unknown-type": (an_event(type="FooEvent"), r"event\.type: expected one of \[.*got 'FooEvent'"),
    "no-event-time": (
        {k: v for k, v in an_event().items() if k != "eventTime"},
        r"event\.eventTime: expected an ISO 8601 time with offset$",
    ),
    "event-time-without-offset": (
        an_event(eventTime="2020-03-04T11:00:30"),
        r"event\.eventTime: expected an ISO 8601 time with offset, got '2020-03-04T11:00:30'",
    ),
    "event-time-not-a-time": (
        an_event(eventTime="yesterday"),
        r"event\.eventTime: expected an ISO 8601 time with offset, got 'yesterday'",
    ),
    "sensor-time-not-a-time": (
        an_event(sensorElementList=[{"sensorReport": [{"type": "Speed", "time": "noon"}]}]),
        r"event\.sensorElementList\[0\]\.sensorReport\[0\]\.time: expected an ISO 8601 time",
    ),
    "null-value": (
        an_event(bizStep=None),
        r"event\.bizStep: expected a string, number or boolean, got null",
    ),
    "nested-list": (
        an_event(epcList=[["urn:epc:id:sgtin:4012345.011111.987"]]),
        r"event\.epcList\[0\]: expected a value or an object, got a nested list",
    ),
    "biz-transaction-without-id": (
        an_event(bizTransactionList=[{"type": "po"}]),
        r"event\.bizTransactionList\[0\]: expected an object with 'bizTransaction'",
    ),
    "source-with-extra-field": (
        an_event(sourceList=[{"type": "location", "source": "urn:x", "note": "?"}]),
        r"event\.sourceList\[0\]: expected only 'type' and 'source', got 'note'",
    ),
    "nested-too-deep": (
        an_event(**{"ex:x": json.loads('{"a":' * 40 + "1" + "}" * 40)}),
        r"event\.ex:x(\.a)+: expected at most 32 levels of nesting",
    ),
}


@pytest.mark.parametrize(("event", "message"), MALFORMED.values(), ids=MALFORMED)
def test_a_malformed_event_raises_a_value_error_naming_the_field(event: Any, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{message}") as caught:
        event_hash_id(event)
    assert isinstance(caught.value, EPCISFormatError)
    assert isinstance(caught.value, FormatError)  # the verifier's error root


def test_errors_in_a_document_name_the_event() -> None:
    document = document_of(an_event(), an_event(), an_event(), an_event(eventTime="2020-03-04"))
    expected = (
        r"^eventList\[3\]\.eventTime: expected an ISO 8601 time with offset, got '2020-03-04'"
    )
    with pytest.raises(ValueError, match=expected):
        event_hash_ids(document)
    with pytest.raises(ValueError, match=r"^epcisBody: expected a JSON object"):
        event_hash_ids({"type": "EPCISDocument"})


# --- GS1's JSON schema --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    """GS1's schema, from the file: it declares draft 07 and has only local ``$ref``s, and
    jsonschema resolves no remote reference unless given a registry that retrieves."""
    schema = json.loads((DATA / "EPCIS-JSON-Schema.json").read_text())
    cls = jsonschema.validators.validator_for(schema)
    assert cls is jsonschema.Draft7Validator
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_the_stored_examples_are_valid_epcis_documents(
    validator: jsonschema.protocols.Validator, path: Path
) -> None:
    errors = [f"{e.json_path}: {e.message}" for e in validator.iter_errors(_load(path))]
    assert errors == []


def test_the_schema_rejects_a_broken_document(validator: jsonschema.protocols.Validator) -> None:
    document = _load(DATA / "Example_9.6.1-ObjectEvent.jsonld")
    _events(document)[0]["action"] = "FOO"
    del _events(document)[1]["eventTime"]
    assert len(list(validator.iter_errors(document))) >= 2


@pytest.mark.parametrize("kind", [[], {}, 1, None, "ObjectEvents"])
def test_an_event_type_that_is_not_a_known_name_is_a_format_error(kind: object) -> None:
    """Was a TypeError (unhashable list) instead of a format error."""
    with pytest.raises(EPCISFormatError, match=r"event\.type: expected one of"):
        event_hash_id({"type": kind, "eventTime": "2020-01-01T00:00:00Z"})
