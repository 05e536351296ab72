"""Path segments that may carry '/': lots are GS1 AI (10) values, and GS1 lets a lot hold '/'.

A client sends such a lot as one percent-encoded segment (``/v1/lots/2026%2F05``). Servers hand
the framework a decoded path, where ``%2F`` has become a separator, so :class:`EncodedSlashes`
routes on a path decoded from the raw bytes *except* ``%2F`` and ``%25`` (the escape of '%'
itself, so that every lot has one spelling). A route parameter then holds those two escapes,
and :func:`unquote_segment` turns it into the value:

>>> routed_path(b"/v1/lots/2026%2f05%20A%25")
'/v1/lots/2026%2F05 A%25'
>>> unquote_segment("2026%2F05 A%25")
'2026/05 A%'
"""

from __future__ import annotations

import re
from urllib.parse import unquote, unquote_to_bytes

from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["EncodedSlashes", "routed_path", "unquote_segment"]

_KEPT = re.compile(rb"(%2[fF]|%25)")


def routed_path(raw_path: bytes) -> str:
    """``raw_path`` decoded (UTF-8) except for ``%2F`` and ``%25``, which stay escaped."""
    pieces = _KEPT.split(raw_path)
    out = bytearray()
    for i, piece in enumerate(pieces):
        out += piece.upper() if i % 2 else unquote_to_bytes(piece)
    return out.decode("utf-8", "replace")


def unquote_segment(value: str) -> str:
    """A route parameter routed by :class:`EncodedSlashes` as the value the client encoded."""
    return unquote(value) if "%" in value else value


class EncodedSlashes:
    """ASGI middleware: route on :func:`routed_path` when the raw path escapes '/' or '%'."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw = scope.get("raw_path")
        if scope["type"] == "http" and raw and _KEPT.search(raw):
            scope = {**scope, "path": routed_path(raw.split(b"?", 1)[0])}
        await self.app(scope, receive, send)
