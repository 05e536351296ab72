"""Errors as RFC 9457 problem details (``application/problem+json``), built in one place.

Every refusal the service answers, whoever makes it (a route, the request guard, the framework's
404 / 405 / 422, the handler of unexpected errors), is one of these bodies:

>>> import json
>>> body = json.loads(problem(404, "not_found", "record 'X': not found").body)
>>> body["type"], body["title"], body["status"], body["error"]
('https://evledger.dev/problems/not_found', 'Not found', 404, 'not_found')

``type`` is an absolute URI under :data:`TYPE_BASE` ending in the error code, so a problem type
has one identifier on every deployment (an identifier: nothing needs to be fetched from it);
``title`` is the type's fixed summary and ``detail`` this occurrence's explanation ("what:
expected X, got Y"). ``error`` repeats the code as an extension member (RFC 9457 section 3.2),
as the service answered before problem details, so clients that read ``error`` and ``detail``
keep working; ``reasons`` lists every reason when there are several (a refused release).

A 401 carries ``WWW-Authenticate`` (RFC 9110 section 11.6.1) with the Bearer scheme of read
tokens (RFC 6750): ``error="invalid_token"`` when a token was sent and refused, no error code
when none was sent; a token whose signer may not read is 403 with ``error="insufficient_scope"``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any, Literal

from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "MEDIA_TYPE",
    "REALM",
    "TITLES",
    "TYPE_BASE",
    "Problem",
    "ProblemResponse",
    "bearer_challenge",
    "problem",
    "problem_type",
    "responses",
]

MEDIA_TYPE = "application/problem+json"
#: Problem types are ``TYPE_BASE + error code``.
TYPE_BASE = "https://evledger.dev/problems/"
#: The protection space of read tokens (``WWW-Authenticate: Bearer realm="evledger"``).
REALM = "evledger"

#: Each problem type's title: the same for every occurrence (RFC 9457 section 3.1.3).
TITLES: dict[str, str] = {
    "bad_request": "Bad request",
    "bad_signature": "Signature or read token not accepted",
    "chain_error": "The chain is unavailable",
    "config_error": "The service is misconfigured",
    "conflict": "Conflicts with what the ledger holds",
    "http_error": "HTTP error",
    "internal_error": "Internal error",
    "invalid_record": "The record is not valid",
    "invalid_request": "The request is not valid",
    "ledger_error": "The ledger refused the request",
    "method_not_allowed": "Method not allowed",
    "not_authorized": "Not authorized",
    "not_built": "Not built",
    "not_found": "Not found",
    "request_timeout": "The request body was not received in time",
    "too_large": "Too large",
}


def problem_type(error: str) -> str:
    """The problem type URI of an error code."""
    return TYPE_BASE + error


def _title(error: str, status: int) -> str:
    if error in TITLES:
        return TITLES[error]
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


class ProblemResponse(JSONResponse):
    """A JSON response of type ``application/problem+json``."""

    media_type = MEDIA_TYPE


def problem(
    status: int,
    error: str,
    detail: str,
    headers: Mapping[str, str] | None = None,
    *,
    reasons: Sequence[str] = (),
) -> ProblemResponse:
    """The problem details response for ``error`` (a code such as ``not_found``)."""
    body: dict[str, Any] = {
        "type": problem_type(error),
        "title": _title(error, status),
        "status": status,
        "detail": detail,
        "error": error,
    }
    if reasons:
        body["reasons"] = list(reasons)
    return ProblemResponse(body, status_code=status, headers=headers)


def bearer_challenge(error: Literal["invalid_token", "insufficient_scope"] | None = None) -> str:
    """The ``WWW-Authenticate`` value for read tokens (RFC 6750 section 3)."""
    return f'Bearer realm="{REALM}"' + (f', error="{error}"' if error else "")


class Problem(BaseModel):
    """An RFC 9457 problem details object; ``error`` and ``reasons`` are extension members."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "type": problem_type("not_found"),
                    "title": TITLES["not_found"],
                    "status": 404,
                    "detail": "record 'INS-2026-0001': not found",
                    "error": "not_found",
                },
                {
                    "type": problem_type("conflict"),
                    "title": TITLES["conflict"],
                    "status": 409,
                    "detail": "release of lot L-1: refused (2 reasons)",
                    "error": "conflict",
                    "reasons": [
                        "inspection INS-1: critical characteristic 'outer diameter' failed",
                        "NCR NCR-1 is open",
                    ],
                },
            ]
        },
    )

    type: str = Field(description=f"The problem type: {TYPE_BASE}<error>")
    title: str = Field(description="The problem type's summary (the same for every occurrence)")
    status: int = Field(description="The HTTP status code")
    detail: str = Field(description="This occurrence: what was expected and what was found")
    error: str = Field(description="The error code (the last segment of `type`)")
    reasons: list[str] | None = Field(
        default=None, description="Every reason, when there are several"
    )


_DESCRIPTIONS = {
    400: "Bad request",
    401: "No read token, or a signature or read token that does not verify "
    "(with `WWW-Authenticate`)",
    403: "The signer or the token's signer may not do this",
    404: "Not found",
    408: "The body was not received in time",
    409: "Conflicts with what the ledger holds (a release refused, with `reasons`)",
    413: "Body or batch too large",
    422: "The request or the record is not valid",
    503: "The chain or the database is unavailable",
}


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries: problem details for each status (``Problem`` is added
    to the components by :func:`api.openapi.customize`)."""
    out: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        out[status] = {
            "description": _DESCRIPTIONS.get(status, HTTPStatus(status).phrase),
            "content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        if status == 401:
            out[status]["headers"] = {
                "WWW-Authenticate": {
                    "description": f'`Bearer realm="{REALM}"`, with `error="invalid_token"` '
                    "when a read token was sent and refused",
                    "schema": {"type": "string"},
                }
            }
    return out
