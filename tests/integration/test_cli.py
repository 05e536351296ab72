"""The operator CLI against a real API server (uvicorn on a free port over a real ledger):
bad input gets a clear message and a documented exit code, and changes nothing."""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from click.testing import CliRunner

from api.app import create_app
from api.cli import main
from ledger.embedded import free_port, repo_root
from ledger.runtime import Runtime
from tests.helpers import inspection

pytestmark = pytest.mark.integration


@pytest.fixture()
def api_url(runtime: Runtime) -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(
        create_app(runtime.ledger), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield url
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture()
def cli(
    api_url: str, runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> CliRunner:
    monkeypatch.chdir(tmp_path)
    return CliRunner(env={"EVLEDGER_API_URL": api_url,
                          "EVLEDGER_HOME": str(runtime.settings.home)})


def records(api_url: str) -> int:
    return int(httpx.get(f"{api_url}/v1/status").json()["records"])


def test_register_submit_receipt(cli: CliRunner, api_url: str) -> None:
    addr = cli.invoke(main, ["keys", "new", "-o", "k.key"])
    assert addr.exit_code == 0, addr.output
    address = addr.output.strip()
    assert re.fullmatch(r"0x[0-9a-fA-F]{40}", address)
    assert oct(Path("k.key").stat().st_mode & 0o777) == "0o600"
    r = cli.invoke(main, ["signers", "add", "--address", address, "--name", "Kim",
                          "--role", "qa_inspector"])
    assert r.exit_code == 0, r.output
    listed = cli.invoke(main, ["signers", "list", "--json"])
    assert any(s["address"] == address and s["name"] == "Kim" for s in json.loads(listed.output))
    Path("r.json").write_text(json.dumps(inspection("C-1")))
    r = cli.invoke(main, ["submit", "r.json", "--key", "k.key"])
    assert r.exit_code == 0 and '"accepted"' in r.output, r.output
    r = cli.invoke(main, ["receipt", "C-1", "-o", "c1.json"])
    assert r.exit_code == 0, r.output
    assert json.loads(Path("c1.json").read_text())["format"] == "evledger-receipt/1"
    status = cli.invoke(main, ["status", "--json"])
    keys = set(json.loads(status.output))
    assert {"database_url", "rpc_url", "chain_id", "contract", "api_url", "log_public_key",
            "latest_checkpoint", "latest_anchored_checkpoint"} <= keys
    r = cli.invoke(main, ["signers", "revoke", "--address", address])
    assert r.exit_code == 0, r.output
    Path("r2.json").write_text(json.dumps(inspection("C-2")))
    r = cli.invoke(main, ["submit", "r2.json", "--key", "k.key"])
    assert r.exit_code == 1 and "revoked" in r.output, r.output


@pytest.mark.parametrize(
    ("args", "files", "code", "message"),
    [
        (["submit", "missing.json", "--key", "k.key"], {}, 2, "does not exist"),
        (["submit", "bad.json", "--key", "k.key"], {"bad.json": "{nope"}, 1, "not valid JSON"),
        (["submit", "arr.json", "--key", "k.key"], {"arr.json": "[1]"}, 1, "JSON object"),
        (["submit", "dup.json", "--key", "k.key"],
         {"dup.json": '{"record_id": "a", "record_id": "b", "type": "x"}'}, 1, "duplicate key"),
        (["submit", "ok.json"], {}, 2, "exactly one of --key"),
        (["submit", "ok.json", "--key", "k.key", "--signature", "0x00"], {}, 2,
         "exactly one of --key"),
        (["submit", "ok.json", "--key", "nokey.key"], {}, 2, "cannot read key file"),
        (["submit", "ok.json", "--key", "garbage.key"], {"garbage.key": "zz"}, 2,
         "does not hold a hex secp256k1"),
        (["submit", "ok.json", "--key", "open.key"], {"open.key": "OPEN"}, 2,
         "readable by others"),
        (["submit", "ok.json", "--signature", "0x" + "11" * 65], {}, 2, "typed-data"),
        (["submit", "noid.json", "--key", "k.key"], {"noid.json": '{"type": "inspection"}'}, 1,
         "record_id"),
        (["submit", "ok.json", "--key", "k.key", "--meaning", "blessed"], {}, 1, "meaning"),
        (["signers", "add", "--address", "0x12", "--name", "X", "--role", "qa_inspector"], {},
         1, "--address"),
        (["signers", "add", "--address", "0x" + "ab" * 20, "--name", "X", "--role", "wizard"],
         {}, 1, "roles"),
        (["keys", "new", "-o", "k.key"], {}, 2, "already exists"),
        (["receipt", "NOPE"], {}, 1, "not found"),
    ],
)
def test_bad_input(cli: CliRunner, api_url: str, args: list[str], files: dict[str, str],
                   code: int, message: str) -> None:
    assert cli.invoke(main, ["keys", "new", "-o", "k.key"]).exit_code == 0
    Path("ok.json").write_text(json.dumps(inspection("OK-1")))
    for name, text in files.items():
        Path(name).write_text(text)
        os.chmod(name, 0o644 if text == "OPEN" else 0o600)
    before = records(api_url)
    r = cli.invoke(main, args)
    assert r.exit_code == code, r.output
    assert message in r.output, r.output
    assert "Traceback" not in r.output
    assert records(api_url) == before


def test_unreachable_service(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    runner = CliRunner(env={"EVLEDGER_API_URL": f"http://127.0.0.1:{free_port()}"})
    r = runner.invoke(main, ["status", "--json"])
    assert r.exit_code == 2 and "cannot reach" in r.output, r.output


def test_readme_lists_every_command() -> None:
    """README's command table and the CLI agree."""
    readme = (repo_root() / "README.md").read_text()
    documented = set(re.findall(r"^\| `evledger ([a-z-]+)", readme, re.M))
    actual = set(main.commands)  # type: ignore[attr-defined]
    assert actual - {"version"} <= documented | {"keys", "signers"}, actual - documented
    assert documented <= actual, documented - actual


def test_demo_writes_verifiable_records_and_receipts(cli: CliRunner, tmp_path: Path) -> None:
    from evledger_verify.cli import main as verify

    out = tmp_path / "demo"
    r = cli.invoke(main, ["demo", "--out", str(out)])
    assert r.exit_code == 0, r.output
    receipts = sorted(out.glob("*.receipt.json"))
    types = {json.loads(p.with_name(p.name.replace(".receipt.", ".record.")).read_text())["type"]
             for p in receipts}
    assert len(receipts) == 13, receipts
    assert types == {"inspection", "ncr", "capa", "correction", "release"}
    for receipt in receipts:
        record = receipt.with_name(receipt.name.replace(".receipt.", ".record."))
        command = f"evledger-verify receipt {receipt} --record {record} --trust {out}/trust.json"
        assert command in r.output
        assert verify(command.split()[1:]) == 0
    release = json.loads(next(out.glob("*-REL.record.json")).read_text())
    assert release["decision"] == "released" and len(release["evidence"]) == 4
