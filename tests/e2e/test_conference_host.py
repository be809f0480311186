"""The host console in a real browser: create, invite by tier and banner, start, roll-call, mute, the plan, end.

The media side (cameras, bridges, what each terminal receives) is tested in
test_conference.py; here the console's script drives the control API under
the page's CSP, and the state it shows comes back from the server.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.e2e.conftest import ARTIFACTS
from topology.loader import load_inventory
from wangnet import accounts
from wangnet.config import PROJECT_ROOT
from wangnet.store import Store

HOST = "e2e-host"
PASSWORD = "e2e host password 7"
INV = load_inventory(PROJECT_ROOT / "inventory.yaml")


@pytest.fixture(scope="module")
def host_user(server):  # type: ignore[no-untyped-def]
    var = Path(server["log"]).parent
    pw_file = var / "host-pw"
    pw_file.write_text(PASSWORD + "\n")
    env = {**os.environ, "WANGNET_VAR_DIR": str(var)}
    wangnet = str(Path(sys.executable).with_name("wangnet"))
    subprocess.run([wangnet, "user", "add", HOST, "--role", "host", "--password-file", str(pw_file)],
                   env=env, check=True, capture_output=True)
    store = Store(f"sqlite:///{var / 'wangnet.db'}")
    yield {"user": HOST, "password": PASSWORD, "store": store}
    store.dispose()


def test_host_console_runs_a_conference(page, server, host_user):  # type: ignore[no-untyped-def]
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.goto(server["url"] + "/conferences")
    page.fill("#username", host_user["user"])
    page.fill("#password", host_user["password"])
    page.click("button[type=submit]")
    page.wait_for_url("**/conferences")

    page.fill("#create-title", "旗区视频会议")
    page.select_option("#create-tier", "all-banners")
    page.click("#conference-create button[type=submit]")
    page.wait_for_url("**/host")
    console = page.locator("#conference-host")
    page.wait_for_selector('#site-controls tr[data-site="dalad"]')
    assert page.locator("#site-controls tbody tr").count() == 9  # the city and 8 banners

    # all townships of 达拉特旗
    page.select_option("#invite-banner", "dalad")
    page.click("#btn-invite-banner")
    townships = [t.id for t in INV.children("dalad")]
    page.wait_for_selector(f'#site-controls tr[data-site="{townships[-1]}"]')  # no wait_for_function: CSP forbids eval
    assert page.locator("#site-controls tbody tr").count() == 9 + len(townships)

    page.click("#btn-start")
    page.wait_for_selector('#conference-host[data-state="running"]')
    assert page.inner_text("#conf-state") == "进行中"  # zh-CN first

    page.click('#site-controls tr[data-site="zhandanzhao"] button.rollcall')
    page.wait_for_selector('#conference-host[data-mode="rollcall"][data-focus="zhandanzhao"]')
    state = page.evaluate("window.conferenceHost.state")
    assert state["layout_all"]["dalad"]["main"] == "zhandanzhao"

    page.click('#site-controls tr[data-site="uxin"] button.mute')
    page.wait_for_selector('#site-controls tr[data-site="uxin"].muted')

    # the plan table, refreshed from the API: the E1 township's link and headroom
    page.wait_for_selector('#plan-sites tr[data-site="zhandanzhao"]')
    row = page.inner_text('#plan-sites tr[data-site="zhandanzhao"]')
    assert "2,000" in row or "2000" in row

    page.click("#btn-end")
    page.wait_for_selector('#conference-host[data-state="ended"]')
    page.screenshot(path=str(ARTIFACTS / "conference-host.png"), full_page=True)
    assert [p for p in problems if "Content Security Policy" in p or "TypeError" in p] == []

    with host_user["store"].session() as s:
        actions = [a.action for a in s.scalars(select(accounts.AuditEntry).where(accounts.AuditEntry.actor == HOST)
                                               .order_by(accounts.AuditEntry.id))]
    assert {"conference.create", "conference.invite", "conference.start", "conference.rollcall", "conference.mute",
            "conference.end"} <= set(actions)
