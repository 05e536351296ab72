"""The shop-floor distribution installs on a line PC with the verifier alone: the ingesters and
the client library, no server package, and the one command name users know (`evledger`)."""

from __future__ import annotations

import json
import subprocess
import venv
from pathlib import Path

import pytest

from ledger.embedded import repo_root

pytestmark = [pytest.mark.integration, pytest.mark.req("FLOOR-7")]

SERVER_PACKAGES = {
    "web3", "fastapi", "sqlalchemy", "psycopg2-binary", "psycopg", "pgserver", "eth-account",
    "uvicorn", "alembic", "evledger",
}


def test_shop_floor_distribution_installs_and_runs_alone(tmp_path: Path) -> None:
    env_dir = tmp_path / "line-pc-venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    bin_dir = env_dir / "bin"
    # The one documented command (README, "On the shop floor").
    install = subprocess.run(
        [str(bin_dir / "python"), "-m", "pip", "install", "--quiet",
         str(repo_root() / "verifier"), str(repo_root() / "ingest")],
        capture_output=True, text=True, timeout=900, cwd=tmp_path,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    listed = subprocess.run([str(bin_dir / "python"), "-m", "pip", "list", "--format", "json"],
                            capture_output=True, text=True, check=True)
    installed = {p["name"].lower() for p in json.loads(listed.stdout)}
    assert {"evledger-ingest", "evledger-verify", "pyserial", "pymodbus", "biip"} <= installed
    assert not installed & SERVER_PACKAGES, installed & SERVER_PACKAGES
    # The ingest modules import without any server module.
    check = (
        "import sys, ingest.client, ingest.outbox, ingest.scan, ingest.cli;"
        "assert not {'ledger', 'api', 'web3', 'sqlalchemy', 'fastapi', 'eth_account'}"
        " & set(sys.modules), sorted(sys.modules); print('ok')"
    )
    ran = subprocess.run([str(bin_dir / "python"), "-c", check], capture_output=True,
                         text=True, cwd=tmp_path)
    assert ran.returncode == 0 and ran.stdout.strip() == "ok", ran.stderr
    # `evledger` is the shop-floor command here: ingest and keys, not the server's `up`.
    helped = subprocess.run([str(bin_dir / "evledger"), "--help"], capture_output=True,
                            text=True, cwd=tmp_path)
    assert helped.returncode == 0, helped.stderr
    assert "ingest" in helped.stdout and "keys" in helped.stdout
    assert " up " not in helped.stdout
    made = subprocess.run([str(bin_dir / "evledger"), "keys", "new", "--plain", "-o",
                           "station.key"],
                          capture_output=True, text=True, cwd=tmp_path)
    assert made.returncode == 0 and made.stdout.startswith("0x"), made.stderr
    assert (tmp_path / "station.key").stat().st_mode & 0o077 == 0
