"""Receipts and trust files built by hand, for tests of the verifier: a real EIP-712-signed
entry at a leaf of a made-up log, a checkpoint signed by a test log key, roots, inclusion and
consistency proofs from the naive RFC 9162 reference tree, and anchors on any chains."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from eth_account import Account
from eth_typing import Hash32
from evledger_verify.checkpoint import format_checkpoint_body, sign_note, verifier_key_string
from evledger_verify.records import Domain, Entry, record_hash

from tests import reference_tree as ref

__all__ = ["LEGACY_KEYS", "RECORD", "FakeLog"]

# Anvil's third development key, so failures are reproducible.
SIGNER = Account.from_key("0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a")
RECORD = {"record_id": "INS-1", "type": "inspection", "lot": "LOT-1", "value": 3.01}
#: The keys of a receipt's ``anchor`` (each ``anchors`` entry has these and three more).
LEGACY_KEYS = ("chain_id", "contract", "tx_hash", "block_number", "block_hash", "log_index",
               "state")


@dataclass
class FakeLog:
    """A log whose leaf ``leaf`` is INS-1's entry, signed for the primary chain's contract;
    receipts are at tree size ``size``."""

    chain_id: int
    contract: str
    leaf: int = 5
    size: int = 8
    key: Ed25519PrivateKey = field(
        default_factory=lambda: Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    )

    def __post_init__(self) -> None:
        self.origin = f"evledger/{self.chain_id}/{self.contract}"
        fields: dict[str, Any] = {
            "record_id": "INS-1", "record_type": "inspection",
            "record_hash": record_hash(RECORD).hex(), "lot": "LOT-1", "lot_prev": None,
            "signer": SIGNER.address, "meaning": "authored", "signed_at": 1_700_000_000,
            "signature": "", "salt": "ab" * 32, "accepted_at": "2023-11-14T22:13:20.000000Z",
        }
        digest = Entry(**fields).digest(Domain(self.chain_id, self.contract))
        fields["signature"] = SIGNER.unsafe_sign_hash(Hash32(digest)).signature.to_0x_hex()
        self.entry = Entry(**fields)
        self.leaves = [b"other record %d" % i for i in range(64)]
        self.leaves[self.leaf] = self.entry.canonical()

    def root(self, size: int) -> bytes:
        return ref.mth(self.leaves[:size])

    def consistency(self, a: int, b: int) -> list[str]:
        """The RFC 9162 proof between tree sizes a and b (either order), as receipt hex."""
        lo, hi = sorted((a, b))
        return [] if lo == hi else [p.hex() for p in ref.consistency_proof(lo, self.leaves[:hi])]

    def anchor(self, chain: int, contract: str, tree_size: int, *, tx_hash: str,
               block_number: int, block_hash: str, log_index: int = 0,
               state: str = "included") -> dict[str, Any]:
        """One chain's ``anchors`` entry for a receipt of size ``size``."""
        return {
            "chain_id": chain, "contract": contract, "tx_hash": tx_hash,
            "block_number": block_number, "block_hash": block_hash, "log_index": log_index,
            "state": state, "tree_size": tree_size, "root_hash": self.root(tree_size).hex(),
            "consistency_proof": self.consistency(tree_size, self.size),
        }

    def receipt(self, *anchors: dict[str, Any]) -> dict[str, Any]:
        """INS-1's receipt with ``anchors``; ``anchor`` (for verifiers that know one chain) is
        the first anchor at the receipt's own size, or null."""
        at_size = [a for a in anchors if a["tree_size"] == self.size]
        body = format_checkpoint_body(self.origin, self.size, self.root(self.size))
        return {
            "format": "evledger-receipt/1",
            "record_id": "INS-1",
            "record_hash": record_hash(RECORD).hex(),
            "entry": self.entry.to_json(),
            "leaf_hash": self.entry.leaf_hash().hex(),
            "leaf_index": self.leaf,
            "tree_size": self.size,
            "root_hash": self.root(self.size).hex(),
            "inclusion_proof": [
                p.hex() for p in ref.inclusion_path(self.leaf, self.leaves[: self.size])
            ],
            "checkpoint": sign_note(body, self.origin, self.key),
            "anchor": {k: at_size[0][k] for k in LEGACY_KEYS} if at_size else None,
            "anchors": list(anchors),
        }

    def trust(self, **extra: Any) -> dict[str, Any]:
        public = self.key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return {
            "format": "evledger-trust/1",
            "log_origin": self.origin,
            "log_public_key": verifier_key_string(self.origin, public),
            "chain_id": self.chain_id,
            "contract": self.contract,
            **extra,
        }
