"""The external-database path against a real PostgreSQL that authenticates with passwords
(scram-sha-256 on TCP, as the postgres image and managed servers do), from Debian's server
binaries: the service connects as the application role with the password it generated, and
the audit finds it again; nothing is configured beyond DATABASE_URL."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.app import create_app
from ledger.config import Settings
from ledger.embedded import Anvil, free_port
from tests.conftest import ledger_settings, running_ledger
from tests.helpers import inspection, master_data, register, sign, wait_anchored

pytestmark = [pytest.mark.integration, pytest.mark.req("OPS-4")]

BIN = Path("/usr/lib/postgresql/15/bin")
OWNER_PASSWORD = "owner-pw-for-tests"


def _as_postgres_user(args: list[str]) -> list[str]:
    """initdb and postgres refuse to run as root: run them as an unprivileged user."""
    if os.geteuid() != 0:
        return args
    return ["runuser", "-u", "pgserver", "--", *args]


@pytest.fixture()
def scram_postgres(tmp_path: Path) -> Iterator[str]:
    if not (BIN / "initdb").exists():
        pytest.skip("Debian's PostgreSQL server binaries are not installed")
    data = Path("/tmp") / f"evl-scram-{os.getpid()}-{free_port()}"
    data.mkdir(mode=0o700)
    pwfile = data.parent / f"{data.name}.pw"
    pwfile.write_text(OWNER_PASSWORD + "\n")
    if os.geteuid() == 0:
        shutil.chown(data, "pgserver", "pgserver")
        shutil.chown(pwfile, "pgserver", "pgserver")
    port = free_port()
    subprocess.run(
        _as_postgres_user([str(BIN / "initdb"), "-D", str(data / "db"), "-U", "owner",
                           "--auth=scram-sha-256", f"--pwfile={pwfile}"]),
        check=True, capture_output=True,
    )
    log = data / "log"
    subprocess.run(
        _as_postgres_user([str(BIN / "pg_ctl"), "-D", str(data / "db"), "-l", str(log), "-w",
                           "-o", f"-p {port} -k {data} -c listen_addresses=127.0.0.1",
                           "start"]),
        check=True, capture_output=True,
    )
    url = f"postgresql+psycopg2://owner:{OWNER_PASSWORD}@127.0.0.1:{port}/postgres"
    try:
        yield url
    finally:
        subprocess.run(
            _as_postgres_user([str(BIN / "pg_ctl"), "-D", str(data / "db"), "-m", "fast", "-w",
                               "stop"]),
            capture_output=True,
        )
        shutil.rmtree(data, ignore_errors=True)
        pwfile.unlink(missing_ok=True)


def test_the_service_runs_on_a_password_authenticated_postgres(
    scram_postgres: str, anvil: Anvil, tmp_path: Path
) -> None:
    # Without a password, the application role is refused, as in the postgres image.
    no_password = sa.create_engine(
        sa.make_url(scram_postgres).set(username="evledger_app", password=None))
    settings: Settings = ledger_settings(tmp_path / "home")
    with running_ledger(settings, scram_postgres, anvil) as rt:
        password_file = settings.keys_dir / "app-db.password"
        assert oct(password_file.stat().st_mode & 0o777) == "0o600"
        assert rt.engine.url.username == "evledger_app"
        client = TestClient(create_app(rt.ledger))
        master_data(client, rt)
        inspector = register(client, rt, ("qa_inspector",))
        body = sign(rt, inspection("EXT-PG-1"), inspector)
        assert client.post("/v1/records", json=body).status_code == 201
        wait_anchored(client, "EXT-PG-1")
        with pytest.raises(sa.exc.OperationalError, match="password"):
            with no_password.connect():
                pass
    no_password.dispose()
    # A second start finds the same password (kept in the keys folder) and the same ledger.
    with running_ledger(settings, scram_postgres, anvil) as rt:
        client = TestClient(create_app(rt.ledger))
        assert client.get("/v1/records/EXT-PG-1/receipt").status_code == 200
    # The audit, as an operator runs it next to the service, connects the same way.
    from click.testing import CliRunner

    from api.cli import main

    env = {**os.environ, "DATABASE_URL": scram_postgres, "ETH_RPC_URL": anvil.rpc_url,
           "EVLEDGER_HOME": str(settings.home)}
    out = CliRunner(env=env).invoke(main, ["audit"])
    assert out.exit_code == 0 and "0 finding(s)" in out.output, out.output
