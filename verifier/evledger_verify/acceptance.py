"""Attribute sampling as the rules judge it: an inspection under a structured plan (ISO 2859-1 or
ANSI/ASQ Z1.4, :mod:`evledger_verify.sampling`) takes at least the sample the tables give, its
verdicts are the plan's (accept at Ac, reject at Re), and its severity is the one the switching
rules give its product stream (product, stage and supplier; ISO 2859-1 clause 9).

Part of the one rule definition: :func:`evledger_verify.master.check_inspection` calls
:func:`check_sampling` with the specification the inspection follows, whose ``sampling``
(standard, level, AQL) the inspection must state.
"""

from __future__ import annotations

from typing import Any

from evledger_verify import sampling
from evledger_verify.rules import History, Refused, stream_of

#: The CAPA steps at which its corrective action has been taken: a discontinued inspection may
#: resume (ISO 2859-1 9.4: "until the supplier has taken action to improve the quality").
_ACTION_TAKEN = frozenset({"implementation", "effectiveness_check", "closed"})

__all__ = ["check_sampling", "plan_of", "replay"]


def plan_of(body: dict[str, Any]) -> sampling.Plan:
    """The plan the tables give for an inspection's ``sampling``."""
    s = body["sampling"]
    try:
        return sampling.plan(
            int(s["lot_size"]), str(s["level"]), str(s["aql"]), s["severity"],
            edition=s["standard"],
        )
    except ValueError as exc:
        raise Refused("sampling", "invalid", f"sampling: {exc}") from None


def _lot(body: dict[str, Any]) -> sampling.Lot:
    """The lot as the switching rules count it: by its worst characteristic."""
    worst = max(int(c["nonconforming"]) for c in body["characteristics"])
    return sampling.Lot(plan_of(body), worst)


def replay(lots: list[dict[str, Any]]) -> sampling.Switching:
    """The switching state after a stream's original inspections (bodies, in log order); a
    lot that ``resumes`` a discontinued inspection restarts it tightened (9.4)."""
    state = sampling.Switching()
    for body in lots:
        if state.state == "discontinued" and body["sampling"].get("resumes") is not None:
            state = state.resumed()
        state = state.after(_lot(body))
    return state


def _check_resumes(rid: str, capa_id: str, history: History) -> None:
    """A discontinued inspection resumes on a CAPA whose corrective action has been taken."""
    steps = [r for r in history.subject(f"capa:{capa_id}") if r.type == "capa"]
    step = steps[-1].body.get("step") if steps else None
    if step not in _ACTION_TAKEN:
        now = f"it is at step {step}" if step else "no such CAPA"
        raise Refused(
            "sampling",
            "conflict",
            f"inspection {rid}: sampling.resumes names CAPA {capa_id}, whose corrective action "
            f"has not been taken ({now}); inspection resumes once it is implemented",
        )


def check_sampling(record: dict[str, Any], history: History, spec: dict[str, Any] | None) -> None:
    """The sampling rules (module docstring); ``spec``: the specification the inspection
    follows (None for a legacy inspection)."""
    rid = record["record_id"]
    fixed = (spec or {}).get("sampling")
    s = record.get("sampling")
    if s is None:
        if fixed is not None:
            raise Refused(
                "sampling",
                "conflict",
                f"inspection {rid}: specification {spec['spec_id'] if spec else ''} samples by "
                f"{fixed['standard']} level {fixed['level']} AQL {fixed['aql']}: state the plan "
                "(sampling: lot_size, severity) and count nonconforming items",
            )
        return
    if fixed is not None and (s["standard"], s["level"], sampling.aql_label(s["aql"])) != (
        fixed["standard"],
        fixed["level"],
        sampling.aql_label(fixed["aql"]),
    ):
        raise Refused(
            "sampling",
            "conflict",
            f"inspection {rid}: sampling {s['standard']} level {s['level']} AQL {s['aql']}, "
            f"the specification's is {fixed['standard']} level {fixed['level']} AQL "
            f"{fixed['aql']}",
        )
    p = plan_of(record)
    what = (
        f"{s['standard']} level {s['level']} AQL {p.aql} {p.severity}, lot of {p.lot_size}: "
        f"code letter {p.code_letter}, {p.sample_size} samples, Ac {p.accept}, Re {p.reject}"
    )
    if int(record["sample_size"]) < p.sample_size:
        raise Refused(
            "sampling",
            "conflict",
            f"inspection {rid}: undersampled: {what}; {record['sample_size']} inspected",
        )
    for c in record["characteristics"]:
        outcome = sampling.verdict(p, int(c["nonconforming"]))
        computed = "fail" if outcome == "reject" else "pass"
        if c["verdict"] != computed:
            raise Refused(
                "sampling",
                "conflict",
                f"inspection {rid}: {c['name']}: {c['nonconforming']} nonconforming under "
                f"{what} is {computed}, not {c['verdict']}; the verdict is computed, not typed",
            )
    if record.get("retest"):
        return  # a resubmitted lot is not a new lot for the switching rules
    earlier = []
    for r in history.subject(stream_of(record)):
        if r.record_id == rid:  # a correction re-judges the record against what preceded it
            break
        if r.type == "inspection" and r.body.get("sampling") and not r.body.get("retest"):
            earlier.append(r.body)
    try:
        state = replay(earlier)
    except ValueError:
        return  # an earlier lot broke the switching rules: named where it was judged
    stream = stream_of(record).removeprefix("stream:")
    resumes = s.get("resumes")
    if state.state == "discontinued":
        if resumes is None:
            raise Refused(
                "sampling",
                "conflict",
                f"inspection {rid}: inspection of {stream} is discontinued (5 lots not "
                "accepted under tightened inspection, ISO 2859-1 9.4) until the supplier's "
                "corrective action is taken: resume it with sampling.resumes naming that CAPA",
            )
        _check_resumes(rid, str(resumes), history)
        state = state.resumed()
    elif resumes is not None:
        raise Refused(
            "sampling",
            "conflict",
            f"inspection {rid}: sampling.resumes names CAPA {resumes}, but inspection of "
            f"{stream} is not discontinued (it is {state.state})",
        )
    if s["severity"] != state.state:
        raise Refused(
            "sampling",
            "conflict",
            f"inspection {rid}: the switching rules (ISO 2859-1 clause 9) put product "
            f"{record['product']['gtin']} at stage {record['stage']} from supplier "
            f"{record.get('supplier') or '(none)'} under {state.state} inspection after "
            f"{len(earlier)} lot(s), not {s['severity']}",
        )
