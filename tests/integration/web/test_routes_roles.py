"""Every route refuses anonymous requests and users without its role — derived from the app itself."""
from __future__ import annotations

import pytest

from tests.conftest import csrf_token, login
from wangnet.accounts import ROLES
from web.security import required_roles

SAMPLE_ARGS = {"site_id": "dalad", "device_id": "dalad-rt", "version": 1, "code": "en", "filename": "css/app.css", "extension": "300001",
               "episode_id": 1, "name": "thumb.jpg", "view_id": 1, "alert_id": 1,
               "cid": 1, "site": "dalad", "rid": "x", "ifname": "GE1-0-1"}


def routes(app):
    """(endpoint, url, method, allowed roles or None when public) for every rule but static."""
    out = []
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            if rule.endpoint == "static":
                continue
            view = app.view_functions[rule.endpoint]
            url = rule.build({a: SAMPLE_ARGS[a] for a in rule.arguments})[1]
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                out.append((rule.endpoint, url, method, required_roles(view)))
    return out


def test_every_route_declares_roles_or_is_public(app):
    undeclared = [ep for ep, _, _, needed in routes(app) if needed is not None and not needed]
    assert undeclared == []
    public = sorted({ep for ep, _, _, needed in routes(app) if needed is None})
    assert public == ["auth.login"]


def test_anonymous_is_refused_everywhere(app):
    client = app.test_client()
    checked = 0
    for endpoint, url, method, needed in routes(app):
        if needed is None:
            continue
        resp = client.open(url, method=method)
        if url.startswith("/api/"):
            assert resp.status_code == 401, (endpoint, method)
            assert resp.get_json()["error"] == "login required"
        elif method == "POST":
            # CSRF is checked before the role gate; either way nothing happens
            assert resp.status_code in (302, 400), (endpoint, method, resp.status_code)
        else:
            assert resp.status_code == 302, (endpoint, method)
            assert "/login" in resp.headers["Location"]
        checked += 1
    assert checked >= 8


@pytest.mark.parametrize("role", ROLES)
def test_each_role_reaches_exactly_its_routes(app, make_user, role):
    client = app.test_client()
    assert login(client, make_user(role)).status_code == 302
    token = csrf_token(client.get("/", follow_redirects=True).get_data(as_text=True))
    for endpoint, url, method, needed in routes(app):
        if needed is None or endpoint == "auth.logout":
            continue
        data = {"csrf_token": token} if method == "POST" else None
        resp = client.open(url, method=method, data=data)
        if role in needed:
            # past the role gate a route may still refuse the empty sample body (400), a sample id that
            # does not exist (404) or a state change that does not apply (409) — never 401/403 or a crash
            assert resp.status_code not in (401, 403) and resp.status_code < 500, (role, endpoint, resp.status_code)
        else:
            assert resp.status_code == 403, (role, endpoint, resp.status_code)


def test_logout_requires_login_and_csrf(app, make_user):
    client = app.test_client()
    login(client, make_user("staff"))
    assert client.post("/logout").status_code == 400  # no CSRF token
    token = csrf_token(client.get("/").get_data(as_text=True))
    resp = client.post("/logout", data={"csrf_token": token})
    assert resp.status_code == 302
    assert client.get("/api/v1/sites").status_code == 401
