"""Segments through a REAL waitress (as ``wangnet serve`` runs it): whole files and byte ranges stream from the file.

The Flask test client has no ``wsgi.file_wrapper``, so only a real server
exercises the path where waitress sends the span itself (web/media_files.py).
The segment is a 3 MB random file, larger than waitress's 1 MB output-buffer
spill threshold, at an odd size so off-by-one errors show.
"""
from __future__ import annotations

import http.client
import os
import re
import threading
from datetime import date

import pytest
import waitress
from waitress import wasyncore

from tests.conftest import SAMPLE_INVENTORY, TEST_PASSWORD
from vod.models import Episode, Programme
from vod.paths import MediaPaths
from wangnet import accounts
from wangnet.config import load_settings
from wangnet.store import Store

CSRF_RE = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')
SEGMENT = "240p/seg_00000.m4s"


@pytest.fixture(scope="module")
def server(tmp_path_factory):  # type: ignore[no-untyped-def]
    from web.app import create_app

    var = tmp_path_factory.mktemp("vod-serving")
    settings = load_settings(environ={}, var_dir=var, inventory_path=SAMPLE_INVENTORY, secret_key="k",
                             login_rate_limit="1000 per minute")
    store = Store.from_settings(settings)
    store.upgrade()
    with store.session() as s:
        accounts.create_user(s, "serve-staff", TEST_PASSWORD, ["staff"])
        assert s.get(Programme, "xwlb") is not None
        episode = Episode(programme_id="xwlb", air_date=date(2026, 11, 25), title="serving", state="ready",
                          published=True, renditions="240p")
        s.add(episode)
        s.flush()
        episode_id = episode.id
    folder = MediaPaths(settings.resolved_vod_dir).episode(episode_id) / "240p"
    folder.mkdir(parents=True)
    data = os.urandom(3 * 2**20 + 12345)
    (folder / "seg_00000.m4s").write_bytes(data)
    app = create_app(settings, store=store)
    wsgi = waitress.create_server(app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=wsgi.run, daemon=True)
    thread.start()
    try:
        yield {"port": wsgi.effective_port, "data": data, "path": f"/vod/media/{episode_id}/{SEGMENT}"}
    finally:
        # close every socket from the server's own loop thread; the loop ends when its map is empty
        wsgi.trigger.pull_trigger(lambda: wasyncore.close_all(wsgi._map))
        thread.join(30)
        wsgi.task_dispatcher.shutdown()
        store.dispose()
    assert not thread.is_alive()


def fetch(port: int, method: str, path: str, headers: dict[str, str] | None = None, body: str | None = None):  # type: ignore[no-untyped-def]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


@pytest.fixture(scope="module")
def cookie(server) -> str:  # type: ignore[no-untyped-def]
    status, headers, page = fetch(server["port"], "GET", "/login")
    session = headers["set-cookie"].split(";")[0]
    token = CSRF_RE.search(page.decode()).group(1)
    status, headers, _ = fetch(server["port"], "POST", "/login", {
        "Cookie": session, "Content-Type": "application/x-www-form-urlencoded"},
        f"username=serve-staff&password={TEST_PASSWORD.replace(' ', '+')}&csrf_token={token}")
    assert status == 302, status
    return headers["set-cookie"].split(";")[0]


def test_whole_segment_and_conditional_get(server, cookie):
    status, headers, body = fetch(server["port"], "GET", server["path"], {"Cookie": cookie})
    assert status == 200 and body == server["data"]
    assert headers["content-type"] == "video/iso.segment" and headers["accept-ranges"] == "bytes"
    assert headers["cache-control"] == "private, max-age=3600"
    assert fetch(server["port"], "GET", server["path"], {"Cookie": cookie, "If-None-Match": headers["etag"]})[0] == 304
    head = fetch(server["port"], "HEAD", server["path"], {"Cookie": cookie})
    assert head[0] == 200 and head[1]["content-length"] == str(len(server["data"])) and head[2] == b""


@pytest.mark.parametrize("spec, start, end", [
    ("bytes=0-1048575", 0, 1048575),                # the first MB
    ("bytes=1048577-3000000", 1048577, 3000000),    # an odd span in the middle
    ("bytes=-188", -188, None),                     # the last 188 bytes
    ("bytes=3145000-", 3145000, None),              # from an offset to the end
    ("bytes=0-99999999", 0, None),                  # an end beyond the file is clamped
])
def test_byte_ranges_are_exact(server, cookie, spec, start, end):
    data = server["data"]
    status, headers, body = fetch(server["port"], "GET", server["path"], {"Cookie": cookie, "Range": spec})
    expected = data[start:] if end is None else data[start:end + 1]
    first = start % len(data)
    assert status == 206
    assert body == expected
    assert headers["content-length"] == str(len(expected))
    assert headers["content-range"] == f"bytes {first}-{first + len(expected) - 1}/{len(data)}"


def test_unsatisfiable_and_stale_if_range(server, cookie):
    size = len(server["data"])
    status, headers, _ = fetch(server["port"], "GET", server["path"], {"Cookie": cookie, "Range": f"bytes={size}-"})
    assert status == 416 and headers["content-range"] == f"bytes */{size}"
    status, _, body = fetch(server["port"], "GET", server["path"],
                            {"Cookie": cookie, "Range": "bytes=0-99", "If-Range": '"stale"'})
    assert status == 200 and body == server["data"]  # the client's copy is outdated: all of it


def test_anonymous_gets_no_bytes(server):
    status, headers, body = fetch(server["port"], "GET", server["path"], {"Range": "bytes=0-99"})
    assert status == 302 and "/login" in headers["location"] and server["data"][:100] not in body
