"""The front door: the landing page, the API docs offline, the verification page's route, the
API's conventions (RFC 9457 problems, WWW-Authenticate, typed and documented answers,
pagination) and the signer registry behind a read token.

Pages are also opened in Debian's chromium (Playwright) with every request off the service
refused, as in a plant without internet. Screenshots of the landing page (390x844, a phone,
and 1280x800) are kept in the test's folder and in /tmp/evledger-landing-*.png; with
``EVLEDGER_SCREENSHOTS=DIR`` (``docs/img`` for the README's) they are copied to DIR too.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
import uvicorn
from eth_account import Account
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import DEFAULT_WEB_DIST, create_app
from ledger.embedded import free_port
from ledger.runtime import Runtime
from ledger.service import Ledger
from tests.helpers import admin, bearer, inspection, register, sign, signer_list

pytestmark = [pytest.mark.integration, pytest.mark.req("API-5", "P11-10d-2")]

PROBLEM = "application/problem+json"
TYPE_BASE = "https://evledger.dev/problems/"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


# -- helpers ----------------------------------------------------------------------------------


def assert_problem(
    resp: httpx.Response, status: int, error: str, *fragments: str
) -> dict[str, Any]:
    """An RFC 9457 problem: its media type, the members, ``type`` naming ``error``."""
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == PROBLEM, resp.headers
    body: dict[str, Any] = resp.json()
    assert {"type", "title", "status", "detail", "error"} <= set(body), body
    assert body["type"] == TYPE_BASE + error and body["error"] == error, body
    assert body["status"] == status and body["title"] and body["detail"], body
    for fragment in fragments:
        assert fragment in body["detail"], (fragment, body)
    return body


class Parsed(HTMLParser):
    """Tags, links (href with their attributes) and text of a page."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.links: dict[str, dict[str, str | None]] = {}
        self.sources: list[str] = []
        self.text: list[str] = []
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        found = dict(attrs)
        if tag == "a" and found.get("href"):
            self.links[str(found["href"])] = found
        for name in ("src", "href"):
            if found.get(name) and tag != "a":
                self.sources.append(str(found[name]))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """``app`` served by uvicorn on a free port (for the browser): its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextmanager
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def offline_page(browser: Any, base: str, width: int, height: int) -> tuple[Any, list[str]]:
    """A page in which every request off ``base`` is refused (and listed), as offline; CSP
    violations and errors reported on the console are listed too."""
    page = browser.new_page(viewport={"width": width, "height": height})
    refused: list[str] = []

    def route(r: Any) -> None:
        if r.request.url.startswith(base + "/"):
            r.continue_()
        else:
            refused.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.on("console", lambda m: refused.append(f"console {m.type}: {m.text}")
            if m.type == "error" else None)  # fmt: skip
    return page, refused


# -- the landing page -------------------------------------------------------------------------


def test_landing_page_names_the_ledger_and_links_the_way_in(
    client: TestClient, runtime: Runtime
) -> None:
    resp = client.get("/")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/html")
    csp = resp.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp, csp
    assert "style-src 'sha256-" in csp and "'unsafe-inline'" not in csp, csp
    page = Parsed(resp.text)
    text = " ".join(" ".join(page.text).split())
    trust = runtime.ledger.identity.trust()
    for value in (trust["log_origin"], trust["log_public_key"], trust["contract"]):
        assert value in resp.text, value
    assert f"Chain id {trust['chain_id']}" in text
    # The trust file, to download, labelled as something to pin, not to trust blindly.
    assert page.links["/v1/trust"].get("download") == "evledger-trust.json"
    assert "Pin it, don't trust it blindly" in text
    assert {"/verify", "/docs", "/openapi.json"} <= set(page.links)
    assert "evledger-verify receipt RECEIPT.json" in text and "--trust TRUST.json" in text
    # Landmarks and headings; nothing loaded from anywhere (no script, no external URL).
    assert page.tags.count("main") == 1 and "header" in page.tags and "footer" in page.tags
    assert page.tags.count("h1") == 1 and page.tags.count("h2") >= 3
    assert "script" not in page.tags and not page.sources
    shown = resp.text
    key = str(trust["log_public_key"])  # base64 may hold "//"; the page may show its tail
    for value in (key, key.removeprefix(str(trust["log_origin"])), *trust.values()):
        shown = shown.replace(str(value), "")
    assert not re.search(r"(?:https?:)?//", shown), shown
    assert '<html lang="en">' in resp.text and 'name="viewport"' in resp.text


def test_landing_page_in_chromium_on_a_phone_and_a_desktop(
    runtime: Runtime, tmp_path: Path
) -> None:
    """Rendered offline at 390x844 and 1280x800: nothing wider than the window, the CSP
    allows the page's own style (no violation), the links are there to tab to."""
    shots = []
    with serving(create_app(runtime.ledger)) as base, chromium() as browser:
        for width, height in ((390, 844), (1280, 800)):
            page, refused = offline_page(browser, base, width, height)
            page.goto(base + "/")
            assert page.title().startswith("evledger")
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
            # The style applied (so the CSP hash matches): the primary button is filled.
            filled = page.locator("a.primary").first.evaluate(
                "a => getComputedStyle(a).backgroundColor"
            )
            assert filled not in ("rgba(0, 0, 0, 0)", "transparent"), filled
            assert page.get_by_role("main").count() == 1
            assert page.get_by_role("heading", level=1).count() == 1
            assert page.get_by_role("link", name="Open the verification page").count() == 1
            assert not refused, refused
            shot = tmp_path / f"landing-{width}x{height}.png"
            page.screenshot(path=str(shot), full_page=True)
            shots.append(shot)
            page.keyboard.press("Tab")
            assert page.evaluate("document.activeElement.tagName") == "A"
            page.close()
    keep = os.environ.get("EVLEDGER_SCREENSHOTS")
    for shot in shots:
        assert shot.stat().st_size > 10_000
        shutil.copy(shot, Path("/tmp") / f"evledger-{shot.name}")
        if keep:
            Path(keep).mkdir(parents=True, exist_ok=True)
            shutil.copy(shot, Path(keep) / shot.name)


# -- the API docs, offline --------------------------------------------------------------------


def test_docs_load_nothing_from_other_hosts_and_the_assets_are_served(
    client: TestClient,
) -> None:
    resp = client.get("/docs")
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/html")
    assert not re.search(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}/", resp.text), resp.text
    page = Parsed(resp.text)
    assert set(page.sources) == {
        "/docs/assets/swagger-ui.css",
        "/docs/assets/favicon-32x32.png",
        "/docs/assets/swagger-ui-bundle.js",
    }, page.sources
    csp = resp.headers["content-security-policy"]
    assert "script-src 'self' 'sha256-" in csp and "connect-src 'self'" in csp, csp
    for name, media_type in (
        ("swagger-ui-bundle.js", "text/javascript"),
        ("swagger-ui.css", "text/css"),
        ("favicon-32x32.png", "image/png"),
    ):
        asset = client.get(f"/docs/assets/{name}")
        assert asset.status_code == 200, name
        assert asset.headers["content-type"].split(";")[0] == media_type, asset.headers
        assert len(asset.content) > 500, name
    assert_problem(client.get("/docs/assets/package.json"), 404, "not_found")
    assert_problem(client.get("/docs/assets/..%2Fpackage.json"), 404, "not_found")
    assert_problem(client.get("/redoc"), 404, "not_found")


def test_docs_without_their_assets_say_to_run_make_setup(
    runtime: Runtime, tmp_path: Path
) -> None:
    with TestClient(create_app(runtime.ledger, swagger_dist=tmp_path)) as c:
        assert c.get("/docs").status_code == 200
        assert_problem(
            c.get("/docs/assets/swagger-ui-bundle.js"), 503, "not_built", "run make setup"
        )


def test_docs_render_in_chromium_offline(runtime: Runtime) -> None:
    """Swagger UI, its assets from the service only, lists the operations; no request leaves
    the service and the page's policy blocks nothing it needs."""
    with serving(create_app(runtime.ledger)) as base, chromium() as browser:
        page, refused = offline_page(browser, base, 1280, 800)
        page.goto(base + "/docs")
        page.wait_for_selector(".opblock-summary-path", timeout=20_000)
        paths = page.locator(".opblock-summary-path").all_inner_texts()
        assert any("/v1/records" in p for p in paths), paths
        assert page.locator(".opblock-tag").count() >= 6
        assert not refused, refused
        page.screenshot(path="/tmp/evledger-docs.png")


# -- the verification page --------------------------------------------------------------------

VERIFY_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>verify (test)</title>
<style>body { background: rgb(1, 2, 3); }</style>
</head><body>
<p id="ran">no</p>
<p id="styled" style="color: rgb(4, 5, 6)">styled</p>
<img src="x.png" alt="" onerror="document.body.dataset.evil = 'handler'">
<script>
document.getElementById("ran").textContent = "yes";
fetch("/v1/trust").then(r => r.json()).then(t => { document.body.dataset.trust = t.format; });
</script>
</body></html>
"""


def test_verify_page_is_503_until_it_is_built(runtime: Runtime, tmp_path: Path) -> None:
    with TestClient(create_app(runtime.ledger, web_dist=tmp_path / "dist")) as c:
        assert_problem(
            c.get("/verify"), 503, "not_built",
            "the verification page is not built: run make setup",
        )  # fmt: skip


def test_verify_page_is_served_with_a_policy_of_its_own_inline_code(
    runtime: Runtime, tmp_path: Path
) -> None:
    """The file as built, byte for byte; its policy allows its own inline script and style
    (by hash, recomputed when the file changes), connections to the service and to any
    http(s) URL (an RPC URL the visitor types), and nothing else: an inline event handler
    does not run."""
    dist = tmp_path / "dist"
    dist.mkdir()
    (dist / "verify.html").write_text(VERIFY_PAGE)
    app = create_app(runtime.ledger, web_dist=dist)
    with TestClient(app) as c:
        resp = c.get("/verify")
        assert resp.status_code == 200 and resp.content == VERIFY_PAGE.encode()
        csp = resp.headers["content-security-policy"]
        directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
        assert directives["default-src"] == "'none'"
        assert re.fullmatch(r"'sha256-[A-Za-z0-9+/]{43}='", directives["script-src"]), csp
        assert re.fullmatch(  # the style element and the style attribute
            r"'sha256-[A-Za-z0-9+/]{43}=' 'sha256-[A-Za-z0-9+/]{43}=' 'unsafe-hashes'",
            directives["style-src"],
        ), csp
        assert directives["connect-src"] == "'self' https: http:"
        assert directives["frame-ancestors"] == "'none'"
        assert resp.headers["referrer-policy"] == "no-referrer"
        changed = VERIFY_PAGE.replace('"yes"', '"yes!"')
        (dist / "verify.html").write_text(changed)
        again = c.get("/verify")
        assert again.content == changed.encode()
        assert again.headers["content-security-policy"] != csp
    (dist / "verify.html").write_text(VERIFY_PAGE)
    with serving(app) as base, chromium() as browser:
        page, refused = offline_page(browser, base, 390, 844)
        page.goto(base + "/verify")
        page.wait_for_function("document.body.dataset.trust === 'evledger-trust/1'")
        assert page.inner_text("#ran") == "yes"
        assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(1, 2, 3)"
        assert page.evaluate("getComputedStyle(styled).color") == "rgb(4, 5, 6)"
        assert page.evaluate("document.body.dataset.evil") is None
        assert any("Content Security Policy" in r for r in refused), refused


def test_the_built_verify_page_runs_under_the_served_policy(runtime: Runtime) -> None:
    """The page `make setup` builds (web/dist/verify.html) carries its own policy in a meta
    element; the service's header policy allows the very same inline code (the hashes are
    computed independently and must agree), so the page runs with no violation."""
    built = DEFAULT_WEB_DIST / "verify.html"
    if not built.exists():
        pytest.skip("web/dist/verify.html is not built (make setup builds it)")
    meta = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', built.read_text())
    app = create_app(runtime.ledger)
    with TestClient(app) as c:
        served = c.get("/verify").headers["content-security-policy"]
    if meta is not None:
        wanted = dict(d.strip().split(" ", 1) for d in meta.group(1).split(";"))
        got = dict(d.strip().split(" ", 1) for d in served.split(";"))
        for directive in ("script-src", "style-src", "connect-src"):
            assert got[directive] == wanted[directive], (directive, served, meta.group(1))
    with serving(app) as base, chromium() as browser:
        page, refused = offline_page(browser, base, 390, 844)
        page.goto(base + "/verify")
        page.wait_for_load_state("load")
        assert page.title(), "no title"
        assert not [r for r in refused if "Content Security Policy" in r], refused


# -- problems ---------------------------------------------------------------------------------


def test_every_kind_of_refusal_is_a_problem(client: TestClient, runtime: Runtime) -> None:
    inspector = register(client, runtime, ("qa_inspector",), "Pat Problem")
    token = bearer(runtime, inspector)
    # 401 without a token: the challenge names the scheme and realm, no error code.
    resp = client.get("/v1/records/X-1")
    assert_problem(resp, 401, "bad_signature", "expected a read token")
    assert resp.headers["www-authenticate"] == 'Bearer realm="evledger"'
    # 401 with a token that does not verify: error="invalid_token".
    resp = client.get("/v1/records/X-1", headers={"Authorization": "Bearer evl1.nonsense"})
    assert_problem(resp, 401, "bad_signature", "token")
    assert resp.headers["www-authenticate"] == 'Bearer realm="evledger", error="invalid_token"'
    # 403: a well-made token of a key the registry does not know.
    resp = client.get("/v1/records/X-1", headers=bearer(runtime, Account.create()))
    assert_problem(resp, 403, "not_authorized", "not an active signer")
    assert resp.headers["www-authenticate"] == (
        'Bearer realm="evledger", error="insufficient_scope"'
    )
    # 401 for a record whose signature does not verify carries the challenge too.
    body = sign(runtime, inspection("PRB-1"), inspector)
    body["signature"] = "0x" + "11" * 65
    resp = client.post("/v1/records", json=body)
    assert_problem(resp, 401, "bad_signature")
    assert resp.headers["www-authenticate"].startswith('Bearer realm="evledger"')
    # 404: a route that does not exist, and a record that does not.
    assert_problem(client.get("/v1/nothing-here"), 404, "not_found", "/v1/nothing-here")
    assert_problem(client.get("/v1/records/NOPE-1", headers=token), 404, "not_found", "NOPE-1")
    # 405: the Allow header is kept and named.
    resp = client.delete("/v1/records")
    assert_problem(resp, 405, "method_not_allowed", "DELETE", "POST")
    assert resp.headers["allow"] == "POST"
    # (409: see the next test.) 422: the framework's (a query), the guard's (strict JSON).
    assert_problem(client.get("/v1/proofs/consistency?first=x&second=1"), 422,
                   "invalid_request", "first")  # fmt: skip
    resp = client.post(
        "/v1/records", content=b'{"a": 1, "a": 2}', headers={"content-type": "application/json"}
    )
    assert_problem(resp, 422, "invalid_request", "duplicate key")
    # 413: a body over the limit, refused by the guard before it is parsed.
    resp = client.post(
        "/v1/records",
        content=b"[" + b" " * (runtime.settings.max_body_bytes + 1) + b"]",
        headers={"content-type": "application/json"},
    )
    assert_problem(resp, 413, "too_large")


def test_a_conflict_is_a_problem_with_its_reasons(
    client: TestClient, runtime: Runtime, specs: Any
) -> None:
    inspector = register(client, runtime, ("qa_inspector",), "Ivy Inspector")
    approver = register(client, runtime, ("qa_approver",), "Quinn Approver")
    failed = inspection("PRB-I1", lot="LOT-PRB", value=3.2)  # a critical characteristic fails
    assert client.post("/v1/records", json=sign(runtime, failed, inspector)).status_code == 201
    release = {
        "record_id": "PRB-REL", "type": "release", "schema": "release/1", "lot": "LOT-PRB",
        "product": {"gtin": failed["product"]["gtin"]}, "decision": "released",
        "evidence": [], "statement": "released over a failed critical characteristic",
    }  # fmt: skip
    resp = client.post("/v1/records", json=sign(runtime, release, approver, "released"))
    body = assert_problem(resp, 409, "conflict")
    assert len(body["reasons"]) >= 2 and all(isinstance(r, str) for r in body["reasons"]), body
    assert any("outer diameter" in r for r in body["reasons"]), body
    # Another record under an id already used: 409, a problem without reasons.
    other = inspection("PRB-I1", lot="LOT-PRB", value=3.0)
    resp = client.post("/v1/records", json=sign(runtime, other, inspector))
    assert_problem(resp, 409, "conflict", "PRB-I1")


def test_an_unexpected_error_is_a_500_problem_without_internals(
    runtime: Runtime,
) -> None:
    """A ledger whose database cannot be reached (nothing mocked: a port nobody listens on):
    the route fails with an error the service did not expect; the answer says so, names no
    internals (no exception text, no URL, no password), and the incident is logged."""
    port = free_port()
    engine = sa.create_engine(f"postgresql+psycopg2://evl:hunter2-secret@127.0.0.1:{port}/none")
    try:
        app = create_app(Ledger(engine, runtime.ledger.identity))
        with TestClient(app, raise_server_exceptions=False) as c:
            resp = c.get("/v1/checkpoints/latest")
    finally:
        engine.dispose()
    body = assert_problem(resp, 500, "internal_error", "the incident was logged")
    for secret in ("hunter2", "psycopg2", "OperationalError", str(port), "Traceback"):
        assert secret not in resp.text, body


# -- the signer registry needs a read token ----------------------------------------------------


def test_signers_need_a_read_token(client: TestClient, runtime: Runtime) -> None:
    resp = client.get("/v1/signers")
    assert_problem(resp, 401, "bad_signature", "read token")
    assert resp.headers["www-authenticate"] == 'Bearer realm="evledger"'
    assert "Bootstrap administrator" not in resp.text
    listed = client.get("/v1/signers", headers=bearer(runtime, admin(runtime)))
    assert listed.status_code == 200
    assert admin(runtime).address in {s["address"] for s in listed.json()}


# -- pagination -------------------------------------------------------------------------------


def test_lists_are_paginated_with_a_next_link(client: TestClient, runtime: Runtime) -> None:
    for i in range(5):
        register(client, runtime, ("qa_inspector",), f"Page Signer {i}")
    token = bearer(runtime, admin(runtime))
    everyone = client.get("/v1/signers", headers=token)
    assert "link" not in everyone.headers  # all of them fit the default page (100)
    whole = everyone.json()
    assert len(whole) == 7  # the bootstrap admin, the audit key, five
    assert [s["address"].lower() for s in whole] == sorted(s["address"].lower() for s in whole)
    pages, url = [], "/v1/signers?limit=3"
    while url:
        resp = client.get(url, headers=token)
        assert resp.status_code == 200, resp.text
        pages.append(resp.json())
        link = resp.headers.get("link")
        if link:
            assert re.fullmatch(r'</v1/signers\?limit=3&cursor=[A-Za-z0-9_-]+>; rel="next"', link)
        url = resp.links.get("next", {}).get("url")
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [s for p in pages for s in p] == whole
    assert signer_list(client, runtime) == whole
    for bad in ("limit=0", "limit=1001", "cursor=%25%25", "cursor=_-_-_", "limit=x"):
        assert_problem(client.get(f"/v1/signers?{bad}", headers=token), 422, "invalid_request")


# -- the OpenAPI description ------------------------------------------------------------------


def test_openapi_types_every_answer_and_the_record_body(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    record = schemas["SubmitRequest"]["properties"]["record"]
    assert record["discriminator"]["propertyName"] == "schema"
    mapping = record["discriminator"]["mapping"]
    assert mapping["inspection/2"] == "#/components/schemas/record.InspectionV2"
    assert {"release/1", "ncr/1", "capa/1", "scan/1", "signer/1"} <= set(mapping)
    assert len(record["oneOf"]) == len(mapping)
    for ref in mapping.values():
        assert ref.removeprefix("#/components/schemas/") in schemas, ref
    assert schemas["Problem"]["required"] == ["type", "title", "status", "detail", "error"]
    binary = {"/v1/lots/{lot}/evidence", "/v1/evidence", "/metrics", "/v1/lots/{lot}/certificate",
              "/01/{gtin}/10/{lot}"}  # zip, text, PDF; the Digital Link: HTML or JSON
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            where = f"{method.upper()} {path}"
            assert op.get("tags"), where
            ok = [s for s in op["responses"] if s.startswith("2")]
            assert ok, where
            for status in ok:
                content = op["responses"][status].get("content", {})
                assert content and all(c.get("schema") for c in content.values()), (where, status)
                if path not in binary:
                    # one typed JSON answer; a route may offer CSV beside JSON (the timeline)
                    types = set(content) - {"text/csv"} if "application/json" in content \
                        else set(content)
                    assert len(types) == 1, (where, set(content))
                    schema = content[types.pop()]["schema"]
                    assert schema.get("$ref") or schema.get("items", {}).get("$ref"), where
            for status, answer in op["responses"].items():
                if status.startswith(("4", "5")) and where != "GET /healthz":
                    assert list(answer["content"]) == [PROBLEM], (where, status)
    submit = spec["paths"]["/v1/records"]["post"]["responses"]
    assert {"200", "201"} <= set(submit)
    assert "duplicate" in submit["200"]["description"].lower()
    assert submit["200"]["content"]["application/json"]["example"]["status"] == "duplicate"
    receipt = spec["paths"]["/v1/records/{record_id}/receipt"]["get"]["responses"]
    assert "202" in receipt and "pending" in receipt["202"]["description"]
    signers = spec["paths"]["/v1/signers"]["get"]
    assert {p["name"] for p in signers["parameters"]} == {"limit", "cursor"}
    assert "401" in signers["responses"]
    assert "WWW-Authenticate" in signers["responses"]["401"]["headers"]
    assert schemas["SignerEntry"].get("examples"), schemas["SignerEntry"]
    assert {t["name"] for t in spec["tags"]} >= {"records", "proofs", "lots", "ledger"}
