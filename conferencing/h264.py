"""H264 RTP payloads (RFC 6184, packetization-mode 1) as the forwarder needs them (pure: bytes in, values out).

The bridge forwards H264 exactly as it forwards VP8 — payloads untouched,
headers rewritten — so it needs only what VP8 gets in ``rtp.py``:

* ``h264_starts_keyframe``: whether a packet may begin a subscriber's
  stream (a switch, a join, a resync waits for one): a single NAL packet
  holding an SPS or an IDR slice, a STAP-A aggregating either, or the first
  fragment (FU-A, S bit) of an IDR slice. Encoders put SPS and PPS right
  before the IDR of a key access unit (libx264, Chromium, OBS), so the packet
  carrying the SPS is the first of the access unit; starting there gives the
  subscriber's decoder its parameter sets. A PPS on its own is not a start:
  it follows an SPS we would have missed.
* ``h264_depayload`` / ``annexb_is_keyframe``: payload → Annex B bytes and
  "does this access unit hold an IDR", for the low tier, which decodes.
* ``h264_profile``: the profile a ``profile-level-id`` names (RFC 6184
  §8.1 and the constraint-flag patterns WebRTC uses), so the bridge accepts
  only what aiortc negotiates (constrained baseline, baseline) and pins a
  subscriber to the publisher's profile.

No picture-ID rewriting is needed: H264 has none in its payload format
(VP8's picture IDs are forwarded as they are too, see the README).
Interleaved mode (STAP-B, MTAP, FU-B, packetization-mode 2) is refused at
negotiation, so those NAL types are simply "not a start" here.
"""
from __future__ import annotations

from typing import Mapping

NAL_SLICE = 1
NAL_IDR = 5
NAL_SEI = 6
NAL_SPS = 7
NAL_PPS = 8
NAL_AUD = 9
STAP_A = 24
FU_A = 28
START_CODE = b"\x00\x00\x00\x01"

_KEY_TYPES = (NAL_SPS, NAL_IDR)


def _stap_types(payload: bytes) -> list[int]:
    """NAL unit types aggregated in a STAP-A payload (stops at a truncated unit)."""
    types = []
    pos, size = 1, len(payload)
    while pos + 2 < size:
        length = (payload[pos] << 8) | payload[pos + 1]
        if length == 0 or pos + 2 + length > size:
            break
        types.append(payload[pos + 2] & 0x1F)
        pos += 2 + length
    return types


def h264_starts_keyframe(payload: bytes) -> bool:
    """True when this packet may start a subscriber's H264 stream: SPS or IDR first in a key access unit."""
    if not payload:
        return False
    nal = payload[0] & 0x1F
    if nal == NAL_SPS or nal == NAL_IDR:
        return True
    if nal == FU_A:
        return len(payload) > 1 and payload[1] & 0x80 != 0 and payload[1] & 0x1F == NAL_IDR
    if nal == STAP_A:
        return any(t in _KEY_TYPES for t in _stap_types(payload))
    return False


def h264_depayload(payload: bytes) -> bytes:
    """Annex B bytes of one packet: a start code before each NAL unit it holds or begins; ValueError when malformed.

    Fragments after the first (FU-A without S) are returned bare, so the
    concatenated payloads of one access unit form its Annex B bitstream.
    """
    if not payload:
        raise ValueError("empty H264 payload")
    header = payload[0]
    if header & 0x80:
        raise ValueError("H264 NAL header with the forbidden bit set")
    nal = header & 0x1F
    if 1 <= nal <= 23:
        return START_CODE + payload
    if nal == STAP_A:
        parts = []
        pos, size = 1, len(payload)
        while pos < size:
            if pos + 2 > size:
                raise ValueError("STAP-A truncated in a NAL unit size")
            length = (payload[pos] << 8) | payload[pos + 1]
            if length == 0 or pos + 2 + length > size:
                raise ValueError(f"STAP-A NAL unit of {length} bytes does not fit the packet")
            parts.append(START_CODE + payload[pos + 2:pos + 2 + length])
            pos += 2 + length
        if not parts:
            raise ValueError("STAP-A without NAL units")
        return b"".join(parts)
    if nal == FU_A:
        if len(payload) < 3:
            raise ValueError("FU-A shorter than its two header bytes and data")
        fu = payload[1]
        if fu & 0x80 and fu & 0x40:
            raise ValueError("FU-A with both start and end bits")
        if fu & 0x80:
            return START_CODE + bytes([(header & 0xE0) | (fu & 0x1F)]) + payload[2:]
        return payload[2:]
    raise ValueError(f"H264 NAL unit type {nal} is not forwarded (interleaved mode or reserved)")


def annexb_nal_types(data: bytes) -> list[int]:
    """NAL unit types of an Annex B bitstream, in order (3- and 4-byte start codes)."""
    types = []
    pos = data.find(b"\x00\x00\x01")
    while pos >= 0:
        start = pos + 3
        if start < len(data):
            types.append(data[start] & 0x1F)
        pos = data.find(b"\x00\x00\x01", start)
    return types


def annexb_is_keyframe(data: bytes) -> bool:
    """True when an Annex B access unit holds an IDR slice (a decoder can start from it)."""
    return NAL_IDR in annexb_nal_types(data)


def h264_profile(profile_level_id: str) -> str | None:
    """The profile a 6-hex-digit ``profile-level-id`` names, or None when unknown or malformed.

    Only the patterns that matter for negotiation: constrained baseline may be
    signalled by Baseline, Main or Extended with constraint flags, which is why
    the first two bytes are not compared directly.
    """
    if len(profile_level_id) != 6:
        return None
    try:
        idc = int(profile_level_id[0:2], 16)
        iop = int(profile_level_id[2:4], 16)
    except ValueError:
        return None
    if iop & 0x0F and not (idc == 0x64 and iop == 0x0C):
        return None  # reserved bits set
    if idc == 0x42:
        return "constrained-baseline" if iop & 0x40 else "baseline"
    if idc == 0x4D:
        return "constrained-baseline" if iop & 0x80 else ("main" if not iop & 0x20 else None)
    if idc == 0x58:
        if iop & 0xC0 == 0xC0:
            return "constrained-baseline"
        return "baseline" if iop & 0xC0 == 0x80 else None
    if idc == 0x64:
        return {0x00: "high", 0x0C: "constrained-high"}.get(iop)
    if idc == 0xF4 and iop == 0:
        return "high-444"
    return None


FORWARDED_PROFILES = ("constrained-baseline", "baseline")
"""What aiortc 1.16 negotiates (its H264 capabilities are 42001f and 42e01f, packetization-mode 1)."""
DEFAULT_PROFILE_LEVEL_ID = "42e01f"
"""What WebRTC and aiortc read a missing profile-level-id as (constrained baseline, level 3.1)."""


def fmtp_profile(params: Mapping[str, object]) -> str | None:
    """The profile an H264 format's fmtp names (RFC 6184: no ``profile-level-id`` means 42e01f's)."""
    return h264_profile(fmtp_profile_level_id(params))


def fmtp_profile_level_id(params: Mapping[str, object]) -> str:
    return str(params.get("profile-level-id", DEFAULT_PROFILE_LEVEL_ID))
