"""A collector's share of the network when each banner has a collector process of its own.

``wangnet collector --banner dalad`` polls 达拉特旗's devices and those of its
townships; ``--banner city`` polls the city core. A banner's collector still
has to tell "the uplink from the core was cut" from "the banner router died",
and only the core's end of the uplink can say which: so it also *observes* the
city devices (polls them, uses them in the correlation) without *owning* them
— it records no state and raises no alert for them; the city's collector does.

Ownership decides who writes what, so that several processes share one
database without writing the same rows: a device's status belongs to the
scope holding the device; an alert belongs to the scope holding one of the
failed elements (a device, an end of a failed link, the device of a failed
service) that it also observes whole. The uplink from the core to a banner
thus belongs to that banner's collector, which is also the one that can see
what it cuts off.

Pure: inventory and graph in, sets and narrowed assessments out.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Mapping

import networkx as nx

from collectors.correlate import Assessment, RootCause
from topology.schema import Inventory

if TYPE_CHECKING:
    from collectors.service import CycleReport

CITY = "city"


class ScopeError(ValueError):
    """An unknown banner id (the message lists the valid ones)."""


@dataclass(frozen=True)
class Scope:
    """Which devices one collector process polls (``observed``) and which it answers for (``owned``)."""

    name: str
    owned: frozenset[str]
    observed: frozenset[str]
    link_ends: Mapping[str, tuple[str, str]]
    service_devices: Mapping[str, str]

    def subgraph(self, g: nx.MultiGraph) -> nx.MultiGraph:
        """The part of the graph this collector can reason about (graph attributes kept)."""
        sub = g.subgraph(self.observed).copy()
        sub.graph.update(g.graph)
        return sub

    def owns_device(self, device: str) -> bool:
        return device in self.owned

    def owns(self, kind: str, ids: tuple[str, ...] | list[str]) -> bool:
        """Whether an alert about these failed elements is this collector's to open and resolve.

        Exactly one scope owns each: the failed elements must all lie in what
        this collector observes, and one of them in what it owns. The uplink
        from the core to a banner is observed whole only by that banner's
        collector (the city's does not poll the banner router), so it is the
        banner's, never the city's.
        """
        devices: set[str] = set()
        for element in ids:
            if kind == "device":
                devices.add(element)
            elif kind == "link" and element in self.link_ends:
                devices.update(self.link_ends[element])
            elif kind == "service" and element in self.service_devices:
                devices.add(self.service_devices[element])
            else:
                return False
        return bool(devices) and devices <= self.observed and bool(devices & self.owned)

    def owns_finding(self, link: str | None, detail: str) -> bool:
        """Whether a drift finding is this collector's to replace: a planned link it owns, or an
        unplanned adjacency (no link; its detail names the devices) reported by one of its devices."""
        if link is not None:
            return self.owns("link", (link,))
        return any(word in self.owned for word in detail.split())

    def owns_key(self, key: str) -> bool:
        """``owns`` for a stored alert key such as ``link:a--b`` or ``link:x+y``."""
        kind, _, rest = key.partition(":")
        return self.owns(kind, rest.split("+")) if rest else False

    def narrow(self, assessment: Assessment) -> Assessment:
        """Keep the devices, links and causes this collector owns."""
        devices = {d: s for d, s in assessment.devices.items() if d in self.owned}
        links = {l: s for l, s in assessment.links.items() if self.owns("link", (l,))}
        causes = tuple(c for c in assessment.causes if self.owns_cause(c))
        return Assessment(devices, links, causes)

    def owns_cause(self, cause: RootCause) -> bool:
        return self.owns(cause.kind, cause.ids)

    def report_view(self, report: "CycleReport | None") -> "CycleReport | None":
        """A cycle report with only the owned devices' poll results (what this process exports as metrics)."""
        if report is None:
            return None
        return replace(
            report,
            results=tuple(r for r in report.results if r.device in self.owned),
            errors={d: e for d, e in report.errors.items() if d in self.owned},
            rates={k: v for k, v in report.rates.items() if k[0] in self.owned},
        )


def scope_names(inventory: Inventory) -> list[str]:
    """What ``--banner`` accepts: ``city`` and every banner id, in inventory order."""
    return [CITY] + [s.id for s in inventory.sites if s.tier == "banner"]


def scope_for(inventory: Inventory, name: str) -> Scope:
    """The scope of ``--banner NAME``: a banner with its townships, or the city tier; raises ScopeError."""
    tier_of = {s.id: s.tier for s in inventory.sites}
    city_sites = {s.id for s in inventory.sites if s.tier == "city"}
    if name == CITY:
        sites = city_sites
    elif tier_of.get(name) == "banner":
        sites = {name} | {s.id for s in inventory.children(name)}
    else:
        raise ScopeError(f"unknown banner {name!r}: use one of {', '.join(scope_names(inventory))}")
    owned = frozenset(d.id for d in inventory.devices if d.site in sites)
    upstream = frozenset(d.id for d in inventory.devices if d.site in city_sites)
    return Scope(
        name=name,
        owned=owned,
        observed=owned | upstream,
        link_ends={l.id: (l.a.device, l.b.device) for l in inventory.links},
        service_devices={s.id: s.device for s in inventory.services},
    )
