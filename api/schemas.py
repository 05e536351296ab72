"""Request and response bodies. Validation lives here; rules live in the ledger."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt


class SubmitRequest(BaseModel):
    """A record and the EIP-712 signature over it (see ``evledger typed-data``)."""

    model_config = ConfigDict(extra="forbid")

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
    record_id: str
    record_hash: str
    #: The RFC 9162 leaf hash of the logged entry (what the promise and the receipt name).
    leaf_hash: str
    signer: str
    accepted_at: str
    status: str
    receipt_url: str
    #: The log's signed promise (evledger-promise/1 note) to put the entry in a signed
    #: checkpoint by its deadline; check it with `evledger-verify promise`.
    promise: str | None = None


class Problem(BaseModel):
    error: str
    detail: str


class ConsistencyProof(BaseModel):
    first: int
    second: int
    proof: list[str]


class CheckpointOut(BaseModel):
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
