"""The parts of `evledger selftest` that need no running ledger: reading lockfiles, the API
binding warning, no password in a check's detail. tests/integration/test_selftest.py runs it
against a real installation."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from ledger.config import Settings
from ledger.selftest import (
    Installation,
    SelfTest,
    checkout_root,
    find_lockfile,
    read_lockfile,
)

pytestmark = pytest.mark.req("IQ-1")

HASH = "--hash=sha256:" + "a" * 64


def test_requirements_lock_pins_markers_and_hashes(tmp_path: Path) -> None:
    lock = tmp_path / "requirements.lock"
    lock.write_text(
        "# made by make lock\n"
        f"Foo_Bar==1.2.3 \\\n    {HASH}\n    # via x\n"
        f"uvicorn[standard]==0.30.1 \\\n    {HASH}\n"
        f"colorama==0.4.6 ; sys_platform == 'win32' \\\n    {HASH}\n"
        f"tomli==2.0.1 ; python_version >= '3.0' \\\n    {HASH}\n"
        "-e ./verifier\n"
    )
    pins, hashed = read_lockfile(lock)
    assert pins == {"foo-bar": "1.2.3", "uvicorn": "0.30.1", "tomli": "2.0.1"}
    assert hashed
    lock.write_text("foo==1.0\n")
    assert read_lockfile(lock) == ({"foo": "1.0"}, False)
    lock.write_text("just prose\n")
    with pytest.raises(ValueError, match="no name==version pins"):
        read_lockfile(lock)


def test_uv_lock_and_pylock_toml(tmp_path: Path) -> None:
    uv = tmp_path / "uv.lock"
    uv.write_text(
        'version = 1\n[[package]]\nname = "httpx"\nversion = "0.28.1"\n'
        'sdist = { url = "https://x/httpx.tar.gz", hash = "sha256:' + "b" * 64 + '" }\n'
        '[[package]]\nname = "evledger"\nsource = { editable = "." }\n'
    )
    assert read_lockfile(uv) == ({"httpx": "0.28.1"}, True)
    pylock = tmp_path / "pylock.toml"
    pylock.write_text(
        'lock-version = "1.0"\n[[packages]]\nname = "Click"\nversion = "8.1.7"\n'
        '[[packages.wheels]]\nname = "click-8.1.7-py3-none-any.whl"\n'
        'hashes = { sha256 = "' + "c" * 64 + '" }\n'
    )
    assert read_lockfile(pylock) == ({"click": "8.1.7"}, True)


def test_the_checkout_lock_is_what_make_setup_installs() -> None:
    lock = find_lockfile(checkout_root())
    assert lock is not None and lock.name == "requirements-dev.lock"
    pins, hashed = read_lockfile(lock)
    assert hashed and "fastapi" in pins


def _selftest(host: str, public_url: str | None = None) -> SelfTest:
    settings = dataclasses.replace(
        Settings.from_env(), home=Path("/nonexistent"), public_url=public_url
    )
    return SelfTest(
        Installation(
            settings,
            f"http://{host}:8000",
            "http://127.0.0.1:8545",
            "postgresql+psycopg2://evledger_app:s3cret-pw@db.example:5432/ev",
        )
    )


@pytest.mark.parametrize(
    ("host", "public", "status"),
    [
        ("127.0.0.1", None, "ok"),
        ("localhost", None, "ok"),
        ("[::1]", None, "ok"),
        ("0.0.0.0", None, "warn"),  # noqa: S104
        ("192.0.2.10", "http://ledger.example", "warn"),
        ("0.0.0.0", "https://ledger.example", "ok"),  # noqa: S104
    ],
)
def test_api_bound_beyond_localhost_without_tls_is_a_warning(
    host: str, public: str | None, status: str
) -> None:
    test = _selftest(host, public)
    test.warn_binding()
    (check,) = test.checks
    assert (check.name, check.status) == ("api binding", status), check


def test_a_check_that_cannot_run_fails_without_leaking_the_password() -> None:
    test = _selftest("127.0.0.1")
    test._run(
        "database role",
        lambda: (_ for _ in ()).throw(
            OSError("cannot reach postgresql://evledger_app:s3cret-pw@db.example:5432/ev")
        ),
    )
    (check,) = test.checks
    assert check.status == "FAIL" and "could not check" in check.detail
    assert "s3cret-pw" not in check.detail and "evledger_app:***@" in check.detail


def test_no_lockfile_is_a_failure_that_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("ledger.selftest.checkout_root", lambda: tmp_path)
    test = _selftest("127.0.0.1")
    test.check_versions()
    (check,) = test.checks
    assert check.status == "FAIL"
    assert check.detail.startswith("no lockfile: none of requirements-dev.lock, requirements.lock")
    assert "--lockfile" in check.detail
