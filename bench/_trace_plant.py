"""A plant's scan events for the trace benchmark, generated deterministically from a seed.

What happens in the plant (defaults: 100,000 lots and 1,000,000 scans over 20 days):

- **Goods in.** 200 suppliers deliver 400 materials (two each); every material lot is received
  once at the goods-in dock (``receive``: the supplier's GS1 label, relabelled as a ledger lot
  ``RM-nnnnnn``) before its first use. Material lots are 20% of the lots.
- **Production.** 50 stations make the other 80% in three tiers: subassembly A stations (5%
  of the product lots) use materials only; subassembly B stations (7.5%) also use an A lot;
  finished-goods stations (87.5%) also use a B lot, half of them. A station scans ``produce``
  when it starts a lot, then ``consume`` scans for what goes in (no lot on them: the
  projection puts them into the station's current lot). Each input slot of a station uses its
  current material lot until it is used up, then the next one (of one of two or three approved
  materials: dual sourcing). Most material lots go into 1-100 product lots; bulk material (a resin
  silo shared by four finished-goods stations, one each for the subassembly tiers) lasts about
  ``fanout`` product lots (``fanout / 5`` in the subassembly tiers, whose lots then go into
  many more): those are the recalls that touch about 1,000 lots, or a few thousand through
  the tiers. Subassembly lots go into later lots first in, first out.
- **Docks.** Four docks pack finished lots onto pallets (SSCC; 1-2 pack scans a lot, 3-7
  packs a pallet) and ship whole pallets by their SSCC to about 2,000 consignees (a few large
  distributors take most); a tenth of the lots are also shipped as a lot.
- **Scans.** Whatever the scan budget leaves after receive, produce, pack and ship goes to
  ``consume`` scans: an input used by a lot is scanned once or more (one scan a container).

The generator also keeps the graph it made (:attr:`Plant.inputs`), so the benchmark can say how
many lots a trace or a recall should reach, and report the fan-out it generated.
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from bench._records import gtin

__all__ = ["Event", "Plant", "Shape", "histogram"]

#: The plant's first day (scans carry their simulated time; signatures carry the real one).
EPOCH = datetime(2026, 1, 5, 6, 0, tzinfo=UTC)
#: Histogram buckets (upper bounds, inclusive) for fan-out and recall sizes.
BUCKETS = (1, 5, 20, 100, 500, 899, 1100, 3000, 10**9)


@dataclass(frozen=True)
class Shape:
    scans: int = 1_000_000
    lots: int = 100_000
    suppliers: int = 200
    stations: int = 50
    consignees: int = 2000
    fanout: int = 1000
    docks: int = 4
    days: int = 20
    seed: int = 9162


class Event(NamedTuple):
    """One scan. ``stream`` is who scans it (a station, a dock, goods in): one stream's scans
    reach the log in order, which the station context and pallet shipments need."""

    t: float  # days since EPOCH
    seq: int
    stream: int
    station: str
    op: str
    gtin: str | None
    scanned: str | None  # the GS1 AI (10) lot read
    lot: str | None  # the ledger lot the scan belongs to
    party: str | None  # supplier (receive) or consignee (ship)
    pallet: str | None  # pack: the pallet; ship of a pallet: its SSCC
    quantity: float | None
    unit: str | None

    def record(self) -> dict[str, Any]:
        """The ``scan/1`` record (ledger/domain/schemas.py ``Scan``)."""
        when = EPOCH + timedelta(days=self.t)
        if self.op == "ship" and self.gtin is None:
            gs1: dict[str, Any] = {"sscc": self.pallet}
        else:
            gs1 = {"gtin": self.gtin, "lot": self.scanned}
        rec: dict[str, Any] = {
            "record_id": f"scan-{self.seq:07d}",
            "type": "scan",
            "schema": "scan/1",
            "station": self.station,
            "operation": self.op,
            "gs1": gs1,
            "scanned_at": when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z",
        }
        if self.lot is not None:
            rec["lot"] = self.lot
        if self.op == "receive":
            rec["supplier"] = self.party
        elif self.op == "ship":
            rec["consignee"] = self.party
        elif self.op == "pack":
            rec["pallet"] = self.pallet
        if self.quantity is not None:
            rec["quantity"] = self.quantity
            rec["unit"] = self.unit
        return rec


@dataclass
class _Material:
    lot: str
    material: int
    label: str
    first_use: float


@dataclass
class _Slot:
    """An input of a station (or of a group of stations sharing a silo): the material lot in
    use and how many more product lots it serves."""

    alternates: list[int]  # material numbers
    bulk: bool
    size: float  # mean product lots a material lot serves
    current: _Material | None = None
    left: int = 0


@dataclass
class Plant:
    shape: Shape
    #: Per day: the receive scans (sent first), then everything else, in time order.
    days: list[tuple[list[Event], list[Event]]]
    #: Stream number -> name, and stream numbers of goods in (receive scans).
    streams: dict[int, str]
    #: Product lot -> the distinct lots that went into it.
    inputs: dict[str, list[str]]
    material_lots: list[str]
    product_lots: list[str]
    #: Lot tier: "material", "A", "B", "finished".
    tier: dict[str, str]
    supplier_of: dict[str, str]  # material lot -> supplier
    suppliers: list[str]
    ship_links: Counter[str]  # lot -> shipment links it will have (pallet and direct)
    counts: Counter[str]  # scans by operation
    consignees_used: int
    pallets: int
    consumers: dict[str, list[str]] = field(default_factory=dict)
    _reach: dict[str, set[str]] = field(default_factory=dict)

    @property
    def scans(self) -> int:
        return sum(self.counts.values())

    def forward(self, origins: list[str]) -> set[str]:
        """Every lot reached forward from ``origins`` (the origins included)."""
        if not self.consumers:
            rev: dict[str, list[str]] = defaultdict(list)
            for lot, ins in self.inputs.items():
                for i in ins:
                    rev[i].append(lot)
            self.consumers = dict(rev)
        seen = set(origins)
        todo = list(origins)
        while todo:
            for nxt in self.consumers.get(todo.pop(), ()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    def reach(self, lot: str) -> set[str]:
        """:meth:`forward` from one lot, kept (the recall scope of ``lot`` has these lots)."""
        found = self._reach.get(lot)
        if found is None:
            found = self._reach[lot] = self.forward([lot])
        return found

    def describe(self) -> dict[str, Any]:
        """What was generated, with the fan-out of the material lots (direct consumers, and
        lots reached forward: a recall's size) and the size of backward traces."""
        reach = [len(self.reach(m)) for m in self.material_lots]
        return {
            "scans": self.scans,
            "scans_by_operation": dict(self.counts),
            "lots": len(self.tier),
            "lots_by_tier": dict(Counter(self.tier.values())),
            "suppliers": len(self.suppliers),
            "stations": len(self.streams) - 1 - self.shape.docks,
            "pallets": self.pallets,
            "consignees_shipped_to": self.consignees_used,
            "input_links": sum(len(v) for v in self.inputs.values()),
            "material_direct_fanout": histogram(
                [len(self.consumers.get(m, ())) for m in self.material_lots]
            ),
            "material_recall_lots": histogram(reach),
            "material_recall_lots_max": max(reach, default=0),
            "backward_lots": histogram([len(self.backward(x)) for x in self.product_lots[::10]]),
        }

    def backward(self, lot: str) -> set[str]:
        seen = {lot}
        todo = [lot]
        while todo:
            for nxt in self.inputs.get(todo.pop(), ()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    def shipments(self, lots: set[str]) -> int:
        return sum(self.ship_links[x] for x in lots)

    def received_from(self, supplier: str) -> list[str]:
        return sorted(lot for lot, s in self.supplier_of.items() if s == supplier)

    @classmethod
    def generate(cls, shape: Shape) -> Plant:
        return _Generator(shape).run()


def histogram(values: list[int]) -> dict[str, int]:
    """Counts per bucket of :data:`BUCKETS` ("1", "2-5", ..., ">3000"), empty ones left out."""
    out: dict[str, int] = {}
    lo = 1
    counts = Counter(bisect.bisect_left(BUCKETS, v) for v in values)
    for i, hi in enumerate(BUCKETS):
        name = (
            f">{BUCKETS[i - 1]}" if hi == BUCKETS[-1] else (str(hi) if hi == lo else f"{lo}-{hi}")
        )
        if counts.get(i):
            out[name] = counts[i]
        lo = hi + 1
    return out


class _Generator:
    def __init__(self, shape: Shape) -> None:
        if shape.lots < 100 or shape.stations < 6 or shape.suppliers < 2 or shape.docks < 1:
            raise ValueError(
                "plant: expected at least 100 lots, 6 stations, 2 suppliers and 1 dock, got "
                f"{shape.lots}, {shape.stations}, {shape.suppliers}, {shape.docks}"
            )
        self.s = shape
        self.rng = random.Random(shape.seed)
        self.materials: list[_Material] = []
        self.inputs: dict[str, list[str]] = {}
        self.uses: list[tuple[str, str | None, str, str]] = []  # (lot, gtin, scanned, unit)
        self.tier: dict[str, str] = {}

    # -- catalogue --------------------------------------------------------------------------

    def _catalogue(self) -> None:
        s, rng = self.s, self.rng
        kinds = ("Polymer", "Wire", "Tubing", "Film", "Adhesive", "Label", "Pouch", "Steel")
        forms = ("GmbH", "AG", "BV", "SA", "Ltd", "Oy", "srl", "Inc")
        self.suppliers = [
            f"{kinds[i % len(kinds)]} Supply {i + 1:03d} {forms[(i // 8) % len(forms)]}"
            for i in range(s.suppliers)
        ]
        n_materials = 2 * s.suppliers
        self.material_gtin = [gtin(f"0401234{m:06d}") for m in range(n_materials)]
        self.material_unit = [("KGM", "MTR", "EA")[m % 3] for m in range(n_materials)]
        self.material_supplier = [self.suppliers[m // 2] for m in range(n_materials)]
        weights = [1.0 / (i + 1) ** 0.9 for i in range(s.consignees)]
        self.consignee_cum = list(itertools.accumulate(weights))
        kinds_c = ("Hospital", "Clinic", "Distributor", "Pharmacy", "Care home")
        self.consignees = [f"{kinds_c[i % 5]} {i + 1:04d}" for i in range(s.consignees)]
        rng.shuffle(self.consignees)  # the large ones are of every kind

    def _plan_stations(self) -> None:
        s = self.s
        n_mat = round(s.lots * 0.2)
        n_prod = s.lots - n_mat
        a_st = b_st = max(1, s.stations // 10)
        f_st = s.stations - a_st - b_st
        n_a, n_b = round(n_prod * 0.05), round(n_prod * 0.075)
        n_f = n_prod - n_a - n_b
        # (station number, tier, lots, regular slots, bulk group)
        self.stations: list[tuple[int, str, int, int, str]] = []
        for tier, first, count, total, reg in (
            ("A", 0, a_st, n_a, 2),
            ("B", a_st, b_st, n_b, 2),
            ("finished", a_st + b_st, f_st, n_f, 4),
        ):
            for k in range(count):
                lots = total // count + (1 if k < total % count else 0)
                group = tier if tier != "finished" else f"silo {k // 4 + 1}"
                self.stations.append((first + k + 1, tier, lots, reg, group))
        # Mean product lots a regular material lot serves, so that the material lots come to
        # about n_mat; bulk lots serve about fanout (fanout / 5 in the subassembly tiers).
        bulk_lots = n_f / s.fanout + (n_a + n_b) / max(1.0, s.fanout / 5)
        regular_uses = sum(lots * reg for _, _, lots, reg, _ in self.stations)
        if n_mat - bulk_lots < 1:
            raise ValueError(f"plant: --fanout {s.fanout} too small for {s.lots} lots")
        self.regular_size = regular_uses / (n_mat - bulk_lots)
        slots_needed = sum(reg for *_, reg, _ in self.stations) + len(
            {g for *_, g in self.stations}
        )
        per = max(2, math.ceil(2 * s.suppliers / slots_needed))
        order = list(range(2 * s.suppliers))
        self.rng.shuffle(order)
        cycle = itertools.cycle(order)
        self.slots: dict[tuple[int, int], _Slot] = {}
        self.bulk: dict[str, _Slot] = {}
        for st, tier, _, reg, group in self.stations:
            if group not in self.bulk:
                size = s.fanout if tier == "finished" else max(2.0, s.fanout / 5)
                self.bulk[group] = _Slot([next(cycle) for _ in range(per)], True, size)
            for j in range(reg):
                self.slots[(st, j)] = _Slot(
                    [next(cycle) for _ in range(per)], False, self.regular_size
                )

    # -- production -------------------------------------------------------------------------

    def _take(self, slot: _Slot, t: float) -> _Material:
        rng = self.rng
        if slot.left <= 0 or slot.current is None:
            m = rng.choice(slot.alternates)
            n = len(self.materials)
            lot = f"RM-{n + 1:06d}"
            label = f"S{m // 2 + 1:03d}-{n + 1:06d}"
            slot.current = _Material(lot, m, label, t)
            self.materials.append(slot.current)
            self.tier[lot] = "material"
            if slot.bulk:
                slot.left = max(1, round(slot.size * rng.uniform(0.9, 1.1)))
            else:  # mostly small, a long tail (1 .. about 6x the mean)
                slot.left = 1 + int(rng.expovariate(1.0 / max(0.01, slot.size - 1)))
        slot.left -= 1
        return slot.current

    def _produce(self) -> None:
        s, rng = self.s, self.rng
        plan = []  # (time, station number, tier, k, regular slots, group)
        for st, tier, lots, reg, group in self.stations:
            for k in range(lots):
                plan.append(((k + rng.random()) / lots * s.days, st, tier, k, reg, group))
        plan.sort()
        n_b_users = sum(lots for _, t, lots, *_ in self.stations if t == "finished") / 2
        n_a = sum(lots for _, t, lots, *_ in self.stations if t == "A")
        n_b = sum(lots for _, t, lots, *_ in self.stations if t == "B")
        mean_uses = {"A": max(1.0, n_b / max(1, n_a)), "B": max(1.0, n_b_users / max(1, n_b))}
        stock: dict[str, deque[list[Any]]] = {"A": deque(), "B": deque()}
        self.products: list[tuple[float, int, str, str, str, list[int]]] = []
        for t, st, tier, k, reg, group in plan:
            prefix = {"A": "SA", "B": "SB", "finished": "FG"}[tier]
            lot = f"{prefix}{st:02d}-{k + 1:05d}"
            self.tier[lot] = tier
            first_use = len(self.uses)
            for slot in [self.bulk[group]] + [self.slots[(st, j)] for j in range(reg)]:
                mat = self._take(slot, t)
                m = mat.material
                self.uses.append((mat.lot, self.material_gtin[m], mat.label, self.material_unit[m]))
            wants = {"A": None, "B": "A", "finished": "B" if st % 2 == 0 else None}[tier]
            if wants is not None and stock[wants]:
                head = stock[wants][0]
                self.uses.append((head[0], head[1], head[0], "EA"))
                head[2] -= 1
                if head[2] <= 0:
                    stock[wants].popleft()
            use_ids = list(range(first_use, len(self.uses)))
            self.inputs[lot] = list(dict.fromkeys(self.uses[u][0] for u in use_ids))
            product_gtin = gtin(f"0950600{0 if tier == 'finished' else 1}{st:05d}")
            self.products.append((t, st, tier, lot, product_gtin, use_ids))
            if tier in stock:
                left = 1 + int(rng.expovariate(1.0 / max(0.01, mean_uses[tier] - 1)))
                stock[tier].append([lot, product_gtin, left])

    def _docks(self) -> None:
        s, rng = self.s, self.rng
        packs: list[tuple[float, int, str, str, float]] = []
        self.direct: list[tuple[float, int, str, str, str, float]] = []
        for t, _, tier, lot, pgtin, _ in self.products:
            if tier != "finished":
                continue
            for _ in range(1 + (rng.random() < 0.5)):
                packs.append(
                    (
                        t + rng.uniform(0.02, 0.3),
                        rng.randrange(s.docks),
                        lot,
                        pgtin,
                        float(rng.choice((50, 100, 200, 400))),
                    )
                )
            if rng.random() < 0.1:
                self.direct.append(
                    (
                        t + rng.uniform(0.1, 1.0),
                        rng.randrange(s.docks),
                        lot,
                        pgtin,
                        self._consignee(),
                        float(rng.choice((10, 20, 50))),
                    )
                )
        packs.sort()
        # Per dock: the open pallet fills up; when full it is shipped a little later.
        self.packs: list[tuple[float, int, str, str, str, float]] = []
        self.pallet_ships: list[tuple[float, int, str, str]] = []
        self.ship_links: Counter[str] = Counter()
        open_: dict[int, tuple[str, int, list[str]]] = {}
        serial = itertools.count(1)
        for t, dock, lot, pgtin, qty in packs:
            if dock not in open_:
                open_[dock] = (gtin(f"09506000{next(serial):09d}"), rng.randint(3, 7), [])
            sscc, cap, on = open_[dock]
            self.packs.append((t, dock, lot, pgtin, sscc, qty))
            on.append(lot)
            if len(on) >= cap:
                ship_t = t + rng.uniform(0.02, 0.3)
                if ship_t < s.days:  # else still in the warehouse at the end
                    self.pallet_ships.append((ship_t, dock, sscc, self._consignee()))
                    self.ship_links.update(on)
                del open_[dock]
        for d in self.direct:
            self.ship_links[d[2]] += 1
        self.n_pallets = next(serial) - 1

    def _consignee(self) -> str:
        cum = self.consignee_cum
        return self.consignees[bisect.bisect_left(cum, self.rng.random() * cum[-1])]

    # -- scans ------------------------------------------------------------------------------

    def run(self) -> Plant:
        s, rng = self.s, self.rng
        self._catalogue()
        self._plan_stations()
        self._produce()
        self._docks()
        fixed = len(self.materials) + len(self.products) + len(self.packs)
        fixed += len(self.pallet_ships) + len(self.direct)
        budget = s.scans - fixed
        if budget < len(self.uses):
            raise ValueError(
                f"plant: {s.scans} scans are too few for {s.lots} lots: receive, produce, pack "
                f"and ship take {fixed}, and every input needs a consume scan "
                f"({len(self.uses)}); expected --scans >= {fixed + len(self.uses)}"
            )
        scans_per_use = [1] * len(self.uses)
        for _ in range(budget - len(self.uses)):
            scans_per_use[rng.randrange(len(self.uses))] += 1

        streams: dict[int, str] = {0: "goods in"}
        events: list[tuple[float, int, int, tuple[Any, ...]]] = []  # (t, order, stream, args)
        order = itertools.count()
        for t, st, tier, lot, pgtin, use_ids in self.products:
            role = {"A": "subassembly A", "B": "subassembly B", "finished": "assembly"}[tier]
            station = f"line {st:02d} {role}"
            streams[st] = station
            events.append(
                (t, next(order), st, (station, "produce", pgtin, lot, lot, None, None, None, None))
            )
            for u in use_ids:
                _, gtin_in, scanned, unit = self.uses[u]
                for _ in range(scans_per_use[u]):
                    qty = float(rng.choice((1, 2, 5, 10, 25)))
                    events.append(
                        (
                            t,
                            next(order),
                            st,
                            (station, "consume", gtin_in, scanned, None, None, None, qty, unit),
                        )
                    )
        dock0 = max(streams) + 1
        for t, dock, lot, pgtin, sscc, qty in self.packs:
            streams[dock0 + dock] = f"dock {dock + 1}"
            events.append(
                (
                    t,
                    next(order),
                    dock0 + dock,
                    (f"dock {dock + 1} packing", "pack", pgtin, lot, lot, None, sscc, qty, "EA"),
                )
            )
        for t, dock, sscc, consignee in self.pallet_ships:
            events.append(
                (
                    t,
                    next(order),
                    dock0 + dock,
                    (
                        f"dock {dock + 1} shipping",
                        "ship",
                        None,
                        None,
                        None,
                        consignee,
                        sscc,
                        None,
                        None,
                    ),
                )
            )
        for t, dock, lot, pgtin, consignee, qty in self.direct:
            events.append(
                (
                    min(t, s.days - 1e-6),
                    next(order),
                    dock0 + dock,
                    (
                        f"dock {dock + 1} shipping",
                        "ship",
                        pgtin,
                        lot,
                        lot,
                        consignee,
                        None,
                        qty,
                        "EA",
                    ),
                )
            )
        receives = []
        supplier_of: dict[str, str] = {}
        for m in self.materials:
            t = max(0.0, m.first_use - rng.uniform(0.05, 1.5))
            supplier = self.material_supplier[m.material]
            supplier_of[m.lot] = supplier
            receives.append(
                (
                    t,
                    next(order),
                    0,
                    (
                        "goods in",
                        "receive",
                        self.material_gtin[m.material],
                        m.label,
                        m.lot,
                        supplier,
                        None,
                        float(rng.choice((100, 250, 500, 1000))),
                        self.material_unit[m.material],
                    ),
                )
            )
        days: list[tuple[list[Event], list[Event]]] = [([], []) for _ in range(s.days)]
        counts: Counter[str] = Counter()
        seq = 0
        for which, items in ((0, receives), (1, events)):
            items.sort(key=lambda e: (e[0], e[1]))
            for t, _, stream, args in items:
                seq += 1
                e = Event(t, seq, stream, *args)
                days[min(s.days - 1, int(t))][which].append(e)
                counts[e.op] += 1
        consignees_used = len({e.party for _, evs in days for e in evs if e.op == "ship"})
        return Plant(
            shape=s,
            days=days,
            streams=streams,
            inputs=self.inputs,
            material_lots=[m.lot for m in self.materials],
            product_lots=[p[3] for p in self.products],
            tier=self.tier,
            supplier_of=supplier_of,
            suppliers=self.suppliers,
            ship_links=self.ship_links,
            counts=counts,
            consignees_used=consignees_used,
            pallets=self.n_pallets,
        )
