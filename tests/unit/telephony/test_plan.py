"""The extension plan derived from the sample inventory, and how it behaves when the inventory grows."""
from __future__ import annotations

from dataclasses import dataclass

import pytest

from telephony.plan import PlanError, build_plan, check_phones
from tests.conftest import SAMPLE_INVENTORY
from topology import load_inventory


@dataclass(frozen=True)
class S:
    id: str
    tier: str
    parent: str | None = None


@dataclass(frozen=True)
class Inv:
    sites: list[S]


@pytest.fixture(scope="module")
def sample():
    return load_inventory(SAMPLE_INVENTORY)


@pytest.fixture(scope="module")
def plan(sample):
    return build_plan(sample)


def test_every_site_has_a_distinct_prefix(sample, plan):
    assert set(plan.sites) == {s.id for s in sample.sites}
    assert len(plan.by_prefix) == len(sample.sites) == 59
    assert plan.prefix_of("city").prefix == "100"
    banners = [s.id for s in sample.sites if s.tier == "banner"]
    assert [plan.prefix_of(b).prefix for b in banners] == [f"{d}00" for d in "23456789"]


def test_townships_follow_their_banner_in_file_order(sample, plan):
    towns = [s.id for s in sample.children("dalad")]
    assert [plan.prefix_of(t).prefix for t in towns] == [f"3{n:02d}" for n in range(1, len(towns) + 1)]
    assert plan.prefix_of("shulinzhao").prefix == "301"
    assert plan.banner_of("shulinzhao") == "dalad"
    assert plan.banner_of("dalad") == "dalad"
    assert plan.banner_of("city") is None


def test_extension_tells_the_site(plan):
    assert plan.site_of("301015") == "shulinzhao"
    assert plan.site_of("100001") == "city"
    with pytest.raises(PlanError, match=r"prefix 399, which belongs to no site"):
        plan.site_of("399001")


@pytest.mark.parametrize("bad", ["", "12345", "1234567", "30101a", " 301015"])
def test_extension_syntax(plan, bad):
    with pytest.raises(PlanError, match="must be exactly 6 digits"):
        plan.site_of(bad)


def test_validate_names_the_right_block(plan):
    plan.validate("301999", "shulinzhao")
    with pytest.raises(PlanError) as err:
        plan.validate("300015", "shulinzhao")
    assert str(err.value) == (
        'extension 300015 is not in site "shulinzhao"\'s block 301001–301999 (that block belongs to site "dalad")'
    )
    with pytest.raises(PlanError, match="station 000 is reserved"):
        plan.validate("301000", "shulinzhao")
    with pytest.raises(PlanError, match='unknown site "nowhere"'):
        plan.validate("301001", "nowhere")


def test_next_free_fills_gaps_and_reports_full(plan):
    assert plan.next_free("dalad", []) == "300001"
    assert plan.next_free("dalad", ["300001", "300002", "300004", "301001"]) == "300003"
    full = [f"301{n:03d}" for n in range(1, 1000)]
    with pytest.raises(PlanError, match='site "shulinzhao" has no free extension left'):
        plan.next_free("shulinzhao", full)


def test_appending_a_township_keeps_every_existing_number():
    base = [S("c", "city"), S("b1", "banner", "c"), S("b2", "banner", "c"), S("t1", "township", "b1"),
            S("t2", "township", "b2"), S("t3", "township", "b1")]
    before = build_plan(Inv(base))
    after = build_plan(Inv(base + [S("t0-new", "township", "b1")]))
    for site_id, block in before.sites.items():
        assert after.sites[site_id].prefix == block.prefix
    assert after.prefix_of("t0-new").prefix == "203"
    assert before.prefix_of("t3").prefix == "202"


def test_reordering_is_reported_by_check_phones():
    base = [S("c", "city"), S("b1", "banner", "c"), S("t1", "township", "b1"), S("t2", "township", "b1")]
    phones = [("201001", "t1"), ("202001", "t2")]
    assert check_phones(build_plan(Inv(base)), phones) == []
    swapped = build_plan(Inv([base[0], base[1], base[3], base[2]]))
    problems = check_phones(swapped, phones)
    assert len(problems) == 2 and problems[0].startswith('extension 201001 is not in site "t1"')


def test_too_many_banners_or_townships_are_refused():
    banners = [S(f"b{i}", "banner", "c") for i in range(9)]
    with pytest.raises(PlanError, match='room for 8 banners .*banner "b8" does not fit'):
        build_plan(Inv([S("c", "city"), *banners]))
    towns = [S(f"t{i}", "township", "b") for i in range(100)]
    with pytest.raises(PlanError, match='"t99" does not fit'):
        build_plan(Inv([S("c", "city"), S("b", "banner", "c"), *towns]))
    with pytest.raises(PlanError, match='township "t" has no banner parent'):
        build_plan(Inv([S("c", "city"), S("t", "township", "c")]))
