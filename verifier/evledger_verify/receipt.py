"""Receipts and trust files: strict parsing and the offline receipt checks.

A receipt (``evledger-receipt/1``) proves that one record is in the log under a signed
checkpoint that was anchored on chain. A trust file (``evledger-trust/1``) is what an auditor
pins: the log's origin and public key, the primary chain id and contract (the EIP-712 signing
domain), every chain whose anchors count (``chains``) and which of them must hold an anchor
(``require``). A key carried inside a receipt is never trusted.

A receipt may carry one anchor per chain (``anchors``), each at the tree size that chain's
contract holds, with the RFC 9162 consistency proof between that size and the receipt's: every
chain's anchor proves the record on its own, so one chain lagging or gone does not stop the
others from proving it.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from evledger_verify import strictjson
from evledger_verify.checkpoint import NoteVerifier, verify_checkpoint
from evledger_verify.errors import CannotCheckError, FormatError, VerificationError
from evledger_verify.evm import MAX_NODE_BYTES, MAX_PROOF_NODES, AnchorProof, verify_anchor_proof
from evledger_verify.merkle import MAX_PROOF_LENGTH, verify_consistency, verify_inclusion
from evledger_verify.records import Domain, Entry, checksum_address, record_hash

__all__ = [
    "MAX_CHAINS",
    "MAX_RECEIPT_BYTES",
    "RECEIPT_FORMAT",
    "TRUST_FORMAT",
    "Anchor",
    "AnchorTally",
    "ChainAnchor",
    "Check",
    "Receipt",
    "Report",
    "Trust",
    "TrustedChain",
    "UnsettledNode",
    "check_chain_anchor",
    "load_json_file",
    "verify_receipt",
]

RECEIPT_FORMAT = "evledger-receipt/1"
TRUST_FORMAT = "evledger-trust/1"
MAX_RECEIPT_BYTES = 256 * 1024
#: At most this many chains in a trust file, and anchors in a receipt (one per chain).
MAX_CHAINS = 16
_HEX = re.compile(r"^(?:[0-9a-f]{2})*\Z")
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
        return strictjson.loads(data)
    except FormatError as exc:  # not JSON, or JSON no evledger program writes
        raise CannotCheckError(f"{what}: {path} is not valid JSON: {exc}") from None


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


def _int(value: Any, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise FormatError(f"{what}: expected an integer, got {type(value).__name__}")
    return value


def _chain_list(ids: Iterable[int]) -> str:
    ids = list(ids)
    return f"chain{'s' if len(ids) != 1 else ''} {', '.join(map(str, ids))}"


@dataclass(frozen=True)
class TrustedChain:
    """A chain whose anchors count, and the ledger's contract on it."""

    chain_id: int
    contract: str


@dataclass(frozen=True)
class Trust:
    log_origin: str
    log_key: NoteVerifier
    #: The primary chain and contract: the EIP-712 signing domain of every record.
    chain_id: int
    contract: str
    #: Every chain whose anchors count, the primary among them; empty means the primary alone.
    chains: tuple[TrustedChain, ...] = ()
    #: "any", "all", or the chain ids that must each hold an anchor; empty means the primary.
    require: Literal["any", "all"] | tuple[int, ...] = ()
    #: Block hashes the auditor knows, by (chain id, block number): an anchor in such a block
    #: must name that very block (a pin that needs no node).
    blocks: Mapping[tuple[int, int], str] = field(default_factory=dict)

    def check_block(self, chain_id: int, number: int, block_hash: str) -> str:
        """Raise unless the block is the one pinned, when it is pinned; says which."""
        pinned = self.blocks.get((chain_id, number))
        if pinned is None:
            return ""
        if pinned != block_hash.lower():
            raise VerificationError(
                f"anchor block: the trust file pins block {number} of chain {chain_id} as "
                f"{pinned}, the anchor names {block_hash}"
            )
        return "; the block hash is the one the trust file pins"

    @property
    def domain(self) -> Domain:
        return Domain(self.chain_id, self.contract)

    @property
    def contracts(self) -> dict[int, str]:
        """The trusted contract of each trusted chain, by chain id."""
        chains = self.chains or (TrustedChain(self.chain_id, self.contract),)
        return {c.chain_id: c.contract for c in chains}

    @property
    def required(self) -> tuple[int, ...] | None:
        """The chains that must each hold an anchor; None when any one trusted chain will do."""
        if self.require == "any":
            return None
        if self.require == "all":
            return tuple(self.contracts)
        return self.require or (self.chain_id,)

    @property
    def require_text(self) -> str:
        """The requirement in words, for messages: "any", "all" or "chains 1, 10"."""
        if isinstance(self.require, str):
            return self.require
        return _chain_list(self.required or ())

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
        primary = TrustedChain(chain_id, checksum_address(contract))
        chains = _trusted_chains(value["chains"], primary) if "chains" in value else ()
        require: Literal["any", "all"] | tuple[int, ...] = ()
        if "require" in value:
            require = _requirement(value["require"], chains or (primary,))
        blocks = _pinned_blocks(value["blocks"]) if "blocks" in value else {}
        return cls(origin, key, chain_id, primary.contract, chains, require, blocks)


#: Pinned block hashes a trust file may hold.
MAX_PINNED_BLOCKS = 100_000


def _pinned_blocks(value: Any) -> dict[tuple[int, int], str]:
    if not isinstance(value, list) or len(value) > MAX_PINNED_BLOCKS:
        raise FormatError(f"trust file blocks: expected a list of at most {MAX_PINNED_BLOCKS}")
    pinned: dict[tuple[int, int], str] = {}
    for i, item in enumerate(value):
        what = f"trust file blocks[{i}]"
        if not isinstance(item, dict) or set(item) != {"chain_id", "number", "hash"}:
            raise FormatError(f"{what}: expected the keys chain_id, number and hash")
        chain_id, number = (
            _int(item["chain_id"], f"{what} chain_id"),
            _int(item["number"], f"{what} number"),
        )
        block_hash = item["hash"]
        if not isinstance(block_hash, str) or not _HEX32_0X.match(block_hash.lower()):
            raise FormatError(f"{what} hash: expected 0x and 64 hex digits")
        if pinned.setdefault((chain_id, number), block_hash.lower()) != block_hash.lower():
            raise FormatError(f"{what}: block {number} of chain {chain_id} pinned twice")
    return pinned


def _trusted_chains(value: Any, primary: TrustedChain) -> tuple[TrustedChain, ...]:
    if not isinstance(value, list):
        raise FormatError(f"trust file chains: expected a list, got {type(value).__name__}")
    if len(value) > MAX_CHAINS:
        raise FormatError(f"trust file chains: expected at most {MAX_CHAINS}, got {len(value)}")
    chains: dict[int, TrustedChain] = {}
    for i, item in enumerate(value):
        what = f"trust file chains[{i}]"
        if not isinstance(item, dict):
            raise FormatError(f"{what}: expected a JSON object, got {type(item).__name__}")
        if set(item) != {"chain_id", "contract"}:
            raise FormatError(
                f"{what}: expected the keys chain_id and contract, got {sorted(item)}"
            )
        chain_id = _int(item["chain_id"], f"{what} chain_id")
        if chain_id < 1:
            raise FormatError(f"{what} chain_id: expected a positive integer, got {chain_id}")
        contract = item["contract"]
        if not isinstance(contract, str) or not _ADDRESS.match(contract):
            raise FormatError(f"{what} contract: expected an address, got {contract!r}")
        if chain_id in chains:
            raise FormatError(f"trust file chains: chain {chain_id} is listed twice")
        chains[chain_id] = TrustedChain(chain_id, checksum_address(contract))
    listed = chains.get(primary.chain_id)
    if listed is None:
        raise FormatError(
            f"trust file chains: expected the primary chain {primary.chain_id} among them, "
            f"got {_chain_list(chains) if chains else 'none'}"
        )
    if listed.contract != primary.contract:
        raise FormatError(
            f"trust file chains: expected the primary chain {primary.chain_id} with contract "
            f"{primary.contract}, got {listed.contract}"
        )
    return tuple(chains.values())


def _requirement(
    value: Any, chains: tuple[TrustedChain, ...]
) -> Literal["any", "all"] | tuple[int, ...]:
    if value == "any":
        return "any"
    if value == "all":
        return "all"
    if not isinstance(value, list):
        raise FormatError(
            f"trust file require: expected 'any', 'all' or a list of chain ids, got {value!r}"
        )
    if not value:
        raise FormatError("trust file require: expected at least one chain id, got none")
    if len(value) > MAX_CHAINS:
        raise FormatError(f"trust file require: expected at most {MAX_CHAINS}, got {len(value)}")
    trusted = [c.chain_id for c in chains]
    ids: list[int] = []
    for i, item in enumerate(value):
        chain_id = _int(item, f"trust file require[{i}]")
        if chain_id in ids:
            raise FormatError(f"trust file require: chain {chain_id} is listed twice")
        if chain_id not in trusted:
            raise FormatError(
                f"trust file require: expected a chain named in chains "
                f"({', '.join(map(str, trusted))}), got {chain_id}"
            )
        ids.append(chain_id)
    return tuple(ids)


def _hex_bytes(value: Any, what: str, limit: int) -> bytes:
    if not isinstance(value, str) or len(value) > 2 * limit or not _HEX.match(value):
        raise FormatError(f"{what}: expected lowercase hex of at most {limit} bytes")
    return bytes.fromhex(value)


def _anchor_proof(value: Any, what: str) -> AnchorProof:
    if not isinstance(value, dict):
        raise FormatError(f"{what}: expected a JSON object")
    nodes = _require(value, "receipt_proof", list, what)
    if len(nodes) > MAX_PROOF_NODES:
        raise FormatError(f"{what} receipt_proof: expected at most {MAX_PROOF_NODES} nodes")
    tx_index = _require(value, "tx_index", int, what)
    if not 0 <= tx_index < 2**32:
        raise FormatError(f"{what} tx_index: expected 0..2**32-1, got a number out of range")
    return AnchorProof(
        _hex_bytes(_require(value, "block_header", str, what), f"{what} block_header", 4096),
        tx_index,
        tuple(
            _hex_bytes(n, f"{what} receipt_proof[{i}]", MAX_NODE_BYTES) for i, n in enumerate(nodes)
        ),
    )


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
    #: The block header and receipts-trie path proving the anchor offline (final anchors).
    proof: AnchorProof | None = None

    @classmethod
    def from_json(cls, value: Any, what: str = "anchor") -> Anchor:
        if not isinstance(value, dict):
            raise FormatError(f"{what}: expected a JSON object")
        a = cls(
            chain_id=_require(value, "chain_id", int, what),
            contract=_require(value, "contract", str, what),
            tx_hash=_require(value, "tx_hash", str, what),
            block_number=_require(value, "block_number", int, what),
            block_hash=_require(value, "block_hash", str, what),
            log_index=_require(value, "log_index", int, what),
            state=value.get("state") if value.get("state") in ("included", "final") else None,
        )
        if "state" in value and a.state is None:
            raise FormatError(f"{what} state: expected included or final, got {value['state']!r}")
        if value.get("proof") is not None:
            a = dataclasses.replace(a, proof=_anchor_proof(value["proof"], f"{what} proof"))
        if not _ADDRESS.match(a.contract):
            raise FormatError(f"{what} contract: expected an address, got {a.contract!r}")
        for key in ("tx_hash", "block_hash"):
            if not _HEX32_0X.match(getattr(a, key)):
                raise FormatError(f"{what} {key}: expected 0x and 64 lowercase hex digits")
        return a


@dataclass(frozen=True)
class ChainAnchor:
    """One chain's anchor in a receipt: that chain's contract holds ``root_hash`` for
    ``tree_size``, and ``consistency_proof`` (RFC 9162) ties that tree to the receipt's: from
    the smaller of the two sizes to the larger, empty when they are equal."""

    anchor: Anchor
    tree_size: int
    root_hash: bytes
    consistency_proof: tuple[bytes, ...]

    @property
    def chain_id(self) -> int:
        return self.anchor.chain_id

    @classmethod
    def from_json(cls, value: Any, what: str) -> ChainAnchor:
        anchor = Anchor.from_json(value, what)
        tree_size = _require(value, "tree_size", int, what)
        if tree_size < 1:
            raise FormatError(f"{what} tree_size: expected at least 1, got {tree_size}")
        root = _hex32(_require(value, "root_hash", str, what), f"{what} root_hash")
        proof = _require(value, "consistency_proof", list, what)
        if len(proof) > MAX_PROOF_LENGTH:
            raise FormatError(
                f"{what} consistency_proof: expected at most {MAX_PROOF_LENGTH} hashes, "
                f"got {len(proof)}"
            )
        hashes = tuple(
            _hex32(p if isinstance(p, str) else "", f"{what} consistency_proof[{i}]")
            for i, p in enumerate(proof)
        )
        return cls(anchor, tree_size, root, hashes)


@dataclass(frozen=True)
class SignerProof:
    """The signer registry record in force for the receipt's signer when its record was
    logged: the grant's body, its logged entry, and its inclusion in the receipt's tree."""

    record: dict[str, Any]
    entry: Entry
    leaf_index: int
    inclusion_proof: tuple[bytes, ...]

    @classmethod
    def from_json(cls, value: Any) -> SignerProof:
        what = "receipt signer"
        if not isinstance(value, dict):
            raise FormatError(f"{what}: expected a JSON object")
        proof = _require(value, "inclusion_proof", list, what)
        if len(proof) > MAX_PROOF_LENGTH:
            raise FormatError(f"{what} inclusion_proof: more than {MAX_PROOF_LENGTH} hashes")
        return cls(
            record=_require(value, "record", dict, what),
            entry=Entry.from_json(_require(value, "entry", dict, what)),
            leaf_index=_require(value, "leaf_index", int, what),
            inclusion_proof=tuple(
                _hex32(p if isinstance(p, str) else "", f"{what} inclusion_proof[{i}]")
                for i, p in enumerate(proof)
            ),
        )


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
    #: The anchor at the receipt's own tree size, for verifiers that know one chain.
    anchor: Anchor | None
    #: One anchor per chain; from ``anchor`` alone in receipts without the key.
    anchors: tuple[ChainAnchor, ...]
    #: The signer's registry record, proven in the same tree (None in older receipts).
    signer: SignerProof | None = None

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
        tree_size = _require(value, "tree_size", int, what)
        root_hash = _hex32(_require(value, "root_hash", str, what), "receipt root_hash")
        anchor = None if anchor_json is None else Anchor.from_json(anchor_json)
        return cls(
            record_id=_require(value, "record_id", str, what),
            record_hash=_hex32(_require(value, "record_hash", str, what), "receipt record_hash"),
            entry=Entry.from_json(_require(value, "entry", dict, what)),
            leaf_hash=_hex32(_require(value, "leaf_hash", str, what), "receipt leaf_hash"),
            leaf_index=_require(value, "leaf_index", int, what),
            tree_size=tree_size,
            root_hash=root_hash,
            inclusion_proof=tuple(
                _hex32(p if isinstance(p, str) else "", f"receipt inclusion_proof[{i}]")
                for i, p in enumerate(proof)
            ),
            checkpoint=_require(value, "checkpoint", str, what),
            anchor=anchor,
            anchors=_chain_anchors(value, anchor, tree_size, root_hash),
            signer=None if value.get("signer") is None else SignerProof.from_json(value["signer"]),
        )


def _chain_anchors(
    value: dict[str, Any], anchor: Anchor | None, tree_size: int, root_hash: bytes
) -> tuple[ChainAnchor, ...]:
    if "anchors" not in value:  # a receipt from before anchors on several chains
        return () if anchor is None else (ChainAnchor(anchor, tree_size, root_hash, ()),)
    items = _require(value, "anchors", list, "receipt")
    if len(items) > MAX_CHAINS:
        raise FormatError(
            f"receipt anchors: expected at most {MAX_CHAINS} (one per chain), got {len(items)}"
        )
    anchors = tuple(
        ChainAnchor.from_json(item, f"receipt anchors[{i}]") for i, item in enumerate(items)
    )
    seen: set[int] = set()
    for a in anchors:
        if a.chain_id in seen:
            raise FormatError(
                f"receipt anchors: expected one anchor per chain, chain {a.chain_id} has two"
            )
        seen.add(a.chain_id)
    # ``anchor`` is what a verifier that knows one chain reads: it must say what anchors says,
    # or two verifiers would judge two different claims.
    if anchor is not None and not any(
        a.anchor == anchor and a.tree_size == tree_size for a in anchors
    ):
        raise FormatError(
            f"receipt anchor: expected one of anchors at the receipt's tree size {tree_size}, "
            f"got chain {anchor.chain_id} tx {anchor.tx_hash} block {anchor.block_number} "
            f"log {anchor.log_index} ({anchor.state or 'state not stated'}), which anchors "
            "does not hold"
        )
    return anchors


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    #: The regulation clauses the check supports (bundle reports), "" when not stated.
    clause: str = ""


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

    def run(self, name: str, fn: Callable[[], str], clause: str = "") -> bool:
        """Run one check; a :class:`VerificationError` becomes a failed check."""
        try:
            detail = fn()
        except VerificationError as exc:
            self.checks.append(Check(name, False, str(exc), clause))
            return False
        self.checks.append(Check(name, True, detail, clause))
        return True

    def fail(self, name: str, detail: str, clause: str = "") -> None:
        self.checks.append(Check(name, False, detail, clause))

    def to_json(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "verified": self.ok,
            "could_not_check": self.could_not_check,
            "checks": [
                {
                    "check": c.name,
                    "ok": c.ok,
                    "detail": c.detail,
                    **({"clause": c.clause} if c.clause else {}),
                }
                for c in self.checks
            ],
        }


@dataclass(frozen=True)
class UnsettledNode:
    """A node that could not check: the check it was at, its chain (None when it did not even
    say which), what kind of failure ("node unreachable", ...) and the error."""

    name: str
    chain_id: int | None
    kind: str
    error: str


@dataclass
class AnchorTally:
    """Which chains' anchors count toward the trust file's ``require``.

    Filled by :func:`verify_receipt` from the offline checks, and by the on-chain checks
    (:func:`evledger_verify.rpc.check_receipt_on_chains`) with what the nodes confirmed,
    refuted or could not answer. Pure bookkeeping: no I/O.
    """

    trust: Trust
    require_final: bool
    #: Whether the receipt holds any anchor at all (on a trusted chain or not).
    anchored: bool
    #: The receipt's anchors on trusted chains, by chain id.
    present: dict[int, ChainAnchor] = field(default_factory=dict)
    #: Those whose offline checks passed.
    passed: dict[int, ChainAnchor] = field(default_factory=dict)
    #: Chains whose anchor a node confirmed on chain.
    confirmed: set[int] = field(default_factory=set)
    #: Chains whose anchor failed an on-chain check.
    refuted: set[int] = field(default_factory=set)
    #: Nodes that could not check.
    unsettled: list[UnsettledNode] = field(default_factory=list)

    def counted(self, *, optimistic: bool = False) -> dict[int, ChainAnchor]:
        """The anchors that count: passed offline, not refuted on chain, and not on a chain a
        node could not check. A node whose chain is unknown could have been on any chain, so
        then only anchors confirmed on chain count. ``optimistic`` counts unsettled chains as
        if their nodes had confirmed them (to tell "failed anyway" from "could not check")."""
        counted = {c: a for c, a in self.passed.items() if c not in self.refuted}
        if optimistic:
            return counted
        if any(node.chain_id is None for node in self.unsettled):
            return {c: a for c, a in counted.items() if c in self.confirmed}
        skip = {node.chain_id for node in self.unsettled} - self.confirmed
        return {c: a for c, a in counted.items() if c not in skip}

    def _why_not(self, chain: int) -> str:
        if chain not in self.present:
            return f"chain {chain} has no anchor in this receipt"
        if chain not in self.passed:
            return f"chain {chain}'s anchor failed its checks"
        if chain in self.refuted:
            return f"chain {chain}'s anchor failed on chain"
        return f"chain {chain}'s anchor could not be checked on chain"

    def shortfall(self, counted: Mapping[int, ChainAnchor]) -> str | None:
        """Why ``counted`` does not meet the requirement, or None when it does."""
        trust = self.trust
        required = trust.required
        need = f"(require: {trust.require_text})"
        if not self.anchored:
            return f"missing: the checkpoint is not (yet) anchored {need}"
        if required is None:
            if not counted:
                why = "; ".join(self._why_not(c) for c in trust.contracts)
                return f"no anchor on a trusted chain holds: {why} {need}"
            final = [c for c, a in counted.items() if a.anchor.state == "final"]
            if self.require_final and not final:
                states = ", ".join(
                    f"chain {c} {a.anchor.state or 'state not stated'}" for c, a in counted.items()
                )
                return (
                    f"expected a final anchor (--require-final), got {states}: the block may "
                    f"still be reorganized away; ask for the receipt again later {need}"
                )
            return None
        missing = [c for c in required if c not in counted]
        if missing:
            return "; ".join(self._why_not(c) for c in missing) + f" {need}"
        if self.require_final:
            not_final = [
                f"chain {c} {counted[c].anchor.state or 'state not stated'}"
                for c in required
                if counted[c].anchor.state != "final"
            ]
            if not_final:
                return (
                    f"expected final anchors (--require-final), got {', '.join(not_final)}: the "
                    f"block may still be reorganized away; ask for the receipt again later {need}"
                )
        return None

    def describe(self, counted: Mapping[int, ChainAnchor]) -> str:
        """The counted anchors in words: "chain 1 (confirmed on chain, final), ..."."""
        parts = []
        for c, a in counted.items():
            how = "confirmed on chain" if c in self.confirmed else "offline only"
            parts.append(f"chain {c} ({how}, {a.anchor.state or 'state not stated'})")
        return ", ".join(parts)

    def settle(self, report: Report) -> None:
        """The last step: a node that could not check is noted as not needed when the
        requirement is met without it; otherwise the report could not be completed (exit 2),
        unless the requirement fails even with it (exit 1). Then the ``anchors required``
        check."""
        counted = self.counted()
        if self.unsettled:
            if self.shortfall(counted) is None:
                met = ", ".join(map(str, counted))
                for node in self.unsettled:
                    detail = (
                        f"{node.kind} ({node.error}), not needed: the requirement is met on "
                        f"chain(s) {met}"
                    )
                    report.checks.append(Check(node.name, True, detail))
            else:
                report.could_not_check = "; ".join(node.error for node in self.unsettled)
                counted = self.counted(optimistic=True)
                if self.shortfall(counted) is None:
                    return  # the requirement hangs on the nodes that could not answer

        def requirement() -> str:
            gap = self.shortfall(counted)
            if gap is not None:
                raise VerificationError(f"anchors required: {gap}")
            return f"met by {self.describe(counted)} (require: {self.trust.require_text})"

        report.run("anchors required", requirement)


#: The on-chain step :func:`verify_receipt` runs before judging the requirement (the CLI's
#: ``--rpc``): it adds its checks to the report and what it learnt to the tally.
OnChain = Callable[[Receipt, AnchorTally, Report], None]


def verify_receipt(
    receipt_json: Any,
    trust: Trust,
    record: Mapping[str, Any] | None = None,
    *,
    require_final: bool = False,
    on_chain: OnChain | None = None,
) -> tuple[Report, Receipt | None]:
    """Run every offline check of a receipt; returns the report and the parsed receipt.

    One check per anchor (``anchor (chain N)``), then ``anchors required``: whether the
    anchors whose checks passed meet the trust file's ``require``. ``on_chain``, when given,
    runs in between, so the requirement counts what the nodes confirmed."""
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

    def check_signer() -> str:
        return verify_signer(r, trust.domain)

    def check_checkpoint() -> str:
        cp = verify_checkpoint(r.checkpoint, trust.log_key, trust.log_origin)
        if (cp.tree_size, cp.root_hash) != (r.tree_size, r.root_hash):
            raise VerificationError(
                f"checkpoint: expected size {r.tree_size} root {r.root_hash.hex()}, "
                f"checkpoint says size {cp.tree_size} root {cp.root_hash.hex()}"
            )
        return f"signed by the trusted log key for {trust.log_origin}"

    report.run("record", check_record)
    report.run("leaf", check_leaf)
    report.run("signature", check_signature)
    report.run("inclusion", check_inclusion)
    report.run("signer", check_signer)
    report.run("checkpoint", check_checkpoint)
    tally = AnchorTally(trust, require_final, anchored=bool(r.anchors))
    contracts = trust.contracts
    for ca in r.anchors:
        if ca.chain_id in contracts:
            tally.present[ca.chain_id] = ca
        check = functools.partial(_check_anchor, r, ca, trust)
        if report.run(f"anchor (chain {ca.chain_id})", check) and ca.chain_id in contracts:
            tally.passed[ca.chain_id] = ca
    if on_chain is not None:
        on_chain(r, tally, report)
    tally.settle(report)
    return report, r


def verify_signer(r: Receipt, domain: Domain) -> str:
    """Who signed, as the log proves it: the receipt's signer registry record hashes to its
    logged entry, that entry is signed and included in the receipt's own tree before the
    record, and it grants the key that signed the record; returns the signature manifestation
    (printed name, roles, meaning, UTC time). Whether a later record revoked the key before
    the signing is judged by the audit and the bundle verifier (the whole registry), not here;
    the service refuses a revoked key's records."""
    s = r.signer
    if s is None:
        return (
            "the receipt carries no signer record: the signer is known by address only "
            f"({r.entry.signer})"
        )
    if record_hash(s.record).hex() != s.entry.record_hash:
        raise VerificationError("signer record: does not hash to its logged entry's record hash")
    if s.entry.record_type != "signer" or s.record.get("type") != "signer":
        raise VerificationError(
            f"signer record: expected a signer record, got {s.entry.record_type!r}"
        )
    if str(s.record.get("address", "")).lower() != r.entry.signer.lower():
        raise VerificationError(
            f"signer record: it registers {s.record.get('address')!r}, the record was signed by "
            f"{r.entry.signer}"
        )
    if s.record.get("action") != "grant":
        raise VerificationError(
            f"signer record: the key's registry record in force is a {s.record.get('action')!r}, "
            "not a grant"
        )
    if s.leaf_index >= r.leaf_index:
        raise VerificationError(
            f"signer record: logged at leaf {s.leaf_index}, not before the record (leaf "
            f"{r.leaf_index})"
        )
    s.entry.verify_signature(domain)
    verify_inclusion(
        s.entry.leaf_hash(), s.leaf_index, r.tree_size, s.inclusion_proof, r.root_hash
    )
    roles = s.record.get("roles")
    shown = ", ".join(str(x) for x in roles) if isinstance(roles, list) else "none"
    when = datetime.fromtimestamp(r.entry.signed_at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return (
        f"{s.record.get('name')!s} (roles {shown}), key {r.entry.signer}, signed as "
        f"{r.entry.meaning!r} at {when}: granted by record {s.record.get('record_id')!s} at leaf "
        f"{s.leaf_index}, in the same tree"
    )


def _check_anchor(r: Receipt, ca: ChainAnchor, trust: Trust) -> str:
    """One chain's anchor, offline (see :func:`check_chain_anchor`)."""
    detail, proven = check_chain_anchor(
        ca, trust, r.tree_size, r.root_hash, r.leaf_index, "receipt"
    )
    if ca.anchor.chain_id not in trust.contracts:
        return detail
    state = ca.anchor.state or "state not stated"
    if proven:
        return f"{detail}; {state} (confirm the block is canonical with --rpc)"
    return (
        f"{detail}; claims tx {ca.anchor.tx_hash} in block {ca.anchor.block_number}, {state} "
        "(confirm with --rpc)"
    )


def check_chain_anchor(
    ca: ChainAnchor, trust: Trust, tree_size: int, root_hash: bytes, last_leaf: int, whose: str
) -> tuple[str, bool]:
    """One chain's anchor against the tree of ``tree_size`` with ``root_hash`` (a receipt's or
    a bundle's checkpoint), offline: a trusted chain and contract, an anchored tree that holds
    leaf ``last_leaf`` and is consistent with it (RFC 9162 section 2.1.4), the block a trust
    file pins, and the offline proof down to the block header when the anchor carries one.
    Returns (what holds, whether proven down to the block header); raises
    :class:`VerificationError`. An anchor on a chain the trust file does not name is not
    counted (and not judged)."""
    a = ca.anchor
    contract = trust.contracts.get(a.chain_id)
    if contract is None:
        return f"chain {a.chain_id} is not in the trust file: not counted", False
    if a.contract.lower() != contract.lower():
        raise VerificationError(
            f"anchor contract: expected {contract} on chain {a.chain_id}, got {a.contract}"
        )
    if ca.tree_size <= last_leaf:
        raise VerificationError(
            f"anchor tree size: expected more than leaf index {last_leaf} (the leaf must be "
            f"in the anchored tree), got {ca.tree_size}"
        )
    if ca.tree_size <= tree_size:
        verify_consistency(ca.tree_size, tree_size, ca.consistency_proof, ca.root_hash, root_hash)
    else:
        verify_consistency(tree_size, ca.tree_size, ca.consistency_proof, root_hash, ca.root_hash)
    if ca.tree_size == tree_size:
        holds = f"the root of tree size {ca.tree_size}"
    else:
        relation = "an earlier" if ca.tree_size < tree_size else "a later"
        n = len(ca.consistency_proof)
        holds = (
            f"the root of tree size {ca.tree_size}, {relation} tree consistent with the "
            f"{whose}'s (consistency proof of {n} hash{'es' if n != 1 else ''})"
        )
    pinned = trust.check_block(a.chain_id, a.block_number, a.block_hash)
    if a.proof is None:
        return holds + pinned, False
    proven = verify_anchor_proof(
        a.proof,
        block_hash=bytes.fromhex(a.block_hash[2:]),
        block_number=a.block_number,
        contract=a.contract,
        tree_size=ca.tree_size,
        root_hash=ca.root_hash,
    )
    return f"{holds}; proven offline down to the block header: {proven}{pinned}", True
