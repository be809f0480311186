"""The ingest worker as ``serve`` hosts it: on the runtime's loop, redoing interrupted jobs, then new ones."""
from __future__ import annotations

import time

from vod.catalogue import parse_meta
from vod.ingest import Ingest
from vod.models import IngestJob
from vod.paths import MediaPaths
from vod.search import search_for
from vod.worker import IngestWorker
from wangnet.runtime import Runtime


def test_worker_redoes_interrupted_job_then_runs_queued_ones(settings, store, media):
    paths = MediaPaths(settings.resolved_vod_dir)
    ingest = Ingest(store, paths, search_for(store, paths.root))
    interrupted = ingest.submit(media["small"], parse_meta("events", "2026-11-01", "重大活动 开幕式"), "a", 10**8)
    assert ingest.claim(interrupted.job_id)  # as if a previous process died mid-transcode
    paths.work(interrupted.job_id).mkdir(parents=True)
    (paths.work(interrupted.job_id) / "master.m3u8").write_text("#EXTM3U\n")
    queued = ingest.submit(media["small"], parse_meta("events", "2026-11-02", "重大活动 闭幕式"), "a", 10**8)

    runtime = Runtime([IngestWorker(ingest, poll_interval=0.1)])
    runtime.start()
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with store.session() as s:
                states = {j.id: j.state for j in s.query(IngestJob)}
            if set(states.values()) == {"done"}:
                break
            time.sleep(0.2)
    finally:
        runtime.stop()
    assert states == {interrupted.job_id: "done", queued.job_id: "done"}
    with store.session() as s:
        assert s.get(IngestJob, interrupted.job_id).attempts == 2
    assert sorted(p.name for p in (paths.root / "episodes").iterdir()) == sorted(
        [str(interrupted.episode_id), str(queued.episode_id)])
    assert not list((paths.root / ".work").iterdir())
