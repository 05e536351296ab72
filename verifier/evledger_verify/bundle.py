"""Verifying an evidence bundle (``evledger-bundle/1``) fully offline.

    report = verify_bundle("evidence.zip", trust)          # no node, no server
    report = verify_bundle("evidence.zip", trust, rpc=[RpcClient(url)])   # + canonical blocks

Every check names the clauses it supports. It fails closed: a check that cannot be made is a
failed check, never a silent pass. The zip is read defensively: only the four members the
format names, each within its size limit and a sane compression ratio, no bytes before the
first member or after the end of the central directory, every member's SHA-256 as the
manifest says. Signatures are checked on every core.
"""

from __future__ import annotations

import functools
import hashlib
import os
import struct
import zipfile
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from evledger_verify import strictjson
from evledger_verify.checkpoint import verify_checkpoint
from evledger_verify.errors import CannotCheckError, FormatError, VerificationError
from evledger_verify.judge import Judge
from evledger_verify.merkle import root_from_multiproof
from evledger_verify.policy import Policy, PolicyError
from evledger_verify.receipt import ChainAnchor, Report, Trust, check_chain_anchor
from evledger_verify.records import Domain, Entry, record_hash
from evledger_verify.registry import Registry, Replay
from evledger_verify.rpc import anchor_checks
from evledger_verify.rules import POLICY_VERSION, Stored, unix_seconds, utc_iso

__all__ = ["BUNDLE_FORMAT", "CLAUSES", "verify_bundle"]

BUNDLE_FORMAT = "evledger-bundle/1"
MAX_BUNDLE_BYTES = 2 * 1024**3
MAX_RECORDS = 200_000
#: Each member's largest uncompressed size.
MEMBERS = {
    "manifest.json": 1024**2,
    "records.jsonl": 1024**3,
    "proofs.json": 256 * 1024**2,
    "report.html": 512 * 1024**2,
}
#: Uncompressed / compressed beyond this, for members over 1 MiB, is a zip bomb.
MAX_RATIO = 100
#: The clauses each check supports (21 CFR Part 11, EU GMP Annex 11, ISO 13485, ALCOA+).
CLAUSES = {
    "bundle": "ALCOA+ complete, enduring; Annex 11 §7.1 (data storage), §8 (printouts)",
    "records": "Part 11 §11.10(a) (accurate and complete copies); ALCOA+ original, accurate",
    "signatures": "Part 11 §11.50 (manifestation), §11.70 (signature/record linking); Annex 11 §14",
    "authority": "Part 11 §11.10(d) (limited access), §11.10(g) (authority checks), §11.100; "
    "Annex 11 §12.1",
    "rules": "Part 11 §11.10(f) (sequencing of steps); ISO 13485 §8.2.6, §8.3 (nonconforming "
    "product), §8.5.2 (CAPA), §4.2.4 (controlled documents), §7.4 (purchasing), §7.6 "
    "(monitoring and measuring equipment); 21 CFR 820.80, 211.22, 211.84, 211.160",
    "checkpoint": "Part 11 §11.10(c) (protection of records), §11.10(e) (audit trail); Annex 11 §9",
    "inclusion": "Part 11 §11.10(c), §11.10(e); ALCOA+ enduring, available",
    "lot chains": "ALCOA+ complete; ISO 13485 §7.5.8, §7.5.9 (identification, traceability); "
    "21 CFR 820.184",
    "anchor": "Part 11 §11.10(c), §11.10(e) (time-stamped, tamper-evident); ALCOA+ contemporaneous",
}
_EOCD = b"PK\x05\x06"
#: What replaying a record of the wrong shape raises (the registry and the rules read records
#: the signatures check has not vouched for): a failed check, not a crash.
_MALFORMED = (LookupError, TypeError, ValueError, AttributeError, ArithmeticError, OSError)
Progress = Callable[[str, int, int], None]


@dataclass
class _Bundle:
    manifest: dict[str, Any]
    lines: list[bytes]
    proofs: dict[str, Any]
    #: What the records were judged with (the manifest's policy settings).
    policy: Policy
    entries: list[tuple[int, bool, dict[str, Any], Entry]] = field(default_factory=list)
    #: Each entry's leaf hash, by leaf index (computed once: inclusion and lot chains use it).
    leaves: dict[int, bytes] = field(default_factory=dict)


def verify_bundle(
    path: str,
    trust: Trust,
    *,
    rpc: Sequence[Any] = (),
    progress: Progress | None = None,
    workers: int | None = None,
) -> Report:
    """Every check of the bundle at ``path`` against ``trust``; ``rpc``: RpcClients to confirm
    the anchors' blocks are canonical (and final)."""
    report = Report(f"evidence bundle {os.path.basename(path)}")
    found: list[_Bundle] = []

    def read() -> str:
        found.append(_read(path))
        m = found[0].manifest
        return f"{BUNDLE_FORMAT}, scope {_scope_text(m)}, {m['records']} records, members intact"

    if not report.run("bundle", read, CLAUSES["bundle"]):
        return report
    b = found[0]
    tick = progress or (lambda stage, done, total: None)
    if not report.run("records", lambda: _parse_records(b, tick), CLAUSES["records"]):
        return report
    report.run(
        "signatures", lambda: _signatures(b, trust.domain, workers, tick), CLAUSES["signatures"]
    )
    try:
        replayed = _replay(b, tick)
    except _MALFORMED as exc:  # a hostile bundle: a record not in its type's shape
        why = (
            f"the log cannot be replayed: {exc.__class__.__name__}: {exc} (a record is not in "
            "the shape its type requires)"
        )
        report.fail("authority", why, CLAUSES["authority"])
        report.fail("rules", why, CLAUSES["rules"])
    else:
        report.run("authority", lambda: _authority(replayed), CLAUSES["authority"])
        report.run("rules", lambda: _rules(b, replayed), CLAUSES["rules"])
    report.run("checkpoint", lambda: _checkpoint(b, trust), CLAUSES["checkpoint"])
    report.run("inclusion", lambda: _inclusion(b), CLAUSES["inclusion"])
    report.run("lot chains", lambda: _lot_chains(b), CLAUSES["lot chains"])
    _anchors(b, trust, rpc, report)
    return report


# -- reading --------------------------------------------------------------------------------


def _read(path: str) -> _Bundle:
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as fh:
            head = fh.read(4)
            fh.seek(max(0, size - 65_557))
            tail = fh.read()
    except OSError as exc:
        raise CannotCheckError(f"bundle: cannot read {path}: {exc.strerror or exc}") from exc
    if size > MAX_BUNDLE_BYTES:
        raise FormatError(f"bundle: larger than {MAX_BUNDLE_BYTES} bytes")
    if head != b"PK\x03\x04":
        raise FormatError("bundle: expected a zip file starting with its first member")
    at = tail.rfind(_EOCD)
    if at < 0 or at + 22 > len(tail):
        raise FormatError("bundle: no end of central directory (truncated?)")
    (comment_length,) = struct.unpack("<H", tail[at + 20 : at + 22])
    if at + 22 + comment_length != len(tail):
        raise FormatError(
            f"bundle: {len(tail) - at - 22 - comment_length} bytes after the end of the zip"
        )
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            names = [i.filename for i in infos]
            if sorted(names) != sorted(MEMBERS):
                unknown = sorted(set(names) - set(MEMBERS)) or sorted(
                    n for n in set(names) if names.count(n) > 1
                )
                missing = sorted(set(MEMBERS) - set(names))
                raise FormatError(
                    "bundle members: expected exactly "
                    + ", ".join(sorted(MEMBERS))
                    + (f"; unexpected {', '.join(map(repr, unknown))}" if unknown else "")
                    + (f"; missing {', '.join(missing)}" if missing else "")
                )
            data = {i.filename: _member(zf, i) for i in infos}
    except zipfile.BadZipFile as exc:
        raise FormatError(f"bundle: not a readable zip: {exc}") from None
    manifest = _json(data["manifest.json"], "manifest.json")
    if not isinstance(manifest, dict) or manifest.get("format") != BUNDLE_FORMAT:
        raise FormatError(f"bundle manifest: expected format {BUNDLE_FORMAT!r}")
    for key, typ in (
        ("members", dict),
        ("records", int),
        ("tree_size", int),
        ("required_stages", list),
        ("policy", str),
        ("policy_settings", dict),
        ("scope", dict),
    ):
        if not isinstance(manifest.get(key), typ) or isinstance(manifest.get(key), bool):
            raise FormatError(f"bundle manifest: missing or wrong {key!r}")
    if manifest["policy"] != POLICY_VERSION:
        raise FormatError(
            f"bundle manifest policy: this verifier judges {POLICY_VERSION}, the bundle was "
            f"judged under {manifest['policy']!r}"
        )
    for name in ("records.jsonl", "proofs.json", "report.html"):
        declared = manifest["members"].get(name)
        got = data[name]
        if (
            not isinstance(declared, dict)
            or declared.get("sha256") != hashlib.sha256(got).hexdigest()
            or declared.get("bytes") != len(got)
        ):
            raise FormatError(f"bundle member {name}: not the bytes the manifest lists")
    lines = data["records.jsonl"].splitlines()
    if len(lines) != manifest["records"] or not 0 < len(lines) <= MAX_RECORDS:
        raise FormatError(
            f"bundle records: manifest says {manifest['records']}, records.jsonl has "
            f"{len(lines)} (at most {MAX_RECORDS})"
        )
    proofs = _json(data["proofs.json"], "proofs.json")
    if not isinstance(proofs, dict):
        raise FormatError("proofs.json: expected a JSON object")
    try:
        policy = Policy.from_json(manifest["policy_settings"])
    except PolicyError as exc:
        raise FormatError(f"bundle manifest policy_settings: {exc}") from None
    if list(policy.required_stages) != manifest["required_stages"]:
        raise FormatError("bundle manifest: required_stages differ from policy_settings'")
    return _Bundle(manifest, lines, proofs, policy)


def _member(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    limit = MEMBERS[info.filename]
    if info.file_size > limit:
        raise FormatError(f"bundle member {info.filename}: larger than {limit} bytes")
    if info.file_size > 1024**2 and info.file_size > MAX_RATIO * max(info.compress_size, 1):
        ratio = info.file_size // max(info.compress_size, 1)
        raise FormatError(
            f"bundle member {info.filename}: compressed {ratio} to 1, more than {MAX_RATIO} "
            "(a zip bomb?)"
        )
    with zf.open(info) as fh:
        data = fh.read(limit + 1)
    if len(data) != info.file_size:
        raise FormatError(f"bundle member {info.filename}: not the size its header says")
    return data


def _json(data: bytes, what: str) -> Any:
    try:
        return strictjson.loads(data)
    except FormatError as exc:
        raise FormatError(f"{what}: {exc}") from None


def _scope_text(manifest: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(manifest["scope"].items()))


# -- records, signatures, authority, rules ----------------------------------------------------


def _parse_records(b: _Bundle, tick: Progress) -> str:
    last = -1
    for n, line in enumerate(b.lines, 1):
        if n % 10_000 == 0:
            tick("records", n, len(b.lines))
        item = _json(line, f"records.jsonl line {n}")
        if not isinstance(item, dict) or set(item) != {"leaf_index", "in_scope", "record", "entry"}:
            raise FormatError(
                f"records.jsonl line {n}: expected leaf_index, in_scope, record, entry"
            )
        index, record = item["leaf_index"], item["record"]
        if not isinstance(index, int) or isinstance(index, bool) or index <= last:
            raise FormatError(f"records.jsonl line {n}: leaf indices must increase")
        if not isinstance(record, dict) or not isinstance(item["in_scope"], bool):
            raise FormatError(f"records.jsonl line {n}: record must be an object")
        entry = Entry.from_json(item["entry"])
        if entry.record_id != record.get("record_id") or entry.record_type != record.get("type"):
            raise VerificationError(
                f"record {record.get('record_id')!r} (leaf {index}): its log entry is for "
                f"{entry.record_id!r}"
            )
        actual = record_hash(record).hex()
        if actual != entry.record_hash:
            raise VerificationError(
                f"record {entry.record_id} (leaf {index}): hashes to {actual}, its log entry "
                f"says {entry.record_hash}"
            )
        if entry.lot != record.get("lot"):
            raise VerificationError(f"record {entry.record_id}: lot differs from its entry's")
        b.entries.append((index, item["in_scope"], record, entry))
        b.leaves[index] = entry.leaf_hash()
        last = index
    in_scope = sum(1 for e in b.entries if e[1])
    return f"{len(b.entries)} records hash to their log entries ({in_scope} in scope)"


def _check_signatures(domain: Domain, entries: list[Entry]) -> list[str]:
    bad = []
    for entry in entries:
        try:
            entry.verify_signature(domain)
        except VerificationError as exc:
            bad.append(f"{entry.record_id}: {exc}")
    return bad


def _signatures(b: _Bundle, domain: Domain, workers: int | None, tick: Progress) -> str:
    entries = [e for _, _, _, e in b.entries]
    cores = workers or os.cpu_count() or 1
    chunk = 2000
    bad: list[str] = []
    if cores > 1 and len(entries) > chunk:
        with ProcessPoolExecutor(cores) as pool:
            parts = [entries[i : i + chunk] for i in range(0, len(entries), chunk)]
            futures = [pool.submit(_check_signatures, domain, part) for part in parts]
            for n, f in enumerate(futures, 1):
                bad += f.result()
                tick("signatures", min(n * chunk, len(entries)), len(entries))
    else:
        bad = _check_signatures(domain, entries)
        tick("signatures", len(entries), len(entries))
    if bad:
        raise VerificationError(f"{len(bad)} signature(s) do not verify: " + "; ".join(bad[:5]))
    return f"{len(entries)} EIP-712 signatures verify, each by the signer its entry names"


@dataclass
class _Replayed:
    """Authority and rules, judged together record by record in log order
    (:class:`evledger_verify.registry.Replay`): a signer record refused by either is
    withdrawn from the registry before the records after it are judged."""

    registry: Registry
    judge: Judge
    #: "record id: why", for the records signed without authority and those a rule refuses.
    unauthorized: list[str] = field(default_factory=list)
    broken: list[str] = field(default_factory=list)


def _replay(b: _Bundle, tick: Progress) -> _Replayed:
    registry = Registry()
    signers = sorted(
        (e for e in b.entries if e[3].record_type == "signer"), key=lambda e: (e[3].signed_at, e[0])
    )
    for _, _, record, entry in signers:
        registry.apply(record, entry.signed_at)
    positions = {e.record_id: i for i, _, _, e in signers}
    judge = Judge(b.policy, names=registry.name_of, persons=registry.person_of)
    replay = Replay(registry, judge, positions)
    done = _Replayed(registry, judge)
    for n, (index, _, record, entry) in enumerate(b.entries, 1):
        if n % 10_000 == 0:
            tick("rules", n, len(b.entries))
        accepted_at = unix_seconds(entry.accepted_at)
        problem = replay.authority(
            entry.record_id, entry.record_type, entry.signer, entry.signed_at, accepted_at, index
        )
        if problem is not None:
            done.unauthorized.append(f"{entry.record_id}: {problem}")
        state = registry.get(entry.signer)
        stored = Stored(
            record_id=entry.record_id,
            type=entry.record_type,
            body=record,
            record_hash=entry.record_hash,
            signer=entry.signer,
            printed_name=state.name_at(entry.signed_at) if state else None,
            meaning=entry.meaning,
            signed_at=utc_iso(entry.signed_at),
            accepted_at=entry.accepted_at,
        )
        refused = replay.rules(stored, entry.signed_at, accepted_at)
        if refused is not None:
            reasons = "".join(f" [{r}]" for r in refused.reasons[:3])
            done.broken.append(f"{entry.record_id} ({refused.kind}): {refused}{reasons}")
    return done


def _authority(r: _Replayed) -> str:
    if r.unauthorized:
        raise VerificationError(
            f"{len(r.unauthorized)} record(s) signed without authority: "
            + "; ".join(r.unauthorized[:5])
        )
    return (
        "every signer was registered and active at the signing time and at the acceptance "
        f"({len(r.registry)} signers)"
    )


def _rules(b: _Bundle, r: _Replayed) -> str:
    if r.broken:
        raise VerificationError(
            f"{len(r.broken)} record(s) the service should have refused: " + "; ".join(r.broken[:5])
        )
    return (
        f"{r.judge.judged} records re-judged under {POLICY_VERSION} (required stages "
        f"{', '.join(b.policy.required_stages)}; duties "
        f"{', '.join(d.name for d in b.policy.duties) or 'none'}; a person's signature at most "
        f"{b.policy.max_signature_age} s old): none breaks a rule"
    )


# -- the log ----------------------------------------------------------------------------------


def _hex32(value: Any, what: str) -> bytes:
    if not isinstance(value, str) or len(value) != 64:
        raise FormatError(f"{what}: expected 64 hex digits")
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise FormatError(f"{what}: expected 64 hex digits") from None


def _checkpoint(b: _Bundle, trust: Trust) -> str:
    p = b.proofs
    note = p.get("checkpoint")
    if not isinstance(note, str):
        raise FormatError("proofs.json checkpoint: expected the signed note")
    cp = verify_checkpoint(note, trust.log_key, trust.log_origin)
    if (cp.tree_size, cp.root_hash) != (
        p.get("tree_size"),
        _hex32(p.get("root_hash"), "proofs.json root_hash"),
    ):
        raise VerificationError("checkpoint: its size and root are not the ones proofs.json uses")
    if cp.tree_size != b.manifest["tree_size"]:
        raise VerificationError("checkpoint: not the tree size the manifest names")
    return f"size {cp.tree_size}, signed by the trusted log key for {trust.log_origin}"


def _inclusion(b: _Bundle) -> str:
    p = b.proofs
    proof = p.get("multiproof")
    if not isinstance(proof, list):
        raise FormatError("proofs.json multiproof: expected a list of hashes")
    hashes = [_hex32(h, f"multiproof[{i}]") for i, h in enumerate(proof)]
    leaves = b.leaves
    root = root_from_multiproof(leaves, int(p["tree_size"]), hashes)
    if root != _hex32(p.get("root_hash"), "proofs.json root_hash"):
        raise VerificationError(
            f"inclusion: the records' leaves and the multiproof give root {root.hex()}, the "
            "checkpoint says otherwise (a record changed, added, removed or moved)"
        )
    return (
        f"all {len(leaves)} records are the leaves at their indices in the tree of size "
        f"{p['tree_size']} ({len(hashes)} proof hashes)"
    )


def _lot_chains(b: _Bundle) -> str:
    heads: dict[str, str] = {}
    for index, _, _, entry in b.entries:
        if entry.lot is None:
            continue
        expected = heads.get(entry.lot)
        if entry.lot_prev != expected:
            raise VerificationError(
                f"lot {entry.lot}: record {entry.record_id} (leaf {index}) follows "
                + (f"leaf hash {entry.lot_prev}" if entry.lot_prev else "nothing")
                + ", but the bundle's previous record of the lot is "
                + (f"leaf hash {expected}" if expected else "none")
                + " (a record of the lot is missing)"
            )
        heads[entry.lot] = b.leaves[index].hex()
    return f"{len(heads)} lot chain(s) complete from their first record, no gap"


# -- anchors ----------------------------------------------------------------------------------


def _anchors(b: _Bundle, trust: Trust, rpc: Sequence[Any], report: Report) -> None:
    items = b.proofs.get("anchors")
    size = b.proofs.get("tree_size")
    if not isinstance(size, int) or isinstance(size, bool):
        report.fail("anchors required", "proofs.json tree_size: expected an integer")
        return
    if not isinstance(items, list) or not items:
        report.fail("anchors required", "the bundle carries no anchor", CLAUSES["anchor"])
        return
    nodes: dict[int, Any] = {}
    for client in rpc:
        try:
            nodes[client.chain_id()] = client
        except VerificationError as exc:
            report.fail("rpc", f"{client.url}: {exc}")
        except CannotCheckError as exc:
            report.fail("rpc", f"{client.url}: {exc}")
    root = _hex32(b.proofs.get("root_hash"), "proofs.json root_hash")
    last_leaf = b.entries[-1][0]
    passed: set[int] = set()
    for i, item in enumerate(items[:16]):
        try:
            ca = ChainAnchor.from_json(item, f"proofs.json anchors[{i}]")
        except FormatError as exc:
            report.fail(f"anchor [{i}]", str(exc), CLAUSES["anchor"])
            continue
        chain, node = ca.chain_id, nodes.get(ca.chain_id)
        check = functools.partial(_anchor, ca, trust, size, root, last_leaf, node is not None)
        ok = report.run(f"anchor (chain {chain})", check, CLAUSES["anchor"])
        contract = trust.contracts.get(chain)
        if ok and node is not None and contract is not None:
            # On the node too: the contract holds the root; the transaction, its block and its
            # log are canonical and say so (the checks `evledger-verify receipt --rpc` runs).
            on_chain = anchor_checks(node, chain, contract, ca.anchor, ca.tree_size, ca.root_hash)
            on_chain.append(
                (f"block finality (chain {chain})", functools.partial(_finality, node, ca))
            )
            ok = all(report.run(name, fn, CLAUSES["anchor"]) for name, fn in on_chain)
        if ok and contract is not None:
            passed.add(chain)
    required = trust.required

    def requirement() -> str:
        if required is None:
            if not passed:
                raise VerificationError(
                    "anchors required: no trusted chain's anchor checks (require: any)"
                )
        else:
            missing = [c for c in required if c not in passed]
            if missing:
                raise VerificationError(
                    f"anchors required: chain(s) {', '.join(map(str, missing))} without an "
                    f"anchor that checks (require: {trust.require_text})"
                )
        return (
            f"met on chain(s) {', '.join(map(str, sorted(passed)))} (require: {trust.require_text})"
        )

    report.run("anchors required", requirement, CLAUSES["anchor"])


def _anchor(
    ca: ChainAnchor, trust: Trust, size: int, root: bytes, last_leaf: int, asked: bool
) -> str:
    """The receipt's anchor checks (``check_chain_anchor``) against the bundle's checkpoint;
    an anchor not proven offline needs a node for its chain (``asked``), or fails (fail
    closed)."""
    holds, proven = check_chain_anchor(ca, trust, size, root, last_leaf, "bundle")
    if not proven and asked:
        return f"{holds}; not proven offline (not final when the bundle was made): asking the node"
    if not proven and ca.chain_id in trust.contracts:
        raise VerificationError(
            f"anchor: no offline proof (the anchor was not final when the bundle was made) "
            f"and no --rpc node for chain {ca.chain_id}: cannot be checked"
        )
    return holds


def _finality(node: Any, ca: ChainAnchor) -> str:
    """What the node says of the anchor block's finality (its ``finalized`` tag)."""
    final = node.call("eth_getBlockByNumber", ["finalized", False])
    number = int(str(final.get("number", "0x0")), 16) if isinstance(final, dict) else -1
    if number >= ca.anchor.block_number:
        return f"block {ca.anchor.block_number} is at or below the node's finalized block {number}"
    return f"block {ca.anchor.block_number} is not final yet by the node's finalized tag"
