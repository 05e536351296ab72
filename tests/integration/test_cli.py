"""The operator CLI against a real API server (uvicorn on a free port over a real ledger):
bad input gets a clear message and a documented exit code, and changes nothing."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from api.cli import main
from ledger.embedded import free_port, repo_root
from ledger.runtime import Runtime
from tests.helpers import inspection

pytestmark = [pytest.mark.integration, pytest.mark.req("API-7")]


@pytest.fixture()
def cli(
    api_url: str, runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> CliRunner:
    monkeypatch.chdir(tmp_path)
    return CliRunner(env={"EVLEDGER_API_URL": api_url,
                          "EVLEDGER_HOME": str(runtime.settings.home)})


def records(api_url: str) -> int:
    return int(httpx.get(f"{api_url}/v1/status").json()["records"])


def test_register_submit_receipt(cli: CliRunner, api_url: str, specs: Any) -> None:
    addr = cli.invoke(main, ["keys", "new", "--plain", "-o", "k.key"])
    assert addr.exit_code == 0, addr.output
    address = addr.output.strip()
    assert re.fullmatch(r"0x[0-9a-fA-F]{40}", address)
    assert oct(Path("k.key").stat().st_mode & 0o777) == "0o600"
    r = cli.invoke(main, ["signers", "add", "--address", address, "--name", "Kim",
                          "--role", "qa_inspector", "--person", "E-1042"])
    assert r.exit_code == 0, r.output
    listed = cli.invoke(main, ["signers", "list", "--json"])
    assert any(s["address"] == address and s["name"] == "Kim" and s["person"] == "E-1042"
               for s in json.loads(listed.output))
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
        (["signers", "add", "--address", "0x" + "ab" * 20, "--name", "X", "--role",
          "qa_inspector", "--person", "E 1"], {}, 1, "person"),
        (["keys", "new", "--plain", "-o", "k.key"], {}, 2, "already exists"),
        (["receipt", "NOPE"], {}, 1, "not found"),
        (["submit", "big.json", "--key", "k.key"], {"big.json": " " * 300_000}, 1,
         "expected at most 262144 bytes"),
        (["submit", "ok.json", "--key", "short.key"], {"short.key": "0x" + "ab" * 31}, 2,
         "does not hold a hex secp256k1"),
        (["submit", "ok.json", "--key", "two.key"], {"two.key": "ab" * 32 + "\n" + "cd" * 32}, 2,
         "does not hold a hex secp256k1"),
        (["submit", "ok.json", "--signature", "0x" + "11" * 65, "--typed-data", "td.json"],
         {"td.json": "{}"}, 2, "run `evledger typed-data ok.json` first"),
        (["typed-data", "bad.json"], {"bad.json": "{nope"}, 1, "not valid JSON"),
        (["signers", "revoke", "--address", "0x12"], {}, 1, "--address"),
        (["signers", "add", "--address", "0x" + "ab" * 20, "--name", "X", "--role",
          "qa_inspector", "--key", "nokey.key"], {}, 2, "cannot read key file"),
        (["token", "--key", "k.key", "--ttl", "0"], {}, 1, "token ttl: expected 1..86400 s"),
        (["lot", "LOT-1", "--key", "garbage.key"], {"garbage.key": "zz"}, 2,
         "does not hold a hex secp256k1"),
        (["record", "X-1", "--key", "open.key"], {"open.key": "OPEN"}, 2, "chmod 600"),
        (["status", "--api", "127.0.0.1:1"], {}, 2, "service URL: expected http"),
        (["keys", "new", "-o", "no-dir/k.key"], {}, 2, "keys new: cannot create no-dir/k.key"),
        (["keys", "new", "-o", "open.key", "--if-missing"], {"open.key": "OPEN"}, 2, "chmod 600"),
    ],
)
def test_bad_input(cli: CliRunner, api_url: str, args: list[str], files: dict[str, str],
                   code: int, message: str) -> None:
    assert cli.invoke(main, ["keys", "new", "--plain", "-o", "k.key"]).exit_code == 0
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
    for name, text in files.items():  # a key file's content is never shown
        if name.endswith(".key") and len(text) > 8:
            assert text[2:10] not in r.output, r.output


@pytest.mark.parametrize("args", [
    ["status", "--json"], ["trust"], ["signers", "list", "--key", "k.key"],
    ["receipt", "X-1", "--wait", "0"],
    ["submit", "r.json", "--key", "k.key"], ["token", "--key", "k.key"],
    ["signers", "add", "--address", "0x" + "ab" * 20, "--name", "X", "--role", "qa_inspector",
     "--key", "k.key"],
])
def test_unreachable_service(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    runner = CliRunner(env={"EVLEDGER_API_URL": f"http://127.0.0.1:{free_port()}",
                            "EVLEDGER_HOME": str(tmp_path / ".evledger")})
    assert runner.invoke(main, ["keys", "new", "--plain", "-o", "k.key"]).exit_code == 0
    Path("r.json").write_text(json.dumps(inspection("U-1")))
    r = runner.invoke(main, args)
    assert r.exit_code == 2, r.output
    assert "cannot reach http://127.0.0.1:" in r.output and "4 attempt(s)" in r.output, r.output
    assert "Traceback" not in r.output


def test_scripts_can_run_twice(cli: CliRunner, api_url: str, specs: Any) -> None:
    """keys new --if-missing keeps the key; the same record file submitted again by the same
    key and meaning answers the stored entry (exit 0); by another key it is refused."""
    first = cli.invoke(main, ["keys", "new", "--plain", "-o", "k.key", "--if-missing"])
    again = cli.invoke(main, ["keys", "new", "--plain", "-o", "k.key", "--if-missing"])
    assert first.exit_code == again.exit_code == 0 and first.output == again.output
    refused = cli.invoke(main, ["keys", "new", "--plain", "-o", "k.key"])
    assert refused.exit_code == 2 and "--if-missing keeps it" in refused.output
    address = first.output.strip()
    for _ in range(2):
        r = cli.invoke(main, ["signers", "add", "--address", address, "--name", "Kim",
                              "--role", "qa_inspector"])
        assert r.exit_code == 0, r.output
    Path("r.json").write_text(json.dumps(inspection("TWICE-1")))
    one = cli.invoke(main, ["submit", "r.json", "--key", "k.key"])
    assert one.exit_code == 0 and json.loads(one.output)["status"] == "accepted", one.output
    before = records(api_url)
    two = cli.invoke(main, ["submit", "r.json", "--key", "k.key"])
    assert two.exit_code == 0, two.output
    answer = json.loads(two.output)
    assert answer["status"] == "duplicate" and answer["signer"] == address
    assert records(api_url) == before
    other = cli.invoke(main, ["keys", "new", "--plain", "-o", "other.key"]).output.strip()
    cli.invoke(main, ["signers", "add", "--address", other, "--name", "Lee",
                      "--role", "qa_inspector"])
    r = cli.invoke(main, ["submit", "r.json", "--key", "other.key"])
    assert r.exit_code == 1 and "refused (409) conflict" in r.output, r.output


def test_revoke_compromised_refuses_backdated_signatures(
    cli: CliRunner, api_url: str, specs: Any
) -> None:
    """A person's signature made before a plain revoke is refused once it arrives after it
    (authority is judged at the acceptance too); --compromised refuses every later submission
    by the key, whatever signing time it claims, a device's included."""
    from ingest.client import Client, RefusedError, SignedSubmission, load_key

    api = Client(api_url)
    signed_before: dict[str, SignedSubmission] = {}
    for name in ("plain", "stolen"):
        address = cli.invoke(main, ["keys", "new", "--plain", "-o", f"{name}.key"]).output.strip()
        r = cli.invoke(main, ["signers", "add", "--address", address, "--name", name,
                              "--role", "qa_inspector"])
        assert r.exit_code == 0, r.output
        key = load_key(Path(f"{name}.key"))
        signed_before[name] = key.sign(inspection(f"BACK-{name}"), "authored", api.domain())
        time.sleep(1.1)  # the revoke is signed at a later second
        flags = ["--compromised"] if name == "stolen" else []
        r = cli.invoke(main, ["signers", "revoke", "--address", address, *flags])
        assert r.exit_code == 0, r.output
        assert ("as compromised" in r.output) == (name == "stolen"), r.output
    rows = json.loads(cli.invoke(main, ["signers", "list", "--json"]).output)
    listed = {s["name"]: s for s in rows}
    assert listed["stolen"]["compromised"] is True and listed["stolen"]["active"] is False
    assert listed["plain"]["compromised"] is False and listed["plain"]["active"] is False
    shown = cli.invoke(main, ["signers", "list"]).output
    assert re.search(r"compromised +qa_inspector +stolen", shown), shown
    with pytest.raises(RefusedError, match="no longer an active signer"):
        api.submit(signed_before["plain"])
    with pytest.raises(RefusedError, match="key reported compromised"):
        api.submit(signed_before["stolen"])
    Path("r.json").write_text(json.dumps(inspection("AFTER-1")))
    r = cli.invoke(main, ["submit", "r.json", "--key", "stolen.key"])
    assert r.exit_code == 1 and "key reported compromised" in r.output, r.output


@pytest.mark.parametrize("command", [[], ["submit"], ["signers", "revoke"], ["keys", "new"]])
def test_short_help_option(command: list[str]) -> None:
    runner = CliRunner()
    short = runner.invoke(main, [*command, "-h"], prog_name="evledger")
    long = runner.invoke(main, [*command, "--help"], prog_name="evledger")
    assert short.exit_code == long.exit_code == 0, short.output
    assert short.output == long.output and "Usage: evledger" in short.output
    assert "-h, --help" in short.output


def test_home_is_found_from_a_subfolder(
    api_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """EVLEDGER_HOME unset: commands run below the folder holding .evledger find that ledger
    (and its running service); in an evledger checkout the root's .evledger, even before it
    exists; elsewhere ./.evledger."""
    from ledger.config import Settings

    monkeypatch.delenv("EVLEDGER_HOME", raising=False)
    ledger = tmp_path / "plant"
    (ledger / ".evledger").mkdir(parents=True)
    (ledger / ".evledger" / "runtime.json").write_text(json.dumps({"api_url": api_url}))
    deep = ledger / "lines" / "line-3"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    assert Settings.from_env().home == ledger / ".evledger"
    runner = CliRunner(env={"EVLEDGER_HOME": None, "EVLEDGER_API_URL": None})
    r = runner.invoke(main, ["status", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["api_url"] == api_url

    checkout = tmp_path / "checkout"
    (checkout / "docs" / "examples").mkdir(parents=True)
    (checkout / "pyproject.toml").write_text('[project]\nname = "evledger"\n')
    (checkout / "docs" / "pyproject.toml").write_text('[project]\nname = "other"\n')
    monkeypatch.chdir(checkout / "docs" / "examples")
    assert Settings.from_env().home == checkout / ".evledger"

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert Settings.from_env().home == elsewhere / ".evledger"
    monkeypatch.setenv("EVLEDGER_HOME", "mine")
    assert Settings.from_env().home == elsewhere / "mine"


def test_readme_and_help_state_the_same_home_rule() -> None:
    def words(text: str) -> str:
        return " ".join(text.split())

    readme = words((repo_root() / "README.md").read_text())
    rule = re.search(r"Ledger home \(keys, runtime\.json\):.*?else \./\.evledger\.", readme)
    assert rule, "README.md states no ledger home rule"
    assert rule.group(0) in words(CliRunner().invoke(main, ["--help"]).output)


def test_verifier_version(capsys: pytest.CaptureFixture[str]) -> None:
    from importlib.metadata import version

    from evledger_verify.cli import main as verify

    with pytest.raises(SystemExit) as done:
        verify(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"evledger-verify {version('evledger-verify')}"


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
    assert len(receipts) == 21, receipts
    assert types == {"inspection", "ncr", "capa", "correction", "release", "review",
                     "complaint", "hold"}
    for receipt in receipts:
        record = receipt.with_name(receipt.name.replace(".receipt.", ".record."))
        command = f"evledger-verify receipt {receipt} --record {record} --trust {out}/trust.json"
        assert command in r.output
        assert verify(command.split()[1:]) == 0
    release = json.loads(next(out.glob("*-REL.record.json")).read_text())
    assert release["decision"] == "released" and len(release["evidence"]) == 4
    (pdf,) = out.glob("certificate-*.pdf")
    assert pdf.read_bytes().startswith(b"%PDF-") and f"{pdf}" in r.output
    # its people sign with keystores (0600, beside their 0600 password file, for the demo only);
    # the lot command it prints opens the approver's with that file
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in (out / "keys").iterdir())
    shown = re.search(r"evledger (lot \S+ --key \S+ --password-file \S+)", r.output)
    assert shown and json.loads(next((out / "keys").glob("*.json")).read_text())["version"] == 3
    lot = cli.invoke(main, shown.group(1).split(), env={"EVLEDGER_ALLOW_PLAIN_KEYS": None})
    assert lot.exit_code == 0 and "state: released" in lot.output, lot.output
