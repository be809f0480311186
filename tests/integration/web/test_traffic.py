"""Traffic charts' data: written by real collector cycles against the simulation, served by the API by range."""
from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from collectors.models import InterfaceSample
from collectors.traffic import FIVE_MIN, RAW
from collectors.wiring import make_collector
from tests.conftest import login
from wangnet.config import load_settings

UPLINK_IF = "GE1-0-1"  # dalad-rt's end of city-core-1--dalad-rt


def test_collector_cycles_write_samples_and_the_api_returns_the_series(sim, app, store, make_user):  # noqa: F811
    from topology import load_inventory
    from wangnet.config import PROJECT_ROOT

    settings = load_settings(environ={}, var_dir=sim.var_dir, device_mode="sim")
    collector = make_collector(settings, load_inventory(PROJECT_ROOT / "inventory.yaml"), store, timeout=2.0, retries=1)
    collector.notifier = None

    async def cycles() -> list[int]:
        """Poll until dalad-rt answered three times (a loaded machine may make an agent miss its timeout)."""
        polled, dalad = [], 0
        try:
            while dalad < 3 and len(polled) < 8:
                report = await collector.cycle(confirm=False)
                polled.append(sum(len(r.interfaces) for r in report.results if r.ok))
                dalad += any(r.ok and r.device == "dalad-rt" for r in report.results)
        finally:
            collector.close()
        return polled

    polled = asyncio.run(cycles())
    with store.session() as s:
        raw = s.scalar(select(func.count()).select_from(InterfaceSample).where(InterfaceSample.resolution == RAW))
        mine = list(s.scalars(select(InterfaceSample).where(InterfaceSample.device == "dalad-rt",
                                                            InterfaceSample.ifname == UPLINK_IF).order_by(InterfaceSample.id)))
    assert raw == sum(polled) and polled[0] > 69  # one row per interface per poll
    assert len(mine) == 3 and mine[0].in_bps is None  # a rate needs two polls
    assert mine[2].in_bps > 0 and mine[2].out_bps > 0  # the simulation's counters move

    client = app.test_client()
    login(client, make_user("noc"))
    hour = client.get(f"/api/v1/devices/dalad-rt/interfaces/{UPLINK_IF}/traffic?range=hour").get_json()
    assert hour["source"] == "store" and hour["resolution"] == RAW
    assert hour["points"]["ts"] == [m.ts for m in mine] and hour["points"]["in_bps"][2] == mine[2].in_bps
    day = client.get(f"/api/v1/devices/dalad-rt/interfaces/{UPLINK_IF}/traffic?range=day").get_json()
    assert day["resolution"] == FIVE_MIN and day["points"]["ts"][-1] == mine[-1].ts  # the newest polls show at once
    week = client.get(f"/api/v1/devices/dalad-rt/interfaces/{UPLINK_IF}/traffic?range=week").get_json()
    assert week["points"]["ts"][-1] == mine[-1].ts

    page = client.get("/network/devices/dalad-rt").get_data(as_text=True)
    assert 'id="traffic-chart"' in page and "uPlot.iife.min.js" in page and "<script>" not in page


def test_traffic_api_refuses_bad_ranges_and_unknown_interfaces(app, make_user):
    client = app.test_client()
    login(client, make_user("noc"))
    bad = client.get("/api/v1/devices/dalad-rt/interfaces/GE1-0-1/traffic?range=year")
    assert bad.status_code == 400 and bad.get_json()["error"] == "range: 'year' is not one of hour, day, week"
    assert client.get("/api/v1/devices/dalad-rt/interfaces/nope/traffic").status_code == 404
    assert client.get("/api/v1/devices/ghost/interfaces/GE1-0-1/traffic").status_code == 404
    empty = client.get("/api/v1/devices/dalad-rt/interfaces/GE1-0-1/traffic").get_json()
    assert empty["range"] == "hour" and empty["points"]["ts"] == []
    staff = app.test_client()
    login(staff, make_user("staff"))
    assert staff.get("/api/v1/devices/dalad-rt/interfaces/GE1-0-1/traffic").status_code == 403
