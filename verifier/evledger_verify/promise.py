"""The acceptance promise: what the log signs when it accepts a record, before sealing it.

Like Certificate Transparency's signed certificate timestamp and Rekor's signed entry
timestamp, a 201 from the ledger carries a promise, a signed note by the log key::

    evledger-promise/1
    <log origin>
    <record id>
    <leaf hash, lowercase hex: the RFC 9162 leaf hash of the logged entry>
    <accepted at, RFC 3339 UTC with microseconds>
    <deadline, RFC 3339 UTC: by then the entry is in a signed checkpoint>

    — <log key name> <base64 key id + Ed25519 signature>

Whoever holds it can later show that the log accepted that entry, and, past the deadline,
that the log broke its promise if the entry is not in a checkpoint: a record deleted by a
database superuser before it was sealed leaves no trace in the log, but the submitter's promise
names it. :func:`judge` compares a promise with a receipt (or its absence) at a given time.

    promise = verify_promise(note, NoteVerifier.parse(trust.log_public_key), trust.log_origin)
    verdict = judge(promise, receipt_or_none, now)     # kept / pending / broken
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from evledger_verify.checkpoint import NoteVerifier, verify_note
from evledger_verify.errors import FormatError, SignatureInvalidError

__all__ = [
    "PROMISE_FORMAT",
    "Promise",
    "Verdict",
    "format_promise_body",
    "judge",
    "parse_promise_body",
    "verify_promise",
]

PROMISE_FORMAT = "evledger-promise/1"
_HEX32 = re.compile(r"^[0-9a-f]{64}\Z")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}\Z")


@dataclass(frozen=True)
class Promise:
    origin: str
    record_id: str
    leaf_hash: bytes
    accepted_at: datetime
    deadline: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "origin": self.origin,
            "record_id": self.record_id,
            "leaf_hash": self.leaf_hash.hex(),
            "accepted_at": _time(self.accepted_at),
            "deadline": _time(self.deadline),
        }


def _time(t: datetime) -> str:
    return t.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def format_promise_body(
    origin: str, record_id: str, leaf_hash: bytes, accepted_at: datetime, deadline: datetime
) -> str:
    """The note body the log signs (ends with a newline, as signed notes require)."""
    if "\n" in origin or not origin:
        raise FormatError("promise origin: expected one non-empty line")
    if not _ID.match(record_id):
        raise FormatError(f"promise record id: expected a record id, got {record_id!r}")
    if len(leaf_hash) != 32:
        raise FormatError(f"promise leaf hash: expected 32 bytes, got {len(leaf_hash)}")
    return (
        f"{PROMISE_FORMAT}\n{origin}\n{record_id}\n{leaf_hash.hex()}\n"
        f"{_time(accepted_at)}\n{_time(deadline)}\n"
    )


def _parse_time(text: str, what: str) -> datetime:
    if not text.endswith("Z"):
        raise FormatError(f"promise {what}: expected RFC 3339 UTC ending in Z, got {text!r}")
    try:
        return datetime.fromisoformat(text[:-1] + "+00:00")
    except ValueError:
        raise FormatError(f"promise {what}: expected an RFC 3339 time, got {text!r}") from None


def parse_promise_body(body: str) -> Promise:
    lines = body[:-1].split("\n") if body.endswith("\n") else []
    if len(lines) != 6 or lines[0] != PROMISE_FORMAT:
        raise FormatError(
            f"promise: expected 6 lines starting with {PROMISE_FORMAT!r}, got "
            f"{len(lines)} line(s) starting with {lines[0][:40] if lines else ''!r}"
        )
    _, origin, record_id, leaf_hex, accepted, deadline = lines
    if not origin or not _ID.match(record_id):
        raise FormatError(f"promise: expected an origin and a record id, got {record_id!r}")
    if not _HEX32.match(leaf_hex):
        raise FormatError(f"promise leaf hash: expected 64 lowercase hex, got {leaf_hex[:70]!r}")
    at, due = _parse_time(accepted, "accepted at"), _parse_time(deadline, "deadline")
    if due < at:
        raise FormatError(f"promise: deadline {deadline} is before acceptance {accepted}")
    return Promise(origin, record_id, bytes.fromhex(leaf_hex), at, due)


def verify_promise(note: str, verifier: NoteVerifier, origin: str) -> Promise:
    """The promise in ``note`` once its signature verifies with the trusted log key and it
    names the trusted origin."""
    promise = parse_promise_body(verify_note(note, verifier, "promise"))
    if promise.origin != origin:
        raise SignatureInvalidError(f"promise origin: expected {origin!r}, got {promise.origin!r}")
    return promise


@dataclass(frozen=True)
class Verdict:
    state: Literal["kept", "pending", "broken"]
    detail: str


def judge(promise: Promise, receipt: dict[str, Any] | None, now: datetime) -> Verdict:
    """Whether the log kept ``promise``, given the receipt the log serves now for that record
    (None when it serves none) and the current time. A receipt must name the promised leaf
    hash and a checkpoint (its own verification is :func:`~evledger_verify.receipt
    .verify_receipt`'s business)."""
    due = _time(promise.deadline)
    if receipt is not None:
        leaf = receipt.get("leaf_hash")
        if leaf != promise.leaf_hash.hex():
            return Verdict(
                "broken",
                f"record {promise.record_id}: the log now serves leaf {leaf}, the promise names "
                f"{promise.leaf_hash.hex()}: the logged entry is not the one accepted",
            )
        if receipt.get("checkpoint"):
            return Verdict("kept", f"record {promise.record_id} is in a signed checkpoint")
    if now <= promise.deadline:
        return Verdict("pending", f"record {promise.record_id}: not yet in a checkpoint; due {due}")
    return Verdict(
        "broken",
        f"record {promise.record_id}: accepted at {_time(promise.accepted_at)} with a promise to "
        f"be in a signed checkpoint by {due}, and it is not: BROKEN PROMISE",
    )
