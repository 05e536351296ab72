"""Engine creation and migrations (Alembic, run programmatically)."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from ledger.errors import ConfigError

__all__ = ["make_engine", "migrate"]

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


def migrate(engine: sa.Engine) -> None:
    """Bring the schema to the newest revision (idempotent)."""
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
