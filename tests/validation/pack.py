"""``make validation-pack``: the operational qualification pack, generated from the tests that
actually ran (issue 16).

1. runs the tests (the whole suite by default; ``--tests`` for a subset) with machine-readable
   results: pytest's JUnit XML and this directory's plugin (each test's outcome, duration, start
   time and the requirements its ``req`` markers name);
2. records the environment: git commit and whether the tree was dirty, Python and every
   installed package with its pin and hashes in the lock file, PostgreSQL (pgserver's), Anvil,
   solc, Node and the OS;
3. writes the pack, ``pack.json`` and ``pack.html``: intended use, risk assessment (the
   catalogue's classes), a traceability matrix (requirement -> tests -> result, with times),
   deviations, a summary and an approval block;
4. logs the SHA-256 of ``pack.json`` (and of ``pack.html``, in the record's details) as a signed
   ``validation/1`` record (kind ``oq-pack``), waits for its anchored receipt and verifies it
   with ``evledger-verify``; ``record.json``, ``receipt.json``, ``trust.json`` and
   ``verify.txt`` go next to the pack.

The ledger: ``--api URL`` (or ``EVLEDGER_VALIDATION_API``) names a running one; otherwise a
private ``evledger up`` is started under ``OUT/ledger`` and stopped afterwards (its home is
kept: start it again with ``EVLEDGER_HOME=OUT/ledger/.evledger evledger up``). The key: the
ledger's audit key (role auditor, meaning ``recorded``) by default, read from its home
(``--home``, default the private ledger's or ``$EVLEDGER_HOME``); ``--key FILE`` with
``--password-file`` and ``--meaning approved`` for a QA approver's keystore.

Exit status: 0 when the pack was produced and every test passed, 1 when it was produced with
deviations (failed or erroneous tests) or its record could not be logged and verified, 2 on
bad input.
"""

from __future__ import annotations

import argparse
import hashlib
import html
import importlib.metadata
import json
import os
import platform
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from ledger.embedded import free_port
from ledger.selftest import find_lockfile, read_lockfile
from tests.validation.catalogue import ROOT, Catalogue, load

BIN = Path(sys.executable).parent
SOFTWARE = "evledger"
PASSING = ("passed", "xfailed")


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _run(cmd: list[str], **kw: Any) -> str:
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, **kw)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unavailable ({exc})"
    out = (done.stdout or done.stderr).strip()
    return out if done.returncode == 0 else f"unavailable (exit {done.returncode}: {out[:200]})"


# -- the environment ------------------------------------------------------------------------------


def lock_hashes(path: Path) -> dict[str, list[str]]:
    """name -> the ``--hash=sha256:...`` of its pin in a pip-style lock (none in a TOML lock).
    The pinned versions are ledger.selftest's reading, as the IQ self-test checks them."""
    text = re.sub(r"\\\n", " ", path.read_text())
    hashes: dict[str, list[str]] = {}
    for line in text.splitlines():
        m = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==", line.strip())
        if m:
            hashes[canonicalize_name(m.group(1))] = re.findall(
                r"--hash=(sha256:[0-9a-f]{64})", line
            )
    return hashes


def environment() -> dict[str, Any]:
    commit = _run(["git", "rev-parse", "HEAD"], cwd=ROOT)
    dirty_files = _run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT)
    locks = sorted(ROOT.glob("requirements*.lock"))
    lock = find_lockfile(ROOT)
    try:
        pins = read_lockfile(lock)[0] if lock else {}
    except (OSError, ValueError):
        pins = {}
    hashes = lock_hashes(lock) if lock else {}
    packages = []
    for dist in sorted(
        importlib.metadata.distributions(),
        key=lambda d: canonicalize_name(d.metadata["Name"] or ""),
    ):
        name = dist.metadata["Name"]
        if not name:
            continue
        locked = pins.get(canonicalize_name(name))
        packages.append(
            {
                "name": name,
                "version": dist.version,
                "locked": locked,
                "matches_lock": (locked == dist.version) if locked else None,
                "hashes": hashes.get(canonicalize_name(name), []) if locked else [],
            }
        )
    try:
        import pgserver

        postgres = Path(pgserver.__file__).parent / "pginstall" / "bin" / "postgres"
        pg = _run([str(postgres), "--version"])
    except ImportError:
        pg = "unavailable (pgserver not installed)"
    anvil = _run([str(ROOT / "node_modules" / ".bin" / "anvil"), "--version"]).splitlines()
    solc_pkg = ROOT / "node_modules" / "solc" / "package.json"
    solc = json.loads(solc_pkg.read_text())["version"] if solc_pkg.exists() else "unavailable"
    os_release = {}
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if "=" in line:
                k, v = line.split("=", 1)
                os_release[k] = v.strip('"')
    except OSError:
        pass
    return {
        "git_commit": commit,
        "git_dirty": bool(dirty_files.strip()) and not dirty_files.startswith("unavailable"),
        "git_dirty_files": dirty_files.splitlines()[:50] if dirty_files.strip() else [],
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "lock_file": lock.name if lock else None,
        "lock_sha256": sha256_file(lock) if lock else None,
        "other_locks": {p.name: sha256_file(p) for p in locks if p != lock},
        "package_lock_sha256": sha256_file(ROOT / "package-lock.json")
        if (ROOT / "package-lock.json").exists()
        else None,
        "packages": packages,
        "postgresql": pg,
        "anvil": anvil[0] if anvil else "unavailable",
        "anvil_commit": next(
            (a.split(":", 1)[1].strip() for a in anvil if a.startswith("Commit")), None
        ),
        "solc": f"solcjs {solc}",
        "node": _run(["node", "--version"]),
        "os": os_release.get("PRETTY_NAME", platform.platform()),
        "kernel": platform.platform(),
        "host": socket.gethostname(),
        "cpus": os.cpu_count(),
    }


# -- the tests -------------------------------------------------------------------------------------


def run_tests(out: Path, tests: list[str], extra: list[str]) -> tuple[dict[str, Any], int]:
    results, junit = out / "results.json", out / "junit.xml"
    for stale in (results, junit):
        stale.unlink(missing_ok=True)
    cmd = [
        str(BIN / "python"),
        "-m",
        "pytest",
        "-p",
        "tests.validation.plugin",
        "--validation-json",
        str(results),
        "--junitxml",
        str(junit),
        "-q",
        "-rfEs",
        *extra,
        *tests,
    ]
    print(f"validation pack: running {' '.join(tests) or 'the whole suite'}", flush=True)
    code = subprocess.call(cmd, cwd=ROOT)
    if not results.exists():
        raise SystemExit(f"validation pack: pytest wrote no results (exit {code})")
    return json.loads(results.read_text()), code


# -- the pack --------------------------------------------------------------------------------------


def build(
    catalogue: Catalogue, run: dict[str, Any], env: dict[str, Any], tests: list[str], record_id: str
) -> dict[str, Any]:
    by_req: dict[str, list[dict[str, Any]]] = {r.id: [] for r in catalogue.requirements}
    unknown: set[str] = set()
    for t in run["tests"]:
        for rid in t["requirements"]:
            if rid in by_req:
                by_req[rid].append(t)
            else:
                unknown.add(rid)
    matrix, deviations = [], []
    for r in catalogue.requirements:
        ran = by_req[r.id]
        outcomes = [t["outcome"] for t in ran]
        if not ran:
            status = "not run"
        elif any(o in ("failed", "error", "xpassed") for o in outcomes):
            status = "failed"
        elif all(o in PASSING for o in outcomes):
            status = "passed"
        elif any(o in PASSING for o in outcomes):
            status = "passed with skips"
        else:
            status = "skipped"
        matrix.append(
            {
                "id": r.id,
                "statement": r.statement,
                "clauses": list(r.clauses),
                "area": r.area,
                "risk": r.risk,
                "activity": r.activity,
                "status": status,
                "tests": [
                    {
                        "nodeid": t["nodeid"],
                        "outcome": t["outcome"],
                        "duration_s": t["duration_s"],
                        "started_at": t["started_at"],
                    }
                    for t in ran
                ],
            }
        )
    for t in run["tests"]:
        if t["outcome"] not in PASSING:
            deviations.append(
                {
                    "nodeid": t["nodeid"],
                    "outcome": t["outcome"],
                    "detail": t["detail"],
                    "requirements": t["requirements"],
                    "started_at": t["started_at"],
                    "duration_s": t["duration_s"],
                    "risk": sorted(
                        {m["risk"] for m in matrix if m["id"] in t["requirements"]},
                        key=("high", "medium", "low").index,
                    ),
                }
            )
    counts: dict[str, int] = {}
    for t in run["tests"]:
        counts[t["outcome"]] = counts.get(t["outcome"], 0) + 1
    req_counts: dict[str, int] = {}
    for m in matrix:
        req_counts[m["status"]] = req_counts.get(m["status"], 0) + 1
    untraced = [t["nodeid"] for t in run["tests"] if not t["requirements"]]
    failed = counts.get("failed", 0) + counts.get("error", 0) + counts.get("xpassed", 0)
    risk = {
        name: {**cls, "requirements": sum(1 for r in catalogue.requirements if r.risk == name)}
        for name, cls in catalogue.risk.items()
    }
    return {
        "pack": "evledger operational qualification pack",
        "format": "evledger-validation-pack/1",
        "generated_at": utc_now(),
        "record_id": record_id,
        "software": f"{SOFTWARE} {importlib.metadata.version('evledger')}",
        "scope": {
            "tests": tests or ["the whole suite (pytest testpaths: tests)"],
            "complete": not tests,
            "note": ""
            if not tests
            else "A subset of the suite ran: requirements without a test in it are 'not run'.",
        },
        "intended_use": catalogue.meta.get("intended_use", ""),
        "not_intended": catalogue.meta.get("not_intended", ""),
        "risk_assessment": risk,
        "summary": {
            "outcome": "failed" if failed else "passed",
            "tests": len(run["tests"]),
            **{
                k: counts.get(k, 0)
                for k in ("passed", "failed", "error", "skipped", "xfailed", "xpassed")
            },
            "requirements": len(matrix),
            "requirements_by_status": req_counts,
            # Requirements with no passing test in this run (all of them must have one in a
            # complete run: "not run" or only skipped is a gap in the qualification).
            "requirements_without_passing_test": sorted(
                m["id"] for m in matrix if m["status"] not in ("passed", "passed with skips")
            ),
            "tests_without_requirement": len(untraced),
            "unknown_requirements_named": sorted(unknown),
            "started_at": run["started_at"],
            "finished_at": run["finished_at"],
            "duration_s": round(sum(t["duration_s"] for t in run["tests"]), 1),
            "pytest_exit_status": run["exit_status"],
        },
        "traceability": matrix,
        "deviations": deviations,
        "tests_without_requirement": untraced,
        "environment": env,
        "approval": {
            "statement": "By signing, the approver states that this pack was reviewed, that each "
            "deviation was assessed, and that the system is fit for its intended use as "
            "described here, within the scope of the tests that ran.",
            "how": "Approval is an electronic record too: each approver signs a review/1 record "
            "of this pack's validation record (its record_id and record hash) with meaning "
            "'approved' (`evledger submit` with their keystore, or the QA console's 'Sign "
            "files'); the ledger logs and anchors it like any evidence. The lines below are "
            "for a paper copy.",
            "roles": [
                {"role": "Prepared by (validation lead)", "meaning": "authored"},
                {"role": "Reviewed by (system owner / IT)", "meaning": "reviewed"},
                {"role": "Approved by (quality assurance)", "meaning": "approved"},
            ],
        },
    }


# -- HTML ------------------------------------------------------------------------------------------

CSS = """
:root{--ink:#1b1f24;--muted:#5b6470;--line:#d5dae0;--ok:#17663a;--okbg:#e3f4ea;--bad:#a1141d;
--badbg:#fde7e9;--warn:#7a5300;--warnbg:#fff3d6;--na:#4b5563;--nabg:#eef0f3;--accent:#0b4f8a}
*{box-sizing:border-box}body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
color:var(--ink);margin:0;background:#f6f7f9}main{max-width:1180px;margin:0 auto;padding:28px 32px;
background:#fff;min-height:100vh}h1{font-size:26px;margin:0 0 4px}
h2{font-size:19px;margin:34px 0 10px;
padding-bottom:6px;border-bottom:2px solid var(--line)}h3{font-size:15px;margin:18px 0 6px}
.sub{color:var(--muted);margin:0 0 18px}table{border-collapse:collapse;width:100%;margin:8px 0 14px}
th,td{border:1px solid var(--line);padding:6px 8px;text-align:left;vertical-align:top}
th{background:#f0f3f6;font-weight:600}td.num{text-align:right;font-variant-numeric:tabular-nums}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px;
word-break:break-all}.chip{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12.5px;
font-weight:600;white-space:nowrap}.passed,.xfailed{background:var(--okbg);color:var(--ok)}
.failed,.error,.xpassed{background:var(--badbg);color:var(--bad)}
.skipped,.passed-with-skips{background:var(--warnbg);color:var(--warn)}
.not-run{background:var(--nabg);color:var(--na)}.high{background:var(--badbg);color:var(--bad)}
.medium{background:var(--warnbg);color:var(--warn)}.low{background:var(--nabg);color:var(--na)}
.cards{display:flex;gap:12px;flex-wrap:wrap;margin:10px 0 6px}.card{border:1px solid var(--line);
border-radius:8px;padding:10px 16px;min-width:130px}.card b{display:block;font-size:24px}
.card span{color:var(--muted);font-size:13px}
.verdict{font-size:17px;padding:10px 14px;border-radius:8px;
margin:12px 0}.tests{margin:0;padding-left:0;list-style:none}.tests li{margin:2px 0}
.sign td{height:46px}.note{color:var(--muted);font-size:13.5px}details summary{cursor:pointer;
color:var(--accent)}a{color:var(--accent)}
@media print{body{background:#fff}main{padding:0}h2{break-after:avoid}
tr{break-inside:avoid}}
"""


def _chip(text: str) -> str:
    cls = re.sub(r"[^a-z]+", "-", text.lower()).strip("-")
    return f'<span class="chip {cls}">{html.escape(text)}</span>'


def render_html(pack: dict[str, Any], pack_sha256: str) -> str:
    e = html.escape
    s = pack["summary"]
    env = pack["environment"]
    ok = s["outcome"] == "passed"
    out = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width,initial-scale=1'>",
        f"<title>Validation pack {e(pack['record_id'])}</title><style>{CSS}</style></head>",
        "<body><main>",
        "<h1>Operational qualification: evledger validation pack</h1>",
        f"<p class='sub'>{e(pack['software'])} · commit <code>{e(env['git_commit'][:12])}</code>"
        f"{' (working tree modified)' if env['git_dirty'] else ''} · generated "
        f"{e(pack['generated_at'])} · record <code>{e(pack['record_id'])}</code></p>",
        f"<div class='verdict {'passed' if ok else 'failed'}'>"
        f"<b>{'All tests passed' if ok else 'Deviations found'}</b>: "
        f"{s['passed']} of {s['tests']} tests passed, {s['failed'] + s['error']} failed, "
        f"{s['skipped']} skipped; {s['requirements_by_status'].get('passed', 0)} of "
        f"{s['requirements']} requirements passed"
        + (
            f"; {len(s['requirements_without_passing_test'])} without a passing test in this "
            "complete run."
            if pack["scope"]["complete"] and s["requirements_without_passing_test"]
            else "."
        )
        + "</div>",
        "<h2>1. Summary</h2><div class='cards'>",
    ]
    for label, value in (
        ("tests run", s["tests"]),
        ("passed", s["passed"]),
        ("failed / error", s["failed"] + s["error"]),
        ("skipped", s["skipped"]),
        ("requirements", s["requirements"]),
        ("deviations", len(pack["deviations"])),
    ):
        out.append(f"<div class='card'><b>{value}</b><span>{e(label)}</span></div>")
    out.append(
        "</div><table style='width:auto'><tr><th>Requirements by result</th><th>Count</th></tr>"
    )
    for k, v in sorted(s["requirements_by_status"].items()):
        out.append(f"<tr><td>{_chip(k)}</td><td class='num'>{v}</td></tr>")
    out.append("</table>")
    out.append(
        f"<p>Run from {e(s['started_at'])} to {e(s['finished_at'])} (UTC), "
        f"{s['duration_s']:.0f} s of test time. Scope: "
        f"{e(', '.join(pack['scope']['tests']))}. {e(pack['scope']['note'])}</p>"
    )
    out += [
        "<h2>2. Intended use</h2>",
        f"<p>{e(pack['intended_use'])}</p>",
        f"<p class='note'><b>Not intended:</b> {e(pack['not_intended'])}</p>",
        "<h2>3. Risk assessment and assurance activities</h2>",
        "<p>Each requirement carries a process-risk class; the class sets the assurance "
        "activity (FDA, <i>Computer Software Assurance for Production and Quality System "
        "Software</i>, September 2025).</p>",
        "<table><tr><th>Risk</th><th>Meaning</th><th>Assurance activity</th>"
        "<th>Requirements</th></tr>",
    ]
    for name in ("high", "medium", "low"):
        r = pack["risk_assessment"][name]
        out.append(
            f"<tr><td>{_chip(name)}</td><td>{e(r['meaning'])}</td>"
            f"<td>{e(r['activity'])}</td><td class='num'>{r['requirements']}</td></tr>"
        )
    out.append("</table>")
    risk_of = {m["id"]: m["risk"] for m in pack["traceability"]}
    out.append("<h2>4. Deviations</h2>")
    if pack["deviations"]:
        out.append(
            "<p>Each test that did not pass, against the requirements it names. A QA "
            "reviewer records the assessment of each (impact, rationale, action) before "
            "approval.</p><table><tr><th>Test</th><th>Result</th><th>Requirements</th>"
            "<th>Detail</th><th style='width:18%'>Assessment</th></tr>"
        )
        for d in pack["deviations"]:
            reqs = "<br>".join(
                f"<a href='#{e(r)}'>{e(r)}</a> {_chip(risk_of.get(r, '?'))}"
                for r in d["requirements"]
            )
            out.append(
                f"<tr><td><code>{e(d['nodeid'])}</code></td><td>{_chip(d['outcome'])}</td>"
                f"<td>{reqs or '(none)'}</td>"
                f"<td class='mono'>{e(d['detail'])}</td><td></td></tr>"
            )
        out.append("</table>")
    else:
        out.append("<p>None: every test that ran passed.</p>")
    if pack["tests_without_requirement"]:
        out.append(
            f"<p class='note'>{len(pack['tests_without_requirement'])} test(s) ran "
            "without naming a requirement (listed in pack.json).</p>"
        )
    out += [
        "<h2>5. Traceability matrix</h2>",
        "<p>Requirement → the tests that name it (pytest marker <code>req</code>) → their "
        "results, with start time (UTC) and duration; tests that did not pass are listed "
        "first.</p>",
        "<table><tr><th style='width:10%'>Id</th><th style='width:36%'>Requirement</th>"
        "<th style='width:7%'>Risk</th><th>Tests</th><th style='width:9%'>Result</th></tr>",
    ]
    for m in pack["traceability"]:
        tests = sorted(m["tests"], key=lambda t: (t["outcome"] in PASSING, t["started_at"] or ""))
        shown = tests[:5]
        items = "".join(
            f"<li>{_chip(t['outcome'])} <code>{e(t['nodeid'])}</code> "
            f"<span class='note'>{e(t['started_at'] or '')} · {t['duration_s']:.2f} s</span></li>"
            for t in shown
        )
        more = ""
        if len(tests) > len(shown):
            rest = "".join(
                f"<li>{_chip(t['outcome'])} <code>{e(t['nodeid'])}</code> "
                f"<span class='note'>{t['duration_s']:.2f} s</span></li>"
                for t in tests[len(shown) :]
            )
            more = (
                f"<details><summary>{len(tests) - len(shown)} more tests</summary>"
                f"<ul class='tests'>{rest}</ul></details>"
            )
        counts: dict[str, int] = {}
        for t in tests:
            counts[t["outcome"]] = counts.get(t["outcome"], 0) + 1
        tally = ", ".join(f"{v} {k}" for k, v in sorted(counts.items())) or "no test in this run"
        out.append(
            f"<tr id='{e(m['id'])}'><td><b>{e(m['id'])}</b><div class='note'>{e(m['area'])}"
            f"</div></td><td>{e(m['statement'])}"
            f"<div class='note'>{e('; '.join(m['clauses']))}</div></td>"
            f"<td>{_chip(m['risk'])}</td><td><div class='note'>{e(tally)}</div>"
            f"<ul class='tests'>{items}</ul>{more}</td><td>{_chip(m['status'])}</td></tr>"
        )
    out.append("</table>")
    out += ["<h2>6. Environment</h2><table>"]
    rows = [
        (
            "Git commit",
            f"<code>{e(env['git_commit'])}</code>"
            + (
                " <span class='chip failed'>modified working tree</span>"
                if env["git_dirty"]
                else ""
            ),
        ),
        ("Python", e(f"{env['python_implementation']} {env['python']}")),
        (
            "Lock file",
            f"{e(env['lock_file'] or 'none')} <code>{e(env['lock_sha256'] or '')}</code>",
        ),
        ("PostgreSQL", e(env["postgresql"])),
        ("Anvil", e(f"{env['anvil']} ({env['anvil_commit'] or ''})")),
        ("Solidity compiler", e(env["solc"])),
        ("Node", e(env["node"])),
        ("Operating system", e(f"{env['os']} · {env['kernel']}")),
        ("Host", e(f"{env['host']} ({env['cpus']} CPUs)")),
    ]
    out += [f"<tr><th style='width:22%'>{k}</th><td>{v}</td></tr>" for k, v in rows]
    out.append("</table>")
    off = [p for p in env["packages"] if p["matches_lock"] is False]
    out.append(
        f"<details><summary>{len(env['packages'])} Python distributions installed "
        f"({sum(1 for p in env['packages'] if p['matches_lock'])} as locked, {len(off)} differ"
        ", the others are this checkout's own or not in the lock)</summary>"
        "<table><tr><th>Package</th>"
        "<th>Installed</th><th>Locked</th><th>Hashes in the lock</th></tr>"
    )
    for p in env["packages"]:
        first = p["hashes"][0] if p["hashes"] else ""
        out.append(
            f"<tr><td>{e(p['name'])}</td><td>{e(p['version'])}</td>"
            f"<td>{e(p['locked'] or '-')}</td><td class='mono'>{len(p['hashes'])}"
            f"{' · ' + e(first[:23]) + '…' if first else ''}</td></tr>"
        )
    out.append("</table></details>")
    a = pack["approval"]
    out += [
        "<h2>7. Tamper evidence</h2>",
        "<p>This pack's data file <code>pack.json</code> has SHA-256 "
        f"<code>{e(pack_sha256)}</code>. "
        "It is logged in the evidence ledger as the signed record "
        f"<code>{e(pack['record_id'])}</code> "
        "(type <code>validation</code>, kind <code>oq-pack</code>), anchored on chain; its receipt "
        "is <code>receipt.json</code> next to this file. Check it with:</p>",
        "<pre><code>sha256sum pack.json pack.html   # as record.json states\n"
        "evledger-verify receipt receipt.json --record record.json --trust trust.json</code></pre>",
        "<h2>8. Approval</h2>",
        f"<p>{e(a['statement'])}</p>",
        f"<p class='note'>{e(a['how'])}</p>",
        "<table class='sign'><tr><th>Role</th><th>Printed name</th><th>Signature</th>"
        "<th>Meaning</th><th>Date (UTC)</th></tr>",
    ]
    for r in a["roles"]:
        out.append(
            f"<tr><td>{e(r['role'])}</td><td></td><td></td><td>{e(r['meaning'])}</td><td></td></tr>"
        )
    out += ["</table>", "</main></body></html>"]
    return "\n".join(out) + "\n"


# -- the ledger ------------------------------------------------------------------------------------


class PrivateLedger:
    """``evledger up`` in a home of its own, as ``make run`` starts it (free ports)."""

    def __init__(self, folder: Path) -> None:
        self.home = folder / ".evledger"
        self.home.mkdir(parents=True, exist_ok=True)
        self.env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("DATABASE_URL", "ETH_RPC_URL", "EVLEDGER_API_URL")
        }
        self.env.update(
            EVLEDGER_HOME=str(self.home),
            EVLEDGER_PORT=str(free_port()),
            EVLEDGER_ANVIL_PORT=str(free_port()),
            EVLEDGER_SEAL_INTERVAL="0.2",
            EVLEDGER_ANCHOR_INTERVAL="0.5",
            PATH=f"{BIN}:{os.environ.get('PATH', '')}",
        )
        self.api = f"http://127.0.0.1:{self.env['EVLEDGER_PORT']}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 120) -> None:
        """Started and healthy; once more on new ports if it ended (a port taken meanwhile)."""
        try:
            self._start(timeout)
        except RuntimeError:
            self.env.update(EVLEDGER_PORT=str(free_port()), EVLEDGER_ANVIL_PORT=str(free_port()))
            self.api = f"http://127.0.0.1:{self.env['EVLEDGER_PORT']}"
            self._start(timeout)

    def _start(self, timeout: float) -> None:
        import httpx

        log = open(self.home.parent / "up.log", "ab")
        self.process = subprocess.Popen(
            [str(BIN / "evledger"), "up"],
            env=self.env,
            cwd=self.home.parent,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                tail = (self.home.parent / "up.log").read_text(errors="replace")[-600:]
                raise RuntimeError(f"evledger up ended ({self.home.parent / 'up.log'}): {tail}")
            try:
                if httpx.get(f"{self.api}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"evledger up did not become healthy: see {self.home.parent / 'up.log'}")

    def rpc_url(self) -> str | None:
        try:
            return str(json.loads((self.home / "runtime.json").read_text())["rpc_url"])
        except (OSError, ValueError, KeyError):
            return None

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGINT)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def record_pack(
    out: Path,
    pack: dict[str, Any],
    pack_sha: str,
    html_sha: str,
    api: str,
    key_path: Path,
    meaning: str,
    password_file: str | None,
    rpc: str | None,
) -> dict[str, Any]:
    """Sign and submit the validation record, wait for its anchored receipt, verify it with
    the evledger-verify command; write record.json, receipt.json, trust.json, verify.txt."""
    from ingest.client import Client, Passwords, load_key

    s = pack["summary"]
    env = pack["environment"]
    record = {
        "record_id": pack["record_id"],
        "type": "validation",
        "schema": "validation/1",
        "validation_id": pack["record_id"],
        "kind": "oq-pack",
        "sha256": pack_sha,
        "outcome": s["outcome"],
        "summary": {
            "tests": s["tests"],
            "passed": s["passed"],
            "failed": s["failed"],
            "errors": s["error"],
            "skipped": s["skipped"],
            "requirements": s["requirements"],
            "requirements_passed": s["requirements_by_status"].get("passed", 0),
            "deviations": len(pack["deviations"]),
            "requirements_without_passing_test": len(s["requirements_without_passing_test"]),
        },
        "software": pack["software"],
        "host": env["host"][:200],
        "description": "Operational qualification pack (make validation-pack): "
        f"{s['passed']} of {s['tests']} tests passed, "
        f"{s['requirements_by_status'].get('passed', 0)} of {s['requirements']} requirements",
        "details": {
            "files": {"pack.json": pack_sha, "pack.html": html_sha},
            "git_dirty": env["git_dirty"],
            "scope": pack["scope"]["tests"][:50],
        },
    }
    commit = env["git_commit"]
    if re.fullmatch(r"[0-9a-f]{40}", commit):
        record["git_commit"] = commit + ("-dirty" if env["git_dirty"] else "")
    key = load_key(
        key_path, "validation signing key", passwords=Passwords(password_file), allow_plain=True
    )
    with Client(api) as client:
        signed = key.sign(record, meaning, client.domain())
        client.submit(signed, same_record_ok=True)
        receipt = client.receipt(record["record_id"], wait=120)
        trust = client.trust()
    (out / "record.json").write_text(json.dumps(record, indent=1) + "\n")
    (out / "receipt.json").write_text(json.dumps(receipt, indent=1) + "\n")
    (out / "trust.json").write_text(json.dumps(trust, indent=1) + "\n")
    cmd = [
        str(BIN / "evledger-verify"),
        "receipt",
        "receipt.json",
        "--record",
        "record.json",
        "--trust",
        "trust.json",
    ]
    if rpc:
        cmd += ["--rpc", rpc]
    done = subprocess.run(cmd, cwd=out, capture_output=True, text=True, timeout=120)
    (out / "verify.txt").write_text(
        f"$ {' '.join(cmd[1:])}\n{done.stdout}{done.stderr}exit {done.returncode}\n"
    )
    return {
        "record_id": record["record_id"],
        "status": receipt.get("status"),
        "signer": signed.signer,
        "meaning": meaning,
        "verified": done.returncode == 0,
        "verify_output": done.stdout.strip().splitlines()[-1:] or [done.stderr.strip()],
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="make validation-pack", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default=str(ROOT / "build" / "validation"), help="pack folder")
    p.add_argument("--tests", nargs="*", default=[], help="test paths (default: the whole suite)")
    p.add_argument("--pytest-arg", action="append", default=[], help="passed on to pytest")
    p.add_argument("--results", help="use this results.json (from the plugin) instead of running")
    p.add_argument(
        "--api",
        default=os.environ.get("EVLEDGER_VALIDATION_API"),
        help="a running ledger's API (default: start a private one)",
    )
    p.add_argument(
        "--rpc",
        default=os.environ.get("EVLEDGER_VALIDATION_RPC"),
        help="its chain's RPC URL, to verify the receipt on chain too",
    )
    p.add_argument("--home", help="the running ledger's home, for its audit key (with --api)")
    p.add_argument("--key", help="sign with this key (a keystore) instead of the audit key")
    p.add_argument("--password-file", help="the keystore's password file")
    p.add_argument("--meaning", default=None, help="recorded (audit key) or approved (QA approver)")
    p.add_argument("--no-record", action="store_true", help="write the pack, log nothing")
    a = p.parse_args(argv)
    out = Path(a.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    if a.key and not Path(a.key).exists():
        print(f"validation pack: --key {a.key}: no such file", file=sys.stderr)
        return 2
    meaning = a.meaning or ("approved" if a.key else "recorded")
    if meaning not in ("recorded", "approved"):
        print("validation pack: --meaning must be recorded or approved", file=sys.stderr)
        return 2
    catalogue = load()
    if a.results:
        run, code = json.loads(Path(a.results).read_text()), 0
    else:
        run, code = run_tests(out, a.tests, a.pytest_arg)
    env = environment()
    rid = f"OQ-{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"
    pack = build(catalogue, run, env, a.tests, rid)
    pack_path = out / "pack.json"
    pack_path.write_text(json.dumps(pack, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    pack_sha = sha256_file(pack_path)
    html_path = out / "pack.html"
    html_path.write_text(render_html(pack, pack_sha), encoding="utf-8")
    html_sha = sha256_file(html_path)
    for stale in ("record.json", "receipt.json", "trust.json", "verify.txt", "ledger.json"):
        (out / stale).unlink(missing_ok=True)
    s = pack["summary"]
    print(
        f"validation pack: {s['passed']}/{s['tests']} tests passed, "
        f"{len(pack['deviations'])} deviation(s), requirements {s['requirements_by_status']}"
    )
    print(f"validation pack: {pack_path} sha256 {pack_sha}\nvalidation pack: {html_path}")
    recorded_ok = True
    if not a.no_record:
        private = None
        try:
            api, rpc, home = a.api, a.rpc, Path(a.home) if a.home else None
            if not api:
                private = PrivateLedger(out / "ledger")
                private.start()
                api, rpc, home = private.api, private.rpc_url(), private.home
            if home is None:
                home = Path(os.environ.get("EVLEDGER_HOME", ROOT / ".evledger"))
            key_path = Path(a.key) if a.key else home / "keys" / "audit.key"
            result = record_pack(
                out, pack, pack_sha, html_sha, api, key_path, meaning, a.password_file, rpc
            )
        except Exception as exc:
            result = {"error": f"{type(exc).__name__}: {exc}"}
        finally:
            if private is not None:
                private.stop()
        result["ledger"] = "private (OUT/ledger)" if not a.api else a.api
        (out / "ledger.json").write_text(json.dumps(result, indent=1) + "\n")
        recorded_ok = bool(result.get("verified"))
        print(f"validation pack: record {json.dumps(result)}")
    if code not in (0, 1):
        print(f"validation pack: pytest exited {code} (not a test failure)", file=sys.stderr)
    gap = pack["scope"]["complete"] and bool(s["requirements_without_passing_test"])
    if gap:
        print(
            "validation pack: requirements without a passing test: "
            + ", ".join(s["requirements_without_passing_test"]),
            file=sys.stderr,
        )
    return 0 if s["outcome"] == "passed" and not gap and recorded_ok and code in (0, 5) else 1


if __name__ == "__main__":
    raise SystemExit(main())
