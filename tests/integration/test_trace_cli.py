"""`evledger trace` and `evledger recall` against a real API server over a plant of signed
scans: text and JSON output, the FSMA 204 spreadsheet, the logged recall record and drill,
and bad input (clear message, exit code, nothing logged)."""

from __future__ import annotations

import csv
import hashlib
import json
import os
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from evledger_verify import jcs
from fastapi.testclient import TestClient

from api.cli import RECALL_CSV_COLUMNS, main
from ledger.runtime import Runtime
from tests.helpers import bearer
from tests.integration.test_genealogy import PALLET, Plant

pytestmark = [pytest.mark.integration, pytest.mark.req("FSMA-204-1", "ISO-7.5.9-1")]


@pytest.fixture()
def cli(
    api_url: str, plant: Plant, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> CliRunner:
    monkeypatch.chdir(tmp_path)
    key = tmp_path / "qa.key"
    key.write_text(plant.qa.key.hex() + "\n")
    os.chmod(key, 0o600)
    return CliRunner(env={"EVLEDGER_API_URL": api_url,
                          "EVLEDGER_HOME": str(plant.runtime.settings.home)})


@pytest.fixture()
def plant(client: TestClient, runtime: Runtime) -> Plant:
    from tests.integration.test_genealogy import build_plant

    return build_plant(client, runtime)


def records(api_url: str) -> int:
    return int(httpx.get(f"{api_url}/v1/status").json()["records"])


def test_trace_both_ways_as_text_and_json(cli: CliRunner) -> None:
    r = cli.invoke(main, ["trace", "P-1", "--backward", "--key", "qa.key"])
    assert r.exit_code == 0, r.output
    assert r.output.splitlines()[0].startswith("backward trace of P-1 (log size ")
    assert "  RM-A 09506000134307 [in_process]" in r.output
    assert "made into P-1 via scan-MOLD-1-5" in r.output
    assert "received from Polymer GmbH (scan-DOCK-1-1)" in r.output
    r = cli.invoke(main, ["trace", "RM-A", "--forward", "--key", "qa.key", "--json"])
    assert r.exit_code == 0, r.output
    assert [n["lot"] for n in json.loads(r.output)["nodes"]] == ["RM-A", "P-1"]
    r = cli.invoke(main, ["trace", "--supplier", "Polymer GmbH", "--key", "qa.key"])
    assert r.exit_code == 0, r.output
    assert f"shipped 100 EA to Hospital North on pallet {PALLET}" in r.output


def test_recall_logs_a_record_the_ledger_checked_and_writes_the_spreadsheet(
    cli: CliRunner, plant: Plant, api_url: str
) -> None:
    before = records(api_url)
    r = cli.invoke(main, ["recall", "--supplier", "Polymer GmbH", "--key", "qa.key",
                          "--reason", "Supplier notice 77: resin contaminated",
                          "--recall-id", "RC-77", "--csv", "scope.csv", "--json", "scope.json"])
    assert r.exit_code == 0, r.output
    assert "recall RC-77: 4 lots, 4 shipments to 3 consignees" in r.output
    assert records(api_url) == before + 1
    saved = json.loads(Path("scope.json").read_text())
    assert hashlib.sha256(jcs.canonicalize(saved["scope"])).hexdigest() == saved["scope_sha256"]
    logged = plant.client.get("/v1/records/recall-RC-77",
                              headers=bearer(plant.runtime, plant.qa)).json()
    assert logged["current"]["scope_sha256"] == saved["scope_sha256"]
    assert logged["signature"]["meaning"] == "approved"
    with open("scope.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert tuple(rows[0]) == RECALL_CSV_COLUMNS
    shipping = [r for r in rows if r["event"] == "shipping"]
    assert sorted((r["traceability_lot_code"], r["location"], r["quantity"],
                   r["unit_of_measure"]) for r in shipping) == [
        ("P-1", "Clinic East", "20", "EA"),
        ("P-1", "Hospital North", "100", "EA"),
        ("P-2", "Distributor West", "10", "EA"),
        ("P-2", "Hospital North", "50", "EA"),
    ]
    assert [r["traceability_lot_code"] for r in rows] == sorted(
        r["traceability_lot_code"] for r in rows)
    # How each lot was reached: P-1 from RM-A (its other input, RM-B, is not in the scope).
    assert sorted((r["traceability_lot_code"], r["reached_from"]) for r in rows
                  if r["event"] == "transformation") == [("P-1", "RM-A"), ("P-2", "RM-C")]


def test_a_drill_is_timed_and_logged_as_a_drill(cli: CliRunner, plant: Plant) -> None:
    r = cli.invoke(main, ["recall", "--lot", "RM-B", "--drill", "--key", "qa.key",
                          "--recall-id", "DRILL-1"])
    assert r.exit_code == 0, r.output
    assert "drill DRILL-1: 2 lots, 2 shipments to 2 consignees" in r.output
    assert "scope computed in" in r.output
    body = plant.client.get("/v1/records/recall-DRILL-1",
                            headers=bearer(plant.runtime, plant.qa)).json()["current"]
    assert body["drill"] is True and body["elapsed_ms"] >= 0 and body["lot"] == "RM-B"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["trace", "P-1", "--key", "qa.key"], "give --backward or --forward"),
        (["trace", "--key", "qa.key", "--forward"], "give a LOT or --supplier"),
        (["trace", "P-1", "--supplier", "X", "--forward", "--key", "qa.key"],
         "give a LOT or --supplier"),
        (["trace", "NO-SUCH", "--forward", "--key", "qa.key"], "NO-SUCH"),
        (["trace", "P-1", "--forward", "--as-of", "noon", "--key", "qa.key"], "as_of"),
        (["trace", "P-1", "--forward", "--key", "missing.key"], "missing.key"),
        (["recall", "--lot", "P-1", "--key", "qa.key"], "give --reason"),
        (["recall", "--key", "qa.key", "--drill"], "give --lot LOT or --supplier"),
        (["recall", "--supplier", "Nobody", "--drill", "--key", "qa.key"], "Nobody"),
    ],
)
def test_bad_trace_and_recall_input(
    cli: CliRunner, api_url: str, args: list[str], message: str
) -> None:
    before = records(api_url)
    r = cli.invoke(main, args)
    assert r.exit_code in (1, 2), r.output
    assert message in r.output, r.output
    assert records(api_url) == before


def test_a_replayed_recall_id_is_refused(cli: CliRunner, api_url: str) -> None:
    args = ["recall", "--lot", "RM-C", "--drill", "--key", "qa.key", "--recall-id", "RC-TWICE"]
    assert cli.invoke(main, args).exit_code == 0
    before = records(api_url)
    r = cli.invoke(main, args)
    assert r.exit_code == 1 and "already used" in r.output, r.output
    assert records(api_url) == before


def test_recall_check_confirms_a_scope_and_names_a_doctored_one(cli: CliRunner) -> None:
    r = cli.invoke(main, ["recall", "--lot", "RM-A", "--key", "qa.key", "--reason",
                          "Resin lot contaminated", "--recall-id", "RC-CHK", "--json", "s.json"])
    assert r.exit_code == 0, r.output
    r = cli.invoke(main, ["recall-check", "s.json", "--key", "qa.key"])
    assert r.exit_code == 0, r.output
    assert r.output.count("ok  ") == 3
    saved = json.loads(Path("s.json").read_text())
    saved["scope"]["shipments"].pop()  # a consignee quietly left off the list
    Path("d.json").write_text(json.dumps(saved))
    r = cli.invoke(main, ["recall-check", "d.json", "--key", "qa.key"])
    assert r.exit_code == 1, r.output
    assert "FAIL the file's scope hashes to its scope_sha256" in r.output
    Path("bad.json").write_text("{}")
    r = cli.invoke(main, ["recall-check", "bad.json", "--key", "qa.key"])
    assert r.exit_code == 2 and "expected `recall --json` output" in r.output
