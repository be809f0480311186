"""Real net-snmp ``snmpd`` agents on loopback, started by the tests (no root needed)."""
from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass(frozen=True)
class Agent:
    host: str
    port: int
    community: str
    user: str
    auth_key: str
    priv_key: str


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def require_net_snmp() -> str:
    snmpd = shutil.which("snmpd") or "/usr/sbin/snmpd"
    if not Path(snmpd).exists() or shutil.which("snmpget") is None:
        pytest.skip("net-snmp snmpd/snmpget are not installed (`make setup` as root installs them)")
    return snmpd


def start_snmpd(work: Path, community: str, sys_name: str) -> tuple[subprocess.Popen, Agent]:
    """A real net-snmp agent on a free loopback port, answering once this returns."""
    snmpd = require_net_snmp()
    work.mkdir(parents=True, exist_ok=True)
    port = free_udp_port()
    agent = Agent("127.0.0.1", port, community, "nocuser", "auth-pass-123", "priv-pass-456")
    conf = work / "snmpd.conf"
    conf.write_text(
        f"agentAddress udp:127.0.0.1:{port}\n"
        f"rocommunity {agent.community} 127.0.0.1\n"
        f'createUser {agent.user} SHA "{agent.auth_key}" AES "{agent.priv_key}"\n'
        f"rouser {agent.user} authpriv\n"
        f"sysName {sys_name}\n"
    )
    proc = subprocess.Popen(
        [snmpd, "-f", "-C", "-c", str(conf), "-Lf", str(work / "snmpd.log"), "-p", str(work / "pid")],
        env={"SNMP_PERSISTENT_DIR": str(work / "persist"), "PATH": "/usr/sbin:/usr/bin:/bin"},
    )
    deadline = time.monotonic() + 30
    while True:
        probe = subprocess.run(
            ["snmpget", "-v2c", "-c", community, "-t", "1", "-r", "0", f"127.0.0.1:{port}", "1.3.6.1.2.1.1.3.0"],
            capture_output=True,
        )
        if probe.returncode == 0:
            return proc, agent
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"snmpd did not answer: {(work / 'snmpd.log').read_text(errors='replace')[-2000:]}")
        time.sleep(0.2)


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


@pytest.fixture(scope="session")
def snmpd_agent(tmp_path_factory) -> Agent:  # type: ignore[no-untyped-def]
    work = tmp_path_factory.mktemp("snmpd")
    proc, agent = start_snmpd(work, "c0mm-" + work.name[-6:], "wangnet-test-agent")
    yield agent
    stop(proc)
