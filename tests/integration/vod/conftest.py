"""Media made by real ffmpeg (test pattern and tone), small and short so the VOD tests stay fast."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from vod.demo import make_source


@pytest.fixture(scope="session")
def ffmpeg_available() -> None:
    for tool in ("ffmpeg", "ffprobe"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} not installed (Debian package ffmpeg; `make setup` as root installs it)")


@pytest.fixture(scope="session")
def media(tmp_path_factory, ffmpeg_available) -> dict[str, Path]:  # type: ignore[no-untyped-def]
    """good (640×360, 3 s, tone), small, audio-only, text renamed .mp4, truncated MP4s (index lost / data lost)."""
    root = tmp_path_factory.mktemp("media")
    good = make_source(root / "good.mp4", 3, width=640, height=360, caption="新闻 测试")
    small = make_source(root / "small.mp4", 2, width=320, height=180)
    audio = root / "audio.mp4"
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "sine=duration=3",
                    "-c:a", "aac", str(audio)], check=True)
    text = root / "notes.mp4"
    text.write_text("会议纪要: this is a text file renamed .mp4\n", encoding="utf-8")
    # default MP4: the index (moov) is written last, so cutting the file loses it
    truncated = root / "truncated.mp4"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    # faststart MP4: the index survives at the front but half the media data is gone
    faststart = make_source(root / "faststart.mp4", 6, width=320, height=180, faststart=True)
    cut = root / "truncated-faststart.mp4"
    cut.write_bytes(faststart.read_bytes()[: faststart.stat().st_size // 2])
    return {"good": good, "small": small, "audio": audio, "text": text, "truncated": truncated,
            "truncated_faststart": cut}
