"""``wangnet vod`` commands against a real store and real ffmpeg."""
from __future__ import annotations

import shutil

import pytest
from click.testing import CliRunner

from tests.conftest import SAMPLE_INVENTORY
from wangnet.cli import main


@pytest.fixture
def run(tmp_path):  # type: ignore[no-untyped-def]
    env = {"WANGNET_VAR_DIR": str(tmp_path / "var"), "WANGNET_INVENTORY": str(SAMPLE_INVENTORY)}

    def invoke(*args: str):  # type: ignore[no-untyped-def]
        return CliRunner(env=env).invoke(main, list(args), catch_exceptions=False)

    invoke.var = tmp_path / "var"  # type: ignore[attr-defined]
    return invoke


def test_ingest_good_and_bad(run, media):
    ok = run("vod", "ingest", str(media["good"]), "--programme", "ordosxw", "--date", "2026-11-24",
             "--title", "鄂尔多斯新闻", "--tags", "测试")
    assert ok.exit_code == 0, ok.output
    assert "episode 1: job 1 queued (640×360, 3.0 s)" in ok.output
    assert "episode 1 published (360p,240p)" in ok.output
    bad = run("vod", "ingest", str(media["audio"]), "--programme", "ordosxw", "--date", "2026-11-24", "--title", "x")
    assert bad.exit_code == 1
    assert f"Error: {media['audio']}: no video stream: the file holds only audio (aac, 3.0 s)" in bad.output
    wrong = run("vod", "ingest", str(media["good"]), "--programme", "cctv", "--date", "2026-11-24", "--title", "x")
    assert wrong.exit_code == 1 and "programme: unknown programme “cctv”" in wrong.output
    truncated = run("vod", "ingest", str(media["truncated_faststart"]), "--programme", "xwlb", "--date", "2026-11-24",
                    "--title", "截断")
    assert truncated.exit_code == 1 and "job 2 failed: the file is truncated: its media ends at" in truncated.output
    jobs = run("vod", "jobs")
    assert "\tdone\t100%\tepisode 1\t鄂尔多斯新闻" in jobs.output and "\tfailed\t" in jobs.output


def test_watch_folder_ingests_and_sorts_out(run, media, tmp_path):
    drop = tmp_path / "drop"
    (drop / "nmgxw").mkdir(parents=True)
    shutil.copy(media["small"], drop / "nmgxw" / "2026-11-22 内蒙古新闻 早间.mp4")
    shutil.copy(media["text"], drop / "nmgxw" / "2026-11-22 纪要.mp4")
    shutil.copy(media["small"], drop / "nmgxw" / "no date.mp4")
    result = run("vod", "watch", str(drop), "--once", "--interval", "0.2")
    assert result.exit_code == 0, result.output
    assert "ingested 2026-11-22 内蒙古新闻 早间.mp4 as episode 1" in result.output
    assert (drop / "done" / "2026-11-22 内蒙古新闻 早间.mp4").exists()
    assert (drop / "rejected" / "2026-11-22 纪要.mp4.reason.txt").read_text() == \
        "not a media file: it contains text, not audio or video\n"
    assert (drop / "rejected" / "no date.mp4.reason.txt").read_text().startswith("file name “no date.mp4” must start")
    assert not list((drop / "nmgxw").iterdir())


def test_demo_makes_marked_episodes_once(run):
    first = run("vod", "demo", "--count", "1", "--seconds", "2")
    assert first.exit_code == 0, first.output
    assert "demo episode 1: 【演示】新闻联播 测试图案" in first.output
    assert "episode 1 published (720p,360p,240p)" in first.output
    again = run("vod", "demo", "--if-empty")
    assert again.exit_code == 0 and "holds 1 episode(s); no demo needed" in again.output
    assert list((run.var / "vod" / "uploads").iterdir()) == []  # generated sources are removed
    rebuilt = run("vod", "reindex")
    assert rebuilt.exit_code == 0
