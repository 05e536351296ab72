"""`evledger-verify` installs alone, with its small dependency set, and works without the
server stack (DESIGN: installable alone; STYLE: the verifier is the small trusted core)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from ledger.embedded import repo_root

pytestmark = [pytest.mark.integration, pytest.mark.req("ISO-4.2.5-1")]

SERVER_PACKAGES = {"web3", "fastapi", "sqlalchemy", "psycopg2-binary", "eth-account", "uvicorn"}


def test_verifier_installs_and_runs_alone(auditor_venv: Path, tmp_path: Path) -> None:
    env_dir = auditor_venv
    py = env_dir / "bin" / "python"
    listed = subprocess.run([str(py), "-m", "pip", "list", "--format", "json"],
                            capture_output=True, text=True, check=True)
    installed = {p["name"].lower() for p in json.loads(listed.stdout)}
    assert "evledger-verify" in installed
    assert not installed & SERVER_PACKAGES, installed & SERVER_PACKAGES
    # The CT reference vectors verify with the installed package alone.
    vectors = repo_root() / "tests" / "vectors" / "ct_reference.json"
    check = (
        "import json, sys; from evledger_verify.merkle import leaf_hash, verify_inclusion;"
        f"v = json.load(open({str(vectors)!r}));"
        "leaves = [leaf_hash(bytes.fromhex(x)) for x in v['leaves']];"
        "c = v['inclusion'][1];"
        "verify_inclusion(leaves[c['index']], c['index'], c['size'],"
        " [bytes.fromhex(p) for p in c['proof']], bytes.fromhex(v['roots'][c['size'] - 1]));"
        "assert not {'ledger', 'api', 'web3', 'sqlalchemy'} & set(sys.modules); print('ok')"
    )
    ran = subprocess.run([str(py), "-c", check], capture_output=True, text=True, cwd=tmp_path)
    assert ran.returncode == 0 and ran.stdout.strip() == "ok", ran.stderr
    usage = subprocess.run([str(env_dir / "bin" / "evledger-verify"), "receipt"],
                           capture_output=True, text=True)
    assert usage.returncode == 2 and "--trust" in usage.stderr, usage.stderr
