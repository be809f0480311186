"""Demo episodes made from nothing: ffmpeg's test pattern and a tone, captioned in Chinese.

They let ``make run`` show a working catalogue on a fresh machine. Every demo
episode is flagged ``is_demo`` and titled 【演示】 so nobody mistakes it for news.
The same source generator makes the clips the tests ingest.
"""
from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

CJK_FONTS = (
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc"),
    Path("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc"),
)
DEMO_PREFIX = "【演示】"


@dataclass(frozen=True)
class DemoEpisode:
    programme_id: str
    title: str
    description: str
    tags: str
    days_ago: int
    tone_hz: int


DEMO_EPISODES = (
    DemoEpisode("xwlb", "新闻联播 测试图案", "Demo: colour bars and a 440 Hz tone. 演示节目，非真实新闻。",
                "演示,demo,新闻", 1, 440),
    DemoEpisode("ordosxw", "鄂尔多斯新闻 康巴什区冬季供暖", "Demo: test pattern; caption in Chinese. 演示节目。",
                "演示,demo,鄂尔多斯,供暖", 2, 660),
    DemoEpisode("jdft", "焦点访谈 乡镇电子政务网络建设", "Demo: test pattern about township e-government links. 演示节目。",
                "演示,demo,电子政务", 3, 550),
)


def cjk_font() -> Path | None:
    """A CJK font from Debian's fonts-noto-cjk, or None when it is not installed."""
    return next((f for f in CJK_FONTS if f.exists()), None)


def source_command(
    target: Path,
    seconds: float,
    width: int = 1280,
    height: int = 720,
    caption_file: Path | None = None,
    tone_hz: int = 440,
    audio: bool = True,
    fps: int = 25,
    faststart: bool = False,
) -> list[str]:
    """ffmpeg argv for a test-pattern clip (optionally captioned and with a tone) written to ``target``."""
    video = f"testsrc2=size={width}x{height}:rate={fps}:duration={seconds}"
    argv = ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i", video]
    if audio:
        argv += ["-f", "lavfi", "-i", f"sine=frequency={tone_hz}:sample_rate=48000:duration={seconds}"]
    font = cjk_font()
    if caption_file is not None and font is not None:
        size = max(16, height // 14)
        argv += ["-vf", (f"drawtext=fontfile={font}:textfile={caption_file}:fontsize={size}:fontcolor=white"
                         f":box=1:boxcolor=black@0.6:boxborderw={size // 3}:x=(w-text_w)/2:y=h-text_h-{size}")]
    argv += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    if audio:
        argv += ["-c:a", "aac", "-b:a", "96k", "-shortest"]
    if faststart:
        argv += ["-movflags", "+faststart"]
    argv.append(str(target))
    return argv


def make_source(target: Path, seconds: float, caption: str | None = None, **kwargs: object) -> Path:
    """Write a generated clip; the caption goes through a file so no drawtext escaping is needed."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        caption_file = None
        if caption:
            caption_file = Path(tmp) / "caption.txt"
            caption_file.write_text(caption, encoding="utf-8")
        done = subprocess.run(source_command(target, seconds, caption_file=caption_file, **kwargs),  # type: ignore[arg-type]
                              capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"ffmpeg could not generate {target.name}: {done.stderr.strip()[-300:]}")
    return target


def demo_air_date(item: DemoEpisode, today: date) -> date:
    return today - timedelta(days=item.days_ago)


def demo_caption(item: DemoEpisode, day: date) -> str:
    return f"{DEMO_PREFIX} {item.title} · {day.isoformat()} · 演示内容"
