"""The ingest benchmark's quick run, as a user runs it: `bench/ingest.py --quick` starts a real
`evledger up`, drives it over HTTP, stops it, and prints its table (about 30 s)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ledger.embedded import repo_root

pytestmark = pytest.mark.integration

ROOT = repo_root()


@pytest.mark.timeout(180)
def test_ingest_bench_quick_runs_and_prints_the_table(tmp_path: Path) -> None:
    figures = tmp_path / "ingest.json"
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "ingest.py"), "--quick", "--json", str(figures)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=170,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    for row in (
        "figure",
        "batch, best",
        "single POST, 8 closed-loop clients",
        "single POST at 400/s: p50 / p95 / p99",
        "acceptance -> anchored receipt p50",
        "last acceptance -> all anchored",
        "limit: coincurve ECDSA recovery (1 core)",
        "limit: PostgreSQL COPY (1 connection)",
        "load average",
    ):
        assert row in done.stdout, f"{row!r} missing from the table:\n{done.stdout}"
    result = json.loads(figures.read_text())
    assert result["batch_best"]["records_per_s"] > 0
    assert result["open_loop"]["receipts"]["anchored"] > 0
    assert result["limits"]["postgres_copy"].get("rows_per_s", 0) > 0
    assert result["stop"]["exit_code"] == 0
    assert result["stop"]["left_running"] == {}, result["stop"]
    assert result["problems"] == []
