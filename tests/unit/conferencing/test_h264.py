"""H264 payloads (RFC 6184) as the forwarder reads them: hand-built packets and aiortc's own packetizer output."""
from __future__ import annotations

import fractions
import random

import av
import pytest
from aiortc.codecs.h264 import H264Encoder
from hypothesis import given
from hypothesis import strategies as st

from conferencing.h264 import (
    FU_A,
    NAL_AUD,
    NAL_IDR,
    NAL_PPS,
    NAL_SEI,
    NAL_SLICE,
    NAL_SPS,
    STAP_A,
    START_CODE,
    annexb_is_keyframe,
    annexb_nal_types,
    h264_depayload,
    h264_profile,
    h264_starts_keyframe,
)


def nal(kind: int, body: bytes = b"\x88\x84") -> bytes:
    return bytes([0x60 | kind]) + body  # nal_ref_idc 3


def stap_a(*units: bytes) -> bytes:
    return bytes([0x78]) + b"".join(len(u).to_bytes(2, "big") + u for u in units)


def fu_a(kind: int, data: bytes, start: bool, end: bool = False) -> bytes:
    return bytes([0x60 | FU_A, (0x80 if start else 0) | (0x40 if end else 0) | kind]) + data


@pytest.mark.parametrize("payload, starts", [
    (nal(NAL_SPS), True),
    (nal(NAL_IDR), True),
    (nal(NAL_PPS), False),  # follows an SPS we missed: the decoder would lack it
    (nal(NAL_SLICE), False),
    (nal(NAL_SEI), False),
    (stap_a(nal(NAL_SPS), nal(NAL_PPS)), True),
    (stap_a(nal(NAL_AUD), nal(NAL_SEI), nal(NAL_SPS), nal(NAL_PPS)), True),
    (stap_a(nal(NAL_SEI), nal(NAL_IDR)), True),
    (stap_a(nal(NAL_AUD), nal(NAL_SEI)), False),
    (stap_a(nal(NAL_SLICE), nal(NAL_SLICE)), False),
    (bytes([0x78, 0x00, 0x09]) + nal(NAL_SPS), False),  # the size says 9 bytes, 3 are there: not trusted
    (fu_a(NAL_IDR, b"\x88" * 10, start=True), True),
    (fu_a(NAL_IDR, b"\x88" * 10, start=False), False),
    (fu_a(NAL_IDR, b"\x88" * 10, start=False, end=True), False),
    (fu_a(NAL_SLICE, b"\x88" * 10, start=True), False),
    (bytes([0x60 | FU_A]), False),
    (b"", False),
    (bytes([0x60 | 25]) + b"\x00" * 6, False),  # STAP-B: interleaved mode, never negotiated
])
def test_which_packets_start_a_keyframe(payload: bytes, starts: bool) -> None:
    assert h264_starts_keyframe(payload) is starts


def test_depayload_single_stap_and_fragments() -> None:
    sps, pps, idr = nal(NAL_SPS, b"\x42\xe0\x1f"), nal(NAL_PPS, b"\xce"), nal(NAL_IDR, bytes(range(40)))
    assert h264_depayload(sps) == START_CODE + sps
    assert h264_depayload(stap_a(sps, pps)) == START_CODE + sps + START_CODE + pps
    fragments = [fu_a(NAL_IDR, idr[1:15], start=True), fu_a(NAL_IDR, idr[15:30], start=False),
                 fu_a(NAL_IDR, idr[30:], start=False, end=True)]
    assert b"".join(h264_depayload(f) for f in fragments) == START_CODE + idr
    frame = h264_depayload(stap_a(sps, pps)) + b"".join(h264_depayload(f) for f in fragments)
    assert annexb_nal_types(frame) == [NAL_SPS, NAL_PPS, NAL_IDR] and annexb_is_keyframe(frame)
    assert not annexb_is_keyframe(h264_depayload(nal(NAL_SLICE)))


@pytest.mark.parametrize("payload, message", [
    (b"", "empty H264 payload"),
    (b"\xe5\x00", "forbidden bit"),
    (bytes([0x78, 0x00]), "STAP-A truncated"),
    (bytes([0x78, 0x00, 0x05, 0x67]), "STAP-A NAL unit of 5 bytes does not fit"),
    (bytes([0x78]), "STAP-A without NAL units"),
    (bytes([0x7C, 0x85]), "FU-A shorter"),
    (bytes([0x7C, 0xC5, 0x00]), "both start and end"),
    (bytes([0x79, 0x00, 0x00]), "type 25 is not forwarded"),
])
def test_depayload_names_what_is_malformed(payload: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        h264_depayload(payload)


@given(st.binary(max_size=64))
def test_arbitrary_bytes_never_raise_anything_else(data: bytes) -> None:
    h264_starts_keyframe(data)
    annexb_nal_types(data)
    try:
        h264_depayload(data)
    except ValueError:
        pass


@pytest.mark.parametrize("plid, profile", [
    ("42e01f", "constrained-baseline"), ("42001f", "baseline"), ("42C02A", "constrained-baseline"),
    ("4de01f", "constrained-baseline"), ("4d001f", "main"), ("58c01f", "constrained-baseline"),
    ("64001f", "high"), ("640c1f", "constrained-high"), ("f4001f", "high-444"),
    ("42e0", None), ("zz001f", None), ("42e11f", None), ("6e001f", None),
])
def test_profile_level_id(plid: str, profile: str | None) -> None:
    assert h264_profile(plid) == profile


def _split(annexb: bytes) -> list[bytes]:
    """NAL units of an Annex B stream (test-side reference, 3- and 4-byte start codes)."""
    units, pos = [], annexb.find(b"\x00\x00\x01")
    while pos >= 0:
        nxt = annexb.find(b"\x00\x00\x01", pos + 3)
        unit = annexb[pos + 3:nxt if nxt >= 0 else len(annexb)]
        units.append(unit[:-1] if nxt >= 0 and unit.endswith(b"\x00") else unit)
        pos = nxt
    return units


def test_aiortc_packetizer_output_from_real_x264_frames() -> None:
    """libx264 frames cut by aiortc's own H264 packetizer: the first packet of each IDR access unit is a start.

    640x480 with noise makes the IDR bigger than one packet (FU-A) while SPS
    and PPS go together (STAP-A); the depayloaded packets give back the very
    NAL units x264 produced, which PyAV's decoder accepts.
    """
    encoder = av.CodecContext.create("libx264", "w")
    encoder.width, encoder.height, encoder.pix_fmt = 640, 480, "yuv420p"
    encoder.time_base = fractions.Fraction(1, 90000)
    encoder.framerate = fractions.Fraction(30, 1)
    encoder.bit_rate = 2_000_000
    encoder.options = {"tune": "zerolatency", "profile": "baseline", "level": "31"}
    decoder = av.CodecContext.create("h264", "r")
    seen_kinds: set[int] = set()
    decoded = keyframes = 0
    rng = random.Random(6)
    for index in range(12):
        picture = av.VideoFrame(640, 480, "yuv420p")
        for plane in picture.planes:
            plane.update(rng.randbytes(plane.buffer_size))
        picture.pts = index * 3000
        picture.time_base = encoder.time_base
        picture.pict_type = av.video.frame.PictureType.I if index in (0, 7) else av.video.frame.PictureType.NONE
        for packet in encoder.encode(picture):
            payloads, _ = H264Encoder().pack(packet)
            seen_kinds |= {p[0] & 0x1F for p in payloads}
            starts = [h264_starts_keyframe(p) for p in payloads]
            if packet.is_keyframe:
                keyframes += 1
                assert starts[0], "the first packet of an IDR access unit must be a start"
            else:
                assert not any(starts), "a delta frame never looks like a start"
            annexb = b"".join(h264_depayload(p) for p in payloads)
            assert annexb_is_keyframe(annexb) is bool(packet.is_keyframe)
            assert _split(annexb) == _split(bytes(packet))
            decoded += len(decoder.decode(av.Packet(annexb)))
    assert keyframes == 2 and decoded >= 10
    assert {STAP_A, FU_A} <= seen_kinds, f"both aggregation and fragmentation exercised, saw {seen_kinds}"
