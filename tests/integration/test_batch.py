"""POST /v1/records/batch: every item judged as the single route judges it, answered on its own,
good items stored even when others are refused, lots kept in order, nothing half-stored."""

from __future__ import annotations

import json
import threading
from typing import Any
from urllib.parse import quote

import pytest
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient

from api.app import create_app
from ledger.runtime import Runtime
from tests.helpers import (
    GTIN,
    admin,
    bearer,
    changed,
    fresh,
    inspection,
    record_count,
    register,
    sign,
)

pytestmark = [pytest.mark.integration, pytest.mark.req("OPS-7")]


@pytest.fixture(scope="module")
def inspector(
    module_client: TestClient, module_runtime: Runtime, module_specs: Any
) -> LocalAccount:
    return register(module_client, module_runtime, ("qa_inspector",))


def _batch(client: TestClient, items: list[dict[str, Any]]) -> dict[str, Any]:
    resp = client.post("/v1/records/batch", json={"items": items})
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    assert len(body["results"]) == len(items)
    assert [r["index"] for r in body["results"]] == list(range(len(items)))
    return body


def _entry(client: TestClient, record_id: str) -> dict[str, Any]:
    entry: dict[str, Any] = client.get(f"/v1/records/{record_id}/receipt").json()["entry"]
    return entry


def test_mixed_batch_stores_the_good_and_answers_each_like_the_single_route(
    module_client: TestClient, module_runtime: Runtime, inspector: LocalAccount
) -> None:
    rt, client = module_runtime, module_client
    lot = fresh("LOT-MIX")
    good = [sign(rt, inspection(fresh("B-OK"), lot=lot), inspector) for _ in range(3)]
    unsigned = sign(rt, inspection(fresh("B-BADSIG"), lot=lot), inspector)
    unsigned["signature"] = "0x" + "11" * 65
    maybe = changed(inspection(fresh("B-SCHEMA"), lot=lot), verdict="maybe")
    schema_bad = sign(rt, maybe, inspector)
    stranger = sign(rt, inspection(fresh("B-STRANGER"), lot=lot), admin(rt), "authored")
    malformed = {"record": {"record_id": fresh("B-MAL")}, "signature": "nope"}
    wrong_types = {"record": "text", "signature": 1, "meaning": [], "signed_at": "now"}
    items = [good[0], unsigned, good[1], schema_bad, stranger, malformed, wrong_types, good[2]]
    before = record_count(client)

    body = _batch(client, items)

    statuses = [(r["status"], r["http_status"]) for r in body["results"]]
    assert statuses[0] == statuses[2] == statuses[7] == ("accepted", 201)
    # The same problem body the single route gives for each refused item.
    for i in (1, 3, 4):
        single = client.post("/v1/records", json=items[i])
        result = body["results"][i]
        assert result["status"] == "refused"
        assert (result["http_status"], result["error"], result["detail"]) == (
            single.status_code,
            single.json()["error"],
            single.json()["detail"],
        )
    assert body["results"][5]["http_status"] == 422
    assert body["results"][5]["error"] == "invalid_request"
    assert "signature" in body["results"][5]["detail"]
    assert body["results"][6]["http_status"] == 422
    assert (body["accepted"], body["duplicate"], body["refused"]) == (3, 0, 5)
    assert record_count(client) == before + 3
    # The lot's chain runs through the accepted items in batch order.
    entries = [_entry(client, g["record"]["record_id"]) for g in good]
    assert entries[0]["lot_prev"] is None
    leaf0 = client.get(f"/v1/records/{good[0]['record']['record_id']}/receipt").json()
    assert entries[1]["lot_prev"] == leaf0["leaf_hash"]


def test_duplicates_within_and_across_batches_and_one_id_with_two_bodies(
    module_client: TestClient, module_runtime: Runtime, inspector: LocalAccount
) -> None:
    rt, client = module_runtime, module_client
    rid = fresh("B-DUP")
    first = sign(rt, inspection(rid, value=3.00), inspector)
    other_body = sign(rt, inspection(rid, value=3.02), inspector)
    before = record_count(client)

    body = _batch(client, [first, first, other_body])
    assert [r["status"] for r in body["results"]] == ["accepted", "duplicate", "refused"]
    assert body["results"][1]["http_status"] == 200
    assert body["results"][1]["accepted_at"] == body["results"][0]["accepted_at"]
    assert body["results"][2]["http_status"] == 409
    assert "different body" in body["results"][2]["detail"]

    again = _batch(client, [other_body, first])
    assert [r["status"] for r in again["results"]] == ["refused", "duplicate"]
    assert again["results"][1]["accepted_at"] == body["results"][0]["accepted_at"]
    # The single route agrees with the batch about what is already stored.
    assert client.post("/v1/records", json=first).status_code == 200
    assert client.post("/v1/records", json=other_body).status_code == 409
    assert record_count(client) == before + 1
    stored = client.get(f"/v1/records/{rid}/receipt").json()
    assert stored["record_hash"] == body["results"][0]["record_hash"]


def test_workflow_steps_in_one_batch_see_the_earlier_items(
    module_client: TestClient, module_runtime: Runtime, inspector: LocalAccount
) -> None:
    rt, client = module_runtime, module_client
    approver = register(client, rt, ("qa_approver",))
    lot = fresh("LOT-WF")
    ncr = fresh("NCR")
    failed = inspection(fresh("B-FAIL"), lot=lot, value=3.2)
    base = {"type": "ncr", "schema": "ncr/1", "lot": lot, "ncr_id": ncr}
    opened = {
        **base,
        "record_id": fresh("B-NCR"),
        "step": "open",
        "nature": "outer diameter above the upper limit",
        "refs": [failed["record_id"]],
    }
    evaluated = {
        **base,
        "record_id": fresh("B-NCR"),
        "step": "evaluated",
        "evaluation": "whole lot affected, reworkable",
        "investigation": "forming die worn beyond its service interval",
    }
    closed_too_early = {
        **base,
        "record_id": fresh("B-NCR"),
        "step": "closed",
        "summary": "closing before a disposition",
    }
    release = {
        "record_id": fresh("B-REL"),
        "type": "release",
        "schema": "release/1",
        "lot": lot,
        "product": {"gtin": GTIN},
        "decision": "released",
        "evidence": [],
        "statement": "released while the NCR is open",
    }
    items = [
        sign(rt, failed, inspector),
        sign(rt, opened, inspector),
        sign(rt, evaluated, inspector, "reviewed"),
        sign(rt, closed_too_early, approver, "approved"),
        sign(rt, release, approver, "released"),
    ]
    body = _batch(client, items)
    statuses = [r["status"] for r in body["results"]]
    assert statuses[:3] == ["accepted", "accepted", "accepted"], json.dumps(body["results"])
    assert body["results"][3]["http_status"] == 409, body["results"][3]
    assert "cannot go from evaluated to closed" in body["results"][3]["detail"]
    assert body["results"][4]["http_status"] == 409, body["results"][4]
    assert any("NCR" in r and "is open" in r for r in body["results"][4]["reasons"])


def test_oversized_batches_are_refused_whole(
    module_runtime: Runtime, inspector: LocalAccount
) -> None:
    rt = module_runtime
    app = create_app(
        rt.ledger, rt.settings.max_body_bytes, max_batch_items=3, max_batch_bytes=64 * 1024
    )
    with TestClient(app) as client:
        before = record_count(client)
        items = [sign(rt, inspection(fresh("B-BIG")), inspector) for _ in range(4)]
        resp = client.post("/v1/records/batch", json={"items": items})
        assert resp.status_code == 413
        assert resp.json()["error"] == "too_large"
        assert "at most 3 items, got 4" in resp.json()["detail"]
        padded = sign(rt, {**inspection(fresh("B-PAD")), "note": "x" * 70_000}, inspector)
        resp = client.post("/v1/records/batch", json={"items": [padded]})
        assert resp.status_code == 413
        assert record_count(client) == before


@pytest.mark.parametrize(
    "body",
    [
        b"{}",
        b'{"items": []}',
        b'{"items": {}}',
        b'{"items": [], "extra": 1}',
        b"[]",
        b'{"items": [1, 2]}',
        b"not json",
    ],
    ids=[
        "no items",
        "empty",
        "items not a list",
        "extra key",
        "list",
        "items not objects",
        "not json",
    ],
)
def test_malformed_batches_get_422_and_store_nothing(
    module_client: TestClient, body: bytes
) -> None:
    before = record_count(module_client)
    resp = module_client.post(
        "/v1/records/batch", content=body, headers={"Content-Type": "application/json"}
    )
    assert resp.status_code == 422, resp.text
    assert resp.json()["error"] == "invalid_request"
    assert record_count(module_client) == before


def test_concurrent_batches_on_one_lot_keep_one_chain(
    module_client: TestClient, module_runtime: Runtime, inspector: LocalAccount
) -> None:
    rt, client = module_runtime, module_client
    lot = fresh("LOT-CONC")
    batches = [
        [sign(rt, inspection(fresh(f"B-C{t}"), lot=lot), inspector) for _ in range(20)]
        for t in range(4)
    ]
    # Every batch also carries one id shared with the others: stored once.
    shared = sign(rt, inspection(fresh("B-SHARED"), lot=lot), inspector)
    for b in batches:
        b.insert(10, shared)
    answers: list[dict[str, Any]] = []
    errors: list[BaseException] = []

    def post(items: list[dict[str, Any]]) -> None:
        try:
            answers.append(_batch(client, items))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=post, args=(b,)) for b in batches]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert sum(a["accepted"] for a in answers) == 81
    assert sum(a["duplicate"] for a in answers) == 3
    # Follow the chain from the lot's records: each record's lot_prev is another record's
    # leaf, exactly one record starts the chain, and no two records share a predecessor.
    ids = [i["record"]["record_id"] for b in batches for i in b if i is not shared]
    ids.append(shared["record"]["record_id"])
    receipts = {rid: client.get(f"/v1/records/{rid}/receipt").json() for rid in ids}
    leaves = {r["leaf_hash"] for r in receipts.values()}
    prevs = [r["entry"]["lot_prev"] for r in receipts.values()]
    assert prevs.count(None) == 1
    assert len(set(prevs)) == len(prevs)
    assert {p for p in prevs if p is not None} <= leaves


def test_a_lot_a_route_cannot_serve_is_refused(
    module_client: TestClient, module_runtime: Runtime, inspector: LocalAccount
) -> None:
    """Defect: a lot id a URL path cannot carry was accepted (201) but never read back."""
    before = record_count(module_client)
    for lot in (".", "..", "LOT 1"):
        body = sign(module_runtime, inspection(fresh("B-DOT"), lot=lot), inspector)
        resp = module_client.post("/v1/records", json=body)
        assert resp.status_code == 422, (lot, resp.text)
        assert "record.lot" in resp.json()["detail"]
    assert record_count(module_client) == before


@pytest.mark.parametrize("lot", ["2026/05-A", "A%2FB", "50%/x", "/", "a//b/"])
def test_gs1_lots_with_slash_and_percent_are_stored_and_read_back(
    module_client: TestClient, module_runtime: Runtime, inspector: LocalAccount, lot: str
) -> None:
    """GS1 AI (10) allows '/' and '%': such a lot is stored, and read back at
    /v1/lots/{lot} with '/' sent as %2F and '%' as %25 (one spelling per lot)."""
    lot = f"{lot}-{fresh('S')}"
    body = sign(module_runtime, inspection(fresh("B-SLASH"), lot=lot), inspector)
    assert module_client.post("/v1/records", json=body).status_code == 201
    path = f"/v1/lots/{quote(lot, safe='')}"
    resp = module_client.get(path, headers=bearer(module_runtime, inspector))
    assert resp.status_code == 200, resp.text
    assert resp.json()["lot"] == lot
    assert [r["record_id"] for r in resp.json()["inspections"]] == [body["record"]["record_id"]]
    # The same lot spelled without escaping its '/' is another path: never this lot.
    if "/" in lot:
        unescaped = module_client.get(
            f"/v1/lots/{lot.replace('%', '%25')}", headers=bearer(module_runtime, inspector)
        )
        assert unescaped.status_code == 404 or unescaped.json().get("lot") != lot


def test_batch_response_is_json_all_the_way(module_client: TestClient) -> None:
    resp = module_client.post("/v1/records/batch", json={"items": [{"record": 1}]})
    assert resp.status_code == 200
    assert json.loads(resp.text)["refused"] == 1
