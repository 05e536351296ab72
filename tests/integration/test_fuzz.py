"""Property-based fuzzing (schemathesis) of every operation in the OpenAPI description served by
the real app over one real ledger (PostgreSQL + Anvil) seeded with real records: no request,
however malformed, gets a server error; every refusal is an RFC 9457 problem (type, title,
status, detail, and the "error" code); every response has a content type the description
declares for it and a body its schema describes.

Each operation gets schemathesis' coverage cases (boundary values, missing / wrong-typed
parameters, unexpected methods) and, for string path parameters, a list of hostile segments
(NUL, invalid UTF-8, encoded slash, ...), each sent as generated and with a valid read token; then
``MAX_EXAMPLES`` positive and negative Hypothesis cases. A hook mixes real data into those:
an Authorization header that is a valid read token, the token of an unregistered key, garbage or
absent; record ids, lots and tree sizes that exist; POST bodies whose fields are partly those of
a correctly signed submission. So the GET routes reach stored records, not only 404s, and the
signature and authority checks of POST see near-valid bodies.

Requests go in-process (schemathesis' ASGI transport), which re-raises an exception the app
does not handle instead of answering 500: such a crash fails the run like a 5xx does.

``schemathesis.pytest.from_fixture`` cannot be used (with pytest 9.2 it fails on
``request.node._nodeid``), so each operation runs in a pytest subtest driven by the public
``APIOperation.as_strategy`` and ``BaseSchema.iter_coverage_cases``."""

from __future__ import annotations

import copy
import dataclasses
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import hypothesis.strategies as st
import pytest
import schemathesis
from eth_account import Account
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from api.app import create_app
from ledger.runtime import Runtime
from tests.helpers import bearer, inspection, master_data, register, sign, wait_anchored

pytestmark = [pytest.mark.integration, pytest.mark.req("API-2")]

SEED = 20261122  # schemathesis' own seed; Hypothesis runs derandomized
MAX_EXAMPLES = 100
LOT = "LOT-FUZZ-1"
RECORD_IDS = ("INS-FUZZ-1", "INS-FUZZ-2")
#: Hostile path segments (as sent: percent-encoded) mixed into string path parameters.
HOSTILE_SEGMENTS = (
    "%00",
    "INS-FUZZ-1%00",
    "%ED%A0%80",  # a UTF-16 surrogate, not valid UTF-8
    "%FF%FE",
    "%2E%2E",
    "a%2Fb",
    "%25",
    "%20",
    "x" * 2000,
)

READ_RECORD = "GET /v1/records/{record_id}"
READ_LOT = "GET /v1/lots/{lot}"

#: Requests sent, per operation label and per (label, status); filled by ``exercise``.
CALLS: Counter[str] = Counter()
STATUSES: Counter[tuple[str, int]] = Counter()


@dataclasses.dataclass(frozen=True)
class Seeded:
    """The app over the fuzzed ledger and real values to mix into generated cases."""

    app: FastAPI
    token: dict[str, str]
    auth: tuple[dict[str, str], ...]
    params: dict[str, tuple[Any, ...]]
    bodies: tuple[dict[str, Any], ...]


# -- one ledger for the whole module ----------------------------------------------------------


@pytest.fixture(scope="module")
def fuzz_runtime(module_runtime: Runtime) -> Runtime:
    return module_runtime


@pytest.fixture(scope="module")
def seeded(fuzz_runtime: Runtime) -> Seeded:
    """A registered inspector, the master data inspections cite, and two anchored inspections
    of one lot (one pass, one fail)."""
    rt = fuzz_runtime
    app = create_app(rt.ledger, rt.settings.max_body_bytes)
    with TestClient(app) as client:
        master_data(client, rt)
        inspector = register(client, rt, name="Fuzz Inspector")
        stored = []
        for record_id, value in zip(RECORD_IDS, (3.01, 3.2), strict=True):
            body = sign(rt, inspection(record_id, lot=LOT, value=value), inspector)
            resp = client.post("/v1/records", json=body)
            assert resp.status_code == 201, resp.text
            stored.append(body)
        for record_id in RECORD_IDS:
            wait_anchored(client, record_id)
        latest = client.get("/v1/checkpoints/latest")
        assert latest.status_code == 200, latest.text
        tree_size: int = latest.json()["tree_size"]
        assert tree_size >= 3, latest.json()
        token = bearer(rt, inspector)
        assert client.get(f"/v1/lots/{LOT}", headers=token).status_code == 200
    stranger = Account.create()
    grant = {
        "record_id": f"signer-{stranger.address.lower()}",
        "type": "signer",
        "schema": "signer/1",
        "action": "grant",
        "address": stranger.address,
        "name": "Fuzz Stranger",
        "roles": ["qa_inspector"],
    }
    sizes = tuple(range(1, tree_size + 1))
    return Seeded(
        app=app,
        token=token,
        auth=(
            token,
            token,
            {},
            bearer(rt, stranger),  # well formed and signed, but not a registered signer
            {"Authorization": "Bearer evl1.not-a-token"},
            {"Authorization": "Basic dXNlcjpwYXNz"},
            {"Authorization": "Bearer "},
        ),
        params={
            "record_id": (*RECORD_IDS, f"signer-{inspector.address.lower()}"),
            "lot": (LOT,),
            "tree_size": sizes,
            "first": sizes,
            "second": sizes,
        },
        bodies=(
            *stored,  # already accepted: a duplicate
            sign(rt, inspection("INS-FUZZ-3", lot=LOT), inspector),  # new, valid
            sign(rt, inspection("INS-FUZZ-4", lot="LOT-FUZZ-2", value=2.0), inspector),
            sign(rt, grant, inspector, "approved"),  # an inspector may not grant roles
        ),
    )


# -- hooks: real data mixed into generated cases ----------------------------------------------


def _mix(case: Any, drawn: dict[str, Any]) -> Any:
    for name, value in drawn["params"].items():
        if value is None:
            continue
        if name in (case.path_parameters or {}):
            case.path_parameters[name] = value
        elif name in (case.query or {}):
            case.query[name] = value
    if drawn["auth"]:
        case.headers = {**(case.headers or {}), **drawn["auth"]}
    real = drawn["body"]
    if real is not None and isinstance(case.body, dict):
        # a correctly signed submission with up to two fields generated (or dropped)
        replace = drawn["replace"]
        case.body = {
            **{key: copy.deepcopy(value) for key, value in real.items() if key not in replace},
            **{key: value for key, value in case.body.items() if key in replace},
        }
    return case


@pytest.fixture(scope="module")
def api_schema(seeded: Seeded) -> Any:
    """The OpenAPI description served by the real app, with a hook that mixes in real data."""
    schema = schemathesis.openapi.from_asgi(
        "/openapi.json", seeded.app, config=schemathesis.Config(seed=SEED)
    )
    body_keys = sorted({"signer", *(key for body in seeded.bodies for key in body)})

    def flatmap_case(context: Any, case: Any) -> st.SearchStrategy[Any]:
        names = {*(case.path_parameters or {}), *(case.query or {})} & set(seeded.params)
        params = {n: st.sampled_from(seeded.params[n]) | st.none() for n in sorted(names)}
        for name in ("record_id", "lot"):
            if name in (case.path_parameters or {}):
                params[name] = params[name] | st.sampled_from(HOSTILE_SEGMENTS)
        drawn = st.fixed_dictionaries(
            {
                "params": st.fixed_dictionaries(params),
                "auth": st.sampled_from(seeded.auth),
                "body": st.sampled_from(seeded.bodies) | st.none(),
                "replace": st.sets(st.sampled_from(body_keys), min_size=1, max_size=2),
            }
        )
        return drawn.map(lambda d: _mix(case, d))

    schema.hook(flatmap_case)
    return schema


# -- checks -----------------------------------------------------------------------------------


def problem_json(ctx: Any, response: Any, case: Any) -> None:
    """Every 4xx (and 5xx) is an RFC 9457 problem (``application/problem+json``): ``type``
    (``https://evledger.dev/problems/<error>``), ``title``, ``status`` (the response's),
    ``detail`` and the non-empty ``error`` code; a 401 carries ``WWW-Authenticate``."""
    status = response.status_code
    if status < 400:
        return
    content_type = response.headers.get("content-type", [""])[0]
    if content_type != "application/problem+json":
        raise AssertionError(
            f"{status} is {content_type!r}, not a problem: {response.text[:300]!r}"
        )
    try:
        body = response.json()
    except ValueError as exc:
        raise AssertionError(
            f"{status} body is not JSON ({exc}): {response.text[:300]!r}"
        ) from None
    if not (
        isinstance(body, dict)
        and all(
            isinstance(body.get(key), str) and body[key]
            for key in ("type", "title", "error", "detail")
        )
        and body["type"] == f"https://evledger.dev/problems/{body['error']}"
        and body.get("status") == status
    ):
        raise AssertionError(f"{status} body is not an RFC 9457 problem: {body!r}")
    if status == 401 and not response.headers.get("www-authenticate", [""])[0].startswith(
        'Bearer realm="evledger"'
    ):
        raise AssertionError(f"401 without WWW-Authenticate: {dict(response.headers)!r}")


CHECKS: list[Callable[..., Any]] = [
    not_a_server_error,
    content_type_conformance,
    response_schema_conformance,
    problem_json,
]


# -- the fuzz run -----------------------------------------------------------------------------


def exercise(case: Any) -> None:
    """Send ``case`` to the app in-process and run the checks on the response."""
    CALLS[case.operation.label] += 1
    response = case.call()
    STATUSES[(case.operation.label, response.status_code)] += 1
    case.validate_response(response, checks=CHECKS)


def coverage_cases(schema: Any, operation: Any) -> list[Any]:
    """Schemathesis' deterministic coverage cases: boundary and wrong-typed values, missing
    parameters, and the operation's path called with methods it does not declare."""
    config = schema.config.generation_for(operation=operation, phase="coverage")
    return list(
        schema.iter_coverage_cases(
            operation, generation_modes=list(GenerationMode), generation_config=config
        )
    )


def with_hostile_segments(cases: list[Any]) -> list[Any]:
    """The first case again with each hostile segment in each string path parameter."""
    hostile = []
    for name in ("record_id", "lot"):
        if cases and name in (cases[0].path_parameters or {}):
            for segment in HOSTILE_SEGMENTS:
                case = cases[0].derive()
                case.path_parameters[name] = segment
                hostile.append(case)
    return hostile


def send_all(cases: list[Any], token: dict[str, str]) -> None:
    """Each case as generated and again with a valid token; fails listing every distinct
    failure (the first request that showed it, and every other request that did too)."""
    failures: dict[str, tuple[str, list[str]]] = {}
    for case in cases:
        for variant in (case, case.derive(headers={**(case.headers or {}), **token})):
            try:
                exercise(variant)
            except (Exception, BaseExceptionGroup) as exc:  # collect, do not stop at the first
                if not isinstance(exc, BaseExceptionGroup):  # not a check: the request raised
                    exc = AssertionError(f"unhandled exception (a 500 over HTTP): {exc!r}")
                headline = str(exc).split("Reproduce with")[0].strip()
                auth = "with token" if variant is not case else "as generated"
                request = f"{variant.method} {variant.formatted_path} ({auth})"
                failures.setdefault(headline, (str(exc), []))[1].append(request)
    if failures:
        raise AssertionError(
            f"{len(failures)} distinct failures:\n\n"
            + "\n\n".join(
                f"{first}\nSeen on {len(requests)} requests: {', '.join(requests)}"
                for first, requests in failures.values()
            )
        )


def fuzz(operation: Any) -> None:
    """Positive and negative Hypothesis cases from the operation's schema, hook applied."""
    strategy = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    )

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[phase for phase in Phase if phase is not Phase.explain],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case: Any) -> None:
        exercise(case)

    run()


def test_fuzz_api(api_schema: Any, seeded: Seeded, subtests: pytest.Subtests) -> None:
    started = time.monotonic()
    operations = [result.ok() for result in api_schema.get_all_operations()]
    labels = {op.label for op in operations}
    assert {
        READ_RECORD,
        READ_LOT,
        "POST /v1/records",
        "POST /v1/records/batch",
        "GET /v1/proofs/consistency",
    } <= labels
    undeclared_methods = []
    for operation in operations:
        declared = []
        for case in coverage_cases(api_schema, operation):
            same = case.method.upper() == operation.method.upper()
            (declared if same else undeclared_methods).append(case)
        with subtests.test(msg=f"coverage {operation.label}"):
            send_all(declared + with_hostile_segments(declared), seeded.token)
        with subtests.test(msg=f"fuzz {operation.label}"):
            fuzz(operation)
    assert undeclared_methods
    with subtests.test(msg="undeclared methods on every path"):
        send_all(undeclared_methods, seeded.token)
    missing = sorted(op.label for op in operations if CALLS[op.label] == 0)
    assert not missing, f"no request sent to {missing}; sent {dict(CALLS)}"
    for label in (READ_RECORD, READ_LOT):
        assert STATUSES[(label, 200)] > 0, f"{label} never reached seeded data: {STATUSES}"
    print(
        f"\nfuzz: {sum(CALLS.values())} requests to {len(operations)} operations "
        f"in {time.monotonic() - started:.1f} s"
    )
    for (label, status), count in sorted(STATUSES.items()):
        print(f"  {label:40} {status}: {count}")
