"""A pytest plugin that writes each test's result for the validation pack: node id, the
requirements its ``req`` markers name, its other markers, outcome, duration and start time
(UTC). Load it with ``-p tests.validation.plugin --validation-json FILE``."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--validation-json",
        default=None,
        help="write each test's outcome, duration, start time and requirements to this file",
    )


def _utc(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Recorder:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.started = time.time()
        self.tests: dict[str, dict[str, Any]] = {}
        self.paths: dict[str, str] = {}

    def _entry(self, nodeid: str) -> dict[str, Any]:
        return self.tests.setdefault(
            nodeid,
            {
                "nodeid": nodeid,
                "requirements": [],
                "markers": [],
                "outcome": "not run",
                "duration_s": 0.0,
                "started_at": None,
                "detail": "",
            },
        )

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            entry = self._entry(item.nodeid)
            if item.nodeid.startswith("::"):  # a file outside the rootdir: name it
                self.paths[item.nodeid] = f"{item.path}{item.nodeid}"
            ids = [str(a) for m in item.iter_markers("req") for a in m.args]
            entry["requirements"] = sorted(set(ids))
            entry["markers"] = sorted(
                {m.name for m in item.iter_markers()} - {"req", "parametrize"}
            )

    def pytest_runtest_logstart(self, nodeid: str) -> None:
        self._entry(nodeid)["started_at"] = _utc(time.time())

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        entry = self._entry(report.nodeid)
        entry["duration_s"] = round(entry["duration_s"] + report.duration, 3)
        detail = ""
        if report.skipped and isinstance(report.longrepr, tuple):
            detail = str(report.longrepr[2])
        elif report.failed:
            crash = getattr(report.longrepr, "reprcrash", None)
            lines = (report.longreprtext or "").strip().splitlines()
            detail = str(crash.message) if crash is not None else (lines[-1] if lines else "")
            detail = detail[:1000]
        wasxfail = getattr(report, "wasxfail", None)
        if report.when == "setup":
            if report.failed:
                entry["outcome"], entry["detail"] = "error", detail
            elif report.skipped:
                entry["outcome"] = "xfailed" if wasxfail is not None else "skipped"
                entry["detail"] = detail or str(wasxfail or "")
        elif report.when == "call":
            if wasxfail is not None:
                entry["outcome"] = "xfailed" if report.skipped else "xpassed"
                entry["detail"] = str(wasxfail)
            elif report.skipped:
                entry["outcome"], entry["detail"] = "skipped", detail
            else:
                entry["outcome"] = report.outcome
                entry["detail"] = detail
        elif report.when == "teardown" and report.failed:
            entry["outcome"] = "error"
            entry["detail"] = f"teardown: {detail}"

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        ran = [t for t in self.tests.values() if t["started_at"] is not None]
        for t in ran:
            t["nodeid"] = self.paths.get(t["nodeid"], t["nodeid"])
        out = {
            "started_at": _utc(self.started),
            "finished_at": _utc(time.time()),
            "exit_status": int(exitstatus),
            "tests": sorted(ran, key=lambda t: t["started_at"]),
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")


def pytest_configure(config: pytest.Config) -> None:
    path = config.getoption("--validation-json")
    if path:
        config.pluginmanager.register(Recorder(Path(path)), "validation-recorder")
