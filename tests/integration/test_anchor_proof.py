"""An anchor proven offline down to the block header: the proof cut from a real Anvil block
(header rebuilt from the node's JSON, receipts trie rebuilt with py-trie) verifies with the
verifier's own RLP and trie code, and each altered part is refused, naming what broke."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from evledger_verify.evm import AnchorProof, ProofInvalid, verify_anchor_proof
from fastapi.testclient import TestClient

from api.app import create_app
from ledger.anchor_proof import cut_anchor_proof
from ledger.runtime import Runtime
from tests.helpers import fresh, inspection, master_data, register, sign, wait_anchored

pytestmark = [pytest.mark.integration, pytest.mark.req("ANCH-3")]


@pytest.fixture()
def anchored(runtime: Runtime) -> tuple[Runtime, dict[str, Any]]:
    client = TestClient(create_app(runtime.ledger))
    master_data(client, runtime)
    inspector = register(client, runtime, ("qa_inspector",))
    rid = fresh("PROOF")
    assert client.post("/v1/records", json=sign(runtime, inspection(rid), inspector)).is_success
    return runtime, wait_anchored(client, rid)


def check(receipt: dict[str, Any], proof: AnchorProof, **over: Any) -> str:
    a = receipt["anchor"]
    args = {
        "block_hash": bytes.fromhex(a["block_hash"][2:]),
        "block_number": a["block_number"],
        "contract": a["contract"],
        "tree_size": receipt["tree_size"],
        "root_hash": bytes.fromhex(receipt["root_hash"]),
        **over,
    }
    return verify_anchor_proof(proof, **args)


def as_proof(cut: dict[str, Any]) -> AnchorProof:
    return AnchorProof(bytes.fromhex(cut["block_header"]), cut["tx_index"],
                       tuple(bytes.fromhex(n) for n in cut["receipt_proof"]))


def flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1:]


def test_a_real_anchor_verifies_offline(anchored: tuple[Runtime, dict[str, Any]]) -> None:
    rt, receipt = anchored
    a = receipt["anchor"]
    cut = cut_anchor_proof(rt.chain.w3, a["tx_hash"], a["contract"], receipt["tree_size"],
                           bytes.fromhex(receipt["root_hash"]))
    assert "Anchored(" in check(receipt, as_proof(cut))


ALTERATIONS: dict[str, tuple[Callable[[AnchorProof], AnchorProof], dict[str, Any], str]] = {
    "a header byte": (lambda p: AnchorProof(flip(p.block_header, 40), p.tx_index,
                                            p.receipt_proof), {}, "block header"),
    "a receipt-proof node byte": (lambda p: AnchorProof(p.block_header, p.tx_index,
                                                        (flip(p.receipt_proof[0], 5),
                                                         *p.receipt_proof[1:])), {},
                                  "trie proof"),
    "another transaction index": (lambda p: AnchorProof(p.block_header, p.tx_index + 1,
                                                        p.receipt_proof), {}, "absent"),
    "another tree size": (lambda p: p, {"tree_size": 10**6}, "no Anchored"),
    "another root": (lambda p: p, {"root_hash": bytes(32)}, "no Anchored"),
    "another contract": (lambda p: p, {"contract": "0x" + "11" * 20}, "no Anchored"),
    "another block number": (lambda p: p, {"block_number": 10**9}, "number"),
    "the proof cut short": (lambda p: AnchorProof(p.block_header, p.tx_index, ()), {},
                            "no node"),
}


@pytest.mark.parametrize("name", list(ALTERATIONS))
def test_an_altered_proof_is_refused(anchored: tuple[Runtime, dict[str, Any]], name: str) -> None:
    rt, receipt = anchored
    a = receipt["anchor"]
    cut = cut_anchor_proof(rt.chain.w3, a["tx_hash"], a["contract"], receipt["tree_size"],
                           bytes.fromhex(receipt["root_hash"]))
    alter, over, message = ALTERATIONS[name]
    with pytest.raises(ProofInvalid, match=message):
        check(receipt, alter(as_proof(cut)), **over)


def test_an_anchor_among_many_transactions_in_its_block(
    settings: Any, database_url: str, own_chain: Any
) -> None:
    """With 40 other transactions in the block the proof walks branch and extension nodes."""
    from tests.conftest import running_ledger
    from tests.helpers import rpc, wait_for

    with running_ledger(settings, database_url, own_chain) as rt:
        client = TestClient(create_app(rt.ledger))
        inspector = register(client, rt, ("qa_inspector",))
        master_data(client, rt)
        # Every record so far sealed and anchored (the grants included), so that the only
        # anchor transaction the paused chain holds is the one for the record below.
        wait_for("idle", lambda: (st := client.get("/v1/status").json())["pending_seal"] == 0
                 and st["anchor_lag_records"] == 0)
        rpc(own_chain.rpc_url, "evm_setAutomine", False)
        sender = rpc(own_chain.rpc_url, "eth_accounts")[0]
        for i in range(40):
            rpc(own_chain.rpc_url, "eth_sendTransaction",
                {"from": sender, "to": "0x" + f"{i + 1:040x}", "value": hex(1)})
        rid = fresh("MANY")
        assert client.post("/v1/records", json=sign(rt, inspection(rid), inspector)).is_success
        sealed = wait_for("sealed", lambda: (r := client.get(f"/v1/records/{rid}/receipt")
                                             .json()).get("leaf_index") is not None and r)
        anchorer = rt.chain.account.address.lower()

        def sent() -> bool:
            pending = rpc(own_chain.rpc_url, "txpool_content")["pending"]
            return anchorer in {address.lower() for address in pending}

        try:  # in the node's pool: what the database says is not what this waits for
            wait_for("its anchor sent", sent, timeout=90)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; the anchorer's last error: {rt.anchorer.last_error}; "
                                 f"status {client.get('/v1/status').json()}") from None
        assert sealed["leaf_index"] >= 0
        rpc(own_chain.rpc_url, "evm_mine")
        rpc(own_chain.rpc_url, "evm_setAutomine", True)
        receipt = wait_anchored(client, rid)
        a = receipt["anchor"]
        block = rpc(own_chain.rpc_url, "eth_getBlockByHash", a["block_hash"], False)
        assert len(block["transactions"]) == 41
        cut = cut_anchor_proof(rt.chain.w3, a["tx_hash"], a["contract"], receipt["tree_size"],
                               bytes.fromhex(receipt["root_hash"]))
        assert len(cut["receipt_proof"]) >= 2
        assert "Anchored(" in check(receipt, as_proof(cut))


def test_final_receipts_carry_the_offline_proof(anchored: tuple[Runtime, dict[str, Any]]) -> None:
    """Once final, the anchorer cuts the proof once and stores it; receipts carry it."""
    from tests.helpers import wait_for

    rt, receipt = anchored
    client = TestClient(create_app(rt.ledger))
    rid = receipt["record_id"]
    final = wait_for("proof in the receipt", lambda: (r := client.get(
        f"/v1/records/{rid}/receipt").json())["anchor"].get("proof") and r)
    assert final["anchor"]["state"] == "final"
    p = final["anchor"]["proof"]
    assert "Anchored(" in check(final, as_proof(p))
    assert final["anchors"][0]["proof"] == p


def test_the_verifier_checks_a_receipts_proof_offline(
    anchored: tuple[Runtime, dict[str, Any]], tmp_path: Any
) -> None:
    """`evledger-verify receipt` with no node at all: the anchor is proven down to the block
    header; a receipt-proof node altered, or the proof moved to another block, fails it."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    from tests.helpers import wait_for

    rt, receipt = anchored
    client = TestClient(create_app(rt.ledger))
    rid = receipt["record_id"]
    final = wait_for("proof in the receipt", lambda: (r := client.get(
        f"/v1/records/{rid}/receipt").json())["anchor"].get("proof") and r)
    (tmp_path / "trust.json").write_text(json.dumps(rt.ledger.identity.trust()))
    cli = Path(sys.executable).parent / "evledger-verify"

    def verify(rec: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        (tmp_path / "r.json").write_text(json.dumps(rec))
        done = subprocess.run([str(cli), "receipt", str(tmp_path / "r.json"), "--trust",
                               str(tmp_path / "trust.json"), "--json"],
                              capture_output=True, text=True, timeout=60)
        return done.returncode, json.loads(done.stdout)

    code, report = verify(final)
    assert code == 0, report
    (check_,) = [c for c in report["checks"] if c["check"] == "anchor (chain 31337)"]
    assert "proven offline down to the block header" in check_["detail"]

    def altered(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        bad = json.loads(json.dumps(final))
        for a in (bad["anchor"], bad["anchors"][0]):
            change(a["proof"])
        return bad

    def node_byte(p: dict[str, Any]) -> None:
        n = p["receipt_proof"][0]
        p["receipt_proof"][0] = n[:20] + ("0" if n[20] != "0" else "1") + n[21:]

    def header_byte(p: dict[str, Any]) -> None:
        h = p["block_header"]
        p["block_header"] = h[:100] + ("0" if h[100] != "0" else "1") + h[101:]

    for change, named in ((node_byte, "trie proof"), (header_byte, "block header")):
        code, report = verify(altered(change))
        failed = [c for c in report["checks"] if not c["ok"]]
        assert code == 1 and failed[0]["check"] == "anchor (chain 31337)", report
        assert named in failed[0]["detail"], failed
