"""The ledger's error root. Messages read "what: expected X, got Y".

Every error the ledger raises on purpose derives from :class:`LedgerError`; the API maps the
subclasses to HTTP statuses in one handler and the CLI catches the root once.
"""

from __future__ import annotations

__all__ = [
    "AuthorizationError",
    "BadRequestError",
    "ChainError",
    "ChainUnreachable",
    "ConfigError",
    "ConflictError",
    "InvalidRecordError",
    "LedgerError",
    "NotFoundError",
    "SignatureError",
    "TooLargeError",
]


class LedgerError(Exception):
    """Root of every deliberate ledger error."""

    status = 400
    code = "ledger_error"

    def __init__(self, message: str, *, reasons: list[str] | None = None) -> None:
        super().__init__(message)
        #: Every reason, when there are several (a refused release lists them all).
        self.reasons = reasons or []


class ConfigError(LedgerError):
    """The installation or configuration cannot work as it is."""

    status = 500
    code = "config_error"


class InvalidRecordError(LedgerError):
    """The submission is malformed or does not follow the schema."""

    status = 422
    code = "invalid_record"


class SignatureError(LedgerError):
    """The signature does not verify, or does not match the claimed signer."""

    status = 401
    code = "bad_signature"


class AuthorizationError(LedgerError):
    """The signer is unknown, revoked, or lacks the authority for this record."""

    status = 403
    code = "not_authorized"


class ConflictError(LedgerError):
    """The submission conflicts with what the ledger already holds."""

    status = 409
    code = "conflict"


class BadRequestError(LedgerError):
    """A query that cannot be answered as asked (not a record problem)."""

    status = 400
    code = "bad_request"


class TooLargeError(LedgerError):
    """More than a configured limit allows in one request."""

    status = 413
    code = "too_large"


class NotFoundError(LedgerError):
    status = 404
    code = "not_found"


class ChainError(LedgerError):
    """The chain is unreachable, or is not the chain / contract we expect."""

    status = 503


class ChainUnreachable(ChainError):
    """The chain node did not answer (connection refused, timeout): an outage, not damage."""
    code = "chain_error"
