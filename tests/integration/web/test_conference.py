"""Conference pages and the host-control API through the Flask test client."""
from __future__ import annotations

from sqlalchemy import select

from conferencing import rooms
from tests.conftest import csrf_token, login
from topology.loader import load_inventory
from wangnet import accounts
from wangnet.config import PROJECT_ROOT

INV = load_inventory(PROJECT_ROOT / "inventory.yaml")
BANNERS = [s.id for s in INV.sites if s.tier == "banner"]
DALAD_TOWNSHIPS = [s.id for s in INV.children("dalad")]


def client_for(app, make_user, *roles, site=None, store=None):  # type: ignore[no-untyped-def]
    name = make_user(*roles)
    if site is not None:
        with store.session() as s:
            accounts.find_user(s, name).site_id = site
    client = app.test_client()
    assert login(client, name).status_code == 302
    token = csrf_token(client.get("/", follow_redirects=True).get_data(as_text=True))
    client.environ_base["HTTP_X_CSRFTOKEN"] = token
    return client, name


def create(client, **body):  # type: ignore[no-untyped-def]
    resp = client.post("/api/v1/conferences", json={"title": "全市视频会议", **body})
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["conference"]


def test_host_creates_invites_by_tier_and_banner(app, make_user, store):  # type: ignore[no-untyped-def]
    host, name = client_for(app, make_user, "host")
    conf = create(host, tier="all-banners")
    assert conf["state"] == "draft" and conf["host_site"] == "city"
    assert conf["sites"] == ["city", *BANNERS]
    cid = conf["id"]
    # "all townships of 达拉特旗", by its Chinese name
    resp = host.post(f"/api/v1/conferences/{cid}/invite", json={"banner": "达拉特旗"})
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["conference"]["sites"] == ["city", *BANNERS, *DALAD_TOWNSHIPS]
    # single sites; inviting twice adds nothing
    resp = host.post(f"/api/v1/conferences/{cid}/invite", json={"sites": ["sulide", "shulinzhao"]})
    assert resp.get_json()["conference"]["sites"][-1] == "sulide"
    bad = host.post(f"/api/v1/conferences/{cid}/invite", json={"sites": ["atlantis"]})
    assert bad.status_code == 400 and bad.get_json()["error"] == 'unknown site "atlantis": not in the inventory'
    both = host.post(f"/api/v1/conferences/{cid}/invite", json={"tier": "everyone", "banner": "dalad"})
    assert both.status_code == 400 and "exactly one of" in both.get_json()["error"]
    tier = host.post(f"/api/v1/conferences/{cid}/invite", json={"tier": "all-cities"})
    assert tier.status_code == 400 and 'unknown tier "all-cities"' in tier.get_json()["error"]
    with store.session() as s:
        actions = [(a.actor, a.action, a.target) for a in s.scalars(
            select(accounts.AuditEntry).where(accounts.AuditEntry.action.like("conference.%")).order_by(accounts.AuditEntry.id))]
    assert actions == [(name, "conference.create", f"conference:{cid}"),
                       (name, "conference.invite", f"conference:{cid}"),
                       (name, "conference.invite", f"conference:{cid}")]


def test_rollcall_broadcast_mute_rotate_change_state_and_layout(app, make_user, store):  # type: ignore[no-untyped-def]
    host, name = client_for(app, make_user, "host")
    cid = create(host, sites=["dalad", "shulinzhao", "zhandanzhao", "uxin"])["id"]
    assert host.post(f"/api/v1/conferences/{cid}/start", json={}).status_code == 200
    state = host.get(f"/api/v1/conferences/{cid}/state").get_json()
    assert state["conference"]["state"] == "running" and state["controls"]["mode"] == "default"
    assert state["layout_all"]["uxin"]["main"] == "city"  # nobody speaks yet: everyone sees the host

    resp = host.post(f"/api/v1/conferences/{cid}/rollcall", json={"site": "zhandanzhao"})
    assert resp.status_code == 200
    state = host.get(f"/api/v1/conferences/{cid}/state").get_json()
    assert state["controls"] == {"mode": "rollcall", "focus": "zhandanzhao", "muted": [], "rotate_seconds": 0.0,
                                 "grid": True}
    for site, view in state["layout_all"].items():
        if site == "zhandanzhao":
            assert view["main"] == "city" and view["audio"] == ["city"]
        else:
            assert view["main"] == "zhandanzhao" and view["audio"][0] == "zhandanzhao", site
    # only sites that joined appear in the live layout
    assert state["layout"] == {}
    with store.session() as s:
        for site in ("city", "uxin", "zhandanzhao"):
            rooms.record_event(s, cid, site, "joined", f"r-{site}")
    state = host.get(f"/api/v1/conferences/{cid}/state").get_json()
    assert set(state["layout"]) == {"city", "uxin", "zhandanzhao"} and state["layout"]["uxin"]["main"] == "zhandanzhao"
    assert state["presence"] == {"city": "joined", "uxin": "joined", "zhandanzhao": "joined"}

    assert host.post(f"/api/v1/conferences/{cid}/broadcast", json={"site": "uxin"}).status_code == 200
    state = host.get(f"/api/v1/conferences/{cid}/state").get_json()
    assert state["controls"]["mode"] == "broadcast"
    assert state["layout_all"]["dalad"] == {"main": "uxin", "thumbs": [], "audio": ["uxin"]}

    assert host.post(f"/api/v1/conferences/{cid}/mute", json={"site": "uxin", "muted": True}).status_code == 200
    state = host.get(f"/api/v1/conferences/{cid}/state").get_json()
    assert state["controls"]["muted"] == ["uxin"]
    assert all("uxin" not in v["audio"] for v in state["layout_all"].values())

    assert host.post(f"/api/v1/conferences/{cid}/rollcall", json={"site": None}).status_code == 200
    assert host.post(f"/api/v1/conferences/{cid}/rotate", json={"seconds": 10}).status_code == 200
    state = host.get(f"/api/v1/conferences/{cid}/state").get_json()
    assert state["controls"]["mode"] == "default" and state["controls"]["rotate_seconds"] == 10.0

    for path, body, status, message in [
        ("rollcall", {"site": "hanggin"}, 400, 'site "hanggin" is not invited'),
        ("rotate", {"seconds": 1}, 400, "rotation seconds must be 0 (off) or from 2"),
        ("rotate", {"seconds": "often"}, 400, "rotation seconds"),
        ("mute", {"site": "uxin", "muted": "yes"}, 400, "muted must be true or false"),
        ("mute", {}, 400, "mute needs a site"),
        ("grid", {"grid": 1}, 400, "grid must be true or false"),
        ("start", {}, 409, "only a draft can be started"),
    ]:
        resp = host.post(f"/api/v1/conferences/{cid}/{path}", json=body)
        assert resp.status_code == status and message in resp.get_json()["error"], (path, resp.get_json())
    not_json = host.post(f"/api/v1/conferences/{cid}/rollcall", data="site=uxin")
    assert not_json.status_code == 400 and "expected a JSON object" in not_json.get_json()["error"]

    assert host.post(f"/api/v1/conferences/{cid}/end", json={}).status_code == 200
    again = host.post(f"/api/v1/conferences/{cid}/end", json={})
    assert again.status_code == 409 and "already ended" in again.get_json()["error"]
    late = host.post(f"/api/v1/conferences/{cid}/invite", json={"sites": ["hanggin"]})
    assert late.status_code == 409
    with store.session() as s:
        audit = {(a.action, a.detail) for a in s.scalars(
            select(accounts.AuditEntry).where(accounts.AuditEntry.target == f"conference:{cid}"))}
    assert ("conference.rollcall", "site=zhandanzhao") in audit
    assert ("conference.broadcast", "site=uxin") in audit
    assert ("conference.mute", "site=uxin; muted=True") in audit
    assert ("conference.rotate", "seconds=10") in audit
    assert {"conference.start", "conference.end"} <= {a for a, _ in audit}


def test_plan_endpoint_gives_per_site_figures(app, make_user):  # type: ignore[no-untyped-def]
    host, _ = client_for(app, make_user, "host")
    cid = create(host, sites=["dalad", "zhandanzhao", "fengshuiliang", "uxin"])["id"]
    plan = host.get(f"/api/v1/conferences/{cid}/plan").get_json()
    sites = {r["site"]: r for r in plan["sites"]}
    assert set(sites) == {"city", "dalad", "zhandanzhao", "fengshuiliang", "uxin"}
    e1 = sites["zhandanzhao"]
    assert (e1["bridge"], e1["link_kbps"], e1["quality"], e1["max_thumbs"]) == ("dalad", 2000, "high", 0)
    assert e1["expected_kbps"] <= 2000 * 0.75 and e1["headroom_kbps"] == 2000 - e1["expected_kbps"]
    assert e1["streams"] == {"video": 1, "audio": 1} and e1["layout_kbps"] == 800 + 40
    assert sites["fengshuiliang"]["link_kbps"] == 10_000 and sites["fengshuiliang"]["name"] == "风水梁镇"
    trunks = {(t["from"], t["to"]): t for t in plan["trunks"]}
    assert set(trunks) == {("dalad", "city"), ("city", "dalad"), ("uxin", "city"), ("city", "uxin")}
    assert trunks[("city", "dalad")]["streams"] == ["city"]  # the host's picture goes down dalad's uplink once
    assert trunks[("city", "dalad")]["link_kbps"] == 1_000_000
    assert plan["present"] == [] and "trunks_now" in plan
    missing = host.get("/api/v1/conferences/999/plan")
    assert missing.status_code == 404 and missing.get_json()["error"] == "no conference 999"


def test_roles_are_enforced(app, make_user, store):  # type: ignore[no-untyped-def]
    host, _ = client_for(app, make_user, "host")
    mine = create(host, sites=["dalad"])["id"]
    other = create(host, sites=["uxin"])["id"]
    staff, _ = client_for(app, make_user, "staff")
    assert staff.get("/api/v1/conferences").status_code == 403
    assert staff.get("/conferences").status_code == 403
    assert staff.post(f"/api/v1/conferences/{mine}/start", json={}).status_code == 403
    site, _ = client_for(app, make_user, "site", site="dalad", store=store)
    # a site account reads only the conferences its site is invited to, and controls nothing
    assert [c["id"] for c in site.get("/api/v1/conferences").get_json()["items"]] == [mine]
    assert site.get(f"/api/v1/conferences/{mine}/state").status_code == 200
    refused = site.get(f"/api/v1/conferences/{other}/state")
    assert refused.status_code == 403 and "not invited" in refused.get_json()["error"]
    for path in ("start", "end", "rollcall", "invite", "mute", "rotate", "broadcast"):
        assert site.post(f"/api/v1/conferences/{mine}/{path}", json={"site": "dalad"}).status_code == 403, path
    assert site.get(f"/api/v1/conferences/{mine}/plan").status_code == 403
    assert site.get(f"/conferences/{mine}/host").status_code == 403
    page = site.get("/conferences").get_data(as_text=True)
    assert f'data-cid="{mine}"' in page and f'data-cid="{other}"' not in page and "conference-create" not in page
    unbound, _ = client_for(app, make_user, "site")
    assert unbound.get("/api/v1/conferences").get_json()["items"] == []
    assert unbound.get(f"/api/v1/conferences/{mine}/state").status_code == 403
    # an admin may do what a host does
    admin, _ = client_for(app, make_user, "admin")
    assert admin.post(f"/api/v1/conferences/{other}/start", json={}).status_code == 200


def test_json_api_needs_the_csrf_token(app, make_user):  # type: ignore[no-untyped-def]
    host, _ = client_for(app, make_user, "host")
    cid = create(host)["id"]
    del host.environ_base["HTTP_X_CSRFTOKEN"]
    resp = host.post(f"/api/v1/conferences/{cid}/start", json={})
    assert resp.status_code == 400 and "CSRF" in resp.get_json()["error"]


def test_pages_render_for_the_host(app, make_user):  # type: ignore[no-untyped-def]
    host, _ = client_for(app, make_user, "host")
    page = host.get("/conferences").get_data(as_text=True)
    assert 'id="conference-create"' in page
    token = csrf_token(page)
    resp = host.post("/conferences", data={"csrf_token": token, "title": "旗县长会议", "host_site": "city",
                                           "tier": "all-banners"})
    assert resp.status_code == 302 and "/host" in resp.headers["Location"]
    cid = int(resp.headers["Location"].rstrip("/").split("/")[-2])
    console = host.get(f"/conferences/{cid}/host").get_data(as_text=True)
    assert 'id="conference-host"' in console and f'data-cid="{cid}"' in console
    assert "js/conference-host.js" in console and "<script>" not in console
    assert 'data-thumbs="7"' in console  # the host's grid: the 8 other sites but the one in the main slot
    plan = host.get(f"/conferences/{cid}/plan").get_data(as_text=True)
    assert 'data-site="dalad"' in plan and "1,000,000 kbit/s" in plan
    assert "级联方案" in plan  # zh-CN first
    empty = host.post("/conferences", data={"csrf_token": token, "title": ""}, follow_redirects=True)
    assert "a conference needs a title" in empty.get_data(as_text=True)
    assert host.get("/conferences/999/host").status_code == 404
