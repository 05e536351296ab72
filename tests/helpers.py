"""Helpers shared by the tests: keys, signing, registering signers, waiting for anchors."""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_typing import Hash32
from fastapi.testclient import TestClient

from ledger.keys import load_account
from ledger.runtime import Runtime


def sign(
    runtime: Runtime,
    record: dict[str, Any],
    account: LocalAccount,
    meaning: str = "authored",
    signed_at: int | None = None,
) -> dict[str, Any]:
    """The POST /v1/records body for ``record`` signed by ``account`` (EIP-712)."""
    t = int(time.time()) if signed_at is None else signed_at
    digest = runtime.ledger.digest(record, meaning, t)
    sig = account.unsafe_sign_hash(Hash32(digest)).signature.to_0x_hex()
    return {"record": record, "signature": sig, "meaning": meaning, "signed_at": t}


def admin(runtime: Runtime) -> LocalAccount:
    return load_account(Path(runtime.admin_key_path), "admin key")


def register(
    client: TestClient, runtime: Runtime, roles: tuple[str, ...] = ("qa_inspector",),
    name: str = "Test Signer",
) -> LocalAccount:
    """A new key, granted ``roles`` by the bootstrap admin; returns its account."""
    account: LocalAccount = Account.create()
    record = {
        "record_id": f"signer-{account.address.lower()}",
        "type": "signer", "schema": "signer/1", "action": "grant", "address": account.address,
        "name": name, "roles": list(roles),
    }
    resp = client.post("/v1/records", json=sign(runtime, record, admin(runtime), "approved"))
    assert resp.status_code == 201, resp.text
    return account


GTIN = "09506000134352"
#: The instrument the helpers' inspections measure with (registered by :func:`master_data`).
EQUIPMENT = "EQ-LM-1"
#: The helpers' specification limits: outer diameter 2.95..3.05 mm, critical.
LIMITS = (2.95, 3.05)
SAMPLING = "ISO 2859-1 II AQL 0.65"


def spec_id(stage: str) -> str:
    """The id of the helpers' specification for ``stage`` (see :func:`master_data`)."""
    return f"SPEC-{stage}"


def now_iso() -> str:
    """The current UTC time, to the second, as records state times."""
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def inspection(
    record_id: str, lot: str = "LOT-1", value: float = 3.01, stage: str = "final",
    critical: bool = True, version: int = 1, inspected_at: str | None = None,
) -> dict[str, Any]:
    """A valid inspection/2 record following the helpers' specification for ``stage``
    (:func:`master_data` approves it); a value outside 2.95..3.05 mm makes it a failed one."""
    verdict = "pass" if LIMITS[0] <= value <= LIMITS[1] else "fail"
    return {
        "record_id": record_id, "type": "inspection", "schema": "inspection/2", "lot": lot,
        "stage": stage, "product": {"gtin": GTIN}, "sampling_plan": SAMPLING,
        "sample_size": 32, "inspected_at": inspected_at or now_iso(), "verdict": verdict,
        "specification": {"spec_id": spec_id(stage), "version": version},
        "characteristics": [{"name": "outer diameter", "method": "laser micrometer",
                             "unit": "mm", "lower": LIMITS[0], "upper": LIMITS[1],
                             "value": value, "verdict": verdict, "critical": critical,
                             "equipment": EQUIPMENT}],
    }


def specification(
    stage: str = "final", version: int = 1, change_id: str | None = None,
    limits: tuple[float, float] = LIMITS, critical: bool = True,
) -> dict[str, Any]:
    """The helpers' specification for ``stage`` (one critical characteristic)."""
    sid = spec_id(stage)
    return {
        "record_id": f"{sid}-v{version}", "type": "specification", "schema": "specification/1",
        "spec_id": sid, "version": version, "title": f"Catheter shaft, {stage} inspection",
        "product": {"gtin": GTIN}, "stage": stage, "sampling_plan": SAMPLING,
        "sample_size": 32, "change_id": change_id or f"CHG-{sid}-v{version}",
        "characteristics": [{"name": "outer diameter", "method": "laser micrometer",
                             "unit": "mm", "lower": limits[0], "upper": limits[1],
                             "critical": critical, "equipment_kind": "laser micrometer"}],
    }


def change(change_id: str, step: str, **fields: Any) -> dict[str, Any]:
    """A change record at ``step`` with placeholder text for the step's own fields."""
    text = {
        "requested": {"reason": "specification release", "description": "bring it into force"},
        "assessed": {"impact": "inspections follow the new version",
                     "assessment": {"risk": "low", "validation": False, "training": True}},
        "approved": {"approval": "approved for use"},
        "implemented": {"implementation": "inspectors trained"},
        "verified": {"verification": "first inspections checked"},
        "closed": {"summary": "done"},
    }[step]
    return {"record_id": f"{change_id}-{step}", "type": "change", "schema": "change/1",
            "change_id": change_id, "step": step, **text, **fields}


def post(client: TestClient, runtime: Runtime, record: dict[str, Any], account: LocalAccount,
         meaning: str) -> None:
    """Submit ``record``; it must be accepted."""
    resp = client.post("/v1/records", json=sign(runtime, record, account, meaning))
    assert resp.status_code == 201, resp.text


def approve_spec(
    client: TestClient, runtime: Runtime, spec: dict[str, Any], author: LocalAccount,
    approver: LocalAccount,
) -> None:
    """Bring ``spec`` into force through change control: the change is requested naming it,
    the specification is logged, the change assessed, then approved by someone else."""
    cid = spec["change_id"]
    ref = {"spec_id": spec["spec_id"], "version": spec["version"]}
    post(client, runtime, change(cid, "requested", specifications=[ref]), author, "authored")
    post(client, runtime, spec, author, "authored")
    post(client, runtime, change(cid, "assessed"), author, "reviewed")
    post(client, runtime, change(cid, "approved"), approver, "approved")


def calibration(
    record_id: str, equipment_id: str = EQUIPMENT, result: str = "pass",
    as_found: str = "in_tolerance", calibrated_at: str = "2026-01-05T09:00:00Z",
    valid_until: str | None = "2099-01-01T00:00:00Z",
) -> dict[str, Any]:
    return {"record_id": record_id, "type": "calibration", "schema": "calibration/1",
            "equipment_id": equipment_id, "calibrated_at": calibrated_at, "result": result,
            "as_found": as_found,
            **({"valid_until": valid_until} if result == "pass" else {})}


def equipment(equipment_id: str = EQUIPMENT, kind: str = "laser micrometer") -> dict[str, Any]:
    return {"record_id": f"equipment-{equipment_id}", "type": "equipment",
            "schema": "equipment/1", "equipment_id": equipment_id, "kind": kind}


def supplier(record_id: str, supplier_id: str, status: str = "approved") -> dict[str, Any]:
    return {"record_id": record_id, "type": "supplier", "schema": "supplier/1",
            "supplier_id": supplier_id, "name": f"{supplier_id} Ltd", "status": status,
            "reason": f"qualification audit: {status}"}


def master_data(
    client: TestClient, runtime: Runtime,
    stages: tuple[str, ...] = ("incoming", "in_process", "final"),
) -> tuple[LocalAccount, LocalAccount]:
    """What the helpers' inspections rely on: the instrument :data:`EQUIPMENT`, calibrated
    and valid, and an approved specification per stage; returns (author, approver)."""
    author = register(client, runtime, ("qa_inspector",), "Spec Author")
    approver = register(client, runtime, ("qa_approver",), "Spec Approver")
    post(client, runtime, equipment(), author, "authored")
    post(client, runtime, calibration(f"cal-{EQUIPMENT}-1"), author, "verified")
    for stage in stages:
        approve_spec(client, runtime, specification(stage), author, approver)
    return author, approver


_ids = itertools.count(1)


def fresh(prefix: str) -> str:
    """A new id, unique within the test session."""
    return f"{prefix}-{next(_ids)}"


def record_count(client: TestClient) -> int:
    """How many records the ledger holds (to show a refusal stored nothing)."""
    resp = client.get("/v1/status")
    assert resp.status_code == 200, resp.text
    count: int = resp.json()["records"]
    return count


#: Marks a key to remove in :func:`changed`.
DROP = object()


def changed(record: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A copy of ``record`` with top-level keys replaced (``DROP`` removes the key)."""
    out = dict(record)
    for key, value in changes.items():
        if value is DROP:
            out.pop(key, None)
        else:
            out[key] = value
    return out


def bearer(runtime: Runtime, account: LocalAccount) -> dict[str, str]:
    """Authorization header with a read token vouched for by ``account``."""
    from ingest.client import SigningKey

    token = SigningKey(bytes(account.key)).read_token(runtime.ledger.identity.log_origin)
    return {"Authorization": f"Bearer {token}"}


def signer_list(client: TestClient, runtime: Runtime) -> list[dict[str, Any]]:
    """``GET /v1/signers`` (every page) with the bootstrap admin's read token."""
    token = bearer(runtime, admin(runtime))
    out: list[dict[str, Any]] = []
    url: str | None = "/v1/signers"
    while url is not None:
        resp = client.get(url, headers=token)
        assert resp.status_code == 200, resp.text
        out.extend(resp.json())
        url = resp.links.get("next", {}).get("url")
    return out


def wait_anchored(client: TestClient, record_id: str, timeout: float = 30.0) -> dict[str, Any]:
    """Poll the receipt route until the record is anchored; returns the receipt JSON."""
    deadline = time.monotonic() + timeout
    while True:
        resp = client.get(f"/v1/records/{record_id}/receipt")
        body: dict[str, Any] = resp.json()
        if resp.status_code == 200 and body.get("status") == "anchored":
            body.pop("status")
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"{record_id} not anchored after {timeout} s: {body}")
        time.sleep(0.1)


def wait_for(what: str, check: Callable[[], Any], timeout: float = 30.0) -> Any:
    """Poll ``check`` until it returns something truthy (returned), for at most ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def rpc(url: str, method: str, *params: Any) -> Any:
    """One JSON-RPC call to a chain node (Anvil's test methods included); errors fail."""
    import httpx

    answer = httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method,
                                   "params": list(params)}, timeout=10).json()
    assert "error" not in answer, answer
    return answer["result"]


def keep_screenshot(shot: Path) -> None:
    """Copy a page or PDF rendering to ``$EVLEDGER_SCREENSHOTS`` (``docs/img`` refreshes the
    README's), so a test run leaves the tree clean unless asked to."""
    import shutil

    keep = os.environ.get("EVLEDGER_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, Path(keep) / shot.name)
