"""The audit re-judges every logged record by the rules the service judged it with.

A database superuser who slips into the seal queue a record that is validly signed by a
registered key, but that the service refuses, gets it sealed and anchored and the lot's view
changed; `evledger audit` names it (``rule_broken``), the rule and the reason, and nothing else.
Each case is first shown to be refused by the service itself, through the API: one rule."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from eth_account.signers.local import LocalAccount
from evledger_verify.records import Entry, canonical_json, record_hash
from fastapi.testclient import TestClient

from ledger.audit import Auditor, Finding
from ledger.domain.lots import subject_of
from ledger.runtime import Runtime
from tests.helpers import bearer, inspection, sign, wait_anchored
from tests.integration.test_domain_workflows import evidence, release, workflow

pytestmark = [pytest.mark.integration, pytest.mark.req("P11-10a-3")]


@dataclass
class Plant:
    runtime: Runtime
    client: TestClient
    superuser: sa.Engine
    inspector: LocalAccount
    approver: LocalAccount

    def submit(self, record: dict[str, Any], who: LocalAccount, meaning: str) -> None:
        resp = self.client.post("/v1/records", json=sign(self.runtime, record, who, meaning))
        assert resp.status_code == 201, resp.text

    def refused(self, record: dict[str, Any], who: LocalAccount, meaning: str) -> str:
        """The service's own answer: refused, and why."""
        resp = self.client.post("/v1/records", json=sign(self.runtime, record, who, meaning))
        assert resp.status_code in (403, 409), resp.text
        return str(resp.json()["detail"])

    def slip_in(
        self, record: dict[str, Any], who: LocalAccount, meaning: str,
        signed_at: int | None = None,
    ) -> None:
        """As a careful superuser: the record signed by a registered key (at ``signed_at``,
        default now), its entry chained to its lot's latest record, its subject set, queued
        for sealing; then sealed."""
        signed = sign(self.runtime, record, who, meaning, signed_at)
        rid, lot = str(record["record_id"]), record.get("lot")
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        with self.superuser.connect() as conn:
            prev = conn.execute(
                sa.text("SELECT leaf_hash FROM records WHERE lot = :lot ORDER BY seq DESC LIMIT 1"),
                {"lot": lot},
            ).scalar_one_or_none()
        entry = Entry(
            rid, str(record["type"]), record_hash(record).hex(), lot,
            None if prev is None else bytes(prev).hex(), who.address, meaning,
            int(signed["signed_at"]), str(signed["signature"]), secrets.token_hex(32),
            now,
        )
        with self.superuser.begin() as conn:
            conn.exec_driver_sql("SET session_replication_role = replica")
            conn.execute(
                sa.text(
                    "INSERT INTO records (record_id, record_type, lot, subject, body, record_hash,"
                    " signer, meaning, signed_at, signature, entry, leaf_hash, accepted_at) VALUES"
                    " (:rid, :type, :lot, :subject, :body, :rh, :signer, :meaning, :t, :sig,"
                    " :entry, :leaf, :now)"
                ),
                {"rid": rid, "type": record["type"], "lot": lot, "subject": subject_of(record),
                 "body": canonical_json(record), "rh": record_hash(record), "signer": who.address,
                 "meaning": meaning, "t": signed["signed_at"], "sig": signed["signature"],
                 "entry": entry.canonical(), "leaf": entry.leaf_hash(), "now": now},
            )
            conn.execute(sa.text("INSERT INTO seal_queue (seq) SELECT seq FROM records "
                                 "WHERE record_id = :rid"), {"rid": rid})
        wait_anchored(self.client, rid)

    def audit(self) -> list[Finding]:
        rt = self.runtime
        ident = rt.ledger.identity
        return Auditor(rt.engine, ident, ident.log_public_key, rt.chain).run()

    def state(self, lot: str) -> str:
        resp = self.client.get(f"/v1/lots/{lot}", headers=bearer(self.runtime, self.approver))
        return str(resp.json()["state"])


def only_rule_broken(findings: list[Finding], record_id: str, *fragments: str) -> Finding:
    assert [(f.kind, f.record_id) for f in findings] == [("rule_broken", record_id)], findings
    for fragment in fragments:
        assert fragment in findings[0].detail, findings[0].detail
    return findings[0]


def test_a_clean_log_re_judges_clean(plant: Plant) -> None:
    insp = inspection("I-OK", lot="LOT-OK")
    plant.submit(insp, plant.inspector, "authored")
    ncr = workflow("ncr", "N-OK-1", "NCR-OK", "open", lot="LOT-OK", refs=["I-OK"])
    plant.submit(ncr, plant.inspector, "authored")
    for n, (step, who, meaning) in enumerate(
        [("evaluated", plant.inspector, "reviewed"), ("dispositioned", plant.approver,
                                                      "approved"),
         ("closed", plant.approver, "approved")], 2):
        plant.submit(workflow("ncr", f"N-OK-{n}", "NCR-OK", step, lot="LOT-OK"), who, meaning)
    plant.submit(release("R-OK", "LOT-OK", evidence(insp)), plant.approver, "released")
    wait_anchored(plant.client, "R-OK")
    assert plant.audit() == []


def test_a_release_signed_by_an_inspector(plant: Plant) -> None:
    insp = inspection("I-A", lot="LOT-A")
    plant.submit(insp, plant.inspector, "authored")
    bad = release("R-A", "LOT-A", evidence(insp))
    assert "needs role qa_approver" in plant.refused(bad, plant.inspector, "released")
    plant.slip_in(bad, plant.inspector, "released")
    assert plant.state("LOT-A") == "released"  # what the served view now says
    only_rule_broken(plant.audit(), "R-A", "(authority)", "needs role qa_approver",
                     "Ivy Inspector")


def test_an_ncr_taken_from_open_straight_to_closed(plant: Plant) -> None:
    plant.submit(inspection("I-B", lot="LOT-B", value=3.2), plant.inspector, "authored")
    plant.submit(workflow("ncr", "N-B-1", "NCR-B", "open", lot="LOT-B", refs=["I-B"]),
                 plant.inspector, "authored")
    bad = workflow("ncr", "N-B-2", "NCR-B", "closed", lot="LOT-B")
    assert "cannot go from open to closed" in plant.refused(bad, plant.approver, "approved")
    plant.slip_in(bad, plant.approver, "approved")
    only_rule_broken(plant.audit(), "N-B-2", "(workflow)", "cannot go from open to closed")


def test_a_release_while_the_lots_ncr_is_open(plant: Plant) -> None:
    insp = inspection("I-C", lot="LOT-C")
    plant.submit(insp, plant.inspector, "authored")
    plant.submit(workflow("ncr", "N-C-1", "NCR-C", "open", lot="LOT-C", refs=["I-C"]),
                 plant.inspector, "authored")
    bad = release("R-C", "LOT-C", evidence(insp))
    assert "refused" in plant.refused(bad, plant.approver, "released")
    plant.slip_in(bad, plant.approver, "released")
    assert plant.state("LOT-C") == "released"
    only_rule_broken(plant.audit(), "R-C", "(release)", "NCR NCR-C is open")


def test_a_refused_record_is_not_history_for_what_follows(plant: Plant) -> None:
    """The slipped release is named; the legitimate release after the NCR is closed is not
    taken for a second release of the lot."""
    insp = inspection("I-D", lot="LOT-D")
    plant.submit(insp, plant.inspector, "authored")
    plant.submit(workflow("ncr", "N-D-1", "NCR-D", "open", lot="LOT-D", refs=["I-D"]),
                 plant.inspector, "authored")
    plant.slip_in(release("R-D-1", "LOT-D", evidence(insp)), plant.approver, "released")
    for n, (step, who, meaning) in enumerate(
        [("evaluated", plant.inspector, "reviewed"), ("dispositioned", plant.approver,
                                                      "approved"),
         ("closed", plant.approver, "approved")], 2):
        plant.submit(workflow("ncr", f"N-D-{n}", "NCR-D", step, lot="LOT-D"), who, meaning)
    # The service itself now refuses a second release ("already released"): the slipped one
    # counts for it. The audit names that the first one should never have been accepted.
    only_rule_broken(plant.audit(), "R-D-1", "NCR NCR-D is open")
