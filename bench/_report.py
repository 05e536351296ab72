"""The ingest benchmark's printed report: the table of figures against the issue's targets and
the machine's limits, the profile summaries, and what went wrong."""

from __future__ import annotations

from typing import Any

__all__ = [
    "STRETCH_BATCH",
    "TARGET_BATCH",
    "TARGET_P99_MS",
    "TARGET_RECEIPT_P50_S",
    "TARGET_SINGLE",
    "report",
    "table",
]

#: The issue's targets.
TARGET_BATCH, STRETCH_BATCH = 5000, 10000
TARGET_SINGLE = 800
TARGET_P99_MS = 50
TARGET_RECEIPT_P50_S = 2.0


def fmt(v: float | None, unit: str = "", digits: int = 0) -> str:
    if v is None:
        return "n/a"
    return f"{v:,.{digits}f}{unit}"


def table(r: dict[str, Any]) -> str:
    lim = r.get("limits", {})
    cores = r["machine"]["cores"] or 1
    ecdsa = lim.get("coincurve_recover_per_s")
    ecdsa_all = ecdsa * cores if ecdsa else None
    rows: list[tuple[str, str, str, str, str]] = []

    def add(
        figure: str, measured: str, target: str = "-", result: str = "-", note: str = ""
    ) -> None:
        rows.append((figure, measured, target, result, note))

    def vs_ecdsa(v: float | None) -> str:
        if not v or not ecdsa_all:
            return "-"
        return f"{v / ecdsa_all:.3f} of ECDSA recovery x {cores} cores ({ecdsa_all:,.0f}/s)"

    def verdict(ok: bool | None, stretch: bool = False) -> str:
        return "PASS (stretch)" if stretch else ("PASS" if ok else "MISS")

    batch_target = f">= {TARGET_BATCH:,} ({STRETCH_BATCH:,})"
    for b in r.get("batch", []):
        v = b["records_per_s"]
        name = f"batch, {b['connections']} conn ({b['batch_size']}/request)"
        add(name, fmt(v, " rec/s"), batch_target, verdict(v >= TARGET_BATCH), vs_ecdsa(v))
    if "batch_best" in r:
        v = r["batch_best"]["records_per_s"]
        name = f"batch, best ({r['batch_best']['connections']} conn)"
        ok = verdict(v >= TARGET_BATCH, v >= STRETCH_BATCH)
        add(name, fmt(v, " rec/s"), batch_target, ok, vs_ecdsa(v))
    for s in r.get("single", []):
        v = s["requests_per_s"]
        name = f"single POST, {s['clients']} closed-loop clients"
        add(name, fmt(v, " req/s"), f">= {TARGET_SINGLE}", verdict(v >= TARGET_SINGLE), vs_ecdsa(v))
    o = r.get("open_loop")
    if o:
        lat = o["latency_ms"]
        add(
            f"single POST at {o['offered_rate']:g}/s: p50 / p95 / p99",
            f"{fmt(lat['p50'], '', 1)} / {fmt(lat['p95'], '', 1)} / {fmt(lat['p99'], ' ms', 1)}",
            f"p99 <= {TARGET_P99_MS} ms",
            verdict(lat["p99"] is not None and lat["p99"] <= TARGET_P99_MS),
            f"achieved {o['achieved_rate']:,.0f}/s; {o['ok']} of {o['scheduled']} answered 2xx",
        )
        rc = o["receipts"]
        add(
            "acceptance -> anchored receipt p50 (p95)",
            f"{fmt(rc['p50_s'], '', 2)} s ({fmt(rc['p95_s'], '', 2)} s)",
            f"p50 <= {TARGET_RECEIPT_P50_S:g} s",
            verdict(rc["p50_s"] is not None and rc["p50_s"] <= TARGET_RECEIPT_P50_S),
            f"{rc['anchored']} sampled records, polled every {rc['poll_interval_s']} s",
        )
    phases = [(f"batch {b['connections']} conn", b) for b in r.get("batch", [])]
    phases += [(f"{s['clients']} clients", s) for s in r.get("single", [])]
    phases += [(f"{o['offered_rate']:g}/s", o)] if o else []
    for name, p in phases:
        d = p["drain"]
        add(
            f"last acceptance -> all anchored ({name})",
            fmt(d.get("anchored_seconds"), " s", 2),
            note=f"all sealed after {fmt(d.get('sealed_seconds'), ' s', 2)}",
        )
    for name, p in phases:
        us = p["usage"].get("cpu_us_per_record", {})
        busy = sum(p["usage"]["cpu_s"].values()) / p["usage"]["wall_s"]
        # One API process runs its Python on one core at a time (the GIL).
        bound = f"; a core of API CPU serves {1e6 / us['api']:,.0f}/s" if us.get("api") else ""
        add(
            f"CPU us per record ({name})",
            " ".join(f"{k} {v}" for k, v in us.items()),
            note=f"{busy:.2f} of {cores} cores busy, load avg {p['usage']['loadavg'][0]}{bound}",
        )
    if lim:
        copy = lim.get("postgres_copy", {})
        add("limit: SHA-256, small input (1 core)", fmt(lim["sha256_small_per_s"], "/s"))
        add("limit: coincurve ECDSA recovery (1 core)", fmt(ecdsa, "/s"))
        add(
            "limit: eth-account EIP-712 recovery (1 core)",
            fmt(lim["eth_account_eip712_recover_per_s"], "/s"),
        )
        add(
            "limit: rfc8785.dumps of a record (1 core)",
            fmt(lim["rfc8785_dumps_per_s"], "/s"),
            note=f"json.dumps {lim['json_dumps_per_s']:,}/s; {lim['record_bytes_jcs']} bytes",
        )
        add(
            "limit: PostgreSQL COPY (1 connection)",
            fmt(copy["rows_per_s"], " rows/s") if "rows_per_s" in copy else copy.get("error", "?"),
        )
    if "pool" in r:
        pool = r["pool"]
        add(
            "client: build + sign (1 core, untimed)",
            fmt(pool["build_and_sign_per_s"], " rec/s"),
            note=f"{pool['records']:,} records: "
            + ", ".join(
                f"{k} {v}" for k, v in sorted(pool["kinds"].items(), key=lambda kv: -kv[1])
            ),
        )
    widths = [max(len(row[i]) for row in [*rows, _HEAD]) for i in range(5)]

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    return "\n".join([line(_HEAD), line(tuple("-" * w for w in widths)), *map(line, rows)])


_HEAD = ("figure", "measured", "target", "result", "vs machine limit / notes")


def report(r: dict[str, Any]) -> str:
    m = r["machine"]
    workers = r["settings"].get("api_workers") or (
        f"unset (default: one per core, {min(int(m['cores']), 8)})"
    )
    lines = [
        "",
        f"evledger ingest benchmark, {r['started_at']}",
        f"command: {r['command']}",
        f"machine: {m['cores']} cores ({m['cpu']}), Python {m['python']}, commit "
        f"{m['git_commit']}"
        + (
            f" + uncommitted {', '.join(m['uncommitted_service_files'])}"
            if m["uncommitted_service_files"]
            else ""
        ),
        f"service: evledger up, EVLEDGER_API_WORKERS={workers}, started in "
        f"{r.get('startup_s')} s; {r.get('signers_registered')} signers registered, "
        f"{r.get('master_data_records')} master data records logged",
        f"load average (1/5/15 min) at start {r['loadavg_start']}, at end "
        f"{r.get('loadavg_end')}; client and service share the cores, and so do other jobs "
        "on this machine: figures are noisy",
        "",
        table(r),
    ]
    for prof in (r.get("profile") or {}).values():
        if "summary" not in prof or "summary_gil" not in prof:
            lines += ["", f"py-spy: {prof.get('skipped') or prof.get('error')}"]
            continue
        s, g, u = prof["summary"], prof["summary_gil"], prof["under_py_spy"]
        rate = u.get("records_per_s") or u.get("requests_per_s")
        lines += [
            "",
            f"py-spy: {prof['what']} ({rate:,.0f}/s under py-spy)",
            f"  GIL view: {g['seconds_sampled']} s with the GIL held; top functions, self:",
            *(f"    {e['share'] * 100:5.1f}%  {e['function']}" for e in g["top_self"][:15]),
            "  GIL view, inclusive, the project's functions (on the stack while the GIL was held):",
            *(
                f"    {e['share'] * 100:5.1f}%  {e['function']}"
                for e in g["top_inclusive_project"][:20]
            ),
            f"  all threads not idle (includes waiting on PostgreSQL): {s['seconds_sampled']} s, "
            f"by thread {s['threads']}; top self:",
            *(f"    {e['share'] * 100:5.1f}%  {e['function']}" for e in s["top_self"][:10]),
        ]
    stop = r.get("stop", {})
    lines += [
        "",
        f"stop: SIGINT, exit code {stop.get('exit_code')}, {stop.get('stop_seconds')} s; "
        f"left running: {stop.get('left_running') or 'nothing'}",
    ]
    if r.get("service_log_problems"):
        lines.append(
            f"service log: {len(r['service_log_problems'])} error line(s), first: "
            f"{r['service_log_problems'][:3]}"
        )
    for p in r.get("problems", []):
        lines.append(f"PROBLEM: {p}")
    if r.get("kept"):
        lines.append(f"kept: {r['kept']} (the service's log is up.log there)")
    return "\n".join(lines)
