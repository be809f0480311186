"""ConferenceMedia: every bridge of every running conference, on the runtime's loop.

The controller (CONTROL's ``conferencing.controller``) opens a conference with
its cascade plan, applies layouts as host controls change what each site
sees and hears, and closes it; browsers publish (WHIP) and subscribe (WHEP)
through the web routes. In the embedded default all bridges of a conference
live in this one process, but they talk to each other over real aiortc trunks
(``conferencing.trunk``). With a ``directory`` (``conferencing.peers``) some
bridges run in other processes (``wangnet bridge --site``): this process
hosts only the bridges the registry gives it, and pulls the trunks its
bridges need from the others over HTTP (``conferencing.remote_trunk``).
"""
from __future__ import annotations

import asyncio
import logging
import secrets
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

from conferencing.bridge import Bridge, MediaError, Resource
from conferencing.layout import Layout
from conferencing.metrics import ConferenceMetrics
from conferencing.passthrough import use_host_addresses
from conferencing.plan import CascadePlan, PlanError
from conferencing.remote_trunk import Key, OutgoingTrunk, RemoteTrunk
from conferencing.trunk import TrunkLeg, TrunkSender
from wangnet import metrics
from wangnet.config import Settings

if TYPE_CHECKING:
    from conferencing.peers import BridgeDirectory

log = logging.getLogger(__name__)

STATE_RANK = {"up": 0, "connecting": 1, "lost": 2}
"""A trunk made of several legs shows its worst leg's state."""
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
    remote: dict[Key, RemoteTrunk] = field(default_factory=dict)
    """Trunks this process pulls from bridges in other processes (to one of its bridges)."""
    outgoing: dict[str, OutgoingTrunk] = field(default_factory=dict)
    """Trunks other processes pulled from this process's bridges, by id."""
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
                 only_bridge: str | None = None, directory: "BridgeDirectory | None" = None) -> None:
        self.settings = settings
        self.only_bridge = only_bridge
        """Scale-out (``wangnet bridge --site``): host only this bridge of each conference."""
        self.directory = directory
        """The registry of bridge processes: which bridges run here, where the others are (None: all here)."""
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
            for conf in list(self.conferences.values()):
                try:
                    await self._reconcile(conf)
                except Exception:  # one conference's trouble must never end the ticker
                    log.exception("conference %s: reconciling bridges and trunks failed", conf.id)
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
        return [b for b in plan.bridges if self._runs_here(b)]

    def _runs_here(self, bridge: str) -> bool:
        if self.only_bridge is not None:
            return bridge == self.only_bridge
        return self.directory is None or self.directory.runs_here(bridge)

    def hosts(self, conference_id: str, bridge: str) -> bool:
        """Whether ``bridge`` of the conference runs in this process (the controller's presence and speaker)."""
        conf = self.conferences.get(conference_id)
        return conf is not None and bridge in conf.bridges

    async def close(self, conference_id: str) -> None:
        conf = self.conferences.pop(conference_id, None)
        if conf is None:
            return
        for leg in list(conf.legs.values()):
            await leg.close()
        for trunk in list(conf.remote.values()):
            await trunk.close()
        for out in list(conf.outgoing.values()):
            await out.sender.close()
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
        bridge = self._bridge_for(conf, site)
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
        bridge = self._bridge_for(conf, site)
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

    def _bridge_for(self, conf: Conference, site: str) -> Bridge:
        try:
            return conf.bridge_for(site)
        except NotFound as exc:
            name = conf.plan.sites[site].bridge if site in conf.plan.sites else None
            url = self.directory.url_of(name) if self.directory is not None and name is not None else None
            if url is None:
                raise
            raise NotFound(f"{exc}: it runs at {url}") from None

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
                wanted = self._trunk_keys(conf, layout)
            except PlanError as exc:
                raise MediaError(f"layout does not fit the plan: {exc}") from None
            needed = {key for key in wanted if key[0] in conf.bridges and key[1] in conf.bridges}
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
            await self._sync_remote(conf, wanted)

    @staticmethod
    def _trunk_keys(conf: Conference, layout: Layout) -> set[Key]:
        return {(src, dst, site) for (src, dst), sites in conf.plan.trunk_streams(layout).items() for site in sites}

    async def _sync_remote(self, conf: Conference, wanted: set[Key]) -> None:
        """Pull the trunks into this process's bridges from bridges in other processes; drop the unneeded."""
        incoming = set()
        if self.directory is not None:
            incoming = {k for k in wanted if k[1] in conf.bridges and k[0] not in conf.bridges}
        for key in sorted(incoming - set(conf.remote)):
            trunk = RemoteTrunk(conf.id, conf.bridges[key[1]], key, self.directory)  # type: ignore[arg-type]
            conf.remote[key] = trunk
            trunk.start()
        for key in [k for k in conf.remote if k not in incoming]:
            await conf.remote.pop(key).close()

    async def _reconcile(self, conf: Conference) -> None:
        """Every tick: follow the registry (which bridges run here), keep the trunks, drop dead outgoing ones."""
        async with conf.lock:
            for name in conf.plan.bridges:
                here = self._runs_here(name)
                if here and name not in conf.bridges:
                    log.info("conference %s: the bridge %s now runs in this process", conf.id, name)
                    conf.bridges[name] = Bridge(conf.id, name)
                    conf.bridges[name].low_kbps = conf.plan.low_kbps
                elif not here and name in conf.bridges:
                    log.warning("conference %s: the bridge %s is claimed by another process; closing it here",
                                conf.id, name)
                    await self._drop_bridge(conf, name)
            try:
                wanted = self._trunk_keys(conf, conf.layout)
            except PlanError:
                wanted = set()
            local = {k for k in wanted if k[0] in conf.bridges and k[1] in conf.bridges}
            for key in [k for k, leg in conf.legs.items() if leg.stale]:
                log.info("conference %s: reopening the trunk %s>%s [%s] in its source's new codec", conf.id, *key)
                await conf.legs.pop(key).close()
            for key in sorted(local - set(conf.legs)):
                leg = TrunkLeg(conf.bridges[key[0]], conf.bridges[key[1]], key[2])
                conf.legs[key] = leg
                await leg.open()
            await self._sync_remote(conf, wanted)
            now = time.monotonic()
            for tid, out in list(conf.outgoing.items()):
                why = out.expired(now)
                if why is not None:
                    log.info("conference %s: dropping the outgoing trunk %s>%s [%s]: %s", conf.id, *out.key, why)
                    del conf.outgoing[tid]
                    await out.sender.close()

    async def _drop_bridge(self, conf: Conference, name: str) -> None:
        for key in [k for k in conf.legs if name in k[:2]]:
            await conf.legs.pop(key).close()
        for key in [k for k in conf.remote if k[1] == name]:
            await conf.remote.pop(key).close()
        for tid in [t for t, out in conf.outgoing.items() if out.key[0] == name]:
            await conf.outgoing.pop(tid).sender.close()
        bridge = conf.bridges.pop(name)
        for res in [r for r in conf.resources.values() if r.bridge is bridge]:
            await self._remove(conf, res, "lost")
        await bridge.close()

    # ------------------------------------------------------------- trunks to other processes (upstream end)

    async def offer_trunk(self, conference_id: str, key: Key) -> tuple[str, str]:
        """Another process's bridge pulls ``key``'s streams from one of ours: a TrunkSender's offer and its id."""
        src, dst, site = key
        conf = self._conference(conference_id)
        if src not in conf.bridges:
            raise NotFound(f'the bridge "{src}" of conference {conference_id} does not run in this process')
        neighbours = conf.plan.parent.get(src) == dst or conf.plan.parent.get(dst) == src
        if dst not in conf.plan.bridges or not neighbours:
            raise MediaError(f'"{src}" → "{dst}" is not a trunk of conference {conference_id}\'s cascade')
        if site not in conf.plan.sites:
            raise NotFound(f'site "{site}" is not in conference {conference_id}')
        async with conf.lock:
            for tid in [t for t, out in conf.outgoing.items() if out.key == key]:  # the downstream re-opens it
                await conf.outgoing.pop(tid).sender.close()
            sender = TrunkSender(conf.bridges[src], site)
            try:
                offer = await sender.offer()
            except Exception:
                await sender.close()
                raise
            tid = f"t{secrets.token_hex(8)}"
            conf.outgoing[tid] = OutgoingTrunk(tid, key, sender)
        log.info("conference %s: trunk %s>%s [%s] offered to another process", conference_id, src, dst, site)
        return tid, offer

    def _outgoing(self, conference_id: str, trunk_id: str) -> tuple[Conference, OutgoingTrunk]:
        conf = self._conference(conference_id)
        out = conf.outgoing.get(trunk_id)
        if out is None:
            raise NotFound(f'trunk "{trunk_id}" does not exist in conference {conference_id} (closed or expired)')
        return conf, out

    async def accept_trunk(self, conference_id: str, trunk_id: str, answer_sdp: str) -> None:
        """The downstream's SDP answer to ``offer_trunk``."""
        _, out = self._outgoing(conference_id, trunk_id)
        if out.answered:
            raise MediaError(f'trunk "{trunk_id}" is already answered')
        try:
            await out.sender.accept(answer_sdp)
        except (ValueError, TypeError, KeyError, IndexError, AssertionError) as exc:
            raise MediaError(f"the SDP answer was refused: {exc or type(exc).__name__}") from None
        out.answered = True
        out.last_seen = time.monotonic()

    def probe_trunk(self, conference_id: str, trunk_id: str) -> dict:
        """The downstream's keep-alive: the trunk's state (404 once it is gone)."""
        _, out = self._outgoing(conference_id, trunk_id)
        out.last_seen = time.monotonic()
        return {"id": out.id, "from": out.key[0], "to": out.key[1], "site": out.key[2], "answered": out.answered,
                "state": out.sender.pc.connectionState, "kbps": round(out.sender.kbps(), 1)}

    async def close_trunk(self, conference_id: str, trunk_id: str) -> None:
        conf, out = self._outgoing(conference_id, trunk_id)
        conf.outgoing.pop(trunk_id, None)
        await out.sender.close()

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
                "video_codec": video.codec if video is not None and pub is not None else None,
                "codec_fallbacks": sum(slot.mismatches for r in subs for slot in r.slots),
            }
        trunks: dict[str, dict] = {}
        # (key, kbps, state, why not up, keyframe requests that came back over it to the sending end here)
        legs: list[tuple[Key, float, str, str, int]] = [
            (key, leg.kbps(), "up", "", _pli(leg.sender)) for key, leg in conf.legs.items()]
        legs += [(key, t.kbps(), t.state, t.reason, 0) for key, t in conf.remote.items()]
        legs += [(out.key, out.sender.kbps(), out.state(now), "", _pli(out.sender)) for out in conf.outgoing.values()]
        for (src, dst, site), kbps, state, reason, pli in sorted(legs):
            entry = trunks.setdefault(f"{src}>{dst}", {"from": src, "to": dst, "kbps": 0.0, "streams": [],
                                                       "state": "up", "keyframe_requests": 0,
                                                       "remote": src not in conf.bridges or dst not in conf.bridges})
            entry["kbps"] = round(entry["kbps"] + kbps, 1)
            entry["keyframe_requests"] += pli
            if site not in entry["streams"]:
                entry["streams"].append(site)
            if STATE_RANK[state] > STATE_RANK[entry["state"]]:
                entry["state"] = state
                if reason:
                    entry["reason"] = reason
        for key, t in conf.remote.items():
            if t.losses:
                entry = trunks[f"{key[0]}>{key[1]}"]
                entry["losses"] = entry.get("losses", 0) + t.losses
        forwarded = sum(
            1 for r in conf.resources.values() if r.role == "subscriber" for slot in r.slots if slot.source is not None
        ) + 2 * (len(conf.legs) + len(conf.outgoing))  # trunks this process sends on (video + audio each)
        return {
            "conference_id": conf.id,
            "participants": len({r.site for r in conf.resources.values()}),
            "forwarded_streams": forwarded,
            "sites": sites,
            "trunks": trunks,
            "bridges": {b: {"resources": len(br.resources), "sources": len(br.sources), "low_tiers": len(br.transcoders)}
                        for b, br in conf.bridges.items()},
        }


def _pli(sender: TrunkSender) -> int:
    """Keyframe requests (PLI/FIR) the receiving bridge sent back over this trunk leg's RTCP."""
    return sum(getattr(slot, "keyframe_requests", 0) for slot in sender.slots)
