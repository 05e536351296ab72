"""`evledger up` owns what it starts (issue 10's defects): SIGTERM and kill -9 leave nothing
running, a taken chain port is never mistaken for our chain, a dead Anvil is restarted, and
the next start copes with what a kill -9 of everything left behind."""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import httpx
import pytest

from ledger.embedded import free_port, port_is_free
from tests.integration.test_quickstart import Service, new_service, stop_orphaned_postgres

pytestmark = [pytest.mark.integration, pytest.mark.req("OPS-3")]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    return not (status.exists() and "\nState:\tZ" in status.read_text())


def wait_until(what: str, check: object, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out: {what}")


def started_pids(svc: Service) -> dict[str, int]:
    """The embedded services' pids, and every process of `evledger up`'s group and guardian."""
    pids = {
        "postgres": int((svc.home / "pgdata" / "postmaster.pid").read_text().split()[0]),
        "anvil": int((svc.home / "anvil" / "anvil.pid").read_text()),
    }
    assert svc.process is not None
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmd = (proc / "cmdline").read_bytes()
            stat = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if b"ledger.guardian" in cmd and f"--parent\0{svc.process.pid}".encode() in cmd:
            pids["guardian"] = int(proc.name)
        elif int(stat[2]) == svc.process.pid and int(proc.name) != svc.process.pid:
            pids[f"group-{proc.name}"] = int(proc.name)  # API workers
    assert "guardian" in pids, pids
    return pids


@pytest.fixture()
def svc(tmp_path: Path) -> Iterator[Service]:
    service = new_service(tmp_path)
    service.start()
    try:
        yield service
    finally:
        if service.process and service.process.poll() is None:
            service.interrupt()
        stop_orphaned_postgres(service.home)


def test_sigterm_stops_everything_it_started(svc: Service) -> None:
    pids = started_pids(svc)
    assert svc.process is not None
    svc.process.send_signal(signal.SIGTERM)  # what systemd and Docker send, to the process
    assert svc.process.wait(timeout=60) == 0
    wait_until("nothing left", lambda: not any(alive(p) for p in pids.values()))
    assert not (svc.home / "runtime.json").exists()


def test_kill9_of_up_alone_leaves_nothing_running(svc: Service) -> None:
    pids = started_pids(svc)
    assert svc.process is not None
    svc.process.kill()  # kill -9 of `evledger up` only: its children are orphaned at once
    svc.process.wait()
    wait_until(f"nothing left of {pids}", lambda: not any(alive(p) for p in pids.values()))


def test_next_start_copes_with_what_kill9_of_everything_left(svc: Service) -> None:
    """kill -9 of `evledger up` and its guardian: PostgreSQL keeps running (its own session)
    and its user list names a dead process; the next start reuses it and a clean stop stops it."""
    pids = started_pids(svc)
    assert svc.process is not None
    os.kill(pids["guardian"], signal.SIGKILL)
    os.killpg(svc.process.pid, signal.SIGKILL)
    svc.process.wait()
    assert alive(pids["postgres"])
    svc.start()
    again = started_pids(svc)
    assert again["postgres"] == pids["postgres"]  # reused, not a second server on the data
    assert svc.interrupt() == 0
    wait_until("nothing left", lambda: not any(alive(p) for p in again.values()))


def test_a_dead_anvil_is_restarted_from_its_state(svc: Service) -> None:
    before = int((svc.home / "anvil" / "anvil.pid").read_text())
    os.kill(before, signal.SIGKILL)
    pid_file = svc.home / "anvil" / "anvil.pid"
    wait_until("a new anvil", lambda: pid_file.exists() and int(pid_file.read_text()) != before)
    rpc = json.loads((svc.home / "runtime.json").read_text())["rpc_url"]
    wait_until("the chain answers", lambda: _chain_id(rpc) == 31337)
    status = httpx.get(f"{svc.api}/v1/status").json()
    assert status["latest_checkpoint"] is not None


class _OtherChain(BaseHTTPRequestHandler):
    """Another process answering JSON-RPC on the port, as a stray Anvil would."""

    def do_POST(self) -> None:
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "result": "0x7a69"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def other_chain() -> Iterator[int]:
    port = free_port()
    server = HTTPServer(("127.0.0.1", port), _OtherChain)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield port
    finally:
        server.shutdown()
        server.server_close()


def test_an_explicit_chain_port_taken_by_another_process_is_a_clear_error(
    tmp_path: Path, other_chain: int
) -> None:
    service = new_service(tmp_path)
    service.env["EVLEDGER_ANVIL_PORT"] = str(other_chain)
    with pytest.raises(AssertionError):
        service.start(timeout=30)
    assert service.process is not None
    assert service.process.wait(timeout=30) == 2
    log = (tmp_path / "work" / "up.log").read_text()
    assert f"anvil: port {other_chain} is already taken by another process" in log
    stop_orphaned_postgres(service.home)


def test_default_chain_port_taken_uses_its_own_chain_elsewhere(tmp_path: Path) -> None:
    """8545 held by another process: `evledger up` starts its own chain on a free port."""
    holder: socket.socket | None = None
    if port_is_free(8545):
        holder = socket.socket()
        holder.bind(("127.0.0.1", 8545))
        holder.listen()
    service = new_service(tmp_path)
    del service.env["EVLEDGER_ANVIL_PORT"]
    try:
        service.start()
        rpc = json.loads((service.home / "runtime.json").read_text())["rpc_url"]
        assert not rpc.endswith(":8545"), rpc
        log = (tmp_path / "work" / "up.log").read_text()
        assert "anvil: port 8545 is taken by another process; the ledger's chain uses" in log
    finally:
        if holder is not None:
            holder.close()
        if service.process and service.process.poll() is None:
            service.interrupt()
        stop_orphaned_postgres(service.home)


def _chain_id(rpc: str) -> int | None:
    try:
        resp = httpx.post(rpc, json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId",
                                     "params": []}, timeout=1)
        return int(resp.json()["result"], 16)
    except (httpx.HTTPError, ValueError, KeyError):
        return None
