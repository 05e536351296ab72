"""The typed, versioned record schemas over HTTP: a minimal valid record of every schema is
accepted when signed by an allowed role with an allowed meaning (a legacy schema, read but no
longer accepted for new records, is refused naming why); a record that breaks its
schema (shape, enums, consistency rules, GS1 check digit, explicit time zones, workflow step
fields, corrections) is refused with 422 naming the field, and nothing is stored.

One ledger serves the whole module; every case uses its own record ids."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from evledger_verify.records import record_hash
from fastapi.testclient import TestClient

from ledger.domain.schemas import SCHEMAS
from ledger.genealogy import scope_sha256
from ledger.runtime import Runtime
from tests.helpers import (
    DROP,
    GTIN,
    admin,
    bearer,
    calibration,
    change,
    changed,
    equipment,
    fresh,
    inspection,
    record_count,
    sign,
    specification,
    supplier,
)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.req("SCH-1", "P11-10e-2", "P11-10e-4", "CFR830-1"),
]

NOW = "2026-11-22T08:00:00Z"
# -- one ledger for the module (replicates tests/conftest.py's runtime at module scope) -------


@pytest.fixture(scope="module")
def runtime(module_runtime: Runtime) -> Runtime:
    return module_runtime


@pytest.fixture(scope="module")
def client(module_client: TestClient) -> TestClient:
    return module_client


@pytest.fixture(scope="module")
def signers(
    client: TestClient, runtime: Runtime, module_specs: Any
) -> dict[str, LocalAccount]:
    """One signer per role (the bootstrap admin for "admin"), on a ledger holding the master
    data the inspections cite."""
    out = {"admin": admin(runtime)}
    for role in ("qa_inspector", "qa_approver", "production", "device", "auditor", "system"):
        account: LocalAccount = Account.create()
        record = {
            "record_id": f"signer-{role}", "type": "signer", "schema": "signer/1",
            "action": "grant", "address": account.address, "name": f"Test {role}",
            "roles": [role],
        }
        resp = client.post("/v1/records", json=sign(runtime, record, out["admin"], "approved"))
        assert resp.status_code == 201, resp.text
        out[role] = account
    return out


def post(
    client: TestClient, runtime: Runtime, record: dict[str, Any], account: LocalAccount,
    meaning: str,
) -> httpx.Response:
    return client.post("/v1/records", json=sign(runtime, record, account, meaning))


# -- minimal valid records --------------------------------------------------------------------


def _release() -> dict[str, Any]:
    return {
        "record_id": fresh("REL"), "type": "release", "schema": "release/1",
        "lot": fresh("LOT-S"), "product": {"gtin": GTIN}, "decision": "rejected",
        "evidence": [], "statement": "Rejected: DHR incomplete",
    }


def _ncr(step: str = "open", **fields: Any) -> dict[str, Any]:
    return {
        "record_id": fresh("NCR-R"), "type": "ncr", "schema": "ncr/1", "ncr_id": fresh("NCR"),
        "lot": fresh("LOT-S"), "step": step, **fields,
    }


def _capa(step: str = "open", **fields: Any) -> dict[str, Any]:
    return {
        "record_id": fresh("CAPA-R"), "type": "capa", "schema": "capa/1",
        "capa_id": fresh("CAPA"), "step": step, **fields,
    }


def _change(step: str = "requested", **fields: Any) -> dict[str, Any]:
    return {
        "record_id": fresh("CHG-R"), "type": "change", "schema": "change/1",
        "change_id": fresh("CHG"), "step": step, **fields,
    }


def _scan(**fields: Any) -> dict[str, Any]:
    return {
        "record_id": fresh("SCAN"), "type": "scan", "schema": "scan/1", "station": "dock 1",
        "operation": "receive", "gs1": {"gtin": GTIN}, "scanned_at": NOW, **fields,
    }


def _reading(**fields: Any) -> dict[str, Any]:
    return {
        "record_id": fresh("PR"), "type": "process_reading", "schema": "process_reading/1",
        "tag": "press3.die_temp", "value": 182.5, "unit": "degC", "read_at": NOW, **fields,
    }


def _alert() -> dict[str, Any]:
    return {
        "record_id": fresh("ALERT"), "type": "alert", "schema": "alert/1",
        "alert_id": fresh("A"), "source": "plc", "severity": "info",
        "description": "Die temperature near its upper limit",
    }


def _signer() -> dict[str, Any]:
    return {
        "record_id": fresh("signer"), "type": "signer", "schema": "signer/1", "action": "grant",
        "address": Account.create().address, "name": "New Inspector", "roles": ["qa_inspector"],
    }


def _correction(target: dict[str, Any], *changes: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {
        "record_id": fresh("CORR"), "type": "correction", "schema": "correction/1",
        "corrects": target["record_id"], "lot": target.get("lot"),
        "reason": "Transcription error: the report reads 50",
        "changes": list(changes) or [{"path": "/sample_size", "value": 50}], **fields,
    }


def _recall() -> dict[str, Any]:
    """A drill of a lot nothing was made from, at log size 0: its scope is fixed by the format
    (so this also pins the scope format that recall records sign)."""
    lot = fresh("LOT-RC")
    scope = {
        "format": "evledger-recall-scope/1", "origin": {"lot": lot}, "origin_lots": [lot],
        "tree_size": 0,
        "lots": [{"lot": lot, "depth": 0, "gtin": None, "product": None, "state": "unreleased",
                  "made_from": []}],
        "shipments": [], "consignees": [], "truncated": None, "cycles": [],
    }
    return {
        "record_id": fresh("RECALL"), "type": "recall", "schema": "recall/1",
        "recall_id": fresh("RC"), "lot": lot, "drill": True, "reason": "Quarterly drill",
        "tree_size": 0, "scope_sha256": scope_sha256(scope), "lots": 1, "shipments": 0,
        "consignees": 0, "computed_at": "2026-11-30T08:00:00Z",
    }


def _epcis_event() -> dict[str, Any]:
    """A shipping ObjectEvent captured from an MES, as the capture route makes it a record."""
    from evledger_verify.epcis import epcis_record

    event = {
        "type": "ObjectEvent", "eventTime": "2026-11-30T08:00:00+01:00",
        "eventTimeZoneOffset": "+01:00", "action": "OBSERVE", "bizStep": "shipping",
        "quantityList": [{"epcClass": f"https://id.gs1.org/01/{GTIN}/10/{fresh('L')}"}],
    }
    return epcis_record(event)


def _inspection_v1() -> dict[str, Any]:
    """An inspection as first defined: its own limits, no specification, no instruments."""
    record = changed(inspection(fresh("INS"), fresh("LOT-S")), schema="inspection/1",
                     specification=DROP)
    for c in record["characteristics"]:
        del c["equipment"]
    return record


def _specification() -> dict[str, Any]:
    """A first version of a new specification (its change is requested in the test)."""
    sid = fresh("SPEC-S")
    return {**specification(), "record_id": f"{sid}-v1", "spec_id": sid,
            "change_id": f"CHG-{sid}"}


#: schema -> (make a valid record, signing role, meaning)
#: The record each example review co-signs (logged first by _preconditions).
_REVIEWED: dict[str, dict[str, Any]] = {}


def _review() -> dict[str, Any]:
    target = inspection(fresh("INS"), fresh("LOT-S"))
    rid = fresh("REV")
    _REVIEWED[rid] = target
    return {"record_id": rid, "type": "review", "schema": "review/1",
            "reviews": target["record_id"], "record_hash": record_hash(target).hex(),
            "lot": target["lot"], "statement": "Second approver concurs"}


def _after(rtype: str, **fields: Any) -> Callable[[], dict[str, Any]]:
    """A record about a lot the ledger knows (_preconditions logs an inspection of it)."""
    def make() -> dict[str, Any]:
        rid = fresh(rtype.upper())
        _REVIEWED[rid] = inspection(fresh("INS"), fresh("LOT-S"))
        return {"record_id": rid, "type": rtype, "schema": f"{rtype}/1",
                "lot": _REVIEWED[rid]["lot"], **fields}
    return make


VALID: dict[str, tuple[Callable[[], dict[str, Any]], str, str]] = {
    "inspection/2": (lambda: inspection(fresh("INS"), fresh("LOT-S")), "qa_inspector",
                     "authored"),
    "specification/1": (_specification, "qa_inspector", "authored"),
    "equipment/1": (lambda: equipment(fresh("EQ-S")), "qa_inspector", "authored"),
    "calibration/1": (lambda: calibration(fresh("CAL-S"), fresh("EQ-S")), "qa_inspector",
                      "verified"),
    "supplier/1": (lambda: supplier(fresh("SUP-R"), fresh("SUP")), "qa_approver", "approved"),
    "release/1": (_release, "qa_approver", "released"),
    "ncr/1": (lambda: _ncr(nature="Tip length above the limit"), "production", "authored"),
    "capa/1": (lambda: _capa(problem="Worn dies produce long tips"), "qa_inspector", "authored"),
    "change/1": (lambda: _change(reason="Die wear undetected", description="Add a counter"),
                 "production", "authored"),
    "scan/1": (_scan, "device", "recorded"),
    "process_reading/1": (_reading, "device", "recorded"),
    "alert/1": (_alert, "qa_inspector", "authored"),
    "signer/1": (_signer, "admin", "approved"),
    "review/1": (_review, "qa_approver", "approved"),
    "training/1": (lambda: {"record_id": fresh("TRN"), "type": "training",
                            "schema": "training/1", "person": "E-1042",
                            "task": "final inspection", "result": "qualified",
                            "completed_at": "2026-01-10T09:00:00Z",
                            "evidence": "Course QA-101, assessment passed"},
                   "qa_approver", "verified"),
    "complaint/1": (_after("complaint", complaint_id="CMP-1", received_at="2026-11-30T08:00:00Z",
                           source="Hospital North", description="Kinked tip"),
                    "qa_inspector", "authored"),
    "hold/1": (_after("hold", hold_id="HOLD-1", action="placed", reason="Complaint trend"),
               "qa_inspector", "authored"),
    "field_action/1": (_after("field_action", field_action_id="FA-1", kind="removal",
                              reason="Sterility in doubt"), "qa_approver", "approved"),
    "recall/1": (_recall, "qa_inspector", "authored"),
    "epcis_event/1": (_epcis_event, "system", "recorded"),
    "correction/1": (lambda: {}, "qa_inspector", "authored"),  # built in the test
    "validation/1": (lambda: _validation(), "auditor", "recorded"),
}
#: Schemas still read (records logged before specifications) but refused for new records:
#: schema -> (make a record, signing role, meaning, fragment of the refusal).
LEGACY: dict[str, tuple[Callable[[], dict[str, Any]], str, str, str]] = {
    "inspection/1": (_inspection_v1, "qa_inspector", "authored", "cites no specification"),
}


def test_every_schema_has_an_example() -> None:
    assert not set(VALID) & set(LEGACY)
    assert set(VALID) | set(LEGACY) == set(SCHEMAS)


def _preconditions(
    client: TestClient, runtime: Runtime, signers: dict[str, LocalAccount],
    record: dict[str, Any],
) -> None:
    """What master data needs logged first: the change naming a specification version, the
    instrument a calibration is of."""
    if record["type"] == "specification":
        ref = {"spec_id": record["spec_id"], "version": record["version"]}
        requested = change(record["change_id"], "requested", specifications=[ref])
        resp = post(client, runtime, requested, signers["qa_inspector"], "authored")
        assert resp.status_code == 201, resp.text
    if record["type"] == "calibration":
        unit = equipment(record["equipment_id"])
        resp = post(client, runtime, unit, signers["qa_inspector"], "authored")
        assert resp.status_code == 201, resp.text
    if record["type"] in ("review", "complaint", "hold", "field_action"):
        target = _REVIEWED[record["record_id"]]
        resp = post(client, runtime, target, signers["qa_inspector"], "authored")
        assert resp.status_code == 201, resp.text


@pytest.mark.parametrize("schema", VALID)
def test_minimal_valid_record_is_accepted(
    client: TestClient, runtime: Runtime, signers: dict[str, LocalAccount], schema: str
) -> None:
    make, role, meaning = VALID[schema]
    if schema == "correction/1":
        target = inspection(fresh("INS"), fresh("LOT-S"))
        assert post(client, runtime, target, signers[role], "authored").status_code == 201
        record = _correction(target)
    else:
        record = make()
        _preconditions(client, runtime, signers, record)
    assert record["schema"] == schema
    before = record_count(client)
    resp = post(client, runtime, record, signers[role], meaning)
    assert resp.status_code == 201, resp.text
    assert resp.json()["status"] == "accepted"
    assert record_count(client) == before + 1
    assert client.get(f"/v1/records/{record['record_id']}/receipt").status_code in (200, 202)
    view = client.get(f"/v1/records/{record['record_id']}",
                      headers=bearer(runtime, signers["qa_inspector"]))
    assert view.status_code == 200, view.text
    assert view.json()["current"] == record
    assert view.json()["signature"]["meaning"] == meaning
    if schema == "correction/1":
        corrected = client.get(f"/v1/records/{target['record_id']}",
                               headers=bearer(runtime, signers["qa_inspector"])).json()
        assert corrected["current"]["sample_size"] == 50
        assert corrected["original"]["sample_size"] == 32
        assert corrected["history"][0]["reason"] == record["reason"]


@pytest.mark.parametrize("schema", LEGACY)
def test_legacy_schema_is_refused_for_new_records(
    client: TestClient, runtime: Runtime, signers: dict[str, LocalAccount], schema: str
) -> None:
    """inspection/1 is a valid record of its schema, but a new inspection must cite the
    specification in force (inspection/2): 409, naming why, and nothing stored."""
    make, role, meaning, fragment = LEGACY[schema]
    record = make()
    assert record["schema"] == schema
    before = record_count(client)
    resp = post(client, runtime, record, signers[role], meaning)
    assert_refused(client, resp, before, record["record_id"], 409, "conflict", (fragment,))


def test_released_lot_with_passing_final_inspection(
    client: TestClient, runtime: Runtime, signers: dict[str, LocalAccount]
) -> None:
    final = inspection(fresh("FQC"), fresh("LOT-S"))
    assert post(client, runtime, final, signers["qa_inspector"], "authored").status_code == 201
    release = {**_release(), "lot": final["lot"], "decision": "released",
               "evidence": [{"record_id": final["record_id"],
                             "record_hash": record_hash(final).hex()}]}
    resp = post(client, runtime, release, signers["qa_approver"], "released")
    assert resp.status_code == 201, resp.text


# -- refusals ---------------------------------------------------------------------------------



def _ins(**changes: Any) -> dict[str, Any]:
    """An inspection with top-level changes (DROP removes the key)."""
    return changed(inspection(fresh("INS"), fresh("LOT-S")), **changes)


def _char(**changes: Any) -> dict[str, Any]:
    """An inspection whose first characteristic has ``changes``."""
    record = _ins()
    char = record["characteristics"][0]
    for key, value in changes.items():
        if value is DROP:
            del char[key]
        else:
            char[key] = value
    return record


def _without_product_gtin() -> dict[str, Any]:
    record = _ins()
    record["product"] = {"name": "Catheter"}
    return record


_INSPECTION_REQUIRED = (
    "lot", "stage", "product", "sampling_plan", "sample_size", "characteristics", "verdict",
    "inspected_at",
)

#: case -> (make the record, signing role, meaning, fragments the detail must contain)
Case = tuple[Callable[[], dict[str, Any]], str, str, tuple[str, ...]]
REFUSALS: dict[str, Case] = {
    "missing schema": (lambda: _ins(schema=DROP), "qa_inspector", "authored",
                       ("record.schema", "expected a schema id")),
    "schema not a schema id": (lambda: _ins(schema="inspection"), "qa_inspector", "authored",
                               ("record.schema",)),
    "unknown schema": (lambda: _ins(schema="widget/1", type="widget"), "qa_inspector",
                       "authored", ("record.schema", "unknown schema 'widget/1'")),
    "unknown schema version": (lambda: _ins(schema="inspection/3"), "qa_inspector", "authored",
                               ("record.schema", "unknown schema 'inspection/3'")),
    "schema and type mismatch": (lambda: _ins(type="release"), "qa_inspector", "authored",
                                 ("record.type", "is for type 'inspection'", "'release'")),
    "unknown extra field": (lambda: _ins(colour="blue"), "qa_inspector", "authored",
                            ("record.colour", "extra inputs are not permitted")),
    "unknown field in a characteristic": (lambda: _char(colour="blue"), "qa_inspector",
                                          "authored", ("record.characteristics.0.colour",)),
    "unknown field in the product": (lambda: _ins(product={"gtin": GTIN, "colour": "blue"}),
                                     "qa_inspector", "authored", ("record.product.colour",)),
    "missing record_id": (lambda: _ins(record_id=DROP), "qa_inspector", "authored",
                          ("record.record_id",)),
    "missing type": (lambda: _ins(type=DROP), "qa_inspector", "authored", ("record.type",)),
    **{
        f"inspection without {field}": (
            (lambda f=field: _ins(**{f: DROP})), "qa_inspector", "authored",
            (f"record.{field}", "field required"),
        )
        for field in _INSPECTION_REQUIRED
    },
    **{
        f"characteristic without {field}": (
            (lambda f=field: _char(**{f: DROP})), "qa_inspector", "authored",
            (f"record.characteristics.0.{field}", "field required"),
        )
        for field in ("name", "unit", "value", "verdict")
    },
    "product without gtin": (_without_product_gtin, "qa_inspector", "authored",
                             ("record.product.gtin", "field required")),
    "no characteristics": (lambda: _ins(characteristics=[]), "qa_inspector", "authored",
                           ("record.characteristics", "at least 1")),
    "sample size 0": (lambda: _ins(sample_size=0), "qa_inspector", "authored",
                      ("record.sample_size",)),
    "value above limit with verdict pass": (
        lambda: _char(value=3.2), "qa_inspector", "authored",
        ("record.characteristics.0", "outer diameter", "cannot carry a pass verdict"),
    ),
    "value below limit with verdict pass": (
        lambda: _char(value=2.5), "qa_inspector", "authored",
        ("record.characteristics.0", "cannot carry a pass verdict"),
    ),
    "overall pass with a failed characteristic": (
        lambda: _char(value=3.2, verdict="fail"), "qa_inspector", "authored",
        ("record", "verdict pass but characteristics failed: outer diameter"),
    ),
    "lower limit above upper": (
        lambda: _char(lower=3.05, upper=2.95), "qa_inspector", "authored",
        ("record.characteristics.0", "lower limit 3.05 above upper 2.95"),
    ),
    "bad GTIN check digit": (
        lambda: _ins(product={"gtin": "09506000134353"}), "qa_inspector", "authored",
        ("record.product.gtin", "09506000134353: GS1 check digit expected 2"),
    ),
    "GTIN of 11 digits": (lambda: _ins(product={"gtin": "95060001343"}), "qa_inspector",
                          "authored", ("record.product.gtin",)),
    "bad GTIN check digit on a release": (
        lambda: {**_release(), "product": {"gtin": "09506000134353"}}, "qa_approver",
        "released", ("record.product", "check digit expected 2"),
    ),
    "naive inspected_at": (lambda: _ins(inspected_at="2026-11-22T08:00:00"), "qa_inspector",
                           "authored", ("record.inspected_at", "timezone")),
    "naive scanned_at": (lambda: _scan(scanned_at="2026-11-22T08:00:00"), "device",
                         "recorded", ("record.scanned_at", "timezone")),
    "naive read_at": (lambda: _reading(read_at="2026-11-22T08:00:00"), "device", "recorded",
                      ("record.read_at", "timezone")),
    "not a datetime": (lambda: _ins(inspected_at="yesterday"), "qa_inspector", "authored",
                       ("record.inspected_at",)),
    "bad stage": (lambda: _ins(stage="packaging"), "qa_inspector", "authored",
                  ("record.stage", "'incoming', 'in_process' or 'final'")),
    "bad verdict": (lambda: _ins(verdict="ok"), "qa_inspector", "authored",
                    ("record.verdict",)),
    "bad characteristic verdict": (lambda: _char(verdict="ok"), "qa_inspector", "authored",
                                   ("record.characteristics.0.verdict",)),
    "bad decision": (lambda: {**_release(), "decision": "approved"}, "qa_approver", "released",
                     ("record.decision", "'released', 'rejected' or 'quarantined'")),
    "bad disposition": (
        lambda: _ncr(nature="x", disposition="destroy"), "production", "authored",
        ("record.disposition", "'rework', 'scrap', 'use_as_is' or 'return'"),
    ),
    "bad operation": (lambda: _scan(operation="return"), "device", "recorded",
                      ("record.operation", "'receive', 'consume', 'produce', 'pack' or 'ship'")),
    "consume without the material's lot": (
        lambda: _scan(operation="consume", lot="P-1"), "device", "recorded",
        ("a consume scan needs gs1.lot",)),
    "consume of a lot into itself": (
        lambda: _scan(operation="consume", lot="P-1", gs1={"gtin": GTIN, "lot": "P-1"}),
        "device", "recorded", ("cannot consume lot P-1 into itself",)),
    "produce without a lot": (lambda: _scan(operation="produce"), "device", "recorded",
                              ("a produce scan needs a lot",)),
    "ship without consignee": (
        lambda: _scan(operation="ship", lot="P-1"), "device", "recorded",
        ("a ship scan needs consignee",)),
    "pack without pallet": (lambda: _scan(operation="pack", lot="P-1"), "device", "recorded",
                            ("a pack scan needs pallet",)),
    "supplier on a ship scan": (
        lambda: _scan(operation="ship", lot="P-1", consignee="C", supplier="S"), "device",
        "recorded", ("a ship scan cannot carry supplier",)),
    "pallet without its check digit": (
        lambda: _scan(operation="pack", lot="P-1", pallet="009506000100000010"), "device",
        "recorded", ("GS1 check digit expected",)),
    "bad ncr step": (lambda: _ncr(step="reopened", nature="x"), "production", "authored",
                     ("record.step",)),
    "bad alert severity": (lambda: {**_alert(), "severity": "fatal"}, "qa_inspector", "authored",
                           ("record.severity",)),
    "ncr open without nature": (lambda: _ncr(), "production", "authored",
                                ("record", "ncr step open needs nature")),
    "ncr evaluated without investigation": (
        lambda: _ncr("evaluated", evaluation="480 units"), "qa_inspector", "reviewed",
        ("record", "ncr step evaluated needs investigation"),
    ),
    "ncr dispositioned without disposition": (
        lambda: _ncr("dispositioned", rationale="Tips can be re-formed"), "qa_approver",
        "approved", ("record", "ncr step dispositioned needs disposition"),
    ),
    "ncr closed without summary": (lambda: _ncr("closed"), "qa_approver", "approved",
                                   ("record", "ncr step closed needs summary")),
    "capa cancelled without reason": (lambda: _capa("cancelled"), "qa_approver", "approved",
                                      ("record", "capa step cancelled needs reason")),
    "capa cancelled with a short reason": (
        lambda: _capa("cancelled", reason="dup"), "qa_approver", "approved",
        ("record.reason", "at least 5 characters"),
    ),
    "capa effectiveness check without result": (
        lambda: _capa("effectiveness_check", effective=True, no_adverse_effect=True),
        "qa_approver", "verified", ("record", "needs result"),
    ),
    "change requested without reason": (
        lambda: _change(description="Add a counter"), "production", "authored",
        ("record", "change step requested needs reason"),
    ),
    "change requested with a short reason": (
        lambda: _change(reason="wear", description="Add a counter"), "production", "authored",
        ("record.reason", "at least 5 characters"),
    ),
    "process reading value not a number": (lambda: _reading(value="hot"), "device",
                                           "recorded", ("record.value",)),
    "scan gtin of 13 digits": (lambda: _scan(gs1={"gtin": "9506000134352"}), "device",
                               "recorded", ("record.gs1.gtin",)),
    "signer with an unknown role": (
        lambda: {**_signer(), "roles": ["superuser"]}, "admin", "approved",
        ("roles", "superuser"),
    ),
}


def _validation(**over: Any) -> dict[str, Any]:
    return {"record_id": fresh("VAL"), "type": "validation", "schema": "validation/1",
            "validation_id": fresh("OQ"), "kind": "oq-pack", "sha256": "ab" * 32,
            "outcome": "passed", "summary": {"passed": 12, "failed": 0, "skipped": 0},
            "software": "evledger 0.1.0", "git_commit": "0123abc",
            "description": "Operational qualification pack", **over}


REFUSALS.update({
    "validation passed with failures": (
        lambda: _validation(summary={"passed": 11, "failed": 1}), "auditor", "recorded",
        ("record", "'passed' with 1 failed"),
    ),
    "validation of an unknown kind": (lambda: _validation(kind="pq"), "auditor", "recorded",
                                      ("record.kind",)),
    "validation with a lot": (lambda: _validation(lot="LOT-1"), "auditor", "recorded",
                              ("record.lot",)),
    "validation with a negative count": (
        lambda: _validation(summary={"passed": -1}), "auditor", "recorded",
        ("never negative",)),
})


def assert_refused(
    client: TestClient, resp: httpx.Response, before: int, record_id: str, status: int,
    error: str, fragments: tuple[str, ...],
) -> None:
    assert resp.status_code == status, f"{resp.status_code}: {resp.text}"
    body = resp.json()
    assert body["error"] == error, body
    for fragment in fragments:
        assert fragment.lower() in body["detail"].lower(), (fragment, body["detail"])
    assert record_count(client) == before
    assert client.get(f"/v1/records/{record_id}/receipt").status_code == 404


@pytest.mark.parametrize("case", REFUSALS)
def test_invalid_record_is_refused(
    client: TestClient, runtime: Runtime, signers: dict[str, LocalAccount], case: str
) -> None:
    make, role, meaning, fragments = REFUSALS[case]
    record = make()
    rid = record.get("record_id") or fresh("NO-ID")
    before = record_count(client)
    resp = post(client, runtime, record, signers[role], meaning)
    assert_refused(client, resp, before, rid, 422, "invalid_record", fragments)


# -- corrections ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def target(
    client: TestClient, runtime: Runtime, signers: dict[str, LocalAccount]
) -> dict[str, Any]:
    """A stored, passing inspection that the correction cases try to correct."""
    record = inspection(fresh("INS-T"), fresh("LOT-T"))
    resp = post(client, runtime, record, signers["qa_inspector"], "authored")
    assert resp.status_code == 201, resp.text
    return record


def _drop(record: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k != key}


#: case -> (make the correction of ``target``, status, error, fragments)
CorrectionCase = tuple[Callable[[dict[str, Any]], dict[str, Any]], int, str, tuple[str, ...]]
CORRECTIONS: dict[str, CorrectionCase] = {
    "without reason": (lambda t: _drop(_correction(t), "reason"), 422, "invalid_record",
                       ("record.reason", "field required")),
    "with a short reason": (lambda t: _correction(t, reason="typo"), 422, "invalid_record",
                            ("record.reason", "at least 5 characters")),
    "with an empty changes list": (lambda t: {**_correction(t), "changes": []}, 422,
                                   "invalid_record", ("record.changes", "at least 1 item")),
    "without changes": (lambda t: _drop(_correction(t), "changes"), 422, "invalid_record",
                        ("record.changes", "field required")),
    "path not a JSON pointer": (
        lambda t: _correction(t, {"path": "sample_size", "value": 50}), 422, "invalid_record",
        ("record.changes.0.path",),
    ),
    "path not in the original": (
        lambda t: _correction(t, {"path": "/sample_sise", "value": 50}), 422, "invalid_record",
        ("correction path /sample_sise", "no such field in the original"),
    ),
    "nested path not in the original": (
        lambda t: _correction(t, {"path": "/product/name", "value": "Catheter"}), 422,
        "invalid_record", ("correction path /product/name", "no such field"),
    ),
    "list index beyond the original": (
        lambda t: _correction(t, {"path": "/characteristics/3/value", "value": 3.0}), 422,
        "invalid_record", ("correction path /characteristics/3/value", "no element 3"),
    ),
    **{
        f"of {field}": (
            (lambda t, f=field: _correction(t, {"path": f"/{f}", "value": "X-1"})), 422,
            "invalid_record", (f"correction path /{field}", f"{field} cannot be corrected"),
        )
        for field in ("record_id", "type", "schema", "lot")
    },
    "one good change and one forbidden": (
        lambda t: _correction(t, {"path": "/sample_size", "value": 50},
                              {"path": "/lot", "value": "LOT-OTHER"}),
        422, "invalid_record", ("lot cannot be corrected",),
    ),
    "making the value out of limits while verdict stays pass": (
        lambda t: _correction(t, {"path": "/characteristics/0/value", "value": 3.2}), 422,
        "invalid_record",
        ("would be invalid", "record.characteristics.0", "cannot carry a pass verdict"),
    ),
    "making a characteristic fail while the verdict stays pass": (
        lambda t: _correction(t, {"path": "/characteristics/0/verdict", "value": "fail"}), 422,
        "invalid_record", ("would be invalid", "verdict pass but characteristics failed"),
    ),
    "changing the stage": (
        lambda t: _correction(t, {"path": "/stage", "value": "final"}), 422,
        "invalid_record", ("stage cannot be corrected", "submit a new record instead"),
    ),
    "naming another lot": (lambda t: _correction(t, lot="LOT-OTHER"), 422, "invalid_record",
                           ("correction lot", "LOT-OTHER")),
    "without the lot": (lambda t: _drop(_correction(t), "lot"), 422, "invalid_record",
                        ("correction lot",)),
    "of a record that does not exist": (
        lambda t: _correction({**t, "record_id": "INS-NOWHERE"}), 404, "not_found",
        ("INS-NOWHERE", "not found"),
    ),
}


@pytest.mark.parametrize("case", CORRECTIONS)
def test_invalid_correction_is_refused(
    client: TestClient,
    runtime: Runtime,
    signers: dict[str, LocalAccount],
    target: dict[str, Any],
    case: str,
) -> None:
    make, status, error, fragments = CORRECTIONS[case]
    correction = make(copy.deepcopy(target))
    before = record_count(client)
    resp = post(client, runtime, correction, signers["qa_inspector"], "authored")
    assert_refused(client, resp, before, correction["record_id"], status, error, fragments)
    view = client.get(f"/v1/records/{target['record_id']}",
                      headers=bearer(runtime, signers["qa_inspector"])).json()
    assert view["current"] == target and view["history"] == [], view


@pytest.mark.parametrize("kind", ["signer", "release", "correction"])
def test_records_that_cannot_be_corrected(
    client: TestClient,
    runtime: Runtime,
    signers: dict[str, LocalAccount],
    target: dict[str, Any],
    kind: str,
) -> None:
    if kind == "signer":
        stored, role, meaning, path = _signer(), "admin", "approved", "/name"
    elif kind == "release":
        stored, role, meaning, path = _release(), "qa_approver", "released", "/statement"
    else:
        stored, role, meaning, path = _correction(target), "qa_inspector", "authored", "/reason"
    assert post(client, runtime, stored, signers[role], meaning).status_code == 201
    correction = _correction(stored, {"path": path, "value": "Corrected text here"})
    before = record_count(client)
    resp = post(client, runtime, correction, signers[role], "authored")
    assert_refused(client, resp, before, correction["record_id"], 422, "invalid_record",
                   (f"a {kind} record cannot be corrected",))


# -- schema gaps (expected to be refused; the ledger accepts them today) ----------------------


def test_numeric_string_value_outside_limits_cannot_pass(
    client: TestClient, runtime: Runtime, signers: dict[str, LocalAccount]
) -> None:
    record = _char(value="3.20")
    before = record_count(client)
    resp = post(client, runtime, record, signers["qa_inspector"], "authored")
    assert_refused(client, resp, before, record["record_id"], 422, "invalid_record",
                   ("record.characteristics.0",))


def test_scan_gtin_check_digit(
    client: TestClient, runtime: Runtime, signers: dict[str, LocalAccount]
) -> None:
    record = _scan(gs1={"gtin": "09506000134353"})
    before = record_count(client)
    resp = post(client, runtime, record, signers["device"], "recorded")
    assert_refused(client, resp, before, record["record_id"], 422, "invalid_record",
                   ("record.gs1", "check digit"))


def test_process_reading_limits_ordered(
    client: TestClient, runtime: Runtime, signers: dict[str, LocalAccount]
) -> None:
    record = _reading(lower=190, upper=175)
    before = record_count(client)
    resp = post(client, runtime, record, signers["device"], "recorded")
    assert_refused(client, resp, before, record["record_id"], 422, "invalid_record",
                   ("record",))


def test_scan_expiry_is_a_date(
    client: TestClient, runtime: Runtime, signers: dict[str, LocalAccount]
) -> None:
    record = _scan(gs1={"gtin": GTIN, "expiry": "261399"})
    before = record_count(client)
    resp = post(client, runtime, record, signers["device"], "recorded")
    assert_refused(client, resp, before, record["record_id"], 422, "invalid_record",
                   ("record.gs1.expiry",))
