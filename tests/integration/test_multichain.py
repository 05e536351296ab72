"""Anchoring on two chains at once (EVLEDGER_EXTRA_CHAINS): each checkpoint on both, each
chain with its own contract and anchorer key; receipts carry every anchor; when one chain dies
the other keeps anchoring, receipts still verify there (the `evledger-verify` process, with
`--rpc` per chain), /healthz names the dead chain, and the chain that returns catches up with
one transaction. The audit checks each chain's anchors on that chain."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.app import create_app
from ledger.audit import Auditor
from ledger.config import Settings
from ledger.embedded import Anvil
from ledger.errors import ConfigError
from ledger.models import Anchor, LedgerMeta
from ledger.runtime import Runtime
from tests.conftest import running_ledger
from tests.helpers import fresh, inspection, master_data, register, rpc, sign, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.req("ANCH-7", "RCPT-7")]

PRIMARY, SECOND = 31337, 31338
VERIFY = Path(sys.executable).parent / "evledger-verify"


@pytest.fixture()
def second_chain(tmp_path: Path) -> Iterator[Anvil]:
    chain = Anvil(state_dir=tmp_path / "second-anvil", chain_id=SECOND).start()
    try:
        yield chain
    finally:
        chain.stop()


@pytest.fixture()
def rt(
    settings: Settings, database_url: str, own_chain: Anvil, second_chain: Anvil
) -> Iterator[Runtime]:
    two = dataclasses.replace(settings, extra_chains=((SECOND, second_chain.rpc_url),))
    with running_ledger(two, database_url, own_chain) as runtime:
        yield runtime


def receipt(client: TestClient, rid: str) -> dict[str, Any]:
    resp = client.get(f"/v1/records/{rid}/receipt")
    assert resp.status_code in (200, 202), resp.text  # 202: not anchored yet
    body: dict[str, Any] = resp.json()
    return body


def anchored_on(client: TestClient, rid: str, *chains: int) -> dict[str, Any]:
    """Wait until the record's receipt carries an anchor on each of ``chains``."""
    return wait_for(  # type: ignore[no-any-return]
        f"{rid} anchored on {chains}",
        lambda: (r := receipt(client, rid))
        and set(chains) <= {a["chain_id"] for a in r.get("anchors", [])}
        and r,
    )


def verify(tmp_path: Path, rec: dict[str, Any], trust: dict[str, Any], *rpcs: str) -> Any:
    (tmp_path / "r.json").write_text(json.dumps(rec))
    (tmp_path / "t.json").write_text(json.dumps(trust))
    args = [str(VERIFY), "receipt", str(tmp_path / "r.json"), "--trust", str(tmp_path / "t.json")]
    for url in rpcs:
        args += ["--rpc", url]
    return subprocess.run([*args, "--json"], capture_output=True, text=True, timeout=60)


def chain_anchors(rt: Runtime) -> dict[int, list[int]]:
    with rt.engine.connect() as conn:
        rows = conn.execute(
            sa.select(Anchor.chain_id, Anchor.tree_size).order_by(Anchor.tree_size)
        ).all()
    out: dict[int, list[int]] = {}
    for cid, size in rows:
        out.setdefault(int(cid), []).append(int(size))
    return out


def test_each_checkpoint_is_anchored_on_both_chains_with_their_own_contract_and_key(
    rt: Runtime, own_chain: Anvil, second_chain: Anvil, tmp_path: Path
) -> None:
    client = TestClient(create_app(rt.ledger))
    inspector = register(client, rt, ("qa_inspector",))
    master_data(client, rt)
    rid = fresh("TWO")
    assert client.post("/v1/records", json=sign(rt, inspection(rid), inspector)).status_code == 201
    r = anchored_on(client, rid, PRIMARY, SECOND)

    # One anchor per chain, the primary's first; each on its own contract.
    assert [a["chain_id"] for a in r["anchors"]] == [PRIMARY, SECOND]
    primary, second = r["anchors"]
    assert primary["contract"] == rt.ledger.identity.contract
    assert second["contract"] != primary["contract"]  # deployed from another key
    with rt.engine.connect() as conn:
        meta = dict(conn.execute(sa.select(LedgerMeta.key, LedgerMeta.value)).all())
    assert meta[f"chain/{SECOND}/contract"] == second["contract"]
    # The second chain has an anchorer key of its own.
    assert meta[f"chain/{SECOND}/anchorer"] != rt.chain.account.address
    assert (rt.settings.keys_dir / f"anchorer-{SECOND}.key").stat().st_mode & 0o077 == 0
    # The contract on the second chain holds the root (read from that chain, not our rows).
    code = rpc(second_chain.rpc_url, "eth_getCode", second["contract"], "latest")
    assert len(code) > 100

    # The trust file names both chains and requires any one; status and metrics per chain.
    trust = client.get("/v1/trust").json()
    assert trust["chains"] == [
        {"chain_id": PRIMARY, "contract": primary["contract"]},
        {"chain_id": SECOND, "contract": second["contract"]},
    ]
    assert trust["require"] == "any"
    status = client.get("/v1/status").json()
    assert [c["chain_id"] for c in status["chains"]] == [PRIMARY, SECOND]
    assert all(c["latest_anchored_checkpoint"] >= 1 for c in status["chains"])
    metrics = client.get("/metrics").text
    assert f'evledger_chain_latest_anchored_checkpoint{{chain_id="{SECOND}"}}' in metrics

    # The standalone verifier checks both anchors on their chains, even when all are required.
    done = verify(tmp_path, r, {**trust, "require": "all"}, own_chain.rpc_url,
                  second_chain.rpc_url)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    names = [c["check"] for c in report["checks"]]
    assert f"chain root (chain {SECOND})" in names and f"chain root (chain {PRIMARY})" in names

    # The audit checks each chain's anchors on that chain; without a node for the second
    # chain it says what it could not check instead of trusting the rows.
    ident = rt.ledger.identity
    extra = {SECOND: rt.anchorers[1].chain}
    auditor = Auditor(rt.engine, ident, ident.log_public_key, rt.chain, extra_chains=extra)
    assert auditor.run() == [] and auditor.unchecked == []
    blind = Auditor(rt.engine, ident, ident.log_public_key, rt.chain)
    assert blind.run() == []
    assert any(f"chain {SECOND}" in u for u in blind.unchecked), blind.unchecked


def test_one_chain_dies_receipts_still_verify_on_the_other_and_it_catches_up(
    rt: Runtime, own_chain: Anvil, second_chain: Anvil, tmp_path: Path
) -> None:
    client = TestClient(create_app(rt.ledger))
    inspector = register(client, rt, ("qa_inspector",))
    master_data(client, rt)
    before = fresh("BEFORE")
    assert client.post("/v1/records", json=sign(rt, inspection(before), inspector)).is_success
    anchored_on(client, before, PRIMARY, SECOND)
    trust = client.get("/v1/trust").json()

    second_chain.stop()  # the second chain goes away (its state kept)
    during = [fresh("DURING") for _ in range(3)]
    for rid in during:
        assert client.post("/v1/records", json=sign(rt, inspection(rid), inspector)).is_success
    r = anchored_on(client, during[-1], PRIMARY)
    assert [a["chain_id"] for a in r["anchors"]] == [PRIMARY]
    health = wait_for("degraded", lambda: (h := client.get("/healthz").json())["status"]
                      == "degraded" and h)
    assert any(x.startswith(f"anchorer:{SECOND}: ") for x in health["reasons"]), health
    assert health["workers"]["anchorer"]["ok"] is True  # the primary keeps anchoring

    # Verifiable on the live chain: the dead one is not needed for "any"...
    done = verify(tmp_path, r, trust, own_chain.rpc_url, second_chain.rpc_url)
    assert done.returncode == 0, done.stdout + done.stderr
    # ...and a receipt from before the outage, anchored on both, verifies on the live one.
    old = receipt(client, before)
    done = verify(tmp_path, old, trust, own_chain.rpc_url, second_chain.rpc_url)
    assert done.returncode == 0, done.stdout + done.stderr
    # An auditor who insists on both chains is told which anchor is missing.
    done = verify(tmp_path, r, {**trust, "require": "all"}, own_chain.rpc_url)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"chain {SECOND}" in done.stdout

    # The second chain returns: its backlog is anchored with one transaction.
    sizes_before = chain_anchors(rt).get(SECOND, [])
    second_chain.start()
    r = anchored_on(client, during[-1], PRIMARY, SECOND)
    sizes_after = chain_anchors(rt)[SECOND]
    assert len(sizes_after) == len(sizes_before) + 1, (sizes_before, sizes_after)
    wait_for("healthy", lambda: client.get("/healthz").json()["status"] == "ok")

    # Now the primary dies: the second chain alone anchors new records, verifiable there.
    own_chain.stop()
    after = fresh("AFTER")
    assert client.post("/v1/records", json=sign(rt, inspection(after), inspector)).is_success
    r = anchored_on(client, after, SECOND)
    assert [a["chain_id"] for a in r["anchors"]] == [SECOND]
    assert r["anchor"]["chain_id"] == SECOND  # the anchor at the receipt's size
    done = verify(tmp_path, r, trust, second_chain.rpc_url)
    assert done.returncode == 0, done.stdout + done.stderr
    # The default trust of a one-chain auditor (the primary only) is not met: said clearly.
    single = {k: trust[k] for k in ("format", "log_origin", "log_public_key", "chain_id",
                                    "contract")}
    done = verify(tmp_path, r, single, second_chain.rpc_url)
    assert done.returncode != 0 and f"chain {PRIMARY}" in done.stdout, done.stdout


def test_a_misconfigured_second_chain_is_refused_clearly(
    settings: Settings, database_url: str, own_chain: Anvil, second_chain: Anvil
) -> None:
    # The primary chain named again as an extra one: refused before anything starts.
    same = dataclasses.replace(settings, extra_chains=((PRIMARY, own_chain.rpc_url),))
    with pytest.raises(ConfigError, match="primary chain"):
        Runtime.open(same, database_url, own_chain.rpc_url)
    # A node that is on another chain than the one named: its anchorer refuses it and says
    # why; nothing is deployed there and the primary keeps anchoring.
    wrong = dataclasses.replace(settings, extra_chains=((4242, second_chain.rpc_url),))
    with running_ledger(wrong, database_url, own_chain) as rt:
        client = TestClient(create_app(rt.ledger))
        health = wait_for("degraded", lambda: (h := client.get("/healthz").json())["status"]
                          == "degraded" and h)
        reason = next(x for x in health["reasons"] if x.startswith("anchorer:4242: "))
        assert f"on chain {SECOND}" in reason, reason
        with rt.engine.connect() as conn:
            assert conn.execute(
                sa.select(LedgerMeta.key).where(LedgerMeta.key.like("chain/4242/%"))
            ).all() == []


@pytest.mark.parametrize(
    "value, message",
    [
        ("http://127.0.0.1:8546", "CHAIN_ID=URL"),
        ("0=http://127.0.0.1:8546", "CHAIN_ID=URL"),
        ("x=http://127.0.0.1:8546", "CHAIN_ID=URL"),
        ("5=ftp://host", "CHAIN_ID=URL"),
        ("5=http://a,5=http://b", "named twice"),
        (",".join(f"{i}=http://h{i}" for i in range(1, 11)), "at most"),
    ],
)
def test_extra_chains_setting_is_checked(
    monkeypatch: pytest.MonkeyPatch, value: str, message: str
) -> None:
    monkeypatch.setenv("EVLEDGER_EXTRA_CHAINS", value)
    with pytest.raises(ConfigError, match=message):
        Settings.from_env()


def test_extra_chains_setting_parses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVLEDGER_EXTRA_CHAINS", " 10=https://l2.example/rpc , 31338=http://h:1 ")
    assert Settings.from_env().extra_chains == (
        (10, "https://l2.example/rpc"),
        (31338, "http://h:1"),
    )
