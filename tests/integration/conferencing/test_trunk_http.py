"""The trunk endpoint between bridge processes: only the bridge secret opens it, and it speaks WHIP-like HTTP."""
from __future__ import annotations

import pytest
from aiortc import RTCSessionDescription

from conferencing.media import ConferenceMedia
from conferencing.passthrough import peer_connection
from conferencing.peers import BridgeDirectory
from conferencing.plan import plan_cascade
from tests.conftest import login
from topology import load_inventory
from wangnet.runtime import Runtime

pytestmark = pytest.mark.timeout(120)
SECRET = "bridge-secret-for-tests-only"


@pytest.fixture
def served(settings, store):  # type: ignore[no-untyped-def]
    from web.app import create_app

    settings = settings.with_overrides(extra_env={"WANGNET_CRED_CONFERENCE_BRIDGE_TOKEN": SECRET})
    directory = BridgeDirectory(settings, store, url="http://127.0.0.1:1")
    media = ConferenceMedia(settings, directory=directory)
    runtime = Runtime([directory, media])
    runtime.start()
    app = create_app(settings, store=store, runtime=runtime)
    app.config.update(TESTING=True)
    yield app, runtime, media
    runtime.stop()


def _bearer(secret: str = SECRET) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}


def test_only_the_bridge_secret_opens_trunks(served, make_user) -> None:  # type: ignore[no-untyped-def]
    app, runtime, media = served
    client = app.test_client()
    body = b'{"from": "dalad", "to": "city", "site": "shulinzhao"}'
    r = client.post("/api/v1/conferences/1/trunks", data=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 401 and r.get_json()["error"] == "login required"
    r = client.post("/api/v1/conferences/1/trunks", data=body, headers=_bearer("wrong"))
    assert r.status_code == 401
    login(client, make_user("host", "admin"))  # a person's session never opens a trunk
    r = client.post("/api/v1/conferences/1/trunks", data=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 403 and "bridge" in r.get_json()["error"]
    bridge = app.test_client()
    r = bridge.post("/api/v1/conferences/1/trunks", data=body, headers=_bearer())
    assert r.status_code == 404 and r.get_json()["error"] == 'conference "1" is not running'
    r = bridge.get("/api/v1/conferences/1/state", headers=_bearer())
    assert r.status_code == 403, "the bridge secret opens trunks and nothing else"


def test_trunk_offer_answer_probe_and_delete(served) -> None:  # type: ignore[no-untyped-def]
    app, runtime, media = served
    plan = plan_cascade(load_inventory(app.extensions["wangnet.settings"].inventory_path), ["city", "shulinzhao"])
    runtime.call(media.open("7", plan))
    bridge = app.test_client()
    url = "/api/v1/conferences/7/trunks"
    r = bridge.post(url, data=b"{}", headers=_bearer())
    assert r.status_code == 400 and r.get_json()["error"].startswith('"from" must be a site id')
    r = bridge.post(url, data=b'{"from": "city", "to": "dalad", "site": "city"}', headers=_bearer() | {"Content-Type": "text/plain"})
    assert r.status_code == 415
    r = bridge.post(url, data=b'{"from": "city", "to": "jungar", "site": "city"}', headers=_bearer())
    assert r.status_code == 400 and "is not a trunk of conference 7's cascade" in r.get_json()["error"]
    # the township's banner bridge runs here too (no other process claimed it); pull city → dalad from it
    r = bridge.post(url, data=b'{"from": "city", "to": "dalad", "site": "city"}', headers=_bearer())
    assert r.status_code == 201 and r.mimetype == "application/sdp", r.get_data(as_text=True)
    location = r.headers["Location"]
    assert location.startswith("/api/v1/conferences/7/trunks/t")

    async def answer(offer: str):  # type: ignore[no-untyped-def]
        pc = peer_connection()
        await pc.setRemoteDescription(RTCSessionDescription(offer, "offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        return pc, pc.localDescription.sdp

    pc, sdp = runtime.call(answer(r.get_data(as_text=True)))
    try:
        assert bridge.patch(location, data=sdp, headers=_bearer() | {"Content-Type": "text/plain"}).status_code == 415
        assert bridge.patch(location, data=sdp, headers=_bearer() | {"Content-Type": "application/sdp"}).status_code == 204
        again = bridge.patch(location, data=sdp, headers=_bearer() | {"Content-Type": "application/sdp"})
        assert again.status_code == 400 and "already answered" in again.get_json()["error"]
        probe = bridge.get(location, headers=_bearer())
        assert probe.status_code == 200 and probe.get_json()["site"] == "city" and probe.get_json()["answered"]
        snap = runtime.call(_value(lambda: media.snapshot("7")))
        assert snap["trunks"]["city>dalad"]["streams"] == ["city"]
        assert bridge.delete(location, headers=_bearer()).status_code == 204
        gone = bridge.get(location, headers=_bearer())
        assert gone.status_code == 404 and "closed or expired" in gone.get_json()["error"]
    finally:
        runtime.call(pc.close())


async def _value(fn):  # type: ignore[no-untyped-def]
    return fn()
