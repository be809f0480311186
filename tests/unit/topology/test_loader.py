"""Every kind of broken inventory gives one exact FILE:LINE: message, via the API and the CLI."""
from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from topology.loader import InventoryError, Problem, load_inventory, load_inventory_text
from wangnet.cli import main

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "inventory"

CASES = [
    ("yaml_syntax", 55, "YAML syntax error: expected ',' or '}', but got ':' (while parsing a flow mapping at line 54)"),
    ("unknown_key", 18, 'site "dalad": unknown key "colour"'),
    ("missing_key", 34, 'device "dalad-rt": missing required key "mgmt"'),
    ("duplicate_site", 24, 'duplicate site id "shulinzhao" (first defined at line 18)'),
    ("duplicate_device", 43, 'duplicate device id "dalad-rt" (first defined at line 34)'),
    ("duplicate_link", 59, 'duplicate link id "city-core-1--dalad-rt" (first defined at line 53)'),
    ("unknown_site", 44, 'device "dalad-sw": site "dalat" is not a defined site'),
    ("unknown_device", 61, 'link "dalad-rt--shulinzhao-rt": endpoint b names unknown device "shulinzhao-r"'),
    ("unknown_interface", 61,
     'link "dalad-rt--shulinzhao-rt": endpoint b names unknown interface "GE9" on device "shulinzhao-rt"'),
    ("interface_reused", 60,
     'link "dalad-rt--shulinzhao-rt": endpoint a uses interface "GE1-0-1" on device "dalad-rt", '
     'already used by link "city-core-1--dalad-rt" (line 53)'),
    ("township_parent", 22, 'site "shulinzhao": parent "city" is a city; a township\'s parent must be a banner'),
    ("banner_parent", 16, 'site "dalad": parent "shulinzhao" is a township; a banner\'s parent must be a city'),
    ("city_parent", 11, 'site "city": a city site has no parent, but parent "dalad" is given'),
    ("overlap", 23, 'site "shulinzhao" lan 10.2.0.0/24 overlaps site "dalad" lan 10.2.0.0/20 (line 17)'),
    ("duplicate_mgmt", 48,
     'device "shulinzhao-rt": management address 10.255.1.2 is already used by device "dalad-rt" (line 39)'),
    ("speed_zero", 62,
     'link "dalad-rt--shulinzhao-rt": speed_mbps 0 is not a plausible speed (expected 1 to 400000 Mbit/s)'),
    ("speed_absurd", 62,
     'link "dalad-rt--shulinzhao-rt": speed_mbps 1000000 is not a plausible speed (expected 1 to 400000 Mbit/s)'),
    ("credential_unknown", 49, 'device "shulinzhao-rt": snmp credential "snmp-rw" is not defined under credentials'),
    ("credential_kind", 50, 'device "shulinzhao-rt": ssh credential "snmp-ro" is of kind snmp-v2c; expected ssh'),
    ("site_without_device", 24, 'site "wangaizhao": no device is located at this site'),
    ("bad_address", 48, 'device "shulinzhao-rt": mgmt "10.255.3.300" is not a valid IPv4 address'),
    ("bad_prefix", 23,
     'site "shulinzhao": lan "10.2.16.0/33" is not a valid IPv4 network (address/prefix, no host bits set)'),
    ("unknown_tier", 21, 'site "shulinzhao": unknown tier "village" (expected \'city\', \'banner\' or \'township\')'),
    ("unknown_platform", 28,
     'device "city-core-1": unknown platform "junos" (expected \'ios\', \'huawei_vrp\', \'h3c_comware\' or \'linux\')'),
    ("unknown_role", 45,
     'device "shulinzhao-rt": unknown role "firewall" (expected \'core-router\', \'router\' or \'switch\')'),
]


@pytest.mark.parametrize(("name", "line", "message"), CASES, ids=[c[0] for c in CASES])
def test_load_inventory_reports_the_one_problem(name: str, line: int, message: str) -> None:
    path = FIXTURES / f"{name}.yaml"
    with pytest.raises(InventoryError) as info:
        load_inventory(path)
    assert info.value.problems == (Problem(str(path), line, message),)
    assert str(info.value.problems[0]) == f"{path}:{line}: {message}"


@pytest.mark.parametrize(("name", "line", "message"), CASES, ids=[c[0] for c in CASES])
def test_inventory_check_cli_prints_problem_and_fails(name: str, line: int, message: str) -> None:
    path = FIXTURES / f"{name}.yaml"
    result = CliRunner().invoke(main, ["inventory", "check", str(path)])
    assert result.exit_code == 1
    assert result.stderr == f"{path}:{line}: {message}\n"
    assert result.stdout == ""


def test_every_fixture_kind_is_tested() -> None:
    broken = {p.stem for p in FIXTURES.glob("*.yaml")} - {"valid", "many_problems"}
    assert broken == {c[0] for c in CASES}


def test_all_problems_are_reported_not_just_the_first() -> None:
    path = FIXTURES / "many_problems.yaml"
    with pytest.raises(InventoryError) as info:
        load_inventory(path)
    expected = [
        f'{path}:18: site "dalad": unknown key "colour"',
        f'{path}:49: device "shulinzhao-rt": management address 10.255.1.2 is already used by device "dalad-rt" (line 40)',
        f'{path}:62: link "dalad-rt--shulinzhao-rt": endpoint b names unknown interface "GE9" on device "shulinzhao-rt"',
        f'{path}:63: link "dalad-rt--shulinzhao-rt": speed_mbps 0 is not a plausible speed (expected 1 to 400000 Mbit/s)',
    ]
    assert [str(p) for p in info.value.problems] == expected
    assert str(info.value) == "\n".join(expected)
    result = CliRunner().invoke(main, ["inventory", "check", "--inventory", str(path)])
    assert result.exit_code == 1
    assert result.stderr.splitlines() == expected


def test_valid_fixture_loads_with_lookups() -> None:
    inv = load_inventory(FIXTURES / "valid.yaml")
    assert [s.id for s in inv.sites] == ["city", "dalad", "shulinzhao"]
    assert inv.site("dalad").name == "达拉特旗"
    assert inv.device("dalad-rt").interfaces == ["GE1-0-1", "GE1-0-2"]
    assert inv.link("dalad-rt--shulinzhao-rt").b.device == "shulinzhao-rt"
    assert [d.id for d in inv.devices_at("dalad")] == ["dalad-rt"]
    assert [s.id for s in inv.children("dalad")] == ["shulinzhao"]
    assert inv.credentials["snmp-ro"].kind == "snmp-v2c"
    with pytest.raises(KeyError, match='unknown site "nowhere"'):
        inv.site("nowhere")
    with pytest.raises(KeyError, match='unknown device "ghost"'):
        inv.device("ghost")


def _valid_text() -> str:
    return (FIXTURES / "valid.yaml").read_text(encoding="utf-8")


def _problems(text: str) -> list[str]:
    with pytest.raises(InventoryError) as info:
        load_inventory_text(text, "t.yaml")
    return [str(p) for p in info.value.problems]


def test_empty_document() -> None:
    assert _problems("") == ["t.yaml:1: the inventory is empty; expected keys: version, credentials, sites, devices, links, services"]


def test_unknown_top_level_key_and_version() -> None:
    text = _valid_text().replace("version: 1\n", "version: 2\nextra: yes\n")
    assert _problems(text) == [
        "t.yaml:3: unsupported version 2; this wangnet reads version 1",
        't.yaml:4: unknown top-level key "extra"',
    ]


def test_secret_in_credentials_is_refused() -> None:
    text = _valid_text().replace("snmp-ro: {kind: snmp-v2c}", "snmp-ro: {kind: snmp-v2c, community: public}")
    assert _problems(text) == [
        't.yaml:5: credential "snmp-ro": unknown key "community" (secret values never go in the inventory; '
        "set them in the environment or WANGNET_SECRETS_FILE)"
    ]


def test_interface_with_slash_is_refused() -> None:
    text = _valid_text().replace("interfaces: [Gi1-1]", "interfaces: [Gi1/1]")
    assert _problems(text)[0] == (
        't.yaml:34: device "city-core-1": interface name "Gi1/1" is not Linux-safe '
        '(1-15 characters: letters, digits, ".", "_", ":", "-"; no "/" or spaces)'
    )


def test_duplicate_yaml_key_is_a_problem_with_its_line() -> None:
    text = _valid_text().replace("    model: Cisco 7606\n", "    model: Cisco 7606\n    model: Cisco 7609\n")
    (problem,) = _problems(text)
    assert problem.startswith('t.yaml:31: found duplicate key "model"')


def test_invalid_device_does_not_cascade_into_reference_errors() -> None:
    text = _valid_text().replace("    role: router\n", "    role: rooter\n", 1)
    assert _problems(text) == [
        't.yaml:37: device "dalad-rt": unknown role "rooter" (expected \'core-router\', \'router\' or \'switch\')'
    ]


def test_binary_file_is_reported_not_raised(tmp_path: Path) -> None:
    path = tmp_path / "inventory.yaml"
    path.write_bytes(b"version: 1\nsites:\n  - id: \xff\xfe\n")
    with pytest.raises(InventoryError) as info:
        load_inventory(path)
    assert str(info.value) == f"{path}:3: not UTF-8 text (byte 0xff at offset 26)"


def test_service_problems_are_reported_with_lines() -> None:
    text = (FIXTURES / "valid.yaml").read_text() + (
        "services:\n"
        "  - id: portal\n"
        "    name: 门户网站\n"
        "    kind: http\n"
        "    site: dalad\n"
        "    device: city-core-1\n"
        "    address: 10.9.0.1\n"
        "    port: 80\n"
        "  - id: portal\n"
        "    name: 门户网站\n"
        "    kind: gopher\n"
        "    site: dalad\n"
        "    device: dalad-rt\n"
        "    address: 10.2.0.5\n"
        "    port: 80\n"
    )
    with pytest.raises(InventoryError) as info:
        load_inventory_text(text, "s.yaml")
    assert [str(p) for p in info.value.problems] == [
        's.yaml:71: service "portal": device "city-core-1" is at site "city", not at "dalad"',
        's.yaml:72: service "portal": address 10.9.0.1 is outside the LAN 10.2.0.0/20 of site "dalad"',
        's.yaml:74: duplicate service id "portal" (first defined at line 67)',
        's.yaml:76: service "portal": unknown kind "gopher" (expected \'tcp\', \'http\' or \'smtp\')',
    ]


def test_sample_lists_the_e_government_services() -> None:
    inv = load_inventory(FIXTURES.parents[1].parent / "inventory.yaml")
    assert {s.id for s in inv.services} >= {"portal", "oa", "doc-exchange", "mail", "vod", "sip"}
