"""Sampling the service with py-spy while it works, and summing the samples by function.

``py-spy record --format speedscope`` writes one sampled profile per thread; the summary counts,
over all threads, the seconds in which a function is running (self) or on the stack
(inclusive), by function and file (line numbers merged). Two views: every thread that py-spy
does not judge idle (a thread blocked on PostgreSQL's socket counts: that is wall time), and
``--gil``: only the thread holding the GIL (where the process's Python CPU time goes).
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

__all__ = ["PySpy", "py_spy_binary", "summarize"]


def py_spy_binary() -> str | None:
    here = Path(sys.executable).parent / "py-spy"
    return str(here) if here.exists() else shutil.which("py-spy")


class PySpy:
    """``py-spy record`` attached to ``pid`` until :meth:`stop` (SIGINT makes it write)."""

    def __init__(
        self, binary: str, pid: int, out: Path, rate: int = 250, gil: bool = False
    ) -> None:
        self.out = out
        self.log = out.with_suffix(".log")
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                [
                    binary,
                    "record",
                    "--pid",
                    str(pid),
                    "--output",
                    str(out),
                    "--format",
                    "speedscope",
                    "--rate",
                    str(rate),
                    "--nonblocking",
                    "--subprocesses",  # the API's worker processes, with EVLEDGER_API_WORKERS
                    *(["--gil"] if gil else []),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def stop(self, timeout: float = 60.0) -> int | None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


_ROOT = Path(__file__).resolve().parent.parent
#: Where the project's own functions live (files as :func:`_short` leaves them).
_PROJECT = ("(ledger/", "(api/", "(verifier/", "(evledger_verify/", "(ingest/")


def _short(path: str) -> str:
    """A file as ``package/module.py``: site-packages, the checkout and the stdlib cut off."""
    if "site-packages/" in path:
        return path.split("site-packages/", 1)[1]
    if path.startswith(f"{_ROOT}/"):
        return path[len(str(_ROOT)) + 1 :]
    return re.sub(r"^.*/lib/python3\.\d+/", "", path)


def summarize(speedscope: Path, top: int = 20) -> dict[str, Any]:
    """Seconds sampled per thread (py-spy leaves idle threads out), and the ``top`` functions by
    self and by inclusive seconds, with their share of all seconds sampled."""
    doc = json.loads(speedscope.read_text())
    frames = doc["shared"]["frames"]
    names = [f"{f.get('name')} ({_short(str(f.get('file', '?')))})" for f in frames]
    self_s: Counter[str] = Counter()
    incl_s: Counter[str] = Counter()
    threads: dict[str, float] = {}
    total = 0.0
    samples = 0
    for prof in doc.get("profiles", []):
        in_thread = 0.0
        for stack, weight in zip(prof.get("samples", []), prof.get("weights", []), strict=False):
            w = float(weight)  # seconds (unit "seconds"), stacks root first
            in_thread += w
            samples += 1
            if not stack:
                continue
            self_s[names[stack[-1]]] += w
            for name in {names[i] for i in stack}:
                incl_s[name] += w
        threads[str(prof.get("name"))] = round(in_thread, 2)
        total += in_thread

    def table(c: Counter[str], only: tuple[str, ...] = ()) -> list[dict[str, Any]]:
        rows = [(k, v) for k, v in c.most_common() if not only or any(o in k for o in only)]
        return [
            {"function": k, "seconds": round(v, 2), "share": round(v / total, 4) if total else 0.0}
            for k, v in rows[:top]
        ]

    return {
        "file": str(speedscope),
        "samples": samples,
        "seconds_sampled": round(total, 2),
        "threads": dict(sorted(threads.items(), key=lambda kv: -kv[1])),
        "top_self": table(self_s),
        "top_inclusive": table(incl_s),
        "top_inclusive_project": table(incl_s, _PROJECT),
    }
