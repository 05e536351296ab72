"""`evledger-verify` as an auditor runs it: one receipt, and evidence bundles of 10,000 and
100,000 records, each through the CLI process (start-up included), fully offline.

    .venv/bin/python bench/verify.py                     # receipt, 10k and 100k bundles
    .venv/bin/python bench/verify.py --sizes 2000 --receipt-runs 5      # quick

Starts a private PostgreSQL and Anvil, fills the ledger with inspection records (the audit
benchmark's fill: real signatures, real rules, 200 lots), lets the service seal and anchor them
until the newest anchor is final with its offline proof, and exports a period bundle (every
record) with the service's exporter at each size. Then it times ``evledger-verify receipt``
(median of ``--receipt-runs`` processes) and ``evledger-verify bundle`` (median of
``--bundle-runs`` processes per size), prints them beside the targets and this machine's
limits (secp256k1 recoveries and SHA-256 per second per core), and profiles one in-process
verification of the largest bundle (cProfile, top functions by cumulative time).
Exit 1 when a verification does not pass.
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import json
import os
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from evledger_verify.bundle import verify_bundle
from evledger_verify.receipt import Trust

from bench.audit import count, fill
from ledger.config import Settings
from ledger.embedded import Anvil, EmbeddedPostgres
from ledger.models import AnchorProof
from ledger.runtime import Runtime

CLI = Path(sys.executable).parent / "evledger-verify"
TARGET_RECEIPT_S = 0.3
TARGET_100K_S = 30.0


def wait_proven(rt: Runtime, timeout: float = 300.0) -> None:
    """Until the newest checkpoint is anchored final with its offline proof."""
    import sqlalchemy as sa

    from ledger.models import Anchor, Checkpoint

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with rt.engine.connect() as conn:
            latest = conn.execute(sa.select(sa.func.max(Checkpoint.tree_size))).scalar_one()
            queued = conn.exec_driver_sql("SELECT count(*) FROM seal_queue").scalar_one()
            proven = conn.execute(
                sa.select(sa.func.max(Anchor.tree_size)).join(
                    AnchorProof,
                    sa.and_(AnchorProof.tx_hash == Anchor.tx_hash,
                            AnchorProof.block_hash == Anchor.block_hash),
                )
            ).scalar_one()
        if not queued and latest and proven == latest:
            return
        time.sleep(0.2)
    raise SystemExit("bench: the newest checkpoint did not become final with its proof")


def run(cmd: list[str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    return time.perf_counter() - t0, done


def limits() -> dict[str, float]:
    """Per core: secp256k1 public-key recoveries and 64-byte SHA-256 per second."""
    import hashlib

    import coincurve

    key = coincurve.PrivateKey()
    sig = key.sign_recoverable(b"\x11" * 32, hasher=None)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < 0.5:
        coincurve.PublicKey.from_signature_and_message(sig, b"\x11" * 32, hasher=None)
        n += 1
    recover = n / (time.perf_counter() - t0)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < 0.5:
        for _ in range(1000):
            hashlib.sha256(b"\x01" * 65).digest()
        n += 1000
    return {"recover_per_s": recover, "sha256_per_s": n / (time.perf_counter() - t0)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--receipt-runs", type=int, default=20)
    ap.add_argument("--bundle-runs", type=int, default=3)
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = ap.parse_args()
    cores = os.cpu_count() or 1
    base = Path(tempfile.mkdtemp(prefix="evledger-bench-verify-", dir="/tmp"))
    figures: dict[str, object] = {"cores": cores, "date": datetime.now(UTC).isoformat()}
    ok = True
    try:
        with EmbeddedPostgres(base / "pg", cleanup_mode="delete") as pg, Anvil() as anvil:
            settings = dataclasses.replace(
                Settings.from_env(), home=base / "home", seal_interval=0.2, anchor_interval=0.5,
                confirmations=1,
            )
            rt = Runtime.open(settings, pg.url, anvil.rpc_url)
            rt.start_workers()
            try:
                trust = rt.ledger.identity.trust()
                (base / "trust.json").write_text(json.dumps(trust))
                bundles = []
                for size in sorted(args.sizes):
                    have = count(rt, "inspection")
                    if have < size:
                        print(f"filling to {size} records ...", file=sys.stderr)
                        fill(rt, have, size, max(1, cores - 1))
                    wait_proven(rt)
                    t0 = time.perf_counter()
                    data = rt.ledger.exporter.period(
                        datetime(2000, 1, 1, tzinfo=UTC), datetime.now(UTC) + timedelta(days=1)
                    )
                    export_s = time.perf_counter() - t0
                    path = base / f"bundle-{size}.zip"
                    path.write_bytes(data)
                    bundles.append((size, path, export_s, len(data)))
                rid = "I-0000001"
                receipt = rt.ledger.receipt(rid)
                (base / "receipt.json").write_text(json.dumps(receipt))
            finally:
                rt.stop()
        # The auditor's side: nothing but files.
        receipt_times = []
        for _ in range(args.receipt_runs):
            took, done = run([str(CLI), "receipt", str(base / "receipt.json"), "--trust",
                              str(base / "trust.json")])
            ok &= done.returncode == 0
            receipt_times.append(took)
        print(f"machine: {cores} cores, Python {sys.version.split()[0]}")
        lim = limits()
        print(f"limits per core: {lim['recover_per_s']:.0f} secp256k1 recoveries/s, "
              f"{lim['sha256_per_s'] / 1e6:.2f} M SHA-256/s")
        med = statistics.median(receipt_times)
        print(f"receipt (CLI process, {args.receipt_runs} runs): median {med:.3f} s, "
              f"max {max(receipt_times):.3f} s (target <= {TARGET_RECEIPT_S} s: "
              f"{'PASS' if med <= TARGET_RECEIPT_S else 'MISS'})")
        figures["receipt_median_s"] = med
        figures["limits"] = lim
        for size, path, export_s, nbytes in bundles:
            times = []
            for _ in range(args.bundle_runs):
                took, done = run([str(CLI), "bundle", str(path), "--trust",
                                  str(base / "trust.json")])
                if done.returncode != 0:
                    ok = False
                    print(done.stdout[-2000:], done.stderr[-2000:], file=sys.stderr)
                times.append(took)
            med = statistics.median(times)
            floor = size / (lim["recover_per_s"] * cores)
            target = f" (target <= {TARGET_100K_S:.0f} s: " \
                     f"{'PASS' if med <= TARGET_100K_S else 'MISS'})" if size == 100_000 else ""
            print(f"bundle of {size} records ({nbytes / 1e6:.1f} MB, exported in "
                  f"{export_s:.1f} s): median {med:.2f} s over {len(times)} runs, "
                  f"{size / med:.0f} records/s{target}; signature floor on {cores} cores "
                  f"{floor:.2f} s")
            figures[f"bundle_{size}_s"] = med
            figures[f"bundle_{size}_bytes"] = nbytes
        size, path, _, _ = bundles[-1]
        profile = cProfile.Profile()
        profile.enable()
        report = verify_bundle(str(path), Trust.from_json(trust), workers=1)
        profile.disable()
        ok &= report.ok
        print(f"profile of one in-process verification of {size} records (workers=1):")
        stats = pstats.Stats(profile)
        stats.sort_stats("cumulative").print_stats(18)
        if args.json:
            args.json.write_text(json.dumps(figures, indent=2))
    finally:
        shutil.rmtree(base, ignore_errors=True)
    if not ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
