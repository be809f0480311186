"""deploy/systemd: the unit files pass ``systemd-analyze verify`` and start commands that exist.

The units run ``/opt/wangnet/venv/bin/wangnet``; the test points them at this
checkout's ``wangnet`` so that verify can check the executable too.
"""
from __future__ import annotations

import configparser
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest

from topology.loader import load_inventory
from wangnet.cli import main
from wangnet.config import PROJECT_ROOT

UNITS = PROJECT_ROOT / "deploy" / "systemd"
INSTALLED = "/opt/wangnet/venv/bin/wangnet"
SERVICES = ("wangnet-web.service", "wangnet-collector@.service", "wangnet-bridge@.service", "wangnet-sip.service",
            "wangnet-vod-worker.service")
# What the per-instance environment files (collector-%i.env, bridge-%i.env) would set.
INSTANCE_ENV = {"WANGNET_BRIDGE_HOST": "10.0.0.5", "WANGNET_BRIDGE_PORT": "8091"}


def read_unit(path: Path) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=False, interpolation=None, delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(path.read_text(encoding="utf-8"))
    return parser


def unit_environment(path: Path) -> dict[str, str]:
    env: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("Environment="):
            for pair in shlex.split(line.removeprefix("Environment=")):
                key, _, value = pair.partition("=")
                env[key] = value
    return env


def test_every_service_is_shipped_hardened_and_runs_as_wangnet() -> None:
    for name in SERVICES:
        unit = read_unit(UNITS / name)
        service = unit["Service"]
        assert service["User"] == "wangnet", name
        assert service["EnvironmentFile"] == "/etc/wangnet/env" or "/etc/wangnet/env" in (UNITS / name).read_text(), name
        for option, value in (("NoNewPrivileges", "yes"), ("ProtectSystem", "strict"), ("ProtectHome", "yes"),
                              ("PrivateTmp", "yes"), ("PrivateDevices", "yes")):
            assert service.get(option) == value, f"{name}: {option}={service.get(option)}"
        assert "CapabilityBoundingSet" in service, f"{name}: no capability bound"
        assert unit["Install"]["WantedBy"] == "wangnet.target", name


def test_exec_start_lines_are_real_wangnet_commands() -> None:
    """Each ExecStart parses with the CLI's own options, so a renamed option breaks this test, not a deployment."""
    for name in SERVICES:
        path = UNITS / name
        exec_start = read_unit(path)["Service"]["ExecStart"]
        env = {**unit_environment(path), **INSTANCE_ENV}
        expanded = re.sub(r"\$\{(\w+)\}", lambda m: env[m.group(1)], exec_start.replace("%i", "dalad"))
        argv = shlex.split(expanded)
        assert argv[0] == INSTALLED, f"{name}: {argv[0]}"
        command = main.get_command(click.Context(main), argv[1])
        assert command is not None, f"{name}: no command `wangnet {argv[1]}`"
        command.make_context(argv[1], argv[2:])  # raises click.UsageError on an unknown option or bad value


def test_collector_instances_listed_are_the_inventory_banners() -> None:
    text = (UNITS / "wangnet-collector@.service").read_text(encoding="utf-8")
    listed = re.search(r"Instances: ([\w\- ,]+)\.", text)
    assert listed, "the collector unit lists its instances"
    inv = load_inventory(PROJECT_ROOT / "inventory.yaml")
    expected = {s.id for s in inv.sites if s.tier in ("city", "banner")}
    assert {i.strip() for i in listed.group(1).split(",")} == expected


def test_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze not installed (Debian package systemd)")
    here = str(Path(sys.executable).parent / "wangnet")
    units = sorted(p for p in UNITS.iterdir() if p.suffix in (".service", ".target", ".timer"))
    assert {p.name for p in units} >= set(SERVICES) | {"wangnet.target", "wangnet-backup.service", "wangnet-backup.timer"}
    for unit in units:
        (tmp_path / unit.name).write_text(unit.read_text(encoding="utf-8").replace(INSTALLED, here), encoding="utf-8")
    names = [p.name for p in units]
    targets = [str(tmp_path / (n.replace("@.", "@dalad.") if "@." in n else n)) for n in names]
    proc = subprocess.run([analyze, "verify", "--man=no", *targets], capture_output=True, text=True, timeout=120,
                          cwd=tmp_path)
    assert proc.returncode == 0 and not proc.stderr.strip() and not proc.stdout.strip(), proc.stdout + proc.stderr
