"""Signing acceptance promises (the format and its checks: evledger_verify.promise).

The promise is deterministic: Ed25519 signatures are, and the body holds only what the ledger
stored (record id, leaf hash, acceptance time) and the configured delay, so a duplicate
submission gets the very promise its first acceptance got.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from evledger_verify.checkpoint import sign_note
from evledger_verify.promise import format_promise_body

from ledger.submission import SubmitResult

__all__ = ["Promiser"]


class Promiser:
    """Signs, with the log key, that an accepted entry will be in a signed checkpoint within
    ``delay`` seconds of its acceptance."""

    def __init__(self, log_key: Ed25519PrivateKey, origin: str, delay: int) -> None:
        self.log_key, self.origin, self.delay = log_key, origin, delay

    def __call__(self, result: SubmitResult) -> str:
        return self.promise(result.record_id, result.leaf_hash, result.accepted_at)

    def promise(self, record_id: str, leaf_hash: bytes, accepted_at: str) -> str:
        """The promise for an entry accepted at ``accepted_at`` (as its entry records it)."""
        accepted = datetime.fromisoformat(accepted_at.replace("Z", "+00:00"))
        body = format_promise_body(
            self.origin,
            record_id,
            leaf_hash,
            accepted,
            accepted + timedelta(seconds=self.delay),
        )
        return sign_note(body, self.origin, self.log_key)
