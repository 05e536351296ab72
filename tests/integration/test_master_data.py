"""Quality master data under change control, through the HTTP API: approved specifications,
calibrated equipment, approved suppliers (issue 12).

Each rule is shown refused (or the lot blocked) by the service, naming the rule; then, with the
same record slipped into the log behind the service's back by a database superuser, named by
`evledger audit` (rule_broken) and by the offline bundle verifier."""

from __future__ import annotations

import io
import json
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient

from ledger.runtime import Runtime
from tests.helpers import (
    EQUIPMENT,
    GTIN,
    approve_spec,
    bearer,
    calibration,
    change,
    equipment,
    inspection,
    master_data,
    now_iso,
    register,
    spec_id,
    specification,
    supplier,
    wait_anchored,
)
from tests.integration.test_bundle import export, final_with_proof, verify
from tests.integration.test_domain_workflows import evidence, release, workflow
from tests.integration.test_rules_replay import Plant, only_rule_broken

pytestmark = [
    pytest.mark.integration,
    pytest.mark.req("ISO-4.2.4-1", "ISO-7.6-1", "ISO-7.4-1", "P11-10k-1"),
]

Specs = tuple[LocalAccount, LocalAccount]


def post(p: Plant, record: dict[str, Any], who: LocalAccount, meaning: str) -> Any:
    from tests.helpers import sign

    return p.client.post("/v1/records", json=sign(p.runtime, record, who, meaning))


def refused(p: Plant, record: dict[str, Any], who: LocalAccount, meaning: str,
            status: int = 409) -> str:
    """The refusal's detail and reasons (the service's answer, as one text)."""
    resp = post(p, record, who, meaning)
    assert resp.status_code == status, resp.text
    body = resp.json()
    return "\n".join([str(body["detail"]), *body.get("reasons", [])])


def lot_view(p: Plant, lot: str) -> dict[str, Any]:
    resp = p.client.get(f"/v1/lots/{lot}", headers=bearer(p.runtime, p.approver))
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def count(p: Plant) -> int:
    return int(p.client.get("/v1/status").json()["records"])


def widened(record: dict[str, Any], lower: float, upper: float) -> dict[str, Any]:
    out = dict(record)
    out["characteristics"] = [{**c, "lower": lower, "upper": upper}
                              for c in record["characteristics"]]
    return out


# -- specifications ---------------------------------------------------------------------------


def test_an_inspection_with_wider_limits_than_its_specification_is_refused(
    plant: Plant, specs: Specs
) -> None:
    """The value 3.08 fails the approved 2.95..3.05; written with limits 2.9..3.1 it would pass."""
    before = count(plant)
    bad = widened(inspection("W-1", lot="LOT-W", value=3.08), 2.9, 3.1)
    bad["characteristics"][0]["verdict"] = bad["verdict"] = "pass"
    detail = refused(plant, bad, plant.inspector, "authored")
    assert "differs from specification SPEC-final version 1" in detail
    assert "outer diameter: limits 2.9..3.1 mm, the specification's are 2.95..3.05 mm" in detail
    assert count(plant) == before
    # the same measurement with the specification's limits is a failure, and is accepted
    assert post(plant, inspection("W-2", lot="LOT-W", value=3.08), plant.inspector,
                "authored").status_code == 201
    # every other difference is named too
    other = inspection("W-3", lot="LOT-W")
    other["characteristics"] = [{**other["characteristics"][0], "unit": "in", "critical": False},
                                {"name": "wall", "unit": "mm", "value": 1.0, "verdict": "pass"}]
    detail = refused(plant, other, plant.inspector, "authored")
    assert "limits 2.95..3.05 in" in detail and "critical False" in detail
    assert "wall: not in the specification" in detail
    short = {**inspection("W-4", lot="LOT-W"), "sample_size": 5}
    assert "sample size 5 is below the specification's 32" in refused(
        plant, short, plant.inspector, "authored")


def test_an_inspection_citing_a_superseded_version_is_refused(
    plant: Plant, specs: Specs
) -> None:
    author, approver = specs
    before_v2 = now_iso()
    time.sleep(1.1)  # approval times are signing times, to the second
    approve_spec(plant.client, plant.runtime, specification(version=2, limits=(2.96, 3.04)),
                 author, approver)
    detail = refused(plant, inspection("S-1", lot="LOT-S"), plant.inspector, "authored")
    assert "specification SPEC-final version 1 is not in force" in detail
    assert "superseded by version 2" in detail
    # made while version 1 was in force, it is accepted; version 2 now, with its own limits
    assert post(plant, inspection("S-2", lot="LOT-S", inspected_at=before_v2),
                plant.inspector, "authored").status_code == 201
    v2 = widened(inspection("S-3", lot="LOT-S", version=2), 2.96, 3.04)
    assert post(plant, v2, plant.inspector, "authored").status_code == 201
    # a version that does not exist, and a version not approved yet
    assert "version 7 does not exist (latest: version 2)" in refused(
        plant, inspection("S-4", lot="LOT-S", version=7), plant.inspector, "authored")
    cid = "CHG-v3"
    assert post(plant, change(cid, "requested", specifications=[
        {"spec_id": spec_id("final"), "version": 3}]), author, "authored").status_code == 201
    v3 = specification(version=3, change_id=cid, limits=(2.97, 3.03))
    assert post(plant, v3, author, "authored").status_code == 201
    detail = refused(plant, widened(inspection("S-5", lot="LOT-S", version=3), 2.97, 3.03),
                     plant.inspector, "authored")
    assert "version 3 is not approved yet; version 2 is in force" in detail


def test_an_inspection_without_a_specification_is_refused_naming_it(
    plant: Plant, specs: Specs
) -> None:
    old = inspection("N-1", lot="LOT-N")
    old.update(schema="inspection/1", equipment=["LM-204"])
    del old["specification"]
    for c in old["characteristics"]:
        del c["equipment"]
    detail = refused(plant, old, plant.inspector, "authored")
    assert f"product {GTIN} at stage final must cite the approved specification" in detail
    missing = inspection("N-2", lot="LOT-N")
    missing["specification"] = {"spec_id": "SPEC-none", "version": 1}
    assert "specification SPEC-none version 1 does not exist" in refused(
        plant, missing, plant.inspector, "authored")
    other_stage = inspection("N-3", lot="LOT-N", stage="incoming")
    other_stage["specification"] = {"spec_id": spec_id("final"), "version": 1}
    assert "is for product" in refused(plant, other_stage, plant.inspector, "authored")


def test_a_specification_approved_by_its_own_author_is_refused(
    plant: Plant, specs: Specs
) -> None:
    both = register(plant.client, plant.runtime, ("qa_inspector", "qa_approver"), "Sam Both")
    cid = "CHG-own"
    spec = specification(stage="final", version=2, change_id=cid, limits=(2.96, 3.04))
    ref = [{"spec_id": spec["spec_id"], "version": 2}]
    assert post(plant, change(cid, "requested", specifications=ref), plant.inspector,
                "authored").status_code == 201
    assert post(plant, spec, both, "authored").status_code == 201
    assert post(plant, change(cid, "assessed"), both, "reviewed").status_code == 201
    detail = refused(plant, change(cid, "approved"), both, "approved", status=403)
    assert "four eyes: specification SPEC-final version 2 was authored by" in detail
    assert "Sam Both" in detail
    # version 1 stays in force
    assert post(plant, inspection("O-1", lot="LOT-O"), plant.inspector,
                "authored").status_code == 201
    # someone else approves it
    assert post(plant, change(cid, "approved"), plant.approver, "approved").status_code == 201


def test_four_eyes_compare_persons_not_keys(plant: Plant, specs: Specs, tmp_path: Path) -> None:
    """The author of a specification version cannot approve it with another key of their own
    (403 naming it); slipped in by a superuser, the audit and the bundle verifier name it."""
    from tests.integration.test_duties import person_key

    p = plant
    ann_a = person_key(p, ["qa_inspector"], "Ann Able", "E-100")
    ann_b = person_key(p, ["qa_approver"], "Ann Able", "E-100")
    cid = "CHG-twokeys"
    spec = specification(stage="final", version=2, change_id=cid, limits=(2.90, 3.10))
    ref = [{"spec_id": spec["spec_id"], "version": 2}]
    assert post(p, change(cid, "requested", specifications=ref), p.inspector,
                "authored").status_code == 201
    assert post(p, spec, ann_a, "authored").status_code == 201
    assert post(p, change(cid, "assessed"), p.inspector, "reviewed").status_code == 201
    detail = refused(p, change(cid, "approved"), ann_b, "approved", status=403)
    assert "four eyes: specification SPEC-final version 2 was authored by" in detail
    assert "the same person as" in detail, detail
    p.slip_in(change(cid, "approved"), ann_b, "approved")
    # the service now takes version 2 (wider limits, approved by its author) as in force
    loose = widened(inspection("TK-1", lot="LOT-TK", value=3.08, version=2), 2.9, 3.1)
    loose["characteristics"][0]["verdict"] = loose["verdict"] = "pass"
    p.submit(loose, p.inspector, "authored")
    code, report, _ = bundle_of(p, "LOT-TK", "TK-1", tmp_path)  # once TK-1 is anchored
    rules = next(c for c in report["checks"] if c["check"] == "rules")
    assert code == 1 and f"{cid}-approved (specification): four eyes" in rules["detail"], rules
    found = {f.record_id: f.detail for f in p.audit()}
    assert set(found) == {f"{cid}-approved", "TK-1"}, found
    assert "four eyes" in found[f"{cid}-approved"] and "the same person" in found[
        f"{cid}-approved"]


def test_change_control_of_a_specification_is_enforced(plant: Plant, specs: Specs) -> None:
    author, approver = specs
    # a version must follow the last one; the change must exist and name it, not be approved
    assert "the next version is 2" in refused(
        plant, specification(version=3, change_id="CHG-x"), author, "authored")
    assert "change CHG-missing does not exist" in refused(
        plant, specification(version=2, change_id="CHG-missing"), author, "authored")
    assert post(plant, change("CHG-y", "requested"), author, "authored").status_code == 201
    assert "does not name it" in refused(
        plant, specification(version=2, change_id="CHG-y"), author, "authored")
    # approving a change before the specification it names is logged
    ref = [{"spec_id": spec_id("final"), "version": 2}]
    assert post(plant, change("CHG-z", "requested", specifications=ref), author,
                "authored").status_code == 201
    assert post(plant, change("CHG-z", "assessed"), author, "reviewed").status_code == 201
    assert "has not been logged" in refused(plant, change("CHG-z", "approved"), approver,
                                            "approved")
    # a specification is never corrected: a new version answers it
    fix = {"record_id": "FIX-1", "type": "correction", "schema": "correction/1",
           "corrects": "SPEC-final-v1", "reason": "typo in the limit",
           "changes": [{"path": "/title", "value": "x"}]}
    assert "cannot be corrected" in refused(plant, fix, approver, "authored", status=422)
    # only QA writes specifications
    production = register(plant.client, plant.runtime, ("production",), "Pat Production")
    assert "needs role qa_inspector or qa_approver" in refused(
        plant, specification(version=2, change_id="CHG-z"), production, "authored", 403)
    # a malformed specification is refused naming the field
    bad = specification(version=2, change_id="CHG-z")
    bad["characteristics"][0]["lower"] = 4.0
    assert "lower limit 4.0 above upper" in refused(plant, bad, author, "authored", 422)


def test_a_correction_cannot_widen_an_inspections_limits(plant: Plant, specs: Specs) -> None:
    assert post(plant, inspection("C-1", lot="LOT-C", value=3.08), plant.inspector,
                "authored").status_code == 201
    fix = {"record_id": "C-FIX", "type": "correction", "schema": "correction/1",
           "corrects": "C-1", "lot": "LOT-C", "reason": "limits were transcribed wrongly",
           "changes": [{"path": "/characteristics/0/upper", "value": 3.1},
                       {"path": "/characteristics/0/verdict", "value": "pass"},
                       {"path": "/verdict", "value": "pass"}]}
    assert "differs from specification SPEC-final" in refused(plant, fix, plant.approver,
                                                              "authored")


# -- equipment --------------------------------------------------------------------------------


def test_equipment_out_of_calibration_is_refused(plant: Plant, specs: Specs) -> None:
    author, _ = specs
    for eid, cal in (
        ("EQ-OLD", calibration("cal-old", "EQ-OLD", calibrated_at="2025-01-05T09:00:00Z",
                               valid_until="2025-07-05T09:00:00Z")),
        ("EQ-BAD", calibration("cal-bad", "EQ-BAD", result="fail",
                               as_found="out_of_tolerance")),
    ):
        assert post(plant, equipment(eid), author, "authored").status_code == 201
        assert post(plant, cal, author, "verified").status_code == 201

    def using(rid: str, eid: str) -> dict[str, Any]:
        record = inspection(rid, lot="LOT-Q")
        record["characteristics"][0]["equipment"] = eid
        return record

    detail = refused(plant, using("Q-1", "EQ-OLD"), plant.inspector, "authored")
    assert "equipment EQ-OLD is past its calibration date (2025-07-05T09:00:00Z" in detail
    assert "failed calibration cal-bad" in refused(plant, using("Q-2", "EQ-BAD"),
                                                   plant.inspector, "authored")
    assert "equipment EQ-NONE is not registered" in refused(plant, using("Q-3", "EQ-NONE"),
                                                            plant.inspector, "authored")
    assert post(plant, equipment("EQ-SCALE", kind="balance"), author,
                "authored").status_code == 201
    assert "is a balance; the specification asks for a laser micrometer" in refused(
        plant, using("Q-4", "EQ-SCALE"), plant.inspector, "authored")
    nameless = inspection("Q-5", lot="LOT-Q")
    del nameless["characteristics"][0]["equipment"]
    assert "must be measured with a laser micrometer" in refused(plant, nameless,
                                                                 plant.inspector, "authored")
    # registered once; a calibration is of a registered instrument
    again = {**equipment("EQ-OLD", kind="caliper"), "record_id": "equipment-EQ-OLD-2"}
    assert "already registered by record equipment-EQ-OLD" in refused(plant, again, author,
                                                                      "authored")
    assert "is not registered" in refused(plant, calibration("cal-x", "EQ-NONE"), author,
                                          "verified")
    # a new calibration brings EQ-OLD back into use
    assert post(plant, calibration("cal-old-2", "EQ-OLD", calibrated_at="2026-01-10T09:00:00Z"),
                author, "verified").status_code == 201
    assert post(plant, using("Q-6", "EQ-OLD"), plant.inspector, "authored").status_code == 201


def test_a_calibration_dated_before_year_one_in_utc_gets_a_refusal_not_a_500(
    plant: Plant, specs: Specs
) -> None:
    """0001-01-01T00:30:00+01:00 is a valid RFC 3339 time the schema admits, but before year 1
    in UTC: the instrument check formatted it and overflowed (a 500). Now the inspection is
    refused as not in its shape, and nothing is logged (found by the page's judge port)."""
    author, _ = specs
    assert post(plant, equipment("EQ-Y1"), author, "authored").status_code == 201
    cal = calibration("cal-y1", "EQ-Y1", result="fail", as_found="out_of_tolerance",
                      calibrated_at="0001-01-01T00:30:00+01:00")
    assert post(plant, cal, author, "verified").status_code == 201
    record = inspection("Y1-1", lot="LOT-Y1")
    record["characteristics"][0]["equipment"] = "EQ-Y1"
    before = count(plant)
    resp = post(plant, record, plant.inspector, "authored")
    assert resp.status_code in (409, 422), resp.text
    assert "date value out of range" in resp.text
    assert count(plant) == before


def test_an_out_of_tolerance_calibration_blocks_the_lots_it_touched(
    plant: Plant, specs: Specs
) -> None:
    author, _ = specs
    touched = {}
    for lot in ("LOT-T1", "LOT-T2"):
        touched[lot] = inspection(f"{lot}-I", lot=lot)
        assert post(plant, touched[lot], plant.inspector, "authored").status_code == 201
    assert lot_view(plant, "LOT-T1")["release_blockers"] == []
    time.sleep(1.1)
    # found out of tolerance, adjusted, valid again
    oot = calibration("cal-oot", calibrated_at=now_iso(), as_found="out_of_tolerance")
    assert post(plant, oot, author, "verified").status_code == 201
    time.sleep(1.1)
    after = inspection("LOT-T3-I", lot="LOT-T3")  # made after: not suspect
    assert post(plant, after, plant.inspector, "authored").status_code == 201
    for lot in ("LOT-T1", "LOT-T2"):
        view = lot_view(plant, lot)
        assert view["state"] == "quarantined"
        assert [m["kind"] for m in view["master_data"]] == ["calibration_out_of_tolerance"]
        assert f"inspection {lot}-I used equipment {EQUIPMENT}, found out of tolerance by " \
               "calibration cal-oot" in view["release_blockers"][0]
    assert lot_view(plant, "LOT-T3")["release_blockers"] == []
    # the release is refused, naming it
    detail = refused(plant, release("T1-R", "LOT-T1", evidence(touched["LOT-T1"])),
                     plant.approver, "released")
    assert "1 reason(s)" in detail and "found out of tolerance" in detail
    # an NCR dispositioning the suspect inspection clears it
    for n, (step, who, meaning) in enumerate(
        [("open", plant.inspector, "authored"), ("evaluated", plant.inspector, "reviewed"),
         ("dispositioned", plant.approver, "approved")], 1):
        extra = {"refs": ["LOT-T1-I"]} if step == "open" else {}
        assert post(plant, workflow("ncr", f"T1-N{n}", "NCR-T1", step, lot="LOT-T1", **extra),
                    who, meaning).status_code == 201
    assert [m["kind"] for m in lot_view(plant, "LOT-T1")["master_data"]] == []
    assert lot_view(plant, "LOT-T2")["master_data"][0]["kind"] == \
        "calibration_out_of_tolerance"


# -- suppliers --------------------------------------------------------------------------------


def scans(
    p: Plant, supplier_id: str, material: str, lot: str, tag: str, verify: bool = True
) -> tuple[str, ...]:
    """``material`` received from ``supplier_id``, verified by a passing incoming inspection
    (unless ``verify`` is false: consuming it then raises a floor alert on ``lot``), and
    consumed into ``lot``; returns the scans' ids (receive, produce, consume)."""
    device = register(p.client, p.runtime, ("device",), f"Scanner {tag}")
    made = []
    for n, (op, fields) in enumerate((
        ("receive", {"lot": material, "supplier": supplier_id, "gs1": {"gtin": GTIN,
                                                                       "lot": material}}),
        ("produce", {"lot": lot, "gs1": {"gtin": GTIN, "lot": lot}}),
        ("consume", {"gs1": {"gtin": GTIN, "lot": material}}),
    )):
        rid = f"{tag}-scan-{n}"
        if op == "consume" and verify:
            incoming = inspection(f"{material}-IN", lot=material, stage="incoming")
            assert post(p, incoming, p.inspector, "authored").status_code == 201
        record = {"record_id": rid, "type": "scan", "schema": "scan/1",
                  "station": f"ST-{tag}", "operation": op, "scanned_at": now_iso(), **fields}
        assert post(p, record, device, "recorded").status_code == 201
        made.append(rid)
    return tuple(made)


def test_a_lot_made_from_a_disqualified_suppliers_material_is_blocked(
    plant: Plant, specs: Specs
) -> None:
    assert post(plant, supplier("SUP-ACME-1", "ACME", "approved"), plant.approver,
                "approved").status_code == 201
    assert post(plant, supplier("SUP-BAD-1", "BadCo", "disqualified"), plant.approver,
                "approved").status_code == 201
    time.sleep(1.1)  # the statuses are in effect from their signing time
    receive_ok, *_ = scans(plant, "ACME", "RM-OK", "LOT-GOOD", "A")
    receive_bad, *_ = scans(plant, "BadCo", "RM-BAD", "LOT-BADCO", "B")
    finals = {lot: inspection(f"{lot}-F", lot=lot) for lot in ("LOT-GOOD", "LOT-BADCO")}
    for record in finals.values():
        assert post(plant, record, plant.inspector, "authored").status_code == 201
    assert lot_view(plant, "LOT-GOOD")["release_blockers"] == []
    view = lot_view(plant, "LOT-BADCO")
    assert view["state"] == "quarantined"
    assert "material lot RM-BAD was received from supplier BadCo" in view["release_blockers"][0]
    assert "disqualified (SUP-BAD-1)" in view["release_blockers"][0]
    assert lot_view(plant, "RM-BAD")["state"] == "quarantined"  # the material lot itself
    insp = finals["LOT-BADCO"]
    detail = refused(plant, release("BAD-R", "LOT-BADCO", evidence(insp)), plant.approver,
                     "released")
    assert "received from supplier BadCo" in detail
    # an NCR on the material lot dispositioning the receipt clears it
    for n, (step, who, meaning) in enumerate(
        [("open", plant.inspector, "authored"), ("evaluated", plant.inspector, "reviewed"),
         ("dispositioned", plant.approver, "approved")], 1):
        extra = {"refs": [receive_bad]} if step == "open" else {}
        assert post(plant, workflow("ncr", f"BAD-N{n}", "NCR-RM-BAD", step, lot="RM-BAD",
                                    **extra), who, meaning).status_code == 201
    assert lot_view(plant, "LOT-BADCO")["release_blockers"] == []
    assert post(plant, release("BAD-R2", "LOT-BADCO", evidence(insp)), plant.approver,
                "released").status_code == 201
    assert receive_ok  # the approved supplier's material never blocked anything


def test_supplier_status_is_set_by_a_qa_approver_with_a_reason(
    plant: Plant, specs: Specs
) -> None:
    assert "needs role qa_approver" in refused(
        plant, supplier("SUP-X-1", "X"), plant.inspector, "approved", 403)
    short = {**supplier("SUP-X-2", "X"), "reason": "ok"}
    assert "reason" in refused(plant, short, plant.approver, "approved", 422)
    bad = {**supplier("SUP-X-3", "X"), "status": "preferred"}
    assert "status" in refused(plant, bad, plant.approver, "approved", 422)


# -- behind the service's back ----------------------------------------------------------------


def test_the_audit_names_each_master_data_rule_slipped_in(plant: Plant, specs: Specs) -> None:
    wide = widened(inspection("X-1", lot="LOT-X", value=3.08), 2.9, 3.1)
    wide["characteristics"][0]["verdict"] = wide["verdict"] = "pass"
    assert "differs from specification" in plant.refused(wide, plant.inspector, "authored")
    plant.slip_in(wide, plant.inspector, "authored")
    only_rule_broken(plant.audit(), "X-1", "(specification)",
                     "outer diameter: limits 2.9..3.1 mm")


def test_the_audit_names_a_self_approved_specification(plant: Plant, specs: Specs) -> None:
    both = register(plant.client, plant.runtime, ("qa_inspector", "qa_approver"), "Sam Both")
    cid = "CHG-self"
    ref = [{"spec_id": spec_id("final"), "version": 2}]
    plant.submit(change(cid, "requested", specifications=ref), plant.inspector, "authored")
    plant.submit(specification(version=2, change_id=cid), both, "authored")
    plant.submit(change(cid, "assessed"), both, "reviewed")
    plant.slip_in(change(cid, "approved"), both, "approved")
    only_rule_broken(plant.audit(), f"{cid}-approved", "(specification)", "four eyes")


def test_the_audit_names_a_release_over_a_suspect_measurement(
    plant: Plant, specs: Specs
) -> None:
    author, _ = specs
    insp = inspection("Y-I", lot="LOT-Y")
    plant.submit(insp, plant.inspector, "authored")
    time.sleep(1.1)
    plant.submit(calibration("cal-y", calibrated_at=now_iso(), as_found="out_of_tolerance"),
                 author, "verified")
    bad = release("Y-R", "LOT-Y", evidence(insp))
    assert "found out of tolerance" in refused(plant, bad, plant.approver, "released")
    plant.slip_in(bad, plant.approver, "released")
    wait_anchored(plant.client, "Y-R")
    only_rule_broken(plant.audit(), "Y-R", "(release)", "found out of tolerance")


# -- evidence bundles -------------------------------------------------------------------------


def bundle_of(p: Plant, lot: str, last: str, tmp_path: Path) -> tuple[int, dict[str, Any],
                                                                      list[dict[str, Any]]]:
    """The lot's bundle, once ``last`` is anchored for good, verified offline; its records."""
    final_with_proof(p, last)
    data = export(p, lot)
    code, report = verify(tmp_path, data, p.runtime.ledger.identity.trust())
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        lines = [json.loads(x) for x in zf.read("records.jsonl").splitlines()]
    return code, report, lines


def test_a_lot_bundle_carries_the_master_data_it_relied_on(
    plant: Plant, specs: Specs, tmp_path: Path
) -> None:
    assert post(plant, supplier("SUP-ACME-B", "ACME", "approved"), plant.approver,
                "approved").status_code == 201
    time.sleep(1.1)
    receive, produce, consume = scans(plant, "ACME", "RM-B", "LOT-B", "K")
    insp = inspection("LOT-B-F", lot="LOT-B")
    assert post(plant, insp, plant.inspector, "authored").status_code == 201
    assert post(plant, release("LOT-B-R", "LOT-B", evidence(insp)), plant.approver,
                "released").status_code == 201
    code, report, lines = bundle_of(plant, "LOT-B", "LOT-B-R", tmp_path)
    assert code == 0, [c for c in report["checks"] if not c["ok"]]
    held = {x["record"]["record_id"] for x in lines}
    assert {"SPEC-final-v1", "CHG-SPEC-final-v1-requested", "CHG-SPEC-final-v1-approved",
            f"equipment-{EQUIPMENT}", f"cal-{EQUIPMENT}-1", "SUP-ACME-B", receive, produce,
            consume} <= held, held
    assert "SPEC-in_process-v1" not in held  # only what the lot relied on
    scoped = [x["record"]["record_id"] for x in lines if x["in_scope"]]
    assert scoped == [produce, "LOT-B-F", "LOT-B-R"]


def test_the_bundle_verifier_names_master_data_rules_broken_behind_the_services_back(
    plant: Plant, specs: Specs, tmp_path: Path
) -> None:
    both = register(plant.client, plant.runtime, ("qa_inspector", "qa_approver"), "Sam Both")
    cid = "CHG-self-b"
    plant.submit(change(cid, "requested", specifications=[
        {"spec_id": spec_id("final"), "version": 2}]), plant.inspector, "authored")
    plant.submit(specification(version=2, change_id=cid, limits=(2.9, 3.1)), both, "authored")
    plant.submit(change(cid, "assessed"), both, "reviewed")
    plant.slip_in(change(cid, "approved"), both, "approved")
    # the service now takes version 2 (self-approved, with wider limits) as in force
    loose = widened(inspection("V-1", lot="LOT-V", value=3.08, version=2), 2.9, 3.1)
    loose["characteristics"][0]["verdict"] = loose["verdict"] = "pass"
    plant.submit(loose, plant.inspector, "authored")
    plant.submit(release("V-R", "LOT-V", evidence(loose)), plant.approver, "released")
    code, report, _ = bundle_of(plant, "LOT-V", "V-R", tmp_path)
    assert code == 1
    rules = next(c for c in report["checks"] if c["check"] == "rules")
    assert not rules["ok"]
    assert f"{cid}-approved (specification): four eyes" in rules["detail"], rules["detail"]
    assert "V-1 (specification)" in rules["detail"] and "not in force" in rules["detail"]
    # and the release that relied on the inspection (it cites a record that is not history);
    # the audit names the same three
    assert "V-R (release)" in rules["detail"]
    kinds = sorted((f.kind, f.record_id) for f in plant.audit())
    assert kinds == [("rule_broken", f"{cid}-approved"), ("rule_broken", "V-1"),
                     ("rule_broken", "V-R")], kinds


def test_legacy_inspections_before_the_first_specification_are_judged_by_their_time(
    client: TestClient, runtime: Runtime, database_url: str
) -> None:
    """A ledger migrating to specifications: inspection/1 records logged before its first
    specification are legacy; one logged after is named."""
    inspector = register(client, runtime, ("qa_inspector",), "Ivy Inspector")
    approver = register(client, runtime, ("qa_approver",), "Quinn Approver")
    engine = sa.create_engine(database_url)
    try:
        p = Plant(runtime, client, engine, inspector, approver)

        def legacy(rid: str) -> dict[str, Any]:
            old = inspection(rid, lot="LOT-L")
            old.update(schema="inspection/1", equipment=["LM-204"])
            del old["specification"]
            for c in old["characteristics"]:
                del c["equipment"]
            return old

        assert "cites no specification" in p.refused(legacy("L-1"), inspector, "authored")
        p.slip_in(legacy("L-1"), inspector, "authored")  # as logged before this release
        assert p.audit() == []
        master_data(client, runtime)
        p.slip_in(legacy("L-2"), inspector, "authored")
        only_rule_broken(p.audit(), "L-2", "(specification)", "cites no specification")
    finally:
        engine.dispose()


def _wide(p: Plant, specs: Specs) -> tuple[str, str]:
    bad = widened(inspection("Z-1", lot="LOT-Z", value=3.08), 2.9, 3.1)
    bad["characteristics"][0]["verdict"] = bad["verdict"] = "pass"
    p.slip_in(bad, p.inspector, "authored")
    return "Z-1", "outer diameter: limits 2.9..3.1 mm"


def _superseded(p: Plant, specs: Specs) -> tuple[str, str]:
    time.sleep(1.1)
    approve_spec(p.client, p.runtime, specification(version=2, limits=(2.96, 3.04)), *specs)
    p.slip_in(inspection("Z-1", lot="LOT-Z"), p.inspector, "authored")
    return "Z-1", "superseded by version 2"


def _expired(p: Plant, specs: Specs) -> tuple[str, str]:
    p.submit(equipment("EQ-OLD"), specs[0], "authored")
    p.submit(calibration("cal-old", "EQ-OLD", calibrated_at="2025-01-05T09:00:00Z",
                         valid_until="2025-07-05T09:00:00Z"), specs[0], "verified")
    bad = inspection("Z-1", lot="LOT-Z")
    bad["characteristics"][0]["equipment"] = "EQ-OLD"
    p.slip_in(bad, p.inspector, "authored")
    return "Z-1", "past its calibration date"


def _disqualified(p: Plant, specs: Specs) -> tuple[str, str]:
    p.submit(supplier("SUP-Z", "ZCo", "disqualified"), p.approver, "approved")
    time.sleep(1.1)
    scans(p, "ZCo", "RM-Z", "LOT-Z", "Z")
    insp = inspection("Z-F", lot="LOT-Z")
    p.submit(insp, p.inspector, "authored")
    p.slip_in(release("Z-R", "LOT-Z", evidence(insp)), p.approver, "released")
    return "Z-R", "received from supplier ZCo"


def _suspect(p: Plant, specs: Specs) -> tuple[str, str]:
    insp = inspection("Z-F", lot="LOT-Z")
    p.submit(insp, p.inspector, "authored")
    time.sleep(1.1)
    p.submit(calibration("cal-z", calibrated_at=now_iso(), as_found="out_of_tolerance"),
             specs[0], "verified")
    p.slip_in(release("Z-R", "LOT-Z", evidence(insp)), p.approver, "released")
    return "Z-R", "found out of tolerance by calibration cal-z"


@pytest.mark.parametrize("case", [_wide, _superseded, _expired, _disqualified, _suspect],
                         ids=["wider-limits", "superseded-version", "equipment-past-calibration",
                              "disqualified-supplier", "suspect-measurement"])
def test_audit_and_bundle_verifier_name_each_rule_broken_behind_the_services_back(
    plant: Plant, specs: Specs, tmp_path: Path, case: Any
) -> None:
    record_id, reason = case(plant, specs)
    only_rule_broken(plant.audit(), record_id, reason)
    code, report, _ = bundle_of(plant, "LOT-Z", record_id, tmp_path)
    rules = next(c for c in report["checks"] if c["check"] == "rules")
    assert code == 1 and not rules["ok"], report
    assert f"{record_id} (" in rules["detail"] and reason in rules["detail"], rules["detail"]


def test_a_batch_judges_each_inspection_with_the_master_data_before_it(
    plant: Plant, specs: Specs
) -> None:
    """In one batch: version 2 brought into force, then an inspection citing version 1 (now
    superseded: refused) and one citing version 2 (accepted); then an out-of-tolerance
    calibration, after which a release of the lot measured before it is refused."""
    from tests.helpers import sign

    author, approver = specs
    cid = "CHG-batch"
    time.sleep(1.1)
    first = inspection("BT-0", lot="LOT-BT")
    assert post(plant, first, plant.inspector, "authored").status_code == 201
    time.sleep(1.1)
    v2 = specification(version=2, change_id=cid, limits=(2.96, 3.04))
    ref = [{"spec_id": v2["spec_id"], "version": 2}]
    items = [
        (change(cid, "requested", specifications=ref), author, "authored"),
        (v2, author, "authored"),
        (change(cid, "assessed"), author, "reviewed"),
        (change(cid, "approved"), approver, "approved"),
        (inspection("BT-1", lot="LOT-BT"), plant.inspector, "authored"),
        (widened(inspection("BT-2", lot="LOT-BT", version=2), 2.96, 3.04), plant.inspector,
         "authored"),
        (calibration("cal-bt", calibrated_at=now_iso(), as_found="out_of_tolerance"), author,
         "verified"),
        (release("BT-R", "LOT-BT", evidence(first)), plant.approver, "released"),
    ]
    resp = plant.client.post("/v1/records/batch", json={"items": [
        sign(plant.runtime, record, who, meaning) for record, who, meaning in items]})
    assert resp.status_code == 200, resp.text
    results = {r["record_id"]: r for r in resp.json()["results"]}
    assert [results[r[0]["record_id"]].get("status") for r in items[:4]] == ["accepted"] * 4
    assert "superseded by version 2" in results["BT-1"]["detail"], results["BT-1"]
    assert results["BT-2"]["status"] == "accepted", results["BT-2"]
    assert results["cal-bt"]["status"] == "accepted"
    assert "found out of tolerance by calibration cal-bt" in str(results["BT-R"]), results["BT-R"]


def test_a_version_approved_to_take_effect_later_is_not_in_force_before(
    plant: Plant, specs: Specs
) -> None:
    """A change approved with a later `effective_from` leaves the version in force until
    then (inspections citing the new one are refused, naming when it takes effect); a
    specification none of whose versions is approved is in force nowhere."""
    from datetime import UTC, datetime, timedelta

    author, approver = specs
    later = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    cid = "CHG-later"
    spec = specification(stage="final", version=2, change_id=cid, limits=(2.96, 3.04))
    ref = [{"spec_id": spec["spec_id"], "version": 2}]
    plant.submit(change(cid, "requested", specifications=ref), author, "authored")
    plant.submit(spec, author, "authored")
    plant.submit(change(cid, "assessed"), author, "reviewed")
    plant.submit(change(cid, "approved", effective_from=later), approver, "approved")
    early = widened(inspection("EF-1", lot="LOT-EF", version=2), 2.96, 3.04)
    detail = refused(plant, early, plant.inspector, "authored")
    assert f"version 2 takes effect {later}; version 1 is in force" in detail, detail
    plant.submit(inspection("EF-2", lot="LOT-EF"), plant.inspector, "authored")  # v1 still
    # a specification whose only version awaits approval is in force nowhere
    other = {**specification(stage="in_process", change_id="CHG-pending"),
             "record_id": "SPEC-PENDING-v1", "spec_id": "SPEC-PENDING"}
    plant.submit(change("CHG-pending", "requested", specifications=[
        {"spec_id": "SPEC-PENDING", "version": 1}]), author, "authored")
    plant.submit(other, author, "authored")
    cites = inspection("EF-3", lot="LOT-EF", stage="in_process")
    cites["specification"] = {"spec_id": "SPEC-PENDING", "version": 1}
    detail = refused(plant, cites, plant.inspector, "authored")
    assert "no version of it is in force then (version 1 is not approved)" in detail, detail


def test_an_ncr_may_cite_a_receipt_whose_lot_is_only_in_its_barcode(
    plant: Plant, specs: Specs
) -> None:
    """The supplier blocker on a lot says an NCR dispositioning the receive scan of its
    material clears it; a receive scan may name the material lot only in its GS1 data, and an
    NCR on the lot the material went into may still cite it."""
    assert post(plant, supplier("SUP-BAD-2", "BadCo", "disqualified"), plant.approver,
                "approved").status_code == 201
    time.sleep(1.1)  # in effect from its signing time
    device = register(plant.client, plant.runtime, ("device",), "Dock scanner")
    for n, (op, fields) in enumerate((
        ("receive", {"supplier": "BadCo", "gs1": {"gtin": GTIN, "lot": "RM-BC"}}),
        ("produce", {"lot": "LOT-BC", "gs1": {"gtin": GTIN, "lot": "LOT-BC"}}),
        ("consume", {"gs1": {"gtin": GTIN, "lot": "RM-BC"}}),
    ), 1):
        scan = {"record_id": f"BC-scan-{n}", "type": "scan", "schema": "scan/1",
                "station": "ST-BC", "operation": op, "scanned_at": now_iso(), **fields}
        assert post(plant, scan, device, "recorded").status_code == 201
    view = lot_view(plant, "LOT-BC")
    assert any("an NCR dispositioning BC-scan-1 clears it" in b
               for b in view["release_blockers"]), view
    for n, (step, who, meaning) in enumerate(
        [("open", plant.inspector, "authored"), ("evaluated", plant.inspector, "reviewed"),
         ("dispositioned", plant.approver, "approved")], 1):
        extra = {"refs": ["BC-scan-1", "BC-scan-3"]} if step == "open" else {}
        assert post(plant, workflow("ncr", f"BC-N{n}", "NCR-BC", step, lot="LOT-BC",
                                    **extra), who, meaning).status_code == 201
    blockers = lot_view(plant, "LOT-BC")["release_blockers"]
    assert not any("BC-scan" in b for b in blockers), blockers  # both answered by the NCR
