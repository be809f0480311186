"""Show commands page and API: a read-only command from the allow-list on a few devices, for the NOC only.

Every run is audit-logged (who, devices, command, outcome), refused ones too.
A command not on the list is refused before any connection is opened; the
SSH sessions run in worker threads (``collectors.showcmd.run_many``), each
device bounded by its own timeout.
"""
from __future__ import annotations

from flask import Blueprint, abort, current_app, jsonify, render_template, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from collectors import showaccess
from collectors.showcmd import ALLOWED, MAX_DEVICES, ShowCommandRefused, ShowResult, check_request, normalise, outcome, run_many
from topology.schema import Inventory
from wangnet import accounts
from web.openapi import api_doc
from web.security import NavItem, roles

bp = Blueprint("showcmd", __name__)
RUN_ROLES = ("noc",)
DEFAULT_TIMEOUT_S = 20
NAV = [NavItem("showcmd.show_page", _l("Show commands"), frozenset(RUN_ROLES))]


def _inventory() -> Inventory:
    return current_app.extensions["wangnet.inventory"]


def _audit(action: str, devices: list[str], command: str, detail: str) -> None:
    with current_app.extensions["wangnet.store"].session() as s:
        accounts.audit(s, current_user.username, action, ",".join(devices)[:256], f"{command[:200]} → {detail}"[:4000],
                       request.remote_addr or "")


def run(devices: list[str], command: str) -> tuple[str, list[ShowResult]]:
    """Validate, run, audit; a refused request is audited and raises ``ShowCommandRefused``."""
    settings = current_app.extensions["wangnet.settings"]
    inv = _inventory()
    try:
        targets, text = check_request(showaccess.platforms(settings, inv), devices, command)
        timeout = int(current_app.config.get("WANGNET_SHOW_TIMEOUT", DEFAULT_TIMEOUT_S))
        endpoint = current_app.extensions.get("wangnet.ssh_endpoint", showaccess.mgmt_endpoint)
        logins, errors = showaccess.logins(settings, inv, current_app.extensions["wangnet.store"],
                                           [t.device for t in targets], timeout, endpoint)
    except ShowCommandRefused as exc:
        _audit("show.refused", devices, normalise(command), str(exc))
        raise
    results = run_many(targets, text, logins, errors)
    _audit("show.run", [t.device for t in targets], text, outcome(results))
    return text, results


def _allowed_for(settings, inv: Inventory) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    used = set(showaccess.platforms(settings, inv).values())
    return {p: list(cmds) for p, cmds in ALLOWED.items() if p in used}


@bp.route("/network/show", methods=["GET", "POST"])
@roles(*RUN_ROLES)
def show_page():  # type: ignore[no-untyped-def]
    inv = _inventory()
    settings = current_app.extensions["wangnet.settings"]
    platforms = showaccess.platforms(settings, inv)
    chosen = request.form.getlist("device") if request.method == "POST" else request.args.getlist("device")
    command = request.form.get("command", "") if request.method == "POST" else request.args.get("command", "")
    error = ""
    results: list[ShowResult] = []
    status = 200
    if request.method == "POST":
        try:
            command, results = run(chosen, command)
        except ShowCommandRefused as exc:
            error, status = str(exc), 400
    return render_template(
        "showcmd/show.html", inv=inv, platforms=platforms, allowed=_allowed_for(settings, inv), chosen=chosen,
        command=command, results=results, error=error, max_devices=MAX_DEVICES,
    ), status


@bp.route("/api/v1/show-commands")
@roles(*RUN_ROLES)
def api_allowed():  # type: ignore[no-untyped-def]
    """The allow-list of show commands by platform, and the device limit per run."""
    settings = current_app.extensions["wangnet.settings"]
    return jsonify(allowed=_allowed_for(settings, _inventory()), max_devices=MAX_DEVICES)


@bp.route("/api/v1/show-commands", methods=["POST"])
@roles(*RUN_ROLES)
@api_doc(body={"type": "object", "required": ["devices", "command"], "properties": {
    "devices": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": MAX_DEVICES},
    "command": {"type": "string", "enum": sorted({c for cmds in ALLOWED.values() for c in cmds})}}},
    responses={"400": "the command is not on the allow-list of a device's platform, or the devices are not in the "
                      "inventory (the message says which); also in simulation mode, which has no SSH"})
def api_run():  # type: ignore[no-untyped-def]
    """Run an allowed show command on one or a few devices: body {"devices": [...], "command": "..."}."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        abort(400, 'body: expected a JSON object {"devices": [...], "command": "..."}')
    devices, command = body.get("devices"), body.get("command")
    if not isinstance(devices, list) or not all(isinstance(d, str) for d in devices):
        abort(400, "devices: expected a list of device ids")
    if not isinstance(command, str):
        abort(400, "command: expected a string")
    try:
        text, results = run(devices, command)
    except ShowCommandRefused as exc:
        abort(400, str(exc))
    return jsonify(command=text, results=[r.as_dict() for r in results])
