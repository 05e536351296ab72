"""Fixtures that start real services: PostgreSQL (pgserver) and Anvil, on free ports and
private data directories, and stop them at the end."""

from __future__ import annotations

import dataclasses
import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.app import create_app
from ledger.config import Settings
from ledger.embedded import Anvil, EmbeddedPostgres
from ledger.runtime import Runtime

# The suite's people sign with plain key files (fast to make and read); that is the explicit
# allowance a CI uses. The keystores the suite makes with `keys new` (the README's blocks) get
# a test-only light scrypt cost. tests/*/test_keystore.py run without either, as a person does.
os.environ.setdefault("EVLEDGER_ALLOW_PLAIN_KEYS", "1")
os.environ.setdefault("EVLEDGER_TEST_SCRYPT_N", "1024")


def _private_dir(prefix: str) -> Path:
    # Keep data dirs out of /root: pgserver opens permissions on every parent folder.
    return Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))


@pytest.fixture(scope="session")
def anvil() -> Iterator[Anvil]:
    """One Anvil for the session, on a free port, with no persisted state."""
    node = Anvil()
    node.start()
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[EmbeddedPostgres]:
    server = EmbeddedPostgres(_private_dir("evledger-pg-"), cleanup_mode="delete")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def fresh_database(pg_server: EmbeddedPostgres) -> Iterator[str]:
    """A fresh, empty database in the session's PostgreSQL, dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(pg_server.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield pg_server.url.replace("/postgres?", f"/{name}?")
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def ledger_settings(home: Path) -> Settings:
    """Settings for an in-process ledger whose keys live in ``home``; fast sealing."""
    return dataclasses.replace(
        Settings.from_env(), home=home, seal_interval=0.05, anchor_interval=0.1, confirmations=1
    )


@contextmanager
def running_ledger(settings: Settings, database_url: str, anvil: Anvil) -> Iterator[Runtime]:
    """A whole ledger (a fresh contract on the session Anvil) with sealer and anchorer."""
    rt = Runtime.open(settings, database_url, anvil.rpc_url)
    rt.start_workers()
    try:
        yield rt
    finally:
        rt.stop()


@pytest.fixture()
def own_chain(tmp_path: Path) -> Iterator[Anvil]:
    """An Anvil of the test's own (to stop, restart, reorganize or pause), state kept."""
    chain = Anvil(state_dir=tmp_path / "own-anvil").start()
    try:
        yield chain
    finally:
        chain.stop()


@pytest.fixture()
def database_url(pg_server: EmbeddedPostgres) -> Iterator[str]:
    with fresh_database(pg_server) as url:
        yield url


@pytest.fixture()
def settings(tmp_path: Path) -> Settings:
    return ledger_settings(tmp_path / "home")


@pytest.fixture()
def runtime(settings: Settings, database_url: str, anvil: Anvil) -> Iterator[Runtime]:
    """A whole ledger on a fresh database. ``runtime.admin_key_path`` holds the admin key."""
    with running_ledger(settings, database_url, anvil) as rt:
        yield rt


@pytest.fixture()
def client(runtime: Runtime) -> Iterator[TestClient]:
    """The real FastAPI app over the real ledger, called in-process."""
    with TestClient(create_app(runtime.ledger, runtime.settings.max_body_bytes)) as c:
        yield c


@pytest.fixture(scope="module")
def module_runtime(
    tmp_path_factory: pytest.TempPathFactory, pg_server: EmbeddedPostgres, anvil: Anvil
) -> Iterator[Runtime]:
    """One ledger shared by a whole module (for sweeps of hundreds of cases)."""
    home = tmp_path_factory.mktemp("evledger") / "home"
    with fresh_database(pg_server) as url, running_ledger(ledger_settings(home), url, anvil) as rt:
        yield rt


@pytest.fixture(scope="module")
def module_client(module_runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(module_runtime.ledger, module_runtime.settings.max_body_bytes)) as c:
        yield c


@pytest.fixture()
def api_url(runtime: Runtime) -> Iterator[str]:
    """The real app over the ``runtime`` ledger, served by uvicorn on a free port."""
    import threading
    import time

    import uvicorn

    from ledger.embedded import free_port

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(
        create_app(runtime.ledger), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture()
def specs(client: TestClient, runtime: Runtime) -> tuple[Any, Any]:
    """The ledger holds what the helpers' inspections cite: an approved specification per
    stage and a calibrated instrument (tests.helpers.master_data); (author, approver)."""
    from tests.helpers import master_data

    return master_data(client, runtime)


@pytest.fixture(scope="module")
def module_specs(module_client: TestClient, module_runtime: Runtime) -> tuple[Any, Any]:
    from tests.helpers import master_data

    return master_data(module_client, module_runtime)
