import json

import pytest

from vod.probe import MediaInfo, MediaRejected, check_media, check_size, explain_probe_failure, parse_probe, sniff


def probe_json(*streams: dict, duration: str = "12.5") -> str:
    return json.dumps({"streams": list(streams), "format": {"format_name": "mov,mp4", "duration": duration}})


VIDEO = {"codec_type": "video", "codec_name": "h264", "width": 1280, "height": 720}
AUDIO = {"codec_type": "audio", "codec_name": "aac"}


def test_parse_video_with_audio():
    info = parse_probe(probe_json(VIDEO, AUDIO), 1234)
    assert info == MediaInfo("mov,mp4", 12.5, 1280, 720, "h264", "aac", 1234)
    assert info.has_audio


def test_cover_art_is_not_video():
    art = {**VIDEO, "codec_name": "mjpeg", "disposition": {"attached_pic": 1}}
    with pytest.raises(MediaRejected, match=r"^no video stream: the file holds only audio \(aac, 12.5 s\)$"):
        parse_probe(probe_json(art, AUDIO), 1)


def test_nothing_at_all():
    with pytest.raises(MediaRejected, match="^no video stream: ffprobe found no audio or video in the file$"):
        parse_probe(probe_json(), 1)


def test_garbage_json():
    with pytest.raises(MediaRejected, match="^ffprobe returned unreadable output"):
        parse_probe("{not json", 1)


@pytest.mark.parametrize("head, kind", [
    (b"\x00\x00\x00\x20ftypisom", "mp4"), (b"\x47\x40\x00", "mpegts"), (b"\x1a\x45\xdf\xa3", "matroska"),
    (b"", "empty"), ("会议纪要".encode(), "text"), (b"\xff\xfe\x00\x81\x93", "binary"),
])
def test_sniff(head, kind):
    assert sniff(head) == kind


def test_explanations():
    truncated = explain_probe_failure("x: moov atom not found\n", "mp4")
    assert truncated.code == "file.mp4_index_missing" and truncated.english.startswith("the MP4 file is truncated")
    assert str(explain_probe_failure("", "text")) == "not a media file: it contains text, not audio or video"
    damaged = explain_probe_failure("a\nb: Invalid data found\n", "matroska")
    assert (damaged.code, damaged.params) == ("file.damaged", {"detail": "b: Invalid data found"})
    assert damaged.english == "the file is damaged or not media: ffprobe says “b: Invalid data found”"


@pytest.mark.parametrize("info, code, reason", [
    (MediaInfo("mp4", 0.4, 640, 360, "h264", None, 1), "media.too_short", "too short: 0.4 s (at least 1 s)"),
    (MediaInfo("mp4", 7 * 3600, 640, 360, "h264", None, 1), "media.too_long", "too long: 7.0 h (at most 6 h)"),
    (MediaInfo("mp4", 10, 32, 32, "h264", None, 1), "media.picture_too_small",
     "picture too small: 32×32 (at least 64×64)"),
    (MediaInfo("mp4", 10, 16000, 9000, "h264", None, 1), "media.picture_too_large",
     "picture too large: 16000×9000 (at most 7680×4320)"),
])
def test_absurd_media_is_refused(info, code, reason):
    with pytest.raises(MediaRejected) as exc:
        check_media(info)
    assert exc.value.reason.code == code
    assert str(exc.value) == reason


def test_size_limit():
    check_size(2**20, 2**20)
    with pytest.raises(MediaRejected, match=r"^file too large: 3072.0 MB, the limit is 2048 MB$"):
        check_size(3 * 2**30, 2 * 2**30)
