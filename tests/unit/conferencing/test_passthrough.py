"""The bridge forwards VP8 and Opus from a real aiortc publisher to a real aiortc subscriber without decoding.

Publisher and subscriber are separate aiortc peer connections on 127.0.0.1;
the subscriber counts the encoded frames it receives through the same tap (so
neither the bridge nor the test end decodes). Every decoder constructor of
aiortc is spied on: one call anywhere fails the test.
"""
from __future__ import annotations

import asyncio
import fractions
import math
import struct
import time

import aiortc.codecs
import aiortc.codecs.opus
import aiortc.codecs.vpx
import aiortc.rtcrtpreceiver
import av
import pytest
from aiortc import MediaStreamTrack, RTCSessionDescription

from conferencing.bridge import Bridge, MediaError
from conferencing.passthrough import FrameAssembler, peer_connection, tap_receiver, use_host_addresses, vp8_is_keyframe

pytestmark = pytest.mark.timeout(120)


class ColourTrack(MediaStreamTrack):
    """A tiny synthetic camera: 160x120 at 15 fps, so encoding stays cheap on 2 shared cores."""

    kind = "video"

    def __init__(self, tint: int = 128) -> None:
        super().__init__()
        self._tint = tint
        self._pts = 0
        self._start: float | None = None

    async def recv(self) -> av.VideoFrame:
        if self._start is None:
            self._start = time.monotonic()
        self._pts += 6000
        await asyncio.sleep(max(0.0, self._start + self._pts / 90000 - time.monotonic()))
        frame = av.VideoFrame(160, 120, "yuv420p")
        shade = (self._pts // 6000) % 255
        for plane, value in zip(frame.planes, (shade, self._tint, 128)):
            plane.update(bytes([value]) * plane.buffer_size)
        frame.pts = self._pts
        frame.time_base = fractions.Fraction(1, 90000)
        return frame


class ToneTrack(MediaStreamTrack):
    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self._samples = 0
        self._start: float | None = None

    async def recv(self) -> av.AudioFrame:
        if self._start is None:
            self._start = time.monotonic()
        await asyncio.sleep(max(0.0, self._start + self._samples / 48000 - time.monotonic()))
        frame = av.AudioFrame(format="s16", layout="mono", samples=960)
        tone = [int(math.sin(i / 10.0) * 8000) for i in range(960)]
        frame.planes[0].update(struct.pack("<960h", *tone))
        frame.sample_rate = 48000
        frame.pts = self._samples
        frame.time_base = fractions.Fraction(1, 48000)
        self._samples += 960
        return frame


@pytest.fixture
def decoders(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every decoder aiortc would create and every Encoder.pack, recorded (the decoder thread would swallow a raise)."""
    created: list[str] = []
    real = aiortc.codecs.get_decoder

    def spy(codec):  # type: ignore[no-untyped-def]
        created.append(codec.mimeType)
        return real(codec)

    monkeypatch.setattr(aiortc.codecs, "get_decoder", spy)
    monkeypatch.setattr(aiortc.rtcrtpreceiver, "get_decoder", spy)
    for module, name in ((aiortc.codecs.vpx, "Vp8Decoder"), (aiortc.codecs.opus, "OpusDecoder")):
        cls = getattr(module, name)
        original = cls.__init__

        def init(self, *a, _name=name, _orig=original, **kw):  # type: ignore[no-untyped-def]
            created.append(_name)
            _orig(self, *a, **kw)

        monkeypatch.setattr(cls, "__init__", init)
    # the forwarding path never re-packetizes either: aiortc's Encoder.pack is for pre-encoded frames only
    for module, name in ((aiortc.codecs.vpx, "Vp8Encoder"), (aiortc.codecs.opus, "OpusEncoder")):
        cls = getattr(module, name)

        def pack(self, *a, _name=name, **kw):  # type: ignore[no-untyped-def]
            created.append(f"{_name}.pack")
            raise AssertionError("Encoder.pack on the forwarding path")

        monkeypatch.setattr(cls, "pack", pack)
    use_host_addresses(["127.0.0.1"])
    return created


async def _wait(condition, what: str, timeout: float = 45.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def _publish(bridge: Bridge, site: str):  # type: ignore[no-untyped-def]
    pc = peer_connection()
    pc.addTransceiver(ColourTrack(), direction="sendonly")
    pc.addTransceiver(ToneTrack(), direction="sendonly")
    await pc.setLocalDescription(await pc.createOffer())
    res, answer = await bridge.add_publisher(site, pc.localDescription.sdp, lambda r, s: None)
    await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
    return pc, res


async def _subscribe(bridge: Bridge, site: str, received: dict[str, list]):  # type: ignore[no-untyped-def]
    pc = peer_connection()
    for kind in ("video", "audio"):
        t = pc.addTransceiver(kind, direction="recvonly")
        tap_receiver(t.receiver, kind, received[kind].append)
    await pc.setLocalDescription(await pc.createOffer())
    res, answer = await bridge.add_subscriber(site, pc.localDescription.sdp, lambda r, s: None)
    await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
    return pc, res


def test_forwards_vp8_and_opus_without_decoding(decoders: list[str]) -> None:
    async def scenario() -> None:
        bridge = Bridge("c1", "city")
        pub_pc, pub = await _publish(bridge, "banner")
        got: dict[str, list] = {"video": [], "audio": []}
        sub_pc, sub = await _subscribe(bridge, "township", got)
        bridge.show(sub, main="banner", thumbs=(), audio=("banner",))
        try:
            await _wait(lambda: len(got["video"]) >= 15 and len(got["audio"]) >= 25, "forwarded frames")
            assert got["video"][0].keyframe, "a subscriber's first video frame must be a keyframe"
            assert sum(len(f.data) for f in got["video"]) > 0
            assert bridge.source("banner", "video").keyframe_requests >= 1  # the join asked upstream
            assert sub.main is not None and sub.main.meter.total > 0
            # the packets went out on the lean path, and aiortc's sender reports count them
            output = sub.main.track.output
            assert output is not None and output.packets > 0 and output.payload_type is not None
            assert getattr(output.sender, "_RTCRtpSender__packet_count") > 0
        finally:
            await sub_pc.close()
            await pub_pc.close()
            await bridge.close()

    asyncio.run(scenario())
    assert decoders == [], f"a decoder was created on the forwarding path: {decoders}"


def test_ingress_is_lean_and_receiver_reports_still_reach_the_publisher(decoders: list[str]) -> None:
    """Media arrives through ``LeanIngress`` (libsrtp + byte parse), not aiortc's RtpPacket path; RRs still flow."""
    from conferencing.passthrough import LeanIngress

    async def scenario() -> None:
        bridge = Bridge("c1", "city")
        pub_pc, pub = await _publish(bridge, "banner")
        got: dict[str, list] = {"video": [], "audio": []}
        sub_pc, sub = await _subscribe(bridge, "township", got)
        bridge.show(sub, main="banner", thumbs=(), audio=("banner",))
        ingress = LeanIngress.of(pub.taps["video"].receiver.transport)
        aiortc_path: list[int] = []
        for tap in pub.taps.values():  # what still takes aiortc's path: counted, not changed
            original = tap.handle_rtp

            async def spy(packet, arrival_time_ms=0, _original=original):  # type: ignore[no-untyped-def]
                aiortc_path.append(packet.sequence_number)
                await _original(packet, arrival_time_ms)

            tap.receiver._handle_rtp_packet = spy
        try:
            await _wait(lambda: len(got["video"]) >= 15 and len(got["audio"]) >= 25, "forwarded frames")

            async def reported() -> set[str]:
                stats = await pub_pc.getStats()
                return {s.kind for s in stats.values() if s.type == "remote-inbound-rtp"}

            deadline = time.monotonic() + 45
            kinds: set[str] = set()
            while kinds != {"audio", "video"} and time.monotonic() < deadline:
                kinds = await reported()
                await asyncio.sleep(0.2)
            assert kinds == {"audio", "video"}, "the bridge's receiver reports must reach the publisher"
            assert ingress.packets >= 40 and ingress.errors == 0  # at least the 15 + 25 forwarded
            assert len(aiortc_path) < ingress.packets / 10, "media must not go through RtpPacket.parse"
            audio = pub.taps["audio"]
            assert audio.audio_level is not None and 0 < audio.audio_level <= 1, "the RFC 6464 level is read"
            assert pub.taps["video"].packets > 0 and pub.taps["video"].ssrc is not None
        finally:
            await sub_pc.close()
            await pub_pc.close()
            await bridge.close()

    asyncio.run(scenario())
    assert decoders == []


def test_switching_main_picks_new_source_at_a_keyframe(decoders: list[str]) -> None:
    async def scenario() -> None:
        bridge = Bridge("c1", "city")
        a_pc, _ = await _publish(bridge, "a")
        b_pc, _ = await _publish(bridge, "b")
        got: dict[str, list] = {"video": [], "audio": []}
        sub_pc, sub = await _subscribe(bridge, "viewer", got)
        try:
            bridge.show(sub, main="a", thumbs=(), audio=())
            await _wait(lambda: len(got["video"]) >= 5, "frames from a")
            before = len(got["video"])
            bridge.show(sub, main="b", thumbs=(), audio=())
            assert sub.main is not None and sub.main.source is bridge.source("b", "video")
            await _wait(lambda: len(got["video"]) >= before + 5, "frames from b")
            # the first frame after the switch that reached the subscriber is a keyframe
            assert any(f.keyframe for f in got["video"][before:before + 3])
            timestamps = [f.timestamp for f in got["video"]]
            steps = [(b - a) % (1 << 32) for a, b in zip(timestamps, timestamps[1:])]
            assert all(0 < s < 90000 * 5 for s in steps), "RTP timestamps stay continuous across the switch"
        finally:
            for pc in (sub_pc, a_pc, b_pc):
                await pc.close()
            await bridge.close()

    asyncio.run(scenario())
    assert decoders == []


def test_bad_offer_is_refused_clearly() -> None:
    async def scenario() -> None:
        bridge = Bridge("c1", "city")
        with pytest.raises(MediaError, match="line 1"):
            await bridge.add_publisher("a", "hello", lambda r, s: None)
        await bridge.close()

    asyncio.run(scenario())


def test_frame_assembler_drops_a_broken_frame_until_keyframe() -> None:
    asm = FrameAssembler("video", 90000)
    key, delta = b"\x10\x02\x00" + b"k" * 10, b"\x11\x02\x00" + b"d" * 10
    assert vp8_is_keyframe(key) and not vp8_is_keyframe(delta)
    assert asm.add(1, 100, False, key[:5]) == (None, False)
    frame, loss = asm.add(2, 100, True, key[5:])
    assert frame is not None and frame.keyframe and frame.data == key and not loss
    frame, loss = asm.add(4, 200, True, delta)  # seq 3 lost
    assert frame is None and loss and asm.lost == 1
    assert asm.add(5, 300, True, delta)[0] is None  # still waiting for a keyframe
    frame, _ = asm.add(6, 400, True, key)
    assert frame is not None and frame.keyframe


def test_nack_is_answered_from_history_and_a_miss_asks_for_a_keyframe(decoders: list[str]) -> None:
    """A real aiortc subscriber sends RTCP NACKs: a recent packet is resent as sent, a forgotten one costs a PLI."""

    async def scenario() -> None:
        bridge = Bridge("c1", "city")
        pub_pc, _ = await _publish(bridge, "banner")
        got: dict[str, list] = {"video": [], "audio": []}
        sub_pc, sub = await _subscribe(bridge, "township", got)
        bridge.show(sub, main="banner", thumbs=(), audio=())
        try:
            await _wait(lambda: len(got["video"]) >= 5, "forwarded frames")
            slot = sub.main
            assert slot is not None and slot.track.output is not None
            output = slot.track.output
            receiver = next(t.receiver for t in sub_pc.getTransceivers() if t.kind == "video")
            recent = slot.mapper.last_seq
            await receiver._send_rtcp_nack(output.ssrc, [recent])
            await _wait(lambda: output.retransmitted >= 1, "the NACKed packet resent from the history")
            requests = slot.keyframe_requests
            await receiver._send_rtcp_nack(output.ssrc, [(recent - 5000) & 0xFFFF])
            await _wait(lambda: slot.keyframe_requests > requests, "a keyframe request for a packet no longer held")
        finally:
            await sub_pc.close()
            await pub_pc.close()
            await bridge.close()

    asyncio.run(scenario())
    assert decoders == []


def test_a_closed_subscriber_never_stops_the_others(decoders: list[str]) -> None:
    """One subscriber vanishes mid-stream: its sends fail quietly, the other keeps receiving."""

    async def scenario() -> None:
        bridge = Bridge("c1", "city")
        pub_pc, _ = await _publish(bridge, "banner")
        got_a: dict[str, list] = {"video": [], "audio": []}
        got_b: dict[str, list] = {"video": [], "audio": []}
        a_pc, a = await _subscribe(bridge, "a", got_a)
        b_pc, b = await _subscribe(bridge, "b", got_b)
        for res in (a, b):
            bridge.show(res, main="banner", thumbs=(), audio=("banner",))
        try:
            await _wait(lambda: len(got_a["video"]) >= 5 and len(got_b["video"]) >= 5, "both receive")
            await a_pc.close()  # the browser is gone; the bridge has not noticed yet
            before = len(got_b["video"])
            await _wait(lambda: len(got_b["video"]) >= before + 10, "the other subscriber still receives")
        finally:
            await b_pc.close()
            await pub_pc.close()
            await bridge.close()

    asyncio.run(scenario())
    assert decoders == []


def test_every_audio_m_line_of_a_subscriber_is_sent(decoders: list[str]) -> None:
    """A subscriber hearing two sites (speaker and host) gets both audio streams, all m-lines on one transport.

    aiortc's default bundle policy left the second m-line of a kind on a
    transport that BUNDLE then discarded: the second audio was never sent.
    """

    async def scenario() -> None:
        bridge = Bridge("c1", "city")
        a_pc, _ = await _publish(bridge, "a")
        b_pc, _ = await _publish(bridge, "b")
        pc = peer_connection()
        heard: list[list] = [[], []]
        for kind, sink in (("video", []), ("audio", heard[0]), ("audio", heard[1])):
            t = pc.addTransceiver(kind, direction="recvonly")
            tap_receiver(t.receiver, kind, sink.append)
        await pc.setLocalDescription(await pc.createOffer())
        sub, answer = await bridge.add_subscriber("viewer", pc.localDescription.sdp, lambda r, s: None)
        await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
        bridge.show(sub, main="a", thumbs=(), audio=("a", "b"))
        try:
            assert len({t.sender.transport for t in sub.pc.getTransceivers()}) == 1, "one bundled transport"
            await _wait(lambda: len(heard[0]) >= 25 and len(heard[1]) >= 25, "both audio streams")
            first, second = sub.audio_slots()
            assert first.source is bridge.source("a", "audio") and second.source is bridge.source("b", "audio")
            assert first.track.output.packets > 0 and second.track.output.packets > 0  # type: ignore[union-attr]
        finally:
            for p in (pc, a_pc, b_pc):
                await p.close()
            await bridge.close()

    asyncio.run(scenario())
    assert decoders == []


def test_sender_reports_reach_the_subscriber_from_the_lean_rtcp_loop(decoders: list[str]) -> None:
    """Each forwarded stream's SR (counters of the packets as sent) arrives: aiortc's own RTCP loop is not used."""
    from conferencing import passthrough

    async def scenario() -> None:
        bridge = Bridge("c1", "city")
        pub_pc, _ = await _publish(bridge, "banner")
        got: dict[str, list] = {"video": [], "audio": []}
        sub_pc, sub = await _subscribe(bridge, "township", got)
        bridge.show(sub, main="banner", thumbs=(), audio=("banner",))
        sent: list[bool] = []
        original = passthrough.RtpOutput.send_report

        def spy(self, bye: bool = False) -> bool:  # type: ignore[no-untyped-def]
            sent.append(original(self, bye))
            return sent[-1]

        passthrough.RtpOutput.send_report = spy  # type: ignore[method-assign]
        try:
            await _wait(lambda: len(got["video"]) >= 5, "forwarded frames")

            async def reported() -> dict[str, int]:
                stats = await sub_pc.getStats()
                return {s.kind: s.packetsSent for s in stats.values() if s.type == "remote-outbound-rtp"}

            deadline = time.monotonic() + 45
            counts: dict[str, int] = {}
            while not (counts.get("video", 0) > 0 and counts.get("audio", 0) > 0) and time.monotonic() < deadline:
                counts = await reported()
                await asyncio.sleep(0.2)
            assert counts.get("video", 0) > 0 and counts.get("audio", 0) > 0, f"SRs with counts expected, got {counts}"
            assert any(sent), "the reports went out through RtpOutput.send_report"
        finally:
            passthrough.RtpOutput.send_report = original  # type: ignore[method-assign]
            await sub_pc.close()
            await pub_pc.close()
            await bridge.close()

    asyncio.run(scenario())
    assert decoders == []
