"""Strict JSON for everything evledger reads from outside: request bodies, record files.

    value = loads(b'{"a": [1, 2]}')

Strict: UTF-8 (a leading byte order mark is ignored, RFC 8259 §8.1), no NaN or Infinity, no
duplicate keys in any object, at most :data:`MAX_DEPTH` levels and :data:`MAX_CONTAINERS`
arrays and objects. Depth and count are measured on the bytes before parsing, so ``[[[[…``
cannot exhaust the C stack of a recursive parser whatever the recursion limit (a library of
the server raises it to 100,000, where ``json.loads`` crashes the process), and a body of
millions of empty brackets does not hold the interpreter for seconds. Linear time; no Python
loop over bytes. Errors are :class:`FormatError` whose text says what was expected; callers
prefix what was being read ("body: ", "record: ").
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

from evledger_verify.errors import FormatError

__all__ = ["MAX_CONTAINERS", "MAX_DEPTH", "loads"]

MAX_DEPTH = 32
#: A batch of 1,000 realistic records has a few thousand; the cap bounds the worst parse to
#: tens of milliseconds.
MAX_CONTAINERS = 250_000

_UTF8_BOM = b"\xef\xbb\xbf"
#: Every byte but the quote and the brackets, which :func:`_brackets` keeps.
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'"[]{}')
_AS_SQUARE = bytes.maketrans(b"{}", b"[]")
_QUOTED = re.compile(rb'"[^"]*"')


def loads(body: bytes) -> Any:
    """The JSON value of ``body``, checked strictly, or :class:`FormatError` saying why not.

    Strict: UTF-8 (a leading byte order mark is ignored, RFC 8259 §8.1), no NaN or Infinity,
    no duplicate keys in any object, at most :data:`MAX_DEPTH` levels of arrays and objects.
    The depth is measured before parsing, so ``[[[[…`` cannot exhaust the C stack of a recursive
    parser whatever the recursion limit. Linear time; no Python loop over bytes.
    """
    start = len(_UTF8_BOM) if body.startswith(_UTF8_BOM) else 0
    if start:
        body = body[start:]
    try:
        text = body.decode("utf-8")  # strict: no surrogates, no other encoding guessed
    except UnicodeDecodeError as exc:
        raise FormatError(
            f"expected UTF-8 (RFC 8259), got byte 0x{body[exc.start]:02x} "
            f"at offset {start + exc.start}"
        ) from None
    if not text:
        raise FormatError("expected a JSON value, got nothing (empty)")
    if (nul := body.find(b"\x00")) >= 0:  # never in JSON, raw; UTF-16 and UTF-32 are full of it
        raise FormatError(
            f"expected UTF-8 JSON (RFC 8259), got a NUL byte at offset {start + nul} "
            "(UTF-16 or UTF-32?)"
        )
    brackets = _brackets(body)
    if len(brackets) > 2 * MAX_CONTAINERS:
        raise FormatError(
            f"expected at most {MAX_CONTAINERS} arrays and objects, got about {len(brackets) // 2}"
        )
    if _too_deep(brackets):
        raise FormatError(f"expected JSON nested at most {MAX_DEPTH} levels deep, got deeper")
    try:
        return json.loads(text, object_pairs_hook=_object, parse_constant=_constant)
    except FormatError:
        raise
    except json.JSONDecodeError as exc:
        raise FormatError(
            f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except ValueError:  # the only other one: an integer beyond Python's conversion limit
        raise FormatError(
            f"expected integers of at most {sys.get_int_max_str_digits()} digits, got a longer one"
        ) from None
    except RecursionError:  # cannot happen within MAX_DEPTH; a refusal if it does
        raise FormatError("JSON nested too deep for this server") from None


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value = dict(pairs)
    if len(value) != len(pairs):  # rare: find the first repeated key, in one pass
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise FormatError(
                    f"duplicate key {_excerpt(key)}: expected each key once per object"
                )
            seen.add(key)
    return value


def _constant(name: str) -> Any:
    raise FormatError(f"expected a finite number, got {name} ({name} is not JSON, RFC 8259)")


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
    if b"[" * (MAX_DEPTH + 1) in brackets:
        return True
    for _ in range(MAX_DEPTH):
        if not brackets:
            return False
        reduced = brackets.replace(b"[]", b"")
        if len(reduced) == len(brackets):
            break
        brackets = reduced
    if b"[]" in brackets:
        return True
    return not brackets.startswith(b"]") and len(brackets) > MAX_DEPTH


def _excerpt(value: str, size: int = 40) -> str:
    return repr(value[:size]) + ("…" if len(value) > size else "")
