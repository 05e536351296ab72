"""`evledger-verify` never shows a traceback: hostile files (a 5,000-digit integer, deep
nesting, bytes that are not UTF-8, a huge file) in the receipt, the trust file, the record or
the promise give exit 2 with a message, in text and in --json (where stdout stays one JSON
object); the same under fuzzing of the in-process entry point."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from evledger_verify.checkpoint import verifier_key_string
from evledger_verify.cli import main
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = [pytest.mark.integration, pytest.mark.req("RCPT-3")]

CLI = Path(sys.executable).parent / "evledger-verify"
HOSTILE = {
    "a 5,000-digit integer": b'{"format": "evledger-receipt/1", "leaf_index": ' + b"9" * 5000
    + b"}",
    "deep nesting": b"[" * 100_000 + b"]" * 100_000,
    "not UTF-8": b'{"format": "\xff\xfe"}',
    "NaN": b'{"tree_size": NaN}',
    "duplicate keys": b'{"format": 1, "format": 2}',
    "huge": b'{"x": "' + b"a" * 600_000 + b'"}',
    "empty": b"",
}
ORIGIN = "evledger/31337/0x" + "11" * 20
GOOD_TRUST = {
    "format": "evledger-trust/1", "log_origin": ORIGIN,
    "log_public_key": verifier_key_string(ORIGIN, Ed25519PrivateKey.generate().public_key()
                                          .public_bytes(Encoding.Raw, PublicFormat.Raw)),
    "chain_id": 31337, "contract": "0x" + "11" * 20,
}


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(CLI), *args], capture_output=True, text=True, timeout=60)


def test_the_good_files_get_past_reading(tmp_path: Path) -> None:
    """The control: with these trust and receipt files the verifier reads both and fails the
    receipt's format check (exit 1), so each hostile file below is what gives exit 2."""
    (tmp_path / "r.json").write_text(json.dumps({"format": "evledger-receipt/1"}))
    (tmp_path / "t.json").write_text(json.dumps(GOOD_TRUST))
    done = run("receipt", str(tmp_path / "r.json"), "--trust", str(tmp_path / "t.json"))
    assert done.returncode == 1 and "format" in done.stdout, (done.stdout, done.stderr)


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
@pytest.mark.parametrize("where", ["receipt", "trust", "record", "promise"])
@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_files_are_exit_2_with_a_message(
    tmp_path: Path, name: str, where: str, as_json: bool
) -> None:
    hostile = tmp_path / "hostile.json"
    hostile.write_bytes(HOSTILE[name])
    good_receipt = tmp_path / "receipt.json"
    good_receipt.write_text(json.dumps({"format": "evledger-receipt/1"}))
    trust = tmp_path / "trust.json"
    trust.write_text(json.dumps(GOOD_TRUST))
    if where == "promise":
        args = ["promise", str(hostile), "--trust", str(trust)]
    else:
        args = ["receipt", str(hostile if where == "receipt" else good_receipt),
                "--trust", str(hostile if where == "trust" else trust)]
        if where == "record":
            args += ["--record", str(hostile)]
    done = run(*args, *(["--json"] if as_json else []))
    assert "Traceback" not in done.stdout + done.stderr, done.stderr
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    if as_json:
        answer = json.loads(done.stdout)
        assert answer["verified"] is False and answer["error"], answer
    else:
        assert "could not check" in done.stderr, done.stderr


@given(st.binary(max_size=2000))
@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_fuzzed_receipts_never_escape(tmp_path: Path, data: bytes) -> None:
    receipt = tmp_path / "fuzz.json"
    receipt.write_bytes(data)
    trust = tmp_path / "trust.json"
    trust.write_text(json.dumps(GOOD_TRUST))
    for extra in ([], ["--json"]):
        assert main(["receipt", str(receipt), "--trust", str(trust), *extra]) in (1, 2)
