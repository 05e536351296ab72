"""The outbox against the real service: records captured while the service is down are kept,
then drained in capture order, each lot chained in that order; a resend answers duplicate."""

from __future__ import annotations

import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ingest.client import Client, SigningKey, UnreachableError
from ingest.outbox import Outbox
from ledger.runtime import Runtime
from tests.helpers import GTIN, fresh, register

pytestmark = [pytest.mark.integration, pytest.mark.req("FLOOR-4", "FLOOR-3")]


def _scan(lot: str) -> dict[str, Any]:
    return {
        "record_id": fresh("OBX-SCAN"), "type": "scan", "schema": "scan/1",
        "station": "line 2 infeed", "operation": "produce",
        "gs1": {"gtin": GTIN, "lot": lot}, "lot": lot,
        "scanned_at": datetime.now(UTC).isoformat(),
    }  # fmt: skip


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def test_captured_while_down_then_drained_in_order(
    client: TestClient, runtime: Runtime, tmp_path: Path
) -> None:
    device = SigningKey(bytes(register(client, runtime, ("device",)).key))
    domain = runtime.ledger.identity.domain
    lots = [fresh("OBX-LOT-A"), fresh("OBX-LOT-B")]
    captured = []
    with Outbox(tmp_path / "outbox.db") as box:
        for i in range(10):
            record = _scan(lots[i % 3 == 0])  # the lots interleave unevenly
            signed = device.sign(record, "recorded", domain)
            box.put(signed, lot=record["lot"])
            captured.append(signed)

        with Client(f"http://127.0.0.1:{_closed_port()}", retries=1, sleep=lambda _: None) as down:
            result = box.drain(down, batch=4)
        assert isinstance(result.error, UnreachableError), result
        assert "cannot reach" in str(result.error)
        assert (result.accepted, result.remaining) == (0, 10)
        assert [p.record_id for p in box.pending(100)] == [s.record_id for s in captured]

        with Client("http://testserver", http=client, sleep=lambda _: None) as api:
            result = box.drain(api, batch=4)
            assert result.ok, result
            assert (result.accepted, result.duplicate, result.refused) == (10, 0, 0)
            stats = box.stats()
            assert (stats.depth, stats.refused, stats.oldest_age) == (0, 0, None)
            assert stats.last_send_at is not None

            receipts = {}
            for s in captured:
                resp = client.get(f"/v1/records/{s.record_id}/receipt")
                assert resp.status_code in (200, 202), resp.text  # 202: not sealed yet
                receipts[s.record_id] = resp.json()
                assert receipts[s.record_id]["entry"]["signed_at"] == s.signed_at
            for lot in lots:  # each record of a lot points at the previous one captured
                prev = None
                for s in captured:
                    if s.record["lot"] == lot:
                        assert receipts[s.record_id]["entry"]["lot_prev"] == prev
                        prev = receipts[s.record_id]["leaf_hash"]

            for s in captured:  # sent again (as after a lost answer): duplicate, not an error
                box.put(s, lot=s.record["lot"])
            again = box.drain(api)
            assert again.ok and (again.accepted, again.duplicate, again.refused) == (0, 10, 0)
            assert box.stats().depth == 0
