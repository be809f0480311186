"""The IP-phone trial's pages and API: phone registry, extension plan, CSV, and the trial dashboard.

``phone-admin`` (and ``admin``) manage phones; ``noc`` views them. A SIP
password is shown once — in the response to the create, reset or import
request — and is never stored, so no later page or API call can show it
again. Views only translate HTTP to ``telephony.registry`` calls.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, Response, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from telephony import phone_csv, registry, trial
from telephony.models import Phone
from telephony.plan import ExtensionPlan, build_plan
from telephony.registry import Context, PhoneFields, PhoneNotFound, RegistryError
from topology import Inventory
from topology.layout import wang_layout
from wangnet.store import Store
from web.security import NavItem, roles

bp = Blueprint("phones", __name__)

MANAGE = ("admin", "phone-admin")
VIEW = ("admin", "phone-admin", "noc")
NAV = [
    NavItem("phones.dashboard", _l("Phone trial"), frozenset(VIEW)),
    NavItem("phones.phone_list", _l("Phones"), frozenset(VIEW)),
]
PER_PAGE = 50
MAX_PER_PAGE = 500
FORM_FIELDS = ("site_id", "extension", "display_name", "department", "mac", "model", "owner")


def _inventory() -> Inventory:
    return current_app.extensions["wangnet.inventory"]


def _store() -> Store:
    return current_app.extensions["wangnet.store"]


def _ctx() -> Context:
    settings = current_app.extensions["wangnet.settings"]
    inv = _inventory()
    return Context(
        plan=trial_plan(),
        site_names={s.id: s.name for s in inv.sites},
        departments={s.id: tuple(s.departments) for s in inv.sites},
        realm=settings.sip_realm,
        actor=current_user.username,
        remote_addr=request.remote_addr or "",
    )


def _can_manage() -> bool:
    return current_user.is_authenticated and bool(current_user.roles.intersection(MANAGE))


def _fmt_time(value: datetime | None) -> str:
    value = trial.as_utc(value)
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else "—"


def _iso(value: datetime | None) -> str | None:
    value = trial.as_utc(value)
    return value.isoformat(timespec="seconds") if value else None


@bp.context_processor
def _helpers() -> dict[str, Any]:
    names = {s.id: s.name for s in _inventory().sites}
    return {
        "fmt_time": _fmt_time,
        "site_name": lambda site_id: names.get(site_id, site_id),  # a site gone from the inventory shows its id
        "can_manage": _can_manage(),
        "sip_realm": current_app.extensions["wangnet.settings"].sip_realm,
    }


def _site_groups(inv: Inventory) -> list[tuple[Any, list[Any]]]:
    """Sites for a <select>: the city, then each banner followed by its townships."""
    groups = [(s, []) for s in inv.sites if s.tier == "city"]
    groups += [(b, inv.children(b.id)) for b in inv.sites if b.tier == "banner"]
    return groups


def _registered_arg(value: str | None) -> bool | None:
    return {"yes": True, "no": False}.get(value or "")


def _filters() -> dict[str, Any]:
    per_page = min(max(request.args.get("per_page", PER_PAGE, type=int) or PER_PAGE, 1), MAX_PER_PAGE)
    return {
        "site": request.args.get("site") or None,
        "banner": request.args.get("banner") or None,
        "registered": _registered_arg(request.args.get("registered")),
        "query": (request.args.get("q") or "").strip() or None,
        "page": request.args.get("page", 1, type=int) or 1,
        "per_page": per_page,
    }


def phone_json(phone: Phone, active_bindings: int, with_bindings: bool = False) -> dict[str, Any]:
    """A phone as the API shows it: descriptive fields and status, never a credential."""
    plan_block = trial_plan().sites.get(phone.site_id)
    data: dict[str, Any] = {
        "extension": phone.extension,
        "display_name": phone.display_name,
        "site": phone.site_id,
        "banner": plan_block.banner_id if plan_block else None,
        "department": phone.department,
        "mac": phone.mac,
        "model": phone.model,
        "owner": phone.owner,
        "enabled": phone.enabled,
        "registered": phone.enabled and active_bindings > 0,
        "active_bindings": active_bindings,
        "created_at": _iso(phone.created_at),
        "last_registered_at": _iso(phone.last_registered_at),
        "last_user_agent": phone.last_user_agent,
        "failed_attempts": phone.failed_attempts,
        "last_failure_at": _iso(phone.last_failure_at),
    }
    if with_bindings:
        data["bindings"] = [
            {
                "contact": b.contact,
                "source": b.source,
                "user_agent": b.user_agent,
                "expires_at": _iso(b.expires_at),
                "registered_at": _iso(b.registered_at),
                "updated_at": _iso(b.updated_at),
                "active": trial.is_active(b),
            }
            for b in sorted(phone.bindings, key=lambda b: b.contact)
        ]
    return data


def trial_plan() -> ExtensionPlan:
    """The extension plan of the loaded inventory (built once per app: the inventory is loaded once)."""
    plan = current_app.extensions.get("wangnet.phones.plan")
    if plan is None:
        plan = build_plan(_inventory())
        current_app.extensions["wangnet.phones.plan"] = plan
    return plan


# ---------------------------------------------------------------- pages


@bp.route("/phones")
@roles(*VIEW)
def phone_list():  # type: ignore[no-untyped-def]
    f = _filters()
    with _store().session() as s:
        page = trial.list_phones(s, trial_plan(), **f)
    args = {k: v for k, v in request.args.items() if k != "page"}
    return render_template(
        "phones/list.html", page=page, groups=_site_groups(_inventory()), args=args,
        registered=request.args.get("registered", ""), q=f["query"] or "", site=f["site"] or "",
        banner=f["banner"] or "",
    )


@bp.route("/phones/dashboard")
@roles(*VIEW)
def dashboard():  # type: ignore[no-untyped-def]
    inv = _inventory()
    with _store().session() as s:
        board = trial.dashboard(s, trial_plan())
        failing = list(s.scalars(
            select(Phone).where(Phone.failed_attempts > 0).order_by(Phone.failed_attempts.desc()).limit(10)
        ))
        agents = trial.user_agents(s)
    status = {x.site_id: x for x in board.sites}
    return render_template(
        "phones/dashboard.html", inv=inv, layout=wang_layout(inv), board=board, status=status,
        share_class=trial.share_class, failing=failing, agents=agents,
    )


@bp.route("/phones/plan")
@roles(*VIEW)
def plan_page():  # type: ignore[no-untyped-def]
    with _store().session() as s:
        board = trial.dashboard(s, trial_plan())
    return render_template("phones/plan.html", plan=trial_plan(), status={x.site_id: x for x in board.sites},
                           inv=_inventory())


def _form_fields() -> PhoneFields:
    return PhoneFields(**{name: request.form.get(name, "") for name in FORM_FIELDS})


@bp.route("/phones/new", methods=["GET", "POST"])
@roles(*MANAGE)
def new_phone():  # type: ignore[no-untyped-def]
    error = None
    values = {name: request.values.get(name, "") for name in FORM_FIELDS}
    if request.method == "POST":
        try:
            with _store().session() as s:
                phone, password = registry.create_phone(s, _ctx(), _form_fields())
                extension = phone.extension
        except RegistryError as exc:
            error = str(exc)
        else:
            # The password lives only in this response (Cache-Control: no-store), never in a URL or session.
            return render_template("phones/password.html", extension=extension, password=password, created=True)
    return render_template("phones/form.html", values=values, error=error, groups=_site_groups(_inventory()),
                           departments={s.id: s.departments for s in _inventory().sites}, phone=None)


def _missing(extension: str):  # type: ignore[no-untyped-def]
    flash(_("No phone with extension %(ext)s.", ext=extension))
    return redirect(url_for("phones.phone_list"))


@bp.route("/phones/<extension>")
@roles(*VIEW)
def phone_detail(extension: str):  # type: ignore[no-untyped-def]
    with _store().session() as s:
        try:
            phone = registry.get_phone(s, extension)
        except PhoneNotFound:
            return _missing(extension)
        row = trial.rows_for([phone], s)[0]
    return render_template("phones/detail.html", row=row, phone=phone, is_active=trial.is_active,
                           block=trial_plan().sites.get(phone.site_id))


@bp.route("/phones/<extension>/edit", methods=["GET", "POST"])
@roles(*MANAGE)
def edit_phone(extension: str):  # type: ignore[no-untyped-def]
    error = None
    with _store().session() as s:
        try:
            phone = registry.get_phone(s, extension)
        except PhoneNotFound:
            return _missing(extension)
        values = {name: getattr(phone, name) or "" for name in FORM_FIELDS}
    if request.method == "POST":
        changes = {name: request.form.get(name, "") for name in registry.EDITABLE}
        values.update(changes)
        try:
            with _store().session() as s:
                registry.update_phone(s, _ctx(), extension, changes)
        except RegistryError as exc:
            error = str(exc)
        else:
            flash(_("Phone %(ext)s saved.", ext=extension))
            return redirect(url_for("phones.phone_detail", extension=extension))
    return render_template("phones/form.html", values=values, error=error, groups=_site_groups(_inventory()),
                           departments={s.id: s.departments for s in _inventory().sites}, phone=phone)


def _action(extension: str, action: str):  # type: ignore[no-untyped-def]
    try:
        with _store().session() as s:
            if action == "delete":
                registry.delete_phone(s, _ctx(), extension)
            else:
                registry.set_enabled(s, _ctx(), extension, action == "enable")
    except PhoneNotFound:
        return _missing(extension)
    if action == "delete":
        flash(_("Phone %(ext)s deleted.", ext=extension))
        return redirect(url_for("phones.phone_list"))
    flash(_("Phone %(ext)s enabled.", ext=extension) if action == "enable" else _("Phone %(ext)s disabled.", ext=extension))
    return redirect(url_for("phones.phone_detail", extension=extension))


@bp.route("/phones/<extension>/enable", methods=["POST"])
@roles(*MANAGE)
def enable_phone(extension: str):  # type: ignore[no-untyped-def]
    return _action(extension, "enable")


@bp.route("/phones/<extension>/disable", methods=["POST"])
@roles(*MANAGE)
def disable_phone(extension: str):  # type: ignore[no-untyped-def]
    return _action(extension, "disable")


@bp.route("/phones/<extension>/delete", methods=["POST"])
@roles(*MANAGE)
def delete_phone(extension: str):  # type: ignore[no-untyped-def]
    return _action(extension, "delete")


@bp.route("/phones/<extension>/password", methods=["POST"])
@roles(*MANAGE)
def reset_password(extension: str):  # type: ignore[no-untyped-def]
    try:
        with _store().session() as s:
            password = registry.reset_password(s, _ctx(), extension)
    except PhoneNotFound:
        return _missing(extension)
    return render_template("phones/password.html", extension=extension, password=password, created=False)


def _uploaded_text() -> str:
    """The CSV of an upload form, or of a raw text/csv body (the API); UnicodeDecodeError when not UTF-8."""
    upload = request.files.get("file")
    raw = upload.read() if upload is not None else request.get_data()
    return raw.decode("utf-8")


@bp.route("/phones/import", methods=["GET", "POST"])
@roles(*MANAGE)
def import_page():  # type: ignore[no-untyped-def]
    errors: list[str] = []
    if request.method == "POST":
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            errors = [_("Choose a CSV file to import.")]
        else:
            try:
                text = _uploaded_text()
                with _store().session() as s:
                    result = phone_csv.import_csv(s, _ctx(), text)
                    created = [(p.extension, p.site_id, p.display_name, pw) for p, pw in result.created]
                    out = result.passwords_csv()
            except UnicodeDecodeError:
                errors = [_("The file is not UTF-8 text; save it as “CSV UTF-8”.")]
            except phone_csv.CsvImportError as exc:
                errors = exc.errors
            except RegistryError as exc:
                errors = [str(exc)]
            else:
                return render_template("phones/imported.html", created=created, csv_text=out)
    return render_template("phones/import.html", errors=errors, columns=phone_csv.IMPORT_COLUMNS)


@bp.route("/phones/export.csv")
@roles(*VIEW)
def export_csv():  # type: ignore[no-untyped-def]
    with _store().session() as s:
        text = phone_csv.export_csv(s, _ctx())
    return Response(
        "\ufeff" + text,  # the BOM makes Excel read the Chinese names as UTF-8
        mimetype="text/csv",
        headers={"Content-Disposition": "attachment; filename=phones.csv"},
    )


from web import phones_api  # noqa: E402,F401  (registers the API routes on bp)
