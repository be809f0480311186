"""`wangnet bridge --site dalad` runs alone: WHIP for its own sites, a clear refusal for others, clean stop."""
from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from aiortc import RTCSessionDescription

from conferencing import rooms
from conferencing.passthrough import peer_connection, use_host_addresses
from tests.conftest import SAMPLE_INVENTORY, csrf_token
from tests.unit.conferencing.test_passthrough import ColourTrack, ToneTrack
from topology import load_inventory
from wangnet.config import load_settings
from wangnet.store import Store

pytestmark = pytest.mark.timeout(180)
PASSWORD = "bridge test 99"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port: int, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"wangnet bridge exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("wangnet bridge never listened")


async def _offer():  # type: ignore[no-untyped-def]
    use_host_addresses(["127.0.0.1"])
    pc = peer_connection()
    pc.addTransceiver(ColourTrack(), direction="sendonly")
    pc.addTransceiver(ToneTrack(), direction="sendonly")
    await pc.setLocalDescription(await pc.createOffer())
    return pc, pc.localDescription.sdp


def test_bridge_process_serves_its_sites_and_stops_cleanly(tmp_path: Path) -> None:
    var = tmp_path / "var"
    var.mkdir()
    env = {**os.environ, "WANGNET_VAR_DIR": str(var), "WANGNET_INVENTORY": str(SAMPLE_INVENTORY)}
    wangnet = str(Path(sys.executable).with_name("wangnet"))
    (tmp_path / "pw").write_text(PASSWORD + "\n")
    subprocess.run([wangnet, "user", "add", "host1", "--role", "host", "--password-file", str(tmp_path / "pw")],
                   env=env, check=True, capture_output=True)
    store = Store.from_settings(load_settings(environ={"WANGNET_VAR_DIR": str(var), "WANGNET_INVENTORY": str(SAMPLE_INVENTORY)}))
    with store.session() as s:
        conf = rooms.create_conference(s, load_inventory(SAMPLE_INVENTORY), "旗会", "host1")
        rooms.invite(s, conf, ["dalad", "shulinzhao"], "host1")
        rooms.start(s, conf)
        cid = conf.id
    store.dispose()

    bad = subprocess.run([wangnet, "bridge", "--site", "shulinzhao"], env=env, capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0 and "townships join their banner's bridge" in bad.stderr

    port = _free_port()
    log = tmp_path / "bridge.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([wangnet, "bridge", "--site", "dalad", "--port", str(port)], env=env, stdout=out,
                                stderr=subprocess.STDOUT)
    loop = asyncio.new_event_loop()
    pc = None
    try:
        _wait_port(port, proc, log)
        base = f"http://127.0.0.1:{port}"
        http = requests.Session()
        token = csrf_token(http.get(base + "/login").text)
        http.post(base + "/login", data={"username": "host1", "password": PASSWORD, "csrf_token": token})
        page = http.get(f"{base}/conferences/{cid}/terminal?site=shulinzhao")
        assert page.status_code == 200, page.text[:500]
        token = csrf_token(page.text)
        headers = {"Content-Type": "application/sdp", "X-CSRFToken": token}
        pc, offer = loop.run_until_complete(_offer())
        r = http.post(f"{base}/api/v1/conferences/{cid}/sites/shulinzhao/whip", data=offer, headers=headers, timeout=60)
        assert r.status_code == 201, r.text
        loop.run_until_complete(pc.setRemoteDescription(RTCSessionDescription(r.text, "answer")))
        # the city's bridge is not in this process: a clear refusal
        r2 = http.post(f"{base}/api/v1/conferences/{cid}/sites/city/whip", data=offer, headers=headers, timeout=60)
        assert r2.status_code == 404 and "does not run in this process" in r2.json()["error"]
        assert http.delete(base + r.headers["Location"], headers={"X-CSRFToken": token}).status_code == 204
    finally:
        if pc is not None:
            loop.run_until_complete(pc.close())
        loop.close()
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise AssertionError("wangnet bridge did not stop within 30 s of SIGTERM")
    assert code == 0, log.read_text()[-3000:]
