"""pytest fixtures for any area: the real lab (root) and the SNMP simulation (no root).

Use them from an area's ``conftest.py``::

    from tests.lab_fixtures import lab, lab_session, sim  # noqa: F401

``lab`` brings the whole sample network up once per test session (namespaces,
snmpd, sshd, BIRD, lldpd — ~20 s) and hands a ``LabHandle``; it is skipped, with
the reason, when not root or when a Debian package is missing. Tests that
inject failures must heal them (``handle.heal()``) before they end.
``sim`` starts ``wangnet sim`` on free loopback ports for one test module and
hands a ``SimHandle``.
"""
from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import pytest

from topology.loader import load_inventory
from topology.schema import Inventory
from wangnet.config import PROJECT_ROOT

SAMPLE_INVENTORY = PROJECT_ROOT / "inventory.yaml"
LAB_BINARIES = ("ip", "tc", "snmpd", "snmpget", "snmpbulkwalk", "bird", "/usr/sbin/sshd", "ssh", "lldpd", "ping", "unshare")
SYS_NAME = "1.3.6.1.2.1.1.5.0"
LOCK_WAIT_S = 900.0


def snmp_cli_args(inv: Inventory, secrets: dict[str, dict[str, str]], device_id: str) -> list[str]:
    """net-snmp command-line credential options for a device, from its inventory credential reference."""
    dev = inv.device(device_id)
    cred = inv.credentials[dev.snmp]
    values = secrets[dev.snmp]
    if cred.kind == "snmp-v2c":
        return ["-v2c", "-c", values["community"]]
    return ["-v3", "-l", "authPriv", "-u", values["username"], "-a", (cred.auth_protocol or "sha").upper(),
            "-A", values["auth_key"], "-x", (cred.priv_protocol or "aes").upper(), "-X", values["priv_key"]]


def host_snapshot() -> dict[str, set[str]]:
    """What ``lab down`` must leave as it found: namespaces, host links, host routes."""
    netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    links = json.loads(subprocess.run(["ip", "-j", "link"], capture_output=True, text=True).stdout)
    routes = subprocess.run(["ip", "route", "show", "table", "all"], capture_output=True, text=True).stdout
    return {
        "netns": {line.split()[0] for line in netns.splitlines() if line.strip()},
        "links": {link["ifname"] for link in links},
        "routes": {line.strip() for line in routes.splitlines() if line.strip()},
    }


@dataclass
class LabHandle:
    """The running lab as tests see it: inventory, secrets, and third-party clients against it."""

    run_dir: Path
    inv: Inventory = field(default_factory=lambda: load_inventory(SAMPLE_INVENTORY))
    state: dict[str, Any] | None = None
    before: dict[str, set[str]] | None = None
    secrets: dict[str, dict[str, str]] = field(default_factory=dict)

    def wangnet(self, *args: str, check: bool = True, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "WANGNET_LAB_DIR": str(self.run_dir)}
        proc = subprocess.run([str(Path(sys.executable).parent / "wangnet"), *args], capture_output=True, text=True,
                              env=env, timeout=timeout, cwd=PROJECT_ROOT)
        if check and proc.returncode != 0:
            raise AssertionError(f"wangnet {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        return proc

    def ensure_up(self) -> "LabHandle":
        if self.state is None:
            if self.before is None:
                self.before = host_snapshot()
            if "wn-wire" in self.before["netns"] or "wn-wire" in host_snapshot()["netns"]:
                pytest.skip("another lab is up on this machine (`wangnet lab up`, or another test session); "
                            "the lab tests would have to tear it down")
            self.wangnet("lab", "up", "--inventory", str(SAMPLE_INVENTORY))
            self.state = json.loads((self.run_dir / "state.json").read_text())
            from ruamel.yaml import YAML

            self.secrets = YAML(typ="safe").load(Path(self.state["secrets_file"]).read_text())
        return self

    def down(self) -> None:
        if self.state is not None:
            self.state = None
            self.wangnet("lab", "down")

    @property
    def devices(self) -> list[str]:
        return sorted(self.ensure_up().state["devices"])  # type: ignore[index]

    def mgmt(self, device: str) -> str:
        return str(self.inv.device(device).mgmt)

    def snmp(self, tool: str, device: str, *oids: str, timeout: float = 1, retries: int = 1) -> subprocess.CompletedProcess[str]:
        """Run net-snmp's ``snmpget``/``snmpbulkwalk`` from the host against a device's management address."""
        argv = [tool, *snmp_cli_args(self.inv, self.secrets, device), "-On", "-t", str(timeout), "-r", str(retries),
                self.mgmt(device), *oids]
        return subprocess.run(argv, capture_output=True, text=True, timeout=60)

    def answering(self, devices: list[str] | None = None) -> set[str]:
        """Devices whose snmpd answers ``snmpget sysName.0`` from the host right now."""
        devices = devices or self.devices
        with ThreadPoolExecutor(max_workers=24) as pool:
            results = pool.map(lambda d: (d, self.snmp("snmpget", d, SYS_NAME, timeout=1, retries=1)), devices)
            return {d for d, proc in results if proc.returncode == 0 and d in proc.stdout}

    def wait_answering(self, expected: set[str], deadline_s: float = 60) -> set[str]:
        """Poll until exactly ``expected`` answers (routing converges in seconds); return the last answer."""
        end = time.monotonic() + deadline_s
        while True:
            got = self.answering()
            if got == expected or time.monotonic() > end:
                return got
            time.sleep(0.5)

    def fail(self, link: str | None = None, device: str | None = None) -> None:
        self.wangnet("lab", "fail", *(["--link", link] if link else ["--device", device or ""]))

    def heal(self) -> None:
        self.wangnet("lab", "heal")


def lab_skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "the lab needs root (network namespaces); CI runs as root"
    missing = [b for b in LAB_BINARIES if shutil.which(b) is None]
    if missing:
        return f"the lab needs {', '.join(missing)} (Debian packages; `make setup` as root installs them)"
    return None


@pytest.fixture(scope="session")
def lab_session() -> Iterator[LabHandle]:
    reason = lab_skip_reason()
    if reason:
        pytest.skip(reason)
    # One lab per machine: test sessions run side by side (several people in one tree) take turns.
    lock_path = PROJECT_ROOT / "var" / "test-lab.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as lock:
        deadline = time.monotonic() + LOCK_WAIT_S
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    pytest.skip(f"another test session has held the lab for {LOCK_WAIT_S:.0f} s ({lock_path})")
                time.sleep(1)
        handle = LabHandle(PROJECT_ROOT / "var" / "test-lab")
        try:
            yield handle
        finally:
            handle.down()


@pytest.fixture
def lab(lab_session: LabHandle) -> LabHandle:
    """The lab, up (brought up on first use in the session, again only if a test took it down)."""
    return lab_session.ensure_up()


@dataclass
class SimHandle:
    """A running ``wangnet sim``: its state (endpoints) and secrets, and a way to drive it."""

    var_dir: Path
    state: dict[str, Any]
    secrets: dict[str, dict[str, str]]

    def wangnet(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "WANGNET_VAR_DIR": str(self.var_dir)}
        proc = subprocess.run([str(Path(sys.executable).parent / "wangnet"), *args], capture_output=True, text=True,
                              env=env, timeout=60, cwd=PROJECT_ROOT)
        if check and proc.returncode != 0:
            raise AssertionError(f"wangnet {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        return proc

    def fail(self, link: str | None = None, device: str | None = None) -> None:
        """In-process (the CLI costs seconds of imports per call); tests of the CLI itself call ``wangnet``."""
        from lab.sim import control

        control.fail(self.var_dir, link=link, device=device)

    def heal(self) -> None:
        from lab.sim import control

        control.heal(self.var_dir)

    def endpoint(self, device: str) -> tuple[str, int]:
        ep = self.state["devices"][device]
        return ep["address"], ep["port"]

    def snmp(self, tool: str, device: str, *oids: str, timeout: float = 1, retries: int = 1) -> subprocess.CompletedProcess[str]:
        address, port = self.endpoint(device)
        argv = [tool, "-v2c", "-c", self.secrets[self.state["credential"]]["community"], "-On", "-t", str(timeout), "-r",
                str(retries), f"udp:{address}:{port}", *oids]
        return subprocess.run(argv, capture_output=True, text=True, timeout=60)


LAB_FIXTURES = ("lab", "lab_session")


def uses_lab(item: pytest.Item) -> bool:
    return bool(set(getattr(item, "fixturenames", ())) & set(LAB_FIXTURES))


def order_lab_tests(items: list[pytest.Item]) -> None:
    """Run the tests marked ``lab_down`` (they take the lab down) after every other lab test.

    The lab then comes up once per session (~20 s) and goes down once (~10 s) instead of twice: a lab test
    collected after ``test_down_leaves_the_host_as_it_was`` would otherwise bring it up again for itself
    and leave it for the session's teardown. Every test still runs; only the place of the marked ones moves.
    """
    downs = [item for item in items if item.get_closest_marker("lab_down")]
    if not downs:
        return
    rest = [item for item in items if not item.get_closest_marker("lab_down")]
    last_user = max((i for i, item in enumerate(rest) if uses_lab(item)), default=len(rest) - 1)
    items[:] = rest[: last_user + 1] + downs + rest[last_user + 1:]


@contextmanager
def running_sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimHandle]:
    """``wangnet sim up`` on free ports under a private var dir; ``down`` afterwards."""
    var_dir = tmp_path_factory.mktemp("sim-var")
    env = {**os.environ, "WANGNET_VAR_DIR": str(var_dir), "WANGNET_SIM_PORT_BASE": "0"}
    wangnet = str(Path(sys.executable).parent / "wangnet")
    proc = subprocess.run([wangnet, "sim", "up", "--inventory", str(SAMPLE_INVENTORY)], capture_output=True, text=True,
                          env=env, timeout=60, cwd=PROJECT_ROOT)
    if proc.returncode != 0:
        raise AssertionError(f"wangnet sim up failed:\n{proc.stdout}\n{proc.stderr}")
    from ruamel.yaml import YAML

    state = json.loads((var_dir / "sim" / "state.json").read_text())
    secrets = YAML(typ="safe").load((var_dir / "sim" / "secrets.yaml").read_text())
    handle = SimHandle(var_dir, state, secrets)
    try:
        yield handle
    finally:
        handle.wangnet("sim", "down", check=False)


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimHandle]:
    """``wangnet sim up`` on free ports under a private var dir for one test module; ``down`` afterwards."""
    with running_sim(tmp_path_factory) as handle:
        yield handle
