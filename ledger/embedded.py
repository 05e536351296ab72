"""Embedded default services: a private PostgreSQL (pgserver) and a local Anvil chain.

Used by ``evledger up`` when ``DATABASE_URL`` / ``ETH_RPC_URL`` are not set, and by the test
fixtures, which start their own on free ports and private data directories.

Nothing started here may outlive its starter:

- Anvil is our child, told by the kernel to stop when we die (``PR_SET_PDEATHSIG`` on Linux);
  its pid is kept beside its state, and a start first stops an Anvil a killed run left on the
  same state file (two writers would corrupt it).
- PostgreSQL (pgserver) runs in a session of its own, started by ``pg_ctl``: :meth:`Guardian`
  (``python -m ledger.guardian``) watches the starter and stops both when it dies, even by
  kill -9. pgserver counts its users in ``.handle_pids.json``; pids of dead processes are
  dropped before a start, so a clean stop after an earlier kill -9 really stops the server.
- A port that is already taken is never mistaken for our chain: it is checked before Anvil
  starts, and readiness counts only while our process is alive.
- Anvil rewrites its state file in place once a second: a kill -9 in the middle of a write
  leaves a torn file Anvil refuses to start from. Each start keeps a copy of the state file it
  starts from; a torn one is put aside and the chain starts from that copy, an older state
  (the anchorer records the anchors it lost orphaned and anchors again).
"""

from __future__ import annotations

import json
import logging
import os
import platform
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from ledger.errors import ConfigError

log = logging.getLogger("evledger.embedded")

__all__ = [
    "Anvil",
    "EmbeddedPostgres",
    "Guardian",
    "cmdline",
    "find_anvil_binary",
    "free_port",
    "pid_alive",
    "port_is_free",
    "repo_root",
]


def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a server could listen on ``port`` now (connections of an earlier server that
    linger in TIME_WAIT do not count: servers bind with SO_REUSEADDR)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


#: npm's platform packages of @foundry-rs/anvil, by (system, machine).
_ANVIL_PLATFORMS = {
    ("linux", "x86_64"): "linux-amd64",
    ("linux", "amd64"): "linux-amd64",
    ("linux", "aarch64"): "linux-arm64",
    ("linux", "arm64"): "linux-arm64",
    ("darwin", "x86_64"): "darwin-amd64",
    ("darwin", "arm64"): "darwin-arm64",
}


def find_anvil_binary() -> Path:
    """``EVLEDGER_ANVIL_BIN``, or the real anvil binary that npm installed for this platform in
    the checkout (not the node wrapper, whose PID is not anvil's). An installed release has no
    node_modules: it names the binary in ``EVLEDGER_ANVIL_BIN`` (a development chain only) or
    anchors on a real chain (``ETH_RPC_URL``)."""
    env = os.environ.get("EVLEDGER_ANVIL_BIN")
    candidates = [Path(env)] if env else []
    system, machine = platform.system().lower(), platform.machine().lower()
    name = _ANVIL_PLATFORMS.get((system, machine), f"{system}-{machine}")
    candidates.append(
        repo_root() / "node_modules" / "@foundry-rs" / f"anvil-{name}" / "bin" / "anvil"
    )
    for c in candidates:
        if c.is_file() and os.access(c, os.X_OK):
            return c
    if env:
        raise ConfigError(f"anvil: EVLEDGER_ANVIL_BIN={env} is not an executable file")
    raise ConfigError(
        f"anvil: binary not found: expected node_modules/@foundry-rs/anvil-{name}/bin/anvil "
        "(run `make setup` in a checkout); an installed release names an anvil binary in "
        "EVLEDGER_ANVIL_BIN, or sets ETH_RPC_URL to a real chain"
    )


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: SIGTERM this process when the thread that started it dies (kill -9 included)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists (a zombie counts until reaped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def cmdline(pid: int) -> str:
    """Process ``pid``'s command line, arguments joined by spaces ("" when unknown)."""
    try:
        return (
            Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        )
    except OSError:
        return ""


def stop_pid(pid: int, sig: int = signal.SIGTERM, timeout: float = 10.0) -> None:
    """Signal ``pid`` and wait until it is gone (SIGKILL after ``timeout``)."""
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while pid_alive(pid) and time.monotonic() < deadline:
        _reap(pid)
        time.sleep(0.05)
    if pid_alive(pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        while pid_alive(pid) and _reap(pid) is None:
            time.sleep(0.05)


def _reap(pid: int) -> int | None:
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return None
    return done or None


@dataclass
class Anvil:
    """A local Anvil process whose state survives restarts (kill -9 included)."""

    state_dir: Path | None = None
    port: int = 0
    chain_id: int = 31337
    block_time: float | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)
    rpc_url: str = field(default="", init=False)
    _log: IO[bytes] | None = field(default=None, init=False)

    @property
    def pid_file(self) -> Path | None:
        return None if self.state_dir is None else self.state_dir / "anvil.pid"

    @property
    def state_file(self) -> Path | None:
        return None if self.state_dir is None else self.state_dir / "anvil-state.json"

    def _check_state(self) -> None:
        """Before a start: keep a copy of a state file that parses; put a torn one (a kill -9
        while Anvil wrote it) aside and start from the copy the last start kept."""
        state = self.state_file
        if state is None or not state.exists():
            return
        kept = state.with_name("anvil-state.last-start.json")
        try:
            json.loads(state.read_bytes())
        except ValueError:
            torn = state.with_name(f"anvil-state.torn-{time.strftime('%Y%m%dT%H%M%S')}.json")
            state.rename(torn)
            if not kept.exists():
                raise ConfigError(
                    f"anvil: its state file is torn (killed while writing it), kept as {torn}, "
                    "and no earlier copy exists: the chain cannot be restored"
                ) from None
            os.replace(_copy(kept, state), state)
            log.warning(
                "anvil: its state file was torn (killed while writing it; kept as %s); starting "
                "from the state of its last start: the blocks since are lost",
                torn,
            )
            return
        os.replace(_copy(state, kept), kept)

    def _stop_leftover(self) -> None:
        """Stop an Anvil a killed run left on our state file (two writers corrupt it)."""
        if self.pid_file is None or not self.pid_file.exists():
            return
        try:
            pid = int(self.pid_file.read_text().strip())
        except ValueError:
            pid = 0
        state = str(self.state_file) if self.state_file else ""
        if pid > 0 and pid_alive(pid) and state and state in cmdline(pid):
            stop_pid(pid)
        self.pid_file.unlink(missing_ok=True)

    def start(self, timeout: float = 30.0) -> Anvil:
        binary = find_anvil_binary()
        self._stop_leftover()
        self._check_state()
        port = self.port or free_port()
        if not port_is_free(port):
            raise ConfigError(
                f"anvil: port {port} is already taken by another process: the ledger's chain "
                "must be the process it starts; choose another port (EVLEDGER_ANVIL_PORT) or "
                "point ETH_RPC_URL at the chain you mean"
            )
        args = [
            str(binary),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--chain-id",
            str(self.chain_id),
            "--silent",
        ]
        if self.block_time:
            args += ["--block-time", str(self.block_time)]
        log_path: Path | None = None
        if self.state_dir is not None:
            self.state_dir.mkdir(parents=True, exist_ok=True)
            args += [
                "--state",
                str(self.state_file),
                "--state-interval",
                "1",
                "--preserve-historical-states",
            ]
            log_path = self.state_dir / "anvil.log"
        self._log = open(log_path, "ab") if log_path else None
        self.process = subprocess.Popen(
            args,
            stdout=self._log or subprocess.DEVNULL,
            stderr=subprocess.STDOUT if self._log else subprocess.DEVNULL,
            start_new_session=False,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
        if self.pid_file is not None:
            self.pid_file.write_text(f"{self.process.pid}\n")
        self.port = port
        self.rpc_url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ConfigError(
                    f"anvil: exited with code {self.process.returncode} at start"
                    + (f" (see {log_path})" if log_path else "")
                )
            # Only while our process is alive: another one on the port does not count.
            if _rpc_ready(self.rpc_url) and self.process.poll() is None:
                return self
            time.sleep(0.05)
        self.stop()
        raise ConfigError(f"anvil: not answering on {self.rpc_url} after {timeout:.0f} s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            # SIGTERM makes anvil write its state file one last time.
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None
        if self.pid_file is not None and self.process is not None:
            self.pid_file.unlink(missing_ok=True)

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def __enter__(self) -> Anvil:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _copy(source: Path, beside: Path) -> Path:
    """A complete copy of ``source`` in a temporary file next to ``beside`` (to rename)."""
    tmp = beside.with_name(beside.name + ".tmp")
    with open(source, "rb") as src, open(tmp, "wb") as dst:
        while chunk := src.read(1 << 20):
            dst.write(chunk)
        dst.flush()
        os.fsync(dst.fileno())
    return tmp


def _rpc_ready(url: str) -> bool:
    import json
    import urllib.request

    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []})
    req = urllib.request.Request(  # noqa: S310 - loopback URL we built
        url, data=body.encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(req, timeout=1) as resp:  # noqa: S310
            return bool(resp.status == 200)
    except OSError:
        return False


@dataclass
class EmbeddedPostgres:
    """A private PostgreSQL 16 from the pgserver wheel, data under ``data_dir``."""

    data_dir: Path
    #: "stop" stops the server on :meth:`stop`; "delete" also removes the data directory.
    cleanup_mode: str = "stop"
    _server: Any = field(default=None, init=False)

    def start(self) -> EmbeddedPostgres:
        try:
            import pgserver
        except ImportError as exc:  # pragma: no cover - dependency is pinned
            raise ConfigError("postgres: the pgserver package is not installed") from exc
        self.data_dir.mkdir(parents=True, exist_ok=True)
        _drop_dead_handles(self.data_dir)
        try:
            self._server = pgserver.get_server(  # type: ignore[attr-defined]
                str(self.data_dir), cleanup_mode=self.cleanup_mode
            )
        except Exception as exc:
            raise ConfigError(
                f"postgres: could not start embedded server in {self.data_dir}: {exc}"
            ) from exc
        return self

    @property
    def url(self) -> str:
        """A SQLAlchemy URL for the psycopg2 driver (unix socket)."""
        uri: str = self._server.get_uri()
        return _to_sqlalchemy_url(uri)

    def stop(self) -> None:
        if self._server is not None:
            try:
                self._server.cleanup()
            finally:
                self._server = None
                _drop_dead_handles(self.data_dir)

    @property
    def postmaster_pid(self) -> int | None:
        """The running server's pid (first line of ``postmaster.pid``), if it runs."""
        return postmaster_pid(self.data_dir)

    def __enter__(self) -> EmbeddedPostgres:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def postmaster_pid(data_dir: Path) -> int | None:
    try:
        pid = int((data_dir / "postmaster.pid").read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pid if pid_alive(pid) else None


def _drop_dead_handles(data_dir: Path) -> None:
    """pgserver stops its server when the last process using it lets go, counting users in
    ``.handle_pids.json``: a user killed with -9 never lets go, so drop pids no longer alive."""
    path = data_dir / ".handle_pids.json"
    try:
        pids = json.loads(path.read_text())
    except (OSError, ValueError):
        return
    if isinstance(pids, list):
        alive = [p for p in pids if isinstance(p, int) and pid_alive(p)]
        if alive != pids:
            path.write_text(json.dumps(alive))


class Guardian:
    """A watcher process (``python -m ledger.guardian``) that stops the embedded services
    when the process that started them dies, however it dies (see the module docstring)."""

    #: Where a running guardian keeps its pid, in the ledger's home.
    PID_FILE = "guardian.pid"

    def __init__(self, home: Path, *, pgdata: Path | None, pidfiles: list[Path]) -> None:
        self.pid_file = home / self.PID_FILE
        args = [sys.executable, "-m", "ledger.guardian", "--parent", str(os.getpid())]
        if pgdata is not None:
            args += ["--pgdata", str(pgdata)]
        for path in pidfiles:
            args += ["--pidfile", str(path)]
        args += ["--own-pidfile", str(self.pid_file)]
        self.process = subprocess.Popen(
            args, start_new_session=True, stdin=subprocess.DEVNULL, cwd=str(repo_root())
        )
        self.pid_file.write_text(f"{self.process.pid}\n")

    def stop(self) -> None:
        """The starter stops the services itself: the guardian is no longer needed."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.pid_file.unlink(missing_ok=True)

    @classmethod
    def wait_for_previous(cls, home: Path, timeout: float = 60.0) -> bool:
        """Before a start on ``home``: a guardian left by a run that was killed is still
        stopping that run's services; wait until it is done (True when there was one). A
        guardian whose run is alive means `evledger up` already runs on ``home``."""
        path = home / cls.PID_FILE
        try:
            pid = int(path.read_text().strip())
        except (OSError, ValueError):
            return False
        cmd = cmdline(pid)
        if not (pid_alive(pid) and "ledger.guardian" in cmd):
            path.unlink(missing_ok=True)
            return False
        parts = cmd.split()
        parent = int(parts[parts.index("--parent") + 1]) if "--parent" in parts else 0
        if parent and pid_alive(parent):
            raise ConfigError(f"evledger up is already running on {home} (pid {parent})")
        deadline = time.monotonic() + timeout
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if pid_alive(pid):
            raise ConfigError(
                f"the guardian of an earlier run (pid {pid}) is still stopping its services"
            )
        path.unlink(missing_ok=True)
        return True


def _to_sqlalchemy_url(uri: str) -> str:
    """pgserver gives ``postgresql://postgres:@/postgres?host=/socket/dir``."""
    return re.sub(r"^postgres(ql)?://", "postgresql+psycopg2://", uri)
