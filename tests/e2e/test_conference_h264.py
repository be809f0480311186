"""Debian's headless Chromium publishes H264 only; the bridge forwards it as is to an aiortc viewer and a Chromium one.

Chromium offers H264 (42001f/42e01f/4d001f, both packetization modes) and
encodes it (OpenH264: ``encoderImplementation`` in getStats). The bridge runs
in the test process on its own loop thread; signalling is handed between the
pages and the bridge directly (the WHIP route itself is covered by
tests/integration/conferencing/test_h264_whip.py). The Chromium viewer's
main picture is then switched to a VP8 publisher: the payload type changes
at the keyframe and Chromium keeps decoding.
"""
from __future__ import annotations

import asyncio
import threading
import time

import pytest
from aiortc import RTCSessionDescription

from conferencing.bridge import Bridge
from conferencing.passthrough import use_host_addresses
from tests.e2e.conftest import CHROMIUM_ARGS
from tests.integration.conferencing.test_h264_whip import Viewer

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]
MEDIA_ARGS = [
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--allow-loopback-in-peer-connection",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
]
ORIGIN = "http://127.0.0.1:9"  # never contacted: the page is served by Playwright's router (a secure context)

PUBLISH_JS = """async () => {
  const s = await navigator.mediaDevices.getUserMedia({video: {width: 320, height: 240}, audio: true});
  const pc = new RTCPeerConnection();
  window.pc = pc;
  const h264 = RTCRtpSender.getCapabilities('video').codecs.filter(c => c.mimeType === 'video/H264');
  pc.addTransceiver(s.getVideoTracks()[0], {direction: 'sendonly'}).setCodecPreferences(h264);
  pc.addTransceiver(s.getAudioTracks()[0], {direction: 'sendonly'});
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise(done => {
    if (pc.iceGatheringState === 'complete') { done(); return; }
    pc.onicegatheringstatechange = () => { if (pc.iceGatheringState === 'complete') done(); };
  });
  return pc.localDescription.sdp;
}"""

VIEW_JS = """async () => {
  const pc = new RTCPeerConnection();
  window.sub = pc;
  pc.addTransceiver('video', {direction: 'recvonly'});
  pc.addTransceiver('audio', {direction: 'recvonly'});
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise(done => {
    if (pc.iceGatheringState === 'complete') { done(); return; }
    pc.onicegatheringstatechange = () => { if (pc.iceGatheringState === 'complete') done(); };
  });
  return pc.localDescription.sdp;
}"""

DECODED_JS = """async () => {
  const stats = await window.sub.getStats();
  for (const s of stats.values()) {
    if (s.type === 'inbound-rtp' && s.kind === 'video' && s.codecId) {
      return [stats.get(s.codecId).mimeType, s.framesDecoded || 0, s.frameWidth || 0];
    }
  }
  return [null, 0, 0];
}"""

SENT_JS = """async () => {
  const stats = await window.pc.getStats();
  for (const s of stats.values()) {
    if (s.type === 'outbound-rtp' && s.kind === 'video' && s.codecId) {
      return [stats.get(s.codecId).mimeType, s.encoderImplementation || '', s.framesEncoded || 0];
    }
  }
  return null;
}"""


class LoopThread:
    """The bridge's own asyncio loop, as in ``wangnet serve`` (the page is driven from the test's thread)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def call(self, coro, timeout: float = 30.0):  # type: ignore[no-untyped-def]
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


async def _publish_vp8(bridge: Bridge):  # type: ignore[no-untyped-def]
    from aiortc import RTCRtpSender

    from conferencing.passthrough import peer_connection
    from tests.unit.conferencing.test_passthrough import ColourTrack

    pc = peer_connection()
    vp8 = [c for c in RTCRtpSender.getCapabilities("video").codecs if c.mimeType == "video/VP8"]
    pc.addTransceiver(ColourTrack(), direction="sendonly").setCodecPreferences(vp8)
    await pc.setLocalDescription(await pc.createOffer())
    _, answer = await bridge.add_publisher("city", pc.localDescription.sdp, lambda r, s: None)
    await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
    return pc


async def _browser_viewer(bridge: Bridge, offer: str):  # type: ignore[no-untyped-def]
    res, answer = await bridge.add_subscriber("hantai", offer, lambda r, s: None)
    bridge.show(res, main="dalad", thumbs=(), audio=())
    return res, answer


def _until(condition, what: str, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


async def _subscribe(bridge: Bridge, viewer: Viewer):  # type: ignore[no-untyped-def]
    res, answer = await bridge.add_subscriber("shulinzhao", await viewer.offer(), lambda r, s: None)
    await viewer.pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
    bridge.show(res, main="dalad", thumbs=(), audio=("dalad",))
    return res


async def _show(bridge: Bridge, res, site: str) -> None:  # type: ignore[no-untyped-def]
    bridge.show(res, main=site, thumbs=(), audio=())


async def _make(cls):  # type: ignore[no-untyped-def]
    return cls()


def test_chromium_h264_publisher_reaches_a_decoding_viewer(chromium_path) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import sync_playwright

    use_host_addresses(["127.0.0.1"])
    runner = LoopThread()
    bridge = runner.call(_make(lambda: Bridge("e2e", "dalad")))
    viewer = runner.call(_make(Viewer))
    vp8_pc = None
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS + MEDIA_ARGS)
            try:
                page = browser.new_page()
                page.route(f"{ORIGIN}/**", lambda route: route.fulfill(body="<html><body>h264</body></html>",
                                                                      content_type="text/html"))
                page.goto(f"{ORIGIN}/publish")
                offer = page.evaluate(PUBLISH_JS)
                assert "H264/90000" in offer and "VP8/90000" not in offer
                _, answer = runner.call(bridge.add_publisher("dalad", offer, lambda r, s: None))
                assert "H264/90000" in answer and "packetization-mode=1" in answer
                page.evaluate("(sdp) => window.pc.setRemoteDescription({type: 'answer', sdp})", answer)
                runner.call(_subscribe(bridge, viewer))
                deadline = time.monotonic() + 60
                while len(viewer.pictures) < 20:
                    assert time.monotonic() < deadline, (
                        f"only {len(viewer.pictures)} pictures decoded; Chromium sent {page.evaluate(SENT_JS)}")
                    time.sleep(0.2)
                mime, encoder, frames = page.evaluate(SENT_JS)
                assert mime == "video/H264" and frames > 0, (mime, encoder, frames)
                assert bridge.source("dalad", "video").codec == "H264"
                last = viewer.pictures[-1]
                assert last.width >= 160 and last.height >= 120
                print(f"Chromium encoder: {encoder}; {len(viewer.pictures)} pictures {last.width}x{last.height}")

                # a Chromium viewer: H264 from the Chromium publisher, then VP8 from an aiortc one on the same slot
                watcher = browser.new_page()
                watcher.route(f"{ORIGIN}/**", lambda route: route.fulfill(body="<html></html>", content_type="text/html"))
                watcher.goto(f"{ORIGIN}/view")
                res, answer = runner.call(_browser_viewer(bridge, watcher.evaluate(VIEW_JS)))
                watcher.evaluate("(sdp) => window.sub.setRemoteDescription({type: 'answer', sdp})", answer)
                _until(lambda: watcher.evaluate(DECODED_JS)[1] >= 20, "Chromium decoding the forwarded H264")
                assert watcher.evaluate(DECODED_JS)[0] == "video/H264"
                vp8_pc = runner.call(_publish_vp8(bridge))
                runner.call(_show(bridge, res, "city"))
                before = watcher.evaluate(DECODED_JS)[1]
                _until(lambda: watcher.evaluate(DECODED_JS)[0] == "video/VP8"
                       and watcher.evaluate(DECODED_JS)[1] >= before + 20, "Chromium decoding VP8 after the switch")
                assert res.main.source is bridge.source("city", "video"), "pass-through, no tier"
                assert bridge.transcoders == {}
            finally:
                browser.close()
    finally:
        if vp8_pc is not None:
            runner.call(vp8_pc.close())
        runner.call(viewer.close())
        runner.call(bridge.close())
        runner.stop()
