"""H264 end to end over WHIP/WHEP: an H264-only publisher (as OBS or GStreamer send) reaches a subscriber that decodes it.

Both clients are real aiortc peer connections talking HTTP to the web app; the
publisher encodes with aiortc's libx264 encoder, the subscriber receives
through aiortc's ordinary receive path and decodes (in the test client —
the bridge forwards the packets without decoding, see the unit tests' spies).
"""
from __future__ import annotations

import asyncio
import time

import pytest
from aiortc import RTCRtpSender, RTCSessionDescription

from conferencing.layout import Layout, SiteView
from conferencing.passthrough import peer_connection
from tests.conftest import csrf_token, login
from tests.integration.conferencing.test_whip_http import _conference, served  # noqa: F401 (fixture)
from tests.unit.conferencing.test_passthrough import ColourTrack, ToneTrack

pytestmark = pytest.mark.timeout(120)


def _h264_only() -> list:  # type: ignore[type-arg]
    return [c for c in RTCRtpSender.getCapabilities("video").codecs if c.mimeType == "video/H264"]


async def _publisher_offer():  # type: ignore[no-untyped-def]
    pc = peer_connection()
    pc.addTransceiver(ColourTrack(tint=200), direction="sendonly").setCodecPreferences(_h264_only())
    pc.addTransceiver(ToneTrack(), direction="sendonly")
    await pc.setLocalDescription(await pc.createOffer())
    return pc, pc.localDescription.sdp


class Viewer:
    """A WHEP client that decodes what it gets (aiortc's receiver: jitter buffer + H264 decoder)."""

    def __init__(self) -> None:
        self.pc = peer_connection()
        self.pictures: list = []  # type: ignore[type-arg]
        self._tasks: list[asyncio.Task] = []  # type: ignore[type-arg]

        @self.pc.on("track")
        def on_track(track) -> None:  # type: ignore[no-untyped-def]
            if track.kind == "video":
                self._tasks.append(asyncio.ensure_future(self._read(track)))

    async def _read(self, track) -> None:  # type: ignore[no-untyped-def]
        while True:
            try:
                self.pictures.append(await track.recv())
            except Exception:  # the track ended
                return

    async def offer(self) -> str:
        for kind in ("video", "audio"):
            self.pc.addTransceiver(kind, direction="recvonly")
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return self.pc.localDescription.sdp

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await self.pc.close()


def test_an_h264_publisher_is_seen_decoded_by_a_whep_subscriber(served, store, make_user) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    app, runtime, media = served
    cid = _conference(store)
    client = app.test_client()
    login(client, make_user("host"))
    token = csrf_token(client.get(f"/conferences/{cid}/terminal?site=dalad").get_data(as_text=True))
    headers = {"X-CSRFToken": token, "Content-Type": "application/sdp"}
    pub, offer = runtime.call(_publisher_offer())
    viewer = runtime.call(_make_viewer())
    try:
        assert "VP8" not in offer
        r = client.post(f"/api/v1/conferences/{cid}/sites/dalad/whip", data=offer, headers=headers)
        assert r.status_code == 201, r.get_data(as_text=True)
        answer = r.get_data(as_text=True)
        assert "H264/90000" in answer and "packetization-mode=1" in answer
        runtime.call(pub.setRemoteDescription(RTCSessionDescription(answer, "answer")))

        r = client.post(f"/api/v1/conferences/{cid}/sites/shulinzhao/whep", data=runtime.call(viewer.offer()),
                        headers=headers)
        assert r.status_code == 201, r.get_data(as_text=True)
        assert "H264/90000" in r.get_data(as_text=True) and "VP8/90000" in r.get_data(as_text=True)
        runtime.call(viewer.pc.setRemoteDescription(RTCSessionDescription(r.get_data(as_text=True), "answer")))
        layout = Layout({"shulinzhao": SiteView(main="dalad", audio=("dalad",)), "dalad": SiteView(main=None)})
        runtime.call(media.apply(str(cid), layout))

        deadline = time.monotonic() + 60
        while len(viewer.pictures) < 15:
            assert time.monotonic() < deadline, f"only {len(viewer.pictures)} decoded pictures reached the viewer"
            time.sleep(0.2)
        last = viewer.pictures[-1]
        assert (last.width, last.height) == (160, 120)
        plane = last.planes[1]
        data = bytes(plane)
        u = b"".join(data[row * plane.line_size:row * plane.line_size + plane.width] for row in range(plane.height))
        assert abs(sum(u) / len(u) - 200) < 12, "the publisher's picture (its U tint), not garbage"
        snap = runtime.call(_async(lambda: media.snapshot(str(cid))))
        assert snap["sites"]["dalad"]["video_codec"] == "H264" and snap["sites"]["dalad"]["kbps_in"] > 0
        assert snap["sites"]["shulinzhao"]["kbps_out"] > 0 and snap["sites"]["shulinzhao"]["codec_fallbacks"] == 0
        bridge = media.conferences[str(cid)].bridges[media.conferences[str(cid)].plan.bridge_of("dalad")]
        assert bridge.transcoders == {}, "pass-through: no tier was needed"
    finally:
        runtime.call(viewer.close())
        runtime.call(pub.close())


async def _make_viewer() -> Viewer:
    return Viewer()


async def _async(fn):  # type: ignore[no-untyped-def]
    return fn()
