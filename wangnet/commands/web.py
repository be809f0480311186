"""``wangnet web``: the web app alone (scale-out): pages and API read the store the service processes write.

No network service runs here — no poller, SIP socket or ingest worker. What
those services know reaches the pages through the shared database: collectors
write device state and alerts, the SIP process writes bindings, the VOD worker
writes job progress and publishes episodes; what the web changes (a new phone,
an uploaded file, an acknowledged alert) is picked up by the services from
the same database.
"""
from __future__ import annotations

import signal

import click


@click.command()
@click.option("--host", default=None, help="Listen address (default: WANGNET web host, 127.0.0.1).")
@click.option("--port", default=None, type=int, help="Listen port (default 8080).")
@click.option("--threads", default=32, show_default=True, help="WSGI worker threads (each live map holds one).")
@click.option("--metrics-port", default=None, type=int,
              help="Serve Prometheus metrics on this port of the metrics host (default: WANGNET_METRICS_PORT; 0 = off).")
@click.pass_context
def web(ctx: click.Context, host: str | None, port: int | None, threads: int, metrics_port: int | None) -> None:
    """Serve the web app without the network services (they run as their own processes)."""
    import waitress

    from topology import InventoryError, load_inventory
    from vod import metrics as vod_metrics
    from wangnet.servicehost import ExporterError, configure_logging, start_exporter
    from wangnet.store import Store
    from web.app import create_app

    settings = ctx.obj["settings"].with_overrides(web_host=host, web_port=port)
    configure_logging()
    try:
        inventory = load_inventory(settings.inventory_path)
    except InventoryError as exc:
        raise click.ClickException(f"inventory is invalid:\n{exc}") from exc
    store = Store.from_settings(settings)
    store.upgrade()
    app = create_app(settings, store=store, runtime=None, inventory=inventory)
    try:
        # behind nginx (WANGNET_TRUSTED_PROXIES) the forwarded headers must reach ProxyFix; waitress drops them otherwise
        server = waitress.create_server(app, host=settings.web_host, port=settings.web_port, threads=threads,
                                        clear_untrusted_proxy_headers=not settings.trusted_proxies)
    except OSError as exc:
        store.dispose()
        raise click.ClickException(f"cannot listen on {settings.web_host}:{settings.web_port}: {exc.strerror or exc}")

    def _shutdown(*_: object) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, _shutdown)
    try:
        exporter = start_exporter(settings, metrics_port, vod_metrics.REGISTRY)
    except ExporterError as exc:
        server.close()
        store.dispose()
        raise click.ClickException(str(exc)) from None
    if exporter:
        click.echo(f"metrics on http://{settings.metrics_host}:{exporter}/metrics")
    click.echo(f"wangnet web on http://{settings.web_host}:{server.effective_port}/ (no network services here)")
    try:
        server.run()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.close()
        store.dispose()
    click.echo("wangnet web stopped")


COMMANDS = (web,)
