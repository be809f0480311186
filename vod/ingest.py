"""Ingest jobs: validate a source, queue it, transcode it into a hidden directory, publish it by rename.

A job is claimed with a conditional UPDATE (queued → running), so the
``serve`` worker and a ``wangnet vod ingest`` in another process never run the
same job. Whatever goes wrong — a bad file, ffmpeg dying, the process being
stopped — the work directory is discarded and nothing appears under
``episodes/``; jobs still ``running`` when a worker starts were interrupted
and are queued again (redone from the source, which is kept until success).
"""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select, update

from vod.catalogue import EpisodeMeta, create_episode, episode_text
from vod.ffmpeg import TranscodeError, make_thumbnail, probe_file, run_transcode
from vod.ladder import MASTER, THUMBNAIL, TranscodePlan, fit_ladder, playlist_duration
from vod.models import Episode, IngestJob, utcnow
from vod.paths import MediaPaths
from vod.probe import MediaInfo, MediaRejected, check_size
from vod.search import Search
from wangnet.store import Store

log = logging.getLogger(__name__)
PROGRESS_WRITE_INTERVAL_S = 0.5
TRUNCATION_TOLERANCE = 0.9  # output shorter than 90 % of the announced duration means the source ends early


@dataclass(frozen=True)
class Submitted:
    job_id: int
    episode_id: int
    info: MediaInfo


class Ingest:
    """Submits and runs ingest jobs against one store and one media directory."""

    def __init__(self, store: Store, paths: MediaPaths, search: Search, ffmpeg: str = "ffmpeg") -> None:
        self.store = store
        self.paths = paths
        self.search = search
        self.ffmpeg = ffmpeg
        paths.ensure()

    # ------------------------------------------------------------ submitting
    def submit(
        self,
        source: Path,
        meta: EpisodeMeta,
        created_by: str,
        max_bytes: int,
        publish: bool = True,
        delete_source: bool = False,
        is_demo: bool = False,
    ) -> Submitted:
        """Validate ``source`` (size, ffprobe) and queue a job; raises MediaRejected or CatalogueError."""
        check_size(source.stat().st_size, max_bytes)
        info = probe_file(source)
        with self.store.session() as s:
            episode = create_episode(s, meta, created_by, is_demo=is_demo)
            job = IngestJob(episode_id=episode.id, source_path=str(source.resolve()), publish=publish,
                            delete_source=delete_source, state="queued")
            s.add(job)
            s.flush()
            episode.duration_s = info.duration_s
            submitted = Submitted(job.id, episode.id, info)
            self.search.put(episode_text(episode))
        return submitted

    # ------------------------------------------------------------ claiming
    def claim_next(self) -> int | None:
        """Take the oldest queued job, or None; safe against other workers and processes."""
        with self.store.session() as s:
            for job_id in s.scalars(select(IngestJob.id).where(IngestJob.state == "queued").order_by(IngestJob.id)):
                claimed = s.execute(
                    update(IngestJob).where(IngestJob.id == job_id, IngestJob.state == "queued")
                    .values(state="running", started_at=utcnow(), progress=0.0, error="",
                            attempts=IngestJob.attempts + 1, first_segment_at=None)
                ).rowcount
                if claimed:
                    return job_id
        return None

    def claim(self, job_id: int) -> bool:
        with self.store.session() as s:
            return bool(s.execute(
                update(IngestJob).where(IngestJob.id == job_id, IngestJob.state == "queued")
                .values(state="running", started_at=utcnow(), progress=0.0, error="", attempts=IngestJob.attempts + 1)
            ).rowcount)

    def recover(self) -> list[int]:
        """Queue again the jobs a previous process left running, and clear their half-made output."""
        with self.store.session() as s:
            ids = list(s.scalars(select(IngestJob.id).where(IngestJob.state == "running")))
            if ids:
                s.execute(update(IngestJob).where(IngestJob.id.in_(ids)).values(state="queued", progress=0.0))
        for job_id in ids:
            self.paths.discard(self.paths.work(job_id))
        if ids:
            log.warning("vod: re-queued interrupted ingest jobs %s", ids)
        return ids

    # ------------------------------------------------------------ running
    async def run(self, job_id: int) -> bool:
        """Run a claimed job to the end; True when published. Never raises for a bad file."""
        with self.store.session() as s:
            job = s.get(IngestJob, job_id)
            if job is None:
                return False
            source, episode_id, publish, delete_source = (
                Path(job.source_path), job.episode_id, job.publish, job.delete_source)
        work = self.paths.work(job_id)
        self.paths.discard(work)
        work.mkdir(parents=True)
        try:
            info = await asyncio.to_thread(probe_file, source)
            plan = TranscodePlan(str(source), str(work), tuple(fit_ladder(info.height)), info.has_audio)
            reporter = _ProgressWriter(self.store, job_id, work)
            warnings = await run_transcode(plan, info.duration_s, reporter, self.ffmpeg)
            reporter.flush()
            await make_thumbnail(str(source), work / THUMBNAIL, info.duration_s, self.ffmpeg)
            duration = verify_output(work, [r.name for r in plan.rungs], info.duration_s, warnings)
        except asyncio.CancelledError:
            self.paths.discard(work)
            with self.store.session() as s:
                s.execute(update(IngestJob).where(IngestJob.id == job_id).values(state="queued", progress=0.0))
            raise
        except (MediaRejected, TranscodeError, OSError) as exc:
            self.paths.discard(work)
            self._fail(job_id, episode_id, str(exc))
            if delete_source:
                source.unlink(missing_ok=True)
            return False
        self.paths.publish(work, episode_id)
        with self.store.session() as s:
            job = s.get(IngestJob, job_id)
            episode = s.get(Episode, episode_id)
            assert job is not None and episode is not None
            episode.state = "ready"
            episode.duration_s = duration
            episode.renditions = ",".join(r.name for r in plan.rungs)
            episode.published = publish
            job.state, job.progress, job.finished_at = "done", 1.0, utcnow()
            self.search.put(episode_text(episode))
        if delete_source:
            source.unlink(missing_ok=True)
        log.info("vod: job %s published episode %s (%s)", job_id, episode_id, plan.rungs)
        return True

    def run_sync(self, job_id: int) -> bool:
        """For the command line: claim and run one job in this process."""
        if not self.claim(job_id):
            return False
        return asyncio.run(self.run(job_id))

    def _fail(self, job_id: int, episode_id: int, reason: str) -> None:
        log.warning("vod: job %s failed: %s", job_id, reason)
        with self.store.session() as s:
            job = s.get(IngestJob, job_id)
            episode = s.get(Episode, episode_id)
            if job is not None:
                job.state, job.error, job.finished_at = "failed", reason, utcnow()
            if episode is not None and episode.state != "ready":
                episode.state = "failed"


def verify_output(work: Path, rung_names: list[str], announced_s: float, warnings: str) -> float:
    """The published duration; refuses a ladder that is incomplete or shorter than the source claims."""
    if not (work / MASTER).exists():
        raise TranscodeError("ffmpeg wrote no master playlist")
    durations = []
    for name in rung_names:
        playlist = work / name / "index.m3u8"
        if not playlist.exists():
            raise TranscodeError(f"ffmpeg wrote no playlist for {name}")
        text = playlist.read_text()
        if "#EXT-X-ENDLIST" not in text:
            raise TranscodeError(f"the {name} playlist is unfinished")
        durations.append(playlist_duration(text))
    duration = min(durations)
    if announced_s and duration < announced_s * TRUNCATION_TOLERANCE - 0.5:
        raise MediaRejected(
            f"the file is truncated: its media ends at {duration:.1f} s of the {announced_s:.1f} s it announces"
        )
    if "partial file" in warnings and announced_s and duration < announced_s - 0.5:
        raise MediaRejected(f"the file is truncated: ffmpeg read only {duration:.1f} s of {announced_s:.1f} s")
    return duration


class _ProgressWriter:
    """Turns ffmpeg progress into job rows, at most twice a second, and notes the first playable segment."""

    def __init__(self, store: Store, job_id: int, work: Path) -> None:
        self.store = store
        self.job_id = job_id
        self.work = work
        self.last_write = 0.0
        self.value = 0.0
        self.first_segment_seen = False

    def __call__(self, fraction: float) -> None:
        self.value = fraction
        now = time.monotonic()
        if now - self.last_write >= PROGRESS_WRITE_INTERVAL_S:
            self.flush()

    def flush(self) -> None:
        self.last_write = time.monotonic()
        values: dict[str, object] = {"progress": min(self.value, 0.99)}
        if not self.first_segment_seen and self._first_segment_ready():
            self.first_segment_seen = True
            values["first_segment_at"] = utcnow()
        with self.store.session() as s:
            s.execute(update(IngestJob).where(IngestJob.id == self.job_id).values(**values))

    def _first_segment_ready(self) -> bool:
        # ffmpeg writes the playlists of a VOD ladder only at the end, but an fMP4 segment file
        # appears only once the segment is complete (measured): its presence means playable.
        return any(self.work.glob("*/seg_00000.m4s"))
