"""The page's judge (web/verify/src/judge, JavaScript) and the Python bundle verifier's agree:
the shared judge vectors are what the reference (``evledger_verify.bundle._replay``,
``_authority``, ``_rules``) says of them today, they cover every rule family the rules refuse
with, and ``node --test tests/js/judge.test.mjs`` replays them through the port."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.vectors.judge import generate

pytestmark = pytest.mark.req("PAGE-2")

ROOT = Path(__file__).resolve().parents[2]
#: The modules whose rules the judge applies (where a Refused kind is raised).
JUDGE_MODULES = (
    "rules",
    "content",
    "policy",
    "judge",
    "registry",
    "genealogy",
    "sampling",
    "acceptance",
    "oos",
    "master",
    "life",
)


def scenarios() -> list[dict[str, object]]:
    data: list[dict[str, object]] = json.loads(generate.OUTPUT.read_text())["scenarios"]
    return data


def test_the_shared_judge_vectors_are_fresh() -> None:
    assert generate.OUTPUT.read_text() == generate.render(), (
        "tests/vectors/judge/judge.json is stale: run "
        ".venv/bin/python -m tests.vectors.judge.generate"
    )
    assert generate.main_(["--check"]) == 0


def test_the_vectors_show_what_their_names_say() -> None:
    """``valid/`` and ``lenient/``: nothing refused; ``unauthorized/``: a record without
    authority; ``policy-invalid/``: the settings refused; any other family names the kind of
    the first rule broken; and each check's verdict follows from its list."""
    for v in scenarios():
        expected = v["expected"]
        assert isinstance(expected, dict)
        name = str(v["name"])
        assert generate.shows_its_name(name, expected), name
        if "policy_error" in expected:
            assert set(expected) == {"policy_error"}, name
            continue
        assert expected["authority"]["ok"] == (not expected["unauthorized"]), name
        assert expected["rules"]["ok"] == (not expected["broken"]), name


def refused_kinds() -> set[str]:
    """Every rule family the judge modules raise :class:`Refused` with: the literal first
    argument of each ``Refused(...)``, the rule of the content checks (``schema``, and
    ``correction`` for a corrected body), and the record types whose lot must be known
    (``life.check_known_lot`` refuses as the record's type)."""
    kinds = {"schema", "correction", "complaint", "field_action"}
    for name in JUDGE_MODULES:
        text = (ROOT / "verifier" / "evledger_verify" / f"{name}.py").read_text()
        kinds.update(re.findall(r'Refused\(\s*"([a-z_]+)"', text))
    return kinds


def test_the_vectors_cover_every_refused_kind() -> None:
    kinds = refused_kinds()
    assert {"authority", "duties", "time", "workflow", "release", "sampling", "hold"} <= kinds
    named = {
        m
        for v in scenarios()
        for b in v["expected"].get("broken", [])  # type: ignore[attr-defined]
        for m in re.findall(r"^[^ ]+ \(([a-z_]+)\): ", b)
    }
    assert kinds - named == set(), f"no scenario breaks a rule of kind {sorted(kinds - named)}"


def test_the_vectors_cover_signers_policies_and_refusals_broadly() -> None:
    families = {str(v["name"]).split("/")[0] for v in scenarios()}
    assert {"valid", "unauthorized", "policy-invalid", "lenient"} <= families
    assert len(scenarios()) >= 150
    errors = {v["expected"].get("policy_error") for v in scenarios()}  # type: ignore[attr-defined]
    assert len(errors - {None}) >= 20


def test_node_replays_every_vector_through_the_page_judge() -> None:
    node = shutil.which("node")
    assert node, "node is needed (make setup installs the page's libraries with npm)"
    done = subprocess.run(
        [node, "--test", "tests/js/judge.test.mjs"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    tail = "\n".join(done.stdout.splitlines()[-40:])
    assert done.returncode == 0, tail + done.stderr[-2000:]
    passed = int(re.search(r"^# pass (\d+)$", done.stdout, re.M).group(1))  # type: ignore[union-attr]
    failed = int(re.search(r"^# fail (\d+)$", done.stdout, re.M).group(1))  # type: ignore[union-attr]
    assert failed == 0 and passed == len(scenarios()), tail


def test_an_acceptance_time_without_offset_is_utc_whatever_the_machines_zone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The page reads it as UTC; the Python judge used to read it in the machine's own zone,
    so two auditors in two zones could get two verdicts on one bundle."""
    import time

    from evledger_verify.rules import unix_seconds

    for zone in ("UTC", "America/New_York", "Asia/Tokyo"):
        monkeypatch.setenv("TZ", zone)
        time.tzset()
        assert unix_seconds("2026-06-01T00:00:00") == 1_780_272_000, zone
    monkeypatch.delenv("TZ")
    time.tzset()
