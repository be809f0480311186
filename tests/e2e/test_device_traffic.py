"""The device page draws its interface traffic chart (uPlot) from samples the collector wrote, under the CSP."""
from __future__ import annotations

import time

from playwright.sync_api import expect

from tests.e2e.conftest import ARTIFACTS

API = "/api/v1/devices/dalad-rt/interfaces/GE1-0-1/traffic?range=hour"


def test_traffic_chart_renders_on_the_device_page(page, live_server, sim):  # noqa: F811
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(live_server + "/login")
    page.fill("#username", "noc-live")
    page.fill("#password", "live password 123")
    page.click("button[type=submit]")
    page.wait_for_url("**/network/map")
    deadline = time.monotonic() + 90
    while True:  # a rate needs two polls: wait until the store holds a few samples of the uplink
        data = page.request.get(live_server + API).json()
        if sum(v is not None for v in data["points"]["in_bps"]) >= 2 or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert sum(v is not None for v in data["points"]["in_bps"]) >= 2, data

    page.goto(live_server + "/network/devices/dalad-rt")
    page.select_option("#traffic-if", "GE1-0-1")
    chart = page.locator("#traffic-chart")
    expect(chart).to_have_attribute("data-state", "drawn", timeout=30_000)
    assert int(chart.get_attribute("data-points")) >= 3
    expect(chart.locator("canvas")).to_have_count(1)
    box = chart.locator("canvas").bounding_box()
    assert box["width"] > 300 and box["height"] > 100
    assert page.inner_text("#traffic-source").startswith("store")
    page.screenshot(path=str(ARTIFACTS / "device-traffic-hour.png"), full_page=True)

    page.click("#traffic button[data-range=day]")
    expect(chart).to_have_attribute("data-state", "drawn", timeout=30_000)
    expect(page.locator("#traffic button.current")).to_have_attribute("data-range", "day")
    assert not [p for p in problems if "Content Security Policy" in p or "uPlot" in p], problems
