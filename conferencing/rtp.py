"""RTP at the byte level, as the packet forwarder needs it (pure: bytes and integers in and out).

The bridge forwards each received RTP packet to every subscriber of a slot
with a rewritten 12-byte header instead of re-packetizing frames through
aiortc's sender (whose per-packet objects, header extensions and awaits cost
~4× more CPU). What that takes, and nothing else, lives here:

* ``Vp8``: where a VP8 payload descriptor (RFC 7741 §4.2) ends, and whether a
  packet starts a key frame (S=1, PID=0, then the P bit of the VP8 payload
  header is 0) — a switch waits for one;
* ``vp8_packetize`` / ``vp8_depayload``: frames ↔ payloads, for the low tier
  and for trunks, whose frames are re-cut at the bridge;
* ``RtpMapper``: each subscriber's outgoing sequence numbers and timestamps,
  continuous across source switches and resyncs, gaps from the ingress kept
  (so the subscriber NACKs/PLIs what the bridge never got);
* ``rtp_header``: the rewritten header (SSRC and payload type of the
  subscriber's own negotiated sender; no header extensions);
* ``RetransmitHistory``: the last packets sent to one subscriber, for NACKs.
"""
from __future__ import annotations

import struct
import time
from dataclasses import dataclass

RTP_HEADER = struct.Struct("!BBHII")
RTP_VERSION_BYTE = 0x80
"""V=2, no padding, no extension, no CSRC: the forwarder drops the publisher's header extensions."""
MAX_PAYLOAD = 1200
"""Payload bytes per packet when the bridge cuts a frame itself (under any path MTU with SRTP and IP/UDP)."""
JUMP_SECONDS = 10
"""A source timestamp jump larger than this is a restarted publisher clock: re-anchor, do not jump."""


class RtpIn:
    """One received RTP packet as the forwarder sees it (header fields already parsed, payload untouched)."""

    __slots__ = ("kind", "seq", "timestamp", "marker", "payload", "clock_rate", "keyframe_start", "arrival", "wall")

    def __init__(self, kind: str, seq: int, timestamp: int, marker: bool, payload: bytes, clock_rate: int,
                 keyframe_start: bool, arrival: float | None = None, wall: float | None = None) -> None:
        self.kind = kind
        self.seq = seq
        self.timestamp = timestamp
        self.marker = marker
        self.payload = payload
        self.clock_rate = clock_rate
        self.keyframe_start = keyframe_start
        """True on the first packet of a VP8 key frame (always True for audio: any packet is a start)."""
        self.arrival = time.monotonic() if arrival is None else arrival
        self.wall = time.time() if wall is None else wall

    def __repr__(self) -> str:
        return f"RtpIn({self.kind}, seq={self.seq}, ts={self.timestamp}, m={int(self.marker)}, {len(self.payload)} B)"


def vp8_descriptor_size(payload: bytes) -> int:
    """Bytes of the VP8 payload descriptor at the start of ``payload``; ValueError when truncated."""
    if not payload:
        raise ValueError("empty VP8 payload")
    size = 1
    if payload[0] & 0x80:  # X: extension byte follows
        if len(payload) < 2:
            raise ValueError("VP8 descriptor truncated after X")
        ext = payload[1]
        size = 2
        if ext & 0x80:  # I: picture ID, 7 or 15 bits (M bit)
            if len(payload) <= size:
                raise ValueError("VP8 descriptor truncated in the picture ID")
            size += 2 if payload[size] & 0x80 else 1
        if ext & 0x40:  # L: TL0PICIDX
            size += 1
        if ext & 0x30:  # T and/or K: TID/Y/KEYIDX byte
            size += 1
    if size > len(payload):
        raise ValueError("VP8 descriptor longer than the payload")
    return size


def vp8_starts_keyframe(payload: bytes) -> bool:
    """True when this packet begins a VP8 key frame: S=1 and PID=0, and the P bit of the frame header is 0."""
    if not payload or not payload[0] & 0x10 or payload[0] & 0x07:
        return False
    try:
        size = vp8_descriptor_size(payload)
    except ValueError:
        return False
    return len(payload) > size and not payload[size] & 0x01


def vp8_starts_frame(payload: bytes) -> bool:
    """True on the first packet of a VP8 frame (S=1, PID=0)."""
    return bool(payload) and bool(payload[0] & 0x10) and not payload[0] & 0x07


def vp8_depayload(payload: bytes) -> bytes:
    """The VP8 bitstream bytes of one packet (descriptor stripped); ValueError when malformed."""
    return payload[vp8_descriptor_size(payload):]


def vp8_packetize(frame: bytes, max_payload: int = MAX_PAYLOAD) -> list[bytes]:
    """Cut one VP8 frame into RTP payloads: a 1-byte descriptor (S on the first, PID 0, no picture ID)."""
    chunk = max_payload - 1
    if chunk < 1:
        raise ValueError(f"max_payload {max_payload} leaves no room for VP8 data")
    if not frame:
        return [b"\x10"]
    return [(b"\x10" if i == 0 else b"\x00") + frame[i:i + chunk] for i in range(0, len(frame), chunk)]


def rtp_header(payload_type: int, marker: bool, seq: int, timestamp: int, ssrc: int) -> bytes:
    """The 12-byte RTP header the forwarder writes in front of a payload."""
    return RTP_HEADER.pack(RTP_VERSION_BYTE, payload_type | 0x80 if marker else payload_type, seq, timestamp, ssrc)


def seq_newer(a: int, b: int) -> bool:
    """RFC 3550 serial-number order: a is after b (16-bit wrap)."""
    return a != b and ((a - b) & 0xFFFF) < 0x8000


class RtpMapper:
    """Maps the sequence numbers and timestamps of whatever source feeds a slot onto one outgoing stream.

    Within one ``key`` (a source and its publisher generation) the mapping is
    a pair of offsets, so reordering and ingress gaps pass through unchanged
    (the subscriber then NACKs or PLIs). A new key, a ``rebase()`` (resync
    after a stall) or a jump of the source clock re-anchors: the next packet
    gets the next sequence number and a timestamp advanced by the wall time
    since the last packet sent — the subscriber's jitter buffer sees one
    continuous stream.
    """

    __slots__ = ("key", "seq_offset", "ts_offset", "last_seq", "last_ts", "last_wall", "last_in_ts")

    def __init__(self, first_seq: int = 0, first_ts: int = 0) -> None:
        self.key: object = None
        self.seq_offset = 0
        self.ts_offset = 0
        self.last_seq = (first_seq - 1) & 0xFFFF
        self.last_ts = first_ts & 0xFFFFFFFF
        self.last_wall: float | None = None
        self.last_in_ts = 0

    def rebase(self) -> None:
        """The next packet starts a new segment (after a dropped stretch): no gap, no jump."""
        self.key = None

    def _anchor(self, key: object, seq: int, timestamp: int, clock_rate: int, now: float) -> None:
        out_seq = (self.last_seq + 1) & 0xFFFF
        if self.last_wall is None:
            out_ts = self.last_ts
        else:
            out_ts = (self.last_ts + max(1, int((now - self.last_wall) * clock_rate))) & 0xFFFFFFFF
        self.seq_offset = (out_seq - seq) & 0xFFFF
        self.ts_offset = (out_ts - timestamp) & 0xFFFFFFFF
        self.key = key
        self.last_in_ts = timestamp

    def map(self, key: object, seq: int, timestamp: int, clock_rate: int, now: float) -> tuple[int, int]:
        """(outgoing sequence number, outgoing timestamp) for one packet."""
        if key != self.key or key is None:
            self._anchor(key, seq, timestamp, clock_rate, now)
        else:
            delta = (timestamp - self.last_in_ts) & 0xFFFFFFFF
            if delta >= 0x80000000:
                delta -= 0x100000000
            if delta > JUMP_SECONDS * clock_rate or delta < -JUMP_SECONDS * clock_rate:
                self._anchor(key, seq, timestamp, clock_rate, now)
        out_seq = (seq + self.seq_offset) & 0xFFFF
        out_ts = (timestamp + self.ts_offset) & 0xFFFFFFFF
        if out_seq != self.last_seq and ((out_seq - self.last_seq) & 0xFFFF) < 0x8000:
            self.last_seq, self.last_ts, self.last_wall, self.last_in_ts = out_seq, out_ts, now, timestamp
        return out_seq, out_ts


class RetransmitHistory:
    """The last ``size`` packets sent to one subscriber, as sent (SRTP-protected), by sequence number.

    Resending the very same SRTP packet is what a NACK needs: the receiver's
    SRTP replay window accepts an index it has not seen (the lost one) and
    drops one it has (a spurious NACK), so no re-protection and no RTX.
    """

    __slots__ = ("size", "_seqs", "_data")

    def __init__(self, size: int = 512) -> None:
        if size <= 0 or size & (size - 1):
            raise ValueError(f"history size must be a power of two, not {size}")
        self.size = size
        self._seqs: list[int] = [-1] * size
        self._data: list[bytes | None] = [None] * size

    def put(self, seq: int, data: bytes) -> None:
        i = seq & (self.size - 1)
        self._seqs[i] = seq
        self._data[i] = data

    def get(self, seq: int) -> bytes | None:
        i = seq & (self.size - 1)
        return self._data[i] if self._seqs[i] == seq else None


@dataclass
class Packetizer:
    """Frames (the low tier's encoder output, a trunk's assembled frames) → ``RtpIn`` with its own numbering."""

    kind: str
    seq: int = 0

    def packets(self, data: bytes, timestamp: int, clock_rate: int, keyframe: bool,
                arrival: float | None = None) -> list[RtpIn]:
        payloads = vp8_packetize(data) if self.kind == "video" else [data]
        now = time.monotonic() if arrival is None else arrival
        wall = time.time()
        out = []
        last = len(payloads) - 1
        for i, payload in enumerate(payloads):
            start = keyframe and i == 0 if self.kind == "video" else True
            out.append(RtpIn(self.kind, self.seq, timestamp, i == last, payload, clock_rate, start, now, wall))
            self.seq = (self.seq + 1) & 0xFFFF
        return out


AUDIO_LEVEL_NONE = -1
"""``parse_rtp``'s audio level when the packet carries none."""


def _extension_level(data: bytes, start: int, stop: int, profile: int, wanted: int) -> int:
    """The ssrc-audio-level value (RFC 6464: 0..127 = -dBov) in one header extension block, or AUDIO_LEVEL_NONE.

    One-byte elements (profile 0xBEDE, RFC 8285 §4.2) and two-byte ones
    (0x100X, §4.3); a malformed element ends the search, it never raises —
    the packet itself is still good media.
    """
    i = start
    if profile == 0xBEDE:
        while i < stop:
            byte = data[i]
            if byte == 0:  # padding
                i += 1
                continue
            ident = byte >> 4
            if ident == 15:  # reserved: stop parsing (RFC 8285)
                break
            size = (byte & 0x0F) + 1
            if i + 1 + size > stop:
                break
            if ident == wanted:
                return data[i + 1] & 0x7F
            i += 1 + size
    elif profile & 0xFFF0 == 0x1000:
        while i < stop:
            ident = data[i]
            if ident == 0:
                i += 1
                continue
            if i + 2 > stop:
                break
            size = data[i + 1]
            if i + 2 + size > stop:
                break
            if ident == wanted and size >= 1:
                return data[i + 2] & 0x7F
            i += 2 + size
    return AUDIO_LEVEL_NONE


def parse_rtp(data: bytes, audio_level_id: int = 0) -> tuple[int, int, int, int, bool, bytes, int]:
    """(ssrc, payload type, seq, timestamp, marker, payload, audio level) of one unprotected RTP packet.

    Only what the forwarder needs, without an ``RtpPacket``: the fixed header,
    the CSRC list and extension block skipped by their lengths, padding
    stripped, and the ssrc-audio-level element read when ``audio_level_id``
    (its negotiated extension id, 0 = none) is given — AUDIO_LEVEL_NONE when
    absent. ValueError names what is malformed.
    """
    size = len(data)
    if size < 12:
        raise ValueError(f"RTP packet of {size} bytes is shorter than the 12-byte header")
    first, second, seq, timestamp, ssrc = RTP_HEADER.unpack_from(data)
    if first >> 6 != 2:
        raise ValueError(f"RTP version {first >> 6}, not 2")
    pos = 12 + 4 * (first & 0x0F)
    level = AUDIO_LEVEL_NONE
    if first & 0x10:
        if pos + 4 > size:
            raise ValueError("RTP header extension truncated")
        profile = (data[pos] << 8) | data[pos + 1]
        start = pos + 4
        pos = start + 4 * ((data[pos + 2] << 8) | data[pos + 3])
        if pos > size:
            raise ValueError("RTP header extension longer than the packet")
        if audio_level_id:
            level = _extension_level(data, start, pos, profile, audio_level_id)
    end = size
    if first & 0x20:
        padding = data[-1]
        if padding == 0 or padding > size - pos:
            raise ValueError(f"RTP padding of {padding} bytes does not fit the packet")
        end = size - padding
    if pos > end:
        raise ValueError("RTP CSRC list longer than the packet")
    return ssrc, second & 0x7F, seq, timestamp, bool(second & 0x80), data[pos:end], level
