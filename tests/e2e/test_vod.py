"""News on demand in Debian's headless Chromium: real server, real ffmpeg output, real hls.js.

The server gets a demo episode made by ``wangnet vod demo`` (720p/360p/240p
ladder) and a staff user. One test plays it and checks that time advances
without player errors; one throttles the browser to 2 Mbit/s through the
DevTools protocol and checks that hls.js never fetches the 720p rung.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import ARTIFACTS, _free_port, _wait_for_port
from wangnet.config import PROJECT_ROOT

pytestmark = pytest.mark.e2e
PASSWORD = "e2e vod password 1"
HLS_JS = PROJECT_ROOT / "web" / "static" / "vendor" / "hls.min.js"


@pytest.fixture(scope="module")
def vod_server(tmp_path_factory, chromium_path):  # type: ignore[no-untyped-def]
    if not HLS_JS.exists():
        pytest.fail(f"{HLS_JS} missing: `make setup` copies hls.js from npm into web/static/vendor/")
    var = tmp_path_factory.mktemp("e2e-vod")
    env = {**os.environ, "WANGNET_VAR_DIR": str(var), "WANGNET_INVENTORY": str(PROJECT_ROOT / "inventory.yaml"),
           "WANGNET_SIP_PORT": str(_free_port())}
    wangnet = str(Path(sys.executable).with_name("wangnet"))
    (var / "pw").write_text(PASSWORD + "\n")
    for name, role in (("staff1", "staff"), ("admin1", "admin")):
        subprocess.run([wangnet, "user", "add", name, "--role", role, "--password-file", str(var / "pw")],
                       env=env, check=True, capture_output=True)
    demo = subprocess.run([wangnet, "vod", "demo", "--count", "1", "--seconds", "12"], env=env,
                          capture_output=True, text=True, timeout=240)
    assert demo.returncode == 0, demo.stderr
    assert "published (720p,360p,240p)" in demo.stdout
    port = _free_port()
    log = open(var / "serve.log", "wb")
    proc = subprocess.Popen([wangnet, "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_for_port(port, proc, time.monotonic() + 60)
        yield {"url": f"http://127.0.0.1:{port}", "log": var / "serve.log", "var": var}
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _login(page, base: str, user: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{base}/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("#logout")


def _login_and_open_first_episode(page, base: str, screenshot: str | None = None) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{base}/login")
    page.fill("input[name=username]", "staff1")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.goto(f"{base}/vod")
    if screenshot:
        page.screenshot(path=str(ARTIFACTS / screenshot))
    page.locator("#vod-episodes .vod-card h2 a").first.click()
    page.wait_for_selector("#vod-video")
    # headless Chromium allows autoplay only when muted
    page.evaluate("() => { const v = document.getElementById('vod-video'); v.muted = true; v.play().catch(() => {}); }")


def _player_state(page):  # type: ignore[no-untyped-def]
    return page.evaluate("() => ({errors: window.vodPlayer.errors, offered: window.vodPlayer.offered,"
                         " fragments: window.vodPlayer.fragments.map(f => ({level: f.level, url: f.url})),"
                         " levels: window.vodPlayer.hls ? window.vodPlayer.hls.levels.map(l => l.height) : [],"
                         " time: document.getElementById('vod-video').currentTime})")


def test_episode_plays_and_time_advances_without_player_errors(vod_server, page):
    _login_and_open_first_episode(page, vod_server["url"], screenshot="vod-catalogue.png")
    page.wait_for_function("() => document.getElementById('vod-video').currentTime > 2", timeout=60_000)
    state = _player_state(page)
    page.screenshot(path=str(ARTIFACTS / "vod-player.png"))
    # A stall (the buffer ran dry: on this shared 2-core machine under load, seen at load average ~17) is
    # reported by hls.js as a non-fatal bufferStalledError and recovered by itself; anything else is an error.
    assert [e for e in state["errors"] if e["details"] != "bufferStalledError" or e["fatal"]] == [], state["errors"]
    assert sorted(state["offered"]) == [240, 360, 720]
    assert page.locator("#vod-level").inner_text().endswith("kbit/s")


def test_client_limited_to_2_mbit_never_fetches_the_720p_rung(vod_server, page):
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    rate = 2_000_000 / 8  # bytes per second
    cdp.send("Network.emulateNetworkConditions",
             {"offline": False, "latency": 40, "downloadThroughput": rate, "uploadThroughput": rate})
    _login_and_open_first_episode(page, vod_server["url"])
    # past the second segment boundary, so the ABR controller has measured the link and decided again
    page.wait_for_function("() => document.getElementById('vod-video').currentTime > 5", timeout=90_000)
    state = _player_state(page)
    heights = [state["levels"][f["level"]] for f in state["fragments"]]
    assert state["errors"] == [] or all(not e["fatal"] for e in state["errors"]), state["errors"]
    assert sorted(state["offered"]) == [240, 360, 720]  # 720p was on offer (off-network, no site cap) ...
    assert len(heights) >= 2
    assert 720 not in heights, heights  # ... but a 2 Mbit/s link never fetched it
    assert heights[0] == 240, heights  # and playback started on the low rung
    assert all("/720p/" not in f["url"] for f in state["fragments"])


def test_admin_uploads_with_progress_and_the_worker_publishes(vod_server, page):
    from vod.demo import make_source

    clip = make_source(vod_server["var"] / "upload" / "clip.mp4", 3, width=320, height=180, caption="上传")
    _login(page, vod_server["url"], "admin1")
    page.goto(f"{vod_server['url']}/vod/upload")
    page.select_option("select[name=programme]", "ordosxw")
    page.fill("input[name=date]", "2026-11-23")
    page.fill("input[name=title]", "鄂尔多斯新闻 浏览器上传")
    page.set_input_files("input[name=file]", str(clip))
    page.click("#vod-upload button[type=submit]")
    page.wait_for_selector("#vod-done:not([hidden])", timeout=120_000)
    assert page.locator("#vod-bar").evaluate("b => b.value") == 1
    assert page.locator("#vod-upload-error").inner_text() == ""
    page.screenshot(path=str(ARTIFACTS / "vod-upload.png"))
    page.click("#vod-done-link")
    page.wait_for_selector("#vod-video")
    assert "鄂尔多斯新闻 浏览器上传" in page.locator("h1").inner_text()


def test_admin_upload_of_a_text_file_shows_the_reason(vod_server, page):
    bad = vod_server["var"] / "upload" / "notes.mp4"
    bad.parent.mkdir(exist_ok=True)
    bad.write_text("not a video\n")
    _login(page, vod_server["url"], "admin1")
    page.goto(f"{vod_server['url']}/vod/upload")
    page.fill("input[name=date]", "2026-11-23")
    page.fill("input[name=title]", "坏文件")
    page.set_input_files("input[name=file]", str(bad))
    page.click("#vod-upload button[type=submit]")
    page.wait_for_function("() => document.getElementById('vod-upload-error').textContent !== ''")
    # the page is in zh-CN (the default locale): so is the reason; the command line keeps it in English
    assert page.locator("#vod-upload-error").inner_text() == "不是媒体文件：其内容是文本，而不是音频或视频"
