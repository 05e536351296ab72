"""`make validation-pack` (issue 16) over a small subset of the suite: a real unit test file and
a test file in a temporary folder with a test that fails on purpose and one that is skipped.
The pack (pack.json, pack.html) lists every requirement of the catalogue with its tests, the
failure and the skip as deviations against their requirements, and the environment; its
SHA-256 is logged as a signed validation record in a private `evledger up`, whose receipt
verifies with `evledger-verify` (and fails for a record that names another hash). The HTML is
rendered in Debian's Chromium with the network off; screenshots go to the test's folder and,
with ``EVLEDGER_SCREENSHOTS=DIR``, to DIR (docs/img for the README's)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import keep_screenshot
from tests.validation.catalogue import ROOT, load

pytestmark = [pytest.mark.integration, pytest.mark.req("VAL-1")]

BIN = Path(sys.executable).parent
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]

DELIBERATE = """\
import pytest

pytestmark = pytest.mark.req("RCPT-6")


def test_passes() -> None:
    assert True


def test_fails_on_purpose() -> None:
    assert 1 == 2, "deliberate failure for the validation pack's test"


@pytest.mark.req("API-4")
@pytest.mark.skip(reason="deliberately skipped for the validation pack's test")
def test_skipped() -> None:
    pass
"""


@pytest.fixture(scope="module")
def pack(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("validation")
    extra = folder / "extra"
    extra.mkdir()
    (extra / "test_deviation.py").write_text(DELIBERATE)
    out = folder / "pack"
    done = subprocess.run(
        [
            str(BIN / "python"),
            "-m",
            "tests.validation.pack",
            "--out",
            str(out),
            "--tests",
            "tests/unit/test_jcs.py",
            str(extra / "test_deviation.py"),
            f"--pytest-arg=--rootdir={ROOT}",
            "--pytest-arg=-p",
            "--pytest-arg=no:cacheprovider",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return {"out": out, "done": done, "json": json.loads((out / "pack.json").read_text())}


def test_the_pack_traces_every_requirement_and_lists_the_deviations(pack: dict[str, Any]) -> None:
    done, data = pack["done"], pack["json"]
    assert done.returncode == 1, done.stdout + done.stderr  # deviations: exit 1, pack written
    catalogue = load()
    matrix = {m["id"]: m for m in data["traceability"]}
    assert list(matrix) == catalogue.ids()  # every requirement, in the catalogue's order
    for r in catalogue.requirements:
        assert matrix[r.id]["risk"] == r.risk and matrix[r.id]["statement"] == r.statement
    jcs = [t for t in matrix["RCPT-6"]["tests"] if t["nodeid"].startswith("tests/unit/test_jcs")]
    assert len(jcs) > 20 and all(t["outcome"] == "passed" for t in jcs)
    assert all(t["started_at"].endswith("Z") and t["duration_s"] >= 0 for t in jcs)
    assert matrix["RCPT-6"]["status"] == "failed"  # one of its tests failed on purpose
    assert matrix["P11-30-1"]["status"] == "passed"  # test_jcs names it too
    assert matrix["API-4"]["status"] == "skipped"
    assert matrix["OPS-1"]["status"] == "not run" and matrix["OPS-1"]["tests"] == []
    deviations = {d["nodeid"].rsplit("::", 1)[1]: d for d in data["deviations"]}
    assert set(deviations) == {"test_fails_on_purpose", "test_skipped"}
    failed, skipped = deviations["test_fails_on_purpose"], deviations["test_skipped"]
    assert failed["outcome"] == "failed" and failed["requirements"] == ["RCPT-6"]
    assert "deliberate failure" in failed["detail"] and failed["risk"] == ["high"]
    assert skipped["outcome"] == "skipped" and skipped["requirements"] == ["API-4", "RCPT-6"]
    assert "deliberately skipped" in skipped["detail"]
    s = data["summary"]
    assert (s["outcome"], s["failed"], s["skipped"]) == ("failed", 1, 1)
    assert s["passed"] == len(jcs) + 1 and s["tests"] == s["passed"] + 2
    assert data["scope"]["complete"] is False
    gaps = set(s["requirements_without_passing_test"])
    assert {"OPS-1", "RCPT-6", "API-4"} <= gaps and "P11-30-1" not in gaps
    assert len(gaps) == len(catalogue.requirements) - 1
    assert set(data["risk_assessment"]) == {"high", "medium", "low"}
    assert data["intended_use"] and data["approval"]["roles"]


def test_the_pack_records_the_environment(pack: dict[str, Any]) -> None:
    env = pack["json"]["environment"]
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    assert env["git_commit"] == head and isinstance(env["git_dirty"], bool)
    assert env["python"] == ".".join(map(str, sys.version_info[:3]))
    assert "PostgreSQL" in env["postgresql"] and "16." in env["postgresql"]
    assert env["anvil"].startswith("anvil") and env["solc"].startswith("solcjs 0.8.")
    assert env["os"] and env["node"].startswith("v")
    pkgs = {p["name"].lower(): p for p in env["packages"]}
    assert pkgs["fastapi"]["matches_lock"] is True
    assert all(h.startswith("sha256:") for h in pkgs["fastapi"]["hashes"])
    assert pkgs["fastapi"]["hashes"]
    assert env["lock_file"] == "requirements-dev.lock" and len(env["lock_sha256"]) == 64


def test_the_packs_hash_is_a_signed_record_whose_receipt_verifies(
    pack: dict[str, Any], tmp_path: Path
) -> None:
    out = pack["out"]
    ledger = json.loads((out / "ledger.json").read_text())
    assert ledger["verified"] is True, ledger
    assert ledger["status"] == "anchored" and ledger["meaning"] == "recorded"
    record = json.loads((out / "record.json").read_text())
    assert record["type"] == "validation" and record["kind"] == "oq-pack"
    assert record["sha256"] == hashlib.sha256((out / "pack.json").read_bytes()).hexdigest()
    html_sha = hashlib.sha256((out / "pack.html").read_bytes()).hexdigest()
    assert record["details"]["files"]["pack.html"] == html_sha
    assert record["outcome"] == "failed" and record["summary"]["deviations"] == 2
    assert record["record_id"] == pack["json"]["record_id"]
    assert "VERIFIED" in (out / "verify.txt").read_text()
    verify = [
        str(BIN / "evledger-verify"),
        "receipt",
        str(out / "receipt.json"),
        "--trust",
        str(out / "trust.json"),
        "--record",
    ]
    again = subprocess.run([*verify, str(out / "record.json")], capture_output=True, text=True)
    assert again.returncode == 0, again.stdout + again.stderr
    # A record claiming another pack hash is not the one the ledger logged.
    other = tmp_path / "record.json"
    other.write_text(json.dumps({**record, "sha256": "0" * 64}))
    forged = subprocess.run([*verify, str(other)], capture_output=True, text=True)
    assert forged.returncode == 1, forged.stdout + forged.stderr
    assert "record" in forged.stdout


def test_the_html_pack_reads_well_in_chromium(pack: dict[str, Any], tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    out, data = pack["out"], pack["json"]
    html = (out / "pack.html").read_text()
    for m in data["traceability"]:
        assert f"id='{m['id']}'" in html
    for d in data["deviations"]:
        assert d["nodeid"] in html
    blocked: list[str] = []
    shots = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        try:
            for width, height in ((1280, 800), (390, 844)):
                context = browser.new_context(viewport={"width": width, "height": height})
                page = context.new_page()
                page.route(
                    "**/*",
                    lambda route: (
                        route.continue_()
                        if route.request.url.startswith("file:")
                        else (blocked.append(route.request.url), route.abort())
                    ),
                )
                page.goto((out / "pack.html").as_uri())
                assert "Deviations found" in page.inner_text(".verdict")
                assert page.locator("h2").count() == 8
                rows = page.locator("tr[id]")
                assert rows.count() == len(data["traceability"])
                shot = tmp_path / f"validation-pack-{width}.png"
                page.screenshot(path=str(shot))
                shots.append(shot)
                if width == 1280:
                    page.locator("#RCPT-6").scroll_into_view_if_needed()
                    page.evaluate("window.scrollBy(0, -120)")
                    trace = tmp_path / "validation-pack-matrix.png"
                    page.screenshot(path=str(trace))
                    shots.append(trace)
                context.close()
        finally:
            browser.close()
    assert blocked == [], f"the pack reached for the network: {blocked}"
    for shot in shots:
        assert shot.stat().st_size > 20_000
        keep_screenshot(shot)
