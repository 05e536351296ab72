"""A stuck anchoring transaction (mining paused) is replaced with higher fees, and the
replacement is the one that anchors once blocks are mined again."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from ledger.config import Settings
from ledger.embedded import Anvil
from ledger.runtime import Runtime
from tests.conftest import running_ledger
from tests.helpers import fresh, inspection, register, rpc, sign, wait_anchored, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture()
def rt(settings: Settings, database_url: str, own_chain: Anvil) -> Iterator[Runtime]:
    with running_ledger(settings, database_url, own_chain) as runtime:
        runtime.chain.replace_after = 0.5
        yield runtime


def test_a_stuck_anchor_transaction_is_replaced(
    rt: Runtime, own_chain: Anvil, caplog: pytest.LogCaptureFixture
) -> None:
    client = TestClient(create_app(rt.ledger))
    inspector = register(client, rt, ("qa_inspector",))
    wait_for_idle = time.monotonic() + 20
    while client.get("/v1/status").json()["anchor_lag_records"]:
        assert time.monotonic() < wait_for_idle
        time.sleep(0.1)
    rpc(own_chain.rpc_url, "evm_setAutomine", False)  # mining paused: transactions stay pending
    rid = fresh("STUCK")
    with caplog.at_level(logging.WARNING, logger="evledger.chain"):
        assert client.post("/v1/records", json=sign(rt, inspection(rid), inspector)).is_success
        deadline = time.monotonic() + 20
        while rt.chain.replacements < 2:
            assert time.monotonic() < deadline, "no replacement"
            time.sleep(0.1)
    assert any("replacing it" in r.message for r in caplog.records)
    pending = rpc(own_chain.rpc_url, "txpool_content")["pending"]
    (txs,) = pending.values()  # one transaction of the anchorer: the replacements took its nonce
    (tx,) = txs.values()
    rpc(own_chain.rpc_url, "evm_setAutomine", True)
    rpc(own_chain.rpc_url, "evm_mine")
    receipt = wait_anchored(client, rid)
    assert receipt["anchor"]["tx_hash"] == tx["hash"]  # the replacement anchored
    assert int(tx["maxFeePerGas"], 16) > 3 * 10**9  # above the first fee
    wait_for("replacements exported", lambda: client.get("/v1/status").json()
             ["anchor_tx_replacements"] >= 2)
    assert "evledger_anchor_tx_replacements" in client.get("/metrics").text
