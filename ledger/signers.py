"""The signer registry: a projection of the signed ``signer`` records in the log (defined once,
in :mod:`evledger_verify.registry`), read from the database and cached.

A ``signer`` record grants or revokes: ``{"type": "signer", "action": "grant" | "revoke",
"address": "0x...", "name": "Printed Name", "roles": [...]}``. Authority is judged as the
registry stood at the signing time of the record being checked.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import sqlalchemy as sa
from evledger_verify.registry import Registry, SignerState

from ledger.models import Record

__all__ = ["Registry", "RegistryCache", "SignerState", "load_registry"]


def load_registry(conn: sa.Connection) -> Registry:
    """Rebuild the registry from the signer records, in signing-time order (acceptance order
    breaks ties), so that it shows the registry as it stood at any signing time."""
    registry = Registry()
    rows = conn.execute(
        sa.select(Record.body, Record.signed_at)
        .where(Record.record_type == "signer")
        .order_by(Record.signed_at, Record.seq)
    )
    for body, signed_at in rows:
        registry.apply(json.loads(body), int(signed_at))
    return registry


class RegistryCache:
    """The registry, rebuilt only when the signer records change.

    Every submission and every read token needs the registry; rebuilding it from all signer
    records each time was an eighth of a single submission's cost. The cache is keyed by the
    count and the newest sequence number of the signer records (one index-only look-up), so a
    new grant or revoke, or a row deleted behind the service's back, rebuilds it. Callers must
    not change the registry they get.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: tuple[int, int | None] | None = None
        self._registry = Registry()

    #: The cache key: how many signer records, and the newest one's sequence number.
    KEY_SQL = "SELECT count(*), max(seq) FROM records WHERE record_type = 'signer'"

    def get(self, conn: sa.Connection, key_row: Any = None) -> Registry:
        """The registry; ``key_row`` is the result of :attr:`KEY_SQL` when the caller already
        ran it (in the same transaction)."""
        count, newest = key_row if key_row is not None else conn.exec_driver_sql(self.KEY_SQL).one()
        key = (int(count), newest)
        with self._lock:
            if key == self._key:
                return self._registry
        registry = load_registry(conn)
        with self._lock:
            self._key, self._registry = key, registry
        return registry
