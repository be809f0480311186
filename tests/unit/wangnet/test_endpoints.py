"""The endpoint resolver: inventory addresses in production/lab, the simulation's ports in sim mode."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from topology.loader import load_inventory
from wangnet.config import PROJECT_ROOT, load_settings
from wangnet.endpoints import EndpointError, EndpointResolver

INV = load_inventory(PROJECT_ROOT / "inventory.yaml")


def _settings(tmp_path: Path, mode: str, **extra: object):  # type: ignore[no-untyped-def]
    return load_settings(environ={}, var_dir=tmp_path, device_mode=mode, **extra)


@pytest.mark.parametrize("mode", ["production", "lab"])
def test_production_and_lab_use_the_inventory_address_and_credentials(tmp_path: Path, mode: str) -> None:
    resolver = EndpointResolver(_settings(tmp_path, mode), INV)
    ep = resolver.resolve(INV.device("dalad-rt"))
    assert (ep.address, ep.port, ep.snmp_credential, ep.snmp_kind, ep.ssh_credential) == (
        "10.255.1.2", 161, "snmp-v3-noc", "snmp-v3", "ssh-noc")
    ep = resolver.resolve(INV.device("hantai-rt"))
    assert (ep.address, ep.snmp_credential, ep.snmp_kind) == ("10.255.3.2", "snmp-v2c-ro", "snmp-v2c")


def test_lab_credentials_come_from_the_settings_secrets_file(tmp_path: Path) -> None:
    secrets = tmp_path / "lab-secrets.yaml"
    secrets.write_text("snmp-v2c-ro: {community: lab-abc}\n")
    secrets.chmod(0o600)
    resolver = EndpointResolver(_settings(tmp_path, "lab", secrets_file=secrets), INV)
    ep = resolver.resolve(INV.device("hantai-rt"))
    assert resolver.credentials().resolve(ep.snmp_credential, ep.snmp_kind)["community"].reveal() == "lab-abc"


def _sim_files(var: Path, pid: int) -> None:
    (var / "sim").mkdir(parents=True)
    devices = {d.id: {"address": "127.0.0.1", "port": 20000 + n} for n, d in enumerate(INV.devices)}
    (var / "sim" / "state.json").write_text(json.dumps({"pid": pid, "devices": devices}))
    secrets = var / "sim" / "secrets.yaml"
    secrets.write_text("sim-v2c: {community: sim-123}\n")
    secrets.chmod(0o600)


def test_sim_mode_reads_the_simulation_state_and_its_own_secrets(tmp_path: Path) -> None:
    _sim_files(tmp_path, os.getpid())
    resolver = EndpointResolver(_settings(tmp_path, "sim"), INV)
    ep = resolver.resolve(INV.device("dalad-rt"))
    assert (ep.address, ep.port, ep.snmp_credential, ep.snmp_kind, ep.ssh_credential) == (
        "127.0.0.1", 20000 + [d.id for d in INV.devices].index("dalad-rt"), "sim-v2c", "snmp-v2c", None)
    assert resolver.credentials().resolve("sim-v2c", "snmp-v2c")["community"].reveal() == "sim-123"


def test_sim_mode_without_a_running_simulation_says_how_to_start_one(tmp_path: Path) -> None:
    resolver = EndpointResolver(_settings(tmp_path, "sim"), INV)
    with pytest.raises(EndpointError, match="wangnet sim up"):
        resolver.resolve(INV.device("dalad-rt"))


def test_sim_mode_with_a_dead_simulation_is_an_error(tmp_path: Path) -> None:
    _sim_files(tmp_path, 2**22 + 12345)  # above pid_max's default: no such process
    with pytest.raises(EndpointError, match="not running"):
        EndpointResolver(_settings(tmp_path, "sim"), INV).resolve(INV.device("dalad-rt"))


def test_unknown_mode_is_refused(tmp_path: Path) -> None:
    with pytest.raises(EndpointError, match="unknown device mode 'staging'"):
        EndpointResolver(_settings(tmp_path, "staging"), INV)
