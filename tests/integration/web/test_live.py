"""The live state API and its event stream, from the store's rows (no devices involved)."""
from __future__ import annotations

import json

from collectors.models import Alert, DeviceStatus
from tests.conftest import login


def events(raw: str) -> list[tuple[str, dict]]:
    out = []
    for block in raw.split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line and not line.startswith(":"))
        if "event" in lines:
            out.append((lines["event"], json.loads(lines["data"])))
    return out


def test_status_reflects_the_store(app, store, make_user):
    with store.session() as s:
        s.add(DeviceStatus(device="xini-rt", state="down", behind="device:xini-rt", error=""))
        s.add(Alert(key="device:xini-rt", kind="device", subject="xini-rt", severity="critical", state="open",
                    cut_off_sites='["xini"]', cut_off_devices="[]", flaps=0, ack_comment=""))
    client = app.test_client()
    login(client, make_user("host"))
    status = client.get("/api/v1/network/status").get_json()
    assert status["devices"]["xini-rt"]["state"] == "down" and status["devices"]["xini-rt"]["root"] is True
    assert status["sites"]["xini"] == {"state": "down", "cut_off": True}
    assert status["devices"]["city-core-1"]["state"] == "unknown"  # never polled yet
    assert [a["key"] for a in status["alerts"]] == ["device:xini-rt"]


def test_event_stream_sends_a_snapshot_then_only_changes(app, store, make_user):
    app.config.update(WANGNET_LIVE_TICK=0.05, WANGNET_LIVE_SECONDS=0.6)
    client = app.test_client()
    login(client, make_user("noc"))
    response = client.get("/api/v1/network/events", buffered=False)
    assert response.mimetype == "text/event-stream"
    chunks = iter(response.response)
    first = events(next(chunks).decode())
    assert first[0][0] == "snapshot" and len(first[0][1]["sites"]) == 59
    with store.session() as s:
        s.add(DeviceStatus(device="dalad-rt", state="up", error=""))
    rest = events(b"".join(chunks).decode())
    (kind, delta), = rest
    assert kind == "changes" and delta == {
        "devices": {"dalad-rt": {"state": "up", "behind": None, "root": False}},
        "sites": {"dalad": {"state": "up", "cut_off": False}},
    }
    response.close()


def test_stream_refuses_the_wrong_role(app, make_user):
    client = app.test_client()
    login(client, make_user("staff"))
    assert client.get("/api/v1/network/events").status_code == 403
