"""Fixtures shared by integration modules."""

from __future__ import annotations

import json
import subprocess
import venv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.app import create_app
from ledger.embedded import repo_root
from ledger.runtime import Runtime
from tests.helpers import register
from tests.integration.test_rules_replay import Plant


@pytest.fixture()
def plant(
    client: TestClient, runtime: Runtime, database_url: str, specs: Any
) -> Iterator[Plant]:
    """Two QA signers on a ledger that holds the master data their inspections cite."""
    inspector = register(client, runtime, ("qa_inspector",), "Ivy Inspector")
    approver = register(client, runtime, ("qa_approver",), "Quinn Approver")
    engine = sa.create_engine(database_url)
    yield Plant(runtime, TestClient(create_app(runtime.ledger)), engine, inspector, approver)
    engine.dispose()


@pytest.fixture(scope="session")
def auditor_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clean virtual environment with the verifier installed alone (`pip install ./verifier`,
    the command the README gives auditors): its folder."""
    env_dir = tmp_path_factory.mktemp("auditor") / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    install = subprocess.run(
        [str(env_dir / "bin" / "python"), "-m", "pip", "install", "--quiet",
         str(repo_root() / "verifier")],
        capture_output=True, text=True, timeout=600,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    listed = subprocess.run([str(env_dir / "bin" / "python"), "-m", "pip", "list", "--format",
                             "json"], capture_output=True, text=True, check=True)
    assert "evledger-verify" in {p["name"].lower() for p in json.loads(listed.stdout)}
    return env_dir
