"""The page's verifier (web/verify/src, JavaScript) and the Python reference agree: the shared
receipt vectors are what the reference says of them today, and ``node --test tests/js/`` runs
the page's verifier over them and over the RFC 9162 vectors (so ``make test`` covers it)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.vectors.bundles import generate as bundles
from tests.vectors.receipts import generate

pytestmark = pytest.mark.req("PAGE-2", "CONS-3")

ROOT = Path(__file__).resolve().parents[2]


def test_the_shared_receipt_vectors_are_fresh() -> None:
    assert generate.OUTPUT.read_text() == generate.render(), (
        "tests/vectors/receipts/receipts.json is stale: run "
        ".venv/bin/python -m tests.vectors.receipts.generate"
    )
    assert generate.main_(["--check"]) == 0


def test_the_vectors_cover_every_check_and_outcome() -> None:
    vectors = json.loads(generate.OUTPUT.read_text())["vectors"]
    failed = {c["check"] for v in vectors for c in v["expected"]["checks"] if not c["ok"]}
    assert {"format", "record", "leaf", "signature", "inclusion", "signer", "checkpoint",
            "anchor (chain 31337)", "anchors required"} <= failed
    assert {v["expected"]["exit"] for v in vectors} == {0, 1, 2}
    for v in vectors:
        assert v["name"].startswith("valid/") == (v["expected"]["exit"] == 0), v["name"]


def test_the_shared_bundle_vectors_are_fresh_and_fail_every_check() -> None:
    assert bundles.OUTPUT.read_text() == bundles.render(), (
        "tests/vectors/bundles/bundles.json is stale: run "
        ".venv/bin/python -m tests.vectors.bundles.generate"
    )
    vectors = json.loads(bundles.OUTPUT.read_text())["vectors"]
    failed = {c["check"] for v in vectors for c in v["expected"].get("checks", []) if not c["ok"]}
    assert {"bundle", "records", "signatures", "authority", "rules", "checkpoint", "inclusion",
            "lot chains", "anchor (chain 31337)", "anchor [0]", "anchors required"} <= failed
    for v in vectors:
        assert v["name"].startswith("valid/") == (v["expected"]["exit"] == 0), v["name"]


def test_node_runs_the_page_verifier_over_every_vector() -> None:
    node = shutil.which("node")
    assert node, "node is needed (make setup installs the page's libraries with npm)"
    assert (ROOT / "node_modules" / "@noble" / "curves").is_dir(), "run make setup (npm install)"
    done = subprocess.run([node, "--test", "tests/js/"], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    tail = "\n".join(done.stdout.splitlines()[-40:])
    assert done.returncode == 0, tail + done.stderr[-2000:]
    passed = int(re.search(r"^# pass (\d+)$", done.stdout, re.M).group(1))  # type: ignore[union-attr]
    failed = int(re.search(r"^# fail (\d+)$", done.stdout, re.M).group(1))  # type: ignore[union-attr]
    vectors = json.loads(generate.OUTPUT.read_text())["vectors"]
    assert failed == 0 and passed > len(vectors) + 200, tail
