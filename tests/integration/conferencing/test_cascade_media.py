"""A conference cascaded city → banners → townships over real aiortc trunks, with aiortc endpoints.

Five sites publish a distinct synthetic camera; the township under dalad and
the one under dongsheng see each other through two trunk hops (dalad → city →
dongsheng), each stream crossing each trunk once; a roll-call layout switches
everyone's main picture; leaving and losing a subscriber never stops the
others. Frames are told apart by their VP8 payload, which differs per
publisher because each camera has its own shade.
"""
from __future__ import annotations

import asyncio
import time

import pytest
from aiortc import RTCSessionDescription

from conferencing.layout import Layout, SiteView
from conferencing.media import ConferenceMedia, MediaEvent, NotFound
from conferencing.passthrough import peer_connection, tap_receiver
from conferencing.plan import plan_cascade
from tests.unit.conferencing.test_passthrough import ColourTrack, ToneTrack
from topology import load_inventory
from wangnet.config import PROJECT_ROOT, Settings

pytestmark = pytest.mark.timeout(180)
SITES = ("city", "dalad", "shulinzhao", "dongsheng", "hantai")


async def _wait(condition, what: str, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


class Endpoint:
    """One site's terminal as aiortc: a publisher pc and a subscriber pc (main + 2 thumbs + 2 audio)."""

    def __init__(self, site: str) -> None:
        self.site = site
        self.frames: dict[str, list] = {"main": [], "thumb1": [], "thumb2": [], "audio0": [], "audio1": []}
        self.pub = peer_connection()
        self.sub = peer_connection()
        self.pub_id = self.sub_id = ""

    async def join(self, media: ConferenceMedia, cid: str) -> None:
        self.pub.addTransceiver(ColourTrack(tint=TINT[self.site]), direction="sendonly")
        self.pub.addTransceiver(ToneTrack(), direction="sendonly")
        await self.pub.setLocalDescription(await self.pub.createOffer())
        self.pub_id, answer = await media.publish(cid, self.site, self.pub.localDescription.sdp)
        await self.pub.setRemoteDescription(RTCSessionDescription(answer, "answer"))
        await self.subscribe(media, cid)

    async def subscribe(self, media: ConferenceMedia, cid: str) -> None:
        for name in self.frames:
            kind = "audio" if name.startswith("audio") else "video"
            t = self.sub.addTransceiver(kind, direction="recvonly")
            tap_receiver(t.receiver, kind, self.frames[name].append)
        await self.sub.setLocalDescription(await self.sub.createOffer())
        self.sub_id, answer = await media.subscribe(cid, self.site, self.sub.localDescription.sdp)
        await self.sub.setRemoteDescription(RTCSessionDescription(answer, "answer"))

    def count(self, slot: str) -> int:
        return len(self.frames[slot])

    async def close(self) -> None:
        await self.sub.close()
        await self.pub.close()


TINT = {site: 40 + 30 * i for i, site in enumerate(SITES)}


def _tint(frames: list) -> int | None:  # type: ignore[type-arg]
    """The U value of the last keyframe: which publisher's camera this is."""
    import av

    keyframes = [f for f in frames if f.keyframe]
    if not keyframes:
        return None
    codec = av.CodecContext.create("libvpx", "r")
    picture = codec.decode(av.Packet(keyframes[-1].data))[0]
    u = bytes(picture.planes[1])
    return round(sum(u) / len(u))


@pytest.fixture
def plan():  # type: ignore[no-untyped-def]
    return plan_cascade(load_inventory(PROJECT_ROOT / "inventory.yaml"), SITES)


def test_cascade_forwards_through_trunks_once(plan, tmp_path) -> None:  # type: ignore[no-untyped-def]
    events: list[MediaEvent] = []

    async def scenario() -> None:
        media = ConferenceMedia(Settings(var_dir=tmp_path), events.append)
        await media.start()
        await media.open("c1", plan)
        ends = {site: Endpoint(site) for site in SITES}
        try:
            for end in ends.values():
                await end.join(media, "c1")
            # everyone sees the city host; the city sees shulinzhao main and hantai as a thumbnail
            views = {s: SiteView(main="city", thumbs=("shulinzhao",), audio=("city", "shulinzhao")) for s in SITES if s != "city"}
            views["city"] = SiteView(main="shulinzhao", thumbs=("hantai", "dalad"), audio=("shulinzhao", "hantai"))
            await media.apply("c1", Layout(views))
            await _wait(lambda: all(ends[s].count("main") >= 10 for s in SITES), "main pictures everywhere")
            await _wait(lambda: ends["hantai"].count("thumb1") >= 10 and ends["city"].count("thumb2") >= 10, "thumbnails")
            await _wait(lambda: all(ends[s].count("audio0") >= 20 for s in SITES), "audio everywhere")
            snap = media.snapshot("c1")
            trunks = {k: sorted(v["streams"]) for k, v in snap["trunks"].items()}
            # each source crosses each trunk once; hantai's stream goes up to the city only, city's down to both banners
            assert trunks == {
                "city>dalad": ["city"],
                "city>dongsheng": ["city", "shulinzhao"],
                "dalad>city": ["dalad", "shulinzhao"],
                "dongsheng>city": ["hantai"],
            }
            assert snap["sites"]["shulinzhao"]["publishing"] and snap["sites"]["shulinzhao"]["kbps_in"] > 0
            assert snap["sites"]["hantai"]["kbps_out"] > 0
            assert snap["participants"] == 5
            assert any(v["audio_level"] > 0 for v in snap["sites"].values()), "audio levels from the RTP extension"

            # roll-call hantai: everyone's main picture switches to it
            rollcall = {s: SiteView(main="hantai", audio=("hantai",)) for s in SITES if s != "hantai"}
            rollcall["hantai"] = SiteView(main="city", audio=("city",))
            before = {s: ends[s].count("main") for s in SITES}
            await media.apply("c1", Layout(rollcall))
            await _wait(lambda: all(ends[s].count("main") >= before[s] + 10 for s in SITES), "roll-call picture")
            # which picture arrived: the tint of the last keyframe each site received (decoded here, in the test)
            # (hantai's main stays on the city: no switch, so no new keyframe is due — use its last one)
            tints = {s: _tint(ends[s].frames["main"][0 if s == "hantai" else before[s]:]) for s in SITES}
            watchers = {tints[s] for s in SITES if s != "hantai"}
            assert len(watchers) == 1 and None not in watchers, f"everyone but hantai sees one picture: {tints}"
            # hantai's tint (160) is well above the city's (40), whatever the encoder does to chroma
            assert watchers.pop() > tints["hantai"] + 30, f"they see hantai, hantai sees the city: {tints}"
            snap = media.snapshot("c1")
            assert sorted(snap["trunks"]) == ["city>dalad", "city>dongsheng", "dongsheng>city"]
            assert snap["trunks"]["dongsheng>city"]["streams"] == ["hantai"]

            # one site's subscriber vanishes abruptly: the others keep receiving
            await ends["dalad"].sub.close()
            counts = {s: ends[s].count("main") for s in SITES if s != "dalad"}
            await _wait(lambda: all(ends[s].count("main") >= counts[s] + 10 for s in counts), "others unaffected")
            # shulinzhao leaves and rejoins its subscriber
            await media.leave(ends["shulinzhao"].sub_id)
            with pytest.raises(NotFound):
                await media.leave(ends["shulinzhao"].sub_id)
            await ends["shulinzhao"].sub.close()
            again = Endpoint("shulinzhao")
            await again.subscribe(media, "c1")
            await _wait(lambda: again.count("main") >= 10, "rejoined subscriber receives")
            await again.close()
        finally:
            for end in ends.values():
                await end.close()
            await media.stop()

    asyncio.run(scenario())
    kinds = [(e.site, e.kind) for e in events]
    assert ("shulinzhao", "joined") in kinds and ("shulinzhao", "left") in kinds


def test_unknown_site_and_conference_are_refused(plan, tmp_path) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        media = ConferenceMedia(Settings(var_dir=tmp_path))
        await media.start()
        await media.open("c1", plan)
        with pytest.raises(NotFound, match="not running"):
            await media.publish("nope", "city", "v=0\r\n")
        with pytest.raises(NotFound, match='"jungar" is not in this conference'):
            await media.publish("c1", "jungar", "v=0\r\n")
        await media.stop()

    asyncio.run(scenario())
