"""Receipts anchored on several chains, built by hand: a real signed entry and checkpoint, roots
and proofs from the naive RFC 9162 reference tree, and trust files with ``chains`` and
``require``. The on-chain step runs against a scripted node (no network)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from functools import partial
from typing import Any

import pytest
from evledger_verify.checkpoint import format_checkpoint_body, sign_note
from evledger_verify.cli import main
from evledger_verify.errors import CannotCheckError, FormatError
from evledger_verify.receipt import (
    MAX_CHAINS,
    AnchorTally,
    Receipt,
    Report,
    Trust,
    UnsettledNode,
    verify_receipt,
)
from evledger_verify.rpc import (
    ANCHORED_TOPIC,
    NodeUnreachableError,
    RpcClient,
    check_receipt_on_chains,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from tests import reference_tree as ref
from tests.receipt_builder import LEGACY_KEYS, RECORD, FakeLog

pytestmark = pytest.mark.req("RCPT-7")

PRIMARY, SECOND, THIRD, STRANGER = 31337, 31338, 31339, 999
CONTRACTS = {
    PRIMARY: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
    SECOND: "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512",
    THIRD: "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0",
    STRANGER: "0xCf7Ed3AccA5a467e9e704C703E8D87F634fB0Fc9",
}
LOG = FakeLog(PRIMARY, CONTRACTS[PRIMARY])
ORIGIN, LOG_KEY, ENTRY = LOG.origin, LOG.key, LOG.entry
LEAF, SIZE = LOG.leaf, LOG.size  # the record's leaf index, the receipt's tree size
root = LOG.root
receipt_json = LOG.receipt
trust_json = LOG.trust


def anchor_json(chain: int, tree_size: int, state: str = "included") -> dict[str, Any]:
    """One chain's ``anchors`` entry for a receipt of size SIZE (made-up transaction)."""
    return LOG.anchor(
        chain, CONTRACTS[chain], tree_size, state=state,
        tx_hash="0x" + f"{chain:04x}{tree_size:04x}" * 8, block_number=100 + tree_size,
        block_hash="0x" + f"{tree_size:04x}{chain:04x}" * 8,
    )


def old_receipt(state: str | None = "included") -> dict[str, Any]:
    """A receipt from before ``anchors``: one anchor on the primary chain at its own size."""
    receipt = receipt_json(anchor_json(PRIMARY, SIZE, state or "included"))
    del receipt["anchors"]
    if state is None:
        del receipt["anchor"]["state"]
    return receipt


def chains(*ids: int) -> list[dict[str, Any]]:
    return [{"chain_id": c, "contract": CONTRACTS[c]} for c in ids]


def trust(*ids: int, require: Any = None) -> Trust:
    extra: dict[str, Any] = {"chains": chains(*ids)} if ids else {}
    if require is not None:
        extra["require"] = require
    return Trust.from_json(trust_json(**extra))


def verdicts(report: Report) -> dict[str, bool]:
    return {c.name: c.ok for c in report.checks}


def detail(report: Report, name: str) -> str:
    (found,) = [c.detail for c in report.checks if c.name == name]
    return found


def failed(report: Report) -> list[str]:
    return [c.name for c in report.checks if not c.ok]


OFFLINE = ["format", "record", "leaf", "signature", "inclusion", "signer", "checkpoint"]


# -- anchors at other tree sizes ----------------------------------------------------------------


def test_two_anchors_at_a_smaller_and_a_larger_size_verify() -> None:
    receipt = receipt_json(anchor_json(PRIMARY, 6), anchor_json(SECOND, 11))
    assert receipt["anchor"] is None  # no chain holds the receipt's own size
    report, parsed = verify_receipt(receipt, trust(PRIMARY, SECOND, require="all"), RECORD)
    assert report.ok, report.to_json()
    assert [c.name for c in report.checks] == [
        *OFFLINE, "anchor (chain 31337)", "anchor (chain 31338)", "anchors required",
    ]
    assert "the root of tree size 6, an earlier tree consistent with the receipt's" in detail(
        report, "anchor (chain 31337)"
    )
    assert "the root of tree size 11, a later tree consistent with the receipt's" in detail(
        report, "anchor (chain 31338)"
    )
    assert detail(report, "anchors required") == (
        "met by chain 31337 (offline only, included), chain 31338 (offline only, included) "
        "(require: all)"
    )
    assert parsed is not None
    assert [(a.chain_id, a.tree_size) for a in parsed.anchors] == [(PRIMARY, 6), (SECOND, 11)]


def test_an_anchor_at_the_receipt_size_needs_no_proof() -> None:
    receipt = receipt_json(anchor_json(PRIMARY, SIZE), anchor_json(SECOND, 13))
    report, _ = verify_receipt(receipt, trust(PRIMARY, SECOND, require="all"))
    assert report.ok, report.to_json()
    assert detail(report, "anchor (chain 31337)").startswith("the root of tree size 8; claims tx")


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 30), st.integers(1, 30), st.data())
def test_any_two_consistent_sizes_verify_and_a_flipped_bit_fails(
    size: int, anchored: int, data: st.DataObject
) -> None:
    """Both directions of the consistency proof, for any sizes that hold the leaf."""
    leaf = data.draw(st.integers(0, min(size, anchored) - 1))
    leaves = [b"leaf %d" % i for i in range(30)]
    leaves[leaf] = ENTRY.canonical()
    receipt = receipt_json(anchor_json(PRIMARY, SIZE))
    lo, hi = sorted((size, anchored))
    proof = [] if lo == hi else [p.hex() for p in ref.consistency_proof(lo, leaves[:hi])]
    receipt.update(
        leaf_index=leaf, tree_size=size, root_hash=ref.mth(leaves[:size]).hex(),
        inclusion_proof=[p.hex() for p in ref.inclusion_path(leaf, leaves[:size])],
        checkpoint=sign_note(
            format_checkpoint_body(ORIGIN, size, ref.mth(leaves[:size])), ORIGIN, LOG_KEY
        ),
        anchor=None,
    )
    receipt["anchors"][0].update(
        tree_size=anchored, root_hash=ref.mth(leaves[:anchored]).hex(), consistency_proof=proof
    )
    report, _ = verify_receipt(receipt, trust())
    assert report.ok, report.to_json()

    bad = copy.deepcopy(receipt)
    target = bad["anchors"][0]
    if target["consistency_proof"]:
        i = data.draw(st.integers(0, len(proof) - 1))
        target["consistency_proof"][i] = "%064x" % (int(proof[i], 16) ^ 1)
    else:
        target["root_hash"] = "%064x" % (int(target["root_hash"], 16) ^ 1)
    report, _ = verify_receipt(bad, trust())
    assert failed(report) == ["anchor (chain 31337)", "anchors required"]
    assert detail(report, "anchor (chain 31337)").startswith("consistency proof")


def _flip(hex_hash: str) -> str:
    return "%064x" % (int(hex_hash, 16) ^ 1)


PROOF_MUTATIONS: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "flipped-hash": (
        lambda a: a["consistency_proof"].__setitem__(0, _flip(a["consistency_proof"][0])),
        "consistency proof",
    ),
    "swapped-hashes": (
        lambda a: a["consistency_proof"].reverse(),
        "consistency proof",
    ),
    "truncated": (lambda a: a["consistency_proof"].pop(), "consistency proof"),
    "trailing-garbage": (lambda a: a["consistency_proof"].append("00" * 32), "consistency proof"),
    "empty": (lambda a: a["consistency_proof"].clear(), "consistency proof: empty"),
    "wrong-root": (lambda a: a.update(root_hash=_flip(a["root_hash"])), "consistency proof"),
    # A proof of another shape. (Sizes whose proofs have the same shape cannot be told apart
    # offline: the chain binds the root to its size, see the on-chain tests.)
    "wrong-size": (lambda a: a.update(tree_size=a["tree_size"] * 2 + 1), "consistency proof"),
}


@pytest.mark.parametrize("mutation", list(PROOF_MUTATIONS))
@pytest.mark.parametrize("anchored", [6, 19], ids=["earlier", "later"])
def test_a_bad_consistency_proof_fails_the_receipt(mutation: str, anchored: int) -> None:
    change, fragment = PROOF_MUTATIONS[mutation]
    second = anchor_json(SECOND, anchored)
    assert len(second["consistency_proof"]) >= 2
    change(second)
    receipt = receipt_json(anchor_json(PRIMARY, SIZE), second)
    # Chain 31338 is trusted but not required: its tampered anchor still fails the receipt.
    report, _ = verify_receipt(receipt, trust(PRIMARY, SECOND))
    assert not report.ok
    assert failed(report) == ["anchor (chain 31338)"], report.to_json()
    assert detail(report, "anchor (chain 31338)").startswith(fragment)
    assert verdicts(report)["anchors required"] is True  # the primary alone meets it


def test_a_root_at_the_same_size_that_differs_fails() -> None:
    second = anchor_json(SECOND, SIZE)
    second["root_hash"] = _flip(second["root_hash"])
    report, _ = verify_receipt(
        receipt_json(anchor_json(PRIMARY, SIZE), second), trust(PRIMARY, SECOND, require="any")
    )
    assert failed(report) == ["anchor (chain 31338)"]
    assert "consistency proof: same size 8 but roots differ" in detail(
        report, "anchor (chain 31338)"
    )


@pytest.mark.parametrize("anchored", [LEAF, LEAF - 2], ids=["equal-to-leaf-index", "below"])
def test_an_anchored_tree_without_the_leaf_fails(anchored: int) -> None:
    """A valid consistency proof from a tree too small to hold the leaf proves nothing about it."""
    receipt = receipt_json(anchor_json(PRIMARY, anchored))
    report, _ = verify_receipt(receipt, trust())
    assert failed(report) == ["anchor (chain 31337)", "anchors required"]
    assert detail(report, "anchor (chain 31337)") == (
        f"anchor tree size: expected more than leaf index {LEAF} (the leaf must be in the "
        f"anchored tree), got {anchored}"
    )
    assert detail(report, "anchors required") == (
        "anchors required: chain 31337's anchor failed its checks (require: chain 31337)"
    )


def test_an_anchor_naming_another_contract_fails() -> None:
    second = anchor_json(SECOND, 11)
    second["contract"] = CONTRACTS[THIRD]
    report, _ = verify_receipt(receipt_json(anchor_json(PRIMARY, SIZE), second),
                               trust(PRIMARY, SECOND))
    assert failed(report) == ["anchor (chain 31338)"]
    assert detail(report, "anchor (chain 31338)") == (
        f"anchor contract: expected {CONTRACTS[SECOND]} on chain 31338, got {CONTRACTS[THIRD]}"
    )


def test_an_anchor_on_a_chain_the_trust_file_does_not_name_is_not_counted() -> None:
    stranger = anchor_json(STRANGER, 11)
    stranger["consistency_proof"] = []  # not even checked: it is not evidence for this auditor
    report, _ = verify_receipt(receipt_json(anchor_json(PRIMARY, SIZE), stranger), trust())
    assert report.ok, report.to_json()
    assert detail(report, "anchor (chain 999)") == (
        "chain 999 is not in the trust file: not counted"
    )
    assert "chain 999" not in detail(report, "anchors required")

    alone, _ = verify_receipt(receipt_json(anchor_json(STRANGER, SIZE)),
                              trust(PRIMARY, SECOND, require="any"))
    assert failed(alone) == ["anchors required"]
    assert detail(alone, "anchors required") == (
        "anchors required: no anchor on a trusted chain holds: chain 31337 has no anchor in "
        "this receipt; chain 31338 has no anchor in this receipt (require: any)"
    )


# -- require ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("require", "present", "missing"),
    [
        (None, [PRIMARY], None),
        (None, [PRIMARY, SECOND], None),
        (None, [SECOND, THIRD], "chain 31337 has no anchor in this receipt (require: chain 31337)"),
        ("any", [SECOND], None),
        ("any", [THIRD], None),
        ("all", [PRIMARY, SECOND, THIRD], None),
        ("all", [PRIMARY, THIRD], "chain 31338 has no anchor in this receipt (require: all)"),
        ("all", [THIRD], "chain 31337 has no anchor in this receipt; chain 31338 has no anchor "
                         "in this receipt (require: all)"),
        ([SECOND], [SECOND], None),
        ([SECOND], [PRIMARY, THIRD],
         "chain 31338 has no anchor in this receipt (require: chain 31338)"),
        ([THIRD, SECOND], [SECOND, THIRD, PRIMARY], None),
        ([THIRD, SECOND], [SECOND],
         "chain 31339 has no anchor in this receipt (require: chains 31339, 31338)"),
    ],
    ids=["default-primary", "default-extra-ignored", "default-missing", "any-second",
         "any-third", "all", "all-missing-one", "all-missing-two", "list", "list-missing",
         "list-two", "list-missing-one"],
)
def test_require(require: Any, present: list[int], missing: str | None) -> None:
    sizes = {PRIMARY: SIZE, SECOND: 6, THIRD: 13}
    receipt = receipt_json(*(anchor_json(c, sizes[c]) for c in present))
    report, _ = verify_receipt(receipt, trust(PRIMARY, SECOND, THIRD, require=require))
    if missing is None:
        assert report.ok, report.to_json()
        assert detail(report, "anchors required").startswith("met by chain")
    else:
        assert failed(report) == ["anchors required"]
        assert detail(report, "anchors required") == f"anchors required: {missing}"


def test_a_failed_required_anchor_is_named_and_another_chain_does_not_stand_in() -> None:
    second = anchor_json(SECOND, 11)
    second["consistency_proof"].pop()
    receipt = receipt_json(anchor_json(PRIMARY, SIZE), second)
    report, _ = verify_receipt(receipt, trust(PRIMARY, SECOND, require=[SECOND]))
    assert failed(report) == ["anchor (chain 31338)", "anchors required"]
    assert detail(report, "anchors required") == (
        "anchors required: chain 31338's anchor failed its checks (require: chain 31338)"
    )


def test_no_anchor_at_all_says_not_yet_anchored() -> None:
    for receipt in (receipt_json(), {**old_receipt(), "anchor": None}):
        report, _ = verify_receipt(receipt, trust(PRIMARY, SECOND, require="any"))
        assert [c.name for c in report.checks] == [*OFFLINE, "anchors required"]
        assert failed(report) == ["anchors required"]
        assert detail(report, "anchors required") == (
            "anchors required: missing: the checkpoint is not (yet) anchored (require: any)"
        )


# -- --require-final ----------------------------------------------------------------------------


HINT = "the block may still be reorganized away; ask for the receipt again later"


def test_require_final_any_needs_one_final_anchor() -> None:
    t = trust(PRIMARY, SECOND, require="any")
    both_included = receipt_json(anchor_json(PRIMARY, SIZE), anchor_json(SECOND, 11))
    report, _ = verify_receipt(both_included, t, require_final=True)
    assert failed(report) == ["anchors required"]
    assert detail(report, "anchors required") == (
        "anchors required: expected a final anchor (--require-final), got chain 31337 included, "
        f"chain 31338 included: {HINT} (require: any)"
    )
    assert verify_receipt(both_included, t)[0].ok  # without the flag, included is enough

    one_final = receipt_json(anchor_json(PRIMARY, SIZE), anchor_json(SECOND, 11, "final"))
    report, _ = verify_receipt(one_final, t, require_final=True)
    assert report.ok, report.to_json()
    assert "chain 31338 (offline only, final)" in detail(report, "anchors required")


def test_require_final_all_needs_every_required_anchor_final() -> None:
    t = trust(PRIMARY, SECOND, require="all")
    receipt = receipt_json(anchor_json(PRIMARY, SIZE, "final"), anchor_json(SECOND, 11))
    report, _ = verify_receipt(receipt, t, require_final=True)
    assert failed(report) == ["anchors required"]
    assert detail(report, "anchors required") == (
        "anchors required: expected final anchors (--require-final), got chain 31338 included: "
        f"{HINT} (require: all)"
    )
    # A required list: only the listed chains must be final.
    listed = trust(PRIMARY, SECOND, require=[PRIMARY])
    assert verify_receipt(receipt, listed, require_final=True)[0].ok


def test_require_final_with_an_old_receipt_keeps_its_hint() -> None:
    report, _ = verify_receipt(old_receipt("included"), trust(), require_final=True)
    assert failed(report) == ["anchors required"]
    assert detail(report, "anchors required") == (
        "anchors required: expected final anchors (--require-final), got chain 31337 included: "
        f"{HINT} (require: chain 31337)"
    )
    report, _ = verify_receipt(old_receipt(None), trust(), require_final=True)
    assert "got chain 31337 state not stated" in detail(report, "anchors required")
    assert verify_receipt(old_receipt("final"), trust(), require_final=True)[0].ok


# -- receipts and trust files from before several chains ----------------------------------------


def test_an_old_receipt_without_anchors_verifies_as_before() -> None:
    receipt = old_receipt()
    report, parsed = verify_receipt(receipt, trust(), RECORD)
    assert report.ok, report.to_json()
    assert [c.name for c in report.checks] == [*OFFLINE, "anchor (chain 31337)",
                                               "anchors required"]
    assert parsed is not None and parsed.anchor is not None
    (only,) = parsed.anchors
    assert (only.anchor, only.tree_size, only.root_hash, only.consistency_proof) == (
        parsed.anchor, SIZE, root(SIZE), ()
    )
    assert detail(report, "anchor (chain 31337)").endswith("included (confirm with --rpc)")


def test_an_old_trust_file_trusts_and_requires_the_primary_chain_only() -> None:
    t = Trust.from_json(trust_json())
    assert t.contracts == {PRIMARY: CONTRACTS[PRIMARY]}
    assert t.required == (PRIMARY,)
    assert t.require_text == "chain 31337"
    report, _ = verify_receipt(receipt_json(anchor_json(SECOND, SIZE)), t)
    assert verdicts(report)["anchor (chain 31338)"] is True  # not counted, not a failure
    assert failed(report) == ["anchors required"]


def test_trust_file_with_chains_and_require() -> None:
    t = Trust.from_json(trust_json(
        chains=[{"chain_id": SECOND, "contract": CONTRACTS[SECOND].lower()},
                {"chain_id": PRIMARY, "contract": CONTRACTS[PRIMARY].upper().replace("0X", "0x")}],
        require=[SECOND],
    ))
    assert t.contracts == {SECOND: CONTRACTS[SECOND], PRIMARY: CONTRACTS[PRIMARY]}
    assert t.required == (SECOND,)
    assert Trust.from_json(trust_json(chains=chains(PRIMARY, SECOND), require="all")).required \
        == (PRIMARY, SECOND)
    assert Trust.from_json(trust_json(chains=chains(PRIMARY, SECOND), require="any")).required \
        is None
    assert Trust.from_json(trust_json(require="all")).required == (PRIMARY,)


TOO_MANY = [{"chain_id": i, "contract": CONTRACTS[PRIMARY]} for i in range(1, MAX_CHAINS + 2)]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"chains": None}, "trust file chains: expected a list, got NoneType"),
        ({"chains": {"chain_id": PRIMARY}}, "trust file chains: expected a list, got dict"),
        ({"chains": []},
         "trust file chains: expected the primary chain 31337 among them, got none"),
        ({"chains": TOO_MANY}, f"trust file chains: expected at most {MAX_CHAINS}, got 17"),
        ({"chains": [PRIMARY]}, "trust file chains[0]: expected a JSON object, got int"),
        ({"chains": [{"chain_id": PRIMARY}]},
         "trust file chains[0]: expected the keys chain_id and contract, got ['chain_id']"),
        ({"chains": [{**chains(PRIMARY)[0], "rpc": "http://x"}]},
         "trust file chains[0]: expected the keys chain_id and contract, got "
         "['chain_id', 'contract', 'rpc']"),
        ({"chains": [{"chain_id": "31337", "contract": CONTRACTS[PRIMARY]}]},
         "trust file chains[0] chain_id: expected an integer, got str"),
        ({"chains": [{"chain_id": True, "contract": CONTRACTS[PRIMARY]}]},
         "trust file chains[0] chain_id: expected an integer, got bool"),
        ({"chains": [{"chain_id": 0, "contract": CONTRACTS[PRIMARY]}]},
         "trust file chains[0] chain_id: expected a positive integer, got 0"),
        ({"chains": [{"chain_id": PRIMARY, "contract": "0x1234"}]},
         "trust file chains[0] contract: expected an address, got '0x1234'"),
        ({"chains": [{"chain_id": PRIMARY, "contract": None}]},
         "trust file chains[0] contract: expected an address, got None"),
        ({"chains": chains(PRIMARY, SECOND, PRIMARY)},
         "trust file chains: chain 31337 is listed twice"),
        ({"chains": chains(SECOND, THIRD)},
         "trust file chains: expected the primary chain 31337 among them, got chains 31338, "
         "31339"),
        ({"chains": [{"chain_id": PRIMARY, "contract": CONTRACTS[SECOND]}]},
         f"trust file chains: expected the primary chain 31337 with contract "
         f"{CONTRACTS[PRIMARY]}, got {CONTRACTS[SECOND]}"),
        ({"require": "some"},
         "trust file require: expected 'any', 'all' or a list of chain ids, got 'some'"),
        ({"require": "ANY"},
         "trust file require: expected 'any', 'all' or a list of chain ids, got 'ANY'"),
        ({"require": None},
         "trust file require: expected 'any', 'all' or a list of chain ids, got None"),
        ({"require": PRIMARY},
         "trust file require: expected 'any', 'all' or a list of chain ids, got 31337"),
        ({"require": []}, "trust file require: expected at least one chain id, got none"),
        ({"require": [True]}, "trust file require[0]: expected an integer, got bool"),
        ({"require": [str(PRIMARY)]}, "trust file require[0]: expected an integer, got str"),
        ({"chains": chains(PRIMARY, SECOND), "require": [SECOND, SECOND]},
         "trust file require: chain 31338 is listed twice"),
        ({"chains": chains(PRIMARY, SECOND), "require": [THIRD]},
         "trust file require: expected a chain named in chains (31337, 31338), got 31339"),
        ({"require": [SECOND]},
         "trust file require: expected a chain named in chains (31337), got 31338"),
        ({"chains": chains(PRIMARY), "require": list(range(1, MAX_CHAINS + 2))},
         f"trust file require: expected at most {MAX_CHAINS}, got 17"),
    ],
    ids=["chains-null", "chains-object", "chains-empty", "chains-too-many", "chain-not-object",
         "chain-missing-contract", "chain-unknown-key", "chain-id-str", "chain-id-bool",
         "chain-id-zero", "chain-contract-short", "chain-contract-null", "chain-duplicate",
         "primary-missing", "primary-other-contract", "require-word", "require-uppercase",
         "require-null", "require-int", "require-empty", "require-bool", "require-str-id",
         "require-duplicate", "require-unknown", "require-unknown-default-chains",
         "require-too-many"],
)
def test_malformed_trust_file_is_a_format_error(extra: dict[str, Any], message: str) -> None:
    with pytest.raises(FormatError) as info:
        Trust.from_json(trust_json(**extra))
    assert str(info.value) == message


# -- the receipt format -------------------------------------------------------------------------


def _no_anchor_tree_size(r: dict[str, Any]) -> None:
    del r["anchors"][0]["tree_size"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: r.update(anchors=None), "receipt anchors: wrong type NoneType"),
        (lambda r: r.update(anchors={}), "receipt anchors: wrong type dict"),
        (lambda r: r.update(anchors=[r["anchors"][0]] * (MAX_CHAINS + 1)),
         f"receipt anchors: expected at most {MAX_CHAINS} (one per chain), got 17"),
        (lambda r: r["anchors"].append(copy.deepcopy(r["anchors"][0])),
         "receipt anchors: expected one anchor per chain, chain 31337 has two"),
        (lambda r: r["anchors"].__setitem__(0, "anchor"),
         "receipt anchors[0]: expected a JSON object"),
        (_no_anchor_tree_size, "receipt anchors[0]: missing key 'tree_size'"),
        (lambda r: r["anchors"][0].update(tree_size=0),
         "receipt anchors[0] tree_size: expected at least 1, got 0"),
        (lambda r: r["anchors"][0].update(tree_size=True),
         "receipt anchors[0] tree_size: wrong type bool"),
        (lambda r: r["anchors"][0].update(tree_size="8"),
         "receipt anchors[0] tree_size: wrong type str"),
        (lambda r: r["anchors"][0].update(root_hash=r["root_hash"].upper()),
         "receipt anchors[0] root_hash: expected 64 lowercase hex digits"),
        (lambda r: r["anchors"][0].update(consistency_proof="00" * 32),
         "receipt anchors[0] consistency_proof: wrong type str"),
        (lambda r: r["anchors"][0].update(consistency_proof=["00" * 32] * 129),
         "receipt anchors[0] consistency_proof: expected at most 128 hashes, got 129"),
        (lambda r: r["anchors"][0].update(consistency_proof=["0x" + "00" * 32]),
         "receipt anchors[0] consistency_proof[0]: expected 64 lowercase hex digits"),
        (lambda r: r["anchors"][0].update(consistency_proof=[7]),
         "receipt anchors[0] consistency_proof[0]: expected 64 lowercase hex digits"),
        (lambda r: r["anchors"][0].update(state="pending"),
         "receipt anchors[0] state: expected included or final, got 'pending'"),
        (lambda r: r["anchors"][0].update(chain_id=False),
         "receipt anchors[0] chain_id: wrong type bool"),
        (lambda r: r["anchors"][0].update(tx_hash="0x1234"),
         "receipt anchors[0] tx_hash: expected 0x and 64 lowercase hex digits"),
    ],
    ids=["anchors-null", "anchors-object", "too-many", "duplicate-chain", "entry-not-object",
         "missing-tree-size", "tree-size-zero", "tree-size-bool", "tree-size-str",
         "root-uppercase", "proof-not-list", "proof-too-long", "proof-0x", "proof-int",
         "unknown-state", "chain-id-bool", "short-tx-hash"],
)
def test_malformed_anchors_fail_the_format_check(
    change: Callable[[dict[str, Any]], None], message: str
) -> None:
    receipt = receipt_json(anchor_json(PRIMARY, SIZE), anchor_json(SECOND, 11))
    change(receipt)
    with pytest.raises(FormatError) as info:
        Receipt.from_json(receipt)
    assert str(info.value).startswith(message), str(info.value)
    report, parsed = verify_receipt(receipt, trust(PRIMARY, SECOND))
    assert parsed is None and [c.name for c in report.checks] == ["format"]
    assert not report.ok


@pytest.mark.parametrize(
    ("key", "value"),
    [("tx_hash", "0x" + "ab" * 32), ("chain_id", SECOND), ("state", "final"),
     ("block_number", 1), ("log_index", 3)],
)
def test_an_anchor_that_anchors_does_not_hold_fails_the_format_check(key: str, value: Any) -> None:
    """``anchor`` is what a verifier that knows one chain reads: it must be one of ``anchors``,
    at the receipt's own size, or two verifiers would judge two different claims."""
    receipt = receipt_json(anchor_json(PRIMARY, SIZE), anchor_json(SECOND, 11))
    receipt["anchor"][key] = value
    report, _ = verify_receipt(receipt, trust(PRIMARY, SECOND))
    assert failed(report) == ["format"]
    assert detail(report, "format").startswith(
        "receipt anchor: expected one of anchors at the receipt's tree size 8, got chain"
    )


def test_an_anchor_of_another_size_is_not_the_receipts_own_anchor() -> None:
    receipt = receipt_json(anchor_json(PRIMARY, 6))
    receipt["anchor"] = {k: receipt["anchors"][0][k] for k in LEGACY_KEYS}
    with pytest.raises(FormatError, match="expected one of anchors at the receipt's tree size 8"):
        Receipt.from_json(receipt)


def test_sixteen_anchors_are_accepted() -> None:
    receipt = receipt_json(anchor_json(PRIMARY, SIZE))
    for i in range(MAX_CHAINS - 1):
        receipt["anchors"].append({**anchor_json(STRANGER, 11), "chain_id": 5000 + i})
    parsed = Receipt.from_json(receipt)
    assert len(parsed.anchors) == MAX_CHAINS
    report, _ = verify_receipt(receipt, trust())
    assert report.ok, report.to_json()


# -- on chain: a scripted node per chain ---------------------------------------------------------


class ScriptedNode(RpcClient):
    """A node that answers from the receipt's own anchors, as an honest chain would, unless
    told to be down or to hold another root."""

    def __init__(self, chain: int, anchors: list[dict[str, Any]], *, down: bool = False,
                 root_hash: str | None = None) -> None:
        super().__init__(f"http://node-{chain}.invalid:8545")
        self.chain = chain
        self.anchor = next((a for a in anchors if a["chain_id"] == chain), None)
        self.down = down
        self.root_hash = root_hash

    def call(self, method: str, params: list[Any]) -> Any:
        if self.down:
            raise NodeUnreachableError(f"rpc: node {self.url} unreachable: connection refused")
        a = self.anchor
        if method == "eth_chainId":
            return hex(self.chain)
        assert a is not None, method
        if method == "eth_call":
            return "0x" + (self.root_hash or a["root_hash"])
        if method == "eth_getTransactionReceipt":
            return {
                "status": "0x1",
                "blockHash": a["block_hash"],
                "blockNumber": hex(a["block_number"]),
                "logs": [{
                    "logIndex": hex(a["log_index"]), "address": a["contract"],
                    "topics": [ANCHORED_TOPIC, "0x" + a["tree_size"].to_bytes(32, "big").hex()],
                    "data": "0x" + a["root_hash"] + "00" * 64,
                }],
            }
        if method == "eth_getBlockByNumber":
            return {"hash": a["block_hash"]}
        raise AssertionError(method)


def on_chains(receipt: dict[str, Any], t: Trust, *nodes: ScriptedNode,
              require_final: bool = False) -> Report:
    report, _ = verify_receipt(receipt, t, require_final=require_final,
                               on_chain=partial(check_receipt_on_chains, list(nodes)))
    return report


TWO = (anchor_json(PRIMARY, SIZE), anchor_json(SECOND, 11))


def test_each_node_confirms_its_chains_anchor_at_the_anchors_own_size() -> None:
    receipt = receipt_json(*TWO)
    a = receipt["anchors"]
    report = on_chains(receipt, trust(PRIMARY, SECOND, require="all"),
                       ScriptedNode(SECOND, a), ScriptedNode(PRIMARY, a))
    assert report.ok, report.to_json()
    assert [c.name for c in report.checks][len(OFFLINE) + 2:] == [
        "chain id (chain 31338)", "chain root (chain 31338)", "anchor transaction (chain 31338)",
        "chain id (chain 31337)", "chain root (chain 31337)", "anchor transaction (chain 31337)",
        "anchors required",
    ]
    assert detail(report, "chain root (chain 31338)") == (
        f"contract {CONTRACTS[SECOND]} holds the root at tree size 11"
    )
    assert detail(report, "anchors required") == (
        "met by chain 31337 (confirmed on chain, included), chain 31338 (confirmed on chain, "
        "included) (require: all)"
    )


def test_a_root_the_chain_does_not_hold_fails_the_receipt_and_the_requirement() -> None:
    receipt = receipt_json(*TWO)
    a = receipt["anchors"]
    other = ScriptedNode(SECOND, a, root_hash=root(10).hex())
    report = on_chains(receipt, trust(PRIMARY, SECOND, require="all"), other)
    assert failed(report) == ["chain root (chain 31338)", "anchors required"]
    assert detail(report, "anchors required") == (
        "anchors required: chain 31338's anchor failed on chain (require: all)"
    )
    # Not required: the requirement is met by the primary, but the receipt still fails.
    report = on_chains(receipt, trust(PRIMARY, SECOND, require="any"), other)
    assert failed(report) == ["chain root (chain 31338)"]


def test_a_node_on_a_chain_the_trust_file_does_not_name_fails() -> None:
    receipt = receipt_json(anchor_json(PRIMARY, SIZE), anchor_json(STRANGER, 11))
    report = on_chains(receipt, trust(), ScriptedNode(STRANGER, receipt["anchors"]))
    assert failed(report) == ["chain id (chain 999)"]
    assert detail(report, "chain id (chain 999)") == (
        "chain id: expected a chain the trust file names (31337), node is on 999 "
        "(http://node-999.invalid:8545)"
    )


def test_a_node_on_a_trusted_chain_without_an_anchor() -> None:
    receipt = receipt_json(anchor_json(PRIMARY, SIZE))
    node = ScriptedNode(SECOND, receipt["anchors"])
    report = on_chains(receipt, trust(PRIMARY, SECOND, require="any"), node)
    assert report.ok, report.to_json()
    assert detail(report, "anchor transaction (chain 31338)") == (
        "no anchor on chain 31338 in this receipt"
    )
    report = on_chains(receipt, trust(PRIMARY, SECOND, require="all"), node)
    assert failed(report) == ["anchor transaction (chain 31338)", "anchors required"]
    assert detail(report, "anchor transaction (chain 31338)") == (
        "anchor transaction: missing from the receipt: chain 31338 is required (require: all)"
    )


def test_an_unreachable_node_that_is_not_needed_is_noted() -> None:
    receipt = receipt_json(*TWO)
    a = receipt["anchors"]
    down = ScriptedNode(SECOND, a, down=True)
    report = on_chains(receipt, trust(PRIMARY, SECOND, require="any"),
                       ScriptedNode(PRIMARY, a), down)
    assert report.ok and report.could_not_check is None, report.to_json()
    assert detail(report, f"chain id ({down.url})") == (
        f"node unreachable (rpc: node {down.url} unreachable: connection refused), not needed: "
        "the requirement is met on chain(s) 31337"
    )
    # Required chains only: the unreachable chain is not among them.
    report = on_chains(receipt, trust(PRIMARY, SECOND), ScriptedNode(PRIMARY, a), down)
    assert report.ok, report.to_json()


def test_an_unreachable_node_that_is_needed_cannot_check() -> None:
    receipt = receipt_json(*TWO)
    a = receipt["anchors"]
    down = ScriptedNode(SECOND, a, down=True)
    report = on_chains(receipt, trust(PRIMARY, SECOND, require="all"),
                       ScriptedNode(PRIMARY, a), down)
    assert report.could_not_check == f"rpc: node {down.url} unreachable: connection refused"
    assert not report.ok and failed(report) == []
    assert "anchors required" not in verdicts(report)  # undecided, not failed
    # Its chain is unknown, so the anchor offline on chain 31338 cannot stand in for it.
    report = on_chains(receipt, trust(PRIMARY, SECOND, require="any"), down)
    assert report.could_not_check is not None and failed(report) == []


def test_a_node_that_fails_after_naming_its_chain_only_holds_back_that_chain() -> None:
    class Flaky(ScriptedNode):
        def call(self, method: str, params: list[Any]) -> Any:
            if method == "eth_call":
                raise CannotCheckError("rpc: eth_call answer is not JSON")
            return super().call(method, params)

    receipt = receipt_json(*TWO)
    a = receipt["anchors"]
    report = on_chains(receipt, trust(PRIMARY, SECOND, require=[PRIMARY]), Flaky(SECOND, a))
    assert report.ok, report.to_json()  # the primary's anchor counts offline
    assert detail(report, "chain root (chain 31338)") == (
        "node answer unusable (rpc: eth_call answer is not JSON), not needed: the requirement "
        "is met on chain(s) 31337"
    )
    report = on_chains(receipt, trust(PRIMARY, SECOND, require=[SECOND]), Flaky(SECOND, a))
    assert report.could_not_check == "rpc: eth_call answer is not JSON"
    # A second node on that chain that does answer settles it.
    report = on_chains(receipt, trust(PRIMARY, SECOND, require=[SECOND]), Flaky(SECOND, a),
                       ScriptedNode(SECOND, a))
    assert report.ok, report.to_json()


def test_a_requirement_failing_anyway_is_a_failure_not_could_not_check() -> None:
    receipt = receipt_json(anchor_json(PRIMARY, SIZE))
    down = ScriptedNode(PRIMARY, receipt["anchors"], down=True)
    report = on_chains(receipt, trust(PRIMARY, SECOND, require="all"), down)
    assert report.could_not_check is not None
    assert failed(report) == ["anchors required"]
    assert detail(report, "anchors required") == (
        "anchors required: chain 31338 has no anchor in this receipt (require: all)"
    )


def test_the_tally_counts_only_confirmed_chains_when_a_node_did_not_say_its_chain() -> None:
    t = trust(PRIMARY, SECOND, require="any")
    parsed = Receipt.from_json(receipt_json(*TWO))
    tally = AnchorTally(t, False, anchored=True, present=dict(
        (a.chain_id, a) for a in parsed.anchors), passed={a.chain_id: a for a in parsed.anchors})
    assert set(tally.counted()) == {PRIMARY, SECOND}
    tally.unsettled.append(UnsettledNode("chain id (x)", None, "node unreachable", "down"))
    assert tally.counted() == {}
    tally.confirmed.add(SECOND)
    assert set(tally.counted()) == {SECOND}
    assert set(tally.counted(optimistic=True)) == {PRIMARY, SECOND}


def test_help_explains_repeatable_rpc_and_the_trust_files_chains(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as info:
        main(["receipt", "--help"])
    assert info.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "repeat it for each chain" in out
    assert "'chains' (every chain whose anchors count" in out
    assert "'require' ('any', 'all', or a list of chain ids" in out
    assert "Exit 0 = verified, 1 = verification failed, 2 = could not check." in out
