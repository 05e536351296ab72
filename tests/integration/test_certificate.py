"""Issue 14, the certificate of conformance: a released lot's PDF states the lot, product,
release (who, meaning, UTC time), inspections and concessions, and its QR code holds the lot's
GS1 Digital Link URI with the release receipt in the fragment. Rendered to PNG (pdftoppm), the
QR code is decoded (zbarimg) and the receipt it carries verifies offline against the pinned
trust; an altered one does not. A lot that is not released gets no certificate, and the answer
says why."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from evledger_verify.receipt import Trust, verify_receipt
from evledger_verify.records import record_hash

from ledger.certificate import build, for_qr, issue, read_fragment, receipt_fragment, render
from ledger.errors import ConflictError
from tests.helpers import inspection, keep_screenshot, wait_anchored
from tests.integration.test_domain_workflows import (
    Qa,
    concession,
    disposition,
    evidence,
    failed_lot,
    qa,
    release,
)
from tests.integration.test_lot_life import released_lot

pytestmark = [pytest.mark.integration, pytest.mark.req("P11-10b-2", "P11-50-1", "PAGE-3")]
__all__ = ["qa"]

BASE = "https://ledger.example.com"


def tools() -> None:
    for tool in ("pdftoppm", "zbarimg", "pdftotext"):
        assert shutil.which(tool), f"{tool} missing: make setup installs poppler-utils, zbar-tools"


def png_of(pdf: bytes, tmp: Path, name: str) -> Path:
    (tmp / f"{name}.pdf").write_bytes(pdf)
    subprocess.run(["pdftoppm", "-png", "-r", "300", "-singlefile", str(tmp / f"{name}.pdf"),
                    str(tmp / name)], check=True)
    return tmp / f"{name}.png"


def text_of(pdf: bytes, tmp: Path) -> str:
    path = tmp / "text.pdf"
    path.write_bytes(pdf)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True,
                          capture_output=True, text=True).stdout


def decoded_qr(png: Path) -> str:
    out = subprocess.run(["zbarimg", "-q", "--raw", str(png)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def trust_of(qa: Qa) -> Trust:
    return Trust.from_json(qa.client.get("/v1/trust").json())


def test_a_released_lots_certificate_carries_a_receipt_that_verifies_from_its_qr_code(
    qa: Qa, tmp_path: Path
) -> None:
    tools()
    lot = "LOT-COC"
    released_lot(qa, lot)
    rel = qa.lot(lot)["release"]
    wait_anchored(qa.client, rel["record_id"])
    cert = issue(qa.runtime.ledger, lot, BASE)
    pdf = render(cert)
    assert render(cert) == pdf  # deterministic bytes (no creation time in the PDF)
    png = png_of(pdf, tmp_path, "coc")
    subprocess.run(["pdftoppm", "-png", "-r", "100", "-singlefile", str(tmp_path / "coc.pdf"),
                    str(tmp_path / "certificate")], check=True)
    keep_screenshot(tmp_path / "certificate.png")
    text = text_of(pdf, tmp_path)
    for expected in ("Certificate of conformance", lot, "GTIN 09506000134352",
                     "Released by", "Quinn Approver, released", f"{lot}-FQC-1",
                     "Dana Inspector, authored", "None: every characteristic met"):
        assert expected in text, text
    uri = decoded_qr(png)
    assert uri == cert.uri and uri.startswith(f"{BASE}/01/09506000134352/10/{lot}#rz=")
    receipt = read_fragment(uri.split("#", 1)[1])
    report, parsed = verify_receipt(receipt, trust_of(qa))
    assert report.ok, report.to_json()
    assert parsed is not None and parsed.record_id == rel["record_id"]
    signer = next(c for c in report.to_json()["checks"] if c["check"] == "signer")
    assert "Quinn Approver (roles qa_approver)" in signer["detail"], signer
    # the QR code carries the ledger's receipt (its anchors may have moved on since: final)
    served = qa.client.get(f"/v1/records/{rel['record_id']}/receipt").json()
    assert (served["entry"], served["signer"]["record"]) == (
        receipt["entry"], receipt["signer"]["record"])


def test_an_altered_receipt_in_the_qr_code_does_not_verify(qa: Qa) -> None:
    lot = "LOT-COC-X"
    released_lot(qa, lot)
    rel = qa.lot(lot)["release"]
    wait_anchored(qa.client, rel["record_id"])
    receipt = qa.client.get(f"/v1/records/{rel['record_id']}/receipt").json()

    def altered(change: Any) -> dict[str, Any]:
        small = copy.deepcopy(for_qr(receipt))
        change(small)
        return read_fragment(receipt_fragment(small))

    def decision(small: dict[str, Any]) -> None:  # another record hash in the entry
        small["entry"]["record_hash"] = "%064x" % (int(small["entry"]["record_hash"], 16) ^ 1)

    def proof(small: dict[str, Any]) -> None:
        small["inclusion_proof"][0] = "00" * 32

    def name(small: dict[str, Any]) -> None:
        small["signer"]["record"]["name"] = "Someone Trusted"

    for change, check in ((decision, "signature"), (proof, "inclusion"), (name, "signer")):
        report, _ = verify_receipt(altered(change), trust_of(qa))
        failed = [c["check"] for c in report.to_json()["checks"] if not c["ok"]]
        assert not report.ok and check in failed, (check, failed)
    assert read_fragment(receipt_fragment(for_qr(receipt))) == for_qr(receipt)


def test_only_a_released_lot_gets_a_certificate(qa: Qa) -> None:
    quarantined = "LOT-COC-Q"
    failed, _, _ = failed_lot(qa, quarantined)
    with pytest.raises(ConflictError) as exc:
        issue(qa.runtime.ledger, quarantined, BASE)
    assert "the lot is quarantined, not released" in str(exc.value)
    assert any("outer diameter failed" in r for r in exc.value.reasons), exc.value.reasons
    rejected = "LOT-COC-R"
    final = inspection(f"{rejected}-FQC-1", rejected, value=3.2)
    qa.ok(final)
    qa.ok(release(f"{rejected}-REL", rejected, evidence(final), "rejected"), "approver",
          "released")
    with pytest.raises(ConflictError) as exc:
        issue(qa.runtime.ledger, rejected, BASE)
    assert "the lot is rejected" in str(exc.value)
    assert exc.value.reasons[0].startswith(f"release decision rejected ({rejected}-REL)")
    del failed


def test_a_concession_is_stated_with_its_bounds_and_rationale(qa: Qa, tmp_path: Path) -> None:
    lot = "LOT-COC-C"
    failed, final, ncr = failed_lot(qa, lot)
    granted = disposition(qa, ncr, lot, "use_as_is", concession=concession("outer diameter"))
    qa.ok(granted, "approver", "approved")
    qa.step("ncr", ncr, "closed", lot=lot)
    review = {"record_id": f"{lot}-REV", "type": "review", "schema": "review/1",
              "reviews": granted["record_id"], "record_hash": record_hash(granted).hex(),
              "lot": lot, "statement": "MRB concurs: no effect on fit, form or function"}
    qa.ok(review, "approver2", "approved")
    qa.ok(release(f"{lot}-REL", lot, evidence(failed, final)), "approver2", "released")
    wait_anchored(qa.client, f"{lot}-REL")
    cert = issue(qa.runtime.ledger, lot, BASE)
    assert [c["ncr_id"] for c in cert.concessions] == [ncr]
    text = text_of(render(cert), tmp_path)
    assert f"NCR {ncr}: used as is for outer diameter, up to 4800" in text, text
    assert "Rationale:" in text and "Quinn Approver, approved" in text, text


# -- over HTTP, the CLI, and in a real browser --------------------------------------------------

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def test_the_certificate_route_the_cli_and_the_digital_link(
    qa: Qa, api_url: str, tmp_path: Path
) -> None:
    """GET /v1/lots/{lot}/certificate needs a read token and answers a PDF for a released lot,
    a 409 problem with the reasons for another; `evledger certificate` writes the same; the
    Digital Link path answers the lot's public face (no record body) or 404."""
    import httpx
    from click.testing import CliRunner

    from api.cli import main

    lot = "LOT-COC-H"
    released_lot(qa, lot)
    wait_anchored(qa.client, f"{lot}-REL")
    path = f"/v1/lots/{lot}/certificate"
    assert qa.client.get(path).status_code == 401
    resp = qa.client.get(path, headers=qa.read)
    assert resp.status_code == 200 and resp.headers["content-type"] == "application/pdf"
    assert resp.content.startswith(b"%PDF-") and f'coc-{lot}.pdf' in resp.headers[
        "content-disposition"]
    failed, _, _ = failed_lot(qa, "LOT-COC-HQ")
    refused = qa.client.get("/v1/lots/LOT-COC-HQ/certificate", headers=qa.read)
    assert refused.status_code == 409, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert "not released" in refused.json()["detail"] and refused.json()["reasons"]
    assert qa.client.get("/v1/lots/NO-SUCH-LOT/certificate", headers=qa.read).status_code == 404
    # the CLI, against the live service
    key = tmp_path / "approver.key"
    key.write_text(qa.people["approver"].key.hex())
    key.chmod(0o600)
    out = tmp_path / "coc.pdf"
    done = CliRunner().invoke(main, ["certificate", "--lot", lot, "-o", str(out), "--key",
                                     str(key), "--api", api_url])
    assert done.exit_code == 0, done.output
    assert out.read_bytes().startswith(b"%PDF-") and "certificate of conformance" in done.output
    done = CliRunner().invoke(main, ["certificate", "--lot", "LOT-COC-HQ", "-o",
                                     str(tmp_path / "no.pdf"), "--key", str(key), "--api",
                                     api_url])
    assert done.exit_code == 1 and "not released" in done.output, done.output
    assert not (tmp_path / "no.pdf").exists()
    # the Digital Link: public face as JSON, the page for a browser, 404 for another GTIN
    link = f"{api_url}/01/09506000134352/10/{lot}"
    face = httpx.get(link, headers={"Accept": "application/json"}).json()
    assert face["lot"] == lot and {r["type"] for r in face["records"]} >= {"inspection", "release"}
    assert all("current" not in r and "body" not in r for r in face["records"])
    html = httpx.get(link, headers={"Accept": "text/html"})
    assert html.status_code == 200 and "<html" in html.text.lower()
    assert httpx.get(f"{api_url}/01/09506000134359/10/{lot}").status_code == 404
    del failed


def test_scanning_the_certificate_opens_the_page_and_verifies_in_chromium(
    qa: Qa, api_url: str, tmp_path: Path
) -> None:
    """The end-to-end test of the issue: the PDF rendered to PNG, its QR code decoded, the URL
    opened in Chromium: "Verified", with the release's signer shown. The same with a
    certificate whose receipt was altered: not verified."""
    import httpx
    from playwright.sync_api import sync_playwright

    tools()
    lot = "LOT-COC-B"
    released_lot(qa, lot)
    wait_anchored(qa.client, f"{lot}-REL")
    pdf = httpx.get(f"{api_url}/v1/lots/{lot}/certificate", headers=qa.read).content
    good = decoded_qr(png_of(pdf, tmp_path, "good"))
    assert good.startswith(f"{api_url}/01/09506000134352/10/{lot}#rz=")
    status = qa.runtime.ledger.lot(lot)
    receipt = qa.runtime.ledger.receipt(f"{lot}-REL")
    receipt["entry"]["meaning"] = "authored"  # what the release was signed as, changed
    forged = build(status, {}, receipt, qa.runtime.ledger.identity.log_origin, api_url)
    bad = decoded_qr(png_of(render(forged), tmp_path, "bad"))
    trust = qa.client.get("/v1/trust").json()
    origin = api_url.rstrip("/")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        try:
            context = browser.new_context(viewport={"width": 390, "height": 844})
            outside: list[str] = []

            def route(r: Any) -> None:  # nothing but the ledger the link names
                if r.request.url.startswith(origin):
                    r.continue_()
                else:
                    outside.append(r.request.url)
                    r.abort()

            context.route("**/*", route)
            page = context.new_page()
            page.goto(f"{origin}/verify")
            if not page.locator("#trust-edit").evaluate("d => d.open"):
                page.click("#trust-edit summary")
            page.fill("#trust-text", json.dumps(trust))
            page.click("#trust-pin")
            results = {}
            for name, url in (("good", good), ("bad", bad)):
                page.goto("about:blank")
                page.goto(url)
                page.wait_for_selector("#results:not([hidden])")
                page.wait_for_function("!document.getElementById('verify').disabled")
                results[name] = page.inner_text("#verdict")
                if name == "good":
                    assert "Quinn Approver" in page.inner_text("#who")
                    page.screenshot(path=str(tmp_path / "certificate-scanned.png"))
                    keep_screenshot(tmp_path / "certificate-scanned.png")
            assert "Verified" in results["good"] and "Not verified" not in results["good"]
            assert "Not verified" in results["bad"], results
            assert outside == [], outside
        finally:
            browser.close()
