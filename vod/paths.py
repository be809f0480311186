"""Where VOD keeps files under ``vod_dir``; publishing is a rename inside one filesystem.

    episodes/<id>/      published ladder (master.m3u8, <rung>/index.m3u8, segments, thumb.jpg)
    .work/job-<id>/     a transcode in progress; never served, removed on failure or restart
    uploads/            sources received over the web, deleted once their job succeeds
    .trash/             directories being removed (renamed first so nothing is half-visible)
"""
from __future__ import annotations

import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class MediaPaths:
    root: Path

    def episode(self, episode_id: int) -> Path:
        return self.root / "episodes" / str(int(episode_id))

    def work(self, job_id: int) -> Path:
        return self.root / ".work" / f"job-{int(job_id)}"

    @property
    def uploads(self) -> Path:
        return self.root / "uploads"

    @property
    def trash(self) -> Path:
        return self.root / ".trash"

    def ensure(self) -> None:
        for d in (self.root / "episodes", self.root / ".work", self.uploads, self.trash):
            d.mkdir(parents=True, exist_ok=True)

    def discard(self, path: Path) -> None:
        """Remove a directory so that it vanishes at once (rename), then delete it at leisure."""
        if not path.exists():
            return
        self.trash.mkdir(parents=True, exist_ok=True)
        doomed = self.trash / f"{path.name}-{uuid.uuid4().hex[:8]}"
        path.rename(doomed)
        shutil.rmtree(doomed, ignore_errors=True)

    def publish(self, work_dir: Path, episode_id: int) -> Path:
        """Move a finished ladder into place atomically; a previous version is discarded after the swap."""
        target = self.episode(episode_id)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            old = self.trash / f"{episode_id}-old-{uuid.uuid4().hex[:8]}"
            self.trash.mkdir(parents=True, exist_ok=True)
            target.rename(old)
            work_dir.rename(target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            work_dir.rename(target)
        return target
