"""A network engineer logs in with a real browser and finds all 59 sites on the 王 map."""
from __future__ import annotations

from tests.e2e.conftest import ARTIFACTS


def log_in(page, server) -> None:  # type: ignore[no-untyped-def]
    page.goto(server["url"] + "/network/map")
    assert "/login" in page.url  # anonymous: sent to the login page
    page.fill("#username", server["user"])
    page.fill("#password", server["password"])
    page.click("button[type=submit]")
    page.wait_for_url("**/network/map")


def test_login_and_map_shows_59_sites(page, server):
    log_in(page, server)
    page.wait_for_selector("#wang-map g.site")
    assert page.locator("#wang-map g.site").count() == 59
    assert page.locator("#wang-map g.site.tier-township").count() == 50
    assert page.locator("#wang-map g.site.tier-banner").count() == 8
    assert page.locator("#wang-map line.link").count() >= 60
    page.screenshot(path=str(ARTIFACTS / "map.png"), full_page=True)

    page.click('#wang-map g.site[data-site="dalad"]')
    page.wait_for_selector("#site-panel:not([hidden])")
    page.wait_for_function("document.querySelectorAll('#panel-devices tbody tr').length === 2")
    assert page.inner_text("#panel-title") == "达拉特旗"
    assert "dalad-rt" in page.inner_text("#panel-devices")
    page.screenshot(path=str(ARTIFACTS / "map-dalad.png"), full_page=True)


def test_english_switch_and_logout(page, server):
    log_in(page, server)
    assert page.inner_text("h1") == "网络拓扑图"
    page.click("text=English")
    page.wait_for_selector("h1:has-text('Network map')")
    page.click("#logout")
    page.wait_for_url("**/login")
    page.goto(server["url"] + "/network/map")
    assert "/login" in page.url
