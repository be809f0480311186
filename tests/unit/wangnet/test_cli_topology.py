"""The ``wangnet inventory`` and ``wangnet topology`` commands and their JSON contract."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from wangnet.cli import main

ROOT = Path(__file__).resolve().parents[3]
SAMPLE = ROOT / "inventory.yaml"
BROKEN = ROOT / "tests" / "fixtures" / "inventory" / "unknown_interface.yaml"


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def run_json(*args: str) -> object:
    result = run(*args, "--inventory", str(SAMPLE), "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_inventory_check_ok() -> None:
    result = run("inventory", "check", str(SAMPLE))
    assert result.exit_code == 0
    assert result.stdout == f"{SAMPLE}: OK — 59 sites, 69 devices, 71 links\n"


def test_inventory_check_defaults_to_settings_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WANGNET_INVENTORY", str(SAMPLE))
    result = run("inventory", "check")
    assert result.exit_code == 0
    assert "OK — 59 sites" in result.stdout


def test_inventory_check_missing_file(tmp_path: Path) -> None:
    result = run("inventory", "check", str(tmp_path / "nope.yaml"))
    assert result.exit_code == 1
    assert "cannot read the inventory" in result.stderr


def test_summary_json() -> None:
    assert run_json("topology", "summary") == {"sites": {"city": 1, "banner": 8, "township": 50}, "devices": 69, "links": 71}


def test_summary_text() -> None:
    result = run("topology", "summary", "--inventory", str(SAMPLE))
    assert result.stdout.splitlines()[0] == "sites    59 (city 1, banner 8, township 50)"


def test_links_json() -> None:
    links = run_json("topology", "links")
    assert isinstance(links, list) and len(links) == 71
    row = next(r for r in links if r["id"] == "dalad-rt--zhandanzhao-rt")
    assert row == {"id": "dalad-rt--zhandanzhao-rt", "a_device": "dalad-rt", "a_site": "dalad",
                   "b_device": "zhandanzhao-rt", "b_site": "zhandanzhao", "speed_mbps": 2, "medium": "e1"}


def test_links_text_is_a_table() -> None:
    lines = run("topology", "links", "--inventory", str(SAMPLE)).stdout.splitlines()
    assert lines[0].split()[:2] == ["ID", "A"] and len(lines) == 72


def test_impact_link_json() -> None:
    data = run_json("topology", "impact", "--link", "city-core-1--dalad-rt")
    assert data["cut_off_sites"][:2] == ["bainijing", "dalad"]
    assert len(data["cut_off_sites"]) == 10 and len(data["cut_off_devices"]) == 11
    assert run_json("topology", "impact", "--link", "city-core-1--dongsheng-rt") == {"cut_off_sites": [], "cut_off_devices": []}


def test_impact_device_json() -> None:
    data = run_json("topology", "impact", "--device", "dalad-rt")
    assert "dalad" in data["cut_off_sites"] and "dalad-rt" not in data["cut_off_devices"]


@pytest.mark.parametrize(("option", "value", "message"), [
    ("--link", "nope", 'unknown link "nope"'),
    ("--device", "nope", 'unknown device "nope"'),
])
def test_impact_unknown_id(option: str, value: str, message: str) -> None:
    result = run("topology", "impact", option, value, "--inventory", str(SAMPLE), "--json")
    assert result.exit_code == 1
    assert message in result.stderr


def test_impact_needs_exactly_one_target() -> None:
    assert run("topology", "impact", "--inventory", str(SAMPLE)).exit_code != 0


def test_spof_json() -> None:
    data = run_json("topology", "spof")
    assert {"links", "devices"} == set(data)
    first = data["devices"][0]
    assert first["id"] == "city-core-1" and first["tier"] == "city"
    assert {"id", "tier", "cut_off_sites", "cut_off_devices"} == set(first)


def test_path_json_between_sites_and_devices() -> None:
    data = run_json("topology", "path", "city", "zhandanzhao")
    assert data["devices"] == ["city-core-1", "dalad-rt", "zhandanzhao-rt"]
    assert data["links"] == ["city-core-1--dalad-rt", "dalad-rt--zhandanzhao-rt"]
    assert (data["hops"], data["bottleneck_mbps"]) == (2, 2)
    assert run_json("topology", "path", "shulinzhao-rt", "sulide")["hops"] == 5


def test_path_unknown_endpoint() -> None:
    result = run("topology", "path", "city", "atlantis", "--inventory", str(SAMPLE))
    assert result.exit_code == 1
    assert '"atlantis" is neither a device nor a site' in result.stderr


@pytest.mark.parametrize("command", [["summary"], ["links"], ["spof"], ["impact", "--link", "x"], ["path", "a", "b"]])
def test_invalid_inventory_fails_every_topology_command(command: list[str]) -> None:
    result = run("topology", *command, "--inventory", str(BROKEN), "--json")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"{BROKEN}:61: ")


def test_installed_entry_point() -> None:
    exe = Path(sys.executable).parent / "wangnet"
    check = subprocess.run([str(exe), "inventory", "check", "inventory.yaml"], cwd=ROOT,
                           capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stderr
    assert check.stdout.startswith("inventory.yaml: OK")
    summary = subprocess.run([str(exe), "topology", "summary", "--json"], cwd=ROOT,
                             capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin"})
    assert summary.returncode == 0, summary.stderr
    assert json.loads(summary.stdout)["sites"] == {"city": 1, "banner": 8, "township": 50}
