"""The QA console's reads at scale, measured on their own (a first check, not the issue's
whole benchmark): a private PostgreSQL (pgserver) holding ``--lots`` lots of ``--per-lot``
records each (by default 100,000 lots, 1,000,000 records) written straight into ``records``
with COPY, then ``ledger.console_reads.ConsoleReads`` timed in this process: a page of lots
with no filter, one further on, one with a selective filter (an open NCR: one lot in nine),
a page of the NCR board, and the dashboard (cold, then from its cache); and the query plans
of the lot walk and the dashboard's window.

    .venv/bin/python bench/console.py [--lots 100000 --per-lot 10]

The records are shaped like the real ones (an inspection per lot, an NCR on one lot in nine,
process readings naming a line) but are not signed, logged or sealed: this measures the
console's queries and the status computed per lot, not the service, HTTP or signing. The
benchmark through ``evledger up`` (as bench/trace.py does) is still to be written.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pgserver  # type: ignore[import-untyped]
import sqlalchemy as sa
from evledger_verify.policy import Policy

from ledger.console_reads import ConsoleReads, LotFilter
from ledger.models import Base
from ledger.signers import RegistryCache


def body_of(n: int, lot_i: int, k: int) -> tuple[dict[str, Any], str, str | None]:
    lot = f"LOT-{lot_i:06d}"
    if k == 0:
        return (
            {
                "record_id": f"I-{n}", "type": "inspection", "schema": "inspection/2",
                "lot": lot, "stage": "final", "product": {"gtin": f"0950600013{lot_i % 7:04d}"},
                "verdict": "pass" if lot_i % 9 else "fail", "sampling_plan": "x",
                "sample_size": 1, "inspected_at": "2026-01-01T00:00:00Z",
                "supplier": f"S{lot_i % 13}",
                "characteristics": [{"name": "d", "unit": "mm", "value": 3.0, "verdict": "pass"}],
            },
            "inspection",
            None,
        )  # fmt: skip
    if k == 1 and lot_i % 9 == 0:
        ncr = f"NCR-{lot_i}"
        return (
            {"record_id": f"N-{n}", "type": "ncr", "schema": "ncr/1", "ncr_id": ncr, "lot": lot,
             "step": "open", "nature": "x"},
            "ncr",
            f"ncr:{ncr}",
        )  # fmt: skip
    return (
        {"record_id": f"P-{n}", "type": "process_reading", "schema": "process_reading/1",
         "tag": "T", "value": 1.0, "unit": "C", "lot": lot, "line": f"L{lot_i % 4}",
         "read_at": "2026-01-01T00:00:00Z"},
        "process_reading",
        None,
    )  # fmt: skip


def load(engine: sa.Engine, lots: int, per_lot: int) -> int:
    buf = io.StringIO()
    base = datetime(2026, 1, 1, tzinfo=UTC)
    n = 0
    for lot_i in range(lots):
        for k in range(per_lot):
            n += 1
            body, rtype, subject = body_of(n, lot_i, k)
            data = json.dumps(body, separators=(",", ":"), sort_keys=True).encode()
            digest = hashlib.sha256(data).hexdigest()
            fields = [
                body["record_id"], rtype, str(body["lot"]), subject or r"\N",
                "\\\\x" + data.hex(), "\\\\x" + digest, "0x" + "11" * 20, "authored",
                str(1767225600 + n), "0x" + "22" * 65, "\\\\x00", "\\\\x" + digest,
                (base + timedelta(seconds=n)).isoformat(),
            ]  # fmt: skip
            buf.write("\t".join(fields) + "\n")
    buf.seek(0)
    raw = engine.raw_connection()
    try:
        raw.cursor().copy_expert(
            "COPY records (record_id, record_type, lot, subject, body, record_hash, signer, "
            "meaning, signed_at, signature, entry, leaf_hash, accepted_at) FROM STDIN",
            buf,
        )
        raw.commit()
    finally:
        raw.close()
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO genealogy_state (singleton, next_leaf) VALUES (1, 0)"))
        conn.execute(sa.text("ANALYZE records"))
    return n


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lots", type=int, default=100_000)
    parser.add_argument("--per-lot", type=int, default=10)
    args = parser.parse_args()
    server = pgserver.get_server(
        tempfile.mkdtemp(prefix="evledger-console-"), cleanup_mode="delete"
    )
    try:
        engine = sa.create_engine(
            server.get_uri().replace("postgresql://", "postgresql+psycopg2://")
        )
        Base.metadata.create_all(engine)
        started = time.perf_counter()
        n = load(engine, args.lots, args.per_lot)
        print(
            f"{n:,} records over {args.lots:,} lots loaded in {time.perf_counter() - started:.1f} s"
        )
        reads = ConsoleReads(engine, RegistryCache(), Policy(), time.time)
        middle = f"LOT-{args.lots // 2:06d}"
        runs: list[tuple[str, Any]] = [
            ("lots: first page of 50", lambda: reads.lots(LotFilter(), None, 50)[0]),
            (f"lots: 50 after {middle}", lambda: reads.lots(LotFilter(), middle, 50)[0]),
            ("lots: 50 with an open NCR (1 lot in 9)",
             lambda: reads.lots(LotFilter(open="ncr"), None, 50)[0]),
            ("NCR board: 100", lambda: reads.board("ncr", None, False, None, 100)[0]),
            ("dashboard (cold)", lambda: reads.dashboard({"records": n})),
            ("dashboard (cached)", lambda: reads.dashboard({"records": n})),
        ]  # fmt: skip
        for label, run in runs:
            t = time.perf_counter()
            out = run()
            print(f"{label}: {(time.perf_counter() - t) * 1000:.0f} ms ({len(out)} items)")
        plans = [
            "WITH RECURSIVE walk(lot) AS ((SELECT lot FROM records WHERE lot > '' ORDER BY lot "
            "LIMIT 1) UNION ALL SELECT (SELECT r.lot FROM records r WHERE r.lot > walk.lot "
            "ORDER BY r.lot LIMIT 1) FROM walk WHERE walk.lot IS NOT NULL) "
            "SELECT lot FROM walk WHERE lot IS NOT NULL LIMIT 50",
            "SELECT seq FROM records WHERE record_type = 'ncr' "
            "ORDER BY record_type DESC, seq DESC LIMIT 5000",
        ]
        with engine.connect() as conn:
            for q in plans:
                print("\n".join(r[0] for r in conn.execute(sa.text("EXPLAIN (COSTS OFF) " + q))))
        engine.dispose()
    finally:
        server.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
