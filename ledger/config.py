"""Settings, from the environment. Unsafe combinations are refused, not defaulted."""

from __future__ import annotations

import os
import tomllib
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from evledger_verify.policy import Policy, PolicyError

from ledger.errors import ConfigError

__all__ = ["Settings", "find_home"]

HOME_DIR = ".evledger"
#: Chains a checkpoint is anchored on besides the primary one (receipts carry one anchor each).
MAX_EXTRA_CHAINS = 8


def _is_checkout(folder: Path) -> bool:
    """Whether ``folder`` is the root of an evledger checkout (its pyproject names it)."""
    try:
        project = tomllib.loads((folder / "pyproject.toml").read_text()).get("project", {})
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return False
    return isinstance(project, dict) and project.get("name") == "evledger"


def find_home(start: Path) -> Path:
    """The ledger's home when ``EVLEDGER_HOME`` is unset: ``.evledger`` in the nearest folder,
    from ``start`` upwards, that already has one or is the root of the evledger checkout;
    ``start/.evledger`` when there is none. So every command run anywhere inside a checkout
    (or below a folder holding a ledger) finds the same ledger, like git finds ``.git``."""
    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / HOME_DIR).is_dir() or _is_checkout(folder):
            return folder / HOME_DIR
    return start / HOME_DIR


def _int(name: str, default: int, low: int, high: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name}: expected an integer, got {raw!r}") from exc
    if not low <= value <= high:
        raise ConfigError(f"{name}: expected {low}..{high}, got {value}")
    return value


def _float(name: str, default: float, low: float, high: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise ConfigError(f"{name}: expected a number, got {raw!r}") from exc
    if not low <= value <= high:
        raise ConfigError(f"{name}: expected {low}..{high}, got {value}")
    return value


def _public_url(raw: str | None) -> str | None:
    """``EVLEDGER_PUBLIC_URL``: an http(s) address without query or fragment."""
    if not raw or not raw.strip():
        return None
    url = raw.strip().rstrip("/")
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc or parsed.query or (
        parsed.fragment
    ):
        raise ConfigError(
            "EVLEDGER_PUBLIC_URL: expected the address customers reach the ledger at, "
            f"http(s)://host[:port][/path] without query or fragment, got {raw!r}"
        )
    return url


def _chains(name: str) -> tuple[tuple[int, str], ...]:
    """``CHAIN_ID=URL`` pairs, comma-separated: the chains anchored on besides the primary one.
    The chain id is stated so the service knows each chain (its key, its contract) even while
    the node is down, and so a node on another chain is refused rather than written to."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return ()
    chains: dict[int, str] = {}
    for item in raw.split(","):
        ident, sep, url = item.strip().partition("=")
        try:
            chain_id = int(ident)
        except ValueError:
            chain_id = 0
        url = url.strip()
        if not sep or chain_id < 1 or not url.startswith(("http://", "https://")):
            raise ConfigError(
                f"{name}: expected CHAIN_ID=URL pairs separated by commas "
                f"(e.g. 31338=http://127.0.0.1:8546), got {item.strip()!r}"
            )
        if chain_id in chains:
            raise ConfigError(f"{name}: chain {chain_id} is named twice")
        chains[chain_id] = url
    if len(chains) > MAX_EXTRA_CHAINS:
        raise ConfigError(f"{name}: at most {MAX_EXTRA_CHAINS} chains, got {len(chains)}")
    return tuple(chains.items())


def _choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = os.environ.get(name) or default
    if value not in choices:
        raise ConfigError(f"{name}: expected one of {', '.join(choices)}, got {value!r}")
    return value


@dataclass(frozen=True)
class Settings:
    home: Path
    database_url: str | None
    app_database_url: str | None
    app_db_password: str | None
    rpc_url: str | None
    host: str
    port: int
    seal_interval: float
    anchor_interval: float
    max_body_bytes: int
    max_batch_items: int
    api_workers: int
    max_batch_bytes: int
    max_clock_skew: int
    #: Seconds a person's signature may be old on arrival (the policy's; a rule).
    max_signature_age: int
    max_device_backlog: int
    #: Seconds within which an accepted record is promised to be in a signed checkpoint.
    promise_delay: int = 300
    #: Blocks after which an anchor is final on a chain without a finalized tag; None: 1 on
    #: development chains (an auto-mining Anvil makes blocks only for transactions), 12
    #: elsewhere.
    confirmations: int | None = None
    #: auto (the finalized tag, confirmations on dev chains), tag, or confirmations.
    finality: str = "auto"
    #: (chain id, RPC URL) of each chain anchored on besides the primary one (ETH_RPC_URL).
    extra_chains: tuple[tuple[int, str], ...] = ()
    #: A policy file (TOML; evledger_verify.policy.Policy): the duties table, required stages,
    #: time limits. The environment's signature age and clock skew apply on top of it.
    policy_file: Path | None = None
    #: The folder of the built verification page (``verify.html``) that ``/verify`` serves;
    #: None: ``web/dist`` of the checkout (``make setup`` builds it there).
    web_dist: Path | None = None
    #: The address customers reach this ledger at (``https://ledger.example.com``), which
    #: certificates of conformance print in their QR codes; None: the address a request
    #: came in on.
    public_url: str | None = None

    def policy(self) -> Policy:
        """What the rules judge with: the policy file's settings (the defaults without one),
        with ``EVLEDGER_MAX_SIGNATURE_AGE`` and ``EVLEDGER_MAX_CLOCK_SKEW``."""
        base = Policy(max_signature_age=self.max_signature_age, max_clock_skew=self.max_clock_skew)
        if self.policy_file is None:
            return base
        try:
            return Policy.load(self.policy_file, base)
        except PolicyError as exc:
            raise ConfigError(str(exc)) from None

    @classmethod
    def from_env(cls) -> Settings:
        explicit = os.environ.get("EVLEDGER_HOME")
        home = Path(explicit).resolve() if explicit else find_home(Path.cwd())
        return cls(
            home=home,
            database_url=os.environ.get("DATABASE_URL") or None,
            app_database_url=os.environ.get("EVLEDGER_APP_DATABASE_URL") or None,
            app_db_password=os.environ.get("EVLEDGER_APP_DB_PASSWORD") or None,
            rpc_url=os.environ.get("ETH_RPC_URL") or None,
            host=os.environ.get("EVLEDGER_HOST", "127.0.0.1"),
            port=_int("EVLEDGER_PORT", 8000, 1, 65535),
            seal_interval=_float("EVLEDGER_SEAL_INTERVAL", 0.5, 0.01, 3600),
            anchor_interval=_float("EVLEDGER_ANCHOR_INTERVAL", 1.0, 0.05, 86400),
            max_body_bytes=_int("EVLEDGER_MAX_BODY_BYTES", 256 * 1024, 1024, 64 * 1024 * 1024),
            max_batch_items=_int("EVLEDGER_MAX_BATCH_ITEMS", 1000, 1, 100_000),
            # One API process per core (up to 8): Python runs one thread at a time per process.
            api_workers=_int("EVLEDGER_API_WORKERS", min(os.cpu_count() or 1, 8), 1, 64),
            max_batch_bytes=_int(
                "EVLEDGER_MAX_BATCH_BYTES", 8 * 1024 * 1024, 1024, 256 * 1024 * 1024
            ),
            max_clock_skew=_int("EVLEDGER_MAX_CLOCK_SKEW", 300, 0, 86400),
            # Minutes, not days: a person signs when submitting (Part 11 §11.50, §11.10(e)).
            max_signature_age=_int("EVLEDGER_MAX_SIGNATURE_AGE", 900, 60, 86400),
            # Devices sign at capture and keep records in their outbox through outages.
            max_device_backlog=_int(
                "EVLEDGER_MAX_DEVICE_BACKLOG", 30 * 86400, 60, 10 * 365 * 86400
            ),
            promise_delay=_int("EVLEDGER_PROMISE_DELAY", 300, 1, 30 * 86400),
            confirmations=(
                _int("EVLEDGER_CONFIRMATIONS", 1, 1, 10_000)
                if os.environ.get("EVLEDGER_CONFIRMATIONS")
                else None
            ),
            finality=_choice("EVLEDGER_FINALITY", "auto", ("auto", "tag", "confirmations")),
            extra_chains=_chains("EVLEDGER_EXTRA_CHAINS"),
            policy_file=(
                Path(os.environ["EVLEDGER_POLICY"]).resolve()
                if os.environ.get("EVLEDGER_POLICY")
                else None
            ),
            web_dist=(
                Path(os.environ["EVLEDGER_WEB_DIST"]).resolve()
                if os.environ.get("EVLEDGER_WEB_DIST")
                else None
            ),
            public_url=_public_url(os.environ.get("EVLEDGER_PUBLIC_URL")),
        )

    @property
    def keys_dir(self) -> Path:
        return self.home / "keys"
