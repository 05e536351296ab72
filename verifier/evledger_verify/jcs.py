"""RFC 8785 (JCS) canonical JSON, byte-identical to ``rfc8785.dumps`` but about 4x faster.

``rfc8785`` is a pure-Python serializer. For the values records are made of, the C-accelerated
``json`` encoder (compact separators, sorted keys, no ASCII escaping) already writes the JCS
bytes, except in a few places where the two disagree:

* numbers: JCS writes a float as ECMAScript does (``1`` not ``1.0``, ``0`` not ``-0.0``,
  ``1e-7`` not ``1e-07``, ``100000000000000000000`` not ``1e+20``); ``rfc8785`` refuses
  integers outside +-(2**53 - 1) and non-finite floats;
* key order: JCS sorts keys by UTF-16 code units, Python by code points; the two differ only
  when one key has a character above U+FFFF where another has one in U+E000..U+FFFF;
* ``rfc8785`` refuses lone surrogates, non-string keys and types other than ``None``, bool,
  int, float, str, list, tuple and dict (``json`` would turn ``{1: 2}`` into ``{"1":2}``).

:func:`canonicalize` first walks the value (exact built-in types only, bounded depth) and hands
anything unusual to ``rfc8785`` itself, which then produces its bytes or its error; so
``rfc8785`` stays both the fallback and the definition. Floats whose Python ``repr`` is not
already the ECMAScript form are rewritten in the ``json`` output (see :func:`_es_number`).
"""

from __future__ import annotations

import json
import re
from typing import Any

import rfc8785

__all__ = ["canonicalize"]

_INT_MAX = 2**53 - 1
#: Deeper values go to rfc8785, so the depth at which recursion fails is rfc8785's, and the
#: ``json`` C encoder, which recurses on the C stack, never goes deep (py_ecc, imported by the
#: server's eth_account, raises the recursion limit to 100000: deep enough to crash it).
_MAX_DEPTH = 64

_ENCODER = json.JSONEncoder(
    ensure_ascii=False,
    check_circular=False,  # a cycle is deeper than _MAX_DEPTH, so never reaches the encoder
    allow_nan=False,
    sort_keys=True,
    separators=(",", ":"),
)

#: A float token in compact ``json`` output whose ``repr`` may not be its ECMAScript form (it has
#: an exponent or ends in ``.0``), with the delimiter before it. Outside strings, a number is
#: always preceded by one of ``:,[`` and followed by one of ``,]}``; inside a string the same text
#: may appear, which :func:`_fix_floats` detects by counting.
_FLOAT_TOKEN = re.compile(r"[:,\[](-?[0-9]+(?:\.0|(?:\.[0-9]+)?e[-+][0-9]+))(?=[,\]}])")
#: UTF-8 lead bytes of the characters above U+FFFF.
_ASTRAL_LEADS = (b"\xf0", b"\xf1", b"\xf2", b"\xf3", b"\xf4")
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")
_HIGH_BMP = re.compile("[\ue000-\uffff]")


class _Fallback(Exception):
    """The fast path cannot vouch for this value; let rfc8785 handle it."""


def canonicalize(value: Any) -> bytes:
    """``rfc8785.dumps(value)``: the same bytes, or the same error (rfc8785 raises its
    ``CanonicalizationError``, and lets through ``ValueError`` for an integer too long for
    ``str()``, ``UnicodeEncodeError`` for a lone surrogate in a key and ``RecursionError``)."""
    fast = _fast(value)
    return rfc8785.dumps(value) if fast is None else fast


def _fast(value: Any) -> bytes | None:
    """The JCS bytes of ``value`` by way of ``json``, or None where rfc8785 must decide."""
    if type(value) not in (dict, list, tuple):
        return None  # a scalar costs rfc8785 little
    try:
        floats: dict[str, int] = {}
        _scan(value, 0, floats)
        text = _ENCODER.encode(value)
        if floats:
            text = _fix_floats(text, floats)
        if text.isascii():
            return text.encode("ascii")
        out = text.encode("utf-8")  # UnicodeEncodeError on a lone surrogate
        if any(lead in out for lead in _ASTRAL_LEADS):
            _check_key_order(value)
        return out
    except (_Fallback, ValueError):
        return None


def _scan(
    value: dict[Any, Any] | list[Any] | tuple[Any, ...], depth: int, floats: dict[str, int]
) -> None:
    """Raise :class:`_Fallback` unless ``value`` holds only exact built-in JSON types, string
    keys, safe integers and finite floats, at most ``_MAX_DEPTH`` deep. Counts in ``floats``
    the ``repr`` of each float that may differ from its ECMAScript form."""
    if depth > _MAX_DEPTH:
        raise _Fallback
    if type(value) is dict:
        for key in value:
            if type(key) is not str:
                raise _Fallback
        items: Any = value.values()
    else:
        items = value
    for item in items:
        t = type(item)
        if t is str or t is bool or item is None:
            continue
        if t is int:
            if not -_INT_MAX <= item <= _INT_MAX:
                raise _Fallback
        elif t is float:
            # A float with a fraction, between 1e-3 and 1e16, prints the same in both.
            if item.is_integer() or not 1e-3 < abs(item) < 1e16:
                text = float.__repr__(item)
                if text[-1] in "fn":  # inf, -inf, nan
                    raise _Fallback
                if "e" in text or text.endswith(".0"):
                    floats[text] = floats.get(text, 0) + 1
        elif t is dict or t is list or t is tuple:
            _scan(item, depth + 1, floats)
        else:
            raise _Fallback


def _fix_floats(text: str, floats: dict[str, int]) -> str:
    """Rewrite in ECMAScript form the float tokens of ``text`` counted in ``floats``.

    First by plain replacement: where ``text`` holds a ``repr`` exactly as often as the value
    has that float, every occurrence is one of its tokens (a token is a whole run of number
    characters between delimiters, and the ECMAScript forms put in are runs of number characters
    too). Else by :data:`_FLOAT_TOKEN`, where a string holding text like ``:1.0,`` is found by
    counting again; then rfc8785 decides."""
    fixed = text
    for token, count in floats.items():
        if fixed.count(token) != count:
            break
        fixed = fixed.replace(token, _es_number(token))
    else:
        return fixed
    fixed, found = _FLOAT_TOKEN.subn(_es_token, text)
    if found != sum(floats.values()):
        raise _Fallback
    return fixed


def _es_token(match: re.Match[str]) -> str:
    return match.group()[0] + _es_number(match.group(1))


def _es_number(token: str) -> str:
    """ECMAScript ``Number::toString`` (ECMA-262 7.1.12.1, as RFC 8785 3.2.2.3 requires) of
    the finite float whose Python ``repr`` is ``token``. Both print the shortest digits that
    round-trip; they differ only in where they place the point and when they use an exponent."""
    sign = ""
    if token[0] == "-":
        sign, token = "-", token[1:]
    mantissa, _, exponent = token.partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = (whole + fraction).lstrip("0")
    n = len(digits) - len(fraction) + int(exponent or 0)  # value = 0.<digits> * 10**n
    digits = digits.rstrip("0")
    k = len(digits)
    if k == 0:
        return "0"  # also for -0.0
    if k <= n <= 21:
        text = digits + "0" * (n - k)
    elif 0 < n <= 21:
        text = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        text = "0." + "0" * -n + digits
    else:
        e = n - 1
        text = digits[0] + ("." + digits[1:] if k > 1 else "") + ("e+" if e > 0 else "e-")
        text += str(abs(e))
    return sign + text


def _check_key_order(value: Any) -> None:
    """Raise :class:`_Fallback` if some object's keys hold both a character above U+FFFF and
    one in U+E000..U+FFFF, where UTF-16 order (JCS) and code point order (``sorted``) differ.
    Only called when the output has a character above U+FFFF; ``value`` passed :func:`_scan`."""
    if type(value) is dict:
        if len(value) > 1:
            keys = "".join(value)
            if _ASTRAL.search(keys) is not None and _HIGH_BMP.search(keys) is not None:
                raise _Fallback
        value = value.values()
    for item in value:
        if type(item) is dict or type(item) is list or type(item) is tuple:
            _check_key_order(item)
