"""Ingest jobs: validate a source, queue it, transcode it into a work directory, publish it by rename.

Publishing is progressive: ffmpeg writes EVENT playlists into ``.work/job-N/``
as segments complete, and once the master playlist and the first segment of
every rung are there the episode becomes ``watchable`` (served from the work
directory, shown to staff as "processing — watchable"). When the job ends the
playlists are turned into VOD ones (``#EXT-X-ENDLIST``) and the directory is
renamed to ``episodes/<id>/``; the episode is then ``ready``.

A job is claimed with a conditional UPDATE (queued → running), so the
``serve`` worker and a ``wangnet vod ingest`` in another process never run the
same job. Whatever goes wrong — a bad file, ffmpeg dying, the process being
stopped — the work directory is discarded, a watchable episode is withdrawn
(back to ``processing``, or ``failed``) and nothing appears under
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
from vod.ladder import (MASTER, THUMBNAIL, TranscodePlan, finalise_playlist, fit_ladder, init_name, playlist_duration,
                        rung_playable)
from vod.models import Episode, IngestJob, utcnow
from vod.paths import MediaPaths
from vod.probe import MediaInfo, MediaRejected, check_size
from vod.reasons import Reason, Refused
from vod.search import Search
from wangnet.store import Store

log = logging.getLogger(__name__)
PROGRESS_WRITE_INTERVAL_S = 0.5
# a claimed job starts afresh: no progress, no error, not yet watchable
CLAIMED = {"state": "running", "progress": 0.0, "error": "", "error_code": "", "error_params": "{}",
           "first_segment_at": None}
TRUNCATION_TOLERANCE = 0.9  # output shorter than 90 % of the announced duration means the source ends early


@dataclass(frozen=True)
class Submitted:
    job_id: int
    episode_id: int
    info: MediaInfo


class Ingest:
    """Submits and runs ingest jobs against one store and one media directory."""

    def __init__(self, store: Store, paths: MediaPaths, search: Search, ffmpeg: str = "ffmpeg",
                 read_rate: float | None = None) -> None:
        self.store = store
        self.paths = paths
        self.search = search
        self.ffmpeg = ffmpeg
        self.read_rate = read_rate  # see TranscodePlan.read_rate: only tests slow the source down
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
                    .values(started_at=utcnow(), attempts=IngestJob.attempts + 1, **CLAIMED)
                ).rowcount
                if claimed:
                    return job_id
        return None

    def claim(self, job_id: int) -> bool:
        with self.store.session() as s:
            return bool(s.execute(
                update(IngestJob).where(IngestJob.id == job_id, IngestJob.state == "queued")
                .values(started_at=utcnow(), attempts=IngestJob.attempts + 1, **CLAIMED)
            ).rowcount)

    def recover(self) -> list[int]:
        """Queue again the jobs a previous process left running, and clear their half-made output."""
        with self.store.session() as s:
            ids = list(s.scalars(select(IngestJob.id).where(IngestJob.state == "running")))
            if ids:
                s.execute(update(IngestJob).where(IngestJob.id.in_(ids))
                          .values(state="queued", progress=0.0, first_segment_at=None))
                episodes = select(IngestJob.episode_id).where(IngestJob.id.in_(ids))
                _withdraw(s, episodes, "processing")
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
            source, episode_id, delete_source = Path(job.source_path), job.episode_id, job.delete_source
        work = self.paths.work(job_id)
        self.paths.discard(work)
        work.mkdir(parents=True)
        try:
            info = await asyncio.to_thread(probe_file, source)
            plan = TranscodePlan(str(source), str(work), tuple(fit_ladder(info.height)), info.has_audio,
                                 read_rate=self.read_rate)
            reporter = _ProgressWriter(self.store, job_id, episode_id, work, [r.name for r in plan.rungs])
            warnings = await run_transcode(plan, info.duration_s, reporter, self.ffmpeg)
            reporter.flush()
            await make_thumbnail(str(source), work / THUMBNAIL, info.duration_s, self.ffmpeg)
            duration = verify_output(work, [r.name for r in plan.rungs], info.duration_s, warnings)
            finalise_playlists(work, [r.name for r in plan.rungs])
        except asyncio.CancelledError:  # out of view first, then the files
            with self.store.session() as s:
                s.execute(update(IngestJob).where(IngestJob.id == job_id)
                          .values(state="queued", progress=0.0, first_segment_at=None))
                _withdraw(s, [episode_id], "processing")
            self.paths.discard(work)
            raise
        except (MediaRejected, TranscodeError, OSError) as exc:  # out of view first, then the files
            reason = exc.reason if isinstance(exc, Refused) else \
                Reason("file.unreadable", {"detail": exc.strerror or str(exc)})
            self._fail(job_id, episode_id, reason)
            self.paths.discard(work)
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
            episode.published = job.publish  # an admin may have changed it while the job ran
            job.state, job.progress, job.finished_at = "done", 1.0, utcnow()
            if job.first_segment_at is None:  # too short for the progress writer to notice it earlier
                job.first_segment_at = job.finished_at
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

    def _fail(self, job_id: int, episode_id: int, reason: Reason) -> None:
        log.warning("vod: job %s failed: %s", job_id, reason)
        with self.store.session() as s:
            job = s.get(IngestJob, job_id)
            episode = s.get(Episode, episode_id)
            if job is not None:
                job.state, job.error, job.finished_at = "failed", reason.english, utcnow()
                job.error_code, job.error_params = reason.code, reason.params_json()
            if episode is not None and episode.state != "ready":
                episode.state = "failed"
                episode.published = False  # it may have been watchable from the work directory


def _withdraw(session, episode_ids, state: str) -> None:  # type: ignore[no-untyped-def]
    """Take episodes that were only watchable (their job stopped) out of view."""
    session.execute(update(Episode).where(Episode.id.in_(episode_ids), Episode.state == "watchable")
                    .values(state=state, published=False))


def ladder_watchable(work: Path, rung_names: list[str]) -> bool:
    """True once the master playlist exists and every rung's playlist lists a segment whose init file is there."""
    if not (work / MASTER).exists():
        return False
    for name in rung_names:
        try:
            text = (work / name / "index.m3u8").read_text(encoding="utf-8")
        except OSError:
            return False
        init = init_name(text)
        if not rung_playable(text, init is not None and (work / name / init).exists()):
            return False
    return True


def finalise_playlists(work: Path, rung_names: list[str]) -> None:
    """Rewrite each finished EVENT playlist as VOD, each by a rename so a reader never sees half a file."""
    for name in rung_names:
        playlist = work / name / "index.m3u8"
        staged = playlist.with_name("index.m3u8.final")
        staged.write_text(finalise_playlist(playlist.read_text(encoding="utf-8")), encoding="utf-8")
        staged.replace(playlist)


def verify_output(work: Path, rung_names: list[str], announced_s: float, warnings: str) -> float:
    """The published duration; refuses a ladder that is incomplete or shorter than the source claims."""
    if not (work / MASTER).exists():
        raise TranscodeError("transcode.no_master")
    durations = []
    for name in rung_names:
        playlist = work / name / "index.m3u8"
        if not playlist.exists():
            raise TranscodeError("transcode.no_playlist", rung=name)
        text = playlist.read_text()
        if "#EXT-X-ENDLIST" not in text:
            raise TranscodeError("transcode.unfinished_playlist", rung=name)
        durations.append(playlist_duration(text))
    duration = min(durations)
    if announced_s and duration < announced_s * TRUNCATION_TOLERANCE - 0.5:
        raise MediaRejected("media.truncated", seconds=duration, announced=announced_s)
    if "partial file" in warnings and announced_s and duration < announced_s - 0.5:
        raise MediaRejected("media.truncated_partial", seconds=duration, announced=announced_s)
    return duration


class _ProgressWriter:
    """Turns ffmpeg progress into job rows, at most twice a second, and opens the episode once it is watchable."""

    def __init__(self, store: Store, job_id: int, episode_id: int, work: Path, rung_names: list[str]) -> None:
        self.store = store
        self.job_id = job_id
        self.episode_id = episode_id
        self.work = work
        self.rung_names = rung_names
        self.last_write = 0.0
        self.value = 0.0
        self.watchable = False

    def __call__(self, fraction: float) -> None:
        self.value = fraction
        now = time.monotonic()
        if now - self.last_write >= PROGRESS_WRITE_INTERVAL_S:
            self.flush()

    def flush(self) -> None:
        self.last_write = time.monotonic()
        opening = not self.watchable and ladder_watchable(self.work, self.rung_names)
        with self.store.session() as s:
            s.execute(update(IngestJob).where(IngestJob.id == self.job_id)
                      .values(progress=min(self.value, 0.99)))
            if opening:
                job = s.get(IngestJob, self.job_id)
                episode = s.get(Episode, self.episode_id)
                if job is not None and episode is not None and job.state == "running" \
                        and episode.state == "processing":
                    job.first_segment_at = utcnow()
                    episode.state = "watchable"  # served from the work directory until the job ends
                    episode.published = job.publish
                    episode.renditions = ",".join(self.rung_names)
                    self.watchable = True
                    log.info("vod: episode %s watchable while job %s runs", self.episode_id, self.job_id)
