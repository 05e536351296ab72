"""The request guard (``api/guard.py``) in front of a tiny FastAPI app, no database.

Limits, strict JSON and what the route finds in ``request.state`` are checked in-process (by a
bare ASGI call where the headers must be exactly as written, else TestClient); the body timeout
and the event loop's freedom during a check against a real uvicorn server on a free port, with
raw sockets. A naive byte-at-a-time depth scanner cross-checks the guard's fast one."""

from __future__ import annotations

import gc
import json
import select
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import anyio
import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.types import Message

from api import guard
from api.guard import MAX_JSON_DEPTH, RequestGuard, check_json, parse_json

pytestmark = pytest.mark.req("API-3")

LIMIT = 64 * 1024
BATCH = "/v1/records/batch"
BATCH_LIMIT = 8 * 1024 * 1024
TIMEOUT = 1.0  # the body timeout of the real server
JSON = {"content-type": "application/json"}
Headers = list[tuple[bytes, bytes]]


def make_app(**options: Any) -> FastAPI:
    """Routes that say what the guard left them; the guard as api/app.py installs it."""
    app = FastAPI()

    @app.post("/v1/records")
    @app.post(BATCH)
    async def echo(request: Request) -> dict[str, Any]:
        raw = await request.body()  # the app still reads the bytes the client sent
        parsed = hasattr(request.state, "json_body")
        return {
            "bytes": len(raw),
            "parsed": parsed,
            "json_body": request.state.json_body if parsed else None,
        }

    @app.get("/ping")
    def ping() -> dict[str, str]:
        return {"ping": "pong"}

    app.add_middleware(RequestGuard, limit=LIMIT, limits={BATCH: BATCH_LIMIT}, **options)
    return app


APP = make_app()


def asgi_post(
    headers: Headers, chunks: list[bytes], path: str = "/v1/records"
) -> tuple[int, dict[str, Any]]:
    """POST to :data:`APP` by a bare ASGI call: headers exactly as given, body in ``chunks``."""
    incoming: list[Message] = [
        {"type": "http.request", "body": chunk, "more_body": i + 1 < len(chunks)}
        for i, chunk in enumerate(chunks or [b""])
    ]
    sent: list[Message] = []

    async def receive() -> Message:
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "",
        "query_string": b"", "headers": headers, "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80), "state": {},
    }  # fmt: skip
    anyio.run(APP, scope, receive, send)
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0]["status"], json.loads(body)


def assert_problem(status: int, body: Any, want: int, error: str, *fragments: str) -> None:
    """An RFC 9457 problem (type, title, status, detail; the code in ``error``)."""
    assert status == want, (status, body)
    assert set(body) == {"type", "title", "status", "detail", "error"}, body
    assert body["error"] == error and body["status"] == want, body
    assert body["type"] == f"https://evledger.dev/problems/{error}", body
    for fragment in fragments:
        assert fragment in body["detail"], (fragment, body)


def object_of(keys: list[str]) -> bytes:
    return ("{" + ",".join(f'"{k}":0' for k in keys) + "}").encode()


# -- what no client can send without a clear 4xx ----------------------------------------------

CL = b"content-length"
CT = (b"content-type", b"application/json")
FOUR_AND_A_HALF_KB = [b"[" + b"0," * 2300 + b"0]"]

REFUSED: dict[str, tuple[Headers, list[bytes], int, str, str]] = {
    "Content-Length not a number": (
        [CT, (CL, b"abc")], [b"{}"], 400, "bad_request",
        "Content-Length: expected a decimal number of bytes, got 'abc'",
    ),
    "negative Content-Length": ([CT, (CL, b"-1")], [b"{}"], 400, "bad_request", "got '-1'"),
    "Content-Length with an exponent": ([CT, (CL, b"2e0")], [b"{}"], 400, "bad_request", "'2e0'"),
    "Content-Length with a space": ([CT, (CL, b" 2")], [b"{}"], 400, "bad_request", "' 2'"),
    "empty Content-Length": ([CT, (CL, b"")], [b"{}"], 400, "bad_request", "got ''"),
    "two different Content-Lengths": ([CT, (CL, b"2"), (CL, b"3")], [b"{}"], 400,
                                      "bad_request", "expected one value, got '2', '3'"),
    "Content-Length beyond 64 bits": ([CT, (CL, b"9" * 30)], [b"{}"], 413, "too_large",
                                      "expected at most 65536 bytes, got Content-Length of 20"),
    "Content-Length of 5000 digits": ([CT, (CL, b"9" * 5000)], [b"{}"], 413, "too_large",
                                      "65536"),
    "Content-Length over the limit": ([CT, (CL, b"65537")], [b"{}"], 413, "too_large",
                                      "expected at most 65536 bytes, got Content-Length 65537"),
    "chunked body over the limit": ([CT], [b"[" + b" " * 16384] * 4 + [b"]"], 413, "too_large",
                                    "expected at most 65536 bytes, got more"),
    "chunked body over the limit, not JSON": ([], [b"x" * 16384] * 5, 413, "too_large", "65536"),
    "invalid UTF-8": ([CT], [b'{"a": "\xff"}'], 422, "invalid_request",
                      "expected UTF-8 (RFC 8259), got byte 0xff at offset 7"),
    "UTF-8 cut in a character": ([CT], [b'["\xe2\x88"]'], 422, "invalid_request", "0xe2"),
    "surrogate encoded in UTF-8": ([CT], [b'["\xed\xa0\x80"]'], 422, "invalid_request", "0xed"),
    "UTF-16": ([CT], ['{"a": [1]}'.encode("utf-16-le")], 422, "invalid_request",
               "got a NUL byte at offset 1"),
    "UTF-32 with a BOM": ([CT], ['{"a": [1]}'.encode("utf-32")], 422, "invalid_request", "UTF"),
    "NaN": ([CT], [b'{"a": NaN}'], 422, "invalid_request", "got NaN (NaN is not JSON"),
    "Infinity": ([CT], [b"[Infinity]"], 422, "invalid_request", "Infinity is not JSON"),
    "-Infinity": ([CT], [b"[-Infinity]"], 422, "invalid_request", "-Infinity is not JSON"),
    "empty body with a JSON type": ([CT], [b""], 422, "invalid_request",
                                    "body: expected a JSON value, got nothing (empty)"),
    "empty body, declared": ([CT, (CL, b"0")], [b""], 422, "invalid_request",
                             "got nothing (empty)"),
    "only white space": ([CT], [b" \n"], 422, "invalid_request", "not valid JSON"),
    "trailing data": ([CT], [b"{} {}"], 422, "invalid_request", "Extra data"),
    "integer of 5000 digits": ([CT], [b"[" + b"9" * 5000 + b"]"], 422, "invalid_request",
                               "expected integers of at most"),
    "duplicate key, nested": ([CT], [b'{"a": {"b": 1, "b": 2}}'], 422, "invalid_request",
                              "duplicate key 'b'"),
    "duplicate key, uppercase type": ([(b"content-type", b"Application/JSON")],
                                      [b'{"a": 1, "a": 2}'], 422, "invalid_request",
                                      "duplicate key 'a'"),
    "duplicate key, JSON type first of two": ([CT, (b"content-type", b"text/plain")],
                                        [b'{"a": 1, "a": 2}'], 422, "invalid_request",
                                        "duplicate key 'a'"),
    "duplicate key, +json type": ([(b"content-type", b"application/merge-patch+json")],
                                  [b'{"a": 1, "a": 2}'], 422, "invalid_request", "'a'"),
    "NaN in a chunked body": ([CT], [b"[1,", b" NaN", b"]"], 422, "invalid_request", "NaN"),
}  # fmt: skip


@pytest.mark.parametrize("case", REFUSED, ids=list(REFUSED))
def test_bad_input_gets_a_clear_4xx(case: str) -> None:
    headers, chunks, status, error, fragment = REFUSED[case]
    assert_problem(*asgi_post(headers, chunks), status, error, fragment)


ACCEPTED: dict[str, tuple[Headers, list[bytes], Any]] = {
    "UTF-8 byte order mark": ([CT], [b'\xef\xbb\xbf{"a": 1}'], {"a": 1}),
    "Content-Length with leading zeros": ([CT, (CL, b"0" * 5000 + b"8")], [b'{"a": 1}'],
                                          {"a": 1}),
    "Content-Length at the limit": ([CT, (CL, b"65536")], [b"[" + b" " * 65534 + b"]"], []),
    "body at the limit, chunked": ([CT], [b"[" + b" " * 32766, b" " * 32768 + b"]"], []),
    "brackets in strings": ([CT], [b'{"a": "' + b"[{" * 100 + b'"}'], {"a": "[{" * 100}),
    "escaped quotes and backslashes": ([CT], [b'["\\"[[[", "\\\\", "\\\\\\"]"]'],
                                       ['"[[[', "\\", '\\"]']),
    "chunks splitting a character": ([CT], [b'["\xe2', b'\x88\x80"]'], ["\u2200"]),
}  # fmt: skip


@pytest.mark.parametrize("case", ACCEPTED, ids=list(ACCEPTED))
def test_good_json_reaches_the_route_parsed_once(case: str) -> None:
    headers, chunks, value = ACCEPTED[case]
    status, body = asgi_post(headers, chunks)
    assert status == 200, body
    assert body == {"bytes": len(b"".join(chunks)), "parsed": True, "json_body": value}


def test_route_reads_the_parsed_value_from_request_state() -> None:
    payload = {"record": {"id": "INS-1", "values": [1, 2.5, None, True]}, "meaning": "é∀"}
    with TestClient(APP) as client:
        resp = client.post("/v1/records", json=payload)
        assert resp.json() == {"bytes": len(resp.request.content), "parsed": True,
                               "json_body": payload}  # fmt: skip


def test_a_body_that_is_not_json_passes_unchecked_and_unparsed() -> None:
    for headers in ([(b"content-type", b"text/plain")], []):
        status, body = asgi_post(headers, [b'{"a": 1, "a": NaN'])
        assert (status, body) == (200, {"bytes": 17, "parsed": False, "json_body": None})


# -- per-route limits -------------------------------------------------------------------------


def test_batch_route_has_its_own_limit() -> None:
    records = [{"record_id": f"INS-{i}", "notes": "x" * 200} for i in range(1000)]
    body = json.dumps(records).encode()
    assert LIMIT < len(body) < BATCH_LIMIT
    with TestClient(APP) as client:
        single = client.post("/v1/records", content=body, headers=JSON)
        assert_problem(single.status_code, single.json(), 413, "too_large", str(LIMIT))
        batch = client.post(BATCH, content=body, headers=JSON)
        assert batch.status_code == 200, batch.text
        assert batch.json()["json_body"] == records
        over = client.post(BATCH, content=b"[" + b" " * BATCH_LIMIT + b"]", headers=JSON)
        assert_problem(over.status_code, over.json(), 413, "too_large", str(BATCH_LIMIT))
        other = client.post(f"{BATCH}/", content=body, headers=JSON)  # exact paths only
        assert_problem(other.status_code, other.json(), 413, "too_large", str(LIMIT))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"limit": 0}, "limit: expected a positive number of bytes, got 0"),
        ({"limit": True}, "limit: expected a positive number of bytes, got True"),
        ({"limits": {"v1/records": 10}}, "limits: expected paths starting with '/', got 'v1/"),
        ({"limits": {"/x": -1}}, "limits['/x']: expected a positive number of bytes, got -1"),
        ({"body_timeout": 0}, "body_timeout: expected a positive number of seconds, got 0"),
        ({"body_timeout": float("nan")}, "got nan"),
        ({"body_timeout": float("inf")}, "got inf"),
    ],
)
def test_unusable_options_are_refused(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as caught:
        RequestGuard(FastAPI(), **{"limit": LIMIT, **options})
    assert message in str(caught.value)


# -- nesting and duplicates -------------------------------------------------------------------


def nested(depth: int, open_: bytes = b"[", close: bytes = b"]") -> bytes:
    return open_ * depth + close * depth


TOO_DEEP: dict[str, bytes] = {
    "33 arrays": nested(MAX_JSON_DEPTH + 1),
    "33 objects": b'{"a":' * (MAX_JSON_DEPTH + 1) + b"1" + b"}" * (MAX_JSON_DEPTH + 1),
    "33 arrays, never closed": b"[" * (MAX_JSON_DEPTH + 1),
    "100000 arrays": nested(100_000),
    "after an escaped quote": b'["\\"", ' + nested(MAX_JSON_DEPTH) + b"]",
    "after an escaped backslash": b'["\\\\", ' + nested(MAX_JSON_DEPTH) + b"]",
    "arrays interleaved with strings": b'["]", ' * (MAX_JSON_DEPTH + 1) + b"1" + b"]" * 33,
    # A byte scanner fooled by UTF-16 (the old guard's): U+2200 is 22 00 in UTF-16-LE, a quote.
    "hidden behind UTF-16": ('{"a": "\u2200", "b": ' + "[" * 100 + "]" * 100 + "}").encode(
        "utf-16-le"
    ),
}


@pytest.mark.parametrize("case", TOO_DEEP, ids=list(TOO_DEEP))
def test_nesting_beyond_the_limit_is_refused(case: str) -> None:
    assert_problem(*asgi_post([CT], [TOO_DEEP[case]], BATCH), 422, "invalid_request", "body")


def test_nesting_at_the_limit_is_accepted() -> None:
    assert parse_json(nested(MAX_JSON_DEPTH)) == json.loads(nested(MAX_JSON_DEPTH))
    assert check_json(nested(MAX_JSON_DEPTH + 1)) == (
        f"body: expected JSON nested at most {MAX_JSON_DEPTH} levels deep, got deeper"
    )


def test_duplicate_among_20000_keys_is_named_without_stalling() -> None:
    body = object_of([f"k{i}" for i in range(20_000)] + ["k19999"])  # 209 KB
    # The garbage collector is held off while it is timed: late in a long test run, one full
    # collection of the process's heap cost 0.6 s of CPU inside the call (seen in CI).
    gc.collect()
    gc.disable()
    try:
        started = time.thread_time()
        error = check_json(body)
        cpu = time.thread_time() - started
    finally:
        gc.enable()
    # Generous: the linear check takes milliseconds; the quadratic one took seconds.
    assert cpu < 0.5, f"check_json took {cpu:.2f} s of CPU for {len(body)} bytes"
    assert error == "body: duplicate key 'k19999': expected each key once per object"
    with TestClient(APP) as client:
        resp = client.post(BATCH, content=body, headers=JSON)
    assert_problem(resp.status_code, resp.json(), 422, "invalid_request", "duplicate key 'k19999'")


def naive_depth(text: str) -> int:
    """The deepest nesting a JSON parser reaches in ``text``: the reference, a char at a time."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text('[]{}"\\ a\u2200'),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text("[]{a"), inner, max_size=3),
    max_leaves=20,
)


@settings(max_examples=400, deadline=None, derandomize=True, database=None)
@given(value=json_values, wrapping=st.integers(0, MAX_JSON_DEPTH + 3))
def test_depth_check_agrees_with_the_naive_scanner_on_json(value: Any, wrapping: int) -> None:
    text = "[" * wrapping + json.dumps(value, ensure_ascii=False) + "]" * wrapping
    deep = naive_depth(text) > MAX_JSON_DEPTH
    error = check_json(text.encode())
    assert (error is not None) == deep, (error, naive_depth(text))
    if not deep:
        assert parse_json(text.encode()) == json.loads(text)


SOUP = [
    "[",
    "]",
    "{",
    "}",
    '"',
    "\\",
    "\\\\",
    '\\"',
    "a",
    ",",
    ":",
    "1",
    "\u2200",
    "[" * 16,
    "]" * 16,
]


@settings(max_examples=1000, deadline=None, derandomize=True, database=None)
@given(soup=st.lists(st.sampled_from(SOUP), max_size=120).map("".join))
def test_no_input_the_check_lets_through_nests_the_parser_deeply(soup: str) -> None:
    error = check_json(soup.encode())
    if error is not None and "nested" in error:
        return
    try:
        json.loads(soup)
        stop = len(soup)
    except json.JSONDecodeError as exc:
        stop = exc.pos  # where the parser stopped: it never saw what follows
    # Past a syntax error the check may keep brackets that are inside a string (refusing more),
    # never the reverse; an invalid body may open up to one extra level per unclosed bracket.
    assert naive_depth(soup[:stop]) <= 2 * MAX_JSON_DEPTH, (error, soup)


# -- against a real server --------------------------------------------------------------------


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """``app`` under uvicorn in a thread on a free port of 127.0.0.1; stopped at the end."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        app, lifespan="off", log_config=None, access_log=False, http="h11",
        timeout_graceful_shutdown=5,
    )  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="uvicorn-guard")
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()
        assert not thread.is_alive(), "uvicorn did not stop"


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with serving(make_app(body_timeout=TIMEOUT)) as url:
        yield url


def connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=10)


def readable(sock: socket.socket, wait: float = 0.0) -> bool:
    return bool(select.select([sock], [], [], wait)[0])


def read_until_closed(sock: socket.socket, within: float) -> bytes:
    """Everything the server sends until it closes; fails if it is still open after ``within``."""
    deadline = time.monotonic() + within
    data = b""
    while True:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"connection still open after {within} s; got {data!r}"
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            continue
        except ConnectionResetError:  # closed while bytes of ours were unread: closed all the same
            return data
        if not chunk:
            return data
        data += chunk


def parse_response(raw: bytes) -> tuple[int, dict[str, str], Any]:
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines)
    return int(status_line.split()[1]), headers, json.loads(body)


POST_HEAD = b"POST /v1/records HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
TEN_BYTES = b'{"a": "xxx'
STALLS = {
    "Content-Length 100, 10 bytes sent": (
        b"Content-Length: 100\r\n\r\n" + TEN_BYTES,
        f"body: expected 100 bytes within {TIMEOUT:g} s, got 10 bytes",
    ),
    "chunked, one chunk of 10 bytes sent": (
        b"Transfer-Encoding: chunked\r\n\r\na\r\n" + TEN_BYTES + b"\r\n",
        f"body: expected the whole body within {TIMEOUT:g} s, got 10 bytes",
    ),
}


def stall(url: str, case: str) -> socket.socket:
    sock = connect(url)
    sock.sendall(POST_HEAD + STALLS[case][0])
    return sock


def assert_timed_out(sock: socket.socket, detail: str) -> None:
    status, headers, body = parse_response(read_until_closed(sock, within=TIMEOUT + 5))
    assert status == 408, body
    assert headers["connection"] == "close"
    assert headers["content-type"] == "application/problem+json"
    assert body == {
        "type": "https://evledger.dev/problems/request_timeout",
        "title": "The request body was not received in time",
        "status": 408,
        "detail": detail,
        "error": "request_timeout",
    }


@pytest.mark.integration
@pytest.mark.parametrize("case", STALLS, ids=list(STALLS))
def test_stalled_body_gets_408_and_the_connection_closed(server: str, case: str) -> None:
    assert len(TEN_BYTES) == 10
    with stall(server, case) as sock:
        assert_timed_out(sock, STALLS[case][1])


@pytest.mark.integration
def test_trickling_body_is_cut_at_the_deadline_for_the_whole_body(server: str) -> None:
    # A byte every 50 ms would keep an idle timer from ever firing.
    with connect(server) as sock:
        sock.sendall(POST_HEAD + b"Content-Length: 1000\r\n\r\n[")
        deadline = time.monotonic() + TIMEOUT + 5
        while not readable(sock, 0.05) and time.monotonic() < deadline:
            try:
                sock.sendall(b" ")
            except OSError:  # closed under us
                break
        status, headers, body = parse_response(read_until_closed(sock, within=5))
    assert status == 408 and headers["connection"] == "close", body
    assert body["detail"].startswith(f"body: expected 1000 bytes within {TIMEOUT:g} s, got ")


@pytest.mark.integration
def test_stalled_connections_do_not_hold_up_other_requests(server: str) -> None:
    stalled = [stall(server, case) for case in STALLS for _ in range(4)]
    try:
        with httpx.Client(base_url=server, timeout=5) as client:
            assert client.get("/ping").json() == {"ping": "pong"}
            resp = client.post("/v1/records", json={"a": [1]})
            assert resp.json()["json_body"] == {"a": [1]}
        # Served meanwhile: the stalled ones are still waiting for their timeout.
        assert not any(readable(sock) for sock in stalled)
        for sock, case in zip(stalled, [c for c in STALLS for _ in range(4)], strict=True):
            assert_timed_out(sock, STALLS[case][1])
    finally:
        for sock in stalled:
            sock.close()


@pytest.mark.integration
def test_big_body_is_checked_off_the_event_loop(
    server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    checking, release = threading.Event(), threading.Event()
    check = guard.parse_json

    def held_check(body: bytes) -> Any:
        checking.set()
        release.wait(30)  # until the test has been answered on another connection
        return check(body)

    monkeypatch.setattr(guard, "parse_json", held_check)
    body = object_of([f"key-{i}" for i in range(300_000)] + ["key-7"])  # 4.4 MB
    answers: dict[str, httpx.Response] = {}

    def submit() -> None:
        answers["post"] = httpx.post(server + BATCH, content=body, headers=JSON, timeout=60)

    poster = threading.Thread(target=submit)
    poster.start()
    try:
        assert checking.wait(10), "the guard did not check the body"
        # Were the check on the event loop, this would wait for it and time out.
        assert httpx.get(server + "/ping", timeout=5).json() == {"ping": "pong"}
    finally:
        release.set()
        poster.join(60)
    resp = answers["post"]
    assert_problem(resp.status_code, resp.json(), 422, "invalid_request", "duplicate key 'key-7'")


def test_a_body_of_millions_of_brackets_is_refused_before_parsing() -> None:
    """8 MB of empty arrays parsed in C would hold the GIL for about a second."""
    from api.guard import MAX_JSON_CONTAINERS

    body = b"[" + b"[]," * 2_000_000 + b"[]]"
    error = check_json(body)
    assert error is not None
    assert f"at most {MAX_JSON_CONTAINERS} arrays and objects" in error
    assert check_json(b"[" + b"{}," * 1000 + b"{}]") is None
