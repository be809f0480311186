"""The phones JSON API under /api/v1/phones: the pages' operations for scripts and the dashboard's refresh.

Same roles as the pages (``phone-admin``/``admin`` manage, ``noc`` views).
Routes are registered on ``web.phones.bp``; that module imports this one.
"""
from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request

from telephony import phone_csv, registry, trial
from telephony.registry import PhoneFields, PhoneNotFound, RegistryError
from web.phones import MANAGE, VIEW, _ctx, _filters, _store, _uploaded_text, bp, phone_json, trial_plan
from web.security import roles


def _api_error(message: str, status: int = 400, **extra: Any):  # type: ignore[no-untyped-def]
    response = jsonify(error=message, status=status, **extra)
    response.status_code = status
    return response


def _json_body() -> dict[str, Any] | None:
    data = request.get_json(silent=True)
    return data if isinstance(data, dict) else None


@bp.route("/api/v1/phones")
@roles(*VIEW)
def api_list():  # type: ignore[no-untyped-def]
    f = _filters()
    with _store().session() as s:
        page = trial.list_phones(s, trial_plan(), **f)
        items = [phone_json(r.phone, r.active_bindings) for r in page.rows]
    return jsonify(items=items, total=page.total, page=page.page, pages=page.pages, per_page=page.per_page)


@bp.route("/api/v1/phones", methods=["POST"])
@roles(*MANAGE)
def api_create():  # type: ignore[no-untyped-def]
    body = _json_body()
    if body is None:
        return _api_error("expected a JSON object such as {\"site\": \"dalad\", \"display_name\": \"…\"}")
    unknown = sorted(set(body) - {"site", "extension", "display_name", "department", "mac", "model", "owner", "enabled"})
    if unknown:
        return _api_error(f"unknown field {unknown[0]!r}")
    fields = PhoneFields(
        site_id=str(body.get("site") or ""),
        **{k: str(body.get(k) or "") for k in ("extension", "display_name", "department", "mac", "model", "owner")},
        enabled=bool(body.get("enabled", True)),
    )
    try:
        with _store().session() as s:
            phone, password = registry.create_phone(s, _ctx(), fields)
            data = phone_json(phone, 0)
    except RegistryError as exc:
        return _api_error(str(exc))
    response = jsonify(phone=data, password=password)
    response.status_code = 201
    return response


def _with_phone(extension: str, fn):  # type: ignore[no-untyped-def]
    try:
        with _store().session() as s:
            return fn(s)
    except PhoneNotFound as exc:
        return _api_error(str(exc), 404)
    except RegistryError as exc:
        return _api_error(str(exc))


@bp.route("/api/v1/phones/<extension>")
@roles(*VIEW)
def api_phone(extension: str):  # type: ignore[no-untyped-def]
    def show(s):  # type: ignore[no-untyped-def]
        phone = registry.get_phone(s, extension)
        return jsonify(phone_json(phone, trial.rows_for([phone], s)[0].active_bindings, with_bindings=True))

    return _with_phone(extension, show)


@bp.route("/api/v1/phones/<extension>", methods=["POST"])
@roles(*MANAGE)
def api_update(extension: str):  # type: ignore[no-untyped-def]
    body = _json_body()
    if body is None:
        return _api_error("expected a JSON object of the fields to change: " + ", ".join(registry.EDITABLE))

    def update(s):  # type: ignore[no-untyped-def]
        phone = registry.update_phone(s, _ctx(), extension, body)
        return jsonify(phone_json(phone, trial.rows_for([phone], s)[0].active_bindings))

    return _with_phone(extension, update)


def _api_action(extension: str, action: str):  # type: ignore[no-untyped-def]
    def act(s):  # type: ignore[no-untyped-def]
        if action == "delete":
            registry.delete_phone(s, _ctx(), extension)
            return jsonify(deleted=extension)
        if action == "password":
            return jsonify(extension=extension, password=registry.reset_password(s, _ctx(), extension))
        phone = registry.set_enabled(s, _ctx(), extension, action == "enable")
        return jsonify(phone_json(phone, trial.rows_for([phone], s)[0].active_bindings))

    return _with_phone(extension, act)


@bp.route("/api/v1/phones/<extension>/enable", methods=["POST"])
@roles(*MANAGE)
def api_enable(extension: str):  # type: ignore[no-untyped-def]
    return _api_action(extension, "enable")


@bp.route("/api/v1/phones/<extension>/disable", methods=["POST"])
@roles(*MANAGE)
def api_disable(extension: str):  # type: ignore[no-untyped-def]
    return _api_action(extension, "disable")


@bp.route("/api/v1/phones/<extension>/delete", methods=["POST"])
@roles(*MANAGE)
def api_delete(extension: str):  # type: ignore[no-untyped-def]
    return _api_action(extension, "delete")


@bp.route("/api/v1/phones/<extension>/password", methods=["POST"])
@roles(*MANAGE)
def api_password(extension: str):  # type: ignore[no-untyped-def]
    return _api_action(extension, "password")


@bp.route("/api/v1/phones/import", methods=["POST"])
@roles(*MANAGE)
def api_import():  # type: ignore[no-untyped-def]
    """CSV in (a ``file`` upload or a text/csv body); the passwords CSV out, or every bad line as JSON."""
    try:
        text = _uploaded_text()
    except UnicodeDecodeError:
        return _api_error("the CSV is not UTF-8 text")
    try:
        with _store().session() as s:
            out = phone_csv.import_csv(s, _ctx(), text).passwords_csv()
    except phone_csv.CsvImportError as exc:
        return _api_error("nothing imported", errors=exc.errors)
    except RegistryError as exc:
        return _api_error(str(exc))
    return Response(out, mimetype="text/csv", headers={"Content-Disposition": "attachment; filename=phone-passwords.csv"})


@bp.route("/api/v1/phones/dashboard")
@roles(*VIEW)
def api_dashboard():  # type: ignore[no-untyped-def]
    with _store().session() as s:
        board = trial.dashboard(s, trial_plan())
        agents = trial.user_agents(s)
    return jsonify({**board.as_dict(),
                    "user_agents": [{"user_agent": ua, "phones": n, "registered": r} for ua, n, r in agents]})


@bp.route("/api/v1/phones/plan")
@roles(*VIEW)
def api_plan():  # type: ignore[no-untyped-def]
    plan = trial_plan()
    return jsonify([
        {"site": p.site_id, "tier": p.tier, "banner": p.banner_id, "prefix": p.prefix, "first": p.first,
         "last": p.last, "capacity": p.capacity}
        for p in sorted(plan.sites.values(), key=lambda block: block.prefix)
    ])
