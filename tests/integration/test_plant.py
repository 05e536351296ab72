"""A small plant built through real scanners: `evledger ingest scanner` processes reading real
pseudo-terminals (one per station) and sending to the real service over HTTP.

DOCK receives 3 material lots from 2 suppliers (two under a lot of our own, aliasing the
supplier's lot on the label); MOLD-1 and MOLD-2 each have a produce scanner and a consume
scanner (MOLD-1 consumes into the lot it last produced, MOLD-2 into the lot it is given); PACK
opens a pallet with its SSCC label and packs both product lots onto it; SHIP ships the whole
pallet by its SSCC and two lots by their labels: 4 shipments to 3 consignees. Lines are GS1-128
and GS1 DataMatrix with AI 01, 10, 30 / 37 and SSCC labels (AI 00).

Then, through HTTP: both products traced back to their materials and suppliers by the consume
scans that prove each link, a material traced forward, the recall scope of a lot and of each
supplier (lots, shipments with quantities and units, consignees); `evledger recall` on a
material lot: its FSMA 204 spreadsheet, the signed recall record it logs and `evledger
recall-check` confirming it; the projection rebuilt from the log equals the served one; and a
scan edited in the database is named by the audit.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import tty
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from evledger_verify import jcs
from evledger_verify.records import canonical_json
from fastapi.testclient import TestClient

from api.cli import RECALL_CSV_COLUMNS, main
from ledger.audit import Auditor
from ledger.domain.genealogy import Genealogy
from ledger.domain.schemas import gtin_check_digit
from ledger.genealogy import stored_links
from ledger.models import LogLeaf, Record
from ledger.runtime import Runtime
from tests.helpers import bearer, register

pytestmark = [pytest.mark.integration, pytest.mark.req("FLOOR-8", "ISO-7.5.9-1")]

#: `evledger` as the shop-floor distribution installs it (ingest.cli without the server's
#: commands, which the server's `evledger` adds): a third of the start-up time.
SHOP_FLOOR_EVLEDGER = (
    sys.executable,
    "-c",
    "from ingest.cli import main; main(prog_name='evledger')",
)
GS = "\x1d"


def gs1_number(body: str) -> str:
    return body + str(gtin_check_digit(body))


RESIN, STEEL, PRODUCT = (gs1_number(f"095060001343{n}") for n in "012")
PALLET = gs1_number("00950600010000001")
#: The pallet's logistic label: SSCC, the contents' GTIN (AI 02) and count (AI 37).
PALLET_LABEL = f"]C100{PALLET}02{PRODUCT}37150"


class Pty:
    """A station's scanner port: a pseudo-terminal in raw mode; the test types into it."""

    def __init__(self) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.path = os.ttyname(self.slave)

    def scan(self, *lines: str) -> None:
        for line in lines:
            os.write(self.master, line.encode("latin-1") + b"\n")

    def close(self) -> None:
        os.close(self.master)
        os.close(self.slave)


class Scanner:
    """`evledger ingest scanner` for one station, in a process of its own."""

    def __init__(self, plant: Plant, pty: Pty, station: str, operation: str, *extra: str) -> None:
        self.name = f"{station}-{operation}"
        self.log = plant.work / f"{self.name}-{time.monotonic_ns()}.log"
        args = [
            *SHOP_FLOOR_EVLEDGER, "ingest", "scanner", "--port", pty.path, "--eol", "lf",
            "--station", station, "--operation", operation, "--key", str(plant.keys[station]),
            "--api", plant.api_url, "--trust", str(plant.trust),
            "--outbox", str(plant.work / f"{self.name}.outbox"), "--metrics-port", "0", *extra,
        ]  # fmt: skip
        with open(self.log, "wb") as out:
            self.process = subprocess.Popen(
                args, cwd=plant.work, stdout=out, stderr=subprocess.STDOUT
            )
        plant.processes.append(self.process)

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def ready(self) -> Scanner:
        self.wait(lambda: "port.open" in self.text(), "its port to open")
        return self

    def wait(self, check: Callable[[], bool], what: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            assert self.process.poll() is None, self.text()
            assert time.monotonic() < deadline, f"{self.name}: no {what} in:\n{self.text()}"
            time.sleep(0.05)

    def metric(self, sample: str) -> int:
        """A sample of this process's metrics (0 before it is exported)."""
        match = re.search(r"metrics: (http://\S+)", self.text())
        if match is None:
            return 0
        text = httpx.get(match.group(1), timeout=5).text
        value = re.search(rf"^{re.escape(sample)} (\S+)$", text, re.M)
        return int(float(value.group(1))) if value else 0

    def counts(self) -> tuple[int, int]:
        """(records the ledger accepted, bad scans) since this process started."""
        return (
            self.metric('evledger_ingest_sent_total{outcome="accepted"}'),
            self.metric("evledger_ingest_bad_scans_total"),
        )

    def delivered(self, accepted: int, bad: int = 0) -> None:
        """Wait until the ledger has accepted ``accepted`` records from this process and it
        has counted ``bad`` bad scans."""
        self.wait(lambda: self.counts() == (accepted, bad), f"{accepted} accepted, {bad} bad")

    def stop(self) -> str:
        self.process.send_signal(signal.SIGTERM)
        assert self.process.wait(timeout=30) == 0, self.text()
        return self.text()


class Plant:
    """Stations with device keys of their own, the ledger's trust file, the service's URL."""

    STATIONS = ("DOCK", "MOLD-1", "MOLD-2", "PACK", "SHIP")

    def __init__(self, client: TestClient, runtime: Runtime, api_url: str, work: Path) -> None:
        self.runtime, self.api_url, self.work = runtime, api_url, work
        self.processes: list[subprocess.Popen[bytes]] = []
        self.keys: dict[str, Path] = {}
        self.signers: dict[str, str] = {}
        for station in self.STATIONS:
            device = register(client, runtime, ("device",), name=f"{station} scanners")
            self.keys[station] = work / f"{station}.key"
            self.keys[station].write_text("0x" + bytes(device.key).hex() + "\n")
            self.keys[station].chmod(0o600)
            self.signers[station] = device.address
        self.trust = work / "trust.json"
        self.trust.write_text(json.dumps(runtime.ledger.identity.trust()))
        qa = register(client, runtime, ("qa_approver",), name="QA Approver")
        self.qa_address = qa.address
        self.qa_key = work / "qa.key"
        self.qa_key.write_text(bytes(qa.key).hex() + "\n")
        self.qa_key.chmod(0o600)
        self.http = httpx.Client(base_url=api_url, headers=bearer(runtime, qa), timeout=10)

    def scanner(self, pty: Pty, station: str, operation: str, *extra: str) -> Scanner:
        return Scanner(self, pty, station, operation, *extra)

    def get(self, path: str, **params: Any) -> Any:
        resp = self.http.get(path, params=params)
        assert resp.status_code == 200, resp.text
        return resp.json()

    def record(self, record_id: str) -> dict[str, Any]:
        """A record as the ledger serves it: its body, who signed it and how."""
        view: dict[str, Any] = self.get(f"/v1/records/{record_id}")
        return view

    def settle(self, timeout: float = 30) -> None:
        """Wait until every record is sealed and the genealogy has read the whole log."""
        deadline = time.monotonic() + timeout
        while True:
            status = self.get("/v1/status")
            if not status["pending_seal"] and status["genealogy_projected"] == status["records"]:
                return
            assert time.monotonic() < deadline, status
            time.sleep(0.05)

    def reap(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=10)
        self.http.close()


def build(p: Plant, ports: dict[str, Pty]) -> None:
    dock = ports["DOCK"]
    # The lines that run all along start while the dock receives.
    mold1 = p.scanner(ports["MOLD-1"], "MOLD-1", "produce")
    mold1_in = p.scanner(ports["MOLD-1 consume"], "MOLD-1", "consume", "--unit", "EA")
    mold2 = p.scanner(ports["MOLD-2"], "MOLD-2", "produce")
    mold2_in = p.scanner(ports["MOLD-2 consume"], "MOLD-2", "consume", "--lot", "P-2",
                         "--unit", "BG")  # fmt: skip
    pack = p.scanner(ports["PACK"], "PACK", "pack", "--unit", "EA")

    # DOCK: one delivery at a time (supplier and our lot are the station's settings).
    deliveries = [
        (("--supplier", "Polymer GmbH", "--lot", "RM-A", "--unit", "BG"),
         f"]d201{RESIN}3020{GS}10SUP-A1"),
        (("--supplier", "Steel AG", "--unit", "EA"), f"]C101{STEEL}10RM-B{GS}30200"),
        (("--supplier", "Polymer GmbH", "--lot", "RM-C", "--unit", "BG"),
         f"]C101{RESIN}10SUP-C7{GS}3012"),
    ]  # fmt: skip
    for settings, line in deliveries:
        receiving = p.scanner(dock, "DOCK", "receive", *settings).ready()
        dock.scan(line)
        receiving.delivered(1)
        receiving.stop()

    # MOLD-1 and MOLD-2 start their lots; each consume comes after its station's produce.
    for scanner in (mold1, mold1_in, mold2, mold2_in, pack):
        scanner.ready()
    ports["MOLD-1"].scan(f"]C101{PRODUCT}10P-1")
    ports["MOLD-2"].scan(f"]d201{PRODUCT}10P-2")
    mold1.delivered(1)
    mold2.delivered(1)
    ports["MOLD-1 consume"].scan(
        f"]d201{RESIN}302{GS}10SUP-A1",  # the supplier's lot, as labelled: received as RM-A
        f"]E0{STEEL[1:]}",  # a material without its lot: a bad scan, never a record
        f"]C101{STEEL}10RM-B{GS}30120",
    )
    ports["MOLD-2 consume"].scan(f"]C101{RESIN}10SUP-C7{GS}301")
    mold1_in.delivered(2, bad=1)
    mold2_in.delivered(1)
    for scanner in (mold1, mold2, mold2_in):
        assert "scan.bad" not in scanner.stop()
    assert "consume: expected the material's lot (AI 10) on the label" in mold1_in.stop()

    # PACK: a lot before any pallet label is refused; the label opens the pallet. A restart
    # forgets the pallet: the label is scanned again.
    p1_case, p2_case = f"]C101{PRODUCT}10P-1{GS}37100", f"]d201{PRODUCT}3750{GS}10P-2"
    ports["PACK"].scan(p1_case, PALLET_LABEL, p1_case)
    pack.delivered(1, bad=1)
    assert pack.metric("evledger_ingest_pallet_labels") == 1
    assert f"open_pallet={PALLET}" in pack.stop()
    pack = p.scanner(ports["PACK"], "PACK", "pack", "--unit", "EA").ready()
    ports["PACK"].scan(p2_case, PALLET_LABEL, p2_case)
    pack.delivered(1, bad=1)
    log = pack.stop()
    assert log.count("pack: scan the pallet's SSCC label first") == 1, log

    # SHIP: the whole pallet by its SSCC label (after its packs are in the log), then two lots.
    shipments = [
        (("--consignee", "Hospital North"), PALLET_LABEL),
        (("--consignee", "Clinic East", "--unit", "EA"), f"]C101{PRODUCT}10P-1{GS}3020"),
        (("--consignee", "Distributor West", "--unit", "EA"), f"]d201{PRODUCT}3010{GS}10P-2"),
    ]
    for settings, line in shipments:
        shipping = p.scanner(ports["SHIP"], "SHIP", "ship", *settings).ready()
        ports["SHIP"].scan(line)
        shipping.delivered(1)
        shipping.stop()


def scan_of(plant: Plant, record_id: str, station: str, operation: str) -> dict[str, Any]:
    """The scan ``record_id`` as served, checked to be a scan of ``station`` and ``operation``
    signed by that station's device key (a record the ingester made, not any record)."""
    view = plant.record(record_id)
    body: dict[str, Any] = view["current"]
    assert record_id.startswith(f"scan-{station}-"), record_id
    assert (body["type"], body["station"], body["operation"]) == ("scan", station, operation)
    assert view["signature"]["signer"].lower() == plant.signers[station].lower()
    assert view["signature"]["meaning"] == "recorded"
    assert not view["changed_since_first_entry"]
    return body


def check_backward_traces_reach_the_suppliers_through_the_consume_scans(plant: Plant) -> None:
    t = plant.get("/v1/lots/P-1/trace", direction="backward")
    assert [(n["lot"], n["depth"]) for n in t["nodes"]] == [("P-1", 0), ("RM-A", 1), ("RM-B", 1)]
    assert [(e["from"], e["to"], len(e["record_ids"])) for e in t["edges"]] == [
        ("RM-A", "P-1", 1),
        ("RM-B", "P-1", 1),
    ]
    resin, steel = (scan_of(plant, e["record_ids"][0], "MOLD-1", "consume") for e in t["edges"])
    # The consume scans name the material as labelled; the lot they went into is the one the
    # station last produced (the scans carry no lot).
    assert (resin["gs1"]["lot"], resin["quantity"], resin["unit"]) == ("SUP-A1", 2, "EA")
    assert (steel["gs1"]["lot"], steel["gs1"]["gtin"]) == ("RM-B", STEEL)
    assert "lot" not in resin and "lot" not in steel
    nodes = {n["lot"]: n for n in t["nodes"]}
    assert nodes["P-1"]["gtin"] == PRODUCT and nodes["RM-B"]["gtin"] == STEEL
    for lot, supplier, labelled in (
        ("RM-A", "Polymer GmbH", "SUP-A1"),
        ("RM-B", "Steel AG", "RM-B"),
    ):
        [received] = nodes[lot]["suppliers"]
        assert received["supplier"] == supplier
        body = scan_of(plant, received["record_id"], "DOCK", "receive")
        assert (body["lot"], body["gs1"]["lot"], body["supplier"]) == (lot, labelled, supplier)
    assert t["truncated"] is None and t["cycles"] == []

    t = plant.get("/v1/lots/P-2/trace", direction="backward")
    assert [n["lot"] for n in t["nodes"]] == ["P-2", "RM-C"]
    [edge] = t["edges"]
    body = scan_of(plant, edge["record_ids"][0], "MOLD-2", "consume")
    assert (body["lot"], body["gs1"]["lot"], body["unit"]) == ("P-2", "SUP-C7", "BG")  # --lot P-2
    assert t["nodes"][1]["suppliers"][0]["supplier"] == "Polymer GmbH"


def check_forward_trace_and_recall_scopes_reach_every_consignee(plant: Plant) -> None:
    t = plant.get("/v1/lots/RM-A/trace", direction="forward")
    assert [n["lot"] for n in t["nodes"]] == ["RM-A", "P-1"]
    p1 = t["nodes"][1]
    assert [(s["consignee"], s["quantity"], s["unit"], s["pallet"]) for s in p1["shipments"]] == [
        ("Hospital North", 100.0, "EA", PALLET),  # shipped whole, with what was packed
        ("Clinic East", 20.0, "EA", None),
    ]
    assert [pallet["sscc"] for pallet in p1["pallets"]] == [PALLET]
    pallet_ship = scan_of(plant, p1["shipments"][0]["record_id"], "SHIP", "ship")
    assert pallet_ship["gs1"] == {"sscc": PALLET} and "lot" not in pallet_ship
    scan_of(plant, p1["pallets"][0]["record_id"], "PACK", "pack")

    served = plant.get("/v1/lots/RM-A/recall")
    scope = served["scope"]
    assert hashlib.sha256(jcs.canonicalize(scope)).hexdigest() == served["scope_sha256"]
    assert [lot["lot"] for lot in scope["lots"]] == ["P-1", "RM-A"]
    assert scope["consignees"] == ["Clinic East", "Hospital North"]

    polymer = plant.get(f"/v1/suppliers/{quote('Polymer GmbH')}/recall")["scope"]
    assert polymer["origin_lots"] == ["RM-A", "RM-C"]
    assert [(lot["lot"], lot["depth"]) for lot in polymer["lots"]] == [
        ("P-1", 1), ("P-2", 1), ("RM-A", 0), ("RM-C", 0),
    ]  # fmt: skip
    assert [
        (s["lot"], s["consignee"], s["quantity"], s["unit"], s["pallet"], s["gtin"])
        for s in polymer["shipments"]
    ] == [
        ("P-1", "Clinic East", 20.0, "EA", None, PRODUCT),
        ("P-1", "Hospital North", 100.0, "EA", PALLET, PRODUCT),
        ("P-2", "Distributor West", 10.0, "EA", None, PRODUCT),
        ("P-2", "Hospital North", 50.0, "EA", PALLET, PRODUCT),
    ]
    assert polymer["consignees"] == ["Clinic East", "Distributor West", "Hospital North"]
    for s in polymer["shipments"]:
        scan_of(plant, s["record_id"], "SHIP", "ship")

    steel = plant.get("/v1/suppliers/Steel%20AG/recall")["scope"]
    assert steel["origin_lots"] == ["RM-B"]
    assert {s["consignee"] for s in steel["shipments"]} == {"Clinic East", "Hospital North"}


def check_a_recall_writes_the_spreadsheet_and_logs_its_scope(plant: Plant) -> None:
    """`evledger recall --lot RM-A` (in this process: the CLI over HTTP, as a user runs it):
    the FSMA 204 rows of P-1's shipments, sorted; the signed recall/1 record naming RM-A and
    the scope's hash; `evledger recall-check` confirms the saved scope against the log."""
    cli = CliRunner(env={"EVLEDGER_API_URL": plant.api_url,
                         "EVLEDGER_HOME": str(plant.runtime.settings.home)})  # fmt: skip
    sheet = plant.work / "recall.csv"
    r = cli.invoke(main, ["recall", "--lot", "RM-A", "--key", str(plant.qa_key), "--reason",
                          "Resin lot RM-A contaminated", "--recall-id", "RC-PLANT",
                          "--csv", str(sheet), "--json", "-"])  # fmt: skip
    assert r.exit_code == 0, r.output
    saved, end = json.JSONDecoder().raw_decode(r.stdout)
    assert r.stdout[end:].lstrip().startswith("recall RC-PLANT: 2 lots, 2 shipments to 2 ")
    scope, digest = saved["scope"], saved["scope_sha256"]
    assert hashlib.sha256(jcs.canonicalize(scope)).hexdigest() == digest

    with open(sheet, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert tuple(rows[0]) == RECALL_CSV_COLUMNS
    keys = [(r["traceability_lot_code"], r["event"], r["event_date"]) for r in rows]
    assert keys == sorted(keys)
    assert [(r["traceability_lot_code"], r["event"]) for r in rows] == [
        ("P-1", "shipping"), ("P-1", "shipping"), ("P-1", "transformation"),
        ("RM-A", "receiving"),
    ]  # fmt: skip
    shipping = rows[:2]
    assert sorted(
        (r["location"], r["product_gtin"], r["quantity"], r["unit_of_measure"], r["reached_from"])
        for r in shipping
    ) == [
        ("Clinic East", PRODUCT, "20", "EA", ""),
        ("Hospital North", PRODUCT, "100", "EA", f"pallet {PALLET}"),  # shipped on the pallet
    ]
    served = {s["record_id"]: s for s in scope["shipments"]}
    for row in shipping:
        body = scan_of(plant, row["reference_records"], "SHIP", "ship")
        assert row["event_date"] and row["event_date"] == served[row["reference_records"]]["date"]
        assert row["product_description"] == (served[row["reference_records"]]["product"] or "")
        assert body["consignee"] == row["location"]
    [made] = [r for r in rows if r["event"] == "transformation"]
    consumed = scan_of(plant, made["reference_records"], "MOLD-1", "consume")
    assert consumed["gs1"]["lot"] == "SUP-A1"  # the label's lot, received as RM-A
    assert rows[-1]["product_gtin"] == RESIN
    # the origin lot's receipt: from its supplier, when, how much, by which scan
    received = rows[-1]
    dock = scan_of(plant, received["reference_records"], "DOCK", "receive")
    assert (received["location"], received["reached_from"]) == (
        dock["supplier"], f"supplier {dock['supplier']}")
    assert received["event_date"] and received["quantity"] and received["unit_of_measure"]

    view = plant.record("recall-RC-PLANT")
    logged = view["current"]
    assert logged == saved["record"]
    assert (logged["schema"], logged["lot"], logged["scope_sha256"]) == ("recall/1", "RM-A", digest)
    assert (logged["drill"], logged["lots"], logged["shipments"]) == (False, 2, 2)
    assert view["signature"]["signer"].lower() == plant.qa_address.lower()
    assert view["signature"]["meaning"] == "approved"

    saved_file = plant.work / "recall.json"
    saved_file.write_text(json.dumps(saved))
    r = cli.invoke(main, ["recall-check", str(saved_file), "--key", str(plant.qa_key)])
    assert r.exit_code == 0, r.output
    assert r.output.count("ok  ") == 3 and "FAIL" not in r.output, r.output


def check_the_projection_rebuilt_from_the_log_equals_the_served_one(plant: Plant) -> None:
    rt = plant.runtime
    with rt.engine.connect() as conn:
        served = [link.key() for _, _, link in stored_links(conn)]
        bodies = conn.execute(
            sa.select(Record.body)
            .join(LogLeaf, LogLeaf.seq == Record.seq)
            .order_by(LogLeaf.leaf_index)
        ).scalars()
        rebuilt = Genealogy()
        for body in bodies:
            rebuilt.add(json.loads(bytes(body)))
    assert [link.key() for link in rebuilt.links] == served
    kinds = [key[1] for key in served]
    assert {k: kinds.count(k) for k in set(kinds)} == {
        "receive": 3, "produce": 2, "input": 3, "pack": 2, "ship": 4,
    }  # fmt: skip
    rt.projector.rebuild()
    with rt.engine.connect() as conn:
        assert [link.key() for _, _, link in stored_links(conn)] == served


def check_an_edited_scan_is_named_by_the_audit(plant: Plant, database_url: str) -> None:
    """A superuser rewrites a consume scan so that P-1 seems made from RM-C, not RM-A."""
    rt = plant.runtime
    auditor = Auditor(rt.engine, rt.ledger.identity, rt.ledger.identity.log_public_key, rt.chain)
    assert auditor.run() == []
    [edge] = [e for e in plant.get("/v1/lots/P-1/trace", direction="backward")["edges"]
              if e["from"] == "RM-A"]  # fmt: skip
    victim = edge["record_ids"][0]
    rt.stop()  # the workers would otherwise keep working on what is changed
    superuser = sa.create_engine(database_url)
    try:
        with superuser.begin() as conn:
            body = json.loads(bytes(conn.execute(
                sa.text("SELECT body FROM records WHERE record_id = :r"), {"r": victim}
            ).scalar_one()))  # fmt: skip
            assert body["gs1"]["lot"] == "SUP-A1"
            body["gs1"]["lot"] = "SUP-C7"
            conn.exec_driver_sql("SET session_replication_role = replica")
            conn.execute(sa.text("UPDATE records SET body = :b WHERE record_id = :r"),
                         {"b": canonical_json(body), "r": victim})  # fmt: skip
    finally:
        superuser.dispose()
    found = auditor.run()
    # The body no longer hashes to what was logged, and the link the table holds (RM-A into
    # P-1) is not the one the edited log now proves: both findings name the scan.
    assert {(f.kind, f.record_id) for f in found} == {
        ("record_altered", victim),
        ("genealogy_mismatch", victim),
    }, found
    assert any("input P-1 / RM-C" in f.detail for f in found), found


def test_a_plant_built_through_real_scanners(
    client: TestClient, runtime: Runtime, api_url: str, database_url: str, tmp_path: Path
) -> None:
    plant = Plant(client, runtime, api_url, tmp_path)
    ports = {station: Pty() for station in Plant.STATIONS}
    ports["MOLD-1 consume"], ports["MOLD-2 consume"] = Pty(), Pty()
    try:
        build(plant, ports)
        plant.settle()
        check_backward_traces_reach_the_suppliers_through_the_consume_scans(plant)
        check_forward_trace_and_recall_scopes_reach_every_consignee(plant)
        check_a_recall_writes_the_spreadsheet_and_logs_its_scope(plant)
        check_the_projection_rebuilt_from_the_log_equals_the_served_one(plant)
        check_an_edited_scan_is_named_by_the_audit(plant, database_url)  # last: it stops the ledger
    finally:
        plant.reap()
        for pty in ports.values():
            pty.close()
    assert all(process.poll() is not None for process in plant.processes)
