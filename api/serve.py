"""``evledger up``: embedded services (unless configured), the ledger runtime, and the API."""

from __future__ import annotations

import logging
import os

import click
import uvicorn
from fastapi import FastAPI

from api.app import create_app
from ledger.config import Settings
from ledger.db import make_engine
from ledger.embedded import Anvil, EmbeddedPostgres
from ledger.errors import ConfigError
from ledger.identity import Identity
from ledger.runtime import Runtime, write_runtime_file
from ledger.service import Ledger

log = logging.getLogger("evledger")
#: How `evledger up` tells its API worker processes where the database is (app role).
_WORKER_DB_ENV = "EVLEDGER_WORKER_DATABASE_URL"


def app_for(settings: Settings, ledger: Ledger) -> FastAPI:
    return create_app(
        ledger,
        settings.max_body_bytes,
        max_batch_items=settings.max_batch_items,
        max_batch_bytes=settings.max_batch_bytes,
    )


def worker_app() -> FastAPI:
    """The API of one worker process (``EVLEDGER_API_WORKERS`` > 1): the same ledger, its own
    connections; the sealer and anchorer run once, in the process that started the workers."""
    settings = Settings.from_env()
    engine = make_engine(os.environ[_WORKER_DB_ENV])
    with engine.connect() as conn:
        identity = Identity.load(conn)
    if identity is None:
        raise ConfigError("api worker: the database holds no ledger")
    return app_for(settings, Ledger.from_settings(engine, identity, settings))


def serve(settings: Settings) -> None:
    settings.home.mkdir(parents=True, exist_ok=True)
    pg: EmbeddedPostgres | None = None
    anvil: Anvil | None = None
    runtime: Runtime | None = None
    try:
        db_url = settings.database_url
        if db_url is None:
            pg = EmbeddedPostgres(settings.home / "pgdata").start()
            db_url = pg.url
            click.echo(f"postgres: embedded, data in {settings.home / 'pgdata'}")
        rpc_url = settings.rpc_url
        if rpc_url is None:
            port = int(os.environ.get("EVLEDGER_ANVIL_PORT", "8545"))
            anvil = Anvil(state_dir=settings.home / "anvil", port=port).start()
            rpc_url = anvil.rpc_url
            click.echo(f"anvil: {rpc_url}, state in {settings.home / 'anvil'}")
        runtime = Runtime.open(settings, db_url, rpc_url)
        if runtime.admin_created:
            click.echo(f"bootstrap admin key written to {runtime.admin_key_path} (mode 0600)")
        api_url = f"http://{settings.host}:{settings.port}"
        write_runtime_file(
            settings.home,
            {
                "api_url": api_url,
                "rpc_url": rpc_url,
                # The application role's URL (read and append only); no password is written here.
                "database_url": runtime.engine.url.render_as_string(hide_password=True),
                "pid": os.getpid(),
            },
        )
        ident = runtime.ledger.identity
        click.echo(f"ledger: contract {ident.contract} on chain {ident.chain_id}")
        click.echo(f"log: {ident.log_public_key}")
        workers = settings.api_workers
        click.echo(
            f"api: {api_url}"
            + (f" ({workers} worker processes)" if workers > 1 else "")
            + " (Ctrl-C stops everything)"
        )
        runtime.start_workers()
        if workers > 1:
            os.environ[_WORKER_DB_ENV] = runtime.engine.url.render_as_string(hide_password=False)
            uvicorn.run(
                "api.serve:worker_app",
                factory=True,
                workers=workers,
                host=settings.host,
                port=settings.port,
                log_level="warning",
                access_log=False,
            )
        else:
            server = uvicorn.Server(
                uvicorn.Config(
                    app_for(settings, runtime.ledger),
                    host=settings.host,
                    port=settings.port,
                    log_level="warning",
                    access_log=False,
                )
            )
            server.run()
    finally:
        if runtime is not None:
            runtime.stop()
        if anvil is not None:
            anvil.stop()
        if pg is not None:
            pg.stop()
        (settings.home / "runtime.json").unlink(missing_ok=True)
        click.echo("stopped")
