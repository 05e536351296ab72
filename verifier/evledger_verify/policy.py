"""What a ledger's quality rules are configured with, defined once for the service, the audit
and the offline bundle verifier (an evidence bundle carries the policy its records were judged
under, so the auditor re-judges them the same way).

The segregation of duties (21 CFR 211.22, 211.192; ISO 13485 §5.5.1, §8.3; EU GMP Chapter 2)
is a table of :class:`Duty` pairs: two signatures the same *person* may not both give. Persons,
not keys, are compared: a signer grant may name the person a key belongs to
(:attr:`evledger_verify.registry.SignerState.person`), and one person may hold several keys.

Time limits (21 CFR 11.10(e), 11.50; Annex 11 §9): a person's signature may be at most
:attr:`Policy.max_signature_age` seconds old when the ledger accepts it, and an inspection may
be signed at most :attr:`Policy.max_inspection_lag` after it was made; devices keep their
capture time (their outbox delivers records late through outages).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

__all__ = ["DEFAULT_POLICY", "DUTIES", "Duty", "Policy", "PolicyError", "Qualification"]


class PolicyError(ValueError):
    """A policy file or a bundle's policy that cannot be used (named field, expected shape)."""


@dataclass(frozen=True)
class Duty:
    """Two signatures one person may not both give: the signature of ``first`` (a record type,
    its workflow step or ``*``, and the meaning it was signed with, or ``*``) and that of
    ``second`` on the same lot (``scope`` lot) or the same workflow entity (``scope`` entity)."""

    name: str
    first: tuple[str, str, str]
    second: tuple[str, str, str]
    scope: Literal["lot", "entity"]
    #: What it means, for messages and docs.
    text: str

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "first": "/".join(self.first),
            "second": "/".join(self.second),
            "scope": self.scope,
            "text": self.text,
        }

    @classmethod
    def from_json(cls, raw: Any) -> Duty:
        if not isinstance(raw, Mapping):
            raise PolicyError(f"duty: expected a table, got {raw!r}")
        name, scope, text = raw.get("name"), raw.get("scope"), raw.get("text", "")
        if not isinstance(name, str) or not name:
            raise PolicyError(f"duty name: expected a non-empty string, got {name!r}")
        if scope not in ("lot", "entity"):
            raise PolicyError(f"duty {name} scope: expected lot or entity, got {scope!r}")
        if not isinstance(text, str):
            raise PolicyError(f"duty {name} text: expected a string")
        return cls(
            name,
            _signature(name, raw.get("first")),
            _signature(name, raw.get("second")),
            scope,
            text or name,
        )

    def matches(
        self, which: tuple[str, str, str], rtype: str, step: str | None, meaning: str
    ) -> bool:
        return _matches(which, rtype, step, meaning)


def _matches(which: tuple[str, str, str], rtype: str, step: str | None, meaning: str) -> bool:
    """Whether a signature of ``rtype`` at ``step`` with ``meaning`` is ``which`` (type,
    step or ``*``, meaning or ``*``)."""
    t, s, m = which
    return t == rtype and s in ("*", step or "*") and m in ("*", meaning)


def _signature(name: str, raw: Any) -> tuple[str, str, str]:
    parts = raw.split("/") if isinstance(raw, str) else []
    if len(parts) != 3 or not all(parts):
        raise PolicyError(
            f"duty {name}: expected signatures as 'type/step/meaning' ('*' for any step or "
            f"meaning), got {raw!r}"
        )
    return (parts[0], parts[1], parts[2])


#: The default incompatibility table.
DUTIES: tuple[Duty, ...] = (
    Duty(
        "inspector_releaser",
        ("inspection", "*", "authored"),
        ("release", "*", "*"),
        "lot",
        "the person who inspected a lot does not decide its release",
    ),
    Duty(
        "ncr_opener_dispositioner",
        ("ncr", "open", "*"),
        ("ncr", "dispositioned", "*"),
        "entity",
        "the person who opened an NCR does not disposition it",
    ),
    Duty(
        "capa_implementer_checker",
        ("capa", "implementation", "*"),
        ("capa", "effectiveness_check", "*"),
        "entity",
        "the person who implemented a CAPA's action does not check its effectiveness",
    ),
    Duty(
        "capa_owner_canceller",
        ("capa", "open", "*"),
        ("capa", "cancelled", "*"),
        "entity",
        "the person who opened a CAPA does not cancel it",
    ),
    Duty(
        "change_requester_approver",
        ("change", "requested", "*"),
        ("change", "approved", "*"),
        "entity",
        "the person who requested a change does not approve it",
    ),
)


@dataclass(frozen=True)
class Qualification:
    """A signature that needs a valid training record for ``task``: a record type, its step
    or ``*``, and the meaning or ``*``."""

    task: str
    signature: tuple[str, str, str]

    def matches(self, rtype: str, step: str | None, meaning: str) -> bool:
        return _matches(self.signature, rtype, step, meaning)

    def to_json(self) -> dict[str, Any]:
        return {"task": self.task, "signature": "/".join(self.signature)}

    @classmethod
    def from_json(cls, raw: Any) -> Qualification:
        if not isinstance(raw, Mapping) or not isinstance(raw.get("task"), str) or not raw["task"]:
            raise PolicyError(f"qualification: expected a table with a task, got {raw!r}")
        return cls(str(raw["task"]), _signature(f"qualification {raw['task']}",
                                                 raw.get("signature")))


@dataclass(frozen=True)
class Policy:
    """The configuration the rules judge with (see the module docstring)."""

    #: Inspection stages a lot needs, passed, before release.
    required_stages: tuple[str, ...] = ("final",)
    duties: tuple[Duty, ...] = field(default=DUTIES)
    #: Seconds a person's signature may be old when the ledger accepts it.
    max_signature_age: int = 900
    #: Seconds an inspection may be signed after its ``inspected_at``.
    max_inspection_lag: int = 7 * 86400
    #: Seconds a signing time may be ahead of the ledger's clock at acceptance.
    max_clock_skew: int = 300
    #: ``bounded``: an NCR may concede a failed characteristic (use as is) within a quantity
    #: and a time limit, critical ones with two approvers; ``none``: a specification failure
    #: admits no concession (pharmaceutical GMP, 21 CFR 211.165(f)).
    concessions: Literal["bounded", "none"] = "bounded"
    #: Signatures that need a valid training record of the signer's person, by task (none by
    #: default: a ledger lists them as it records its people's training).
    qualifications: tuple[Qualification, ...] = ()
    #: Whether a release must be a Qualified Person's (EU GMP Annex 16).
    qualified_person_release: bool = False
    #: ``verified``: material may be consumed once verified (a passing inspection signed as
    #: performed, or a release decision; ISO 13485 §7.4.3, 21 CFR 820.80(b), 211.84);
    #: ``unless_refused``: unless it is rejected, quarantined, on hold, recalled or failed.
    material_acceptance: Literal["verified", "unless_refused"] = "verified"

    def to_json(self) -> dict[str, Any]:
        return {
            "required_stages": list(self.required_stages),
            "duties": [d.to_json() for d in self.duties],
            "max_signature_age": self.max_signature_age,
            "max_inspection_lag": self.max_inspection_lag,
            "max_clock_skew": self.max_clock_skew,
            "concessions": self.concessions,
            "qualifications": [q.to_json() for q in self.qualifications],
            "qualified_person_release": self.qualified_person_release,
            "material_acceptance": self.material_acceptance,
        }

    @classmethod
    def from_json(cls, raw: Any, base: Policy | None = None) -> Policy:
        """A policy from its JSON form (a bundle's, a policy file's); fields not given keep
        ``base``'s (the defaults)."""
        policy = base or cls()
        if not isinstance(raw, Mapping):
            raise PolicyError(f"policy: expected a table, got {type(raw).__name__}")
        unknown = sorted(set(raw) - set(cls().to_json()))
        if unknown:
            raise PolicyError(f"policy: unknown field(s) {', '.join(unknown)}")
        changes: dict[str, Any] = {}
        if "required_stages" in raw:
            stages = raw["required_stages"]
            if not isinstance(stages, list) or not all(
                s in ("incoming", "in_process", "final") for s in stages
            ):
                raise PolicyError(
                    "policy required_stages: expected a list of incoming, in_process, final"
                )
            changes["required_stages"] = tuple(stages)
        if "duties" in raw:
            if not isinstance(raw["duties"], list):
                raise PolicyError("policy duties: expected a list of duty tables")
            duties = tuple(Duty.from_json(d) for d in raw["duties"])
            if len({d.name for d in duties}) != len(duties):
                raise PolicyError("policy duties: a duty name appears twice")
            changes["duties"] = duties
        if "qualifications" in raw:
            if not isinstance(raw["qualifications"], list):
                raise PolicyError("policy qualifications: expected a list of tables")
            changes["qualifications"] = tuple(
                Qualification.from_json(q) for q in raw["qualifications"]
            )
        if "qualified_person_release" in raw:
            if not isinstance(raw["qualified_person_release"], bool):
                raise PolicyError("policy qualified_person_release: expected true or false")
            changes["qualified_person_release"] = raw["qualified_person_release"]
        if "concessions" in raw:
            if raw["concessions"] not in ("bounded", "none"):
                raise PolicyError(
                    f"policy concessions: expected bounded or none, got {raw['concessions']!r}"
                )
            changes["concessions"] = raw["concessions"]
        if "material_acceptance" in raw:
            if raw["material_acceptance"] not in ("verified", "unless_refused"):
                raise PolicyError(
                    "policy material_acceptance: expected verified or unless_refused, got "
                    f"{raw['material_acceptance']!r}"
                )
            changes["material_acceptance"] = raw["material_acceptance"]
        for key, low, high in (
            ("max_signature_age", 60, 86400),
            ("max_inspection_lag", 0, 366 * 86400),
            ("max_clock_skew", 0, 86400),
        ):
            if key in raw:
                value = raw[key]
                if (
                    isinstance(value, bool)
                    or not isinstance(value, int)
                    or not low <= value <= high
                ):
                    raise PolicyError(
                        f"policy {key}: expected whole seconds from {low} to {high}, got {value!r}"
                    )
                changes[key] = value
        return replace(policy, **changes)

    @classmethod
    def load(cls, path: Path, base: Policy | None = None) -> Policy:
        """A policy file (TOML, the fields of :meth:`to_json`; ``[[duties]]`` tables replace
        the default table as a whole)."""
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise PolicyError(f"policy file {path}: {exc}") from None
        try:
            return cls.from_json(raw, base)
        except PolicyError as exc:
            raise PolicyError(f"policy file {path}: {exc}") from None


#: The policy a ledger judges with when none is configured.
DEFAULT_POLICY = Policy()
