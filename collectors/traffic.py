"""Recent traffic per interface for the device page's charts: raw polls for an hour, rollups for a day and a week.

Cheap by construction: a poll cycle adds one row per interface (resolution 0);
once per five minutes the closed 5-minute buckets are rolled up (average and
maximum) from the raw rows, closed hours from the 5-minute rows, and rows past
their retention are deleted. Timestamps are integer epoch seconds, so bucket
arithmetic is integer division in SQL and the same on SQLite and PostgreSQL.

A chart over a range reads the coarsest resolution that covers it, and the
finer rows newer than the last rollup, so the newest minutes always show.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from sqlalchemy import case, delete, func, insert, literal, select
from sqlalchemy.orm import Session

from collectors.models import InterfaceSample

RAW, FIVE_MIN, HOUR = 0, 300, 3600
# resolution → seconds its rows are kept (a little past the range they serve, so a range is always full)
RETENTION = {RAW: 3600 + 600, FIVE_MIN: 86400 + 3600, HOUR: 7 * 86400 + 3 * 3600}
# chart range → (seconds shown, the resolution that serves it)
RANGES = {"hour": (3600, RAW), "day": (86400, FIVE_MIN), "week": (7 * 86400, HOUR)}
COARSER = {FIVE_MIN: RAW, HOUR: FIVE_MIN}  # rollup source of each resolution
RAW_INSERT = ("INSERT INTO interface_samples (device, ifname, resolution, ts, in_bps, out_bps, in_max, out_max, samples) "
              "VALUES ({param}, {param}, {param}, {param}, {param}, {param}, {param}, {param}, {param})")
_PARAM = {"qmark": "?", "format": "%s", "pyformat": "%s"}  # SQLite, psycopg
_COLUMNS = ("device", "ifname", "resolution", "ts", "in_bps", "out_bps", "in_max", "out_max", "samples")


def bucket(ts: int, resolution: int) -> int:
    """Start of the bucket holding ``ts``."""
    return ts - ts % resolution if resolution else ts


def closed_until(now: int, resolution: int) -> int:
    """Buckets of ``resolution`` starting before this are complete at ``now``."""
    return bucket(now, resolution)


def maintenance_due(last: int | None, now: int) -> bool:
    """Roll up and prune once per 5-minute boundary crossed, not every cycle."""
    return last is None or bucket(now, FIVE_MIN) > bucket(last, FIVE_MIN)


@dataclass(frozen=True)
class Point:
    ts: int
    in_bps: float | None
    out_bps: float | None
    in_max: float | None
    out_max: float | None
    resolution: int


def merge(layers: Iterable[list[Point]]) -> list[Point]:
    """Coarse rows, then each finer layer only after the coarser one ends: one ordered series, no overlap."""
    out: list[Point] = []
    for layer in layers:
        covered = out[-1].ts + out[-1].resolution if out else None
        out.extend(p for p in layer if covered is None or p.ts >= covered)
    return out


def record(s: Session, ts: int, rows: Iterable[tuple[str, str, float | None, float | None]]) -> int:
    """One raw sample per (device, ifname, in_bps, out_bps); returns how many."""
    values = [(d, i, RAW, ts, a, b, a, b, 1) for d, i, a, b in rows]
    if values:
        # thousands of rows per cycle: the driver's executemany, without SQLAlchemy's per-row parameter work (~4× faster)
        param = _PARAM.get(s.get_bind().dialect.paramstyle)
        if param is None:
            s.execute(InterfaceSample.__table__.insert(), [dict(zip(_COLUMNS, v)) for v in values])
        else:
            s.connection().exec_driver_sql(RAW_INSERT.format(param=param), values)
    return len(values)


def _latest(s: Session, resolution: int) -> int | None:
    return s.scalar(select(func.max(InterfaceSample.ts)).where(InterfaceSample.resolution == resolution))


def _earliest(s: Session, resolution: int) -> int | None:
    return s.scalar(select(func.min(InterfaceSample.ts)).where(InterfaceSample.resolution == resolution))


def roll_up(s: Session, resolution: int, now: int) -> int:
    """Aggregate every closed bucket of ``resolution`` not yet rolled up; returns the rows written."""
    source = COARSER[resolution]
    latest = _latest(s, resolution)
    start = latest + resolution if latest is not None else _earliest(s, source)
    end = closed_until(now, resolution)
    if start is None or start >= end:
        return 0
    start = bucket(start, resolution)
    t = InterfaceSample
    b = t.ts - t.ts % resolution  # integer arithmetic, the same in SQLite and PostgreSQL
    weight_in = func.sum(case((t.in_bps.is_not(None), t.samples), else_=0))  # samples that carry a value
    weight_out = func.sum(case((t.out_bps.is_not(None), t.samples), else_=0))
    query = (
        select(
            t.device, t.ifname, literal(resolution), b,
            func.sum(t.in_bps * t.samples) / func.nullif(weight_in, 0),
            func.sum(t.out_bps * t.samples) / func.nullif(weight_out, 0),
            func.max(t.in_max), func.max(t.out_max), func.sum(t.samples),
        )
        .where(t.resolution == source, t.ts >= start, t.ts < end)
        .group_by(t.device, t.ifname, b)
    )
    result = s.execute(
        insert(t).from_select(
            ["device", "ifname", "resolution", "ts", "in_bps", "out_bps", "in_max", "out_max", "samples"], query
        )
    )
    return result.rowcount or 0


def prune(s: Session, now: int) -> int:
    removed = 0
    for resolution, keep in RETENTION.items():
        result = s.execute(
            delete(InterfaceSample).where(InterfaceSample.resolution == resolution, InterfaceSample.ts < now - keep)
        )
        removed += result.rowcount or 0
    return removed


def maintain(s: Session, now: int) -> tuple[int, int]:
    """Roll up 5-minute then hourly buckets, then prune; (rows rolled up, rows pruned)."""
    rolled = roll_up(s, FIVE_MIN, now) + roll_up(s, HOUR, now)
    return rolled, prune(s, now)


def series(s: Session, device: str, ifname: str, range_name: str, now: int) -> list[Point]:
    """The points of one interface over ``range_name`` (hour, day, week), oldest first."""
    span, resolution = RANGES[range_name]
    since = now - span
    layers = []
    for res in (HOUR, FIVE_MIN, RAW):
        if res > resolution:
            continue
        rows = s.execute(
            select(InterfaceSample.ts, InterfaceSample.in_bps, InterfaceSample.out_bps, InterfaceSample.in_max,
                   InterfaceSample.out_max)
            .where(InterfaceSample.device == device, InterfaceSample.ifname == ifname,
                   InterfaceSample.resolution == res, InterfaceSample.ts >= bucket(since, res))
            .order_by(InterfaceSample.ts)
        )
        layers.append([Point(ts, a, b, c, d, res) for ts, a, b, c, d in rows])
    return merge(layers)


class TrafficHistory:
    """What the collector keeps between cycles: when the rollups last ran."""

    def __init__(self) -> None:
        self.last_maintenance: int | None = None

    def after_poll(self, s: Session, now: int, rows: Iterable[tuple[str, str, float | None, float | None]]) -> None:
        record(s, now, rows)
        if maintenance_due(self.last_maintenance, now):
            maintain(s, now)
            self.last_maintenance = now
