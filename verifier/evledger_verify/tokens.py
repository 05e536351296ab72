"""Read tokens: the one definition of their text, digest and wire form.

A read token is a registered signer's EIP-191 ``personal_sign`` signature over "may read this
ledger until T" (:func:`token_message`), so any wallet or ``cast wallet sign`` can make one.
The client library signs it; the ledger verifies it with ``records.recover_signer``, the same
rule as for record signatures (low-s only). Pure functions, no I/O.

    >>> token_message("evledger.example/log", "0x" + "ab" * 20, 1700000000).splitlines()[0]
    'evledger read token'
    >>> format_token("0x" + "ab" * 20, 1700000000, "0x" + "00" * 65)[:11]
    'evl1.0xabab'
"""

from __future__ import annotations

import re

from evledger_verify.errors import FormatError
from evledger_verify.records import keccak256

__all__ = [
    "FORMAT_TAG",
    "MAX_TTL",
    "eip191_digest",
    "format_token",
    "parse_token",
    "token_expiry",
    "token_message",
]

#: The tag that starts every read token (and names its format version).
FORMAT_TAG = "evl1"
#: The longest a token may be valid, in seconds.
MAX_TTL = 24 * 3600

_TOKEN_RE = re.compile(
    rf"^{FORMAT_TAG}\.(0x[0-9a-fA-F]{{40}})\.([0-9]{{1,12}})\.(0x[0-9a-fA-F]{{130}})\Z"
)


def token_message(origin: str, address: str, expires: int) -> str:
    """The text a signer signs: the ledger (its log origin), the signer, the expiry time."""
    return f"evledger read token\nledger: {origin}\naddress: {address}\nexpires: {expires}"


def eip191_digest(message: str | bytes) -> bytes:
    """EIP-191 version 0x45 (``personal_sign``): keccak256 of the prefixed message."""
    data = message.encode() if isinstance(message, str) else message
    return keccak256(b"\x19Ethereum Signed Message:\n" + str(len(data)).encode() + data)


def token_expiry(ttl: int, now: int) -> int:
    """The expiry time of a token made at ``now`` that is valid for ``ttl`` seconds."""
    if not 0 < ttl <= MAX_TTL:
        raise FormatError(f"token ttl: expected 1..{MAX_TTL} s, got {ttl}")
    return now + ttl


def format_token(address: str, expires: int, signature: str) -> str:
    """``evl1.<address>.<expires>.<0x signature>``, the value of ``Authorization: Bearer``."""
    return f"{FORMAT_TAG}.{address}.{expires}.{signature}"


def parse_token(token: str) -> tuple[str, int, str]:
    """(address, expires, signature) of a token in the strict wire form; nothing is verified."""
    match = _TOKEN_RE.match(token)
    if match is None:
        raise FormatError(f"token: expected {FORMAT_TAG}.<address>.<expires>.<signature>")
    return match.group(1), int(match.group(2)), match.group(3)
