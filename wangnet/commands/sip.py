"""``wangnet sip``: the SIP registrar and proxy alone (scale-out, or a trial without the web app)."""
from __future__ import annotations

import asyncio
import logging
import signal

import click


@click.command()
@click.option("--host", default=None, help="Listen address (default: the sip_host setting, 127.0.0.1).")
@click.option("--port", default=None, type=int, help="UDP and TCP port (default: the sip_port setting, 5060).")
@click.option("--metrics-port", default=None, type=int, help="Serve Prometheus metrics on this loopback port.")
@click.pass_context
def sip(ctx: click.Context, host: str | None, port: int | None, metrics_port: int | None) -> None:
    """Run the SIP registrar and proxy (UDP and TCP) until interrupted."""
    from telephony.service import SipService
    from wangnet.store import Store

    settings = ctx.obj["settings"].with_overrides(sip_host=host, sip_port=port)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    store = Store.from_settings(settings)
    store.upgrade()
    service = SipService(settings, store)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await service.start()
        if metrics_port is not None:
            from prometheus_client import start_http_server

            start_http_server(metrics_port, addr="127.0.0.1", registry=service.metrics.registry)
        click.echo(f"wangnet sip listening on udp+tcp {service.host}:{service.port}", err=True)
        try:
            await stop.wait()
        finally:
            await service.stop()

    try:
        asyncio.run(run())
    finally:
        store.dispose()


COMMANDS = (sip,)
