"""Invitation by tier, banner or single sites resolves through the inventory."""
from __future__ import annotations

import pytest

from conferencing.rooms import RoomError, resolve_invitation
from topology.loader import load_inventory
from wangnet.config import PROJECT_ROOT

INV = load_inventory(PROJECT_ROOT / "inventory.yaml")


def test_tiers() -> None:
    assert resolve_invitation(INV, tier="all-banners") == [s.id for s in INV.sites if s.tier == "banner"]
    townships = resolve_invitation(INV, tier="all-townships")
    assert len(townships) == 50 and all(INV.site(t).tier == "township" for t in townships)
    assert len(resolve_invitation(INV, tier="everyone")) == 59


@pytest.mark.parametrize("banner", ["dalad", "达拉特旗", "Dalad Banner", " 达拉特旗 "])
def test_townships_of_a_banner_by_id_or_name(banner: str) -> None:
    assert resolve_invitation(INV, banner=banner) == [s.id for s in INV.children("dalad")]


def test_single_sites_keep_order_and_drop_repeats() -> None:
    assert resolve_invitation(INV, sites=["uxin", "city", "uxin"]) == ["uxin", "city"]


@pytest.mark.parametrize("kwargs, message", [
    ({}, "invite exactly one of"),
    ({"tier": "all-banners", "sites": ["city"]}, "invite exactly one of"),
    ({"tier": "provinces"}, 'unknown tier "provinces"'),
    ({"banner": "shulinzhao"}, 'unknown banner "shulinzhao"'),
    ({"sites": "city"}, "sites must be a list of site ids"),
    ({"sites": ["city", 3]}, "sites must be a list of site ids"),
    ({"sites": ["atlantis"]}, 'unknown site "atlantis": not in the inventory'),
    ({"banner": 5}, "banner must be a string, not int"),
    ({"sites": 5}, "sites must be a list of site ids"),
    ({"sites": {"city": 1}}, "sites must be a list of site ids"),
    ({"tier": ["all-banners"]}, "tier must be a string, not list"),
])
def test_bad_invitations_say_what_is_wrong(kwargs: dict, message: str) -> None:
    with pytest.raises(RoomError, match=message):
        resolve_invitation(INV, **kwargs)
