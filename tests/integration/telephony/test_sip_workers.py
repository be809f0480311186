"""``wangnet sip --workers 2``: phones registered through either worker can be called, counted and kept.

Ten phones (each a UDP socket on its own port, so the kernel's SO_REUSEPORT
hash spreads them over both workers) register with digest authentication;
then each is called (an OPTIONS to its extension, from yet another port) and
must receive the request from the proxy — whichever worker took its
REGISTER. The metrics count all ten registrations, and after a stop the
store holds all ten bindings (the primary writes the secondaries' too).
"""
from __future__ import annotations

import hashlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from sqlalchemy import func, select

from telephony.models import Binding
from wangnet.config import load_settings
from wangnet.store import Store

from .conftest import REALM, add_phone, free_port, wait_for

PHONES = [(f"30{i:04d}", f"worker-test-pw-{i}") for i in range(10)]


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def _request(method: str, ruri: str, user: str, sock: socket.socket, call_id: str, cseq: int, extra: str = "") -> bytes:
    host, port = sock.getsockname()
    return (f"{method} {ruri} SIP/2.0\r\nVia: SIP/2.0/UDP {host}:{port};rport;branch=z9hG4bK{call_id}{cseq}\r\n"
            f"Max-Forwards: 70\r\nFrom: <sip:{user}@{REALM}>;tag=t{port}\r\nTo: <sip:{user}@{REALM}>\r\n"
            f"Call-ID: {call_id}\r\nCSeq: {cseq} {method}\r\nContact: <sip:{user}@{host}:{port}>\r\n{extra}"
            f"Content-Length: 0\r\n\r\n").encode()


def _exchange(sock: socket.socket, data: bytes, server: tuple[str, int]) -> bytes:
    """Send until an answer comes (UDP: our own retransmissions), return it."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        sock.sendto(data, server)
        try:
            return sock.recvfrom(65535)[0]
        except socket.timeout:
            continue
    raise TimeoutError(f"no answer to {data[:40]!r}")


def _register(sock: socket.socket, extension: str, password: str, server: tuple[str, int]) -> bytes:
    call_id = f"reg-{extension}"
    challenge = _exchange(sock, _request("REGISTER", f"sip:{REALM}", extension, sock, call_id, 1), server)
    assert challenge.startswith(b"SIP/2.0 401"), challenge
    nonce = re.search(rb'nonce="([^"]+)"', challenge).group(1).decode()  # type: ignore[union-attr]
    uri, cnonce, nc = f"sip:{REALM}", "0a4f113b", "00000001"
    response = _md5(f"{_md5(f'{extension}:{REALM}:{password}')}:{nonce}:{nc}:{cnonce}:auth:{_md5('REGISTER:' + uri)}")
    auth = (f'Authorization: Digest username="{extension}", realm="{REALM}", nonce="{nonce}", uri="{uri}", '
            f'response="{response}", algorithm=MD5, qop=auth, nc={nc}, cnonce="{cnonce}"\r\nExpires: 600\r\n')
    return _exchange(sock, _request("REGISTER", f"sip:{REALM}", extension, sock, call_id, 2, auth), server)


def test_two_workers_share_bindings(tmp_path: Path) -> None:
    var = tmp_path / "var"
    store = Store.from_settings(load_settings(environ={}, var_dir=var))
    store.upgrade()
    for extension, password in PHONES:
        add_phone(store, extension, password, "city")
    port, metrics_port = free_port(), free_port(socket.SOCK_STREAM)
    env = {**os.environ, "WANGNET_VAR_DIR": str(var), "WANGNET_SIP_REALM": REALM, "WANGNET_SIP_DIGEST_ALGORITHMS": "MD5"}
    proc = subprocess.Popen([str(Path(sys.executable).with_name("wangnet")), "sip", "--port", str(port), "--workers", "2",
                             "--metrics-port", str(metrics_port)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    server = ("127.0.0.1", port)
    sockets: list[socket.socket] = []
    try:
        wait_for(lambda: len(Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()) == 1
                 or proc.poll() is not None, 60, "the second worker")
        assert proc.poll() is None
        for extension, password in PHONES:
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.bind(("127.0.0.1", 0))
            sock.settimeout(0.5)
            sockets.append(sock)
            ok = _register(sock, extension, password, server)
            assert ok.startswith(b"SIP/2.0 200"), ok
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as caller:
            caller.bind(("127.0.0.1", 0))
            for (extension, _), phone in zip(PHONES, sockets):
                options = _request("OPTIONS", f"sip:{extension}@{REALM}", "caller", caller, f"call-{extension}", 1)
                got = b""
                deadline = time.monotonic() + 60
                while not got.startswith(b"OPTIONS ") and time.monotonic() < deadline:
                    caller.sendto(options, server)
                    try:
                        got = phone.recvfrom(65535)[0]
                    except socket.timeout:
                        continue
                assert got.startswith(f"OPTIONS sip:{extension}@".encode()), (extension, got[:200])

        def registrations() -> float:
            text = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10).read().decode()
            found = re.search(r"^wangnet_sip_registrations_total ([0-9.e+]+)$", text, re.M)
            return float(found.group(1)) if found else 0.0

        wait_for(lambda: registrations() == len(PHONES), 60, "ten registrations counted over both workers")
    finally:
        for sock in sockets:
            sock.close()
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    assert "worker 1 (REGISTER)" in out
    with store.session() as s:
        assert s.execute(select(func.count()).select_from(Binding)).scalar_one() == len(PHONES)
    store.dispose()
