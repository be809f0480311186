"""``wangnet poll``, ``wangnet alerts``, ``wangnet collector``: the collectors from the shell."""
from __future__ import annotations

import asyncio
import json

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
@click.option("--banner", default=None, metavar="ID",
              help="Poll only this banner's devices and its townships' (or 'city' for the city core); "
                   "default: the whole network.")
@click.option("--metrics-port", default=None, type=int,
              help="Serve Prometheus metrics on this port of the metrics host (default: WANGNET_METRICS_PORT; 0 = off).")
@inventory_option
@click.pass_context
def collector(ctx: click.Context, interval: float, banner: str | None, metrics_port: int | None, inventory) -> None:  # type: ignore[no-untyped-def]
    """Run the collectors alone (scale-out), sharing the database with the web process.

    With --banner, one process per banner (and one for the city core) splits the
    polling; each records only its own devices and alerts.
    """
    from collectors.scope import ScopeError, scope_for
    from collectors.wiring import build_services
    from wangnet.servicehost import ExporterError, configure_logging, host_services, start_exporter

    settings: Settings = ctx.obj["settings"]
    configure_logging()
    inv = load_or_exit(resolve_inventory_path(ctx, inventory))
    scope = None
    if banner is not None:
        try:
            scope = scope_for(inv, banner)
        except ScopeError as exc:
            raise click.BadParameter(str(exc), param_hint="--banner") from None
    if interval <= 0:
        raise click.BadParameter(f"{interval:g}: must be more than 0 seconds", param_hint="--interval")
    store = Store.from_settings(settings)
    store.upgrade()
    services = build_services(settings.with_overrides(collector_interval=interval), store, inv, scope)
    polled = len(scope.observed) if scope else len(inv.devices)
    what = f"banner {scope.name} ({len(scope.owned)} devices, {polled} polled)" if scope else f"{polled} devices"

    def started() -> None:
        try:
            port = start_exporter(settings, metrics_port)
        except ExporterError as exc:
            raise click.ClickException(str(exc)) from None
        if port:
            click.echo(f"metrics on http://{settings.metrics_host}:{port}/metrics")
        click.echo(f"collectors polling {what} every {interval:g} s (Ctrl-C stops)")

    try:
        host_services(services, started)
    finally:
        store.dispose()
    click.echo("collectors stopped")


COMMANDS = (poll, alerts, collector)
