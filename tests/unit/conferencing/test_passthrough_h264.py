"""H264 publishers through the bridge: forwarded as is, never decoded or re-packetized on the pass-through path.

A real aiortc publisher offers H264 only (as OBS or GStreamer do over WHIP)
and encodes with aiortc's own libx264 encoder; subscribers are real aiortc
peer connections counting the encoded frames they get (decoded here, in the
test, to prove they are pictures). Every aiortc decoder and every
``Encoder.pack`` is spied on; encoders may only be the publisher's own.
"""
from __future__ import annotations

import asyncio

import aiortc.codecs
import aiortc.codecs.h264
import aiortc.codecs.opus
import aiortc.codecs.vpx
import aiortc.rtcrtpreceiver
import aiortc.rtcrtpsender
import av
import pytest
from aiortc import RTCRtpSender, RTCSessionDescription

import conferencing.transcode as transcode
from conferencing.bridge import Bridge
from conferencing.passthrough import peer_connection, tap_receiver, use_host_addresses
from conferencing.trunk import TrunkLeg
from tests.unit.conferencing.test_passthrough import ColourTrack, ToneTrack, _subscribe, _wait

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def codecs(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """Decoders aiortc would create, Encoder.pack calls (both must stay empty) and encoders created (publishers')."""
    seen: dict[str, list[str]] = {"decoders": [], "encoders": []}
    real_decoder, real_encoder = aiortc.codecs.get_decoder, aiortc.codecs.get_encoder

    def decoder_spy(codec):  # type: ignore[no-untyped-def]
        seen["decoders"].append(codec.mimeType)
        return real_decoder(codec)

    def encoder_spy(codec):  # type: ignore[no-untyped-def]
        seen["encoders"].append(codec.mimeType)
        return real_encoder(codec)

    monkeypatch.setattr(aiortc.codecs, "get_decoder", decoder_spy)
    monkeypatch.setattr(aiortc.rtcrtpreceiver, "get_decoder", decoder_spy)
    monkeypatch.setattr(aiortc.rtcrtpsender, "get_encoder", encoder_spy)
    for module, name in ((aiortc.codecs.h264, "H264Decoder"), (aiortc.codecs.vpx, "Vp8Decoder"),
                         (aiortc.codecs.opus, "OpusDecoder")):
        cls = getattr(module, name)
        original = cls.__init__

        def init(self, *a, _name=name, _orig=original, **kw):  # type: ignore[no-untyped-def]
            seen["decoders"].append(_name)
            _orig(self, *a, **kw)

        monkeypatch.setattr(cls, "__init__", init)
    for module, name in ((aiortc.codecs.h264, "H264Encoder"), (aiortc.codecs.vpx, "Vp8Encoder"),
                         (aiortc.codecs.opus, "OpusEncoder")):

        def pack(self, *a, _name=name, **kw):  # type: ignore[no-untyped-def]
            seen["decoders"].append(f"{_name}.pack")
            raise AssertionError("Encoder.pack on the forwarding path")

        monkeypatch.setattr(getattr(module, name), "pack", pack)
    use_host_addresses(["127.0.0.1"])
    return seen


def _only(kind: str, mime: str) -> list:  # type: ignore[type-arg]
    return [c for c in RTCRtpSender.getCapabilities(kind).codecs if c.mimeType.lower() == mime.lower()]


async def _publish(bridge: Bridge, site: str, video: str = "video/H264", tint: int = 128):  # type: ignore[no-untyped-def]
    """A WHIP-style publisher whose offer holds only ``video`` (aiortc offers 42001f and 42e01f for H264)."""
    pc = peer_connection()
    pc.addTransceiver(ColourTrack(tint), direction="sendonly").setCodecPreferences(_only("video", video))
    pc.addTransceiver(ToneTrack(), direction="sendonly")
    await pc.setLocalDescription(await pc.createOffer())
    res, answer = await bridge.add_publisher(site, pc.localDescription.sdp, lambda r, s: None)
    await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
    return pc, res


async def _subscribe_vp8_only(bridge: Bridge, site: str, received: dict[str, list]):  # type: ignore[no-untyped-def,type-arg]
    pc = peer_connection()
    t = pc.addTransceiver("video", direction="recvonly")
    t.setCodecPreferences(_only("video", "video/VP8"))
    tap_receiver(t.receiver, "video", received["video"].append)
    await pc.setLocalDescription(await pc.createOffer())
    res, answer = await bridge.add_subscriber(site, pc.localDescription.sdp, lambda r, s: None)
    await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
    return pc, res


def _pictures(frames: list) -> list[av.VideoFrame]:  # type: ignore[type-arg]
    """Decode received H264 frames in the test (never in the bridge)."""
    decoder = av.CodecContext.create("h264", "r")
    return [p for f in frames for p in decoder.decode(av.Packet(f.data))]


def test_h264_publisher_is_forwarded_to_subscribers_without_decoding(codecs: dict[str, list[str]]) -> None:
    async def scenario() -> None:
        bridge = Bridge("c1", "city")
        pub_pc, pub = await _publish(bridge, "banner")
        source = bridge.source("banner", "video")
        assert source.codec == "H264" and source.codec_params["packetization-mode"] in (1, "1")
        assert pub.taps["video"].codec == "H264"
        got = [{"video": [], "audio": []} for _ in range(2)]
        subs = [await _subscribe(bridge, f"township{i}", got[i]) for i in range(2)]
        for _, res in subs:
            bridge.show(res, main="banner", thumbs=(), audio=("banner",))
        try:
            await _wait(lambda: all(len(g["video"]) >= 15 and len(g["audio"]) >= 25 for g in got), "forwarded frames")
            for g, (_, res) in zip(got, subs):
                assert g["video"][0].keyframe, "a subscriber's first H264 frame is an IDR access unit"
                assert g["video"][0].data.startswith(b"\x00\x00\x00\x01")
                pictures = _pictures(g["video"])
                assert len(pictures) >= 10 and (pictures[0].width, pictures[0].height) == (160, 120)
                output = res.main.track.output
                h264 = {pt for pt, name, _ in output.codecs if name == "H264"}
                assert output.payload_type in h264, "the subscriber is sent H264 with its own H264 payload type"
                assert res.main.source is source, "pass-through: the publisher's own stream, no tier"
            assert bridge.transcoders == {}
        finally:
            for pc, _ in subs:
                await pc.close()
            await pub_pc.close()
            await bridge.close()

    asyncio.run(scenario())
    assert codecs["decoders"] == [], f"a decoder (or Encoder.pack) on the forwarding path: {codecs['decoders']}"
    assert sorted(codecs["encoders"]) == ["audio/opus", "video/H264"], "only the publisher's own encoders"


def test_one_slot_switches_between_a_vp8_and_an_h264_publisher(codecs: dict[str, list[str]]) -> None:
    """The slot sends each source in its own codec: the payload type follows the switch, at a keyframe."""

    async def scenario() -> None:
        bridge = Bridge("c1", "city")
        a_pc, _ = await _publish(bridge, "a", "video/VP8")
        b_pc, _ = await _publish(bridge, "b", "video/H264")
        got: dict[str, list] = {"video": [], "audio": []}  # type: ignore[type-arg]
        sub_pc, sub = await _subscribe(bridge, "viewer", got)
        try:
            bridge.show(sub, main="a", thumbs=(), audio=())
            await _wait(lambda: len(got["video"]) >= 5, "VP8 frames from a")
            output = sub.main.track.output
            pts = {name: pt for pt, name, _ in output.codecs}
            assert output.payload_type == pts["VP8"]
            before = len(got["video"])
            bridge.show(sub, main="b", thumbs=(), audio=())
            await _wait(lambda: len(got["video"]) >= before + 8, "H264 frames from b")
            chosen = next(p for pt, name, p in output.codecs if pt == output.payload_type)
            assert chosen["profile-level-id"] == bridge.source("b", "video").codec_params["profile-level-id"], \
                "pinned to the H264 format of the publisher's profile"
            after = got["video"][before:]
            h264 = [f for f in after if f.data.startswith(b"\x00\x00\x00\x01")]
            assert h264 and h264[0].keyframe and len(_pictures(h264)) >= 5
            timestamps = [f.timestamp for f in got["video"]]
            steps = [(y - x) % (1 << 32) for x, y in zip(timestamps, timestamps[1:])]
            assert all(0 < s < 90000 * 5 for s in steps), "RTP timestamps stay continuous across the codec switch"
        finally:
            for pc in (sub_pc, a_pc, b_pc):
                await pc.close()
            await bridge.close()

    asyncio.run(scenario())
    assert codecs["decoders"] == []


def test_a_vp8_only_subscriber_gets_the_shared_low_tier(codecs: dict[str, list[str]],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """It cannot take H264: it is moved to the one VP8 transcode of the source, even when shown before the publisher joined."""
    made: list[transcode.TierEncoder] = []
    real = transcode.TierEncoder
    monkeypatch.setattr(transcode, "TierEncoder", lambda *a, **kw: made.append(real(*a, **kw)) or made[-1])

    async def scenario() -> None:
        bridge = Bridge("c1", "city")
        bridge.low_kbps = 100
        vp8: dict[str, list] = {"video": []}  # type: ignore[type-arg]
        both: dict[str, list] = {"video": [], "audio": []}  # type: ignore[type-arg]
        vp8_pc, vp8_res = await _subscribe_vp8_only(bridge, "old", vp8)
        both_pc, both_res = await _subscribe(bridge, "new", both)
        for res in (vp8_res, both_res):
            bridge.show(res, main="banner", thumbs=(), audio=())
        pub_pc, _ = await _publish(bridge, "banner")
        try:
            await _wait(lambda: len(vp8["video"]) >= 8 and len(both["video"]) >= 8, "pictures on both")
            assert vp8_res.main.source is bridge.sources[("banner", "video@low")]
            assert both_res.main.source is bridge.source("banner", "video"), "the H264 subscriber stays on pass-through"
            assert len(made) == 1 and made[0].decoder_codec == "H264"
            assert vp8["video"][0].keyframe and not vp8["video"][0].data.startswith(b"\x00\x00\x00\x01")
            assert vp8_res.main.track.output.payload_type == next(
                pt for pt, name, _ in vp8_res.main.track.output.codecs if name == "VP8")
        finally:
            for pc in (vp8_pc, both_pc, pub_pc):
                await pc.close()
            await bridge.close()

    asyncio.run(scenario())
    assert codecs["decoders"] == [], "the tier decodes with its own codec context, not an aiortc decoder"


def test_a_trunk_carries_h264_and_is_reopened_when_the_codec_arrives_late(codecs: dict[str, list[str]]) -> None:
    """A leg opened before its source's publisher (VP8 assumed) goes stale on the H264 keyframe; reopened, it carries H264."""

    async def scenario() -> None:
        upstream, downstream = Bridge("c1", "dalad"), Bridge("c1", "city")
        early = TrunkLeg(upstream, downstream, "shulinzhao")
        await early.open()
        pub_pc, _ = await _publish(upstream, "shulinzhao")
        got: dict[str, list] = {"video": [], "audio": []}  # type: ignore[type-arg]
        sub_pc, sub = await _subscribe(downstream, "city", got)
        downstream.show(sub, main="shulinzhao", thumbs=(), audio=("shulinzhao",))
        leg = early
        try:
            await _wait(lambda: early.stale, "the early leg marked stale")
            await early.close()  # what ConferenceMedia's tick does with a stale leg
            leg = TrunkLeg(upstream, downstream, "shulinzhao")
            await leg.open()
            assert "H264/90000" in leg.sender.pc.localDescription.sdp
            assert "VP8/90000" not in leg.sender.pc.localDescription.sdp
            assert downstream.source("shulinzhao", "video").codec == "H264"
            await _wait(lambda: len(got["video"]) >= 10, "H264 frames over the trunk")
            assert got["video"][0].keyframe and len(_pictures(got["video"])) >= 8
            assert not leg.stale
        finally:
            await sub_pc.close()
            await pub_pc.close()
            await leg.close()
            await upstream.close()
            await downstream.close()

    asyncio.run(scenario())
    assert codecs["decoders"] == []
