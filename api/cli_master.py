"""``evledger spec``, ``evledger equipment``, ``evledger supplier``: quality master data as QA
reads it (list and show, ``--json`` for scripts), through the read routes with a read token."""

from __future__ import annotations

import json
from typing import Any

import click

from api.cli import _client, _read_token, _signature, api_option, main, read_key_option
from ingest.client import segment

__all__ = ["equipment", "spec", "supplier"]

_JSON = click.option("--json", "as_json", is_flag=True, help="Print the JSON the API answers.")


def _get(api: str | None, key_path: str, path: str, as_json: bool, listing: bool = False) -> Any:
    """What the read route at ``path`` answers (every page of a ``listing``); printed as JSON
    (and None returned) with ``--json``, for the command to print its own way otherwise."""
    client = _client(api)
    token = _read_token(client, key_path)
    found = client.get_pages(path, token) if listing else client.get_json(path, token)
    if as_json:
        click.echo(json.dumps(found, indent=2))
        return None
    return found


def _limits(c: dict[str, Any]) -> str:
    low, high = c.get("lower"), c.get("upper")
    if low is None and high is None:
        return "(attribute)"
    return f"{'' if low is None else low}..{'' if high is None else high} {c['unit']}"


@main.group()
def spec() -> None:
    """Inspection specifications: versions, approvals, what is in force."""


@spec.command("list")
@read_key_option
@_JSON
@api_option
def spec_list(key_path: str, as_json: bool, api: str | None) -> None:
    """Every specification and the version in force now."""
    specs = _get(api, key_path, "/v1/specifications", as_json, listing=True)
    if specs is None:
        return
    if not specs:
        click.echo("no specifications")
    for s in specs:
        live = f"v{s['in_force']} in force" if s["in_force"] else "none in force"
        click.echo(
            f"{s['spec_id']:24} {live:16} {s['product']['gtin']} {s['stage']:10} {s['title']}"
        )


@spec.command("show")
@click.argument("spec_id")
@read_key_option
@_JSON
@api_option
def spec_show(spec_id: str, key_path: str, as_json: bool, api: str | None) -> None:
    """A specification's versions: content, author, approval, effective dates."""
    s = _get(api, key_path, f"/v1/specifications/{segment(spec_id)}", as_json)
    if s is None:
        return
    click.echo(f"specification {s['spec_id']}: {s['title']}")
    click.echo(f"product {s['product']['gtin']}, stage {s['stage']}")
    for v in s["versions"]:
        click.echo(f"version {v['version']}: {v['state']}  (change {v['change_id']})")
        click.echo(f"  written by {_signature(v['author'])}")
        if v["approval"]:
            click.echo(f"  approved by {_signature(v['approval'])}")
            click.echo(f"  in force from {v['effective_from']}")
        if v["superseded_at"]:
            click.echo(f"  superseded at {v['superseded_at']}")
        click.echo(f"  sampling: {v['sampling_plan']}, at least {v['sample_size']} samples")
        for c in v["characteristics"]:
            crit = " CRITICAL" if c.get("critical") else ""
            tool = f" [{c['equipment_kind']}]" if c.get("equipment_kind") else ""
            click.echo(f"    {c['name']:28} {_limits(c):22} {c['method']}{tool}{crit}")


@main.group()
def equipment() -> None:
    """Monitoring and measuring equipment: calibration status and impact."""


@equipment.command("list")
@read_key_option
@_JSON
@api_option
def equipment_list(key_path: str, as_json: bool, api: str | None) -> None:
    """Every instrument and whether it may be used now."""
    units = _get(api, key_path, "/v1/equipment", as_json, listing=True)
    if units is None:
        return
    if not units:
        click.echo("no equipment")
    for e in units:
        state = (
            f"usable until {e['valid_until']}"
            if e["status"] == "usable"
            else f"NOT USABLE: {e['why']}"
        )
        click.echo(f"{e['equipment_id']:16} {e['kind']:22} {state}")


@equipment.command("show")
@click.argument("equipment_id")
@read_key_option
@_JSON
@api_option
def equipment_show(equipment_id: str, key_path: str, as_json: bool, api: str | None) -> None:
    """An instrument, its calibrations, and the inspections an out-of-tolerance finding made
    suspect (the lots stay blocked until an NCR dispositions them)."""
    e = _get(api, key_path, f"/v1/equipment/{segment(equipment_id)}", as_json)
    if e is None:
        return
    click.echo(f"equipment {e['equipment_id']}: {e['kind']}")
    click.echo(
        f"status: {e['status']}" + (f" ({e['why']})" if e["why"] else f", until {e['valid_until']}")
    )
    click.echo("calibrations:")
    for c in e["calibrations"]:
        until = f", valid until {c['valid_until']}" if c.get("valid_until") else ""
        click.echo(
            f"  {c['calibrated_at']}  {c['result']:4} as found {c['as_found']}{until}  "
            f"{c['record_id']}  {_signature(c['signature'])}"
        )
    if e["impact"]:
        click.echo("suspect inspections (found out of tolerance afterwards):")
        for i in e["impact"]:
            state = "dispositioned by an NCR" if i["dispositioned"] else "BLOCKS RELEASE"
            click.echo(
                f"  {i['inspection']:24} lot {i['lot']:16} {i['inspected_at']}  "
                f"({i['calibration']}) {state}"
            )


@main.group()
def supplier() -> None:
    """Suppliers: approval status (set by a QA approver) and performance from the log."""


@supplier.command("list")
@read_key_option
@_JSON
@api_option
def supplier_list(key_path: str, as_json: bool, api: str | None) -> None:
    """Every supplier with a status decision or a receipt."""
    found = _get(api, key_path, "/v1/suppliers", as_json, listing=True)
    if found is None:
        return
    if not found:
        click.echo("no suppliers")
    for s in found:
        p = s["performance"]
        click.echo(
            f"{s['supplier_id']:24} {s['status']:13} lots {p['lots_received']:4}  "
            f"rejected {p['rejected_at_incoming_inspection']:3}  NCRs {p['ncrs']:3}"
        )


@supplier.command("show")
@click.argument("supplier_id")
@read_key_option
@_JSON
@api_option
def supplier_show(supplier_id: str, key_path: str, as_json: bool, api: str | None) -> None:
    """A supplier's status history (who, when, why) and performance."""
    s = _get(api, key_path, f"/v1/suppliers/{segment(supplier_id)}", as_json)
    if s is None:
        return
    named = s["name"] and s["name"] != s["supplier_id"]
    click.echo(f"supplier {s['supplier_id']}" + (f" ({s['name']})" if named else ""))
    click.echo(f"status: {s['status']}")
    for h in s["history"]:
        click.echo(f"  {h['status']:13} {_signature(h['signature'])}: {h['reason']}")
    p = s["performance"]
    click.echo(
        f"performance: lots received {p['lots_received']} ({p['receipts']} receipts), "
        f"rejected at incoming inspection {p['rejected_at_incoming_inspection']}, "
        f"NCRs {p['ncrs']}"
    )
    for lot in p["lots"]:
        mark = " (rejected at incoming inspection)" if lot in p["rejected_lots"] else ""
        click.echo(f"  lot {lot}{mark}")
