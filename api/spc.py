"""SPC chart reads: ``GET /v1/spc`` (the charted characteristics) and ``GET /v1/spc/{id}``
(one chart: points, centre line, control and specification limits, violations of the run
rules with the alert each raised, Cp / Cpk / Pp / Ppk). Both need a read token.

The routes are made by :func:`routes`, given the app's read-token dependency (so this module
does not import :mod:`api.app`, which registers it). Annotations are evaluated at definition
(no ``from __future__ import annotations``): FastAPI reads the dependency from them.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from api.problems import responses
from ledger.errors import NotFoundError
from ledger.service import Ledger
from ledger.spc_monitor import MAX_POINTS

__all__ = ["ChartView", "SpcCharacteristic", "routes"]

Number = int | float


class _Out(BaseModel):
    model_config = ConfigDict(extra="allow")


class SpcCharacteristic(_Out):
    """A charted characteristic as ``spc.toml`` configures it."""

    id: str
    record_type: str = Field(description="process_reading or inspection")
    tag: str | None = Field(None, description="The process reading tag")
    line: str | None = Field(None, description="Only readings of this line")
    inspection: str | None = Field(None, description="The inspection characteristic's name")
    product: str | None = Field(None, description="Only inspections of this product GTIN")
    rules: list[str] = Field(description="Run rules judged (we1..we4, nelson1..nelson8)")
    action: str = Field(description="block: an alert blocks the lot's release; warn: it does not")
    subgroup: int = Field(description="1: individuals / moving range; 2..10: X-bar / R")
    chart: str = Field(description="individuals or xbar_r")
    center: Number | None = None
    sigma: Number | None = None
    baseline: int | None = Field(None, description="Limits from the first N plotted points")


class ChartLimits(_Out):
    basis: str = Field(description="'fixed' or 'first N points'")
    center: Number
    ucl: Number
    lcl: Number
    sigma: Number = Field(description="Within-subgroup standard deviation of one value")
    range_center: Number
    range_ucl: Number
    range_lcl: Number


class ChartPoint(_Out):
    records: list[str] = Field(description="The records plotted (a subgroup's, or one)")
    record_id: str = Field(description="The last of them")
    lot: str | None
    at: str | None = Field(description="read_at or inspected_at of the last record")
    value: Number = Field(description="The value, or the subgroup mean")
    range: Number | None = Field(description="Moving range (individuals) or subgroup range")
    out_of_spec: bool
    violations: list[str] = Field(description="Rules broken at this point")


class ChartViolation(_Out):
    rule: str
    text: str
    first: str = Field(description="Record of the first point the rule broke at")
    last: str = Field(description="Record of the last consecutive point it held at")
    pattern: list[str] = Field(description="Records of the pattern completed at the first")
    alert_id: str | None = Field(description="The alert logged for it (None: not logged yet)")


class SpecLimits(_Out):
    lower: Number | None
    upper: Number | None


class CapabilityView(_Out):
    n: int = Field(description="Values the indices are computed from (the points shown)")
    cp: Number | None
    cpk: Number | None
    pp: Number | None
    ppk: Number | None


class ChartView(_Out):
    """One control chart, as the QA console draws it."""

    characteristic: SpcCharacteristic
    chart: str
    unit: str | None
    spec: SpecLimits
    limits: ChartLimits | None = Field(description="None until the baseline points exist")
    points: list[ChartPoint]
    violations: list[ChartViolation]
    capability: CapabilityView


def _ledger(request: Request) -> Ledger:
    ledger: Ledger = request.app.state.ledger
    return ledger


def routes(get_reader: Any) -> APIRouter:
    """The SPC routes, with ``get_reader`` (the app's read-token dependency) guarding them."""
    router = APIRouter(tags=["lots"])
    reader_dep = Annotated[tuple[str, tuple[str, ...]], Depends(get_reader)]
    ledger_dep = Annotated[Ledger, Depends(_ledger)]
    errors = responses(401, 403, 404, 422, 503)

    @router.get(
        "/v1/spc",
        response_model=list[SpcCharacteristic],
        response_model_exclude_unset=True,
        responses=errors,
        summary="The characteristics under statistical process control",
    )
    def characteristics(
        ledger: ledger_dep,
        reader: reader_dep,
        tag: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
        inspection: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    ) -> list[dict[str, Any]]:
        """Every characteristic `spc.toml` charts, or those of one process reading `tag` or
        inspection characteristic (`inspection`); 404 when none charts it."""
        found = ledger.spc.characteristics()
        for key, wanted in (("tag", tag), ("inspection", inspection)):
            if wanted is not None:
                found = [c for c in found if c.get(key) == wanted]
                if not found:
                    raise NotFoundError(f"{key} {wanted!r}: no characteristic charts it")
        return found

    @router.get(
        "/v1/spc/{characteristic}",
        response_model=ChartView,
        response_model_exclude_unset=True,
        responses=errors,
        summary="A control chart with its limits, violations and capability",
    )
    def chart(
        ledger: ledger_dep,
        reader: reader_dep,
        characteristic: Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")],
        limit: Annotated[int, Query(ge=1, le=MAX_POINTS)] = 100,
    ) -> dict[str, Any]:
        """The last `limit` points (individuals, or subgroup means) in the order the ledger
        accepted their records, the centre line and control limits (fixed, or from the first
        points), the specification limits, each run-rule violation with the alert it raised,
        and Cp, Cpk, Pp, Ppk of the points shown."""
        return ledger.spc.chart(characteristic, limit)

    return router
