"""Master data as QA reads it: the routes (/v1/specifications, /v1/equipment, /v1/suppliers)
and the commands (`evledger spec|equipment|supplier list|show [--json]`), on a served ledger;
with bad input (no token, unknown ids, malformed ids) answered clearly."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from eth_account import Account
from eth_account.signers.local import LocalAccount

from api.cli import main
from ledger import genealogy, locks
from ledger.runtime import Runtime
from tests.helpers import (
    EQUIPMENT,
    GTIN,
    approve_spec,
    bearer,
    calibration,
    change,
    inspection,
    now_iso,
    spec_id,
    specification,
    supplier,
)
from tests.integration.test_domain_workflows import release, workflow
from tests.integration.test_master_data import post, scans
from tests.integration.test_rules_replay import Plant

pytestmark = [pytest.mark.integration, pytest.mark.req("ISO-4.2.4-2")]


def key_file(account: LocalAccount, path: Path) -> str:
    path.write_text(bytes(account.key).hex() + "\n")
    os.chmod(path, 0o600)
    return str(path)


@pytest.fixture()
def story(plant: Plant, specs: tuple[LocalAccount, LocalAccount]) -> Plant:
    """Version 2 of the final specification in force, version 3 awaiting approval; the
    instrument found out of tolerance after two inspections (one since dispositioned by an
    NCR); a supplier approved then disqualified, with a lot rejected at incoming inspection
    and an NCR."""
    author, approver = specs
    p = plant
    ncr_steps = [("open", p.inspector, "authored"), ("evaluated", p.inspector, "reviewed"),
                 ("dispositioned", p.approver, "approved")]
    for lot in ("LOT-M1", "LOT-M2"):
        assert post(p, inspection(f"{lot}-I", lot=lot), p.inspector, "authored").status_code \
            == 201
    time.sleep(1.1)
    approve_spec(p.client, p.runtime, specification(version=2, limits=(2.96, 3.04)), author,
                 approver)
    assert post(p, change("CHG-M3", "requested", specifications=[
        {"spec_id": spec_id("final"), "version": 3}]), author, "authored").status_code == 201
    assert post(p, specification(version=3, change_id="CHG-M3"), author,
                "authored").status_code == 201
    assert post(p, calibration("cal-m-oot", calibrated_at=now_iso(),
                               as_found="out_of_tolerance"), author, "verified").status_code == 201
    for n, (step, who, meaning) in enumerate(ncr_steps, 1):
        extra = {"refs": ["LOT-M1-I"]} if step == "open" else {}
        assert post(p, workflow("ncr", f"M1-N{n}", "NCR-M1", step, lot="LOT-M1", **extra),
                    who, meaning).status_code == 201
    assert post(p, supplier("SUP-P-1", "Polymer AG", "approved"), p.approver,
                "approved").status_code == 201
    time.sleep(1.1)
    scans(p, "Polymer AG", "RM-P1", "LOT-P1", "P1")
    scans(p, "Polymer AG", "RM-P2", "LOT-P2", "P2")
    failed = inspection("RM-P2-IQC", lot="RM-P2", stage="incoming", value=3.2)
    assert post(p, failed, p.inspector, "authored").status_code == 201
    for n, (step, who, meaning) in enumerate(ncr_steps[:1], 1):
        assert post(p, workflow("ncr", f"P2-N{n}", "NCR-P2", step, lot="RM-P2",
                                refs=["RM-P2-IQC"]), who, meaning).status_code == 201
    assert post(p, supplier("SUP-P-2", "Polymer AG", "disqualified"), p.approver,
                "approved").status_code == 201
    return p


def get(p: Plant, path: str, status: int = 200) -> Any:
    resp = p.client.get(path, headers=bearer(p.runtime, p.approver))
    assert resp.status_code == status, resp.text
    return resp.json()


def test_specifications_show_each_versions_state(story: Plant) -> None:
    listed = get(story, "/v1/specifications")
    final = next(s for s in listed if s["spec_id"] == spec_id("final"))
    assert final["in_force"] == 2 and final["product"]["gtin"] == GTIN
    assert [(v["version"], v["state"]) for v in final["versions"]] == [
        (1, "superseded"), (2, "in force"), (3, "awaiting approval")]
    assert {s["spec_id"] for s in listed} == {spec_id(s) for s in
                                              ("incoming", "in_process", "final")}
    shown = get(story, f"/v1/specifications/{spec_id('final')}")
    v1, v2, v3 = shown["versions"]
    assert v1["superseded_at"] == v2["effective_from"]
    assert v2["approval"]["printed_name"] == "Spec Approver"
    assert v2["author"]["printed_name"] == "Spec Author" and v2["author"]["meaning"] == "authored"
    assert v2["characteristics"][0]["lower"] == 2.96
    assert v3["approval"] is None and v3["effective_from"] is None


def test_equipment_shows_status_and_out_of_tolerance_impact(story: Plant) -> None:
    listed = get(story, "/v1/equipment")
    assert [(e["equipment_id"], e["status"]) for e in listed] == [(EQUIPMENT, "usable")]
    shown = get(story, f"/v1/equipment/{EQUIPMENT}")
    assert [c["record_id"] for c in shown["calibrations"]] == [f"cal-{EQUIPMENT}-1", "cal-m-oot"]
    assert shown["calibrations"][1]["signature"]["printed_name"] == "Spec Author"
    impact = {i["inspection"]: (i["lot"], i["dispositioned"]) for i in shown["impact"]}
    assert impact == {"LOT-M1-I": ("LOT-M1", True), "LOT-M2-I": ("LOT-M2", False)}


def test_suppliers_show_status_history_and_performance(story: Plant) -> None:
    listed = {s["supplier_id"]: s for s in get(story, "/v1/suppliers")}
    assert listed["Polymer AG"]["status"] == "disqualified"
    assert listed["Polymer AG"]["performance"] == {
        "lots_received": 2, "receipts": 2, "rejected_at_incoming_inspection": 1, "ncrs": 1}
    shown = get(story, "/v1/suppliers/Polymer%20AG")
    assert [h["status"] for h in shown["history"]] == ["approved", "disqualified"]
    assert shown["history"][1]["signature"]["printed_name"] == "Quinn Approver"
    assert shown["performance"]["rejected_lots"] == ["RM-P2"]
    assert shown["performance"]["ncr_ids"] == ["NCR-P2"]


def test_a_receipt_projected_while_it_is_read_counts_once(plant: Plant) -> None:
    """Defect (CI, 2026-11-30): the supplier view read the records the projection had not
    reached, then the projection; a record the projector read in between was counted twice
    (4 receipts of 2). The projection is held back with its own lock until the records are
    sealed, looked at, then released and caught up before the view reads it."""
    p = plant
    assert post(p, supplier("SUP-R-1", "Resin Co", "approved"), p.approver,
                "approved").status_code == 201
    time.sleep(1.1)
    ledger = p.runtime.ledger
    with p.superuser.begin() as hold:
        hold.execute(sa.select(sa.func.pg_advisory_xact_lock(locks.GENEALOGY)))
        scans(p, "Resin Co", "RM-R1", "LOT-R1", "R1")
        deadline = time.monotonic() + 30
        while ledger.status()["pending_seal"]:
            assert time.monotonic() < deadline, "not sealed"
            time.sleep(0.05)
        with ledger.engine.connect() as conn:
            seen = genealogy.pending_links(conn)
    assert [x.kind for x in seen.links if x.other == "Resin Co"] == ["receive"]
    p.runtime.projector.catch_up()
    master = ledger.master
    with ledger.engine.connect() as conn:
        found = master._supplier(conn, master._rules(conn), "Resin Co", seen)
    assert found["performance"]["receipts"] == 1 and found["performance"]["lots"] == ["RM-R1"]


def test_master_data_routes_refuse_bad_input_clearly(story: Plant) -> None:
    c = story.client
    for path in ("/v1/specifications", f"/v1/specifications/{spec_id('final')}",
                 "/v1/equipment", f"/v1/equipment/{EQUIPMENT}", "/v1/suppliers",
                 "/v1/suppliers/Polymer%20AG"):
        assert c.get(path).status_code == 401, path  # bodies need a read token
        assert c.get(path, headers={"Authorization": "Bearer nonsense"}).status_code == 401
    assert "specification 'SPEC-none': not found" in get(
        story, "/v1/specifications/SPEC-none", 404)["detail"]
    assert "equipment 'EQ-none': not found" in get(story, "/v1/equipment/EQ-none", 404)["detail"]
    assert "no status decision and no receipt" in get(story, "/v1/suppliers/Nobody", 404)[
        "detail"]
    for path in ("/v1/specifications/" + "x" * 200, "/v1/equipment/bad%20id",
                 "/v1/suppliers/" + "y" * 700, "/v1/suppliers/%0A"):
        resp = c.get(path, headers=bearer(story.runtime, story.approver))
        assert resp.status_code in (404, 422), (path, resp.text)
        assert resp.status_code != 500


def test_the_commands_list_and_show_master_data(
    story: Plant, api_url: str, runtime: Runtime, tmp_path: Path
) -> None:
    cli = CliRunner(env={"EVLEDGER_API_URL": api_url, "EVLEDGER_HOME": str(runtime.settings.home)})
    key = key_file(story.approver, tmp_path / "approver.key")

    def run(*args: str) -> str:
        done = cli.invoke(main, [*args, "--key", key])
        assert done.exit_code == 0, done.output
        return done.output

    listed = run("spec", "list")
    assert any(line.startswith("SPEC-final ") and "v2 in force" in line
               for line in listed.splitlines()), listed
    shown = run("spec", "show", spec_id("final"))
    assert "version 1: superseded" in shown and "version 3: awaiting approval" in shown
    assert "approved by Spec Approver, approved," in shown
    assert "outer diameter" in shown and "2.96..3.04 mm" in shown and "CRITICAL" in shown
    assert json.loads(run("spec", "show", spec_id("final"), "--json"))["in_force"] == 2
    assert f"{EQUIPMENT} " in run("equipment", "list")
    shown = run("equipment", "show", EQUIPMENT)
    assert "as found out_of_tolerance" in shown
    assert "LOT-M2-I" in shown and "BLOCKS RELEASE" in shown
    assert "dispositioned by an NCR" in shown
    assert "Polymer AG" in run("supplier", "list") and "disqualified" in run("supplier", "list")
    shown = run("supplier", "show", "Polymer AG")
    assert "status: disqualified" in shown and "rejected at incoming inspection 1" in shown
    assert "lot RM-P2 (rejected at incoming inspection)" in shown
    assert json.loads(run("supplier", "list", "--json"))[0]["supplier_id"] == "Polymer AG"
    # unknown ids and a key that may not read: a clear error, exit 1
    missing = cli.invoke(main, ["spec", "show", "SPEC-none", "--key", key])
    assert missing.exit_code == 1 and "not found" in missing.output, missing.output
    stranger = key_file(Account.create(), tmp_path / "stranger.key")
    refused = cli.invoke(main, ["equipment", "list", "--key", stranger])
    assert refused.exit_code == 1 and "is not an active signer" in refused.output, refused.output
    assert httpx.get(f"{api_url}/v1/equipment").status_code == 401


def test_submit_several_files_stamps_and_completes_evidence(
    plant: Plant, specs: tuple[LocalAccount, LocalAccount], api_url: str, runtime: Runtime,
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    cli = CliRunner(env={"EVLEDGER_API_URL": api_url, "EVLEDGER_HOME": str(runtime.settings.home)})
    inspector = key_file(plant.inspector, tmp_path / "i.key")
    approver = key_file(plant.approver, tmp_path / "a.key")
    old = "2020-01-01T00:00:00Z"  # years before the signing: only a stamp makes it valid
    for n in (1, 2):
        Path(f"i{n}.json").write_text(json.dumps(inspection(f"SUB-{n}", lot="LOT-SUB",
                                                            inspected_at=old)))
    unstamped = cli.invoke(main, ["submit", "i1.json", "--key", inspector])
    assert unstamped.exit_code == 1 and "is more than 604800 s before the signing time" \
        in unstamped.output
    done = cli.invoke(main, ["submit", "i1.json", "i2.json", "--key", inspector,
                             "--stamp", "inspected_at"])
    assert done.exit_code == 0, done.output
    assert done.output.count('"status": "accepted"') == 2
    stored = get(plant, "/v1/records/SUB-2")["current"]
    assert stored["inspected_at"] != old and stored["inspected_at"].endswith("Z")
    # run again later: the stamp makes another record under the same id, refused as such
    time.sleep(1.1)
    again = cli.invoke(main, ["submit", "i1.json", "--key", inspector, "--stamp",
                              "inspected_at"])
    assert again.exit_code == 1 and "SUB-1" in again.output, again.output
    # evidence without hashes: completed from the ledger, printed; a missing record is named
    rel = release("SUB-R", "LOT-SUB", [{"record_id": "SUB-2"}, {"record_id": "SUB-9"}])
    Path("r.json").write_text(json.dumps(rel))
    missing = cli.invoke(main, ["submit", "r.json", "--key", approver, "--meaning",
                                "released"])
    assert missing.exit_code == 1, missing.output
    assert "release evidence SUB-9: not in the ledger" in missing.output
    rel["evidence"] = [{"record_id": "SUB-2"}]
    Path("r.json").write_text(json.dumps(rel))
    released = cli.invoke(main, ["submit", "r.json", "--key", approver, "--meaning",
                                 "released"])
    assert released.exit_code == 0, released.output
    assert "evidence SUB-2: record hash" in released.output
    # bad options: a malformed field name, --stamp or several files with --signature
    for args, text in (
        (["submit", "i1.json", "--key", inspector, "--stamp", "Bad-Field"],
         "expected a top-level field name"),
        (["submit", "i1.json", "i2.json", "--signature", "0x00"], "signs one FILE"),
        (["submit", "i1.json", "--signature", "0x00", "--stamp", "inspected_at"],
         "signs one FILE"),
        (["submit", "nope.json", "--key", inspector], "does not exist"),
    ):
        bad = cli.invoke(main, args)
        assert bad.exit_code == 2 if "exist" in text else bad.exit_code in (1, 2), bad.output
        assert text in bad.output, (args, bad.output)
