"""The byte-level RTP pieces of the packet forwarder: VP8 descriptor, header rewrite, numbering, NACK history."""
from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conferencing.rtp import (
    Packetizer,
    RetransmitHistory,
    RtpMapper,
    rtp_header,
    seq_newer,
    vp8_depayload,
    vp8_descriptor_size,
    vp8_packetize,
    vp8_starts_frame,
    vp8_starts_keyframe,
)

KEY_HEADER = b"\x50\x01\x00"  # VP8 frame header with P=0 (key frame)
DELTA_HEADER = b"\x51\x01\x00"  # P=1 (inter frame)


def test_descriptor_sizes() -> None:
    assert vp8_descriptor_size(b"\x10" + KEY_HEADER) == 1
    # X, I with a 15-bit picture ID (M bit), L, T/K: 1 + 1 + 2 + 1 + 1
    assert vp8_descriptor_size(bytes([0x90, 0xF0, 0x80 | 0x12, 0x34, 0x07, 0x20]) + KEY_HEADER) == 6
    # X, I with a 7-bit picture ID only
    assert vp8_descriptor_size(bytes([0x90, 0x80, 0x12]) + KEY_HEADER) == 3
    with pytest.raises(ValueError):
        vp8_descriptor_size(b"")
    with pytest.raises(ValueError):
        vp8_descriptor_size(bytes([0x90]))  # X but no extension byte
    with pytest.raises(ValueError):
        vp8_descriptor_size(bytes([0x90, 0x80]))  # I but no picture ID


def test_keyframe_start_needs_s_bit_pid_zero_and_p_bit_clear() -> None:
    assert vp8_starts_keyframe(b"\x10" + KEY_HEADER)
    assert vp8_starts_keyframe(bytes([0x90, 0x80, 0x80 | 0x01, 0x02]) + KEY_HEADER)  # Chromium's: picture ID
    assert not vp8_starts_keyframe(b"\x10" + DELTA_HEADER)  # an inter frame
    assert not vp8_starts_keyframe(b"\x00" + KEY_HEADER)  # S=0: a continuation packet
    assert not vp8_starts_keyframe(b"\x11" + KEY_HEADER)  # PID 1: not the first partition
    assert not vp8_starts_keyframe(b"\x10")  # no frame header at all
    assert not vp8_starts_keyframe(bytes([0x90, 0x80]))  # truncated: not a keyframe, no exception
    assert vp8_starts_frame(b"\x10" + DELTA_HEADER) and not vp8_starts_frame(b"\x00" + DELTA_HEADER)


@given(st.binary(min_size=0, max_size=5000), st.integers(min_value=2, max_value=1500))
def test_packetize_then_depayload_gives_the_frame_back(frame: bytes, max_payload: int) -> None:
    payloads = vp8_packetize(frame, max_payload)
    assert all(len(p) <= max_payload for p in payloads)
    assert b"".join(vp8_depayload(p) for p in payloads) == frame
    assert vp8_starts_frame(payloads[0]) and not any(vp8_starts_frame(p) for p in payloads[1:])


def test_packetizer_marks_keyframe_start_and_last_packet() -> None:
    p = Packetizer("video", seq=65535)
    packets = p.packets(KEY_HEADER + b"x" * 3000, 1234, 90000, keyframe=True)
    assert [pk.seq for pk in packets] == [65535, 0, 1]
    assert [pk.marker for pk in packets] == [False, False, True]
    assert packets[0].keyframe_start and not packets[1].keyframe_start
    assert vp8_starts_keyframe(packets[0].payload)
    audio = Packetizer("audio").packets(b"opus", 960, 48000, keyframe=True)
    assert len(audio) == 1 and audio[0].payload == b"opus" and audio[0].keyframe_start


@given(st.integers(0, 127), st.booleans(), st.integers(0, 0xFFFF), st.integers(0, 0xFFFFFFFF), st.integers(0, 0xFFFFFFFF))
def test_header_fields_round_trip(pt: int, marker: bool, seq: int, ts: int, ssrc: int) -> None:
    header = rtp_header(pt, marker, seq, ts, ssrc)
    b0, b1, s, t, c = struct.unpack("!BBHII", header)
    assert len(header) == 12 and b0 == 0x80  # version 2, no padding, no extension, no CSRC
    assert (b1 & 0x7F, bool(b1 & 0x80), s, t, c) == (pt, marker, seq, ts, ssrc)


def test_mapper_keeps_gaps_and_reordering_within_a_source() -> None:
    m = RtpMapper(first_seq=100, first_ts=5000)
    assert m.map("a", 40000, 900, 90000, 0.0) == (100, 5000)
    assert m.map("a", 40001, 900, 90000, 0.01) == (101, 5000)
    assert m.map("a", 40004, 3900, 90000, 0.04) == (104, 8000)  # ingress gap passed on
    assert m.map("a", 40003, 3900, 90000, 0.05) == (103, 8000)  # late packet keeps its place


def test_mapper_is_continuous_across_a_switch() -> None:
    m = RtpMapper(first_seq=65534, first_ts=0xFFFFFF00)
    m.map("a", 10, 1000, 90000, 0.0)
    seq_a, ts_a = m.map("a", 11, 4000, 90000, 0.033)
    assert (seq_a, ts_a) == (65535, (0xFFFFFF00 + 3000) & 0xFFFFFFFF)
    seq_b, ts_b = m.map("b", 5000, 77, 90000, 0.1)  # another source, another clock
    assert seq_b == 0, "the next sequence number, wrapped"
    assert (ts_b - ts_a) & 0xFFFFFFFF == int(0.067 * 90000), "advanced by the wall time since the last packet"
    assert m.map("b", 5001, 3077, 90000, 0.133) == (1, (ts_b + 3000) & 0xFFFFFFFF)


def test_mapper_rebase_and_clock_jump_hide_the_gap() -> None:
    m = RtpMapper(first_seq=0, first_ts=0)
    m.map("a", 10, 0, 90000, 0.0)
    m.rebase()  # e.g. a stalled subscriber resynced: the packets skipped are not announced as lost
    assert m.map("a", 500, 90000 * 3, 90000, 1.0)[0] == 1
    seq, ts = m.map("a", 501, 90000 * 500, 90000, 1.1)  # the publisher restarted its clock
    assert seq == 2 and 0 < ts - 90000 < 90000 * 0.2


@given(st.lists(st.tuples(st.integers(0, 9), st.integers(1, 40)), min_size=1, max_size=60))
def test_mapper_output_never_repeats_or_jumps_backwards_over_switches(segments: list[tuple[int, int]]) -> None:
    m = RtpMapper(first_seq=65000, first_ts=0)
    out: list[int] = []
    sent = {source: 0 for source, _ in segments}  # each source numbers its own packets on, watched or not
    now = 0.0
    previous = None
    for source, count in segments:
        base = source * 7919
        if source != previous:
            sent[source] += 17  # packets of this source the slot did not take while bound elsewhere
        previous = source
        for _ in range(count):
            now += 0.01
            i = sent[source]
            out.append(m.map(source, (base + i) & 0xFFFF, base * 90 + i * 900, 90000, now)[0])
            sent[source] += 1
    # one continuous run: every packet gets the next sequence number, switches included
    assert all((b - a) & 0xFFFF == 1 for a, b in zip(out, out[1:])), out
    assert all(seq_newer(b, a) for a, b in zip(out, out[1:]))


def test_history_answers_only_what_it_still_holds() -> None:
    h = RetransmitHistory(8)
    for seq in range(65530, 65536):
        h.put(seq, bytes([seq & 0xFF]))
    for seq in range(0, 4):
        h.put(seq, bytes([seq]))
    assert h.get(3) == b"\x03" and h.get(65535) == b"\xff"
    assert h.get(65530) is None and h.get(65531) is None, "overwritten by newer packets"
    assert h.get(1234) is None
    with pytest.raises(ValueError):
        RetransmitHistory(100)


def test_lean_protect_matches_pylibsrtp() -> None:
    """The forwarder's one-call SRTP protect produces exactly what pylibsrtp's Session.protect does."""
    import os

    from pylibsrtp import Policy, Session

    from conferencing.passthrough import lean_protect

    key = os.urandom(30)
    reference = Session(Policy(key=key, ssrc_type=Policy.SSRC_ANY_OUTBOUND))
    lean_session = Session(Policy(key=key, ssrc_type=Policy.SSRC_ANY_OUTBOUND))
    protect = lean_protect(lean_session)
    for seq, size in ((1, 0), (2, 1), (3, 1188), (4, 40)):
        header = rtp_header(96, seq % 2 == 0, seq, seq * 3000, 0x1234)
        payload = bytes(range(256)) * (size // 256) + bytes(size % 256)
        assert protect(header, payload) == reference.protect(header + payload)
    with pytest.raises(ValueError):
        protect(rtp_header(96, False, 5, 0, 1), bytes(1500))


# --- parse_rtp: the lean ingress's header parse, checked against aiortc's own serializer and by hand ---

from aiortc.rtcrtpparameters import RTCRtpHeaderExtensionParameters, RTCRtpParameters  # noqa: E402
from aiortc.rtp import HeaderExtensionsMap, RtpPacket  # noqa: E402

from conferencing.rtp import AUDIO_LEVEL_NONE, parse_rtp  # noqa: E402

AUDIO_LEVEL_URI = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"
MID_URI = "urn:ietf:params:rtp-hdrext:sdes:mid"


def _extensions_map(level_id: int) -> HeaderExtensionsMap:
    mapping = HeaderExtensionsMap()
    mapping.configure(RTCRtpParameters(headerExtensions=[
        RTCRtpHeaderExtensionParameters(id=level_id, uri=AUDIO_LEVEL_URI),
        RTCRtpHeaderExtensionParameters(id=level_id % 14 + 1, uri=MID_URI),
    ]))
    return mapping


@given(
    ssrc=st.integers(0, 2**32 - 1), pt=st.integers(0, 127), seq=st.integers(0, 65535),
    ts=st.integers(0, 2**32 - 1), marker=st.booleans(), payload=st.binary(max_size=64),
    csrc=st.lists(st.integers(0, 2**32 - 1), max_size=15), padding=st.integers(0, 255),
    level_id=st.integers(1, 14), level=st.one_of(st.none(), st.integers(0, 127)), mid=st.one_of(st.none(), st.text("ab0", min_size=1, max_size=3)),
)
def test_parse_rtp_agrees_with_aiortc(ssrc, pt, seq, ts, marker, payload, csrc, padding, level_id, level, mid) -> None:  # type: ignore[no-untyped-def]
    mapping = _extensions_map(level_id)
    packet = RtpPacket(payload_type=pt, marker=int(marker), sequence_number=seq, timestamp=ts, ssrc=ssrc,
                       payload=payload)
    packet.csrc = csrc
    if level is not None:
        packet.extensions.audio_level = (True, level)
    packet.extensions.mid = mid
    data = packet.serialize(mapping)
    if padding:  # aiortc's serializer writes no padding: add it (P bit, then the count as the last byte)
        data = bytes([data[0] | 0x20]) + data[1:] + bytes(padding - 1) + bytes([padding])
    assert RtpPacket.parse(data, mapping).payload == payload  # the oracle agrees with itself
    want_level = AUDIO_LEVEL_NONE if level is None else level
    assert parse_rtp(data, level_id) == (ssrc, pt, seq, ts, marker, payload, want_level)
    assert parse_rtp(data)[6] == AUDIO_LEVEL_NONE  # no negotiated id: the extension is skipped, not read


def test_parse_rtp_reads_two_byte_extensions() -> None:
    # profile 0x1000, one element id 3 of 1 byte (level 42, V set), then padding to a word
    ext = struct.pack("!HH", 0x1000, 1) + bytes([3, 1, 0x80 | 42, 0])
    data = bytes([0x90, 111]) + struct.pack("!HII", 7, 960, 0xABCDEF01) + ext + b"opus"
    assert parse_rtp(data, 3) == (0xABCDEF01, 111, 7, 960, False, b"opus", 42)
    assert parse_rtp(data, 4)[6] == AUDIO_LEVEL_NONE


@pytest.mark.parametrize("data, message", [
    (b"\x80\x60\x00", "shorter than the 12-byte header"),
    (b"\x40" + bytes(11), "version 1"),
    (b"\x8f" + bytes(11) + bytes(8), "CSRC list longer"),
    (b"\x90" + bytes(11) + b"\xbe\xde", "extension truncated"),
    (b"\x90" + bytes(11) + b"\xbe\xde\x00\x05" + bytes(4), "extension longer than the packet"),
    (b"\xa0" + bytes(11) + b"ab\x00", "padding of 0 bytes"),
    (b"\xa0" + bytes(11) + b"ab\x09", "padding of 9 bytes"),
])
def test_parse_rtp_names_what_is_malformed(data: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_rtp(data, 1)


@given(st.binary(max_size=80), st.integers(0, 14))
def test_parse_rtp_never_fails_otherwise(data: bytes, level_id: int) -> None:
    """Any datagram either parses (payload within the packet) or raises ValueError — never another error."""
    try:
        ssrc, pt, seq, ts, marker, payload, level = parse_rtp(data, level_id)
    except ValueError:
        return
    assert len(payload) <= len(data) - 12 and -1 <= level <= 127 and 0 <= pt <= 127
