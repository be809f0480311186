"""WHIP/WHEP over HTTP: a real aiortc client publishes and subscribes through the web app and the bridge."""
from __future__ import annotations

import asyncio
import time

import pytest
from aiortc import RTCSessionDescription

from conferencing import rooms
from conferencing.media import ConferenceMedia
from conferencing.passthrough import peer_connection
from tests.conftest import SAMPLE_INVENTORY, TEST_PASSWORD, csrf_token, login
from tests.unit.conferencing.test_passthrough import ColourTrack, ToneTrack
from topology import load_inventory
from wangnet import accounts
from wangnet.runtime import Runtime

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def served(settings, store):  # type: ignore[no-untyped-def]
    from web.app import create_app

    media = ConferenceMedia(settings)
    runtime = Runtime([media])
    runtime.start()
    app = create_app(settings, store=store, runtime=runtime)
    app.config.update(TESTING=True)
    yield app, runtime, media
    runtime.stop()


def _conference(store, state: str = "running") -> int:  # type: ignore[no-untyped-def]
    inv = load_inventory(SAMPLE_INVENTORY)
    with store.session() as s:
        conf = rooms.create_conference(s, inv, "周例会", "host")
        rooms.invite(s, conf, ["dalad", "shulinzhao"], "host")
        if state == "running":
            rooms.start(s, conf)
        return conf.id


def _site_user(store, name: str, site: str) -> None:  # type: ignore[no-untyped-def]
    with store.session() as s:
        user = accounts.create_user(s, name, TEST_PASSWORD, ["site"])
        user.site_id = site


async def _publisher_offer() -> tuple[object, str]:
    pc = peer_connection()
    pc.addTransceiver(ColourTrack(), direction="sendonly")
    pc.addTransceiver(ToneTrack(), direction="sendonly")
    await pc.setLocalDescription(await pc.createOffer())
    return pc, pc.localDescription.sdp


def test_whip_publish_and_delete(served, store, make_user) -> None:  # type: ignore[no-untyped-def]
    app, runtime, media = served
    cid = _conference(store)
    client = app.test_client()
    login(client, make_user("host"))
    token = csrf_token(client.get(f"/conferences/{cid}/terminal?site=dalad").get_data(as_text=True))
    headers = {"X-CSRFToken": token, "Content-Type": "application/sdp"}
    pc, offer = runtime.call(_publisher_offer())
    try:
        r = client.post(f"/api/v1/conferences/{cid}/sites/dalad/whip", data=offer, headers=headers)
        assert r.status_code == 201, r.get_data(as_text=True)
        assert r.mimetype == "application/sdp" and r.headers["Location"].startswith(f"/api/v1/conferences/{cid}/resources/")
        runtime.call(pc.setRemoteDescription(RTCSessionDescription(r.get_data(as_text=True), "answer")))
        deadline = time.monotonic() + 60
        while runtime.call(_async(lambda: media.snapshot(str(cid))["sites"]["dalad"]["kbps_in"])) <= 0:
            assert time.monotonic() < deadline, "the bridge never received the published media"
            time.sleep(0.2)
        assert media.snapshot(str(cid))["sites"]["dalad"]["publishing"]
        location = r.headers["Location"]
        assert client.delete(location, headers={"X-CSRFToken": token}).status_code == 204
        assert not media.snapshot(str(cid))["sites"]["dalad"]["publishing"]
        again = client.delete(location, headers={"X-CSRFToken": token})
        assert again.status_code == 404 and "already left" in again.get_json()["error"]
    finally:
        runtime.call(pc.close())


async def _async(fn):  # type: ignore[no-untyped-def]
    return fn()


def test_whep_refusals_are_clear(served, store, make_user) -> None:  # type: ignore[no-untyped-def]
    app, runtime, media = served
    cid = _conference(store)
    draft = _conference(store, state="draft")
    _site_user(store, "dalad-terminal", "dalad")
    client = app.test_client()
    login(client, "dalad-terminal")
    page = client.get(f"/conferences/{cid}/terminal")
    assert page.status_code == 200 and 'data-site="dalad"' in page.get_data(as_text=True)
    assert client.get(f"/conferences/{cid}/terminal?site=shulinzhao").status_code == 403
    token = csrf_token(page.get_data(as_text=True))
    headers = {"X-CSRFToken": token, "Content-Type": "application/sdp"}
    url = f"/api/v1/conferences/{cid}/sites/dalad/whep"
    r = client.post(url, data="v=0\r\n", headers={"X-CSRFToken": token, "Content-Type": "text/plain"})
    assert r.status_code == 415 and "application/sdp" in r.get_json()["error"]
    r = client.post(url, data="hello", headers=headers)
    assert r.status_code == 400 and "line 1" in r.get_json()["error"]
    r = client.post(f"/api/v1/conferences/{cid}/sites/shulinzhao/whep", data="v=0\r\n", headers=headers)
    assert r.status_code == 403 and 'joins as site "dalad" only' in r.get_json()["error"]
    r = client.post(f"/api/v1/conferences/{draft}/sites/dalad/whep", data="v=0\r\n", headers=headers)
    assert r.status_code == 409 and "not running" in r.get_json()["error"]
    r = client.post(f"/api/v1/conferences/9999/sites/dalad/whep", data="v=0\r\n", headers=headers)
    assert r.status_code == 404
    assert client.post(url, data="v=0\r\n", headers={"Content-Type": "application/sdp"}).status_code == 400  # no CSRF
