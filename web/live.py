"""Live network state for pages: a JSON snapshot and a server-sent event stream of changes.

The stream is read from the store every couple of seconds and carries only
what changed, so 59 wall-display tabs cost 59 small queries per tick and no
device traffic at all. A stream ends after a few minutes to give its thread
back; the browser's EventSource reconnects by itself.
"""
from __future__ import annotations

import json
import time
from typing import Iterator

from flask import Blueprint, Response, current_app, jsonify, stream_with_context
from sqlalchemy import select

from collectors.models import Alert, DeviceStatus, InterfaceStatus
from collectors.status import AlertRow, DeviceRow, InterfaceRowView, apply_changes, changes, snapshot
from web.security import roles

bp = Blueprint("live", __name__)
LIVE_ROLES = ("admin", "noc", "host", "phone-admin")


def current_snapshot() -> dict[str, object]:
    inventory = current_app.extensions["wangnet.inventory"]
    with current_app.extensions["wangnet.store"].session() as s:
        devices = [DeviceRow(r.device, r.state, r.behind) for r in s.scalars(select(DeviceStatus))]
        interfaces = [
            InterfaceRowView(r.device, r.ifname, r.oper_up, r.in_bps, r.out_bps, r.in_errors_per_s)
            for r in s.scalars(select(InterfaceStatus))
        ]
        alerts = [
            AlertRow(a.id, a.key, a.kind, a.subject, a.severity, a.state, tuple(json.loads(a.cut_off_sites)))
            for a in s.scalars(select(Alert).where(Alert.state.in_(("open", "acknowledged"))))
        ]
    return snapshot(inventory, devices, interfaces, alerts).as_dict()


@bp.route("/api/v1/network/status")
@roles(*LIVE_ROLES)
def status():  # type: ignore[no-untyped-def]
    return jsonify(current_snapshot())


def _event(kind: str, number: int, data: object) -> str:
    return f"id: {number}\nevent: {kind}\ndata: {json.dumps(data, ensure_ascii=False, separators=(',', ':'))}\n\n"


@bp.route("/api/v1/network/events")
@roles(*LIVE_ROLES)
def events():  # type: ignore[no-untyped-def]
    config = current_app.config
    tick = float(config.get("WANGNET_LIVE_TICK", 2.0))
    lifetime = float(config.get("WANGNET_LIVE_SECONDS", 300.0))

    def stream() -> Iterator[str]:
        started = time.monotonic()
        last = current_snapshot()
        number = 1
        yield "retry: 2000\n" + _event("snapshot", number, last)
        quiet_since = time.monotonic()
        while time.monotonic() - started < lifetime:
            time.sleep(tick)
            now = current_snapshot()
            delta = changes(last, now)
            if delta:
                number += 1
                last = apply_changes(last, delta)  # what the page now holds: small moves add up until they matter
                quiet_since = time.monotonic()
                yield _event("changes", number, delta)
            elif time.monotonic() - quiet_since > 15:
                quiet_since = time.monotonic()
                yield ": keepalive\n\n"

    response = Response(stream_with_context(stream()), mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"  # nginx: pass events through at once
    return response
