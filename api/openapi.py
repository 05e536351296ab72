"""The OpenAPI description, completed where the framework cannot know the types.

- **The record body.** ``POST /v1/records`` (and each batch item) carries a ``record`` whose
  type is the union of the record schemas (:data:`ledger.domain.schemas.SCHEMAS`),
  discriminated by its ``schema`` member (``inspection/2``, ``release/1``...). The request
  model keeps ``record`` a JSON object and the ledger validates it with
  :func:`ledger.domain.schemas.parse_record`, for three reasons: the signature and the record
  hash are over the record exactly as sent (a parsed model would not give those bytes back),
  a malformed record must stay a ``422 invalid_record`` whose detail names the field as the
  ledger words it (``record.characteristics.0.value: ...``), not a framework validation error,
  and a batch judges each item on its own. So the union is put in the description here, as
  ``oneOf`` with a ``discriminator``, each schema under ``components/schemas/record.<Name>``.
- **Problems.** Errors are ``application/problem+json`` (:mod:`api.problems`); the routes
  reference ``#/components/schemas/Problem``, added here.
"""

from __future__ import annotations

from typing import Annotated, Any, Union

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import Field, TypeAdapter

from api.problems import Problem
from ledger.domain.schemas import SCHEMAS

__all__ = ["RECORD_PREFIX", "customize", "record_union"]

#: Record schemas are components named ``record.<Model>`` (``record.InspectionV2``).
RECORD_PREFIX = "record."
_COMPONENTS = "#/components/schemas/"


def record_union() -> tuple[dict[str, Any], dict[str, Any]]:
    """The JSON Schema of a record (``oneOf`` the record schemas, discriminated by
    ``schema``) and the component schemas it references."""
    union: Any = Annotated[
        Union[tuple(SCHEMAS.values())],  # noqa: UP007 (a Union of a runtime tuple)
        Field(discriminator="schema_"),
    ]
    schema = TypeAdapter(union).json_schema(
        mode="validation", ref_template=_COMPONENTS + RECORD_PREFIX + "{model}"
    )
    defs = schema.pop("$defs", {})
    schema["description"] = (
        "A record, as signed: one of the record schemas, named by its `schema` member "
        "(see docs/quality.md). The ledger validates it and answers 422 `invalid_record` "
        "naming the field."
    )
    return schema, {RECORD_PREFIX + name: value for name, value in defs.items()}


def customize(app: FastAPI) -> None:
    """Make ``app.openapi()`` return the completed description (built once)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        spec = get_openapi(
            title=app.title,
            version=app.version,
            summary=app.summary,
            description=app.description,
            routes=app.routes,
            tags=app.openapi_tags,
        )
        components = spec.setdefault("components", {}).setdefault("schemas", {})
        components["Problem"] = Problem.model_json_schema(ref_template=_COMPONENTS + "{model}")
        union, defs = record_union()
        components.update(defs)
        submit = components.get("SubmitRequest")
        if submit is not None:
            described = submit["properties"]["record"]
            submit["properties"]["record"] = {**union, "title": described.get("title", "Record")}
        app.openapi_schema = spec
        return spec

    app.openapi = openapi  # type: ignore[method-assign]
