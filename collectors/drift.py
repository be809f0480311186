"""Planned versus discovered topology (pure): the inventory's links against LLDP neighbours.

A link is *confirmed* when both ends see each other on the planned
interfaces, *missing* when neither end reports the other, *mis-cabled* when
the neighbour is right but an interface is not (or the far end is a different
device than planned), and *unexpected* when LLDP shows an adjacency between
two inventory devices that no link in the inventory explains. Devices that
did not answer are left out of the judgement rather than reported missing.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

from topology.schema import Inventory


@dataclass(frozen=True)
class Neighbour:
    """One LLDP adjacency as a device reports it."""

    local_interface: str
    remote_system: str  # the neighbour's system name: our device id, when named as in the inventory
    remote_port: str


@dataclass(frozen=True)
class DriftItem:
    kind: str  # missing | miscabled | unexpected
    link: str | None  # inventory link id (None for unexpected)
    detail: str


@dataclass(frozen=True)
class DriftReport:
    confirmed: tuple[str, ...]
    items: tuple[DriftItem, ...]
    unjudged: tuple[str, ...]  # links with an end whose LLDP we could not read


def _norm(name: str) -> str:
    return name.strip().lower()


def compare(inventory: Inventory, lldp: Mapping[str, Iterable[Neighbour]]) -> DriftReport:
    """Judge every inventory link against what the devices in ``lldp`` report."""
    seen: dict[str, list[Neighbour]] = {device: list(ns) for device, ns in lldp.items()}
    known = {d.id for d in inventory.devices}
    confirmed: list[str] = []
    items: list[DriftItem] = []
    unjudged: list[str] = []
    explained: set[tuple[str, str]] = set()  # (device, local interface) accounted for by a planned link

    for link in inventory.links:
        a, b = link.a, link.b
        if a.device not in seen or b.device not in seen:
            unjudged.append(link.id)
            explained.update({(a.device, _norm(a.interface)), (b.device, _norm(b.interface))})
            continue
        a_view = [n for n in seen[a.device] if _norm(n.remote_system) == _norm(b.device)]
        b_view = [n for n in seen[b.device] if _norm(n.remote_system) == _norm(a.device)]
        if not a_view and not b_view:
            on_a = [n for n in seen[a.device] if _norm(n.local_interface) == _norm(a.interface)]
            if on_a:
                other = on_a[0]
                items.append(
                    DriftItem(
                        "miscabled",
                        link.id,
                        f"{a.device} {a.interface} leads to {other.remote_system} {other.remote_port}, "
                        f"planned {b.device} {b.interface}",
                    )
                )
                explained.add((a.device, _norm(a.interface)))
            else:
                items.append(DriftItem("missing", link.id, f"{a.device} and {b.device} do not see each other"))
            continue
        problems = []
        for local_dev, local_if, remote_if, view in ((a.device, a.interface, b.interface, a_view), (b.device, b.interface, a.interface, b_view)):
            for n in view:
                explained.add((local_dev, _norm(n.local_interface)))
            if view and not any(
                _norm(n.local_interface) == _norm(local_if) and _norm(n.remote_port) == _norm(remote_if) for n in view
            ):
                n = view[0]
                problems.append(f"{local_dev} sees it on {n.local_interface} → {n.remote_port}, planned {local_if} → {remote_if}")
        if problems:
            items.append(DriftItem("miscabled", link.id, "; ".join(problems)))
        else:
            confirmed.append(link.id)

    for device, neighbours in sorted(seen.items()):
        for n in neighbours:
            remote = n.remote_system.strip()
            if remote not in known or (device, _norm(n.local_interface)) in explained:
                continue
            pair = sorted([(device, n.local_interface), (remote, n.remote_port)])
            items.append(DriftItem("unexpected", None, f"{pair[0][0]} {pair[0][1]} ↔ {pair[1][0]} {pair[1][1]} is not in the inventory"))
    unique = list(dict.fromkeys(items))
    return DriftReport(tuple(sorted(confirmed)), tuple(unique), tuple(sorted(unjudged)))
