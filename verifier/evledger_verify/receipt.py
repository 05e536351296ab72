"""Receipts and trust files: strict parsing and the offline receipt checks.

A receipt (``evledger-receipt/1``) proves that one record is in the log under a signed
checkpoint that was anchored on chain. A trust file (``evledger-trust/1``) is what an auditor
pins: the log's origin and public key, the chain id and the contract. A key carried inside a
receipt is never trusted.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from evledger_verify.checkpoint import NoteVerifier, verify_checkpoint
from evledger_verify.errors import CannotCheckError, FormatError, VerificationError
from evledger_verify.merkle import MAX_PROOF_LENGTH, verify_inclusion
from evledger_verify.records import Domain, Entry, checksum_address, record_hash

__all__ = [
    "MAX_RECEIPT_BYTES",
    "RECEIPT_FORMAT",
    "TRUST_FORMAT",
    "Anchor",
    "Check",
    "Receipt",
    "Report",
    "Trust",
    "load_json_file",
    "verify_receipt",
]

RECEIPT_FORMAT = "evledger-receipt/1"
TRUST_FORMAT = "evledger-trust/1"
MAX_RECEIPT_BYTES = 256 * 1024
_HEX32 = re.compile(r"^[0-9a-f]{64}\Z")
_HEX32_0X = re.compile(r"^0x[0-9a-f]{64}\Z")
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}\Z")


def load_json_file(path: str, what: str, limit: int = MAX_RECEIPT_BYTES) -> Any:
    """Read a JSON file; unreadable input is :class:`CannotCheckError` (exit 2)."""
    try:
        with open(path, "rb") as fh:
            data = fh.read(limit + 1)
    except OSError as exc:
        raise CannotCheckError(f"{what}: cannot read {path}: {exc.strerror or exc}") from exc
    if len(data) > limit:
        raise CannotCheckError(f"{what}: {path} is larger than {limit} bytes")
    try:
        return json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise CannotCheckError(f"{what}: {path} is not valid JSON: {exc}") from exc


def _require(obj: Mapping[str, Any], key: str, typ: type | tuple[type, ...], what: str) -> Any:
    if key not in obj:
        raise FormatError(f"{what}: missing key {key!r}")
    value = obj[key]
    if not isinstance(value, typ) or (isinstance(value, bool) and typ is not bool):
        raise FormatError(f"{what} {key}: wrong type {type(value).__name__}")
    return value


def _hex32(value: str, what: str) -> bytes:
    if not _HEX32.match(value):
        raise FormatError(f"{what}: expected 64 lowercase hex digits, got {value[:70]!r}")
    return bytes.fromhex(value)


@dataclass(frozen=True)
class Trust:
    log_origin: str
    log_key: NoteVerifier
    chain_id: int
    contract: str

    @property
    def domain(self) -> Domain:
        return Domain(self.chain_id, self.contract)

    @classmethod
    def from_json(cls, value: Any) -> Trust:
        if not isinstance(value, dict):
            raise FormatError("trust file: expected a JSON object")
        if value.get("format") != TRUST_FORMAT:
            raise FormatError(
                f"trust file format: expected {TRUST_FORMAT!r}, got {value.get('format')!r}"
            )
        origin = _require(value, "log_origin", str, "trust file")
        key = NoteVerifier.parse(_require(value, "log_public_key", str, "trust file"))
        chain_id = _require(value, "chain_id", int, "trust file")
        contract = _require(value, "contract", str, "trust file")
        if not _ADDRESS.match(contract):
            raise FormatError(f"trust file contract: expected an address, got {contract!r}")
        return cls(origin, key, chain_id, checksum_address(contract))


@dataclass(frozen=True)
class Anchor:
    chain_id: int
    contract: str
    tx_hash: str
    block_number: int
    block_hash: str
    log_index: int
    #: "included" (in a block of the canonical chain) or "final" (past the chain's finality),
    #: as the ledger reports it; None in receipts from before the anchor life cycle.
    state: str | None = None

    @classmethod
    def from_json(cls, value: Any) -> Anchor:
        if not isinstance(value, dict):
            raise FormatError("anchor: expected a JSON object")
        a = cls(
            chain_id=_require(value, "chain_id", int, "anchor"),
            contract=_require(value, "contract", str, "anchor"),
            tx_hash=_require(value, "tx_hash", str, "anchor"),
            block_number=_require(value, "block_number", int, "anchor"),
            block_hash=_require(value, "block_hash", str, "anchor"),
            log_index=_require(value, "log_index", int, "anchor"),
            state=value.get("state") if value.get("state") in ("included", "final") else None,
        )
        if "state" in value and a.state is None:
            raise FormatError(f"anchor state: expected included or final, got {value['state']!r}")
        if not _ADDRESS.match(a.contract):
            raise FormatError(f"anchor contract: expected an address, got {a.contract!r}")
        for key in ("tx_hash", "block_hash"):
            if not _HEX32_0X.match(getattr(a, key)):
                raise FormatError(f"anchor {key}: expected 0x and 64 lowercase hex digits")
        return a


@dataclass(frozen=True)
class Receipt:
    record_id: str
    record_hash: bytes
    entry: Entry
    leaf_hash: bytes
    leaf_index: int
    tree_size: int
    root_hash: bytes
    inclusion_proof: tuple[bytes, ...]
    checkpoint: str
    anchor: Anchor | None

    @classmethod
    def from_json(cls, value: Any) -> Receipt:
        what = "receipt"
        if not isinstance(value, dict):
            raise FormatError("receipt: expected a JSON object")
        if value.get("format") != RECEIPT_FORMAT:
            raise FormatError(
                f"receipt format: expected {RECEIPT_FORMAT!r}, got {value.get('format')!r}"
            )
        proof = _require(value, "inclusion_proof", list, what)
        if len(proof) > MAX_PROOF_LENGTH:
            raise FormatError(f"receipt inclusion_proof: more than {MAX_PROOF_LENGTH} hashes")
        anchor_json = value.get("anchor")
        return cls(
            record_id=_require(value, "record_id", str, what),
            record_hash=_hex32(_require(value, "record_hash", str, what), "receipt record_hash"),
            entry=Entry.from_json(_require(value, "entry", dict, what)),
            leaf_hash=_hex32(_require(value, "leaf_hash", str, what), "receipt leaf_hash"),
            leaf_index=_require(value, "leaf_index", int, what),
            tree_size=_require(value, "tree_size", int, what),
            root_hash=_hex32(_require(value, "root_hash", str, what), "receipt root_hash"),
            inclusion_proof=tuple(
                _hex32(p if isinstance(p, str) else "", f"receipt inclusion_proof[{i}]")
                for i, p in enumerate(proof)
            ),
            checkpoint=_require(value, "checkpoint", str, what),
            anchor=None if anchor_json is None else Anchor.from_json(anchor_json),
        )


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class Report:
    """The outcome of every check; ``ok`` only when every check passed (fail closed)."""

    subject: str
    checks: list[Check] = field(default_factory=list)
    #: Why the checks stopped short (node unreachable, malformed answer): exit code 2.
    could_not_check: str | None = None

    @property
    def ok(self) -> bool:
        return self.could_not_check is None and bool(self.checks) and all(c.ok for c in self.checks)

    def run(self, name: str, fn: Callable[[], str]) -> bool:
        """Run one check; a :class:`VerificationError` becomes a failed check."""
        try:
            detail = fn()
        except VerificationError as exc:
            self.checks.append(Check(name, False, str(exc)))
            return False
        self.checks.append(Check(name, True, detail))
        return True

    def fail(self, name: str, detail: str) -> None:
        self.checks.append(Check(name, False, detail))

    def to_json(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "verified": self.ok,
            "could_not_check": self.could_not_check,
            "checks": [{"check": c.name, "ok": c.ok, "detail": c.detail} for c in self.checks],
        }


def verify_receipt(
    receipt_json: Any,
    trust: Trust,
    record: Mapping[str, Any] | None = None,
    *,
    require_final: bool = False,
) -> tuple[Report, Receipt | None]:
    """Run every offline check of a receipt; returns the report and the parsed receipt."""
    report = Report("receipt")
    parsed: list[Receipt] = []

    def parse() -> str:
        parsed.append(Receipt.from_json(receipt_json))
        return f"{RECEIPT_FORMAT}, record {parsed[0].record_id!r}"

    if not report.run("format", parse):
        return report, None
    r = parsed[0]
    report.subject = f"receipt for record {r.record_id!r}"

    def check_record() -> str:
        if record is None:
            return "no record supplied: only the record hash in the receipt is proven"
        actual = record_hash(record)
        if actual != r.record_hash:
            raise VerificationError(
                f"record hash: expected {r.record_hash.hex()} (receipt), "
                f"the record file hashes to {actual.hex()}"
            )
        if record.get("record_id") != r.record_id:
            raise VerificationError(
                f"record id: expected {r.record_id!r}, got {record.get('record_id')!r}"
            )
        return f"record hashes to {actual.hex()}"

    def check_leaf() -> str:
        if r.entry.record_hash != r.record_hash.hex() or r.entry.record_id != r.record_id:
            raise VerificationError("leaf: the logged entry is for another record")
        computed = r.entry.leaf_hash()
        if computed != r.leaf_hash:
            raise VerificationError(
                f"leaf hash: expected {r.leaf_hash.hex()}, entry hashes to {computed.hex()}"
            )
        return f"leaf {r.leaf_index} hash {computed.hex()}"

    def check_signature() -> str:
        r.entry.verify_signature(trust.domain)
        return f"signed by {r.entry.signer} ({r.entry.meaning}) at unix time {r.entry.signed_at}"

    def check_inclusion() -> str:
        verify_inclusion(r.leaf_hash, r.leaf_index, r.tree_size, r.inclusion_proof, r.root_hash)
        return f"leaf {r.leaf_index} is in the tree of size {r.tree_size}"

    def check_checkpoint() -> str:
        cp = verify_checkpoint(r.checkpoint, trust.log_key, trust.log_origin)
        if (cp.tree_size, cp.root_hash) != (r.tree_size, r.root_hash):
            raise VerificationError(
                f"checkpoint: expected size {r.tree_size} root {r.root_hash.hex()}, "
                f"checkpoint says size {cp.tree_size} root {cp.root_hash.hex()}"
            )
        return f"signed by the trusted log key for {trust.log_origin}"

    def check_anchor() -> str:
        a = r.anchor
        if a is None:
            raise VerificationError("anchor: missing: the checkpoint is not (yet) anchored")
        if a.chain_id != trust.chain_id:
            raise VerificationError(
                f"anchor chain: expected chain id {trust.chain_id}, got {a.chain_id}"
            )
        if a.contract.lower() != trust.contract.lower():
            raise VerificationError(f"anchor contract: expected {trust.contract}, got {a.contract}")
        if require_final and a.state != "final":
            raise VerificationError(
                f"anchor state: expected final (--require-final), got {a.state or 'not stated'}: "
                "the block may still be reorganized away; ask for the receipt again later"
            )
        return (
            f"claims tx {a.tx_hash} in block {a.block_number}, {a.state or 'state not stated'} "
            "(confirm with --rpc)"
        )

    report.run("record", check_record)
    report.run("leaf", check_leaf)
    report.run("signature", check_signature)
    report.run("inclusion", check_inclusion)
    report.run("checkpoint", check_checkpoint)
    report.run("anchor", check_anchor)
    return report, r
