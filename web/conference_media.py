"""WHIP/WHEP signalling for the conference bridge, and the site terminal page.

POST an SDP offer (``Content-Type: application/sdp``) to ``.../whip`` to
publish a site's camera and microphone, or to ``.../whep`` to receive what
the layout gives the site; the answer comes back with ``201 Created`` and a
``Location`` naming the resource, which a ``DELETE`` ends. The bridges live on
the runtime loop (``conferencing.media.ConferenceMedia``); these views only
check who may act for which site and hand the offer over.

Bridges in other processes (``wangnet bridge --site``) pull trunks through
``/api/v1/conferences/<cid>/trunks``: no login session there, only the bridge
secret as a bearer token, which opens trunks and nothing else
(``conferencing.remote_trunk`` has the exchange).
"""
from __future__ import annotations

import hmac
from typing import Any, Callable

from flask import Blueprint, Response, abort, current_app, jsonify, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from conferencing import rooms
from conferencing.bridge import MediaError
from conferencing.media import ConferenceMedia, NotFound
from conferencing.plan import PlanError
from conferencing.remote_trunk import TrunkRequestError, parse_trunk_request
from web.security import ROLES_ATTR, roles

bp = Blueprint("conference_media", __name__)
JOIN_ROLES = ("host", "admin", "site")
ANY_SITE_ROLES = frozenset({"host", "admin"})
SIGNAL_TIMEOUT = 30.0


@bp.record_once
def _find_media(state: Any) -> None:
    """The ConferenceMedia service the runtime hosts (None when this process runs no bridge, e.g. ``wangnet web``)."""
    ext = state.app.extensions
    if ext.get("conference_media") is None:
        runtime = ext.get("wangnet.runtime")
        ext["conference_media"] = runtime.find(ConferenceMedia) if runtime is not None else None
    csrf = ext.get("csrf")
    if csrf is not None:  # bearer-token routes: no cookie, so nothing for a cross-site request to ride on
        for view in (trunk_open, trunk_resource):
            csrf.exempt(view)
    state.app.login_manager.request_loader(_bridge_user)


def _error(message: str, status: int) -> Response:
    response = jsonify(error=message, status=status)
    response.status_code = status
    return response


def _may_act_for(session: Any, site: str) -> str | None:
    """None when the user may act for ``site``, else why not."""
    if current_user.roles & ANY_SITE_ROLES:
        return None
    own = rooms.site_of_user(session, int(current_user.id))
    if own != site:
        return f'this account joins as site "{own}" only, not "{site}"' if own else "this account is bound to no site"
    return None


def _negotiate(cid: int, site: str, direction: str) -> Response:
    media: ConferenceMedia | None = current_app.extensions.get("conference_media")
    runtime = current_app.extensions.get("wangnet.runtime")
    if request.mimetype != "application/sdp":
        return _error(f"expected Content-Type application/sdp with an SDP offer, not {request.mimetype or 'none'!r}", 415)
    offer = request.get_data(as_text=True)
    store = current_app.extensions["wangnet.store"]
    with store.session() as session:
        conf = rooms.get_conference(session, cid)
        if conf is None:
            return _error(f"no conference {cid}", 404)
        refusal = _may_act_for(session, site)
        if refusal:
            return _error(refusal, 403)
        if site not in rooms.invited_sites(conf):
            return _error(f'site "{site}" is not invited to conference {cid}', 404)
        if conf.state != "running":
            return _error(f"conference {cid} is not running (it is {conf.state})", 409)
        if media is None or runtime is None:
            return _error("no conference bridge runs in this process (start `wangnet serve` or `wangnet bridge`)", 503)
        plan = None
        if not media.is_open(str(cid)) or site not in media.conferences[str(cid)].plan.sites:
            try:
                plan = rooms.conference_plan(conf, current_app.extensions["wangnet.inventory"], store.engine)
            except PlanError as exc:
                return _error(str(exc), 409)
    try:
        if plan is not None:  # the controller opens it on its tick; a browser that is quicker opens it here
            runtime.call(media.open(str(cid), plan), timeout=SIGNAL_TIMEOUT)
        call = media.publish if direction == "whip" else media.subscribe
        rid, answer = runtime.call(call(str(cid), site, offer), timeout=SIGNAL_TIMEOUT)
    except NotFound as exc:
        return _error(str(exc), 404)
    except MediaError as exc:
        return _error(str(exc), 400)
    response = Response(answer, status=201, mimetype="application/sdp")
    response.headers["Location"] = url_for("conference_media.leave", cid=cid, rid=rid)
    return response


@bp.route("/api/v1/conferences/<int:cid>/sites/<site>/whip", methods=["POST"])
@roles(*JOIN_ROLES)
def whip(cid: int, site: str) -> Response:
    """Publish the site's camera and microphone (WHIP)."""
    return _negotiate(cid, site, "whip")


@bp.route("/api/v1/conferences/<int:cid>/sites/<site>/whep", methods=["POST"])
@roles(*JOIN_ROLES)
def whep(cid: int, site: str) -> Response:
    """Receive what the layout gives the site (WHEP): recvonly offer, 1 main + N thumbnail videos, M audios."""
    return _negotiate(cid, site, "whep")


@bp.route("/api/v1/conferences/<int:cid>/resources/<rid>", methods=["DELETE"])
@roles(*JOIN_ROLES)
def leave(cid: int, rid: str) -> Response:
    media: ConferenceMedia | None = current_app.extensions.get("conference_media")
    runtime = current_app.extensions.get("wangnet.runtime")
    if media is None or runtime is None:
        return _error(f'resource "{rid}" does not exist: no conference bridge runs in this process', 404)
    site = media.resource_site(rid)
    if site is None or media.conference_of(rid) != str(cid):
        return _error(f'resource "{rid}" does not exist in conference {cid} (already left?)', 404)
    with current_app.extensions["wangnet.store"].session() as session:
        refusal = _may_act_for(session, site)
    if refusal:
        return _error(refusal, 403)
    try:
        runtime.call(media.leave(rid), timeout=SIGNAL_TIMEOUT)
    except NotFound as exc:
        return _error(str(exc), 404)
    return Response(status=204)


@bp.route("/conferences/<int:cid>/terminal")
@roles(*JOIN_ROLES)
def terminal(cid: int) -> str:
    """A site's terminal: its camera and microphone out, the main picture, thumbnails and audio in."""
    store = current_app.extensions["wangnet.store"]
    with store.session() as session:
        conf = rooms.get_conference(session, cid)
        if conf is None:
            abort(404, f"no conference {cid}")
        invited = rooms.invited_sites(conf)
        if current_user.roles & ANY_SITE_ROLES:
            site = request.args.get("site") or conf.host_site
        else:
            site = rooms.site_of_user(session, int(current_user.id)) or ""
            if request.args.get("site") not in (None, site):
                abort(403, f'this account joins as site "{site}" only')
        if site not in invited:
            abort(404, f'site "{site}" is not invited to conference {cid}')
        title, state = conf.title, conf.state
        try:
            plan = rooms.conference_plan(conf, current_app.extensions["wangnet.inventory"], None).sites[site]
        except (PlanError, KeyError) as exc:
            abort(409, str(exc))
    inventory = current_app.extensions["wangnet.inventory"]
    names = {s.id: s.name for s in inventory.sites}
    return render_template(
        "conference/terminal.html",
        cid=cid, title=title, state=state, site=site, site_name=names.get(site, site), site_names=names,
        thumbs=min(plan.max_thumbs, 4) if plan.video else 0, audios=plan.max_audio, video=plan.video,
        publish_kbps=plan.publish_kbps,
        whip_url=url_for("conference_media.whip", cid=cid, site=site),
        whep_url=url_for("conference_media.whep", cid=cid, site=site),
        state_url=f"/api/v1/conferences/{cid}/state",
        labels={"connecting": _("Connecting…"), "connected": _("Connected"), "failed": _("Connection failed"),
                "left": _("Left the conference"), "nothing": _("No picture")},
    )


# ------------------------------------------------------------------ trunks between bridge processes

BRIDGE_ROLE = "bridge"
"""A service role no account can hold (not in ``wangnet.accounts.ROLES``): only the bridge secret gives it."""


def _bridge_user(req: Any) -> Any:
    """Flask-Login's request loader: a bearer token equal to the bridge secret is a bridge process, else nobody."""
    from web.auth import SessionUser

    scheme, _, given = req.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        return None
    directory = getattr(current_app.extensions.get("conference_media"), "directory", None)
    token = getattr(directory, "token", None)
    if token is None:
        current_app.logger.warning("a bridge presented a token, but no bridge secret is set here "
                                   "(WANGNET_CRED_CONFERENCE_BRIDGE_TOKEN): refused")
        return None
    if not hmac.compare_digest(given.strip().encode(), token.reveal().encode()):
        return None
    return SessionUser(0, "bridge", "bridge process", frozenset({BRIDGE_ROLE}))


def _for_bridges(view: Callable[..., Response]) -> Callable[..., Response]:
    """The role gate lets only bridge processes (``BRIDGE_ROLE``) through; every account role gets 403."""
    setattr(view, ROLES_ATTR, frozenset({BRIDGE_ROLE}))
    return view


@bp.route("/api/v1/conferences/<int:cid>/trunks", methods=["POST"])
@_for_bridges
def trunk_open(cid: int) -> Response:
    """A bridge in another process pulls a source's streams from one of this process's bridges: 201 + SDP offer."""
    media: ConferenceMedia | None = current_app.extensions.get("conference_media")
    runtime = current_app.extensions.get("wangnet.runtime")
    if media is None or runtime is None:
        return _error("no conference bridge runs in this process", 503)
    if request.mimetype != "application/json":
        return _error(f"expected Content-Type application/json, not {request.mimetype or 'none'!r}", 415)
    try:
        key = parse_trunk_request(request.get_data())
        tid, offer = runtime.call(media.offer_trunk(str(cid), key), timeout=SIGNAL_TIMEOUT)
    except TrunkRequestError as exc:
        return _error(str(exc), 400)
    except NotFound as exc:
        return _error(str(exc), 404)
    except MediaError as exc:
        return _error(str(exc), 400)
    response = Response(offer, status=201, mimetype="application/sdp")
    response.headers["Location"] = url_for("conference_media.trunk_resource", cid=cid, rid=tid)
    return response


@bp.route("/api/v1/conferences/<int:cid>/trunks/<rid>", methods=["PATCH", "GET", "DELETE"])
@_for_bridges
def trunk_resource(cid: int, rid: str) -> Response:
    """PATCH: the SDP answer (204); GET: the downstream's keep-alive probe; DELETE: close the trunk."""
    media: ConferenceMedia | None = current_app.extensions.get("conference_media")
    runtime = current_app.extensions.get("wangnet.runtime")
    if media is None or runtime is None:
        return _error(f'trunk "{rid}" does not exist: no conference bridge runs in this process', 404)
    try:
        if request.method == "GET":
            return jsonify(runtime.call(_value(media.probe_trunk, str(cid), rid), timeout=SIGNAL_TIMEOUT))
        if request.method == "DELETE":
            runtime.call(media.close_trunk(str(cid), rid), timeout=SIGNAL_TIMEOUT)
            return Response(status=204)
        if request.mimetype != "application/sdp":
            return _error(f"expected Content-Type application/sdp with the SDP answer, not "
                          f"{request.mimetype or 'none'!r}", 415)
        runtime.call(media.accept_trunk(str(cid), rid, request.get_data(as_text=True)), timeout=SIGNAL_TIMEOUT)
        return Response(status=204)
    except NotFound as exc:
        return _error(str(exc), 404)
    except MediaError as exc:
        return _error(str(exc), 400)


async def _value(fn: Callable[..., Any], *args: Any) -> Any:
    """Run a plain method on the runtime loop (the media's state belongs to that thread)."""
    return fn(*args)
