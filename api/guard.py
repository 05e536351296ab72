"""The request guard: checks every request body before the framework parses it."""

from __future__ import annotations

import json
from typing import Any

from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["MAX_JSON_DEPTH", "RequestGuard", "check_json", "problem"]


def problem(status: int, error: str, detail: str) -> JSONResponse:
    return JSONResponse({"error": error, "detail": detail}, status_code=status)


class RequestGuard:
    """Checks every request body before the framework parses it.

    Bodies over ``limit`` bytes get 413 (declared or streamed); JSON bodies nested deeper than
    :data:`MAX_JSON_DEPTH` or with duplicate object keys get 422. The depth check comes before
    any parsing: a recursive parser fed ``[[[[...`` could otherwise exhaust the C stack.
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", []))
        declared = headers.get(b"content-length")
        if declared is not None and not declared.isdigit():
            await problem(400, "bad_request", "Content-Length: expected a decimal number")(
                scope, receive, send
            )
            return
        if declared is not None and int(declared) > self.limit:
            await self._too_large(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await self._too_large(scope, receive, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if b"json" in headers.get(b"content-type", b"") and body:
            error = check_json(body)
            if error:
                await problem(422, "invalid_request", error)(scope, receive, send)
                return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        await problem(413, "too_large", f"body: expected at most {self.limit} bytes")(
            scope, receive, send
        )


MAX_JSON_DEPTH = 32


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON (RFC 8259)")


def check_json(body: bytes) -> str | None:
    """None if ``body`` is JSON within the depth limit without duplicate keys, else why not."""
    depth = 0
    in_string = escaped = False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > MAX_JSON_DEPTH:
                return f"body: JSON nested deeper than {MAX_JSON_DEPTH} levels"
        elif byte in (0x5D, 0x7D):
            depth -= 1

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [k for k, _ in pairs]
        if len(set(keys)) != len(keys):
            dup = next(k for k in keys if keys.count(k) > 1)
            raise ValueError(f"duplicate key {dup!r}")
        return dict(pairs)

    try:
        json.loads(body, object_pairs_hook=no_duplicates, parse_constant=_no_constant)
    except UnicodeDecodeError as exc:
        return f"body: not UTF-8: {exc.reason}"
    except json.JSONDecodeError as exc:
        return f"body: not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
    except ValueError as exc:
        return f"body: {exc}"
    return None
