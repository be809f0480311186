"""What a file is, from ffprobe's JSON and the file's first bytes — and why it is refused.

Pure functions: the subprocess lives in ``vod/ffmpeg.py``. Every refusal is a
``MediaRejected`` whose message is shown to the uploader as is, so it says
what is wrong in words an editor understands.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

# Limits of what we accept; beyond them the file is a mistake, not news.
MIN_DURATION_S = 1.0
MAX_DURATION_S = 6 * 3600.0
MIN_SIDE = 64
MAX_WIDTH, MAX_HEIGHT = 7680, 4320


class MediaRejected(ValueError):
    """The file cannot become an episode; ``str(exc)`` is the reason for the uploader."""


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


def explain_probe_failure(stderr: str, kind: str) -> str:
    """The reason ffprobe could not read a file, from its stderr and the sniffed kind."""
    if kind == "empty":
        return "the file is empty"
    if kind == "text":
        return "not a media file: it contains text, not audio or video"
    if kind == "mp4" and "moov atom not found" in stderr:
        return "the MP4 file is truncated or incomplete: its index (moov atom) is missing; upload the complete file"
    if kind == "binary":
        return "not a media file: ffprobe recognises no audio or video format in it"
    last = next((line.strip() for line in reversed(stderr.splitlines()) if line.strip()), "")
    return f"the file is damaged or not media: ffprobe says “{last or 'unreadable'}”"


def parse_probe(stdout: str, size_bytes: int) -> MediaInfo:
    """MediaInfo from ffprobe's JSON; refuses files without a usable video stream."""
    try:
        data = json.loads(stdout or "{}")
    except json.JSONDecodeError as exc:
        raise MediaRejected(f"ffprobe returned unreadable output ({exc})") from None
    streams = data.get("streams") or []
    fmt = data.get("format") or {}
    video = next((s for s in streams if s.get("codec_type") == "video" and not _is_cover_art(s)), None)
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    duration = _float(fmt.get("duration")) or _float((video or audio or {}).get("duration"))
    if video is None:
        if audio is not None:
            length = f", {duration:.1f} s" if duration else ""
            raise MediaRejected(f"no video stream: the file holds only audio ({audio.get('codec_name', '?')}{length})")
        raise MediaRejected("no video stream: ffprobe found no audio or video in the file")
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
        raise MediaRejected(f"too short: {info.duration_s:.1f} s (at least {MIN_DURATION_S:.0f} s)")
    if info.duration_s > MAX_DURATION_S:
        raise MediaRejected(f"too long: {info.duration_s / 3600:.1f} h (at most {MAX_DURATION_S / 3600:.0f} h)")
    if info.width < MIN_SIDE or info.height < MIN_SIDE:
        raise MediaRejected(f"picture too small: {info.width}×{info.height} (at least {MIN_SIDE}×{MIN_SIDE})")
    if info.width > MAX_WIDTH or info.height > MAX_HEIGHT:
        raise MediaRejected(f"picture too large: {info.width}×{info.height} (at most {MAX_WIDTH}×{MAX_HEIGHT})")


def check_size(size_bytes: int, max_bytes: int) -> None:
    if size_bytes > max_bytes:
        raise MediaRejected(
            f"file too large: {size_bytes / 2**20:.1f} MB, the limit is {max_bytes / 2**20:.0f} MB"
        )


def _is_cover_art(stream: dict) -> bool:
    return bool((stream.get("disposition") or {}).get("attached_pic"))


def _float(value: object) -> float | None:
    try:
        result = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return result if result == result and result >= 0 else None  # NaN-safe
