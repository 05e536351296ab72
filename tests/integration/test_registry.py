"""The signer registry through the API: the bootstrap admin, grants, revokes and re-grants, and
authority judged as the registry stood at each record's signing time.

Times: the bootstrap admin is granted when the runtime opens (about "now"), so the admin cannot
sign anything dated earlier. Timelines below therefore run forward from now in steps of a few
seconds, which the ledger accepts (signatures may be dated up to its clock skew, 300 s, ahead).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient

from ledger.domain.authority import ROLES
from ledger.runtime import Runtime
from tests.helpers import (
    DROP,
    admin,
    bearer,
    changed,
    inspection,
    now_iso,
    record_count,
    register,
    sign,
    signer_list,
)

pytestmark = pytest.mark.integration


def grant_record(
    account: LocalAccount, roles: list[str] | None = None, name: str = "Jane Doe",
    record_id: str | None = None,
) -> dict[str, Any]:
    return {
        "record_id": record_id or f"grant-{account.address.lower()}",
        "type": "signer", "schema": "signer/1", "action": "grant", "address": account.address,
        "name": name, "roles": roles if roles is not None else ["qa_inspector"],
    }


def revoke_record(account: LocalAccount, record_id: str) -> dict[str, Any]:
    return {
        "record_id": record_id, "type": "signer", "schema": "signer/1", "action": "revoke",
        "address": account.address,
    }


def post_as_admin(
    client: TestClient, runtime: Runtime, record: dict[str, Any], signed_at: int
) -> httpx.Response:
    body = sign(runtime, record, admin(runtime), "approved", signed_at)
    resp: httpx.Response = client.post("/v1/records", json=body)
    return resp


def submit_as(
    client: TestClient, runtime: Runtime, account: LocalAccount, record_id: str, signed_at: int
) -> httpx.Response:
    made = datetime.fromtimestamp(signed_at, UTC).isoformat().replace("+00:00", "Z")
    body = sign(runtime, inspection(record_id, inspected_at=made), account, signed_at=signed_at)
    resp: httpx.Response = client.post("/v1/records", json=body)
    return resp


def signers(client: TestClient, runtime: Runtime) -> dict[str, dict[str, Any]]:
    return {s["address"]: s for s in signer_list(client, runtime)}


@pytest.mark.req("A11-12.3-1")
def test_bootstrap_admin_is_listed(client: TestClient, runtime: Runtime) -> None:
    listed = signers(client, runtime)
    boot = listed[admin(runtime).address]
    assert boot["name"] == "Bootstrap administrator"
    assert boot["roles"] == ["admin"]
    assert boot["active"] is True
    # Besides the admin, only the audit key, registered by the admin with the auditor role.
    others = [s for a, s in listed.items() if a != admin(runtime).address]
    assert [(s["name"], s["roles"]) for s in others] == [("evledger audit", ["auditor"])]


@pytest.mark.req("A11-12.3-1")
def test_grant_with_roles(client: TestClient, runtime: Runtime, specs: Any) -> None:
    account: LocalAccount = Account.create()
    now = int(time.time())
    record = grant_record(account, ["qa_inspector", "qa_approver"], "Jane Doe")
    resp = post_as_admin(client, runtime, record, now)
    assert resp.status_code == 201, resp.text
    entry = signers(client, runtime)[account.address]
    assert entry["name"] == "Jane Doe"
    assert entry["roles"] == ["qa_inspector", "qa_approver"]
    assert entry["active"] is True
    assert entry["intervals"] == [
        {"from": now, "until": None, "roles": ["qa_inspector", "qa_approver"]}
    ]
    assert submit_as(client, runtime, account, "INS-1", now).status_code == 201
    view = client.get("/v1/records/INS-1", headers=bearer(runtime, account)).json()
    printed = view["signature"]["printed_name"]
    assert printed == "Jane Doe"


def _bad(**changes: Any) -> dict[str, Any]:
    """A grant with keys replaced; None removes the key."""
    record = grant_record(Account.create(), record_id="bad-grant")
    return changed(record, **{k: DROP if v is None else v for k, v in changes.items()})


INVALID_GRANTS: dict[str, tuple[dict[str, Any], tuple[str, ...]]] = {
    "unknown role": (_bad(roles=["superuser"]), ("roles", *ROLES, "superuser")),
    "one unknown role among valid ones": (
        _bad(roles=["qa_inspector", "root"]), ("roles", "qa_inspector", "root")),
    "no roles": (_bad(roles=[]), ("roles", "non-empty")),
    "roles not a list": (_bad(roles="admin"), ("roles",)),
    "missing roles": (_bad(roles=None), ("roles",)),
    "missing name": (_bad(name=None), ("name",)),
    "blank name": (_bad(name="   "), ("name",)),
    "name not a string": (_bad(name=42), ("name",)),
    "short address": (_bad(address="0x1234"), ("address", "0x1234")),
    "address not hex": (_bad(address="0x" + "z" * 40), ("address",)),
    "address without 0x": (_bad(address="ab" * 20), ("address",)),
    "missing address": (_bad(address=None), ("address",)),
    "unknown action": (_bad(action="promote"), ("action", "grant or revoke", "promote")),
    "missing action": (_bad(action=None), ("action",)),
}


@pytest.mark.parametrize("case", INVALID_GRANTS, ids=list(INVALID_GRANTS))
@pytest.mark.req("A11-12.3-1", "SCH-1")
def test_invalid_signer_record_is_422(client: TestClient, runtime: Runtime, case: str) -> None:
    record, fragments = INVALID_GRANTS[case]
    # The signature is over a valid grant: signer records are validated before any signature.
    signed = sign(runtime, grant_record(Account.create(), record_id="bad-grant"), admin(runtime),
                  "approved")
    before, registry = record_count(client), signers(client, runtime)
    resp = client.post("/v1/records", json={**signed, "record": record})
    assert resp.status_code == 422, resp.text
    body = resp.json()
    assert body["error"] == "invalid_record"
    for fragment in fragments:
        assert fragment in body["detail"], (fragment, body)
    assert record_count(client) == before
    assert signers(client, runtime) == registry
    assert client.get("/v1/records/bad-grant/receipt").status_code == 404


@pytest.mark.req("A11-12.3-1")
def test_signer_address_with_trailing_newline_is_422(
    client: TestClient, runtime: Runtime
) -> None:
    record = grant_record(Account.create(), record_id="phantom")
    record["address"] += "\n"
    before = record_count(client)
    resp = post_as_admin(client, runtime, record, int(time.time()))
    assert resp.status_code == 422, resp.text
    assert "address" in resp.json()["detail"]
    assert record_count(client) == before


@pytest.mark.req("P11-10g-2", "P11-10d-1")
def test_revoke_is_judged_at_signing_and_at_acceptance_time(
    client: TestClient, runtime: Runtime, specs: Any
) -> None:
    """A record signed before the revoke that arrives after it is refused: authority is judged
    at the acceptance as well as at the signing time (no backdating past a revocation); a
    record signed at or after the revoke is refused too."""
    account: LocalAccount = Account.create()
    t = int(time.time())
    assert post_as_admin(client, runtime, grant_record(account), t).status_code == 201
    signed_before = sign(runtime, inspection("INS-EARLY", inspected_at=now_iso()), account,
                         signed_at=t + 1)
    time.sleep(2.1)  # the revocation is signed in the past, and the record arrives after it
    assert post_as_admin(client, runtime, revoke_record(account, "revoke-1"), t + 2).status_code \
        == 201
    time.sleep(1.1)

    entry = signers(client, runtime)[account.address]
    assert entry["active"] is False
    assert entry["intervals"] == [{"from": t, "until": t + 2, "roles": ["qa_inspector"]}]

    before = record_count(client)
    late = client.post("/v1/records", json=signed_before)
    assert late.status_code == 403, late.text
    assert "no longer an active signer" in late.json()["detail"]
    assert "judged at its acceptance as well as at its signing time" in late.json()["detail"]
    assert record_count(client) == before
    for rid, when in (("INS-AT", t + 2), ("INS-AFTER", t + 3)):
        resp = submit_as(client, runtime, account, rid, when)
        assert resp.status_code == 403, resp.text
        assert "revoked" in resp.json()["detail"]
        assert client.get(f"/v1/records/{rid}/receipt").status_code == 404


@pytest.mark.req("P11-10g-2")
def test_signature_dated_before_the_grant_is_403(
    client: TestClient, runtime: Runtime, specs: Any
) -> None:
    account: LocalAccount = Account.create()
    t = int(time.time())
    assert post_as_admin(client, runtime, grant_record(account), t + 5).status_code == 201
    before = record_count(client)
    resp = submit_as(client, runtime, account, "INS-PREDATED", t + 4)
    assert resp.status_code == 403, resp.text
    detail = resp.json()["detail"]
    assert "not an active signer at the signing time" in detail
    assert str(t + 4) in detail
    assert "revoked" not in detail
    assert record_count(client) == before
    assert submit_as(client, runtime, account, "INS-ON-TIME", t + 5).status_code == 201


@pytest.mark.req("A11-12.3-1")
def test_regrant_after_revoke(client: TestClient, runtime: Runtime, specs: Any) -> None:
    account: LocalAccount = Account.create()
    t = int(time.time())
    assert post_as_admin(client, runtime, grant_record(account), t).status_code == 201
    assert post_as_admin(client, runtime, revoke_record(account, "revoke-1"), t + 1).status_code \
        == 201
    assert submit_as(client, runtime, account, "INS-REVOKED", t + 2).status_code == 403

    roles = ["qa_inspector", "qa_approver"]
    regrant = grant_record(account, roles, "Jane Doe-Smith", record_id="regrant-1")
    assert post_as_admin(client, runtime, regrant, t + 3).status_code == 201
    entry = signers(client, runtime)[account.address]
    assert entry["active"] is True
    assert entry["name"] == "Jane Doe-Smith"
    assert entry["roles"] == roles
    assert entry["intervals"] == [
        {"from": t, "until": t + 1, "roles": ["qa_inspector"]},
        {"from": t + 3, "until": None, "roles": roles},
    ]
    assert submit_as(client, runtime, account, "INS-BACK", t + 3).status_code == 201
    # The gap stays a gap: a record dated inside it is still refused.
    assert submit_as(client, runtime, account, "INS-GAP", t + 2).status_code == 403


@pytest.mark.req("A11-12.3-1", "P11-10g-1")
def test_only_admins_change_the_registry(client: TestClient, runtime: Runtime) -> None:
    approver = register(client, runtime, ("qa_approver", "qa_inspector"))
    stranger: LocalAccount = Account.create()
    before = record_count(client)
    record = grant_record(stranger, ["qa_inspector"], record_id="grant-by-approver")
    resp = client.post("/v1/records", json=sign(runtime, record, approver, "approved"))
    assert resp.status_code == 403, resp.text
    assert "needs role admin" in resp.json()["detail"]
    assert stranger.address not in signers(client, runtime)
    assert record_count(client) == before


@pytest.mark.req("A11-12.3-1")
def test_granted_admin_can_grant(client: TestClient, runtime: Runtime) -> None:
    second_admin = register(client, runtime, ("admin",), name="Second Admin")
    account: LocalAccount = Account.create()
    body = sign(runtime, grant_record(account), second_admin, "approved")
    assert client.post("/v1/records", json=body).status_code == 201
    assert signers(client, runtime)[account.address]["active"] is True


@pytest.mark.req("P11-10g-2")
def test_late_revoke_does_not_cancel_a_later_grant(
    client: TestClient, runtime: Runtime, specs: Any
) -> None:
    account: LocalAccount = Account.create()
    t = int(time.time())
    assert post_as_admin(client, runtime, grant_record(account), t).status_code == 201
    # One admin signs a revoke at t+1; before it arrives, a role change dated t+2 is accepted.
    stale_revoke = sign(runtime, revoke_record(account, "revoke-stale"), admin(runtime),
                        "approved", t + 1)
    change = grant_record(account, ["qa_inspector", "qa_approver"], record_id="role-change")
    assert post_as_admin(client, runtime, change, t + 2).status_code == 201
    assert client.post("/v1/records", json=stale_revoke).status_code == 201

    entry = signers(client, runtime)[account.address]
    assert entry["active"] is True, entry
    resp = submit_as(client, runtime, account, "INS-AFTER-CHANGE", t + 3)
    assert resp.status_code == 201, resp.text


@pytest.mark.req("P11-100-1")
def test_compromised_key_cannot_backdate(client: TestClient, runtime: Runtime, specs: Any) -> None:
    """A plain revoke judges each signature at its signing time; a revoke that reports the
    key compromised refuses every later submission by it, backdated ones included."""
    account: LocalAccount = Account.create()
    t = int(time.time())
    assert post_as_admin(client, runtime, grant_record(account), t).status_code == 201
    backdated = sign(runtime, inspection("INS-STOLEN"), account, "authored", t + 1)
    revoke = {**revoke_record(account, "revoke-stolen"), "compromised": True}
    assert post_as_admin(client, runtime, revoke, t + 2).status_code == 201
    resp = client.post("/v1/records", json=backdated)
    assert resp.status_code == 403, resp.text
    assert "reported compromised by revoke-stolen" in resp.json()["detail"]
    assert signers(client, runtime)[account.address]["compromised"] is True
    bad = {**grant_record(account), "record_id": "grant-compromised", "compromised": True}
    assert post_as_admin(client, runtime, bad, t).status_code == 422
