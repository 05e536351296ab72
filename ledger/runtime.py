"""Bringing a ledger up: database, chain, identity, keys, bootstrap admin, background workers.

``Runtime.open`` is idempotent: on a new database it deploys the contract and records the
ledger's identity; on an existing one it checks that the chain, the contract code and the log
key are the ones it remembers, and refuses to start otherwise.
"""

from __future__ import annotations

import functools
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from evledger_verify.checkpoint import verifier_key_string
from evledger_verify.records import checksum_address

from ledger import locks
from ledger.anchorer import Anchorer
from ledger.chain import Chain
from ledger.config import Settings
from ledger.db import app_url, make_engine, migrate, set_app_password
from ledger.errors import ConfigError
from ledger.genealogy import Projector
from ledger.health import Reporter
from ledger.identity import Identity
from ledger.keys import (
    ensure_account_key,
    ensure_app_db_password,
    ensure_log_key,
    load_account,
    log_public_key,
)
from ledger.models import LedgerMeta, Record
from ledger.sealer import Sealer
from ledger.service import Ledger
from ledger.signers import load_registry
from ledger.spc_monitor import SpcMonitor

__all__ = ["Runtime"]

log = logging.getLogger("evledger")
_INIT_LOCK = locks.INIT


@dataclass
class Runtime:
    settings: Settings
    engine: sa.Engine
    chain: Chain
    ledger: Ledger
    sealer: Sealer
    #: One per chain, the primary's first (``anchorer`` is that one).
    anchorers: list[Anchorer]
    projector: Projector
    admin_key_path: Path
    admin_created: bool
    #: Raises SPC alerts (started with the workers when spc.toml names characteristics).
    spc: SpcMonitor | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    @classmethod
    def open(cls, settings: Settings, database_url: str, rpc_url: str) -> Runtime:
        keys = settings.keys_dir
        keys.mkdir(parents=True, exist_ok=True, mode=0o700)
        owner = make_engine(database_url, pool_size=1)
        migrate(owner)
        app_password = ensure_app_db_password(keys, settings.app_db_password)
        set_app_password(owner, app_password)
        log_key = ensure_log_key(keys / "log.key")
        anchorer_account, _ = ensure_account_key(keys / "anchorer.key", "anchorer key")
        chain = Chain(rpc_url, anchorer_account)
        chain.wait_ready()
        with owner.begin() as conn:
            conn.execute(sa.text(f"SELECT pg_advisory_xact_lock({_INIT_LOCK})"))
            meta = dict(conn.execute(sa.select(LedgerMeta.key, LedgerMeta.value)).all())
            identity = Identity.from_meta(meta)
            if identity is None:
                chain.ensure_funds()
                address, block = chain.deploy()
                address = checksum_address(address)
                chain_id = chain.chain_id
                origin = f"evledger/{chain_id}/{address.lower()}"
                meta = {
                    "chain_id": str(chain_id),
                    "contract": address,
                    "contract_code_keccak": chain.code_hash(address),
                    "deploy_block": str(block),
                    "log_origin": origin,
                    "log_public_key": verifier_key_string(origin, log_public_key(log_key)),
                    "created_at": datetime.now(UTC).isoformat(),
                }
                conn.execute(
                    sa.insert(LedgerMeta), [{"key": k, "value": v} for k, v in meta.items()]
                )
                identity = Identity.from_meta(meta)
                assert identity is not None
                log.info("created ledger: contract %s on chain %d", address, chain_id)
            else:
                primary = identity.chains[0]
                chain.check_identity(primary.chain_id, primary.contract, primary.code_keccak)
                chain.ensure_funds()
                expected = verifier_key_string(identity.log_origin, log_public_key(log_key))
                if expected != identity.log_public_key:
                    raise ConfigError(
                        f"log key: {keys / 'log.key'} is not the key this ledger was created "
                        f"with (expected {identity.log_public_key})"
                    )
        owner.dispose()
        if identity.chain_id in dict(settings.extra_chains):
            raise ConfigError(
                f"EVLEDGER_EXTRA_CHAINS: chain {identity.chain_id} is the primary chain "
                "(ETH_RPC_URL); name only the other chains there"
            )
        # From here on the service runs as the application role, which cannot change evidence.
        engine = make_engine(settings.app_database_url or app_url(database_url, app_password))
        ledger = Ledger.from_settings(engine, identity, settings)
        admin_path = keys / "admin.key"
        admin_created = cls._bootstrap_admin(engine, ledger, admin_path)
        ensure_audit_signer(ledger, keys / "audit.key", admin_path)
        anchorers = [
            Anchorer(
                engine,
                chain,
                identity.chain_id,
                identity.chains[0],
                confirmations=settings.confirmations,
                finality=settings.finality,
            )
        ]
        for chain_id, url in settings.extra_chains:
            # Its own key: a compromised or drained key on one chain stops only that chain.
            account, _ = ensure_account_key(keys / f"anchorer-{chain_id}.key", "anchorer key")
            anchorers.append(
                Anchorer(
                    engine,
                    Chain(url, account),
                    chain_id,
                    identity.extra_chain(chain_id),
                    confirmations=settings.confirmations,
                    finality=settings.finality,
                )
            )
        return cls(
            settings=settings,
            engine=engine,
            chain=chain,
            ledger=ledger,
            sealer=Sealer(engine, log_key, identity.log_origin),
            anchorers=anchorers,
            projector=Projector(engine),
            admin_key_path=admin_path,
            admin_created=admin_created,
        )

    @staticmethod
    def _bootstrap_admin(engine: sa.Engine, ledger: Ledger, path: Path) -> bool:
        with engine.connect() as conn:
            if conn.execute(
                sa.select(Record.seq).where(Record.record_type == "signer").limit(1)
            ).first():
                return False
        account, created = ensure_account_key(path, "admin key")
        record = {
            "record_id": f"signer-bootstrap-{account.address.lower()}",
            "type": "signer",
            "schema": "signer/1",
            "action": "grant",
            "address": account.address,
            "name": "Bootstrap administrator",
            "roles": ["admin"],
        }
        ledger.submit_signed(record, account, "approved", bootstrap=True)
        return created

    @property
    def anchorer(self) -> Anchorer:
        """The primary chain's anchorer."""
        return self.anchorers[0]

    def start_workers(self) -> None:
        s = self.settings
        self.sealer.report = Reporter(self.engine, "sealer")
        self.projector.report = Reporter(self.engine, "genealogy")
        workers: list[tuple[str, Callable[[], None]]] = [
            ("sealer", lambda: self.sealer.run(self._stop, s.seal_interval)),
            ("genealogy", lambda: self.projector.run(self._stop, s.seal_interval)),
        ]
        if self.ledger.spc.config.characteristics:
            monitor = SpcMonitor(self.ledger.spc, self.ledger.submitter, s.keys_dir / "audit.key")
            self.spc = monitor
            self.ledger.submitter.on_stored = monitor.notify
            workers.append(("spc", lambda: monitor.run(self._stop, s.seal_interval)))
        for a in self.anchorers:
            a.report = Reporter(self.engine, a.name, counters=a.counters)
            workers.append((a.name, functools.partial(a.run, self._stop, s.anchor_interval)))
        for name, target in workers:
            t = threading.Thread(target=target, name=f"evledger-{name}", daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=15)
        self.ledger.close()
        self.engine.dispose()


def ensure_audit_signer(ledger: Ledger, key_path: Path, admin_path: Path) -> None:
    """The key `evledger audit --every` signs its alerts with: registered (role auditor) by the
    admin key when it is not an active signer yet."""
    account, _ = ensure_account_key(key_path, "audit key")
    now = int(time.time())
    with ledger.engine.connect() as conn:
        state = load_registry(conn).get(account.address)
    if state is not None and state.roles_at(now) is not None:
        return
    if not admin_path.exists():
        log.warning("audit key %s is not registered and no admin key is here", account.address)
        return
    record = {
        "record_id": f"signer-{account.address.lower()}-{now}",
        "type": "signer",
        "schema": "signer/1",
        "action": "grant",
        "address": account.address,
        "name": "evledger audit",
        "roles": ["auditor"],
    }
    ledger.submit_signed(record, load_account(admin_path, "admin key"), "approved")


def write_runtime_file(home: Path, info: dict[str, object]) -> Path:
    path = home / "runtime.json"
    path.write_text(json.dumps(info, indent=2) + "\n")
    return path
