"""ConferenceMedia: every bridge of every running conference, on the runtime's loop.

The controller (CONTROL's ``conferencing.controller``) opens a conference with
its cascade plan, applies layouts as host controls change what each site
sees and hears, and closes it; browsers publish (WHIP) and subscribe (WHEP)
through the web routes. In the embedded default all bridges of a conference
live in this one process, but they talk to each other over real aiortc trunks
(``conferencing.trunk``), exactly as separate ``wangnet bridge`` processes do.
"""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Callable

from conferencing.bridge import Bridge, MediaError, Resource
from conferencing.layout import Layout
from conferencing.metrics import ConferenceMetrics
from conferencing.passthrough import use_host_addresses
from conferencing.plan import CascadePlan, PlanError
from conferencing.trunk import TrunkLeg
from wangnet import metrics
from wangnet.config import Settings

log = logging.getLogger(__name__)

SNAPSHOT_INTERVAL = 1.0
"""Seconds between the cached snapshots that metrics scrapes read (from another thread)."""
LOOP_LAG_WARNING = 0.25


class NotFound(MediaError):
    """An unknown conference, site or resource (HTTP 404)."""


@dataclass(frozen=True)
class MediaEvent:
    conference_id: str
    site: str
    kind: str  # "joined" | "left" | "lost"
    resource: str
    at: float


@dataclass
class Conference:
    id: str
    plan: CascadePlan
    bridges: dict[str, Bridge]
    layout: Layout = field(default_factory=Layout)
    legs: dict[tuple[str, str, str], TrunkLeg] = field(default_factory=dict)
    resources: dict[str, Resource] = field(default_factory=dict)
    publishers: dict[str, Resource] = field(default_factory=dict)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def bridge_for(self, site: str) -> Bridge:
        try:
            name = self.plan.bridge_of(site)
        except PlanError as exc:
            raise NotFound(f"{exc} ({self.id})") from None
        if name not in self.bridges:
            raise NotFound(f'site "{site}" joins the bridge at "{name}", which does not run in this process')
        return self.bridges[name]


class ConferenceMedia:
    """The media service (a ``wangnet.runtime.Service``)."""

    name = "conference-media"

    def __init__(self, settings: Settings, listener: Callable[[MediaEvent], None] | None = None,
                 only_bridge: str | None = None) -> None:
        self.settings = settings
        self.only_bridge = only_bridge
        """Scale-out (``wangnet bridge --site``): host only this bridge of each conference."""
        self.listeners: list[Callable[[MediaEvent], None]] = [listener] if listener else []
        self.conferences: dict[str, Conference] = {}
        self._resource_index: dict[str, str] = {}
        self.latest: dict[str, dict] = {}
        self._ticker: asyncio.Task[None] | None = None
        self._metrics: ConferenceMetrics | None = None

    def add_listener(self, listener: Callable[[MediaEvent], None]) -> None:
        """For a controller built after this service (composition order)."""
        self.listeners.append(listener)

    async def start(self) -> None:
        use_host_addresses(self.settings.conference_ice_addresses.split(","))
        self._metrics = ConferenceMetrics(lambda: self.latest)
        metrics.register(self._metrics)
        self._ticker = asyncio.ensure_future(self._tick())

    async def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
        if self._metrics is not None:
            metrics.unregister(self._metrics)
        for cid in list(self.conferences):
            await self.close(cid)

    async def _tick(self) -> None:
        while True:
            started = time.monotonic()
            await asyncio.sleep(SNAPSHOT_INTERVAL)
            lag = time.monotonic() - started - SNAPSHOT_INTERVAL
            if lag > LOOP_LAG_WARNING and self.conferences:
                # ICE consent checks time out after 0.5 s: a loop this late drops calls
                log.warning("the runtime loop ran %.2f s late (media and ICE consent suffer)", lag)
            try:
                self.latest = {cid: self.snapshot(cid) for cid in list(self.conferences)}
            except Exception:  # a snapshot must never end the ticker
                log.exception("conference snapshot failed")

    # ------------------------------------------------------------- lifecycle

    async def open(self, conference_id: str, plan: CascadePlan) -> None:
        """Create the conference's bridges; a second open adopts a wider plan (late invitees) and adds its bridges."""
        conf = self.conferences.get(conference_id)
        if conf is not None:
            async with conf.lock:
                for site in self._hosted(plan):
                    if site not in conf.bridges:
                        conf.bridges[site] = Bridge(conference_id, site)
                conf.plan = plan
            return
        bridges = {site: Bridge(conference_id, site) for site in self._hosted(plan)}
        for bridge in bridges.values():
            bridge.low_kbps = plan.low_kbps
        self.conferences[conference_id] = Conference(conference_id, plan, bridges)

    def _hosted(self, plan: CascadePlan) -> list[str]:
        return [b for b in plan.bridges if self.only_bridge is None or b == self.only_bridge]

    async def close(self, conference_id: str) -> None:
        conf = self.conferences.pop(conference_id, None)
        if conf is None:
            return
        for leg in list(conf.legs.values()):
            await leg.close()
        for res in list(conf.resources.values()):
            self._resource_index.pop(res.id, None)
            self._emit(conf, res, "left")
        for bridge in conf.bridges.values():
            await bridge.close()
        self.latest.pop(conference_id, None)

    def _conference(self, conference_id: str) -> Conference:
        conf = self.conferences.get(conference_id)
        if conf is None:
            raise NotFound(f'conference "{conference_id}" is not running')
        return conf

    # ------------------------------------------------------------- WHIP/WHEP

    async def publish(self, conference_id: str, site: str, offer_sdp: str) -> tuple[str, str]:
        """WHIP: the site's camera and microphone; a new publish replaces the site's previous one."""
        conf = self._conference(conference_id)
        bridge = conf.bridge_for(site)
        res, answer = await bridge.add_publisher(site, offer_sdp, self._state_watcher(conf))
        old = conf.publishers.get(site)
        conf.publishers[site] = res
        self._register(conf, res)
        if old is not None:
            await self._remove(conf, old, "left")
        return res.id, answer

    async def subscribe(self, conference_id: str, site: str, offer_sdp: str) -> tuple[str, str]:
        """WHEP: what the layout says this site sees and hears (N thumbnails, M audio streams as offered)."""
        conf = self._conference(conference_id)
        bridge = conf.bridge_for(site)
        res, answer = await bridge.add_subscriber(site, offer_sdp, self._state_watcher(conf))
        self._register(conf, res)
        view = conf.layout.views.get(site)
        if view is not None:
            bridge.show(res, view.main, view.thumbs, view.audio, low=self._low(conf, site))
        return res.id, answer

    async def leave(self, resource_id: str) -> None:
        cid = self._resource_index.get(resource_id)
        conf = self.conferences.get(cid or "")
        if conf is None or resource_id not in conf.resources:
            raise NotFound(f'resource "{resource_id}" does not exist (already left?)')
        await self._remove(conf, conf.resources[resource_id], "left")

    def conference_of(self, resource_id: str) -> str | None:
        return self._resource_index.get(resource_id)

    def resource_site(self, resource_id: str) -> str | None:
        """The site a resource belongs to (who may DELETE it), None when unknown."""
        conf = self.conferences.get(self._resource_index.get(resource_id, ""))
        res = conf.resources.get(resource_id) if conf is not None else None
        return res.site if res is not None else None

    def is_open(self, conference_id: str) -> bool:
        return conference_id in self.conferences

    def _register(self, conf: Conference, res: Resource) -> None:
        conf.resources[res.id] = res
        self._resource_index[res.id] = conf.id
        self._emit(conf, res, "joined")

    async def _remove(self, conf: Conference, res: Resource, kind: str) -> None:
        if conf.resources.pop(res.id, None) is None:
            return
        self._resource_index.pop(res.id, None)
        if conf.publishers.get(res.site) is res:
            del conf.publishers[res.site]
        await res.bridge.remove(res)
        self._emit(conf, res, kind)

    def _state_watcher(self, conf: Conference) -> Callable[[Resource, str], None]:
        def changed(res: Resource, state: str) -> None:
            log.info("conference %s: %s %s of %s is %s", conf.id, res.role, res.id, res.site, state)
            # the browser vanished: ICE failed, or consent expired and aiortc closed the connection itself
            if state in ("failed", "closed") and res.id in conf.resources:
                asyncio.ensure_future(self._remove(conf, res, "lost"))

        return changed

    def _emit(self, conf: Conference, res: Resource, kind: str) -> None:
        event = MediaEvent(conf.id, res.site, kind, res.id, time.time())
        for listener in self.listeners:
            try:
                listener(event)
            except Exception:  # a listener's bug must not break the media path
                log.exception("media event listener failed on %s", event)

    # ------------------------------------------------------------- switching

    async def apply(self, conference_id: str, layout: Layout) -> None:
        """Switch what every site receives; open the trunk legs the layout needs first, close the rest after."""
        conf = self._conference(conference_id)
        async with conf.lock:
            try:
                needed = {
                    (src, dst, site)
                    for (src, dst), sites in conf.plan.trunk_streams(layout).items()
                    for site in sites
                }
            except PlanError as exc:
                raise MediaError(f"layout does not fit the plan: {exc}") from None
            needed = {key for key in needed if key[0] in conf.bridges and key[1] in conf.bridges}
            missing = [key for key in sorted(needed) if key not in conf.legs]
            for key in missing:
                leg = TrunkLeg(conf.bridges[key[0]], conf.bridges[key[1]], key[2])
                conf.legs[key] = leg
            await asyncio.gather(*(conf.legs[key].open() for key in missing))
            conf.layout = layout
            for res in list(conf.resources.values()):
                if res.role == "subscriber":
                    view = layout.view(res.site)
                    res.bridge.show(res, view.main, view.thumbs, view.audio, low=self._low(conf, res.site))
            for key in [k for k in conf.legs if k not in needed]:
                await conf.legs.pop(key).close()

    @staticmethod
    def _low(conf: Conference, site: str) -> bool:
        sp = conf.plan.sites.get(site)
        return sp is not None and sp.quality == "low"

    # ------------------------------------------------------------- figures

    def snapshot(self, conference_id: str) -> dict:
        """JSON-able figures per site and trunk (audio levels feed active-speaker detection)."""
        conf = self._conference(conference_id)
        now = time.monotonic()
        sites: dict[str, dict] = {}
        for site in conf.plan.sites:
            pub = conf.publishers.get(site)
            origin = conf.bridges.get(conf.plan.bridge_of(site))
            if origin is None:
                continue  # joins a bridge in another process
            video = origin.sources.get((site, "video"))
            audio = origin.sources.get((site, "audio"))
            level = 0.0
            lost = packets = 0
            if pub is not None:
                tap = pub.taps.get("audio")
                if tap is not None and tap.audio_level is not None and audio is not None and audio.meter.kbps(now) > 0:
                    level = round(tap.audio_level, 4)
                for tap in pub.taps.values():
                    lost += tap.lost
                    packets += tap.packets
            subs = [r for r in conf.resources.values() if r.role == "subscriber" and r.site == site]
            sites[site] = {
                "bridge": origin.site,
                "publishing": pub is not None,
                "subscribers": len(subs),
                "audio_level": level,
                "kbps_in": round(sum(s.meter.kbps(now) for s in (video, audio) if s is not None), 1),
                "kbps_out": round(sum(slot.meter.kbps(now) for r in subs for slot in r.slots), 1),
                "loss": round(lost / (lost + packets), 4) if lost + packets else 0.0,
                "packets_lost": lost,
                "keyframe_requests": video.keyframe_requests if video is not None else 0,
                "resyncs": sum(slot.resyncs for r in subs for slot in r.slots),
            }
        trunks: dict[str, dict] = {}
        for (src, dst, site), leg in sorted(conf.legs.items()):
            entry = trunks.setdefault(f"{src}>{dst}", {"from": src, "to": dst, "kbps": 0.0, "streams": []})
            entry["kbps"] = round(entry["kbps"] + leg.kbps(), 1)
            entry["streams"].append(site)
        forwarded = sum(
            1 for r in conf.resources.values() if r.role == "subscriber" for slot in r.slots if slot.source is not None
        ) + 2 * len(conf.legs)
        return {
            "conference_id": conf.id,
            "participants": len({r.site for r in conf.resources.values()}),
            "forwarded_streams": forwarded,
            "sites": sites,
            "trunks": trunks,
            "bridges": {b: {"resources": len(br.resources), "sources": len(br.sources), "low_tiers": len(br.transcoders)}
                        for b, br in conf.bridges.items()},
        }
