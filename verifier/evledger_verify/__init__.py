"""evledger-verify: the small trusted core shared by the ledger and the auditor.

Pure functions named after the specifications they implement: RFC 9162 Merkle proofs
(:mod:`~evledger_verify.merkle`), C2SP signed-note checkpoints (:mod:`~evledger_verify.checkpoint`),
RFC 8785 record hashes and EIP-712 signatures (:mod:`~evledger_verify.records`), and receipts
(:mod:`~evledger_verify.receipt`). The ledger imports its hashing from here, so the server and
the auditor hash identically.

    >>> from evledger_verify import leaf_hash, node_hash, verify_inclusion
    >>> a, b = leaf_hash(b"first"), leaf_hash(b"second")
    >>> verify_inclusion(b, 1, 2, [a], node_hash(a, b))  # returns None, raises on failure
"""

from evledger_verify.errors import (
    CannotCheckError,
    FormatError,
    ProofError,
    SignatureInvalidError,
    VerificationError,
    VerifyError,
)
from evledger_verify.merkle import leaf_hash, node_hash, verify_consistency, verify_inclusion
from evledger_verify.receipt import Receipt, Report, Trust, verify_receipt

__all__ = [
    "CannotCheckError",
    "FormatError",
    "ProofError",
    "Receipt",
    "Report",
    "SignatureInvalidError",
    "Trust",
    "VerificationError",
    "VerifyError",
    "leaf_hash",
    "node_hash",
    "verify_consistency",
    "verify_inclusion",
    "verify_receipt",
]
