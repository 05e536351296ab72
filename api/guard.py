"""The request guard: checks every request body before the framework parses it.

>>> parse_json(b'{"a": [1, 2]}')
{'a': [1, 2]}
>>> check_json(b'{"a": 1, "a": 2}')
"body: duplicate key 'a': expected each key once per object"
"""

from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Iterable, Mapping
from typing import Any

import anyio
import anyio.to_thread
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "MAX_JSON_CONTAINERS",
    "MAX_JSON_DEPTH",
    "BodyError",
    "RequestGuard",
    "check_json",
    "parse_json",
    "problem",
]

#: The deepest nesting of arrays and objects a JSON body may have.
MAX_JSON_DEPTH = 32
#: Arrays and objects per body: parsing runs in C and holds the GIL, so a body of millions of
#: empty brackets (8 MB of ``[]``) would stall every other request for seconds. A batch of
#: 1,000 realistic records has a few thousand; the cap bounds the worst parse to tens of ms.
MAX_JSON_CONTAINERS = 250_000
#: Bodies up to this size are checked on the event loop: well under a millisecond.
_INLINE_BYTES = 64 * 1024
#: Methods whose bodies the guard reads and checks; other requests pass untouched.
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def problem(
    status: int, error: str, detail: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"error": error, "detail": detail}, status_code=status, headers=headers)


class BodyError(ValueError):
    """A request body that is not strict JSON within the guard's limits; ``str()`` says why."""


class _Refusal(Exception):
    """The answer to a request the guard stops: an HTTP status and a problem body."""

    def __init__(self, status: int, error: str, detail: str, *, close: bool = False) -> None:
        super().__init__(detail)
        self.status = status
        self.error = error
        self.detail = detail
        #: Close the connection after answering: the rest of the body will not be read.
        self.close = close

    async def send(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = {"connection": "close"} if self.close else None
        await problem(self.status, self.error, self.detail, headers)(scope, receive, send)


class RequestGuard:
    """Checks every POST, PUT and PATCH body before the framework parses it.

    - A declared ``Content-Length`` that is not one decimal number gets 400.
    - A body over its byte limit gets 413, declared or streamed: ``limits[path]`` for the
      paths in ``limits``, else ``limit``.
    - A body not received in full within ``body_timeout`` seconds (counted from the first read,
      for the whole body, however it trickles in) gets 408 and the connection is closed.
    - A body with a ``Content-Type`` header that names JSON (``application/json``,
      ``…+json``, in any case, in any of several such headers: the framework reads the first)
      must be strict JSON (see :func:`parse_json`), else 422. It is parsed in a worker thread,
      not on the event loop, and the value is left for the route in
      ``scope["state"]["json_body"]`` (``request.state.json_body``), so the route need not
      parse it again; a body of any other type passes unchecked and leaves no ``json_body``.

    The app then reads the same bytes as if the guard had not been there.
    """

    def __init__(
        self,
        app: ASGIApp,
        limit: int,
        limits: Mapping[str, int] | None = None,
        body_timeout: float = 10.0,
    ) -> None:
        self.app = app
        self.limit = _byte_limit("limit", limit)
        self.limits = {
            _route("limits", path): _byte_limit(f"limits[{path!r}]", n)
            for path, n in (limits or {}).items()
        }
        if not (isinstance(body_timeout, int | float) and 0 < body_timeout < math.inf):
            raise ValueError(
                f"body_timeout: expected a positive number of seconds, got {body_timeout!r}"
            )
        self.body_timeout = float(body_timeout)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        headers: list[tuple[bytes, bytes]] = list(scope.get("headers", []))
        try:
            body = await self._read(scope, receive, headers)
            if body is None:  # the client went away
                return
            if _names_json(headers):
                try:
                    # Small bodies are checked in place (a thread hop costs more than the
                    # check); big ones in a worker thread, so the event loop keeps serving.
                    if len(body) <= _INLINE_BYTES:
                        value = parse_json(body)
                    else:
                        value = await anyio.to_thread.run_sync(parse_json, body)
                except BodyError as exc:
                    raise _Refusal(422, "invalid_request", str(exc)) from None
                scope.setdefault("state", {})["json_body"] = value
        except _Refusal as refusal:
            await refusal.send(scope, receive, send)
            return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _read(
        self, scope: Scope, receive: Receive, headers: list[tuple[bytes, bytes]]
    ) -> bytes | None:
        """The whole body, or None if the client disconnected first."""
        limit = self.limits.get(scope["path"], self.limit)
        declared = _content_length(headers)
        if declared is not None and declared > limit:
            shown = declared if declared < _HUGE else f"of {len(str(_HUGE))} digits or more"
            raise _too_large(limit, f"Content-Length {shown}")
        chunks: list[bytes] = []
        size = 0
        with anyio.move_on_after(self.body_timeout) as deadline:
            more = True
            while more:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return None
                chunk: bytes = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    raise _too_large(limit, "more")
                chunks.append(chunk)
                more = message.get("more_body", False)
        if deadline.cancelled_caught:
            expected = "the whole body" if declared is None else f"{declared} bytes"
            raise _Refusal(
                408,
                "request_timeout",
                f"body: expected {expected} within {self.body_timeout:g} s, got {size} bytes",
                close=True,
            )
        return b"".join(chunks)


#: A declared length beyond any limit: longer ones are not converted (Python refuses to convert
#: integers of more than 4300 digits).
_HUGE = 10**19


def _byte_limit(what: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{what}: expected a positive number of bytes, got {value!r}")
    return value


def _route(what: str, path: str) -> str:
    if not isinstance(path, str) or not path.startswith("/"):
        raise ValueError(f"{what}: expected paths starting with '/', got {path!r}")
    return path


def _too_large(limit: int, got: str) -> _Refusal:
    return _Refusal(413, "too_large", f"body: expected at most {limit} bytes, got {got}")


def _header(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> list[bytes]:
    return [value for key, value in headers if key.lower() == name]


def _content_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    """The declared body size; one of 20 digits or more is reported as :data:`_HUGE`."""
    values = set(_header(headers, b"content-length"))
    if not values:
        return None
    if len(values) > 1:
        shown = ", ".join(sorted(_excerpt(v) for v in values))
        raise _Refusal(400, "bad_request", f"Content-Length: expected one value, got {shown}")
    (value,) = values
    if not value.isdigit():  # ASCII digits only: no sign, no space, no "1e9", no "١٢"
        raise _Refusal(
            400,
            "bad_request",
            f"Content-Length: expected a decimal number of bytes, got {_excerpt(value)}",
        )
    digits = value.lstrip(b"0")
    return int(digits or b"0") if len(digits) < len(str(_HUGE)) else _HUGE


def _names_json(headers: list[tuple[bytes, bytes]]) -> bool:
    # Any Content-Type header, in any case: FastAPI reads the first one, case-blind, and parses
    # application/json and application/*+json bodies as JSON.
    return any(b"json" in value.lower() for value in _header(headers, b"content-type"))


def _excerpt(value: bytes | str, size: int = 40) -> str:
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    return repr(text[:size]) + ("…" if len(text) > size else "")


# -- strict JSON ------------------------------------------------------------------------------

_UTF8_BOM = b"\xef\xbb\xbf"
#: Every byte but the quote and the brackets, which :func:`_brackets` keeps.
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'"[]{}')
_AS_SQUARE = bytes.maketrans(b"{}", b"[]")
_QUOTED = re.compile(rb'"[^"]*"')


def parse_json(body: bytes) -> Any:
    """The JSON value of ``body``, checked strictly, or :class:`BodyError` saying why not.

    Strict: UTF-8 (a leading byte order mark is ignored, RFC 8259 §8.1), no NaN or Infinity,
    no duplicate keys in any object, at most :data:`MAX_JSON_DEPTH` levels of arrays and objects.
    The depth is measured before parsing, so ``[[[[…`` cannot exhaust the C stack of a recursive
    parser whatever the recursion limit. Linear time; no Python loop over bytes.
    """
    start = len(_UTF8_BOM) if body.startswith(_UTF8_BOM) else 0
    if start:
        body = body[start:]
    try:
        text = body.decode("utf-8")  # strict: no surrogates, no other encoding guessed
    except UnicodeDecodeError as exc:
        raise BodyError(
            f"body: expected UTF-8 (RFC 8259), got byte 0x{body[exc.start]:02x} "
            f"at offset {start + exc.start}"
        ) from None
    if not text:
        raise BodyError("body: expected a JSON value, got an empty body")
    if (nul := body.find(b"\x00")) >= 0:  # never in JSON, raw; UTF-16 and UTF-32 are full of it
        raise BodyError(
            f"body: expected UTF-8 JSON (RFC 8259), got a NUL byte at offset {start + nul} "
            "(UTF-16 or UTF-32?)"
        )
    brackets = _brackets(body)
    if len(brackets) > 2 * MAX_JSON_CONTAINERS:
        raise BodyError(
            f"body: expected at most {MAX_JSON_CONTAINERS} arrays and objects, "
            f"got about {len(brackets) // 2}"
        )
    if _too_deep(brackets):
        raise BodyError(
            f"body: expected JSON nested at most {MAX_JSON_DEPTH} levels deep, got deeper"
        )
    try:
        return json.loads(text, object_pairs_hook=_object, parse_constant=_constant)
    except BodyError:
        raise
    except json.JSONDecodeError as exc:
        raise BodyError(
            f"body: not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except ValueError:  # the only other one: an integer beyond Python's conversion limit
        raise BodyError(
            f"body: expected integers of at most {sys.get_int_max_str_digits()} digits, "
            "got a longer one"
        ) from None
    except RecursionError:  # cannot happen within MAX_JSON_DEPTH; a refusal if it does
        raise BodyError("body: JSON nested too deep for this server") from None


def check_json(body: bytes) -> str | None:
    """None if ``body`` passes :func:`parse_json`, else why not."""
    try:
        parse_json(body)
    except BodyError as exc:
        return str(exc)
    return None


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value = dict(pairs)
    if len(value) != len(pairs):  # rare: find the first repeated key, in one pass
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise BodyError(
                    f"body: duplicate key {_excerpt(key)}: expected each key once per object"
                )
            seen.add(key)
    return value


def _constant(name: str) -> Any:
    raise BodyError(f"body: expected a finite number, got {name} ({name} is not JSON, RFC 8259)")


def _brackets(body: bytes) -> bytes:
    """The brackets of ``body`` that lie outside strings, ``{`` and ``}`` as ``[`` and ``]``.

    Exact up to the first syntax error (where a parser stops); past it, brackets inside a string
    may be kept, never the reverse. By byte operations only (``body`` is UTF-8, whose multi-byte
    characters contain no ASCII byte): escapes are dropped (``\\\\`` then ``\\"``, pairing
    backslashes from the left as a parser does), then all but quotes and brackets; every
    remaining quote then delimits a string, so a byte is inside one iff an odd number of quotes
    precede it. Dropping two adjacent quotes keeps that parity for every other byte; what is
    left between quotes is inside a string and is dropped.
    """
    if b"\\" in body:
        body = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    marks = body.translate(_AS_SQUARE, _NOT_STRUCTURE).replace(b'""', b"")
    if b'"' in marks:
        marks = _QUOTED.sub(b"", marks).replace(b'"', b"")  # an unterminated string's quote
    return marks


def _too_deep(brackets: bytes) -> bool:
    """Whether a parser of the JSON with these ``brackets`` could nest deeper than allowed.

    Each round drops every adjacent ``[]``, the innermost level of every balanced part, so a
    balanced nesting of depth d is gone after d rounds. What stays unbalanced, ``]…][…[``, is a
    syntax error: a parser stops at the first unopened ``]`` (all before it is balanced and
    within the limit), or at the end, having opened at most one level per ``[`` left plus the
    limit.
    """
    if b"[" * (MAX_JSON_DEPTH + 1) in brackets:
        return True
    for _ in range(MAX_JSON_DEPTH):
        if not brackets:
            return False
        reduced = brackets.replace(b"[]", b"")
        if len(reduced) == len(brackets):
            break
        brackets = reduced
    if b"[]" in brackets:
        return True
    return not brackets.startswith(b"]") and len(brackets) > MAX_JSON_DEPTH
