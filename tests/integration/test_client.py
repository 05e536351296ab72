"""The client library against the real service (the FastAPI app over a real ledger, through
the TestClient, which is an ``httpx.Client``): a retry after a lost answer, batches, receipts,
read tokens and refusals, as the CLI, the demo and the ingesters use them."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient

from ingest.client import Client, RefusedError, SignedSubmission, SigningKey
from ledger.runtime import Runtime
from tests.helpers import fresh, inspection, record_count, register

pytestmark = [pytest.mark.integration, pytest.mark.req("API-6")]


class AnswerLost(httpx.BaseTransport):
    """Delivers each request to the service, then loses the first ``lose`` answers (raises
    ReadTimeout as a client whose network dropped would): the service *did* handle them."""

    def __init__(self, service: httpx.Client, lose: int = 1) -> None:
        self.service, self.lose = service, lose
        self.handled: list[int] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        answer = self.service.send(request)
        self.handled.append(answer.status_code)
        if self.lose > 0:
            self.lose -= 1
            raise httpx.ReadTimeout("answer lost on the way back", request=request)
        return httpx.Response(answer.status_code, headers=answer.headers, content=answer.content)


def _api(service: httpx.Client) -> tuple[Client, AnswerLost]:
    transport = AnswerLost(service, lose=0)
    client = Client(
        "http://testserver", http=httpx.Client(transport=transport), sleep=lambda _: None
    )
    return client, transport


@pytest.fixture()
def inspector(client: TestClient, runtime: Runtime, specs: object) -> SigningKey:
    return SigningKey(bytes(register(client, runtime, ("qa_inspector",)).key))


@pytest.fixture()
def api(client: TestClient) -> Iterator[Client]:
    with Client("http://testserver", http=client, sleep=lambda _: None) as c:
        yield c


def test_retry_after_a_lost_answer_lands_once(
    client: TestClient, runtime: Runtime, inspector: SigningKey
) -> None:
    """The defect: the CLI signed again (new signed_at) for every attempt, so a retry after a
    timeout was refused 409 although the first attempt had been stored. The client signs once
    and resends the same signed submission: the retry is answered 200 duplicate."""
    lossy, transport = _api(client)
    signed = inspector.sign(inspection(fresh("RETRY")), "authored", lossy.domain())
    transport.handled.clear()
    transport.lose = 1
    before = record_count(client)

    result = lossy.submit(signed)

    assert transport.handled == [201, 200], "stored on the first attempt, duplicate on the retry"
    assert result["status"] == "duplicate" and result["record_id"] == signed.record_id
    assert record_count(client) == before + 1
    entry = client.get(f"/v1/records/{signed.record_id}/receipt").json()["entry"]
    assert (entry["signature"], entry["signed_at"]) == (signed.signature, signed.signed_at)
    # What the old CLI sent on its second try: the same record, signed again a second later.
    resigned = inspector.sign(signed.record, "authored", lossy.domain(), signed.signed_at + 1)
    with pytest.raises(RefusedError) as info:
        lossy.submit(resigned)
    assert info.value.status == 409 and "already used with a different signature" in str(info.value)
    assert record_count(client) == before + 1


def test_batch_through_the_client(
    client: TestClient, runtime: Runtime, inspector: SigningKey, api: Client
) -> None:
    lot = fresh("LOT-CB")
    domain = api.domain()
    first = inspector.sign(inspection(fresh("CB"), lot), "authored", domain)
    assert api.submit(first)["status"] == "accepted"
    stranger = SigningKey.generate().sign(inspection(fresh("CB"), lot), "authored", domain)
    items = (
        [first]
        + [inspector.sign(inspection(fresh("CB"), lot), "authored", domain) for _ in range(4)]
        + [stranger]
    )
    before = record_count(client)

    result = api.submit_batch(items, chunk=2)

    assert [r["index"] for r in result.results] == list(range(6))
    assert [r["record_id"] for r in result.results] == [s.record_id for s in items]
    assert [r["status"] for r in result.results] == (["duplicate"] + ["accepted"] * 4 + ["refused"])
    assert result.refused[0]["http_status"] == 403 and result.refused[0]["error"]
    assert record_count(client) == before + 4
    # Sent again whole (as after a lost answer), the batch stores nothing more.
    again = api.submit_batch(items)
    assert [r["status"] for r in again.results] == ["duplicate"] * 5 + ["refused"]
    assert record_count(client) == before + 4


def test_receipt_token_and_refusals(
    client: TestClient, runtime: Runtime, inspector: SigningKey, api: Client
) -> None:
    trust = api.trust()
    assert trust["log_origin"] == runtime.ledger.identity.log_origin
    assert api.domain().chain_id == int(trust["chain_id"])
    lot = fresh("LOT-CR")
    signed = inspector.sign(inspection(fresh("CR"), lot), "authored", api.domain())
    api.submit(signed)
    body = api.receipt(signed.record_id, wait=30, poll=0.1)
    assert body["status"] == "anchored" and body["entry"]["signature"] == signed.signature
    status = api.get_json(f"/v1/lots/{lot}", token=api.read_token(inspector, 60))
    assert status["lot"] == lot
    with pytest.raises(RefusedError) as info:
        api.get_json(f"/v1/lots/{lot}")
    assert info.value.status == 401 and info.value.error == "bad_signature"
    with pytest.raises(RefusedError) as info:
        api.receipt("NO-SUCH-RECORD")
    assert info.value.status == 404 and "not found" in str(info.value)
    failed = inspection(fresh("CR"), lot, value=3.2, stage="in_process")
    api.submit(inspector.sign(failed, "authored", api.domain()))
    release = {
        "record_id": fresh("REL"),
        "type": "release",
        "schema": "release/1",
        "lot": lot,
        "product": {"gtin": "09506000134352"},
        "decision": "released",
        "evidence": [],
        "statement": "released",
    }
    approver = SigningKey(bytes(register(client, runtime, ("qa_approver",)).key))
    with pytest.raises(RefusedError) as info:
        api.submit(approver.sign(release, "released", api.domain()))
    assert info.value.status == 409 and len(info.value.reasons) >= 2, info.value
    assert all(f"\n  - {r}" in str(info.value) for r in info.value.reasons)


def test_same_record_ok(
    client: TestClient, runtime: Runtime, inspector: SigningKey, api: Client
) -> None:
    """A record submitted again with a new signature by the same signer and meaning (a script
    run twice) is answered with the stored entry; by another signer it stays refused."""
    signed = inspector.sign(inspection(fresh("SR")), "authored", api.domain())
    api.submit(signed)
    later = inspector.sign(signed.record, "authored", api.domain(), signed.signed_at + 5)
    result = api.submit(later, same_record_ok=True)
    assert result["status"] == "duplicate" and result["signed_at"] == signed.signed_at
    other = register(client, runtime, ("qa_inspector",))
    by_other = SigningKey(bytes(other.key)).sign(signed.record, "authored", api.domain())
    with pytest.raises(RefusedError, match="409"):
        api.submit(by_other, same_record_ok=True)
    with pytest.raises(RefusedError, match="409"):
        api.submit(inspector.sign(signed.record, "reviewed", api.domain()), same_record_ok=True)
    wallet = SignedSubmission.from_signature(
        signed.record, later.signature, "authored", later.signed_at, api.domain()
    )
    assert api.submit(wallet, same_record_ok=True)["status"] == "duplicate"
