"""Conferences: the list, the host console, the cascade plan page, and the host-control JSON API.

``host`` (and ``admin``) create, invite, start, end and steer conferences;
a ``site`` account (bound to one inventory site) may only read the state of
the conferences its site is invited to — it joins through the terminal page
(``web.conference_media``). Views only translate HTTP into
``conferencing.rooms`` calls and write the audit log; the controller service
picks the changes up from the store and switches the bridges.
"""
from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy.orm import Session

from conferencing import rooms
from conferencing.controls import build_layout
from conferencing.layout import Layout
from conferencing.models import Conference
from conferencing.plan import CascadePlan, PlanError
from topology import Inventory
from wangnet import accounts
from wangnet.store import Store
from web.security import NavItem, roles

bp = Blueprint("conference", __name__)

RUN = ("admin", "host")
READ = ("admin", "host", "site")
NAV = [NavItem("conference.conference_list", _l("Conferences"), frozenset(READ))]


def _store() -> Store:
    return current_app.extensions["wangnet.store"]


def _inventory() -> Inventory:
    return current_app.extensions["wangnet.inventory"]


def _runs() -> bool:
    return bool(current_user.roles & set(RUN))


def _api_error(message: str, status: int = 400) -> Response:
    response = jsonify(error=message, status=status)
    response.status_code = status
    return response


def _status(exc: rooms.RoomError) -> int:
    return 404 if isinstance(exc, rooms.NotFound) else 409 if isinstance(exc, rooms.Conflict) else 400


def _audit(s: Session, action: str, cid: int, detail: str = "") -> None:
    accounts.audit(s, current_user.username, f"conference.{action}", f"conference:{cid}", detail,
                   request.remote_addr or "")


def _body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise rooms.RoomError("expected a JSON object body (Content-Type: application/json)")
    return data


def _site_names() -> dict[str, str]:
    return {s.id: s.name for s in _inventory().sites}


def _plan(conf: Conference) -> CascadePlan:
    return rooms.conference_plan(conf, _inventory(), _store().engine)


def _readable(s: Session, cid: int) -> Conference:
    """The conference, if this user may read it: hosts any, a site account only its site's."""
    conf = rooms.require(s, cid)
    if not _runs():
        own = rooms.site_of_user(s, int(current_user.id))
        if own is None or own not in rooms.invited_sites(conf):
            abort(403, "this site account's site is not invited to this conference")
    return conf


def conference_json(conf: Conference) -> dict[str, Any]:
    return {
        "id": conf.id, "title": conf.title, "host": conf.host, "host_site": conf.host_site, "state": conf.state,
        "created_at": conf.created_at.isoformat(),
        "started_at": conf.started_at.isoformat() if conf.started_at else None,
        "ended_at": conf.ended_at.isoformat() if conf.ended_at else None,
        "sites": rooms.invited_sites(conf),
    }


def state_json(s: Session, conf: Conference, plan: CascadePlan | None) -> dict[str, Any]:
    """Everything the host console and a terminal show: controls, who is there, the layouts."""
    presence = rooms.presence(s, conf.id)
    present = [site for site, kind in presence.items() if kind == "joined"]
    control = rooms.control_state(conf)
    layout = build_layout(control, plan, present) if plan is not None else Layout()
    layout_all = build_layout(control, plan) if plan is not None else Layout()
    return {
        "conference": conference_json(conf),
        "controls": {"mode": control.mode, "focus": control.focus, "muted": sorted(control.muted),
                     "rotate_seconds": control.rotate_seconds, "grid": control.grid},
        "speaker": conf.speaker,
        "revision": conf.revision,
        "presence": presence,
        "present": present,
        "layout": layout.to_json(),
        "layout_all": layout_all.to_json(),
        "events": [{"site": e.site_id, "kind": e.kind, "at": e.at.isoformat()} for e in rooms.events(s, conf.id)[-50:]],
    }


def plan_rows(plan: CascadePlan, layout: Layout) -> dict[str, Any]:
    """The plan per site and per trunk as the host sees it: streams, expected kbit/s, link headroom."""
    names = _site_names()
    tiers = {s.id: s.tier for s in _inventory().sites}
    sites = []
    for site, sp in plan.sites.items():
        view = layout.view(site)
        tier_kbps = plan.stream_kbps if sp.quality == "high" else plan.low_kbps
        now_kbps = len(view.video()) * tier_kbps + len(view.audio) * plan.audio_kbps
        sites.append({**sp.to_json(), "name": names.get(site, site), "tier": tiers.get(site, ""),
                      "streams": {"video": len(view.video()), "audio": len(view.audio)},
                      "layout_kbps": now_kbps})
    loads = plan.trunk_kbps(layout)
    carried = plan.trunk_streams(layout)
    trunks = []
    for bridge, trunk in plan.trunks.items():
        for key in ((bridge, trunk.parent), (trunk.parent, bridge)):
            trunks.append({"from": key[0], "to": key[1], "link_kbps": trunk.link_kbps,
                           "available_kbps": trunk.available_kbps, "utilisation": round(trunk.utilisation, 3),
                           "streams": list(carried.get(key, ())), "kbps": loads.get(key, 0),
                           "path_links": list(trunk.path_links)})
    return {"city": plan.city, "bridges": list(plan.bridges), "sites": sites, "trunks": trunks,
            "stream_kbps": plan.stream_kbps, "low_kbps": plan.low_kbps, "audio_kbps": plan.audio_kbps}


# ------------------------------------------------------------------ pages

@bp.route("/conferences")
@roles(*READ)
def conference_list():  # type: ignore[no-untyped-def]
    """Conferences: hosts see and create all; a site account sees those its site is invited to."""
    inv = _inventory()
    with _store().session() as s:
        if _runs():
            confs = rooms.list_conferences(s)
            own = None
        else:
            own = rooms.site_of_user(s, int(current_user.id))
            confs = rooms.conferences_for_site(s, own) if own else []
        items = [conference_json(c) for c in confs]
    return render_template(
        "conference/list.html", items=items, runs=_runs(), own_site=own, site_names=_site_names(),
        has_terminal="conference_media.terminal" in current_app.view_functions,
        sites=[s for s in inv.sites], banners=[s for s in inv.sites if s.tier == "banner"], tiers=rooms.TIERS,
    )


@bp.route("/conferences", methods=["POST"])
@roles(*RUN)
def conference_create():  # type: ignore[no-untyped-def]
    """Create a draft conference from the list page's form."""
    title = request.form.get("title", "")
    host_site = request.form.get("host_site") or None
    tier = request.form.get("tier") or None
    try:
        with _store().session() as s:
            conf = rooms.create_conference(s, _inventory(), title, current_user.username, host_site)
            if tier:
                rooms.invite(s, conf, rooms.resolve_invitation(_inventory(), tier=tier), current_user.username)
            _audit(s, "create", conf.id, f"title={conf.title}; sites={','.join(rooms.invited_sites(conf))}")
            cid = conf.id
    except rooms.RoomError as exc:
        flash(str(exc))
        return redirect(url_for("conference.conference_list"))
    return redirect(url_for("conference.host_console", cid=cid))


@bp.route("/conferences/<int:cid>/host")
@roles(*RUN)
def host_console(cid: int):  # type: ignore[no-untyped-def]
    """The host console: invite, start/end, roll-call, broadcast, rotate, mute, the plan, the grid."""
    inv = _inventory()
    with _store().session() as s:
        conf = rooms.get_conference(s, cid)
        if conf is None:
            abort(404, f"no conference {cid}")
        data = conference_json(conf)
        try:
            sp = _plan(conf).sites.get(conf.host_site)
        except PlanError:
            sp = None
    return render_template(
        "conference/host.html", conf=data, site_names=_site_names(), sites=list(inv.sites),
        banners=[s for s in inv.sites if s.tier == "banner"], tiers=rooms.TIERS,
        grid_thumbs=sp.max_thumbs if sp and sp.video else 0,
        whep_url=url_for("conference_media.whep", cid=cid, site=conf.host_site)
        if "conference_media.whep" in current_app.view_functions else "",
        terminal_url=url_for("conference_media.terminal", cid=cid)
        if "conference_media.terminal" in current_app.view_functions else "",
        labels={"live": _("present"), "absent": _("absent"), "lost": _("lost"), "left": _("left"),
                "rollcall": _("Roll-call"), "broadcast": _("Broadcast"), "mute": _("Mute"), "unmute": _("Unmute"),
                "speaker": _("speaking"), "muted": _("muted"), "error": _("Refused"),
                "h_site": _("Site"), "h_link": _("Link kbit/s"), "h_load": _("Utilisation"), "h_quality": _("Quality"),
                "h_streams": _("Streams (video + audio)"), "h_kbps": _("Expected kbit/s"),
                "h_headroom": _("Headroom kbit/s"), "h_trunk": _("Trunk"), "h_free": _("Free kbit/s"),
                "high": _("high"), "low": _("low"), "audio_only": _("audio only"),
                "draft": _("draft"), "running": _("running"), "ended": _("ended"),
                "mode_default": _("speaker view"), "mode_rollcall": _("Roll-call"), "mode_broadcast": _("Broadcast")},
    )


@bp.route("/conferences/<int:cid>/plan")
@roles(*RUN)
def plan_page(cid: int):  # type: ignore[no-untyped-def]
    """The cascade plan of one conference, server-rendered (no script needed)."""
    with _store().session() as s:
        conf = rooms.get_conference(s, cid)
        if conf is None:
            abort(404, f"no conference {cid}")
        try:
            plan = _plan(conf)
        except PlanError as exc:
            abort(409, str(exc))
        layout = build_layout(rooms.control_state(conf), plan)
        data = conference_json(conf)
    return render_template("conference/plan.html", conf=data, plan=plan_rows(plan, layout))


# ------------------------------------------------------------------ JSON API

@bp.route("/api/v1/conferences")
@roles(*READ)
def api_list():  # type: ignore[no-untyped-def]
    """Conferences this user may see (a site account: those its site is invited to)."""
    with _store().session() as s:
        if _runs():
            confs = rooms.list_conferences(s)
        else:
            own = rooms.site_of_user(s, int(current_user.id))
            confs = rooms.conferences_for_site(s, own) if own else []
        return jsonify(items=[conference_json(c) for c in confs])


@bp.route("/api/v1/conferences", methods=["POST"])
@roles(*RUN)
def api_create():  # type: ignore[no-untyped-def]
    """Create a draft conference: {title, host_site?, tier? | banner? | sites?}."""
    try:
        body = _body()
        unknown = sorted(set(body) - {"title", "host_site", "tier", "banner", "sites"})
        if unknown:
            raise rooms.RoomError(f"unknown field {unknown[0]!r}")
        inv = _inventory()
        with _store().session() as s:
            conf = rooms.create_conference(s, inv, str(body.get("title") or ""), current_user.username,
                                           body.get("host_site") or None)
            if any(body.get(k) for k in ("tier", "banner", "sites")):
                wanted = rooms.resolve_invitation(inv, body.get("tier"), body.get("banner"), body.get("sites"))
                rooms.invite(s, conf, wanted, current_user.username)
            _audit(s, "create", conf.id, f"title={conf.title}; sites={','.join(rooms.invited_sites(conf))}")
            data = conference_json(conf)
    except rooms.RoomError as exc:
        return _api_error(str(exc), _status(exc))
    response = jsonify(conference=data)
    response.status_code = 201
    response.headers["Location"] = url_for("conference.api_state", cid=data["id"])
    return response


@bp.route("/api/v1/conferences/<int:cid>/state")
@roles(*READ)
def api_state(cid: int):  # type: ignore[no-untyped-def]
    """The conference's controls, who is there, the speaker and the layouts."""
    try:
        with _store().session() as s:
            conf = _readable(s, cid)
            try:
                plan = _plan(conf)
            except PlanError:
                plan = None
            return jsonify(state_json(s, conf, plan))
    except rooms.RoomError as exc:
        return _api_error(str(exc), _status(exc))


@bp.route("/api/v1/conferences/<int:cid>/plan")
@roles(*RUN)
def api_plan(cid: int):  # type: ignore[no-untyped-def]
    """The cascade plan per site (streams, expected kbit/s, link headroom) and per trunk."""
    try:
        with _store().session() as s:
            conf = rooms.require(s, cid)
            plan = _plan(conf)
            present = [site for site, kind in rooms.presence(s, cid).items() if kind == "joined"]
            control = rooms.control_state(conf)
            everyone = plan_rows(plan, build_layout(control, plan))
            now = plan_rows(plan, build_layout(control, plan, present))
    except rooms.RoomError as exc:
        return _api_error(str(exc), _status(exc))
    except PlanError as exc:
        return _api_error(str(exc), 409)
    return jsonify({**everyone, "present": present, "trunks_now": now["trunks"]})


def _control(cid: int, action: str, change: Any) -> Response:
    """Run one control change on conference ``cid`` in one transaction with its audit row."""
    try:
        with _store().session() as s:
            conf = rooms.require(s, cid)
            detail = change(s, conf)
            _audit(s, action, cid, detail or "")
            data = conference_json(conf)
            revision = conf.revision
    except rooms.RoomError as exc:
        return _api_error(str(exc), _status(exc))
    return jsonify(ok=True, conference=data, revision=revision)


@bp.route("/api/v1/conferences/<int:cid>/start", methods=["POST"])
@roles(*RUN)
def api_start(cid: int):  # type: ignore[no-untyped-def]
    """Start a draft conference: the controller opens the bridges."""
    return _control(cid, "start", lambda s, conf: rooms.start(s, conf))


@bp.route("/api/v1/conferences/<int:cid>/end", methods=["POST"])
@roles(*RUN)
def api_end(cid: int):  # type: ignore[no-untyped-def]
    """End the conference: the controller closes the bridges and everyone leaves."""
    return _control(cid, "end", lambda s, conf: rooms.end(s, conf))


@bp.route("/api/v1/conferences/<int:cid>/invite", methods=["POST"])
@roles(*RUN)
def api_invite(cid: int):  # type: ignore[no-untyped-def]
    """Invite by tier ("all-banners", "all-townships", "everyone"), by banner (its townships) or single sites."""
    def change(s: Session, conf: Conference) -> str:
        body = _body()
        unknown = sorted(set(body) - {"tier", "banner", "sites"})
        if unknown:
            raise rooms.RoomError(f"unknown field {unknown[0]!r}")
        wanted = rooms.resolve_invitation(_inventory(), body.get("tier"), body.get("banner"), body.get("sites"))
        added = rooms.invite(s, conf, wanted, current_user.username)
        return f"{json.dumps({k: body[k] for k in body}, ensure_ascii=False)} -> added {','.join(added) or 'none'}"

    return _control(cid, "invite", change)


def _site_arg(body: dict[str, Any]) -> str | None:
    site = body.get("site")
    if site is not None and not isinstance(site, str):
        raise rooms.RoomError("site must be a site id or null")
    return site or None


@bp.route("/api/v1/conferences/<int:cid>/rollcall", methods=["POST"])
@roles(*RUN)
def api_rollcall(cid: int):  # type: ignore[no-untyped-def]
    """Roll-call (点名) {site}: everyone sees and hears it; {site: null} ends the roll-call."""
    def change(s: Session, conf: Conference) -> str:
        site = _site_arg(_body())
        rooms.set_focus(s, conf, "rollcall" if site else "default", site)
        return f"site={site or '-'}"

    return _control(cid, "rollcall", change)


@bp.route("/api/v1/conferences/<int:cid>/broadcast", methods=["POST"])
@roles(*RUN)
def api_broadcast(cid: int):  # type: ignore[no-untyped-def]
    """Broadcast (广播) {site}: one site to all; {site: null} ends it."""
    def change(s: Session, conf: Conference) -> str:
        site = _site_arg(_body())
        rooms.set_focus(s, conf, "broadcast" if site else "default", site)
        return f"site={site or '-'}"

    return _control(cid, "broadcast", change)


@bp.route("/api/v1/conferences/<int:cid>/rotate", methods=["POST"])
@roles(*RUN)
def api_rotate(cid: int):  # type: ignore[no-untyped-def]
    """Rotate (轮巡) the host's view through the sites every {seconds}; 0 stops."""
    def change(s: Session, conf: Conference) -> str:
        seconds = _body().get("seconds")
        rooms.set_rotation(s, conf, seconds)  # type: ignore[arg-type]
        return f"seconds={seconds}"

    return _control(cid, "rotate", change)


@bp.route("/api/v1/conferences/<int:cid>/mute", methods=["POST"])
@roles(*RUN)
def api_mute(cid: int):  # type: ignore[no-untyped-def]
    """Mute or unmute a site {site, muted}: a muted site is in nobody's audio."""
    def change(s: Session, conf: Conference) -> str:
        body = _body()
        site, muted = _site_arg(body), body.get("muted", True)
        if site is None:
            raise rooms.RoomError("mute needs a site")
        rooms.set_muted(s, conf, site, muted)
        return f"site={site}; muted={muted}"

    return _control(cid, "mute", change)


@bp.route("/api/v1/conferences/<int:cid>/grid", methods=["POST"])
@roles(*RUN)
def api_grid(cid: int):  # type: ignore[no-untyped-def]
    """Multi-view on the host's screen {grid: true|false}."""
    def change(s: Session, conf: Conference) -> str:
        grid = _body().get("grid")
        if not isinstance(grid, bool):
            raise rooms.RoomError("grid must be true or false")
        rooms.set_grid(s, conf, grid)
        return f"grid={grid}"

    return _control(cid, "grid", change)
