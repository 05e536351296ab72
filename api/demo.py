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


def sample_lot(lot: str, material_lot: str) -> list[tuple[str, str, dict[str, Any]]]:
    """(signing role, meaning, record) for one lot of catheters, in order: incoming inspection,
    an out-of-spec in-process measurement, NCR, CAPA, rework and re-inspection, a corrected
    transcription error, final inspection, release."""
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    product = {"gtin": GTIN, "name": "Angiographic catheter 5F"}

    def record(rid: str, rtype: str, **fields: Any) -> dict[str, Any]:
        return {
            "record_id": f"{lot}-{rid}",
            "type": rtype,
            "schema": f"{rtype}/1",
            "lot": lot,
            **fields,
        }

    def inspection(
        rid: str, stage: str, chars: list[dict[str, Any]], **extra: Any
    ) -> dict[str, Any]:
        verdict = "fail" if any(c["verdict"] == "fail" for c in chars) else "pass"
        return record(
            rid,
            "inspection",
            stage=stage,
            product=product,
            characteristics=chars,
            verdict=verdict,
            inspected_at=now,
            **extra,
        )

    incoming = inspection(
        "IQC-001",
        "incoming",
        [
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
        material_lot=material_lot,
        supplier="Polymer Supply GmbH",
        sampling_plan="ISO 2859-1, level II, AQL 0.65",
        sample_size=32,
        equipment=["LM-204", "UTM-17"],
    )
    tip = {
        "name": "tip length",
        "method": "vision system",
        "unit": "mm",
        "lower": 4.8,
        "upper": 5.2,
        "critical": True,
    }
    out_of_spec = inspection(
        "IPQC-001",
        "in_process",
        [{**tip, "value": 5.31, "verdict": "fail"}],
        operation="tip forming, line 3",
        sampling_plan="every 500 units",
        sample_size=5,
        equipment=["VIS-3"],
    )
    ncr, capa = f"NCR-{lot}", f"CAPA-{lot}"
    reinspection = inspection(
        "IPQC-002",
        "in_process",
        [{**tip, "value": 5.02, "verdict": "pass"}],
        operation="tip forming, line 3, after rework",
        sampling_plan="100% of reworked units",
        sample_size=480,
        equipment=["VIS-3"],
    )
    final = inspection(
        "FQC-001",
        "final",
        [
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
                "name": "label UDI grade",
                "method": "ISO 15415 verifier",
                "unit": "grade",
                "value": "A",
                "verdict": "pass",
                "critical": True,
            },
        ],
        sampling_plan="ISO 2859-1, level II, AQL 0.4",
        sample_size=50,
        equipment=["LT-9"],
    )
    steps: list[tuple[str, str, dict[str, Any]]] = [
        ("inspector", "authored", incoming),
        ("inspector", "authored", out_of_spec),
        (
            "inspector",
            "authored",
            record(
                "NCR-1",
                "ncr",
                ncr_id=ncr,
                step="open",
                refs=[out_of_spec["record_id"]],
                nature="Tip length 5.31 mm above the 5.2 mm limit on 5 of 5 samples",
            ),
        ),
        (
            "inspector",
            "reviewed",
            record(
                "NCR-2",
                "ncr",
                ncr_id=ncr,
                step="evaluated",
                evaluation="480 units formed since the last passing check are affected",
                investigation="Forming die 3 worn beyond its 20,000-cycle service interval",
            ),
        ),
        (
            "approver",
            "approved",
            record(
                "NCR-3",
                "ncr",
                ncr_id=ncr,
                step="dispositioned",
                disposition="rework",
                rationale="Tips can be re-formed within limits; 100% re-inspection after rework",
                capa_id=capa,
            ),
        ),
        (
            "inspector",
            "authored",
            {
                "record_id": f"{lot}-CAPA-1",
                "type": "capa",
                "schema": "capa/1",
                "capa_id": capa,
                "step": "open",
                "lot": lot,
                "ncr_id": ncr,
                "problem": "Worn forming dies produce long tips",
            },
        ),
        (
            "inspector",
            "authored",
            {
                "record_id": f"{lot}-CAPA-2",
                "type": "capa",
                "schema": "capa/1",
                "capa_id": capa,
                "step": "investigation",
                "lot": lot,
                "root_cause": "Die service interval not tracked per die",
            },
        ),
        (
            "approver",
            "authored",
            {
                "record_id": f"{lot}-CAPA-3",
                "type": "capa",
                "schema": "capa/1",
                "capa_id": capa,
                "step": "action_plan",
                "lot": lot,
                "actions": ["Cycle counter per die in the PLC", "Block the press at 18,000 cycles"],
            },
        ),
        ("inspector", "authored", reinspection),
        (
            "inspector",
            "authored",
            record(
                "CORR-1",
                "correction",
                corrects=incoming["record_id"],
                reason="Transcription error: the test report UTM-17/4411 reads 47.1 MPa",
                changes=[{"path": "/characteristics/1/value", "value": 47.1}],
            ),
        ),
        (
            "approver",
            "approved",
            record(
                "NCR-4",
                "ncr",
                ncr_id=ncr,
                step="closed",
                summary="480 units reworked and re-inspected (IPQC-002); CAPA opened",
            ),
        ),
        ("inspector", "authored", final),
    ]
    evidence = [incoming, out_of_spec, reinspection, final]
    release = record(
        "REL",
        "release",
        product=product,
        decision="released",
        evidence=[
            {"record_id": r["record_id"], "record_hash": record_hash(r).hex()} for r in evidence
        ],
        statement="All planned inspections passed after rework; NCR closed; DHR reviewed.",
    )
    steps.append(("approver", "released", release))
    return steps


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
                "schema": "signer/1",
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
    for role, meaning, record in records:
        sign_and_submit(client, record, key_paths[role], meaning)
        (out / f"{record['record_id']}.record.json").write_text(json.dumps(record, indent=2) + "\n")
        click.echo(f"submitted {record['record_id']} ({record['type']}, {meaning})")
    trust_path = out / "trust.json"
    trust_path.write_text(json.dumps(client.json("GET", "/v1/trust"), indent=2) + "\n")
    click.echo("waiting for anchoring ...")
    for _, _, record in records:
        rid = record["record_id"]
        body = wait_receipt(client, rid, 120.0)
        if body.get("status") != "anchored":
            raise click.ClickException(f"demo: {rid} not anchored after 120 s")
        body.pop("status", None)
        (out / f"{rid}.receipt.json").write_text(json.dumps(body, indent=2) + "\n")
    click.echo(f"\nlot {lot}: {len(records)} records anchored; files in {out}")
    click.echo(f"see the lot as QA does:\n  evledger lot {lot} --key {key_paths['approver']}")
    click.echo("verify with:")
    for _, _, record in records:
        rid = record["record_id"]
        click.echo(
            f"  evledger-verify receipt {out}/{rid}.receipt.json "
            f"--record {out}/{rid}.record.json --trust {trust_path}"
        )
