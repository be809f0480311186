"""Alerts: one per root cause, open / acknowledged / resolved, acknowledged with a comment (audited)."""
from __future__ import annotations

import json

from flask import Blueprint, abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import func, select

from collectors.models import Alert
from topology.schema import Inventory
from wangnet import accounts
from wangnet.accounts import utcnow
from web.openapi import api_doc
from web.security import NavItem, roles

bp = Blueprint("alerts", __name__)
VIEW_ROLES = ("admin", "noc", "host")
ACK_ROLES = ("admin", "noc")
STATES = ("open", "acknowledged", "resolved")
PAGE_SIZE = 50
MAX_PAGE = 100_000  # far past any real list; keeps OFFSET inside the database's integer range
NAV = [NavItem("alerts.alerts_page", _l("Alerts"), frozenset(VIEW_ROLES))]


def _inventory() -> Inventory:
    return current_app.extensions["wangnet.inventory"]


def _where(inv: Inventory, alert: Alert) -> tuple[str, set[str]]:
    """(tier of the failed element, banners it concerns) for filtering."""
    ids = alert.subject.split("+")
    sites: set[str] = set(json.loads(alert.cut_off_sites))
    for element in ids:
        try:
            if alert.kind == "device":
                sites.add(inv.device(element).site)
            elif alert.kind == "link":
                link = inv.link(element)
                sites.update({inv.device(link.a.device).site, inv.device(link.b.device).site})
            elif alert.kind == "service":
                sites.add(next(s.site for s in inv.services if s.id == element))
        except (KeyError, StopIteration):
            continue
    tiers = [inv.site(s).tier for s in sites if s in {x.id for x in inv.sites}]
    order = {"city": 0, "banner": 1, "township": 2}
    tier = max(tiers, key=lambda t: order[t]) if tiers else ""
    banners = set()
    for sid in sites:
        site = inv.site(sid)
        if site.tier == "banner":
            banners.add(site.id)
        elif site.tier == "township" and site.parent:
            banners.add(site.parent)
    return tier, banners


def alert_json(inv: Inventory, a: Alert) -> dict[str, object]:
    tier, banners = _where(inv, a)
    return {
        "id": a.id,
        "key": a.key,
        "kind": a.kind,
        "subject": a.subject,
        "severity": a.severity,
        "state": a.state,
        "tier": tier,
        "banners": sorted(banners),
        "cut_off_sites": json.loads(a.cut_off_sites),
        "cut_off_devices": json.loads(a.cut_off_devices),
        "flaps": a.flaps,
        "opened_at": a.opened_at.isoformat(),
        "last_seen_at": a.last_seen_at.isoformat(),
        "acknowledged_at": a.acknowledged_at.isoformat() if a.acknowledged_at else None,
        "acknowledged_by": a.acknowledged_by,
        "ack_comment": a.ack_comment,
        "resolved_at": a.resolved_at.isoformat() if a.resolved_at else None,
    }


def _query(state: str | None, tier: str | None, banner: str | None, page: int) -> tuple[list[dict[str, object]], int]:
    inv = _inventory()
    with current_app.extensions["wangnet.store"].session() as s:
        q = select(Alert).order_by(Alert.opened_at.desc(), Alert.id.desc())
        if state:
            q = q.where(Alert.state == state)
        if not tier and not banner:
            total = s.scalar(select(func.count()).select_from(q.subquery())) or 0
            rows = [alert_json(inv, a) for a in s.scalars(q.limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE))]
            return rows, total
        # tier/banner come from the topology, not the table: filter in Python over a bounded window
        rows = [alert_json(inv, a) for a in s.scalars(q.limit(5000))]
    rows = [r for r in rows if (not tier or r["tier"] == tier) and (not banner or banner in r["banners"])]
    return rows[(page - 1) * PAGE_SIZE : page * PAGE_SIZE], len(rows)


def _filters() -> tuple[str | None, str | None, str | None, int]:
    state = request.args.get("state") or None
    if state is not None and state not in STATES:
        abort(400, f"unknown state {state!r} (one of {', '.join(STATES)})")
    tier = request.args.get("tier") or None
    if tier is not None and tier not in ("city", "banner", "township"):
        abort(400, f"unknown tier {tier!r}")
    banner = request.args.get("banner") or None
    if banner is not None and banner not in {s.id for s in _inventory().sites if s.tier == "banner"}:
        abort(400, f"unknown banner {banner!r}")
    return state, tier, banner, min(max(request.args.get("page", 1, type=int) or 1, 1), MAX_PAGE)


def acknowledge(alert_id: int, comment: str) -> Alert:
    comment = comment.strip()
    if not comment:
        abort(400, _("A comment is needed to acknowledge an alert."))
    with current_app.extensions["wangnet.store"].session() as s:
        alert = s.get(Alert, alert_id)
        if alert is None:
            abort(404, f"no alert {alert_id}")
        if alert.state != "open":
            abort(409, f"alert {alert_id} is {alert.state}, only open alerts can be acknowledged")
        alert.state = "acknowledged"
        alert.acknowledged_at = utcnow()
        alert.acknowledged_by = current_user.username
        alert.ack_comment = comment[:2000]
        accounts.audit(s, current_user.username, "alert.ack", alert.key, comment[:2000], request.remote_addr or "")
        return alert


@bp.route("/alerts")
@roles(*VIEW_ROLES)
def alerts_page():  # type: ignore[no-untyped-def]
    state, tier, banner, page = _filters()
    rows, total = _query(state, tier, banner, page)
    inv = _inventory()
    return render_template(
        "alerts/list.html",
        rows=rows,
        total=total,
        page=page,
        pages=max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1),
        state=state or "",
        tier=tier or "",
        banner=banner or "",
        banners=[s for s in inv.sites if s.tier == "banner"],
        names={s.id: s.name for s in inv.sites},
        can_ack=bool(current_user.roles.intersection(ACK_ROLES)),
    )


@bp.route("/alerts/<int:alert_id>/ack", methods=["POST"])
@roles(*ACK_ROLES)
def ack_form(alert_id: int):  # type: ignore[no-untyped-def]
    acknowledge(alert_id, request.form.get("comment", ""))
    flash(_("Alert acknowledged."))
    return redirect(request.form.get("next") or url_for("alerts.alerts_page"))


@bp.route("/api/v1/alerts")
@roles(*VIEW_ROLES)
@api_doc(query={"state": {"type": "string", "enum": list(STATES)},
                "tier": {"type": "string", "enum": ["city", "banner", "township"]},
                "banner": {"type": "string"}, "page": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE}},
         responses={"400": "unknown state, tier or banner"})
def api_alerts():  # type: ignore[no-untyped-def]
    state, tier, banner, page = _filters()
    rows, total = _query(state, tier, banner, page)
    return jsonify(alerts=rows, total=total, page=page, page_size=PAGE_SIZE)


@bp.route("/api/v1/alerts/<int:alert_id>/ack", methods=["POST"])
@roles(*ACK_ROLES)
@api_doc(body={"type": "object", "required": ["comment"],
               "properties": {"comment": {"type": "string", "pattern": "\\S", "maxLength": 2000}}},
         responses={"409": "the alert is not open"})
def api_ack(alert_id: int):  # type: ignore[no-untyped-def]
    body = request.get_json(silent=True) or {}
    alert = acknowledge(alert_id, str(body.get("comment", "")))
    return jsonify(alert_json(_inventory(), alert))
