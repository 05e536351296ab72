"""Installation qualification: ``evledger selftest`` checks a running installation.

Each check is one line of the report, ``ok``, ``FAIL`` or ``warn``:

- **versions**: every installed distribution against the Python lockfile (its versions);
- **key files**: the service's keys (``.evledger/keys``) readable by their owner alone;
- **database role**: the application role (the one the service runs as) holds neither UPDATE,
  DELETE nor TRUNCATE on any evidence table (``has_table_privilege``), and each statement,
  tried in a transaction that is rolled back, is refused;
- **triggers**: the append-only triggers exist on every evidence table, are enabled and call
  the function that refuses the change;
- **chain identity**: the node's chain id and the contract's code are the ones ``ledger_meta``
  remembers, and that code is the reproducible build's;
- **log key**: the log key file, ``ledger_meta`` and the trust file (or the service's
  ``/v1/trust``) name the same key, origin, chain and contract;
- **clock**: this machine's clock against the database's and the chain's, within stated
  tolerances;
- **round trip**: the report itself, signed by the audit key, submitted to the API, sealed,
  anchored, its receipt verified with :mod:`evledger_verify` (offline and on the node);
- warnings for what is fine on a laptop and not in a plant: a database that lets a local user
  in as superuser without a password, a chain whose admin methods answer anyone, an API bound
  beyond localhost without TLS in front.

The report is logged as a signed ``validation`` record (kind ``iq-selftest``, outcome passed
or failed, the counts of checks, the SHA-256 of the report's RFC 8785 form, each check in its
``details``), recorded by the audit key.
"""

from __future__ import annotations

import getpass
import hashlib
import importlib.metadata
import ipaddress
import json
import os
import re
import secrets
import socket
import stat
import time
import tomllib
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_typing import Hash32
from evledger_verify.checkpoint import verifier_key_string
from evledger_verify.errors import FormatError
from evledger_verify.receipt import Trust, verify_receipt
from evledger_verify.records import (
    Domain,
    canonical_json,
    eip712_digest,
    record_hash,
)
from evledger_verify.rpc import RpcClient, check_receipt_on_chains

from ledger.chain import Chain, built_code_keccak
from ledger.config import Settings
from ledger.db import APP_ROLE
from ledger.errors import ConfigError, LedgerError
from ledger.identity import Identity
from ledger.keys import load_account, load_log_key, log_public_key

__all__ = [
    "CHAIN_SKEW_TOLERANCE",
    "DB_SKEW_TOLERANCE",
    "EVIDENCE_TABLES",
    "LOCKFILE_NAMES",
    "Check",
    "Installation",
    "SelfTest",
    "find_lockfile",
    "read_lockfile",
]

#: Tables whose rows are evidence: append-only for everyone (triggers, migrations 0001, 0007,
#: 0009, 0010), SELECT and INSERT only for the application role (0002 and the same).
EVIDENCE_TABLES = (
    "records",
    "log_leaves",
    "tree_nodes",
    "checkpoints",
    "anchors",
    "ledger_meta",
    "anchor_states",
    "anchor_submissions",
    "anchor_proofs",
)
#: The function every append-only trigger calls (migration 0001).
REFUSE_FUNCTION = "evledger_refuse_change"

#: Seconds this machine's clock may differ from the database's (both keep NTP time; one
#: machine or one LAN).
DB_SKEW_TOLERANCE = 5.0
#: Seconds this machine's clock may differ from the chain's: block timestamps follow the
#: proposers' clocks and blocks come every few seconds (12 s on Ethereum).
CHAIN_SKEW_TOLERANCE = 60.0

#: Where the Python lockfile is looked for in the checkout, in this order (``--lockfile``
#: names another, such as a release's ``requirements.lock`` where no checkout is):
#: ``requirements-dev.lock`` is what ``make setup`` installs (``make lock`` writes it), and
#: ``requirements.lock`` a release's run time, held to the same versions. Requirements files
#: with ``==`` pins (``uv pip compile``, pip-tools), uv's ``uv.lock`` and PEP 751's
#: ``pylock.toml`` are read.
LOCKFILE_NAMES = (
    "requirements-dev.lock",
    "requirements.lock",
    "pylock.toml",
    "uv.lock",
)
#: Installer tools a lockfile does not pin, and the project's own packages (from the checkout).
_UNLOCKED_OK = {"pip", "setuptools", "wheel", "evledger", "evledger-verify", "evledger-ingest"}

OK, FAIL, WARN = "ok", "FAIL", "warn"


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # ok, FAIL or warn
    detail: str

    def to_json(self) -> dict[str, str]:
        return {"check": self.name, "status": self.status, "detail": self.detail}

    def __str__(self) -> str:
        return f"{self.status:<4} {self.name:<16} {self.detail}"


# -- the lockfile ------------------------------------------------------------------------------


def _norm(name: str) -> str:
    """PEP 503 normalised distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def checkout_root() -> Path | None:
    """The evledger checkout this code runs from (None when installed from a wheel)."""
    root = Path(__file__).resolve().parent.parent
    try:
        project = tomllib.loads((root / "pyproject.toml").read_text()).get("project", {})
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    return root if isinstance(project, dict) and project.get("name") == "evledger" else None


def find_lockfile(root: Path | None) -> Path | None:
    """The first of :data:`LOCKFILE_NAMES` in ``root`` (the checkout), then any
    ``requirements*.lock`` there; outside a checkout, a ``requirements.lock`` installed with
    the ``ledger`` package (a release may ship its lock so)."""
    if root is None:
        shipped = Path(__file__).resolve().parent / "requirements.lock"
        return shipped if shipped.is_file() else None
    for name in LOCKFILE_NAMES:
        if (root / name).is_file():
            return root / name
    found = sorted(root.glob("requirements*.lock"))
    return found[0] if found else None


_PIN = re.compile(
    r"^([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*==\s*([^\s;\\]+)\s*(;[^\\]*)?"
)


def _marker_applies(marker: str | None) -> bool:
    if not marker:
        return True
    try:
        from packaging.markers import InvalidMarker, Marker
    except ImportError:  # pragma: no cover - packaging comes with pip
        return True
    try:
        return bool(Marker(marker).evaluate())
    except InvalidMarker:
        return True


def read_lockfile(path: Path) -> tuple[dict[str, str], bool]:
    """The pinned versions by normalised name (those whose markers apply here), and whether
    every pin carries a hash. Raises ValueError when the file is not a lockfile."""
    text = path.read_text()
    pins: dict[str, str] = {}
    if path.suffix == ".toml" or path.name == "uv.lock":
        doc = tomllib.loads(text)
        packages = doc.get("packages", doc.get("package"))
        if not isinstance(packages, list):
            raise ValueError(f"{path.name}: no [[packages]] or [[package]] tables")
        hashed = True
        for p in packages:
            if not isinstance(p, dict) or "name" not in p:
                continue
            if not _marker_applies(p.get("marker")):
                continue
            version = p.get("version")
            if isinstance(version, str):
                pins[_norm(str(p["name"]))] = version
                artifacts = [p.get("sdist"), *(p.get("wheels") or [])]
                if not any(
                    isinstance(a, dict) and (a.get("hash") or a.get("hashes")) for a in artifacts
                ):
                    hashed = False
        return pins, hashed
    logical = re.sub(r"\\\n", " ", text)
    hashed = True
    for line in logical.splitlines():
        line = line.split(" #", 1)[0].strip()
        if not line or line.startswith(("#", "-")):
            continue
        m = _PIN.match(line)
        if m is None:
            continue
        marker = m.group(3)[1:].split("--hash", 1)[0].strip() if m.group(3) else None
        if not _marker_applies(marker):
            continue
        pins[_norm(m.group(1))] = m.group(2)
        hashed = hashed and "--hash=" in line
    if not pins:
        raise ValueError(f"{path.name}: no name==version pins")
    return pins, hashed


def installed_versions() -> dict[str, str]:
    out: dict[str, str] = {}
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            out[_norm(str(name))] = dist.version
    return out


# -- the installation --------------------------------------------------------------------------


@dataclass
class Installation:
    """Where the running ledger is, as ``evledger up`` wrote it (``runtime.json``) and the
    environment says."""

    settings: Settings
    api_url: str
    rpc_url: str
    #: The application role's URL, with its password (never printed).
    app_db_url: str
    lockfile: Path | None = None
    trust_path: Path | None = None
    #: Seconds to wait for the round trip's record to be anchored.
    wait: float = 60.0


def _redact(text: str) -> str:
    """A message with any URL's password masked."""
    return re.sub(r"(://[^:/@\s]+:)[^@\s]+@", r"\1***@", text)


@dataclass
class SelfTest:
    inst: Installation
    checks: list[Check] = field(default_factory=list)
    #: The record the report was logged as (None until logged).
    record_id: str | None = None
    clock: Callable[[], float] = time.time
    #: This machine's log key as a verifier key string, once read.
    _log_key: str | None = field(default=None, init=False, repr=False)

    # -- helpers -------------------------------------------------------------------------

    def _add(self, name: str, status: str, detail: str) -> None:
        self.checks.append(Check(name, status, _redact(detail)))

    def _run(self, name: str, fn: Callable[[], None]) -> None:
        """Run one check; an error that stops it is that check's failure, never the end."""
        try:
            fn()
        except Exception as exc:  # any check that cannot run is that check's failure
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            self._add(name, FAIL, f"could not check: {exc.__class__.__name__}: {first}")

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if c.status == FAIL]

    @property
    def ok(self) -> bool:
        return not self.failures

    # -- the run ---------------------------------------------------------------------------

    def run(self) -> list[Check]:
        self.checks = []
        self.engine = sa.create_engine(self.inst.app_db_url, pool_size=1, pool_pre_ping=True)
        try:
            self.identity: Identity | None = None
            self._log_key = None
            self._run("versions", self.check_versions)
            self._run("key files", self.check_key_files)
            self._run("database role", self.check_role)
            self._run("triggers", self.check_triggers)
            self._run("chain identity", self.check_chain)
            self._run("log key", self.check_log_key)
            self._run("clock: database", self.check_db_clock)
            self._run("clock: chain", self.check_chain_clock)
            self._run("db superuser", self.warn_superuser)
            self._run("chain admin", self.warn_chain_admin)
            self._run("api binding", self.warn_binding)
            self._run("round trip", self.round_trip)
        finally:
            self.engine.dispose()
        return self.checks

    # -- versions --------------------------------------------------------------------------

    def check_versions(self) -> None:
        path = self.inst.lockfile or find_lockfile(checkout_root())
        if path is None:
            self._add(
                "versions",
                FAIL,
                "no lockfile: none of "
                + ", ".join(LOCKFILE_NAMES)
                + " in the checkout (or ledger/requirements.lock in a release); name one with "
                "--lockfile (a validated state is a locked one)",
            )
            return
        try:
            pins, hashed = read_lockfile(path)
        except (OSError, ValueError, tomllib.TOMLDecodeError) as exc:
            self._add("versions", FAIL, f"lockfile {path}: {exc}")
            return
        installed = installed_versions()
        differ = [
            f"{name} {installed[name]} (locked {want})"
            for name, want in sorted(pins.items())
            if name in installed and installed[name] != want
        ]
        absent = sorted(n for n in pins if n not in installed)
        unlocked = sorted(n for n in installed if n not in pins and n not in _UNLOCKED_OK)
        where = f"{path.name}: {len(pins)} pins"
        if differ:
            self._add("versions", FAIL, f"{where}; installed differ: {', '.join(differ[:20])}")
        else:
            note = (
                f"; {len(absent)} locked, not installed ({', '.join(absent[:5])})" if absent else ""
            )
            self._add(
                "versions",
                OK,
                f"{where}, every installed one at its locked version"
                + ("" if hashed else " (some pins carry no hash)")
                + note,
            )
        if unlocked:
            self._add(
                "versions",
                WARN,
                f"installed but not in {path.name}: {', '.join(unlocked[:20])}",
            )

    # -- key files -------------------------------------------------------------------------

    def check_key_files(self) -> None:
        keys = self.inst.settings.keys_dir
        if not keys.is_dir():
            self._add("key files", FAIL, f"no keys folder {keys}: is this the ledger's home?")
            return
        bad: list[str] = []
        dir_mode = keys.stat().st_mode
        if dir_mode & (stat.S_IRWXG | stat.S_IRWXO):
            bad.append(f"{keys} is mode {oct(dir_mode & 0o777)}: run chmod 700 {keys}")
        files = sorted(p for p in keys.iterdir() if p.is_file())
        for p in files:
            mode = p.stat().st_mode
            if mode & (stat.S_IRWXG | stat.S_IRWXO):
                bad.append(f"{p} is mode {oct(mode & 0o777)}: run chmod 600 {p}")
        needed = ["log.key", "anchorer.key", "audit.key"]
        if not (self.inst.settings.app_db_password or self.inst.settings.app_database_url):
            needed.append("app-db.password")
        missing = [n for n in needed if not (keys / n).is_file()]
        if missing:
            bad.append(f"missing in {keys}: {', '.join(missing)}")
        if bad:
            self._add("key files", FAIL, "; ".join(bad))
        else:
            self._add(
                "key files",
                OK,
                f"{len(files)} files in {keys} readable by their owner only "
                f"({', '.join(p.name for p in files)})",
            )

    # -- the database ----------------------------------------------------------------------

    def check_role(self) -> None:
        granted: list[str] = []
        accepted: list[str] = []
        by_trigger: list[str] = []
        tried = 0
        with self.engine.connect() as conn:
            user, superuser, bypass = conn.execute(
                sa.text(
                    "SELECT current_user, rolsuper, rolbypassrls FROM pg_roles "
                    "WHERE rolname = current_user"
                )
            ).one()
            if superuser:
                self._add(
                    "database role",
                    FAIL,
                    f"the service connects as {user}, a superuser: triggers do not bind it",
                )
                return
            tables = _present_tables(conn)
            for table in tables:
                for priv in ("UPDATE", "DELETE", "TRUNCATE"):
                    if conn.execute(
                        sa.text("SELECT has_table_privilege(current_user, :t, :p)"),
                        {"t": table, "p": priv},
                    ).scalar():
                        granted.append(f"{priv} on {table}")
            # Each statement is tried on one row (TRUNCATE only where it is not granted) and
            # must be refused; whatever happens is rolled back. Names are the constant tables'
            # and their first column's, quoted as identifiers.
            one = "ctid = (SELECT ctid FROM {t} LIMIT 1)"
            attempts = {
                "UPDATE": "UPDATE {t} SET {c} = {c} WHERE " + one,  # noqa: S608
                "DELETE": "DELETE FROM {t} WHERE " + one,  # noqa: S608
                "TRUNCATE": "TRUNCATE {t}",
            }
            quote = conn.dialect.identifier_preparer.quote
            conn.rollback()
            trans = conn.begin()
            try:
                conn.execute(sa.text("SET LOCAL lock_timeout = '2s'"))
                conn.execute(sa.text("SET LOCAL statement_timeout = '5s'"))
                for table in tables:
                    column = conn.execute(
                        sa.text(
                            "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(:t) "
                            "AND attnum > 0 AND NOT attisdropped ORDER BY attnum LIMIT 1"
                        ),
                        {"t": table},
                    ).scalar_one()
                    for priv, sql in attempts.items():
                        if priv == "TRUNCATE" and f"{priv} on {table}" in granted:
                            continue
                        tried += 1
                        savepoint = conn.begin_nested()
                        try:
                            conn.execute(sa.text(sql.format(t=quote(table), c=quote(column))))
                        except sa.exc.DBAPIError as exc:
                            code = getattr(exc.orig, "pgcode", None)
                            savepoint.rollback()
                            if code != "42501":  # insufficient_privilege
                                accepted.append(f"{priv} on {table} (error {code})")
                            elif "append-only" in str(exc.orig):
                                by_trigger.append(f"{priv} on {table}")
                            continue
                        savepoint.rollback()
                        accepted.append(f"{priv} on {table}")
            finally:
                trans.rollback()
        problems = []
        if granted:
            problems.append(f"{user} is granted {', '.join(granted)}")
        if accepted:
            problems.append(f"{user} was not refused {', '.join(accepted)}")
        if by_trigger:
            problems.append(f"{', '.join(by_trigger)} was refused only by the append-only trigger")
        if bypass:
            problems.append(f"{user} bypasses row-level security")
        if user != APP_ROLE:
            problems.append(f"the service's role is {user}, not {APP_ROLE}")
        if problems:
            self._add(
                "database role",
                FAIL,
                "; ".join(problems)
                + (
                    f"; revoke it (REVOKE UPDATE, DELETE, TRUNCATE ON ... FROM {user})"
                    if granted
                    else ""
                ),
            )
        else:
            self._add(
                "database role",
                OK,
                f"{user}: no UPDATE, DELETE or TRUNCATE on the {len(tables)} evidence tables "
                f"(privileges), and each of the {tried} statements tried was refused",
            )

    def check_triggers(self) -> None:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT c.relname, t.tgname, t.tgenabled, p.proname, p.prosrc "
                    "FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                    "JOIN pg_proc p ON p.oid = t.tgfoid WHERE NOT t.tgisinternal "
                    "AND c.relname = ANY(:tables)"
                ),
                {"tables": list(EVIDENCE_TABLES)},
            ).all()
            present = _present_tables(conn)
        found = {(r[0], r[1]): r for r in rows}
        problems = []
        for table in sorted(present):
            for kind in ("append_only", "no_truncate"):
                name = f"{table}_{kind}"
                row = found.get((table, name))
                if row is None:
                    problems.append(f"{name} is missing")
                elif row[2] not in ("O", "A"):  # D: disabled, R: fires only for replicas
                    problems.append(f"{name} is disabled (tgenabled {row[2]!r})")
                elif row[3] != REFUSE_FUNCTION or "RAISE EXCEPTION" not in str(row[4]).upper():
                    problems.append(f"{name} calls {row[3]}, not a refusal")
        if problems:
            self._add("triggers", FAIL, "; ".join(problems))
        else:
            self._add(
                "triggers",
                OK,
                f"{2 * len(present)} append-only triggers enabled on {len(present)} tables, "
                f"each calling {REFUSE_FUNCTION}()",
            )

    def _identity(self) -> Identity:
        if self.identity is None:
            with self.engine.connect() as conn:
                found = Identity.load(conn)
            if found is None:
                raise ConfigError("ledger_meta holds no ledger")
            self.identity = found
        return self.identity

    # -- the chain and the log key ---------------------------------------------------------

    def check_chain(self) -> None:
        ident = self._identity()
        built = built_code_keccak()
        urls = {ident.chain_id: self.inst.rpc_url, **dict(self.inst.settings.extra_chains)}
        problems, seen = [], []
        for target in ident.chains:
            url = urls.get(target.chain_id)
            if target.code_keccak != built:
                problems.append(
                    f"ledger_meta's contract code for chain {target.chain_id} is not the "
                    "reproducible build's (contracts/EvidenceAnchor.json)"
                )
            if url is None:
                problems.append(f"chain {target.chain_id}: no RPC URL configured")
                continue
            try:
                Chain(url, Account.create(), timeout=10).check_identity(
                    target.chain_id, target.contract, target.code_keccak
                )
            except LedgerError as exc:
                problems.append(str(exc))
                continue
            seen.append(f"chain {target.chain_id} contract {target.contract}")
        if problems:
            self._add("chain identity", FAIL, "; ".join(problems))
        else:
            self._add(
                "chain identity",
                OK,
                f"{'; '.join(seen)}: chain id and code as ledger_meta remembers, code as built",
            )

    def _log_key_string(self) -> str:
        """This machine's log key file as a verifier key string (read once, never created)."""
        if self._log_key is None:
            path = self.inst.settings.keys_dir / "log.key"
            self._log_key = verifier_key_string(
                self._identity().log_origin, log_public_key(load_log_key(path))
            )
        return self._log_key

    def check_log_key(self) -> None:
        ident = self._identity()
        path = self.inst.settings.keys_dir / "log.key"
        if not path.is_file():
            self._add("log key", FAIL, f"no log key file {path}")
            return
        mine = self._log_key_string()
        problems = []
        if mine != ident.log_public_key:
            problems.append(f"{path} is not the key ledger_meta names ({ident.log_public_key})")
        if self.inst.trust_path is not None:
            source = f"trust file {self.inst.trust_path}"
            try:
                trust_json = json.loads(self.inst.trust_path.read_text())
                trust = Trust.from_json(trust_json)
            except (OSError, ValueError, FormatError) as exc:
                self._add("log key", FAIL, f"{source}: {exc}")
                return
        else:
            source = f"the service's trust ({self.inst.api_url}/v1/trust)"
            resp = httpx.get(f"{self.inst.api_url}/v1/trust", timeout=10)
            resp.raise_for_status()
            try:
                trust = Trust.from_json(resp.json())
            except (ValueError, FormatError) as exc:
                self._add("log key", FAIL, f"{source}: {exc}")
                return
        theirs = verifier_key_string(trust.log_key.name, trust.log_key.public_key)
        if theirs != mine:
            problems.append(f"{source} names another log key ({theirs}), not {path}'s ({mine})")
        if trust.log_origin != ident.log_origin:
            problems.append(f"{source} names log origin {trust.log_origin}, not {ident.log_origin}")
        if (trust.chain_id, trust.contract.lower()) != (ident.chain_id, ident.contract.lower()):
            problems.append(
                f"{source} names chain {trust.chain_id} contract {trust.contract}, the ledger "
                f"is chain {ident.chain_id} contract {ident.contract}"
            )
        if problems:
            self._add("log key", FAIL, "; ".join(problems))
        else:
            self._add("log key", OK, f"{path.name}, ledger_meta and {source} agree: {mine}")

    # -- clocks ----------------------------------------------------------------------------

    def check_db_clock(self) -> None:
        with self.engine.connect() as conn:
            before = self.clock()
            db = conn.execute(sa.text("SELECT extract(epoch FROM clock_timestamp())")).scalar_one()
            after = self.clock()
        skew = float(db) - (before + after) / 2
        status = OK if abs(skew) <= DB_SKEW_TOLERANCE + (after - before) / 2 else FAIL
        self._add(
            "clock: database",
            status,
            f"database clock {skew:+.2f} s from this machine's (tolerance {DB_SKEW_TOLERANCE:g} s)",
        )

    def _rpc(self, method: str, *params: Any) -> Any:
        resp = httpx.post(
            self.inst.rpc_url,
            json={"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)},
            timeout=10,
        )
        resp.raise_for_status()
        return resp.json()

    def _dev_chain(self) -> bool:
        """Whether the node answers development methods (Anvil, Hardhat) to anyone."""
        for method in ("anvil_nodeInfo", "hardhat_metadata"):
            try:
                answer = self._rpc(method)
            except (httpx.HTTPError, ValueError):
                continue
            if isinstance(answer, dict) and answer.get("result") is not None:
                return True
        return False

    def check_chain_clock(self) -> None:
        now = self.clock()
        block = self._rpc("eth_getBlockByNumber", "latest", False).get("result") or {}
        stamp = int(str(block.get("timestamp", "0x0")), 16)
        number = int(str(block.get("number", "0x0")), 16)
        age = now - stamp
        tol = CHAIN_SKEW_TOLERANCE
        if age < -tol:
            self._add(
                "clock: chain",
                FAIL,
                f"block {number} is dated {-age:.0f} s after this machine's time: this clock is "
                f"behind (tolerance {tol:g} s)",
            )
        elif age > tol and not self._dev_chain():
            self._add(
                "clock: chain",
                FAIL,
                f"the latest block {number} is {age:.0f} s old: this clock is ahead or the "
                f"node is behind (tolerance {tol:g} s)",
            )
        else:
            extra = (
                "; a chain that mines on demand: the round trip's anchor block is checked too"
                if age > tol
                else ""
            )
            self._add(
                "clock: chain",
                OK,
                f"latest block {number} dated {age:+.0f} s before this machine's time "
                f"(tolerance {tol:g} s){extra}",
            )

    # -- warnings --------------------------------------------------------------------------

    def warn_superuser(self) -> None:
        url = sa.make_url(self.inst.app_db_url)
        let_in = []
        # No password from anywhere: not from ~/.pgpass (passfile), nor from PGPASSWORD.
        saved = os.environ.pop("PGPASSWORD", None)
        try:
            for user in dict.fromkeys(("postgres", getpass.getuser())):
                if self._superuser_without_password(url.set(username=user, password=None)):
                    let_in.append(user)
        finally:
            if saved is not None:
                os.environ["PGPASSWORD"] = saved
        where = url.host or (url.query.get("host") or "the local socket")
        if let_in:
            self._add(
                "db superuser",
                WARN,
                f"the database at {where} lets {', '.join(let_in)} in as superuser without a "
                "password (the embedded default: trust): fine on a laptop; in a plant use a "
                "server that asks for passwords (DATABASE_URL)",
            )
        else:
            self._add("db superuser", OK, "no superuser let in without a password")

    @staticmethod
    def _superuser_without_password(url: sa.URL) -> bool:
        probe = sa.create_engine(
            url,
            poolclass=sa.pool.NullPool,
            connect_args={"connect_timeout": 3, "passfile": os.devnull},
        )
        try:
            with probe.connect() as conn:
                return bool(
                    conn.execute(
                        sa.text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
                    ).scalar()
                )
        except sa.exc.SQLAlchemyError:
            return False
        finally:
            probe.dispose()

    def warn_chain_admin(self) -> None:
        if self._dev_chain():
            self._add(
                "chain admin",
                WARN,
                f"the node at {self.inst.rpc_url} answers development admin methods "
                "(anvil_/hardhat_) to anyone: a development chain, fine on a laptop; in a plant "
                "anchor on a public chain or a node that answers only standard methods",
            )
        else:
            self._add("chain admin", OK, "the node answers no development admin methods")

    def warn_binding(self) -> None:
        host = urllib.parse.urlsplit(self.inst.api_url).hostname or ""
        try:
            loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
        except ValueError:
            try:
                loopback = ipaddress.ip_address(socket.gethostbyname(host)).is_loopback
            except (OSError, ValueError):
                loopback = False
        public = self.inst.settings.public_url
        if loopback:
            self._add("api binding", OK, f"bound to {host} (this machine only)")
        elif public and public.startswith("https://"):
            self._add(
                "api binding",
                OK,
                f"bound to {host}, reached at {public} (TLS in front, as configured)",
            )
        else:
            self._add(
                "api binding",
                WARN,
                f"the API is bound to {host} beyond localhost and no https EVLEDGER_PUBLIC_URL "
                "says TLS is in front: put a TLS proxy in front and set EVLEDGER_PUBLIC_URL",
            )

    # -- round trip ------------------------------------------------------------------------

    def report_record(self, host: str) -> dict[str, Any]:
        failed = self.failures
        checks = [c.to_json() for c in self.checks]
        checks.append(
            {
                "check": "round trip",
                "status": "this record",
                "detail": "this record's receipt, anchored and verified, is the round trip",
            }
        )
        now = int(self.clock())
        rid = f"selftest-{now}-{secrets.token_hex(4)}"
        summary = (
            f"{len(checks) - 1} checks passed"
            if not failed
            else f"{len(failed)} failed: {', '.join(dict.fromkeys(c.name for c in failed))}"
        )
        details = {
            "selftest": "installation qualification",
            "host": host,
            "tolerances": {
                "database_clock_s": f"{DB_SKEW_TOLERANCE:g}",
                "chain_clock_s": f"{CHAIN_SKEW_TOLERANCE:g}",
            },
            "checks": checks,
        }
        statuses = [c.status for c in self.checks]
        return {
            "record_id": rid,
            "type": "validation",
            "schema": "validation/1",
            "validation_id": rid,
            "kind": "iq-selftest",
            # The report (its details) in RFC 8785 form: what the record states it checked.
            "sha256": hashlib.sha256(canonical_json(details)).hexdigest(),
            "outcome": "failed" if failed else "passed",
            "summary": {
                "checks": len(statuses),
                "passed": statuses.count(OK),
                "failed": statuses.count(FAIL),
                "warnings": statuses.count(WARN),
            },
            "software": f"evledger {installed_versions().get('evledger', 'unknown')}",
            "host": host[:200] or "unknown",
            "description": f"evledger selftest (installation qualification) on {host}: {summary}",
            "details": details,
        }

    def round_trip(self) -> None:
        ident = self._identity()
        keys = self.inst.settings.keys_dir
        account: LocalAccount = load_account(keys / "audit.key", "audit key")
        record = self.report_record(socket.gethostname())
        signed_at = int(self.clock())
        digest = eip712_digest(
            Domain(ident.chain_id, ident.contract),
            record["record_id"],
            record["type"],
            record_hash(record),
            "recorded",
            signed_at,
        )
        signature = account.unsafe_sign_hash(Hash32(digest)).signature.to_0x_hex()
        sent = self.clock()
        api = self.inst.api_url
        resp = httpx.post(
            f"{api}/v1/records",
            json={
                "record": record,
                "signature": signature,
                "meaning": "recorded",
                "signed_at": signed_at,
                "signer": account.address,
            },
            timeout=30,
        )
        if resp.status_code >= 300:
            self._add(
                "round trip",
                FAIL,
                f"POST {api}/v1/records refused the report ({resp.status_code}): {resp.text[:300]}",
            )
            return
        self.record_id = record["record_id"]
        receipt: dict[str, Any] = {}
        deadline = self.clock() + self.inst.wait
        path = f"{api}/v1/records/{urllib.parse.quote(record['record_id'], safe='')}/receipt"
        while True:
            got = httpx.get(path, timeout=30)
            if got.status_code == 200:
                receipt = got.json()
                if receipt.get("status") == "anchored":
                    break
            if self.clock() > deadline:
                self._add(
                    "round trip",
                    FAIL,
                    f"record {self.record_id} accepted but not anchored within "
                    f"{self.inst.wait:g} s (status {receipt.get('status', got.status_code)})",
                )
                return
            time.sleep(0.25)
        # Verified against the ledger's chain and contract and this machine's log key file,
        # not against anything the database or the service says about the key.
        mine = self._log_key_string()
        trust = Trust.from_json({**ident.trust(), "log_public_key": mine})
        node = RpcClient(self.inst.rpc_url)
        report, _ = verify_receipt(
            receipt,
            trust,
            record,
            on_chain=lambda r, tally, rep: check_receipt_on_chains([node], r, tally, rep),
        )
        if not report.ok:
            bad = [f"{c.name}: {c.detail}" for c in report.checks if not c.ok]
            why = report.could_not_check or "; ".join(bad)
            self._add("round trip", FAIL, f"receipt of {self.record_id} does not verify: {why}")
            return
        detail = (
            f"report logged as record {self.record_id}, signed by the audit key "
            f"{account.address}, anchored, receipt verified ({len(report.checks)} checks, "
            "on the node too)"
        )
        # The anchor's block was mined between sending and now: its time checks this clock.
        anchor = receipt.get("anchor")
        number = anchor.get("block_number") if isinstance(anchor, dict) else None
        if isinstance(number, int):
            block = self._rpc("eth_getBlockByNumber", hex(number), False).get("result") or {}
            stamp = int(str(block.get("timestamp", "0x0")), 16)
            tol = CHAIN_SKEW_TOLERANCE
            if not sent - tol <= stamp <= self.clock() + tol:
                self._add(
                    "round trip",
                    FAIL,
                    f"{detail}; but its anchor block {number} is dated {stamp - int(sent):+d} s "
                    f"from when it was sent: the clocks differ by more than {tol:g} s",
                )
                return
            detail += (
                f"; anchor block {number} dated {stamp - int(sent):+d} s from sending "
                f"(tolerance {tol:g} s)"
            )
        self._add("round trip", OK, detail)


def _present_tables(conn: sa.Connection) -> list[str]:
    """The evidence tables this database has (an older schema lacks the newer ones)."""
    return [
        t
        for t in EVIDENCE_TABLES
        if conn.execute(sa.text("SELECT to_regclass(:t)"), {"t": t}).scalar() is not None
    ]


def locate(
    settings: Settings,
    runtime: dict[str, Any],
    api_url: str | None,
    password: Callable[[], str],
) -> tuple[str, str, str]:
    """(API URL, RPC URL, app role database URL) of the running ledger; ConfigError naming
    what is missing when nothing runs here."""
    from ledger.db import app_url

    owner = settings.database_url or runtime.get("database_url")
    rpc = settings.rpc_url or runtime.get("rpc_url")
    api = api_url or runtime.get("api_url")
    if not (owner or settings.app_database_url) or not rpc or not api:
        raise ConfigError(
            f"no running ledger here: no {settings.home / 'runtime.json'} (start it with "
            "`make run` or `evledger up`), and DATABASE_URL, ETH_RPC_URL and EVLEDGER_API_URL "
            "are not all set"
        )
    db = settings.app_database_url or app_url(str(owner), password())
    return str(api).rstrip("/"), str(rpc), db


def summary_lines(checks: Iterable[Check]) -> list[str]:
    return [str(c) for c in checks]
