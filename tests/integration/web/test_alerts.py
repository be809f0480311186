"""Alerts page and API: filters, acknowledgement with a comment, the audit trail."""
from __future__ import annotations

from sqlalchemy import select

from collectors.models import Alert
from tests.conftest import csrf_token, login
from wangnet import accounts


def add_alert(store, key, kind, subject, sites, state="open"):
    with store.session() as s:
        alert = Alert(key=key, kind=kind, subject=subject, severity="critical", state=state,
                      cut_off_sites=__import__("json").dumps(sites), cut_off_devices="[]", flaps=0, ack_comment="")
        s.add(alert)
        s.flush()
        return alert.id


def test_list_and_filter_by_banner_and_tier(app, store, make_user):
    add_alert(store, "link:city-core-1--dalad-rt", "link", "city-core-1--dalad-rt", ["dalad", "shulinzhao"])
    add_alert(store, "device:xini-rt", "device", "xini-rt", ["xini"])
    client = app.test_client()
    login(client, make_user("noc"))
    all_open = client.get("/api/v1/alerts?state=open").get_json()
    assert all_open["total"] == 2
    dalad = client.get("/api/v1/alerts?banner=dalad").get_json()["alerts"]
    assert [a["key"] for a in dalad] == ["link:city-core-1--dalad-rt"]
    towns = client.get("/api/v1/alerts?tier=township").get_json()["alerts"]
    assert {a["key"] for a in towns} == {"link:city-core-1--dalad-rt", "device:xini-rt"}
    assert client.get("/api/v1/alerts?tier=moon").status_code == 400
    page = client.get("/alerts?banner=hanggin").get_data(as_text=True)
    assert "xini-rt" in page and "dalad-rt" not in page.split("alerts-table")[1]


def test_acknowledge_with_comment_is_audited(app, store, make_user):
    alert_id = add_alert(store, "device:xini-rt", "device", "xini-rt", ["xini"])
    client = app.test_client()
    login(client, make_user("noc", username="zhangwei"))
    token = csrf_token(client.get("/alerts").get_data(as_text=True))
    assert client.post(f"/alerts/{alert_id}/ack", data={"csrf_token": token, "comment": ""}).status_code == 400
    resp = client.post(f"/alerts/{alert_id}/ack", data={"csrf_token": token, "comment": "已通知杭锦旗机房"})
    assert resp.status_code == 302
    with store.session() as s:
        alert = s.get(Alert, alert_id)
        assert (alert.state, alert.acknowledged_by, alert.ack_comment) == ("acknowledged", "zhangwei", "已通知杭锦旗机房")
        entry = s.scalar(select(accounts.AuditEntry).where(accounts.AuditEntry.action == "alert.ack"))
        assert entry.actor == "zhangwei" and entry.target == "device:xini-rt" and entry.detail == "已通知杭锦旗机房"
    again = client.post(f"/api/v1/alerts/{alert_id}/ack", json={"comment": "x"}, headers={"X-CSRFToken": token})
    assert again.status_code == 409


def test_hosts_see_but_cannot_acknowledge(app, store, make_user):
    alert_id = add_alert(store, "device:xini-rt", "device", "xini-rt", ["xini"])
    client = app.test_client()
    login(client, make_user("host"))
    page = client.get("/alerts").get_data(as_text=True)
    assert "xini-rt" in page and "form method=\"post\" action=\"/alerts/" not in page
    token = csrf_token(page)
    assert client.post(f"/api/v1/alerts/{alert_id}/ack", json={"comment": "x"}, headers={"X-CSRFToken": token}).status_code == 403
