"""What makes a ledger itself: its chains, their anchor contracts, and its log.

The primary chain (``ETH_RPC_URL``) is the one the ledger was created on: its id and contract
are the EIP-712 signing domain of every record and name the log's origin. Chains added later
(``EVLEDGER_EXTRA_CHAINS``) carry their own contract, remembered in ``ledger_meta`` under
``chain/<id>/...`` when first deployed; each signed checkpoint is anchored on every chain.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from evledger_verify.receipt import TRUST_FORMAT
from evledger_verify.records import Domain

from ledger.models import LedgerMeta

__all__ = ["ChainTarget", "Identity", "chain_meta_key"]


def chain_meta_key(chain_id: int, name: str) -> str:
    """The ``ledger_meta`` key of an extra chain's ``name`` (contract, deploy_block...)."""
    return f"chain/{chain_id}/{name}"


@dataclass(frozen=True)
class ChainTarget:
    """One chain the log is anchored on: its id, the ledger's contract there, the keccak of
    the code deployed (checked before each anchoring round) and the block it was deployed in."""

    chain_id: int
    contract: str
    code_keccak: str
    deploy_block: int
    primary: bool = False

    @property
    def name(self) -> str:
        """The worker's name in health reports and logs."""
        return "anchorer" if self.primary else f"anchorer:{self.chain_id}"


@dataclass(frozen=True)
class Identity:
    """What makes this ledger itself: its chain, contract and log."""

    chain_id: int
    contract: str
    log_origin: str
    log_public_key: str
    #: Every chain the ledger anchors on, the primary first (as recorded in ledger_meta).
    chains: tuple[ChainTarget, ...] = ()

    @property
    def domain(self) -> Domain:
        return Domain(self.chain_id, self.contract)

    def trust(self) -> dict[str, Any]:
        """The trust file an auditor pins. With more than one chain it lists them all and
        requires an anchor on any one of them (one chain going away never makes receipts
        unverifiable); an auditor may narrow ``require`` to the chains they insist on."""
        trust: dict[str, Any] = {
            "format": TRUST_FORMAT,
            "log_origin": self.log_origin,
            "log_public_key": self.log_public_key,
            "chain_id": self.chain_id,
            "contract": self.contract,
        }
        if len(self.chains) > 1:
            trust["chains"] = [
                {"chain_id": c.chain_id, "contract": c.contract} for c in self.chains
            ]
            trust["require"] = "any"
        return trust

    def extra_chain(self, chain_id: int) -> ChainTarget | None:
        return next((c for c in self.chains if c.chain_id == chain_id and not c.primary), None)

    @classmethod
    def load(cls, conn: sa.Connection) -> Identity | None:
        return cls.from_meta(dict(conn.execute(sa.select(LedgerMeta.key, LedgerMeta.value)).all()))

    @classmethod
    def from_meta(cls, meta: dict[str, str]) -> Identity | None:
        """The identity the ``ledger_meta`` rows hold (None before the ledger is created)."""
        if "contract" not in meta:
            return None
        return cls._from_meta(meta)

    @classmethod
    def _from_meta(cls, meta: dict[str, str]) -> Identity:
        primary = ChainTarget(
            chain_id=int(meta["chain_id"]),
            contract=meta["contract"],
            code_keccak=meta.get("contract_code_keccak", ""),
            deploy_block=int(meta.get("deploy_block", "0")),
            primary=True,
        )
        extras = sorted(
            int(key.split("/")[1])
            for key in meta
            if key.startswith("chain/") and key.endswith("/contract")
        )
        chains = [primary] + [
            ChainTarget(
                chain_id=cid,
                contract=meta[chain_meta_key(cid, "contract")],
                code_keccak=meta.get(chain_meta_key(cid, "contract_code_keccak"), ""),
                deploy_block=int(meta.get(chain_meta_key(cid, "deploy_block"), "0")),
            )
            for cid in extras
        ]
        return cls(
            chain_id=primary.chain_id,
            contract=primary.contract,
            log_origin=meta["log_origin"],
            log_public_key=meta["log_public_key"],
            chains=tuple(chains),
        )
