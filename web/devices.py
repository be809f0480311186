"""Device pages: facts, interfaces with state and utilisation, alerts, configuration history, drift."""
from __future__ import annotations

import json
import time

from flask import Blueprint, abort, current_app, jsonify, render_template, request
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select

from collectors import promquery, traffic
from collectors.models import Alert, ConfigVersion, DeviceFacts, DeviceStatus, DriftFinding, InterfaceStatus
from topology.schema import Inventory
from web.openapi import api_doc
from web.security import NavItem, roles

bp = Blueprint("devices", __name__)
VIEW_ROLES = ("admin", "noc")
PAGE_SIZE = 50
MAX_PAGE = 100_000  # far past any real list; keeps OFFSET inside the database's integer range
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


def traffic_json(device_id: str, ifname: str, range_name: str) -> dict[str, object]:
    """One interface's traffic over the range, from Prometheus when configured (else, or if it fails, the store)."""
    if range_name not in traffic.RANGES:
        abort(400, f"range: {range_name!r} is not one of {', '.join(traffic.RANGES)}")
    inv = _inventory()
    try:
        dev = inv.device(device_id)
    except KeyError:
        abort(404, f"no device {device_id!r}")
    now = int(time.time())
    with _store().session() as s:
        known = ifname in dev.interfaces or s.get(InterfaceStatus, (device_id, ifname)) is not None
        if not known:
            abort(404, f"no interface {ifname!r} on {device_id!r}")
        points = traffic.series(s, device_id, ifname, range_name, now)
    span, resolution = traffic.RANGES[range_name]
    out: dict[str, object] = {"device": device_id, "ifname": ifname, "range": range_name, "from": now - span, "to": now,
                              "source": "store", "resolution": resolution, "warning": None}
    prometheus = current_app.extensions["wangnet.settings"].prometheus_url
    if prometheus:
        try:
            prom, step = promquery.fetch_traffic(prometheus, device_id, ifname, range_name, now)
        except promquery.PrometheusError as exc:
            out["warning"] = f"Prometheus: {exc}; showing the store's samples"
        else:
            out.update(source="prometheus", resolution=step)
            out["points"] = {"ts": [p[0] for p in prom], "in_bps": [p[1] for p in prom], "out_bps": [p[2] for p in prom],
                             "in_max": [p[1] for p in prom], "out_max": [p[2] for p in prom]}
            return out
    out["points"] = {
        "ts": [p.ts for p in points],
        "in_bps": [p.in_bps for p in points],
        "out_bps": [p.out_bps for p in points],
        "in_max": [p.in_max for p in points],
        "out_max": [p.out_max for p in points],
    }
    return out


@bp.route("/api/v1/devices/<device_id>/interfaces/<path:ifname>/traffic")
@roles(*VIEW_ROLES)
@api_doc(query={"range": {"type": "string", "enum": list(traffic.RANGES)}})
def api_traffic(device_id: str, ifname: str):  # type: ignore[no-untyped-def]
    """Traffic of one interface (bit/s in and out, averages and maxima) over range=hour|day|week."""
    return jsonify(traffic_json(device_id, ifname, request.args.get("range", "hour")))


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
    page = min(max(request.args.get("page", 1, type=int) or 1, 1), MAX_PAGE)
    rows, total = _drift(page)
    return render_template("devices/drift.html", rows=rows, total=total, page=page, pages=max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1))


@bp.route("/api/v1/drift")
@roles(*VIEW_ROLES)
@api_doc(query={"page": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE}})
def api_drift():  # type: ignore[no-untyped-def]
    page = min(max(request.args.get("page", 1, type=int) or 1, 1), MAX_PAGE)
    rows, total = _drift(page)
    return jsonify(findings=rows, total=total, page=page, page_size=PAGE_SIZE)
