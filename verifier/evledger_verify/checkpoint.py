"""C2SP ``tlog-checkpoint`` bodies in C2SP ``signed-note`` envelopes, with Ed25519 keys.

A checkpoint note reads::

    <origin>
    <tree size>
    <base64 root hash>

    — <key name> <base64(key id || Ed25519 signature)>

The key id is the first 4 bytes of SHA-256(name || "\\n" || 0x01 || public key). A verifier key
is written ``<name>+<hex key id>+<base64(0x01 || public key)>``. Parsing is strict: no extension
lines, canonical numbers, nothing after the signature lines, bounded size.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from evledger_verify.errors import FormatError, SignatureInvalidError

__all__ = [
    "MAX_NOTE_SIZE",
    "Checkpoint",
    "NoteVerifier",
    "format_checkpoint_body",
    "parse_checkpoint",
    "sign_note",
    "verifier_key_string",
    "verify_checkpoint",
    "verify_note",
]

MAX_NOTE_SIZE = 16 * 1024
_ALG_ED25519 = 0x01
_SIG_PREFIX = "\u2014 "  # em dash and a space
_NAME_RE = re.compile(r"^[\x21-\x2a\x2c-\x7e]{1,256}\Z")  # printable, no spaces, no '+'
_DECIMAL_RE = re.compile(r"^(0|[1-9][0-9]{0,19})\Z")


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    tree_size: int
    root_hash: bytes


@dataclass(frozen=True)
class NoteVerifier:
    """A verifier key: name, 4-byte key id and Ed25519 public key."""

    name: str
    key_id: bytes
    public_key: bytes

    @classmethod
    def parse(cls, vkey: str) -> NoteVerifier:
        parts = vkey.strip().split("+", 2)  # base64 may itself contain "+"
        if len(parts) != 3:
            raise FormatError(f"log public key: expected name+keyid+key, got {vkey!r}")
        name, hex_id, b64 = parts
        if not _NAME_RE.match(name):
            raise FormatError(f"log public key: invalid key name {name!r}")
        try:
            key_id = bytes.fromhex(hex_id)
            raw = base64.b64decode(b64, validate=True)
        except (ValueError, binascii.Error) as exc:
            raise FormatError(f"log public key: not hex/base64: {exc}") from exc
        if len(key_id) != 4 or len(raw) != 33 or raw[0] != _ALG_ED25519:
            raise FormatError("log public key: expected a 4-byte id and an Ed25519 key (0x01)")
        public = raw[1:]
        if _key_id(name, public) != key_id:
            raise FormatError("log public key: key id does not match name and key")
        return cls(name, key_id, public)


def _key_id(name: str, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([_ALG_ED25519]) + public_key).digest()[:4]


def verifier_key_string(name: str, public_key: bytes) -> str:
    """The ``name+keyid+base64`` verifier key for an Ed25519 public key."""
    if not _NAME_RE.match(name):
        raise FormatError(
            f"key name: expected printable characters without spaces or '+', got {name!r}"
        )
    encoded = base64.b64encode(bytes([_ALG_ED25519]) + public_key).decode()
    return f"{name}+{_key_id(name, public_key).hex()}+{encoded}"


def format_checkpoint_body(origin: str, tree_size: int, root_hash: bytes) -> str:
    if "\n" in origin or not origin:
        raise FormatError("checkpoint origin: expected one non-empty line")
    return f"{origin}\n{tree_size}\n{base64.b64encode(root_hash).decode()}\n"


def sign_note(body: str, name: str, key: Ed25519PrivateKey) -> str:
    """Sign ``body`` (which must end in a newline) into a signed note."""
    if not body.endswith("\n"):
        raise FormatError("note body: expected a final newline")
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    sig = key.sign(body.encode())
    blob = base64.b64encode(_key_id(name, public) + sig).decode()
    return f"{body}\n{_SIG_PREFIX}{name} {blob}\n"


def _split_note(note: str, what: str = "checkpoint") -> tuple[str, list[tuple[str, bytes]]]:
    if len(note.encode()) > MAX_NOTE_SIZE:
        raise FormatError(f"{what}: expected at most {MAX_NOTE_SIZE} bytes")
    sep = note.rfind("\n\n")
    if sep < 0 or not note.endswith("\n"):
        raise FormatError(f"{what}: expected a body, a blank line and signature lines")
    body, sig_block = note[: sep + 1], note[sep + 2 :]
    sigs: list[tuple[str, bytes]] = []
    for line in sig_block[:-1].split("\n"):
        if not line.startswith(_SIG_PREFIX):
            raise FormatError(f"{what}: expected a signature line, got {line[:60]!r}")
        parts = line[len(_SIG_PREFIX) :].split(" ")
        if len(parts) != 2 or not _NAME_RE.match(parts[0]):
            raise FormatError(f"{what}: malformed signature line {line[:60]!r}")
        try:
            blob = base64.b64decode(parts[1], validate=True)
        except binascii.Error as exc:
            raise FormatError(f"{what}: signature is not base64") from exc
        if len(blob) < 5:
            raise FormatError(f"{what}: signature too short")
        sigs.append((parts[0], blob))
    if not sigs:
        raise FormatError(f"{what}: no signature lines")
    return body, sigs


def parse_checkpoint(note: str) -> Checkpoint:
    """Parse the body of a checkpoint note without checking signatures."""
    body, _ = _split_note(note)
    lines = body[:-1].split("\n")
    if len(lines) != 3:
        raise FormatError(
            f"checkpoint body: expected 3 lines (origin, size, root), got {len(lines)}"
        )
    origin, size_text, root_b64 = lines
    if not origin:
        raise FormatError("checkpoint body: empty origin")
    if not _DECIMAL_RE.match(size_text) or int(size_text) >= 2**64:
        raise FormatError(f"checkpoint body: tree size not a canonical decimal: {size_text!r}")
    try:
        root = base64.b64decode(root_b64, validate=True)
    except binascii.Error as exc:
        raise FormatError("checkpoint body: root hash is not base64") from exc
    if len(root) != 32 or base64.b64encode(root).decode() != root_b64:
        raise FormatError("checkpoint body: expected a canonical base64 32-byte root hash")
    return Checkpoint(origin, int(size_text), root)


def verify_checkpoint(note: str, verifier: NoteVerifier, origin: str) -> Checkpoint:
    """Check that ``note`` is a checkpoint for ``origin`` signed by ``verifier``'s key."""
    checkpoint = parse_checkpoint(note)
    if checkpoint.origin != origin:
        raise SignatureInvalidError(
            f"checkpoint origin: expected {origin!r}, got {checkpoint.origin!r}"
        )
    verify_note(note, verifier, "checkpoint")
    return checkpoint


def verify_note(note: str, verifier: NoteVerifier, what: str = "note") -> str:
    """The body of ``note`` once a signature by ``verifier``'s key verifies over it."""
    body, sigs = _split_note(note, what)
    public = Ed25519PublicKey.from_public_bytes(verifier.public_key)
    for name, blob in sigs:
        if name != verifier.name or blob[:4] != verifier.key_id:
            continue
        try:
            public.verify(blob[4:], body.encode())
        except InvalidSignature as exc:
            raise SignatureInvalidError(
                f"{what} signature: does not verify with the trusted log key {name}"
            ) from exc
        return body
    raise SignatureInvalidError(
        f"{what} signature: expected a signature by the trusted log key "
        f"{verifier.name}+{verifier.key_id.hex()}, found only "
        + ", ".join(f"{n}+{b[:4].hex()}" for n, b in sigs)
    )
