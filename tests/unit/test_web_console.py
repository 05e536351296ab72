"""The QA console's build and signing vectors: the page builds reproducibly (two builds, the
same bytes, the file on disk among them after `make setup`), and the vectors the node test
compares the page's signatures with are what the Python client makes now."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from ledger.embedded import repo_root

pytestmark = pytest.mark.req("CONS-3")

ROOT = repo_root()


def test_the_console_signing_vectors_are_fresh() -> None:
    done = subprocess.run(
        [sys.executable, "tests/vectors/console/generate.py", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_console_builds_reproducibly() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    built = ROOT / "web" / "dist" / "console.html"
    if not built.exists():
        subprocess.run([node, "web/console/build.mjs"], cwd=ROOT, check=True, timeout=120)
    done = subprocess.run(
        [node, "web/console/build.mjs", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    html = built.read_text()
    assert (
        "http://" not in html.split("<script>")[0] and "https://" not in html.split("<script>")[0]
    )
    assert html.count("<script>") == 1 and html.count("<style>") == 1
