"""Record hashing, EIP-712 signatures and logged entries, checked against eth_account (an
independent EIP-712 implementation) and against the strict formats they must refuse."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils.address import to_checksum_address
from evledger_verify.errors import FormatError, SignatureInvalidError
from evledger_verify.records import (
    ENTRY_FORMAT,
    MAX_RECORD_BYTES,
    Domain,
    Entry,
    canonical_json,
    checksum_address,
    eip712_digest,
    load_record_file,
    record_hash,
    recover_signer,
    typed_data,
)
from hypothesis import given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.req("RCPT-6", "P11-70-1", "P11-10a-2")

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
CONTRACT = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
DOMAIN = Domain(31337, CONTRACT)
# A fixed key so failures are reproducible (Anvil's third development account).
ACCOUNT = Account.from_key("0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a")
RECORD = {
    "record_id": "INS-1",
    "type": "inspection",
    "lot": "LOT-1",
    "characteristics": [{"name": "outer diameter", "value": 3.01, "verdict": "pass"}],
}
RHASH = record_hash(RECORD)
SIGNED_AT = 1_700_000_000

ARGS: dict[str, Any] = {
    "record_id": "INS-1",
    "record_type": "inspection",
    "rhash": RHASH,
    "meaning": "authored",
    "signed_at": SIGNED_AT,
}


def sign(domain: Domain = DOMAIN, **overrides: Any) -> tuple[bytes, str]:
    """(digest, 0x signature) over ARGS with ``overrides``, signed by ACCOUNT via eth_account."""
    args = {**ARGS, **overrides}
    signed = Account.sign_message(
        encode_typed_data(full_message=typed_data(domain, **args)), ACCOUNT.key
    )
    return bytes(signed.message_hash), signed.signature.to_0x_hex()


def with_sig_fields(signature: str, r: int | None = None, s: int | None = None,
                    v: int | None = None) -> str:
    raw = bytearray(bytes.fromhex(signature[2:]))
    if r is not None:
        raw[:32] = r.to_bytes(32, "big")
    if s is not None:
        raw[32:64] = s.to_bytes(32, "big")
    if v is not None:
        raw[64] = v
    return "0x" + raw.hex()


# -- EIP-712 agrees with eth_account ------------------------------------------------------------


def test_digest_matches_eth_account_and_recovers_signer() -> None:
    digest, signature = sign()
    assert eip712_digest(DOMAIN, **ARGS) == digest
    recovered = recover_signer(digest, signature)
    assert recovered == ACCOUNT.address  # checksummed (EIP-55), not lowercase
    assert recovered == to_checksum_address(recovered)


def test_typed_data_shape() -> None:
    data = typed_data(Domain(1, CONTRACT.lower()), **ARGS)
    assert data["primaryType"] == "EvidenceRecord"
    assert data["domain"] == {
        "name": "evledger",
        "version": "1",
        "chainId": 1,
        "verifyingContract": CONTRACT,
    }
    assert data["message"]["recordHash"] == "0x" + RHASH.hex()
    assert json.loads(json.dumps(data)) == data, "plain JSON a wallet can sign"


printable = st.text(st.characters(codec="utf-8"), max_size=40)


@settings(max_examples=25, deadline=None)
@given(
    record_id=printable,
    record_type=printable,
    rhash=st.binary(min_size=32, max_size=32),
    meaning=printable,
    signed_at=st.integers(0, 2**64 - 1),
    chain_id=st.integers(0, 2**256 - 1),
    contract=st.binary(min_size=20, max_size=20),
)
def test_digest_matches_eth_account_for_any_input(
    record_id: str,
    record_type: str,
    rhash: bytes,
    meaning: str,
    signed_at: int,
    chain_id: int,
    contract: bytes,
) -> None:
    domain = Domain(chain_id, "0x" + contract.hex())
    args: dict[str, Any] = {
        "record_id": record_id,
        "record_type": record_type,
        "rhash": rhash,
        "meaning": meaning,
        "signed_at": signed_at,
    }
    digest, signature = sign(domain, **args)
    assert eip712_digest(domain, **args) == digest
    assert recover_signer(digest, signature) == ACCOUNT.address


def test_digest_refuses_bad_inputs() -> None:
    with pytest.raises(FormatError, match="record hash: expected 32 bytes, got 31"):
        eip712_digest(DOMAIN, **{**ARGS, "rhash": RHASH[:31]})
    with pytest.raises(FormatError, match=f"signing time: expected a uint64, got {2**64}"):
        eip712_digest(DOMAIN, **{**ARGS, "signed_at": 2**64})
    with pytest.raises(FormatError, match="signing time: expected a uint64, got -1"):
        eip712_digest(DOMAIN, **{**ARGS, "signed_at": -1})


# -- 21 CFR 11.70: a signature cannot be moved to another record --------------------------------


@pytest.mark.parametrize(
    ("domain", "overrides"),
    [
        (DOMAIN, {"record_id": "INS-2"}),
        (DOMAIN, {"record_type": "deviation"}),
        (DOMAIN, {"rhash": record_hash({**RECORD, "lot": "LOT-2"})}),
        (DOMAIN, {"meaning": "approved"}),
        (DOMAIN, {"signed_at": SIGNED_AT + 1}),
        (Domain(1, CONTRACT), {}),
        (Domain(31337, "0x" + "11" * 20), {}),
    ],
    ids=["record-id", "record-type", "record-hash", "meaning", "signed-at", "chain-id", "contract"],
)
def test_signature_moved_to_another_record_recovers_someone_else(
    domain: Domain, overrides: dict[str, Any]
) -> None:
    _, signature = sign()
    other = eip712_digest(domain, **{**ARGS, **overrides})
    assert other != eip712_digest(DOMAIN, **ARGS)
    assert recover_signer(other, signature) != ACCOUNT.address
    entry = make_entry(signature=signature, **entry_overrides(overrides))
    with pytest.raises(SignatureInvalidError) as info:
        entry.verify_signature(domain)
    message = str(info.value)
    assert f"record signature: expected signer {ACCOUNT.address}, signature is by 0x" in message


def entry_overrides(overrides: dict[str, Any]) -> dict[str, Any]:
    names = {"record_type": "record_type", "meaning": "meaning", "signed_at": "signed_at"}
    out = {names[k]: v for k, v in overrides.items() if k in names}
    if "record_id" in overrides:
        out["record_id"] = overrides["record_id"]
    if "rhash" in overrides:
        out["record_hash"] = overrides["rhash"].hex()
    return out


# -- signature encoding -------------------------------------------------------------------------


def test_high_s_refused() -> None:
    digest, signature = sign()
    raw = bytes.fromhex(signature[2:])
    s, v = int.from_bytes(raw[32:64], "big"), raw[64]
    assert s <= SECP256K1_N // 2, "eth_account signs low-s"
    # (r, n - s, flipped v) is the same signature's other encoding: valid ECDSA, refused here.
    twin = with_sig_fields(signature, s=SECP256K1_N - s, v=55 - v)
    with pytest.raises(SignatureInvalidError) as info:
        recover_signer(digest, twin)
    assert "signature: r or s out of range (high-s is not accepted)" in str(info.value)


@pytest.mark.parametrize(
    ("field", "value"),
    [("r", 0), ("s", 0), ("r", SECP256K1_N), ("s", SECP256K1_N // 2 + 1), ("r", 2**256 - 1)],
    ids=["r-zero", "s-zero", "r-is-n", "s-just-high", "r-max"],
)
def test_r_and_s_out_of_range(field: str, value: int) -> None:
    digest, signature = sign()
    with pytest.raises(SignatureInvalidError, match="r or s out of range"):
        recover_signer(digest, with_sig_fields(signature, **{field: value}))


@pytest.mark.parametrize("v", [2, 26, 29, 30, 35, 255])
def test_v_other_than_27_or_28_refused(v: int) -> None:
    digest, signature = sign()
    with pytest.raises(SignatureInvalidError) as info:
        recover_signer(digest, with_sig_fields(signature, v=v))
    assert f"signature: expected v of 27 or 28, got {v}" in str(info.value)


@pytest.mark.parametrize("shift", [27], ids=["v-0-or-1"])
def test_v_zero_or_one_refused(shift: int) -> None:
    digest, signature = sign()
    raw_v = bytes.fromhex(signature[2:])[64]
    with pytest.raises(SignatureInvalidError, match="expected v of 27 or 28"):
        recover_signer(digest, with_sig_fields(signature, v=raw_v - shift))


def test_unrecoverable_signature() -> None:
    digest, signature = sign()
    # r = 5 is not the x coordinate of any secp256k1 point.
    with pytest.raises(SignatureInvalidError, match="signature: no public key can be recovered"):
        recover_signer(digest, with_sig_fields(signature, r=5, s=1))


@pytest.mark.parametrize(
    "mangle",
    [
        lambda s: s[2:],
        lambda s: s[:-2],
        lambda s: s + "00",
        lambda s: s[:-1] + "g",
        lambda s: "0X" + s[2:],
        lambda s: " " + s,
        lambda s: s + " ",
        lambda s: "",
    ],
    ids=["no-0x", "64-bytes", "66-bytes", "non-hex", "upper-0X", "leading-space",
         "trailing-space", "empty"],
)
def test_malformed_signature_hex(mangle: Any) -> None:
    digest, signature = sign()
    with pytest.raises(SignatureInvalidError) as info:
        recover_signer(digest, mangle(signature))
    assert "signature: expected 0x and 130 hex digits (65 bytes)" in str(info.value)


def test_signature_with_trailing_newline_refused() -> None:
    digest, signature = sign()
    with pytest.raises(SignatureInvalidError, match="expected 0x and 130 hex digits"):
        recover_signer(digest, signature + "\n")


def test_uppercase_signature_hex_accepted() -> None:
    digest, signature = sign()
    assert recover_signer(digest, "0x" + signature[2:].upper()) == ACCOUNT.address


# -- EIP-55 -------------------------------------------------------------------------------------

EIP55_EXAMPLES = [
    # From EIP-55 itself: all caps, all lower, and mixed.
    "0x52908400098527886E0F7030069857D2E4169EE7",
    "0x8617E340B3D01FA5F11F306F4090FD50E238070D",
    "0xde709f2102306220921060314715629080e2fb77",
    "0x27b1fdb04752bbc536007a920d24acb045561c26",
    "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
    "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
    "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
    "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
]


@pytest.mark.parametrize("address", EIP55_EXAMPLES)
def test_checksum_address_known_answers(address: str) -> None:
    assert checksum_address(address.lower()) == address
    assert checksum_address("0x" + address[2:].upper()) == address
    assert checksum_address(address) == address


@settings(max_examples=50, deadline=None)
@given(st.binary(min_size=20, max_size=20))
def test_checksum_address_matches_eth_utils(raw: bytes) -> None:
    assert checksum_address("0x" + raw.hex()) == to_checksum_address(raw)


@pytest.mark.parametrize(
    "address",
    ["5aaeb6053f3e94c9b9a09f33669435e7ef1beaed", "0x5aaeb6053f3e94c9b9a09f33669435e7ef1bea",
     "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaedaa", "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaeg",
     "", "0x"],
    ids=["no-0x", "short", "long", "non-hex", "empty", "bare-0x"],
)
def test_checksum_address_refuses_malformed(address: str) -> None:
    with pytest.raises(FormatError, match="address: expected 0x and 40 hex digits"):
        checksum_address(address)


def test_checksum_address_refuses_trailing_newline() -> None:
    with pytest.raises(FormatError):
        checksum_address("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed\n")


# -- record hash --------------------------------------------------------------------------------


def test_record_hash_is_sha256_of_rfc8785() -> None:
    record = {"b": 1, "a": [1.0, "x", None, True], "é": 1e21}
    expected = b'{"a":[1,"x",null,true],"b":1,"\xc3\xa9":1e+21}'
    assert canonical_json(record) == expected
    assert record_hash(record) == hashlib.sha256(expected).digest()
    # Key order and whitespace do not matter; values do.
    assert record_hash(json.loads('{ "a" : [1, "x", null, true], "é": 1e21, "b": 1 }')) == (
        record_hash(record)
    )
    assert record_hash({**RECORD, "lot": "LOT-2"}) != RHASH


@pytest.mark.parametrize(
    "value",
    [float("nan"), float("inf"), 2**53 + 1, b"bytes"],
    ids=["nan", "inf", "big-int", "bytes"],
)
def test_canonical_json_refuses_what_rfc8785_cannot_encode(value: Any) -> None:
    with pytest.raises(FormatError, match="canonical JSON: cannot canonicalize"):
        record_hash({"v": value})


# -- logged entries -----------------------------------------------------------------------------


def make_entry(**overrides: Any) -> Entry:
    _, signature = sign()
    fields: dict[str, Any] = {
        "record_id": "INS-1",
        "record_type": "inspection",
        "record_hash": RHASH.hex(),
        "lot": "LOT-1",
        "lot_prev": "cd" * 32,
        "signer": ACCOUNT.address,
        "meaning": "authored",
        "signed_at": SIGNED_AT,
        "signature": signature,
        "salt": "ab" * 32,
        "accepted_at": "2023-11-14T22:13:20.000000Z",
    }
    return Entry(**{**fields, **overrides})


def entry_json(**overrides: Any) -> dict[str, Any]:
    return {**make_entry().to_json(), **overrides}


def test_entry_round_trip_and_leaf_hash() -> None:
    entry = make_entry()
    value = entry.to_json()
    assert value["format"] == ENTRY_FORMAT
    assert Entry.from_json(value) == entry
    assert Entry.from_json(json.loads(entry.canonical())) == entry
    assert entry.canonical() == canonical_json(value)
    assert entry.leaf_hash() == hashlib.sha256(b"\x00" + entry.canonical()).digest()
    entry.verify_signature(DOMAIN)
    assert Entry.from_json(entry_json(lot=None, lot_prev=None)).lot is None


def test_entry_signature_by_someone_else() -> None:
    other = Account.create().address
    entry = make_entry(signer=other)
    with pytest.raises(SignatureInvalidError) as info:
        entry.verify_signature(DOMAIN)
    assert str(info.value) == (
        f"record signature: expected signer {other}, signature is by {ACCOUNT.address}"
    )


def test_entry_signer_case_does_not_matter() -> None:
    make_entry(signer=ACCOUNT.address.lower()).verify_signature(DOMAIN)


def entry_refused(value: Any, fragment: str) -> None:
    with pytest.raises(FormatError) as info:
        Entry.from_json(value)
    assert fragment in str(info.value), str(info.value)


def test_entry_refuses_non_object() -> None:
    entry_refused([entry_json()], "entry: expected a JSON object")


@pytest.mark.parametrize("fmt", [None, "evledger-entry/2", "EVLEDGER-ENTRY/1", 1])
def test_entry_refuses_other_formats(fmt: Any) -> None:
    entry_refused(entry_json(format=fmt), f"entry format: expected {ENTRY_FORMAT!r}, got {fmt!r}")


def test_entry_refuses_unknown_key() -> None:
    entry_refused(entry_json(extra=1), "entry: missing keys [], unknown keys ['extra']")


def test_entry_refuses_missing_key() -> None:
    value = entry_json()
    del value["salt"]
    entry_refused(value, "entry: missing keys ['salt'], unknown keys []")


@pytest.mark.parametrize(
    ("key", "value", "type_name"),
    [
        ("signed_at", True, "bool"),
        ("signed_at", "1700000000", "str"),
        ("signed_at", 1.7e9, "float"),
        ("record_id", 1, "int"),
        ("lot", 5, "int"),
        ("lot", False, "bool"),
        ("signature", None, "NoneType"),
        ("meaning", ["authored"], "list"),
    ],
)
def test_entry_refuses_wrong_types(key: str, value: Any, type_name: str) -> None:
    entry_refused(entry_json(**{key: value}), f"entry {key}: wrong type {type_name}")


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("record_hash", RHASH.hex().upper()),
        ("record_hash", RHASH.hex()[:-2]),
        ("record_hash", "0x" + RHASH.hex()),
        ("salt", "AB" * 32),
        ("salt", "zz" * 32),
    ],
    ids=["uppercase-hash", "short-hash", "0x-hash", "uppercase-salt", "non-hex-salt"],
)
def test_entry_refuses_non_canonical_hex(key: str, value: str) -> None:
    entry_refused(entry_json(**{key: value}), "record_hash and salt must be 64 lowercase hex")


def test_entry_refuses_trailing_newline_in_hex() -> None:
    entry_refused(entry_json(record_hash=RHASH.hex() + "\n"), "64 lowercase hex")


@pytest.mark.parametrize("signer", ["0x1234", ACCOUNT.address[2:], "", "0x" + "g" * 40])
def test_entry_refuses_bad_signer(signer: str) -> None:
    entry_refused(entry_json(signer=signer), f"entry signer: expected an address, got {signer!r}")


# -- record files -------------------------------------------------------------------------------


def test_load_record_file_round_trip() -> None:
    text = json.dumps(RECORD)
    assert load_record_file(text) == RECORD
    assert load_record_file(text.encode()) == RECORD


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('{"a": 1, "a": 2}', "a"),
        ('{"a": 1, "b": {"c": 1, "c": 1}}', "c"),
        ('{"x": [{"k": 1, "k": 2}]}', "k"),
    ],
    ids=["top-level", "nested", "in-array"],
)
def test_load_record_file_refuses_duplicate_keys(text: str, key: str) -> None:
    with pytest.raises(FormatError, match=f"record: duplicate key '{key}'"):
        load_record_file(text)


@pytest.mark.parametrize(
    ("text", "type_name"),
    [("[]", "list"), ('"text"', "str"), ("1", "int"), ("null", "NoneType"), ("true", "bool")],
)
def test_load_record_file_refuses_non_objects(text: str, type_name: str) -> None:
    with pytest.raises(FormatError, match=f"record: expected a JSON object, got {type_name}"):
        load_record_file(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "record: expected a JSON value, got nothing"),
        ("{", "record: not valid JSON"),
        ('{"a": 1} {"b": 2}', "record: not valid JSON"),
        ("{'a': 1}", "record: not valid JSON"),
        ('{"a": 1,}', "record: not valid JSON"),
        (b"\xff\xfe{}", "record: expected UTF-8 .RFC 8259., got byte 0xff at offset 0"),
        (b'{"a": "\xff"}', "record: expected UTF-8 .RFC 8259., got byte 0xff at offset 7"),
    ],
    ids=["empty", "truncated", "two-objects", "single-quotes", "trailing-comma", "utf16-bom",
         "invalid-utf8"],
)
def test_load_record_file_refuses_invalid_json(text: str | bytes, message: str) -> None:
    with pytest.raises(FormatError, match=message):
        load_record_file(text)


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_load_record_file_refuses_non_json_numbers(literal: str) -> None:
    with pytest.raises(FormatError):
        load_record_file('{"value": ' + literal + "}")


def test_load_record_file_size_limit() -> None:
    body = '{"pad": "' + "x" * (MAX_RECORD_BYTES - 11) + '"}'
    assert len(body) == MAX_RECORD_BYTES
    assert load_record_file(body.encode())["pad"]
    too_big = ('{"pad": "' + "x" * (MAX_RECORD_BYTES - 10) + '"}').encode()
    with pytest.raises(FormatError) as info:
        load_record_file(too_big)
    assert str(info.value) == (
        f"record: expected at most {MAX_RECORD_BYTES} bytes, got {MAX_RECORD_BYTES + 1}"
    )


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"lot_prev": "CD" * 32}, "lot_prev"),
        ({"lot_prev": "cd" * 31}, "lot_prev"),
        ({"lot": None}, "lot_prev"),  # a chain link outside any lot
        ({"lot_prev": 7}, "entry lot_prev: wrong type"),
    ],
)
def test_entry_lot_chain_link_is_strict(overrides: dict[str, Any], fragment: str) -> None:
    entry_refused(entry_json(**overrides), fragment)


def test_load_record_file_refuses_deep_nesting_whatever_the_recursion_limit() -> None:
    """eth_account (through py_ecc) raises the recursion limit to 100,000, where json.loads of
    120,000 nested arrays crashed `evledger submit` with a segmentation fault."""
    import sys

    deep = '{"a": ' + "[" * 120_000 + "]" * 120_000 + "}"
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(100_000)
    try:
        with pytest.raises(FormatError, match="record: expected JSON nested at most 32 levels"):
            load_record_file(deep)
    finally:
        sys.setrecursionlimit(old)
