"""Prometheus view of the collectors: raw counters as ``*_total``, states as gauges.

A custom collector reads the last cycle at scrape time, so a scrape costs no
SNMP traffic and the exported counters are the devices' own raw values
(Prometheus computes rates and handles resets itself).
"""
from __future__ import annotations

from typing import Callable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from topology.schema import Inventory

COUNTER_NAMES = {
    "hc_in_octets": ("wangnet_if_in_octets", "Octets received (ifHCInOctets)"),
    "hc_out_octets": ("wangnet_if_out_octets", "Octets sent (ifHCOutOctets)"),
    "hc_in_ucast": ("wangnet_if_in_unicast_packets", "Unicast packets received"),
    "hc_out_ucast": ("wangnet_if_out_unicast_packets", "Unicast packets sent"),
    "in_errors": ("wangnet_if_in_errors", "Inbound errors (ifInErrors)"),
    "out_errors": ("wangnet_if_out_errors", "Outbound errors (ifOutErrors)"),
    "in_discards": ("wangnet_if_in_discards", "Inbound discards"),
    "out_discards": ("wangnet_if_out_discards", "Outbound discards"),
}
DEVICE_LABELS = ["device", "site", "tier"]
IF_LABELS = ["device", "site", "tier", "ifname"]
STATE_VALUE = {"up": 1.0, "down": 0.0, "unreachable": 0.0}


class CollectorMetrics(Collector):
    """Exports whatever the latest cycle report holds; ``report`` returns it (or None before the first)."""

    def __init__(
        self,
        inventory: Inventory,
        report: Callable[[], object | None],
        failures: Callable[[], dict[str, int]],
        services: Callable[[], dict[str, object]] = dict,
    ) -> None:
        self.services = services
        self.site = {d.id: d.site for d in inventory.devices}
        self.tier = {s.id: s.tier for s in inventory.sites}
        self.report = report
        self.failures = failures

    def _labels(self, device: str) -> list[str]:
        site = self.site.get(device, "")
        return [device, site, self.tier.get(site, "")]

    def collect(self) -> Iterator[object]:
        report = self.report()
        counters = {col: CounterMetricFamily(name, doc, labels=IF_LABELS) for col, (name, doc) in COUNTER_NAMES.items()}
        oper = GaugeMetricFamily("wangnet_if_oper_up", "ifOperStatus is up (1) or not (0)", labels=IF_LABELS)
        speed = GaugeMetricFamily("wangnet_if_speed_mbps", "ifHighSpeed", labels=IF_LABELS)
        device_up = GaugeMetricFamily("wangnet_device_up", "Device answers SNMP (1) or not (0)", labels=DEVICE_LABELS)
        unreachable = GaugeMetricFamily(
            "wangnet_device_unreachable", "Device is cut off behind another failure (1)", labels=DEVICE_LABELS
        )
        poll_seconds = GaugeMetricFamily("wangnet_poll_device_seconds", "Last poll duration", labels=DEVICE_LABELS)
        link_up = GaugeMetricFamily("wangnet_link_up", "Inventory link state: 1 up, 0 down", labels=["link"])
        causes = GaugeMetricFamily("wangnet_root_causes", "Open root causes by severity", labels=["severity"])
        cycle = GaugeMetricFamily("wangnet_poll_cycle_seconds", "Duration of the last full poll cycle")
        failed = CounterMetricFamily("wangnet_poll_failures", "Polls without a complete answer", labels=DEVICE_LABELS)
        service_up = GaugeMetricFamily("wangnet_service_up", "Application check passes (1) or not (0)", labels=["service", "state"])
        for sid, state in sorted(self.services().items()):
            service_up.add_metric([sid, state.state], 1.0 if state.state == "up" else 0.0)  # type: ignore[attr-defined]
        for device, count in sorted(self.failures().items()):
            failed.add_metric(self._labels(device), count)
        if report is not None:
            cycle.add_metric([], report.duration)  # type: ignore[attr-defined]
            for result in report.results:  # type: ignore[attr-defined]
                labels = self._labels(result.device)
                poll_seconds.add_metric(labels, result.duration)
                for row in result.interfaces:
                    if_labels = labels + [row.name]
                    for column, value in row.counters.items():
                        if column in counters:
                            counters[column].add_metric(if_labels, value)
                    if row.oper_up is not None:
                        oper.add_metric(if_labels, 1.0 if row.oper_up else 0.0)
                    if row.speed_mbps is not None:
                        speed.add_metric(if_labels, row.speed_mbps)
            for device, state in report.assessment.devices.items():  # type: ignore[attr-defined]
                device_up.add_metric(self._labels(device), STATE_VALUE.get(state.state, 0.0))
                unreachable.add_metric(self._labels(device), 1.0 if state.state == "unreachable" else 0.0)
            for link, state in report.assessment.links.items():  # type: ignore[attr-defined]
                if state != "unknown":
                    link_up.add_metric([link], 1.0 if state == "up" else 0.0)
            by_severity = {"critical": 0, "warning": 0}
            for cause in report.assessment.causes:  # type: ignore[attr-defined]
                by_severity[cause.severity] = by_severity.get(cause.severity, 0) + 1
            for severity, count in by_severity.items():
                causes.add_metric([severity], count)
        yield from counters.values()
        yield from (oper, speed, device_up, unreachable, poll_seconds, link_up, causes, cycle, failed, service_up)
