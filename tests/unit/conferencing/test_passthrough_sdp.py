"""The SDP checks and rewrites in front of aiortc (pure)."""
from __future__ import annotations

import pytest

from conferencing.sdp import (
    SdpError,
    check_offer,
    choose_payload_type,
    is_loopback_candidate,
    keep_candidates,
    restrict_codecs,
)

OFFER = "\r\n".join([
    "v=0", "o=- 1 2 IN IP4 127.0.0.1", "s=-", "t=0 0", "a=group:BUNDLE 0 1",
    "m=audio 9 UDP/TLS/RTP/SAVPF 111 0", "c=IN IP4 0.0.0.0", "a=mid:0", "a=sendonly",
    "a=rtpmap:111 opus/48000/2", "a=fmtp:111 minptime=10", "a=rtpmap:0 PCMU/8000",
    "a=candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host",
    "a=candidate:2 1 udp 2122260223 192.0.2.2 50001 typ host",
    "m=video 9 UDP/TLS/RTP/SAVPF 96 97 98 99", "c=IN IP4 0.0.0.0", "a=mid:1", "a=sendonly",
    "a=rtpmap:96 VP8/90000", "a=rtcp-fb:96 nack pli", "a=rtpmap:97 rtx/90000", "a=fmtp:97 apt=96",
    "a=rtpmap:98 VP9/90000", "a=rtcp-fb:98 nack", "a=rtpmap:99 rtx/90000", "a=fmtp:99 apt=98", "",
])


def test_check_offer_lists_media() -> None:
    media = check_offer(OFFER)
    assert [(m.kind, m.direction, m.mid) for m in media] == [("audio", "sendonly", "0"), ("video", "sendonly", "1")]


@pytest.mark.parametrize("body, message", [
    ("", "empty body"),
    ("hello", "line 1"),
    ("v=0\r\no=- 1 2 IN IP4 1.2.3.4\r\nnonsense\r\n", "line 3: not an SDP line"),
    ("v=0\r\nm=video 9\r\n", "line 2: m-line needs"),
    ("v=0\r\ns=-\r\n", "no audio or video"),
])
def test_bad_offers_name_the_problem(body: str, message: str) -> None:
    with pytest.raises(SdpError, match=message):
        check_offer(body)


def test_restrict_codecs_keeps_one_codec_and_its_rtx() -> None:
    out = restrict_codecs(OFFER, {"video": "VP8", "audio": "opus"})
    assert "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n" in out
    assert "m=video 9 UDP/TLS/RTP/SAVPF 96 97\r\n" in out
    assert "VP9" not in out and "apt=98" not in out and "PCMU" not in out and "rtcp-fb:98" not in out
    assert "a=rtcp-fb:96 nack pli" in out


def test_restrict_codecs_refuses_an_offer_without_the_codec() -> None:
    with pytest.raises(SdpError, match="m-line 2 \\(video\\) does not offer H264"):
        restrict_codecs(OFFER, {"video": "H264"})


def test_keep_candidates_drops_unreachable_ones() -> None:
    out = keep_candidates(OFFER, is_loopback_candidate)
    assert "127.0.0.1 50000" in out and "192.0.2.2" not in out


def _video(*formats: str) -> str:
    """A one-video-m-line offer; formats as "PT NAME fmtp" ("-" for no fmtp)."""
    pts = [f.split()[0] for f in formats]
    lines = ["v=0", "o=- 1 2 IN IP4 127.0.0.1", "s=-", "t=0 0",
             f"m=video 9 UDP/TLS/RTP/SAVPF {' '.join(pts)}", "c=IN IP4 0.0.0.0", "a=mid:0", "a=sendonly"]
    for f in formats:
        pt, name, fmtp = f.split(" ", 2)
        lines.append(f"a=rtpmap:{pt} {name}/90000")
        if fmtp != "-":
            lines.append(f"a=fmtp:{pt} {fmtp}")
        lines.append(f"a=rtcp-fb:{pt} nack pli")
    return "\r\n".join(lines + [""])


H264_ONLY = _video("102 H264 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
                   "103 rtx apt=102",
                   "104 H264 level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42e01f",
                   "106 H264 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=640c1f")
BROWSER = _video("96 VP8 -", "97 rtx apt=96",
                 "102 H264 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f",
                 "108 H264 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
                 "109 rtx apt=108", "98 VP9 profile-id=0", "45 AV1 -")
FORWARDED = {"video": ("VP8", "H264"), "audio": ("opus",)}


def test_an_h264_only_publisher_keeps_its_forwardable_h264() -> None:
    """OBS/GStreamer WHIP: H264 only; packetization-mode 0 and High profile do not count."""
    out = restrict_codecs(H264_ONLY, FORWARDED)
    assert "m=video 9 UDP/TLS/RTP/SAVPF 102 103\r\n" in out
    assert "profile-level-id=42e01f" in out and "640c1f" not in out and "packetization-mode=0" not in out


def test_a_browser_publisher_gets_vp8_and_a_subscriber_keeps_both() -> None:
    assert "m=video 9 UDP/TLS/RTP/SAVPF 96 97\r\n" in restrict_codecs(BROWSER, FORWARDED)
    sub = restrict_codecs(BROWSER, FORWARDED, one=False)
    assert "m=video 9 UDP/TLS/RTP/SAVPF 96 97 102 108 109\r\n" in sub
    assert "VP9" not in sub and "AV1" not in sub


def test_an_offer_with_only_unforwardable_h264_is_refused_with_the_reason() -> None:
    high = _video("106 H264 packetization-mode=1;profile-level-id=640c1f", "107 H264 profile-level-id=42e01f")
    with pytest.raises(SdpError) as err:
        restrict_codecs(high, FORWARDED)
    assert str(err.value) == (
        "m-line 1 (video) does not offer VP8 or H264 (its H264 has packetization-mode=0, "
        "profile-level-id=640c1f (constrained-high)); the bridge forwards VP8 or H264 only "
        "(H264: packetization-mode=1, constrained baseline or baseline, e.g. 42e01f)")


def test_choose_payload_type_pins_the_subscriber_to_the_source_format() -> None:
    negotiated = [(96, "VP8", {}),
                  (102, "H264", {"packetization-mode": "1", "profile-level-id": "42001f"}),
                  (108, "H264", {"packetization-mode": 1, "profile-level-id": "42e01f"})]
    assert choose_payload_type(negotiated, "VP8", {}) == 96
    assert choose_payload_type(negotiated, "H264", {"profile-level-id": "42e01f", "packetization-mode": 1}) == 108
    assert choose_payload_type(negotiated, "H264", {"profile-level-id": "42001f"}) == 102
    # another baseline flavour than any negotiated: the first forwardable H264 rather than nothing
    assert choose_payload_type(negotiated[:2], "H264", {"profile-level-id": "42e01f"}) == 102
    assert choose_payload_type(negotiated[:1], "H264", {}) is None, "a VP8-only subscriber cannot take H264"
    assert choose_payload_type(negotiated[1:], "VP8", {}) is None
    single_nal = [(104, "H264", {"packetization-mode": "0", "profile-level-id": "42e01f"})]
    assert choose_payload_type(single_nal, "H264", {}) is None, "FU-A/STAP-A cannot go to packetization-mode 0"
