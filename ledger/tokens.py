"""Read tokens: a registered signer's own signature (EIP-191 ``personal_sign``, so any wallet
or ``cast wallet sign`` can make one) over "may read this ledger until T". Verified without
server state; the signer's roles are judged when the token is used, so a revoked signer's
tokens stop working at once.

The token's text, digest and wire form are defined once, in ``evledger_verify.tokens``; people
make tokens with the client library (``ingest.client``, ``evledger token``). A token signature
follows the same rule as a record signature (``recover_signer``: v 27/28, low-s only).

    address, roles = verify_token(token, origin, registry, now)
"""

from __future__ import annotations

import time

from evledger_verify.errors import FormatError, SignatureInvalidError
from evledger_verify.records import normalize_signature, recover_signer
from evledger_verify.tokens import (
    MAX_TTL,
    eip191_digest,
    parse_token,
    token_message,
)

from ledger.domain.authority import READ_ROLES
from ledger.errors import AuthorizationError, SignatureError
from ledger.signers import Registry

__all__ = ["MAX_TTL", "verify_token"]

#: Clock skew allowed between the token's maker and the ledger.
_SKEW = 300


def verify_token(
    token: str, origin: str, registry: Registry, now: int | None = None
) -> tuple[str, tuple[str, ...]]:
    """The token's signer and roles; refuses malformed, expired, forged and unauthorized."""
    try:
        address, expires, signature = parse_token(token)
    except FormatError as exc:
        raise SignatureError(str(exc)) from None
    now = int(time.time()) if now is None else now
    if expires <= now:
        raise SignatureError(f"token: expired at {expires} (now {now}); make a new one")
    if expires > now + MAX_TTL + _SKEW:
        raise SignatureError(f"token: lifetime longer than {MAX_TTL} s")
    digest = eip191_digest(token_message(origin, address, expires))
    try:
        signer = recover_signer(digest, normalize_signature(signature))
    except SignatureInvalidError as exc:
        raise SignatureError(f"token: signature does not verify: {exc}") from None
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
