"""``evledger up``: embedded services (unless configured), the ledger runtime, and the API."""

from __future__ import annotations

import logging
import os

import click
import uvicorn

from api.app import create_app
from ledger.config import Settings
from ledger.embedded import Anvil, EmbeddedPostgres
from ledger.runtime import Runtime, write_runtime_file

log = logging.getLogger("evledger")


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
        click.echo(f"api: {api_url} (Ctrl-C stops everything)")
        runtime.start_workers()
        app = create_app(
            runtime.ledger,
            settings.max_body_bytes,
            max_batch_items=settings.max_batch_items,
            max_batch_bytes=settings.max_batch_bytes,
        )
        server = uvicorn.Server(
            uvicorn.Config(
                app,
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
