"""Every PostgreSQL advisory lock the ledger takes, in one place.

Fixed ids guard singletons (the registry, the sealer, the anchorer, first start-up). Lots and
workflow subjects get a 64-bit key derived here, in Python, so a batch can take its keys in one
sorted order: every writer takes lot keys before subject keys, each class in ascending order,
so concurrent batches never wait for each other in a cycle.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

__all__ = [
    "ANCHORER",
    "GENEALOGY",
    "INIT",
    "REGISTRY",
    "SEALER",
    "key",
    "take",
]

#: Registry changes take it exclusively, other submissions share it.
REGISTRY = 7140001
SEALER = 7140002
ANCHORER = 7140003
INIT = 7140004
GENEALOGY = 7140005


def key(namespace: str, name: str) -> int:
    """A signed 64-bit advisory-lock key for ``namespace:name`` (lot, subject)."""
    digest = hashlib.sha256(f"{namespace}:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def take(
    conn: sa.Connection,
    *,
    registry_exclusive: bool,
    lots: Iterable[str],
    subjects: Iterable[str],
    then: str,
) -> sa.CursorResult[Any]:
    """Take a submission's locks in the order every writer follows (the registry, shared or
    exclusive; then the lots; then the subjects, each class in ascending key order), then run
    the query ``then``, all in one round trip. Each statement runs after the one before it, so
    ``then`` sees everything committed before the locks were granted."""
    fn = "pg_advisory_xact_lock" if registry_exclusive else "pg_advisory_xact_lock_shared"
    ordered = sorted({key("lot", lot) for lot in lots}) + sorted(
        {key("subject", s) for s in subjects}
    )
    sql = f"SELECT {fn}({REGISTRY}); "
    if ordered:
        sql += (
            "SELECT pg_advisory_xact_lock(k) FROM unnest(%(keys)s::bigint[]) "
            "WITH ORDINALITY AS t(k, i) ORDER BY i; "
        )
    return conn.exec_driver_sql(sql + then, {"keys": ordered})
