"""The HLS ladder fitted to Ordos' links, and the ffmpeg commands that make it.

Rungs: 720p at ~2.5 Mbit/s for banners on 100 Mbit/s and faster links, 360p
at ~0.6 Mbit/s, and 240p at ~0.35 Mbit/s with audio so that one viewer in a
township behind a 2 Mbit/s E1 uses under a quarter of the link (a conference
and other viewers still fit). One ffmpeg run decodes once and encodes every
rung; keyframes are forced at the same instants on every rung (and scene-cut
keyframes are off) so that segments align and hls.js can switch at any
segment boundary. Segments are fragmented MP4 (CMAF-style ``.m4s`` with an
init file per rung): with MPEG-TS, B-frame delay and AAC priming start audio
21 ms before video and hls.js reports ``bufferSeekOverHole`` on every start;
with fMP4 the edit lists line the tracks up and it plays without a warning.

Playlists are of type EVENT while ffmpeg works: it rewrites each rung's
playlist (to a temporary file, then a rename) after every finished segment,
and writes the master playlist once every rung has its first one, so an
episode can be watched from its first segments before the job ends.
``finalise_playlist`` turns a finished EVENT playlist into a VOD one.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

SEGMENT_SECONDS = 4
MASTER = "master.m3u8"
THUMBNAIL = "thumb.jpg"


@dataclass(frozen=True)
class Rung:
    """One quality of the ladder."""

    name: str
    height: int
    video_kbps: int
    audio_kbps: int

    @property
    def maxrate_kbps(self) -> int:
        return int(self.video_kbps * 1.07)

    @property
    def bufsize_kbps(self) -> int:
        return self.video_kbps * 2


LADDER: tuple[Rung, ...] = (
    Rung("720p", 720, 2500, 128),
    Rung("360p", 360, 600, 64),
    Rung("240p", 240, 300, 48),
)


def fit_ladder(source_height: int, ladder: tuple[Rung, ...] = LADDER) -> list[Rung]:
    """The rungs worth making for a source: never upscale, but always keep the lowest rung."""
    rungs = [r for r in ladder if r.height <= source_height]
    return rungs or [min(ladder, key=lambda r: r.height)]


@dataclass(frozen=True)
class TranscodePlan:
    """Everything one ffmpeg run needs; ``command()`` is the exact argv."""

    source: str
    out_dir: str
    rungs: tuple[Rung, ...]
    has_audio: bool
    segment_seconds: int = SEGMENT_SECONDS
    preset: str = "veryfast"
    # Read the source at this multiple of real time (ffmpeg ``-readrate``); None reads as fast as it can.
    # Tests use it to make a job last a known time whatever the machine's speed.
    read_rate: float | None = None

    def command(self, ffmpeg: str = "ffmpeg", progress: bool = True) -> list[str]:
        n = len(self.rungs)
        splits = "".join(f"[s{i}]" for i in range(n))
        graph = [f"[0:v]format=yuv420p,split={n}{splits}"]
        graph += [f"[s{i}]scale=-2:{r.height}[v{i}]" for i, r in enumerate(self.rungs)]
        argv = [ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "warning", "-y"]
        if self.read_rate:
            argv += ["-readrate", f"{self.read_rate:g}"]
        argv += ["-i", self.source, "-filter_complex", ";".join(graph)]
        for i in range(n):
            argv += ["-map", f"[v{i}]"]
        if self.has_audio:
            for _ in range(n):
                argv += ["-map", "0:a:0"]
        argv += ["-c:v", "libx264", "-preset", self.preset, "-profile:v", "main", "-sc_threshold", "0",
                 "-force_key_frames", f"expr:gte(t,n_forced*{self.segment_seconds})"]
        for i, r in enumerate(self.rungs):
            argv += [f"-b:v:{i}", f"{r.video_kbps}k", f"-maxrate:v:{i}", f"{r.maxrate_kbps}k",
                     f"-bufsize:v:{i}", f"{r.bufsize_kbps}k"]
        if self.has_audio:
            argv += ["-c:a", "aac", "-ac", "2", "-ar", "48000"]
            for i, r in enumerate(self.rungs):
                argv += [f"-b:a:{i}", f"{r.audio_kbps}k"]
        stream_map = " ".join(
            f"v:{i},a:{i},name:{r.name}" if self.has_audio else f"v:{i},name:{r.name}" for i, r in enumerate(self.rungs)
        )
        argv += ["-f", "hls", "-hls_time", str(self.segment_seconds), "-hls_playlist_type", "event",
                 "-hls_flags", "independent_segments+temp_file", "-hls_segment_type", "fmp4",
                 "-hls_segment_filename", str(Path(self.out_dir) / "%v" / "seg_%05d.m4s"),
                 "-master_pl_name", MASTER, "-var_stream_map", stream_map]
        if progress:
            argv += ["-progress", "pipe:1", "-nostats"]
        argv.append(str(Path(self.out_dir) / "%v" / "index.m3u8"))
        return argv


def thumbnail_command(source: str, target: str, duration_s: float, ffmpeg: str = "ffmpeg") -> list[str]:
    """One frame a tenth of the way in (the first frame of news is often black)."""
    at = min(max(duration_s * 0.1, 0.0), 10.0)
    return [ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-ss", f"{at:.2f}", "-i", source,
            "-frames:v", "1", "-vf", "scale=-2:180", "-q:v", "4", target]


def parse_progress_block(lines: list[str]) -> dict[str, str]:
    """ffmpeg ``-progress`` output is ``key=value`` lines ending with ``progress=continue|end``."""
    out: dict[str, str] = {}
    for line in lines:
        key, sep, value = line.strip().partition("=")
        if sep:
            out[key] = value
    return out


def progress_fraction(block: dict[str, str], duration_s: float) -> float | None:
    """How far the transcode is, 0..1, from ``out_time_us`` (``N/A`` early on)."""
    if block.get("progress") == "end":
        return 1.0
    raw = block.get("out_time_us") or block.get("out_time_ms")  # both are microseconds in ffmpeg 5
    try:
        micro = int(raw or "")
    except ValueError:
        return None
    if duration_s <= 0:
        return None
    return max(0.0, min(1.0, micro / 1e6 / duration_s))


_EXTINF = re.compile(r"^#EXTINF:([0-9.]+)", re.M)


def playlist_duration(text: str) -> float:
    """Sum of a media playlist's segment durations."""
    return sum(float(m.group(1)) for m in _EXTINF.finditer(text))


def playlist_segments(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def finalise_playlist(text: str) -> str:
    """The VOD form of a finished EVENT playlist (players may then cache it and seek anywhere at once)."""
    if "#EXT-X-ENDLIST" not in text:
        raise ValueError("the playlist is unfinished (no #EXT-X-ENDLIST)")
    return text.replace("#EXT-X-PLAYLIST-TYPE:EVENT", "#EXT-X-PLAYLIST-TYPE:VOD")


def rung_playable(playlist: str | None, init_present: bool) -> bool:
    """A rung can be played once its playlist lists a segment and its init file exists."""
    return bool(playlist) and init_present and bool(playlist_segments(playlist or ""))


def init_name(playlist: str) -> str | None:
    """The init file a fragmented-MP4 playlist names in ``#EXT-X-MAP``."""
    match = _MAP.search(playlist)
    return match.group(1) if match else None


_MAP = re.compile(r'^#EXT-X-MAP:URI="([^"]+)"', re.M)
