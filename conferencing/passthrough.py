"""The few hooks aiortc needs to forward encoded media without decoding.

aiortc 1.16 has no pass-through: its receiver always reassembles frames in a
jitter buffer (which holds each video frame until the next one starts, one
frame interval of added delay) and decodes them in a thread. A bridge only
needs the encoded frames, so this module — the ONLY place that touches
aiortc/aioice internals, hence the exact pin in pyproject.toml — does:

* ``tap_receiver``: replaces one receiver's RTP handler with a small frame
  assembler that emits a VP8/Opus frame as soon as its last packet (RTP
  marker) arrives — no jitter buffer, no decoder thread work, no decoder.
* ``PacketTrack``: a track yielding ``av.Packet``; aiortc's sender then only
  re-packetizes (``Encoder.pack``) with its own SSRC and sequence numbers.
* ``tap_sender``: keyframe requests (PLI/FIR) from a subscriber only set an
  encoder flag in aiortc; the tap hands them to the bridge, which forwards
  them upstream to the publisher (rate-limited there).
* ``peer_connection`` / ``use_host_addresses``: no public STUN server, and
  host candidates on the configured addresses (aioice skips 127.0.0.1); a
  loopback-only bridge also ignores ICE checks from non-loopback sources.
* consent (RFC 7675): a missed consent check does not count while the peer's
  media still arrives (Chromium publishers stop answering consent checks).
"""
from __future__ import annotations

import asyncio
import fractions
import logging
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import aioice.ice
import aioice.stun
import random
import aiortc
import av
from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection
from aiortc.codecs import depayload, is_rtx
from aiortc.mediastreams import MediaStreamError
from aiortc.rtp import RTCP_PSFB_FIR, RTCP_PSFB_PLI, RtcpPsfbPacket
from aiortc.rtcrtpreceiver import RTCRtpReceiver
from aiortc.rtcrtpsender import RTCRtpSender

log = logging.getLogger(__name__)

PINNED_AIORTC = "1.16.0"
if aiortc.__version__ != PINNED_AIORTC:  # the hooks below reach into this exact version
    raise ImportError(f"conferencing.passthrough needs aiortc {PINNED_AIORTC}, found {aiortc.__version__}")

VIDEO_CODEC = "video/VP8"
AUDIO_CODEC = "audio/opus"
MAX_FRAME_BYTES = 2_000_000
"""A video frame larger than this is garbage (a lost marker bit): dropped rather than buffered forever."""


@dataclass
class EncodedFrame:
    """One encoded video frame or audio packet, exactly as the publisher produced it."""

    kind: str
    data: bytes
    timestamp: int
    """RTP timestamp in the publisher's clock."""
    clock_rate: int
    keyframe: bool
    arrival: float = field(default_factory=time.monotonic)


def vp8_is_keyframe(frame: bytes) -> bool:
    """RFC 6386 §9.1: bit 0 of the first byte of a VP8 frame is 0 for a key frame."""
    return len(frame) >= 3 and not (frame[0] & 0x01)


@dataclass
class FrameAssembler:
    """Packets (already depayloaded) in, complete frames out, emitted on the marker bit.

    Pure and small on purpose: a lost packet drops the frame it belongs to
    and reports ``lost`` so that the caller asks the publisher for a keyframe;
    until a keyframe arrives later delta frames are dropped too (a decoder
    fed a broken reference shows garbage).
    """

    kind: str
    clock_rate: int
    _parts: list[bytes] = field(default_factory=list)
    _timestamp: int | None = None
    _next_seq: int | None = None
    _broken: bool = False
    _need_keyframe: bool = True
    lost: int = 0

    def add(self, seq: int, timestamp: int, marker: bool, data: bytes) -> tuple[EncodedFrame | None, bool]:
        """Returns (frame or None, loss_detected)."""
        loss = self._next_seq is not None and seq != self._next_seq
        if loss:
            self.lost += (seq - self._next_seq) % 65536 if (seq - self._next_seq) % 65536 < 1000 else 1
        self._next_seq = (seq + 1) % 65536
        if self.kind == "audio":
            return EncodedFrame("audio", data, timestamp, self.clock_rate, True), loss
        if self._timestamp is not None and timestamp != self._timestamp:
            self._parts, self._broken = [], False  # previous frame lost its marker packet
            loss = True
        if loss:
            self._broken = True
            self._need_keyframe = True
        self._timestamp = timestamp
        self._parts.append(data)
        if sum(map(len, self._parts)) > MAX_FRAME_BYTES:
            self._parts, self._broken = [], True
        if not marker:
            return None, loss
        parts, broken = self._parts, self._broken
        self._parts, self._broken, self._timestamp = [], False, None
        if broken or not parts:
            return None, loss
        payload = b"".join(parts)
        keyframe = vp8_is_keyframe(payload)
        if self._need_keyframe and not keyframe:
            return None, loss
        self._need_keyframe = False
        return EncodedFrame("video", payload, timestamp, self.clock_rate, keyframe), loss


class ReceiverTap:
    """What the bridge sees of one incoming stream: frames, counters, a keyframe request."""

    def __init__(self, receiver: RTCRtpReceiver, kind: str, on_frame: Callable[[EncodedFrame], None]) -> None:
        self.receiver = receiver
        self.kind = kind
        self.on_frame = on_frame
        self.ssrc: int | None = None
        self.packets = 0
        self.bytes = 0
        self.audio_level: float | None = None
        """0..1 from the RTP ssrc-audio-level extension (RFC 6464), None until heard."""
        self._assemblers: dict[int, FrameAssembler] = {}
        self.on_loss: Callable[[], None] | None = None

    @property
    def lost(self) -> int:
        return sum(a.lost for a in self._assemblers.values())

    def request_keyframe(self) -> None:
        """Send a PLI to the publisher (callers rate-limit)."""
        if self.kind == "video" and self.ssrc is not None:
            asyncio.ensure_future(self.receiver._send_rtcp_pli(self.ssrc))

    async def handle_rtp(self, packet, arrival_time_ms: int = 0) -> None:  # type: ignore[no-untyped-def]
        # aiortc keeps the negotiated codecs in a private attribute filled by receive()
        codecs = getattr(self.receiver, "_RTCRtpReceiver__codecs")
        codec = codecs.get(packet.payload_type)
        if codec is None or is_rtx(codec):
            return  # the bridge sends no NACKs, so RTX only comes unasked: ignore it
        self.packets += 1
        self.bytes += len(packet.payload)
        self.ssrc = packet.ssrc
        level = packet.extensions.audio_level
        if level is not None:
            self.audio_level = 10 ** (-float(level[1]) / 20.0)
        assembler = self._assemblers.get(packet.ssrc)
        if assembler is None:
            assembler = self._assemblers[packet.ssrc] = FrameAssembler(self.kind, codec.clockRate)
        try:
            data = depayload(codec, packet.payload) if packet.payload else b""
        except ValueError:
            return
        frame, loss = assembler.add(packet.sequence_number, packet.timestamp, bool(packet.marker), data)
        if loss and self.on_loss is not None:
            self.on_loss()
        if frame is not None:
            self.on_frame(frame)


def tap_receiver(receiver: RTCRtpReceiver, kind: str, on_frame: Callable[[EncodedFrame], None]) -> ReceiverTap:
    """Divert one receiver's RTP to the bridge before any packet arrives (call right after setRemoteDescription)."""
    tap = ReceiverTap(receiver, kind, on_frame)
    receiver._handle_rtp_packet = tap.handle_rtp  # type: ignore[method-assign]
    return tap


def tap_sender(sender: RTCRtpSender, on_keyframe_request: Callable[[], None]) -> None:
    """Hand PLI/FIR from the subscriber to the bridge (aiortc would only flag an encoder we never use)."""
    original = sender._handle_rtcp_packet

    async def handle_rtcp(packet) -> None:  # type: ignore[no-untyped-def]
        await original(packet)
        if isinstance(packet, RtcpPsfbPacket) and packet.fmt in (RTCP_PSFB_PLI, RTCP_PSFB_FIR):
            on_keyframe_request()

    sender._handle_rtcp_packet = handle_rtcp  # type: ignore[method-assign]


class PacketTrack(MediaStreamTrack):
    """A track that yields encoded ``av.Packet``s handed to it, so the sender packs instead of encoding."""

    def __init__(self, kind: str, maxsize: int = 60) -> None:
        super().__init__()
        self.kind = kind
        self.queue: asyncio.Queue[av.Packet | None] = asyncio.Queue(maxsize)

    def put(self, data: bytes, pts: int, clock_rate: int) -> bool:
        """Queue one frame; False when the queue is full (the subscriber stalls)."""
        if self.queue.full():
            return False
        packet = av.Packet(data)
        packet.pts = pts
        packet.time_base = fractions.Fraction(1, clock_rate)
        self.queue.put_nowait(packet)
        return True

    def flush(self) -> int:
        dropped = 0
        while not self.queue.empty():
            self.queue.get_nowait()
            dropped += 1
        return dropped

    async def recv(self) -> av.Packet:  # type: ignore[override]
        if self.readyState != "live":
            raise MediaStreamError
        packet = await self.queue.get()
        if packet is None:
            raise MediaStreamError
        return packet

    def stop(self) -> None:
        if self.readyState == "live":
            try:
                self.queue.put_nowait(None)
            except asyncio.QueueFull:
                self.flush()
                self.queue.put_nowait(None)
        super().stop()


def peer_connection() -> RTCPeerConnection:
    """A peer connection that never asks a public STUN server (aiortc's default asks Google's)."""
    return RTCPeerConnection(RTCConfiguration(iceServers=[]))


def pin_codecs(transceiver) -> None:  # type: ignore[no-untyped-def]
    """Offer only the bridge's codec for this transceiver (VP8 / Opus): trunks then never need a transcode."""
    wanted = VIDEO_CODEC if transceiver.kind == "video" else AUDIO_CODEC
    caps = RTCRtpSender.getCapabilities(transceiver.kind)
    transceiver.setCodecPreferences([c for c in caps.codecs if c.mimeType.lower() == wanted.lower()])


_original_host_addresses = aioice.ice.get_host_addresses
_original_request_received = aioice.ice.Connection.request_received
_chosen_addresses: list[str] = []


def _loopback_request_received(self, message, addr, protocol):  # type: ignore[no-untyped-def]
    """A loopback-only bridge ignores checks from non-loopback sources.

    A browser on a multi-homed host also sends checks to 127.0.0.1 from its
    other interfaces' sockets; aioice would make a peer-reflexive pair of
    that, may keep it as the nominated one, and when the browser later
    prunes that socket the consent checks fail and the call drops after 30 s.
    """
    import ipaddress

    try:
        if not ipaddress.ip_address(addr[0]).is_loopback:
            return None
    except ValueError:
        return None
    return _original_request_received(self, message, addr, protocol)


def host_addresses_are_loopback() -> bool:
    """True when the bridge gathers only loopback candidates (tests, demo): remote non-loopback ones are unreachable."""
    import ipaddress

    return bool(_chosen_addresses) and all(ipaddress.ip_address(a).is_loopback for a in _chosen_addresses)


_original_data_received = aioice.ice.Connection.data_received


def _stamped_data_received(self, data: bytes, component: int) -> None:  # type: ignore[no-untyped-def]
    self._wangnet_last_rx = time.monotonic()
    _original_data_received(self, data, component)


async def _lenient_query_consent(self) -> None:  # type: ignore[no-untyped-def]
    """aioice's consent loop (RFC 7675), except that a missed check does not count while media still arrives.

    Seen with Chromium publishers (sendonly): their answers to our consent
    checks stop after a few seconds although they keep sending media, and
    aioice would close a live call after 30 s. A peer that vanishes stops
    sending too, so it is still dropped after 30 s of silence.
    """
    failures = 0
    while True:
        await asyncio.sleep(aioice.ice.CONSENT_INTERVAL * (0.8 + 0.4 * random.random()))
        for pair in self._nominated.values():
            request = self.build_request(pair, nominate=False)
            try:
                await pair.protocol.request(request, pair.remote_addr,
                                            integrity_key=self.remote_password.encode("utf8"), retransmissions=0)
                failures = 0
            except aioice.stun.TransactionError:
                recent = time.monotonic() - getattr(self, "_wangnet_last_rx", 0.0) < aioice.ice.CONSENT_INTERVAL
                failures = 0 if recent else failures + 1
            if failures >= aioice.ice.CONSENT_FAILURES:
                self._query_consent_task = None
                return await self.close()


aioice.ice.Connection.data_received = _stamped_data_received  # type: ignore[method-assign]
aioice.ice.Connection.query_consent = _lenient_query_consent  # type: ignore[method-assign]


def use_host_addresses(addresses: Sequence[str]) -> None:
    """Gather host candidates on exactly these addresses ([] = aioice's own choice, which skips 127.0.0.1)."""
    chosen = [a.strip() for a in addresses if a.strip()]
    _chosen_addresses[:] = chosen
    aioice.ice.Connection.request_received = (  # type: ignore[method-assign]
        _loopback_request_received if host_addresses_are_loopback() else _original_request_received
    )
    if not chosen:
        aioice.ice.get_host_addresses = _original_host_addresses
        return

    def host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        return [a for a in chosen if (":" in a and use_ipv6) or (":" not in a and use_ipv4)]

    aioice.ice.get_host_addresses = host_addresses
