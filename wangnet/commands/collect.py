"""``wangnet poll``, ``wangnet alerts``, ``wangnet collector``: the collectors from the shell."""
from __future__ import annotations

import asyncio
import json
import logging
import signal
import threading

import click
from sqlalchemy import select

from wangnet.commands.inventory import load_or_exit, resolve_inventory_path
from wangnet.commands.options import inventory_option
from wangnet.config import Settings
from wangnet.store import Store


@click.command()
@click.option("--once", is_flag=True, required=True, help="Poll every device once and exit.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--timeout", default=1.0, show_default=True, help="Per-request SNMP timeout (seconds).")
@inventory_option
@click.pass_context
def poll(ctx: click.Context, once: bool, as_json: bool, timeout: float, inventory) -> None:  # type: ignore[no-untyped-def]
    """Poll every device once: status, interface counters and rates (rates need a previous poll)."""
    settings: Settings = ctx.obj["settings"]
    inv = load_or_exit(resolve_inventory_path(ctx, inventory))
    store = Store.from_settings(settings)
    store.upgrade()
    from collectors.wiring import make_collector

    collector = make_collector(settings, inv, store, timeout=timeout, retries=0)
    collector.notifier = None  # a one-off poll from the shell tells nobody

    async def run():  # type: ignore[no-untyped-def]
        try:
            return await collector.cycle()
        finally:
            collector.close()

    report = asyncio.run(run())
    devices = []
    for result in sorted(report.results, key=lambda r: r.device):
        state = report.assessment.devices[result.device]
        devices.append(
            {
                "device": result.device,
                "state": state.state,
                "behind": state.behind,
                "error": result.error,
                "seconds": round(result.duration, 4),
                "uptime_ticks": result.uptime_ticks,
                "interfaces": [
                    {
                        "ifname": row.name,
                        "oper_up": row.oper_up,
                        "admin_up": row.admin_up,
                        "speed_mbps": row.speed_mbps,
                        "counters": dict(row.counters),
                        "in_bps": report.rates[(result.device, row.name)].in_bps,
                        "out_bps": report.rates[(result.device, row.name)].out_bps,
                    }
                    for row in result.interfaces
                ],
            }
        )
    for device, error in sorted(report.errors.items()):
        devices.append({"device": device, "state": "unknown", "behind": None, "error": error, "interfaces": []})
    causes = [
        {"key": c.key, "kind": c.kind, "ids": list(c.ids), "severity": c.severity, "cut_off_sites": list(c.cut_off_sites)}
        for c in report.assessment.causes
    ]
    if as_json:
        click.echo(json.dumps({"seconds": round(report.duration, 4), "devices": devices, "causes": causes}, ensure_ascii=False, indent=2))
        return
    answered = sum(1 for d in devices if d["state"] == "up")
    click.echo(f"polled {len(devices)} devices in {report.duration:.2f} s: {answered} up")
    for d in devices:
        if d["state"] != "up":
            click.echo(f"  {d['device']:<22} {d['state']:<12} {d.get('behind') or ''} {d.get('error') or ''}")
    for c in causes:
        click.echo(f"cause {c['key']} ({c['severity']}): cuts off {', '.join(c['cut_off_sites']) or 'nothing'}")


@click.command()
@click.option("--json", "as_json", is_flag=True)
@click.option("--all", "show_all", is_flag=True, help="Include resolved alerts.")
@click.pass_context
def alerts(ctx: click.Context, as_json: bool, show_all: bool) -> None:
    """Open (and acknowledged) alerts, one per root cause."""
    from collectors.models import Alert

    store = Store.from_settings(ctx.obj["settings"])
    store.upgrade()
    with store.session() as s:
        q = select(Alert).order_by(Alert.opened_at.desc())
        if not show_all:
            q = q.where(Alert.state.in_(("open", "acknowledged")))
        rows = [
            {
                "id": a.id,
                "key": a.key,
                "kind": a.kind,
                "subject": a.subject,
                "severity": a.severity,
                "state": a.state,
                "cut_off_sites": json.loads(a.cut_off_sites),
                "opened_at": a.opened_at.isoformat(),
                "acknowledged_by": a.acknowledged_by,
                "resolved_at": a.resolved_at.isoformat() if a.resolved_at else None,
                "flaps": a.flaps,
            }
            for a in s.scalars(q)
        ]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not rows:
        click.echo("no open alerts")
    for r in rows:
        click.echo(f"#{r['id']} {r['state']:<12} {r['severity']:<8} {r['key']}: cuts off {', '.join(r['cut_off_sites']) or 'nothing'}")


@click.command()
@click.option("--interval", default=30.0, show_default=True, help="Seconds between poll cycles.")
@inventory_option
@click.pass_context
def collector(ctx: click.Context, interval: float, inventory) -> None:  # type: ignore[no-untyped-def]
    """Run the collectors alone (scale-out), sharing the database with the web process."""
    from collectors.wiring import build_services
    from wangnet import metrics
    from wangnet.runtime import Runtime

    settings: Settings = ctx.obj["settings"]
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    inv = load_or_exit(resolve_inventory_path(ctx, inventory))
    store = Store.from_settings(settings)
    store.upgrade()
    runtime = Runtime(build_services(settings.with_overrides(collector_interval=interval), store, inv))
    runtime.start()
    if settings.metrics_port:
        server, _ = metrics.serve(settings.metrics_host, settings.metrics_port)
        click.echo(f"metrics on http://{settings.metrics_host}:{server.server_port}/metrics")
    click.echo(f"collectors polling {len(inv.devices)} devices every {interval:g} s (Ctrl-C stops)")
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    try:
        stopped.wait()
    except KeyboardInterrupt:
        pass
    finally:
        runtime.stop()


COMMANDS = (poll, alerts, collector)
