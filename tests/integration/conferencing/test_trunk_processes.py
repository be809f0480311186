"""A cascade across processes: `wangnet serve` (city, dongsheng) and `wangnet bridge --site dalad` on one store.

A synthetic publisher at shulinzhao (a township under dalad) publishes to the
dalad bridge process; the city host's subscriber, on `wangnet serve`, receives
it through the trunk the city process pulled from the dalad process over HTTP,
and dongsheng's picture (a bridge inside serve) as a thumbnail. Killing the
dalad process leaves the thumbnail running and shows the trunk lost in the
metrics; a restarted dalad process (on another port, found through the
registry) brings the trunk back. Pictures are pre-encoded VP8 clips,
recognised byte for byte at the subscriber (the bridges never re-encode).

The township's microphone is a loud tone that the publisher's aiortc sender
encodes itself, because only then does it measure the level into the RFC 6464
extension the bridges read (pre-encoded packets carry none); dongsheng's is
silence. The level crosses from the dalad process to the city's through the
store, so the city process makes the township the active speaker. When the
dalad process is killed, its township is marked lost once its heartbeat is
stale (one event, one audit entry) and the trunk disappears; the restarted
process's township shows joined (and speaks) again.
"""
from __future__ import annotations

import array
import asyncio
import fractions
import math
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import av
import pytest
import requests
from aiortc import MediaStreamTrack, RTCSessionDescription

from sqlalchemy import select

from conferencing import rooms
from conferencing.levels import read_levels
from conferencing.models import Conference
from conferencing.passthrough import peer_connection, tap_receiver, use_host_addresses
from conferencing.peers import read_peers
from tests.conftest import SAMPLE_INVENTORY, csrf_token
from topology import load_inventory
from wangnet.accounts import AuditEntry
from wangnet.config import load_settings
from wangnet.store import Store

pytestmark = pytest.mark.timeout(420)
PASSWORD = "trunk test 99"
FPS = 15


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _clip(tmp: Path, name: str, source: str) -> list[bytes]:
    """VP8 frames of a 2 s lavfi source, a keyframe every second (a pre-encoded camera cannot make one on demand)."""
    out = tmp / f"{name}.ivf"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", f"{source}=s=320x180:r={FPS}", "-t", "2",
                    "-c:v", "libvpx", "-b:v", "300k", "-g", str(FPS), "-deadline", "realtime", "-y", str(out)],
                   check=True)
    return [bytes(p) for p in av.open(str(out)).demux(video=0) if p.size]


class ClipTrack(MediaStreamTrack):
    """Hands aiortc pre-encoded frames in real time, looping: the sender only packetizes them."""

    def __init__(self, kind: str, frames: list[bytes]) -> None:
        super().__init__()
        self.kind = kind
        self.frames = frames
        self.clock, self.step, self.interval = (90000, 90000 // FPS, 1 / FPS) if kind == "video" else (48000, 960, 0.02)
        self.n = 0
        self.start: float | None = None

    async def recv(self) -> av.Packet:  # type: ignore[override]
        if self.start is None:
            self.start = time.monotonic()
        await asyncio.sleep(max(0.0, self.start + self.n * self.interval - time.monotonic()))
        packet = av.Packet(self.frames[self.n % len(self.frames)])
        packet.pts = self.n * self.step
        packet.time_base = fractions.Fraction(1, self.clock)
        self.n += 1
        return packet


class ToneTrack(MediaStreamTrack):
    """A microphone: 20 ms frames of a sine (``amplitude`` 0 = silence) that aiortc encodes and measures."""

    kind = "audio"

    def __init__(self, amplitude: float) -> None:
        super().__init__()
        self.samples = array.array("h", (round(amplitude * 32767 * math.sin(2 * math.pi * 480 * i / 48000))
                                         for i in range(960))).tobytes()  # 480 Hz: whole periods per frame
        self.n = 0
        self.start: float | None = None

    async def recv(self) -> av.AudioFrame:  # type: ignore[override]
        if self.start is None:
            self.start = time.monotonic()
        await asyncio.sleep(max(0.0, self.start + self.n * 0.02 - time.monotonic()))
        frame = av.AudioFrame(format="s16", layout="mono", samples=960)
        frame.planes[0].update(self.samples)
        frame.sample_rate = 48000
        frame.pts = self.n * 960
        frame.time_base = fractions.Fraction(1, 48000)
        self.n += 1
        return frame


class Proc:
    """One wangnet process with its log."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        with open(log, "ab") as out:
            self.popen = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT)

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def stop(self) -> int | None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                return self.popen.wait(30)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(10)
                return None
        return self.popen.returncode


def _wait(condition: Callable[[], object], what: str, procs: list[Proc], timeout: float = 120.0,
          pause: Callable[[float], object] = time.sleep) -> None:
    """Poll ``condition``; ``pause`` runs the test's own event loop while media flow (its ICE must keep answering)."""
    deadline = time.monotonic() + timeout
    while not condition():
        for proc in procs:
            if proc.popen.poll() is not None:
                raise AssertionError(f"{proc.log.name} exited with {proc.popen.returncode} while waiting for "
                                     f"{what}:\n{proc.tail()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}\n" + "\n".join(f"--- {p.log.name}\n{p.tail()}" for p in procs))
        pause(0.2)


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def _metric(text: str, name: str, src: str, dst: str) -> float | None:
    pattern = rf'^{name}\{{conference="[^"]*",from_bridge="{src}",to_bridge="{dst}"\}} ([0-9.e+-]+)$'
    match = re.search(pattern, text, re.M)
    return float(match.group(1)) if match else None


class Web:
    """A logged-in host session on one process, with the terminal page's CSRF token."""

    def __init__(self, base: str, cid: int, site: str) -> None:
        self.base = base
        self.http = requests.Session()
        self.http.trust_env = False
        token = csrf_token(self.http.get(base + "/login", timeout=30).text)
        self.http.post(base + "/login", data={"username": "host1", "password": PASSWORD, "csrf_token": token},
                       timeout=30)
        page = self.http.get(f"{base}/conferences/{cid}/terminal?site={site}", timeout=30)
        assert page.status_code == 200, page.text[:300]
        self.token = csrf_token(page.text)

    def post_sdp(self, path: str, sdp: str) -> str:
        r = self.http.post(self.base + path, data=sdp, timeout=60,
                           headers={"Content-Type": "application/sdp", "X-CSRFToken": self.token})
        assert r.status_code == 201, (path, r.status_code, r.text[:500])
        return r.text


def test_trunk_between_bridge_processes_survives_a_killed_peer(tmp_path: Path) -> None:
    var = tmp_path / "var"
    var.mkdir()
    metrics_port = _free_port()
    env = {**os.environ, "WANGNET_VAR_DIR": str(var), "WANGNET_INVENTORY": str(SAMPLE_INVENTORY),
           "WANGNET_SIP_PORT": "0", "WANGNET_COLLECTOR_INTERVAL": "0", "WANGNET_METRICS_PORT": str(metrics_port),
           "WANGNET_CRED_CONFERENCE_BRIDGE_TOKEN": secrets.token_urlsafe(24)}
    env.pop("WANGNET_CONFERENCE_BRIDGE_URL", None)
    wangnet = str(Path(sys.executable).with_name("wangnet"))
    (tmp_path / "pw").write_text(PASSWORD + "\n")
    subprocess.run([wangnet, "user", "add", "host1", "--role", "host", "--password-file", str(tmp_path / "pw")],
                   env=env, check=True, capture_output=True)
    camera_a = _clip(tmp_path, "a", "testsrc2")  # shulinzhao
    camera_b = _clip(tmp_path, "b", "testsrc")  # dongsheng
    only_a, only_b = set(camera_a) - set(camera_b), set(camera_b) - set(camera_a)
    store = Store.from_settings(load_settings(environ={"WANGNET_VAR_DIR": str(var),
                                                       "WANGNET_INVENTORY": str(SAMPLE_INVENTORY)}))
    store.upgrade()

    city_port, dalad_port, dalad_metrics = _free_port(), _free_port(), _free_port()
    city = Proc([wangnet, "serve", "--port", str(city_port)], env, tmp_path / "serve.log")
    dalad = Proc([wangnet, "bridge", "--site", "dalad", "--port", str(dalad_port),
                  "--metrics-port", str(dalad_metrics)], env, tmp_path / "dalad.log")
    procs = [city, dalad]
    loop = asyncio.new_event_loop()
    pcs: list = []
    try:
        _wait(lambda: _listening(city_port) and _listening(dalad_port), "both processes listening", procs)
        _wait(lambda: {"*", "dalad"} <= set(read_peers(store)), "both processes registered", procs)
        assert read_peers(store)["dalad"].url == f"http://127.0.0.1:{dalad_port}"

        with store.session() as s:
            conf = rooms.create_conference(s, load_inventory(SAMPLE_INVENTORY), "跨进程级联", "host1")
            rooms.invite(s, conf, ["shulinzhao", "dongsheng"], "host1")
            rooms.start(s, conf)
            rooms.set_focus(s, conf, "rollcall", "shulinzhao")  # everyone sees shulinzhao; the host's grid: dongsheng
            cid = conf.id

        use_host_addresses(["127.0.0.1"])
        frames: dict[str, list] = {"main": [], "thumb1": [], "audio0": []}

        async def publish(web: Web, site: str, video: list[bytes], audio: MediaStreamTrack):  # type: ignore[no-untyped-def]
            pc = peer_connection()
            pc.addTransceiver(ClipTrack("video", video), direction="sendonly")
            pc.addTransceiver(audio, direction="sendonly")
            await pc.setLocalDescription(await pc.createOffer())
            answer = await asyncio.to_thread(web.post_sdp, f"/api/v1/conferences/{cid}/sites/{site}/whip",
                                             pc.localDescription.sdp)
            await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
            pcs.append(pc)

        async def subscribe(web: Web) -> None:
            pc = peer_connection()
            for name, store_to in (("main", frames["main"]), ("thumb1", frames["thumb1"]), ("audio0", frames["audio0"])):
                kind = "audio" if name.startswith("audio") else "video"
                tap_receiver(pc.addTransceiver(kind, direction="recvonly").receiver, kind, store_to.append)
            await pc.setLocalDescription(await pc.createOffer())
            answer = await asyncio.to_thread(web.post_sdp, f"/api/v1/conferences/{cid}/sites/city/whep",
                                             pc.localDescription.sdp)
            await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
            pcs.append(pc)

        def run(seconds: float) -> None:
            loop.run_until_complete(asyncio.sleep(seconds))

        def wait(condition: Callable[[], object], what: str, procs: list[Proc], timeout: float = 120.0) -> None:
            _wait(condition, what, procs, timeout, pause=run)

        def count(slot: str, clip: set[bytes]) -> int:
            return sum(1 for f in frames[slot] if f.data in clip)

        def wait_media(condition: Callable[[], bool], what: str, timeout: float = 120.0) -> None:
            deadline = time.monotonic() + timeout
            while not condition():
                if time.monotonic() > deadline:
                    raise AssertionError(f"timed out waiting for {what}: main {count('main', only_a)}, "
                                         f"thumb {count('thumb1', only_b)}, audio {len(frames['audio0'])}\n"
                                         + "\n".join(f"--- {p.log.name}\n{p.tail()}" for p in procs))
                run(0.2)

        def metrics(port: int = metrics_port) -> str:
            try:
                return requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10,
                                    proxies={"http": "", "https": ""}).text
            except requests.RequestException:
                return ""

        def speaker() -> str | None:
            with store.session() as s:
                return s.get(Conference, cid).speaker

        def presence() -> dict[str, str]:
            with store.session() as s:
                return rooms.presence(s, cid)

        def losses() -> int:
            """Lost events and audit entries of the township: each must be one."""
            with store.session() as s:
                events = [e for e in rooms.events(s, cid) if e.site_id == "shulinzhao" and e.kind == "lost"]
                audits = s.scalars(select(AuditEntry).where(AuditEntry.action == "conference.lost",
                                                            AuditEntry.detail.startswith("site=shulinzhao"))).all()
            assert len(events) == len(audits), (events, audits)
            return len(events)

        city_web = Web(f"http://127.0.0.1:{city_port}", cid, "city")
        dalad_web = Web(f"http://127.0.0.1:{dalad_port}", cid, "shulinzhao")
        loop.run_until_complete(publish(dalad_web, "shulinzhao", camera_a, ToneTrack(0.5)))
        loop.run_until_complete(publish(city_web, "dongsheng", camera_b, ToneTrack(0.0)))
        loop.run_until_complete(subscribe(city_web))

        # shulinzhao's camera reaches the city through the HTTP-signalled trunk dalad → city; dongsheng's in-process
        wait_media(lambda: count("main", only_a) >= 30 and count("thumb1", only_b) >= 30 and len(frames["audio0"]) >= 50,
                   "the township's picture and sound and dongsheng's thumbnail at the city")
        assert count("main", only_b) == 0 and count("thumb1", only_a) == 0, "each picture in its own slot"
        text = metrics()
        assert _metric(text, "wangnet_conference_trunk_streams", "dalad", "city") == 1.0, text[-3000:]
        assert _metric(text, "wangnet_conference_trunk_up", "dalad", "city") == 1.0
        assert (_metric(text, "wangnet_conference_trunk_kbps", "dalad", "city") or 0) > 0
        # the city's keyframe requests went back over the trunk's RTCP to the dalad process's sending end
        wait(lambda: (_metric(metrics(dalad_metrics), "wangnet_conference_trunk_keyframe_requests_total",
                               "dalad", "city") or 0) >= 1, "a keyframe request over the trunk at dalad", procs)
        assert _metric(metrics(dalad_metrics), "wangnet_conference_trunk_up", "dalad", "city") == 1.0

        # the township speaks at the dalad process; the city process hears it through the store
        wait(lambda: speaker() == "shulinzhao", "the township at the dalad process as the city's active speaker",
              procs, timeout=90)
        with store.session() as s:
            heard = read_levels(s, cid)
            joins = [e.process for e in rooms.events(s, cid) if e.site_id == "shulinzhao" and e.kind == "joined"]
        assert heard["shulinzhao"][0] >= 0.05 and "dongsheng" not in heard, heard  # only other processes write
        assert joins == [f"{socket.gethostname()}:{dalad.popen.pid}"], joins

        # the dalad process dies: the trunk is lost, the city's other picture keeps coming
        dalad.popen.kill()
        dalad.popen.wait(10)
        lost_seen: list[str] = []

        def trunk_lost() -> bool:
            text = metrics()
            if _metric(text, "wangnet_conference_trunk_up", "dalad", "city") == 0.0:
                lost_seen.append(text)
            return bool(lost_seen) or presence().get("shulinzhao") == "lost"

        wait(trunk_lost, "the trunk dalad>city reported lost", [city], timeout=60)
        if lost_seen:  # (not if the site's loss came first on a very slow machine: the trunk is then gone already)
            assert (_metric(lost_seen[0], "wangnet_conference_trunk_losses_total", "dalad", "city") or 0) >= 1
        # frames already in flight or in the test's own decode queue may still land (more of them on a
        # loaded machine): the claim is that the township's picture STOPS, checked over a second window
        dongsheng = count("thumb1", only_b) + count("main", only_b)
        wait_media(lambda: count("thumb1", only_b) + count("main", only_b) >= dongsheng + 30,
                   "dongsheng's picture after the kill")
        mains = count("main", only_a)
        dongsheng = count("thumb1", only_b) + count("main", only_b)
        wait_media(lambda: count("thumb1", only_b) + count("main", only_b) >= dongsheng + 30,
                   "dongsheng's picture still coming")
        assert count("main", only_a) <= mains + 1, "nothing arrives from the dead process"

        # once its heartbeat is stale the township is marked lost (once), the trunk goes, the speaker too
        wait(lambda: presence().get("shulinzhao") == "lost", "the township marked lost", [city], timeout=120)
        wait(lambda: _metric(metrics(), "wangnet_conference_trunk_up", "dalad", "city") is None,
              "the trunk dalad>city gone from the city's metrics", [city], timeout=120)
        wait(lambda: speaker() is None, "the lost township no longer the speaker", [city], timeout=60)
        assert losses() == 1

        # restarted on another port: found through the registry, the trunk comes back
        dalad_port = _free_port()
        dalad = Proc([wangnet, "bridge", "--site", "dalad", "--port", str(dalad_port)], env, tmp_path / "dalad2.log")
        procs = [city, dalad]
        wait(lambda: _listening(dalad_port), "the restarted dalad process", procs)
        wait(lambda: read_peers(store)["dalad"].url == f"http://127.0.0.1:{dalad_port}", "its new registration", procs)
        dalad_web = Web(f"http://127.0.0.1:{dalad_port}", cid, "shulinzhao")
        loop.run_until_complete(publish(dalad_web, "shulinzhao", camera_a, ToneTrack(0.5)))
        mains = count("main", only_a)
        wait_media(lambda: count("main", only_a) >= mains + 30, "the township's picture through the re-opened trunk")
        wait(lambda: _metric(metrics(), "wangnet_conference_trunk_up", "dalad", "city") == 1.0,
              "the trunk dalad>city up again", procs, timeout=60)
        assert presence().get("shulinzhao") == "joined"
        wait(lambda: speaker() == "shulinzhao", "the township the speaker again", procs, timeout=60)
        assert losses() == 1, "the loss was recorded once"
    finally:
        for pc in pcs:
            loop.run_until_complete(pc.close())
        loop.close()
        codes = [proc.stop() for proc in procs]
        left = read_peers(store)
        store.dispose()
    assert codes == [0, 0], "\n".join(p.tail() for p in procs)
    assert left == {}, f"a clean stop removes each process's registration: {left}"
