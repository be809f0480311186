"""``wangnet sip``: the SIP registrar and proxy alone (scale-out, or a trial without the web app)."""
from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from wangnet.config import Settings
    from wangnet.store import Store


@click.command()
@click.option("--host", default=None, help="Listen address (default: the sip_host setting, 127.0.0.1).")
@click.option("--port", default=None, type=int, help="UDP and TCP port (default: the sip_port setting, 5060).")
@click.option("--metrics-port", default=None, type=int, help="Serve Prometheus metrics on this loopback port.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Worker processes sharing the UDP port (SO_REUSEPORT). More than one only pays on a machine "
                   "with idle cores (see telephony/README.md, Benchmark).")
@click.pass_context
def sip(ctx: click.Context, host: str | None, port: int | None, metrics_port: int | None, workers: int | None) -> None:
    """Run the SIP registrar and proxy (UDP and TCP) until interrupted."""
    from wangnet.store import Store

    settings = ctx.obj["settings"].with_overrides(sip_host=host, sip_port=port)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    store = Store.from_settings(settings)
    store.upgrade()
    count = workers or 1
    if count == 1:
        _run(settings, store, metrics_port)
        return
    # Several processes: reserve the port (port 0 picks one), fork the secondaries before any event loop or
    # database connection exists, then run the primary here. Each process opens its own store.
    store.dispose()
    family = socket.AF_INET6 if ":" in settings.sip_host else socket.AF_INET
    reserve = socket.socket(family, socket.SOCK_DGRAM)
    reserve.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    reserve.bind((settings.sip_host, settings.sip_port))
    settings = settings.with_overrides(sip_port=reserve.getsockname()[1])
    primary_end, worker_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    for end in (primary_end, worker_end):
        end.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
        end.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    parent, children, nonce_key = os.getpid(), [], os.urandom(32)  # one nonce key: any worker checks any nonce
    for worker in range(1, count):
        pid = os.fork()
        if pid == 0:  # a secondary: REGISTERs only; exits when told to or when the primary is gone
            code = 0
            try:
                primary_end.close()
                reserve.close()
                _run(settings, Store.from_settings(settings), None, link=worker_end, worker=worker, parent=parent,
                     nonce_key=nonce_key)
            except BaseException:
                logging.getLogger(__name__).exception("SIP worker %d failed", worker)
                code = 1
            finally:
                os._exit(code)
        children.append(pid)
    worker_end.close()
    try:
        _run(settings, Store.from_settings(settings), metrics_port, link=primary_end, worker=0, reserve=reserve,
             nonce_key=nonce_key)
    finally:
        reserve.close()
        for pid in children:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for pid in children:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass


def _run(settings: Settings, store: Store, metrics_port: int | None, *, link: socket.socket | None = None, worker: int = 0,
         parent: int | None = None, reserve: socket.socket | None = None, nonce_key: bytes | None = None) -> None:
    """One process's service until SIGINT/SIGTERM (a secondary also stops when its primary is gone)."""
    from telephony.service import SipService

    service = SipService(settings, store, reuse_port=link is not None, link=link, worker=worker, nonce_key=nonce_key)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await service.start()
        if reserve is not None:
            reserve.close()  # the workers' sockets hold the port now; the reservation would only eat datagrams
        if metrics_port is not None:
            from prometheus_client import start_http_server

            start_http_server(metrics_port, addr="127.0.0.1", registry=service.metrics.registry)
        if worker == 0:
            click.echo(f"wangnet sip listening on udp+tcp {service.host}:{service.port}", err=True)
        try:
            if parent is None:
                await stop.wait()
            else:
                while not stop.is_set() and os.getppid() == parent:
                    try:
                        await asyncio.wait_for(stop.wait(), 0.5)
                    except asyncio.TimeoutError:
                        pass
        finally:
            await service.stop()

    try:
        asyncio.run(run())
    finally:
        store.dispose()


COMMANDS = (sip,)
