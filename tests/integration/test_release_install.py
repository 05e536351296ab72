"""A release installs outside the repository (issue 16): the three wheels and the wheels of
their locked dependencies, made as `make release` makes them, are installed with
`pip install --no-index --find-links` into a clean virtual environment in a temporary folder.
From there `evledger up` starts on the embedded PostgreSQL and an Anvil named by
``EVLEDGER_ANVIL_BIN``, serves the pages the wheel carries, and a signed record becomes an
anchored receipt that the installed `evledger-verify` verifies, offline and against the chain.

The first run downloads the locked wheels into pip's cache; later runs take them from there.
The folders are made in the system's temporary folder, not under pytest's: pgserver runs
PostgreSQL (as root: as the user ``pgserver``) from the venv's files and on the data folder,
and pytest makes its own root folder private again whenever another session starts.
"""

from __future__ import annotations

import email.parser
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from ledger.embedded import find_anvil_binary, free_port, repo_root
from tests.integration.test_quickstart import stop_orphaned_postgres

pytestmark = [pytest.mark.integration, pytest.mark.req("OPS-5")]

ROOT = repo_root()
PYTHON = sys.executable
OURS = ("evledger", "evledger_verify", "evledger_ingest")


def run(
    args: list[str], *, cwd: Path, env: dict[str, str] | None = None, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, (args, done.stdout[-4000:], done.stderr[-4000:])
    return done


@dataclass(frozen=True)
class Release:
    dist: Path
    venv: Path

    def wheel(self, name: str) -> Path:
        (found,) = self.dist.glob(f"{name}-0.1.0-py3-none-any.whl")
        return found


@pytest.fixture(scope="module")
def base() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="evledger-release-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def release(base: Path) -> Release:
    """dist/ as `make release` fills it, and a venv (outside the repository) installed from it
    alone: pip is given no index."""
    dist = base / "dist"
    run(
        [
            PYTHON,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(dist),
            "./verifier",
            "./ingest",
            ".",
        ],
        cwd=ROOT,
    )
    run(
        [
            PYTHON,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--require-hashes",
            "-r",
            str(ROOT / "requirements.lock"),
            "-w",
            str(dist),
        ],
        cwd=ROOT,
    )
    venv = base / "venv"
    run([PYTHON, "-m", "venv", str(venv)], cwd=base)
    run(
        [
            str(venv / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-index",
            "--find-links",
            str(dist),
            "evledger",
        ],
        cwd=base,
        env=clean_env(venv),
    )
    return Release(dist, venv)


def clean_env(venv: Path, **extra: str) -> dict[str, str]:
    """The environment of an operator's shell in which the release's venv is first on PATH:
    nothing of the checkout's venv, no database or chain of the test session's."""
    drop = {
        "DATABASE_URL",
        "ETH_RPC_URL",
        "PYTHONPATH",
        "VIRTUAL_ENV",
        "EVLEDGER_ANVIL_BIN",
        "EVLEDGER_HOME",
        "EVLEDGER_WEB_DIST",
    }
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env["PATH"] = f"{venv / 'bin'}:/usr/local/bin:/usr/bin:/bin"
    env.update(extra)
    return env


def test_wheels_carry_what_the_service_reads_and_the_license(release: Release) -> None:
    """Each wheel names the license and carries its text; ours pin each other exactly; the
    server's wheel holds the contract's artifact, the built pages and Swagger UI's files, the
    same bytes as the checkout's."""
    license_text = (ROOT / "LICENSE").read_bytes()
    assert b"Apache License" in license_text and b"Version 2.0, January 2004" in license_text
    for name in OURS:
        with zipfile.ZipFile(release.wheel(name)) as wheel:
            meta = email.parser.Parser().parsestr(
                wheel.read(f"{name}-0.1.0.dist-info/METADATA").decode()
            )
            assert meta["License-Expression"] == "Apache-2.0"
            assert wheel.read(f"{name}-0.1.0.dist-info/licenses/LICENSE") == license_text
            ours = [r for r in meta.get_all("Requires-Dist") or [] if r.startswith("evledger")]
            assert all("==0.1.0" in r for r in ours), ours
    shipped = {
        "ledger/contracts/EvidenceAnchor.json": ROOT / "contracts" / "EvidenceAnchor.json",
        "api/web_dist/verify.html": ROOT / "web" / "dist" / "verify.html",
        "api/web_dist/console.html": ROOT / "web" / "dist" / "console.html",
        "api/swagger_ui/swagger-ui-bundle.js": ROOT
        / "node_modules"
        / "swagger-ui-dist"
        / "swagger-ui-bundle.js",
        "api/swagger_ui/LICENSE": ROOT / "node_modules" / "swagger-ui-dist" / "LICENSE",
    }
    # Every other wheel is a file the lock names by its hash (none was built here from source).
    lock = (ROOT / "requirements.lock").read_text()
    for wheel_file in release.dist.glob("*.whl"):
        if not wheel_file.name.startswith(tuple(f"{name}-" for name in OURS)):
            digest = hashlib.sha256(wheel_file.read_bytes()).hexdigest()
            assert f"--hash=sha256:{digest}" in lock, wheel_file.name
    with zipfile.ZipFile(release.wheel("evledger")) as wheel:
        for member, source in shipped.items():
            assert wheel.read(member) == source.read_bytes(), member
        meta = email.parser.Parser().parsestr(
            wheel.read("evledger-0.1.0.dist-info/METADATA").decode()
        )
        assert {"evledger-verify==0.1.0", "evledger-ingest==0.1.0"} <= set(
            meta.get_all("Requires-Dist") or []
        )


@dataclass
class Installed:
    release: Release
    work: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.env['EVLEDGER_PORT']}"

    def start(self, timeout: float = 90) -> None:
        log = open(self.work / "up.log", "ab")  # the child writes it
        self.process = subprocess.Popen(
            [str(self.release.venv / "bin" / "evledger"), "up"],
            env=self.env,
            cwd=self.work,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, (self.work / "up.log").read_text()
            try:
                if httpx.get(f"{self.api}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError("evledger up did not become healthy")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        stop_orphaned_postgres(self.work / ".evledger")


def installed(release: Release, folder: Path, **extra: str) -> Installed:
    work = folder / "plant"
    work.mkdir(parents=True)
    env = clean_env(
        release.venv,
        EVLEDGER_HOME=str(work / ".evledger"),
        EVLEDGER_PORT=str(free_port()),
        EVLEDGER_ANVIL_PORT=str(free_port()),
        EVLEDGER_SEAL_INTERVAL="0.1",
        EVLEDGER_ANCHOR_INTERVAL="0.2",
        **extra,
    )
    return Installed(release, work, env)


@pytest.fixture()
def service(release: Release, base: Path) -> Iterator[Installed]:
    svc = installed(release, base / "up", EVLEDGER_ANVIL_BIN=str(find_anvil_binary()))
    try:
        svc.start()
        yield svc
    finally:
        svc.stop()


ROUND_TRIP = """
export EVLEDGER_KEY_PASSWORD_FILE=$PWD/password.key
(umask 077 && python -c 'import secrets; print(secrets.token_urlsafe(18))' > password.key)
ADDR=$(evledger keys new -o inspector.key)
evledger signers add --address "$ADDR" --name "Dana Inspector" --role qa_inspector
cat > record.json <<'EOF'
{"record_id": "CHG-2026-0101-requested", "type": "change", "schema": "change/1",
 "change_id": "CHG-2026-0101", "step": "requested", "reason": "Installed from the release",
 "description": "A record submitted through an installed release"}
EOF
evledger submit record.json --key inspector.key
evledger receipt CHG-2026-0101-requested -o receipt.json
evledger trust -o trust.json
evledger-verify receipt receipt.json --record record.json --trust trust.json
RPC=$(evledger status --json | python -c 'import json,sys; print(json.load(sys.stdin)["rpc_url"])')
evledger-verify receipt receipt.json --record record.json --trust trust.json --rpc "$RPC"
"""


def test_installed_release_runs_up_and_a_verified_round_trip(service: Installed) -> None:
    venv = service.release.venv
    where = run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import api, evledger_verify, ingest, ledger; "
            "print('\\n'.join(m.__file__ for m in (api, evledger_verify, ingest, ledger)))",
        ],
        cwd=service.work,
        env=service.env,
    )
    for module_file in where.stdout.split():
        assert Path(module_file).is_relative_to(venv), module_file
    # The pages the wheel carries are served.
    for path in ("/verify", "/app", "/docs", "/docs/assets/swagger-ui-bundle.js"):
        page = httpx.get(service.api + path, timeout=10)
        assert page.status_code == 200, (path, page.text[:300])
    # A signed record to an anchored receipt, verified by the installed evledger-verify.
    done = run(
        ["bash", "-euo", "pipefail", "-c", ROUND_TRIP],
        cwd=service.work,
        env=service.env,
        timeout=300,
    )
    assert done.stdout.count("VERIFIED") == 2, done.stdout
    receipt = json.loads((service.work / "receipt.json").read_text())
    assert receipt["anchors"], receipt
    status = json.loads(
        run(
            [str(venv / "bin" / "evledger"), "status", "--json"], cwd=service.work, env=service.env
        ).stdout
    )
    assert status["records"] >= 2  # the signer's grant and the record
    service.stop()
    assert service.process is not None and service.process.returncode == 0


def test_installed_release_without_an_anvil_says_what_to_set(release: Release, base: Path) -> None:
    """No node_modules beside an installed release: without EVLEDGER_ANVIL_BIN or ETH_RPC_URL
    `evledger up` stops with a message naming both, and leaves nothing running."""
    svc = installed(release, base / "no-anvil")
    try:
        done = subprocess.run(
            [str(release.venv / "bin" / "evledger"), "up"],
            cwd=svc.work,
            env=svc.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        svc.stop()
    assert done.returncode != 0
    message = done.stdout + done.stderr
    assert "EVLEDGER_ANVIL_BIN" in message and "ETH_RPC_URL" in message, message
    assert "Traceback" not in message, message
