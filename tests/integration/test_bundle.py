"""Evidence bundles: exported by the service (route and `evledger export`), verified fully
offline by the `evledger-verify bundle` process with nothing but the trust file, each check
naming its clauses; and refused, naming the check, when tampered with in any of the named ways,
including a record a superuser slipped into the log that the service would have refused."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import bearer, inspection, wait_for
from tests.integration.test_domain_workflows import correction, evidence, release, workflow
from tests.integration.test_rules_replay import Plant
from tests.js_bundle import assert_js_agrees

pytestmark = [pytest.mark.integration, pytest.mark.req("P11-10b-1", "P11-10a-3")]

VERIFY = Path(sys.executable).parent / "evledger-verify"


def lot_history(p: Plant, lot: str, prefix: str) -> None:
    """A lot through its life: inspection, NCR opened and closed, re-inspection, release."""
    first = inspection(f"{prefix}-I1", lot=lot, value=3.2)
    p.submit(first, p.inspector, "authored")
    p.submit(workflow("ncr", f"{prefix}-N1", f"NCR-{prefix}", "open", lot=lot,
                      refs=[first["record_id"]]), p.inspector, "authored")
    for n, (step, who, meaning) in enumerate(
        [("evaluated", p.inspector, "reviewed"), ("dispositioned", p.approver, "approved")], 2):
        p.submit(workflow("ncr", f"{prefix}-N{n}", f"NCR-{prefix}", step, lot=lot), who,
                 meaning)
    p.submit(correction(f"{prefix}-C1", first["record_id"], lot,
                        [{"path": "/sample_size", "value": 40}],
                        "Sample size transcribed wrongly from the traveler"), p.inspector,
             "authored")
    second = inspection(f"{prefix}-I2", lot=lot)  # the rework re-inspected
    p.submit(second, p.inspector, "authored")
    p.submit(workflow("ncr", f"{prefix}-N4", f"NCR-{prefix}", "closed", lot=lot), p.approver,
             "approved")
    p.submit(release(f"{prefix}-R", lot, evidence(second)), p.approver, "released")


def final_with_proof(p: Plant, record_id: str) -> None:
    wait_for("final, proven offline", lambda: (p.client.get(
        f"/v1/records/{record_id}/receipt").json().get("anchor") or {}).get("proof"))


def export(p: Plant, lot: str) -> bytes:
    resp = p.client.get(f"/v1/lots/{lot}/evidence", headers=bearer(p.runtime, p.approver))
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == "application/zip"
    return resp.content


def verify(tmp_path: Path, data: bytes, trust: dict[str, Any], *extra: str
           ) -> tuple[int, dict[str, Any]]:
    (tmp_path / "bundle.zip").write_bytes(data)
    (tmp_path / "trust.json").write_text(json.dumps(trust))
    done = subprocess.run([str(VERIFY), "bundle", str(tmp_path / "bundle.zip"), "--trust",
                           str(tmp_path / "trust.json"), "--json", *extra],
                          capture_output=True, text=True, timeout=120)
    assert "Traceback" not in done.stderr, done.stderr
    code, report = done.returncode, json.loads(done.stdout)
    if "--rpc" not in extra:  # the page proves a bundle's anchors offline only
        assert_js_agrees(tmp_path / "bundle.zip", tmp_path / "trust.json", code, report)
    return code, report


def failed(report: dict[str, Any]) -> list[str]:
    return [c["check"] for c in report.get("checks", []) if not c["ok"]]


@pytest.fixture()
def exported(plant: Plant) -> tuple[Plant, bytes, dict[str, Any]]:
    lot_history(plant, "LOT-E", "E")
    lot_history(plant, "LOT-F", "F")  # another lot: not in LOT-E's bundle
    final_with_proof(plant, "F-R")
    return plant, export(plant, "LOT-E"), plant.runtime.ledger.identity.trust()


def test_a_lot_bundle_verifies_offline_with_every_check_and_clause(
    exported: tuple[Plant, bytes, dict[str, Any]], tmp_path: Path
) -> None:
    _, data, trust = exported
    code, report = verify(tmp_path, data, trust)
    assert code == 0, report
    checks = {c["check"]: c for c in report["checks"]}
    assert list(checks) == ["bundle", "records", "signatures", "authority", "rules",
                            "checkpoint", "inclusion", "lot chains", "anchor (chain 31337)",
                            "anchors required"]
    assert all(c["clause"] for c in report["checks"])
    assert "§11.10(g)" in checks["authority"]["clause"]
    assert "proven offline down to the block header" in checks["anchor (chain 31337)"]["detail"]
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        lines = [json.loads(x) for x in zf.read("records.jsonl").splitlines()]
        report_html = zf.read("report.html").decode()
    scoped = [x["record"]["record_id"] for x in lines if x["in_scope"]]
    assert scoped == ["E-I1", "E-N1", "E-N2", "E-N3", "E-C1", "E-I2", "E-N4", "E-R"]
    assert not any(x["record"].get("lot") == "LOT-F" for x in lines)
    assert manifest["in_scope"] == 8 and manifest["scope"] == {"lot": "LOT-E"}
    assert "Quinn Approver" in report_html and "released" in report_html


def test_the_verifier_installed_alone_verifies_a_bundle(
    exported: tuple[Plant, bytes, dict[str, Any]], tmp_path: Path, auditor_venv: Path
) -> None:
    """What an auditor does: a clean environment with `pip install ./verifier` only."""
    _, data, trust = exported
    (tmp_path / "bundle.zip").write_bytes(data)
    (tmp_path / "trust.json").write_text(json.dumps(trust))
    done = subprocess.run([str(auditor_venv / "bin" / "evledger-verify"), "bundle",
                           str(tmp_path / "bundle.zip"), "--trust", str(tmp_path / "trust.json")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "VERIFIED" in done.stdout and "supports: Part 11" in done.stdout


def test_export_command_and_period_scope(
    exported: tuple[Plant, bytes, dict[str, Any]], tmp_path: Path
) -> None:
    """The same through `evledger export` against the served API, for a lot and a period."""
    p, _, trust = exported
    import threading

    import uvicorn

    from api.app import create_app
    from ledger.embedded import free_port

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(p.runtime.ledger), port=port,
                                           log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_for("served", lambda: server.started)
        key = tmp_path / "approver.key"
        key.write_text(p.approver.key.hex())
        key.chmod(0o600)
        cli = Path(sys.executable).parent / "evledger"
        api = f"http://127.0.0.1:{port}"
        for args in (["--lot", "LOT-E"], ["--from", "2000-01-01T00:00:00Z", "--to",
                                          "2999-01-01T00:00:00Z"]):
            out = tmp_path / "b.zip"
            done = subprocess.run([str(cli), "export", *args, "-o", str(out), "--key", str(key),
                                   "--api", api], capture_output=True, text=True, timeout=120)
            assert done.returncode == 0, done.stderr
            assert "evledger-verify bundle" in done.stdout
            code, report = verify(tmp_path, out.read_bytes(), trust)
            assert code == 0, report
        bad = subprocess.run([str(cli), "export", "--lot", "NO-SUCH-LOT", "-o",
                              str(tmp_path / "x.zip"), "--key", str(key), "--api", api],
                             capture_output=True, text=True, timeout=60)
        assert bad.returncode != 0 and "no anchored record" in bad.stderr
        assert not (tmp_path / "x.zip").exists()
    finally:
        server.should_exit = True
        thread.join(timeout=10)


# -- what the records read beyond the lot ---------------------------------------------------------


def test_a_lot_bundle_carries_what_its_records_read_of_other_lots(
    plant: Plant, specs: tuple[Any, Any], tmp_path: Path
) -> None:
    """A CAPA on the lot opened for another lot's NCR, and a correction naming another
    instrument: the bundle carries, as context, the other lot from its first record up to that
    NCR (with its release, and what that release was judged by: the material lot it was made
    from, the supplier, the scans proving it) and the instrument's records; nothing of the
    other lot logged after the NCR. It verifies offline."""
    from tests.helpers import calibration, equipment, supplier
    from tests.integration.test_master_data import bundle_of, scans

    p, (author, _) = plant, specs
    p.submit(supplier("SUP-ACME-O", "ACME", "approved"), p.approver, "approved")
    time.sleep(1.1)  # the status is in effect from its signing time
    receive, produce, consume = scans(p, "ACME", "RM-O", "LOT-O", "O")
    final = inspection("O-F", lot="LOT-O")
    p.submit(final, p.inspector, "authored")
    p.submit(release("O-R", "LOT-O", evidence(final)), p.approver, "released")
    p.submit(workflow("ncr", "O-N1", "NCR-O", "open", lot="LOT-O", refs=["O-F"]),
             p.inspector, "authored")
    p.submit(inspection("O-LATE", lot="LOT-O"), p.inspector, "authored")
    p.submit(equipment("EQ-O2"), author, "authored")
    p.submit(calibration("cal-EQ-O2", "EQ-O2"), author, "verified")
    lot = "LOT-K"
    p.submit(inspection("K-F", lot=lot), p.inspector, "authored")
    p.submit(correction("K-C", "K-F", lot, [{"path": "/characteristics/0/equipment",
                                             "value": "EQ-O2"}],
                        "Instrument id transcribed wrongly from the traveler"),
             p.inspector, "authored")
    p.submit(workflow("capa", "K-CAPA-1", "CAPA-K", "open", lot=lot, ncr_id="NCR-O"),
             p.inspector, "authored")
    assert p.audit() == []
    code, report, lines = bundle_of(p, lot, "K-CAPA-1", tmp_path)
    assert code == 0, [c for c in report["checks"] if not c["ok"]]
    held = {x["record"]["record_id"]: x["in_scope"] for x in lines}
    assert [rid for rid, scoped in held.items() if scoped] == ["K-F", "K-C", "K-CAPA-1"]
    assert {"O-F", "O-R", "O-N1", "RM-O-IN", receive, produce, consume, "SUP-ACME-O",
            "equipment-EQ-O2", "cal-EQ-O2"} <= set(held), held
    assert "O-LATE" not in held


def test_a_lot_bundle_carries_the_sampling_stream_before_it(
    plant: Plant, specs: tuple[Any, Any], tmp_path: Path
) -> None:
    """The switching rules read the lots inspected before in the product's stream: the
    bundle carries each of them from its first record (so its chain verifies) up to that
    inspection, and none inspected after."""
    from tests.helpers import approve_spec, specification
    from tests.integration.test_master_data import bundle_of
    from tests.integration.test_sampling_plans import PLAN, lot_inspection

    p, (author, approver) = plant, specs
    approve_spec(p.client, p.runtime, {**specification("incoming", version=2), "sampling": PLAN,
                                       "sample_size": 2}, author, approver)
    time.sleep(1.1)  # in force from the second after its approval
    p.submit(inspection("SA-0", lot="LOT-SA"), p.inspector, "authored")
    for rid in ("SA", "SB", "SC"):
        p.submit(lot_inspection(rid, 0), p.inspector, "authored")
    p.submit(inspection("SA-1", lot="LOT-SA"), p.inspector, "authored")
    code, report, lines = bundle_of(p, "LOT-SB", "SA-1", tmp_path)
    assert code == 0, [c for c in report["checks"] if not c["ok"]]
    held = {x["record"]["record_id"] for x in lines}
    assert {"SA-0", "SA", "SB"} <= held, held
    assert not held & {"SC", "SA-1"}, held


def test_a_consume_scan_a_lot_bundle_carries_goes_into_the_lot_it_went_into(
    plant: Plant, tmp_path: Path
) -> None:
    """A consume scan that names no lot went into the lot its station was producing. An
    effectiveness check on the lot cites such a scan of another lot (the lot's material, after
    a failed result, consumed at the same station into the next lot): the bundle carries the
    station's produce scan before it, so the verifier does not take it for a consumption into
    this lot, and the release for one over a failed result."""
    from tests.helpers import register
    from tests.integration.test_lot_life import scan
    from tests.integration.test_master_data import bundle_of

    p, lot = plant, "LOT-PA"
    device = register(p.client, p.runtime, ("device",), "Line scanner")
    scan(device, p, "SX-P1", "produce", lot, lot=lot)
    p.submit(inspection("MM-IN", lot="LOT-MM", stage="incoming"), p.inspector, "authored")
    scan(device, p, "SX-C1", "consume", "LOT-MM")
    final = inspection("PA-F", lot=lot)
    p.submit(final, p.inspector, "authored")
    time.sleep(1.1)  # the failure comes after the first consumption, to the second
    scan(device, p, "SX-P2", "produce", "LOT-PZ", lot="LOT-PZ")
    p.submit(inspection("MM-IN2", lot="LOT-MM", stage="incoming", value=3.2), p.inspector,
             "authored")
    scan(device, p, "SX-C2", "consume", "LOT-MM")  # into LOT-PZ (a floor alert there)
    for n, step in enumerate(("open", "investigation", "action_plan", "implementation"), 1):
        p.submit(workflow("capa", f"PA-CAPA-{n}", "CAPA-PA", step, lot=lot), p.inspector,
                 "authored")
    p.submit(workflow("capa", "PA-CAPA-5", "CAPA-PA", "effectiveness_check", lot=lot,
                      data=["SX-C2"]), p.approver, "verified")
    p.submit(release("PA-R", lot, evidence(final)), p.approver, "released")
    assert p.audit() == []
    code, report, lines = bundle_of(p, lot, "PA-R", tmp_path)
    assert code == 0, [c for c in report["checks"] if not c["ok"]]
    held = {x["record"]["record_id"] for x in lines}
    assert {"SX-P1", "SX-C1", "MM-IN", "MM-IN2", "SX-C2", "SX-P2"} <= held, held


# -- tampering ----------------------------------------------------------------------------------


def repack(data: bytes, change: Callable[[dict[str, Any]], None], *,
           fix_manifest: bool = True) -> bytes:
    """Unpack, let ``change`` edit the parsed members, and pack again, re-listing the members'
    hashes in the manifest as a careful forger would (unless told not to)."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        parts: dict[str, Any] = {
            "manifest": json.loads(zf.read("manifest.json")),
            "lines": [json.loads(x) for x in zf.read("records.jsonl").splitlines()],
            "proofs": json.loads(zf.read("proofs.json")),
            "report": zf.read("report.html"),
        }
    change(parts)
    members = {
        "records.jsonl": ("\n".join(json.dumps(x, separators=(",", ":"), sort_keys=True)
                                    for x in parts["lines"]) + "\n").encode(),
        "proofs.json": json.dumps(parts["proofs"]).encode(),
        "report.html": parts["report"],
    }
    if fix_manifest:
        parts["manifest"]["records"] = len(parts["lines"])
        parts["manifest"]["members"] = {
            name: {"sha256": hashlib.sha256(body).hexdigest(), "bytes": len(body)}
            for name, body in members.items()
        }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("manifest.json", json.dumps(parts["manifest"]))
        for name, body in members.items():
            zf.writestr(name, body)
    return out.getvalue()


def _line(parts: dict[str, Any], record_id: str) -> dict[str, Any]:
    return next(x for x in parts["lines"] if x["record"]["record_id"] == record_id)


def _flip_hex(value: str, at: int = 10) -> str:
    return value[:at] + ("0" if value[at] != "0" else "1") + value[at + 1:]


def _remove(parts: dict[str, Any], record_id: str) -> None:
    parts["lines"] = [x for x in parts["lines"] if x["record"]["record_id"] != record_id]


def _add(parts: dict[str, Any]) -> None:
    copy = json.loads(json.dumps(_line(parts, "E-I2")))
    copy["leaf_index"] = parts["lines"][-1]["leaf_index"] + 1
    parts["lines"].append(copy)


def _swap_signatures(parts: dict[str, Any]) -> None:
    a, b = _line(parts, "E-I1")["entry"], _line(parts, "E-I2")["entry"]
    a["signature"], b["signature"] = b["signature"], a["signature"]


def _signer_roles(parts: dict[str, Any]) -> None:
    line = next(x for x in parts["lines"] if x["record"]["type"] == "signer"
                and "qa_inspector" in x["record"]["roles"])
    line["record"]["roles"] = ["qa_approver"]


def _swap_multiproof(parts: dict[str, Any]) -> None:
    m = parts["proofs"]["multiproof"]
    m[0], m[1] = m[1], m[0]


def _anchor_proof(key: str) -> Callable[[dict[str, Any]], None]:
    def change(parts: dict[str, Any]) -> None:
        proof = parts["proofs"]["anchors"][0]["proof"]
        if key == "block_header":
            proof[key] = _flip_hex(proof[key], 200)
        else:
            proof[key][0] = _flip_hex(proof[key][0], 30)
    return change


def _checkpoint_root(parts: dict[str, Any]) -> None:
    parts["proofs"]["root_hash"] = _flip_hex(parts["proofs"]["root_hash"])


TAMPERED: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "a record byte changed": (lambda p: _line(p, "E-I2")["record"]["characteristics"][0]
                              .update(value=3.04), "records"),
    "a record removed from the middle of the lot": (lambda p: _remove(p, "E-N3"), "lot chains"),
    "a record added": (_add, "inclusion"),
    "a signature moved to another record": (_swap_signatures, "signatures"),
    "a signer's role changed": (_signer_roles, "records"),
    "a checkpoint root changed": (_checkpoint_root, "checkpoint"),
    "a proof element swapped": (_swap_multiproof, "inclusion"),
    "a block header changed": (_anchor_proof("block_header"), "anchor (chain 31337)"),
    "a receipt-proof node changed": (_anchor_proof("receipt_proof"), "anchor (chain 31337)"),
}


@pytest.mark.parametrize("name", list(TAMPERED))
def test_a_tampered_bundle_fails_naming_the_check(
    exported: tuple[Plant, bytes, dict[str, Any]], tmp_path: Path, name: str
) -> None:
    _, data, trust = exported
    change, check = TAMPERED[name]
    code, report = verify(tmp_path, repack(data, change), trust)
    assert code == 1, report
    assert check in failed(report), (check, report)


@pytest.mark.parametrize("case", ["release by an inspector", "ncr open to closed"])
def test_a_record_the_service_would_refuse_fails_the_rules_check(
    plant: Plant, tmp_path: Path, case: str
) -> None:
    """The superuser case: signed by a registered key, sealed, anchored, the lot chain intact;
    `evledger audit` names it, and so does the bundle verifier, offline."""
    insp = inspection("S-I", lot="LOT-S")
    plant.submit(insp, plant.inspector, "authored")
    plant.submit(workflow("ncr", "S-N1", "NCR-S", "open", lot="LOT-S", refs=["S-I"]),
                 plant.inspector, "authored")
    if case == "release by an inspector":
        plant.slip_in(release("S-R", "LOT-S", evidence(insp)), plant.inspector, "released")
        bad = "S-R"
    else:
        plant.slip_in(workflow("ncr", "S-N2", "NCR-S", "closed", lot="LOT-S"),
                      plant.approver, "approved")
        bad = "S-N2"
    final_with_proof(plant, bad)
    assert [(f.kind, f.record_id) for f in plant.audit()] == [("rule_broken", bad)]
    code, report = verify(tmp_path, export(plant, "LOT-S"), plant.runtime.ledger.identity.trust())
    assert code == 1 and failed(report) == ["rules"], report
    rules = next(c for c in report["checks"] if c["check"] == "rules")
    assert bad in rules["detail"]


def _zip_with(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, body in members.items():
            zf.writestr(name, body)
    return out.getvalue()


def _members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


FILE_ATTACKS: dict[str, Callable[[bytes], bytes]] = {
    "the manifest truncated": lambda d: _zip_with({**_members(d), "manifest.json":
                                                  _members(d)["manifest.json"][:40]}),
    "the zip truncated": lambda d: d[: len(d) // 2],
    "trailing garbage": lambda d: d + b"garbage after the zip",
    "bytes before the zip": lambda d: b"MZ" + d,
    "a member outside its folder": lambda d: _zip_with({**_members(d), "../escape.txt": b"x"}),
    "a member missing": lambda d: _zip_with({k: v for k, v in _members(d).items()
                                             if k != "proofs.json"}),
    "a zip bomb": lambda d: _zip_with({**_members(d), "report.html": b"\0" * (40 * 1024**2)}),
    "not a zip at all": lambda d: b"PK\x03\x04" + b"\x00" * 100,
}


@pytest.mark.parametrize("name", list(FILE_ATTACKS))
def test_a_damaged_or_hostile_file_is_refused(
    exported: tuple[Plant, bytes, dict[str, Any]], tmp_path: Path, name: str
) -> None:
    _, data, trust = exported
    code, report = verify(tmp_path, FILE_ATTACKS[name](data), trust)
    assert code in (1, 2), report
    assert failed(report)[:1] == ["bundle"] or report.get("error"), report


def test_a_huge_member_is_refused_before_it_is_read(
    exported: tuple[Plant, bytes, dict[str, Any]], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from evledger_verify import bundle
    from evledger_verify.receipt import Trust

    _, data, trust = exported
    monkeypatch.setitem(bundle.MEMBERS, "report.html", 1000)  # a small limit, same logic
    path = tmp_path / "b.zip"
    path.write_bytes(data)
    report = bundle.verify_bundle(str(path), Trust.from_json(trust))
    assert not report.ok and report.checks[0].name == "bundle"
    assert "report.html: larger than 1000 bytes" in report.checks[0].detail


def test_the_bundle_reader_is_fuzzed(
    exported: tuple[Plant, bytes, dict[str, Any]], tmp_path: Path
) -> None:
    """Random bytes changed, cut or appended anywhere in a real bundle: the verifier answers
    (exit 1 or 2, or 0 when only bytes no check depends on changed, such as a timestamp in a
    zip header), never an exception."""
    import random

    from evledger_verify.cli import main

    _, data, trust = exported
    (tmp_path / "trust.json").write_text(json.dumps(trust))
    rng = random.Random(1234)
    path = tmp_path / "fuzz.zip"
    for _ in range(120):
        mutated = bytearray(data)
        kind = rng.choice(["flip", "cut", "append", "splice"])
        at = rng.randrange(len(mutated))
        if kind == "flip":
            for _ in range(rng.randint(1, 8)):
                mutated[rng.randrange(len(mutated))] ^= 1 << rng.randrange(8)
        elif kind == "cut":
            del mutated[at:at + rng.randint(1, 500)]
        elif kind == "append":
            mutated += bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))
        else:
            mutated[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))
        path.write_bytes(bytes(mutated))
        code = main(["bundle", str(path), "--trust", str(tmp_path / "trust.json"), "--json",
                     "--workers", "1"])
        assert code in (0, 1, 2)
        if code == 0:  # then the members the checks read are intact
            with zipfile.ZipFile(path) as zf, zipfile.ZipFile(io.BytesIO(data)) as orig:
                assert all(zf.read(n) == orig.read(n) for n in orig.namelist())


def test_the_report_reads_well_in_a_browser(
    exported: tuple[Plant, bytes, dict[str, Any]], tmp_path: Path
) -> None:
    """report.html opened from disk in Debian's chromium (Playwright): one row per record of the
    scope, each with its printed name, UTC time and meaning; nothing wider than the window. The
    screenshot is kept in the test's folder (and in /tmp/evledger-report.png) to look at."""
    from playwright.sync_api import sync_playwright

    _, data, _ = exported
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        (tmp_path / "report.html").write_bytes(zf.read("report.html"))
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto((tmp_path / "report.html").as_uri())
            assert page.title() == "Evidence: lot LOT-E"
            rows = page.locator("tbody tr")
            assert rows.count() == 8
            first = rows.nth(0).inner_text()
            assert "E-I1" in first and "Ivy Inspector" in first and "authored" in first
            assert "verdict fail" in first  # as signed: the correction is shown beside it
            assert "/sample_size: 32 → 40" in first and "traveler" in first
            assert "decision released" in rows.nth(7).inner_text()
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
            shot = tmp_path / "report.png"
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    assert shot.stat().st_size > 10_000
    Path("/tmp/evledger-report.png").write_bytes(shot.read_bytes())


def test_a_trust_file_may_pin_block_hashes(
    exported: tuple[Plant, bytes, dict[str, Any]], tmp_path: Path
) -> None:
    """An auditor who knows a block's hash (from another source) pins it: the anchor must name
    that very block; a different one fails the anchor, with no node asked."""
    _, data, trust = exported
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        anchor = json.loads(zf.read("proofs.json"))["anchors"][0]
    pin = {"chain_id": anchor["chain_id"], "number": anchor["block_number"],
           "hash": anchor["block_hash"]}
    code, report = verify(tmp_path, data, {**trust, "blocks": [pin]})
    assert code == 0, report
    detail = next(c["detail"] for c in report["checks"] if c["check"] == "anchor (chain 31337)")
    assert "the block hash is the one the trust file pins" in detail
    code, report = verify(tmp_path, data, {**trust, "blocks": [{**pin, "hash": "0x" + "ab" * 32}]})
    assert code == 1 and "anchor (chain 31337)" in failed(report), report
    for bad in ([{**pin, "hash": "nope"}], [pin, {**pin, "hash": "0x" + "cd" * 32}], {"a": 1},
                [{"chain_id": 1, "number": 2}]):
        code, report = verify(tmp_path, data, {**trust, "blocks": bad})
        assert code == 2 and "trust file blocks" in report["error"], report


def test_evidence_routes_refuse_bad_input_clearly(
    exported: tuple[Plant, bytes, dict[str, Any]],
) -> None:
    p, _, _ = exported
    auth = bearer(p.runtime, p.approver)
    cases = [
        ("/v1/evidence?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z", auth, 400),
        ("/v1/evidence?from=2000-01-01T00:00:00%2B16:00&to=2000-01-01T00:00:00Z", auth, 404),
        ("/v1/evidence?from=0001-01-01T00:00:00%2B23:00&to=2000-01-01T00:00:00Z", auth, 400),
        ("/v1/evidence?from=2026-01-01T00:00:00&to=2026-01-02T00:00:00Z", auth, 422),  # no zone
        ("/v1/evidence?from=yesterday&to=today", auth, 422),
        ("/v1/evidence", auth, 422),
        ("/v1/evidence?from=2000-01-01T00:00:00Z&to=2999-01-01T00:00:00Z", {}, 401),
        ("/v1/lots/LOT-E/evidence", {"Authorization": "Bearer nonsense"}, 401),
        ("/v1/lots/NO-SUCH-LOT/evidence", auth, 404),
    ]
    for url, headers, status in cases:
        resp = p.client.get(url, headers=headers)
        assert resp.status_code == status, (url, resp.status_code, resp.text)
        assert resp.json()["detail"], resp.text


def test_rpc_confirms_each_anchor_on_its_chain(
    exported: tuple[Plant, bytes, dict[str, Any]], tmp_path: Path
) -> None:
    """With --rpc the node is asked too, with the checks `evledger-verify receipt --rpc` runs:
    the contract holds the root, the transaction, block and log are canonical; a transaction
    hash the node does not know fails there (offline, the block's receipt proves the event, not
    which transaction hash the bundle names)."""
    p, data, trust = exported
    url = p.runtime.chain.rpc_url
    code, report = verify(tmp_path, data, trust, "--rpc", url)
    assert code == 0, report
    names = [c["check"] for c in report["checks"]]
    for name in ("chain root (chain 31337)", "anchor transaction (chain 31337)",
                 "block finality (chain 31337)"):
        assert name in names, names

    def other_tx(parts: dict[str, Any]) -> None:
        parts["proofs"]["anchors"][0]["tx_hash"] = "0x" + "12" * 32

    code, report = verify(tmp_path, repack(data, other_tx), trust, "--rpc", url)
    assert code == 1 and failed(report) == ["anchor transaction (chain 31337)",
                                            "anchors required"], report
