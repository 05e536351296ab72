"""Reorganizations of the anchor blocks (`anvil_reorg`, depths 1 and 3): the anchor is recorded
orphaned (never changed), the checkpoint is anchored again, receipts follow the new anchor and
verify on chain, the audit stays clean; enough blocks later the anchor is final."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from evledger_verify.receipt import Trust, verify_receipt
from evledger_verify.rpc import RpcClient, check_anchor_on_chain
from fastapi.testclient import TestClient

from api.app import create_app
from ledger.audit import Auditor
from ledger.config import Settings
from ledger.embedded import Anvil
from ledger.models import Anchor, AnchorState
from ledger.runtime import Runtime
from tests.conftest import ledger_settings, running_ledger
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

pytestmark = [pytest.mark.integration, pytest.mark.req("ANCH-4")]

CONFIRMATIONS = 4


@pytest.fixture()
def rt(tmp_path: Path, database_url: str, own_chain: Anvil) -> Iterator[Runtime]:
    settings: Settings = dataclasses.replace(
        ledger_settings(tmp_path / "home"), confirmations=CONFIRMATIONS
    )
    with running_ledger(settings, database_url, own_chain) as runtime:
        yield runtime


def states(rt: Runtime) -> list[tuple[int, str, str]]:
    with rt.engine.connect() as conn:
        rows = conn.execute(sa.select(AnchorState.tree_size, AnchorState.tx_hash,
                                      AnchorState.state).order_by(AnchorState.observed_at))
        return [(int(a), str(b), str(c)) for a, b, c in rows]


def anchors(rt: Runtime) -> list[tuple[int, str]]:
    with rt.engine.connect() as conn:
        rows = conn.execute(sa.select(Anchor.tree_size, Anchor.tx_hash).order_by(Anchor.tree_size))
        return [(int(a), str(b)) for a, b in rows]


def verified_on_chain(rt: Runtime, chain: Anvil, receipt: dict[str, Any]) -> bool:
    trust = Trust.from_json(rt.ledger.identity.trust())
    report, parsed = verify_receipt(receipt, trust)
    assert report.ok, report.to_json()
    assert parsed is not None
    check_anchor_on_chain(RpcClient(chain.rpc_url), trust, parsed.anchor, parsed.tree_size,
                          parsed.root_hash, report)
    return report.ok


@pytest.mark.parametrize("depth", [1, 3])
def test_a_reorganized_anchor_is_orphaned_redone_and_receipts_follow(
    rt: Runtime, own_chain: Anvil, depth: int
) -> None:
    client = TestClient(create_app(rt.ledger))
    inspector = register(client, rt, ("qa_inspector",))
    master_data(client, rt)
    ids = []
    for _ in range(depth):  # one anchor (one block) per record: depth blocks to reorganize
        rid = fresh("REORG")
        assert client.post("/v1/records", json=sign(rt, inspection(rid), inspector)).status_code \
            == 201
        wait_anchored(client, rid)
        ids.append(rid)
    before = {rid: client.get(f"/v1/records/{rid}/receipt").json() for rid in ids}
    assert all(r["anchor"]["state"] == "included" for r in before.values())
    recorded = len(anchors(rt))
    old_txs = {tx for _, tx in anchors(rt)[-depth:]}  # the anchors in the reorganized blocks
    assert {r["anchor"]["tx_hash"] for r in before.values()} <= old_txs
    head = int(rpc(own_chain.rpc_url, "eth_blockNumber"), 16)
    rpc(own_chain.rpc_url, "anvil_reorg", depth, [])  # the last `depth` blocks: empty ones
    orphaned = wait_for(
        "orphaned", lambda: (o := [s for s in states(rt) if s[2] == "orphaned"]) and
        len(o) == depth and o,
    )
    assert {s[1] for s in orphaned} == old_txs
    after = wait_for(
        "a new anchor",
        lambda: (r := client.get(f"/v1/records/{ids[-1]}/receipt").json())["status"] == "anchored"
        and r["anchor"]["tx_hash"] not in old_txs and r,
    )
    assert int(rpc(own_chain.rpc_url, "eth_blockNumber"), 16) >= head
    for rid in ids:  # every receipt names the new anchor, and it is on chain
        receipt = client.get(f"/v1/records/{rid}/receipt").json()
        assert receipt["anchor"]["tx_hash"] == after["anchor"]["tx_hash"], receipt
        assert verified_on_chain(rt, own_chain, receipt)
    assert len(anchors(rt)) == recorded + 1  # the orphaned rows stay: nothing is changed
    assert len(orphaned) == depth
    auditor = Auditor(rt.engine, rt.ledger.identity, rt.ledger.identity.log_public_key, rt.chain)
    assert auditor.run() == [] and auditor.unchecked == []
    rpc(own_chain.rpc_url, "anvil_mine", hex(CONFIRMATIONS))
    wait_for("final", lambda: client.get(f"/v1/records/{ids[-1]}/receipt").json()["anchor"]
             ["state"] == "final")
    final = {s[1] for s in states(rt) if s[2] == "final"}
    assert after["anchor"]["tx_hash"] in final and not final & old_txs
    status = client.get("/v1/status").json()
    assert status["latest_final_checkpoint"] == status["latest_anchored_checkpoint"]
    assert "evledger_latest_final_checkpoint" in client.get("/metrics").text
