"""Host controls: conference state -> layout, always within each site's plan."""
from __future__ import annotations

from pathlib import Path

import pytest

from conferencing.controls import ControlState, build_layout, rotation_order
from conferencing.layout import Layout
from conferencing.plan import CascadePlan, plan_cascade
from topology.loader import load_inventory
from topology.schema import Inventory

ROOT = Path(__file__).resolve().parents[3]
SITES = ["city", "dalad", "shulinzhao", "zhandanzhao", "uxin", "sulide"]


@pytest.fixture(scope="module")
def inv() -> Inventory:
    return load_inventory(ROOT / "inventory.yaml")


@pytest.fixture(scope="module")
def plan(inv: Inventory) -> CascadePlan:
    return plan_cascade(inv, SITES)


def within_plan(layout: Layout, plan: CascadePlan, muted: frozenset[str] = frozenset()) -> None:
    for site, view in layout.views.items():
        sp = plan.sites[site]
        assert len(view.thumbs) <= sp.max_thumbs, site
        assert len(view.audio) <= sp.max_audio, site
        assert site not in view.audio and site != view.main and site not in view.thumbs, site
        assert not muted.intersection(view.audio), site
        assert len(set(view.video())) == len(view.video()), site
        if not sp.video:
            assert view.main is None and view.thumbs == (), site


def test_default_everyone_sees_speaker_and_host(plan: CascadePlan) -> None:
    layout = build_layout(ControlState(host_site="city", speaker="uxin", grid=False), plan)
    for site in SITES:
        view = layout.view(site)
        if site == "uxin":
            assert view.main == "city" and view.audio == ("city",)
        elif site == "city":
            assert view.main == "uxin" and view.audio == ("uxin",)
        else:
            assert view.main == "uxin", site
            assert view.audio == ("uxin", "city"), site
            # the E1 townships have room for no thumbnail; the others show the host
            assert view.thumbs == (() if site in ("zhandanzhao", "sulide") else ("city",)), site
    within_plan(layout, plan)


def test_without_a_speaker_everyone_sees_the_host(plan: CascadePlan) -> None:
    layout = build_layout(ControlState(host_site="city", grid=False), plan)
    assert all(layout.view(s).main == "city" for s in SITES if s != "city")
    assert all(layout.view(s).audio == ("city",) for s in SITES if s != "city")
    assert layout.view("city").main == "dalad" and layout.view("city").audio == ()


def test_host_grid_shows_every_other_site_as_the_plan_allows(plan: CascadePlan) -> None:
    layout = build_layout(ControlState(host_site="city", speaker="dalad"), plan)
    host = layout.view("city")
    assert host.main == "dalad"
    assert set(host.thumbs) == set(SITES) - {"city", "dalad"}
    assert layout.view("shulinzhao").thumbs == ("city",)  # the grid is the host's alone
    within_plan(layout, plan)


def test_rollcall_everyone_sees_and_hears_the_called_site(plan: CascadePlan) -> None:
    state = ControlState(host_site="city", mode="rollcall", focus="zhandanzhao", speaker="uxin")
    layout = build_layout(state, plan)
    for site in SITES:
        view = layout.view(site)
        if site == "zhandanzhao":
            assert view.main == "city" and "city" in view.audio
        else:
            assert view.main == "zhandanzhao", site
            assert view.audio[0] == "zhandanzhao", site
    within_plan(layout, plan)


def test_broadcast_one_site_to_all(plan: CascadePlan) -> None:
    state = ControlState(host_site="city", mode="broadcast", focus="dalad", speaker="uxin", grid=False)
    layout = build_layout(state, plan)
    for site in SITES:
        view = layout.view(site)
        if site == "dalad":
            assert view.main == "city" and view.audio == ("city",)
        else:
            assert (view.main, view.audio, view.thumbs) == ("dalad", ("dalad",), ()), site


def test_muted_site_is_never_heard_and_never_speaker(plan: CascadePlan) -> None:
    muted = frozenset({"uxin", "city"})
    for state in (ControlState(host_site="city", speaker="uxin", muted=muted),
                  ControlState(host_site="city", mode="rollcall", focus="uxin", muted=muted),
                  ControlState(host_site="city", mode="broadcast", focus="uxin", muted=muted)):
        layout = build_layout(state, plan)
        within_plan(layout, plan, muted)
    default = build_layout(ControlState(host_site="city", speaker="uxin", muted=frozenset({"uxin"})), plan)
    assert default.view("dalad").main == "city"  # the muted "speaker" does not take the screen
    # a muted site in roll-call is still seen, only not heard
    called = build_layout(ControlState(host_site="city", mode="rollcall", focus="uxin", muted=frozenset({"uxin"})), plan)
    assert called.view("dalad").main == "uxin" and "uxin" not in called.view("dalad").audio


def test_rotation_steps_through_the_sites_on_the_hosts_view_only(plan: CascadePlan) -> None:
    order = rotation_order(plan, ControlState(host_site="city"), SITES)
    assert order == tuple(s for s in SITES if s != "city")
    seen = []
    for i in range(len(order) + 1):
        layout = build_layout(ControlState(host_site="city", rotate_seconds=5, rotation_index=i, speaker="uxin"), plan)
        seen.append(layout.view("city").main)
        assert layout.view("dalad").main == "uxin"  # the others keep the speaker
    assert seen == [*order, order[0]]


def test_only_present_sites_are_shown(plan: CascadePlan) -> None:
    present = ["city", "dalad", "zhandanzhao"]
    layout = build_layout(ControlState(host_site="city", mode="rollcall", focus="uxin", speaker="shulinzhao"), plan,
                          present)
    assert set(layout.views) == set(present)
    # the called site has not joined: fall back to the host
    assert layout.view("dalad").main == "city"
    for view in layout.views.values():
        assert set(view.sources()) <= set(present)


def test_audio_only_site_gets_no_video(inv: Inventory) -> None:
    plan = plan_cascade(inv, SITES, utilisation={"dalad-rt--zhandanzhao-rt": 0.9})
    assert plan.sites["zhandanzhao"].video is False
    layout = build_layout(ControlState(host_site="city", speaker="uxin"), plan)
    view = layout.view("zhandanzhao")
    assert view.main is None and view.thumbs == () and view.audio == ("uxin", "city")


def test_the_59_site_conference_stays_within_every_plan(inv: Inventory) -> None:
    sites = [s.id for s in inv.sites]
    plan = plan_cascade(inv, sites)
    for state in (ControlState(host_site="city", speaker="zhandanzhao"),
                  ControlState(host_site="city", mode="rollcall", focus="sulide"),
                  ControlState(host_site="city", mode="broadcast", focus="dalad")):
        layout = build_layout(state, plan)
        assert set(layout.views) == set(sites)
        within_plan(layout, plan)
        # a trunk never carries more distinct sources than the host's grid plus the focus, speaker and host
        for sources in plan.trunk_streams(layout).values():
            assert len(sources) <= plan.sites["city"].max_thumbs + 3
