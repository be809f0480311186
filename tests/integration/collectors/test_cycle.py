"""One collector cycle against real agents: a silent router is one alert, not two; healing resolves it."""
from __future__ import annotations

import asyncio
import json
import os
import signal

import pytest
from sqlalchemy import select

from collectors.models import Alert, DeviceStatus, InterfaceStatus
from collectors.service import Collector
from collectors.targets import Endpoint, build_targets
from tests.integration.collectors.conftest import start_snmpd, stop
from topology import load_inventory
from wangnet.config import PROJECT_ROOT
from wangnet.credentials import CredentialResolver

SMALL = PROJECT_ROOT / "tests" / "fixtures" / "inventory" / "valid.yaml"


@pytest.fixture
def agents(tmp_path):
    procs, agents = {}, {}
    for device in ("city-core-1", "dalad-rt", "shulinzhao-rt"):
        procs[device], agents[device] = start_snmpd(tmp_path / device, "ro-community-x1", device)
    yield procs, agents
    for proc in procs.values():
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGCONT)
        stop(proc)


def test_silent_router_is_one_alert_and_heals(agents, store):
    procs, ports = agents
    inventory = load_inventory(SMALL)
    resolver = CredentialResolver({"WANGNET_CRED_SNMP_RO_COMMUNITY": "ro-community-x1"})

    def targets():
        return build_targets(inventory, lambda d: Endpoint("127.0.0.1", ports[d.id].port), resolver, timeout=2.0, retries=1)

    collector = Collector(inventory, store, targets, clear_after=2)

    def alerts(state=None):
        with store.session() as s:
            q = select(Alert) if state is None else select(Alert).where(Alert.state == state)
            return list(s.scalars(q))

    def states():
        with store.session() as s:
            return {d.device: (d.state, d.behind) for d in s.scalars(select(DeviceStatus))}

    async def scenario():
        try:
            first = await collector.cycle()
            assert all(r.ok for r in first.results), [r.error for r in first.results]
            assert alerts() == []
            assert set(states().values()) == {("up", None)}

            os.kill(procs["dalad-rt"].pid, signal.SIGSTOP)  # the router falls silent
            report = await collector.cycle()
            assert report.decision.opened == ("device:dalad-rt",)
            (alert,) = alerts("open")
            assert alert.subject == "dalad-rt"
            assert json.loads(alert.cut_off_sites) == ["dalad", "shulinzhao"]
            assert states()["dalad-rt"] == ("down", "device:dalad-rt")
            assert states()["shulinzhao-rt"] == ("unreachable", "device:dalad-rt")
            await collector.cycle()
            assert len(alerts()) == 1  # still one alert, not one per cycle or per device

            os.kill(procs["dalad-rt"].pid, signal.SIGCONT)
            await collector.cycle()  # hysteresis: first clean cycle keeps it open
            assert len(alerts("open")) == 1
            await collector.cycle()
            (resolved,) = alerts("resolved")
            assert resolved.resolved_at is not None
            assert set(states().values()) == {("up", None)}
        finally:
            collector.close()

    asyncio.run(scenario())
    with store.session() as s:
        lo = s.get(InterfaceStatus, ("city-core-1", "lo"))
        assert lo is not None and lo.oper_up is True and lo.in_bps is not None


def test_missing_credential_is_reported_not_fatal(store):
    inventory = load_inventory(SMALL)
    targets, errors = build_targets(inventory, lambda d: Endpoint("127.0.0.1", 9), CredentialResolver({}))
    assert targets == []
    assert errors["dalad-rt"].startswith("dalad-rt: credential 'snmp-ro' has no 'community'")


def test_service_behind_a_silent_router_is_unreachable_not_down(agents, store):
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from collectors.models import ServiceStatus
    from topology import load_inventory_text

    procs, ports = agents
    inventory = load_inventory_text(
        SMALL.read_text()
        + "services:\n  - {id: portal, name: 达拉特旗门户, kind: http, site: dalad, device: dalad-rt, address: 10.2.1.10, port: 80}\n"
    )
    status = {"code": 200}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(status["code"])
            self.end_headers()

        def log_message(self, *a):
            pass

    web = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=web.serve_forever, daemon=True).start()
    resolver = CredentialResolver({"WANGNET_CRED_SNMP_RO_COMMUNITY": "ro-community-x1"})
    collector = Collector(
        inventory,
        store,
        lambda: build_targets(inventory, lambda d: Endpoint("127.0.0.1", ports[d.id].port), resolver, timeout=2.0, retries=1),
        clear_after=1,
        services=lambda: [(s, "127.0.0.1", web.server_port) for s in inventory.services],
    )

    def service_state():
        with store.session() as s:
            row = s.get(ServiceStatus, "portal")
            return row.state, row.behind

    async def scenario():
        try:
            await collector.cycle()
            assert service_state() == ("up", None)
            os.kill(procs["dalad-rt"].pid, signal.SIGSTOP)
            report = await collector.cycle()
            assert service_state() == ("unreachable", "device:dalad-rt")
            assert [c.key for c in report.assessment.causes] == ["device:dalad-rt"]  # no separate service alert
            os.kill(procs["dalad-rt"].pid, signal.SIGCONT)
            status["code"] = 503
            report = await collector.cycle()
            assert service_state() == ("down", "service:portal")
            assert [c.key for c in report.assessment.causes] == ["service:portal"]
        finally:
            collector.close()
            web.shutdown()

    asyncio.run(scenario())


def test_link_down_trap_raises_the_link_alert_at_once(agents, store):
    """A linkDown trap wakes the collector long before its schedule and names the link, not the far router."""
    import subprocess
    import time

    from collectors.service import CollectorService
    from collectors.trapd import TrapReceiver

    procs, ports = agents
    inventory = load_inventory(SMALL)
    resolver = CredentialResolver({"WANGNET_CRED_SNMP_RO_COMMUNITY": "ro-community-x1"})
    collector = Collector(
        inventory, store,
        lambda: build_targets(inventory, lambda d: Endpoint("127.0.0.1", ports[d.id].port), resolver, timeout=1.0, retries=1),
    )
    service = CollectorService(collector, interval=600)  # the schedule alone would not poll again for 10 minutes

    async def scenario():
        receiver = TrapReceiver("127.0.0.1", 0, {"127.0.0.1": ("city-core-1", frozenset({"trap-c"}))}.get, service.on_trap)
        await receiver.start()
        await service.start()
        try:
            first_deadline = time.monotonic() + 60
            while service.cycles < 1:
                assert time.monotonic() < first_deadline, "the collector's first cycle did not finish within 60 s"
                await asyncio.sleep(0.05)
            os.kill(procs["dalad-rt"].pid, signal.SIGSTOP)
            os.kill(procs["shulinzhao-rt"].pid, signal.SIGSTOP)
            sent = time.monotonic()
            # a subprocess of the loop with a deadline, not a thread: a stuck snmptrap fails here, named, and
            # is killed (once it hung the test until pytest-timeout with nothing saying where)
            trap = await asyncio.create_subprocess_exec(
                "snmptrap", "-v2c", "-c", "trap-c", f"127.0.0.1:{receiver.port}", "", "1.3.6.1.6.3.1.1.5.3",
                "1.3.6.1.2.1.2.2.1.1.1", "i", "1", "1.3.6.1.2.1.31.1.1.1.1.1", "s", "Gi1-1",
                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            )
            try:
                out, err = await asyncio.wait_for(trap.communicate(), 30)
            except asyncio.TimeoutError:
                trap.kill()
                await trap.wait()
                raise AssertionError("snmptrap did not finish within 30 s") from None
            assert trap.returncode == 0, f"snmptrap failed ({trap.returncode}): {err.decode(errors='replace')}"
            deadline = sent + 60
            while time.monotonic() < deadline:
                with store.session() as s:
                    keys = [a.key for a in s.scalars(select(Alert).where(Alert.state == "open"))]
                if keys:
                    break
                await asyncio.sleep(0.05)
            latency = time.monotonic() - sent
            print(f"linkDown trap → open alert in {latency:.2f} s")
            assert keys == ["link:city-core-1--dalad-rt"]
        finally:
            await service.stop()
            await receiver.stop()

    asyncio.run(scenario())


def test_agent_restart_resets_uptime_and_gives_no_rate_spike(agents, store, tmp_path):
    """An agent that restarts (sysUpTime back to zero) yields no rate for that interval, then normal rates."""
    procs, ports = agents
    inventory = load_inventory(SMALL)
    resolver = CredentialResolver({"WANGNET_CRED_SNMP_RO_COMMUNITY": "ro-community-x1"})
    current = dict(ports)
    collector = Collector(
        inventory, store,
        lambda: build_targets(inventory, lambda d: Endpoint("127.0.0.1", current[d.id].port), resolver, timeout=2.0, retries=1),
    )

    async def scenario():
        try:
            await collector.cycle()
            second = await collector.cycle()
            before = second.rates[("dalad-rt", "lo")]
            assert before.in_bps is not None and before.in_bps >= 0
            uptime_before = next(r.uptime_ticks for r in second.results if r.device == "dalad-rt")
            stop(procs["dalad-rt"])  # the "reboot": a new agent process on a new port
            procs["dalad-rt"], current["dalad-rt"] = start_snmpd(tmp_path / "rebooted", "ro-community-x1", "dalad-rt")
            collector.poller.close()  # a new engine: the old one's session was bound to the old port
            collector.poller = None
            after = await collector.cycle()
            uptime_after = next(r.uptime_ticks for r in after.results if r.device == "dalad-rt")
            assert uptime_after < uptime_before
            assert after.rates[("dalad-rt", "lo")].in_bps is None  # discarded, not a spike
            third = await collector.cycle()
            assert third.rates[("dalad-rt", "lo")].in_bps is not None
        finally:
            collector.close()

    asyncio.run(scenario())
