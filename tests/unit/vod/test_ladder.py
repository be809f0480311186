import pytest

from vod.ladder import (LADDER, TranscodePlan, finalise_playlist, fit_ladder, init_name, parse_progress_block,
                        playlist_duration, playlist_segments, progress_fraction, rung_playable)


def test_ladder_fits_the_links():
    by_name = {r.name: r for r in LADDER}
    assert by_name["720p"].video_kbps == 2500 and by_name["360p"].video_kbps == 600
    low = by_name["240p"]
    # one township viewer at most a quarter of a 2 Mbit/s E1, with ~10 % container overhead
    assert (low.maxrate_kbps + low.audio_kbps) * 1.1 <= 2000 / 4


def test_fit_ladder_never_upscales_but_keeps_the_lowest_rung():
    assert [r.name for r in fit_ladder(1080)] == ["720p", "360p", "240p"]
    assert [r.name for r in fit_ladder(480)] == ["360p", "240p"]
    assert [r.name for r in fit_ladder(144)] == ["240p"]


def test_command_aligns_keyframes_and_maps_every_rung():
    plan = TranscodePlan("/in/a b.mp4", "/out", tuple(LADDER), has_audio=True, segment_seconds=4)
    argv = plan.command("ffmpeg")
    assert argv[argv.index("-i") + 1] == "/in/a b.mp4"
    graph = argv[argv.index("-filter_complex") + 1]
    assert graph == ("[0:v]format=yuv420p,split=3[s0][s1][s2];[s0]scale=-2:720[v0];"
                     "[s1]scale=-2:360[v1];[s2]scale=-2:240[v2]")
    assert argv[argv.index("-sc_threshold") + 1] == "0"
    assert argv[argv.index("-force_key_frames") + 1] == "expr:gte(t,n_forced*4)"
    assert argv[argv.index("-var_stream_map") + 1] == "v:0,a:0,name:720p v:1,a:1,name:360p v:2,a:2,name:240p"
    assert argv.count("0:a:0") == 3
    assert argv[argv.index("-b:v:2") + 1] == "300k" and argv[argv.index("-b:a:2") + 1] == "48k"
    assert argv[argv.index("-progress") + 1] == "pipe:1"
    assert argv[-1] == "/out/%v/index.m3u8"
    # progressive: EVENT playlists rewritten after each segment, by rename (temp_file), never half-written
    assert argv[argv.index("-hls_playlist_type") + 1] == "event"
    assert argv[argv.index("-hls_flags") + 1] == "independent_segments+temp_file"
    assert "-readrate" not in argv


def test_read_rate_is_an_input_option():
    argv = TranscodePlan("in.mp4", "out", tuple(LADDER), True, read_rate=1.5).command()
    assert argv.index("-readrate") < argv.index("-i") and argv[argv.index("-readrate") + 1] == "1.5"


def test_command_without_audio():
    argv = TranscodePlan("in.mp4", "out", tuple(LADDER[1:]), has_audio=False).command(progress=False)
    assert "0:a:0" not in argv and "-c:a" not in argv and "-progress" not in argv
    assert argv[argv.index("-var_stream_map") + 1] == "v:0,name:360p v:1,name:240p"


def test_progress():
    block = parse_progress_block(["frame=10", "out_time_us=1500000", "speed=2.1x", "progress=continue"])
    assert progress_fraction(block, 6.0) == 0.25
    assert progress_fraction({"out_time_us": "N/A", "progress": "continue"}, 6.0) is None
    assert progress_fraction({"out_time_us": "9000000"}, 6.0) == 1.0
    assert progress_fraction({"progress": "end"}, 6.0) == 1.0
    assert progress_fraction({"out_time_us": "100"}, 0.0) is None


PLAYLIST = """#EXTM3U
#EXT-X-TARGETDURATION:4
#EXT-X-MAP:URI="init_2.mp4"
#EXTINF:4.000000,
seg_00000.m4s
#EXTINF:2.520000,
seg_00001.m4s
#EXT-X-ENDLIST
"""


def test_playlist_helpers():
    assert playlist_duration(PLAYLIST) == 6.52
    assert playlist_segments(PLAYLIST) == ["seg_00000.m4s", "seg_00001.m4s"]


GROWING = """#EXTM3U
#EXT-X-VERSION:7
#EXT-X-TARGETDURATION:4
#EXT-X-MEDIA-SEQUENCE:0
#EXT-X-PLAYLIST-TYPE:EVENT
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-MAP:URI="init_1.mp4"
#EXTINF:4.000000,
seg_00000.m4s
"""


def test_growing_playlist_is_playable_once_it_lists_a_segment_and_its_init_exists():
    assert init_name(GROWING) == "init_1.mp4" and init_name("#EXTM3U\n") is None
    assert rung_playable(GROWING, init_present=True)
    assert not rung_playable(GROWING, init_present=False)
    assert not rung_playable(GROWING.rsplit("#EXTINF", 1)[0], init_present=True)  # no segment yet
    assert not rung_playable(None, init_present=True)


def test_finished_event_playlist_becomes_vod():
    final = finalise_playlist(GROWING + "#EXT-X-ENDLIST\n")
    assert "#EXT-X-PLAYLIST-TYPE:VOD" in final and "EVENT" not in final and final.endswith("#EXT-X-ENDLIST\n")
    with pytest.raises(ValueError, match="unfinished"):
        finalise_playlist(GROWING)
