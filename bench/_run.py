"""One benchmark run against a started ``evledger up``, as bench/console.py and bench/trace.py
make it: start the service, run the benchmark, stop the service, and note in the results what
went wrong (a start that failed, an exception that stopped the run, what was left running)."""

from __future__ import annotations

import http.client
import shutil
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench._service import Service, ServiceError
from bench.ingest import loadavg, log


def run_with_service(
    svc: Service,
    body: Callable[[], None],
    r: dict[str, Any],
    problems: list[str],
    tmp: Path,
    keep: bool,
) -> int:
    """Start ``svc``, call ``body``, stop ``svc``; remove ``tmp`` unless ``keep`` or a problem.

    ``r`` gets startup_s, stop, service_log_problems, loadavg_end, problems (``problems``, with
    what this adds) and kept. The exit code: 0 without problems, 2 if the service did not start,
    else 1."""
    code = 1
    try:
        r["startup_s"] = round(svc.start(), 2)
        body()
    except ServiceError as exc:
        if "startup_s" not in r:
            code = 2
            r["error"] = str(exc)
        problems.append(str(exc))
        log(str(exc))
    except (OSError, http.client.HTTPException, KeyError, ValueError, TypeError) as exc:
        returncode = svc.process.poll() if svc.process is not None else None
        what = "" if returncode is None else f" (evledger up had exited with {returncode})"
        problems.append(f"run stopped by {type(exc).__name__}: {exc}{what}")
        r["traceback"] = traceback.format_exc()
        log(r["traceback"])
    finally:
        log("stopping the service (SIGINT)")
        r["stop"] = svc.stop()
        r["service_log_problems"] = svc.log_problems()[:20]
        r["loadavg_end"] = loadavg()
    stop = r["stop"]
    if stop.get("left_running"):
        problems.append(f"left running after SIGINT (stopped): {stop['left_running']}")
    if stop.get("still_running_after_cleanup"):
        problems.append(f"still running: {stop['still_running_after_cleanup']}")
    if stop.get("exit_code") not in (0, None):
        problems.append(f"evledger up exited with {stop['exit_code']}")
    r["problems"] = problems
    if keep or problems:
        r["kept"] = str(tmp)
        log(f"kept {tmp} (service log: {svc.log_path})")
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return code if problems else 0
