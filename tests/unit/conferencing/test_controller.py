"""The controller's own logic against a recording stand-in for the media (the real media is tested by its owner)."""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from types import SimpleNamespace

from sqlalchemy import select

from conferencing import rooms
from conferencing.controller import ConferenceController
from conferencing.layout import Layout
from conferencing.models import ParticipationEvent
from conferencing.plan import CascadePlan
from topology.loader import load_inventory
from wangnet import accounts
from wangnet.config import Settings
from wangnet.store import Store


@dataclass
class Call:
    name: str
    cid: str
    arg: object = None


class RecordingMedia:
    """Records what the controller asks; serves the audio levels a test sets."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.levels: dict[str, float] = {}
        self.publishing: set[str] = set()

    async def open(self, cid: str, plan: CascadePlan) -> None:
        self.calls.append(Call("open", cid, plan))

    async def apply(self, cid: str, layout: Layout) -> None:
        self.calls.append(Call("apply", cid, layout))

    async def close(self, cid: str) -> None:
        self.calls.append(Call("close", cid))

    def snapshot(self, cid: str) -> dict:
        return {"sites": {s: {"publishing": s in self.publishing, "audio_level": self.levels.get(s, 0.0)}
                          for s in self.publishing}}

    def last(self, name: str) -> Call:
        return [c for c in self.calls if c.name == name][-1]


def event(cid: int, site: str, kind: str, resource: str) -> SimpleNamespace:
    return SimpleNamespace(conference_id=str(cid), site=site, kind=kind, resource=resource, at=time.time())


def test_controller_runs_a_conference(settings: Settings, store: Store) -> None:
    inv = load_inventory(settings.inventory_path)
    media = RecordingMedia()
    ctl = ConferenceController(settings, store, inv, media=media)
    with store.session() as s:
        conf = rooms.create_conference(s, inv, "周例会", "host1")
        rooms.invite(s, conf, rooms.resolve_invitation(inv, sites=["dalad", "shulinzhao"]), "host1")
        cid = conf.id

    async def scenario() -> None:
        await ctl.tick(0.0)
        assert media.calls == []  # a draft is not opened
        with store.session() as s:
            rooms.start(s, rooms.require(s, cid))
        await ctl.tick(1.0)
        opened = media.last("open")
        assert opened.cid == str(cid) and opened.arg.bridges == ("city", "dalad")
        # three sites join (publisher + subscriber each: two resources, one "joined" per site)
        for site in ("city", "dalad", "shulinzhao"):
            ctl.on_media_event(event(cid, site, "joined", f"{site}-pub"))
            ctl.on_media_event(event(cid, site, "joined", f"{site}-sub"))
            media.publishing.add(site)
        await ctl.tick(2.0)
        layout = media.last("apply").arg
        assert set(layout.views) == {"city", "dalad", "shulinzhao"}
        assert layout.view("dalad").main == "city"
        # shulinzhao speaks: it becomes the speaker and everyone else sees it
        media.levels = {"shulinzhao": 0.6}
        for i in range(10):
            await ctl.tick(3.0 + i * 0.1)
        assert media.last("apply").arg.view("dalad").main == "shulinzhao"
        applies = len([c for c in media.calls if c.name == "apply"])
        await ctl.tick(4.1)
        assert len([c for c in media.calls if c.name == "apply"]) == applies  # no change, no switch
        with store.session() as s:
            assert rooms.require(s, cid).speaker == "shulinzhao"  # written for the host console
        # the host roll-calls dalad
        with store.session() as s:
            rooms.set_focus(s, rooms.require(s, cid), "rollcall", "dalad")
        await ctl.tick(4.2)
        called = media.last("apply").arg
        assert called.view("shulinzhao").main == "dalad" and called.view("city").main == "dalad"
        # mute dalad: nobody hears it any more
        with store.session() as s:
            rooms.set_muted(s, rooms.require(s, cid), "dalad", True)
        await ctl.tick(4.3)
        assert all("dalad" not in v.audio for v in media.last("apply").arg.views.values())
        # shulinzhao's browser vanishes: one resource lost, then the other
        ctl.on_media_event(event(cid, "shulinzhao", "lost", "shulinzhao-pub"))
        ctl.on_media_event(event(cid, "shulinzhao", "lost", "shulinzhao-sub"))
        media.publishing.discard("shulinzhao")
        await ctl.tick(4.4)
        assert "shulinzhao" not in media.last("apply").arg.views
        # rotation on the host's view
        with store.session() as s:
            c = rooms.require(s, cid)
            rooms.set_focus(s, c, "default", None)
            rooms.set_rotation(s, c, 5)
        await ctl.tick(5.0)
        await ctl.tick(10.5)
        assert ctl.rooms[cid].rotation_index == 1
        with store.session() as s:
            rooms.end(s, rooms.require(s, cid))
        await ctl.tick(11.0)
        assert media.calls[-1] == Call("close", str(cid)) and cid not in ctl.rooms

    asyncio.run(scenario())
    with store.session() as s:
        rows = s.scalars(select(ParticipationEvent).where(ParticipationEvent.conference_id == cid)
                         .order_by(ParticipationEvent.id)).all()
        assert [(r.site_id, r.kind) for r in rows] == [
            ("city", "joined"), ("dalad", "joined"), ("shulinzhao", "joined"), ("shulinzhao", "lost")]
        audit = s.scalars(select(accounts.AuditEntry).where(accounts.AuditEntry.action.like("conference.%"))).all()
        assert {(a.actor, a.action) for a in audit} >= {("site:shulinzhao", "conference.lost"),
                                                         ("site:city", "conference.joined")}
        assert rooms.require(s, cid).speaker is None  # the speaker left


def test_unplannable_conference_is_not_retried_until_it_changes(settings: Settings, store: Store) -> None:
    inv = load_inventory(settings.inventory_path)
    media = RecordingMedia()
    ctl = ConferenceController(settings, store, inv, media=media)
    with store.session() as s:
        conf = rooms.create_conference(s, inv, "bad", "host1")
        conf.sites[0].site_id = "atlantis"  # e.g. a site removed from the inventory since
        rooms.start(s, conf)

    async def scenario() -> None:
        await ctl.tick(0.0)
        await ctl.tick(1.0)

    asyncio.run(scenario())
    assert media.calls == [] and ctl.rooms == {}
