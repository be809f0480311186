"""The conference controller: turns the host's controls in the store into layouts on the bridges.

A ``wangnet.runtime.Service`` on the runtime loop. Every tick it reads the
conferences that should be running (the web views only write rows), opens
the media for new ones with their cascade plan, closes ended ones, detects
the active speaker from the bridges' audio levels, steps the host's rotation,
and applies a new ``Layout`` only when it differs from the last one (every
switch costs a keyframe). Media events (joined/left/lost) arrive from the
media service on any thread; they are queued and written, per site, to the
participation table and the audit log. Database work runs in a worker thread
so the media on the same loop never waits for SQLite.

Scale-out (bridges in several processes, each with its own controller): a
site is present here when it has a resource on one of this process's
bridges, or — for a site joining a bridge in another process — when its last
participation event in the store says it joined. Only the process running
the city (root) bridge detects the speaker and writes it; the others write
their sites' audio levels to the store (``conferencing.levels``) for it and
follow the speaker it writes, so every process builds the same layout and
pulls the same trunks. Each participation event records the process whose
bridge it happened on; when that process dies (stale heartbeat, or its row
gone), one live process — ``peers.reaper`` — marks its sites lost, once.
"""
from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Protocol

from conferencing import levels as shared_levels
from conferencing import rooms
from conferencing.controls import ControlState, build_layout
from conferencing.layout import Layout
from conferencing.models import Conference, ParticipationEvent
from conferencing.plan import CascadePlan, PlanError
from conferencing.speaker import SpeakerDetector
from topology.schema import Inventory
from wangnet import accounts
from wangnet.config import Settings
from wangnet.runtime import Service
from wangnet.store import Store

log = logging.getLogger(__name__)

TICK_SECONDS = 0.25
REPLAN_SECONDS = 30.0
"""How often a running conference's plan is refitted to the links' measured load."""
REAP_SECONDS = 1.0
"""How often the reaper process looks for sites left "joined" by a dead bridge process."""


class Media(Protocol):
    """What the controller needs of ``conferencing.media.ConferenceMedia``."""

    async def open(self, conference_id: str, plan: CascadePlan) -> None: ...
    async def apply(self, conference_id: str, layout: Layout) -> None: ...
    async def close(self, conference_id: str) -> None: ...
    def snapshot(self, conference_id: str) -> dict: ...


@dataclass(frozen=True)
class _Row:
    """A detached copy of what a tick needs from one conference row."""

    id: int
    state: str
    revision: int
    sites: tuple[str, ...]
    control: ControlState
    presence: tuple[tuple[str, str], ...] = ()
    """(site, last participation event kind) from the store: how sites at other processes' bridges are seen."""
    levels: tuple[tuple[str, float, float], ...] = ()
    """(site, level, written at — epoch seconds) other processes wrote; read only where the speaker is detected."""


@dataclass
class _Room:
    """A conference whose media is open."""

    id: int
    plan: CascadePlan
    row: _Row
    planned_at: float
    detector: SpeakerDetector = field(default_factory=SpeakerDetector)
    speaker: str | None = None
    rotation_index: int = 0
    rotated_at: float = 0.0
    layout: Layout | None = None
    heard: dict[str, float] | None = None
    """Levels of this process's publishing sites, for the speaker's process (None: this process detects it)."""


class ConferenceController:
    """The Service; ``media`` is set by ``build_services`` (or a test)."""

    name = "conference-controller"

    def __init__(self, settings: Settings, store: Store, inventory: Inventory, media: Media | None = None,
                 tick_seconds: float = TICK_SECONDS, clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time) -> None:
        self.settings, self.store, self.inventory, self.media = settings, store, inventory, media
        self.tick_seconds, self.clock, self.wall = tick_seconds, clock, wall
        """``clock`` paces the controller; ``wall`` dates what other processes read (levels, liveness)."""
        self._published_at = self._reaped_at = -math.inf
        self._pending: list[tuple[int, str, str, str, datetime]] = []  # transitions of closed conferences
        self.rooms: dict[int, _Room] = {}
        self._events: deque[Any] = deque()
        self._live: dict[int, dict[str, set[str]]] = {}  # conference -> site -> live resource ids
        self._refused: dict[int, int] = {}  # conference -> revision whose plan failed (retry on the next change)
        self._task: asyncio.Task[None] | None = None

    # ---------------------------------------------------------------- service

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="conference-controller")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        for cid in list(self.rooms):
            await self._close(cid)
        if self._pending:  # a clean stop: the sites left (rather than being found lost later)
            transitions, self._pending = self._pending, []
            try:
                await asyncio.to_thread(self._record, transitions)
            except Exception:
                log.exception("recording who left at shutdown failed")

    async def _run(self) -> None:
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:  # a bad row or a media error must never stop the controller
                log.exception("conference controller tick failed")
            await asyncio.sleep(self.tick_seconds)

    def on_media_event(self, event: Any) -> None:
        """The media service's listener (``MediaEvent``); any thread, never blocks."""
        self._events.append(event)

    # ---------------------------------------------------------------- one tick

    async def tick(self, now: float | None = None) -> None:
        """One step: record events, sync with the store, open/close media, apply the layouts."""
        now = self.clock() if now is None else now
        wall = self.wall()
        transitions, self._pending = self._pending + self._drain_events(), []
        speakers = {cid: room.speaker for cid, room in self.rooms.items() if room.speaker != room.row.control.speaker}
        publish: dict[int, dict[str, float]] = {}
        if now - self._published_at >= shared_levels.PUBLISH_SECONDS:
            publish = {cid: room.heard for cid, room in self.rooms.items() if room.heard}
            if publish:
                self._published_at = now
        hear = {cid for cid, room in self.rooms.items() if self._shares_sites() and self._hosts(room, room.plan.city)}
        reap = self._identity() is not None and now - self._reaped_at >= REAP_SECONDS
        if reap:
            self._reaped_at = now
        rows = await asyncio.to_thread(self._sync, transitions, speakers, set(self.rooms), publish=publish,
                                       hear=hear, wall=wall, reap=reap)
        for cid in [c for c in self.rooms if c not in rows or rows[c].state != "running"]:
            await self._close(cid)
        for cid, row in rows.items():
            if row.state != "running":
                continue
            room = self.rooms.get(cid)
            if room is None:
                room = await self._open(row, now)
                if room is None:
                    continue
            elif row.sites != room.row.sites or now - room.planned_at >= REPLAN_SECONDS:
                await self._replan(room, row, now)
            room.row = row
            try:
                await self._step(room, now, wall)
            except Exception:  # one conference's media error must not hold up the others
                log.exception("conference %s: applying the layout failed", cid)

    def _drain_events(self) -> list[tuple[int, str, str, str, datetime]]:
        """Resource events -> site transitions (first resource joined, last one left or lost)."""
        out = []
        while self._events:
            event = self._events.popleft()
            try:
                cid = int(event.conference_id)
            except (TypeError, ValueError):
                log.warning("media event for an unknown conference id %r", getattr(event, "conference_id", None))
                continue
            live = self._live.setdefault(cid, {}).setdefault(event.site, set())
            before = bool(live)
            if event.kind == "joined":
                live.add(event.resource)
            else:
                live.discard(event.resource)
            if bool(live) != before:
                at = datetime.fromtimestamp(event.at, timezone.utc)
                out.append((cid, event.site, "joined" if live else event.kind, event.resource, at))
        return out

    def _sync(self, transitions: list[tuple[int, str, str, str, datetime]], speakers: dict[int, str | None],
              open_ids: set[int], publish: dict[int, dict[str, float]] | None = None, hear: set[int] | None = None,
              wall: float | None = None, reap: bool = False) -> dict[int, _Row]:
        """Worker thread: write events, speakers and levels, mark a dead process's sites lost, read the conferences."""
        from sqlalchemy import or_, select

        wall = self.wall() if wall is None else wall
        me = self._identity()
        with self.store.session() as s:
            self._write_events(s, transitions)
            for cid, speaker in speakers.items():
                conf = s.get(Conference, cid)
                if conf is not None:
                    conf.speaker = speaker
            for cid, heard in (publish or {}).items():
                if s.get(Conference, cid) is not None:
                    shared_levels.write_levels(s, cid, heard, wall)
            if reap and me is not None:
                self._reap(s, me[0], wall)
            stmt = select(Conference).where(or_(Conference.state == "running", Conference.id.in_(open_ids)))
            rows = {}
            for conf in s.scalars(stmt):
                presence = tuple(sorted(rooms.presence(s, conf.id).items())) if self._shares_sites() else ()
                heard: tuple[tuple[str, float, float], ...] = ()
                if hear and conf.id in hear:  # this process detects the speaker: the others' levels
                    stored = shared_levels.read_levels(s, conf.id)
                    heard = tuple((site, level, at) for site, (level, at) in sorted(stored.items()))
                rows[conf.id] = _Row(conf.id, conf.state, conf.revision, tuple(rooms.invited_sites(conf)),
                                     rooms.control_state(conf), presence, heard)
            return rows

    def _record(self, transitions: list[tuple[int, str, str, str, datetime]]) -> None:
        with self.store.session() as s:
            self._write_events(s, transitions)

    def _write_events(self, s: Any, transitions: list[tuple[int, str, str, str, datetime]]) -> None:
        """Participation events and their audit entries, each with the process whose bridge it happened on."""
        me = self._identity()
        for cid, site, kind, resource, at in transitions:
            if s.get(Conference, cid) is None:
                continue
            event = rooms.record_event(s, cid, site, kind, resource, at)
            event.process = me[1] if me is not None else None
            accounts.audit(s, f"site:{site}", f"conference.{kind}", f"conference:{cid}", f"site={site}")

    def _reap(self, s: Any, claim: str, wall: float) -> None:
        """Mark lost, once, the sites whose last event is a join on a bridge process that died (worker thread).

        Only the elected ``peers.reaper`` writes, and it checks and writes in
        one transaction, so a loss is recorded once; a site that rejoins
        elsewhere has a newer "joined" and is left alone.
        """
        from sqlalchemy import select

        from conferencing.peers import reaper, session_peers, stranded

        peers = session_peers(s)
        if reaper(peers, wall) != claim:
            return
        running = s.scalars(select(Conference.id).where(Conference.state == "running")).all()
        for cid in running:
            last: dict[str, ParticipationEvent] = {}
            for ev in rooms.events(s, cid):
                last[ev.site_id] = ev
            for site, ev in sorted(last.items()):
                if ev.kind != "joined" or not stranded(ev.process, peers, wall, shared_levels.epoch_seconds(ev.at)):
                    continue
                lost = rooms.record_event(s, cid, site, "lost", ev.resource,
                                          datetime.fromtimestamp(wall, timezone.utc))
                lost.process = ev.process
                accounts.audit(s, f"site:{site}", "conference.lost", f"conference:{cid}",
                               f"site={site}; its bridge process {ev.process} stopped")
                log.warning("conference %s: %s was joined at bridge process %s, which stopped; marked lost",
                            cid, site, ev.process)

    def _identity(self) -> tuple[str, str] | None:
        """(claim, "host:pid") of this process in the bridge registry, when there is one."""
        directory = getattr(self.media, "directory", None)
        claim, me = getattr(directory, "claim", None), getattr(directory, "me", None)
        return (claim, me) if isinstance(claim, str) and isinstance(me, str) else None

    def _shares_sites(self) -> bool:
        """Whether other processes may run some of the bridges (then presence comes from the store too)."""
        return getattr(self.media, "directory", None) is not None or getattr(self.media, "only_bridge", None) is not None

    def _hosts(self, room: _Room, bridge: str) -> bool:
        hosts = getattr(self.media, "hosts", None)
        return True if hosts is None else bool(hosts(str(room.id), bridge))

    def _plan(self, row: _Row) -> CascadePlan:
        from conferencing.plan import plan_cascade
        from wangnet.linkload import link_utilisation

        return plan_cascade(self.inventory, row.sites, utilisation=link_utilisation(self.store.engine, self.inventory))

    async def _open(self, row: _Row, now: float) -> _Room | None:
        if self._refused.get(row.id) == row.revision:
            return None
        try:
            plan = await asyncio.to_thread(self._plan, row)
        except PlanError as exc:
            self._refused[row.id] = row.revision
            log.error("conference %s cannot be planned: %s", row.id, exc)
            return None
        if self.media is not None:
            try:
                await self.media.open(str(row.id), plan)
            except Exception:
                log.exception("conference %s: opening the media failed (retrying)", row.id)
                return None
        room = _Room(row.id, plan, row, planned_at=now, speaker=row.control.speaker, rotated_at=now)
        self.rooms[row.id] = room
        log.info("conference %s open: bridges %s", row.id, ", ".join(plan.bridges))
        return room

    async def _replan(self, room: _Room, row: _Row, now: float) -> None:
        room.planned_at = now
        try:
            plan = await asyncio.to_thread(self._plan, row)
        except PlanError as exc:
            log.error("conference %s cannot be replanned, keeping the old plan: %s", row.id, exc)
            return
        if plan != room.plan:
            if self.media is not None and set(plan.sites) != set(room.plan.sites):
                await self.media.open(str(room.id), plan)
            room.plan = plan

    async def _close(self, cid: int) -> None:
        self.rooms.pop(cid, None)
        if self.media is not None:
            try:
                await self.media.close(str(cid))
            except Exception:
                log.exception("closing the media of conference %s failed", cid)
        self._pending.extend(self._drain_events())  # the "left" of everyone the close removed
        self._live.pop(cid, None)
        log.info("conference %s closed", cid)

    def _present(self, room: _Room, figures: dict) -> set[str]:
        live = {site for site, res in self._live.get(room.id, {}).items() if res}
        publishing = {site for site, f in figures.items() if isinstance(f, dict) and f.get("publishing")}
        elsewhere = {site for site, kind in room.row.presence
                     if kind == "joined" and site in room.plan.sites
                     and not self._hosts(room, room.plan.bridge_of(site))}
        return (live | publishing | elsewhere) & set(room.plan.sites)

    async def _step(self, room: _Room, now: float, wall: float | None = None) -> None:
        figures: dict = {}
        if self.media is not None:
            try:
                figures = self.media.snapshot(str(room.id)).get("sites", {})
            except Exception:  # a conference the media does not know (yet) has no figures
                figures = {}
        present = self._present(room, figures)
        control = room.row.control
        levels = {site: float(f.get("audio_level") or 0.0) for site, f in figures.items() if isinstance(f, dict)}
        excluded = set(control.muted) | (set(room.plan.sites) - present)
        if self._hosts(room, room.plan.city):  # hears its own sites, and the others' through the store
            remote = {site: (level, at) for site, level, at in room.row.levels}
            heard = shared_levels.merge_levels(levels, remote, self.wall() if wall is None else wall)
            room.speaker = room.detector.update(heard, now, excluded)
            room.heard = None
        else:  # the root bridge's process hears the speaker; tell it our levels, follow what it wrote
            room.speaker = control.speaker
            room.heard = ({site: level for site, level in levels.items() if figures[site].get("publishing")}
                          if self._shares_sites() else None)
        if control.rotate_seconds > 0:
            if now - room.rotated_at >= control.rotate_seconds:
                room.rotation_index += 1
                room.rotated_at = now
        else:
            room.rotated_at = now
        state = ControlState(
            host_site=control.host_site, mode=control.mode, focus=control.focus, muted=control.muted,
            speaker=room.speaker, grid=control.grid, rotate_seconds=control.rotate_seconds,
            rotation_index=room.rotation_index,
        )
        layout = build_layout(state, room.plan, present)
        if layout != room.layout:
            if self.media is not None:
                await self.media.apply(str(room.id), layout)
            room.layout = layout


def build_services(settings: Settings, store: Store, inventory: Inventory) -> list[Service]:
    """The bridge registry, the media service and its controller, wired together.

    The registry first (the media asks it which bridges run here), media
    before the controller so it is up when the controller ticks. This is
    ``wangnet serve``: it runs every bridge no ``wangnet bridge`` process claims.
    """
    from conferencing.media import ConferenceMedia
    from conferencing.peers import BridgeDirectory

    directory = BridgeDirectory(settings, store)
    controller = ConferenceController(settings, store, inventory)
    media = ConferenceMedia(settings, listener=controller.on_media_event, directory=directory)
    controller.media = media
    return [directory, media, controller]
