"""``evledger-verify receipt`` with one ``--rpc`` per chain, against two real Anvil chains that
each hold an EvidenceAnchor contract anchored at a different tree size of a hand-built log
(the primary lagging behind the receipt's checkpoint, the second one ahead of it)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest
from eth_account import Account
from web3 import Web3
from web3.contract import Contract

from ledger.embedded import Anvil, repo_root
from tests.receipt_builder import RECORD, FakeLog

pytestmark = [pytest.mark.integration, pytest.mark.req("RCPT-7")]

CLI = Path(sys.executable).parent / "evledger-verify"
UNREACHABLE = "http://127.0.0.1:1"
ARTIFACT = json.loads((repo_root() / "contracts" / "EvidenceAnchor.json").read_text())
# Anvil's first funded development key: the deployer, owner and anchorer.
OWNER = Account.from_key("0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")
SECOND_CHAIN = 31338


def _send(w3: Web3, call: Any) -> Any:
    params = {"from": OWNER.address, "chainId": w3.eth.chain_id,
              "nonce": w3.eth.get_transaction_count(OWNER.address, "pending")}
    signed = OWNER.sign_transaction(call.build_transaction(params))
    receipt = w3.eth.wait_for_transaction_receipt(
        w3.eth.send_raw_transaction(signed.raw_transaction), timeout=30
    )
    assert receipt["status"] == 1, receipt
    return receipt


def _deploy(w3: Web3) -> Contract:
    factory = w3.eth.contract(abi=ARTIFACT["abi"], bytecode=ARTIFACT["bytecode"])
    address = _send(w3, factory.constructor())["contractAddress"]
    return cast(Contract, w3.eth.contract(address=address, abi=ARTIFACT["abi"]))


@dataclass
class Chains:
    dir: Path
    log: FakeLog
    receipt: dict[str, Any]
    trust: dict[str, Any]
    urls: dict[int, str]

    def write(self, name: str, value: Any) -> str:
        path = self.dir / name
        path.write_text(json.dumps(value, indent=1))
        return str(path)

    def verify(self, *extra: str, receipt: dict[str, Any] | None = None,
               trust: dict[str, Any] | None = None) -> subprocess.CompletedProcess[str]:
        """The installed console script, as an auditor runs it."""
        argv = [str(CLI), "receipt", self.write("receipt.json", receipt or self.receipt),
                "--trust", self.write("trust.json", trust or self.trust),
                "--record", self.write("record.json", RECORD), *extra]
        return subprocess.run(argv, capture_output=True, text=True, timeout=120)

    def rpc(self, *chains: int | str) -> list[str]:
        args = []
        for chain in chains:
            args += ["--rpc", self.urls[chain] if isinstance(chain, int) else chain]
        return args


@pytest.fixture(scope="module")
def second_chain() -> Iterator[Anvil]:
    with Anvil(chain_id=SECOND_CHAIN) as node:
        yield node


@pytest.fixture(scope="module")
def chains(anvil: Anvil, second_chain: Anvil, tmp_path_factory: pytest.TempPathFactory) -> Chains:
    """Primary (the session Anvil) anchored at 6, the second chain at 11; the receipt is for
    leaf 5 at tree size 8, whose checkpoint no chain holds."""
    nodes = {anvil.chain_id: (anvil, 6), second_chain.chain_id: (second_chain, 11)}
    w3s = {c: Web3(Web3.HTTPProvider(n.rpc_url, request_kwargs={"timeout": 30}))
           for c, (n, _) in nodes.items()}
    assert {c: w3.eth.chain_id for c, w3 in w3s.items()} == {c: c for c in nodes}
    _deploy(w3s[SECOND_CHAIN])  # so the two contracts have different addresses
    contracts = {c: _deploy(w3) for c, w3 in w3s.items()}
    assert len({k.address for k in contracts.values()}) == 2
    log = FakeLog(anvil.chain_id, contracts[anvil.chain_id].address)
    anchors = []
    for chain, (_, size) in nodes.items():
        contract = contracts[chain]
        tx = _send(w3s[chain], contract.functions.anchor(size, log.root(size), []))
        (event,) = [lg for lg in tx["logs"] if lg["address"] == contract.address]
        anchors.append(log.anchor(
            chain, contract.address, size, tx_hash=tx["transactionHash"].to_0x_hex(),
            block_number=tx["blockNumber"], block_hash=tx["blockHash"].to_0x_hex(),
            log_index=event["logIndex"],
        ))
    receipt = log.receipt(*anchors)
    trust = log.trust(
        chains=[{"chain_id": c, "contract": k.address} for c, k in contracts.items()],
        require="all",
    )
    urls = {anvil.chain_id: anvil.rpc_url, second_chain.chain_id: second_chain.rpc_url}
    return Chains(tmp_path_factory.mktemp("chains"), log, receipt, trust, urls)


def lines(out: str) -> dict[str, str]:
    """{check name: "ok" or "FAIL"} from the human output."""
    found = {}
    for line in out.splitlines():
        if line.startswith(("ok   ", "FAIL ")):
            status, rest = line.split(" ", 1)
            found[rest.strip().split(":", 1)[0]] = status
    return found


CHAIN_CHECKS = [f"{check} (chain {c})" for c in (31337, SECOND_CHAIN)
                for check in ("chain id", "chain root", "anchor transaction")]


def test_both_chains_confirm_their_anchor_at_their_own_size(chains: Chains) -> None:
    done = chains.verify(*chains.rpc(SECOND_CHAIN, 31337), "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["verified"] is True
    names = [c["check"] for c in report["checks"]]
    assert set(CHAIN_CHECKS) <= set(names)
    assert names[-1] == "anchors required"
    detail = {c["check"]: c["detail"] for c in report["checks"]}
    assert detail["chain root (chain 31337)"].endswith("holds the root at tree size 6")
    assert detail["chain root (chain 31338)"].endswith("holds the root at tree size 11")
    assert detail["anchors required"] == (
        "met by chain 31337 (confirmed on chain, included), chain 31338 (confirmed on chain, "
        "included) (require: all)"
    )


def test_without_rpc_the_anchors_are_checked_offline(chains: Chains) -> None:
    done = chains.verify()
    assert done.returncode == 0, done.stdout + done.stderr
    assert "(offline only, included)" in done.stdout
    assert done.stdout.rstrip().endswith("VERIFIED: receipt for record 'INS-1'")


def test_a_chain_going_away_does_not_stop_the_other_from_proving_the_record(
    chains: Chains,
) -> None:
    any_chain = {**chains.trust, "require": "any"}
    done = chains.verify(*chains.rpc(31337, UNREACHABLE), trust=any_chain)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"ok   chain id ({UNREACHABLE}): node unreachable (rpc: node {UNREACHABLE} " \
        "unreachable" in done.stdout
    assert "not needed: the requirement is met on chain(s) 31337" in done.stdout
    # Both chains required: the receipt cannot be judged without the missing one (exit 2).
    done = chains.verify(*chains.rpc(31337, UNREACHABLE))
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"could not check: rpc: node {UNREACHABLE} unreachable" in done.stderr
    assert "INCOMPLETE" in done.stdout and "Traceback" not in done.stderr


def test_an_anchor_the_chain_does_not_hold_fails_even_when_not_required(chains: Chains) -> None:
    receipt = json.loads(json.dumps(chains.receipt))
    receipt["anchors"][1]["tx_hash"] = "0x" + "ab" * 32
    trust = {**chains.trust, "require": [31337]}
    done = chains.verify(*chains.rpc(31337, SECOND_CHAIN), receipt=receipt, trust=trust)
    assert done.returncode == 1, done.stdout + done.stderr
    assert [k for k, v in lines(done.stdout).items() if v == "FAIL"] == [
        "anchor transaction (chain 31338)"
    ]
    assert "anchor transaction: 0x" + "ab" * 32 + " not found on chain" in done.stdout


def test_a_node_on_a_chain_the_trust_file_does_not_name(chains: Chains) -> None:
    primary_only = {k: v for k, v in chains.trust.items() if k not in ("chains", "require")}
    done = chains.verify(*chains.rpc(31337, SECOND_CHAIN), trust=primary_only)
    assert done.returncode == 1, done.stdout + done.stderr
    assert lines(done.stdout)["chain id (chain 31338)"] == "FAIL"
    assert "chain id: expected a chain the trust file names (31337), node is on 31338" in (
        done.stdout
    )
    assert "ok   anchor (chain 31338): chain 31338 is not in the trust file: not counted" in (
        done.stdout
    )


def test_require_final_names_the_anchors_not_final(chains: Chains) -> None:
    done = chains.verify(*chains.rpc(31337, SECOND_CHAIN), "--require-final")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "FAIL anchors required: anchors required: expected final anchors (--require-final), " \
        "got chain 31337 included, chain 31338 included" in done.stdout
