"""Link utilisation read from the collectors' interface table by name."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import MetaData, Table, create_engine, insert

from topology.loader import load_inventory
from wangnet.config import PROJECT_ROOT
from wangnet.linkload import link_utilisation
from wangnet.store import Store

INV = load_inventory(PROJECT_ROOT / "inventory.yaml")
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)


def _row(device: str, ifname: str, in_bps: float | None, out_bps: float | None, age_s: float = 10) -> dict:
    return {"device": device, "ifname": ifname, "if_index": 1, "in_bps": in_bps, "out_bps": out_bps,
            "counters": "{}", "updated_at": NOW - timedelta(seconds=age_s)}


def test_busier_end_and_direction_over_inventory_speed(store: Store) -> None:
    table = Table("interface_status", MetaData(), autoload_with=store.engine)
    with store.engine.begin() as conn:
        conn.execute(insert(table), [
            _row("dalad-rt", "Serial2-0", 200_000, 1_500_000),        # E1 (2 Mbit/s): 75 % out
            _row("zhandanzhao-rt", "Serial2-0", 1_000_000, 100_000),  # the far end sees less
            _row("city-core-1", "Gi1-4", 50_000_000, None),           # 1 Gbit/s: 5 %
            _row("dongsheng-rt", "GE0-0-5", 9_000_000, 9_000_000, age_s=3600),  # stale: ignored
            _row("hanggin-rt", "Serial2-0", 5_000_000, 0),            # over the link speed: clamped
        ])
    util = link_utilisation(store.engine, INV, now=NOW)
    assert util == {
        "dalad-rt--zhandanzhao-rt": 0.75,
        "city-core-1--dalad-rt": 0.05,
        "hanggin-rt--yiheusu-rt": 1.0,
    }


def test_no_collectors_table_means_no_measurement(tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine = create_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    assert link_utilisation(engine, INV, now=NOW) == {}
