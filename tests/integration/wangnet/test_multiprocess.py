"""A process per service sharing one database: one flow followed through web, collectors, SIP and VOD worker.

``wangnet web``, ``wangnet collector --banner city``, ``wangnet collector
--banner dalad``, ``wangnet sip`` and ``wangnet vod-worker`` run as separate
processes on a real PostgreSQL server (SQLite only when PostgreSQL cannot be
started here, saying why), with the SNMP simulation as the devices:

a. a link fails in the simulation → the dalad collector process raises the
   alert → it shows in the web process's JSON API (and resolves on heal);
b. a phone created through the web API registers with the SIP process (sipp,
   digest auth) → the web's registry API and page show it registered;
c. a file uploaded to the web process is transcoded by the worker process →
   its playlist and a segment are served by the web to a logged-in session.

All processes are started at once on an empty database (their migrations must
not collide), and stopped with SIGTERM at the end (each must exit 0).
"""
from __future__ import annotations

import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator
from urllib.parse import urljoin

import pytest
import requests
from sqlalchemy import select

from collectors.scope import scope_for
from tests.conftest import CSRF_RE
from tests.lab_fixtures import SAMPLE_INVENTORY
from topology import load_inventory
from topology.analysis import impact_of_link
from topology.graph import build_graph
from wangnet import accounts
from wangnet.config import PROJECT_ROOT
from wangnet.store import Store

UPLINK = "city-core-1--dalad-rt"
ADMIN, PASSWORD = "ops-admin", "multi process pass 1"
REALM = "wangnet.ordos"
SIPP_DIR = PROJECT_ROOT / "tests" / "fixtures" / "sip" / "sipp"
WANGNET = str(Path(sys.executable).with_name("wangnet"))
START_S = 120.0  # five Python processes importing at once on two shared cores
FLOW_S = 60.0


def free_tcp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_udp_tcp_port() -> int:
    """A port free for both UDP and TCP (the SIP service binds both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind(("127.0.0.1", 0))
            port = u.getsockname()[1]
            try:
                with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
                    t.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    raise RuntimeError("no port free for both UDP and TCP")


def require(binary: str) -> str:
    """A Debian binary the test needs: missing as root is a broken setup (fail); else skip with the reason."""
    from shutil import which

    path = which(binary)
    if path is None:
        if os.geteuid() == 0:
            pytest.fail(f"{binary} missing although running as root: `make setup` installs it")
        pytest.skip(f"{binary} not installed and not root (run `make setup` as root)")
    return path


@dataclass
class Cluster:
    """The running processes, their logs, and an HTTP session logged in to the web one."""

    work: Path
    env: dict[str, str]
    database_url: str
    web_url: str = ""
    sip_port: int = 0
    metrics: dict[str, int] = field(default_factory=dict)  # process name → its exporter's port
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self, name: str, *args: str) -> None:
        log = open(self.work / f"{name}.log", "wb")
        self.procs[name] = subprocess.Popen([WANGNET, *args], env=self.env, cwd=self.work, stdin=subprocess.DEVNULL,
                                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()

    def log(self, name: str, tail: int | None = 4000) -> str:
        text = (self.work / f"{name}.log").read_text(errors="replace")
        return text[-tail:] if tail else text

    def logs(self) -> str:
        return "\n".join(f"----- {name} -----\n{self.log(name)}" for name in self.procs)

    def check_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise AssertionError(f"`wangnet {name}` exited with {proc.returncode}:\n{self.logs()}")

    def wait(self, condition: Callable[[], object], what: str, timeout: float = FLOW_S) -> object:
        deadline = time.monotonic() + timeout
        while True:
            self.check_alive()
            value = condition()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}\n{self.logs()}")
            time.sleep(0.2)

    def stop(self) -> dict[str, int | None]:
        """SIGTERM everyone, wait, SIGKILL what is left; returns each exit status (None: had to be killed)."""
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        codes: dict[str, int | None] = {}
        deadline = time.monotonic() + 45
        for name, proc in self.procs.items():
            try:
                codes[name] = proc.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
                codes[name] = None
        return codes


def database_url(request: pytest.FixtureRequest, work: Path) -> str:
    """A fresh PostgreSQL database (the shared server fixture); SQLite only when that server cannot run here."""
    try:
        server = request.getfixturevalue("postgres_server")
    except pytest.skip.Exception as exc:
        print(f"multi-process test on SQLite: PostgreSQL is unavailable ({exc})")
        return f"sqlite:///{work / 'shared.db'}"
    return server.create_database()


@pytest.fixture
def cluster(sim, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Cluster]:  # type: ignore[no-untyped-def]
    for binary in ("sipp", "ffmpeg", "ffprobe"):
        require(binary)
    url = database_url(request, tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANGNET_")}
    env.update({
        "WANGNET_VAR_DIR": str(sim.var_dir),  # where the simulation publishes its endpoints
        "WANGNET_DATABASE_URL": url,
        "WANGNET_INVENTORY": str(SAMPLE_INVENTORY),
        "WANGNET_DEVICE_MODE": "sim",
        "WANGNET_SECRET_KEY": secrets.token_hex(16),
        "WANGNET_LOGIN_RATE_LIMIT": "1000 per minute",
        "WANGNET_VOD_DIR": str(tmp_path / "vod"),
        "WANGNET_METRICS_PORT": "0",
    })
    web_port, sip_port = free_tcp_port(), free_udp_tcp_port()
    metrics = {name: free_tcp_port() for name in ("web", "collector-city", "collector-dalad", "sip", "vod-worker")}
    c = Cluster(tmp_path, env, url, f"http://127.0.0.1:{web_port}", sip_port, metrics)
    try:  # all at once, on an empty database: their migrations must queue, not collide
        c.start("web", "web", "--port", str(web_port), "--threads", "8", "--metrics-port", str(metrics["web"]))
        c.start("collector-city", "collector", "--banner", "city", "--interval", "2",
                "--metrics-port", str(metrics["collector-city"]))
        c.start("collector-dalad", "collector", "--banner", "dalad", "--interval", "2",
                "--metrics-port", str(metrics["collector-dalad"]))
        c.start("sip", "sip", "--port", str(sip_port), "--metrics-port", str(metrics["sip"]))
        c.start("vod-worker", "vod-worker", "--poll-interval", "0.5", "--metrics-port", str(metrics["vod-worker"]))
        yield c
    finally:
        codes = c.stop()
        sim.heal()
        logs = c.logs()
    assert codes == {name: 0 for name in c.procs}, f"not every process stopped cleanly on SIGTERM: {codes}\n{logs}"
    crashed = {name: c.log(name, tail=None) for name in c.procs if "Traceback" in c.log(name, tail=None)}
    assert not crashed, "errors logged:\n" + "\n".join(f"----- {n} -----\n{text[-20000:]}" for n, text in crashed.items())


def _metrics_up(port: int) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).status_code == 200
    except requests.RequestException:
        return False


def _login(c: Cluster) -> requests.Session:
    session = requests.Session()
    page = session.get(f"{c.web_url}/login", timeout=30)
    token = CSRF_RE.search(page.text).group(1)  # type: ignore[union-attr]
    answer = session.post(f"{c.web_url}/login", data={"username": ADMIN, "password": PASSWORD, "csrf_token": token},
                          timeout=30, allow_redirects=False)
    assert answer.status_code == 302, answer.text[:500]
    return session


def _get(session: requests.Session, url: str, **kw: object) -> requests.Response:
    return session.get(url, timeout=30, **kw)  # type: ignore[arg-type]


def test_one_flow_through_separate_processes(cluster: Cluster, sim, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    c = cluster
    # every process is up: the web answers, each exporter serves, the migrations (run by all five at once) agree
    c.wait(lambda: _metrics_up(c.metrics["web"]), "the web process", START_S)
    for name, port in c.metrics.items():
        c.wait(lambda port=port: _metrics_up(port), f"the metrics of `wangnet {name}`", START_S)
    store = Store(c.database_url)
    try:
        with store.session() as s:
            accounts.create_user(s, ADMIN, PASSWORD, ("admin",))
        web = _login(c)
        _alert_flow(c, web, store, sim)
        _phone_flow(c, web)
        _vod_flow(c, web, tmp_path)
        _no_services_in_the_web(c, web, store)
        _each_exports_its_own_metrics(c)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{c.logs()}") from None
    finally:
        store.dispose()


def _alert_flow(c: Cluster, web: requests.Session, store: Store, sim) -> None:  # type: ignore[no-untyped-def]
    from collectors.models import DeviceStatus

    inv = load_inventory(SAMPLE_INVENTORY)
    city, dalad = scope_for(inv, "city"), scope_for(inv, "dalad")

    def polled() -> dict[str, str]:
        with store.session() as s:
            return {d.device: d.state for d in s.scalars(select(DeviceStatus))}

    c.wait(lambda: set(polled()) == city.owned | dalad.owned and set(polled().values()) == {"up"},
           "both collectors' first cycles (city core and dalad with its townships all up)")

    def open_alerts() -> list[tuple[str, list[str]]]:
        rows = _get(web, f"{c.web_url}/api/v1/alerts", params={"state": "open"}).json()["alerts"]
        return [(a["key"], a["cut_off_sites"]) for a in rows]

    assert open_alerts() == []
    expected = impact_of_link(build_graph(inv), UPLINK)
    sim.fail(link=UPLINK)
    c.wait(open_alerts, "the collector's alert in the web API")
    # one alert, from the dalad process (the city process cannot see behind the link and must not guess)
    assert open_alerts() == [(f"link:{UPLINK}", list(expected.cut_off_sites))]
    states = polled()
    assert {d for d, st in states.items() if st != "up"} == set(expected.cut_off_devices)
    # only the two scopes were polled: no other banner's devices appear
    assert set(states) == city.owned | dalad.owned
    sim.heal()
    c.wait(lambda: open_alerts() == [], "the alert resolved after the link healed")
    resolved = _get(web, f"{c.web_url}/api/v1/alerts", params={"state": "resolved"}).json()["alerts"]
    assert [a["key"] for a in resolved] == [f"link:{UPLINK}"]


def _phone_flow(c: Cluster, web: requests.Session) -> None:
    page = _get(web, f"{c.web_url}/phones")
    token = CSRF_RE.search(page.text).group(1)  # type: ignore[union-attr]
    created = web.post(f"{c.web_url}/api/v1/phones", json={"site": "dalad", "display_name": "达拉特旗 办公室",
                                                           "model": "sipp"},
                       headers={"X-CSRFToken": token}, timeout=30)
    assert created.status_code == 201, created.text
    extension, password = created.json()["phone"]["extension"], created.json()["password"]
    sipp = require("sipp")
    work = c.work / "sipp"
    work.mkdir(exist_ok=True)

    def known_to_registrar() -> bool:
        # the SIP process reads new phones from the database on its refresh schedule; registering before
        # would count as failed attempts (and get this address blocked), so wait until its gauge says so
        text = requests.get(f"http://127.0.0.1:{c.metrics['sip']}/metrics", timeout=10).text
        return re.search(r"^wangnet_sip_phones 1\.0$", text, re.M) is not None

    c.wait(known_to_registrar, f"the SIP process loading phone {extension} from the database")
    cmd = [sipp, f"127.0.0.1:{c.sip_port}", "-sf", str(SIPP_DIR / "register.xml"), "-m", "1",
           "-t", "u1", "-i", "127.0.0.1", "-p", str(free_udp_tcp_port()), "-s", extension, "-au", extension,
           "-ap", password, "-key", "domain", REALM, "-key", "expires", "600", "-timeout", "20s",
           "-timeout_error", "-trace_err", "-nostdin"]
    done = subprocess.run(cmd, cwd=work, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    errors = "".join(p.read_text(errors="replace") for p in work.glob("*_errors.log"))
    assert done.returncode == 0, f"sipp REGISTER failed:\n{done.stdout[-2000:]}\n{errors}\n{c.log('sip')}"

    def shown() -> dict[str, object] | None:
        phone = _get(web, f"{c.web_url}/api/v1/phones/{extension}").json()
        phone = phone.get("phone", phone)
        return phone if phone.get("registered") else None

    phone = c.wait(shown, "the registration in the web's registry API")
    assert phone["active_bindings"] == 1 and phone["site"] == "dalad"  # type: ignore[index]
    listing = _get(web, f"{c.web_url}/phones", params={"registered": "yes"})
    assert listing.status_code == 200 and extension in listing.text


def _vod_flow(c: Cluster, web: requests.Session, tmp_path: Path) -> None:
    clip = tmp_path / "clip.mp4"
    subprocess.run([require("ffmpeg"), "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25",
                    "-f", "lavfi", "-i", "sine=frequency=440", "-t", "2", "-c:v", "libx264", "-preset", "ultrafast",
                    "-pix_fmt", "yuv420p", "-c:a", "aac", str(clip)], check=True, timeout=60)
    page = _get(web, f"{c.web_url}/vod/upload")
    token = CSRF_RE.search(page.text).group(1)  # type: ignore[union-attr]
    title = "鄂尔多斯新闻 多进程"
    uploaded = web.post(f"{c.web_url}/vod/upload", data=clip.read_bytes(), timeout=60,
                        params={"programme": "ordosxw", "date": "2026-11-25", "title": title, "filename": clip.name},
                        headers={"Content-Type": "application/octet-stream", "X-CSRFToken": token})
    assert uploaded.status_code == 201, uploaded.text
    job, episode = uploaded.json()["job"], uploaded.json()["episode"]

    def finished() -> dict[str, object] | None:
        (row,) = _get(web, f"{c.web_url}/api/v1/vod/jobs", params={"id": job}).json()
        return row if row["state"] in ("done", "failed") else None

    row = c.wait(finished, "the worker process transcoding the upload", 90)
    assert row["state"] == "done", row  # type: ignore[index]
    media = f"{c.web_url}/vod/media/{episode}"
    master = _get(web, f"{media}/master.m3u8")
    assert master.status_code == 200 and master.text.startswith("#EXTM3U"), master.text[:300]
    variant = urljoin(master.url, next(line for line in master.text.splitlines() if line and not line.startswith("#")))
    playlist = _get(web, variant)
    assert playlist.status_code == 200, (variant, playlist.status_code)
    segment = urljoin(variant, next(line for line in playlist.text.splitlines() if line and not line.startswith("#")))
    init = re.search(r'#EXT-X-MAP:URI="([^"]+)"', playlist.text)
    whole = _get(web, segment)
    assert whole.status_code == 200 and len(whole.content) > 100, (segment, whole.status_code)
    part = _get(web, segment, headers={"Range": "bytes=0-99"})
    assert part.status_code == 206 and part.content == whole.content[:100], (segment, part.status_code)
    if init:
        assert _get(web, urljoin(variant, init.group(1))).status_code == 200
    # and not to anyone without a session
    assert requests.get(segment, timeout=30, allow_redirects=False).status_code in (302, 401)


def _no_services_in_the_web(c: Cluster, web: requests.Session, store: Store) -> None:
    """What needs a service in the same process says so instead of failing: media signalling is the bridge's."""
    from conferencing import rooms

    with store.session() as s:  # a running conference the web process knows, and no bridge beside it
        conf = rooms.create_conference(s, load_inventory(SAMPLE_INVENTORY), "分进程", ADMIN)
        rooms.invite(s, conf, ["city"], ADMIN)
        rooms.start(s, conf)
        cid = conf.id
    token = CSRF_RE.search(_get(web, f"{c.web_url}/").text).group(1)  # type: ignore[union-attr]
    answer = web.post(f"{c.web_url}/api/v1/conferences/{cid}/sites/city/whip", data="v=0\r\n", timeout=30,
                      headers={"Content-Type": "application/sdp", "X-CSRFToken": token})
    assert answer.status_code == 503 and "no conference bridge runs in this process" in answer.json()["error"]
    status = _get(web, f"{c.web_url}/api/v1/network/status")
    assert status.status_code == 200


def _each_exports_its_own_metrics(c: Cluster) -> None:
    def scrape(name: str) -> str:
        return requests.get(f"http://127.0.0.1:{c.metrics[name]}/metrics", timeout=10).text

    dalad, city = scrape("collector-dalad"), scrape("collector-city")
    assert re.search(r'^wangnet_device_up\{[^}]*device="dalad-rt"', dalad, re.M)
    assert not re.search(r'^wangnet_device_up\{[^}]*device="city-core-1"', dalad, re.M)  # polled, not its own
    assert re.search(r'^wangnet_device_up\{[^}]*device="city-core-1"', city, re.M)
    assert re.search(r'^wangnet_vod_media_requests_total\{[^}]*status="206"', scrape("web"), re.M)
    assert re.search(r"^wangnet_sip_registrations_total [1-9]", scrape("sip"), re.M)
    assert all("process_cpu_seconds_total" in scrape(n) for n in ("web", "collector-city", "vod-worker"))


def test_collector_refuses_an_unknown_banner(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANGNET_")}
    env.update({"WANGNET_VAR_DIR": str(tmp_path), "WANGNET_METRICS_PORT": "0"})
    proc = subprocess.run([WANGNET, "collector", "--banner", "baotou"], env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Invalid value for --banner: unknown banner 'baotou': use one of city, dongsheng, dalad" in proc.stderr
