"""Read tokens: a registered signer's own signature (EIP-191 ``personal_sign``, so any wallet
or ``cast wallet sign`` can make one) over "may read this ledger until T". Verified without
server state; the signer's roles are judged when the token is used, so a revoked signer's
tokens stop working at once.

    token = make_token(account, identity.log_origin, ttl=3600)
    address, roles = verify_token(token, origin, registry, now)
"""

from __future__ import annotations

import re
import time

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount

from ledger.domain.authority import READ_ROLES
from ledger.errors import AuthorizationError, SignatureError
from ledger.signers import Registry

__all__ = ["MAX_TTL", "make_token", "token_message", "verify_token"]

MAX_TTL = 24 * 3600
_TOKEN = re.compile(r"^evl1\.(0x[0-9a-fA-F]{40})\.([0-9]{1,12})\.(0x[0-9a-fA-F]{130})\Z")


def token_message(origin: str, address: str, expires: int) -> str:
    return f"evledger read token\nledger: {origin}\naddress: {address}\nexpires: {expires}"


def make_token(account: LocalAccount, origin: str, ttl: int = 3600) -> str:
    if not 0 < ttl <= MAX_TTL:
        raise AuthorizationError(f"token ttl: expected 1..{MAX_TTL} s, got {ttl}")
    expires = int(time.time()) + ttl
    msg = encode_defunct(text=token_message(origin, account.address, expires))
    signature = account.sign_message(msg).signature.to_0x_hex()
    return f"evl1.{account.address}.{expires}.{signature}"


def verify_token(
    token: str, origin: str, registry: Registry, now: int | None = None
) -> tuple[str, tuple[str, ...]]:
    """The token's signer and roles; refuses malformed, expired, forged and unauthorized."""
    match = _TOKEN.match(token)
    if match is None:
        raise SignatureError("token: expected evl1.<address>.<expires>.<signature>")
    address, expires, signature = match.group(1), int(match.group(2)), match.group(3)
    now = int(time.time()) if now is None else now
    if expires <= now:
        raise SignatureError(f"token: expired at {expires} (now {now}); make a new one")
    if expires > now + MAX_TTL + 300:
        raise SignatureError(f"token: lifetime longer than {MAX_TTL} s")
    try:
        signer = Account.recover_message(
            encode_defunct(text=token_message(origin, address, expires)), signature=signature
        )
    except (ValueError, TypeError):
        raise SignatureError("token: signature does not verify") from None
    if signer.lower() != address.lower():
        raise SignatureError("token: signed by another key than the address it names")
    state = registry.get(address)
    roles = state.roles_at(now) if state else None
    if roles is None:
        raise AuthorizationError(f"token: {address} is not an active signer")
    if not set(roles) & set(READ_ROLES):
        raise AuthorizationError(
            f"token: role {', '.join(roles)} may not read records (needs one of "
            f"{', '.join(READ_ROLES)})"
        )
    return address, roles
