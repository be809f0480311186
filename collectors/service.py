"""The collector: poll every device, correlate through the graph, record state and alerts.

``Collector.cycle`` is one complete pass and is what tests, ``wangnet poll``
and traps call; ``CollectorService`` repeats it on a schedule inside the
runtime's asyncio loop. Database writes run in a worker thread so a slow
store never stalls the polls of the next cycle.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from sqlalchemy import select

from collectors.alerts import Decision, Hysteresis
from collectors.correlate import Assessment, RootCause, correlate, links_reported_down, predict
from collectors.models import Alert, DeviceStatus, InterfaceStatus, ServiceStatus
from collectors.notify import AlertEvent
from collectors.rates import InterfaceRates, RateTracker
from collectors.servicechecks import check
from collectors.traffic import TrafficHistory
from collectors.snmp import PollResult, SnmpPoller, SnmpTarget
from topology.graph import build_graph
from topology.schema import Inventory, Service
from wangnet.accounts import utcnow
from wangnet.store import Store

if TYPE_CHECKING:
    from collectors.notifier import Notifier

log = logging.getLogger(__name__)
TargetsFn = Callable[[], tuple[list[SnmpTarget], dict[str, str]]]
# the services to check and where each is reached (host, port) in this device mode
ServicesFn = Callable[[], list[tuple[Service, str, int]]]
ACTIVE_STATES = ("open", "acknowledged")
# how long a linkDown/linkUp trap overrides a polled ifOperStatus (past any agent's interface cache)
TRAP_TRUST_SECONDS = 10.0


@dataclass(frozen=True)
class ServiceState:
    state: str  # up | down | unreachable
    behind: str | None
    detail: str
    seconds: float | None


@dataclass(frozen=True)
class CycleReport:
    started: float
    duration: float
    results: tuple[PollResult, ...]
    errors: dict[str, str]
    assessment: Assessment
    decision: Decision
    rates: dict[tuple[str, str], InterfaceRates]


class Collector:
    """Holds what must survive between cycles: counter history and alert hysteresis."""

    def __init__(
        self,
        inventory: Inventory,
        store: Store,
        targets: TargetsFn,
        poller: SnmpPoller | None = None,
        clear_after: int = 2,
        notifier: "Notifier | None" = None,
        services: ServicesFn | None = None,
        confirm_delay: float = 3.5,
    ) -> None:
        self.inventory = inventory
        self.graph = build_graph(inventory)
        self.store = store
        self.targets = targets
        self.poller = poller
        self.notifier = notifier
        self.services = services
        self.confirm_delay = confirm_delay
        self._trap_states: dict[tuple[str, str], tuple[bool, float]] = {}
        self.rates = RateTracker()
        self.traffic = TrafficHistory()  # recent samples and rollups for the device charts
        self.hysteresis = Hysteresis(clear_after)
        self._restored = False
        self._lock = asyncio.Lock()
        self._write_lock = asyncio.Lock()  # the early trap path and the cycle never write alerts at once
        self.last_report: CycleReport | None = None
        self.last_services: dict[str, ServiceState] = {}
        self.failures: dict[str, int] = {}

    def _restore(self) -> None:
        with self.store.session() as s:
            keys = s.scalars(select(Alert.key).where(Alert.state.in_(ACTIVE_STATES)))
            self.hysteresis.restore(keys)
        self._restored = True

    def note_trap(self, device: str, trap) -> bool:  # type: ignore[no-untyped-def]
        """Remember what a linkDown/linkUp trap says about an interface; True when it is news.

        A trap is fresher than any agent's cached interface table, so for a
        short while it overrides what a poll reports for that interface, and
        the cycle it triggers needs no confirmation delay.
        """
        if trap.kind not in ("linkDown", "linkUp"):
            return False
        name = trap.if_name
        if name is None and trap.if_index is not None and self.last_report is not None:
            result = next((r for r in self.last_report.results if r.device == device), None)
            row = next((i for i in (result.interfaces if result else ()) if i.index == trap.if_index), None)
            name = row.name if row else None
        if name is None:
            return False
        self._trap_states[(device, name)] = (trap.kind == "linkUp", time.monotonic())
        return True

    async def cycle(self, confirm: bool = True) -> CycleReport:
        """Poll all devices once and record what that means; cycles never overlap."""
        async with self._lock:
            if self.poller is None:
                self.poller = SnmpPoller()
            if not self._restored:
                await asyncio.to_thread(self._restore)
            started = time.monotonic()
            targets, errors = self.targets()
            results = await self.poller.poll_many(targets)
            assessment = self._assess(results, errors)
            new_cause = any(not self.hysteresis.is_active(c.key) for c in assessment.causes)
            if confirm and self.confirm_delay > 0 and new_cause:
                results = await self._confirm(targets)
                assessment = self._assess(results, errors)
            service_states = await self._check_services(assessment)
            service_causes = tuple(
                RootCause("service", (sid,)) for sid, st in sorted(service_states.items()) if st.state == "down"
            )
            assessment = Assessment(assessment.devices, assessment.links, assessment.causes + service_causes)
            decision = self.hysteresis.observe(c.key for c in assessment.causes)
            now = time.monotonic()
            rates = {
                (r.device, row.name): self.rates.update(r.device, row, r.uptime_ticks or 0, r.finished)
                for r in results
                if r.ok
                for row in r.interfaces
            }
            for result in results:
                if not result.ok:
                    self.failures[result.device] = self.failures.get(result.device, 0) + 1
            async with self._write_lock:
                events = await asyncio.to_thread(self._record, results, errors, assessment, decision, rates, service_states)
            if self.notifier is not None and events:
                try:
                    await self.notifier.dispatch(events)
                except Exception:  # telling people must never stop watching the network
                    log.exception("notification dispatch failed")
            self.last_report = CycleReport(started, now - started, tuple(results), errors, assessment, decision, rates)
            return self.last_report

    async def alert_from_traps(self) -> list[AlertEvent]:
        """Open the alert a linkDown trap implies before the poll it triggers has finished.

        The poll must wait out the timeouts of the devices behind the failed
        link; the graph already says which devices those are. So the link the
        trap names opens its alert at once, with its cut-off sites, and the
        poll that follows confirms it (or, if the trap lied, lets it resolve).
        Only new link causes that a trap named are opened here: a silent
        device is never declared down from a prediction.
        """
        report = self.last_report
        if report is None or not self._trap_states:
            return []
        if not self._restored:
            await asyncio.to_thread(self._restore)
        answering, oper = self._observed(list(report.results), report.errors)
        trapped = links_reported_down(self.graph, {key: up for key, (up, _) in self._trap_states.items()})
        predicted = predict(self.graph, answering, links_reported_down(self.graph, oper))
        fresh = tuple(
            c for c in predicted.causes
            if c.kind == "link" and trapped.intersection(c.ids) and not self.hysteresis.is_active(c.key)
        )
        if not fresh:
            log.info("trap on %s: nothing new to open early (predicted: %s)", ", ".join(sorted(trapped)) or "no known link",
                     ", ".join(c.key for c in predicted.causes) or "no cause")
            return []
        decision = self.hysteresis.open(c.key for c in fresh)
        async with self._write_lock:
            events = await asyncio.to_thread(self._record_early, Assessment({}, {}, fresh), decision)
        if self.notifier is not None and events:
            try:
                await self.notifier.dispatch(events)
            except Exception:  # telling people must never stop watching the network
                log.exception("notification dispatch failed")
        return events

    def _observed(self, results: list[PollResult], errors: dict[str, str]) -> tuple[set[str], dict[tuple[str, str], bool]]:
        """Who answered and which interfaces are up, with fresh traps overriding cached interface tables."""
        answering = {r.device for r in results if r.ok} | set(errors)  # unpollable ≠ proven down
        oper = {
            (r.device, row.name): row.oper_up
            for r in results
            if r.ok
            for row in r.interfaces
            if row.oper_up is not None and row.admin_up is not False
        }
        now = time.monotonic()
        for key, (up, at) in list(self._trap_states.items()):
            if now - at > TRAP_TRUST_SECONDS:
                del self._trap_states[key]
            elif key[0] in answering:
                oper[key] = up
        return answering, oper

    def _assess(self, results: list[PollResult], errors: dict[str, str]) -> Assessment:
        answering, oper = self._observed(results, errors)
        return correlate(self.graph, answering, links_reported_down(self.graph, oper))

    async def _confirm(self, targets: list[SnmpTarget]) -> list[PollResult]:
        """Poll everything once more before naming a new cause.

        Polls within one cycle are not simultaneous, and agents cache their
        interface table for seconds (net-snmp ~3 s): a failure that happens
        during a cycle can show the router in front of a cut still reporting
        the link up while the devices behind it already stay silent, which
        would blame the far router instead of the link. Waiting past the cache
        and polling again gives one consistent picture before an alert opens.
        """
        await asyncio.sleep(self.confirm_delay)
        return await self.poller.poll_many(targets)  # type: ignore[union-attr]

    async def _check_services(self, assessment: Assessment) -> dict[str, ServiceState]:
        """Check the services whose server hangs off a device we can see; the others are behind its cause."""
        if self.services is None:
            return {}
        states: dict[str, ServiceState] = {}
        to_check = []
        for svc, host, port in self.services():
            device = assessment.devices.get(svc.device)
            if device is not None and device.state != "up":
                states[svc.id] = ServiceState("unreachable", device.behind, f"{svc.device} is {device.state}", None)
            else:
                to_check.append((svc, host, port))
        for result in await asyncio.gather(*(check(svc, host, port) for svc, host, port in to_check)):
            states[result.service] = ServiceState("up" if result.ok else "down", None if result.ok else f"service:{result.service}", result.detail, result.seconds)
        self.last_services = states
        return states

    def close(self) -> None:
        if self.poller is not None:
            self.poller.close()
            self.poller = None

    # -- recording -------------------------------------------------------------------------------

    def _record(
        self,
        results: list[PollResult],
        errors: dict[str, str],
        assessment: Assessment,
        decision: Decision,
        rates: dict[tuple[str, str], InterfaceRates],
        service_states: "dict[str, ServiceState] | None" = None,
    ) -> list[AlertEvent]:
        now = utcnow()
        by_device = {r.device: r for r in results}
        samples: list[tuple[str, str, float | None, float | None]] = []
        with self.store.session() as s:
            for device, state in assessment.devices.items():
                result = by_device.get(device)
                row = s.get(DeviceStatus, device) or DeviceStatus(device=device)
                row.state = "unknown" if device in errors else state.state
                row.behind = state.behind
                row.error = errors.get(device) or (result.error if result and not result.ok else "") or ""
                row.uptime_ticks = result.uptime_ticks if result and result.ok else None
                row.poll_seconds = result.duration if result else None
                row.updated_at = now
                s.add(row)
            for result in results:
                if not result.ok:
                    continue
                for iface in result.interfaces:
                    r = rates[(result.device, iface.name)]
                    row = s.get(InterfaceStatus, (result.device, iface.name)) or InterfaceStatus(
                        device=result.device, ifname=iface.name
                    )
                    row.if_index = iface.index
                    row.oper_up, row.admin_up, row.speed_mbps = iface.oper_up, iface.admin_up, iface.speed_mbps
                    row.in_bps, row.out_bps = r.in_bps, r.out_bps
                    row.in_errors_per_s, row.out_errors_per_s = r.in_errors_per_s, r.out_errors_per_s
                    row.counters = json.dumps(dict(iface.counters), sort_keys=True)
                    row.updated_at = now
                    s.add(row)
                    samples.append((result.device, iface.name, r.in_bps, r.out_bps))
            self.traffic.after_poll(s, int(now.timestamp()), samples)
            for sid, st in (service_states or {}).items():
                row = s.get(ServiceStatus, sid) or ServiceStatus(service=sid)
                row.state, row.behind, row.detail, row.seconds, row.updated_at = st.state, st.behind, st.detail, st.seconds, now
                s.add(row)
            return self._record_alerts(s, assessment, decision, now)

    def _record_early(self, assessment: Assessment, decision: Decision) -> list[AlertEvent]:
        with self.store.session() as s:
            return self._record_alerts(s, assessment, decision, utcnow())

    def _record_alerts(self, s, assessment: Assessment, decision: Decision, now) -> list[AlertEvent]:  # type: ignore[no-untyped-def]
        events: list[AlertEvent] = []
        active = {a.key: a for a in s.scalars(select(Alert).where(Alert.state.in_(ACTIVE_STATES)))}
        for cause in assessment.causes:
            alert = active.get(cause.key)
            if alert is None:
                alert = _new_alert(cause, now)
                s.add(alert)
                active[cause.key] = alert
                log.warning("alert opened: %s cuts off %s", cause.key, ", ".join(cause.cut_off_sites) or "nothing")
                events.append(AlertEvent(cause.key, cause.kind, "+".join(cause.ids), cause.severity, "opened", cause.cut_off_sites))
            alert.cut_off_sites = json.dumps(list(cause.cut_off_sites))
            alert.cut_off_devices = json.dumps(list(cause.cut_off_devices))
            alert.severity = cause.severity
            alert.last_seen_at = now
            alert.flaps = self.hysteresis.flaps(cause.key)
        for key in decision.resolved:
            alert = active.get(key)
            if alert is not None:
                alert.state = "resolved"
                alert.resolved_at = now
                log.warning("alert resolved: %s", key)
                events.append(
                    AlertEvent(key, alert.kind, alert.subject, alert.severity, "resolved", tuple(json.loads(alert.cut_off_sites)))
                )
        return events


def _new_alert(cause: RootCause, now) -> Alert:  # type: ignore[no-untyped-def]
    return Alert(
        key=cause.key,
        kind=cause.kind,
        subject="+".join(cause.ids),
        severity=cause.severity,
        state="open",
        cut_off_sites="[]",
        cut_off_devices="[]",
        flaps=0,
        opened_at=now,
        last_seen_at=now,
        ack_comment="",
    )


class CollectorService:
    """Runs ``Collector.cycle`` every ``interval`` seconds, and at once when a trap says so."""

    name = "collectors"

    def __init__(self, collector: Collector, interval: float = 30.0) -> None:
        self.collector = collector
        self.interval = interval
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self.cycles = 0
        self._trusted = False  # the next cycle was triggered by a trap that told us the link state
        self._early: set[asyncio.Task[object]] = set()

    async def start(self) -> None:
        self._wake = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="collectors")

    async def stop(self) -> None:
        for task in list(self._early):
            task.cancel()
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        self.collector.close()

    def trigger(self) -> None:
        """Poll now (called from the loop, e.g. by the trap receiver)."""
        if self._wake is not None:
            self._wake.set()

    def on_trap(self, device: str, trap) -> None:  # type: ignore[no-untyped-def]
        """linkDown/linkUp/coldStart/warmStart: re-poll at once rather than wait for the schedule."""
        log.info("trap %s from %s (%s): polling now", trap.kind, device, trap.if_name or trap.if_index or "-")
        if trap.kind in ("linkDown", "linkUp", "coldStart", "warmStart"):
            news = self.collector.note_trap(device, trap)
            self._trusted = news or self._trusted
            if news and trap.kind == "linkDown":
                task = asyncio.get_running_loop().create_task(self._alert_early())
                self._early.add(task)
                task.add_done_callback(self._early.discard)
            self.trigger()

    async def _alert_early(self) -> None:
        try:
            await self.collector.alert_from_traps()
        except Exception:  # the poll that follows still raises the alert
            log.exception("early alert from trap failed")

    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            started = time.monotonic()
            self._wake.clear()
            confirm, self._trusted = not self._trusted, False  # a trap-triggered cycle knows the link state
            try:
                await self.collector.cycle(confirm=confirm)
            except Exception:  # a bad cycle is logged; the next one still runs
                log.exception("collector cycle failed")
            self.cycles += 1
            remaining = max(self.interval - (time.monotonic() - started), 0.0)
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=remaining)
            except TimeoutError:
                pass
