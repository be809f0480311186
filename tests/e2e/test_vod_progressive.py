"""hls.js in headless Chromium plays an episode from its first segment while ffmpeg is still converting it.

The app runs in a real waitress in this process; the ingest job runs beside it
with its source read at real time (ffmpeg ``-readrate 1``), so a 30 s clip
keeps the job running for at least 30 s whatever the machine's speed. The test
asserts the job is still running once the video has played 3 s from the start.
"""
from __future__ import annotations

import asyncio
import threading
import time

import pytest

from tests.conftest import SAMPLE_INVENTORY
from tests.e2e.conftest import ARTIFACTS
from vod.catalogue import parse_meta
from vod.demo import make_source
from vod.ingest import Ingest
from vod.models import Episode, IngestJob
from vod.paths import MediaPaths
from vod.search import search_for
from wangnet import accounts
from wangnet.config import PROJECT_ROOT, load_settings
from wangnet.store import Store

pytestmark = pytest.mark.e2e
PASSWORD = "e2e progressive password 1"
HLS_JS = PROJECT_ROOT / "web" / "static" / "vendor" / "hls.min.js"


@pytest.fixture
def growing(tmp_path, chromium_path):  # type: ignore[no-untyped-def]
    import waitress
    from waitress import wasyncore

    from web.app import create_app

    if not HLS_JS.exists():
        pytest.fail(f"{HLS_JS} missing: `make setup` copies hls.js from npm into web/static/vendor/")
    settings = load_settings(environ={}, var_dir=tmp_path / "var", inventory_path=SAMPLE_INVENTORY, secret_key="k",
                             login_rate_limit="1000 per minute")
    store = Store.from_settings(settings)
    store.upgrade()
    paths = MediaPaths(settings.resolved_vod_dir)
    ingest = Ingest(store, paths, search_for(store, paths.root), read_rate=1.0)
    with store.session() as s:
        accounts.create_user(s, "grow-staff", PASSWORD, ["staff"])
    source = make_source(tmp_path / "src.mp4", 30, width=640, height=360, caption="边转边看")
    sub = ingest.submit(source, parse_meta("xwlb", "2026-11-25", "新闻联播 边转边看"), "admin", 2**30)
    assert ingest.claim(sub.job_id)
    result: dict = {}
    job = threading.Thread(target=lambda: result.update(ok=asyncio.run(ingest.run(sub.job_id))), daemon=True)
    job.start()
    server = waitress.create_server(create_app(settings, store=store), host="127.0.0.1", port=0, threads=8)
    serving = threading.Thread(target=server.run, daemon=True)
    serving.start()

    def states() -> tuple[str, str]:
        with store.session() as s:
            return s.get(IngestJob, sub.job_id).state, s.get(Episode, sub.episode_id).state

    try:
        yield {"url": f"http://127.0.0.1:{server.effective_port}", "episode": sub.episode_id, "states": states,
               "job": job, "result": result}
    finally:
        job.join(300)  # the ingest's own cleanup (rename into episodes/) finishes before the store goes
        server.trigger.pull_trigger(lambda: wasyncore.close_all(server._map))
        serving.join(30)
        server.task_dispatcher.shutdown()
        store.dispose()


def test_episode_plays_from_the_start_while_it_is_still_converted(growing, page):
    deadline = time.monotonic() + 180
    while growing["states"]()[1] != "watchable":
        assert time.monotonic() < deadline, f"never watchable: {growing['states']()}"
        assert growing["job"].is_alive(), growing["result"]
        time.sleep(0.2)
    page.goto(f"{growing['url']}/login")
    page.fill("input[name=username]", "grow-staff")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("#logout")
    page.goto(f"{growing['url']}/vod")
    assert page.locator(f"[data-watchable='{growing['episode']}']").inner_text() == "处理中 — 可观看"
    page.goto(f"{growing['url']}/vod/episodes/{growing['episode']}")
    page.evaluate("() => { const v = document.getElementById('vod-video'); v.muted = true; v.play().catch(() => {}); }")
    page.wait_for_function("() => document.getElementById('vod-video').currentTime > 3", timeout=90_000)
    state = page.evaluate("() => ({errors: window.vodPlayer.errors, sns: window.vodPlayer.fragments.map(f => f.sn)})")
    assert growing["states"]() == ("running", "watchable")  # played while ffmpeg was still at work
    page.screenshot(path=str(ARTIFACTS / "vod-growing.png"))
    assert state["sns"][0] == 0, state  # from the beginning, not the live edge of the EVENT playlist
    assert all(not e["fatal"] for e in state["errors"]), state["errors"]
    growing["job"].join(300)
    assert growing["result"] == {"ok": True} and growing["states"]() == ("done", "ready")
