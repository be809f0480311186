"""Three headless Chromiums join one conference through the cascade (city bridge ↔ dalad's banner bridge).

The city host, dalad's banner terminal and the shulinzhao township terminal
(under dalad) each publish a distinct fake camera — a solid red, green or
blue ``.y4m`` made with ffmpeg — and the test reads the colour that arrives
in each main picture (drawn onto a canvas), so it knows WHICH site's picture
the bridges switched to, not only that frames flow. Roll-call (点名) uses
CONTROL's API; leaving and rejoining, and closing a browser abruptly, are
checked against the others' getStats.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import ARTIFACTS, CHROMIUM_ARGS

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(420)]
PASSWORD = "e2e conference 77"
CAMERAS = {"city": "red", "dalad": "green", "shulinzhao": "blue"}
MICROPHONE_VOLUME = {"city": 0.5, "dalad": 0.01, "shulinzhao": 0.01}
"""Linear amplitude of each site's fake microphone (a steady tone): the host speaks up, the sites murmur at
-40 dBov, under the active-speaker floor (0.05), so the host stays the speaker however the loaded machine
delays its packets; Chromium's own fake microphones beep alike and out of phase, and on a busy machine the
host's beeps arriving late let a site win for a second (seen in CI)."""
MEDIA_ARGS = [
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--allow-loopback-in-peer-connection",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
    "--autoplay-policy=no-user-gesture-required",
]

COLOUR_JS = """(selector) => {
  const v = document.querySelector(selector);
  if (!v || !v.videoWidth) { return null; }
  const c = document.createElement('canvas');
  c.width = 16; c.height = 12;
  const g = c.getContext('2d');
  g.drawImage(v, 0, 0, 16, 12);
  const d = g.getImageData(0, 0, 16, 12).data;
  let r = 0, gr = 0, b = 0;
  for (let i = 0; i < d.length; i += 4) { r += d[i]; gr += d[i + 1]; b += d[i + 2]; }
  const n = d.length / 4;
  return [r / n, gr / n, b / n];
}"""


def colour_name(rgb: list[float] | None) -> str | None:
    if not rgb:
        return None
    r, g, b = rgb
    top = max(r, g, b)
    if top < 80 or sorted((r, g, b))[1] > top * 0.6:
        return None  # black (nothing yet) or not a solid camera colour
    return "red" if top == r else "green" if top == g else "blue"


def wait_until(check, what: str, timeout: float = 90.0, interval: float = 0.5):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


@pytest.fixture(scope="module")
def cameras(tmp_path_factory) -> dict[str, Path]:  # type: ignore[no-untyped-def]
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        if os.geteuid() == 0:
            pytest.fail("ffmpeg missing although running as root: `make setup` installs it")
        pytest.skip("ffmpeg not installed (needed to make the fake cameras)")
    out = tmp_path_factory.mktemp("cameras")
    files = {}
    for site, colour in CAMERAS.items():
        path = out / f"{site}.y4m"
        subprocess.run([ffmpeg, "-v", "error", "-f", "lavfi", "-i", f"color=c={colour}:s=160x120:r=15", "-t", "1",
                        "-pix_fmt", "yuv420p", "-y", str(path)], check=True)
        files[site] = path
    return files


@pytest.fixture(scope="module")
def microphones(tmp_path_factory) -> dict[str, Path]:  # type: ignore[no-untyped-def]
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        pytest.skip("ffmpeg not installed (needed to make the fake microphones)")
    out = tmp_path_factory.mktemp("microphones")
    files = {}
    for site, volume in MICROPHONE_VOLUME.items():
        path = out / f"{site}.wav"
        subprocess.run([ffmpeg, "-v", "error", "-f", "lavfi", "-i", "sine=f=440:r=48000", "-t", "20",
                        "-af", f"volume={volume}", "-ac", "1", "-y", str(path)], check=True)
        files[site] = path
    return files


@pytest.fixture(scope="module")
def accounts(server):  # type: ignore[no-untyped-def]
    var = Path(server["log"]).parent
    pw_file = var / "conf-pw"
    pw_file.write_text(PASSWORD + "\n")
    env = {**os.environ, "WANGNET_VAR_DIR": str(var), "WANGNET_INVENTORY": str(Path(__file__).resolve().parents[2] / "inventory.yaml")}
    wangnet = str(Path(sys.executable).with_name("wangnet"))
    users = {"city": ("conf-host", ["--role", "host"]),
             "dalad": ("dalad-terminal", ["--role", "site", "--site", "dalad"]),
             "shulinzhao": ("shulinzhao-terminal", ["--role", "site", "--site", "shulinzhao"])}
    for name, args in users.values():
        subprocess.run([wangnet, "user", "add", name, *args, "--password-file", str(pw_file)], env=env, check=True,
                       capture_output=True)
    return {site: name for site, (name, _) in users.items()}


class Terminal:
    """One site's browser (its own Chromium process: the fake camera file is per process)."""

    def __init__(self, playwright, chromium: str, camera: Path, site: str,  # type: ignore[no-untyped-def]
                 microphone: Path | None = None) -> None:
        self.site = site
        audio = [f"--use-file-for-fake-audio-capture={microphone}"] if microphone is not None else []
        self.browser = playwright.chromium.launch(
            executable_path=chromium, headless=True,
            args=[*CHROMIUM_ARGS, *MEDIA_ARGS, f"--use-file-for-fake-video-capture={camera}", *audio])
        self.context = self.browser.new_context(viewport={"width": 1000, "height": 700}, locale="zh-CN")
        self.context.set_default_timeout(60_000)
        self.page = self.context.new_page()
        self.closed = False

    def login(self, url: str, user: str) -> None:
        self.page.goto(url + "/login")
        self.page.fill("#username", user)
        self.page.fill("#password", PASSWORD)
        self.page.click("button[type=submit]")
        self.page.wait_for_load_state()

    def api(self, method: str, path: str, body: dict | None = None) -> dict:
        return self.page.evaluate(
            """async ([method, path, body]) => {
                const token = document.querySelector('input[name=csrf_token]').value;
                const r = await fetch(path, {method, credentials: 'same-origin',
                    headers: {'Content-Type': 'application/json', 'X-CSRFToken': token},
                    body: body ? JSON.stringify(body) : undefined});
                return {status: r.status, body: await r.json()};
            }""",
            [method, path, body],
        )

    def phase(self) -> str:
        return self.page.evaluate("() => window.conferenceTerminal ? window.conferenceTerminal.phase : 'none'")

    def stats(self) -> dict:
        return self.page.evaluate("() => window.conferenceTerminal.stats()")

    def mids(self) -> dict:
        return self.page.evaluate("() => window.conferenceTerminal.sub ? window.conferenceTerminal.sub.mids : null")

    def frames(self, slot: str = "main") -> int:
        mids = self.mids()
        if not mids:
            return 0
        stats = self.stats()
        if slot == "main":
            return int(stats.get(mids["main"], {}).get("framesDecoded", 0))
        return sum(int(stats.get(m, {}).get("framesDecoded", 0)) for m in mids["thumbs"])

    def audio(self) -> tuple[int, float]:
        mids = self.mids() or {"audio": []}
        stats = self.stats()
        got = [stats.get(m, {}) for m in mids["audio"]]
        return sum(int(s.get("packetsReceived", 0)) for s in got), sum(float(s.get("totalAudioEnergy", 0)) for s in got)

    def main_colour(self) -> str | None:
        return colour_name(self.page.evaluate(COLOUR_JS, "#terminal-main"))

    def thumb_colours(self) -> set[str]:
        n = self.page.evaluate("() => document.querySelectorAll('.terminal-thumb video').length")
        return {c for i in range(n) if (c := colour_name(self.page.evaluate(
            COLOUR_JS, f".terminal-thumb:nth-child({i + 1}) video")))}

    def rising(self, slot: str = "main", by: int = 10, timeout: float = 60.0) -> None:
        start = self.frames(slot)
        wait_until(lambda: self.frames(slot) >= start + by, f"{self.site}: {slot} frames decoded rising", timeout)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            try:
                self.context.close()
            finally:
                self.browser.close()


def test_three_sites_through_the_cascade(server, chromium_path, cameras, microphones, accounts) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    url = server["url"]
    with sync_playwright() as p:
        ends = {site: Terminal(p, chromium_path, cameras[site], site, microphones[site]) for site in CAMERAS}
        try:
            for site, end in ends.items():
                end.login(url, accounts[site])
            host = ends["city"]
            host.page.goto(url + "/conferences")
            created = host.api("POST", "/api/v1/conferences", {"title": "e2e 周例会", "sites": ["dalad", "shulinzhao"]})
            assert created["status"] == 201, created
            cid = created["body"]["conference"]["id"]
            started = host.api("POST", f"/api/v1/conferences/{cid}/start")
            assert started["status"] == 200, started
            plan = host.api("GET", f"/api/v1/conferences/{cid}/plan")["body"]
            bridges = {row["site"]: row["bridge"] for row in plan["sites"]}
            assert bridges == {"city": "city", "dalad": "dalad", "shulinzhao": "dalad"}, bridges  # a real cascade

            for site, end in ends.items():
                end.page.goto(f"{url}/conferences/{cid}/terminal")
            for end in ends.values():
                wait_until(lambda e=end: e.phase() == "connected" or (e.phase() == "failed" and e.page.evaluate(
                    "() => window.conferenceTerminal.error")), f"{end.site} connected")
                assert end.phase() == "connected", end.page.evaluate("() => window.conferenceTerminal.error")

            # default layout: the sites watch the host (red); the host's grid shows the banner and the township
            for site in ("dalad", "shulinzhao"):
                ends[site].rising("main")
                wait_until(lambda s=site: ends[s].main_colour() == "red", f"{site} sees the city host")
            host.rising("thumbs")
            wait_until(lambda: {"green", "blue"} <= ({host.main_colour()} | host.thumb_colours()),
                       "the host sees dalad (green) and shulinzhao (blue)")
            # the sites hear the speaker, the host (the sites' microphones are under the speaker floor, so the
            # host stays the speaker and hears nobody until it calls on a site): audio packets with energy
            for site in ("dalad", "shulinzhao"):
                wait_until(lambda e=ends[site]: e.audio()[0] > 50 and e.audio()[1] > 0, f"{site} hears audio")
            heard_before = {site: ends[site].audio()[0] for site in ("city", "dalad")}

            # roll-call the township: the host and the banner receive its (blue) picture and its sound
            r = host.api("POST", f"/api/v1/conferences/{cid}/rollcall", {"site": "shulinzhao"})
            assert r["status"] == 200, r
            for site in ("city", "dalad"):
                wait_until(lambda s=site: ends[s].main_colour() == "blue", f"{site} sees the roll-called township")
                ends[site].rising("main")
                wait_until(lambda s=site: ends[s].audio()[0] > heard_before[s] + 50 and ends[s].audio()[1] > 0,
                           f"{site} hears the roll-called township")

            # roll-call the banner: the township now receives dalad's (green) picture
            assert host.api("POST", f"/api/v1/conferences/{cid}/rollcall", {"site": "dalad"})["status"] == 200
            wait_until(lambda: ends["shulinzhao"].main_colour() == "green", "the township sees the banner")
            wait_until(lambda: host.main_colour() == "green", "the host sees the banner")

            # leave and rejoin the banner's terminal
            ends["dalad"].page.click("#terminal-leave")
            wait_until(lambda: ends["dalad"].phase() == "left", "dalad left")
            ends["dalad"].page.click("#terminal-join")
            wait_until(lambda: ends["dalad"].phase() == "connected", "dalad rejoined")
            ends["dalad"].rising("main")
            wait_until(lambda: host.main_colour() == "green", "the host sees dalad again after its rejoin")
            host.rising("main")

            # the township's browser vanishes: the host and the banner keep receiving
            ends["shulinzhao"].close()
            host.rising("main", by=20)
            ends["dalad"].rising("main", by=20)
            assert host.main_colour() == "green"
        except Exception:
            shutil.copy(server["log"], ARTIFACTS / "conference-serve.log")
            for site, end in ends.items():
                if not end.closed:
                    end.page.screenshot(path=str(ARTIFACTS / f"conference-{site}.png"))
            raise
        finally:
            for end in ends.values():
                end.close()
