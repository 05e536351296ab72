"""What makes a ledger itself: its chain, its anchor contract and its log."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from evledger_verify.receipt import TRUST_FORMAT
from evledger_verify.records import Domain

from ledger.models import LedgerMeta

__all__ = ["Identity"]


@dataclass(frozen=True)
class Identity:
    """What makes this ledger itself: its chain, contract and log."""

    chain_id: int
    contract: str
    log_origin: str
    log_public_key: str

    @property
    def domain(self) -> Domain:
        return Domain(self.chain_id, self.contract)

    def trust(self) -> dict[str, Any]:
        return {
            "format": TRUST_FORMAT,
            "log_origin": self.log_origin,
            "log_public_key": self.log_public_key,
            "chain_id": self.chain_id,
            "contract": self.contract,
        }

    @classmethod
    def load(cls, conn: sa.Connection) -> Identity | None:
        meta = dict(conn.execute(sa.select(LedgerMeta.key, LedgerMeta.value)).all())
        if "contract" not in meta:
            return None
        return cls(
            chain_id=int(meta["chain_id"]),
            contract=meta["contract"],
            log_origin=meta["log_origin"],
            log_public_key=meta["log_public_key"],
        )
