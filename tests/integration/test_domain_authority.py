"""The authority matrix over HTTP, walked rule by rule: for every (record type, step) rule of
``ledger.domain.authority.MATRIX``, every meaning and every role, a record signed by a signer
holding only that role is accepted exactly when the matrix allows it, and otherwise refused
with 403 naming the rule, storing nothing (21 CFR 11.10(g): negative tests for every role).
Also: devices and auditors are refused outside their rows, revoked signers are refused, roles
are judged at the signing time, and read tokens are checked per role.

One ledger serves the whole module (hundreds of cases); every case works on its own fresh
workflow entity, lot and record ids, so cases do not interfere."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from evledger_verify.records import record_hash
from evledger_verify.tokens import token_message
from fastapi.testclient import TestClient

from ledger import genealogy
from ledger.domain.authority import MATRIX, ROLES, allowed_roles
from ledger.domain.lots import NEXT_STEPS, PROTECTED
from ledger.domain.schemas import Capa, Change, Ncr
from ledger.runtime import Runtime
from tests.helpers import (
    GTIN,
    admin,
    bearer,
    calibration,
    change,
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
    pytest.mark.req("P11-10g-1", "P11-10g-2", "P11-10h-1", "P11-10d-2", "A11-15-1", "P11-10e-2"),
]

MEANINGS = ("authored", "reviewed", "approved", "released", "verified", "recorded")
_QA_ALL = ("qa_inspector", "qa_approver")
# -- one ledger for the module (replicates tests/conftest.py's runtime at module scope) -------


@pytest.fixture(scope="module")
def runtime(module_runtime: Runtime) -> Runtime:
    return module_runtime


@pytest.fixture(scope="module")
def client(module_client: TestClient) -> TestClient:
    return module_client


def grant(
    client: TestClient,
    runtime: Runtime,
    roles: tuple[str, ...],
    name: str,
    account: LocalAccount | None = None,
    signed_at: int | None = None,
) -> LocalAccount:
    account = account or Account.create()
    record = {
        "record_id": fresh("signer"),
        "type": "signer", "schema": "signer/1", "action": "grant", "address": account.address,
        "name": name, "roles": list(roles),
    }
    resp = client.post("/v1/records", json=sign(runtime, record, admin(runtime), "approved",
                                                 signed_at))
    assert resp.status_code == 201, resp.text
    return account


@pytest.fixture(scope="module")
def only(client: TestClient, runtime: Runtime) -> dict[str, LocalAccount]:
    """One signer per role, holding only that role."""
    return {role: grant(client, runtime, (role,), f"Only {role}") for role in ROLES}


#: A second QA person, who signs the predecessor steps the segregation of duties keeps from
#: the first builder (an NCR's disposition, a CAPA's effectiveness check, a change's approval).
_OTHER_BUILDER: dict[int, LocalAccount] = {}


@pytest.fixture(scope="module")
def qa(client: TestClient, runtime: Runtime, module_specs: Any) -> LocalAccount:
    """A signer holding both QA roles: builds the predecessor chains (on a ledger holding the
    master data the inspections cite)."""
    _OTHER_BUILDER[id(runtime)] = grant(client, runtime, _QA_ALL, "QA Checker")
    return grant(client, runtime, _QA_ALL, "QA Builder")


_SECOND_OF_A_DUTY = {("ncr", "dispositioned"), ("capa", "effectiveness_check"),
                     ("capa", "cancelled"), ("change", "approved")}


def post(
    client: TestClient,
    runtime: Runtime,
    record: dict[str, Any],
    account: LocalAccount,
    meaning: str,
    signed_at: int | None = None,
) -> httpx.Response:
    return client.post("/v1/records", json=sign(runtime, record, account, meaning, signed_at))


def accept(
    client: TestClient, runtime: Runtime, record: dict[str, Any], account: LocalAccount,
    meaning: str,
) -> None:
    resp = post(client, runtime, record, account, meaning)
    assert resp.status_code == 201, resp.text


# -- example records per (type, step) ---------------------------------------------------------

_STEP_FIELDS: dict[str, dict[str, dict[str, Any]]] = {
    "ncr": {
        "open": {"nature": "Tip length 5.31 mm above the 5.2 mm limit"},
        "evaluated": {"evaluation": "480 units affected", "investigation": "Die 3 worn"},
        "dispositioned": {"disposition": "rework", "rationale": "Tips can be re-formed"},
        "closed": {"summary": "Reworked and re-inspected"},
    },
    "capa": {
        "open": {"problem": "Worn forming dies produce long tips"},
        "investigation": {"root_cause": "Die service interval not tracked"},
        "action_plan": {"actions": ["Cycle counter per die"], "due_by": "2099-01-31T00:00:00Z",
                        "check_after_days": 0},
        "implementation": {"implemented": "Counter live on press 3"},
        "effectiveness_check": {
            "effective": True, "no_adverse_effect": True, "result": "No long tips in 3 months",
        },
        "closed": {"summary": "Effective, closed"},
        "cancelled": {"reason": "Duplicate of another CAPA"},
    },
    "change": {
        "requested": {"reason": "Die wear undetected", "description": "Add a cycle counter"},
        "assessed": {"impact": "PLC program and register map change",
                     "assessment": {"risk": "low", "validation": True, "training": False}},
        "approved": {"approval": "Approved by the change board"},
        "implemented": {"implementation": "PLC program v2.3 deployed"},
        "verified": {"verification": "Counter reads correctly on 3 dies"},
        "closed": {"summary": "Done"},
        "rejected": {"rejection": "Risk not acceptable without a validation plan"},
        "withdrawn": {"withdrawal": "Superseded by another change"},
    },
}
_ENTITY_KEY = {"ncr": "ncr_id", "capa": "capa_id", "change": "change_id"}


def workflow_record(
    rtype: str, entity: str, step: str, lot: str, previous: str | None = None
) -> dict[str, Any]:
    """A step's record; an effectiveness check cites ``previous`` (a logged record) as data."""
    record: dict[str, Any] = {
        "record_id": fresh(f"{rtype}-{step}"), "type": rtype, "schema": f"{rtype}/1",
        _ENTITY_KEY[rtype]: entity, "step": step, **_STEP_FIELDS[rtype][step],
    }
    if (rtype, step) == ("capa", "effectiveness_check"):
        record["data"] = [previous or "none-logged"]
    if rtype != "change":
        record["lot"] = lot
    return record


def predecessors(rtype: str, step: str) -> list[str]:
    """The steps to walk before ``step`` can be submitted, each allowed after the previous."""
    order = {"ncr": tuple(Ncr.STEP_FIELDS), "capa": tuple(Capa.STEP_FIELDS)[:6],
             "change": tuple(Change.STEP_FIELDS)[:6]}[rtype]
    if rtype == "capa" and step == "cancelled":
        path = ["open"]
    elif rtype == "change" and step in ("rejected", "withdrawn"):
        path = ["requested", "assessed"]
    else:
        path = list(order[: order.index(step)])
    current: str | None = None
    for s in [*path, step]:  # the path is one the workflow allows
        assert s in NEXT_STEPS[rtype][current], (rtype, current, s)
        current = s
    return path


def first_meaning(rtype: str, step: str) -> str:
    return next(iter(MATRIX[(rtype, step)]))


def prepare(
    client: TestClient, runtime: Runtime, qa: LocalAccount, rtype: str, step: str
) -> dict[str, Any]:
    """A fresh entity walked up to just before ``step``; returns the record for ``step``."""
    entity, lot = fresh(f"{rtype.upper()}"), fresh("LOT-AUTH")
    last = None
    for s in predecessors(rtype, step):
        who = _OTHER_BUILDER[id(runtime)] if (rtype, s) in _SECOND_OF_A_DUTY else qa
        record = workflow_record(rtype, entity, s, lot, last)
        accept(client, runtime, record, who, first_meaning(rtype, s))
        last = record["record_id"]
    return workflow_record(rtype, entity, step, lot, last)


def release_record(lot: str, decision: str) -> dict[str, Any]:
    return {
        "record_id": fresh("REL"), "type": "release", "schema": "release/1", "lot": lot,
        "product": {"gtin": GTIN}, "decision": decision, "evidence": [],
        "statement": f"Lot {decision} after review of the DHR",
    }


def record_for(
    client: TestClient, runtime: Runtime, qa: LocalAccount, rtype: str, step: str
) -> dict[str, Any]:
    """A valid record of ``rtype`` at ``step`` ("*": no step) whose preconditions hold, so that
    only authority decides its fate."""
    now = "2026-11-22T08:00:00Z"
    if rtype in _ENTITY_KEY:
        return prepare(client, runtime, qa, rtype, step)
    if rtype == "inspection":
        return inspection(fresh("INS"), fresh("LOT-AUTH"))
    if rtype == "release":
        return release_record(fresh("LOT-AUTH"), "rejected")
    if rtype == "signer":
        return {
            "record_id": fresh("signer"), "type": "signer", "schema": "signer/1",
            "action": "grant", "address": Account.create().address, "name": "New Inspector",
            "roles": ["qa_inspector"],
        }
    if rtype == "scan":
        return {
            "record_id": fresh("SCAN"), "type": "scan", "schema": "scan/1",
            "station": "receiving dock 1", "operation": "receive",
            "gs1": {"gtin": GTIN, "lot": "RM-1"}, "lot": fresh("LOT-AUTH"), "scanned_at": now,
        }
    if rtype == "process_reading":
        return {
            "record_id": fresh("PR"), "type": "process_reading", "schema": "process_reading/1",
            "tag": "press3.die_temp", "value": 182.5, "unit": "degC", "lower": 175, "upper": 190,
            "lot": fresh("LOT-AUTH"), "read_at": now,
        }
    if rtype == "alert":
        return {
            "record_id": fresh("ALERT"), "type": "alert", "schema": "alert/1",
            "alert_id": fresh("A"), "source": "plc", "severity": "warning",
            "lot": fresh("LOT-AUTH"), "description": "Die temperature near upper limit",
        }
    if rtype == "correction":
        target = inspection(fresh("INS"), fresh("LOT-AUTH"))
        accept(client, runtime, target, qa, "authored")
        return {
            "record_id": fresh("CORR"), "type": "correction", "schema": "correction/1",
            "corrects": target["record_id"], "lot": target["lot"],
            "reason": "Transcription error: the sampling record says 50",
            "changes": [{"path": "/sampling_plan", "value": "ISO 2859-1 II AQL 0.65, normal"}],
        }
    if rtype == "epcis_event":
        from evledger_verify.epcis import epcis_record

        return epcis_record({
            "type": "ObjectEvent", "eventTime": "2026-11-30T08:00:00+01:00",
            "eventTimeZoneOffset": "+01:00", "action": "OBSERVE", "bizStep": "shipping",
            "quantityList": [{"epcClass": f"https://id.gs1.org/01/{GTIN}/10/{fresh('L')}"}],
        })
    if rtype == "specification":  # a new one, named by a change that is requested, not approved
        sid = fresh("SPEC-AUTH")
        spec = {**specification(), "record_id": f"{sid}-v1", "spec_id": sid,
                "change_id": f"CHG-{sid}"}
        ref = {"spec_id": sid, "version": 1}
        accept(client, runtime, change(spec["change_id"], "requested", specifications=[ref]),
               qa, "authored")
        return spec
    if rtype == "equipment":
        return equipment(fresh("EQ-AUTH"))
    if rtype == "calibration":  # of a registered instrument
        unit = equipment(fresh("EQ-AUTH"))
        accept(client, runtime, unit, qa, "authored")
        return calibration(fresh("CAL"), unit["equipment_id"])
    if rtype == "supplier":
        return supplier(fresh("SUP-REC"), fresh("SUP"))
    if rtype in ("complaint", "hold", "field_action"):  # on a lot the ledger knows
        target = inspection(fresh("INS"), fresh("LOT-AUTH"))
        accept(client, runtime, target, qa, "authored")
        lot, rid = target["lot"], fresh(rtype.upper())
        return {
            "complaint": {"record_id": rid, "type": "complaint", "schema": "complaint/1",
                          "complaint_id": fresh("CMP"), "lot": lot, "received_at": now,
                          "source": "Hospital North", "description": "Kinked catheter tip"},
            "hold": {"record_id": rid, "type": "hold", "schema": "hold/1",
                     "hold_id": fresh("HOLD"), "lot": lot, "action": "placed",
                     "reason": "Complaint trend under review"},
            "field_action": {"record_id": rid, "type": "field_action",
                             "schema": "field_action/1", "field_action_id": fresh("FA"),
                             "lot": lot, "kind": "removal", "reason": "Sterility in doubt"},
        }[rtype]
    if rtype == "training":
        return {
            "record_id": fresh("TRN"), "type": "training", "schema": "training/1",
            "person": fresh("E"), "task": "final inspection", "result": "qualified",
            "completed_at": now, "evidence": "Course QA-101, assessment passed",
        }
    if rtype == "review":  # a second person's co-signature of a logged inspection
        target = inspection(fresh("INS"), fresh("LOT-AUTH"))
        accept(client, runtime, target, qa, "authored")
        return {
            "record_id": fresh("REV"), "type": "review", "schema": "review/1",
            "reviews": target["record_id"], "record_hash": record_hash(target).hex(),
            "lot": target["lot"], "statement": "Second approver concurs",
        }
    if rtype == "recall":
        lot = fresh("LOT-RECALL")
        with runtime.engine.connect() as conn:  # a lot nothing was made from, at log size 0
            scope = genealogy.recall_scope(conn, lot=lot, tree_size=0)
        return {
            "record_id": fresh("RECALL"), "type": "recall", "schema": "recall/1",
            "recall_id": fresh("RC"), "lot": lot, "drill": True, "reason": "Quarterly mock recall",
            "tree_size": 0, "scope_sha256": genealogy.scope_sha256(scope), "lots": 1,
            "shipments": 0, "consignees": 0, "computed_at": now,
        }
    if rtype == "validation":
        return {
            "record_id": fresh("VAL"), "type": "validation", "schema": "validation/1",
            "validation_id": fresh("OQ"), "kind": "oq-pack", "sha256": "cd" * 32,
            "outcome": "passed", "summary": {"passed": 3, "failed": 0},
            "software": "evledger 0.1.0", "description": "Operational qualification pack",
        }
    raise AssertionError(f"no example for {rtype}")


def expected_roles(rtype: str, step: str, meaning: str) -> set[str]:
    allowed = set(allowed_roles(rtype, None if step == "*" else step, meaning))
    if rtype == "correction":
        # The corrector must also be allowed to sign the corrected record (an inspection
        # authored) with its meaning, unless a QA approver, who may correct any record.
        allowed &= {*allowed_roles("inspection", None, "authored"), "qa_approver"}
    return allowed


def assert_refused_by_authority(
    resp: httpx.Response, rtype: str, step: str, meaning: str, role: str
) -> None:
    assert resp.status_code == 403, f"{resp.status_code}: {resp.text}"
    body = resp.json()
    assert body["error"] == "not_authorized", body
    detail: str = body["detail"]
    assert detail.startswith("authority: "), detail
    what = rtype + (f" step {step}" if step != "*" else "")
    if rtype == "correction" and not detail.startswith("authority: correction "):
        # Refused by the rule of the corrected record (an inspection signed "authored").
        assert detail.startswith("authority: inspection with meaning 'authored'"), detail
        assert f"has {role}" in detail, detail
        return
    assert detail.startswith(f"authority: {what} "), detail
    assert f"'{meaning}'" in detail, detail
    if allowed_roles(rtype, None if step == "*" else step, meaning):
        assert "needs role" in detail and f"has {role}" in detail, detail
    else:
        assert "cannot be signed with meaning" in detail and "allowed meanings:" in detail, detail


# -- the sweep --------------------------------------------------------------------------------

SWEEP = [
    (rtype, step, meaning, role)
    for (rtype, step) in MATRIX
    for meaning in MEANINGS
    for role in ROLES
]


@pytest.mark.parametrize(
    ("rtype", "step", "meaning", "role"), SWEEP, ids=["-".join(case) for case in SWEEP]
)
def test_matrix(
    client: TestClient,
    runtime: Runtime,
    only: dict[str, LocalAccount],
    qa: LocalAccount,
    rtype: str,
    step: str,
    meaning: str,
    role: str,
) -> None:
    record = record_for(client, runtime, qa, rtype, step)
    before = record_count(client)
    resp = post(client, runtime, record, only[role], meaning)
    if role in expected_roles(rtype, step, meaning):
        assert resp.status_code == 201, resp.text
        assert record_count(client) == before + 1
    else:
        assert_refused_by_authority(resp, rtype, step, meaning, role)
        assert record_count(client) == before
        assert client.get(f"/v1/records/{record['record_id']}/receipt").status_code == 404


@pytest.mark.parametrize("meaning", MEANINGS)
@pytest.mark.parametrize("role", ROLES)
def test_release_decision_released(
    client: TestClient,
    runtime: Runtime,
    only: dict[str, LocalAccount],
    qa: LocalAccount,
    role: str,
    meaning: str,
) -> None:
    """The sweep uses decision "rejected" (not gated); "released" on a releasable lot (a passing
    final inspection, no NCR) is judged by the same rule."""
    lot = fresh("LOT-REL")
    final = inspection(fresh("FQC"), lot)
    accept(client, runtime, final, qa, "authored")
    record = release_record(lot, "released")
    record["evidence"] = [{"record_id": final["record_id"],
                           "record_hash": record_hash(final).hex()}]
    before = record_count(client)
    resp = post(client, runtime, record, only[role], meaning)
    if role in expected_roles("release", "*", meaning):
        assert resp.status_code == 201, resp.text
        assert record_count(client) == before + 1
    else:
        assert_refused_by_authority(resp, "release", "*", meaning, role)
        assert record_count(client) == before


@pytest.mark.parametrize(
    "role", [r for r in ROLES if r not in allowed_roles("release", None, "released")]
)
def test_authority_is_judged_before_release_gating(
    client: TestClient, runtime: Runtime, only: dict[str, LocalAccount], role: str
) -> None:
    """An unauthorized release of a lot that could not be released anyway is a 403, not a 409:
    the refusal names the missing authority."""
    record = release_record(fresh("LOT-NOTHING"), "released")
    resp = post(client, runtime, record, only[role], "released")
    assert_refused_by_authority(resp, "release", "*", "released", role)
    resp = post(client, runtime, record, only["qa_approver"], "released")
    assert resp.status_code == 409, resp.text
    assert "required inspection missing" in " ".join(resp.json()["reasons"])


# -- corrections: the corrector must be allowed to sign the corrected record ------------------

_CORRECTABLE: list[tuple[str, str]] = [
    ("inspection", "*"),
    *((t, s) for (t, s) in MATRIX if t in _ENTITY_KEY and t != "recall"),
    ("scan", "*"),
    ("process_reading", "*"),
    ("alert", "*"),
]


def signed_target(
    client: TestClient,
    runtime: Runtime,
    only: dict[str, LocalAccount],
    qa: LocalAccount,
    rtype: str,
    step: str,
) -> tuple[dict[str, Any], str, dict[str, Any]]:
    """A stored record of (rtype, step), the meaning it was signed with, and one change."""
    record = record_for(client, runtime, qa, rtype, step)
    meaning = first_meaning(rtype, step)
    recorder = only["auditor"] if rtype == "alert" else only["device"]
    builder = _OTHER_BUILDER[id(runtime)] if (rtype, step) in _SECOND_OF_A_DUTY else qa
    signer = recorder if meaning == "recorded" else builder
    accept(client, runtime, record, signer, meaning)
    if rtype in _ENTITY_KEY:
        field, old = next(
            (f, v) for f, v in _STEP_FIELDS[rtype][step].items()
            if f not in PROTECTED.get(rtype, ())
        )
        new: Any = (
            not old if isinstance(old, bool) else [*old, "x"] if isinstance(old, list)
            else old + " (corrected)"
        )
        change = {"path": f"/{field}", "value": new}
    else:
        # (an inspection's sample size, product and time are QA's to correct: the sampling
        # plan's wording is anyone's who may author the inspection)
        field = {"inspection": "sampling_plan", "scan": "scanned_at",
                 "process_reading": "value", "alert": "description"}[rtype]
        new = {"sampling_plan": "ISO 2859-1 II AQL 0.65, normal",
               "scanned_at": "2026-11-30T06:00:00Z", "value": 183.0,
               "description": "Die temperature at the upper limit"}[field]
        change = {"path": f"/{field}", "value": new}
    return record, meaning, change


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("rtype", "step"), _CORRECTABLE, ids=[f"{t}-{s}" for t, s in _CORRECTABLE])
def test_correction_needs_authority_over_the_corrected_record(
    client: TestClient,
    runtime: Runtime,
    only: dict[str, LocalAccount],
    qa: LocalAccount,
    rtype: str,
    step: str,
    role: str,
) -> None:
    target, target_meaning, change = signed_target(client, runtime, only, qa, rtype, step)
    correction: dict[str, Any] = {
        "record_id": fresh("CORR"), "type": "correction", "schema": "correction/1",
        "corrects": target["record_id"], "reason": "Transcription error found in review",
        "changes": [change],
    }
    if "lot" in target:
        correction["lot"] = target["lot"]
    allowed = {*allowed_roles(rtype, None if step == "*" else step, target_meaning),
               "qa_approver"} & set(allowed_roles("correction", None, "authored"))
    before = record_count(client)
    resp = post(client, runtime, correction, only[role], "authored")
    if role in allowed:
        assert resp.status_code == 201, resp.text
        view = client.get(f"/v1/records/{target['record_id']}", headers=bearer(runtime, qa))
        assert view.status_code == 200, view.text
        assert view.json()["history"][0]["path"] == change["path"]
        return
    assert resp.status_code == 403, resp.text
    detail = resp.json()["detail"]
    what = rtype + (f" step {step}" if step != "*" else "")
    if role not in allowed_roles("correction", None, "authored"):
        # May not sign corrections at all.
        assert detail.startswith("authority: correction with meaning 'authored'"), detail
    else:
        assert detail.startswith(f"authority: {what} with meaning '{target_meaning}'"), detail
        assert f"correcting {target['record_id']}" in detail, detail
    assert f"has {role}" in detail, detail
    assert record_count(client) == before


def test_device_data_cannot_be_corrected_by_any_single_role() -> None:
    """Follows from the matrix: a scan, process reading or device alert (signed "recorded")
    can only be corrected by a signer holding both a device role and a QA / production role,
    which a person and a device should never share (no shared accounts, 11.10(d))."""
    corrector = set(allowed_roles("correction", None, "authored"))
    for rtype in ("scan", "process_reading", "alert"):
        assert not set(allowed_roles(rtype, None, "recorded")) & corrector, rtype


def test_correction_cannot_move_a_workflow_step(
    client: TestClient, runtime: Runtime, only: dict[str, LocalAccount], qa: LocalAccount
) -> None:
    lot = fresh("LOT-BYPASS")
    accept(client, runtime, inspection(fresh("FQC"), lot), qa, "authored")
    opened = workflow_record("ncr", fresh("NCR"), "open", lot)
    accept(client, runtime, opened, only["production"], "authored")
    correction = {
        "record_id": fresh("CORR"), "type": "correction", "schema": "correction/1",
        "corrects": opened["record_id"], "lot": lot, "reason": "Step was entered wrongly",
        "changes": [{"path": "/step", "value": "closed"}],
    }
    resp = post(client, runtime, correction, only["production"], "authored")
    try:
        assert resp.status_code in (403, 409, 422), resp.text
    finally:
        status = client.get(f"/v1/lots/{lot}", headers=bearer(runtime, qa)).json()
        assert status["open_ncrs"], status  # the NCR was never closed by a qa_approver


# -- devices, auditors, revoked signers, signing time -----------------------------------------

_NATURAL = {
    "inspection": ("*", "authored"),
    "release": ("*", "released"),
    "ncr": ("open", "authored"),
    "capa": ("open", "authored"),
    "change": ("requested", "authored"),
    "correction": ("*", "authored"),
    "signer": ("*", "approved"),
}


@pytest.mark.parametrize("rtype", _NATURAL)
def test_device_is_refused_outside_data_feeds(
    client: TestClient,
    runtime: Runtime,
    only: dict[str, LocalAccount],
    qa: LocalAccount,
    rtype: str,
) -> None:
    step, meaning = _NATURAL[rtype]
    for m in (meaning, "recorded"):
        record = record_for(client, runtime, qa, rtype, step)
        before = record_count(client)
        resp = post(client, runtime, record, only["device"], m)
        assert resp.status_code == 403, resp.text
        assert resp.json()["detail"].startswith("authority: "), resp.text
        assert record_count(client) == before


def test_auditor_signs_only_alerts_recorded(
    client: TestClient, runtime: Runtime, only: dict[str, LocalAccount], qa: LocalAccount
) -> None:
    granted = {
        (t, s, m) for (t, s), rule in MATRIX.items() for m, roles in rule.items()
        if "auditor" in roles
    }
    assert granted == {("alert", "*", "recorded"), ("validation", "*", "recorded")}
    for rtype in ("alert", "validation"):  # findings, and qualification packs' hashes
        resp = post(client, runtime, record_for(client, runtime, qa, rtype, "*"),
                    only["auditor"], "recorded")
        assert resp.status_code == 201, resp.text
    for rtype, (step, meaning) in _NATURAL.items():
        resp = post(client, runtime, record_for(client, runtime, qa, rtype, step),
                    only["auditor"], meaning)
        assert resp.status_code == 403, resp.text
        named = rtype  # a correction's own rule is checked first
        assert resp.json()["detail"].startswith(f"authority: {named}"), resp.text
    resp = post(client, runtime, record_for(client, runtime, qa, "alert", "*"), only["auditor"],
                "authored")
    assert resp.status_code == 403, resp.text


def revoke(client: TestClient, runtime: Runtime, account: LocalAccount, signed_at: int) -> None:
    record = {
        "record_id": fresh("revoke"), "type": "signer", "schema": "signer/1",
        "action": "revoke", "address": account.address,
    }
    resp = post(client, runtime, record, admin(runtime), "approved", signed_at)
    assert resp.status_code == 201, resp.text


def test_revoked_signer_is_refused(
    client: TestClient, runtime: Runtime, qa: LocalAccount
) -> None:
    t = int(time.time())
    account = grant(client, runtime, _QA_ALL, "Leaver", signed_at=t)
    revoke(client, runtime, account, t + 1)
    for rtype, (step, meaning) in _NATURAL.items():
        if rtype == "signer":
            continue
        record = record_for(client, runtime, qa, rtype, step)
        before = record_count(client)
        resp = post(client, runtime, record, account, meaning, t + 2)
        assert resp.status_code == 403, resp.text
        assert "not an active signer at the signing time" in resp.json()["detail"], resp.text
        assert "(revoked)" in resp.json()["detail"], resp.text
        assert record_count(client) == before
    # Its read tokens stop working once the revoke takes effect (t + 1).
    while int(time.time()) < t + 1:
        time.sleep(0.05)
    resp = client.get("/v1/lots/ANY", headers=bearer(runtime, account))
    assert resp.status_code == 403, resp.text


def test_roles_are_judged_at_the_signing_time(client: TestClient, runtime: Runtime) -> None:
    """Granted qa_inspector at t, and qa_approver only from t + 100: a release signed at t + 50
    is refused (the signer was no approver then), one signed at t + 150 is accepted."""
    t = int(time.time())
    account = grant(client, runtime, ("qa_inspector",), "Promoted", signed_at=t)
    grant(client, runtime, _QA_ALL, "Promoted", account=account, signed_at=t + 100)
    early = release_record(fresh("LOT-PROMO"), "rejected")
    before = record_count(client)
    resp = post(client, runtime, early, account, "released", t + 50)
    assert resp.status_code == 403, resp.text
    detail = resp.json()["detail"]
    assert detail.startswith("authority: release with meaning 'released' needs role qa_approver")
    assert "has qa_inspector" in detail, detail
    assert record_count(client) == before
    late = release_record(fresh("LOT-PROMO"), "rejected")
    resp = post(client, runtime, late, account, "released", t + 150)
    assert resp.status_code == 201, resp.text


# -- read tokens ------------------------------------------------------------------------------


def _token(account: LocalAccount, origin: str, expires: int) -> str:
    msg = encode_defunct(text=token_message(origin, account.address, expires))
    return f"evl1.{account.address}.{expires}.{account.sign_message(msg).signature.to_0x_hex()}"


def test_read_tokens(
    client: TestClient, runtime: Runtime, only: dict[str, LocalAccount], qa: LocalAccount
) -> None:
    lot = fresh("LOT-READ")
    rec = inspection(fresh("INS"), lot)
    accept(client, runtime, rec, qa, "authored")
    origin = runtime.ledger.identity.log_origin
    paths = (f"/v1/records/{rec['record_id']}", f"/v1/lots/{lot}")
    for path in paths:
        resp = client.get(path, headers=bearer(runtime, only["qa_inspector"]))
        assert resp.status_code == 200, resp.text
        resp = client.get(path, headers=bearer(runtime, only["device"]))
        assert resp.status_code == 403, resp.text
        assert "may not read" in resp.json()["detail"], resp.text
        resp = client.get(path)
        assert resp.status_code == 401, resp.text
        assert resp.json()["error"] == "bad_signature", resp.text
        resp = client.get(path, headers=bearer(runtime, Account.create()))
        assert resp.status_code == 403, resp.text
        assert "not an active signer" in resp.json()["detail"], resp.text
        expired = _token(only["qa_inspector"], origin, int(time.time()) - 1)
        resp = client.get(path, headers={"Authorization": f"Bearer {expired}"})
        assert resp.status_code == 401, resp.text
        assert "expired" in resp.json()["detail"], resp.text
        for bad in ("not-a-token", expired[:-2], expired.replace("evl1.", "evl2.")):
            resp = client.get(path, headers={"Authorization": f"Bearer {bad}"})
            assert resp.status_code == 401, (bad, resp.text)
        other = _token(only["qa_inspector"], "evledger/1/0x0", int(time.time()) + 60)
        resp = client.get(path, headers={"Authorization": f"Bearer {other}"})
        assert resp.status_code in (401, 403), resp.text
    # Refusals come before the lookup: a device learns nothing about what exists.
    resp = client.get("/v1/records/NO-SUCH", headers=bearer(runtime, only["device"]))
    assert resp.status_code == 403, resp.text
    resp = client.get("/v1/records/NO-SUCH", headers=bearer(runtime, only["qa_inspector"]))
    assert resp.status_code == 404, resp.text
