"""A broken rule (:class:`evledger_verify.rules.Refused`) as the ledger's error, whose class
sets the HTTP status the API answers with."""

from __future__ import annotations

from evledger_verify.rules import Refused

from ledger.errors import (
    AuthorizationError,
    ConflictError,
    InvalidRecordError,
    LedgerError,
    NotFoundError,
)

__all__ = ["as_error"]

_ERRORS: dict[str, type[LedgerError]] = {
    "forbidden": AuthorizationError,
    "conflict": ConflictError,
    "invalid": InvalidRecordError,
    "not_found": NotFoundError,
}


def as_error(refused: Refused) -> LedgerError:
    return _ERRORS[refused.status](str(refused), reasons=refused.reasons)
