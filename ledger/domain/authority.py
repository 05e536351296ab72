"""The authority matrix: which role may sign which record, at which step, with which meaning.

Checked against the signer registry as it stood at the signing time (21 CFR 11.10(g)).
A refusal names the rule: the record, the step, the meaning and the roles that may sign it.
"""

from __future__ import annotations

from collections.abc import Iterable

from ledger.errors import AuthorizationError

__all__ = ["MATRIX", "READ_ROLES", "ROLES", "allowed_roles", "check_authority"]

ROLES = ("admin", "qa_inspector", "qa_approver", "production", "device", "auditor", "system")
#: Roles whose tokens may read record bodies and lot status.
READ_ROLES = ("admin", "qa_inspector", "qa_approver", "production", "auditor")

_QA = ("qa_inspector", "qa_approver")

#: (record type, step or "*") -> {meaning: roles allowed}
MATRIX: dict[tuple[str, str], dict[str, tuple[str, ...]]] = {
    ("signer", "*"): {"approved": ("admin",)},
    ("inspection", "*"): {
        "authored": ("qa_inspector", "production"),
        "reviewed": ("qa_approver",),
        "verified": ("qa_approver",),
    },
    ("release", "*"): {"released": ("qa_approver",)},
    ("ncr", "open"): {"authored": (*_QA, "production")},
    ("ncr", "evaluated"): {"reviewed": _QA},
    ("ncr", "dispositioned"): {"approved": ("qa_approver",)},
    ("ncr", "closed"): {"approved": ("qa_approver",)},
    ("capa", "open"): {"authored": _QA},
    ("capa", "investigation"): {"authored": _QA},
    ("capa", "action_plan"): {"authored": _QA},
    ("capa", "implementation"): {"authored": (*_QA, "production")},
    ("capa", "effectiveness_check"): {"verified": ("qa_approver",)},
    ("capa", "closed"): {"approved": ("qa_approver",)},
    ("capa", "cancelled"): {"approved": ("qa_approver",)},
    ("change", "requested"): {"authored": (*_QA, "production")},
    ("change", "assessed"): {"reviewed": _QA},
    ("change", "approved"): {"approved": ("qa_approver",)},
    ("change", "implemented"): {"authored": (*_QA, "production")},
    ("change", "verified"): {"verified": _QA},
    ("change", "closed"): {"approved": ("qa_approver",)},
    ("scan", "*"): {"recorded": ("device",)},
    ("process_reading", "*"): {"recorded": ("device",)},
    # An MES or WMS that captures EPCIS events (it reads no record bodies: not in READ_ROLES).
    ("epcis_event", "*"): {"recorded": ("system",)},
    # Devices sign only scans and readings (an out-of-limit reading blocks release by itself);
    # alerts come from the audit (auditor) or from people.
    ("alert", "*"): {"recorded": ("auditor",), "authored": _QA},
    # A recall is approved by QA approval; a drill (mock recall) may be authored by QA.
    ("recall", "*"): {"approved": ("qa_approver",), "authored": _QA},
    # A correction is signed by whoever may author the corrected record's type (see below).
    ("correction", "*"): {"authored": (*_QA, "production")},
}


def allowed_roles(record_type: str, step: str | None, meaning: str) -> tuple[str, ...]:
    rule = MATRIX.get((record_type, step or "*")) or MATRIX.get((record_type, "*")) or {}
    return rule.get(meaning, ())


def check_authority(
    record_type: str, step: str | None, meaning: str, roles: Iterable[str], who: str
) -> None:
    """Raise :class:`AuthorizationError` naming the rule unless one of ``roles`` may sign."""
    roles = tuple(roles)
    allowed = allowed_roles(record_type, step, meaning)
    if set(roles) & set(allowed):
        return
    what = record_type + (f" step {step}" if step else "")
    rule = MATRIX.get((record_type, step or "*")) or MATRIX.get((record_type, "*")) or {}
    if not allowed:
        meanings = ", ".join(f"{m} ({'/'.join(r)})" for m, r in rule.items()) or "none"
        raise AuthorizationError(
            f"authority: {what} cannot be signed with meaning {meaning!r}; "
            f"allowed meanings: {meanings}"
        )
    raise AuthorizationError(
        f"authority: {what} with meaning {meaning!r} needs role {' or '.join(allowed)}; "
        f"{who} has {', '.join(roles) or 'no role'}"
    )
