"""EvidenceAnchor on a real Anvil: deployed from the committed artifact, transactions signed
locally, consistency proofs from the naive RFC 9162 reference tree."""

from __future__ import annotations

import hashlib
import itertools
import json
import random
import subprocess
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple, cast

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from hypothesis import given, settings
from hypothesis import strategies as st
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractLogicError
from web3.logs import DISCARD
from web3.types import TxReceipt

try:
    from tests import reference_tree as ref
except ImportError:  # tests/ is on sys.path (pytest's default import mode), the repo root is not
    import reference_tree as ref  # type: ignore[import-not-found, no-redef]

pytestmark = [pytest.mark.integration, pytest.mark.req("ANCH-2")]

REPO = Path(__file__).resolve().parents[2]
ARTIFACT = json.loads((REPO / "contracts" / "EvidenceAnchor.json").read_text())
# Anvil's funded development keys (same as tests/conftest.py, which is not importable as a module).
ANVIL_KEYS = [
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
]
OWNER, OTHER, STRANGER = (Account.from_key(k) for k in ANVIL_KEYS)
ZERO32 = b"\x00" * 32
ZERO_ADDRESS = "0x" + "00" * 20
GAS_LIMIT = 80_000
ENTRIES = [b"record %d" % i for i in range(130)]


def _custom_errors(abi: list[dict[str, Any]]) -> dict[bytes, tuple[str, list[str]]]:
    """The ABI's custom errors by 4-byte selector: (name, argument types)."""
    errors = {}
    for item in abi:
        if item["type"] == "error":
            types = [i["type"] for i in item["inputs"]]
            selector = bytes(Web3.keccak(text=f"{item['name']}({','.join(types)})")[:4])
            errors[selector] = (item["name"], types)
    return errors


ERRORS = _custom_errors(ARTIFACT["abi"])


@cache
def root(n: int) -> bytes:
    return ref.mth(ENTRIES[:n])


def proof(m: int, n: int) -> list[bytes]:
    return ref.consistency_proof(m, ENTRIES[:n])


def send(w3: Web3, call: Any, sender: LocalAccount, gas: int | None = None) -> TxReceipt:
    """Sign ``call`` locally, send it and wait for the receipt (status not checked)."""
    params: dict[str, Any] = {
        "from": sender.address,
        "nonce": w3.eth.get_transaction_count(sender.address, "pending"),
        "chainId": w3.eth.chain_id,
    }
    if gas is not None:
        params["gas"] = gas
    signed = sender.sign_transaction(call.build_transaction(params))
    tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
    return w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30)


def ok(w3: Web3, call: Any, sender: LocalAccount) -> TxReceipt:
    receipt = send(w3, call, sender)
    assert receipt["status"] == 1
    return receipt


class Deployed(NamedTuple):
    w3: Web3
    contract: Contract
    owner: LocalAccount

    def ok(self, call: Any, sender: LocalAccount | None = None) -> TxReceipt:
        return ok(self.w3, call, sender or self.owner)

    def anchor(self, size: int, root_hash: bytes, path: list[bytes],
               sender: LocalAccount | None = None) -> TxReceipt:
        return self.ok(self.contract.functions.anchor(size, root_hash, path), sender)

    def expect_revert(self, call: Any, error: str, args: tuple[Any, ...] | None = None,
                      sender: LocalAccount | None = None) -> None:
        """The call reverts with the custom error ``error`` (and ``args``), both as an eth_call and
        as a mined transaction that leaves the latest checkpoint unchanged."""
        sender = sender or self.owner
        with pytest.raises(ContractLogicError) as info:
            call.call({"from": sender.address})
        data = info.value.data
        assert isinstance(data, str), data
        raw = bytes.fromhex(data.removeprefix("0x"))
        assert raw[:4] in ERRORS, f"unknown revert data {data}"
        name, types = ERRORS[raw[:4]]
        assert name == error, f"reverted with {name}, expected {error}"
        if args is not None:
            decoded = self.w3.codec.decode(types, raw[4:])
            assert tuple(Web3.to_checksum_address(v) if t == "address" else v
                         for t, v in zip(types, decoded, strict=True)) == args
        before = self.contract.functions.latest().call()
        assert send(self.w3, call, sender, gas=1_000_000)["status"] == 0
        assert self.contract.functions.latest().call() == before


def deploy_with_receipt(w3: Web3) -> tuple[Deployed, TxReceipt]:
    factory = w3.eth.contract(abi=ARTIFACT["abi"], bytecode=ARTIFACT["bytecode"])
    receipt = ok(w3, factory.constructor(), OWNER)
    contract = cast(Contract, w3.eth.contract(address=receipt["contractAddress"],
                                              abi=ARTIFACT["abi"]))
    return Deployed(w3, contract, OWNER), receipt


def deploy(w3: Web3) -> Deployed:
    return deploy_with_receipt(w3)[0]


@pytest.fixture(scope="module")
def w3(anvil: Any) -> Iterator[Web3]:
    web3 = Web3(Web3.HTTPProvider(anvil.rpc_url, request_kwargs={"timeout": 30}))
    assert web3.eth.chain_id == anvil.chain_id
    yield web3


@pytest.fixture()
def deployed(w3: Web3) -> Deployed:
    return deploy(w3)


def events(d: Deployed, receipt: TxReceipt, name: str) -> list[dict[str, Any]]:
    logs = d.contract.events[name]().process_receipt(receipt, errors=DISCARD)
    return [dict(e["args"]) for e in logs]


# --- reference tree sanity --------------------------------------------------------------------


def test_reference_tree_known_values() -> None:
    empty = hashlib.sha256(b"").digest()
    assert ref.mth([]) == empty
    assert ref.mth([b"a"]) == hashlib.sha256(b"\x00a").digest()
    la, lb, lc = (ref.leaf_hash(x) for x in (b"a", b"b", b"c"))
    assert ref.mth([b"a", b"b", b"c"]) == ref.node_hash(ref.node_hash(la, lb), lc)
    # RFC 9162 section 2.1.5 example: PROOF(3, D[7]) = [c, d, g, l], PROOF(4, D[7]) = [l],
    # PROOF(6, D[7]) = [i, j, k] where c=leaf 2, d=leaf 3, g=MTH(D[0:2]), i=MTH(D[4:6]),
    # j=leaf 6, k=MTH(D[0:4]), l=MTH(D[4:7]).
    d7 = ENTRIES[:7]
    assert proof(3, 7) == [ref.leaf_hash(d7[2]), ref.leaf_hash(d7[3]), ref.mth(d7[:2]),
                           ref.mth(d7[4:7])]
    assert proof(4, 7) == [ref.mth(d7[4:7])]
    assert proof(6, 7) == [ref.mth(d7[4:6]), ref.leaf_hash(d7[6]), ref.mth(d7[:4])]
    # Same section: the inclusion proofs for d0, d3, d4 and d6 are [b, h, l], [c, g, l],
    # [f, j, k] and [i, k].
    assert ref.inclusion_path(0, d7) == [ref.leaf_hash(d7[1]), ref.mth(d7[2:4]), ref.mth(d7[4:7])]
    assert ref.inclusion_path(3, d7) == [ref.leaf_hash(d7[2]), ref.mth(d7[:2]), ref.mth(d7[4:7])]
    assert ref.inclusion_path(4, d7) == [ref.leaf_hash(d7[5]), ref.leaf_hash(d7[6]),
                                         ref.mth(d7[:4])]
    assert ref.inclusion_path(6, d7) == [ref.mth(d7[4:6]), ref.mth(d7[:4])]
    assert proof(7, 7) == []


# --- anchoring --------------------------------------------------------------------------------


def test_deploy_sets_owner_and_anchorer(w3: Web3) -> None:
    d = deploy(w3)
    c = d.contract.functions
    assert c.owner().call() == OWNER.address
    assert c.isAnchorer(OWNER.address).call() is True
    assert c.isAnchorer(OTHER.address).call() is False
    assert c.latest().call() == [0, ZERO32]
    assert c.rootAt(0).call() == ZERO32
    assert c.MAX_PROOF_LENGTH().call() == 65


def test_first_anchor(deployed: Deployed) -> None:
    receipt = deployed.anchor(5, root(5), [])
    assert events(deployed, receipt, "Anchored") == [
        {"treeSize": 5, "rootHash": root(5), "previousSize": 0, "previousRoot": ZERO32}
    ]
    c = deployed.contract.functions
    assert c.latest().call() == [5, root(5)]
    assert c.rootAt(5).call() == root(5)
    assert c.rootAt(4).call() == ZERO32
    assert c.rootAt(6).call() == ZERO32


def test_first_anchor_rules(deployed: Deployed) -> None:
    f = deployed.contract.functions
    deployed.expect_revert(f.anchor(5, root(5), [root(1)]), "UnexpectedProof", (1,))
    deployed.expect_revert(f.anchor(0, root(0), []), "EmptyTree", ())
    deployed.expect_revert(f.anchor(5, ZERO32, []), "ZeroRoot", ())
    deployed.anchor(1, root(1), [])
    assert f.latest().call() == [1, root(1)]


GROWTH = [(1, 2), (1, 3), (1, 64), (2, 3), (2, 4), (3, 4), (3, 7), (4, 7), (4, 8), (6, 7),
          (7, 8), (8, 9), (8, 16), (15, 16), (16, 17), (31, 33), (32, 64), (63, 64), (64, 65),
          (64, 128), (100, 128), (127, 128), (5, 129), (97, 130)]


@pytest.mark.parametrize(("m", "n"), GROWTH)
def test_growth_with_valid_proof(deployed: Deployed, m: int, n: int) -> None:
    deployed.anchor(m, root(m), [])
    receipt = deployed.anchor(n, root(n), proof(m, n))
    assert events(deployed, receipt, "Anchored") == [
        {"treeSize": n, "rootHash": root(n), "previousSize": m, "previousRoot": root(m)}
    ]
    c = deployed.contract.functions
    assert c.latest().call() == [n, root(n)]
    assert c.rootAt(m).call() == root(m)
    assert c.rootAt(n).call() == root(n)


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 129).flatmap(lambda m: st.tuples(st.just(m), st.integers(m + 1, 130))))
def test_growth_random_pairs(w3: Web3, pair: tuple[int, int]) -> None:
    m, n = pair
    d = deploy(w3)
    d.anchor(m, root(m), [])
    d.anchor(n, root(n), proof(m, n))
    assert d.contract.functions.latest().call() == [n, root(n)]


def test_all_pairs_exhaustively(w3: Web3) -> None:
    """Every 1 <= m < n <= 33, as eth_calls: the correct proof passes, a flipped one fails."""
    for m in range(1, 33):
        d = deploy(w3)
        d.anchor(m, root(m), [])
        anchor = d.contract.functions.anchor
        for n in range(m + 1, 34):
            good = proof(m, n)
            anchor(n, root(n), good).call({"from": OWNER.address})
            bad = [*good[:-1], _flip(good[-1])]
            with pytest.raises(ContractLogicError):
                anchor(n, root(n), bad).call({"from": OWNER.address})


def test_chain_of_anchors(deployed: Deployed) -> None:
    sizes = [1, 2, 3, 4, 5, 8, 9, 16, 30, 31, 32, 33, 100, 130]
    deployed.anchor(sizes[0], root(sizes[0]), [])
    for m, n in itertools.pairwise(sizes):
        deployed.anchor(n, root(n), proof(m, n))
    c = deployed.contract.functions
    assert c.latest().call() == [130, root(130)]
    for s in sizes:
        assert c.rootAt(s).call() == root(s)
    assert c.rootAt(6).call() == ZERO32


def _flip(h: bytes) -> bytes:
    return bytes([h[0] ^ 1]) + h[1:]


def _bad_proofs(m: int, n: int) -> Iterator[tuple[str, list[bytes]]]:
    good = proof(m, n)
    for i in range(len(good)):
        yield f"flipped[{i}]", [*good[:i], _flip(good[i]), *good[i + 1:]]
    yield "truncated end", good[:-1]
    yield "truncated start", good[1:]
    yield "empty", []
    yield "extra trailing", [*good, good[-1]]
    yield "extra zero", [*good, ZERO32]
    for i in range(len(good) - 1):
        if good[i] != good[i + 1]:
            yield f"swapped[{i}]", [*good[:i], good[i + 1], good[i], *good[i + 2:]]
    yield "reversed", good[::-1]
    other = [b"forged %d" % i for i in range(n)]
    yield "other tree", ref.consistency_proof(m, other)


@pytest.mark.parametrize(("m", "n"), [(1, 2), (3, 7), (4, 7), (6, 7), (8, 13), (13, 64), (21, 100)])
def test_bad_proofs_refused(deployed: Deployed, m: int, n: int) -> None:
    deployed.anchor(m, root(m), [])
    f = deployed.contract.functions
    for label, bad in _bad_proofs(m, n):
        if bad == proof(m, n):
            continue
        try:
            deployed.expect_revert(f.anchor(n, root(n), bad), "InvalidConsistencyProof", ())
        except AssertionError as e:
            raise AssertionError(f"{label}: {e}") from e
    good = proof(m, n)
    # A correct proof does not vouch for another new root or another new size.
    deployed.expect_revert(f.anchor(n, _flip(root(n)), good), "InvalidConsistencyProof", ())
    deployed.expect_revert(f.anchor(n + 1, root(n + 1), good), "InvalidConsistencyProof", ())
    assert f.latest().call() == [m, root(m)]
    deployed.anchor(n, root(n), good)


def test_proof_for_a_different_old_root_refused(deployed: Deployed) -> None:
    """A forked log: same old size, different old root; its proof must not link to ours."""
    forked = [b"forked", *ENTRIES[1:20]]
    deployed.anchor(10, root(10), [])
    f = deployed.contract.functions
    deployed.expect_revert(f.anchor(20, ref.mth(forked), ref.consistency_proof(10, forked)),
                           "InvalidConsistencyProof", ())
    deployed.expect_revert(f.anchor(20, root(20), ref.consistency_proof(10, forked)),
                           "InvalidConsistencyProof", ())


def test_proof_too_long(deployed: Deployed) -> None:
    deployed.anchor(3, root(3), [])
    f = deployed.contract.functions
    deployed.expect_revert(f.anchor(7, root(7), [root(1)] * 66), "ProofTooLong", (66, 65))
    deployed.expect_revert(f.anchor(7, root(7), [root(1)] * 65), "InvalidConsistencyProof", ())


def test_duplicates_and_non_growth(deployed: Deployed) -> None:
    deployed.anchor(5, root(5), [])
    deployed.anchor(8, root(8), proof(5, 8))
    f = deployed.contract.functions
    deployed.expect_revert(f.anchor(8, root(8), []), "AlreadyAnchored", (8, root(8)))
    deployed.expect_revert(f.anchor(8, root(8), proof(5, 8)), "AlreadyAnchored", (8, root(8)))
    deployed.expect_revert(f.anchor(5, root(5), []), "AlreadyAnchored", (5, root(5)))
    deployed.expect_revert(f.anchor(8, root(7), []), "RootMismatch", (8, root(8), root(7)))
    deployed.expect_revert(f.anchor(5, root(6), []), "RootMismatch", (5, root(5), root(6)))
    deployed.expect_revert(f.anchor(7, root(7), []), "SizeNotGrowing", (8, 7))
    deployed.expect_revert(f.anchor(1, root(1), []), "SizeNotGrowing", (8, 1))
    deployed.expect_revert(f.anchor(0, root(0), []), "EmptyTree", ())
    assert f.latest().call() == [8, root(8)]


# --- access control ---------------------------------------------------------------------------


def test_non_anchorer_refused(deployed: Deployed) -> None:
    f = deployed.contract.functions
    deployed.expect_revert(f.anchor(1, root(1), []), "NotAnchorer", (STRANGER.address,), STRANGER)
    deployed.anchor(1, root(1), [])
    deployed.expect_revert(f.anchor(2, root(2), proof(1, 2)), "NotAnchorer", (STRANGER.address,),
                           STRANGER)


def test_owner_manages_anchorers(deployed: Deployed) -> None:
    f = deployed.contract.functions
    receipt = deployed.ok(f.addAnchorer(OTHER.address))
    assert events(deployed, receipt, "AnchorerAdded") == [{"anchorer": OTHER.address}]
    assert f.isAnchorer(OTHER.address).call() is True
    assert events(deployed, deployed.ok(f.addAnchorer(OTHER.address)), "AnchorerAdded") == []
    deployed.anchor(3, root(3), [], OTHER)
    receipt = deployed.ok(f.removeAnchorer(OTHER.address))
    assert events(deployed, receipt, "AnchorerRemoved") == [{"anchorer": OTHER.address}]
    assert f.isAnchorer(OTHER.address).call() is False
    deployed.expect_revert(f.anchor(4, root(4), proof(3, 4)), "NotAnchorer", (OTHER.address,),
                           OTHER)
    deployed.expect_revert(f.addAnchorer(ZERO_ADDRESS), "ZeroAddress", ())
    # The owner can revoke itself too.
    deployed.ok(f.removeAnchorer(OWNER.address))
    deployed.expect_revert(f.anchor(4, root(4), proof(3, 4)), "NotAnchorer", (OWNER.address,))


def test_non_owner_cannot_manage(deployed: Deployed) -> None:
    f = deployed.contract.functions
    for call in (f.addAnchorer(STRANGER.address), f.removeAnchorer(OWNER.address),
                 f.transferOwnership(STRANGER.address)):
        deployed.expect_revert(call, "NotOwner", (STRANGER.address,), STRANGER)
    assert f.owner().call() == OWNER.address
    assert f.isAnchorer(OWNER.address).call() is True


def test_transfer_ownership(deployed: Deployed) -> None:
    f = deployed.contract.functions
    deployed.expect_revert(f.transferOwnership(ZERO_ADDRESS), "ZeroAddress", ())
    receipt = deployed.ok(f.transferOwnership(OTHER.address))
    assert events(deployed, receipt, "OwnershipTransferred") == [
        {"previousOwner": OWNER.address, "newOwner": OTHER.address}
    ]
    assert f.owner().call() == OTHER.address
    deployed.expect_revert(f.addAnchorer(STRANGER.address), "NotOwner", (OWNER.address,))
    deployed.ok(f.addAnchorer(STRANGER.address), OTHER)
    assert f.isAnchorer(STRANGER.address).call() is True
    # Ownership alone does not authorize anchoring; the old owner stays an anchorer.
    deployed.expect_revert(f.anchor(1, root(1), []), "NotAnchorer", (OTHER.address,), OTHER)
    deployed.anchor(1, root(1), [])


def test_constructor_events(w3: Web3) -> None:
    d, receipt = deploy_with_receipt(w3)
    assert events(d, receipt, "OwnershipTransferred") == [
        {"previousOwner": ZERO_ADDRESS, "newOwner": OWNER.address}
    ]
    assert events(d, receipt, "AnchorerAdded") == [{"anchorer": OWNER.address}]


# --- gas --------------------------------------------------------------------------------------


class FastTree:
    """An RFC 9162 tree over given leaf hashes, built level by level (for large sizes)."""

    def __init__(self, leaves: list[bytes]) -> None:
        self.levels = [leaves]
        while len(self.levels[-1]) > 1:
            below = self.levels[-1]
            self.levels.append([ref.node_hash(below[i], below[i + 1])
                                for i in range(0, len(below) - 1, 2)])

    def hash(self, lo: int, hi: int) -> bytes:
        """MTH of leaves [lo, hi)."""
        size = hi - lo
        level = size.bit_length() - 1
        if size == 1 << level and lo % size == 0:
            return self.levels[level][lo >> level]
        k = 1 << ((size - 1).bit_length() - 1)
        return ref.node_hash(self.hash(lo, lo + k), self.hash(lo + k, hi))

    def proof(self, m: int, n: int, lo: int = 0, complete: bool = True) -> list[bytes]:
        """SUBPROOF(m, D[lo:lo+n], complete) of RFC 9162 section 2.1.4.1."""
        if m == n:
            return [] if complete else [self.hash(lo, lo + n)]
        k = 1 << ((n - 1).bit_length() - 1)
        if m <= k:
            return [*self.proof(m, k, lo, complete), self.hash(lo + k, lo + n)]
        return [*self.proof(m - k, n - k, lo + k, False), self.hash(lo, lo + k)]


def test_fast_tree_matches_reference() -> None:
    leaves = [ref.leaf_hash(e) for e in ENTRIES[:40]]
    tree = FastTree(leaves)
    for n in range(1, 41):
        assert tree.hash(0, n) == root(n)
        for m in range(1, n + 1):
            assert tree.proof(m, n) == proof(m, n)


@pytest.fixture(scope="module")
def big_tree() -> FastTree:
    """A 1,000,000-leaf tree over random leaf hashes (a few seconds to build)."""
    blob = random.Random(9162).randbytes(32 * 1_000_000)
    return FastTree([blob[i:i + 32] for i in range(0, len(blob), 32)])


# (m, n): realistic steady-state growth, plus the longest proof for that n (m = 2^k - 1).
GAS_CASES = [(7, 10), (9, 10), (990, 1000), (511, 1000), (999_000, 1_000_000),
             (999_999, 1_000_000), (524_287, 1_000_000)]


def test_anchor_gas(w3: Web3, big_tree: FastTree, capsys: pytest.CaptureFixture[str]) -> None:
    figures = []
    for m, n in GAS_CASES:
        d = deploy(w3)
        first = d.anchor(m, big_tree.hash(0, m), [])
        path = big_tree.proof(m, n)
        receipt = d.anchor(n, big_tree.hash(0, n), path)
        figures.append((m, n, len(path), first["gasUsed"], receipt["gasUsed"]))
    with capsys.disabled():
        print("\nEvidenceAnchor gas (first anchor at m, then steady-state anchor m -> n):")
        for m, n, length, first_gas, gas in figures:
            print(f"  m={m:>9,} n={n:>9,} proof={length:>2}  first={first_gas:>6,}  "
                  f"steady={gas:>6,}")
    for m, n, _, _, gas in figures:
        assert gas <= GAS_LIMIT, f"anchor {m} -> {n} used {gas} gas"


# --- artifact ---------------------------------------------------------------------------------


def test_artifact_reproducible() -> None:
    result = subprocess.run(["node", "contracts/build.mjs", "--check"], cwd=REPO,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr + result.stdout


def test_artifact_matches_source() -> None:
    source = (REPO / "contracts" / "EvidenceAnchor.sol").read_bytes()
    assert ARTIFACT["sourceSha256"] == hashlib.sha256(source).hexdigest()
    assert ARTIFACT["compiler"].startswith("0.8.28+")

