"""The collectors against the simulation of all 69 devices: one alert per failure, resolved on heal."""
from __future__ import annotations

import asyncio
import json
import time

from sqlalchemy import select

from collectors.models import Alert, DeviceStatus
from collectors.wiring import make_collector
from topology import load_inventory
from topology.analysis import impact_of_link
from topology.graph import build_graph
from wangnet.config import PROJECT_ROOT, load_settings
from wangnet.store import Store

UPLINK = "city-core-1--dalad-rt"


def test_failed_uplink_is_one_alert_listing_dalad_and_its_townships(sim, tmp_path):  # noqa: F811
    settings = load_settings(environ={}, var_dir=sim.var_dir, device_mode="sim")
    store = Store(f"sqlite:///{tmp_path / 'collect.db'}")
    store.upgrade()
    inventory = load_inventory(PROJECT_ROOT / "inventory.yaml")
    expected = impact_of_link(build_graph(inventory), UPLINK)
    collector = make_collector(settings, inventory, store, timeout=2.0, retries=1)

    def open_alerts():
        with store.session() as s:
            return [(a.key, json.loads(a.cut_off_sites)) for a in s.scalars(select(Alert).where(Alert.state == "open"))]

    async def scenario():
        try:
            first = await collector.cycle()
            assert not first.errors, list(first.errors.values())[:3]
            assert all(r.ok for r in first.results), [r.error for r in first.results if not r.ok][:3]
            assert open_alerts() == []

            sim.fail(link=UPLINK)
            # the simulation applies it within moments; poll once it has, as the test is about the verdict
            deadline = time.monotonic() + 30
            while sim.snmp("snmpget", "dalad-rt", "1.3.6.1.2.1.1.3.0").returncode == 0 and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
            await collector.cycle()
            assert open_alerts() == [(f"link:{UPLINK}", list(expected.cut_off_sites))]
            with store.session() as s:
                states = {d.device: d.state for d in s.scalars(select(DeviceStatus))}
            assert {d for d, st in states.items() if st != "up"} == set(expected.cut_off_devices)
            assert all(states[d] == "unreachable" for d in expected.cut_off_devices)  # none of them "down"

            sim.heal()
            cycles = 0
            while open_alerts() and cycles < 6:  # hysteresis: resolved after two clean cycles
                await collector.cycle()
                cycles += 1
            assert open_alerts() == [] and cycles <= 3
            with store.session() as s:
                assert {d.state for d in s.scalars(select(DeviceStatus))} == {"up"}
                (resolved,) = s.scalars(select(Alert)).all()
                assert resolved.state == "resolved" and resolved.resolved_at is not None
        finally:
            collector.close()

    asyncio.run(scenario())
    store.dispose()
