"""The cascade plan: which bridge each site joins and what each site can receive.

Planned from the customer's own network model rather than by region (what
Jitsi and LiveKit do): the city core runs the root bridge, each banner with
invited sites runs a bridge below it, and townships join their banner's
bridge. A banner's own terminal joins its banner bridge too, so a stream
crosses a banner uplink once — on the trunk — however many sites below or
above need it.

Each site's link budget comes from the inventory (the slowest link on its
path to its bridge) less the current utilisation the collectors measured.
The plan spends at most ``MAX_SHARE`` of what is free, audio first, then the
main picture (``high``, else the ``low`` tier the bridge transcodes once per
tier), then thumbnails at the same tier. A 2 Mbit/s E1 township is never
sent more than fits; if not even a low picture fits it gets audio only.
Pure: inventory and figures in, a frozen plan out.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterable, Mapping

import networkx as nx

from conferencing.layout import Layout
from topology.analysis import NoPath, site_path
from topology.graph import build_graph
from topology.schema import Inventory

MAX_SHARE = 0.75
"""Share of a link's free capacity the conference may plan to use: keyframes burst, other traffic lives there too."""
MAX_THUMBS = 8
"""Thumbnail slots beside the main picture (a 3x3 grid on the host console)."""
AUDIO_STREAMS = 3
"""Audio streams budgeted per site (speaker, host, one more); controls never list more."""
AUDIO_KBPS = 40
"""Opus at 32 kbit/s plus RTP/UDP/IP overhead."""
LAN_KBPS = 1_000_000
"""Capacity assumed for a site that hosts its own bridge and has no LAN link in the inventory."""
QUALITIES = ("high", "low")


class PlanError(ValueError):
    """The plan cannot be made: an unknown site, a site with no path to its bridge, bad figures."""


@dataclass(frozen=True)
class SitePlan:
    """What one invited site joins and receives."""

    site: str
    bridge: str
    """Site id of the bridge this site connects to: the city for the city, its own bridge for a banner, its banner for a township."""
    link_kbps: int
    """Capacity of the slowest link on the path to its bridge (inventory)."""
    utilisation: float
    """0..1: the busiest link on that path, from the collectors' store when present, else 0."""
    quality: str
    """``high`` | ``low``: the tier it receives (``low`` = transcoded once per tier at its bridge)."""
    max_thumbs: int
    """Thumbnail videos that fit beside the main picture."""
    expected_kbps: int
    """The most the plan will send it (video at its tier + audio)."""
    headroom_kbps: int
    """Free capacity left on its path once the conference runs."""
    video: bool = True
    """False when not even a low-tier picture fits: the site gets audio only."""
    max_audio: int = AUDIO_STREAMS
    """Audio streams that fit."""
    publish_kbps: int = 0
    """The most this site should send upstream (its camera): stream or low rate, 0 = audio only."""
    path_links: tuple[str, ...] = ()
    """Inventory link ids between the site and its bridge."""

    def to_json(self) -> dict[str, object]:
        return {
            "site": self.site, "bridge": self.bridge, "link_kbps": self.link_kbps,
            "utilisation": round(self.utilisation, 3), "quality": self.quality, "video": self.video,
            "max_thumbs": self.max_thumbs, "max_audio": self.max_audio, "expected_kbps": self.expected_kbps,
            "headroom_kbps": self.headroom_kbps, "publish_kbps": self.publish_kbps, "path_links": list(self.path_links),
        }


@dataclass(frozen=True)
class TrunkPlan:
    """The backbone path between a bridge and its parent bridge."""

    bridge: str
    parent: str
    link_kbps: int
    utilisation: float
    available_kbps: int
    path_links: tuple[str, ...] = ()


@dataclass(frozen=True)
class CascadePlan:
    """The bridges, their tree, and every invited site's plan."""

    city: str
    bridges: tuple[str, ...]
    parent: Mapping[str, str | None]
    sites: Mapping[str, SitePlan]
    trunks: Mapping[str, TrunkPlan] = field(default_factory=dict)
    """Keyed by the child bridge (a banner): its path up to the city bridge."""
    stream_kbps: int = 800
    low_kbps: int = 250
    audio_kbps: int = AUDIO_KBPS

    def bridge_of(self, site: str) -> str:
        """The bridge a site joins; PlanError naming the site when it was not invited."""
        try:
            return self.sites[site].bridge
        except KeyError:
            raise PlanError(f'site "{site}" is not in this conference') from None

    def _up(self, bridge: str) -> list[str]:
        chain = [bridge]
        while (up := self.parent.get(chain[-1])) is not None:
            chain.append(up)
        return chain

    def bridge_route(self, src_bridge: str, dst_bridge: str) -> list[tuple[str, str]]:
        """Trunks a stream takes from one bridge to another, in order, through their common ancestor."""
        up_src, up_dst = self._up(src_bridge), self._up(dst_bridge)
        common = next(b for b in up_src if b in up_dst)
        climb = up_src[: up_src.index(common) + 1]
        descend = list(reversed(up_dst[: up_dst.index(common) + 1]))
        hops = climb + descend[1:]
        return list(zip(hops, hops[1:]))

    def trunk_streams(self, layout: Layout) -> Mapping[tuple[str, str], tuple[str, ...]]:
        """``(from_bridge, to_bridge)`` -> source site ids whose streams cross that trunk, each once.

        A bridge forwards one copy of a source over a trunk and fans it out
        below, so the set of sources, not the number of receivers, is what a
        trunk carries. Trunks that carry nothing are absent.
        """
        carried: dict[tuple[str, str], set[str]] = {}
        for receiver in layout.views:
            dst = self.bridge_of(receiver)
            for source in layout.views[receiver].sources():
                for trunk in self.bridge_route(self.bridge_of(source), dst):
                    carried.setdefault(trunk, set()).add(source)
        return {trunk: tuple(sorted(sources)) for trunk, sources in sorted(carried.items())}

    def trunk_kbps(self, layout: Layout) -> dict[tuple[str, str], int]:
        """Expected load of each trunk: full-rate video for sources someone watches, audio for those heard."""
        video: dict[tuple[str, str], set[str]] = {}
        audio: dict[tuple[str, str], set[str]] = {}
        for receiver, view in layout.views.items():
            dst = self.bridge_of(receiver)
            for kinds, sources in ((video, view.video()), (audio, view.audio)):
                for source in sources:
                    for trunk in self.bridge_route(self.bridge_of(source), dst):
                        kinds.setdefault(trunk, set()).add(source)
        trunks = sorted(set(video) | set(audio))
        return {
            t: len(video.get(t, ())) * self.stream_kbps + len(audio.get(t, ())) * self.audio_kbps for t in trunks
        }

    def to_json(self) -> dict[str, object]:
        return {
            "city": self.city,
            "bridges": list(self.bridges),
            "parent": dict(self.parent),
            "sites": {s: p.to_json() for s, p in sorted(self.sites.items())},
            "trunks": {
                b: {"bridge": t.bridge, "parent": t.parent, "link_kbps": t.link_kbps,
                    "utilisation": round(t.utilisation, 3), "available_kbps": t.available_kbps,
                    "path_links": list(t.path_links)}
                for b, t in sorted(self.trunks.items())
            },
            "stream_kbps": self.stream_kbps, "low_kbps": self.low_kbps, "audio_kbps": self.audio_kbps,
        }


# ------------------------------------------------------------------ planning

def _check_utilisation(utilisation: Mapping[str, float] | None, inv: Inventory) -> dict[str, float]:
    """Link id -> 0..1; values a little above 1 (counter timing) are clamped, nonsense is an error."""
    out: dict[str, float] = {}
    for link_id, value in (utilisation or {}).items():
        try:
            inv.link(link_id)
        except KeyError as exc:
            raise PlanError(f"utilisation: {exc.args[0]}") from None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value) or value < 0:
            raise PlanError(f'utilisation of link "{link_id}" must be a number from 0 to 1, not {value!r}')
        out[link_id] = min(float(value), 1.0)
    return out


def _city(inv: Inventory) -> str:
    for site in inv.sites:
        if site.tier == "city":
            return site.id
    raise PlanError("the inventory has no city site: there is nowhere to put the root bridge")


def _lan_links(inv: Inventory, site: str) -> list[str]:
    """Links inside a site (router to switch): where its own terminal sits when it hosts a bridge."""
    devices = {d.id for d in inv.devices_at(site)}
    return [link.id for link in inv.links if link.a.device in devices and link.b.device in devices]


def _path(g: nx.MultiGraph, inv: Inventory, site: str, bridge: str) -> tuple[str, ...]:
    if site == bridge:
        lan = _lan_links(inv, site)
        return (max(lan, key=lambda lid: inv.link(lid).speed_mbps),) if lan else ()
    try:
        return site_path(g, inv, site, bridge).links
    except NoPath:
        raise PlanError(f'site "{site}" has no path to its bridge at "{bridge}": the network is split') from None
    except KeyError as exc:
        raise PlanError(f'site "{site}": {exc.args[0]}') from None


def _capacity(inv: Inventory, links: tuple[str, ...], util: Mapping[str, float]) -> tuple[int, float, int]:
    """(slowest link kbit/s, busiest link utilisation, free kbit/s along the path)."""
    if not links:
        return LAN_KBPS, 0.0, LAN_KBPS
    speeds = [inv.link(lid).speed_mbps * 1000 for lid in links]
    free = min(int(speed * (1.0 - util.get(lid, 0.0))) for lid, speed in zip(links, speeds))
    return min(speeds), max(util.get(lid, 0.0) for lid in links), free


def _fit(site: str, bridge: str, links: tuple[str, ...], capacity: tuple[int, float, int], others: int,
         stream_kbps: int, low_kbps: int) -> SitePlan:
    """Spend the site's budget: audio, then the main picture at the best tier that fits, then thumbnails."""
    link_kbps, utilisation, free = capacity
    budget = int(free * MAX_SHARE)
    max_audio = min(AUDIO_STREAMS, others, budget // AUDIO_KBPS)
    left = budget - max_audio * AUDIO_KBPS
    thumbs_wanted = min(MAX_THUMBS, max(0, others - 1))
    video, quality, thumbs, tier_kbps = False, "low", 0, 0
    if others == 0:
        quality = "high"
    elif left >= stream_kbps:
        video, quality, tier_kbps = True, "high", stream_kbps
    elif left >= low_kbps:
        video, quality, tier_kbps = True, "low", low_kbps
    if video:
        thumbs = min(thumbs_wanted, (left - tier_kbps) // tier_kbps)
    expected = max_audio * AUDIO_KBPS + ((1 + thumbs) * tier_kbps if video else 0)
    publish = stream_kbps if budget >= stream_kbps + AUDIO_KBPS else low_kbps if budget >= low_kbps + AUDIO_KBPS else 0
    return SitePlan(
        site=site, bridge=bridge, link_kbps=link_kbps, utilisation=utilisation, quality=quality,
        max_thumbs=thumbs, expected_kbps=expected, headroom_kbps=free - expected, video=video,
        max_audio=max_audio, publish_kbps=publish, path_links=links,
    )


def plan_cascade(inv: Inventory, sites: Iterable[str], utilisation: Mapping[str, float] | None = None,
                 stream_kbps: int = 800, low_kbps: int = 250) -> CascadePlan:
    """Plan a conference of ``sites`` over the network in ``inv``.

    ``utilisation`` maps inventory link ids to their current load (0..1), as
    ``wangnet.linkload.link_utilisation`` reads it from the collectors' store;
    links not listed count as idle.
    """
    if not 0 < low_kbps <= stream_kbps:
        raise PlanError(f"low_kbps ({low_kbps}) must be positive and at most stream_kbps ({stream_kbps})")
    util = _check_utilisation(utilisation, inv)
    invited: list[str] = []
    for site_id in sites:
        try:
            inv.site(site_id)
        except KeyError:
            raise PlanError(f'unknown site "{site_id}": not in the inventory') from None
        if site_id not in invited:
            invited.append(site_id)
    city = _city(inv)
    bridge_of: dict[str, str] = {}
    for site_id in invited:
        site = inv.site(site_id)
        if site.tier == "city":
            bridge_of[site_id] = city
        elif site.tier == "banner":
            bridge_of[site_id] = site_id
        else:
            if site.parent is None:
                raise PlanError(f'township "{site_id}" has no parent banner in the inventory')
            bridge_of[site_id] = site.parent
    banner_bridges = {b for b in bridge_of.values() if b != city}
    bridges = (city, *(s.id for s in inv.sites if s.id in banner_bridges))
    parent: dict[str, str | None] = {b: (None if b == city else city) for b in bridges}
    g = build_graph(inv)
    trunks: dict[str, TrunkPlan] = {}
    for bridge in bridges[1:]:
        links = _path(g, inv, bridge, city)
        link_kbps, busiest, free = _capacity(inv, links, util)
        trunks[bridge] = TrunkPlan(bridge, city, link_kbps, busiest, free, links)
    others = len(invited) - 1
    plans = {}
    for site_id in invited:
        links = _path(g, inv, site_id, bridge_of[site_id])
        plans[site_id] = _fit(site_id, bridge_of[site_id], links, _capacity(inv, links, util), others,
                              stream_kbps, low_kbps)
    return CascadePlan(city=city, bridges=bridges, parent=parent, sites=plans, trunks=trunks,
                       stream_kbps=stream_kbps, low_kbps=low_kbps)
