"""People's keys as keystore v3 files, through the `evledger` CLI against a real service (a
process of its own where a terminal or the environment matters, else in-process as
test_cli.py runs it): made by `keys new` (geth's standard scrypt, opened by cast too) or by
cast, opened with a password from a file, the environment or the terminal (not echoed); every
refusal (wrong password, no way to ask, open to others, malformed, oversized, a plain file
without the explicit allowance) exits 2 with a clear message and submits nothing. The demo
(whose people get keystores) runs in test_cli.py."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from api.cli import main
from ingest.client import Passwords, SigningKey, new_key, new_keystore
from ledger.embedded import repo_root
from ledger.runtime import Runtime

pytestmark = [pytest.mark.integration, pytest.mark.req("P11-10d-3")]

EVLEDGER = repo_root() / ".venv" / "bin" / "evledger"
CAST = repo_root() / "node_modules" / ".bin" / "cast"
PASSWORD = "correct horse battery"
#: Light scrypt for keystores the refusals need (test-only); `keys new` writes the standard.
LIGHT_N = 1 << 10


@pytest.fixture()
def env(api_url: str, runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
        ) -> dict[str, str]:
    """A person's shell: the service, no password file and no plain-key allowance set."""
    monkeypatch.chdir(tmp_path)
    unset = ("EVLEDGER_ALLOW_PLAIN_KEYS", "EVLEDGER_KEY_PASSWORD_FILE", "EVLEDGER_TEST_SCRYPT_N")
    base = {k: v for k, v in os.environ.items() if k not in unset}
    return {**base, "EVLEDGER_API_URL": api_url, "EVLEDGER_HOME": str(runtime.settings.home)}


def run(env: dict[str, str], *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    """`evledger ARGS` as a process of its own, with no terminal."""
    return subprocess.run([str(EVLEDGER), *args], env={**env, **extra}, cwd=os.getcwd(),
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)


def invoke(env: dict[str, str], *args: str, **extra: str | None) -> Any:
    """`evledger ARGS` in-process (CliRunner: stdin is no terminal); ``extra`` None unsets."""
    changed = {k: env.get(k) for k in ("EVLEDGER_API_URL", "EVLEDGER_HOME")}
    unset = dict.fromkeys(
        ("EVLEDGER_ALLOW_PLAIN_KEYS", "EVLEDGER_KEY_PASSWORD_FILE", "EVLEDGER_TEST_SCRYPT_N"))
    return CliRunner(env={**unset, **changed, **extra}).invoke(main, list(args))


def records(api_url: str) -> int:
    return int(httpx.get(f"{api_url}/v1/status").json()["records"])


def change(change_id: str) -> Path:
    path = Path(f"{change_id}.json")
    path.write_text(json.dumps({
        "record_id": f"{change_id}-requested", "type": "change", "schema": "change/1",
        "change_id": change_id, "step": "requested", "reason": "Keystore test",
        "description": "A change request signed with a keystore"}))
    return path


def secret_file(name: str, text: str, mode: int = 0o600) -> Path:
    path = Path(name)
    path.write_text(text)
    path.chmod(mode)
    return path


def register(env: dict[str, str], address: str, name: str) -> None:
    """By the bootstrap admin key `evledger up` wrote (the service's own plain key)."""
    done = invoke(env, "signers", "add", "--address", address, "--name", name,
                  "--role", "qa_inspector")
    assert done.exit_code == 0, done.output


def light_keystore(name: str) -> SigningKey:
    return new_keystore(Path(name), Passwords(secret_file("light.pw", PASSWORD + "\n")),
                        scrypt_n=LIGHT_N)


def test_person_signs_with_a_keystore(env: dict[str, str], api_url: str) -> None:
    """`keys new` writes geth's standard keystore (cast opens it); submit and read with it,
    the password from --password-file or $EVLEDGER_KEY_PASSWORD_FILE."""
    pw = secret_file("dana.pw", PASSWORD + "\n")
    made = run(env, "keys", "new", "-o", "dana.json", "--password-file", str(pw))
    assert made.returncode == 0, made.stderr
    address = made.stdout.strip()
    assert re.fullmatch(r"0x[0-9a-fA-F]{40}", address)
    assert Path("dana.json").stat().st_mode & 0o777 == 0o600
    params = json.loads(Path("dana.json").read_text())["crypto"]["kdfparams"]
    assert (params["n"], params["r"], params["p"]) == (1 << 18, 8, 1)
    assert PASSWORD not in made.stdout + made.stderr
    cast = subprocess.run([str(CAST), "wallet", "address", "--keystore", "dana.json",
                           "--password-file", str(pw)], capture_output=True, text=True,
                          timeout=60)
    assert cast.returncode == 0 and cast.stdout.strip() == address, cast.stderr
    register(env, address, "Dana Keystore")
    done = run(env, "submit", str(change("KS-1")), "--key", "dana.json", "--password-file",
               str(pw))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "accepted"
    shown = run(env, "record", "KS-1-requested", "--key", "dana.json",
                EVLEDGER_KEY_PASSWORD_FILE=str(pw))
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["signature"]["printed_name"] == "Dana Keystore"


def test_refusals_submit_nothing(env: dict[str, str], api_url: str) -> None:
    light_keystore("k.json")
    record = str(change("KS-NO"))
    Path("open.json").write_bytes(Path("k.json").read_bytes())
    Path("open.json").chmod(0o640)
    secret_file("bad.json", "{nope")
    secret_file("big.json", "{" + " " * 20_000 + "}")
    secret_file("plain.key", "0x" + "ab" * 32 + "\n")
    wrong = secret_file("wrong.pw", "not it\n")
    good = secret_file("good.pw", PASSWORD + "\n")
    before = records(api_url)
    cases: list[tuple[list[str], dict[str, str], str]] = [
        (["--key", "k.json", "--password-file", str(wrong)], {},
         "signing key: wrong password for keystore k.json"),
        (["--key", "k.json"], {"EVLEDGER_KEY_PASSWORD_FILE": str(wrong)},
         "wrong password for keystore k.json"),
        (["--key", "k.json"], {}, "needs its password and there is no terminal to ask on"),
        (["--key", "open.json", "--password-file", str(good)], {}, "readable by others"),
        (["--key", "bad.json", "--password-file", str(good)], {},
         "bad.json is not a usable keystore v3 file: not valid JSON"),
        (["--key", "big.json", "--password-file", str(good)], {},
         "big.json is not a usable keystore v3 file: expected at most 16384 bytes"),
        (["--key", "plain.key"], {}, "plain.key is a plain (unencrypted) key file"),
        (["--key", "plain.key"], {"EVLEDGER_ALLOW_PLAIN_KEYS": "0"}, "--allow-plain-key"),
    ]
    for args, extra, message in cases:
        done = invoke(env, "submit", record, *args, **extra)
        assert done.exit_code == 2, (args, done.output)
        assert message in done.output, (args, done.output)
        assert "Traceback" not in done.output and PASSWORD not in done.output
    # a read token is made the same way, and refused the same way
    token = invoke(env, "token", "--key", "k.json", "--password-file", str(wrong))
    assert token.exit_code == 2 and "wrong password for keystore" in token.output
    made = invoke(env, "keys", "new", "-o", "new.json")
    assert made.exit_code == 2 and "no terminal to ask on" in made.output, made.output
    assert "(a device's key: --plain)" in made.output and not Path("new.json").exists()
    # a process of its own without a terminal: the same refusal, the same exit code
    alone = run(env, "submit", record, "--key", "k.json")
    assert alone.returncode == 2 and "no terminal to ask on" in alone.stderr, alone.stderr
    assert records(api_url) == before


def test_plain_key_files_only_by_explicit_choice(env: dict[str, str], api_url: str) -> None:
    key = new_key(Path("device.key"))
    register(env, key.address, "Plain Person")
    refused = invoke(env, "submit", str(change("KS-P1")), "--key", "device.key")
    assert refused.exit_code == 2 and "plain (unencrypted)" in refused.output
    flag = invoke(env, "submit", str(change("KS-P1")), "--key", "device.key", "--allow-plain-key")
    assert flag.exit_code == 0 and '"accepted"' in flag.output, flag.output
    by_env = invoke(env, "submit", str(change("KS-P2")), "--key", "device.key",
                    EVLEDGER_ALLOW_PLAIN_KEYS="1")
    assert by_env.exit_code == 0 and '"accepted"' in by_env.output, by_env.output
    # a device's key is made plain only when asked for
    made = invoke(env, "keys", "new", "--plain", "-o", "station.key")
    assert made.exit_code == 0 and Path("station.key").read_text().startswith("0x")
    # and a person's plain key becomes a keystore with the same address (light: test-only)
    pw = secret_file("conv.pw", PASSWORD + "\n")
    moved = invoke(env, "keys", "encrypt", "device.key", "-o", "person.json", "--password-file",
                   str(pw), EVLEDGER_TEST_SCRYPT_N="1024")
    assert moved.exit_code == 0 and key.address in moved.output, moved.output
    again = invoke(env, "submit", str(change("KS-P3")), "--key", "person.json",
                   EVLEDGER_KEY_PASSWORD_FILE=str(pw))
    assert again.exit_code == 0 and '"accepted"' in again.output, again.output


def test_keystore_written_by_cast(env: dict[str, str], api_url: str) -> None:
    """cast's own keystore (scrypt n=2^13) signs here; cast writes it readable by others,
    which is refused until it is made private."""
    Path("cast-keys").mkdir()
    made = subprocess.run([str(CAST), "wallet", "new", "cast-keys", "--unsafe-password",
                           PASSWORD], capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    address = re.search(r"Address:\s+(0x[0-9a-fA-F]{40})", made.stdout).group(1)  # type: ignore[union-attr]
    (keyfile,) = Path("cast-keys").iterdir()
    register(env, address, "Casey Cast")
    pw = secret_file("cast.pw", PASSWORD + "\n")
    keyfile.chmod(0o644)
    opened = invoke(env, "submit", str(change("KS-C1")), "--key", str(keyfile),
                    "--password-file", str(pw))
    assert opened.exit_code == 2 and "readable by others" in opened.output, opened.output
    keyfile.chmod(0o600)
    done = invoke(env, "submit", str(change("KS-C1")), "--key", str(keyfile),
                  "--password-file", str(pw))
    assert done.exit_code == 0, done.output
    assert json.loads(done.output)["signer"] == address


def _on_terminal(env: dict[str, str], args: list[str], answers: list[str]) -> tuple[int, str]:
    """Run evledger on a pseudo-terminal of its own (no other controlling terminal), typing
    ``answers`` at each password prompt; returns the exit code and everything it showed."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([str(EVLEDGER), *args], env=env, cwd=os.getcwd(), stdin=slave,
                            stdout=slave, stderr=slave, start_new_session=True)
    os.close(slave)
    shown, todo = b"", list(answers)
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # EIO: the process closed the terminal
                    break
                if not chunk:
                    break
                shown += chunk
                if todo and shown.count(b"Password for keystore") > len(answers) - len(todo):
                    os.write(master, todo.pop(0).encode() + b"\n")
            elif proc.poll() is not None:
                break
        return proc.wait(timeout=60), shown.decode(errors="replace")
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_terminal_prompts_without_echo(env: dict[str, str], api_url: str) -> None:
    """No password file: `keys new` asks twice on the terminal, a read token once; what is
    typed is not shown. (Light scrypt: the standard one is opened above.)"""
    env = {**env, "EVLEDGER_TEST_SCRYPT_N": "1024"}
    code, shown = _on_terminal(env, ["keys", "new", "-o", "tty.json"], [PASSWORD, PASSWORD])
    assert code == 0, shown
    assert shown.count("Password for keystore tty.json") == 2, shown
    assert PASSWORD not in shown
    address = re.search(r"0x[0-9a-fA-F]{40}", shown).group(0)  # type: ignore[union-attr]
    register(env, address, "Terry Terminal")
    code, shown = _on_terminal(env, ["token", "--key", "tty.json"], [PASSWORD])
    assert code == 0, shown
    assert shown.count("Password for keystore tty.json") == 1 and PASSWORD not in shown
    assert address in shown  # the token names its signer
    # several records in one command: one password, asked once
    first, second = change("KS-T1"), change("KS-T2")
    code, shown = _on_terminal(env, ["submit", str(first), str(second), "--key", "tty.json"],
                               [PASSWORD])
    assert code == 0 and shown.count('"accepted"') == 2, shown
    assert shown.count("Password for keystore tty.json") == 1 and PASSWORD not in shown
    code, shown = _on_terminal(env, ["token", "--key", "tty.json"], ["not it"])
    assert code == 2 and "wrong password for keystore tty.json" in shown, shown
    code, shown = _on_terminal(env, ["keys", "new", "-o", "two.json"], ["one", "two"])
    assert code == 2 and "the two passwords differ" in shown and not Path("two.json").exists()
