"""The spine in process: submit, seal, anchor, receipt, verify."""

from __future__ import annotations

import pytest
from evledger_verify.receipt import Trust, verify_receipt

from tests.helpers import inspection, register, sign, wait_anchored

pytestmark = [pytest.mark.integration, pytest.mark.req("ANCH-1")]


def test_submit_to_verified_receipt(client, runtime, specs) -> None:  # type: ignore[no-untyped-def]
    inspector = register(client, runtime)
    record = inspection("INS-1")
    resp = client.post("/v1/records", json=sign(runtime, record, inspector))
    assert resp.status_code == 201, resp.text
    receipt = wait_anchored(client, "INS-1")
    trust = Trust.from_json(client.get("/v1/trust").json())
    report, _ = verify_receipt(receipt, trust, record)
    assert report.ok, report.to_json()
