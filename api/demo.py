"""``evledger demo``: a realistic sample lot, from incoming inspection to release, on the
master data it relies on (approved specifications, calibrated instruments, an approved
supplier).

The lot is data: ``docs/examples/demo/catheter-lot.json`` (format ``evledger-demo-lot/1``)
lists each record in order with the role that signs it and the meaning of the signature.

The demo's people get keystore v3 files, as people do. Their password is random and written to
``keys/password`` (mode 0600) beside them, so the printed commands can be run as they are:
acceptable for a demonstration only; a person types their password when asked.
"""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click
from evledger_verify.records import record_hash

from ingest.cli import new_keystore_scrypt_n
from ingest.client import (
    Client,
    Passwords,
    RefusedError,
    SigningKey,
    new_keystore,
    segment,
)
from ledger.embedded import repo_root
from ledger.keys import write_secret

__all__ = ["LOT_FILE", "master_data", "run_demo", "sample_lot"]

LOT_FILE = repo_root() / "docs" / "examples" / "demo" / "catheter-lot.json"
_FORMAT = "evledger-demo-lot/1"


def _fill(value: Any, values: dict[str, str]) -> Any:
    if isinstance(value, str):
        for name, text in values.items():
            value = value.replace("{" + name + "}", text)
        return value
    if isinstance(value, list):
        return [_fill(v, values) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, values) for k, v in value.items()}
    return value


def _document(path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(path.read_text())
    if doc.get("format") != _FORMAT:
        raise ValueError(f"{path}: format: expected {_FORMAT!r}, got {doc.get('format')!r}")
    return doc


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def master_data(tag: str, path: Path = LOT_FILE) -> list[tuple[str, str, dict[str, Any]]]:
    """(signing role, meaning, record) for the master data the sample lot relies on: the
    instruments and their calibrations (valid for a year), the specifications brought into
    force by a change, the approved supplier; ids tagged with ``tag``."""
    now = _now()
    values = {"tag": tag, "now": _iso(now), "valid_until": _iso(now + timedelta(days=365))}
    return [
        (str(step["signer"]), str(step["meaning"]), _fill(step["record"], values))
        for step in _document(path)["master_data"]
    ]


def sample_lot(
    lot: str, material_lot: str, tag: str, path: Path = LOT_FILE
) -> list[tuple[str, str, dict[str, Any]]]:
    """(signing role, meaning, record) for each record of the sample lot, in order, with
    ``{lot}``, ``{material_lot}``, ``{tag}`` (of its :func:`master_data`), ``{now}`` and
    ``{due}`` (a CAPA's due date, 60 days on) filled in, and the hash of each record a release
    relies on added to its evidence. Call it after the master data is approved: its
    inspections are made now, under the specifications then in force."""
    doc = _document(path)
    now = _now()
    values = {
        "lot": lot,
        "material_lot": material_lot,
        "tag": tag,
        "now": _iso(now),
        "due": _iso(now + timedelta(days=60)),
    }
    steps: list[tuple[str, str, dict[str, Any]]] = []
    hashes: dict[str, str] = {}
    for step in doc["steps"]:
        record: dict[str, Any] = _fill(step["record"], values)
        if record["type"] == "release":
            record["evidence"] = [
                {**e, "record_hash": hashes[e["record_id"]]} for e in record["evidence"]
            ]
        if record["type"] == "review":
            record["record_hash"] = hashes[record["reviews"]]
        hashes[record["record_id"]] = record_hash(record).hex()
        steps.append((str(step["signer"]), str(step["meaning"]), record))
    return steps


def run_demo(client: Client, out: Path, admin: SigningKey) -> None:
    out.mkdir(parents=True, exist_ok=True)
    keys = out / "keys"
    keys.mkdir(exist_ok=True, mode=0o700)
    password_file = keys / "password"
    if not password_file.exists():
        write_secret(password_file, secrets.token_urlsafe(18) + "\n")
    passwords = Passwords(password_file)
    scrypt_n = new_keystore_scrypt_n()
    tag = secrets.token_hex(3).upper()
    lot = f"L{datetime.now(UTC):%y%m%d}-{tag}"
    domain = client.domain()
    people = {
        "inspector": ("Dana Inspector", "qa_inspector"),
        "approver": ("Quinn Approver", "qa_approver"),
        "reviewer": ("Mo Reviewer", "qa_approver"),
    }
    signers: dict[str, SigningKey] = {}
    key_paths: dict[str, Path] = {}
    for role, (name, grant) in people.items():
        key_paths[role] = keys / f"{lot}-{role}.json"
        signers[role] = key = new_keystore(key_paths[role], passwords, "demo", scrypt_n=scrypt_n)
        grant_record = {
            "record_id": f"signer-{lot}-{role}",
            "type": "signer",
            "schema": "signer/1",
            "action": "grant",
            "address": key.address,
            "name": name,
            "roles": [grant],
        }
        client.submit(admin.sign(grant_record, "approved", domain))
        click.echo(f"registered {name} ({grant}) {key.address}")
    for role, meaning, record in master_data(tag):
        client.submit(signers[role].sign(record, meaning, domain))
        click.echo(f"master data {record['record_id']} ({record['type']}, {meaning})")
    records = sample_lot(lot, f"RM-{tag}", tag)
    for role, meaning, record in records:
        client.submit(signers[role].sign(record, meaning, domain))
        (out / f"{record['record_id']}.record.json").write_text(json.dumps(record, indent=2) + "\n")
        click.echo(f"submitted {record['record_id']} ({record['type']}, {meaning})")
    trust_path = out / "trust.json"
    trust_path.write_text(json.dumps(client.trust(), indent=2) + "\n")
    click.echo("waiting for anchoring ...")
    for _, _, record in records:
        rid = record["record_id"]
        body = client.receipt(rid, wait=120.0)
        if body.get("status") != "anchored":
            raise click.ClickException(f"demo: {rid} not anchored after 120 s")
        body.pop("status", None)
        (out / f"{rid}.receipt.json").write_text(json.dumps(body, indent=2) + "\n")
    certificate = out / f"certificate-{lot}.pdf"
    try:
        pdf = client.request(
            "GET",
            f"/v1/lots/{segment(lot)}/certificate",
            token=client.read_token(signers["approver"], 600),
        ).content
        certificate.write_bytes(pdf)
    except RefusedError as exc:  # the demo lot is released; say so if it ever is not
        click.echo(f"no certificate of conformance: {exc.detail}")
    click.echo(f"\nlot {lot}: {len(records)} records anchored; files in {out}")
    if certificate.exists():
        click.echo(
            f"its certificate of conformance: {certificate} (scan its QR code, or open the "
            "link it holds, to verify the release in a browser)"
        )
    click.echo(
        f"see the lot as QA does (the keystore's password is in {password_file}, for the demo "
        f"only):\n  evledger lot {lot} --key {key_paths['approver']} "
        f"--password-file {password_file}"
    )
    click.echo("verify with:")
    for _, _, record in records:
        rid = record["record_id"]
        click.echo(
            f"  evledger-verify receipt {out}/{rid}.receipt.json "
            f"--record {out}/{rid}.record.json --trust {trust_path}"
        )
