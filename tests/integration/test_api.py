"""The HTTP API against a real ledger: every refusal is a 4xx JSON problem naming what is wrong
and stores nothing; accepted records are idempotent; receipts, checkpoints and proofs have the
documented shape and verify."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from evledger_verify.merkle import verify_consistency, verify_inclusion
from fastapi.testclient import TestClient

from ledger.runtime import Runtime
from tests.helpers import (
    DROP,
    GTIN,
    admin,
    bearer,
    changed,
    inspection,
    record_count,
    register,
    sign,
    signer_list,
    wait_anchored,
)

pytestmark = [pytest.mark.integration, pytest.mark.req("API-1")]

REPO = Path(__file__).resolve().parents[2]
HEX64 = re.compile(r"^[0-9a-f]{64}$")
EVM_HASH = re.compile(r"^0x[0-9a-fA-F]{64}$")
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
MAX_BODY = 256 * 1024  # Settings default, EVLEDGER_MAX_BODY_BYTES
JSON_HEADERS = {"content-type": "application/json"}


# -- helpers ----------------------------------------------------------------------------------


def assert_problem(resp: httpx.Response, status: int, *fragments: str) -> dict[str, Any]:
    """An RFC 9457 problem (type, title, status, detail, and the error code) with ``status``
    whose detail names each fragment."""
    assert resp.status_code == status, f"{resp.status_code}: {resp.text}"
    assert resp.headers["content-type"] == "application/problem+json", resp.headers
    body: dict[str, Any] = resp.json()
    assert set(body) == {"type", "title", "status", "detail", "error"}, body
    assert isinstance(body["error"], str) and body["error"], body
    assert body["type"] == f"https://evledger.dev/problems/{body['error']}", body
    assert body["status"] == status and body["title"], body
    if status == 401:
        assert resp.headers["www-authenticate"].startswith('Bearer realm="evledger"'), resp.headers
    for fragment in fragments:
        assert fragment.lower() in body["detail"].lower(), (fragment, body)
    return body


def assert_not_stored(client: TestClient, before: int, *record_ids: str) -> None:
    assert record_count(client) == before
    for rid in record_ids:
        assert client.get(f"/v1/records/{rid}/receipt").status_code == 404, rid


def revoke(client: TestClient, runtime: Runtime, account: LocalAccount, signed_at: int) -> None:
    record = {
        "record_id": f"revoke-{account.address.lower()}-{signed_at}",
        "type": "signer", "schema": "signer/1", "action": "revoke", "address": account.address,
    }
    body = sign(runtime, record, admin(runtime), "approved", signed_at)
    resp = client.post("/v1/records", json=body)
    assert resp.status_code == 201, resp.text


@pytest.fixture()
def inspector(client: TestClient, runtime: Runtime, specs: Any) -> LocalAccount:
    return register(client, runtime)


@pytest.fixture()
def good(runtime: Runtime, inspector: LocalAccount) -> dict[str, Any]:
    """A valid, signed, not yet submitted body for record INS-1."""
    return sign(runtime, inspection("INS-1"), inspector)


# -- refusals of the request body's shape -----------------------------------------------------


def _without(key: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda good: {"json": {k: v for k, v in good.items() if k != key}}


SHAPE_CASES: dict[str, tuple[Callable[[dict[str, Any]], dict[str, Any]], tuple[str, ...]]] = {
    "malformed json": (
        lambda good: {"content": b"{not json", "headers": JSON_HEADERS}, ("JSON",)),
    "json array": (lambda good: {"json": [good]}, ("body", "object")),
    "json string": (lambda good: {"json": "a record"}, ("body", "object")),
    "json null": (lambda good: {"content": b"null", "headers": JSON_HEADERS}, ("body",)),
    "empty body": (lambda good: {"content": b"", "headers": JSON_HEADERS}, ("body",)),
    "missing record": (_without("record"), ("record", "required")),
    "missing signature": (_without("signature"), ("signature", "required")),
    "missing meaning": (_without("meaning"), ("meaning", "required")),
    "missing signed_at": (_without("signed_at"), ("signed_at", "required")),
    "unknown field": (lambda good: {"json": {**good, "comment": "hi"}}, ("comment", "extra")),
    "record is a list": (lambda good: {"json": {**good, "record": [good["record"]]}}, ("record",)),
    "record is a string": (lambda good: {"json": {**good, "record": "INS-1"}}, ("record",)),
    "record is null": (lambda good: {"json": {**good, "record": None}}, ("record",)),
}


@pytest.mark.parametrize("case", SHAPE_CASES, ids=list(SHAPE_CASES))
def test_malformed_body_is_refused(client: TestClient, good: dict[str, Any], case: str) -> None:
    make, fragments = SHAPE_CASES[case]
    before = record_count(client)
    resp = client.post("/v1/records", **make(good))
    assert_problem(resp, 422, *fragments)
    assert_not_stored(client, before, "INS-1")


# -- refusals of the record envelope (checked before the signature) ---------------------------




def _record(**changes: Any) -> dict[str, Any]:
    return changed(inspection("INS-1"), **changes)


ENVELOPE_CASES: dict[str, tuple[dict[str, Any], str]] = {
    "no record_id": (_record(record_id=DROP), "record.record_id"),
    "record_id with spaces": (_record(record_id="INS 1"), "record.record_id"),
    "record_id of 200 chars": (_record(record_id="I" * 200), "record.record_id"),
    "empty record_id": (_record(record_id=""), "record.record_id"),
    "record_id not a string": (_record(record_id=17), "record.record_id"),
    "record_id with a slash": (_record(record_id="INS/1"), "record.record_id"),
    "record_id starting with a dot": (_record(record_id=".INS-1"), "record.record_id"),
    "no type": (_record(type=DROP), "record.type"),
    "uppercase type": (_record(type="Inspection"), "record.type"),
    "empty type": (_record(type=""), "record.type"),
    "type not a string": (_record(type=["inspection"]), "record.type"),
    "type with a space": (_record(type="in spection"), "record.type"),
    "lot with a space": (_record(lot="LOT 1"), "record.lot"),
    "lot not a string": (_record(lot=1), "record.lot"),
    "NaN in the record": (_record(value=float("nan")), "NaN is not JSON"),
    "integer beyond JSON's safe range": (_record(count=2**60), "canonical"),
}


@pytest.mark.parametrize("case", ENVELOPE_CASES, ids=list(ENVELOPE_CASES))
def test_invalid_record_envelope_is_refused(
    client: TestClient, good: dict[str, Any], case: str
) -> None:
    record, fragment = ENVELOPE_CASES[case]
    before = record_count(client)
    # The signature is over a valid record: the envelope is judged before any signature.
    content = json.dumps({**good, "record": record}, allow_nan=True).encode()
    resp = client.post("/v1/records", content=content, headers=JSON_HEADERS)
    assert_problem(resp, 422, fragment)
    assert_not_stored(client, before, "INS-1")


@pytest.mark.parametrize("field", ["record_id", "type", "lot"])
def test_trailing_newline_in_envelope_is_refused(
    client: TestClient, runtime: Runtime, inspector: LocalAccount, field: str
) -> None:
    record = inspection("INS-NL")
    record[field] += "\n"
    before = record_count(client)
    resp = client.post("/v1/records", json=sign(runtime, record, inspector))
    assert_problem(resp, 422, f"record.{field}")
    assert record_count(client) == before


def test_signer_record_type_with_newline_is_refused(
    client: TestClient, runtime: Runtime, inspector: LocalAccount
) -> None:
    record = {
        "record_id": "self-promotion", "type": "signer\n", "action": "grant",
        "address": inspector.address, "name": "Test Signer", "roles": ["admin"],
    }
    before = record_count(client)
    resp = client.post("/v1/records", json=sign(runtime, record, inspector, "approved"))
    assert 400 <= resp.status_code < 500, resp.text
    assert_not_stored(client, before, "self-promotion")


# -- signing time and meaning -----------------------------------------------------------------


SIGNED_AT_TYPE_CASES: dict[str, Any] = {
    "string": "1700000000",
    "float": float(int(time.time())),
    "fractional": time.time(),
    "bool": True,
    "negative": -1,
    "beyond uint63": 2**64,
    "null": None,
}


@pytest.mark.parametrize("value", SIGNED_AT_TYPE_CASES.values(), ids=list(SIGNED_AT_TYPE_CASES))
def test_signed_at_of_the_wrong_type_is_refused(
    client: TestClient, good: dict[str, Any], value: Any
) -> None:
    before = record_count(client)
    resp = client.post("/v1/records", json={**good, "signed_at": value})
    assert_problem(resp, 422, "signed_at")
    assert_not_stored(client, before, "INS-1")


@pytest.mark.parametrize(
    ("offset", "fragments"),
    [(86400, ("signed_at", "not after now")),
     (-30 * 86400, ("time:", "is at most 900 s old", "sign again"))],
    ids=["a day ahead", "30 days old"],
)
@pytest.mark.req("P11-10e-4")
def test_signed_at_out_of_window_is_refused(
    client: TestClient, runtime: Runtime, inspector: LocalAccount, offset: int,
    fragments: tuple[str, ...],
) -> None:
    before = record_count(client)
    body = sign(runtime, inspection("INS-1"), inspector, signed_at=int(time.time()) + offset)
    assert_problem(client.post("/v1/records", json=body), 422, *fragments)
    assert_not_stored(client, before, "INS-1")


@pytest.mark.req("P11-10e-4")
def test_a_device_backlog_keeps_its_capture_time(
    client: TestClient, runtime: Runtime, inspector: LocalAccount
) -> None:
    """A scanner that was cut off for ten days sends what it signed at capture: accepted
    (devices may be EVLEDGER_MAX_DEVICE_BACKLOG, 30 days, behind); a person's signature of the
    same age is not (15 minutes); a device's older than 30 days is not either."""
    device = register(client, runtime, ("device",))
    captured = int(time.time())
    later = captured + 10 * 86400
    runtime.ledger.submitter.clock = lambda: later  # ten days pass
    scan = {"record_id": "SCAN-BACKLOG-1", "type": "scan", "schema": "scan/1",
            "station": "dock 1", "operation": "receive", "gs1": {"gtin": GTIN},
            "scanned_at": "2026-11-29T08:00:00Z"}
    resp = client.post("/v1/records", json=sign(runtime, scan, device, "recorded", captured))
    assert resp.status_code == 201, resp.text
    before = record_count(client)
    person = sign(runtime, inspection("INS-OLD"), inspector, signed_at=captured)
    assert_problem(client.post("/v1/records", json=person), 422,
                   "is at most 900 s old on arrival")
    runtime.ledger.submitter.clock = lambda: captured + 31 * 86400
    late = sign(runtime, {**scan, "record_id": "SCAN-BACKLOG-2"}, device, "recorded", captured)
    assert_problem(client.post("/v1/records", json=late), 422,
                   "older than 2592000 s, the most a device's backlog may be")
    assert record_count(client) == before


@pytest.mark.parametrize("meaning", ["blessed", "Authored", "authored ", ""])
def test_unknown_meaning_is_refused(
    client: TestClient, runtime: Runtime, inspector: LocalAccount, meaning: str
) -> None:
    before = record_count(client)
    body = sign(runtime, inspection("INS-1"), inspector, meaning=meaning)
    assert_problem(client.post("/v1/records", json=body), 422, "meaning")
    assert_not_stored(client, before, "INS-1")


# -- oversized bodies -------------------------------------------------------------------------


def _oversized(runtime: Runtime, inspector: LocalAccount) -> bytes:
    record = {**inspection("INS-BIG"), "notes": "x" * (300 * 1024)}
    return json.dumps(sign(runtime, record, inspector)).encode()


def test_oversized_body_with_content_length_is_413(
    client: TestClient, runtime: Runtime, inspector: LocalAccount
) -> None:
    before = record_count(client)
    resp = client.post("/v1/records", content=_oversized(runtime, inspector), headers=JSON_HEADERS)
    assert_problem(resp, 413, "body", str(MAX_BODY))
    assert_not_stored(client, before, "INS-BIG")


def test_body_just_under_the_limit_is_accepted(
    client: TestClient, runtime: Runtime, inspector: LocalAccount
) -> None:
    # Alert details are the one free-form part of any schema, so they can fill a body.
    record = {"record_id": "ALERT-FAT", "type": "alert", "schema": "alert/1",
              "alert_id": "ALERT-FAT", "source": "manual", "severity": "info",
              "description": "large attachment", "details": {"blob": "x" * (MAX_BODY - 2048)}}
    resp = client.post("/v1/records", json=sign(runtime, record, inspector))
    assert resp.status_code == 201, resp.text


def _chunks(data: bytes, size: int = 16 * 1024) -> Iterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


def test_oversized_body_streamed_chunked_is_413(
    client: TestClient, runtime: Runtime, inspector: LocalAccount
) -> None:
    before = record_count(client)
    data = _oversized(runtime, inspector)
    resp = client.post("/v1/records", content=_chunks(data), headers=JSON_HEADERS)
    assert "content-length" not in resp.request.headers
    assert resp.request.headers.get("transfer-encoding") == "chunked"
    assert_not_stored(client, before, "INS-BIG")
    assert_problem(resp, 413, "body", str(MAX_BODY))


def test_small_body_streamed_chunked_is_accepted(
    client: TestClient, good: dict[str, Any]
) -> None:
    resp = client.post("/v1/records", content=_chunks(json.dumps(good).encode(), 64),
                       headers=JSON_HEADERS)
    assert resp.status_code == 201, resp.text


_DEEP_JSON_SCRIPT = textwrap.dedent(
    """
    import sys
    import ledger.runtime  # noqa: F401  as in the server: web3 -> py_ecc raises the recursion limit
    from fastapi.testclient import TestClient
    from api.app import create_app

    depth = int(sys.argv[1])
    body = b'{"record": ' + b"[" * depth + b"]" * depth + b"}"
    with TestClient(create_app(None)) as client:  # the body is parsed before the ledger is used
        resp = client.post(
            "/v1/records", content=body, headers={"content-type": "application/json"}
        )
    print(resp.status_code)
    """
)


def test_deeply_nested_json_is_refused_without_crashing() -> None:
    # In a child process: a crash must not take the test session down with it.
    depth = 100_000
    proc = subprocess.run(
        [sys.executable, "-c", _DEEP_JSON_SCRIPT, str(depth)],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=False,
    )
    assert proc.returncode == 0, f"API process died with {proc.returncode}: {proc.stderr[-500:]}"
    assert 400 <= int(proc.stdout.split()[-1]) < 500, proc.stdout


# -- signatures -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "signature",
    ["0x1234", "0x" + "zz" * 65, "11" * 66, "0x" + "11" * 66, "", "0x" + "11" * 65 + " "],
    ids=["short", "not hex", "no 0x", "too long", "empty", "trailing space"],
)
@pytest.mark.req("P11-70-1")
def test_malformed_signature_is_refused(
    client: TestClient, good: dict[str, Any], signature: str
) -> None:
    before = record_count(client)
    resp = client.post("/v1/records", json={**good, "signature": signature})
    assert_problem(resp, 422, "signature")
    assert_not_stored(client, before, "INS-1")


def _malleate(signature: str) -> str:
    """The other valid encoding of an ECDSA signature: (r, n - s, flipped v)."""
    raw = bytes.fromhex(signature[2:])
    s = int.from_bytes(raw[32:64], "big")
    v = 27 + (1 - (raw[64] - 27))
    return "0x" + (raw[:32] + (SECP256K1_N - s).to_bytes(32, "big") + bytes([v])).hex()


@pytest.mark.parametrize(
    ("tamper", "fragments"),
    [
        (lambda sig: sig[:-2] + "05", ("v of 27 or 28",)),
        (lambda sig: "0x" + "00" * 65, ("out of range",)),
        (_malleate, ("high-s",)),
    ],
    ids=["bad v", "zero r and s", "high-s twin of a valid signature"],
)
@pytest.mark.req("P11-70-1")
def test_unusable_signature_is_401(
    client: TestClient, good: dict[str, Any], tamper: Callable[[str], str],
    fragments: tuple[str, ...],
) -> None:
    before = record_count(client)
    resp = client.post("/v1/records", json={**good, "signature": tamper(good["signature"])})
    assert_problem(resp, 401, *fragments)
    assert_not_stored(client, before, "INS-1")


@pytest.mark.req("P11-70-1")
def test_signature_over_another_record_is_refused(
    client: TestClient, runtime: Runtime, inspector: LocalAccount
) -> None:
    """Signing record A and submitting record B with A's signature recovers some unrelated
    address. Without a ``signer`` claim the ledger cannot tell that from an unknown key: 403."""
    before = record_count(client)
    signed_a = sign(runtime, inspection("INS-A"), inspector)
    forged = {**signed_a, "record": inspection("INS-B")}
    body = assert_problem(client.post("/v1/records", json=forged), 403, "not registered")
    assert inspector.address not in body["detail"]
    # With the signer claimed, the mismatch is named for what it is.
    claimed = {**forged, "signer": inspector.address}
    assert_problem(client.post("/v1/records", json=claimed), 401, "recovers to", "other data")
    assert_not_stored(client, before, "INS-A", "INS-B")


@pytest.mark.parametrize(
    "field", ["record_id", "type", "meaning", "signed_at"]
)
@pytest.mark.req("P11-70-1")
def test_signature_binds_each_signed_field(
    client: TestClient, runtime: Runtime, inspector: LocalAccount, field: str
) -> None:
    """Changing any signed field after signing breaks the signature (checked via the claim)."""
    before = record_count(client)
    body = {**sign(runtime, inspection("INS-1"), inspector), "signer": inspector.address}
    if field == "record_id":
        body["record"] = {**body["record"], "record_id": "INS-2"}
    elif field == "type":  # another type is another schema: refused before the signature
        body["record"] = {**body["record"], "type": "ncr"}
        assert_problem(client.post("/v1/records", json=body), 422, "schema 'inspection/2'")
        assert_not_stored(client, before, "INS-1")
        return
    elif field == "meaning":
        body["meaning"] = "approved"
    else:
        body["signed_at"] -= 1
    assert_problem(client.post("/v1/records", json=body), 401, "recovers to")
    assert_not_stored(client, before, "INS-1", "INS-2")


@pytest.mark.req("P11-70-1")
def test_claimed_signer_that_did_not_sign_is_401(
    client: TestClient, runtime: Runtime, good: dict[str, Any], inspector: LocalAccount
) -> None:
    before = record_count(client)
    other = admin(runtime).address
    resp = client.post("/v1/records", json={**good, "signer": other})
    assert_problem(resp, 401, other, inspector.address)
    assert_not_stored(client, before, "INS-1")


def test_claimed_signer_matching_in_any_case_is_accepted(
    client: TestClient, good: dict[str, Any], inspector: LocalAccount
) -> None:
    resp = client.post("/v1/records", json={**good, "signer": inspector.address.lower()})
    assert resp.status_code == 201, resp.text
    assert resp.json()["signer"] == inspector.address


@pytest.mark.parametrize("signer", ["0x1234", "not an address", "0x" + "g" * 40])
def test_malformed_signer_claim_is_422(
    client: TestClient, good: dict[str, Any], signer: str
) -> None:
    before = record_count(client)
    assert_problem(client.post("/v1/records", json={**good, "signer": signer}), 422, "signer")
    assert_not_stored(client, before, "INS-1")


# -- authority --------------------------------------------------------------------------------


@pytest.mark.req("P11-10d-1")
def test_unregistered_signer_is_403(client: TestClient, runtime: Runtime) -> None:
    stranger: LocalAccount = Account.create()
    before = record_count(client)
    resp = client.post("/v1/records", json=sign(runtime, inspection("INS-1"), stranger))
    assert_problem(resp, 403, stranger.address, "not registered")
    assert_not_stored(client, before, "INS-1")


@pytest.mark.req("P11-10d-1")
def test_revoked_signer_is_403(
    client: TestClient, runtime: Runtime, inspector: LocalAccount
) -> None:
    revoke(client, runtime, inspector, int(time.time()))
    before = record_count(client)
    resp = client.post("/v1/records", json=sign(runtime, inspection("INS-1"), inspector))
    assert_problem(resp, 403, inspector.address, "revoked")
    assert_not_stored(client, before, "INS-1")


@pytest.mark.req("A11-12.3-1")
def test_non_admin_cannot_grant_itself_admin(
    client: TestClient, runtime: Runtime, inspector: LocalAccount
) -> None:
    record = {
        "record_id": "self-promotion", "type": "signer", "schema": "signer/1", "action": "grant",
        "address": inspector.address, "name": "Test Signer", "roles": ["admin"],
    }
    before = record_count(client)
    resp = client.post("/v1/records", json=sign(runtime, record, inspector, "approved"))
    assert_problem(resp, 403, "needs role admin", "qa_inspector")
    assert_not_stored(client, before, "self-promotion")
    me = [s for s in signer_list(client, runtime) if s["address"] == inspector.address]
    assert me[0]["roles"] == ["qa_inspector"]


# -- idempotency and conflicts ----------------------------------------------------------------


def test_identical_submission_is_idempotent(client: TestClient, good: dict[str, Any]) -> None:
    before = record_count(client)
    first = client.post("/v1/records", json=good)
    assert first.status_code == 201, first.text
    second = client.post("/v1/records", json=good)
    assert second.status_code == 200, second.text
    a, b = first.json(), second.json()
    assert (a["status"], b["status"]) == ("accepted", "duplicate")
    for key in ("record_id", "record_hash", "signer", "accepted_at", "receipt_url"):
        assert a[key] == b[key], key
    assert a["receipt_url"] == "/v1/records/INS-1/receipt"
    assert record_count(client) == before + 1


def test_signature_in_upper_case_hex_is_the_same_submission(
    client: TestClient, good: dict[str, Any]
) -> None:
    assert client.post("/v1/records", json=good).status_code == 201
    upper = {**good, "signature": "0x" + good["signature"][2:].upper()}
    resp = client.post("/v1/records", json=upper)
    assert resp.status_code == 200, resp.text
    assert resp.json()["status"] == "duplicate"


def test_different_body_under_a_used_record_id_is_409(
    client: TestClient, runtime: Runtime, inspector: LocalAccount, good: dict[str, Any]
) -> None:
    original = client.post("/v1/records", json=good).json()
    before = record_count(client)
    other = sign(runtime, inspection("INS-1", value=2.90), inspector)
    assert_problem(client.post("/v1/records", json=other), 409, "INS-1", "different body")
    assert record_count(client) == before
    stored = client.get("/v1/records/INS-1", headers=bearer(runtime, inspector)).json()
    assert stored["record_hash"] == original["record_hash"]


def test_same_body_resigned_at_another_time_under_a_used_id_is_409(
    client: TestClient, runtime: Runtime, inspector: LocalAccount, good: dict[str, Any]
) -> None:
    assert client.post("/v1/records", json=good).status_code == 201
    before = record_count(client)
    again = sign(runtime, good["record"], inspector, signed_at=good["signed_at"] - 5)
    assert_problem(client.post("/v1/records", json=again), 409, "INS-1", "different signature")
    assert record_count(client) == before
    stored = client.get("/v1/records/INS-1", headers=bearer(runtime, inspector)).json()
    assert stored["signature"]["signed_at"] == time.strftime(
        "%Y-%m-%dT%H:%M:%SZ", time.gmtime(good["signed_at"])
    )


def test_replayed_grant_after_revoke_is_a_duplicate_not_a_regrant(
    client: TestClient, runtime: Runtime
) -> None:
    account: LocalAccount = Account.create()
    grant = {
        "record_id": "grant-replayed", "type": "signer", "schema": "signer/1", "action": "grant",
        "address": account.address, "name": "Replayed Grant", "roles": ["qa_inspector"],
    }
    now = int(time.time())
    grant_body = sign(runtime, grant, admin(runtime), "approved", now)
    assert client.post("/v1/records", json=grant_body).status_code == 201
    revoke(client, runtime, account, now + 1)
    before = record_count(client)

    replay = client.post("/v1/records", json=grant_body)
    assert replay.status_code == 200, replay.text
    assert replay.json()["status"] == "duplicate"
    assert record_count(client) == before
    state = [s for s in signer_list(client, runtime) if s["address"] == account.address]
    assert state[0]["active"] is False
    resp = client.post(
        "/v1/records", json=sign(runtime, inspection("INS-1"), account, signed_at=now + 2)
    )
    assert_problem(resp, 403, "revoked")


def test_concurrent_identical_submissions_store_one_record(
    client: TestClient, good: dict[str, Any]
) -> None:
    before = record_count(client)
    start = threading.Barrier(8)

    def submit(_: int) -> httpx.Response:
        start.wait()
        resp: httpx.Response = client.post("/v1/records", json=good)
        return resp

    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(submit, range(8)))
    codes = sorted(r.status_code for r in responses)
    assert codes == [200] * 7 + [201], [r.text for r in responses]
    assert {r.json()["status"] for r in responses} == {"accepted", "duplicate"}
    assert len({(r.json()["record_hash"], r.json()["accepted_at"]) for r in responses}) == 1
    assert record_count(client) == before + 1


# -- reading records and receipts -------------------------------------------------------------


@pytest.mark.parametrize("path", ["/v1/records/{}", "/v1/records/{}/receipt"])
def test_unknown_record_is_404(client: TestClient, runtime: Runtime, path: str) -> None:
    resp = client.get(path.format("NO-SUCH-1"), headers=bearer(runtime, admin(runtime)))
    assert_problem(resp, 404, "NO-SUCH-1", "not found")


def test_record_status_after_submit(
    client: TestClient, runtime: Runtime, good: dict[str, Any], inspector: LocalAccount
) -> None:
    accepted = client.post("/v1/records", json=good).json()
    resp = client.get("/v1/records/INS-1", headers=bearer(runtime, inspector))
    assert resp.status_code == 200, resp.text
    rec = resp.json()
    assert rec["record_id"] == "INS-1"
    assert rec["type"] == "inspection"
    assert rec["lot"] == "LOT-1"
    assert rec["record_hash"] == accepted["record_hash"]
    assert rec["accepted_at"] == accepted["accepted_at"]
    assert rec["signature"]["signer"] == inspector.address
    assert rec["signature"]["printed_name"] == "Test Signer"
    assert rec["signature"]["meaning"] == "authored"


@pytest.mark.req("RCPT-5")
def test_receipt_of_a_fresh_record(
    client: TestClient, runtime: Runtime, good: dict[str, Any], inspector: LocalAccount
) -> None:
    accepted = client.post("/v1/records", json=good).json()
    early = client.get("/v1/records/INS-1/receipt")
    assert early.status_code in (200, 202), early.text
    if early.status_code == 202:
        assert early.json()["status"] in ("pending", "sealed")

    receipt = wait_anchored(client, "INS-1")
    for key in ("format", "record_hash", "leaf_hash", "leaf_index", "tree_size", "root_hash",
                "inclusion_proof", "checkpoint", "anchor"):
        assert key in receipt, key
    assert receipt["format"] == "evledger-receipt/1"
    assert receipt["record_hash"] == accepted["record_hash"]
    for key in ("record_hash", "leaf_hash", "root_hash"):
        assert HEX64.match(receipt[key]), (key, receipt[key])
    assert all(HEX64.match(h) for h in receipt["inclusion_proof"])
    assert 0 <= receipt["leaf_index"] < receipt["tree_size"]
    verify_inclusion(
        bytes.fromhex(receipt["leaf_hash"]), receipt["leaf_index"], receipt["tree_size"],
        [bytes.fromhex(h) for h in receipt["inclusion_proof"]], bytes.fromhex(receipt["root_hash"]),
    )

    trust = client.get("/v1/trust").json()
    origin, size, root_b64 = receipt["checkpoint"].split("\n")[:3]
    assert origin == trust["log_origin"]
    assert int(size) == receipt["tree_size"]
    assert base64.b64decode(root_b64).hex() == receipt["root_hash"]

    anchor = receipt["anchor"]
    assert set(anchor) >= {"chain_id", "contract", "tx_hash", "block_number", "block_hash",
                           "log_index"}
    assert anchor["chain_id"] == trust["chain_id"]
    assert anchor["contract"] == trust["contract"]
    assert EVM_HASH.match(anchor["tx_hash"]), anchor
    assert EVM_HASH.match(anchor["block_hash"]), anchor
    assert isinstance(anchor["block_number"], int) and anchor["block_number"] > 0
    assert isinstance(anchor["log_index"], int) and anchor["log_index"] >= 0
    view = client.get("/v1/records/INS-1", headers=bearer(runtime, admin(runtime))).json()
    assert view["leaf_index"] == receipt["leaf_index"]


# -- checkpoints and consistency proofs -------------------------------------------------------


def _grow_log(client: TestClient, runtime: Runtime, inspector: LocalAccount, n: int) -> list[int]:
    """Submit ``n`` records one at a time, each anchored before the next: distinct checkpoints."""
    sizes = []
    for i in range(n):
        rid = f"GROW-{i}"
        body = sign(runtime, inspection(rid), inspector)
        assert client.post("/v1/records", json=body).status_code == 201
        sizes.append(wait_anchored(client, rid)["tree_size"])
    return sizes


@pytest.mark.req("RCPT-5")
def test_checkpoints_latest_and_by_size(
    client: TestClient, runtime: Runtime, inspector: LocalAccount
) -> None:
    size = _grow_log(client, runtime, inspector, 1)[-1]
    latest = client.get("/v1/checkpoints/latest")
    assert latest.status_code == 200, latest.text
    cp = latest.json()
    assert cp["tree_size"] >= size
    assert HEX64.match(cp["root_hash"])
    assert cp["checkpoint"].split("\n")[1] == str(cp["tree_size"])
    by_size = client.get(f"/v1/checkpoints/{cp['tree_size']}")
    assert by_size.status_code == 200, by_size.text
    assert by_size.json()["root_hash"] == cp["root_hash"]
    anchored = client.get(f"/v1/checkpoints/{size}").json()
    assert anchored["anchored"] is True
    assert EVM_HASH.match(anchored["anchor_tx_hash"])


@pytest.mark.parametrize(
    ("tree_size", "status", "fragment"),
    [("0", 422, "tree_size"), ("-1", 422, "tree_size"), ("abc", 422, "tree_size"),
     ("1.5", 422, "tree_size"), (str(2**63), 422, "tree_size"), ("999999", 404, "999999")],
)
def test_bad_checkpoint_size(
    client: TestClient, tree_size: str, status: int, fragment: str
) -> None:
    assert_problem(client.get(f"/v1/checkpoints/{tree_size}"), status, fragment)


@pytest.mark.req("RCPT-5")
def test_consistency_proofs_verify_between_checkpoints(
    client: TestClient, runtime: Runtime, inspector: LocalAccount
) -> None:
    _grow_log(client, runtime, inspector, 4)
    latest = client.get("/v1/checkpoints/latest").json()["tree_size"]
    roots = {}
    for n in range(1, latest + 1):
        resp = client.get(f"/v1/checkpoints/{n}")
        if resp.status_code == 200:
            roots[n] = bytes.fromhex(resp.json()["root_hash"])
    assert len(roots) >= 3, roots
    for first in roots:
        for second in roots:
            if first > second:
                continue
            resp = client.get(f"/v1/proofs/consistency?first={first}&second={second}")
            assert resp.status_code == 200, resp.text
            body = resp.json()
            assert (body["first"], body["second"]) == (first, second)
            assert all(HEX64.match(h) for h in body["proof"])
            verify_consistency(
                first, second, [bytes.fromhex(h) for h in body["proof"]], roots[first],
                roots[second],
            )


@pytest.mark.parametrize(
    ("query", "status", "fragments"),
    [
        ("first=2&second=1", 400, ("first", "second")),
        ("first=0&second=1", 422, ("first",)),
        ("first=-1&second=1", 422, ("first",)),
        ("", 422, ("first", "second", "required")),
        ("first=1", 422, ("second", "required")),
        ("second=1", 422, ("first", "required")),
        ("first=a&second=1", 422, ("first",)),
        ("first=1&second=1.5", 422, ("second",)),
        ("first=1&second=999999", 404, ("999999",)),
    ],
)
def test_bad_consistency_request(
    client: TestClient, query: str, status: int, fragments: tuple[str, ...]
) -> None:
    assert_problem(client.get(f"/v1/proofs/consistency?{query}"), status, *fragments)


# -- operations -------------------------------------------------------------------------------


def test_healthz(client: TestClient) -> None:
    resp = client.get("/healthz")
    assert resp.status_code == 200
    body = resp.json()
    assert body["status"] == "ok" and body["reasons"] == [], body
    assert set(body["workers"]) == {"sealer", "anchorer", "genealogy"}


@pytest.mark.req("P11-300d-1")
def test_metrics_are_prometheus_text(client: TestClient, good: dict[str, Any]) -> None:
    assert client.post("/v1/records", json=good).status_code == 201
    resp = client.get("/metrics")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/plain")
    lines = resp.text.splitlines()
    assert "# TYPE evledger_records gauge" in lines
    records = next(ln for ln in lines if ln.startswith("evledger_records "))
    assert float(records.split()[1]) == record_count(client)
    assert 'evledger_records_submitted_total{outcome="accepted"}' in resp.text


def test_openapi_lists_the_v1_routes(client: TestClient) -> None:
    resp = client.get("/openapi.json")
    assert resp.status_code == 200
    paths = resp.json()["paths"]
    for path, method in [
        ("/v1/records", "post"),
        ("/v1/records/{record_id}", "get"),
        ("/v1/records/{record_id}/receipt", "get"),
        ("/v1/checkpoints/latest", "get"),
        ("/v1/checkpoints/{tree_size}", "get"),
        ("/v1/proofs/consistency", "get"),
        ("/v1/trust", "get"),
        ("/v1/signers", "get"),
        ("/v1/status", "get"),
    ]:
        assert method in paths.get(path, {}), path


@pytest.mark.req("P11-300d-1")
def test_api_keeps_serving_after_refusals(client: TestClient, good: dict[str, Any]) -> None:
    for make, _ in SHAPE_CASES.values():
        assert 400 <= client.post("/v1/records", **make(good)).status_code < 500
    assert client.post("/v1/records", json=good).status_code == 201
    assert client.get("/healthz").status_code == 200
