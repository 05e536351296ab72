"""What one core of this machine can do of the work a submission needs, measured in the same
run: SHA-256 of small inputs, secp256k1 public-key recovery (coincurve, as the service does),
EIP-712 recovery through eth-account (the slow path a naive service would take), RFC 8785
canonical JSON, and PostgreSQL COPY into a temporary table of the service's own database."""

from __future__ import annotations

import hashlib
import io
import json
import random
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import coincurve
import rfc8785
from evledger_verify.records import Domain, eip712_digest, record_hash, typed_data

from bench._records import new_key

__all__ = ["machine_limits"]


def _per_second(fn: Callable[[], Any], seconds: float, calls_per_fn: int = 1) -> float:
    """Calls of ``fn`` per second, run for about ``seconds`` after a short warm-up."""
    fn()
    n = 0
    t0 = time.perf_counter()
    end = t0 + seconds
    while True:
        fn()
        n += calls_per_fn
        t = time.perf_counter()
        if t >= end:
            return n / (t - t0)


def _sha256(seconds: float) -> float:
    inputs = [random.randbytes(64) for _ in range(1000)]
    sha = hashlib.sha256

    def thousand() -> None:
        for x in inputs:
            sha(x).digest()

    return _per_second(thousand, seconds, len(inputs))


def _signed_samples(domain: Domain, record: dict[str, Any], n: int) -> list[tuple[bytes, bytes]]:
    """``n`` (digest, 65-byte r||s||recid) pairs by different keys over different times."""
    rng = random.Random(7)
    out = []
    rhash = record_hash(record)
    for i in range(n):
        key = new_key(rng)
        digest = eip712_digest(domain, record["record_id"], record["type"], rhash, "authored", i)
        sig = key.sign_digest(digest)
        raw = bytes.fromhex(sig[2:])
        out.append((digest, raw[:64] + bytes([raw[64] - 27])))
    return out


def _coincurve_recover(samples: list[tuple[bytes, bytes]], seconds: float) -> float:
    recover = coincurve.PublicKey.from_signature_and_message

    def all_samples() -> None:
        for digest, sig in samples:
            recover(sig, digest, hasher=None)

    return _per_second(all_samples, seconds, len(samples))


def _eth_account_recover(
    domain: Domain, record: dict[str, Any], samples: list[tuple[bytes, bytes]], seconds: float
) -> float:
    from eth_account import Account
    from eth_account.messages import encode_typed_data

    rhash = record_hash(record)
    cases = []
    for i, (_, sig) in enumerate(samples[:20]):
        td = typed_data(domain, record["record_id"], record["type"], rhash, "authored", i)
        cases.append((td, sig[:64] + bytes([sig[64] + 27])))

    def all_cases() -> None:
        for td, sig in cases:
            Account.recover_message(encode_typed_data(full_message=td), signature=sig)

    return _per_second(all_cases, seconds, len(cases))


def _copy_rows(database_url: str, rows: int) -> dict[str, Any]:
    """COPY ``rows`` record-like rows into a temporary table over one connection (the
    application role may not create tables; any role may create temporary ones)."""
    import psycopg2

    u = urlsplit(database_url)
    host = parse_qs(u.query).get("host", [u.hostname or ""])[0] or None
    # runtime.json masks the password ("***", even an empty one). The embedded server trusts
    # local connections, so the role named there, or else the owner, connects without one.
    password = None if u.password in (None, "", "***") else unquote(u.password)
    conn = None
    for user in dict.fromkeys([unquote(u.username or "postgres"), "postgres"]):
        try:
            conn = psycopg2.connect(
                dbname=(u.path or "/postgres").lstrip("/") or "postgres",
                user=user,
                password=password,
                host=host,
                port=u.port,
            )
            break
        except psycopg2.OperationalError:
            if user == "postgres":
                raise
    assert conn is not None
    try:
        rng = random.Random(11)
        buf = io.StringIO()
        for i in range(rows):
            buf.write(
                f"{i}\tLOT-{i % 200:04d}-{i:06d}-reading\tprocess_reading\tLOT-{i % 200:04d}\t"
                f"\\\\x{rng.randbytes(32).hex()}\t2026-11-29 12:00:00+00\n"
            )
        data = buf.getvalue()
        with conn.cursor() as cur:
            cur.execute(
                "CREATE TEMP TABLE bench_copy (seq bigint, record_id text, record_type text, "
                "lot text, leaf_hash bytea, accepted_at timestamptz)"
            )
            t0 = time.perf_counter()
            cur.copy_expert("COPY bench_copy FROM STDIN", io.StringIO(data))
            conn.commit()
            seconds = time.perf_counter() - t0
            cur.execute("SELECT count(*) FROM bench_copy")
            (count,) = cur.fetchone()
        return {
            "role": conn.info.user,
            "rows": count,
            "seconds": round(seconds, 3),
            "rows_per_s": round(count / seconds),
        }
    finally:
        conn.close()


def machine_limits(
    domain: Domain, record: dict[str, Any], database_url: str, seconds: float, copy_rows: int
) -> dict[str, Any]:
    """Each figure on one core (one thread), measured for about ``seconds`` s."""
    samples = _signed_samples(domain, record, 200)
    out: dict[str, Any] = {
        "sha256_small_per_s": round(_sha256(seconds)),
        "coincurve_recover_per_s": round(_coincurve_recover(samples, seconds)),
        "eth_account_eip712_recover_per_s": round(
            _eth_account_recover(domain, record, samples, seconds)
        ),
        "rfc8785_dumps_per_s": round(_per_second(lambda: rfc8785.dumps(record), seconds)),
        "json_dumps_per_s": round(_per_second(lambda: json.dumps(record), seconds)),
        "record_bytes_jcs": len(rfc8785.dumps(record)),
    }
    try:
        out["postgres_copy"] = _copy_rows(database_url, copy_rows)
    except Exception as exc:  # report and go on: the other figures still stand
        out["postgres_copy"] = {"error": f"{type(exc).__name__}: {exc}"}
    return out
