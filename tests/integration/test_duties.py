"""Issue 13, first rules: nobody grants themselves roles, and authority is judged at the
acceptance as well as at the signing time (a signer revoked on Monday cannot have a record
dated Monday accepted on Thursday). Refused by the service, named by `evledger audit` and by
the offline bundle verifier when slipped into the log."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from evledger_verify.records import record_hash

from tests.helpers import admin, bearer, change, inspection, now_iso, register, sign
from tests.integration.test_domain_workflows import evidence, release, workflow
from tests.integration.test_master_data import bundle_of
from tests.integration.test_rules_replay import Plant, only_rule_broken

pytestmark = pytest.mark.integration


def grant(account: LocalAccount, roles: list[str], rid: str) -> dict[str, Any]:
    return {"record_id": rid, "type": "signer", "schema": "signer/1", "action": "grant",
            "address": account.address, "name": "Ann Admin", "roles": roles}


@pytest.mark.req("A11-12.3-1")
def test_nobody_grants_themselves_roles(plant: Plant) -> None:
    second = register(plant.client, plant.runtime, ("admin",), "Ann Admin")
    detail = plant.refused(grant(second, ["admin", "qa_approver"], "self-1"), second, "approved")
    assert "nobody grants themselves roles" in detail
    # another admin may grant them
    plant.submit(grant(second, ["admin", "qa_approver"], "other-1"), admin(plant.runtime),
                 "approved")
    # slipped in behind the service's back, the audit names it
    plant.slip_in(grant(second, ["admin", "qa_inspector"], "self-2"), second, "approved")
    only_rule_broken(plant.audit(), "self-2", "(authority)", "nobody grants themselves roles")


def revoke(account: LocalAccount, rid: str) -> dict[str, Any]:
    return {"record_id": rid, "type": "signer", "schema": "signer/1", "action": "revoke",
            "address": account.address}


@pytest.mark.req("P11-10g-2")
def test_a_record_signed_before_a_revocation_is_refused_after_it(
    plant: Plant, tmp_path: Path
) -> None:
    """Signed while the approver held the role, submitted after the revocation: refused (403).
    A database superuser who logs it anyway is named by the audit and the bundle verifier."""
    leaver: LocalAccount = Account.create()
    t = int(time.time())
    body = sign(plant.runtime, {**grant(leaver, ["qa_approver"], "grant-leaver"),
                                "name": "Lee Leaver"}, admin(plant.runtime), "approved", t)
    assert plant.client.post("/v1/records", json=body).status_code == 201
    insp = inspection("LV-I", lot="LOT-LV", inspected_at=now_iso())
    plant.submit(insp, plant.inspector, "authored")
    early = release("LV-R", "LOT-LV", evidence(insp))
    signed_early = sign(plant.runtime, early, leaver, "released", t + 1)
    time.sleep(2.1)
    body = sign(plant.runtime, revoke(leaver, "revoke-leaver"), admin(plant.runtime),
                "approved", t + 2)
    assert plant.client.post("/v1/records", json=body).status_code == 201
    time.sleep(1.1)
    late = plant.client.post("/v1/records", json=signed_early)
    assert late.status_code == 403, late.text
    assert "no longer an active signer (revoked after the signing time" in late.json()["detail"]
    # the superuser logs it with the signature made before the revocation
    plant.slip_in(early, leaver, "released", signed_at=t + 1)
    findings = plant.audit()
    assert [(f.kind, f.record_id) for f in findings] == [("unauthorized_signer", "LV-R")], \
        findings
    assert "revoked after signing" in findings[0].detail
    code, report, _ = bundle_of(plant, "LOT-LV", "LV-R", tmp_path)
    authority = next(c for c in report["checks"] if c["check"] == "authority")
    assert code == 1 and not authority["ok"], report
    assert "LV-R" in authority["detail"] and "revoked after signing" in authority["detail"]



# -- segregation of duties by person ---------------------------------------------------------


def person_key(p: Plant, roles: list[str], name: str, person: str) -> LocalAccount:
    """A new key of ``person`` (one person may hold several), granted by the admin."""
    key: LocalAccount = Account.create()
    p.submit({**grant(key, roles, f"grant-{key.address}"), "name": name, "person": person},
             admin(p.runtime), "approved")
    return key


@pytest.mark.req("P11-10g-3")
def test_one_person_cannot_give_both_signatures_of_a_duty_even_with_two_keys(
    plant: Plant, tmp_path: Path
) -> None:
    """The default incompatibility table, over HTTP: each pair refused (403, naming the duty)
    when one person signs both sides with two keys, accepted with another person; slipped in
    by a superuser, named by the audit and by the bundle verifier."""
    p = plant
    ann_a = person_key(p, ["qa_inspector", "qa_approver"], "Ann Able", "E-100")
    ann_b = person_key(p, ["qa_inspector", "qa_approver"], "Ann Able", "E-100")
    ben = person_key(p, ["qa_inspector", "qa_approver"], "Ben Baker", "E-200")
    # inspector / releaser of a lot
    insp = inspection("SD-I", lot="LOT-SD", inspected_at=now_iso())
    p.submit(insp, ann_a, "authored")
    rel = release("SD-R", "LOT-SD", evidence(insp))
    detail = p.refused(rel, ann_b, "released")
    assert "segregation of duties (inspector_releaser)" in detail and "with another key" in detail
    # NCR opener / dispositioner; CAPA implementer / checker; change requester / approver
    p.submit(workflow("ncr", "SD-N1", "NCR-SD", "open", lot="LOT-SD", refs=["SD-I"]), ann_a,
             "authored")
    p.submit(workflow("ncr", "SD-N2", "NCR-SD", "evaluated", lot="LOT-SD"), ben, "reviewed")
    assert "(ncr_opener_dispositioner)" in p.refused(
        workflow("ncr", "SD-N3", "NCR-SD", "dispositioned", lot="LOT-SD"), ann_b, "approved")
    p.submit(workflow("ncr", "SD-N3", "NCR-SD", "dispositioned", lot="LOT-SD"), ben, "approved")
    for n, step in enumerate(("open", "investigation", "action_plan", "implementation"), 1):
        p.submit(workflow("capa", f"SD-C{n}", "CAPA-SD", step, lot="LOT-SD"), ann_a, "authored")
    assert "(capa_implementer_checker)" in p.refused(
        workflow("capa", "SD-C5", "CAPA-SD", "effectiveness_check", lot="LOT-SD"), ann_b,
        "verified")
    p.submit(change("SD-CH", "requested"), ann_a, "authored")
    p.submit(change("SD-CH", "assessed"), ben, "reviewed")
    assert "(change_requester_approver)" in p.refused(
        change("SD-CH", "approved"), ann_b, "approved")
    p.submit(change("SD-CH", "approved"), ben, "approved")
    # another person releases
    p.submit(workflow("ncr", "SD-N4", "NCR-SD", "closed", lot="LOT-SD"), ben, "approved")
    # slipped in: the same person releases; the audit and the bundle verifier name it
    p.slip_in(rel, ann_b, "released")
    only_rule_broken(p.audit(), "SD-R", "(duties)", "inspector_releaser")
    code, report, _ = bundle_of(p, "LOT-SD", "SD-R", tmp_path)
    rules = next(c for c in report["checks"] if c["check"] == "rules")
    assert code == 1 and not rules["ok"] and "SD-R (duties)" in rules["detail"], report


@pytest.mark.req("P11-100-1", "A11-12.3-1")
def test_a_key_belongs_to_one_person_and_nobody_grants_their_own_other_key(plant: Plant) -> None:
    p = plant
    key = person_key(p, ["qa_inspector"], "Cy Clerk", "E-300")
    regrant = {**grant(key, ["qa_inspector", "qa_approver"], "SD-G1"), "name": "Cy Clerk",
               "person": "E-301"}
    assert "belongs to person E-300" in p.refused(regrant, admin(p.runtime), "approved")
    # an admin who is E-400 grants roles to another key of E-400: refused
    boss = person_key(p, ["admin"], "Dee Boss", "E-400")
    other: LocalAccount = Account.create()
    mine = {**grant(other, ["qa_approver"], "SD-G2"), "name": "Dee Boss", "person": "E-400"}
    detail = p.refused(mine, boss, "approved")
    assert "nobody grants themselves roles" in detail and "E-400's key" in detail
    # malformed person ids are refused by the schema (422), nothing stored
    for bad in ("", " E-1", "x" * 101, 42, "E 1"):
        body = sign(p.runtime, {**grant(Account.create(), ["qa_inspector"], "SD-G3"),
                                "person": bad}, admin(p.runtime), "approved")
        resp = p.client.post("/v1/records", json=body)
        assert resp.status_code == 422 and "person" in resp.text, (bad, resp.text)
    assert p.client.get("/v1/records/SD-G3", headers=bearer(p.runtime, p.approver)
                        ).status_code == 404


# -- time ------------------------------------------------------------------------------------


@pytest.mark.req("P11-10e-4")
def test_times_are_in_order_and_a_persons_signature_is_fresh(plant: Plant) -> None:
    """A person's signature at most 15 minutes old on arrival; inspected_at not after the
    signing nor more than 7 days before it; a workflow step never signed before the step it
    follows. Refused over HTTP (422 / 409, naming the rule); slipped in, named by the audit."""
    p = plant
    now = int(time.time())
    stale = sign(p.runtime, inspection("TM-1", lot="LOT-TM", inspected_at=now_iso()),
                 p.inspector, "authored", now - 1200)
    resp = p.client.post("/v1/records", json=stale)
    assert resp.status_code == 422 and "at most 900 s old on arrival" in resp.text, resp.text
    later = datetime.fromtimestamp(now + 120, UTC).isoformat().replace("+00:00", "Z")
    resp = p.client.post("/v1/records", json=sign(
        p.runtime, inspection("TM-2", lot="LOT-TM", inspected_at=later), p.inspector,
        "authored"))
    assert resp.status_code == 422 and "is after the signing time" in resp.text, resp.text
    old = datetime.fromtimestamp(now - 8 * 86400, UTC).isoformat().replace("+00:00", "Z")
    resp = p.client.post("/v1/records", json=sign(
        p.runtime, inspection("TM-3", lot="LOT-TM", inspected_at=old), p.inspector, "authored"))
    assert resp.status_code == 422 and "contemporaneous" in resp.text, resp.text
    time.sleep(2.1)  # the signer was registered more than a second before what follows
    opened = int(time.time())
    assert p.client.post("/v1/records", json=sign(
        p.runtime, workflow("ncr", "TM-N1", "NCR-TM", "open", lot="LOT-TM"), p.inspector,
        "authored", opened)).status_code == 201
    back = sign(p.runtime, workflow("ncr", "TM-N2", "NCR-TM", "evaluated", lot="LOT-TM"),
                p.inspector, "reviewed", opened - 1)
    resp = p.client.post("/v1/records", json=back)
    assert resp.status_code == 409 and "never go back in time" in resp.text, resp.text
    assert p.client.get("/v1/lots/LOT-TM", headers=bearer(p.runtime, p.approver)).json()[
        "open_ncrs"][0]["step"] == "open"
    # slipped in by a superuser: the audit names an inspection signed before it was made
    p.slip_in(inspection("TM-4", lot="LOT-TM2", inspected_at=later), p.inspector, "authored")
    only_rule_broken(p.audit(), "TM-4", "(time)", "is after the signing time")


@pytest.mark.req("P11-10g-3")
def test_a_policy_file_sets_the_duties_and_bad_ones_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from evledger_verify.policy import DUTIES, Policy, PolicyError

    from ledger.config import Settings
    from ledger.errors import ConfigError

    path = tmp_path / "policy.toml"
    path.write_text('max_signature_age = 300\n[[duties]]\nname = "ncr_opener_closer"\n'
                    'first = "ncr/open/*"\nsecond = "ncr/closed/*"\nscope = "entity"\n')
    monkeypatch.setenv("EVLEDGER_POLICY", str(path))
    monkeypatch.setenv("EVLEDGER_HOME", str(tmp_path))
    policy = Settings.from_env().policy()
    assert [d.name for d in policy.duties] == ["ncr_opener_closer"]
    assert policy.max_signature_age == 300 and Policy().duties == DUTIES
    assert Policy.from_json(policy.to_json()) == policy
    for text, message in (
        ("duties = 3\n", "expected a list of duty tables"),
        ('[[duties]]\nname = "x"\nfirst = "ncr/open"\nsecond = "ncr/closed/*"\n'
         'scope = "entity"\n', "type/step/meaning"),
        ('[[duties]]\nname = "x"\nfirst = "ncr/open/*"\nsecond = "ncr/closed/*"\n'
         'scope = "plant"\n', "expected lot or entity"),
        ("max_signature_age = 10\n", "from 60 to 86400"),
        ("surprise = 1\n", "unknown field(s) surprise"),
        ("not toml [", "policy file"),
    ):
        path.write_text(text)
        with pytest.raises(ConfigError, match=re.escape(message)):
            Settings.from_env().policy()
    with pytest.raises(PolicyError):
        Policy.from_json([])


# -- failed results, slipped in --------------------------------------------------------------


@pytest.mark.req("P11-10g-3", "P11-10a-3", "CFR211-192-1")
def test_testing_into_compliance_and_a_self_review_slipped_in_are_named(
    plant: Plant, tmp_path: Path
) -> None:
    """A retest without the investigation's finding of an assignable cause, a review by the
    person who signed the reviewed record, and a release with a concession on it: each
    refused by the service; logged by a superuser anyway, each named by the audit (once, as
    the rule it breaks) and by the bundle verifier."""
    p = plant
    failed = inspection("OS-I1", lot="LOT-OS", value=3.2, inspected_at=now_iso())
    p.submit(failed, p.inspector, "authored")
    p.submit(workflow("ncr", "OS-N1", "NCR-OS", "open", lot="LOT-OS", refs=["OS-I1"]),
             p.inspector, "authored")
    retest = {**inspection("OS-I2", lot="LOT-OS", inspected_at=now_iso()),
              "retest": {"of": "OS-I1", "ncr_id": "NCR-OS"}}
    assert "has not found an assignable cause" in p.refused(retest, p.inspector, "authored")
    review = {"record_id": "OS-REV", "type": "review", "schema": "review/1",
              "reviews": "OS-I1", "record_hash": record_hash(failed).hex(), "lot": "LOT-OS",
              "statement": "Looks right to me"}
    other = register(p.client, p.runtime, ("qa_approver", "qa_inspector"), "Val Self")
    mine = inspection("OS-I3", lot="LOT-OS2", inspected_at=now_iso())
    p.submit(mine, other, "authored")
    own = {**review, "record_id": "OS-REV2", "reviews": "OS-I3", "lot": "LOT-OS2",
           "record_hash": record_hash(mine).hex()}
    assert "a review is a second person's signature" in p.refused(own, other, "approved")
    conceded = {**release("OS-R", "LOT-OS2", []), "concession": {
        "rationale": "Customer agreed to take the lot as it is", "deviations": ["none"]}}
    assert "a release carries no concession" in p.refused(conceded, p.approver, "released")
    p.slip_in(retest, p.inspector, "authored")
    p.slip_in(own, other, "approved")
    p.slip_in(conceded, p.approver, "released")
    found = {f.record_id: f.detail for f in p.audit()}
    assert set(found) == {"OS-I2", "OS-REV2", "OS-R"}, found
    assert "(oos)" in found["OS-I2"] and "(duties)" in found["OS-REV2"]
    assert "a release carries no concession" in found["OS-R"]
    code, report, _ = bundle_of(p, "LOT-OS", "OS-I2", tmp_path)
    rules = next(c for c in report["checks"] if c["check"] == "rules")
    assert code == 1 and "OS-I2 (oos)" in rules["detail"], report



# -- qualified signers -----------------------------------------------------------------------


@pytest.mark.req("P11-10g-4", "A11-15-1")
def test_signers_need_their_training_and_a_qp_releases_where_the_policy_says(
    plant: Plant,
) -> None:
    """Under a policy that requires training for inspections and a Qualified Person for
    release: an untrained inspector is refused (403, naming the task), a training record by
    QA makes the next inspection acceptable, an approver without the QP role cannot release;
    slipped in, the audit (judging under the same policy) names the untrained inspection."""
    from dataclasses import replace

    from evledger_verify.policy import Qualification

    from ledger.audit import Auditor

    p = plant
    policy = replace(p.runtime.ledger.submitter.policy, qualified_person_release=True,
                     qualifications=(Qualification("inspection", ("inspection", "*",
                                                                  "authored")),))
    p.runtime.ledger.submitter.policy = policy
    first = inspection("QL-I1", lot="LOT-QL", inspected_at=now_iso())
    detail = p.refused(first, p.inspector, "authored")
    assert "needs a valid training record for task 'inspection'" in detail, detail
    person = f"key:{p.inspector.address.lower()}"
    training = {"record_id": "QL-T1", "type": "training", "schema": "training/1",
                "person": person, "task": "inspection", "result": "qualified",
                "completed_at": "2026-01-10T09:00:00Z", "valid_until": "2099-01-01T00:00:00Z",
                "evidence": "Course QA-101, assessment passed"}
    failed = {**training, "record_id": "QL-T0", "result": "not_qualified"}
    p.submit(failed, p.approver, "verified")
    assert "needs a valid training record" in p.refused(first, p.inspector, "authored")
    p.submit(training, p.approver, "verified")
    p.submit(first, p.inspector, "authored")
    rel = release("QL-R", "LOT-QL", evidence(first))
    assert "Qualified Person" in p.refused(rel, p.approver, "released")
    qp = register(p.client, p.runtime, ("qualified_person",), "Quentin QP")
    p.submit(rel, qp, "released")
    untrained = register(p.client, p.runtime, ("qa_inspector",), "Una Trained")
    p.slip_in(inspection("QL-I2", lot="LOT-QL2", inspected_at=now_iso()), untrained,
              "authored")
    rt = p.runtime
    ident = rt.ledger.identity
    findings = Auditor(rt.engine, ident, ident.log_public_key, rt.chain, policy=policy).run()
    only_rule_broken(findings, "QL-I2", "(qualification)", "task 'inspection'")


@pytest.mark.req("A11-15-1", "P11-10e-2")
def test_a_release_names_the_lots_product_and_production_cannot_correct_qa_fields(
    plant: Plant,
) -> None:
    p = plant
    final = inspection("SM-I1", lot="LOT-SM", inspected_at=now_iso())
    p.submit(final, p.inspector, "authored")
    other = {**release("SM-R", "LOT-SM", evidence(final)), "product": {"gtin": "09506000134369"}}
    detail = p.refused(other, p.approver, "released")
    assert "product 09506000134369, but the lot's inspections are of 09506000134352" in detail
    line = register(p.client, p.runtime, ("production",), "Pat Production")
    fix = {"record_id": "SM-C1", "type": "correction", "schema": "correction/1",
           "corrects": "SM-I1", "lot": "LOT-SM", "reason": "Counted again on the line",
           "changes": [{"path": "/sample_size", "value": 40}]}
    detail = p.refused(fix, line, "authored")
    assert "correcting /sample_size of an inspection needs a QA role" in detail, detail
    p.submit(fix, p.inspector, "authored")
