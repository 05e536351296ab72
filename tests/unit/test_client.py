"""The client library without a service: keys and key files, signatures checked against
eth_account (an independent implementation, used only here), read tokens, and the HTTP
client's retry rules against an in-memory transport with an injected sleep and clock."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account import Account
from eth_account.messages import encode_defunct, encode_typed_data
from evledger_verify.checkpoint import verifier_key_string
from evledger_verify.errors import FormatError
from evledger_verify.receipt import TRUST_FORMAT
from evledger_verify.records import Domain, eip712_digest, record_hash, recover_signer, typed_data
from evledger_verify.tokens import eip191_digest, parse_token, token_message
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.client import (
    BatchResult,
    Client,
    ClientError,
    InvalidInputError,
    KeyFileError,
    RefusedError,
    ServiceError,
    SignedSubmission,
    SigningKey,
    UnreachableError,
    load_key,
    new_key,
)
from tests import helpers

pytestmark = pytest.mark.req("API-6", "P11-70-1", "P11-10d-2")

DOMAIN = Domain(31337, "0x5FbDB2315678afecb367f032d93F642f64180aa3")
SECRET = bytes.fromhex("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")
KEY = SigningKey(SECRET)
ORIGIN = "evledger/1/0x5fbdb2315678afecb367f032d93f642f64180aa3"
#: One inspection time for every record here: a record built twice is the same record.
INSPECTED_AT = "2026-11-22T08:00:00Z"


def inspection(record_id: str) -> dict[str, Any]:
    """The helpers' inspection at :data:`INSPECTED_AT`."""
    return helpers.inspection(record_id, inspected_at=INSPECTED_AT)


# -- keys and signatures ---------------------------------------------------------------------


def test_address_is_eth_accounts() -> None:
    assert KEY.address == Account.from_key(SECRET).address
    assert SECRET.hex() not in repr(KEY) and KEY.address in repr(KEY)


@settings(max_examples=25, deadline=None)
@given(
    secret=st.binary(min_size=32, max_size=32),
    meaning=st.sampled_from(["authored", "reviewed", "approved", "released"]),
    signed_at=st.integers(0, 2**40),
)
def test_record_signature_is_eth_accounts_and_recovers(
    secret: bytes, meaning: str, signed_at: int
) -> None:
    try:
        key = SigningKey(secret)
    except ValueError:  # 0 or >= n: not a key (astronomically rare)
        return
    record = inspection("INS-1")
    signed = key.sign(record, meaning, DOMAIN, signed_at)
    rhash = record_hash(record)
    digest = eip712_digest(DOMAIN, "INS-1", "inspection", rhash, meaning, signed_at)
    assert recover_signer(digest, signed.signature) == key.address == signed.signer
    td = typed_data(DOMAIN, "INS-1", "inspection", rhash, meaning, signed_at)
    theirs = Account.sign_message(encode_typed_data(full_message=td), private_key=secret)
    assert signed.signature == theirs.signature.to_0x_hex()


def test_signed_submission_is_the_post_body_and_keeps_its_record() -> None:
    record = inspection("INS-2")
    signed = KEY.sign(record, "authored", DOMAIN, 1_700_000_000)
    record["verdict"] = "fail"  # the caller changing its dict later changes nothing signed
    assert signed.to_json() == {
        "record": inspection("INS-2"),
        "signature": signed.signature,
        "meaning": "authored",
        "signed_at": 1_700_000_000,
        "signer": KEY.address,
    }
    assert signed.record_id == "INS-2"
    again = SignedSubmission.from_signature(
        inspection("INS-2"), signed.signature, "authored", 1_700_000_000, DOMAIN
    )
    assert again == signed


def test_signing_refuses_records_without_id_or_type() -> None:
    with pytest.raises(InvalidInputError, match="record_id and type") as info:
        KEY.sign({"type": "inspection"}, "authored", DOMAIN)
    assert info.value.exit_code == 1


def test_wallet_signature_v0_is_normalized_and_a_wrong_one_named() -> None:
    signed = KEY.sign(inspection("W-1"), "reviewed", DOMAIN, 5)
    v0 = signed.signature[:-2] + format(int(signed.signature[-2:], 16) - 27, "02x")
    assert (
        SignedSubmission.from_signature(inspection("W-1"), v0, "reviewed", 5, DOMAIN).signature
        == signed.signature
    )
    with pytest.raises(InvalidInputError, match="signature"):
        SignedSubmission.from_signature(inspection("W-1"), "0x" + "11" * 65, "reviewed", 5, DOMAIN)


def test_read_token_is_eip191_personal_sign() -> None:
    token = KEY.read_token(ORIGIN, ttl=60, now=1_700_000_000)
    address, expires, signature = parse_token(token)
    assert (address, expires) == (KEY.address, 1_700_000_060)
    message = token_message(ORIGIN, KEY.address, expires)
    theirs = Account.sign_message(encode_defunct(text=message), private_key=SECRET)
    assert signature == theirs.signature.to_0x_hex()
    assert eip191_digest(message) == bytes(theirs.message_hash)
    assert recover_signer(eip191_digest(message), signature) == KEY.address
    for ttl in (0, 24 * 3600 + 1):
        with pytest.raises(InvalidInputError, match=r"token ttl: expected 1\.\.86400 s"):
            KEY.read_token(ORIGIN, ttl=ttl)


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "evl1",
        "evl2." + "x",
        "evl1.0x12.1.0x00",
        f"evl1.{'0x' + 'ab' * 20}.1.{'0x' + '00' * 64}",  # signature one byte short
        f"evl1.{'0x' + 'ab' * 20}.1.{'0x' + '00' * 65}.",  # trailing data
        f"evl1.{'0x' + 'ab' * 20}.1234567890123.{'0x' + '00' * 65}",  # expiry too long
    ],
)
def test_parse_token_is_strict(bad: str) -> None:
    with pytest.raises(FormatError, match="token: expected evl1"):
        parse_token(bad)


# -- key files -------------------------------------------------------------------------------


def _keyfile(tmp_path: Path, text: str, mode: int = 0o600) -> Path:
    path = tmp_path / "k.key"
    path.write_text(text)
    path.chmod(mode)
    return path


@pytest.mark.parametrize("text", [SECRET.hex(), "0x" + SECRET.hex() + "\n", SECRET.hex() + "\n\n"])
def test_load_key_accepts_the_documented_forms(tmp_path: Path, text: str) -> None:
    assert load_key(_keyfile(tmp_path, text)).address == KEY.address


@pytest.mark.parametrize(
    ("text", "mode", "message"),
    [
        (SECRET.hex(), 0o644, "is readable by others (mode 0o644); run: chmod 600"),
        (SECRET.hex(), 0o660, "is readable by others (mode 0o660); run: chmod 600"),
        (SECRET.hex()[:-1], 0o600, "does not hold a hex secp256k1 private key"),
        (SECRET.hex()[:-2] + "zz", 0o600, "does not hold a hex secp256k1 private key"),
        ("0x" + "00" * 32, 0o600, "does not hold a hex secp256k1 private key"),
        ("0x" + "ff" * 32, 0o600, "does not hold a hex secp256k1 private key"),  # >= n
        (SECRET.hex() + " " + SECRET.hex(), 0o600, "does not hold a hex secp256k1 private key"),
        (SECRET.hex() + "\n" * 2000, 0o600, "does not hold a hex secp256k1 private key"),
    ],
)
def test_load_key_refusals_never_show_key_material(
    tmp_path: Path, text: str, mode: int, message: str
) -> None:
    with pytest.raises(KeyFileError) as info:
        load_key(_keyfile(tmp_path, text, mode), "signing key")
    assert message in str(info.value) and str(info.value).startswith("signing key: ")
    assert SECRET.hex()[:16] not in str(info.value) and "zz" not in str(info.value)
    assert info.value.exit_code == 2


def test_load_key_missing_file(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match=r"cannot read key file .*nope\.key: No such file"):
        load_key(tmp_path / "nope.key")


def test_new_key_is_0600_and_never_overwrites(tmp_path: Path) -> None:
    path = tmp_path / "new.key"
    key = new_key(path)
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert load_key(path).address == key.address
    text = path.read_text()
    assert text.startswith("0x") and text.endswith("\n") and len(text) == 67
    with pytest.raises(KeyFileError, match="already exists; refusing to overwrite a key"):
        new_key(path)
    assert path.read_text() == text
    with pytest.raises(KeyFileError, match="cannot create"):
        new_key(tmp_path / "no-such-dir" / "k.key")


# -- the HTTP client ---------------------------------------------------------------------------


Handler = Callable[[httpx.Request], httpx.Response]


class Fake:
    """An in-memory service: answers from ``handler``, records requests, and a sleep and clock
    that only count."""

    def __init__(self, handler: Handler, retries: int = 5) -> None:
        self.requests: list[httpx.Request] = []
        self.slept: list[float] = []
        self.now = 0.0

        def record(request: httpx.Request) -> httpx.Response:
            self.requests.append(request)
            return handler(request)

        def sleep(seconds: float) -> None:
            self.slept.append(seconds)
            self.now += seconds

        self.client = Client(
            "http://ledger.test",
            retries=retries,
            backoff=0.25,
            max_backoff=2.0,
            http=httpx.Client(transport=httpx.MockTransport(record)),
            sleep=sleep,
            clock=lambda: self.now,
            jitter=lambda: 1.0,
        )


def _answers(*answers: httpx.Response | Exception) -> Handler:
    queue = list(answers)

    def handler(request: httpx.Request) -> httpx.Response:
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(answer, Exception):
            raise answer
        return answer

    return handler


ACCEPTED = {
    "record_id": "INS-1",
    "record_hash": "00" * 32,
    "signer": KEY.address,
    "accepted_at": "2026-01-01T00:00:00Z",
    "status": "accepted",
    "receipt_url": "/v1/records/INS-1/receipt",
}


def test_retries_resend_the_same_signed_submission() -> None:
    fake = Fake(
        _answers(
            httpx.ConnectError("refused"),
            httpx.ReadTimeout("lost"),
            httpx.Response(503),
            httpx.Response(504),
            httpx.Response(408),
            httpx.Response(201, json=ACCEPTED),
        )
    )
    signed = KEY.sign(inspection("INS-1"), "authored", DOMAIN, 1_700_000_000)
    assert fake.client.submit(signed)["status"] == "accepted"
    bodies = {r.content for r in fake.requests}
    assert len(fake.requests) == 6 and len(bodies) == 1, "every attempt sends the same bytes"
    assert json.loads(bodies.pop()) == signed.to_json()
    assert fake.slept == [0.25, 0.5, 1.0, 2.0, 2.0]  # capped exponential (jitter at its top)


def test_backoff_jitter_is_between_half_and_the_whole_step() -> None:
    low = Client("http://x", backoff=1.0, max_backoff=8.0, jitter=lambda: 0.0)
    high = Client("http://x", backoff=1.0, max_backoff=8.0, jitter=lambda: 1.0)
    assert [low.delay(a) for a in range(5)] == [0.5, 1.0, 2.0, 4.0, 4.0]
    assert [high.delay(a) for a in range(5)] == [1.0, 2.0, 4.0, 8.0, 8.0]


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, RefusedError),
        (401, RefusedError),
        (409, RefusedError),
        (413, RefusedError),
        (500, ServiceError),
        (501, ServiceError),
    ],
)
def test_final_answers_are_not_retried(status: int, error: type[ClientError]) -> None:
    fake = Fake(_answers(httpx.Response(status, json={"error": "e", "detail": "d"})))
    with pytest.raises(error):
        fake.client.get_json("/v1/status")
    assert len(fake.requests) == 1 and fake.slept == []


def test_refusal_carries_status_code_detail_and_reasons() -> None:
    body = {
        "error": "conflict",
        "detail": "release of lot L refused: 2 reason(s)",
        "reasons": ["NCR N-1 is open (step open)", "required inspection missing"],
    }
    fake = Fake(_answers(httpx.Response(409, json=body)))
    with pytest.raises(RefusedError) as info:
        fake.client.submit(KEY.sign(inspection("R-1"), "released", DOMAIN))
    exc = info.value
    assert (exc.status, exc.error, exc.detail, exc.reasons) == (
        409,
        "conflict",
        body["detail"],
        body["reasons"],
    )
    assert str(exc) == (
        "refused (409) conflict: release of lot L refused: 2 reason(s)\n"
        "  - NCR N-1 is open (step open)\n  - required inspection missing"
    )
    assert exc.exit_code == 1


def test_unreachable_after_the_retries() -> None:
    fake = Fake(_answers(httpx.ConnectError("refused")), retries=2)
    with pytest.raises(UnreachableError) as info:
        fake.client.trust()
    assert str(info.value).startswith(
        "service: cannot reach http://ledger.test (ConnectError, 3 attempt(s))"
    )
    assert info.value.exit_code == 2 and len(fake.requests) == 3


def test_overloaded_after_the_retries_is_a_service_error() -> None:
    fake = Fake(
        _answers(httpx.Response(503, json={"error": "chain_error", "detail": "down"})), retries=1
    )
    with pytest.raises(ServiceError, match=r"failed with 503 chain_error: down \(after 2 attempt"):
        fake.client.get_json("/v1/status")


@pytest.mark.parametrize(
    "answer", [httpx.Response(200, text="<html>"), httpx.Response(200, json=[1, 2])]
)
def test_answers_that_are_not_the_api(answer: httpx.Response) -> None:
    with pytest.raises(ServiceError, match="expected"):
        Fake(_answers(answer)).client.receipt("X")


def test_a_url_without_scheme_is_named() -> None:
    with pytest.raises(ClientError, match="service URL: expected http"):
        Client("localhost:8000").get_json("/v1/status")


def test_receipt_waits_with_the_injected_clock() -> None:
    pending = httpx.Response(202, json={"status": "sealed"})
    fake = Fake(
        _answers(pending, pending, pending, httpx.Response(200, json={"status": "anchored"}))
    )
    assert fake.client.receipt("A/B", wait=10, poll=0.5)["status"] == "anchored"
    assert fake.slept == [0.5, 0.5, 0.5]
    assert fake.requests[0].url.raw_path == b"/v1/records/A%2FB/receipt"
    fake = Fake(_answers(pending))
    assert fake.client.receipt("A", wait=1.2, poll=0.5)["status"] == "sealed"
    assert fake.slept == [0.5, 0.5, pytest.approx(0.2)]


def test_domain_and_origin_are_fetched_once() -> None:
    trust = {
        "format": TRUST_FORMAT, "chain_id": 31337, "contract": DOMAIN.contract.lower(),
        "log_origin": ORIGIN, "log_public_key": verifier_key_string(ORIGIN, bytes(32)),
    }  # fmt: skip
    fake = Fake(_answers(httpx.Response(200, json=trust)))
    assert fake.client.domain() == DOMAIN and fake.client.domain() == DOMAIN
    assert parse_token(fake.client.read_token(KEY, 60))[0] == KEY.address
    assert len(fake.requests) == 1


def _receipt_of(signed: SignedSubmission, **entry: Any) -> dict[str, Any]:
    return {
        "status": "anchored",
        "entry": {
            "record_hash": record_hash(signed.record).hex(),
            "signer": signed.signer,
            "meaning": signed.meaning,
            "signed_at": 1,
            "accepted_at": "2026-01-01T00:00:00Z",
            **entry,
        },
    }


def test_same_record_ok_answers_the_stored_entry() -> None:
    signed = KEY.sign(inspection("S-1"), "authored", DOMAIN)
    conflict = httpx.Response(409, json={"error": "conflict", "detail": "already used"})
    fake = Fake(_answers(conflict, httpx.Response(200, json=_receipt_of(signed))))
    result = fake.client.submit(signed, same_record_ok=True)
    assert result["status"] == "duplicate" and result["signed_at"] == 1
    for other in (
        {"meaning": "approved"},
        {"signer": "0x" + "ab" * 20},
        {"record_hash": "00" * 32},
    ):
        fake = Fake(_answers(conflict, httpx.Response(200, json=_receipt_of(signed, **other))))
        with pytest.raises(RefusedError, match="already used"):
            fake.client.submit(signed, same_record_ok=True)
    fake = Fake(_answers(conflict, httpx.Response(404, json={"error": "not_found", "detail": ""})))
    with pytest.raises(RefusedError, match="already used"):
        fake.client.submit(signed, same_record_ok=True)
    fake = Fake(_answers(conflict))
    with pytest.raises(RefusedError):
        fake.client.submit(signed)
    assert len(fake.requests) == 1


def _batch_service(max_items: int) -> Handler:
    """A batch route that answers each item by its record id, and 413 above ``max_items``."""

    def handler(request: httpx.Request) -> httpx.Response:
        items = json.loads(request.content)["items"]
        if len(items) > max_items:
            return httpx.Response(413, json={"error": "too_large", "detail": "batch: too big"})
        results = [
            {
                "index": i,
                "record_id": it["record"]["record_id"],
                "status": "refused" if it["record"]["record_id"].endswith("7") else "accepted",
                "http_status": 201,
            }
            for i, it in enumerate(items)
        ]
        return httpx.Response(200, json={"results": results})

    return handler


def test_batch_chunks_and_splits_what_is_too_large() -> None:
    items = [KEY.sign(inspection(f"B-{i}"), "authored", DOMAIN, 7) for i in range(23)]
    fake = Fake(_batch_service(max_items=4))
    result = fake.client.submit_batch(items, chunk=10)
    assert [r["index"] for r in result.results] == list(range(23))
    assert [r["record_id"] for r in result.results] == [f"B-{i}" for i in range(23)]
    assert result.count("refused") == 2 and result.count("accepted") == 21
    assert [r["record_id"] for r in result.refused] == ["B-7", "B-17"]
    sizes = [len(json.loads(r.content)["items"]) for r in fake.requests]
    assert sizes == [10, 5, 2, 3, 5, 2, 3, 10, 5, 2, 3, 5, 2, 3, 3]
    assert Fake(_batch_service(4)).client.submit_batch([]) == BatchResult([])


def test_batch_refusals_and_bad_answers() -> None:
    items = [KEY.sign(inspection(f"B-{i}"), "authored", DOMAIN, 7) for i in range(2)]
    with pytest.raises(RefusedError, match="too big"):
        Fake(_batch_service(max_items=0)).client.submit_batch(items)
    with pytest.raises(InvalidInputError, match=r"batch chunk: expected 1\.\.1000"):
        Fake(_batch_service(4)).client.submit_batch(items, chunk=1001)
    short = httpx.Response(200, json={"results": [{"index": 0, "status": "accepted"}]})
    with pytest.raises(ServiceError, match="expected 2 results"):
        Fake(_answers(short)).client.submit_batch(items)


def test_the_client_imports_nothing_of_the_server() -> None:
    """What a line PC installs: the verifier and httpx. Checked at run time (import-linter
    checks the source)."""
    code = (
        "import sys, ingest.client\n"
        "server = {'ledger', 'api', 'fastapi', 'sqlalchemy', 'psycopg2', 'web3', 'eth_account',"
        " 'pgserver', 'starlette', 'uvicorn', 'alembic'}\n"
        "print(sorted(server & {m.split('.')[0] for m in sys.modules}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ},
        check=True,
    )
    assert done.stdout.strip() == "[]", done.stdout


def test_a_problem_details_refusal_is_read_like_any_other() -> None:
    """RFC 9457 answers (application/problem+json) keep `error` and `detail` as members."""
    body = {
        "type": "https://evledger.dev/problems/not_authorized",
        "title": "Not authorized",
        "status": 403,
        "detail": "signer 0xab: not registered on this ledger",
        "error": "not_authorized",
    }
    answer = httpx.Response(
        403, content=json.dumps(body), headers={"content-type": "application/problem+json"}
    )
    fake = Fake(_answers(answer))
    with pytest.raises(RefusedError) as info:
        fake.client.submit(KEY.sign(inspection("P-1"), "authored", DOMAIN))
    assert (info.value.status, info.value.error, info.value.detail) == (
        403,
        "not_authorized",
        body["detail"],
    )


def test_get_pages_follows_the_next_links_to_the_last_page() -> None:
    absolute = "http://ledger.test/v1/signers?limit=2&cursor=NA"  # the client's base URL
    pages = {
        None: ([{"n": 1}, {"n": 2}], '</v1/signers?limit=2&cursor=Mg>; rel="next"'),
        "Mg": ([{"n": 3}, {"n": 4}], f'<{absolute}>; rel="next"'),
        "NA": ([{"n": 5}], None),
    }

    def handler(request: httpx.Request) -> httpx.Response:
        items, link = pages[request.url.params.get("cursor")]
        return httpx.Response(200, json=items, headers={"Link": link} if link else {})

    fake = Fake(handler)
    assert fake.client.get_pages("/v1/signers", "tok", {"limit": 2}) == [
        {"n": n} for n in range(1, 6)
    ]
    assert [str(r.url) for r in fake.requests] == [
        "http://ledger.test/v1/signers?limit=2",
        "http://ledger.test/v1/signers?limit=2&cursor=Mg",
        "http://ledger.test/v1/signers?limit=2&cursor=NA",
    ]
    assert all(r.headers["authorization"] == "Bearer tok" for r in fake.requests)


def test_get_pages_refuses_a_next_link_elsewhere_or_in_a_loop() -> None:
    for link in ('<https://elsewhere.test/x>; rel="next"', '</v1/signers>; rel="next"'):
        fake = Fake(_answers(httpx.Response(200, json=[], headers={"Link": link})))
        with pytest.raises(ServiceError, match="a next page at"):
            fake.client.get_pages("/v1/signers")
