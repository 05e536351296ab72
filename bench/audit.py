"""`evledger audit` throughput: records per second for the full recomputation.

    .venv/bin/python bench/audit.py [--records 5000]

Starts a private PostgreSQL and Anvil, fills a ledger through `Ledger.submit` (real
signatures, real rules), seals and anchors it, then times `Auditor.run()`.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fastapi.testclient import TestClient

from api.app import create_app
from ledger.audit import Auditor
from ledger.config import Settings
from ledger.embedded import Anvil, EmbeddedPostgres
from ledger.runtime import Runtime
from ledger.service import Submission
from tests.helpers import inspection, register, sign


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--records", type=int, default=5000)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="evledger-bench-", dir="/tmp"))
    with EmbeddedPostgres(tmp / "pg", cleanup_mode="delete") as pg, Anvil() as anvil:
        settings = dataclasses.replace(Settings.from_env(), home=tmp / "home")
        rt = Runtime.open(settings, pg.url, anvil.rpc_url)
        with TestClient(create_app(rt.ledger)) as client:
            inspector = register(client, rt)
        t0 = time.perf_counter()
        for i in range(args.records):
            body = sign(rt, inspection(f"A-{i}", lot=f"LOT-{i % 100}"), inspector)
            rt.ledger.submit(Submission(body["record"], body["signature"], "authored",
                                        body["signed_at"]))
            if (i + 1) % 1000 == 0:
                print(f"submitted {i + 1}", file=sys.stderr)
        submit_s = time.perf_counter() - t0
        while rt.sealer.seal_once():
            pass
        rt.anchorer.anchor_once()
        auditor = Auditor(rt.engine, rt.ledger.identity, rt.ledger.identity.log_public_key,
                          rt.chain)
        t0 = time.perf_counter()
        findings = auditor.run()
        audit_s = time.perf_counter() - t0
        rt.stop()
    n = args.records + 3  # plus the bootstrap admin, the audit key and the inspector grants
    print(f"records: {n}; findings: {len(findings)}")
    print(f"submit (sign + verify + rules + insert, one at a time): {submit_s:.1f} s, "
          f"{args.records / submit_s:.0f} records/s")
    print(f"audit (everything recomputed, chain checked): {audit_s:.2f} s, "
          f"{n / audit_s:.0f} records/s")


if __name__ == "__main__":
    main()
