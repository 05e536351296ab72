"""The benchmarks' quick runs, as a user runs them: `bench/ingest.py --quick` and
`bench/trace.py --quick` each start a real `evledger up`, drive it over HTTP, stop it, and print
their table (about 30 s each); the verify, audit and merkle benchmarks run small (a few seconds
each). The audit benchmark's fill, which the verify benchmark shares, is also checked against
the time rules at any moment of a long fill, which a small run cannot reach."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from evledger_verify.policy import Policy
from evledger_verify.rules import check_times

from ledger.embedded import repo_root

pytestmark = [pytest.mark.integration, pytest.mark.req("OPS-6")]

ROOT = repo_root()


def bench(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``bench/NAME.py ARGS`` as a user runs it, which must succeed."""
    done = subprocess.run([sys.executable, str(ROOT / "bench" / f"{name}.py"), *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=170)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    return done


@pytest.mark.timeout(180)
def test_ingest_bench_quick_runs_and_prints_the_table(tmp_path: Path) -> None:
    figures = tmp_path / "ingest.json"
    done = bench("ingest", "--quick", "--json", str(figures))
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


@pytest.mark.timeout(180)
def test_trace_bench_quick_runs_and_every_answer_has_the_generated_size(tmp_path: Path) -> None:
    figures = tmp_path / "trace.json"
    done = bench("trace", "--quick", "--json", str(figures))
    for row in (
        "load: POST /v1/records/batch",
        "last acceptance -> all projected",
        "backward trace, random product lots",
        "forward trace, random material lots",
        "recall touching ~100 lots",
        "supplier recall, random suppliers",
        "limit: PostgreSQL forward_level probe",
        "where the time goes, recall of",
        "material lots by recall size",
    ):
        assert row in done.stdout, f"{row!r} missing from the report:\n{done.stdout}"
    result = json.loads(figures.read_text())
    assert result["load"]["accepted"] == result["plant"]["scans"] == 20_000
    final = result["settle"]["final"]
    assert final["projected"] >= final["sealed"] >= final["records"]
    assert result["ops"]["band"]["n"] > 0 and result["ops"]["backward"]["n"] == 50
    assert result["split"]["statements"] > 0
    assert result["stop"]["exit_code"] == 0
    assert result["stop"]["left_running"] == {}, result["stop"]
    assert result["problems"] == []


def test_verify_bench_small_runs_and_every_verification_passes(tmp_path: Path) -> None:
    figures = tmp_path / "verify.json"
    done = bench("verify", "--sizes", "300", "--receipt-runs", "2", "--bundle-runs", "1",
                 "--json", str(figures))
    for row in ("receipt (CLI process", "bundle of 300 records", "limits per core", "profile of"):
        assert row in done.stdout, done.stdout
    assert json.loads(figures.read_text())["bundle_300_s"] > 0


def test_audit_bench_small_fills_and_the_audit_finds_nothing() -> None:
    done = bench("audit", "--records", "2000")
    assert "records: 2022 (2000 inspections over 200 lots" in done.stdout, done.stdout
    assert "findings: 0" in done.stdout, done.stdout


def test_audit_bench_signs_each_range_when_it_signs_it() -> None:
    """The fill once signed every range with the time it began and dated each inspection when
    it was generated: two seconds in, the rules refused them (``inspected_at ... is after the
    signing time``), so `make bench-audit` and `make bench-verify` stopped while filling. A
    range signed two minutes into a fill must be as acceptable as the first."""
    from bench import audit

    def digest(record: dict[str, Any], meaning: str, signed_at: int) -> bytes:
        return bytes(32)

    began = int(time.time()) - 120
    saved = audit._SIGNING
    audit._SIGNING = (digest, [bytes(31) + b"\x01"], began)
    try:
        signed_at, signed = audit.sign_range((0, 120))
    finally:
        audit._SIGNING = saved
    assert began + 120 <= signed_at <= time.time()
    assert len(signed) == 120
    for record, _ in signed:
        check_times(record, ("qa_inspector",), signed_at, signed_at + 5, Policy())
        assert record["inspected_at"] >= time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(began))


def test_merkle_bench_quick_runs_and_every_target_is_measured() -> None:
    done = bench("merkle", "--quick")
    for row in (
        "### PostgreSQL: proofs from `tree_nodes` at 20,000 leaves",
        "| inclusion (random leaf) | 100 |",
        "| 16,383 -> 20,000 | costliest proof",
        "| steady-state gas per anchor <= 80,000",
    ):
        assert row in done.stdout, f"{row!r} missing from the report:\n{done.stdout}"


@pytest.mark.timeout(180)
def test_console_bench_quick_runs_and_prints_every_view(tmp_path: Path) -> None:
    """`bench/console.py --quick`: 105 lots written into a real `evledger up`, sealed by it,
    then every console view read over HTTP with a read token, the live update through the
    dashboard's event stream, and the profile of the slowest reads."""
    figures = tmp_path / "console.json"
    done = bench("console", "--quick", "--json", str(figures))
    for row in (
        "data set: ",
        "sealed, anchored and projected by the service",
        "database: ",
        "| dashboard (computed again) |",
        "| lots: page 1 (50) |",
        "| lots: open=ncr |",
        "| lot: status and timeline |",
        "| NCR board: open, page 1 |",
        "| view (2 clients at once) |",
        "live update, POST /v1/records -> dashboard event: ",
        "where the time goes, dashboard",
        "EXPLAIN (ANALYZE, BUFFERS) of the slowest",
        "Python (cProfile",
        "limits, one core: PostgreSQL round trip",
    ):
        assert row in done.stdout, f"{row!r} missing from the report:\n{done.stdout}"
    result = json.loads(figures.read_text())
    load = result["load"]
    assert load["product_lots"] + load["material_lots"] == result["database"]["lots"]
    assert result["settle"]["pending_seal"] == 0
    assert result["settle"]["projected"] >= result["settle"]["records"] > load["records"]
    assert all(view["n"] > 0 for view in result["views"].values()), result["views"]
    assert result["live"]["until_event"]["n"] == 1
    assert result["stop"]["exit_code"] == 0
    assert result["stop"]["left_running"] == {}, result["stop"]
    assert result["problems"] == []
