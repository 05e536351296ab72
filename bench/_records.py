"""Realistic signed records for the ingest benchmark: keys, record shapes, EIP-712 signing.

Client side only (what a shop-floor PC or a QA workstation has): the verifier package for the
RFC 8785 hash and the EIP-712 digest, coincurve for the signature. Nothing from the server.

The records follow ``ledger/domain/schemas.py`` and ``docs/examples/qa/``: production lots run on
parallel lines; each lot gets material receipts and consumption scans, an incoming inspection,
PLC process readings (always within their limits: an out-of-limit reading would block the
lot's release), serialized "produce" scans, in-process inspections, a final inspection and
shipment scans. Lines produce at the same time, so the stream interleaves the lines.

Inspections are ``inspection/2``: each cites the approved specification of its product and stage
and names the instrument that measured each characteristic. :func:`master_data` is what they
rely on, to be logged first: every instrument registered and calibrated, and a specification
per product and stage brought into force through change control (authored by a QA inspector,
approved by a QA approver).
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from evledger_verify.records import (
    Domain,
)

from ingest.client import SigningKey

__all__ = [
    "Item",
    "Signers",
    "build_pool",
    "gtin",
    "master_data",
    "new_key",
    "signed_body",
]


def gtin(body13: str) -> str:
    """A GTIN-14 with its GS1 check digit (weights 3,1,3,... from the rightmost digit)."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body13)))
    return body13 + str((10 - total % 10) % 10)


PRODUCTS = [
    (gtin("0950600013435"), "Angiographic catheter 5F"),
    (gtin("0950600013436"), "Angiographic catheter 6F"),
    (gtin("0950600013437"), "Guide catheter 7F"),
]
MATERIALS = [
    (gtin("0401234500001"), "Polyamide 12 pellets", "Polymer Supply GmbH"),
    (gtin("0401234500002"), "Stainless braid wire 0.05 mm", "Wire Works AG"),
]
#: (tag suffix, unit, lower, upper) of each PLC reading on a line.
READINGS = [
    ("press.die_temp", "degC", 175.0, 195.0),
    ("press.pressure", "bar", 110.0, 130.0),
    ("line.speed", "m/min", 10.0, 14.0),
    ("extruder.melt_temp", "degC", 215.0, 235.0),
]
#: Characteristics per inspection stage: (name, method, unit, lower, upper, critical).
CHARACTERISTICS: dict[str, list[tuple[str, str, str, float | None, float | None, bool]]] = {
    "incoming": [
        ("outer diameter", "laser micrometer", "mm", 2.95, 3.05, True),
        ("tensile strength", "ISO 527", "MPa", 40.0, None, False),
    ],
    "in_process": [
        ("tip length", "vision system", "mm", 4.8, 5.2, True),
        ("wall thickness", "laser micrometer", "mm", 0.18, 0.22, False),
    ],
    "final": [
        ("outer diameter", "laser micrometer", "mm", 2.95, 3.05, True),
        ("leak test pressure", "ISO 10555-1 Annex C", "kPa", 300.0, None, True),
        ("visual", "visual, 2x loupe", "result", None, None, False),
    ],
}
#: The instrument (equipment id, kind) each characteristic is measured with; ``{line}``: the
#: line's own. A characteristic not listed (the visual check) needs no instrument.
INSTRUMENTS: dict[str, tuple[str, str]] = {
    "outer diameter": ("LM-204", "laser micrometer"),
    "tensile strength": ("UTM-17", "universal testing machine"),
    "tip length": ("VIS-{line}", "vision system"),
    "wall thickness": ("LM-204", "laser micrometer"),
    "leak test pressure": ("LT-9", "leak tester"),
}
SAMPLING_PLAN = {
    "incoming": "ISO 2859-1, level II, AQL 0.65",
    "in_process": "every 500 units",
    "final": "ISO 2859-1, level II, AQL 0.25",
}
SAMPLE_SIZE = {"incoming": 32, "in_process": 5, "final": 80}


def new_key(rng: random.Random) -> SigningKey:
    """A reproducible signing key (the client library's: EIP-712 over coincurve)."""
    return SigningKey(rng.randbytes(32))


def signed_body(
    key: SigningKey,
    domain: Domain,
    record: dict[str, Any],
    meaning: str,
    signed_at: int | None = None,
) -> dict[str, Any]:
    """The ``POST /v1/records`` body for ``record`` signed by ``key``."""
    return key.sign(record, meaning, domain, signed_at).to_json()


@dataclass(frozen=True)
class Signers:
    """The people and devices of the plant: QA inspectors, one scanner and one PLC gateway per
    line, and a QA approver (who brings specifications into force). ``grants`` are (key,
    roles, printed name) for the registry."""

    inspectors: list[SigningKey]
    scanners: list[SigningKey]
    plcs: list[SigningKey]
    approvers: list[SigningKey] = field(default_factory=list)

    @classmethod
    def make(cls, lines: int, inspectors: int, rng: random.Random) -> Signers:
        return cls(
            [new_key(rng) for _ in range(inspectors)],
            [new_key(rng) for _ in range(lines)],
            [new_key(rng) for _ in range(lines)],
            [new_key(rng)],
        )

    def grants(self) -> Iterator[tuple[SigningKey, tuple[str, ...], str]]:
        for i, k in enumerate(self.inspectors):
            yield k, ("qa_inspector",), f"QA Inspector {i + 1}"
        for i, k in enumerate(self.scanners):
            yield k, ("device",), f"Scanner station, line {i + 1}"
        for i, k in enumerate(self.plcs):
            yield k, ("device",), f"PLC gateway, line {i + 1}"
        for i, k in enumerate(self.approvers):
            yield k, ("qa_approver",), f"QA Approver {i + 1}"


@dataclass(frozen=True)
class Item:
    """One signed submission, serialized once (the bytes are what is sent)."""

    record_id: str
    lot: str
    line: int
    kind: str
    body: bytes


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t * 1000) % 1000:03d}Z"


def _now_iso(rng: random.Random, not_before: float = 0.0) -> str:
    """A time in the last minute (records reach the ledger a little after they are made), but
    not before ``not_before``."""
    return _iso(max(time.time() - rng.uniform(0, 60), not_before))


def _spec_id(product: tuple[str, str], stage: str) -> str:
    return f"SPEC-{product[0]}-{stage}"


def _instrument(name: str, line: int) -> tuple[str, str] | None:
    found = INSTRUMENTS.get(name)
    return None if found is None else (found[0].format(line=line), found[1])


def _specification(product: tuple[str, str], stage: str) -> dict[str, Any]:
    """Version 1 of the specification every ``stage`` inspection of ``product`` follows."""
    sid = _spec_id(product, stage)
    chars = []
    for name, method, unit, lower, upper, critical in CHARACTERISTICS[stage]:
        c: dict[str, Any] = {"name": name, "method": method, "unit": unit}
        if lower is not None:
            c["lower"] = lower
        if upper is not None:
            c["upper"] = upper
        c["critical"] = critical
        if name in INSTRUMENTS:
            c["equipment_kind"] = INSTRUMENTS[name][1]
        chars.append(c)
    return {
        "record_id": f"{sid}-v1",
        "type": "specification",
        "schema": "specification/1",
        "spec_id": sid,
        "version": 1,
        "title": f"{product[1]}, {stage.replace('_', '-')} inspection",
        "product": {"gtin": product[0], "name": product[1]},
        "stage": stage,
        "sampling_plan": SAMPLING_PLAN[stage],
        "sample_size": SAMPLE_SIZE[stage],
        "characteristics": chars,
        "change_id": f"CHG-{sid}-v1",
    }


def _change(change_id: str, step: str, **fields: Any) -> dict[str, Any]:
    return {
        "record_id": f"{change_id}-{step}",
        "type": "change",
        "schema": "change/1",
        "change_id": change_id,
        "step": step,
        **fields,
    }


def master_data(signers: Signers, lines: int) -> list[tuple[SigningKey, dict[str, Any], str]]:
    """What the inspections of :func:`build_pool` cite, in the order it must be logged, each
    with its signer and meaning: every instrument registered and calibrated (valid for a
    year), then per product and stage a specification brought into force through change
    control: the change requested naming it, the specification, the change assessed (all by
    the first QA inspector) and approved by the QA approver (someone else: four eyes)."""
    author, approver = signers.inspectors[0], signers.approvers[0]
    now = time.time()
    units = sorted(
        {(eid.format(line=line), kind) for eid, kind in INSTRUMENTS.values()
         for line in range(1, lines + 1)}
    )
    out: list[tuple[SigningKey, dict[str, Any], str]] = []
    for equipment_id, kind in units:
        out.append((author, {
            "record_id": f"equipment-{equipment_id}", "type": "equipment",
            "schema": "equipment/1", "equipment_id": equipment_id, "kind": kind,
        }, "authored"))
        out.append((author, {
            "record_id": f"calibration-{equipment_id}-1", "type": "calibration",
            "schema": "calibration/1", "equipment_id": equipment_id,
            "calibrated_at": _iso(now - 86_400), "result": "pass", "as_found": "in_tolerance",
            "valid_until": _iso(now + 365 * 86_400),
        }, "verified"))
    for product in PRODUCTS:
        for stage in CHARACTERISTICS:
            spec = _specification(product, stage)
            cid, ref = spec["change_id"], {"spec_id": spec["spec_id"], "version": 1}
            out += [
                (author, _change(cid, "requested", reason="specification release",
                                 description=f"bring {spec['spec_id']} version 1 into force",
                                 specifications=[ref]), "authored"),
                (author, spec, "authored"),
                (author, _change(cid, "assessed", impact="inspections follow version 1",
                                 assessment={"risk": "low", "validation": False,
                                             "training": True}), "reviewed"),
                (approver, _change(cid, "approved", approval="approved for use"), "approved"),
            ]
    return out


def _within(rng: random.Random, lower: float | None, upper: float | None) -> float:
    if lower is not None and upper is not None:
        return round(lower + (upper - lower) * (0.1 + 0.8 * rng.random()), 3)
    assert lower is not None
    return round(lower * (1.05 + 0.2 * rng.random()), 2)


def _inspection(
    rid: str,
    lot: str,
    stage: str,
    product: tuple[str, str],
    line: int,
    rng: random.Random,
    not_before: float,
) -> dict[str, Any]:
    """An inspection following its specification (:func:`master_data`), made at or after
    ``not_before`` (when that specification is in force)."""
    chars = []
    for name, method, unit, lower, upper, critical in CHARACTERISTICS[stage]:
        c: dict[str, Any] = {"name": name, "method": method, "unit": unit}
        if lower is None and upper is None:
            c["value"] = "no defects"
        else:
            if lower is not None:
                c["lower"] = lower
            if upper is not None:
                c["upper"] = upper
            c["value"] = _within(rng, lower, upper)
        c.update(verdict="pass", critical=critical)
        instrument = _instrument(name, line)
        if instrument is not None:
            c["equipment"] = instrument[0]
        chars.append(c)
    rec: dict[str, Any] = {
        "record_id": rid,
        "type": "inspection",
        "schema": "inspection/2",
        "lot": lot,
        "stage": stage,
        "product": {"gtin": product[0], "name": product[1]},
        "specification": {"spec_id": _spec_id(product, stage), "version": 1},
        "characteristics": chars,
        "verdict": "pass",
        "sampling_plan": SAMPLING_PLAN[stage],
        "sample_size": SAMPLE_SIZE[stage],
        "inspected_at": _now_iso(rng, not_before),
    }
    if stage == "incoming":
        material = MATERIALS[0]
        rec.update(material_lot=f"RM-{rng.randrange(1000, 9999)}", supplier=material[2])
    elif stage == "in_process":
        rec["operation"] = f"tip forming, line {line}"
    return rec


def _scan(
    rid: str,
    lot: str,
    op: str,
    line: int,
    product: tuple[str, str],
    serial: int,
    rng: random.Random,
) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "record_id": rid,
        "type": "scan",
        "schema": "scan/1",
        "station": f"line {line} {op} station",
        "operation": op,
        "lot": lot,
        "scanned_at": _now_iso(rng),
    }
    if op in ("receive", "consume"):
        material = MATERIALS[serial % len(MATERIALS)]
        rec["gs1"] = {"gtin": material[0], "lot": f"RM-{7000 + serial}"}
        if op == "receive":
            rec["quantity"] = rng.choice((25, 50, 100))
    else:
        rec["gs1"] = {"gtin": product[0], "lot": lot, "expiry": "281130"}
        if op == "produce":
            rec["gs1"]["serial"] = f"{lot}-{serial:05d}"[-20:]
        else:
            rec["consignee"] = rng.choice(("MedDistrib GmbH", "Hospital Supply BV", "CathCare SA"))
            rec["quantity"] = rng.choice((50, 100, 200))
    return rec


def _reading(rid: str, lot: str, line: int, rng: random.Random) -> dict[str, Any]:
    tag, unit, lower, upper = rng.choice(READINGS)
    return {
        "record_id": rid,
        "type": "process_reading",
        "schema": "process_reading/1",
        "tag": f"line{line}.{tag}",
        "value": _within(rng, lower, upper),
        "unit": unit,
        "lower": lower,
        "upper": upper,
        "lot": lot,
        "line": f"line {line}",
        "read_at": _now_iso(rng),
    }


def _lot_plan(n: int, rng: random.Random) -> list[str]:
    """The kinds of a lot's ``n`` records, in production order."""
    head = ["receive", "receive", "incoming"]
    tail = ["final", "ship", "ship", "ship"]
    middle_n = max(0, n - len(head) - len(tail))
    kinds = ["consume", "reading", "produce", "in_process"]
    weights = [0.02, 0.64, 0.26, 0.08]
    middle = rng.choices(kinds, weights, k=middle_n)
    return (head + middle + tail)[:n]


def build_pool(
    records: int, lots: int, lines: int, signers: Signers, domain: Domain, seed: int
) -> list[Item]:
    """``records`` signed submissions over ``lots`` lots on ``lines`` lines, interleaved in time
    across the lines (each line runs its lots one after the other). Build it once the
    :func:`master_data` is logged: no inspection is dated before the pool is built."""
    rng = random.Random(seed)
    start = time.time()
    per_lot = [records // lots + (1 if j < records % lots else 0) for j in range(lots)]
    streams: list[list[Item]] = [[] for _ in range(lines)]
    for j in range(lots):
        lot, line = f"LOT-{j + 1:04d}", j % lines + 1
        product = PRODUCTS[j % len(PRODUCTS)]
        for n, kind in enumerate(_lot_plan(per_lot[j], rng)):
            rid = f"{lot}-{n:04d}-{kind}"
            if kind in ("incoming", "in_process", "final"):
                rec = _inspection(rid, lot, kind, product, line, rng, start)
                key, meaning = (
                    signers.inspectors[rng.randrange(len(signers.inspectors))],
                    "authored",
                )
            elif kind == "reading":
                rec = _reading(rid, lot, line, rng)
                key, meaning = signers.plcs[line - 1], "recorded"
            else:
                rec = _scan(rid, lot, kind, line, product, n, rng)
                key, meaning = signers.scanners[line - 1], "recorded"
            body = signed_body(key, domain, rec, meaning)
            raw = json.dumps(body, separators=(",", ":")).encode()
            streams[line - 1].append(Item(rid, lot, line, kind, raw))
    pool: list[Item] = []
    for i in range(max(len(s) for s in streams)):
        pool.extend(s[i] for s in streams if i < len(s))
    return pool
