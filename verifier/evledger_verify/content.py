"""What a record's content must say, beyond its shape: the parts of the record schemas whose
outcome the quality rules depend on, over plain JSON bodies, so the service (through the
schemas' validators in ``ledger/domain/schemas.py``, which call these), ``evledger audit`` and
the offline bundle verifier (through :func:`evledger_verify.rules.judge`) judge them alike.

- a characteristic whose value lies outside its limits cannot carry a pass verdict (unless
  attribute sampling counts it: then the plan decides), and a failed characteristic forbids an
  overall pass (21 CFR 211.165, 820.80; ISO 13485 §8.2.6);
- an inspection under a sampling plan counts nonconforming items for every characteristic,
  and only then;
- each workflow step carries its own fields and no other step's (:data:`STEP_FIELDS`): a
  CAPA's action plan its due date and planned check interval, an NCR's disposition its
  rationale;
- an NCR's ``use_as_is`` disposition states its bounded concession (characteristics,
  quantity, unit, valid until), and only it; ``assignable_cause`` is the evaluation's finding.

Each check raises :class:`ContentError` (a ``ValueError``, as schema validators expect) with a
message that names the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

__all__ = [
    "STEP_FIELDS",
    "ContentError",
    "check",
    "check_characteristic",
    "check_inspection",
    "check_ncr",
    "check_step_fields",
]

#: The fields each workflow step owns (and must carry); no step carries another's.
STEP_FIELDS: Final[dict[str, dict[str, tuple[str, ...]]]] = {
    "ncr": {
        "open": ("nature",),
        "evaluated": ("evaluation", "investigation"),
        "dispositioned": ("disposition", "rationale"),
        "closed": ("summary",),
    },
    "capa": {
        "open": ("problem",),
        "investigation": ("root_cause",),
        "action_plan": ("actions", "due_by", "check_after_days"),
        "implementation": ("implemented",),
        "effectiveness_check": ("effective", "no_adverse_effect", "result", "data"),
        "closed": ("summary",),
        "cancelled": ("reason",),
    },
    "change": {
        "requested": ("reason", "description"),
        "assessed": ("impact", "assessment"),
        "approved": ("approval",),
        "implemented": ("implementation",),
        "verified": ("verification",),
        "closed": ("summary",),
        "rejected": ("rejection",),
        "withdrawn": ("withdrawal",),
    },
}


class ContentError(ValueError):
    """A record's content contradicts itself or lacks what its step must state."""


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_characteristic(c: Mapping[str, Any]) -> None:
    """A value outside its limits carries no pass verdict (unless sampling counts it)."""
    lower, upper, value = c.get("lower"), c.get("upper"), c.get("value")
    if (lower is not None or upper is not None) and not _number(value):
        raise ContentError(f"{c.get('name')}: a characteristic with limits needs a numeric value")
    if (
        c.get("nonconforming") is None
        and _number(value)
        and c.get("verdict") == "pass"
        and ((lower is not None and value < lower) or (upper is not None and value > upper))
    ):
        raise ContentError(
            f"{c.get('name')}: value {value} {c.get('unit')} is outside [{lower}, {upper}] and "
            "cannot carry a pass verdict"
        )


def check_inspection(body: Mapping[str, Any]) -> None:
    """Every characteristic's verdict agrees with its value, the overall verdict with them,
    and nonconforming counts come with a sampling plan, for every characteristic."""
    characteristics = list(body.get("characteristics") or ())
    for c in characteristics:
        if not isinstance(c, Mapping):
            raise ContentError("characteristics: expected objects")
        check_characteristic(c)
    failed = [str(c.get("name")) for c in characteristics if c.get("verdict") == "fail"]
    if failed and body.get("verdict") == "pass":
        raise ContentError(f"verdict pass but characteristics failed: {', '.join(failed)}")
    if body.get("schema") != "inspection/2":
        return
    counted = [c.get("nonconforming") is not None for c in characteristics]
    if body.get("sampling") is not None and not all(counted):
        raise ContentError(
            "an inspection under a sampling plan counts nonconforming items for every "
            "characteristic (nonconforming)"
        )
    if body.get("sampling") is None and any(counted):
        raise ContentError("nonconforming counts are judged by a sampling plan (sampling)")


def check_step_fields(rtype: str, step: str, fields: Mapping[str, Any]) -> None:
    """The step carries each field it owns and none another step owns."""
    steps = STEP_FIELDS[rtype]
    own = steps.get(step)
    if own is None:
        raise ContentError(f"{rtype} step {step!r}: expected one of {', '.join(steps)}")
    missing = [f for f in own if fields.get(f) is None]
    if missing:
        raise ContentError(f"{rtype} step {step} needs {', '.join(missing)}")
    foreign = [
        f"{f} (step {s})"
        for s, owned in steps.items()
        for f in owned
        if s != step and f not in own and fields.get(f) is not None
    ]
    if foreign:
        raise ContentError(f"{rtype} step {step} cannot carry {', '.join(foreign)}")


def _concession(concession: Any) -> None:
    """The bounds a concession states (the schema checks their form in full)."""
    if not isinstance(concession, Mapping):
        raise ContentError("ncr concession: expected an object")
    names = concession.get("characteristics")
    quantity = concession.get("quantity")
    if not isinstance(names, list) or not names:
        raise ContentError("ncr concession: characteristics: name at least one")
    if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 1:
        raise ContentError("ncr concession: quantity: a whole number of at least 1")
    for name in ("unit", "valid_until"):
        if not isinstance(concession.get(name), str) or not concession[name]:
            raise ContentError(f"ncr concession: {name}: required")


def check_ncr(fields: Mapping[str, Any]) -> None:
    """``assignable_cause`` is the evaluation's; a use_as_is disposition, and only it, states
    its concession."""
    if fields.get("assignable_cause") is not None and fields.get("step") != "evaluated":
        raise ContentError("ncr assignable_cause: the evaluated step's finding only")
    conceded = fields.get("concession") is not None
    if conceded != (fields.get("disposition") == "use_as_is"):
        raise ContentError(
            "ncr concession: a use_as_is disposition states its concession "
            "(characteristics, quantity, unit, valid_until); no other step carries one"
        )


def check(body: Mapping[str, Any]) -> None:
    """The content rules for ``body`` (a record as logged)."""
    rtype = body.get("type")
    if rtype == "inspection":
        check_inspection(body)
    elif rtype in STEP_FIELDS and isinstance(body.get("step"), str):
        check_step_fields(str(rtype), str(body["step"]), body)
        if rtype == "ncr":
            check_ncr(body)
            if body.get("concession") is not None:
                _concession(body["concession"])
