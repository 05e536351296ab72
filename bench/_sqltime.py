"""An SQLAlchemy engine that times every SQL statement it runs (execute and fetch, in
psycopg2), for the profiles of bench/console.py and bench/trace.py."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

#: (statement, parameters, seconds, rows) of each statement, in the order they ran.
Timed = list[tuple[str, Any, float, int]]


def timed_engine(creator: Callable[[], Any]) -> tuple[sa.Engine, Timed]:
    """A PostgreSQL engine on ``creator``'s connections, and the list it appends every
    statement it runs to (clear it between runs)."""
    engine = sa.create_engine("postgresql+psycopg2://", creator=creator)
    stmts: Timed = []
    started: list[float] = []

    @sa.event.listens_for(engine, "before_cursor_execute")
    def _before(*_: Any) -> None:
        started.append(time.perf_counter())

    @sa.event.listens_for(engine, "after_cursor_execute")
    def _after(_c: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        stmts.append((statement, params, time.perf_counter() - started.pop(), cursor.rowcount))

    return engine, stmts
