"""The page's bundle verifier (web/verify/src/bundle.js, run by Node) beside the Python one:
every bundle a test verifies with ``evledger-verify bundle --json`` is verified by both, and
they must agree (issue 14: one set of vectors, two implementations).

They agree when they give the same exit code, the same checks in the same order with the same
verdicts and, where the text is the verifier's own, the same detail. A detail quoting a
library's own wording (Python's zipfile, the JSON decoder) is compared by the part before it.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "tests" / "js" / "verify_bundle.mjs"
NODE = shutil.which("node") or "node"

#: Details whose tail is a library's wording: compared up to the end of the group.
LIBRARY_WORDING = [
    re.compile(r"^(bundle: not a readable zip: )"),
    re.compile(r"^((?:manifest\.json|proofs\.json|records\.jsonl line \d+): )"),
]


def js_verify_bundle(bundle: Path, trust: Path) -> tuple[int, dict[str, Any]]:
    """What the page's verifier says of ``bundle`` (exit code, the CLI's JSON)."""
    done = subprocess.run([NODE, str(SCRIPT), str(bundle), str(trust)],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.stdout.strip(), f"node printed nothing: {done.stderr[-2000:]}"
    return done.returncode, json.loads(done.stdout)


def _same_detail(js: str, py: str) -> bool:
    if js == py:
        return True
    for pattern in LIBRARY_WORDING:
        m = pattern.match(py)
        if m and js.startswith(m.group(1)):
            return True
    return False


def disagreement(py_code: int, py: dict[str, Any], js_code: int, js: dict[str, Any]) -> str | None:
    """None when the two reports agree; else what differs first."""
    if py_code != js_code:
        return f"exit: Python {py_code}, JS {js_code} (Python {py}, JS {js})"
    py_checks, js_checks = py.get("checks", []), js.get("checks", [])
    names = ([c["check"] for c in py_checks], [c["check"] for c in js_checks])
    if names[0] != names[1]:
        return f"checks: Python {names[0]}, JS {names[1]}"
    for p, j in zip(py_checks, js_checks, strict=True):
        if p["ok"] != j["ok"]:
            return (f"{p['check']}: Python ok={p['ok']} ({p['detail']}), "
                    f"JS ok={j['ok']} ({j['detail']})")
        if not _same_detail(j["detail"], p["detail"]):
            return f"{p['check']} detail:\n  Python: {p['detail']}\n  JS:     {j['detail']}"
        if p.get("clause", "") != j.get("clause", ""):
            return f"{p['check']} clause: Python {p.get('clause')!r}, JS {j.get('clause')!r}"
    if not py_checks and not _same_detail(str(js.get("error")), str(py.get("error"))):
        return f"error: Python {py.get('error')!r}, JS {js.get('error')!r}"
    return None


def assert_js_agrees(bundle: Path, trust: Path, py_code: int, py: dict[str, Any]) -> None:
    js_code, js = js_verify_bundle(bundle, trust)
    problem = disagreement(py_code, py, js_code, js)
    assert problem is None, f"the page's bundle verifier disagrees with evledger-verify: {problem}"
