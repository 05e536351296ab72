"""Key files in both formats without a service: keystore v3 files (written here, by another
tool's published example, with the default scrypt cost) and plain files, the password sources
(file, environment, terminal, none), and every refusal, none of which shows key material or
asks for a password it does not need."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account

from ingest.client import (
    PASSWORD_FILE_ENV,
    STANDARD_SCRYPT_N,
    KeyFileError,
    NoPasswordError,
    Passwords,
    PlainKeyRefusedError,
    SigningKey,
    WrongPasswordError,
    load_key,
    new_key,
    new_keystore,
    plain_keys_allowed_by_env,
)

pytestmark = pytest.mark.req("P11-10d-3")

SECRET = bytes.fromhex("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")
KEY = SigningKey(SECRET)
#: Lighter scrypt for the many keystores of these tests (test-only: ``keys new`` has no option).
LIGHT_N = 1 << 10

# The two test vectors of the Web3 Secret Storage Definition (Ethereum wiki, "Test Vectors";
# https://ethereum.org/en/developers/docs/data-structures-and-encoding/web3-secret-storage/
# and go-ethereum's accounts/keystore/testdata/v3_test_vector.json): another implementation's
# files, typed in here. Password "testpassword", private key 7a28b5ba...14fe9d.
WIKI_PASSWORD = b"testpassword"
WIKI_SECRET = "7a28b5ba57c53603b0b07b56bba752f7784bf506fa95edc395f5cf6c7514fe9d"
WIKI_SCRYPT = {
    "crypto": {
        "cipher": "aes-128-ctr",
        "cipherparams": {"iv": "83dbcc02d8ccb40e466191a123791e0e"},
        "ciphertext": "d172bf743a674da9cdad04534d56926ef8358534d458fffccd4e6ad2fbde479c",
        "kdf": "scrypt",
        "kdfparams": {
            "dklen": 32,
            "n": 262144,
            "r": 1,
            "p": 8,
            "salt": "ab0c7876052600dd703518d6fc3fe8984592145b591fc8fb5c6d43190334ba19",
        },
        "mac": "2103ac29920d71da29f15d75b4a16dbe95cfd7ff8faea1056c33131d846e3097",
    },
    "id": "3198bc9c-6672-5ab3-d995-4942343ae5b6",
    "version": 3,
}
WIKI_PBKDF2 = {
    "crypto": {
        "cipher": "aes-128-ctr",
        "cipherparams": {"iv": "6087dab2f9fdbbfaddc31a909735c1e6"},
        "ciphertext": "5318b4d5bcd28de64ee5559e671353e16f075ecae9f99c7a79a38af5f869aa46",
        "kdf": "pbkdf2",
        "kdfparams": {
            "c": 262144,
            "dklen": 32,
            "prf": "hmac-sha256",
            "salt": "ae3cd4e7013836a3df6bd7241b12db061dbe2c6785853cce422d148a624ce0bd",
        },
        "mac": "517ead924a9d0dc3124507e3393d175ce3ff7c1e96529c6c555ce9e51205e9b2",
    },
    "id": "3198bc9c-6672-5ab3-d995-4942343ae5b6",
    "version": 3,
}


def _file(path: Path, text: str | bytes, mode: int = 0o600) -> Path:
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    os.chmod(path, mode)
    return path


def _password_file(tmp_path: Path, text: str = "correct horse\n", mode: int = 0o600) -> Path:
    return _file(tmp_path / "password", text, mode)


class NoPrompt:
    """A terminal that must not be asked."""

    def __call__(self, text: str) -> str:
        raise AssertionError(f"asked for a password: {text}")


def _never_asked() -> Passwords:
    return Passwords(prompt=NoPrompt(), interactive=True)


def _light_keystore(tmp_path: Path, name: str = "k.json") -> Path:
    path = tmp_path / name
    answers = iter(["correct horse", "correct horse"])
    new_keystore(
        path,
        Passwords(prompt=lambda _t: next(answers), interactive=True),
        key=KEY,
        scrypt_n=LIGHT_N,
    )
    return path


# -- both formats --------------------------------------------------------------------------


def test_default_keystore_is_geths_standard_scrypt_and_opens(tmp_path: Path) -> None:
    """The one keystore with the default cost: n = 2^18, r = 8, p = 1, mode 0600, no key
    material in clear; eth-account (another reader) opens it too."""
    pw = _password_file(tmp_path)
    key = new_keystore(tmp_path / "k.json", Passwords(pw))
    path = tmp_path / "k.json"
    assert path.stat().st_mode & 0o777 == 0o600
    doc = json.loads(path.read_text())
    assert doc["version"] == 3 and doc["crypto"]["cipher"] == "aes-128-ctr"
    assert doc["crypto"]["kdf"] == "scrypt"
    params = doc["crypto"]["kdfparams"]
    assert (params["n"], params["r"], params["p"], params["dklen"]) == (STANDARD_SCRYPT_N, 8, 1, 32)
    assert doc["address"].lower() == key.address[2:].lower()
    assert load_key(path, passwords=Passwords(pw), allow_plain=False).address == key.address


def test_light_keystore_is_read_by_eth_account(tmp_path: Path) -> None:
    path = _light_keystore(tmp_path)
    assert Account.decrypt(json.loads(path.read_text()), "correct horse") == SECRET
    pw = _password_file(tmp_path)
    assert load_key(path, passwords=Passwords(pw), allow_plain=False).address == KEY.address


@pytest.mark.parametrize("vector", [WIKI_SCRYPT, WIKI_PBKDF2], ids=["scrypt", "pbkdf2"])
def test_web3_secret_storage_test_vectors(tmp_path: Path, vector: dict[str, Any]) -> None:
    path = _file(tmp_path / "wiki.json", json.dumps(vector))
    pw = _password_file(tmp_path, WIKI_PASSWORD.decode() + "\n")
    key = load_key(path, passwords=Passwords(pw), allow_plain=False)
    assert key.address == Account.from_key(bytes.fromhex(WIKI_SECRET)).address
    if vector["crypto"]["kdf"] == "pbkdf2":  # the cheaper one
        # geth once wrote "Crypto": field names are read case-insensitively, as eth-keyfile does
        vector = {("Crypto" if k == "crypto" else k): v for k, v in vector.items()}
        _file(path, json.dumps(vector))
        assert load_key(path, passwords=Passwords(pw)).address == key.address


def test_plain_file_is_refused_for_people_unless_allowed(tmp_path: Path) -> None:
    path = _file(tmp_path / "k.key", "0x" + SECRET.hex() + "\n")
    with pytest.raises(PlainKeyRefusedError) as info:
        load_key(path, passwords=_never_asked(), allow_plain=False)
    message = str(info.value)
    assert "plain (unencrypted) key file" in message and "--allow-plain-key" in message
    assert "EVLEDGER_ALLOW_PLAIN_KEYS=1" in message and SECRET.hex()[:8] not in message
    assert info.value.exit_code == 2
    assert load_key(path, passwords=_never_asked(), allow_plain=True).address == KEY.address
    assert new_key(tmp_path / "device.key").address  # a device's key: plain, mode 0600
    assert (tmp_path / "device.key").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(
    ("value", "allowed"),
    [("1", True), ("true", True), ("YES", True), ("0", False), ("", False), ("no", False)],
)
def test_plain_allowance_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, value: str, allowed: bool
) -> None:
    monkeypatch.setenv("EVLEDGER_ALLOW_PLAIN_KEYS", value)
    assert plain_keys_allowed_by_env() is allowed
    monkeypatch.delenv("EVLEDGER_ALLOW_PLAIN_KEYS")
    assert plain_keys_allowed_by_env() is False


# -- passwords -------------------------------------------------------------------------------


def test_wrong_password(tmp_path: Path) -> None:
    path = _light_keystore(tmp_path)
    pw = _password_file(tmp_path, "battery staple\n")
    with pytest.raises(WrongPasswordError, match=rf"wrong password for keystore {path}$") as info:
        load_key(path, passwords=Passwords(pw))
    assert info.value.exit_code == 2


def test_no_terminal_and_no_password_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PASSWORD_FILE_ENV, raising=False)
    path = _light_keystore(tmp_path)
    with pytest.raises(NoPasswordError, match="no terminal to ask on: give --password-file"):
        load_key(path, passwords=Passwords(prompt=NoPrompt(), interactive=False))
    with pytest.raises(NoPasswordError, match="no terminal"):
        new_keystore(tmp_path / "n.json", Passwords(prompt=NoPrompt(), interactive=False))
    assert not (tmp_path / "n.json").exists()


def test_terminal_prompt_once_to_open_twice_to_create(tmp_path: Path) -> None:
    asked: list[str] = []

    def prompt(text: str) -> str:
        asked.append(text)
        return "correct horse"

    path = _light_keystore(tmp_path)
    assert load_key(path, passwords=Passwords(prompt=prompt, interactive=True)).address
    assert asked == [f"Password for keystore {path}: "]
    answers = iter(["one", "two"])
    with pytest.raises(NoPasswordError, match="the two passwords differ; nothing written"):
        new_keystore(tmp_path / "n.json", Passwords(prompt=lambda _t: next(answers),
                                                    interactive=True), scrypt_n=LIGHT_N)
    assert not (tmp_path / "n.json").exists()

    def closed(_text: str) -> str:
        raise EOFError

    with pytest.raises(NoPasswordError, match="no password given"):
        load_key(path, passwords=Passwords(prompt=closed, interactive=True))


def test_empty_password_is_refused_for_a_new_keystore(tmp_path: Path) -> None:
    pw = _password_file(tmp_path, "\n")
    with pytest.raises(NoPasswordError, match="the password is empty; nothing written"):
        new_keystore(tmp_path / "n.json", Passwords(pw), scrypt_n=LIGHT_N)
    assert not (tmp_path / "n.json").exists()


def test_password_file_first_line_and_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _light_keystore(tmp_path)
    crlf = _password_file(tmp_path, "correct horse\r\nignored second line\n")
    assert load_key(path, passwords=Passwords(crlf)).address == KEY.address
    monkeypatch.setenv(PASSWORD_FILE_ENV, str(crlf))
    assert load_key(path, passwords=Passwords(prompt=NoPrompt(), interactive=True)).address
    wrong = _file(tmp_path / "wrong", "nope\n")
    with pytest.raises(WrongPasswordError):  # the option is used before the environment
        load_key(path, passwords=Passwords(wrong))


@pytest.mark.parametrize(
    ("text", "mode", "message"),
    [
        ("correct horse\n", 0o640, "password file .* is readable by others"),
        ("x" * 5000, 0o600, "expected one line of at most 4096 bytes"),
    ],
)
def test_password_file_refusals(tmp_path: Path, text: str, mode: int, message: str) -> None:
    path = _light_keystore(tmp_path)
    pw = _password_file(tmp_path, text, mode)
    with pytest.raises(KeyFileError, match=message) as info:
        load_key(path, passwords=Passwords(pw))
    assert "correct horse" not in str(info.value)
    with pytest.raises(NoPasswordError, match="cannot read password file"):
        load_key(path, passwords=Passwords(tmp_path / "absent"))


# -- refusals before any password is asked ---------------------------------------------------


def test_keystore_readable_by_others_is_refused(tmp_path: Path) -> None:
    path = _light_keystore(tmp_path)
    for mode in (0o640, 0o604):
        os.chmod(path, mode)
        with pytest.raises(KeyFileError, match=r"is readable by others .* chmod 600"):
            load_key(path, passwords=_never_asked())


def _broken(**change: Any) -> dict[str, Any]:
    doc = json.loads(json.dumps(WIKI_SCRYPT))
    for where, value in change.items():
        *parents, leaf = where.split("__")
        node = doc
        for name in parents:
            node = node[name]
        if value is None:
            del node[leaf]
        else:
            node[leaf] = value
    return doc


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{nope", "not valid JSON"),
        (b"{\xff}", "not valid JSON"),
        ("{" + " " * 20_000 + "}", "expected at most 16384 bytes"),
        (_broken(version=1), "version: expected 3"),
        (_broken(version="3"), "version: expected 3"),
        (_broken(crypto=None), "crypto: expected an object"),
        (_broken(crypto__cipher="aes-128-cbc"), "crypto.cipher: expected aes-128-ctr"),
        (_broken(crypto__cipherparams__iv="zz"), "crypto.cipherparams.iv: expected hex"),
        (_broken(crypto__ciphertext="00" * 31), "crypto.ciphertext: expected 32 bytes"),
        (_broken(crypto__mac=None), "crypto.mac: expected hex"),
        (_broken(crypto__kdf="argon2"), "crypto.kdf: expected scrypt or pbkdf2"),
        (_broken(crypto__kdfparams__dklen=64), "dklen: expected 32"),
        (_broken(crypto__kdfparams__n=1000), "n: expected a power of 2"),
        (_broken(crypto__kdfparams__n=1 << 30), "kdfparams.n: expected an integer"),
        (_broken(crypto__kdfparams__n=1 << 22, crypto__kdfparams__r=8), "scrypt cost above"),
        (_broken(crypto__kdfparams__r=True), "kdfparams.r: expected an integer"),
        (_broken(address="0x12"), "address: expected 20 bytes"),
        ([1, 2], None),  # not an object: read as a plain file, which it is not either
    ],
)
def test_malformed_keystores_are_refused_before_the_password(
    tmp_path: Path, content: Any, message: str | None
) -> None:
    text = content if isinstance(content, str | bytes) else json.dumps(content)
    path = _file(tmp_path / "bad.json", text)
    with pytest.raises(KeyFileError) as info:
        load_key(path, passwords=_never_asked(), allow_plain=True)
    if message is None:
        assert "does not hold a hex secp256k1 private key" in str(info.value)
    else:
        assert "is not a usable keystore v3 file" in str(info.value)
        assert message in str(info.value)
    assert "d172bf74" not in str(info.value)  # no value of the file is quoted


def test_keystore_whose_address_is_not_its_keys(tmp_path: Path) -> None:
    path = _light_keystore(tmp_path)
    doc = json.loads(path.read_text())
    _file(path, json.dumps({**doc, "address": "00" * 20}))
    pw = _password_file(tmp_path)
    with pytest.raises(KeyFileError, match=r"names address 0x0000.* but holds the key of 0x"):
        load_key(path, passwords=Passwords(pw))


def test_new_keystore_never_overwrites(tmp_path: Path) -> None:
    path = _light_keystore(tmp_path)
    before = path.read_bytes()
    with pytest.raises(KeyFileError, match="already exists; refusing to overwrite a key"):
        new_keystore(path, _never_asked(), scrypt_n=LIGHT_N)
    with pytest.raises(KeyFileError, match=r"cannot create .*no-dir/k\.json"):
        new_keystore(tmp_path / "no-dir" / "k.json", _never_asked(), scrypt_n=LIGHT_N)
    assert path.read_bytes() == before
    with pytest.raises(ValueError, match="power of 2"):
        new_keystore(tmp_path / "x.json", _never_asked(), scrypt_n=1000)
