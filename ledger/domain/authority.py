"""The authority matrix: which role may sign which record, at which step, with which meaning.

Defined once, in the verifier's distribution (:mod:`evledger_verify.rules`), so that the
service, `evledger audit` and the offline bundle verifier judge with the same matrix; here it
raises the ledger's own error. Checked against the signer registry as it stood at the signing
time (21 CFR 11.10(g)). A refusal names the rule: the record, the step, the meaning and the
roles that may sign it.
"""

from __future__ import annotations

from collections.abc import Iterable

from evledger_verify import rules
from evledger_verify.rules import MATRIX, READ_ROLES, ROLES, allowed_roles

from ledger.domain.refusals import as_error

__all__ = ["MATRIX", "READ_ROLES", "ROLES", "allowed_roles", "check_authority"]


def check_authority(
    record_type: str, step: str | None, meaning: str, roles: Iterable[str], who: str
) -> None:
    """Raise :class:`~ledger.errors.AuthorizationError` naming the rule unless one of
    ``roles`` may sign."""
    try:
        rules.check_authority(record_type, step, meaning, roles, who)
    except rules.Refused as exc:
        raise as_error(exc) from None
