"""A scanner's raw line to a ``scan/1`` record body: pure functions, no I/O.

``parse_line`` turns the bytes a barcode scanner sends for one read into a :class:`ParsedScan`,
or raises :class:`BadScan` (and nothing else, for any input). It accepts GS1 element strings
(GS1-128, GS1 DataMatrix, GS1 QR, DataBar), GS1 Digital Link URIs, and plain EAN-13 / UPC-A /
EAN-8 / GTIN-14 numbers, after stripping a configured prefix and the AIM symbology identifier.
``scan_record`` makes the body of a ``scan/1`` record from it; signing and sending are the
caller's.

    >>> from datetime import UTC, datetime
    >>> p = parse_line(b"]C1010950600013435210LOT-1\\x1d21SN-7\\r\\n", ScanConfig())
    >>> (p.symbology, p.gtin, p.lot, p.serial)
    ('gs1_128', '09506000134352', 'LOT-1', 'SN-7')
    >>> scan_record(p, record_id="SCAN-1", station="dock 1", operation="receive",
    ...             scanned_at=datetime(2026, 11, 22, 8, tzinfo=UTC))["gs1"]
    {'gtin': '09506000134352', 'lot': 'LOT-1', 'serial': 'SN-7'}

What each operation records (the ledger's genealogy, ``ledger.domain.genealogy``, reads it):

* ``receive``: a material's label (GTIN, the supplier's AI 10 lot). The record's ``lot`` is
  the lot it is received as (the ``lot`` argument, else the label's lot); the ledger then knows
  the label's lot as an alias of it. ``supplier`` names whom it came from.
* ``consume``: a material's label; its AI 10 lot is required (the genealogy finds the material
  by it). The record's ``lot`` is the lot the material goes INTO (the ``lot`` argument: the
  line's lot), never the material; without it the ledger takes the lot the station last
  produced (its last ``produce`` scan, in log order).
* ``produce``: a product's label; the record's ``lot`` is the lot the station now produces.
* ``pack``: a product's label; ``pallet`` is the SSCC of the pallet it goes onto (a label that
  carries an SSCC of its own goes onto that pallet).
* ``ship``: a product's label (its lot ships), or a pallet's SSCC label without a GTIN (every
  lot packed onto that pallet ships; the record has no lot, and the station's lot does not
  apply); ``consignee`` says to whom.

Except for ``consume``, the record's ``lot`` is the lot the scan is about (the ``lot``
argument, else the label's AI 10 lot), so the scan joins that lot's chain in the ledger;
``consume``, ``produce``, ``pack`` and ``ship`` scans without a lot are bad scans (they would
link nothing).

Quantities are what the label says: AI 30 (count of items) or AI 37 (count of trade items);
``unit`` (UN/ECE Rec 20, e.g. ``EA``, ``KGM``) names what they count and is recorded only next
to a count. A pallet shipped by its SSCC carries neither: its lots ship with the quantities
they were packed with.

biip (GS1 parsing) never raises for a bad GTIN check digit inside a message: it sets an error
field on the element. Every such field is checked here. biip also cannot see a missing FNC1
separator after a variable-length field (it reads the lot greedily): see
``ScanConfig.suspect_missing_separator``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal, get_args

from biip import ParseConfig, ParseError
from biip.gs1_digital_link_uris import GS1DigitalLinkURI
from biip.gs1_element_strings import GS1ElementString, GS1ElementStrings
from biip.gs1_messages import GS1Message
from biip.gtin import Gtin

__all__ = [
    "GS",
    "OPERATIONS",
    "BadScan",
    "Operation",
    "ParsedScan",
    "ScanConfig",
    "SourceFormat",
    "check_station",
    "parse_line",
    "scan_record",
]

#: ASCII group separator: what scanners send in place of the FNC1 symbol character.
GS = "\x1d"

SourceFormat = Literal["element_string", "digital_link", "ean"]
Operation = Literal["receive", "consume", "produce", "pack", "ship"]
#: The operations a station performs, as ``scan/1`` names them.
OPERATIONS: tuple[Operation, ...] = get_args(Operation)

#: Known AIM symbology identifiers (ISO/IEC 15424) and GS1's names for them.
_AIM_NAMES = {
    "]C1": "gs1_128",
    "]d2": "gs1_datamatrix",
    "]Q3": "gs1_qr",
    "]e0": "gs1_databar",
    "]J1": "gs1_dotcode",
    "]E0": "ean_13",
    "]E4": "ean_8",
    "]I1": "itf_14",
    "]Q1": "qr",
    "]d1": "datamatrix",
    "]C0": "code_128",
}
#: Identifiers whose data is a GS1 element string (FNC1 in first position).
_AIM_GS1_MESSAGE = frozenset({"]C1", "]d2", "]Q3", "]e0", "]J1"})
#: Identifiers whose data is a bare GTIN.
_AIM_GTIN = frozenset({"]E0", "]E4", "]I1"})
_AIM = re.compile(r"\][A-Za-z][0-9A-Za-z]")
_DIGITS = re.compile(r"[0-9]+")
#: A lot id the ledger serves at /v1/lots/{lot} (ledger.domain.schemas.LOT_PATTERN, which
#: ingest may not import); "." and ".." also match but cannot be a URL path segment.
LEDGER_LOT = re.compile(r"[\x21-\x7e]{1,128}")
_UNSERVABLE_LOTS = (".", "..")
_SSCC = re.compile(r"[0-9]{18}")
_NAME_MAX = 200  # scan/1 consignee and supplier
_UNIT_MAX = 16  # scan/1 unit
_RAW_HEX_LIMIT = 1024
_BIIP = ParseConfig()  # dates verified; GS (0x1d) is the only separator biip sees


class BadScan(Exception):
    """A line that cannot become a scan record. ``reason`` reads "what: expected X, got Y";
    ``raw_hex`` is the line as received (first 1024 bytes), for the log."""

    def __init__(self, reason: str, raw: bytes) -> None:
        self.reason = reason
        self.raw_hex = raw[:_RAW_HEX_LIMIT].hex()
        if len(raw) > _RAW_HEX_LIMIT:
            self.raw_hex += f"...(+{len(raw) - _RAW_HEX_LIMIT} bytes)"
        super().__init__(f"{reason} [raw {self.raw_hex}]")


@dataclass(frozen=True)
class ScanConfig:
    """How a station's scanner frames its reads.

    ``prefix``: bytes the scanner puts before every read (a line without it is refused).
    ``strip_aim``: remove a leading AIM symbology identifier (``]C1``, ``]d2``, ``]Q3``, ``]E0``,
    generally ``]`` + letter + modifier) and use it to name the symbology.
    ``separators``: characters the scanner sends for FNC1; each is read as GS (0x1d). Only
    characters that cannot occur in GS1 data (ASCII controls) are allowed.
    ``max_length``: longest line accepted, in bytes, before anything is stripped.
    ``suspect_missing_separator`` (off by default): also refuse an element string whose last
    variable-length field (lot, serial, ...) ends with text that is itself a valid run of
    lot, serial or date element strings the message lacks, e.g. ``(10) LOT-121SN-7`` with no
    ``(21)``: the shape a scanner that drops FNC1 before the last field produces. The data alone
    cannot tell that from a lot or serial that really ends so (``SN-1105`` in a message without
    a lot reads as ``(10) 5``), so it is for lines whose lots and serials are known not to end
    in digits. A missing FNC1 before any other field is always refused.
    """

    prefix: bytes = b""
    strip_aim: bool = True
    separators: tuple[str, ...] = (GS,)
    max_length: int = 512
    suspect_missing_separator: bool = False

    def __post_init__(self) -> None:
        for sep in self.separators:
            if len(sep) != 1 or not (ord(sep) < 0x20 or ord(sep) == 0x7F):
                raise ValueError(
                    f"separators: expected single ASCII control characters, got {sep!r}"
                )
        if self.max_length < 1:
            raise ValueError(f"max_length: expected at least 1 byte, got {self.max_length}")


@dataclass(frozen=True)
class ParsedScan:
    """One good read. ``elements`` are the (AI, value) pairs in scan order; ``element_string``
    is their normalized form (GS after variable-length fields, none at the end)."""

    raw: bytes
    symbology: str
    aim: str | None
    source_format: SourceFormat
    elements: tuple[tuple[str, str], ...]
    element_string: str
    gtin: str | None = None
    lot: str | None = None
    serial: str | None = None
    expiry: date | None = None
    sscc: str | None = None
    quantity: int | None = None

    @property
    def pallet_label(self) -> bool:
        """An SSCC (AI 00) without a GTIN (AI 01): a logistic unit's label, naming the pallet
        rather than a trade item (AI 02, the GTIN of its contents, does not make it one)."""
        return self.sscc is not None and self.gtin is None

    @property
    def hri(self) -> str:
        """Human readable interpretation: ``(01)09506000134352(10)LOT-1``."""
        return "".join(f"({ai}){value}" for ai, value in self.elements)

    def value(self, ai: str) -> str | None:
        """The value of application identifier ``ai``, if the scan has it."""
        return next((v for a, v in self.elements if a == ai), None)


def parse_line(raw: bytes, config: ScanConfig) -> ParsedScan:
    """Parse one scanner line (trailing CR/LF allowed). Raises :class:`BadScan` and nothing
    else: every failure of the underlying parser is wrapped."""
    try:
        return _parse(raw, config)
    except BadScan:
        raise
    except (ParseError, ValueError, IndexError, KeyError) as exc:  # biip's own failures
        raise BadScan(f"scan: expected GS1 data, got a parser failure ({exc})", raw) from None


def _parse(raw: bytes, config: ScanConfig) -> ParsedScan:
    if len(raw) > config.max_length:
        raise BadScan(f"line: expected at most {config.max_length} bytes, got {len(raw)}", raw)
    data = raw.rstrip(b"\r\n")
    if config.prefix:
        if not data.startswith(config.prefix):
            raise BadScan(
                f"prefix: expected the line to start with {config.prefix!r}, "
                f"got {data[: len(config.prefix)]!r}",
                raw,
            )
        data = data[len(config.prefix) :]
    text = data.decode("latin-1")
    for sep in config.separators:
        text = text.replace(sep, GS)
    for i, ch in enumerate(text):
        if not (" " <= ch <= "~" or ch == GS):
            raise BadScan(
                f"byte {i}: expected printable ASCII or GS (0x1d), got 0x{ord(ch):02x}", raw
            )
    if not text.strip(GS):
        raise BadScan("line: expected barcode data, got an empty line", raw)

    aim: str | None = None
    if config.strip_aim and text.startswith("]"):
        if not _AIM.match(text):
            raise BadScan(
                f"symbology identifier: expected ']' + letter + modifier, got {text[:3]!r}", raw
            )
        aim, text = text[:3], text[3:]
        if not text.strip(GS):
            raise BadScan(f"line: expected barcode data after {aim}, got none", raw)
    symbology = _AIM_NAMES.get(aim, f"aim {aim}") if aim else "unknown"

    if text.lower().startswith(("http://", "https://")):
        return _digital_link(raw, text, aim, symbology)
    if aim in _AIM_GTIN or (
        aim not in _AIM_GS1_MESSAGE and _DIGITS.fullmatch(text) and len(text) in (8, 12, 13, 14)
    ):
        return _plain_gtin(raw, text, aim, symbology)
    if aim is not None and aim not in _AIM_GS1_MESSAGE:
        raise BadScan(
            f"symbology {aim}: expected a GTIN or a Digital Link URI "
            f"(GS1 element strings come as ]C1, ]d2, ]Q3, ]e0, ]J1), got {text[:40]!r}",
            raw,
        )
    return _element_string(raw, text, aim, symbology, config)


def _plain_gtin(raw: bytes, text: str, aim: str | None, symbology: str) -> ParsedScan:
    if not _DIGITS.fullmatch(text) or len(text) not in (8, 12, 13, 14):
        raise BadScan(
            f"GTIN: expected 8, 12, 13 or 14 digits, got {len(text)} characters {text[:40]!r}",
            raw,
        )
    try:
        gtin = Gtin.parse(text, config=_BIIP)
    except ParseError as exc:
        raise BadScan(f"GTIN {text}: {exc}", raw) from None
    gtin14 = gtin.as_gtin_14()
    _refuse_zero_gtin(gtin14, raw)
    if symbology == "unknown":
        symbology = {8: "ean_8", 12: "upc_a", 13: "ean_13", 14: "gtin_14"}[len(text)]
    return ParsedScan(
        raw=raw,
        symbology=symbology,
        aim=aim,
        source_format="ean",
        elements=(("01", gtin14),),
        element_string="01" + gtin14,
        gtin=gtin14,
    )


def _digital_link(raw: bytes, text: str, aim: str | None, symbology: str) -> ParsedScan:
    if GS in text:
        raise BadScan("Digital Link URI: expected no GS (0x1d) characters, got one", raw)
    try:
        uri = GS1DigitalLinkURI.parse(text, config=_BIIP)
    except ParseError as exc:
        raise BadScan(f"Digital Link URI: {exc}", raw) from None
    except ValueError as exc:  # urlsplit's, which biip lets through ("Invalid IPv6 URL")
        reason = f"Digital Link URI: expected a valid URI, got one that fails ({exc})"
        raise BadScan(reason, raw) from None
    return _from_elements(raw, list(uri.element_strings), aim, symbology, "digital_link")


def _element_string(
    raw: bytes, text: str, aim: str | None, symbology: str, config: ScanConfig
) -> ParsedScan:
    text = text.strip(GS)  # a leading GS is FNC1 in first position, sent by some scanners
    try:
        message = GS1Message.parse(text, config=_BIIP)
    except ParseError as exc:
        raise BadScan(f"GS1 element string: {exc}", raw) from None
    elements = list(message.element_strings)
    # biip accepts a variable-length field at its maximum length followed directly by the next
    # AI; GS1 requires FNC1 there (General Specifications 7.8.5.2).
    pos = 0
    for i, element in enumerate(elements):
        pos += len(element)
        last = i == len(elements) - 1
        if element.ai.separator_required and not last and text[pos : pos + 1] != GS:
            raise BadScan(
                f"AI {element.ai.ai} {element.value!r}: expected a GS (FNC1) after this "
                f"variable-length field, got {text[pos : pos + 1]!r} at character {pos}",
                raw,
            )
        while text[pos : pos + 1] == GS:
            pos += 1
    if config.suspect_missing_separator:
        present = {e.ai.ai for e in elements}
        for element in elements:
            if element.ai.separator_required:
                _refuse_swallowed(element, present, raw)
    return _from_elements(raw, elements, aim, symbology, "element_string")


#: AIs a dropped FNC1 typically hides at the end of a lot or serial: serial, lot, dates, count.
_SWALLOWABLE = frozenset({"10", "11", "13", "15", "16", "17", "21"})


def _refuse_swallowed(element: GS1ElementString, present: set[str], raw: bytes) -> None:
    value = element.value
    for k in range(1, len(value) - 1):
        try:
            tail = GS1Message.parse(value[k:], config=_BIIP).element_strings
        except (ParseError, ValueError, IndexError, KeyError):
            continue
        ais = {e.ai.ai for e in tail}
        # A tail counts only when it reads as AIs that scanned labels commonly carry next to a
        # lot or serial, each with data: serials such as "SN-30" or "SN-220" end in text that
        # biip reads as (30) with no digits or (22) "0", and refusing them lost a quarter of
        # numbered serials (bench/ingest_devices.py).
        if (
            any(_element_errors(e) or not e.value for e in tail)
            or not ais <= _SWALLOWABLE
            or ais <= present
        ):
            continue
        found = "".join(e.as_hri() for e in tail)
        raise BadScan(
            f"AI {element.ai.ai} {value!r}: expected a GS (FNC1) to end a variable-length "
            f"field before the next AI, got text that reads as {found} (a missing separator?)",
            raw,
        )


def _element_errors(element: GS1ElementString) -> list[str]:
    return [e for e in (element.gtin_error, element.sscc_error, element.gln_error) if e]


def _refuse_zero_gtin(gtin14: str, raw: bytes) -> None:
    if gtin14 == "0" * 14:
        raise BadScan("GTIN: expected an allocated number, got all zeros", raw)


def _from_elements(
    raw: bytes,
    elements: list[GS1ElementString],
    aim: str | None,
    symbology: str,
    source_format: SourceFormat,
) -> ParsedScan:
    seen: dict[str, str] = {}
    kept: list[GS1ElementString] = []
    for element in elements:
        for error in _element_errors(element):
            raise BadScan(f"AI {element.ai.ai}: {error}", raw)
        ai = element.ai.ai
        if not element.value:  # biip's patterns let AI 30 and 37 (N..8) be empty
            raise BadScan(f"AI {ai}: expected a value, got none", raw)
        if ai in seen:
            if seen[ai] != element.value:
                raise BadScan(
                    f"AI {ai}: expected one value, got {seen[ai]!r} and {element.value!r}", raw
                )
            continue
        seen[ai] = element.value
        kept.append(element)
    if not kept:
        raise BadScan("GS1 data: expected at least one element string, got none", raw)

    gtin = seen.get("01")
    if gtin is not None:
        _refuse_zero_gtin(gtin, raw)
    expiry: date | None = None
    for element in kept:
        if element.ai.ai == "17":
            expiry = element.date
    quantities = {int(seen[ai]) for ai in ("30", "37") if ai in seen}
    if len(quantities) > 1:
        raise BadScan(
            f"quantity: expected AI 30 and AI 37 to agree, got {seen['30']} and {seen['37']}",
            raw,
        )
    return ParsedScan(
        raw=raw,
        symbology=symbology,
        aim=aim,
        source_format=source_format,
        elements=tuple((e.ai.ai, e.value) for e in kept),
        element_string=GS1Message.from_element_strings(GS1ElementStrings(kept)).value,
        gtin=gtin,
        lot=seen.get("10"),
        serial=seen.get("21"),
        expiry=expiry,
        sscc=seen.get("00"),
        quantity=quantities.pop() if quantities else None,
    )


def check_station(
    operation: str,
    *,
    lot: str | None = None,
    consignee: str | None = None,
    supplier: str | None = None,
    unit: str | None = None,
) -> None:
    """Raise ``ValueError`` when a station's settings cannot make ``scan/1`` records the ledger
    accepts: an unknown operation, a ship station without a consignee, a consignee anywhere
    else, a supplier anywhere but at receiving, a unit or lot the schema refuses."""
    if operation not in OPERATIONS:
        raise ValueError(
            f"operation: expected {', '.join(OPERATIONS[:-1])} or {OPERATIONS[-1]}, "
            f"got {operation!r}"
        )
    if operation == "ship" and consignee is None:
        raise ValueError(
            "consignee: expected who receives the goods at a ship station (--consignee), got none"
        )
    if operation != "ship" and consignee is not None:
        raise ValueError(
            f"consignee: expected none at a {operation} station (only ship scans name one), "
            f"got {consignee!r}"
        )
    if operation != "receive" and supplier is not None:
        raise ValueError(
            f"supplier: expected none at a {operation} station (only receive scans name one), "
            f"got {supplier!r}"
        )
    for name, value, most in (
        ("consignee", consignee, _NAME_MAX),
        ("supplier", supplier, _NAME_MAX),
        ("unit", unit, _UNIT_MAX),
    ):
        if value is not None and not (len(value) <= most and value.strip()):
            raise ValueError(f"{name}: expected 1 to {most} characters, got {value!r}")
    if lot is not None and not _ledger_lot(lot):
        raise ValueError(
            "lot: expected a lot the ledger can hold (1-128 printable ASCII characters without "
            f"space, not '.' or '..'), got {lot!r}"
        )


def _ledger_lot(lot: str) -> bool:
    return bool(LEDGER_LOT.fullmatch(lot)) and lot not in _UNSERVABLE_LOTS


def _check_sscc(sscc: str) -> None:
    """A pallet argument: 18 digits with a valid GS1 check digit (mod 10, weights 3,1,...)."""
    if not _SSCC.fullmatch(sscc):
        raise ValueError(f"pallet: expected an SSCC of 18 digits, got {sscc!r}")
    body = sscc[:-1]
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    if (10 - total % 10) % 10 != int(sscc[-1]):
        raise ValueError(f"pallet: expected an SSCC with a valid check digit, got {sscc!r}")


def scan_record(
    parsed: ParsedScan,
    *,
    record_id: str,
    station: str,
    operation: Operation,
    scanned_at: datetime,
    lot: str | None = None,
    consignee: str | None = None,
    quantity: int | None = None,
    supplier: str | None = None,
    pallet: str | None = None,
    unit: str | None = None,
) -> dict[str, Any]:
    """The body of a ``scan/1`` record (unsigned); see the module docstring for what each
    operation records. ``lot`` is the station's lot: the lot received as, consumed into,
    produced, packed or shipped, instead of the label's AI 10 lot (for consume, the lot the
    material goes into: the material is always the label's lot). ``pallet`` is the SSCC a pack
    scan goes onto (a label's own SSCC takes precedence). ``quantity`` defaults to the scanned
    AI 30/37 count; ``unit`` is recorded with a quantity only.

    Raises :class:`BadScan` when the scan itself cannot make a record the genealogy can use (no
    GTIN, a pallet label anywhere but at shipping, no lot where one is needed, a lot the ledger
    cannot hold) and ``ValueError`` for wrong arguments (a configuration error, see
    :func:`check_station`).
    """
    if scanned_at.tzinfo is None or scanned_at.utcoffset() is None:
        raise ValueError(f"scanned_at: expected a time with a time zone, got {scanned_at}")
    check_station(operation, lot=lot, consignee=consignee, supplier=supplier, unit=unit)
    if quantity is not None and quantity < 1:
        raise ValueError(f"quantity: expected at least 1, got {quantity}")
    if pallet is not None:
        if operation != "pack":
            raise ValueError(f"pallet: expected none for a {operation} scan, got {pallet!r}")
        _check_sscc(pallet)
    record: dict[str, Any] = {
        "record_id": record_id,
        "type": "scan",
        "schema": "scan/1",
        "station": station,
        "operation": operation,
    }
    if parsed.sscc is not None and parsed.gtin is None:  # a pallet label
        if operation != "ship":
            raise BadScan(_pallet_label_reason(operation, parsed), parsed.raw)
        # The whole pallet ships: the ledger finds its lots (and their quantities) by the SSCC.
        record["gs1"] = {"sscc": parsed.sscc}
        record["consignee"] = consignee
        record["scanned_at"] = scanned_at.isoformat()
        return record
    if parsed.gtin is None:
        raise BadScan(
            f"scan/1: expected a GTIN (AI 01), got only {parsed.hri or 'nothing'}", parsed.raw
        )
    gs1: dict[str, str] = {"gtin": parsed.gtin}
    if parsed.lot is not None:
        if not _ledger_lot(parsed.lot):
            raise BadScan(
                f"AI 10 {parsed.lot!r}: expected a lot the ledger can hold "
                "(1-128 printable ASCII characters without space, not '.' or '..')",
                parsed.raw,
            )
        gs1["lot"] = parsed.lot
    if parsed.serial is not None:
        gs1["serial"] = parsed.serial
    expiry = parsed.value("17")
    if expiry is not None:
        gs1["expiry"] = expiry  # YYMMDD as scanned (day 00 = end of month)
    if parsed.sscc is not None:
        gs1["sscc"] = parsed.sscc
    record["gs1"] = gs1

    if operation == "consume":
        if parsed.lot is None:
            raise BadScan(
                "consume: expected the material's lot (AI 10) on the label, got only "
                f"{parsed.hri}: the genealogy finds a consumed material by its lot",
                parsed.raw,
            )
        if lot == parsed.lot:
            raise BadScan(
                f"consume: expected a material other than the line's lot {lot!r}, got that "
                "lot itself (a lot cannot be consumed into itself)",
                parsed.raw,
            )
        into = lot  # None: the ledger takes the lot the station last produced
    else:
        into = lot if lot is not None else parsed.lot
        if into is None and operation != "receive":
            raise BadScan(
                f"{operation}: expected a lot (AI 10 on the label, or the station's lot), got "
                f"only {parsed.hri}: a {operation} scan without a lot links nothing",
                parsed.raw,
            )
    if into is not None:
        record["lot"] = into
    if operation == "receive" and supplier is not None:
        record["supplier"] = supplier
    if operation == "pack":
        on = parsed.sscc or pallet
        if on is None:
            raise ValueError("pallet: expected the SSCC of the pallet for a pack scan, got none")
        record["pallet"] = on
    if operation == "ship":
        record["consignee"] = consignee
    count = quantity if quantity is not None else parsed.quantity
    if count is not None:
        if count < 1:
            raise BadScan(f"AI 30/37 quantity: expected at least 1, got {count}", parsed.raw)
        record["quantity"] = count
        if unit is not None:
            record["unit"] = unit
    record["scanned_at"] = scanned_at.isoformat()
    return record


def _pallet_label_reason(operation: str, parsed: ParsedScan) -> str:
    if operation == "pack":
        return (
            f"pack: expected a product's label (AI 01 GTIN + AI 10 lot), got the pallet label "
            f"{parsed.hri} (a pack station opens that pallet with it)"
        )
    return (
        f"{operation}: expected a trade item's label (AI 01 GTIN), got a pallet label "
        f"{parsed.hri}: only a ship station takes an SSCC alone (the whole pallet ships), and "
        "a pack station opens a pallet with one"
    )
