"""NAPALM vendor drivers against emulated vendor CLIs (fakenos over real SSH on loopback).

The lab's devices are Linux namespaces (napalm-linux); the inventory's Huawei
VRP and Cisco IOS routers are reached through their vendors' NAPALM drivers,
which speak the vendor CLI over SSH. fakenos answers that CLI with recorded
outputs, so what is checked here is our side: the driver names, the getters
run, and what ``snapshot`` makes of their answers — not a real router's
firmware. H3C Comware is not here: napalm-h3c-comware 0.1.5 fails to open a
session under napalm 5 (see collectors/README.md).
"""
import secrets
import socket
import subprocess
import time
from pathlib import Path

import pytest

from collectors.getters import SshLogin, snapshot
from wangnet.config import PROJECT_ROOT

FAKENOS_PYTHON = PROJECT_ROOT / ".venv-fakenos" / "bin" / "python"
SERVER = Path(__file__).with_name("fakenos_server.py")
PLATFORMS = {"ios": "cisco_ios", "huawei_vrp": "huawei_vrp"}  # inventory platform → fakenos platform


def free_tcp_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def fakenos(tmp_path_factory):
    if not FAKENOS_PYTHON.exists():
        pytest.skip(f"{FAKENOS_PYTHON} missing: run `make setup` (it builds the fakenos environment)")
    password = secrets.token_urlsafe(12)
    ports = {platform: free_tcp_port() for platform in PLATFORMS}
    hosts = "".join(
        f"  {platform}-1:\n    platform: \"{fake}\"\n    port: {ports[platform]}\n" for platform, fake in PLATFORMS.items()
    )
    inventory = tmp_path_factory.mktemp("fakenos") / "inventory.yaml"
    inventory.write_text(
        "default:\n  username: \"noc\"\n  password: \"" + password + "\"\n"
        "  server:\n    plugin: \"ParamikoSshServer\"\n    configuration:\n      address: \"127.0.0.1\"\n      timeout: 1\n"
        "hosts:\n" + hosts
    )
    proc = subprocess.Popen([str(FAKENOS_PYTHON), str(SERVER), str(inventory)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        line = proc.stdout.readline()
        assert line.strip() == "ready", f"fakenos did not start: {line}{proc.stdout.read() if proc.poll() is not None else ''}"
        deadline = time.monotonic() + 60
        for port in ports.values():
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    assert time.monotonic() < deadline, f"fakenos port {port} never listened"
                    time.sleep(0.1)
        yield ports, password
    finally:
        proc.terminate()  # fakenos' own shutdown joins every SSH server thread (~20 s); nothing of it needs to be kept
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("platform, vendor", [("ios", "Cisco"), ("huawei_vrp", "Huawei")])
def test_vendor_driver_getters_through_snapshot(fakenos, platform, vendor):
    ports, password = fakenos
    shot = snapshot(f"{platform}-1", platform, SshLogin("127.0.0.1", ports[platform], "noc", password, timeout=60))
    assert "connect" not in shot.errors, shot.errors
    assert shot.facts["vendor"] == vendor
    assert shot.facts["interface_list"]
    assert shot.interfaces and all("is_up" in v and "speed" in v for v in shot.interfaces.values())
    assert shot.counters and all("rx_octets" in v and "tx_octets" in v for v in shot.counters.values())
    assert shot.lldp_ok
    assert set(shot.errors) <= {"get_config"}, shot.errors
    if platform == "ios":
        assert shot.errors == {}
        assert "hostname ios-1" in shot.config
        assert shot.lldp  # the recorded `show lldp neighbors detail` has one neighbour


def test_wrong_password_is_a_connect_error_without_the_password(fakenos):
    ports, _ = fakenos
    wrong = "not-" + secrets.token_urlsafe(8)
    shot = snapshot("ios-1", "ios", SshLogin("127.0.0.1", ports["ios"], "noc", wrong, timeout=20))
    assert set(shot.errors) == {"connect"}
    assert "uthentication" in shot.errors["connect"]
    assert wrong not in shot.errors["connect"]
