"""``evledger`` on a shop-floor PC: ``evledger ingest scanner|plc`` and ``evledger keys new``.

The server's ``evledger`` (api/cli.py) includes these same commands, so users type one command
name wherever they are. Exit 0 ok, 1 refused / failed, 2 could not run.
"""

from __future__ import annotations

import importlib
import json
import logging
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from evledger_verify.errors import FormatError
from evledger_verify.receipt import Trust
from evledger_verify.records import Domain
from prometheus_client import Gauge

from ingest.client import (
    PASSWORD_FILE_ENV,
    STANDARD_SCRYPT_N,
    TEST_SCRYPT_ENV,
    Client,
    ClientError,
    NoPasswordError,
    Passwords,
    SigningKey,
    UnreachableError,
    load_key,
    new_key,
    new_keystore,
    scrypt_n_for_new_keys,
)
from ingest.outbox import MAX_BYTES, MAX_RECORDS, Outbox, OutboxFull
from ingest.promises import PromiseKeeper
from ingest.runner import LOG, Runner, kv
from ingest.scan import OPERATIONS, ScanConfig, check_station

__all__ = [
    "EXIT_CANNOT_RUN",
    "EXIT_REFUSED",
    "CliError",
    "Main",
    "Refused",
    "ingest",
    "keys",
    "main",
    "new_keystore_scrypt_n",
]

EXIT_REFUSED = 1
EXIT_CANNOT_RUN = 2


class CliError(click.ClickException):
    """The command could not run (service unreachable, unreadable file): exit 2."""

    exit_code = EXIT_CANNOT_RUN


class Refused(CliError):
    """The service or a check refused the input: exit 1."""

    exit_code = EXIT_REFUSED


class Main(click.Group):
    """Catches the client library's error root once: its message, its exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ClientError as exc:
            raise (Refused if exc.exit_code == EXIT_REFUSED else CliError)(str(exc)) from exc


@click.group()
def keys() -> None:
    """Signer keys (secp256k1, mode 0600): a person's in a password-protected keystore v3 file
    (as geth, cast and wallets use), a device's in a plain hex file."""


#: ``--password-file``: where a keystore's password is read (its first line).
password_file_option = click.option(
    "--password-file",
    type=click.Path(dir_okay=False),
    default=None,
    help=f"Read the keystore's password from the first line of this file (readable only by "
    f"you); default ${PASSWORD_FILE_ENV}, else asked on the terminal.",
)


@keys.command("new")
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False),
    help="Key file to create (refuses to overwrite).",
)
@click.option(
    "--if-missing",
    is_flag=True,
    help="If the file exists, keep it and print its address (a script can run twice).",
)
@password_file_option
@click.option(
    "--plain",
    is_flag=True,
    help="For devices only (scanner stations, PLC gateways): a plain hex key file that no "
    "password protects, so an unattended ingester can sign.",
)
def keys_new(output: str, if_missing: bool, password_file: str | None, plain: bool) -> None:
    """Generate a signing key; prints its address (register it with `signers add`).

    By default the key is written as a keystore v3 file (Web3 Secret Storage: scrypt n=2^18,
    r=8, p=1 and AES-128-CTR, as geth writes; cast, geth and MetaMask import it), encrypted
    with a password from --password-file, $EVLEDGER_KEY_PASSWORD_FILE or asked twice on the
    terminal: signing then takes the file and the password."""
    path = Path(output)
    if path.exists() and not if_missing:
        raise CliError(
            f"keys new: {path} already exists; refusing to overwrite a key "
            "(--if-missing keeps it and prints its address)"
        )
    passwords = Passwords(password_file)
    if path.exists():
        key = load_key(path, "keys new", passwords=passwords)
    elif plain:
        key = new_key(path)
    else:
        try:
            key = new_keystore(path, passwords, scrypt_n=new_keystore_scrypt_n())
        except NoPasswordError as exc:
            raise CliError(f"{exc} (a device's key: --plain)") from None
    click.echo(key.address)


def new_keystore_scrypt_n() -> int:
    """The scrypt n of new keystores, with a warning on stderr when a test lowered it."""
    n = scrypt_n_for_new_keys()
    if n != STANDARD_SCRYPT_N:
        click.echo(f"warning: {TEST_SCRYPT_ENV}={n}: a test-only, weaker keystore", err=True)
    return n


@keys.command("encrypt")
@click.argument("plain_file", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False),
    help="The keystore file to create (refuses to overwrite).",
)
@password_file_option
def keys_encrypt(plain_file: str, output: str, password_file: str | None) -> None:
    """Write the key of a plain key file into a new password-protected keystore (the same key
    and address: its registration stays); then delete the plain file. Prints the address."""
    key = load_key(Path(plain_file), "keys encrypt")
    new_keystore(
        Path(output),
        Passwords(password_file),
        "keys encrypt",
        key=key,
        scrypt_n=new_keystore_scrypt_n(),
    )
    click.echo(key.address)
    click.echo(f"wrote {output}; now delete {plain_file} (e.g. shred -u {plain_file})", err=True)


@click.group()
def ingest() -> None:
    """Shop-floor ingesters: scanners and PLCs feed signed records to the ledger."""


@click.group(cls=Main, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option("0.1.0", prog_name="evledger")
def main() -> None:
    """evledger on the shop floor: ingesters that capture, sign and send records.

    Exit codes: 0 ok, 1 refused or failed, 2 could not run.
    """


main.add_command(keys)
main.add_command(ingest)


def run() -> None:
    """The console script. Both distributions install an ``evledger`` script (the shop-floor
    one and the server's, which includes these commands); whichever pip wrote last must not
    lose commands, so when the server's CLI is importable here it runs instead."""
    try:
        server = importlib.import_module("api.cli")
    except ImportError:
        server = None
    full = getattr(server, "main", None)
    if isinstance(full, click.Group) and "up" in full.commands:
        full()
    else:
        main()


# -- the ingesters ---------------------------------------------------------------------------

_api_option = click.option(
    "--api",
    envvar="EVLEDGER_API_URL",
    default="http://127.0.0.1:8000",
    show_default=True,
    help="The ledger's API ($EVLEDGER_API_URL).",
)
_trust_option = click.option(
    "--trust",
    "trust_path",
    type=click.Path(exists=True, dir_okay=False),
    help="TRUST.json (`evledger trust`): the ledger's chain and contract, so capture can start "
    "while the API is unreachable. Default: asked from the API once, then kept beside the "
    "outbox.",
)
_outbox_option = click.option(
    "--outbox",
    "outbox_path",
    type=click.Path(dir_okay=False),
    help="The local outbox (SQLite); default evledger-outbox-<station>.sqlite here.",
)
#: The smallest ``--outbox-max-bytes``: a few dozen records (a scan is about 1 KiB).
OUTBOX_MIN_BYTES = 64 * 1024


def _outbox_caps(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--outbox-max-records`` and ``--outbox-max-bytes``: what the outbox may hold, pending
    and refused, before capture stops (exit 2)."""
    records = click.option(
        "--outbox-max-records",
        envvar="EVLEDGER_OUTBOX_MAX_RECORDS",
        type=click.IntRange(1, 1_000_000_000),
        metavar="N",
        default=MAX_RECORDS,
        show_default=True,
        help="Capture stops (exit 2) rather than store more records than this in the outbox, "
        "pending and refused ($EVLEDGER_OUTBOX_MAX_RECORDS).",
    )
    size = click.option(
        "--outbox-max-bytes",
        envvar="EVLEDGER_OUTBOX_MAX_BYTES",
        type=click.IntRange(OUTBOX_MIN_BYTES, 2**40),
        metavar="N",
        default=MAX_BYTES,
        show_default=True,
        help="Capture stops (exit 2) rather than store more bytes of signed records than this "
        "in the outbox ($EVLEDGER_OUTBOX_MAX_BYTES).",
    )
    return records(size(command))


_metrics_option = click.option(
    "--metrics-port",
    type=click.IntRange(0, 65535),
    default=None,
    help="Serve Prometheus metrics on 127.0.0.1:PORT (0: a free port, printed).",
)
_key_option = click.option(
    "--key",
    "key_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="The station's device key (`evledger keys new`, registered with role device).",
)


def _trust(client: Client, trust_path: str | None, cache: Path) -> Trust:
    """The ledger's trust (EIP-712 domain, log key): from TRUST.json, else from the API's
    (kept beside the outbox), else from the trust kept: capture must not wait for the network."""
    if trust_path is None:
        try:
            cache.write_text(json.dumps(client.trust()))
        except UnreachableError:
            if not cache.exists():
                raise CliError(
                    f"ledger: {client.base_url} unreachable and no {cache.name} kept from an "
                    "earlier start; pass --trust TRUST.json (`evledger trust -o TRUST.json`)"
                ) from None
    path = Path(trust_path) if trust_path is not None else cache
    try:
        return Trust.from_json(json.loads(path.read_text()))
    except (OSError, ValueError, FormatError) as exc:
        raise CliError(f"{path}: expected a trust file (`evledger trust`), got {exc}") from exc


def _serve(
    name: str,
    run: Callable[[threading.Event], None],
    runner: Runner,
    metrics_port: int | None,
) -> None:
    """Run an ingester until SIGINT or SIGTERM, draining the outbox meanwhile; stop cleanly."""
    stop = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        LOG.info(kv("ingest.stopping", ingester=name, signal=signal.Signals(signum).name))
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    runner.start()
    if metrics_port is not None:
        bound = runner.serve_metrics(metrics_port)
        click.echo(f"metrics: http://127.0.0.1:{bound}/metrics", err=True)
    try:
        run(stop)
    except OutboxFull as exc:
        box = runner.outbox
        todo = (
            f"free space on the disk of {box.path}"
            if exc.disk
            else "raise the cap with --outbox-max-records / --outbox-max-bytes, or let the "
            "outbox drain (is the ledger reachable? are refused items piling up?)"
        ) + ", then start the ingester again; nothing read since the outbox filled up was captured"
        LOG.critical(
            kv("capture.stopped", ingester=name, outbox=box.path,
               reason="disk_full" if exc.disk else "outbox_cap", max_records=box.max_records,
               max_bytes=box.max_bytes, todo=todo)
        )  # fmt: skip
        raise CliError(f"{name}: capture stopped: {exc}. To go on: {todo}") from None
    finally:
        stopped = runner.stop()
        depth = runner.outbox.stats().depth
        LOG.info(kv("ingest.stopped", ingester=name, drained=stopped, outbox_depth=depth))


#: The ingesters' log lines: time, level (CRITICAL when capture stops), logger, event.
_LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def _setup(
    station: str,
    key_path: str,
    api: str,
    trust_path: str | None,
    outbox_path: str | None,
    caps: tuple[int, int],
) -> tuple[SigningKey, Domain, Runner]:
    logging.basicConfig(level=logging.INFO, format=_LOG_FORMAT)
    key = load_key(Path(key_path), "device key")
    path = Path(outbox_path or f"evledger-outbox-{station}.sqlite")
    outbox = Outbox(path, max_records=caps[0], max_bytes=caps[1])
    # The runner backs off between drains; the client itself retries once.
    client = Client(api, retries=1)
    trust = _trust(client, trust_path, path.with_suffix(".trust.json"))
    runner = Runner(outbox, client)
    # The ledger's promises are checked against the same log key the trust pins.
    runner.keeper = PromiseKeeper(outbox, client, trust)
    return key, trust.domain, runner


@ingest.command("scanner")
@click.option("--port", required=True, help="Serial device or pyserial URL (socket://, loop://).")
@click.option("--station", required=True, help="The scanning station's id (in record ids).")
@click.option(
    "--operation",
    required=True,
    type=click.Choice(OPERATIONS),
    help="What happens to what is scanned here: receive (a material arrives), consume (a "
    "material goes into the line's lot), produce (the station starts the scanned lot), pack (a "
    "lot goes onto the pallet whose SSCC label was scanned last), ship (a lot, or a whole "
    "pallet by its SSCC label, leaves for --consignee).",
)
@_key_option
@click.option("--baud", default=9600, show_default=True, type=click.IntRange(50, 4_000_000))
@click.option(
    "--eol",
    default="crlf",
    show_default=True,
    type=click.Choice(["crlf", "lf", "cr"]),
    help="The scanner's line ending.",
)
@click.option("--prefix", default="", help="A fixed prefix the scanner sends before each code.")
@click.option(
    "--suspect-missing-separator",
    is_flag=True,
    help="Also refuse codes whose last lot or serial ends in text that reads as a lot, serial or "
    "date the code lacks (a dropped FNC1); only for lines whose lots and serials never end so.",
)
@click.option(
    "--lot",
    default=None,
    help="The ledger lot of these scans instead of the label's AI 10 lot: at receive, the lot "
    "the material is received as (the label's lot is kept as the supplier's); at consume, the "
    "line's lot the scanned material goes into (default: the lot the station last produced; "
    "the material is always the label's lot).",
)
@click.option("--supplier", default=None, help="Receive only: whom the material comes from.")
@click.option(
    "--consignee", default=None, help="Ship only, and required there: who receives the goods."
)
@click.option(
    "--unit",
    default=None,
    metavar="UOM",
    help="What the label's count (AI 30 or 37) counts, as a UN/ECE Rec 20 code: EA, KGM, ... "
    "Default: none. Quantities come from the label only.",
)
@_api_option
@_trust_option
@_outbox_option
@_outbox_caps
@_metrics_option
def ingest_scanner(
    port: str,
    station: str,
    operation: str,
    key_path: str,
    baud: int,
    eol: str,
    prefix: str,
    suspect_missing_separator: bool,
    lot: str | None,
    supplier: str | None,
    consignee: str | None,
    unit: str | None,
    api: str,
    trust_path: str | None,
    outbox_path: str | None,
    outbox_max_records: int,
    outbox_max_bytes: int,
    metrics_port: int | None,
) -> None:
    """Read barcodes from a serial scanner; each good GS1 / UDI scan becomes a `scan` record
    signed by the station's device key, kept in the local outbox until the ledger has it.

    At a pack station a pallet's SSCC label (AI 00) opens that pallet for the lots scanned
    after it (until another SSCC label; a restart forgets it: scan the label again). At a ship
    station an SSCC label alone ships the whole pallet. A bad scan is logged and counted, never
    recorded.
    """
    from ingest.scanner import ScannerIngester

    try:  # before anything is opened: a station that cannot make valid records does not start
        check_station(operation, lot=lot, consignee=consignee, supplier=supplier, unit=unit)
    except ValueError as exc:
        raise click.UsageError(f"ingest scanner: {exc}") from exc
    key, domain, runner = _setup(
        station, key_path, api, trust_path, outbox_path, (outbox_max_records, outbox_max_bytes)
    )
    try:
        scanner = ScannerIngester(
            port,
            station=station,
            operation=operation,  # type: ignore[arg-type]  # checked by click.Choice
            key=key,
            domain=domain,
            runner=runner,
            config=ScanConfig(
                prefix=prefix.encode("latin-1"),
                suspect_missing_separator=suspect_missing_separator,
            ),
            baudrate=baud,
            eol={"crlf": b"\r\n", "lf": b"\n", "cr": b"\r"}[eol],
            lot=lot,
            consignee=consignee,
            supplier=supplier,
            unit=unit,
        )
    except ValueError as exc:
        raise CliError(f"ingest scanner: {exc}") from exc
    Gauge(
        "evledger_ingest_pallet_labels",
        "Pallet (SSCC) labels read at a pack station since start, each opening its pallet",
        registry=runner.registry,
    ).set_function(lambda: scanner.stats.pallets)
    _serve("scanner", scanner.run, runner, metrics_port)


@ingest.command("plc")
@click.option(
    "--config",
    "config_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="The register map (TOML): device, tags, limits, intervals, deadbands.",
)
@_key_option
@_api_option
@_trust_option
@_outbox_option
@_outbox_caps
@_metrics_option
def ingest_plc(
    config_path: str,
    key_path: str,
    api: str,
    trust_path: str | None,
    outbox_path: str | None,
    outbox_max_records: int,
    outbox_max_bytes: int,
    metrics_port: int | None,
) -> None:
    """Poll a Modbus TCP device by its register map; readings become `process_reading` records
    (on a change beyond the deadband, or at the maximum interval) signed by the device key,
    with the map's SHA-256, kept in the local outbox until the ledger has them."""
    from ingest.plc import MapError, PlcIngester, load_map

    try:
        register_map = load_map(config_path)
    except MapError as exc:
        raise Refused(str(exc)) from exc
    station = register_map.device.station
    key, domain, runner = _setup(
        station, key_path, api, trust_path, outbox_path, (outbox_max_records, outbox_max_bytes)
    )

    def on_error(kind: str, message: str) -> None:
        runner.source_error(kind)

    plc = PlcIngester(
        register_map,
        key=key,
        domain=domain,
        sink=runner.capture_many,
        on_error=on_error,
    )
    Gauge(
        "evledger_ingest_plc_late_polls",
        "Tag reads that came a whole poll interval or more after they were due",
        registry=runner.registry,
    ).set_function(lambda: plc.counters["late"])
    try:
        _serve("plc", plc.run, runner, metrics_port)
    finally:
        plc.close()
