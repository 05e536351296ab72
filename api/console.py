"""The QA console: the page (``/app``) and the read routes only it needs (``/v1/console/...``).

The page is one static file built by ``make setup`` (``web/dist/console.html``, from
``web/console``), served with a policy that allows exactly its inline script and style (by
SHA-256) and connects to this service only. Everything it shows comes from the API with a
read token the page makes on the user's device; it signs records there too. The routes here
add what no other route gives: the lots list with filters, the NCR and CAPA boards, and the
dashboard, once or as server-sent events (see :mod:`ledger.console_reads` for the indexes
they walk and their bounds).
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import time
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from evledger_verify.content import STEP_FIELDS
from evledger_verify.errors import FormatError
from evledger_verify.rules import MATRIX, NEXT_STEPS
from evledger_verify.tokens import parse_token
from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

from api import pages
from api.app import LedgerDep, ReaderDep
from api.pagination import DEFAULT_LIMIT, Cursor, Limit, decode_cursor, encode_cursor, link_next
from api.problems import problem, responses
from ledger.console_reads import (
    DASHBOARD_EVERY,
    EXPORT_BUDGET,
    EXPORT_ROWS,
    SCAN_BUDGET,
    ConsoleReads,
    LotFilter,
    TimelineFilter,
)
from ledger.service import Ledger

__all__ = ["console_csp", "console_router"]

_READ_ERRORS = responses(401, 403, 422, 503)
#: How often the event stream looks at the ledger's counters, and how long one stream lasts
#: at most (the page reconnects; a stream never outlives its read token).
POLL_SECONDS = 2.0
STREAM_SECONDS = 300.0


class _Out(BaseModel):
    model_config = ConfigDict(extra="allow")


class Signature(_Out):
    signer: str
    printed_name: str | None
    signed_at: str
    meaning: str


class LotRow(_Out):
    """One lot of the list: its status in brief."""

    lot: str
    product: Any = Field(description="{gtin, name} as the lot's records state it")
    state: str = Field(
        description="in_process, quarantined, released, rejected, on_hold or recalled"
    )
    lines: list[str] = Field(description="The line its first process reading or alert names")
    suppliers: list[str]
    first_at: str = Field(description="When its first record was accepted (UTC)")
    last_at: str
    records: int
    open_ncrs: int
    open_capas: int
    open_alerts: int
    release_blockers: int = Field(description="How many reasons a release would be refused now")
    release: str | None = Field(description="The last release decision, if any")


class BoardItem(_Out):
    """An NCR or a CAPA: its step, age and the steps the workflow allows next."""

    lot: str | None
    step: str
    opened_at: str
    age_days: float
    last_step_at: str
    last_signature: Signature
    next_steps: list[str] = Field(description="The steps the workflow allows next")
    records: list[str]
    summary: str | None


class NcrItem(BoardItem):
    ncr_id: str
    capa_id: str | None
    disposition: str | None


class CapaItem(BoardItem):
    capa_id: str
    ncr_id: str | None
    due_by: str | None
    overdue: bool


class YieldRow(_Out):
    key: str
    passed: int
    inspected: int
    yield_: float = Field(alias="yield")


class Dashboard(_Out):
    """Quality figures now, over the newest ``window`` records of each type."""

    as_of: str
    window: int
    records: int | None
    first_pass_yield: dict[str, list[YieldRow]] = Field(
        description="By product, line and supplier: of each lot and stage, the first "
        "inspection passed"
    )
    ncr: dict[str, Any]
    capa: dict[str, Any]
    release_cycle_hours: dict[str, Any] = Field(
        description="From a lot's first record to its release"
    )
    open_alerts: list[dict[str, Any]]
    open_alert_count: int
    anchoring: dict[str, Any]


class TimelineEntry(_Out):
    """One record of a timeline search, with its signature manifestation."""

    lot: str | None
    record_id: str
    type: str
    step: str | None = Field(description="The workflow step, for NCR, CAPA and change steps")
    line: str | None = Field(description="The record's line, or its lot's")
    suppliers: list[str] = Field(description="The supplier it names, or its lot's suppliers")
    signature: Signature
    accepted_at: str


#: The columns of a timeline CSV export.
TIMELINE_CSV = (
    "lot",
    "record_id",
    "type",
    "step",
    "line",
    "suppliers",
    "signer",
    "printed_name",
    "meaning",
    "signed_at",
    "accepted_at",
)


def csv_cell(value: Any) -> str:
    """A cell a spreadsheet shows as text: one starting with ``= + - @``, a tab or a
    carriage return (a formula to Excel, LibreOffice and Google Sheets) gets a leading
    apostrophe, as OWASP's CSV injection guidance says; quoting is csv.writer's."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _csv_line(cells: list[Any]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow([csv_cell(c) for c in cells])
    return out.getvalue()


def _timeline_csv_row(item: dict[str, Any]) -> list[Any]:
    sig = item["signature"]
    return [item["lot"], item["record_id"], item["type"], item["step"], item["line"],
            " ".join(item["suppliers"]), sig["signer"], sig["printed_name"], sig["meaning"],
            sig["signed_at"], item["accepted_at"]]  # fmt: skip


def _seq_cursor(value: str | None) -> str | None:
    """A timeline cursor names a record's position (``seq``) in the log."""
    if value is not None:
        key = decode_cursor(value)
        if not key.isdigit() or len(key) > 18:
            raise ValueError("cursor: expected the cursor of a previous page's Link rel=next URL")
    return value


#: The timeline's pagination cursor (a log position).
SeqCursor = Annotated[Cursor, AfterValidator(_seq_cursor)]


class Workflow(_Out):
    """The workflow rules the console's forms follow."""

    step_fields: dict[str, dict[str, list[str]]]
    next_steps: dict[str, dict[str, list[str]]] = Field(
        description="Per record type, step ('' before the first) -> the steps allowed next"
    )
    meanings: dict[str, dict[str, list[str]]] = Field(
        description="'type/step' ('*' any step) -> meaning -> roles that may sign it"
    )


def console_csp(sources: pages.CspSources) -> str:
    """The console's policy: its own inline script and style (by hash), nothing loaded from
    anywhere, and connections to this service only."""

    def listed(hashes: frozenset[str]) -> str:
        return " ".join(sorted(hashes)) if hashes else "'none'"

    return "; ".join(
        [
            "default-src 'none'",
            f"script-src {listed(sources.scripts)}",
            f"style-src {listed(sources.styles)}",
            "img-src 'self' data: blob:",
            "connect-src 'self'",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )


def _printable_cursor(value: str | None) -> str | None:
    """A cursor here names a lot or an NCR / CAPA id: printable, never a control character
    (which the database would refuse)."""
    if value is not None and not decode_cursor(value).isprintable():
        raise ValueError("cursor: expected the cursor of a previous page's Link rel=next URL")
    return value


#: The pagination cursor, whose key goes to the database.
KeyCursor = Annotated[Cursor, AfterValidator(_printable_cursor)]


def _reads(ledger: Ledger) -> ConsoleReads:
    reads: ConsoleReads | None = getattr(ledger, "_console_reads", None)
    if reads is None:
        reads = ConsoleReads(
            ledger.engine, ledger.reads.registry, ledger.policy, ledger.reads.clock
        )
        ledger._console_reads = reads  # type: ignore[attr-defined]
    return reads


def _after(cursor: str | None) -> str | None:
    return decode_cursor(cursor) if cursor is not None else None


def _next(request: Request, response: Response, limit: int, after: str | None) -> None:
    link_next(request, response, limit, encode_cursor(after) if after is not None else None)


def console_router(web_dist: Path) -> APIRouter:
    """The console's page and routes; ``web_dist`` holds ``console.html``."""
    router = APIRouter()
    page = pages.StaticPage(web_dist / "console.html")
    listed: dict[str, Any] = {"responses": _READ_ERRORS, "tags": ["console"]}

    @router.get("/app", include_in_schema=False)
    def app_page() -> Response:
        loaded = page.load()
        if loaded is None:
            return problem(503, "not_built", "the QA console is not built: run make setup")
        data, sources = loaded
        return Response(
            data,
            media_type="text/html; charset=utf-8",
            headers={**pages.PAGE_HEADERS, "Content-Security-Policy": console_csp(sources)},
        )

    @router.get("/v1/console/lots", response_model=list[LotRow], **listed)
    def lots(
        request: Request,
        response: Response,
        ledger: LedgerDep,
        reader: ReaderDep,
        state: Annotated[
            Literal["in_process", "quarantined", "released", "rejected", "on_hold", "recalled"]
            | None,
            Query(),
        ] = None,
        product: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
        line: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
        supplier: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
        start: Annotated[AwareDatetime | None, Query(alias="from")] = None,
        end: Annotated[AwareDatetime | None, Query(alias="to")] = None,
        open_: Annotated[Literal["ncr", "capa", "alert"] | None, Query(alias="open")] = None,
        limit: Limit = DEFAULT_LIMIT,
        cursor: KeyCursor = None,
    ) -> list[dict[str, Any]]:
        """Lots in order of their id, each with its status in brief, filtered by state,
        product (GTIN or part of the name), line, supplier, first record's time (`from`
        inclusive, `to` exclusive) and what is open (`ncr`, `capa`, `alert`). A page examines
        at most 500 lots: with a selective filter it may hold fewer than `limit`
        and still name a next page (`Link`)."""
        keep = LotFilter(state, product, line, supplier, start, end, open_)
        items, after = _reads(ledger).lots(keep, _after(cursor), min(limit, SCAN_BUDGET))
        _next(request, response, limit, after)
        return items

    @router.get(
        "/v1/console/timeline",
        response_model=list[TimelineEntry],
        responses={
            **_READ_ERRORS,
            200: {"content": {"text/csv": {"schema": {"type": "string"}}}},
        },
        tags=["console"],
    )
    def timeline(
        request: Request,
        response: Response,
        ledger: LedgerDep,
        reader: ReaderDep,
        lot: Annotated[str | None, Query(min_length=1, max_length=128)] = None,
        line: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
        supplier: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
        start: Annotated[AwareDatetime | None, Query(alias="from")] = None,
        end: Annotated[AwareDatetime | None, Query(alias="to")] = None,
        format_: Annotated[Literal["json", "csv"] | None, Query(alias="format")] = None,
        limit: Limit = DEFAULT_LIMIT,
        cursor: SeqCursor = None,
    ) -> Any:
        """Records in the order they were accepted, with their lot, step, line, suppliers
        and signature manifestation (printed name, meaning, UTC time), filtered by lot, line
        (the record's or its lot's), supplier (named by the record or its lot's incoming
        inspections and receive scans) and acceptance time (`from` inclusive, `to`
        exclusive). A page examines at most 5,000 records: with a selective filter it may
        hold fewer than `limit` and still name a next page (`Link`).

        `format=csv` (or `Accept: text/csv`) answers the whole range as CSV, streamed, at
        most 100,000 rows over at most 1,000,000 records examined; an export cut there ends
        with a row `# truncated` naming the cursor to continue from. Cells that a
        spreadsheet would take for a formula start with an apostrophe."""
        if start is not None and end is not None and end <= start:
            return problem(422, "invalid_request", "to: must be later than from")
        keep = TimelineFilter(lot, line, supplier, start, end)
        after = int(decode_cursor(cursor)) if cursor is not None else None
        reads = _reads(ledger)
        wants_csv = format_ == "csv" or (
            format_ is None and "text/csv" in request.headers.get("accept", "")
        )
        if wants_csv:
            return StreamingResponse(
                _timeline_export(reads, keep, after),
                media_type="text/csv; charset=utf-8",
                headers={
                    "Content-Disposition": 'attachment; filename="timeline.csv"',
                    "Cache-Control": "no-store",
                    "X-Content-Type-Options": "nosniff",
                },
            )
        items, last, _ = reads.timeline(keep, after, limit)
        _next(request, response, limit, str(last) if last is not None else None)
        return items

    def board(kind: str) -> Any:
        def route(
            request: Request,
            response: Response,
            ledger: LedgerDep,
            reader: ReaderDep,
            step: Annotated[str | None, Query(pattern=r"^[a-z_]{1,32}$")] = None,
            closed: Annotated[bool, Query()] = False,
            limit: Limit = DEFAULT_LIMIT,
            cursor: KeyCursor = None,
        ) -> list[dict[str, Any]]:
            items, after = _reads(ledger).board(
                kind, step, closed, _after(cursor), min(limit, SCAN_BUDGET)
            )
            _next(request, response, limit, after)
            return items

        return route

    router.get(
        "/v1/console/ncrs",
        response_model=list[NcrItem],
        summary="The NCR board",
        description="NCRs by id, open ones unless `closed=true` (or one `step`): step, age in "
        "days, lot, disposition, CAPA and the next allowed steps. Paginated (`Link`).",
        **listed,
    )(board("ncr"))
    router.get(
        "/v1/console/capas",
        response_model=list[CapaItem],
        summary="The CAPA board",
        description="CAPAs by id, open ones unless `closed=true` (or one `step`): step, age, "
        "due date, overdue, the next allowed steps. Paginated (`Link`).",
        **listed,
    )(board("capa"))

    @router.get(
        "/v1/console/workflow", response_model=Workflow, tags=["console"], responses=responses(422)
    )
    def workflow() -> dict[str, Any]:
        """What the console's forms follow besides the record schemas (public; rules, not
        data): the fields each workflow step owns, which step may follow which, and the
        meanings each record type and step may be signed with, with the roles allowed."""
        return {
            "step_fields": {k: {s: list(f) for s, f in v.items()} for k, v in STEP_FIELDS.items()},
            "next_steps": {
                k: {s or "": list(n) for s, n in v.items()} for k, v in NEXT_STEPS.items()
            },
            "meanings": {
                f"{rtype}/{step}": {m: list(r) for m, r in rule.items()}
                for (rtype, step), rule in MATRIX.items()
            },
        }

    @router.get("/v1/console/dashboard", response_model=Dashboard, **listed)
    def dashboard(ledger: LedgerDep, reader: ReaderDep) -> dict[str, Any]:
        """First-pass yield by product, line and supplier; NCR count and age; CAPA on-time
        closure; release cycle time; open alerts; anchoring lag. Over the newest 5,000
        records of each type; may be up to 2 s old.

        Live: `GET /v1/console/dashboard/events` (same token) answers server-sent events,
        `event: dashboard` with this object as `data`, at once and whenever the ledger's
        counters change; the stream ends (`event: end`) before the token expires and after
        five minutes at most."""
        return _reads(ledger).dashboard(ledger.status(), max_age=DASHBOARD_EVERY)

    # Not in the OpenAPI description (an endless stream is no operation to fuzz or to call
    # from the API docs); the dashboard route's description names it.
    @router.get("/v1/console/dashboard/events", include_in_schema=False)
    async def dashboard_events(
        request: Request, ledger: LedgerDep, reader: ReaderDep
    ) -> StreamingResponse:
        """The dashboard as server-sent events: sent at once, then again when the ledger's
        record count changes (checked every few seconds). The stream ends before the read
        token expires, and after a few minutes at most; reconnect with a fresh token."""
        header = request.headers.get("authorization", "")
        expires = _token_expiry(header)
        reads = _reads(ledger)

        async def events() -> AsyncIterator[bytes]:
            stop = time.monotonic() + min(STREAM_SECONDS, max(0.0, expires - time.time()))
            seen: Any = None
            quiet = 0.0
            while time.monotonic() < stop:
                if await request.is_disconnected():
                    return
                status = await run_in_threadpool(ledger.status)
                count = (status.get("records"), status.get("latest_anchored_checkpoint"))
                if count != seen:
                    seen = count
                    figures = await run_in_threadpool(reads.dashboard, status)
                    yield f"event: dashboard\ndata: {json.dumps(figures)}\n\n".encode()
                    quiet = 0.0
                elif quiet >= 15:
                    yield b": keep-alive\n\n"
                    quiet = 0.0
                await asyncio.sleep(POLL_SECONDS)
                quiet += POLL_SECONDS
            yield b"event: end\ndata: {}\n\n"

        return StreamingResponse(
            events(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    return router


def _timeline_export(
    reads: ConsoleReads, keep: TimelineFilter, after: int | None
) -> Iterator[bytes]:
    """A timeline search as CSV, page after page, until the range ends or the caps."""
    yield _csv_line(list(TIMELINE_CSV)).encode()
    known: dict[str, tuple[str | None, list[str]]] = {}
    ends: dict[datetime, int] = {}
    rows = examined = 0
    while True:
        want = min(1000, EXPORT_ROWS - rows)
        budget = min(20_000, EXPORT_BUDGET - examined)
        items, after, seen = reads.timeline(keep, after, want, budget, known, ends)
        rows += len(items)
        examined += seen
        if items:
            yield "".join(_csv_line(_timeline_csv_row(i)) for i in items).encode()
        if after is None:
            return
        if rows >= EXPORT_ROWS or examined >= EXPORT_BUDGET:
            note = f"# truncated after {rows} rows and {examined} records examined"
            yield _csv_line([note, f"cursor={encode_cursor(str(after))}"]).encode()
            return
        if len(known) > 50_000:
            known.clear()


def _token_expiry(header: str) -> float:
    """The expiry time a (verified) read token states."""
    try:
        return float(parse_token(header.split(None, 1)[1])[1])
    except (IndexError, FormatError):
        return time.time() + 60
