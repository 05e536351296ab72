"""Write ``satellites.json``: what the judge's satellite modules (:mod:`evledger_verify.sampling`,
``acceptance``, ``oos``, ``master``, ``life``) answer, function by function, so that the page's
ports (web/verify/src/judge/{sampling,acceptance,oos,master,life}.js) can be held to the same
answers by ``node --test tests/js/judge_satellites.test.mjs``.

    .venv/bin/python -m tests.vectors.judge.satellites          # rewrite satellites.json
    .venv/bin/python -m tests.vectors.judge.satellites --check  # exit 1 if it is stale

Two parts:

- ``sampling``: every resolved cell of the master tables (2 editions x 3 severities x 16 code
  letters x 26 AQLs) with the digest tests/unit/test_sampling.py pins, Table 1 at and around
  every range boundary for every level, AQL spellings, plans over lot sizes, levels, AQLs,
  severities and editions (full inspection included), verdicts, the errors of bad input, and
  lot streams replayed through the switching rules (state after every lot);
- ``cases``: calls of the rule functions on small hand-written histories (each record with the
  subject :func:`evledger_verify.rules.subject_of` gives it), then the same calls on seeded
  random mutations of their records (keys dropped, values of other types), with what each
  returns, the :class:`Refused` it raises (kind, status, message, reasons) or the Python
  exception (class and message).

Nothing reads the clock; the random source is seeded, so the file is the same on every run.
"""

from __future__ import annotations

import copy
import hashlib
import json
import random
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

from evledger_verify import acceptance, life, master, oos, sampling
from evledger_verify.policy import DEFAULT_POLICY, Policy
from evledger_verify.rules import Blocker, Refused, Stored, subject_of, when

HERE = Path(__file__).resolve().parent
OUTPUT = HERE / "satellites.json"
LETTERS = "ABCDEFGHJKLMNPQR"

# -- sampling -----------------------------------------------------------------------------------


def _try(fn: Callable[[], Any]) -> Any:
    try:
        return {"ok": fn()}
    except Exception as exc:  # what the reference raises is the expectation
        return {"raises": [exc.__class__.__name__, str(exc)]}


def _plan_json(p: sampling.Plan) -> dict[str, Any]:
    return asdict(p)


def _plan_row(p: sampling.Plan) -> list[Any]:
    """A plan as one row: its fields but the arguments it echoes (edition, severity, lot size,
    level), in the order of :class:`sampling.Plan`."""
    return [
        p.aql,
        p.table1_letter,
        p.code_letter,
        p.sample_size,
        p.accept,
        p.reject,
        p.full_inspection,
    ]


def _plan_of(size: Any, level: Any, aql: Any, severity: Any, edition: Any) -> list[Any]:
    return _plan_row(sampling.plan(size, level, aql, severity, edition=edition))


def _switching_row(s: sampling.Switching) -> list[Any]:
    return [s.state, s.score, list(s.recent), s.run, s.accepted_in_a_row, s.not_accepted]


def _switching_json(s: sampling.Switching) -> dict[str, Any]:
    return {**asdict(s), "recent": list(s.recent)}


def _sampling() -> dict[str, Any]:
    cells = []
    for edition in sampling.EDITIONS:
        for severity in sampling.SEVERITIES:
            table = sampling._MASTER[edition][severity]
            for letter in LETTERS:
                for aql in sampling.AQLS:
                    reached = map(str, sampling._resolve(table, letter, aql))
                    cells.append("|".join([edition, severity, letter, aql, *reached]))
    digest = hashlib.sha256("\n".join(cells).encode()).hexdigest()

    bounds = [largest for largest, _ in sampling._TABLE_1 if largest is not None]
    sizes = sorted({2, 3, *bounds, *(b + 1 for b in bounds), 10**6, 10**30})
    code_letters = [
        [size, level, _try(partial(sampling.code_letter, size, level))]
        for size in sizes
        for level in sampling.LEVELS
    ]
    bad_code_letters: list[Any] = [
        [0, "II"],
        [1, "II"],
        [-5, "II"],
        [5.0, "II"],
        [True, "II"],
        ["10", "II"],
        [None, "II"],
        [10, "IV"],
        [10, "ii"],
        [10, 2],
        [10, None],
    ]
    code_letters += [
        [s, lv, _try(partial(sampling.code_letter, s, lv))] for s, lv in bad_code_letters
    ]

    aql_inputs: list[Any] = [
        *sampling.AQLS,
        "0.65",
        "0.650",
        "00.65",
        "10.000",
        "1000.0",
        "0.01",
        "٠.٦٥",
        "１０",
        "1e1",
        "10.",
        ".65",
        " 0.65",
        "0.65 ",
        "+0.65",
        "-0.65",
        "abc",
        "",
        "0.066",
        "1500",
        "0",
        0.65,
        10.0,
        1e-05,
        0.01,
        1000.0,
        0.1,
        2.5,
        6.5,
        1e3,
        0.3,
        1e16,
        -0.65,
        0.0,
        10,
        1000,
        7,
        0,
        4,
        65,
        True,
        False,
        None,
        [0.65],
        {"aql": "0.65"},
    ]
    aql_labels = [[a, _try(partial(sampling.aql_label, a))] for a in aql_inputs]

    rng = random.Random(2859)
    plans: list[list[Any]] = []
    plan_sizes = [
        2,
        3,
        5,
        8,
        9,
        13,
        15,
        20,
        26,
        32,
        50,
        51,
        80,
        91,
        125,
        200,
        281,
        315,
        500,
        501,
        800,
        1250,
        2000,
        3000,
        3201,
        10001,
        35001,
        150001,
        500001,
        10**9,
    ]
    for _ in range(1500):
        args: list[Any] = [
            rng.choice(plan_sizes),
            rng.choice(sampling.LEVELS),
            rng.choice(sampling.AQLS),
            rng.choice(sampling.SEVERITIES),
            rng.choice(sampling.EDITIONS),
        ]
        plans.append(args)
    # every AQL spelled as a float, and full inspection at the smallest lots, at each level
    for aql in sampling.AQLS:
        plans.append([4, "S-1", float(aql), "reduced", sampling.EDITIONS[1]])
    for size in (2, 3, 4, 5, 8):
        for level in sampling.LEVELS:
            plans.append([size, level, "0.65", "normal", sampling.EDITIONS[0]])
    plans += [
        [3000, "II", "0.65", "normal", "ISO 2859-1"],
        [3000, "II", "0.65", "Normal", sampling.EDITIONS[0]],
        [3000, "II", "0.65", None, sampling.EDITIONS[0]],
        [3000, "II", "0.7", "normal", sampling.EDITIONS[0]],
        [3000, "X", "0.65", "normal", sampling.EDITIONS[0]],
        [1, "II", "0.65", "normal", sampling.EDITIONS[0]],
        [3000, "II", "0.65", "normal", 1999],
        [5, "II", 10, "tightened", sampling.EDITIONS[0]],
        [5, "II", 10, "tightened", sampling.EDITIONS[1]],
    ]
    plan_out = []
    for args in plans:
        size, level, aql, severity, edition = args
        out = _try(partial(_plan_of, size, level, aql, severity, edition))
        plan_out.append([args, out])

    verdicts = []
    for _ in range(400):
        args = [
            rng.choice(plan_sizes[3:]),
            rng.choice(sampling.LEVELS),
            rng.choice(sampling.AQLS),
            rng.choice(sampling.SEVERITIES),
            rng.choice(sampling.EDITIONS),
        ]
        p = sampling.plan(args[0], args[1], args[2], args[3], edition=args[4])
        count: Any = rng.choice([0, p.accept, p.accept + 1, p.reject - 1, p.reject, p.reject + 3])
        verdicts.append([args, count, _try(partial(sampling.verdict, p, count))])
    for count in (-1, 1.0, True, "2", None):
        p = sampling.plan(3000, "II", "0.65", "normal")
        verdicts.append(
            [
                [3000, "II", "0.65", "normal", sampling.EDITIONS[0]],
                count,
                _try(partial(sampling.verdict, p, count)),
            ]
        )

    streams = []
    for n in range(70):
        edition = sampling.EDITIONS[n % 2]
        steps: list[Any] = []
        states: list[Any] = []
        state = sampling.Switching()
        bad = 0.05 + 0.4 * rng.random()
        for _ in range(rng.randint(5, 40)):
            resume = False
            if state.state == "discontinued":
                state = state.resumed()
                resume = True
            size = rng.choice(plan_sizes[5:])
            level = rng.choice(sampling.LEVELS)
            aql = rng.choice(sampling.AQLS)
            p = sampling.plan(size, level, aql, state.state, edition=edition)  # type: ignore[arg-type]
            if rng.random() < bad:
                found = p.reject + rng.randint(0, 2)
            elif rng.random() < 0.3:
                found = rng.randint(0, p.reject - 1)
            else:
                found = rng.randint(0, p.accept)
            steady = rng.random() > 0.03
            approved = rng.random() > 0.03
            steps.append([size, level, aql, state.state, found, steady, approved, resume])
            state = state.after(sampling.Lot(p, found, steady, approved))
            states.append(_switching_row(state))
        streams.append({"edition": edition, "lots": steps, "states": states})

    errors = []
    p = sampling.plan(3000, "II", "0.65", "normal")
    errors.append(
        [
            "lot_wrong_plan",
            _try(lambda: sampling.Lot(sampling.Plan(**{**_plan_json(p), "accept": 5}), 0)),
        ]
    )
    errors.append(["lot_negative", _try(lambda: sampling.Lot(p, -1))])
    errors.append(
        [
            "after_wrong_severity",
            _try(lambda: sampling.Switching(state="tightened").after(sampling.Lot(p, 0))),
        ]
    )
    errors.append(
        [
            "after_discontinued",
            _try(lambda: sampling.Switching(state="discontinued").after(sampling.Lot(p, 0))),
        ]
    )
    errors.append(["resumed_not_discontinued", _try(lambda: sampling.Switching().resumed())])
    return {
        "tables_digest": digest,
        "cells": cells,
        "code_letters": code_letters,
        "aql_labels": aql_labels,
        "plans": plan_out,
        "verdicts": verdicts,
        "switching": streams,
        "errors": errors,
    }


# -- the rule functions on small histories ------------------------------------------------------

QA = "0x" + "a" * 40
QA2 = "0x" + "b" * 40
INS = "0x" + "c" * 40
ALT = "0x" + "d" * 40  # another key of QA's person
NAMES = {QA: "Alice QA", QA2: "Bob Approver", INS: "Carol Inspector", ALT: "Alice QA"}
PERSONS = {QA: "p-alice", QA2: "p-bob", INS: "p-carol", ALT: "p-alice"}
GTIN = "09506000134352"
ISO = "ISO 2859-1:1999"


@dataclass
class FakeHistory:
    """A history from a list of records in log order (the judge's, without corrections)."""

    stored: list[Stored]
    receipts_: dict[str, list[list[Any]]] = field(default_factory=dict)
    floor_: dict[str, list[list[Any]]] = field(default_factory=dict)

    def subject(self, subject: str) -> list[Stored]:
        return [r for r in self.stored if _subject(r.body) == subject]

    def lot(self, lot: str) -> list[Stored]:
        return [r for r in self.stored if r.body.get("lot") == lot]

    def records(self, record_ids: Sequence[str]) -> list[Stored]:
        return [r for r in self.stored if r.record_id in record_ids]

    def name(self, signer: str) -> str:
        return NAMES.get(signer, "unregistered")

    def person(self, signer: str) -> str | None:
        return PERSONS.get(signer)

    def receipts(self, lot: str) -> list[tuple[str, str, str | None, str | None]]:
        return [(x[0], x[1], x[2], x[3]) for x in self.receipts_.get(lot, [])]

    def floor(self, lot: str) -> list[tuple[str, str, str | None, str | None]]:
        return [(x[0], x[1], x[2], x[3]) for x in self.floor_.get(lot, [])]


def _subject(body: Any) -> str | None:
    """The subject the history files a record under (None when its body names none)."""
    try:
        return subject_of(body)
    except (KeyError, TypeError, AttributeError):
        return None


def rec(
    rid: str,
    rtype: str,
    signer: str = QA,
    meaning: str = "authored",
    signed_at: str = "2026-01-10T12:00:00Z",
    **body: Any,
) -> dict[str, Any]:
    """A logged record as the vectors carry it (the body with its type and id)."""
    return {
        "record_id": rid,
        "type": rtype,
        "signer": signer,
        "meaning": meaning,
        "signed_at": signed_at,
        "record_hash": hashlib.sha256(rid.encode()).hexdigest(),
        "body": {"type": rtype, "record_id": rid, **body},
    }


def _stored(r: dict[str, Any]) -> Stored:
    return Stored(
        record_id=r["record_id"],
        type=r["type"],
        body=r["body"],
        record_hash=r["record_hash"],
        signer=r["signer"],
        printed_name=NAMES.get(r["signer"]),
        meaning=r["meaning"],
        signed_at=r["signed_at"],
        accepted_at=r["signed_at"],
    )


def _ser(v: Any) -> Any:
    if isinstance(v, Blocker):
        return {"blocker": [v.kind, v.text]}
    if isinstance(v, Stored):
        return {"stored": v.record_id}
    if isinstance(v, datetime):
        return {"time": master.iso(v)}
    if isinstance(v, master.SpecVersion):
        return {"spec_version": [v.record.record_id, _ser(v.approval), _ser(v.effective_from)]}
    if isinstance(v, life.Life):
        return {
            "life": {
                "decision": v.decision,
                "release": _ser(v.release),
                "holds": list(v.holds),
                "field_actions": [r.record_id for r in v.field_actions],
                "reopened_by": v.reopened_by,
                "state": [v.state(False), v.state(True)],
                "view": v.view(),
            }
        }
    if isinstance(v, sampling.Switching):
        return {"switching": _switching_json(v)}
    if isinstance(v, sampling.Plan):
        return {"plan": _plan_json(v)}
    if isinstance(v, set | frozenset):
        return {"set": sorted((_ser(x) for x in v), key=lambda x: json.dumps(x, sort_keys=True))}
    if isinstance(v, list | tuple):
        return [_ser(x) for x in v]
    return v


def _outcome(fn: Callable[[], Any]) -> Any:
    try:
        return {"ok": _ser(fn())}
    except Refused as exc:
        return {"refused": [exc.kind, exc.status, str(exc), exc.reasons]}
    except Exception as exc:  # what the reference raises is the expectation
        return {"raises": [exc.__class__.__name__, str(exc)]}


def _policy(settings: dict[str, Any] | None) -> Policy:
    return Policy.from_json(settings) if settings else DEFAULT_POLICY


def _ids(h: FakeHistory, ids: list[str]) -> list[Stored]:
    by_id = {r.record_id: r for r in h.stored}
    return [by_id[i] for i in ids]


def call(case: dict[str, Any]) -> Any:
    """Run one case against the Python reference."""
    records = copy.deepcopy(case["log"])
    if "patch" in case:
        index, entry = case["patch"]
        records[index] = copy.deepcopy(entry)
    h = FakeHistory([_stored(r) for r in records], case.get("receipts", {}), case.get("floor", {}))
    a = copy.deepcopy(case["args"])
    fn = case["fn"]
    table: dict[str, Callable[[], Any]] = {
        "acceptance.plan_of": lambda: acceptance.plan_of(a["body"]),
        "acceptance.replay": lambda: acceptance.replay(a["bodies"]),
        "acceptance.check_sampling": lambda: acceptance.check_sampling(
            a["record"], h, a.get("spec")
        ),
        "oos.check_retest": lambda: oos.check_retest(a["record"], h),
        "oos.check_disposition": lambda: oos.check_disposition(
            a["record"], h, _policy(a.get("policy")), a.get("signed_at")
        ),
        "oos.check_rework_closure": lambda: oos.check_rework_closure(
            a["ncr_id"], _ids(h, a["before"]), a["lot"], h
        ),
        "oos.check_review": lambda: oos.check_review(a["record"], a["signer"], h),
        "oos.failure_blockers": lambda: oos.failure_blockers(
            _ids(h, a["records"]), when(a["at"]) if a.get("at") else None
        ),
        "oos.gating_paths": lambda: oos.gating_paths(a["changes"]),
        "oos.correction_blockers": lambda: oos.correction_blockers(_ids(h, a["records"])),
        "master.spec_versions": lambda: master.spec_versions(a["spec_id"], h),
        "master.in_force": lambda: master.in_force(
            master.spec_versions(a["spec_id"], h), when(a["at"])
        ),
        "master.check_specification": lambda: master.check_specification(a["record"], h),
        "master.check_change_approval": lambda: master.check_change_approval(
            a["record"], a["signer"], h
        ),
        "master.check_inspection": lambda: master.check_inspection(a["record"], h, a["legacy"]),
        "master.calibration_status": lambda: master.calibration_status(
            a["equipment_id"], when(a["at"]), h
        ),
        "master.check_equipment": lambda: master.check_equipment(a["record"], h),
        "master.equipment_used": lambda: master.equipment_used(a["body"]),
        "master.suspect_windows": lambda: master.suspect_windows(a["equipment_id"], h),
        "master.suspect_by": lambda: master.suspect_by(
            a["body"], master.suspect_windows(a["equipment_id"], h)
        ),
        "master.supplier_status": lambda: master.supplier_status(
            a["supplier_id"], when(a["at"]), h
        ),
        "master.master_blockers": lambda: master.master_blockers(
            a["lot"], _ids(h, a["records"]), h, _policy(a.get("policy"))
        ),
        "life.lot_life": lambda: life.lot_life(_ids(h, a["records"])),
        "life.check_release": lambda: life.check_release(a["record"], _ids(h, a["records"])),
        "life.check_hold": lambda: life.check_hold(a["record"], a["meaning"], h),
        "life.check_known_lot": lambda: life.check_known_lot(a["record"], h),
        "life.floor_blockers": lambda: life.floor_blockers(
            a["lot"], _ids(h, a["records"]), h, set(a["cleared"]), _policy(a.get("policy"))
        ),
    }
    return _outcome(table[fn])


# A small plant: specification SPEC-1 under change CH-1, equipment EQ-1 calibrated, supplier
# SUP-1 approved, lot L1 inspected and released; NCRs, retests, concessions and holds on top.

CHAR = {
    "name": "diameter",
    "method": "caliper",
    "unit": "mm",
    "lower": 9.9,
    "upper": 10.1,
    "critical": True,
}


def spec_body(version: int = 1, change: str = "CH-1", **over: Any) -> dict[str, Any]:
    body = {
        "spec_id": "SPEC-1",
        "version": version,
        "change_id": change,
        "product": {"gtin": GTIN},
        "stage": "final",
        "sample_size": 5,
        "characteristics": [
            {**CHAR, "equipment_kind": "caliper"},
            {
                "name": "finish",
                "method": "visual",
                "unit": "grade",
                "lower": None,
                "upper": 2,
                "critical": False,
            },
        ],
    }
    body.update(over)
    return body


def inspection(rid: str, **over: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "schema": "inspection/2",
        "lot": "L1",
        "stage": "final",
        "product": {"gtin": GTIN},
        "specification": {"spec_id": "SPEC-1", "version": 1},
        "sample_size": 5,
        "inspected_at": "2026-01-10T10:00:00Z",
        "verdict": "pass",
        "characteristics": [
            {**CHAR, "value": 10.0, "verdict": "pass", "equipment": "EQ-1"},
            {
                "name": "finish",
                "method": "visual",
                "unit": "grade",
                "lower": None,
                "upper": 2,
                "value": 1,
                "verdict": "pass",
                "critical": False,
            },
        ],
    }
    meaning = over.pop("meaning", "authored")
    signer = over.pop("signer", INS)
    signed_at = over.pop("signed_at", "2026-01-10T11:00:00Z")
    fields.update(over)
    return rec(rid, "inspection", signer, meaning, signed_at, **fields)


def failed_inspection(rid: str, **over: Any) -> dict[str, Any]:
    r = inspection(rid, verdict="fail", **over)
    r["body"]["characteristics"][0].update(value=10.4, verdict="fail")
    return r


def master_log() -> list[dict[str, Any]]:
    return [
        rec(
            "CH1a",
            "change",
            QA,
            signed_at="2026-01-01T09:00:00Z",
            change_id="CH-1",
            step="requested",
            specifications=[{"spec_id": "SPEC-1", "version": 1}],
        ),
        rec("SP1", "specification", QA, signed_at="2026-01-01T10:00:00Z", **spec_body()),
        rec(
            "CH1b",
            "change",
            QA2,
            "approved",
            "2026-01-02T09:00:00Z",
            change_id="CH-1",
            step="approved",
        ),
        rec(
            "EQ1",
            "equipment",
            QA,
            signed_at="2026-01-01T08:00:00Z",
            equipment_id="EQ-1",
            kind="caliper",
        ),
        rec(
            "K1",
            "calibration",
            QA,
            "verified",
            "2026-01-01T08:30:00Z",
            equipment_id="EQ-1",
            calibrated_at="2026-01-01T08:00:00Z",
            valid_until="2026-06-30T00:00:00Z",
            result="pass",
            as_found="in_tolerance",
        ),
        rec(
            "SU1",
            "supplier",
            QA2,
            "approved",
            "2026-01-01T07:00:00Z",
            supplier_id="SUP-1",
            status="approved",
        ),
    ]


def ncr(rid: str, ncr_id: str, step: str, signed_at: str, **over: Any) -> dict[str, Any]:
    meaning = {"open": "authored", "evaluated": "reviewed"}.get(step, "approved")
    return rec(
        rid,
        "ncr",
        QA if step != "dispositioned" else QA2,
        meaning,
        signed_at,
        ncr_id=ncr_id,
        step=step,
        lot="L1",
        **over,
    )


def sampled(rid: str, found: int, severity: str = "normal", **over: Any) -> dict[str, Any]:
    p = sampling.plan(3000, "II", "0.65", severity)  # type: ignore[arg-type]
    r = inspection(
        rid,
        sample_size=p.sample_size,
        sampling={
            "standard": ISO,
            "level": "II",
            "aql": "0.65",
            "lot_size": 3000,
            "severity": severity,
        },
        **over,
    )
    verdict = "fail" if found >= p.reject else "pass"
    r["body"]["verdict"] = verdict
    for c in r["body"]["characteristics"]:
        c["nonconforming"] = 0
        c["verdict"] = "pass"
    r["body"]["characteristics"][0].update(nonconforming=found, verdict=verdict)
    return r


def _cases() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = []

    def add(name: str, fn: str, log: list[dict[str, Any]], **args: Any) -> None:
        extra: dict[str, Any] = {k: args.pop(k) for k in ("receipts", "floor") if k in args}
        cases.append({"name": name, "fn": fn, "log": log, "args": args, **extra})

    base = master_log()
    ok = inspection("I1")
    add("inspection/ok", "master.check_inspection", base, record=ok["body"], legacy=False)
    add(
        "inspection/legacy-v1",
        "master.check_inspection",
        base,
        record={**ok["body"], "schema": "inspection/1"},
        legacy=True,
    )
    add(
        "inspection/v1-not-legacy",
        "master.check_inspection",
        base,
        record={**ok["body"], "schema": "inspection/1"},
        legacy=False,
    )
    add(
        "inspection/no-such-version",
        "master.check_inspection",
        base,
        record={**ok["body"], "specification": {"spec_id": "SPEC-1", "version": 2}},
        legacy=False,
    )
    add(
        "inspection/no-such-spec",
        "master.check_inspection",
        base,
        record={**ok["body"], "specification": {"spec_id": "SPEC-9", "version": 1}},
        legacy=False,
    )
    add(
        "inspection/other-product",
        "master.check_inspection",
        base,
        record={**ok["body"], "product": {"gtin": "00000000000000"}},
        legacy=False,
    )
    add(
        "inspection/before-approval",
        "master.check_inspection",
        base,
        record={**ok["body"], "inspected_at": "2026-01-01T12:00:00+02:00"},
        legacy=False,
    )
    later = [
        *base[:2],
        rec(
            "CH1b",
            "change",
            QA2,
            "approved",
            "2026-01-02T09:00:00Z",
            change_id="CH-1",
            step="approved",
            effective_from="2026-02-01T00:00:00.250000+01:00",
        ),
        *base[3:],
    ]
    add(
        "inspection/effective-later",
        "master.check_inspection",
        later,
        record=ok["body"],
        legacy=False,
    )
    unapproved = [base[0], base[1], *base[3:]]
    add(
        "inspection/unapproved",
        "master.check_inspection",
        unapproved,
        record=ok["body"],
        legacy=False,
    )
    v2 = [
        *base,
        rec(
            "CH2a",
            "change",
            QA,
            signed_at="2026-01-05T09:00:00Z",
            change_id="CH-2",
            step="requested",
            specifications=[{"spec_id": "SPEC-1", "version": 2}],
        ),
        rec(
            "SP2",
            "specification",
            QA,
            signed_at="2026-01-05T10:00:00Z",
            **spec_body(2, "CH-2", sample_size=8),
        ),
        rec(
            "CH2b",
            "change",
            QA2,
            "approved",
            "2026-01-06T09:00:00Z",
            change_id="CH-2",
            step="approved",
        ),
    ]
    add("inspection/superseded", "master.check_inspection", v2, record=ok["body"], legacy=False)
    add(
        "inspection/v2-before-effective",
        "master.check_inspection",
        v2,
        record={
            **ok["body"],
            "specification": {"spec_id": "SPEC-1", "version": 2},
            "inspected_at": "2026-01-03T00:00:00Z",
        },
        legacy=False,
    )
    add(
        "inspection/v2-undersampled",
        "master.check_inspection",
        v2,
        record={**ok["body"], "specification": {"spec_id": "SPEC-1", "version": 2}},
        legacy=False,
    )
    v2_unapproved = v2[:-1]
    add(
        "inspection/v2-not-approved-yet",
        "master.check_inspection",
        v2_unapproved,
        record={**ok["body"], "specification": {"spec_id": "SPEC-1", "version": 2}},
        legacy=False,
    )
    diff = copy.deepcopy(ok["body"])
    diff["characteristics"][0].update(lower=9.8, critical=False, method="micrometer")
    diff["characteristics"][1]["upper"] = 2.0  # 2 == 2.0: no difference
    diff["characteristics"].append({"name": "weight", "unit": "g", "value": 1, "verdict": "pass"})
    diff["sample_size"] = 3
    add("inspection/differs", "master.check_inspection", base, record=diff, legacy=False)
    missing = copy.deepcopy(ok["body"])
    del missing["characteristics"][1]
    add("inspection/not-measured", "master.check_inspection", base, record=missing, legacy=False)
    noeq = copy.deepcopy(ok["body"])
    del noeq["characteristics"][0]["equipment"]
    add("inspection/no-equipment", "master.check_inspection", base, record=noeq, legacy=False)
    for eq_id, name in (("EQ-9", "unregistered"), ("EQ-2", "wrong-kind")):
        body = copy.deepcopy(ok["body"])
        body["characteristics"][0]["equipment"] = eq_id
        log = [
            *base,
            rec(
                "EQ2",
                "equipment",
                QA,
                equipment_id="EQ-2",
                kind="scale",
                signed_at="2026-01-01T08:00:00Z",
            ),
        ]
        add(
            f"inspection/equipment-{name}",
            "master.check_inspection",
            log,
            record=body,
            legacy=False,
        )
    for when_, name in (("2026-07-01T00:00:00Z", "expired"), ("2025-12-31T00:00:00Z", "none")):
        add(
            f"inspection/calibration-{name}",
            "master.check_inspection",
            base,
            record={**ok["body"], "inspected_at": when_},
            legacy=False,
        )
    failcal = [
        *base,
        rec(
            "K2",
            "calibration",
            QA,
            "verified",
            "2026-01-09T08:30:00Z",
            equipment_id="EQ-1",
            calibrated_at="2026-01-09T08:00:00.5Z",
            valid_until="2026-06-30T00:00:00Z",
            result="fail",
            as_found="out_of_tolerance",
        ),
    ]
    add(
        "inspection/calibration-failed",
        "master.check_inspection",
        failcal,
        record=ok["body"],
        legacy=False,
    )
    for name, args in (
        ("spec-versions", {"spec_id": "SPEC-1"}),
        ("spec-versions-none", {"spec_id": "SPEC-9"}),
    ):
        add(f"master/{name}", "master.spec_versions", v2, **args)
        add(f"master/{name}-later", "master.spec_versions", later, **args)
    for at in ("2026-01-01T00:00:00Z", "2026-01-02T09:00:00Z", "2026-01-07T00:00:00Z"):
        add(f"master/in-force-{at}", "master.in_force", v2, spec_id="SPEC-1", at=at)
    for at in (
        "2025-01-01T00:00:00Z",
        "2026-01-01T08:00:00Z",
        "2026-01-09T08:00:00Z",
        "2026-01-09T09:00:00-05:00",
        "2026-12-01T00:00:00Z",
    ):
        add(
            f"master/calibration-status-{at}",
            "master.calibration_status",
            failcal,
            equipment_id="EQ-1",
            at=at,
        )
    add(
        "master/calibration-status-unregistered",
        "master.calibration_status",
        base,
        equipment_id="EQ-7",
        at="2026-01-09T08:00:00Z",
    )
    # specifications and change approval
    nxt = rec("SP2", "specification", QA, **spec_body(2, "CH-2"))["body"]
    ch2 = rec(
        "CH2a",
        "change",
        QA,
        change_id="CH-2",
        step="requested",
        specifications=[{"spec_id": "SPEC-1", "version": 2}],
    )
    add("spec/ok", "master.check_specification", [*base, ch2], record=nxt)
    add(
        "spec/wrong-version",
        "master.check_specification",
        [*base, ch2],
        record={**nxt, "version": 3},
    )
    add(
        "spec/first-not-1",
        "master.check_specification",
        [],
        record={**nxt, "spec_id": "SPEC-5", "version": 2},
    )
    add(
        "spec/other-stage",
        "master.check_specification",
        [*base, ch2],
        record={**nxt, "stage": "incoming"},
    )
    add("spec/no-change", "master.check_specification", base, record=nxt)
    add(
        "spec/change-not-naming",
        "master.check_specification",
        [*base, ch2],
        record={**nxt, "change_id": "CH-1", "version": 2},
    )
    ch2b = rec("CH2b", "change", QA2, "approved", change_id="CH-2", step="approved")
    add("spec/change-approved", "master.check_specification", [*base, ch2, ch2b], record=nxt)
    sp2 = rec("SP2", "specification", QA, **spec_body(2, "CH-2"))
    approval = ch2b["body"]
    add(
        "approval/ok",
        "master.check_change_approval",
        [*base, ch2, sp2],
        record=approval,
        signer=QA2,
    )
    add(
        "approval/author",
        "master.check_change_approval",
        [*base, ch2, sp2],
        record=approval,
        signer=QA,
    )
    add(
        "approval/author-upper",
        "master.check_change_approval",
        [*base, ch2, sp2],
        record=approval,
        signer=QA.upper().replace("0X", "0x"),
    )
    add(
        "approval/same-person",
        "master.check_change_approval",
        [*base, ch2, sp2],
        record=approval,
        signer=ALT,
    )
    add(
        "approval/not-logged",
        "master.check_change_approval",
        [*base, ch2],
        record=approval,
        signer=QA2,
    )
    add(
        "approval/no-specs",
        "master.check_change_approval",
        base,
        record={**approval, "change_id": "CH-9"},
        signer=QA2,
    )
    # equipment
    add("equipment/twice", "master.check_equipment", base, record=base[3]["body"])
    add("equipment/new", "master.check_equipment", [], record=base[3]["body"])
    add("equipment/calibration-unregistered", "master.check_equipment", [], record=base[4]["body"])
    add("equipment/calibration-ok", "master.check_equipment", base, record=base[4]["body"])
    add(
        "equipment/used",
        "master.equipment_used",
        [],
        body={**ok["body"], "equipment": ["EQ-3", "EQ-1", 7]},
    )
    add("equipment/used-none", "master.equipment_used", [], body={**ok["body"], "equipment": None})
    oot = [
        *base,
        rec(
            "K2",
            "calibration",
            QA,
            "verified",
            "2026-01-20T08:30:00Z",
            equipment_id="EQ-1",
            calibrated_at="2026-01-20T08:00:00Z",
            valid_until="2026-07-30T00:00:00Z",
            result="pass",
            as_found="out_of_tolerance",
        ),
        rec(
            "K0",
            "calibration",
            QA,
            "verified",
            "2026-01-21T08:30:00Z",
            equipment_id="EQ-1",
            calibrated_at="2025-12-01T08:00:00Z",
            valid_until="2026-01-30T00:00:00Z",
            result="fail",
            as_found="out_of_tolerance",
        ),
    ]
    add("equipment/suspect-windows", "master.suspect_windows", oot, equipment_id="EQ-1")
    for at in ("2025-11-01T00:00:00Z", "2026-01-10T10:00:00Z", "2026-01-25T00:00:00Z"):
        add(
            f"equipment/suspect-by-{at}",
            "master.suspect_by",
            oot,
            equipment_id="EQ-1",
            body={**ok["body"], "inspected_at": at},
        )
    # suppliers and master blockers
    add(
        "supplier/status",
        "master.supplier_status",
        base,
        supplier_id="SUP-1",
        at="2026-01-05T00:00:00Z",
    )
    add(
        "supplier/status-before",
        "master.supplier_status",
        base,
        supplier_id="SUP-1",
        at="2025-01-05T00:00:00Z",
    )
    i1 = inspection("I1")
    blocked_sup = rec(
        "SU2",
        "supplier",
        QA2,
        "approved",
        "2026-01-03T00:00:00Z",
        supplier_id="SUP-1",
        status="disqualified",
    )
    plant = [
        *oot,
        blocked_sup,
        i1,
        rec("RM1", "scan", INS, "recorded", "2026-01-04T00:00:00Z", lot="RM-A"),
        rec("RM2", "scan", INS, "recorded", "2026-01-04T00:00:00Z", lot="RM-B"),
        rec("SH1", "scan", INS, "recorded", "2026-01-11T00:00:00Z", lot="L1"),
        rec("IN1", "scan", INS, "recorded", "2026-01-09T00:00:00Z", lot="L1"),
    ]
    receipts = {
        "L1": [
            ["RM1", "RM-A", "SUP-1", "2026-01-04T00:00:00Z"],
            ["RM2", "RM-B", "SUP-2", "2026-01-02T00:00:00Z"],
            ["RM3", "RM-C", None, "2026-01-02T00:00:00Z"],
            ["RM4", "L1", "SUP-1", "2026-01-01T07:30:00Z"],
        ]
    }
    floor = {
        "L1": [
            ["SH1", "ship", "ACME", "2026-01-11T00:00:00Z"],
            ["IN1", "input", "RM-A", "2026-01-09T00:00:00Z"],
            ["IN2", "input", "RM-B", "not a time"],
            ["IN3", "input", None, "2026-01-09T00:00:00Z"],
            ["IN4", "input", "RM-C", None],
        ]
    }
    add(
        "master/blockers",
        "master.master_blockers",
        plant,
        lot="L1",
        records=["I1"],
        receipts=receipts,
        floor=floor,
    )
    add(
        "master/blockers-unless-refused",
        "master.master_blockers",
        plant,
        lot="L1",
        records=["I1"],
        receipts=receipts,
        floor=floor,
        policy={"material_acceptance": "unless_refused"},
    )
    cleared_ncr = [
        ncr(
            "NX1",
            "N-9",
            "dispositioned",
            "2026-01-12T00:00:00Z",
            refs=["I1", "RM1", "SH1"],
            disposition="use_as_is",
        )
    ]
    add(
        "master/blockers-cleared",
        "master.master_blockers",
        [*plant, *cleared_ncr],
        lot="L1",
        records=["I1", "NX1"],
        receipts=receipts,
        floor=floor,
    )
    # the floor
    released_rm = [
        rec(
            "RA1",
            "release",
            QA2,
            "released",
            "2026-01-05T00:00:00Z",
            lot="RM-A",
            decision="released",
            evidence=[],
        )
    ]
    floor_cases = {
        "unverified": [],
        "released": released_rm,
        "incoming": [
            inspection(
                "II1",
                lot="L1",
                stage="incoming",
                material_lot="RM-A",
                signed_at="2026-01-08T00:00:00Z",
            )
        ],
        "rejected": [
            rec(
                "RA1",
                "release",
                QA2,
                "released",
                "2026-01-05T00:00:00Z",
                lot="RM-A",
                decision="rejected",
                evidence=[],
            )
        ],
        "failed": [failed_inspection("IA1", lot="RM-A", signed_at="2026-01-05T00:00:00Z")],
        "on-hold": [
            *released_rm,
            rec(
                "HA1",
                "hold",
                QA,
                "authored",
                "2026-01-06T00:00:00Z",
                lot="RM-A",
                hold_id="H-1",
                action="placed",
                reason="x" * 200,
            ),
        ],
    }
    for name, extra in floor_cases.items():
        log = [*plant, *extra]
        add(
            f"floor/{name}",
            "life.floor_blockers",
            log,
            lot="L1",
            records=["I1", "SH1", "IN1"],
            cleared=[],
            floor=floor,
        )
    add(
        "floor/cleared",
        "life.floor_blockers",
        plant,
        lot="L1",
        records=["I1"],
        cleared=["SH1", "IN1"],
        floor=floor,
    )
    shipped_after_release = [
        *plant,
        rec(
            "R1",
            "release",
            QA2,
            "released",
            "2026-01-10T23:00:00Z",
            lot="L1",
            decision="released",
            evidence=[],
        ),
    ]
    add(
        "floor/shipped-released",
        "life.floor_blockers",
        shipped_after_release,
        lot="L1",
        records=["I1", "R1"],
        cleared=[],
        floor=floor,
        policy={"material_acceptance": "unless_refused"},
    )

    # sampling (acceptance)
    stream: list[dict[str, Any]] = []
    for i, found in enumerate([3, 0, 4]):
        stream.append(sampled(f"SA{i}", found, signed_at=f"2026-01-1{i}T00:00:00Z"))
    smp = [*base, *stream]
    add("sampling/ok-first", "acceptance.check_sampling", smp, record=stream[0]["body"], spec=None)
    add("sampling/second", "acceptance.check_sampling", smp, record=stream[1]["body"], spec=None)
    add(
        "sampling/third-should-be-normal",
        "acceptance.check_sampling",
        smp,
        record=stream[2]["body"],
        spec=None,
    )
    fourth = sampled("SA3", 0, "normal")
    add(
        "sampling/after-two-rejects",
        "acceptance.check_sampling",
        [*smp, fourth],
        record=fourth["body"],
        spec=None,
    )
    tight = sampled("SA3", 0, "tightened")
    add(
        "sampling/tightened-ok",
        "acceptance.check_sampling",
        [*smp, tight],
        record=tight["body"],
        spec=None,
    )
    under = sampled("SB0", 0)
    under["body"]["sample_size"] = 20
    add("sampling/undersampled", "acceptance.check_sampling", [], record=under["body"], spec=None)
    typed = sampled("SB0", 3)
    typed["body"]["characteristics"][0]["verdict"] = "pass"
    add("sampling/typed-verdict", "acceptance.check_sampling", [], record=typed["body"], spec=None)
    fixed_spec = spec_body(sampling={"standard": ISO, "level": "II", "aql": 0.65})
    add(
        "sampling/spec-matches",
        "acceptance.check_sampling",
        [],
        record=under["body"] | {"sample_size": 125},
        spec=fixed_spec,
    )
    add(
        "sampling/spec-other-aql",
        "acceptance.check_sampling",
        [],
        record=under["body"] | {"sample_size": 125},
        spec=spec_body(sampling={"standard": ISO, "level": "II", "aql": "1.0"}),
    )
    add(
        "sampling/spec-needs-plan",
        "acceptance.check_sampling",
        [],
        record=ok["body"],
        spec=fixed_spec,
    )
    add("sampling/no-plan", "acceptance.check_sampling", [], record=ok["body"], spec=None)
    add(
        "sampling/no-plan-spec",
        "acceptance.check_sampling",
        [],
        record=ok["body"],
        spec=spec_body(),
    )
    bad_plan = sampled("SB0", 0)
    bad_plan["body"]["sampling"]["lot_size"] = "12x"
    add(
        "sampling/bad-lot-size", "acceptance.check_sampling", [], record=bad_plan["body"], spec=None
    )
    for key, value in (
        ("lot_size", "3000"),
        ("lot_size", 3000.7),
        ("lot_size", 1),
        ("aql", 0.65),
        ("aql", "0.7"),
        ("level", 2),
        ("severity", "hard"),
        ("standard", "ISO"),
        ("lot_size", None),
        ("lot_size", [1]),
    ):
        body = copy.deepcopy(under["body"])
        body["sample_size"] = 125
        body["sampling"][key] = value
        add(f"sampling/plan-of-{key}-{value!r}", "acceptance.plan_of", [], body=body)
    # discontinued and resumed streams
    disc: list[dict[str, Any]] = []
    for i, (found, sev) in enumerate([(3, "normal"), (3, "normal")] + [(5, "tightened")] * 5):
        disc.append(sampled(f"SD{i}", found, sev, signed_at=f"2026-01-{10 + i}T00:00:00Z"))
    add("sampling/replay-discontinued", "acceptance.replay", [], bodies=[r["body"] for r in disc])
    nxt_lot = sampled("SD9", 0, "tightened")
    add(
        "sampling/discontinued",
        "acceptance.check_sampling",
        [*disc, nxt_lot],
        record=nxt_lot["body"],
        spec=None,
    )
    resumed = sampled("SD9", 0, "tightened")
    resumed["body"]["sampling"]["resumes"] = "CAPA-1"
    capa = [
        rec("CP1", "capa", QA, capa_id="CAPA-1", step="open"),
        rec("CP2", "capa", QA, capa_id="CAPA-1", step="implementation"),
    ]
    add(
        "sampling/resumed",
        "acceptance.check_sampling",
        [*disc, *capa, resumed],
        record=resumed["body"],
        spec=None,
    )
    add(
        "sampling/resumed-capa-open",
        "acceptance.check_sampling",
        [*disc, capa[0], resumed],
        record=resumed["body"],
        spec=None,
    )
    add(
        "sampling/resumed-no-capa",
        "acceptance.check_sampling",
        [*disc, resumed],
        record=resumed["body"],
        spec=None,
    )
    add(
        "sampling/resumes-not-discontinued",
        "acceptance.check_sampling",
        [resumed],
        record=resumed["body"],
        spec=None,
    )
    add(
        "sampling/replay-resumed",
        "acceptance.replay",
        [],
        bodies=[r["body"] for r in [*disc, resumed]],
    )
    retested = sampled("SR0", 0, retest={"of": "SA0", "ncr_id": "N-1"})
    add(
        "sampling/retest-not-counted",
        "acceptance.check_sampling",
        [*smp, retested],
        record=retested["body"],
        spec=None,
    )
    supplied = sampled("SS0", 0, "reduced", supplier="SUP-1")
    add(
        "sampling/wrong-severity-supplier",
        "acceptance.check_sampling",
        [supplied],
        record=supplied["body"],
        spec=None,
    )
    z14 = []
    for i in range(11):
        r = sampled(f"SZ{i}", 0, "reduced" if i == 10 else "normal")
        r["body"]["sampling"]["standard"] = "ANSI/ASQ Z1.4-2003"
        z14.append(r)
    add("sampling/z14-reduced", "acceptance.check_sampling", z14, record=z14[-1]["body"], spec=None)
    # an earlier lot that broke the switching rules (it was judged where it was logged)
    broken = [sampled("SX0", 0), sampled("SX1", 0, "reduced"), sampled("SX2", 0, "tightened")]
    add(
        "sampling/earlier-lot-broke-the-rules",
        "acceptance.check_sampling",
        broken,
        record=broken[-1]["body"],
        spec=None,
    )

    # OOS: retests, dispositions, reviews, rework closure, failure blockers
    f1 = failed_inspection("F1", signed_at="2026-01-10T11:00:00Z")
    n_open = ncr("N1a", "N-1", "open", "2026-01-10T12:00:00Z", refs=["F1"], nature="diameter")
    n_eval = ncr("N1b", "N-1", "evaluated", "2026-01-10T13:00:00Z", assignable_cause=True)
    n_eval_no = ncr("N1b", "N-1", "evaluated", "2026-01-10T13:00:00Z", assignable_cause=False)
    retest = inspection(
        "RT1", retest={"of": "F1", "ncr_id": "N-1"}, sample_size=5, signed_at="2026-01-10T14:00:00Z"
    )
    oos_log = [f1, n_open, n_eval]
    add("retest/ok", "oos.check_retest", oos_log, record=retest["body"])
    add("retest/none", "oos.check_retest", oos_log, record=ok["body"])
    add(
        "retest/not-an-inspection",
        "oos.check_retest",
        oos_log,
        record={**retest["body"], "retest": {"of": "N1a", "ncr_id": "N-1"}},
    )
    add(
        "retest/nothing-failed",
        "oos.check_retest",
        [i1, n_open, n_eval],
        record={**retest["body"], "retest": {"of": "I1", "ncr_id": "N-1"}},
    )
    add("retest/ncr-not-citing", "oos.check_retest", [f1, n_eval], record=retest["body"])
    add("retest/no-cause", "oos.check_retest", [f1, n_open, n_eval_no], record=retest["body"])
    add("retest/not-evaluated", "oos.check_retest", [f1, n_open], record=retest["body"])
    add(
        "retest/twice",
        "oos.check_retest",
        [*oos_log, retest],
        record={**retest["body"], "record_id": "RT2"},
    )
    loose = copy.deepcopy(retest["body"])
    loose.update(stage="in_process", product={"gtin": "1"}, sample_size=2)
    loose["characteristics"][0].update(lower=9.0, upper=None, method="eye", unit="cm")
    add("retest/looser", "oos.check_retest", oos_log, record=loose)
    dropped = copy.deepcopy(retest["body"])
    dropped["characteristics"] = dropped["characteristics"][1:]
    add("retest/not-remeasured", "oos.check_retest", oos_log, record=dropped)
    tighter = copy.deepcopy(retest["body"])
    tighter["characteristics"][0].update(lower=9.95, upper=10)
    add("retest/tighter", "oos.check_retest", oos_log, record=tighter)
    reading = rec("PR1", "process_reading", INS, "recorded", lot="L1", tag="TEMP-1", value=99)
    disp = ncr(
        "N1c",
        "N-1",
        "dispositioned",
        "2026-01-10T15:00:00Z",
        disposition="use_as_is",
        concession={
            "characteristics": ["diameter"],
            "quantity": 10,
            "valid_until": "2026-02-01T00:00:00Z",
        },
    )
    with_reading = [
        f1,
        reading,
        {**n_open, "body": {**n_open["body"], "refs": ["F1", "PR1"]}},
        n_eval,
    ]
    add(
        "concession/ok",
        "oos.check_disposition",
        with_reading,
        record=disp["body"],
        signed_at=1768057200,
    )
    add(
        "concession/policy-none",
        "oos.check_disposition",
        with_reading,
        record=disp["body"],
        signed_at=1768057200,
        policy={"concessions": "none"},
    )
    add(
        "concession/unknown",
        "oos.check_disposition",
        with_reading,
        record={
            **disp["body"],
            "concession": {**disp["body"]["concession"], "characteristics": ["diameter", "x"]},
        },
        signed_at=None,
    )
    add(
        "concession/tag",
        "oos.check_disposition",
        with_reading,
        record={
            **disp["body"],
            "concession": {**disp["body"]["concession"], "characteristics": ["TEMP-1"]},
        },
        signed_at=None,
    )
    add(
        "concession/expired-at-signing",
        "oos.check_disposition",
        with_reading,
        record=disp["body"],
        signed_at=1769904000,
    )
    add(
        "concession/unreadable-until",
        "oos.check_disposition",
        with_reading,
        record={
            **disp["body"],
            "concession": {**disp["body"]["concession"], "valid_until": "soon"},
        },
        signed_at=1768057200,
    )
    add(
        "concession/not-use-as-is",
        "oos.check_disposition",
        with_reading,
        record={**disp["body"], "disposition": "rework"},
        signed_at=None,
    )
    add(
        "concession/nothing-cited",
        "oos.check_disposition",
        [n_open],
        record={
            **disp["body"],
            "concession": {**disp["body"]["concession"], "characteristics": ["anything"]},
        },
        signed_at=None,
    )
    rework = ncr("N1c", "N-1", "dispositioned", "2026-01-10T15:00:00Z", disposition="rework")
    reinspected = inspection("RI1", signed_at="2026-01-11T00:00:00Z")
    add(
        "rework/closure-missing",
        "oos.check_rework_closure",
        [*oos_log, rework],
        ncr_id="N-1",
        before=["N1a", "N1b", "N1c"],
        lot="L1",
    )
    add(
        "rework/closure-ok",
        "oos.check_rework_closure",
        [*oos_log, rework, reinspected],
        ncr_id="N-1",
        before=["N1a", "N1b", "N1c"],
        lot="L1",
    )
    add(
        "rework/closure-retested",
        "oos.check_rework_closure",
        [*oos_log, retest, rework],
        ncr_id="N-1",
        before=["N1a", "N1b", "N1c"],
        lot="L1",
    )
    add(
        "rework/closure-not-rework",
        "oos.check_rework_closure",
        [*oos_log, disp],
        ncr_id="N-1",
        before=["N1a", "N1b", "N1c"],
        lot="L1",
    )
    add(
        "rework/closure-no-disposition",
        "oos.check_rework_closure",
        oos_log,
        ncr_id="N-1",
        before=["N1a", "N1b"],
        lot="L1",
    )
    review = rec(
        "RV1",
        "review",
        QA2,
        "approved",
        lot="L1",
        reviews="N1c",
        record_hash=hashlib.sha256(b"N1c").hexdigest(),
    )
    add("review/ok", "oos.check_review", [*oos_log, disp], record=review["body"], signer=QA2)
    add("review/missing", "oos.check_review", oos_log, record=review["body"], signer=QA2)
    add(
        "review/hash",
        "oos.check_review",
        [*oos_log, disp],
        record={**review["body"], "record_hash": "00"},
        signer=QA2,
    )
    add(
        "review/lot",
        "oos.check_review",
        [*oos_log, disp],
        record={**review["body"], "lot": "L2"},
        signer=QA2,
    )
    add(
        "review/same-person",
        "oos.check_review",
        [*oos_log, disp],
        record=review["body"],
        signer=QA2 if disp["signer"] == QA2 else QA,
    )
    add(
        "review/same-person-other-key",
        "oos.check_review",
        [*oos_log, disp],
        record=review["body"],
        signer=ALT if disp["signer"] == QA else QA2,
    )
    add(
        "review/again",
        "oos.check_review",
        [*oos_log, disp, review],
        record={**review["body"], "record_id": "RV2"},
        signer=INS,
    )
    add(
        "review/again-same-person-other-key",
        "oos.check_review",
        [
            f1,
            rec(
                "RV1",
                "review",
                QA,
                "approved",
                lot="L1",
                reviews="F1",
                record_hash=hashlib.sha256(b"F1").hexdigest(),
            ),
        ],
        record=rec(
            "RV2",
            "review",
            ALT,
            "approved",
            lot="L1",
            reviews="F1",
            record_hash=hashlib.sha256(b"F1").hexdigest(),
        )["body"],
        signer=ALT,
    )
    add(
        "review/unregistered",
        "oos.check_review",
        [*oos_log, disp],
        record=review["body"],
        signer="0x" + "e" * 40,
    )
    closed = ncr("N1d", "N-1", "closed", "2026-01-12T00:00:00Z")
    scrap = ncr("N2c", "N-2", "dispositioned", "2026-01-10T15:00:00Z", disposition="scrap", refs=[])
    f2 = failed_inspection("F2", stage="in_process", signed_at="2026-01-10T11:30:00Z")
    f2["body"]["characteristics"][1].update(verdict="fail")
    lots: dict[str, list[dict[str, Any]]] = {
        "unanswered": [f1, f2],
        "open-ncr": [f1, n_open],
        "retested": [f1, n_open, n_eval, retest],
        "retest-failed": [
            f1,
            n_open,
            n_eval,
            failed_inspection("RT1", retest={"of": "F1", "ncr_id": "N-1"}),
        ],
        "conceded": [f1, n_open, n_eval, disp],
        "conceded-reviewed": [f1, n_open, n_eval, disp, review],
        "conceded-not-covering": [
            f1,
            f2,
            {**n_open, "body": {**n_open["body"], "refs": ["F1", "F2"]}},
            n_eval,
            disp,
        ],
        "rework-not-reinspected": [f1, n_open, n_eval, rework],
        "rework-reinspected": [f1, n_open, n_eval, rework, reinspected],
        "scrap": [f1, n_open, n_eval, scrap, closed],
    }
    for name, log in lots.items():
        ids = [r["record_id"] for r in log]
        for until in (None, "2026-01-20T00:00:00Z", "2026-02-01T00:00:00+00:00"):
            add(f"failures/{name}-{until}", "oos.failure_blockers", log, records=ids, at=until)
    corr = rec(
        "CO1",
        "correction",
        QA,
        lot="L1",
        corrects="I1",
        reason="typo",
        changes=[
            {"path": "/characteristics/0/upper", "value": 10.2},
            {"path": "/characteristics/0/note", "value": "x"},
            {"path": "/verdict", "value": "pass"},
        ],
    )
    corr2 = rec(
        "CO2",
        "correction",
        QA,
        lot="L1",
        corrects="N1a",
        reason="typo",
        changes=[{"path": "/verdict", "value": "pass"}],
    )
    corr_review = rec("RV9", "review", QA2, "approved", lot="L1", reviews="CO1", record_hash="00")
    add(
        "corrections/unreviewed",
        "oos.correction_blockers",
        [i1, n_open, corr, corr2],
        records=["I1", "N1a", "CO1", "CO2"],
    )
    add(
        "corrections/reviewed",
        "oos.correction_blockers",
        [i1, corr, corr_review],
        records=["I1", "CO1", "RV9"],
    )
    add(
        "corrections/paths",
        "oos.gating_paths",
        [],
        changes=[
            {"path": "/verdict"},
            {"path": "/verdict/x"},
            {"path": "verdict"},
            {"path": "/characteristics/1/critical"},
            {"path": "/characteristics/x/name"},
            {"path": "/characteristics/1"},
            {"path": "/characteristics/1/value"},
            {"path": 5},
            {"path": "/a~1b"},
        ],
    )

    # life: release decisions, holds, field actions
    rel = rec(
        "R1",
        "release",
        QA2,
        "released",
        "2026-01-11T00:00:00Z",
        lot="L1",
        decision="released",
        evidence=[{"record_id": "I1", "record_hash": "x"}],
    )
    rej = rec(
        "R0",
        "release",
        QA2,
        "released",
        "2026-01-10T20:00:00Z",
        lot="L1",
        decision="rejected",
        evidence=[],
    )
    hold = rec(
        "H1",
        "hold",
        QA,
        "authored",
        "2026-01-12T00:00:00Z",
        lot="L1",
        hold_id="HOLD-1",
        action="placed",
        reason="customer call",
    )
    compl = rec(
        "CM1",
        "complaint",
        QA,
        "authored",
        "2026-01-12T01:00:00Z",
        lot="L1",
        complaint_id="C-1",
        source="ACME",
        description="é" * 130,
    )
    alert = rec(
        "AL1",
        "alert",
        QA,
        "authored",
        "2026-01-12T02:00:00Z",
        lot="L1",
        alert_id="A-1",
        description="temperature",
    )
    corr_rel = rec(
        "CO3",
        "correction",
        QA,
        "authored",
        "2026-01-12T03:00:00Z",
        lot="L1",
        corrects="I1",
        reason="typo",
        changes=[],
    )
    late_ncr = ncr("N5a", "N-5", "open", "2026-01-12T04:00:00Z", refs=["I1"])
    lift = rec(
        "H2",
        "hold",
        QA2,
        "approved",
        "2026-01-13T00:00:00Z",
        lot="L1",
        hold_id="HOLD-1",
        action="lifted",
        resolves=["H1", "CM1"],
        resolution=["I1"],
    )
    fa = rec(
        "FA1",
        "field_action",
        QA2,
        "approved",
        "2026-01-14T00:00:00Z",
        lot="L1",
        field_action_id="FA-1",
        kind="recall",
    )
    rework_after = ncr("N6c", "N-6", "dispositioned", "2026-01-11T00:00:00Z", disposition="rework")
    lives = {
        "empty": [],
        "inspected": [i1],
        "released": [i1, rel],
        "on-hold": [i1, rel, hold, compl, alert, corr_rel, late_ncr],
        "lifted": [i1, rel, hold, compl, lift],
        "rejected": [i1, rej],
        "reopened": [i1, rej, rework_after],
        "recalled": [i1, rel, fa],
        "re-released": [i1, rel, hold, rel | {"record_id": "R2"}],
    }
    for name, log in lives.items():
        add(f"life/{name}", "life.lot_life", log, records=[r["record_id"] for r in log])
        add(
            f"release/{name}",
            "life.check_release",
            log,
            record=rel["body"],
            records=[r["record_id"] for r in log],
        )
    add(
        "release/rejected-decision",
        "life.check_release",
        lives["recalled"],
        record=rej["body"],
        records=["I1", "R1", "FA1"],
    )
    held = lives["on-hold"]
    closed5 = [
        ncr("N5b", "N-5", "evaluated", "2026-01-12T05:00:00Z"),
        ncr("N5c", "N-5", "dispositioned", "2026-01-12T06:00:00Z", disposition="use_as_is"),
        ncr("N5d", "N-5", "closed", "2026-01-12T07:00:00Z"),
    ]
    for name, record, meaning, log in (
        ("ok", lift["body"], "approved", held),
        ("not-approver", lift["body"], "authored", held),
        ("placed", hold["body"], "authored", held),
        ("unknown", {**lift["body"], "resolves": ["H1", "R1"]}, "approved", held),
        ("resolution", {**lift["body"], "resolution": ["I1", "X9"]}, "approved", held),
        ("ncr-open", {**lift["body"], "resolves": ["N5a"]}, "approved", held),
        ("ncr-closed", {**lift["body"], "resolves": ["N5a"]}, "approved", [*held, *closed5]),
        ("none-held", lift["body"], "approved", [i1]),
    ):
        add(f"hold/{name}", "life.check_hold", log, record=record, meaning=meaning)
    add("known-lot/ok", "life.check_known_lot", [i1], record=compl["body"])
    add("known-lot/unknown", "life.check_known_lot", [i1], record={**fa["body"], "lot": "L9"})
    return cases


# -- seeded mutations: the same calls on records with a key dropped or a value retyped --------

ODD: list[Any] = [
    None,
    0,
    1,
    2.5,
    -1,
    "",
    "x",
    True,
    False,
    [],
    ["x"],
    {},
    {"a": 1},
    10**20,
    1e-05,
    "2026-01-10T10:00:00Z",
    "final",
    "pass",
    "fail",
]


def _paths(v: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(v, dict):
        for k, x in v.items():
            out += _paths(x, (*prefix, k))
    elif isinstance(v, list):
        for i, x in enumerate(v):
            out += _paths(x, (*prefix, i))
    return out


def _mutate(target: Any, rng: random.Random) -> bool:
    paths = _paths(target)
    if not paths:
        return False
    path = rng.choice(paths)
    node = target
    for p in path[:-1]:
        node = node[p]
    last = path[-1]
    if isinstance(node, dict) and rng.random() < 0.35:
        del node[last]
    else:
        node[last] = copy.deepcopy(rng.choice(ODD))
    return True


def _mutations(cases: list[dict[str, Any]], count: int) -> list[dict[str, Any]]:
    rng = random.Random(14)
    out: list[dict[str, Any]] = []
    tries = 0
    while len(out) < count and tries < count * 20:
        tries += 1
        case = copy.deepcopy(rng.choice(cases))
        if rng.random() < 0.6 or not case["log"]:
            keys = [k for k in ("record", "body", "bodies", "changes") if k in case["args"]]
            if not keys:
                continue
            if not _mutate(case["args"][rng.choice(keys)], rng):
                continue
        else:
            index = rng.randrange(len(case["log"]))
            entry = copy.deepcopy(case["log"][index])
            if not _mutate(entry["body"], rng):
                continue
            case["patch"] = [index, entry]
        case["name"] = f"mutated/{len(out)}/{case['name']}"
        out.append(case)
    return out


def build() -> dict[str, Any]:
    cases = _cases()
    cases += _mutations(cases, 500)
    for case in cases:
        for r in [*case["log"], *case.get("patch", [None, None])[1:]]:
            if r is not None:
                r["subject"] = _subject(r["body"])
        case["expect"] = _json_safe(call(case))
    # Each log once: a case names it by index, a mutated one with the one record it changed.
    logs: list[Any] = []
    index: dict[str, int] = {}
    for case in cases:
        log = case["log"]
        key = json.dumps(log, sort_keys=True)
        if key not in index:
            index[key] = len(logs)
            logs.append(log)
        case["log"] = index[key]
    return {
        "comment": "Written by tests/vectors/judge/satellites.py; do not edit by hand.",
        "sampling": _sampling(),
        "logs": logs,
        "cases": cases,
    }


def _json_safe(v: Any) -> Any:
    return json.loads(json.dumps(v))


def render() -> str:
    return json.dumps(build(), ensure_ascii=False, indent=None, separators=(",", ":")) + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        if not OUTPUT.exists() or OUTPUT.read_text(encoding="utf-8") != text:
            print(f"{OUTPUT} is stale: run .venv/bin/python -m tests.vectors.judge.satellites")
            return 1
        print(f"{OUTPUT} is up to date")
        return 0
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUT} ({len(text)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
