"""Show commands against the lab's real sshd (root): output of the device's own command, audited, no secrets shown."""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from tests.conftest import SAMPLE_INVENTORY, csrf_token, login
from wangnet.accounts import AuditEntry
from wangnet.config import load_settings
from wangnet.store import Store


def test_show_commands_run_on_lab_devices_over_ssh(lab, tmp_path):  # noqa: F811
    from web.app import create_app

    settings = load_settings(environ={}, var_dir=tmp_path / "var", inventory_path=SAMPLE_INVENTORY, secret_key="k",
                             login_rate_limit="1000 per minute", device_mode="lab",
                             secrets_file=Path(lab.state["secrets_file"]))
    store = Store.from_settings(settings)
    store.upgrade()
    app = create_app(settings, store=store)
    app.config.update(TESTING=True, WANGNET_SHOW_TIMEOUT=30)
    from wangnet import accounts

    with store.session() as s:
        accounts.create_user(s, "noc-show", "correct horse battery", ["noc"])
    client = app.test_client()
    login(client, "noc-show")
    page = client.get("/network/show?device=dalad-rt").get_data(as_text=True)
    assert 'value="ip -brief address"' in page  # the lab drives every device as linux
    token = csrf_token(page)

    resp = client.post("/api/v1/show-commands", json={"devices": ["dalad-rt", "city-core-1"], "command": "ip -brief address"},
                       headers={"X-CSRFToken": token})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    results = {r["device"]: r for r in resp.get_json()["results"]}
    for device in ("dalad-rt", "city-core-1"):
        assert results[device]["ok"], results[device]
        # the device's own management address shows in its own `ip -brief address`
        assert str(lab.inv.device(device).mgmt) in results[device]["output"], results[device]["output"]

    html = client.post("/network/show", data={"csrf_token": token, "device": ["dalad-rt"], "command": "uptime"}).get_data(as_text=True)
    assert 'class="show-result ok"' in html and "load average" in html
    secrets = lab.secrets[lab.inv.device("dalad-rt").ssh]
    with store.session() as s:
        runs = [(e.actor, e.target, e.detail) for e in s.scalars(select(AuditEntry).where(AuditEntry.action == "show.run"))]
    assert runs == [("noc-show", "dalad-rt,city-core-1", "ip -brief address → dalad-rt: ok; city-core-1: ok"),
                    ("noc-show", "dalad-rt", "uptime → dalad-rt: ok")]
    assert secrets["password"] not in html and secrets["password"] not in resp.get_data(as_text=True)
    store.dispose()
