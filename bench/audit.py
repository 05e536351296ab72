"""`evledger audit` throughput at scale: fill a ledger fast, then time the full audit.

    .venv/bin/python bench/audit.py --records 100000
    .venv/bin/python bench/audit.py --records 1000000 [--workers 2] [--keep /tmp/evl-1m]

Starts a private PostgreSQL and Anvil, logs the master data the inspections cite (the test
helpers' instrument, calibrated, and an approved specification per stage, authored and approved
by two QA keys) and fills the ledger through the batch path
(`Ledger.submit_batch`, 1,000 items a call, in this process: real signatures, real rules) with
inspection records over 200 lots, signed here (EIP-712 digest from `Ledger.digest`, secp256k1
with coincurve) in worker processes while the main process submits. Each range of 1,000 carries
its own signing time, its inspections made up to a minute before it (never before their
specification came into force): an inspection is signed after it was made, and a person's
signature is at most 15 minutes old on arrival. Then it seals, anchors once and times
`Auditor.run()`. Progress goes to stderr, figures to stdout; exit 1 if the audit
finds anything. With `--keep DIR` the ledger stays in DIR, and a later run with the same DIR
reuses it (filling only what is missing), so the audit can be timed again without refilling.
"""

from __future__ import annotations

import argparse
import dataclasses
import multiprocessing
import os
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import coincurve
from eth_account import Account
from eth_account.signers.local import LocalAccount

from ledger.audit import Auditor
from ledger.config import Settings
from ledger.embedded import Anvil, EmbeddedPostgres
from ledger.runtime import Runtime
from ledger.service import Submission
from tests.helpers import (
    EQUIPMENT,
    admin,
    calibration,
    change,
    equipment,
    inspection,
    sign,
    specification,
)

LOTS = 200
INSPECTORS = 4
BATCH = 1000  # items per submit_batch call (the service's limit)
STAGES = ("incoming", "in_process", "in_process", "final", "final")

#: A signed range: its signing time, and each record with its signature.
Signed = tuple[int, list[tuple[dict[str, Any], str]]]
#: What the signing workers need, set before they fork: (digest function, keys, the time by
#: which the specifications were in force).
_SIGNING: tuple[Callable[[dict[str, Any], str, int], bytes], list[bytes], int] | None = None


def record(i: int, signed_at: int, in_force: int) -> dict[str, Any]:
    """Inspection number ``i``: 200 lots, three stages, one in 40 failed; each follows its
    stage's specification (:func:`log_master_data`), in force by ``in_force``. It was made up
    to a minute before ``signed_at``, its signing time, and not before ``in_force``."""
    value = 3.07 if i % 40 == 7 else 2.96 + (i % 9) / 100
    made = datetime.fromtimestamp(max(signed_at - i % 60, in_force), UTC)
    return inspection(
        f"I-{i:07d}",
        lot=f"LOT-{i % LOTS:03d}",
        value=value,
        stage=STAGES[i % len(STAGES)],
        inspected_at=made.strftime("%Y-%m-%dT%H:%M:%SZ"),
    )


def sign_range(bounds: tuple[int, int]) -> Signed:
    """Records ``bounds[0]`` .. ``bounds[1] - 1``, signed now, each by one of the inspectors."""
    assert _SIGNING is not None
    digest, secrets, in_force = _SIGNING
    signed_at = int(time.time())
    keys = [coincurve.PrivateKey(k) for k in secrets]
    out = []
    for i in range(*bounds):
        rec = record(i, signed_at, in_force)
        sig = keys[i % len(keys)].sign_recoverable(digest(rec, "authored", signed_at), hasher=None)
        out.append((rec, "0x" + (sig[:64] + bytes([sig[64] + 27])).hex()))
    return signed_at, out


def _submit(rt: Runtime, record: dict[str, Any], account: LocalAccount, meaning: str) -> None:
    b = sign(rt, record, account, meaning)
    rt.ledger.submit(Submission(record, b["signature"], meaning, b["signed_at"]))


def _grant(rt: Runtime, role: str, name: str) -> LocalAccount:
    """A fresh key, granted ``role`` by the bootstrap admin."""
    account: LocalAccount = Account.create()
    grant = {
        "record_id": f"signer-{account.address.lower()}",
        "type": "signer",
        "schema": "signer/1",
        "action": "grant",
        "address": account.address,
        "name": name,
        "roles": [role],
    }
    _submit(rt, grant, admin(rt), "approved")
    return account


def register_inspectors(rt: Runtime) -> list[bytes]:
    """Fresh inspector keys, granted qa_inspector by the bootstrap admin; their private keys."""
    return [bytes(_grant(rt, "qa_inspector", f"Inspector {n + 1}").key) for n in range(INSPECTORS)]


def log_master_data(rt: Runtime) -> None:
    """What the inspections cite, as the test helpers seed it (once per ledger): the instrument,
    registered and calibrated, and per stage a specification brought into force through change
    control, authored by one QA key and approved by another."""
    if count(rt, "specification"):
        return
    author = _grant(rt, "qa_inspector", "Spec Author")
    approver = _grant(rt, "qa_approver", "Spec Approver")
    _submit(rt, equipment(), author, "authored")
    _submit(rt, calibration(f"cal-{EQUIPMENT}-1"), author, "verified")
    for stage in dict.fromkeys(STAGES):
        spec = specification(stage)
        cid, ref = spec["change_id"], {"spec_id": spec["spec_id"], "version": spec["version"]}
        _submit(rt, change(cid, "requested", specifications=[ref]), author, "authored")
        _submit(rt, spec, author, "authored")
        _submit(rt, change(cid, "assessed"), author, "reviewed")
        _submit(rt, change(cid, "approved"), approver, "approved")


def fill(rt: Runtime, first: int, last: int, signers: int) -> float:
    """Submit inspections ``first`` .. ``last - 1``; returns the seconds it took."""
    global _SIGNING
    log_master_data(rt)
    # The specifications came into force at their approval's signing time, no later than now.
    _SIGNING = (rt.ledger.digest, register_inspectors(rt), int(time.time()))
    ranges = [(lo, min(lo + BATCH, last)) for lo in range(first, last, BATCH)]
    t0 = time.perf_counter()
    done = 0
    ctx = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(signers, mp_context=ctx) as pool:
        for signed_at, signed in _ahead(pool, ranges, 4 * signers):
            subs = [Submission(rec, sig, "authored", signed_at) for rec, sig in signed]
            for item in rt.ledger.submit_batch(subs):
                if item.error is not None or item.result is None or item.result.duplicate:
                    raise SystemExit(f"fill: item {item.record_id} not accepted: {item.error}")
            done += len(subs)
            if done % 20_000 < BATCH or done == last - first:
                rate = done / (time.perf_counter() - t0)
                print(f"  filled {done}/{last - first} ({rate:.0f} records/s)", file=sys.stderr)
    return time.perf_counter() - t0


def _ahead(
    pool: ProcessPoolExecutor, ranges: list[tuple[int, int]], depth: int
) -> Iterator[Signed]:
    """Signed ranges in order, with up to ``depth`` being signed ahead."""
    pending: list[Future[Signed]] = []
    todo = iter(ranges)
    for r in todo:
        pending.append(pool.submit(sign_range, r))
        if len(pending) >= depth:
            break
    while pending:
        yield pending.pop(0).result()
        nxt = next(todo, None)
        if nxt is not None:
            pending.append(pool.submit(sign_range, nxt))


def count(rt: Runtime, record_type: str | None = None) -> int:
    """Records in the ledger (of one type)."""
    with rt.engine.connect() as conn:
        n = conn.exec_driver_sql(
            "SELECT count(*) FROM records WHERE %(t)s IS NULL OR record_type = %(t)s",
            {"t": record_type},
        ).scalar_one()
    return int(n)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--records", type=int, default=100_000, help="inspection records to hold")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="audit processes")
    ap.add_argument("--keep", type=Path, default=None, help="keep (or reuse) the ledger here")
    ap.add_argument("--repeat", type=int, default=1, help="audit this many times")
    args = ap.parse_args()
    cores = os.cpu_count() or 1
    base = args.keep or Path(tempfile.mkdtemp(prefix="evledger-bench-", dir="/tmp"))
    try:
        with (
            EmbeddedPostgres(base / "pg", cleanup_mode="stop" if args.keep else "delete") as pg,
            Anvil(state_dir=base / "anvil" if args.keep else None) as anvil,
        ):
            settings = dataclasses.replace(Settings.from_env(), home=base / "home")
            rt = Runtime.open(settings, pg.url, anvil.rpc_url)
            try:
                run(rt, args, cores)
            finally:
                rt.stop()
    finally:
        if args.keep is None:
            shutil.rmtree(base, ignore_errors=True)


def run(rt: Runtime, args: argparse.Namespace, cores: int) -> None:
    have = count(rt, "inspection")
    fill_s = 0.0
    if have < args.records:
        print(f"filling {args.records - have} records ...", file=sys.stderr)
        fill_s = fill(rt, have, args.records, max(1, cores - 1))
    t0 = time.perf_counter()
    sealed = 0
    while n := rt.sealer.seal_once():
        sealed += n
        if sealed % 100_000 < n:
            print(f"  sealed {sealed}", file=sys.stderr)
    rt.anchorer.anchor_once()
    seal_s = time.perf_counter() - t0
    total = count(rt)

    def progress(stage: str, done: int, of: int) -> None:
        if stage != "records" or done % 100_000 < 5000 or done == of:
            print(f"  audit {stage}: {done}/{of}", file=sys.stderr)

    audits = []
    for _ in range(args.repeat):
        auditor = Auditor(
            rt.engine,
            rt.ledger.identity,
            rt.ledger.identity.log_public_key,
            rt.chain,
            progress=progress,
            workers=args.workers,
        )
        load = os.getloadavg()
        cpu = _cpu()
        t0 = time.perf_counter()
        findings = auditor.run()
        audits.append((time.perf_counter() - t0, load, os.getloadavg(), _cpu(cpu), findings))
    print(f"machine: {cores} cores (os.cpu_count()), Python {sys.version.split()[0]}")
    print(
        f"records: {total} ({args.records} inspections over {LOTS} lots, plus signer and "
        "master data records)"
    )
    if fill_s:
        filled = args.records - have
        print(
            f"fill (submit_batch, {BATCH} a call, in-process; signing in "
            f"{max(1, cores - 1)} worker process(es)): {fill_s:.1f} s for {filled}, "
            f"{filled / fill_s:.0f} records/s"
        )
    else:
        print(f"fill: reused the ledger in {args.keep}")
    print(f"seal + anchor: {seal_s:.1f} s ({sealed} sealed)")
    for audit_s, load, load_after, (main_cpu, workers_cpu), findings in audits:
        print(
            f"audit (workers={args.workers}): {audit_s:.1f} s, {total / audit_s:.0f} records/s; "
            f"CPU {main_cpu:.1f} s in this process, {workers_cpu:.1f} s in the workers; "
            f"load average {load[0]:.2f} before, {load_after[0]:.2f} after; "
            f"findings: {len(findings)}"
        )
        for f in findings[:20]:
            print(f"  {f}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of this process (fill, if any, included): {peak:.0f} MB")
    if any(a[-1] for a in audits):
        raise SystemExit(1)


def _cpu(since: tuple[float, float] = (0.0, 0.0)) -> tuple[float, float]:
    """CPU seconds used by this process and by its ended children (the audit's workers)."""
    me, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return (
        me.ru_utime + me.ru_stime - since[0],
        kids.ru_utime + kids.ru_stime - since[1],
    )


if __name__ == "__main__":
    main()
