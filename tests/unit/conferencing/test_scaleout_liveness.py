"""Scale-out across bridge processes: levels shared through the store, and the sites a dead process leaves behind."""
from __future__ import annotations

import asyncio
import math
import time
from datetime import datetime, timezone

from sqlalchemy import select

from conferencing import rooms
from conferencing.controller import ConferenceController
from conferencing.levels import MAX_AGE, merge_levels, read_levels, write_levels
from conferencing.models import BridgeProcess
from conferencing.peers import STALE_SECONDS, Peer, reaper, stranded
from tests.unit.conferencing.test_controller import event
from tests.unit.conferencing.test_controller_scaleout import BridgeProcessMedia
from topology.loader import load_inventory
from wangnet.accounts import AuditEntry
from wangnet.config import Settings
from wangnet.store import Store

NOW = float(int(time.time()))  # the media events of `event()` are dated now


# ------------------------------------------------------------ pure rules

def test_merge_levels_keeps_own_figures_and_drops_stale_or_bad_ones() -> None:
    remote = {"shulinzhao": (0.6, NOW - 0.4), "city": (0.9, NOW - 0.1), "old": (0.9, NOW - MAX_AGE - 0.1),
              "future": (0.9, NOW + MAX_AGE + 5), "loud": (7.0, NOW), "nan": (math.nan, NOW)}
    heard = merge_levels({"city": 0.2, "dongsheng": -1.0}, remote, NOW)
    assert heard == {"city": 0.2, "dongsheng": 0.0, "shulinzhao": 0.6, "loud": 1.0, "nan": 0.0}


def test_a_participation_is_stranded_when_its_process_is_stale_or_gone() -> None:
    peers = {"*": Peer("*", "http://a", "h:1", NOW - 1),
             "dalad": Peer("dalad", "http://b", "h:2", NOW - STALE_SECONDS - 1)}
    assert not stranded("h:1", peers, NOW)
    assert stranded("h:2", peers, NOW), "killed: heartbeat stale"
    assert stranded("h:3", peers, NOW), "no row names it (stopped, or its claim was taken over)"
    assert not stranded(None, peers, NOW) and not stranded("", peers, NOW), "untracked events are left alone"
    restarted = {"dalad": Peer("dalad", "http://b", "h:1", NOW - 1, started_at=NOW - 5)}  # same pid (a container)
    assert stranded("h:1", restarted, NOW, at=NOW - 60), "joined at the previous incarnation"
    assert not stranded("h:1", restarted, NOW, at=NOW - 2)


def test_one_live_process_reaps_serve_first() -> None:
    fresh, stale = NOW - 1, NOW - STALE_SECONDS - 1
    assert reaper({"*": Peer("*", "", "h:1", fresh), "dalad": Peer("dalad", "", "h:2", fresh)}, NOW) == "*"
    assert reaper({"*": Peer("*", "", "h:1", stale), "dalad": Peer("dalad", "", "h:2", fresh),
                   "dongsheng": Peer("dongsheng", "", "h:3", fresh)}, NOW) == "dalad"
    assert reaper({"*": Peer("*", "", "h:1", stale)}, NOW) is None


def test_levels_round_trip_through_the_store(store: Store, settings: Settings) -> None:
    inv = load_inventory(settings.inventory_path)
    with store.session() as s:
        cid = rooms.create_conference(s, inv, "会", "host1").id
        write_levels(s, cid, {"shulinzhao": 0.4}, NOW)
    with store.session() as s:
        write_levels(s, cid, {"shulinzhao": 0.7, "dalad": 2.0}, NOW + 1)
    with store.session() as s:
        assert read_levels(s, cid) == {"shulinzhao": (0.7, NOW + 1), "dalad": (1.0, NOW + 1)}


# ------------------------------------------------------------ controllers of two processes on one store

class Directory:
    """What the controller reads of ``peers.BridgeDirectory``: this process's claim and identity."""

    def __init__(self, claim: str, me: str) -> None:
        self.claim, self.me = claim, me


def _media(bridges: set[str], claim: str, me: str) -> BridgeProcessMedia:
    media = BridgeProcessMedia(bridges)
    media.directory = Directory(claim, me)
    return media


def _register(store: Store, claim: str, process: str, heartbeat: float) -> None:
    with store.session() as s:
        row = s.get(BridgeProcess, claim)
        at = datetime.fromtimestamp(heartbeat, timezone.utc)
        if row is None:
            s.add(BridgeProcess(claim=claim, url="http://127.0.0.1:1", process=process, started_at=at, heartbeat_at=at))
        else:
            row.process, row.heartbeat_at = process, at


def test_a_dead_process_s_levels_fall_silent_and_its_sites_are_lost_once(settings: Settings, store: Store) -> None:
    inv = load_inventory(settings.inventory_path)
    wall = [NOW]
    city_media, dalad_media = _media({"city"}, "*", "h:1"), _media({"dalad"}, "dalad", "h:2")
    city = ConferenceController(settings, store, inv, media=city_media, wall=lambda: wall[0])
    dalad = ConferenceController(settings, store, inv, media=dalad_media, wall=lambda: wall[0])
    _register(store, "*", "h:1", NOW)
    _register(store, "dalad", "h:2", NOW)
    with store.session() as s:
        conf = rooms.create_conference(s, inv, "旗会", "host1")
        rooms.invite(s, conf, ["shulinzhao", "dongsheng"], "host1")
        rooms.start(s, conf)
        cid = conf.id

    async def ticks(t0: float, *controllers: ConferenceController, n: int = 1, step: float = 0.25) -> float:
        t = t0
        for _ in range(n):
            for ctl in controllers:
                await ctl.tick(t)
            t += step
        return t

    def last_events() -> dict[str, str]:
        with store.session() as s:
            return rooms.presence(s, cid)

    def lost_audits() -> list[str]:
        with store.session() as s:
            return [a.detail for a in s.scalars(select(AuditEntry).where(AuditEntry.action == "conference.lost"))]

    async def scenario() -> None:
        city.on_media_event(event(cid, "city", "joined", "city-pub"))
        city_media.publishing.add("city")
        dalad.on_media_event(event(cid, "shulinzhao", "joined", "sz-pub"))
        dalad_media.publishing.add("shulinzhao")
        dalad_media.levels = {"shulinzhao": 0.5}
        t = await ticks(1.0, city, dalad, n=6)
        assert city.rooms[cid].speaker == "shulinzhao", "the township's level reached the root's process"
        with store.session() as s:
            assert [e.process for e in rooms.events(s, cid)] == ["h:1", "h:2"]

        # the dalad process is killed: it writes nothing more. Its level goes stale within MAX_AGE ...
        wall[0] += MAX_AGE + 1
        _register(store, "*", "h:1", wall[0])
        t = await ticks(t, city, n=2)
        assert city.rooms[cid].speaker == "shulinzhao", "a speaker stays through silence"
        assert city.rooms[cid].detector.smoothed["shulinzhao"] < 0.5
        assert last_events()["shulinzhao"] == "joined", "not lost before the heartbeat is stale"
        # ... and once its heartbeat is stale, serve's process marks its site lost: the layout drops it
        wall[0] = NOW + STALE_SECONDS + 1
        _register(store, "*", "h:1", wall[0])
        t = await ticks(t + 1, city, n=8)
        assert last_events() == {"city": "joined", "shulinzhao": "lost"}
        assert city.rooms[cid].speaker is None
        assert set(city_media.last("apply").arg.views) == {"city"}
        assert lost_audits() == ["site=shulinzhao; its bridge process h:2 stopped"]
        t = await ticks(t + 1, city, n=8)
        assert len(lost_audits()) == 1, "lost once"

        # restarted (a new pid takes the claim over): the township rejoins and shows joined again
        _register(store, "dalad", "h:3", wall[0])
        dalad2_media = _media({"dalad"}, "dalad", "h:3")
        dalad2 = ConferenceController(settings, store, inv, media=dalad2_media, wall=lambda: wall[0])
        dalad2.on_media_event(event(cid, "shulinzhao", "joined", "sz-pub2"))
        dalad2_media.publishing.add("shulinzhao")
        t = await ticks(t, dalad2, city, n=4)
        await ticks(t + 1, city, dalad2, n=4)
        assert last_events() == {"city": "joined", "shulinzhao": "joined"}
        assert set(city_media.last("apply").arg.views) == {"city", "shulinzhao"}
        assert len(lost_audits()) == 1

    asyncio.run(scenario())


def test_only_the_elected_process_reaps(settings: Settings, store: Store) -> None:
    inv = load_inventory(settings.inventory_path)
    wall = NOW + STALE_SECONDS + 1
    dalad = ConferenceController(settings, store, inv, media=_media({"dalad"}, "dalad", "h:2"), wall=lambda: wall)
    _register(store, "*", "h:1", wall)  # serve is alive: it reaps, not dalad
    _register(store, "dongsheng", "h:9", NOW)  # long dead
    with store.session() as s:
        conf = rooms.create_conference(s, inv, "旗会", "host1")
        rooms.invite(s, conf, ["dongsheng"], "host1")
        rooms.start(s, conf)
        rooms.record_event(s, conf.id, "dongsheng", "joined", "r1").process = "h:9"
        cid = conf.id
    asyncio.run(dalad.tick(1.0))
    with store.session() as s:
        assert rooms.presence(s, cid)["dongsheng"] == "joined"
    _register(store, "*", "h:1", NOW)  # serve died too: the dalad process is the live one left
    _register(store, "dalad", "h:2", wall)
    asyncio.run(dalad.tick(3.0))
    with store.session() as s:
        assert rooms.presence(s, cid)["dongsheng"] == "lost"


def test_a_clean_stop_records_who_left(settings: Settings, store: Store) -> None:
    """Closing the media at shutdown emits "left" after the controller's last tick: they are still written."""
    inv = load_inventory(settings.inventory_path)
    media = _media({"city", "dalad"}, "*", "h:1")
    ctl = ConferenceController(settings, store, inv, media=media)
    close = media.close

    async def closing(cid: str) -> None:
        await close(cid)
        ctl.on_media_event(event(int(cid), "dalad", "left", "r1"))

    media.close = closing  # type: ignore[method-assign]
    with store.session() as s:
        conf = rooms.create_conference(s, inv, "旗会", "host1")
        rooms.invite(s, conf, ["dalad"], "host1")
        rooms.start(s, conf)
        cid = conf.id

    async def scenario() -> None:
        ctl.on_media_event(event(cid, "dalad", "joined", "r1"))
        media.publishing.add("dalad")
        await ctl.tick(1.0)
        await ctl.stop()

    asyncio.run(scenario())
    with store.session() as s:
        assert [(e.site_id, e.kind, e.process) for e in rooms.events(s, cid)] == [
            ("dalad", "joined", "h:1"), ("dalad", "left", "h:1")]
