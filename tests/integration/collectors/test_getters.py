"""NAPALM (napalm-linux) against a real OpenSSH server on loopback, in a private mount namespace."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time

import pytest

from collectors.getters import SshLogin, snapshot


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def sshd(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.skip("needs root: sshd runs in a private mount namespace with its own /run")
    if not shutil.which("unshare") or not os.path.exists("/usr/sbin/sshd"):
        pytest.skip("openssh-server is not installed (`make setup` as root installs it)")
    work = tmp_path_factory.mktemp("sshd")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(work / "host_key")], check=True)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(work / "client_key")], check=True)
    (work / "authorized_keys").write_text((work / "client_key.pub").read_text())
    port = free_port()
    (work / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {work / 'host_key'}\nPidFile {work / 'sshd.pid'}\n"
        f"AuthorizedKeysFile {work / 'authorized_keys'}\nPermitRootLogin prohibit-password\n"
        "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n"
    )
    proc = subprocess.Popen(
        ["unshare", "-m", "sh", "-c",
         f"mount --make-rprivate / && mount -t tmpfs tmpfs /run && mkdir -p /run/sshd && "
         f"exec /usr/sbin/sshd -D -e -f {work / 'sshd_config'}"],
        stderr=open(work / "sshd.log", "wb"),
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail("sshd did not start: " + (work / "sshd.log").read_text())
            time.sleep(0.1)
    yield port, str(work / "client_key"), (work / "host_key.pub").read_text().split()
    proc.terminate()
    proc.wait(10)


def test_linux_getters_over_real_ssh(sshd):
    port, key, (key_type, host_key, *_) = sshd
    snap = snapshot("test-host", "linux", SshLogin("127.0.0.1", port, "root", "", key_file=key))
    assert "connect" not in snap.errors, snap.errors
    assert snap.facts["hostname"] and snap.facts["os_version"]
    assert "lo" in snap.interfaces
    assert "ip route" in snap.config or "inet 127.0.0.1" in snap.config
    assert snap.errors.get("get_interfaces_counters") == "not implemented by the driver"
    assert snap.host_key == {"key_type": key_type, "key": host_key}  # trusted on first use, to be pinned


def test_a_changed_host_key_is_refused_before_login(sshd):
    port, key, _ = sshd
    impostor = {"key_type": "ssh-ed25519", "key": "AAAAC3NzaC1lZDI1NTE5AAAAIMn6tiwU8bz3wN4Ud5yH5fq0bY4m9Yc4k3yQ9Q1P2r3S"}
    snap = snapshot("test-host", "linux", SshLogin("127.0.0.1", port, "root", "", key_file=key, known_host_key=impostor))
    assert "connect" in snap.errors and snap.facts == {}


def test_a_dead_device_is_a_clear_error_within_its_timeout():
    started = time.monotonic()
    snap = snapshot("gone", "linux", SshLogin("127.0.0.1", free_port(), "root", "pw", timeout=5))
    assert "connect" in snap.errors and time.monotonic() - started < 60
    assert "pw" not in snap.errors["connect"]
