"""Impact and path tools: what a failure would cut off, single points of failure, paths with their slowest link."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, jsonify, render_template, request
from flask_babel import lazy_gettext as _l

from topology.analysis import NoPath, impact_of_device, impact_of_link, path_between, single_points_of_failure
from topology.graph import build_graph
from topology.schema import Inventory
from web.openapi import api_doc
from web.security import NavItem, roles

bp = Blueprint("tools", __name__)
VIEW_ROLES = ("admin", "noc", "host")
NAV = [NavItem("tools.tools_page", _l("Impact and paths"), frozenset(VIEW_ROLES))]


def _inventory() -> Inventory:
    return current_app.extensions["wangnet.inventory"]


def _graph():  # type: ignore[no-untyped-def]
    """The graph is built once per app: the inventory does not change while it runs."""
    g = current_app.extensions.get("wangnet.graph")
    if g is None:
        g = current_app.extensions["wangnet.graph"] = build_graph(_inventory())
    return g


def impact_json(link: str | None, device: str | None) -> dict[str, object]:
    if bool(link) == bool(device):
        abort(400, "give exactly one of link= or device=")
    try:
        impact = impact_of_link(_graph(), link) if link else impact_of_device(_graph(), device)  # type: ignore[arg-type]
    except KeyError as exc:
        abort(404, str(exc.args[0]) if exc.args else "unknown element")
    return {"link": link, "device": device, "cut_off_sites": list(impact.cut_off_sites), "cut_off_devices": list(impact.cut_off_devices)}


def _members(inv: Inventory, ident: str) -> list[str]:
    ids = {d.id for d in inv.devices}
    if ident in ids:
        return [ident]
    try:
        return [d.id for d in inv.devices_at(ident)]
    except KeyError:
        abort(404, f"no site or device {ident!r}")


def path_json(a: str, b: str) -> dict[str, object]:
    inv = _inventory()
    if not a or not b:
        abort(400, "give a= and b= (site or device ids)")
    try:
        path = path_between(_graph(), _members(inv, a), _members(inv, b))
    except NoPath as exc:
        abort(409, str(exc))
    speeds = {l.id: l.speed_mbps for l in inv.links}
    slowest = min(path.links, key=lambda l: speeds[l]) if path.links else None
    return {"from": a, "to": b, "devices": list(path.devices), "links": list(path.links), "hops": path.hops,
            "bottleneck_mbps": path.bottleneck_mbps, "slowest_link": slowest}


def spof_json() -> dict[str, object]:
    spof = single_points_of_failure(_graph())

    def entries(items):  # type: ignore[no-untyped-def]
        return [{"id": e.id, "tier": e.tier, "cut_off_sites": list(e.impact.cut_off_sites)} for e in items]

    return {"links": entries(spof.links), "devices": entries(spof.devices)}


@bp.route("/network/tools")
@roles(*VIEW_ROLES)
def tools_page():  # type: ignore[no-untyped-def]
    inv = _inventory()
    impact = path = None
    if request.args.get("link") or request.args.get("device"):
        impact = impact_json(request.args.get("link") or None, request.args.get("device") or None)
    if request.args.get("a") or request.args.get("b"):
        path = path_json(request.args.get("a", ""), request.args.get("b", ""))
    return render_template(
        "tools/tools.html", inv=inv, impact=impact, path=path, spof=spof_json(),
        names={s.id: s.name for s in inv.sites}, args=request.args,
    )


@bp.route("/api/v1/topology/impact")
@roles(*VIEW_ROLES)
@api_doc(query={"link": {"type": "string"}, "device": {"type": "string"}},
         responses={"400": "give exactly one of link= or device="})
def api_impact():  # type: ignore[no-untyped-def]
    return jsonify(impact_json(request.args.get("link") or None, request.args.get("device") or None))


@bp.route("/api/v1/topology/path")
@roles(*VIEW_ROLES)
@api_doc(query={"a": {"type": "string", "minLength": 1}, "b": {"type": "string", "minLength": 1}}, required=("a", "b"),
         responses={"409": "no path between the two (a failure cuts them apart)"})
def api_path():  # type: ignore[no-untyped-def]
    return jsonify(path_json(request.args.get("a", ""), request.args.get("b", "")))


@bp.route("/api/v1/topology/spof")
@roles(*VIEW_ROLES)
def api_spof():  # type: ignore[no-untyped-def]
    return jsonify(spof_json())
