"""The network area: the 王 map and the topology API (read from the inventory, never from devices)."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, jsonify, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from topology import Inventory
from topology.layout import wang_layout
from web.openapi import api_doc
from web.security import ANY_ROLE, NavItem, roles

bp = Blueprint("network", __name__)

MAP_ROLES = ("admin", "noc", "host", "phone-admin")
NAV = [NavItem("network.map_page", _l("Network map"), frozenset(MAP_ROLES))]
SPEED_CLASSES = ((1000, "fast"), (100, "medium"), (10, "slow"), (0, "e1"))


def inventory() -> Inventory:
    return current_app.extensions["wangnet.inventory"]


def speed_class(speed_mbps: int) -> str:
    """CSS class by link speed: the slow links are the ones a host must care about."""
    for floor, name in SPEED_CLASSES:
        if speed_mbps >= floor:
            return name
    return "e1"


def site_json(inv: Inventory, site_id: str, with_detail: bool = False) -> dict[str, object]:
    site = inv.site(site_id)
    data: dict[str, object] = {
        "id": site.id,
        "name": site.name,
        "name_en": site.name_en,
        "tier": site.tier,
        "parent": site.parent,
        "lan": str(site.lan),
        "departments": list(site.departments),
        "devices": [d.id for d in inv.devices_at(site.id)],
    }
    if with_detail:
        data["devices"] = [
            {
                "id": d.id,
                "role": d.role,
                "platform": d.platform,
                "model": d.model,
                "mgmt": str(d.mgmt),
                "interfaces": list(d.interfaces),
            }
            for d in inv.devices_at(site.id)
        ]
        data["links"] = [link_json(inv, link) for link in inv.links if site.id in _link_sites(inv, link)]
        data["children"] = [c.id for c in inv.children(site.id)]
    return data


def _link_sites(inv: Inventory, link) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    return inv.device(link.a.device).site, inv.device(link.b.device).site


def link_json(inv: Inventory, link) -> dict[str, object]:  # type: ignore[no-untyped-def]
    a_site, b_site = _link_sites(inv, link)
    return {
        "id": link.id,
        "a_device": link.a.device,
        "a_interface": link.a.interface,
        "a_site": a_site,
        "b_device": link.b.device,
        "b_interface": link.b.interface,
        "b_site": b_site,
        "speed_mbps": link.speed_mbps,
        "medium": link.medium,
    }


@bp.route("/")
@roles(*ANY_ROLE)
def index():  # type: ignore[no-untyped-def]
    if current_user.roles.intersection(MAP_ROLES):
        return redirect(url_for("network.map_page"))
    return render_template("home.html")


@bp.route("/network/map")
@roles(*MAP_ROLES)
def map_page():  # type: ignore[no-untyped-def]
    inv = inventory()
    layout = wang_layout(inv)
    drawn_links = []
    for link in inv.links:
        a_site, b_site = _link_sites(inv, link)
        if a_site == b_site:
            continue  # intra-site links are listed in the site panel, not drawn
        a = layout.anchor(link.a.device, a_site)
        b = layout.anchor(link.b.device, b_site)
        drawn_links.append({"link": link, "a": a, "b": b, "cls": speed_class(link.speed_mbps)})
    tiers = {"city": 0, "banner": 0, "township": 0}
    for site in inv.sites:
        tiers[site.tier] = tiers.get(site.tier, 0) + 1
    return render_template(
        "network/map.html",
        inv=inv,
        layout=layout,
        links=drawn_links,
        tiers=tiers,
        city_departments=[d for s in inv.sites if s.tier == "city" for d in s.departments],
    )


@bp.route("/api/v1/topology/summary")
@roles(*MAP_ROLES)
def api_summary():  # type: ignore[no-untyped-def]
    inv = inventory()
    sites = {"city": 0, "banner": 0, "township": 0}
    for site in inv.sites:
        sites[site.tier] += 1
    return jsonify(sites=sites, devices=len(inv.devices), links=len(inv.links))


@bp.route("/api/v1/sites")
@roles(*MAP_ROLES)
@api_doc(query={"tier": {"type": "string", "enum": ["city", "banner", "township"]}})
def api_sites():  # type: ignore[no-untyped-def]
    inv = inventory()
    tier = request.args.get("tier")
    return jsonify([site_json(inv, s.id) for s in inv.sites if tier is None or s.tier == tier])


@bp.route("/api/v1/sites/<site_id>")
@roles(*MAP_ROLES)
def api_site(site_id: str):  # type: ignore[no-untyped-def]
    inv = inventory()
    try:
        inv.site(site_id)
    except KeyError:
        abort(404, f"no site {site_id!r}")
    return jsonify(site_json(inv, site_id, with_detail=True))


@bp.route("/api/v1/links")
@roles(*MAP_ROLES)
def api_links():  # type: ignore[no-untyped-def]
    inv = inventory()
    return jsonify([link_json(inv, link) for link in inv.links])
