"""Show commands through the page and the API: noc only, allow-listed, audited, and bounded by a timeout.

The devices here are loopback sockets: one port with nothing listening and
one that accepts TCP but never speaks SSH (a hung device). The real-sshd
case runs against the lab (tests/integration/web/test_showcmd_lab.py).
"""
from __future__ import annotations

import socket
import threading
import time

import pytest
from sqlalchemy import select

from tests.conftest import csrf_token, login
from wangnet.accounts import AuditEntry
from wangnet.config import load_settings

PASSWORD = "sh0w-secret-password"


@pytest.fixture
def silent_port():
    """A listening socket that accepts connections and never says anything."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
                held.append(conn)
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield srv.getsockname()[1]
    stop.set()
    thread.join(5)
    for c in held:
        c.close()
    srv.close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when this returns: nothing listens there


@pytest.fixture
def prod_app(tmp_path, store):
    from tests.conftest import SAMPLE_INVENTORY
    from web.app import create_app

    settings = load_settings(
        environ={"WANGNET_CRED_SSH_NOC_USERNAME": "noc", "WANGNET_CRED_SSH_NOC_PASSWORD": PASSWORD},
        var_dir=tmp_path / "var", inventory_path=SAMPLE_INVENTORY, secret_key="k", login_rate_limit="1000 per minute",
        device_mode="production",
    )
    app = create_app(settings, store=store)
    app.config.update(TESTING=True, WANGNET_SHOW_TIMEOUT=3)
    return app


def audit(store, action):
    with store.session() as s:
        return [(e.actor, e.target, e.detail) for e in s.scalars(select(AuditEntry).where(AuditEntry.action == action))]


def test_only_noc_may_run_and_refused_commands_open_no_connection(prod_app, store, make_user):
    connections = []
    prod_app.extensions["wangnet.ssh_endpoint"] = lambda d: connections.append(d.id) or ("127.0.0.1", closed_port())
    admin = prod_app.test_client()
    login(admin, make_user("admin"))
    assert admin.get("/network/show").status_code == 403
    assert admin.post("/api/v1/show-commands", json={"devices": ["dalad-rt"], "command": "display version"}).status_code in (400, 403)

    client = prod_app.test_client()
    user = make_user("noc")
    login(client, user)
    token = csrf_token(client.get("/network/show").get_data(as_text=True))
    headers = {"X-CSRFToken": token}
    resp = client.post("/api/v1/show-commands", json={"devices": ["dalad-rt"], "command": "display current-configuration"},
                       headers=headers)
    assert resp.status_code == 400
    assert "not on the allow-list of dalad-rt (h3c_comware)" in resp.get_json()["error"]
    resp = client.post("/api/v1/show-commands", json={"devices": "dalad-rt", "command": "x"}, headers=headers)
    assert resp.status_code == 400 and resp.get_json()["error"] == "devices: expected a list of device ids"
    page = client.post("/network/show", data={"csrf_token": token, "device": ["ghost"], "command": "uptime"})
    assert page.status_code == 400 and "no device &#39;ghost&#39; in the inventory" in page.get_data(as_text=True)
    assert connections == []  # refused before any endpoint was even looked up
    refused = audit(store, "show.refused")
    assert len(refused) == 2 and refused[0][0] == user and "display current-configuration" in refused[0][2]
    allowed = client.get("/api/v1/show-commands").get_json()
    assert "display interface brief" in allowed["allowed"]["huawei_vrp"] and allowed["max_devices"] == 5


def test_dead_and_silent_devices_give_clear_errors_within_their_timeout(prod_app, store, make_user, silent_port):
    dead = closed_port()
    prod_app.extensions["wangnet.ssh_endpoint"] = (
        lambda d: ("127.0.0.1", silent_port) if d.id == "dalad-rt" else ("127.0.0.1", dead))
    client = prod_app.test_client()
    user = make_user("noc")
    login(client, user)
    token = csrf_token(client.get("/network/show").get_data(as_text=True))
    started = time.monotonic()
    resp = client.post("/api/v1/show-commands", json={"devices": ["dalad-rt", "xini-rt"], "command": "display interface brief"},
                       headers={"X-CSRFToken": token})
    elapsed = time.monotonic() - started
    assert resp.status_code == 200
    by_device = {r["device"]: r for r in resp.get_json()["results"]}
    silent, refused = by_device["dalad-rt"], by_device["xini-rt"]
    assert not silent["ok"] and not refused["ok"]
    assert silent["error"] == f"dalad-rt (127.0.0.1:{silent_port}) did not answer within 3 s", silent
    assert refused["error"] == f"xini-rt (127.0.0.1:{dead}) refused the SSH connection", refused
    # both within their own 3 s timeout (plus the 2 s slack of run_many), run side by side, not one after the other;
    # a generous bound: the point is "bounded by the timeout", not speed
    assert elapsed < 3 + 2 + 10, elapsed
    (entry,) = audit(store, "show.run")
    assert entry[0] == user and entry[1] == "dalad-rt,xini-rt" and entry[2].startswith("display interface brief → dalad-rt: ")
    # the page shows the same, and never the password
    page = client.post("/network/show", data={"csrf_token": token, "device": ["xini-rt"], "command": "display version"})
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and 'class="show-result failed"' in text
    assert PASSWORD not in text and PASSWORD not in resp.get_data(as_text=True)
    with store.session() as s:
        assert not any(PASSWORD in e.detail for e in s.scalars(select(AuditEntry)))
