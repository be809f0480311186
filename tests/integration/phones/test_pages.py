"""Phone registry pages through the real Flask app and store: roles, once-only passwords, CSV, dashboard."""
from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from telephony import trial
from telephony.digest import ha1
from telephony.models import Binding, Phone
from tests.conftest import csrf_token, login
from wangnet.accounts import AuditEntry

PASSWORD_RE = re.compile(r'id="sip-password">([^<]+)<')


@pytest.fixture
def admin_client(app, make_user):
    client = app.test_client()
    assert login(client, make_user("phone-admin", username="padmin")).status_code == 302
    return client


@pytest.fixture
def noc_client(app, make_user):
    client = app.test_client()
    assert login(client, make_user("noc", username="noc1")).status_code == 302
    return client


def token(client, path="/phones/new") -> str:
    return csrf_token(client.get(path).get_data(as_text=True))


def create(client, **fields) -> tuple[str, str]:
    data = {"csrf_token": token(client), "site_id": "shulinzhao", **fields}
    resp = client.post("/phones/new", data=data)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "sip-password" in html, html
    assert resp.headers["Cache-Control"] == "no-store"  # the once-page is kept by no cache
    password = PASSWORD_RE.search(html).group(1)
    extension = re.search(r'id="sip-username">([^<]+)<', html).group(1)
    return extension, password


def add_binding(store, extension, seconds=600, user_agent="baresip 3.x"):
    with store.session() as s:
        phone = s.scalar(select(Phone).where(Phone.extension == extension))
        s.add(Binding(phone_id=phone.id, contact=f"sip:{extension}@127.0.0.1:5080;transport=udp",
                      expires_at=trial.utcnow() + timedelta(seconds=seconds), call_id="abc@127.0.0.1", cseq=2,
                      user_agent=user_agent, source="udp:127.0.0.1:5080"))
        phone.last_registered_at = trial.utcnow()
        phone.last_user_agent = user_agent


def test_create_shows_the_password_once_and_never_again(app, admin_client, store, settings):
    extension, password = create(admin_client, display_name="树林召镇办公室", mac="00:1a:2b:3c:4d:5e", model="Yealink T46U")
    assert extension == "301001"
    with store.session() as s:
        phone = s.scalar(select(Phone))
        assert phone.ha1_md5 == ha1(extension, settings.sip_realm, password, "MD5")
        assert phone.ha1_sha256 == ha1(extension, settings.sip_realm, password, "SHA-256")
    # nowhere afterwards: detail, list, dashboard, export, API, audit log
    for path in (f"/phones/{extension}", "/phones", "/phones/dashboard", "/phones/export.csv", "/phones/plan",
                 f"/api/v1/phones/{extension}", "/api/v1/phones", "/api/v1/phones/dashboard"):
        resp = admin_client.get(path)
        assert resp.status_code == 200, path
        body = resp.get_data(as_text=True)
        assert password not in body, path
        assert ha1(extension, settings.sip_realm, password, "MD5") not in body, path
    with store.session() as s:
        details = " ".join(f"{e.target} {e.detail}" for e in s.scalars(select(AuditEntry)))
    assert password not in details
    assert f"/phones/{extension}" in admin_client.get("/phones").get_data(as_text=True)


def test_create_form_reports_errors_and_keeps_input(admin_client, store):
    resp = admin_client.post("/phones/new", data={"csrf_token": token(admin_client), "site_id": "dalad",
                                                  "extension": "301001", "owner": "张伟"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "extension 301001 is not in site &#34;dalad&#34;" in html or 'extension 301001 is not in site "dalad"' in html
    assert 'value="张伟"' in html and "sip-password" not in html
    with store.session() as s:
        assert s.scalar(select(Phone)) is None


def test_reset_password_shows_a_new_one_once(admin_client, store, settings):
    extension, old = create(admin_client)
    resp = admin_client.post(f"/phones/{extension}/password", data={"csrf_token": token(admin_client, f"/phones/{extension}")})
    new = PASSWORD_RE.search(resp.get_data(as_text=True)).group(1)
    assert new != old
    with store.session() as s:
        assert s.scalar(select(Phone.ha1_md5)) == ha1(extension, settings.sip_realm, new)
    assert new not in admin_client.get(f"/phones/{extension}").get_data(as_text=True)


def test_detail_shows_bindings_and_actions_work(admin_client, store):
    extension, _ = create(admin_client)
    add_binding(store, extension)
    html = admin_client.get(f"/phones/{extension}").get_data(as_text=True)
    assert f"sip:{extension}@127.0.0.1:5080;transport=udp" in html
    assert "udp:127.0.0.1:5080" in html and "baresip 3.x" in html and 'id="status"' in html
    t = token(admin_client, f"/phones/{extension}")
    assert admin_client.post(f"/phones/{extension}/disable", data={"csrf_token": t}).status_code == 302
    with store.session() as s:
        assert s.scalar(select(Phone.enabled)) is False
    resp = admin_client.post(f"/phones/{extension}/edit", data={"csrf_token": t, "owner": "李娜", "mac": "bad"})
    assert "is not 12 hexadecimal digits" in resp.get_data(as_text=True)
    resp = admin_client.post(f"/phones/{extension}/edit", data={"csrf_token": t, "owner": "李娜", "model": "GXP1625"})
    assert resp.status_code == 302
    with store.session() as s:
        assert s.scalar(select(Phone.owner)) == "李娜"
    assert admin_client.post(f"/phones/{extension}/delete", data={"csrf_token": t}).status_code == 302
    with store.session() as s:
        assert s.scalar(select(Phone)) is None and s.scalar(select(Binding)) is None
        actions = [e.action for e in s.scalars(select(AuditEntry).where(AuditEntry.action.like("phone.%")))]
    assert actions == ["phone.create", "phone.disable", "phone.update", "phone.delete"]
    resp = admin_client.get(f"/phones/{extension}")
    assert resp.status_code == 302  # gone: back to the list with a message


def test_noc_views_but_cannot_manage(admin_client, noc_client, store):
    extension, _ = create(admin_client)
    assert noc_client.get("/phones").status_code == 200
    html = noc_client.get(f"/phones/{extension}").get_data(as_text=True)
    assert "reset-password" not in html and 'id="new-phone"' not in html
    t = csrf_token(html)
    for path in ("/phones/new", f"/phones/{extension}/delete", f"/phones/{extension}/password", "/phones/import"):
        assert noc_client.post(path, data={"csrf_token": t, "site_id": "dalad"}).status_code == 403, path
    assert noc_client.get("/phones/new").status_code == 403
    with store.session() as s:
        assert s.scalar(select(Phone.extension)) == extension


def test_list_filters_and_pagination(admin_client, store):
    for site in ("shulinzhao", "shulinzhao", "dalad", "city"):
        create(admin_client, site_id=site)
    add_binding(store, "301002")
    def rows(query):
        html = admin_client.get("/phones" + query).get_data(as_text=True)
        return re.findall(r'<tr data-extension="(\d+)"', html)
    assert rows("") == ["100001", "300001", "301001", "301002"]
    assert rows("?banner=dalad") == ["300001", "301001", "301002"]
    assert rows("?site=shulinzhao&registered=no") == ["301001"]
    assert rows("?registered=yes") == ["301002"]
    assert rows("?per_page=3&page=2") == ["301002"]
    assert rows("?q=3000") == ["300001"]


def test_csv_import_good_then_export_has_no_secret(admin_client, store):
    text = "site,display_name,mac\r\ndalad,旗政府办公室,00:00:00:00:00:01\r\nshulinzhao,镇值班室,\r\n"
    resp = admin_client.post(
        "/phones/import",
        data={"csrf_token": token(admin_client, "/phones/import"), "file": (io.BytesIO(text.encode()), "p.csv")},
        content_type="multipart/form-data",
    )
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    out = re.search(r'<textarea id="passwords-csv" hidden readonly>(.*?)</textarea>', html, re.S).group(1)
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["extension"], r["site"]) for r in rows] == [("300001", "dalad"), ("301001", "shulinzhao")]
    export = admin_client.get("/phones/export.csv")
    assert export.headers["Content-Type"].startswith("text/csv")
    body = export.get_data(as_text=True)
    with store.session() as s:
        hashes = [h for p in s.scalars(select(Phone)) for h in (p.ha1_md5, p.ha1_sha256)]
    for secret in [r["password"] for r in rows] + hashes:
        assert secret not in body
    assert "旗政府办公室" in body and "password" not in body.lower()


def test_csv_import_bad_lists_every_line_and_imports_nothing(admin_client, store):
    text = "site,extension\ndalad,\nnowhere,\ndalad,999999\n"
    resp = admin_client.post(
        "/phones/import",
        data={"csrf_token": token(admin_client, "/phones/import"), "file": (io.BytesIO(text.encode()), "p.csv")},
        content_type="multipart/form-data",
    )
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and 'id="import-errors"' in html
    assert "line 3: unknown site &#34;nowhere&#34;" in html
    assert "line 4: extension 999999 is not in site &#34;dalad&#34;" in html
    with store.session() as s:
        assert s.scalar(select(Phone)) is None
    latin1 = "site,display_name\ndalad,caf\xe9\n".encode("latin-1")
    resp = admin_client.post(
        "/phones/import",
        data={"csrf_token": token(admin_client, "/phones/import"), "file": (io.BytesIO(latin1), "p.csv")},
        content_type="multipart/form-data",
    )
    html = resp.get_data(as_text=True)
    assert 'id="import-errors"' in html and "“CSV UTF-8”" in html


def test_dashboard_counts_registrations_per_site_and_banner(admin_client, noc_client, store):
    create(admin_client, site_id="shulinzhao")
    create(admin_client, site_id="shulinzhao")
    create(admin_client, site_id="city")
    add_binding(store, "301001")
    html = noc_client.get("/phones/dashboard").get_data(as_text=True)
    assert re.search(r'id="total-registered">1<', html) and re.search(r'id="total-unregistered">2<', html)
    assert re.search(r'class="site tier-township share-most" data-site="shulinzhao"', html)
    assert re.search(r'class="site tier-city share-zero" data-site="city"', html)
    assert re.search(r'class="site tier-township share-none" data-site="hantai"', html)
    assert html.count('class="site ') == 59
    assert "<h1>IP电话试点</h1>" in html  # zh-CN by default, from the phones catalog
    assert re.search(r'<tr><td>baresip 3\.x</td><td class="num">1</td><td class="num">1</td></tr>', html)
    board = noc_client.get("/api/v1/phones/dashboard").get_json()
    assert board["totals"]["registered"] == 1
    dalad = next(b for b in board["banners"] if b["site"] == "dalad")
    assert (dalad["phones"], dalad["registered"], dalad["unregistered"]) == (2, 1, 1)
    assert board["user_agents"] == [{"user_agent": "baresip 3.x", "phones": 1, "registered": 1}]
