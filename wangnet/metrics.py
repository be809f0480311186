"""The process's Prometheus registry and its exporter on a loopback port.

Every area registers its metrics into ``REGISTRY`` (or hands a registry of its
own to ``register``) so that one scrape of a wangnet process sees them all.
The exporter listens on its own port — loopback by default — rather than
inside the web app, so metrics need no login and never leave the host unless
an operator says so (see the nginx notes in DESIGN.md).
"""
from __future__ import annotations

import threading
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.registry import Collector

REGISTRY = CollectorRegistry(auto_describe=True)


def register(collector: Collector) -> None:
    """Add a collector once; registering the same object twice is a no-op, not an error."""
    try:
        REGISTRY.register(collector)
    except ValueError:
        pass


def unregister(collector: Collector) -> None:
    try:
        REGISTRY.unregister(collector)
    except KeyError:
        pass


def serve(host: str, port: int) -> tuple[WSGIServer, threading.Thread]:
    """Start the exporter; returns the server (its ``server_port`` is the bound port) and its thread."""
    server, thread = start_http_server(port, addr=host, registry=REGISTRY)
    return server, thread
