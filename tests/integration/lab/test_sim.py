"""``wangnet sim`` checked with net-snmp's snmpget/snmpbulkwalk (no root needed)."""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from topology.analysis import impact_of_link
from topology.graph import build_graph
from topology.loader import load_inventory
from tests.lab_fixtures import SAMPLE_INVENTORY, SimHandle

pytestmark = pytest.mark.skipif(__import__("shutil").which("snmpget") is None,
                                reason="net-snmp's snmpget is missing (Debian package snmp)")

INV = load_inventory(SAMPLE_INVENTORY)
IF_NAME = "1.3.6.1.2.1.31.1.1.1.1"
HC_IN = "1.3.6.1.2.1.31.1.1.1.6"
IF_ADMIN = "1.3.6.1.2.1.2.2.1.7"
IF_OPER = "1.3.6.1.2.1.2.2.1.8"


def _answering(sim: SimHandle) -> set[str]:
    def ask(device: str) -> tuple[str, bool]:
        proc = sim.snmp("snmpget", device, "1.3.6.1.2.1.1.5.0", timeout=0.5, retries=1)
        return device, proc.returncode == 0 and f'"{device}"' in proc.stdout

    with ThreadPoolExecutor(max_workers=16) as pool:
        return {d for d, ok in pool.map(ask, sim.state["devices"]) if ok}


def _wait_answering(sim: SimHandle, expected: set[str], deadline_s: float = 20) -> set[str]:
    end = time.monotonic() + deadline_s
    while True:
        got = _answering(sim)
        if got == expected or time.monotonic() > end:
            return got
        time.sleep(0.2)


def _value(sim: SimHandle, device: str, oid: str) -> str:
    proc = sim.snmp("snmpget", device, oid)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split(": ", 1)[1].strip().strip('"')


def test_every_device_serves_its_inventory_interfaces(sim: SimHandle) -> None:
    assert len(sim.state["devices"]) == 69
    for device in sim.state["devices"]:
        proc = sim.snmp("snmpbulkwalk", device, IF_NAME)
        assert proc.returncode == 0, proc.stderr
        names = [line.split(": ", 1)[1].strip('"') for line in proc.stdout.splitlines()]
        assert names == INV.device(device).interfaces, device


def test_system_group_and_rising_hc_counters(sim: SimHandle) -> None:
    assert _value(sim, "hantai-rt", "1.3.6.1.2.1.1.5.0") == "hantai-rt"
    assert "Linux" in _value(sim, "hantai-rt", "1.3.6.1.2.1.1.1.0")
    first = int(_value(sim, "dalad-rt", f"{HC_IN}.1"))
    deadline = time.monotonic() + 10
    while int(_value(sim, "dalad-rt", f"{HC_IN}.1")) <= first and time.monotonic() < deadline:
        time.sleep(0.1)
    assert int(_value(sim, "dalad-rt", f"{HC_IN}.1")) > first
    assert _value(sim, "dalad-rt", "1.3.6.1.2.1.31.1.1.1.15.11") == "2"  # Serial2-0 is a 2 Mbit/s E1


def test_wrong_community_is_met_with_silence(sim: SimHandle) -> None:
    import subprocess

    address, port = sim.endpoint("dalad-rt")
    proc = subprocess.run(["snmpget", "-v2c", "-c", "not-the-community", "-t", "0.5", "-r", "0", f"udp:{address}:{port}",
                           "1.3.6.1.2.1.1.5.0"], capture_output=True, text=True, timeout=30)
    assert proc.returncode != 0 and "Timeout" in proc.stderr


def test_failed_link_silences_what_the_graph_puts_behind_it_until_healed(sim: SimHandle) -> None:
    everyone = set(sim.state["devices"])
    link = "city-core-1--dalad-rt"
    cut = set(impact_of_link(build_graph(INV), link).cut_off_devices)
    assert len(cut) == 11
    sim.wangnet("sim", "fail", "--link", link)
    try:
        assert _wait_answering(sim, everyone - cut) == everyone - cut
        assert _value(sim, "city-core-1", f"{IF_OPER}.4") == "2"   # Gi1-4: down(2) ...
        assert _value(sim, "city-core-1", f"{IF_ADMIN}.4") == "1"  # ... though nobody shut it
        status = sim.wangnet("sim", "status").stdout
        assert "58/69" in status
    finally:
        sim.wangnet("sim", "heal")  # the CLI, once; other tests drive the simulation in-process
    assert _wait_answering(sim, everyone) == everyone
    assert _value(sim, "city-core-1", f"{IF_OPER}.4") == "1"


def test_dual_homed_banner_survives_one_uplink_in_the_sim(sim: SimHandle) -> None:
    everyone = set(sim.state["devices"])
    sim.fail(link="city-core-2--ejin-horo-rt")
    try:
        assert _wait_answering(sim, everyone) == everyone
        names = sim.snmp("snmpbulkwalk", "ejin-horo-rt", IF_NAME).stdout
        assert "Gi1-2" in names
        assert _value(sim, "ejin-horo-rt", f"{IF_OPER}.2") == "2"
    finally:
        sim.heal()


def test_failed_device_is_silent(sim: SimHandle) -> None:
    sim.fail(device="jungar-rt")
    try:
        silent = set(sim.state["devices"]) - _wait_answering(
            sim, set(sim.state["devices"]) - {"jungar-rt", "jungar-sw"} - {f"{t.id}-rt" for t in INV.children("jungar")})
        assert "jungar-rt" in silent and "xuejiawan-rt" in silent and "city-core-2" not in silent
    finally:
        sim.heal()


def test_unknown_link_is_a_clear_error(sim: SimHandle) -> None:
    proc = sim.wangnet("sim", "fail", "--link", "no-such-link", check=False)
    assert proc.returncode != 0
    assert 'unknown link "no-such-link"' in proc.stderr


def test_endpoint_resolver_points_at_the_running_simulation(sim: SimHandle) -> None:
    import subprocess

    from wangnet.config import load_settings
    from wangnet.endpoints import EndpointResolver

    resolver = EndpointResolver(load_settings(environ={}, var_dir=sim.var_dir, device_mode="sim"), INV)
    creds = resolver.credentials()
    for device in ("city-core-1", "dalad-rt", "subuerga-rt"):
        ep = resolver.resolve(INV.device(device))
        community = creds.resolve(ep.snmp_credential, ep.snmp_kind)["community"].reveal()
        proc = subprocess.run(["snmpget", "-v2c", "-c", community, "-t", "1", "-r", "1", f"udp:{ep.address}:{ep.port}",
                               "1.3.6.1.2.1.1.5.0"], capture_output=True, text=True, timeout=30)
        assert f'"{device}"' in proc.stdout, proc.stderr
