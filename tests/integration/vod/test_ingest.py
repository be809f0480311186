"""Ingest with real ffprobe/ffmpeg: good files become a published ladder, bad ones a precise reason and nothing on disk."""
from __future__ import annotations

import asyncio
from datetime import date

import pytest

from vod.catalogue import CatalogueError, parse_meta
from vod.ingest import Ingest
from vod.models import Episode, IngestJob
from vod.paths import MediaPaths
from vod.probe import MediaRejected
from vod.search import search_for


@pytest.fixture
def ingest(settings, store):  # type: ignore[no-untyped-def]
    paths = MediaPaths(settings.resolved_vod_dir)
    return Ingest(store, paths, search_for(store, paths.root))


def meta(title: str = "新闻联播 内蒙古自治区冬季供暖", programme: str = "xwlb"):  # type: ignore[no-untyped-def]
    return parse_meta(programme, "2026-11-24", title, "description", "供暖,winter")


def published_dirs(ingest: Ingest) -> list[str]:
    return sorted(p.name for p in (ingest.paths.root / "episodes").iterdir())


def test_good_file_becomes_published_ladder(ingest, store, media):
    sub = ingest.submit(media["good"], meta(), "admin1", max_bytes=10 * 2**20)
    assert (sub.info.width, sub.info.height, sub.info.has_audio) == (640, 360, True)
    assert ingest.run_sync(sub.job_id) is True
    with store.session() as s:
        job = s.get(IngestJob, sub.job_id)
        episode = s.get(Episode, sub.episode_id)
        assert (job.state, job.progress, job.error) == ("done", 1.0, "")
        assert job.first_segment_at is not None and job.first_segment_at <= job.finished_at
        assert (episode.state, episode.published, episode.renditions) == ("ready", True, "360p,240p")
        assert episode.duration_s == pytest.approx(3.0, abs=0.2)
    out = ingest.paths.episode(sub.episode_id)
    master = (out / "master.m3u8").read_text()
    assert "360p/index.m3u8" in master and "240p/index.m3u8" in master and "RESOLUTION=640x360" in master
    assert (out / "thumb.jpg").read_bytes()[:2] == b"\xff\xd8"
    # keyframes forced at the same instants on every rung: segment lists line up
    lists = [(out / r / "index.m3u8").read_text() for r in ("360p", "240p")]
    assert [line for line in lists[0].splitlines() if line.startswith("#EXTINF")] == \
           [line for line in lists[1].splitlines() if line.startswith("#EXTINF")]
    assert not list((ingest.paths.root / ".work").iterdir())
    assert media["good"].exists()  # a CLI source is the editor's file: kept


def test_small_source_is_not_upscaled_beyond_the_lowest_rung(ingest, store, media):
    sub = ingest.submit(media["small"], meta(), "admin1", max_bytes=10 * 2**20)
    assert ingest.run_sync(sub.job_id)
    with store.session() as s:
        assert s.get(Episode, sub.episode_id).renditions == "240p"


@pytest.mark.parametrize(
    "name, reason",
    [
        ("audio", "no video stream: the file holds only audio (aac, 3.0 s)"),
        ("text", "not a media file: it contains text, not audio or video"),
        ("truncated", "the MP4 file is truncated or incomplete: its index (moov atom) is missing; upload the complete file"),
    ],
)
def test_bad_files_are_refused_at_submission_with_the_reason(ingest, store, media, name, reason):
    with pytest.raises(MediaRejected) as exc:
        ingest.submit(media[name], meta(), "admin1", max_bytes=10 * 2**20)
    assert str(exc.value) == reason
    with store.session() as s:
        assert s.query(Episode).count() == 0
    assert published_dirs(ingest) == []


def test_absurd_size_is_refused_before_probing(ingest, media):
    with pytest.raises(MediaRejected) as exc:
        ingest.submit(media["good"], meta(), "admin1", max_bytes=1000)
    assert str(exc.value).startswith("file too large: 0.")
    assert str(exc.value).endswith("MB, the limit is 0 MB")


def test_truncated_media_data_fails_the_job_and_publishes_nothing(ingest, store, media):
    sub = ingest.submit(media["truncated_faststart"], meta(), "admin1", max_bytes=10 * 2**20)
    assert sub.info.duration_s == pytest.approx(6.0, abs=0.2)  # the index still claims the full length
    assert ingest.run_sync(sub.job_id) is False
    with store.session() as s:
        job = s.get(IngestJob, sub.job_id)
        assert job.state == "failed"
        assert job.error.startswith("the file is truncated: its media ends at ")
        assert job.error.endswith(" of the 6.0 s it announces")
        assert s.get(Episode, sub.episode_id).state == "failed"
    assert published_dirs(ingest) == []
    assert not list((ingest.paths.root / ".work").iterdir())


def test_bad_metadata_names_the_field(ingest, media):
    with pytest.raises(CatalogueError, match="date: “24/11/2026” is not a date in the form YYYY-MM-DD"):
        parse_meta("xwlb", "24/11/2026", "t")
    with pytest.raises(CatalogueError, match="programme: unknown programme “cctv5”"):
        ingest.submit(media["good"], parse_meta("cctv5", "2026-11-24", "t"), "a", max_bytes=10 * 2**20)


def test_interrupted_job_is_redone_and_leaves_nothing_half_published(ingest, store, media):
    sub = ingest.submit(media["good"], meta(), "admin1", max_bytes=10 * 2**20)
    assert ingest.claim(sub.job_id)

    async def interrupt() -> None:
        task = asyncio.create_task(ingest.run(sub.job_id))
        work = ingest.paths.work(sub.job_id)
        for _ in range(400):  # until ffmpeg has written something
            if any(work.rglob("*.m4s")):
                break
            await asyncio.sleep(0.02)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(interrupt())
    assert published_dirs(ingest) == []
    assert not ingest.paths.work(sub.job_id).exists()
    # a crash (not a clean stop) leaves the row running: the next worker start re-queues it
    with store.session() as s:
        s.get(IngestJob, sub.job_id).state = "running"
    ingest.paths.work(sub.job_id).mkdir(parents=True)
    (ingest.paths.work(sub.job_id) / "junk.m4s").write_bytes(b"half")
    assert ingest.recover() == [sub.job_id]
    assert not ingest.paths.work(sub.job_id).exists()
    assert ingest.claim_next() == sub.job_id
    assert asyncio.run(ingest.run(sub.job_id)) is True
    with store.session() as s:
        job = s.get(IngestJob, sub.job_id)
        assert (job.state, job.attempts) == ("done", 2)
    assert published_dirs(ingest) == [str(sub.episode_id)]
