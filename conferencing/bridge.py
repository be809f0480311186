"""One bridge: publishers in, subscribers out, each subscriber slot switchable between sources.

A ``Source`` is one site's video or audio as this bridge sees it, fed by a
local publisher or by a trunk from another bridge; it fans encoded frames out
to the ``Slot``s bound to it and passes keyframe requests upstream,
rate-limited. A ``Slot`` is one sending m-line (a subscriber's main picture,
a thumbnail, an audio stream, or a trunk's outgoing stream). Switching a
slot's source keeps its outgoing sequence numbers and RTP timestamps
continuous (``rtp.RtpMapper``) and waits for a keyframe, which it asks the
new source for. Packets go out one by one on the lean path
(``passthrough.RtpOutput``: header rewrite, SRTP, non-blocking ``sendto``);
a subscriber whose socket is full loses packets and is resynced on the next
keyframe — the source never waits for it.
"""
from __future__ import annotations

import asyncio
import itertools
import logging
import random
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Iterable

from aiortc import RTCPeerConnection, RTCSessionDescription

from conferencing import sdp as sdpmod
from conferencing.h264 import h264_depayload
from conferencing.passthrough import (
    FRAME_IS_KEYFRAME,
    EncodedFrame,
    ForwardTrack,
    FrameAssembler,
    ReceiverTap,
    RtpOutput,
    host_addresses_are_loopback,
    negotiated_codecs,
    peer_connection,
    tap_receiver,
    tap_sender,
    vp8_is_keyframe,
)
from conferencing.rtp import Packetizer, RtpIn, RtpMapper, vp8_depayload

if TYPE_CHECKING:
    from conferencing.transcode import Transcoder

log = logging.getLogger(__name__)

KEYFRAME_MIN_INTERVAL = 0.5
"""Seconds between keyframe requests sent upstream for one source: a burst of joins costs one keyframe."""
BRIDGE_CODECS: dict[str, tuple[str, ...]] = {"video": ("VP8", "H264"), "audio": ("opus",)}
"""What the bridge forwards, in the order it prefers for a publisher offering several (browsers offer both)."""
DEPAYLOAD: dict[str, Callable[[bytes], bytes]] = {"VP8": vp8_depayload, "H264": h264_depayload}
"""Per video codec: RTP payload → bitstream bytes, for the frame sinks (the low tier) only."""
LOW_KBPS = 250
"""Default rate of the low tier; ConferenceMedia sets the plan's ``low_kbps``."""
_ids = itertools.count(1)


class MediaError(ValueError):
    """A request the bridge cannot serve (bad SDP, unknown site or resource); the message says which."""


class Meter:
    """Bytes over the last few seconds → kbit/s; ``add`` is cheap enough to call per packet and subscriber."""

    WINDOW = 2.0
    BUCKET = 0.25

    def __init__(self) -> None:
        self._buckets: deque[tuple[float, int]] = deque()
        self._start: float | None = None
        self._bytes = 0
        self.total = 0

    def add(self, size: int, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        self.total += size
        start = self._start
        if start is not None and now - start < self.BUCKET:
            self._bytes += size
            return
        if start is not None:
            self._buckets.append((start, self._bytes))
        self._start, self._bytes = now, size
        self._trim(now)

    def _trim(self, now: float) -> None:
        while self._buckets and self._buckets[0][0] < now - self.WINDOW:
            self._buckets.popleft()

    def kbps(self, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        self._trim(now)
        total = sum(size for _, size in self._buckets)
        if self._start is not None and self._start >= now - self.WINDOW:
            total += self._bytes
        return total * 8 / 1000 / self.WINDOW


class SentMeter:
    """A slot's kbit/s, read from its output's octet counter when asked: nothing to do per packet sent.

    The output already counts the payload bytes it sent; feeding a ``Meter``
    per packet and subscriber as well cost ~4 % of a busy bridge. The bytes
    are dated when read (the snapshot reads every second), so the rate is
    the same ``Meter`` window, up to one read late.
    """

    def __init__(self, slot: "Slot") -> None:
        self._slot = slot
        self._meter = Meter()
        self._seen = 0

    def _catch_up(self, now: float) -> None:
        output = self._slot._output
        sent = output.octets if output is not None else 0
        if sent > self._seen:
            self._meter.add(sent - self._seen, now)
            self._seen = sent

    def kbps(self, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        self._catch_up(now)
        return self._meter.kbps(now)

    @property
    def total(self) -> int:
        self._catch_up(time.monotonic())
        return self._meter.total


class Source:
    """One site's stream of one kind at one bridge.

    Fed packet by packet (``RtpIn`` from a publisher's or a trunk's receiver
    tap: ``accepts_packets``) or frame by frame (the low tier's encoder, an
    endpoint-style tap), which it cuts into packets with its own numbering.
    Slots get packets; frame sinks (the low tier's transcoder) get frames,
    assembled only while one is attached.
    """

    accepts_packets = True
    """``passthrough.tap_receiver`` hands this source raw packets, not frames."""

    def __init__(self, site: str, kind: str) -> None:
        self.site = site
        self.kind = kind
        self.sinks: set[Slot] = set()
        self.frame_sinks: set = set()  # type: ignore[type-arg]
        self.generation = 0
        self.key: tuple[int, int] = (id(self), 0)
        """What a slot's ``RtpMapper`` sees change when the publisher behind this source changes."""
        self.upstream: Callable[[], None] | None = None
        self.tap: ReceiverTap | None = None
        self.keyframe_requests = 0
        self.meter = Meter()
        self._last_request = -1e9
        self._deferred: asyncio.TimerHandle | None = None
        self._packetizer = Packetizer(kind, random.getrandbits(16))
        self._assembler: FrameAssembler | None = None
        self.codec: str | None = "opus" if kind == "audio" else None
        """The codec the publisher (or trunk) behind this source negotiated; None until one attaches."""
        self.codec_params: dict[str, object] = {}
        """Its fmtp (H264: profile-level-id, packetization-mode), to pin subscribers to the same format."""

    def attach(self, tap: ReceiverTap | None, upstream: Callable[[], None] | None,
               codec: str | None = None, params: dict[str, object] | None = None) -> None:
        """A (new) publisher or trunk now feeds this source: a new timeline generation, maybe a new codec."""
        self.generation += 1
        self.key = (id(self), self.generation)
        self.tap = tap
        self.upstream = upstream
        self._assembler = None
        if codec is not None:
            self.codec, self.codec_params = codec, dict(params or {})
        for sink in tuple(self.sinks) + tuple(self.frame_sinks):
            sink.resync()

    def detach(self, tap: ReceiverTap | None) -> None:
        if tap is None or self.tap is tap:
            self.tap = None
            self.upstream = None

    def push(self, item: RtpIn | EncodedFrame) -> None:
        """One received packet (forwarded as is) or one frame (cut into packets here)."""
        if isinstance(item, RtpIn):
            self._fan_out(item)
            if self.frame_sinks:
                self._assemble(item)
            return
        for sink in tuple(self.frame_sinks):
            sink.deliver(self, item)
        for packet in self._packetizer.packets(item.data, item.timestamp, item.clock_rate, item.keyframe, item.arrival):
            self._fan_out(packet)

    def _fan_out(self, packet: RtpIn) -> None:
        self.meter.add(len(packet.payload), packet.arrival)
        for sink in tuple(self.sinks):
            sink.deliver(self, packet)

    def _assemble(self, packet: RtpIn) -> None:
        codec = self.codec or "VP8"
        if self._assembler is None:
            self._assembler = FrameAssembler(self.kind, packet.clock_rate,
                                             is_keyframe=FRAME_IS_KEYFRAME.get(codec, vp8_is_keyframe))
        try:
            data = DEPAYLOAD.get(codec, vp8_depayload)(packet.payload) if self.kind == "video" else packet.payload
        except ValueError:
            return
        frame, _ = self._assembler.add(packet.seq, packet.timestamp, packet.marker, data)
        if frame is not None:
            for sink in tuple(self.frame_sinks):
                sink.deliver(self, frame)

    def request_keyframe(self) -> None:
        """Ask upstream for a keyframe now, or once at the end of the rate-limit interval."""
        if self.kind != "video":
            return
        now = time.monotonic()
        wait = self._last_request + KEYFRAME_MIN_INTERVAL - now
        if wait <= 0:
            self._send_request(now)
        elif self._deferred is None:
            self._deferred = asyncio.get_event_loop().call_later(wait, self._deferred_request)

    def _deferred_request(self) -> None:
        self._deferred = None
        self._send_request(time.monotonic())

    def _send_request(self, now: float) -> None:
        self._last_request = now
        if self.upstream is not None:
            self.keyframe_requests += 1
            self.upstream()

    def close(self) -> None:
        if self._deferred is not None:
            self._deferred.cancel()
            self._deferred = None


class Slot:
    """One outgoing m-line whose source can be switched: packets in, rewritten packets out on the lean path."""

    def __init__(self, kind: str, name: str, track: ForwardTrack | None = None) -> None:
        self.kind = kind
        self.name = name
        self.track = track or ForwardTrack(kind)
        self.source: Source | None = None
        self.mapper = RtpMapper(random.getrandbits(15), random.getrandbits(32))
        self.waiting_keyframe = kind == "video"
        self.resyncs = 0
        self.keyframe_requests = 0
        self.meter = SentMeter(self)
        self._output: RtpOutput | None = None
        self._live = False
        """Sending: the output is connected and (video) a keyframe has started the stream."""
        self._dropped_seen = 0
        self.formats: list[tuple[int, str, dict]] = []  # type: ignore[type-arg]
        """What the peer negotiated on this m-line: (payload type, codec, fmtp); the slot sends each source in its own."""
        self.on_mismatch: Callable[[Slot, Source], None] | None = None
        """Called once per source generation whose codec the peer cannot take (the bridge then reroutes)."""
        self.mismatches = 0
        self._mismatched: object = None
        self.showing: tuple[str, bool] | None = None
        """(site, low) this subscriber slot was asked to show, so it can be rerouted when the codec changes."""

    def bind(self, source: Source | None) -> None:
        if source is self.source:
            return
        if self.source is not None:
            self.source.sinks.discard(self)
        self.source = source
        if source is not None:
            source.sinks.add(self)
            self.resync()

    def resync(self) -> None:
        """Start again from the source's next keyframe (switch, new publisher, stall)."""
        if self.kind == "video":
            self.waiting_keyframe = True
            self._live = False
            self.mapper.rebase()
            if self.source is not None:
                self.source.request_keyframe()

    def on_keyframe_request(self) -> None:
        """PLI/FIR from the subscriber: forwarded to whatever source feeds this slot now."""
        self.keyframe_requests += 1
        if self.source is not None:
            self.source.request_keyframe()

    def deliver(self, source: Source, packet: RtpIn) -> None:
        if not self._live and not self._start(source, packet):
            return
        seq, timestamp = self.mapper.map(source.key, packet.seq, packet.timestamp, packet.clock_rate, packet.arrival)
        output = self._output
        if output.send(packet.marker, seq, timestamp, packet.payload, packet.wall):  # type: ignore[union-attr]
            return
        if output.dropped != self._dropped_seen:  # type: ignore[union-attr]
            self._dropped_seen = output.dropped  # type: ignore[union-attr]
            if self.kind == "video":  # the subscriber's socket is full: skip to a keyframe, never queue
                self.resyncs += 1
                self.resync()

    def _start(self, source: Source, packet: RtpIn) -> bool:
        """Not sending yet: wait for the subscriber's DTLS, then (video) for the first packet of a keyframe."""
        output = self.track.output
        if output is None or not output.ready():
            return False  # the keyframe asked for at bind time may pass unseen: ask again once connected
        if self._output is None:
            self._output = output
            if self.kind == "video":
                source.request_keyframe()
        if self.kind == "video":
            if not packet.keyframe_start:
                return False
            if not self._use_codec_of(source):
                return False
        self._live = True
        self.waiting_keyframe = False
        return True

    def accepts(self, source: Source) -> bool:
        """Can the peer of this slot take the source's codec as is (True while either is not known yet)?"""
        formats = self.formats or (self._output.codecs if self._output is not None else [])
        if not formats or source.codec is None:
            return True
        return sdpmod.choose_payload_type(formats, source.codec, source.codec_params) is not None

    def _use_codec_of(self, source: Source) -> bool:
        """Going live on a source: send with the payload type the peer negotiated for its codec (once per start)."""
        output = self._output
        formats = output.codecs or self.formats  # type: ignore[union-attr]
        if source.codec is None or not formats:
            return True  # a frame-fed source (low tier: VP8) or an output configured the old way
        pt = sdpmod.choose_payload_type(formats, source.codec, source.codec_params)
        if pt is None:
            if self._mismatched != source.key:
                self._mismatched = source.key
                self.mismatches += 1
                log.info("%s slot %s: the peer cannot take %s from %s", self.kind, self.name, source.codec, source.site)
                if self.on_mismatch is not None:
                    self.on_mismatch(self, source)
            return False
        output.payload_type = pt  # type: ignore[union-attr]
        return True

    def close(self) -> None:
        self.bind(None)
        self.track.stop()


@dataclass
class Resource:
    """A WHIP publisher, a WHEP subscriber or one end of a trunk leg: one peer connection."""

    id: str
    conference_id: str
    site: str
    role: str  # "publisher" | "subscriber"
    pc: RTCPeerConnection
    bridge: "Bridge"
    slots: list[Slot] = field(default_factory=list)
    taps: dict[str, ReceiverTap] = field(default_factory=dict)

    @property
    def main(self) -> Slot | None:
        return next((s for s in self.slots if s.name == "main"), None)

    def video_slots(self) -> list[Slot]:
        return [s for s in self.slots if s.kind == "video"]

    def audio_slots(self) -> list[Slot]:
        return [s for s in self.slots if s.kind == "audio"]


def new_resource_id() -> str:
    import secrets

    return f"r{next(_ids)}{secrets.token_hex(6)}"


async def answer_offer(pc: RTCPeerConnection, offer_sdp: str, one: bool = True) -> list[str]:
    """setRemoteDescription after the bridge's checks; returns the m-line kinds in order.

    ``one``: a publisher or trunk is cut to one codec per m-line (VP8 when it
    offers VP8, else H264); a subscriber (``one=False``) keeps every codec the
    bridge forwards, so each of its slots can carry its source's codec as is.
    """
    try:
        media = sdpmod.check_offer(offer_sdp)
        pinned = sdpmod.restrict_codecs(offer_sdp, BRIDGE_CODECS, one=one)
    except sdpmod.SdpError as exc:
        raise MediaError(str(exc)) from None
    if host_addresses_are_loopback():
        pinned = sdpmod.keep_candidates(pinned, sdpmod.is_loopback_candidate)
    try:
        await pc.setRemoteDescription(RTCSessionDescription(sdp=pinned, type="offer"))
    except (ValueError, TypeError, KeyError, IndexError, AssertionError) as exc:
        raise MediaError(f"the SDP offer was refused: {exc or type(exc).__name__}") from exc
    return [m.kind for m in media]


class Bridge:
    """All sources and resources of one conference at one bridge site."""

    def __init__(self, conference_id: str, site: str) -> None:
        self.conference_id = conference_id
        self.site = site
        self.sources: dict[tuple[str, str], Source] = {}
        self.resources: dict[str, Resource] = {}
        self.low_kbps = LOW_KBPS
        self.transcoders: dict[str, "Transcoder"] = {}

    def source(self, site: str, kind: str) -> Source:
        key = (site, kind)
        if key not in self.sources:
            self.sources[key] = Source(site, kind)
        return self.sources[key]

    def low_source(self, site: str) -> Source:
        """The low tier of a site's video at this bridge: transcoded once, shared by every low subscriber."""
        from conferencing.transcode import Transcoder

        key = (site, "video@low")
        if key not in self.sources:
            self.sources[key] = Source(site, "video")
            self.sources[key].codec = "VP8"  # the tier's encoder
        if site not in self.transcoders:
            self.transcoders[site] = Transcoder(self.source(site, "video"), self.sources[key], self.low_kbps)
        return self.sources[key]

    def _drop_idle_transcoders(self) -> None:
        for site in [s for s, t in self.transcoders.items() if not self.sources[(s, "video@low")].sinks]:
            self.transcoders.pop(site).close()

    async def add_publisher(self, site: str, offer_sdp: str, on_state: Callable[[Resource, str], None]) -> tuple[Resource, str]:
        """WHIP: the site's camera and microphone become this bridge's sources for ``site``."""
        pc = peer_connection()
        res = Resource(new_resource_id(), self.conference_id, site, "publisher", pc, self)
        try:
            await answer_offer(pc, offer_sdp)
            for transceiver in pc.getTransceivers():
                kind = transceiver.kind
                if kind in res.taps or kind not in ("audio", "video"):
                    continue  # one stream per kind per site
                source = self.source(site, kind)
                res.taps[kind] = attach_source(source, transceiver)
            await pc.setLocalDescription(await pc.createAnswer())
        except Exception:
            await self._drop(res)
            raise
        self._watch(res, on_state)
        self.resources[res.id] = res
        self.reroute(site)
        return res, pc.localDescription.sdp

    async def add_subscriber(self, site: str, offer_sdp: str, on_state: Callable[[Resource, str], None]) -> tuple[Resource, str]:
        """WHEP: recvonly m-lines become slots — first video "main", further videos thumbnails, audios in order."""
        pc = peer_connection()
        res = Resource(new_resource_id(), self.conference_id, site, "subscriber", pc, self)
        try:
            await answer_offer(pc, offer_sdp, one=False)
            videos = audios = 0
            for transceiver in pc.getTransceivers():
                if transceiver.kind == "video":
                    name = "main" if videos == 0 else f"thumb{videos}"
                    videos += 1
                else:
                    name = f"audio{audios}"
                    audios += 1
                slot = Slot(transceiver.kind, name)
                slot.formats = negotiated_codecs(transceiver)
                slot.on_mismatch = self._on_mismatch
                transceiver.direction = "sendonly"
                transceiver.sender.replaceTrack(slot.track)
                tap_sender(transceiver.sender, slot.on_keyframe_request)
                res.slots.append(slot)
            await pc.setLocalDescription(await pc.createAnswer())
        except Exception:
            await self._drop(res)
            raise
        self._watch(res, on_state)
        self.resources[res.id] = res
        return res, pc.localDescription.sdp

    def show(self, res: Resource, main: str | None, thumbs: Iterable[str], audio: Iterable[str], low: bool = False) -> None:
        """Bind a subscriber's slots to the sources of the view (missing slots: the extra sources are not sent).

        ``low``: the plan gives this site the low tier, so its videos come from the shared transcoded copy.
        """
        videos = res.video_slots()
        wanted_video = [main, *thumbs]
        for slot, site in itertools.zip_longest(videos, wanted_video[: len(videos)]):
            if slot is not None:
                if not site or site == res.site:
                    slot.bind(None)
                    slot.showing = None
                else:
                    slot.showing = (site, low)
                    slot.bind(self._video_for(slot, site, low))
        self._drop_idle_transcoders()
        audios = res.audio_slots()
        heard = [s for s in audio if s != res.site][: len(audios)]
        for slot, site in itertools.zip_longest(audios, heard):
            if slot is not None:
                slot.bind(self.source(site, "audio") if site else None)

    def _video_for(self, slot: Slot, site: str, low: bool) -> Source:
        """The site's video as this slot can take it: the publisher's own, or the shared low tier.

        The low tier (one VP8 transcode per source at this bridge) is also what
        a subscriber gets when it cannot take the publisher's codec (a VP8-only
        client watching an H264 publisher): decoded once, never per subscriber.
        """
        original = self.source(site, "video")
        if low or not slot.accepts(original):
            return self.low_source(site)
        return original

    def _on_mismatch(self, slot: Slot, source: Source) -> None:
        """A subscriber's slot met a codec it cannot take (the publisher joined after ``show``): reroute it."""
        if slot.showing is not None and source is self.sources.get((slot.showing[0], "video")):
            slot.bind(self.low_source(slot.showing[0]))
        else:
            log.warning("%s: %s cannot take %s from %s's %s either; it stays dark", self.site, slot.name,
                        source.codec, source.site, "low tier" if source is not self.sources.get((source.site, "video"))
                        else "video")

    def reroute(self, site: str) -> None:
        """A publisher (or trunk) of ``site`` attached, maybe with another codec: slots showing it follow."""
        for res in list(self.resources.values()):
            for slot in res.video_slots():
                if slot.showing is not None and slot.showing[0] == site:
                    slot.bind(self._video_for(slot, *slot.showing))
        self._drop_idle_transcoders()

    def _watch(self, res: Resource, on_state: Callable[[Resource, str], None]) -> None:
        @res.pc.on("connectionstatechange")
        def changed() -> None:
            on_state(res, res.pc.connectionState)

    async def remove(self, res: Resource) -> None:
        self.resources.pop(res.id, None)
        await self._drop(res)
        self._drop_idle_transcoders()

    async def _drop(self, res: Resource) -> None:
        for slot in res.slots:
            slot.close()
        for kind, tap in res.taps.items():
            source = self.sources.get((res.site, kind))
            if source is not None:
                source.detach(tap)
        try:
            await res.pc.close()
        except Exception:  # a half-negotiated pc may fail to close; nothing else depends on it
            log.debug("closing %s failed", res.id, exc_info=True)

    async def close(self) -> None:
        for res in list(self.resources.values()):
            await self.remove(res)
        for transcoder in self.transcoders.values():
            transcoder.close()
        self.transcoders.clear()
        for source in self.sources.values():
            source.close()


def attach_source(source: Source, transceiver) -> ReceiverTap:  # type: ignore[no-untyped-def]
    """Feed ``source`` from one receiving transceiver (a publisher's or a trunk's), with the codec it negotiated."""
    formats = negotiated_codecs(transceiver)
    codec, params = (formats[0][1], formats[0][2]) if formats else (None, None)
    tap = tap_receiver(transceiver.receiver, source.kind, source.push, codec=codec or "VP8")
    tap.on_loss = source.request_keyframe
    source.attach(tap, tap.request_keyframe, codec, params)
    return tap
