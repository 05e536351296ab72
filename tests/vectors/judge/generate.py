"""Write ``judge.json``: logs that both bundle verifiers re-judge, the Python reference
(:func:`evledger_verify.bundle._replay`, ``_authority`` and ``_rules``) and the page's port
(web/verify/src/judge/replay.js).

    .venv/bin/python -m tests.vectors.judge.generate          # rewrite judge.json
    .venv/bin/python -m tests.vectors.judge.generate --check  # exit 1 if it is stale

Each scenario is a log as an evidence bundle carries it: the lines of ``records.jsonl``
(``{"entry", "in_scope", "leaf_index", "record"}``, compact, keys sorted, as ledger/bundle.py
writes them; each entry ``evledger-entry/1`` with the record's real hash, its lot chain and an
EIP-712 signature by a fixed key) and the manifest's ``policy_settings`` as its JSON text
(:meth:`Policy.to_json`, or a variant). The expected answer is what the reference says after
parsing the lines exactly as a bundle's (``bundle._parse_records``): the ``unauthorized`` and
``broken`` strings, how many records were judged and signers registered, and the verdict and
detail of the ``authority`` and ``rules`` checks; for policy settings the verifier cannot use,
the :class:`PolicyError` text instead. Nothing reads the clock or a random source: keys come
from fixed seeds, times from a fixed start, so the file is the same on every run.

The scenarios are named by what they show. ``valid/``: nothing refused (a whole lot life:
change control, supplier material received, inspected and consumed, process readings with an
excursion raised as an alert and conceded by an NCR with its CAPA through every step, a retest
after an assignable cause, a corrected verdict co-signed, release, shipment, complaint, holds
lifted, field action, recall, drill, training; and smaller lives under policy variants).
``unauthorized/``: a record signed without authority (unregistered, revoked, compromised, demoted,
granted by a record withdrawn). ``KIND/`` (authority, duties, time, workflow, release,
correction, alert, recall, specification, equipment, sampling, oos, concession, review, hold,
qualification, complaint, field_action, schema): the first record refused breaks a rule of that
kind, one scenario per way to break it (tests/integration/test_slipped_in.py, docs/quality.md
and the rules modules enumerate them). ``lenient/``: nothing refused although the service
would have refused something (the offline judge has no schemas, reads no EPCIS genealogy, and
projects the registry by signing time). ``policy-invalid/``: each PolicyError. Records are
valid under ledger/domain/schemas.py (checked here) unless the log is marked ``unchecked``
(invalid content, hostile entries).

Coverage of the judge modules by this generator, measured 2026-11-30 over 238 scenarios:

    .venv/bin/coverage run --data-file=/tmp/judge.coverage \\
        --include='verifier/evledger_verify/*' -m tests.vectors.judge.generate --check
    M=verifier/evledger_verify; .venv/bin/coverage report --data-file=/tmp/judge.coverage \\
        --include="$M/rules.py,$M/content.py,$M/policy.py,$M/judge.py,$M/registry.py,\\
    $M/genealogy.py,$M/sampling.py,$M/acceptance.py,$M/oos.py,$M/master.py,$M/life.py"

    rules 98% (477 of 489 lines), content 100%, policy 93%, judge 98%, registry 97%,
    genealogy 94%, sampling 85%, acceptance 93%, oos 96%, master 99%, life 87%;
    all eleven 95% (1674 of 1768). What is left is mostly unreachable from a replayed log
    (a person or a signing time the replay always has, a specification's change already past
    approval, ``Life.view``), corners of the sampling tables, and ``correct``'s schema hook,
    which the offline judge is not given.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_typing import Hash32
from evledger_verify import bundle
from evledger_verify.epcis import epcis_record
from evledger_verify.errors import VerificationError
from evledger_verify.policy import Policy, PolicyError
from evledger_verify.records import Domain, Entry, record_hash

from ledger.domain import epcis
from ledger.domain.schemas import parse_record

HERE = Path(__file__).resolve().parent
OUTPUT = HERE / "judge.json"
CHAIN_ID = 31337
CONTRACT = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
DOMAIN = Domain(CHAIN_ID, CONTRACT)
#: 2026-06-01T00:00:00Z: every log starts here, one record a minute unless told otherwise.
T0 = 1_780_272_000
GTIN = "09506000134352"
OTHER_GTIN = "09506000134376"
SSCC = "106141411234567897"
EQUIPMENT = "EQ-LM-1"
LIMITS = (2.95, 3.05)
SAMPLING = "ISO 2859-1 II AQL 0.65"

Json = dict[str, Any]


def iso(t: int) -> str:
    """A Unix time as records state times (UTC, to the second)."""
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


def accepted(t: int) -> str:
    """A Unix time as an entry's ``accepted_at`` (microseconds, as the service writes it)."""
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


_KEYS: dict[str, LocalAccount] = {}


def key(name: str) -> LocalAccount:
    """The fixed key of ``name`` (its seed: SHA-256 of the name)."""
    if name not in _KEYS:
        _KEYS[name] = Account.from_key(hashlib.sha256(f"judge vectors {name}".encode()).digest())
    return _KEYS[name]


def address(name: str) -> str:
    return str(key(name).address)


# -- records ---------------------------------------------------------------------------------


def grant(
    name: str,
    roles: list[str],
    printed: str | None = None,
    person: str | None = None,
    rid: str | None = None,
) -> Json:
    body: Json = {
        "record_id": rid or f"signer-{name}",
        "type": "signer",
        "schema": "signer/1",
        "action": "grant",
        "address": address(name),
        "name": printed or name.title(),
        "roles": roles,
    }
    if person is not None:
        body["person"] = person
    return body


def revoke(name: str, rid: str, compromised: bool | None = None) -> Json:
    body: Json = {
        "record_id": rid,
        "type": "signer",
        "schema": "signer/1",
        "action": "revoke",
        "address": address(name),
    }
    if compromised is not None:
        body["compromised"] = compromised
    return body


def spec_id(stage: str) -> str:
    return f"SPEC-{stage}"


def specification(
    stage: str = "final",
    version: int = 1,
    change_id: str | None = None,
    limits: tuple[float, float] = LIMITS,
    critical: bool = True,
    gtin: str = GTIN,
    **extra: Any,
) -> Json:
    sid = extra.pop("spec_id", spec_id(stage))
    return {
        "record_id": f"{sid}-v{version}",
        "type": "specification",
        "schema": "specification/1",
        "spec_id": sid,
        "version": version,
        "title": f"Catheter shaft, {stage} inspection",
        "product": {"gtin": gtin},
        "stage": stage,
        "sampling_plan": SAMPLING,
        "sample_size": 32,
        "change_id": change_id or f"CHG-{sid}-v{version}",
        "characteristics": [
            {
                "name": "outer diameter",
                "method": "laser micrometer",
                "unit": "mm",
                "lower": limits[0],
                "upper": limits[1],
                "critical": critical,
                "equipment_kind": "laser micrometer",
            }
        ],
        **extra,
    }


CHANGE_TEXT = {
    "requested": {"reason": "specification release", "description": "bring it into force"},
    "assessed": {
        "impact": "inspections follow the new version",
        "assessment": {"risk": "low", "validation": False, "training": True},
    },
    "approved": {"approval": "approved for use"},
    "implemented": {"implementation": "inspectors trained"},
    "verified": {"verification": "first inspections checked"},
    "closed": {"summary": "done"},
    "rejected": {"rejection": "no validation plan"},
    "withdrawn": {"withdrawal": "no longer needed"},
}


def change(change_id: str, step: str, **fields: Any) -> Json:
    return {
        "record_id": f"{change_id}-{step}",
        "type": "change",
        "schema": "change/1",
        "change_id": change_id,
        "step": step,
        **CHANGE_TEXT[step],
        **fields,
    }


def inspection(
    rid: str,
    lot: str,
    at: int,
    value: float = 3.01,
    stage: str = "final",
    critical: bool = True,
    version: int = 1,
    **extra: Any,
) -> Json:
    verdict = "pass" if LIMITS[0] <= value <= LIMITS[1] else "fail"
    return {
        "record_id": rid,
        "type": "inspection",
        "schema": "inspection/2",
        "lot": lot,
        "stage": stage,
        "product": {"gtin": GTIN},
        "sampling_plan": SAMPLING,
        "sample_size": 32,
        "inspected_at": iso(at),
        "verdict": verdict,
        "specification": {"spec_id": spec_id(stage), "version": version},
        "characteristics": [
            {
                "name": "outer diameter",
                "method": "laser micrometer",
                "unit": "mm",
                "lower": LIMITS[0],
                "upper": LIMITS[1],
                "value": value,
                "verdict": verdict,
                "critical": critical,
                "equipment": EQUIPMENT,
            }
        ],
        **extra,
    }


def equipment(equipment_id: str = EQUIPMENT, kind: str = "laser micrometer") -> Json:
    return {
        "record_id": f"equipment-{equipment_id}",
        "type": "equipment",
        "schema": "equipment/1",
        "equipment_id": equipment_id,
        "kind": kind,
    }


def calibration(
    rid: str,
    equipment_id: str = EQUIPMENT,
    result: str = "pass",
    as_found: str = "in_tolerance",
    calibrated_at: str = "2026-01-05T09:00:00Z",
    valid_until: str | None = "2099-01-01T00:00:00Z",
) -> Json:
    return {
        "record_id": rid,
        "type": "calibration",
        "schema": "calibration/1",
        "equipment_id": equipment_id,
        "calibrated_at": calibrated_at,
        "result": result,
        "as_found": as_found,
        **({"valid_until": valid_until} if result == "pass" else {}),
    }


def supplier(rid: str, supplier_id: str, status: str = "approved") -> Json:
    return {
        "record_id": rid,
        "type": "supplier",
        "schema": "supplier/1",
        "supplier_id": supplier_id,
        "name": f"{supplier_id} Ltd",
        "status": status,
        "reason": f"qualification audit: {status}",
    }


STEP_FIELDS: dict[str, dict[str, Json]] = {
    "ncr": {
        "open": {"nature": "Outer diameter 3.12 mm above the 3.05 mm limit on 3 of 32 samples"},
        "evaluated": {
            "evaluation": "All units extruded on line 2 since 06:00 are affected",
            "investigation": "Puller speed drifted after the 05:40 restart",
        },
        "dispositioned": {
            "disposition": "rework",
            "rationale": "Units can be re-drawn within limits; re-inspected after",
        },
        "closed": {"summary": "Rework done and re-inspected"},
    },
    "capa": {
        "open": {"problem": "Puller speed drift produces oversize tubing"},
        "investigation": {"root_cause": "Speed set-point not re-loaded after a PLC restart"},
        "action_plan": {
            "actions": ["Reload the recipe on restart"],
            "due_by": "2099-01-31T00:00:00Z",
            "check_after_days": 0,
        },
        "implementation": {"implemented": "PLC program v4.2 released under CR-88"},
        "effectiveness_check": {
            "effective": True,
            "no_adverse_effect": True,
            "result": "No diameter deviation in 30 production days",
            "data": ["DATA-1"],
        },
        "closed": {"summary": "Actions effective; CAPA closed by QA"},
        "cancelled": {"reason": "Duplicate of an existing CAPA"},
    },
}
ENTITY = {"ncr": "ncr_id", "capa": "capa_id"}


def workflow(rtype: str, rid: str, entity: str, step: str, **fields: Any) -> Json:
    return {
        "record_id": rid,
        "type": rtype,
        "schema": f"{rtype}/1",
        ENTITY[rtype]: entity,
        "step": step,
        **STEP_FIELDS[rtype][step],
        **fields,
    }


def evidence(*records: Json) -> list[dict[str, str]]:
    return [{"record_id": r["record_id"], "record_hash": record_hash(r).hex()} for r in records]


def release(
    rid: str, lot: str, proof: list[dict[str, str]], decision: str = "released", **extra: Any
) -> Json:
    return {
        "record_id": rid,
        "type": "release",
        "schema": "release/1",
        "lot": lot,
        "product": {"gtin": GTIN},
        "decision": decision,
        "evidence": proof,
        "statement": "Device history record reviewed; lot conforms to its specification.",
        **extra,
    }


def correction(
    rid: str,
    corrects: str,
    lot: str | None,
    changes: list[Json],
    reason: str = "transcription error",
) -> Json:
    return {
        "record_id": rid,
        "type": "correction",
        "schema": "correction/1",
        "corrects": corrects,
        "lot": lot,
        "changes": changes,
        "reason": reason,
    }


def verdict_to_pass() -> Json:
    """CO-1: failed inspection I-1 of LOT-A corrected into a passing one (value and verdicts)."""
    return correction(
        "CO-1",
        "I-1",
        "LOT-A",
        [
            {"path": "/characteristics/0/value", "value": 3.02},
            {"path": "/characteristics/0/verdict", "value": "pass"},
            {"path": "/verdict", "value": "pass"},
        ],
    )


def alert(rid: str, alert_id: str, lot: str | None, refs: list[str] | None = None) -> Json:
    body: Json = {
        "record_id": rid,
        "type": "alert",
        "schema": "alert/1",
        "alert_id": alert_id,
        "source": "plc",
        "severity": "critical",
        "lot": lot,
        "description": "Barrel zone 2 at 231.4 C, above the 225 C limit",
        "details": {"tag": "TZ2", "value": 231.4, "upper": 225},
    }
    if refs is not None:
        body["refs"] = refs
    return body


def reading(
    rid: str, lot: str, at: int, value: float, tag: str = "TZ2", upper: float = 225.0
) -> Json:
    return {
        "record_id": rid,
        "type": "process_reading",
        "schema": "process_reading/1",
        "tag": tag,
        "value": value,
        "unit": "C",
        "lower": 180.0,
        "upper": upper,
        "lot": lot,
        "line": "L2",
        "read_at": iso(at),
    }


def scan(
    rid: str,
    operation: str,
    at: int,
    *,
    station: str = "EXT-2",
    lot: str | None = None,
    gs1_lot: str | None = None,
    gtin: str | None = GTIN,
    gs1_sscc: str | None = None,
    **extra: Any,
) -> Json:
    gs1: Json = {"gtin": gtin} if gtin is not None else {}
    if gs1_lot is not None:
        gs1["lot"] = gs1_lot
    if gs1_sscc is not None:
        gs1["sscc"] = gs1_sscc
    body: Json = {
        "record_id": rid,
        "type": "scan",
        "schema": "scan/1",
        "station": station,
        "operation": operation,
        "gs1": gs1,
        "scanned_at": iso(at),
        **extra,
    }
    if lot is not None:
        body["lot"] = lot
    return body


def received(log: Log, supplier_id: str) -> Json:
    """S-1: material MAT-1 (supplier lot SUP-LOT-9) received at DOCK-1 from ``supplier_id``."""
    return scan(
        "S-1",
        "receive",
        log.now + 30,
        station="DOCK-1",
        lot="MAT-1",
        gs1_lot="SUP-LOT-9",
        supplier=supplier_id,
    )


def ncr_concession(*names: str, valid_until: str = "2099-01-01T00:00:00Z") -> Json:
    return {
        "characteristics": list(names),
        "quantity": 4800,
        "unit": "pcs",
        "valid_until": valid_until,
    }


def review(rid: str, target: Json, lot: str | None) -> Json:
    return {
        "record_id": rid,
        "type": "review",
        "schema": "review/1",
        "reviews": target["record_id"],
        "record_hash": record_hash(target).hex(),
        "lot": lot,
        "statement": "Second QA approver concurs (material review board).",
    }


def training(
    rid: str,
    person: str,
    task: str,
    completed: int,
    valid_until: int | None = None,
    result: str = "qualified",
) -> Json:
    body: Json = {
        "record_id": rid,
        "type": "training",
        "schema": "training/1",
        "person": person,
        "task": task,
        "result": result,
        "completed_at": iso(completed),
        "evidence": "course record TR-7, exam passed",
    }
    if valid_until is not None:
        body["valid_until"] = iso(valid_until)
    return body


def complaint(rid: str, lot: str, at: int) -> Json:
    return {
        "record_id": rid,
        "type": "complaint",
        "schema": "complaint/1",
        "complaint_id": f"CMP-{rid}",
        "lot": lot,
        "received_at": iso(at),
        "source": "Hospital A",
        "description": "Catheter kinks at insertion",
        "reportable": False,
    }


def hold(
    rid: str,
    lot: str,
    action: str = "placed",
    resolves: list[str] | None = None,
    resolution: list[str] | None = None,
) -> Json:
    return {
        "record_id": rid,
        "type": "hold",
        "schema": "hold/1",
        "hold_id": f"HOLD-{rid}",
        "lot": lot,
        "action": action,
        "reason": "complaint under investigation",
        "resolves": resolves or [],
        "resolution": resolution or [],
    }


def field_action(rid: str, lot: str, recall_id: str | None = None) -> Json:
    body: Json = {
        "record_id": rid,
        "type": "field_action",
        "schema": "field_action/1",
        "field_action_id": f"FA-{rid}",
        "lot": lot,
        "kind": "recall",
        "reason": "kinking confirmed in returned units",
    }
    if recall_id is not None:
        body["recall_id"] = recall_id
    return body


def recall(
    rid: str,
    recall_id: str,
    at: int,
    lot: str | None = "LOT-A",
    drill: bool = False,
    supplier_id: str | None = None,
) -> Json:
    body: Json = {
        "record_id": rid,
        "type": "recall",
        "schema": "recall/1",
        "recall_id": recall_id,
        "drill": drill,
        "reason": "kinking at insertion",
        "tree_size": 40,
        "scope_sha256": hashlib.sha256(rid.encode()).hexdigest(),
        "lots": 1,
        "shipments": 1,
        "consignees": 1,
        "computed_at": iso(at),
        "elapsed_ms": 12.5,
    }
    if lot is not None:
        body["lot"] = lot
    if supplier_id is not None:
        body["supplier"] = supplier_id
    return body


def validation(rid: str, kind: str = "oq-pack", failed: int = 0) -> Json:
    return {
        "record_id": rid,
        "type": "validation",
        "schema": "validation/1",
        "validation_id": f"OQ-{rid}",
        "kind": kind,
        "sha256": hashlib.sha256(rid.encode()).hexdigest(),
        "outcome": "failed" if failed else "passed",
        "summary": {"passed": 120, "failed": failed, "skipped": 0, "requirements": 80},
        "software": "evledger 0.1.0",
        "git_commit": "0123456789abcdef0123456789abcdef01234567",
        "description": "Operational qualification pack (make validation-pack)",
    }


# -- a log -------------------------------------------------------------------------------------


@dataclass
class Log:
    """A log being written: each record signed by a fixed key at the log's clock."""

    name: str
    description: str
    settings: Any = field(default_factory=lambda: Policy().to_json())
    #: A scenario about invalid content: its records are not schema-checked.
    unchecked: bool = False
    now: int = T0
    lines: list[str] = field(default_factory=list)
    heads: dict[str, str] = field(default_factory=dict)
    #: The first leaf index, and how far apart the records are (a bundle holds the records of
    #: its scope and their context, not every leaf of the log).
    leaf: int = 3
    leaf_step: int = 2
    #: The name and length of the opening every log built the same way shares
    #: (:func:`base`), stored once in the vector file.
    prefix: tuple[str, int] | None = None

    def add(
        self,
        record: Json,
        who: str,
        meaning: str,
        *,
        signed_at: int | None = None,
        accepted_at: int | None = None,
        accepted_text: str | None = None,
        step: int = 60,
        in_scope: bool = True,
        check: bool = True,
    ) -> Json:
        """Log ``record`` signed by ``who`` with ``meaning``: signed at the log's clock (or
        ``signed_at``), accepted two seconds later (or at ``accepted_at``)."""
        if check and not self.unchecked:
            parse_record(record)
        self.now += step
        signed = self.now if signed_at is None else signed_at
        taken = signed + 2 if accepted_at is None else accepted_at
        lot = record.get("lot") if isinstance(record.get("lot"), str) else None
        fields: Json = {
            "record_id": record["record_id"],
            "record_type": record["type"],
            "record_hash": record_hash(record).hex(),
            "lot": lot,
            "lot_prev": self.heads.get(lot) if lot else None,
            "signer": address(who),
            "meaning": meaning,
            "signed_at": signed,
            "signature": "",
            "salt": hashlib.sha256(f"judge vectors salt {self.leaf}".encode()).hexdigest(),
            "accepted_at": accepted(taken) if accepted_text is None else accepted_text,
        }
        digest = Entry(**fields).digest(DOMAIN)
        fields["signature"] = key(who).unsafe_sign_hash(Hash32(digest)).signature.to_0x_hex()
        entry = Entry(**fields)
        if lot:
            self.heads[lot] = entry.leaf_hash().hex()
        self.lines.append(
            json.dumps(
                {
                    "leaf_index": self.leaf,
                    "in_scope": in_scope,
                    "record": record,
                    "entry": entry.to_json(),
                },
                separators=(",", ":"),
                sort_keys=True,
            )
        )
        self.leaf += self.leaf_step
        return record


# -- the reference -----------------------------------------------------------------------------


def verdict(check: Callable[[], str]) -> Json:
    try:
        return {"ok": True, "detail": check()}
    except VerificationError as exc:
        return {"ok": False, "detail": str(exc)}


def reference(log: Log) -> Json:
    """What bundle.py says of the log: parsed as records.jsonl, replayed, judged."""
    text = json.dumps(log.settings, separators=(",", ":"), sort_keys=True)
    try:
        policy = Policy.from_json(json.loads(text))
    except PolicyError as exc:
        return {"policy_error": str(exc)}
    b = bundle._Bundle({}, [line.encode() for line in log.lines], {}, policy)
    bundle._parse_records(b, lambda stage, done, total: None)
    replayed = bundle._replay(b, lambda stage, done, total: None)
    return {
        "unauthorized": replayed.unauthorized,
        "broken": replayed.broken,
        "judged": replayed.judge.judged,
        "signers": len(replayed.registry),
        "authority": verdict(lambda: bundle._authority(replayed)),
        "rules": verdict(lambda: bundle._rules(b, replayed)),
    }


# -- the scenarios -----------------------------------------------------------------------------

SCENARIOS: list[Callable[[], Log]] = []


def scenario(fn: Callable[[], Log]) -> Callable[[], Log]:
    SCENARIOS.append(fn)
    return fn


#: Who may sign in the scenarios: key name -> (roles, printed name, person).
PEOPLE: dict[str, tuple[list[str], str, str | None]] = {
    "admin": (["admin"], "Ada Admin", "E-1"),
    "inspector": (["qa_inspector"], "Dana Inspector", "E-2"),
    "approver": (["qa_approver"], "Quinn Approver", "E-3"),
    "approver2": (["qa_approver"], "Mo Reviewer", "E-4"),
    "author": (["qa_inspector"], "Spec Author", "E-5"),
    "device": (["device"], "PLC gateway 3", None),
    # on request (team(log, ...)):
    "ann": (["qa_inspector", "qa_approver"], "Ann Able", "E-6"),
    "ann2": (["qa_inspector", "qa_approver"], "Ann Able", "E-6"),
    "production": (["production"], "Pat Production", "E-7"),
    "qp": (["qualified_person"], "Quentin Person", "E-8"),
    "auditor": (["auditor"], "Audrey Auditor", "E-9"),
    "admin2": (["admin"], "Dee Boss", "E-10"),
    "mes": (["system"], "MES gateway", None),
}
TEAM = ("inspector", "approver", "approver2", "author", "device")


def team(log: Log, *extra: str) -> None:
    """The admin grants itself (bootstrap), then the QA team, a PLC gateway and ``extra``."""
    for name in ("admin", *TEAM, *extra):
        roles, printed, person = PEOPLE[name]
        log.add(grant(name, roles, printed, person), "admin", "approved", in_scope=False)


def master_data(log: Log, stages: tuple[str, ...] = ("final",)) -> None:
    """The instrument, calibrated, and each stage's specification brought into force through
    change control (requested naming it, logged, assessed, approved by someone else)."""
    log.add(equipment(), "author", "authored", in_scope=False)
    log.add(calibration(f"cal-{EQUIPMENT}-1"), "author", "verified", in_scope=False)
    for stage in stages:
        spec = specification(stage)
        cid = spec["change_id"]
        ref = {"spec_id": spec["spec_id"], "version": spec["version"]}
        log.add(
            change(cid, "requested", specifications=[ref]), "author", "authored", in_scope=False
        )
        log.add(spec, "author", "authored", in_scope=False)
        log.add(change(cid, "assessed"), "author", "reviewed", in_scope=False)
        log.add(change(cid, "approved"), "approver", "approved", in_scope=False)


def base(
    name: str,
    description: str,
    stages: tuple[str, ...] = ("final",),
    people: tuple[str, ...] = (),
    **kw: Any,
) -> Log:
    log = Log(name, description, **kw)
    team(log, *people)
    master_data(log, stages)
    name = "+".join(("team", *people, "specs", *stages))
    if (kw.get("leaf", Log.leaf), kw.get("leaf_step", Log.leaf_step)) == (Log.leaf, Log.leaf_step):
        log.prefix = (name, len(log.lines))
    return log


@scenario
def clean_release() -> Log:
    log = base(
        "valid/inspected-and-released",
        "The team granted by the admin, master data under change control, a passing "
        "final inspection and the QA approver's release citing it.",
    )
    i = log.add(inspection("I-1", "LOT-A", log.now + 30), "inspector", "authored")
    log.add(release("R-1", "LOT-A", evidence(i)), "approver", "released")
    return log


@scenario
def full_life() -> Log:
    log = base(
        "valid/full-lot-life",
        "A lot's whole life: change control through closure, supplier material received, "
        "inspected and consumed, process readings with an excursion raised as an alert and "
        "conceded by an NCR with its CAPA through every step, an in-process failure retested "
        "after an assignable cause, a final verdict corrected by one approver and co-signed by "
        "another, a note corrected by the inspector, release, shipment, a complaint and a hold "
        "lifted, a field action and its recall, a drill, a training record, a rejected and a "
        "withdrawn change.",
        stages=("incoming", "in_process", "final"),
    )
    a = log.add
    cid = "CHG-SPEC-final-v1"
    for step in ("implemented", "verified"):
        a(change(cid, step), "author", "authored" if step == "implemented" else "verified")
    a(change(cid, "closed"), "approver", "approved")
    a(supplier("SUP-1", "ACME"), "approver", "approved")
    a(
        received(log, "ACME"),
        "device",
        "recorded",
    )
    a(inspection("I-MAT", "MAT-1", log.now + 30, stage="incoming"), "inspector", "authored")
    a(scan("S-2", "produce", log.now + 30, lot="LOT-A", gs1_lot="LOT-A"), "device", "recorded")
    a(scan("S-3", "consume", log.now + 30, lot="LOT-A", gs1_lot="MAT-1"), "device", "recorded")
    for n, value in enumerate((210.0, 231.4, 233.0, 212.0), 1):
        a(reading(f"P-{n}", "LOT-A", log.now + 30, value), "device", "recorded")
    a(alert("AL-1", "ALERT-1", "LOT-A", refs=["P-2"]), "inspector", "authored")
    a(
        workflow("ncr", "N1-1", "NCR-1", "open", lot="LOT-A", refs=["ALERT-1", "P-2"]),
        "inspector",
        "authored",
    )
    a(workflow("ncr", "N1-2", "NCR-1", "evaluated", lot="LOT-A"), "inspector", "reviewed")
    a(
        workflow(
            "ncr",
            "N1-3",
            "NCR-1",
            "dispositioned",
            lot="LOT-A",
            disposition="use_as_is",
            rationale="Zone 2 excursion of 8 C assessed without effect on the shaft",
            concession=ncr_concession("TZ2"),
            capa_id="CAPA-1",
        ),
        "approver",
        "approved",
    )
    for n, step in enumerate(("open", "investigation", "action_plan", "implementation"), 1):
        extra = {"ncr_id": "NCR-1"} if step == "open" else {}
        a(
            workflow("capa", f"C1-{n}", "CAPA-1", step, lot="LOT-A", **extra),
            "inspector",
            "authored",
        )
    a(
        workflow("capa", "C1-5", "CAPA-1", "effectiveness_check", lot="LOT-A", data=["P-4"]),
        "approver",
        "verified",
    )
    a(workflow("capa", "C1-6", "CAPA-1", "closed", lot="LOT-A"), "approver", "approved")
    a(workflow("ncr", "N1-4", "NCR-1", "closed", lot="LOT-A"), "approver", "approved")
    ip1 = a(
        inspection("I-IP1", "LOT-A", log.now + 30, value=3.12, stage="in_process"),
        "inspector",
        "authored",
    )
    a(
        workflow("ncr", "N2-1", "NCR-2", "open", lot="LOT-A", refs=[ip1["record_id"]]),
        "inspector",
        "authored",
    )
    a(
        workflow("ncr", "N2-2", "NCR-2", "evaluated", lot="LOT-A", assignable_cause=True),
        "inspector",
        "reviewed",
    )
    a(
        inspection(
            "I-IP2",
            "LOT-A",
            log.now + 30,
            value=3.0,
            stage="in_process",
            retest={"of": "I-IP1", "ncr_id": "NCR-2"},
        ),
        "inspector",
        "authored",
    )
    a(workflow("ncr", "N2-3", "NCR-2", "dispositioned", lot="LOT-A"), "approver", "approved")
    a(workflow("ncr", "N2-4", "NCR-2", "closed", lot="LOT-A"), "approver", "approved")
    f1 = a(
        inspection("I-F1", "LOT-A", log.now + 30, value=3.12, notes="first reading"),
        "inspector",
        "authored",
    )
    fix = [
        {"path": "/characteristics/0/value", "value": 3.02},
        {"path": "/characteristics/0/verdict", "value": "pass"},
        {"path": "/verdict", "value": "pass"},
    ]
    c1 = a(
        correction("CO-1", "I-F1", "LOT-A", fix, "value transcribed from the wrong sample"),
        "approver",
        "authored",
    )
    a(review("RV-1", c1, "LOT-A"), "approver2", "approved")
    a(
        correction("CO-2", "I-F1", "LOT-A", [{"path": "/notes", "value": "second reading"}]),
        "inspector",
        "authored",
    )
    a(release("R-1", "LOT-A", evidence(ip1, f1)), "approver", "released")
    a(
        scan("S-4", "ship", log.now + 30, lot="LOT-A", gs1_lot="LOT-A", consignee="Hospital A"),
        "device",
        "recorded",
    )
    cm = a(complaint("CM-1", "LOT-A", log.now + 30), "inspector", "authored")
    h1 = a(hold("H-1", "LOT-A"), "inspector", "authored")
    a(
        hold(
            "H-2",
            "LOT-A",
            "lifted",
            resolves=[cm["record_id"], h1["record_id"]],
            resolution=["C1-6"],
        ),
        "approver",
        "approved",
    )
    a(recall("RC-1", "RECALL-1", log.now + 30), "approver", "approved")
    a(field_action("FA-1", "LOT-A", "RECALL-1"), "approver", "approved")
    a(
        recall("RC-2", "DRILL-1", log.now + 30, lot=None, drill=True, supplier_id="ACME"),
        "inspector",
        "authored",
    )
    a(training("TR-1", "E-2", "final inspection", log.now - 86400), "approver", "verified")
    a(change("CHG-9", "requested"), "inspector", "authored")
    a(change("CHG-9", "assessed"), "inspector", "reviewed")
    a(change("CHG-9", "rejected"), "approver", "approved")
    a(change("CHG-10", "requested"), "inspector", "authored")
    a(change("CHG-10", "withdrawn"), "inspector", "authored")
    return log


@scenario
def release_by_inspector() -> Log:
    log = base(
        "authority/release-signed-by-an-inspector",
        "A release signed by a QA inspector: the matrix wants a QA approver.",
    )
    i = log.add(inspection("I-1", "LOT-A", log.now + 30), "inspector", "authored")
    log.add(release("R-1", "LOT-A", evidence(i)), "inspector", "released")
    return log


@scenario
def unregistered_signer() -> Log:
    log = base(
        "unauthorized/signed-by-an-unregistered-key",
        "An inspection signed by a key no signer record ever granted.",
    )
    log.add(inspection("I-1", "LOT-A", log.now + 30), "stranger", "authored")
    return log


@scenario
def release_without_inspection() -> Log:
    log = base(
        "release/no-final-inspection",
        "A release of a lot with no final inspection (a required stage).",
    )
    log.add(release("R-1", "LOT-A", []), "approver", "released")
    return log


@scenario
def stale_signature() -> Log:
    log = base(
        "time/signature-older-than-max-signature-age",
        "A person's signature accepted 20 minutes after it was made (900 s allowed).",
    )
    log.add(
        inspection("I-1", "LOT-A", log.now + 30),
        "inspector",
        "authored",
        signed_at=log.now + 60,
        accepted_at=log.now + 60 + 1200,
    )
    return log


@scenario
def ncr_skips_a_step() -> Log:
    log = base(
        "workflow/ncr-dispositioned-before-evaluated",
        "An NCR opened on a failed inspection and dispositioned without its evaluation.",
    )
    i = log.add(inspection("I-1", "LOT-A", log.now + 30, value=3.12), "inspector", "authored")
    log.add(
        workflow("ncr", "N-1", "NCR-1", "open", lot="LOT-A", refs=[i["record_id"]]),
        "inspector",
        "authored",
    )
    log.add(workflow("ncr", "N-2", "NCR-1", "dispositioned", lot="LOT-A"), "approver", "approved")
    return log


@scenario
def revoked_signer() -> Log:
    log = base(
        "unauthorized/signed-after-revocation",
        "The inspector's key is revoked; an inspection it signs afterwards.",
    )
    log.add(revoke("inspector", "REV-1"), "admin", "approved")
    log.add(inspection("I-1", "LOT-A", log.now + 30), "inspector", "authored")
    return log


@scenario
def invalid_policy() -> Log:
    return Log(
        "policy-invalid/max-signature-age-too-small",
        "policy_settings a verifier cannot use: max_signature_age below 60 s.",
        settings={**Policy().to_json(), "max_signature_age": 30},
    )


def ready(log: Log, lot: str = "LOT-A", rid: str = "I-1", who: str = "inspector") -> Json:
    """A passing final inspection of ``lot``."""
    return log.add(inspection(rid, lot, log.now + 30), who, "authored")


def failed(log: Log, lot: str = "LOT-A", rid: str = "I-1", stage: str = "final") -> Json:
    """A failed (critical) inspection of ``lot``."""
    return log.add(
        inspection(rid, lot, log.now + 30, value=3.12, stage=stage), "inspector", "authored"
    )


def ncr_through(
    log: Log, ncr: str, lot: str, refs: list[str], until: str = "closed", **disposed: Any
) -> None:
    """NCR ``ncr`` on ``lot`` from open up to ``until``; ``disposed``: the disposition's
    fields (rework by default)."""
    n = 0
    for step, who, meaning in (
        ("open", "inspector", "authored"),
        ("evaluated", "inspector", "reviewed"),
        ("dispositioned", "approver", "approved"),
        ("closed", "approver", "approved"),
    ):
        n += 1
        extra: Json = {"refs": refs} if step == "open" else {}
        if step == "dispositioned":
            extra = disposed
        log.add(workflow("ncr", f"{ncr}-{n}", ncr, step, lot=lot, **extra), who, meaning)
        if step == until:
            return


def capa_through(log: Log, capa: str, until: str, lot: str | None = "LOT-A", **fields: Any) -> None:
    steps = ("open", "investigation", "action_plan", "implementation")
    for n, step in enumerate(steps, 1):
        extra = fields.get(step, {})
        log.add(
            workflow("capa", f"{capa}-{n}", capa, step, lot=lot, **extra), "inspector", "authored"
        )
        if step == until:
            return


def broken(
    name: str,
    description: str,
    people: tuple[str, ...] = (),
    stages: tuple[str, ...] = ("final",),
    **kw: Any,
) -> Log:
    return base(name, description, stages, people, **kw)


# -- authority: the matrix, the registry's own rules -------------------------------------------


@scenario
def meaning_not_allowed() -> Log:
    log = broken(
        "authority/inspection-signed-approved",
        "An inspection signed with meaning 'approved', which no role may give it.",
    )
    log.add(inspection("I-1", "LOT-A", log.now + 30), "approver", "approved")
    return log


@scenario
def device_inspection() -> Log:
    log = broken(
        "authority/inspection-signed-by-a-device",
        "A PLC gateway's key signs an inspection as performed (devices sign scans and "
        "readings only).",
    )
    log.add(inspection("I-1", "LOT-A", log.now + 30), "device", "authored")
    return log


@scenario
def validation_recorded_and_approved() -> Log:
    log = base(
        "valid/validation-pack-recorded-and-approved",
        "A validation pack's hash recorded by the audit key (auditor, recorded), approved by a "
        "QA approver's review of that record, and a later pack approved by a QA approver's own "
        "validation record.",
        people=("auditor",),
    )
    pack = log.add(validation("VAL-1"), "auditor", "recorded")
    log.add(review("REV-VAL-1", pack, None), "approver", "approved")
    log.add(validation("VAL-2"), "approver", "approved")
    return log


@scenario
def validation_by_inspector() -> Log:
    log = broken(
        "authority/validation-recorded-by-an-inspector",
        "An inspector records a validation pack (the audit key records one, a QA approver "
        "approves one).",
    )
    log.add(validation("VAL-1"), "inspector", "recorded")
    return log


@scenario
def grant_by_inspector() -> Log:
    log = broken(
        "authority/grant-signed-by-an-inspector",
        "An inspector grants roles to a new key (only an admin approves signers).",
    )
    log.add(grant("newcomer", ["qa_inspector"], "New Comer", "E-50"), "inspector", "approved")
    return log


@scenario
def admin_self_grant() -> Log:
    log = broken(
        "authority/admin-grants-its-own-key",
        "After the bootstrap, the admin grants its own key more roles.",
    )
    log.add(
        grant("admin", ["admin", "qa_approver"], "Ada Admin", "E-1", rid="signer-admin-2"),
        "admin",
        "approved",
    )
    return log


@scenario
def admin_grants_own_person() -> Log:
    log = broken(
        "authority/admin-grants-another-key-of-its-person",
        "An admin grants QA approval to a new key of its own person (E-10).",
        people=("admin2",),
    )
    log.add(grant("boss-second-key", ["qa_approver"], "Dee Boss", "E-10"), "admin2", "approved")
    return log


@scenario
def key_changes_person() -> Log:
    log = broken(
        "authority/grant-gives-a-key-to-another-person",
        "A grant naming person E-999 for the inspector's key, which belongs to E-2.",
    )
    log.add(
        grant("inspector", ["qa_inspector"], "Dana Inspector", "E-999", rid="signer-inspector-2"),
        "admin",
        "approved",
    )
    return log


@scenario
def correction_of_verdict_by_inspector() -> Log:
    log = broken(
        "authority/correction-of-a-verdict-by-an-inspector",
        "An inspector corrects a failed inspection into a passing one (verdicts are "
        "a QA approver's to change).",
    )
    failed(log)
    log.add(
        verdict_to_pass(),
        "inspector",
        "authored",
    )
    return log


@scenario
def correction_by_production() -> Log:
    log = broken(
        "authority/production-corrects-an-inspections-sample-size",
        "Production authored an inspection and corrects its sample size (a QA role's).",
        people=("production",),
    )
    log.add(inspection("I-1", "LOT-A", log.now + 30), "production", "authored")
    log.add(
        correction("CO-1", "I-1", "LOT-A", [{"path": "/sample_size", "value": 40}]),
        "production",
        "authored",
    )
    return log


@scenario
def correction_meaning() -> Log:
    log = broken(
        "authority/correction-signed-approved",
        "A correction signed with meaning 'approved' (corrections are authored).",
    )
    ready(log)
    log.add(
        correction("CO-1", "I-1", "LOT-A", [{"path": "/sample_size", "value": 40}]),
        "approver",
        "approved",
    )
    return log


@scenario
def correction_by_another_role() -> Log:
    log = broken(
        "authority/production-corrects-an-ncr-evaluation",
        "Production corrects an NCR evaluation it may not sign (reviewed: QA only).",
        people=("production",),
    )
    failed(log)
    ncr_through(log, "NCR-1", "LOT-A", ["I-1"], until="evaluated")
    log.add(
        correction(
            "CO-1", "NCR-1-2", "LOT-A", [{"path": "/evaluation", "value": "only 3 units affected"}]
        ),
        "production",
        "authored",
    )
    return log


@scenario
def hold_lift_authored() -> Log:
    log = broken(
        "authority/hold-lifted-with-meaning-authored",
        "A QA approver lifts a hold signing 'authored' (a lift is an approval).",
    )
    i = ready(log)
    log.add(release("R-1", "LOT-A", evidence(i)), "approver", "released")
    h = log.add(hold("H-1", "LOT-A"), "inspector", "authored")
    log.add(
        hold("H-2", "LOT-A", "lifted", resolves=[h["record_id"]], resolution=["I-1"]),
        "approver",
        "authored",
    )
    return log


# -- authority: who was registered when ----------------------------------------------------------


@scenario
def revoked_in_between() -> Log:
    log = broken(
        "unauthorized/revoked-between-signing-and-acceptance",
        "The inspector signs an inspection, its key is revoked, then the inspection is accepted.",
    )
    t = log.now + 60
    log.add(revoke("inspector", "REV-1"), "admin", "approved", signed_at=t + 10)
    log.add(
        inspection("I-1", "LOT-A", t - 30),
        "inspector",
        "authored",
        signed_at=t,
        accepted_at=t + 100,
    )
    return log


@scenario
def compromised_device() -> Log:
    log = broken(
        "unauthorized/device-key-reported-compromised",
        "The PLC gateway's key is revoked as compromised; a reading it claims to "
        "have captured before is accepted afterwards (a device keeps its capture "
        "time, a compromised key signs nothing more).",
    )
    t = log.now
    log.add(revoke("device", "REV-1", compromised=True), "admin", "approved")
    log.add(reading("P-1", "LOT-A", t - 60, 210.0), "device", "recorded", signed_at=t - 30)
    return log


@scenario
def withdrawn_grant() -> Log:
    log = broken(
        "unauthorized/key-granted-by-a-stranger",
        "A key no one registered grants a newcomer the QA approver role; the "
        "newcomer then releases a lot: neither had authority.",
    )
    i = ready(log)
    log.add(grant("newcomer", ["qa_approver"], "New Comer", "E-50"), "stranger", "approved")
    log.add(release("R-1", "LOT-A", evidence(i)), "newcomer", "released")
    return log


@scenario
def withdrawn_by_rules() -> Log:
    log = broken(
        "authority/self-granted-key-then-used",
        "An admin grants a second key of its own person the QA approver role (refused "
        "by the rules, so withdrawn from the registry); that key then releases a lot.",
        people=("admin2",),
    )
    i = ready(log)
    log.add(grant("boss-second-key", ["qa_approver"], "Dee Boss", "E-10"), "admin2", "approved")
    log.add(release("R-1", "LOT-A", evidence(i)), "boss-second-key", "released")
    return log


@scenario
def regrant_after_revoke() -> Log:
    log = base(
        "valid/revoked-then-granted-again",
        "The inspector's key is revoked, then granted again under a new name; its "
        "signatures in each active period count, and carry the name of their time.",
    )
    ready(log, rid="I-0")
    log.add(revoke("inspector", "REV-1"), "admin", "approved")
    log.add(
        grant(
            "inspector", ["qa_inspector"], "Dana Inspector-Smith", "E-2", rid="signer-inspector-2"
        ),
        "admin",
        "approved",
    )
    i = ready(log)
    log.add(release("R-1", "LOT-A", evidence(i)), "approver", "released")
    return log


# -- segregation of duties ---------------------------------------------------------------------


@scenario
def inspector_releaser() -> Log:
    log = broken(
        "duties/inspector-releases-its-own-lot",
        "Ann, inspector and approver, inspects a lot and releases it.",
        people=("ann",),
    )
    i = ready(log, who="ann")
    log.add(release("R-1", "LOT-A", evidence(i)), "ann", "released")
    return log


@scenario
def ncr_opener_dispositioner() -> Log:
    log = broken(
        "duties/ncr-dispositioned-by-its-opener-with-another-key",
        "Ann opens an NCR with one key and dispositions it with another of hers.",
        people=("ann", "ann2"),
    )
    failed(log)
    log.add(workflow("ncr", "N-1", "NCR-1", "open", lot="LOT-A", refs=["I-1"]), "ann", "authored")
    log.add(workflow("ncr", "N-2", "NCR-1", "evaluated", lot="LOT-A"), "inspector", "reviewed")
    log.add(
        workflow(
            "ncr",
            "N-3",
            "NCR-1",
            "dispositioned",
            lot="LOT-A",
            disposition="scrap",
            rationale="Units cannot be re-drawn",
        ),
        "ann2",
        "approved",
    )
    return log


@scenario
def capa_implementer_checker() -> Log:
    log = broken(
        "duties/capa-checked-by-its-implementer",
        "Ann implements a CAPA's action and checks its effectiveness.",
        people=("ann",),
    )
    capa_through(log, "CAPA-1", "action_plan")
    log.add(
        workflow("capa", "CAPA-1-4", "CAPA-1", "implementation", lot="LOT-A"), "ann", "authored"
    )
    log.add(
        workflow(
            "capa", "CAPA-1-5", "CAPA-1", "effectiveness_check", lot="LOT-A", data=["CAPA-1-4"]
        ),
        "ann",
        "verified",
    )
    return log


@scenario
def capa_owner_canceller() -> Log:
    log = broken(
        "duties/capa-cancelled-by-its-opener", "Ann opens a CAPA and cancels it.", people=("ann",)
    )
    log.add(workflow("capa", "K-1", "CAPA-2", "open", lot="LOT-A"), "ann", "authored")
    log.add(workflow("capa", "K-2", "CAPA-2", "cancelled", lot="LOT-A"), "ann", "approved")
    return log


@scenario
def change_requester_approver() -> Log:
    log = broken(
        "duties/change-approved-by-its-requester",
        "Ann requests a change and approves it.",
        people=("ann",),
    )
    log.add(change("CHG-7", "requested"), "ann", "authored")
    log.add(change("CHG-7", "assessed"), "inspector", "reviewed")
    log.add(change("CHG-7", "approved"), "ann", "approved")
    return log


@scenario
def review_by_signer() -> Log:
    log = broken(
        "duties/review-by-the-corrections-signer",
        "The approver corrects a verdict and co-signs its own correction.",
    )
    failed(log)
    c = log.add(
        verdict_to_pass(),
        "approver",
        "authored",
    )
    log.add(review("RV-1", c, "LOT-A"), "approver", "approved")
    return log


@scenario
def no_duties_policy() -> Log:
    log = broken(
        "valid/policy-without-duties",
        "The inspector_releaser case under a policy with no duties: allowed.",
        people=("ann",),
        settings={**Policy().to_json(), "duties": []},
    )
    i = ready(log, who="ann")
    log.add(release("R-1", "LOT-A", evidence(i)), "ann", "released")
    return log


@scenario
def custom_duty() -> Log:
    log = broken(
        "duties/custom-duty-reviewer-verifier",
        "A policy whose duty reviewer_verifier forbids the person who reviewed an inspection "
        "to verify one on the same lot (two duties before it never apply: one scoped to a "
        "workflow entity on inspections, one scoped to a lot on changes, which have none; "
        "neither states its text).",
        people=("ann",),
        settings={
            **Policy().to_json(),
            "duties": [
                {
                    "name": "entity_scoped_on_inspections",
                    "first": "inspection/*/authored",
                    "second": "inspection/*/verified",
                    "scope": "entity",
                },
                {
                    "name": "lot_scoped_on_changes",
                    "first": "change/requested/*",
                    "second": "change/approved/*",
                    "scope": "lot",
                },
                {
                    "name": "reviewer_verifier",
                    "first": "inspection/*/reviewed",
                    "second": "inspection/*/verified",
                    "scope": "lot",
                    "text": "one person does not both review and verify a lot's inspections",
                },
            ],
        },
    )
    ready(log)
    log.add(inspection("I-2", "LOT-A", log.now + 30), "ann", "reviewed")
    log.add(inspection("I-3", "LOT-A", log.now + 30), "ann", "verified")
    return log


# -- time ----------------------------------------------------------------------------------------


@scenario
def signed_in_the_future() -> Log:
    log = broken(
        "time/signed-after-its-acceptance",
        "A signing time 10 minutes after the acceptance (300 s of clock skew allowed).",
    )
    t = log.now + 60
    log.add(
        inspection("I-1", "LOT-A", t - 30),
        "inspector",
        "authored",
        signed_at=t + 600,
        accepted_at=t,
    )
    return log


@scenario
def inspected_after_signing() -> Log:
    log = broken(
        "time/inspected-after-it-was-signed",
        "An inspection whose inspected_at is an hour after its signature.",
    )
    log.add(inspection("I-1", "LOT-A", log.now + 3600), "inspector", "authored")
    return log


@scenario
def inspection_lag() -> Log:
    log = broken(
        "time/inspection-signed-eight-days-late",
        "An inspection signed eight days after it was made (seven allowed).",
    )
    log.add(inspection("I-1", "LOT-A", log.now - 8 * 86400), "inspector", "authored")
    return log


@scenario
def calibration_after_signing() -> Log:
    log = broken(
        "time/calibration-signed-before-it-was-made",
        "A calibration whose calibrated_at is a day after its signature.",
    )
    log.add(calibration("cal-2", calibrated_at=iso(log.now + 86400)), "author", "verified")
    return log


@scenario
def step_back_in_time() -> Log:
    log = broken(
        "time/ncr-step-signed-before-the-step-it-follows",
        "An NCR's evaluation signed five minutes before its opening was.",
    )
    failed(log)
    t = log.now + 60
    log.add(
        workflow("ncr", "N-1", "NCR-1", "open", lot="LOT-A", refs=["I-1"]),
        "inspector",
        "authored",
        signed_at=t,
    )
    log.add(
        workflow("ncr", "N-2", "NCR-1", "evaluated", lot="LOT-A"),
        "inspector",
        "reviewed",
        signed_at=t - 300,
        accepted_at=t + 60,
    )
    return log


@scenario
def device_keeps_capture_time() -> Log:
    log = base(
        "valid/device-reading-delivered-a-day-late",
        "A reading captured a day before it reaches the ledger (a device's outbox): "
        "devices keep their capture time.",
    )
    t = log.now + 60
    log.add(
        reading("P-1", "LOT-A", t - 1, 210.0),
        "device",
        "recorded",
        signed_at=t,
        accepted_at=t + 86400,
    )
    return log


@scenario
def longer_signature_age() -> Log:
    log = base(
        "valid/policy-max-signature-age-one-hour",
        "The 20-minute-old signature under a policy allowing an hour.",
        settings={**Policy().to_json(), "max_signature_age": 3600},
    )
    log.add(
        inspection("I-1", "LOT-A", log.now + 30),
        "inspector",
        "authored",
        signed_at=log.now + 60,
        accepted_at=log.now + 60 + 1200,
    )
    return log


@scenario
def no_clock_skew() -> Log:
    log = broken(
        "time/policy-without-clock-skew",
        "A signature 5 s ahead of the acceptance under max_clock_skew 0.",
        settings={**Policy().to_json(), "max_clock_skew": 0, "max_inspection_lag": 3600},
    )
    t = log.now + 60
    log.add(
        inspection("I-1", "LOT-A", t - 30), "inspector", "authored", signed_at=t + 5, accepted_at=t
    )
    return log


@scenario
def short_inspection_lag() -> Log:
    log = broken(
        "time/policy-inspection-lag-one-hour",
        "An inspection signed two hours after it was made under max_inspection_lag 3600.",
        settings={**Policy().to_json(), "max_inspection_lag": 3600},
    )
    log.add(inspection("I-1", "LOT-A", log.now - 7200), "inspector", "authored")
    return log


# -- workflows -----------------------------------------------------------------------------------


@scenario
def capa_closed_ineffective() -> Log:
    log = broken(
        "workflow/capa-closed-after-an-ineffective-check",
        "A CAPA closed after its effectiveness check found the action not effective.",
    )
    capa_through(log, "CAPA-1", "implementation")
    log.add(
        workflow(
            "capa",
            "CAPA-1-5",
            "CAPA-1",
            "effectiveness_check",
            lot="LOT-A",
            data=["CAPA-1-4"],
            effective=False,
        ),
        "approver",
        "verified",
    )
    log.add(workflow("capa", "CAPA-1-6", "CAPA-1", "closed", lot="LOT-A"), "approver", "approved")
    return log


@scenario
def capa_ineffective_loop() -> Log:
    log = base(
        "valid/capa-ineffective-back-to-investigation",
        "An ineffective CAPA goes back to investigation, through its steps again, and "
        "closes once effective.",
    )
    capa_through(log, "CAPA-1", "implementation")
    log.add(
        workflow(
            "capa",
            "CAPA-1-5",
            "CAPA-1",
            "effectiveness_check",
            lot="LOT-A",
            data=["CAPA-1-4"],
            effective=False,
        ),
        "approver",
        "verified",
    )
    for n, step in enumerate(("investigation", "action_plan", "implementation"), 6):
        log.add(
            workflow("capa", f"CAPA-1-{n}", "CAPA-1", step, lot="LOT-A"), "inspector", "authored"
        )
    log.add(
        workflow(
            "capa", "CAPA-1-9", "CAPA-1", "effectiveness_check", lot="LOT-A", data=["CAPA-1-8"]
        ),
        "approver",
        "verified",
    )
    log.add(workflow("capa", "CAPA-1-10", "CAPA-1", "closed", lot="LOT-A"), "approver", "approved")
    return log


@scenario
def ncr_closed_capa_missing() -> Log:
    log = broken(
        "workflow/ncr-closed-before-its-capa-opened",
        "An NCR names CAPA-9 at its disposition and closes before CAPA-9 exists.",
    )
    failed(log)
    ncr_through(
        log,
        "NCR-1",
        "LOT-A",
        ["I-1"],
        disposition="scrap",
        rationale="Units cannot be re-drawn",
        capa_id="CAPA-9",
    )
    return log


@scenario
def capa_names_unknown_ncr() -> Log:
    log = broken(
        "workflow/capa-opened-on-an-unknown-ncr",
        "A CAPA opened naming NCR-404, which was never opened.",
    )
    log.add(
        workflow("capa", "C-1", "CAPA-1", "open", lot="LOT-A", ncr_id="NCR-404"),
        "inspector",
        "authored",
    )
    return log


@scenario
def capa_check_unlogged_data() -> Log:
    log = broken(
        "workflow/capa-effectiveness-check-cites-unlogged-data",
        "An effectiveness check resting on DATA-1, which is no logged record.",
    )
    capa_through(log, "CAPA-1", "implementation")
    log.add(
        workflow("capa", "CAPA-1-5", "CAPA-1", "effectiveness_check", lot="LOT-A"),
        "approver",
        "verified",
    )
    return log


@scenario
def capa_check_too_early() -> Log:
    log = broken(
        "workflow/capa-effectiveness-checked-too-early",
        "An action plan sets the check 30 days after implementation; it is checked the same hour.",
    )
    capa_through(log, "CAPA-1", "implementation", action_plan={"check_after_days": 30})
    log.add(
        workflow(
            "capa", "CAPA-1-5", "CAPA-1", "effectiveness_check", lot="LOT-A", data=["CAPA-1-4"]
        ),
        "approver",
        "verified",
    )
    return log


@scenario
def ncr_unknown_refs() -> Log:
    log = broken(
        "workflow/ncr-refs-name-no-record-of-the-lot",
        "An NCR on LOT-A citing an inspection of LOT-B and an unknown id.",
    )
    ready(log, "LOT-B", "I-B")
    log.add(
        workflow("ncr", "N-1", "NCR-1", "open", lot="LOT-A", refs=["I-B", "X-1"]),
        "inspector",
        "authored",
    )
    return log


@scenario
def ncr_other_lot() -> Log:
    log = broken("workflow/ncr-step-on-another-lot", "An NCR opened on LOT-A evaluated on LOT-B.")
    failed(log)
    log.add(
        workflow("ncr", "N-1", "NCR-1", "open", lot="LOT-A", refs=["I-1"]), "inspector", "authored"
    )
    log.add(workflow("ncr", "N-2", "NCR-1", "evaluated", lot="LOT-B"), "inspector", "reviewed")
    return log


@scenario
def rework_closed_untested() -> Log:
    log = broken(
        "workflow/rework-ncr-closed-without-reinspection",
        "An NCR dispositioned rework closes with no passing re-inspection since.",
    )
    failed(log)
    ncr_through(log, "NCR-1", "LOT-A", ["I-1"])
    return log


@scenario
def change_finished() -> Log:
    log = broken("workflow/change-step-after-rejection", "A change rejected, then approved.")
    log.add(change("CHG-7", "requested"), "inspector", "authored")
    log.add(change("CHG-7", "assessed"), "inspector", "reviewed")
    log.add(change("CHG-7", "rejected"), "approver", "approved")
    log.add(change("CHG-7", "approved"), "approver", "approved")
    return log


@scenario
def capa_cancelled_twice() -> Log:
    log = broken(
        "workflow/capa-step-after-cancellation", "A cancelled CAPA goes on to its investigation."
    )
    log.add(workflow("capa", "K-1", "CAPA-2", "open", lot="LOT-A"), "inspector", "authored")
    log.add(workflow("capa", "K-2", "CAPA-2", "cancelled", lot="LOT-A"), "approver", "approved")
    log.add(
        workflow("capa", "K-3", "CAPA-2", "investigation", lot="LOT-A"), "inspector", "authored"
    )
    return log


# -- release gating ------------------------------------------------------------------------------


def released(
    log: Log,
    *proof: Json,
    rid: str = "R-1",
    who: str = "approver",
    lot: str = "LOT-A",
    **extra: Any,
) -> Json:
    return log.add(release(rid, lot, evidence(*proof), **extra), who, "released")


@scenario
def release_concession() -> Log:
    log = broken(
        "release/release-carries-a-concession",
        "A release that carries a concession of its own (granted only through an NCR).",
    )
    i = ready(log)
    released(
        log,
        i,
        concession={
            "rationale": "Deviation assessed by R&D as without effect",
            "deviations": ["outer diameter 3.06 mm"],
        },
    )
    return log


@scenario
def release_other_product() -> Log:
    log = broken(
        "release/release-of-another-product",
        "A release naming a product the lot's inspections are not of.",
    )
    i = ready(log)
    released(log, i, product={"gtin": OTHER_GTIN})
    return log


@scenario
def release_twice() -> Log:
    log = broken("release/already-released", "A lot released twice.")
    i = ready(log)
    released(log, i)
    released(log, i, rid="R-2", who="approver2")
    return log


@scenario
def release_after_recall() -> Log:
    log = broken(
        "release/recalled-lot-released-again",
        "A lot released, recalled by a field action, then released again.",
    )
    i = ready(log)
    released(log, i)
    log.add(field_action("FA-1", "LOT-A"), "approver", "approved")
    released(log, i, rid="R-2", who="approver2")
    return log


@scenario
def release_after_rejection() -> Log:
    log = broken(
        "release/rejected-lot-released",
        "A lot rejected, then released with no rework NCR reopening it.",
    )
    i = ready(log)
    released(log, i, rid="R-0", decision="rejected")
    released(log, i)
    return log


@scenario
def reopened_by_rework() -> Log:
    log = base(
        "valid/rejected-lot-reopened-by-rework",
        "A failed lot rejected, an NCR dispositions rework, the re-inspection passes, "
        "the NCR closes, and the lot is released.",
    )
    i = failed(log)
    released(log, i, rid="R-0", decision="rejected")
    ncr_through(log, "NCR-1", "LOT-A", ["I-1"], until="dispositioned")
    again = ready(log, rid="I-2")
    log.add(workflow("ncr", "NCR-1-4", "NCR-1", "closed", lot="LOT-A"), "approver", "approved")
    released(log, i, again)
    return log


@scenario
def failed_unanswered() -> Log:
    log = broken(
        "release/failed-result-unanswered",
        "A failed final inspection, then a passing one, and a release: the failure "
        "was never investigated.",
    )
    i = failed(log)
    j = ready(log, rid="I-2")
    released(log, i, j)
    return log


@scenario
def open_ncr() -> Log:
    log = broken("release/open-ncr", "A release while an NCR on the lot is open.")
    i = ready(log)
    log.add(
        workflow("ncr", "N-1", "NCR-1", "open", lot="LOT-A", refs=["I-1"]), "inspector", "authored"
    )
    released(log, i)
    return log


@scenario
def open_alert() -> Log:
    log = broken("release/open-alert", "A release while an alert on the lot is open.")
    i = ready(log)
    log.add(alert("AL-1", "ALERT-1", "LOT-A", refs=["I-1"]), "inspector", "authored")
    released(log, i)
    return log


@scenario
def open_excursions() -> Log:
    log = broken(
        "release/open-excursions",
        "A release while a single out-of-limit reading and a run of three are not "
        "dispositioned (one NCR clears the first excursion of another tag).",
    )
    for n, (tag, value) in enumerate(
        (
            ("TZ1", 230.0),
            ("TZ2", 210.0),
            ("TZ2", 231.0),
            ("TZ2", 229.5),
            ("TZ2", 240.25),
            ("TZ2", 212.0),
            ("TZ3", 250.0),
        ),
        1,
    ):
        log.add(reading(f"P-{n}", "LOT-A", log.now + 30, value, tag=tag), "device", "recorded")
    ncr_through(
        log,
        "NCR-1",
        "LOT-A",
        ["P-7"],
        disposition="scrap",
        rationale="Zone 3 overheated: the units are scrapped",
    )
    i = ready(log)
    released(log, i)
    return log


@scenario
def excursion_cleared() -> Log:
    log = base(
        "valid/excursion-cleared-through-its-alert",
        "A run of out-of-limit readings; QA raises an alert naming one, an NCR "
        "dispositions the alert (use as is, the tag conceded) and closes; release.",
    )
    for n, value in enumerate((231.0, 229.5, 212.0), 1):
        log.add(reading(f"P-{n}", "LOT-A", log.now + 30, value), "device", "recorded")
    log.add(alert("AL-1", "ALERT-1", "LOT-A", refs=["P-2"]), "approver2", "authored")
    ncr_through(
        log,
        "NCR-1",
        "LOT-A",
        ["ALERT-1"],
        disposition="use_as_is",
        rationale="Zone 2 excursion assessed without effect on the shaft",
        concession=ncr_concession("TZ2"),
    )
    i = ready(log)
    released(log, i)
    return log


@scenario
def evidence_other_lot() -> Log:
    log = broken(
        "release/evidence-not-a-record-of-the-lot",
        "A release citing an inspection of another lot besides its own.",
    )
    b = ready(log, "LOT-B", "I-B")
    i = ready(log)
    released(log, b, i)
    return log


@scenario
def evidence_hash() -> Log:
    log = broken(
        "release/evidence-hash-differs",
        "A release citing its inspection with the hash of another record.",
    )
    i = ready(log)
    log.add(
        release("R-1", "LOT-A", [{"record_id": "I-1", "record_hash": record_hash({"x": 1}).hex()}]),
        "approver",
        "released",
    )
    del i
    return log


@scenario
def evidence_not_latest() -> Log:
    log = broken(
        "release/evidence-omits-the-latest-inspection",
        "Two passing final inspections; the release cites only the first.",
    )
    i = ready(log)
    ready(log, rid="I-2")
    released(log, i)
    return log


@scenario
def correction_unreviewed() -> Log:
    log = broken(
        "release/corrected-verdict-not-co-signed",
        "An approver corrects a failed verdict into a pass; no second approver "
        "co-signs it before the release.",
    )
    i = failed(log)
    log.add(
        verdict_to_pass(),
        "approver",
        "authored",
    )
    released(log, i, who="approver2")
    return log


def conceded(
    log: Log, valid_until: str = "2099-01-01T00:00:00Z", review_it: bool = False, close: bool = True
) -> Json:
    """A failed critical final inspection conceded (use as is) by NCR-1; reviewed and closed
    when told."""
    i = failed(log)
    ncr_through(
        log,
        "NCR-1",
        "LOT-A",
        ["I-1"],
        until="dispositioned",
        disposition="use_as_is",
        rationale="Deviation of 0.07 mm assessed by R&D as without clinical effect",
        concession=ncr_concession("outer diameter", valid_until=valid_until),
    )
    if review_it:
        d = workflow(
            "ncr",
            "NCR-1-3",
            "NCR-1",
            "dispositioned",
            lot="LOT-A",
            disposition="use_as_is",
            rationale="Deviation of 0.07 mm assessed by R&D as without clinical effect",
            concession=ncr_concession("outer diameter", valid_until=valid_until),
        )
        log.add(review("RV-1", d, "LOT-A"), "approver2", "approved")
    if close:
        log.add(workflow("ncr", "NCR-1-4", "NCR-1", "closed", lot="LOT-A"), "approver", "approved")
    return i


@scenario
def concession_ok() -> Log:
    log = base(
        "valid/critical-failure-conceded-and-co-signed",
        "A critical failure conceded by an NCR (use as is), its disposition co-signed "
        "by a second QA approver, the NCR closed, the lot released.",
    )
    i = conceded(log, review_it=True)
    released(log, i)
    return log


@scenario
def concession_unreviewed() -> Log:
    log = broken(
        "release/critical-concession-not-co-signed",
        "A critical failure conceded by one approver only.",
    )
    i = conceded(log)
    released(log, i)
    return log


@scenario
def concession_expired() -> Log:
    log = broken(
        "release/concession-expired",
        "A concession valid for an hour; the release comes two hours later.",
    )
    until = iso(log.now + 60 * 8 + 3600)
    i = conceded(log, valid_until=until, review_it=True)
    log.add(release("R-1", "LOT-A", evidence(i)), "approver", "released", step=7200)
    return log


@scenario
def rework_not_reinspected() -> Log:
    log = broken(
        "release/reworked-not-reinspected",
        "A failed lot dispositioned rework and released without re-inspection.",
    )
    i = failed(log)
    ncr_through(log, "NCR-1", "LOT-A", ["I-1"], until="dispositioned")
    released(log, i)
    return log


@scenario
def scrapped() -> Log:
    log = broken(
        "release/scrapped-lot-released", "A lot dispositioned scrap by a closed NCR, then released."
    )
    i = failed(log)
    ncr_through(
        log, "NCR-1", "LOT-A", ["I-1"], disposition="scrap", rationale="Units cannot be re-drawn"
    )
    released(log, i)
    return log


@scenario
def attested_only() -> Log:
    log = broken(
        "release/final-inspection-only-attested",
        "The only final inspection was signed 'verified' by an approver (attesting "
        "another's work): no inspection was signed as performed.",
    )
    i = log.add(inspection("I-1", "LOT-A", log.now + 30), "approver", "verified")
    released(log, i, who="approver2")
    return log


@scenario
def suspect_instrument() -> Log:
    log = broken(
        "release/instrument-found-out-of-tolerance",
        "After the final inspection, the micrometer's next calibration finds it out "
        "of tolerance (it is adjusted and passes): the inspection is suspect.",
    )
    i = ready(log)
    log.add(
        calibration("cal-2", as_found="out_of_tolerance", calibrated_at=iso(log.now + 30)),
        "author",
        "verified",
    )
    released(log, i)
    return log


@scenario
def supplier_not_approved() -> Log:
    log = broken(
        "release/material-from-an-unapproved-supplier",
        "An incoming inspection of material from supplier BADCO (disqualified) "
        "consumed into the lot; released without an NCR.",
        stages=("incoming", "final"),
    )
    log.add(supplier("SUP-1", "BADCO", "disqualified"), "approver", "approved")
    m = log.add(
        inspection(
            "I-M", "LOT-A", log.now + 30, stage="incoming", material_lot="MAT-1", supplier="BADCO"
        ),
        "inspector",
        "authored",
    )
    i = ready(log)
    released(log, m, i)
    return log


@scenario
def supplier_unknown() -> Log:
    log = broken(
        "release/material-from-a-supplier-never-approved",
        "Material received by scan from supplier NOBODY, which has no supplier "
        "record, inspected and consumed into the lot.",
    )
    log.add(
        received(log, "NOBODY"),
        "device",
        "recorded",
    )
    ready(log, "MAT-1", "I-M")
    log.add(
        scan("S-2", "produce", log.now + 30, lot="LOT-A", gs1_lot="LOT-A"), "device", "recorded"
    )
    log.add(scan("S-3", "consume", log.now + 30, gs1_lot="SUP-LOT-9"), "device", "recorded")
    i = ready(log)
    released(log, i)
    return log


@scenario
def shipped_unreleased() -> Log:
    log = broken("release/shipped-before-release", "The lot is shipped, then released.")
    i = ready(log)
    log.add(
        scan("S-1", "ship", log.now + 30, lot="LOT-A", gs1_lot="LOT-A", consignee="Hospital A"),
        "device",
        "recorded",
    )
    released(log, i)
    return log


@scenario
def pallet_shipped_unreleased() -> Log:
    log = broken(
        "release/pallet-shipped-before-release",
        "The lot is packed onto a pallet, the pallet shipped by its SSCC, then the lot "
        "is released.",
    )
    i = ready(log)
    log.add(
        scan("S-1", "pack", log.now + 30, lot="LOT-A", gs1_lot="LOT-A", pallet=SSCC),
        "device",
        "recorded",
    )
    log.add(
        scan(
            "S-2",
            "ship",
            log.now + 30,
            gtin=None,
            station="DOCK-2",
            consignee="Hospital A",
            gs1_sscc=SSCC,
        ),
        "device",
        "recorded",
    )
    released(log, i)
    return log


def consumed(log: Log, material: list[Json], settings: Json | None = None) -> Log:
    for body, who, meaning in material:
        log.add(body, who, meaning)
    log.add(
        scan("S-1", "consume", log.now + 30, lot="LOT-A", gs1_lot="MAT-1"), "device", "recorded"
    )
    i = ready(log)
    released(log, i)
    return log


@scenario
def material_unverified() -> Log:
    log = broken(
        "release/material-consumed-unverified",
        "Material lot MAT-1, never inspected nor released, consumed into the lot.",
    )
    return consumed(log, [])


@scenario
def material_unless_refused() -> Log:
    log = base(
        "valid/policy-material-acceptance-unless-refused",
        "The unverified material consumed under material_acceptance unless_refused.",
        settings={**Policy().to_json(), "material_acceptance": "unless_refused"},
    )
    return consumed(log, [])


@scenario
def material_quarantined() -> Log:
    log = broken(
        "release/material-consumed-while-quarantined",
        "Material lot MAT-1 quarantined by a release decision, then consumed, under "
        "unless_refused.",
        settings={**Policy().to_json(), "material_acceptance": "unless_refused"},
    )
    return consumed(
        log, [(release("R-M", "MAT-1", [], decision="quarantined"), "approver", "released")]
    )


@scenario
def material_failed() -> Log:
    log = broken(
        "release/material-consumed-with-a-failed-result",
        "Material lot MAT-1 failed its inspection, nothing answered it, and it was consumed.",
    )
    return consumed(
        log, [(inspection("I-M", "MAT-1", log.now + 30, value=3.12), "inspector", "authored")]
    )


@scenario
def material_released() -> Log:
    log = base(
        "valid/material-released-then-consumed",
        "Material lot MAT-1 inspected and released, then consumed into the lot.",
    )
    m = inspection("I-M", "MAT-1", log.now + 30)
    return consumed(
        log,
        [
            (m, "inspector", "authored"),
            (release("R-M", "MAT-1", evidence(m)), "approver", "released"),
        ],
    )


@scenario
def qualified_person_required() -> Log:
    log = broken(
        "qualification/release-needs-a-qualified-person",
        "Under qualified_person_release, a release by a QA approver.",
        settings={**Policy().to_json(), "qualified_person_release": True},
    )
    i = ready(log)
    released(log, i)
    return log


@scenario
def qualified_person_release() -> Log:
    log = base(
        "valid/policy-qualified-person-release",
        "Under qualified_person_release, a release by the Qualified Person.",
        people=("qp",),
        settings={**Policy().to_json(), "qualified_person_release": True},
    )
    i = ready(log)
    released(log, i, who="qp")
    return log


QUALIFIED = {
    **Policy().to_json(),
    "qualifications": [{"task": "final inspection", "signature": "inspection/*/authored"}],
}


@scenario
def untrained() -> Log:
    log = broken(
        "qualification/inspector-without-training",
        "A policy asking a training record for final inspection; the inspector has none.",
        settings=QUALIFIED,
    )
    ready(log)
    return log


@scenario
def trained() -> Log:
    log = base(
        "valid/policy-qualification-with-training",
        "The same policy; QA records the inspector's training first.",
        settings=QUALIFIED,
    )
    log.add(training("TR-1", "E-2", "final inspection", log.now - 86400), "approver", "verified")
    i = ready(log)
    released(log, i)
    return log


@scenario
def training_expired() -> Log:
    log = broken(
        "qualification/training-expired",
        "The inspector's training expired an hour before the inspection.",
        settings=QUALIFIED,
    )
    log.add(
        training("TR-1", "E-2", "final inspection", log.now - 86400, log.now),
        "approver",
        "verified",
    )
    log.add(inspection("I-1", "LOT-A", log.now + 3500), "inspector", "authored", step=3600)
    return log


@scenario
def stages_policy() -> Log:
    log = broken(
        "release/policy-requires-in-process",
        "Required stages in_process and final; only a final inspection.",
        stages=("in_process", "final"),
        settings={**Policy().to_json(), "required_stages": ["in_process", "final"]},
    )
    i = ready(log)
    released(log, i)
    return log


@scenario
def no_stages_policy() -> Log:
    log = base(
        "valid/policy-requires-no-stage",
        "Required stages none: a release citing no inspection.",
        settings={**Policy().to_json(), "required_stages": []},
    )
    released(log)
    return log


@scenario
def legacy() -> Log:
    log = Log(
        "valid/legacy-inspection-before-specifications",
        "A ledger with no specification yet: an inspection/1 stating its own limits, released.",
    )
    team(log)
    body = {
        **inspection("I-1", "LOT-A", log.now + 30),
        "schema": "inspection/1",
        "equipment": ["laser micrometer LM-1"],
    }
    del body["specification"], body["characteristics"][0]["equipment"]
    i = log.add(body, "inspector", "authored")
    released(log, i)
    return log


def incoming_material(name: str, description: str, lag: int) -> Log:
    log = base(name, description, stages=("incoming", "final"))
    log.add(supplier("SUP-1", "ACME"), "approver", "approved")
    m = log.add(
        inspection(
            "I-M",
            "LOT-A",
            log.now + 60 - lag,
            stage="incoming",
            material_lot="MAT-1",
            supplier="ACME",
        ),
        "inspector",
        "authored",
    )
    i = ready(log)
    released(log, m, i)
    return log


@scenario
def incoming_material_inspected() -> Log:
    return incoming_material(
        "valid/incoming-inspection-names-its-material-signed-at-once",
        "Supplier ACME approved; an incoming inspection of the lot, signed the second it was "
        "made, names material lot MAT-1 received from ACME; final inspection; release.",
        0,
    )


@scenario
def incoming_material_signed_later() -> Log:
    return incoming_material(
        "valid/incoming-inspection-names-its-material-signed-30-s-later",
        "The same, the incoming inspection signed 30 s after it was made: the input link it "
        "proves is dated inspected_at, before its signature, and the inspection verifies the "
        "material all the same (it once raised a 'consumed while not verified' alert, which "
        "made the README's QA story fail when the inspection was signed a second later).",
        30,
    )


# -- corrections ---------------------------------------------------------------------------------


def corrected(
    name: str,
    description: str,
    corrects: str,
    changes: list[Json],
    lot: str | None = "LOT-A",
    who: str = "approver",
    before: Callable[[Log, Json], Any] | None = None,
    **kw: Any,
) -> Log:
    log = broken(name, description, **kw)
    i = ready(log)
    if before is not None:
        before(log, i)
    log.add(correction("CO-1", corrects, lot, changes), who, "authored")
    return log


@scenario
def correction_not_found() -> Log:
    return corrected(
        "correction/of-a-record-never-logged",
        "A correction of I-404, which is no logged record.",
        "I-404",
        [{"path": "/sample_size", "value": 40}],
    )


@scenario
def correction_of_release() -> Log:
    def rel(log: Log, i: Json) -> None:
        released(log, i)

    return corrected(
        "correction/of-a-release",
        "A correction of a release decision.",
        "R-1",
        [{"path": "/statement", "value": "reviewed again"}],
        before=rel,
    )


@scenario
def correction_of_signer() -> Log:
    return corrected(
        "correction/of-a-signer-grant",
        "A correction of the inspector's grant (printed name).",
        "signer-inspector",
        [{"path": "/name", "value": "Dana Smith"}],
        lot=None,
    )


@scenario
def correction_lot() -> Log:
    return corrected(
        "correction/names-another-lot",
        "A correction of LOT-A's inspection naming LOT-B.",
        "I-1",
        [{"path": "/sample_size", "value": 40}],
        lot="LOT-B",
    )


@scenario
def correction_protected() -> Log:
    return corrected(
        "correction/of-a-protected-field",
        "A correction of an inspection's stage.",
        "I-1",
        [{"path": "/stage", "value": "in_process"}],
    )


@scenario
def correction_of_step() -> Log:
    def ncr(log: Log, _: Json) -> None:
        log.add(
            workflow("ncr", "N-1", "NCR-1", "open", lot="LOT-A", refs=["I-1"]),
            "inspector",
            "authored",
        )

    return corrected(
        "correction/of-an-ncr-step",
        "A correction of an NCR's step (a workflow moves by its own steps).",
        "N-1",
        [{"path": "/step", "value": "closed"}],
        before=ncr,
    )


@scenario
def correction_no_field() -> Log:
    return corrected(
        "correction/path-not-in-the-original",
        "A correction of /notes, which the inspection does not have.",
        "I-1",
        [{"path": "/notes", "value": "added later"}],
    )


@scenario
def correction_no_element() -> Log:
    return corrected(
        "correction/no-such-element",
        "A correction of the sixth characteristic of an inspection that has one.",
        "I-1",
        [{"path": "/characteristics/5/value", "value": 3.0}],
    )


@scenario
def correction_deep_missing() -> Log:
    return corrected(
        "correction/path-through-a-missing-field",
        "A correction of /product/name/first (no such parent).",
        "I-1",
        [{"path": "/product/name/first", "value": "shaft"}],
    )


@scenario
def correction_invalid_result() -> Log:
    return corrected(
        "correction/would-make-the-record-invalid",
        "A correction of a passing value to one outside the limits, keeping the pass verdict.",
        "I-1",
        [{"path": "/characteristics/0/value", "value": 3.2}],
    )


@scenario
def correction_differs_from_spec() -> Log:
    return corrected(
        "specification/correction-makes-the-inspection-differ",
        "An approver corrects an inspection's lower limit away from its specification's.",
        "I-1",
        [{"path": "/characteristics/0/lower", "value": 2.9}],
    )


@scenario
def correction_of_correction() -> Log:
    def first(log: Log, _: Json) -> None:
        log.add(
            correction("CO-0", "I-1", "LOT-A", [{"path": "/sample_size", "value": 40}]),
            "approver",
            "authored",
        )

    return corrected(
        "correction/of-a-correction",
        "A correction of another correction.",
        "CO-0",
        [{"path": "/reason", "value": "another reason"}],
        before=first,
    )


@scenario
def corrections_chain() -> Log:
    log = base(
        "valid/corrections-applied-in-order",
        "Corrections of one inspection (sample size twice, a method through an array path, "
        "a characteristic replaced whole with itself, the notes with JSON pointer escapes), "
        "then a release citing it.",
    )
    i = log.add(inspection("I-1", "LOT-A", log.now + 30, notes="n"), "inspector", "authored")
    for n, change_ in enumerate(
        (
            {"path": "/sample_size", "value": 40},
            {"path": "/sample_size", "value": 50},
            {"path": "/characteristics/0/method", "value": "laser micrometer"},
        ),
        1,
    ):
        log.add(correction(f"CO-{n}", "I-1", "LOT-A", [change_]), "inspector", "authored")
    log.add(
        correction("CO-4", "I-1", "LOT-A", [{"path": "/notes", "value": "m~/"}]),
        "approver",
        "authored",
    )
    log.add(
        correction(
            "CO-5",
            "I-1",
            "LOT-A",
            [{"path": "/characteristics/0", "value": i["characteristics"][0]}],
        ),
        "approver",
        "authored",
    )
    released(log, i)
    return log


# -- alerts and recalls --------------------------------------------------------------------------


@scenario
def alert_reused() -> Log:
    log = broken("alert/alert-id-used-twice", "Two alerts with one alert id.")
    log.add(alert("AL-1", "ALERT-1", "LOT-A"), "inspector", "authored")
    log.add(alert("AL-2", "ALERT-1", "LOT-A"), "inspector", "authored")
    return log


@scenario
def alert_refs() -> Log:
    log = broken(
        "alert/refs-name-no-record-of-its-lot", "An alert on LOT-A naming an inspection of LOT-B."
    )
    ready(log, "LOT-B", "I-B")
    log.add(alert("AL-1", "ALERT-1", "LOT-A", refs=["I-B"]), "inspector", "authored")
    return log


@scenario
def alert_refs_unknown_no_lot() -> Log:
    log = broken(
        "alert/refs-name-no-stored-record", "An alert of no lot naming a record never logged."
    )
    log.add(alert("AL-1", "ALERT-1", None, refs=["X-404"]), "inspector", "authored")
    return log


@scenario
def auditor_alert() -> Log:
    log = base(
        "valid/auditor-alert-on-any-record",
        "The audit (auditor role) records an alert of no lot on a logged inspection.",
        people=("auditor",),
    )
    ready(log)
    log.add(
        {**alert("AL-1", "ALERT-1", None, refs=["I-1"]), "source": "audit"}, "auditor", "recorded"
    )
    return log


@scenario
def recall_authored() -> Log:
    log = broken(
        "recall/real-recall-signed-authored",
        "A real recall (not a drill) signed 'authored' by a QA inspector.",
    )
    ready(log)
    log.add(recall("RC-1", "RECALL-1", log.now + 30), "inspector", "authored")
    return log


@scenario
def recall_reused() -> Log:
    log = broken("recall/recall-id-used-twice", "Two recalls with one recall id.")
    ready(log)
    log.add(recall("RC-1", "RECALL-1", log.now + 30), "approver", "approved")
    log.add(recall("RC-2", "RECALL-1", log.now + 30), "approver", "approved")
    return log


# -- specifications ------------------------------------------------------------------------------


def new_version(
    log: Log,
    version: int = 2,
    approve: bool = True,
    author: str = "author",
    approver: str = "approver",
    effective_from: str | None = None,
    **spec: Any,
) -> Json:
    """Version ``version`` of SPEC-final through change control (approved when told)."""
    s = specification("final", version, **spec)
    cid = s["change_id"]
    log.add(
        change(cid, "requested", specifications=[{"spec_id": s["spec_id"], "version": version}]),
        "author",
        "authored",
    )
    log.add(s, author, "authored")
    log.add(change(cid, "assessed"), "author", "reviewed")
    if approve:
        extra = {} if effective_from is None else {"effective_from": effective_from}
        log.add(change(cid, "approved", **extra), approver, "approved")
    return s


@scenario
def spec_v2() -> Log:
    log = base(
        "valid/specification-version-2-in-force",
        "Version 2 of the final specification (tighter limits) comes into force; an "
        "inspection follows it; release.",
    )
    new_version(log, limits=(2.96, 3.04))
    body = inspection("I-1", "LOT-A", log.now + 30, version=2)
    body["characteristics"][0].update(lower=2.96, upper=3.04)
    i = log.add(body, "inspector", "authored")
    released(log, i)
    return log


@scenario
def spec_gap() -> Log:
    log = broken(
        "specification/version-skips-a-number",
        "Version 3 of a specification whose latest is version 1.",
    )
    new_version(log, 3, approve=False)
    return log


@scenario
def spec_other_product() -> Log:
    log = broken(
        "specification/same-id-for-another-product", "Version 2 of SPEC-final for another product."
    )
    new_version(log, approve=False, gtin=OTHER_GTIN)
    return log


@scenario
def spec_no_change() -> Log:
    log = broken(
        "specification/change-does-not-exist", "A specification naming a change never requested."
    )
    log.add(specification("final", 2, change_id="CHG-404"), "author", "authored")
    return log


@scenario
def spec_not_named() -> Log:
    log = broken(
        "specification/change-does-not-name-it",
        "A specification whose change names another specification.",
    )
    log.add(
        change("CHG-2", "requested", specifications=[{"spec_id": "SPEC-x", "version": 1}]),
        "author",
        "authored",
    )
    log.add(specification("final", 2, change_id="CHG-2"), "author", "authored")
    return log


@scenario
def approval_before_content() -> Log:
    log = broken(
        "specification/change-approved-before-its-specification-is-logged",
        "A change naming version 2 approved before version 2 is logged.",
    )
    ref = {"spec_id": "SPEC-final", "version": 2}
    log.add(change("CHG-2", "requested", specifications=[ref]), "author", "authored")
    log.add(change("CHG-2", "assessed"), "author", "reviewed")
    log.add(change("CHG-2", "approved"), "approver", "approved")
    return log


@scenario
def four_eyes() -> Log:
    log = broken(
        "specification/approved-by-its-author",
        "Ann writes version 2 and approves the change bringing it into force.",
        people=("ann",),
    )
    new_version(log, author="ann", approver="ann")
    return log


@scenario
def four_eyes_other_key() -> Log:
    log = broken(
        "specification/approved-by-its-author-with-another-key",
        "Ann writes version 2 with one key and approves it with another of hers.",
        people=("ann", "ann2"),
    )
    new_version(log, author="ann", approver="ann2")
    return log


@scenario
def inspection_v1_late() -> Log:
    log = broken(
        "specification/inspection-cites-no-specification",
        "An inspection/1 (no specification cited) once specifications exist.",
    )
    body = {**inspection("I-1", "LOT-A", log.now + 30), "schema": "inspection/1"}
    del body["specification"], body["characteristics"][0]["equipment"]
    log.add(body, "inspector", "authored")
    return log


@scenario
def inspection_unknown_version() -> Log:
    log = broken(
        "specification/inspection-cites-an-unknown-version",
        "An inspection citing version 2 of a specification that has one.",
    )
    log.add(inspection("I-1", "LOT-A", log.now + 30, version=2), "inspector", "authored")
    return log


@scenario
def inspection_unknown_spec() -> Log:
    log = broken(
        "specification/inspection-cites-an-unknown-specification",
        "An in-process inspection: no in-process specification exists.",
    )
    log.add(inspection("I-1", "LOT-A", log.now + 30, stage="in_process"), "inspector", "authored")
    return log


@scenario
def inspection_other_stage() -> Log:
    log = broken(
        "specification/inspection-cites-another-stages-specification",
        "An in-process inspection citing the final specification.",
    )
    body = inspection("I-1", "LOT-A", log.now + 30, stage="in_process")
    body["specification"] = {"spec_id": "SPEC-final", "version": 1}
    log.add(body, "inspector", "authored")
    return log


@scenario
def inspection_unapproved_version() -> Log:
    log = broken(
        "specification/inspection-cites-a-version-not-approved",
        "Version 2 logged but its change not approved; an inspection cites it.",
    )
    new_version(log, approve=False)
    log.add(inspection("I-1", "LOT-A", log.now + 30, version=2), "inspector", "authored")
    return log


@scenario
def inspection_superseded() -> Log:
    log = broken(
        "specification/inspection-cites-a-superseded-version",
        "Version 2 approved; an inspection still cites version 1.",
    )
    new_version(log)
    log.add(inspection("I-1", "LOT-A", log.now + 30), "inspector", "authored")
    return log


@scenario
def inspection_before_effective() -> Log:
    log = broken(
        "specification/inspection-cites-a-version-not-yet-effective",
        "Version 2 approved to take effect next month; an inspection cites it now.",
    )
    new_version(log, effective_from="2026-07-01T00:00:00Z")
    log.add(inspection("I-1", "LOT-A", log.now + 30, version=2), "inspector", "authored")
    return log


@scenario
def no_version_in_force() -> Log:
    log = broken(
        "specification/no-version-in-force",
        "An in-process specification logged, its change never approved; an in-process "
        "inspection cites it.",
    )
    s = specification("in_process")
    log.add(
        change(
            s["change_id"], "requested", specifications=[{"spec_id": s["spec_id"], "version": 1}]
        ),
        "author",
        "authored",
    )
    log.add(s, "author", "authored")
    log.add(inspection("I-1", "LOT-A", log.now + 30, stage="in_process"), "inspector", "authored")
    return log


@scenario
def not_yet_in_force() -> Log:
    log = broken(
        "specification/no-version-in-force-yet",
        "An in-process specification approved to take effect next month; an "
        "inspection cites it now.",
    )
    s = specification("in_process")
    cid = s["change_id"]
    log.add(
        change(cid, "requested", specifications=[{"spec_id": s["spec_id"], "version": 1}]),
        "author",
        "authored",
    )
    log.add(s, "author", "authored")
    log.add(change(cid, "assessed"), "author", "reviewed")
    log.add(change(cid, "approved", effective_from="2026-07-01T00:00:00Z"), "approver", "approved")
    log.add(inspection("I-1", "LOT-A", log.now + 30, stage="in_process"), "inspector", "authored")
    return log


@scenario
def inspection_differs() -> Log:
    log = broken(
        "specification/inspection-differs-from-its-specification",
        "An inspection with a smaller sample, other limits, another method, another "
        "critical flag and a characteristic the specification does not name.",
    )
    body = inspection("I-1", "LOT-A", log.now + 30)
    body["sample_size"] = 20
    c = body["characteristics"][0]
    c.update(lower=2.9, method="caliper", critical=False)
    body["characteristics"].append(
        {**c, "name": "length", "unit": "mm", "lower": 99.0, "upper": 101.0, "value": 100.0}
    )
    log.add(body, "inspector", "authored")
    return log


@scenario
def inspection_misses_one() -> Log:
    log = broken(
        "specification/inspection-misses-a-characteristic",
        "An inspection measuring only the length where the specification asks for "
        "the outer diameter.",
    )
    body = inspection("I-1", "LOT-A", log.now + 30)
    body["characteristics"][0].update(name="length", lower=2.95, upper=3.05)
    log.add(body, "inspector", "authored")
    return log


# -- equipment -----------------------------------------------------------------------------------


def measured_with(
    name: str, description: str, equipment_id: str | None, setup: Callable[[Log], Any] | None = None
) -> Log:
    log = broken(name, description)
    if setup is not None:
        setup(log)
    body = inspection("I-1", "LOT-A", log.now + 30)
    if equipment_id is None:
        del body["characteristics"][0]["equipment"]
    else:
        body["characteristics"][0]["equipment"] = equipment_id
    log.add(body, "inspector", "authored")
    return log


@scenario
def equipment_unnamed() -> Log:
    return measured_with(
        "equipment/instrument-not-named",
        "An inspection that names no instrument where the specification "
        "asks for a laser micrometer.",
        None,
    )


@scenario
def equipment_wrong_kind() -> Log:
    def caliper(log: Log) -> None:
        log.add(equipment("EQ-C-1", "caliper"), "author", "authored")
        log.add(calibration("cal-C-1", "EQ-C-1"), "author", "verified")

    return measured_with(
        "equipment/instrument-of-another-kind",
        "An inspection measured with a calibrated caliper where the "
        "specification asks for a laser micrometer.",
        "EQ-C-1",
        caliper,
    )


@scenario
def equipment_unregistered() -> Log:
    return measured_with(
        "equipment/instrument-not-registered",
        "An inspection naming instrument EQ-404, never registered.",
        "EQ-404",
    )


@scenario
def equipment_uncalibrated() -> Log:
    def later(log: Log) -> None:
        log.add(equipment("EQ-LM-2"), "author", "authored")
        log.add(
            calibration(
                "cal-2",
                "EQ-LM-2",
                calibrated_at="2026-05-01T00:00:00Z",
                valid_until="2026-05-02T00:00:00Z",
            ),
            "author",
            "verified",
        )

    return measured_with(
        "equipment/instrument-past-its-calibration-date",
        "An inspection with a micrometer whose calibration ran out in May.",
        "EQ-LM-2",
        later,
    )


@scenario
def equipment_never_calibrated() -> Log:
    def registered(log: Log) -> None:
        log.add(equipment("EQ-LM-2"), "author", "authored")

    return measured_with(
        "equipment/instrument-never-calibrated",
        "An inspection with a registered micrometer never calibrated.",
        "EQ-LM-2",
        registered,
    )


@scenario
def equipment_failed_calibration() -> Log:
    def failed_cal(log: Log) -> None:
        log.add(
            calibration(
                "cal-2",
                result="fail",
                as_found="out_of_tolerance",
                calibrated_at="2026-05-01T00:00:00Z",
            ),
            "author",
            "verified",
        )

    return measured_with(
        "equipment/instrument-failed-its-calibration",
        "An inspection with the micrometer after a failed calibration.",
        EQUIPMENT,
        failed_cal,
    )


@scenario
def equipment_failed_calibration_before_year_one() -> Log:
    """A failed calibration dated in the first hour of year 1 at +01:00 (before year 1 in UTC):
    the instrument check formats that time and overflows; the judge refuses the inspection as
    not in its shape instead of crashing (the page and the service alike)."""

    def failed_cal(log: Log) -> None:
        log.add(equipment("EQ-LM-2"), "author", "authored")
        log.add(
            calibration(
                "cal-2",
                "EQ-LM-2",
                result="fail",
                as_found="out_of_tolerance",
                calibrated_at="0001-01-01T00:30:00+01:00",
            ),
            "author",
            "verified",
        )

    return measured_with(
        "schema/failed-calibration-dated-before-year-one-utc",
        "An inspection with a micrometer whose only calibration, failed, is dated "
        "0001-01-01T00:30+01:00.",
        "EQ-LM-2",
        failed_cal,
    )


@scenario
def equipment_twice() -> Log:
    log = broken("equipment/registered-twice", "The micrometer registered a second time.")
    log.add({**equipment(), "record_id": "equipment-again"}, "author", "authored")
    return log


@scenario
def calibration_unregistered() -> Log:
    log = broken(
        "equipment/calibration-of-an-unregistered-instrument",
        "A calibration of instrument EQ-404, never registered.",
    )
    log.add(calibration("cal-404", "EQ-404"), "author", "verified")
    return log


# -- attribute sampling --------------------------------------------------------------------------

PLAN = {"standard": "ISO 2859-1:1999", "level": "II", "aql": "0.65"}


def sampled(name: str, description: str, **kw: Any) -> Log:
    """The team, the micrometer, and an incoming specification that samples by PLAN."""
    log = broken(name, description, **kw)
    s = specification("incoming", sampling=PLAN)
    cid = s["change_id"]
    log.add(
        change(cid, "requested", specifications=[{"spec_id": s["spec_id"], "version": 1}]),
        "author",
        "authored",
    )
    log.add(s, "author", "authored")
    log.add(change(cid, "assessed"), "author", "reviewed")
    log.add(change(cid, "approved"), "approver", "approved")
    return log


def lot_inspection(
    log: Log,
    n: int,
    nonconforming: int,
    severity: str = "normal",
    sample: int | None = None,
    **plan: Any,
) -> Json:
    """Incoming lot ``n`` from ACME (1000 units) under PLAN: rejected at 2 nonconforming."""
    body = inspection(
        f"IQ-{n}",
        f"LOT-Q{n}",
        log.now + 30,
        stage="incoming",
        value=3.08 if nonconforming else 3.01,
    )
    verdict = "fail" if nonconforming >= 2 else "pass"
    body["characteristics"][0].update(nonconforming=nonconforming, verdict=verdict)
    size = {"normal": 80, "tightened": 125, "reduced": 32}[severity]
    body.update(
        verdict=verdict,
        sample_size=sample or size,
        supplier="ACME",
        sampling={**PLAN, "severity": severity, "lot_size": 1000, **plan},
    )
    return log.add(body, "inspector", "authored")


def rejected_lots(log: Log, normal: int = 2, tightened: int = 0) -> None:
    for n in range(1, normal + 1):
        lot_inspection(log, n, 2)
    for n in range(normal + 1, normal + tightened + 1):
        lot_inspection(log, n, 2, "tightened")


@scenario
def switching() -> Log:
    log = sampled(
        "valid/sampling-switches-to-tightened-and-back",
        "Lot 1 accepted, lots 2 and 3 not: inspection is tightened; five accepted "
        "lots under tightened inspection bring it back to normal.",
    )
    lot_inspection(log, 1, 0)
    lot_inspection(log, 2, 2)
    lot_inspection(log, 3, 3)
    for n in range(4, 9):
        lot_inspection(log, n, 1, "tightened")
    lot_inspection(log, 9, 0)
    return log


@scenario
def wrong_severity() -> Log:
    log = sampled(
        "sampling/severity-not-the-switching-rules",
        "After two lots not accepted, a lot still inspected under normal severity.",
    )
    rejected_lots(log)
    lot_inspection(log, 3, 0)
    return log


@scenario
def no_plan() -> Log:
    log = sampled(
        "sampling/inspection-states-no-plan",
        "The specification samples by a plan; the inspection states none.",
    )
    log.add(inspection("IQ-1", "LOT-Q1", log.now + 30, stage="incoming"), "inspector", "authored")
    return log


@scenario
def other_plan() -> Log:
    log = sampled(
        "sampling/plan-differs-from-the-specifications",
        "An inspection under level I where the specification says level II.",
    )
    lot_inspection(log, 1, 0, level="I")
    return log


@scenario
def undersampled() -> Log:
    log = sampled("sampling/undersampled", "40 items inspected where the plan takes 80.")
    lot_inspection(log, 1, 0, sample=40)
    return log


@scenario
def typed_verdict() -> Log:
    log = sampled(
        "sampling/verdict-typed-not-computed", "2 nonconforming items (Re 2) reported as a pass."
    )
    body = inspection("IQ-1", "LOT-Q1", log.now + 30, stage="incoming", value=3.08)
    body["characteristics"][0].update(nonconforming=2, verdict="pass")
    body.update(
        verdict="pass",
        sample_size=80,
        supplier="ACME",
        sampling={**PLAN, "severity": "normal", "lot_size": 1000},
    )
    log.add(body, "inspector", "authored")
    return log


@scenario
def no_such_plan() -> Log:
    log = sampled(
        "schema/aql-not-in-the-tables",
        "A plan at an AQL the tables do not have (0.66; the specification says "
        "0.65): the judge cannot read it.",
    )
    lot_inspection(log, 1, 0, aql="0.66")
    return log


@scenario
def lot_of_one() -> Log:
    log = sampled(
        "sampling/lot-of-one-item",
        "A plan for a lot of 1 item (the schema asks at least 2).",
        unchecked=True,
    )
    lot_inspection(log, 1, 0, lot_size=1)
    return log


@scenario
def discontinued() -> Log:
    log = sampled(
        "sampling/inspection-discontinued",
        "Two lots not accepted (tightened), then five more under tightened "
        "inspection: inspection is discontinued; the next lot does not resume it.",
    )
    rejected_lots(log, 2, 5)
    lot_inspection(log, 8, 0, "tightened")
    return log


@scenario
def resumes_too_early() -> Log:
    log = sampled(
        "sampling/resumes-before-the-corrective-action",
        "Discontinued inspection resumed naming a CAPA still at its opening.",
    )
    rejected_lots(log, 2, 5)
    log.add(workflow("capa", "C-1", "CAPA-1", "open", lot=None), "inspector", "authored")
    lot_inspection(log, 8, 0, "tightened", resumes="CAPA-1")
    return log


@scenario
def resumes_unknown_capa() -> Log:
    log = sampled(
        "sampling/resumes-on-no-capa",
        "Discontinued inspection resumed naming a CAPA that does not exist.",
    )
    rejected_lots(log, 2, 5)
    lot_inspection(log, 8, 0, "tightened", resumes="CAPA-404")
    return log


@scenario
def resumes_after_action() -> Log:
    log = sampled(
        "valid/sampling-resumes-after-the-corrective-action",
        "Discontinued inspection resumed, tightened, once the supplier's CAPA is implemented.",
    )
    rejected_lots(log, 2, 5)
    capa_through(log, "CAPA-1", "implementation", lot=None)
    lot_inspection(log, 8, 0, "tightened", resumes="CAPA-1")
    return log


@scenario
def resumes_not_discontinued() -> Log:
    log = sampled(
        "sampling/resumes-when-not-discontinued",
        "A lot names a CAPA to resume an inspection that was never discontinued.",
    )
    capa_through(log, "CAPA-1", "implementation", lot=None)
    lot_inspection(log, 1, 0, resumes="CAPA-1")
    return log


# -- failed results: retests, dispositions, concessions, reviews -----------------------------------


def retested(
    name: str, description: str, assignable: bool = True, cite: bool = True, **retest_fields: Any
) -> Log:
    log = broken(name, description)
    i = failed(log)
    log.add(
        workflow("ncr", "N-1", "NCR-1", "open", lot="LOT-A", refs=[i["record_id"]] if cite else []),
        "inspector",
        "authored",
    )
    extra = {"assignable_cause": True} if assignable else {}
    log.add(
        workflow("ncr", "N-2", "NCR-1", "evaluated", lot="LOT-A", **extra), "inspector", "reviewed"
    )
    body = inspection("I-2", "LOT-A", log.now + 30, retest={"of": "I-1", "ncr_id": "NCR-1"})
    body.update(retest_fields)
    log.add(body, "inspector", "authored")
    return log


@scenario
def retest_of_nothing() -> Log:
    log = broken(
        "oos/retest-of-no-inspection-of-the-lot",
        "A retest naming an inspection that is not of its lot.",
    )
    ready(log, "LOT-B", "I-B")
    log.add(
        inspection("I-2", "LOT-A", log.now + 30, retest={"of": "I-B", "ncr_id": "NCR-1"}),
        "inspector",
        "authored",
    )
    return log


@scenario
def retest_of_pass() -> Log:
    log = broken("oos/retest-of-a-passing-inspection", "A retest of an inspection that passed.")
    ready(log)
    log.add(
        inspection("I-2", "LOT-A", log.now + 30, retest={"of": "I-1", "ncr_id": "NCR-1"}),
        "inspector",
        "authored",
    )
    return log


@scenario
def retest_uninvestigated() -> Log:
    return retested(
        "oos/retest-without-an-investigation-citing-it",
        "A retest whose NCR does not cite the failed inspection.",
        cite=False,
    )


@scenario
def retest_no_cause() -> Log:
    return retested(
        "oos/retest-without-an-assignable-cause",
        "A retest after an evaluation that found no assignable cause.",
        assignable=False,
    )


@scenario
def retest_twice() -> Log:
    log = retested(
        "oos/second-retest-of-one-finding",
        "Two retests of one failure under one NCR (testing into compliance).",
    )
    log.add(
        inspection("I-3", "LOT-A", log.now + 30, retest={"of": "I-1", "ncr_id": "NCR-1"}),
        "inspector",
        "authored",
    )
    return log


@scenario
def retest_smaller() -> Log:
    log = broken("oos/retest-on-a-smaller-sample", "A failure on 40 samples retested on 32.")
    i = log.add(
        {**inspection("I-1", "LOT-A", log.now + 30, value=3.12), "sample_size": 40},
        "inspector",
        "authored",
    )
    log.add(
        workflow("ncr", "N-1", "NCR-1", "open", lot="LOT-A", refs=[i["record_id"]]),
        "inspector",
        "authored",
    )
    log.add(
        workflow("ncr", "N-2", "NCR-1", "evaluated", lot="LOT-A", assignable_cause=True),
        "inspector",
        "reviewed",
    )
    log.add(
        inspection("I-2", "LOT-A", log.now + 30, retest={"of": "I-1", "ncr_id": "NCR-1"}),
        "inspector",
        "authored",
    )
    return log


def dispositioned(
    name: str,
    description: str,
    names: tuple[str, ...] = ("outer diameter",),
    valid_until: str = "2099-01-01T00:00:00Z",
    **kw: Any,
) -> Log:
    log = broken(name, description, **kw)
    failed(log)
    ncr_through(
        log,
        "NCR-1",
        "LOT-A",
        ["I-1"],
        until="dispositioned",
        disposition="use_as_is",
        rationale="Deviation of 0.07 mm assessed by R&D as without clinical effect",
        concession=ncr_concession(*names, valid_until=valid_until),
    )
    return log


@scenario
def no_concessions() -> Log:
    return dispositioned(
        "concession/policy-admits-none",
        "A use-as-is disposition of a failed characteristic under concessions none.",
        settings={**Policy().to_json(), "concessions": "none"},
    )


@scenario
def concession_unknown() -> Log:
    return dispositioned(
        "concession/names-a-characteristic-that-did-not-fail",
        "A concession naming the length, which did not fail.",
        names=("outer diameter", "length"),
    )


@scenario
def concession_past() -> Log:
    return dispositioned(
        "concession/expires-before-its-signing",
        "A concession valid until a time before it was signed.",
        valid_until="2026-05-01T00:00:00Z",
    )


def reviewed(
    name: str, description: str, change_review: Callable[[Json], Any], who: str = "approver2"
) -> Log:
    log = broken(name, description)
    i = failed(log)
    c = log.add(
        verdict_to_pass(),
        "approver",
        "authored",
    )
    r = review("RV-1", c, "LOT-A")
    change_review(r)
    log.add(r, who, "approved")
    del i
    return log


@scenario
def review_unknown() -> Log:
    return reviewed(
        "review/of-a-record-never-logged",
        "A review of CO-404.",
        lambda r: r.update(reviews="CO-404"),
    )


@scenario
def review_hash() -> Log:
    return reviewed(
        "review/hash-differs-from-the-reviewed-record",
        "A review carrying another record's hash.",
        lambda r: r.update(record_hash=record_hash({"x": 1}).hex()),
    )


@scenario
def review_lot() -> Log:
    return reviewed(
        "review/names-another-lot", "A review naming LOT-B.", lambda r: r.update(lot="LOT-B")
    )


@scenario
def review_twice() -> Log:
    log = reviewed(
        "review/twice-by-one-person",
        "The second approver co-signs the correction twice.",
        lambda r: None,
    )
    c = correction(
        "CO-1",
        "I-1",
        "LOT-A",
        [
            {"path": "/characteristics/0/value", "value": 3.02},
            {"path": "/characteristics/0/verdict", "value": "pass"},
            {"path": "/verdict", "value": "pass"},
        ],
    )
    log.add({**review("RV-2", c, "LOT-A")}, "approver2", "approved")
    return log


# -- after release: holds, complaints, field actions -----------------------------------------------


def released_lot(name: str, description: str, **kw: Any) -> tuple[Log, Json]:
    log = broken(name, description, **kw)
    i = ready(log)
    released(log, i)
    return log, i


@scenario
def holds_lifted() -> Log:
    log, _ = released_lot(
        "valid/holds-after-release-lifted",
        "After release: an NCR opened, an alert, a correction of the "
        "inspection the release relied on and a placed hold each put the lot "
        "on hold; the NCR closes and one lift resolves them all; a complaint then puts it on "
        "hold again, and a second lift resolves it.",
    )
    log.add(
        workflow("ncr", "N-1", "NCR-1", "open", lot="LOT-A", refs=["I-1"]), "inspector", "authored"
    )
    log.add(alert("AL-1", "ALERT-1", "LOT-A", refs=["I-1"]), "inspector", "authored")
    log.add(
        correction("CO-1", "I-1", "LOT-A", [{"path": "/sample_size", "value": 40}]),
        "inspector",
        "authored",
    )
    log.add(hold("H-1", "LOT-A"), "approver", "authored")
    log.add(workflow("ncr", "N-2", "NCR-1", "evaluated", lot="LOT-A"), "inspector", "reviewed")
    log.add(workflow("ncr", "N-3", "NCR-1", "dispositioned", lot="LOT-A"), "approver", "approved")
    log.add(workflow("ncr", "N-4", "NCR-1", "closed", lot="LOT-A"), "approver", "approved")
    log.add(
        hold("H-2", "LOT-A", "lifted", resolves=["N-1", "AL-1", "CO-1", "H-1"], resolution=["N-4"]),
        "approver",
        "approved",
    )
    cm = log.add(complaint("CM-1", "LOT-A", log.now + 30), "inspector", "authored")
    log.add(
        hold("H-3", "LOT-A", "lifted", resolves=[cm["record_id"]], resolution=["N-4"]),
        "approver",
        "approved",
    )
    return log


@scenario
def lift_unknown() -> Log:
    log, _ = released_lot(
        "hold/lift-names-no-hold-in-force", "A lift resolving a record that put no hold on the lot."
    )
    log.add(
        hold("H-2", "LOT-A", "lifted", resolves=["I-1"], resolution=["I-1"]), "approver", "approved"
    )
    return log


@scenario
def lift_resolution() -> Log:
    log, _ = released_lot(
        "hold/lift-resolution-not-of-the-lot",
        "A lift citing a resolution that is no record of the lot.",
    )
    log.add(hold("H-1", "LOT-A"), "inspector", "authored")
    log.add(
        hold("H-2", "LOT-A", "lifted", resolves=["H-1"], resolution=["X-404"]),
        "approver",
        "approved",
    )
    return log


@scenario
def lift_ncr_open() -> Log:
    log, _ = released_lot(
        "hold/lift-while-its-ncr-is-open",
        "An NCR opened after release put a hold; it is lifted before the NCR closes.",
    )
    log.add(
        workflow("ncr", "N-1", "NCR-1", "open", lot="LOT-A", refs=["I-1"]), "inspector", "authored"
    )
    log.add(
        hold("H-2", "LOT-A", "lifted", resolves=["N-1"], resolution=["I-1"]), "approver", "approved"
    )
    return log


@scenario
def complaint_unknown_lot() -> Log:
    log = broken(
        "complaint/on-a-lot-the-ledger-does-not-know",
        "A complaint about LOT-Z, which has no records.",
    )
    log.add(complaint("CM-1", "LOT-Z", log.now + 30), "inspector", "authored")
    return log


@scenario
def field_action_unknown_lot() -> Log:
    log = broken(
        "field_action/on-a-lot-the-ledger-does-not-know",
        "A field action on LOT-Z, which has no records.",
    )
    log.add(field_action("FA-1", "LOT-Z"), "approver", "approved")
    return log


# -- content the schemas would refuse --------------------------------------------------------------


def malformed(
    name: str,
    description: str,
    record: Json,
    who: str = "inspector",
    meaning: str = "authored",
    setup: Callable[[Log], Any] | None = None,
) -> Log:
    log = broken(name, description, unchecked=True)
    if setup is not None:
        setup(log)
    log.add(record, who, meaning)
    return log


@scenario
def pass_outside() -> Log:
    body = inspection("I-1", "LOT-A", T0 + 700)
    body["characteristics"][0]["value"] = 3.2
    return malformed(
        "schema/pass-verdict-outside-the-limits",
        "A characteristic at 3.2 mm (limits 2.95..3.05) with a pass verdict.",
        body,
    )


@scenario
def failed_but_pass() -> Log:
    body = inspection("I-1", "LOT-A", T0 + 1000, value=3.12)
    body["verdict"] = "pass"
    return malformed(
        "schema/overall-pass-with-a-failed-characteristic",
        "A failed characteristic under an overall pass verdict.",
        body,
    )


@scenario
def text_value() -> Log:
    body = inspection("I-1", "LOT-A", T0 + 700)
    body["characteristics"][0]["value"] = "about three"
    return malformed(
        "schema/limits-with-a-text-value", "A characteristic with limits and a text value.", body
    )


@scenario
def counts_without_plan() -> Log:
    body = inspection("I-1", "LOT-A", T0 + 700)
    body["characteristics"][0]["nonconforming"] = 0
    return malformed(
        "schema/nonconforming-counts-without-a-plan",
        "Nonconforming counts on an inspection under no sampling plan.",
        body,
    )


@scenario
def plan_without_counts() -> Log:
    body = inspection("I-1", "LOT-A", T0 + 700)
    body["sampling"] = {**PLAN, "severity": "normal", "lot_size": 1000}
    return malformed(
        "schema/plan-without-nonconforming-counts",
        "A sampling plan with no nonconforming counts.",
        body,
    )


@scenario
def characteristic_not_object() -> Log:
    body = inspection("I-1", "LOT-A", T0 + 700)
    body["characteristics"] = ["outer diameter 3.01 mm"]
    return malformed("schema/characteristics-not-objects", "Characteristics given as text.", body)


@scenario
def step_fields_missing() -> Log:
    body = workflow("ncr", "N-1", "NCR-1", "open", lot="LOT-A")
    del body["nature"]
    return malformed(
        "schema/ncr-step-without-its-field", "An NCR opening without its nature.", body
    )


@scenario
def step_foreign_field() -> Log:
    body = workflow(
        "ncr", "N-1", "NCR-1", "open", lot="LOT-A", summary="closed already", disposition="scrap"
    )
    return malformed(
        "schema/ncr-step-with-another-steps-fields",
        "An NCR opening carrying the closing summary and a disposition.",
        body,
    )


@scenario
def unknown_step() -> Log:
    body = {**workflow("capa", "C-1", "CAPA-1", "open", lot="LOT-A"), "step": "reopened"}
    return malformed("schema/capa-unknown-step", "A CAPA step 'reopened'.", body)


@scenario
def early_cause() -> Log:
    body = workflow("ncr", "N-1", "NCR-1", "open", lot="LOT-A", assignable_cause=True)
    return malformed(
        "schema/assignable-cause-on-the-opening",
        "An NCR opening that states the evaluation's finding.",
        body,
    )


@scenario
def concession_wrong_step() -> Log:
    body = workflow(
        "ncr", "N-1", "NCR-1", "open", lot="LOT-A", concession=ncr_concession("outer diameter")
    )
    return malformed(
        "schema/concession-without-use-as-is", "An NCR opening carrying a concession.", body
    )


@scenario
def concession_shapes() -> Log:
    log = broken(
        "schema/concession-without-its-bounds",
        "Use-as-is dispositions whose concession lacks its characteristics, its "
        "quantity, its unit, or is not an object.",
        unchecked=True,
    )
    failed(log)
    for n, concession in enumerate(
        (
            {**ncr_concession("x"), "characteristics": []},
            {**ncr_concession("x"), "quantity": 0},
            {**ncr_concession("x"), "unit": ""},
            "4800 pcs",
        ),
        1,
    ):
        log.add(
            workflow(
                "ncr",
                f"N-{n}",
                f"NCR-{n}",
                "dispositioned",
                lot="LOT-A",
                disposition="use_as_is",
                rationale="conceded",
                concession=concession,
            ),
            "approver",
            "approved",
        )
    return log


@scenario
def release_without_decision() -> Log:
    body = release("R-1", "LOT-A", [])
    del body["decision"]
    return malformed(
        "schema/release-without-a-decision",
        "A release with no decision field (the judge reads it).",
        body,
        "approver",
        "released",
    )


@scenario
def inspection_without_product() -> Log:
    body = inspection("I-1", "LOT-A", T0 + 700)
    del body["product"]
    return malformed("schema/inspection-without-a-product", "An inspection with no product.", body)


@scenario
def lenient_signer() -> Log:
    log = Log(
        "lenient/signer-grant-with-a-numeric-address",
        "A signer grant whose address is a number, validly signed by the admin: the "
        "schemas would refuse it; the judge (which has no schemas offline) registers it.",
        unchecked=True,
    )
    team(log)
    body = grant("newcomer", ["qa_inspector"], "New Comer")
    body["address"] = 5
    log.add(body, "admin", "approved")
    return log


@scenario
def material_recalled() -> Log:
    log = broken(
        "release/material-consumed-after-its-recall",
        "Material lot MAT-1 inspected, released, recalled by a field action, then "
        "consumed into the lot.",
    )
    m = inspection("I-M", "MAT-1", log.now + 30)
    return consumed(
        log,
        [
            (m, "inspector", "authored"),
            (release("R-M", "MAT-1", evidence(m)), "approver", "released"),
            (field_action("FA-1", "MAT-1"), "approver", "approved"),
        ],
    )


@scenario
def not_qualified() -> Log:
    log = broken(
        "qualification/training-found-not-qualified",
        "The inspector's only training record for the task says not qualified.",
        settings=QUALIFIED,
    )
    log.add(
        training("TR-1", "E-2", "final inspection", log.now - 86400, result="not_qualified"),
        "approver",
        "verified",
    )
    ready(log)
    return log


@scenario
def pointer_not_pointer() -> Log:
    return corrected(
        "correction/path-not-a-json-pointer",
        "A correction whose path is empty (the schema asks a JSON pointer).",
        "I-1",
        [{"path": "", "value": 1}],
        unchecked=True,
    )


@scenario
def partial_settings() -> Log:
    log = base(
        "valid/policy-settings-partial",
        "policy_settings naming only required_stages and max_signature_age: the rest "
        "keep the defaults.",
        settings={"required_stages": ["final"], "max_signature_age": 600},
    )
    i = ready(log)
    released(log, i)
    return log


# -- how Python writes values into messages ------------------------------------------------------


@scenario
def python_numbers() -> Log:
    log = broken(
        "schema/numbers-written-as-python-writes-them",
        "Values outside their limits with a pass verdict, in every number form a "
        "message must render as Python does: 1e-07, 1.2345678901234567e+19, 3.0, "
        "integers, -0.0, 0.1 + 0.2.",
        unchecked=True,
    )
    for n, (value, lower, upper) in enumerate(
        (
            (1.2345678901234567e19, 1e-07, 0.5),
            (3.0, 1, 2),
            (-0.0, 0.25, 1e21),
            (0.30000000000000004, 1e22, None),
            (5, None, 4.5),
            (1000000000000000, 1.5, 99.0),
        ),
        1,
    ):
        body = inspection(f"I-{n}", "LOT-A", T0 + 700)
        body["characteristics"][0].update(value=value, lower=lower, upper=upper)
        log.add(body, "inspector", "authored")
    return log


@scenario
def reading_numbers() -> Log:
    log = broken(
        "release/excursions-with-integer-and-fractional-readings",
        "Out-of-limit readings given as integers and fractions (the messages show "
        "them as Python does, and their run's range with :g).",
    )
    for n, (tag, value, upper) in enumerate(
        (
            ("TZ1", 231, 225),
            ("TZ2", 226.5, 225.0),
            ("TZ2", 1234567.0, 225.0),
            ("TZ2", 1e-05, 1e-06),
            ("TZ3", 0.1, 0.05),
        ),
        1,
    ):
        body = reading(f"P-{n}", "LOT-A", log.now + 30, value, tag=tag, upper=upper)
        body["lower"] = 0 if isinstance(upper, int) else 0.0
        log.add(body, "device", "recorded")
    i = ready(log)
    released(log, i)
    return log


@scenario
def python_repr() -> Log:
    log = broken(
        "authority/meaning-quoted-as-python-quotes-it",
        "Records signed with meanings Python's repr quotes in different ways (an "
        "apostrophe, a backslash, a non-ASCII letter, a control character).",
    )
    for n, meaning in enumerate(("it's", "back\\slash", "geprüft", "tab\there"), 1):
        log.add(inspection(f"I-{n}", "LOT-A", log.now + 30), "inspector", meaning)
    return log


@scenario
def python_repr_ids() -> Log:
    log = broken(
        "alert/alert-id-quoted-as-python-quotes-it",
        "An alert id with an apostrophe used twice, and a recall id with a double "
        "quote used twice.",
        unchecked=True,
    )
    ready(log)
    for n in (1, 2):
        log.add(alert(f"AL-{n}", "Ann's alert", "LOT-A"), "inspector", "authored")
    for n in (1, 2):
        log.add(recall(f"RC-{n}", 'the "big" one', log.now + 30), "approver", "approved")
    return log


# -- EPCIS events --------------------------------------------------------------------------------


def epcis_event(second: int, lot: str = "LOT-A", biz_step: str = "shipping") -> Json:
    event = {
        "type": "ObjectEvent",
        "eventTime": f"2026-06-01T02:00:{second:02d}+02:00",
        "eventTimeZoneOffset": "+02:00",
        "action": "OBSERVE",
        "bizStep": biz_step,
        "disposition": "in_transit",
        "quantityList": [{"epcClass": epcis.digital_link(GTIN, lot), "quantity": 1}],
        "destinationList": [{"type": "owning_party", "destination": epcis.party_uri("Clinic")}],
    }
    return epcis_record(event)


@scenario
def epcis_by_system() -> Log:
    log = base(
        "lenient/epcis-shipment-before-release",
        "The MES (system role) records an EPCIS shipping event of the lot, then the lot "
        "is released: offline, the judge reads no genealogy link from EPCIS events "
        "(the service maps them), so no floor alert names the shipment.",
        people=("mes",),
    )
    i = ready(log)
    log.add(epcis_event(0), "mes", "recorded")
    released(log, i)
    return log


@scenario
def epcis_by_person() -> Log:
    log = broken(
        "authority/epcis-event-signed-by-an-inspector",
        "An EPCIS event signed by a QA inspector (the system role records them).",
    )
    log.add(epcis_event(1), "inspector", "recorded")
    return log


# -- the registry is projected by signing time ---------------------------------------------------


@scenario
def grant_logged_later() -> Log:
    log = broken(
        "lenient/record-signed-by-a-key-whose-grant-is-logged-after-it",
        "A grant signed a minute before an inspection by the granted key, but logged "
        "(accepted) after it: the registry is projected from every signer record by "
        "signing time, so the inspection counts as authorized although, when it was "
        "accepted, no grant of its key was logged.",
        people=("production",),
    )
    t = log.now + 60
    log.add(
        inspection("I-1", "LOT-A", t + 30),
        "newcomer",
        "authored",
        signed_at=t + 60,
        accepted_at=t + 62,
    )
    log.add(
        grant("newcomer", ["qa_inspector"], "New Comer", "E-50"),
        "admin",
        "approved",
        signed_at=t,
        accepted_at=t + 120,
    )
    return log


@scenario
def revoke_logged_later() -> Log:
    log = broken(
        "unauthorized/revocation-signed-before-the-record-logged-after-it",
        "The inspector's revocation is signed before an inspection it signs, but "
        "logged after that inspection: re-judged by signing time, the inspection was "
        "signed without authority.",
    )
    t = log.now + 60
    log.add(
        inspection("I-1", "LOT-A", t + 30),
        "inspector",
        "authored",
        signed_at=t + 60,
        accepted_at=t + 62,
    )
    log.add(revoke("inspector", "REV-1"), "admin", "approved", signed_at=t, accepted_at=t + 120)
    return log


@scenario
def bootstrap_by_other() -> Log:
    log = Log(
        "authority/second-grant-signed-by-a-key-the-first-grant-made",
        "The ledger's first signer record grants the admin; the next is a grant the "
        "admin signs to itself again (only the very first grant may be its own).",
    )
    log.add(grant("admin", ["admin"], "Ada Admin", "E-1"), "admin", "approved")
    log.add(
        grant("admin", ["admin", "qa_inspector"], "Ada Admin", "E-1", rid="signer-admin-2"),
        "admin",
        "approved",
    )
    return log


@scenario
def grant_without_admin() -> Log:
    log = Log(
        "unauthorized/first-grant-by-a-key-never-granted",
        "A log whose first signer record is a grant of the inspector signed by a key "
        "no record grants: the bootstrap is an admin granting itself.",
    )
    log.add(grant("inspector", ["qa_inspector"], "Dana Inspector", "E-2"), "admin", "approved")
    log.add(inspection("I-1", "LOT-A", log.now + 30), "inspector", "authored")
    return log


@scenario
def compromised_regrant() -> Log:
    log = broken(
        "unauthorized/compromised-key-granted-again",
        "The inspector's key is revoked as compromised, then granted again: nothing "
        "it signs after the report counts.",
    )
    log.add(revoke("inspector", "REV-1", compromised=True), "admin", "approved")
    log.add(
        grant("inspector", ["qa_inspector"], "Dana Inspector", "E-2", rid="signer-inspector-2"),
        "admin",
        "approved",
    )
    ready(log)
    return log


@scenario
def demoted_between() -> Log:
    log = broken(
        "unauthorized/demoted-between-signing-and-acceptance",
        "The approver signs a release, is re-granted as an inspector only before the "
        "release is accepted: the approval role was not held at acceptance.",
    )
    i = ready(log)
    t = log.now + 60
    log.add(
        grant("approver", ["qa_inspector"], "Quinn Approver", "E-3", rid="signer-approver-2"),
        "admin",
        "approved",
        signed_at=t + 10,
    )
    log.add(
        release("R-1", "LOT-A", evidence(i)),
        "approver",
        "released",
        signed_at=t,
        accepted_at=t + 100,
    )
    return log


@scenario
def role_kept_partially() -> Log:
    log = broken(
        "authority/role-dropped-between-signing-and-acceptance",
        "Ann (inspector and approver) signs a release; before it is accepted her "
        "grant keeps only the inspector role: the release is judged with the roles "
        "held at both times.",
        people=("ann",),
    )
    i = ready(log)
    t = log.now + 60
    log.add(
        grant("ann", ["qa_inspector"], "Ann Able", "E-6", rid="signer-ann-2"),
        "admin",
        "approved",
        signed_at=t + 10,
    )
    log.add(
        release("R-1", "LOT-A", evidence(i)), "ann", "released", signed_at=t, accepted_at=t + 100
    )
    return log


@scenario
def renamed() -> Log:
    log = base(
        "valid/signer-renamed-messages-use-the-current-name",
        "The inspector is granted again under a new printed name; later refusals name "
        "signers by their current name.",
    )
    log.add(
        grant("inspector", ["qa_inspector"], "Dana Smith", "E-2", rid="signer-inspector-2"),
        "admin",
        "approved",
    )
    ready(log)
    return log


@scenario
def renamed_refused() -> Log:
    log = broken(
        "authority/refusal-names-the-current-printed-name",
        "The inspector, renamed, signs a release: the refusal names Dana Smith.",
    )
    log.add(
        grant("inspector", ["qa_inspector"], "Dana Smith", "E-2", rid="signer-inspector-2"),
        "admin",
        "approved",
    )
    i = ready(log)
    released(log, i, who="inspector")
    return log


@scenario
def compromised_far_leaves() -> Log:
    log = broken(
        "unauthorized/device-key-compromised-at-leaf-indices-beyond-2-to-the-32",
        "The compromised device key, in a bundle whose leaf indices start past 2**32 "
        "and jump by 2**20 (its records are a few of a huge log).",
        leaf=2**32 + 5,
        leaf_step=2**20,
    )
    t = log.now
    log.add(revoke("device", "REV-1", compromised=True), "admin", "approved")
    log.add(reading("P-1", "LOT-A", t - 60, 210.0), "device", "recorded", signed_at=t - 30)
    log.add(reading("P-2", "LOT-A", t - 50, 211.0), "device", "recorded", signed_at=t - 20)
    return log


# -- long lists, hostile times -------------------------------------------------------------------


@scenario
def many_unauthorized() -> Log:
    log = broken(
        "unauthorized/seven-records-by-strangers",
        "Seven records signed by keys never granted: the authority check names the first five.",
    )
    for n in range(1, 8):
        log.add(inspection(f"I-{n}", f"LOT-{n}", log.now + 30), f"stranger-{n}", "authored")
    return log


@scenario
def every_blocker() -> Log:
    log = broken(
        "release/every-blocker-at-once",
        "A release while a failure is unanswered, an NCR is open, an alert is open, a "
        "reading is out of limits, the evidence cites another lot's record and omits "
        "the latest inspection, and the lot was shipped: the refusal counts them all "
        "and lists the first three.",
    )
    b = ready(log, "LOT-B", "I-B")
    failed(log)
    log.add(
        workflow("ncr", "N-1", "NCR-1", "open", lot="LOT-A", refs=["I-1"]), "inspector", "authored"
    )
    log.add(alert("AL-1", "ALERT-1", "LOT-A"), "inspector", "authored")
    log.add(reading("P-1", "LOT-A", log.now + 30, 240.0), "device", "recorded")
    log.add(
        scan("S-1", "ship", log.now + 30, lot="LOT-A", gs1_lot="LOT-A", consignee="Hospital A"),
        "device",
        "recorded",
    )
    ready(log, rid="I-2")
    released(log, b)
    return log


@scenario
def accepted_unreadable() -> Log:
    log = broken(
        "time/accepted-at-unreadable",
        "An entry whose accepted_at is no time (a hostile bundle): read as the end of "
        "time, the signature is far too old.",
    )
    t = log.now + 60
    log.add(
        inspection("I-1", "LOT-A", t - 30),
        "inspector",
        "authored",
        signed_at=t,
        accepted_text="yesterday",
    )
    return log


@scenario
def signed_end_of_time() -> Log:
    log = broken(
        "time/signed-at-the-end-of-time",
        "An entry signed at 2**53 - 1 seconds (a hostile bundle): written as the "
        "last second of year 9999.",
    )
    t = log.now + 60
    log.add(
        inspection("I-1", "LOT-A", t - 30),
        "inspector",
        "authored",
        signed_at=2**53 - 1,
        accepted_at=t,
    )
    return log


@scenario
def accepted_with_offset() -> Log:
    log = base(
        "valid/accepted-at-with-an-offset",
        "An entry whose accepted_at carries a +02:00 offset instead of Z.",
    )
    t = log.now + 60
    log.add(
        inspection("I-1", "LOT-A", t - 30),
        "inspector",
        "authored",
        signed_at=t,
        accepted_text=datetime.fromtimestamp(t + 2, UTC)
        .astimezone(timezone(timedelta(hours=2)))
        .isoformat(),
    )
    return log


def unapproved_material(log: Log) -> Json:
    """Material MAT-1 received from BADCO (disqualified) by scan S-1, inspected, produced
    into LOT-A and consumed by the station; returns the lot's final inspection."""
    log.add(supplier("SUP-1", "BADCO", "disqualified"), "approver", "approved")
    log.add(
        received(log, "BADCO"),
        "device",
        "recorded",
    )
    ready(log, "MAT-1", "I-M")
    log.add(
        scan("S-2", "produce", log.now + 30, lot="LOT-A", gs1_lot="LOT-A"), "device", "recorded"
    )
    log.add(scan("S-3", "consume", log.now + 30, gs1_lot="SUP-LOT-9"), "device", "recorded")
    return ready(log)


@scenario
def supplier_cleared_on_lot() -> Log:
    log = base(
        "valid/unapproved-supplier-cleared-by-the-lots-ncr",
        "Material from a disqualified supplier went into the lot; an NCR of the lot "
        "citing the receipt scan concedes it (use as is) and closes; release.",
    )
    i = unapproved_material(log)
    ncr_through(
        log,
        "NCR-1",
        "LOT-A",
        ["S-1"],
        disposition="use_as_is",
        rationale="Material tested by QA lab report QL-12: within specification",
        concession=ncr_concession("BADCO material"),
    )
    released(log, i)
    return log


@scenario
def supplier_cleared_on_material() -> Log:
    log = base(
        "valid/unapproved-supplier-cleared-by-the-materials-ncr",
        "The same, the NCR raised on the material lot MAT-1 instead.",
    )
    i = unapproved_material(log)
    ncr_through(
        log,
        "NCR-1",
        "MAT-1",
        ["S-1"],
        disposition="use_as_is",
        rationale="Material tested by QA lab report QL-12: within specification",
        concession=ncr_concession("BADCO material"),
    )
    released(log, i)
    return log


def non_critical(log: Log) -> None:
    """SPEC-nc v1: the in-process specification with a non-critical diameter, in force."""
    s = specification("in_process", critical=False, spec_id="SPEC-nc")
    cid = s["change_id"]
    log.add(
        change(cid, "requested", specifications=[{"spec_id": "SPEC-nc", "version": 1}]),
        "author",
        "authored",
    )
    log.add(s, "author", "authored")
    log.add(change(cid, "assessed"), "author", "reviewed")
    log.add(change(cid, "approved"), "approver", "approved")


def nc_inspection(log: Log, rid: str, value: float) -> Json:
    body = inspection(rid, "LOT-A", log.now + 30, value=value, stage="in_process", critical=False)
    body["specification"] = {"spec_id": "SPEC-nc", "version": 1}
    return log.add(body, "inspector", "authored")


@scenario
def non_critical_unanswered() -> Log:
    log = broken(
        "release/non-critical-failure-answered-by-a-recheck-only",
        "A non-critical in-process failure, then an ordinary passing in-process "
        "inspection (not a retest): the failure is still unanswered.",
    )
    non_critical(log)
    a = nc_inspection(log, "I-NC1", 3.2)
    b = nc_inspection(log, "I-NC2", 3.0)
    i = ready(log)
    released(log, a, b, i)
    return log


@scenario
def non_critical_conceded() -> Log:
    log = base(
        "valid/non-critical-failure-conceded-by-one-approver",
        "A non-critical in-process failure conceded by one QA approver (no second "
        "approver needed), the NCR closed, the lot released.",
    )
    non_critical(log)
    a = nc_inspection(log, "I-NC1", 3.2)
    ncr_through(
        log,
        "NCR-1",
        "LOT-A",
        ["I-NC1"],
        disposition="use_as_is",
        rationale="0.15 mm over on a non-critical diameter: no effect on function",
        concession=ncr_concession("outer diameter"),
    )
    i = ready(log)
    released(log, a, i)
    return log


# -- policy settings a verifier cannot use -------------------------------------------------------

DEFAULTS = Policy().to_json()
DUTY = {"name": "d", "first": "release/*/*", "second": "release/*/*", "scope": "lot"}
INVALID_POLICIES: list[tuple[str, Any]] = [
    ("not-a-table", ["final"]),
    ("unknown-field", {**DEFAULTS, "max_age": 60}),
    ("required-stages-unknown-stage", {**DEFAULTS, "required_stages": ["final", "packaging"]}),
    ("required-stages-not-a-list", {**DEFAULTS, "required_stages": "final"}),
    ("duties-not-a-list", {**DEFAULTS, "duties": {"d": DUTY}}),
    ("duty-not-a-table", {**DEFAULTS, "duties": ["inspector_releaser"]}),
    ("duty-without-a-name", {**DEFAULTS, "duties": [{**DUTY, "name": ""}]}),
    ("duty-scope-unknown", {**DEFAULTS, "duties": [{**DUTY, "scope": "site"}]}),
    ("duty-text-not-a-string", {**DEFAULTS, "duties": [{**DUTY, "text": 7}]}),
    (
        "duty-signature-not-type-step-meaning",
        {**DEFAULTS, "duties": [{**DUTY, "first": "release"}]},
    ),
    ("duty-signature-empty-part", {**DEFAULTS, "duties": [{**DUTY, "second": "release//*"}]}),
    ("duty-names-twice", {**DEFAULTS, "duties": [DUTY, DUTY]}),
    ("qualifications-not-a-list", {**DEFAULTS, "qualifications": "final inspection"}),
    ("qualification-without-a-task", {**DEFAULTS, "qualifications": [{"signature": "a/*/*"}]}),
    (
        "qualification-bad-signature",
        {**DEFAULTS, "qualifications": [{"task": "t", "signature": "inspection/authored"}]},
    ),
    ("qualified-person-release-not-a-boolean", {**DEFAULTS, "qualified_person_release": "yes"}),
    ("concessions-unknown", {**DEFAULTS, "concessions": "sometimes"}),
    ("material-acceptance-unknown", {**DEFAULTS, "material_acceptance": "always"}),
    ("max-signature-age-boolean", {**DEFAULTS, "max_signature_age": True}),
    ("max-inspection-lag-over-a-year", {**DEFAULTS, "max_inspection_lag": 366 * 86400 + 1}),
    ("max-clock-skew-fraction", {**DEFAULTS, "max_clock_skew": 1.5}),
    ("max-clock-skew-negative", {**DEFAULTS, "max_clock_skew": -1}),
]


def invalid_policy_scenario(what: str, settings: Any) -> Callable[[], Log]:
    def make() -> Log:
        log = Log(
            f"policy-invalid/{what}",
            f"policy_settings: {what.replace('-', ' ')}.",
            settings=settings,
        )
        team(log)
        return log

    return make


for _what, _settings in INVALID_POLICIES:
    scenario(invalid_policy_scenario(_what, _settings))


# -- the file ----------------------------------------------------------------------------------


def shows_its_name(name: str, expected: Json) -> bool:
    """``valid/``: nothing refused; ``unauthorized/``: a record without authority;
    ``policy-invalid/``: the settings refused; ``KIND/``: a record broke a rule of that kind
    (the first one named)."""
    family = name.split("/")[0]
    if family == "policy-invalid":
        return "policy_error" in expected
    if "policy_error" in expected:
        return False
    if family in ("valid", "lenient"):
        return not expected["unauthorized"] and not expected["broken"]
    if family == "unauthorized":
        return bool(expected["unauthorized"])
    return bool(expected["broken"]) and f" ({family}): " in expected["broken"][0]


def vectors() -> Json:
    items = []
    prefixes: dict[str, list[str]] = {}
    for make in SCENARIOS:
        log = make()
        expected = reference(log)
        if not shows_its_name(log.name, expected):
            raise AssertionError(
                f"scenario {log.name} does not show what its name says: {expected}"
            )
        item: Json = {
            "name": log.name,
            "description": log.description,
            "policy_settings": json.dumps(log.settings, separators=(",", ":"), sort_keys=True),
        }
        records = log.lines
        if log.prefix is not None:
            name, n = log.prefix
            assert prefixes.setdefault(name, records[:n]) == records[:n], name
            item["prefix"] = name
            records = records[n:]
        items.append({**item, "records": records, "expected": expected})
    names = [v["name"] for v in items]
    assert len(names) == len(set(names)), "scenario names are unique"
    return {
        "description": "Logs as evidence bundles carry them (records.jsonl lines, and the "
        "manifest's policy_settings as JSON text) with what the Python bundle verifier says when "
        "it re-judges them (bundle._replay, _authority, _rules): the unauthorized and broken "
        "strings, the records judged, the signers registered, the authority and rules checks' "
        "verdict and detail; or, for policy settings it cannot use, the PolicyError text "
        "(policy_error). A scenario's log is the lines of prefixes[prefix], when it names one "
        "(the signers and master data many logs share), then its records. "
        "web/verify/src/judge/replay.js must agree string for string.",
        "generator": "tests/vectors/judge/generate.py",
        "chain_id": CHAIN_ID,
        "contract": CONTRACT,
        "prefixes": prefixes,
        "scenarios": items,
    }


def render() -> str:
    return json.dumps(vectors(), indent=1, ensure_ascii=False) + "\n"


def show(name: str) -> None:
    """Print what the reference says of the scenarios whose name contains ``name``."""
    for make in SCENARIOS:
        log = make()
        if name in log.name:
            print(log.name, json.dumps(reference(log), indent=1))


def main_(argv: list[str]) -> int:
    if argv[:1] == ["--show"]:
        show(argv[1])
        return 0
    fresh = render()
    if "--check" in argv:
        if not OUTPUT.exists() or OUTPUT.read_text() != fresh:
            print("stale vectors (run python -m tests.vectors.judge.generate): judge.json")
            return 1
        return 0
    OUTPUT.write_text(fresh)
    return 0


if __name__ == "__main__":
    sys.exit(main_(sys.argv[1:]))
