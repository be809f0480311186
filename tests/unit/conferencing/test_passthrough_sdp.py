"""The SDP checks and rewrites in front of aiortc (pure)."""
from __future__ import annotations

import pytest

from conferencing.sdp import SdpError, check_offer, is_loopback_candidate, keep_candidates, restrict_codecs

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
