"""Real phones: two headless baresip at two sites call each other through the proxy; linphonec registers."""
from __future__ import annotations

import os
import socket
import subprocess
from typing import Iterator

import pytest

from .baresip import Baresip
from .conftest import REALM, SipHarness, free_port, require_binary, wait_for


def _port_pair() -> int:
    """A port free with its successor (baresip's TLS listener takes PORT+1)."""
    for _ in range(50):
        port = free_port()
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.bind(("127.0.0.1", port + 1))
            return port
        except OSError:
            continue
    raise RuntimeError("no free port pair")


@pytest.fixture
def phone_pair(make_sip, phones, tmp_path) -> Iterator[tuple[SipHarness, Baresip, Baresip]]:  # type: ignore[no-untyped-def]
    binary = require_binary("baresip")
    sip = make_sip()  # the default offer (MD5 only: baresip 1.0 fails on any SHA-256 challenge)
    made: list[Baresip] = []
    for i, ext in enumerate(("1001", "2001")):
        phone = Baresip(binary, tmp_path / f"baresip-{ext}", ext, phones[ext][0], REALM, sip.port,
                        _port_pair(), free_port(), 30000 + 100 * i + (free_port() % 200) * 100 % 30000)
        made.append(phone)
    try:
        for phone in made:
            phone.connect()
        yield sip, made[0], made[1]
    finally:
        for phone in made:
            phone.stop()


def test_call_between_two_sites(phone_pair) -> None:  # type: ignore[no-untyped-def]
    sip, caller, callee = phone_pair
    for ext in ("1001", "2001"):  # registered before our control connection: ask the registrar
        wait_for(lambda: sip.bindings(ext), timeout=30, what=f"baresip {ext} to register")
    assert all(b.user_agent.startswith("baresip") for e in ("1001", "2001") for b in sip.bindings(e))
    assert {sip.service.directory.get(e).site_id for e in ("1001", "2001")} == {"city", "dalad"}
    caller.command("dial", f"sip:2001@{REALM}")
    caller.wait_event("CALL_ESTABLISHED", timeout=30)
    callee.wait_event("CALL_ESTABLISHED", timeout=30)
    assert sip.service.proxy.stats.calls_answered == 1
    caller.command("hangup")
    caller.wait_event("CALL_CLOSED", timeout=30)
    callee.wait_event("CALL_CLOSED", timeout=30)
    forwarded = sip.call(lambda: dict(sip.service.proxy.stats.forwarded))
    assert forwarded.get("INVITE") == 1 and forwarded.get("ACK") == 1
    assert forwarded.get("BYE") == 1  # record-routed: the dialog's BYE came through the proxy


def test_linphonec_registers_with_sha256(make_sip, phones, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A third phone, a different SIP stack (belle-sip): it picks SHA-256 when offered first (RFC 8760)."""
    binary = require_binary("linphonec")
    sip = make_sip(algorithms=("SHA-256", "MD5"))
    home = tmp_path / "linphone-home"
    (home / ".local" / "share" / "linphone").mkdir(parents=True)  # else the core never starts
    rc = home / "linphonerc"
    rc.write_text("[sip]\nsip_port=-1\nsip_tcp_port=-1\nsip_tls_port=-1\n[rtp]\naudio_rtp_port=-1\n")
    log = home / "linphonec.log"
    proc = subprocess.Popen([binary, "-c", str(rc), "-d", "6", "-l", str(log)], stdin=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True,
                            env={**os.environ, "HOME": str(home)})

    def send(line: str) -> None:
        assert proc.stdin is not None
        proc.stdin.write(line + "\n")
        proc.stdin.flush()

    try:
        send(f"ports sip {free_port()}")  # linphonec ignores sip_port at start
        send(f"register sip:3001@{REALM} sip:127.0.0.1:{sip.port} {phones['3001'][0]}")

        def registered() -> bool:
            send("status register")  # linphonec only runs its core loop when stdin has input
            return bool(sip.bindings("3001"))

        wait_for(registered, timeout=60, what="linphonec to register")
        [binding] = sip.bindings("3001")
        assert "linphone" in binding.user_agent.lower()
        assert "algorithm=SHA-256" in log.read_text(errors="replace")
        assert sip.service.directory.get("3001").site_id == "ejin"
        send("quit")  # a clean exit unregisters
        proc.wait(timeout=30)
        wait_for(lambda: sip.bindings("3001") == [], timeout=30, what="linphonec's unregistration")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
