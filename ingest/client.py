"""The evledger client library: key files, signing, read tokens and the HTTP API.

One library for everything that submits records from outside the server: the ``evledger``
CLI, the demo, and the shop-floor ingesters, which run on a line PC without the server stack.
It depends on the verifier package (hashing, EIP-712, address rules) and ``httpx`` only.

    from ingest.client import Client, load_key

    key = load_key(Path("inspector.json"), allow_plain=False)   # a keystore: asks its password
    with Client("http://127.0.0.1:8000") as api:
        signed = key.sign(record, "authored", api.domain())   # signed once ...
        result = api.submit(signed)                           # ... sent until it lands
        receipt = api.receipt(signed.record_id, wait=60)

Retries: transport errors (connection refused or reset, timeouts) and answers 408, 502, 503,
504 are retried with capped exponential backoff and jitter. A retry re-sends the *same* signed
submission, so a retry after a lost answer gets 200 ``duplicate`` from the service, which
counts as success. Every other answer is final. Errors derive from :class:`ClientError`, whose
``exit_code`` is what a command line exits with (1 refused, 2 could not run).

Key files come in two formats, told apart by their content. A person's key is a keystore v3
file (Web3 Secret Storage: scrypt and AES-128-CTR, as geth, cast and wallets write and
import), so signing takes the file and its password; a device's key (a scanner station, a PLC
gateway) is a plain file holding one hex key, since no one is there to type a password.
:func:`load_key` reads both; a caller signing for a person passes ``allow_plain=False`` unless
plain files were explicitly allowed. A keystore's password comes from :class:`Passwords`: a
password file, else a prompt on the terminal, never a variable holding the password.
"""

from __future__ import annotations

import copy
import getpass
import json
import os
import random
import secrets
import stat
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote

import coincurve
import httpx
from evledger_verify.errors import FormatError, SignatureInvalidError
from evledger_verify.receipt import Trust
from evledger_verify.records import (
    Domain,
    checksum_address,
    eip712_digest,
    keccak256,
    normalize_signature,
    record_hash,
    recover_signer,
)
from evledger_verify.tokens import (
    eip191_digest,
    format_token,
    token_expiry,
    token_message,
)

__all__ = [
    "ALLOW_PLAIN_ENV",
    "MAX_BATCH_ITEMS",
    "PASSWORD_FILE_ENV",
    "RETRY_STATUSES",
    "STANDARD_SCRYPT_N",
    "TEST_SCRYPT_ENV",
    "BatchResult",
    "Client",
    "ClientError",
    "InvalidInputError",
    "KeyFileError",
    "NoPasswordError",
    "Passwords",
    "PlainKeyRefusedError",
    "RefusedError",
    "ServiceError",
    "SignedSubmission",
    "SigningKey",
    "UnreachableError",
    "WrongPasswordError",
    "backoff_delay",
    "final_refusal",
    "load_key",
    "new_key",
    "new_keystore",
    "pause",
    "plain_keys_allowed_by_env",
    "scrypt_n_for_new_keys",
    "segment",
]

#: Answers worth another attempt: the request may not have been handled, or the service is
#: briefly unavailable. Everything else is final.
RETRY_STATUSES = frozenset({408, 502, 503, 504})


def backoff_delay(failures: int, base: float, cap: float, jitter: Callable[[], float]) -> float:
    """Capped exponential backoff with jitter: after ``failures`` failures, half of
    ``min(cap, base * 2**failures)`` plus a random part of the other half."""
    step = min(cap, base * 2.0 ** min(failures, 60))
    return step / 2 + jitter() * step / 2


def final_refusal(http_status: Any) -> bool:
    """A 4xx the service will answer again: refused for good, never worth resending."""
    return (
        isinstance(http_status, int)
        and 400 <= http_status < 500
        and (http_status not in RETRY_STATUSES)
    )


def pause(stop: threading.Event, seconds: float, sleep: Callable[[float], object] | None) -> None:
    """Wait ``seconds`` or until ``stop`` is set; an injected ``sleep`` (tests) replaces it."""
    if sleep is None:
        stop.wait(seconds)
    else:
        sleep(seconds)


#: The service's default item limit for ``POST /v1/records/batch``.
MAX_BATCH_ITEMS = 1000
_KEY_FILE_MAX_BYTES = 1024
#: A keystore v3 file is about 500 bytes; anything much larger is not one.
_KEYSTORE_MAX_BYTES = 16 * 1024
_PASSWORD_FILE_MAX_BYTES = 4096

#: The environment variable naming a password file for keystores (never the password itself).
PASSWORD_FILE_ENV = "EVLEDGER_KEY_PASSWORD_FILE"  # noqa: S105 (a variable name)
#: Set to 1 where plain key files are the explicit choice for signing (CI, devices).
ALLOW_PLAIN_ENV = "EVLEDGER_ALLOW_PLAIN_KEYS"
#: geth's "standard" scrypt cost (with r = 8, p = 1; about 256 MiB and half a second of CPU),
#: which eth-keyfile also writes: what ``evledger keys new`` uses.
STANDARD_SCRYPT_N = 1 << 18
#: Tests only: lowers the scrypt n of the keystores ``keys new`` and the demo write, so a test
#: suite can make many (a warning says so whenever it is used).
TEST_SCRYPT_ENV = "EVLEDGER_TEST_SCRYPT_N"
#: The most a keystore may ask of scrypt here (n * r * p, and 128 * n * r bytes of memory): a
#: file cannot make the loader spend minutes or gigabytes. Four times the standard cost.
_SCRYPT_MAX_COST = 1 << 23
_SCRYPT_MAX_MEMORY = 512 * 1024 * 1024
_PBKDF2_MAX_ROUNDS = 10_000_000


# -- errors -----------------------------------------------------------------------------------


class ClientError(Exception):
    """Root of every error this library raises on purpose; ``exit_code`` 2: could not run."""

    exit_code = 2


class KeyFileError(ClientError):
    """A key file is missing, unreadable, open to others, or holds no key. Never carries key
    material."""


class WrongPasswordError(KeyFileError):
    """The password does not open the keystore (its MAC does not match)."""


class NoPasswordError(KeyFileError):
    """A keystore needs a password and there is no way to get one (no password file, and no
    terminal to ask on), or the one given is unusable."""


class PlainKeyRefusedError(KeyFileError):
    """A plain (unencrypted) key file where a person's password-protected keystore is
    required and plain files were not explicitly allowed."""


class UnreachableError(ClientError):
    """The service did not answer (connection refused, reset, timed out), after every retry."""


class ServiceError(ClientError):
    """The service answered with a server error (5xx) or with something that is not its API."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class RefusedError(ClientError):
    """The service refused the request (4xx): ``status``, ``error`` code, ``detail`` and, when
    there are several, every one of the ``reasons``."""

    exit_code = 1

    def __init__(self, status: int, error: str, detail: str, reasons: Sequence[str] = ()) -> None:
        self.status, self.error, self.detail = status, error, detail
        self.reasons = list(reasons)
        text = f"refused ({status}) {error}: {detail}"
        super().__init__(text + "".join(f"\n  - {r}" for r in self.reasons))


class InvalidInputError(ClientError):
    """The input cannot be submitted as it is (checked here, before sending): exit code 1."""

    exit_code = 1


# -- keys ---------------------------------------------------------------------------------------


class SigningKey:
    """A secp256k1 signer key in memory; its address is the EIP-55 form of the last 20 bytes of
    keccak256 of the public key. ``repr`` shows the address only."""

    __slots__ = ("_key", "address")

    def __init__(self, secret: bytes) -> None:
        try:
            self._key = coincurve.PrivateKey(secret)
        except (ValueError, TypeError):
            raise ValueError("secp256k1 key: expected 32 bytes in 1..n-1") from None
        public = self._key.public_key.format(compressed=False)
        self.address: str = checksum_address("0x" + keccak256(public[1:])[-20:].hex())

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(secrets.token_bytes(32))

    def __repr__(self) -> str:
        return f"SigningKey({self.address})"

    def sign_digest(self, digest: bytes) -> str:
        """0x + r || s || v (v = 27 + recovery id) over a 32-byte digest; s is always low."""
        raw = self._key.sign_recoverable(digest, hasher=None)
        return "0x" + raw[:64].hex() + format(27 + raw[64], "02x")

    def sign(
        self,
        record: Mapping[str, Any],
        meaning: str,
        domain: Domain,
        signed_at: int | None = None,
    ) -> SignedSubmission:
        """Sign ``record`` (EIP-712: id, type, RFC 8785 hash, meaning, time) for one ledger."""
        rid, rtype = record.get("record_id"), record.get("type")
        if not isinstance(rid, str) or not isinstance(rtype, str):
            raise InvalidInputError(
                f"record: expected string record_id and type, got {rid!r} and {rtype!r}"
            )
        when = int(time.time()) if signed_at is None else signed_at
        try:
            digest = eip712_digest(domain, rid, rtype, record_hash(record), meaning, when)
        except FormatError as exc:
            raise InvalidInputError(str(exc)) from exc
        body = copy.deepcopy(dict(record))
        return SignedSubmission(body, self.sign_digest(digest), meaning, when, self.address)

    def read_token(self, origin: str, ttl: int = 3600, now: int | None = None) -> str:
        """A read token (``Authorization: Bearer``) for the ledger with log origin ``origin``."""
        try:
            expires = token_expiry(ttl, int(time.time()) if now is None else now)
        except FormatError as exc:
            raise InvalidInputError(str(exc)) from exc
        signature = self.sign_digest(eip191_digest(token_message(origin, self.address, expires)))
        return format_token(self.address, expires, signature)

    def _file_text(self) -> str:
        return "0x" + self._key.secret.hex() + "\n"


def scrypt_n_for_new_keys() -> int:
    """The scrypt n of new keystores: :data:`STANDARD_SCRYPT_N`, unless the test-only
    ``$EVLEDGER_TEST_SCRYPT_N`` lowers it (a power of 2 from 1024)."""
    raw = os.environ.get(TEST_SCRYPT_ENV, "").strip()
    if not raw:
        return STANDARD_SCRYPT_N
    n = int(raw) if raw.isdigit() else 0
    if not 1024 <= n <= STANDARD_SCRYPT_N or n & (n - 1):
        raise KeyFileError(
            f"{TEST_SCRYPT_ENV}: expected a power of 2 in 1024..{STANDARD_SCRYPT_N} (tests only)"
        )
    return n


def plain_keys_allowed_by_env() -> bool:
    """Whether ``EVLEDGER_ALLOW_PLAIN_KEYS`` explicitly allows plain key files (1, true, yes)."""
    return os.environ.get(ALLOW_PLAIN_ENV, "").strip().lower() in ("1", "true", "yes")


def _owner_only(mode: int, path: Path, what: str, kind: str) -> None:
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyFileError(
            f"{what}: {kind} {path} is readable by others (mode {oct(mode & 0o777)}); "
            f"run: chmod 600 {path}"
        )


class Passwords:
    """Where a keystore's password comes from, in this order: ``file`` (``--password-file``),
    the file named by ``$EVLEDGER_KEY_PASSWORD_FILE``, else a prompt on the terminal that does
    not echo. A password file is read up to its first newline and must be readable by its
    owner only. Without a file and without a terminal there is no password: an error, never
    a guess. ``prompt`` and ``interactive`` replace the terminal (tests)."""

    def __init__(
        self,
        file: str | Path | None = None,
        *,
        prompt: Callable[[str], str] | None = None,
        interactive: bool | None = None,
    ) -> None:
        named = file if file not in (None, "") else os.environ.get(PASSWORD_FILE_ENV) or None
        self.file: Path | None = Path(named) if named is not None else None
        self._prompt = prompt or getpass.getpass  # the terminal itself, else stderr
        self._interactive = interactive

    def _terminal(self) -> bool:
        if self._interactive is not None:
            return self._interactive
        try:
            return sys.stdin.isatty()
        except (AttributeError, ValueError):
            return False

    def get(self, path: Path, what: str, *, confirm: bool = False) -> bytes:
        """The password for the keystore ``path``; ``confirm`` (a new keystore) asks twice."""
        if self.file is not None:
            return self._from_file(self.file, what)
        if not self._terminal():
            raise NoPasswordError(
                f"{what}: keystore {path} needs its password and there is no terminal to ask "
                f"on: give --password-file FILE or set {PASSWORD_FILE_ENV}=FILE (a file "
                "readable only by you holding the password)"
            )
        try:
            first = self._prompt(f"Password for keystore {path}: ")
            if confirm:
                again = self._prompt(f"Password for keystore {path} (again): ")
                if again != first:
                    raise NoPasswordError(f"{what}: the two passwords differ; nothing written")
        except EOFError:
            raise NoPasswordError(f"{what}: no password given for keystore {path}") from None
        return first.encode("utf-8")

    @staticmethod
    def _from_file(file: Path, what: str) -> bytes:
        try:
            with open(file, "rb") as fh:
                mode = os.fstat(fh.fileno()).st_mode
                data = fh.read(_PASSWORD_FILE_MAX_BYTES + 1)
        except OSError as exc:
            raise NoPasswordError(
                f"{what}: cannot read password file {file}: {exc.strerror or exc}"
            ) from None
        _owner_only(mode, file, what, "password file")
        if len(data) > _PASSWORD_FILE_MAX_BYTES:
            raise NoPasswordError(
                f"{what}: password file {file}: expected one line of at most "
                f"{_PASSWORD_FILE_MAX_BYTES} bytes"
            )
        line = data.split(b"\n", 1)[0]
        return line[:-1] if line.endswith(b"\r") else line


def _hex_field(value: Any, size: int | None, name: str) -> bytes:
    if not isinstance(value, str) or len(value) > 2048:
        raise ValueError(f"{name}: expected hex")
    try:
        raw = bytes.fromhex(value[2:] if value[:2] in ("0x", "0X") else value)
    except ValueError:
        raise ValueError(f"{name}: expected hex") from None
    if size is not None and len(raw) != size:
        raise ValueError(f"{name}: expected {size} bytes")
    if not raw:
        raise ValueError(f"{name}: empty")
    return raw


def _int_field(params: Mapping[str, Any], name: str, low: int, high: int) -> int:
    value = params.get(name)
    if type(value) is not int or not low <= value <= high:
        raise ValueError(f"kdfparams.{name}: expected an integer in {low}..{high}")
    return value


def _lower_keys(value: Any) -> Any:
    """Field names as eth-keyfile reads them (geth once wrote ``Crypto``)."""
    if isinstance(value, dict):
        return {str(k).lower(): _lower_keys(v) for k, v in value.items()}
    return value


def _keystore_document(data: bytes) -> dict[str, Any]:
    """The keystore v3 JSON in ``data``, checked field by field before any key derivation:
    AES-128-CTR, scrypt or PBKDF2-HMAC-SHA256 within cost bounds. Raises ValueError with a
    reason that quotes no value."""
    if len(data) > _KEYSTORE_MAX_BYTES:
        raise ValueError(f"expected at most {_KEYSTORE_MAX_BYTES} bytes")
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ValueError("not valid JSON") from None
    if not isinstance(doc, dict):
        raise ValueError("expected a JSON object")
    doc = _lower_keys(doc)
    if doc.get("version") != 3 or type(doc.get("version")) is not int:
        raise ValueError("version: expected 3")
    crypto = doc.get("crypto")
    if not isinstance(crypto, dict):
        raise ValueError("crypto: expected an object")
    if crypto.get("cipher") != "aes-128-ctr":
        raise ValueError("crypto.cipher: expected aes-128-ctr")
    cipherparams = crypto.get("cipherparams")
    if not isinstance(cipherparams, dict):
        raise ValueError("crypto.cipherparams: expected an object")
    _hex_field(cipherparams.get("iv"), 16, "crypto.cipherparams.iv")
    _hex_field(crypto.get("ciphertext"), 32, "crypto.ciphertext")
    _hex_field(crypto.get("mac"), 32, "crypto.mac")
    params = crypto.get("kdfparams")
    if not isinstance(params, dict):
        raise ValueError("crypto.kdfparams: expected an object")
    _hex_field(params.get("salt"), None, "crypto.kdfparams.salt")
    if params.get("dklen") != 32 or type(params.get("dklen")) is not int:
        raise ValueError("crypto.kdfparams.dklen: expected 32")
    kdf = crypto.get("kdf")
    if kdf == "scrypt":
        n = _int_field(params, "n", 2, 1 << 22)
        r = _int_field(params, "r", 1, 64)
        p = _int_field(params, "p", 1, 64)
        if n & (n - 1):
            raise ValueError("crypto.kdfparams.n: expected a power of 2")
        if n * r * p > _SCRYPT_MAX_COST or 128 * n * r > _SCRYPT_MAX_MEMORY:
            raise ValueError(
                "crypto.kdfparams: scrypt cost above this tool's bound (n*r*p <= 2^23, "
                "128*n*r <= 512 MiB)"
            )
    elif kdf == "pbkdf2":
        _int_field(params, "c", 1, _PBKDF2_MAX_ROUNDS)
        if params.get("prf") != "hmac-sha256":
            raise ValueError("crypto.kdfparams.prf: expected hmac-sha256")
    else:
        raise ValueError("crypto.kdf: expected scrypt or pbkdf2")
    if "address" in doc:
        _hex_field(doc["address"], 20, "address")
    checked: dict[str, Any] = doc
    return checked


def _open_keystore(data: bytes, path: Path, what: str, passwords: Passwords) -> SigningKey:
    try:
        doc = _keystore_document(data)
    except ValueError as exc:
        raise KeyFileError(f"{what}: {path} is not a usable keystore v3 file: {exc}") from None
    try:
        from eth_keyfile.keyfile import decode_keyfile_json
    except ImportError:  # a line PC without the server stack: devices use plain files
        raise KeyFileError(
            f"{what}: reading keystore {path} needs the eth-keyfile package "
            "(pip install eth-keyfile)"
        ) from None
    password = passwords.get(path, what)
    try:
        secret = decode_keyfile_json(doc, password)
    except Exception as exc:  # eth-keyfile says "MAC mismatch" for a wrong password
        if "mac mismatch" in str(exc).lower():
            raise WrongPasswordError(f"{what}: wrong password for keystore {path}") from None
        raise KeyFileError(
            f"{what}: {path} is not a usable keystore v3 file ({exc.__class__.__name__})"
        ) from None
    try:
        key = SigningKey(bytes(secret))
    except ValueError:
        raise KeyFileError(f"{what}: keystore {path} does not hold a secp256k1 key") from None
    stated = doc.get("address")
    if stated is not None and _hex_field(stated, 20, "address").hex() != key.address[2:].lower():
        raise KeyFileError(
            f"{what}: keystore {path} names address 0x{str(stated)[-40:]} but holds the key of "
            f"{key.address}"
        )
    return key


def load_key(
    path: Path,
    what: str = "signing key",
    *,
    passwords: Passwords | None = None,
    allow_plain: bool = True,
) -> SigningKey:
    """Read a key file, readable by its owner only, in either format (told by its content):
    a keystore v3 JSON file, opened with a password from ``passwords`` (default: as
    :class:`Passwords` finds one); or a plain file holding one hex secp256k1 private key (0x
    optional) and a newline, refused unless ``allow_plain``."""
    try:
        with open(path, "rb") as fh:
            mode = os.fstat(fh.fileno()).st_mode
            data = fh.read(_KEYSTORE_MAX_BYTES + 1)
    except OSError as exc:
        raise KeyFileError(f"{what}: cannot read key file {path}: {exc.strerror or exc}") from None
    _owner_only(mode, path, what, "key file")
    if data.lstrip()[:1] == b"{":
        return _open_keystore(data, path, what, passwords or Passwords())
    if not allow_plain:
        raise PlainKeyRefusedError(
            f"{what}: {path} is a plain (unencrypted) key file; a person signs with a "
            f"password-protected keystore (`evledger keys new`, or `evledger keys encrypt "
            f"{path} -o NEW.json`). Plain key files are for devices; to use this one anyway "
            f"pass --allow-plain-key or set {ALLOW_PLAIN_ENV}=1"
        )
    text = data.decode("ascii", "replace").strip()
    digits = text[2:] if text[:2] in ("0x", "0X") else text
    try:
        if len(data) > _KEY_FILE_MAX_BYTES or len(digits) != 64:
            raise ValueError
        return SigningKey(bytes.fromhex(digits))
    except ValueError:
        # Say nothing about the content: it may be (part of) a key.
        raise KeyFileError(
            f"{what}: {path} does not hold a hex secp256k1 private key "
            "(expected 64 hex digits, optionally 0x-prefixed, and a newline)"
        ) from None


def _write_new(path: Path, text: str, what: str) -> None:
    """Create ``path`` (mode 0600) holding ``text``; refuses to overwrite anything."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise KeyFileError(f"{what}: {path} already exists; refusing to overwrite a key") from None
    except OSError as exc:
        raise KeyFileError(f"{what}: cannot create {path}: {exc.strerror or exc}") from None
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())


def new_key(path: Path, what: str = "keys new") -> SigningKey:
    """Generate a key into a new plain file ``path`` (mode 0600): a device's key. Refuses to
    overwrite anything."""
    key = SigningKey.generate()
    _write_new(path, key._file_text(), what)
    return key


def new_keystore(
    path: Path,
    passwords: Passwords | None = None,
    what: str = "keys new",
    *,
    key: SigningKey | None = None,
    scrypt_n: int = STANDARD_SCRYPT_N,
) -> SigningKey:
    """Write ``key`` (default: a new one) into a new keystore v3 file ``path`` (mode 0600),
    encrypted by eth-keyfile with scrypt (n = ``scrypt_n``, r = 8, p = 1) and AES-128-CTR
    under a password from ``passwords`` (asked twice on a terminal; never empty). Only tests
    lower ``scrypt_n``. Refuses to overwrite anything."""
    if os.path.lexists(path):
        raise KeyFileError(f"{what}: {path} already exists; refusing to overwrite a key")
    if not os.path.isdir(path.parent):  # said before the password is asked
        raise KeyFileError(f"{what}: cannot create {path}: No such file or directory")
    if scrypt_n < 2 or scrypt_n & (scrypt_n - 1) or scrypt_n > STANDARD_SCRYPT_N:
        raise ValueError(f"scrypt n: expected a power of 2 up to {STANDARD_SCRYPT_N}")
    try:
        from eth_keyfile.keyfile import create_keyfile_json
    except ImportError:
        raise KeyFileError(
            f"{what}: writing a keystore needs the eth-keyfile package (pip install "
            "eth-keyfile); a device's key: --plain"
        ) from None
    password = (passwords or Passwords()).get(path, what, confirm=True)
    if not password:
        raise NoPasswordError(f"{what}: the password is empty; nothing written")
    key = key or SigningKey.generate()
    doc = create_keyfile_json(key._key.secret, password, kdf="scrypt", iterations=scrypt_n)
    _write_new(path, json.dumps(doc) + "\n", what)
    return key


# -- signed submissions -----------------------------------------------------------------------


@dataclass(frozen=True)
class SignedSubmission:
    """A record with its signature: the body of ``POST /v1/records``. Made once, sent as often
    as needed: resending it is idempotent."""

    record: dict[str, Any]
    signature: str
    meaning: str
    signed_at: int
    signer: str | None

    @property
    def record_id(self) -> str:
        return str(self.record.get("record_id"))

    def to_json(self) -> dict[str, Any]:
        return {
            "record": self.record,
            "signature": self.signature,
            "meaning": self.meaning,
            "signed_at": self.signed_at,
            "signer": self.signer,
        }

    @classmethod
    def from_signature(
        cls,
        record: Mapping[str, Any],
        signature: str,
        meaning: str,
        signed_at: int,
        domain: Domain,
    ) -> SignedSubmission:
        """A signature made elsewhere (a wallet, ``cast wallet sign --data``) over the typed
        data of ``record``; the signer is recovered here, so a wrong one is named at once."""
        try:
            digest = eip712_digest(
                domain,
                str(record.get("record_id")),
                str(record.get("type")),
                record_hash(record),
                meaning,
                signed_at,
            )
            signature = normalize_signature(signature)
            signer = recover_signer(digest, signature)
        except (FormatError, SignatureInvalidError) as exc:
            raise InvalidInputError(str(exc)) from exc
        return cls(copy.deepcopy(dict(record)), signature, meaning, signed_at, signer)


@dataclass(frozen=True)
class BatchResult:
    """The answer to :meth:`Client.submit_batch`: one result per item, ``index`` counted in
    the list that was given (whatever the chunks), in that order."""

    results: list[dict[str, Any]]

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.get("status") == status)

    @property
    def refused(self) -> list[dict[str, Any]]:
        return [r for r in self.results if r.get("status") == "refused"]


# -- the HTTP client ----------------------------------------------------------------------------


class Client:
    """The evledger HTTP API (``/v1``), with retries for what may be retried.

    ``http`` injects the ``httpx.Client`` (a FastAPI ``TestClient`` is one; its own timeout
    then applies, and closing it stays with the caller); ``sleep``, ``clock`` and ``jitter``
    make the waiting testable without waiting. The ``Retry-After`` header is not read: the
    backoff is capped at ``max_backoff`` seconds.
    """

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 30.0,
        retries: int = 5,
        backoff: float = 0.25,
        max_backoff: float = 8.0,
        http: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        if retries < 0 or backoff < 0 or max_backoff < backoff:
            raise ValueError("retries >= 0 and 0 <= backoff <= max_backoff expected")
        self.base_url = base_url.rstrip("/")
        self.retries, self.backoff, self.max_backoff = retries, backoff, max_backoff
        self._own_http = http is None
        self.http = http if http is not None else httpx.Client(timeout=timeout)
        self._sleep, self._clock, self._jitter = sleep, clock, jitter
        self._trust: dict[str, Any] | None = None

    def close(self) -> None:
        if self._own_http:
            self.http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # The one place that talks to the network.

    def delay(self, attempt: int) -> float:
        """Seconds to wait before retry ``attempt`` (0-based): half the capped exponential
        step, plus a random part of the other half."""
        return backoff_delay(attempt, self.backoff, self.max_backoff, self._jitter)

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        token: str | None = None,
        params: Mapping[str, str | int] | None = None,
    ) -> httpx.Response:
        """Send until answered (see the module docstring for what is retried); returns a 2xx
        answer, raises :class:`RefusedError` for 4xx and :class:`ServiceError` for 5xx (and
        for 408 when the retries are spent)."""
        url = self.base_url + path
        headers = {"Authorization": f"Bearer {token}"} if token else None
        attempt = 0
        while True:
            try:
                resp = self.http.request(method, url, json=json, headers=headers, params=params)
            except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
                raise ClientError(
                    f"service URL: expected http(s)://HOST:PORT, got {self.base_url!r} ({exc})"
                ) from None
            except httpx.TransportError as exc:
                if attempt >= self.retries:
                    raise UnreachableError(
                        f"service: cannot reach {self.base_url} ({exc.__class__.__name__}, "
                        f"{attempt + 1} attempt(s)); is it running (`evledger up`, make run) "
                        "and is the URL right?"
                    ) from exc
            else:
                if resp.status_code not in RETRY_STATUSES or attempt >= self.retries:
                    return self._judge(resp, method, path, attempt)
            self._sleep(self.delay(attempt))
            attempt += 1

    def _judge(self, resp: httpx.Response, method: str, path: str, attempt: int) -> httpx.Response:
        status = resp.status_code
        if status < 400:
            return resp
        try:
            body = resp.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            body = {"error": "http_error", "detail": resp.text[:300]}
        if status < 500 and status not in RETRY_STATUSES:
            reasons = body.get("reasons")
            raise RefusedError(
                status,
                str(body.get("error")),
                str(body.get("detail")),
                [str(r) for r in reasons] if isinstance(reasons, list) else [],
            )
        raise ServiceError(
            f"service: {method} {path} failed with {status} {body.get('error')}: "
            f"{body.get('detail')} (after {attempt + 1} attempt(s)); see the service log",
            status,
        )

    def get_json(
        self, path: str, token: str | None = None, params: Mapping[str, str | int] | None = None
    ) -> Any:
        return _json(self.request("GET", path, token=token, params=params), f"GET {path}")

    def get_pages(
        self, path: str, token: str | None = None, params: Mapping[str, str | int] | None = None
    ) -> list[Any]:
        """Every item of a paginated list route (``limit`` / ``cursor``): the pages in
        order, following each answer's ``Link: <...>; rel="next"`` to the last page."""
        items: list[Any] = []
        seen: set[str] = set()
        url: str | None = path
        while url is not None:
            page = self.request("GET", url, token=token, params=params)
            body = _json(page, f"GET {path}")
            if not isinstance(body, list):
                raise ServiceError(f"service: GET {path}: expected a JSON array")
            items.extend(body)
            seen.add(url)
            url, params = page.links.get("next", {}).get("url"), None  # it holds the query
            if url is not None and url.startswith(self.base_url):
                url = url[len(self.base_url) :]
            if url is not None and (not url.startswith("/") or url in seen):
                raise ServiceError(f"service: GET {path}: a next page at {url!r}")
        return items

    # The ledger's identity.

    def trust(self) -> dict[str, Any]:
        """What an auditor pins: log key and origin, chain id, contract (``GET /v1/trust``)."""
        trust = self.get_json("/v1/trust")
        if not isinstance(trust, dict) or not {"chain_id", "contract", "log_origin"} <= set(trust):
            raise ServiceError("service: /v1/trust: expected chain_id, contract and log_origin")
        self._trust = trust
        return trust

    def domain(self) -> Domain:
        """The EIP-712 domain records are signed for (fetched once)."""
        trust = self._trust or self.trust()
        try:
            return Trust.from_json(trust).domain
        except FormatError as exc:
            raise ServiceError(f"service: /v1/trust: {exc}") from exc

    def log_origin(self) -> str:
        trust = self._trust or self.trust()
        return str(trust["log_origin"])

    def read_token(self, key: SigningKey, ttl: int = 3600) -> str:
        return key.read_token(self.log_origin(), ttl)

    # Records.

    def submit(self, signed: SignedSubmission, *, same_record_ok: bool = False) -> dict[str, Any]:
        """``POST /v1/records``: the answer (``status`` accepted or duplicate).

        With ``same_record_ok``, a 409 refusal is answered by what the ledger holds when that
        is this very record (same hash) signed by the same signer with the same meaning at
        another time (``status`` duplicate): submitting a record file again is not an error.
        """
        try:
            return _object(
                self.request("POST", "/v1/records", json=signed.to_json()), "POST /v1/records"
            )
        except RefusedError as exc:
            if not (same_record_ok and exc.status == 409):
                raise
            stored = self.stored_as(signed)
            if stored is None:
                raise
            return stored

    def stored_as(self, signed: SignedSubmission) -> dict[str, Any] | None:
        """The ledger's entry for ``signed.record_id`` in the form of a duplicate answer, when
        it holds the same record, signer and meaning; else None."""
        try:
            entry = self.receipt(signed.record_id).get("entry")
        except RefusedError:
            return None
        if not isinstance(entry, dict) or signed.signer is None:
            return None
        if (
            entry.get("record_hash") != record_hash(signed.record).hex()
            or str(entry.get("signer")).lower() != signed.signer.lower()
            or entry.get("meaning") != signed.meaning
        ):
            return None
        return {
            "record_id": signed.record_id,
            "record_hash": entry["record_hash"],
            "signer": entry["signer"],
            "signed_at": entry.get("signed_at"),
            "accepted_at": entry.get("accepted_at"),
            "status": "duplicate",
            "receipt_url": f"/v1/records/{segment(signed.record_id)}/receipt",
        }

    def submit_batch(
        self, items: Sequence[SignedSubmission], chunk: int = MAX_BATCH_ITEMS
    ) -> BatchResult:
        """``POST /v1/records/batch`` in chunks of ``chunk`` items; a chunk the service finds
        too large (413, its byte limit) is split in two and sent again. Items are idempotent
        on their record id, so resending is safe. A refused item is a result, not an error."""
        if not 1 <= chunk <= MAX_BATCH_ITEMS:
            raise InvalidInputError(f"batch chunk: expected 1..{MAX_BATCH_ITEMS}, got {chunk}")
        bodies = [s.to_json() for s in items]
        results: list[dict[str, Any]] = []
        for start in range(0, len(bodies), chunk):
            results.extend(self._batch(bodies[start : start + chunk], start))
        return BatchResult(results)

    def _batch(self, bodies: list[dict[str, Any]], offset: int) -> list[dict[str, Any]]:
        try:
            resp = self.request("POST", "/v1/records/batch", json={"items": bodies})
        except RefusedError as exc:
            if exc.status != 413 or len(bodies) == 1:
                raise
            half = len(bodies) // 2
            return self._batch(bodies[:half], offset) + self._batch(bodies[half:], offset + half)
        results = _object(resp, "POST /v1/records/batch").get("results")
        if (
            not isinstance(results, list)
            or len(results) != len(bodies)
            or any(not isinstance(r, dict) or r.get("index") != i for i, r in enumerate(results))
        ):
            raise ServiceError(
                f"service: POST /v1/records/batch: expected {len(bodies)} results indexed "
                "0..n-1 in order"
            )
        return [{**r, "index": offset + i} for i, r in enumerate(results)]

    def receipt(self, record_id: str, wait: float = 0.0, poll: float = 0.25) -> dict[str, Any]:
        """``GET /v1/records/{id}/receipt``, polled up to ``wait`` seconds until ``status`` is
        anchored; returns the last answer (pending, sealed or anchored) either way."""
        deadline = self._clock() + wait
        path = f"/v1/records/{segment(record_id)}/receipt"
        while True:
            body = _object(self.request("GET", path), f"GET {path}")
            left = deadline - self._clock()
            if body.get("status") == "anchored" or left <= 0:
                return body
            self._sleep(min(poll, left))


def segment(value: str) -> str:
    """``value`` as one URL path segment."""
    return quote(value, safe="")


def _json(resp: httpx.Response, what: str) -> Any:
    try:
        return resp.json()
    except ValueError:
        raise ServiceError(f"service: {what}: expected JSON, got {resp.text[:80]!r}") from None


def _object(resp: httpx.Response, what: str) -> dict[str, Any]:
    body = _json(resp, what)
    if not isinstance(body, dict):
        raise ServiceError(f"service: {what}: expected a JSON object")
    return body
