"""The README's quick start, run as written against a real `evledger up`, and the service
surviving kill -9 of its whole process group."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from ledger.embedded import free_port, repo_root
from tests.helpers import change


def change_request(change_id: str) -> dict[str, Any]:
    """A record that needs no other record first (an inspection cites a specification)."""
    return change(change_id, "requested")


def ncr_open(record_id: str, lot: str) -> dict[str, Any]:
    """A lot's record that needs no other record first: an NCR opened on it."""
    return {"record_id": record_id, "type": "ncr", "schema": "ncr/1", "ncr_id": f"NCR-{record_id}",
            "lot": lot, "step": "open", "nature": "burr on the shaft tip"}

pytestmark = [pytest.mark.integration, pytest.mark.req("ANCH-1")]

ROOT = repo_root()
BIN = Path(sys.executable).parent
CAST = ROOT / "node_modules" / ".bin" / "cast"


def readme_block(marker: str) -> str:
    readme = (ROOT / "README.md").read_text()
    match = re.search(rf"<!-- {marker}:[^>]*-->\s*```bash\n(.*?)```", readme, re.S)
    assert match, f"README.md has no {marker} block"
    return match.group(1)


def quickstart_block() -> str:
    return readme_block("quickstart")


@dataclass
class Service:
    home: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.env['EVLEDGER_PORT']}"

    def start(self, timeout: float = 60) -> None:
        log = open(self.home.parent / "up.log", "ab")
        self.process = subprocess.Popen(
            [str(BIN / "evledger"), "up"], env=self.env, cwd=self.home.parent,
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, (self.home.parent / "up.log").read_text()
            try:
                if httpx.get(f"{self.api}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError("evledger up did not become healthy")

    def kill9(self) -> None:
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def interrupt(self) -> int:
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGINT)
        return self.process.wait(timeout=60)

    def run(self, script: str, cwd: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script], cwd=cwd, env=self.env,
            capture_output=True, text=True, timeout=300,
        )


def new_service(tmp_path: Path, **extra: str) -> Service:
    """`evledger up` in a private home on free ports, with fast sealing and anchoring."""
    home = tmp_path / "work" / ".evledger"
    home.parent.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "ETH_RPC_URL")}
    env.update(
        EVLEDGER_HOME=str(home), EVLEDGER_PORT=str(free_port()),
        EVLEDGER_ANVIL_PORT=str(free_port()), EVLEDGER_SEAL_INTERVAL="0.1",
        EVLEDGER_ANCHOR_INTERVAL="0.2", PATH=f"{BIN}:{env.get('PATH', '')}", **extra,
    )
    return Service(home, env)


@pytest.fixture()
def service(tmp_path: Path) -> Iterator[Service]:
    svc = new_service(tmp_path)
    svc.start()
    try:
        yield svc
    finally:
        if svc.process and svc.process.poll() is None:
            svc.interrupt()
        stop_orphaned_postgres(svc.home)


def stop_orphaned_postgres(home: Path) -> None:
    """A PostgreSQL that a kill -9 left behind and a later start reused outlives `evledger up`
    (issue 10 makes `up` own it); the test stops it so that no process is left behind."""
    try:
        pid = int((home / "pgdata" / "postmaster.pid").read_text().split()[0])
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError, IndexError):
        return
    if str(home).encode() in cmdline:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.1)


def test_readme_quickstart_then_kill9_and_restart(service: Service) -> None:
    """The quick start runs as written, and again (a newcomer repeats it); then the wallet
    example, twice; then kill -9 and a restart on the same data."""
    work = service.home.parent
    (work / ".venv").symlink_to(ROOT / ".venv")
    (work / "node_modules").symlink_to(ROOT / "node_modules")
    for attempt in (1, 2):
        done = service.run(quickstart_block(), work)
        assert done.returncode == 0, (attempt, done.stdout + done.stderr)
        assert done.stdout.count("VERIFIED") == 2, done.stdout
        submitted = json.loads(done.stdout[done.stdout.index("{"):done.stdout.index("}") + 1])
        assert submitted["status"] == ("accepted" if attempt == 1 else "duplicate"), submitted
    for attempt in (1, 2):
        wallet = service.run(readme_block("wallet"), work)
        assert wallet.returncode == 0, (attempt, wallet.stdout + wallet.stderr)
        answer = json.loads(wallet.stdout[wallet.stdout.index("{"):])
        assert answer["status"] == ("accepted" if attempt == 1 else "duplicate"), answer
        assert answer["record_id"] == "CHG-2026-0002-requested"
    receipt = json.loads((work / "receipt.json").read_text())
    status = httpx.get(f"{service.api}/v1/status").json()

    verify = (
        "evledger-verify receipt receipt.json --record record.json --trust trust.json "
        "--rpc \"$(evledger status --json | python -c "
        "'import json,sys; print(json.load(sys.stdin)[\"rpc_url\"])')\""
    )
    # A one-byte change to the record is caught and named.
    tampered = (work / "record.json").read_text().replace("PEBAX", "PEBAx")
    (work / "tampered.json").write_text(tampered)
    bad = service.run(
        "evledger-verify receipt receipt.json --record tampered.json --trust trust.json", work
    )
    assert bad.returncode == 1 and "FAIL record" in bad.stdout, bad.stdout

    # kill -9 of the whole process group, then a restart on the same data.
    service.kill9()
    service.start()
    again = service.run(verify, work)
    assert again.returncode == 0 and "VERIFIED" in again.stdout, again.stdout + again.stderr

    # New records continue the same log: the new tree is an extension of the old one.
    (work / "second.json").write_text(json.dumps(change_request("CHG-2026-0003")))
    more = service.run(
        "EVLEDGER_KEY_PASSWORD_FILE=password.key "
        "evledger submit second.json --key inspector.key && "
        "evledger receipt CHG-2026-0003-requested -o second.receipt.json", work)
    assert more.returncode == 0, more.stdout + more.stderr
    second = json.loads((work / "second.receipt.json").read_text())
    assert second["leaf_index"] == status["records"]
    assert second["tree_size"] > receipt["tree_size"]
    proof = httpx.get(f"{service.api}/v1/proofs/consistency", params={
        "first": receipt["tree_size"], "second": second["tree_size"]}).json()
    from evledger_verify.merkle import verify_consistency

    verify_consistency(
        receipt["tree_size"], second["tree_size"], [bytes.fromhex(p) for p in proof["proof"]],
        bytes.fromhex(receipt["root_hash"]), bytes.fromhex(second["root_hash"]),
    )
    # Ctrl-C stops everything cleanly.
    assert service.interrupt() == 0


def test_readme_outputs_are_git_ignored() -> None:
    """What the README's blocks write at the repository root (keys above all) stays out of
    git."""
    written: set[str] = set()
    for marker in ("quickstart", "wallet", "qa-walkthrough"):
        block = readme_block(marker)
        written |= set(re.findall(r"(?:-o|>) ([\w.-]+\.(?:json|key))\b", block))
    assert {"inspector.key", "wallet.key", "approver.key", "record.json", "receipt.json",
            "trust.json", "typed.json", "record2.json"} <= written, written
    for name in sorted(written):
        ignored = subprocess.run(["git", "-C", str(ROOT), "check-ignore", "-q", "--no-index",
                                  name], check=False)
        assert ignored.returncode == 0, f"{name} is not git-ignored"


def test_wallet_signature_from_cast(service: Service) -> None:
    """A signature made by `cast wallet sign --data` over `evledger typed-data` is accepted."""
    work = service.home.parent
    key = "0x" + os.urandom(32).hex()
    (work / "r.json").write_text(json.dumps(change_request("REV-1")))
    (work / "o.json").write_text(json.dumps(change_request("REV-2")))
    script = f"""
    ADDR=$({CAST} wallet address --private-key {key})
    evledger signers add --address "$ADDR" --name "Wally Wallet" --role qa_approver
    evledger typed-data r.json --meaning authored > typed.json
    SIG=$({CAST} wallet sign --data --from-file typed.json --private-key {key})
    evledger submit r.json --signature "$SIG"
    """
    done = service.run(script, work)
    assert done.returncode == 0, done.stdout + done.stderr
    assert '"status": "accepted"' in done.stdout
    (work / "wally.key").write_text(key + "\n")
    (work / "wally.key").chmod(0o600)
    shown = service.run("evledger record REV-1-requested --key wally.key", work)
    assert shown.returncode == 0, shown.stdout + shown.stderr
    rec = json.loads(shown.stdout)
    assert rec["signature"]["meaning"] == "authored"
    assert rec["signature"]["printed_name"] == "Wally Wallet"
    assert httpx.get(f"{service.api}/v1/records/REV-1-requested").status_code == 401
    # The same signature over another record is refused.
    other = service.run(
        "evledger submit o.json --signature \"$(" + f"{CAST} wallet sign --data --from-file "
        f"typed.json --private-key {key})\" --typed-data typed.json", work)
    assert other.returncode == 1 and "another record" in other.stderr, other.stderr


def test_readme_qa_walkthrough(service: Service) -> None:
    """The README's QA section, as written: quarantine, a refused release with its reasons,
    the NCR (its OOS investigation) / CAPA / rework / correction path, a concession two
    approvers sign, the release and the lot's status, a complaint's hold and its lift."""
    work = service.home.parent
    (work / ".venv").symlink_to(ROOT / ".venv")
    (work / "docs").symlink_to(ROOT / "docs")
    done = service.run(readme_block("qa-walkthrough"), work)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    blocked = out[:out.index("state: released")]
    for reason in ("blocks release: tip length failed in QA1-IPQC-001 (in_process, critical)",
                   "blocks release: required inspection missing", "NCR NCR-QA1 is open"):
        assert reason in blocked, out
    assert out.count("state: quarantined") == 1 and out.count("state: released") == 2, out
    # after release: the complaint holds the lot; the lift, citing the retained samples, ends it
    held = out[out.index("state: on_hold"):]
    assert "on hold: complaint CMP-2026-0042 from Hospital North" in held, out
    assert held.index("state: released") > held.index("on hold:"), out
    assert "reviews QA1-NCR2-3: record hash" in done.stderr
    assert "release: released by Quinn Approver, released," in out
    assert "Dana Inspector, authored" in out
    # master data: in force through change control, instruments usable, the supplier's record
    lines = out.splitlines()
    assert any(x.startswith("SPEC-CATH5F-FQC ") and "v1 in force" in x for x in lines), out
    assert any(x.startswith("LM-204 ") and "usable until 2031-11-02T08:00:00Z" in x
               for x in lines), out
    assert "status: approved" in out and "lots received 1 (1 receipts)" in out, out
    assert "evidence QA1-FQC-001: record hash" in done.stderr
    view, _ = json.JSONDecoder().raw_decode(out[out.rindex('{\n  "record_id": "QA1-IQC-001"'):])
    assert view["changed_since_first_entry"] is True
    assert view["original"]["characteristics"][1]["value"] == 46.2
    assert view["current"]["characteristics"][1]["value"] == 47.1
    change = view["history"][0]
    assert change["old"] == 46.2 and change["new"] == 47.1
    assert change["printed_name"] == "Dana Inspector" and change["signed_at"].endswith("Z")
    assert "Transcription error" in change["reason"]


def test_api_worker_processes_share_one_ledger(tmp_path: Path) -> None:
    """EVLEDGER_API_WORKERS=2: batches and single posts from several clients land in one log,
    each lot in one chain; Ctrl-C stops the workers and every embedded service."""
    import threading

    from ingest.client import Client, SigningKey, load_key

    svc = new_service(tmp_path, EVLEDGER_API_WORKERS="2")
    home = svc.home
    svc.start()
    try:
        client = Client(svc.api)
        domain = client.domain()
        admin_key = load_key(home / "keys" / "admin.key")
        inspector = SigningKey.generate()
        grant = {"record_id": "signer-w-1", "type": "signer", "schema": "signer/1",
                 "action": "grant", "address": inspector.address, "name": "W Inspector",
                 "roles": ["qa_inspector"]}
        assert client.submit(admin_key.sign(grant, "approved", domain))["status"] == "accepted"
        batches = [
            [inspector.sign(ncr_open(f"W-{t}-{i}", f"LOT-W{i % 3}"), "authored", domain)
             for i in range(30)]
            for t in range(3)
        ]
        singles = [inspector.sign(ncr_open(f"W-S-{i}", f"LOT-W{i % 3}"), "authored", domain)
                   for i in range(20)]
        errors: list[BaseException] = []

        def send(work: Any) -> None:
            try:
                with Client(svc.api) as own:
                    if isinstance(work, list):
                        assert own.submit_batch(work).count("accepted") == len(work)
                    else:
                        assert own.submit(work)["status"] == "accepted"
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=send, args=(w,)) for w in [*batches, *singles]]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
        total = 1 + 90 + 20 + 2  # plus the bootstrap admin and the audit key's grant
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            status = client.get_json("/v1/status")
            if status["latest_anchored_checkpoint"] == total:
                break
            time.sleep(0.2)
        assert status["records"] == total and status["latest_anchored_checkpoint"] == total
        for lot in ("LOT-W0", "LOT-W1", "LOT-W2"):
            ids = [s.record_id for b in [*batches, singles] for s in b
                   if s.record["lot"] == lot]
            entries = [client.receipt(rid)["entry"] for rid in ids]
            prevs = [e["lot_prev"] for e in entries]
            assert prevs.count(None) == 1 and len(set(prevs)) == len(prevs)
    finally:
        code = svc.interrupt()
    assert code == 0, (home.parent / "up.log").read_text()
    left = subprocess.run(["pgrep", "-f", str(home)], capture_output=True, text=True)
    assert left.stdout == "", f"left running: {left.stdout}"
