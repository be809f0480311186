"""Administration: users and the audit log (admin role only)."""
from __future__ import annotations

from flask import Blueprint, current_app, render_template, request
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from wangnet import accounts
from web.security import NavItem, roles

bp = Blueprint("admin", __name__, url_prefix="/admin")
PAGE_SIZE = 50
NAV = [
    NavItem("admin.users", _l("Users"), frozenset({"admin"})),
    NavItem("admin.audit_log", _l("Audit log"), frozenset({"admin"})),
]


@bp.route("/users")
@roles("admin")
def users():  # type: ignore[no-untyped-def]
    with current_app.extensions["wangnet.store"].session() as s:
        rows = list(s.scalars(select(accounts.User).order_by(accounts.User.username)))
    return render_template("admin/users.html", users=rows, role_descriptions=accounts.ROLE_DESCRIPTIONS)


@bp.route("/audit")
@roles("admin")
def audit_log():  # type: ignore[no-untyped-def]
    page = max(request.args.get("page", 1, type=int), 1)
    with current_app.extensions["wangnet.store"].session() as s:
        total = s.scalar(select(func.count()).select_from(accounts.AuditEntry)) or 0
        entries = accounts.recent_audit(s, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    pages = max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1)
    return render_template("admin/audit.html", entries=entries, page=page, pages=pages, total=total)
