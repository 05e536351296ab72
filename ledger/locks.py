"""Every PostgreSQL advisory lock the ledger takes, in one place.

Fixed ids guard singletons (the registry, the sealer, the anchorer, first start-up). Lots and
workflow subjects get a 64-bit key derived here, in Python, so a batch can take its keys in one
sorted order: every writer takes lot keys before subject keys, each class in ascending order,
so concurrent batches never wait for each other in a cycle.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import sqlalchemy as sa

__all__ = [
    "ANCHORER",
    "INIT",
    "REGISTRY",
    "SEALER",
    "key",
    "lock_lots_then_subjects",
    "lock_registry",
]

#: Registry changes take it exclusively, other submissions share it.
REGISTRY = 7140001
SEALER = 7140002
ANCHORER = 7140003
INIT = 7140004


def key(namespace: str, name: str) -> int:
    """A signed 64-bit advisory-lock key for ``namespace:name`` (lot, subject)."""
    digest = hashlib.sha256(f"{namespace}:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def lock_registry(conn: sa.Connection, exclusive: bool) -> None:
    fn = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
    conn.exec_driver_sql(f"SELECT {fn}({REGISTRY})")


def lock_lots_then_subjects(
    conn: sa.Connection, lots: Iterable[str], subjects: Iterable[str]
) -> None:
    """The locks of ``lots``, then of ``subjects``, each class in ascending key order: the
    order every writer follows. One statement (``WITH ORDINALITY`` keeps the order)."""
    ordered = sorted({key("lot", lot) for lot in lots}) + sorted(
        {key("subject", s) for s in subjects}
    )
    if ordered:
        conn.exec_driver_sql(
            "SELECT pg_advisory_xact_lock(k) FROM unnest(%(keys)s::bigint[]) "
            "WITH ORDINALITY AS t(k, i) ORDER BY i",
            {"keys": ordered},
        )
