"""A stuck anchoring transaction (mining paused) is replaced with higher fees, and the
replacement is the one that anchors once blocks are mined again."""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.app import create_app
from ledger.config import Settings
from ledger.embedded import Anvil
from ledger.models import AnchorSubmission
from ledger.runtime import Runtime
from tests.conftest import running_ledger
from tests.helpers import (
    fresh,
    inspection,
    master_data,
    register,
    rpc,
    sign,
    wait_anchored,
    wait_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.req("ANCH-5")]


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
    master_data(client, rt)
    wait_for_idle = time.monotonic() + 20
    while (st := client.get("/v1/status").json())["anchor_lag_records"] or st["pending_seal"]:
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
    # The sending is on record before its outcome (append-only): the first transaction and
    # each replacement naming the one it replaces, same nonce, rising fees; status says
    # "submitted" with how long it has waited.
    with rt.engine.connect() as conn:
        sent = conn.execute(
            sa.select(AnchorSubmission.__table__).order_by(AnchorSubmission.sent_at)
        ).all()
    stuck = [s for s in sent if s.tree_size == sent[-1].tree_size]
    assert len(stuck) >= 3 and stuck[0].replaces is None
    assert [s.replaces for s in stuck[1:]] == [s.tx_hash for s in stuck[:-1]]
    assert len({s.nonce for s in stuck}) == 1
    assert all(a.max_fee_per_gas < b.max_fee_per_gas for a, b in itertools.pairwise(stuck))
    status = client.get("/v1/status").json()["chains"][0]
    assert status["submitted_checkpoint"] == stuck[0].tree_size
    assert status["submitted_transactions"] >= 3 and status["submitted_s_ago"] > 0
    rpc(own_chain.rpc_url, "evm_setAutomine", True)
    rpc(own_chain.rpc_url, "evm_mine")
    receipt = wait_anchored(client, rid)
    assert receipt["anchor"]["tx_hash"] == tx["hash"]  # the replacement anchored
    assert tx["hash"] in {s.tx_hash for s in stuck[1:]}
    wait_for("nothing in flight", lambda: client.get("/v1/status").json()["chains"][0]
             ["submitted_transactions"] == 0)
    assert int(tx["maxFeePerGas"], 16) > 3 * 10**9  # above the first fee
    wait_for("replacements exported", lambda: client.get("/v1/status").json()
             ["anchor_tx_replacements"] >= 2)
    assert "evledger_anchor_tx_replacements" in client.get("/metrics").text
