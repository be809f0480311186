"""Daemon configs and secrets generated for lab devices — pure text, no root."""
from __future__ import annotations

import stat
from pathlib import Path

from lab import secrets as lab_secrets
from lab.configs import TrapSink, bird_conf, snmpd_conf, sshd_config
from lab.plan import build_plan
from topology.loader import load_inventory
from wangnet.config import PROJECT_ROOT
from wangnet.credentials import FIELDS_BY_KIND, load_secrets_file

INV = load_inventory(PROJECT_ROOT / "inventory.yaml")
PLAN = build_plan(INV)
SECRETS = lab_secrets.generate(INV)
TRAP = TrapSink("10.255.255.253", 1162, "lab-traps")


def test_secrets_cover_every_credential_field_and_are_random() -> None:
    for cred_id, cred in INV.credentials.items():
        assert set(SECRETS[cred_id]) == set(FIELDS_BY_KIND[cred.kind])
    assert lab_secrets.generate(INV)["snmp-v2c-ro"]["community"] != SECRETS["snmp-v2c-ro"]["community"]
    assert len(SECRETS["snmp-v3-noc"]["auth_key"]) >= 8 and len(SECRETS["snmp-v3-noc"]["priv_key"]) >= 8


def test_secrets_file_is_private_and_readable_by_the_credential_resolver(tmp_path: Path) -> None:
    path = tmp_path / "secrets.yaml"
    lab_secrets.write(path, SECRETS)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_secrets_file(path) == SECRETS


def test_snmpd_of_a_v3_device_has_its_user_and_no_community() -> None:
    conf = snmpd_conf(INV, PLAN.node("dalad-rt"), SECRETS, TRAP, "internal-pw")
    v3 = SECRETS["snmp-v3-noc"]
    assert "agentAddress udp:10.255.1.2:161" in conf
    assert f'createUser {v3["username"]} SHA "{v3["auth_key"]}" AES "{v3["priv_key"]}"' in conf
    assert f"rouser {v3['username']} priv" in conf
    assert "rocommunity" not in conf
    assert "interface Serial2-0 18 2000000" in conf and "interface GE1-0-3 6 100000000" in conf
    assert "trap2sink 10.255.255.253:1162 lab-traps" in conf
    assert "[snmp] clientaddr 10.255.1.2" in conf


def test_snmpd_of_a_v2c_device_has_its_community() -> None:
    conf = snmpd_conf(INV, PLAN.node("hantai-rt"), SECRETS, TRAP, "internal-pw")
    assert f"rocommunity {SECRETS['snmp-v2c-ro']['community']} default" in conf
    assert "sysName hantai-rt" in conf and "sysDescr Linux hantai-rt" in conf


def test_sshd_listens_on_the_management_address_only_for_the_lab_user(tmp_path: Path) -> None:
    conf = sshd_config(PLAN.node("dalad-rt"), tmp_path, tmp_path / "keys", "noc")
    assert "ListenAddress 10.255.1.2:22" in conf
    assert "AllowUsers noc" in conf and "PermitRootLogin no" in conf
    assert f"HostKey {tmp_path / 'ssh_host_ed25519_key'}" in conf


def test_bird_runs_ospf_on_cabled_ports_and_stubs_the_rest() -> None:
    conf = bird_conf(PLAN, PLAN.node("city-core-1"))
    assert "router id 10.255.0.1;" in conf
    assert 'interface "lo", "Gi1-8", "mgmt0" { stub yes; };' in conf  # loopback, city LAN, the NOC's veth
    assert '"Gi1-1", "Gi1-2", "Gi1-3"' in conf and "check link yes" in conf
    township = bird_conf(PLAN, PLAN.node("shulinzhao-rt"))
    assert '"mgmt0"' not in township and 'interface "GE1-0-1" { type ptp' in township
