"""The shipped inventory.yaml: the Ordos 王, with the shape the rest of wangnet relies on."""
from __future__ import annotations

import re

from topology.schema import Inventory

BANNERS = {
    "dongsheng": ("东胜区", 3), "dalad": ("达拉特旗", 9), "jungar": ("准格尔旗", 9), "otog-front": ("鄂托克前旗", 4),
    "otog": ("鄂托克旗", 6), "hanggin": ("杭锦旗", 6), "uxin": ("乌审旗", 6), "ejin-horo": ("伊金霍洛旗", 7),
}


def test_counts(sample: Inventory) -> None:
    tiers = [s.tier for s in sample.sites]
    assert (tiers.count("city"), tiers.count("banner"), tiers.count("township")) == (1, 8, 50)
    assert (len(sample.devices), len(sample.links)) == (69, 71)


def test_banners_and_their_townships(sample: Inventory) -> None:
    city = sample.site("city")
    assert city.name == "鄂尔多斯市电子政务中心"
    assert len(city.departments) == 10 and "市监察局" in city.departments
    for banner_id, (name, townships) in BANNERS.items():
        banner = sample.site(banner_id)
        assert (banner.name, banner.tier, banner.parent) == (name, "banner", "city")
        assert len(sample.children(banner_id)) == townships
        assert {d.id for d in sample.devices_at(banner_id)} == {f"{banner_id}-rt", f"{banner_id}-sw"}
    assert sample.site("shulinzhao").name == "树林召镇"
    assert sample.site("zhandanzhao").name == "展旦召苏木"


def test_homing(sample: Inventory) -> None:
    uplinks: dict[str, list[str]] = {}
    for link in sample.links:
        if link.a.device.startswith("city-core-") and not link.b.device.startswith("city-"):
            uplinks.setdefault(link.b.device, []).append(link.a.device)
    assert sorted(uplinks["dongsheng-rt"]) == ["city-core-1", "city-core-2"]
    assert sorted(uplinks["ejin-horo-rt"]) == ["city-core-1", "city-core-2"]
    assert sum(len(v) == 1 for v in uplinks.values()) == 6


def test_slow_sumu_links(sample: Inventory) -> None:
    slow = {link.b.device for link in sample.links if link.speed_mbps == 2}
    assert {"zhandanzhao-rt", "buertaohai-rt", "aerbasi-rt", "sumitu-rt", "yiheusu-rt", "sulide-rt"} <= slow


def test_interfaces_are_linux_safe(sample: Inventory) -> None:
    for device in sample.devices:
        for name in device.interfaces:
            assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,14}", name), name


def test_no_secret_values(sample: Inventory) -> None:
    for credential in sample.credentials.values():
        assert set(credential.model_dump(exclude_none=True)) <= {"kind", "auth_protocol", "priv_protocol"}
