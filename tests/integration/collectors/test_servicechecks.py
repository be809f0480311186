"""Service checks against real servers on loopback: HTTP, SMTP (aiosmtpd) and a bare TCP port."""
from __future__ import annotations

import asyncio
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller

from collectors.servicechecks import check
from topology.schema import Service


def svc(kind, path="/"):
    return Service(id=f"s-{kind}", name="测试", kind=kind, site="city", device="city-sw", address="10.0.1.1", port=80, path=path)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_http_ok_and_server_error():
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200 if self.path == "/oa/" else 503)
            self.end_headers()

        def log_message(self, *a):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        ok = asyncio.run(check(svc("http", "/oa/"), "127.0.0.1", server.server_port))
        bad = asyncio.run(check(svc("http", "/broken"), "127.0.0.1", server.server_port))
    finally:
        server.shutdown()
    assert ok.ok and ok.detail == "HTTP 200"
    assert not bad.ok and bad.detail == "HTTP 503"


def test_smtp_greeting():
    class Sink:
        async def handle_DATA(self, server, session, envelope):
            return "250 OK"

    port = free_port()
    controller = Controller(Sink(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        result = asyncio.run(check(svc("smtp"), "127.0.0.1", port))
    finally:
        controller.stop()
    assert result.ok and result.detail == "SMTP 220"


def test_tcp_refused_and_silent():
    refused = asyncio.run(check(svc("tcp"), "127.0.0.1", free_port(), timeout=2))
    assert not refused.ok and "refused" in refused.detail.lower()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    try:
        up = asyncio.run(check(svc("tcp"), "127.0.0.1", listener.getsockname()[1], timeout=2))
        silent_http = asyncio.run(check(svc("http"), "127.0.0.1", listener.getsockname()[1], timeout=1))
    finally:
        listener.close()
    assert up.ok
    assert not silent_http.ok and silent_http.detail == "no answer within 1s"
