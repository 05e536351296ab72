"""The HTTP API under ``/v1``. Routes are thin: parse, call the ledger, map errors once."""

from __future__ import annotations

import collections
import logging
import re
from pathlib import Path as FilePath
from typing import Annotated, Any, Literal

from fastapi import Body, Depends, FastAPI, Path, Query, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, PlainTextResponse, Response
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

from api import pages
from api.guard import RequestGuard
from api.openapi import customize
from api.pagination import DEFAULT_LIMIT, Cursor, Limit, link_next, page
from api.paths import EncodedSlashes, unquote_segment
from api.problems import bearer_challenge, problem, responses
from api.schemas import (
    BatchRequest,
    BatchResponse,
    CheckpointOut,
    ConsistencyProof,
    SubmitRequest,
    SubmitResponse,
)
from api.spc import routes as spc_routes
from api.views import (
    EpcisDocument,
    EquipmentDetail,
    EquipmentSummary,
    HealthReport,
    LotStatus,
    PublicLot,
    RecallScopeAnswer,
    Receipt,
    RecordView,
    SignerEntry,
    SpecificationDetail,
    SpecificationSummary,
    StatusReport,
    SupplierDetail,
    SupplierSummary,
    SupplierTrace,
    TraceView,
    TrustFile,
)
from ledger import certificate, epcis
from ledger.domain.epcis import MEDIA_TYPE as EPCIS_MEDIA_TYPE
from ledger.domain.schemas import ID_PATTERN, LOT_PATTERN
from ledger.errors import AuthorizationError, LedgerError, SignatureError, TooLargeError
from ledger.genealogy import MAX_DEPTH
from ledger.service import Ledger, Submission

__all__ = ["create_app"]

#: Problem answers of every route: bad query or path (422), the ledger's 503s.
_ERRORS = responses(422, 503)
#: ... of the routes that need a read token.
_READ_ERRORS = responses(401, 403, 404, 422, 503)
_PDF: dict[str, Any] = {
    "description": "A certificate of conformance (PDF)",
    "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
}
#: ... of the routes that take a body (the request guard: 400, 408, 413, 422).
_POST_ERRORS = responses(400, 401, 403, 404, 408, 409, 413, 422, 503)

#: The tags that group the routes in the API docs, in order.
TAGS = [
    {"name": "records", "description": "Submit signed records; read them (read token)"},
    {"name": "proofs", "description": "Receipts, checkpoints, consistency proofs: public"},
    {"name": "lots", "description": "Lot status, genealogy, recall scope, evidence (read token)"},
    {"name": "master data", "description": "Specifications, equipment, suppliers (read token)"},
    {"name": "epcis", "description": "GS1 EPCIS 2.0 documents"},
    {"name": "ledger", "description": "Identity (trust file), signer registry, counters"},
    {"name": "operations", "description": "Health and metrics"},
]

#: Where the pages' files are: the pages `make setup` builds (web/dist), Swagger UI's (npm);
#: package data of ``api``, links to those folders in a checkout, copies in a release's wheel.
DEFAULT_WEB_DIST = FilePath(__file__).resolve().parent / "web_dist"
DEFAULT_SWAGGER_DIST = FilePath(__file__).resolve().parent / "swagger_ui"


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


class TokenRefused(LedgerError):
    """A read token missing or refused: the ledger's error (its status, code and message),
    answered with the Bearer challenge ``challenge`` (RFC 6750 error code, or None when no
    token was sent)."""

    def __init__(
        self,
        cause: LedgerError,
        challenge: Literal["invalid_token", "insufficient_scope"] | None,
    ) -> None:
        super().__init__(str(cause), reasons=cause.reasons)
        self.status, self.code, self.challenge = cause.status, cause.code, challenge


def get_reader(
    ledger: LedgerDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> tuple[str, tuple[str, ...]]:
    if credentials is None:
        missing = SignatureError(
            "authorization: expected a read token: "
            "Authorization: Bearer $(evledger token --key KEYFILE)"
        )
        raise TokenRefused(missing, None)
    try:
        return ledger.reader(credentials.credentials)
    except AuthorizationError as exc:
        raise TokenRefused(exc, "insufficient_scope") from None
    except SignatureError as exc:
        raise TokenRefused(exc, "invalid_token") from None


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
    web_dist: FilePath | None = None,
    swagger_dist: FilePath | None = None,
    public_url: str | None = None,
) -> FastAPI:
    """The API over ``ledger``. ``web_dist``: the folder of the built verification page
    (``verify.html``; default ``web/dist`` of the checkout); ``swagger_dist``: Swagger UI's
    files (default ``node_modules/swagger-ui-dist``); ``public_url``: the address
    certificates print in their QR codes (default: the one a request came in on)."""
    app = FastAPI(
        title="evledger",
        version="0.1.0",
        description=_DESCRIPTION,
        openapi_tags=TAGS,
        docs_url=None,
        redoc_url=None,
    )
    customize(app)
    verify_page = pages.StaticPage((web_dist or DEFAULT_WEB_DIST) / "verify.html")
    assets = swagger_dist or DEFAULT_SWAGGER_DIST
    docs_html, docs_csp = pages.docs_page(app.openapi_url or "/openapi.json", "evledger API")
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
        status = exc.status if exc.status < 500 else 503
        challenge = exc.challenge if isinstance(exc, TokenRefused) else None
        headers = None
        if status == 401 or challenge is not None:
            # A 401 always names its scheme (RFC 9110 11.6.1); a record's bad signature too.
            headers = {"WWW-Authenticate": bearer_challenge(challenge)}
        return problem(status, exc.code, str(exc), headers, reasons=exc.reasons)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        detail = str(exc.detail)
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"path {request.url.path!r}: no such route (see /docs)"
        elif exc.status_code == 405 and detail == "Method Not Allowed":
            allowed = (exc.headers or {}).get("allow", (exc.headers or {}).get("Allow", ""))
            detail = f"method {request.method}: expected one of {allowed or 'none'} here"
        return problem(exc.status_code, code, detail, exc.headers)

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

    @app.post(
        "/v1/records",
        response_model=SubmitResponse,
        status_code=201,
        tags=["records"],
        summary="Submit a signed record",
        responses={
            200: {
                "model": SubmitResponse,
                "description": "Duplicate: the ledger already holds this very submission "
                "(same record, signer and meaning); nothing new is stored",
                "content": {"application/json": {"example": _DUPLICATE_EXAMPLE}},
            },
            201: {"description": "Accepted: stored, and promised to be sealed in time"},
            **_POST_ERRORS,
        },
    )
    async def submit(body: SubmitRequest, ledger: LedgerDep) -> JSONResponse:
        """A record signed as EIP-712 typed data (`evledger typed-data` prints what a wallet
        signs). Checked: the signature, the signer's authority at the signing time, the
        record's schema, the workflow and release rules. Idempotent on `record_id`: the same
        signed submission again answers 200 `duplicate`; other content under a used id, 409."""
        # Async: the group-commit thread does the work; no worker thread waits for it.
        result = await ledger.submit_async(
            Submission(body.record, body.signature, body.meaning, body.signed_at, body.signer)
        )
        submitted.labels("duplicate" if result.duplicate else "accepted").inc()
        return JSONResponse(result.to_json(), status_code=200 if result.duplicate else 201)

    @app.post(
        "/v1/records/batch",
        response_model=BatchResponse,
        responses=_POST_ERRORS,
        tags=["records"],
        summary="Submit many signed records",
    )
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

    read: dict[str, Any] = {"responses": _READ_ERRORS, "response_model_exclude_unset": True}

    @app.get("/v1/records/{record_id}", response_model=RecordView, tags=["records"], **read)
    def record(record_id: RecordId, ledger: LedgerDep, reader: ReaderDep) -> dict[str, Any]:
        """The record now, as first entered, its history and signature manifestation.
        Needs a read token (`evledger token`)."""
        return ledger.record_view(record_id)

    @app.get("/v1/lots/{lot}", response_model=LotStatus, tags=["lots"], **read)
    def lot(lot: LotId, ledger: LedgerDep, reader: ReaderDep) -> dict[str, Any]:
        """Lot status: state, inspections, open NCR / CAPA / alerts, release, timeline."""
        return ledger.lot(lot)

    listed: dict[str, Any] = {**read, "responses": _READ_ERRORS}

    @app.get(
        "/v1/specifications",
        response_model=list[SpecificationSummary],
        tags=["master data"],
        **listed,
    )
    def specifications(
        request: Request,
        response: Response,
        ledger: LedgerDep,
        reader: ReaderDep,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> list[dict[str, Any]]:
        """Every specification: product, stage, the version in force now, each version's
        state (in force, superseded, awaiting approval, approved and not yet effective).
        Paginated by `spec_id` (see the `Link` header)."""
        items, after = page(ledger.master.specifications(), _key("spec_id"), limit, cursor)
        link_next(request, response, limit, after)
        return items

    @app.get(
        "/v1/specifications/{spec_id}",
        response_model=SpecificationDetail,
        tags=["master data"],
        **read,
    )
    def specification(spec_id: RecordId, ledger: LedgerDep, reader: ReaderDep) -> dict[str, Any]:
        """A specification's versions: content, author, approval (the change and who
        approved it), when each came into force and was superseded."""
        return ledger.master.specification(spec_id)

    @app.get(
        "/v1/equipment",
        response_model=list[EquipmentSummary],
        tags=["master data"],
        **listed,
    )
    def equipment_list(
        request: Request,
        response: Response,
        ledger: LedgerDep,
        reader: ReaderDep,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> list[dict[str, Any]]:
        """Every instrument with its calibration status now. Paginated by `equipment_id`."""
        items, after = page(ledger.master.equipment_list(), _key("equipment_id"), limit, cursor)
        link_next(request, response, limit, after)
        return items

    @app.get(
        "/v1/equipment/{equipment_id}",
        response_model=EquipmentDetail,
        tags=["master data"],
        **read,
    )
    def equipment(equipment_id: RecordId, ledger: LedgerDep, reader: ReaderDep) -> dict[str, Any]:
        """An instrument, its calibrations, and the inspections an out-of-tolerance
        calibration made suspect (with their lots, and whether an NCR dispositioned them)."""
        return ledger.master.equipment(equipment_id)

    @app.get(
        "/v1/suppliers",
        response_model=list[SupplierSummary],
        tags=["master data"],
        **listed,
    )
    def suppliers(
        request: Request,
        response: Response,
        ledger: LedgerDep,
        reader: ReaderDep,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> list[dict[str, Any]]:
        """Every supplier with a status decision or a receipt: status now and performance
        (lots received, rejected at incoming inspection, NCRs). Paginated by `supplier_id`."""
        items, after = page(ledger.master.suppliers(), _key("supplier_id"), limit, cursor)
        link_next(request, response, limit, after)
        return items

    @app.get(
        "/v1/suppliers/{supplier_id}",
        response_model=SupplierDetail,
        tags=["master data"],
        **read,
    )
    def supplier(supplier_id: SupplierId, ledger: LedgerDep, reader: ReaderDep) -> dict[str, Any]:
        """A supplier's status history (who decided, when, why) and performance."""
        return ledger.master.supplier(supplier_id)

    @app.get(
        "/v1/lots/{lot}/evidence",
        response_class=Response,
        tags=["lots"],
        responses={200: _ZIP, **_READ_ERRORS},
    )
    def lot_evidence(lot: LotId, ledger: LedgerDep, reader: ReaderDep) -> Response:
        """The lot's evidence bundle (``evledger-bundle/1``, a zip) for `evledger-verify
        bundle`: every anchored record of the lot with what judging it needs, the proofs and a
        report."""
        return _zip(ledger.exporter.lot(lot), f"evidence-{lot}")

    @app.get(
        "/v1/evidence",
        response_class=Response,
        tags=["lots"],
        responses={200: _ZIP, **_READ_ERRORS},
    )
    def period_evidence(
        ledger: LedgerDep,
        reader: ReaderDep,
        start: Annotated[AwareDatetime, Query(alias="from")],
        end: Annotated[AwareDatetime, Query(alias="to")],
    ) -> Response:
        """The evidence bundle of the records accepted from ``from`` (inclusive) to ``to``."""
        return _zip(ledger.exporter.period(start, end), "evidence-period")

    @app.get(
        "/v1/lots/{lot}/certificate",
        response_class=Response,
        tags=["lots"],
        responses={200: _PDF, **_READ_ERRORS, **responses(409)},
    )
    def lot_certificate(
        lot: LotId, request: Request, ledger: LedgerDep, reader: ReaderDep
    ) -> Response:
        """The lot's certificate of conformance (PDF): lot, product, the release and who made
        it, inspections and concessions, and a QR code with the lot's GS1 Digital Link on this
        ledger carrying the release receipt, which the customer's browser verifies. A lot that
        is not released gets none: 409 with the reasons."""
        cert = certificate.issue(ledger, lot, public_url or str(request.base_url))
        name = re.sub(r"[^A-Za-z0-9._-]", "_", lot)
        return Response(
            certificate.render(cert),
            media_type="application/pdf",
            headers={"Content-Disposition": f'attachment; filename="coc-{name}.pdf"'},
        )

    @app.get(
        "/01/{gtin}/10/{lot}",
        tags=["lots"],
        response_model=PublicLot,
        responses={
            200: {
                "description": "The lot's public face: the verification page (HTML), or what "
                "its receipts make public (JSON, with Accept: application/json)",
                "content": {"text/html": {"schema": {"type": "string"}}},
            },
            **responses(404, 422),
        },
    )
    def digital_link(
        gtin: Annotated[str, PathParam(pattern=r"^[0-9]{8}$|^[0-9]{12,14}$")],
        lot: LotId,
        request: Request,
        ledger: LedgerDep,
    ) -> Any:
        """A lot's GS1 Digital Link on this ledger, as a certificate's QR code names it:
        browsers get the verification page, which verifies the receipt in the link's fragment
        on the visitor's device; `Accept: application/json` gets the lot's public face (its
        records' ids, types, hashes, signer addresses, meanings and times, and the newest
        anchor), never a record body."""
        public = ledger.public_lot(gtin, lot)
        if "text/html" in request.headers.get("accept", ""):
            return verify()
        return public

    @app.get("/v1/lots/{lot}/trace", response_model=TraceView, tags=["lots"], **read)
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

    @app.get("/v1/lots/{lot}/recall", response_model=RecallScopeAnswer, tags=["lots"], **read)
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

    @app.get(
        "/v1/suppliers/{supplier}/trace",
        response_model=SupplierTrace,
        tags=["master data"],
        **read,
    )
    def supplier_trace(
        supplier: SupplierId,
        ledger: LedgerDep,
        reader: ReaderDep,
        as_of: Annotated[AwareDatetime | None, Query()] = None,
    ) -> dict[str, Any]:
        """Every lot received from a supplier, forward to what was made from them and shipped."""
        return ledger.supplier_trace(supplier, as_of)

    @app.get(
        "/v1/suppliers/{supplier}/recall",
        response_model=RecallScopeAnswer,
        tags=["master data"],
        **read,
    )
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
        response_class=EpcisResponse,
        response_model=EpcisDocument,
        tags=["epcis"],
        responses={
            **_READ_ERRORS,
            200: {"description": "A GS1 EPCIS 2.0 EPCISDocument (JSON-LD)"},
        },
    )
    def lot_epcis(lot: LotId, ledger: LedgerDep, reader: ReaderDep) -> JSONResponse:
        """The lot's genealogy as a GS1 EPCIS 2.0 document: the events of the scans in its
        trace both ways, a TransformationEvent per lot made from inputs, and the EPCIS events
        captured earlier, each with its CBV 2.0 Event Hash ID as ``eventID``."""
        with ledger.engine.connect() as conn:
            document = epcis.lot_document(conn, lot)
        return EpcisResponse(document)

    @app.post(
        "/v1/epcis/capture",
        response_model=BatchResponse,
        responses=_POST_ERRORS,
        tags=["epcis"],
    )
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

    @app.get(
        "/v1/records/{record_id}/receipt",
        response_model=Receipt,
        tags=["proofs"],
        responses={
            200: {"description": "Anchored: the complete receipt"},
            202: {
                "model": Receipt,
                "description": "Accepted, not anchored yet: `status` pending (not sealed) or "
                "sealed, with the acceptance promise; ask again later",
            },
            **responses(404, 422, 503),
        },
    )
    def receipt(record_id: RecordId, ledger: LedgerDep) -> JSONResponse:
        """A record's proof-of-integrity receipt: public (it holds the record's hash, never
        its body); check it offline with `evledger-verify receipt` or the page `/verify`."""
        r = ledger.receipt(record_id)
        return JSONResponse(r, status_code=200 if r["status"] == "anchored" else 202)

    public: dict[str, Any] = {
        "responses": responses(404, 422, 503),
        "response_model_exclude_unset": True,
    }

    @app.get("/v1/checkpoints/latest", response_model=CheckpointOut, tags=["proofs"], **public)
    def latest_checkpoint(ledger: LedgerDep) -> dict[str, Any]:
        """The newest signed checkpoint (C2SP signed note) and where it is anchored."""
        return ledger.checkpoint()

    @app.get("/v1/checkpoints/{tree_size}", response_model=CheckpointOut, tags=["proofs"], **public)
    def checkpoint(
        tree_size: Annotated[int, Path(ge=1, lt=2**63)], ledger: LedgerDep
    ) -> dict[str, Any]:
        """The signed checkpoint of a tree size."""
        return ledger.checkpoint(tree_size)

    @app.get(
        "/v1/proofs/consistency",
        response_model=ConsistencyProof,
        tags=["proofs"],
        responses=responses(400, 404, 422, 503),
        response_model_exclude_unset=True,
    )
    def consistency(
        ledger: LedgerDep,
        first: Annotated[int, Query(ge=1, lt=2**63)],
        second: Annotated[int, Query(ge=1, lt=2**63)],
    ) -> dict[str, Any]:
        """The RFC 9162 consistency proof from tree size `first` to `second`."""
        return ledger.consistency(first, second)

    @app.get(
        "/v1/trust",
        response_model=TrustFile,
        tags=["ledger"],
        responses=_ERRORS,
        response_model_exclude_unset=True,
    )
    def trust(ledger: LedgerDep) -> dict[str, Any]:
        """The ledger's trust file (`evledger-trust/1`): what receipts are checked against.
        Pin it after comparing it with a copy you got another way; do not trust it blindly."""
        return ledger.trust()

    @app.get("/v1/signers", response_model=list[SignerEntry], tags=["ledger"], **listed)
    def signers(
        request: Request,
        response: Response,
        ledger: LedgerDep,
        reader: ReaderDep,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> list[dict[str, Any]]:
        """The signer registry: each key's printed name, roles, state and role history.
        Needs a read token (it names people). Paginated by address."""
        items, after = page(ledger.signers(), _address, limit, cursor)
        link_next(request, response, limit, after)
        return items

    @app.get(
        "/v1/status",
        response_model=StatusReport,
        tags=["ledger"],
        responses=_ERRORS,
        response_model_exclude_unset=True,
    )
    def status(ledger: LedgerDep) -> dict[str, Any]:
        """Counters: records, the seal queue, checkpoints, anchoring per chain."""
        return {
            **ledger.status(),
            "chain_id": ledger.identity.chain_id,
            "contract": ledger.identity.contract,
        }

    @app.get(
        "/healthz",
        response_model=HealthReport,
        tags=["operations"],
        responses={
            503: {"model": HealthReport, "description": "down: the database does not answer"}
        },
    )
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
        responses={
            200: {
                "content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}},
                "description": "Prometheus text exposition format",
            }
        },
        tags=["operations"],
    )
    def metrics(ledger: LedgerDep) -> Response:
        status = ledger.status()
        for chain in status.pop("chains"):
            for key, gauge in chain_gauges.items():
                gauge.labels(str(chain["chain_id"])).set(chain.get(key) or 0)
        for key, value in status.items():
            gauges[key].set(value or 0)
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    # -- pages ------------------------------------------------------------------------------

    @app.get("/", include_in_schema=False, response_class=HTMLResponse)
    def landing(ledger: LedgerDep) -> HTMLResponse:
        return HTMLResponse(
            pages.landing_page(ledger.trust()),
            headers={**pages.PAGE_HEADERS, "Content-Security-Policy": pages.LANDING_CSP},
        )

    @app.get("/verify", include_in_schema=False, response_class=HTMLResponse)
    def verify() -> Response:
        loaded = verify_page.load()
        if loaded is None:
            return problem(503, "not_built", "the verification page is not built: run make setup")
        data, sources = loaded
        return Response(
            data,
            media_type="text/html; charset=utf-8",
            headers={**pages.PAGE_HEADERS, "Content-Security-Policy": pages.verify_csp(sources)},
        )

    @app.get("/docs", include_in_schema=False, response_class=HTMLResponse)
    def docs() -> Response:
        return Response(
            docs_html,
            media_type="text/html; charset=utf-8",
            headers={**pages.PAGE_HEADERS, "Content-Security-Policy": docs_csp},
        )

    @app.get("/docs/assets/{name}", include_in_schema=False)
    def docs_asset(name: str) -> Response:
        media_type = pages.DOCS_ASSETS.get(name)
        if media_type is None:
            return problem(404, "not_found", f"docs asset {name!r}: no such file")
        path = assets / name
        if not path.is_file():
            return problem(
                503, "not_built", "the API docs' assets are not installed: run make setup"
            )
        return FileResponse(
            path,
            media_type=media_type,
            headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"},
        )

    from api.console import console_router  # here: it uses this module's dependencies

    app.include_router(console_router(web_dist or DEFAULT_WEB_DIST))
    app.include_router(spc_routes(get_reader))
    app.add_middleware(
        RequestGuard,
        limit=max_body_bytes,
        limits={"/v1/records/batch": max_batch_bytes, "/v1/epcis/capture": max_batch_bytes},
        body_timeout=body_timeout,
    )
    app.add_middleware(EncodedSlashes)
    return app


class EpcisResponse(JSONResponse):
    media_type = EPCIS_MEDIA_TYPE


def _key(name: str) -> Any:
    """The sort key of a list route's items: the member ``name``."""
    return lambda item: str(item[name])


def _address(signer: dict[str, Any]) -> str:
    return str(signer["address"]).lower()


_ZIP = {
    "description": "An evidence bundle (`evledger-bundle/1`, a zip) for `evledger-verify bundle`",
    "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
}

_DUPLICATE_EXAMPLE = {
    "record_id": "CHG-2026-0001-requested",
    "record_hash": "a320b801eadcdd5a494fe3099a995256ff0922c9a5177612e50a5556da557354",
    "leaf_hash": "81f9f1c3dc91dcc5ed7742627e8afad14d4f4ec80ac995c18c6dab7a0e7c63ba",
    "signer": "0x5adBE3d008A985F8d4878e958e6A84e60D577B1e",
    "accepted_at": "2026-11-30T14:14:18.710520Z",
    "status": "duplicate",
    "receipt_url": "/v1/records/CHG-2026-0001-requested/receipt",
}

_DESCRIPTION = """Blockchain-anchored evidence ledger for manufacturing quality records.

Errors are RFC 9457 problem details (`application/problem+json`): `type`
(`https://evledger.dev/problems/<error>`), `title`, `status`, `detail`, the `error` code and,
when there are several, `reasons`. A 401 carries `WWW-Authenticate: Bearer realm="evledger"`.

Routes marked with a lock need a read token: `Authorization: Bearer $(evledger token --key
KEYFILE)`. Receipts, checkpoints and proofs are public.

Lists are paginated with `limit` (default 100, at most 1000) and `cursor`: the body is a JSON
array; when more items follow, the `Link` header names the next page (`rel="next"`)."""


def _zip(data: bytes, name: str) -> Response:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:100]
    return Response(
        data,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{safe}.zip"'},
    )
