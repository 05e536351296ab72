"""The GS1 CBV 2.0 Event Hash ID of an EPCIS 2.0 event (CBV 2.0 section 8.9).

Partners exchanging EPCIS 2.0 events match them by this identifier,
``ni:///sha-256;<hex>?ver=CBV2.0`` (RFC 6920): SHA-256 over a *pre-hash string* that lists the
event's fields in a fixed order, with canonical values: EPC URIs and GS1 Digital Link URIs as
constrained canonical Digital Link URIs, CBV short names and URNs as CBV Web URIs, times in UTC
with milliseconds, numbers without trailing zeros, list elements and user extensions sorted.
``eventID``, ``recordTime`` and ``errorDeclaration`` are not hashed, so an error declaration
keeps the hash of the event it corrects.

GS1's reference implementation, the "EPCIS Event Hash Generator" (github RalphTro/
epcis-event-hash-generator, PyPI ``epcis-event-hash-generator`` 1.9), is what partners run, so
where it and the standard text differ we follow it and say so in a comment. The main ones:
bizTransactionList, sourceList and destinationList come after sensorElementList, sorted with
ilmd and the user extensions (the standard lists them before sensorElementList); a CURIE is
expanded only with a prefix the document's own ``@context`` declares; a JSON boolean reads
``True``. A few inputs make the reference crash or depend on the other events of the document;
we hash those per event (comments at ``_vocabulary`` and ``_prefixes``).

Works on the JSON-LD form (an element of ``epcisBody.eventList``) as ``json.loads`` returns it,
with the document's ``@context`` for the prefixes of user extensions:

    >>> event = {"type": "ObjectEvent", "eventTime": "2020-03-04T11:00:30+01:00",
    ...          "eventTimeZoneOffset": "+01:00", "action": "OBSERVE", "bizStep": "departing",
    ...          "epcList": ["urn:epc:id:sscc:4012345.0000000111"]}
    >>> pre_hash_string(event)[:81]
    'eventType=ObjectEventeventTime=2020-03-04T10:00:30.000ZeventTimeZoneOffset=+01:00'
    >>> event_hash_id(event)
    'ni:///sha-256;7935c4471f6b4e6ae0a53c62a020f89b9e90c57c2227786e780408e4073ff3f2?ver=CBV2.0'

An event becomes a ledger record (``epcis_event/1``) through :func:`epcis_record`, which the
client that signs it and the service that checks its signature both call; in a capture document
each event carries that signature as the user extension ``evl:proof`` (:class:`CaptureProof`,
``evl`` declared as :data:`EVL_NAMESPACE`). :func:`identify` reads the GS1 identifiers the
genealogy follows.

A malformed event raises :class:`EPCISFormatError` (a ``ValueError`` and a
:class:`~evledger_verify.errors.FormatError`) naming the field, e.g. ``eventList[3].eventTime:
expected an ISO 8601 time with offset, got '2020-03-04T11:00:30'``.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from evledger_verify.errors import FormatError

__all__ = [
    "EVENT_TYPES",
    "EVL_NAMESPACE",
    "LEDGER_LOT",
    "LOT_URI",
    "MEANING",
    "PROOF",
    "RECORD_SCHEMA",
    "CaptureProof",
    "EPCISFormatError",
    "Identified",
    "check_event",
    "epcis_record",
    "epcis_record_id",
    "event_hash_id",
    "event_hash_ids",
    "event_lot",
    "extension",
    "identify",
    "ledger_lot",
    "pre_hash_string",
]

EVENT_TYPES = frozenset(
    "ObjectEvent AggregationEvent TransformationEvent AssociationEvent TransactionEvent".split()
)
#: Nesting deeper than this is refused (user extensions may nest; nothing standard goes past 4).
MAX_DEPTH = 32

#: A JSON-LD ``@context``: a URL, an object of prefixes, or a list of both.
Context = str | Mapping[str, Any] | Sequence[str | Mapping[str, Any]] | None


class EPCISFormatError(FormatError, ValueError):
    """An EPCIS event that cannot be hashed: the message names the field and what was expected."""


# --- Vocabulary -----------------------------------------------------------------------------

_CBV = "https://ref.gs1.org/cbv/"
_GS1 = "https://gs1.org/voc/"
#: Prefixes of the GS1 EPCIS 2.0 context that reach the CBV and GS1 vocabularies.
_GS1_PREFIXES = {"cbv": _CBV, "gs1": _GS1}
#: Old CBV URNs and their Web URI equivalents.
_CBV_URNS = (
    ("urn:epcglobal:cbv:bizstep:", _CBV + "BizStep-"),
    ("urn:epcglobal:cbv:disp:", _CBV + "Disp-"),
    ("urn:epcglobal:cbv:btt:", _CBV + "BTT-"),
    ("urn:epcglobal:cbv:sdt:", _CBV + "SDT-"),
    ("urn:epcglobal:cbv:er:", _CBV + "ER-"),
)
_BIZ_STEPS = """accepting arriving assembling collecting commissioning consigning
    creating_class_instance cycle_counting decommissioning departing destroying disassembling
    dispensing encoding entering_exiting holding inspecting installing killing loading other
    packing picking receiving removing repackaging repairing replacing reserving retail_selling
    sampling sensor_reporting shipping staging_outbound stock_taking stocking storing
    transporting unloading unpacking void_shipping"""
_DISPOSITIONS = """active available completeness_verified completeness_inferred conformant
    container_closed container_open damaged destroyed dispensed disposed encoded expired
    in_progress in_transit inactive mismatch_instance mismatch_class mismatch_quantity
    needs_replacement no_pedigree_match non_conformant non_sellable_other partially_dispensed
    recalled reserved retail_sold returned sellable_accessible sellable_not_accessible stolen
    unavailable unknown"""
_MEASUREMENTS = """AbsoluteHumidity AbsorbedDose AbsorbedDoseRate Acceleration Radioactivity
    Altitude AmountOfSubstance AmountOfSubstancePerUnitVolume Angle AngularAcceleration
    AngularMomentum AngularVelocity Area Capacitance Conductance Conductivity Count Density
    Dimensionless DoseEquivalent DoseEquivalentRate DynamicViscosity ElectricCharge
    ElectricCurrent ElectricCurrentDensity ElectricFieldStrength Energy Exposure Force Frequency
    Illuminance Inductance Irradiance KinematicViscosity Length LinearMomentum Luminance
    LuminousFlux LuminousIntensity MagneticFlux MagneticFluxDensity MagneticVectorPotential Mass
    MassConcentration MassFlowRate MassPerAreaTime MemoryCapacity MolalityOfSolute MolarEnergy
    MolarMass MolarVolume Power Pressure RadiantFlux RadiantIntensity RelativeHumidity
    Resistance Resistivity SolidAngle SpecificVolume Speed SurfaceDensity SurfaceTension
    Temperature Time Torque Voltage Volume VolumeFlowRate VolumeFraction VolumetricFlux
    Wavenumber"""
_BIZ_TRANSACTION_TYPES = """bol cert desadv inv pedigree po poc prodorder recadv rma testprd
    testres upevt"""
_COMPONENTS = """x y z axial_distance azimuth height spherical_radius polar_angle elevation_angle
    easting northing latitude longitude altitude"""
#: The bare-string terms of the GS1 EPCIS 2.0 JSON-LD context: field -> (IRI prefix, terms).
_TERMS: dict[str, tuple[str, frozenset[str]]] = {
    "bizStep": (_CBV + "BizStep-", frozenset(_BIZ_STEPS.split())),
    "disposition": (_CBV + "Disp-", frozenset(_DISPOSITIONS.split())),
    "set": (_CBV + "Disp-", frozenset(_DISPOSITIONS.split())),
    "unset": (_CBV + "Disp-", frozenset(_DISPOSITIONS.split())),
    "bizTransactionList": (_CBV + "BTT-", frozenset(_BIZ_TRANSACTION_TYPES.split())),
    "sourceList": (_CBV + "SDT-", frozenset({"owning_party", "possessing_party", "location"})),
    "destinationList": (_CBV + "SDT-", frozenset({"owning_party", "possessing_party", "location"})),
    "type": (_GS1, frozenset(_MEASUREMENTS.split())),
    "exception": (_GS1, frozenset({"ALARM_CONDITION", "ERROR_CONDITION"})),
    "component": (_CBV + "Comp-", frozenset(_COMPONENTS.split())),
    "reason": (_CBV + "ER-", frozenset({"did_not_occur", "incorrect_data"})),
}


def _vocabulary(event: Mapping[str, Any], prefixes: Mapping[str, str]) -> frozenset[str]:
    """The CBV and GS1 vocabulary IRIs that the event's JSON-LD expansion contains.

    The reference expands bare strings by a heuristic: it JSON-LD-expands the whole document and
    replaces *any* string value that is the last ``-`` or ``/`` segment of exactly one CBV or GS1
    vocabulary IRI found there (so a user extension value ``receiving`` becomes the bizStep IRI
    when some event of the document has ``bizStep: receiving``). We apply the same heuristic
    with the IRIs of this event alone, so that an event's hash does not depend on its
    neighbours; the two agree for every event whose vocabulary its neighbours do not extend.
    """

    def items(value: Any) -> list[Any]:
        return value if isinstance(value, list) else [value]

    def objects(value: Any) -> list[Mapping[str, Any]]:
        return [item for item in items(value) if isinstance(item, Mapping)]

    terms: list[tuple[str, Any]] = [("bizStep", event.get("bizStep"))]
    terms.append(("disposition", event.get("disposition")))
    for pd in objects(event.get("persistentDisposition")):
        terms += [(key, value) for key in ("set", "unset") for value in items(pd.get(key))]
    for key in ("bizTransactionList", "sourceList", "destinationList"):
        terms += [(key, entry.get("type")) for entry in objects(event.get(key))]
    for element in objects(event.get("sensorElementList")):
        for report in objects(element.get("sensorReport")):
            terms += [(key, report.get(key)) for key in ("type", "exception", "component")]
    for declaration in objects(event.get("errorDeclaration")):
        terms.append(("reason", declaration.get("reason")))

    found: set[str] = set()
    all_prefixes = {**_GS1_PREFIXES, **prefixes}
    for key, value in terms:
        if not isinstance(value, str):
            continue
        prefix, colon, rest = value.partition(":")
        if value in _TERMS[key][1]:
            found.add(_TERMS[key][0] + value)
        elif colon and prefix in all_prefixes:
            found.add(all_prefixes[prefix] + rest)

    stack: list[Any] = [event]  # IRIs written out in full anywhere count too
    while stack:
        value = stack.pop()
        if isinstance(value, Mapping):
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
        elif isinstance(value, str):
            found.add(value)
    return frozenset(iri for iri in found if iri.startswith((_CBV, _GS1)))


def _prefixes(context: Context) -> dict[str, str]:
    """The prefixes a document's ``@context`` declares for its user extensions.

    Only prefix -> namespace entries count. The reference reads them from a list-valued
    ``@context`` only and fails on a term definition (``"ex:f": {"@type": "@id"}``); we also
    read a single object and skip term definitions.
    """
    entries = [context] if isinstance(context, str | Mapping) else list(context or ())
    return {
        key: value
        for entry in entries
        if isinstance(entry, Mapping)
        for key, value in entry.items()
        if isinstance(key, str) and not key.startswith("@") and isinstance(value, str)
    }


# --- Identifiers: EPC URIs and GS1 Digital Link URIs to constrained canonical Digital Link ----

# A GS1 AI 82 character (or a %-escape) as the EPC URI grammar allows it (GS1 TDS 2.x).
_GS3A3 = (
    r"(?:%2[125-9A-Fa-f]|%3[0-9A-Fa-f]|%4[1-9A-Fa-f]|%5[0-9AaFf]|%6[1-9A-Fa-f]|%7[0-9Aa]"
    r"|[-!'()*+,.0-9:;=A-Za-z_])"
)
_CPI_CHAR = r"(?:%2[3dfDF]|%3[0-9]|%4[1-9A-Fa-f]|%5[0-9Aa]|[-0-9A-Z])"
_DL_ESCAPES = str.maketrans({c: f"%{ord(c):02X}" for c in "!()*+,:"})
_PREFIX_AND_REF = r"(?P<gcp>\d{6,12})\.(?P<ref>\d*)"


def _check_digit(digits: str) -> str:
    """GS1 mod-10 check digit: weights 3, 1, 3, ... from the right."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))
    return str(-total % 10)


def _checked(digits: str) -> str:
    return digits + _check_digit(digits)


def _serial(most: int, least: int = 1) -> str:
    """A ``.``-led serial of GS3A3 characters (a %-escape counts as one)."""
    return rf"\.(?P<s>{_GS3A3}{{{least},{most}}})"


_ITIP = r"\.(?P<p>\d\d)\.(?P<t>\d\d)"  # piece and total of an ITIP
#: EPC URI scheme, digits in company prefix + reference, may the reference be empty, the rest
#: of the URI, the Digital Link path. In the path, {lead} is a GTIN, SSCC or ITIP key (the
#: reference's first digit goes first), {key} the prefix and reference with a check digit,
#: {grai} the same behind a 0, {s} the serial %-escaped as Digital Link wants it.
#: The reference leaves a GRAI, and the GRAI, GDTI and SGCN patterns, unconverted when the
#: company prefix has 12 digits (its patterns want one dot too many; it does convert such a
#: GRAI whose serial starts with a dot); we never convert them. It also converts a GDTI with
#: no dot before the serial, dropping the serial's first character; we do not.
_EPC_SCHEMES = tuple(
    (re.compile(f"urn:epc:{scheme}:{_PREFIX_AND_REF}{rest}"), digits, empty_ref, path)
    for scheme, digits, empty_ref, rest, path in (
        ("id:sgtin", 13, False, _serial(20), "01/{lead}/21/{s}"),
        ("id:sscc", 17, False, "", "00/{lead}"),
        ("id:sgln", 12, True, _serial(20), "414/{key}/254/{s}"),  # extension 0: none
        ("id:grai", 12, False, _serial(16), "8003/{grai}{s}"),
        ("id:gsrn", 17, False, "", "8018/{key}"),
        ("id:gsrnp", 17, False, "", "8017/{key}"),
        ("id:gdti", 12, True, _serial(19, 0), "253/{key}{s}"),
        ("id:sgcn", 12, True, r"\.(?P<s>\d{1,12})", "255/{key}{s}"),
        ("id:gsin", 16, False, "", "402/{key}"),
        ("id:itip", 13, False, _ITIP + _serial(20), "8006/{lead}{p}{t}/21/{s}"),
        ("id:upui", 13, False, _serial(28), "01/{lead}/235/{s}"),
        ("id:pgln", 12, True, "", "417/{key}"),
        ("class:lgtin", 13, False, _serial(20), "01/{lead}/10/{s}"),
        ("idpat:sgtin", 13, False, r"\.\*", "01/{lead}"),
        ("idpat:grai", 12, False, r"\.\*", "8003/{grai}"),
        ("idpat:gdti", 12, False, r"\.\*", "253/{key}"),
        ("idpat:sgcn", 12, False, r"\.\*", "255/{key}"),
        ("idpat:itip", 13, False, _ITIP + r"\.\*", "8006/{lead}{p}{t}"),
        ("idpat:upui", 13, False, r"\.\*", "01/{lead}"),
    )
)
#: EPC URIs whose reference is free text, at most 30 characters with the company prefix.
_EPC_FREE_TEXT = tuple(
    (re.compile(rf"urn:epc:{scheme}:(?P<gcp>\d{{6,12}})\.(?P<ref>{chars}+){rest}"), path)
    for scheme, chars, rest, path in (
        ("id:giai", _GS3A3, "", "8004/{free}"),
        ("id:ginc", _GS3A3, "", "401/{free}"),
        ("id:cpi", _CPI_CHAR, r"\.(?P<s>\d{1,12})", "8010/{free}/8011/{s}"),
        ("idpat:cpi", _CPI_CHAR, r"\.\*", "8010/{free}"),
    )
)

_DL_KEYS = "01|8006|8010|414|417|8017|8018|255|00|253|401|402|8003|8004"
_DL_KEY_NAMES = """gtin=01 itip=8006 cpid=8010 gln=414 party=417 gsrnp=8017 gsrn=8018 gcn=255
    sscc=00 gdti=253 ginc=401 gsin=402 grai=8003 giai=8004"""
#: Short names of keys and of the qualifiers CPV, lot and serial, and their AIs.
_DL_SHORT_NAMES = [pair.split("=") for pair in (_DL_KEY_NAMES + " cpv=22 lot=10 ser=21").split()]
_DL_LIKE = re.compile(
    rf"https?:[^?#]*/(?:{_DL_KEYS}|{'|'.join(p.split('=')[0] for p in _DL_KEY_NAMES.split())})"
    r"/\d{4}[^/]"
)
_ID_GS1 = "https://id.gs1.org/"
_ON_ID_GS1 = re.compile(rf"https://id\.gs1\.org/(?:{_DL_KEYS})/\d{{4}}[^/]")
_DL_GTIN = re.compile(r"https://id\.gs1\.org/01/(\d+)")
_C = r"[\"'\-.0-9;-?A-Z_a-z]"  # a character that needs no %-escape in a Digital Link path
_DL_ITEM = r"https://id\.gs1\.org/(?:01/\d{14}|8006/\d{18})"
_DL_CPV = re.compile(rf"({_DL_ITEM})/22/([/{_C[1:-1]}]{{0,20}})")
_DL_LOT_AND_SERIAL = re.compile(rf"({_DL_ITEM})/10/{_C}{{0,20}}(/21/{_C}{{0,20}})")
#: The constrained canonical forms: only the finest level of identification, no attributes.
_DL_CANONICAL = re.compile(
    r"https://id\.gs1\.org/(?:"
    rf"00/\d{{18}}|01/\d{{14}}(?:/21/{_C}{{0,20}}|/10/{_C}{{0,20}}|/235/{_C}{{0,28}})?"
    rf"|253/\d{{13}}{_C}{{0,17}}|255/\d{{13}}\d{{0,12}}|401/{_C}{{0,30}}|402/\d{{17}}"
    rf"|414/\d{{13}}(?:/254/{_C}{{0,20}})?|417/\d{{13}}|8003/\d{{14}}{_C}{{0,16}}"
    rf"|8004/{_C}{{0,30}}|8006/\d{{18}}(?:/21/{_C}{{0,20}}|/10/{_C}{{0,20}})?"
    r"|8010/[#\-/0-9A-Z]{0,30}(?:/8011/\d{0,12})?|8017/\d{18}|8018/\d{18})"
)


def _epc_to_digital_link(uri: str) -> str | None:
    for pattern, digits, empty_ref, path in _EPC_SCHEMES:
        m = pattern.fullmatch(uri)
        if m and len(m["gcp"]) + len(m["ref"]) == digits and (empty_ref or m["ref"]):
            gcp, ref, parts = m["gcp"], m["ref"], m.groupdict()
            return _ID_GS1 + path.format(
                lead=_checked(ref[:1] + gcp + ref[1:]),
                key=_checked(gcp + ref),
                grai=_checked("0" + gcp + ref),
                s=(parts.get("s") or "").translate(_DL_ESCAPES),
                p=parts.get("p"),
                t=parts.get("t"),
            ).removesuffix("/254/0")
    for pattern, path in _EPC_FREE_TEXT:
        m = pattern.fullmatch(uri)
        # A %-escape counts as one character.
        if m and len(m["gcp"]) + len(m["ref"]) - 2 * m["ref"].count("%") <= 30:
            free = (m["gcp"] + m["ref"]).translate(_DL_ESCAPES)
            return _ID_GS1 + path.format(free=free, s=m.groupdict().get("s"))
    return None


def _constrain_digital_link(uri: str) -> str | None:
    """The constrained canonical form of a GS1 Digital Link URI: id.gs1.org, numeric AIs, no
    query string, GTIN-14, no CPV, a lot only where there is no serial; None if not one."""
    uri = uri.split("?", 1)[0]
    for short, ai in _DL_SHORT_NAMES:
        uri = uri.replace(f"/{short}/", f"/{ai}/")
    if not _ON_ID_GS1.match(uri):
        # Another domain: keep the path from the first primary key, in this order of keys.
        for key in ("00", "01", "253", "255", "401", "402", "414", "417", "8003", "8004",
                    "8006", "8010", "8017", "8018"):  # fmt: skip
            if f"/{key}/" in uri:
                uri = _ID_GS1[:-1] + uri[uri.index(f"/{key}/") :]
                break
    gtin = _DL_GTIN.match(uri)
    if gtin and len(gtin[1]) in (8, 12, 13):
        uri = uri.replace("/01/", "/01/" + "0" * (14 - len(gtin[1])))
    if m := _DL_CPV.fullmatch(uri):
        rest = m[2]
        uri = m[1] + (rest[rest.index("/") :] if "/" in rest else "")
    if m := _DL_LOT_AND_SERIAL.fullmatch(uri):
        uri = m[1] + m[2]
    return uri if _DL_CANONICAL.fullmatch(uri) else None


def _canonical_identifier(uri: str) -> str | None:
    """Constrained canonical GS1 Digital Link URI of an EPC URI (id, class or pattern) or of a
    GS1 Digital Link URI; None for anything else."""
    if "." not in uri:
        return None
    if uri.startswith("urn:epc:"):
        return _epc_to_digital_link(uri)
    return _constrain_digital_link(uri) if _DL_LIKE.match(uri) else None


# --- Values -------------------------------------------------------------------------------


def _canonical_value(text: str) -> str:
    """CBV URNs as Web URIs, numbers without trailing zeros, GS1 identifiers as Digital Link.

    Like the reference, every value goes through all three, user extensions included, and a
    value is numeric when Python's ``float()`` reads it ("0023.50" -> "23.5", "1e3" -> "1000").
    """
    for urn, web in _CBV_URNS:
        text = text.replace(urn, web)
    try:
        number = float(text)
    except ValueError:
        pass
    else:
        if math.isfinite(number):
            text = str(int(number)) if number.is_integer() else str(number)
    return _canonical_identifier(text) or text


def _utc_millis(text: str, where: str) -> str:
    """The time in UTC with milliseconds, ``2020-03-04T10:00:30.000Z``.

    Sub-millisecond digits round half to even on the microseconds (Python's ``round``), as the
    reference does: ``.1415`` -> ``.142``, but ``.1425`` -> ``.142`` where the standard says
    ``.143``. Digits past the sixth are dropped first. A rounding up to the next second carries
    (the reference fails there).
    """
    try:
        time = datetime.fromisoformat(text)
    except ValueError:
        time = None
    if time is None or time.tzinfo is None:
        raise EPCISFormatError(f"{where}: expected an ISO 8601 time with offset, got {text!r}")
    time = time.astimezone(UTC)
    millis = round(time.microsecond, -3)
    time = time.replace(microsecond=0) + timedelta(microseconds=millis)
    return time.isoformat(timespec="milliseconds").replace("+00:00", "Z")


# --- The event as a tree of named values ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Node:
    """A field: its name, its text ("" if none) and its child fields."""

    name: str
    value: str = ""
    children: tuple[_Node, ...] = ()
    where: str = field(default="", compare=False)


_Order = tuple[tuple[str, "_Order | None"], ...]


def _fields(names: str) -> _Order:
    return tuple((name, None) for name in names.split())


_EPCS: _Order = (("epc", None),)
_QUANTITIES: _Order = (("quantityElement", _fields("epcClass quantity uom")),)
#: The canonical property order (CBV 2.0 section 8.9), as the reference implements it: it puts
#: certificationInfo and parentID before epcList (the standard: epcList, then parentID), and its
#: entries for bizTransactionList, sourceList and destinationList never match, so those three
#: fall into the sorted remainder after sensorElementList with ilmd and the user extensions.
_EVENT_ORDER: _Order = (
    *_fields("eventTime eventTimeZoneOffset certificationInfo parentID"),
    ("epcList", _EPCS),
    ("inputEPCList", _EPCS),
    ("childEPCs", _EPCS),
    ("quantityList", _QUANTITIES),
    ("childQuantityList", _QUANTITIES),
    ("inputQuantityList", _QUANTITIES),
    ("outputEPCList", _EPCS),
    ("outputQuantityList", _QUANTITIES),
    *_fields("action transformationID bizStep disposition"),
    ("persistentDisposition", _fields("set unset")),
    ("readPoint", _fields("id")),
    ("bizLocation", _fields("id")),
    ("sensorElementList", (("sensorElement", (
        ("sensorMetadata", _fields(
            "time startTime endTime deviceID deviceMetadata rawData dataProcessingMethod bizRules"
        )),
        ("sensorReport", _fields(
            "type exception deviceID deviceMetadata rawData dataProcessingMethod time"
            " microorganism chemicalSubstance value component stringValue booleanValue"
            " hexBinaryValue uriValue minValue maxValue meanValue sDev percRank percValue uom"
            " coordinateReferenceSystem"
        )),
    )),)),
)  # fmt: skip
_TIMES = frozenset({"eventTime", "time", "startTime", "endTime"})
_NOT_HASHED = frozenset({"type", "eventID", "recordTime", "errorDeclaration"})
_SKIPPED_KEYS = frozenset({"@context", "#text", "comment", "rdfs:comment"})
#: List fields whose elements are (type, identifier) pairs, and the identifier's key.
_PAIRS = {"bizTransactionList": "bizTransaction", "sourceList": "source",
          "destinationList": "destination"}  # fmt: skip
_PAIR_KEYS = frozenset(_PAIRS.values())
#: Element names the reference gives in the XML form; the JSON form omits or renames them.
_RENAMED = {"inputEPC": "epc", "outputEPC": "epc", "inputQuantity": "quantityElement",
            "outputQuantity": "quantityElement", "childQuantity": "quantityElement"}  # fmt: skip


class _Reader:
    """Turns one event's JSON into :class:`_Node` trees, names and values as the hash wants."""

    def __init__(self, event: Mapping[str, Any], context: Context) -> None:
        self.prefixes = {**_prefixes(context), **_prefixes(event.get("@context"))}
        self.vocabulary = _vocabulary(event, self.prefixes)

    def name(self, key: str) -> str:
        """``prefix:local`` with a declared prefix -> ``{namespace}local``."""
        prefix, colon, local = key.partition(":")
        return f"{{{self.prefixes[prefix]}}}{local}" if colon and prefix in self.prefixes else key

    def text(self, value: Any, where: str) -> str:
        """A value as text: a bare CBV or GS1 term as its IRI (the heuristic of
        :func:`_vocabulary`), a CURIE with a declared prefix expanded."""
        if isinstance(value, bool):
            return str(value)  # "True": the reference's Python spelling, where XML has "true"
        if isinstance(value, int | float):
            return str(value)
        if not isinstance(value, str):
            got = "null" if value is None else type(value).__name__
            raise EPCISFormatError(f"{where}: expected a string, number or boolean, got {got}")
        matches = [iri for iri in self.vocabulary if iri.endswith(("-" + value, "/" + value))]
        if len(matches) == 1:
            return matches[0]
        prefix, colon, rest = value.partition(":")
        return self.prefixes[prefix] + rest if colon and prefix in self.prefixes else value

    def fields(self, obj: Mapping[str, Any], where: str, depth: int = 0) -> tuple[_Node, ...]:
        if depth > MAX_DEPTH:
            raise EPCISFormatError(f"{where}: expected at most {MAX_DEPTH} levels of nesting")
        nodes: list[_Node] = []
        for key, value in obj.items():
            if key in _SKIPPED_KEYS:
                continue
            here, name = f"{where}.{key}", self.name(key)
            # A list holds one field per element; a single value is a list of one.
            items = (
                [(f"{here}[{i}]", item) for i, item in enumerate(value)]
                if isinstance(value, list)
                else [(here, value)]
            )
            if key in _PAIRS:
                members = tuple(self.pair(key, item, at) for at, item in items)
            elif name == "childEPCs" or name.endswith("List"):
                # As in XML: one xList field whose elements are named x (epc for childEPCs).
                member = "epc" if name == "childEPCs" else name[:-4]
                members = tuple(self.node(member, item, at, depth) for at, item in items)
            else:
                nodes.extend(self.node(name, item, at, depth) for at, item in items)
                continue
            if members:
                nodes.append(_Node(name, "", members, here))
        return tuple(nodes)

    def node(self, name: str, value: Any, where: str, depth: int) -> _Node:
        if isinstance(value, list):
            raise EPCISFormatError(f"{where}: expected a value or an object, got a nested list")
        if not isinstance(value, Mapping):
            return _Node(_RENAMED.get(name, name), self.text(value, where), (), where)
        text = self.text(value["#text"], f"{where}.#text") if "#text" in value else ""
        children = self.fields(value, where, depth + 1)
        if name == "quantity" and children:
            name = "quantityElement"  # a quantityList element, "quantity" once "List" is cut
        return _Node(_RENAMED.get(name, name), text, children, where)

    def pair(self, key: str, value: Any, where: str) -> _Node:
        """A bizTransaction, source or destination: type first, then the identifier. (The
        reference keeps the JSON order of the two; GS1's examples all put the type first.)"""
        ident = _PAIRS[key]
        if not isinstance(value, Mapping) or ident not in value:
            raise EPCISFormatError(f"{where}: expected an object with {ident!r}")
        if extra := sorted(set(value) - {"type", ident}):
            raise EPCISFormatError(f"{where}: expected only 'type' and {ident!r}, got {extra[0]!r}")
        names = ("type", ident) if "type" in value else (ident,)
        return _Node("", "", tuple(_Node(n, self.text(value[n], f"{where}.{n}")) for n in names))


# --- The pre-hash string ------------------------------------------------------------------------


def _is_extension(name: str) -> bool:
    """A user extension the reference places inside its parent: ``{namespace/}local``.

    A namespace that does not end in ``/`` is not recognised there, and such a field is hashed
    with the unordered remainder under its parent's path instead (GS1 SensorDataExample12).
    """
    return "{" in name and "/}" in name


def _unordered(nodes: Sequence[_Node]) -> str:
    """Fields outside the canonical order: ``name=value`` and children, sorted at each level
    (but a type stays before its bizTransaction, source or destination)."""
    parts = [
        node.name
        + (f"={_canonical_value(node.value.strip())}" if node.value.strip() else "")
        + _unordered(node.children)
        for node in nodes
    ]
    if not any(node.name in _PAIR_KEYS for node in nodes):
        parts.sort()
    return "".join(parts)


def _ordered(nodes: tuple[_Node, ...], order: _Order) -> tuple[str, tuple[_Node, ...]]:
    """The pre-hash string of ``nodes`` in ``order``, and the nodes (or parts of them) left over.

    Below the event, the reference recognises an element level by the absence of an eventTime
    or action child (a substring test on the names) and there appends the user extensions after
    the standard fields, if there are at least two children in all.
    """
    extensions: tuple[_Node, ...] = ()
    if len(nodes) > 1 and not any("eventTime" in n.name or "action" in n.name for n in nodes):
        extensions = tuple(n for n in nodes if _is_extension(n.name))
        nodes = tuple(n for n in nodes if not _is_extension(n.name))
    text: list[str] = []
    left = [n for n in nodes if n.name not in {name for name, _ in order}]
    for name, inner_order in order:
        same_name = []
        for node in (n for n in nodes if n.name == name):
            inner, rest = ("", node.children)
            if inner_order:
                inner, rest = _ordered(node.children, inner_order)
            value = node.value.strip()
            if value:
                value = "=" + (_utc_millis(value, node.where) if name in _TIMES
                               else _canonical_value(value))  # fmt: skip
            if value or inner:
                same_name.append(name + value + inner)
            if rest:
                left.append(replace(node, children=rest))
        text.extend(sorted(same_name))
    return "".join(text) + _unordered(extensions), tuple(left)


def _pre_hash(event: Mapping[str, Any], context: Context, where: str) -> str:
    if not isinstance(event, Mapping):
        raise EPCISFormatError(f"{where}: expected a JSON object, got {type(event).__name__}")
    kind = event.get("type")
    if not isinstance(kind, str) or kind not in EVENT_TYPES:
        raise EPCISFormatError(f"{where}.type: expected one of {sorted(EVENT_TYPES)}, got {kind!r}")
    time = event.get("eventTime")
    if not isinstance(time, str):
        raise EPCISFormatError(f"{where}.eventTime: expected an ISO 8601 time with offset")
    _utc_millis(time.strip(), f"{where}.eventTime")
    hashed = {key: value for key, value in event.items() if key not in _NOT_HASHED}
    ordered, left = _ordered(_Reader(event, context).fields(hashed, where), _EVENT_ORDER)
    return f"eventType={kind}{ordered}{_unordered(left)}"


def pre_hash_string(event: Mapping[str, Any], context: Context = None) -> str:
    """The CBV 2.0 pre-hash string of one EPCIS 2.0 JSON-LD event.

    ``context`` is the ``@context`` of the document the event came from: its prefixes name the
    namespaces of user extensions and expand CURIE values. Raises :class:`EPCISFormatError`.
    """
    return _pre_hash(event, context, "event")


def event_hash_id(event: Mapping[str, Any], context: Context = None) -> str:
    """The CBV 2.0 Event Hash ID, ``ni:///sha-256;<64 hex>?ver=CBV2.0``, of one event."""
    return _hash_id(_pre_hash(event, context, "event"))


def event_hash_ids(document: Mapping[str, Any]) -> list[str]:
    """The Event Hash IDs of the events of an EPCISDocument or EPCISQueryDocument, in order.

    Errors name the event: ``eventList[3].eventTime: expected ...``.
    """
    body = document.get("epcisBody") if isinstance(document, Mapping) else None
    if not isinstance(body, Mapping):
        raise EPCISFormatError("epcisBody: expected a JSON object")
    context = document.get("@context")
    if "event" in body:  # a query document with a single event
        return [_hash_id(_pre_hash(body["event"], context, "event"))]
    events = body.get("eventList")
    results = body.get("queryResults")
    if events is None and isinstance(results, Mapping):
        results_body = results.get("resultsBody")
        events = results_body.get("eventList") if isinstance(results_body, Mapping) else None
    if not isinstance(events, list):
        raise EPCISFormatError("epcisBody: expected an eventList, event or queryResults")
    return [_hash_id(_pre_hash(e, context, f"eventList[{i}]")) for i, e in enumerate(events)]


def _hash_id(pre_hash: str) -> str:
    return f"ni:///sha-256;{hashlib.sha256(pre_hash.encode()).hexdigest()}?ver=CBV2.0"


# --- Capture: an EPCIS event as an evledger record ----------------------------------------------
#
# A capture document carries each event's record signature beside it, as the user extension
# ``evl:proof`` (``evl`` declared as EVL_NAMESPACE in the document's ``@context``). The record an
# event becomes is built here, so that the client that signs it and the service that checks the
# signature build the same bytes.

#: The namespace of evledger's EPCIS user extensions; documents declare it as the prefix ``evl``.
EVL_NAMESPACE = "https://evledger.dev/ns/epcis/"
EVL_PREFIX = "evl"
#: The record signature of an event in a capture document (:class:`CaptureProof`).
PROOF = f"{EVL_PREFIX}:proof"
#: The ledger lot of the one trade item an event names, where its identifier carries another
#: lot (a supplier's label) or none.
LEDGER_LOT = f"{EVL_PREFIX}:lot"
#: A lot that has no GS1 identifier (no GTIN known): ``<EVL_NAMESPACE>lot/<percent-encoded lot>``.
LOT_URI = EVL_NAMESPACE + "lot/"
RECORD_TYPE = "epcis_event"
RECORD_SCHEMA = "epcis_event/1"
#: An event record's id is this and the hex of its Event Hash ID: one event, one record.
RECORD_ID_PREFIX = "epcis-"
#: Every epcis_event record is signed with this meaning.
MEANING = "recorded"
#: Largest event (compact JSON, UTF-8) and longest identifier list a record takes.
MAX_EVENT_BYTES = 64 * 1024
MAX_LIST_ITEMS = 1000
_MAX_TIME_CHARS = 64
_MAX_URI_CHARS = 2000
_ACTIONS = ("ADD", "OBSERVE", "DELETE")
_OFFSET = re.compile(r"[+-](?:(?:0\d|1[0-3]):[0-5]\d|14:00)")
_UOM = re.compile(r"[A-Z0-9]{2,3}")
_ID_LISTS = ("epcList", "inputEPCList", "outputEPCList", "childEPCs")
_QUANTITY_LISTS = ("quantityList", "inputQuantityList", "outputQuantityList", "childQuantityList")
_QUANTITY_KEYS = frozenset({"epcClass", "quantity", "uom"})
#: A ledger lot id (ledger.domain.schemas.LOT_PATTERN: GS1 AI 10 values and more); "." and ".."
#: cannot be one (a URL path cannot carry them).
_LOT = re.compile(r"[\x21-\x7e]{1,128}")
_SIGNATURE = re.compile(r"0x[0-9a-fA-F]{130}")
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
_HASH_ID = re.compile(r"ni:///sha-256;([0-9a-f]{64})\?ver=CBV2\.0")


def _ours(key: str, name: str, prefixes: Mapping[str, str]) -> bool:
    """Whether ``key`` is the user extension ``name`` of :data:`EVL_NAMESPACE`."""
    prefix, colon, local = key.partition(":")
    return key == EVL_NAMESPACE + name or (
        bool(colon) and local == name and prefixes.get(prefix) == EVL_NAMESPACE
    )


def extension(event: Mapping[str, Any], name: str, context: Context = None) -> Any:
    """The value of evledger's user extension ``name`` in ``event`` (None if absent), under any
    prefix that the document's or the event's ``@context`` maps to :data:`EVL_NAMESPACE`."""
    prefixes = {**_prefixes(context), **_prefixes(event.get("@context"))}
    return next((v for k, v in event.items() if _ours(k, name, prefixes)), None)


def check_event(event: Any, context: Context = None, where: str = "event") -> str:
    """Check that ``event`` is an EPCIS 2.0 event the ledger can record, in what the genealogy
    and the hash read, and return its Event Hash ID. Raises :class:`EPCISFormatError` naming
    the field, e.g. ``eventList[2].quantityList[0].uom: expected ...``.

    Beyond what :func:`event_hash_id` checks: an offset for ``eventTimeZoneOffset``; an
    ``action`` where the event type has one (and none on a TransformationEvent); identifier
    lists of at most :data:`MAX_LIST_ITEMS` strings; quantity elements ``{epcClass, quantity,
    uom}`` with a finite number and a UN/CEFACT Rec 20 code; ``readPoint`` and ``bizLocation``
    objects with an ``id``; no ``errorDeclaration`` (a ledger record is never changed: it has
    the hash of the event it declares erroneous, so it would collide with it); at most
    :data:`MAX_EVENT_BYTES`.
    """
    if not isinstance(event, Mapping):
        raise EPCISFormatError(f"{where}: expected a JSON object, got {_kind(event)}")
    kind = event.get("type")
    if not isinstance(kind, str) or kind not in EVENT_TYPES:
        raise EPCISFormatError(
            f"{where}.type: expected one of {sorted(EVENT_TYPES)}, got {_short(kind)}"
        )
    _check_context(event, where)
    time = event.get("eventTime")
    if not isinstance(time, str) or len(time) > _MAX_TIME_CHARS:
        raise EPCISFormatError(
            f"{where}.eventTime: expected an ISO 8601 time with offset, got {_short(time)}"
        )
    offset = event.get("eventTimeZoneOffset")
    if not isinstance(offset, str) or not _OFFSET.fullmatch(offset):
        raise EPCISFormatError(
            f"{where}.eventTimeZoneOffset: expected an offset -14:00 to +14:00 such as '+01:00', "
            f"got {_short(offset)}"
        )
    action = event.get("action")
    if kind == "TransformationEvent":
        if "action" in event:
            raise EPCISFormatError(f"{where}.action: a TransformationEvent has no action")
    elif action not in _ACTIONS:
        raise EPCISFormatError(
            f"{where}.action: expected one of {', '.join(_ACTIONS)}, got {_short(action)}"
        )
    if "errorDeclaration" in event:
        raise EPCISFormatError(
            f"{where}.errorDeclaration: not recorded: an error declaration keeps the hash of the "
            "event it declares erroneous, and a ledger record is never changed (submit a "
            "correction instead)"
        )
    for key in _ID_LISTS:
        for i, item in _list(event, key, where):
            if not isinstance(item, str) or not 0 < len(item) <= _MAX_URI_CHARS:
                raise EPCISFormatError(
                    f"{where}.{key}[{i}]: expected an identifier (a URI), got {_short(item)}"
                )
    for key in _QUANTITY_LISTS:
        for i, item in _list(event, key, where):
            _check_quantity(item, f"{where}.{key}[{i}]")
    for key in ("parentID", "bizStep", "disposition", "eventID", "transformationID"):
        if key in event and not isinstance(event[key], str):
            raise EPCISFormatError(f"{where}.{key}: expected a string, got {_short(event[key])}")
    for key in ("readPoint", "bizLocation"):
        value = event.get(key, {"id": ""})
        if not isinstance(value, Mapping) or not isinstance(value.get("id"), str):
            raise EPCISFormatError(f"{where}.{key}: expected an object with an id, got "
                                   f"{_short(value)}")  # fmt: skip
    for key in ("sourceList", "destinationList", "bizTransactionList"):
        _list(event, key, where)
    hash_id = _hash_id(_pre_hash(event, context, where))
    size = len(json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode())
    if size > MAX_EVENT_BYTES:
        raise EPCISFormatError(f"{where}: expected at most {MAX_EVENT_BYTES} bytes, got {size}")
    return hash_id


def _check_context(event: Mapping[str, Any], where: str) -> None:
    context = event.get("@context")
    entries = context if isinstance(context, list) else [context]
    if not all(e is None or isinstance(e, str | Mapping) for e in entries):
        raise EPCISFormatError(
            f"{where}.@context: expected a URL, an object of prefixes or a list of them, "
            f"got {_short(context)}"
        )


def _list(event: Mapping[str, Any], key: str, where: str) -> list[tuple[int, Any]]:
    value = event.get(key, [])
    if not isinstance(value, list):
        raise EPCISFormatError(f"{where}.{key}: expected a list, got {_kind(value)}")
    if len(value) > MAX_LIST_ITEMS:
        raise EPCISFormatError(
            f"{where}.{key}: expected at most {MAX_LIST_ITEMS} elements, got {len(value)}"
        )
    return list(enumerate(value))


def _check_quantity(item: Any, where: str) -> None:
    if not isinstance(item, Mapping) or not isinstance(item.get("epcClass"), str):
        raise EPCISFormatError(f"{where}: expected an object with an epcClass, got {_short(item)}")
    if extra := sorted(set(item) - _QUANTITY_KEYS):
        raise EPCISFormatError(
            f"{where}: expected only epcClass, quantity and uom, got {extra[0]!r}"
        )
    quantity = item.get("quantity", 0)
    if (
        isinstance(quantity, bool)
        or not isinstance(quantity, int | float)
        or not (math.isfinite(quantity) and quantity >= 0)
    ):
        raise EPCISFormatError(f"{where}.quantity: expected a number >= 0, got {_short(quantity)}")
    uom = item.get("uom", "EA")
    if not isinstance(uom, str) or not _UOM.fullmatch(uom):
        raise EPCISFormatError(
            f"{where}.uom: expected a UN/CEFACT Rec 20 code (2-3 of A-Z 0-9), got {_short(uom)}"
        )


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _short(value: Any) -> str:
    text = "nothing" if value is None else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


# -- GS1 identifiers in events ---------------------------------------------------------------


@dataclass(frozen=True)
class Identified:
    """What an identifier in an event names: a trade item (GTIN-14, and a lot or a serial or
    both), a logistic unit (SSCC), or a lot without GTIN (:data:`LOT_URI`)."""

    gtin: str | None = None
    lot: str | None = None
    serial: str | None = None
    sscc: str | None = None


_DL_SHORT = {"gtin": "01", "lot": "10", "ser": "21", "cpv": "22", "sscc": "00"}
_DL_URI = re.compile(r"https?://[^/?#]+(/[^?#]*)(?:[?#].*)?")
_LGTIN = re.compile(r"urn:epc:(class:lgtin|id:sgtin):(\d{6,12})\.(\d{1,7})\.(.+)")
_EPC_SSCC = re.compile(r"urn:epc:id:sscc:(\d{6,12})\.(\d{5,11})")


def identify(uri: Any) -> Identified | None:
    """What ``uri`` names, for a GS1 Digital Link URI (any domain, numeric or short AI names:
    ``/01/<gtin>[/22/<cpv>][/10/<lot>][/21/<serial>]``, ``/00/<sscc>``), an EPC URI (lgtin,
    sgtin, sscc) or a :data:`LOT_URI`; None for anything else, or a bad check digit.

    >>> identify("https://id.gs1.org/01/09506000134352/10/AB%2F1")
    Identified(gtin='09506000134352', lot='AB/1', serial=None, sscc=None)
    """
    if not isinstance(uri, str) or len(uri) > _MAX_URI_CHARS:
        return None
    if uri.startswith(LOT_URI):
        lot = urllib.parse.unquote(uri[len(LOT_URI) :])
        return Identified(lot=lot) if lot and "/" not in uri[len(LOT_URI) :] else None
    if m := _LGTIN.fullmatch(uri):
        scheme, gcp, ref, rest = m.groups()
        if len(gcp) + len(ref) != 13:
            return None
        gtin, value = _checked(ref[:1] + gcp + ref[1:]), urllib.parse.unquote(rest)
        return (
            Identified(gtin, value, None)
            if scheme == "class:lgtin"
            else Identified(gtin, None, value)
        )
    if m := _EPC_SSCC.fullmatch(uri):
        gcp, ref = m.groups()
        return Identified(sscc=_checked(ref[:1] + gcp + ref[1:])) if len(gcp + ref) == 17 else None
    if m := _DL_URI.fullmatch(uri):
        return _identify_path(m[1].split("/"))
    return None


def _identify_path(parts: list[str]) -> Identified | None:
    start = next((i for i, p in enumerate(parts) if _DL_SHORT.get(p, p) in ("00", "01")), None)
    rest = parts[start:] if start is not None else []
    if not rest or len(rest) % 2:
        return None
    values: dict[str, str] = {}
    for key, value in zip(rest[::2], rest[1::2], strict=True):
        key = _DL_SHORT.get(key, key)
        if key in values or key not in ("00", "01", "10", "21", "22") or not value:
            return None
        values[key] = urllib.parse.unquote(value)
    if "00" in values:
        sscc = values["00"]
        ok = len(values) == 1 and len(sscc) == 18 and sscc.isdigit() and _checked(sscc[:-1]) == sscc
        return Identified(sscc=sscc) if ok else None
    gtin = values["01"]
    if not (gtin.isascii() and gtin.isdigit() and len(gtin) in (8, 12, 13, 14)):
        return None
    gtin = gtin.zfill(14)
    if _checked(gtin[:-1]) != gtin:
        return None
    return Identified(gtin, values.get("10"), values.get("21"))


def ledger_lot(value: Any) -> str | None:
    """``value`` if it can be a ledger lot id, else None."""
    ok = isinstance(value, str) and _LOT.fullmatch(value) and value not in (".", "..")
    return value if ok else None


def event_lot(event: Mapping[str, Any], context: Context = None) -> str | None:
    """The one ledger lot an event is about, or None: its :data:`LEDGER_LOT`, else the one lot
    its identifiers name (a TransformationEvent's outputs, else its inputs; the other types'
    epcList, quantityList, childEPCs and childQuantityList)."""
    named = extension(event, LEDGER_LOT[len(EVL_PREFIX) + 1 :], context)
    if named is not None:
        return ledger_lot(named)
    if event.get("type") == "TransformationEvent":
        lots = _lots(event, ("outputEPCList", "outputQuantityList")) or _lots(
            event, ("inputEPCList", "inputQuantityList")
        )
    else:
        lots = _lots(event, ("epcList", "quantityList", "childEPCs", "childQuantityList"))
    return lots[0] if len(lots) == 1 else None


def _lots(event: Mapping[str, Any], keys: Sequence[str]) -> list[str]:
    found: dict[str, None] = {}
    for key in keys:
        for item in event.get(key) or ():
            uri = item.get("epcClass") if isinstance(item, Mapping) else item
            named = identify(uri)
            lot = ledger_lot(named.lot) if named is not None else None
            if lot is not None:
                found[lot] = None
    return list(found)


# -- The record ----------------------------------------------------------------------------------


def epcis_record_id(hash_id: str) -> str:
    """``epcis-<hex>``: the record id of the event with Event Hash ID ``hash_id``."""
    m = _HASH_ID.fullmatch(hash_id)
    if m is None:
        raise EPCISFormatError(f"event hash: expected ni:///sha-256;<64 hex>?ver=CBV2.0, got "
                               f"{_short(hash_id)}")  # fmt: skip
    return RECORD_ID_PREFIX + m[1]


def epcis_record(event: Any, context: Context = None, where: str = "event") -> dict[str, Any]:
    """The ``epcis_event/1`` record ``event`` becomes (``context``: its document's ``@context``).

    ``event``: the event as captured, without its :data:`PROOF`. ``context``: the prefixes of
    the document's ``@context`` that the event uses (in a key or a CURIE value), so that the
    record hashes the same without its document (``event_hash_id(event, context)``); left out
    when there are none. (They are not embedded in the event: GS1's reference generator hashes
    an event's own ``@context`` as if it were a field.) Then the event's Event Hash ID, the
    record id derived from it, and the lot it is about (:func:`event_lot`). Raises
    :class:`EPCISFormatError` (see :func:`check_event`).

    >>> event = {"type": "ObjectEvent", "eventTime": "2020-03-04T11:00:30+01:00",
    ...          "eventTimeZoneOffset": "+01:00", "action": "OBSERVE", "bizStep": "shipping",
    ...          "quantityList": [{"epcClass": "https://id.gs1.org/01/09506000134352/10/L1"}]}
    >>> record = epcis_record(event)
    >>> record["record_id"][:14], record["lot"], record["event"] == event
    ('epcis-ea0e6147', 'L1', True)
    """
    if not isinstance(event, Mapping):
        raise EPCISFormatError(f"{where}: expected a JSON object, got {_kind(event)}")
    _check_context(event, where)
    declared = _prefixes(context)
    own = _prefixes(event.get("@context"))
    proof = PROOF[len(EVL_PREFIX) + 1 :]
    bare = {k: v for k, v in event.items() if not _ours(k, proof, {**declared, **own})}
    used = {p: declared[p] for p in _prefixes_used(bare, declared) if p not in own}
    hash_id = check_event(bare, used, where)
    record: dict[str, Any] = {
        "record_id": epcis_record_id(hash_id),
        "type": RECORD_TYPE,
        "schema": RECORD_SCHEMA,
        "event": bare,
        "event_hash": hash_id,
    }
    if used:
        record["context"] = used
    lot = event_lot(bare, used)
    if lot is not None:
        record["lot"] = lot
    return record


def _prefixes_used(value: Any, prefixes: Mapping[str, str]) -> list[str]:
    """The prefixes of ``prefixes`` that a key or a string value in ``value`` starts with."""
    used: set[str] = set()
    stack = [value]
    while stack:
        item = stack.pop()
        texts: list[Any] = []
        if isinstance(item, Mapping):
            texts = [k for k in item if k != "@context"]
            stack.extend(v for k, v in item.items() if k != "@context")
        elif isinstance(item, list):
            stack.extend(item)
        else:
            texts = [item]
        for text in texts:
            if isinstance(text, str) and ":" in text and text.partition(":")[0] in prefixes:
                used.add(text.partition(":")[0])
    return sorted(used)


@dataclass(frozen=True)
class CaptureProof:
    """The signature of the record an event of a capture document becomes (its
    :data:`PROOF`): EIP-712 over the record id, type, record hash, :data:`MEANING` and
    ``signed_at``, exactly as for ``POST /v1/records``; ``signer`` optionally names the address
    expected to have signed."""

    record_id: str
    signature: str
    signed_at: int
    signer: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "record_id": self.record_id,
            "signature": self.signature,
            "signed_at": self.signed_at,
        }
        if self.signer is not None:
            out["signer"] = self.signer
        return out

    @classmethod
    def from_json(cls, value: Any, where: str = PROOF) -> CaptureProof:
        """Read a proof; :class:`EPCISFormatError` names the field that is wrong."""
        if not isinstance(value, Mapping):
            raise EPCISFormatError(
                f"{where}: expected an object {{record_id, signature, signed_at, signer?}} (the "
                f"record signature), got {_short(value) if value is not None else 'none'}"
            )
        if extra := sorted(set(value) - {"record_id", "signature", "signed_at", "signer"}):
            raise EPCISFormatError(f"{where}: unexpected field {extra[0]!r}")
        rid, sig, at, signer = (value.get(k) for k in ("record_id", "signature", "signed_at",
                                                          "signer"))  # fmt: skip
        if not isinstance(rid, str):
            raise EPCISFormatError(f"{where}.record_id: expected a string, got {_short(rid)}")
        if not isinstance(sig, str) or not _SIGNATURE.fullmatch(sig):
            raise EPCISFormatError(
                f"{where}.signature: expected 0x and 130 hex digits, got {_short(sig)}"
            )
        if isinstance(at, bool) or not isinstance(at, int) or not 0 <= at < 2**63:
            raise EPCISFormatError(
                f"{where}.signed_at: expected unix seconds (an integer), got {_short(at)}"
            )
        if signer is not None and (not isinstance(signer, str) or not _ADDRESS.fullmatch(signer)):
            raise EPCISFormatError(
                f"{where}.signer: expected 0x and 40 hex digits, got {_short(signer)}"
            )
        return cls(rid, sig, at, signer)
