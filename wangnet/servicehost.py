"""A process per service (scale-out): host some runtime services until SIGTERM, with a metrics exporter.

``wangnet collector``, ``wangnet vod-worker`` and ``wangnet web`` run the same
code as ``wangnet serve``, one service per process, sharing the database. Each
process exposes its own Prometheus exporter on a loopback port (so several
processes on one host need one port each) and stops cleanly on SIGTERM — what
systemd sends — or Ctrl-C: services are stopped in reverse order, work in
flight is cancelled the way each service defines (an ingest job is discarded
and re-queued by the next worker), and the exit status is 0.
"""
from __future__ import annotations

import logging
import signal
import threading
from typing import Callable

from prometheus_client import ProcessCollector
from prometheus_client.registry import Collector

from wangnet import metrics
from wangnet.config import Settings
from wangnet.runtime import Runtime, Service

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class ExporterError(RuntimeError):
    """The metrics port could not be bound (the message names host and port)."""


def configure_logging() -> None:
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)


def start_exporter(settings: Settings, port: int | None, *collectors: Collector) -> int | None:
    """Serve this process's metrics on ``port`` (None: the ``metrics_port`` setting; 0: off); returns the bound port.

    The process's own CPU, memory and file-descriptor figures (``process_*``)
    are exported too, so Prometheus can tell which service of a split
    deployment is the heavy one.
    """
    port = settings.metrics_port if port is None else port
    if not port:
        return None
    metrics.register(_PROCESS)
    for collector in collectors:
        metrics.register(collector)
    try:
        server, _ = metrics.serve(settings.metrics_host, port)
    except OSError as exc:
        raise ExporterError(f"cannot serve metrics on {settings.metrics_host}:{port}: {exc.strerror or exc}") from exc
    return server.server_port


def stop_requested() -> threading.Event:
    """An event set by SIGTERM or SIGINT; install it before starting anything, so an early signal is not lost."""
    stopped = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopped.set())
    return stopped


def host_services(services: list[Service], on_started: Callable[[], None] | None = None) -> None:
    """Start ``services`` on a runtime loop, run until SIGTERM/SIGINT, stop them; exceptions at start propagate."""
    stopped = stop_requested()
    runtime = Runtime(services)
    runtime.start()
    try:
        if on_started is not None:
            on_started()
        while not stopped.wait(3600):
            pass
    finally:
        runtime.stop()


_PROCESS = ProcessCollector(registry=None)
