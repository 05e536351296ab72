"""A stuck anchoring transaction (mining paused) is replaced with higher fees, and the
replacement is the one that anchors once blocks are mined again."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from ledger.config import Settings
from ledger.embedded import Anvil
from ledger.runtime import Runtime
from tests.conftest import running_ledger
from tests.helpers import fresh, inspection, register, sign, wait_anchored

pytestmark = pytest.mark.integration


def rpc(chain: Anvil, method: str, *params: Any) -> Any:
    resp = httpx.post(chain.rpc_url, json={"jsonrpc": "2.0", "id": 1, "method": method,
                                           "params": list(params)}, timeout=10).json()
    assert "error" not in resp, resp
    return resp["result"]


@pytest.fixture()
def chain(tmp_path: Path) -> Iterator[Anvil]:
    anvil = Anvil(state_dir=tmp_path / "anvil").start()
    try:
        yield anvil
    finally:
        anvil.stop()


@pytest.fixture()
def rt(settings: Settings, database_url: str, chain: Anvil) -> Iterator[Runtime]:
    with running_ledger(settings, database_url, chain) as runtime:
        runtime.chain.replace_after = 0.5
        yield runtime


def test_a_stuck_anchor_transaction_is_replaced(
    rt: Runtime, chain: Anvil, caplog: pytest.LogCaptureFixture
) -> None:
    client = TestClient(create_app(rt.ledger))
    inspector = register(client, rt, ("qa_inspector",))
    wait_for_idle = time.monotonic() + 20
    while client.get("/v1/status").json()["anchor_lag_records"]:
        assert time.monotonic() < wait_for_idle
        time.sleep(0.1)
    rpc(chain, "evm_setAutomine", False)  # mining paused: transactions stay pending
    rid = fresh("STUCK")
    with caplog.at_level(logging.WARNING, logger="evledger.chain"):
        assert client.post("/v1/records", json=sign(rt, inspection(rid), inspector)).is_success
        deadline = time.monotonic() + 20
        while rt.chain.replacements < 2:
            assert time.monotonic() < deadline, "no replacement"
            time.sleep(0.1)
    assert any("replacing it" in r.message for r in caplog.records)
    pending = rpc(chain, "txpool_content")["pending"]
    (txs,) = pending.values()  # one transaction of the anchorer: the replacements took its nonce
    (tx,) = txs.values()
    rpc(chain, "evm_setAutomine", True)
    rpc(chain, "evm_mine")
    receipt = wait_anchored(client, rid)
    assert receipt["anchor"]["tx_hash"] == tx["hash"]  # the replacement anchored
    assert int(tx["maxFeePerGas"], 16) > 3 * 10**9  # above the first fee
