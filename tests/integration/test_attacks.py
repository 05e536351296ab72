"""Tests as an attacker: a database superuser who disables the triggers
(``SET session_replication_role = replica``) edits, deletes, inserts and reorders evidence.
`evledger audit` must detect each change and name the record and the kind of damage."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from eth_account import Account
from evledger_verify.records import canonical_json

from ledger.audit import Auditor, Finding
from ledger.runtime import Runtime
from tests.helpers import admin, bearer, inspection, register, sign, wait_anchored

pytestmark = [pytest.mark.integration, pytest.mark.req("P11-10a-1")]


@dataclass
class Ledger:
    runtime: Runtime
    superuser: sa.Engine
    inspector_address: str

    def audit(self) -> list[Finding]:
        rt = self.runtime
        auditor = Auditor(rt.engine, rt.ledger.identity, rt.ledger.identity.log_public_key,
                          rt.chain)
        return auditor.run()

    def tamper(self, *statements: str, **params: object) -> None:
        """Run statements as a superuser with triggers and foreign keys switched off."""
        self.runtime.stop()  # the sealer would otherwise keep working on what we change
        with self.superuser.begin() as conn:
            conn.exec_driver_sql("SET session_replication_role = replica")
            for s in statements:
                conn.execute(sa.text(s), params)

    def body(self, record_id: str) -> dict[str, object]:
        with self.superuser.connect() as conn:
            raw = conn.execute(sa.text("SELECT body FROM records WHERE record_id = :r"),
                               {"r": record_id}).scalar_one()
        return dict(json.loads(bytes(raw)))


@pytest.fixture()
def ledger(client, runtime: Runtime, database_url: str, specs) -> Iterator[Ledger]:  # type: ignore[no-untyped-def]
    inspector = register(client, runtime, ("qa_inspector",), "Ivy Inspector")
    for i in range(4):
        body = sign(runtime, inspection(f"A-{i}", lot="LOT-A", value=3.0 + i / 100), inspector)
        assert client.post("/v1/records", json=body).status_code == 201
    for i in range(2):
        body = sign(runtime, inspection(f"B-{i}", lot="LOT-B"), inspector)
        assert client.post("/v1/records", json=body).status_code == 201
    for rid in ("A-3", "B-1"):
        wait_anchored(client, rid)
    engine = sa.create_engine(database_url)
    yield Ledger(runtime, engine, inspector.address)
    engine.dispose()


def kinds(findings: list[Finding]) -> set[tuple[str, str | None]]:
    return {(f.kind, f.record_id) for f in findings}


def test_untouched_ledger_has_no_findings(ledger: Ledger) -> None:
    assert ledger.audit() == []


def test_edited_body_field(ledger: Ledger) -> None:
    body = ledger.body("A-1")
    body["characteristics"][0]["value"] = 3.04  # type: ignore[index]
    ledger.tamper("UPDATE records SET body = :b WHERE record_id = 'A-1'",
                  b=canonical_json(body))
    assert ("record_altered", "A-1") in kinds(ledger.audit())


def test_edited_body_and_hash_together(ledger: Ledger) -> None:
    """Rewriting the record hash too only moves the mismatch to the logged entry."""
    import hashlib

    body = ledger.body("A-1")
    body["sample_size"] = 5
    raw = canonical_json(body)
    ledger.tamper("UPDATE records SET body = :b, record_hash = :h WHERE record_id = 'A-1'",
                  b=raw, h=hashlib.sha256(raw).digest())
    found = ledger.audit()
    assert ("entry_mismatch", "A-1") in kinds(found)
    assert any("record_hash" in f.detail for f in found)


@pytest.mark.parametrize("column", ["accepted_at", "signed_at"])
def test_edited_timestamp(ledger: Ledger, column: str) -> None:
    change = ("accepted_at - interval '3 days'" if column == "accepted_at"
              else "signed_at - 86400")
    ledger.tamper(f"UPDATE records SET {column} = {change} WHERE record_id = 'A-2'")
    found = ledger.audit()
    assert ("entry_mismatch", "A-2") in kinds(found)
    assert any(f.detail.startswith(column) for f in found)


def test_deleted_record(ledger: Ledger) -> None:
    ledger.tamper("DELETE FROM records WHERE record_id = 'A-1'")
    found = ledger.audit()
    missing = [f for f in found if f.kind == "missing_record"]
    assert missing and "A-2" in str(missing[0].record_id), found  # named via its lot successor
    assert ("lot_chain_broken", "A-2") in kinds(found)


def test_deleted_record_and_its_leaf(ledger: Ledger) -> None:
    """Deleting the leaf too leaves a gap in the log; closing the gap breaks the tree."""
    ledger.tamper(
        "DELETE FROM log_leaves WHERE seq = (SELECT seq FROM records WHERE record_id = 'A-1')",
        "DELETE FROM records WHERE record_id = 'A-1'",
    )
    found = ledger.audit()
    assert {"log_gap", "lot_chain_broken"} <= {f.kind for f in found}, found


def test_inserted_fabricated_record(ledger: Ledger) -> None:
    with ledger.superuser.connect() as conn:
        row = dict(conn.execute(sa.text("SELECT * FROM records WHERE record_id = 'A-0'"))
                   .mappings().one())
    row.pop("seq")
    row["record_id"] = "FAKE-1"
    ledger.tamper(
        "INSERT INTO records (record_id, record_type, lot, body, record_hash, signer, meaning, "
        "signed_at, signature, entry, leaf_hash, accepted_at) VALUES (:record_id, :record_type, "
        ":lot, :body, :record_hash, :signer, :meaning, :signed_at, :signature, :entry, "
        ":leaf_hash, :accepted_at)", **row)
    found = ledger.audit()
    assert ("unlogged_record", "FAKE-1") in kinds(found)
    assert ("entry_mismatch", "FAKE-1") in kinds(found)  # its entry names another record


def slip_in(ledger: Ledger, record: dict[str, object], signer: str,
            body: dict[str, object]) -> None:
    """As a superuser, store a signed record and queue it for sealing, bypassing the API."""
    from evledger_verify.records import Entry, record_hash

    rid, lot = str(record["record_id"]), str(record["lot"])
    entry = Entry(rid, "inspection", record_hash(record).hex(), lot, None, signer,
                  "authored", int(body["signed_at"]), str(body["signature"]),  # type: ignore[call-overload]
                  "00" * 32, "2026-01-01T00:00:00.000000Z")
    ledger.tamper(
        "INSERT INTO records (record_id, record_type, lot, body, record_hash, signer, meaning, "
        "signed_at, signature, entry, leaf_hash, accepted_at) VALUES (:rid, 'inspection', "
        ":lot, :body, :rh, :signer, 'authored', :t, :sig, :entry, :leaf, "
        "'2026-01-01T00:00:00Z')",
        "INSERT INTO seal_queue (seq) SELECT seq FROM records WHERE record_id = :rid",
        rid=rid, lot=lot, body=canonical_json(record), rh=record_hash(record), signer=signer,
        t=body["signed_at"], sig=body["signature"], entry=entry.canonical(),
        leaf=entry.leaf_hash(),
    )


def test_fabricated_record_slipped_into_the_seal_queue(ledger: Ledger) -> None:
    """Sealed and anchored like any record, it still fails: nobody authorized signed it."""
    forger = Account.create()
    record = inspection("FAKE-2", lot="LOT-B")
    rt = ledger.runtime
    body = sign(rt, record, forger)
    # The forger's own key signs correctly, but it is not a registered signer.
    from ledger.service import Submission

    with pytest.raises(Exception, match="not registered"):
        rt.ledger.submit(Submission(record, body["signature"], "authored", body["signed_at"]))
    slip_in(ledger, record, forger.address, body)
    rt.sealer.seal_once()
    found = ledger.audit()
    assert ("unauthorized_signer", "FAKE-2") in kinds(found)
    assert ("lot_chain_broken", "FAKE-2") in kinds(found)


def test_two_records_swapped(ledger: Ledger) -> None:
    ledger.tamper(
        "UPDATE log_leaves SET seq = -1 WHERE seq = (SELECT seq FROM records "
        "WHERE record_id = 'A-1')",
        "UPDATE log_leaves SET seq = (SELECT seq FROM records WHERE record_id = 'A-1') "
        "WHERE seq = (SELECT seq FROM records WHERE record_id = 'A-2')",
        "UPDATE log_leaves SET seq = (SELECT seq FROM records WHERE record_id = 'A-2') "
        "WHERE seq = -1",
    )
    found = kinds(ledger.audit())
    assert {("order_changed", "A-1"), ("order_changed", "A-2")} <= found


def test_edited_checkpoint_root(ledger: Ledger) -> None:
    ledger.tamper("UPDATE checkpoints SET root_hash = :r WHERE tree_size = "
                  "(SELECT max(tree_size) FROM checkpoints)", r=b"\x11" * 32)
    found = ledger.audit()
    assert any(f.kind == "checkpoint_altered" and "columns differ" in f.detail for f in found)


def test_edited_checkpoint_note(ledger: Ledger) -> None:
    with ledger.superuser.connect() as conn:
        size, note = conn.execute(sa.text(
            "SELECT tree_size, note FROM checkpoints ORDER BY tree_size LIMIT 1")).one()
    lines = note.split("\n")
    lines[2] = "ERERERERERERERERERERERERERERERERERERERERERE="  # another root, same signature
    ledger.tamper("UPDATE checkpoints SET note = :n WHERE tree_size = :s",
                  n="\n".join(lines), s=size)
    found = ledger.audit()
    assert any(f.kind == "checkpoint_altered" and f"size {size}:" in f.detail
               and "signature" in f.detail for f in found), found


def test_retroactively_changed_signer_role(ledger: Ledger) -> None:
    rid = f"signer-{ledger.inspector_address.lower()}"
    body = ledger.body(rid)
    body["roles"] = ["qa_inspector", "admin"]
    ledger.tamper("UPDATE records SET body = :b WHERE record_id = :r",
                  b=canonical_json(body), r=rid)
    found = ledger.audit()
    assert ("record_altered", rid) in kinds(found)
    assert any(f.kind == "projection_mismatch" for f in found)


def test_record_moved_to_another_lot(ledger: Ledger) -> None:
    ledger.tamper("UPDATE records SET lot = 'LOT-B' WHERE record_id = 'A-3'")
    found = ledger.audit()
    assert ("entry_mismatch", "A-3") in kinds(found)
    assert any(f.detail.startswith("lot:") for f in found)


def test_thorough_rewrite_is_caught_by_the_chain(ledger: Ledger) -> None:
    """An attacker with the database and the log key rewrites a record, its entry, leaf, the
    tree and every checkpoint consistently: the signature and the anchors still say no."""
    from evledger_verify.checkpoint import format_checkpoint_body, sign_note
    from evledger_verify.records import Entry, record_hash

    from ledger import tree
    from ledger.keys import ensure_log_key

    rt = ledger.runtime
    body = ledger.body("A-0")
    body["characteristics"][0]["value"] = 2.5  # type: ignore[index]
    with ledger.superuser.connect() as conn:
        old = json.loads(bytes(conn.execute(
            sa.text("SELECT entry FROM records WHERE record_id = 'A-0'")).scalar_one()))
        leaves = [bytes(h) for h in conn.execute(sa.text(
            "SELECT r.leaf_hash FROM log_leaves l JOIN records r ON r.seq = l.seq "
            "ORDER BY l.leaf_index")).scalars()]
        index = int(conn.execute(sa.text(
            "SELECT l.leaf_index FROM log_leaves l JOIN records r ON r.seq = l.seq "
            "WHERE r.record_id = 'A-0'")).scalar_one())
        sizes = list(conn.execute(sa.text("SELECT tree_size FROM checkpoints")).scalars())
    old.pop("format")
    entry = Entry(**{**old, "record_hash": record_hash(body).hex()})
    leaves[index] = entry.leaf_hash()
    nodes = tree.append_nodes(0, {}, leaves)
    key = ensure_log_key(rt.settings.keys_dir / "log.key")
    origin = rt.ledger.identity.log_origin

    statements = [
        "UPDATE records SET body = :body, record_hash = :rh, entry = :entry, leaf_hash = :leaf "
        "WHERE record_id = 'A-0'",
        "DELETE FROM tree_nodes",
        "DELETE FROM checkpoints",
    ]
    params: dict[str, object] = {"body": canonical_json(body), "rh": record_hash(body),
                                 "entry": entry.canonical(), "leaf": entry.leaf_hash()}
    for i, ((level, idx), h) in enumerate(nodes.items()):
        statements.append(f"INSERT INTO tree_nodes VALUES ({level}, {idx}, :n{i})")
        params[f"n{i}"] = h
    for size in sizes:
        root = tree.root(tree.MemoryStore(nodes), size)
        statements.append(
            f"INSERT INTO checkpoints VALUES ({size}, :r{size}, :c{size}, now())")
        params[f"r{size}"] = root
        params[f"c{size}"] = sign_note(format_checkpoint_body(origin, size, root), origin, key)
    ledger.tamper(*statements, **params)
    found = ledger.audit()
    assert ("bad_signature", "A-0") in kinds(found)
    assert any(f.kind == "anchor_mismatch" for f in found), found
    assert not any(f.kind in ("tree_altered", "checkpoint_altered", "leaf_mismatch")
                   for f in found), "the rewrite was consistent inside the database"


def test_admin_key_cannot_backdate_a_grant_past_the_audit(ledger: Ledger) -> None:
    """Sanity: a legitimately added signer after the fact is no finding."""
    rt = ledger.runtime
    late = Account.create()
    record = {"record_id": f"signer-{late.address.lower()}", "type": "signer", "schema": "signer/1",
              "action": "grant", "address": late.address, "name": "Late", "roles": ["auditor"]}
    from ledger.service import Submission

    b = sign(rt, record, admin(rt), "approved", int(time.time()))
    rt.ledger.submit(Submission(record, b["signature"], "approved", b["signed_at"]))
    rt.sealer.seal_once()
    assert ledger.audit() == []


def _audit_env(ledger: Ledger, database_url: str, anvil_url: str) -> dict[str, str]:
    import os

    return {**os.environ, "DATABASE_URL": database_url, "ETH_RPC_URL": anvil_url,
            "EVLEDGER_HOME": str(ledger.runtime.settings.home)}


def test_audit_command_exit_codes_and_alerts(
    ledger: Ledger, database_url: str, anvil, client  # type: ignore[no-untyped-def]
) -> None:
    import subprocess
    import sys
    from pathlib import Path

    from click.testing import CliRunner

    from api.cli import main

    env = _audit_env(ledger, database_url, anvil.rpc_url)
    runner = CliRunner(env=env)
    clean = runner.invoke(main, ["audit"])
    assert clean.exit_code == 0 and "0 finding(s)" in clean.output, clean.output
    trust = Path(ledger.runtime.settings.home) / "trust.json"
    trust.write_text(json.dumps(ledger.runtime.ledger.identity.trust()))
    assert runner.invoke(main, ["audit", "--trust", str(trust)]).exit_code == 0

    ledger.tamper("UPDATE records SET lot = 'LOT-B' WHERE record_id = 'A-3'")
    bad = runner.invoke(main, ["audit", "--json"])
    assert bad.exit_code == 1, bad.output
    found = json.loads(bad.output[bad.output.index("{"):])["findings"]
    assert {"kind": "entry_mismatch", "record_id": "A-3",
            "detail": "lot: logged 'LOT-A', row has 'LOT-B'"} in found

    # --every raises a signed alert record, visible as a metric.
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "evledger"), "audit", "--every", "30"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            if "raised alert record" in line:
                break
        else:
            raise AssertionError(proc.stdout.read() if proc.stdout else "no output")
    finally:
        proc.kill()
        proc.wait()
    # One alert on each lot the damaged record is in (the log's LOT-A and the row's LOT-B),
    # which blocks the lot until an NCR dispositions it, and one naming every finding.
    assert ledger.runtime.ledger.status()["audit_alerts"] == 3
    for lot in ("LOT-A", "LOT-B"):
        blockers = client.get(f"/v1/lots/{lot}", headers=bearer(ledger.runtime, admin(
            ledger.runtime))).json()["release_blockers"]
        assert any("evledger audit found" in b and f"in lot {lot}" in b for b in blockers), blockers
    nowhere = runner.invoke(main, ["audit"], env={"DATABASE_URL": "", "ETH_RPC_URL": "",
                                                  "EVLEDGER_HOME": "/nonexistent"})
    assert nowhere.exit_code == 2 and "no database or chain" in nowhere.output


def test_lot_status_rewritten_through_a_release_body(ledger: Ledger, client) -> None:  # type: ignore[no-untyped-def]
    """Turning a rejection into a release in the database changes what the service would
    serve; the audit names the record and the lot whose status no longer matches the log."""
    rt = ledger.runtime
    approver = register(client, rt, ("qa_approver",), "Ada Approver")
    rejection = {"record_id": "REL-A", "type": "release", "schema": "release/1", "lot": "LOT-A",
                 "product": {"gtin": "09506000134352"}, "decision": "rejected", "evidence": [],
                 "statement": "Rejected after review of the device history record."}
    assert client.post("/v1/records", json=sign(rt, rejection, approver, "released")).is_success
    wait_anchored(client, "REL-A")
    body = ledger.body("REL-A")
    body["decision"] = "released"
    ledger.tamper("UPDATE records SET body = :b WHERE record_id = 'REL-A'",
                  b=canonical_json(body))
    found = ledger.audit()
    assert ("record_altered", "REL-A") in kinds(found)
    assert any(f.kind == "projection_mismatch" and "lot LOT-A state" in f.detail
               and "'released'" in f.detail for f in found), found


def test_record_slipped_in_after_a_key_was_reported_compromised(
    ledger: Ledger, client  # type: ignore[no-untyped-def]
) -> None:
    """Backdated to when the key was still valid, but stored after the compromise report."""
    from ledger.service import Submission

    rt = ledger.runtime
    victim = register(client, rt, ("qa_inspector",), "Vic Victim")
    t = int(time.time())
    revoke = {"record_id": "revoke-victim", "type": "signer", "schema": "signer/1",
              "action": "revoke", "address": victim.address, "compromised": True}
    b = sign(rt, revoke, admin(rt), "approved", t + 2)
    rt.ledger.submit(Submission(revoke, b["signature"], "approved", b["signed_at"]))
    record = inspection("STOLEN-1", lot="LOT-B")
    body = sign(rt, record, victim, "authored", t + 1)
    slip_in(ledger, record, victim.address, body)
    rt.sealer.seal_once()
    found = ledger.audit()
    assert any(f.kind == "unauthorized_signer" and f.record_id == "STOLEN-1"
               and "reported compromised" in f.detail for f in found), found


def test_what_the_audit_cannot_check_is_exit_2_and_never_an_alert(
    ledger: Ledger, database_url: str, anvil  # type: ignore[no-untyped-def]
) -> None:
    """A chain outage is not damage: the anchors are reported as not checked (exit 2), and
    `--every` writes no alert into the log. A database that refuses us is exit 2 too, with a
    message, not a traceback."""
    import subprocess
    import sys
    from pathlib import Path

    from click.testing import CliRunner

    from api.cli import main
    from ledger.embedded import free_port

    dead_chain = f"http://127.0.0.1:{free_port()}"
    env = _audit_env(ledger, database_url, dead_chain)
    runner = CliRunner(env=env)
    out = runner.invoke(main, ["audit"])
    assert out.exit_code == 2, out.output
    assert "COULD NOT CHECK anchors" in out.output and "FINDING" not in out.output, out.output
    as_json = runner.invoke(main, ["audit", "--json"])
    body = json.loads(as_json.output[as_json.output.index("{"):])
    assert body["findings"] == [] and body["unchecked"], body
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "evledger"), "audit", "--every", "0.2"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        assert proc.stdout is not None
        rounds = 0
        for line in proc.stdout:
            assert "raised alert record" not in line, line
            rounds += line.startswith("audit: 0 finding(s)")
            if rounds == 3:
                break
    finally:
        proc.kill()
        proc.wait()
    assert ledger.runtime.ledger.status()["audit_alerts"] == 0
    no_db = {**env, "DATABASE_URL": f"postgresql+psycopg2://nobody@127.0.0.1:{free_port()}/x"}
    out = CliRunner(env=no_db).invoke(main, ["audit"])
    assert out.exit_code == 2, out.output
    assert "audit:" in out.output and "Traceback" not in out.output, out.output


@pytest.mark.parametrize(
    "where",
    [
        "level = 0 AND idx = 2",  # a leaf node from the middle
        "level = 0 AND idx = (SELECT max(idx) FROM tree_nodes WHERE level = 0)",  # the last
        "level = 1 AND idx = 0",  # an inner node
        "level = 2",  # a whole level
    ],
)
def test_deleted_tree_node_is_named(ledger: Ledger, where: str) -> None:
    """The audit checks that every node that should be stored is, not only the ones that are."""
    with ledger.superuser.connect() as conn:
        gone = conn.execute(sa.text(f"SELECT level, idx FROM tree_nodes WHERE {where}")).all()
    assert gone
    ledger.tamper(f"DELETE FROM tree_nodes WHERE {where}")
    found = [f for f in ledger.audit() if f.kind == "tree_altered"]
    for level, idx in gone:
        assert any(f"node level {level} index {idx} is missing" in f.detail for f in found), found


@pytest.mark.parametrize(
    "key, value, named",
    [
        ("deploy_block", "0", "deploy_block: the contract was deployed in block"),
        ("created_at", "2999-01-01T00:00:00+00:00", "created_at: 2999-01-01"),
        ("created_at", "yesterday", "created_at: not a time"),
        ("log_origin", "evledger/1/0x0000000000000000000000000000000000000000", "log_origin"),
        ("contract_code_keccak", "00" * 32, "contract_code_keccak: expected"),
    ],
)
def test_changed_ledger_meta_value_is_named(
    ledger: Ledger, key: str, value: str, named: str
) -> None:
    ledger.tamper("UPDATE ledger_meta SET value = :v WHERE key = :k", v=value, k=key)
    found = [f for f in ledger.audit() if f.kind == "identity_changed"]
    assert any(named in f.detail for f in found), found


def test_inserted_ledger_meta_key_is_named(ledger: Ledger) -> None:
    ledger.tamper("INSERT INTO ledger_meta (key, value) VALUES ('retention_days', '1')")
    found = [f for f in ledger.audit() if f.kind == "identity_changed"]
    assert any("ledger_meta retention_days: not a key" in f.detail for f in found), found


def test_an_audit_of_a_live_ledger_is_not_fooled_by_anchors_made_while_it_runs(
    ledger: Ledger, client  # type: ignore[no-untyped-def]
) -> None:
    """The audit reads one database snapshot; the service keeps sealing and anchoring. An
    anchor made after the snapshot (here: in the middle of the run, between reading the
    checkpoints and the anchors) must not look like a truncated log."""
    rt = ledger.runtime
    inspector = register(client, rt, ("qa_inspector",), "Late Inspector")

    class MidRun(Auditor):
        def _checkpoints(self, conn: sa.Connection, levels: list[list[bytes]]) -> None:
            super()._checkpoints(conn, levels)
            body = sign(rt, inspection("LATE-1", lot="LOT-L"), inspector)
            assert client.post("/v1/records", json=body).status_code == 201
            wait_anchored(client, "LATE-1")  # the chain is now ahead of the snapshot

    auditor = MidRun(rt.engine, rt.ledger.identity, rt.ledger.identity.log_public_key, rt.chain)
    assert auditor.run() == [], auditor.findings
    assert auditor.unchecked == []
