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
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Protocol

from conferencing import rooms
from conferencing.controls import ControlState, build_layout
from conferencing.layout import Layout
from conferencing.models import Conference
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


class ConferenceController:
    """The Service; ``media`` is set by ``build_services`` (or a test)."""

    name = "conference-controller"

    def __init__(self, settings: Settings, store: Store, inventory: Inventory, media: Media | None = None,
                 tick_seconds: float = TICK_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings, self.store, self.inventory, self.media = settings, store, inventory, media
        self.tick_seconds, self.clock = tick_seconds, clock
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
        transitions = self._drain_events()
        speakers = {cid: room.speaker for cid, room in self.rooms.items() if room.speaker != room.row.control.speaker}
        rows = await asyncio.to_thread(self._sync, transitions, speakers, set(self.rooms))
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
                await self._step(room, now)
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
              open_ids: set[int]) -> dict[int, _Row]:
        """Worker thread: write events and speakers, read the conferences to run."""
        from sqlalchemy import or_, select

        with self.store.session() as s:
            for cid, site, kind, resource, at in transitions:
                if s.get(Conference, cid) is None:
                    continue
                rooms.record_event(s, cid, site, kind, resource, at)
                accounts.audit(s, f"site:{site}", f"conference.{kind}", f"conference:{cid}", f"site={site}")
            for cid, speaker in speakers.items():
                conf = s.get(Conference, cid)
                if conf is not None:
                    conf.speaker = speaker
            stmt = select(Conference).where(or_(Conference.state == "running", Conference.id.in_(open_ids)))
            rows = {}
            for conf in s.scalars(stmt):
                rows[conf.id] = _Row(conf.id, conf.state, conf.revision, tuple(rooms.invited_sites(conf)),
                                     rooms.control_state(conf))
            return rows

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
        self._live.pop(cid, None)
        if self.media is not None:
            try:
                await self.media.close(str(cid))
            except Exception:
                log.exception("closing the media of conference %s failed", cid)
        log.info("conference %s closed", cid)

    def _present(self, room: _Room, figures: dict) -> set[str]:
        live = {site for site, res in self._live.get(room.id, {}).items() if res}
        publishing = {site for site, f in figures.items() if isinstance(f, dict) and f.get("publishing")}
        return (live | publishing) & set(room.plan.sites)

    async def _step(self, room: _Room, now: float) -> None:
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
        room.speaker = room.detector.update(levels, now, excluded)
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
    """The media service and its controller, wired together; media first so it is up when the controller ticks."""
    from conferencing.media import ConferenceMedia

    controller = ConferenceController(settings, store, inventory)
    media = ConferenceMedia(settings, listener=controller.on_media_event)
    controller.media = media
    return [media, controller]
