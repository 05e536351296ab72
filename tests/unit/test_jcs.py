"""evledger_verify.jcs against rfc8785, its oracle: the same bytes, or the same refusal.

Each check also asserts what ``_fast`` (the ``json``-based path) returns: None (rfc8785
decides) or rfc8785's exact bytes, so a fast path that wrongly accepted a value would fail here
even though ``canonicalize`` then never falls back.
"""

from __future__ import annotations

import enum
import json
import struct
import sys
from collections import OrderedDict
from decimal import Decimal
from typing import Any

import pytest
import rfc8785
from evledger_verify import jcs
from evledger_verify.errors import FormatError
from evledger_verify.records import Entry, canonical_json
from hypothesis import example, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.req("RCPT-6", "P11-30-1")

SAFE = 2**53 - 1


def outcome(value: Any, fn: Any) -> tuple[str, Any]:
    try:
        return "bytes", fn(value)
    except Exception as exc:  # RecursionError included: compare whatever rfc8785 does
        return "error", (type(exc), str(exc))


def same_as_rfc8785(value: Any) -> bytes | None:
    """Assert canonicalize, _fast and canonical_json agree with rfc8785; its bytes or None."""
    expected = outcome(value, rfc8785.dumps)
    assert outcome(value, jcs.canonicalize) == expected
    fast = jcs._fast(value)
    if expected[0] == "error":
        assert fast is None
        with pytest.raises(FormatError, match="canonical JSON: cannot canonicalize"):
            canonical_json(value)
        return None
    assert fast is None or fast == expected[1]
    assert canonical_json(value) == expected[1]
    out: bytes = expected[1]
    return out


def fast(value: Any) -> bytes:
    """rfc8785's bytes for ``value``, asserting the fast path produced them."""
    out = same_as_rfc8785(value)
    assert out is not None
    assert jcs._fast(value) == out
    return out


def from_bits(hex64: str) -> float:
    value: float = struct.unpack(">d", bytes.fromhex(hex64))[0]
    return value


# -- strategies ---------------------------------------------------------------------------------

#: Characters where JSON, JCS or UTF-16 need care: escapes, controls, U+007F, the line and
#: paragraph separators, both ends of U+E000..U+FFFF and of the astral planes, number-like text.
SPECIAL = (
    '"\\/\b\f\n\r\t\x00\x01\x1f\x7f\x80\xe9\u2028\u2029\u20ac\ue000\ufb33\uffff'
    "\U00010000\U0001f600\U0010ffff:,[]{}.e+-0123456789az "
)
SURROGATES = "\ud800\udbff\udc00\udfff"

clean_chars = st.one_of(st.sampled_from(SPECIAL), st.characters())
clean_text = st.text(clean_chars, max_size=12)
any_text = st.text(
    st.one_of(clean_chars, st.sampled_from(SURROGATES), st.characters(categories=["Cs"])),
    max_size=8,
)
texts = st.one_of(clean_text, clean_text, clean_text, any_text)

ints = st.one_of(
    st.integers(),
    st.integers(-(2**70), 2**70),
    st.integers(SAFE - 3, SAFE + 3),
    st.integers(-SAFE - 3, -SAFE + 3),
    st.sampled_from([0, -1, 2**63, -(2**63), 10**30, 10**400]),
)
floats = st.one_of(
    st.floats(),  # includes nan, +-inf, -0.0 and subnormals
    st.integers(-(2**60), 2**60).map(float),
    st.builds(
        lambda m, e: float(f"{m}e{e}"), st.integers(-(10**17), 10**17), st.integers(-345, 310)
    ),
    st.builds(lambda e: float(f"1e{e}"), st.integers(-330, 310)),
    st.sampled_from(
        [
            0.0,
            -0.0,
            5e-324,
            -5e-324,
            2.2250738585072014e-308,
            1.7976931348623157e308,
            1e21,
            1e-7,
            1e-6,
            1e16,
            1e20,
            9007199254740992.0,
            0.1,
            1.5,
            100.0,
        ]
    ),
)
scalars = st.one_of(st.none(), st.booleans(), ints, floats, texts)
#: Mostly strings; rfc8785 refuses any other key (json would turn 1 into "1").
keys = st.one_of(texts, texts, texts, texts, st.integers(), st.booleans(), st.none(), st.floats())
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.lists(children, max_size=3).map(tuple),
        st.dictionaries(keys, children, max_size=5),
    ),
    max_leaves=25,
)


# -- properties ---------------------------------------------------------------------------------


@settings(max_examples=400, deadline=None)
@given(json_values)
@example({"b": 1, "a": [1.0, "x", None, True], "é": 1e21})
@example({"\U0001f600": 1, "\ufb33": 2})
@example({"a": "x:1.0,", "b": 1.0})
def test_same_as_rfc8785(value: Any) -> None:
    same_as_rfc8785(value)


@settings(max_examples=1500, deadline=None)
@given(floats)
def test_floats_same_as_rfc8785(value: float) -> None:
    for container in ([value], {"k": value}, [value, -value, [value]], {"a": {"b": value}}):
        same_as_rfc8785(container)
    same_as_rfc8785(value)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.one_of(floats, st.text("0123456789.e+-:,[]{}", max_size=12)), max_size=6),
    st.dictionaries(st.text("0123456789.e+-:,[]", max_size=4), floats, max_size=4),
)
def test_number_like_text_beside_floats(items: list[Any], obj: dict[str, float]) -> None:
    """Text such as ``:1.0,`` inside a string looks like a float token to the rewrite."""
    same_as_rfc8785(items)
    same_as_rfc8785(obj)
    same_as_rfc8785([obj, items, {"s": items}])


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.text("a\x7f\ud7ff\ue000\ufb33\uffff\U00010000\U0001f600", max_size=3),
        st.integers(0, 9),
        max_size=6,
    )
)
def test_key_order_is_utf16(obj: dict[str, int]) -> None:
    """JCS sorts keys by UTF-16 code units, Python by code points: they disagree on U+E000..U+FFFF
    against characters above U+FFFF."""
    same_as_rfc8785(obj)
    same_as_rfc8785({"x": [obj, "\U0001f600"]})


# -- RFC 8785 examples --------------------------------------------------------------------------

#: RFC 8785 Appendix B: IEEE-754 binary64 (hex) and its JCS form.
APPENDIX_B = [
    ("0000000000000000", "0"),
    ("8000000000000000", "0"),
    ("0000000000000001", "5e-324"),
    ("8000000000000001", "-5e-324"),
    ("7fefffffffffffff", "1.7976931348623157e+308"),
    ("ffefffffffffffff", "-1.7976931348623157e+308"),
    ("4340000000000000", "9007199254740992"),
    ("c340000000000000", "-9007199254740992"),
    ("4430000000000000", "295147905179352830000"),
    ("44b52d02c7e14af5", "9.999999999999997e+22"),
    ("44b52d02c7e14af6", "1e+23"),
    ("44b52d02c7e14af7", "1.0000000000000001e+23"),
    ("444b1ae4d6e2ef4e", "999999999999999700000"),
    ("444b1ae4d6e2ef4f", "999999999999999900000"),
    ("444b1ae4d6e2ef50", "1e+21"),
    ("3eb0c6f7a0b5ed8c", "9.999999999999997e-7"),
    ("3eb0c6f7a0b5ed8d", "0.000001"),
    ("41b3de4355555553", "333333333.3333332"),
    ("41b3de4355555554", "333333333.33333325"),
    ("41b3de4355555555", "333333333.3333333"),
    ("41b3de4355555556", "333333333.3333334"),
    ("41b3de4355555557", "333333333.33333343"),
    ("becbf647612f3696", "-0.0000033333333333333333"),
    ("43143ff3c1cb0959", "1424953923781206.2"),
]


@pytest.mark.parametrize(("bits", "text"), APPENDIX_B)
def test_rfc8785_appendix_b_numbers(bits: str, text: str) -> None:
    value = from_bits(bits)
    assert jcs._es_number(repr(value)) == text
    assert fast([value]) == f"[{text}]".encode()
    assert fast({"n": value}) == f'{{"n":{text}}}'.encode()
    assert jcs.canonicalize(value) == text.encode()


@pytest.mark.parametrize("bits", ["7fffffffffffffff", "7ff0000000000000", "fff0000000000000"])
def test_rfc8785_appendix_b_nan_and_infinity_are_refused(bits: str) -> None:
    assert same_as_rfc8785({"n": from_bits(bits)}) is None
    assert same_as_rfc8785([1.0, from_bits(bits)]) is None


def test_rfc8785_section_3_2_2_example() -> None:
    source = r"""{
      "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
      "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
      "literals": [null, true, false]
    }"""
    expected = (
        '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
        '"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
    ).encode()
    assert fast(json.loads(source)) == expected


def test_rfc8785_section_3_2_3_sorting_example() -> None:
    source = r"""{
      "\u20ac": "Euro Sign",
      "\r": "Carriage Return",
      "\ufb33": "Hebrew Letter Dalet With Dagesh",
      "1": "One",
      "\ud83d\ude00": "Emoji: Grinning Face",
      "\u0080": "Control",
      "\u00f6": "Latin Small Letter O With Diaeresis"
    }"""
    value = json.loads(source)
    order = ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]
    assert jcs.canonicalize(value) == canonical_json(value) == rfc8785.dumps(value)
    assert list(json.loads(jcs.canonicalize(value))) == order
    # Code point order would put U+FB33 before U+1F600: the fast path must stand aside.
    assert jcs._fast(value) is None


# -- numbers ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1.0, "1"),
        (-0.0, "0"),
        (0.0, "0"),
        (100.0, "100"),
        (1e-7, "1e-7"),
        (1.5e-7, "1.5e-7"),
        (1e-6, "0.000001"),
        (1e-5, "0.00001"),
        (0.0001, "0.0001"),
        (1e16, "10000000000000000"),
        (1e20, "100000000000000000000"),
        (1e21, "1e+21"),
        (1.5e300, "1.5e+300"),
        (5e-324, "5e-324"),
        (1.7976931348623157e308, "1.7976931348623157e+308"),
        (2.95, "2.95"),
        (-3.05, "-3.05"),
        (float(2**53), "9007199254740992"),
        (float(2**60), "1152921504606847000"),
    ],
)
def test_float_forms(value: float, text: str) -> None:
    assert fast([value, {"v": value}]) == f'[{text},{{"v":{text}}}]'.encode()


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        (SAFE, True),
        (-SAFE, True),
        (SAFE + 1, False),
        (-SAFE - 1, False),
        (2**64, False),
        (10**400, False),
        (10**5000, False),  # rfc8785's message cannot print it: ValueError, not its own error
    ],
    ids=["2**53-1", "-(2**53-1)", "2**53", "-2**53", "2**64", "10**400", "10**5000"],
)
def test_integers_beyond_2_53_are_refused(value: int, ok: bool) -> None:
    out = same_as_rfc8785({"n": value})
    assert (out == f'{{"n":{value}}}'.encode()) if ok else (out is None)


def test_bools_are_not_integers() -> None:
    assert fast({"t": True, "f": False, "one": 1, "zero": 0}) == (
        b'{"f":false,"one":1,"t":true,"zero":0}'
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # Each repr occurs once per float: replaced as text.
        ({"a": 12.0, "b": [1e-05, 12.0], "s": "12"}, b'{"a":12,"b":[0.00001,12],"s":"12"}'),
        # "12.0" also occurs in "112.0" and in a string: the token pattern finds the numbers.
        ({"a": 12.0, "b": 112.0}, b'{"a":12,"b":112}'),
        ({"s": "v12.0", "x": 12.0}, b'{"s":"v12.0","x":12}'),
        # Replacing 1e-05 by 0.00001 adds an occurrence of "0.0".
        ({"b": 1e-05, "a": 0.0}, b'{"a":0,"b":0.00001}'),
        ({"b": 1e-05, "a": -0.0}, b'{"a":0,"b":0.00001}'),
    ],
)
def test_float_rewrite(value: Any, expected: bytes) -> None:
    assert fast(value) == expected


def test_fake_float_tokens_in_strings_fall_back() -> None:
    value = {"note": "x:1.0,y", "v": 1.0}
    assert jcs._fast(value) is None
    assert same_as_rfc8785(value) == b'{"note":"x:1.0,y","v":1}'
    # Without a float to rewrite, such text costs nothing.
    assert fast({"note": "x:1.0,y", "v": 1.5}) == b'{"note":"x:1.0,y","v":1.5}'


# -- strings ------------------------------------------------------------------------------------


def test_escapes() -> None:
    value = ['"\\/\b\f\n\r\t\x00\x1f\x7f\u2028\u2029\xe9\U0001f600']
    expected = '["\\"\\\\/\\b\\f\\n\\r\\t\\u0000\\u001f\x7f\u2028\u2029\xe9\U0001f600"]'.encode()
    assert fast(value) == expected


def test_every_code_point() -> None:
    text = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF)
    assert fast([text]) == b"[" + rfc8785.dumps(text) + b"]"


@pytest.mark.parametrize("surrogate", ["\ud800", "\udbff", "\udc00", "\udfff", "a\ud83d"])
def test_lone_surrogates_are_refused(surrogate: str) -> None:
    assert same_as_rfc8785([surrogate]) is None
    assert same_as_rfc8785({"k": surrogate}) is None
    # As a key, rfc8785 fails while sorting (UnicodeEncodeError, not its own error).
    assert same_as_rfc8785({surrogate: 1}) is None
    assert same_as_rfc8785({"a": {surrogate: 1, "b": 2}}) is None


def test_astral_characters_in_values_keep_the_fast_path() -> None:
    assert fast({"note": "ok \U0001f600", "\ufb33": 1, "a": 2}) == (
        '{"a":2,"note":"ok \U0001f600","\ufb33":1}'.encode()
    )
    # Astral keys alone sort the same by code point and by UTF-16.
    assert fast({"\U0001f600": 1, "\U00010000": 2, "z": 3}) == (
        '{"z":3,"\U00010000":2,"\U0001f600":1}'.encode()
    )


def test_key_order_conflict_falls_back_at_any_depth() -> None:
    value = {"a": [{"\U0001f600": 1, "\ue000": 2}]}
    assert jcs._fast(value) is None
    assert same_as_rfc8785(value) == '{"a":[{"\U0001f600":1,"\ue000":2}]}'.encode()


# -- types and shapes ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value", [None, True, False, 0, -SAFE, 1.0, -0.0, 1e-7, "", "x\n", "\ud800", 2**53, 1e400]
)
def test_top_level_scalars(value: Any) -> None:
    same_as_rfc8785(value)


@pytest.mark.parametrize("key", [1, True, None, 1.5, b"k", (1,)])
def test_non_string_keys_are_refused(key: Any) -> None:
    assert same_as_rfc8785({key: 1}) is None
    assert same_as_rfc8785([{"a": {key: 1}}]) is None


@pytest.mark.parametrize(
    "value", [{1, 2}, b"x", bytearray(b"x"), Decimal("1.5"), object(), complex(1, 2), range(2)]
)
def test_other_types_are_refused(value: Any) -> None:
    assert same_as_rfc8785({"v": value}) is None
    assert same_as_rfc8785([value]) is None


class Colour(str, enum.Enum):  # noqa: UP042 - str() of this one is "Colour.RED", not "red"
    RED = "red"


class Level(enum.IntEnum):
    HIGH = 3


class Metres(float):
    def __repr__(self) -> str:
        return "Metres(...)"


@pytest.mark.parametrize(
    "value",
    [
        {"c": Colour.RED},
        {Colour.RED: 1},
        {"l": Level.HIGH},
        {"m": Metres(2.0)},
        OrderedDict([("b", 1), ("a", 2)]),
        {"o": OrderedDict([("b", 1), ("a", 2)])},
    ],
)
def test_subclasses_are_left_to_rfc8785(value: Any) -> None:
    assert jcs._fast(value) is None
    assert same_as_rfc8785(value) is not None


def test_containers() -> None:
    assert fast([]) == b"[]"
    assert fast({}) == b"{}"
    assert fast(()) == b"[]"
    assert fast({"t": (1, [2, ()], {})}) == b'{"t":[1,[2,[]],{}]}'


def test_deep_nesting() -> None:
    value: Any = 1
    for _ in range(100):
        value = [value]
    assert jcs._fast(value) is None  # beyond _MAX_DEPTH: rfc8785 serializes it
    assert same_as_rfc8785(value) == b"[" * 100 + b"1" + b"]" * 100
    shallow: Any = {"a": 1.0}
    for _ in range(jcs._MAX_DEPTH):
        shallow = [shallow]
    assert fast(shallow).count(b"[") == jcs._MAX_DEPTH


def test_too_deep_and_circular_values_are_format_errors() -> None:
    deep: Any = []
    for _ in range(5_000):
        deep = [deep]
    circular: list[Any] = []
    circular.append(circular)
    limit = sys.getrecursionlimit()
    # py_ecc (imported with eth_account) raises the limit to 100000 for the whole process.
    sys.setrecursionlimit(2_000)
    try:
        for value in (deep, circular, {"a": circular}):
            with pytest.raises(RecursionError):
                rfc8785.dumps(value)
            with pytest.raises(RecursionError):
                jcs.canonicalize(value)
            with pytest.raises(FormatError, match="canonical JSON: cannot canonicalize"):
                canonical_json(value)
    finally:
        sys.setrecursionlimit(limit)


# -- what the ledger hashes ---------------------------------------------------------------------

INSPECTION = {
    "record_id": "INS-000123",
    "type": "inspection",
    "schema": "inspection/1",
    "lot": "LOT-1",
    "stage": "final",
    "product": {"gtin": "09506000134352"},
    "sampling_plan": "ISO 2859-1 II AQL 0.65",
    "sample_size": 32,
    "inspected_at": "2026-11-22T08:00:00Z",
    "verdict": "pass",
    "remarks": "Measured at 21.3 °C; gauge R&R 8 % (MSA 4th ed.)",
    "characteristics": [
        {
            "name": name,
            "method": "laser micrometer",
            "unit": "mm",
            "lower": 2.95,
            "upper": 3.05,
            "value": value,
            "verdict": "pass",
            "critical": True,
        }
        for name, value in [("outer diameter", 3.01), ("length", 12.0), ("wall", 5e-5)]
    ],
}


def test_records_and_entries_take_the_fast_path() -> None:
    fast(INSPECTION)
    fast(json.loads(json.dumps(INSPECTION)))
    entry = Entry(
        "INS-000123", "inspection", "ab" * 32, "LOT-1", None,
        "0x5FbDB2315678afecb367f032d93F642f64180aa3", "authored", 1_700_000_000,
        "0x" + "11" * 65, "cd" * 32, "2026-11-22T08:00:00.123456Z",
    )  # fmt: skip
    assert entry.canonical() == fast(entry.to_json())
