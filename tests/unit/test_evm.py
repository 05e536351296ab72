"""The verifier's RLP decoder and receipts-trie walk, against the Ethereum Foundation's `rlp`
and `trie` packages as oracles, and on non-canonical and hostile encodings."""

from __future__ import annotations

from typing import Any

import pytest
import rlp
from evledger_verify.evm import ProofInvalid, rlp_decode, rlp_encode_uint, trie_get
from hypothesis import given, settings
from hypothesis import strategies as st
from trie import HexaryTrie

pytestmark = pytest.mark.req("ANCH-3")

items: Any = st.recursive(st.binary(max_size=80), lambda c: st.lists(c, max_size=6),
                          max_leaves=30)


@given(items)
@settings(max_examples=300)
def test_decodes_what_rlp_encodes(item: Any) -> None:
    assert rlp_decode(rlp.encode(item)) == item


@given(st.integers(min_value=0, max_value=2**64))
def test_integer_keys_match_rlp(value: int) -> None:
    assert rlp_encode_uint(value) == rlp.encode(value)


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "truncated"),
        (b"\x81\x05", "single byte"),
        (b"\xb8\x05hello", "long form"),
        (b"\xb9\x00\x40" + b"x" * 64, "leading zero"),
        (b"\x85abc", "past the end"),
        (b"\xc3\x01\x02", "past the end"),
        (b"\x01\x02", "trailing"),
        (b"\xc1" * 40 + b"\xc0", "deep"),
        (b"\xf8\x05" + b"\x01" * 5, "long form"),
    ],
)
def test_refuses_non_canonical_and_malformed_encodings(data: bytes, message: str) -> None:
    with pytest.raises(ProofInvalid, match=message):
        rlp_decode(data)


@given(st.lists(st.binary(min_size=1, max_size=120), min_size=1, max_size=300),
       st.data())
@settings(max_examples=60, deadline=None)
def test_trie_walk_finds_every_value_py_trie_proves(values: list[bytes], data: Any) -> None:
    t = HexaryTrie({})
    for i, v in enumerate(values):
        t[rlp.encode(i)] = v
    i = data.draw(st.integers(min_value=0, max_value=len(values) - 1))
    proof = [rlp.encode(node) for node in t.get_proof(rlp.encode(i))]
    assert trie_get(t.root_hash, rlp_encode_uint(i), proof) == values[i]
    with pytest.raises(ProofInvalid):
        trie_get(t.root_hash, rlp_encode_uint(len(values) + 5), proof)
