"""Submit -> anchored-receipt latency and gas per anchor, on real PostgreSQL and Anvil.

    .venv/bin/python bench/spine.py [--records 50] [--seal-interval 0.5] [--anchor-interval 1.0]

Starts a private PostgreSQL (pgserver) and Anvil, brings a ledger up in process with its
sealer and anchorer threads, logs the master data the inspections cite (the test helpers'),
submits records one at a time through the HTTP API (FastAPI TestClient) and times each from
POST to the receipt route answering "anchored".
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fastapi.testclient import TestClient

from api.app import create_app
from ledger.config import Settings
from ledger.embedded import Anvil, EmbeddedPostgres
from ledger.runtime import Runtime
from tests.helpers import inspection, master_data, register, sign


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--records", type=int, default=50)
    ap.add_argument("--seal-interval", type=float, default=0.5)
    ap.add_argument("--anchor-interval", type=float, default=1.0)
    args = ap.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="evledger-bench-", dir="/tmp") as name,
        EmbeddedPostgres(Path(name) / "pg", cleanup_mode="delete") as pg,
        Anvil() as anvil,
    ):
        tmp = Path(name)
        settings = dataclasses.replace(
            Settings.from_env(), home=tmp / "home", seal_interval=args.seal_interval,
            anchor_interval=args.anchor_interval,
        )
        rt = Runtime.open(settings, pg.url, anvil.rpc_url)
        rt.start_workers()
        try:
            with TestClient(create_app(rt.ledger)) as client:
                master_data(client, rt)
                inspector = register(client, rt)
                latencies = []
                for i in range(args.records):
                    rid = f"BENCH-{i}"
                    t0 = time.perf_counter()
                    resp = client.post("/v1/records", json=sign(rt, inspection(rid), inspector))
                    assert resp.status_code == 201, resp.text
                    while client.get(f"/v1/records/{rid}/receipt").status_code != 200:
                        time.sleep(0.01)
                    latencies.append(time.perf_counter() - t0)
                    print(f"\r{i + 1}/{args.records}", end="", file=sys.stderr, flush=True)
                print(file=sys.stderr)
            w3 = rt.chain.w3
            with rt.engine.connect() as conn:
                import sqlalchemy as sa

                from ledger.models import Anchor

                txs = conn.execute(
                    sa.select(Anchor.tree_size, Anchor.tx_hash).order_by(Anchor.tree_size)
                ).all()
            gas = [int(w3.eth.get_transaction_receipt(tx)["gasUsed"]) for _, tx in txs]
        finally:
            rt.stop()
    q = statistics.quantiles(latencies, n=20)
    print(f"records: {args.records}, seal interval {args.seal_interval} s, "
          f"anchor interval {args.anchor_interval} s")
    print(f"submit -> anchored receipt: median {statistics.median(latencies):.3f} s, "
          f"p95 {q[18]:.3f} s, min {min(latencies):.3f} s, max {max(latencies):.3f} s")
    print(f"anchors: {len(gas)}; gas first {gas[0]}, later median {statistics.median(gas[1:])}, "
          f"max {max(gas[1:])}")


if __name__ == "__main__":
    main()
