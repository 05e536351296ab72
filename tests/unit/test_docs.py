"""Documentation that states rules must say what the code enforces."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ledger.domain.authority import MATRIX

pytestmark = pytest.mark.req("VAL-3")

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_authority_table_in_docs_matches_the_matrix() -> None:
    text = (DOCS / "quality.md").read_text()
    documented = {
        row
        for row in {
            (t, step or "*", meaning, tuple(r.strip() for r in roles.split(",")))
            for t, step, meaning, roles in re.findall(
                r"^\| (\w+) \| (\w*) \| (\w+) \| ([\w, ]+) \|$", text, re.M
            )
        }
        if row[0] != "record"  # the header row
    }
    enforced = {
        (t, step, meaning, roles)
        for (t, step), rule in MATRIX.items()
        for meaning, roles in rule.items()
    }
    assert documented == enforced


def test_duties_table_in_docs_matches_the_default_policy() -> None:
    from evledger_verify.policy import DUTIES

    text = (DOCS / "quality.md").read_text()
    documented = set(re.findall(r"^\| (\w+) \| ([\w/*]+) \| ([\w/*]+) \| (lot|entity) \|$", text,
                                re.M))
    enforced = {(d.name, "/".join(d.first), "/".join(d.second), d.scope) for d in DUTIES}
    assert documented == enforced
