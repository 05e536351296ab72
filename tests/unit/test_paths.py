"""Lots with '/' and '%' in URL paths (api.paths): one spelling per lot, nothing else changes."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from api.paths import routed_path, unquote_segment

pytestmark = pytest.mark.req("API-4")


@pytest.mark.parametrize("lot", ["2026/05", "A%2FB", "50%", "%", "/", "a//b/", "x%25y", "A B"])
def test_a_quoted_lot_routes_as_one_segment_and_unquotes_to_itself(lot: str) -> None:
    raw = f"/v1/lots/{quote(lot, safe='')}/trace".encode()
    path = routed_path(raw)
    assert path.count("/") == 4  # the lot's own slashes stay escaped
    assert path.startswith("/v1/lots/") and path.endswith("/trace")
    assert unquote_segment(path[len("/v1/lots/") : -len("/trace")]) == lot


def test_lowercase_escapes_are_normalised_and_others_decoded() -> None:
    assert routed_path(b"/v1/lots/a%2fb%41%20") == "/v1/lots/a%2Fb" + "A "
    assert routed_path(b"/v1/records/R-1") == "/v1/records/R-1"
    assert unquote_segment("plain") == "plain"
