"""The QA console (``/app``, web/console): its read routes (``/v1/console/...``) over a real
ledger, and the page in Debian's Chromium with every request off the service refused, as in a
plant without internet: sign in with a keystore v3 file opened in the page (a wrong password
is refused there), see the lots, open a lot page with its timeline and trace graph, submit a
record signed in the page and see it accepted, and see a refused release show the API's
reasons; search the timeline and download it as CSV; open a keystore on a plain-http address
that is not localhost (no WebCrypto there); axe-core on the main views finds nothing serious;
the README's QA story with its signers registered in the console by the admin.
Screenshots at 390x844 and 1280x800 are kept in the test's folder, in
/tmp/evledger-console-*.png and, with ``EVLEDGER_SCREENSHOTS=DIR``, in DIR.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient

from api.app import create_app
from api.pages import csp_sources
from ledger.runtime import Runtime
from tests.helpers import bearer, inspection, keep_screenshot, post, register, wait_for
from tests.integration.test_front_door import assert_problem, chromium, offline_page, serving

pytestmark = [
    pytest.mark.integration,
    pytest.mark.req("CONS-1", "CONS-2", "P11-50-1", "P11-10b-2", "P11-10e-1"),
]

PASSWORD = "console test password"


class Plant:
    """A ledger with two QA signers and three lots: C1 passed (with a material lot from a
    supplier), C2 failed with an NCR open and a CAPA, C3 passed."""

    def __init__(self, runtime: Runtime, client: TestClient, tmp: Path) -> None:
        self.runtime, self.client, self.tmp = runtime, client, tmp
        self.inspector: LocalAccount = register(
            client, runtime, ("qa_inspector",), "Ines Inspector"
        )
        self.approver: LocalAccount = register(client, runtime, ("qa_approver",), "Aaron Approver")
        self.keystore = tmp / "ines.json"
        self.keystore.write_text(
            json.dumps(Account.encrypt(self.inspector.key, PASSWORD, kdf="scrypt", iterations=4096))
        )
        self.stranger = tmp / "stranger.json"
        self.stranger.write_text(
            json.dumps(
                Account.encrypt(Account.create().key, PASSWORD, kdf="pbkdf2", iterations=1000)
            )
        )
        self.device_key = tmp / "aaron.key"
        self.device_key.write_text(self.approver.key.hex() + "\n")
        incoming = {**inspection("IQC-C1", "LOT-C1", stage="incoming"),
                    "material_lot": "MAT-C1", "supplier": "Polymer GmbH"}  # fmt: skip
        self.ok(incoming)
        self.ok(inspection("FIN-C1", "LOT-C1"))
        correction = {"record_id": "CORR-FIN-C1", "type": "correction", "schema": "correction/1",
                      "corrects": "FIN-C1", "lot": "LOT-C1",
                      "reason": "Transcription error: the sampling record says normal",
                      "changes": [{"path": "/sampling_plan",
                                   "value": "ISO 2859-1 II AQL 0.65, normal"}]}  # fmt: skip
        self.ok(correction)
        self.ok(inspection("FIN-C2", "LOT-C2", value=3.2))
        ncr = {"record_id": "NCR-C2-open", "type": "ncr", "schema": "ncr/1", "ncr_id": "NCR-C2",
               "lot": "LOT-C2", "step": "open", "nature": "Outer diameter above the limit",
               "refs": ["FIN-C2"]}  # fmt: skip
        self.ok(ncr)
        capa = {"record_id": "CAPA-C2-open", "type": "capa", "schema": "capa/1",
                "capa_id": "CAPA-C2", "step": "open", "lot": "LOT-C2", "ncr_id": "NCR-C2",
                "problem": "Extruder drift"}  # fmt: skip
        self.ok(capa)
        self.ok(inspection("FIN-C3", "LOT-C3"))
        press = register(client, runtime, ("device",), "Press 3")
        reading = {"record_id": "PR-C1-1", "type": "process_reading",
                   "schema": "process_reading/1", "tag": "press3.die_temp", "value": 182.5,
                   "unit": "degC", "lower": 175, "upper": 190, "lot": "LOT-C1", "line": "L2",
                   "read_at": "2026-11-30T08:00:00Z"}  # fmt: skip
        post(client, runtime, reading, press, "recorded")
        wait_for("the trace of LOT-C1", lambda: self.get("/v1/lots/LOT-C1/trace",
                 direction="backward")["edges"])  # fmt: skip

    def ok(self, record: dict[str, Any], meaning: str = "authored") -> None:
        post(self.client, self.runtime, record, self.inspector, meaning)

    def token(self) -> dict[str, str]:
        return bearer(self.runtime, self.inspector)

    def get(self, path: str, **params: Any) -> Any:
        resp = self.client.get(path, params=params, headers=self.token())
        assert resp.status_code == 200, resp.text
        return resp.json()


@pytest.fixture(scope="module")
def plant(
    module_runtime: Runtime,
    module_client: TestClient,
    module_specs: Any,
    tmp_path_factory: pytest.TempPathFactory,
) -> Plant:
    return Plant(module_runtime, module_client, tmp_path_factory.mktemp("console"))


# -- the read routes --------------------------------------------------------------------------


def test_lots_list_filters_and_pages(plant: Plant) -> None:
    rows = {r["lot"]: r for r in plant.get("/v1/console/lots")}
    assert {"LOT-C1", "LOT-C2", "LOT-C3"} <= set(rows)
    c2 = rows["LOT-C2"]
    assert c2["open_ncrs"] == 1 and c2["open_capas"] == 1 and c2["release_blockers"] >= 1
    assert c2["state"] == "quarantined" and c2["product"] == {"gtin": "09506000134352"}
    assert rows["LOT-C1"]["suppliers"] == ["Polymer GmbH"]
    assert [r["lot"] for r in plant.get("/v1/console/lots", open="ncr")] == ["LOT-C2"]
    assert [r["lot"] for r in plant.get("/v1/console/lots", supplier="Polymer GmbH")] == ["LOT-C1"]
    assert [r["lot"] for r in plant.get("/v1/console/lots", line="L2")] == ["LOT-C1"]
    assert rows["LOT-C1"]["lines"] == ["L2"]
    assert "LOT-C2" not in {r["lot"] for r in plant.get("/v1/console/lots", state="in_process")}
    assert plant.get("/v1/console/lots", **{"from": "2999-01-01T00:00:00Z"}) == []
    # One lot a page: the Link header names the next page, which follows on.
    seen: list[str] = []
    url: str | None = "/v1/console/lots?limit=1"
    while url is not None:
        resp = plant.client.get(url, headers=plant.token())
        assert resp.status_code == 200, resp.text
        assert len(resp.json()) <= 1
        seen.extend(r["lot"] for r in resp.json())
        url = resp.links.get("next", {}).get("url")
    assert seen == sorted(rows)


def test_boards_give_age_and_next_steps(plant: Plant) -> None:
    (ncr,) = [n for n in plant.get("/v1/console/ncrs") if n["ncr_id"] == "NCR-C2"]
    assert ncr["step"] == "open" and ncr["next_steps"] == ["evaluated"] and ncr["lot"] == "LOT-C2"
    assert ncr["age_days"] >= 0 and ncr["last_signature"]["printed_name"] == "Ines Inspector"
    (capa,) = [c for c in plant.get("/v1/console/capas") if c["capa_id"] == "CAPA-C2"]
    assert capa["next_steps"] == ["investigation", "cancelled"] and capa["overdue"] is False
    assert plant.get("/v1/console/ncrs", step="closed") == []


def test_dashboard_figures(plant: Plant) -> None:
    d = plant.get("/v1/console/dashboard")
    products = {r["key"]: r for r in d["first_pass_yield"]["product"]}
    assert products["09506000134352"]["inspected"] >= 4
    assert {r["key"] for r in d["first_pass_yield"]["supplier"]} >= {"Polymer GmbH"}
    lines = {r["key"]: r for r in d["first_pass_yield"]["line"]}
    assert lines["L2"]["inspected"] == 2 and lines["L2"]["passed"] == 2
    assert d["ncr"]["open"] >= 1 and d["capa"]["open"] >= 1
    assert {"lag_records", "lag_seconds"} <= set(d["anchoring"])
    w = plant.client.get("/v1/console/workflow").json()
    assert w["next_steps"]["ncr"]["open"] == ["evaluated"]
    assert w["step_fields"]["ncr"]["dispositioned"] == ["disposition", "rationale"]
    assert "released" in w["meanings"]["release/*"]


@pytest.mark.parametrize(
    ("path", "status", "error"),
    [
        ("/v1/console/lots?cursor=!!", 422, "invalid_request"),
        ("/v1/console/lots?cursor=_w", 422, "invalid_request"),
        ("/v1/console/lots?limit=0", 422, "invalid_request"),
        ("/v1/console/lots?limit=abc", 422, "invalid_request"),
        ("/v1/console/lots?state=lost", 422, "invalid_request"),
        ("/v1/console/lots?open=everything", 422, "invalid_request"),
        ("/v1/console/lots?from=yesterday", 422, "invalid_request"),
        ("/v1/console/lots?from=2026-01-01T00:00:00", 422, "invalid_request"),
        ("/v1/console/lots?product=", 422, "invalid_request"),
        ("/v1/console/ncrs?step=Open%20Now", 422, "invalid_request"),
        ("/v1/console/capas?closed=perhaps", 422, "invalid_request"),
        ("/v1/console/capas?cursor=" + "A" * 900, 422, "invalid_request"),
        ("/v1/console/lots?cursor=AA", 422, "invalid_request"),  # a NUL: never to the database
        ("/v1/console/ncrs?cursor=TE9UCg", 422, "invalid_request"),  # "LOT\n"
        ("/v1/console/timeline?cursor=TE9U", 422, "invalid_request"),  # "LOT": no position
        ("/v1/console/timeline?format=xml", 422, "invalid_request"),
        ("/v1/console/timeline?lot=", 422, "invalid_request"),
        ("/v1/console/timeline?limit=1001", 422, "invalid_request"),
        (
            "/v1/console/timeline?from=2026-02-01T00:00Z&to=2026-01-01T00:00Z",
            422,
            "invalid_request",
        ),
        ("/v1/console/timeline?to=soon", 422, "invalid_request"),
    ],
)
def test_malformed_params_are_problems(plant: Plant, path: str, status: int, error: str) -> None:
    assert_problem(plant.client.get(path, headers=plant.token()), status, error)


@pytest.mark.parametrize(
    "path",
    [
        "/v1/console/lots",
        "/v1/console/ncrs",
        "/v1/console/capas",
        "/v1/console/dashboard",
        "/v1/console/dashboard/events",
        "/v1/console/timeline",
        "/v1/console/timeline?format=csv",
    ],
)
def test_routes_need_a_read_token(plant: Plant, path: str) -> None:
    resp = plant.client.get(path)
    assert_problem(resp, 401, "bad_signature")
    assert resp.headers["www-authenticate"].startswith("Bearer")
    bad = {"Authorization": "Bearer evl1.nonsense"}
    assert plant.client.get(path, headers=bad).status_code == 401


def test_a_cursor_names_where_to_continue(plant: Plant) -> None:
    """A cursor past every lot is an empty last page; one from another list still works as
    "after this key" (it is only a key), never a 500."""
    import base64

    def cursor(key: str) -> str:
        return base64.urlsafe_b64encode(key.encode()).decode().rstrip("=")

    resp = plant.client.get(f"/v1/console/lots?cursor={cursor('~~~~')}", headers=plant.token())
    assert resp.status_code == 200 and resp.json() == [] and "link" not in resp.headers
    resp = plant.client.get(f"/v1/console/ncrs?cursor={cursor('NCR-C1')}", headers=plant.token())
    assert resp.status_code == 200 and [n["ncr_id"] for n in resp.json()] == ["NCR-C2"]


def _timeline(plant: Plant, **params: Any) -> list[str]:
    return [r["record_id"] for r in plant.get("/v1/console/timeline", **params)]


def test_timeline_search_by_lot_line_supplier_and_time(plant: Plant) -> None:
    c1 = ["IQC-C1", "FIN-C1", "CORR-FIN-C1", "PR-C1-1"]
    rows = plant.get("/v1/console/timeline", lot="LOT-C1")
    assert [r["record_id"] for r in rows][:4] == c1
    first = rows[0]
    assert first["lot"] == "LOT-C1" and first["type"] == "inspection" and first["line"] == "L2"
    assert first["suppliers"] == ["Polymer GmbH"]
    assert first["signature"]["printed_name"] == "Ines Inspector"
    assert first["signature"]["meaning"] == "authored" and first["accepted_at"].endswith("Z")
    assert _timeline(plant, supplier="Polymer GmbH")[:4] == c1
    assert _timeline(plant, line="L2")[:4] == c1
    assert _timeline(plant, line="L2", lot="LOT-C2") == []
    c2 = plant.get("/v1/console/timeline", lot="LOT-C2")
    assert [r["step"] for r in c2][:3] == [None, "open", "open"]
    # A time range: from FIN-C2's acceptance (inclusive) to FIN-C3's (exclusive).
    (fin3,) = plant.get("/v1/console/timeline", lot="LOT-C3")[:1]
    in_range = _timeline(plant, **{"from": c2[0]["accepted_at"], "to": fin3["accepted_at"]})
    assert in_range[:3] == ["FIN-C2", "NCR-C2-open", "CAPA-C2-open"] and "FIN-C3" not in in_range
    assert "FIN-C1" not in in_range
    assert _timeline(plant, **{"from": "2999-01-01T00:00:00Z"}) == []
    # One record a page, following Link, gives the same records as one page.
    seen: list[str] = []
    url: str | None = "/v1/console/timeline?lot=LOT-C1&limit=1"
    while url is not None:
        resp = plant.client.get(url, headers=plant.token())
        assert resp.status_code == 200 and len(resp.json()) <= 1, resp.text
        seen.extend(r["record_id"] for r in resp.json())
        url = resp.links.get("next", {}).get("url")
    assert seen == _timeline(plant, lot="LOT-C1")


@pytest.mark.parametrize(
    ("value", "cell"),
    [("=1+1", "'=1+1"), ("+31 6", "'+31 6"), ("-2", "'-2"), ("@SUM(A1)", "'@SUM(A1)"),
     ("\tx", "'\tx"), ("\rx", "'\rx"), ("LOT-1", "LOT-1"), ("", ""), (None, "")],
)  # fmt: skip
def test_csv_cells_never_start_a_formula(value: str | None, cell: str) -> None:
    from api.console import csv_cell

    assert csv_cell(value) == cell


def test_timeline_csv_is_safe_in_a_spreadsheet(plant: Plant) -> None:
    """CSV by format=csv or Accept: text/csv; a cell a spreadsheet would run as a formula
    (a supplier named =HYPERLINK(...)) starts with an apostrophe."""
    import csv
    import io

    evil = '=HYPERLINK("http://example.invalid","x")'
    plant.ok({**inspection("IQC-C5", "LOT-C5", stage="incoming"), "material_lot": "MAT-C5",
              "supplier": evil})  # fmt: skip
    for kwargs in ({"params": {"lot": "LOT-C5", "format": "csv"}},
                   {"params": {"lot": "LOT-C5"}, "headers": {"Accept": "text/csv"}}):  # fmt: skip
        headers = {**plant.token(), **kwargs.get("headers", {})}
        resp = plant.client.get("/v1/console/timeline", params=kwargs["params"], headers=headers)
        assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/csv")
        assert "attachment" in resp.headers["content-disposition"]
        table = list(csv.reader(io.StringIO(resp.text)))
        assert table[0][:4] == ["lot", "record_id", "type", "step"]
        assert table[1][:3] == ["LOT-C5", "IQC-C5", "inspection"]
        assert table[1][5] == "'" + evil and table[1][7] == "Ines Inspector"
    whole = plant.client.get("/v1/console/timeline?format=csv", headers=plant.token()).text
    assert whole.count("\r\n") - 1 >= 9 and "# truncated" not in whole


def test_the_page_is_served_with_a_policy_of_its_own_inline_code(plant: Plant) -> None:
    resp = plant.client.get("/app")
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/html")
    csp = resp.headers["content-security-policy"]
    sources = csp_sources(resp.text)
    assert len(sources.scripts) == 1 and len(sources.styles) == 1 and not sources.handlers
    (script,) = sources.scripts
    assert f"script-src {script}" in csp and "connect-src 'self'" in csp, csp
    assert "unsafe-inline" not in csp and "default-src 'none'" in csp
    assert "http://" not in resp.text.split("<script>")[0]
    missing = TestClient(create_app(plant.runtime.ledger, web_dist=plant.tmp / "nowhere"))
    assert_problem(missing.get("/app"), 503, "not_built", "make setup")


# -- the page in Chromium ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def served(plant: Plant) -> Iterator[str]:
    with serving(create_app(plant.runtime.ledger)) as base:
        yield base


def _shot(page: Any, tmp: Path, name: str) -> None:
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), name
    shot = tmp / f"console-{name}.png"
    page.screenshot(path=str(shot), full_page=True)
    shutil.copy(shot, Path("/tmp") / f"evledger-{shot.name}")
    keep_screenshot(shot)


#: Links and buttons without an accessible name (text, aria-label or title).
UNNAMED = """[...document.querySelectorAll('a[href], button')]
  .filter((e) => !(e.textContent.trim() || e.getAttribute('aria-label') || e.title))
  .map((e) => e.outerHTML.slice(0, 80))"""

#: The form controls of the page that have no label (their name and type).
UNLABELLED = """[...document.querySelectorAll('input, select, textarea')]
  .filter((e) => e.type !== 'hidden' && !e.labels.length && !e.getAttribute('aria-label'))
  .map((e) => `${e.tagName} ${e.name || e.id}`)"""


def _unexpected(refused: list[str]) -> list[str]:
    """What the page loaded from elsewhere, or reported as an error, besides the API's own
    refusals (Chromium logs every 4xx answer to a fetch as a failed resource)."""
    return [r for r in refused if "Failed to load resource: the server responded" not in r]


def _sign_in(page: Any, key: Path, password: str) -> None:
    page.set_input_files("#keyfile", str(key))
    page.fill("#password", password)
    page.click("#open-key")


def test_console_in_chromium(plant: Plant, served: str, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    with chromium() as browser:
        page, refused = offline_page(browser, served, 1280, 800)
        page.goto(served + "/app")
        # Every control of the sign-in has a label.
        assert page.evaluate(UNLABELLED) == []
        # A key the ledger does not know: its token is refused at sign-in.
        _sign_in(page, plant.stranger, PASSWORD)
        page.wait_for_selector("#signin-status.bad:has-text('not an active signer')")
        assert page.is_hidden("#nav")
        # A wrong password is refused on the device; nothing is signed in.
        _sign_in(page, plant.keystore, "not the password")
        page.wait_for_selector("#signin-status.bad:has-text('wrong password')")
        assert page.is_hidden("#nav")
        # The right one, by keyboard: the password typed, Enter; the lots listed.
        page.set_input_files("#keyfile", str(plant.keystore))
        page.focus("#password")
        page.keyboard.type(PASSWORD)
        page.keyboard.press("Enter")
        page.wait_for_selector("table.lots tbody tr")
        assert "Ines Inspector" in page.inner_text("#who-name")
        lots = page.inner_text("table.lots")
        assert "LOT-C1" in lots and "LOT-C2" in lots and "Quarantined" in lots
        _shot(page, tmp_path, "lots-1280x800")
        # Filter: open NCR.
        page.select_option("#filter-open", "ncr")
        page.click("form.filters button[type=submit]")
        # (Locators, not wait_for_function: the page's policy allows no eval.)
        expect(page.locator("table.lots tbody tr")).to_have_count(1)
        assert "LOT-C2" in page.inner_text("table.lots tbody")
        # The lot page: timeline with signature manifestation, trace graph, characteristics.
        page.goto(served + "/app#/lot/LOT-C1")
        page.wait_for_selector("svg.trace")
        timeline = page.inner_text("ol.timeline")
        assert (
            "Signed by Ines Inspector, meaning authored, at 20" in timeline and " UTC" in timeline
        )
        assert page.locator("svg.trace a.node").count() >= 2
        assert page.locator("svg.trace a.node[aria-label^='MAT-C1 ']").count() == 1
        assert "outer diameter (critical)" in page.inner_text("#main")
        history = page.inner_text("ol.history")
        assert "/sampling_plan" in history and "ISO 2859-1 II AQL 0.65, normal" in history
        assert "Why: Transcription error" in history and "signed by Ines Inspector" in history
        _shot(page, tmp_path, "lot-1280x800")
        assert page.evaluate(UNNAMED) == [] and page.locator("h1:visible").count() == 1
        # The timeline as CSV, made in the page.
        with page.expect_download() as got:
            page.click("text=Export the timeline (CSV)")
        rows = Path(got.value.path()).read_text().splitlines()
        assert rows[0].startswith("lot,record_id,type,step,signer,printed_name,meaning")
        assert any(
            r.startswith("LOT-C1,FIN-C1,inspection,,") and "Ines Inspector" in r for r in rows
        )
        # The trace's lots are links a keyboard reaches.
        page.focus("svg.trace a.node[aria-label^='MAT-C1 ']")
        page.keyboard.press("Enter")
        page.wait_for_url("**/app#/lot/MAT-C1")
        # A record signed in the page: an NCR on LOT-C1, accepted.
        page.goto(served + "/app#/new/ncr?lot=LOT-C1&step=open")
        page.wait_for_selector("form.record-form")
        assert page.evaluate(UNLABELLED) == []
        page.locator("form.record-form [name=nature]").fill(
            "Burr on the tip, seen at final inspection"
        )
        ncr_id = page.locator("input[name=ncr_id]").input_value()
        page.click("form.record-form button[type=submit]")
        page.wait_for_selector(".accepted")
        record = plant.get(f"/v1/records/{ncr_id}-open")
        assert record["signature"]["printed_name"] == "Ines Inspector"
        assert record["current"]["nature"].startswith("Burr")
        _shot(page, tmp_path, "form-1280x800")
        # An inspection that starts from the specification in force and a usable instrument.
        page.goto(served + "/app#/new/inspection?lot=LOT-C4")
        page.wait_for_selector("#spec-pick option[value='SPEC-final']", state="attached")
        page.select_option("#equipment-pick", "EQ-LM-1")
        page.select_option("#spec-pick", "SPEC-final")
        page.wait_for_selector("p[role=status]:has-text('Filled from SPEC-final')")
        assert page.input_value("[name='characteristics.0.name']") == "outer diameter"
        assert page.input_value("[name='characteristics.0.equipment']") == "EQ-LM-1"
        page.fill("[name='characteristics.0.value']", "3.02")
        page.select_option("[name='characteristics.0.verdict']", "pass")
        page.select_option("select[name=verdict]", "pass")
        inspection_id = page.input_value("input[name=record_id]")
        page.click("form.record-form button[type=submit]")
        page.wait_for_selector(".accepted, .result .bad, .result .problem")
        assert page.locator(".accepted").count() == 1, page.inner_text(".result")
        measured = plant.get(f"/v1/records/{inspection_id}")["current"]
        assert measured["lot"] == "LOT-C4" and measured["specification"]["spec_id"] == "SPEC-final"
        assert measured["characteristics"][0]["value"] == 3.02
        # The dashboard, live: a record arriving changes it.
        page.goto(served + "/app#/dashboard")
        page.wait_for_selector(".figures")
        page.wait_for_selector(".dashboard[data-updates]")
        before = page.inner_text(".figures")
        plant.ok({"record_id": "NCR-C3-open", "type": "ncr", "schema": "ncr/1",
                  "ncr_id": "NCR-C3", "lot": "LOT-C3", "step": "open",
                  "nature": "Label misprint"})  # fmt: skip
        page.wait_for_selector(".dashboard[data-updates='2']", timeout=20_000)
        assert page.inner_text(".figures") != before
        _shot(page, tmp_path, "dashboard-1280x800")
        assert not _unexpected(refused), refused
        page.close()

        # A phone, signed in with a plain device key (after the warning): the release of a
        # blocked lot shows its blockers first, and the refusal's reasons.
        page, refused = offline_page(browser, served, 390, 844)
        warned: list[str] = []
        page.on("dialog", lambda d: (warned.append(d.message), d.accept()))
        page.goto(served + "/app")
        _sign_in(page, plant.device_key, "")
        page.wait_for_selector("table.lots tbody tr")
        assert warned and "device key" in warned[0]
        _shot(page, tmp_path, "lots-390x844")
        page.goto(served + "/app#/lot/LOT-C2")
        page.wait_for_selector("ol.timeline")
        opened = page.inner_text(".open-items")
        assert "NCR NCR-C2: step open; next:" in opened and "CAPA CAPA-C2: step open" in opened
        _shot(page, tmp_path, "lot-390x844")
        page.goto(served + "/app#/new/release?lot=LOT-C2")
        page.wait_for_selector(".blockers-box.bad")
        assert "NCR-C2" in page.inner_text(".blockers-box")
        page.locator("[name=statement]").fill("Released for shipment")
        page.select_option("#meaning", "released")
        page.select_option("select[name=decision]", "released")
        # A concession without a rationale is stopped in the page.
        page.check("#concession-on")
        page.click("form.record-form button[type=submit]")
        page.wait_for_selector(".result .bad")
        assert "rationale" in page.inner_text(".result")
        page.uncheck("#concession-on")
        page.click("form.record-form button[type=submit]")
        page.wait_for_selector(".problem .reasons li")
        assert "NCR-C2" in page.inner_text(".problem")
        _shot(page, tmp_path, "refused-390x844")
        page.goto(served + "/app#/ncrs")
        page.wait_for_selector(".board .ticket")
        assert "NCR NCR-C2" in page.inner_text(".board")
        assert page.evaluate(UNNAMED) == []
        _shot(page, tmp_path, "ncrs-390x844")
        assert not _unexpected(refused), refused
        page.close()


def test_timeline_search_in_chromium(plant: Plant, served: str, tmp_path: Path) -> None:
    """The Timeline view: records found by supplier, a page at a time, and all that match
    downloaded as CSV from the service."""
    import csv
    import io

    with chromium() as browser:
        page, refused = offline_page(browser, served, 1280, 800)
        page.goto(served + "/app")
        _sign_in(page, plant.keystore, PASSWORD)
        page.wait_for_selector("#nav:not([hidden])")
        page.click("#nav >> text=Timeline")
        page.wait_for_selector("form.filters #tl-supplier")
        assert page.evaluate(UNLABELLED) == []
        page.fill("#tl-supplier", "Polymer GmbH")
        page.fill("#tl-line", "L2")
        page.click("form.filters button[type=submit]")
        page.wait_for_url("**/app#/timeline?line=L2&supplier=Polymer+GmbH")
        page.wait_for_selector("table.timeline-table tbody tr >> text=PR-C1-1")
        rows = page.inner_text("table.timeline-table tbody")
        assert "IQC-C1" in rows and "FIN-C1" in rows and "FIN-C2" not in rows
        assert "Ines Inspector" in rows and "authored" in rows
        assert "100,000 rows" in page.inner_text("#tl-csv-hint")
        _shot(page, tmp_path, "timeline-1280x800")
        with page.expect_download() as got:
            page.click("text=Download all that match (CSV)")
        table = list(csv.reader(io.StringIO(Path(got.value.path()).read_text())))
        assert got.value.suggested_filename == "timeline.csv"
        assert table[0][:2] == ["lot", "record_id"]
        assert [r[1] for r in table[1:5]] == ["IQC-C1", "FIN-C1", "CORR-FIN-C1", "PR-C1-1"]
        assert {r[0] for r in table[1:]} == {"LOT-C1"}
        assert not _unexpected(refused), refused
        page.set_viewport_size({"width": 390, "height": 844})
        _shot(page, tmp_path, "timeline-390x844")
        page.close()


AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"


def axe_page(browser: Any, base: str, width: int, height: int) -> tuple[Any, list[str]]:
    """As :func:`offline_page`, in a context that lets the test inject axe-core (the page's
    policy allows its own script only): for the accessibility check, nothing else."""
    context = browser.new_context(viewport={"width": width, "height": height}, bypass_csp=True)
    page = context.new_page()
    refused: list[str] = []

    def route(r: Any) -> None:
        if r.request.url.startswith(base + "/"):
            r.continue_()
        else:
            refused.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    return page, refused


def axe_serious(page: Any, view: str) -> list[str]:
    """The serious or critical axe-core violations on the page now, described."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    found = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{view}: {v['id']} ({v['impact']}): {v['help']}: "
        + "; ".join(n["target"][0] if n["target"] else "?" for n in v["nodes"][:4])
        for v in found["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def _required_fields_are_named(page: Any) -> None:
    """The NCR step "dispositioned" must carry its disposition and rationale (the schema
    lets them be null for other steps): both marked required, announced (aria-required),
    and named when missing, before anything is signed."""
    for name in ("disposition", "rationale"):
        control = page.locator(f"form.record-form [name={name}]")
        assert control.get_attribute("aria-required") == "true", name
        label = page.locator(f"label[for='{control.get_attribute('id')}']").inner_text()
        assert label.endswith("*"), label
    page.click("form.record-form button[type=submit]")
    page.wait_for_selector(".result .bad ul.missing li")
    missing = page.locator(".result .bad ul.missing li").all_inner_texts()
    assert "Disposition: required" in missing and "Rationale: required" in missing, missing
    assert page.locator("form.record-form [name=rationale][aria-invalid=true]").count() == 1
    page.screenshot(path=str(Path("/tmp") / "evledger-console-missing-1280x800.png"))
    assert page.locator(".accepted, .problem").count() == 0


def test_accessibility_of_the_main_views(plant: Plant, served: str) -> None:
    """axe-core finds no serious or critical issue on sign-in, lots, a lot page, the NCR
    board, the dashboard, a form and the timeline, at 1280x800 and 390x844."""
    assert AXE.exists(), "npm ci installs axe-core"
    views = [
        ("lots", "#/lots", "table.lots tbody tr"),
        ("lot page", "#/lot/LOT-C1", "svg.trace"),
        ("NCR board", "#/ncrs", ".board .ticket"),
        ("dashboard", "#/dashboard", ".dashboard[data-updates]"),
        ("form", "#/new/ncr?lot=LOT-C1&step=dispositioned&ncr_id=NCR-C9", "form.record-form"),
        ("timeline", "#/timeline?lot=LOT-C1", "table.timeline-table tbody tr"),
    ]
    problems: list[str] = []
    with chromium() as browser:
        for width, height in ((1280, 800), (390, 844)):
            page, refused = axe_page(browser, served, width, height)
            page.goto(served + "/app")
            page.wait_for_selector("#signin")
            problems += axe_serious(page, f"sign-in {width}")
            _sign_in(page, plant.keystore, PASSWORD)
            page.wait_for_selector("#nav:not([hidden])")
            for name, href, ready in views:
                page.goto(served + "/app" + href)
                page.wait_for_selector(ready)
                problems += axe_serious(page, f"{name} {width}")
                if name == "form" and width == 1280:
                    _required_fields_are_named(page)
            assert not _unexpected(refused), refused
            page.context.close()
    assert problems == [], "\n".join(problems)


def test_a_keystore_opens_on_a_plain_http_lan_address(plant: Plant, served: str) -> None:
    """Opened over plain http on a name that is not localhost (a plant's LAN address), the
    page is no secure context and has no WebCrypto; the keystore still opens (AES-CTR from
    @noble/ciphers) and the person is signed in."""
    from playwright.sync_api import sync_playwright

    from tests.integration.test_front_door import CHROMIUM_ARGS

    port = served.rsplit(":", 1)[1]
    lan = f"http://console.plant.test:{port}"
    rules = "--host-resolver-rules=MAP console.plant.test 127.0.0.1"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path="/usr/bin/chromium", args=[*CHROMIUM_ARGS, rules]
        )
        try:
            page, refused = offline_page(browser, lan, 1280, 800)
            page.goto(lan + "/app")
            assert page.evaluate("[window.isSecureContext, typeof crypto.subtle]") == [
                False,
                "undefined",
            ]
            _sign_in(page, plant.keystore, PASSWORD)
            page.wait_for_selector("table.lots tbody tr")
            assert "Ines Inspector" in page.inner_text("#who-name")
            assert not _unexpected(refused), refused
        finally:
            browser.close()


def test_a_browser_wallet_signs_in_and_signs(plant: Plant, served: str) -> None:
    """An EIP-1193 wallet (here a stand-in that signs with eth-account in Python, answering v
    as 0/1 as some wallets do): the read token by personal_sign, the record by
    eth_signTypedData_v4; the ledger accepts the NCR step the board offered next."""
    from eth_account.messages import encode_defunct

    key = plant.approver.key
    calls: list[str] = []

    def wallet(method: str, params: str) -> str:
        calls.append(method)
        args = json.loads(params)
        if method == "personal_sign":
            message = encode_defunct(hexstr=args[0])
            signed = Account.sign_message(message, key)
        else:
            signed = Account.sign_typed_data(key, full_message=json.loads(args[1]))
        sig = signed.signature.hex().removeprefix("0x")
        return "0x" + sig[:-2] + format(int(sig[-2:], 16) - 27, "02x")

    with chromium() as browser:
        page, refused = offline_page(browser, served, 1280, 800)
        page.expose_function("walletSign", wallet)
        page.add_init_script(
            "window.ethereum = {request: async ({method, params}) => "
            f"method === 'eth_requestAccounts' ? ['{plant.approver.address.lower()}'] : "
            "window.walletSign(method, JSON.stringify(params))};"
        )
        page.goto(served + "/app")
        page.click("#wallet")
        page.wait_for_selector("table.lots tbody tr")
        assert "Aaron Approver" in page.inner_text("#who-name") and "wallet" in page.inner_text(
            "#who-name"
        )
        page.goto(served + "/app#/ncrs")
        page.wait_for_selector(".board .ticket")
        ticket = page.locator(".ticket", has_text="NCR NCR-C2")
        ticket.get_by_role("link", name="evaluated").click()
        page.wait_for_selector("form.record-form [name=evaluation]")
        page.fill("[name=evaluation]", "Measured again: the diameter is out of limits")
        page.fill("[name=investigation]", "No laboratory error found")
        page.click("form.record-form button[type=submit]")
        page.wait_for_selector(".accepted")
        assert calls == ["personal_sign", "eth_signTypedData_v4"]
        step = plant.get("/v1/records/NCR-C2-evaluated")
        assert step["signature"]["printed_name"] == "Aaron Approver"
        assert step["signature"]["meaning"] == "reviewed"
        # A CAPA step from its board.
        page.goto(served + "/app#/capas")
        page.wait_for_selector(".board .ticket")
        page.locator(".ticket", has_text="CAPA CAPA-C2").get_by_role(
            "link", name="investigation"
        ).click()
        page.wait_for_selector("form.record-form [name=root_cause]")
        page.fill("[name=root_cause]", "Worn extruder die")
        page.click("form.record-form button[type=submit]")
        page.wait_for_selector(".accepted")
        assert plant.get("/v1/records/CAPA-C2-investigation")["current"]["root_cause"] == (
            "Worn extruder die"
        )
        assert plant.get("/v1/console/capas")[0]["next_steps"] == ["action_plan", "cancelled"]
        assert not _unexpected(refused), refused
        page.close()


def test_dashboard_events_stream(plant: Plant, served: str) -> None:
    """Server-sent events: a dashboard at once (the stream answers text/event-stream)."""
    with httpx.stream(
        "GET", served + "/v1/console/dashboard/events", headers=plant.token(), timeout=20
    ) as resp:
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/event-stream")
        lines = resp.iter_lines()
        assert next(lines) == "event: dashboard"
        data = next(lines)
        assert data.startswith("data: ") and "first_pass_yield" in json.loads(data[6:])


# -- the README's QA story through the console ------------------------------------------------

QA = Path(__file__).resolve().parents[2] / "docs" / "examples" / "qa"


def _files(page: Any, names: list[str], stamp: str = "", meaning: str = "") -> None:
    """Sign and submit record files in the console's "Sign files" view; all accepted."""
    page.goto(page.url.split("#")[0] + "#/sign")
    page.wait_for_selector("#record-files")
    page.set_input_files("#record-files", [str(QA / n) for n in names])
    page.fill("#stamps", stamp)
    page.select_option("#files-meaning", meaning)
    page.click("form.record-form button[type=submit]")
    page.wait_for_selector(f".file-results li:nth-child({len(names)}).ok, .file-results .problem")
    assert page.locator(".file-results li.ok").count() == len(names), page.inner_text(
        ".file-results"
    )


def test_the_readme_qa_story_through_the_console(
    runtime: Runtime, client: TestClient, tmp_path: Path
) -> None:
    """The README's QA walkthrough (docs/examples/qa) signed in the console by three people
    who each open their own keystore: quarantine, a release refused with its reasons, the
    NCR / CAPA / rework / correction path, a concession two approvers sign, the release, and
    the lot, its timeline, its trace and the dashboard after it; a complaint's hold and its
    lift. Every record of the story
    verifies with evledger-verify."""
    from evledger_verify.cli import main as verify

    # Two signers registered in the console (the README's "register two signers with key
    # files"), and a third the same way: the admin signs in with the bootstrap key (a plain
    # file: the page's device-key warning, accepted) and signs a signer grant in a form
    # generated from the schema; each person then opens their own keystore.
    roster = {"dana": ("Dana Inspector", "qa_inspector"),
              "quinn": ("Quinn Approver", "qa_approver"),
              "mo": ("Mo Reviewer", "qa_approver")}  # fmt: skip
    people = {who: Account.create() for who in roster}
    keys = {}
    for who, account in people.items():
        keys[who] = tmp_path / f"{who}.json"
        keys[who].write_text(json.dumps(Account.encrypt(account.key, PASSWORD, kdf="pbkdf2",
                                                        iterations=1000)))  # fmt: skip
    master = QA / "master"

    def submit(name: str, who: str, meaning: str) -> None:
        post(client, runtime, json.loads((master / name).read_text()), people[who], meaning)

    with serving(create_app(runtime.ledger)) as base, chromium() as browser:
        admin_page, admin_refused = offline_page(browser, base, 1280, 800)
        warned: list[str] = []
        admin_page.on("dialog", lambda d: (warned.append(d.message), d.accept()))
        admin_page.goto(base + "/app")
        _sign_in(admin_page, Path(runtime.admin_key_path), "")
        admin_page.wait_for_selector("#nav:not([hidden])")
        assert warned and "device key" in warned[0]
        # A revoke names the address (and whether the key was compromised), no roles.
        admin_page.goto(base + "/app#/new/signer?action=revoke")
        admin_page.wait_for_selector("form.record-form [name=compromised]", state="attached")
        assert admin_page.locator("form.record-form [name=roles]").count() == 0
        for who, (name, role) in roster.items():
            admin_page.goto(base + f"/app#/new/signer?for={who}")
            admin_page.wait_for_selector("form.record-form [name=address]")
            assert admin_page.get_attribute("[name=roles]", "aria-required") == "true"
            admin_page.select_option("form.record-form select[name=action]", "grant")
            admin_page.fill("[name=address]", people[who].address)
            admin_page.fill("[name=name]", name)
            admin_page.fill("[name=roles]", role)
            assert admin_page.input_value("#meaning") == "approved"
            if who == "dana":
                _shot(admin_page, tmp_path, "signer-form-1280x800")
            admin_page.click("form.record-form button[type=submit]")
            admin_page.wait_for_selector(".accepted, .result .problem, .result .bad")
            assert admin_page.locator(".accepted").count() == 1, admin_page.inner_text(".result")
        token = bearer(runtime, people["quinn"])
        signers = {s["address"].lower(): s for s in client.get("/v1/signers", headers=token).json()}
        assert signers[people["quinn"].address.lower()]["name"] == "Quinn Approver"
        assert not _unexpected(admin_refused), admin_refused
        admin_page.close()

        # Master data as the README's step 2 (setup: the console is for the lot's story).
        for path in sorted(master.glob("equipment-*.json")):
            submit(path.name, "dana", "authored")
        for path in sorted(master.glob("calibration-*.json")):
            submit(path.name, "dana", "verified")
        submit("change-requested.json", "dana", "authored")
        for path in sorted(master.glob("spec-*.json")):
            submit(path.name, "dana", "authored")
        submit("change-assessed.json", "dana", "reviewed")
        submit("change-approved.json", "quinn", "approved")
        submit("supplier-polymer-supply.json", "quinn", "approved")

        pages = {}
        for who in people:
            page, refused = offline_page(browser, base, 1280, 800)
            page.goto(base + "/app")
            _sign_in(page, keys[who], PASSWORD)
            page.wait_for_selector("#nav:not([hidden])")
            assert roster[who][0] in page.inner_text("#who-name")
            pages[who] = (page, refused)
        dana, quinn, mo = (pages[w][0] for w in ("dana", "quinn", "mo"))
        # 3. Inspections (stamped now) and a nonconformance.
        _files(dana, ["01-incoming-inspection.json", "02-in-process-out-of-spec.json"],
               stamp="inspected_at")  # fmt: skip
        _files(dana, ["03-ncr-open.json"])
        # 4. Quarantined; the release form shows the blockers, and a release is refused
        # with each of them.
        quinn.goto(base + "/app#/new/release?lot=LOT-QA-1")
        quinn.wait_for_selector(".blockers-box.bad")
        quinn.locator("[name=statement]").fill("Release attempt")
        quinn.select_option("select[name=decision]", "released")
        quinn.select_option("#meaning", "released")
        quinn.click("form.record-form button[type=submit]")
        quinn.wait_for_selector(".problem .reasons li")
        reasons = quinn.inner_text(".problem .reasons")
        for reason in ("tip length failed in QA1-IPQC-001 (in_process, critical)",
                       "required inspection missing", "NCR NCR-QA1 is open"):  # fmt: skip
            assert reason in reasons, reasons
        # 5.-6. The NCR, the CAPA, rework, a correction, a concession two approvers sign.
        _files(dana, ["04-ncr-evaluated.json"], meaning="reviewed")
        _files(quinn, ["05-ncr-dispositioned.json"], meaning="approved")
        _files(dana, ["06-capa-open.json"])
        _files(dana, ["07-re-inspection.json"], stamp="inspected_at")
        _files(dana, ["08-correction.json"])
        _files(quinn, ["09-ncr-closed.json"], meaning="approved")
        _files(dana, ["10-final-inspection.json"], stamp="inspected_at")
        _files(dana, ["11-ncr2-open.json"])
        _files(dana, ["12-ncr2-evaluated.json"], meaning="reviewed")
        _files(quinn, ["13-ncr2-concession.json"], meaning="approved")
        _files(mo, ["14-concession-review.json"], meaning="approved")
        _files(quinn, ["15-ncr2-closed.json"], meaning="approved")
        # 7. The release (its evidence hashes completed from the ledger, as the CLI does).
        _files(quinn, ["16-release.json"], meaning="released")
        quinn.goto(base + "/app#/lot/LOT-QA-1")
        quinn.wait_for_selector("svg.trace")
        assert "Released" in quinn.inner_text(".lede")
        timeline = quinn.inner_text("ol.timeline")
        assert "Signed by Quinn Approver, meaning released" in timeline
        assert "Signed by Mo Reviewer, meaning approved" in timeline
        assert "Nothing blocks a release now." in quinn.inner_text("#main")
        assert quinn.locator("svg.trace a.node").count() >= 2
        _shot(quinn, tmp_path, "story-lot-1280x800")
        quinn.goto(base + "/app#/dashboard")
        quinn.wait_for_selector(".dashboard[data-updates]")
        figures = quinn.inner_text(".figures")
        assert "1 releases" in figures, figures
        # 8. A complaint puts the released lot on hold; the retained samples, then the lift.
        _files(dana, ["17-complaint.json"])
        dana.goto(base + "/app#/lots?state=on_hold")
        dana.wait_for_selector("table.lots tbody tr")
        assert "LOT-QA-1" in dana.inner_text("table.lots tbody")
        _files(dana, ["18-retained-samples.json"], stamp="inspected_at")
        _files(quinn, ["19-hold-lifted.json"], meaning="approved")
        quinn.goto(base + "/app#/lot/LOT-QA-1")
        quinn.wait_for_selector("ol.timeline")
        assert "Released" in quinn.inner_text(".lede")
        for who in people:
            assert not _unexpected(pages[who][1]), pages[who][1]
            pages[who][0].close()

    # Every record of the story verifies offline.
    trust = tmp_path / "trust.json"
    trust.write_text(json.dumps(client.get("/v1/trust").json()))
    story = [json.loads(p.read_text())["record_id"] for p in sorted(QA.glob("*.json"))]
    assert len(story) == 19
    for record_id in story:
        receipt = wait_for(
            f"{record_id} anchored",
            lambda rid=record_id: (
                (r := client.get(f"/v1/records/{rid}/receipt")).status_code == 200 and r.json()
            ),
        )
        view = client.get(f"/v1/records/{record_id}", headers=bearer(runtime, people["quinn"]))
        logged = view.json().get("original") or view.json()["current"]
        (tmp_path / "receipt.json").write_text(json.dumps(receipt))
        (tmp_path / "record.json").write_text(json.dumps(logged))
        code = verify(["receipt", str(tmp_path / "receipt.json"), "--record",
                       str(tmp_path / "record.json"), "--trust", str(trust)])  # fmt: skip
        assert code == 0, record_id


# -- control charts ---------------------------------------------------------------------------

SPC_TOML = """
[[characteristic]]
id = "line1-temp"
tag = "temp"
line = "line1"
rules = ["we1"]
action = "warn"
center = 21.0
sigma = 0.5
"""


@pytest.fixture()
def spc_runtime(settings: Any, database_url: str, anvil: Any) -> Iterator[Runtime]:
    """A ledger charting line 1's temperature (control limits 19.5..22.5)."""
    from tests.conftest import running_ledger

    settings.home.mkdir(parents=True, exist_ok=True)
    (settings.home / "spc.toml").write_text(SPC_TOML)
    with running_ledger(settings, database_url, anvil) as rt:
        yield rt


def test_a_control_chart_in_the_console(spc_runtime: Runtime, tmp_path: Path) -> None:
    """Readings of line 1 (one beyond the upper control limit, inside the specification) are
    charted with their limits; the point that broke we1 is marked and its alert named."""
    from ingest.client import SigningKey

    runtime = spc_runtime
    client = TestClient(create_app(runtime.ledger))
    qa = register(client, runtime, ("qa_inspector",), "Ines Inspector")
    device = SigningKey(bytes(register(client, runtime, ("device",), "Line 1 PLC").key))
    keystore = tmp_path / "ines.json"
    keystore.write_text(
        json.dumps(Account.encrypt(qa.key, PASSWORD, kdf="pbkdf2", iterations=1000))
    )
    values = [21.0, 21.3, 20.8, 21.1, 20.9, 21.2, 23.1, 21.0, 20.7, 21.4]
    start = int(time.time()) + 1
    items = []
    for i, value in enumerate(values):
        at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start + i))
        record = {"record_id": f"line1-temp-{i}", "type": "process_reading",
                  "schema": "process_reading/1", "tag": "temp", "value": value, "unit": "Cel",
                  "lower": 18.0, "upper": 24.0, "line": "line1", "lot": "LOT-SPC-C",
                  "read_at": at}  # fmt: skip
        items.append(device.sign(record, "recorded", runtime.ledger.identity.domain, start + i))
    resp = client.post("/v1/records/batch", json={"items": [x.to_json() for x in items]})
    assert resp.status_code == 200 and resp.json()["accepted"] == len(values), resp.text
    token = bearer(runtime, qa)

    def violation() -> Any:
        chart = client.get("/v1/spc/line1-temp", headers=token).json()
        return chart if any(v.get("alert_id") for v in chart.get("violations", [])) else None

    wait_for("the we1 alert", violation)
    with serving(create_app(runtime.ledger)) as base, chromium() as browser:
        for width, height in ((1280, 800), (390, 844)):
            page, refused = offline_page(browser, base, width, height)
            page.goto(base + "/app")
            _sign_in(page, keystore, PASSWORD)
            page.wait_for_selector("#nav:not([hidden])")
            page.goto(base + "/app#/spc/line1-temp")
            page.wait_for_selector("svg.chart")
            assert page.locator("svg.chart").first.locator("circle").count() == len(values)
            assert page.locator("svg.chart circle.bad").count() == 1
            labels = page.locator("svg.chart").first.locator("text.limit-label").all_text_contents()
            assert {"UCL 22.5", "CL 21", "LCL 19.5", "USL 24", "LSL 18"} <= set(labels), labels
            found = page.inner_text("#viol-h + ul")
            assert "we1" in found and "line1-temp-6" in found and "alert spc-" in found
            _shot(page, tmp_path, f"spc-{width}x{height}")
            assert not _unexpected(refused), refused
            page.close()
            # axe-core on the chart (a context that lets the test inject it).
            page, refused = axe_page(browser, base, width, height)
            page.goto(base + "/app")
            _sign_in(page, keystore, PASSWORD)
            page.wait_for_selector("#nav:not([hidden])")
            page.goto(base + "/app#/spc/line1-temp")
            page.wait_for_selector("svg.chart")
            assert axe_serious(page, f"SPC chart {width}") == []
            page.context.close()
