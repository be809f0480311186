"""Current load of each inventory link, read from what the collectors stored.

Areas that plan traffic (the conference cascade) need link utilisation but
must not import the collectors, so this reads the collectors' table by name
with SQLAlchemy Core. No table, no rows or stale rows simply mean "no
measurement": the caller then plans as if the link were idle.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import Engine, MetaData, Table, select
from sqlalchemy.exc import NoSuchTableError, OperationalError

from topology.schema import Inventory

INTERFACE_TABLE = "interface_status"
MAX_AGE = timedelta(minutes=10)
"""Older measurements say nothing about now (collectors poll every 30 s by default)."""


def _aware(ts: datetime) -> datetime:
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=timezone.utc)


def link_utilisation(engine: Engine, inv: Inventory, now: datetime | None = None,
                     max_age: timedelta = MAX_AGE) -> dict[str, float]:
    """Link id -> 0..1: the busier direction at the busier end, over the link's inventory speed."""
    try:
        table = Table(INTERFACE_TABLE, MetaData(), autoload_with=engine)
    except (NoSuchTableError, OperationalError):
        return {}
    now = now or datetime.now(timezone.utc)
    rates: dict[tuple[str, str], float] = {}
    query = select(table.c.device, table.c.ifname, table.c.in_bps, table.c.out_bps, table.c.updated_at)
    with engine.connect() as conn:
        for device, ifname, in_bps, out_bps, updated_at in conn.execute(query):
            if updated_at is None or now - _aware(updated_at) > max_age:
                continue
            measured = [r for r in (in_bps, out_bps) if r is not None and r >= 0]
            if measured:
                rates[(device, ifname)] = max(measured)
    out: dict[str, float] = {}
    for link in inv.links:
        ends = [rates.get((e.device, e.interface)) for e in (link.a, link.b)]
        known = [r for r in ends if r is not None]
        if known and link.speed_mbps > 0:
            out[link.id] = min(1.0, max(known) / (link.speed_mbps * 1_000_000))
    return out
