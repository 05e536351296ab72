"""Engine creation and migrations (Alembic, run programmatically)."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from ledger.errors import ConfigError

__all__ = ["APP_ROLE", "app_url", "make_engine", "migrate", "set_app_password"]

#: The role the service runs as: SELECT and INSERT on evidence, nothing more (migration 0002).
APP_ROLE = "evledger_app"

_MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def make_engine(url: str, pool_size: int = 5) -> sa.Engine:
    try:
        engine = sa.create_engine(url, pool_size=pool_size, pool_pre_ping=True)
        with engine.connect():
            pass
    except sa.exc.SQLAlchemyError as exc:
        raise ConfigError(
            f"database: cannot connect: {exc.__class__.__name__}: {exc.args[0]}"
        ) from exc
    return engine


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    return cfg


def app_url(owner_url: str, password: str | None) -> str:
    """The owner's URL with the application role as the user."""
    url = sa.make_url(owner_url).set(username=APP_ROLE, password=password)
    return url.render_as_string(hide_password=False)


def set_app_password(engine: sa.Engine, password: str) -> None:
    """Give the application role a password (for servers that do not trust local users)."""
    with engine.begin() as conn:
        quoted = conn.exec_driver_sql("SELECT quote_literal(%s)", (password,)).scalar_one()
        conn.exec_driver_sql(f"ALTER ROLE {APP_ROLE} PASSWORD {quoted}")


def migrate(engine: sa.Engine) -> None:
    """Bring the schema to the newest revision (idempotent)."""
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
