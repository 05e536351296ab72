"""Each record of a lot carries the leaf hash of the lot's previous record: one chain per lot,
also under concurrent submissions."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.helpers import inspection, register, sign

pytestmark = [pytest.mark.integration, pytest.mark.req("P11-10e-3")]


def test_lot_records_form_one_chain(client, runtime, specs) -> None:  # type: ignore[no-untyped-def]
    inspector = register(client, runtime)
    bodies = [sign(runtime, inspection(f"C-{i}", lot="LOT-C"), inspector) for i in range(12)]
    bodies.append(sign(runtime, inspection("OTHER-1", lot="LOT-D"), inspector))
    with ThreadPoolExecutor(max_workers=6) as pool:
        codes = list(pool.map(lambda b: client.post("/v1/records", json=b).status_code, bodies))
    assert codes == [201] * len(bodies)
    entries = [client.get(f"/v1/records/{b['record']['record_id']}/receipt").json()
               for b in bodies]
    chain = {e["entry"]["lot_prev"]: e for e in entries if e["entry"]["lot"] == "LOT-C"}
    assert len(chain) == 12, "two records of the lot point at the same predecessor"
    link, seen = None, 0
    while link in chain:  # walk from the lot's first record to its head
        link = chain[link]["leaf_hash"]
        seen += 1
    assert seen == 12
    other = next(e for e in entries if e["record_id"] == "OTHER-1")
    assert other["entry"]["lot_prev"] is None
