"""``wangnet bridge --site ID``: one conference bridge alone, for scale-out.

The same code as the embedded default: a ``ConferenceMedia`` that hosts only
the bridge at ``--site`` for every running conference whose cascade plan has
it, driven by the same controller (layouts from the control state in the
shared database), and the web app's WHIP/WHEP routes with the same logins, so
a banner's terminals can publish to and subscribe from their banner's bridge
process. It registers its site and URL in the shared store
(``conferencing.peers``) so that ``wangnet serve`` leaves that bridge to it and
the other bridges' processes pull their trunks from it over HTTP
(``conferencing.remote_trunk``; shared secret
``WANGNET_CRED_CONFERENCE_BRIDGE_TOKEN``). See conferencing/README.md, "Scale-out".
"""
from __future__ import annotations

import logging
import signal
import time

import click

from wangnet import metrics
from wangnet.config import Settings
from wangnet.runtime import Runtime
from wangnet.store import Store


@click.command()
@click.option("--site", "site_id", required=True, help="Inventory site id whose bridge this process runs (city or a banner).")
@click.option("--host", default=None, help="Listen address for WHIP/WHEP (default: the web host, 127.0.0.1).")
@click.option("--port", default=None, type=int, help="Listen port for WHIP/WHEP (default: the web port).")
@click.option("--threads", default=8, show_default=True, help="WSGI worker threads.")
@click.option("--metrics-port", default=0, type=int,
              help="Prometheus exporter port for this bridge's figures (0 = none; serve's default port is taken).")
@click.pass_context
def bridge(ctx: click.Context, site_id: str, host: str | None, port: int | None, threads: int,
           metrics_port: int) -> None:
    """Run the conference bridge of one site (city or banner) on its own."""
    import waitress

    from conferencing.controller import ConferenceController
    from conferencing.media import ConferenceMedia
    from conferencing.peers import BridgeDirectory, claim_conflict, default_url, read_peers, this_process
    from topology import InventoryError, load_inventory
    from web.app import create_app

    settings: Settings = ctx.obj["settings"].with_overrides(web_host=host, web_port=port)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        inventory = load_inventory(settings.inventory_path)
    except InventoryError as exc:
        raise click.ClickException(f"inventory is invalid:\n{exc}") from exc
    try:
        site = inventory.site(site_id)
    except KeyError:
        raise click.BadParameter(f'unknown site "{site_id}" (not in the inventory)', param_hint="--site") from None
    if site.tier == "township":
        raise click.BadParameter(f'"{site_id}" is a township: townships join their banner\'s bridge', param_hint="--site")
    store = Store.from_settings(settings)
    store.upgrade()
    conflict = claim_conflict(read_peers(store).get(site_id), this_process(), time.time())
    if conflict:
        store.dispose()
        raise click.ClickException(conflict)
    app = create_app(settings, store=store, runtime=None, inventory=inventory)
    server = waitress.create_server(app, host=settings.web_host, port=settings.web_port, threads=threads,
                                    clear_untrusted_proxy_headers=not settings.trusted_proxies)
    # registered with the port actually bound (--port 0 picks a free one)
    directory = BridgeDirectory(settings, store, claim=site_id, url=default_url(settings, server.effective_port))
    controller = ConferenceController(settings, store, inventory)
    media = ConferenceMedia(settings, listener=controller.on_media_event, only_bridge=site_id, directory=directory)
    controller.media = media
    runtime = Runtime([directory, media, controller])
    runtime.start()
    app.extensions["wangnet.runtime"] = runtime
    app.extensions["conference_media"] = media
    if metrics_port:
        exporter, _ = metrics.serve(settings.metrics_host, metrics_port)
        click.echo(f"metrics on http://{settings.metrics_host}:{exporter.server_port}/metrics")

    def _shutdown(*_: object) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, _shutdown)
    click.echo(f"wangnet bridge {site_id} on http://{settings.web_host}:{server.effective_port}/")
    try:
        server.run()
    except (KeyboardInterrupt, SystemExit):
        click.echo(f"wangnet bridge {site_id} stopping")
    finally:
        runtime.stop()
        store.dispose()


COMMANDS = (bridge,)
