"""Device pages: facts, interfaces with state and utilisation, alerts, configuration history, drift."""
from __future__ import annotations

import json

from flask import Blueprint, abort, current_app, jsonify, render_template, request
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select

from collectors.models import Alert, ConfigVersion, DeviceFacts, DeviceStatus, DriftFinding, InterfaceStatus
from topology.schema import Inventory
from web.security import NavItem, roles

bp = Blueprint("devices", __name__)
VIEW_ROLES = ("admin", "noc")
PAGE_SIZE = 50
NAV = [NavItem("devices.drift_page", _l("Drift"), frozenset(VIEW_ROLES))]


def _inventory() -> Inventory:
    return current_app.extensions["wangnet.inventory"]


def _store():  # type: ignore[no-untyped-def]
    return current_app.extensions["wangnet.store"]


def device_json(device_id: str) -> dict[str, object]:
    inv = _inventory()
    try:
        dev = inv.device(device_id)
    except KeyError:
        abort(404, f"no device {device_id!r}")
    speeds = {}
    for link in inv.links:
        for end in (link.a, link.b):
            if end.device == device_id:
                speeds[end.interface] = (link.id, link.speed_mbps)
    with _store().session() as s:
        status = s.get(DeviceStatus, device_id)
        facts = s.get(DeviceFacts, device_id)
        rows = list(s.scalars(select(InterfaceStatus).where(InterfaceStatus.device == device_id).order_by(InterfaceStatus.if_index)))
        alerts = list(
            s.scalars(
                select(Alert)
                .where(or_(Alert.subject == device_id, Alert.cut_off_devices.contains(f'"{device_id}"')))
                .order_by(Alert.opened_at.desc())
                .limit(20)
            )
        )
        versions = list(
            s.execute(
                select(ConfigVersion.version, ConfigVersion.taken_at, ConfigVersion.digest)
                .where(ConfigVersion.device == device_id)
                .order_by(ConfigVersion.version.desc())
                .limit(50)
            )
        )
    interfaces = []
    for r in rows:
        link_id, speed = speeds.get(r.ifname, (None, r.speed_mbps))
        peak = max((x for x in (r.in_bps, r.out_bps) if x is not None), default=None)
        interfaces.append(
            {
                "ifname": r.ifname,
                "if_index": r.if_index,
                "link": link_id,
                "oper_up": r.oper_up,
                "admin_up": r.admin_up,
                "speed_mbps": speed,
                "in_bps": r.in_bps,
                "out_bps": r.out_bps,
                "utilisation": round(peak / (speed * 1e6), 4) if peak is not None and speed else None,
                "in_errors_per_s": r.in_errors_per_s,
                "out_errors_per_s": r.out_errors_per_s,
                "updated_at": r.updated_at.isoformat(),
            }
        )
    return {
        "id": dev.id,
        "site": dev.site,
        "site_name": inv.site(dev.site).name,
        "role": dev.role,
        "platform": dev.platform,
        "model": dev.model,
        "mgmt": str(dev.mgmt),
        "state": status.state if status else "unknown",
        "behind": status.behind if status else None,
        "error": status.error if status else "",
        "uptime_ticks": status.uptime_ticks if status else None,
        "facts": {
            "vendor": facts.vendor,
            "model": facts.model,
            "os_version": facts.os_version,
            "serial_number": facts.serial_number,
            "hostname": facts.hostname,
            "uptime_seconds": facts.uptime_seconds,
            "updated_at": facts.updated_at.isoformat(),
            "errors": json.loads(facts.errors),
        }
        if facts
        else None,
        "interfaces": interfaces,
        "alerts": [{"id": a.id, "key": a.key, "state": a.state, "opened_at": a.opened_at.isoformat()} for a in alerts],
        "config_versions": [{"version": v, "taken_at": t.isoformat(), "digest": d} for v, t, d in versions],
    }


@bp.route("/network/devices/<device_id>")
@roles(*VIEW_ROLES)
def device_page(device_id: str):  # type: ignore[no-untyped-def]
    return render_template("devices/device.html", d=device_json(device_id))


@bp.route("/api/v1/devices/<device_id>")
@roles(*VIEW_ROLES)
def api_device(device_id: str):  # type: ignore[no-untyped-def]
    return jsonify(device_json(device_id))


def _version(device_id: str, number: int) -> ConfigVersion:
    with _store().session() as s:
        version = s.scalar(select(ConfigVersion).where(ConfigVersion.device == device_id, ConfigVersion.version == number))
    if version is None:
        abort(404, f"no configuration version {number} of {device_id!r}")
    return version


@bp.route("/network/devices/<device_id>/configs/<int:version>")
@roles(*VIEW_ROLES)
def config_page(device_id: str, version: int):  # type: ignore[no-untyped-def]
    v = _version(device_id, version)
    rows = _side_by_side(v.diff)
    return render_template("devices/config.html", device=device_id, v=v, rows=rows)


@bp.route("/api/v1/devices/<device_id>/configs/<int:version>")
@roles(*VIEW_ROLES)
def api_config(device_id: str, version: int):  # type: ignore[no-untyped-def]
    v = _version(device_id, version)
    return jsonify(device=device_id, version=v.version, taken_at=v.taken_at.isoformat(), digest=v.digest, text=v.text, diff=v.diff)


def _side_by_side(unified: str) -> list[tuple[str, str, str]]:
    """A unified diff as (kind, left, right) rows for a two-column view."""
    rows: list[tuple[str, str, str]] = []
    removed: list[str] = []
    added: list[str] = []

    def flush() -> None:
        for i in range(max(len(removed), len(added))):
            left = removed[i] if i < len(removed) else ""
            right = added[i] if i < len(added) else ""
            rows.append(("change", left, right))
        removed.clear()
        added.clear()

    for line in unified.splitlines():
        if line.startswith(("---", "+++")):
            continue
        if line.startswith("@@"):
            flush()
            rows.append(("hunk", line, line))
        elif line.startswith("-"):
            removed.append(line[1:])
        elif line.startswith("+"):
            added.append(line[1:])
        else:
            flush()
            rows.append(("same", line[1:], line[1:]))
    flush()
    return rows


def _drift(page: int) -> tuple[list[dict[str, object]], int]:
    with _store().session() as s:
        total = s.scalar(select(func.count()).select_from(DriftFinding)) or 0
        rows = [
            {"kind": f.kind, "link": f.link, "detail": f.detail, "found_at": f.found_at.isoformat()}
            for f in s.scalars(select(DriftFinding).order_by(DriftFinding.kind, DriftFinding.link).limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE))
        ]
    return rows, total


@bp.route("/network/drift")
@roles(*VIEW_ROLES)
def drift_page():  # type: ignore[no-untyped-def]
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    rows, total = _drift(page)
    return render_template("devices/drift.html", rows=rows, total=total, page=page, pages=max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1))


@bp.route("/api/v1/drift")
@roles(*VIEW_ROLES)
def api_drift():  # type: ignore[no-untyped-def]
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    rows, total = _drift(page)
    return jsonify(findings=rows, total=total, page=page, page_size=PAGE_SIZE)
