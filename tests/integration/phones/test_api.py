"""The phones JSON API: same roles as the pages, CSRF on every POST, passwords only in the creating response."""
from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import select

from telephony.digest import ha1
from telephony.models import Phone
from tests.conftest import csrf_token, login


def client_for(app, make_user, role):
    client = app.test_client()
    assert login(client, make_user(role)).status_code == 302
    token = csrf_token(client.get("/", follow_redirects=True).get_data(as_text=True))
    return client, {"X-CSRFToken": token}


@pytest.fixture
def admin(app, make_user):
    return client_for(app, make_user, "phone-admin")


def test_create_get_update_and_password_once(admin, store, settings):
    client, headers = admin
    resp = client.post("/api/v1/phones", json={"site": "dalad", "display_name": "办公室", "mac": "00-11-22-33-44-55"},
                       headers=headers)
    assert resp.status_code == 201
    body = resp.get_json()
    password, phone = body["password"], body["phone"]
    assert phone["extension"] == "300001" and phone["mac"] == "00:11:22:33:44:55" and phone["banner"] == "dalad"
    assert "ha1_md5" not in phone and "password" not in phone
    with store.session() as s:
        assert s.scalar(select(Phone.ha1_sha256)) == ha1("300001", settings.sip_realm, password, "SHA-256")
    got = client.get("/api/v1/phones/300001").get_json()
    assert got["bindings"] == [] and got["registered"] is False and password not in str(got)
    resp = client.post("/api/v1/phones/300001", json={"owner": "张伟", "model": "T46U"}, headers=headers)
    assert resp.status_code == 200 and resp.get_json()["owner"] == "张伟"
    resp = client.post("/api/v1/phones/300001", json={"extension": "300002"}, headers=headers)
    assert resp.status_code == 400 and "cannot change extension" in resp.get_json()["error"]
    new = client.post("/api/v1/phones/300001/password", headers=headers).get_json()["password"]
    assert new != password
    assert client.post("/api/v1/phones/300001/disable", headers=headers).get_json()["enabled"] is False
    assert client.post("/api/v1/phones/300001/enable", headers=headers).get_json()["enabled"] is True
    listing = client.get("/api/v1/phones?banner=dalad").get_json()
    assert listing["total"] == 1 and listing["items"][0]["extension"] == "300001"
    assert client.post("/api/v1/phones/300001/delete", headers=headers).get_json() == {"deleted": "300001"}
    assert client.get("/api/v1/phones/300001").status_code == 404


@pytest.mark.parametrize(
    "payload, message",
    [
        ({"site": "nowhere"}, 'unknown site "nowhere"'),
        ({"site": "dalad", "extension": "100001"}, "is not in site \"dalad\"'s block"),
        ({"site": "dalad", "password": "x"}, "unknown field 'password'"),
        ([1, 2], "expected a JSON object"),
    ],
)
def test_bad_input_is_a_clear_400(admin, payload, message):
    client, headers = admin
    resp = client.post("/api/v1/phones", json=payload, headers=headers)
    assert resp.status_code == 400
    assert message in resp.get_json()["error"]


def test_csrf_is_required_after_the_role_gate(app, make_user):
    anonymous = app.test_client()
    assert anonymous.post("/api/v1/phones", json={"site": "dalad"}).status_code == 401
    noc, headers = client_for(app, make_user, "noc")
    assert noc.post("/api/v1/phones", json={"site": "dalad"}, headers=headers).status_code == 403
    assert noc.get("/api/v1/phones").status_code == 200
    assert noc.get("/api/v1/phones/plan").status_code == 200
    staff, headers = client_for(app, make_user, "staff")
    assert staff.get("/api/v1/phones").status_code == 403
    admin, headers = client_for(app, make_user, "admin")
    resp = admin.post("/api/v1/phones", json={"site": "dalad"})  # no token
    assert resp.status_code == 400 and "CSRF" in resp.get_json()["error"]
    assert admin.post("/api/v1/phones", json={"site": "dalad"}, headers=headers).status_code == 201


def test_import_returns_passwords_csv_or_every_bad_line(admin, store):
    client, headers = admin
    bad = client.post("/api/v1/phones/import", data="site,extension\ncity,\nnowhere,\ncity,100000\n",
                      headers={**headers, "Content-Type": "text/csv"})
    assert bad.status_code == 400
    assert bad.get_json()["errors"] == [
        'line 3: unknown site "nowhere"',
        "line 4: extension 100000: station 000 is reserved for the site's attendant",
    ]
    good = client.post("/api/v1/phones/import", data="site\ncity\ncity\n", headers={**headers, "Content-Type": "text/csv"})
    assert good.status_code == 200 and good.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(good.get_data(as_text=True))))
    assert [r["extension"] for r in rows] == ["100001", "100002"] and all(len(r["password"]) == 20 for r in rows)


def test_plan_api(admin):
    client, _ = admin
    plan = client.get("/api/v1/phones/plan").get_json()
    assert len(plan) == 59
    assert plan[0] == {"site": "city", "tier": "city", "banner": None, "prefix": "100", "first": "100001",
                       "last": "100999", "capacity": 999}
    assert {p["prefix"] for p in plan if p["banner"] == "dalad"} >= {"300", "301"}
