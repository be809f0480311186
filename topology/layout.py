"""The 王 layout: where each site and link sits on the map, by tier.

Three horizontal bars — city on top, banners in the middle, townships at the
bottom (the widest) — and a vertical spine through them, like the character
王. Townships are grouped under their banner, so a banner's failure shades
one contiguous block. Pure geometry from the inventory; the web page only
draws it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence


class _Site(Protocol):
    id: str
    tier: str
    parent: str | None


class _Device(Protocol):
    id: str
    site: str
    role: str


class _Inventory(Protocol):
    sites: Sequence[_Site]
    devices: Sequence[_Device]


@dataclass(frozen=True)
class Point:
    x: float
    y: float


@dataclass(frozen=True)
class Bar:
    """One horizontal stroke of 王: the departments' interconnect of a tier."""

    tier: str
    y: float
    x1: float
    x2: float


@dataclass(frozen=True)
class WangLayout:
    width: float
    height: float
    sites: dict[str, Point]
    devices: dict[str, Point]
    bars: tuple[Bar, ...]
    spine_x: float

    def anchor(self, device_id: str, site_id: str) -> Point:
        """Where a link to ``device_id`` is drawn: the device's own spot if it has one, else its site."""
        return self.devices.get(device_id) or self.sites[site_id]


TIER_Y = {"city": 0.14, "banner": 0.46, "township": 0.78}


def wang_layout(inventory: _Inventory, width: float = 1340.0, height: float = 620.0, margin: float = 30.0) -> WangLayout:
    """Place every site (and the city's devices) on the three bars."""
    banners = [s for s in inventory.sites if s.tier == "banner"]
    townships_of = {b.id: [s for s in inventory.sites if s.tier == "township" and s.parent == b.id] for b in banners}
    cities = [s for s in inventory.sites if s.tier == "city"]
    orphans = [s for s in inventory.sites if s.tier == "township" and s.parent not in townships_of]

    usable = width - 2 * margin
    group_gap = 1.0  # a banner boundary costs one extra township slot
    slots = sum(max(len(t), 1) for t in townships_of.values()) + len(orphans) + group_gap * max(len(banners) - 1, 0)
    step = usable / max(slots, 1.0)

    sites: dict[str, Point] = {}
    x = margin + step / 2
    y_town = height * TIER_Y["township"]
    y_banner = height * TIER_Y["banner"]
    for banner in banners:
        towns = townships_of[banner.id]
        start = x
        for town in towns:
            sites[town.id] = Point(round(x, 1), y_town)
            x += step
        if not towns:
            x += step
        end = x - step
        sites[banner.id] = Point(round((start + end) / 2, 1), y_banner)
        x += step * group_gap
    for town in orphans:
        sites[town.id] = Point(round(x, 1), y_town)
        x += step

    spine_x = width / 2
    y_city = height * TIER_Y["city"]
    for i, city in enumerate(cities):
        sites[city.id] = Point(spine_x + i * 120, y_city)

    devices: dict[str, Point] = {}
    for city in cities:
        cores = [d for d in inventory.devices if d.site == city.id and d.role == "core-router"]
        centre = sites[city.id]
        for i, dev in enumerate(cores):
            offset = (i - (len(cores) - 1) / 2) * 44
            devices[dev.id] = Point(centre.x + offset, centre.y + 14)

    xs_banner = [sites[b.id].x for b in banners] or [spine_x]
    xs_town = [p.x for sid, p in sites.items() if sid not in {b.id for b in banners} and p.y == y_town] or [spine_x]
    bars = (
        Bar("city", y_city, spine_x - usable * 0.36, spine_x + usable * 0.36),
        Bar("banner", y_banner, min(xs_banner) - step * 2, max(xs_banner) + step * 2),
        Bar("township", y_town, min(xs_town) - step / 2, max(xs_town) + step / 2),
    )
    return WangLayout(width, height, sites, devices, bars, spine_x)
