"""The lab checked with third-party clients: net-snmp's snmpget/snmpbulkwalk, OpenSSH's ssh, lldpctl, ip.

One lab for the whole module (the session fixture); failures are healed
before each test ends. The last test takes the lab down and checks the host.
"""
from __future__ import annotations

import os
import socket
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from topology.analysis import impact_of_link
from topology.graph import build_graph
from tests.lab_fixtures import LabHandle, host_snapshot, snmp_cli_args

IF_NAME = "1.3.6.1.2.1.31.1.1.1.1"
IF_HIGH_SPEED = "1.3.6.1.2.1.31.1.1.1.15"
IF_ADMIN = "1.3.6.1.2.1.2.2.1.7"
IF_OPER = "1.3.6.1.2.1.2.2.1.8"
DALAD_UPLINK = "city-core-1--dalad-rt"


def _walk(lab: LabHandle, device: str, oid: str) -> dict[str, str]:
    """{index: value} of one column, by snmpbulkwalk from the host."""
    proc = lab.snmp("snmpbulkwalk", device, oid, timeout=2, retries=2)
    assert proc.returncode == 0, f"{device}: {proc.stderr}"
    out = {}
    for line in proc.stdout.splitlines():
        name, _, value = line.partition(" = ")
        out[name.rsplit(".", 1)[1]] = value.split(": ", 1)[-1].strip('"')
    return out


def test_snmpbulkwalk_sees_every_device_and_its_inventory_interfaces(lab: LabHandle) -> None:
    def check(device: str) -> tuple[str, set[str], set[str]]:
        names = set(_walk(lab, device, IF_NAME).values())
        return device, set(lab.inv.device(device).interfaces), names

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(check, lab.devices))
    assert len(results) == 69
    for device, wanted, seen in results:
        assert wanted <= seen, f"{device}: interfaces {sorted(wanted - seen)} missing from ifName"


def test_interfaces_report_the_link_speed_and_sysname(lab: LabHandle) -> None:
    names = _walk(lab, "dalad-rt", IF_NAME)
    speeds = _walk(lab, "dalad-rt", IF_HIGH_SPEED)
    by_name = {names[i]: int(speeds[i]) for i in names}
    assert by_name["GE1-0-1"] == 1000 and by_name["GE1-0-3"] == 100 and by_name["Serial2-0"] == 2
    proc = lab.snmp("snmpget", "hantai-rt", "1.3.6.1.2.1.1.5.0")
    assert proc.returncode == 0 and '"hantai-rt"' in proc.stdout


def test_ssh_reaches_every_device_with_the_lab_key(lab: LabHandle) -> None:
    key = lab.state["ssh_key"]  # type: ignore[index]

    def ssh(device: str) -> tuple[str, subprocess.CompletedProcess[str]]:
        argv = ["ssh", "-i", key, "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                "-o", "ConnectTimeout=10", "-o", "LogLevel=ERROR", f"noc@{lab.mgmt(device)}", "hostname"]
        return device, subprocess.run(argv, capture_output=True, text=True, timeout=60)

    with ThreadPoolExecutor(max_workers=12) as pool:
        results = list(pool.map(ssh, lab.devices))
    failures = {d: p.stderr.strip() for d, p in results if p.returncode != 0 or p.stdout.strip() != d}
    assert not failures, failures


def test_ssh_password_login_uses_the_secrets_file(lab: LabHandle, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The password from the lab's secrets file works (what NAPALM/netmiko will use), typed by OpenSSH's askpass."""
    creds = lab.secrets["ssh-noc"]
    askpass = tmp_path / "askpass"
    askpass.write_text('#!/bin/sh\nprintf "%s\\n" "$LAB_PASSWORD"\n')
    askpass.chmod(0o700)
    env = {**os.environ, "SSH_ASKPASS": str(askpass), "SSH_ASKPASS_REQUIRE": "force", "LAB_PASSWORD": creds["password"]}
    argv = ["ssh", "-o", "PreferredAuthentications=password", "-o", "PubkeyAuthentication=no", "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", "NumberOfPasswordPrompts=1",
            f"{creds['username']}@{lab.mgmt('shulinzhao-rt')}", "hostname"]
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "shulinzhao-rt"
    env["LAB_PASSWORD"] = "wrong-" + creds["password"]
    assert subprocess.run(argv, capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL, timeout=60).returncode != 0


def test_lldp_neighbours_are_the_inventory_links(lab: LabHandle) -> None:
    deadline = time.monotonic() + 40
    while True:
        out = lab.wangnet("lab", "exec", "dalad-rt", "--", "lldpctl", "-f", "keyvalue").stdout
        seen = {line.split("=", 1)[1] for line in out.splitlines() if ".chassis.name=" in line}
        wanted = {link.b.device if link.a.device == "dalad-rt" else link.a.device
                  for link in lab.inv.links if "dalad-rt" in (link.a.device, link.b.device)}
        if seen >= wanted or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert wanted <= seen


def test_failed_uplink_cuts_off_what_the_topology_says_and_heal_restores(lab: LabHandle) -> None:
    everyone = set(lab.devices)
    cut = set(impact_of_link(build_graph(lab.inv), DALAD_UPLINK).cut_off_devices)
    assert cut == {"dalad-rt", "dalad-sw"} | {f"{t.id}-rt" for t in lab.inv.children("dalad")}
    trap_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    trap_sock.bind((lab.state["trap"]["address"], lab.state["trap"]["port"]))  # type: ignore[index]
    trap_sock.settimeout(1)
    lab.fail(link=DALAD_UPLINK)
    try:
        assert lab.wait_answering(everyone - cut) == everyone - cut
        # the city end of the cut: oper down, admin still up (a cut fibre, not a shutdown)
        names = _walk(lab, "city-core-1", IF_NAME)
        index = next(i for i, n in names.items() if n == "Gi1-4")
        deadline = time.monotonic() + 20
        while _walk(lab, "city-core-1", IF_OPER)[index] not in ("2", "down(2)") and time.monotonic() < deadline:
            time.sleep(0.5)
        assert _walk(lab, "city-core-1", IF_OPER)[index] in ("2", "down(2)")
        assert _walk(lab, "city-core-1", IF_ADMIN)[index] in ("1", "up(1)")
        # the dalad end too, asked from inside dalad-rt (the host cannot reach it any more)
        creds = [*snmp_cli_args(lab.inv, lab.secrets, "dalad-rt"), "-On", "-t", "2", "-r", "2", "10.255.1.2"]
        walk = lab.wangnet("lab", "exec", "dalad-rt", "--", "snmpbulkwalk", *creds, IF_NAME).stdout
        own = next(line.split(" = ")[0].rsplit(".", 1)[1] for line in walk.splitlines() if line.endswith('"GE1-0-1"'))
        end = time.monotonic() + 20
        while True:
            out = lab.wangnet("lab", "exec", "dalad-rt", "--", "snmpget", *creds, f"{IF_OPER}.{own}", f"{IF_ADMIN}.{own}").stdout
            if f"{IF_OPER}.{own} = INTEGER: 2" in out or time.monotonic() > end:
                break
            time.sleep(0.5)
        assert f"{IF_OPER}.{own} = INTEGER: 2" in out and f"{IF_ADMIN}.{own} = INTEGER: 1" in out
        # and city-core-1's snmpd sent a linkDown trap (v2c) to the trap address, from its management address
        link_down_oid = bytes.fromhex("2b06010603010105" "03")  # 1.3.6.1.6.3.1.1.5.3, BER-encoded
        traps: list[tuple[str, bytes]] = []
        end = time.monotonic() + 20
        while not any(src == "10.255.0.1" and link_down_oid in data for src, data in traps) and time.monotonic() < end:
            try:
                data, (src, _) = trap_sock.recvfrom(65535)
                traps.append((src, data))
            except socket.timeout:
                pass
        assert any(src == "10.255.0.1" and link_down_oid in data for src, data in traps), [s for s, _ in traps]
    finally:
        lab.heal()
        trap_sock.close()
    assert lab.wait_answering(everyone) == everyone


def test_dual_homed_banner_fails_over(lab: LabHandle) -> None:
    everyone = set(lab.devices)
    link = "city-core-1--dongsheng-rt"
    assert impact_of_link(build_graph(lab.inv), link).is_empty()
    lab.fail(link=link)
    try:
        assert lab.wait_answering(everyone) == everyone
    finally:
        lab.heal()


@pytest.mark.lab_down  # run after every other lab test (tests/lab_fixtures.py order_lab_tests)
def test_down_leaves_the_host_as_it_was(lab: LabHandle) -> None:
    before = lab.before
    assert before is not None
    run_dir = str(lab.run_dir)
    lab_pids = {pid for ns in lab.state["netns"] for pid in  # type: ignore[index]
                subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True).stdout.split()}
    assert len(lab_pids) > 200
    lab.down()
    after = host_snapshot()
    for key in ("netns", "links", "routes"):
        # other work on this machine may add its own; nothing of the lab's may stay, nothing else may go
        assert not {x for x in after[key] - before[key] if "wn-" in x}, f"{key} left behind"
        assert before[key] <= after[key], f"lab down removed {key} it did not make: {before[key] - after[key]}"
    alive = {p for p in lab_pids if os.path.exists(f"/proc/{p}")}
    assert not alive, f"processes left: {alive}"
    ps = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
    assert run_dir not in ps
    assert not os.path.exists(run_dir)

