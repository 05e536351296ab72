"""SPC on the ledger: which characteristics are charted (``spc.toml``), their charts as read from
the log, and the monitor that raises a signed ``alert`` when a run rule breaks.

A characteristic is a process reading tag (optionally of one line) or an inspection
characteristic (optionally of one product GTIN). Its points are its records' values in the
order the ledger accepted them; corrections are not applied (a chart shows what was measured).
Control limits are fixed (``center`` and ``sigma`` of one value, from a capability study) or
estimated from the characteristic's first ``baseline`` points (Phase I), and are then fixed:
the log is append-only, so those points never change.

The monitor (:class:`SpcMonitor`, a worker of ``evledger up``) reads the records accepted since
its last round, judges each touched characteristic's new points by its rules
(:mod:`ledger.spc`) and logs one ``alert/1`` per violation (a rule holding at consecutive
points is one violation), signed by the audit key (``keys/audit.key``, role auditor, meaning
``recorded``) like the alerts of ``evledger audit --every``. With ``action = "block"`` the alert
names the lot of the point that broke the rule, so it blocks that lot's release (or puts a
released lot on hold) until an NCR dispositions it; ``"warn"`` logs it without a lot. Alert ids
are derived from the characteristic, the rule and the point, so an alert is never raised twice,
across restarts too.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
import statistics
import threading
import tomllib
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa
from eth_account.signers.local import LocalAccount

from ledger import spc
from ledger.errors import ConfigError, ConflictError, LedgerError, NotFoundError
from ledger.keys import load_account
from ledger.submission import Submitter

__all__ = [
    "ALERT_PREFIX",
    "Characteristic",
    "Charts",
    "SpcConfig",
    "SpcMonitor",
    "load_config",
    "parse_config",
]

log = logging.getLogger("evledger.spc")

#: Record ids of the alerts the SPC monitor raises.
ALERT_PREFIX = "spc-"
#: Environment variable naming the configuration file (default: ``spc.toml`` in the home).
CONFIG_ENV = "EVLEDGER_SPC"
MAX_CONFIG_BYTES = 1 << 20
MAX_CHARACTERISTICS = 1000
#: Points a chart read returns at most.
MAX_POINTS = 1000
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
_GTIN = re.compile(r"[0-9]{8}|[0-9]{12,14}")
_FIELDS = (
    "id",
    "tag",
    "line",
    "inspection",
    "product",
    "rules",
    "action",
    "subgroup",
    "center",
    "sigma",
    "baseline",
    "lower_spec",
    "upper_spec",
)


# -- configuration -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Characteristic:
    id: str
    #: A process reading tag (with ``line``), or an inspection characteristic's name (with
    #: ``product``, a GTIN): exactly one of ``tag`` and ``inspection``.
    tag: str | None = None
    line: str | None = None
    inspection: str | None = None
    product: str | None = None
    rules: tuple[str, ...] = spc.WESTERN_ELECTRIC
    action: Literal["block", "warn"] = "block"
    subgroup: int = 1
    center: float | None = None
    sigma: float | None = None
    baseline: int = 20
    lower_spec: float | None = None
    upper_spec: float | None = None

    @property
    def record_type(self) -> str:
        return "process_reading" if self.tag is not None else "inspection"

    @property
    def chart(self) -> str:
        """The chart its points make: individuals / moving range, or X-bar / R."""
        return "individuals" if self.subgroup == 1 else "xbar_r"

    def containment(self) -> dict[str, Any]:
        """The JSON the characteristic's records contain (PostgreSQL ``@>``)."""
        if self.tag is not None:
            return {"tag": self.tag, **({"line": self.line} if self.line else {})}
        out: dict[str, Any] = {"characteristics": [{"name": self.inspection}]}
        if self.product:
            out["product"] = {"gtin": self.product}
        return out

    def matches(self, rtype: str, body: dict[str, Any]) -> bool:
        if rtype != self.record_type:
            return False
        if self.tag is not None:
            return body.get("tag") == self.tag and (
                self.line is None or body.get("line") == self.line
            )
        product = body.get("product")
        gtin = product.get("gtin") if isinstance(product, dict) else None
        return (self.product is None or gtin == self.product) and any(
            isinstance(c, dict) and c.get("name") == self.inspection
            for c in body.get("characteristics") or ()
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "record_type": self.record_type,
            "rules": list(self.rules),
            "action": self.action,
            "subgroup": self.subgroup,
            "chart": self.chart,
        }
        for key in ("tag", "line", "inspection", "product", "center", "sigma"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.center is None:
            out["baseline"] = self.baseline
        return out


@dataclass(frozen=True)
class SpcConfig:
    characteristics: tuple[Characteristic, ...] = ()
    source: str = "no SPC configuration"

    def get(self, cid: str) -> Characteristic:
        for c in self.characteristics:
            if c.id == cid:
                return c
        raise NotFoundError(f"characteristic {cid!r}: not charted (see GET /v1/spc)")


def load_config(home: Path, explicit: str | None = None) -> SpcConfig:
    """The file ``explicit`` names ($EVLEDGER_SPC), else ``home/spc.toml`` if it exists; no
    file: nothing is charted. A file that does not parse stops the service with the field
    named (:class:`ConfigError`)."""
    path = Path(explicit) if explicit else home / "spc.toml"
    if not explicit and not path.exists():
        return SpcConfig()
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"SPC configuration {path}: cannot read: {exc.strerror or exc}") from None
    return parse_config(data, str(path))


def parse_config(data: bytes, source: str = "spc.toml") -> SpcConfig:
    try:
        return _parse(data, source)
    except (ConfigError, spc.SpcError) as exc:
        raise ConfigError(f"SPC configuration {source}: {exc}") from None


def _parse(data: bytes, source: str) -> SpcConfig:
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(f"expected at most {MAX_CONFIG_BYTES} bytes")
    try:
        doc = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"not valid TOML: {exc}") from None
    unknown = [k for k in doc if k != "characteristic"]
    if unknown:
        raise ConfigError(f"unknown key {unknown[0]!r} (expected [[characteristic]] entries)")
    tables = doc.get("characteristic", [])
    if not isinstance(tables, list) or len(tables) > MAX_CHARACTERISTICS:
        raise ConfigError(f"expected up to {MAX_CHARACTERISTICS} [[characteristic]] tables")
    out: list[Characteristic] = []
    for i, table in enumerate(tables):
        if not isinstance(table, dict):
            raise ConfigError(f"characteristic #{i + 1}: expected a table")
        c = _characteristic(table, i)
        if any(o.id == c.id for o in out):
            raise ConfigError(f"characteristic {c.id!r} field 'id': defined twice")
        out.append(c)
    return SpcConfig(tuple(out), source)


def _characteristic(t: dict[str, Any], index: int) -> Characteristic:
    cid = t.get("id")
    where = f"characteristic {cid!r}" if isinstance(cid, str) else f"characteristic #{index + 1}"

    def fail(name: str, message: str) -> ConfigError:
        return ConfigError(f"{where} field {name!r}: {message}")

    for key in t:
        if key not in _FIELDS:
            raise fail(key, f"unknown field (expected one of {', '.join(_FIELDS)})")

    def text(name: str, pattern: re.Pattern[str] | None = None) -> str | None:
        value = t.get(name)
        if value is None:
            return None
        ok = isinstance(value, str) and 1 <= len(value) <= 200 and value.isprintable()
        if not ok or (pattern is not None and not pattern.fullmatch(value)):
            raise fail(
                name,
                f"expected {'an id' if pattern else 'text of 1..200 characters'}, got {value!r}",
            )
        return str(value)

    def number(name: str, positive: bool = False) -> float | None:
        value = t.get(name)
        if value is None:
            return None
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise fail(name, f"expected a number, got {value!r}")
        if positive and value <= 0:
            raise fail(name, f"expected a number > 0, got {value!r}")
        return float(value)

    def integer(name: str, default: int, low: int, high: int) -> int:
        value = t.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise fail(name, f"expected an integer {low}..{high}, got {value!r}")
        return int(value)

    ident = text("id", _ID)
    if ident is None:
        raise fail("id", "missing (1-64 characters [A-Za-z0-9._:-])")
    tag, inspection = text("tag"), text("inspection")
    if (tag is None) == (inspection is None):
        raise fail("tag", "expected exactly one of tag (process readings) and inspection")
    line, product = text("line"), text("product", _GTIN)
    if line is not None and tag is None:
        raise fail("line", "applies to a tag, not to an inspection characteristic")
    if product is not None and inspection is None:
        raise fail("product", "applies to an inspection characteristic, not to a tag")
    raw_rules = t.get("rules", ["western_electric"])
    if (
        not isinstance(raw_rules, list)
        or not raw_rules
        or not all(isinstance(r, str) for r in raw_rules)
    ):
        raise fail("rules", f"expected a list of rule ids or sets, got {raw_rules!r}")
    try:
        rules = spc.expand_rules(raw_rules)
    except spc.SpcError as exc:
        raise fail("rules", str(exc)) from None
    action = t.get("action", "block")
    if action not in ("block", "warn"):
        raise fail("action", f"expected block or warn, got {action!r}")
    subgroup = integer("subgroup", 1, 1, spc.MAX_SUBGROUP)
    center, sigma = number("center"), number("sigma", positive=True)
    if (center is None) != (sigma is None):
        raise fail("sigma", "expected both center and sigma (fixed limits) or neither (baseline)")
    if center is not None and "baseline" in t:
        raise fail("baseline", "expected either fixed limits (center, sigma) or a baseline")
    baseline = integer("baseline", 20, 5 if subgroup == 1 else 2, 10_000)
    lower, upper = number("lower_spec"), number("upper_spec")
    if lower is not None and upper is not None and lower >= upper:
        raise fail("upper_spec", f"expected a number > lower_spec ({lower:g}), got {upper:g}")
    return Characteristic(
        id=ident,
        tag=tag,
        line=line,
        inspection=inspection,
        product=product,
        rules=rules,
        action=action,
        subgroup=subgroup,
        center=center,
        sigma=sigma,
        baseline=baseline,
        lower_spec=lower,
        upper_spec=upper,
    )


# -- points --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Point:
    """One value of a characteristic as logged."""

    seq: int
    record_id: str
    lot: str | None
    at: str | None
    value: float
    unit: str | None
    lower: float | None
    upper: float | None


@dataclass(frozen=True)
class Plotted:
    """A point of the chart: one value, or the mean of a subgroup of values."""

    points: tuple[Point, ...]
    value: float
    spread: float | None  # the moving range (n = 1; None for the first) or the range

    @property
    def last(self) -> Point:
        return self.points[-1]


def point_of(c: Characteristic, seq: int, record_id: str, body: dict[str, Any]) -> Point | None:
    """The characteristic's value in a record's body (None when it has no numeric value)."""
    if c.tag is not None:
        value, unit, lower, upper, at = (
            body.get("value"),
            body.get("unit"),
            body.get("lower"),
            body.get("upper"),
            body.get("read_at"),
        )
    else:
        found = next(
            (x for x in body.get("characteristics") or () if x.get("name") == c.inspection), None
        )
        if found is None:
            return None
        value, unit, lower, upper = (
            found.get("value"),
            found.get("unit"),
            found.get("lower"),
            found.get("upper"),
        )
        at = body.get("inspected_at")
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return Point(
        seq=seq,
        record_id=record_id,
        lot=body.get("lot"),
        at=at,
        value=float(value),
        unit=unit if isinstance(unit, str) else None,
        lower=float(lower) if isinstance(lower, int | float) else None,
        upper=float(upper) if isinstance(upper, int | float) else None,
    )


#: The characteristic's records that hold a numeric value for it (every row gives a point, so
#: limits and counts are exact); of inspections, those signed as performed (``authored``).
_SELECT = (
    "SELECT r.seq, r.record_id, r.body FROM records r, "
    "LATERAL (SELECT convert_from(r.body, 'UTF8')::jsonb AS b) AS j "
    "WHERE r.record_type = :rtype AND j.b @> CAST(:filter AS jsonb) "
    "AND (r.record_type <> 'inspection' OR r.meaning = 'authored') "
    "AND jsonb_path_exists(j.b, CAST(:numeric AS jsonpath), CAST(:vars AS jsonb))"
)
_NUMERIC_READING = '$.value ? (@.type() == "number")'
_NUMERIC_CHARACTERISTIC = '$.characteristics[*] ? (@.name == $n && @.value.type() == "number")'


def _params(c: Characteristic) -> dict[str, Any]:
    numeric = _NUMERIC_READING if c.tag is not None else _NUMERIC_CHARACTERISTIC
    return {
        "rtype": c.record_type,
        "filter": json.dumps(c.containment()),
        "numeric": numeric,
        "vars": json.dumps({"n": c.inspection} if c.inspection is not None else {}),
    }


def _points(
    conn: sa.Connection, c: Characteristic, where: str, order: str, limit: int, **params: Any
) -> list[Point]:
    rows = conn.execute(
        sa.text(f"{_SELECT} {where} ORDER BY seq {order} LIMIT :limit"),
        {**_params(c), "limit": limit, **params},
    )
    out = [p for seq, rid, body in rows if (p := point_of(c, seq, rid, json.loads(bytes(body))))]
    return out if order == "ASC" else out[::-1]


def _count_before(conn: sa.Connection, c: Characteristic, seq: int) -> int:
    """How many of the characteristic's points precede record ``seq`` (subgroup alignment)."""
    return int(
        conn.execute(
            sa.text(f"SELECT count(*) FROM ({_SELECT} AND seq < :seq) AS s"),  # noqa: S608
            {**_params(c), "seq": seq},
        ).scalar_one()
    )


def plot(points: Sequence[Point], n: int, previous: Point | None = None) -> list[Plotted]:
    """Points as plotted: each value with its moving range (``n`` = 1; ``previous`` is the
    point before the first, for its moving range), or consecutive complete subgroups of
    ``n`` with their mean and range."""
    if n == 1:
        out = []
        before = previous
        for p in points:
            spread = abs(p.value - before.value) if before is not None else None
            out.append(Plotted((p,), p.value, spread))
            before = p
        return out
    groups = [tuple(points[i : i + n]) for i in range(0, len(points) - n + 1, n)]
    return [
        Plotted(
            g,
            statistics.fmean(p.value for p in g),
            max(p.value for p in g) - min(p.value for p in g),
        )
        for g in groups
    ]


def alert_id(c: Characteristic, rule: str, at: Plotted) -> str:
    """The id of the alert a violation of ``rule`` at ``at`` raises (stable)."""
    digest = hashlib.sha256(f"{c.id}\n{rule}\n{at.last.record_id}".encode()).hexdigest()[:24]
    return f"{ALERT_PREFIX}{rule}-{digest}"


# -- charts ------------------------------------------------------------------------------------


@dataclass
class Charts:
    """The charts of the configured characteristics, read from the log."""

    engine: sa.Engine
    config: SpcConfig = field(default_factory=SpcConfig)
    #: Baseline limits once computed, with the seq of the baseline's last record.
    _limits: dict[str, tuple[spc.Limits, int]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def characteristics(self) -> list[dict[str, Any]]:
        return [c.to_json() for c in self.config.characteristics]

    def limits(self, conn: sa.Connection, c: Characteristic) -> spc.Limits | None:
        """Fixed limits, or those of the first ``baseline`` plotted points (None while there
        are fewer)."""
        found = self.limits_and_baseline(conn, c)
        return found[0] if found is not None else None

    def limits_and_baseline(
        self, conn: sa.Connection, c: Characteristic
    ) -> tuple[spc.Limits, int] | None:
        """The limits and the seq of the last record they were estimated from (0: fixed)."""
        if c.center is not None and c.sigma is not None:
            return spc.fixed_limits(c.center, c.sigma, c.subgroup), 0
        with self._lock:
            known = self._limits.get(c.id)
        if known is not None:
            return known
        plotted = plot(_points(conn, c, "", "ASC", c.baseline * c.subgroup), c.subgroup)
        if len(plotted) < c.baseline:
            return None
        try:
            if c.subgroup == 1:
                limits = spc.individuals([p.value for p in plotted])
            else:
                limits = spc.xbar_r([[p.value for p in g.points] for g in plotted])
        except spc.SpcError:
            return None
        if not limits.sigma > 0:
            return None  # a constant baseline: no spread to judge against
        with self._lock:
            self._limits[c.id] = (limits, plotted[-1].last.seq)
        return limits, plotted[-1].last.seq

    def window(
        self, conn: sa.Connection, c: Characteristic, count: int, upto: int | None = None
    ) -> list[Plotted]:
        """The last ``count`` plotted points (up to record ``upto``), plus up to
        :data:`spc.MAX_WINDOW` - 1 before them so the rules can be judged at the first."""
        extra = spc.MAX_WINDOW
        where, params = ("AND seq <= :upto", {"upto": upto}) if upto is not None else ("", {})
        raw = _points(conn, c, where, "DESC", (count + extra) * c.subgroup + 1, **params)
        if c.subgroup == 1:
            full = len(raw) == count + extra + 1  # the oldest fetched only gives a moving range
            previous, raw = (raw[0], raw[1:]) if full else (None, raw)
            return plot(raw, 1, previous)
        if not raw:
            return []
        # Subgroups are consecutive runs of n counted from the characteristic's first point.
        skip = (-_count_before(conn, c, raw[0].seq)) % c.subgroup
        return plot(raw[skip:], c.subgroup)

    def chart(self, cid: str, limit: int = 100) -> dict[str, Any]:
        """What the console draws: the last ``limit`` points, centre line, control and
        specification limits, the rules' violations (with the alert each raised), Cpk."""
        c = self.config.get(cid)
        limit = max(1, min(limit, MAX_POINTS))
        with self.engine.connect() as conn:
            limits = self.limits(conn, c)
            plotted = self.window(conn, c, limit)
            shown_from = max(0, len(plotted) - limit)
            violations = (
                spc.evaluate([p.value for p in plotted], limits.center, limits.sigma_point, c.rules)
                if limits is not None
                else []
            )
            violations = [v for v in violations if v.first >= shown_from]
            ids = [alert_id(c, v.rule, plotted[v.first]) for v in violations]
            raised = (
                {
                    r
                    for (r,) in conn.execute(
                        sa.text("SELECT record_id FROM records WHERE record_id = ANY(:ids)"),
                        {"ids": ids},
                    )
                }
                if ids
                else set()
            )
        shown = plotted[shown_from:]
        at: dict[int, list[str]] = {}
        for v in violations:
            for i in range(v.first, v.last + 1):
                at.setdefault(i - shown_from, []).append(v.rule)
        lower, upper = _spec(c, [p for g in shown for p in g.points])
        out: dict[str, Any] = {
            "characteristic": c.to_json(),
            "chart": c.chart,
            "unit": next((p.last.unit for p in reversed(shown) if p.last.unit), None),
            "spec": {"lower": lower, "upper": upper},
            "limits": _limits_json(c, limits),
            "points": [
                {
                    "records": [p.record_id for p in g.points],
                    "record_id": g.last.record_id,
                    "lot": g.last.lot,
                    "at": g.last.at,
                    "value": g.value,
                    "range": g.spread,
                    "out_of_spec": any(_out_of_spec(c, p) for p in g.points),
                    "violations": at.get(i, []),
                }
                for i, g in enumerate(shown)
            ],
            "violations": [
                {
                    "rule": v.rule,
                    "text": v.text,
                    "first": plotted[v.first].last.record_id,
                    "last": plotted[v.last].last.record_id,
                    "pattern": [plotted[i].last.record_id for i in v.pattern if i >= 0],
                    "alert_id": ident if ident in raised else None,
                }
                for v, ident in zip(violations, ids, strict=True)
            ],
            "capability": _capability(c, shown, lower, upper),
        }
        return out


def _spec(c: Characteristic, points: Sequence[Point]) -> tuple[float | None, float | None]:
    """The specification: the configuration's, else the limits the latest record carries."""
    lower, upper = c.lower_spec, c.upper_spec
    latest = points[-1] if points else None
    if lower is None and latest is not None:
        lower = latest.lower
    if upper is None and latest is not None:
        upper = latest.upper
    return lower, upper


def _out_of_spec(c: Characteristic, p: Point) -> bool:
    """Whether a value is outside the configured specification, else its own record's."""
    lower = c.lower_spec if c.lower_spec is not None else p.lower
    upper = c.upper_spec if c.upper_spec is not None else p.upper
    return (lower is not None and p.value < lower) or (upper is not None and p.value > upper)


def _limits_json(c: Characteristic, limits: spc.Limits | None) -> dict[str, Any] | None:
    if limits is None:
        return None
    return {
        "basis": "fixed" if c.center is not None else f"first {c.baseline} points",
        "center": limits.center,
        "ucl": limits.ucl,
        "lcl": limits.lcl,
        "sigma": limits.sigma,
        "range_center": limits.range_center,
        "range_ucl": limits.range_ucl,
        "range_lcl": limits.range_lcl,
    }


def _capability(
    c: Characteristic, shown: Sequence[Plotted], lower: float | None, upper: float | None
) -> dict[str, Any]:
    """Cp, Cpk (within sigma: MR-bar / d2 or R-bar / d2 of the points shown) and Pp, Ppk
    (their overall standard deviation)."""
    values = [p.value for g in shown for p in g.points]
    if len(values) < 2 or (c.subgroup > 1 and len(shown) < 2):
        return {"n": len(values), "cp": None, "cpk": None, "pp": None, "ppk": None}
    if c.subgroup == 1:
        within = spc.individuals(values).sigma
    else:
        within = spc.xbar_r([[p.value for p in g.points] for g in shown]).sigma
    cap = spc.capability(statistics.fmean(values), within, lower, upper, statistics.stdev(values))
    return {"n": len(values), "cp": cap.cp, "cpk": cap.cpk, "pp": cap.pp, "ppk": cap.ppk}


# -- the monitor -----------------------------------------------------------------------------


#: The record types whose values are charted.
_JUDGED = frozenset({"process_reading", "inspection"})


@dataclass
class _Recent:
    """The last points of a characteristic the monitor has read, and how many it has read."""

    points: deque[Point]
    count: int


class SpcMonitor:
    """Reads what the ledger accepted since its last round and raises an alert per violation.

    On start it judges the last :data:`spc.MAX_WINDOW` points of every characteristic again
    (alerts already raised are recognized by their ids), then follows new records."""

    def __init__(
        self, charts: Charts, submitter: Submitter, key_path: Path, batch: int = 2000
    ) -> None:
        self.charts, self.submitter, self.key_path, self.batch = charts, submitter, key_path, batch
        self.cursor: int | None = None
        self.raised: list[str] = []
        self._account: LocalAccount | None = None
        self._wake = threading.Event()
        self._recent: dict[str, _Recent] = {}
        #: The characteristics by the tag or inspection characteristic name they chart.
        self._by_key: dict[tuple[str, Any], list[Characteristic]] = {}
        for c in charts.config.characteristics:
            key = ("tag", c.tag) if c.tag is not None else ("inspection", c.inspection)
            self._by_key.setdefault(key, []).append(c)

    def notify(self, types: set[str]) -> None:
        """Records of ``types`` were stored: judge them now rather than at the next interval
        (:attr:`ledger.submission.Submitter.on_stored`)."""
        if types & _JUDGED:
            self._wake.set()

    @property
    def engine(self) -> sa.Engine:
        return self.charts.engine

    def run(self, stop: threading.Event, interval: float) -> None:
        while not stop.is_set():
            try:
                busy = self.step() >= self.batch
            except Exception:
                # Start again from the log (the points held may be half updated); alerts
                # already raised are recognized by their ids.
                log.exception("SPC round failed; reading the characteristics again")
                self.cursor = None
                self._recent.clear()
                busy = False
            if not busy and not stop.is_set():
                self._wake.wait(interval)
            self._wake.clear()

    def step(self) -> int:
        """One round; returns the records read."""
        config = self.charts.config
        if not config.characteristics:
            return 0
        with self.engine.connect() as conn:
            if self.cursor is None:
                head = conn.execute(sa.text("SELECT coalesce(max(seq), 0) FROM records"))
                upto = int(head.scalar_one())
                for c in config.characteristics:
                    self._prime(conn, c, upto)
                self.cursor = upto
                return 0
            rows = conn.execute(
                sa.text(
                    "SELECT seq, record_id, record_type, meaning, body FROM records "
                    "WHERE seq > :cursor "
                    "AND record_type = ANY(:types) ORDER BY seq LIMIT :n"
                ),
                {"cursor": self.cursor, "n": self.batch, "types": sorted(_JUDGED)},
            ).all()
            if not rows:
                return 0
            new: dict[str, list[Point]] = {}
            for seq, rid, rtype, meaning, body in rows:
                if rtype == "inspection" and meaning != "authored":
                    continue  # another's attestation of an inspection: not a measurement
                parsed = json.loads(bytes(body))
                if rtype == "process_reading":
                    candidates = self._by_key.get(("tag", parsed.get("tag")), [])
                else:
                    names = {x.get("name") for x in parsed.get("characteristics") or ()}
                    candidates = [c for n in names for c in self._by_key.get(("inspection", n), [])]
                for c in candidates:
                    if c.matches(rtype, parsed) and (p := point_of(c, seq, rid, parsed)):
                        new.setdefault(c.id, []).append(p)
            for c in config.characteristics:
                if c.id in new:
                    self._judge(conn, c, new[c.id])
            self.cursor = int(rows[-1][0])
            return len(rows)

    def _prime(self, conn: sa.Connection, c: Characteristic, upto: int) -> None:
        """Read the characteristic's last points up to record ``upto`` and judge the last
        :data:`spc.MAX_WINDOW` plotted points of them again."""
        # Judged with a full window of points before each (a violation that started before
        # them is then seen to continue, not to start again).
        keep = (spc.MAX_WINDOW + 2) * c.subgroup
        points = _points(conn, c, "AND seq <= :upto", "DESC", 2 * keep, upto=upto)
        count = _count_before(conn, c, upto + 1) if c.subgroup > 1 else len(points)
        split = max(0, len(points) - spc.MAX_WINDOW * c.subgroup)
        fresh = points[split:]
        self._recent[c.id] = _Recent(deque(points[:split], maxlen=keep), count - len(fresh))
        self._judge(conn, c, fresh)

    def _judge(self, conn: sa.Connection, c: Characteristic, new: list[Point]) -> None:
        """Judge the characteristic's ``new`` points (in log order) after those it holds."""
        recent = self._recent[c.id]
        before = list(recent.points)
        ordinal = recent.count - len(before)  # of before[0] among the characteristic's points
        recent.points.extend(new)
        recent.count += len(new)
        known = self.charts.limits_and_baseline(conn, c)
        if known is None or not new:
            return
        limits, baseline_end = known
        # Subgroups are consecutive runs of n counted from the characteristic's first point.
        plotted = plot((before + new)[(-ordinal) % c.subgroup :], c.subgroup)
        last_old = before[-1].seq if before else -1
        first_new = sum(1 for g in plotted if g.last.seq <= last_old)
        found = spc.evaluate([p.value for p in plotted], limits.center, limits.sigma_point, c.rules)
        for v in found:
            # The baseline's own points estimated the limits: they are not judged by them.
            if v.first >= first_new and plotted[v.first].last.seq > baseline_end:
                self._raise(conn, c, limits, plotted, v)

    def _raise(
        self,
        conn: sa.Connection,
        c: Characteristic,
        limits: spc.Limits,
        plotted: Sequence[Plotted],
        v: spc.Violation,
    ) -> None:
        at = plotted[v.first]
        ident = alert_id(c, v.rule, at)
        exists = conn.execute(
            sa.text("SELECT 1 FROM records WHERE record_id = :id"), {"id": ident}
        ).first()
        if exists:
            return
        pattern = [plotted[i] for i in v.pattern if i >= 0]
        lot = at.last.lot
        refs = _refs(pattern, lot)
        unit = f" {at.last.unit}" if at.last.unit else ""
        what = "the subgroup mean" if c.subgroup > 1 else "the value"
        description = (
            f"SPC {c.id}: {v.text} ({v.rule}) at {at.last.record_id}, {what} {at.value:.6g}{unit}"
            f"; centre {limits.center:.6g}, control limits {limits.lcl:.6g}..{limits.ucl:.6g}: "
            "a sign of a special cause; investigate before the process leaves its specification"
        )
        record: dict[str, Any] = {
            "record_id": ident,
            "type": "alert",
            "schema": "alert/1",
            "alert_id": ident,
            "source": "plc" if c.tag is not None else "audit",
            "severity": "warning",
            "description": description,
            "details": {
                "spc": {
                    "characteristic": c.id,
                    "rule": v.rule,
                    "rule_text": v.text,
                    "action": c.action,
                    "chart": c.chart,
                    "center": limits.center,
                    "ucl": limits.ucl,
                    "lcl": limits.lcl,
                    "sigma": limits.sigma_point,
                    "lot": lot,
                    "points": [
                        {"records": [p.record_id for p in g.points], "value": g.value}
                        for g in pattern
                    ],
                }
            },
        }
        if c.action == "block" and lot is not None:
            record["lot"] = lot
            record["refs"] = refs
        else:
            record["refs"] = [p.record_id for g in pattern for p in g.points][-100:]
        try:
            self.submitter.submit_signed(record, self.account(), "recorded")
        except ConflictError:
            return  # raised meanwhile (another instance)
        except LedgerError as exc:
            log.error("SPC alert %s refused by the ledger, not logged: %s", ident, exc)
            return
        self.raised.append(ident)
        log.warning(
            "SPC alert %s: %s %s at %s (lot %s, %s)",
            ident,
            c.id,
            v.rule,
            at.last.record_id,
            lot,
            "blocks its release" if "lot" in record else "warning only",
        )

    def account(self) -> LocalAccount:
        if self._account is None:
            self._account = load_account(self.key_path, "audit key")
        return self._account


def _refs(pattern: Iterable[Plotted], lot: str | None) -> list[str]:
    """The pattern's records of ``lot`` (an alert names records of its own lot), at most 100."""
    return [p.record_id for g in pattern for p in g.points if p.lot == lot][-100:]
