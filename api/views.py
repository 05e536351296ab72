"""The read routes' answers, typed. They describe what the ledger's views hold (see
:mod:`ledger.reads`, :mod:`ledger.master`, :mod:`ledger.genealogy`, :mod:`ledger.proofs`);
the routes validate each answer against them, so the OpenAPI description says what is served.

Every model allows members it does not list (``additionalProperties``): answers may gain keys,
as receipts do ("more may be added"), without breaking a client or the service. Times are
strings as the ledger writes them (ISO 8601, UTC, ``Z``); record contents (a record's
``current`` body, a product, a concession) are the signed JSON as it was submitted, described
by the record schemas of ``POST /v1/records``. Values are passed through as the ledger made
them: numbers keep their JSON type, keys absent stay absent.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "EpcisDocument",
    "EquipmentDetail",
    "EquipmentSummary",
    "HealthReport",
    "LotStatus",
    "PublicLot",
    "PublicRecord",
    "RecallScopeAnswer",
    "Receipt",
    "RecordView",
    "SignerEntry",
    "SpecificationDetail",
    "SpecificationSummary",
    "StatusReport",
    "SupplierDetail",
    "SupplierSummary",
    "SupplierTrace",
    "TraceView",
    "TrustFile",
]

_RECORD_HASH = "a320b801eadcdd5a494fe3099a995256ff0922c9a5177612e50a5556da557354"
_TX = "0x9071dcf53e6792d906b8e2c0ec97a7fff9d1959c88f51def1972128464797d1c"
_BLOCK = "0xaf8d5116422f5c6c5004c3e84d626427564a1b5a8c1ba23839017b712687a199"

#: A JSON number as the ledger wrote it (an integer stays an integer).
Number = int | float


class _Out(BaseModel):
    model_config = ConfigDict(extra="allow")


class Signature(_Out):
    """A signature's manifestation (21 CFR 11.50): who, printed name, when (UTC), meaning."""

    signer: str = Field(description="The signer's address (EIP-55)")
    printed_name: str | None = Field(description="The name the signer registry gave the key")
    signed_at: str = Field(description="Signing time, UTC")
    meaning: str = Field(description="authored, reviewed, approved, released, verified, recorded")


class SignedRecordRef(Signature):
    """A record named with its signature manifestation."""

    record_id: str


# -- records ----------------------------------------------------------------------------------


class RecordView(_Out):
    """A record now (corrections applied), as first entered, its history and signature."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "record_id": "CHG-2026-0001-requested",
                    "type": "change",
                    "record_hash": _RECORD_HASH,
                    "current": {
                        "record_id": "CHG-2026-0001-requested",
                        "type": "change",
                        "schema": "change/1",
                        "change_id": "CHG-2026-0001",
                        "step": "requested",
                        "reason": "Second source for the shaft tubing",
                        "description": "Qualify a second source of PEBAX tubing",
                    },
                    "signature": {
                        "signer": "0x5adBE3d008A985F8d4878e958e6A84e60D577B1e",
                        "printed_name": "Dana Inspector",
                        "signed_at": "2026-11-30T14:14:18Z",
                        "meaning": "authored",
                    },
                    "accepted_at": "2026-11-30T14:14:18.710520Z",
                    "changed_since_first_entry": False,
                    "history": [],
                    "original": None,
                    "lot": None,
                    "leaf_index": 25,
                    "receipt_url": "/v1/records/CHG-2026-0001-requested/receipt",
                }
            ]
        },
    )

    record_id: str
    type: str
    record_hash: str = Field(description="SHA-256 of the record's RFC 8785 form, hex")
    current: dict[str, Any] = Field(description="The record with its corrections applied")
    signature: Signature
    accepted_at: str
    changed_since_first_entry: bool
    history: list[dict[str, Any]] = Field(description="Each correction: old, new, who, when, why")
    original: dict[str, Any] | None = Field(description="The record as first entered, if changed")
    lot: Any = Field(description="The record's lot, if it names one")
    leaf_index: int | None = Field(description="Its leaf in the log (null until sealed)")
    receipt_url: str
    epcis_event_hash: str | None = Field(
        default=None, description="The CBV 2.0 Event Hash ID of a scan or captured EPCIS event"
    )


class ReceiptAnchor(_Out):
    """Where a checkpoint is anchored."""

    chain_id: int
    contract: str
    tx_hash: str
    block_number: int
    block_hash: str
    log_index: int


class Receipt(_Out):
    """A record's proof of integrity (``evledger-receipt/1``) once anchored; before that
    (202) its log entry, the acceptance ``promise`` and whatever proof exists yet."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "status": "anchored",
                    "format": "evledger-receipt/1",
                    "record_id": "CHG-2026-0001-requested",
                    "record_hash": _RECORD_HASH,
                    "leaf_hash": "81f9f1c3dc91dcc5ed7742627e8afad14d4f4ec80ac995c18c6dab7a0e7c63ba",
                    "leaf_index": 25,
                    "tree_size": 39,
                    "root_hash": "c603ffca1e7c827c49e9634d52af45b118523bbd195eb5c394238ffe3b74a8bb",
                    "inclusion_proof": [
                        "68b12a0ae2e6380162b24f43c00ed82a3b9a175faf1994bf7a3a78ffd451e60d"
                    ],
                    "checkpoint": "evledger/31337/0x39ef...\n39\nxgP/yh58...=\n\n— evledger/...\n",
                    "anchor": {
                        "chain_id": 31337,
                        "contract": "0x39Efb1e697E2615eA8F96a6e832Fb6fae1BcaFA3",
                        "tx_hash": _TX,
                        "block_number": 6,
                        "block_hash": _BLOCK,
                        "log_index": 0,
                    },
                }
            ]
        },
    )

    status: str = Field(description="pending (not sealed yet), sealed, or anchored")
    format: str | None = Field(default=None, description="evledger-receipt/1")
    record_id: str
    record_hash: str
    leaf_hash: str | None = None
    leaf_index: int | None = None
    tree_size: int | None = None
    root_hash: str | None = None
    inclusion_proof: list[str] | None = None
    checkpoint: str | None = Field(
        default=None, description="The signed note (C2SP tlog-checkpoint)"
    )
    anchor: ReceiptAnchor | None = None
    promise: str | None = Field(
        default=None, description="Before anchoring: the log's signed acceptance promise"
    )


# -- lots -------------------------------------------------------------------------------------


class LotInspection(_Out):
    record_id: str
    stage: str
    verdict: str
    specification: Any = Field(description="The specification cited: {spec_id, version}")
    critical_failures: list[str]
    changed_since_first_entry: bool
    signature: Signature


class OpenCapa(_Out):
    capa_id: str
    step: str
    due_by: str | None = None
    overdue: bool | None = None


class MasterDataFlag(_Out):
    kind: str
    text: str


class LotRelease(_Out):
    record_id: str
    decision: str = Field(description="released, rejected or quarantined")
    concession: Any = Field(description="The concession the release was made under, if any")
    signature: Signature


class LotHold(_Out):
    record_id: str
    type: str
    why: str


class LotFieldAction(_Out):
    record_id: str
    kind: str
    signature: Signature


class TimelineEntry(_Out):
    record_id: str
    type: str
    step: Any = Field(description="A workflow record's step")
    signature: Signature
    accepted_at: str
    changed_since_first_entry: bool


class PublicRecord(_Out):
    record_id: str
    type: str
    record_hash: str
    signer: str
    meaning: str
    signed_at: str
    accepted_at: str
    leaf_index: int | None = Field(description="Its place in the log; null until sealed")
    receipt_url: str


class PublicLot(_Out):
    """A lot's public face behind its GS1 Digital Link: what its receipts make public."""

    gtin: str
    lot: str
    records: list[PublicRecord]
    anchored: Any = Field(description="The newest anchor: {tree_size, chain_id, tx_hash}")


class LotStatus(_Out):
    """A lot as QA sees it: state, inspections, open NCR / CAPA / alerts, release, timeline."""

    lot: str
    product: Any = Field(description="{gtin, name} as the lot's records state it")
    state: str = Field(
        description="in_process, quarantined, released, rejected, on_hold or recalled"
    )
    inspections: list[LotInspection]
    open_ncrs: list[dict[str, Any]]
    open_capas: list[OpenCapa]
    open_alerts: list[str]
    master_data: list[MasterDataFlag]
    release: LotRelease | None
    release_blockers: list[str] = Field(description="Why a release would be refused now")
    holds: list[LotHold]
    field_actions: list[LotFieldAction]
    reopened_by: str | None
    changed_since_first_entry: list[str]
    timeline: list[TimelineEntry]


# -- genealogy --------------------------------------------------------------------------------


class TraceNode(_Out):
    lot: str
    depth: int
    gtin: str | None
    product: str | None
    state: str = Field(
        description="in_process, quarantined, released, on_hold, rejected or recalled (as the "
        "lot status, less excursions, floor alerts and master-data flags)"
    )
    open_ncrs: list[Any]
    suppliers: list[dict[str, Any]]
    shipments: list[dict[str, Any]]
    pallets: list[dict[str, Any]]


class TraceEdge(_Out):
    from_: str = Field(alias="from")
    to: str
    record_ids: list[str]


class TraceView(_Out):
    """A lot's genealogy one way: nodes with their status, edges with their proving records."""

    start: list[str]
    direction: str = Field(description="backward or forward")
    tree_size: int = Field(description="The log size the genealogy was read at")
    as_of: str | None
    nodes: list[TraceNode]
    edges: list[TraceEdge]
    truncated: str | None = Field(description="Why the trace stopped early, if it did")
    cycles: list[list[str]]


class SupplierTrace(TraceView):
    supplier: str


class RecallLot(_Out):
    lot: str
    depth: int
    gtin: str | None
    product: str | None
    state: str
    made_from: list[dict[str, Any]]


class RecallScope(_Out):
    """The recall scope (``evledger-recall-scope/1``) that a ``recall/1`` record signs by hash."""

    format: str
    origin: dict[str, str]
    origin_lots: list[str]
    tree_size: int
    lots: list[RecallLot]
    shipments: list[dict[str, Any]]
    consignees: list[str]
    truncated: str | None
    cycles: list[list[str]]


class RecallScopeAnswer(_Out):
    scope: RecallScope
    scope_sha256: str = Field(description="SHA-256 of the scope's RFC 8785 form, hex")


# -- master data ------------------------------------------------------------------------------


class SpecVersionState(_Out):
    version: int
    state: str = Field(
        description="in force, superseded, awaiting approval, approved, not yet effective"
    )


class SpecificationSummary(_Out):
    spec_id: str
    title: str
    product: Any
    stage: str
    in_force: int | None = Field(description="The version in force now")
    versions: list[SpecVersionState]


class SpecVersion(SpecVersionState):
    record_id: str
    change_id: str
    author: Signature
    approval: SignedRecordRef | None
    effective_from: str | None
    superseded_at: str | None
    title: str
    sampling_plan: Any
    sample_size: Any
    characteristics: list[dict[str, Any]]


class SpecificationDetail(SpecificationSummary):
    versions: list[SpecVersion]  # type: ignore[assignment]


class EquipmentSummary(_Out):
    equipment_id: str
    kind: str
    description: str | None
    location: str | None
    status: str = Field(description="usable or not usable")
    why: str | None = Field(description="Why it is not usable")
    valid_until: str | None
    last_calibration: str | None = Field(description="The record id of the last calibration")


class Calibration(_Out):
    record_id: str
    calibrated_at: str
    result: str
    as_found: str
    valid_until: str | None
    certificate: str | None
    signature: Signature


class SuspectInspection(_Out):
    inspection: str
    lot: str
    inspected_at: str
    calibration: str
    dispositioned: bool


class EquipmentDetail(EquipmentSummary):
    registered: SignedRecordRef
    calibrations: list[Calibration]
    impact: list[SuspectInspection] = Field(
        description="Inspections an out-of-tolerance calibration made suspect"
    )


class SupplierPerformance(_Out):
    lots_received: int
    receipts: int
    rejected_at_incoming_inspection: int
    ncrs: int


class SupplierSummary(_Out):
    supplier_id: str
    name: str | None
    status: str = Field(description="approved, conditional, disqualified or not approved")
    performance: SupplierPerformance


class SupplierDecision(_Out):
    status: str
    reason: str
    signature: Signature
    record_id: str


class SupplierPerformanceDetail(SupplierPerformance):
    lots: list[str]
    rejected_lots: list[str]
    ncr_ids: list[str]


class SupplierDetail(SupplierSummary):
    history: list[SupplierDecision]
    performance: SupplierPerformanceDetail


# -- the ledger -------------------------------------------------------------------------------


class TrustChain(_Out):
    chain_id: int
    contract: str


class TrustFile(_Out):
    """What an auditor pins (``evledger-trust/1``): the log's key and origin, the chains and
    contracts it is anchored on. Compare it with a copy obtained out of band."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "format": "evledger-trust/1",
                    "log_origin": "evledger/31337/0x39efb1e697e2615ea8f96a6e832fb6fae1bcafa3",
                    "log_public_key": "evledger/31337/0x39ef...+2f1d9a0c+AUpW...",
                    "chain_id": 31337,
                    "contract": "0x39Efb1e697E2615eA8F96a6e832Fb6fae1BcaFA3",
                }
            ]
        },
    )

    format: str
    log_origin: str
    log_public_key: str = Field(description="The log's Ed25519 key as a signed-note verifier key")
    chain_id: int
    contract: str
    chains: list[TrustChain] | None = None
    require: str | None = Field(default=None, description="any: an anchor on one chain suffices")


class SignerInterval(_Out):
    from_: int = Field(alias="from", description="Unix seconds")
    until: int | None
    roles: list[str]


class SignerEntry(_Out):
    """A key in the signer registry: printed name, roles now, state, and role history."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "address": "0x5adBE3d008A985F8d4878e958e6A84e60D577B1e",
                    "name": "Dana Inspector",
                    "roles": ["qa_inspector"],
                    "active": True,
                    "compromised": False,
                    "person": "0x5adbe3d008a985f8d4878e958e6a84e60d577b1e",
                    "intervals": [{"from": 1796048058, "until": None, "roles": ["qa_inspector"]}],
                }
            ]
        },
    )

    address: str
    name: str | None
    roles: list[str]
    active: bool
    compromised: bool
    person: str | None
    intervals: list[SignerInterval]


class ChainStatus(_Out):
    chain_id: int
    latest_anchored_checkpoint: int | None
    latest_final_checkpoint: int | None
    submitted_checkpoint: int | None
    submitted_s_ago: Number | None
    submitted_transactions: int
    anchor_round_failures: int | None = None
    anchor_tx_replacements: int | None = None


class StatusReport(_Out):
    """Counters: records, the seal queue, checkpoints, anchoring per chain."""

    records: int
    pending_seal: int
    latest_checkpoint: int | None
    latest_anchored_checkpoint: int | None
    latest_final_checkpoint: int | None
    anchor_lag_records: int
    anchor_lag_seconds: Number
    anchor_round_failures: int
    anchor_tx_replacements: int
    audit_alerts: int
    genealogy_projected: int
    chains: list[ChainStatus]
    chain_id: int
    contract: str


class WorkerHealth(_Out):
    ok: bool
    detail: str | None
    reported_s_ago: Number
    counters: dict[str, Any]


class HealthReport(_Out):
    """ok, degraded (with the reasons; records are still accepted and sealed) or down (503:
    the database does not answer). A health report, not a problem: ``status`` is a word."""

    status: str = Field(description="ok, degraded or down")
    reasons: list[str]
    workers: dict[str, WorkerHealth | None] | None = None
    anchor_lag_records: int | None = None
    anchor_lag_seconds: Number | None = None


class EpcisDocument(_Out):
    """A GS1 EPCIS 2.0 EPCISDocument (JSON-LD); see GS1's EPCIS 2.0 JSON schema."""

    context: Any = Field(alias="@context")
    type: str
    schemaVersion: str
    creationDate: str
    epcisBody: dict[str, Any]
