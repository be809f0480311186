"""Progressive publishing with real ffmpeg: an episode plays from its first segments while its job still runs.

The source is read at 2× real time (ffmpeg ``-readrate``), so a 20 s clip keeps
its job running for at least 10 s whatever the machine's speed (a slow machine
only makes it longer), while the first 4 s segment of every rung is out after
~2 s: the test checks that the job is still running, it does not guess timing. Everything else is the real pipeline and the real app.
"""
from __future__ import annotations

import asyncio
import re
import threading
import time

import pytest

from tests.conftest import SAMPLE_INVENTORY, TEST_PASSWORD, login
from vod.catalogue import parse_meta
from vod.demo import make_source
from vod.ingest import Ingest
from vod.models import Episode, IngestJob
from vod.paths import MediaPaths
from vod.search import search_for
from wangnet import accounts
from wangnet.config import load_settings
from wangnet.store import Store

READ_RATE = 2.0
DEADLINE_S = 180  # generous: two cores shared with other engineers' suites


@pytest.fixture(scope="module")
def sources(tmp_path_factory, ffmpeg_available):  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("progressive-src")
    long = make_source(root / "long.mp4", 20, width=640, height=360)
    faststart = make_source(root / "long-faststart.mp4", 20, width=320, height=180, faststart=True)
    cut = root / "cut.mp4"  # the index announces 20 s, the media data stops after ~12 s
    cut.write_bytes(faststart.read_bytes()[: int(faststart.stat().st_size * 0.6)])
    return {"long": long, "cut": cut}


@pytest.fixture
def env(tmp_path):  # type: ignore[no-untyped-def]
    from web.app import create_app

    settings = load_settings(environ={}, var_dir=tmp_path / "var", inventory_path=SAMPLE_INVENTORY, secret_key="k",
                             login_rate_limit="1000 per minute")
    store = Store.from_settings(settings)
    store.upgrade()
    paths = MediaPaths(settings.resolved_vod_dir)
    ingest = Ingest(store, paths, search_for(store, paths.root), read_rate=READ_RATE)
    app = create_app(settings, store=store)
    app.config["TESTING"] = True
    with store.session() as s:
        accounts.create_user(s, "prog-staff", TEST_PASSWORD, ["staff"])
        accounts.create_user(s, "prog-admin", TEST_PASSWORD, ["admin"])
    yield {"app": app, "store": store, "ingest": ingest, "paths": paths}
    store.dispose()


def staff_client(env, user: str = "prog-staff"):  # type: ignore[no-untyped-def]
    client = env["app"].test_client()
    assert login(client, user).status_code == 302
    return client


def run_in_thread(ingest: Ingest, job_id: int) -> tuple[threading.Thread, dict]:
    result: dict = {}

    def target() -> None:
        result["ok"] = asyncio.run(ingest.run(job_id))

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, result


def states(store: Store, job_id: int, episode_id: int) -> tuple[str, str, bool]:
    with store.session() as s:
        job, episode = s.get(IngestJob, job_id), s.get(Episode, episode_id)
        return job.state, episode.state, episode.published


def wait_for(predicate, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def box_type(data: bytes) -> bytes:
    return data[4:8]


def test_first_segments_are_served_while_the_job_runs_then_the_playlist_ends(env, sources):
    ingest, store = env["ingest"], env["store"]
    sub = ingest.submit(sources["long"], parse_meta("xwlb", "2026-11-25", "新闻联播 边转边看"), "admin", 2**30)
    assert ingest.claim(sub.job_id)
    thread, result = run_in_thread(ingest, sub.job_id)
    staff = staff_client(env)
    base = f"/vod/media/{sub.episode_id}"

    wait_for(lambda: states(store, sub.job_id, sub.episode_id)[1] == "watchable", "the episode to become watchable")
    master = staff.get(f"{base}/master.m3u8")
    assert master.status_code == 200, master.status_code
    assert "360p/index.m3u8" in master.get_data(as_text=True) and "240p/index.m3u8" in master.get_data(as_text=True)
    playlist = staff.get(f"{base}/240p/index.m3u8")
    text = playlist.get_data(as_text=True)
    assert playlist.status_code == 200 and playlist.mimetype == "application/vnd.apple.mpegurl"
    assert "#EXT-X-PLAYLIST-TYPE:EVENT" in text and "#EXT-X-ENDLIST" not in text
    assert playlist.headers["Cache-Control"] == "private, no-cache"  # it grows: never cached
    init_name = re.search(r'#EXT-X-MAP:URI="([^"]+)"', text).group(1)
    first = [line for line in text.splitlines() if line and not line.startswith("#")][0]
    init = staff.get(f"{base}/240p/{init_name}")
    segment = staff.get(f"{base}/240p/{first}")
    assert init.status_code == 200 and box_type(init.data) == b"ftyp" and b"moov" in init.data
    assert segment.status_code == 200 and segment.mimetype == "video/iso.segment"
    assert box_type(segment.data) in (b"styp", b"moof") and b"mdat" in segment.data
    page = staff.get(f"/vod/episodes/{sub.episode_id}").get_data(as_text=True)
    assert 'data-growing="1"' in page and "处理中 — 可观看" in page
    assert "处理中 — 可观看" in staff.get("/vod").get_data(as_text=True)
    # all of that while ffmpeg was still at work
    assert states(store, sub.job_id, sub.episode_id)[0] == "running"
    assert thread.is_alive()

    thread.join(DEADLINE_S)
    assert result == {"ok": True}
    assert states(store, sub.job_id, sub.episode_id) == ("done", "ready", True)
    final = staff.get(f"{base}/240p/index.m3u8").get_data(as_text=True)
    assert final.rstrip().endswith("#EXT-X-ENDLIST") and "#EXT-X-PLAYLIST-TYPE:VOD" in final
    assert staff.get(f"{base}/240p/{first}").data == segment.data  # the same bytes, now from episodes/
    assert not list((env["paths"].root / ".work").iterdir())
    with store.session() as s:
        job = s.get(IngestJob, sub.job_id)
        assert job.started_at < job.first_segment_at < job.finished_at


def test_a_job_failing_after_it_became_watchable_withdraws_the_episode(env, sources):
    ingest, store = env["ingest"], env["store"]
    sub = ingest.submit(sources["cut"], parse_meta("xwlb", "2026-11-25", "截断 边转边看"), "admin", 2**30)
    assert sub.info.duration_s == pytest.approx(20, abs=0.3)
    assert ingest.claim(sub.job_id)
    thread, result = run_in_thread(ingest, sub.job_id)
    staff = staff_client(env)
    wait_for(lambda: states(store, sub.job_id, sub.episode_id)[1] == "watchable", "the episode to become watchable")
    assert staff.get(f"/vod/media/{sub.episode_id}/master.m3u8").status_code == 200
    thread.join(DEADLINE_S)
    assert result == {"ok": False}
    assert states(store, sub.job_id, sub.episode_id) == ("failed", "failed", False)
    assert staff.get(f"/vod/media/{sub.episode_id}/master.m3u8").status_code == 404
    assert staff.get(f"/vod/episodes/{sub.episode_id}").status_code == 302
    assert 'data-episode="' not in staff.get("/vod").get_data(as_text=True)
    assert not list((env["paths"].root / ".work").iterdir())
    assert not env["paths"].episode(sub.episode_id).exists()
    # the uploader reads why: English and the code in the API, the message in the page's language
    admin = staff_client(env, "prog-admin")
    row = admin.get(f"/api/v1/vod/jobs?id={sub.job_id}").get_json()[0]
    assert row["error_code"] == "media.truncated"
    assert row["error"].startswith("the file is truncated: its media ends at ")
    assert row["message"].startswith("文件被截断：文件声明时长 20.0 秒，但媒体数据在 ")
    assert row["message"] in admin.get("/vod").get_data(as_text=True)


def test_a_stopped_or_crashed_job_withdraws_the_episode_until_it_is_redone(env, sources):
    ingest, store = env["ingest"], env["store"]
    sub = ingest.submit(sources["long"], parse_meta("xwlb", "2026-11-25", "中断 边转边看"), "admin", 2**30)
    assert ingest.claim(sub.job_id)

    async def stop_when_watchable() -> None:
        task = asyncio.create_task(ingest.run(sub.job_id))
        deadline = time.monotonic() + DEADLINE_S
        while states(store, sub.job_id, sub.episode_id)[1] != "watchable":
            assert time.monotonic() < deadline and not task.done()
            await asyncio.sleep(0.1)
        task.cancel()  # what stopping `wangnet serve` does to the worker
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(stop_when_watchable())
    assert states(store, sub.job_id, sub.episode_id) == ("queued", "processing", False)
    assert not ingest.paths.work(sub.job_id).exists()
    assert staff_client(env).get(f"/vod/media/{sub.episode_id}/master.m3u8").status_code == 404
    # a crash leaves the rows as they were while it was watchable: the next start withdraws and re-queues it
    with store.session() as s:
        s.get(IngestJob, sub.job_id).state = "running"
        episode = s.get(Episode, sub.episode_id)
        episode.state, episode.published = "watchable", True
    ingest.paths.work(sub.job_id).mkdir(parents=True)
    (ingest.paths.work(sub.job_id) / "master.m3u8").write_text("#EXTM3U\n")
    assert ingest.recover() == [sub.job_id]
    assert states(store, sub.job_id, sub.episode_id) == ("queued", "processing", False)
    assert not ingest.paths.work(sub.job_id).exists()
