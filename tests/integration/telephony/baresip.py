"""Drive a headless baresip (1.0) phone: a config directory of its own, control over ctrl_tcp (netstring JSON)."""
from __future__ import annotations

import json
import socket
import subprocess
import time
from pathlib import Path

CONFIG = """\
poll_method\t\tepoll
sip_listen\t\t127.0.0.1:{sip_port}
net_interface\t\t127.0.0.1
audio_player\t\taubridge,nil
audio_source\t\taubridge,nil
audio_alert\t\taubridge,nil
rtp_ports\t\t{rtp_low}-{rtp_high}
module_path\t\t/usr/lib/baresip/modules
module\t\t\tg711.so
module\t\t\topus.so
module\t\t\taubridge.so
module_app\t\taccount.so
module_app\t\tmenu.so
module_app\t\tctrl_tcp.so
ctrl_tcp_listen\t\t127.0.0.1:{ctrl_port}
"""


class Baresip:
    """One baresip process registered as ``extension`` through the proxy at ``proxy_port``."""

    def __init__(self, binary: str, workdir: Path, extension: str, password: str, realm: str, proxy_port: int,
                 sip_port: int, ctrl_port: int, rtp_low: int) -> None:
        self.extension = extension
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        (workdir / "config").write_text(CONFIG.format(sip_port=sip_port, ctrl_port=ctrl_port, rtp_low=rtp_low, rtp_high=rtp_low + 20))
        (workdir / "accounts").write_text(
            f'<sip:{extension}@{realm};transport=udp>;auth_pass={password};'
            f'outbound="sip:127.0.0.1:{proxy_port};transport=udp";regint=300;answermode=auto\n'
        )
        (workdir / "contacts").write_text("")
        self.log_path = workdir / "baresip.log"
        self._log = self.log_path.open("w")
        self.proc = subprocess.Popen([binary, "-f", str(workdir), "-t", "120"], stdin=subprocess.DEVNULL,
                                     stdout=self._log, stderr=subprocess.STDOUT)
        self.ctrl_port = ctrl_port
        self.sock: socket.socket | None = None
        self.buffer = b""
        self.events: list[dict] = []

    def connect(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"baresip {self.extension} exited {self.proc.returncode}:\n{self.log()}")
            try:
                self.sock = socket.create_connection(("127.0.0.1", self.ctrl_port), timeout=1)
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"baresip {self.extension} ctrl_tcp not listening:\n{self.log()}") from None
                time.sleep(0.2)

    def command(self, command: str, params: str = "") -> None:
        assert self.sock is not None
        body = json.dumps({"command": command, "params": params, "token": command}).encode()
        self.sock.sendall(str(len(body)).encode() + b":" + body + b",")

    def _read(self, timeout: float) -> None:
        assert self.sock is not None
        self.sock.settimeout(timeout)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            return
        if not chunk:
            raise RuntimeError(f"baresip {self.extension} closed its control connection:\n{self.log()}")
        self.buffer += chunk
        while b":" in self.buffer:
            length_text, _, rest = self.buffer.partition(b":")
            length = int(length_text)
            if len(rest) < length + 1:
                break
            self.events.append(json.loads(rest[:length]))
            self.buffer = rest[length + 1 :]

    def wait_event(self, type_: str, timeout: float = 30.0) -> dict:
        """The first event of ``type_`` (e.g. REGISTER_OK, CALL_ESTABLISHED, CALL_CLOSED), seen or still to come."""
        deadline = time.monotonic() + timeout
        while True:
            for event in self.events:
                if event.get("type") == type_:
                    self.events.remove(event)
                    return event
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"baresip {self.extension}: no {type_} within {timeout:.0f} s; events {self.events}\n{self.log()}")
            if self.proc.poll() is not None:
                raise RuntimeError(f"baresip {self.extension} exited {self.proc.returncode}:\n{self.log()}")
            self._read(min(remaining, 0.5))

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        if self.sock is not None:
            try:
                self.command("quit")
            except OSError:
                pass
            self.sock.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._log.close()
