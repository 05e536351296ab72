"""The quality domain through the HTTP API: release gating and concessions, the NCR / CAPA /
change workflows, corrections with their audit trail (who, what, old, new, when, why), lot
status and the demo story. Every refusal is checked to store nothing."""

from __future__ import annotations

import itertools
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from eth_account.signers.local import LocalAccount
from evledger_verify.records import record_hash
from fastapi.testclient import TestClient

from api.demo import master_data, sample_lot
from ledger.domain.lots import NEXT_STEPS
from ledger.domain.schemas import Capa, Change, Ncr
from ledger.runtime import Runtime
from tests.helpers import (
    GTIN,
    admin,
    approve_spec,
    bearer,
    inspection,
    register,
    sign,
    specification,
)

pytestmark = pytest.mark.integration

PRODUCT = {"gtin": GTIN}
KEY = {"ncr": "ncr_id", "capa": "capa_id", "change": "change_id"}
#: Every step of each workflow, in order, as the schemas define them.
STEPS = {"ncr": tuple(Ncr.STEP_FIELDS), "capa": tuple(Capa.STEP_FIELDS),
         "change": tuple(Change.STEP_FIELDS)}
#: The fields each step must carry (schemas.py), with realistic content.
STEP_FIELDS: dict[str, dict[str, dict[str, Any]]] = {
    "ncr": {
        "open": {"nature": "Outer diameter 3.12 mm above the 3.05 mm limit on 3 of 32 samples"},
        "evaluated": {
            "evaluation": "All 4,800 units extruded on line 2 since 06:00 are affected",
            "investigation": "Puller speed drifted after the 05:40 restart",
        },
        "dispositioned": {
            "disposition": "rework",
            "rationale": "Units can be re-drawn within limits; 100% re-inspection after rework",
        },
        "closed": {"summary": "Rework done and re-inspected; no further nonconforming units"},
    },
    "capa": {
        "open": {"problem": "Puller speed drift produces oversize tubing"},
        "investigation": {"root_cause": "Speed set-point not re-loaded after a PLC restart"},
        "action_plan": {"actions": ["Reload the recipe on restart", "Alarm on speed drift"],
                        "due_by": "2099-01-31T00:00:00Z", "check_after_days": 0},
        "implementation": {"implemented": "PLC program v4.2 released under CR-88"},
        "effectiveness_check": {
            "effective": True,
            "no_adverse_effect": True,
            "result": "No diameter deviation in 30 production days",
            "data": ["DATA-1"],  # step() cites the CAPA's previous step instead
        },
        "closed": {"summary": "Actions effective; CAPA closed by QA"},
        "cancelled": {"reason": "Duplicate of an existing CAPA on the same root cause"},
    },
    "change": {
        "requested": {
            "reason": "Supplier discontinues resin grade A",
            "description": "Qualify resin grade B for catheter tubing",
        },
        "assessed": {"impact": "Biocompatibility and tensile strength must be re-verified",
                     "assessment": {"risk": "high", "validation": True, "training": True,
                                    "documents": ["BOM-77", "WI-12"]}},
        "approved": {"approval": "Approved by the change control board, meeting 2026-47"},
        "implemented": {"implementation": "BOM and work instructions updated"},
        "verified": {"verification": "Three validation lots passed all characteristics"},
        "closed": {"summary": "Change effective from lot L261201"},
        "rejected": {"rejection": "No validation plan for the new resin grade"},
        "withdrawn": {"withdrawal": "The supplier kept resin grade A"},
    },
}
#: Who signs each workflow step, with which meaning (authority MATRIX).
SIGNED_BY: dict[tuple[str, str], tuple[str, str]] = {
    ("ncr", "open"): ("inspector", "authored"),
    ("ncr", "evaluated"): ("inspector", "reviewed"),
    ("ncr", "dispositioned"): ("approver", "approved"),
    ("ncr", "closed"): ("approver", "approved"),
    ("capa", "open"): ("inspector", "authored"),
    ("capa", "investigation"): ("inspector", "authored"),
    ("capa", "action_plan"): ("inspector", "authored"),
    ("capa", "implementation"): ("inspector", "authored"),
    ("capa", "effectiveness_check"): ("approver", "verified"),
    ("capa", "closed"): ("approver", "approved"),
    ("capa", "cancelled"): ("approver", "approved"),
    ("change", "requested"): ("inspector", "authored"),
    ("change", "assessed"): ("inspector", "reviewed"),
    ("change", "approved"): ("approver", "approved"),
    ("change", "implemented"): ("inspector", "authored"),
    ("change", "verified"): ("inspector", "verified"),
    ("change", "closed"): ("approver", "approved"),
    ("change", "rejected"): ("approver", "approved"),
    ("change", "withdrawn"): ("inspector", "authored"),
}
CONCESSION = {
    "rationale": "Diameter deviation of 0.07 mm assessed by R&D as without clinical effect "
    "(report RD-2026-114); customer agreement CA-17 on file",
    "deviations": ["outer diameter 3.12 mm against 3.05 mm upper limit (in-process)"],
}
NAMES = {"inspector": "Dana Inspector", "approver": "Quinn Approver", "device": "PLC gateway 3",
         "approver2": "Mo Reviewer"}


# -- records ----------------------------------------------------------------------------------


def workflow(rtype: str, rid: str, entity: str, step: str, **fields: Any) -> dict[str, Any]:
    return {
        "record_id": rid,
        "type": rtype,
        "schema": f"{rtype}/1",
        KEY[rtype]: entity,
        "step": step,
        **STEP_FIELDS[rtype][step],
        **fields,
    }


def alert(rid: str, alert_id: str, lot: str) -> dict[str, Any]:
    return {
        "record_id": rid,
        "type": "alert",
        "schema": "alert/1",
        "alert_id": alert_id,
        "source": "plc",
        "severity": "critical",
        "lot": lot,
        "description": "Barrel zone 2 at 231.4 C, above the 225 C limit",
        "details": {"tag": "TZ2", "value": 231.4, "upper": 225},
    }


def evidence(*records: dict[str, Any]) -> list[dict[str, str]]:
    return [{"record_id": r["record_id"], "record_hash": record_hash(r).hex()} for r in records]


def release(
    rid: str,
    lot: str,
    proof: list[dict[str, str]],
    decision: str = "released",
    concession: dict[str, Any] | None = None,
) -> dict[str, Any]:
    record = {
        "record_id": rid,
        "type": "release",
        "schema": "release/1",
        "lot": lot,
        "product": PRODUCT,
        "decision": decision,
        "evidence": proof,
        "statement": "Device history record reviewed; lot conforms to its specification.",
    }
    if concession is not None:
        record["concession"] = concession
    return record


def correction(
    rid: str, corrects: str, lot: str | None, changes: list[dict[str, Any]], reason: str | None
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "record_id": rid,
        "type": "correction",
        "schema": "correction/1",
        "corrects": corrects,
        "lot": lot,
        "changes": changes,
    }
    if reason is not None:
        record["reason"] = reason
    return record


def passing_fix(value: float) -> list[dict[str, Any]]:
    """Changes that turn the helper inspection's failed measurement into a passing one."""
    return [
        {"path": "/characteristics/0/value", "value": value},
        {"path": "/characteristics/0/verdict", "value": "pass"},
        {"path": "/verdict", "value": "pass"},
    ]


def is_utc(stamp: Any) -> bool:
    if not isinstance(stamp, str) or not stamp.endswith("Z"):
        return False
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).utcoffset() is not None


def utc(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


# -- the QA team --------------------------------------------------------------------------------


class Qa:
    """An inspector, an approver and a PLC gateway registered on a fresh ledger."""

    def __init__(self, client: TestClient, runtime: Runtime) -> None:
        self.client = client
        self.runtime = runtime
        self.people: dict[str, LocalAccount] = {
            "inspector": register(client, runtime, ("qa_inspector",), NAMES["inspector"]),
            "approver": register(client, runtime, ("qa_approver",), NAMES["approver"]),
            "approver2": register(client, runtime, ("qa_approver",), NAMES["approver2"]),
            "device": register(client, runtime, ("device",), NAMES["device"]),
        }
        self.read = bearer(runtime, self.people["approver"])
        self._n = itertools.count(1)
        #: Each workflow entity's latest step submitted through step().
        self._last: dict[str, str] = {}

    def post(
        self, record: dict[str, Any], who: str, meaning: str, signed_at: int | None = None
    ) -> httpx.Response:
        body = sign(self.runtime, record, self.people[who], meaning, signed_at)
        resp: httpx.Response = self.client.post("/v1/records", json=body)
        return resp

    def ok(
        self,
        record: dict[str, Any],
        who: str = "inspector",
        meaning: str = "authored",
        signed_at: int | None = None,
    ) -> dict[str, Any]:
        resp = self.post(record, who, meaning, signed_at)
        assert resp.status_code == 201, resp.text
        body: dict[str, Any] = resp.json()
        return body

    def refused(
        self, record: dict[str, Any], who: str, meaning: str, status: int
    ) -> dict[str, Any]:
        """Submit ``record``, expect ``status``, and check that nothing was stored."""
        before = self.count()
        resp = self.post(record, who, meaning)
        assert resp.status_code == status, resp.text
        assert self.count() == before, "a refused record was stored"
        view = self.client.get(f"/v1/records/{record['record_id']}", headers=self.read)
        assert view.status_code == 404, view.text
        body: dict[str, Any] = resp.json()
        return body

    def release_refused(self, lot: str, proof: list[dict[str, str]], **kw: Any) -> dict[str, Any]:
        rid = f"{lot}-REL-try-{next(self._n)}"
        body = self.refused(release(rid, lot, proof, **kw), "approver", "released", 409)
        assert isinstance(body.get("reasons"), list) and body["reasons"], body
        return body

    def step(self, rtype: str, entity: str, step: str, **fields: Any) -> dict[str, Any]:
        """Submit one workflow step signed by the role the matrix names; expects 201. An
        effectiveness check cites, by default, the entity's previous step as its data."""
        if (rtype, step) == ("capa", "effectiveness_check"):
            fields.setdefault("data", [self._last[entity]])
        record = workflow(rtype, f"{entity}-{step}-{next(self._n)}", entity, step, **fields)
        who, meaning = SIGNED_BY[(rtype, step)]
        self.ok(record, who, meaning)
        self._last[entity] = record["record_id"]
        return record

    def try_step(self, rtype: str, entity: str, step: str, **fields: Any) -> dict[str, Any]:
        """Submit one workflow step that must be refused with 409; returns the problem."""
        record = workflow(rtype, f"{entity}-{step}-{next(self._n)}", entity, step, **fields)
        who, meaning = SIGNED_BY[(rtype, step)]
        return self.refused(record, who, meaning, 409)

    def count(self) -> int:
        resp = self.client.get("/v1/status")
        assert resp.status_code == 200, resp.text
        count: int = resp.json()["records"]
        return count

    def lot(self, lot: str) -> dict[str, Any]:
        resp = self.client.get(f"/v1/lots/{lot}", headers=self.read)
        assert resp.status_code == 200, resp.text
        body: dict[str, Any] = resp.json()
        return body

    def view(self, record_id: str) -> dict[str, Any]:
        resp = self.client.get(f"/v1/records/{record_id}", headers=self.read)
        assert resp.status_code == 200, resp.text
        body: dict[str, Any] = resp.json()
        return body

    def address(self, who: str) -> str:
        return self.people[who].address.lower()


@pytest.fixture()
def qa(client: TestClient, runtime: Runtime, specs: Any) -> Qa:
    return Qa(client, runtime)


def has(reasons: list[str], *fragments: str) -> bool:
    return any(all(f in r for f in fragments) for r in reasons)


# -- 1. release gating --------------------------------------------------------------------------


@pytest.mark.req("P11-10f-1")
def test_failed_critical_characteristic_blocks_release(qa: Qa) -> None:
    lot = "LOT-CRIT"
    failed = inspection(f"{lot}-FQC-1", lot, value=3.12, stage="final")
    qa.ok(failed)
    body = qa.release_refused(lot, evidence(failed))
    assert has(body["reasons"], "outer diameter failed in", failed["record_id"], "critical",
               "an OOS investigation must decide it")
    assert qa.lot(lot)["release"] is None


@pytest.mark.req("P11-10f-1")
def test_missing_final_inspection_blocks_release(qa: Qa) -> None:
    lot = "LOT-NOFINAL"
    incoming = inspection(f"{lot}-IQC-1", lot, stage="incoming")
    qa.ok(incoming)
    body = qa.release_refused(lot, evidence(incoming))
    assert body["reasons"] == ["required inspection missing: no final inspection on the lot"], body


@pytest.mark.req("P11-10f-1", "ISO-8.3-1")
def test_open_ncr_blocks_release(qa: Qa) -> None:
    lot = "LOT-NCR"
    final = inspection(f"{lot}-FQC-1", lot)
    qa.ok(final)
    qa.step("ncr", f"NCR-{lot}", "open", lot=lot)
    body = qa.release_refused(lot, evidence(final))
    assert len(body["reasons"]) == 1 and has(body["reasons"], f"NCR NCR-{lot} is open"), body


@pytest.mark.req("P11-10f-1")
def test_open_alert_blocks_release(qa: Qa) -> None:
    lot = "LOT-ALERT"
    final = inspection(f"{lot}-FQC-1", lot)
    qa.ok(final)
    qa.ok(alert(f"{lot}-ALERT-1", "ALM-TZ2-1", lot), "inspector", "authored")
    body = qa.release_refused(lot, evidence(final))
    assert len(body["reasons"]) == 1 and has(body["reasons"], "alert ALM-TZ2-1 is open"), body
    assert qa.lot(lot)["state"] == "quarantined"


@pytest.mark.req("A11-15-1")
def test_evidence_must_be_records_of_the_lot_with_their_logged_hash(qa: Qa) -> None:
    lot = "LOT-EVID"
    final = inspection(f"{lot}-FQC-1", lot)
    elsewhere = inspection("LOT-ELSEWHERE-FQC-1", "LOT-ELSEWHERE")
    qa.ok(final)
    qa.ok(elsewhere)
    wrong_hash = [{"record_id": final["record_id"], "record_hash": "ab" * 32}]
    body = qa.release_refused(lot, wrong_hash)
    assert body["reasons"] == [
        f"evidence {final['record_id']}: hash differs from the logged record"
    ], body
    body = qa.release_refused(lot, evidence(final, elsewhere))
    assert body["reasons"] == [f"evidence {elsewhere['record_id']}: not a record of this lot"], body
    unknown = [{"record_id": "NO-SUCH-RECORD", "record_hash": "cd" * 32}]
    body = qa.release_refused(lot, evidence(final) + unknown)
    assert has(body["reasons"], "evidence NO-SUCH-RECORD"), body
    qa.ok(release(f"{lot}-REL", lot, evidence(final)), "approver", "released")


@pytest.mark.req("P11-10f-1", "ISO-7.5.8-1")
def test_every_blocker_is_listed_then_each_is_cleared_the_intended_way(qa: Qa) -> None:
    lot = "LOT-GATE"
    ncr = f"NCR-{lot}"
    incoming = inspection(f"{lot}-IQC-1", lot, stage="incoming")
    failed = inspection(f"{lot}-IPQC-1", lot, value=3.12, stage="in_process")
    other = inspection("LOT-OTHER-IQC-1", "LOT-OTHER", stage="incoming")
    for record in (incoming, failed, other):
        qa.ok(record)
    qa.ok(alert(f"{lot}-ALERT-1", "ALM-1", lot), "inspector", "authored")
    qa.step("ncr", ncr, "open", lot=lot, refs=[failed["record_id"], "ALM-1"])

    bad = evidence(incoming, failed, other)
    bad[0] = {**bad[0], "record_hash": "00" * 32}
    reasons = qa.release_refused(lot, bad)["reasons"]
    assert has(reasons, "outer diameter failed in", failed["record_id"])
    assert has(reasons, "required inspection missing")
    assert has(reasons, f"NCR {ncr} is open")
    assert has(reasons, "alert ALM-1 is open")
    assert has(reasons, f"evidence {incoming['record_id']}", "hash differs")
    assert has(reasons, f"evidence {other['record_id']}", "not a record of this lot")
    assert len(reasons) == 6, reasons
    assert qa.lot(lot)["state"] == "quarantined"

    # A passing re-inspection of the same stage does not supersede the failure (no testing
    # into compliance): a retest counts only after the investigation (the NCR citing the
    # failure) finds an assignable cause that invalidates it.
    recheck = inspection(f"{lot}-IPQC-2", lot, value=3.02, stage="in_process")
    qa.ok(recheck)
    reasons = qa.release_refused(lot, evidence(incoming, failed, recheck))["reasons"]
    assert has(reasons, "outer diameter failed in", failed["record_id"]), reasons
    retest = {**inspection(f"{lot}-IPQC-3", lot, value=3.01, stage="in_process"),
              "retest": {"of": failed["record_id"], "ncr_id": ncr}}
    body = qa.refused(retest, "inspector", "authored", 409)
    assert "has not found an assignable cause" in body["detail"], body
    qa.step("ncr", ncr, "evaluated", lot=lot, assignable_cause=True)
    qa.ok(retest)
    good = evidence(incoming, failed, retest)
    reasons = qa.release_refused(lot, good)["reasons"]
    assert not has(reasons, "outer diameter failed"), reasons
    assert len(reasons) == 3, reasons

    # The NCR dispositions the alert; the NCR itself blocks until it is closed.
    reasons = qa.release_refused(lot, good)["reasons"]
    assert has(reasons, "alert ALM-1 is open"), reasons
    qa.step("ncr", ncr, "dispositioned", lot=lot)
    reasons = qa.release_refused(lot, good)["reasons"]
    assert not has(reasons, "alert ALM-1"), reasons
    assert has(reasons, f"NCR {ncr} is open (step dispositioned)"), reasons
    qa.step("ncr", ncr, "closed", lot=lot)
    reasons = qa.release_refused(lot, good)["reasons"]
    assert reasons == ["required inspection missing: no final inspection on the lot"]

    final = inspection(f"{lot}-FQC-1", lot)
    qa.ok(final)
    qa.ok(release(f"{lot}-REL", lot, good + evidence(final)), "approver", "released")
    status = qa.lot(lot)
    assert status["state"] == "released"
    assert status["release_blockers"] == []
    assert status["open_ncrs"] == [] and status["open_alerts"] == []

    again = qa.refused(release(f"{lot}-REL-2", lot, evidence(final)), "approver", "released", 409)
    assert "already released" in again["detail"] and f"{lot}-REL" in again["detail"], again


def concession(*names: str, days: float = 30, quantity: int = 4800) -> dict[str, Any]:
    until = datetime.now(UTC) + timedelta(days=days)
    return {"characteristics": list(names), "quantity": quantity, "unit": "EA",
            "valid_until": until.isoformat().replace("+00:00", "Z")}


def failed_lot(qa: Qa, lot: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    """A lot whose in-process inspection failed the critical outer diameter, its final passed,
    and an NCR citing the failure evaluated (no assignable cause)."""
    failed = inspection(f"{lot}-IPQC-1", lot, value=3.12, stage="in_process")
    final = inspection(f"{lot}-FQC-1", lot)
    qa.ok(failed)
    qa.ok(final)
    ncr = f"NCR-{lot}"
    qa.step("ncr", ncr, "open", lot=lot, refs=[failed["record_id"]])
    qa.step("ncr", ncr, "evaluated", lot=lot, assignable_cause=False)
    return failed, final, ncr


def disposition(qa: Qa, ncr: str, lot: str, kind: str, **fields: Any) -> dict[str, Any]:
    return workflow("ncr", f"{ncr}-D-{next(qa._n)}", ncr, "dispositioned", lot=lot,
                    disposition=kind, rationale="Assessed by the material review board",
                    **fields)


@pytest.mark.req("ISO-8.2.6-1")
def test_a_concession_is_bounded_per_characteristic_and_needs_two_approvers_if_critical(
    qa: Qa,
) -> None:
    """use_as_is is a concession: it names the failed characteristics it covers, a quantity
    and a time limit; on a critical characteristic a second QA approver (another person)
    co-signs it before the lot can be released."""
    lot = "LOT-UAI"
    failed, final, ncr = failed_lot(qa, lot)
    # no concession stated: the schema refuses it; another characteristic: refused
    qa.refused(disposition(qa, ncr, lot, "use_as_is"), "approver", "approved", 422)
    body = qa.refused(disposition(qa, ncr, lot, "use_as_is", concession=concession("wall")),
                      "approver", "approved", 409)
    assert "names wall, not a failed characteristic" in body["detail"], body
    past = {**concession("outer diameter"), "valid_until": "2020-01-01T00:00:00Z"}
    body = qa.refused(disposition(qa, ncr, lot, "use_as_is", concession=past), "approver",
                      "approved", 409)
    assert "not after its signing" in body["detail"], body
    granted = disposition(qa, ncr, lot, "use_as_is", concession=concession("outer diameter"))
    qa.ok(granted, "approver", "approved")
    qa.step("ncr", ncr, "closed", lot=lot)
    reasons = qa.release_refused(lot, evidence(failed, final))["reasons"]
    assert len(reasons) == 1 and has(reasons, "needs a second QA approver", granted["record_id"])
    review = {"record_id": f"{lot}-REV", "type": "review", "schema": "review/1",
              "reviews": granted["record_id"], "record_hash": record_hash(granted).hex(),
              "lot": lot, "statement": "MRB concurs: no effect on fit, form or function"}
    body = qa.refused(review, "approver", "approved", 403)
    assert "a review is a second person's signature" in body["detail"], body
    qa.refused({**review, "record_hash": "00" * 32}, "approver2", "approved", 409)
    qa.ok(review, "approver2", "approved")
    qa.ok(release(f"{lot}-REL", lot, evidence(failed, final)), "approver2", "released")
    status = qa.lot(lot)
    assert status["state"] == "released" and status["release_blockers"] == []
    failures = {i["record_id"]: i["critical_failures"] for i in status["inspections"]}
    assert failures[failed["record_id"]] == ["outer diameter"]


@pytest.mark.req("ISO-8.2.6-1")
def test_an_expired_concession_no_longer_covers_the_failure(qa: Qa) -> None:
    lot = "LOT-UAI-X"
    _, _, ncr = failed_lot(qa, lot)
    short = disposition(qa, ncr, lot, "use_as_is",
                        concession=concession("outer diameter", days=2 / 86400))
    qa.ok(short, "approver", "approved")
    time.sleep(2.5)
    reasons = qa.lot(lot)["release_blockers"]
    assert has(reasons, "concession expired at"), reasons


@pytest.mark.req("ISO-8.3-1", "P11-10f-1")
def test_rework_closes_after_a_passing_reinspection_and_scrap_never_releases(qa: Qa) -> None:
    lot = "LOT-RWK"
    failed, final, ncr = failed_lot(qa, lot)
    qa.ok(disposition(qa, ncr, lot, "rework"), "approver", "approved")
    body = qa.try_step("ncr", ncr, "closed", lot=lot)
    assert "a rework closes after its re-inspection" in body["detail"], body
    reasons = qa.release_refused(lot, evidence(failed, final))["reasons"]
    assert has(reasons, "reworked under NCR", "not re-inspected"), reasons
    again = inspection(f"{lot}-IPQC-2", lot, value=3.01, stage="in_process")
    qa.ok(again)
    qa.step("ncr", ncr, "closed", lot=lot)
    qa.ok(release(f"{lot}-REL", lot, evidence(failed, again, final)), "approver", "released")
    assert qa.lot(lot)["state"] == "released"

    lot = "LOT-SCRAP"
    failed, final, ncr = failed_lot(qa, lot)
    qa.ok(disposition(qa, ncr, lot, "scrap"), "approver", "approved")
    qa.step("ncr", ncr, "closed", lot=lot)
    reasons = qa.release_refused(lot, evidence(failed, final))["reasons"]
    assert reasons == [f"lot dispositioned scrap by NCR {ncr}: never released"], reasons


@pytest.mark.req("CFR211-192-1")
def test_a_retest_needs_the_investigations_finding_and_measures_at_least_as_strictly(
    qa: Qa,
) -> None:
    lot = "LOT-RTST"
    failed = {**inspection(f"{lot}-FQC-1", lot, value=3.12), "sample_size": 50}
    qa.ok(failed)
    ncr = f"NCR-{lot}"
    qa.step("ncr", ncr, "open", lot=lot, refs=[failed["record_id"]])

    def retest(n: int, **fields: Any) -> dict[str, Any]:
        return {**inspection(f"{lot}-FQC-R{n}", lot, value=3.0), "sample_size": 50,
                "retest": {"of": failed["record_id"], "ncr_id": ncr}, **fields}

    assert "has not found an assignable cause" in qa.refused(
        retest(1), "inspector", "authored", 409)["detail"]
    qa.step("ncr", ncr, "evaluated", lot=lot, assignable_cause=True)
    for record, fragment in (
        (retest(2, sample_size=40), "fewer than the original's 50"),
        ({**retest(3), "retest": {"of": "nope", "ncr_id": ncr}}, "nope is no inspection"),
        ({**retest(4), "retest": {"of": failed["record_id"], "ncr_id": "NCR-OTHER"}},
         "does not investigate"),
    ):
        assert fragment in qa.refused(record, "inspector", "authored", 409)["detail"], fragment
    accepted = retest(5)
    qa.ok(accepted)
    body = qa.refused(retest(6), "inspector", "authored", 409)
    assert "already retested" in body["detail"], body
    # the retest supersedes the failure: only the open NCR blocks
    reasons = qa.release_refused(lot, evidence(accepted))["reasons"]
    assert reasons == [f"NCR {ncr} is open (step evaluated)"], reasons


@pytest.mark.req("ISO-8.2.6-1")
def test_a_release_carries_no_concession(qa: Qa) -> None:
    """Before issue 13 a 20-character rationale on the release cleared every blocker."""
    lot = "LOT-CONC"
    failed = inspection(f"{lot}-IPQC-1", lot, value=3.12, stage="in_process")
    qa.ok(failed)
    body = qa.refused(release(f"{lot}-REL", lot, evidence(failed), concession=CONCESSION),
                      "approver", "released", 409)
    assert "a release carries no concession" in body["detail"], body


@pytest.mark.req("A11-15-1")
def test_rejected_and_quarantined_are_never_gated(qa: Qa) -> None:
    lot = "LOT-REJ"
    failed = inspection(f"{lot}-IPQC-1", lot, value=3.2, stage="in_process")
    qa.ok(failed)
    qa.ok(alert(f"{lot}-ALERT-1", "ALM-9", lot), "inspector", "authored")
    qa.step("ncr", f"NCR-{lot}", "open", lot=lot, refs=[failed["record_id"]])
    blockers = qa.lot(lot)["release_blockers"]
    assert len(blockers) == 4, blockers  # critical, final missing, NCR, alert

    qa.ok(release(f"{lot}-QUA", lot, evidence(failed), "quarantined"), "approver", "released")
    status = qa.lot(lot)
    assert status["state"] == "quarantined"
    assert status["release"]["decision"] == "quarantined"
    qa.ok(release(f"{lot}-REJ", lot, evidence(failed), "rejected"), "approver", "released")
    status = qa.lot(lot)
    assert status["state"] == "rejected"
    assert status["release"]["record_id"] == f"{lot}-REJ"
    # Rejected is final: a later "released" is refused until a rework NCR reopens the lot.
    body = qa.refused(release(f"{lot}-REL", lot, evidence(failed)), "approver", "released", 409)
    assert "rejected is final" in body["detail"], body


@pytest.mark.req("A11-15-1")
def test_release_needs_a_qa_approver_signing_released(qa: Qa) -> None:
    lot = "LOT-AUTH"
    final = inspection(f"{lot}-FQC-1", lot)
    qa.ok(final)
    rel = release(f"{lot}-REL", lot, evidence(final))
    body = qa.refused(rel, "inspector", "released", 403)
    assert "qa_approver" in body["detail"], body
    qa.refused(rel, "approver", "approved", 403)
    qa.refused(rel, "device", "released", 403)
    qa.refused(
        {**rel, "concession": CONCESSION, "record_id": f"{lot}-REL-C"},
        "inspector",
        "released",
        403,
    )
    qa.ok(rel, "approver", "released")


# -- 2. workflows -----------------------------------------------------------------------------


@pytest.mark.req("ISO-8.3-1")
def test_ncr_workflow(qa: Qa) -> None:
    lot = "LOT-NCRW"
    qa.ok(inspection(f"{lot}-FQC-1", lot))
    for step in STEPS["ncr"]:
        record = qa.step("ncr", "NCR-W1", step, lot=lot)
        status = qa.lot(lot)
        if step != "closed":
            assert [(n["ncr_id"], n["step"]) for n in status["open_ncrs"]] == [("NCR-W1", step)]
            assert status["state"] == "quarantined"
        assert qa.view(record["record_id"])["signature"]["meaning"] == SIGNED_BY[("ncr", step)][1]
    status = qa.lot(lot)
    assert status["open_ncrs"] == [] and status["state"] == "in_process"


@pytest.mark.req("ISO-8.5.2-1")
def test_capa_workflow_with_an_ineffective_action(qa: Qa) -> None:
    path = [
        "open",
        "investigation",
        "action_plan",
        "implementation",
        "effectiveness_check",
        "investigation",  # the action was not effective: back to the root cause
        "action_plan",
        "implementation",
        "effectiveness_check",
        "closed",
    ]
    lot = "LOT-CAPA"
    for i, step in enumerate(path):
        extra: dict[str, Any] = {"lot": lot}
        if i == 4:
            extra.update(effective=False, result="Drift recurred on day 3")
        qa.step("capa", "CAPA-W1", step, **extra)
        open_capas = qa.lot(lot)["open_capas"]
        expected = [] if step == "closed" else [{"capa_id": "CAPA-W1", "step": step}]
        assert [{k: c[k] for k in ("capa_id", "step")} for c in open_capas] == expected
        if i >= 2 and step != "closed":  # the action plan set the due date
            assert open_capas[0]["due_by"] == "2099-01-31T00:00:00Z"
            assert open_capas[0]["overdue"] is False
    assert "allowed: none (finished)" in qa.try_step("capa", "CAPA-W1", "open")["detail"]


@pytest.mark.parametrize(
    "steps_before", [STEPS["capa"][:i] for i in range(1, 6)], ids=lambda s: s[-1]
)
@pytest.mark.req("ISO-8.5.2-1")
def test_capa_cancelled_from_any_open_step(qa: Qa, steps_before: tuple[str, ...]) -> None:
    capa = "CAPA-C"
    for step in steps_before:
        qa.step("capa", capa, step)
    no_reason = workflow("capa", "CAPA-C-x", capa, "cancelled", reason=None)
    body = qa.refused(no_reason, "approver", "approved", 422)
    assert "reason" in body["detail"], body
    qa.step("capa", capa, "cancelled")
    for step in STEPS["capa"]:
        detail = qa.try_step("capa", capa, step)["detail"]
        assert f"cannot go from cancelled to {step}" in detail, detail
        assert "allowed: none (finished)" in detail, detail


@pytest.mark.req("P11-10k-1")
def test_change_workflow(qa: Qa) -> None:
    for step in STEPS["change"][:6]:
        record = qa.step("change", "CR-88", step)
        assert qa.view(record["record_id"])["current"]["step"] == step
        if step == "assessed":
            assert record["assessment"]["risk"] == "high"
    detail = qa.try_step("change", "CR-88", "requested")["detail"]
    assert "cannot go from closed to requested" in detail and "none (finished)" in detail


@pytest.mark.req("P11-10k-1")
def test_a_change_can_be_rejected_or_withdrawn_and_then_ends(qa: Qa) -> None:
    """Before issue 13 a change could only be approved."""
    for entity, path in (("CR-REJ", ["requested", "assessed", "rejected"]),
                         ("CR-WD", ["requested", "withdrawn"])):
        for step in path:
            qa.step("change", entity, step)
        detail = qa.try_step("change", entity, "approved")["detail"]
        assert f"cannot go from {path[-1]} to approved" in detail, detail
    # an inspector cannot reject (a QA approver's decision)
    qa.step("change", "CR-REJ2", "requested")
    qa.step("change", "CR-REJ2", "assessed")
    record = workflow("change", "CR-REJ2-x", "CR-REJ2", "rejected")
    assert "qa_approver" in qa.refused(record, "inspector", "approved", 403)["detail"]


def _path_to(rtype: str, state: str | None) -> list[str]:
    """The shortest sequence of steps that brings a new entity to ``state``."""
    paths: dict[str | None, list[str]] = {None: []}
    frontier: list[str | None] = [None]
    while frontier:
        current = frontier.pop(0)
        for step in NEXT_STEPS[rtype][current]:
            if step not in paths:
                paths[step] = [*paths[current], step]
                frontier.append(step)
    return paths[state]


def _kind(rtype: str, state: str | None, step: str) -> str:
    order = STEPS[rtype]
    if state is None:
        return "first-not-first"
    if not NEXT_STEPS[rtype][state]:
        return "after-terminal"
    if step == state:
        return "repeat"
    if step in order and order.index(step) < order.index(state):
        return "back"
    return "skip"


#: Every (entity, current step, refused step): all transitions NEXT_STEPS does not allow.
INVALID: list[tuple[str, str | None, str, str]] = [
    (rtype, state, step, _kind(rtype, state, step))
    for rtype in STEPS
    for state in (None, *STEPS[rtype])
    for step in STEPS[rtype]
    if step not in NEXT_STEPS[rtype][state]
]


def _by_entity_and_state(case: tuple[str, str | None]) -> tuple[str, str]:
    return case[0], case[1] or ""


INVALID_STATES: list[tuple[str, str | None]] = sorted(
    {(rtype, state) for rtype, state, _, _ in INVALID}, key=_by_entity_and_state
)


@pytest.mark.req("ISO-8.3-1", "ISO-8.5.2-1", "P11-10k-1")
def test_the_invalid_transition_table_covers_every_kind() -> None:
    kinds = {kind for *_, kind in INVALID}
    assert kinds == {"first-not-first", "after-terminal", "repeat", "back", "skip"}
    assert ("capa", "effectiveness_check", "investigation") not in {c[:3] for c in INVALID}
    assert len(INVALID) == 16 + 44 + 63


@pytest.mark.parametrize(
    ("rtype", "state"),
    INVALID_STATES,
    ids=lambda v: str(v),
)
@pytest.mark.req("ISO-8.3-1", "ISO-8.5.2-1", "P11-10k-1")
def test_invalid_transitions_are_409_naming_the_allowed_steps(
    qa: Qa, rtype: str, state: str | None
) -> None:
    lot = "LOT-TT"
    extra = {"lot": lot} if rtype == "ncr" else {}
    entity = f"{rtype.upper()}-T"
    for step in _path_to(rtype, state):
        qa.step(rtype, entity, step, **extra)
    allowed = NEXT_STEPS[rtype][state]
    failures = []
    for _, _, step, kind in (c for c in INVALID if c[:2] == (rtype, state)):
        body = qa.try_step(rtype, entity, step, **extra)
        detail = body["detail"]
        want = [
            f"{rtype} {entity}: cannot go from {state or 'nothing'} to {step}",
            f"allowed: {', '.join(allowed) or 'none (finished)'}",
        ]
        if not all(w in detail for w in want) or body.get("reasons") != [
            f"allowed next steps: {', '.join(allowed) or 'none'}"
        ]:
            failures.append((kind, step, body))
    assert not failures, failures
    # The refusals left the entity where it was: the allowed steps are still open.
    if allowed:
        qa.step(rtype, entity, allowed[0], **extra)


@pytest.mark.req("ISO-8.3-1")
def test_ncr_steps_stay_on_the_ncr_lot(qa: Qa) -> None:
    qa.step("ncr", "NCR-L", "open", lot="LOT-A")
    body = qa.try_step("ncr", "NCR-L", "evaluated", lot="LOT-B")
    assert "belongs to lot LOT-A" in body["detail"], body
    qa.step("ncr", "NCR-L", "evaluated", lot="LOT-A")
    body = qa.try_step("ncr", "NCR-L", "dispositioned", lot="LOT-B")
    assert "belongs to lot LOT-A" in body["detail"], body
    assert qa.lot("LOT-A")["open_ncrs"][0]["step"] == "evaluated"
    assert qa.client.get("/v1/lots/LOT-B", headers=qa.read).status_code == 404


# -- 3. corrections ---------------------------------------------------------------------------


@pytest.mark.req("P11-10e-1", "P11-50-1")
def test_correction_history_shows_who_what_old_new_when_why(qa: Qa) -> None:
    lot = "LOT-CORR"
    original = inspection(f"{lot}-FQC-1", lot, value=3.01)
    qa.ok(original)
    rid = original["record_id"]
    first = qa.view(rid)
    assert first["changed_since_first_entry"] is False and first["history"] == []

    reasons = [
        "Transcription error: the gauge printout LM-204/881 reads 3.02 mm",
        "Second transcription error: the calibrated re-read of LM-204/881 is 3.03 mm",
    ]
    times = []
    for i, (value, reason) in enumerate(zip((3.02, 3.03), reasons, strict=True), start=1):
        fix = correction(
            f"{lot}-CORR-{i}",
            rid,
            lot,
            [{"path": "/characteristics/0/value", "value": value}],
            reason,
        )
        times.append(int(datetime.now(UTC).timestamp()) + i)
        qa.ok(fix, "inspector", "authored", signed_at=times[-1])

    view = qa.view(rid)
    assert view["current"]["characteristics"][0]["value"] == 3.03
    assert view["original"]["characteristics"][0]["value"] == 3.01
    assert view["original"] == original
    assert view["changed_since_first_entry"] is True
    assert view["record_hash"] == record_hash(original).hex()  # the logged record is unchanged
    history = view["history"]
    assert [(h["old"], h["new"]) for h in history] == [(3.01, 3.02), (3.02, 3.03)]
    for i, h in enumerate(history):
        assert h["correction"] == f"{lot}-CORR-{i + 1}"
        assert h["path"] == "/characteristics/0/value"
        assert h["reason"] == reasons[i]
        assert h["signer"].lower() == qa.address("inspector")
        assert h["printed_name"] == NAMES["inspector"]
        assert h["meaning"] == "authored"
        assert is_utc(h["signed_at"]) and h["signed_at"] == utc(times[i])

    status = qa.lot(lot)
    assert status["changed_since_first_entry"] == [rid]
    flags = {i["record_id"]: i["changed_since_first_entry"] for i in status["inspections"]}
    assert flags == {rid: True}
    timeline = {t["record_id"]: t for t in status["timeline"]}
    assert timeline[rid]["changed_since_first_entry"] is True
    assert [t["type"] for t in status["timeline"]] == ["inspection", "correction", "correction"]
    assert timeline[f"{lot}-CORR-1"]["changed_since_first_entry"] is False


@pytest.mark.req("P11-10e-1", "P11-10f-1")
def test_correction_of_a_failed_critical_measurement_unblocks_release(qa: Qa) -> None:
    lot = "LOT-CFIX"
    failed = inspection(f"{lot}-FQC-1", lot, value=3.12)
    qa.ok(failed)
    rid = failed["record_id"]
    reasons = qa.release_refused(lot, evidence(failed))["reasons"]
    assert has(reasons, "outer diameter failed in", rid)
    # Schema consistency holds for the corrected record: an out-of-spec pass is refused.
    inconsistent = correction(
        f"{lot}-CORR-0",
        rid,
        lot,
        passing_fix(3.12),
        "Verdict wrongly entered as fail by the operator",
    )
    body = qa.refused(inconsistent, "approver", "authored", 422)
    assert "cannot carry a pass verdict" in body["detail"], body
    fix = correction(
        f"{lot}-CORR-1", rid, lot, passing_fix(3.02), "Decimal slip: the printout reads 3.02 mm"
    )
    # Only a QA approver may change a verdict (docs/quality.md, Authority).
    body = qa.refused(fix, "inspector", "authored", 403)
    assert "qa_approver" in body["detail"], body
    qa.ok(fix, "approver", "authored")
    # A verdict changed by one approver counts once a second approver co-signs it.
    assert qa.lot(lot)["release_blockers"] == [
        f"correction {lot}-CORR-1 changed /characteristics/0/verdict, /verdict of {rid}: a "
        f"second QA approver must co-sign it (a review of {lot}-CORR-1)"]
    qa.ok({"record_id": f"{lot}-REV", "type": "review", "schema": "review/1",
           "reviews": fix["record_id"], "record_hash": record_hash(fix).hex(), "lot": lot,
           "statement": "Printout checked: 3.02 mm"}, "approver2", "approved")
    assert qa.lot(lot)["release_blockers"] == []
    qa.ok(release(f"{lot}-REL", lot, evidence(failed)), "approver2", "released")
    assert qa.lot(lot)["state"] == "released"


@pytest.mark.req("P11-10e-2")
def test_corrections_that_are_refused(qa: Qa) -> None:
    lot = "LOT-CBAD"
    target = inspection(f"{lot}-FQC-1", lot)
    qa.ok(target)
    rid = target["record_id"]
    change = [{"path": "/characteristics/0/value", "value": 3.02}]
    reason = "Transcription error against the gauge printout"

    body = qa.refused(
        correction("CB-1", rid, "LOT-ELSE", change, reason), "inspector", "authored", 422
    )
    assert "correction lot" in body["detail"] and lot in body["detail"], body
    qa.refused(correction("CB-2", rid, None, change, reason), "inspector", "authored", 422)
    body = qa.refused(correction("CB-3", rid, lot, change, None), "inspector", "authored", 422)
    assert "reason" in body["detail"], body
    qa.refused(correction("CB-4", rid, lot, change, "typo"), "inspector", "authored", 422)
    body = qa.refused(
        correction("CB-5", rid, lot, [{"path": "/lot", "value": "LOT-ELSE"}], reason),
        "inspector",
        "authored",
        422,
    )
    assert "cannot be corrected" in body["detail"], body
    body = qa.refused(
        correction("CB-6", rid, lot, [{"path": "/no_such_field", "value": 1}], reason),
        "inspector",
        "authored",
        422,
    )
    assert "no such field" in body["detail"], body
    body = qa.refused(
        correction("CB-7", "NO-SUCH", lot, change, reason), "inspector", "authored", 404
    )
    assert "NO-SUCH" in body["detail"], body

    rel = release(f"{lot}-REL", lot, evidence(target))
    qa.ok(rel, "approver", "released")
    body = qa.refused(
        correction(
            "CB-8", rel["record_id"], lot, [{"path": "/decision", "value": "rejected"}], reason
        ),
        "approver",
        "authored",
        422,
    )
    assert "release record cannot be corrected" in body["detail"], body
    signer_record = f"signer-{qa.address('inspector')}"
    body = qa.refused(
        correction("CB-9", signer_record, None, [{"path": "/name", "value": "Mallory"}], reason),
        "inspector",
        "authored",
        422,
    )
    assert "signer record cannot be corrected" in body["detail"], body
    # Corrections are not corrected either: a new correction supersedes.
    qa.ok(correction("CB-10", rid, lot, change, reason))
    body = qa.refused(
        correction("CB-11", "CB-10", lot, [{"path": "/reason", "value": reason + "!"}], reason),
        "inspector",
        "authored",
        422,
    )
    assert "correction record cannot be corrected" in body["detail"], body
    # Authority follows the corrected record: only an approver may touch an NCR closure.
    ncr = f"NCR-{lot}"
    for step in STEPS["ncr"]:
        closure = qa.step("ncr", ncr, step, lot=lot)
    body = qa.refused(
        correction(
            "CB-12", closure["record_id"], lot, [{"path": "/summary", "value": "x"}], reason
        ),
        "inspector",
        "authored",
        403,
    )
    assert "qa_approver" in body["detail"], body
    assert qa.view(rid)["current"]["characteristics"][0]["value"] == 3.02


# -- 4. lot status ----------------------------------------------------------------------------


@pytest.mark.req("ISO-7.5.8-1")
def test_lot_status_follows_the_lot(qa: Qa) -> None:
    lot = "LOT-STAT"
    ncr, capa_via_ncr, capa_on_lot = f"NCR-{lot}", "CAPA-NCR", "CAPA-LOT"
    submitted: list[str] = []

    def ok(record: dict[str, Any], who: str = "inspector", meaning: str = "authored") -> None:
        qa.ok(record, who, meaning)
        submitted.append(record["record_id"])

    def step(rtype: str, entity: str, name: str, **fields: Any) -> None:
        submitted.append(qa.step(rtype, entity, name, **fields)["record_id"])

    assert qa.client.get(f"/v1/lots/{lot}", headers=qa.read).status_code == 404
    failed = inspection(f"{lot}-IPQC-1", lot, value=2.90, stage="in_process")
    ok(failed)
    status = qa.lot(lot)
    assert status["lot"] == lot and status["state"] == "in_process"
    assert status["product"] == PRODUCT
    assert status["inspections"][0]["verdict"] == "fail"
    assert status["inspections"][0]["critical_failures"] == ["outer diameter"]
    assert status["open_ncrs"] == [] and status["open_capas"] == []
    assert status["open_alerts"] == [] and status["release"] is None

    step("ncr", ncr, "open", lot=lot, refs=[failed["record_id"]])
    status = qa.lot(lot)
    assert status["state"] == "quarantined"
    assert status["open_ncrs"] == [
        {
            "ncr_id": ncr,
            "refs": [failed["record_id"]],
            "step": "open",
            "nature": STEP_FIELDS["ncr"]["open"]["nature"],
        }
    ]
    step("ncr", ncr, "evaluated", lot=lot)
    step("ncr", ncr, "dispositioned", lot=lot, capa_id=capa_via_ncr)
    ok(inspection(f"{lot}-IPQC-RW", lot, stage="in_process"))  # the rework re-inspected
    qa.step("capa", capa_via_ncr, "open", ncr_id=ncr)  # no lot: linked through the NCR
    step("capa", capa_on_lot, "open", lot=lot)
    status = qa.lot(lot)
    assert sorted(status["open_capas"], key=lambda c: c["capa_id"]) == [
        {"capa_id": capa_on_lot, "step": "open"},
        {"capa_id": capa_via_ncr, "step": "open"},
    ]
    assert status["open_ncrs"][0]["step"] == "dispositioned"
    assert status["open_ncrs"][0]["capa_id"] == capa_via_ncr
    step("ncr", ncr, "closed", lot=lot)
    qa.step("capa", capa_via_ncr, "investigation")
    assert qa.lot(lot)["state"] == "in_process"

    ok(alert(f"{lot}-ALERT-1", "ALM-S", lot), "inspector", "authored")
    status = qa.lot(lot)
    assert status["state"] == "quarantined"
    assert len(status["open_alerts"]) == 1 and "alert ALM-S is open" in status["open_alerts"][0]
    assert {"capa_id": capa_via_ncr, "step": "investigation"} in status["open_capas"]
    step("ncr", "NCR-S2", "open", lot=lot, refs=["ALM-S"])
    step("ncr", "NCR-S2", "evaluated", lot=lot)
    step(
        "ncr",
        "NCR-S2",
        "dispositioned",
        lot=lot,
        disposition="use_as_is",
        rationale="Temperature excursion of 6 minutes; validated window allows 10 minutes",
        concession=concession("die temperature"),
    )
    status = qa.lot(lot)
    assert status["open_alerts"] == [] and status["state"] == "quarantined"  # NCR still open
    step("ncr", "NCR-S2", "closed", lot=lot)
    qa.step("capa", capa_on_lot, "cancelled")  # later CAPA steps need not carry the lot
    recheck = inspection(f"{lot}-IPQC-2", lot, stage="in_process")
    final = inspection(f"{lot}-FQC-1", lot)
    ok(recheck)
    ok(final)
    status = qa.lot(lot)
    assert status["state"] == "in_process" and status["release_blockers"] == []
    assert status["open_capas"] == [{"capa_id": capa_via_ncr, "step": "investigation"}]
    assert [i["verdict"] for i in status["inspections"]] == ["fail", "pass", "pass", "pass"]

    rel = release(f"{lot}-REL", lot, evidence(failed, recheck, final))
    ok(rel, "approver", "released")
    status = qa.lot(lot)
    assert status["state"] == "released"
    sig = status["release"]["signature"]
    assert status["release"]["record_id"] == rel["record_id"]
    assert status["release"]["decision"] == "released"
    assert status["release"]["concession"] is None
    assert sig["signer"].lower() == qa.address("approver")
    assert sig["printed_name"] == NAMES["approver"]
    assert sig["meaning"] == "released" and is_utc(sig["signed_at"])

    timeline = status["timeline"]
    assert [t["record_id"] for t in timeline] == submitted  # acceptance order, lot records only
    for entry in timeline:
        s = entry["signature"]
        assert set(s) == {"signer", "printed_name", "signed_at", "meaning"}, entry
        assert s["printed_name"] in NAMES.values(), entry
        assert is_utc(s["signed_at"]) and is_utc(entry["accepted_at"]), entry
    accepted = [t["accepted_at"] for t in timeline]
    assert accepted == sorted(accepted)
    assert [t["step"] for t in timeline if t["type"] == "ncr"][:4] == list(STEPS["ncr"])
    by_id = {t["record_id"]: t for t in timeline}
    assert by_id[f"{lot}-ALERT-1"]["signature"]["meaning"] == "authored"
    assert by_id[f"{lot}-ALERT-1"]["signature"]["printed_name"] == NAMES["inspector"]

    view = qa.view(final["record_id"])
    assert view["signature"]["printed_name"] == NAMES["inspector"]
    assert view["signature"]["meaning"] == "authored"
    assert view["signature"]["signer"].lower() == qa.address("inspector")
    assert is_utc(view["signature"]["signed_at"]) and view["lot"] == lot


@pytest.mark.req("ISO-7.5.8-1")
def test_rejected_lot_and_unknown_lot(qa: Qa) -> None:
    lot = "LOT-RJ"
    final = inspection(f"{lot}-FQC-1", lot, value=3.3)
    qa.ok(final)
    qa.ok(release(f"{lot}-REJ", lot, evidence(final), "rejected"), "approver", "released")
    status = qa.lot(lot)
    assert status["state"] == "rejected" and status["release"]["decision"] == "rejected"
    resp = qa.client.get("/v1/lots/NO-SUCH-LOT", headers=qa.read)
    assert resp.status_code == 404 and "NO-SUCH-LOT" in resp.json()["detail"], resp.text
    assert qa.client.get("/v1/records/NO-SUCH", headers=qa.read).status_code == 404
    assert qa.client.get(f"/v1/lots/{lot}").status_code == 401
    assert qa.client.get(f"/v1/records/{lot}-REJ").status_code == 401


# -- 5. the demo story ------------------------------------------------------------------------


@pytest.mark.req("P11-10f-1", "A11-15-1", "ISO-8.3-1", "ISO-8.5.2-1", "P11-50-1")
def test_demo_story_end_to_end(qa: Qa) -> None:
    lot, material = "L261122-DEMO", "RM-DEMO"
    people = {"inspector": "inspector", "approver": "approver", "reviewer": "approver2"}
    for role, meaning, record in master_data("DEMO"):
        resp = qa.post(record, people[role], meaning)
        assert resp.status_code == 201, (record["record_id"], resp.text)
    # Made after the master data is approved (as sample_lot says): the incoming inspection's
    # time is a receipt's, judged against the supplier's status then.
    for role, meaning, record in sample_lot(lot, material, "DEMO"):
        resp = qa.post(record, people[role], meaning)
        assert resp.status_code == 201, (record["record_id"], resp.text)
    status = qa.lot(lot)
    assert status["state"] == "released"
    assert status["release_blockers"] == []
    assert status["open_ncrs"] == [] and status["open_alerts"] == []
    assert status["release"]["decision"] == "released"
    assert status["release"]["concession"] is None
    assert status["changed_since_first_entry"] == [f"{lot}-IQC-001"]
    assert [(c["capa_id"], c["step"], c["overdue"]) for c in status["open_capas"]] == [
        (f"CAPA-{lot}", "action_plan", False)]
    corrected = qa.view(f"{lot}-IQC-001")
    assert corrected["current"]["characteristics"][1]["value"] == 47.1
    assert corrected["original"]["characteristics"][1]["value"] == 46.2


# -- findings: rules that look wrong for a regulated QA setting --------------------------------


@pytest.mark.req("P11-10e-2")
def test_workflow_state_and_identity_fields_cannot_be_corrected(qa: Qa) -> None:
    """An inspector alone must not be able to 'correct' an NCR into closed use_as_is (which
    would lift the failed critical inspection and the alert it references), nor move any other
    workflow or identity field past its own signed steps."""
    lot = "LOT-XSTEP"
    failed = inspection(f"{lot}-IPQC-1", lot, value=3.12, stage="in_process")
    qa.ok(failed)
    qa.ok(inspection(f"{lot}-FQC-1", lot))
    qa.ok(alert(f"{lot}-ALERT-1", "ALM-X", lot), "inspector", "authored")
    opened = qa.step(
        "ncr",
        f"NCR-{lot}",
        "open",
        lot=lot,
        refs=[failed["record_id"], "ALM-X"],
    )
    # A step cannot carry a later step's fields, so it cannot be "corrected" into them either.
    early = workflow("ncr", f"NCR-{lot}-EARLY", f"NCR-{lot}-E", "open", lot=lot,
                     disposition="use_as_is", rationale="(to be decided by QA)")
    problem = qa.refused(early, "inspector", "authored", 422)
    assert "cannot carry disposition (step dispositioned)" in problem["detail"], problem
    capa = qa.step("capa", f"CAPA-{lot}", "open", lot=lot)
    cases = [
        (opened, "/step", "closed"),
        (opened, "/ncr_id", "NCR-OTHER"),
        (opened, "/refs", []),
        (opened, "/disposition", "scrap"),
        (capa, "/step", "closed"),
        (capa, "/capa_id", "CAPA-OTHER"),
        (failed, "/stage", "incoming"),
        (failed, "/lot", "LOT-ELSE"),
        (failed, "/record_id", "X-1"),
    ]
    for i, (target, path, value) in enumerate(cases):
        fix = correction(
            f"{lot}-CORR-{i}",
            target["record_id"],
            lot,
            [{"path": path, "value": value}],
            "Wrong value selected when the record was entered",
        )
        body = qa.refused(fix, "inspector", "authored", 422)
        assert f"{path[1:]} cannot be corrected" in body["detail"], (path, body)
    status = qa.lot(lot)
    assert status["state"] == "quarantined"
    assert len(status["release_blockers"]) == 3, status["release_blockers"]


@pytest.mark.parametrize(
    "path", ["/characteristics/0/critical", "/characteristics/0", "/characteristics"]
)
@pytest.mark.req("ISO-8.2.6-1", "P11-10e-2")
def test_only_an_approver_can_clear_a_failed_critical_characteristic(qa: Qa, path: str) -> None:
    lot = "LOT-XCRIT"
    failed = inspection(f"{lot}-IPQC-1", lot, value=3.12, stage="in_process")
    qa.ok(failed)
    qa.ok(inspection(f"{lot}-FQC-1", lot))
    passing = {**failed["characteristics"][0], "value": 3.02, "verdict": "pass"}
    value = {
        "/characteristics/0/critical": False,
        "/characteristics/0": passing,
        "/characteristics": [passing],
    }[path]
    fix = correction(
        f"{lot}-CORR-1",
        failed["record_id"],
        lot,
        [{"path": path, "value": value}],
        "Transcription error on the inspection sheet",
    )
    resp = qa.post(fix, "inspector", "authored")
    assert resp.status_code in (403, 422), resp.text
    if path == "/characteristics/0/critical":
        # An inspector may not (403); an approver may not either: its specification says
        # critical, and no correction may say otherwise (409).
        assert resp.status_code == 403, resp.text
        resp = qa.post(fix, "approver", "authored")
        assert resp.status_code == 409, resp.text
        assert "critical False, the specification says True" in resp.json()["detail"], resp.text


@pytest.mark.req("P11-10f-1")
def test_a_repeated_alert_id_is_not_cleared_by_an_old_ncr(qa: Qa) -> None:
    lot = "LOT-ALMID"
    qa.ok(inspection(f"{lot}-FQC-1", lot))
    qa.ok(alert(f"{lot}-ALERT-1", "ALM-TZ2", lot), "inspector", "authored")
    ncr = f"NCR-{lot}"
    qa.step("ncr", ncr, "open", lot=lot, refs=["ALM-TZ2"])
    for step in ("evaluated", "dispositioned", "closed"):
        qa.step("ncr", ncr, step, lot=lot)
    assert qa.lot(lot)["state"] == "in_process"
    resp = qa.post(alert(f"{lot}-ALERT-2", "ALM-TZ2", lot), "inspector", "authored")
    status = qa.lot(lot)
    assert resp.status_code == 409 or (
        status["state"] == "quarantined" and status["open_alerts"]
    ), (resp.text, status["open_alerts"])


@pytest.mark.req("P11-50-1")
def test_printed_name_is_the_name_at_signing(qa: Qa) -> None:
    lot = "LOT-NAME"
    rec = inspection(f"{lot}-FQC-1", lot)
    qa.ok(rec)
    inspector = qa.people["inspector"]
    regrant = {
        "record_id": f"signer-{inspector.address.lower()}-2",
        "type": "signer",
        "schema": "signer/1",
        "action": "grant",
        "address": inspector.address,
        "name": "Someone Else",
        "roles": ["qa_inspector"],
    }
    resp = qa.client.post(
        "/v1/records", json=sign(qa.runtime, regrant, admin(qa.runtime), "approved")
    )
    assert resp.status_code == 201, resp.text
    assert qa.view(rec["record_id"])["signature"]["printed_name"] == NAMES["inspector"]


@pytest.mark.req("CFR211-192-1")
def test_reinspection_must_cover_the_failed_characteristic(qa: Qa, specs: Any) -> None:
    """A passing in-process inspection of another characteristic (under a specification of its
    own) does not supersede the failed one."""
    lot = "LOT-SUPER"
    wall = {**specification("in_process"), "record_id": "SPEC-wall-v1", "spec_id": "SPEC-wall",
            "change_id": "CHG-SPEC-wall-v1"}
    wall["characteristics"] = [{**wall["characteristics"][0], "name": "wall thickness",
                                "lower": 0.2, "upper": 0.3}]
    approve_spec(qa.client, qa.runtime, wall, *specs)
    failed = inspection(f"{lot}-IPQC-1", lot, value=3.12, stage="in_process")
    other = inspection(f"{lot}-IPQC-2", lot, stage="in_process")
    other["specification"] = {"spec_id": "SPEC-wall", "version": 1}
    other["characteristics"][0].update(name="wall thickness", lower=0.2, upper=0.3, value=0.25)
    final = inspection(f"{lot}-FQC-1", lot)
    for record in (failed, other, final):
        qa.ok(record)
    resp = qa.post(
        release(f"{lot}-REL", lot, evidence(failed, other, final)), "approver", "released"
    )
    assert resp.status_code == 409, resp.text


@pytest.mark.req("P11-10f-1", "FLOOR-5")
def test_out_of_limit_reading_blocks_release_until_an_ncr_dispositions_it(qa: Qa) -> None:
    """DESIGN: devices sign only scans and readings; a reading outside its limits on a lot
    blocks release by itself until an NCR referencing it is dispositioned."""
    lot = "LOT-PLC"
    reading = {"record_id": f"{lot}-TT101-1", "type": "process_reading",
               "schema": "process_reading/1", "tag": "TT-101 die temperature", "value": 191.5,
               "unit": "degC", "lower": 175.0, "upper": 190.0, "lot": lot, "line": "3",
               "read_at": "2026-11-22T09:00:00Z"}
    qa.ok(reading, "device", "recorded")
    final = inspection(f"{lot}-FQC-1", lot)
    qa.ok(final)
    assert qa.lot(lot)["state"] == "quarantined"
    proof = [{"record_id": final["record_id"], "record_hash": record_hash(final).hex()}]
    problem = qa.refused(release(f"{lot}-REL", lot, proof), "approver", "released", 409)
    assert has(problem["reasons"], "process reading", "TT-101", "out of limits"), problem
    # An NCR may only reference what exists on the lot.
    bad = qa.try_step("ncr", "NCR-PLC-X", "open", lot=lot, refs=["NO-SUCH-REF"])
    assert "name no record or alert of lot" in bad["detail"], bad
    qa.step("ncr", "NCR-PLC", "open", lot=lot, refs=[reading["record_id"]])
    qa.step("ncr", "NCR-PLC", "evaluated", lot=lot)
    qa.step("ncr", "NCR-PLC", "dispositioned", lot=lot)
    qa.step("ncr", "NCR-PLC", "closed", lot=lot)
    qa.ok(release(f"{lot}-REL", lot, proof), "approver", "released")
    # Devices may no longer sign alerts (DESIGN: scans and readings only).
    alarm = alert(f"{lot}-ALERT-D", "ALM-D", lot)
    assert qa.post(alarm, "device", "recorded").status_code == 403


@pytest.mark.req("ISO-8.5.2-1")
def test_capa_content_links_resolve_and_effectiveness_waits_for_its_interval(qa: Qa) -> None:
    """Before issue 13 linked ids need not exist, the effectiveness check could follow the
    implementation at once on no data, and the CAPA's own author could cancel it."""
    lot = "LOT-CAPC"
    body = qa.try_step("capa", "CAPA-C1", "open", ncr_id="NCR-NOWHERE")
    assert "ncr_id NCR-NOWHERE names no NCR" in body["detail"], body
    for step, extra in (("open", {}), ("investigation", {}),
                        ("action_plan", {"check_after_days": 30,
                                         "due_by": "2020-01-01T00:00:00Z"}),
                        ("implementation", {})):
        qa.step("capa", "CAPA-C1", step, lot=lot, **extra)
    overdue = qa.lot(lot)["open_capas"][0]
    assert overdue["overdue"] is True and overdue["due_by"] == "2020-01-01T00:00:00Z"
    body = qa.try_step("capa", "CAPA-C1", "effectiveness_check", data=["NOT-LOGGED"])
    assert "cites NOT-LOGGED, not logged records" in body["detail"], body
    body = qa.try_step("capa", "CAPA-C1", "effectiveness_check", data=[qa._last["CAPA-C1"]])
    assert "planned 30 day(s) after the implementation" in body["detail"], body
    # the person who opened a CAPA does not cancel it
    qa.ok(workflow("capa", "CAPA-C3-o", "CAPA-C3", "open", lot=lot), "approver", "authored")
    cancel = workflow("capa", "CAPA-C3-x", "CAPA-C3", "cancelled")
    body = qa.refused(cancel, "approver", "approved", 403)
    assert "(capa_owner_canceller)" in body["detail"], body
    qa.ok(cancel, "approver2", "approved")
    # an NCR naming a CAPA closes once the CAPA exists
    ncr = "NCR-CAPC"
    qa.step("ncr", ncr, "open", lot=lot)
    qa.step("ncr", ncr, "evaluated", lot=lot)
    qa.step("ncr", ncr, "dispositioned", lot=lot, disposition="scrap", capa_id="CAPA-C2")
    body = qa.try_step("ncr", ncr, "closed", lot=lot)
    assert "its CAPA CAPA-C2 was never opened" in body["detail"], body
    qa.step("capa", "CAPA-C2", "open", ncr_id=ncr)
    qa.step("ncr", ncr, "closed", lot=lot)


@pytest.mark.req("ISO-8.2.6-1")
def test_a_no_concession_policy_admits_no_use_as_is_on_a_specification_failure(
    qa: Qa,
) -> None:
    """The pharmaceutical profile (concessions = "none"): a failed result is reworked, scrapped
    or returned, never used as is."""
    from dataclasses import replace

    submitter = qa.runtime.ledger.submitter
    submitter.policy = replace(submitter.policy, concessions="none")
    lot = "LOT-PHARMA"
    _, _, ncr = failed_lot(qa, lot)
    body = qa.refused(disposition(qa, ncr, lot, "use_as_is",
                                  concession=concession("outer diameter")),
                      "approver", "approved", 409)
    assert "admits no concession on a specification failure (outer diameter)" in body["detail"]
    qa.ok(disposition(qa, ncr, lot, "scrap"), "approver", "approved")


@pytest.mark.req("P11-10f-1")
def test_only_a_performed_inspection_fulfils_a_required_stage(qa: Qa) -> None:
    """Before issue 13 release gating ignored the meaning an inspection was signed with."""
    lot = "LOT-MEANING"
    final = inspection(f"{lot}-FQC-1", lot)
    qa.ok(final, "approver", "verified")
    reasons = qa.release_refused(lot, evidence(final))["reasons"]
    assert reasons == ["required inspection missing: no final inspection on the lot"], reasons
    performed = inspection(f"{lot}-FQC-2", lot)
    qa.ok(performed)
    qa.ok(release(f"{lot}-REL", lot, evidence(final, performed)), "approver2", "released")
