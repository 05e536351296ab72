"""The service under test, started as a user starts it: ``evledger up`` in a process of its own,
with a private home (embedded PostgreSQL and Anvil inside it) and free ports.

Also: which processes belong to it (the API, PostgreSQL's postmaster and backends, Anvil), how
much CPU each has used (from /proc), and what is left running after it was stopped.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from ledger.embedded import cmdline as _cmdline
from ledger.embedded import free_port

__all__ = ["Service", "ServiceError", "free_port"]

_TICK = os.sysconf("SC_CLK_TCK")


class ServiceError(Exception):
    """The service could not be started, or answered something unexpected."""


def _stat(pid: int) -> tuple[int, float, float] | None:
    """(parent pid, own CPU s, CPU s of waited-for children) of ``pid``, or None if gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()
    # fields[0] is field 3 (state): ppid is field 4, utime..cstime are fields 14..17.
    ppid = int(fields[1])
    own = (int(fields[11]) + int(fields[12])) / _TICK
    children = (int(fields[13]) + int(fields[14])) / _TICK
    return ppid, own, children


def _pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


@dataclass
class Service:
    """``evledger up`` with ``EVLEDGER_HOME=home`` on free ports."""

    evledger: Path
    home: Path
    port: int = field(default_factory=free_port)
    anvil_port: int = field(default_factory=free_port)
    #: More environment for ``evledger up`` (e.g. ``EVLEDGER_API_WORKERS``).
    extra_env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    log_path: Path = field(init=False)
    _api_seen: dict[int, str] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self.log_path = self.home.parent / "up.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, timeout: float = 180.0) -> float:
        """Start and wait until ``GET /healthz`` answers from *this* process (its pid is in
        ``runtime.json``); returns the seconds it took."""
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("EVLEDGER_") and k not in ("DATABASE_URL", "ETH_RPC_URL")
        }
        env.update(
            EVLEDGER_HOME=str(self.home),
            EVLEDGER_PORT=str(self.port),
            EVLEDGER_ANVIL_PORT=str(self.anvil_port),
            **self.extra_env,
        )
        t0 = time.perf_counter()
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                # Absolute: the service runs in its own folder (a bare name is looked up on PATH).
                [
                    str(self.evledger.absolute() if "/" in str(self.evledger) else self.evledger),
                    "up",
                ],
                env=env,
                cwd=self.home.parent,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # our own Ctrl-C reaches it only through stop()
            )
        deadline = t0 + timeout
        while time.perf_counter() < deadline:
            if self.process.poll() is not None:
                raise ServiceError(
                    f"evledger up exited with code {self.process.returncode} while starting; "
                    f"its log:\n{self.log_tail()}"
                )
            if self._runtime_pid() == self.pid and self._healthy():
                self.owned_pids()  # remember its processes (API workers), to find them later
                return time.perf_counter() - t0
            time.sleep(0.1)
        raise ServiceError(
            f"evledger up: not healthy after {timeout:.0f} s; log:\n{self.log_tail()}"
        )

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as resp:  # noqa: S310
                return bool(resp.status == 200)
        except OSError:
            return False

    def _runtime_pid(self) -> int | None:
        try:
            return int(json.loads((self.home / "runtime.json").read_text())["pid"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def runtime(self) -> dict[str, str]:
        info: dict[str, str] = json.loads((self.home / "runtime.json").read_text())
        return info

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def log_problems(self) -> list[str]:
        """Lines of the service's log that report errors (tracebacks, ERROR, exceptions)."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return []
        marks = ("Traceback", "ERROR", "Error:", "Exception", "error:")
        return [line for line in text.splitlines() if any(m in line for m in marks)]

    # -- the processes that make up the service ------------------------------------------------

    def postmaster_pid(self) -> int | None:
        try:
            pid = int((self.home / "pgdata" / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        # A stale file could name a pid that now belongs to someone else.
        return pid if str(self.home) in _cmdline(pid) else None

    def owned_pids(self) -> dict[str, list[int]]:
        """Processes of this service that are running now: the API (``evledger up`` and the
        worker processes it starts), PostgreSQL (the postmaster and its backends), Anvil, and
        anything else naming our home."""
        home = str(self.home)
        stats = {pid: st for pid in _pids() if (st := _stat(pid)) is not None}
        post = self.postmaster_pid()
        main = self.process.pid if self.process is not None and self.process.poll() is None else 0
        out: dict[str, list[int]] = {"api": [], "postgres": [], "anvil": [], "other": []}

        def under_main(pid: int) -> bool:
            seen = 0
            while pid > 1 and seen < 64:
                if pid == main:
                    return True
                st = stats.get(pid)
                if st is None:
                    return False
                pid, seen = st[0], seen + 1
            return False

        for pid, st in stats.items():
            if pid == os.getpid():
                continue
            cmd = _cmdline(pid)
            if post is not None and (pid == post or st[0] == post):
                out["postgres"].append(pid)
            elif "anvil" in cmd and (home in cmd or under_main(pid)):
                out["anvil"].append(pid)
            elif main and under_main(pid):
                out["api"].append(pid)
                self._api_seen.setdefault(pid, cmd)
            elif home in cmd:
                out["other"].append(pid)
        return out

    def cpu(self) -> dict[str, float]:
        """CPU seconds used so far by each part of the service."""
        out = {"api": 0.0, "postgres": 0.0, "anvil": 0.0}
        post = self.postmaster_pid()
        for part, pids in self.owned_pids().items():
            for pid in pids:
                st = _stat(pid)
                if st is None or part not in out:
                    continue
                # The postmaster collects the time of backends that have exited.
                out[part] += st[1] + (st[2] if pid == post else 0.0)
        # An API worker process that exited meanwhile is not counted: they live as long as
        # the service does.
        return out

    # -- stopping ------------------------------------------------------------------------------

    def stop(self, timeout: float = 90.0) -> dict[str, object]:
        """SIGINT to ``evledger up`` (what Ctrl-C sends) and wait. Then look for processes of
        ours still running; if there are any, report them and stop them by their pids."""
        report: dict[str, object] = {"signal": "SIGINT", "exit_code": None, "stop_seconds": None}
        if self.process is None:
            return report
        before = self.owned_pids()
        report["processes_before_stop"] = before
        t0 = time.perf_counter()
        if self.process.poll() is not None:
            report["died_before_stop"] = True
            report["log_tail"] = self.log_tail(60)
        else:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                report["hung"] = f"evledger up still running {timeout:.0f} s after SIGINT: killed"
                self.process.kill()
                self.process.wait()
        report["exit_code"] = self.process.returncode
        report["stop_seconds"] = round(time.perf_counter() - t0, 2)
        # API worker processes orphaned by a dead parent no longer descend from it: look for
        # every one seen while the service ran, by pid and command line.
        api_before = {p: cmd for p, cmd in self._api_seen.items() if p != self.process.pid}

        def ours() -> dict[str, list[int]]:
            now = {k: v for k, v in self.owned_pids().items() if v}
            orphans = [p for p, cmd in api_before.items() if cmd and _cmdline(p) == cmd]
            if orphans:
                now["api"] = sorted(set(now.get("api", [])) | set(orphans))
            return now

        left: dict[str, list[int]] = {}
        for _ in range(20):  # give the service's children a moment to go
            left = ours()
            if not left:
                break
            time.sleep(0.25)
        report["left_running"] = {k: [(p, _cmdline(p)[:160]) for p in v] for k, v in left.items()}
        for part, pids in left.items():
            for pid in pids:
                # PostgreSQL: SIGINT is its "fast" shutdown; others: SIGTERM.
                sig = signal.SIGINT if part == "postgres" else signal.SIGTERM
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and ours():
            time.sleep(0.25)
        for pids in ours().values():
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        report["still_running_after_cleanup"] = ours()
        return report
