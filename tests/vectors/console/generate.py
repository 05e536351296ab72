"""Vectors for the QA console's signing (tests/js/console_sign.test.mjs): what the Python
client (ingest.client.SigningKey) makes for fixed inputs, so the page's read token and record
signature can be compared with the CLI's byte for byte, and keystore v3 files (eth-account's
writer, scrypt and PBKDF2, small cost factors so the test is quick) with their password and
address.

    .venv/bin/python tests/vectors/console/generate.py          # writes console.json
    .venv/bin/python tests/vectors/console/generate.py --check  # exit 1 unless it is fresh

eth-account's keystore writer takes a random salt and IV, so the keystores are kept from the
first run: --check compares everything else and that each keystore still opens to its key.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from eth_account import Account
from evledger_verify.records import Domain, eip712_digest, record_hash

from ingest.client import SigningKey

OUT = Path(__file__).with_name("console.json")
SECRET = bytes.fromhex("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")
PASSWORD = "correct horse battery staple"
DOMAIN = Domain(chain_id=31337, contract="0x5FbDB2315678afecb367f032d93F642f64180aa3")
ORIGIN = "evledger.test/log"
NOW = 1_780_000_000
SIGNED_AT = 1_780_000_123
RECORDS: list[tuple[dict[str, Any], str]] = [
    (
        {
            "schema": "inspection/2",
            "type": "inspection",
            "record_id": "INSP-CONSOLE-0001",
            "lot": "LOT-Ω-7",
            "stage": "final",
            "verdict": "pass",
            "characteristics": [
                {"name": "bore", "value": 12.003, "unit": "mm", "verdict": "pass"},
                {"name": "weight", "value": 1e21, "unit": "g", "verdict": "pass"},
            ],
        },
        "authored",
    ),
    (
        {"schema": "ncr/1", "type": "ncr", "record_id": "NCR-1-opened", "note": "a \u2028 b"},
        "approved",
    ),
]


#: A password whose UTF-8 bytes are not its NFKC form's (an e and a combining acute accent):
#: the CLI encrypts the bytes as typed, and the page must too.
PASSWORD_NOT_NFKC = "Kennwort caf\u0065\u0301 \ufb01"


def keystores(old: dict[str, Any] | None) -> list[dict[str, Any]]:
    kept = list(old["keystores"]) if old is not None else []
    if not kept:
        kept = [
            {"kdf": kdf, "file": Account.encrypt(SECRET, PASSWORD, kdf=kdf, iterations=cost)}
            for kdf, cost in (("scrypt", 1024), ("pbkdf2", 1000))
        ]
    if not any(ks.get("password") for ks in kept):
        file = Account.encrypt(SECRET, PASSWORD_NOT_NFKC, kdf="scrypt", iterations=1024)
        kept.append({"kdf": "scrypt", "password": PASSWORD_NOT_NFKC, "file": file})
    return kept


def build(old: dict[str, Any] | None) -> dict[str, Any]:
    key = SigningKey(SECRET)
    stores = keystores(old)
    for ks in stores:
        assert Account.decrypt(ks["file"], ks.get("password", PASSWORD)) == SECRET
    records = []
    for record, meaning in RECORDS:
        signed = key.sign(record, meaning, DOMAIN, SIGNED_AT)
        digest = eip712_digest(
            DOMAIN, record["record_id"], record["type"], record_hash(record), meaning, SIGNED_AT
        )
        records.append(
            {
                "record": record,
                "meaning": meaning,
                "signed_at": SIGNED_AT,
                "record_hash": record_hash(record).hex(),
                "digest": digest.hex(),
                "submission": signed.to_json(),
            }
        )
    return {
        "secret": SECRET.hex(),
        "address": key.address,
        "password": PASSWORD,
        "domain": {"chain_id": DOMAIN.chain_id, "contract": DOMAIN.contract},
        "origin": ORIGIN,
        "now": NOW,
        "ttl": 3600,
        "read_token": key.read_token(ORIGIN, 3600, now=NOW),
        "records": records,
        "keystores": stores,
    }


def main() -> int:
    old = json.loads(OUT.read_text()) if OUT.exists() else None
    text = json.dumps(build(old), indent=1, ensure_ascii=False) + "\n"
    if "--check" in sys.argv[1:]:
        if old is None or OUT.read_text() != text:
            print(f"{OUT} is stale: run {Path(__file__).name}", file=sys.stderr)
            return 1
        print(f"{OUT.name} is up to date")
        return 0
    OUT.write_text(text)
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
