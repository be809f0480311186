"""The controller in one of several bridge processes: sites elsewhere are seen through the store, the root hears the speaker."""
from __future__ import annotations

import asyncio

from conferencing import rooms
from conferencing.controller import ConferenceController
from tests.unit.conferencing.test_controller import RecordingMedia, event
from topology.loader import load_inventory
from wangnet.config import Settings
from wangnet.store import Store


class BridgeProcessMedia(RecordingMedia):
    """A media hosting only some bridges, like ``ConferenceMedia(only_bridge=...)``."""

    def __init__(self, bridges: set[str]) -> None:
        super().__init__()
        self.bridges = bridges
        self.only_bridge = "dalad" if bridges == {"dalad"} else None
        self.directory = object()

    def hosts(self, cid: str, bridge: str) -> bool:
        return bridge in self.bridges


def test_sites_at_other_processes_come_from_the_store_and_the_root_owns_the_speaker(settings: Settings,
                                                                                    store: Store) -> None:
    inv = load_inventory(settings.inventory_path)
    city_media, dalad_media = BridgeProcessMedia({"city"}), BridgeProcessMedia({"dalad"})
    city = ConferenceController(settings, store, inv, media=city_media)
    dalad = ConferenceController(settings, store, inv, media=dalad_media)
    with store.session() as s:
        conf = rooms.create_conference(s, inv, "旗会", "host1")
        rooms.invite(s, conf, ["shulinzhao"], "host1")
        rooms.start(s, conf)
        cid = conf.id

    async def scenario() -> None:
        # the city host joins at the city process, shulinzhao at the dalad process
        city.on_media_event(event(cid, "city", "joined", "city-pub"))
        city_media.publishing.add("city")
        dalad.on_media_event(event(cid, "shulinzhao", "joined", "sz-pub"))
        dalad_media.publishing.add("shulinzhao")
        for t in (1.0, 1.1):  # each writes its own events, then reads the other's
            await city.tick(t)
            await dalad.tick(t)
        assert set(city_media.last("apply").arg.views) == {"city", "shulinzhao"}
        assert set(dalad_media.last("apply").arg.views) == {"city", "shulinzhao"}
        assert city_media.last("apply").arg.view("city").main == "shulinzhao"
        # shulinzhao speaks at the dalad process, which never decides the speaker itself but writes its level ...
        dalad_media.levels = {"shulinzhao": 0.8}
        for i in range(20):
            await dalad.tick(2.0 + i * 0.1)
        assert dalad.rooms[cid].speaker is None
        with store.session() as s:
            assert rooms.require(s, cid).speaker is None
        # ... which the root's process hears through the store: it makes shulinzhao the speaker and writes that
        await city.tick(5.0)
        await city.tick(5.1)
        assert city.rooms[cid].speaker == "shulinzhao"
        with store.session() as s:
            assert rooms.require(s, cid).speaker == "shulinzhao"
        # the dalad process follows the store
        await dalad.tick(5.2)
        assert dalad.rooms[cid].speaker == "shulinzhao"
        assert dalad_media.last("apply").arg.view("city").main == "shulinzhao"

    asyncio.run(scenario())
