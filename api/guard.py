"""The request guard: checks every request body before the framework parses it.

>>> parse_json(b'{"a": [1, 2]}')
{'a': [1, 2]}
>>> check_json(b'{"a": 1, "a": 2}')
"body: duplicate key 'a': expected each key once per object"
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import anyio
import anyio.to_thread
from evledger_verify import strictjson
from evledger_verify.errors import FormatError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.problems import problem

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
MAX_JSON_DEPTH = strictjson.MAX_DEPTH
#: Arrays and objects per body: parsing runs in C and holds the GIL, so a body of millions of
#: empty brackets (8 MB of ``[]``) would stall every other request for seconds.
MAX_JSON_CONTAINERS = strictjson.MAX_CONTAINERS
#: Bodies up to this size are checked on the event loop: well under a millisecond.
_INLINE_BYTES = 64 * 1024
#: Methods whose bodies the guard reads and checks; other requests pass untouched.
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


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


# -- strict JSON: one definition, in the verifier ---------------------------------------------


def parse_json(body: bytes) -> Any:
    """The JSON value of ``body``, checked strictly (:func:`evledger_verify.strictjson.loads`),
    or :class:`BodyError` saying why not."""
    try:
        return strictjson.loads(body)
    except FormatError as exc:
        raise BodyError(f"body: {exc}") from None


def check_json(body: bytes) -> str | None:
    """None if ``body`` passes :func:`parse_json`, else why not."""
    try:
        parse_json(body)
    except BodyError as exc:
        return str(exc)
    return None
