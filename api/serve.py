"""``evledger up``: embedded services (unless configured), the ledger runtime, and the API."""

from __future__ import annotations

import logging
import os
import signal
import threading
from types import FrameType

import click
import uvicorn
from fastapi import FastAPI

from api.app import create_app
from ledger.config import Settings
from ledger.db import make_engine
from ledger.embedded import Anvil, EmbeddedPostgres, Guardian, free_port, port_is_free
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
        web_dist=settings.web_dist,
        public_url=settings.public_url,
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


def _terminate(signum: int, frame: FrameType | None) -> None:
    """SIGTERM (systemd, Docker) stops `evledger up` as Ctrl-C does: everything it started."""
    raise KeyboardInterrupt(f"signal {signum}")


def _anvil_port() -> int:
    """EVLEDGER_ANVIL_PORT when set (a taken port is then an error), else 8545 or, when 8545
    is taken by another process, a free port."""
    explicit = os.environ.get("EVLEDGER_ANVIL_PORT")
    if explicit:
        return int(explicit)
    if port_is_free(8545):
        return 8545
    port = free_port()
    click.echo(f"anvil: port 8545 is taken by another process; the ledger's chain uses {port}")
    return port


class AnvilSupervisor:
    """Restarts the embedded Anvil from its state when it dies, on the same port."""

    def __init__(self, anvil: Anvil, stop: threading.Event, interval: float = 1.0) -> None:
        self.anvil, self.stop, self.interval = anvil, stop, interval
        self.restarts = 0
        self.thread = threading.Thread(target=self._run, name="evledger-anvil", daemon=True)

    def _run(self) -> None:
        while not self.stop.wait(self.interval):
            if self.anvil.alive:
                continue
            code = self.anvil.process.returncode if self.anvil.process else None
            log.warning("anvil: exited (code %s); restarting it from its state", code)
            try:
                self.anvil.stop()
                self.anvil.start()
                self.restarts += 1
                log.warning("anvil: restarted on %s", self.anvil.rpc_url)
            except Exception as exc:  # retried next round; /healthz shows the chain down
                log.error("anvil: restart failed: %s", exc)


def serve(settings: Settings) -> None:
    settings.home.mkdir(parents=True, exist_ok=True)
    signal.signal(signal.SIGTERM, _terminate)
    pg: EmbeddedPostgres | None = None
    anvil: Anvil | None = None
    runtime: Runtime | None = None
    guardian: Guardian | None = None
    stopping = threading.Event()
    try:
        if Guardian.wait_for_previous(settings.home):
            click.echo("waited for the previous run's services to stop (it was killed)")
        db_url = settings.database_url
        if db_url is None:
            pg = EmbeddedPostgres(settings.home / "pgdata").start()
            db_url = pg.url
            click.echo(f"postgres: embedded, data in {settings.home / 'pgdata'}")
        rpc_url = settings.rpc_url
        if rpc_url is None:
            anvil = Anvil(state_dir=settings.home / "anvil", port=_anvil_port()).start()
            rpc_url = anvil.rpc_url
            click.echo(f"anvil: {rpc_url}, state in {settings.home / 'anvil'}")
        if pg is not None or anvil is not None:
            guardian = Guardian(
                settings.home,
                pgdata=settings.home / "pgdata" if pg is not None else None,
                pidfiles=[anvil.pid_file] if anvil is not None and anvil.pid_file else [],
            )
        if anvil is not None:
            AnvilSupervisor(anvil, stopping).thread.start()
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
        stopping.set()
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not cut cleanup
        if runtime is not None:
            runtime.stop()
        if anvil is not None:
            anvil.stop()
        if pg is not None:
            pg.stop()
        if guardian is not None:
            guardian.stop()
        (settings.home / "runtime.json").unlink(missing_ok=True)
        click.echo("stopped")
