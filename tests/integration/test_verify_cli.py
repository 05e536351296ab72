"""The auditor's CLI, ``evledger-verify receipt``, on real receipts from a running ledger anchored
on Anvil: exit 0 "VERIFIED", exit 1 naming the failed check, exit 2 "could not check"."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from evledger_verify.checkpoint import format_checkpoint_body, sign_note, verifier_key_string
from evledger_verify.cli import EXIT_CANNOT_CHECK, EXIT_FAILED, EXIT_OK, main
from evledger_verify.records import Entry
from fastapi.testclient import TestClient

from ledger.embedded import Anvil
from ledger.runtime import Runtime
from tests import reference_tree as ref
from tests.helpers import inspection, register, sign, wait_anchored

pytestmark = [pytest.mark.integration, pytest.mark.req("RCPT-2", "ISO-4.2.5-1", "P11-10a-2")]

Capsys = pytest.CaptureFixture[str]

ANCHOR = "anchor (chain 31337)"  # the session Anvil's chain
OFFLINE_CHECKS = ["format", "record", "leaf", "signature", "inclusion", "signer", "checkpoint",
                  ANCHOR, "anchors required"]
CHAIN_CHECKS = ["chain id (chain 31337)", "chain root (chain 31337)",
                "anchor transaction (chain 31337)"]
CLI = Path(sys.executable).parent / "evledger-verify"
UNREACHABLE = "http://127.0.0.1:1"


@dataclass
class Artefacts:
    """A real anchored receipt for INS-1 (with its record and the trust file) in a directory."""

    dir: Path
    receipt: dict[str, Any]
    record: dict[str, Any]
    trust: dict[str, Any]
    rpc_url: str

    def write(self, name: str, value: Any) -> str:
        path = self.dir / name
        path.write_text(value if isinstance(value, str) else json.dumps(value, indent=1))
        return str(path)

    @property
    def receipt_path(self) -> str:
        return self.write("receipt.json", self.receipt)

    @property
    def record_path(self) -> str:
        return self.write("record.json", self.record)

    @property
    def trust_path(self) -> str:
        return self.write("trust.json", self.trust)

    def mutated(self, change: Callable[[dict[str, Any]], None], name: str) -> str:
        """A copy of the receipt changed by ``change``, written to ``name``."""
        receipt = copy.deepcopy(self.receipt)
        change(receipt)
        return self.write(name, receipt)


@pytest.fixture()
def artefacts(
    client: TestClient, runtime: Runtime, anvil: Anvil, tmp_path: Path, specs: Any
) -> Artefacts:
    inspector = register(client, runtime)
    records = [inspection(f"INS-{i}", lot=f"LOT-{i}") for i in range(1, 5)]
    for record in records:
        resp = client.post("/v1/records", json=sign(runtime, record, inspector))
        assert resp.status_code == 201, resp.text
    wait_anchored(client, "INS-4")
    receipt = wait_anchored(client, "INS-1")
    # Several leaves, so the proof has elements to swap and truncate.
    assert receipt["tree_size"] >= 4, receipt
    assert len(receipt["inclusion_proof"]) >= 2, receipt
    assert len(set(receipt["inclusion_proof"])) == len(receipt["inclusion_proof"])
    trust = client.get("/v1/trust").json()
    return Artefacts(tmp_path, receipt, records[0], trust, anvil.rpc_url)


def run(capsys: Capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def verify(
    capsys: Capsys,
    a: Artefacts,
    receipt: str | None = None,
    *extra: str,
    record: bool = True,
    trust: str | None = None,
) -> tuple[int, str, str]:
    argv = ["receipt", receipt or a.receipt_path, "--trust", trust or a.trust_path]
    if record:
        argv += ["--record", a.record_path]
    return run(capsys, *argv, *extra)


def check_lines(out: str) -> dict[str, str]:
    """{check name: "ok" or "FAIL"} from the human output."""
    result = {}
    for line in out.splitlines():
        if line.startswith(("ok   ", "FAIL ")):
            status, rest = line.split(" ", 1)
            result[rest.strip().split(":", 1)[0]] = status
    return result


def assert_failed(code: int, out: str, check: str, fragment: str) -> None:
    assert code == EXIT_FAILED, out
    assert check_lines(out).get(check) == "FAIL", out
    failing = [ln for ln in out.splitlines() if ln.startswith(f"FAIL {check}: ")]
    assert fragment in failing[0], out
    # Fail closed but complete: every offline check still ran and is listed (the anchor checks
    # are one per anchor the receipt holds).
    assert set(OFFLINE_CHECKS) - {ANCHOR} <= set(check_lines(out)), out
    assert out.rstrip().splitlines()[-1] == "FAILED: receipt for record 'INS-1'", out


# -- a good receipt ------------------------------------------------------------------------------


def test_good_receipt_verifies_offline(capsys: Capsys, artefacts: Artefacts) -> None:
    code, out, err = verify(capsys, artefacts)
    assert code == EXIT_OK, out + err
    assert check_lines(out) == dict.fromkeys(OFFLINE_CHECKS, "ok"), out
    assert out.rstrip().splitlines()[-1] == "VERIFIED: receipt for record 'INS-1'"
    assert "record hashes to" in out
    assert f"signed by the trusted log key for {artefacts.trust['log_origin']}" in out
    assert "(confirm with --rpc)" in out
    assert err == ""


def test_good_receipt_without_record_file_says_what_is_proven(
    capsys: Capsys, artefacts: Artefacts
) -> None:
    code, out, _ = verify(capsys, artefacts, record=False)
    assert code == EXIT_OK, out
    assert "ok   record: no record supplied: only the record hash in the receipt is proven" in out


def test_good_receipt_verifies_on_chain(capsys: Capsys, artefacts: Artefacts) -> None:
    code, out, err = verify(capsys, artefacts, None, "--rpc", artefacts.rpc_url)
    assert code == EXIT_OK, out + err
    assert check_lines(out) == dict.fromkeys(OFFLINE_CHECKS + CHAIN_CHECKS, "ok"), out
    assert "VERIFIED" in out
    assert f"Anchored in tx {artefacts.receipt['anchor']['tx_hash']}" in out


def test_good_receipt_json_report(capsys: Capsys, artefacts: Artefacts) -> None:
    code, out, _ = verify(capsys, artefacts, None, "--json", "--rpc", artefacts.rpc_url)
    assert code == EXIT_OK
    report = json.loads(out)
    assert report["verified"] is True
    assert report["subject"] == "receipt for record 'INS-1'"
    assert [c["check"] for c in report["checks"]] == (
        OFFLINE_CHECKS[:-1] + CHAIN_CHECKS + OFFLINE_CHECKS[-1:]
    )
    assert all(c["ok"] for c in report["checks"])


def test_real_subprocess_exit_codes(artefacts: Artefacts) -> None:
    """The installed console script, as an auditor runs it: 0, 1 and 2 reach the shell."""
    assert CLI.exists(), CLI
    a = artefacts
    base = [str(CLI), "receipt", a.receipt_path, "--trust", a.trust_path, "--record"]

    ok = subprocess.run(
        [*base, a.record_path, "--rpc", a.rpc_url], capture_output=True, text=True, timeout=60
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "VERIFIED: receipt for record 'INS-1'" in ok.stdout

    other = a.write("other-record.json", inspection("INS-1", lot="LOT-1", value=3.02))
    bad = subprocess.run([*base, other], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "FAIL record: record hash: expected" in bad.stdout

    down = subprocess.run(
        [*base, a.record_path, "--rpc", UNREACHABLE], capture_output=True, text=True, timeout=60
    )
    assert down.returncode == 2, down.stdout + down.stderr
    assert "evledger-verify: could not check: rpc: node http://127.0.0.1:1 unreachable" in (
        down.stderr
    )
    assert "Traceback" not in down.stderr


# -- exit 1: the evidence does not verify -------------------------------------------------------


def test_record_changed_by_one_byte(capsys: Capsys, artefacts: Artefacts) -> None:
    a = artefacts
    text = json.dumps(a.record)
    assert text.count("3.01") == 1
    changed = a.write("changed.json", text.replace("3.01", "3.02"))
    code, out, _ = run(
        capsys, "receipt", a.receipt_path, "--trust", a.trust_path, "--record", changed
    )
    assert_failed(code, out, "record", f"record hash: expected {a.receipt['record_hash']}")
    assert "the record file hashes to" in out
    # Only the record check fails: the receipt itself is still sound.
    assert [k for k, v in check_lines(out).items() if v == "FAIL"] == ["record"]


def test_record_of_another_id(capsys: Capsys, artefacts: Artefacts) -> None:
    a = artefacts
    other = a.write("other.json", inspection("INS-2", lot="LOT-2"))
    argv = ["receipt", a.receipt_path, "--trust", a.trust_path, "--record", other]
    code, out, _ = run(capsys, *argv)
    assert_failed(code, out, "record", "record hash: expected")


def test_the_signer_is_shown_as_the_log_proves_it(capsys: Capsys, artefacts: Artefacts) -> None:
    """The receipt carries the signer's registry record with its own inclusion proof: the
    printed name, roles, meaning and UTC time are proven, not claimed; a changed name, a
    grant moved to another leaf or one for another key fails the signer check only; a
    receipt without the section (older ledgers) says the signer is known by address only."""
    code, out, _ = verify(capsys, artefacts)
    assert code == EXIT_OK, out
    line = next(x for x in out.splitlines() if x.startswith("ok   signer: "))
    assert "Test Signer (roles qa_inspector)" in line and "signed as 'authored' at 20" in line
    assert "Z: granted by record signer-" in line, line

    def rename(r: dict[str, Any]) -> None:
        r["signer"]["record"]["name"] = "Someone Else"

    def move(r: dict[str, Any]) -> None:
        r["signer"]["leaf_index"] -= 1

    def other_key(r: dict[str, Any]) -> None:
        r["entry"]["signer"], r["signer"]["record"]["address"] = (
            r["entry"]["signer"], "0x" + "11" * 20)

    for change, why in ((rename, "does not hash to its logged entry"),
                        (move, "inclusion proof: expected root")):
        code, out, _ = verify(capsys, artefacts, artefacts.mutated(change, "signer.json"))
        assert_failed(code, out, "signer", why)
        assert [k for k, v in check_lines(out).items() if v == "FAIL"] == ["signer"], out
    code, out, _ = verify(capsys, artefacts, artefacts.mutated(other_key, "other.json"))
    assert code == 1 and check_lines(out)["signer"] == "FAIL", out
    code, out, _ = verify(capsys, artefacts,
                          artefacts.mutated(lambda r: r.pop("signer"), "none.json"))
    assert code == EXIT_OK and "the signer is known by address only" in out, out


def test_swapped_proof(capsys: Capsys, artefacts: Artefacts) -> None:
    def swap(r: dict[str, Any]) -> None:
        p = r["inclusion_proof"]
        p[0], p[1] = p[1], p[0]

    code, out, _ = verify(capsys, artefacts, artefacts.mutated(swap, "swapped.json"))
    assert_failed(code, out, "inclusion", "inclusion proof: expected root")
    assert [k for k, v in check_lines(out).items() if v == "FAIL"] == ["inclusion"]


def test_truncated_proof(capsys: Capsys, artefacts: Artefacts) -> None:
    def truncate(r: dict[str, Any]) -> None:
        r["inclusion_proof"].pop()

    code, out, _ = verify(capsys, artefacts, artefacts.mutated(truncate, "truncated.json"))
    assert_failed(code, out, "inclusion", "inclusion proof: too short")


def test_proof_with_trailing_garbage(capsys: Capsys, artefacts: Artefacts) -> None:
    def extend(r: dict[str, Any]) -> None:
        r["inclusion_proof"].append("00" * 32)

    code, out, _ = verify(capsys, artefacts, artefacts.mutated(extend, "extended.json"))
    assert_failed(code, out, "inclusion", "inclusion proof: too long")


def test_wrong_root_hash(capsys: Capsys, artefacts: Artefacts) -> None:
    def reroot(r: dict[str, Any]) -> None:
        r["root_hash"] = "%064x" % (int(r["root_hash"], 16) ^ 1)

    code, out, _ = verify(capsys, artefacts, artefacts.mutated(reroot, "reroot.json"))
    assert_failed(code, out, "inclusion", "inclusion proof: expected root")
    assert check_lines(out)["checkpoint"] == "FAIL"
    assert "checkpoint says size" in out


def test_wrong_leaf_index(capsys: Capsys, artefacts: Artefacts) -> None:
    def move(r: dict[str, Any]) -> None:
        r["leaf_index"] = r["leaf_index"] ^ 1

    code, out, _ = verify(capsys, artefacts, artefacts.mutated(move, "moved.json"))
    assert_failed(code, out, "inclusion", "inclusion proof")


def test_entry_changed(capsys: Capsys, artefacts: Artefacts) -> None:
    def remean(r: dict[str, Any]) -> None:
        r["entry"]["meaning"] = "approved"

    code, out, _ = verify(capsys, artefacts, artefacts.mutated(remean, "remean.json"))
    assert_failed(code, out, "leaf", "leaf hash: expected")
    assert check_lines(out)["signature"] == "FAIL"
    assert "record signature: expected signer" in out


def test_checkpoint_signed_by_another_key(capsys: Capsys, artefacts: Artefacts) -> None:
    origin = artefacts.trust["log_origin"]

    def resign(r: dict[str, Any]) -> None:
        note = r["checkpoint"]
        body = note[: note.index("\n\n") + 1]
        r["checkpoint"] = sign_note(body, origin, Ed25519PrivateKey.generate())

    code, out, _ = verify(capsys, artefacts, artefacts.mutated(resign, "resigned.json"))
    assert_failed(
        code,
        out,
        "checkpoint",
        f"checkpoint signature: expected a signature by the trusted log key {origin}+",
    )
    assert "found only" in out
    assert [k for k, v in check_lines(out).items() if v == "FAIL"] == ["checkpoint"]


def test_receipt_without_anchor(capsys: Capsys, artefacts: Artefacts) -> None:
    def unanchor(r: dict[str, Any]) -> None:
        r["anchor"] = None
        r["anchors"] = []

    path = artefacts.mutated(unanchor, "unanchored.json")
    code, out, _ = verify(capsys, artefacts, path)
    assert_failed(code, out, "anchors required",
                  "anchors required: missing: the checkpoint is not (yet) anchored")

    # On chain the root is there, but the receipt names no transaction to confirm.
    code, out, _ = verify(capsys, artefacts, path, "--rpc", artefacts.rpc_url)
    assert_failed(code, out, "anchor transaction (chain 31337)",
                  "anchor transaction: missing from the receipt")


def test_anchor_in_another_transaction(capsys: Capsys, artefacts: Artefacts) -> None:
    def retx(r: dict[str, Any]) -> None:
        for anchor in (r["anchor"], *r.get("anchors", [])):
            anchor["tx_hash"] = "0x" + "ab" * 32

    path = artefacts.mutated(retx, "retx.json")
    code, out, _ = verify(capsys, artefacts, path)
    assert code == EXIT_OK, "offline, the anchor is only a claim"
    code, out, _ = verify(capsys, artefacts, path, "--rpc", artefacts.rpc_url)
    assert_failed(
        code, out, "anchor transaction (chain 31337)",
        "anchor transaction: 0x" + "ab" * 32 + " not found"
    )


def test_anchor_on_another_chain(capsys: Capsys, artefacts: Artefacts) -> None:
    def rechain(r: dict[str, Any]) -> None:
        for anchor in (r["anchor"], *r.get("anchors", [])):
            anchor["chain_id"] = 1

    code, out, _ = verify(capsys, artefacts, artefacts.mutated(rechain, "rechain.json"))
    chain = artefacts.trust["chain_id"]
    expected = f"anchors required: chain {chain} has no anchor in this receipt"
    assert_failed(code, out, "anchors required", expected)
    assert "ok   anchor (chain 1): chain 1 is not in the trust file: not counted" in out


def fabricated_log(a: Artefacts, tree_size: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """A receipt for the real entry in a fake log of ``tree_size`` leaves, signed with a fresh key,
    and a trust file pinning that key with the real chain id and contract."""
    key = Ed25519PrivateKey.generate()
    origin = a.trust["log_origin"]
    entry = Entry.from_json(a.receipt["entry"]).canonical()
    index = a.receipt["leaf_index"]
    entries = [b"fake-%d" % i for i in range(tree_size)]
    entries[index] = entry
    grant = a.receipt["signer"]  # the forger carries the signer's grant into the fake log too
    entries[grant["leaf_index"]] = Entry.from_json(grant["entry"]).canonical()
    root = ref.mth(entries)
    receipt = copy.deepcopy(a.receipt)
    receipt.update(
        tree_size=tree_size,
        root_hash=root.hex(),
        inclusion_proof=[p.hex() for p in ref.inclusion_path(index, entries)],
        checkpoint=sign_note(format_checkpoint_body(origin, tree_size, root), origin, key),
    )
    receipt["signer"]["inclusion_proof"] = [
        p.hex() for p in ref.inclusion_path(grant["leaf_index"], entries)]
    for anchor in receipt.get("anchors", []):  # the forger makes the anchors agree as well
        anchor.update(tree_size=tree_size, root_hash=root.hex(), consistency_proof=[])
    public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    trust = {**a.trust, "log_public_key": verifier_key_string(origin, public)}
    return receipt, trust


def test_fabricated_log_is_caught_on_chain(capsys: Capsys, artefacts: Artefacts) -> None:
    """A forged log under a swapped trust file passes every offline check; only the chain, which
    holds another root at that size, tells."""
    a = artefacts
    size = a.receipt["tree_size"]
    receipt, trust = fabricated_log(a, size)
    rpath, tpath = a.write("fake-receipt.json", receipt), a.write("fake-trust.json", trust)

    code, out, _ = verify(capsys, a, rpath, trust=tpath)
    assert code == EXIT_OK, out

    code, out, _ = verify(capsys, a, rpath, "--rpc", a.rpc_url, trust=tpath)
    assert_failed(
        code, out, "chain root (chain 31337)",
        f"chain root: expected {receipt['root_hash']} at tree size"
    )
    assert f"contract holds {a.receipt['root_hash']}" in out

    code, out, _ = verify(capsys, a, rpath, "--rpc", a.rpc_url, "--json", trust=tpath)
    assert code == EXIT_FAILED
    report = json.loads(out)
    assert report["verified"] is False
    failed = [c for c in report["checks"] if not c["ok"]]
    assert [c["check"] for c in failed] == ["chain root (chain 31337)", "anchors required"]
    assert failed[0]["detail"].startswith("chain root: expected")
    assert {c["check"] for c in report["checks"] if c["ok"]} >= set(OFFLINE_CHECKS[:-1])


def test_fabricated_log_of_unanchored_size(capsys: Capsys, artefacts: Artefacts) -> None:
    a = artefacts
    receipt, trust = fabricated_log(a, 1000)
    rpath, tpath = a.write("fake-receipt.json", receipt), a.write("fake-trust.json", trust)
    code, out, _ = verify(capsys, a, rpath, "--rpc", a.rpc_url, trust=tpath)
    assert_failed(
        code,
        out,
        "chain root (chain 31337)",
        f"chain root: contract {a.trust['contract']} holds no root for tree size 1000",
    )


def test_malformed_receipt_fails_the_format_check(capsys: Capsys, artefacts: Artefacts) -> None:
    def reformat(r: dict[str, Any]) -> None:
        r["format"] = "evledger-receipt/2"

    code, out, _ = verify(capsys, artefacts, artefacts.mutated(reformat, "v2.json"), "--rpc",
                          artefacts.rpc_url)
    assert code == EXIT_FAILED
    lines = check_lines(out)
    assert lines["format"] == "FAIL"
    assert "receipt format: expected 'evledger-receipt/1', got 'evledger-receipt/2'" in out
    assert lines["chain"] == "FAIL"
    assert "FAILED: receipt" in out


# -- exit 2: the check could not be made ---------------------------------------------------------


def cannot_check(code: int, out: str, err: str, fragment: str) -> None:
    assert code == EXIT_CANNOT_CHECK, out + err
    assert "evledger-verify: could not check: " in err, err
    assert fragment in err, err
    assert "Traceback" not in err
    assert "VERIFIED" not in out


def test_unreachable_node(capsys: Capsys, artefacts: Artefacts) -> None:
    code, out, err = verify(capsys, artefacts, None, "--rpc", UNREACHABLE)
    cannot_check(code, out, err, "rpc: node http://127.0.0.1:1 unreachable")
    assert "INCOMPLETE" in out and "ok   checkpoint" in out, "the offline checks are shown"


def test_unreachable_node_json(capsys: Capsys, artefacts: Artefacts) -> None:
    code, out, _ = verify(capsys, artefacts, None, "--rpc", UNREACHABLE, "--json")
    assert code == EXIT_CANNOT_CHECK
    answer = json.loads(out)
    assert answer["verified"] is False
    assert answer["exit"] == EXIT_CANNOT_CHECK
    assert "unreachable" in answer["error"]


class FakeNode:
    """A JSON-RPC endpoint on a free port that answers each method with a canned result."""

    def __init__(self) -> None:
        self.answers: dict[str, Any] = {}
        answers = self.answers

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                result = answers.get(request["method"])
                body = json.dumps({"jsonrpc": "2.0", "id": request["id"], "result": result})
                payload = body.encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)


@pytest.fixture()
def fake_node() -> Iterator[FakeNode]:
    node = FakeNode()
    node.thread.start()
    try:
        yield node
    finally:
        node.server.shutdown()
        node.server.server_close()
        node.thread.join(timeout=5)


def node_answers(a: Artefacts, case: str) -> dict[str, Any]:
    anchor = a.receipt["anchor"]
    good = {
        "eth_chainId": hex(a.trust["chain_id"]),
        "eth_call": "0x" + a.receipt["root_hash"],
        "eth_getTransactionReceipt": {
            "status": "0x1",
            "blockHash": anchor["block_hash"],
            "blockNumber": hex(anchor["block_number"]),
            "logs": [{"topics": []}],  # a log without a logIndex
        },
        "eth_getBlockByNumber": {"hash": anchor["block_hash"]},
    }
    if case == "chain-id-null":
        good["eth_chainId"] = None
    elif case == "root-not-hex":
        good["eth_call"] = "0x" + "zz" * 32
    elif case == "block-number-not-hex":
        good["eth_getTransactionReceipt"]["blockNumber"] = "latest"
    return good


@pytest.mark.parametrize(
    "case", ["chain-id-null", "root-not-hex", "block-number-not-hex", "log-without-index"]
)
def test_node_with_malformed_answers_cannot_check(
    capsys: Capsys, artefacts: Artefacts, fake_node: FakeNode, case: str
) -> None:
    fake_node.answers.update(node_answers(artefacts, case))
    code, out, err = verify(capsys, artefacts, None, "--rpc", fake_node.url)
    assert code == EXIT_CANNOT_CHECK, out + err
    assert "could not check: rpc:" in err
    assert "Traceback" not in err


def test_rpc_url_not_http(capsys: Capsys, artefacts: Artefacts) -> None:
    code, out, err = verify(capsys, artefacts, None, "--rpc", "file:///etc/passwd")
    cannot_check(code, out, err, "--rpc: expected an http(s) URL, got 'file:///etc/passwd'")


def test_missing_receipt_file(capsys: Capsys, artefacts: Artefacts, tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.json")
    code, out, err = verify(capsys, artefacts, missing)
    cannot_check(code, out, err, f"receipt: cannot read {missing}: No such file or directory")


def test_unreadable_receipt(capsys: Capsys, artefacts: Artefacts, tmp_path: Path) -> None:
    # Tests run as root, so chmod 000 would not stop a read: a directory does.
    folder = tmp_path / "a-directory.json"
    folder.mkdir()
    code, out, err = verify(capsys, artefacts, str(folder))
    cannot_check(code, out, err, f"receipt: cannot read {folder}: Is a directory")


@pytest.mark.parametrize(
    "text", ["", "{", '{"format": "evledger-receipt/1",', b"\xff\xfe"], ids=["empty", "brace",
                                                                              "cut", "binary"]
)
def test_receipt_not_json(capsys: Capsys, artefacts: Artefacts, text: str | bytes
) -> None:
    path = artefacts.dir / "broken.json"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    code, out, err = verify(capsys, artefacts, str(path))
    cannot_check(code, out, err, f"receipt: {path} is not valid JSON")


def test_oversized_receipt(capsys: Capsys, artefacts: Artefacts) -> None:
    path = artefacts.write("big.json", " " * (256 * 1024 + 1))
    code, out, err = verify(capsys, artefacts, path)
    cannot_check(code, out, err, f"receipt: {path} is larger than {256 * 1024} bytes")


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (lambda t: "not json", "trust file: {path} is not valid JSON"),
        (lambda t: [t], "trust file: expected a JSON object"),
        (lambda t: {**t, "format": "x"}, "trust file format: expected 'evledger-trust/1', got 'x'"),
        (lambda t: {k: v for k, v in t.items() if k != "log_public_key"},
         "trust file: missing key 'log_public_key'"),
        (lambda t: {**t, "chain_id": "31337"}, "trust file chain_id: wrong type str"),
        (lambda t: {**t, "chain_id": True}, "trust file chain_id: wrong type bool"),
        (lambda t: {**t, "contract": "0x1234"}, "trust file contract: expected an address"),
        (lambda t: {**t, "log_public_key": "name+00000000+AAAA"}, "log public key:"),
    ],
    ids=["not-json", "not-object", "format", "missing-key", "chain-id-str", "chain-id-bool",
         "contract", "vkey"],
)
def test_malformed_trust_file(
    capsys: Capsys, artefacts: Artefacts, change: Any, fragment: str
) -> None:
    changed = change(artefacts.trust)
    path = artefacts.write("bad-trust.json", changed)
    code, out, err = verify(capsys, artefacts, None, trust=path)
    cannot_check(code, out, err, fragment.format(path=path))


def test_unreadable_record_file(capsys: Capsys, artefacts: Artefacts) -> None:
    a = artefacts
    dup = a.write("dup.json", '{"record_id": "INS-1", "record_id": "INS-1"}')
    argv = ["receipt", a.receipt_path, "--trust", a.trust_path, "--record", dup]
    code, out, err = run(capsys, *argv)
    cannot_check(code, out, err, "record: duplicate key 'record_id'")
    missing = str(a.dir / "missing-record.json")
    code, out, err = run(
        capsys, "receipt", a.receipt_path, "--trust", a.trust_path, "--record", missing
    )
    cannot_check(code, out, err, f"record: cannot read {missing}")


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["receipt", "r.json"], "usage: the following arguments are required: --trust"),
        ([], "usage: the following arguments are required: command"),
        (["everything", "x"], "usage: argument command: invalid choice: 'everything'"),
        (["receipt", "r.json", "--trust", "t.json", "--nope"], "usage: unrecognized arguments"),
    ],
    ids=["missing-trust", "no-command", "unknown-command", "unknown-option"],
)
def test_bad_usage(capsys: Capsys, argv: list[str], fragment: str) -> None:
    code, out, err = run(capsys, *argv)
    assert code == EXIT_CANNOT_CHECK
    assert "usage: evledger-verify" in err, "argparse's usage line is shown"
    assert f"evledger-verify: could not check: {fragment}" in err, err
    assert out == ""


def test_help_lists_exit_codes(capsys: Capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "Exit 0 = verified, 1 = verification failed, 2 = could not check." in out
    assert "receipt verify one record's receipt" in out
