"""Request and response bodies. Validation lives here; rules live in the ledger."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt

_EXAMPLE_RECORD: dict[str, Any] = {
    "record_id": "CHG-2026-0001-requested",
    "type": "change",
    "schema": "change/1",
    "change_id": "CHG-2026-0001",
    "step": "requested",
    "reason": "Second source for the shaft tubing",
    "description": "Qualify Polymer Supply GmbH as a second source of PEBAX tubing",
}


class SubmitRequest(BaseModel):
    """A record and the EIP-712 signature over it (see ``evledger typed-data``)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "record": _EXAMPLE_RECORD,
                    "signature": "0x86fd6961a4ace7eaafa45b2c5dae3df15c5a16f2ac0e927d4dc830949268a1"
                    "6277be952d784df67a59a56606ac24b296116cc2cc3ffac5bebe3a8115d761c55f1b",
                    "meaning": "authored",
                    "signed_at": 1796048058,
                }
            ]
        },
    )

    record: dict[str, Any] = Field(description="The record: a JSON object with record_id, type")
    signature: str = Field(
        pattern=r"^0x[0-9a-fA-F]{130}$", description="65-byte secp256k1 signature, 0x hex"
    )
    meaning: str = Field(min_length=1, max_length=64, description="authored, approved, ...")
    signed_at: StrictInt = Field(ge=0, lt=2**63, description="signing time, unix seconds UTC")
    signer: str | None = Field(
        default=None,
        pattern=r"^0x[0-9a-fA-F]{40}$",
        description="optional: the address expected to have signed",
    )


class SubmitResponse(BaseModel):
    """A submission's answer: 201 ``accepted``, or 200 ``duplicate`` (already held)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "record_id": "CHG-2026-0001-requested",
                    "record_hash": "a320b801eadcdd5a494fe3099a995256ff0922c9a5177612e5055...",
                    "leaf_hash": "81f9f1c3dc91dcc5ed7742627e8afad14d4f4ec80ac995c18c6dab7a...",
                    "signer": "0x5adBE3d008A985F8d4878e958e6A84e60D577B1e",
                    "accepted_at": "2026-11-30T14:14:18.710520Z",
                    "status": "accepted",
                    "receipt_url": "/v1/records/CHG-2026-0001-requested/receipt",
                    "promise": "evledger-promise/1\n...",
                }
            ]
        }
    )

    record_id: str
    record_hash: str
    #: The RFC 9162 leaf hash of the logged entry (what the promise and the receipt name).
    leaf_hash: str
    signer: str
    accepted_at: str
    status: str = Field(description="accepted or duplicate")
    receipt_url: str
    #: The log's signed promise (evledger-promise/1 note) to put the entry in a signed
    #: checkpoint by its deadline; check it with `evledger-verify promise`.
    promise: str | None = None


class ConsistencyProof(BaseModel):
    """An RFC 9162 consistency proof between two tree sizes (hashes: lowercase hex)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"first": 3, "second": 7, "proof": ["68b1...", "f5d1..."]}]}
    )

    first: int
    second: int
    proof: list[str]


class CheckpointOut(BaseModel):
    """A signed checkpoint (C2SP tlog-checkpoint note) and its anchors."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "tree_size": 39,
                    "root_hash": "c603ffca1e7c827c49e9634d52af45b118523bbd195eb5c394238ffe3b74a8bb",
                    "checkpoint": "evledger/31337/0x39ef...\n39\nxgP/yh58...=\n\n— evledger/...\n",
                    "created_at": "2026-11-30T14:14:19.100000Z",
                    "anchored": True,
                    "anchor_tx_hash": "0x9071dcf5...",
                    "anchors": [{"chain_id": 31337, "tx_hash": "0x9071dcf5..."}],
                }
            ]
        }
    )

    tree_size: int
    root_hash: str
    checkpoint: str
    created_at: str
    anchored: bool
    #: The primary chain's anchor transaction (another chain's when only it holds this size).
    anchor_tx_hash: str | None
    #: Every chain's anchor of this checkpoint: ``{"chain_id": ..., "tx_hash": ...}``.
    anchors: list[dict[str, Any]] = []


class BatchRequest(BaseModel):
    """Up to the configured number of signed submissions (default 1,000), each exactly the body
    of ``POST /v1/records``; every item is judged and answered on its own."""

    model_config = ConfigDict(extra="forbid")

    items: list[dict[str, Any]] = Field(
        min_length=1,
        description="Signed submissions, each a POST /v1/records body",
        json_schema_extra={"items": {"$ref": "#/components/schemas/SubmitRequest"}},
    )


class BatchItemResult(BaseModel):
    index: int
    record_id: str | None
    status: str = Field(description="accepted, duplicate or refused")
    http_status: int = Field(description="the status the single route would have answered")
    record_hash: str | None = None
    leaf_hash: str | None = None
    signer: str | None = None
    accepted_at: str | None = None
    receipt_url: str | None = None
    promise: str | None = Field(default=None, description="the log's signed acceptance promise")
    error: str | None = None
    detail: str | None = None
    reasons: list[str] | None = None


class BatchResponse(BaseModel):
    results: list[BatchItemResult]
    accepted: int
    duplicate: int
    refused: int
