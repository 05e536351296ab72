"""Issue 13, first rules: nobody grants themselves roles, and authority is judged at the
acceptance as well as at the signing time (a signer revoked on Monday cannot have a record
dated Monday accepted on Thursday). Refused by the service, named by `evledger audit` and by
the offline bundle verifier when slipped into the log."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from tests.helpers import admin, inspection, now_iso, register, sign
from tests.integration.test_domain_workflows import evidence, release
from tests.integration.test_master_data import bundle_of
from tests.integration.test_rules_replay import Plant, only_rule_broken

pytestmark = pytest.mark.integration


def grant(account: LocalAccount, roles: list[str], rid: str) -> dict[str, Any]:
    return {"record_id": rid, "type": "signer", "schema": "signer/1", "action": "grant",
            "address": account.address, "name": "Ann Admin", "roles": roles}


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

