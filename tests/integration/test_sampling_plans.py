"""Issue 13, sampling plans over HTTP: an inspection under its specification's ISO 2859-1 plan
takes at least the sample the tables give for its lot size (a lot of 3,000 at level II, AQL
0.65: 125 samples, accept 2, reject 3), records nonconforming counts with a computed verdict
(2 in 125 passes truthfully, with its out-of-limit worst value), and follows the switching
rules of its product stream (product, stage, supplier). Slipped in, the audit names an
undersampled inspection."""

from __future__ import annotations

import time
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount

from tests.helpers import approve_spec, inspection, now_iso, specification
from tests.integration.test_rules_replay import Plant, only_rule_broken

pytestmark = [pytest.mark.integration, pytest.mark.req("SMP-1")]

PLAN = {"standard": "ISO 2859-1:1999", "level": "II", "aql": "0.65"}


@pytest.fixture()
def sampled(plant: Plant, specs: tuple[LocalAccount, LocalAccount]) -> Plant:
    """Version 2 of the incoming specification samples by ISO 2859-1 level II AQL 0.65."""
    author, approver = specs
    approve_spec(plant.client, plant.runtime,
                 {**specification("incoming", version=2), "sampling": PLAN, "sample_size": 2},
                 author, approver)
    time.sleep(1.1)  # in force from the second after its approval
    return plant


def lot_inspection(rid: str, nonconforming: int, sample: int = 125,
                   severity: str = "normal", supplier: str = "Polymer AG") -> dict[str, Any]:
    record = inspection(rid, lot=f"LOT-{rid}", stage="incoming", version=2,
                        value=3.08 if nonconforming else 3.01, inspected_at=now_iso())
    verdict = "fail" if nonconforming >= 3 else "pass"
    record["characteristics"][0] |= {"nonconforming": nonconforming, "verdict": verdict}
    return {**record, "verdict": verdict, "sample_size": sample, "supplier": supplier,
            "material_lot": f"LOT-{rid}",
            "sampling": {**PLAN, "severity": severity, "lot_size": 3000}}


def test_the_plan_decides_the_sample_and_the_verdict(sampled: Plant) -> None:
    p = sampled
    detail = p.refused(lot_inspection("SP-1", 0, sample=5), p.inspector, "authored")
    assert "undersampled: ISO 2859-1:1999 level II AQL 0.65 normal, lot of 3000: code letter " \
           "K, 125 samples, Ac 2, Re 3; 5 inspected" in detail
    # 2 nonconforming in 125, the worst at 3.08 mm (outside 2.95..3.05): accepted, truthfully
    p.submit(lot_inspection("SP-2", 2), p.inspector, "authored")
    typed = lot_inspection("SP-3", 3)
    typed["characteristics"][0]["verdict"] = "pass"
    typed["verdict"] = "pass"
    assert "the verdict is computed, not typed" in p.refused(typed, p.inspector, "authored")
    plain = inspection("SP-4", lot="LOT-SP-4", stage="incoming", version=2,
                       inspected_at=now_iso())
    assert "samples by ISO 2859-1:1999 level II AQL 0.65" in p.refused(
        plain, p.inspector, "authored")
    other = lot_inspection("SP-5", 0)
    other["sampling"] = {**other["sampling"], "aql": "1.5"}
    assert "the specification's is ISO 2859-1:1999 level II AQL 0.65" in p.refused(
        other, p.inspector, "authored")


def test_switching_rules_follow_the_product_stream(sampled: Plant) -> None:
    """Two lots of five rejected under normal inspection: the next lot from that supplier is
    inspected tightened (ISO 2859-1 9.3.1); another supplier's stream stays normal."""
    p = sampled
    for rid in ("SW-1", "SW-2"):
        p.submit(lot_inspection(rid, 3), p.inspector, "authored")
    detail = p.refused(lot_inspection("SW-3", 0), p.inspector, "authored")
    assert "under tightened inspection after 2 lot(s), not normal" in detail
    p.submit(lot_inspection("SW-3", 0, severity="tightened"), p.inspector, "authored")
    p.submit(lot_inspection("SW-4", 0, supplier="Resin Co"), p.inspector, "authored")
    # slipped in: an undersampled lot, named by the audit
    p.slip_in(lot_inspection("SW-5", 0, sample=20, severity="tightened"), p.inspector,
              "authored")
    only_rule_broken(p.audit(), "SW-5", "(sampling)", "undersampled")


def test_a_discontinued_stream_resumes_tightened_once_its_capa_acted(sampled: Plant) -> None:
    """Five lots not accepted under tightened inspection discontinue the stream (ISO 2859-1
    9.4): the next inspection is refused, and one that names a CAPA whose corrective action
    has not been taken yet too; once it is implemented, inspection resumes, tightened."""
    from tests.integration.test_domain_workflows import workflow

    p = sampled
    for n in range(2):  # normal: 2 of 5 rejected -> tightened
        p.submit(lot_inspection(f"DS-N{n}", 3), p.inspector, "authored")
    for n in range(5):  # tightened (K: 125, Ac 1, Re 2): 5 not accepted -> discontinued
        rec = lot_inspection(f"DS-T{n}", 2, severity="tightened")
        rec["characteristics"][0]["verdict"] = rec["verdict"] = "fail"
        p.submit(rec, p.inspector, "authored")
    detail = p.refused(lot_inspection("DS-X", 0, severity="tightened"), p.inspector, "authored")
    assert "is discontinued (5 lots not accepted under tightened inspection" in detail, detail
    resuming = lot_inspection("DS-X", 0, severity="tightened")
    resuming["sampling"]["resumes"] = "CAPA-DS"
    assert "no such CAPA" in p.refused(resuming, p.inspector, "authored")
    for n, step in enumerate(("open", "investigation", "action_plan"), 1):
        p.submit(workflow("capa", f"DS-C{n}", "CAPA-DS", step, lot="LOT-DS-T4"), p.inspector,
                 "authored")
    assert "has not been taken (it is at step action_plan)" in p.refused(
        resuming, p.inspector, "authored")
    p.submit(workflow("capa", "DS-C4", "CAPA-DS", "implementation", lot="LOT-DS-T4"),
             p.inspector, "authored")
    normal = {**resuming, "sampling": {**resuming["sampling"], "severity": "normal"}}
    assert "under tightened inspection" in p.refused(normal, p.inspector, "authored")
    p.submit(resuming, p.inspector, "authored")
    # resumed: tightened continues without naming the CAPA again (which is refused now)
    again = lot_inspection("DS-Y", 0, severity="tightened")
    assert "is not discontinued (it is tightened)" in p.refused(
        {**again, "sampling": {**again["sampling"], "resumes": "CAPA-DS"}}, p.inspector,
        "authored")
    p.submit(again, p.inspector, "authored")
    assert p.audit() == []  # the audit replays the stream the same way
