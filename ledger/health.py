"""How the service is doing: the workers' last reports and the anchoring lag.

Each worker (sealer, anchorer, genealogy projector) reports after its rounds through a
:class:`Reporter`: a row in ``worker_status``, written when the state changes and otherwise at
most every ``interval`` seconds, so a worker that stopped reporting is noticed too. API worker
processes share nothing in memory with the process running the workers: they read the table.

:func:`assess` says ``ok``, or ``degraded`` with the reasons (the chain unreachable, anchoring
behind, a worker silent); ``/healthz`` answers 200 either way (the service still accepts and
seals records) and 503 only when the database does not answer.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from ledger.models import Anchor, Checkpoint, WorkerStatus
from ledger.storage import LIVE_ANCHOR

__all__ = ["ANCHORERS", "COMPONENTS", "Reporter", "anchor_lag", "assess"]

log = logging.getLogger("evledger.health")

COMPONENTS = ("sealer", "anchorer", "genealogy")
#: The anchorers' status rows: the primary chain's ("anchorer") and one per extra chain
#: ("anchorer:<chain id>").
ANCHORERS = sa.or_(WorkerStatus.component == "anchorer", WorkerStatus.component.like("anchorer:%"))


class Reporter:
    """Writes one component's status; never raises (health must not break the work)."""

    def __init__(
        self,
        engine: sa.Engine,
        component: str,
        interval: float = 5.0,
        counters: Callable[[], dict[str, int]] | None = None,
    ) -> None:
        self.engine, self.component, self.interval = engine, component, interval
        #: The worker's counters, written with each report (exported at /metrics).
        self.counters = counters or dict
        self._last: tuple[bool, str, str] | None = None
        self._at = 0.0

    def __call__(self, ok: bool, detail: str = "") -> None:
        now = time.monotonic()
        counters = json.dumps(self.counters(), sort_keys=True)
        if self._last == (ok, detail, counters) and now - self._at < self.interval:
            return
        try:
            with self.engine.begin() as conn:
                values = {
                    "ok": ok,
                    "detail": detail[:2000],
                    "updated_at": datetime.now(UTC),
                    "counters": counters,
                }
                conn.execute(
                    insert(WorkerStatus)
                    .values(component=self.component, **values)
                    .on_conflict_do_update(index_elements=["component"], set_=values)
                )
        except sa.exc.SQLAlchemyError as exc:
            log.warning("health: %s: could not report: %s", self.component, exc.__class__.__name__)
            return
        self._last, self._at = (ok, detail, counters), now


def anchor_lag(conn: sa.Connection, now: datetime) -> tuple[int, float]:
    """Records signed into checkpoints but not yet anchored, and how long the oldest of those
    checkpoints has waited (seconds; 0 when everything is anchored)."""
    anchored = (
        sa.select(sa.func.coalesce(sa.func.max(Anchor.tree_size), 0))
        .where(LIVE_ANCHOR)
        .scalar_subquery()
    )
    latest, oldest, behind = conn.execute(
        sa.select(
            sa.select(sa.func.max(Checkpoint.tree_size)).scalar_subquery(),
            sa.select(sa.func.min(Checkpoint.created_at))
            .where(Checkpoint.tree_size > anchored)
            .scalar_subquery(),
            anchored,
        )
    ).one()
    records = max(0, int(latest or 0) - int(behind))
    seconds = 0.0 if oldest is None or records == 0 else (now - oldest).total_seconds()
    return records, max(0.0, seconds)


def assess(
    conn: sa.Connection,
    *,
    max_anchor_lag: float = 300.0,
    silent_after: float = 60.0,
    extra_chains: tuple[int, ...] = (),
) -> dict[str, Any]:
    """``{"status": "ok" | "degraded", "reasons": [...], "workers": {...}, ...}``.
    ``extra_chains``: the chains anchored on besides the primary one; each has its anchorer,
    reporting as ``anchorer:<chain id>``."""
    now = datetime.now(UTC)
    reasons: list[str] = []
    workers: dict[str, Any] = {}
    rows = {r.component: r for r in conn.execute(sa.select(WorkerStatus))}
    for name in (*COMPONENTS, *(f"anchorer:{c}" for c in extra_chains)):
        row = rows.get(name)
        if row is None:
            workers[name] = None
            continue
        age = (now - row.updated_at).total_seconds()
        workers[name] = {
            "ok": row.ok,
            "detail": row.detail,
            "reported_s_ago": round(age, 1),
            "counters": json.loads(row.counters or "{}"),
        }
        if not row.ok:
            reasons.append(f"{name}: {row.detail}")
        elif age > silent_after:
            reasons.append(f"{name}: no report for {age:.0f} s (is it running?)")
    records, seconds = anchor_lag(conn, now)
    if seconds > max_anchor_lag:
        reasons.append(
            f"anchoring: {records} records signed into checkpoints are not anchored; the oldest "
            f"has waited {seconds:.0f} s (more than {max_anchor_lag:.0f} s)"
        )
    return {
        "status": "degraded" if reasons else "ok",
        "reasons": reasons,
        "workers": workers,
        "anchor_lag_records": records,
        "anchor_lag_seconds": round(seconds, 1),
    }
