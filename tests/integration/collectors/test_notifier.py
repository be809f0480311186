"""Notifications into a real SMTP server (aiosmtpd) and a real HTTP endpoint for the SMS hook."""
from __future__ import annotations

import asyncio
import json
import socket
import threading
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller

from collectors.notifier import Notifier
from collectors.notify import AlertEvent, Throttle
from wangnet import accounts


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content, policy=policy.default)))
        return "250 OK"


@pytest.fixture
def smtp():
    inbox = Inbox()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield controller, inbox
    controller.stop()


@pytest.fixture
def sms_platform():
    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers["Content-Length"])
            received.append(json.loads(self.rfile.read(length).decode("utf-8")))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/send", received
    server.shutdown()


def test_alert_reaches_noc_by_mail_and_sms_once(settings, store, smtp, sms_platform):
    controller, inbox = smtp
    url, texts = sms_platform
    with store.session() as s:
        noc = accounts.create_user(s, "zhang", "a long password", ["noc"])
        noc.email, noc.mobile = "zhang@ordos.example", "13800000001"
        staff = accounts.create_user(s, "li", "a long password", ["staff"])
        staff.email = "li@ordos.example"
    cfg = settings.with_overrides(smtp_host="127.0.0.1", smtp_port=controller.port, sms_url=url)
    notifier = Notifier(cfg, store, {"dalad": "达拉特旗", "shulinzhao": "树林召镇"}, Throttle(dedup_seconds=600))
    event = AlertEvent("link:city-core-1--dalad-rt", "link", "city-core-1--dalad-rt", "critical", "opened", ("dalad", "shulinzhao"))
    asyncio.run(notifier.dispatch([event, event]))  # the duplicate is dropped

    (rcpt, mail), = inbox.messages
    assert rcpt == ["zhang@ordos.example"]  # staff are not told about links
    assert mail["Subject"] == "【王网告警】链路 city-core-1--dalad-rt 故障"
    assert "达拉特旗、树林召镇" in mail.get_content()
    assert texts == [{"to": "13800000001", "text": "【王网告警】链路 city-core-1--dalad-rt故障，切断达拉特旗、树林召镇"}]
    assert notifier.counts == {"email_sent": 1, "sms_sent": 1, "email_duplicate": 1, "sms_duplicate": 1}


def test_a_dead_relay_is_counted_not_raised(settings, store):
    with store.session() as s:
        accounts.create_user(s, "wang", "a long password", ["noc"]).email = "wang@ordos.example"
    cfg = settings.with_overrides(smtp_host="127.0.0.1", smtp_port=9)  # nothing listens on discard
    notifier = Notifier(cfg, store, {})
    asyncio.run(notifier.dispatch([AlertEvent("device:x", "device", "x", "critical", "opened")]))
    assert notifier.counts == {"email_failed": 1}
