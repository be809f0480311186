"""``wangnet sip`` runs the registrar and proxy alone, answers, and stops cleanly on SIGTERM."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from .conftest import free_port


def test_wangnet_sip_command(tmp_path: Path) -> None:
    port, metrics_port = free_port(), free_port(socket.SOCK_STREAM)
    env = {**os.environ, "WANGNET_VAR_DIR": str(tmp_path / "var")}
    wangnet = str(Path(sys.executable).with_name("wangnet"))
    proc = subprocess.Popen([wangnet, "sip", "--port", str(port), "--metrics-port", str(metrics_port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    probe = (f"OPTIONS sip:127.0.0.1:{port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;rport;branch=z9hG4bKcli\r\n"
             f"From: <sip:probe@127.0.0.1>;tag=p\r\nTo: <sip:127.0.0.1:{port}>\r\nCall-ID: cli\r\nCSeq: 1 OPTIONS\r\n"
             f"Content-Length: 0\r\n\r\n").encode()
    try:
        answer = b""
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(0.5)
            deadline = time.monotonic() + 60
            while not answer and time.monotonic() < deadline:
                assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
                s.sendto(probe, ("127.0.0.1", port))
                try:
                    answer = s.recvfrom(4096)[0]
                except socket.timeout:
                    continue
        assert answer.startswith(b"SIP/2.0 200 OK\r\n"), answer
        with socket.create_connection(("127.0.0.1", port), timeout=10) as tcp:  # the same port over TCP
            tcp.sendall(probe.replace(b"SIP/2.0/UDP", b"SIP/2.0/TCP"))
            assert tcp.recv(4096).startswith(b"SIP/2.0 200 OK\r\n")
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10).read().decode()
        assert "wangnet_sip_bindings" in metrics
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    assert f"listening on udp+tcp 127.0.0.1:{port}" in out
