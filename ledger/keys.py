"""The server's own key files: secp256k1 keys of the runtime's accounts (bootstrap admin,
anchorer, audit) and the Ed25519 log key.

A key file holds one hex private key and a newline, mode 0600: these keys sign unattended, so
no password protects them (the files' mode and the server's disk do). Keys come from files or
the environment, never from the repository, and are never logged. People's and devices' keys
are made and read by the client library (``ingest.client``: a person's in a password-protected
keystore v3 file, a device's in this same plain format), which runs without the server stack
and so cannot share this module.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from eth_account import Account
from eth_account.signers.local import LocalAccount

from ledger.errors import ConfigError

__all__ = [
    "ensure_account_key",
    "ensure_log_key",
    "load_account",
    "load_log_key",
    "log_public_key",
    "write_secret",
]


def write_secret(path: Path, text: str) -> None:
    """Create ``path`` with mode 0600 (refuses to overwrite)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)


def _read_secret(path: Path, what: str) -> str:
    try:
        mode = path.stat().st_mode
        text = path.read_text().strip()
    except OSError as exc:
        raise ConfigError(f"{what}: cannot read key file {path}: {exc.strerror}") from exc
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"{what}: key file {path} is readable by others (mode {oct(mode & 0o777)}); "
            f"run: chmod 600 {path}"
        )
    return text


def load_account(path: Path, what: str = "key") -> LocalAccount:
    text = _read_secret(path, what)
    try:
        account: LocalAccount = Account.from_key(text)
    except (ValueError, TypeError):
        # Do not chain the exception: its text could contain key material.
        raise ConfigError(f"{what}: {path} does not hold a hex secp256k1 private key") from None
    return account


def ensure_account_key(path: Path, what: str) -> tuple[LocalAccount, bool]:
    """Load the key at ``path``, generating it first if absent. Returns (account, created)."""
    if path.exists():
        return load_account(path, what), False
    key = "0x" + secrets.token_hex(32)
    write_secret(path, key + "\n")
    account: LocalAccount = Account.from_key(key)
    return account, True


def ensure_log_key(path: Path) -> Ed25519PrivateKey:
    """Load the log key at ``path``, generating it first if absent."""
    if not path.exists():
        write_secret(path, secrets.token_hex(32) + "\n")
    return load_log_key(path)


def load_log_key(path: Path) -> Ed25519PrivateKey:
    """Load the log key at ``path`` (never creates one)."""
    text = _read_secret(path, "log key")
    try:
        return Ed25519PrivateKey.from_private_bytes(bytes.fromhex(text))
    except ValueError as exc:
        raise ConfigError(f"log key: {path} does not hold a 32-byte hex Ed25519 seed") from exc


def ensure_app_db_password(keys_dir: Path, explicit: str | None, *, create: bool = True) -> str:
    """The application role's database password: ``EVLEDGER_APP_DB_PASSWORD`` when set, else
    one generated on the first start and kept in ``keys/app-db.password`` (mode 0600). A
    server that authenticates with passwords (scram-sha-256, as the postgres image does) then
    admits the role without any setting."""
    if explicit:
        return explicit
    path = keys_dir / "app-db.password"
    if not path.exists():
        if not create:
            raise ConfigError(
                f"app database password: no {path}: set EVLEDGER_APP_DB_PASSWORD or "
                "EVLEDGER_APP_DATABASE_URL, or run where the service's keys are"
            )
        write_secret(path, secrets.token_urlsafe(24) + "\n")
    return _read_secret(path, "app database password")


def log_public_key(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
