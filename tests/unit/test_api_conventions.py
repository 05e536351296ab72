"""The API's conventions in pure functions: problem details, pages, the pages' policies."""

from __future__ import annotations

import doctest
import json
import re
from pathlib import Path

import pytest

from api import pages, pagination, problems
from api.pagination import decode_cursor, encode_cursor, page

pytestmark = pytest.mark.req("API-1", "API-5")

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.mark.parametrize("module", [pages, pagination, problems])
def test_doctests(module: object) -> None:
    assert doctest.testmod(module).failed == 0  # type: ignore[arg-type]


def test_every_problem_code_is_documented_in_the_readme() -> None:
    text = README.read_text()
    section = text[text.index("## The HTTP API") :]
    missing = [c for c in problems.TITLES if c != "http_error" and f"`{c}`" not in section]
    assert not missing, missing


def test_problem_members_and_challenge() -> None:
    resp = problems.problem(409, "conflict", "lot L: refused", reasons=["a", "b"])
    assert resp.media_type == "application/problem+json"
    assert json.loads(resp.body) == {
        "type": "https://evledger.dev/problems/conflict",
        "title": "Conflicts with what the ledger holds",
        "status": 409,
        "detail": "lot L: refused",
        "error": "conflict",
        "reasons": ["a", "b"],
    }
    assert json.loads(problems.problem(418, "teapot", "x").body)["title"] == "I'm a Teapot"
    assert problems.bearer_challenge() == 'Bearer realm="evledger"'
    assert problems.bearer_challenge("invalid_token") == (
        'Bearer realm="evledger", error="invalid_token"'
    )


def test_pages_cover_every_item_once_in_key_order() -> None:
    items = [f"0x{i:040x}" for i in (7, 3, 11, 1, 5, 9, 2)]
    for limit in (1, 2, 3, 7, 8):
        seen, cursor = [], None
        while True:
            chunk, cursor = page(items, str, limit, cursor)
            seen.extend(chunk)
            if cursor is None:
                break
        assert seen == sorted(items), limit


def test_a_cursor_past_the_end_is_an_empty_last_page() -> None:
    assert page(["a", "b"], str, 5, encode_cursor("zz")) == ([], None)


@pytest.mark.parametrize("bad", ["%%", "_-_-_", "", "A" * 900])
def test_cursors_no_page_gave_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="cursor: expected"):
        decode_cursor(bad)


def test_csp_hashes_inline_code_as_browsers_do() -> None:
    html = (
        "<style>a{}</style><script src='/x.js'></script><script>\r\nrun()\r\n</script>"
        '<p style="color: red" onclick="evil()">x</p>'
    )
    sources = pages.csp_sources(html)
    assert len(sources.scripts) == 1 and len(sources.styles) == 1  # not the src= script
    assert sources.handlers == ("<p onclick>",)
    # CR LF is hashed as LF (the HTML parser normalizes line breaks before hashing).
    assert sources.scripts == pages.csp_sources("<script>\nrun()\n</script>").scripts
    csp = pages.verify_csp(sources)
    assert "'unsafe-hashes'" in csp and "'unsafe-inline'" not in csp
    directives = dict(d.split(" ", 1) for d in csp.split("; "))
    assert directives["connect-src"] == "'self' https: http:"
    assert directives["script-src"] == next(iter(sources.scripts))
    assert re.fullmatch(r"('sha256-[A-Za-z0-9+/=]+' ?){2}'unsafe-hashes'", directives["style-src"])
    assert pages.verify_csp(pages.csp_sources("<p>no code</p>")).startswith(
        "default-src 'none'; script-src 'none'; style-src 'none'"
    )
