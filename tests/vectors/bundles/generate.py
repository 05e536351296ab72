"""Write ``bundles.json``: evidence bundles that both bundle verifiers run, the Python reference
(``evledger_verify.bundle.verify_bundle``, what ``evledger-verify bundle --json`` prints) and the
page's (web/verify/src/bundle.js), with what the reference says of each.

    .venv/bin/python -m tests.vectors.bundles.generate          # rewrite bundles.json
    .venv/bin/python -m tests.vectors.bundles.generate --check  # exit 1 if it is stale

The two sources are real bundles exported by the service of the integration tests (a running
ledger on PostgreSQL and Anvil, ``tests/integration/test_bundle.py``): ``lot.zip``, a lot's
whole life (inspections, NCRs, a correction, the release) with its signer and master-data
records, anchored and proven offline; ``slipped.zip``, a lot whose release was signed by an
inspector and written past the service by a database superuser. Each vector is a source as it
is, or with the one change its name says, made here by unpacking and packing again (fixing the
manifest's hashes as a careful forger would, unless the change is to the file itself). Nothing
reads the clock or a random source: the file is the same on every run.

``tests/js/bundles.test.mjs`` asserts that the page's verifier gives the same exit code and
the same verdict and detail for every check; ``tests/unit/test_web_verify.py`` that this file
is fresh. Every bundle the integration tests verify is verified by both as well
(``tests/js_bundle.py``).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import sys
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from evledger_verify.bundle import verify_bundle
from evledger_verify.checkpoint import format_checkpoint_body, sign_note, verifier_key_string
from evledger_verify.errors import CannotCheckError
from evledger_verify.receipt import Trust
from evledger_verify.records import record_hash

HERE = Path(__file__).resolve().parent
OUTPUT = HERE / "bundles.json"
SOURCES = ("lot", "slipped")
#: A fixed date for the members of repacked bundles (zip headers carry one).
DATE = (2026, 11, 30, 12, 0, 0)
Parts = dict[str, Any]


def unpack(data: bytes) -> Parts:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {
            "manifest": json.loads(zf.read("manifest.json")),
            "lines": [json.loads(x) for x in zf.read("records.jsonl").splitlines()],
            "proofs": json.loads(zf.read("proofs.json")),
            "report": zf.read("report.html"),
        }


def pack(parts: Parts, *, fix_manifest: bool = True, extra: dict[str, bytes] | None = None,
         drop: str | None = None) -> bytes:
    members = {
        "records.jsonl": ("\n".join(json.dumps(x, separators=(",", ":"), sort_keys=True)
                                    for x in parts["lines"]) + "\n").encode(),
        "proofs.json": json.dumps(parts["proofs"], indent=1, sort_keys=True).encode(),
        "report.html": parts["report"],
    }
    if fix_manifest:
        parts["manifest"]["records"] = len(parts["lines"])
        parts["manifest"]["members"] = {
            name: {"sha256": hashlib.sha256(body).hexdigest(), "bytes": len(body)}
            for name, body in members.items()
        }
    files = {"manifest.json": json.dumps(parts["manifest"], indent=1, sort_keys=True).encode(),
             **members, **(extra or {})}
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name, body in files.items():
            if name != drop:
                zf.writestr(zipfile.ZipInfo(name, DATE), body, zipfile.ZIP_DEFLATED)
    return out.getvalue()


def line(parts: Parts, rtype: str, index: int = 0) -> dict[str, Any]:
    return [x for x in parts["lines"] if x["record"]["type"] == rtype][index]


def flip_hex(value: str, at: int = 10) -> str:
    return value[:at] + ("0" if value[at] != "0" else "1") + value[at + 1:]


OTHER_KEY = Ed25519PrivateKey.from_private_bytes(bytes([7] * 32))


def resign(parts: Parts) -> None:
    """The checkpoint signed again by a key the trust file does not name."""
    proofs = parts["proofs"]
    origin = proofs["checkpoint"].split("\n", 1)[0]
    body = format_checkpoint_body(origin, proofs["tree_size"], bytes.fromhex(proofs["root_hash"]))
    proofs["checkpoint"] = sign_note(body, origin, OTHER_KEY)


def other_trust(trust: dict[str, Any]) -> dict[str, Any]:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    public = OTHER_KEY.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return {**trust, "log_public_key": verifier_key_string(trust["log_origin"], public)}


def changed(change: Callable[[Parts], Any], **pack_args: Any) -> Callable[[bytes], bytes]:
    def make(data: bytes) -> bytes:
        parts = unpack(data)
        change(parts)
        return pack(parts, **pack_args)
    return make


def set_in(path: str, value: Any) -> Callable[[Parts], None]:
    def change(parts: Parts) -> None:
        *head, last = path.split(".")
        node = parts
        for key in head:
            node = node[key]
        node[last] = value
    return change


def _rehash(item: dict[str, Any], **changes: Any) -> None:
    """The record changed and its entry's record hash with it, as a forger who cannot sign
    would (the signature, the leaf and the lot chain then fail; the replay reads it anyway)."""
    for key, value in changes.items():
        if value is None:
            item["record"].pop(key, None)
        else:
            item["record"][key] = value
    item["entry"]["record_hash"] = record_hash(item["record"]).hex()


def reshaped_grant(parts: Parts) -> None:
    _rehash(line(parts, "signer", 1), roles=None)


def break_crc(data: bytes) -> bytes:
    """One byte of a stored member flipped, its CRC-32 left as it was."""
    parts = unpack(data)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name, body in (("manifest.json", json.dumps(parts["manifest"]).encode()),
                           ("records.jsonl", b""), ("proofs.json", b""),
                           ("report.html", parts["report"])):
            zf.writestr(zipfile.ZipInfo(name, DATE), body, zipfile.ZIP_STORED)
    raw = bytearray(out.getvalue())
    at = raw.index(b"<html") if b"<html" in raw else raw.index(b"<!doctype")
    raw[at + 1] ^= 0x20
    return bytes(raw)


#: name -> (source, change of the bundle's bytes, change of the trust file)
Change = Callable[[bytes], bytes]
CASES: dict[str, tuple[str, Change, Callable[[dict[str, Any]], dict[str, Any]] | None]] = {
    "valid/lot": ("lot", lambda d: d, None),
    "valid/lot-repacked": ("lot", changed(lambda p: None), None),
    "rules/release-signed-by-an-inspector": ("slipped", lambda d: d, None),
    "records/a-record-byte-changed": (
        "lot", changed(lambda p: line(p, "inspection")["record"].update(notes="changed")), None),
    "records/entry-for-another-record": (
        "lot", changed(lambda p: line(p, "ncr")["entry"].update(record_id="OTHER")), None),
    "records/lot-differs": (
        "lot", changed(lambda p: line(p, "ncr")["record"].update(lot=None)), None),
    "records/leaf-indices-not-increasing": (
        "lot", changed(lambda p: p["lines"].reverse()), None),
    "records/not-an-object": (
        "lot", changed(lambda p: p["lines"].__setitem__(0, {**p["lines"][0], "record": []})),
        None),
    "signatures/swapped": (
        "lot", changed(lambda p: (
            line(p, "inspection", 0)["entry"].__setitem__(
                "signature", line(p, "inspection", 1)["entry"]["signature"]))), None),
    "lot-chains/an-ncr-removed": (
        "lot", changed(lambda p: p["lines"].remove(line(p, "ncr", 1))), None),
    "authority/a-grant-removed": (
        "lot", changed(lambda p: p["lines"].remove(line(p, "signer", 4))), None),
    "authority/a-signer-record-without-roles": ("lot", changed(reshaped_grant), None),
    "rules/an-inspection-without-characteristics": (
        "lot", changed(lambda p: _rehash(line(p, "inspection"), characteristics=None)), None),
    "checkpoint/another-log-key": ("lot", changed(resign), None),
    "checkpoint/trust-names-another-key": ("lot", lambda d: d, other_trust),
    "checkpoint/root-changed": (
        "lot", changed(lambda p: p["proofs"].update(root_hash=flip_hex(p["proofs"]["root_hash"]))),
        None),
    "inclusion/proof-element-changed": (
        "lot", changed(lambda p: p["proofs"]["multiproof"].__setitem__(
            0, flip_hex(p["proofs"]["multiproof"][0]))), None),
    "inclusion/proof-too-long": (
        "lot", changed(lambda p: p["proofs"]["multiproof"].append("00" * 32)), None),
    "inclusion/not-a-list": ("lot", changed(set_in("proofs.multiproof", "x")), None),
    "anchor/block-header-changed": (
        "lot", changed(lambda p: p["proofs"]["anchors"][0]["proof"].update(
            block_header=flip_hex(p["proofs"]["anchors"][0]["proof"]["block_header"], 200))),
        None),
    "anchor/no-proof": (
        "lot", changed(lambda p: p["proofs"]["anchors"][0].update(proof=None)), None),
    "anchor/malformed": (
        "lot", changed(lambda p: p["proofs"]["anchors"][0].update(tree_size="36")), None),
    "anchor/none": ("lot", changed(set_in("proofs.anchors", [])), None),
    "anchor/another-contract": (
        "lot", lambda d: d,
        lambda t: {**t, "chains": [{"chain_id": t["chain_id"], "contract": t["contract"]},
                                   {"chain_id": 5, "contract": "0x" + "11" * 20}],
                   "require": "all"}),
    "bundle/manifest-lists-other-bytes": (
        "lot", changed(lambda p: p["lines"].pop(), fix_manifest=False), None),
    "bundle/another-policy-version": (
        "lot", changed(set_in("manifest.policy", "evledger-policy/2")), None),
    "bundle/policy-settings-invalid": (
        "lot", changed(lambda p: p["manifest"]["policy_settings"].update(max_signature_age=-1)),
        None),
    "bundle/required-stages-differ": (
        "lot", changed(set_in("manifest.required_stages", ["incoming"])), None),
    "bundle/records-count-wrong": (
        "lot", lambda d: _records_count(d, 3), None),
    "bundle/not-the-format": ("lot", changed(set_in("manifest.format", "other/1")), None),
    "bundle/an-extra-member": (
        "lot", lambda d: pack(unpack(d), extra={"../escape.txt": b"x"}), None),
    "bundle/a-member-missing": ("lot", lambda d: pack(unpack(d), drop="proofs.json"), None),
    "bundle/bytes-after-the-zip": ("lot", lambda d: d + b"garbage after the zip", None),
    "bundle/bytes-before-the-zip": ("lot", lambda d: b"MZ" + d, None),
    "bundle/truncated": ("lot", lambda d: d[: len(d) // 2], None),
    "bundle/not-a-zip": ("lot", lambda d: b"PK\x03\x04" + b"\x00" * 100, None),
    "bundle/crc-broken": ("lot", break_crc, None),
    "bundle/a-zip-bomb": (
        "lot", lambda d: pack(unpack(d) | {"report": b"\0" * (8 * 1024**2)}), None),
    "bundle/manifest-not-json": (
        "lot", lambda d: _raw_manifest(d, b'{"format": "evledger-bundle/1",'), None),
}


def _records_count(data: bytes, n: int) -> bytes:
    """Members as listed, but a record count that is not theirs."""
    parts = unpack(data)
    pack(parts)  # lists the members' hashes in the manifest
    parts["manifest"]["records"] = n
    return pack(parts, fix_manifest=False)


def _raw_manifest(data: bytes, manifest: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr(zipfile.ZipInfo("manifest.json", DATE), manifest, zipfile.ZIP_DEFLATED)
        with zipfile.ZipFile(io.BytesIO(data)) as src:
            for name in ("records.jsonl", "proofs.json", "report.html"):
                zf.writestr(zipfile.ZipInfo(name, DATE), src.read(name), zipfile.ZIP_DEFLATED)
    return out.getvalue()


def reference(bundle: bytes, trust: dict[str, Any]) -> dict[str, Any]:
    """What ``evledger-verify bundle --json`` says: its JSON, with the exit code."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bundle.zip"
        path.write_bytes(bundle)
        try:
            report = verify_bundle(str(path), Trust.from_json(trust), workers=1)
        except CannotCheckError as exc:
            return {"verified": False, "error": str(exc), "exit": 2}
    out = report.to_json()
    out["exit"] = 0 if report.ok else 1
    return out


def vectors() -> dict[str, Any]:
    sources = {name: ((HERE / f"{name}.zip").read_bytes(),
                      json.loads((HERE / f"{name}.trust.json").read_text()))
               for name in SOURCES}
    out = []
    for name, (source, change, trust_change) in CASES.items():
        data, trust = sources[source]
        bundle = change(data)
        trust = trust_change(trust) if trust_change else trust
        out.append({
            "name": name,
            "bundle": base64.b64encode(bundle).decode(),
            "trust": json.dumps(trust, sort_keys=True),
            "expected": reference(bundle, trust),
        })
    return {"about": "generated by tests/vectors/bundles/generate.py: do not edit",
            "vectors": out}


def render() -> str:
    return json.dumps(vectors(), indent=1, sort_keys=True) + "\n"


def main_(argv: list[str]) -> int:
    text = render()
    if argv[1:] == ["--check"]:
        if OUTPUT.read_text() != text:
            print(f"{OUTPUT} is stale: run python -m tests.vectors.bundles.generate",
                  file=sys.stderr)
            return 1
        return 0
    OUTPUT.write_text(text)
    print(f"wrote {OUTPUT} ({len(CASES)} vectors)")
    return 0


if __name__ == "__main__":
    sys.exit(main_(sys.argv))
