"""`evledger selftest` (issue 16, installation qualification) against a real `evledger up`:
it passes on a running installation as `make run` starts it, and fails, naming the cause,
when the application role may UPDATE evidence, when a key file is readable by others, and when
the trust file names another log key. Bad input and no running ledger: exit 2."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from evledger_verify.checkpoint import verifier_key_string

from ledger.embedded import Anvil
from ledger.selftest import checkout_root, find_lockfile, installed_versions, read_lockfile
from tests.integration.test_external_postgres import scram_postgres as _scram_postgres
from tests.integration.test_quickstart import BIN, Service, new_service, stop_orphaned_postgres

pytestmark = [pytest.mark.integration, pytest.mark.req("IQ-1")]


@pytest.fixture(scope="module")
def svc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    service = new_service(tmp_path_factory.mktemp("selftest"))
    service.start()
    try:
        yield service
    finally:
        if service.process and service.process.poll() is None:
            service.interrupt()
        stop_orphaned_postgres(service.home)


def installed_lock(folder: Path) -> Path:
    """A lockfile of exactly what is installed (uv's form), so that these tests see the other
    checks whatever state this machine's venv is in; the checkout's lock is
    test_versions_against_the_checkout_lock's."""
    path = folder / "requirements-installed.lock"
    path.write_text(
        "".join(
            f"{name}=={version} \\\n    --hash=sha256:{'0' * 64}\n"
            for name, version in sorted(installed_versions().items())
        )
    )
    return path


@pytest.fixture(scope="module")
def lockfile(svc: Service) -> Path:
    return installed_lock(svc.home.parent)


@pytest.fixture(scope="module")
def trust_file(svc: Service) -> Path:
    path = svc.home.parent / "trust.json"
    done = subprocess.run(
        [str(BIN / "evledger"), "trust", "-o", str(path)],
        env=svc.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return path


def selftest(
    svc: Service, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "evledger"), "selftest", *args],
        env=env or svc.env,
        cwd=svc.home.parent,
        capture_output=True,
        text=True,
        timeout=300,
    )


def results(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(done.stdout)
    return out


def by_name(report: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [c for c in report["checks"] if c["check"] == name]


def superuser(svc: Service) -> sa.Engine:
    """The embedded PostgreSQL's superuser (trust authentication), as a local user may be."""
    url = json.loads((svc.home / "runtime.json").read_text())["database_url"]
    return sa.create_engine(
        sa.make_url(url).set(username="postgres", password=None), isolation_level="AUTOCOMMIT"
    )


def test_passes_on_a_running_installation(svc: Service, lockfile: Path, trust_file: Path) -> None:
    done = selftest(svc, "--lockfile", str(lockfile), "--trust", str(trust_file))
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    names = [
        "versions",
        "key files",
        "database role",
        "triggers",
        "chain identity",
        "log key",
        "clock: database",
        "clock: chain",
        "round trip",
    ]
    for name in names:
        assert any(line.startswith("ok") and f" {name} " in line for line in lines), (name, lines)
    assert not any(line.startswith("FAIL") for line in lines), lines
    # What is fine on a laptop and not in a plant: the embedded database and Anvil.
    assert any(line.startswith("warn") and "db superuser" in line for line in lines), lines
    assert any(line.startswith("warn") and "chain admin" in line for line in lines), lines
    assert any(line.startswith("ok") and "api binding" in line for line in lines), lines
    assert "selftest: all checks passed" in lines[-1]
    assert "report logged as record selftest-" in lines[-1]

    # The same as JSON, and the report is a signed record in the ledger, anchored.
    done = selftest(svc, "--json", "--lockfile", str(lockfile))
    assert done.returncode == 0, done.stdout + done.stderr
    report = results(done)
    assert report["ok"] is True and report["failures"] == []
    assert {c["status"] for c in report["checks"]} <= {"ok", "warn"}
    # The receipt verifies with the auditor's own tool, on the node too.
    receipt = svc.home.parent / "selftest-receipt.json"
    rpc = json.loads((svc.home / "runtime.json").read_text())["rpc_url"]
    done = svc.run(
        f"evledger receipt {report['record_id']} -o {receipt} && "
        f"evledger-verify receipt {receipt} --trust {trust_file} --rpc {rpc}",
        svc.home.parent,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "VERIFIED" in done.stdout


def test_fails_when_the_app_role_may_update_records(svc: Service, lockfile: Path) -> None:
    engine = superuser(svc)
    with engine.connect() as conn:
        conn.execute(sa.text("GRANT UPDATE ON records TO evledger_app"))
    try:
        done = selftest(svc, "--json", "--lockfile", str(lockfile))
    finally:
        with engine.connect() as conn:
            conn.execute(sa.text("REVOKE UPDATE ON records FROM evledger_app"))
        engine.dispose()
    assert done.returncode == 1, done.stdout + done.stderr
    report = results(done)
    assert report["failures"] == ["database role"]
    (role,) = by_name(report, "database role")
    assert role["status"] == "FAIL"
    assert "evledger_app is granted UPDATE on records" in role["detail"]


def test_fails_when_a_key_file_is_world_readable(svc: Service, lockfile: Path) -> None:
    key = svc.home / "keys" / "anchorer.key"
    key.chmod(0o644)
    try:
        done = selftest(svc, "--lockfile", str(lockfile))
    finally:
        key.chmod(0o600)
    assert done.returncode == 1, done.stdout + done.stderr
    fail = [line for line in done.stdout.splitlines() if line.startswith("FAIL")]
    assert len(fail) == 1, done.stdout
    assert "key files" in fail[0]
    assert f"{key} is mode 0o644: run chmod 600 {key}" in fail[0]
    assert "FAILED: key files" in done.stdout.splitlines()[-1]


def test_fails_when_the_trust_file_names_another_key(
    svc: Service, lockfile: Path, trust_file: Path
) -> None:
    trust = json.loads(trust_file.read_text())
    other = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    trust["log_public_key"] = verifier_key_string(trust["log_origin"], other)
    forged = svc.home.parent / "other-trust.json"
    forged.write_text(json.dumps(trust))
    done = selftest(svc, "--json", "--lockfile", str(lockfile), "--trust", str(forged))
    assert done.returncode == 1, done.stdout + done.stderr
    report = results(done)
    assert report["failures"] == ["log key"]
    (log_key,) = by_name(report, "log key")
    assert f"trust file {forged} names another log key" in log_key["detail"]


def test_versions_against_the_checkout_lock(svc: Service) -> None:
    """Without --lockfile, the checkout's requirements-dev.lock (what `make setup` installs):
    ok exactly when every installed distribution it pins is at its pinned version, else a
    failure naming each one that differs."""
    lock = find_lockfile(checkout_root())
    assert lock is not None and lock.name == "requirements-dev.lock"
    pins, hashed = read_lockfile(lock)
    assert hashed and len(pins) > 50
    installed = installed_versions()
    differ = sorted(n for n, v in pins.items() if n in installed and installed[n] != v)
    done = selftest(svc, "--json")
    report = results(done)
    versions = by_name(report, "versions")[0]
    assert versions["detail"].startswith(f"requirements-dev.lock: {len(pins)} pins")
    if differ:
        assert done.returncode == 1 and versions["status"] == "FAIL"
        for name in differ:
            assert f"{name} {installed[name]} (locked {pins[name]})" in versions["detail"]
    else:
        assert done.returncode == 0, done.stdout
        assert versions["status"] == "ok"


def test_a_lock_that_pins_another_version_fails(svc: Service, tmp_path: Path) -> None:
    """Versions are checked against the named lockfile; one that pins another version fails."""
    pinned = tmp_path / "requirements.lock"
    pinned.write_text("httpx==0.0.1 \\\n    --hash=sha256:" + "0" * 64 + "\n")
    done = selftest(svc, "--json", "--lockfile", str(pinned))
    assert done.returncode == 1
    (versions, *_) = by_name(results(done), "versions")
    assert versions["status"] == "FAIL"
    assert "httpx" in versions["detail"] and "(locked 0.0.1)" in versions["detail"]


def test_bad_input_and_no_running_ledger(svc: Service, tmp_path: Path) -> None:
    done = selftest(svc, "--no-such-option")
    assert done.returncode == 2
    assert "No such option" in done.stderr

    done = selftest(svc, "--wait", "-3")
    assert done.returncode == 2

    env = {k: v for k, v in svc.env.items() if k not in ("EVLEDGER_API_URL",)}
    env["EVLEDGER_HOME"] = str(tmp_path / "nothing" / ".evledger")
    done = selftest(svc, env=env)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "selftest: no running ledger here" in done.stderr
    assert "make run" in done.stderr

    # A runtime.json that a killed service left behind: its API does not answer.
    home = tmp_path / "stale" / ".evledger"
    (home / "keys").mkdir(parents=True)
    runtime = json.loads((svc.home / "runtime.json").read_text())
    runtime["api_url"] = "http://127.0.0.1:9"
    (home / "runtime.json").write_text(json.dumps(runtime))
    (home / "keys" / "app-db.password").write_text("x\n")
    os.chmod(home / "keys" / "app-db.password", 0o600)
    env["EVLEDGER_HOME"] = str(home)
    done = selftest(svc, env=env)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "does not answer" in done.stderr


def test_fails_when_an_append_only_trigger_is_disabled(svc: Service, lockfile: Path) -> None:
    engine = superuser(svc)
    with engine.connect() as conn:
        conn.execute(sa.text("ALTER TABLE records DISABLE TRIGGER records_append_only"))
    try:
        done = selftest(svc, "--json", "--lockfile", str(lockfile))
    finally:
        with engine.connect() as conn:
            conn.execute(sa.text("ALTER TABLE records ENABLE TRIGGER records_append_only"))
        engine.dispose()
    assert done.returncode == 1, done.stdout + done.stderr
    report = results(done)
    assert report["failures"] == ["triggers"]
    (triggers,) = by_name(report, "triggers")
    assert "records_append_only is disabled" in triggers["detail"]


def test_fails_on_a_chain_without_the_ledgers_contract(
    svc: Service, lockfile: Path, anvil: Anvil
) -> None:
    """ETH_RPC_URL names another node (same chain id, no contract there): the chain identity
    fails, and so does the round trip's check of the anchor on that node."""
    done = selftest(
        svc, "--json", "--lockfile", str(lockfile), env={**svc.env, "ETH_RPC_URL": anvil.rpc_url}
    )
    assert done.returncode == 1, done.stdout + done.stderr
    report = results(done)
    assert "chain identity" in report["failures"]
    (chain,) = by_name(report, "chain identity")
    assert "found no code" in chain["detail"]


scram_postgres = _scram_postgres  # a PostgreSQL that asks for passwords (fixture)


def test_a_password_authenticated_database_gets_no_superuser_warning(
    scram_postgres: str, anvil: Anvil, tmp_path: Path
) -> None:
    """`evledger up` on DATABASE_URL (scram-sha-256, as in a plant): selftest finds the app
    role's password in the keys folder and passes; no superuser gets in without a password."""
    service = new_service(tmp_path, DATABASE_URL=scram_postgres, ETH_RPC_URL=anvil.rpc_url)
    service.start()
    try:
        done = selftest(service, "--json", "--lockfile", str(installed_lock(tmp_path)))
    finally:
        service.interrupt()
    report = results(done)
    assert done.returncode == 0, done.stdout
    (su,) = by_name(report, "db superuser")
    assert su["status"] == "ok", su
