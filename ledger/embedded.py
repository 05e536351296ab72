"""Embedded default services: a private PostgreSQL (pgserver) and a local Anvil chain.

Used by ``evledger up`` when ``DATABASE_URL`` / ``ETH_RPC_URL`` are not set, and by the test
fixtures, which start their own on free ports and private data directories.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from ledger.errors import ConfigError

__all__ = ["Anvil", "EmbeddedPostgres", "find_anvil_binary", "free_port", "repo_root"]


def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def find_anvil_binary() -> Path:
    """The real anvil binary from npm (not the node wrapper, whose PID is not anvil's)."""
    env = os.environ.get("EVLEDGER_ANVIL_BIN")
    candidates = [Path(env)] if env else []
    candidates.append(
        repo_root() / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"
    )
    for c in candidates:
        if c.is_file() and os.access(c, os.X_OK):
            return c
    raise ConfigError(
        "anvil: binary not found: expected node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil "
        "(run `make setup`) or EVLEDGER_ANVIL_BIN"
    )


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

    def start(self, timeout: float = 30.0) -> Anvil:
        binary = find_anvil_binary()
        port = self.port or free_port()
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
                str(self.state_dir / "anvil-state.json"),
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
        )
        self.port = port
        self.rpc_url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ConfigError(
                    f"anvil: exited with code {self.process.returncode} at start"
                    + (f" (see {log_path})" if log_path else "")
                )
            if _rpc_ready(self.rpc_url):
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

    def __enter__(self) -> Anvil:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


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

    def __enter__(self) -> EmbeddedPostgres:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _to_sqlalchemy_url(uri: str) -> str:
    """pgserver gives ``postgresql://postgres:@/postgres?host=/socket/dir``."""
    return re.sub(r"^postgres(ql)?://", "postgresql+psycopg2://", uri)
