"""The HTTP API under ``/v1``. Routes are thin: parse, call the ledger, map errors once."""

from __future__ import annotations

import collections
import logging
import re
from typing import Annotated, Any, Literal

from fastapi import Body, Depends, FastAPI, Path, Query, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    generate_latest,
)
from pydantic import AfterValidator, AwareDatetime, TypeAdapter, ValidationError
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.guard import RequestGuard, problem
from api.paths import EncodedSlashes, unquote_segment
from api.schemas import (
    BatchRequest,
    BatchResponse,
    CheckpointOut,
    ConsistencyProof,
    Problem,
    SubmitRequest,
    SubmitResponse,
)
from ledger import epcis
from ledger.domain.epcis import MEDIA_TYPE as EPCIS_MEDIA_TYPE
from ledger.domain.schemas import ID_PATTERN, LOT_PATTERN
from ledger.errors import LedgerError, SignatureError, TooLargeError
from ledger.genealogy import MAX_DEPTH
from ledger.service import Ledger, Submission

__all__ = ["create_app"]

_ERRORS: dict[int | str, dict[str, Any]] = {
    s: {"model": Problem} for s in (400, 401, 403, 404, 409, 413, 422, 503)
}


async def get_ledger(request: Request) -> Ledger:
    ledger: Ledger = request.app.state.ledger
    return ledger


LedgerDep = Annotated[Ledger, Depends(get_ledger)]
#: The same shapes the records themselves must have, so no id reaches the database unchecked.
RecordId = Annotated[str, PathParam(pattern=ID_PATTERN)]
_LOT = re.compile(LOT_PATTERN.removesuffix("$"))


def _lot_segment(value: str) -> str:
    lot = unquote_segment(value)
    if not _LOT.fullmatch(lot):
        raise ValueError(f"expected a lot id (1-128 printable ASCII characters), got {lot!r}")
    return lot


def _supplier_segment(value: str) -> str:
    supplier = unquote_segment(value)
    if not 1 <= len(supplier) <= 200 or not supplier.isprintable():
        raise ValueError(f"expected a supplier name (1-200 printable characters), got {supplier!r}")
    return supplier


#: A supplier in a path: one segment, escaped like a lot.
SupplierId = Annotated[
    str, PathParam(min_length=1, max_length=600), AfterValidator(_supplier_segment)
]
#: A lot in a path: one segment, '/' sent as %2F and '%' as %25 (see api.paths).
LotId = Annotated[
    str, PathParam(pattern=r"^[\x21-\x2e\x30-\x7e]{1,384}$"), AfterValidator(_lot_segment)
]
log = logging.getLogger("evledger.api")
_bearer = HTTPBearer(auto_error=False, description="A read token from `evledger token`")


def get_reader(
    ledger: LedgerDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> tuple[str, tuple[str, ...]]:
    if credentials is None:
        raise SignatureError(
            "authorization: record bodies need a read token: "
            "Authorization: Bearer $(evledger token --key KEYFILE)"
        )
    return ledger.reader(credentials.credentials)


ReaderDep = Annotated[tuple[str, tuple[str, ...]], Depends(get_reader)]


def _validation_detail(errors: list[Any]) -> str:
    parts = []
    for err in errors[:10]:
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        parts.append(f"{where or 'body'}: {err.get('msg')}")
    return "; ".join(parts)


_SUBMIT_LIST = TypeAdapter(list[SubmitRequest])


def _submit_request(
    index: int, raw: dict[str, Any], invalid: dict[int, dict[str, Any]]
) -> SubmitRequest | None:
    """One batch item as a submission, or None with its refusal put in ``invalid``."""
    try:
        return SubmitRequest.model_validate(raw)
    except ValidationError as exc:
        record = raw.get("record")
        rid = record.get("record_id") if isinstance(record, dict) else None
        invalid[index] = {
            "index": index,
            "record_id": rid if isinstance(rid, str) else None,
            "status": "refused",
            "error": "invalid_request",
            "detail": _validation_detail(list(exc.errors())),
            "http_status": 422,
        }
        return None


def create_app(
    ledger: Ledger,
    max_body_bytes: int = 256 * 1024,
    *,
    max_batch_items: int = 1000,
    max_batch_bytes: int = 8 * 1024 * 1024,
    body_timeout: float = 10.0,
) -> FastAPI:
    app = FastAPI(
        title="evledger",
        version="0.1.0",
        description="Blockchain-anchored evidence ledger for manufacturing quality records.",
    )
    registry = CollectorRegistry()
    submitted = Counter(
        "evledger_records_submitted", "Submissions by outcome", ["outcome"], registry=registry
    )
    gauges = {
        key: Gauge(f"evledger_{key}", help_text, registry=registry)
        for key, help_text in (
            ("records", "Records accepted"),
            ("pending_seal", "Records waiting for the sealer"),
            ("latest_checkpoint", "Tree size of the newest signed checkpoint"),
            ("latest_anchored_checkpoint", "Tree size of the newest anchored checkpoint"),
            ("latest_final_checkpoint", "Tree size of the newest checkpoint anchored final"),
            ("anchor_round_failures", "Anchoring rounds that failed (chain or database errors)"),
            ("anchor_tx_replacements", "Anchor transactions replaced with higher fees"),
            ("audit_alerts", "Alerts raised by `evledger audit --every` (findings of damage)"),
            ("genealogy_projected", "Leaves of the log the lot genealogy has read"),
            ("anchor_lag_records", "Records in signed checkpoints not yet anchored"),
            ("anchor_lag_seconds", "How long the oldest unanchored checkpoint has waited"),
        )
    }

    chain_gauges = {
        key: Gauge(f"evledger_chain_{key}", help_text, ["chain_id"], registry=registry)
        for key, help_text in (
            ("latest_anchored_checkpoint", "Tree size of the newest checkpoint anchored there"),
            ("latest_final_checkpoint", "Tree size of the newest checkpoint anchored final there"),
            ("anchor_round_failures", "Anchoring rounds on this chain that failed"),
            ("anchor_tx_replacements", "Anchor transactions on this chain replaced"),
            ("submitted_transactions", "Anchor transactions sent there and not in a block yet"),
            ("submitted_s_ago", "Seconds since the oldest of those was sent"),
        )
    }

    app.state.ledger = ledger

    def batch_answer(results: list[dict[str, Any]]) -> JSONResponse:
        """Per-item results (batch route, EPCIS capture) with their counts, counted in
        the submission metrics by outcome (a refusal by its error code)."""
        counts = {"accepted": 0, "duplicate": 0, "refused": 0}
        outcomes: collections.Counter[str] = collections.Counter()
        for r in results:
            counts[r["status"]] += 1
            outcomes[r["error"] if r["status"] == "refused" else r["status"]] += 1
        for outcome, n in outcomes.items():
            submitted.labels(outcome).inc(n)
        return JSONResponse({"results": results, **counts})

    @app.exception_handler(LedgerError)
    async def ledger_error(request: Request, exc: LedgerError) -> JSONResponse:
        if request.method == "POST":
            submitted.labels(exc.code).inc()
        body: dict[str, Any] = {"error": exc.code, "detail": str(exc)}
        if exc.reasons:
            body["reasons"] = exc.reasons
        return JSONResponse(body, status_code=exc.status if exc.status < 500 else 503)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse(
            {"error": code, "detail": str(exc.detail)},
            status_code=exc.status_code,
            headers=exc.headers,
        )

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        # A bug, not bad input: log it with the request line, answer without internals.
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem(500, "internal_error", "internal error: the incident was logged")

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        if request.method == "POST":
            submitted.labels("invalid_request").inc()
        return problem(422, "invalid_request", _validation_detail(list(exc.errors())))

    @app.post("/v1/records", response_model=SubmitResponse, responses=_ERRORS, status_code=201)
    async def submit(body: SubmitRequest, ledger: LedgerDep) -> JSONResponse:
        # Async: the group-commit thread does the work; no worker thread waits for it.
        result = await ledger.submit_async(
            Submission(body.record, body.signature, body.meaning, body.signed_at, body.signer)
        )
        submitted.labels("duplicate" if result.duplicate else "accepted").inc()
        return JSONResponse(result.to_json(), status_code=200 if result.duplicate else 201)

    @app.post("/v1/records/batch", response_model=BatchResponse, responses=_ERRORS)
    def submit_batch(body: BatchRequest, ledger: LedgerDep) -> JSONResponse:
        """Many signed submissions in one request, each judged exactly as `POST /v1/records`
        judges one and answered on its own (`http_status` is what that route would answer).
        Good items are stored even when others are refused; items of one lot keep their
        order; of two items with one `record_id`, the first wins."""
        if len(body.items) > max_batch_items:
            raise TooLargeError(
                f"batch: expected at most {max_batch_items} items, got {len(body.items)}"
            )
        subs: list[Submission] = []
        positions: list[int] = []
        invalid: dict[int, dict[str, Any]] = {}
        try:  # the usual case, all items well-formed: validated in one call
            items: list[SubmitRequest | None] = list(_SUBMIT_LIST.validate_python(body.items))
        except ValidationError:
            items = [_submit_request(i, raw, invalid) for i, raw in enumerate(body.items)]
        for i, item in enumerate(items):
            if item is not None:
                subs.append(
                    Submission(
                        item.record, item.signature, item.meaning, item.signed_at, item.signer
                    )
                )
                positions.append(i)
        judged = ledger.submit_batch(subs)
        results: list[dict[str, Any]] = [{} for _ in body.items]
        for i, entry in invalid.items():
            results[i] = entry
        for pos, result in zip(positions, judged, strict=True):
            results[pos] = {**result.to_json(), "index": pos}
        return batch_answer(results)

    @app.get("/v1/records/{record_id}", responses=_ERRORS)
    def record(record_id: RecordId, ledger: LedgerDep, reader: ReaderDep) -> dict[str, Any]:
        """The record now, as first entered, its history and signature manifestation.
        Needs a read token (`evledger token`)."""
        return ledger.record_view(record_id)

    @app.get("/v1/lots/{lot}", responses=_ERRORS)
    def lot(lot: LotId, ledger: LedgerDep, reader: ReaderDep) -> dict[str, Any]:
        """Lot status: state, inspections, open NCR / CAPA / alerts, release, timeline."""
        return ledger.lot(lot)

    @app.get("/v1/specifications", responses=_ERRORS)
    def specifications(ledger: LedgerDep, reader: ReaderDep) -> list[dict[str, Any]]:
        """Every specification: product, stage, the version in force now, each version's
        state (in force, superseded, awaiting approval, approved and not yet effective)."""
        return ledger.master.specifications()

    @app.get("/v1/specifications/{spec_id}", responses=_ERRORS)
    def specification(spec_id: RecordId, ledger: LedgerDep, reader: ReaderDep) -> dict[str, Any]:
        """A specification's versions: content, author, approval (the change and who
        approved it), when each came into force and was superseded."""
        return ledger.master.specification(spec_id)

    @app.get("/v1/equipment", responses=_ERRORS)
    def equipment_list(ledger: LedgerDep, reader: ReaderDep) -> list[dict[str, Any]]:
        """Every instrument with its calibration status now."""
        return ledger.master.equipment_list()

    @app.get("/v1/equipment/{equipment_id}", responses=_ERRORS)
    def equipment(equipment_id: RecordId, ledger: LedgerDep, reader: ReaderDep) -> dict[str, Any]:
        """An instrument, its calibrations, and the inspections an out-of-tolerance
        calibration made suspect (with their lots, and whether an NCR dispositioned them)."""
        return ledger.master.equipment(equipment_id)

    @app.get("/v1/suppliers", responses=_ERRORS)
    def suppliers(ledger: LedgerDep, reader: ReaderDep) -> list[dict[str, Any]]:
        """Every supplier with a status decision or a receipt: status now and performance
        (lots received, rejected at incoming inspection, NCRs)."""
        return ledger.master.suppliers()

    @app.get("/v1/suppliers/{supplier_id}", responses=_ERRORS)
    def supplier(supplier_id: SupplierId, ledger: LedgerDep, reader: ReaderDep) -> dict[str, Any]:
        """A supplier's status history (who decided, when, why) and performance."""
        return ledger.master.supplier(supplier_id)

    @app.get("/v1/lots/{lot}/evidence", responses=_ERRORS, response_class=Response)
    def lot_evidence(lot: LotId, ledger: LedgerDep, reader: ReaderDep) -> Response:
        """The lot's evidence bundle (``evledger-bundle/1``, a zip) for `evledger-verify
        bundle`: every anchored record of the lot with what judging it needs, the proofs and a
        report."""
        return _zip(ledger.exporter.lot(lot), f"evidence-{lot}")

    @app.get("/v1/evidence", responses=_ERRORS, response_class=Response)
    def period_evidence(
        ledger: LedgerDep,
        reader: ReaderDep,
        start: Annotated[AwareDatetime, Query(alias="from")],
        end: Annotated[AwareDatetime, Query(alias="to")],
    ) -> Response:
        """The evidence bundle of the records accepted from ``from`` (inclusive) to ``to``."""
        return _zip(ledger.exporter.period(start, end), "evidence-period")

    @app.get("/v1/lots/{lot}/trace", responses=_ERRORS)
    def trace(
        lot: LotId,
        ledger: LedgerDep,
        reader: ReaderDep,
        direction: Annotated[Literal["backward", "forward"], Query()],
        depth: Annotated[int, Query(ge=1, le=MAX_DEPTH)] = MAX_DEPTH,
        as_of: Annotated[AwareDatetime | None, Query()] = None,
    ) -> dict[str, Any]:
        """The lots this lot was made from (backward, with their suppliers) or that were made
        from it (forward, with their shipments), each with its status, and every link with
        the records that prove it. ``as_of`` traces the graph as the ledger knew it then."""
        return ledger.trace(lot, direction, depth, as_of)

    @app.get("/v1/lots/{lot}/recall", responses=_ERRORS)
    def lot_recall(
        lot: LotId,
        ledger: LedgerDep,
        reader: ReaderDep,
        tree_size: Annotated[int | None, Query(ge=0, lt=2**63)] = None,
    ) -> dict[str, Any]:
        """The recall scope of a lot: every lot and consignee reached forward from it, with
        quantities and proving records, at a checkpoint's tree size (default the newest the
        genealogy has read), and its SHA-256, which a ``recall/1`` record signs."""
        return ledger.recall_scope(lot=lot, tree_size=tree_size)

    @app.get("/v1/suppliers/{supplier}/trace", responses=_ERRORS)
    def supplier_trace(
        supplier: SupplierId,
        ledger: LedgerDep,
        reader: ReaderDep,
        as_of: Annotated[AwareDatetime | None, Query()] = None,
    ) -> dict[str, Any]:
        """Every lot received from a supplier, forward to what was made from them and shipped."""
        return ledger.supplier_trace(supplier, as_of)

    @app.get("/v1/suppliers/{supplier}/recall", responses=_ERRORS)
    def supplier_recall(
        supplier: SupplierId,
        ledger: LedgerDep,
        reader: ReaderDep,
        tree_size: Annotated[int | None, Query(ge=0, lt=2**63)] = None,
    ) -> dict[str, Any]:
        """The recall scope of every lot received from a supplier (a supplier-caused recall)."""
        return ledger.recall_scope(supplier=supplier, tree_size=tree_size)

    @app.get(
        "/v1/lots/{lot}/epcis",
        response_class=JSONResponse,
        responses={
            **_ERRORS,
            200: {
                "content": {EPCIS_MEDIA_TYPE: {}},
                "description": "A GS1 EPCIS 2.0 EPCISDocument (JSON-LD)",
            },
        },
    )
    def lot_epcis(lot: LotId, ledger: LedgerDep, reader: ReaderDep) -> JSONResponse:
        """The lot's genealogy as a GS1 EPCIS 2.0 document: the events of the scans in its
        trace both ways, a TransformationEvent per lot made from inputs, and the EPCIS events
        captured earlier, each with its CBV 2.0 Event Hash ID as ``eventID``."""
        with ledger.engine.connect() as conn:
            document = epcis.lot_document(conn, lot)
        return JSONResponse(document, media_type=EPCIS_MEDIA_TYPE)

    @app.post("/v1/epcis/capture", response_model=BatchResponse, responses=_ERRORS)
    def epcis_capture(
        ledger: LedgerDep,
        document: Annotated[
            Any,
            Body(
                media_type=EPCIS_MEDIA_TYPE,
                description="An EPCIS 2.0 EPCISDocument whose events each carry `evl:proof`",
            ),
        ],
    ) -> JSONResponse:
        """Capture a GS1 EPCIS 2.0 document: each event becomes an `epcis_event/1` record, signed
        by a `system` signer whose signature the event carries as `evl:proof` {record_id,
        signature, signed_at, signer?} (`evl` = https://evledger.dev/ns/epcis/ in `@context`).
        The whole document is judged first; any problem refuses it, naming the event, and
        stores nothing. Answered per event like `POST /v1/records/batch`, with `event_hash`."""
        capture = epcis.prepare_capture(ledger.submitter, document, max_events=max_batch_items)
        results = capture.results(ledger.submit_batch(capture.submissions))
        return batch_answer(results)

    @app.get("/v1/records/{record_id}/receipt", responses=_ERRORS)
    def receipt(record_id: RecordId, ledger: LedgerDep) -> JSONResponse:
        r = ledger.receipt(record_id)
        return JSONResponse(r, status_code=200 if r["status"] == "anchored" else 202)

    @app.get("/v1/checkpoints/latest", response_model=CheckpointOut, responses=_ERRORS)
    def latest_checkpoint(ledger: LedgerDep) -> dict[str, Any]:
        return ledger.checkpoint()

    @app.get("/v1/checkpoints/{tree_size}", response_model=CheckpointOut, responses=_ERRORS)
    def checkpoint(
        tree_size: Annotated[int, Path(ge=1, lt=2**63)], ledger: LedgerDep
    ) -> dict[str, Any]:
        return ledger.checkpoint(tree_size)

    @app.get("/v1/proofs/consistency", response_model=ConsistencyProof, responses=_ERRORS)
    def consistency(
        ledger: LedgerDep,
        first: Annotated[int, Query(ge=1, lt=2**63)],
        second: Annotated[int, Query(ge=1, lt=2**63)],
    ) -> dict[str, Any]:
        return ledger.consistency(first, second)

    @app.get("/v1/trust")
    def trust(ledger: LedgerDep) -> dict[str, Any]:
        return ledger.trust()

    @app.get("/v1/signers")
    def signers(ledger: LedgerDep) -> list[dict[str, Any]]:
        return ledger.signers()

    @app.get("/v1/status")
    def status(ledger: LedgerDep) -> dict[str, Any]:
        return {
            **ledger.status(),
            "chain_id": ledger.identity.chain_id,
            "contract": ledger.identity.contract,
        }

    @app.get("/healthz")
    def healthz(ledger: LedgerDep) -> JSONResponse:
        """ok, or degraded with the reasons (200: records are still accepted and sealed);
        503 when the database does not answer."""
        try:
            report = ledger.health()
        except SQLAlchemyError as exc:
            detail = f"database: {exc.__class__.__name__}"
            return JSONResponse({"status": "down", "reasons": [detail]}, status_code=503)
        return JSONResponse(report)

    @app.get(
        "/metrics",
        response_class=PlainTextResponse,
        responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus"}},
    )
    def metrics(ledger: LedgerDep) -> Response:
        status = ledger.status()
        for chain in status.pop("chains"):
            for key, gauge in chain_gauges.items():
                gauge.labels(str(chain["chain_id"])).set(chain.get(key) or 0)
        for key, value in status.items():
            gauges[key].set(value or 0)
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    app.add_middleware(
        RequestGuard,
        limit=max_body_bytes,
        limits={"/v1/records/batch": max_batch_bytes, "/v1/epcis/capture": max_batch_bytes},
        body_timeout=body_timeout,
    )
    app.add_middleware(EncodedSlashes)
    return app


def _zip(data: bytes, name: str) -> Response:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:100]
    return Response(
        data,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{safe}.zip"'},
    )
