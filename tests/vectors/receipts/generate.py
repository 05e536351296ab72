"""Write ``receipts.json``: receipts, trust files and records that both verifiers run, the
Python reference (``evledger-verify receipt --json``) and the page's (web/verify/src/verify.js).

    .venv/bin/python -m tests.vectors.receipts.generate          # rewrite receipts.json
    .venv/bin/python -m tests.vectors.receipts.generate --check  # exit 1 if it is stale

Each vector holds the exact bytes of its files (``{"text": ...}``, or ``{"base64": ...}`` for
bytes that are not UTF-8) and what the CLI said of them: the exit code, every check with its
verdict and detail, and the error when it could not check. The positives come first
(``valid/...``); every other vector is named after the one mutation that breaks it, as the
RFC 9162 vectors beside this folder are. The receipts are made by :class:`FakeLog` (a real
EIP-712-signed entry, a checkpoint signed by a fixed Ed25519 key, proofs from the naive
reference tree) and, for the anchors proven offline, a block whose receipts trie holds the
``Anchored`` event, built here with the Ethereum Foundation's ``rlp`` and ``trie``. Nothing reads
the clock or a random source, so the file is the same on every run.

``tests/js/receipts.test.mjs`` asserts that the page's verifier gives the same exit code and
the same verdict for every check; ``tests/unit/test_web_verify.py`` that this file is fresh.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import io
import json
import sys
import tempfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import rlp
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from eth_account import Account
from eth_typing import Hash32
from evledger_verify import strictjson
from evledger_verify.checkpoint import format_checkpoint_body, sign_note, verifier_key_string
from evledger_verify.cli import main
from evledger_verify.errors import FormatError
from evledger_verify.evm import ANCHORED_TOPIC
from evledger_verify.records import Domain, Entry, canonical_json, keccak256, record_hash
from trie.hexary import HexaryTrie

from tests import reference_tree as ref
from tests.receipt_builder import RECORD, SIGNER, FakeLog

HERE = Path(__file__).resolve().parent
OUTPUT = HERE / "receipts.json"
PRIMARY, SECOND, STRANGER = 31337, 31338, 999
CONTRACTS = {
    PRIMARY: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
    SECOND: "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512",
    STRANGER: "0xCf7Ed3AccA5a467e9e704C703E8D87F634fB0Fc9",
}
LOG = FakeLog(PRIMARY, CONTRACTS[PRIMARY])
OTHER_LOG_KEY = Ed25519PrivateKey.from_private_bytes(bytes([7] * 32))
N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141

Json = dict[str, Any]


# -- building blocks ---------------------------------------------------------------------------


def anchor(chain: int, tree_size: int, state: str = "included") -> Json:
    """One chain's ``anchors`` entry (a made-up transaction) for LOG's receipt."""
    return LOG.anchor(
        chain, CONTRACTS[chain], tree_size, state=state,
        tx_hash="0x" + f"{chain:04x}{tree_size:04x}" * 8, block_number=100 + tree_size,
        block_hash="0x" + f"{tree_size:04x}{chain:04x}" * 8,
    )


def receipt(*anchors: Json) -> Json:
    return LOG.receipt(*anchors)


def trust(*chains: int, **extra: Any) -> Json:
    if chains:
        extra["chains"] = [{"chain_id": c, "contract": CONTRACTS[c]} for c in chains]
    return LOG.trust(**extra)


def proven_block(tree_size: int, tx_index: int, count: int) -> tuple[Json, str, int]:
    """A block of ``count`` transactions whose ``tx_index``-th emits Anchored(tree_size, root)
    from the primary contract: (the anchor's ``proof``, the block hash, the block number)."""
    root = LOG.root(tree_size)
    contract = bytes.fromhex(CONTRACTS[PRIMARY][2:])
    trie = HexaryTrie({})
    for i in range(count):
        if i == tx_index:
            logs = [[contract, [ANCHORED_TOPIC, tree_size.to_bytes(32, "big")],
                     root + (tree_size - 1).to_bytes(32, "big") + LOG.root(tree_size - 1)]]
        else:  # another contract's event
            logs = [[bytes([i % 256]) * 20, [keccak256(b"Other(uint256)")], i.to_bytes(32, "big")]]
        body = rlp.encode([1, 21_000 * (i + 1), bytes(256), logs])
        trie[rlp.encode(i)] = b"\x02" + body
    number = 1000 + tree_size
    header = rlp.encode([
        bytes(32), keccak256(rlp.encode([])), bytes(20), b"\x11" * 32, b"\x22" * 32,
        trie.root_hash, bytes(256), 0, number, 30_000_000, 21_000 * count, 1_700_000_000 + number,
        b"", bytes(32), bytes(8), 7,
    ])
    nodes = [rlp.encode(n) for n in trie.get_proof(rlp.encode(tx_index))]  # type: ignore[no-untyped-call]
    proof = {"block_header": header.hex(), "tx_index": tx_index,
             "receipt_proof": [n.hex() for n in nodes]}
    return proof, "0x" + keccak256(header).hex(), number


def final_receipt(tx_index: int = 1, count: int = 3) -> Json:
    """LOG's receipt whose anchor, at its own size, is final and proven down to the header."""
    proof, block_hash, number = proven_block(LOG.size, tx_index, count)
    a = anchor(PRIMARY, LOG.size, state="final")
    a.update(block_hash=block_hash, block_number=number, proof=proof)
    r = receipt(a)
    r["anchor"]["proof"] = copy.deepcopy(proof)
    return r


def both_anchors(r: Json, change: Callable[[Json], None]) -> None:
    """Apply ``change`` to ``anchor`` and to each of ``anchors`` (the same claim twice)."""
    for a in ([r["anchor"]] if r.get("anchor") else []) + r.get("anchors", []):
        change(a)


def resign_checkpoint(r: Json, key: Ed25519PrivateKey, origin: str | None = None) -> None:
    note = r["checkpoint"]
    body = note[: note.index("\n\n") + 1]
    r["checkpoint"] = sign_note(body, origin or LOG.origin, key)


def other_origin(r: Json) -> None:
    """The checkpoint of the same tree for another log (origin), signed by the trusted key."""
    body = format_checkpoint_body("evledger/elsewhere", LOG.size, LOG.root(LOG.size))
    r["checkpoint"] = sign_note(body, LOG.origin, LOG.key)


def flip_checkpoint_signature(r: Json) -> None:
    """One bit of the Ed25519 signature flipped (the key id kept)."""
    head, blob = r["checkpoint"].rstrip("\n").rsplit(" ", 1)
    raw = bytearray(base64.b64decode(blob))
    raw[10] ^= 0x01
    r["checkpoint"] = f"{head} {base64.b64encode(bytes(raw)).decode()}\n"


def flip_hex(text: str, at: int = 0) -> str:
    """``text`` (hex) with the low bit of the digit at ``at`` flipped."""
    return text[:at] + format(int(text[at], 16) ^ 1, "x") + text[at + 1:]


def flip_key_id(vkey: str) -> str:
    name, key_id, key = vkey.split("+", 2)
    return f"{name}+{flip_hex(key_id)}+{key}"


def high_s(signature: str) -> str:
    raw = bytes.fromhex(signature[2:])
    s = N - int.from_bytes(raw[32:64], "big")
    return "0x" + (raw[:32] + s.to_bytes(32, "big") + bytes([raw[64] ^ 1])).hex()


def entry_signed_by_another_key(r: Json) -> None:
    """The entry's signature made by another key (the signer field unchanged)."""
    other = Account.from_key("0x" + "42" * 32)
    e = r["entry"]
    fields = {k: v for k, v in e.items() if k != "format"}
    digest = Entry(**fields).digest(Domain(PRIMARY, CONTRACTS[PRIMARY]))
    e["signature"] = other.unsafe_sign_hash(Hash32(digest)).signature.to_0x_hex()


def proof_change(change: Callable[[Json], Any]) -> Callable[[Json], None]:
    """A receipt change applying ``change`` to the anchor proof of both anchor claims."""
    return lambda r: both_anchors(r, lambda a: change(a["proof"]))


def alter_node(proof: Json) -> None:
    node = proof["receipt_proof"][0]
    proof["receipt_proof"][0] = flip_hex(node, len(node) // 2)


def alter_header(proof: Json) -> None:
    proof["block_header"] = flip_hex(proof["block_header"], 100)


def deflate(data: bytes) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


ADMIN_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"  # Anvil's first


def signed_receipt(leaf: int = 2, size: int = 8, address: str | None = None,
                   action: str = "grant", record_type: str = "signer",
                   forged_by: str | None = None) -> Json:
    """A receipt of INS-1 in a log whose leaf ``leaf`` is the signer record granting INS-1's
    key (signed by ``admin``), carried in the receipt's ``signer`` section."""
    grant = {"record_id": f"signer-{SIGNER.address.lower()}", "type": "signer",
             "schema": "signer/1", "action": action, "address": address or SIGNER.address,
             "name": "Ivy Inspector", "roles": ["qa_inspector"]}
    key = Account.from_key(ADMIN_KEY)
    fields: Json = {
        "record_id": grant["record_id"], "record_type": record_type,
        "record_hash": record_hash(grant).hex(), "lot": None, "lot_prev": None,
        "signer": key.address, "meaning": "approved", "signed_at": 1_699_999_000,
        "signature": "", "salt": "cd" * 32, "accepted_at": "2023-11-14T21:56:40.000000Z",
    }
    digest = Entry(**fields).digest(Domain(PRIMARY, CONTRACTS[PRIMARY]))
    signer = key if forged_by is None else Account.from_key(forged_by)
    fields["signature"] = signer.unsafe_sign_hash(Hash32(digest)).signature.to_0x_hex()
    entry = Entry(**fields)
    log = FakeLog(PRIMARY, CONTRACTS[PRIMARY], size=size)
    log.leaves[leaf] = entry.canonical()
    a = log.anchor(PRIMARY, CONTRACTS[PRIMARY], size, tx_hash="0x" + "5a" * 32,
                   block_number=200, block_hash="0x" + "5b" * 32)
    r = log.receipt(a)
    r["signer"] = {
        "record": grant, "entry": entry.to_json(), "leaf_index": leaf,
        "inclusion_proof": [p.hex() for p in ref.inclusion_path(leaf, log.leaves[:size])],
    }
    return r


# -- the vectors -------------------------------------------------------------------------------


def text(value: Any) -> str:
    return json.dumps(value, indent=1, ensure_ascii=False)


RECORD_TEXT = text(RECORD)
GOOD = receipt(anchor(PRIMARY, LOG.size))
TRUST = trust()


def mutated(change: Callable[[Json], Any], base: Json | None = None) -> Json:
    r = copy.deepcopy(GOOD if base is None else base)
    change(r)
    return r


def cases() -> list[tuple[str, Any, Any, Any, dict[str, Any]]]:
    """(name, receipt, trust, record, options); a receipt, trust or record is a JSON value,
    or ``str`` / ``bytes`` for the exact file."""
    two = receipt(anchor(PRIMARY, 6), anchor(SECOND, 11))
    two_trust = trust(PRIMARY, SECOND, require="all")
    final = final_receipt()
    final_far = final_receipt(tx_index=129, count=130)
    old = mutated(lambda r: r.pop("anchors"))
    out: list[tuple[str, Any, Any, Any, dict[str, Any]]] = [
        ("valid/anchored-at-receipt-size", GOOD, TRUST, RECORD, {}),
        ("valid/without-record", GOOD, TRUST, None, {}),
        ("valid/final-anchor-proven-to-block-header", final, TRUST, RECORD, {}),
        ("valid/final-anchor-tx-129-of-130", final_far, TRUST, RECORD, {"require_final": True}),
        ("valid/anchors-at-earlier-and-later-sizes", two, two_trust, RECORD, {}),
        ("valid/old-receipt-without-anchors-key", old, TRUST, RECORD, {}),
        ("valid/anchor-on-untrusted-chain-not-counted",
         receipt(anchor(PRIMARY, LOG.size), anchor(STRANGER, 9)), TRUST, RECORD, {}),
        ("valid/block-pinned-by-trust-file", final,
         trust(blocks=[{"chain_id": PRIMARY, "number": final["anchor"]["block_number"],
                        "hash": final["anchor"]["block_hash"]}]), RECORD, {}),
        ("valid/receipt-with-bom-and-crlf", b"\xef\xbb\xbf" + text(GOOD).replace(
            "\n", "\r\n").encode(), TRUST, RECORD, {}),
        ("valid/record-keys-in-another-order", GOOD, TRUST,
         dict(reversed(list(RECORD.items()))), {}),
        ("valid/record-number-in-another-form", GOOD, TRUST,
         RECORD_TEXT.replace("3.01", "301e-2"), {}),
        ("valid/signer-grant-proven", signed_receipt(), TRUST, RECORD, {}),
        ("valid/signer-grant-at-leaf-0-in-a-later-tree", signed_receipt(leaf=0, size=13),
         TRUST, RECORD, {}),
        ("valid/unknown-receipt-keys-ignored", mutated(lambda r: r.update(note="hello")), TRUST,
         RECORD, {}),
    ]
    record_text = RECORD_TEXT
    assert record_text.count("3.01") == 1
    bad: list[tuple[str, Any, Any, Any, dict[str, Any]]] = [
        # the record
        ("record-changed-one-byte", GOOD, TRUST, record_text.replace("3.01", "3.02"), {}),
        ("record-of-another-id", GOOD, TRUST, {**RECORD, "record_id": "INS-2"}, {}),
        ("record-unsafe-integer", GOOD, TRUST, {**RECORD, "value": 2**53}, {}),
        # the logged entry and its signature
        ("entry-changed", mutated(lambda r: r["entry"].update(meaning="approved")), TRUST,
         RECORD, {}),
        ("entry-signed-by-another-key", mutated(lambda r: entry_signed_by_another_key(r)),
         TRUST, RECORD, {}),
        ("entry-high-s-signature",
         mutated(lambda r: r["entry"].update(signature=high_s(r["entry"]["signature"]))),
         TRUST, RECORD, {}),
        ("entry-signed-at-float", mutated(lambda r: r["entry"].update(signed_at=1.7e9)), TRUST,
         RECORD, {}),
        ("entry-unknown-key", mutated(lambda r: r["entry"].update(extra=1)), TRUST, RECORD, {}),
        ("leaf-hash-changed", mutated(lambda r: r.update(leaf_hash=flip_hex(r["leaf_hash"]))),
         TRUST, RECORD, {}),
        ("signed-for-another-contract", GOOD, trust(contract=CONTRACTS[SECOND]), RECORD, {}),
        # the signer's grant
        ("signer-name-changed", mutated(lambda r: r["signer"]["record"].update(
            name="Someone Else"), signed_receipt()), TRUST, RECORD, {}),
        ("signer-grant-moved", mutated(lambda r: r["signer"].update(leaf_index=1),
                                       signed_receipt()), TRUST, RECORD, {}),
        ("signer-proof-flipped-bit", mutated(lambda r: r["signer"]["inclusion_proof"].__setitem__(
            0, flip_hex(r["signer"]["inclusion_proof"][0], 63)), signed_receipt()), TRUST,
         RECORD, {}),
        ("signer-grant-for-another-key", signed_receipt(address="0x" + "11" * 20), TRUST,
         RECORD, {}),
        ("signer-revoke-not-grant", signed_receipt(action="revoke"), TRUST, RECORD, {}),
        ("signer-grant-logged-after-the-record", signed_receipt(leaf=6), TRUST, RECORD, {}),
        ("signer-not-a-signer-record", signed_receipt(record_type="inspection"), TRUST, RECORD,
         {}),
        ("signer-grant-forged-signature", signed_receipt(forged_by="0x" + "43" * 32), TRUST,
         RECORD, {}),
        ("signer-section-not-an-object", mutated(lambda r: r.update(signer=["grant"])), TRUST,
         RECORD, {}),
        ("signer-section-missing-entry", mutated(lambda r: r["signer"].pop("entry"),
                                                 signed_receipt()), TRUST, RECORD, {}),
        # the inclusion proof
        ("swapped-nodes", mutated(lambda r: r.update(inclusion_proof=[
            r["inclusion_proof"][1], r["inclusion_proof"][0], *r["inclusion_proof"][2:]])),
         TRUST, RECORD, {}),
        ("truncated-proof", mutated(lambda r: r["inclusion_proof"].pop()), TRUST, RECORD, {}),
        ("trailing-garbage", mutated(lambda r: r["inclusion_proof"].append("00" * 32)), TRUST,
         RECORD, {}),
        ("flipped-bit", mutated(lambda r: r["inclusion_proof"].__setitem__(
            0, flip_hex(r["inclusion_proof"][0], 63))), TRUST, RECORD, {}),
        ("wrong-root", mutated(lambda r: r.update(root_hash=flip_hex(r["root_hash"], 63))),
         TRUST, RECORD, {}),
        ("wrong-leaf-index", mutated(lambda r: r.update(leaf_index=r["leaf_index"] ^ 1)),
         TRUST, RECORD, {}),
        ("negative-leaf-index", mutated(lambda r: r.update(leaf_index=-1)), TRUST, RECORD, {}),
        ("huge-leaf-index", mutated(lambda r: r.update(leaf_index=2**70)), TRUST, RECORD, {}),
        ("wrong-size", mutated(lambda r: r.update(tree_size=r["tree_size"] + 1)), TRUST,
         RECORD, {}),
        # the checkpoint
        ("checkpoint-other-log-key", mutated(lambda r: resign_checkpoint(r, OTHER_LOG_KEY)),
         TRUST, RECORD, {}),
        ("checkpoint-other-key-name",
         mutated(lambda r: resign_checkpoint(r, LOG.key, "evledger/elsewhere")), TRUST,
         RECORD, {}),
        ("checkpoint-other-origin", mutated(other_origin), TRUST, RECORD, {}),
        ("checkpoint-signature-flipped", mutated(flip_checkpoint_signature), TRUST, RECORD, {}),
        ("checkpoint-trailing-line", mutated(lambda r: r.update(
            checkpoint=r["checkpoint"] + "extra\n")), TRUST, RECORD, {}),
        ("trust-pins-other-log-key", GOOD, {**TRUST, "log_public_key": verifier_key_string(
            LOG.origin, OTHER_LOG_KEY.public_key().public_bytes_raw())}, RECORD, {}),
        # the anchors
        ("no-anchor", mutated(lambda r: r.update(anchor=None, anchors=[])), TRUST, RECORD, {}),
        ("anchor-on-another-chain",
         mutated(lambda r: both_anchors(r, lambda a: a.update(chain_id=1))), TRUST, RECORD, {}),
        ("anchor-other-contract", mutated(lambda r: both_anchors(
            r, lambda a: a.update(contract=CONTRACTS[SECOND]))), TRUST, RECORD, {}),
        ("anchor-tree-without-the-leaf", receipt(anchor(PRIMARY, LOG.leaf)), TRUST, RECORD, {}),
        ("consistency-proof-flipped", mutated(lambda r: r["anchors"][0].__setitem__(
            "consistency_proof", [flip_hex(r["anchors"][0]["consistency_proof"][0], 63),
                                  *r["anchors"][0]["consistency_proof"][1:]]), two),
         two_trust, RECORD, {}),
        ("required-chain-missing", GOOD, trust(PRIMARY, SECOND, require=[SECOND]), RECORD, {}),
        ("require-final-not-final", GOOD, TRUST, RECORD, {"require_final": True}),
        ("anchor-proof-node-altered", mutated(proof_change(alter_node), final), TRUST, RECORD,
         {}),
        ("anchor-proof-header-altered", mutated(proof_change(alter_header), final), TRUST,
         RECORD, {}),
        ("anchor-proof-other-tx-index", mutated(proof_change(lambda p: p.update(tx_index=0)),
                                                final), TRUST, RECORD, {}),
        ("anchor-proof-absent-tx-index", mutated(proof_change(lambda p: p.update(tx_index=7)),
                                                 final), TRUST, RECORD, {}),
        ("anchor-proof-node-dropped", mutated(proof_change(lambda p: p["receipt_proof"].pop()),
                                              final), TRUST, RECORD, {}),
        ("anchor-proof-other-block-number", mutated(lambda r: both_anchors(
            r, lambda a: a.update(block_number=a["block_number"] + 1)), final), TRUST, RECORD,
         {}),
        ("block-pinned-otherwise", final, trust(blocks=[
            {"chain_id": PRIMARY, "number": final["anchor"]["block_number"],
             "hash": "0x" + "ab" * 32}]), RECORD, {}),
        # the receipt's format
        ("format-unknown-version", mutated(lambda r: r.update(format="evledger-receipt/2")),
         TRUST, RECORD, {}),
        ("format-missing-checkpoint", mutated(lambda r: r.pop("checkpoint")), TRUST, RECORD,
         {}),
        ("format-uppercase-root", mutated(lambda r: r.update(root_hash=r["root_hash"].upper())),
         TRUST, RECORD, {}),
        ("format-leaf-index-float", text(GOOD).replace(
            f'"leaf_index": {LOG.leaf}', f'"leaf_index": {LOG.leaf}.0'), TRUST, RECORD, {}),
        ("format-leaf-index-bool", mutated(lambda r: r.update(leaf_index=True)), TRUST, RECORD,
         {}),
        ("format-anchor-not-in-anchors",
         mutated(lambda r: r["anchor"].update(log_index=3)), TRUST, RECORD, {}),
        ("format-anchor-state-unknown",
         mutated(lambda r: both_anchors(r, lambda a: a.update(state="pending"))), TRUST,
         RECORD, {}),
        ("format-two-anchors-one-chain", mutated(lambda r: r["anchors"].append(
            copy.deepcopy(r["anchors"][0]))), TRUST, RECORD, {}),
        ("format-not-an-object", [GOOD], TRUST, RECORD, {}),
        # files that cannot be read: could not check
        ("hostile-duplicate-keys", text(GOOD)[:-2] + ',\n "format": "evledger-receipt/1"\n}',
         TRUST, RECORD, {}),
        ("hostile-deep-nesting", "[" * 5000 + "]" * 5000, TRUST, RECORD, {}),
        ("hostile-5000-digit-integer", '{"format": "evledger-receipt/1", "leaf_index": '
         + "9" * 5000 + "}", TRUST, RECORD, {}),
        ("hostile-nan", '{"tree_size": NaN}', TRUST, RECORD, {}),
        ("hostile-not-utf8", b'{"format": "\xff\xfe"}', TRUST, RECORD, {}),
        ("hostile-empty", "", TRUST, RECORD, {}),
        ("hostile-trailing-data", text(GOOD) + "\n{}", TRUST, RECORD, {}),
        ("hostile-huge", HUGE, TRUST, RECORD, {}),
        ("hostile-utf16", text(GOOD).encode("utf-16"), TRUST, RECORD, {}),
        ("record-not-an-object", GOOD, TRUST, [RECORD], {}),
        ("record-duplicate-keys", GOOD, TRUST, record_text[:-2] + ',\n "lot": "LOT-2"\n}', {}),
        ("trust-unknown-format", GOOD, {**TRUST, "format": "evledger-trust/9"}, RECORD, {}),
        ("trust-key-id-mismatch", GOOD, {**TRUST, "log_public_key": flip_key_id(
            TRUST["log_public_key"])}, RECORD, {}),
        ("trust-require-unknown-chain", GOOD, trust(require=[SECOND]), RECORD, {}),
    ]
    return out + bad


#: A receipt over the size limit, stored in the vector file as a pattern (``{"repeat": ...}``).
HUGE = {"repeat": {"prefix": '{"x": "', "fill": "a", "count": 300_000, "suffix": '"}'}}


def as_bytes(value: Any) -> bytes:
    if isinstance(value, dict) and set(value) == {"repeat"}:
        p = value["repeat"]
        return str(p["prefix"] + p["fill"] * p["count"] + p["suffix"]).encode()
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    return text(value).encode()


def as_file(data: bytes) -> dict[str, str]:
    try:
        return {"text": data.decode("utf-8")}
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(data).decode()}


def reference(receipt_b: bytes, trust_b: bytes, record_b: bytes | None,
              options: dict[str, Any]) -> dict[str, Any]:
    """What ``evledger-verify receipt --json`` says of these files (in-process)."""
    with tempfile.TemporaryDirectory() as tmp:
        paths = {}
        for name, data in (("receipt", receipt_b), ("trust", trust_b), ("record", record_b)):
            if data is not None:
                paths[name] = Path(tmp) / f"{name}.json"
                paths[name].write_bytes(data)
        argv = ["receipt", str(paths["receipt"]), "--trust", str(paths["trust"]), "--json"]
        if "record" in paths:
            argv += ["--record", str(paths["record"])]
        if options.get("require_final"):
            argv.append("--require-final")
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(argv)
        answer = json.loads(out.getvalue())
        error = answer.get("error")
        if error is not None:  # the temporary folder is no part of the verdict
            error = error.replace(tmp + "/", "")
    return {"exit": code, "checks": answer.get("checks", []), "error": error}


def vectors() -> dict[str, Any]:
    items = []
    for name, receipt_v, trust_v, record_v, options in cases():
        receipt_b, trust_b = as_bytes(receipt_v), as_bytes(trust_v)
        record_b = None if record_v is None else as_bytes(record_v)
        expected = reference(receipt_b, trust_b, record_b, options)
        if name.startswith("valid/") != (expected["exit"] == 0):
            raise AssertionError(f"vector {name} does not show what its name says: {expected}")
        receipt_file = receipt_v if receipt_v is HUGE else as_file(receipt_b)
        item: dict[str, Any] = {"name": name, "receipt": receipt_file,
                                "trust": as_file(trust_b)}
        if record_b is not None:
            item["record"] = as_file(record_b)
        if options:
            item["options"] = options
        item["expected"] = expected
        items.append(item)
    names = [v["name"] for v in items]
    assert len(names) == len(set(names)), "vector names are unique"
    return {
        "description": "Receipts, trust files and records, each as the exact file, with what "
        "`evledger-verify receipt --json` says of them (the reference): exit code (0 "
        "verified, 1 failed, 2 could not check), each check's verdict and detail, the error. "
        "Negative vectors are named after their mutation. The page's verifier must agree.",
        "generator": "tests/vectors/receipts/generate.py",
        "canonical": canonical_vectors(),
        "fragment": fragment_vectors(),
        "vectors": items,
    }


#: Record texts whose RFC 8785 form both verifiers must agree on (numbers in ECMAScript form,
#: UTF-16 key order, escapes), or refuse alike.
CANONICAL = [
    '{"b": 1, "a": [true, false, null], "c": {"z": "", "y": 0}}',
    '[1, 1.0, -0, -0.0, 0.1, 1e21, 1e20, 1e-7, 1e-6, 123456789012345678.0, 5e-324, 4.5e15]',
    '[123456789012345678]',
    '[1.7976931348623157e308, 2.2250738585072014e-308, 9007199254740991, -9007199254740991]',
    '[9007199254740992]',
    '[1e400]',
    '{"\\u20ac": 1, "\\ud83d\\ude00": 2, "\\ufb33": 3, "a": 4, "A": 5, "": 6}',
    '["\\u0000\\u001f\\u007f\\u2028 \\"\\\\ / \\b\\f\\n\\r\\t", "é€😀"]',
    '["\\ud800"]',
    '{"\\udfff": 1}',
    '{"a": {"b": {"c": [[[[1.5, 2.25e-3, 333333333.33333329]]]]}}}',
    '{"value": 3.010, "n": 40.00, "big": 1E+2, "e": 1e0}',
]


def canonical_vectors() -> list[dict[str, str | None]]:
    out = []
    for text in CANONICAL:
        value = strictjson.loads(text.encode())
        try:
            expected = canonical_json(value).decode()
        except FormatError:
            expected = None
        out.append({"json": text, "canonical": expected})
    return out


def fragment_vectors() -> list[dict[str, str]]:
    """The URL fragment forms of web/verify/README.md for the good receipt and record."""
    receipt_b, record_b = text(GOOD).encode(), RECORD_TEXT.encode()

    def b64url(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).decode().rstrip("=")

    return [
        {"name": "plain", "fragment": f"#r={b64url(receipt_b)}&d={b64url(record_b)}",
         "receipt": receipt_b.decode(), "record": record_b.decode()},
        {"name": "deflate-raw", "fragment": f"#rz={b64url(deflate(receipt_b))}"
         f"&dz={b64url(deflate(record_b))}", "receipt": receipt_b.decode(),
         "record": record_b.decode()},
        {"name": "receipt-only", "fragment": f"#rz={b64url(deflate(receipt_b))}",
         "receipt": receipt_b.decode()},
    ]


def render() -> str:
    return json.dumps(vectors(), indent=1, ensure_ascii=False) + "\n"


def main_(argv: list[str]) -> int:
    fresh = render()
    if "--check" in argv:
        if not OUTPUT.exists() or OUTPUT.read_text() != fresh:
            print("stale vectors (run python -m tests.vectors.receipts.generate): receipts.json")
            return 1
        return 0
    OUTPUT.write_text(fresh)
    return 0


if __name__ == "__main__":
    sys.exit(main_(sys.argv[1:]))
