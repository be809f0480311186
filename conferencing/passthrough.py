"""The few hooks aiortc needs to forward encoded media without decoding.

aiortc 1.16 has no pass-through: its receiver always reassembles frames in a
jitter buffer (which holds each video frame until the next one starts, one
frame interval of added delay) and decodes them in a thread. A bridge only
needs the encoded frames, so this module — the ONLY place that touches
aiortc/aioice internals, hence the exact pin in pyproject.toml — does:

* ``tap_receiver``: replaces one receiver's RTP handler. For the bridge's
  sources every packet goes on at once as an ``RtpIn`` — no jitter buffer, no
  depayloading, no decoder — and arrives through ``LeanIngress``: taken at
  the ICE connection, unprotected with one libsrtp call (``lean_unprotect``)
  and parsed by ``rtp.parse_rtp``, with no RtpPacket, no queue and no task
  hop; the receiver's statistics are fed so that aiortc's receiver reports
  keep flowing. Endpoints (tests, benchmark) get whole frames, emitted on the
  RTP marker, through aiortc's own receive path.
* ``tap_sender`` + ``RtpOutput`` + ``ForwardTrack``: the lean send path. The
  bridge writes a 12-byte header (the subscriber sender's SSRC and payload
  type, its own continuous numbering), protects it with the subscriber's
  DTLS-SRTP session and ``sendto``s it on the nominated ICE pair's socket —
  no RtpPacket, no ``Encoder.pack``, no await. aiortc's sender stays in
  place for the SDP (SSRC, msid) and its RTCP loop, whose sender reports
  read the counters the output copies into it. PLI/FIR go to the bridge
  (forwarded upstream, rate-limited); NACKs are answered from the output's
  history of sent packets, or become a keyframe request when gone.
* ``peer_connection`` / ``use_host_addresses``: no public STUN server, and
  host candidates on the configured addresses (aioice skips 127.0.0.1); a
  loopback-only bridge also ignores ICE checks from non-loopback sources.
* consent (RFC 7675): a missed consent check does not count while the peer's
  media still arrives (Chromium publishers stop answering consent checks).
"""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import aioice.ice
import aioice.stun
import random
import aiortc
from aiortc import MediaStreamTrack, RTCBundlePolicy, RTCConfiguration, RTCPeerConnection
from aiortc.codecs import depayload, is_rtx
from aiortc.mediastreams import MediaStreamError
from aiortc.rtcdtlstransport import State as DtlsState
from aiortc.rtp import (
    RTCP_PSFB_FIR,
    RTCP_PSFB_PLI,
    RTCP_RTPFB_NACK,
    RtcpByePacket,
    RtcpPsfbPacket,
    RtcpRtpfbPacket,
    RtcpSdesPacket,
    RtcpSenderInfo,
    RtcpSourceInfo,
    RtcpSrPacket,
)
from aiortc.rtcrtpreceiver import RTCRtpReceiver, StreamStatistics
from aiortc.rtcrtpsender import RTCRtpSender

from conferencing.h264 import annexb_is_keyframe, h264_starts_keyframe
from conferencing.rtp import RTP_HEADER, RetransmitHistory, RtpIn, parse_rtp, vp8_starts_keyframe

log = logging.getLogger(__name__)

PINNED_AIORTC = "1.16.0"
if aiortc.__version__ != PINNED_AIORTC:  # the hooks below reach into this exact version
    raise ImportError(f"conferencing.passthrough needs aiortc {PINNED_AIORTC}, found {aiortc.__version__}")

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


FRAME_IS_KEYFRAME: dict[str, Callable[[bytes], bool]] = {"VP8": vp8_is_keyframe, "H264": annexb_is_keyframe}
"""Per video codec: does a whole (depayloaded) frame start a picture a decoder can begin with."""
PACKET_STARTS_KEYFRAME: dict[str, Callable[[bytes], bool]] = {"VP8": vp8_starts_keyframe, "H264": h264_starts_keyframe}
"""Per video codec: may this RTP payload start a subscriber's stream (a switch waits for one)."""


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
    is_keyframe: Callable[[bytes], bool] = vp8_is_keyframe

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
        keyframe = self.is_keyframe(payload)
        if self._need_keyframe and not keyframe:
            return None, loss
        self._need_keyframe = False
        return EncodedFrame("video", payload, timestamp, self.clock_rate, keyframe), loss


class ReceiverTap:
    """What the bridge sees of one incoming stream: packets or frames, counters, a keyframe request.

    In packet mode (the bridge's sources) every RTP packet goes on as an
    ``RtpIn`` at once — no depayloading, no frame assembly, no jitter buffer;
    media arrives through ``LeanIngress.data_received`` → ``forward``, and
    only what the lean path leaves to aiortc comes through ``handle_rtp``.
    RTX is ignored on both paths: the bridge sends no NACKs upstream (it never
    did: aiortc's NACK generator lives in the handler this tap replaces), so
    retransmissions only come unasked.
    In frame mode (endpoints in tests and the benchmark, which count and
    inspect whole frames) packets are assembled into ``EncodedFrame``s.
    """

    def __init__(self, receiver: RTCRtpReceiver, kind: str, on_frame: Callable, packets: bool = False,  # type: ignore[type-arg]
                 codec: str = "VP8") -> None:
        self.receiver = receiver
        self.kind = kind
        self.codec = codec
        """The one video codec negotiated on this m-line (the bridge keeps one per publisher and trunk)."""
        self.starts_keyframe = PACKET_STARTS_KEYFRAME.get(codec, vp8_starts_keyframe)
        self.on_frame = on_frame
        self.packet_mode = packets
        self.ssrc: int | None = None
        self.packets = 0
        self.bytes = 0
        self.audio_level: float | None = None
        """0..1 from the RTP ssrc-audio-level extension (RFC 6464), None until heard."""
        self._assemblers: dict[tuple[int, int], FrameAssembler] = {}
        """Frame mode: per SSRC and payload type (a bridge slot switching sources may switch codecs)."""
        self._next_seq: dict[int, int] = {}
        self._lost = 0
        self.on_loss: Callable[[], None] | None = None

    @property
    def lost(self) -> int:
        return self._lost + sum(a.lost for a in self._assemblers.values())

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
        if self.packet_mode:
            self._forward(packet, codec.clockRate)
            return
        assembler = self._assemblers.get((packet.ssrc, packet.payload_type))
        if assembler is None:
            assembler = self._assemblers[(packet.ssrc, packet.payload_type)] = FrameAssembler(
                self.kind, codec.clockRate, is_keyframe=FRAME_IS_KEYFRAME.get(codec.name, vp8_is_keyframe))
        try:
            data = depayload(codec, packet.payload) if packet.payload else b""
        except ValueError:
            return
        frame, loss = assembler.add(packet.sequence_number, packet.timestamp, bool(packet.marker), data)
        if loss and self.on_loss is not None:
            self.on_loss()
        if frame is not None:
            self.on_frame(frame)

    def _forward(self, packet, clock_rate: int) -> None:  # type: ignore[no-untyped-def]
        self.forward(packet.ssrc, packet.sequence_number, packet.timestamp, bool(packet.marker), packet.payload,
                     clock_rate)

    def forward(self, ssrc: int, seq: int, timestamp: int, marker: bool, payload: bytes, clock_rate: int) -> None:
        """Packet mode: one packet on to the source as an ``RtpIn`` (gaps counted, late packets passed on)."""
        expected = self._next_seq.get(ssrc)
        newest = True
        if expected is not None and seq != expected:
            gap = (seq - expected) & 0xFFFF
            if gap < 0x8000:  # packets missing: passed on as a gap (the subscriber NACKs/PLIs)
                self._lost += gap if gap < 1000 else 1
                if self.on_loss is not None:
                    self.on_loss()
            else:
                newest = False  # a late (reordered) packet: forwarded, the expectation stays
        if newest:
            self._next_seq[ssrc] = (seq + 1) & 0xFFFF
        self.on_frame(RtpIn(self.kind, seq, timestamp, marker, payload, clock_rate,
                            self.kind != "video" or self.starts_keyframe(payload)))


def tap_receiver(receiver: RTCRtpReceiver, kind: str, on_frame: Callable,  # type: ignore[type-arg]
                 codec: str = "VP8") -> ReceiverTap:
    """Divert one receiver's RTP before any packet arrives (call right after setRemoteDescription).

    ``on_frame`` gets whole ``EncodedFrame``s — unless it is a method of an
    object that declares ``accepts_packets = True`` (the bridge's ``Source``,
    fed by a publisher or a trunk), which then gets every ``RtpIn`` packet as
    it arrives: the forwarding path never assembles frames. ``codec``: the
    video codec negotiated on the m-line (``negotiated_codecs``), which says
    how a packet starting a keyframe looks.
    """
    packets = bool(getattr(getattr(on_frame, "__self__", None), "accepts_packets", False))
    tap = ReceiverTap(receiver, kind, on_frame, packets=packets, codec=codec)
    receiver._handle_rtp_packet = tap.handle_rtp  # type: ignore[method-assign]
    if packets:
        LeanIngress.of(receiver.transport).add(tap)
    return tap


class _SeqView:
    """The two fields aiortc's ``StreamStatistics.add`` reads, refilled per packet (no allocation)."""

    __slots__ = ("sequence_number", "timestamp")

    def __init__(self) -> None:
        self.sequence_number = 0
        self.timestamp = 0


class LeanIngress:
    """The lean receive path of one DTLS transport: SRTP datagram → libsrtp → header parse → ``ReceiverTap.forward``.

    Hooked on the ICE connection's ``data_received`` (called synchronously
    by the UDP protocol), so a media packet of a packet-mode tap never enters
    aioice's queue, aiortc's receive task, ``RtpPacket.parse``, the RTP router
    or the receiver's handler. It is unprotected on the DTLS transport's own
    SRTP session (so aiortc's path and this one share one replay window) and
    handed to the tap as plain fields. What stays aiortc's: DTLS, SRTCP (the
    publisher's SRs, whose timestamps the RRs echo), packets before the
    handshake or before the receiver knows its codecs, RTX and unknown payload
    types (decided on the clear-text header, before unprotecting), and
    whatever fails to parse. Receiver reports keep flowing: each packet feeds
    the receiver's own ``StreamStatistics`` (aiortc's RTCP loop builds its RRs
    from them — loss fraction, cumulative loss, highest sequence, jitter).
    """

    def __init__(self, dtls) -> None:  # type: ignore[no-untyped-def]
        self.dtls = dtls
        self.connection = dtls.transport._connection
        self.taps: list[ReceiverTap] = []
        self.routes: dict[int, tuple[ReceiverTap, int, dict]] = {}  # type: ignore[type-arg]
        """payload type → (tap, clock rate, the receiver's per-SSRC statistics)."""
        self.packets = 0
        self.fallbacks = 0
        self.errors = 0
        self._session = None
        self._unprotect: Callable[[bytes], bytes] | None = None
        self._audio_level_id = 0
        self._view = _SeqView()
        self._original = self.connection.data_received
        self.connection.data_received = self.data_received  # type: ignore[method-assign]

    @classmethod
    def of(cls, dtls) -> "LeanIngress":  # type: ignore[no-untyped-def]
        ingress = getattr(dtls, "_wangnet_ingress", None)
        if ingress is None:
            ingress = cls(dtls)
            dtls._wangnet_ingress = ingress
        return ingress

    def add(self, tap: ReceiverTap) -> None:
        self.taps.append(tap)
        self.routes.clear()

    def _route(self, payload_type: int):  # type: ignore[no-untyped-def]
        """Build the route of a payload type once the receiver knows its codecs (None: aiortc's way)."""
        for tap in self.taps:
            codec = getattr(tap.receiver, "_RTCRtpReceiver__codecs").get(payload_type)
            if codec is not None and tap.receiver.transport is self.dtls:
                if is_rtx(codec):
                    return None
                route = (tap, codec.clockRate, getattr(tap.receiver, "_RTCRtpReceiver__remote_streams"))
                self.routes[payload_type] = route
                return route
        return None

    def _session_ready(self) -> bool:
        session = self.dtls._rx_srtp
        if session is None:
            return False
        if session is not self._session:
            self._session = session
            self._unprotect = lean_unprotect(session)
            ids = getattr(self.dtls._rtp_header_extensions_map, "_HeaderExtensionsMap__ids", None)
            self._audio_level_id = getattr(ids, "audio_level", None) or 0
        return True

    def data_received(self, data: bytes, component: int) -> None:
        if len(data) <= 12 or not (127 < data[0] < 192) or 191 < data[1] < 224 or not self._session_ready():
            self._original(data, component)  # DTLS, SRTCP, too short, or no SRTP keys yet
            return
        second = data[1]
        route = self.routes.get(second & 0x7F) or self._route(second & 0x7F)
        if route is None:
            self.fallbacks += 1
            self._original(data, component)
            return
        connection = self.connection
        connection._wangnet_last_rx = time.monotonic()  # the lenient consent loop's "media still arrives"
        try:
            plain = self._unprotect(data)  # type: ignore[misc]
            ssrc, _, seq, timestamp, marker, payload, level = parse_rtp(plain, self._audio_level_id)
        except Exception:  # a replayed or forged packet, or garbage: dropped, as aiortc does
            self.errors += 1
            return
        tap, clock_rate, streams = route
        self.packets += 1
        stats = streams.get(ssrc)
        if stats is None:
            stats = streams[ssrc] = StreamStatistics(clock_rate)
        view = self._view
        view.sequence_number, view.timestamp = seq, timestamp
        stats.add(view)
        tap.packets += 1
        tap.bytes += len(payload)
        tap.ssrc = ssrc
        if level >= 0:
            tap.audio_level = 10 ** (-level / 20.0)
        tap.forward(ssrc, seq, timestamp, marker, payload, clock_rate)


def lean_unprotect(session) -> Callable[[bytes], bytes]:  # type: ignore[no-untyped-def]
    """SRTP-unprotect one packet with one libsrtp call on the session's own buffer (``lean_protect``'s twin).

    Raises ``pylibsrtp.Error`` on a replayed or unauthentic packet, ValueError
    on an oversized one; another pylibsrtp falls back to its public call.
    """
    try:
        from pylibsrtp import Error
        from pylibsrtp._binding import ffi, lib

        cdata, buffer, srtp = session._cdata, session._buffer, session._srtp[0]
    except (ImportError, AttributeError):
        log.warning("pylibsrtp internals changed: receiving with Session.unprotect (slower)")
        return session.unprotect  # type: ignore[no-any-return]
    length = ffi.new("int *")
    limit = len(cdata)
    unprotect, ok = lib.srtp_unprotect, lib.srtp_err_status_ok

    def run(data: bytes) -> bytes:
        size = len(data)
        if size > limit:
            raise ValueError(f"SRTP packet of {size} bytes is too long")
        buffer[0:size] = data
        length[0] = size
        rc = unprotect(srtp, cdata, length)
        if rc != ok:
            raise Error(f"srtp_unprotect failed ({rc})")
        return buffer[0:length[0]]

    return run


SRTP_AUTH_TAG = 10
"""Bytes of the SRTP authentication tag (AES_CM_128_HMAC_SHA1_80, what aiortc negotiates)."""


def tap_rtp_bytes(pc: RTCPeerConnection, on_rtp: Callable[[bytes], None]) -> None:
    """A counting endpoint (the benchmark's synthetic subscribers): every SRTP packet of ``pc`` as it arrives.

    Taken from the ICE connection before aiortc queues, decrypts, parses or
    routes anything — the RTP header (marker bit, sequence number) is in the
    clear and the payload is ``len(data) - 12 - SRTP_AUTH_TAG`` bytes — so
    many subscribers fit in one process. DTLS and RTCP still go to aiortc.
    Call after setRemoteDescription (when BUNDLE has settled the transports).
    """
    for dtls in {t.receiver.transport for t in pc.getTransceivers()}:
        connection = dtls.transport._connection
        original = connection.data_received

        def data_received(data: bytes, component: int, _original=original) -> None:  # type: ignore[no-untyped-def]
            if len(data) > 12 and 127 < data[0] < 192 and not 191 < data[1] < 224:
                on_rtp(data)
            else:
                _original(data, component)

        connection.data_received = data_received  # type: ignore[method-assign]


def lean_protect(session) -> Callable[[bytes, bytes], bytes]:  # type: ignore[no-untyped-def]
    """SRTP-protect ``header + payload`` with one libsrtp call and no allocation but the result.

    pylibsrtp's ``Session.protect`` allocates an ``int *`` and copies the
    packet per call; on the forwarding path (one call per packet and
    subscriber) that overhead was a third of the cost. This uses the same
    session's own buffer (single-threaded, synchronous: nothing interleaves).
    """
    try:
        from pylibsrtp import SRTP_MAX_TRAILER_LEN, Error
        from pylibsrtp._binding import ffi, lib

        cdata, buffer, srtp = session._cdata, session._buffer, session._srtp[0]
    except (ImportError, AttributeError):  # another pylibsrtp: its public call, slower but right
        log.warning("pylibsrtp internals changed: forwarding with Session.protect (slower)")
        return lambda header, payload: session.protect(header + payload)
    length = ffi.new("int *")
    limit = len(cdata) - SRTP_MAX_TRAILER_LEN
    protect, ok = lib.srtp_protect, lib.srtp_err_status_ok

    def run(header: bytes, payload: bytes) -> bytes:
        size = 12 + len(payload)
        if size > limit:
            raise ValueError(f"RTP packet of {size} bytes is too long to protect")
        buffer[0:12] = header
        buffer[12:size] = payload
        length[0] = size
        rc = protect(srtp, cdata, length)
        if rc != ok:
            raise Error(f"srtp_protect failed ({rc})")
        return buffer[0:length[0]]

    return run


class ForwardTrack(MediaStreamTrack):
    """The track a forwarding sender is given: it never yields, the bridge sends past it through ``output``.

    aiortc needs a track of the right kind on a sending transceiver to
    announce it (SSRC, msid) and to start the sender's RTCP loop (sender
    reports); its RTP loop then waits here until the track stops.
    """

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind
        self.output: RtpOutput | None = None
        self._ended: asyncio.Future[None] | None = None

    async def recv(self):  # type: ignore[no-untyped-def]
        if self.readyState != "live":
            raise MediaStreamError
        if self._ended is None:
            self._ended = asyncio.get_running_loop().create_future()
        await self._ended
        raise MediaStreamError

    def stop(self) -> None:
        if self._ended is not None and not self._ended.done():
            self._ended.set_result(None)
        super().stop()


NTP_EPOCH_OFFSET = 2208988800
"""Seconds from 1900-01-01 (NTP) to 1970-01-01 (Unix)."""
SR_SYNC_INTERVAL = 0.2
"""Seconds between copies of the forwarder's counters into aiortc's sender (read by its RTCP SR loop)."""


class RtpOutput:
    """The lean send path of one subscriber's sender: rewrite the header, protect, ``sendto``.

    Synchronous and non-blocking: no ``RtpPacket``, no ``Encoder.pack``, no
    await per packet; the socket is the nominated ICE pair's own (the one
    aioice sends STUN on), written directly. Everything aiortc's sender would
    still do for us keeps working: its RTCP loop sends sender reports from the
    counters we copy into it (packets, octets, last RTP timestamp and its NTP
    time), its SSRC is the one announced in the SDP answer. NACKs are answered
    from ``history`` with the very packets sent.
    """

    def __init__(self, sender: RTCRtpSender) -> None:
        self.sender = sender
        self.kind = sender.kind
        self.ssrc: int = sender._ssrc
        self.payload_type: int | None = None
        self.codecs: list[tuple[int, str, dict]] = []  # type: ignore[type-arg]
        """(payload type, codec name, fmtp) of every format negotiated on this m-line, RTX left out."""
        self.history = RetransmitHistory() if self.kind == "video" else None
        self.packets = 0
        self.octets = 0
        self.dropped = 0
        """Packets lost to a full socket buffer (a stalled subscriber)."""
        self.retransmitted = 0
        self.closed = False
        self.last_ts = 0
        self.last_wall = 0.0
        self._synced = 0.0
        self._protect: Callable[[bytes, bytes], bytes] | None = None
        self._rtcp_session = None
        self._sendto: Callable[[bytes, tuple[str, int]], int] | None = None
        self._addr: tuple[str, int] | None = None
        self._pair = None
        self._nominated: dict | None = None  # type: ignore[type-arg]

    def configure(self, payload_type: int, codecs: Sequence[tuple[int, str, dict]] = ()) -> None:  # type: ignore[type-arg]
        """The payload type the subscriber negotiated for this m-line (known at setLocalDescription).

        ``codecs``: all its formats; the bridge switches ``payload_type`` to the
        one matching the codec of the source a slot starts sending.
        """
        self.payload_type = payload_type
        self.codecs = list(codecs)

    def ready(self) -> bool:
        """Negotiated and DTLS-connected: packets sent now reach the subscriber."""
        if self._sendto is not None:
            return True
        if self.payload_type is None or self.closed:
            return False
        dtls = self.sender.transport
        if dtls is None or dtls._state != DtlsState.CONNECTED or dtls._tx_srtp is None:
            return False
        self._nominated = dtls.transport._connection._nominated
        if not self._use_pair(self._nominated.get(1)):
            return False
        self._protect = lean_protect(dtls._tx_srtp)
        self._rtcp_session = dtls._tx_srtp
        return True

    def _use_pair(self, pair) -> bool:  # type: ignore[no-untyped-def]
        """Send on this ICE pair's socket (the peer may nominate another pair later: followed per packet)."""
        transport = pair.protocol.transport if pair is not None else None
        sock = getattr(transport, "_sock", None)  # asyncio's datagram transport: its socket, non-blocking
        if sock is None:
            self._sendto = None
            return False
        self._pair = pair
        self._sendto = sock.sendto
        self._addr = pair.remote_addr
        return True

    def send(self, marker: bool, seq: int, timestamp: int, payload: bytes, wall: float) -> bool:
        """Send one packet now; False when not sent (not connected yet, closed, or dropped on a full socket)."""
        if self._sendto is None and not self.ready():
            return False
        pair = self._nominated.get(1)  # type: ignore[union-attr]
        if pair is not self._pair and not self._use_pair(pair):
            return False
        pt = self.payload_type
        data = self._protect(RTP_HEADER.pack(0x80, pt | 0x80 if marker else pt, seq, timestamp, self.ssrc), payload)  # type: ignore[misc,operator]
        history = self.history
        if history is not None:
            history.put(seq, data)
        try:
            self._sendto(data, self._addr)  # type: ignore[misc]
        except (BlockingIOError, InterruptedError):
            self.dropped += 1
            return False
        except ConnectionRefusedError:  # ICMP port unreachable for an earlier packet: the peer may move on
            return False
        except OSError:  # the peer connection closed its socket: the subscriber is gone
            self.closed = True
            self._sendto = None
            return False
        self.packets += 1
        self.octets += len(payload)
        self.last_ts = timestamp
        self.last_wall = wall
        if wall - self._synced > SR_SYNC_INTERVAL:
            self._sync_sender_report(wall)
        return True

    def retransmit(self, seqs: Sequence[int]) -> bool:
        """Resend NACKed packets from the history; False when any of them is no longer there."""
        if self.history is None or self._sendto is None:
            return False
        complete = True
        for seq in seqs:
            data = self.history.get(seq)
            if data is None:
                complete = False
                continue
            try:
                self._sendto(data, self._addr)
                self.retransmitted += 1
            except OSError:
                self.dropped += 1
        return complete

    def _sync_sender_report(self, wall: float) -> None:
        """Give aiortc's RTCP loop what it puts in the next SR (it reads these name-mangled fields)."""
        self._synced = wall
        sender = self.sender
        ntp = int((self.last_wall + NTP_EPOCH_OFFSET) * (1 << 32)) & 0xFFFFFFFFFFFFFFFF
        setattr(sender, "_RTCRtpSender__ntp_timestamp", ntp)
        setattr(sender, "_RTCRtpSender__rtp_timestamp", self.last_ts)
        setattr(sender, "_RTCRtpSender__packet_count", self.packets)
        setattr(sender, "_RTCRtpSender__octet_count", self.octets)

    def send_report(self, bye: bool = False) -> bool:
        """One SRTCP compound — SR + SDES (CNAME), or BYE — sent now on the media's socket; False when not sent.

        What aiortc's sender loop would send, built from the forwarded
        stream's own counters (the last packet sent and its wall time), but
        protected and ``sendto``d synchronously: aiortc's way (packet objects,
        an awaited send through the DTLS transport, aioice and asyncio) cost
        ~10 % of a busy bridge, one report a second for each of ~270 streams.
        """
        if self._sendto is None and not self.ready():
            return False
        sender = self.sender
        if bye:
            packets: list = [RtcpByePacket(sources=[self.ssrc])]  # type: ignore[type-arg]
        else:
            ntp = int((self.last_wall + NTP_EPOCH_OFFSET) * (1 << 32)) & 0xFFFFFFFFFFFFFFFF if self.packets else 0
            info = RtcpSenderInfo(ntp_timestamp=ntp, rtp_timestamp=self.last_ts,
                                  packet_count=self.packets & 0xFFFFFFFF, octet_count=self.octets & 0xFFFFFFFF)
            packets = [RtcpSrPacket(ssrc=self.ssrc, sender_info=info)]
            cname = getattr(sender, "_RTCRtpSender__cname", None)
            if cname is not None:
                packets.append(RtcpSdesPacket(chunks=[RtcpSourceInfo(ssrc=self.ssrc, items=[(1, cname.encode("utf8"))])]))
            # what aiortc's RR handler matches to estimate the round-trip time (getStats)
            setattr(sender, "_RTCRtpSender__lsr", (ntp >> 16) & 0xFFFFFFFF)
            setattr(sender, "_RTCRtpSender__lsr_time", time.time())
        try:
            self._sendto(self._rtcp_session.protect_rtcp(b"".join(bytes(p) for p in packets)), self._addr)  # type: ignore[misc,union-attr]
        except OSError:  # a full buffer loses one report; a closed socket ends the subscriber anyway
            return False
        return True


async def _lean_rtcp(sender: RTCRtpSender, output: RtpOutput) -> None:
    """A forwarding sender's RTCP loop in place of aiortc's: the same reports at the same random interval."""
    getattr(sender, "_RTCRtpSender__rtcp_started").set()
    try:
        while True:
            await asyncio.sleep(0.5 + random.random())  # RFC 3550's [0.5, 1.5] × interval, as aiortc
            output.send_report()
    except asyncio.CancelledError:
        pass
    output.send_report(bye=True)
    getattr(sender, "_RTCRtpSender__rtcp_exited").set()


def tap_sender(sender: RTCRtpSender, on_keyframe_request: Callable[[], None]) -> RtpOutput:
    """Take over one sender: its lean ``RtpOutput`` (also set on its ``ForwardTrack``) and its RTCP.

    * PLI/FIR from the subscriber (aiortc would only flag an encoder we never
      use) go to the bridge, which forwards them upstream, rate-limited;
    * a NACK is answered from the output's history; a NACK for a packet the
      bridge no longer has (or never got: an ingress gap) becomes a keyframe
      request instead.
    Call before the answer/offer is set (the payload type comes from ``send``).
    """
    output = RtpOutput(sender)
    track = sender.track
    if isinstance(track, ForwardTrack):
        track.output = output
    original_send = sender.send
    original_rtcp = sender._handle_rtcp_packet

    async def send(parameters) -> None:  # type: ignore[no-untyped-def]
        if parameters.codecs:
            output.configure(parameters.codecs[0].payloadType, _formats(parameters.codecs))
        await original_send(parameters)

    async def handle_rtcp(packet) -> None:  # type: ignore[no-untyped-def]
        if isinstance(packet, RtcpRtpfbPacket) and packet.fmt == RTCP_RTPFB_NACK:
            if not output.retransmit(packet.lost):
                on_keyframe_request()
            return
        await original_rtcp(packet)
        if isinstance(packet, RtcpPsfbPacket) and packet.fmt in (RTCP_PSFB_PLI, RTCP_PSFB_FIR):
            on_keyframe_request()

    sender.send = send  # type: ignore[method-assign]
    sender._handle_rtcp_packet = handle_rtcp  # type: ignore[method-assign]
    sender._run_rtcp = lambda: _lean_rtcp(sender, output)  # type: ignore[method-assign]
    return output


def _formats(codecs) -> list[tuple[int, str, dict]]:  # type: ignore[no-untyped-def,type-arg]
    """(payload type, name, fmtp) of aiortc's codec parameters, RTX left out."""
    return [(c.payloadType, c.name, dict(c.parameters)) for c in codecs if not is_rtx(c)]


def negotiated_codecs(transceiver) -> list[tuple[int, str, dict]]:  # type: ignore[no-untyped-def,type-arg]
    """The formats setRemoteDescription agreed on for this transceiver (aiortc keeps them private)."""
    return _formats(getattr(transceiver, "_codecs", []) or [])


def peer_connection() -> RTCPeerConnection:
    """A peer connection that never asks a public STUN server (aiortc's default asks Google's), on max-bundle.

    Max-bundle because aiortc 1.16's default (balanced) leaves the second
    m-line of a kind on a dead transport: it gives it the first one's
    transport at creation, marks it bundled, and so never moves it onto the
    BUNDLE group's transport — a subscriber's second audio stream (the host
    beside the speaker) was never sent. Browsers and aiortc offer BUNDLE.
    """
    return RTCPeerConnection(RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))


def pin_codecs(transceiver, video: str = "VP8", profile: Callable[[dict], bool] | None = None) -> None:  # type: ignore[no-untyped-def,type-arg]
    """Offer only one codec for this transceiver (``video`` / Opus): a trunk carries its source's codec as is.

    ``profile``: for H264, which of aiortc's formats (by fmtp) to offer — the
    one matching the source's profile — else all of that codec's.
    """
    wanted = f"video/{video}" if transceiver.kind == "video" else AUDIO_CODEC
    caps = [c for c in RTCRtpSender.getCapabilities(transceiver.kind).codecs if c.mimeType.lower() == wanted.lower()]
    if profile is not None and transceiver.kind == "video":
        caps = [c for c in caps if profile(dict(c.parameters))] or caps
    transceiver.setCodecPreferences(caps)


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


_original_datagram_received = aioice.ice.StunProtocol.datagram_received


def _media_first_datagram_received(self, data: bytes, addr) -> None:  # type: ignore[no-untyped-def]
    """RTP/RTCP (first byte 128..191, RFC 7983) straight to the connection; STUN and DTLS as aioice does.

    aioice tries to parse every datagram as STUN first and takes the
    ValueError as "media": an exception per media packet on the bridge's
    ingress and on every subscriber it serves. A STUN message starts with 0..3.
    """
    if data and 127 < data[0] < 192:
        self.receiver.data_received(data, self.local_candidate.component)
    else:
        _original_datagram_received(self, data, addr)


aioice.ice.Connection.data_received = _stamped_data_received  # type: ignore[method-assign]
aioice.ice.Connection.query_consent = _lenient_query_consent  # type: ignore[method-assign]
aioice.ice.StunProtocol.datagram_received = _media_first_datagram_received  # type: ignore[method-assign]


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
