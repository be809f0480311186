"""What a file is, from ffprobe's JSON and the file's first bytes — and why it is refused.

Pure functions: the subprocess lives in ``vod/ffmpeg.py``. Every refusal is a
``MediaRejected`` carrying a stable code and parameters (``vod/reasons.py``):
its English text is what the command line prints, and the web pages show the
same reason translated, in words an editor understands.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from vod.reasons import Reason, Refused

# Limits of what we accept; beyond them the file is a mistake, not news.
MIN_DURATION_S = 1.0
MAX_DURATION_S = 6 * 3600.0
MIN_SIDE = 64
MAX_WIDTH, MAX_HEIGHT = 7680, 4320


class MediaRejected(Refused, ValueError):
    """The file cannot become an episode; ``exc.reason`` says why (``str(exc)`` in English)."""


@dataclass(frozen=True)
class MediaInfo:
    """The facts about a source file the ladder and the catalogue need."""

    format_name: str
    duration_s: float
    width: int
    height: int
    video_codec: str
    audio_codec: str | None
    size_bytes: int

    @property
    def has_audio(self) -> bool:
        return self.audio_codec is not None


def ffprobe_command(path: str, ffprobe: str = "ffprobe") -> list[str]:
    return [ffprobe, "-v", "error", "-print_format", "json", "-show_format", "-show_streams", path]


def sniff(head: bytes) -> str:
    """A rough kind for the first bytes of a file, to tell a damaged MP4 from something that is not media."""
    if len(head) >= 8 and head[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip"):
        return "mp4"
    if head[:1] == b"\x47":
        return "mpegts"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "matroska"
    if head[:4] == b"RIFF":
        return "riff"
    if head[:3] == b"FLV":
        return "flv"
    if head[:4] in (b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3"):
        return "mpeg-ps"
    if not head:
        return "empty"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return "binary"
    return "text"


def explain_probe_failure(stderr: str, kind: str) -> Reason:
    """The reason ffprobe could not read a file, from its stderr and the sniffed kind."""
    if kind == "empty":
        return Reason("file.empty")
    if kind == "text":
        return Reason("file.text")
    if kind == "mp4" and "moov atom not found" in stderr:
        return Reason("file.mp4_index_missing")
    if kind == "binary":
        return Reason("file.not_media")
    last = next((line.strip() for line in reversed(stderr.splitlines()) if line.strip()), "")
    return Reason("file.damaged", {"detail": last or "unreadable"})


def parse_probe(stdout: str, size_bytes: int) -> MediaInfo:
    """MediaInfo from ffprobe's JSON; refuses files without a usable video stream."""
    try:
        data = json.loads(stdout or "{}")
    except json.JSONDecodeError as exc:
        raise MediaRejected("probe.unreadable_output", detail=str(exc)) from None
    streams = data.get("streams") or []
    fmt = data.get("format") or {}
    video = next((s for s in streams if s.get("codec_type") == "video" and not _is_cover_art(s)), None)
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    duration = _float(fmt.get("duration")) or _float((video or audio or {}).get("duration"))
    if video is None:
        if audio is not None:
            codec = str(audio.get("codec_name", "?"))
            if duration:
                raise MediaRejected("media.audio_only", codec=codec, seconds=duration)
            raise MediaRejected("media.audio_only_no_length", codec=codec)
        raise MediaRejected("media.no_streams")
    return MediaInfo(
        format_name=str(fmt.get("format_name", "")),
        duration_s=duration or 0.0,
        width=int(video.get("width") or 0),
        height=int(video.get("height") or 0),
        video_codec=str(video.get("codec_name", "")),
        audio_codec=str(audio.get("codec_name", "")) if audio else None,
        size_bytes=size_bytes,
    )


def check_media(info: MediaInfo) -> None:
    """Refuse sizes and lengths no news programme has (a corrupt header, a wrong file)."""
    if info.duration_s < MIN_DURATION_S:
        raise MediaRejected("media.too_short", seconds=info.duration_s, minimum=MIN_DURATION_S)
    if info.duration_s > MAX_DURATION_S:
        raise MediaRejected("media.too_long", hours=info.duration_s / 3600, maximum=MAX_DURATION_S / 3600)
    if info.width < MIN_SIDE or info.height < MIN_SIDE:
        raise MediaRejected("media.picture_too_small", width=info.width, height=info.height, minimum=MIN_SIDE)
    if info.width > MAX_WIDTH or info.height > MAX_HEIGHT:
        raise MediaRejected("media.picture_too_large", width=info.width, height=info.height,
                            max_width=MAX_WIDTH, max_height=MAX_HEIGHT)


def check_size(size_bytes: int, max_bytes: int) -> None:
    if size_bytes > max_bytes:
        raise MediaRejected("file.too_large", size_mb=size_bytes / 2**20, limit_mb=max_bytes / 2**20)


def _is_cover_art(stream: dict) -> bool:
    return bool((stream.get("disposition") or {}).get("attached_pic"))


def _float(value: object) -> float | None:
    try:
        result = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return result if result == result and result >= 0 else None  # NaN-safe
