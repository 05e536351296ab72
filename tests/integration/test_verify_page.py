"""The verification page (web/dist/verify.html) in real Chromium, opened from ``file://`` with
the network off, on a real receipt from a running ledger anchored on Anvil: every step
verified, the same checks and verdicts as ``evledger-verify``; a record changed by one byte
fails at the record step, a receipt under another log key at the checkpoint step, an altered
proof at inclusion. Screenshots at 390x844 and 1280x800 go to the test's folder and to
docs/img/verify-*.png."""

from __future__ import annotations

import base64
import contextlib
import copy
import io
import json
import shutil
import subprocess
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from evledger_verify.checkpoint import sign_note
from evledger_verify.cli import main

from ledger.embedded import repo_root
from tests.helpers import inspection, keep_screenshot, wait_for
from tests.integration.test_rules_replay import Plant

pytestmark = [pytest.mark.integration, pytest.mark.req("PAGE-1", "P11-10a-2")]

ROOT = repo_root()
PAGE = ROOT / "web" / "dist" / "verify.html"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def deflate(data: bytes) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


def cli_checks(tmp: Path, receipt: dict[str, Any], record: str, trust: dict[str, Any]
               ) -> list[tuple[str, bool]]:
    """What ``evledger-verify receipt --json`` says of the same files: [(check, ok)]."""
    (tmp / "r.json").write_text(json.dumps(receipt))
    (tmp / "d.json").write_text(record)
    (tmp / "t.json").write_text(json.dumps(trust))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        main(["receipt", str(tmp / "r.json"), "--record", str(tmp / "d.json"), "--trust",
              str(tmp / "t.json"), "--json"])
    return [(c["check"], c["ok"]) for c in json.loads(out.getvalue())["checks"]]


@pytest.fixture()
def anchored(plant: Plant) -> tuple[dict[str, Any], str, dict[str, Any]]:
    """A real receipt (final, its anchor proven down to the block header, carrying the
    signer's grant), its record's text and the ledger's trust file."""
    record = inspection("WEB-1", lot="LOT-WEB")
    plant.submit(record, plant.inspector, "authored")

    def final() -> dict[str, Any] | None:
        resp = plant.client.get("/v1/records/WEB-1/receipt")
        body: dict[str, Any] = resp.json()
        return body if resp.status_code == 200 and (body.get("anchor") or {}).get("proof") \
            else None

    receipt = wait_for("WEB-1 anchored and final, with its proof", final, timeout=60)
    receipt.pop("status", None)
    assert receipt.get("signer"), "the receipt carries the signer's grant"
    assert len(receipt["inclusion_proof"]) >= 1
    return receipt, json.dumps(record, indent=1), plant.runtime.ledger.identity.trust()


@pytest.fixture(scope="module")
def built_page() -> Path:
    """The page as built from the current sources (make setup does the same)."""
    node = shutil.which("node")
    assert node, "node is needed to build the page"
    done = subprocess.run([node, "web/verify/build.mjs"], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return PAGE


@pytest.fixture(scope="module")
def playwright() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="module")
def browser(playwright: Any) -> Iterator[Any]:
    b = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
    try:
        yield b
    finally:
        b.close()


class Page:
    """One browser context with the network off: every request that is not file: is aborted
    (and recorded); console errors and page errors are recorded."""

    def __init__(self, browser: Any, width: int, height: int) -> None:
        self.context = browser.new_context(viewport={"width": width, "height": height})
        self.blocked: list[str] = []
        self.errors: list[str] = []

        def route(r: Any) -> None:
            if r.request.url.startswith("file:"):
                r.continue_()
            else:
                self.blocked.append(r.request.url)
                r.abort()

        self.context.route("**/*", route)
        self.page = self.context.new_page()
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    def open(self, fragment: str = "") -> None:
        self.page.goto(PAGE.as_uri() + fragment)

    def pin(self, trust: dict[str, Any]) -> None:
        p = self.page
        if not p.locator("#trust-edit").evaluate("d => d.open"):
            p.click("#trust-edit summary")
        p.fill("#trust-text", json.dumps(trust, indent=1))
        p.click("#trust-pin")
        assert "Pinned trust file" in p.inner_text("#trust-now")

    def verify(self, receipt: dict[str, Any] | str, record: str | None) -> None:
        p = self.page
        text = receipt if isinstance(receipt, str) else json.dumps(receipt, indent=1)
        p.set_input_files("#receipt-file", files=[{
            "name": "receipt.json", "mimeType": "application/json", "buffer": text.encode()}])
        if record is not None:
            p.fill("#record-text", record)
        p.click("#verify")
        self.wait()

    def wait(self) -> None:
        self.page.wait_for_selector("#results:not([hidden])")
        self.page.wait_for_function("!document.getElementById('verify').disabled")

    def steps(self) -> list[tuple[str, str]]:
        return [(s.get_attribute("data-check"), s.get_attribute("data-status"))
                for s in self.page.query_selector_all("#steps .step")]

    def verdict(self) -> str:
        return str(self.page.inner_text("#verdict")).replace("✓", "").replace("✗", "").replace(
            "?", "").strip()

    def close(self) -> None:
        self.context.close()


def test_a_real_receipt_verifies_step_by_step_offline_in_chromium(
    anchored: tuple[dict[str, Any], str, dict[str, Any]], built_page: Path, browser: Any,
    tmp_path: Path,
) -> None:
    receipt, record, trust = anchored
    expected = cli_checks(tmp_path, receipt, record, trust)
    assert all(ok for _, ok in expected), expected
    fragment = "#rz=" + b64url(deflate(json.dumps(receipt).encode())) + "&dz=" + b64url(
        deflate(record.encode()))
    shots = []
    for width, height in ((390, 844), (1280, 800)):
        v = Page(browser, width, height)
        try:
            v.open()
            v.pin(trust)
            v.open(fragment)  # the link: the page reads the fragment and verifies at once
            v.wait()
            p = v.page
            assert v.verdict() == "Verified", p.inner_text("#results")
            assert v.steps() == [(name, "ok") for name, _ in expected]
            assert "every check passed" in p.inner_text("#verdict-why")
            who = p.inner_text("#who")
            assert "Ivy Inspector" in who and "authored" in who and "qa_inspector" in who
            assert " UTC" in who
            anchor = p.inner_text("[data-check='anchor (chain 31337)']")
            assert "Anchored on chain 31337" in anchor
            assert p.locator("[data-check='anchor (chain 31337)'] .step-detail").text_content(
            ).count("proven offline down to the block header") == 1
            # Accessible: the result is announced, focus is on the verdict, nothing overflows.
            assert "Verified" in p.inner_text("#live")
            assert p.evaluate("document.activeElement.id") == "verdict"
            assert p.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
            shot = tmp_path / f"verify-{width}.png"
            p.screenshot(path=str(shot))
            shots.append(shot)
            assert v.blocked == [], f"the page reached for the network: {v.blocked}"
            assert v.errors == [], v.errors
        finally:
            v.close()
    for shot in shots:
        assert shot.stat().st_size > 20_000
        keep_screenshot(shot)


def resigned_under_another_key(receipt: dict[str, Any], origin: str) -> dict[str, Any]:
    r = copy.deepcopy(receipt)
    body = r["checkpoint"][: r["checkpoint"].index("\n\n") + 1]
    r["checkpoint"] = sign_note(body, origin, Ed25519PrivateKey.generate())
    return r


def altered_proof(receipt: dict[str, Any]) -> dict[str, Any]:
    r = copy.deepcopy(receipt)
    first = r["inclusion_proof"][0]
    r["inclusion_proof"][0] = format(int(first[0], 16) ^ 1, "x") + first[1:]
    return r


def test_tampering_fails_at_the_step_it_breaks(
    anchored: tuple[dict[str, Any], str, dict[str, Any]], built_page: Path, browser: Any,
    tmp_path: Path,
) -> None:
    receipt, record, trust = anchored
    assert record.count("3.01") == 1
    cases = {
        "record": (receipt, record.replace("3.01", "3.02")),
        "checkpoint": (resigned_under_another_key(receipt, trust["log_origin"]), record),
        "inclusion": (altered_proof(receipt), record),
    }
    v = Page(browser, 1280, 800)
    try:
        v.open()
        v.pin(trust)
        for step, (bad_receipt, bad_record) in cases.items():
            v.verify(bad_receipt, bad_record)
            assert v.verdict() == "Not verified", (step, v.page.inner_text("#results"))
            failed = [name for name, status in v.steps() if status == "fail"]
            assert failed == [step], (step, v.steps())
            # The same verdicts as the Python reference on the same files.
            expected = cli_checks(tmp_path, bad_receipt, bad_record, trust)
            assert [(n, s == "ok") for n, s in v.steps()] == expected
            detail = v.page.inner_text(f"[data-check='{step}'] .step-detail")
            assert detail, "the failed step says what did not match"
            if step == "record":
                assert f"record hash: expected {receipt['record_hash']}" in detail
                v.page.screenshot(path=str(tmp_path / "verify-failed.png"))
            if step == "checkpoint":
                assert "expected a signature by the trusted log key" in detail
            if step == "inclusion":
                assert "inclusion proof: expected root" in detail
        assert v.blocked == [] and v.errors == [], (v.blocked, v.errors)
    finally:
        v.close()


def test_without_a_trust_file_the_page_could_not_check(
    anchored: tuple[dict[str, Any], str, dict[str, Any]], built_page: Path, browser: Any,
) -> None:
    receipt, record, _ = anchored
    v = Page(browser, 390, 844)
    try:
        v.open()
        assert "No trust file yet" in v.page.inner_text("#trust-now")
        v.verify(receipt, record)
        assert v.verdict() == "Could not check"
        statuses = dict(v.steps())
        assert statuses["record"] == statuses["inclusion"] == "ok"
        assert statuses["checkpoint"] == statuses["signature"] == "unchecked"
    finally:
        v.close()


def test_the_anchor_is_confirmed_through_the_node_the_visitor_names(
    anchored: tuple[dict[str, Any], str, dict[str, Any]], built_page: Path, browser: Any,
    anvil: Any,
) -> None:
    """With a node URL typed in, the page asks that node (and nothing else) for the chain id,
    the contract's root and the anchor transaction; a node that cannot be reached makes the
    result "could not check", never "verified"."""
    receipt, record, trust = anchored
    v = Page(browser, 1280, 800)
    allowed = anvil.rpc_url.rstrip("/")
    v.context.unroute("**/*")
    reached: list[str] = []

    def route(r: Any) -> None:
        url = r.request.url
        if url.startswith("file:"):
            r.continue_()
        elif url.rstrip("/") == allowed:
            reached.append(r.request.method)
            r.continue_()
        else:
            v.blocked.append(url)
            r.abort()

    v.context.route("**/*", route)
    try:
        v.open()
        v.pin(trust)
        v.page.fill("#rpc", anvil.rpc_url)
        v.verify(receipt, record)
        steps = dict(v.steps())
        assert v.verdict() == "Verified", v.page.inner_text("#results")
        for name in ("chain id (chain 31337)", "chain root (chain 31337)",
                     "anchor transaction (chain 31337)"):
            assert steps[name] == "ok", steps
        assert "confirmed on chain" in v.page.text_content(  # in a closed <details>
            "[data-check='anchors required'] .step-detail")
        assert reached and v.blocked == [], (reached, v.blocked)
        v.page.fill("#rpc", "http://127.0.0.1:1")
        v.verify(receipt, record)
        assert v.verdict() == "Could not check"
        assert "unreachable" in v.page.inner_text("#verdict-why")
    finally:
        v.close()


def test_every_shared_vector_gives_the_same_verdicts_in_chromium(
    browser: Any, tmp_path: Path
) -> None:
    """tests/vectors/receipts/receipts.json run by the page's verifier inside Chromium (its
    own WebCrypto-free code, DecompressionStream, TextDecoder), as tests/js/ runs it in Node:
    the exit code and every check's verdict as evledger-verify gave them."""
    node = shutil.which("node")
    assert node
    bundle = tmp_path / "verify-lib.js"
    done = subprocess.run(
        [node, "web/verify/build.mjs", "--library", str(bundle)],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    vectors = json.loads((ROOT / "tests/vectors/receipts/receipts.json").read_text())["vectors"]
    page = browser.new_page()
    try:
        page.route("**/*", lambda r: r.abort())
        page.set_content("<!doctype html><title>vectors</title>")
        page.add_script_tag(content=bundle.read_text())
        results = page.evaluate(
            """async (vectors) => {
                const bytes = (f) => f === undefined ? null : "text" in f
                    ? new TextEncoder().encode(f.text)
                    : "base64" in f ? Uint8Array.from(atob(f.base64), (c) => c.charCodeAt(0))
                    : new TextEncoder().encode(
                        f.repeat.prefix + f.repeat.fill.repeat(f.repeat.count) + f.repeat.suffix);
                const out = [];
                for (const v of vectors) {
                    const r = await EvVerify.verifyReceiptInput({
                        receipt: bytes(v.receipt), trust: bytes(v.trust), record: bytes(v.record),
                        requireFinal: Boolean(v.options && v.options.require_final)});
                    out.push([v.name, r.exit, (r.report ? r.report.checks : []).map(
                        (c) => [c.name, c.ok])]);
                }
                return out;
            }""",
            vectors,
        )
    finally:
        page.close()
    assert len(results) == len(vectors)
    for v, (name, code, checks) in zip(vectors, results, strict=True):
        want = [[c["check"], c["ok"]] for c in v["expected"]["checks"]]
        assert code == v["expected"]["exit"], (name, code)
        if want:
            assert checks == want, name


def test_every_shared_bundle_vector_gives_the_same_verdicts_in_chromium(
    browser: Any, tmp_path: Path
) -> None:
    """tests/vectors/bundles/bundles.json run by the page's bundle verifier inside Chromium, as
    tests/js/bundles.test.mjs runs it in Node: the exit code and every check's verdict as
    evledger-verify gave them."""
    node = shutil.which("node")
    assert node
    lib = tmp_path / "verify-lib.js"
    done = subprocess.run([node, "web/verify/build.mjs", "--library", str(lib)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    vectors = json.loads((ROOT / "tests/vectors/bundles/bundles.json").read_text())["vectors"]
    page = browser.new_page()
    try:
        page.route("**/*", lambda r: r.abort())
        page.set_content("<!doctype html><title>bundle vectors</title>")
        page.add_script_tag(content=lib.read_text())
        results = page.evaluate(
            """async (vectors) => {
                const out = [];
                for (const v of vectors) {
                    const bundle = Uint8Array.from(atob(v.bundle), (c) => c.charCodeAt(0));
                    const r = await EvVerify.verifyBundleInput({bundle, trust: v.trust});
                    out.push([v.name, r.exit, (r.report ? r.report.checks : []).map(
                        (c) => [c.name, c.ok])]);
                }
                return out;
            }""",
            vectors,
        )
    finally:
        page.close()
    assert len(results) == len(vectors)
    for v, (name, code, checks) in zip(vectors, results, strict=True):
        assert code == v["expected"]["exit"], (name, code)
        assert checks == [[c["check"], c["ok"]] for c in v["expected"].get("checks", [])], name


def bundle_checks(tmp: Path, data: bytes, trust: dict[str, Any]) -> list[tuple[str, bool]]:
    """What ``evledger-verify bundle --json`` says of the same files: [(check, ok)]."""
    (tmp / "lot.zip").write_bytes(data)
    (tmp / "t.json").write_text(json.dumps(trust))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        main(["bundle", str(tmp / "lot.zip"), "--trust", str(tmp / "t.json"), "--json"])
    return [(c["check"], c["ok"]) for c in json.loads(out.getvalue())["checks"]]


def test_an_evidence_bundle_verifies_in_the_page_as_the_auditors_kit_says(
    plant: Plant, built_page: Path, browser: Any, tmp_path: Path
) -> None:
    """A lot's evidence bundle exported by the running ledger, dropped into the page opened
    from file:// with the network off: every check as evledger-verify makes it; the same lot
    with a release slipped in by a superuser (signed by an inspector) fails at the rules
    step, and only there."""
    from tests.integration.test_bundle import export, final_with_proof, lot_history
    from tests.integration.test_domain_workflows import evidence, release

    lot_history(plant, "LOT-WB", "WB")
    final_with_proof(plant, "WB-R")
    good = export(plant, "LOT-WB")
    trust = plant.runtime.ledger.identity.trust()
    insp = inspection("WS-I", lot="LOT-WS")
    plant.submit(insp, plant.inspector, "authored")
    plant.slip_in(release("WS-R", "LOT-WS", evidence(insp)), plant.inspector, "released")
    final_with_proof(plant, "WS-R")
    slipped = export(plant, "LOT-WS")
    expected = {"good": bundle_checks(tmp_path, good, trust),
                "slipped": bundle_checks(tmp_path, slipped, trust)}
    assert all(ok for _, ok in expected["good"]), expected["good"]
    assert [c for c, ok in expected["slipped"] if not ok] == ["rules"], expected["slipped"]
    shots = []
    for width, height in ((390, 844), (1280, 800)):
        v = Page(browser, width, height)
        try:
            v.open()
            v.pin(trust)
            p = v.page
            for name, data in (("slipped", slipped), ("good", good)):
                p.set_input_files("#receipt-file", files=[{
                    "name": f"lot-{name}.zip", "mimeType": "application/zip", "buffer": data}])
                assert "an evidence bundle" in p.inner_text("#receipt-status")
                p.click("#verify")
                v.wait()
                want = [(c, "ok" if ok else "fail") for c, ok in expected[name]]
                assert v.steps() == want, (name, p.inner_text("#results"))
            assert v.verdict() == "Verified", p.inner_text("#results")
            assert "Evidence bundle lot-good.zip: every check passed" in p.inner_text(
                "#verdict-why")
            rules = p.inner_text("[data-check='rules']")
            assert "Every record obeys the quality rules" in rules
            assert p.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
            shot = tmp_path / f"verify-bundle-{width}.png"
            p.screenshot(path=str(shot), full_page=True)
            shots.append(shot)
            assert v.blocked == [], f"the page reached for the network: {v.blocked}"
            assert v.errors == [], v.errors
        finally:
            v.close()
    for shot in shots:
        keep_screenshot(shot)


def test_the_page_works_from_the_keyboard(
    anchored: tuple[dict[str, Any], str, dict[str, Any]], built_page: Path, browser: Any,
) -> None:
    """Tab reaches every control in reading order, each with a label; the receipt pasted and
    Verify pressed from the keyboard gives the result, focus on the verdict."""
    receipt, record, trust = anchored
    v = Page(browser, 390, 844)
    try:
        v.open()
        p = v.page
        order = []
        for _ in range(14):
            p.keyboard.press("Tab")
            order.append(p.evaluate("document.activeElement.id || document.activeElement"
                                    ".tagName.toLowerCase()"))
        expected = ["receipt-file", "scan", "receipt-text", "record-file", "record-text",
                    "summary", "trust-file", "trust-text", "trust-pin", "rpc", "verify"]
        assert [x for x in order if x in expected] == expected, order
        assert order[0] == "a", "the first stop is the skip link"
        for control in ("receipt-file", "receipt-text", "record-file", "record-text",
                        "trust-file", "trust-text", "rpc"):
            assert p.evaluate(f"document.getElementById('{control}').labels.length") == 1
        p.focus("#trust-text")
        p.keyboard.insert_text(json.dumps(trust))
        p.keyboard.press("Tab")
        p.keyboard.press("Enter")  # Pin this trust file
        assert "Pinned trust file" in p.inner_text("#trust-now")
        p.focus("#receipt-text")
        p.keyboard.insert_text(json.dumps(receipt))
        p.focus("#record-text")
        p.keyboard.insert_text(record)
        p.focus("#rpc")
        p.keyboard.press("Enter")  # submits the form
        v.wait()
        assert v.verdict() == "Verified"
        assert p.evaluate("document.activeElement.id") == "verdict"
        assert p.get_attribute("#live", "aria-live") == "polite"
    finally:
        v.close()


def y4m_of_qr(text: str, path: Path, size: int = 960) -> None:
    """A still video (YUV4MPEG2, two frames) of the QR code of ``text``, for Chromium's fake
    camera: dark modules black on white, centred."""
    import segno

    qr = segno.make(text, error="l", micro=False)
    modules = [list(row) for row in qr.matrix_iter(scale=1, border=4)]
    n = len(modules)
    scale = size // n
    offset = (size - n * scale) // 2
    y = bytearray(b"\xff" * size * size)
    for r, row in enumerate(modules):
        for c, dark in enumerate(row):
            if dark:
                for dy in range(scale):
                    start = (offset + r * scale + dy) * size + offset + c * scale
                    y[start:start + scale] = b"\x00" * scale
    chroma = b"\x80" * (size // 2) * (size // 2) * 2
    frame = b"FRAME\n" + bytes(y) + chroma
    path.write_bytes(f"YUV4MPEG2 W{size} H{size} F5:1 Ip A1:1 C420jpeg\n".encode() + frame * 2)


@pytest.mark.parametrize("proof", [False, True], ids=["without-anchor-proof", "whole-receipt"])
def test_a_qr_code_read_with_the_camera_verifies(
    anchored: tuple[dict[str, Any], str, dict[str, Any]], built_page: Path, tmp_path: Path,
    playwright: Any, proof: bool,
) -> None:
    """The camera path end to end, with Chromium's fake camera playing a QR code of a link as
    a certificate prints it (the receipt, compact JSON, in the fragment; without the anchor's
    proof about 1,900 characters, whole about 2,700: QR version 40 at level L still holds
    it): jsqr reads it, the page loads the receipt and verifies it."""
    receipt, _, trust = anchored
    compact = copy.deepcopy(receipt)
    for a in [compact["anchor"], *compact["anchors"]]:
        if not proof:
            a.pop("proof", None)
    link = "https://ledger.example/verify#rz=" + b64url(deflate(
        json.dumps(compact, separators=(",", ":")).encode()))
    video = tmp_path / "qr.y4m"
    y4m_of_qr(link, video)
    b = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=[
        *ARGS, "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={video}"])
    try:
        v = Page(b, 390, 844)
        v.open()
        v.pin(trust)
        v.page.click("#scan")
        v.wait()
        assert "Read from the QR code" in v.page.inner_text("#receipt-status")
        assert v.verdict() == "Verified", v.page.inner_text("#results")
        anchor = v.page.text_content("[data-check='anchor (chain 31337)'] .step-detail")
        assert ("proven offline down to the block header" in anchor) == proof, anchor
        assert not v.page.evaluate("document.getElementById('camera').open")
        assert v.blocked == [] and v.errors == [], (v.blocked, v.errors)
        v.close()
    finally:
        b.close()
