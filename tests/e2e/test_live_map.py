"""A network engineer watches the live 王 map while a failure is injected into the simulation."""
from __future__ import annotations

from playwright.sync_api import expect

from tests.e2e.conftest import ARTIFACTS  # the session-wide `sim` and `live_server` are in tests/e2e/conftest.py

UPLINK = "city-core-1--dalad-rt"
DALAD_TOWNSHIPS = ["shulinzhao", "wangaizhao", "bainijing", "jigesitai", "zhaojun", "engebei", "zhonghexi",
                   "fengshuiliang", "zhandanzhao"]


def test_failure_turns_the_link_red_and_shades_the_cut_off_townships(page, live_server, sim):  # noqa: F811
    page.goto(live_server + "/login")
    page.fill("#username", "noc-live")
    page.fill("#password", "live password 123")
    page.click("button[type=submit]")
    page.wait_for_url("**/network/map")
    assert page.locator("#wang-map g.site").count() == 59
    # the first polls arrive: every site turns up
    expect(page.locator("#wang-map g.site.state-up")).to_have_count(59, timeout=60_000)
    page.screenshot(path=str(ARTIFACTS / "live-map-before.png"), full_page=True)

    sim.fail(link=UPLINK)
    page.wait_for_selector(f'#wang-map line.link.state-down.root[data-link="{UPLINK}"]', timeout=60_000)
    for town in DALAD_TOWNSHIPS:
        assert "cut-off" in page.get_attribute(f'#wang-map g.site[data-site="{town}"]', "class")
    assert "cut-off" not in page.get_attribute('#wang-map g.site[data-site="xini"]', "class")
    strip = page.inner_text("#live-alerts")
    assert UPLINK in strip and "达拉特旗" in strip
    page.screenshot(path=str(ARTIFACTS / "live-map-after.png"), full_page=True)

    # the engineer acknowledges it; the audit log says who and why
    page.goto(live_server + "/alerts?state=open")
    page.fill("form.ack input[name=comment]", "已联系达拉特旗网管")
    page.click("form.ack button[type=submit]")
    page.wait_for_selector(".flashes")
    page.goto(live_server + "/alerts?state=acknowledged")
    expect(page.locator("tr.alert-row.acknowledged")).to_have_count(1)
    assert "已联系达拉特旗网管" in page.inner_text("#alerts-table")
    sim.heal()
    from sqlalchemy import select

    from wangnet import accounts
    from wangnet.config import load_settings
    from wangnet.store import Store

    store = Store.from_settings(load_settings(environ={}, var_dir=sim.var_dir))
    with store.session() as s:
        entry = s.scalar(select(accounts.AuditEntry).where(accounts.AuditEntry.action == "alert.ack"))
        assert (entry.actor, entry.target, entry.detail) == ("noc-live", f"link:{UPLINK}", "已联系达拉特旗网管")
    store.dispose()
