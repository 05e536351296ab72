"""One error root for the verifier. Messages read "what: expected X, got Y".

:class:`VerificationError` means the evidence is wrong (exit code 1); :class:`CannotCheckError`
means the check could not be made at all (unreadable file, unreachable node: exit code 2).
"""

from __future__ import annotations

__all__ = [
    "CannotCheckError",
    "FormatError",
    "ProofError",
    "SignatureInvalidError",
    "VerificationError",
    "VerifyError",
]


class VerifyError(Exception):
    """Root of every error the verifier raises on purpose."""


class VerificationError(VerifyError):
    """The evidence does not verify: altered, missing or inconsistent."""


class ProofError(VerificationError):
    """A Merkle inclusion or consistency proof does not hold."""


class SignatureInvalidError(VerificationError):
    """A checkpoint or record signature does not verify."""


class FormatError(VerificationError):
    """A receipt, checkpoint or trust file is not in the strict expected format."""


class CannotCheckError(VerifyError):
    """The check could not be carried out (bad usage, unreadable input, node unreachable)."""
