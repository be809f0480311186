"""The show-command allow-list: refused requests name what is wrong, before any connection."""
from __future__ import annotations

import pytest

from collectors.showcmd import ALLOWED, NETMIKO_TYPES, ShowCommandRefused, ShowResult, check_request, outcome, scrub

PLATFORMS = {"r1": "huawei_vrp", "r2": "ios", "srv": "linux", "r3": "h3c_comware"}


def test_allowed_command_is_normalised_and_targets_keep_their_platform():
    targets, text = check_request(PLATFORMS, ["r1", " r3 ", "r1"], "  display   interface brief ")
    assert text == "display interface brief"
    assert [(t.device, t.platform) for t in targets] == [("r1", "huawei_vrp"), ("r3", "h3c_comware")]


@pytest.mark.parametrize(
    ("devices", "command", "message"),
    [
        ([], "uptime", "devices: choose at least one device"),
        (["ghost"], "uptime", "devices: no device 'ghost' in the inventory"),
        (["srv"] * 1 + [f"d{i}" for i in range(5)], "uptime", "devices: at most 5 devices per run, got 6"),
        (["srv"], "   ", "command: empty"),
        (["srv"], "uptime; reboot", "command: 'uptime; reboot' is not on the allow-list of srv (linux): "
                                     "ip -brief address, ip -brief link, ip route, uptime"),
        (["r2"], "show running-config", "command: 'show running-config' is not on the allow-list of r2 (ios)"),
        # allowed on one platform, not on the other: refused for the device it does not fit
        (["r1", "r2"], "display version", "command: 'display version' is not on the allow-list of r2 (ios)"),
    ],
)
def test_refusals_say_what_and_where(devices, command, message):
    with pytest.raises(ShowCommandRefused) as exc:
        check_request(PLATFORMS, devices, command)
    assert str(exc.value).startswith(message)


def test_every_platform_of_the_inventory_has_an_allow_list_and_a_driver():
    from typing import get_args

    from topology.schema import Platform

    assert set(get_args(Platform)) == set(ALLOWED) == set(NETMIKO_TYPES)
    for commands in ALLOWED.values():
        for c in commands:
            assert c.split()[0] in ("show", "display", "ip", "uptime")  # read-only verbs only


def test_scrub_and_outcome():
    assert scrub("Authentication failed for pw=s3cret-pass", ["s3cret-pass", ""]) == "Authentication failed for pw=***"
    line = outcome([ShowResult("a", True, "x", "", 0.1), ShowResult("b", False, "", "TimeoutError: no answer", 3.0)])
    assert line == "a: ok; b: TimeoutError: no answer"
