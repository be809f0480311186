"""The ingest worker hosted by ``wangnet serve``: one transcode at a time (two cores are shared)."""
from __future__ import annotations

import asyncio
import contextlib
import logging

from vod.ingest import Ingest
from vod.paths import MediaPaths
from vod.search import search_for
from wangnet.config import Settings
from wangnet.store import Store

log = logging.getLogger(__name__)


class IngestWorker:
    """Runtime service: re-queues interrupted jobs at start, then polls the store for queued ones."""

    name = "vod-ingest"

    def __init__(self, ingest: Ingest, poll_interval: float = 1.0) -> None:
        self.ingest = ingest
        self.poll_interval = poll_interval
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def from_settings(cls, settings: Settings, store: Store) -> "IngestWorker":
        paths = MediaPaths(settings.resolved_vod_dir)
        return cls(Ingest(store, paths, search_for(store, paths.root)))

    async def start(self) -> None:
        self.ingest.recover()
        self._task = asyncio.create_task(self._loop(), name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        while True:
            try:
                job_id = await asyncio.to_thread(self.ingest.claim_next)
                if job_id is not None:
                    await self.ingest.run(job_id)
                    continue
            except asyncio.CancelledError:
                raise
            except Exception:  # a store hiccup must not end the worker
                log.exception("vod: ingest worker error")
            await asyncio.sleep(self.poll_interval)
