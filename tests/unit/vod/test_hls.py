import pytest

from vod.hls import cap_master, media_name, parse_master

MASTER = """#EXTM3U
#EXT-X-VERSION:7
#EXT-X-STREAM-INF:BANDWIDTH=2890800,RESOLUTION=1280x720,CODECS="avc1.4d401f,mp4a.40.2"
720p/index.m3u8

#EXT-X-STREAM-INF:BANDWIDTH=730400,RESOLUTION=640x360,CODECS="avc1.4d401e,mp4a.40.2"
360p/index.m3u8

#EXT-X-STREAM-INF:BANDWIDTH=382800,RESOLUTION=426x240,CODECS="avc1.4d4015,mp4a.40.2"
240p/index.m3u8
"""


def test_parse_master():
    header, variants = parse_master(MASTER)
    assert header == ["#EXTM3U", "#EXT-X-VERSION:7"]
    assert [(v.bandwidth, v.uri) for v in variants] == [
        (2890800, "720p/index.m3u8"), (730400, "360p/index.m3u8"), (382800, "240p/index.m3u8")]


def test_cap_keeps_what_fits():
    assert cap_master(MASTER, None).count("#EXT-X-STREAM-INF") == 3
    capped = cap_master(MASTER, 1_000_000)
    assert "720p" not in capped and "360p/index.m3u8" in capped and "240p/index.m3u8" in capped
    assert capped.startswith("#EXTM3U\n#EXT-X-VERSION:7\n")
    assert cap_master(MASTER, 500_000).count("#EXT-X-STREAM-INF") == 1
    # below every rung: the lowest still plays (slowly) rather than nothing
    assert "240p/index.m3u8" in cap_master(MASTER, 100_000) and "360p" not in cap_master(MASTER, 100_000)


@pytest.mark.parametrize("name, expected", [
    ("master.m3u8", ("application/vnd.apple.mpegurl", None)),
    ("720p/index.m3u8", ("application/vnd.apple.mpegurl", "720p")),
    ("240p/seg_00012.m4s", ("video/iso.segment", "240p")),
    ("240p/seg_00012.ts", ("video/mp2t", "240p")),
    ("240p/init_2.mp4", ("video/mp4", "240p")),
    ("thumb.jpg", ("image/jpeg", None)),
])
def test_media_names(name, expected):
    assert media_name(name) == expected


@pytest.mark.parametrize("name", ["../x", "240p/../master.m3u8", "/etc/passwd", "240p/seg_1.m4s", "a.m3u8",
                                  "240p/index.m3u8/", "240P/index.m3u8", "240p\\seg_00000.m4s", "thumb.jpg.bak"])
def test_everything_else_is_refused(name):
    assert media_name(name) is None
