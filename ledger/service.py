"""The ledger as the API sees it: one object that submits, reads and proves.

    ledger = Ledger(engine, identity)
    result = ledger.submit(Submission(record, signature, meaning, signed_at))
    results = ledger.submit_batch([Submission(...), ...])
    receipt = ledger.receipt(record["record_id"])  # once sealed and anchored

The work is done by :mod:`ledger.submission`, :mod:`ledger.reads` and :mod:`ledger.proofs`;
workers (sealer, anchorer, audit) import those and :mod:`ledger.storage`, never this module.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from eth_account.signers.local import LocalAccount
from evledger_verify.checkpoint import verifier_key_string
from evledger_verify.policy import DEFAULT_POLICY, Policy

from ledger.bundle import Exporter
from ledger.config import Settings
from ledger.identity import Identity
from ledger.keys import load_log_key, log_public_key
from ledger.master import MasterData
from ledger.promises import Promiser
from ledger.proofs import Proofs
from ledger.reads import Reads
from ledger.spc_monitor import CONFIG_ENV, Charts, SpcConfig, load_config
from ledger.submission import (
    MEANINGS,
    GroupCommit,
    ItemResult,
    Submission,
    SubmitResult,
    Submitter,
)

__all__ = ["MEANINGS", "Identity", "ItemResult", "Ledger", "Submission", "SubmitResult"]


class Ledger:
    def __init__(
        self,
        engine: sa.Engine,
        identity: Identity,
        *,
        policy: Policy = DEFAULT_POLICY,
        max_device_backlog: int = 30 * 86400,
        clock: Callable[[], float] = time.time,
        log_key: Ed25519PrivateKey | None = None,
        promise_delay: int = 300,
        extra_chains: tuple[int, ...] = (),
        spc: SpcConfig | None = None,
    ) -> None:
        """``extra_chains``: the chains anchored on besides the primary one (their anchorers'
        health counts); ``spc``: the characteristics charted (ledger.spc_monitor)."""
        self.engine = engine
        self.identity = identity
        promiser = (
            Promiser(log_key, identity.log_origin, promise_delay) if log_key is not None else None
        )
        self._promiser = promiser
        self.submitter = Submitter(
            engine,
            identity,
            policy=policy,
            max_device_backlog=max_device_backlog,
            clock=clock,
            promiser=promiser,
        )
        self._group = GroupCommit(self.submitter)
        self.policy = policy
        self.reads = Reads(engine, identity, policy, clock, extra_chains)
        self.proofs = Proofs(engine, identity.chain_id)
        self.exporter = Exporter(engine, identity, policy)
        #: Specifications, equipment, suppliers (``/v1/specifications`` ...).
        self.master = MasterData(engine, self.reads.registry, policy, clock)
        #: SPC charts of the characteristics ``spc.toml`` names (``/v1/spc``).
        self.spc = Charts(engine, spc or SpcConfig())
        # The read and proof side, as the routes call it.
        self.reader = self.reads.reader
        self.record_view = self.reads.record_view
        self.lot = self.reads.lot
        self.public_lot = self.reads.public_lot
        self.signers = self.reads.signers
        self.trust = self.reads.trust
        self.trace = self.reads.trace
        self.supplier_trace = self.reads.supplier_trace
        self.recall_scope = self.reads.recall_scope
        self.status = self.reads.status
        self.health = self.reads.health
        self.checkpoint = self.proofs.checkpoint
        self.consistency = self.proofs.consistency

    @classmethod
    def from_settings(cls, engine: sa.Engine, identity: Identity, settings: Settings) -> Ledger:
        """The ledger with the signature windows the settings give, signing acceptance
        promises with the log key when this machine holds it."""
        key_path = settings.keys_dir / "log.key"
        log_key = load_log_key(key_path) if key_path.exists() else None
        if log_key is not None and identity.log_public_key != verifier_key_string(
            identity.log_origin, log_public_key(log_key)
        ):
            log_key = None  # not this ledger's key: no promise rather than a false one
        return cls(
            engine,
            identity,
            policy=settings.policy(),
            max_device_backlog=settings.max_device_backlog,
            log_key=log_key,
            promise_delay=settings.promise_delay,
            extra_chains=tuple(chain_id for chain_id, _ in settings.extra_chains),
            spc=load_config(settings.home, os.environ.get(CONFIG_ENV)),
        )

    def receipt(self, record_id: str) -> dict[str, Any]:
        """The record's receipt; one not anchored yet (pending or sealed) also carries the
        acceptance promise, so its holder can later show what was promised by when."""
        receipt = self.proofs.receipt(record_id)
        if self._promiser is not None and receipt["status"] != "anchored":
            receipt["promise"] = self._promiser.promise(
                str(receipt["record_id"]),
                bytes.fromhex(receipt["leaf_hash"]),
                str(receipt["entry"]["accepted_at"]),
            )
        return receipt

    # -- signing helpers --------------------------------------------------------------------

    def digest(self, record: Mapping[str, Any], meaning: str, signed_at: int) -> bytes:
        """The EIP-712 digest for ``record`` (not validated: signing is not accepting)."""
        return self.submitter.digest(record, meaning, signed_at)

    def submit_signed(
        self,
        record: dict[str, Any],
        account: LocalAccount,
        meaning: str,
        *,
        bootstrap: bool = False,
    ) -> SubmitResult:
        """Sign ``record`` now with a key the ledger holds itself and submit it."""
        return self.submitter.submit_signed(record, account, meaning, bootstrap=bootstrap)

    # -- submission -------------------------------------------------------------------------

    def submit(self, sub: Submission, *, bootstrap: bool = False) -> SubmitResult:
        """One record; raises the error that refused it. Concurrent calls are committed
        together (:class:`GroupCommit`)."""
        if bootstrap:
            (item,) = self.submitter.submit_batch([sub], bootstrap=True)
            return item.unwrap()
        return self._group.submit(sub).unwrap()

    async def submit_async(self, sub: Submission) -> SubmitResult:
        """:meth:`submit` for an event loop: waits for the group commit without a thread."""
        item = await asyncio.wrap_future(self._group.enqueue(sub))
        return item.unwrap()

    def close(self) -> None:
        """Stop the group-commit thread (it is started again by the next submission)."""
        self._group.close()

    def submit_batch(self, subs: Sequence[Submission]) -> list[ItemResult]:
        """Many records; one result per item (accepted, duplicate or refused), in order."""
        return self.submitter.submit_batch(subs)
