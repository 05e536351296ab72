"""``evledger``: the operator's command line. Exit 0 ok, 1 refused / failed, 2 could not run.

It lives beside the API because ``evledger up`` serves it; every other command talks to a
running service over HTTP (``--api``, ``EVLEDGER_API_URL``, or ``.evledger/runtime.json``)
through the client library :mod:`ingest.client`, which also reads key files and signs.

People's keys are password-protected keystore v3 files; a command that signs or makes a read
token with ``--key`` asks for the password (``--password-file``, ``$EVLEDGER_KEY_PASSWORD_FILE``
or the terminal) and refuses a plain key file unless ``--allow-plain-key`` or
``EVLEDGER_ALLOW_PLAIN_KEYS=1`` allows it (CI, devices). The bootstrap admin key that
``evledger up`` writes (the default when ``--key`` is not given) is the service's own plain key.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import sqlalchemy as sa
from evledger_verify.errors import FormatError
from evledger_verify.records import checksum_address, load_record_file, record_hash
from evledger_verify.records import typed_data as make_typed_data

from ingest.cli import (
    EXIT_CANNOT_RUN,
    EXIT_REFUSED,
    CliError,
    Main,
    Refused,
    ingest,
    keys,
)
from ingest.client import (
    Client,
    Passwords,
    RefusedError,
    SignedSubmission,
    SigningKey,
    load_key,
    plain_keys_allowed_by_env,
    segment,
)
from ledger.config import Settings
from ledger.errors import ChainUnreachable, ConfigError, LedgerError
from ledger.keys import load_account

if TYPE_CHECKING:
    from ledger.chain import Chain
    from ledger.identity import ChainTarget

# -- talking to the service ------------------------------------------------------------------


def _runtime_info() -> dict[str, Any]:
    """What the running `evledger up` wrote about itself (empty when nothing runs)."""
    path = Settings.from_env().home / "runtime.json"
    try:
        info: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    except ValueError:
        info = {}
    return info


def _api_url(explicit: str | None) -> str:
    if explicit:
        return explicit.rstrip("/")
    if os.environ.get("EVLEDGER_API_URL"):
        return os.environ["EVLEDGER_API_URL"].rstrip("/")
    running = _runtime_info().get("api_url")
    if running:
        return str(running).rstrip("/")
    return f"http://127.0.0.1:{os.environ.get('EVLEDGER_PORT', '8000')}"


api_option = click.option(
    "--api",
    "api",
    envvar="EVLEDGER_API_URL",
    default=None,
    help="Service URL (default: the running `evledger up`).",
)


#: Retries of a request the service did not answer (about 1 to 2 s in all): a person waits.
CLI_RETRIES = 3


def _client(api: str | None) -> Client:
    client = Client(_api_url(api), retries=CLI_RETRIES)
    click.get_current_context().call_on_close(client.close)
    return client


def _write_json(path: str | None, value: Any) -> None:
    text = json.dumps(value, indent=2) + "\n"
    if path in (None, "-"):
        click.echo(text, nl=False)
    else:
        Path(str(path)).write_text(text)
        click.echo(f"wrote {path}", err=True)


@click.group(cls=Main, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option("0.1.0", prog_name="evledger")
def main() -> None:
    """evledger: blockchain-anchored evidence ledger for quality records.

    Exit codes: 0 ok, 1 refused or failed, 2 could not run. Commands other than `up` and
    `audit` talk to the service at --api, $EVLEDGER_API_URL, or the one `evledger up` runs
    for this ledger home.

    Ledger home (keys, runtime.json): $EVLEDGER_HOME if set, else .evledger in the nearest
    folder upwards from the current one that has a .evledger folder or is the evledger
    checkout, else ./.evledger.
    """


# -- up -------------------------------------------------------------------------------------


@main.command()
def up() -> None:
    """Start the service: embedded PostgreSQL and Anvil unless DATABASE_URL / ETH_RPC_URL are
    set, migrations, contract deployment (once), sealer, anchorer and the API."""
    from api.serve import serve

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    for noisy in ("pgserver", "alembic", "httpx", "web3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        serve(Settings.from_env())
    except KeyboardInterrupt:  # uvicorn re-raises Ctrl-C after its clean shutdown
        pass
    except LedgerError as exc:
        raise CliError(str(exc)) from exc


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@api_option
def status(as_json: bool, api: str | None) -> None:
    """Show where the service runs and how far sealing and anchoring are."""
    client = _client(api)
    st = client.get_json("/v1/status")
    trust = client.trust()
    runtime = _runtime_info()
    info = {
        "database_url": runtime.get("database_url"),
        "rpc_url": runtime.get("rpc_url"),
        "chain_id": trust["chain_id"],
        "contract": trust["contract"],
        "api_url": client.base_url,
        "log_public_key": trust["log_public_key"],
        "log_origin": trust["log_origin"],
        "latest_checkpoint": st["latest_checkpoint"],
        "latest_anchored_checkpoint": st["latest_anchored_checkpoint"],
        "latest_final_checkpoint": st.get("latest_final_checkpoint"),
        "records": st["records"],
        "pending_seal": st["pending_seal"],
        "anchor_lag_records": st.get("anchor_lag_records"),
        "anchor_lag_seconds": st.get("anchor_lag_seconds"),
        "genealogy_projected": st.get("genealogy_projected"),
        "anchor_round_failures": st.get("anchor_round_failures"),
        "anchor_tx_replacements": st.get("anchor_tx_replacements"),
    }
    chains = st.get("chains") or []
    if as_json:
        click.echo(json.dumps({**info, "chains": chains}, indent=2))
        return
    for k, v in info.items():
        click.echo(f"{k:28} {v}")
    if len(chains) > 1:  # anchored on more than one chain: each at its own pace
        click.echo("chains:")
        for c in chains:
            click.echo(
                f"  {c['chain_id']:<10} anchored {c.get('latest_anchored_checkpoint')}, "
                f"final {c.get('latest_final_checkpoint')}, "
                f"failed rounds {c.get('anchor_round_failures', 0)}, "
                f"replacements {c.get('anchor_tx_replacements', 0)}"
            )


@main.command()
@click.option("-o", "--output", default="-", help="Where to write TRUST.json (default stdout).")
@api_option
def trust(output: str, api: str | None) -> None:
    """Write what an auditor pins: log key and origin, chain id, contract."""
    _write_json(output, _client(api).trust())


# -- keys and signers ----------------------------------------------------------------------


main.add_command(keys)
main.add_command(ingest)


def _default_admin_key() -> str:
    return str(Settings.from_env().keys_dir / "admin.key")


def _remember(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """Keep a key option's value where :func:`_load_key` finds it (the commands' own
    signatures stay as they are)."""
    if value:
        ctx.meta[f"evledger.{param.name}"] = value
    return value


def key_options(command: Any) -> Any:
    """``--password-file`` and ``--allow-plain-key`` for a command that reads ``--key``."""
    allow = click.option(
        "--allow-plain-key",
        is_flag=True,
        expose_value=False,
        callback=_remember,
        help="Accept a plain (unencrypted) key file for --key: for devices and CI only; a "
        "person signs with a password-protected keystore (also EVLEDGER_ALLOW_PLAIN_KEYS=1).",
    )
    password = click.option(
        "--password-file",
        type=click.Path(dir_okay=False),
        default=None,
        expose_value=False,
        callback=_remember,
        help="Read --key's keystore password from the first line of this file (readable only "
        "by you); default $EVLEDGER_KEY_PASSWORD_FILE, else asked on the terminal.",
    )
    return password(allow(command))


def _load_key(path: str | None) -> SigningKey:
    """The key of ``--key`` (once per command run: a keystore's password is asked once). A
    keystore opens with its password; a plain file only where explicitly allowed. No path:
    the bootstrap admin key `evledger up` wrote, the service's own plain key file."""
    meta = click.get_current_context().meta
    loaded: dict[str, SigningKey] = meta.setdefault("evledger.loaded_keys", {})
    where = path if path is not None else _default_admin_key()
    if where not in loaded:
        loaded[where] = load_key(
            Path(where),
            "signing key" if path is not None else "admin key",
            passwords=Passwords(meta.get("evledger.password_file")),
            allow_plain=path is None
            or bool(meta.get("evledger.allow_plain_key"))
            or plain_keys_allowed_by_env(),
        )
    return loaded[where]


def read_key_option(command: Any) -> Any:
    """The key whose read token a reading command sends (record bodies, lot status, master
    data), with its password and plain-file options."""
    option = click.option(
        "--key",
        "key_path",
        required=True,
        type=click.Path(dir_okay=False),
        help="A key allowed to read (its read token is sent): a keystore, asked its password.",
    )
    return option(key_options(command))


def _read_token(client: Client, key_path: str | None) -> str:
    """A read token vouched for by the key in ``key_path``, valid for the command's run."""
    return client.read_token(_load_key(key_path), 600)


def _sign_and_submit(
    client: Client, record: dict[str, Any], key_path: str | None, meaning: str
) -> dict[str, Any]:
    """Sign once, submit (retrying the same signed submission); a record the ledger already
    holds from the same key with the same meaning is answered as a duplicate."""
    signed = _load_key(key_path).sign(record, meaning, client.domain())
    return client.submit(signed, same_record_ok=True)


@main.group()
def signers() -> None:
    """The signer registry (changes are records signed by an admin)."""


@signers.command("add")
@click.option("--address", required=True, help="The signer's address (from `keys new`).")
@click.option("--name", required=True, help="Printed name shown with every signature.")
@click.option(
    "--role",
    "roles",
    multiple=True,
    required=True,
    help="Role to grant (repeatable): admin, qa_inspector, qa_approver, qualified_person, "
    "production, device (scanners, PLCs), auditor, system (an MES or WMS capturing EPCIS "
    "events).",
)
@click.option(
    "--person",
    default=None,
    help="The person who holds the key (an employee id); one person may hold several keys, "
    "and the segregation of duties compares persons. A key keeps its first grant's person.",
)
@click.option(
    "--key", "key_path", default=None, help="Admin key (default .evledger/keys/admin.key)"
)
@key_options
@api_option
def signers_add(
    address: str,
    name: str,
    roles: tuple[str, ...],
    person: str | None,
    key_path: str | None,
    api: str | None,
) -> None:
    """Register a signer, or change its roles."""
    extra = {"person": person} if person is not None else {}
    record_id = _registry_change(
        api, key_path, address, "grant", name=name, roles=list(roles), **extra
    )
    click.echo(f"granted {', '.join(roles)} to {address} ({name}) in record {record_id}")


def _registry_change(
    api: str | None, key_path: str | None, address: str, action: str, **fields: Any
) -> str:
    """Submit a signer record (grant or revoke) signed by the admin key; returns its id."""
    try:
        address = checksum_address(address)
    except FormatError as exc:
        raise Refused(f"--address: {exc}") from exc
    record = {
        "record_id": f"signer-{address.lower()}-{int(time.time() * 1000)}",
        "type": "signer",
        "schema": "signer/1",
        "action": action,
        "address": address,
        **fields,
    }
    result = _sign_and_submit(_client(api), record, key_path, "approved")
    return str(result["record_id"])


@signers.command("revoke")
@click.option("--address", required=True)
@click.option(
    "--compromised",
    is_flag=True,
    help="The key is lost or stolen: refuse every later submission by it, whatever signing "
    "time it claims (no backdating), and let `evledger audit` flag records stored after this.",
)
@click.option(
    "--key", "key_path", default=None, help="Admin key (default .evledger/keys/admin.key)"
)
@key_options
@api_option
def signers_revoke(address: str, compromised: bool, key_path: str | None, api: str | None) -> None:
    """Revoke a signer: its later signatures are refused."""
    fields = {"compromised": True} if compromised else {}
    record_id = _registry_change(api, key_path, address, "revoke", **fields)
    click.echo(f"revoked {address}{' as compromised' if compromised else ''} in record {record_id}")


@signers.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.option(
    "--key",
    "key_path",
    default=None,
    help="A key allowed to read, whose read token is sent (the registry names people); "
    "default .evledger/keys/admin.key",
)
@key_options
@api_option
def signers_list(as_json: bool, key_path: str | None, api: str | None) -> None:
    """List registered signers with their roles and state (every page)."""
    client = _client(api)
    rows = client.get_pages("/v1/signers", _read_token(client, key_path))
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for s in rows:
        state = "compromised" if s.get("compromised") else "active" if s["active"] else "revoked"
        click.echo(f"{s['address']}  {state:11} {','.join(s['roles']):24} {s['name']}")


# -- records -------------------------------------------------------------------------------


def _read_record(path: str) -> dict[str, Any]:
    try:
        return load_record_file(Path(path).read_bytes())
    except OSError as exc:
        raise CliError(f"{path}: cannot read: {exc.strerror}") from exc
    except FormatError as exc:
        raise Refused(f"{path}: {exc}") from exc


def _pending_path(record: dict[str, Any]) -> Path:
    """Where `typed-data` keeps what it printed, so `submit --signature` knows the signing time
    and meaning that were signed."""
    return Settings.from_env().home / "pending" / f"{record_hash(record).hex()}.json"


@main.command("typed-data")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--meaning", default="authored", show_default=True)
@click.option("--signed-at", type=int, default=None, help="Unix time (default now).")
@api_option
def typed_data_cmd(file: str, meaning: str, signed_at: int | None, api: str | None) -> None:
    """Print the EIP-712 JSON a wallet signs for FILE (e.g. `cast wallet sign --data
    --from-file typed.json`); then `evledger submit FILE --signature SIG`."""
    record = _read_record(file)
    signed_at = signed_at if signed_at is not None else int(time.time())
    try:
        td = make_typed_data(
            _client(api).domain(),
            str(record.get("record_id")),
            str(record.get("type")),
            record_hash(record),
            meaning,
            signed_at,
        )
    except FormatError as exc:
        raise Refused(f"{file}: {exc}") from exc
    pending = _pending_path(record)
    pending.parent.mkdir(parents=True, exist_ok=True)
    pending.write_text(json.dumps(td))
    click.echo(json.dumps(td, indent=2))


def _signed_elsewhere(
    client: Client, file: str, record: dict[str, Any], signature: str, typed_path: str | None
) -> SignedSubmission:
    """The submission for a --signature made over the typed data `typed-data` printed."""
    path = Path(typed_path) if typed_path else _pending_path(record)
    try:
        td = json.loads(path.read_text())
        msg, domain = td["message"], td["domain"]
        meaning, signed_at, rhash = str(msg["meaning"]), int(msg["signedAt"]), msg["recordHash"]
        chain_id, contract = int(domain["chainId"]), str(domain["verifyingContract"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CliError(
            f"submit: the signing time is in the typed data; run `evledger typed-data "
            f"{file}` first or pass --typed-data (could not read {path})"
        ) from exc
    if rhash != "0x" + record_hash(record).hex():
        raise Refused("submit: the typed data is for another record (recordHash differs)")
    ledger = client.domain()
    if (chain_id, contract.lower()) != (ledger.chain_id, ledger.contract.lower()):
        raise Refused(
            f"submit: the typed data is for another ledger (chain {chain_id}, contract "
            f"{contract}); this one is chain {ledger.chain_id}, contract {ledger.contract}"
        )
    return SignedSubmission.from_signature(record, signature, meaning, signed_at, ledger)


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--key", "key_path", type=click.Path(dir_okay=False), help="Sign with this key file.")
@key_options
@click.option("--signature", help="A signature made elsewhere over `evledger typed-data FILE`.")
@click.option(
    "--typed-data",
    "typed_path",
    type=click.Path(exists=True, dir_okay=False),
    help="The typed data that was signed (default: the one `typed-data` printed).",
)
@click.option("--meaning", default="authored", show_default=True)
@click.option(
    "--stamp",
    "stamps",
    multiple=True,
    metavar="FIELD",
    help="Set this top-level time field (e.g. inspected_at) to the current UTC time before "
    "signing (repeatable).",
)
@api_option
def submit(
    files: tuple[str, ...],
    key_path: str | None,
    signature: str | None,
    typed_path: str | None,
    meaning: str,
    stamps: tuple[str, ...],
    api: str | None,
) -> None:
    """Submit the record in each FILE, in order, signed with --key (or one FILE with a
    --signature made elsewhere).

    A record is signed once; if the answer is lost, the same signed submission is sent
    again. When the ledger already holds a FILE's record from the same signer with the same
    meaning (a script run twice), the stored entry is printed with status duplicate. A
    release's evidence entries that give no record_hash, and a review's, are completed with
    the hash the ledger holds for each record (read with --key's read token), and printed."""
    client = _client(api)
    if (key_path is None) == (signature is None):
        raise CliError("submit: give exactly one of --key KEYFILE or --signature SIG")
    if signature is not None and (len(files) != 1 or stamps):
        raise CliError("submit: a --signature made elsewhere signs one FILE as it is (no --stamp)")
    bad = [name for name in stamps if not _FIELD.fullmatch(name)]
    if bad:
        raise CliError(f"submit --stamp {bad[0]!r}: expected a top-level field name")
    if key_path:
        _load_key(key_path)  # its password first: nothing is sent until the key opens
    for file in files:
        record = _read_record(file)
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        record.update(dict.fromkeys(stamps, now))
        if key_path:
            _complete_evidence(client, record, key_path, file)
            result = _sign_and_submit(client, record, key_path, meaning)
        else:
            signed = _signed_elsewhere(client, file, record, str(signature), typed_path)
            result = client.submit(signed, same_record_ok=True)
        click.echo(json.dumps(result, indent=2))


_FIELD = re.compile(r"[a-z][a-z0-9_]{0,63}")


def _complete_evidence(client: Client, record: dict[str, Any], key_path: str, file: str) -> None:
    """Fill in the record hash of each evidence entry that has none, and of the record a
    review co-signs, from the ledger."""
    if record.get("type") == "review" and "record_hash" not in record:
        rid = record.get("reviews")
        if not isinstance(rid, str):
            raise Refused(f"{file}: a review names the record it co-signs (reviews)")
        try:
            logged = client.get_json(f"/v1/records/{segment(rid)}", _read_token(client, key_path))
        except RefusedError as exc:
            if exc.status != 404:
                raise
            raise Refused(f"{file}: review of {rid}: not in the ledger") from None
        record["record_hash"] = logged["record_hash"]
        click.echo(f"reviews {rid}: record hash {record['record_hash']} (as logged)", err=True)
        return
    evidence = record.get("evidence")
    if record.get("type") != "release" or not isinstance(evidence, list):
        return
    missing = [e for e in evidence if isinstance(e, dict) and "record_hash" not in e]
    if not missing:
        return
    token = _read_token(client, key_path)
    absent = []
    for e in missing:
        rid = e.get("record_id")
        if not isinstance(rid, str):
            raise Refused(f"{file}: evidence entry {e!r}: expected a record_id")
        try:
            logged = client.get_json(f"/v1/records/{segment(rid)}", token)
        except RefusedError as exc:
            if exc.status != 404:
                raise
            absent.append(rid)
            continue
        e["record_hash"] = logged["record_hash"]
        click.echo(f"evidence {rid}: record hash {e['record_hash']} (as logged)", err=True)
    if absent:
        raise Refused(
            f"{file}: release evidence {', '.join(absent)}: not in the ledger; a release cites "
            f"logged records (`evledger lot {record.get('lot')}` shows what blocks it)"
        )


@main.command()
@click.argument("record_id")
@click.option("-o", "--output", default="-", help="Write the receipt here (default stdout).")
@click.option(
    "--wait", default=60.0, show_default=True, help="Seconds to wait for the record to be anchored."
)
@api_option
def receipt(record_id: str, output: str, wait: float, api: str | None) -> None:
    """Fetch the proof-of-integrity receipt of a record."""
    body = _client(api).receipt(record_id, wait=wait)
    if body.get("status") != "anchored":
        raise Refused(
            f"receipt {record_id}: not anchored yet (status {body.get('status')}); "
            "try again or raise --wait"
        )
    body.pop("status", None)
    _write_json(output, body)


@main.command()
@click.option(
    "--key",
    "key_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="The signer key that vouches for the reader.",
)
@key_options
@click.option(
    "--ttl", default=3600, show_default=True, help="Seconds the token is valid (max 86400)."
)
@api_option
def token(key_path: str, ttl: int, api: str | None) -> None:
    """Print a read token (Authorization: Bearer ...) for record bodies and lot status."""
    click.echo(_client(api).read_token(_load_key(key_path), ttl))


@main.command()
@click.argument("record_id")
@read_key_option
@api_option
def record(record_id: str, key_path: str, api: str | None) -> None:
    """Show a record now, as first entered, its history and who signed it, when, meaning."""
    client = _client(api)
    token = _read_token(client, key_path)
    click.echo(json.dumps(client.get_json(f"/v1/records/{segment(record_id)}", token), indent=2))


def _signature(sig: dict[str, Any]) -> str:
    return f"{sig['printed_name'] or sig['signer']}, {sig['meaning']}, {sig['signed_at']}"


@main.command()
@click.argument("lot")
@read_key_option
@click.option("--json", "as_json", is_flag=True)
@api_option
def lot(lot: str, key_path: str, as_json: bool, api: str | None) -> None:
    """Lot status: state, inspections, open NCR / CAPA / alerts, release, timeline."""
    client = _client(api)
    st = client.get_json(f"/v1/lots/{segment(lot)}", _read_token(client, key_path))
    if as_json:
        click.echo(json.dumps(st, indent=2))
        return
    product = st.get("product") or {}
    click.echo(f"lot {st['lot']}  product {product.get('gtin', '?')} {product.get('name', '')}")
    click.echo(f"state: {st['state']}")
    if st["release"]:
        rel = st["release"]
        click.echo(f"release: {rel['decision']} by {_signature(rel['signature'])}")
        if rel.get("concession"):
            click.echo(f"  CONCESSION: {rel['concession']['rationale']}")
    for h in st.get("holds", ()):
        click.echo(f"on hold: {h['why']} ({h['record_id']})")
    for f in st.get("field_actions", ()):
        click.echo(f"field action: {f['kind']} by {_signature(f['signature'])} ({f['record_id']})")
    for b in st["release_blockers"]:
        click.echo(f"blocks release: {b}")
    for c in st.get("open_capas", ()):
        due = ""
        if c.get("due_by"):
            due = f", due {c['due_by']}" + (" OVERDUE" if c.get("overdue") else "")
        click.echo(f"open CAPA: {c['capa_id']} ({c['step']}{due})")
    click.echo("inspections:")
    for i in st["inspections"]:
        flag = " (changed since first entry)" if i["changed_since_first_entry"] else ""
        click.echo(
            f"  {i['record_id']:28} {i['stage']:10} {i['verdict']:4} "
            f"{_signature(i['signature'])}{flag}"
        )
    click.echo("timeline:")
    for t in st["timeline"]:
        step = f" {t['step']}" if t.get("step") else ""
        click.echo(
            f"  {t['accepted_at']}  {t['type']}{step:14} {t['record_id']:28} "
            f"{_signature(t['signature'])}"
        )


@main.command()
@click.option("--lot", default=None, help="The lot whose evidence to export.")
@click.option("--from", "start", default=None, help="Or a period: from this ISO 8601 time...")
@click.option("--to", "end", default=None, help="...to this one (exclusive).")
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False),
    help="Where to write the bundle (a zip).",
)
@read_key_option
@api_option
def export(
    lot: str | None,
    start: str | None,
    end: str | None,
    output: str,
    key_path: str,
    api: str | None,
) -> None:
    """Export an evidence bundle (evledger-bundle/1) of --lot, or of the records accepted
    --from --to, for `evledger-verify bundle` (fully offline)."""
    import zipfile
    from datetime import datetime

    if (lot is None) == (start is None and end is None) or (start is None) != (end is None):
        raise CliError("export: give --lot LOT, or --from T1 --to T2")
    params: dict[str, str | int] = {}
    if lot is not None:
        path = f"/v1/lots/{segment(lot)}/evidence"
    else:
        for name, value in (("from", start), ("to", end)):
            try:
                parsed = datetime.fromisoformat(str(value))
            except ValueError:
                raise CliError(
                    f"export --{name}: expected an ISO 8601 time, got {value!r}"
                ) from None
            if parsed.tzinfo is None:
                raise CliError(f"export --{name}: give the time zone (e.g. 2026-11-30T00:00Z)")
            params[name] = parsed.isoformat()
        path = "/v1/evidence"
    client = _client(api)
    key = _load_key(key_path)
    data = client.request("GET", path, token=client.read_token(key, 600), params=params).content
    Path(output).write_bytes(data)
    with zipfile.ZipFile(output) as zf:
        manifest = json.loads(zf.read("manifest.json"))
    click.echo(
        f"wrote {output}: {manifest['in_scope']} record(s) in scope, {manifest['records']} with "
        f"their context, checkpoint at tree size {manifest['tree_size']}"
        + (
            f"; {manifest['not_yet_anchored']} not anchored yet, left out"
            if manifest["not_yet_anchored"]
            else ""
        )
    )
    click.echo(f"verify it with: evledger-verify bundle {output} --trust TRUST.json")


@main.command()
@click.option("--lot", required=True, help="The released lot.")
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False),
    help="Where to write the certificate (a PDF).",
)
@click.option(
    "--wait",
    type=click.FloatRange(0, 600),
    default=30.0,
    show_default=True,
    help="Seconds to wait for a release just made to reach the log.",
)
@read_key_option
@api_option
def certificate(lot: str, output: str, wait: float, key_path: str, api: str | None) -> None:
    """Write the certificate of conformance of a released --lot (PDF): lot, product, the
    release and who made it, inspections and concessions, and a QR code that opens the
    ledger's verification page with the release receipt, verified in the customer's browser.
    A lot that is not released gets none (exit 1, with the reasons)."""
    client = _client(api)
    key = _load_key(key_path)
    deadline = time.monotonic() + wait
    while True:
        try:
            resp = client.request(
                "GET", f"/v1/lots/{segment(lot)}/certificate", token=client.read_token(key, 600)
            )
            break
        except RefusedError as exc:
            if "not in the log yet" not in exc.detail or time.monotonic() >= deadline:
                raise
            time.sleep(0.5)
    Path(output).write_bytes(resp.content)
    click.echo(f"wrote {output}: the certificate of conformance of lot {lot}")


@main.command()
@click.argument("lot", required=False)
@click.option("--backward", "direction", flag_value="backward", help="What the lot was made from.")
@click.option("--forward", "direction", flag_value="forward", help="What was made from it.")
@click.option("--supplier", default=None, help="Start from every lot received from a supplier.")
@click.option("--depth", type=click.IntRange(1, 1000), default=None, help="Levels to follow.")
@click.option("--as-of", "as_of", default=None, help="ISO 8601 time: the graph as known then.")
@read_key_option
@click.option("--json", "as_json", is_flag=True)
@api_option
def trace(
    lot: str | None,
    direction: str | None,
    supplier: str | None,
    depth: int | None,
    as_of: str | None,
    key_path: str,
    as_json: bool,
    api: str | None,
) -> None:
    """Trace LOT backward (to its materials and suppliers) or forward (to the lots made from it
    and their consignees), or every lot received from --supplier forward; each link with the
    records that prove it and each lot with its status."""
    if (lot is None) == (supplier is None):
        raise CliError("trace: give a LOT or --supplier NAME")
    if lot is not None and direction is None:
        raise CliError("trace: give --backward or --forward")
    if supplier is not None and direction == "backward":
        raise CliError("trace: --supplier traces forward (every lot received from it)")
    client = _client(api)
    token = _read_token(client, key_path)
    params: dict[str, str | int] = {}
    if as_of is not None:
        params["as_of"] = as_of
    if lot is not None:
        params["direction"] = str(direction)
        if depth is not None:
            params["depth"] = depth
        view = client.get_json(f"/v1/lots/{segment(lot)}/trace", token, params)
    else:
        view = client.get_json(f"/v1/suppliers/{segment(str(supplier))}/trace", token, params)
    if as_json:
        click.echo(json.dumps(view, indent=2))
        return
    for line in trace_lines(view):
        click.echo(line)


def trace_lines(view: dict[str, Any]) -> list[str]:
    """A trace as text: each lot indented by its depth, with how it is linked and why."""
    direction = view["direction"]
    start = view.get("supplier") or ", ".join(view["start"])
    out = [f"{direction} trace of {start} (log size {view['tree_size']})"]
    links: dict[str, list[str]] = {}
    for e in view["edges"]:
        near, far = (e["to"], e["from"]) if direction == "backward" else (e["from"], e["to"])
        links.setdefault(far, []).append(f"{near} via {' '.join(e['record_ids'])}")
    for node in view["nodes"]:
        pad = "  " * node["depth"]
        ncrs = f", open NCR {' '.join(node['open_ncrs'])}" if node["open_ncrs"] else ""
        product = f" {node['gtin']}" if node.get("gtin") else ""
        out.append(f"{pad}{node['lot']}{product} [{node['state']}{ncrs}]")
        for how in links.get(node["lot"], []):
            arrow = "made into" if direction == "backward" else "made from"
            out.append(f"{pad}  {arrow} {how}")
        for s in node["suppliers"] if direction == "backward" else []:
            out.append(f"{pad}  received from {s['supplier'] or '?'} ({s['record_id']})")
        for s in node["shipments"] if direction == "forward" else []:
            qty = f"{s['quantity']:g} {s['unit'] or ''}".strip() if s["quantity"] else "?"
            pallet = f" on pallet {s['pallet']}" if s["pallet"] else ""
            out.append(f"{pad}  shipped {qty} to {s['consignee']}{pallet} ({s['record_id']})")
    if view["cycles"]:
        for c in view["cycles"]:
            out.append(f"CYCLE: {' -> '.join(c)} (a lot made from itself: check these scans)")
    if view["truncated"]:
        out.append(f"TRUNCATED: {view['truncated']}")
    return out


#: FSMA 204 style sortable spreadsheet: one row per critical tracking event of the scope.
RECALL_CSV_COLUMNS = (
    "traceability_lot_code",
    "product_gtin",
    "product_description",
    "quantity",
    "unit_of_measure",
    "location",
    "event",
    "event_date",
    "reference_records",
    "reached_from",
)


def recall_rows(
    scope: dict[str, Any], receipts: dict[str, list[dict[str, Any]]] | None = None
) -> list[dict[str, str]]:
    """The scope as spreadsheet rows, sorted by lot, event and date: the origin lots (each
    receipt of one, from ``receipts``: lot -> its trace node's ``suppliers``, as a
    ``receiving`` row: supplier, date, quantity and the receive record), each lot reached (a
    transformation from the lots it was made from) and each shipment."""
    rows: list[dict[str, str]] = []
    for lot in scope["lots"]:
        base = {
            "traceability_lot_code": lot["lot"],
            "product_gtin": lot["gtin"] or "",
            "product_description": lot["product"] or "",
        }
        received = (receipts or {}).get(lot["lot"], [])
        for r in received:
            rows.append(
                {
                    **base,
                    "event": "receiving",
                    "quantity": "" if r.get("quantity") is None else f"{r['quantity']:g}",
                    "unit_of_measure": r.get("unit") or "",
                    "location": r.get("supplier") or "",
                    "event_date": r.get("date") or "",
                    "reference_records": r.get("record_id") or "",
                    "reached_from": f"supplier {r.get('supplier')}" if r.get("supplier") else "",
                }
            )
        if not lot["made_from"] and not received:
            rows.append({**base, "event": "origin", "reached_from": ""})
        for parent in lot["made_from"]:
            rows.append(
                {
                    **base,
                    "event": "transformation",
                    "reference_records": " ".join(parent["record_ids"]),
                    "reached_from": parent["lot"],
                }
            )
    for s in scope["shipments"]:
        rows.append(
            {
                "traceability_lot_code": s["lot"],
                "product_gtin": s["gtin"] or "",
                "product_description": s["product"] or "",
                "quantity": "" if s["quantity"] is None else f"{s['quantity']:g}",
                "unit_of_measure": s["unit"] or "",
                "location": s["consignee"] or "",
                "event": "shipping",
                "event_date": s["date"] or "",
                "reference_records": s["record_id"],
                "reached_from": f"pallet {s['pallet']}" if s["pallet"] else "",
            }
        )
    full = [{c: row.get(c, "") for c in RECALL_CSV_COLUMNS} for row in rows]
    return sorted(full, key=lambda r: (r["traceability_lot_code"], r["event"], r["event_date"]))


def _scope_path(lot: str | None, supplier: str | None) -> str:
    if lot is not None:
        return f"/v1/lots/{segment(lot)}/recall"
    return f"/v1/suppliers/{segment(str(supplier))}/recall"


@main.command()
@click.option("--lot", default=None, help="The lot to recall (and everything made from it).")
@click.option("--supplier", default=None, help="Recall every lot received from a supplier.")
@click.option("--key", "key_path", required=True, type=click.Path(dir_okay=False))
@key_options
@click.option("--reason", default=None, help="Why (required for a real recall).")
@click.option("--drill", is_flag=True, help="A mock recall: timed, and logged as a drill.")
@click.option("--recall-id", default=None, help="Default: RC-<UTC time>.")
@click.option("--csv", "csv_path", default=None, help="Write the FSMA 204 spreadsheet here.")
@click.option("--json", "json_path", default=None, help="Write the scope and record ('-': stdout).")
@api_option
def recall(
    lot: str | None,
    supplier: str | None,
    key_path: str,
    reason: str | None,
    drill: bool,
    recall_id: str | None,
    csv_path: str | None,
    json_path: str | None,
    api: str | None,
) -> None:
    """Compute the recall scope of --lot (or --supplier): every lot, consignee, quantity and
    unit reached forward, with the proving records; log it as a signed `recall` record whose
    scope hash the ledger checks against its own computation; write the spreadsheet."""
    import csv
    from datetime import UTC, datetime

    from ledger.genealogy import scope_sha256

    if (lot is None) == (supplier is None):
        raise CliError("recall: give --lot LOT or --supplier NAME")
    if not drill and not reason:
        raise CliError("recall: give --reason (why the lot is recalled); or --drill")
    started = time.monotonic()
    client = _client(api)
    key = _load_key(key_path)
    served = client.get_json(_scope_path(lot, supplier), client.read_token(key, 600))
    scope = served["scope"]
    digest = scope_sha256(scope)
    if digest != served["scope_sha256"]:
        raise CliError(
            f"recall: the service's scope hash {served['scope_sha256']} is not the hash of the "
            f"scope it sent ({digest})"
        )
    elapsed_ms = (time.monotonic() - started) * 1000
    now = datetime.now(UTC)
    rid = recall_id or f"RC-{now.strftime('%Y%m%dT%H%M%S%fZ')}"
    record: dict[str, Any] = {
        "record_id": f"recall-{rid}",
        "type": "recall",
        "schema": "recall/1",
        "recall_id": rid,
        "drill": drill,
        "reason": reason or "Mock recall (drill)",
        "tree_size": scope["tree_size"],
        "scope_sha256": digest,
        "lots": len(scope["lots"]),
        "shipments": len(scope["shipments"]),
        "consignees": len(scope["consignees"]),
        "computed_at": now.isoformat().replace("+00:00", "Z"),
        **({"lot": lot} if lot is not None else {"supplier": supplier}),
        **({"elapsed_ms": round(elapsed_ms, 1)} if drill else {}),
    }
    signed = key.sign(record, "authored" if drill else "approved", client.domain())
    result = client.submit(signed)
    if csv_path is not None:
        # The origin lots' receipts (supplier, date, quantity, record) for their rows; they
        # are not part of the signed scope, so they are read from each origin lot's trace.
        token = client.read_token(key, 600)
        receipts: dict[str, list[dict[str, Any]]] = {}
        for origin in scope["origin_lots"][:1000]:
            node = client.get_json(
                f"/v1/lots/{segment(origin)}/trace",
                token,
                {"direction": "backward", "depth": 1},
            )["nodes"]
            receipts[origin] = next(
                (n.get("suppliers", []) for n in node if n["lot"] == origin), []
            )
        with open(csv_path, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=RECALL_CSV_COLUMNS)
            writer.writeheader()
            writer.writerows(recall_rows(scope, receipts))
        click.echo(f"wrote {csv_path}", err=True)
    if json_path is not None:
        _write_json(json_path, {"scope": scope, "scope_sha256": digest, "record": record})
    what = "drill" if drill else "recall"
    click.echo(
        f"{what} {rid}: {record['lots']} lots, {record['shipments']} shipments to "
        f"{record['consignees']} consignees at log size {scope['tree_size']}; scope SHA-256 "
        f"{digest}; logged as {result.get('record_id', record['record_id'])}"
        + (f"; scope computed in {elapsed_ms:.0f} ms" if drill else "")
    )
    for name in scope["consignees"]:
        click.echo(f"  consignee: {name}")
    if scope["truncated"]:
        click.echo(f"TRUNCATED: {scope['truncated']}", err=True)


@main.command("recall-check")
@click.argument("scope_file", type=click.Path(exists=True, dir_okay=False))
@read_key_option
@api_option
def recall_check(scope_file: str, key_path: str, api: str | None) -> None:
    """Check a recall scope file (from `recall --json`): its hash, the signed recall record the
    ledger logged for it, and the scope the ledger computes again from the same log at the
    same tree size. Exit 0 when all three agree, 1 otherwise."""
    from ledger.genealogy import scope_sha256

    try:
        saved = json.loads(Path(scope_file).read_text())
        scope, record = saved["scope"], saved["record"]
        origin = scope["origin"]
        size = int(scope["tree_size"])
    except (ValueError, KeyError, TypeError) as exc:
        raise CliError(
            f"recall-check: {scope_file}: expected `recall --json` output ({exc})"
        ) from None
    client = _client(api)
    token = _read_token(client, key_path)
    digest = scope_sha256(scope)
    logged = client.get_json(f"/v1/records/{segment(str(record['record_id']))}", token)
    again = client.get_json(
        _scope_path(origin.get("lot"), origin.get("supplier")), token, {"tree_size": size}
    )
    checks = [
        ("the file's scope hashes to its scope_sha256", digest == saved.get("scope_sha256")),
        (
            f"the logged record {record['record_id']} signs that hash",
            logged["current"].get("scope_sha256") == digest and logged["current"] == record,
        ),
        (
            f"the ledger computes the same scope at tree size {size}",
            again["scope_sha256"] == digest,
        ),
    ]
    for what, ok in checks:
        click.echo(f"{'ok  ' if ok else 'FAIL'} {what}")
    sig = logged["signature"]
    click.echo(
        f"signed by {_signature(sig)}; prove it is anchored: evledger receipt "
        f"{record['record_id']} -o r.json && evledger-verify receipt r.json --trust T"
    )
    if not all(ok for _, ok in checks):
        raise Refused("recall-check: the scope does not match")


@main.command()
@click.option(
    "--every",
    type=float,
    default=None,
    metavar="SECONDS",
    help="Run again every SECONDS; new findings are logged as signed alert records, one on each "
    "lot they touch (it blocks the lot until an NCR dispositions it) and one naming them all.",
)
@click.option(
    "--trust",
    "trust_path",
    type=click.Path(exists=True, dir_okay=False),
    help="Pin log key, origin, chain and contract from TRUST.json instead of the "
    "local log key file.",
)
@click.option("--json", "as_json", is_flag=True, help="Findings as JSON.")
def audit(every: float | None, trust_path: str | None, as_json: bool) -> None:
    """Recompute every leaf, the tree, checkpoints, anchors on chain, lot chains and the signer
    registry from the stored rows; name each finding. Exit 0 clean, 1 findings, 2 could not
    run."""
    from evledger_verify.checkpoint import verifier_key_string
    from evledger_verify.receipt import Trust

    from ledger.audit import Auditor, raise_alert
    from ledger.db import app_url, make_engine
    from ledger.identity import Identity
    from ledger.keys import ensure_app_db_password, ensure_log_key, log_public_key
    from ledger.submission import Submitter

    settings = Settings.from_env()
    info = _runtime_info()
    owner_url = settings.database_url or info.get("database_url")
    db = settings.app_database_url
    if db is None and owner_url:
        try:  # runtime.json hides the password: it is in the keys folder
            password = ensure_app_db_password(
                settings.keys_dir, settings.app_db_password, create=False
            )
        except LedgerError as exc:
            raise CliError(f"audit: {exc}") from exc
        db = app_url(str(owner_url), password)
    rpc = settings.rpc_url or info.get("rpc_url")
    if not db or not rpc:
        raise CliError(
            "audit: no database or chain: start the service (make run) or set "
            "DATABASE_URL and ETH_RPC_URL"
        )
    try:
        engine = make_engine(str(db))
        with engine.connect() as conn:
            stored = Identity.load(conn)
        if stored is None:
            raise CliError("audit: this database holds no ledger")
        identity = stored
        if trust_path:
            trust = Trust.from_json(json.loads(Path(trust_path).read_text()))
            log_key = trust.log_key
            vkey = verifier_key_string(log_key.name, log_key.public_key)
            identity = Identity(trust.chain_id, trust.contract, trust.log_origin, vkey)
        else:
            private = ensure_log_key(settings.keys_dir / "log.key")
            vkey = verifier_key_string(identity.log_origin, log_public_key(private))
        # The primary chain as the auditor pins it (a trust file's chain id and contract),
        # with the code the ledger deployed; the other chains as the ledger recorded them.
        primary = dataclasses.replace(
            stored.chains[0], chain_id=identity.chain_id, contract=identity.contract
        )
        chain = _audit_node(primary, str(rpc))
        extra_chains = {
            chain_id: _audit_node(target, url)
            for chain_id, url in settings.extra_chains
            if (target := stored.extra_chain(chain_id)) is not None  # deployed there
        }
    except LedgerError as exc:
        raise CliError(f"audit: {exc}") from exc
    except Exception as exc:  # a trust file that does not parse, an unreadable key
        raise CliError(f"audit: {exc.__class__.__name__}: {exc}") from exc

    def progress(stage: str, done: int, total: int) -> None:
        click.echo(f"  {stage}: {done}/{total}", err=True)

    try:
        policy = settings.policy()
    except ConfigError as exc:
        raise CliError(f"audit: {exc}") from exc
    auditor = Auditor(
        engine,
        identity,
        vkey,
        chain,
        progress=progress,
        extra_chains=extra_chains,
        policy=policy,
    )
    alerted: set[str] = set()
    while True:
        started = time.monotonic()
        try:
            findings = auditor.run()
        except sa.exc.SQLAlchemyError as exc:
            # The database went away or refused us: nothing was checked, nothing is damaged.
            message = f"audit: could not check: database: {str(exc).splitlines()[0]}"
            if every is None:
                raise CliError(message) from None
            click.echo(message, err=True)
            time.sleep(every)
            continue
        unchecked = auditor.unchecked
        if as_json:
            click.echo(
                json.dumps(
                    {"findings": [f.to_json() for f in findings], "unchecked": unchecked},
                    indent=2,
                )
            )
        else:
            for f in findings:
                click.echo(f"FINDING {f}")
            for u in unchecked:
                click.echo(f"COULD NOT CHECK {u}")
            click.echo(
                f"audit: {len(findings)} finding(s)"
                + (f", {len(unchecked)} part(s) not checked" if unchecked else "")
                + f" in {time.monotonic() - started:.1f} s"
            )
        if every is None:
            if findings:
                sys.exit(EXIT_REFUSED)
            if unchecked:
                sys.exit(EXIT_CANNOT_RUN)
            return
        # What could not be checked is never an alert of damage; a finding already alerted
        # by an earlier round is not alerted again (its alert stays open until an NCR).
        fresh = [f for f in findings if str(f) not in alerted]
        if fresh:
            try:
                account = load_account(settings.keys_dir / "audit.key", "audit key")
                ids = raise_alert(Submitter(engine, identity), account, fresh)
                alerted.update(str(f) for f in fresh)
                click.echo(f"audit: raised alert record(s) {', '.join(ids)}", err=True)
            except LedgerError as exc:
                click.echo(f"audit: could not raise the alert record: {exc}", err=True)
        time.sleep(every)


def _audit_node(target: ChainTarget, url: str) -> Chain:
    """A node for one chain the log is anchored on, checked to be that chain and to hold the
    ledger's contract there. One that does not answer is still handed over: the database is
    audited anyway and its anchors are reported as not checked (exit 2)."""
    from eth_account import Account

    from ledger.chain import Chain

    node = Chain(url, Account.create())
    try:
        node.check_identity(target.chain_id, target.contract, target.code_keccak)
    except ChainUnreachable as exc:
        click.echo(
            f"audit: chain {target.chain_id} does not answer ({exc}); its anchors are not checked",
            err=True,
        )
        node.attach(target.contract)
    return node


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable results.")
@click.option(
    "--trust",
    "trust_path",
    type=click.Path(exists=True, dir_okay=False),
    help="Check the log key against this TRUST.json (default: the service's /v1/trust).",
)
@click.option(
    "--lockfile",
    type=click.Path(exists=True, dir_okay=False),
    help="The Python lockfile to check versions against (default: the checkout's).",
)
@click.option(
    "--wait",
    type=click.FloatRange(1, 3600),
    default=60.0,
    show_default=True,
    help="Seconds to wait for the report record to be anchored.",
)
@api_option
def selftest(
    as_json: bool, trust_path: str | None, lockfile: str | None, wait: float, api: str | None
) -> None:
    """Installation qualification: check this installation (versions, key files, database
    role, triggers, chain and log identity, clocks, a round trip), print one line per check,
    and log the report as a signed record. Exit 0 all pass, 1 a check failed, 2 could not
    run."""
    from ledger.keys import ensure_app_db_password
    from ledger.selftest import Installation, SelfTest, locate

    try:
        settings = Settings.from_env()
        api_url, rpc, db = locate(
            settings,
            _runtime_info(),
            api,
            lambda: ensure_app_db_password(
                settings.keys_dir, settings.app_db_password, create=False
            ),
        )
    except LedgerError as exc:
        raise CliError(f"selftest: {exc}") from exc
    try:  # nothing is checked against a ledger that does not answer
        import httpx

        httpx.get(f"{api_url}/v1/trust", timeout=5).raise_for_status()
    except httpx.HTTPError as exc:
        raise CliError(
            f"selftest: the ledger's API at {api_url} does not answer ({exc.__class__.__name__}); "
            "start it with `make run` or `evledger up`"
        ) from None
    test = SelfTest(
        Installation(
            settings,
            api_url,
            rpc,
            db,
            lockfile=Path(lockfile) if lockfile else None,
            trust_path=Path(trust_path) if trust_path else None,
            wait=wait,
        )
    )
    checks = test.run()
    failed = list(dict.fromkeys(c.name for c in test.failures))
    if as_json:
        click.echo(
            json.dumps(
                {
                    "ok": test.ok,
                    "failures": failed,
                    "record_id": test.record_id,
                    "checks": [c.to_json() for c in checks],
                },
                indent=2,
            )
        )
    else:
        for c in checks:
            click.echo(str(c))
        warnings = sum(c.status == "warn" for c in checks)
        logged = f"; report logged as record {test.record_id}" if test.record_id else ""
        click.echo(
            f"selftest: {'all checks passed' if test.ok else 'FAILED: ' + ', '.join(failed)}"
            f" ({len(checks)} lines, {warnings} warning(s)){logged}"
        )
    if not test.ok:
        sys.exit(EXIT_REFUSED)


@main.command()
@click.option("--out", "out_dir", default=None, help="Directory (default .evledger/demo).")
@api_option
def demo(out_dir: str | None, api: str | None) -> None:
    """Submit a realistic sample lot, wait for anchoring, write records and receipts."""
    from api.demo import run_demo

    out = Path(out_dir) if out_dir else Settings.from_env().home / "demo"
    run_demo(_client(api), out, _load_key(None))


def run() -> None:  # pragma: no cover - console entry
    sys.exit(main())


# The master data commands (evledger spec|equipment|supplier) register themselves on `main`.
from api import cli_master  # noqa: E402,F401
