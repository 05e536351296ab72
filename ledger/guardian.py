"""``python -m ledger.guardian --parent PID [--pgdata DIR] [--pidfile FILE ...]``: waits for
the process ``--parent`` to die, then stops what it started: the PostgreSQL server of
``--pgdata`` (fast shutdown: SIGINT to its postmaster) and the process whose pid each
``--pidfile`` holds then (SIGTERM, then SIGKILL; a supervised Anvil may have been restarted).
When the parent led its own process group (a service manager, or a shell's job), what is left
of that group (API worker processes) gets SIGTERM too.

Started by ``evledger up`` (ledger.embedded.Guardian) in a session of its own, so a signal to
``evledger up``'s process group does not reach it; ``evledger up`` stops it when it stops the
services itself. It ignores SIGINT; SIGTERM ends it without touching anything.
"""

from __future__ import annotations

import argparse
import os
import signal
import time
from pathlib import Path

from ledger.embedded import pid_alive, postmaster_pid, stop_pid


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m ledger.guardian")
    parser.add_argument("--parent", type=int, required=True)
    parser.add_argument("--pgdata", type=Path, default=None)
    parser.add_argument("--pidfile", type=Path, action="append", default=[])
    parser.add_argument("--poll", type=float, default=0.2)
    parser.add_argument("--own-pidfile", type=Path, default=None)
    args = parser.parse_args()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        group = os.getpgid(args.parent)
    except ProcessLookupError:
        group = 0
    while pid_alive(args.parent):
        time.sleep(args.poll)
    if group == args.parent:
        try:
            os.killpg(group, signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            pass
    for path in args.pidfile:
        try:
            pid = int(path.read_text().strip())
        except (OSError, ValueError):
            continue
        if pid > 1 and pid_alive(pid):
            stop_pid(pid)
    if args.pgdata is not None:
        postmaster = postmaster_pid(args.pgdata)
        if postmaster is not None:
            stop_pid(postmaster, signal.SIGINT, timeout=20.0)
    if args.own_pidfile is not None:
        args.own_pidfile.unlink(missing_ok=True)  # the next start need not wait any more
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
