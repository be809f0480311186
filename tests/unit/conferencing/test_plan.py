"""The cascade plan on the sample inventory and on odd shapes."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from conferencing.layout import Layout, SiteView
from conferencing.plan import AUDIO_KBPS, MAX_SHARE, PlanError, plan_cascade
from topology.loader import load_inventory
from topology.schema import Inventory

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def inv() -> Inventory:
    return load_inventory(ROOT / "inventory.yaml")


@pytest.fixture(scope="module")
def odd() -> Inventory:
    return load_inventory(ROOT / "tests" / "fixtures" / "conferencing" / "odd.yaml")


def everyone_sees(speaker: str, host: str, sites: list[str]) -> Layout:
    """The 59-site default: every site sees the speaker with the host as a thumbnail and hears both."""
    views = {}
    for site in sites:
        main = speaker if site != speaker else host
        thumbs = (host,) if site not in (host, speaker) else ()
        audio = tuple(s for s in (speaker, host) if s != site)
        views[site] = SiteView(main=main, thumbs=thumbs, audio=audio)
    return Layout(views)


def test_bridges_follow_the_tiers(inv: Inventory) -> None:
    sites = [s.id for s in inv.sites]
    plan = plan_cascade(inv, sites)
    banners = [s.id for s in inv.sites if s.tier == "banner"]
    assert plan.city == "city"
    assert plan.bridges == ("city", *banners)
    assert plan.parent == {"city": None, **{b: "city" for b in banners}}
    assert set(plan.sites) == set(sites)
    for site in inv.sites:
        expected = {"city": "city", "banner": site.id, "township": site.parent}[site.tier]
        assert plan.sites[site.id].bridge == expected, site.id


def test_only_banners_in_use_get_a_bridge(inv: Inventory) -> None:
    plan = plan_cascade(inv, ["city", "zhandanzhao", "dongsheng"])
    assert plan.bridges == ("city", "dongsheng", "dalad")
    assert set(plan.trunks) == {"dongsheng", "dalad"}
    assert plan.trunks["dalad"].path_links == ("city-core-1--dalad-rt",)


def test_each_banner_uplink_carries_each_stream_once(inv: Inventory) -> None:
    sites = [s.id for s in inv.sites]
    speaker = "zhandanzhao"  # a township under dalad, on an E1
    plan = plan_cascade(inv, sites)
    layout = everyone_sees(speaker, "city", sites)
    trunks = plan.trunk_streams(layout)
    banners = [s.id for s in inv.sites if s.tier == "banner"]
    for banner in banners:
        down = trunks[("city", banner)]
        # every site under every banner watches the city host; only those not under dalad need the speaker from the city
        assert len(down) == len(set(down)), banner
        assert down == (("city",) if banner == "dalad" else ("city", "zhandanzhao")), banner
    # the speaker goes up dalad's uplink once, however many of the 58 other sites watch it
    assert trunks[("dalad", "city")] == ("zhandanzhao",)
    assert not any(key[0] != "dalad" and key[1] == "city" for key in trunks)
    # and the uplink of each banner is a real inventory link: count crossings per inventory link
    crossings: Counter[tuple[str, str]] = Counter()
    for (src, dst), sources in trunks.items():
        banner = dst if src == "city" else src
        for link in plan.trunks[banner].path_links:
            for source in sources:
                crossings[(link, source + ("↓" if src == "city" else "↑"))] += 1
    assert crossings and max(crossings.values()) == 1
    load = plan.trunk_kbps(layout)
    assert load[("dalad", "city")] == plan.stream_kbps + AUDIO_KBPS


def test_no_trunk_between_sites_of_one_bridge(inv: Inventory) -> None:
    plan = plan_cascade(inv, ["dalad", "shulinzhao", "zhandanzhao"])
    layout = everyone_sees("shulinzhao", "dalad", ["dalad", "shulinzhao", "zhandanzhao"])
    assert plan.bridges == ("city", "dalad")
    assert plan.trunk_streams(layout) == {}


def _assert_fits(inv: Inventory, plan, util: dict | None = None) -> None:  # type: ignore[no-untyped-def]
    """Recompute each site's free capacity from the inventory and check the plan stays inside it."""
    util = util or {}
    for site, sp in plan.sites.items():
        free = min(int(inv.link(lk).speed_mbps * 1000 * (1 - util.get(lk, 0.0))) for lk in sp.path_links) \
            if sp.path_links else sp.link_kbps
        assert sp.expected_kbps <= free * MAX_SHARE, site
        assert sp.headroom_kbps >= 0, site
        video = (1 + sp.max_thumbs) * (plan.stream_kbps if sp.quality == "high" else plan.low_kbps) if sp.video else 0
        assert sp.expected_kbps == video + sp.max_audio * AUDIO_KBPS, site


def test_no_township_is_sent_more_than_its_link_allows(inv: Inventory) -> None:
    sites = [s.id for s in inv.sites]
    plan = plan_cascade(inv, sites)
    _assert_fits(inv, plan)
    e1 = plan.sites["zhandanzhao"]
    assert e1.link_kbps == 2000 and e1.path_links == ("dalad-rt--zhandanzhao-rt",)
    assert (e1.quality, e1.max_thumbs, e1.video) == ("high", 0, True)
    assert e1.expected_kbps == 800 + 3 * AUDIO_KBPS
    ten = plan.sites["fengshuiliang"]
    assert ten.link_kbps == 10_000 and ten.quality == "high" and ten.max_thumbs == 8
    assert ten.expected_kbps == 9 * 800 + 3 * AUDIO_KBPS <= 7500
    assert plan.sites["shulinzhao"].max_thumbs == 8
    for site in inv.sites:
        if site.tier == "township":
            assert plan.sites[site.id].expected_kbps <= plan.sites[site.id].link_kbps * MAX_SHARE


@pytest.mark.parametrize("busy, quality, video, thumbs", [
    (0.5, "low", True, 1),     # 1000 free -> 750 budget: 3 audio + low main + 1 low thumb
    (0.7, "low", True, 0),     # 600 free -> 450: low main only
    (0.9, "low", False, 0),    # 200 free -> 150: not even the low tier, audio only
    (1.0, "low", False, 0),    # saturated: nothing at all
])
def test_busy_e1_gets_less(inv: Inventory, busy: float, quality: str, video: bool, thumbs: int) -> None:
    sites = [s.id for s in inv.sites]
    util = {"dalad-rt--zhandanzhao-rt": busy, "city-core-1--dalad-rt": 0.99}
    plan = plan_cascade(inv, sites, utilisation=util)
    sp = plan.sites["zhandanzhao"]
    assert (sp.quality, sp.video, sp.max_thumbs) == (quality, video, thumbs)
    assert sp.utilisation == busy
    _assert_fits(inv, plan, util)
    if busy == 1.0:
        assert sp.expected_kbps == 0 and sp.max_audio == 0 and sp.publish_kbps == 0
    assert plan.trunks["dalad"].utilisation == 0.99


def test_every_township_fits_when_all_links_are_busy(inv: Inventory) -> None:
    util = {link.id: 0.8 for link in inv.links}
    plan = plan_cascade(inv, [s.id for s in inv.sites], utilisation=util)
    _assert_fits(inv, plan, util)
    assert plan.sites["zhandanzhao"].video is False
    assert plan.sites["tongchuan"].quality == "high"  # 10 Mbit/s at 80 %: 2000 free -> 1500 budget


def test_dual_homed_and_odd_sites(odd: Inventory) -> None:
    plan = plan_cascade(odd, [s.id for s in odd.sites])
    # dual-homed banner: the trunk takes the direct, wider uplink
    assert plan.trunks["dalad"].path_links == ("core-2--dalad",)
    assert plan.trunks["dalad"].link_kbps == 1_000_000
    # a township reached only through another township: the slowest link on the whole path counts
    chain = plan.sites["chain"]
    assert chain.bridge == "dalad" and set(chain.path_links) == {"near--chain", "dalad--near"}
    assert chain.link_kbps == 2000 and chain.max_thumbs == 0
    # a township homed to two banners joins its own banner over the direct link, not round the other banner
    dual = plan.sites["dual"]
    assert dual.bridge == "dalad" and dual.path_links == ("dalad--dual",) and dual.link_kbps == 10_000
    _assert_fits(odd, plan)


def test_busy_link_inside_a_longer_path(odd: Inventory) -> None:
    util = {"dalad--near": 0.998}  # 100 Mbit/s with 200 kbit/s free: tighter than the idle 2 Mbit/s E1 behind it
    plan = plan_cascade(odd, ["city", "chain", "near"], utilisation=util)
    chain = plan.sites["chain"]
    assert chain.utilisation == 0.998 and chain.link_kbps == 2000
    assert chain.headroom_kbps <= 200 and chain.video is False and chain.max_audio == 2
    _assert_fits(odd, plan, util)


def test_single_site_and_duplicates(inv: Inventory) -> None:
    plan = plan_cascade(inv, ["city", "city"])
    assert list(plan.sites) == ["city"]
    assert plan.sites["city"].expected_kbps == 0 and plan.bridges == ("city",)


def test_unknown_site_is_a_clear_error(inv: Inventory) -> None:
    with pytest.raises(PlanError, match='unknown site "atlantis": not in the inventory'):
        plan_cascade(inv, ["city", "atlantis"])


def test_site_not_in_the_plan_is_a_clear_error(inv: Inventory) -> None:
    plan = plan_cascade(inv, ["city", "dalad"])
    with pytest.raises(PlanError, match='site "uxin" is not in this conference'):
        plan.trunk_streams(Layout({"city": SiteView(main="uxin")}))


@pytest.mark.parametrize("util, message", [
    ({"no-such-link": 0.1}, 'utilisation: unknown link "no-such-link"'),
    ({"dalad-rt--zhandanzhao-rt": -0.1}, 'link "dalad-rt--zhandanzhao-rt" must be a number from 0 to 1'),
    ({"dalad-rt--zhandanzhao-rt": "high"}, "must be a number from 0 to 1, not 'high'"),
    ({"dalad-rt--zhandanzhao-rt": float("nan")}, "must be a number from 0 to 1"),
])
def test_bad_utilisation_is_a_clear_error(inv: Inventory, util: dict, message: str) -> None:
    with pytest.raises(PlanError, match=message):
        plan_cascade(inv, ["city"], utilisation=util)


def test_utilisation_slightly_over_one_is_clamped(inv: Inventory) -> None:
    plan = plan_cascade(inv, ["city", "zhandanzhao"], utilisation={"dalad-rt--zhandanzhao-rt": 1.02})
    assert plan.sites["zhandanzhao"].utilisation == 1.0 and plan.sites["zhandanzhao"].headroom_kbps == 0


def test_plan_to_json_round_numbers(inv: Inventory) -> None:
    data = plan_cascade(inv, ["city", "zhandanzhao"]).to_json()
    assert data["sites"]["zhandanzhao"]["link_kbps"] == 2000
    assert data["trunks"]["dalad"]["path_links"] == ["city-core-1--dalad-rt"]
