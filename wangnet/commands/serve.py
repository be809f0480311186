"""``wangnet serve``: the whole product in one process (embedded default)."""
from __future__ import annotations

import logging
import signal

import click

from collectors import wiring as collectors_wiring
from conferencing.controller import build_services as conference_services
from telephony.service import SipService
from topology.schema import Inventory
from wangnet import metrics
from vod.worker import IngestWorker
from wangnet.config import Settings
from wangnet.runtime import Runtime, Service
from wangnet.store import Store


def build_services(settings: Settings, store: Store, inventory: Inventory) -> list[Service]:
    """The composition root of the long-running services hosted by ``serve``: one line per area."""
    services: list[Service] = []
    services.extend(collectors_wiring.build_services(settings, store, inventory))
    services.append(SipService(settings, store))
    services.append(IngestWorker.from_settings(settings, store))
    services.extend(conference_services(settings, store, inventory))
    return services


@click.command()
@click.option("--host", default=None, help="Listen address (default 127.0.0.1).")
@click.option("--port", default=None, type=int, help="Listen port (default 8080).")
@click.option("--threads", default=32, show_default=True, help="WSGI worker threads (each live map holds one).")
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None, threads: int) -> None:
    """Serve the web app and host the network services."""
    import waitress

    from topology import InventoryError, load_inventory
    from web.app import create_app

    settings = ctx.obj["settings"].with_overrides(web_host=host, web_port=port)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        inventory = load_inventory(settings.inventory_path)
    except InventoryError as exc:
        raise click.ClickException(f"inventory is invalid:\n{exc}") from exc
    store = Store.from_settings(settings)
    store.upgrade()
    runtime = Runtime(build_services(settings, store, inventory))
    runtime.start()
    if settings.metrics_port:
        exporter, _ = metrics.serve(settings.metrics_host, settings.metrics_port)
        click.echo(f"metrics on http://{settings.metrics_host}:{exporter.server_port}/metrics")
    app = create_app(settings, store=store, runtime=runtime, inventory=inventory)
    # behind nginx, waitress must leave X-Forwarded-* to the app's ProxyFix (it strips them by default)
    server = waitress.create_server(app, host=settings.web_host, port=settings.web_port, threads=threads,
                                    clear_untrusted_proxy_headers=not settings.trusted_proxies)

    def _shutdown(*_: object) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, _shutdown)
    click.echo(f"wangnet serving on http://{settings.web_host}:{settings.web_port}/")
    try:
        server.run()
    except (KeyboardInterrupt, SystemExit):
        click.echo("wangnet stopping")
    finally:
        runtime.stop()
        store.dispose()


COMMANDS = (serve,)
