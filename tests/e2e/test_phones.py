"""The trial admin creates a phone in a real browser, sees its password once, and watches the dashboard count its registration.

The registration itself is simulated by writing a Binding row the way the
registrar's write-behind does; real SIP clients are tested with the registrar.
"""
from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.e2e.conftest import ARTIFACTS
from telephony.models import Binding, Phone
from wangnet.store import Store

ADMIN = "e2e-padmin"
PASSWORD = "e2e phone admin 42"


@pytest.fixture(scope="module")
def phone_admin(server):  # type: ignore[no-untyped-def]
    """A phone-admin user in the shared e2e server's database (created with the real CLI)."""
    var = Path(server["log"]).parent
    pw_file = var / "padmin-pw"
    pw_file.write_text(PASSWORD + "\n")
    env = {**os.environ, "WANGNET_VAR_DIR": str(var)}
    wangnet = str(Path(sys.executable).with_name("wangnet"))
    subprocess.run([wangnet, "user", "add", ADMIN, "--role", "phone-admin", "--password-file", str(pw_file)],
                   env=env, check=True, capture_output=True)
    store = Store(f"sqlite:///{var / 'wangnet.db'}")
    yield {"user": ADMIN, "password": PASSWORD, "store": store}
    store.dispose()


def register(store: Store, extension: str) -> None:
    now = datetime.now(timezone.utc)
    with store.session() as s:
        phone = s.scalar(select(Phone).where(Phone.extension == extension))
        s.add(Binding(phone_id=phone.id, contact=f"sip:{extension}@127.0.0.1:45060", expires_at=now + timedelta(hours=1),
                      call_id="e2e-call-id", cseq=1, user_agent="baresip v3 (e2e)", source="udp:127.0.0.1:45060"))
        phone.last_registered_at = now
        phone.last_user_agent = "baresip v3 (e2e)"


def test_create_phone_password_once_and_dashboard_counts_registration(page, server, phone_admin):
    page.goto(server["url"] + "/phones/new")
    page.fill("#username", phone_admin["user"])
    page.fill("#password", phone_admin["password"])
    page.click("button[type=submit]")
    page.wait_for_url("**/phones/new")

    page.select_option("#site_id", "shulinzhao")
    page.fill("#display_name", "树林召镇值班室")
    page.fill("#model", "Yealink T46U")
    page.click("#save")
    page.wait_for_selector("#sip-password")
    extension = page.inner_text("#sip-username").strip()
    password = page.inner_text("#sip-password").strip()
    assert extension.startswith("301") and len(extension) == 6
    assert len(password) == 20

    page.click("#to-detail")
    page.wait_for_selector("#phone-facts")
    assert password not in page.content()
    assert "树林召镇" in page.inner_text("#phone-facts")

    page.goto(server["url"] + "/phones/dashboard")
    page.wait_for_selector('#phones-map g.site[data-site="shulinzhao"]')
    before = int(page.inner_text("#total-registered"))
    assert page.locator("#phones-map g.site").count() == 59
    town = page.locator('#phones-map g.site[data-site="shulinzhao"]')
    assert "share-zero" in (town.get_attribute("class") or "")

    register(phone_admin["store"], extension)
    # the page refreshes itself from the API every few seconds; generous deadline for a busy machine
    page.wait_for_function(
        "n => document.getElementById('total-registered').textContent === String(n)", arg=before + 1, timeout=60_000
    )
    page.wait_for_function(
        "() => document.querySelector('#phones-map g.site[data-site=\"shulinzhao\"]').classList.contains('share-all')",
        timeout=30_000,
    )
    assert page.text_content('#phones-map text[data-count="shulinzhao"]') == "1/1"
    assert page.inner_text('#banners tr[data-banner="dalad"] td[data-k="registered"]') == "1"
    page.screenshot(path=str(ARTIFACTS / "phones-dashboard.png"), full_page=True)

    page.goto(server["url"] + f"/phones/{extension}")
    assert "sip:" + extension + "@127.0.0.1:45060" in page.inner_text("#bindings")
    assert "baresip v3 (e2e)" in page.inner_text("#bindings")
    assert password not in page.content()
