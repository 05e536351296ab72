"""The anchorer: writes the newest checkpoint to the EvidenceAnchor contract.

Each round compares the chain's latest anchored (size, root) with the log: the chain's root
must be the log's root at that size (otherwise the log was forked or rewritten and anchoring
stops loudly); a newer checkpoint is anchored with a consistency proof from the chain's size,
one transaction whatever the number of records. A crash between sending and recording is
recovered from the contract's ``Anchored`` event, so nothing is anchored twice.

Life cycle: an ``anchors`` row is an anchor *included* in a block. Each round first follows the
recorded anchors that are not final yet: one whose transaction the canonical chain no longer
holds in that block (a reorganization) is recorded ``orphaned`` (``anchor_states``, append-only)
and stops counting: receipts, status and the audit see the anchors left, and the contract, which
lost the root too, is brought up to date again by the same round. One whose block is at or below
the chain's ``finalized`` block (chains with a finality gadget) or ``confirmations`` deep (dev
chains such as Anvil, whose ``finalized`` tag is only its head minus 64; and chains without the
tag) is recorded ``final``.

A final anchor can still be lost: a reorganization deeper than the finality rule, or a node that
restarted from an older or torn state. Anvil's periodic state dump (``--state-interval``) is not
one snapshot: it reads the blocks, then the accounts, so a block mined in between has its effects
in the dump (the contract holds the root, the anchorer's nonce moved on) without the block or its
transaction; after a kill -9 the node restarts from that dump. Each round therefore first checks
the newest final anchors against the chain, newest first, until one whose block the chain still
holds: each one lost is recorded ``orphaned`` (a warning, and the ``final`` state it had stays on
record) and the round anchors again what it covered, so no live row names a transaction the chain
does not have. When the contract kept the root of a lost transaction, or the chain has the very
block again that an orphaned row names (rows and states are recorded once), that size has no
live row and cannot be anchored again (the contract refuses a size twice): the next checkpoint
is anchored on top of it.

More than one chain: one Anchorer per chain, each with its own key, contract and lock, all
anchoring the same log; an ``anchors`` row names its chain. A chain added later
(``EVLEDGER_EXTRA_CHAINS``) gets its contract deployed by its anchorer's first round that
reaches it, recorded in ``ledger_meta``; a chain that is down holds up only its own anchorer.
The anchorer checks that the node is on its chain and that the contract's code is the code
deployed (and refuses to work otherwise) on its first round, on the first round after one that
failed (the node may have been replaced meanwhile), and before each transaction it sends.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from evledger_verify.errors import VerificationError
from evledger_verify.records import checksum_address
from sqlalchemy.dialects.postgresql import insert as pg_insert
from web3.exceptions import BlockNotFound, Web3Exception

from ledger import locks, tree
from ledger.anchor_proof import cut_anchor_proof
from ledger.chain import AnchorResult, Chain
from ledger.errors import ChainError, ChainUnreachable, LedgerError
from ledger.identity import ChainTarget, Identity, chain_meta_key
from ledger.models import (
    Anchor,
    AnchorProof,
    AnchorState,
    AnchorSubmission,
    Checkpoint,
    LedgerMeta,
)
from ledger.storage import LIVE_ANCHOR, DbNodeStore, anchor_state

__all__ = ["Anchorer"]

ANCHORER_LOCK = locks.ANCHORER
#: Development chains (Anvil, Hardhat, Ganache): finality by confirmations, not by their tag.
DEV_CHAINS = frozenset({31337, 1337})
log = logging.getLogger("evledger.anchorer")


class Anchorer:
    def __init__(
        self,
        engine: sa.Engine,
        chain: Chain,
        chain_id: int,
        target: ChainTarget | None,
        confirmations: int | None = None,
        finality: str = "auto",
    ) -> None:
        """``target``: the chain's contract as recorded; None for a chain added to the
        configuration whose contract is not deployed yet (the first round deploys it)."""
        self.engine = engine
        self.chain = chain
        self.chain_id = chain_id
        self.target = target
        self.name = target.name if target is not None else f"anchorer:{chain_id}"
        primary = target is not None and target.primary
        self.lock = ANCHORER_LOCK if primary else locks.key("anchorer", str(chain_id))
        #: Blocks (the anchor's own included) after which an anchor is final on a chain
        #: without a finalized tag.
        dev = chain_id in DEV_CHAINS
        self.confirmations = confirmations if confirmations is not None else (1 if dev else 12)
        if finality not in ("auto", "tag", "confirmations"):
            raise ValueError(f"finality: expected auto, tag or confirmations, got {finality!r}")
        #: Use the chain's ``finalized`` tag (else count confirmations).
        self.use_tag = finality == "tag" or (finality == "auto" and not dev)
        self.last_error: str | None = None
        #: Whether the node was found to be the chain and contract since the last failure.
        self._identity_checked = False
        #: Anchors whose offline proof could not be cut (not tried again until a restart).
        self._unprovable: set[str] = set()
        #: (size, root) the contract holds with no anchor that can be recorded (see
        #: :meth:`_record_if_missing`): said once, not searched for each round.
        self._unrecordable: tuple[int, bytes] | None = None
        #: Rounds that failed (chain or database errors).
        self.failures = 0
        #: Where each round's outcome goes (ledger.health.Reporter); a no-op by default.
        self.report: Callable[[bool, str], None] = lambda ok, detail: None

    def anchor_once(self) -> AnchorResult | None:
        with self.engine.connect() as conn:
            if not conn.execute(sa.select(sa.func.pg_try_advisory_lock(self.lock))).scalar():
                return None
            try:
                return self._round(conn)
            finally:
                self._unlock(conn)

    def _unlock(self, conn: sa.Connection) -> None:
        """Release the session lock whatever happened; never hide the round's own error. A
        failed statement leaves the transaction aborted (roll it back first); when even that
        fails, the connection is dropped, which releases every lock its session held (a
        pooled connection must never keep the anchorer's lock)."""
        try:
            conn.rollback()
            conn.execute(sa.select(sa.func.pg_advisory_unlock(self.lock)))
            conn.commit()
        except sa.exc.SQLAlchemyError as exc:
            log.warning(
                "%s: could not release its lock (%s); dropping the connection", self.name, exc
            )
            conn.invalidate()

    def _check_identity(self) -> None:
        t = self.target
        assert t is not None  # the round attached first
        self.chain.check_identity(t.chain_id, t.contract, t.code_keccak)
        self._identity_checked = True

    def _round(self, conn: sa.Connection) -> AnchorResult | None:
        if self.target is None:
            self.target = self._deploy()
        checked_now = not self._identity_checked
        if checked_now:
            self._check_identity()
        chain_size, chain_root = self.chain.latest()
        self._recheck_final(conn)
        self._prove(conn)
        self._follow(conn, chain_size)
        latest = conn.execute(
            sa.select(Checkpoint.tree_size, Checkpoint.root_hash)
            .order_by(Checkpoint.tree_size.desc())
            .limit(1)
        ).first()
        if chain_size:
            ours = conn.execute(
                sa.select(Checkpoint.root_hash).where(Checkpoint.tree_size == chain_size)
            ).scalar_one_or_none()
            if ours is None or bytes(ours) != chain_root:
                raise ChainError(
                    f"anchor: the chain holds root {chain_root.hex()} at size {chain_size}, "
                    f"the log has {'no checkpoint' if ours is None else bytes(ours).hex()} there: "
                    "the log and the chain disagree; run `evledger audit`"
                )
            self._record_if_missing(conn, chain_size, chain_root)
        if latest is None or latest.tree_size <= chain_size:
            return None
        proof = tree.consistency_proof(DbNodeStore(conn), chain_size, latest.tree_size)
        size = latest.tree_size

        def sent(tx_hash: str, nonce: int, max_fee: int, replaces: str | None) -> None:
            # A node that went back to an older state can be sent the very transaction it lost
            # (same nonce, checkpoint and fees, so the same hash): it is on record already.
            with self.engine.begin() as c:
                c.execute(
                    pg_insert(AnchorSubmission)
                    .values(
                        chain_id=self.chain_id,
                        tx_hash=tx_hash,
                        tree_size=size,
                        nonce=nonce,
                        max_fee_per_gas=max_fee,
                        replaces=replaces,
                        sent_at=datetime.now(UTC),
                    )
                    .on_conflict_do_nothing()
                )

        if not checked_now:  # never send to a node that is not (any more) the chain
            self._check_identity()
        result = self.chain.anchor(size, bytes(latest.root_hash), proof, sent)
        if self._recorded_orphaned(conn, result):
            return None
        self._insert(conn, result)
        log.info(
            "anchored tree size %d on chain %d in tx %s",
            result.tree_size,
            self.chain_id,
            result.tx_hash,
        )
        return result

    def _deploy(self) -> ChainTarget:
        """A chain added to the configuration: deploy the contract once (another instance may
        have done it meanwhile: then use its) and remember it in ``ledger_meta``."""
        with self.engine.begin() as conn:
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(locks.INIT)))
            meta = dict(conn.execute(sa.select(LedgerMeta.key, LedgerMeta.value)).all())
            identity = Identity.from_meta(meta)
            known = identity.extra_chain(self.chain_id) if identity is not None else None
            if known is not None:
                return known
            actual = self.chain.chain_id
            if actual != self.chain_id:
                raise ChainError(
                    f"chain: EVLEDGER_EXTRA_CHAINS names chain {self.chain_id} for "
                    f"{self.chain.rpc_url}, but that node is on chain {actual}"
                )
            self.chain.ensure_funds()
            address, block = self.chain.deploy()
            target = ChainTarget(
                chain_id=self.chain_id,
                contract=checksum_address(address),
                code_keccak=self.chain.code_hash(address),
                deploy_block=block,
            )
            conn.execute(
                sa.insert(LedgerMeta),
                [
                    {"key": chain_meta_key(self.chain_id, k), "value": v}
                    for k, v in (
                        ("contract", target.contract),
                        ("contract_code_keccak", target.code_keccak),
                        ("deploy_block", str(block)),
                        ("anchorer", self.chain.account.address),
                    )
                ],
            )
        log.info("chain %d: deployed the anchor contract at %s", self.chain_id, target.contract)
        return target

    def _recheck_final(self, conn: sa.Connection) -> None:
        """Record ``orphaned`` the final anchors the chain lost (see the module docstring).

        Newest first, until one whose block the chain still holds at its height: the anchors
        below it were included, in order, in that block's ancestors. Held means the canonical
        block at the recorded height has the recorded hash (which commits to the transaction);
        the receipt is asked for only when it does not, to say where the transaction is now.
        In steady state this is one query and one block header per round."""
        below: int | None = None
        page = 10  # most rounds read one
        while True:
            query = sa.select(
                Anchor.tree_size, Anchor.tx_hash, Anchor.block_hash, Anchor.block_number
            ).where(Anchor.chain_id == self.chain_id, anchor_state("final"), LIVE_ANCHOR)
            if below is not None:
                query = query.where(Anchor.tree_size < below)
            rows = conn.execute(query.order_by(Anchor.tree_size.desc()).limit(page)).all()
            for r in rows:
                if self._block_hash_at(r.block_number) == r.block_hash:
                    conn.commit()
                    return
                where = self.chain.inclusion(r.tx_hash)
                if where is not None and where[1] == r.block_hash:
                    conn.commit()  # the chain moved meanwhile; it holds this one
                    return
                now = "no block" if where is None else f"block {where[0]} {where[1]}"
                detail = (
                    f"final, then lost by the chain: block {r.block_number} {r.block_hash} is "
                    f"no longer canonical and the transaction is now in {now} (a reorganization "
                    "deeper than the finality rule, or a node restarted from an older state)"
                )
                log.warning(
                    "%s: the final anchor of size %d (tx %s) was lost by chain %d: %s; "
                    "recorded orphaned, anchoring again",
                    self.name,
                    r.tree_size,
                    r.tx_hash,
                    self.chain_id,
                    detail,
                )
                self._state(conn, r, "orphaned", detail)
            conn.commit()
            if len(rows) < page:
                return
            below, page = rows[-1].tree_size, 100

    def _block_hash_at(self, number: int) -> str | None:
        """The hash of the canonical block at height ``number``, None when the chain has none."""
        try:
            block = self.chain.w3.eth.get_block(number)
        except BlockNotFound:
            return None
        except OSError as exc:
            raise ChainUnreachable(f"block {number}: {exc.__class__.__name__}: {exc}") from exc
        except (Web3Exception, ValueError) as exc:
            raise ChainError(f"block {number}: {exc.__class__.__name__}: {exc}") from exc
        return block["hash"].to_0x_hex()

    def _follow(self, conn: sa.Connection, chain_size: int) -> None:
        """Record which included anchors became final, and which a reorganization orphaned
        (final ones the chain lost afterwards: :meth:`_recheck_final`).
        ``chain_size``: the contract's latest anchored size, read once per round."""
        rows = conn.execute(
            sa.select(Anchor.tree_size, Anchor.tx_hash, Anchor.block_hash, Anchor.block_number)
            .where(Anchor.chain_id == self.chain_id, LIVE_ANCHOR, ~anchor_state("final"))
            .order_by(Anchor.tree_size)
            .limit(100)
        ).all()
        if not rows:
            return
        head = self.chain.head()
        finalized = self.chain.finalized(head) if self.use_tag else None
        for r in rows:
            where = self.chain.inclusion(r.tx_hash)
            if where is None or where[1] != r.block_hash:
                now = "no block" if where is None else f"block {where[0]} {where[1]}"
                detail = (
                    f"block {r.block_number} {r.block_hash} left the canonical chain; the "
                    f"transaction is now in {now}"
                )
                log.warning(
                    "anchor of size %d on chain %d orphaned: %s", r.tree_size, self.chain_id, detail
                )
                self._state(conn, r, "orphaned", detail)
            elif r.tree_size > chain_size:
                continue  # included but not (yet) what the contract says: next round
            elif finalized is not None and r.block_number <= finalized:
                self._state(conn, r, "final", f"block {r.block_number} <= finalized {finalized}")
            elif finalized is None and head - r.block_number + 1 >= self.confirmations:
                self._state(
                    conn,
                    r,
                    "final",
                    f"{head - r.block_number + 1} confirmations (head {head}), "
                    f"{self.confirmations} needed",
                )
        conn.commit()

    def _prove(self, conn: sa.Connection) -> None:
        """Cut the offline proof (block header, receipts-trie path) of final anchors that have
        none yet, a few per round; a chain whose blocks this code cannot rebuild gets none
        (the anchor stays final, and verifiers confirm it with --rpc)."""
        proven = sa.exists().where(
            AnchorProof.chain_id == Anchor.chain_id,
            AnchorProof.tx_hash == Anchor.tx_hash,
            AnchorProof.block_hash == Anchor.block_hash,
        )
        rows = conn.execute(
            sa.select(
                Anchor.tree_size,
                Anchor.root_hash,
                Anchor.tx_hash,
                Anchor.block_hash,
                Anchor.contract,
            )
            .where(Anchor.chain_id == self.chain_id, anchor_state("final"), LIVE_ANCHOR, ~proven)
            .order_by(Anchor.tree_size)
            .limit(20)
        ).all()
        for r in rows:
            if r.tx_hash in self._unprovable:
                continue
            try:
                cut = cut_anchor_proof(
                    self.chain.w3, r.tx_hash, r.contract, r.tree_size, bytes(r.root_hash)
                )
            except (LedgerError, VerificationError, Web3Exception, OSError, ValueError) as exc:
                log.warning(
                    "%s: no offline proof for the anchor of size %d: %s",
                    self.name,
                    r.tree_size,
                    exc,
                )
                self._unprovable.add(r.tx_hash)
                continue
            conn.execute(
                sa.insert(AnchorProof).values(
                    chain_id=self.chain_id,
                    tx_hash=r.tx_hash,
                    block_hash=r.block_hash,
                    block_header=bytes.fromhex(cut["block_header"]),
                    tx_index=cut["tx_index"],
                    receipt_proof=json.dumps(cut["receipt_proof"]),
                    cut_at=datetime.now(UTC),
                )
            )
        conn.commit()

    @staticmethod
    def _state(conn: sa.Connection, r: Any, state: str, detail: str) -> None:
        conn.execute(
            sa.insert(AnchorState).values(
                tree_size=r.tree_size,
                tx_hash=r.tx_hash,
                block_hash=r.block_hash,
                state=state,
                observed_at=datetime.now(UTC),
                detail=detail,
            )
        )

    def _record_if_missing(self, conn: sa.Connection, size: int, root: bytes) -> None:
        """The contract's latest anchor (already checked to be the log's root at ``size``) has
        no live row: a crash between sending and recording; record it from its event. Two
        cases leave nothing to record, and the size cannot be anchored again (the contract
        holds it): the next checkpoint is anchored on top of it. The chain has no ``Anchored``
        event for it: the node kept the state of a transaction it lost (a state dump ahead of
        its blocks). Or the event is in the very block of an anchor recorded orphaned: the
        chain holds that block again (see :meth:`_recorded_orphaned`)."""
        have = conn.execute(
            sa.select(Anchor.tree_size).where(
                Anchor.tree_size == size, Anchor.chain_id == self.chain_id, LIVE_ANCHOR
            )
        ).first()
        if have is not None or self._unrecordable == (size, root):
            return
        assert self.target is not None  # the round attached first
        found = self.chain.find_anchor(size, self.target.deploy_block)
        if found is None:
            self._unrecordable = (size, root)
            log.warning(
                "%s: the contract on chain %d holds the log's root at size %d but the chain has "
                "no transaction that anchored it (the node kept the state of a block it lost); "
                "the next checkpoint is anchored on top of it",
                self.name,
                self.chain_id,
                size,
            )
            return
        if self._recorded_orphaned(conn, found):
            self._unrecordable = (size, root)
            return
        log.info(
            "recovered anchor of size %d on chain %d from tx %s", size, self.chain_id, found.tx_hash
        )
        self._insert(conn, found)

    def _recorded_orphaned(self, conn: sa.Connection, r: AnchorResult) -> bool:
        """Whether ``r`` is an anchor on record already (then orphaned: live ones are looked
        up before): the chain holds again the very block it had lost, the same transaction in
        an identical block (a reorganization that went back; or the lost transaction sent again,
        byte for byte, into a block identical to the lost one by a node restarted from the
        state before it within the same second). A row is recorded once and its ``orphaned``
        state stays, so the checkpoint has no live anchor until the next one is anchored."""
        known = conn.execute(
            sa.select(Anchor.tree_size).where(
                Anchor.tree_size == r.tree_size,
                Anchor.tx_hash == r.tx_hash,
                Anchor.block_hash == r.block_hash,
            )
        ).first()
        if known is None:
            return False
        log.warning(
            "%s: chain %d holds again the anchor of size %d recorded orphaned (tx %s, block %s); "
            "it is not recorded twice: the next checkpoint is anchored on top of it",
            self.name,
            self.chain_id,
            r.tree_size,
            r.tx_hash,
            r.block_hash,
        )
        return True

    def _insert(self, conn: sa.Connection, r: AnchorResult) -> None:
        assert self.target is not None  # the round attached first
        conn.execute(
            sa.insert(Anchor).values(
                tree_size=r.tree_size,
                root_hash=r.root_hash,
                chain_id=self.chain_id,
                contract=self.target.contract,
                tx_hash=r.tx_hash,
                block_number=r.block_number,
                block_hash=r.block_hash,
                log_index=r.log_index,
                anchored_at=datetime.now(UTC),
            )
        )
        conn.commit()

    def counters(self) -> dict[str, int]:
        """What /metrics exports for the anchorer (through its status reports)."""
        return {"round_failures": self.failures, "tx_replacements": self.chain.replacements}

    def run(self, stop: threading.Event, interval: float) -> None:
        """Anchor until ``stop`` is set. Chain outages back off (capped) and retry."""
        delay = interval
        while not stop.is_set():
            try:
                self.anchor_once()
                self.last_error = None
                self.report(True, "")
                delay = interval
            except (LedgerError, sa.exc.SQLAlchemyError) as exc:
                self.last_error = str(exc)
                self.failures += 1
                self._identity_checked = False  # the node may come back as another one
                self.report(False, str(exc).splitlines()[0][:500])
                log.error("%s: %s (retrying in %.1f s)", self.name, exc, delay)
                delay = min(delay * 2, 60.0)
            stop.wait(delay)
