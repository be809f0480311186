"""The low quality tier: decode a source once and encode it once, for every "low" subscriber of a bridge.

The plan gives a slow township the ``low`` tier when a full-rate picture does
not fit its link; a subscriber that cannot take the publisher's codec (a
VP8-only client watching an H264 publisher) gets the same tier. The bridge then makes ONE low-rate copy of the source —
one VP8 decoder and one encoder per source and tier at that bridge, however
many low subscribers watch it — never one per subscriber (that is the 14×
CPU the pass-through avoids). The transcoder is a frame sink of the original
source (which assembles frames only while one is attached); its output is
itself a ``Source``, cut into packets there, so slots bind to it, switch and
resync exactly as with the original. Decoding and encoding
run in a worker thread so the loop keeps forwarding everybody else.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from fractions import Fraction

import av

from conferencing.passthrough import EncodedFrame

log = logging.getLogger(__name__)

MAX_PENDING = 8
"""Frames waiting for the worker before the tier drops them and restarts from a keyframe."""


class TierEncoder:
    """Pure-ish codec work (no loop): one decoder (VP8 or H264, as published) + one VP8 encoder at the tier's rate and size."""

    DECODERS = {"VP8": "libvpx", "H264": "h264"}

    def __init__(self, kbps: int, scale: float = 0.5) -> None:
        self.kbps = kbps
        self.scale = scale
        self.decoder_codec = "VP8"
        self.decoder = av.CodecContext.create("libvpx", "r")
        self.encoder: av.VideoCodecContext | None = None
        self.force_keyframe = True
        self.frames_in = 0

    def process(self, frame: EncodedFrame, codec: str = "VP8") -> list[EncodedFrame]:
        if codec != self.decoder_codec:  # the source was republished in another codec (it restarts on a keyframe)
            self.decoder = av.CodecContext.create(self.DECODERS.get(codec, "libvpx"), "r")
            self.decoder_codec = codec
        out: list[EncodedFrame] = []
        for picture in self.decoder.decode(av.Packet(frame.data)):
            self.frames_in += 1
            width = max(32, int(picture.width * self.scale) // 2 * 2)
            height = max(32, int(picture.height * self.scale) // 2 * 2)
            if self.encoder is None or (self.encoder.width, self.encoder.height) != (width, height):
                self.encoder = av.CodecContext.create("libvpx", "w")
                self.encoder.width, self.encoder.height = width, height
                self.encoder.pix_fmt = "yuv420p"
                self.encoder.bit_rate = self.kbps * 1000
                self.encoder.time_base = Fraction(1, 90000)
                self.encoder.framerate = Fraction(30, 1)
                self.encoder.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
                self.force_keyframe = True
            small = picture.reformat(width=width, height=height, format="yuv420p")
            small.pts = frame.timestamp
            if self.force_keyframe:
                small.pict_type = av.video.frame.PictureType.I
                self.force_keyframe = False
            for packet in self.encoder.encode(small):
                out.append(EncodedFrame("video", bytes(packet), frame.timestamp, 90000, bool(packet.is_keyframe)))
        return out


class Transcoder:
    """A sink of the original source that feeds the derived low-tier source, through one worker thread."""

    def __init__(self, original, derived, kbps: int) -> None:  # type: ignore[no-untyped-def]
        self.original = original
        self.derived = derived
        self.codec = TierEncoder(kbps)
        self.kind = "video"
        self.name = "tier-low"
        self.waiting_keyframe = True
        self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix=f"tier-{original.site}")
        self._pending = 0
        derived.upstream = self.request_keyframe
        original.frame_sinks.add(self)

    def request_keyframe(self) -> None:
        """A low subscriber asked: the encoder makes the next frame a keyframe (no need to bother the publisher)."""
        self.codec.force_keyframe = True

    def resync(self) -> None:
        self.waiting_keyframe = True
        self.original.request_keyframe()

    def deliver(self, source, frame: EncodedFrame) -> None:  # type: ignore[no-untyped-def]
        if self.waiting_keyframe:
            if not frame.keyframe:
                return
            self.waiting_keyframe = False
        if self._pending >= MAX_PENDING:
            self.resync()  # the worker fell behind: restart the decoder on a keyframe
            return
        self._pending += 1
        future = asyncio.get_event_loop().run_in_executor(self._pool, self.codec.process, frame,
                                                          self.original.codec or "VP8")
        future.add_done_callback(self._done)

    def _done(self, future: asyncio.Future) -> None:
        self._pending -= 1
        try:
            frames = future.result()
        except Exception as exc:  # a broken frame: start again from a keyframe
            log.debug("low tier of %s: %s", self.original.site, exc)
            self.resync()
            return
        for frame in frames:
            self.derived.push(frame)

    def close(self) -> None:
        self.original.frame_sinks.discard(self)
        self._pool.shutdown(wait=False, cancel_futures=True)
