"""C2SP signed-note checkpoints: round trips, a known answer from the Go ``note`` package, and
strict refusal of every malformed or mis-signed note, with messages that say what failed."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from evledger_verify.checkpoint import (
    MAX_NOTE_SIZE,
    Checkpoint,
    NoteVerifier,
    format_checkpoint_body,
    parse_checkpoint,
    sign_note,
    verifier_key_string,
    verify_checkpoint,
)
from evledger_verify.errors import FormatError, SignatureInvalidError, VerificationError
from hypothesis import given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.req("RCPT-4", "P11-30-1")

ORIGIN = "evledger/31337/0x5fbdb2315678afecb367f032d93f642f64180aa3"
ROOT = hashlib.sha256(b"root").digest()
ROOT_B64 = base64.b64encode(ROOT).decode()


def public_bytes(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def verifier_for(key: Ed25519PrivateKey, name: str = ORIGIN) -> NoteVerifier:
    return NoteVerifier.parse(verifier_key_string(name, public_bytes(key)))


@pytest.fixture(scope="module")
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture(scope="module")
def verifier(key: Ed25519PrivateKey) -> NoteVerifier:
    return verifier_for(key)


@pytest.fixture(scope="module")
def note(key: Ed25519PrivateKey) -> str:
    return sign_note(format_checkpoint_body(ORIGIN, 5, ROOT), ORIGIN, key)


def signed(body: str, key: Ed25519PrivateKey, name: str = ORIGIN) -> str:
    return sign_note(body, name, key)


# -- round trips --------------------------------------------------------------------------------


def test_round_trip(note: str, verifier: NoteVerifier) -> None:
    assert note == f"{ORIGIN}\n5\n{ROOT_B64}\n\n\u2014 {ORIGIN} " + note.split(" ")[-1]
    expected = Checkpoint(ORIGIN, 5, ROOT)
    assert parse_checkpoint(note) == expected
    assert verify_checkpoint(note, verifier, ORIGIN) == expected


def test_verifier_key_string_round_trip(key: Ed25519PrivateKey) -> None:
    vkey = verifier_key_string(ORIGIN, public_bytes(key))
    name, key_id, encoded = vkey.split("+", 2)
    assert name == ORIGIN
    raw = base64.b64decode(encoded)
    assert raw == b"\x01" + public_bytes(key)
    assert key_id == hashlib.sha256(ORIGIN.encode() + b"\n" + raw).digest()[:4].hex()
    parsed = NoteVerifier.parse(vkey)
    assert (parsed.name, parsed.key_id.hex(), parsed.public_key) == (
        ORIGIN,
        key_id,
        public_bytes(key),
    )
    # Surrounding whitespace (a trailing newline from a file) is tolerated.
    assert NoteVerifier.parse(vkey + "\n") == parsed


# golang.org/x/mod/sumdb/note, example_test.go (ExampleSign / ExampleOpen): Ed25519 signatures are
# deterministic, so the same key and text must give the same note byte for byte.
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
GO_SIG = (
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="
)


def test_known_answer_from_go_note_package() -> None:
    seed = base64.b64decode(GO_SKEY.split("+", 4)[4])
    assert seed[0] == 0x01
    key = Ed25519PrivateKey.from_private_bytes(seed[1:])
    assert verifier_key_string("PeterNeumann", public_bytes(key)) == GO_VKEY
    assert sign_note(GO_TEXT, "PeterNeumann", key) == f"{GO_TEXT}\n\u2014 PeterNeumann {GO_SIG}\n"
    v = NoteVerifier.parse(GO_VKEY)
    assert v.key_id.hex() == "c74f20a3"
    assert v.public_key == public_bytes(key)


@settings(max_examples=30, deadline=None)
@given(
    origin=st.text(
        st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="+"),
        min_size=1,
        max_size=40,
    ),
    size=st.integers(0, 2**64 - 1),
    root=st.binary(min_size=32, max_size=32),
)
def test_round_trip_any_checkpoint(
    key: Ed25519PrivateKey, origin: str, size: int, root: bytes
) -> None:
    note = signed(format_checkpoint_body(origin, size, root), key, origin)
    assert verify_checkpoint(note, verifier_for(key, origin), origin) == Checkpoint(
        origin, size, root
    )


def test_extra_signatures_by_other_keys_are_ignored(key: Ed25519PrivateKey) -> None:
    body = format_checkpoint_body(ORIGIN, 9, ROOT)
    witness = signed(body, Ed25519PrivateKey.generate(), "witness.example")
    ours = signed(body, key)
    # Both signature lines under the one body, the witness first.
    cosigned = witness + ours[len(body) + 1 :]
    assert cosigned.count("\u2014 ") == 2
    assert verify_checkpoint(cosigned, verifier_for(key), ORIGIN) == Checkpoint(ORIGIN, 9, ROOT)


def test_vkey_whose_base64_contains_plus(key: Ed25519PrivateKey) -> None:
    """Regression: the key's base64 may contain '+', the separator of the vkey fields."""
    for _ in range(500):
        candidate = Ed25519PrivateKey.generate()
        vkey = verifier_key_string(ORIGIN, public_bytes(candidate))
        if "+" in vkey.split("+", 2)[2]:
            break
    else:  # pragma: no cover - probability about 2**-300
        pytest.fail("no key with '+' in its base64 found")
    assert vkey.count("+") >= 3
    v = NoteVerifier.parse(vkey)
    assert v.public_key == public_bytes(candidate)
    note = signed(format_checkpoint_body(ORIGIN, 1, ROOT), candidate)
    assert verify_checkpoint(note, v, ORIGIN).tree_size == 1


# -- strict parsing -----------------------------------------------------------------------------


def refused(note: str, fragment: str, error: type[Exception] = FormatError) -> str:
    with pytest.raises(error) as info:
        parse_checkpoint(note)
    assert fragment in str(info.value), str(info.value)
    return str(info.value)


def test_missing_blank_line(note: str) -> None:
    refused(note.replace("\n\n", "\n"), "expected a body, a blank line and signature lines")


def test_missing_final_newline(note: str) -> None:
    refused(note[:-1], "expected a body, a blank line and signature lines")


def test_no_signature_lines(key: Ed25519PrivateKey) -> None:
    body = format_checkpoint_body(ORIGIN, 5, ROOT)
    refused(body + "\n", "expected a signature line, got ''")


def test_extension_lines_refused(key: Ed25519PrivateKey) -> None:
    body = format_checkpoint_body(ORIGIN, 5, ROOT) + "extension line\n"
    refused(signed(body, key), "checkpoint body: expected 3 lines (origin, size, root), got 4")


def test_short_body_refused(key: Ed25519PrivateKey) -> None:
    refused(signed(f"{ORIGIN}\n5\n", key), "expected 3 lines (origin, size, root), got 2")


def test_empty_origin_refused(key: Ed25519PrivateKey) -> None:
    refused(signed(f"\n5\n{ROOT_B64}\n", key), "checkpoint body: empty origin")


@pytest.mark.parametrize(
    "size", ["01", "+1", "1e3", "-1", " 1", "1 ", "1.0", "", "0x10", "١", str(2**64)]
)
def test_non_canonical_size_refused(key: Ed25519PrivateKey, size: str) -> None:
    note = signed(f"{ORIGIN}\n{size}\n{ROOT_B64}\n", key)
    refused(note, f"checkpoint body: tree size not a canonical decimal: {size!r}")


def test_largest_size_accepted(key: Ed25519PrivateKey) -> None:
    note = signed(f"{ORIGIN}\n{2**64 - 1}\n{ROOT_B64}\n", key)
    assert parse_checkpoint(note).tree_size == 2**64 - 1


def test_non_canonical_base64_root_refused(key: Ed25519PrivateKey) -> None:
    # 32 bytes leave two unused bits in the last base64 digit: setting one decodes to the same
    # bytes, so only a canonical-encoding check can refuse it.
    assert ROOT_B64.endswith("=")
    last = ROOT_B64[-2]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    twin = alphabet[alphabet.index(last) ^ 1]
    sloppy = ROOT_B64[:-2] + twin + "="
    assert base64.b64decode(sloppy) == ROOT
    note = signed(f"{ORIGIN}\n5\n{sloppy}\n", key)
    refused(note, "checkpoint body: expected a canonical base64 32-byte root hash")


@pytest.mark.parametrize(
    ("encoded", "fragment"),
    [
        (base64.b64encode(ROOT[:31]).decode(), "expected a canonical base64 32-byte root hash"),
        (base64.b64encode(ROOT + b"\x00").decode(), "expected a canonical base64 32-byte root"),
        (ROOT_B64.rstrip("="), "checkpoint body: root hash is not base64"),
        (ROOT_B64[:-4] + "!!!=", "checkpoint body: root hash is not base64"),
        (base64.urlsafe_b64encode(b"\xff" * 32).decode(), "root hash is not base64"),
        (ROOT.hex(), "expected a canonical base64 32-byte root hash"),
    ],
    ids=["31-bytes", "33-bytes", "no-padding", "bad-characters", "url-safe", "hex"],
)
def test_malformed_root_refused(key: Ed25519PrivateKey, encoded: str, fragment: str) -> None:
    refused(signed(f"{ORIGIN}\n5\n{encoded}\n", key), fragment)


@pytest.mark.parametrize(
    ("suffix", "fragment"),
    [
        ("\n", "expected a signature line, got ''"),
        ("trailing data\n", "expected a signature line, got 'trailing data'"),
        ("\u2014 \n", "malformed signature line"),
        (" ", "expected a body, a blank line and signature lines"),
    ],
    ids=["blank-line", "text-line", "empty-signature-line", "no-final-newline"],
)
def test_trailing_data_after_signatures_refused(note: str, suffix: str, fragment: str) -> None:
    refused(note + suffix, fragment)


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ("- name AAAAAAAA", "expected a signature line, got '- name AAAAAAAA'"),
        ("\u2014 name", "malformed signature line"),
        ("\u2014 name AAAA AAAA", "malformed signature line"),
        ("\u2014 na+me AAAAAAAA", "malformed signature line"),
        ("\u2014 name AAAA", "checkpoint: signature too short"),
        ("\u2014 name not*base64", "checkpoint: signature is not base64"),
    ],
    ids=["hyphen", "no-signature", "extra-field", "plus-in-name", "short", "not-base64"],
)
def test_malformed_signature_lines(line: str, fragment: str) -> None:
    refused(f"{ORIGIN}\n5\n{ROOT_B64}\n\n{line}\n", fragment)


def test_oversized_note_refused(note: str) -> None:
    padding = "x" * (MAX_NOTE_SIZE - len(note.encode()) + 1)
    big = note.replace(ORIGIN, ORIGIN + padding, 1)
    assert len(big.encode()) == MAX_NOTE_SIZE + 1
    refused(big, f"checkpoint: expected at most {MAX_NOTE_SIZE} bytes")


def test_size_limit_counts_bytes_not_characters(note: str) -> None:
    # The em dash is three bytes in UTF-8; a note of MAX_NOTE_SIZE characters is too big.
    filler = "\u2014" * (MAX_NOTE_SIZE // 3)
    refused(filler + note, f"expected at most {MAX_NOTE_SIZE} bytes")


# -- signatures ---------------------------------------------------------------------------------


def sig_refused(note: str, verifier: NoteVerifier, fragment: str, origin: str = ORIGIN) -> str:
    with pytest.raises(SignatureInvalidError) as info:
        verify_checkpoint(note, verifier, origin)
    assert fragment in str(info.value), str(info.value)
    assert isinstance(info.value, VerificationError)
    return str(info.value)


def test_signature_by_another_key_is_named(note: str, key: Ed25519PrivateKey) -> None:
    other = Ed25519PrivateKey.generate()
    forged = signed(format_checkpoint_body(ORIGIN, 5, ROOT), other)
    trusted = verifier_for(key)
    message = sig_refused(forged, trusted, "expected a signature by the trusted log key")
    assert f"{ORIGIN}+{trusted.key_id.hex()}" in message
    assert f"found only {ORIGIN}+{verifier_for(other).key_id.hex()}" in message


def test_signature_under_another_name_is_named(key: Ed25519PrivateKey) -> None:
    note = signed(format_checkpoint_body(ORIGIN, 5, ROOT), key, "someone-else")
    message = sig_refused(note, verifier_for(key), "found only someone-else+")
    assert "trusted log key" in message


def test_wrong_origin(note: str, verifier: NoteVerifier) -> None:
    sig_refused(
        note,
        verifier,
        f"checkpoint origin: expected 'evledger/1/other', got {ORIGIN!r}",
        origin="evledger/1/other",
    )


@pytest.mark.parametrize(
    ("old", "new"),
    [("\n5\n", "\n6\n"), (ROOT_B64, base64.b64encode(bytes(32)).decode())],
    ids=["size-changed", "root-changed"],
)
def test_tampered_body(note: str, verifier: NoteVerifier, old: str, new: str) -> None:
    tampered = note.replace(old, new, 1)
    assert tampered != note
    expected = f"checkpoint signature: does not verify with the trusted log key {ORIGIN}"
    sig_refused(tampered, verifier, expected)


def test_tampered_signature(note: str, verifier: NoteVerifier) -> None:
    head, blob = note.rstrip("\n").rsplit(" ", 1)
    raw = bytearray(base64.b64decode(blob))
    raw[-1] ^= 0x01
    tampered = f"{head} {base64.b64encode(bytes(raw)).decode()}\n"
    sig_refused(tampered, verifier, "does not verify with the trusted log key")


def test_truncated_signature(note: str, verifier: NoteVerifier) -> None:
    head, blob = note.rstrip("\n").rsplit(" ", 1)
    raw = base64.b64decode(blob)[:20]
    sig_refused(f"{head} {base64.b64encode(raw).decode()}\n", verifier, "does not verify")


# -- verifier keys ------------------------------------------------------------------------------


def test_vkey_key_id_mismatch(key: Ed25519PrivateKey) -> None:
    name, key_id, encoded = verifier_key_string(ORIGIN, public_bytes(key)).split("+", 2)
    wrong = f"{int(key_id, 16) ^ 1:08x}"
    with pytest.raises(FormatError, match="log public key: key id does not match name and key"):
        NoteVerifier.parse(f"{name}+{wrong}+{encoded}")
    # The key id covers the name: the same key under another name is refused.
    with pytest.raises(FormatError, match="key id does not match"):
        NoteVerifier.parse(f"other+{key_id}+{encoded}")


@pytest.mark.parametrize(
    ("vkey", "fragment"),
    [
        ("justaname", "log public key: expected name+keyid+key"),
        ("name+c74f20a3", "expected name+keyid+key"),
        ("na me+c74f20a3+" + "A" * 44, "log public key: invalid key name 'na me'"),
        ("+c74f20a3+" + "A" * 44, "invalid key name ''"),
        ("name+zz4f20a3+" + "A" * 44, "log public key: not hex/base64"),
        ("name+c74f20a3+not*base64", "not hex/base64"),
        ("name+c74f20+" + base64.b64encode(b"\x01" + bytes(32)).decode(), "a 4-byte id"),
        ("name+c74f20a3+" + base64.b64encode(b"\x02" + bytes(32)).decode(), "Ed25519 key (0x01)"),
        ("name+c74f20a3+" + base64.b64encode(b"\x01" + bytes(31)).decode(), "Ed25519 key"),
    ],
    ids=[
        "one-field",
        "two-fields",
        "space-in-name",
        "empty-name",
        "bad-hex",
        "bad-base64",
        "short-id",
        "other-algorithm",
        "short-key",
    ],
)
def test_malformed_vkey(vkey: str, fragment: str) -> None:
    with pytest.raises(FormatError) as info:
        NoteVerifier.parse(vkey)
    assert fragment in str(info.value), str(info.value)


@pytest.mark.parametrize("name", ["", "with space", "with+plus", "tab\there", "x" * 257])
def test_verifier_key_string_refuses_bad_names(key: Ed25519PrivateKey, name: str) -> None:
    with pytest.raises(FormatError, match="key name: expected printable characters"):
        verifier_key_string(name, public_bytes(key))


def test_verifier_key_string_refuses_trailing_newline_in_name(key: Ed25519PrivateKey) -> None:
    with pytest.raises(FormatError):
        verifier_key_string("name\n", public_bytes(key))


def test_format_and_sign_refusals(key: Ed25519PrivateKey) -> None:
    with pytest.raises(FormatError, match="checkpoint origin: expected one non-empty line"):
        format_checkpoint_body("two\nlines", 1, ROOT)
    with pytest.raises(FormatError, match="checkpoint origin: expected one non-empty line"):
        format_checkpoint_body("", 1, ROOT)
    with pytest.raises(FormatError, match="note body: expected a final newline"):
        sign_note("no newline", ORIGIN, key)
