"""The device checks the ledger's promises: a record it sent must reach a signed checkpoint by
the promised deadline, and then an anchored receipt that verifies.

:class:`PromiseKeeper` takes the promises the outbox kept (``Outbox.due_promises``) once their
deadline has passed and asks the ledger for each record's receipt:

* the receipt names the promised leaf and verifies, anchored: the promise is kept and
  forgotten;
* the record is in a checkpoint but not yet anchored: checked again later;
* the ledger has no receipt, or one for another leaf, or a promise that does not verify with
  the ledger's log key: **broken**. It is logged (CRITICAL, ``promise.broken``), counted
  (``evledger_ingest_promises_broken_total``) and kept in the outbox, marked, for the
  operator: the device noticed a record that went missing on the server.

Devices sign only scans and readings (DESIGN.md), so the alert is the device's log line and
metric, not an ``alert`` record.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from evledger_verify.errors import FormatError, VerifyError
from evledger_verify.promise import judge, verify_promise
from evledger_verify.receipt import Trust, verify_receipt

from ingest.client import Client, ClientError, RefusedError
from ingest.outbox import Outbox

__all__ = ["Checked", "PromiseKeeper"]

LOG = logging.getLogger("evledger.ingest")


@dataclass(frozen=True)
class Checked:
    """What one round found: kept (forgotten), still waiting, broken (record ids)."""

    kept: int = 0
    waiting: int = 0
    broken: tuple[str, ...] = ()
    error: ClientError | None = None


class PromiseKeeper:
    """See the module docstring. ``recheck``: seconds between two checks of one promise."""

    def __init__(
        self,
        outbox: Outbox,
        client: Client,
        trust: Trust,
        *,
        recheck: float = 30.0,
        clock: Callable[[], float] = time.time,
        on_broken: Callable[[str, str], None] | None = None,
    ) -> None:
        self.outbox, self.client, self.trust = outbox, client, trust
        self.recheck, self._clock, self.on_broken = recheck, clock, on_broken

    def check(self, limit: int = 100) -> Checked:
        now = self._clock()
        kept = waiting = 0
        broken: list[str] = []
        for record_id, note in self.outbox.due_promises(now, self.recheck, limit):
            try:
                state, detail = self._judge(record_id, note, now)
            except ClientError as exc:  # the ledger is unreachable: try again later
                return Checked(kept, waiting, tuple(broken), exc)
            self.outbox.settle_promise(record_id, state, now, detail)
            if state == "kept":
                kept += 1
            elif state == "waiting":
                waiting += 1
            else:
                broken.append(record_id)
                LOG.critical(f"promise.broken record_id={record_id} detail={detail!r}")
                if self.on_broken is not None:
                    self.on_broken(record_id, detail)
        return Checked(kept, waiting, tuple(broken))

    def _judge(self, record_id: str, note: str, now: float) -> tuple[str, str]:
        try:
            promise = verify_promise(note, self.trust.log_key, self.trust.log_origin)
        except (VerifyError, FormatError) as exc:
            return "broken", f"the ledger's promise does not verify with its log key: {exc}"
        receipt = self._receipt(record_id)
        moment = datetime.fromtimestamp(now, UTC)
        verdict = judge(promise, receipt, moment)
        if verdict.state == "broken":
            return "broken", verdict.detail
        if receipt is not None and receipt.get("status") == "anchored":
            report, _ = verify_receipt(receipt, self.trust)
            if not report.ok:
                failed = "; ".join(f"{c.name}: {c.detail}" for c in report.checks if not c.ok)
                return "broken", f"record {record_id}: the anchored receipt fails: {failed}"
            return "kept", verdict.detail
        return "waiting", verdict.detail

    def _receipt(self, record_id: str) -> dict[str, Any] | None:
        try:
            return self.client.receipt(record_id)
        except RefusedError as exc:
            if exc.status == 404:
                return None
            raise
