"""Typed, versioned record schemas. Every record names its schema (``"schema": "inspection/1"``);
the API validates it here, with messages that name the field.

Consistency is part of the schema: a measured value outside its limits cannot carry a pass
verdict, an inspection with a failed characteristic cannot pass, limits must be ordered.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Annotated, Any, ClassVar, Literal

from evledger_verify import content
from evledger_verify.epcis import EPCISFormatError, epcis_record
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from ledger.domain.authority import ROLES
from ledger.errors import InvalidRecordError

__all__ = ["ID_PATTERN", "LOT_PATTERN", "SCHEMAS", "gtin_check_digit", "parse_record"]

#: Record, entity and lot identifiers, as used everywhere (schemas, envelope, URL paths).
#: Anchored with ``$``, which in pydantic's and FastAPI's regex engine means end of text;
#: Python code matches these with ``re.fullmatch``.
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"
#: Lots are GS1 AI (10) values (CSET 82, '/' included); in a URL path a lot is one segment with
#: '/' as %2F and '%' as %25 (api.paths).
LOT_PATTERN = r"^[\x21-\x7e]{1,128}$"
Id = Annotated[str, Field(pattern=ID_PATTERN)]
Lot = Annotated[str, Field(pattern=LOT_PATTERN)]
Text = Annotated[str, Field(min_length=1, max_length=4000)]
Short = Annotated[str, Field(min_length=1, max_length=200)]
Reason = Annotated[str, Field(min_length=5, max_length=4000)]
Hash = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


def gtin_check_digit(body: str) -> int:
    """GS1 check digit: weights 3,1,3,... from the rightmost data digit."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10


def _valid_gtin(value: str) -> str:
    expected = gtin_check_digit(value[:-1])
    if expected != int(value[-1]):
        raise ValueError(f"{value}: GS1 check digit expected {expected}, got {value[-1]}")
    return value


def _ordered(name: str, lower: float | None, upper: float | None) -> None:
    """Limits, when both are given, in order."""
    if lower is not None and upper is not None and lower > upper:
        raise ValueError(f"{name}: lower limit {lower} above upper {upper}")


def _once(names: Sequence[str], what: str) -> None:
    """Each characteristic name once."""
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"characteristic {what} twice: {', '.join(repeated)}")


_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}\Z")
_PERSON = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,99}\Z")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Record(_Model):
    record_id: Id
    type: str
    schema_: str = Field(alias="schema")


class Product(_Model):
    gtin: Annotated[str, Field(pattern=r"^[0-9]{8}$|^[0-9]{12,14}$")]
    name: Short | None = None

    @field_validator("gtin")
    @classmethod
    def _gtin(cls, value: str) -> str:
        return _valid_gtin(value)


class Characteristic(_Model):
    name: Short
    method: Short | None = None
    unit: Annotated[str, Field(min_length=1, max_length=32)]
    lower: float | None = None
    upper: float | None = None
    value: float | str
    verdict: Literal["pass", "fail"]
    critical: bool = False
    #: Attribute sampling: nonconforming items found in the sample. The verdict is then the
    #: plan's (Ac / Re), and ``value`` the worst one measured, which may be out of limits.
    nonconforming: Annotated[int, Field(ge=0, le=10_000_000)] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Characteristic:
        _ordered(self.name, self.lower, self.upper)
        content.check_characteristic(self.__dict__)
        return self


class _InspectionBase(_Record):
    type: Literal["inspection"]
    lot: Lot
    stage: Literal["incoming", "in_process", "final"]
    product: Product
    sampling_plan: Short
    sample_size: Annotated[int, Field(ge=1, le=10_000_000)]
    verdict: Literal["pass", "fail"]
    inspected_at: AwareDatetime
    material_lot: Lot | None = None
    supplier: Short | None = None
    operation: Short | None = None
    notes: Text | None = None
    characteristics: Sequence[Characteristic]

    @model_validator(mode="after")
    def _verdict(self) -> _InspectionBase:
        content.check_inspection(
            {
                "schema": self.schema_,
                "verdict": self.verdict,
                "sampling": getattr(self, "sampling", None),
                "characteristics": [c.__dict__ for c in self.characteristics],
            }
        )
        return self


class Inspection(_InspectionBase):
    """An inspection as first defined: limits stated in the record itself, citing no
    specification. Kept readable for the records logged before specifications (docs/quality.md
    says how a ledger migrates); the service accepts new inspections only as inspection/2."""

    schema_: Literal["inspection/1"] = Field(alias="schema")
    characteristics: Annotated[Sequence[Characteristic], Field(min_length=1, max_length=500)]
    equipment: Annotated[list[Short], Field(max_length=100)] = []


class SpecRef(_Model):
    """The specification an inspection follows: its id and the version in force."""

    spec_id: Id
    version: Annotated[int, Field(ge=1, le=1_000_000)]


class MeasuredCharacteristic(Characteristic):
    #: The instrument that measured it (an ``equipment`` record's id).
    equipment: Id | None = None


class SamplingPlan(_Model):
    """A structured attribute sampling plan: the standard and edition, inspection level and AQL
    (as the specification states them), the severity the switching rules give now, and the lot
    size the sample is drawn from. Sample size and Ac / Re follow from the tables."""

    standard: Literal["ISO 2859-1:1999", "ANSI/ASQ Z1.4-2003"]
    level: Literal["S-1", "S-2", "S-3", "S-4", "I", "II", "III"]
    aql: Annotated[str, Field(pattern=r"^[0-9]+(\.[0-9]+)?$", max_length=8)]
    severity: Literal["normal", "tightened", "reduced"]
    lot_size: Annotated[int, Field(ge=2, le=10_000_000_000)]
    #: After the stream's inspection was discontinued (ISO 2859-1 9.4; Z1.4 8.4): the CAPA
    #: whose corrective action has been taken (step implementation or later). Inspection
    #: resumes, tightened.
    resumes: Id | None = None


class SpecSampling(_Model):
    """What a specification fixes of the sampling: standard, level and AQL."""

    standard: Literal["ISO 2859-1:1999", "ANSI/ASQ Z1.4-2003"]
    level: Literal["S-1", "S-2", "S-3", "S-4", "I", "II", "III"]
    aql: Annotated[str, Field(pattern=r"^[0-9]+(\.[0-9]+)?$", max_length=8)]


class Retest(_Model):
    """What a retest answers: the inspection whose result failed, and the OOS investigation
    (an NCR citing it) whose finding of an assignable cause invalidated that result."""

    of: Id
    ncr_id: Id


class InspectionV2(_InspectionBase):
    """An inspection that cites the approved specification in force at ``inspected_at``; its
    characteristics (names, methods, units, limits, critical flags) must be the
    specification's, each naming the equipment that measured it. A retest names the failed
    inspection and the investigation that allows it (``retest``)."""

    schema_: Literal["inspection/2"] = Field(alias="schema")
    specification: SpecRef
    characteristics: Annotated[
        Sequence[MeasuredCharacteristic], Field(min_length=1, max_length=500)
    ]
    retest: Retest | None = None
    sampling: SamplingPlan | None = None

    @model_validator(mode="after")
    def _measured_once(self) -> InspectionV2:
        _once([c.name for c in self.characteristics], "measured")
        return self


class Evidence(_Model):
    record_id: Id
    record_hash: Hash


class Concession(_Model):
    rationale: Annotated[str, Field(min_length=20, max_length=4000)]
    deviations: Annotated[list[Text], Field(min_length=1, max_length=50)]


class Release(_Record):
    type: Literal["release"]
    schema_: Literal["release/1"] = Field(alias="schema")
    lot: Lot
    product: Product
    decision: Literal["released", "rejected", "quarantined"]
    evidence: Annotated[list[Evidence], Field(max_length=1000)]
    statement: Text
    concession: Concession | None = None


class _Workflow(_Record):
    """A workflow record: one step per record; each step needs its own fields and may not
    carry another step's (a field is set by the step, and the role, that owns it)."""

    step: str

    @model_validator(mode="after")
    def _step_fields(self) -> _Workflow:
        content.check_step_fields(self.type, self.step, self.__dict__)
        return self


class NcrConcession(_Model):
    """A bounded concession (deviation permit): use as is, for these characteristics only, up
    to this quantity, until this time."""

    characteristics: Annotated[list[Short], Field(min_length=1, max_length=100)]
    quantity: Annotated[int, Field(ge=1, le=10_000_000_000)]
    unit: Annotated[str, Field(min_length=1, max_length=32)]
    valid_until: AwareDatetime

    @model_validator(mode="after")
    def _named_once(self) -> NcrConcession:
        _once(self.characteristics, "conceded")
        return self


class Ncr(_Workflow):
    """Nonconformance, one record per step: open -> evaluated -> dispositioned -> closed.

    The evaluation of a failed result is its OOS investigation: ``assignable_cause`` says
    whether it found one (a laboratory error, say) that invalidates the result, which alone
    allows a retest. A ``use_as_is`` disposition is a concession and says what it covers."""

    type: Literal["ncr"]
    schema_: Literal["ncr/1"] = Field(alias="schema")
    ncr_id: Id
    lot: Lot
    step: Literal["open", "evaluated", "dispositioned", "closed"]
    STEP_FIELDS: ClassVar[dict[str, tuple[str, ...]]] = content.STEP_FIELDS["ncr"]
    nature: Text | None = None
    refs: Annotated[list[Id], Field(max_length=100)] = []  # inspection records, alert ids
    evaluation: Text | None = None
    investigation: Text | None = None
    disposition: Literal["rework", "scrap", "use_as_is", "return"] | None = None
    rationale: Text | None = None
    capa_id: Id | None = None
    summary: Text | None = None
    assignable_cause: bool | None = None
    concession: NcrConcession | None = None

    @model_validator(mode="after")
    def _finding_and_concession(self) -> Ncr:
        content.check_ncr(self.__dict__)
        return self


class Capa(_Workflow):
    type: Literal["capa"]
    schema_: Literal["capa/1"] = Field(alias="schema")
    capa_id: Id
    step: Literal[
        "open",
        "investigation",
        "action_plan",
        "implementation",
        "effectiveness_check",
        "closed",
        "cancelled",
    ]
    STEP_FIELDS: ClassVar[dict[str, tuple[str, ...]]] = content.STEP_FIELDS["capa"]
    lot: Lot | None = None
    ncr_id: Id | None = None
    problem: Text | None = None
    root_cause: Text | None = None
    actions: Annotated[list[Text], Field(max_length=100)] | None = None
    #: When the actions are due (an open CAPA past it is overdue), and how long after the
    #: implementation the effectiveness check is planned (days).
    due_by: AwareDatetime | None = None
    check_after_days: Annotated[int, Field(ge=0, le=3660)] | None = None
    implemented: Text | None = None
    effective: bool | None = None
    no_adverse_effect: bool | None = None
    result: Text | None = None
    #: The records the effectiveness check rests on (inspections, readings since the action).
    data: Annotated[list[Id], Field(min_length=1, max_length=1000)] | None = None
    summary: Text | None = None
    reason: Reason | None = None


class ImpactAssessment(_Model):
    """A change's structured impact assessment (ISO 13485 §7.3.9, 21 CFR 820.70(b))."""

    risk: Literal["low", "medium", "high"]
    validation: bool
    training: bool
    documents: Annotated[list[Short], Field(max_length=50)] = []


class Change(_Workflow):
    type: Literal["change"]
    schema_: Literal["change/1"] = Field(alias="schema")
    change_id: Id
    step: Literal[
        "requested",
        "assessed",
        "approved",
        "implemented",
        "verified",
        "closed",
        "rejected",
        "withdrawn",
    ]
    STEP_FIELDS: ClassVar[dict[str, tuple[str, ...]]] = content.STEP_FIELDS["change"]
    reason: Reason | None = None
    description: Text | None = None
    #: The specification versions this change brings into force (named on ``requested``);
    #: they take effect when the change is approved (see :class:`Specification`).
    specifications: Annotated[list[SpecRef], Field(min_length=1, max_length=50)] | None = None
    #: On ``approved``: when the approved specification takes effect, if later than approval.
    effective_from: AwareDatetime | None = None
    impact: Text | None = None
    assessment: ImpactAssessment | None = None
    approval: Text | None = None
    rejection: Text | None = None
    withdrawal: Text | None = None
    implementation: Text | None = None
    verification: Text | None = None
    summary: Text | None = None

    @model_validator(mode="after")
    def _controls(self) -> Change:
        if self.specifications is not None and self.step != "requested":
            raise ValueError("a change names the specifications it brings into force on its "
                             "requested step only")
        if self.effective_from is not None and self.step != "approved":
            raise ValueError("change effective_from belongs to the approved step")
        return self


class SpecCharacteristic(_Model):
    """One characteristic a specification prescribes."""

    name: Short
    method: Short
    unit: Annotated[str, Field(min_length=1, max_length=32)]
    lower: float | None = None
    upper: float | None = None
    critical: bool = False
    #: The kind of instrument that must measure it (matched against ``equipment.kind``);
    #: when set, an inspection names the instrument for this characteristic.
    equipment_kind: Short | None = None

    @model_validator(mode="after")
    def _limits(self) -> SpecCharacteristic:
        _ordered(self.name, self.lower, self.upper)
        return self


class Specification(_Record):
    """A controlled inspection specification (ISO 13485 4.2.4): one version per record.

    It takes effect only through change control: the ``change`` named by ``change_id`` names
    this version on its ``requested`` step, and the version is in force from that change's
    ``approved`` step (signed by a QA approver who is not this record's author) until a later
    version of the same ``spec_id`` takes effect."""

    type: Literal["specification"]
    schema_: Literal["specification/1"] = Field(alias="schema")
    spec_id: Id
    version: Annotated[int, Field(ge=1, le=1_000_000)]
    title: Short
    product: Product
    stage: Literal["incoming", "in_process", "final"]
    sampling_plan: Short
    sample_size: Annotated[int, Field(ge=1, le=10_000_000)]
    characteristics: Annotated[list[SpecCharacteristic], Field(min_length=1, max_length=500)]
    change_id: Id
    #: The attribute sampling its inspections follow (their plan derives from it).
    sampling: SpecSampling | None = None

    @model_validator(mode="after")
    def _unique(self) -> Specification:
        _once([c.name for c in self.characteristics], "named")
        return self


class Equipment(_Record):
    """A monitoring or measuring instrument (ISO 13485 7.6), registered once; its status
    follows from its ``calibration`` records."""

    type: Literal["equipment"]
    schema_: Literal["equipment/1"] = Field(alias="schema")
    equipment_id: Id
    kind: Short
    description: Text | None = None
    location: Short | None = None


class Calibration(_Record):
    """A calibration of an instrument. ``result``: the instrument as left (pass: usable until
    ``valid_until``); ``as_found``: as it was found before any adjustment. Found out of
    tolerance, every inspection made with it since its last good calibration is suspect."""

    type: Literal["calibration"]
    schema_: Literal["calibration/1"] = Field(alias="schema")
    equipment_id: Id
    calibrated_at: AwareDatetime
    result: Literal["pass", "fail"]
    as_found: Literal["in_tolerance", "out_of_tolerance"]
    valid_until: AwareDatetime | None = None
    certificate: Short | None = None
    notes: Text | None = None

    @model_validator(mode="after")
    def _validity(self) -> Calibration:
        if self.result == "pass" and self.valid_until is None:
            raise ValueError("a passed calibration needs valid_until")
        if self.result == "fail" and self.valid_until is not None:
            raise ValueError("a failed calibration cannot carry valid_until")
        if self.valid_until is not None and self.valid_until <= self.calibrated_at:
            raise ValueError("valid_until must be after calibrated_at")
        return self


class Supplier(_Record):
    """A supplier's approval status (ISO 13485 7.4), set by a QA approver with a reason; the
    latest record before a receipt is the status that receipt is judged by."""

    type: Literal["supplier"]
    schema_: Literal["supplier/1"] = Field(alias="schema")
    supplier_id: Short
    name: Short
    status: Literal["approved", "conditional", "disqualified"]
    reason: Reason


class Gs1(_Model):
    """What a scan read: a trade item (GTIN, with lot, serial, expiry) or a logistic unit (an
    SSCC pallet label), or both."""

    gtin: Annotated[str, Field(pattern=r"^[0-9]{14}$")] | None = None
    lot: Lot | None = None
    serial: Annotated[str, Field(min_length=1, max_length=20)] | None = None
    expiry: Annotated[str, Field(pattern=r"^[0-9]{6}$")] | None = None
    sscc: Annotated[str, Field(pattern=r"^[0-9]{18}$")] | None = None

    @field_validator("gtin", "sscc")
    @classmethod
    def _check_digit(cls, value: str | None) -> str | None:
        return None if value is None else _valid_gtin(value)

    @field_validator("expiry")
    @classmethod
    def _expiry(cls, value: str | None) -> str | None:
        # YYMMDD; day 00 means the end of the month (GS1 General Specifications).
        if value is not None and not (1 <= int(value[2:4]) <= 12 and int(value[4:6]) <= 31):
            raise ValueError(f"{value}: expected a date YYMMDD")
        return value

    @model_validator(mode="after")
    def _identifies(self) -> Gs1:
        if self.gtin is None and self.sscc is None:
            raise ValueError("expected a GTIN (AI 01) or an SSCC (AI 00)")
        return self


class Scan(_Record):
    """A barcode read at a station. ``operation`` says what happened to what was scanned:

    - ``receive``: a material lot arrives (``supplier`` says from whom);
    - ``consume``: a material lot goes into the lot the station is producing (``lot``, else the
      station's last ``produce`` scan);
    - ``produce``: the station starts producing ``lot``;
    - ``pack``: a lot goes onto the pallet ``pallet`` (an SSCC);
    - ``ship``: a lot, or a pallet (``gs1.sscc``) with every lot on it, leaves for ``consignee``.

    ``lot`` is the ledger lot the scan belongs to; when absent, the scanned AI (10) lot is.
    """

    type: Literal["scan"]
    schema_: Literal["scan/1"] = Field(alias="schema")
    station: Short
    operation: Literal["receive", "consume", "produce", "pack", "ship"]
    gs1: Gs1
    lot: Lot | None = None
    consignee: Short | None = None
    supplier: Short | None = None
    pallet: Annotated[str, Field(pattern=r"^[0-9]{18}$")] | None = None
    quantity: Annotated[float, Field(gt=0, le=1e12)] | None = None
    unit: Annotated[str, Field(min_length=1, max_length=16)] | None = None
    scanned_at: AwareDatetime

    @model_validator(mode="after")
    def _operation_fields(self) -> Scan:
        op = self.operation
        if op == "ship" and self.consignee is None:
            raise ValueError("a ship scan needs consignee")
        if op == "pack" and self.pallet is None:
            raise ValueError("a pack scan needs pallet (the SSCC of the pallet)")
        if op != "ship" and self.consignee is not None:
            raise ValueError(f"a {op} scan cannot carry consignee")
        if op != "receive" and self.supplier is not None:
            raise ValueError(f"a {op} scan cannot carry supplier")
        if op != "pack" and self.pallet is not None:
            raise ValueError(f"a {op} scan cannot carry pallet")
        if self.gs1.gtin is None and op != "ship":
            raise ValueError(f"a {op} scan needs gs1.gtin (only a pallet is shipped by its SSCC)")
        # A scan that would link nothing in the genealogy is refused, not stored silently.
        if op == "consume" and self.gs1.lot is None:
            raise ValueError("a consume scan needs gs1.lot: the material lot consumed")
        if op == "consume" and self.lot is not None and self.lot == self.gs1.lot:
            raise ValueError(f"a consume scan cannot consume lot {self.lot} into itself")
        if op in ("produce", "pack") and self.lot is None and self.gs1.lot is None:
            raise ValueError(f"a {op} scan needs a lot (lot or gs1.lot)")
        if op == "ship" and self.gs1.gtin is not None and self.lot is None and self.gs1.lot is None:
            raise ValueError("a ship scan of a trade item needs a lot (lot or gs1.lot)")
        if self.pallet is not None:
            _valid_gtin(self.pallet)
        return self


class ReadingSource(_Model):
    """Where a PLC reading came from: the signed register map (its SHA-256) and the register's
    decoding, so a wrong word order or scale is traceable to the map that caused it."""

    map_sha256: Hash
    device_id: Annotated[int, Field(ge=0, le=255)]
    register_: Literal["holding", "input"] = Field(alias="register")
    address: Annotated[int, Field(ge=0, le=65535)]
    type: Literal["int16", "uint16", "int32", "uint32", "float32"]
    word_order: Literal["big", "little"]
    scale: float


class ProcessReading(_Record):
    type: Literal["process_reading"]
    schema_: Literal["process_reading/1"] = Field(alias="schema")
    tag: Short
    value: float
    unit: Annotated[str, Field(min_length=1, max_length=32)]
    lower: float | None = None
    upper: float | None = None
    lot: Lot | None = None
    line: Short | None = None
    read_at: AwareDatetime
    source: ReadingSource | None = None

    @model_validator(mode="after")
    def _limits(self) -> ProcessReading:
        _ordered(self.tag, self.lower, self.upper)
        return self


class Alert(_Record):
    type: Literal["alert"]
    schema_: Literal["alert/1"] = Field(alias="schema")
    alert_id: Id
    source: Literal["plc", "scanner", "audit", "manual"]
    severity: Literal["info", "warning", "critical"]
    lot: Lot | None = None
    description: Text
    #: The records the alert is raised on (e.g. the out-of-limit reading): records of its lot.
    #: An NCR that dispositions the alert covers them, and, for a reading, its whole excursion.
    refs: Annotated[list[Id], Field(max_length=100)] = []
    details: dict[str, Any] = {}


class Recall(_Record):
    """A recall, or a mock recall (``drill``), and the scope the ledger computed for it: every
    lot and consignee reached forward from ``lot`` (or from every lot received from
    ``supplier``) in the log up to ``tree_size``, committed to by ``scope_sha256`` (SHA-256 of
    the scope's RFC 8785 form). The service recomputes the scope and refuses a hash that
    differs; a regulator can do the same later, from the same log."""

    type: Literal["recall"]
    schema_: Literal["recall/1"] = Field(alias="schema")
    recall_id: Id
    lot: Lot | None = None
    supplier: Short | None = None
    drill: bool
    reason: Text
    tree_size: Annotated[int, Field(ge=0)]
    scope_sha256: Hash
    lots: Annotated[int, Field(ge=0)]
    shipments: Annotated[int, Field(ge=0)]
    consignees: Annotated[int, Field(ge=0)]
    computed_at: AwareDatetime
    elapsed_ms: Annotated[float, Field(ge=0)] | None = None

    @model_validator(mode="after")
    def _origin(self) -> Recall:
        if (self.lot is None) == (self.supplier is None):
            raise ValueError("a recall starts from a lot or from a supplier: expected exactly one")
        return self


class Review(_Record):
    """A co-signature: a second person's signed concurrence with a logged record, bound to
    its hash (a concession on a critical characteristic, a correction of a verdict)."""

    type: Literal["review"]
    schema_: Literal["review/1"] = Field(alias="schema")
    reviews: Id
    record_hash: Hash
    lot: Lot | None = None
    statement: Text


class Training(_Record):
    """A person's training or qualification for a task (21 CFR 211.25, 820.25; ISO 13485
    §6.2), recorded by QA; a policy may require a valid one for a signature."""

    type: Literal["training"]
    schema_: Literal["training/1"] = Field(alias="schema")
    person: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,99}$")]
    task: Short
    result: Literal["qualified", "not_qualified"]
    completed_at: AwareDatetime
    valid_until: AwareDatetime | None = None
    evidence: Text

    @model_validator(mode="after")
    def _window(self) -> Training:
        if self.valid_until is not None and self.valid_until <= self.completed_at:
            raise ValueError("training valid_until: expected after completed_at")
        return self


class Complaint(_Record):
    """A complaint received about a lot (21 CFR 820.198; ISO 13485 §8.2.2); on a released lot
    it puts the lot on hold until a hold record lifts it, citing its resolution."""

    type: Literal["complaint"]
    schema_: Literal["complaint/1"] = Field(alias="schema")
    complaint_id: Id
    lot: Lot
    received_at: AwareDatetime
    source: Short
    description: Text
    #: Whether it may be reportable to a regulator (an MDR / vigilance assessment follows).
    reportable: bool | None = None


class Hold(_Record):
    """A hold placed on a lot, or lifted: a lift names the holds it resolves (the records that
    put them: an NCR's open step, an alert, a complaint, a correction, a placed hold) and the
    records that resolve them."""

    type: Literal["hold"]
    schema_: Literal["hold/1"] = Field(alias="schema")
    hold_id: Id
    lot: Lot
    action: Literal["placed", "lifted"]
    reason: Text
    resolves: Annotated[list[Id], Field(max_length=100)] = []
    resolution: Annotated[list[Id], Field(max_length=100)] = []

    @model_validator(mode="after")
    def _lift_cites(self) -> Hold:
        lifting = self.action == "lifted"
        if lifting != bool(self.resolves) or lifting != bool(self.resolution):
            raise ValueError(
                "hold: a lift names the holds it resolves (resolves) and the records that "
                "resolve them (resolution); a placed hold names neither"
            )
        return self


class FieldAction(_Record):
    """A field action on a lot (21 CFR 806: recall, correction or removal); the lot is
    recalled from then on, never released again. ``recall_id``: the recall record whose scope
    it acts on."""

    type: Literal["field_action"]
    schema_: Literal["field_action/1"] = Field(alias="schema")
    field_action_id: Id
    lot: Lot
    kind: Literal["recall", "correction", "removal"]
    reason: Text
    recall_id: Id | None = None


class Validation(_Record):
    """A validation record: the SHA-256 of an operational qualification pack (``oq-pack``,
    ``make validation-pack``: requirements, the tests that ran, their results) or of an
    installation qualification report (``iq-selftest``, ``evledger selftest``), with its
    summary counts and the software it qualified. Logged, anchored and verified like any
    evidence, so the pack itself is tamper-evident; its approval is a QA approver's signed
    record too (meaning ``approved``, or a ``review/1`` of this record)."""

    type: Literal["validation"]
    schema_: Literal["validation/1"] = Field(alias="schema")
    validation_id: Id
    kind: Literal["oq-pack", "iq-selftest"]
    #: SHA-256 (hex) of the pack's JSON file, or of the report's RFC 8785 form.
    sha256: Hash
    outcome: Literal["passed", "failed"]
    #: Counts by name (passed, failed, skipped, errors, requirements, warnings, ...).
    summary: Annotated[
        dict[Annotated[str, Field(pattern=r"^[a-z_]{1,40}$")], int], Field(max_length=20)
    ]
    software: Short
    git_commit: Annotated[str, Field(pattern=r"^[0-9a-f]{7,64}(-dirty)?$")] | None = None
    host: Short | None = None
    description: Text
    details: dict[str, Any] = {}

    @model_validator(mode="after")
    def _counts(self) -> Validation:
        negative = sorted(k for k, v in self.summary.items() if v < 0)
        if negative:
            raise ValueError(f"summary: counts are never negative ({', '.join(negative)})")
        bad = self.summary.get("failed", 0) + self.summary.get("errors", 0)
        if self.outcome == "passed" and bad:
            raise ValueError(
                f"outcome: 'passed' with {bad} failed or erroneous item(s) in the summary"
            )
        return self


class Signer(_Record):
    """A registry change: grant (printed name, roles) or revoke (optionally: compromised)."""

    type: Literal["signer"]
    schema_: Literal["signer/1"] = Field(alias="schema")
    # Loosely typed so the checks below can say what is wrong in the registry's own terms.
    action: Any = None
    address: Any = None
    name: Any = None
    roles: Any = None
    compromised: Any = None
    #: The person the key belongs to (an employee id, say); one person may hold several keys.
    person: Any = None

    @model_validator(mode="after")
    def _rules(self) -> Signer:
        if self.action not in ("grant", "revoke"):
            raise ValueError(f"signer record action: expected grant or revoke, got {self.action!r}")
        if not isinstance(self.address, str) or not _ADDRESS.match(self.address):
            raise ValueError(f"signer record address: expected 0x and 40 hex, got {self.address!r}")
        if self.compromised is not None and (
            self.action != "revoke" or not isinstance(self.compromised, bool)
        ):
            raise ValueError("signer record compromised: expected true or false on a revoke")
        if self.person is not None and (
            self.action != "grant"
            or not isinstance(self.person, str)
            or not _PERSON.match(self.person)
        ):
            raise ValueError(
                "signer record person: expected, on a grant, the person's id (1-100 letters, "
                f"digits and . _ : @ -), got {self.person!r}"
            )
        if self.action == "grant":
            if not isinstance(self.name, str) or not 1 <= len(self.name.strip()) <= 200:
                raise ValueError("signer record name: expected the signer's printed name")
            roles = self.roles
            if (
                not isinstance(roles, list)
                or not roles
                or not all(isinstance(r, str) and r in ROLES for r in roles)
                or len(set(roles)) != len(roles)
            ):
                raise ValueError(
                    f"signer record roles: expected a non-empty list of {', '.join(ROLES)}; "
                    f"got {roles!r}"
                )
        return self


class Change_(_Model):
    path: Annotated[str, Field(pattern=r"^(/[^/]+)+$", max_length=300)]
    value: Any


class Correction(_Record):
    """A record is never changed: a correction references it, says why, and what changes."""

    type: Literal["correction"]
    schema_: Literal["correction/1"] = Field(alias="schema")
    corrects: Id
    lot: Lot | None = None
    reason: Reason
    changes: Annotated[list[Change_], Field(min_length=1, max_length=100)]


class EpcisEvent(_Record):
    """A GS1 EPCIS 2.0 event (JSON-LD, one element of an EPCISDocument's eventList), captured
    as evidence by an MES or WMS (``POST /v1/epcis/capture``, or ``POST /v1/records``).

    Everything but ``event`` and ``context`` follows from them
    (:func:`evledger_verify.epcis.epcis_record`, which the capturing client calls too):
    ``context`` holds the prefixes of the capture document's ``@context`` that the event uses;
    ``event_hash`` is its CBV 2.0 Event Hash ID, recomputed here; ``record_id`` is ``epcis-``
    and that hash's hex, so an event is recorded once; ``lot`` is the one lot the event is
    about, if there is one. The event is checked where the genealogy and the hash read it (type,
    eventTime with offset, eventTimeZoneOffset, action, identifier and quantity lists, at most
    64 KiB; see ``check_event``)."""

    type: Literal["epcis_event"]
    schema_: Literal["epcis_event/1"] = Field(alias="schema")
    event: dict[str, Any]
    context: (
        Annotated[
            dict[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")],
                 Annotated[str, Field(min_length=1, max_length=2000)]],
            Field(min_length=1, max_length=100),
        ]
        | None
    ) = None  # fmt: skip
    event_hash: Annotated[str, Field(pattern=r"^ni:///sha-256;[0-9a-f]{64}\?ver=CBV2\.0$")]
    lot: Lot | None = None

    @model_validator(mode="after")
    def _derived(self) -> EpcisEvent:
        # Raised as InvalidRecordError (pydantic passes it through) to name the field exactly.
        try:
            expected = epcis_record(self.event, self.context, where="record.event")
        except EPCISFormatError as exc:
            raise InvalidRecordError(str(exc)) from None
        if expected.get("context") != self.context:
            raise InvalidRecordError(
                f"record.context: expected {expected.get('context')!r} (the prefixes the event "
                f"uses), got {self.context!r}"
            )
        if expected["event"] != self.event:
            raise InvalidRecordError(
                "record.event: expected the event without evl:proof (the proof goes beside the "
                "event, in a capture document, not in the record)"
            )
        if self.event_hash != expected["event_hash"]:
            raise InvalidRecordError(
                f"record.event_hash: the event's CBV 2.0 Event Hash ID is "
                f"{expected['event_hash']}, the record says {self.event_hash}"
            )
        if self.record_id != expected["record_id"]:
            raise InvalidRecordError(
                f"record.record_id: expected {expected['record_id']!r} (from the event hash), "
                f"got {self.record_id!r}"
            )
        if self.lot != expected.get("lot"):
            raise InvalidRecordError(
                f"record.lot: expected {expected.get('lot')!r} (the one lot the event names), "
                f"got {self.lot!r}"
            )
        return self


SCHEMAS: dict[str, type[_Record]] = {
    "inspection/1": Inspection,
    "inspection/2": InspectionV2,
    "specification/1": Specification,
    "equipment/1": Equipment,
    "calibration/1": Calibration,
    "supplier/1": Supplier,
    "release/1": Release,
    "ncr/1": Ncr,
    "capa/1": Capa,
    "change/1": Change,
    "scan/1": Scan,
    "process_reading/1": ProcessReading,
    "alert/1": Alert,
    "recall/1": Recall,
    "signer/1": Signer,
    "review/1": Review,
    "complaint/1": Complaint,
    "training/1": Training,
    "hold/1": Hold,
    "field_action/1": FieldAction,
    "correction/1": Correction,
    "epcis_event/1": EpcisEvent,
    "validation/1": Validation,
}
_SCHEMA_ID = re.compile(r"^([a-z_]+)/([0-9]+)\Z")


def parse_record(record: dict[str, Any]) -> _Record:
    """Validate ``record`` against the schema it names; errors name the field."""
    schema = record.get("schema")
    if not isinstance(schema, str) or not _SCHEMA_ID.match(schema):
        raise InvalidRecordError(
            f"record.schema: expected a schema id such as 'inspection/1' "
            f"(known: {', '.join(SCHEMAS)}), got {schema!r}"
        )
    model = SCHEMAS.get(schema)
    if model is None:
        raise InvalidRecordError(
            f"record.schema: unknown schema {schema!r} (known: {', '.join(SCHEMAS)})"
        )
    if record.get("type") != schema.split("/")[0]:
        raise InvalidRecordError(
            f"record.type: schema {schema!r} is for type {schema.split('/')[0]!r}, "
            f"got {record.get('type')!r}"
        )
    try:
        return model.model_validate(record)
    except ValidationError as exc:
        parts = []
        for err in exc.errors()[:8]:
            where = ".".join(str(p) for p in err["loc"])
            msg = str(err["msg"]).removeprefix("Value error, ")
            parts.append(f"record.{where}: {msg}" if where else f"record: {msg}")
        raise InvalidRecordError("; ".join(parts)) from None
