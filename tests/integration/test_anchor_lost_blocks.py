"""A chain that lost the block of an anchor the ledger had recorded final (the chain's last
block): the anchorer records it orphaned (the final state stays on record), anchors again,
receipts follow the new anchor and verify on chain, and the audit is clean; no live row goes on
naming a transaction the chain does not have.

The ways the embedded Anvil loses blocks when `evledger up` is killed with -9, each while the
ledger is stopped:

- dump_ahead: Anvil restarts from a state dump that holds a block's effects without the block.
  Its periodic dump (``--state-interval``) reads the blocks and transactions first and the
  accounts after, so a block mined in between is in the accounts (the contract holds the root;
  the anchorer's nonce moved on) but not in the blocks. Built here by cutting the last block out
  of the dump Anvil writes on SIGTERM. The contract refuses that size a second time: the next
  checkpoint is anchored on top of it.
- older_state: the node goes back to an earlier state (the last dump before the kill; here
  ``evm_snapshot`` / ``evm_revert``), so the contract lost the root too: the same checkpoint is
  anchored again, often by the very transaction lost (same nonce, checkpoint and fees). Mined
  within the same second, its block can even be identical to the lost one: that anchor is on
  record already (orphaned) and the next checkpoint is anchored on top of it.
- block_again: older_state, and the chain then mines the very block it lost (the same
  transaction sent again, at the same time and base fee): what a reorganization that goes
  back does, and what a node restarted within the same second can do.
- half_written: the kill came while Anvil rewrote its state file; the embedded Anvil puts the
  torn file aside and starts from the copy its last start kept (an older state).

Each time a record comes after the restart (as the load does in the kill -9 test).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient

from api.app import create_app
from ledger.audit import Auditor
from ledger.embedded import Anvil
from ledger.models import Anchor, AnchorState
from ledger.runtime import Runtime
from tests.conftest import ledger_settings, running_ledger
from tests.helpers import register, rpc, wait_for
from tests.integration.test_reorg import verified_on_chain

pytestmark = [pytest.mark.integration, pytest.mark.req("ANCH-4")]


def receipt(client: TestClient, account: LocalAccount) -> dict[str, Any]:
    answer = client.get(f"/v1/records/signer-{account.address.lower()}/receipt")
    body: dict[str, Any] = answer.json()
    return body


def final_receipt(client: TestClient, account: LocalAccount) -> dict[str, Any]:
    body: dict[str, Any] = wait_for(
        "a final anchor",
        lambda: (
            (r := receipt(client, account)).get("status") == "anchored"
            and r["anchor"]["state"] == "final"
            and r
        ),
    )
    return body


def anchor_row(rt: Runtime, tx_hash: str) -> Any:
    with rt.engine.connect() as conn:
        return conn.execute(sa.select(Anchor).where(Anchor.tx_hash == tx_hash)).one()


def states_of(rt: Runtime, tx_hash: str) -> dict[str, str]:
    with rt.engine.connect() as conn:
        rows = conn.execute(
            sa.select(AnchorState.state, AnchorState.detail).where(AnchorState.tx_hash == tx_hash)
        )
        return {str(state): str(detail) for state, detail in rows}


def audit(rt: Runtime) -> None:
    auditor = Auditor(rt.engine, rt.ledger.identity, rt.ledger.identity.log_public_key, rt.chain)
    findings = auditor.run()
    assert findings == [] and auditor.unchecked == [], (findings, auditor.unchecked)


def dump_ahead(path: Path, lost: set[str], height: int) -> None:
    """What a dump racing the mining of block ``height + 1`` holds: the accounts after it, the
    chain (blocks, transactions, historical states) before it; ``lost``: the hashes cut."""
    state = json.loads(path.read_text())
    state["blocks"] = [b for b in state["blocks"] if int(b["header"]["number"], 16) <= height]
    state["transactions"] = [t for t in state["transactions"] if t["block_hash"] not in lost]
    if state.get("historical_states"):
        state["historical_states"] = [h for h in state["historical_states"] if h[0] not in lost]
    state["best_block_number"] = height
    state["block"]["number"] = hex(height)
    path.write_text(json.dumps(state))


@pytest.mark.parametrize("how", ["dump_ahead", "older_state", "block_again", "half_written"])
def test_a_final_anchor_the_chain_lost_is_orphaned_and_anchored_again(
    tmp_path: Path, database_url: str, own_chain: Anvil, how: str
) -> None:
    settings = ledger_settings(tmp_path / "home")  # dev chain: final at 1 confirmation
    url = own_chain.rpc_url
    assert own_chain.state_dir is not None
    state_file = own_chain.state_dir / "anvil-state.json"
    with running_ledger(settings, database_url, own_chain) as rt:
        client = TestClient(create_app(rt.ledger))
        first = register(client, rt)
        kept = final_receipt(client, first)["anchor"]
        snapshot = rpc(url, "evm_snapshot")
        if how == "half_written":  # a restart: its start keeps a copy of the state
            own_chain.stop()
            own_chain.start()
        second = register(client, rt)
        lost = final_receipt(client, second)["anchor"]
        row = anchor_row(rt, lost["tx_hash"])
        assert int(rpc(url, "eth_blockNumber"), 16) == row.block_number  # the chain's last
        size, root = rt.chain.latest()
        assert (size, root) == (row.tree_size, bytes(row.root_hash))
        lost_block = rpc(url, "eth_getBlockByNumber", hex(row.block_number), False)
    # The ledger is down (as after a kill -9); the node loses the anchor's block.
    if how == "dump_ahead":
        own_chain.stop()  # SIGTERM: Anvil writes its whole state
        dump_ahead(state_file, {row.block_hash}, row.block_number - 1)
        own_chain.start()  # same port
    elif how in ("older_state", "block_again"):
        assert rpc(url, "evm_revert", snapshot) is True
        if how == "block_again":  # the next block as the lost one was: same time, same fee
            rpc(url, "evm_setNextBlockTimestamp", int(lost_block["timestamp"], 16))
            rpc(url, "anvil_setNextBlockBaseFeePerGas", lost_block["baseFeePerGas"])
    else:
        own_chain.stop()
        whole = state_file.read_bytes()
        state_file.write_bytes(whole[: len(whole) // 2])
        own_chain.start()
        assert len(list(state_file.parent.glob("anvil-state.torn-*.json"))) == 1
    assert rpc(url, "eth_getTransactionReceipt", lost["tx_hash"]) is None
    assert int(rpc(url, "eth_blockNumber"), 16) == row.block_number - 1
    if how == "dump_ahead":  # the contract kept the root of the transaction the chain lost
        assert rt.chain.latest() == (size, root)

    with running_ledger(settings, database_url, own_chain) as rt:
        client = TestClient(create_app(rt.ledger))
        states = wait_for(
            "the lost anchor orphaned",
            lambda: "orphaned" in (s := states_of(rt, lost["tx_hash"])) and s,
        )
        assert "final" in states  # what was recorded stays: the final state is not rewritten
        assert "now in no block" in states["orphaned"], states
        assert states_of(rt, kept["tx_hash"]).keys() == {"final"}  # an anchor it holds stays
        audit(rt)  # no live row names a transaction the chain does not have
        if how == "dump_ahead":
            # That size cannot be anchored again (the contract holds it): the records wait for
            # the next checkpoint, anchored on top of it.
            assert receipt(client, second).get("status") != "anchored"
        register(client, rt)
        again = final_receipt(client, second)["anchor"]
        assert again["block_hash"] != row.block_hash
        if how == "block_again":  # the lost block is the chain's again; its row stays orphaned
            block = rpc(url, "eth_getBlockByNumber", hex(row.block_number), False)
            assert block["hash"] == row.block_hash
            assert states_of(rt, lost["tx_hash"]).keys() == {"final", "orphaned"}
        assert (
            rpc(url, "eth_getTransactionReceipt", again["tx_hash"])["blockHash"]
            == again["block_hash"]
        )
        assert verified_on_chain(rt, own_chain, receipt(client, second))
        assert verified_on_chain(rt, own_chain, receipt(client, first))
        audit(rt)
