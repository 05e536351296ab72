"""``evledger demo``: a realistic sample lot, from incoming inspection to release."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from evledger_verify.records import record_hash

from ledger.keys import new_account_key

GTIN = "09506000134352"  # a valid GTIN-14 (check digit 2)


def sample_lot(lot: str, material_lot: str) -> list[tuple[str, dict[str, Any]]]:
    """(signing role, record) pairs for one lot of sterile catheters."""
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    incoming = {
        "record_id": f"{lot}-IQC-001",
        "type": "inspection",
        "lot": lot,
        "stage": "incoming",
        "product": {"gtin": GTIN, "name": "Catheter tubing, PEBA 55D"},
        "material_lot": material_lot,
        "supplier": "Polymer Supply GmbH",
        "sampling_plan": "ISO 2859-1, level II, AQL 0.65",
        "sample_size": 32,
        "characteristics": [
            {
                "name": "outer diameter",
                "method": "laser micrometer",
                "unit": "mm",
                "lower": 2.95,
                "upper": 3.05,
                "value": 3.01,
                "verdict": "pass",
                "critical": True,
            },
            {
                "name": "tensile strength",
                "method": "ISO 527",
                "unit": "MPa",
                "lower": 40,
                "upper": None,
                "value": 46.2,
                "verdict": "pass",
                "critical": False,
            },
        ],
        "equipment": ["LM-204", "UTM-17"],
        "verdict": "pass",
        "inspected_at": now,
    }
    in_process = {
        "record_id": f"{lot}-IPQC-001",
        "type": "inspection",
        "lot": lot,
        "stage": "in_process",
        "product": {"gtin": GTIN},
        "operation": "tip forming, line 3",
        "sampling_plan": "every 500 units",
        "sample_size": 5,
        "characteristics": [
            {
                "name": "tip length",
                "method": "vision system",
                "unit": "mm",
                "lower": 4.8,
                "upper": 5.2,
                "value": 5.04,
                "verdict": "pass",
                "critical": True,
            },
        ],
        "equipment": ["VIS-3"],
        "verdict": "pass",
        "inspected_at": now,
    }
    final = {
        "record_id": f"{lot}-FQC-001",
        "type": "inspection",
        "lot": lot,
        "stage": "final",
        "product": {"gtin": GTIN},
        "sampling_plan": "ISO 2859-1, level II, AQL 0.4",
        "sample_size": 50,
        "characteristics": [
            {
                "name": "leak test at 300 kPa",
                "method": "pressure decay",
                "unit": "Pa/min",
                "lower": None,
                "upper": 50,
                "value": 12,
                "verdict": "pass",
                "critical": True,
            },
            {
                "name": "label UDI readable",
                "method": "verifier ISO 15415",
                "unit": "grade",
                "lower": None,
                "upper": None,
                "value": "A",
                "verdict": "pass",
                "critical": True,
            },
        ],
        "equipment": ["LT-9", "BCV-2"],
        "verdict": "pass",
        "inspected_at": now,
    }
    inspections = [incoming, in_process, final]
    release = {
        "record_id": f"{lot}-REL",
        "type": "release",
        "lot": lot,
        "product": {"gtin": GTIN},
        "decision": "released",
        "evidence": [
            {"record_id": r["record_id"], "record_hash": record_hash(r).hex()} for r in inspections
        ],
        "statement": "All planned inspections passed; device history record reviewed.",
    }
    return [
        ("inspector", incoming),
        ("inspector", in_process),
        ("inspector", final),
        ("approver", release),
    ]


def run_demo(
    client: Any,
    out: Path,
    admin_key: str,
    sign_and_submit: Callable[[Any, dict[str, Any], str, str], dict[str, Any]],
    wait_receipt: Callable[[Any, str, float], dict[str, Any]],
) -> None:
    out.mkdir(parents=True, exist_ok=True)
    keys = out / "keys"
    tag = secrets.token_hex(3).upper()
    lot = f"L{datetime.now(UTC):%y%m%d}-{tag}"
    people = {
        "inspector": ("Dana Inspector", "qa_inspector"),
        "approver": ("Quinn Approver", "qa_approver"),
    }
    key_paths: dict[str, str] = {}
    for role, (name, grant) in people.items():
        path = keys / f"{lot}-{role}.key"
        account = new_account_key(path)
        key_paths[role] = str(path)
        sign_and_submit(
            client,
            {
                "record_id": f"signer-{lot}-{role}",
                "type": "signer",
                "action": "grant",
                "address": account.address,
                "name": name,
                "roles": [grant],
            },
            admin_key,
            "approved",
        )
        click.echo(f"registered {name} ({grant}) {account.address}")
    records = sample_lot(lot, f"RM-{tag}")
    for role, record in records:
        meaning = "released" if record["type"] == "release" else "authored"
        sign_and_submit(client, record, key_paths[role], meaning)
        (out / f"{record['record_id']}.record.json").write_text(json.dumps(record, indent=2) + "\n")
        click.echo(f"submitted {record['record_id']} ({record['type']}, {meaning})")
    trust_path = out / "trust.json"
    trust_path.write_text(json.dumps(client.json("GET", "/v1/trust"), indent=2) + "\n")
    click.echo("waiting for anchoring ...")
    for _, record in records:
        rid = record["record_id"]
        body = wait_receipt(client, rid, 120.0)
        if body.get("status") != "anchored":
            raise click.ClickException(f"demo: {rid} not anchored after 120 s")
        body.pop("status", None)
        (out / f"{rid}.receipt.json").write_text(json.dumps(body, indent=2) + "\n")
    click.echo(f"\nlot {lot}: {len(records)} records anchored; files in {out}\nverify with:")
    for _, record in records:
        rid = record["record_id"]
        click.echo(
            f"  evledger-verify receipt {out}/{rid}.receipt.json "
            f"--record {out}/{rid}.record.json --trust {trust_path}"
        )
