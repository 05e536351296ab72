"""Lists in pages: ``?limit=N&cursor=C``; the body stays a JSON array (so a caller that reads
one page, the first, keeps working), and when more items follow, the answer carries the next
page's URL in a ``Link`` header (RFC 8288): ``Link: </v1/signers?limit=100&cursor=...>;
rel="next"``. No ``Link`` header: this was the last page.

Items are ordered by a key that names each once (a signer's address, a specification's id);
the cursor is the last key of the page, base64url-encoded: it means "after this key", so a
page does not shift when items are added before it.

>>> items = [{"id": i} for i in "dacb"]
>>> first, after = page(items, key=lambda x: x["id"], limit=2, cursor=None)
>>> [x["id"] for x in first], decode_cursor(after)
(['a', 'b'], 'b')
>>> page(items, key=lambda x: x["id"], limit=2, cursor=after)
([{'id': 'c'}, {'id': 'd'}], None)
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from typing import Annotated, TypeVar

from fastapi import Query, Request, Response
from pydantic import AfterValidator

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "Cursor",
    "Limit",
    "decode_cursor",
    "encode_cursor",
    "link_next",
    "page",
]

#: Items per page when ``limit`` is not given, and the most a page may hold.
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
#: The longest key a cursor may carry (ids are at most a few hundred characters).
_MAX_KEY = 600

T = TypeVar("T")


def encode_cursor(key: str) -> str:
    return base64.urlsafe_b64encode(key.encode("utf-8")).decode("ascii").rstrip("=")


def decode_cursor(cursor: str) -> str:
    """The key a cursor carries; ValueError for one no page gave."""
    try:
        key = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ValueError(
            "cursor: expected the cursor of a previous page's Link rel=next URL"
        ) from None
    if not key or len(key) > _MAX_KEY:
        raise ValueError("cursor: expected the cursor of a previous page's Link rel=next URL")
    return key


def _checked_cursor(value: str | None) -> str | None:
    if value is not None:
        decode_cursor(value)
    return value


Limit = Annotated[
    int,
    Query(ge=1, le=MAX_LIMIT, description=f"Items per page (1..{MAX_LIMIT})"),
]
Cursor = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=(_MAX_KEY * 4 + 2) // 3 * 4,
        pattern=r"^[A-Za-z0-9_-]+$",
        description='Where the page starts: from the previous page\'s `Link: <...>; rel="next"`',
    ),
    AfterValidator(_checked_cursor),
]


def page(
    items: Sequence[T], key: Callable[[T], str], limit: int, cursor: str | None
) -> tuple[list[T], str | None]:
    """The page of ``items`` (ordered by ``key``) after ``cursor``, and the next page's cursor
    (None on the last page)."""
    ordered = sorted(items, key=key)
    after = decode_cursor(cursor) if cursor is not None else None
    start = (
        0
        if after is None
        else next((i for i, item in enumerate(ordered) if key(item) > after), len(ordered))
    )
    chunk = ordered[start : start + limit]
    more = start + limit < len(ordered)
    return chunk, encode_cursor(key(chunk[-1])) if more and chunk else None


def link_next(request: Request, response: Response, limit: int, cursor: str | None) -> None:
    """Put the next page's URL (same path and query, the new cursor) in ``Link``."""
    if cursor is None:
        return
    url = request.url.include_query_params(limit=limit, cursor=cursor)
    target = url.path + "?" + url.query
    response.headers["Link"] = f'<{target}>; rel="next"'
