"""Read tokens against the real service: one signature rule for tokens and records (low-s
only), and tokens made by the client library and by the ledger's helper are the same thing."""

from __future__ import annotations

import pytest
from eth_account.signers.local import LocalAccount
from evledger_verify.tokens import format_token, parse_token
from fastapi.testclient import TestClient

from ingest.client import SigningKey
from ledger.runtime import Runtime
from tests.helpers import bearer, fresh, inspection, master_data, register, sign

pytestmark = [pytest.mark.integration, pytest.mark.req("P11-10d-2")]

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def _lot_with_a_record(client: TestClient, runtime: Runtime) -> tuple[str, LocalAccount]:
    master_data(client, runtime)
    inspector = register(client, runtime, ("qa_inspector",))
    lot = fresh("LOT-TOKEN")
    resp = client.post("/v1/records", json=sign(runtime, inspection(fresh("T"), lot), inspector))
    assert resp.status_code == 201, resp.text
    return lot, inspector


def _high_s_twin(token: str) -> str:
    """The same signature with s replaced by n - s and v flipped: it verifies with any
    implementation that does not insist on low s."""
    address, expires, signature = parse_token(token)
    raw = bytes.fromhex(signature[2:])
    s = int.from_bytes(raw[32:64], "big")
    v = 27 + 28 - raw[64]
    twin = raw[:32] + (SECP256K1_N - s).to_bytes(32, "big") + bytes([v])
    return format_token(address, expires, "0x" + twin.hex())


def test_high_s_twin_of_a_valid_token_is_refused(client: TestClient, runtime: Runtime) -> None:
    lot, inspector = _lot_with_a_record(client, runtime)
    token = bearer(runtime, inspector)["Authorization"].removeprefix("Bearer ")
    resp = client.get(f"/v1/lots/{lot}", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200, resp.text
    twin = _high_s_twin(token)
    assert twin != token
    resp = client.get(f"/v1/lots/{lot}", headers={"Authorization": f"Bearer {twin}"})
    assert resp.status_code == 401, resp.text
    assert resp.json()["error"] == "bad_signature"
    assert "high-s is not accepted" in resp.json()["detail"], resp.text


def test_client_tokens_are_accepted_and_v_is_read_as_for_records(
    client: TestClient, runtime: Runtime
) -> None:
    lot, inspector = _lot_with_a_record(client, runtime)
    key = SigningKey(bytes(inspector.key))
    token = key.read_token(runtime.ledger.identity.log_origin, ttl=60)
    resp = client.get(f"/v1/lots/{lot}", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200, resp.text
    # A wallet that writes v as 0/1 is read as 27/28, exactly as for record signatures.
    v01 = token[:-2] + format(int(token[-2:], 16) - 27, "02x")
    resp = client.get(f"/v1/lots/{lot}", headers={"Authorization": f"Bearer {v01}"})
    assert resp.status_code == 200, resp.text
    bad_v = token[:-2] + "1d"
    resp = client.get(f"/v1/lots/{lot}", headers={"Authorization": f"Bearer {bad_v}"})
    assert resp.status_code == 401 and "expected v of 27 or 28" in resp.json()["detail"]
