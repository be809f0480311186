"""The simulation's devices as values: MIB rows, rising counters and what a failure silences.

Pure: time is passed in (seconds since the simulation started), failures are
sets of ids. ``lab/sim/agent.py`` puts these values on the wire.

Counters rise at a fixed share of each link's speed (a deterministic
"utilisation" per direction, from a hash of the names, so every run and every
end agrees: what leaves one end of a link enters the other). A link that is
down carries nothing, so its counters stand still; they never go backwards.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Iterable

import networkx as nx

from topology.schema import Inventory

MAX_COUNTER32 = 2**32
MAX_COUNTER64 = 2**64
AVERAGE_PACKET_BYTES = 600
ERROR_EVERY_BYTES = 250_000_000  # one input error per ~250 MB: a clean but not perfect line


def utilisation(*names: str) -> float:
    """A stable share of capacity in [0.05, 0.45) for a direction of a link."""
    digest = hashlib.sha256("/".join(names).encode()).digest()
    return 0.05 + 0.40 * int.from_bytes(digest[:4], "big") / 2**32


@dataclass
class Port:
    """One simulated interface, with counters integrated over the time it was up."""

    index: int
    name: str
    speed_mbps: int
    link: str | None
    kind: str  # "link", "lan" or "spare"
    in_util: float
    out_util: float
    in_octets: float = 0.0
    out_octets: float = 0.0
    since: float = 0.0
    up: bool = True
    last_change: float = 0.0

    def advance(self, now: float) -> None:
        """Bring the counters to ``now`` at the rates of the current state."""
        if self.up and now > self.since:
            bytes_per_s = self.speed_mbps * 1_000_000 / 8
            self.in_octets += bytes_per_s * self.in_util * (now - self.since)
            self.out_octets += bytes_per_s * self.out_util * (now - self.since)
        self.since = max(self.since, now)

    def set_up(self, up: bool, now: float) -> None:
        self.advance(now)
        if up != self.up:
            self.up = up
            self.last_change = now

    def octets(self, now: float) -> tuple[int, int]:
        self.advance(now)
        return int(self.in_octets) % MAX_COUNTER64, int(self.out_octets) % MAX_COUNTER64


@dataclass
class SimDevice:
    id: str
    site: str
    platform: str
    model: str
    ports: list[Port] = field(default_factory=list)


def build_devices(inv: Inventory) -> dict[str, SimDevice]:
    """Every inventory device with its interfaces in inventory order (ifIndex 1..n)."""
    ends: dict[tuple[str, str], tuple[str, int, float, float]] = {}
    for link in inv.links:
        ab = utilisation(link.id, "a>b")
        ba = utilisation(link.id, "b>a")
        ends[(link.a.device, link.a.interface)] = (link.id, link.speed_mbps, ba, ab)  # a receives b>a, sends a>b
        ends[(link.b.device, link.b.interface)] = (link.id, link.speed_mbps, ab, ba)
    devices: dict[str, SimDevice] = {}
    lan_done: set[str] = set()
    for dev in inv.devices:
        sd = SimDevice(dev.id, dev.site, dev.platform, dev.model)
        for n, name in enumerate(dev.interfaces, start=1):
            if (dev.id, name) in ends:
                link_id, speed, i_u, o_u = ends[(dev.id, name)]
                sd.ports.append(Port(n, name, speed, link_id, "link", i_u, o_u))
            elif dev.role in ("core-router", "router") and dev.site not in lan_done:
                lan_done.add(dev.site)  # the first spare port of a site's router is its LAN (as in the lab)
                speed = 2 if name.lower().startswith("serial") else 1000
                sd.ports.append(Port(n, name, speed, None, "lan", utilisation(dev.id, name, "in") / 4,
                                     utilisation(dev.id, name, "out") / 4))
            else:
                speed = 2 if name.lower().startswith("serial") else 1000
                sd.ports.append(Port(n, name, speed, None, "spare", 0.0, 0.0, up=False))
        devices[dev.id] = sd
    return devices


def reachable(g: nx.MultiGraph, failed_links: Iterable[str], failed_devices: Iterable[str]) -> set[str]:
    """Devices still connected to a working city core when these links and devices are down (any number)."""
    h = nx.MultiGraph(g)
    for link in failed_links:
        if link in g.graph["link_ends"]:
            u, v = g.graph["link_ends"][link]
            if h.has_edge(u, v, key=link):
                h.remove_edge(u, v, key=link)
    h.remove_nodes_from([d for d in failed_devices if d in h])
    seen: set[str] = set()
    for core in g.graph["core"]:
        if core in h and core not in seen:
            seen |= nx.node_connected_component(h, core)
    return seen


def apply_failures(devices: dict[str, SimDevice], failed_links: set[str], failed_devices: set[str], now: float) -> None:
    """Set every port's oper state: a link is down when it or either of its devices failed."""
    down_links = set(failed_links)
    for dev in devices.values():
        if dev.id in failed_devices:
            down_links.update(p.link for p in dev.ports if p.link)
    for dev in devices.values():
        for port in dev.ports:
            if port.kind == "link":
                port.set_up(port.link not in down_links, now)
            elif port.kind == "lan":
                port.set_up(dev.id not in failed_devices, now)
