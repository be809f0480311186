"""The network's state as pages show it, built from the store's latest rows (pure).

Pages never ask devices anything: the collector writes device, interface and
alert rows; this turns them into per-site, per-device and per-link states with
utilisation, and into the *changes* between two snapshots so that a live page
receives only what moved.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from topology.schema import Inventory

STATE_ORDER = {"down": 3, "unreachable": 2, "degraded": 1, "up": 0, "unknown": -1}
DEGRADED_UTILISATION = 0.9
DEGRADED_ERRORS_PER_S = 1.0


@dataclass(frozen=True)
class DeviceRow:
    device: str
    state: str
    behind: str | None = None


@dataclass(frozen=True)
class InterfaceRowView:
    device: str
    ifname: str
    oper_up: bool | None
    in_bps: float | None
    out_bps: float | None
    in_errors_per_s: float | None = None


@dataclass(frozen=True)
class AlertRow:
    id: int
    key: str
    kind: str
    subject: str
    severity: str
    state: str
    cut_off_sites: tuple[str, ...]


@dataclass
class Snapshot:
    devices: dict[str, dict[str, Any]] = field(default_factory=dict)
    sites: dict[str, dict[str, Any]] = field(default_factory=dict)
    links: dict[str, dict[str, Any]] = field(default_factory=dict)
    alerts: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"devices": self.devices, "sites": self.sites, "links": self.links, "alerts": self.alerts}


def _worst(states: Iterable[str]) -> str:
    states = list(states)
    return max(states, key=lambda s: STATE_ORDER.get(s, -1)) if states else "unknown"


def snapshot(
    inventory: Inventory,
    devices: Iterable[DeviceRow],
    interfaces: Iterable[InterfaceRowView],
    alerts: Iterable[AlertRow],
) -> Snapshot:
    dev = {d.device: d for d in devices}
    ifaces = {(i.device, i.ifname): i for i in interfaces}
    active = [a for a in alerts if a.state in ("open", "acknowledged")]
    root_links = {lid for a in active if a.kind == "link" for lid in a.subject.split("+")}
    root_devices = {did for a in active if a.kind == "device" for did in a.subject.split("+")}
    cut_sites = {s for a in active for s in a.cut_off_sites}
    out = Snapshot()
    for d in inventory.devices:
        row = dev.get(d.id)
        out.devices[d.id] = {
            "state": row.state if row else "unknown",
            "behind": row.behind if row else None,
            "root": d.id in root_devices,
        }
    for s in inventory.sites:
        members = [out.devices[d.id]["state"] for d in inventory.devices_at(s.id)]
        out.sites[s.id] = {"state": _worst(members), "cut_off": s.id in cut_sites}
    for link in inventory.links:
        a = ifaces.get((link.a.device, link.a.interface))
        b = ifaces.get((link.b.device, link.b.interface))
        a_state, b_state = out.devices[link.a.device]["state"], out.devices[link.b.device]["state"]
        if link.id in root_links or (a and a.oper_up is False) or (b and b.oper_up is False):
            state = "down"
        elif a_state != "up" or b_state != "up":
            state = "unreachable" if "unreachable" in (a_state, b_state) or "down" in (a_state, b_state) else "unknown"
        else:
            state = "up"
        ceiling = link.speed_mbps * 1_000_000
        rates = a or b
        in_bps = rates.in_bps if rates else None
        out_bps = rates.out_bps if rates else None
        util = max((x for x in (in_bps, out_bps) if x is not None), default=None)
        utilisation = round(min(util / ceiling, 1.0), 4) if util is not None else None
        errors = max((x.in_errors_per_s or 0.0) for x in (a, b) if x is not None) if (a or b) else 0.0
        if state == "up" and ((utilisation or 0) >= DEGRADED_UTILISATION or errors >= DEGRADED_ERRORS_PER_S):
            state = "degraded"
        out.links[link.id] = {
            "state": state,
            "root": link.id in root_links,
            "in_bps": in_bps,
            "out_bps": out_bps,
            "utilisation": utilisation,
            "errors_per_s": errors,
        }
    out.alerts = [
        {"id": a.id, "key": a.key, "kind": a.kind, "subject": a.subject, "severity": a.severity, "state": a.state,
         "cut_off_sites": list(a.cut_off_sites)}
        for a in sorted(active, key=lambda a: a.id)
    ]
    return out


# A link's traffic moves a little every poll; the map shows utilisation in whole percent, so rates
# that moved by less than this (and nothing else) are not news for a live page.
UTILISATION_STEP = 0.01


def _link_moved(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> bool:
    if old is None:
        return True
    if any(old.get(k) != new.get(k) for k in ("state", "root", "errors_per_s")):
        return True
    a, b = old.get("utilisation"), new.get("utilisation")
    if a is None or b is None:
        return a is not b or (old.get("in_bps") is None) != (new.get("in_bps") is None)
    return abs(a - b) >= UTILISATION_STEP


def changes(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> dict[str, Any]:
    """Only what differs: changed entries per section, and the alert list when it changed.

    Links count as changed when their state, root flag or errors changed, or
    their utilisation moved by a whole point; the stream keeps what it sent
    (``apply_changes``) as the base of the next comparison, so small moves add
    up and are sent once they matter.
    """
    if old is None:
        return dict(new)
    out: dict[str, Any] = {}
    for section in ("devices", "sites", "links"):
        if section == "links":
            moved = {k: v for k, v in new[section].items() if _link_moved(old[section].get(k), v)}
        else:
            moved = {k: v for k, v in new[section].items() if old[section].get(k) != v}
        if moved:
            out[section] = moved
    if json.dumps(old["alerts"], sort_keys=True) != json.dumps(new["alerts"], sort_keys=True):
        out["alerts"] = new["alerts"]
    return out


def apply_changes(base: Mapping[str, Any], delta: Mapping[str, Any]) -> dict[str, Any]:
    """What a client holds after receiving ``delta`` on top of ``base``."""
    out = dict(base)
    for section in ("devices", "sites", "links"):
        if section in delta:
            out[section] = {**base[section], **delta[section]}
    if "alerts" in delta:
        out["alerts"] = delta["alerts"]
    return out
