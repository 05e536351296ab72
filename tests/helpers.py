"""Helpers shared by the tests: keys, signing, registering signers, waiting for anchors."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
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


def inspection(
    record_id: str, lot: str = "LOT-1", value: float = 3.01, stage: str = "final",
    critical: bool = True,
) -> dict[str, Any]:
    """A valid inspection/1 record; a value outside 2.95..3.05 mm makes it a failed one."""
    verdict = "pass" if 2.95 <= value <= 3.05 else "fail"
    return {
        "record_id": record_id, "type": "inspection", "schema": "inspection/1", "lot": lot,
        "stage": stage, "product": {"gtin": GTIN}, "sampling_plan": "ISO 2859-1 II AQL 0.65",
        "sample_size": 32, "inspected_at": "2026-11-22T08:00:00Z", "verdict": verdict,
        "characteristics": [{"name": "outer diameter", "method": "laser micrometer",
                             "unit": "mm", "lower": 2.95, "upper": 3.05, "value": value,
                             "verdict": verdict, "critical": critical}],
    }


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
